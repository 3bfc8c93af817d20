/*
 * net - addresses: CIDR ranges, sockaddr formatting and socket set-up that
 * every network daemon does the same way (TCP_NODELAY, deep backlog).
 */
#ifndef COURSER_NET_H
#define COURSER_NET_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order */
    unsigned prefix;        /* 0..32 or 0..128 */
};

/* "10.0.0.0/8", "::1/128", "127.0.0.1" (host), "0/0" (all IPv4),
 * "::/0".  Returns 0 or -1. */
int cidr_parse(const char *s, struct cidr *out);
int cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Parse a literal IPv4/IPv6 address and port into a sockaddr_storage. */
int net_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* Write "ip" (no port) of sa into out. Returns 0 or -1. */
int net_ntop(const struct sockaddr *sa, char *out, size_t outlen);
uint16_t net_port(const struct sockaddr *sa);
/* Bind and listen on ip:port (SO_REUSEADDR, backlog 4096).  Returns fd or -1
 * with errno set. */
int net_listen_tcp(const char *ip, uint16_t port);
/* Create, bind (mode 0660) and listen on a UNIX socket; an existing stale
 * socket file is replaced.  Returns fd or -1 with errno set. */
int net_listen_unix(const char *path);
/* Blocking connect to a UNIX socket, then set O_NONBLOCK.  Returns fd or -1. */
int net_connect_unix(const char *path);
int net_set_nonblock(int fd);

#endif
