/* Unit tests: acctd's CSV quoting and header (acctd/csv.c), record type
 * masks, new-file header and rotation (acctd/acctfile.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "../../../acctd/csv.h"
#include "../../../acctd/acctfile.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/courser-accttest-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *field(const char *v)
{
    static struct buf b;

    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(csv_append_field(&b, v), 0);
    return b.data ? b.data : "";
}

static void test_quoting(void **state)
{
    (void)state;
    assert_string_equal(field("plain"), "plain");
    assert_string_equal(field(""), "");
    assert_string_equal(field(NULL), "");
    assert_string_equal(field("a,b"), "\"a,b\"");
    assert_string_equal(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_string_equal(field("\""), "\"\"\"\"");
    assert_string_equal(field("line1\r\nline2"), "\"line1\r\nline2\"");
    assert_string_equal(field("lf\nonly"), "\"lf\nonly\"");
    assert_string_equal(field("smtp;250 2.0.0 Ok"), "smtp;250 2.0.0 Ok");
    assert_string_equal(field(" spaces kept "), " spaces kept ");
}

static void test_record_and_header(void **state)
{
    struct acct_record r;
    int fields[] = { AF_TYPE, AF_RCPT, AF_DSN_DIAG, AF_ORCPT, AF_QUEUE };
    struct buf b;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(acct_set(&r, AF_TYPE, "d"), 0);
    assert_int_equal(acct_set(&r, AF_RCPT, "a@b.example"), 0);
    assert_int_equal(acct_set(&r, AF_DSN_DIAG, "smtp;250 ok, \"queued\""), 0);
    assert_int_equal(acct_set(&r, AF_QUEUE, "b.example/vmta1"), 0);
    buf_init(&b, 4096);
    assert_int_equal(csv_append_record(&b, &r, fields, 5), 0);
    assert_string_equal(b.data, "d,a@b.example,\"smtp;250 ok, \"\"queued\"\"\",,b.example/vmta1");
    buf_reset(&b);
    assert_int_equal(csv_append_header(&b, fields, 5), 0);
    assert_string_equal(b.data, "type,rcpt,dsnDiag,orcpt,queue");
    buf_free(&b);
    acct_record_free(&r);
}

static void test_type_bits(void **state)
{
    (void)state;
    assert_int_equal(acctfile_type_bit("d"), ACCT_REC_D);
    assert_int_equal(acctfile_type_bit("b"), ACCT_REC_B);
    assert_int_equal(acctfile_type_bit("t"), ACCT_REC_T);
    assert_int_equal(acctfile_type_bit("tq"), ACCT_REC_TQ);
    assert_int_equal(acctfile_type_bit("rb"), ACCT_REC_RB);
    assert_int_equal(acctfile_type_bit("rs"), ACCT_REC_RS);
    assert_int_equal(acctfile_type_bit("r"), ACCT_REC_R);
    assert_int_equal(acctfile_type_bit("f"), ACCT_REC_F);
    assert_int_equal(acctfile_type_bit("x"), 0);
    assert_int_equal(acctfile_type_bit(""), 0);
    assert_int_equal(acctfile_type_bit(NULL), 0);
}

static char *slurp(const char *path)
{
    static char data[65536];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(data, 1, sizeof(data) - 1, f);
    data[n] = '\0';
    fclose(f);
    return data;
}

static void record(struct acct_record *r, const char *type, const char *rcpt)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(acct_set(r, AF_TYPE, type), 0);
    assert_int_equal(acct_set(r, AF_RCPT, rcpt), 0);
}

static void test_file_mask_header_rotation(void **state)
{
    struct cfg_acct_file cf;
    struct acct_out o;
    struct acct_record r;
    char err[256], rotated[PATH_MAX + 64];
    struct stat st;
    time_t t = 1795000000;  /* 2026-11-18 ... UTC */

    (void)state;
    memset(&cf, 0, sizeof(cf));
    snprintf(cf.path, sizeof(cf.path), "%s/acct.csv", dir);
    cf.records = ACCT_REC_D | ACCT_REC_B;
    cf.fields[0] = AF_TYPE;
    cf.fields[1] = AF_RCPT;
    cf.nfields = 2;
    cf.max_size = 60;
    assert_int_equal(acctfile_init(&o, &cf, err, sizeof(err)), 0);
    /* a new file holds just the header */
    assert_string_equal(slurp(cf.path), "type,rcpt\r\n");

    record(&r, "d", "x@y");
    assert_int_equal(acctfile_add(&o, &r, acctfile_type_bit("d")), 1);
    acct_record_free(&r);
    record(&r, "t", "skip@y");
    assert_int_equal(acctfile_add(&o, &r, acctfile_type_bit("t")), 0);   /* masked out */
    acct_record_free(&r);
    record(&r, "b", "q,\"uote\"@y");
    assert_int_equal(acctfile_add(&o, &r, acctfile_type_bit("b")), 1);
    acct_record_free(&r);
    assert_int_equal(acctfile_flush(&o, t, err, sizeof(err)), 0);
    assert_string_equal(slurp(cf.path), "type,rcpt\r\nd,x@y\r\nb,\"q,\"\"uote\"\"@y\"\r\n");

    /* past max-size (60): the next flush rotates */
    record(&r, "d", "0123456789012345678901234567890");
    assert_int_equal(acctfile_add(&o, &r, ACCT_REC_D), 1);
    acct_record_free(&r);
    assert_int_equal(acctfile_flush(&o, t, err, sizeof(err)), 0);
    assert_int_equal(acctfile_rotated_name(cf.path, t, rotated, sizeof(rotated)), 0);
    assert_non_null(strstr(rotated, "/acct-20261118-"));
    assert_int_equal(stat(rotated, &st), 0);
    assert_non_null(strstr(slurp(rotated), "0123456789012345678901234567890\r\n"));
    assert_string_equal(slurp(cf.path), "type,rcpt\r\n");
    acctfile_free(&o);

    /* reopening with other fields: the old-layout file is rotated away */
    cf.fields[1] = AF_QUEUE_ID;
    assert_int_equal(acctfile_init(&o, &cf, err, sizeof(err)), 0);
    assert_string_equal(slurp(cf.path), "type,queueId\r\n");
    record(&r, "d", "z@y");
    assert_int_equal(acct_set(&r, AF_QUEUE_ID, "Q1"), 0);
    assert_int_equal(acctfile_add(&o, &r, ACCT_REC_D), 1);
    acct_record_free(&r);
    assert_int_equal(acctfile_flush(&o, t, err, sizeof(err)), 0);
    acctfile_free(&o);
    /* same fields: appended to, the earlier line kept, no second header */
    assert_int_equal(acctfile_init(&o, &cf, err, sizeof(err)), 0);
    record(&r, "d", "z@y");
    assert_int_equal(acctfile_add(&o, &r, ACCT_REC_D), 1);
    acct_record_free(&r);
    assert_int_equal(acctfile_flush(&o, t, err, sizeof(err)), 0);
    assert_string_equal(slurp(cf.path), "type,queueId\r\nd,Q1\r\nd,\r\n");
    acctfile_free(&o);
}

static void test_rotated_name(void **state)
{
    char out[256];

    (void)state;
    assert_int_equal(acctfile_rotated_name("/v/acct.csv", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "/v/acct-19700101-000000.csv");
    assert_int_equal(acctfile_rotated_name("/v/acct", 86399, out, sizeof(out)), 0);
    assert_string_equal(out, "/v/acct-19700101-235959.csv");
    assert_int_equal(acctfile_rotated_name("/v/acct.csv", 0, out, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_record_and_header),
        cmocka_unit_test(test_type_bits),
        cmocka_unit_test(test_rotated_name),
        cmocka_unit_test_setup_teardown(test_file_mask_header_rotation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
