/*
 * spawn - fork + exec of a daemon with inherited sockets and dropped
 * privileges (see spawn.h).  Everything the child needs is prepared before
 * fork (environment, strings), so the child only makes system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "spawn.h"

#define SPAWN_ENV_NAME "COURSER_LISTEN_FDS"

extern char **environ;

int spawn_fds_env(size_t nfds, char *out, size_t outlen)
{
    size_t i, off = 0;
    int n;

    if (nfds > SPAWN_MAX_FDS || outlen == 0)
        return -1;
    out[0] = '\0';
    for (i = 0; i < nfds; i++) {
        n = snprintf(out + off, outlen - off, "%s%zu", i ? "," : "", SPAWN_FIRST_FD + i);
        if (n < 0 || (size_t)n >= outlen - off)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* spawn_env - environ without any COURSER_LISTEN_FDS, plus ours. */
static char **spawn_env(const char *fds_var)
{
    size_t n = 0, i, j = 0;
    char **env;

    while (environ[n])
        n++;
    env = calloc(n + 2, sizeof(char *));
    if (env == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if (strncmp(environ[i], SPAWN_ENV_NAME "=", sizeof(SPAWN_ENV_NAME)) != 0)
            env[j++] = environ[i];
    env[j++] = (char *)fds_var;
    env[j] = NULL;
    return env;
}

/* child_fail - report errno and what failed to the parent, then exit. */
static _Noreturn void child_fail(int pipefd, const char *what)
{
    char msg[256];
    int e = errno, n;

    n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(e));
    if (n > 0)
        (void)!write(pipefd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    _exit(127);
}

/* child_fds - move the passed sockets to 3, 4, ...  They are first
 * duplicated above the target range so a source that already sits on a
 * target number is not clobbered; dup2 clears close-on-exec on the
 * targets, and every temporary copy is close-on-exec. */
static void child_fds(const struct spawn_req *r, int pipefd)
{
    int tmp[SPAWN_MAX_FDS];
    size_t i;
    int low = SPAWN_FIRST_FD + (int)r->nfds;

    if (pipefd >= low)
        low = pipefd + 1;
    for (i = 0; i < r->nfds; i++)
        if ((tmp[i] = fcntl(r->fds[i], F_DUPFD_CLOEXEC, low)) < 0)
            child_fail(pipefd, "dup listening socket");
    for (i = 0; i < r->nfds; i++)
        if (dup2(tmp[i], SPAWN_FIRST_FD + (int)i) < 0)
            child_fail(pipefd, "dup2 listening socket");
}

static void child_signals(void)
{
    sigset_t all;
    int s;

    /* libuv's signal handlers do not survive exec, but ignored signals
     * and the blocked mask do. */
    for (s = 1; s < NSIG; s++)
        (void)signal(s, SIG_DFL);
    sigemptyset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, NULL);
}

static void child_drop(const struct spawn_req *r, int pipefd)
{
    if (!r->drop)
        return;
    if (setgroups(0, NULL) < 0)
        child_fail(pipefd, "setgroups");
    if (setgid(r->gid) < 0)
        child_fail(pipefd, "setgid");
    if (setuid(r->uid) < 0)
        child_fail(pipefd, "setuid");
    /* Verify: the drop must be irreversible. */
    if (getuid() != r->uid || geteuid() != r->uid || getgid() != r->gid
        || getegid() != r->gid) {
        errno = EPERM;
        child_fail(pipefd, "privilege drop did not take effect");
    }
    if (r->uid != 0 && setuid(0) == 0) {
        errno = EPERM;
        child_fail(pipefd, "privilege drop is reversible");
    }
}

pid_t spawn_daemon(const struct spawn_req *r, char *err, size_t errlen)
{
    char var[32 + 4 * SPAWN_MAX_FDS], fds[4 * SPAWN_MAX_FDS], msg[256];
    char **env;
    int p[2];
    pid_t pid;
    ssize_t n;

    if (spawn_fds_env(r->nfds, fds, sizeof(fds)) < 0) {
        snprintf(err, errlen, "too many sockets to pass");
        return -1;
    }
    snprintf(var, sizeof(var), SPAWN_ENV_NAME "=%s", fds);
    if ((env = spawn_env(var)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(env);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        free(env);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        child_signals();
        (void)setsid();
        child_fds(r, p[1]);
        child_drop(r, p[1]);
        /* Set after the drop (a credential change clears it): a daemon
         * must not outlive master and keep its listening sockets bound. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
            child_fail(p[1], "prctl");
        execve(r->path, r->argv, env);
        child_fail(p[1], r->path);
    }
    close(p[1]);
    free(env);
    /* EOF (exec succeeded, the pipe closed on exec) or the child's reason. */
    do
        n = read(p[0], msg, sizeof(msg) - 1);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n > 0) {
        msg[n] = '\0';
        snprintf(err, errlen, "%s", msg);
        /* The child exits 127 at once; SIGCHLD reaps it. */
        return -1;
    }
    return pid;
}
