/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapwalk.h - read a whole BPF hash map from user space: batch lookups,
 * falling back to key-by-key on kernels or map types without batch ops.
 * Used by the control socket's show commands and by the metrics thread
 * (which walks with its own fds: nothing here touches daemon state).
 */
#ifndef NATSYNC_MAPWALK_H
#define NATSYNC_MAPWALK_H

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

#endif
