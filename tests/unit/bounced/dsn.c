/*
 * Unit tests for bounced/dsn.c and bounced/report.c: per-recipient
 * fields, Action -> type, records without blank lines, Original- after
 * Final-Recipient, folded Diagnostic-Code, address and status helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../bounced/dsn.h"
#include "../../../bounced/report.h"

static void test_fields(void **state)
{
    static const char ds[] =
        "Reporting-MTA: dns; mx.example.org\n"
        "Arrival-Date: Thu, 29 Apr 2010 23:34:45 +0900\n"
        "\n"
        "Original-Recipient: rfc822;Alias@Example.NET\n"
        "Final-Recipient: RFC822; <user1@example.net>\n"
        "Action: failed\n"
        "Status: 5.1.1 (user unknown)\n"
        "Remote-MTA: dns; mx.example.net\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <user1@example.net>:\n"
        "    Recipient address rejected: User unknown\n"
        "\n"
        "Final-Recipient: rfc822; user2@example.net\n"
        "Action: delayed\n"
        "Status: 4.4.1\n"
        "Final-Recipient: rfc822; user3@example.net\n"          /* no blank line */
        "Action: delivered\n"
        "Status: 2.0.0\n"
        "\n"
        "Final-Recipient: rfc822; user4@example.net\n"
        "Action: relayed\n"
        "\n"
        "Final-Recipient: rfc822; not-an-address\n"
        "Original-Recipient: rfc822; user5@example.net\n"
        "Action: failed\n"
        "\n"
        "Final-Recipient: rfc822; user6@example.net\n"       /* sendmail -bv / Postfix verify */
        "Action: deliverable\n"
        "Status: 2.1.5\n"
        "\n"
        "Final-Recipient: rfc822; user7@example.net\n"
        "Action: whatever\n"
        "Status: 2.0.0\n";
    struct report rep;

    report_init(&rep);
    assert_int_equal(dsn_parse(ds, strlen(ds), &rep), 7);
    assert_int_equal(rep.n, 7);
    assert_string_equal(rep.r[0].addr, "user1@example.net");
    assert_string_equal(rep.r[0].action, "failed");
    assert_string_equal(rep.r[0].status, "5.1.1");
    assert_int_equal(rep.r[0].type, REPORT_BOUNCE);
    assert_string_equal(rep.r[0].diag,
                        "smtp; 550 5.1.1 <user1@example.net>: Recipient address rejected: User unknown");
    assert_string_equal(rep.r[1].addr, "user2@example.net");
    assert_string_equal(rep.r[1].status, "4.4.1");
    assert_int_equal(rep.r[1].type, REPORT_BOUNCE);
    assert_null(rep.r[1].diag);
    assert_string_equal(rep.r[2].addr, "user3@example.net");
    assert_int_equal(rep.r[2].type, REPORT_DELIVERED);
    assert_int_equal(rep.r[3].type, REPORT_DELIVERED);
    /* an unusable Final-Recipient falls back to Original-Recipient */
    assert_string_equal(rep.r[4].addr, "user5@example.net");
    assert_int_equal(rep.r[4].type, REPORT_BOUNCE);
    /* an address-verification report and any 2.x.x that is not "failed" */
    assert_int_equal(rep.r[5].type, REPORT_DELIVERED);
    assert_int_equal(rep.r[6].type, REPORT_DELIVERED);
    report_free(&rep);
}

static void test_garbage(void **state)
{
    static const char g[] = "no fields here\n\n: empty name\nAction: failed\nStatus: 9.9.9\n";
    struct report rep;

    report_init(&rep);
    assert_int_equal(dsn_parse(g, strlen(g), &rep), 0);
    assert_int_equal(dsn_parse("", 0, &rep), 0);
    assert_int_equal(rep.n, 0);
    report_free(&rep);
}

static void test_duplicates_merge(void **state)
{
    static const char d[] = "Final-Recipient: rfc822; a@b.example\nAction: failed\n\n"
                            "Final-Recipient: rfc822; A@B.example\nAction: failed\nStatus: 5.2.2\n";
    struct report rep;

    report_init(&rep);
    dsn_parse(d, strlen(d), &rep);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].status, "5.2.2");
    report_free(&rep);
}

/* many recipients, each in its own block: none is lost */
static void test_many(void **state)
{
    char *ds = malloc(300 * 100), *p = ds;
    struct report rep;
    int i;

    assert_non_null(ds);
    p += sprintf(p, "Reporting-MTA: dns; mx.example.org\n\n");
    for (i = 0; i < 300; i++)
        p += sprintf(p, "Final-Recipient: rfc822; u%d@example.net\nAction: failed\nStatus: 5.1.1\n\n", i);
    report_init(&rep);
    assert_int_equal(dsn_parse(ds, (size_t)(p - ds), &rep), 300);
    assert_string_equal(rep.r[299].addr, "u299@example.net");
    report_free(&rep);
    free(ds);
}

static void test_addr_clean(void **state)
{
    static const struct { const char *in, *out; } ok[] = {
        { "rfc822; <A@B.example>", "A@B.example" },
        { "\"Neko, Cat\" <neko@example.jp>", "neko@example.jp" },
        { "neko@example.jp (Neko)", "neko@example.jp" },
        { "  x.y+z@sub.example.co.jp.", "x.y+z@sub.example.co.jp" },
        { "<user@[192.0.2.1]>", "user@[192.0.2.1]" },
    };
    static const char *const bad[] = { "", "no address", "<Undisclosed Recipients>", "a@b", "@x.y" };
    char out[REPORT_ADDR_LEN];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(report_addr_clean(ok[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, ok[i].out);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (report_addr_clean(bad[i], out, sizeof(out)) == 0)
            fail_msg("\"%s\" accepted as \"%s\"", bad[i], out);
}

static void test_status(void **state)
{
    char out[16];
    static const char t1[] = "host said: 550 5.7.1 go away";
    static const char t2[] = "ip 192.0.2.1 then 4.2.2 later";
    static const char t3[] = "version 15.20.4 and 5.1";
    static const char t4[] = "550-5.1.1 The email account";
    static const char t5[] = "x-5.1.1 not a status";

    assert_int_equal(report_status_parse(" 5.1.1 (x)", out, sizeof(out)), 0);
    assert_string_equal(out, "5.1.1");
    assert_int_equal(report_status_parse("5.1", out, sizeof(out)), -1);
    assert_int_equal(report_status_parse("6.1.1", out, sizeof(out)), -1);
    assert_int_equal(report_status_find(t1, strlen(t1), out, sizeof(out)), 0);
    assert_string_equal(out, "5.7.1");
    assert_int_equal(report_status_find(t2, strlen(t2), out, sizeof(out)), 0);
    assert_string_equal(out, "4.2.2");
    assert_int_equal(report_status_find(t3, strlen(t3), out, sizeof(out)), -1);
    assert_int_equal(report_status_find(t4, strlen(t4), out, sizeof(out)), 0);   /* multi-line reply */
    assert_string_equal(out, "5.1.1");
    assert_int_equal(report_status_find(t5, strlen(t5), out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_duplicates_merge),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_addr_clean),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
