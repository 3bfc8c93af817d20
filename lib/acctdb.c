/*
 * acctdb - accounting LMDB (layout in acctdb.h).  Written only by acctd's
 * thread-pool worker, one transaction per batch; read by
 * `acctd --lookup` and bounced (separate processes: LMDB's readers never
 * block the writer).
 */
#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "acctdb.h"

#define ACCTDB_MAPSIZE_MAX (1ull << 40)
#define ACCTDB_KEY_MAX 511              /* LMDB's default key size limit */

static const char *const index_names[] = { "by-queue-id", "by-rcpt", "by-job" };

struct acctdb {
    MDB_env *env;
    MDB_dbi records;
    MDB_dbi index[3];
    int have_dbs;
    uint64_t next_seq;
    uint64_t mapsize;
};

static void seq_key(uint64_t seq, unsigned char out[8])
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(seq & 0xff);
        seq >>= 8;
    }
}

static uint64_t seq_from_key(const unsigned char *k)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | k[i];
    return v;
}

/* db_open_dbis - open the four databases (creating them when writing)
 * and find the last sequence number. */
static int db_open_dbis(struct acctdb *db, int readonly, char *err, size_t errlen)
{
    unsigned flags = readonly ? 0 : MDB_CREATE;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, i;

    rc = mdb_txn_begin(db->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        goto fail;
    rc = mdb_dbi_open(txn, "records", flags, &db->records);
    for (i = 0; i < 3 && rc == 0; i++)
        rc = mdb_dbi_open(txn, index_names[i], flags | MDB_DUPSORT, &db->index[i]);
    if (rc == MDB_NOTFOUND && readonly) {
        mdb_txn_abort(txn);     /* nothing written yet: every look-up is empty */
        return 0;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    rc = mdb_cursor_open(txn, db->records, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        db->next_seq = seq_from_key(k.mv_data) + 1;
    mdb_cursor_close(cur);
    /* Commit even a read-only transaction: aborting it would close the
     * database handles it opened. */
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        goto fail;
    db->have_dbs = 1;
    return 0;
fail:
    snprintf(err, errlen, "lmdb: %s", mdb_strerror(rc));
    return -1;
}

int acctdb_open(struct acctdb **out, const char *dir, uint64_t mapsize, int readonly,
                char *err, size_t errlen)
{
    struct acctdb *db = calloc(1, sizeof(*db));
    int rc;

    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!readonly && mkdir(dir, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        free(db);
        return -1;
    }
    db->mapsize = mapsize ? mapsize : ACCTDB_MAPSIZE_DEFAULT;
    if ((rc = mdb_env_create(&db->env)) != 0
        || (rc = mdb_env_set_maxdbs(db->env, 8)) != 0
        || (rc = mdb_env_set_mapsize(db->env, db->mapsize)) != 0
        || (rc = mdb_env_open(db->env, dir, (readonly ? MDB_RDONLY : 0) | MDB_NOTLS, 0640)) != 0) {
        snprintf(err, errlen, "lmdb %s: %s", dir, mdb_strerror(rc));
        if (db->env)
            mdb_env_close(db->env);
        free(db);
        return -1;
    }
    if (db_open_dbis(db, readonly, err, errlen) < 0) {
        mdb_env_close(db->env);
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void acctdb_close(struct acctdb *db)
{
    if (db == NULL)
        return;
    mdb_env_close(db->env);
    free(db);
}

/* lower_key - the recipient index is case-insensitive. */
static size_t lower_key(const char *s, char *out, size_t outlen)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    return s[i] == '\0' ? i : 0;    /* 0: too long to index */
}

static int put_index(MDB_txn *txn, MDB_dbi dbi, const char *key, int lower,
                     unsigned char seq[8])
{
    char tmp[ACCTDB_KEY_MAX + 1];
    MDB_val k, v;
    size_t n;

    if (key == NULL || key[0] == '\0')
        return 0;
    if (lower) {
        if ((n = lower_key(key, tmp, sizeof(tmp))) == 0)
            return 0;
        k.mv_data = tmp;
    } else {
        if ((n = strlen(key)) > ACCTDB_KEY_MAX)
            return 0;
        k.mv_data = (void *)key;
    }
    k.mv_size = n;
    v.mv_data = seq;
    v.mv_size = 8;
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* db_put_once - one transaction for the batch; MDB_MAP_FULL is returned
 * for the caller to grow the map. */
static int db_put_once(struct acctdb *db, const struct acctdb_item *items, size_t n)
{
    unsigned char seq[8];
    uint64_t next = db->next_seq;
    MDB_txn *txn;
    MDB_val k, v;
    size_t i;
    int rc;

    if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++, next++) {
        seq_key(next, seq);
        k.mv_data = seq;
        k.mv_size = 8;
        v.mv_data = items[i].line;
        v.mv_size = strlen(items[i].line);
        rc = mdb_put(txn, db->records, &k, &v, MDB_APPEND);
        if (rc == 0)
            rc = put_index(txn, db->index[ACCTDB_BY_QUEUE_ID], items[i].queue_id, 0, seq);
        if (rc == 0)
            rc = put_index(txn, db->index[ACCTDB_BY_RCPT], items[i].rcpt, 1, seq);
        if (rc == 0)
            rc = put_index(txn, db->index[ACCTDB_BY_JOB], items[i].job_id, 0, seq);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) == 0)
        db->next_seq = next;
    return rc;
}

int acctdb_put(struct acctdb *db, const struct acctdb_item *items, size_t n,
               char *err, size_t errlen)
{
    int rc;

    while ((rc = db_put_once(db, items, n)) == MDB_MAP_FULL
           && db->mapsize < ACCTDB_MAPSIZE_MAX) {
        /* Legal here: this process has no transaction open. */
        db->mapsize *= 2;
        if ((rc = mdb_env_set_mapsize(db->env, db->mapsize)) != 0)
            break;
    }
    if (rc != 0) {
        snprintf(err, errlen, "lmdb: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

int acctdb_lookup(struct acctdb *db, enum acctdb_index idx, const char *key,
                  void (*fn)(const char *line, size_t len, void *arg), void *arg,
                  char *err, size_t errlen)
{
    char tmp[ACCTDB_KEY_MAX + 1];
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v, rk, rv;
    int rc, count = 0;
    MDB_cursor_op op = MDB_SET;
    const char *what = "begin";

    if (!db->have_dbs || key[0] == '\0')
        return 0;
    k.mv_size = idx == ACCTDB_BY_RCPT ? lower_key(key, tmp, sizeof(tmp)) : strlen(key);
    k.mv_data = idx == ACCTDB_BY_RCPT ? tmp : (void *)key;
    if (k.mv_size == 0 || k.mv_size > ACCTDB_KEY_MAX)
        return 0;
    if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
        goto fail;
    what = "cursor";
    if ((rc = mdb_cursor_open(txn, db->index[idx], &cur)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    what = "get";
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT_DUP;
        if (v.mv_size != 8)
            continue;
        rk = v;
        if (mdb_get(txn, db->records, &rk, &rv) == 0) {
            fn(rv.mv_data, rv.mv_size, arg);
            count++;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND)
        goto fail;
    return count;
fail:
    snprintf(err, errlen, "lmdb %s: %s", what, mdb_strerror(rc));
    return -1;
}

int acctdb_dir_for(const char *acct_path, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.lmdb", acct_path);

    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

/* acctdb_parse_line - RFC 4180: a field is plain up to the next comma,
 * or quoted with "" for a quote.  The line is ours (acctd wrote it), but
 * it is read back from disk, so it is parsed as carefully as any input. */
int acctdb_parse_line(const char *line, size_t len, struct acct_record *r)
{
    char *cell = malloc(len + 1);
    size_t i = 0, o;
    int f = 0;

    memset(r, 0, sizeof(*r));
    if (cell == NULL)
        return -1;
    for (;;) {
        o = 0;
        if (f >= AF_COUNT)
            goto bad;
        if (i < len && line[i] == '"') {
            for (i++;; i++) {
                if (i >= len)
                    goto bad;               /* unterminated quote */
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        cell[o++] = '"';
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                if (line[i] == '\0')
                    goto bad;
                cell[o++] = line[i];
            }
            if (i < len && line[i] != ',')
                goto bad;
        } else {
            while (i < len && line[i] != ',') {
                if (line[i] == '"' || line[i] == '\0')
                    goto bad;
                cell[o++] = line[i++];
            }
        }
        cell[o] = '\0';
        if (o > 0 && acct_set(r, (enum acct_field)f, cell) < 0)
            goto bad;
        f++;
        if (i >= len)
            break;
        i++;                                /* the comma */
    }
    free(cell);
    return 0;
bad:
    free(cell);
    acct_record_free(r);
    memset(r, 0, sizeof(*r));
    return -1;
}
