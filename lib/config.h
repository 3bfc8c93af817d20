/*
 * config - Courser's configuration: PowerMTA's file syntax and directive
 * names, parsed by one table-driven parser (config_table.c holds the table:
 * name, type, scope, default, help) into the typed struct config below.
 *
 * config_load validates the whole file (and its includes) before returning
 * anything: on any error it returns -1 and writes one line naming
 * file:line and the directive into err.  Every daemon loads the same file;
 * reload = load a new struct, and swap it in only if the load succeeded.
 */
#ifndef COURSER_CONFIG_H
#define COURSER_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "net.h"
#include "acct.h"
#include "pattern_list.h"

#define CFG_NAME_MAX   256
#define CFG_RETRY_MAX  30
#define CFG_WARMUP_MAX 120          /* warmup-schedule steps (days) */

struct smtp_pattern_list;

struct cfg_listener {
    char ip[64];                /* "0.0.0.0", "127.0.0.1", "::1" */
    uint16_t port;
    char source[CFG_NAME_MAX];  /* source=NAME, or "" */
    char file[PATH_MAX];
    int line;
};

/* Settings of <source> blocks, merged: defaults, then every IP-matched
 * block from least to most specific, then the listener's named source. */
struct cfg_source_settings {
    int smtp_service;               /* default yes: accept SMTP at all */
    int always_allow_relaying;      /* default no */
    char default_vmta[CFG_NAME_MAX];/* "" = the global default-virtual-mta */
    uint64_t max_message_size;      /* bytes; default 50M (0 = unlimited) */
    uint32_t max_rcpt_per_message;  /* default 1000 (0 = unlimited) */
    uint32_t smtp_command_timeout;  /* seconds, default 5m */
    uint32_t smtp_data_timeout;     /* seconds, default 10m */
    uint32_t max_errors;            /* errors per session, default 10 */
    uint32_t max_line_length;       /* bytes incl. CRLF, default 1000 (RFC 5321 4.5.3.1.6) */
    int process_x_virtual_mta;      /* default no */
    int process_x_job;              /* default no */
    int add_received_header;        /* default yes */
    /* routing (issue 3) */
    char pattern_list[CFG_NAME_MAX];/* <pattern-list> choosing the vmta, "" = none */
    int retain_x_virtual_mta;       /* keep the X-Virtual-MTA header, default no */
    int reject_invalid_virtual_mta; /* 550 for an unknown vmta in the header, default yes */
    int retain_x_job;               /* keep the X-Job header, default no */
    char jobid_header[PL_HEADER_MAX];/* the header carrying the job id, default x-job */
    int allow_empty_x_virtual_mta;  /* empty header = {default}, default no */
    int process_x_envid;            /* X-Envid header -> envid, default no */
    int reject_suppressed;          /* reject-suppressed-recipients, default yes (issue 6) */
};

struct cfg_source {
    char name[CFG_NAME_MAX];        /* block argument as written */
    int is_cidr;
    struct cidr cidr;
    char file[PATH_MAX];
    int line;
    uint64_t set;                   /* which settings this block sets */
    struct cfg_source_settings s;
};

/* A rate "N/[M]{s|m|h|d}": count per period seconds.  count 0 =
 * unlimited; set = written in the file (backoff twins: unset = derived). */
struct cfg_rate {
    uint64_t count;
    uint32_t period;
    uint32_t set;
};

/* source-ip-max-*: a limit for each local source IP within CIDR. */
#define CFG_SRCIP_MAX 4
struct cfg_ip_limit {
    struct cidr cidr;
    uint32_t n;                     /* source-ip-max-smtp-out */
    struct cfg_rate rate;           /* source-ip-max-msg-rate / -connect-rate */
};
/* mx-connection-limit / ip-connection-limit (global; config_connlimit.c) */
struct cfg_conn_limit {
    char pattern[256];              /* MX host pattern, or the CIDR as written */
    struct cidr cidr;               /* ip-connection-limit */
    int is_ip;
    uint32_t n;                     /* connections per local source IP */
};
struct cfg_ip_limits {
    struct cfg_ip_limit l[CFG_SRCIP_MAX];
    uint32_t n;
};

