/*
 * dkim - `mtactl dkim ...`, run locally (no daemon is asked; docs/mtactl.md):
 *
 *   mtactl dkim keygen --domain D --selector S [--type rsa|ed25519]
 *                      [--bits 2048] [--out FILE]
 *       a new key, mode 0600, owned by dkim-user when run as root; FILE
 *       defaults to dkim-key-dir/D/S.pem (S.ed25519.pem for Ed25519).
 *       Prints the TXT record to publish.
 *   mtactl dkim check D S [--key FILE]
 *       fetch S._domainkey.D TXT (dns-server, else the system resolver)
 *       and check it holds the public key of the configured key for
 *       (D, S) - or of FILE.
 *
 * Exit status: 0 done / matches; 1 failed / does not match (one line on
 * stderr says why); 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "dkim.h"
#include "dkim_key.h"
#include "dkim_keygen.h"
#include "dkim_keys.h"
#include "dns_txt.h"
#include "parse.h"

#define DNS_TIMEOUT_MS 5000

static int dkim_fail(const char *fmt, const char *a, const char *b)
{
    fputs("mtactl: dkim: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

static _Noreturn void dkim_usage(void)
{
    fprintf(stderr, "usage: mtactl dkim keygen --domain D --selector S [--type rsa|ed25519]"
                    " [--bits N] [--out FILE]\n"
                    "       mtactl dkim check DOMAIN SELECTOR [--key FILE]\n");
    exit(2);
}

/* name_ok - a selector or domain safe for a file name and a DNS label. */
static int name_ok(const char *s, size_t max)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= max || s[0] == '.' || s[0] == '-' || strstr(s, "..") != NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

/* key_dir_path - dkim-key-dir/DOMAIN/SELECTOR[.ed25519].pem, creating
 * the domain's folder (0755: smtp-out lists it, the files are 0600). */
static int key_dir_path(const struct config *cfg, const char *domain, const char *selector,
                        enum dkim_alg alg, char *out, size_t outlen)
{
    char dir[PATH_MAX];

    if (cfg->dkim_key_dir[0] == '\0')
        return dkim_fail("%s%s", "no dkim-key-dir is configured: give --out FILE", "");
    if (snprintf(dir, sizeof(dir), "%s/%s", cfg->dkim_key_dir, domain) >= (int)sizeof(dir)
        || snprintf(out, outlen, "%s/%s%s", dir, selector,
                    alg == DKIM_ALG_ED25519_SHA256 ? ".ed25519.pem" : ".pem") >= (int)outlen)
        return dkim_fail("%s%s", "key path too long", "");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return dkim_fail("cannot create %s: %s", dir, strerror(errno));
    return 0;
}

static int cmd_keygen(const struct config *cfg, int argc, char **argv)
{
    static const struct option lo[] = {
        { "domain", required_argument, NULL, 'd' }, { "selector", required_argument, NULL, 's' },
        { "type", required_argument, NULL, 't' }, { "bits", required_argument, NULL, 'b' },
        { "out", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
    };
    const char *domain = NULL, *selector = NULL, *out = NULL;
    enum dkim_alg alg = DKIM_ALG_RSA_SHA256;
    char path[PATH_MAX], txt[DKIM_TXT_MAX], line[DKIM_TXT_MAX + 4 * DKIM_DOMAIN_MAX];
    char err[1024], warn[1024];
    uint64_t bits = 2048;
    int c;

    optind = 0;             /* GNU getopt: start over (main parsed its options already) */
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': domain = optarg; break;
        case 's': selector = optarg; break;
        case 't':
            if ((alg = dkim_alg_parse(optarg, 1)) == DKIM_ALG_NONE)
                return dkim_fail("--type: rsa or ed25519, not '%s'%s", optarg, "");
            break;
        case 'b':
            if (parse_u64(optarg, DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS, &bits) < 0)
                return dkim_fail("--bits: between 1024 and 4096, not '%s'%s", optarg, "");
            break;
        case 'o': out = optarg; break;
        default: dkim_usage();
        }
    }
    if (domain == NULL || selector == NULL || optind != argc)
        dkim_usage();
    if (!name_ok(domain, DKIM_DOMAIN_MAX) || !name_ok(selector, DKIM_SELECTOR_MAX))
        return dkim_fail("not a usable domain and selector: '%s' '%s'", domain, selector);
    if (out == NULL) {
        if (key_dir_path(cfg, domain, selector, alg, path, sizeof(path)) != 0)
            return 1;
        out = path;
    }
    if (dkim_keygen(alg, (unsigned)bits, out, cfg->dkim_user, txt, sizeof(txt), warn,
                    sizeof(warn), err, sizeof(err)) < 0)
        return dkim_fail("%s%s", err, "");
    if (warn[0] != '\0')
        fprintf(stderr, "mtactl: dkim: warning: %s\n", warn);
    if (dkim_zone_line(selector, domain, txt, line, sizeof(line)) < 0)
        return dkim_fail("%s%s", "selector or domain too long", "");
    printf("# %s written; publish:\n%s\n", out, line);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* check_one - the published records against one private key. */
