// SPDX-License-Identifier: GPL-2.0
/* log.c - levels, stderr/file/syslog sinks (see log.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int g_level = 2;
static int g_syslog;
static FILE *g_file;
static const char *g_ident = "natsync";

/*
 * The syslog sink is natsync's own client of the local syslog socket
 * rather than syslog(3): glibc's drops every line without a word when
 * /dev/log is missing (and blocks when the receiver stalls), and it cannot
 * be pointed at another socket. This one sends RFC 3164 lines without
 * waiting, says once (stderr and log file) when the socket cannot be
 * reached, and once when it can again, with the count of lines lost.
 */
static struct sockaddr_un g_sl_addr = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
static int g_sl_fd = -1;
static int g_sl_down;               /* the failure was said, not the recovery */
static unsigned long long g_sl_lost;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

int log_set_syslog_socket(const char *path)
{
	if (!path || !*path || strlen(path) >= sizeof(g_sl_addr.sun_path))
		return -EINVAL;
	strcpy(g_sl_addr.sun_path, path);
	if (g_sl_fd >= 0)
		close(g_sl_fd);
	g_sl_fd = -1;
	return 0;
}

unsigned long long log_syslog_lost(void)
{
	return g_sl_lost;
}

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
	if (g_sl_fd >= 0)
		close(g_sl_fd);
	g_sl_fd = -1;
	g_syslog = 0;
}

/* A line to stderr and the log file only (what is said about syslog). */
static void log_local(const char *ts, long ms, const char *level, const char *msg)
{
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", ts, ms, g_ident, level, msg);
	if (g_file)
		fprintf(g_file, "%s.%03ldZ %s[%s]: %s\n", ts, ms, g_ident, level, msg);
}

static int sl_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&g_sl_addr, sizeof(g_sl_addr))) {
		int err = -errno;

		close(fd);
		return err;
	}
	g_sl_fd = fd;
	return 0;
}

/* One datagram; a receiver that went away (syslog restarted) is
 * reconnected once. 0 or -errno. */
static int sl_send(const char *buf, size_t len)
{
	int err = 0;

	for (int tries = 0; tries < 2; tries++) {
		if (g_sl_fd < 0 && (err = sl_connect()))
			return err;
		if (send(g_sl_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		err = -errno;
		if (err == -EAGAIN || err == -ENOBUFS)
			return err; /* the receiver is behind: never wait for it */
		close(g_sl_fd);
		g_sl_fd = -1;
	}
	return err;
}

static void log_syslog(int level, const char *ts, long ms, const char *msg)
{
	char line[1200], stamp[32], note[256];
	time_t now = time(NULL);
	struct tm tm;
	int n, err;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "<%d>%s %s[%d]: %s", LOG_DAEMON | syslog_prio[level],
		     stamp, g_ident, (int)getpid(), msg);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	err = sl_send(line, (size_t)n);
	if (err) {
		g_sl_lost++;
		if (g_sl_down)
			return;
		g_sl_down = 1;
		snprintf(note, sizeof(note), "syslog: cannot send to %s: %s: syslog lines are lost "
			 "until it can be reached (said once; the lines still go to stderr%s)",
			 g_sl_addr.sun_path, strerror(-err), g_file ? " and the log file" : "");
		log_local(ts, ms, level_names[1], note);
		return;
	}
	if (g_sl_down) {
		g_sl_down = 0;
		snprintf(note, sizeof(note), "syslog: %s reached again; %llu lines were lost",
			 g_sl_addr.sun_path, g_sl_lost);
		log_local(ts, ms, level_names[2], note);
	}
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
	log_local(ts, now.tv_nsec / 1000000, level_names[level], msg);
	if (g_syslog)
		log_syslog(level, ts, now.tv_nsec / 1000000, msg);
}
