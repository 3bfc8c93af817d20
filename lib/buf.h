/*
 * buf - one bounded, growable byte buffer for every protocol and file path.
 *
 * A buffer never grows past its max; an append that would is refused with
 * -1 (the caller answers "message too big", drops the frame, ...).  The data
 * is always followed by a NUL byte that is not counted in len, so text
 * buffers can be handed to string functions safely.
 */
#ifndef COURSER_BUF_H
#define COURSER_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
    char *data;     /* NULL until the first append */
    size_t len;     /* bytes used */
    size_t cap;     /* bytes allocated (excluding the trailing NUL) */
    size_t max;     /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);                  /* len = 0, keep memory */
int buf_reserve(struct buf *b, size_t extra);   /* room for extra more bytes */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_consume(struct buf *b, size_t n);      /* drop n bytes from the front */
/* Hand the storage to the caller (who frees it); b becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
