/*
 * config_table - internal to the config module: the directive table that
 * drives parsing, validation, defaults and docs/config.md, and the parser
 * state the table's value handlers work on.  Only lib/config*.c and the
 * config unit test include this header; daemons use config.h.
 */
#ifndef COURSER_CONFIG_TABLE_H
#define COURSER_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

/* Scopes: where a directive may be written (a block: where it may open). */
enum cfg_scope {
    CS_GLOBAL = 1 << 0,
    CS_SOURCE = 1 << 1,
    CS_DOMAIN = 1 << 2,
    CS_VMTA = 1 << 3,
    CS_POOL = 1 << 4,
    CS_ACCT = 1 << 5,
    CS_LISTENER = 1 << 6,
    CS_SPOOL = 1 << 7,
    CS_PATTERN = 1 << 14,       /* <pattern-list> (issue 3; 12 is <smtp-pattern-list>) */
    CS_ROLLUP = 1 << 15,        /* <mx-rollup-list> (issue 3) */
    CS_SMTPPAT = 1 << 12,       /* <smtp-pattern-list>; a high bit, so other new scopes don't collide */
    CS_BPROC = 1 << 10,         /* <bounce-processor>, <feedback-loop-processor> (issue 6) */
    CS_ADDRLIST = 1 << 11,      /* <address-list> inside one of them (issue 6) */
};
#define CS_ALL 0xffffu

enum cfg_vtype {
    CT_BOOL,        /* int */
    CT_U32,         /* uint32_t, min..max */
    CT_INTERVAL,    /* uint32_t seconds, min..max */
    CT_SIZE,        /* uint64_t bytes, min..max; "unlimited" = 0 if min is 0 */
    CT_NAME,        /* char[size]: printable, no spaces, commas or <> */
    CT_HOST,        /* char[size]: DNS host name */
    CT_ADDRESS,     /* char[size]: local@domain */
    CT_USER,        /* char[size]: Unix user name */
    CT_PATH,        /* char[size]: relative to the config file's folder */
    CT_SPECIAL,     /* the entry's apply handler does everything */
    CT_BLOCK,       /* <name arg> ... </name> */
};

enum cfg_store { CST_NONE, CST_GLOBAL, CST_SOURCE, CST_DOMAIN, CST_ACCT };

enum cfg_flag {
    CDF_UNSUPPORTED = 1 << 0,   /* PowerMTA has it, Courser refuses it (yet) */
    CDF_REPEAT = 1 << 1,        /* may be given several times (docs only) */
    CDF_DEF_TEXT = 1 << 2,      /* def describes the default, is not a value */
    CDF_NO_ARG = 1 << 8,        /* a block written without an argument */
    CDF_OPT_ARG = 1 << 9,       /* a block whose argument may be left out */
};

struct cfg_parser;
struct cfg_directive;

/* Apply value to base (the struct of the entry's store, or NULL for
 * CST_NONE).  On failure write the message tail (after "NAME: ") into
 * why and return -1.  p is NULL while the built-in defaults are applied. */
typedef int (*cfg_apply_fn)(struct cfg_parser *p, const struct cfg_directive *d,
                            const char *value, void *base, char *why, size_t whylen);

struct cfg_directive {
    const char *name;
    const char *synonyms;       /* comma-separated, or NULL */
    unsigned scopes;            /* CS_* bits */
    unsigned flags;             /* CDF_* bits */
    enum cfg_vtype type;
    enum cfg_store store;
    size_t off, size;           /* the value's place in the store struct */
    uint64_t min, max;
    int bit;                    /* bit in cfg_source/cfg_domain .set, or -1 */
    cfg_apply_fn apply;         /* NULL = the generic handler for type */
    const char *syntax;         /* for docs; NULL = derived from type */
    const char *def;            /* default, as it would be written */
    const char *help;           /* one line */
};

extern const struct cfg_directive cfg_table[];
extern const size_t cfg_table_len;

/* The entry named name (or a synonym), block or not, preferring one that
 * is allowed in scope.  NULL if the name is unknown. */
const struct cfg_directive *cfg_table_lookup(const char *name, int is_block, unsigned scope);
/* Apply value to base through d's handler. */
int cfg_table_apply(struct cfg_parser *p, const struct cfg_directive *d,
                    const char *value, void *base, char *why, size_t whylen);
/* "<virtual-mta>", "global scope", ... */
const char *cfg_scope_name(unsigned scope);

/* Limits: every count in the file is bounded. */
#define CFG_LINE_MAX        8192
#define CFG_INCLUDE_DEPTH   16
#define CFG_FILES_MAX       1024
#define CFG_BLOCK_DEPTH     4
#define CFG_LISTENERS_MAX   64
#define CFG_SOURCES_MAX     4096
#define CFG_VMTAS_MAX       4096
#define CFG_POOLS_MAX       1024
#define CFG_MEMBERS_MAX     4096
#define CFG_DOMAINS_MAX     8192
#define CFG_HOSTS_MAX       256
#define CFG_ACCT_MAX        16
#define CFG_RELAY_MAX       8192
/* Totals over the whole file, so nested limits cannot multiply up. */
#define CFG_DOMAINS_TOTAL   16384
#define CFG_HOSTS_TOTAL     65536
#define CFG_MEMBERS_TOTAL   65536
#define CFG_REFS_MAX        65536

struct cfg_block {
    const struct cfg_directive *d;
    unsigned scope;             /* CS_* of the block's inside */
    unsigned parent;            /* CS_* it was opened in */
    size_t index;               /* in the parent's array */
    size_t outer;               /* for <domain> in a vmta/pool: that one's index */
    char file[PATH_MAX];
    int line;
};

