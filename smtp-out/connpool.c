/*
 * connpool - outbound connections grouped by key (source ip, helo name,
 * route or destination domain), and the jobs waiting for one.
 *
 * A job joins its group's queue.  An idle cached connection of the group
 * takes it at once; otherwise a new connection is opened as long as fewer
 * are opening than jobs wait (qmgr already limits concurrency per queue
 * with max-smtp-out, so one new connection per waiting job is what it
 * asked for).  A connection that finishes a message takes the next
 * waiting job immediately (no QUIT/connect in between); with none waiting
 * it is cached for max(connection-idle-timeout, 2 s).
 *
 * Why the 2 s floor (a Courser choice): qmgr pushes jobs one at a time as
 * results come back, so the next job for the same destination usually
 * arrives a few milliseconds after the previous result; PowerMTA's default
 * idle timeout of 0 would close the connection in that gap and make every
 * message pay a new connection, EHLO and TCP slow start.
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "smtp_out.h"

#define POOL_IDLE_FLOOR 2

struct pool_entry {
    struct so_conn *c;
    int opening;                /* not yet through EHLO */
    int busy;                   /* has a job */
};

struct pool_group {
    char key[SO_KEY_MAX];
    struct pool_entry *e;
    size_t n, cap;
    size_t nopening;
    struct so_job *head, *tail;
    size_t nwait;
    unsigned idle_timeout;
    int kicking, rekick;
    struct pool_group *next;
};

static struct {
    uv_loop_t *loop;
    struct pool_group *groups;
    int stopping;
    size_t connects;            /* connections opened, for tests and stats */
} pool;

void pool_init(uv_loop_t *loop)
{
    pool.loop = loop;
}

size_t pool_connects_total(void)
{
    return pool.connects;
}

size_t pool_conn_count(void)
{
    struct pool_group *g;
    size_t n = 0;

    for (g = pool.groups; g != NULL; g = g->next)
        n += g->n;
    return n;
}

static struct pool_group *pool_group_get(const char *key)
{
    struct pool_group *g;

    for (g = pool.groups; g != NULL; g = g->next)
        if (strcmp(g->key, key) == 0)
            return g;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        msg_fatal("smtp-out: out of memory");
    snprintf(g->key, sizeof(g->key), "%s", key);
    g->next = pool.groups;
    pool.groups = g;
    return g;
}

static void pool_group_maybe_free(struct pool_group *g)
{
    struct pool_group **pp;

    if (g->n > 0 || g->nwait > 0 || g->kicking)
        return;
    for (pp = &pool.groups; *pp != NULL && *pp != g; pp = &(*pp)->next)
        ;
    if (*pp != NULL)
        *pp = g->next;
    free(g->e);
    free(g);
}

static struct pool_entry *pool_entry_of(struct so_conn *c)
{
    struct pool_group *g = conn_group(c);
    size_t i;

    for (i = 0; i < g->n; i++)
        if (g->e[i].c == c)
            return &g->e[i];
    return NULL;
}

static struct so_job *pool_pop(struct pool_group *g)
{
    struct so_job *j = g->head;

    if (j == NULL)
        return NULL;
    g->head = j->next;
    if (g->head == NULL)
        g->tail = NULL;
    j->next = NULL;
    g->nwait--;
    return j;
}

static void pool_add_conn(struct pool_group *g, struct so_conn *c)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        struct pool_entry *ne = realloc(g->e, cap * sizeof(*ne));
        if (ne == NULL)
            msg_fatal("smtp-out: out of memory");
        g->e = ne;
        g->cap = cap;
    }
    g->e[g->n].c = c;
    g->e[g->n].opening = 1;
    g->e[g->n].busy = 0;
    g->n++;
    g->nopening++;
    pool.connects++;
}

/* Match waiting jobs with idle connections, open new ones for the rest.
 * Re-entrant calls (a job that fails at once hands its connection back)
 * are folded into the running loop. */
