/*
 * cli - dkimsign's operator and test modes, through the same library
 * code the daemon and smtp-out use (dkim_canon, dkim_sign, dkim_keys,
 * dkim_key):
 *
 *   dkimsign --sign-file -c CONF [--domain D] [--selector S] [--vmta V]
 *            [--to-domain X] [--canon H/B] [--identity I] [--timestamp]
 *            [--expire-after N] [--algorithm A] MESSAGEFILE
 *       print the message with its DKIM-Signature header(s) prepended.
 *       Without --domain the identity (Sender, else From) chooses the
 *       keys, as for mail going out; settings come from the <domain>
 *       blocks matching --to-domain (default: only `*`).  Line ends are
 *       made CRLF first (what goes over SMTP).
 *   dkimsign --keygen --domain D --selector S [--type rsa|ed25519]
 *            [--bits 2048] --out FILE [-c CONF]
 *       write a new key (mode 0600; owned by dkim-user when run as root)
 *       and print the DNS TXT record to publish.
 *   dkimsign --txt KEYFILE      print the TXT record value of a key.
 *
 * Exit status: 0 done, 1 failed (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dkim_canon.h"
#include "dkim_proto.h"
#include "net.h"
#include "dkim_keygen.h"
#include "dkim_keys.h"
#include "dkim_sign.h"
#include "dkimsign.h"
#include "log.h"
#include "parse.h"

#define MSG_MAX (256u * 1024 * 1024)

struct sign_opts {
    const char *via;            /* dkimsign socket: sign there, like smtp-out */
    const char *conf, *domain, *selector, *vmta, *to_domain, *canon, *identity, *file;
    int timestamp;
    uint32_t expire;
    unsigned algs;
};

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "dkimsign: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

/* read_crlf - the file with every bare LF made CRLF. */
static int read_crlf(const char *path, struct buf *out)
{
    FILE *fp = fopen(path, "rb");
    char chunk[65536];
    size_t n, i;
    int prev = 0;

    if (fp == NULL)
        return fail("%s: %s", path, strerror(errno));
    buf_init(out, MSG_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        for (i = 0; i < n; i++) {
            if (chunk[i] == '\n' && prev != '\r' && buf_append(out, "\r", 1) < 0)
                goto toobig;
            if (buf_append(out, &chunk[i], 1) < 0)
                goto toobig;
            prev = (unsigned char)chunk[i];
        }
    }
    if (ferror(fp)) {
        fclose(fp);
        return fail("%s: read error%s", path, "");
    }
    fclose(fp);
    return 0;
toobig:
    fclose(fp);
    return fail("%s: message too large%s", path, "");
}

/* explicit_keys - --domain (and --selector): keys of that domain. */
static size_t explicit_keys(const struct config *cfg, const struct sign_opts *o,
                            struct dkim_plan *plan)
{
    struct dkim_key_ref all[DKIM_SIGS_MAX];
    size_t i, n;

    n = dkim_keys_find(cfg, o->vmta, o->domain, o->algs, all, DKIM_SIGS_MAX);
    for (i = 0; i < n; i++)
        if (o->selector == NULL || strcasecmp(all[i].selector, o->selector) == 0)
            plan->keys[plan->nkeys++] = all[i];
    if (plan->nkeys == 0 && o->selector != NULL) {
        if ((o->algs & DKIM_ALG_RSA_SHA256)
            && dkim_keys_known(cfg, o->domain, o->selector, DKIM_ALG_RSA_SHA256, &plan->keys[0]))
            plan->nkeys++;
        if ((o->algs & DKIM_ALG_ED25519_SHA256)
            && dkim_keys_known(cfg, o->domain, o->selector, DKIM_ALG_ED25519_SHA256,
                               &plan->keys[plan->nkeys]))
            plan->nkeys++;
    }
    return plan->nkeys;
}

