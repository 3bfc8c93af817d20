/*
 * suppress - the LMDB suppression database (see suppress.h).
 *
 * Failures: open errors name the folder and LMDB's reason; a write that
 * finds the map full doubles it and retries; a reader that finds the map
 * grown by the writer (MDB_MAP_RESIZED) adopts the new size and retries.
 */
#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "suppress.h"

#define SUPPRESS_MAP_INITIAL (1ull << 32)      /* 4 GiB, sparse */
#define SUPPRESS_VALUE_MAX 400
#define SUPPRESS_VERSION 1

struct suppress_db {
    MDB_env *env;
    MDB_dbi dbi;
    int readonly;
    MDB_txn *rtxn;          /* reused read transaction (reset between uses) */
    size_t mapsize;
    unsigned writes;        /* since the last stale-reader sweep */
};

/* A reader killed with -9 (an smtpd) leaves its slot in the lock file,
 * pinning an old snapshot so freed pages are never reused; the writer
 * clears such slots at open and every so many writes. */
#define SUPPRESS_READER_CHECK_EVERY 1024

/* --- value codec: u8 version, i64 time (BE), then three u8-length strings */
static int put_str(unsigned char *out, size_t outlen, size_t *off, const char *s)
{
    size_t n = strlen(s);

    if (n > 255 || *off + 1 + n > outlen)
        return -1;
    out[(*off)++] = (unsigned char)n;
    memcpy(out + *off, s, n);
    *off += n;
    return 0;
}

int suppress_value_encode(const struct suppress_entry *e, unsigned char *out, size_t outlen)
{
    size_t off = 0;
    uint64_t t = (uint64_t)e->time;
    int i;

    if (outlen < 9)
        return -1;
    out[off++] = SUPPRESS_VERSION;
    for (i = 7; i >= 0; i--)
        out[off++] = (unsigned char)(t >> (i * 8));
    if (put_str(out, outlen, &off, e->reason) < 0 || put_str(out, outlen, &off, e->source) < 0
        || put_str(out, outlen, &off, e->detail) < 0)
        return -1;
    return (int)off;
}

static int get_str(const unsigned char *p, size_t n, size_t *off, char *dst, size_t dstlen)
{
    size_t len, i;

    if (*off >= n)
        return -1;
    len = p[(*off)++];
    if (len >= dstlen || *off + len > n)
        return -1;
    for (i = 0; i < len; i++)
        if (p[*off + i] < 0x20 || p[*off + i] == 0x7f)
            return -1;
    memcpy(dst, p + *off, len);
    dst[len] = '\0';
    *off += len;
    return 0;
}

int suppress_value_decode(const unsigned char *p, size_t n, struct suppress_entry *e)
{
    size_t off = 1;
    uint64_t t = 0;
    int i;

    memset(e, 0, sizeof(*e));
    if (n < 9 || p[0] != SUPPRESS_VERSION)
        return -1;
    for (i = 0; i < 8; i++)
        t = (t << 8) | p[off++];
    e->time = (int64_t)t;
    if (get_str(p, n, &off, e->reason, sizeof(e->reason)) < 0
        || get_str(p, n, &off, e->source, sizeof(e->source)) < 0
        || get_str(p, n, &off, e->detail, sizeof(e->detail)) < 0 || off != n)
        return -1;
    return 0;
}

/* --- keys --------------------------------------------------------------- */
int suppress_key(const char *scope, const char *addr, char *out, size_t outlen)
{
    size_t i, o = 0, ns = strlen(scope), na;

    while (*addr == '<')
        addr++;
    na = strlen(addr);
    if (na > 0 && addr[na - 1] == '>')
        na--;
    if (ns == 0 || na == 0 || ns + 1 + na + 1 > outlen || memchr(addr, '@', na) == NULL)
        return -1;
    for (i = 0; i < ns; i++) {
        unsigned char c = (unsigned char)scope[i];
        if (c <= 0x20 || c == 0x7f)
            return -1;
        out[o++] = (char)tolower(c);
    }
    out[o++] = ' ';
    for (i = 0; i < na; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c <= 0x20 || c == 0x7f)
            return -1;
        out[o++] = (char)tolower(c);
    }
    out[o] = '\0';
    return 0;
}

