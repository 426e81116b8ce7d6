/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapwalk.h - read a whole BPF hash map from user space: batch lookups,
 * falling back to key-by-key on kernels or map types without batch ops.
 * Used by the control socket's show commands and by the metrics thread
 * (which walks with its own fds: nothing here touches daemon state).
 */
#ifndef NATSYNC_MAPWALK_H
#define NATSYNC_MAPWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called once per entry; key and val are only valid during the call. */
typedef void (*ns_walk_cb)(const void *key, const void *val, void *arg);

/*
 * ns_map_check - fd is open and its key/value sizes are ksz/vsz, so a
 * pinned map of another layout is reported instead of misread.
 * Returns 0, or -1 with "map NAME: ..." in err.
 */
int ns_map_check(int fd, const char *name, uint32_t ksz, uint32_t vsz, char *err,
		 size_t errlen);

/*
 * ns_map_walk - visit every entry of the hash map fd (key ksz bytes, value
 * vsz bytes). Entries added or deleted meanwhile may or may not be seen.
 * Returns 0 or -errno.
 */
int ns_map_walk(int fd, size_t ksz, size_t vsz, ns_walk_cb cb, void *arg);

/*
 * The same walk in steps, for work that must not hold the event loop: init,
 * then ns_walk_step() until it returns 1 (the map is read; 0: the deadline,
 * CLOCK_MONOTONIC ns, passed first; 0 as deadline: no limit; -errno), then
 * fini. Without batch operations the walk is done key by key in one step.
 */
struct ns_walk_cur {
	int fd;
	size_t ksz, vsz;
	uint32_t n;                /* entries per batch */
	uint64_t token;
	bool first, done;
	char *keys, *vals;
};
void ns_walk_init(struct ns_walk_cur *w, int fd, size_t ksz, size_t vsz);
int ns_walk_step(struct ns_walk_cur *w, ns_walk_cb cb, void *arg, uint64_t deadline);
void ns_walk_fini(struct ns_walk_cur *w);

/*
 * Several walks one after the other, in steps (a control command that
 * reads two or three maps): add them (a map whose fd is < 0 is skipped),
 * then ns_walk_seq_step() until it returns 1 (all read), 0 (the deadline
 * passed first) or -errno (name: the map whose walk failed).
 */
#define NS_WALK_SEQ_MAX 4
struct ns_walk_seq {
	struct ns_walk_cur cur;
	unsigned int n, i;
	bool started;
	const char *name;            /* the walk under way */
	struct {
		int fd;
		size_t ksz, vsz;
		ns_walk_cb cb;
		void *arg;
		const char *name;
	} w[NS_WALK_SEQ_MAX];
};
void ns_walk_seq_add(struct ns_walk_seq *q, int fd, size_t ksz, size_t vsz, ns_walk_cb cb,
		     void *arg, const char *name);
int ns_walk_seq_step(struct ns_walk_seq *q, uint64_t deadline);
void ns_walk_seq_fini(struct ns_walk_seq *q);

#endif