/* write_all / read_all - blocking I/O for the --via client. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* remote_sign - one IPC_DKIM_SIGN round trip to the daemon at path. */
static int remote_sign(const char *path, const struct dkim_key_ref *k, const struct buf *input,
                       char b64[DKIM_SIG_B64_MAX], char *err, size_t errlen)
{
    struct dkim_sign_rep rep;
    struct ipc_frame f;
    struct buf b;
    size_t used;
    int fd = net_connect_unix(path), rc = -1, got;

    if (fd < 0)
        return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (dkim_sign_req_encode(&b, 7, k->domain, k->selector, k->alg, input->data, input->len) < 0
        || fcntl(fd, F_SETFL, 0) < 0 || write_all(fd, b.data, b.len) < 0) {
        snprintf(err, errlen, "cannot send the request");
        goto out;
    }
    buf_reset(&b);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || buf_append(&b, chunk, (size_t)n) < 0) {
            snprintf(err, errlen, "dkimsign closed the connection");
            goto out;
        }
        if ((got = ipc_frame_parse(b.data, b.len, &f, &used)) < 0) {
            snprintf(err, errlen, "bad reply frame");
            goto out;
        }
        if (got == 1)
            break;
    }
    if (f.reqid != 7 || dkim_sign_rep_decode(&f, &rep) < 0) {
        snprintf(err, errlen, "bad reply");
        goto out;
    }
    if (rep.status != DKIM_ST_OK) {
        snprintf(err, errlen, "dkimsign refused (status %d): %.400s", (int)rep.status, rep.error);
        goto out;
    }
    memcpy(b64, rep.sig, sizeof(rep.sig));
    rc = 0;
out:
    buf_free(&b);
    close(fd);
    return rc;
}

/* sign_one - key i of plan over msg: one finished DKIM-Signature into out. */
static int sign_one(const struct dkim_plan *plan, size_t i, const struct cfg_domain_settings *ds,
                    const struct dkim_headers *h, const struct buf *msg, const char *via,
                    struct buf *out)
{
    struct dkim_sig_params sp;
    struct dkim_body body;
    struct dkim_sig sig;
    struct dkim_key *key = NULL;
    unsigned char bh[DKIM_BH_LEN];
    char err[512], b64[DKIM_SIG_B64_MAX];
    int rc = 1;

    dkim_plan_params(plan, i, ds, time(NULL), &sp);
    /* Chunks of 4 KB: the same streaming path smtp-out uses on the spool. */
    if (dkim_body_init(&body, sp.bcanon) < 0)
        return fail("%s%s", "no memory", "");
    for (size_t off = h->body_off; off < msg->len; off += 4096)
        (void)dkim_body_update(&body, msg->data + off, msg->len - off < 4096 ? msg->len - off : 4096);
    if (dkim_body_final(&body, bh) < 0)
        return fail("%s%s", "body hash failed", "");
    if (dkim_sig_prepare(&sp, h, bh, &sig, err, sizeof(err)) < 0) {
        dkim_sig_free(&sig);
        return fail("%s%s", err, "");
    }
    if (via != NULL) {
        if (remote_sign(via, &plan->keys[i], &sig.input, b64, err, sizeof(err)) < 0) {
            dkim_sig_free(&sig);
            return fail("%s%s", err, "");
        }
    } else if (dkim_key_load(plan->keys[i].path, plan->keys[i].alg, &key, err, sizeof(err)) < 0
               || dkim_key_sign(key, sig.input.data, sig.input.len, b64, err, sizeof(err)) < 0) {
        dkim_key_free(key);
        dkim_sig_free(&sig);
        return fail("%s%s", err, "");
    }
    if (dkim_sig_finish(&sig, b64) < 0 || buf_append(out, sig.header.data, sig.header.len) < 0)
        fail("%s%s", "signature header too large", "");
    else
        rc = 0;
    dkim_key_free(key);
    dkim_sig_free(&sig);
    return rc;
}

