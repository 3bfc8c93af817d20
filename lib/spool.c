/*
 * spool - durable message files.  Written once by smtpd (spool_commit, in
 * a thread-pool worker), read by qmgr (spool_read) and smtp-out
 * (spool_open_message), removed by qmgr (spool_remove).
 *
 * Durability order (DESIGN.md §3): data written and fdatasync'ed in tmp/,
 * renamed into msg/XY/, then the directory fsync'ed.  A crash before the
 * rename leaves only a tmp/ file (never announced with 250; spool_scan
 * removes it); after the directory fsync the message survives power loss.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "ipc.h"
#include "spool.h"

#define SPOOL_MAGIC        "CRSPOOL1"
#define SPOOL_END_MAGIC    "CRSPEND1"
#define SPOOL_HEAD_LEN     12          /* magic + u32 envelope length */
#define SPOOL_TRAILER_LEN  16          /* u64 message length + end magic */
#define SPOOL_MAX_ENVELOPE (64u * 1024 * 1024)
#define SPOOL_FIELD_MAX    4096

static int spool_sync_enabled = 1;

void spool_set_sync(int on)
{
    spool_sync_enabled = on;
}

int spool_msg_path(const char *spool_dir, const char *qid, char *out, size_t outlen)
{
    int r;

    /* digits 11-12 are the low byte of the microsecond clock: they spread
     * ids evenly over the 256 directories */
    if (!queue_id_valid(qid))
        return -1;
    r = snprintf(out, outlen, "%s/msg/%c%c/%s", spool_dir, qid[11], qid[12], qid);
    return (r < 0 || (size_t)r >= outlen) ? -1 : 0;
}

static int mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

