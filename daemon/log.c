// SPDX-License-Identifier: GPL-2.0
/* log.c - levels, stderr/file/syslog sinks (see log.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int g_level = 2;
static int g_syslog;
static FILE *g_file;
static const char *g_ident = "natsync";

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

int log_init(const char *ident, int level, const char *file, int use_syslog)
{
	int err = 0;

	if (ident)
		g_ident = ident;
	g_level = level;
	if (file && *file) {
		g_file = fopen(file, "ae");
		if (g_file) {
			setvbuf(g_file, NULL, _IOLBF, 0);
		} else {
			err = -errno;
			fprintf(stderr, "%s: cannot open log file %s: %s\n", g_ident, file,
				strerror(-err));
		}
	}
	if (use_syslog && !g_syslog)
		openlog(g_ident, LOG_PID, LOG_DAEMON);
	g_syslog = use_syslog || g_syslog;
	return err;
}

void log_set_level(int level)
{
	g_level = level;
}

int log_get_level(void)
{
	return g_level;
}

void log_close(void)
{
	if (g_file)
		fclose(g_file);
	g_file = NULL;
	if (g_syslog)
		closelog();
	g_syslog = 0;
}

void log_msg(int level, const char *fmt, ...)
{
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level > g_level)
		return;
	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", ts, now.tv_nsec / 1000000, g_ident,
		level_names[level], msg);
	if (g_file)
		fprintf(g_file, "%s.%03ldZ %s[%s]: %s\n", ts, now.tv_nsec / 1000000, g_ident,
			level_names[level], msg);
	if (g_syslog)
		syslog(syslog_prio[level], "%s", msg);
}
