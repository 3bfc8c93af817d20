/*
 * config_table - THE directive table (name, synonyms, type, scopes,
 * default, help, supported or not) and its look-up.  The value handlers
 * the entries point to are in config_value.c.
 *
 * The parser (config.c) looks every directive and block up here, checks
 * its scope, and calls cfg_table_apply; the built-in defaults are the def
 * texts below run through the same handlers (config_merge.c), and
 * config_write_docs prints this table as docs/config.md.  Adding a
 * directive = one entry here + a field in config.h (+ a handler in
 * config_value.c if the value is not a plain type).
 */
#include "config_table.h"

#include <string.h>
#include <strings.h>

#define MEMBER_SIZE(type, f) sizeof(((type *)0)->f)
#define G(f) .store = CST_GLOBAL, .off = offsetof(struct config, f), \
             .size = MEMBER_SIZE(struct config, f)
#define S(f, b) .store = CST_SOURCE, .off = offsetof(struct cfg_source_settings, f), \
                .size = MEMBER_SIZE(struct cfg_source_settings, f), .bit = (b)
#define D(f, b) .store = CST_DOMAIN, .off = offsetof(struct cfg_domain_settings, f), \
                .size = MEMBER_SIZE(struct cfg_domain_settings, f), .bit = (b)
#define A(f) .store = CST_ACCT, .off = offsetof(struct cfg_acct_file, f), \
             .size = MEMBER_SIZE(struct cfg_acct_file, f)
#define NOTYET(n, h) { .name = (n), .scopes = CS_ALL, .flags = CDF_UNSUPPORTED, \
                       .type = CT_SPECIAL, .help = (h) }
#define NOTYET_BLOCK(n, h) { .name = (n), .scopes = CS_ALL, .flags = CDF_UNSUPPORTED, \
                             .type = CT_BLOCK, .help = (h) }
#define DAY 86400ULL

/* retry-after fills retry_after[] and nretry as one setting. */
_Static_assert(offsetof(struct cfg_domain_settings, nretry)
               == offsetof(struct cfg_domain_settings, retry_after)
                  + sizeof(((struct cfg_domain_settings *)0)->retry_after),
               "nretry must follow retry_after");
_Static_assert(offsetof(struct cfg_domain_settings, nbackoff_retry)
               == offsetof(struct cfg_domain_settings, backoff_retry_after)
                  + sizeof(((struct cfg_domain_settings *)0)->backoff_retry_after),
               "nbackoff_retry must follow backoff_retry_after");
#define D_RETRY .store = CST_DOMAIN, .off = offsetof(struct cfg_domain_settings, retry_after), \
    .size = offsetof(struct cfg_domain_settings, nretry) + sizeof(uint32_t) \
            - offsetof(struct cfg_domain_settings, retry_after), .bit = 1


