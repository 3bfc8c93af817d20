/*
 * hmap - a chained hash map from a string key to a pointer, used for the
 * message table (queue id) and the queue table ("domain/vmta").  Keys are
 * not copied: each key points into the value it names, so the value must
 * be removed before it is freed.  Buckets double when the load passes 1.
 */
#include <stdlib.h>
#include <string.h>
#include "qmgr.h"

#define HMAP_MIN_BUCKETS 64

/* hmap_hash - FNV-1a; keys are short and not chosen by an attacker who
 * could also see the table (queue ids are ours, domains are bounded). */
static size_t hmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

void hmap_init(struct hmap *h)
{
    memset(h, 0, sizeof(*h));
}

void *hmap_get(const struct hmap *h, const char *key)
{
    struct hentry *e;

    if (h->nb == 0)
        return NULL;
    for (e = h->b[hmap_hash(key) & (h->nb - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static int hmap_grow(struct hmap *h)
{
    size_t nb = h->nb ? h->nb * 2 : HMAP_MIN_BUCKETS, i;
    struct hentry **b = calloc(nb, sizeof(*b)), *e, *next;

    if (b == NULL)
        return -1;
    for (i = 0; i < h->nb; i++)
        for (e = h->b[i]; e; e = next) {
            next = e->next;
            e->next = b[hmap_hash(e->key) & (nb - 1)];
            b[hmap_hash(e->key) & (nb - 1)] = e;
        }
    free(h->b);
    h->b = b;
    h->nb = nb;
    return 0;
}

int hmap_put(struct hmap *h, const char *key, void *val)
{
    struct hentry *e;
    size_t i;

    if (h->n >= h->nb && hmap_grow(h) < 0)
        return -1;
    e = malloc(sizeof(*e));
    if (e == NULL)
        return -1;
    i = hmap_hash(key) & (h->nb - 1);
    e->key = key;
    e->val = val;
    e->next = h->b[i];
    h->b[i] = e;
    h->n++;
    return 0;
}

void *hmap_del(struct hmap *h, const char *key)
{
    struct hentry **pp, *e;
    void *val;

    if (h->nb == 0)
        return NULL;
    for (pp = &h->b[hmap_hash(key) & (h->nb - 1)]; (e = *pp) != NULL; pp = &e->next)
        if (strcmp(e->key, key) == 0) {
            *pp = e->next;
            val = e->val;
            free(e);
            h->n--;
            return val;
        }
    return NULL;
}

void hmap_each(const struct hmap *h, void (*fn)(void *val, void *arg), void *arg)
{
    struct hentry *e, *next;
    size_t i;

    for (i = 0; i < h->nb; i++)
        for (e = h->b[i]; e; e = next) {
            next = e->next;     /* fn may delete the entry it is given */
            fn(e->val, arg);
        }
}

void hmap_free(struct hmap *h)
{
    struct hentry *e, *next;
    size_t i;

    for (i = 0; i < h->nb; i++)
        for (e = h->b[i]; e; e = next) {
            next = e->next;
            free(e);
        }
    free(h->b);
    memset(h, 0, sizeof(*h));
}
