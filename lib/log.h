/*
 * log - the five message levels every Courser process uses.
 *
 * msg_info/msg_warn/msg_error report and return; msg_fatal exits (status 1)
 * for an unrecoverable condition outside our control (bad config, no
 * memory); msg_panic aborts for an impossible state (a bug).  Lines go to
 * the log file named by `log-file`, else stderr, as
 *   2026-11-28T13:16:03.123Z courser/smtpd[123]: warn: text
 * Text that came from outside (addresses, replies) must pass through
 * log_escape() first so a peer cannot forge log lines.
 */
#ifndef COURSER_LOG_H
#define COURSER_LOG_H

#include <stddef.h>

void log_init(const char *progname);
/* Reopen on the given file (NULL: stderr).  Returns 0 or -1 with errno. */
int log_open_file(const char *path);
void log_set_verbose(int verbose);
int log_verbose(void);

void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy src (srclen bytes) into dst as printable ASCII: CR, LF, NUL, other
 * controls and bytes >= 0x7f become \xNN, backslash becomes \\.  Always
 * NUL-terminates; truncates with "..." when dst is too small.  Returns dst. */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
