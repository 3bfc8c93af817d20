/*
 * spawn - fork and exec one daemon the way every daemon expects to start:
 * its listening sockets renumbered to fds 3, 4, ... and named in
 * COURSER_LISTEN_FDS, every other descriptor closed on exec, signal state
 * reset, and (when master runs as root) privileges dropped to the
 * configured user before exec.
 * Failures in the child before exec (setuid, exec) are sent back to the
 * parent over a close-on-exec pipe, so spawn_daemon reports them itself.
 */
#ifndef COURSER_MASTER_SPAWN_H
#define COURSER_MASTER_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#define SPAWN_MAX_FDS   64
#define SPAWN_FIRST_FD  3

struct spawn_req {
    const char *path;           /* program to exec */
    char *const *argv;          /* NULL-terminated */
    const int *fds;             /* sockets to pass, in order */
    size_t nfds;
    int drop;                   /* 1: setgroups/setgid/setuid before exec */
    uid_t uid;
    gid_t gid;
};

/* Value of COURSER_LISTEN_FDS for nfds sockets: "3,4,5"; "" for none.
 * Returns 0, or -1 when nfds is too large or out is too small. */
int spawn_fds_env(size_t nfds, char *out, size_t outlen);
/* Start the program.  Returns the child's pid, or -1 with a reason in err. */
pid_t spawn_daemon(const struct spawn_req *r, char *err, size_t errlen);

#endif
