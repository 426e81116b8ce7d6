/* SPDX-License-Identifier: GPL-2.0 */
/* log.h - one logging family for the daemon and the CLI (stderr, file, syslog). */
#ifndef NATSYNC_LOG_H
#define NATSYNC_LOG_H

#include <stdarg.h>

/* Levels as in config.h enum ns_log_level. */
/* Open the sinks: stderr always, file (appended) if set, syslog if
 * use_syslog. Calling it again adds syslog, never removes a sink. Returns
 * 0, or -errno when the file cannot be opened (the other sinks work). */
int log_init(const char *ident, int level, const char *file, int use_syslog);
void log_set_level(int level);
/* The syslog socket (a unix datagram socket; default /dev/log), before
 * log_init(). 0 or -EINVAL for an empty or too long path. */
int log_set_syslog_socket(const char *path);
/* Lines the syslog sink could not deliver (socket missing or full). */
unsigned long long log_syslog_lost(void);
int log_get_level(void);
void log_close(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) log_msg(0, __VA_ARGS__)
#define pr_warn(...) log_msg(1, __VA_ARGS__)
#define pr_info(...) log_msg(2, __VA_ARGS__)
#define pr_debug(...) log_msg(3, __VA_ARGS__)

#endif