static int check_one(const char *name, const char *path, enum dkim_alg alg,
                     const struct dns_txt_result *r)
{
    struct dkim_key *k;
    char err[1024], why[1024] = "";
    size_t i, ndkim = 0;

    if (dkim_key_load(path, alg, &k, err, sizeof(err)) < 0)
        return dkim_fail("%s%s", err, geteuid() == 0 ? "" : " (run as root to read the key)");
    for (i = 0; i < r->n; i++) {
        /* RFC 6376 3.6.1: v=, when present, comes first; records that are
         * not DKIM keys (SPF and the like) are not ours to judge. */
        if (strncmp(r->rec[i], "v=", 2) == 0 && strncmp(r->rec[i], "v=DKIM1", 7) != 0)
            continue;
        ndkim++;
        if (dkim_key_check_txt(k, r->rec[i], err, sizeof(err)) == 0) {
            printf("OK: %s publishes the %s key of %s (%u bits)\n", name,
                   dkim_alg_keytype(alg), path, dkim_key_bits(k));
            dkim_key_free(k);
            return 0;
        }
        snprintf(why, sizeof(why), "%s", err);
    }
    dkim_key_free(k);
    if (ndkim == 0)
        return dkim_fail("%s: no DKIM key record is published%s", name, "");
    return dkim_fail("%s: does not match %s", name, why[0] ? why : path);
}

static int cmd_check(const struct config *cfg, int argc, char **argv)
{
    static const struct option lo[] = {
        { "key", required_argument, NULL, 'k' }, { NULL, 0, NULL, 0 },
    };
    const char *file = NULL, *domain, *selector;
    struct dkim_key_ref cand[2];
    struct dns_txt_result *r;
    struct dkim_key *k;
    enum dns_txt_status st;
    char name[DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16], err[1024];
    size_t i, ncand = 0;
    int c, rc = 1;

    optind = 0;             /* GNU getopt: start over (main parsed its options already) */
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'k')
            file = optarg;
        else
            dkim_usage();
    }
    if (argc - optind != 2)
        dkim_usage();
    domain = argv[optind];
    selector = argv[optind + 1];
    if (!name_ok(domain, DKIM_DOMAIN_MAX) || !name_ok(selector, DKIM_SELECTOR_MAX))
        return dkim_fail("not a usable domain and selector: '%s' '%s'", domain, selector);
    snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
    /* Which private keys to compare with: FILE (its own type), else the
     * configured ones for (domain, selector) - an RSA and an Ed25519 key
     * may share a selector name. */
    if (file != NULL) {
        if (dkim_key_load(file, DKIM_ALG_NONE, &k, err, sizeof(err)) < 0)
            return dkim_fail("%s%s", err, "");
        cand[0].alg = dkim_key_alg(k);
        snprintf(cand[0].path, sizeof(cand[0].path), "%s", file);
        dkim_key_free(k);
        ncand = 1;
    } else {
        if (dkim_keys_known(cfg, domain, selector, DKIM_ALG_RSA_SHA256, &cand[ncand]))
            ncand++;
        if (dkim_keys_known(cfg, domain, selector, DKIM_ALG_ED25519_SHA256, &cand[ncand]))
            ncand++;
        if (ncand == 0)
            return dkim_fail("no key %s is configured (domain-key or dkim-key-dir); "
                             "give --key FILE%s", name, "");
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return dkim_fail("%s%s", "out of memory", "");
    st = dns_txt_lookup(cfg->dns_server_ip, cfg->dns_server_port, name, DNS_TIMEOUT_MS, r, err,
                        sizeof(err));
    if (st != DNS_TXT_OK) {
        free(r);
        return dkim_fail("%s: %s", name, err);
    }
    for (i = 0; i < ncand && rc != 0; i++)
        rc = check_one(name, cand[i].path, cand[i].alg, r);
    free(r);
    return rc;
}

int dkim_command(const char *conf, int argc, char **argv)
{
    struct config *cfg;
    char err[1024];
    int rc;

    if (argc < 2)
        dkim_usage();
    if (strcmp(argv[1], "keygen") != 0 && strcmp(argv[1], "check") != 0)
        dkim_usage();
    if (config_load(conf, &cfg, err, sizeof(err)) < 0)
        return dkim_fail("%s%s", err, "");
    rc = strcmp(argv[1], "keygen") == 0 ? cmd_keygen(cfg, argc - 1, argv + 1)
                                        : cmd_check(cfg, argc - 1, argv + 1);
    config_free(cfg);
    return rc;
}
