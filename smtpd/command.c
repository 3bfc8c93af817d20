/*
 * command - smtpd's command line reader and argument parsers (see
 * command.h).  The reader is a byte-at-a-time state machine (the shape of
 * nginx's ngx_mail_parse.c) so a line split over any number of reads is
 * assembled without re-scanning; everything else parses one NUL-terminated
 * line with explicit bounds.  Nothing here uses sscanf.
 *
 * Failures are reported as enum values that map one-to-one onto replies;
 * the caller (verbs.c) owns the reply texts.
 */
#include <string.h>
#include <strings.h>
#include "command.h"
#include "parse.h"
#include "spool.h"

void cmd_reader_init(struct cmd_reader *rd)
{
    memset(rd, 0, sizeof(*rd));
}

/* cmd_line_done - report the line that just ended and reset for the next. */
static enum cmd_read_result cmd_line_done(struct cmd_reader *rd, int bare_lf)
{
    enum cmd_read_result r = CMD_LINE;

    if (rd->too_long)
        r = CMD_TOO_LONG;
    else if (bare_lf || rd->bad_eol)
        r = CMD_BAD_EOL;
    else if (rd->bad_char)
        r = CMD_BAD_CHAR;
    rd->line[rd->len] = '\0';
    if (r != CMD_LINE)
        rd->line[0] = '\0';
    rd->len = 0;
    rd->saw_cr = rd->too_long = rd->bad_eol = rd->bad_char = 0;
    return r;
}

/* cmd_store - keep one byte of the line, or note that it is too long. */
static void cmd_store(struct cmd_reader *rd, char c)
{
    if (rd->too_long)
        return;
    if (rd->len >= CMD_TEXT_MAX) {
        rd->too_long = 1;
        return;
    }
    if (c == '\0')
        rd->bad_char = 1;
    rd->line[rd->len++] = c;
}

enum cmd_read_result cmd_read(struct cmd_reader *rd, const char *data, size_t len,
                              size_t *used)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = data[i];

        if (c == '\n') {
            int bare = !rd->saw_cr;

            *used = i + 1;
            return cmd_line_done(rd, bare);
        }
        if (rd->saw_cr) {
            /* A CR not followed by LF is a bare CR (RFC 5321 2.3.8): the
             * CR itself is dropped, the line is refused at its end. */
            rd->bad_eol = 1;
            rd->saw_cr = 0;
        }
        if (c == '\r') {
            rd->saw_cr = 1;
            continue;
        }
        cmd_store(rd, c);
    }
    *used = len;
    return CMD_MORE;
}

static const char *const verb_names[VERB_COUNT] = {
    [VERB_UNKNOWN] = "", [VERB_HELO] = "HELO", [VERB_EHLO] = "EHLO",
    [VERB_MAIL] = "MAIL", [VERB_RCPT] = "RCPT", [VERB_DATA] = "DATA",
    [VERB_RSET] = "RSET", [VERB_NOOP] = "NOOP", [VERB_QUIT] = "QUIT",
    [VERB_VRFY] = "VRFY", [VERB_EXPN] = "EXPN", [VERB_HELP] = "HELP",
    [VERB_BDAT] = "BDAT", [VERB_STARTTLS] = "STARTTLS", [VERB_AUTH] = "AUTH",
    [VERB_ETRN] = "ETRN", [VERB_TURN] = "TURN",
};

const char *cmd_verb_name(enum cmd_verb v)
{
    return (unsigned)v < VERB_COUNT ? verb_names[v] : "";
}

enum cmd_verb cmd_verb_parse(const char *line, const char **arg)
{
    size_t n = 0;
    int v;

    while (line[n] != '\0' && line[n] != ' ')
        n++;
    *arg = line + n;
    while (**arg == ' ')
        (*arg)++;
    if (n == 0 || n > 8)
        return VERB_UNKNOWN;
    for (v = 1; v < VERB_COUNT; v++)
        if (strlen(verb_names[v]) == n && strncasecmp(line, verb_names[v], n) == 0)
            return (enum cmd_verb)v;
    return VERB_UNKNOWN;
}

int cmd_helo_ok(const char *s)
{
    size_t n;

    for (n = 0; s[n] != '\0'; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f)
            return 0;
    return n > 0 && n <= 255;
}

const char *cmd_addr_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at ? at + 1 : "";
}

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_hex_upper(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int hex_val(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

int cmd_xtext_decode(const char *src, size_t n, char *dst, size_t dstlen)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c < '!' || c > '~' || c == '=')
            return -1;
        if (c == '+') {
            if (i + 2 >= n || !is_hex_upper(src[i + 1]) || !is_hex_upper(src[i + 2]))
                return -1;
            c = (unsigned char)(hex_val(src[i + 1]) * 16 + hex_val(src[i + 2]));
            i += 2;
            /* Decoded text goes to the spool and into DSNs: no controls. */
            if (c < ' ' || c == 0x7f)
                return -1;
        }
        if (o + 1 >= dstlen)
            return -1;
        dst[o++] = (char)c;
    }
    if (dstlen == 0)
        return -1;
    dst[o] = '\0';
    return 0;
}

