/*
 * client - mtactl's one request to master's control socket: connect,
 * send CTL_REQUEST, wait (bounded) for the CTL_REPLY.  Blocking I/O with
 * poll(2) deadlines; the framing and codecs are lib/ipc and lib/proto.
 */
#ifndef COURSER_MTACTL_CLIENT_H
#define COURSER_MTACTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define CLIENT_TIMEOUT_MS 10000

/* Send argv to the socket at path and wait for the reply.  Returns 0 with
 * *status and *text (malloc'd, caller frees), or -1 with a one-line
 * reason in err. */
int client_request(const char *path, int argc, char *const argv[], int timeout_ms,
                   uint32_t *status, char **text, char *err, size_t errlen);

/* run-dir of conf read without the full parser (rundir.c): for talking
 * to running daemons when conf does not load.  0 and out, or -1. */
int rundir_fallback(const char *conf, char *out, size_t outlen);

#endif
