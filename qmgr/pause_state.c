/*
 * pause_state - mtactl's pauses survive a qmgr restart: `pause|resume
 * queue`, `hold|release vmta` (the "*\/VMTA" entries of m->pauses) and
 * `disable|enable source` are kept in <spool>/state/pauses, rewritten
 * (tmp, fsync, rename) by the command itself before mtactl gets its
 * answer, so an acknowledged pause is durable.  Commands are rare, the
 * file small.  At start-up (before the spool scan creates the queues)
 * pause_state_load puts them back; queues made later get them from
 * control_apply_pauses and pause_state_apply.
 *
 * Lines, one per entry (names are spec_ok in control_shaping.c: no
 * blanks or control bytes; the loader checks again):
 *   pause 1 SPEC 0|1             SPEC: domain, domain/vmta, * /vmta
 *   disable 1 SPEC IP UNTIL_MS   UNTIL_MS: wall clock, 0 = until enabled
 * A `disable source` now also applies to the matching queues created
 * later (as pauses do); an expired one is dropped.
 *
 * DIAGNOSTICS: pause_state_save returns -1 with errno (the command still
 * took effect; the reply says it was not saved); pause_state_load skips
 * (and logs) malformed lines and returns -1 with errno if the file exists
 * but cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "log.h"
#include "parse.h"
#include "shaping.h"

#define PS_LINE_MAX (3 * PROTO_NAME_MAX + 128)

/* ps_token_ok - a name from the file: bounded, printable, no blanks. */
static int ps_token_ok(const char *s, size_t max)
{
    size_t i, n = strnlen(s, max);

    if (n == 0 || n >= max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* ps_matches - as control_shaping's queue_matches. */
static int ps_matches(const struct queue *q, const char *spec)
{
    if (spec[0] == '*' && spec[1] == '/')
        return strcasecmp(q->vmta, spec + 2) == 0;
    return strcasecmp(q->name, spec) == 0 || strcasecmp(q->domain, spec) == 0;
}

void pause_state_disable_note(struct qmgr *m, const char *spec, const char *ip, int disable,
                              int64_t until_ms)
{
    size_t i;

    for (i = 0; i < m->npdis; i++)
        if (strcasecmp(m->pdis[i].spec, spec) == 0 && strcmp(m->pdis[i].ip, ip) == 0)
            break;
    if (!disable) {
        if (i < m->npdis)
            m->pdis[i] = m->pdis[--m->npdis];
        return;
    }
    if (i == m->npdis) {
        struct pause_disable *n;

        if (m->npdis >= PAUSE_DISABLE_MAX || strlen(spec) >= sizeof(n->spec)
            || strlen(ip) >= sizeof(n->ip))
            return;
        n = realloc(m->pdis, (m->npdis + 1) * sizeof(*n));
        if (n == NULL)
            return;
        m->pdis = n;
        snprintf(m->pdis[i].spec, sizeof(m->pdis[i].spec), "%s", spec);
        snprintf(m->pdis[i].ip, sizeof(m->pdis[i].ip), "%s", ip);
        m->npdis++;
    }
    m->pdis[i].until = until_ms;
}

void pause_state_apply(struct qmgr *m, struct queue *q, int64_t now_ms)
{
    struct qshape *s = q->shape;
    size_t i;
    uint32_t k;

    for (i = 0; s && i < m->npdis; i++) {
        const struct pause_disable *p = &m->pdis[i];

        if ((p->until && p->until <= now_ms) || !ps_matches(q, p->spec)
            || backoff_ip_disabled(q, p->ip, now_ms))
            continue;
        for (k = 0; k < s->ndisabled && strcmp(s->disabled[k].ip, p->ip) != 0; k++)
            ;
        if (k == s->ndisabled) {
            struct disabled_ip *d = shaping_disabled_slot(s);

            if (d == NULL)
                return;
            snprintf(d->ip, sizeof(d->ip), "%s", p->ip);
        }
        s->disabled[k].until = p->until;
    }
}

struct ps_save {
    FILE *fp;
    int err;
};

static void save_pause_cb(void *val, void *arg)
{
    const struct qpause *p = val;
    struct ps_save *c = arg;

    if (fprintf(c->fp, "pause 1 %s %d\n", p->key, p->paused ? 1 : 0) < 0)
        c->err = 1;
}

int pause_state_save(struct qmgr *m, int64_t now_ms)
{
    char tmp[PATH_MAX + 8];
    struct ps_save c = { 0 };
    size_t i;
    int fd;

    if (m->pause_path == NULL)
        return 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", m->pause_path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || (c.fp = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            (void)close(fd);
        return -1;
    }
    hmap_each(&m->pauses, save_pause_cb, &c);
    for (i = 0; i < m->npdis; i++)
        if (m->pdis[i].until == 0 || m->pdis[i].until > now_ms)
            if (fprintf(c.fp, "disable 1 %s %s %lld\n", m->pdis[i].spec, m->pdis[i].ip,
                        (long long)m->pdis[i].until) < 0)
                c.err = 1;
    if (fflush(c.fp) != 0 || fsync(fileno(c.fp)) != 0)
        c.err = 1;
    if (fclose(c.fp) != 0 || c.err || rename(tmp, m->pause_path) < 0) {
        int e = errno;

        (void)unlink(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

int pause_state_load(struct qmgr *m, int64_t now_ms)
{
    FILE *fp;
    char line[PS_LINE_MAX], *f[6], *save = NULL;
    int nf, nline = 0, loaded = 0;
    uint64_t v;

    if (m->pause_path == NULL)
        return 0;
    fp = fopen(m->pause_path, "r");
    if (fp == NULL)
        return errno == ENOENT ? 0 : -1;
    while (fgets(line, sizeof(line), fp) != NULL) {
        nline++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            int ch;

            while ((ch = fgetc(fp)) != EOF && ch != '\n')
                ;
            msg_warn("%s:%d: line too long, ignored", m->pause_path, nline);
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        for (nf = 0; nf < 6 && (f[nf] = strtok_r(nf ? NULL : line, " ", &save)) != NULL; nf++)
            ;
        if (nf == 4 && strcmp(f[0], "pause") == 0 && strcmp(f[1], "1") == 0
            && ps_token_ok(f[2], 2 * PROTO_NAME_MAX + 1) && parse_u64(f[3], 0, 1, &v) == 0) {
            if (control_pause_remember(m, f[2], (int)v) < 0)
                break;
            loaded++;
        } else if (nf == 5 && strcmp(f[0], "disable") == 0 && strcmp(f[1], "1") == 0
                   && ps_token_ok(f[2], 2 * PROTO_NAME_MAX + 1) && ps_token_ok(f[3], 64)
                   && parse_u64(f[4], 0, INT64_MAX, &v) == 0) {
            if (v == 0 || (int64_t)v > now_ms)
                pause_state_disable_note(m, f[2], f[3], 1, (int64_t)v);
            loaded++;
        } else {
            msg_warn("%s:%d: malformed line ignored", m->pause_path, nline);
        }
    }
    (void)fclose(fp);
    return loaded;
}

void pause_state_free(struct qmgr *m)
{
    free(m->pdis);
    m->pdis = NULL;
    m->npdis = 0;
    free(m->pause_path);
    m->pause_path = NULL;
}