const struct cfg_directive cfg_table[] = {
    /* ---- blocks ---- */
    { .name = "source", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "CIDR or NAME",
      .help = "SMTP-injection policy for clients in an IP range, or a named policy that a listener selects" },
    { .name = "domain", .scopes = CS_GLOBAL | CS_VMTA | CS_POOL, .type = CT_BLOCK,
      .syntax = "PATTERN", .help = "delivery settings for destination domains: `*`, `x`, `*.x` (subdomains), `[*.]x` (x and subdomains)" },
    { .name = "virtual-mta", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "NAME",
      .help = "an outbound identity: source IP(s), EHLO name, nested `<domain>` blocks" },
    { .name = "virtual-mta-pool", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "NAME",
      .help = "a group of virtual MTAs used round robin; nested `<domain>` blocks apply to its members" },
    { .name = "acct-file", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "PATH",
      .help = "an accounting CSV file" },
    { .name = "smtp-listener", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "IP:PORT",
      .help = "block form of the smtp-listener directive" },
    { .name = "spool", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "PATH",
      .help = "PowerMTA's spool block: same as the spool directive (one spool only)" },
    { .name = "mx-rollup-list", .scopes = CS_GLOBAL, .flags = CDF_NO_ARG, .type = CT_BLOCK,
      .syntax = "", .help = "domains whose mail exchangers match share one queue per virtual MTA (docs/routing.md)" },
    { .name = "pattern-list", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "NAME",
      .help = "rules choosing the virtual MTA from headers or the envelope; a `<source>` uses one with `pattern-list NAME`" },

    { .name = "bounce-processor", .scopes = CS_GLOBAL, .flags = CDF_NO_ARG | CDF_REPEAT, .type = CT_BLOCK,
      .syntax = "", .help = "PowerMTA's async-bounce processor: mail for its `<address-list>` goes to bounced (as for a bounce-domain): DSNs give `rb`/`rs` records (docs/bounces.md); a change needs a restart in PowerMTA, a reload here" },
    { .name = "feedback-loop-processor", .scopes = CS_GLOBAL, .flags = CDF_NO_ARG | CDF_REPEAT, .type = CT_BLOCK,
      .syntax = "", .help = "PowerMTA's FBL processor: mail for its `<address-list>` goes to bounced; ARF/JMRP reports give `f` records and suppress the complainer" },
    { .name = "address-list", .scopes = CS_BPROC, .flags = CDF_OPT_ARG, .type = CT_BLOCK,
      .syntax = "[NAME]", .help = "the addresses and domains whose mail the processor takes (the optional list name is not needed inside a processor)" },

    /* ---- global ---- */
    { .name = "include", .scopes = CS_ALL & ~CS_SPOOL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_include, .syntax = "path (wildcards allowed)",
      .help = "read FILE(s) here, relative to the including file's folder; loops and nesting deeper than 16 are errors" },
    { .name = "spool", .scopes = CS_GLOBAL, .type = CT_PATH, G(spool_dir),
      .def = "/var/spool/courser", .help = "spool folder (messages waiting for delivery)" },
    { .name = "run-dir", .scopes = CS_GLOBAL, .type = CT_PATH, G(run_dir),
      .def = "/run/courser", .help = "folder of the UNIX sockets (qmgr.sock, acctd.sock, control.sock)" },
    { .name = "log-file", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH, G(log_file),
      .def = "(standard error)", .help = "log file of every process" },
    { .name = "daemon-dir", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH, G(daemon_dir),
      .def = "(the master's folder)", .help = "folder holding smtpd, qmgr, smtp-out, ... programs" },
    { .name = "dns-server", .synonyms = "name-server", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_dns_server, .syntax = "IP or IP:PORT",
      .def = "(system resolver)", .help = "the one DNS resolver to ask (port 53 if none given)" },
    { .name = "host-name", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_HOST, G(host_name),
      .def = "(system host name)", .help = "name in the SMTP greeting, EHLO, Received: and bounces" },
    { .name = "postmaster", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_ADDRESS, G(postmaster),
      .def = "(none)", .help = "address of the person responsible (From: of bounces)" },
    { .name = "user", .scopes = CS_GLOBAL, .type = CT_USER, G(user), .def = "courser",
      .help = "Unix user the daemons run as when started as root" },
    { .name = "default-virtual-mta", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_NAME,
      G(default_vmta), .apply = cfg_apply_vmta_ref, .def = "(the implicit {default})",
      .help = "virtual MTA or pool for messages that name none" },
    { .name = "smtpd-processes", .scopes = CS_GLOBAL, .type = CT_U32, G(smtpd_processes),
      .min = 1, .max = 64, .def = "2", .help = "number of SMTP server processes" },
    { .name = "smtp-out-processes", .scopes = CS_GLOBAL, .type = CT_U32, G(smtp_out_processes),
      .min = 1, .max = 64, .def = "2", .help = "number of delivery processes" },
    { .name = "smtp-out-slots", .scopes = CS_GLOBAL, .type = CT_U32, G(smtp_out_slots),
      .min = 1, .max = 100000, .def = "200", .help = "deliveries in flight per delivery process" },
    { .name = "sync-msg-create", .scopes = CS_GLOBAL, .type = CT_BOOL, G(sync_msg_create),
      .def = "yes", .help = "fsync a message before answering 250 (PowerMTA's sample config says false; Courser is durable by default)" },
    { .name = "smtp-listener", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_listener, .syntax = "IP:PORT [source=NAME]",
      .def = "0.0.0.0:25", .help = "accept SMTP on this address; `0/0:PORT` = all IPv4; source= applies a named `<source>`" },
    { .name = "relay-domain", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_relay_domain, .syntax = "domain pattern",
      .def = "(none)", .help = "accept mail for this domain from anyone (`[*.]x` and `*.x` allowed)" },

    { .name = "domain-key", .scopes = CS_GLOBAL | CS_VMTA | CS_POOL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_domain_key, .syntax = "SELECTOR,DOMAIN,FILE[,rsa|ed25519]",
      .def = "(none)", .help = "a DKIM key for DOMAIN (or `*`: any identity domain); in a `<virtual-mta>` it wins over global keys; the type (default rsa) is checked when dkimsign loads FILE" },
    { .name = "dkim-key-dir", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH,
      G(dkim_key_dir), .def = "(none)", .help = "DKIM keys by convention: DIR/DOMAIN/SELECTOR.pem (RSA) and DIR/DOMAIN/SELECTOR.ed25519.pem; the newest file per type signs" },
    { .name = "domain-macro", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_domain_macro, .syntax = "NAME domain,domain,$NAME...",
      .def = "(none)", .help = "a named list of domain patterns for `<domain $NAME>`; macros may nest, a loop is an error; an explicitly listed domain beats a macro's" },
    { .name = "invalid-virtual-mta-fallback", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT,
      .type = CT_SPECIAL, G(invalid_vmta_fallback), .apply = cfg_apply_vmta_fallback,
      .syntax = "NAME", .def = "(none: refuse)",
      .help = "virtual MTA or pool used when X-Virtual-MTA names an unknown one, instead of refusing the message" },
    { .name = "dkim-user", .scopes = CS_GLOBAL, .type = CT_USER, G(dkim_user), .def = "courser-dkim",
      .help = "Unix user dkimsign runs as when started as root; the only one that can read the keys" },
    { .name = "dkim-check-dns", .scopes = CS_GLOBAL, .type = CT_BOOL, G(dkim_check_dns), .def = "no",
      .help = "when dkimsign loads keys (start, reload), look up each one's TXT record (dns-server) and log whether it publishes that key; a mismatch is reported, signing goes on" },

    /* ---- bounces, feedback loops, suppression (issue 6; config_bounce.c) ---- */
    { .name = "deliver-unmatched-email", .scopes = CS_BPROC, .type = CT_SPECIAL, .apply = cfg_apply_proc_deliver,
      .syntax = "no", .def = "no", .flags = CDF_DEF_TEXT,
      .help = "only `no`: mail the processor does not recognise is dropped (logged) or sent to forward-unmatched-to.  PowerMTA's default is yes (deliver by the domain's type file/pipe), which Courser does not have" },
    { .name = "deliver-matched-email", .scopes = CS_BPROC, .type = CT_SPECIAL, .apply = cfg_apply_proc_deliver,
      .syntax = "no", .def = "no", .flags = CDF_DEF_TEXT,
      .help = "only `no` (PowerMTA's default): a recognised bounce or report ends in bounced" },
    { .name = "forward-unmatched-to", .scopes = CS_BPROC, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_proc_forward, .syntax = "ADDRESS", .def = "(none)",
      .help = "mail the processor does not recognise (not a DSN, ARF or JMRP report; auto-replies) is forwarded unchanged to ADDRESS with the null return path" },
    { .name = "forward-errors-to", .scopes = CS_BPROC, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_proc_forward, .syntax = "ADDRESS", .def = "(none)",
      .help = "a notice recognised as a bounce or report but with no recipient that could be read out of it is forwarded unchanged to ADDRESS" },
    { .name = "domain", .scopes = CS_ADDRLIST, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_addrlist_domain, .syntax = "DOMAIN", .def = "(none)",
      .help = "mail to any address at DOMAIN (exactly) is the processor's; DOMAIN also counts as a bounce-domain" },
    { .name = "address", .scopes = CS_ADDRLIST, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_addrlist_address, .syntax = "ADDRESS or /REGEX/", .def = "(none)",
      .help = "mail to this address (without regard to case), or to every address the regex matches (PCRE, case-insensitive, against local@domain), is the processor's" },
    { .name = "address-file", .scopes = CS_ADDRLIST, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_addrlist_file, .syntax = "PATH", .def = "(none)",
      .help = "one complete address per line (`#` comments); read at load and reload (PowerMTA's bare local parts are refused)" },
    { .name = "bounce-domain", .synonyms = "feedback-loop-domain", .scopes = CS_GLOBAL,
      .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL, .apply = cfg_apply_bounce_domain,
      .syntax = "DOMAIN", .def = "(none)",
      .help = "mail to any address at DOMAIN is processed by bounced, not relayed: DSNs give `rb` records, ARF/JMRP complaints `f` records; hard bounces and complaints are suppressed (PowerMTA's `<bounce-processor>`/`<feedback-loop-processor>` with a domain list)" },
    { .name = "verp-domain", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_HOST,
      G(verp_domain), .def = "(the first bounce-domain)",
      .help = "domain of the VERP return path `bounces+ID.HASH@DOMAIN`" },
    { .name = "verp-key", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_NAME, G(verp_key),
      .def = "(none)", .help = "HMAC key signing VERP return paths (prefer verp-key-file: keeps the secret out of the config)" },
    { .name = "verp-key-file", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH,
      G(verp_key_file), .def = "(none)", .help = "file holding the VERP HMAC key (16-256 bytes)" },
    { .name = "suppression-db", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH,
      G(suppression_db), .def = "(SPOOL/suppress)", .help = "folder of the LMDB suppression database (bounced writes, smtpd reads)" },
    { .name = "bounce-patterns", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_PATH,
      G(bounce_patterns), .def = "(built-in only)",
      .help = "operator's `<bounce-category-patterns>` file (`/regex/ category` lines), matched before the built-in rules" },
    { .name = "hard-bounce-categories", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      G(hard_bounce_categories), .apply = cfg_apply_hard_categories, .syntax = "category list",
      .def = "(bad-mailbox,bad-domain,inactive-mailbox)",
      .help = "bounce categories that are hard (suppressed); every other category is soft.  Set here, it wins over a `hard-bounce-categories` line in the bounce-patterns file" },
    { .name = "send-dsn", .scopes = CS_GLOBAL, .type = CT_BOOL, G(send_dsn), .def = "yes",
      .help = "send an RFC 3464 DSN to the sender of a failed message (unless NOTIFY excludes FAILURE; never to the null sender)" },
    { .name = "max-dsn-per-sender-per-hour", .scopes = CS_GLOBAL, .type = CT_U32,
      G(max_dsn_per_sender), .min = 0, .max = 10000000, .def = "100",
      .help = "DSNs sent to one sender address in an hour; more failures are still recorded and suppressed, without a DSN; 0 = no limit" },
    { .name = "bounce-pipe", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      G(bounce_pipe), .apply = cfg_apply_pipe, .syntax = "/PROGRAM [ARGS]", .def = "(none)",
      .help = "run PROGRAM (no shell) and give it every bounce (`b`, `rb`, `rs`) as a JSON line on stdin; it acknowledges each by writing a line to stdout; nothing is lost if it is slow or fails (docs/bounces.md); a change needs a restart" },
    { .name = "fbl-pipe", .scopes = CS_GLOBAL, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      G(fbl_pipe), .apply = cfg_apply_pipe, .syntax = "/PROGRAM [ARGS]", .def = "(none)",
      .help = "the same for complaints (`f`)" },
    { .name = "reject-suppressed-recipients", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(reject_suppressed, 48), .def = "yes",
      .help = "refuse (550 at RCPT) recipients on the suppression list; no = accept them, then qmgr bounces them (5.7.1, `b` record) without delivering" },
    { .name = "verp", .synonyms = "verp-default", .scopes = CS_DOMAIN, .type = CT_BOOL, D(verp, 62),
      .def = "no", .help = "send with the signed VERP return path `bounces+ID.HASH@verp-domain` (needs verp-key or verp-key-file)" },
    /* bit 63, the last free one of cfg_domain.set */
    { .name = "notify-of-delay-every", .scopes = CS_DOMAIN, .type = CT_INTERVAL, D(notify_delay_every, 63),
      .min = 0, .max = 365 * DAY, .def = "4h",
      .help = "send the sender a \"delayed\" DSN (RFC 3464) each time a recipient that asked for one (NOTIFY=DELAY) has waited this long again; 0 = never" },

    /* ---- <smtp-listener> ---- */
    { .name = "source", .scopes = CS_LISTENER, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_listener_source, .syntax = "NAME", .def = "(none)",
      .help = "named `<source>` block applied to connections on this listener" },

    /* ---- <source> ---- */
    { .name = "smtp-service", .scopes = CS_SOURCE, .type = CT_BOOL, S(smtp_service, 0),
      .def = "yes", .help = "accept SMTP from these clients at all" },
    { .name = "always-allow-relaying", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(always_allow_relaying, 1), .def = "no", .help = "accept mail for any domain from these clients" },
    { .name = "default-virtual-mta", .scopes = CS_SOURCE, .flags = CDF_DEF_TEXT, .type = CT_NAME,
      S(default_vmta, 2), .apply = cfg_apply_vmta_ref, .def = "(the global default-virtual-mta)",
      .help = "virtual MTA or pool for messages from these clients; `by-smtp-source-ip`: the virtual MTA whose smtp-source-host is the address the client connected to" },
    { .name = "max-message-size", .scopes = CS_SOURCE, .type = CT_SIZE, S(max_message_size, 3),
      .min = 0, .max = 1ULL << 40, .def = "50M", .help = "largest message accepted (SIZE); 0 or unlimited = no limit" },
    { .name = "max-rcpt-per-message", .scopes = CS_SOURCE, .type = CT_U32, S(max_rcpt_per_message, 4),
      .min = 0, .max = 1000000, .def = "1000", .help = "recipients per message; 0 = no limit" },
    { .name = "smtp-command-timeout", .scopes = CS_SOURCE, .type = CT_INTERVAL,
      S(smtp_command_timeout, 5), .min = 1, .max = DAY, .def = "5m",
      .help = "how long to wait for the client's next command" },
    { .name = "smtp-data-timeout", .scopes = CS_SOURCE, .type = CT_INTERVAL, S(smtp_data_timeout, 6),
      .min = 1, .max = DAY, .def = "10m", .help = "how long to wait for more message data" },
    { .name = "max-errors-per-session", .scopes = CS_SOURCE, .type = CT_U32, S(max_errors, 7),
      .min = 0, .max = 100000, .def = "10", .help = "disconnect after this many failed commands (Courser's name); 0 = no limit" },
    { .name = "max-line-length", .scopes = CS_SOURCE, .type = CT_U32, S(max_line_length, 8),
      .min = 512, .max = 1048576, .def = "1000", .help = "longest SMTP line in bytes incl. CRLF (RFC 5321 4.5.3.1.6)" },
    { .name = "process-x-virtual-mta", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(process_x_virtual_mta, 9), .def = "no", .help = "choose the virtual MTA from the X-Virtual-MTA header" },
    { .name = "process-x-job", .scopes = CS_SOURCE, .type = CT_BOOL, S(process_x_job, 10),
      .def = "no", .help = "take the job id from the X-Job header" },
    { .name = "add-received-header", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(add_received_header, 11), .def = "yes", .help = "add a Received: header" },
    /* routing (issue 3; docs/routing.md).  Set bits 40-46 (source) and
     * 60-61 (domain): chosen apart from the ones other branches add
     * (shaping: domain 40-57; bounce: 48); tests/unit/lib/config_route.c
     * fails if two settings ever share a bit. */
    { .name = "pattern-list", .scopes = CS_SOURCE, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      S(pattern_list, 40), .apply = cfg_apply_pattern_list_ref, .syntax = "NAME", .def = "(none)",
      .help = "the `<pattern-list>` that chooses the virtual MTA of these clients' messages (after X-Virtual-MTA, before default-virtual-mta)" },
    { .name = "retain-x-virtual-mta", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(retain_x_virtual_mta, 41), .def = "no", .help = "keep the X-Virtual-MTA header in the delivered message" },
    { .name = "reject-invalid-virtual-mta", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(reject_invalid_virtual_mta, 42), .def = "yes",
      .help = "refuse at DATA (550 5.7.1) a message whose X-Virtual-MTA names no virtual MTA or pool, unless invalid-virtual-mta-fallback is set; no = ignore the header" },
    { .name = "retain-x-job", .scopes = CS_SOURCE, .type = CT_BOOL, S(retain_x_job, 43),
      .def = "no", .help = "keep the job-id header in the delivered message" },
    { .name = "allow-empty-x-virtual-mta", .scopes = CS_SOURCE, .type = CT_BOOL,
      S(allow_empty_x_virtual_mta, 45), .def = "no",
      .help = "an empty X-Virtual-MTA header means {default} (else it is an unknown name)" },
    { .name = "process-x-envid", .scopes = CS_SOURCE, .type = CT_BOOL, S(process_x_envid, 46),
      .def = "no", .help = "take the DSN envelope id from the X-Envid header when MAIL FROM gave no ENVID (the header is removed)" },
    { .name = "jobid-header", .scopes = CS_SOURCE, .type = CT_SPECIAL, S(jobid_header, 44),
      .apply = cfg_apply_header_name, .syntax = "header name", .def = "x-job",
      .help = "the header that carries the job id (with process-x-job yes)" },

    /* ---- <virtual-mta>, <virtual-mta-pool> ---- */
    { .name = "smtp-source-host", .scopes = CS_VMTA, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_source_host, .syntax = "IP HOSTNAME",
      .def = "(the system's choice, EHLO host-name)", .help = "source IP and EHLO name; several are used round robin" },
    { .name = "virtual-mta", .scopes = CS_POOL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_pool_member, .syntax = "NAME [weight=1..1000]", .def = "(none)",
      .help = "a member of the pool (a `<virtual-mta>` defined anywhere in the file); members take new messages by smooth weighted round robin, weight 1 unless given (weight= is Courser's)" },

    /* ---- <domain> ---- */
    { .name = "route", .synonyms = "smtp-hosts", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT,
      .type = CT_SPECIAL, D(route, 0), .apply = cfg_apply_route, .syntax = "host[:port] list",
      .def = "(MX lookup)", .help = "deliver to these hosts (`[IP]:PORT` or `host:port`, `,`/`;` separated) instead of the MX" },
    { .name = "retry-after", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D_RETRY, .apply = cfg_apply_retry,
      .syntax = "interval list", .def = "10m",
      .help = "wait before retry N (up to 30 intervals; the last repeats)" },
    { .name = "retry-recipients-after", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(retry_recipients_after, 2), .min = 0, .max = 30 * DAY, .def = "10m",
      .help = "least wait before retrying a recipient that got a 4xx" },
    { .name = "bounce-after", .synonyms = "expire-after", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(bounce_after, 3), .min = 60, .max = 365 * DAY, .def = "4d12h",
      .help = "give up and bounce a message this long after it was queued" },
    { .name = "max-smtp-retries", .scopes = CS_DOMAIN, .type = CT_U32, D(max_smtp_retries, 4),
      .min = 0, .max = 100000, .def = "0", .help = "bounce after this many delivery attempts; 0 = no limit" },
    { .name = "max-smtp-out", .scopes = CS_DOMAIN, .type = CT_U32, D(max_smtp_out, 5),
      .min = 1, .max = 100000, .def = "20", .help = "concurrent connections per queue (domain/virtual MTA)" },
    { .name = "max-msg-per-connection", .scopes = CS_DOMAIN, .type = CT_U32,
      D(max_msg_per_connection, 6), .min = 0, .max = 1000000, .def = "0",
      .help = "reconnect after this many messages; 0 = no limit" },
    { .name = "max-rcpt-per-transaction", .synonyms = "max-rcpt-per-message", .scopes = CS_DOMAIN,
      .type = CT_U32, D(max_rcpt_per_transaction, 7), .min = 1, .max = 100000, .def = "1000",
      .help = "recipients per SMTP transaction; more are split" },
    { .name = "connect-timeout", .scopes = CS_DOMAIN, .type = CT_INTERVAL, D(connect_timeout, 8),
      .min = 1, .max = DAY, .def = "2m", .help = "TCP connect timeout" },
    { .name = "smtp-greeting-timeout", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(greeting_timeout, 9), .min = 1, .max = DAY, .def = "5m", .help = "wait for the server's 220 greeting" },
    { .name = "data-send-timeout", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(data_send_timeout, 10), .min = 1, .max = DAY, .def = "3m", .help = "wait for the server to take more data" },
    { .name = "smtp-data-termination-timeout", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(data_termination_timeout, 11), .min = 1, .max = DAY, .def = "10m",
      .help = "wait for the reply to the final `.`" },
    { .name = "connection-idle-timeout", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(idle_timeout, 12), .min = 0, .max = 600, .def = "0",
      .help = "keep an idle connection open this long for new mail (at most 10m)" },

    /* ---- <domain>: DKIM (docs/dkim.md) ---- */
    { .name = "dkim-sign", .scopes = CS_DOMAIN, .type = CT_BOOL, D(dkim_sign, 13), .def = "no",
      .help = "DKIM-sign mail of this queue with every key (`domain-key`, `dkim-key-dir`) of the identity's domain or a parent" },
    { .name = "dkim-algorithm", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(dkim_algorithms, 14),
      .apply = cfg_apply_dkim_algorithm, .syntax = "rsa-sha256, ed25519-sha256 or all",
      .def = "all", .help = "which keys sign: each allowed algorithm with a key gives one signature (rsa-sha1 is refused, RFC 8301)" },
    { .name = "dkim-canonicalization", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(dkim_canon, 15),
      .apply = cfg_apply_dkim_canon, .syntax = "HEADER/BODY: relaxed or simple",
      .def = "relaxed/relaxed", .help = "canonicalization (c=): relaxed/relaxed, relaxed/simple, simple/simple, simple/relaxed" },
    { .name = "dkim-headers", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(dkim_headers, 16), .apply = cfg_apply_dkim_headers, .syntax = "header name list",
      .def = "(the built-in set)", .help = "headers to sign in addition to the built-in set (From, Subject, Date, To, Cc, Message-ID, MIME and List headers, ...)" },
    { .name = "dkim-identity", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(dkim_identity, 17),
      .apply = cfg_apply_dkim_identity, .syntax = "sender-or-from, @DOMAIN or ADDRESS",
      .def = "sender-or-from", .help = "signing identity; its domain chooses the keys; `@d`/address also set i=" },
    { .name = "dkim-identity-fallback", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(dkim_identity_fallback, 18), .apply = cfg_apply_dkim_identity, .syntax = "@DOMAIN or ADDRESS",
      .def = "(none)", .help = "identity used when no key fits the identity's domain (e.g. the ESP's own domain)" },
    { .name = "dkim-add-timestamp", .scopes = CS_DOMAIN, .type = CT_BOOL, D(dkim_add_timestamp, 19),
      .def = "no", .help = "add the signing time (t=)" },
    { .name = "dkim-expire-after", .scopes = CS_DOMAIN, .type = CT_INTERVAL, D(dkim_expire_after, 20),
      .min = 0, .max = 365 * DAY, .def = "0", .help = "signature expiry after signing (x=, implies t=); 0 = none" },
    { .name = "dkim-fail-action", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(dkim_fail_action, 21),
      .apply = cfg_apply_dkim_fail_action, .syntax = "defer or send-unsigned", .def = "defer",
      .help = "when a message cannot be signed (key failed to load, dkimsign down): retry later, or send it unsigned" },
    { .name = "dkim-disallow-adding-headers", .scopes = CS_DOMAIN, .type = CT_BOOL,
      D(dkim_oversign, 22), .def = "yes",
      .help = "over-sign From, Sender, Reply-To, Subject, Date, To, Cc, MIME and List-Unsubscribe headers so that none can be added" },

    /* ---- <domain>: routing (issue 3) ---- */
    { .name = "queue-to", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(queue_to, 60), .apply = cfg_apply_queue_to, .syntax = "NAME", .def = "(own queue)",
      .help = "queue this domain's mail in the queue NAME/vmta, shared with every domain that names it; the queue's settings are those of `<domain NAME>`, which must give smtp-hosts" },

    { .name = "disable-mx-rollup", .scopes = CS_DOMAIN, .type = CT_BOOL, D(disable_mx_rollup, 61),
      .def = "no", .help = "keep this domain in its own queue even if its MX matches the `<mx-rollup-list>`" },

    /* ---- <mx-rollup-list> ---- */
    { .name = "mx", .scopes = CS_ROLLUP, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_rollup_mx, .syntax = "MX-PATTERN NAME", .def = "(none)",
      .help = "a domain whose mail exchanger matches MX-PATTERN (`host`, `*.suffix`) is queued in NAME/vmta once Courser has seen that MX answer for it; NAME's settings are `<domain NAME>`'s" },

    /* ---- <pattern-list> ---- */
    { .name = "header", .scopes = CS_PATTERN, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_pattern_rule, .syntax = "NAME /REGEX/[i] virtual-mta=VMTA", .def = "(none)",
      .help = "a header's unfolded value matches REGEX (PCRE2): route the message via VMTA (a virtual MTA or pool); first matching rule wins" },
    { .name = "mail-from", .scopes = CS_PATTERN, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_pattern_rule, .syntax = "/REGEX/[i] virtual-mta=VMTA", .def = "(none)",
      .help = "the MAIL FROM address matches REGEX" },
    { .name = "rcpt-to", .scopes = CS_PATTERN, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_pattern_rule, .syntax = "/REGEX/[i] virtual-mta=VMTA", .def = "(none)",
      .help = "any RCPT TO address matches REGEX (the result applies to the whole message, as in PowerMTA)" },

    /* ---- <domain>: traffic shaping (issue 4; docs/shaping.md) ---- */
    { .name = "max-msg-rate", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(msg_rate, 40),
      .apply = cfg_apply_rate, .syntax = "N/[M]{s|m|h|d} or unlimited", .def = "unlimited",
      .help = "recipients attempted per interval per queue, spread evenly (600/h = one every 6 s) unless max-msg-rate-burst allows more" },
    { .name = "max-connect-rate", .synonyms = "max-conn-rate", .scopes = CS_DOMAIN, .type = CT_SPECIAL,
      D(connect_rate, 41), .apply = cfg_apply_rate, .syntax = "N/[M]{s|m|h|d} or unlimited",
      .def = "unlimited", .help = "new connections per interval per queue, spread evenly" },
    { .name = "max-data-volume-rate", .scopes = CS_DOMAIN, .type = CT_SPECIAL, D(volume_rate, 42),
      .apply = cfg_apply_volume_rate, .syntax = "SIZE/[M]{s|m|h|d} or unlimited", .def = "unlimited",
      .help = "message bytes sent per interval per queue (e.g. 100M/h)" },
    { .name = "max-msg-rate-burst", .scopes = CS_DOMAIN, .type = CT_U32, D(msg_burst, 43),
      .min = 1, .max = 1000000, .def = "1",
      .help = "recipients that may go at once above the even spacing of max-msg-rate (Courser's)" },
    { .name = "max-connect-rate-burst", .scopes = CS_DOMAIN, .type = CT_U32, D(connect_burst, 44),
      .min = 1, .max = 1000000, .def = "1",
      .help = "connections that may open at once above the even spacing of max-connect-rate (Courser's)" },
    { .name = "backoff-max-smtp-out", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_U32,
      D(backoff_max_smtp_out, 45), .min = 1, .max = 100000,
      .def = "(half of max-smtp-out)",
      .help = "max-smtp-out in backoff mode; never more than the connections open when backoff began" },
    { .name = "backoff-max-msg-rate", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(backoff_msg_rate, 46), .apply = cfg_apply_rate, .syntax = "N/[M]{s|m|h|d} or unlimited",
      .def = "(half of max-msg-rate, or of the rate of the last minute)",
      .help = "max-msg-rate in backoff mode" },
    { .name = "backoff-max-connect-rate", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(backoff_connect_rate, 47), .apply = cfg_apply_rate, .syntax = "N/[M]{s|m|h|d} or unlimited",
      .def = "(half of max-connect-rate)", .help = "max-connect-rate in backoff mode" },
    { .name = "backoff-max-data-volume-rate", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT,
      .type = CT_SPECIAL, D(backoff_volume_rate, 48), .apply = cfg_apply_volume_rate,
      .syntax = "SIZE/[M]{s|m|h|d} or unlimited", .def = "(max-data-volume-rate)",
      .help = "max-data-volume-rate in backoff mode" },
    { .name = "backoff-retry-after", .scopes = CS_DOMAIN, .type = CT_SPECIAL, .store = CST_DOMAIN, .off = offsetof(struct cfg_domain_settings, backoff_retry_after),
      .size = sizeof(((struct cfg_domain_settings *)0)->backoff_retry_after) + sizeof(uint32_t), .bit = 49,
      .apply = cfg_apply_interval_list, .syntax = "interval list", .flags = CDF_DEF_TEXT,
      .def = "(twice retry-after)",
      .help = "retry-after while the queue is in backoff mode (PowerMTA's default is 1h; Courser's built-in ISP rules enter backoff on their own, so the default only doubles the queue's retry-after)" },
    { .name = "backoff-to-normal-after", .scopes = CS_DOMAIN, .type = CT_SPECIAL,
      D(backoff_to_normal_after, 50), .apply = cfg_apply_interval_never, .syntax = "interval or never",
      .def = "1h", .help = "return from backoff to normal mode this long after the last backoff reply (PowerMTA's default is never)" },
    { .name = "backoff-to-normal-after-delivery", .scopes = CS_DOMAIN, .type = CT_BOOL,
      D(backoff_to_normal_after_delivery, 51), .def = "no",
      .help = "return from backoff to normal mode upon the first delivery" },
    { .name = "retry-after-dns-error", .scopes = CS_DOMAIN, .type = CT_INTERVAL,
      D(retry_after_dns_error, 52), .min = 1, .max = 30 * DAY, .def = "1m",
      .help = "wait before retrying after a DNS failure (also in backoff mode)" },
    { .name = "smtp-pattern-list", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(smtp_pattern_list, 53), .apply = cfg_apply_smtp_list_ref, .syntax = "NAME", .def = "(none)",
      .help = "the `<smtp-pattern-list>` whose rules act on this queue's replies (checked before the built-in ISP rules)" },
    { .name = "use-default-smtp-patterns", .scopes = CS_DOMAIN, .type = CT_BOOL,
      D(use_default_smtp_patterns, 54), .def = "yes",
      .help = "also apply Courser's built-in ISP rules (Gmail 4.7.0/4.7.28, Microsoft 4.7.650-660/RP-00x, Yahoo TSS04/TSS09/[TS0x]: backoff)" },

    { .name = "source-ip-max-smtp-out", .scopes = CS_DOMAIN, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, D(src_max_conns, 55), .apply = cfg_apply_ip_limit, .syntax = "CIDR N",
      .def = "unlimited", .help = "connections per local source IP (smtp-source-host) within CIDR for this queue; up to 4 lines" },
    { .name = "source-ip-max-msg-rate", .scopes = CS_DOMAIN, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, D(src_msg_rate, 56), .apply = cfg_apply_ip_limit, .syntax = "CIDR RATE",
      .def = "unlimited", .help = "max-msg-rate per local source IP within CIDR for this queue" },
    { .name = "source-ip-max-connect-rate", .scopes = CS_DOMAIN, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, D(src_connect_rate, 57), .apply = cfg_apply_ip_limit, .syntax = "CIDR RATE",
      .def = "unlimited", .help = "max-connect-rate per local source IP within CIDR for this queue" },

    /* ---- global: traffic shaping ---- */
    { .name = "smtp-pattern-list", .scopes = CS_GLOBAL, .type = CT_BLOCK, .syntax = "NAME",
      .help = "named reply patterns with actions (`reply /REGEX/ ACTIONS`), used by `<domain>` blocks" },
    { .name = "hold-domain", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_hold_domain, .syntax = "domain pattern", .def = "(none)",
      .help = "start with the queues of this domain paused (mail is accepted and kept); `mtactl resume queue` releases them" },
    { .name = "mx-connection-limit", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_conn_limit, .syntax = "MX-PATTERN N", .def = "unlimited",
      .help = "connections from one local source IP to the mail exchangers matching MX-PATTERN (`*.example.com`), all queues together; the first matching line of these and ip-connection-limit applies" },
    { .name = "ip-connection-limit", .scopes = CS_GLOBAL, .flags = CDF_REPEAT | CDF_DEF_TEXT,
      .type = CT_SPECIAL, .apply = cfg_apply_conn_limit, .syntax = "CIDR N", .def = "unlimited",
      .help = "connections from one local source IP to the mail exchanger addresses within CIDR, all queues together" },

    /* ---- <virtual-mta>: warm-up (issue 4) ---- */
    { .name = "warmup-schedule", .scopes = CS_VMTA, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_warmup_schedule, .syntax = "count list (day 1, day 2, ...)", .def = "(none: warm)",
      .help = "daily caps of recipients sent through this virtual MTA while its IPs warm up, one step per day (UTC); after the last step no cap; what exceeds today's cap waits for tomorrow" },
    { .name = "warmup-start", .scopes = CS_VMTA, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_warmup_start, .syntax = "YYYY-MM-DD", .def = "(the first day mail goes out)",
      .help = "day 1 of warmup-schedule (UTC); without it, the first day qmgr sends through the virtual MTA (kept in the spool's state/warmup)" },
    { .name = "warmup-schedule", .scopes = CS_DOMAIN, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      D(warmup_plan, 58), .apply = cfg_apply_warmup_plan, .syntax = "count list, or none", .def = "(none)",
      .help = "in a `<domain>` block: daily caps of recipients per queue (this domain through one virtual MTA), one step per day from the vmta's warmup-start or the queue's first day; on top of the vmta's own warmup-schedule; `none` lifts a wider block's" },
    { .name = "warmup-overflow-virtual-mta", .scopes = CS_VMTA, .flags = CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_warmup_overflow, .syntax = "NAME", .def = "(none: wait for tomorrow)",
      .help = "when today's warmup-schedule cap is used up, queued recipients move to this (warm) virtual MTA instead of waiting for the next day, while it has room under its own cap" },

    /* ---- <smtp-pattern-list> ---- */
    { .name = "reply", .scopes = CS_SMTPPAT, .flags = CDF_REPEAT | CDF_DEF_TEXT, .type = CT_SPECIAL,
      .apply = cfg_apply_smtp_reply, .syntax = "/REGEX/ ACTION[,ACTION...]", .def = "(none)",
      .help = "when a reply matches (case-insensitive): mode=backoff, mode=normal, backoff-to-normal-after=T, bounce-queue, bounce-rcpt, defer-queue, disable-source-ip, reenable-after=T, skip-mx" },

    /* ---- <acct-file> ---- */
    { .name = "records", .scopes = CS_ACCT, .type = CT_SPECIAL, A(records), .apply = cfg_apply_records,
      .syntax = "record type list", .def = "d,b",
      .help = "record types written: d b t tq r f rb rs (or delivery, bounce, transient, transient-queue, receipt, feedback-loop, remote-bounce, remote-status)" },
    { .name = "record-fields", .scopes = CS_ACCT, .type = CT_SPECIAL, A(fields), .apply = cfg_apply_fields,
      .syntax = "[TYPES] field list", .def = "*",
      .help = "CSV columns, `*` = all; one list for all record types (a TYPES prefix is checked, then ignored)" },
    { .name = "max-size", .scopes = CS_ACCT, .type = CT_SIZE, A(max_size), .min = 0,
      .max = 1ULL << 40, .def = "250M", .help = "rotate the file when it grows past this; 0 = never" },

    /* ---- PowerMTA directives Courser does not implement yet ---- */
    NOTYET("max-errors-per-connection", "drop a connection after N recipient errors"),
    NOTYET("backoff-notify", "e-mail on backoff"),
    NOTYET("use-starttls", "opportunistic outbound TLS"),
    NOTYET("require-starttls", "mandatory outbound TLS"),
    NOTYET("allow-starttls", "offer STARTTLS to clients"),
    NOTYET("queue-priority", "priority between queues"),
    NOTYET("total-max-smtp-out", "connections of all queues together"),
    NOTYET("total-max-smtp-in", "inbound connections together"),
    NOTYET("retry-upon-new-mail", "new mail wakes a queue in retry"),
    NOTYET("bounce-upon-no-mx", "bounce when the domain has no MX"),
    NOTYET("bounce-upon-5xx-greeting", "bounce upon a 5xx greeting"),
    NOTYET("bounce-upon-transfer-failure", "bounce when the transfer fails"),
    NOTYET("type", "queue type: smtp, pipe, file, discard"),
    NOTYET("default-smtp-port", "port used for MX hosts"),
    NOTYET("smtp-out-rampup-interval", "gap between new connections"),
    NOTYET("reroute-to-virtual-mta", "send a queue's mail via another virtual MTA"),
    NOTYET("dsn-format", "bounce format"),
    NOTYET("auth-username", "outbound SMTP AUTH user"),
    NOTYET("auth-password", "outbound SMTP AUTH password"),
    NOTYET("sync-msg-update", "fsync every spool update"),
    NOTYET("run-as-root", "run the daemon as root"),
    NOTYET("http-mgmt-port", "web monitor port"),
    NOTYET("http-access", "web monitor access list"),
    NOTYET("host-id", "id for unique Message-IDs"),
    NOTYET("relay-address", "accept mail for this address from anyone"),
    NOTYET("smtp-await-slot", "wait for a free inbound slot"),
    NOTYET("require-auth", "require SMTP AUTH"),
    NOTYET("allow-auth", "offer SMTP AUTH"),
    NOTYET("add-message-id-header", "add a Message-ID header"),
    NOTYET("add-date-header", "add a Date header"),
    NOTYET("hide-message-source", "omit the client from Received:"),
    NOTYET("remove-header", "strip a header"),
    NOTYET("max-message-hops", "loop detection by Received: count"),
    NOTYET("log-connections", "log connections"),
    NOTYET("log-commands", "log SMTP commands"),
    NOTYET("log-data", "log message data"),
    NOTYET("log-rotate", "number of log files kept"),
    NOTYET("immediate-tls", "SMTPS on a listener"),
    NOTYET("move-interval", "rotate accounting files by time"),
    NOTYET("move-to", "folder for rotated accounting files"),
    NOTYET("delete-after", "delete rotated accounting files"),
    NOTYET("world-readable", "accounting file mode"),
    NOTYET("priority", "spool priority"),
    NOTYET("min-free-space", "spool free-space floor"),
    NOTYET("deliver-only", "drain a foreign spool"),
    NOTYET_BLOCK("bounce-category-patterns", "bounce category regexes"),
    NOTYET("deliver-email", "deprecated by PowerMTA: use deliver-matched-email/deliver-unmatched-email"),
    NOTYET_BLOCK("smtp-user", "SMTP AUTH users"),
    NOTYET_BLOCK("source-group", "limits shared by sources"),
    NOTYET_BLOCK("address-list", "named address lists for suppression-lists (inside a processor: supported)"),
    NOTYET_BLOCK("email-patterns", "DSN/FBL body patterns (body-pattern-file)"),
    NOTYET_BLOCK("rewrite-list", "address rewriting"),
    NOTYET_BLOCK("domain-key-list", "named DKIM key sets"),
    NOTYET_BLOCK("dns", "DNS pre-caching"),
    NOTYET_BLOCK("aliases", "local aliases"),
};
const size_t cfg_table_len = sizeof(cfg_table) / sizeof(cfg_table[0]);

