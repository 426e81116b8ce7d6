/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loop.h - natsyncd's single epoll event loop. Every source (timerfds, the
 * signalfd, the ring buffer, the control socket, the sync sockets) registers
 * a callback here; nothing in a callback may block.
 */
#ifndef NATSYNC_LOOP_H
#define NATSYNC_LOOP_H

#include <stdint.h>

struct ns_loop;
typedef void (*ns_loop_cb)(struct ns_loop *loop, int fd, uint32_t events, void *arg);

/*
 * How long the loop's callbacks ran (wall clock): a callback that runs
 * long delays every other source, heartbeats included. Bucket upper
 * bounds are NS_LOOP_BUCKET_US; the last bucket has none.
 */
#define NS_LOOP_BUCKETS 7
extern const uint32_t NS_LOOP_BUCKET_US[NS_LOOP_BUCKETS - 1];

struct ns_loop_stats {
	uint64_t callbacks;
	uint64_t max_ns;                   /* the longest callback */
	uint64_t max_cpu_ns;               /* ... the CPU time this thread got in it
					    * (far less than max_ns: it waited for a
					    * CPU or in the kernel, not on its work) */
	char max_name[24];                 /* ... its source (loop_set_name) */
	uint64_t sum_ns;                   /* all of them (the metrics' histogram) */
	uint64_t hist[NS_LOOP_BUCKETS];    /* callbacks by duration */
};

struct ns_loop *loop_new(void);
void loop_free(struct ns_loop *loop);
/* events: EPOLLIN/EPOLLOUT/...; returns 0 or -errno. */
int loop_add(struct ns_loop *loop, int fd, uint32_t events, ns_loop_cb cb, void *arg);
int loop_mod(struct ns_loop *loop, int fd, uint32_t events);
int loop_del(struct ns_loop *loop, int fd);
/* Name a registered source for the stall statistics ("sync conn", ...);
 * name must outlive the registration (a string literal). */
void loop_set_name(struct ns_loop *loop, int fd, const char *name);
/* A periodic timer (timerfd, CLOCK_MONOTONIC); returns the fd or -errno. */
int loop_add_timer(struct ns_loop *loop, uint64_t interval_ms, ns_loop_cb cb, void *arg);
/* Run until loop_stop(); returns 0, or -errno on an epoll failure. */
int loop_run(struct ns_loop *loop);
void loop_stop(struct ns_loop *loop);
/* The stall statistics since loop_new(). */
void loop_get_stats(const struct ns_loop *loop, struct ns_loop_stats *st);

#endif
