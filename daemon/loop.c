// SPDX-License-Identifier: GPL-2.0
/* loop.c - the single epoll event loop (see loop.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_MAX_SOURCES 256
#define LOOP_WARN_NS (100ull * 1000000) /* a callback this long is logged */

static uint64_t st_last_warn; /* the last such line (one loop per process) */

struct ns_source {
	int fd;
	int timer; /* owned timerfd: closed by loop_free, drained before cb */
	ns_loop_cb cb;
	void *arg;
	const char *name; /* for the stall statistics; NULL: "fd N" */
};

struct ns_loop {
	int epfd;
	int running;
	struct ns_loop_stats st;
	struct ns_source src[LOOP_MAX_SOURCES];
};

const uint32_t NS_LOOP_BUCKET_US[NS_LOOP_BUCKETS - 1] = { 100, 1000, 5000, 20000, 100000, 500000 };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void account(struct ns_loop_stats *st, const struct ns_source *s, uint64_t ns,
		    uint64_t cpu_ns)
{
	char name[sizeof(st->max_name)];
	int b = 0;

	while (b < NS_LOOP_BUCKETS - 1 && ns > (uint64_t)NS_LOOP_BUCKET_US[b] * 1000)
		b++;
	st->hist[b]++;
	st->callbacks++;
	st->sum_ns += ns;
	if (ns < LOOP_WARN_NS && ns <= st->max_ns)
		return;
	if (s->name)
		snprintf(name, sizeof(name), "%s", s->name);
	else
		snprintf(name, sizeof(name), "fd %d", s->fd);
	/* A long one is worth a line: it delayed every other source
	 * (heartbeats included). At most one a second. */
	if (ns >= LOOP_WARN_NS && mono_ns() - st_last_warn >= 1000000000ull) {
		st_last_warn = mono_ns();
		pr_warn("event loop: %s ran %llu ms (%llu ms of CPU)", name,
			(unsigned long long)(ns / 1000000), (unsigned long long)(cpu_ns / 1000000));
	}
	if (ns > st->max_ns) {
		st->max_ns = ns;
		st->max_cpu_ns = cpu_ns;
		memcpy(st->max_name, name, sizeof(name));
	}
}

void loop_get_stats(const struct ns_loop *l, struct ns_loop_stats *st)
{
	*st = l->st;
}

struct ns_loop *loop_new(void)
{
	struct ns_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	for (int i = 0; i < LOOP_MAX_SOURCES; i++)
		l->src[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct ns_loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < LOOP_MAX_SOURCES; i++)
		if (l->src[i].fd >= 0 && l->src[i].timer)
			close(l->src[i].fd);
	close(l->epfd);
	free(l);
}

static struct ns_source *find(struct ns_loop *l, int fd)
{
	for (int i = 0; i < LOOP_MAX_SOURCES; i++)
		if (l->src[i].fd == fd)
			return &l->src[i];
	return NULL;
}

int loop_add(struct ns_loop *l, int fd, uint32_t events, ns_loop_cb cb, void *arg)
{
	struct ns_source *s = find(l, -1);
	struct epoll_event ev = { .events = events };

	if (fd < 0)
		return -EBADF;
	if (!s)
		return -ENOSPC;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	s->fd = fd;
	s->timer = 0;
	s->cb = cb;
	s->arg = arg;
	s->name = NULL;
	return 0;
}

void loop_set_name(struct ns_loop *l, int fd, const char *name)
{
	struct ns_source *s = find(l, fd);

	if (s)
		s->name = name;
}

int loop_mod(struct ns_loop *l, int fd, uint32_t events)
{
	struct ns_source *s = find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del(struct ns_loop *l, int fd)
{
	struct ns_source *s = find(l, fd);

	if (!s)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	if (s->timer)
		close(s->fd);
	s->fd = -1;
	s->cb = NULL;
	return 0;
}

int loop_add_timer(struct ns_loop *l, uint64_t interval_ms, ns_loop_cb cb, void *arg)
{
	struct itimerspec its = {0};
	int fd, err;

	if (!interval_ms)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval.tv_sec = interval_ms / 1000;
	its.it_interval.tv_nsec = (interval_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = loop_add(l, fd, EPOLLIN, cb, arg);
	if (err) {
		close(fd);
		return err;
	}
	find(l, fd)->timer = 1;
	return fd;
}

int loop_run(struct ns_loop *l)
{
	struct epoll_event evs[32];

	l->running = 1;
	while (l->running) {
		int n = epoll_wait(l->epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && l->running; i++) {
			struct ns_source *s = evs[i].data.ptr;
			struct ns_source was;
			uint64_t ticks, t0, c0;

			if (s->fd < 0 || !s->cb)
				continue; /* removed by an earlier callback */
			if (s->timer && read(s->fd, &ticks, sizeof(ticks)) < 0)
				continue; /* spurious wake-up */
			was = *s; /* as it was: the callback may remove it */

			t0 = mono_ns();
			c0 = thread_cpu_ns();
			s->cb(l, s->fd, evs[i].events, s->arg);
			account(&l->st, &was, mono_ns() - t0, thread_cpu_ns() - c0);
		}
	}
	return 0;
}

void loop_stop(struct ns_loop *l)
{
	l->running = 0;
}
