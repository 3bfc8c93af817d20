/*
 * journal - qmgr's durable per-recipient state (DESIGN.md §3): an
 * append-only file <spool>/state/journal of fixed 48-byte binary records,
 * each with a CRC-32, since the spool file itself is never rewritten.
 *
 *   "CRJRNL01"                              file header
 *   records, big-endian:
 *     0  "JR"  2  type  3  state  4  queue id (22)  26  rcpt index u32
 *     30 attempts u16  32 next attempt ms i64  40 zero u32  44 crc32(0..43)
 *   JR_OUTBOX (a frame for acctd or bounced, kept until acknowledged):
 *     0  "JR"  2  type  3  stream  4  queue id or zeros  26  length u32
 *     30 zero u16  32 record id u64  40 crc32(data)  44 crc32(0..43)
 *     48 data: the encoded frame (length bytes)
 *   JR_ACKED: 3 stream, 32 mark u64: every record of the stream with a
 *     smaller id is acknowledged (acks arrive in order; see acct_client.c)
 *
 * Why the outbox frames live here: a recipient's final state and the
 * accounting record / BOUNCE derived from it must survive a kill -9
 * together.  The client appends its JR_OUTBOX before result.c appends
 * the final JR_RCPT, so in this one append-only file the record always
 * precedes the state (a torn tail can cut the state, never keep it
 * without its record), and both share the group commit below: no extra
 * fsync.  At start-up the records after their stream's last mark are
 * handed back to the clients and resent (at-least-once).
 *
 * Records are written with write(2) as results are applied; main.c runs
 * fdatasync at most every 100 ms in the thread pool (and on a graceful
 * stop), so a crash may lose the last marks: a duplicate delivery, never
 * a loss.  Replay stops at the first short or corrupt record (a torn
 * tail) and ignores records of messages no longer in the spool; start-up
 * then rewrites the file compacted (new file, fsync, rename, fsync dir),
 * and so does qmgr whenever it grows past 64 MB + 4x its live size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "log.h"
#include "qmgr.h"

#define JOURNAL_MAGIC "CRJRNL01"
#define JOURNAL_HDR_LEN 8
#define JOURNAL_COMPACT_BASE (64ull * 1024 * 1024)
#define JOURNAL_PEND_MAX (64u * 1024 * 1024)

struct journal {
    int fd;
    char path[PATH_MAX];
    char dir[PATH_MAX];
    struct buf pend;            /* encoded, not yet written */
    uint64_t size;              /* bytes in the file */
    uint64_t live;              /* size right after the last compaction */
    uint64_t gen, synced;       /* write generations */
};

static uint32_t crc32_table[256];

