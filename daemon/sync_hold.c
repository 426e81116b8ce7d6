// SPDX-License-Identifier: GPL-2.0
/* sync_hold.c - held NAT bindings travel to the backup (see sync_hold.h). */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_hold.h"
#include "util.h"

void sync_hold_reset(struct sync_hold *h)
{
	free(h->pend);
	h->pend = NULL;
	h->n = h->off = h->cap = 0;
	h->bulk = false;
}

void sync_hold_fini(struct sync_hold *h)
{
	sync_hold_reset(h);
}

/* Room for one more waiting record; false when the list is at its bound. */
static bool pend_room(struct sync_hold *h, size_t max)
{
	struct nsw_hold *p;
	size_t cap;

	if (h->off && h->off == h->n)
		h->off = h->n = 0; /* all sent: start over */
	if (h->n < h->cap)
		return true;
	if (h->off) { /* move what waits to the front */
		memmove(h->pend, h->pend + h->off, (h->n - h->off) * sizeof(*h->pend));
		h->n -= h->off;
		h->off = 0;
		return true;
	}
	if (h->cap >= max)
		return false;
	cap = h->cap ? h->cap * 2 : 64;
	p = realloc(h->pend, cap * sizeof(*p));
	if (!p)
		return false;
	h->pend = p;
	h->cap = cap;
	return true;
}

static void pend_add(struct sync_hold *h, const struct ns_port_key *k,
		     const struct ns_port_val *v, uint64_t now, size_t max)
{
	if (!pend_room(h, max)) {
		h->dropped++;
		return;
	}
	nsw_hold_from_ns(k, v, now, &h->pend[h->n++]);
}

void sync_hold_note(struct sync_hold *h, const struct ns_port_key *k,
		    const struct ns_port_val *v, uint64_t now)
{
	pend_add(h, k, v, now, SYNC_HOLD_PENDING_MAX);
}

void sync_hold_bulk_start(struct sync_hold *h)
{
	h->bulk = true;
	h->bulk_first = true;
}

bool sync_hold_busy(const struct sync_hold *h)
{
	return h->off < h->n || h->bulk;
}

/* One batch of the bulk's walk: the held entries join the waiting ones
 * (a chunk at most, so the list stays bounded by the walk, not the map). */
static int walk_chunk(struct sync_hold *h, int ports_fd, uint64_t now)
{
	__u32 n = SYNC_HOLD_CHUNK;
	int err;

	err = bpf_map_lookup_batch(ports_fd, h->bulk_first ? NULL : &h->token, &h->token,
				   h->keys, h->vals, &n, NULL);
	h->bulk_first = false;
	if (err && err != -ENOENT) {
		h->bulk = false;
		return err;
	}
	for (__u32 i = 0; i < n; i++)
		if (h->vals[i].flags & NS_PORT_F_HOLD)
			pend_add(h, &h->keys[i], &h->vals[i], now, SIZE_MAX);
	if (err == -ENOENT)
		h->bulk = false;
	return 0;
}

int sync_hold_frame(struct sync_hold *h, int ports_fd, uint8_t *buf, size_t cap,
		    uint64_t now, uint64_t deadline)
{
	struct nsw_batch b;

	nsw_batch_start(&b, buf, cap, NSW_PORT_HOLD);
	for (;;) {
		while (h->off < h->n) {
			int r = nsw_batch_add_hold(&b, &h->pend[h->off]);

			if (r == -NSW_E_NOSPC)
				goto full;
			h->off++;
			if (r)
				h->dropped++; /* cannot be encoded: never sent */
			else
				h->sent++;
		}
		if (!h->bulk || ports_fd < 0 || ns_now() >= deadline)
			break;
		int err = walk_chunk(h, ports_fd, now);

		if (err)
			return b.count ? (int)nsw_batch_finish(&b, 0) : err;
	}
full:
	return (int)nsw_batch_finish(&b, 0);
}

int sync_hold_install(struct sync_hold *h, int ports_fd, int eim_fd, const uint8_t *body,
		      size_t len, uint64_t now)
{
	size_t n;
	int r = nsw_decode_holds(body, len, h->rx, NSW_BATCH_MAX_HOLDS, &n);

	if (r)
		return r;
	h->received += n;
	for (size_t i = 0; i < n; i++) {
		struct ns_port_key k;
		struct ns_port_val v;

		nsw_hold_to_ns(&h->rx[i], now, &k, &v);
		/* The primary's word: a session of this box that still uses
		 * the port (its delete not in yet) makes aging unhold it. */
		if (ports_fd < 0 || bpf_map_update_elem(ports_fd, &k, &v, BPF_ANY)) {
			h->install_fail++;
			continue;
		}
		h->installed++;
		if ((v.flags & NS_PORT_F_EIM) && eim_fd >= 0) {
			struct ns_eim_key ek;
			struct ns_eim_val ev;

			memset(&ek, 0, sizeof(ek));
			memset(&ev, 0, sizeof(ev));
			ek.in_addr = v.in_addr;
			ek.in_port = v.in_port;
			ek.proto = k.proto;
			ek.svc_set = v.svc_set;
			ev.out_addr = k.addr;
			ev.out_port = k.port;
			ev.flags = NS_PORT_F_EIM; /* as the fast path writes it */
			ev.pool_id = v.pool_id;
			ev.last_used_ns = v.released_ns;
			if (bpf_map_update_elem(eim_fd, &ek, &ev, BPF_ANY))
				h->install_fail++;
		}
	}
	return 0;
}