/* parse_local - local-part: dot-string or quoted-string (RFC 5321 4.1.2). */
static const char *parse_local(const char *p)
{
    const char *start = p;

    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\') {
                p++;
                if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
                    return NULL;
            } else if ((unsigned char)*p < ' ' || (unsigned char)*p > '~') {
                return NULL;    /* includes the NUL: unterminated quote */
            }
        }
        return p + 1;
    }
    while (is_atext((unsigned char)*p) || *p == '.')
        p++;
    return p > start ? p : NULL;
}

/* parse_domain - a domain (labels of letters, digits, '-', '_') or an
 * address literal in brackets. */
static const char *parse_domain(const char *p)
{
    const char *start = p;

    if (*p == '[') {
        for (p++; *p != ']'; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~' || *p == '[' || *p == '\\')
                return NULL;
        return p - start > 1 ? p + 1 : NULL;
    }
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
           || *p == '-' || *p == '.' || *p == '_')
        p++;
    if (p == start || start[0] == '.' || p[-1] == '.' || start[0] == '-')
        return NULL;
    return p;
}

/* parse_path - "<...>" at *pp into out.  Source routes ("@a,@b:") are
 * accepted and dropped (RFC 5321 4.1.1.3, C.).  is_rcpt allows the bare
 * "postmaster"; !is_rcpt allows the null path "<>". */
static enum cmd_arg_result parse_path(const char **pp, char *out, size_t outlen, int is_rcpt)
{
    const char *p = *pp, *start, *end;
    size_t n;

    while (*p == ' ')
        p++;            /* "MAIL FROM: <a@b>" is common enough to accept */
    if (*p != '<')
        return ARG_BAD_ADDR;
    p++;
    if (*p == '@') {
        while (*p != ':' && *p != '\0' && *p != '>' && (unsigned char)*p > ' ' && *p != '<')
            p++;
        if (*p != ':')
            return ARG_BAD_ADDR;
        p++;
    }
    start = p;
    if (*p == '>') {
        if (is_rcpt)
            return ARG_BAD_ADDR;
        end = p;
    } else {
        if ((end = parse_local(p)) == NULL)
            return ARG_BAD_ADDR;
        if (*end == '@') {
            if ((end = parse_domain(end + 1)) == NULL)
                return ARG_BAD_ADDR;
        } else if (!(is_rcpt && end - start == 10 && strncasecmp(start, "postmaster", 10) == 0)) {
            return ARG_BAD_ADDR;
        }
        if (*end != '>')
            return ARG_BAD_ADDR;
    }
    n = (size_t)(end - start);
    if (n + 2 > CMD_PATH_MAX || n + 1 > outlen)
        return ARG_BAD_ADDR;
    memcpy(out, start, n);
    out[n] = '\0';
    p = end + 1;
    if (*p != '\0' && *p != ' ')
        return ARG_BAD_ADDR;
    *pp = p;
    return ARG_OK;
}

/* next_param - the next "KEY[=VALUE]" at *pp.  Returns 1 with key/value
 * spans, 0 at the end, -1 on a malformed parameter (RFC 5321 4.1.2
 * esmtp-keyword / esmtp-value). */
static int next_param(const char **pp, const char **key, size_t *klen,
                      const char **val, size_t *vlen)
{
    const char *p = *pp;

    while (*p == ' ')
        p++;
    if (*p == '\0')
        return 0;
    *key = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
           || (*p == '-' && p > *key))
        p++;
    *klen = (size_t)(p - *key);
    if (*klen == 0)
        return -1;
    *val = NULL;
    *vlen = 0;
    if (*p == '=') {
        *val = ++p;
        while ((unsigned char)*p >= '!' && (unsigned char)*p <= '~' && *p != '=')
            p++;
        *vlen = (size_t)(p - *val);
        if (*vlen == 0)
            return -1;
    }
    if (*p != '\0' && *p != ' ')
        return -1;
    *pp = p;
    return 1;
}

static int key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && strncasecmp(k, name, klen) == 0;
}

static int val_is(const char *v, size_t vlen, const char *name)
{
    return v != NULL && strlen(name) == vlen && strncasecmp(v, name, vlen) == 0;
}

/* mail_param - apply one MAIL parameter; duplicates are syntax errors. */
static enum cmd_arg_result mail_param(struct mail_args *m, unsigned *seen, const char *k,
                                      size_t klen, const char *v, size_t vlen)
{
    char num[24];
    unsigned bit;

    if (key_is(k, klen, "SIZE")) {
        bit = 1;
        if (v == NULL || vlen >= sizeof(num))
            return ARG_SYNTAX;
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        if (parse_u64(num, 0, UINT64_MAX, &m->size) < 0)
            return ARG_SYNTAX;
        m->has_size = 1;
    } else if (key_is(k, klen, "BODY")) {
        bit = 2;
        if (val_is(v, vlen, "8BITMIME"))
            m->body_8bit = 1;
        else if (!val_is(v, vlen, "7BIT"))
            return ARG_SYNTAX;
    } else if (key_is(k, klen, "RET")) {
        bit = 4;
        if (val_is(v, vlen, "FULL"))
            m->ret = SPOOL_RET_FULL;
        else if (val_is(v, vlen, "HDRS"))
            m->ret = SPOOL_RET_HDRS;
        else
            return ARG_SYNTAX;
    } else if (key_is(k, klen, "ENVID")) {
        bit = 8;
        if (v == NULL || vlen > CMD_ENVID_MAX
            || cmd_xtext_decode(v, vlen, m->envid, sizeof(m->envid)) < 0)
            return ARG_SYNTAX;
        m->has_envid = 1;
    } else {
        return ARG_UNKNOWN_PARAM;
    }
    if (*seen & bit)
        return ARG_SYNTAX;
    *seen |= bit;
    return ARG_OK;
}

