/*
 * main - bin/courser, the master process: load and check the
 * configuration, create the directories and every listening socket, drop
 * to the background, then start and supervise the daemons (supervise.c)
 * and serve mtactl (control.c).
 *
 *   courser -c FILE [-f] [-v]   run (-f: stay in the foreground)
 *   courser -t -c FILE          check the configuration and exit
 *   courser --config-docs       print docs/config.md and exit
 *
 * Start-up errors are one line on stderr and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/close_range.h>
#include "config.h"
#include "log.h"
#include "master.h"
#include "net.h"
#include "spool.h"

#define DEFAULT_CONF "/etc/courser/courser.conf"

static struct master g_master;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;

    fputs("courser: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: courser [-c FILE] [-f] [-v]\n"
                    "       courser -t [-c FILE]    check the configuration\n"
                    "       courser --config-docs   print the directive reference\n");
    exit(2);
}

/* mkdir_p - create path and missing parents (mode 0750); when owner is
 * set, chown every directory this call created. */
static int mkdir_p(const char *path, const struct master *m)
{
    char tmp[PATH_MAX];
    size_t i, n = strlen(path);

    if (n == 0 || n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0750) == 0) {
            if (m->drop && chown(tmp, m->uid, m->gid) < 0)
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        }
        tmp[i] = i == n ? '\0' : '/';
    }
    return 0;
}

/* own_path - chown one path to the daemons' user (root mode only). */
static void own_path(const struct master *m, const char *path)
{
    if (m->drop && chown(path, m->uid, m->gid) < 0 && errno != ENOENT)
        die("cannot chown %s: %s", path, strerror(errno));
}

/* own_spool - the spool dir, tmp/, msg/ and msg/XX belong to the
 * daemons' user; message files are theirs already. */
static void own_spool(const struct master *m, const char *spool)
{
    static const char hex[] = "0123456789ABCDEF";
    char p[PATH_MAX + 16];
    int i;

    if (!m->drop)
        return;
    own_path(m, spool);
    snprintf(p, sizeof(p), "%s/tmp", spool);
    own_path(m, p);
    snprintf(p, sizeof(p), "%s/msg", spool);
    own_path(m, p);
    snprintf(p, sizeof(p), "%s/" SPOOL_INBOUND_DIR, spool);
    own_path(m, p);
    for (i = 0; i < 256; i++) {
        snprintf(p, sizeof(p), "%s/msg/%c%c", spool, hex[i >> 4], hex[i & 15]);
        own_path(m, p);
    }
}

/* prepare_file - a file a daemon writes (log file, accounting file): its
 * folder must exist, and as root the daemons' user must own it.  create:
 * make it now (the log file: master opens it as root, and a file it
 * created would be root's). */
static void prepare_file(const struct master *m, const char *path, int create)
{
    char dir[PATH_MAX];
    char *slash;
    int fd;

    if (path[0] == '\0')
        return;
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir, m) < 0)
            die("cannot create %s: %s", dir, strerror(errno));
    }
    if (create) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            die("cannot open %s: %s", path, strerror(errno));
        (void)close(fd);
    }
    own_path(m, path);
}

/* cloexec_inherited - descriptors master inherited (beyond stdio) must
 * not leak into the daemons: only the sockets spawn passes do. */
static void cloexec_inherited(void)
{
    int fd;

    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    for (fd = 3; fd < 1024; fd++)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* dkim_configured - whether any DKIM key is configured (any scope). */
static int dkim_configured(const struct config *cfg)
{
    size_t i;

    if (cfg->ndomain_keys > 0 || cfg->dkim_key_dir[0] != '\0')
        return 1;
    for (i = 0; i < cfg->nvmtas; i++)
        if (cfg->vmtas[i].nkeys > 0)
            return 1;
    for (i = 0; i < cfg->npools; i++)
        if (cfg->pools[i].nkeys > 0)
            return 1;
    return 0;
}

/* find_dkim_user - dkimsign's account (dkim-user), distinct from the
 * daemons' so that they cannot read the private keys.  Without DKIM keys
 * in the configuration a missing account is only a warning: dkimsign then
 * runs as the daemons' user and has nothing to protect. */
static void find_dkim_user(struct master *m)
{
    const char *user = m->cfg->dkim_user;
    struct passwd *pw;

    m->dkim_uid = m->uid;
    m->dkim_gid = m->gid;
    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        if (dkim_configured(m->cfg))
            die("dkim-user '%s' does not exist; create it with: useradd --system "
                "--no-create-home --shell /usr/sbin/nologin %s", user, user);
        fprintf(stderr, "courser: dkim-user '%s' does not exist: dkimsign runs as '%s' "
                        "(create it before configuring DKIM keys)\n", user, m->cfg->user);
        return;
    }
    if (pw->pw_uid == 0)
        die("dkim-user '%s' is root; set `dkim-user` to an unprivileged account", user);
    if (pw->pw_uid == m->uid && dkim_configured(m->cfg))
        die("dkim-user '%s' is the daemons' user; the keys need an account of their own", user);
    m->dkim_uid = pw->pw_uid;
    m->dkim_gid = pw->pw_gid;
}