/* name_is - whether name is d's name or one of its synonyms. */
static int name_is(const struct cfg_directive *d, const char *name)
{
    const char *s = d->synonyms, *comma;
    size_t n = strlen(name);

    if (strcasecmp(d->name, name) == 0)
        return 1;
    while (s != NULL && *s != '\0') {
        comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && strncasecmp(s, name, n) == 0)
            return 1;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

const struct cfg_directive *cfg_table_lookup(const char *name, int is_block, unsigned scope)
{
    const struct cfg_directive *any = NULL;
    size_t i;

    for (i = 0; i < cfg_table_len; i++) {
        const struct cfg_directive *d = &cfg_table[i];
        if ((d->type == CT_BLOCK) != (is_block != 0) || !name_is(d, name))
            continue;
        if ((d->scopes & scope) != 0)
            return d;
        if (any == NULL)
            any = d;
    }
    return any;
}

const char *cfg_scope_name(unsigned scope)
{
    switch (scope) {
    case CS_GLOBAL:   return "global scope";
    case CS_SOURCE:   return "<source>";
    case CS_DOMAIN:   return "<domain>";
    case CS_VMTA:     return "<virtual-mta>";
    case CS_POOL:     return "<virtual-mta-pool>";
    case CS_ACCT:     return "<acct-file>";
    case CS_LISTENER: return "<smtp-listener>";
    case CS_SPOOL:    return "<spool>";
    case CS_PATTERN:  return "<pattern-list>";
    case CS_ROLLUP:   return "<mx-rollup-list>";
    case CS_SMTPPAT:  return "<smtp-pattern-list>";
    case CS_BPROC:    return "<bounce-processor>/<feedback-loop-processor>";
    case CS_ADDRLIST: return "<address-list>";
    default:          return "?";
    }
}

