/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum oh_log_level g_min = OH_LOG_INFO;
static int g_syslog;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void oh_log_init(enum oh_log_level min, int use_syslog)
{
    g_min = min;
    g_syslog = use_syslog;
    if (use_syslog)
        openlog("orderhub", LOG_PID, LOG_DAEMON);
}

void oh_log_set_level(enum oh_log_level min) { g_min = min; }

int oh_log_parse_level(const char *s, enum oh_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum oh_log_level)i;
            return 0;
        }
    return -1;
}

void oh_log(enum oh_log_level lvl, const char *event, const char *fmt, ...)
{
    char line[4096];
    size_t n = 0;
    va_list ap;
    int w;

    if (lvl < g_min)
        return;
    if (!g_syslog) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
        w = snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
        n += (size_t)w;
    }
    w = snprintf(line + n, sizeof(line) - n, "level=%s event=%s ", level_names[lvl], event);
    if (w > 0 && (size_t)w < sizeof(line) - n)
        n += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w < sizeof(line) - n ? (size_t)w : sizeof(line) - n - 1;
    if (g_syslog) {
        static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
        syslog(prio[lvl], "%s", line);
        return;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere left to report a failing stderr */
    }
}

const char *oh_logq(char *buf, size_t n, const char *s)
{
    size_t o = 0;
    int plain = s && *s;

    if (n == 0)
        return "";
    if (!s)
        s = "";
    for (const char *p = s; *p && plain; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20)
            plain = 0;
    if (plain) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = s; *p && o + 4 < n; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 1 < n)
        buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
