/*
 * rundir - where control.sock is when the configuration file does not
 * load.  An operator who broke courser.conf still needs `mtactl status`
 * and `mtactl reload` (which master refuses, saying why) to reach the
 * daemons that keep running the old configuration: read only the main
 * file's global `run-dir` line, as the full parser would (relative to the
 * file's folder; default /run/courser).  Includes are not followed: a
 * run-dir set in an included file needs a loadable file (or -c FILE).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client.h"

int rundir_fallback(const char *conf, char *out, size_t outlen)
{
    char line[8192], dir[PATH_MAX], *s, *e, *slash;
    int depth = 0, found = 0;
    FILE *fp = fopen(conf, "r");

    if (fp == NULL || realpath(conf, dir) == NULL) {
        if (fp != NULL)
            fclose(fp);
        return -1;
    }
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(out, outlen, "/run/courser");
    while (!found && fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "#\r\n")] = '\0';
        for (s = line; isspace((unsigned char)*s); s++)
            ;
        if (s[0] == '<') {
            depth += s[1] == '/' ? -1 : 1;
            continue;
        }
        if (depth != 0 || strncmp(s, "run-dir", 7) != 0 || !isblank((unsigned char)s[7]))
            continue;
        for (s += 7; isblank((unsigned char)*s); s++)
            ;
        for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
            ;
        *e = '\0';
        if (*s == '\0')
            break;
        if (*s == '/' ? snprintf(out, outlen, "%s", s) >= (int)outlen
                      : snprintf(out, outlen, "%s/%s", dir, s) >= (int)outlen)
            break;
        found = 1;
    }
    fclose(fp);
    return 0;
}