/* Settings of <domain> blocks (a queue's settings), merged from general to
 * specific: global *, then [*.]d, *.d, d; then the vmta's pool's blocks,
 * then the vmta's own (PowerMTA notes §1.1). */
struct cfg_domain_settings {
    char route[512];                /* smtp-hosts/route: "" = MX lookup */
    uint32_t retry_after[CFG_RETRY_MAX];  /* seconds; last value repeats */
    uint32_t nretry;                /* default 1 entry: 10m */
    uint32_t retry_recipients_after;/* default 10m */
    uint32_t bounce_after;          /* seconds, default 4d12h */
    uint32_t max_smtp_retries;      /* attempt cap, 0 = none (FAQ's name) */
    uint32_t max_smtp_out;          /* default 20 */
    uint32_t max_msg_per_connection;/* default 0 = unlimited */
    uint32_t max_rcpt_per_transaction; /* default 1000 */
    uint32_t connect_timeout;       /* default 2m */
    uint32_t greeting_timeout;      /* smtp-greeting-timeout, default 5m */
    uint32_t data_send_timeout;     /* default 3m */
    uint32_t data_termination_timeout; /* smtp-data-termination-timeout, 10m */
    uint32_t idle_timeout;          /* connection-idle-timeout, default 0 */
    /* DKIM (issue 5; docs/dkim.md) */
    int dkim_sign;                  /* default no */
    unsigned dkim_algorithms;       /* dkim-algorithm: DKIM_ALG_* bits of dkim_key.h, default both */
    int dkim_canon[2];              /* header, body: DKIM_CANON_* of dkim_canon.h, relaxed/relaxed */
    char dkim_headers[512];         /* extra names to sign, comma-separated, lowercase */
    char dkim_identity[CFG_NAME_MAX];   /* "" = Sender, else From; "@d" or "l@d" */
    char dkim_identity_fallback[CFG_NAME_MAX]; /* when no key fits the identity; "" = none */
    int dkim_add_timestamp;         /* t=, default no */
    uint32_t dkim_expire_after;     /* x = t + this, seconds; 0 = none */
    int dkim_fail_action;           /* CFG_DKIM_DEFER (default) or CFG_DKIM_SEND_UNSIGNED */
    int dkim_oversign;              /* dkim-disallow-adding-headers, default yes */
    /* routing (issue 3) */
    char queue_to[CFG_NAME_MAX];    /* share the queue NAME/vmta, "" = own queue */
    int disable_mx_rollup;          /* default no */
    /* traffic shaping (issue 4; docs/shaping.md) */
    struct cfg_rate msg_rate;       /* max-msg-rate: recipients attempted per period */
    struct cfg_rate connect_rate;   /* max-connect-rate (max-conn-rate): new connections */
    struct cfg_rate volume_rate;    /* max-data-volume-rate: message bytes sent */
    uint32_t msg_burst;             /* max-msg-rate-burst, default 1 (smooth) */
    uint32_t connect_burst;         /* max-connect-rate-burst, default 1 */
    uint32_t backoff_max_smtp_out;  /* 0 = derived (half, never more than in use) */
    struct cfg_rate backoff_msg_rate;       /* unset = derived (half) */
    struct cfg_rate backoff_connect_rate;   /* unset = derived (half) */
    struct cfg_rate backoff_volume_rate;    /* unset = max-data-volume-rate */
    uint32_t backoff_retry_after[CFG_RETRY_MAX];
    uint32_t nbackoff_retry;        /* 0 = twice retry-after */
    uint32_t backoff_to_normal_after;   /* seconds, 0 = never; default 1h */
    int backoff_to_normal_after_delivery;   /* default no */
    uint32_t retry_after_dns_error; /* default 1m */
    char smtp_pattern_list[CFG_NAME_MAX];   /* "" = none */
    int use_default_smtp_patterns;  /* the built-in ISP list, default yes */
    struct cfg_ip_limits src_max_conns;     /* source-ip-max-smtp-out CIDR N */
    struct cfg_ip_limits src_msg_rate;      /* source-ip-max-msg-rate CIDR RATE */
    struct cfg_ip_limits src_connect_rate;  /* source-ip-max-connect-rate CIDR RATE */
    int verp;                       /* verp: signed VERP return path, default no (issue 6) */
    /* warmup-schedule inside <domain>: a daily cap per queue (domain x
     * vmta), on top of the vmta's own (qmgr/warmup.c) */
    struct cfg_warmup_plan { uint32_t day[CFG_WARMUP_MAX]; uint32_t n; } warmup_plan;
    uint32_t notify_delay_every;    /* notify-of-delay-every, seconds; 0 = never; default 4h */
};

