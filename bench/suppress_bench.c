/*
 * suppress_bench - the suppression database at scale (issue 6): fill it
 * with N addresses (batched transactions, as `mtactl suppression import`
 * does), then time RCPT-style look-ups through a read-only handle, as
 * smtpd does them: hits, misses, and misses with a sender-domain scope
 * (two B-tree searches).
 *   usage: suppress_bench DIR [N [LOOKUPS]]     (bench/suppress.sh builds and runs it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "suppress.h"

#define BATCH 100000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ull;

static unsigned long long xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 10000000L, lookups = argc > 3 ? atol(argv[3]) : 1000000L;
    struct suppress_item *items;
    char (*addrs)[48], err[512], a[64];
    struct suppress_db *w, *r;
    double t0, t1;
    long i, k, hits = 0;

    if (argc < 2 || n <= 0 || lookups <= 0) {
        fprintf(stderr, "usage: suppress_bench DIR [N [LOOKUPS]]\n");
        return 2;
    }
    items = calloc(BATCH, sizeof(*items));
    addrs = calloc(BATCH, sizeof(*addrs));
    w = suppress_open(argv[1], 0, err, sizeof(err));
    if (items == NULL || addrs == NULL || w == NULL) {
        fprintf(stderr, "suppress_bench: %s\n", w ? "out of memory" : err);
        return 1;
    }
    t0 = now_s();
    for (i = 0; i < n; i += BATCH) {
        long m = n - i < BATCH ? n - i : BATCH;

        for (k = 0; k < m; k++) {
            snprintf(addrs[k], sizeof(addrs[k]), "user%ld@domain%ld.example", i + k, (i + k) % 5000);
            items[k].scope = "*";
            items[k].addr = addrs[k];
            items[k].e.time = 1764633600;
            snprintf(items[k].e.reason, sizeof(items[k].e.reason), "bad-mailbox");
            snprintf(items[k].e.source, sizeof(items[k].e.source), "import");
        }
        if (suppress_put_many(w, items, (size_t)m) != m) {
            fprintf(stderr, "suppress_bench: write failed at %ld\n", i);
            return 1;
        }
    }
    t1 = now_s();
    printf("filled %ld entries in %.1f s (%.0f/s)\n", n, t1 - t0, n / (t1 - t0));
    r = suppress_open(argv[1], 1, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "suppress_bench: %s\n", err);
        return 1;
    }
    /* hits: random existing addresses */
    t0 = now_s();
    for (i = 0; i < lookups; i++) {
        unsigned long long x = xorshift() % (unsigned long long)n;

        snprintf(a, sizeof(a), "user%llu@domain%llu.example", x, x % 5000);
        hits += suppress_check(r, a, NULL, NULL) == 1;
    }
    t1 = now_s();
    printf("hits:   %ld look-ups, %ld found, %.2f us each\n", lookups, hits, (t1 - t0) * 1e6 / lookups);
    hits = 0;
    t0 = now_s();
    for (i = 0; i < lookups; i++) {
        snprintf(a, sizeof(a), "nobody%llu@elsewhere.example", xorshift() % 100000000ull);
        hits += suppress_check(r, a, NULL, NULL) == 1;
    }
    t1 = now_s();
    printf("misses: %ld look-ups, %ld found, %.2f us each\n", lookups, hits, (t1 - t0) * 1e6 / lookups);
    t0 = now_s();
    for (i = 0; i < lookups; i++) {
        snprintf(a, sizeof(a), "nobody%llu@elsewhere.example", xorshift() % 100000000ull);
        hits += suppress_check(r, a, "sender.example", NULL) == 1;
    }
    t1 = now_s();
    printf("misses with a sender-domain list too: %.2f us each\n", (t1 - t0) * 1e6 / lookups);
    suppress_close(r);
    suppress_close(w);
    free(items);
    free(addrs);
    return 0;
}
