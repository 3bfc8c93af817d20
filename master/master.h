/*
 * master - shared state of the master process (bin/courser): the sockets
 * it created, the supervised daemons, the configuration in force.
 * supervise.c owns the daemon table (start, restart, reload, stop);
 * control.c owns control.sock (mtactl's requests); main.c sets it up.
 */
#ifndef COURSER_MASTER_H
#define COURSER_MASTER_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include "backoff.h"
#include "buf.h"
#include "config.h"

#ifndef COURSER_VERSION
#define COURSER_VERSION "0.1.0"
#endif

/* In start order; shutdown runs it backwards. */
enum daemon_kind { DK_DKIMSIGN, DK_ACCTD, DK_BOUNCED, DK_QMGR, DK_SMTP_OUT, DK_SMTPD, DK_COUNT };

enum daemon_state {
    DS_STOPPED,     /* not started yet, or exited during shutdown */
    DS_RUNNING,
    DS_BACKOFF,     /* crashed; restart timer armed */
    DS_FAILED,      /* crashed too often; left down */
    DS_STOPPING,    /* SIGTERM sent by master */
};

struct master;

struct daemon_proc {
    struct master *m;
    enum daemon_kind kind;
    unsigned index;             /* among daemons of its kind */
    pid_t pid;                  /* 0 when not running */
    enum daemon_state state;
    unsigned restarts;
    uint64_t started_ms;
    struct backoff bo;
    uv_timer_t timer;           /* restart delay */
};

struct master {
    uv_loop_t *loop;
    struct config *cfg;
    char conf_path[PATH_MAX];   /* absolute */
    char bin_dir[PATH_MAX];     /* where the daemon programs are */
    int *tcp_fds;               /* one per cfg->listeners entry */
    size_t ntcp;
    int qmgr_fd, acctd_fd, control_fd;
    char qmgr_path[PATH_MAX], acctd_path[PATH_MAX];
    int dkim_fd;                /* dkimsign.sock, passed to dkimsign */
    char dkim_path[PATH_MAX];
    int bounced_fd;
    char bounced_path[PATH_MAX];
    char control_path[PATH_MAX], pidfile[PATH_MAX];
    int drop;                   /* started as root: children setuid */
    uid_t uid;                  /* children's uid/gid */
    gid_t gid;
    uid_t dkim_uid;             /* dkimsign's (dkim-user) when drop is set */
    gid_t dkim_gid;
    struct daemon_proc *procs;
    size_t nprocs;
    uint64_t start_ms;
    int stopping;
    int stop_phase;             /* index into the reverse start order */
    uv_timer_t stop_timer;
    uv_signal_t sig_chld, sig_term, sig_int, sig_hup;
    uv_pipe_t control;
};

const char *daemon_kind_name(enum daemon_kind k);

/* supervise.c */
int supervise_init(struct master *m);
void supervise_start_all(struct master *m);
/* Reap exited children and restart or advance the shutdown. */
void supervise_reap(struct master *m);
/* Load the config again; on success swap it in and SIGHUP every daemon.
 * Returns 0, or -1 with the one-line error in err (the old one stays). */
int supervise_reload(struct master *m, char *err, size_t errlen);
void supervise_shutdown(struct master *m);
/* Master's part of `mtactl status`. */
void supervise_status(struct master *m, struct buf *out);

/* control.c */
int control_start(struct master *m);
void control_stop(struct master *m);

#endif
