/*
 * smtp_reply - resumable SMTP reply parser and EHLO keyword extraction.
 *
 * The parser collects one line at a time into a fixed array (bounded by
 * SMTP_REPLY_LINE_MAX), and on each line end checks the code and the
 * continuation mark and appends the text to the reply.  It never looks at
 * a byte twice.  A bare LF is accepted as a line end (servers that send
 * one exist, and nothing is ambiguous about it in a reply).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "smtp_reply.h"

void smtp_reply_init(struct smtp_reply_parser *p)
{
    memset(p, 0, sizeof(*p));
}

void smtp_reply_free(struct smtp_reply_parser *p)
{
    free(p->r.lines);
    free(p->r.text);
    memset(p, 0, sizeof(*p));
}

void smtp_reply_reset(struct smtp_reply_parser *p)
{
    p->r.code = 0;
    p->r.nlines = 0;
    p->r.lines_len = 0;
    free(p->r.text);
    p->r.text = NULL;
    p->linelen = 0;
    p->done = 0;
    p->failed = 0;
}

const char *smtp_reply_line(const struct smtp_reply *r, size_t i)
{
    if (i >= r->nlines || r->lines == NULL)
        return "";
    return r->lines + r->off[i];
}

/* Append n bytes of line text plus a NUL to the reply's line store. */
static int reply_store_line(struct smtp_reply *r, const char *s, size_t n)
{
    size_t need = r->lines_len + n + 1;
    char *nl;

    if (need > r->lines_cap) {
        size_t cap = r->lines_cap ? r->lines_cap : 256;
        while (cap < need)
            cap *= 2;
        nl = realloc(r->lines, cap);
        if (nl == NULL)
            return -1;
        r->lines = nl;
        r->lines_cap = cap;
    }
    memcpy(r->lines + r->lines_len, s, n);
    r->lines[r->lines_len + n] = '\0';
    r->off[r->nlines] = r->lines_len;
    r->len[r->nlines] = n;
    r->nlines++;
    r->lines_len = need;
    return 0;
}

/* Build the joined text once the last line arrived. */
static int reply_join(struct smtp_reply *r)
{
    size_t i, total = 1, o = 0;

    for (i = 0; i < r->nlines; i++)
        total += r->len[i] + 1;
    free(r->text);
    r->text = malloc(total);
    if (r->text == NULL)
        return -1;
    for (i = 0; i < r->nlines; i++) {
        if (i > 0)
            r->text[o++] = ' ';
        memcpy(r->text + o, r->lines + r->off[i], r->len[i]);
        o += r->len[i];
    }
    r->text[o] = '\0';
    return 0;
}

/* One complete line (without its line end).  1 = reply done, 0 = more
 * lines follow, -1 = malformed. */
static int reply_line(struct smtp_reply_parser *p)
{
    char *l = p->line;
    size_t n = p->linelen, i;
    int code, last;

    if (n > 0 && l[n - 1] == '\r')
        n--;
    if (n < 3 || l[0] < '2' || l[0] > '5' || !isdigit((unsigned char)l[1])
        || !isdigit((unsigned char)l[2]))
        return -1;
    if (n > 3 && l[3] != ' ' && l[3] != '-')
        return -1;
    code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    last = (n == 3 || l[3] == ' ');
    /* RFC 5321 4.2.1: every line carries the same code; a server that
     * changes it mid-reply is not speaking SMTP. */
    if (p->r.nlines > 0 && code != p->r.code)
        return -1;
    if (p->r.nlines >= SMTP_REPLY_LINES_MAX)
        return -1;
    p->r.code = code;
    for (i = 4; i < n; i++)
        if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f)
            l[i] = '?';
    if (reply_store_line(&p->r, n > 4 ? l + 4 : "", n > 4 ? n - 4 : 0) < 0)
        return -1;
    if (!last)
        return 0;
    return reply_join(&p->r) < 0 ? -1 : 1;
}

int smtp_reply_feed(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used)
{
    size_t i;
    int r;

    *used = 0;
    if (p->failed)
        return -1;
    if (p->done)
        return 1;
    for (i = 0; i < len; i++) {
        char c = data[i];
        if (c != '\n') {
            /* room for the CR that may precede the LF */
            if (p->linelen >= SMTP_REPLY_LINE_MAX + 1) {
                p->failed = 1;
                return -1;
            }
            p->line[p->linelen++] = c;
            continue;
        }
        r = reply_line(p);
        p->linelen = 0;
        if (r < 0) {
            p->failed = 1;
            return -1;
        }
        if (r == 1) {
            p->done = 1;
            *used = i + 1;
            return 1;
        }
    }
    *used = len;
    return 0;
}

/* Copy keyword w (n bytes) upper-cased onto the list, if it is well formed
 * (RFC 5321 4.1.1.1: ALPHA / DIGIT, then also '-') and fits. */
static void ehlo_add_keyword(struct smtp_ehlo *e, const char *w, size_t n)
{
    size_t have = strlen(e->keywords), i;

    if (n == 0 || !isalnum((unsigned char)w[0]))
        return;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)w[i]) && w[i] != '-')
            return;
    if (have + (have ? 1 : 0) + n + 1 > sizeof(e->keywords))
        return;
    if (have)
        e->keywords[have++] = ',';
    for (i = 0; i < n; i++)
        e->keywords[have + i] = (char)toupper((unsigned char)w[i]);
    e->keywords[have + n] = '\0';
}

static uint64_t ehlo_size_param(const char *s)
{
    uint64_t v = 0;
    int digits = 0;

    while (*s == ' ')
        s++;
    for (; isdigit((unsigned char)*s) && digits < 19; s++, digits++)
        v = v * 10 + (uint64_t)(*s - '0');
    return (digits > 0 && (*s == '\0' || *s == ' ')) ? v : 0;
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out)
{
    static const struct { const char *name; unsigned bit; } known[] = {
        { "PIPELINING", SMTP_EXT_PIPELINING },
        { "8BITMIME", SMTP_EXT_8BITMIME },
        { "SIZE", SMTP_EXT_SIZE },
        { "DSN", SMTP_EXT_DSN },
        { "STARTTLS", SMTP_EXT_STARTTLS },
        { "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
        { "CHUNKING", SMTP_EXT_CHUNKING },
        { "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
    };
    size_t i, k, n;

    memset(out, 0, sizeof(*out));
    if (r->code != 250)
        return;
    for (i = 1; i < r->nlines; i++) {
        const char *l = smtp_reply_line(r, i);
        while (*l == ' ')
            l++;
        for (n = 0; l[n] != '\0' && l[n] != ' ' && l[n] != '='; n++)
            ;
        ehlo_add_keyword(out, l, n);
        for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            if (strlen(known[k].name) == n && strncasecmp(l, known[k].name, n) == 0) {
                out->ext |= known[k].bit;
                if (known[k].bit == SMTP_EXT_SIZE)
                    out->size_max = ehlo_size_param(l + n);
            }
        }
    }
}
