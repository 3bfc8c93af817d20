/*
 * acctfile - writing and rotating one accounting CSV file (see
 * acctfile.h).  Lines are appended with O_APPEND and one write(2) per
 * batch; acctd acknowledges the records only after that write returned,
 * so a record is either in the file (page cache) or resent by its sender.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acctfile.h"
#include "csv.h"
#include "log.h"

#define ACCT_LINE_MAX (256u * 1024)
#define ACCT_BATCH_MAX (64u * 1024 * 1024)

static const struct { const char *name; unsigned bit; } type_bits[] = {
    { "d", ACCT_REC_D }, { "b", ACCT_REC_B }, { "t", ACCT_REC_T }, { "tq", ACCT_REC_TQ },
    { "r", ACCT_REC_R }, { "f", ACCT_REC_F }, { "rb", ACCT_REC_RB }, { "rs", ACCT_REC_RS },
};

unsigned acctfile_type_bit(const char *type)
{
    size_t i;

    if (type == NULL)
        return 0;
    for (i = 0; i < sizeof(type_bits) / sizeof(type_bits[0]); i++)
        if (strcmp(type_bits[i].name, type) == 0)
            return type_bits[i].bit;
    return 0;
}

int acctfile_rotated_name(const char *path, time_t t, char *out, size_t outlen)
{
    size_t n = strlen(path);
    struct tm tm;
    char stamp[32];

    if (gmtime_r(&t, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0)
        return -1;
    if (n >= 4 && strcmp(path + n - 4, ".csv") == 0)
        n -= 4;
    if (snprintf(out, outlen, "%.*s-%s.csv", (int)n, path, stamp) >= (int)outlen)
        return -1;
    return 0;
}

/* out_rotate - move the current file aside and start a new one.  A
 * rename target that exists (two rotations in one second) gets -N. */
static int out_rotate(struct acct_out *o, time_t now, char *err, size_t errlen)
{
    char to[PATH_MAX + 32], base[PATH_MAX + 16];
    struct stat st;
    int i;

    if (acctfile_rotated_name(o->path, now, base, sizeof(base)) < 0) {
        snprintf(err, errlen, "%s: path too long to rotate", o->path);
        return -1;
    }
    snprintf(to, sizeof(to), "%s", base);
    for (i = 1; lstat(to, &st) == 0 && i < 1000; i++)
        snprintf(to, sizeof(to), "%.*s-%d.csv", (int)(strlen(base) - 4), base, i);
    if (rename(o->path, to) < 0) {
        snprintf(err, errlen, "rename %s to %s: %s", o->path, to, strerror(errno));
        return -1;
    }
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    return acctfile_reopen(o, err, errlen);
}

/* header_matches - whether a non-empty file starts with our header. */
static int header_matches(struct acct_out *o)
{
    char tmp[8192];
    ssize_t n;

    if (o->header.len > sizeof(tmp))
        return 1;   /* too long to check: trust it */
    n = pread(o->fd, tmp, o->header.len, 0);
    return n == (ssize_t)o->header.len && memcmp(tmp, o->header.data, o->header.len) == 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int acctfile_reopen(struct acct_out *o, char *err, size_t errlen)
{
    struct stat st;

    if (o->fd >= 0)
        close(o->fd);
    o->fd = open(o->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);  /* read: header check */
    if (o->fd < 0 || fstat(o->fd, &st) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(errno));
        if (o->fd >= 0)
            close(o->fd);
        o->fd = -1;
        return -1;
    }
    o->size = (uint64_t)st.st_size;
    if (o->size > 0 && !header_matches(o))
        return out_rotate(o, time(NULL), err, errlen);
    if (o->size == 0) {
        if (write_all(o->fd, o->header.data, o->header.len) < 0) {
            snprintf(err, errlen, "write %s: %s", o->path, strerror(errno));
            close(o->fd);
            o->fd = -1;
            return -1;
        }
        o->size = o->header.len;
    }
    return 0;
}

int acctfile_init(struct acct_out *o, const struct cfg_acct_file *cf, char *err, size_t errlen)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    o->fd = -1;
    snprintf(o->path, sizeof(o->path), "%s", cf->path);
    o->records = cf->records;
    o->max_size = cf->max_size;
    if (cf->nfields == 0) {
        for (i = 0; i < AF_COUNT; i++)
            o->fields[i] = (int)i;
        o->nfields = AF_COUNT;
    } else {
        o->nfields = cf->nfields < AF_COUNT ? cf->nfields : AF_COUNT;
        memcpy(o->fields, cf->fields, o->nfields * sizeof(int));
    }
    buf_init(&o->header, ACCT_LINE_MAX);
    buf_init(&o->pending, ACCT_BATCH_MAX);
    if (csv_append_header(&o->header, o->fields, o->nfields) < 0
        || buf_append(&o->header, "\r\n", 2) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return acctfile_reopen(o, err, errlen);
}

void acctfile_free(struct acct_out *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    buf_free(&o->header);
    buf_free(&o->pending);
}

int acctfile_add(struct acct_out *o, const struct acct_record *r, unsigned typebit)
{
    size_t mark = o->pending.len;

    if ((o->records & typebit) == 0)
        return 0;
    if (csv_append_record(&o->pending, r, o->fields, o->nfields) < 0
        || buf_append(&o->pending, "\r\n", 2) < 0) {
        o->pending.len = mark;      /* never leave half a line */
        return -1;
    }
    return 1;
}

int acctfile_flush(struct acct_out *o, time_t now, char *err, size_t errlen)
{
    if (o->pending.len == 0)
        return 0;
    if (o->fd < 0 && acctfile_reopen(o, err, errlen) < 0)
        return -1;
    if (write_all(o->fd, o->pending.data, o->pending.len) < 0) {
        snprintf(err, errlen, "write %s: %s", o->path, strerror(errno));
        return -1;
    }
    o->size += o->pending.len;
    buf_reset(&o->pending);
    /* The batch is written and will be acknowledged whatever happens to
     * the rotation; a failed re-open is retried by the next flush. */
    if (o->max_size > 0 && o->size >= o->max_size && out_rotate(o, now, err, errlen) < 0)
        msg_error("accounting rotation: %s", err);
    return 0;
}