enum { CFG_DKIM_DEFER = 0, CFG_DKIM_SEND_UNSIGNED = 1 };

struct cfg_domain {
    char pattern[CFG_NAME_MAX];     /* "*", "a.com", "*.a.com", "[*.]a.com", "$macro" */
    size_t macro;                   /* "$macro": index + 1 in config.macros, else 0 */
    char file[PATH_MAX];
    int line;
    uint64_t set;                   /* which settings this block sets */
    struct cfg_domain_settings s;
};

/* domain-key SELECTOR,DOMAIN,FILE[,rsa|ed25519] */
struct cfg_domain_key {
    char selector[64];
    char domain[CFG_NAME_MAX];      /* "*" = the identity's own domain */
    char path[PATH_MAX];            /* absolute */
    int alg;                        /* DKIM_ALG_* of dkim_key.h; default rsa */
    char file[PATH_MAX];
    int line;
};

struct cfg_source_host {
    char ip[64];
    char hostname[CFG_NAME_MAX];
};

struct cfg_vmta {
    char name[CFG_NAME_MAX];
    struct cfg_source_host *hosts;  /* smtp-source-host, rotated */
    size_t nhosts;
    struct cfg_domain *domains;     /* nested <domain> blocks */
    size_t ndomains;
    char file[PATH_MAX];
    int line;
    struct cfg_domain_key *keys;    /* domain-key in this vmta (wins over global) */
    size_t nkeys;
    /* warm-up (issue 4): daily recipient caps, day 1 first */
    uint32_t warmup[CFG_WARMUP_MAX];    /* warmup-schedule */
    uint32_t nwarmup;               /* 0 = none (warm) */
    int64_t warmup_start_day;       /* warmup-start as days since 1970-01-01 UTC; -1 = first use */
    char warmup_overflow[CFG_NAME_MAX]; /* warmup-overflow-virtual-mta, "" = wait for tomorrow */
};

struct cfg_pool {
    char name[CFG_NAME_MAX];
    char (*members)[CFG_NAME_MAX];  /* virtual-mta NAME lines */
    uint32_t *weights;              /* weight=N of each member, default 1 */
    size_t nmembers;
    struct cfg_domain *domains;
    size_t ndomains;
    char file[PATH_MAX];
    int line;
    struct cfg_domain_key *keys;    /* domain-key in this pool */
    size_t nkeys;
};

/* domain-macro NAME a,b,$other: items as written, then fully expanded
 * (nested macros resolved, loops refused) when the file is loaded. */
struct cfg_macro {
    char name[CFG_NAME_MAX];
    char (*items)[CFG_NAME_MAX];
    size_t nitems;
    char (*domains)[CFG_NAME_MAX];  /* expanded: domain patterns only */
    size_t ndomains;
    char file[PATH_MAX];
    int line;
};

/* <mx-rollup-list>: mx PATTERN NAME */
struct cfg_rollup {
    char mx[CFG_NAME_MAX];          /* "host" or "*.suffix" */
    char name[CFG_NAME_MAX];        /* the shared queue's domain part */
    char file[PATH_MAX];
    int line;
};

struct cfg_pattern_list {
    struct pattern_list pl;         /* pl.name is the block argument */
    char file[PATH_MAX];
    int line;
};

enum acct_record_type_bit {
    ACCT_REC_D = 1, ACCT_REC_B = 2, ACCT_REC_T = 4, ACCT_REC_TQ = 8,
    ACCT_REC_R = 16, ACCT_REC_F = 32, ACCT_REC_RB = 64, ACCT_REC_RS = 128
};

struct cfg_acct_file {
    char path[PATH_MAX];            /* absolute after load */
    unsigned records;               /* acct_record_type_bit mask; default d,b */
    int fields[AF_COUNT];           /* record-fields; default: all, in enum order */
    size_t nfields;
    uint64_t max_size;              /* rotate past this, default 250M */
    char file[PATH_MAX];
    int line;
};

