/*
 * outbox - an at-least-once stream of frames to one daemon's UNIX socket.
 *
 * The owner pushes frames (built by an encoder that is given the frame's
 * sequence number as reqid); the outbox keeps each one in a bounded ring
 * until the peer acknowledges it with a frame of ack_type carrying the
 * same reqid, reconnects with backoff (100 ms doubling to 2 s) when the
 * connection fails, and resends everything unacknowledged, in order,
 * after a reconnect (the peer may see a frame twice).  With ack_type 0 the
 * peer sends no acknowledgements: a frame is done once it was handed to a
 * live connection (used for MSG_NEW notices, which qmgr de-duplicates and
 * backs by its spool scans).
 * Past max_pending unacknowledged frames the oldest is dropped, with a
 * warning: memory stays bounded when the peer is down for long.
 * on_done(tag, acked, arg) runs once per pushed frame: acked 1 when the
 * peer took it, 0 when it was dropped or the outbox was freed.
 * Used by qmgr (BOUNCE to bounced) and bounced (ACCT to acctd, MSG_NEW to
 * qmgr); qmgr's older acct_client.c predates it.
 */
#ifndef COURSER_OUTBOX_H
#define COURSER_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "buf.h"

struct outbox;
typedef int (*outbox_encode_fn)(struct buf *out, uint32_t seq, const void *arg);
typedef void (*outbox_done_fn)(void *tag, int acked, void *arg);

struct outbox *outbox_new(uv_loop_t *loop, const char *socket_path, uint32_t role,
                          uint16_t ack_type, size_t max_pending, const char *peer_name);
void outbox_on_done(struct outbox *ob, outbox_done_fn fn, void *arg);
/* Encode one frame and queue it.  0, or -1 when it cannot be encoded or
 * memory is short (nothing queued, on_done not called). */
int outbox_push(struct outbox *ob, outbox_encode_fn enc, const void *arg, void *tag);
size_t outbox_pending(const struct outbox *ob);
/* Number the next pushed frame seq (then seq+1, ...); only while nothing
 * is held, since acknowledgements are matched by offset in the ring.
 * qmgr numbers BOUNCEs by their journal record ids, so an ack that
 * bounced sends for a frame of a qmgr that has since died and restarted
 * names the same record in the new one, never a different frame. */
void outbox_set_seq(struct outbox *ob, uint32_t seq);
/* Call fn for every frame still held, oldest first, with its tag and
 * bytes (qmgr writes them into its journal at compaction). */
void outbox_each(const struct outbox *ob,
                 void (*fn)(void *tag, const void *bytes, size_t len, void *arg), void *arg);
int outbox_connected(const struct outbox *ob);
/* Close the connection and free everything (on_done(tag, 0) for each
 * frame left); the timer handle is closed asynchronously. */
void outbox_free(struct outbox *ob);

#endif