static void pool_kick(struct pool_group *g)
{
    size_t i;
    int found;

    if (g->kicking) {
        g->rekick = 1;
        return;
    }
    g->kicking = 1;
    do {
        g->rekick = 0;
        do {
            found = 0;
            for (i = 0; i < g->n && g->nwait > 0; i++) {
                struct pool_entry *e = &g->e[i];
                if (e->opening || e->busy || !conn_usable(e->c))
                    continue;
                e->busy = 1;
                found = 1;
                conn_start_job(e->c, pool_pop(g));
                break;      /* g->e may have changed */
            }
        } while (found && g->nwait > 0);
        while (g->nwait > g->nopening) {
            struct so_conn *c = conn_new(pool.loop, g, g->head);
            if (c == NULL) {
                job_fail_local(pool_pop(g), 451, "4.3.0", "out of memory", "", "");
                continue;
            }
            pool_add_conn(g, c);
        }
    } while (g->rekick);
    g->kicking = 0;
    pool_group_maybe_free(g);
}

void pool_submit(struct so_job *j)
{
    struct pool_group *g;

    /* a job that skips MX hosts must not take a connection to one of them */
    snprintf(j->key, sizeof(j->key), "%s|%s|%s|%s", j->d.source_ip, j->d.helo_name,
             j->d.route[0] ? j->d.route : j->d.domain, j->d.skip_mx ? j->d.skip_mx : "");
    g = pool_group_get(j->key);
    g->idle_timeout = j->d.idle_timeout;
    j->next = NULL;
    if (g->tail)
        g->tail->next = j;
    else
        g->head = j;
    g->tail = j;
    g->nwait++;
    pool_kick(g);
}

void pool_requeue(struct so_job *j)
{
    struct pool_group *g = pool_group_get(j->key);

    j->next = g->head;
    g->head = j;
    if (g->tail == NULL)
        g->tail = j;
    g->nwait++;
    pool_kick(g);
}

void pool_conn_ready(struct so_conn *c)
{
    struct pool_group *g = conn_group(c);
    struct pool_entry *e = pool_entry_of(c);
    unsigned idle;

    if (e == NULL)
        msg_panic("pool: unknown connection");
    if (e->opening) {
        e->opening = 0;
        g->nopening--;
    }
    e->busy = 0;
    if (!conn_reusable(c)) {
        conn_quit(c);           /* max-msg-per-connection reached, or 421 */
        return;
    }
    if (g->nwait > 0) {
        e->busy = 1;
        conn_start_job(c, pool_pop(g));
        return;
    }
    if (pool.stopping) {
        conn_quit(c);
        return;
    }
    idle = g->idle_timeout > POOL_IDLE_FLOOR ? g->idle_timeout : POOL_IDLE_FLOOR;
    conn_idle(c, idle);
}

void pool_conn_failed(struct so_conn *c, int code, const char *status, const char *text,
                      const char *mx, const char *ip)
{
    struct pool_group *g = conn_group(c);
    struct so_job *j = pool_pop(g);

    /* The attempt was made on behalf of the oldest waiting job; if another
     * connection already took that one, the next in line gets the verdict. */
    if (j != NULL) {
        conn_give_refusals(c, j);
        job_fail_local(j, code, status, text, mx, ip);
    }
}

void pool_conn_gone(struct so_conn *c)
{
    struct pool_group *g = conn_group(c);
    size_t i;

    for (i = 0; i < g->n; i++) {
        if (g->e[i].c != c)
            continue;
        if (g->e[i].opening)
            g->nopening--;
        g->e[i] = g->e[g->n - 1];
        g->n--;
        break;
    }
    pool_kick(g);
}

size_t pool_shutdown(void)
{
    struct pool_group *g;
    struct so_conn **idle;
    size_t i, n = 0, total = pool_conn_count();

    pool.stopping = 1;
    idle = calloc(total ? total : 1, sizeof(*idle));
    if (idle == NULL)
        return total;
    /* collect first: quitting may close at once and free the group */
    for (g = pool.groups; g != NULL; g = g->next)
        for (i = 0; i < g->n; i++)
            if (!g->e[i].opening && !g->e[i].busy && conn_usable(g->e[i].c)) {
                g->e[i].busy = 1;
                idle[n++] = g->e[i].c;
            }
    for (i = 0; i < n; i++)
        conn_quit(idle[i]);
    free(idle);
    return pool_conn_count();
}
