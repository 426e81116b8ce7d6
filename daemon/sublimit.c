// SPDX-License-Identifier: GPL-2.0
/* sublimit.c - per-subscriber session accounting, daemon side (see sublimit.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon.h"
#include "log.h"
#include "natsync.skel.h"
#include "sublimit.h"

#define GC_EVERY_NS (10ull * 1000000000ull)

/* Append subscriber @key to @acc. */
static int note_key(struct ns_sublimit_acc *acc, const struct ns_sub_key *key)
{
	struct ns_sub_key *k;

	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;

		k = realloc(acc->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		acc->keys = k;
		acc->cap = cap;
	}
	acc->keys[acc->n++] = *key;
	return 0;
}

/* Did this box's fast path count @s for its subscriber? (a replicated
 * session was counted on the peer, never here) */
static bool counted_here(const struct ns_session *s)
{
	return (s->flags & NS_SF_SUB_COUNTED) && !(s->flags & NS_SF_REPLICATED);
}

int ns_sublimit_note(struct ns_sublimit_acc *acc, const struct ns_session *s)
{
	struct ns_sub_key k;

	if (!counted_here(s))
		return 0;
	memset(&k, 0, sizeof(k));
	k.addr = s->in_key.saddr;
	k.svc_set = s->svc_set;
	return note_key(acc, &k);
}

int ns_sublimit_note64(struct ns_sublimit_acc *acc, const struct ns_session *s,
		       const uint8_t saddr6[16])
{
	uint8_t p64[16] = { 0 };
	struct ns_sub_key k;

	if (!counted_here(s))
		return 0;
	memcpy(p64, saddr6, 8); /* the subscriber is its /64 (bpf/nat64_bib.h) */
	memset(&k, 0, sizeof(k));
	k.addr = ns_nat64_fold(p64);
	k.svc_set = s->svc_set;
	k.nat64 = 1;
	return note_key(acc, &k);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ns_sub_key));
}

int ns_sublimit_flush(int closed_fd, struct ns_sublimit_acc *acc)
{
	int err = 0;

	if (closed_fd >= 0 && acc->n) {
		/* sorted, so each subscriber costs one lookup + one update */
		qsort(acc->keys, acc->n, sizeof(*acc->keys), key_cmp);
		for (size_t i = 0, j; i < acc->n; i = j) {
			uint64_t closed = 0;

			for (j = i; j < acc->n && !key_cmp(&acc->keys[i], &acc->keys[j]); j++)
				;
			bpf_map_lookup_elem(closed_fd, &acc->keys[i], &closed);
			closed += j - i;
			if (bpf_map_update_elem(closed_fd, &acc->keys[i], &closed, BPF_ANY) && !err)
				err = -errno;
		}
	}
	free(acc->keys);
	memset(acc, 0, sizeof(*acc));
	return err;
}

/* Does the subscriber @k have nothing live (created <= closed)? */
static bool sub_idle(int created_fd, int closed_fd, const struct ns_sub_key *k)
{
	uint64_t closed, created;

	if (bpf_map_lookup_elem(closed_fd, k, &closed))
		return false;
	if (bpf_map_lookup_elem(created_fd, k, &created))
		created = 0;
	return created <= closed;
}

int ns_sublimit_gc(int created_fd, int closed_fd)
{
	struct ns_sublimit_acc idle = { 0 };
	struct ns_sub_key key, next, *prev = NULL;
	int removed = 0, err = 0;

	if (created_fd < 0 || closed_fd < 0)
		return 0;
	/* Only subscribers that closed something can be idle: walk that map,
	 * collect, then delete (deleting during get_next_key restarts it). */
	while (!err && !bpf_map_get_next_key(closed_fd, prev, &next)) {
		key = next;
		if (sub_idle(created_fd, closed_fd, &key))
			err = note_key(&idle, &key);
		prev = &key;
	}
	for (size_t i = 0; i < idle.n && !err; i++) {
		/* still idle? a flow may have opened since the walk */
		if (!sub_idle(created_fd, closed_fd, &idle.keys[i]))
			continue;
		/* created first: a flow opened now then starts a fresh count */
		bpf_map_delete_elem(created_fd, &idle.keys[i]);
		if (!bpf_map_delete_elem(closed_fd, &idle.keys[i]))
			removed++;
	}
	free(idle.keys);
	return err ? err : removed;
}

void ns_sublimit_fds(const struct ns_daemon *d, int *created_fd, int *closed_fd)
{
	*created_fd = -1;
	*closed_fd = -1;
	if (!d->skel)
		return;
	*created_fd = bpf_map__fd(d->skel->maps.ns_sub_created);
	*closed_fd = bpf_map__fd(d->skel->maps.ns_sub_closed);
}

int ns_sublimit_after_reap(struct ns_daemon *d, struct ns_sublimit_acc *acc, uint64_t now)
{
	/* one natsyncd per process: a static clock is enough */
	static uint64_t last_gc;
	int created_fd, closed_fd, err, n;

	ns_sublimit_fds(d, &created_fd, &closed_fd);
	err = ns_sublimit_flush(closed_fd, acc);
	if (err)
		pr_warn("sublimit: cannot count closed sessions: %s", strerror(-err));
	if (closed_fd < 0 || (last_gc && now - last_gc < GC_EVERY_NS))
		return err;
	last_gc = now;
	n = ns_sublimit_gc(created_fd, closed_fd);
	if (n > 0)
		pr_debug("sublimit: %d idle subscribers forgotten", n);
	return err ? err : (n < 0 ? n : 0);
}
