/*
 * tmpclean - remove spool tmp/ files left by an smtpd that died while
 * writing them (SIGKILL, crash): such a file can never be committed, since
 * only its writer renames it into msg/.  A tmp file's name is its queue
 * id, which embeds the writer's pid; the file is removed when no process
 * with that pid exists.  Run when an smtpd says HELLO (i.e. after master
 * restarted one), so it costs one small directory scan per smtpd start.
 * spool_scan at qmgr start-up still removes stray files older than a
 * minute, which also covers a reused pid.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "log.h"
#include "qmgr.h"

/* tmpclean_pid - the writer's pid in a queue id (hex digits 13-18). */
static long tmpclean_pid(const char *qid)
{
    long pid = 0;
    int i;

    for (i = 13; i < 19; i++) {
        char c = qid[i];
        pid = pid * 16 + (c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    return pid;
}

int tmpclean_run(const char *spool_dir)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    struct dirent *de;
    DIR *d;
    long pid;
    int n = 0;

    if (snprintf(dir, sizeof(dir), "%s/tmp", spool_dir) >= (int)sizeof(dir))
        return -1;
    d = opendir(dir);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (!queue_id_valid(de->d_name))
            continue;
        pid = tmpclean_pid(de->d_name);
        if (pid <= 1 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;   /* alive (or not ours to signal): still being written */
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
            continue;
        if (unlink(path) == 0) {
            msg_info("removed %s: its writer (pid %ld) is gone", path, pid);
            n++;
        }
    }
    closedir(d);
    return n;
}
