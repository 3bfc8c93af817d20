/* Unit tests: lib/dkim_keygen.c - the zone-file line (strings of at most
 * 255 bytes, exact bounds, refusal when the buffer is short) and the key
 * file `mtactl dkim keygen` writes (0600, never over an existing file,
 * its TXT value that of the key it wrote, an unknown owner a warning). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "dkim_keygen.h"

static char dir[] = "/tmp/dkim_keygen_test.XXXXXX";

static void test_zone_line_short(void **state)
{
    char out[256];

    assert_int_equal(dkim_zone_line("s1", "example.com", "v=DKIM1; k=ed25519; p=AAAA", out,
                                    sizeof(out)), 0);
    assert_string_equal(out, "s1._domainkey.example.com. IN TXT ( \"v=DKIM1; k=ed25519; p=AAAA\" )");
}

static void test_zone_line_split(void **state)
{
    char txt[600], out[800], want[800];

    memset(txt, 'a', 255);
    memset(txt + 255, 'b', 255);
    memset(txt + 510, 'c', 10);
    txt[520] = '\0';
    assert_int_equal(dkim_zone_line("s", "d.example", txt, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "s._domainkey.d.example. IN TXT ( \"%.255s\" \"%.255s\" \"%s\" )",
             txt, txt + 255, txt + 510);
    assert_string_equal(out, want);
    /* exactly 255: one string, no empty second one */
    txt[255] = '\0';
    assert_int_equal(dkim_zone_line("s", "d.example", txt, out, sizeof(out)), 0);
    assert_null(strstr(out, "\" \""));
}

static void test_zone_line_too_small(void **state)
{
    char out[800];
    size_t need;

    assert_int_equal(dkim_zone_line("s1", "example.com", "v=DKIM1; p=x", out, sizeof(out)), 0);
    need = strlen(out) + 1;
    assert_int_equal(dkim_zone_line("s1", "example.com", "v=DKIM1; p=x", out, need), 0);
    assert_int_equal(dkim_zone_line("s1", "example.com", "v=DKIM1; p=x", out, need - 1), -1);
    assert_int_equal(dkim_zone_line("s1", "example.com", "v=DKIM1; p=x", out, 10), -1);
}

static void test_keygen_file(void **state)
{
    char p[256], txt[DKIM_TXT_MAX], txt2[DKIM_TXT_MAX], warn[256], err[256];
    struct dkim_key *k;
    struct stat st;

    snprintf(p, sizeof(p), "%s/ed.pem", dir);
    assert_int_equal(dkim_keygen(DKIM_ALG_ED25519_SHA256, 0, p, "no-such-user-courser-test", txt,
                                 sizeof(txt), warn, sizeof(warn), err, sizeof(err)), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_non_null(strstr(txt, "k=ed25519; p="));
    if (geteuid() == 0)
        assert_non_null(strstr(warn, "does not exist"));
    else
        assert_string_equal(warn, "");
    /* the TXT value is the written key's */
    assert_int_equal(dkim_key_load(p, DKIM_ALG_ED25519_SHA256, &k, err, sizeof(err)), 0);
    assert_int_equal(dkim_key_txt(k, txt2, sizeof(txt2)), 0);
    assert_string_equal(txt, txt2);
    dkim_key_free(k);
    /* never over an existing key */
    assert_int_equal(dkim_keygen(DKIM_ALG_ED25519_SHA256, 0, p, NULL, txt, sizeof(txt), warn,
                                 sizeof(warn), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "File exists"));
    assert_int_equal(unlink(p), 0);
    /* RSA size bounds come from dkim_key_generate */
    snprintf(p, sizeof(p), "%s/small.pem", dir);
    assert_int_equal(dkim_keygen(DKIM_ALG_RSA_SHA256, 512, p, NULL, txt, sizeof(txt), warn,
                                 sizeof(warn), err, sizeof(err)), -1);
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zone_line_short),
        cmocka_unit_test(test_zone_line_split),
        cmocka_unit_test(test_zone_line_too_small),
        cmocka_unit_test(test_keygen_file),
    };
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void)rmdir(dir);
    return rc;
}
