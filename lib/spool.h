/*
 * spool - the on-disk format of a queued message, and its durable write.
 *
 * Layout under the spool directory:
 *   tmp/ID          being written (never read by anyone but its writer)
 *   msg/XY/ID       a complete, durable message; XY = id digits 11-12 (the
 *                   low byte of its microsecond time), so the 256 fan-out
 *                   directories fill evenly
 *   inbound/ID      a message for a bounce-domain, for bounced (same
 *                   format; bounced removes it once processed)
 *
 * A spool file is written once, by smtpd, and never modified:
 *   "CRSPOOL1"                          8-byte magic + version
 *   u32 envelope length, envelope       fields in the ipc_put_* encoding
 *   message bytes                       exactly as received (dot-unstuffed,
 *                                       CRLF line ends)
 *   u64 message length, "CRSPEND1"      trailer: a truncated file is
 *                                       detected and refused
 * spool_commit makes the file durable before returning: write, fdatasync,
 * rename into msg/XY/, fsync of the directory.  This is what smtpd waits for
 * before it answers 250 (DESIGN.md §3).
 */
#ifndef COURSER_SPOOL_H
#define COURSER_SPOOL_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "queueid.h"

#define SPOOL_MAX_RCPTS 100000

enum spool_ret { SPOOL_RET_NONE = 0, SPOOL_RET_FULL = 1, SPOOL_RET_HDRS = 2 };
enum spool_notify {             /* DSN NOTIFY bits (RFC 3461) */
    SPOOL_NOTIFY_NEVER = 1, SPOOL_NOTIFY_SUCCESS = 2,
    SPOOL_NOTIFY_FAILURE = 4, SPOOL_NOTIFY_DELAY = 8
};

struct spool_rcpt {
    char *addr;
    char *orcpt;            /* DSN ORCPT value, or NULL */
    uint32_t notify;        /* enum spool_notify bits, 0 = not given */
};

struct spool_envelope {
    char queue_id[QUEUE_ID_SIZE];
    uint64_t time_queued;   /* seconds since the epoch */
    char *client_ip;
    char *client_helo;
    char *listener;         /* "ip:port" the message arrived on */
    char *source;           /* name of the <source> block that matched */
    char *vmta;             /* virtual-mta chosen at injection, or NULL */
    char *job_id;           /* X-Job, or NULL */
    char *mail_from;        /* "" = null sender */
    char *envid;            /* DSN ENVID, or NULL */
    uint32_t ret;           /* enum spool_ret */
    uint32_t body_8bit;
    uint32_t nrcpt;
    struct spool_rcpt *rcpts;
};

void spool_envelope_free(struct spool_envelope *e);

/* Path of a committed message: DIR/msg/XY/ID.  -1 if it does not fit. */
int spool_msg_path(const char *spool_dir, const char *qid, char *out, size_t outlen);
/* Create tmp/ and msg/00..ff under spool_dir (mode 0750).  -1 with errno. */
int spool_init_dirs(const char *spool_dir);

/* Write envelope + message to tmp/, make it durable, move it into msg/.
 * Blocking: call it from a thread-pool worker.  Returns 0, or -1 with
 * errno set and nothing left behind. */
int spool_commit(const char *spool_dir, const struct spool_envelope *e,
                 const void *msg, size_t msglen);

/* Group commit: spool_batch_add writes each file unsynced to tmp/;
 * spool_batch_commit makes them all durable and puts them in msg/ (two
 * syncfs calls for the lot); on failure (-1, errno) none is left behind.
 * spool_batch_free drops what was not committed.  Blocking; a batch holds
 * at most SPOOL_BATCH_MAX files. */
#define SPOOL_BATCH_MAX 4096
struct spool_batch {
    struct { char tmp[PATH_MAX], final[PATH_MAX]; } *f;
    size_t n, cap;
};
void spool_batch_init(struct spool_batch *b);
int spool_batch_add(struct spool_batch *b, const char *spool_dir, const struct spool_envelope *e,
                    const void *msg, size_t msglen);
int spool_batch_commit(struct spool_batch *b, const char *spool_dir);
void spool_batch_free(struct spool_batch *b);

/* The same durable write, into inbound/ (mail for bounced, issue 6). */
#define SPOOL_INBOUND_DIR "inbound"
int spool_commit_inbound(const char *spool_dir, const struct spool_envelope *e,
                         const void *msg, size_t msglen);
int spool_inbound_path(const char *spool_dir, const char *qid, char *out, size_t outlen);

/* Read and validate the envelope of a committed file.  On success fills *e
 * and the message's offset and length in the file and returns 0; returns
 * -1 with a reason in err for a missing, truncated or corrupt file. */
int spool_read(const char *path, struct spool_envelope *e,
               uint64_t *msg_off, uint64_t *msg_len, char *err, size_t errlen);

/* Open a committed file for reading the message: returns an fd (caller
 * closes) positioned anywhere; the message is at *msg_off, *msg_len bytes.
 * -1 with err on failure.  Used by smtp-out (sendfile/pread). */
int spool_open_message(const char *path, uint64_t *msg_off, uint64_t *msg_len,
                       char *err, size_t errlen);

/* Whether spool_commit syncs (sync-msg-create; default on).  Turning it off
 * trades durability for speed, as PowerMTA's sample config does. */
void spool_set_sync(int on);

/* Remove a finished message.  Returns 0 or -1 with errno (ENOENT is 0). */
int spool_remove(const char *spool_dir, const char *qid);

/* Call fn for every committed message id in the spool (order unspecified).
 * Stray tmp/ files older than a minute (a crash before 250) are removed.
 * Returns the number found, or -1 with errno. */
int spool_scan(const char *spool_dir, void (*fn)(const char *qid, void *arg), void *arg);

#endif