/* A name that must exist once the whole file is read. */
enum cfg_ref_kind { REF_VMTA, REF_VMTA_OR_POOL, REF_SOURCE, REF_PATTERN_LIST, REF_SMTP_LIST };
struct cfg_ref {
    enum cfg_ref_kind kind;
    char directive[64];
    char name[CFG_NAME_MAX];
    const char *file;           /* one of cfg_parser.paths */
    int line;
};

struct cfg_parser {
    struct config *cfg;
    const char *file;           /* position of the line being applied */
    int line;
    struct cfg_block stack[CFG_BLOCK_DEPTH];
    int nstack;
    struct { dev_t dev; ino_t ino; } open[CFG_INCLUDE_DEPTH + 1];
    int nopen;
    char **paths;               /* every file read, for cfg_ref.file */
    size_t nfiles;
    size_t ndomains, nhosts, nmembers;  /* totals, see CFG_*_TOTAL */
    struct cfg_ref *refs;
    size_t nrefs;
    int nspool;                 /* <spool> blocks seen */
    int failed;                 /* err already holds the message */
    uint64_t digest;            /* FNV-1a of every line read */
    /* config_check_all: report each error and go on */
    void (*report)(void *arg, const char *line);
    void *report_arg;
    size_t nerrors;
    char *err;
    size_t errlen;
};

/* The special handlers (config_value.c). */
int cfg_apply_include(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_listener(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_listener_source(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dns_server(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_relay_domain(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_vmta_ref(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_source_host(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_pool_member(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_retry(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_route(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_records(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_fields(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);

/* Routing handlers and whole-file checks (config_route.c, issue 3). */
int cfg_apply_pattern_rule(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_pattern_list_ref(struct cfg_parser *p, const struct cfg_directive *d,
        const char *value, void *base, char *why, size_t whylen);
int cfg_apply_domain_macro(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_queue_to(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_vmta_fallback(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_rollup_mx(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_header_name(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
/* Open "<pattern-list NAME>". */
int cfg_pattern_list_block(struct cfg_parser *p, const char *arg, size_t *index, char *why,
        size_t whylen);
/* After the whole file: expand macros (loops are errors), attach <domain
 * $NAME> blocks to them, check queue-to targets.  -1 with the full
 * "file:line: ..." message in err. */
int cfg_route_finish(struct cfg_parser *p, char *err, size_t errlen);
void cfg_route_free(struct config *cfg);
#define CFG_MACROS_MAX      1024
#define CFG_MACRO_ITEMS_MAX 4096
#define CFG_PATTERN_LISTS_MAX 1024
#define CFG_ROLLUPS_MAX     4096

/* DKIM handlers (config_dkim.c). */
int cfg_apply_domain_key(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dkim_algorithm(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dkim_canon(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dkim_headers(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dkim_identity(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_dkim_fail_action(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
/* Bounce handlers (config_bounce.c). */
int cfg_apply_bounce_domain(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_pipe(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_hard_categories(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
/* <bounce-processor>/<feedback-loop-processor> contents (config_bounce.c). */
int cfg_apply_proc_deliver(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_proc_forward(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_addrlist_domain(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_addrlist_address(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_addrlist_file(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
/* Open "<bounce-processor>" (feedback 0) or "<feedback-loop-processor>". */
int cfg_processor_block(struct cfg_parser *p, int feedback, char *why, size_t whylen);
void cfg_bounce_free(struct config *cfg);
#define CFG_PROCESSORS_MAX  64
#define CFG_PROC_ITEMS_MAX  65536   /* addresses, domains, regexes of one processor */
#define CFG_DOMAIN_KEYS_MAX 65536   /* domain-key lines in one scope */

/* Traffic-shaping handlers (config_shaping.c). */
int cfg_apply_rate(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_volume_rate(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_interval_list(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_interval_never(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_smtp_list_ref(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_smtp_reply(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_warmup_schedule(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_warmup_start(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_ip_limit(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_hold_domain(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
/* Open "<smtp-pattern-list NAME>". */
int cfg_smtp_list_block(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
        size_t whylen);
int cfg_apply_warmup_plan(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_warmup_overflow(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
int cfg_apply_conn_limit(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
        void *base, char *why, size_t whylen);
void cfg_shaping_free(struct config *cfg);
#define CFG_SMTP_LISTS_MAX  1024
#define CFG_CONN_LIMITS_MAX 1024
#define CFG_HOLD_MAX        8192

/* Helpers shared by config.c and config_value.c. */
void *cfg_array_add(void *arrp, size_t *n, size_t elsize, size_t max);
int cfg_ref_add(struct cfg_parser *p, enum cfg_ref_kind kind, const char *directive,
                const char *name);
int cfg_path_join(const char *dir, const char *path, char *out, size_t outlen);
int cfg_domain_pattern_ok(const char *s);
int cfg_name_ok(const char *s);
int cfg_host_ok(const char *s);
void cfg_quote(char *out, size_t outlen, const char *value);
/* Seconds as "1w2d3h4m5s" (zero units left out; 0 is "0s"). */
void cfg_fmt_interval(uint64_t s, char *out, size_t outlen);
/* Open a listener for "<smtp-listener IP:PORT>". */
int cfg_listener_block(struct cfg_parser *p, const char *value, char *why, size_t whylen);
int cfg_parse_include(struct cfg_parser *p, const char *pattern, char *why, size_t whylen);
/* Built-in <source> and <domain> defaults, from the table's def texts. */
const struct cfg_source_settings *cfg_source_defaults(void);
const struct cfg_domain_settings *cfg_domain_defaults(void);
/* Apply every table default of store to base. */
void cfg_apply_defaults(enum cfg_store store, void *base);

#endif
