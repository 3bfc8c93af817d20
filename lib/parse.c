/*
 * parse - bounded parsers for configuration and protocol values.
 *
 * Owns: parse_u64, parse_interval, parse_size, parse_bool, parse_rate,
 * parse_hostport (see parse.h).  Callers: config (every value type), the
 * daemons for protocol numbers.  Every parser accepts exactly its syntax
 * (no sign, no whitespace, no trailing text), checks overflow, and leaves
 * *out untouched on failure, so a caller can parse into the live value.
 */
#include "parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

/* digits - parse a run of decimal digits at *pp into *v; advances *pp.
 * Returns 0, or -1 on no digits or overflow. */
static int digits(const char **pp, uint64_t *v)
{
    const char *p = *pp;
    uint64_t n = 0;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *pp = p;
    *v = n;
    return 0;
}

/* mul_ok - a * b without overflow into *out. */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b != 0 && a > UINT64_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (s == NULL || digits(&s, &v) < 0 || *s != '\0')
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* unit_seconds - seconds per interval unit letter, 0 if not a unit. */
static uint64_t unit_seconds(char c)
{
    switch (tolower((unsigned char)c)) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 604800;
    default:  return 0;
    }
}

int parse_interval(const char *s, uint64_t *seconds)
{
    const char *p = s;
    uint64_t total = 0, n, unit, part;

    if (s == NULL || *s == '\0')
        return -1;
    /* A bare number is seconds, but only as the whole value: "4d30" is
     * more likely a typo than 4 days and 30 seconds. */
    if (parse_u64(s, 0, UINT64_MAX, &n) == 0) {
        *seconds = n;
        return 0;
    }
    while (*p != '\0') {
        if (digits(&p, &n) < 0)
            return -1;
        unit = unit_seconds(*p);
        if (unit == 0)
            return -1;
        p++;
        if (mul_ok(n, unit, &part) < 0 || total > UINT64_MAX - part)
            return -1;
        total += part;
    }
    *seconds = total;
    return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
    const char *p = s;
    uint64_t n, mult = 1, v;

    if (s == NULL || digits(&p, &n) < 0)
        return -1;
    switch (tolower((unsigned char)*p)) {
    case '\0': break;
    case 'b': mult = 1; p++; break;
    case 'k': mult = 1ULL << 10; p++; break;
    case 'm': mult = 1ULL << 20; p++; break;
    case 'g': mult = 1ULL << 30; p++; break;
    case 't': mult = 1ULL << 40; p++; break;
    default: return -1;
    }
    /* "20MB" is common in operators' files; allow the trailing B. */
    if (mult > 1 && (*p == 'b' || *p == 'B'))
        p++;
    if (*p != '\0' || mul_ok(n, mult, &v) < 0)
        return -1;
    *bytes = v;
    return 0;
}

int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    size_t i;

    if (s == NULL)
        return -1;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int parse_rate(const char *s, uint64_t *count, uint64_t *period)
{
    const char *p = s;
    uint64_t n, m = 1, unit, per;

    if (s == NULL)
        return -1;
    if (strcasecmp(s, "unlimited") == 0) {
        *count = 0;
        *period = 0;
        return 0;
    }
    if (digits(&p, &n) < 0 || *p++ != '/')
        return -1;
    if (isdigit((unsigned char)*p) && (digits(&p, &m) < 0 || m == 0))
        return -1;
    unit = unit_seconds(*p);
    if (unit == 0 || unit == 604800 || p[1] != '\0')
        return -1;              /* PowerMTA rates end in s, m, h or d */
    if (mul_ok(m, unit, &per) < 0)
        return -1;
    *count = n;
    *period = per;
    return 0;
}

/* host_name_ok - letters, digits, '-', '.', '_' and UTF-8 bytes (IDN). */
static int host_name_ok(const char *h, size_t len)
{
    size_t i;

    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c < 0x80)
            return 0;
    }
    return 1;
}

int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *h, *colon, *end;
    size_t hlen;
    uint64_t p;
    char tmp[256];
    unsigned char addr[16];

    if (s == NULL || hostlen == 0)
        return -1;
    if (s[0] == '[') {
        h = s + 1;
        end = strchr(h, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        hlen = (size_t)(end - h);
        colon = end + 1;
        if (hlen == 0 || hlen >= sizeof(tmp))
            return -1;
        memcpy(tmp, h, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET, tmp, addr) != 1 && inet_pton(AF_INET6, tmp, addr) != 1)
            return -1;
    } else {
        h = s;
        colon = strchr(s, ':');
        /* A second colon means an unbracketed IPv6 address: ambiguous. */
        if (colon == NULL || strchr(colon + 1, ':') != NULL)
            return -1;
        hlen = (size_t)(colon - h);
        if (!host_name_ok(h, hlen))
            return -1;
    }
    if (parse_u64(colon + 1, 1, 65535, &p) < 0 || hlen >= hostlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}
