/*
 * smtp_patterns - PowerMTA's <smtp-pattern-list NAME>: rules
 * `reply /REGEX/ ACTION[,ACTION...]` matched (PCRE2, case-insensitive
 * unless the regex says (?-i)) against the replies a queue receives, and
 * Courser's built-in ISP list (Gmail, Microsoft, Yahoo) that lowers the
 * pressure on a queue when the ISP says it is being sent too much.
 *
 * The config parser (lib/config*.c) builds one list per block and keeps it
 * in struct config; qmgr matches results against the queue's list, then
 * the built-in list (use-default-smtp-patterns).  The first matching rule
 * wins (PowerMTA: "first conflicting match wins").
 *
 * DIAGNOSTICS: smtp_patterns_add fails with a reason in why: not /regex/,
 * a PCRE2 compile error with its offset, an unknown or conflicting action,
 * skip-mx with bounce-queue (PowerMTA forbids the pair).
 */
#ifndef COURSER_SMTP_PATTERNS_H
#define COURSER_SMTP_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

enum smtp_pattern_action {
    SPA_BACKOFF = 1 << 0,           /* mode=backoff */
    SPA_NORMAL = 1 << 1,            /* mode=normal */
    SPA_BOUNCE_QUEUE = 1 << 2,      /* bounce every recipient of the queue now */
    SPA_BOUNCE_RCPT = 1 << 3,       /* a 4xx to RCPT bounces that recipient now */
    SPA_DEFER_QUEUE = 1 << 4,       /* the queue waits its retry interval as a whole */
    SPA_DISABLE_SOURCE_IP = 1 << 5, /* stop using the source IP for this queue */
    SPA_SKIP_MX = 1 << 6,           /* try the next MX host now, keep the mail queued */
};

#define SMTP_PATTERNS_MAX 4096      /* rules in one list */
#define SMTP_PATTERN_NAME_MAX 256
/* The name of the built-in list in `show settings` and in reasons. */
#define SMTP_PATTERNS_BUILTIN_NAME "{courser-isp-defaults}"

struct smtp_pattern_rule {
    void *re;                       /* pcre2_code * */
    char *src;                      /* the regex as written, for show/reasons */
    unsigned actions;               /* SPA_* bits */
    uint32_t to_normal_after;       /* backoff-to-normal-after=, seconds; 0 = the queue's */
    uint32_t reenable_after;        /* reenable-after=, seconds; 0 = the queue's */
};

struct smtp_pattern_list {
    char name[SMTP_PATTERN_NAME_MAX];
    struct smtp_pattern_rule *rules;
    size_t n, cap;
    void *md;                       /* pcre2_match_data *, shared by matches */
};

struct smtp_pattern_list *smtp_patterns_new(const char *name);
void smtp_patterns_free(struct smtp_pattern_list *l);
/* Append the rule "/REGEX/ ACTIONS" (the value of a `reply` line).
 * 0, or -1 with the reason in why. */
int smtp_patterns_add(struct smtp_pattern_list *l, const char *value, char *why, size_t whylen);
/* The first rule whose regex matches reply (len bytes), or NULL. */
const struct smtp_pattern_rule *smtp_patterns_match(const struct smtp_pattern_list *l,
                                                    const char *reply, size_t len);
/* The compiled-in ISP list; built on first use, NULL only without memory. */
const struct smtp_pattern_list *smtp_patterns_builtin(void);
/* Its text, one `reply` value per line (for docs and the unit test). */
extern const char *const smtp_patterns_builtin_rules[];
/* "mode=backoff,defer-queue" for a rule's actions. */
void smtp_patterns_format_actions(const struct smtp_pattern_rule *r, char *out, size_t outlen);

#endif
