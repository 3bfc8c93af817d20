/*
 * dkim_client - smtp-out's connection to dkimsign on its libuv loop:
 * asynchronous sign requests with request ids, a reply callback per
 * request, reconnection with backoff (100 ms doubling to 2 s), and a
 * timeout per request.
 *
 * Every accepted request gets exactly one callback - the signature, a
 * refusal (DKIM_ST_*), or DKIM_ST_UNAVAILABLE (not connected, connection
 * lost, timed out) - unless it is cancelled first.  Callbacks run on the
 * loop, never from inside dkim_client_sign.
 */
#ifndef COURSER_DKIM_CLIENT_H
#define COURSER_DKIM_CLIENT_H

#include <stdint.h>
#include <uv.h>
#include "buf.h"
#include "dkim_keys.h"
#include "dkim_proto.h"

#define DKIM_CLIENT_TIMEOUT_MS 30000

struct dkim_client;
/* sig is the base64 signature when status is DKIM_ST_OK, else NULL;
 * error is "" on success. */
typedef void (*dkim_client_cb)(void *arg, int status, const char *error, const char *sig);

/* A client for the socket at path (run_dir + "/dkimsign.sock"); it
 * connects on first use.  NULL if out of memory. */
struct dkim_client *dkim_client_new(uv_loop_t *loop, const char *path);
/* Ask for the signature of input with key.  Returns the request id (> 0),
 * or 0 when it could not be sent now (dkimsign unreachable, backing off;
 * input too large): no callback then - apply dkim-fail-action. */
uint32_t dkim_client_sign(struct dkim_client *c, const struct dkim_key_ref *key,
                          const struct buf *input, dkim_client_cb cb, void *arg);
/* Forget a request: its callback will not run (e.g. the delivery was
 * aborted and arg is about to be freed). */
void dkim_client_cancel(struct dkim_client *c, uint32_t reqid);
/* Requests waiting for a reply. */
size_t dkim_client_pending(const struct dkim_client *c);
/* Close: pending callbacks are dropped, not called. */
void dkim_client_free(struct dkim_client *c);

#endif