/* A PowerMTA <bounce-processor> or <feedback-loop-processor>: the mail
 * for its <address-list> goes to bounced (like a bounce-domain's); what
 * bounced does with a notice it does not recognise follows the forward
 * lists.  Its domains are also in config.bounce_domains. */
#define CFG_PROC_FORWARD_MAX 16     /* forward-*-to addresses of one processor */
struct cfg_processor {
    int feedback;                   /* 1 = <feedback-loop-processor> */
    char (*forward_unmatched)[CFG_NAME_MAX]; size_t nforward_unmatched;
    char (*forward_errors)[CFG_NAME_MAX];    size_t nforward_errors;
    char (*domains)[CFG_NAME_MAX];   size_t ndomains;
    char (*addresses)[CFG_NAME_MAX]; size_t naddresses;   /* lower-case */
    void **regexes;                  size_t nregexes;     /* pcre2_code *, caseless */
    char file[PATH_MAX];
    int line;
};

struct config {
    char path[PATH_MAX];            /* the main file, absolute */
    char dir[PATH_MAX];             /* its folder: base of relative paths */
    char spool_dir[PATH_MAX];       /* spool, default /var/spool/courser */
    char run_dir[PATH_MAX];         /* run-dir, default /run/courser */
    char log_file[PATH_MAX];        /* "" = stderr */
    char daemon_dir[PATH_MAX];      /* "" = beside the master binary */
    char dns_server_ip[64];         /* "" = system resolver */
    uint16_t dns_server_port;
    char host_name[CFG_NAME_MAX];   /* default: gethostname() */
    char postmaster[CFG_NAME_MAX];
    char user[64];                  /* run as this user when started as root, default "courser" */
    char default_vmta[CFG_NAME_MAX];/* default-virtual-mta, "" = {default} */
    uint32_t smtpd_processes;       /* default 2 */
    uint32_t smtp_out_processes;    /* default 2 */
    uint32_t smtp_out_slots;        /* deliveries in flight per smtp-out, default 200 */
    int sync_msg_create;            /* fsync before 250, default yes */

    struct cfg_listener *listeners; size_t nlisteners;
    struct cfg_source *sources;     size_t nsources;
    struct cfg_vmta *vmtas;         size_t nvmtas;
    struct cfg_pool *pools;         size_t npools;
    struct cfg_domain *domains;     size_t ndomains;    /* global <domain> */
    struct cfg_acct_file *acct_files; size_t nacct_files;
    char (*relay_domains)[CFG_NAME_MAX]; size_t nrelay_domains;
    /* DKIM (issue 5) */
    struct cfg_domain_key *domain_keys; size_t ndomain_keys;   /* global domain-key */
    char dkim_key_dir[PATH_MAX];    /* "" = none: DIR/DOMAIN/SELECTOR.pem */
    char dkim_user[64];             /* dkimsign's user when started as root, "courser-dkim" */
    int dkim_check_dns;             /* dkimsign checks each key's TXT record at load, default no */
    /* routing (issue 3) */
    struct cfg_pattern_list *pattern_lists; size_t npattern_lists;
    struct cfg_macro *macros;       size_t nmacros;
    struct cfg_rollup *rollups;     size_t nrollups;     /* <mx-rollup-list> */
    char invalid_vmta_fallback[CFG_NAME_MAX]; /* "" = refuse an unknown X-Virtual-MTA */
    uint64_t digest;                /* of every byte read (config_reload.c) */
    /* traffic shaping (issue 4) */
    struct smtp_pattern_list **smtp_lists; size_t nsmtp_lists;  /* <smtp-pattern-list> */
    char (*hold_domains)[CFG_NAME_MAX]; size_t nhold_domains;   /* hold-domain */
    struct cfg_conn_limit *conn_limits; size_t nconn_limits;    /* mx-/ip-connection-limit */
    /* bounces, feedback loops, suppression (issue 6; config_bounce.c) */
    char (*bounce_domains)[CFG_NAME_MAX]; size_t nbounce_domains;
    char verp_domain[CFG_NAME_MAX]; /* "" = the first bounce-domain */
    char verp_key[CFG_NAME_MAX];    /* "" = none (see verp_key_file) */
    char verp_key_file[PATH_MAX];
    char suppression_db[PATH_MAX];  /* "" = SPOOL/suppress */
    char bounce_patterns[PATH_MAX]; /* operator's pattern file, "" = built-in only */
    char hard_bounce_categories[512]; /* space-separated; "" = the built-in default */
    int send_dsn;                   /* DSNs to senders, default yes */
    uint32_t max_dsn_per_sender;    /* per sender address and hour, default 100, 0 = no limit */
    char bounce_pipe[1024];         /* "PROGRAM ARGS" for b/rb/rs events, "" = none */
    char fbl_pipe[1024];            /* the same for f events */
    /* <bounce-processor> / <feedback-loop-processor> (config_bounce.c) */
    struct cfg_processor *processors; size_t nprocessors;
};

