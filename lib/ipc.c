/*
 * ipc - frame header encoding and the strict field readers.
 * Integers are big-endian; strings are u32 length + bytes.  A reader that
 * fails once stays failed, so decoders check ipc_reader_end() once at the
 * end instead of after every field.
 */
#include <stdlib.h>
#include <string.h>
#include "ipc.h"

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int ipc_begin(struct buf *out, uint16_t type, uint32_t reqid, size_t *start)
{
    unsigned char h[IPC_HDR_LEN];

    put_be32(h, 0);
    h[4] = (unsigned char)(IPC_VERSION >> 8);
    h[5] = (unsigned char)IPC_VERSION;
    h[6] = (unsigned char)(type >> 8);
    h[7] = (unsigned char)type;
    put_be32(h + 8, reqid);
    *start = out->len;
    return buf_append(out, h, sizeof(h));
}

int ipc_put_u32(struct buf *out, uint32_t v)
{
    unsigned char p[4];

    put_be32(p, v);
    return buf_append(out, p, 4);
}

int ipc_put_u64(struct buf *out, uint64_t v)
{
    if (ipc_put_u32(out, (uint32_t)(v >> 32)) < 0)
        return -1;
    return ipc_put_u32(out, (uint32_t)v);
}

int ipc_put_strn(struct buf *out, const char *s, size_t n)
{
    if (n > IPC_MAX_PAYLOAD)
        return -1;
    if (ipc_put_u32(out, (uint32_t)n) < 0)
        return -1;
    return buf_append(out, s ? s : "", n);
}

int ipc_put_str(struct buf *out, const char *s)
{
    return ipc_put_strn(out, s ? s : "", s ? strlen(s) : 0);
}

int ipc_end(struct buf *out, size_t start)
{
    size_t plen;

    if (out->len < start + IPC_HDR_LEN)
        return -1;
    plen = out->len - start - IPC_HDR_LEN;
    if (plen > IPC_MAX_PAYLOAD) {
        out->len = start;   /* drop the oversized frame */
        return -1;
    }
    put_be32((unsigned char *)out->data + start, (uint32_t)plen);
    return 0;
}

int ipc_frame_parse(const void *data, size_t len, struct ipc_frame *f, size_t *used)
{
    const unsigned char *p = data;
    uint32_t plen;
    uint16_t version;

    if (len < IPC_HDR_LEN)
        return 0;
    plen = get_be32(p);
    version = (uint16_t)((p[4] << 8) | p[5]);
    if (version != IPC_VERSION || plen > IPC_MAX_PAYLOAD)
        return -1;
    if (len - IPC_HDR_LEN < plen)
        return 0;
    f->type = (uint16_t)((p[6] << 8) | p[7]);
    f->reqid = get_be32(p + 8);
    f->payload = p + IPC_HDR_LEN;
    f->len = plen;
    *used = IPC_HDR_LEN + plen;
    return 1;
}

void ipc_reader_init(struct ipc_reader *r, const struct ipc_frame *f)
{
    r->p = f->payload;
    r->len = f->len;
    r->off = 0;
    r->failed = 0;
}

uint32_t ipc_get_u32(struct ipc_reader *r)
{
    uint32_t v;

    if (r->failed || r->len - r->off < 4) {
        r->failed = 1;
        return 0;
    }
    v = get_be32(r->p + r->off);
    r->off += 4;
    return v;
}

uint64_t ipc_get_u64(struct ipc_reader *r)
{
    uint64_t hi = ipc_get_u32(r);

    return (hi << 32) | ipc_get_u32(r);
}

/* Validate a string field and return a pointer to its bytes, or NULL. */
static const char *get_str_raw(struct ipc_reader *r, size_t max, size_t *n, int allow_lines)
{
    uint32_t len = ipc_get_u32(r);
    const char *s;
    size_t i;

    if (r->failed || len > max || r->len - r->off < len) {
        r->failed = 1;
        return NULL;
    }
    s = (const char *)r->p + r->off;
    for (i = 0; i < len; i++) {
        if (s[i] == '\0' || (!allow_lines && (s[i] == '\r' || s[i] == '\n'))) {
            r->failed = 1;
            return NULL;
        }
    }
    r->off += len;
    *n = len;
    return s;
}

void ipc_get_str(struct ipc_reader *r, char *dst, size_t dstlen)
{
    size_t n = 0;
    const char *s = get_str_raw(r, dstlen ? dstlen - 1 : 0, &n, 0);

    if (dstlen == 0)
        return;
    if (s == NULL) {
        dst[0] = '\0';
        return;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static char *get_dup(struct ipc_reader *r, size_t max, int allow_lines)
{
    size_t n = 0;
    const char *s = get_str_raw(r, max, &n, allow_lines);
    char *d;

    if (s == NULL)
        return NULL;
    d = malloc(n + 1);
    if (d == NULL) {
        r->failed = 1;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ipc_get_strdup(struct ipc_reader *r, size_t max)
{
    return get_dup(r, max, 0);
}

char *ipc_get_textdup(struct ipc_reader *r, size_t max)
{
    return get_dup(r, max, 1);
}

uint32_t ipc_get_count(struct ipc_reader *r, uint32_t max)
{
    uint32_t n = ipc_get_u32(r);

    if (n > max) {
        r->failed = 1;
        return 0;
    }
    return n;
}

int ipc_reader_end(const struct ipc_reader *r)
{
    return (!r->failed && r->off == r->len) ? 0 : -1;
}
