/*
 * log - message levels and log line formatting for every process.
 * One line per call, written with a single write(2) so lines from the
 * processes sharing a log file do not interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

static char log_progname[64] = "courser";
static int log_fd = 2;
static int log_verbosity;

void log_init(const char *progname)
{
    snprintf(log_progname, sizeof(log_progname), "%s", progname);
}

int log_open_file(const char *path)
{
    int fd;

    if (path == NULL || path[0] == '\0') {
        if (log_fd != 2)
            close(log_fd);
        log_fd = 2;
        return 0;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    if (log_fd != 2)
        close(log_fd);
    log_fd = fd;
    return 0;
}

void log_set_verbose(int verbose)
{
    log_verbosity = verbose;
}

int log_verbose(void)
{
    return log_verbosity;
}

static void log_emit(const char *level, const char *fmt, va_list ap)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int r;
    int saved = errno;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03dZ courser/%s[%d]: %s: ",
                 (int)(tv.tv_usec / 1000), log_progname, (int)getpid(), level);
    if (r > 0 && (size_t)r < sizeof(line) - n)
        n += (size_t)r;
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (r < 0)
        r = 0;
    n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* nowhere left to report a failing log; keep running */
    }
    errno = saved;
}

#define LOG_BODY(level)            \
    va_list ap;                    \
    va_start(ap, fmt);             \
    log_emit(level, fmt, ap);      \
    va_end(ap)

void msg_debug(const char *fmt, ...)
{
    if (!log_verbosity)
        return;
    LOG_BODY("debug");
}

void msg_info(const char *fmt, ...)
{
    LOG_BODY("info");
}

void msg_warn(const char *fmt, ...)
{
    LOG_BODY("warn");
}

void msg_error(const char *fmt, ...)
{
    LOG_BODY("error");
}

void msg_fatal(const char *fmt, ...)
{
    LOG_BODY("fatal");
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    LOG_BODY("panic");
    abort();
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    if (dstlen == 0)
        return dst;
    for (i = 0; i < srclen; i++) {
        unsigned char c = (unsigned char)src[i];
        size_t need = (c < 0x20 || c >= 0x7f) ? 4 : (c == '\\' ? 2 : 1);

        if (o + need + 4 > dstlen) {
            if (dstlen >= 4) {
                memcpy(dst + (o < dstlen - 4 ? o : dstlen - 4), "...", 3);
                o = (o < dstlen - 4 ? o : dstlen - 4) + 3;
            }
            break;
        }
        if (c < 0x20 || c >= 0x7f) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else if (c == '\\') {
            dst[o++] = '\\';
            dst[o++] = '\\';
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o < dstlen ? o : dstlen - 1] = '\0';
    return dst;
}