/* Load and validate path.  Returns 0 and *out, or -1 and one line in err
 * such as "courser.conf:12: max-smtp-out: not a number: 'x'". */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);
/* Check path and report every error, not only the first (`mtactl
 * check-config`): report gets each "FILE:LINE: ..." line; the lines of a
 * block that failed to open are skipped.  Returns the number of errors. */
int config_check_all(const char *path, void (*report)(void *arg, const char *line), void *arg);

/* Merged <source> settings for a client at peer that came in on a listener
 * whose named source is listener_source ("" or NULL for none). */
void config_source_settings(const struct config *cfg, const struct sockaddr *peer,
                            const char *listener_source, struct cfg_source_settings *out);
/* Merged <domain> settings for destination domain via virtual-mta vmta
 * (NULL or "" = global blocks only). */
void config_domain_settings(const struct config *cfg, const char *vmta,
                            const char *domain, struct cfg_domain_settings *out);
const struct cfg_vmta *config_find_vmta(const struct config *cfg, const char *name);
const struct cfg_pool *config_find_pool(const struct config *cfg, const char *name);
const struct pattern_list *config_find_pattern_list(const struct config *cfg, const char *name);
/* The first mx-/ip-connection-limit line for a mail exchanger (host
 * name, address; either may be "" or NULL), or -1. */
int config_conn_limit_find(const struct config *cfg, const char *mx_host, const char *ip);
/* The <mx-rollup-list> queue name for a mail exchanger, or NULL. */
const char *config_mx_rollup(const struct config *cfg, const char *mx_host);
/* Whether name is a virtual MTA, a pool or {default}. */
int config_vmta_exists(const struct config *cfg, const char *name);
/* Whether domain matches a <domain> pattern (case-insensitive). */
int config_domain_match(const char *pattern, const char *domain);
/* Whether rcpt's domain is one we relay for anyone (relay-domain). */
int config_is_relay_domain(const struct config *cfg, const char *domain);

/* Reload across processes (config_reload.c): master publishes the digest
 * of the file it validated in run-dir/config.digest; a daemon applies a
 * reload only if config_digest_verify passes (-1 with the reason). */
uint64_t config_digest_add(uint64_t h, const void *p, size_t n);
int config_digest_publish(const struct config *cfg, char *err, size_t errlen);
int config_digest_verify(const struct config *cfg, char *err, size_t errlen);
/* The <smtp-pattern-list> named name, or NULL. */
const struct smtp_pattern_list *config_find_smtp_list(const struct config *cfg, const char *name);
/* Whether domain is held by a hold-domain line. */
int config_is_held_domain(const struct config *cfg, const char *domain);
/* Whether domain is a bounce-domain (its mail goes to bounced). */
int config_is_bounce_domain(const struct config *cfg, const char *domain);
/* Whether mail for addr (local@domain) goes to bounced: its domain is a
 * bounce-domain or a processor's address-list matches it. */
int config_is_bounce_address(const struct config *cfg, const char *addr);
/* The first processor whose address-list matches addr, or NULL. */
const struct cfg_processor *config_processor_for(const struct config *cfg, const char *addr);
/* The suppression database folder: suppression-db or SPOOL/suppress. */
int config_suppression_dir(const struct config *cfg, char *out, size_t outlen);

/* Write docs/config.md (Markdown) from the directive table. */
int config_write_docs(FILE *out);

#endif
