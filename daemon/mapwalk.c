// SPDX-License-Identifier: GPL-2.0
/* mapwalk.c - whole-map reads with batch lookups (see mapwalk.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "mapwalk.h"

#define WALK_BATCH 256 /* entries per bpf_map_lookup_batch call */

int ns_map_check(int fd, const char *name, uint32_t ksz, uint32_t vsz, char *err,
		 size_t errlen)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (fd < 0) {
		snprintf(err, errlen, "map %s is not open", name);
		return -1;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(err, errlen, "map %s: %s", name, strerror(errno));
		return -1;
	}
	if (info.key_size != ksz || info.value_size != vsz) {
		snprintf(err, errlen, "map %s: key/value size %u/%u, expected %u/%u", name,
			 info.key_size, info.value_size, ksz, vsz);
		return -1;
	}
	return 0;
}

/* Fallback for kernels or map types without batch ops: ~10x slower. */
static int walk_keys(int fd, size_t ksz, size_t vsz, ns_walk_cb cb, void *arg)
{
	char *key = calloc(2, ksz), *val = malloc(vsz);
	char *next = key + ksz;
	bool first = true;
	int err = 0;

	if (!key || !val) {
		err = -ENOMEM;
		goto out;
	}
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(fd, key, val))
			continue; /* deleted by aging or the fast path meanwhile */
		cb(key, val, arg);
	}
	if (errno != ENOENT)
		err = -errno;
out:
	free(key);
	free(val);
	return err;
}

void ns_walk_init(struct ns_walk_cur *w, int fd, size_t ksz, size_t vsz)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->ksz = ksz;
	w->vsz = vsz;
	w->n = WALK_BATCH;
	w->first = true;
}

void ns_walk_fini(struct ns_walk_cur *w)
{
	free(w->keys);
	free(w->vals);
	w->keys = w->vals = NULL;
}

static uint64_t walk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Batches until the map is read or the deadline has passed. ENOSPC means
 * one bucket holds more than the buffer: grow and retry the same batch.
 */
int ns_walk_step(struct ns_walk_cur *w, ns_walk_cb cb, void *arg, uint64_t deadline)
{
	uint32_t count;
	uint64_t out_batch = 0;
	int err;

	while (!w->done) {
		if (!w->keys) {
			w->keys = calloc(w->n, w->ksz);
			w->vals = calloc(w->n, w->vsz);
			if (!w->keys || !w->vals)
				return -ENOMEM;
		}
		count = w->n;
		if (bpf_map_lookup_batch(w->fd, w->first ? NULL : &w->token, &out_batch, w->keys,
					 w->vals, &count, NULL)) {
			err = -errno;
			if (err == -ENOSPC && w->n < 65536) {
				ns_walk_fini(w);
				w->n *= 4;
				continue;
			}
			if ((err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */) &&
			    w->first) {
				/* no batch ops: key by key, in one go */
				w->done = true;
				return walk_keys(w->fd, w->ksz, w->vsz, cb, arg) ?: 1;
			}
			if (err != -ENOENT)
				return err;
			w->done = true; /* last batch: count entries are still valid */
		}
		for (uint32_t i = 0; i < count; i++)
			cb(w->keys + i * w->ksz, w->vals + i * w->vsz, arg);
		w->token = out_batch;
		w->first = false;
		if (!w->done && deadline && walk_now() >= deadline)
			return 0;
	}
	return 1;
}

int ns_map_walk(int fd, size_t ksz, size_t vsz, ns_walk_cb cb, void *arg)
{
	struct ns_walk_cur w;
	int err;

	ns_walk_init(&w, fd, ksz, vsz);
	err = ns_walk_step(&w, cb, arg, 0);
	ns_walk_fini(&w);
	return err < 0 ? err : 0;
}

void ns_walk_seq_add(struct ns_walk_seq *q, int fd, size_t ksz, size_t vsz, ns_walk_cb cb,
		     void *arg, const char *name)
{
	if (fd < 0 || q->n >= NS_WALK_SEQ_MAX)
		return;
	q->w[q->n].fd = fd;
	q->w[q->n].ksz = ksz;
	q->w[q->n].vsz = vsz;
	q->w[q->n].cb = cb;
	q->w[q->n].arg = arg;
	q->w[q->n++].name = name;
}

int ns_walk_seq_step(struct ns_walk_seq *q, uint64_t deadline)
{
	int r;

	while (q->i < q->n) {
		if (!q->started) {
			ns_walk_init(&q->cur, q->w[q->i].fd, q->w[q->i].ksz, q->w[q->i].vsz);
			q->name = q->w[q->i].name;
			q->started = true;
		}
		r = ns_walk_step(&q->cur, q->w[q->i].cb, q->w[q->i].arg, deadline);
		if (r <= 0)
			return r;
		ns_walk_fini(&q->cur);
		q->started = false;
		q->i++;
		if (q->i < q->n && deadline && walk_now() >= deadline)
			return 0;
	}
	return 1;
}

void ns_walk_seq_fini(struct ns_walk_seq *q)
{
	if (q->started)
		ns_walk_fini(&q->cur);
	q->started = false;
}
