/*
 * heap - an intrusive binary min-heap of time-keyed nodes.  Each node
 * records its own position, so removal and re-keying are O(log n) with no
 * search: that is what lets a recipient's retry time change, or a job's
 * watchdog be cancelled, without scanning the queue.
 */
#include <stdlib.h>
#include "qmgr.h"

void heap_init(struct heap *h)
{
    h->a = NULL;
    h->n = h->cap = 0;
}

void heap_free(struct heap *h)
{
    free(h->a);
    heap_init(h);
}

static void heap_set(struct heap *h, uint32_t i, struct hnode *x)
{
    h->a[i] = x;
    x->idx = i;
}

static void heap_up(struct heap *h, uint32_t i)
{
    struct hnode *x = h->a[i];

    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->a[p]->key <= x->key)
            break;
        heap_set(h, i, h->a[p]);
        i = p;
    }
    heap_set(h, i, x);
}

static void heap_down(struct heap *h, uint32_t i)
{
    struct hnode *x = h->a[i];

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1]->key < h->a[c]->key)
            c++;
        if (x->key <= h->a[c]->key)
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, x);
}

int heap_push(struct heap *h, struct hnode *x, int64_t key)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 1024;
        struct hnode **a = realloc(h->a, (size_t)cap * sizeof(*a));
        if (a == NULL)
            return -1;
        h->a = a;
        h->cap = cap;
    }
    x->key = key;
    heap_set(h, h->n++, x);
    heap_up(h, x->idx);
    return 0;
}

void heap_remove(struct heap *h, struct hnode *x)
{
    uint32_t i = x->idx;
    struct hnode *last;

    if (i == HEAP_NONE || i >= h->n || h->a[i] != x)
        return;
    last = h->a[--h->n];
    x->idx = HEAP_NONE;
    if (last == x)
        return;
    heap_set(h, i, last);
    heap_up(h, i);
    heap_down(h, last->idx);
}

int heap_update(struct heap *h, struct hnode *x, int64_t key)
{
    if (x->idx == HEAP_NONE)
        return heap_push(h, x, key);
    x->key = key;
    heap_up(h, x->idx);
    heap_down(h, x->idx);
    return 0;
}

struct hnode *heap_top(const struct heap *h)
{
    return h->n ? h->a[0] : NULL;
}
