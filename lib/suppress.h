/*
 * suppress - the suppression database: addresses Courser refuses to send
 * to, with why, when and who added them.  LMDB, in one folder (default
 * SPOOL/suppress).  bounced is the one writer (hard bounces, complaints,
 * mtactl); smtpd opens it read-only and looks every RCPT up.
 *
 * Keys are "SCOPE ADDRESS": SCOPE is "*" for the global list or a sender
 * domain (the entry then applies to mail from that domain only); the
 * address is lower-cased whole (local parts are case-sensitive in theory,
 * but no mailbox provider treats them so, and a suppression that misses
 * "John@x" for "john@x" is worse than one that is too broad).
 * Values are a small versioned binary record (suppress_value_decode
 * validates every length: the file may be damaged).
 * Look-ups reuse one read transaction (reset/renew), so a RCPT check is
 * one B-tree search in the shared memory map: microseconds at 10 million
 * entries (bench/suppress_bench.c).
 */
#ifndef COURSER_SUPPRESS_H
#define COURSER_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#define SUPPRESS_KEY_MAX 600    /* scope + ' ' + address, lower-cased */

struct suppress_entry {
    int64_t time;               /* added, seconds since the epoch */
    char reason[64];            /* bounce category, "complaint", "manual" */
    char source[16];            /* b (bounce), rb (remote bounce), f (FBL), admin, import */
    char detail[256];           /* status / feedback type / queue id; no CR/LF */
};

struct suppress_db;

/* Open (readonly 0: create dir and database as needed).  NULL with err. */
struct suppress_db *suppress_open(const char *dir, int readonly, char *err, size_t errlen);
void suppress_close(struct suppress_db *db);

/* "SCOPE ADDR" lower-cased into out; -1 when empty, too long or holding
 * blanks or control bytes. */
int suppress_key(const char *scope, const char *addr, char *out, size_t outlen);
/* Add or replace.  0, or -1 (read-only, bad address, LMDB error). */
int suppress_put(struct suppress_db *db, const char *scope, const char *addr,
                 const struct suppress_entry *e);
struct suppress_item {
    const char *scope, *addr;
    struct suppress_entry e;
};
/* Many in one transaction (import, benchmarks).  Returns how many were
 * stored, -1 on an LMDB error. */
long suppress_put_many(struct suppress_db *db, const struct suppress_item *items, size_t n);
/* 1 removed, 0 not there, -1 error. */
int suppress_del(struct suppress_db *db, const char *scope, const char *addr);
/* 1 found (*e filled when e is not NULL), 0 not found, -1 error. */
int suppress_get(struct suppress_db *db, const char *scope, const char *addr,
                 struct suppress_entry *e);
/* Is rcpt suppressed for mail from sender_domain (global list first, then
 * the sender domain's)?  Same returns as suppress_get. */
int suppress_check(struct suppress_db *db, const char *rcpt, const char *sender_domain,
                   struct suppress_entry *e);
/* Call fn for every entry in key order (scope NULL = all scopes) until it
 * returns non-zero.  Returns the count visited, -1 on error. */
long suppress_each(struct suppress_db *db, const char *scope,
                   int (*fn)(const char *scope, const char *addr,
                             const struct suppress_entry *e, void *arg), void *arg);

/* The value codec (exported for tests and the fuzz target). */
int suppress_value_encode(const struct suppress_entry *e, unsigned char *out, size_t outlen);
int suppress_value_decode(const unsigned char *p, size_t n, struct suppress_entry *e);

#endif
