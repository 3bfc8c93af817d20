/*
 * pool - smooth weighted round robin over a pool's members (pool.h).
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

static int reset(struct pool_rr *st, size_t n)
{
    int64_t *c = realloc(st->credit, n * sizeof(*c));

    if (c == NULL)
        return -1;
    memset(c, 0, n * sizeof(*c));
    st->credit = c;
    st->n = n;
    return 0;
}

long pool_rr_pick(struct pool_rr *st, const uint32_t *weights, size_t n,
                  pool_usable_fn usable, void *arg)
{
    int64_t total = 0;
    size_t i, nusable = 0;
    long best = -1;

    if (n == 0 || (st->n != n && reset(st, n) < 0))
        return -1;
    if (usable != NULL)
        for (i = 0; i < n; i++)
            nusable += usable(arg, i) != 0;
    for (i = 0; i < n; i++) {
        int64_t w = weights != NULL && weights[i] > 0 ? weights[i] : 1;
        if (usable != NULL && nusable > 0 && !usable(arg, i))
            continue;
        st->credit[i] += w;
        total += w;
        if (best < 0 || st->credit[i] > st->credit[best])
            best = (long)i;
    }
    st->credit[best] -= total;
    return best;
}

void pool_rr_free(struct pool_rr *st)
{
    free(st->credit);
    st->credit = NULL;
    st->n = 0;
}
