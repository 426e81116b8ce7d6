// SPDX-License-Identifier: GPL-2.0
/* pinlock.c - one natsyncd per pin path and control socket (see pinlock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "pinlock.h"
#include "util.h"

#define LOCK_RETRIES 20 /* identity changed under us / rebind lost a race */
#define LOCK_RETRY_NS (5 * 1000 * 1000)

void ns_lock_init(struct ns_lock *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

int ns_sock_lock_path(const char *control_socket, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s.lock", control_socket) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* One token "maj:min:ino" of /proc/locks (hex, hex, decimal). */
static bool parse_dev_ino(const char *tok, size_t n, unsigned int *maj, unsigned int *min,
			  unsigned long *ino)
{
	char buf[64], *end;
	unsigned long a, b;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	a = strtoul(buf, &end, 16);
	if (end == buf || *end != ':')
		return false;
	tok = end + 1;
	b = strtoul(tok, &end, 16);
	if (end == tok || *end != ':')
		return false;
	tok = end + 1;
	*ino = strtoul(tok, &end, 10);
	if (end == tok || *end)
		return false;
	*maj = (unsigned int)a;
	*min = (unsigned int)b;
	return true;
}

/*
 * Lines look like "1: FLOCK  ADVISORY  WRITE 9477 00:27:27590 0 EOF";
 * a process waiting for the lock is listed as "1: -> FLOCK ...". The pid
 * is the token before the maj:min:ino token, whatever lock type comes
 * before it, so a kernel that adds a column there does not fool us.
 */
pid_t ns_proc_locks_holder(const char *text, unsigned int maj, unsigned int min, unsigned long ino)
{
	const char *line = text;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		const char *p = line, *tok[8];
		size_t len[8], n = 0;

		if (!eol)
			eol = line + strlen(line);
		while (p < eol && n < NS_ARRAY_SIZE(tok)) {
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			if (p == eol)
				break;
			tok[n] = p;
			while (p < eol && *p != ' ' && *p != '\t')
				p++;
			len[n] = (size_t)(p - tok[n]);
			n++;
		}
		/* id, type, ... pid, dev:ino: a waiter has "->" as token 1 */
		if (n >= 4 && len[1] == 5 && !strncmp(tok[1], "FLOCK", 5)) {
			for (size_t i = 3; i < n; i++) {
				unsigned int a, b;
				unsigned long in;
				char pid[16];
				long v;

				if (!parse_dev_ino(tok[i], len[i], &a, &b, &in))
					continue;
				if (a != maj || b != min || in != ino || len[i - 1] >= sizeof(pid))
					break;
				memcpy(pid, tok[i - 1], len[i - 1]);
				pid[len[i - 1]] = '\0';
				v = strtol(pid, NULL, 10);
				if (v > 0)
					return (pid_t)v;
				break;
			}
		}
		line = *eol ? eol + 1 : eol;
	}
	return 0;
}

static pid_t holder_of(dev_t dev, ino_t ino)
{
	char *text = NULL;
	size_t cap = 0, len = 0;
	FILE *f = fopen("/proc/locks", "re");
	pid_t pid = 0;

	if (!f)
		return 0;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *t = realloc(text, cap + 65536);

			if (!t)
				break;
			text = t;
			cap += 65536;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	if (text) {
		text[len] = '\0';
		pid = ns_proc_locks_holder(text, major(dev), minor(dev), (unsigned long)ino);
	}
	free(text);
	return pid;
}

pid_t ns_lock_probe(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return holder_of(st.st_dev, st.st_ino);
}

static void pause_retry(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = LOCK_RETRY_NS};

	nanosleep(&ts, NULL);
}

/* Does path still name the inode open as fd? */
static int same_inode(int fd, const char *path, struct stat *st)
{
	struct stat now;

	if (fstat(fd, st))
		return -errno;
	if (stat(path, &now))
		return errno == ENOENT ? 0 : -errno;
	return now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

int ns_lock_take(struct ns_lock *l, const char *path, bool dir, bool create, pid_t *holder)
{
	int flags = (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW;

	*holder = 0;
	ns_lock_init(l);
	if (ns_strlcpy(l->path, path, sizeof(l->path)))
		return -ENAMETOOLONG;
	l->dir = dir;
	for (int i = 0; i < LOCK_RETRIES; i++) {
		struct stat st;
		bool made = false;
		int fd, same;

		fd = open(path, flags);
		if (fd < 0 && errno == ENOENT && create && !dir) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
			made = fd >= 0;
			if (fd < 0 && errno == EEXIST)
				continue; /* another instance made it: lock theirs */
		}
		if (fd < 0)
			return -errno;
		if (!dir && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
			close(fd);
			return -EINVAL; /* never lock (or later remove) what is not ours */
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

			if (err == -EBUSY && !fstat(fd, &st))
				*holder = holder_of(st.st_dev, st.st_ino);
			close(fd);
			return err;
		}
		same = same_inode(fd, path, &st);
		if (same < 0) {
			close(fd);
			return same;
		}
		if (!same) {
			/* Removed (or replaced) by the holder before it let go. */
			close(fd);
			continue;
		}
		l->fd = fd;
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		l->created = made;
		return 0;
	}
	return -EAGAIN;
}

int ns_lock_rebind(struct ns_lock *l, pid_t *holder)
{
	struct stat st;

	*holder = 0;
	if (l->fd < 0)
		return -EBADF;
	if (flock(l->fd, LOCK_UN))
		return -errno;
	for (int i = 0; i < LOCK_RETRIES; i++) {
		if (!flock(l->fd, LOCK_EX | LOCK_NB)) {
			int same = same_inode(l->fd, l->path, &st);

			if (same > 0)
				return 0;
			return same < 0 ? same : -ENOENT;
		}
		if (errno != EWOULDBLOCK)
			return -errno;
		pause_retry();
	}
	*holder = holder_of(l->dev, l->ino);
	return -EBUSY;
}

void ns_lock_release(struct ns_lock *l, bool remove)
{
	struct stat st;

	if (l->fd < 0)
		return;
	/* Remove only what still is the inode we hold (never a successor's). */
	if (remove && !stat(l->path, &st) && st.st_dev == l->dev && st.st_ino == l->ino) {
		if (!l->dir)
			unlink(l->path);
		else if (l->created)
			rmdir(l->path); /* ENOTEMPTY once pins exist: they stay */
	}
	close(l->fd);
	l->fd = -1;
}

int ns_lock_note_pid(struct ns_lock *l)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (l->fd < 0 || l->dir)
		return -EBADF;
	if (ftruncate(l->fd, 0) || pwrite(l->fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}
