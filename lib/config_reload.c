/*
 * config_reload - making a reload all-or-nothing across processes.
 *
 * Every process reads courser.conf itself.  master validates the file
 * before it signals anyone, but a daemon reads it again a moment later:
 * an edit in between would make that daemon apply a file master never
 * checked (or one different from its siblings').  So config_load keeps a
 * digest of every byte it read (main file and includes, in order); master
 * publishes the digest of the file it validated in run-dir/config.digest
 * before its SIGHUPs, and a daemon applies its reload only if what it
 * read has that digest.  Otherwise it keeps its running configuration
 * and says so; `mtactl reload` again applies the current file everywhere.
 *
 * The digest is FNV-1a 64: it detects accidental change, not an attacker
 * (who could edit the file anyway).  Paths are not part of it (master and
 * a daemon may name the same file differently).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t config_digest_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    while (n-- > 0) {
        h ^= *s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static int digest_path(const struct config *cfg, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s/config.digest", cfg->run_dir) < (int)outlen ? 0 : -1;
}

int config_digest_publish(const struct config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    FILE *fp;

    if (digest_path(cfg, path, sizeof(path)) < 0
        || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "run-dir too long");
        return -1;
    }
    fp = fopen(tmp, "w");
    /* 0644 whatever master's umask: every daemon's user must read it */
    if (fp == NULL || fchmod(fileno(fp), 0644) < 0
        || fprintf(fp, "%016" PRIx64 "\n", cfg->digest) < 0 || fflush(fp) != 0) {
        int e = errno;
        if (fp != NULL) {
            (void)fclose(fp);
            (void)unlink(tmp);
        }
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -1;
    }
    if (fclose(fp) != 0) {
        int e = errno;
        (void)unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
        (void)unlink(tmp);
        return -1;
    }
    return 0;
}

int config_digest_verify(const struct config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX], line[64];
    unsigned long long want;
    FILE *fp;

    if (digest_path(cfg, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "run-dir too long");
        return -1;
    }
    fp = fopen(path, "r");
    if (fp == NULL) {
        /* no master publishing digests (a daemon run by hand), or run-dir
         * not readable by this daemon's user (dkimsign runs as dkim-user,
         * run-dir is the daemons' 0750): nothing to compare with; the
         * file was still validated by this load */
        if (errno == ENOENT || errno == EACCES)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(line, sizeof(line), fp) == NULL || sscanf(line, "%16llx", &want) != 1) {
        fclose(fp);
        snprintf(err, errlen, "%s is not a digest", path);
        return -1;
    }
    fclose(fp);
    if ((uint64_t)want != cfg->digest) {
        snprintf(err, errlen, "the configuration changed after master checked it (digest %016"
                 PRIx64 ", master's %016llx); run mtactl reload again", cfg->digest, want);
        return -1;
    }
    return 0;
}
