/*
 * ipc_conn - a framed IPC connection on a libuv loop.
 *
 * Wraps a UNIX stream: reads are accumulated in a bounded buffer and cut
 * into frames with ipc_frame_parse; each complete frame is handed to the
 * frame callback.  A malformed frame, a read error or EOF closes the
 * connection; the close callback runs once, after which the object is
 * freed by ipc_conn itself.  Writes are queued (bounded by max_pending
 * bytes; past it ipc_conn_send fails so the caller can apply backpressure).
 */
#ifndef COURSER_IPC_CONN_H
#define COURSER_IPC_CONN_H

#include <uv.h>
#include "ipc.h"

struct ipc_conn;
typedef void (*ipc_frame_cb)(struct ipc_conn *c, const struct ipc_frame *f);
typedef void (*ipc_close_cb)(struct ipc_conn *c);

struct ipc_conn *ipc_conn_new(uv_loop_t *loop, ipc_frame_cb on_frame,
                              ipc_close_cb on_close, void *data);
/* Adopt a connected socket fd (from net_connect_unix or accept). */
int ipc_conn_open_fd(struct ipc_conn *c, int fd);
/* Accept a pending connection from a listening uv_pipe_t. */
int ipc_conn_accept(struct ipc_conn *c, uv_stream_t *server);
/* Queue the frames in msg (one or more, built with ipc_begin/ipc_end) for
 * writing.  The bytes are copied.  Returns 0, or -1 when the connection is
 * closing or the pending-write limit is exceeded. */
int ipc_conn_send(struct ipc_conn *c, const struct buf *msg);
/* Build and send a frame in one call: a frame with no payload. */
int ipc_conn_send_empty(struct ipc_conn *c, uint16_t type, uint32_t reqid);
void ipc_conn_close(struct ipc_conn *c);
/* Close once every queued byte has been written (e.g. after a reply). */
void ipc_conn_close_after_flush(struct ipc_conn *c);
int ipc_conn_closing(const struct ipc_conn *c);
void *ipc_conn_data(const struct ipc_conn *c);
void ipc_conn_set_data(struct ipc_conn *c, void *data);
/* Bytes waiting to be written (for backpressure decisions). */
size_t ipc_conn_pending(const struct ipc_conn *c);
/* The peer's uid from SO_PEERCRED, or -1. */
long ipc_conn_peer_uid(const struct ipc_conn *c);

#endif