static void find_user(struct master *m, const char *user)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        m->drop = 0;
        return;
    }
    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL)
        die("user '%s' does not exist; create it with: useradd --system "
            "--home-dir /var/spool/courser --shell /usr/sbin/nologin %s", user, user);
    if (pw->pw_uid == 0)
        die("user '%s' is root; set `user` to an unprivileged account", user);
    m->drop = 1;
    m->uid = pw->pw_uid;
    m->gid = pw->pw_gid;
    find_dkim_user(m);
}

static void find_bin_dir(struct master *m)
{
    static const char *const progs[] = { "acctd", "bounced", "qmgr", "smtp-out", "smtpd", "dkimsign" };
    char exe[PATH_MAX], p[PATH_MAX + 32];
    ssize_t n;
    char *slash;
    size_t i;

    if (m->cfg->daemon_dir[0] != '\0') {
        snprintf(m->bin_dir, sizeof(m->bin_dir), "%s", m->cfg->daemon_dir);
    } else {
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            die("cannot find my own program: /proc/self/exe: %s", strerror(errno));
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash == NULL)
            die("cannot find my own folder from %s", exe);
        *slash = '\0';
        snprintf(m->bin_dir, sizeof(m->bin_dir), "%s", exe[0] ? exe : "/");
    }
    for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", m->bin_dir, progs[i]);
        if (access(p, X_OK) < 0)
            die("cannot run %s: %s (set daemon-dir?)", p, strerror(errno));
    }
}

static int set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* listen_unix - a UNIX socket under run_dir, owned by the daemons' user
 * when owned is set (smtpd/qmgr/smtp-out connect to it). */
static int listen_unix(struct master *m, char *path, size_t pathlen, const char *name,
                       int owned)
{
    int fd;

    if (snprintf(path, pathlen, "%s/%s", m->cfg->run_dir, name) >= (int)pathlen)
        die("run-dir too long for %s", name);
    fd = net_listen_unix(path);
    if (fd < 0) {
        if (errno == EADDRINUSE)
            die("%s is in use: is courser already running?", path);
        die("cannot listen on %s: %s", path, strerror(errno));
    }
    if (owned)
        own_path(m, path);
    if (set_cloexec(fd) < 0)
        die("fcntl: %s", strerror(errno));
    return fd;
}

static void open_listeners(struct master *m)
{
    const struct config *cfg = m->cfg;
    size_t i;

    m->control_fd = listen_unix(m, m->control_path, sizeof(m->control_path), "control.sock", 0);
    m->qmgr_fd = listen_unix(m, m->qmgr_path, sizeof(m->qmgr_path), "qmgr.sock", 1);
    m->acctd_fd = listen_unix(m, m->acctd_path, sizeof(m->acctd_path), "acctd.sock", 1);
    /* Owned by the daemons' user: smtp-out connects; dkimsign only
     * inherits the listening descriptor. */
    m->dkim_fd = listen_unix(m, m->dkim_path, sizeof(m->dkim_path), "dkimsign.sock", 1);
    m->bounced_fd = listen_unix(m, m->bounced_path, sizeof(m->bounced_path), "bounced.sock", 1);
    m->tcp_fds = calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(int));
    if (m->tcp_fds == NULL)
        die("out of memory");
    for (i = 0; i < cfg->nlisteners; i++) {
        const struct cfg_listener *l = &cfg->listeners[i];
        int fd = net_listen_tcp(l->ip, l->port);
        if (fd < 0) {
            unlink(m->control_path);
            die("%s:%d: smtp-listener %s:%u: %s", l->file, l->line, l->ip, l->port,
                strerror(errno));
        }
        if (set_cloexec(fd) < 0)
            die("fcntl: %s", strerror(errno));
        m->tcp_fds[m->ntcp++] = fd;
    }
}

