/*
 * dkim_keygen - a new key file for the dkim user and its TXT record (see
 * dkim_keygen.h).  The file is created by dkim_key_generate with O_EXCL
 * and mode 0600, so an existing key (perhaps the one in DNS) is never
 * overwritten.
 */
#include "dkim_keygen.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int dkim_keygen(enum dkim_alg alg, unsigned bits, const char *path, const char *owner,
                char *txt, size_t txtlen, char *warn, size_t warnlen, char *err, size_t errlen)
{
    struct dkim_key *k;
    struct passwd *pw;

    warn[0] = '\0';
    if (dkim_key_generate(alg, bits, path, &k, err, errlen) < 0)
        return -1;
    if (dkim_key_txt(k, txt, txtlen) < 0) {
        dkim_key_free(k);
        return snprintf(err, errlen, "cannot derive the public key"), -1;
    }
    dkim_key_free(k);
    /* Only dkimsign, running as the dkim user, may read the key. */
    if (geteuid() == 0 && owner != NULL && owner[0] != '\0') {
        errno = 0;
        if ((pw = getpwnam(owner)) == NULL)
            snprintf(warn, warnlen, "user %s does not exist; %s stays owned by root", owner, path);
        else if (chown(path, pw->pw_uid, pw->pw_gid) < 0)
            snprintf(warn, warnlen, "chown %s: %s", path, strerror(errno));
    }
    return 0;
}

int dkim_zone_line(const char *selector, const char *domain, const char *txt, char *out,
                   size_t outlen)
{
    size_t n = strlen(txt), off, o;
    int r;

    r = snprintf(out, outlen, "%s._domainkey.%s. IN TXT (", selector, domain);
    if (r < 0 || (size_t)r >= outlen)
        return -1;
    o = (size_t)r;
    for (off = 0; off < n; off += 255) {
        r = snprintf(out + o, outlen - o, " \"%.*s\"", (int)(n - off < 255 ? n - off : 255),
                     txt + off);
        if (r < 0 || (size_t)r >= outlen - o)
            return -1;
        o += (size_t)r;
    }
    r = snprintf(out + o, outlen - o, " )");
    return r < 0 || (size_t)r >= outlen - o ? -1 : 0;
}
