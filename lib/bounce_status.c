/*
 * bounce_status - enhanced status extraction and the stock DSN-code
 * category rules.  Called by qmgr for every failed recipient; pure
 * functions, no state.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "bounce_status.h"

/* Length of a valid "X.YYY.ZZZ" status at s (RFC 3463 §2), or 0. */
static size_t status_len(const char *s)
{
    size_t i = 0, n;

    if (s[0] != '2' && s[0] != '4' && s[0] != '5')
        return 0;
    if (s[1] != '.')
        return 0;
    i = 2;
    for (n = 0; isdigit((unsigned char)s[i]) && n < 3; n++)
        i++;
    if (n == 0 || s[i] != '.')
        return 0;
    i++;
    for (n = 0; isdigit((unsigned char)s[i]) && n < 3; n++)
        i++;
    if (n == 0 || isdigit((unsigned char)s[i]))
        return 0;
    return i;
}

void bounce_status_extract(int code, const char *text, char *out, size_t outlen)
{
    const char *p = text ? text : "";
    size_t n;

    while (*p == ' ')
        p++;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])
        && isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-'))
        p += 4;
    while (*p == ' ')
        p++;
    n = status_len(p);
    if (n > 0 && n < outlen && (code / 100 == 0 || p[0] - '0' == code / 100)) {
        memcpy(out, p, n);
        out[n] = '\0';
        return;
    }
    snprintf(out, outlen, "%d.0.0", code / 100 >= 2 && code / 100 <= 5 ? code / 100 : 4);
}

struct status_rule {
    const char *prefix;     /* matches "X" + prefix, X in {4,5} */
    const char *category;
};

/* PowerMTA's stock code rules plus the common community extensions. */
static const struct status_rule status_rules[] = {
    { ".1.1", "bad-mailbox" },
    { ".1.2", "bad-domain" },
    { ".1.3", "bad-mailbox" },
    { ".1.6", "inactive-mailbox" },
    { ".1.7", "invalid-sender" },
    { ".1.8", "invalid-sender" },
    { ".1.10", "bad-domain" },
    { ".2.1", "inactive-mailbox" },
    { ".2.2", "quota-issues" },
    { ".2.3", "content-related" },
    { ".3.4", "content-related" },
    { ".3.5", "bad-configuration" },
    { ".4.1", "no-answer-from-host" },
    { ".4.2", "bad-connection" },
    { ".4.3", "routing-errors" },
    { ".4.4", "routing-errors" },
    { ".4.6", "routing-errors" },
    { ".4.7", "message-expired" },
    { ".5.", "protocol-errors" },
    { ".7.1", "policy-related" },
    { ".7.7", "content-related" },
};

const char *bounce_status_category(const char *status)
{
    size_t i, plen;

    if (!status || (status[0] != '4' && status[0] != '5'))
        return "other";
    for (i = 0; i < sizeof(status_rules) / sizeof(status_rules[0]); i++) {
        plen = strlen(status_rules[i].prefix);
        if (strncmp(status + 1, status_rules[i].prefix, plen) != 0)
            continue;
        /* ".1.1" must not match ".1.10": the prefix ends a component */
        if (status_rules[i].prefix[plen - 1] != '.' && isdigit((unsigned char)status[1 + plen]))
            continue;
        return status_rules[i].category;
    }
    return "other";
}

int bounce_category_is_hard(const char *category)
{
    return strcmp(category, "bad-mailbox") == 0 || strcmp(category, "bad-domain") == 0
        || strcmp(category, "inactive-mailbox") == 0;
}

/* RFC 3463 section 3: subject.detail texts (and RFC 7505's 1.10). */
static const struct { const char *sd; const char *text; } dsn_texts[] = {
    { "0.0", "other undefined status" },
    { "1.0", "other address status" },
    { "1.1", "bad destination mailbox address" },
    { "1.2", "bad destination system address" },
    { "1.3", "bad destination mailbox address syntax" },
    { "1.4", "destination mailbox address ambiguous" },
    { "1.5", "destination address valid" },
    { "1.6", "destination mailbox has moved" },
    { "1.7", "bad sender's mailbox address syntax" },
    { "1.8", "bad sender's system address" },
    { "1.10", "recipient address has null MX" },
    { "2.0", "other or undefined mailbox status" },
    { "2.1", "mailbox disabled, not accepting messages" },
    { "2.2", "mailbox full" },
    { "2.3", "message length exceeds administrative limit" },
    { "2.4", "mailing list expansion problem" },
    { "3.0", "other or undefined mail system status" },
    { "3.1", "mail system full" },
    { "3.2", "system not accepting network messages" },
    { "3.3", "system not capable of selected features" },
    { "3.4", "message too big for system" },
    { "3.5", "system incorrectly configured" },
    { "4.0", "other or undefined network or routing status" },
    { "4.1", "no answer from host" },
    { "4.2", "bad connection" },
    { "4.3", "directory server failure" },
    { "4.4", "unable to route" },
    { "4.5", "mail system congestion" },
    { "4.6", "routing loop detected" },
    { "4.7", "delivery time expired" },
    { "5.0", "other or undefined protocol status" },
    { "5.1", "invalid command" },
    { "5.2", "syntax error" },
    { "5.3", "too many recipients" },
    { "5.4", "invalid command arguments" },
    { "5.5", "wrong protocol version" },
    { "6.0", "other or undefined media error" },
    { "6.1", "media not supported" },
    { "6.2", "conversion required and prohibited" },
    { "6.3", "conversion required but not supported" },
    { "6.4", "conversion with loss performed" },
    { "6.5", "conversion failed" },
    { "7.0", "other or undefined security status" },
    { "7.1", "delivery not authorized, message refused" },
    { "7.2", "mailing list expansion prohibited" },
    { "7.3", "security conversion required but not possible" },
    { "7.4", "security features not supported" },
    { "7.5", "cryptographic failure" },
    { "7.6", "cryptographic algorithm not supported" },
    { "7.7", "message integrity failure" },
};

/* bounce_status_text - RFC 3463 text for "X.Y.Z" ("success" for 2.0.0). */
const char *bounce_status_text(const char *status)
{
    size_t i;

    if (status == NULL || status[0] == '\0' || status[1] != '.')
        return "other undefined status";
    if (strcmp(status, "2.0.0") == 0)
        return "success";
    for (i = 0; i < sizeof(dsn_texts) / sizeof(dsn_texts[0]); i++)
        if (strcmp(status + 2, dsn_texts[i].sd) == 0)
            return dsn_texts[i].text;
    return status[0] == '2' ? "success" : status[0] == '4' ? "transient failure"
        : "permanent failure";
}