static void prepare_dirs(struct master *m)
{
    const struct config *cfg = m->cfg;
    size_t i;

    if (mkdir_p(cfg->run_dir, m) < 0)
        die("cannot create run-dir %s: %s", cfg->run_dir, strerror(errno));
    own_path(m, cfg->run_dir);
    if (mkdir_p(cfg->spool_dir, m) < 0 || spool_init_dirs(cfg->spool_dir) < 0)
        die("cannot create spool %s: %s", cfg->spool_dir, strerror(errno));
    own_spool(m, cfg->spool_dir);
    prepare_file(m, cfg->log_file, 1);
    for (i = 0; i < cfg->nacct_files; i++)
        prepare_file(m, cfg->acct_files[i].path, 0);
}

static void daemonize(struct master *m)
{
    pid_t pid;
    int fd;

    if (m->cfg->log_file[0] == '\0')
        fprintf(stderr, "courser: no log-file is set: logs of the background daemons "
                        "are discarded (use -f to keep them on stderr)\n");
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        die("setsid: %s", strerror(errno));
    if (chdir("/") < 0)
        die("chdir /: %s", strerror(errno));
    fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        die("/dev/null: %s", strerror(errno));
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        die("dup2: %s", strerror(errno));
    if (fd > 2)
        close(fd);
}

static void write_pidfile(struct master *m)
{
    char line[32];
    int fd, n;

    if (snprintf(m->pidfile, sizeof(m->pidfile), "%s/courser.pid", m->cfg->run_dir)
        >= (int)sizeof(m->pidfile))
        msg_fatal("run-dir too long for the pid file");
    fd = open(m->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0)
        msg_fatal("cannot write %s: %s", m->pidfile, strerror(errno));
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct master *m = h->data;
    char err[1024];

    switch (signum) {
    case SIGCHLD:
        supervise_reap(m);
        break;
    case SIGHUP:
        (void)supervise_reload(m, err, sizeof(err));
        break;
    default:
        supervise_shutdown(m);
        break;
    }
}

static void start_signal(struct master *m, uv_signal_t *h, int signum)
{
    if (uv_signal_init(m->loop, h) != 0 || uv_signal_start(h, on_signal, signum) != 0)
        msg_fatal("cannot handle signal %d", signum);
    h->data = m;
}

static void run(struct master *m)
{
    m->loop = uv_default_loop();
    m->start_ms = uv_now(m->loop);
    start_signal(m, &m->sig_chld, SIGCHLD);
    start_signal(m, &m->sig_term, SIGTERM);
    start_signal(m, &m->sig_int, SIGINT);
    start_signal(m, &m->sig_hup, SIGHUP);
    if (supervise_init(m) < 0)
        msg_fatal("out of memory");
    if (control_start(m) < 0)
        msg_fatal("cannot serve %s", m->control_path);
    msg_info("courser %s starting: config %s, daemons from %s, running as %s",
             COURSER_VERSION, m->conf_path, m->bin_dir, m->drop ? m->cfg->user : "myself");
    supervise_start_all(m);
    (void)uv_run(m->loop, UV_RUN_DEFAULT);
}

/* print_check_error - one line of `courser -t`. */
static void print_check_error(void *arg, const char *line)
{
    fprintf(stderr, "courser: %s\n", line);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, 't' },
        { "config-docs", no_argument, NULL, 'D' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct master *m = &g_master;
    const char *conf = getenv("COURSER_CONF");
    int c, foreground = 0, check = 0;
    char err[1024];

    log_init("master");
    while ((c = getopt_long(argc, argv, "c:ftvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'f': foreground = 1; break;
        case 't': check = 1; break;
        case 'v': log_set_verbose(1); break;
        case 'D': return config_write_docs(stdout) < 0 ? 1 : 0;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (conf == NULL || conf[0] == '\0')
        conf = DEFAULT_CONF;
    /* -t: every error, not only the first (as `mtactl check-config`) */
    if (check && config_check_all(conf, print_check_error, NULL) > 0)
        return 1;
    if (config_load(conf, &m->cfg, err, sizeof(err)) < 0)
        die("%s", err);
    if (check) {
        printf("config OK: %s\n", m->cfg->path);
        return 0;
    }
    snprintf(m->conf_path, sizeof(m->conf_path), "%s", m->cfg->path);
    (void)signal(SIGPIPE, SIG_IGN);
    cloexec_inherited();
    find_user(m, m->cfg->user);
    find_bin_dir(m);
    prepare_dirs(m);
    open_listeners(m);
    if (m->cfg->log_file[0] != '\0' && log_open_file(m->cfg->log_file) < 0)
        die("cannot open log file %s: %s", m->cfg->log_file, strerror(errno));
    if (!foreground)
        daemonize(m);
    write_pidfile(m);
    run(m);
    return 0;
}
