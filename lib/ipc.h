/*
 * ipc - the one framing of every message between Courser processes.
 *
 * A frame is a 12-byte header followed by the payload:
 *   u32 payload length | u16 version | u16 type | u32 request id
 * all big-endian.  Payloads are sequences of typed fields written with the
 * ipc_put_* functions and read back with the strict ipc_get_* readers:
 * a short field, a string longer than its limit or containing NUL/CR/LF,
 * or trailing bytes after the last field mark the reader failed, and the
 * receiver drops the frame (and usually the connection).  No process trusts
 * another's bytes.
 */
#ifndef COURSER_IPC_H
#define COURSER_IPC_H

#include <stdint.h>
#include <stddef.h>
#include "buf.h"

#define IPC_VERSION     2   /* 2: DELIVER carries skip_mx */
#define IPC_HDR_LEN     12
#define IPC_MAX_PAYLOAD (4u * 1024 * 1024)
#define IPC_MAX_STR     (64u * 1024)

/* --- writing ---------------------------------------------------------- */
/* Start a frame at the end of out (several frames may share a buffer). */
int ipc_begin(struct buf *out, uint16_t type, uint32_t reqid, size_t *start);
int ipc_put_u32(struct buf *out, uint32_t v);
int ipc_put_u64(struct buf *out, uint64_t v);
/* A string: u32 length + bytes.  NULL is written as "". */
int ipc_put_str(struct buf *out, const char *s);
int ipc_put_strn(struct buf *out, const char *s, size_t n);
/* Finish the frame begun at start: fills in the length.  -1 if too large. */
int ipc_end(struct buf *out, size_t start);

/* --- framing ---------------------------------------------------------- */
struct ipc_frame {
    uint16_t type;
    uint32_t reqid;
    const unsigned char *payload;
    size_t len;
};
/* Look for one complete frame at data.  Returns 1 and sets *f and *used
 * when found, 0 when more bytes are needed, -1 when the header is invalid
 * (wrong version, length over IPC_MAX_PAYLOAD): close the connection. */
int ipc_frame_parse(const void *data, size_t len, struct ipc_frame *f, size_t *used);

/* --- reading ---------------------------------------------------------- */
struct ipc_reader {
    const unsigned char *p;
    size_t len;
    size_t off;
    int failed;
};
void ipc_reader_init(struct ipc_reader *r, const struct ipc_frame *f);
uint32_t ipc_get_u32(struct ipc_reader *r);
uint64_t ipc_get_u64(struct ipc_reader *r);
/* Copy a string into dst (dstlen includes the NUL).  Fails the reader if it
 * does not fit, or contains NUL, CR or LF. */
void ipc_get_str(struct ipc_reader *r, char *dst, size_t dstlen);
/* Return a malloc'd copy (max bytes at most); NULL and failed on error. */
char *ipc_get_strdup(struct ipc_reader *r, size_t max);
/* Like ipc_get_strdup but LF and CR are allowed (multi-line text such as a
 * control reply); NUL is still refused. */
char *ipc_get_textdup(struct ipc_reader *r, size_t max);
/* Bound a count read from the wire before looping over it. */
uint32_t ipc_get_count(struct ipc_reader *r, uint32_t max);
/* 0 when every read succeeded and no byte is left over, else -1. */
int ipc_reader_end(const struct ipc_reader *r);

#endif
