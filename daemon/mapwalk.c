// SPDX-License-Identifier: GPL-2.0
/* mapwalk.c - whole-map reads with batch lookups (see mapwalk.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * Visit every entry of a hash map with batch lookups. ENOSPC means one
 * bucket holds more than the buffer: grow and retry the same batch.
 */
int ns_map_walk(int fd, size_t ksz, size_t vsz, ns_walk_cb cb, void *arg)
{
	uint32_t n = WALK_BATCH, count;
	uint64_t in_batch = 0, out_batch = 0;
	char *keys = NULL, *vals = NULL;
	bool first = true, done = false;
	int err = 0;

	while (!done) {
		if (!keys) {
			keys = calloc(n, ksz);
			vals = calloc(n, vsz);
			if (!keys || !vals) {
				err = -ENOMEM;
				break;
			}
		}
		count = n;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					 &count, NULL)) {
			err = -errno;
			if (err == -ENOSPC && n < 65536) {
				free(keys);
				free(vals);
				keys = vals = NULL;
				n *= 4;
				err = 0;
				continue;
			}
			if (err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */) {
				if (first) {
					err = walk_keys(fd, ksz, vsz, cb, arg);
					break;
				}
			}
			if (err != -ENOENT)
				break;
			err = 0;
			done = true; /* last batch: count entries are still valid */
		}
		for (uint32_t i = 0; i < count; i++)
			cb(keys + i * ksz, vals + i * vsz, arg);
		in_batch = out_batch;
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}