int spool_init_dirs(const char *spool_dir)
{
    char path[PATH_MAX];
    static const char hex[] = "0123456789ABCDEF";
    int i;

    if (mkdir_if_missing(spool_dir) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/tmp", spool_dir);
    if (mkdir_if_missing(path) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/msg", spool_dir);
    if (mkdir_if_missing(path) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/" SPOOL_INBOUND_DIR, spool_dir);
    if (mkdir_if_missing(path) < 0)
        return -1;
    for (i = 0; i < 256; i++) {
        if (snprintf(path, sizeof(path), "%s/msg/%c%c", spool_dir, hex[i >> 4], hex[i & 15])
            >= (int)sizeof(path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (mkdir_if_missing(path) < 0)
            return -1;
    }
    return 0;
}

static int envelope_encode(struct buf *b, const struct spool_envelope *e)
{
    uint32_t i;

    if (ipc_put_str(b, e->queue_id) < 0 || ipc_put_u64(b, e->time_queued) < 0
        || ipc_put_str(b, e->client_ip) < 0 || ipc_put_str(b, e->client_helo) < 0
        || ipc_put_str(b, e->listener) < 0 || ipc_put_str(b, e->source) < 0
        || ipc_put_str(b, e->vmta) < 0 || ipc_put_str(b, e->job_id) < 0
        || ipc_put_str(b, e->mail_from) < 0 || ipc_put_str(b, e->envid) < 0
        || ipc_put_u32(b, e->ret) < 0 || ipc_put_u32(b, e->body_8bit) < 0
        || ipc_put_u32(b, e->nrcpt) < 0)
        return -1;
    for (i = 0; i < e->nrcpt; i++)
        if (ipc_put_str(b, e->rcpts[i].addr) < 0 || ipc_put_str(b, e->rcpts[i].orcpt) < 0
            || ipc_put_u32(b, e->rcpts[i].notify) < 0)
            return -1;
    return 0;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int write_all_v(int fd, struct iovec *iov, int iovcnt)
{
    ssize_t n;

    while (iovcnt > 0) {
        n = writev(fd, iov, iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    char *slash;
    int fd, r;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = fsync(fd);
    close(fd);
    return r;
}

int spool_inbound_path(const char *spool_dir, const char *qid, char *out, size_t outlen)
{
    int r;

    if (!queue_id_valid(qid))
        return -1;
    r = snprintf(out, outlen, "%s/" SPOOL_INBOUND_DIR "/%s", spool_dir, qid);
    return (r < 0 || (size_t)r >= outlen) ? -1 : 0;
}

static int commit_to(const char *spool_dir, const struct spool_envelope *e,
                     const void *msg, size_t msglen, int inbound);

int spool_commit(const char *spool_dir, const struct spool_envelope *e,
                 const void *msg, size_t msglen)
{
    return commit_to(spool_dir, e, msg, msglen, 0);
}

int spool_commit_inbound(const char *spool_dir, const struct spool_envelope *e,
                         const void *msg, size_t msglen)
{
    return commit_to(spool_dir, e, msg, msglen, 1);
}

/* write_tmp - envelope + message into DIR/tmp/ID (synced when sync),
 * with the final path in final.  0, or -1 with errno and nothing left. */
static int write_tmp(const char *spool_dir, const struct spool_envelope *e, const void *msg,
                     size_t msglen, int inbound, int sync, char *tmp, char *final)
{
    unsigned char head[SPOOL_HEAD_LEN], trailer[SPOOL_TRAILER_LEN];
    struct iovec iov[4];
    struct buf env;
    int fd = -1, saved;

    buf_init(&env, SPOOL_MAX_ENVELOPE);
    if (!queue_id_valid(e->queue_id) || e->nrcpt == 0 || e->nrcpt > SPOOL_MAX_RCPTS) {
        errno = EINVAL;
        goto fail;
    }
    if (snprintf(tmp, PATH_MAX, "%s/tmp/%s", spool_dir, e->queue_id) >= PATH_MAX
        || (inbound ? spool_inbound_path(spool_dir, e->queue_id, final, PATH_MAX)
                    : spool_msg_path(spool_dir, e->queue_id, final, PATH_MAX)) < 0) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    if (envelope_encode(&env, e) < 0) {
        errno = E2BIG;
        goto fail;
    }
    memcpy(head, SPOOL_MAGIC, 8);
    head[8] = (unsigned char)(env.len >> 24);
    head[9] = (unsigned char)(env.len >> 16);
    head[10] = (unsigned char)(env.len >> 8);
    head[11] = (unsigned char)env.len;
    put_be64(trailer, msglen);
    memcpy(trailer + 8, SPOOL_END_MAGIC, 8);
    iov[0].iov_base = head;
    iov[0].iov_len = sizeof(head);
    iov[1].iov_base = env.data;
    iov[1].iov_len = env.len;
    iov[2].iov_base = (void *)msg;
    iov[2].iov_len = msglen;
    iov[3].iov_base = trailer;
    iov[3].iov_len = sizeof(trailer);

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        goto fail;
    if (write_all_v(fd, iov, 4) < 0)
        goto fail_unlink;
    if (sync && fdatasync(fd) < 0)
        goto fail_unlink;
    if (close(fd) < 0) {
        fd = -1;
        goto fail_unlink;
    }
    buf_free(&env);
    return 0;

fail_unlink:
    saved = errno;
    if (fd >= 0)
        close(fd);
    fd = -1;
    unlink(tmp);
    errno = saved;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    buf_free(&env);
    errno = saved;
    return -1;
}

/* commit_to - the durable write of spool_commit into msg/XY/ or inbound/. */
static int commit_to(const char *spool_dir, const struct spool_envelope *e,
                     const void *msg, size_t msglen, int inbound)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    int saved;

    if (write_tmp(spool_dir, e, msg, msglen, inbound, spool_sync_enabled, tmp, final) < 0)
        return -1;
    if (rename(tmp, final) < 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (spool_sync_enabled && fsync_dir_of(final) < 0) {
        saved = errno;
        unlink(final);
        errno = saved;
        return -1;
    }
    return 0;
}

/* ---- group commit (spool_batch_*) --------------------------------------
 * N files cost two syncfs(2) calls instead of N fdatasync + N directory
 * fsyncs: write every file to tmp/ unsynced; syncfs (their data is on
 * disk); rename each into place; syncfs (the directory entries are).  A
 * crash before the second syncfs leaves at worst some of them in tmp/
 * (removed by qmgr's tmp cleaner) or in place: each is complete by then,
 * and none was acknowledged, so its producer makes it again. */
void spool_batch_init(struct spool_batch *b)
{
    memset(b, 0, sizeof(*b));
}

int spool_batch_add(struct spool_batch *b, const char *spool_dir, const struct spool_envelope *e,
                    const void *msg, size_t msglen)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        void *p;

        if (cap > SPOOL_BATCH_MAX) {
            errno = ENOBUFS;
            return -1;
        }
        p = reallocarray(b->f, cap, sizeof(*b->f));
        if (p == NULL)
            return -1;
        b->f = p;
        b->cap = cap;
    }
    if (write_tmp(spool_dir, e, msg, msglen, 0, 0, b->f[b->n].tmp, b->f[b->n].final) < 0)
        return -1;
    b->n++;
    return 0;
}

/* sync_fs - syncfs on the file system holding path. */
static int sync_fs(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

    if (fd < 0)
        return -1;
    r = syncfs(fd);
    close(fd);
    return r;
}

int spool_batch_commit(struct spool_batch *b, const char *spool_dir)
{
    size_t i;
    int saved;

    if (b->n == 0)
        return 0;
    if (spool_sync_enabled && sync_fs(spool_dir) < 0)
        goto fail;
    for (i = 0; i < b->n; i++)
        if (rename(b->f[i].tmp, b->f[i].final) < 0)
            goto fail_renamed;
    if (spool_sync_enabled && sync_fs(spool_dir) < 0)
        goto fail_renamed;
    b->n = 0;
    return 0;

fail_renamed:
    saved = errno;
    while (i-- > 0)     /* nobody has been told of them yet */
        (void)unlink(b->f[i].final);
    errno = saved;
fail:
    saved = errno;
    spool_batch_free(b);
    errno = saved;
    return -1;
}

void spool_batch_free(struct spool_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        (void)unlink(b->f[i].tmp);
    free(b->f);
    memset(b, 0, sizeof(*b));
}

void spool_envelope_free(struct spool_envelope *e)
{
    uint32_t i;

    free(e->client_ip);
    free(e->client_helo);
    free(e->listener);
    free(e->source);
    free(e->vmta);
    free(e->job_id);
    free(e->mail_from);
    free(e->envid);
    if (e->rcpts) {
        for (i = 0; i < e->nrcpt; i++) {
            free(e->rcpts[i].addr);
            free(e->rcpts[i].orcpt);
        }
    }
    free(e->rcpts);
    memset(e, 0, sizeof(*e));
}

/* Optional string: the empty string reads back as NULL. */
static char *get_opt(struct ipc_reader *r)
{
    char *s = ipc_get_strdup(r, SPOOL_FIELD_MAX);

    if (s && s[0] == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

static int envelope_decode(const unsigned char *p, size_t len, struct spool_envelope *e)
{
    struct ipc_frame f = { 0, 0, p, len };
    struct ipc_reader r;
    uint32_t i, n;

    memset(e, 0, sizeof(*e));
    ipc_reader_init(&r, &f);
    ipc_get_str(&r, e->queue_id, sizeof(e->queue_id));
    e->time_queued = ipc_get_u64(&r);
    e->client_ip = get_opt(&r);
    e->client_helo = get_opt(&r);
    e->listener = get_opt(&r);
    e->source = get_opt(&r);
    e->vmta = get_opt(&r);
    e->job_id = get_opt(&r);
    e->mail_from = ipc_get_strdup(&r, SPOOL_FIELD_MAX);
    e->envid = get_opt(&r);
    e->ret = ipc_get_u32(&r);
    e->body_8bit = ipc_get_u32(&r);
    n = ipc_get_count(&r, SPOOL_MAX_RCPTS);
    if (!r.failed && n > 0) {
        e->rcpts = calloc(n, sizeof(*e->rcpts));
        if (e->rcpts == NULL)
            r.failed = 1;
        else
            e->nrcpt = n;
    }
    for (i = 0; i < e->nrcpt && !r.failed; i++) {
        e->rcpts[i].addr = ipc_get_strdup(&r, SPOOL_FIELD_MAX);
        e->rcpts[i].orcpt = get_opt(&r);
        e->rcpts[i].notify = ipc_get_u32(&r);
        if (e->rcpts[i].addr == NULL || e->rcpts[i].addr[0] == '\0')
            r.failed = 1;
    }
    if (ipc_reader_end(&r) < 0 || !queue_id_valid(e->queue_id) || e->nrcpt == 0
        || e->mail_from == NULL || e->ret > 2) {
        spool_envelope_free(e);
        return -1;
    }
    return 0;
}

static int read_exact(int fd, void *p, size_t n, off_t off)
{
    ssize_t r;
    size_t done = 0;

    while (done < n) {
        r = pread(fd, (char *)p + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Validate head and trailer; on success return the envelope length. */
static int check_frame(int fd, uint32_t *envlen, uint64_t *msg_off, uint64_t *msg_len,
                       char *err, size_t errlen)
{
    unsigned char head[SPOOL_HEAD_LEN], trailer[SPOOL_TRAILER_LEN];
    struct stat st;
    uint64_t mlen;
    uint32_t elen;

    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        return -1;
    }
    if ((uint64_t)st.st_size < SPOOL_HEAD_LEN + SPOOL_TRAILER_LEN
        || read_exact(fd, head, sizeof(head), 0) < 0 || memcmp(head, SPOOL_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a spool file or truncated header");
        return -1;
    }
    elen = ((uint32_t)head[8] << 24) | ((uint32_t)head[9] << 16) | ((uint32_t)head[10] << 8) | head[11];
    if (read_exact(fd, trailer, sizeof(trailer), st.st_size - SPOOL_TRAILER_LEN) < 0
        || memcmp(trailer + 8, SPOOL_END_MAGIC, 8) != 0) {
        snprintf(err, errlen, "truncated spool file (no trailer)");
        return -1;
    }
    mlen = get_be64(trailer);
    if (elen > SPOOL_MAX_ENVELOPE
        || (uint64_t)SPOOL_HEAD_LEN + elen + mlen + SPOOL_TRAILER_LEN != (uint64_t)st.st_size) {
        snprintf(err, errlen, "inconsistent spool file lengths");
        return -1;
    }
    *envlen = elen;
    *msg_off = SPOOL_HEAD_LEN + (uint64_t)elen;
    *msg_len = mlen;
    return 0;
}

int spool_read(const char *path, struct spool_envelope *e,
               uint64_t *msg_off, uint64_t *msg_len, char *err, size_t errlen)
{
    unsigned char *env = NULL;
    uint32_t elen;
    int fd, r = -1;

    memset(e, 0, sizeof(*e));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (check_frame(fd, &elen, msg_off, msg_len, err, errlen) < 0)
        goto out;
    env = malloc(elen ? elen : 1);
    if (env == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (read_exact(fd, env, elen, SPOOL_HEAD_LEN) < 0) {
        snprintf(err, errlen, "short read of envelope");
        goto out;
    }
    if (envelope_decode(env, elen, e) < 0) {
        snprintf(err, errlen, "corrupt envelope");
        goto out;
    }
    r = 0;
out:
    free(env);
    close(fd);
    return r;
}

int spool_open_message(const char *path, uint64_t *msg_off, uint64_t *msg_len,
                       char *err, size_t errlen)
{
    uint32_t elen;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (check_frame(fd, &elen, msg_off, msg_len, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int spool_remove(const char *spool_dir, const char *qid)
{
    char path[PATH_MAX];

    if (!queue_id_valid(qid) || spool_msg_path(spool_dir, qid, path, sizeof(path)) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

static void clean_tmp(const char *spool_dir)
{
    char path[PATH_MAX], f[PATH_MAX];
    struct dirent *d;
    struct stat st;
    time_t now = time(NULL);
    DIR *dir;

    snprintf(path, sizeof(path), "%s/tmp", spool_dir);
    if ((dir = opendir(path)) == NULL)
        return;
    while ((d = readdir(dir)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        if (snprintf(f, sizeof(f), "%s/%s", path, d->d_name) >= (int)sizeof(f))
            continue;
        if (stat(f, &st) == 0 && now - st.st_mtime > 60)
            unlink(f);
    }
    closedir(dir);
}

int spool_scan(const char *spool_dir, void (*fn)(const char *qid, void *arg), void *arg)
{
    static const char hex[] = "0123456789ABCDEF";
    char path[PATH_MAX];
    struct dirent *d;
    DIR *dir;
    int i, count = 0;

    clean_tmp(spool_dir);
    for (i = 0; i < 256; i++) {
        snprintf(path, sizeof(path), "%s/msg/%c%c", spool_dir, hex[i >> 4], hex[i & 15]);
        if ((dir = opendir(path)) == NULL) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        while ((d = readdir(dir)) != NULL) {
            if (!queue_id_valid(d->d_name))
                continue;
            fn(d->d_name, arg);
            count++;
        }
        closedir(dir);
    }
    return count;
}