/* --- open/close ---------------------------------------------------------- */
static void set_err(char *err, size_t errlen, const char *dir, const char *what, int rc)
{
    snprintf(err, errlen, "suppression database %s: %s: %s", dir, what,
             rc > 0 && rc < 1000 ? strerror(rc) : mdb_strerror(rc));
}

struct suppress_db *suppress_open(const char *dir, int readonly, char *err, size_t errlen)
{
    struct suppress_db *db = calloc(1, sizeof(*db));
    MDB_txn *txn;
    int rc;

    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->readonly = readonly;
    db->mapsize = SUPPRESS_MAP_INITIAL;
    if (!readonly && mkdir(dir, 0750) < 0 && errno != EEXIST) {
        set_err(err, errlen, dir, "mkdir", errno);
        free(db);
        return NULL;
    }
    if ((rc = mdb_env_create(&db->env)) != 0) {
        set_err(err, errlen, dir, "create", rc);
        free(db);
        return NULL;
    }
    if ((!readonly && (rc = mdb_env_set_mapsize(db->env, db->mapsize)) != 0)
        || (rc = mdb_env_open(db->env, dir, (readonly ? MDB_RDONLY : 0) | MDB_NOTLS, 0640)) != 0) {
        set_err(err, errlen, dir, "open", rc);
        goto fail;
    }
    if ((rc = mdb_txn_begin(db->env, NULL, readonly ? MDB_RDONLY : 0, &txn)) != 0) {
        set_err(err, errlen, dir, "transaction", rc);
        goto fail;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &db->dbi)) != 0) {
        mdb_txn_abort(txn);
        set_err(err, errlen, dir, "database", rc);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        set_err(err, errlen, dir, "commit", rc);
        goto fail;
    }
    if (!readonly)
        (void)mdb_reader_check(db->env, NULL);
    return db;
fail:
    mdb_env_close(db->env);
    free(db);
    return NULL;
}

void suppress_close(struct suppress_db *db)
{
    if (db == NULL)
        return;
    if (db->rtxn)
        mdb_txn_abort(db->rtxn);
    mdb_env_close(db->env);
    free(db);
}

/* --- reads --------------------------------------------------------------- */
/* read_begin - the reused read transaction, renewed. */
static int read_begin(struct suppress_db *db, MDB_txn **txn)
{
    int rc;

    if (db->rtxn == NULL) {
        rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->rtxn);
        if (rc == MDB_MAP_RESIZED) {
            if (mdb_env_set_mapsize(db->env, 0) != 0)
                return -1;
            rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->rtxn);
        }
        if (rc != 0) {
            db->rtxn = NULL;
            return -1;
        }
    } else if (mdb_txn_renew(db->rtxn) != 0) {
        mdb_txn_abort(db->rtxn);
        db->rtxn = NULL;
        return read_begin(db, txn);
    }
    *txn = db->rtxn;
    return 0;
}

static void read_end(struct suppress_db *db)
{
    if (db->rtxn)
        mdb_txn_reset(db->rtxn);
}

