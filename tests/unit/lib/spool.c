/* Unit tests: spool file encode/decode, durability layout, corruption
 * detection (lib/spool.c) and queue ids (lib/queueid.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "spool.h"
#include "queueid.h"

static char spool_dir[256];

static int setup(void **state)
{
    snprintf(spool_dir, sizeof(spool_dir), "/tmp/courser-spooltest-XXXXXX");
    if (mkdtemp(spool_dir) == NULL)
        return -1;
    return spool_init_dirs(spool_dir);
}

static int teardown(void **state)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void make_env(struct spool_envelope *e, struct spool_rcpt *r)
{
    memset(e, 0, sizeof(*e));
    queue_id_new(e->queue_id);
    e->time_queued = 1700000000;
    e->client_ip = "127.0.0.1";
    e->client_helo = "client.test";
    e->listener = "127.0.0.1:2525";
    e->mail_from = "";
    e->envid = "ENV123";
    e->ret = SPOOL_RET_HDRS;
    e->body_8bit = 1;
    r[0].addr = "a@x.test";
    r[0].orcpt = "rfc822;a@x.test";
    r[0].notify = SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY;
    r[1].addr = "b@y.test";
    e->nrcpt = 2;
    e->rcpts = r;
}

static void test_commit_read_roundtrip(void **state)
{
    struct spool_envelope e, d;
    struct spool_rcpt r[2] = { { 0 } };
    const char msg[] = "Subject: hi\r\n\r\n.leading dot kept\r\n\xe9 8bit\r\n";
    char path[512], err[256], body[128];
    uint64_t off, len;
    int fd;

    make_env(&e, r);
    assert_int_equal(spool_commit(spool_dir, &e, msg, sizeof(msg) - 1), 0);
    assert_int_equal(spool_msg_path(spool_dir, e.queue_id, path, sizeof(path)), 0);
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), 0);
    assert_string_equal(d.queue_id, e.queue_id);
    assert_string_equal(d.mail_from, "");
    assert_string_equal(d.envid, "ENV123");
    assert_null(d.vmta);
    assert_int_equal(d.ret, SPOOL_RET_HDRS);
    assert_int_equal(d.nrcpt, 2);
    assert_string_equal(d.rcpts[0].orcpt, "rfc822;a@x.test");
    assert_int_equal(d.rcpts[0].notify, SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY);
    assert_null(d.rcpts[1].orcpt);
    assert_int_equal(len, sizeof(msg) - 1);
    spool_envelope_free(&d);
    fd = spool_open_message(path, &off, &len, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, body, len, (off_t)off), (ssize_t)len);
    assert_memory_equal(body, msg, len);
    close(fd);
    assert_int_equal(spool_remove(spool_dir, e.queue_id), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(spool_remove(spool_dir, e.queue_id), 0);   /* ENOENT is fine */
}

static void test_truncated_file_refused(void **state)
{
    struct spool_envelope e, d;
    struct spool_rcpt r[2] = { { 0 } };
    char path[512], err[256];
    uint64_t off, len;
    struct stat st;

    make_env(&e, r);
    assert_int_equal(spool_commit(spool_dir, &e, "body\r\n", 6), 0);
    spool_msg_path(spool_dir, e.queue_id, path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 3), 0);
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "trailer"));
    assert_int_equal(spool_open_message(path, &off, &len, err, sizeof(err)), -1);
    assert_int_equal(truncate(path, 5), 0);
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), -1);
}

static void test_corrupt_envelope_refused(void **state)
{
    struct spool_envelope e, d;
    struct spool_rcpt r[2] = { { 0 } };
    char path[512], err[256];
    uint64_t off, len;
    int fd;

    make_env(&e, r);
    assert_int_equal(spool_commit(spool_dir, &e, "body\r\n", 6), 0);
    spool_msg_path(spool_dir, e.queue_id, path, sizeof(path));
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    /* overwrite the queue id's length field with garbage */
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, 12), 4);
    close(fd);
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), -1);
}

static void count_cb(const char *qid, void *arg)
{
    (*(int *)arg)++;
}

static void test_scan_finds_committed_only(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r[2] = { { 0 } };
    char tmp[512];
    int n = 0, i, fd;

    for (i = 0; i < 5; i++) {
        make_env(&e, r);
        assert_int_equal(spool_commit(spool_dir, &e, "x\r\n", 3), 0);
    }
    /* an unfinished tmp file (crash before rename) is not a message */
    snprintf(tmp, sizeof(tmp), "%s/tmp/0000000000000000000000", spool_dir);
    fd = open(tmp, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_true(spool_scan(spool_dir, count_cb, &n) >= 5);
    assert_true(n >= 5);
}

static void test_queue_ids_unique_sorted(void **state)
{
    char prev[QUEUE_ID_SIZE], cur[QUEUE_ID_SIZE];
    int i;

    queue_id_new(prev);
    assert_true(queue_id_valid(prev));
    for (i = 0; i < 100000; i++) {
        queue_id_new(cur);
        assert_true(queue_id_valid(cur));
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof(cur));
    }
    assert_false(queue_id_valid("../../etc/passwd"));
    assert_false(queue_id_valid("0123456789abcdef012345"));   /* lower case */
    assert_false(queue_id_valid("0123456789ABCDEF0123456"));  /* too long */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_read_roundtrip),
        cmocka_unit_test(test_truncated_file_refused),
        cmocka_unit_test(test_corrupt_envelope_refused),
        cmocka_unit_test(test_scan_finds_committed_only),
        cmocka_unit_test(test_queue_ids_unique_sorted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
