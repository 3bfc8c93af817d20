/* Unit tests: signed VERP return paths (lib/verp_sign.c): encode, parse,
 * HMAC check, forgery and case handling, key loading. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>
#include "config.h"
#include "verp_sign.h"

static const char *QID = "6619C5EB2AC68001A41000";

static void key_of(struct verp_key *k, const char *s)
{
    memset(k, 0, sizeof(*k));
    k->len = strlen(s);
    memcpy(k->k, s, k->len);
}

static void test_roundtrip(void **state)
{
    struct verp_key k;
    char addr[256], id[64], hash[64];

    key_of(&k, "a-secret-key-of-some-length");
    assert_int_equal(verp_sign_encode(&k, QID, "bounce.example.com", addr, sizeof(addr)), 0);
    assert_int_equal(strncmp(addr, "bounces+6619C5EB2AC68001A41000.", 31), 0);
    assert_non_null(strstr(addr, "@bounce.example.com"));
    assert_int_equal(strlen(addr), strlen("bounces+") + 22 + 1 + VERP_HASH_LEN + strlen("@bounce.example.com"));
    assert_int_equal(verp_sign_parse(addr, id, sizeof(id), hash, sizeof(hash)), 0);
    assert_string_equal(id, QID);
    assert_int_equal(strlen(hash), VERP_HASH_LEN);
    assert_int_equal(verp_sign_check(&k, id, hash), 1);
}

static void test_forgery(void **state)
{
    struct verp_key k, other;
    char addr[256], id[64], hash[64];

    key_of(&k, "a-secret-key-of-some-length");
    key_of(&other, "another-key-entirely-000000");
    assert_int_equal(verp_sign_encode(&k, QID, "b.test", addr, sizeof(addr)), 0);
    assert_int_equal(verp_sign_parse(addr, id, sizeof(id), hash, sizeof(hash)), 0);
    /* wrong key, flipped digit, other id, truncated hash: all refused */
    assert_int_equal(verp_sign_check(&other, id, hash), 0);
    {
        char keep = hash[3];

        hash[3] = keep == '0' ? '1' : '0';
        assert_int_equal(verp_sign_check(&k, id, hash), 0);
        hash[3] = keep;
        assert_int_equal(verp_sign_check(&k, id, hash), 1);
    }
    assert_int_equal(verp_sign_check(&k, "6619C5EB2AC68001A41001", hash), 0);
    hash[VERP_HASH_LEN - 1] = '\0';
    assert_int_equal(verp_sign_check(&k, id, hash), 0);
    assert_int_equal(verp_sign_check(&k, id, ""), 0);
}

/* Some MTAs lower-case the address a bounce is sent to. */
static void test_case(void **state)
{
    struct verp_key k;
    char addr[256], id[64], hash[64];
    size_t i;

    key_of(&k, "a-secret-key-of-some-length");
    assert_int_equal(verp_sign_encode(&k, QID, "B.Test", addr, sizeof(addr)), 0);
    for (i = 0; addr[i]; i++)
        addr[i] = (char)tolower((unsigned char)addr[i]);
    assert_int_equal(verp_sign_parse(addr, id, sizeof(id), hash, sizeof(hash)), 0);
    assert_int_equal(verp_sign_check(&k, id, hash), 1);
    for (i = 0; hash[i]; i++)
        hash[i] = (char)toupper((unsigned char)hash[i]);
    assert_int_equal(verp_sign_check(&k, id, hash), 1);
}

static void test_parse_rejects(void **state)
{
    char id[64], hash[64];

    assert_int_equal(verp_sign_parse("<bounces+ABC.0123abcd@x.test>", id, sizeof(id), hash, sizeof(hash)), 0);
    assert_string_equal(id, "ABC");
    assert_string_equal(hash, "0123abcd");
    assert_int_equal(verp_sign_parse("bounce+ABC.0123@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+ABC@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+.0123@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+ABC.@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+ABC.xyz@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+A-C.0123@x.test", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+ABC.0123@", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_sign_parse("bounces+ABC.0123", id, sizeof(id), hash, sizeof(hash)), -1);
    /* an id longer than the caller's buffer */
    assert_int_equal(verp_sign_parse("bounces+ABCDEFGH.0123@x.test", id, 4, hash, sizeof(hash)), -1);
}

static void test_no_key(void **state)
{
    struct verp_key k;
    char addr[256];

    memset(&k, 0, sizeof(k));
    assert_int_equal(verp_sign_encode(&k, QID, "b.test", addr, sizeof(addr)), -1);
    assert_int_equal(verp_sign_check(&k, QID, "0123456789abcdef"), 0);
    key_of(&k, "a-secret-key-of-some-length");
    assert_int_equal(verp_sign_encode(&k, QID, "", addr, sizeof(addr)), -1);
    assert_int_equal(verp_sign_encode(&k, QID, "b.test", addr, 20), -1);
}

static void test_key_file(void **state)
{
    struct config cfg;
    struct verp_key k;
    char path[] = "/tmp/courser-verpkey-XXXXXX", err[256];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdefXYZ\n\n", 21), 21);
    close(fd);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.verp_key_file, sizeof(cfg.verp_key_file), "%s", path);
    assert_int_equal(verp_key_load(&cfg, &k, err, sizeof(err)), 0);
    assert_int_equal(k.len, 19);           /* trailing newlines dropped */
    assert_memory_equal(k.k, "0123456789abcdefXYZ", 19);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "short\n", 6), 6);
    close(fd);
    assert_int_equal(verp_key_load(&cfg, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "16 to"));
    unlink(path);
    assert_int_equal(verp_key_load(&cfg, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    /* verp-key wins; neither = no key, no error */
    snprintf(cfg.verp_key, sizeof(cfg.verp_key), "inline-key-value-1234");
    assert_int_equal(verp_key_load(&cfg, &k, err, sizeof(err)), 0);
    assert_int_equal(k.len, strlen("inline-key-value-1234"));
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(verp_key_load(&cfg, &k, err, sizeof(err)), 0);
    assert_int_equal(k.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_forgery),
        cmocka_unit_test(test_case),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
