/*
 * dkim_bench - DKIM throughput figures (issue 5), built and run by
 * bench/dkim_sign.sh:
 *
 *   dkim_bench keys RSA_PEM ED_PEM THREADS   raw signatures/s, 1 thread and
 *                                            THREADS threads, per algorithm
 *   dkim_bench body                          body hash MB/s per canonicalization
 *   dkim_bench daemon SOCK N                 end-to-end through dkimsign:
 *                                            N requests per algorithm, 256
 *                                            in flight (dkim_client)
 *
 * The signed input is a realistic header-hash input (~700 bytes) built by
 * dkim_sig_prepare, so the figures include nothing but the signing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "dkim_client.h"
#include "dkim_key.h"
#include "dkim_sign.h"

static const char msg[] =
    "From: \"Newsletter\" <news@example.com>\r\nTo: someone@example.org\r\n"
    "Subject: Your weekly digest of things you might like to read\r\n"
    "Date: Sat, 28 Nov 2026 13:00:00 +0000\r\nMessage-ID: <abc.123@example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
    "List-Unsubscribe: <https://example.com/u/123>\r\n\r\n<html>...</html>\r\n";

static struct buf input;

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void make_input(const char *selector, enum dkim_alg alg)
{
    static struct dkim_headers h;
    struct dkim_sig_params sp = { "example.com", selector, alg, DKIM_CANON_RELAXED,
                                  DKIM_CANON_RELAXED, NULL, NULL, 1, 0, 0 };
    struct dkim_sig sig;
    unsigned char bh[32] = { 0 };
    char err[256];

    if (dkim_headers_parse(msg, sizeof(msg) - 1, &h, err, sizeof(err)) < 0
        || dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)) < 0) {
        fprintf(stderr, "dkim_bench: %s\n", err);
        exit(1);
    }
    buf_free(&input);
    input = sig.input;
    buf_free(&sig.header);
}

struct worker {
    pthread_t t;
    const struct dkim_key *k;
    double until;
    long n;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char b64[DKIM_SIG_B64_MAX], err[256];

    while (now() < w->until)
        for (int i = 0; i < 10; i++, w->n++)
            if (dkim_key_sign(w->k, input.data, input.len, b64, err, sizeof(err)) < 0)
                exit(1);
    return NULL;
}

static double rate(const struct dkim_key *k, int threads, double secs)
{
    struct worker w[64];
    double t0 = now();
    long total = 0;
    int i;

    for (i = 0; i < threads; i++) {
        w[i].k = k;
        w[i].n = 0;
        w[i].until = t0 + secs;
        if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0)
            exit(1);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(w[i].t, NULL);
        total += w[i].n;
    }
    return (double)total / (now() - t0);
}

static int bench_keys(const char *rsa, const char *ed, int threads)
{
    const char *files[2] = { rsa, ed };
    struct dkim_key *k;
    char err[512];

    for (int i = 0; i < 2; i++) {
        if (dkim_key_load(files[i], DKIM_ALG_NONE, &k, err, sizeof(err)) < 0) {
            fprintf(stderr, "dkim_bench: %s\n", err);
            return 1;
        }
        make_input("s", dkim_key_alg(k));
        printf("%-16s %4u bits  1 thread: %8.0f sig/s   %d threads: %8.0f sig/s\n",
               dkim_alg_name(dkim_key_alg(k)), dkim_key_bits(k), rate(k, 1, 2.0), threads,
               rate(k, threads, 2.0));
        dkim_key_free(k);
    }
    return 0;
}

static int bench_body(void)
{
    size_t n = 64 * 1024 * 1024, i;
    char *body = malloc(n);
    unsigned char bh[32];

    for (i = 0; i < n; i++)
        body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (i % 9 == 0) ? ' ' : 'a' + (char)(i % 26);
    for (int c = 0; c < 2; c++) {
        struct dkim_body b;
        double t0 = now();
        dkim_body_init(&b, (enum dkim_canon)c);
        for (i = 0; i < n; i += 65536)
            dkim_body_update(&b, body + i, 65536);
        dkim_body_final(&b, bh);
        printf("body hash %-8s %8.0f MB/s\n", dkim_canon_name((enum dkim_canon)c),
               (double)n / 1e6 / (now() - t0));
    }
    free(body);
    return 0;
}

struct dstate {
    struct dkim_client *c;
    struct dkim_key_ref key;
    long sent, done, failed, total;
};

static void on_sig(void *arg, int status, const char *error, const char *sig)
{
    struct dstate *d = arg;

    d->done++;
    if (status != DKIM_ST_OK && d->failed++ == 0)
        fprintf(stderr, "dkim_bench: status %d: %s\n", status, error);
    if (d->sent < d->total && dkim_client_sign(d->c, &d->key, &input, on_sig, d) > 0)
        d->sent++;
}

static int bench_daemon(const char *sock, long n)
{
    static const struct { const char *sel; enum dkim_alg alg; } keys[] = {
        { "rsa", DKIM_ALG_RSA_SHA256 }, { "ed", DKIM_ALG_ED25519_SHA256 } };
    uv_loop_t *loop = uv_default_loop();

    for (int i = 0; i < 2; i++) {
        struct dstate d = { 0 };
        double t0;
        d.c = dkim_client_new(loop, sock);
        d.total = n;
        snprintf(d.key.domain, sizeof(d.key.domain), "example.com");
        snprintf(d.key.selector, sizeof(d.key.selector), "%s", keys[i].sel);
        d.key.alg = keys[i].alg;
        make_input(keys[i].sel, keys[i].alg);
        t0 = now();
        while (d.sent < 256 && d.sent < n && dkim_client_sign(d.c, &d.key, &input, on_sig, &d) > 0)
            d.sent++;
        if (d.sent == 0) {
            fprintf(stderr, "dkim_bench: cannot reach %s\n", sock);
            return 1;
        }
        while (d.done < d.sent)
            uv_run(loop, UV_RUN_ONCE);
        printf("dkimsign daemon %-16s %8.0f sig/s end to end (%ld requests, %ld failed)\n",
               dkim_alg_name(keys[i].alg), (double)d.done / (now() - t0), d.done, d.failed);
        dkim_client_free(d.c);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    return 0;
}

int main(int argc, char **argv)
{
    buf_init(&input, 1 << 20);
    if (argc == 5 && strcmp(argv[1], "keys") == 0)
        return bench_keys(argv[2], argv[3], atoi(argv[4]));
    if (argc == 2 && strcmp(argv[1], "body") == 0)
        return bench_body();
    if (argc == 4 && strcmp(argv[1], "daemon") == 0)
        return bench_daemon(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: dkim_bench keys RSA_PEM ED_PEM THREADS | body | daemon SOCK N\n");
    return 2;
}