static int do_sign(struct sign_opts *o)
{
    static struct dkim_headers h;
    struct cfg_domain_settings ds;
    struct dkim_plan plan;
    struct config *cfg;
    struct buf msg, out;
    char err[1024];
    size_t i;
    int rc = 1;

    if (config_load(o->conf, &cfg, err, sizeof(err)) < 0)
        return fail("%s%s", err, "");
    if (read_crlf(o->file, &msg) != 0) {
        config_free(cfg);
        return 1;
    }
    buf_init(&out, MSG_MAX);
    if (dkim_headers_parse(msg.data ? msg.data : "", msg.len, &h, err, sizeof(err)) < 0) {
        fail("%s: %s", o->file, err);
        goto out;
    }
    config_domain_settings(cfg, o->vmta, o->to_domain, &ds);
    if (o->canon != NULL) {
        const char *slash = strchr(o->canon, '/');
        int hc = dkim_canon_parse(o->canon, slash ? (size_t)(slash - o->canon) : strlen(o->canon));
        int bc = slash ? dkim_canon_parse(slash + 1, strlen(slash + 1)) : DKIM_CANON_SIMPLE;
        if (hc < 0 || bc < 0) {
            fail("--canon: expected relaxed/relaxed, relaxed/simple or simple/simple%s%s", "", "");
            goto out;
        }
        ds.dkim_canon[0] = hc;
        ds.dkim_canon[1] = bc;
    }
    if (o->identity != NULL)
        snprintf(ds.dkim_identity, sizeof(ds.dkim_identity), "%s", o->identity);
    if (o->timestamp)
        ds.dkim_add_timestamp = 1;
    if (o->expire > 0)
        ds.dkim_expire_after = o->expire;
    ds.dkim_algorithms = o->algs;
    memset(&plan, 0, sizeof(plan));
    if (o->domain != NULL) {
        if (ds.dkim_identity[0] != '\0')
            snprintf(plan.identity, sizeof(plan.identity), "%s", ds.dkim_identity);
        explicit_keys(cfg, o, &plan);
    } else if (dkim_plan_message(cfg, o->vmta, &ds, &h, &plan, err, sizeof(err)) < 0) {
        fail("%s: %s", o->file, err);
        goto out;
    }
    if (plan.nkeys == 0) {
        fail("no DKIM key for %s%s", o->domain ? o->domain : plan.identity_domain,
             o->selector ? " with that selector" : "");
        goto out;
    }
    for (i = 0; i < plan.nkeys; i++)
        if (sign_one(&plan, i, &ds, &h, &msg, o->via, &out) != 0)
            goto out;
    if (buf_append(&out, msg.data, msg.len) < 0) {
        fail("%s%s", "message too large", "");
        goto out;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fail("%s%s", "cannot write to standard output", "");
        goto out;
    }
    rc = 0;
out:
    buf_free(&msg);
    buf_free(&out);
    config_free(cfg);
    return rc;
}

static void sign_usage(void)
{
    fprintf(stderr, "usage: dkimsign --sign-file -c CONF [--domain D] [--selector S] [--vmta V]\n"
                    "         [--to-domain X] [--canon H/B] [--identity I] [--timestamp]\n"
                    "         [--expire-after INTERVAL] [--algorithm rsa-sha256|ed25519-sha256|all]\n"
                    "         [--via SOCKET] MESSAGEFILE\n");
    exit(2);
}

