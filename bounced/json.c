/*
 * json - escaping for the one-line JSON records bounced prints.
 */
#include <stdio.h>
#include <string.h>
#include "json.h"

/* json_utf8_len - length of a valid UTF-8 sequence at s, or 0 */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned int cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

int json_append_string(struct buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, l;
    char esc[8];

    if (buf_append(b, "\"", 1) < 0)
        return -1;
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            if (buf_append(b, esc, 2) < 0)
                return -1;
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            if (buf_append(b, esc, 6) < 0)
                return -1;
            i++;
        } else if ((l = json_utf8_len(u + i, n - i)) > 0) {
            if (buf_append(b, s + i, l) < 0)
                return -1;
            i += l;
        } else {
            /* not UTF-8: keep the byte's value as a Latin-1 code point */
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            if (buf_append(b, esc, 6) < 0)
                return -1;
            i++;
        }
    }
    return buf_append(b, "\"", 1);
}