/* parse_prefix - "FROM:" / "TO:" at the start of arg, case-insensitive. */
static const char *parse_prefix(const char *arg, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncasecmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

enum cmd_arg_result cmd_parse_mail(const char *arg, struct mail_args *out)
{
    const char *p, *k, *v;
    size_t klen, vlen;
    unsigned seen = 0;
    enum cmd_arg_result r;
    int n;

    memset(out, 0, sizeof(*out));
    if ((p = parse_prefix(arg, "FROM:")) == NULL)
        return ARG_SYNTAX;
    if ((r = parse_path(&p, out->addr, sizeof(out->addr), 0)) != ARG_OK)
        return r;
    while ((n = next_param(&p, &k, &klen, &v, &vlen)) > 0)
        if ((r = mail_param(out, &seen, k, klen, v, vlen)) != ARG_OK)
            return r;
    return n < 0 ? ARG_SYNTAX : ARG_OK;
}

/* parse_notify - "NEVER" or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1). */
static int parse_notify(const char *v, size_t vlen, unsigned *out)
{
    size_t i = 0, j;
    unsigned bits = 0, b;

    if (v == NULL)
        return -1;
    while (i < vlen) {
        for (j = i; j < vlen && v[j] != ','; j++)
            ;
        if (val_is(v + i, j - i, "NEVER"))
            b = SPOOL_NOTIFY_NEVER;
        else if (val_is(v + i, j - i, "SUCCESS"))
            b = SPOOL_NOTIFY_SUCCESS;
        else if (val_is(v + i, j - i, "FAILURE"))
            b = SPOOL_NOTIFY_FAILURE;
        else if (val_is(v + i, j - i, "DELAY"))
            b = SPOOL_NOTIFY_DELAY;
        else
            return -1;
        if (bits & b)
            return -1;
        bits |= b;
        i = j + 1;
        if (j < vlen && i == vlen)
            return -1;      /* trailing comma */
    }
    if (bits == 0 || ((bits & SPOOL_NOTIFY_NEVER) && bits != SPOOL_NOTIFY_NEVER))
        return -1;
    *out = bits;
    return 0;
}

/* parse_orcpt - "addr-type;xtext" (RFC 3461 4.2); kept as "type;decoded". */
static int parse_orcpt(const char *v, size_t vlen, char *out, size_t outlen)
{
    const char *semi;
    size_t tlen, i;

    if (v == NULL || vlen > CMD_ORCPT_MAX)
        return -1;
    semi = memchr(v, ';', vlen);
    if (semi == NULL || semi == v)
        return -1;
    tlen = (size_t)(semi - v);
    for (i = 0; i < tlen; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')
              || (v[i] >= '0' && v[i] <= '9') || (v[i] == '-' && i > 0)))
            return -1;
    if (tlen + 2 > outlen)
        return -1;
    memcpy(out, v, tlen);
    out[tlen] = ';';
    if (vlen - tlen - 1 == 0)
        return -1;
    return cmd_xtext_decode(semi + 1, vlen - tlen - 1, out + tlen + 1, outlen - tlen - 1);
}

enum cmd_arg_result cmd_parse_rcpt(const char *arg, struct rcpt_args *out)
{
    const char *p, *k, *v;
    size_t klen, vlen;
    unsigned seen = 0;
    enum cmd_arg_result r;
    int n;

    memset(out, 0, sizeof(*out));
    if ((p = parse_prefix(arg, "TO:")) == NULL)
        return ARG_SYNTAX;
    if ((r = parse_path(&p, out->addr, sizeof(out->addr), 1)) != ARG_OK)
        return r;
    while ((n = next_param(&p, &k, &klen, &v, &vlen)) > 0) {
        if (key_is(k, klen, "NOTIFY")) {
            if ((seen & 1) || parse_notify(v, vlen, &out->notify) < 0)
                return ARG_SYNTAX;
            seen |= 1;
        } else if (key_is(k, klen, "ORCPT")) {
            if ((seen & 2) || parse_orcpt(v, vlen, out->orcpt, sizeof(out->orcpt)) < 0)
                return ARG_SYNTAX;
            seen |= 2;
        } else {
            return ARG_UNKNOWN_PARAM;
        }
    }
    return n < 0 ? ARG_SYNTAX : ARG_OK;
}