int cli_sign_file(int argc, char **argv)
{
    static const struct option lo[] = {
        { "sign-file", no_argument, NULL, 'F' }, { "config", required_argument, NULL, 'c' },
        { "domain", required_argument, NULL, 'd' }, { "selector", required_argument, NULL, 's' },
        { "vmta", required_argument, NULL, 'V' }, { "to-domain", required_argument, NULL, 'T' },
        { "canon", required_argument, NULL, 'C' }, { "identity", required_argument, NULL, 'i' },
        { "timestamp", no_argument, NULL, 't' }, { "expire-after", required_argument, NULL, 'x' },
        { "algorithm", required_argument, NULL, 'a' }, { "via", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    struct sign_opts o = { .to_domain = "example.invalid", .algs = DKIM_ALG_ALL };
    uint64_t v;
    int c;

    while ((c = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
        switch (c) {
        case 'F': break;
        case 'S': o.via = optarg; break;
        case 'c': o.conf = optarg; break;
        case 'd': o.domain = optarg; break;
        case 's': o.selector = optarg; break;
        case 'V': o.vmta = optarg; break;
        case 'T': o.to_domain = optarg; break;
        case 'C': o.canon = optarg; break;
        case 'i': o.identity = optarg; break;
        case 't': o.timestamp = 1; break;
        case 'x':
            if (parse_interval(optarg, &v) < 0 || v == 0 || v > 365 * 86400ULL)
                sign_usage();
            o.expire = (uint32_t)v;
            break;
        case 'a':
            if (strcasecmp(optarg, "all") == 0)
                o.algs = DKIM_ALG_ALL;
            else if ((o.algs = (unsigned)dkim_alg_parse(optarg, 1)) == 0)
                sign_usage();
            break;
        default: sign_usage();
        }
    }
    if (o.conf == NULL || optind != argc - 1)
        sign_usage();
    o.file = argv[optind];
    return do_sign(&o);
}

/* print_txt - the zone-file line of a key's TXT record. */
static int print_txt(const char *selector, const char *domain, const char *txt)
{
    char line[DKIM_TXT_MAX + 4 * DKIM_DOMAIN_MAX];

    if (dkim_zone_line(selector, domain, txt, line, sizeof(line)) < 0)
        return fail("%s%s", "selector or domain too long", "");
    printf("%s\n", line);
    return 0;
}

static void keygen_usage(void)
{
    fprintf(stderr, "usage: dkimsign --keygen --domain D --selector S [--type rsa|ed25519]"
                    " [--bits 2048] --out FILE [-c CONF]\n");
    exit(2);
}

int cli_keygen(int argc, char **argv)
{
    static const struct option lo[] = {
        { "keygen", no_argument, NULL, 'K' }, { "config", required_argument, NULL, 'c' },
        { "domain", required_argument, NULL, 'd' }, { "selector", required_argument, NULL, 's' },
        { "type", required_argument, NULL, 't' }, { "bits", required_argument, NULL, 'b' },
        { "out", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
    };
    const char *domain = NULL, *selector = NULL, *out = NULL, *conf = NULL, *user = "courser-dkim";
    enum dkim_alg alg = DKIM_ALG_RSA_SHA256;
    struct config *cfg = NULL;
    char err[1024], warn[1024], txt[DKIM_TXT_MAX];
    uint64_t bits = 2048;
    int c;

    while ((c = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
        switch (c) {
        case 'K': break;
        case 'c': conf = optarg; break;
        case 'd': domain = optarg; break;
        case 's': selector = optarg; break;
        case 't':
            if ((alg = dkim_alg_parse(optarg, 1)) == DKIM_ALG_NONE)
                keygen_usage();
            break;
        case 'b':
            if (parse_u64(optarg, DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS, &bits) < 0)
                return fail("--bits: must be between 1024 and 4096: '%s'%s", optarg, "");
            break;
        case 'o': out = optarg; break;
        default: keygen_usage();
        }
    }
    if (domain == NULL || selector == NULL || out == NULL || optind != argc)
        keygen_usage();
    if (conf != NULL) {
        if (config_load(conf, &cfg, err, sizeof(err)) < 0)
            return fail("%s%s", err, "");
        user = cfg->dkim_user;
    }
    if (dkim_keygen(alg, (unsigned)bits, out, user, txt, sizeof(txt), warn, sizeof(warn), err,
                    sizeof(err)) < 0) {
        config_free(cfg);
        return fail("%s%s", err, "");
    }
    config_free(cfg);
    if (warn[0] != '\0')
        fprintf(stderr, "dkimsign: warning: %s\n", warn);
    if (print_txt(selector, domain, txt) != 0)
        return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}

int cli_txt(int argc, char **argv)
{
    struct dkim_key *k;
    char err[1024], txt[DKIM_TXT_MAX];

    if (argc != 3) {
        fprintf(stderr, "usage: dkimsign --txt KEYFILE\n");
        return 2;
    }
    if (dkim_key_load(argv[2], DKIM_ALG_NONE, &k, err, sizeof(err)) < 0)
        return fail("%s%s", err, "");
    if (dkim_key_txt(k, txt, sizeof(txt)) < 0) {
        dkim_key_free(k);
        return fail("%s%s", "cannot derive the public key", "");
    }
    printf("%s\n", txt);
    dkim_key_free(k);
    return fflush(stdout) == 0 ? 0 : 1;
}
