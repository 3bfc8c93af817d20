/*
 * pipe - bounce-pipe and fbl-pipe: every classified event (bounce,
 * remote bounce, complaint) as one JSON line to an external program, for
 * list-management integration, without loss when the program is slow,
 * fails or bounced itself dies.
 *
 * Events are appended (by the job thread, write + fdatasync) to a durable
 * queue file SPOOL/pipe/NAME.jsonl.  The loop feeds the program's stdin
 * from that file, at most 64 KiB unacknowledged at a time (back-pressure:
 * a slow program makes the file grow on disk, not bounced's memory).  The
 * program acknowledges each event by writing one line (anything, e.g.
 * "ok") to its stdout once it has handled it; the acknowledged offset is
 * kept in SPOOL/pipe/NAME.offset.  When the program exits or cannot be
 * started it is restarted with backoff (1 s doubling to 60 s) and gets
 * every unacknowledged event again (at-least-once); after a bounced
 * restart delivery resumes from the saved offset.  A fully acknowledged
 * file is truncated between jobs once it passes 1 MiB.
 * The program is run directly (argv split at blanks, no shell), with its
 * stderr inherited (the log).
 */
#ifndef COURSER_BOUNCED_PIPE_H
#define COURSER_BOUNCED_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "buf.h"

struct bpipe;

/* NULL when command is empty (no pipe) or on error (logged). */
struct bpipe *bpipe_open(uv_loop_t *loop, const char *spool_dir, const char *name,
                         const char *command);
/* Job thread: append events (whole JSON lines) durably; 0 and the file's
 * new size, or -1 (logged). */
int bpipe_append(struct bpipe *p, const char *data, size_t len, uint64_t *size);
/* Loop: the file now holds size bytes of whole lines. */
void bpipe_committed(struct bpipe *p, uint64_t size);
/* Loop: no job is running (the file may be truncated). */
void bpipe_idle(struct bpipe *p);
/* Loop: unacknowledged bytes (for stop and tests). */
uint64_t bpipe_pending(const struct bpipe *p);

/* One event line.  hard < 0 leaves the field out. */
int bpipe_event(struct buf *out, const char *type, int64_t time, const char *rcpt,
                const char *category, int hard, const char *status, const char *diag,
                const char *queue_id, const char *feedback_type, const char *sender);

#endif
