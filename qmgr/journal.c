/*
 * journal - qmgr's durable per-recipient state (DESIGN.md §3): an
 * append-only file <spool>/state/journal of fixed 48-byte binary records,
 * each with a CRC-32, since the spool file itself is never rewritten.
 *
 *   "CRJRNL01"                              file header
 *   records, big-endian:
 *     0  "JR"  2  type  3  state  4  queue id (22)  26  rcpt index u32
 *     30 attempts u16  32 next attempt ms i64  40 zero u32  44 crc32(0..43)
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

int journal_encode(const struct jrec *r, unsigned char out[JOURNAL_REC_SIZE])
{
    memset(out, 0, JOURNAL_REC_SIZE);
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
    if ((r->type != JR_RCPT && r->type != JR_DONE) || !queue_id_valid(r->qid))
        return -1;
    if (r->type == JR_RCPT && r->state != RS_WAIT && r->state != RS_DELIVERED
        && r->state != RS_BOUNCED)
        return -1;
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

long journal_replay(struct journal *j, void (*fn)(const struct jrec *r, void *arg), void *arg)
{
    unsigned char b[JOURNAL_REC_SIZE * 1024], hdr[JOURNAL_HDR_LEN];
    struct jrec r;
    long count = 0;
    off_t off = JOURNAL_HDR_LEN;
    ssize_t n;
    size_t i;

    n = pread(j->fd, hdr, sizeof(hdr), 0);
    if (n < 0)
        return -1;
    if (n != JOURNAL_HDR_LEN || memcmp(hdr, JOURNAL_MAGIC, JOURNAL_HDR_LEN) != 0) {
        msg_warn("%s: not a journal (bad header); ignoring it", j->path);
        return 0;
    }
    for (;;) {
        n = pread(j->fd, b, sizeof(b), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        for (i = 0; i + JOURNAL_REC_SIZE <= (size_t)n; i += JOURNAL_REC_SIZE) {
            if (journal_decode(b + i, &r) < 0) {
                msg_warn("%s: corrupt record at offset %lld; ignoring the rest",
                         j->path, (long long)off + (long long)i);
                return count;
            }
            fn(&r, arg);
            count++;
        }
        if ((size_t)n < sizeof(b)) {
            if (i < (size_t)n)
                msg_warn("%s: torn record at the end (%zu bytes) ignored", j->path, (size_t)n - i);
            return count;
        }
        off += n;
    }
}

int journal_append(struct journal *j, const struct jrec *r)
{
    unsigned char rec[JOURNAL_REC_SIZE];

    if (journal_encode(r, rec) < 0)
        return -1;
    if (buf_append(&j->pend, rec, sizeof(rec)) < 0) {
        if (journal_flush(j) < 0 || buf_append(&j->pend, rec, sizeof(rec)) < 0)
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
        if (c->out.len >= 1024 * 1024) {
            if (write_all(c->fd, c->out.data, c->out.len) < 0)
                c->failed = 1;
            buf_reset(&c->out);
        }
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
    buf_init(&c.out, 2 * 1024 * 1024);
    if (write_all(fd, JOURNAL_MAGIC, JOURNAL_HDR_LEN) < 0)
        c.failed = 1;
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

/* journal_apply - replay one record onto the loaded messages (start-up,
 * before message_schedule).  Records of unknown messages are dropped. */
void journal_apply(const struct jrec *rec, void *arg)
{
    struct qmgr *m = arg;
    struct qmsg *msg = hmap_get(&m->msgs, rec->qid);
    struct qrcpt *r;
    uint32_t i;

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