static void crc32_init(void)
{
    uint32_t i, k, c;

    if (crc32_table[1])
        return;
    for (i = 0; i < 256; i++) {
        for (c = i, k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc32_table[i] = c;
    }
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    crc32_init();
    while (n--)
        c = crc32_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    while (n--) {
        p[n] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int journal_encode_outbox(const struct jrec *r, unsigned char out[JOURNAL_REC_SIZE])
{
    if ((r->state != JS_ACCT && r->state != JS_BOUNCE)
        || (r->type == JR_OUTBOX && (r->len == 0 || r->len > JOURNAL_DATA_MAX || r->data == NULL)))
        return -1;
    out[0] = 'J';
    out[1] = 'R';
    out[2] = r->type;
    out[3] = r->state;
    if (queue_id_valid(r->qid))
        memcpy(out + 4, r->qid, QUEUE_ID_LEN);
    put_be(out + 32, r->rid, 8);
    if (r->type == JR_OUTBOX) {
        put_be(out + 26, r->len, 4);
        put_be(out + 40, crc32_of(r->data, r->len), 4);
    }
    put_be(out + 44, crc32_of(out, 44), 4);
    return 0;
}

int journal_encode(const struct jrec *r, unsigned char out[JOURNAL_REC_SIZE])
{
    memset(out, 0, JOURNAL_REC_SIZE);
    if (r->type == JR_OUTBOX || r->type == JR_ACKED)
        return journal_encode_outbox(r, out);
    if (!queue_id_valid(r->qid))
        return -1;
    out[0] = 'J';
    out[1] = 'R';
    out[2] = r->type;
    out[3] = r->state;
    memcpy(out + 4, r->qid, QUEUE_ID_LEN);
    put_be(out + 26, r->index, 4);
    put_be(out + 30, r->attempts, 2);
    put_be(out + 32, (uint64_t)r->next_ms, 8);
    put_be(out + 44, crc32_of(out, 44), 4);
    return 0;
}

int journal_decode(const unsigned char in[JOURNAL_REC_SIZE], struct jrec *r)
{
    memset(r, 0, sizeof(*r));
    if (in[0] != 'J' || in[1] != 'R' || get_be(in + 44, 4) != crc32_of(in, 44))
        return -1;
    r->type = in[2];
    r->state = in[3];
    memcpy(r->qid, in + 4, QUEUE_ID_LEN);
    r->qid[QUEUE_ID_LEN] = '\0';
    r->index = (uint32_t)get_be(in + 26, 4);
    r->attempts = (uint16_t)get_be(in + 30, 2);
    r->next_ms = (int64_t)get_be(in + 32, 8);
    if (r->type == JR_OUTBOX || r->type == JR_ACKED) {
        r->rid = get_be(in + 32, 8);
        r->next_ms = 0;
        r->len = r->type == JR_OUTBOX ? r->index : 0;
        r->index = 0;
        if ((r->state != JS_ACCT && r->state != JS_BOUNCE)
            || (r->type == JR_OUTBOX && (r->len == 0 || r->len > JOURNAL_DATA_MAX)))
            return -1;
        if (r->qid[0] == '\0' || !queue_id_valid(r->qid))
            r->qid[0] = '\0';
        return 0;
    }
    if ((r->type != JR_RCPT && r->type != JR_DONE) || !queue_id_valid(r->qid))
        return -1;
    if (r->type == JR_RCPT && r->state != RS_WAIT && r->state != RS_DELIVERED
        && r->state != RS_BOUNCED)
        return -1;
    return 0;
}

int journal_put(struct buf *out, const struct jrec *r)
{
    unsigned char rec[JOURNAL_REC_SIZE];

    if (journal_encode(r, rec) < 0 || buf_append(out, rec, sizeof(rec)) < 0)
        return -1;
    if (r->type == JR_OUTBOX && buf_append(out, r->data, r->len) < 0) {
        out->len -= JOURNAL_REC_SIZE;   /* never leave a header without its data */
        return -1;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    ssize_t w;

    while (n > 0) {
        w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

struct journal *journal_open(const char *spool_dir, char *err, size_t errlen)
{
    struct journal *j = calloc(1, sizeof(*j));
    struct stat st;
    int n;

    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->fd = -1;
    buf_init(&j->pend, JOURNAL_PEND_MAX);
    n = snprintf(j->dir, sizeof(j->dir), "%s/state", spool_dir);
    if (n < 0 || (size_t)n >= sizeof(j->dir)
        || snprintf(j->path, sizeof(j->path), "%s/journal", j->dir) >= (int)sizeof(j->path)) {
        snprintf(err, errlen, "spool path too long");
        goto fail;
    }
    if (mkdir(j->dir, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", j->dir, strerror(errno));
        goto fail;
    }
    j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (j->fd < 0 || fstat(j->fd, &st) < 0) {
        snprintf(err, errlen, "open %s: %s", j->path, strerror(errno));
        goto fail;
    }
    j->size = (uint64_t)st.st_size;
    if (j->size == 0) {
        if (write_all(j->fd, JOURNAL_MAGIC, JOURNAL_HDR_LEN) < 0) {
            snprintf(err, errlen, "write %s: %s", j->path, strerror(errno));
            goto fail;
        }
        j->size = JOURNAL_HDR_LEN;
    }
    j->live = j->size;
    return j;
fail:
    journal_close(j);
    return NULL;
}

void journal_close(struct journal *j)
{
    if (j == NULL)
        return;
    if (j->fd >= 0)
        close(j->fd);
    buf_free(&j->pend);
    free(j);
}

/* A sequential reader over the journal: records may span read chunks. */
struct jreader {
    int fd;
    off_t off;                  /* file offset of b[len] */
    unsigned char *b;
    size_t cap, len, pos;
};

/* jr_need - make n bytes available at pos: 1, 0 at the end of the file
 * (fewer left), -1 on an error. */
static int jr_need(struct jreader *rd, size_t n)
{
    ssize_t k;

    if (rd->len - rd->pos >= n)
        return 1;
    memmove(rd->b, rd->b + rd->pos, rd->len - rd->pos);
    rd->len -= rd->pos;
    rd->pos = 0;
    if (n > rd->cap) {
        unsigned char *p = realloc(rd->b, n);

        if (p == NULL)
            return -1;
        rd->b = p;
        rd->cap = n;
    }
    while (rd->len < n) {
        k = pread(rd->fd, rd->b + rd->len, rd->cap - rd->len, rd->off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            return 0;
        rd->len += (size_t)k;
        rd->off += k;
    }
    return 1;
}

long journal_replay(struct journal *j, void (*fn)(const struct jrec *r, void *arg), void *arg)
{
    unsigned char hdr[JOURNAL_HDR_LEN];
    struct jreader rd;
    struct jrec r;
    long count = 0;
    off_t at;
    ssize_t n;
    int rc;

    n = pread(j->fd, hdr, sizeof(hdr), 0);
    if (n < 0)
        return -1;
    if (n != JOURNAL_HDR_LEN || memcmp(hdr, JOURNAL_MAGIC, JOURNAL_HDR_LEN) != 0) {
        msg_warn("%s: not a journal (bad header); ignoring it", j->path);
        return 0;
    }
    memset(&rd, 0, sizeof(rd));
    rd.fd = j->fd;
    rd.off = JOURNAL_HDR_LEN;
    rd.cap = JOURNAL_REC_SIZE * 4096;
    if ((rd.b = malloc(rd.cap)) == NULL)
        return -1;
    for (;;) {
        at = rd.off - (off_t)(rd.len - rd.pos);
        rc = jr_need(&rd, JOURNAL_REC_SIZE);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            if (rd.len > rd.pos)
                msg_warn("%s: torn record at the end (%zu bytes) ignored", j->path, rd.len - rd.pos);
            break;
        }
        if (journal_decode(rd.b + rd.pos, &r) < 0) {
            msg_warn("%s: corrupt record at offset %lld; ignoring the rest", j->path, (long long)at);
            break;
        }
        if (r.type == JR_OUTBOX) {
            rc = jr_need(&rd, JOURNAL_REC_SIZE + (size_t)r.len);
            if (rc < 0)
                goto fail;
            if (rc == 0) {
                msg_warn("%s: torn record at the end (%zu bytes) ignored", j->path, rd.len - rd.pos);
                break;
            }
            r.data = rd.b + rd.pos + JOURNAL_REC_SIZE;
            if (get_be(rd.b + rd.pos + 40, 4) != crc32_of(r.data, r.len)) {
                msg_warn("%s: corrupt record data at offset %lld; ignoring the rest", j->path,
                         (long long)at);
                break;
            }
            rd.pos += r.len;
        }
        rd.pos += JOURNAL_REC_SIZE;
        fn(&r, arg);
        count++;
    }
    free(rd.b);
    return count;
fail:
    free(rd.b);
    return -1;
}

int journal_append(struct journal *j, const struct jrec *r)
{
    if (journal_put(&j->pend, r) < 0) {
        if (journal_flush(j) < 0 || journal_put(&j->pend, r) < 0)
            return -1;
    }
    if (j->pend.len >= 64 * 1024)
        return journal_flush(j);
    return 0;
}

int journal_flush(struct journal *j)
{
    if (j->pend.len == 0)
        return 0;
    if (write_all(j->fd, j->pend.data, j->pend.len) < 0) {
        msg_error("write %s: %s", j->path, strerror(errno));
        return -1;
    }
    j->size += j->pend.len;
    j->gen++;
    buf_reset(&j->pend);
    return 0;
}

int journal_sync(struct journal *j)
{
    return fdatasync(j->fd);
}

int journal_dirty(const struct journal *j)
{
    return j->gen != j->synced || j->pend.len > 0;
}

uint64_t journal_written(const struct journal *j)
{
    return j->gen;
}

void journal_mark_synced(struct journal *j, uint64_t upto)
{
    if (upto > j->synced)
        j->synced = upto;
}

int journal_wants_compaction(const struct journal *j)
{
    return j->size > JOURNAL_COMPACT_BASE + 4 * j->live;
}

struct compact_ctx {
    int fd;
    struct buf out;
    int failed;
};

static int compact_out(struct compact_ctx *c)
{
    if (c->out.len >= 1024 * 1024) {
        if (write_all(c->fd, c->out.data, c->out.len) < 0)
            c->failed = 1;
        buf_reset(&c->out);
    }
    return c->failed ? -1 : 0;
}

/* compact_put - a record the outbox streams still need, into the new file. */
static int compact_put(void *ctx, const struct jrec *r)
{
    struct compact_ctx *c = ctx;

    if (c->failed)
        return -1;
    if (journal_put(&c->out, r) < 0) {
        /* the buffer is full: write it out and try once more */
        if (c->out.len == 0 || write_all(c->fd, c->out.data, c->out.len) < 0) {
            c->failed = 1;
            return -1;
        }
        buf_reset(&c->out);
        if (journal_put(&c->out, r) < 0) {
            c->failed = 1;
            return -1;
        }
    }
    return compact_out(c);
}

static void compact_msg_cb(void *val, void *arg)
{
    struct qmsg *msg = val;
    struct compact_ctx *c = arg;
    unsigned char rec[JOURNAL_REC_SIZE];
    struct jrec r;
    uint32_t i;

    for (i = 0; i < msg->env.nrcpt && !c->failed; i++) {
        const struct qrcpt *q = &msg->r[i];

        memset(&r, 0, sizeof(r));
        r.type = JR_RCPT;
        memcpy(r.qid, msg->qid, QUEUE_ID_SIZE);
        r.index = i;
        r.attempts = q->attempts;
        if (q->state == RS_DELIVERED || q->state == RS_BOUNCED)
            r.state = q->state;
        else if (q->attempts > 0)
            r.state = RS_WAIT;  /* in flight or ready: attempts still count */
        else
            continue;           /* nothing to remember */
        r.next_ms = q->state == RS_WAIT ? q->tn.key : 0;
        if (journal_encode(&r, rec) < 0 || buf_append(&c->out, rec, sizeof(rec)) < 0) {
            c->failed = 1;
            return;
        }
        if (compact_out(c) < 0)
            return;
    }
}

int journal_compact(struct journal *j, struct qmgr *m)
{
    char tmp[PATH_MAX + 8];
    struct compact_ctx c;
    struct stat st;
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.new", j->path) >= (int)sizeof(tmp))
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        msg_error("open %s: %s", tmp, strerror(errno));
        return -1;
    }
    memset(&c, 0, sizeof(c));
    c.fd = fd;
    buf_init(&c.out, 2 * 1024 * 1024 + JOURNAL_REC_SIZE + JOURNAL_DATA_MAX);
    if (write_all(fd, JOURNAL_MAGIC, JOURNAL_HDR_LEN) < 0)
        c.failed = 1;
    /* the outboxes first: each stream's mark, then what it still holds */
    if (m->journal_pending)
        m->journal_pending(m, compact_put, &c);
    hmap_each(&m->msgs, compact_msg_cb, &c);
    if (!c.failed && c.out.len > 0 && write_all(fd, c.out.data, c.out.len) < 0)
        c.failed = 1;
    buf_free(&c.out);
    if (c.failed || fsync(fd) < 0 || fstat(fd, &st) < 0 || rename(tmp, j->path) < 0) {
        msg_error("journal compaction (%s): %s", tmp, strerror(errno));
        close(fd);
        (void)unlink(tmp);
        return -1;
    }
    (void)fsync_dir(j->dir);
    close(fd);
    close(j->fd);
    /* everything pending is already part of the new file's state */
    buf_reset(&j->pend);
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (j->fd < 0)
        msg_fatal("reopen %s: %s", j->path, strerror(errno));
    j->size = j->live = (uint64_t)st.st_size;
    j->synced = ++j->gen;
    return 0;
}

void journal_rcpt(struct qmgr *m, const struct qrcpt *r, int64_t next_ms)
{
    struct jrec rec;

    if (m->jr == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.type = JR_RCPT;
    rec.state = r->state;
    rec.attempts = r->attempts;
    rec.index = r->index;
    rec.next_ms = next_ms;
    memcpy(rec.qid, r->msg->qid, QUEUE_ID_SIZE);
    if (journal_append(m->jr, &rec) < 0)
        msg_error("%s: cannot journal recipient %u", r->msg->qid, r->index);
}

void journal_done(struct qmgr *m, const struct qmsg *msg)
{
    struct jrec rec;

    if (m->jr == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.type = JR_DONE;
    memcpy(rec.qid, msg->qid, QUEUE_ID_SIZE);
    if (journal_append(m->jr, &rec) < 0)
        msg_error("%s: cannot journal done", msg->qid);
}

int journal_outbox(struct qmgr *m, uint8_t stream, uint64_t rid, const char *qid,
                   const void *data, size_t len)
{
    struct jrec rec;

    if (m->jr == NULL)
        return 0;
    memset(&rec, 0, sizeof(rec));
    rec.type = JR_OUTBOX;
    rec.state = stream;
    rec.rid = rid;
    if (qid && queue_id_valid(qid))
        memcpy(rec.qid, qid, QUEUE_ID_SIZE);
    if (len > JOURNAL_DATA_MAX)
        return -1;
    rec.len = (uint32_t)len;
    rec.data = data;
    if (journal_append(m->jr, &rec) < 0) {
        msg_error("cannot journal an outbox record (stream %u)", stream);
        return -1;
    }
    return 0;
}

void journal_acked(struct qmgr *m, uint8_t stream, uint64_t mark)
{
    struct jrec rec;

    if (m->jr == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.type = JR_ACKED;
    rec.state = stream;
    rec.rid = mark;
    if (journal_append(m->jr, &rec) < 0)
        msg_error("cannot journal an acknowledgement (stream %u)", stream);
}

/* journal_apply - replay one record onto the loaded messages (start-up,
 * before message_schedule).  Records of unknown messages are dropped. */
void journal_apply(const struct jrec *rec, void *arg)
{
    struct qmgr *m = arg;
    struct qmsg *msg = hmap_get(&m->msgs, rec->qid);
    struct qrcpt *r;
    uint32_t i;

    if (rec->type == JR_OUTBOX || rec->type == JR_ACKED) {
        if (m->journal_replay_outbox)
            m->journal_replay_outbox(m, rec);
        return;
    }
    if (msg == NULL)
        return;
    if (rec->type == JR_DONE) {
        for (i = 0; i < msg->env.nrcpt; i++)
            if (msg->r[i].state != RS_DELIVERED && msg->r[i].state != RS_BOUNCED) {
                msg->r[i].state = RS_DELIVERED;
                message_rcpt_final(m, &msg->r[i]);
            }
        return;
    }
    if (rec->index >= msg->env.nrcpt)
        return;
    r = &msg->r[rec->index];
    if (r->state == RS_DELIVERED || r->state == RS_BOUNCED)
        return;
    r->attempts = rec->attempts;
    if (rec->state == RS_WAIT) {
        r->state = RS_WAIT;
        r->tn.key = rec->next_ms;
    } else {
        r->state = rec->state;
        message_rcpt_final(m, r);
    }
}
