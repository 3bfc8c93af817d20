/*
 * Unit tests for lib/bounce_patterns.c: loading (good files, bad regex and
 * bad lines reported as file:line), first-match order and operator
 * precedence, hard-bounce-categories, and that the compiled-in defaults
 * are exactly conf/bounce-patterns.conf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bounce_patterns.h"

static const char *match(struct bounce_patterns *db, const char *s)
{
    return bounce_patterns_match(db, s, strlen(s));
}

static void test_load_and_first_match(void **state)
{
    static const char text[] =
        "# comment\n"
        "\n"
        "<bounce-category-patterns>\n"
        "  /user unknown/ bad-mailbox\n"
        "/unknown/ other\n"
        "/^5\\.7\\.1 / policy-related\r\n"
        "/a\\/b/ custom_cat-1\n"
        "// catch-all\n"                    /* PowerMTA's stock list ends so */
        "</bounce-category-patterns>\n";
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256] = "";

    assert_non_null(db);
    assert_int_equal(bounce_patterns_load_text(db, text, strlen(text), "t.conf", err, sizeof(err)), 0);
    assert_int_equal(bounce_patterns_count(db), 5);
    assert_string_equal(match(db, "5.1.1 550 User Unknown"), "bad-mailbox");  /* caseless */
    assert_string_equal(match(db, "5.0.0 unknown thing"), "other");           /* first wins */
    assert_string_equal(match(db, "5.7.1 550 go away"), "policy-related");
    assert_string_equal(match(db, "5.0.0 x a/b y"), "custom_cat-1");
    assert_string_equal(match(db, "5.0.0 nothing here"), "catch-all");
    bounce_patterns_free(db);
}

static void test_errors(void **state)
{
    static const struct { const char *text, *want; } bad[] = {
        { "/ok/ other\n/bad(/ other\n", "f.conf:2: bad regex at offset" },
        { "\n\n/x/\n", "f.conf:3: expected /regex/ category" },
        { "/x/ Bad-Cat\n", "f.conf:1: bad category name" },
        { "user unknown bad-mailbox\n", "f.conf:1: expected /regex/ category" },
        { "hard-bounce-categories a B\n", "f.conf:1: bad category in hard-bounce-categories" },
        { "/x/other\n", "f.conf:1: expected /regex/ category" },
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bounce_patterns *db = bounce_patterns_new();
        char err[256] = "";
        assert_int_equal(bounce_patterns_load_text(db, bad[i].text, strlen(bad[i].text), "f.conf",
                                                   err, sizeof(err)), -1);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].want);
        bounce_patterns_free(db);
    }
}

static void test_file(void **state)
{
    char path[] = "/tmp/bp_test_XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    FILE *f;
    struct bounce_patterns *db = bounce_patterns_new();

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("/ok/ other\n/(unclosed/ other\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(bounce_patterns_load_file(db, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: bad regex"));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    unlink(path);
    assert_int_equal(bounce_patterns_load_file(db, "/nonexistent/x.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.conf: "));
    bounce_patterns_free(db);
}

static void test_operator_precedence_and_hard(void **state)
{
    static const char op[] = "hard-bounce-categories bad-mailbox quota-issues\n"
                             "/mailbox full/ my-full\n";
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256] = "";

    /* defaults before any file */
    assert_true(bounce_patterns_is_hard(db, "bad-mailbox"));
    assert_true(bounce_patterns_is_hard(db, "inactive-mailbox"));
    assert_false(bounce_patterns_is_hard(db, "quota-issues"));
    assert_int_equal(bounce_patterns_load_text(db, op, strlen(op), "op", err, sizeof(err)), 0);
    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    /* the operator's rule wins over the built-in quota rule */
    assert_string_equal(match(db, "5.2.2 552 Mailbox full"), "my-full");
    assert_string_equal(match(db, "5.1.1 550 No such user"), "bad-mailbox");
    /* the operator's hard set wins over the built-in file's line */
    assert_true(bounce_patterns_is_hard(db, "quota-issues"));
    assert_false(bounce_patterns_is_hard(db, "inactive-mailbox"));
    bounce_patterns_free(db);
}

static void test_no_builtin(void **state)
{
    static const char op[] = "no-builtin-patterns\n/x/ other\n";
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256] = "";

    assert_int_equal(bounce_patterns_load_text(db, op, strlen(op), "op", err, sizeof(err)), 0);
    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    assert_int_equal(bounce_patterns_count(db), 1);
    bounce_patterns_free(db);
}

/* the shipped file and the compiled-in copy must not drift apart */
static void test_builtin_matches_conf(void **state)
{
    static const char *const cand[] = { "conf/bounce-patterns.conf", "../conf/bounce-patterns.conf",
                                        "../../conf/bounce-patterns.conf",
                                        "../../../conf/bounce-patterns.conf", NULL };
    FILE *f = NULL;
    char *data;
    size_t i, n;
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256] = "";

    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    assert_true(bounce_patterns_count(db) > 50);
    bounce_patterns_free(db);
    for (i = 0; cand[i] && !f; i++)
        f = fopen(cand[i], "rb");
    if (!f)
        skip();
    data = malloc(1 << 20);
    assert_non_null(data);
    n = fread(data, 1, (1 << 20) - 1, f);
    fclose(f);
    data[n] = '\0';
    if (strcmp(data, bounce_patterns_builtin) != 0)
        fail_msg("lib/bounce_patterns_builtin.c is stale: run bounced/gen-builtin-patterns.py");
    free(data);
}

/* representative replies through the shipped database (first match) */
static void test_builtin_categories(void **state)
{
    static const struct { const char *subj, *cat; } cases[] = {
        { "5.1.1 550 5.1.1 <a@b.c>: Recipient address rejected: User unknown", "bad-mailbox" },
        { "5.1.1 550 5.1.1 blocked using zen.spamhaus.org", "spam-related" },
        { "5.2.2 552 5.2.2 Mailbox full", "quota-issues" },
        { "5.7.1 554 5.7.1 <a@b.c>: Relay access denied", "relaying-issues" },
        { "4.4.1 421 Connection timed out", "no-answer-from-host" },
        { "5.1.2 550 Host or domain name not found", "bad-domain" },
        { "5.7.1 550 Message rejected as spam", "spam-related" },
        { "5.7.1 550 virus found in message", "virus-related" },
        { "5.1.8 553 Domain of sender address x@y.z does not exist", "policy-related" },
    };
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256] = "";
    size_t i;

    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = match(db, cases[i].subj);
        if (!got || strcmp(got, cases[i].cat) != 0)
            fail_msg("\"%s\": got %s, want %s", cases[i].subj, got ? got : "(none)", cases[i].cat);
    }
    bounce_patterns_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_first_match),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_operator_precedence_and_hard),
        cmocka_unit_test(test_no_builtin),
        cmocka_unit_test(test_builtin_matches_conf),
        cmocka_unit_test(test_builtin_categories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
