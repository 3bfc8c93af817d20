/*
 * dns_txt - a blocking TXT look-up with c-ares, for command-line tools
 * (`mtactl dkim check`).  Daemons never block on DNS: they resolve on
 * their loop (smtp-out/resolve.c).
 */
#ifndef COURSER_DNS_TXT_H
#define COURSER_DNS_TXT_H

#include <stddef.h>
#include <stdint.h>

#define DNS_TXT_RECORDS_MAX 8
#define DNS_TXT_LEN_MAX     4096    /* one record, its strings joined */

struct dns_txt_result {
    size_t n;                                   /* records found */
    char rec[DNS_TXT_RECORDS_MAX][DNS_TXT_LEN_MAX];
};

enum dns_txt_status {
    DNS_TXT_OK = 0,
    DNS_TXT_NONE = 1,           /* NXDOMAIN or no TXT record: a definite answer */
    DNS_TXT_FAILED = 2,         /* time-out, SERVFAIL, refused, malformed: try again */
};

/* Look up the TXT records of name at server_ip:port (server_ip "" = the
 * system resolver from /etc/resolv.conf).  Each record's strings are
 * joined (RFC 6376 3.6.2.2); a record holding NUL or longer than
 * DNS_TXT_LEN_MAX, or more than DNS_TXT_RECORDS_MAX records, is
 * DNS_TXT_FAILED.  err says why for anything but DNS_TXT_OK. */
enum dns_txt_status dns_txt_lookup(const char *server_ip, uint16_t port, const char *name,
                                   unsigned timeout_ms, struct dns_txt_result *out,
                                   char *err, size_t errlen);

#endif