static int get_key(struct suppress_db *db, const char *key, struct suppress_entry *e)
{
    MDB_txn *txn;
    MDB_val k, v;
    int rc, ret;
    struct suppress_entry tmp;

    if (read_begin(db, &txn) < 0)
        return -1;
    k.mv_data = (void *)key;
    k.mv_size = strlen(key);
    rc = mdb_get(txn, db->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        ret = 0;
    else if (rc != 0)
        ret = -1;
    else
        ret = suppress_value_decode(v.mv_data, v.mv_size, e ? e : &tmp) < 0 ? -1 : 1;
    read_end(db);
    return ret;
}

int suppress_get(struct suppress_db *db, const char *scope, const char *addr,
                 struct suppress_entry *e)
{
    char key[SUPPRESS_KEY_MAX];

    if (suppress_key(scope, addr, key, sizeof(key)) < 0)
        return 0;       /* no such key can exist */
    return get_key(db, key, e);
}

int suppress_check(struct suppress_db *db, const char *rcpt, const char *sender_domain,
                   struct suppress_entry *e)
{
    int rc = suppress_get(db, "*", rcpt, e);

    if (rc != 0 || sender_domain == NULL || sender_domain[0] == '\0')
        return rc;
    return suppress_get(db, sender_domain, rcpt, e);
}

long suppress_each(struct suppress_db *db, const char *scope,
                   int (*fn)(const char *scope, const char *addr,
                             const struct suppress_entry *e, void *arg), void *arg)
{
    char prefix[SUPPRESS_KEY_MAX], key[SUPPRESS_KEY_MAX];
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t plen = 0;
    long count = 0;
    int rc;

    if (scope) {
        plen = (size_t)snprintf(prefix, sizeof(prefix), "%s ", scope);
        if (plen >= sizeof(prefix))
            return -1;
        for (size_t i = 0; i < plen; i++)
            prefix[i] = (char)tolower((unsigned char)prefix[i]);
    }
    if (read_begin(db, &txn) < 0)
        return -1;
    if (mdb_cursor_open(txn, db->dbi, &cur) != 0) {
        read_end(db);
        return -1;
    }
    k.mv_data = prefix;
    k.mv_size = plen;
    rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        struct suppress_entry e;
        char *sp;

        if (k.mv_size >= sizeof(key) || (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)))
            break;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = '\0';
        sp = strchr(key, ' ');
        if (sp && suppress_value_decode(v.mv_data, v.mv_size, &e) == 0) {
            *sp = '\0';
            count++;
            if (fn(key, sp + 1, &e, arg) != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    read_end(db);
    return rc == 0 || rc == MDB_NOTFOUND ? count : -1;
}

/* --- writes ------------------------------------------------------------- */
static int grow(struct suppress_db *db)
{
    db->mapsize *= 2;
    return mdb_env_set_mapsize(db->env, db->mapsize) == 0 ? 0 : -1;
}

/* write_once - one transaction: put the n items (del when del is set). */
static int write_once(struct suppress_db *db, const struct suppress_item *items, size_t n,
                      int del, long *done)
{
    MDB_txn *txn;
    unsigned char val[SUPPRESS_VALUE_MAX];
    char key[SUPPRESS_KEY_MAX];
    MDB_val k, v;
    size_t i;
    int rc, vlen;

    *done = 0;
    if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (suppress_key(items[i].scope, items[i].addr, key, sizeof(key)) < 0)
            continue;
        k.mv_data = key;
        k.mv_size = strlen(key);
        if (del) {
            rc = mdb_del(txn, db->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                continue;
        } else {
            vlen = suppress_value_encode(&items[i].e, val, sizeof(val));
            if (vlen < 0)
                continue;
            v.mv_data = val;
            v.mv_size = (size_t)vlen;
            rc = mdb_put(txn, db->dbi, &k, &v, 0);
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            *done = 0;
            return rc;
        }
        (*done)++;
    }
    return mdb_txn_commit(txn);
}

static long write_items(struct suppress_db *db, const struct suppress_item *items, size_t n, int del)
{
    long done;
    int rc;

    if (db->readonly)
        return -1;
    if (db->rtxn) {             /* a writer's stale snapshot would pin pages */
        mdb_txn_abort(db->rtxn);
        db->rtxn = NULL;
    }
    if (++db->writes >= SUPPRESS_READER_CHECK_EVERY) {
        db->writes = 0;
        (void)mdb_reader_check(db->env, NULL);
    }
    while ((rc = write_once(db, items, n, del, &done)) == MDB_MAP_FULL)
        if (grow(db) < 0)
            return -1;
    return rc == 0 ? done : -1;
}

long suppress_put_many(struct suppress_db *db, const struct suppress_item *items, size_t n)
{
    return write_items(db, items, n, 0);
}

int suppress_put(struct suppress_db *db, const char *scope, const char *addr,
                 const struct suppress_entry *e)
{
    struct suppress_item it = { scope, addr, *e };
    char key[SUPPRESS_KEY_MAX];

    if (suppress_key(scope, addr, key, sizeof(key)) < 0)
        return -1;
    return write_items(db, &it, 1, 0) == 1 ? 0 : -1;
}

int suppress_del(struct suppress_db *db, const char *scope, const char *addr)
{
    struct suppress_item it;
    long n;

    memset(&it, 0, sizeof(it));
    it.scope = scope;
    it.addr = addr;
    n = write_items(db, &it, 1, 1);
    return n < 0 ? -1 : n > 0;
}
