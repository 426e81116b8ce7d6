// SPDX-License-Identifier: GPL-2.0
/*
 * pba.c - port-block-allocation in natsyncd (see pba.h, bpf/pba.h).
 *
 * Every NS_PBA_SCAN_MS the blocks in ns_pba_blk are compared with the
 * ports in ns_ports (one batch walk of each map, in slices of 2 ms on the
 * event loop):
 *  - a block not logged yet gets its PORT_BLOCK_ALLOC line (active box);
 *  - with interim-logging-interval, a PORT_BLOCK_ACTIVE line per interval;
 *  - a block no port of which is in ns_ports any more (its sessions ended
 *    and the port-hold passed, aging deleted the ports) and older than
 *    NS_PBA_GRACE_NS is released: re-checked port by port, removed from
 *    ns_pba_blk and from its subscriber's list in ns_pba (the entry goes
 *    with its last block), PORT_BLOCK_RELEASE logged.
 * The backup runs the same scan (it logs nothing): its blocks come from
 * the replicated sessions (ns_pba_adopt, called by the sync installer), so
 * a subscriber keeps its blocks across a failover and no port or block is
 * handed out twice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common/pba.h"
#include "daemon.h"
#include "ipfix.h"
#include "log.h"
#include "loop.h"
#include "pba.h"
#include "redundancy.h"
#include "sync_wire.h"
#include "util.h"

#define WALK_CHUNK 4096u

static int pba_timer = -1;
static struct ns_pba_stats pba_st;

void ns_pba_get_stats(struct ns_pba_stats *st)
{
	*st = pba_st;
}

uint32_t ns_pba_map_entries(const struct ns_config *c)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++)
		n += ns_pba_pool_blocks(&c->pool_pba[i], &c->pools[i]);
	if (n > NS_MAX_PBA_BLOCKS)
		n = NS_MAX_PBA_BLOCKS;
	return n ? (uint32_t)n : 1;
}

int ns_pba_maps_fit(const struct ns_daemon *d, const struct ns_config *c, char *err,
		    size_t len)
{
	const int fds[] = { d->fd.pba_blk, d->fd.pba };
	const char *names[] = { NS_MAP_PBA_BLK, NS_MAP_PBA };
	uint32_t need = ns_pba_map_entries(c);

	for (size_t i = 0; i < 2; i++) {
		struct bpf_map_info info = {0};
		uint32_t ilen = sizeof(info);

		if (fds[i] < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fds[i], &info, &ilen)) {
			snprintf(err, len, "cannot read the size of %s: %s", names[i],
				 strerror(errno));
			return -1;
		}
		if (info.max_entries < need) {
			snprintf(err, len, "the port blocks of the new pools need %u entries in %s, "
				 "the running map has %u: restart natsyncd after natsyncd --purge "
				 "to resize it (drops sessions)", need, names[i], info.max_entries);
			return -1;
		}
	}
	return 0;
}

static const struct ns_pool_pba *pool_pba(const struct ns_config *c, unsigned int pool_id)
{
	if (pool_id >= c->n_pools || !c->pool_pba[pool_id].block_size)
		return NULL;
	return &c->pool_pba[pool_id];
}

/* A pool with blocks the daemon keeps (not deterministic). */
static const struct ns_pool_pba *pool_blocks(const struct ns_config *c, unsigned int pool_id)
{
	const struct ns_pool_pba *p = pool_pba(c, pool_id);

	return p && !(p->flags & NS_PBA_F_DETERMINISTIC) ? p : NULL;
}

bool ns_pba_pool_quiet(const struct ns_config *c, unsigned int pool_id)
{
	return pool_pba(c, pool_id) != NULL;
}

int ns_pba_format(char *buf, size_t len, const char *what, const char *pool,
		  const struct ns_pool_pba *c, const struct ns_pba_blk_key *k,
		  const struct ns_pba_blk_val *v, uint64_t now)
{
	char sub[INET_ADDRSTRLEN], out[INET_ADDRSTRLEN];
	uint32_t first = ns_pba_block_first(c, k->block);

	inet_ntop(AF_INET, &v->in_addr, sub, sizeof(sub));
	inet_ntop(AF_INET, &k->addr, out, sizeof(out));
	return snprintf(buf, len, "PORT_BLOCK_%s pool=%s %s -> %s:%u-%u block=%u age=%llus", what,
			pool, sub, out, first, first + c->block_size - 1, k->block,
			(unsigned long long)(now > v->alloc_ns ? (now - v->alloc_ns) / 1000000000ull
							       : 0));
}

static void log_block(struct ns_daemon *d, const char *what, const struct ns_pool_pba *c,
		      const struct ns_pba_blk_key *k, const struct ns_pba_blk_val *v, uint64_t now)
{
	char line[256];

	ns_pba_format(line, sizeof(line), what, d->conf.pool_names[k->pool_id], c, k, v, now);
	pr_info("%s", line);
	d->st.events_logged++;
	if (strcmp(what, "ACTIVE")) {
		/* and to the IPFIX collectors (natEvent 16/17, RFC 8158) */
		struct ipfix_port_block pb = {
			.ts_ns = now, .in_addr = v->in_addr, .out_addr = k->addr,
			.first = (uint16_t)ns_pba_block_first(c, k->block),
			.step = 1, .n_ports = c->block_size, .release = !strcmp(what, "RELEASE"),
		};

		pb.last = (uint16_t)(pb.first + c->block_size - 1);
		ipfix_port_block(d, &pb);
	}
}

/* ---- a set of (address, block, pool) with a port in ns_ports ------------ */

struct blkset {
	uint64_t *slot;
	size_t cap;
};

static uint64_t blk_id(__be32 addr, uint32_t blk, uint8_t pool_id)
{
	return (uint64_t)ntohl(addr) << 32 | (uint64_t)blk << 8 | pool_id | 1ull << 31;
}

static size_t blk_hash(uint64_t x, size_t cap)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

static void set_put(struct blkset *s, uint64_t id)
{
	size_t i = blk_hash(id, s->cap);

	while (s->slot[i] && s->slot[i] != id)
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = id;
}

static bool set_has(const struct blkset *s, uint64_t id)
{
	size_t i = blk_hash(id, s->cap);

	while (s->slot[i]) {
		if (s->slot[i] == id)
			return true;
		i = (i + 1) & (s->cap - 1);
	}
	return false;
}

/* Grow the set to hold more than twice used entries. */
static int set_reserve(struct blkset *s, size_t used)
{
	struct blkset g;

	if (used * 2 <= s->cap)
		return 0;
	g.cap = s->cap ? s->cap * 2 : 64;
	while (used * 2 > g.cap)
		g.cap <<= 1;
	g.slot = calloc(g.cap, sizeof(uint64_t));
	if (!g.slot)
		return -ENOMEM;
	for (size_t j = 0; j < s->cap; j++)
		if (s->slot[j])
			set_put(&g, s->slot[j]);
	free(s->slot);
	*s = g;
	return 0;
}

/* Port by port: does the block still hold a port (any protocol)? */
static bool block_in_use(struct ns_daemon *d, const struct ns_pool_pba *c,
			 const struct ns_pba_blk_key *k)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	uint32_t first = ns_pba_block_first(c, k->block);
	struct ns_port_key pk;
	struct ns_port_val pv;

	for (uint32_t p = first; p < first + c->block_size; p++)
		for (size_t i = 0; i < sizeof(protos); i++) {
			memset(&pk, 0, sizeof(pk));
			pk.addr = k->addr;
			pk.port = htons((uint16_t)p);
			pk.proto = protos[i];
			if (!bpf_map_lookup_elem(d->fd.ports, &pk, &pv))
				return true;
		}
	return false;
}

/* Take block k off its subscriber's list (the entry goes with its last). */
static void unlist(struct ns_daemon *d, const struct ns_pba_blk_key *k, __be32 sub)
{
	struct ns_pba_key sk;
	struct ns_pba_val v;
	unsigned int i, j;

	memset(&sk, 0, sizeof(sk));
	sk.in_addr = sub;
	sk.pool_id = k->pool_id;
	if (bpf_map_lookup_elem(d->fd.pba, &sk, &v) || v.out_addr != k->addr)
		return;
	for (i = j = 0; i < v.n_blocks && i < NS_PBA_MAX_BLOCKS; i++)
		if (v.blocks[i] != k->block)
			v.blocks[j++] = v.blocks[i];
	if (j == v.n_blocks)
		return;
	memset(&v.blocks[j], 0, sizeof(v.blocks[0]) * (NS_PBA_MAX_BLOCKS - j));
	v.n_blocks = (uint8_t)j;
	if (!j)
		bpf_map_delete_elem(d->fd.pba, &sk);
	else if (bpf_map_update_elem(d->fd.pba, &sk, &v, BPF_EXIST))
		pba_st.errors++;
}

/*
 * The scan, resumable: one batch of a map walk, or one block decided, per
 * step, so the event loop runs it in slices of PBA_SLICE_NS (a walk of 2M
 * ports at once held the loop ~1 s). The live set is built over several
 * slices while ports come and go: a block it misses is re-checked port by
 * port (block_in_use) before it is released, and a block younger than
 * NS_PBA_GRACE_NS is never released, so a late picture can only delay a
 * release, never cause a wrong one.
 */
#define PBA_SLICE_NS (2ull * 1000000)

enum scan_phase { SC_IDLE, SC_BLOCKS, SC_PORTS, SC_DECIDE };

static struct {
	enum scan_phase ph;
	uint64_t now, token;
	bool first, active;
	struct ns_pba_blk_key *k;  /* the blocks owned, [0, n) */
	struct ns_pba_blk_val *v;
	size_t n, cap, i, used;
	struct blkset live;
	int released, err;
} sc;
static int pba_kick = -1; /* eventfd: the next slice, after pending events */

static void scan_start(struct ns_daemon *d, uint64_t now)
{
	sc.token = 0;
	sc.ph = SC_BLOCKS;
	sc.now = now;
	sc.first = true;
	sc.active = red_is_active(d);
	sc.n = sc.i = sc.used = 0;
	sc.released = sc.err = 0;
	pba_st.scans++;
}

static void scan_end(void)
{
	if (sc.err) {
		pba_st.errors++;
		pr_warn("port blocks: scan failed: %s", strerror(-sc.err));
	}
	free(sc.live.slot);
	free(sc.k);
	free(sc.v);
	sc.live = (struct blkset){ NULL, 0 };
	sc.k = NULL;
	sc.v = NULL;
	sc.cap = 0;
	sc.ph = SC_IDLE;
}

/* One batch of ns_pba_blk into sc.k/sc.v. */
static int step_blocks(struct ns_daemon *d)
{
	static struct ns_pba_blk_key keys[WALK_CHUNK];
	static struct ns_pba_blk_val vals[WALK_CHUNK];
	__u32 n = WALK_CHUNK;
	int err = bpf_map_lookup_batch(d->fd.pba_blk, sc.first ? NULL : &sc.token, &sc.token,
				       keys, vals, &n, NULL);

	if (err && err != -ENOENT)
		return err;
	sc.first = false;
	if (sc.n + n > sc.cap) {
		size_t nc = sc.cap ? sc.cap * 2 : WALK_CHUNK;
		void *a, *b;

		while (nc < sc.n + n)
			nc *= 2;
		a = realloc(sc.k, nc * sizeof(*sc.k));
		if (a)
			sc.k = a;
		b = realloc(sc.v, nc * sizeof(*sc.v));
		if (b)
			sc.v = b;
		if (!a || !b)
			return -ENOMEM;
		sc.cap = nc;
	}
	memcpy(sc.k + sc.n, keys, n * sizeof(keys[0]));
	memcpy(sc.v + sc.n, vals, n * sizeof(vals[0]));
	sc.n += n;
	if (err == -ENOENT) { /* all read */
		pba_st.blocks = sc.n;
		sc.ph = sc.n ? SC_PORTS : SC_IDLE;
		sc.first = true;
		return sc.n ? set_reserve(&sc.live, sc.n + 1) : 0;
	}
	return 0;
}

/* One batch of ns_ports: the blocks of PBA pools that hold a port. */
static int step_ports(struct ns_daemon *d)
{
	static struct ns_port_key keys[WALK_CHUNK];
	static struct ns_port_val vals[WALK_CHUNK];
	__u32 n = WALK_CHUNK;
	int err = bpf_map_lookup_batch(d->fd.ports, sc.first ? NULL : &sc.token, &sc.token, keys,
				       vals, &n, NULL);

	if (err && err != -ENOENT)
		return err;
	sc.first = false;
	for (__u32 i = 0; i < n; i++) {
		const struct ns_pool_pba *c = pool_blocks(&d->conf, vals[i].pool_id);
		uint32_t b;

		if (!c || ns_pba_block_of(c, ntohs(keys[i].port), &b))
			continue;
		if (set_reserve(&sc.live, ++sc.used))
			return -ENOMEM;
		set_put(&sc.live, blk_id(keys[i].addr, b, vals[i].pool_id));
	}
	if (err == -ENOENT)
		sc.ph = SC_DECIDE;
	return 0;
}

/* Block sc.i: release it, or log it (active box). */
static void step_decide(struct ns_daemon *d)
{
	struct ns_pba_blk_key *k = &sc.k[sc.i];
	struct ns_pba_blk_val *v = &sc.v[sc.i];
	const struct ns_pool_pba *c = pool_blocks(&d->conf, k->pool_id);
	uint64_t now = sc.now;
	bool dirty = false;

	if (++sc.i == sc.n)
		sc.ph = SC_IDLE;
	if (!c) {
		/* a reload took blocks off this pool: its ports age out as
		 * usual, the block goes */
		bpf_map_delete_elem(d->fd.pba_blk, k);
		unlist(d, k, v->in_addr);
		return;
	}
	if (!set_has(&sc.live, blk_id(k->addr, k->block, k->pool_id)) &&
	    now - v->alloc_ns >= NS_PBA_GRACE_NS && !block_in_use(d, c, k)) {
		if (sc.active && (v->flags & NS_PBA_BLK_F_LOGGED))
			log_block(d, "RELEASE", c, k, v, now);
		bpf_map_delete_elem(d->fd.pba_blk, k);
		unlist(d, k, v->in_addr);
		pba_st.released++;
		sc.released++;
		return;
	}
	if (!sc.active)
		return;
	if (!(v->flags & NS_PBA_BLK_F_LOGGED)) {
		log_block(d, "ALLOC", c, k, v, now);
		v->flags |= NS_PBA_BLK_F_LOGGED;
		v->logged_ns = now;
		pba_st.logged_alloc++;
		dirty = true;
	} else if (c->interim_s && now - v->logged_ns >= (uint64_t)c->interim_s * 1000000000ull) {
		log_block(d, "ACTIVE", c, k, v, now);
		v->logged_ns = now;
		pba_st.logged_interim++;
		dirty = true;
	}
	/* only the daemon writes an existing entry: no lost update */
	if (dirty && bpf_map_update_elem(d->fd.pba_blk, k, v, BPF_EXIST))
		pba_st.errors++;
}

/* Steps until the scan is over or, with a deadline, it has passed; true
 * when the scan is over. */
static bool scan_run(struct ns_daemon *d, uint64_t deadline)
{
	while (sc.ph != SC_IDLE && !sc.err) {
		switch (sc.ph) {
		case SC_BLOCKS: sc.err = step_blocks(d); break;
		case SC_PORTS: sc.err = step_ports(d); break;
		case SC_DECIDE: step_decide(d); break;
		case SC_IDLE: break;
		}
		if (deadline && ns_now() >= deadline && sc.ph != SC_IDLE)
			return false;
	}
	return true;
}

int ns_pba_scan(struct ns_daemon *d, uint64_t now)
{
	int ret;

	if (d->fd.pba_blk < 0 || d->fd.pba < 0 || d->fd.ports < 0)
		return 0;
	if (sc.ph != SC_IDLE)
		scan_end(); /* a sliced one under way: this one replaces it */
	scan_start(d, now);
	scan_run(d, 0);
	ret = sc.err ? sc.err : sc.released;
	scan_end();
	return ret;
}

/* One slice of the scan on the loop; the next one after pending events. */
static void scan_slice(struct ns_daemon *d)
{
	uint64_t one = 1;

	if (!scan_run(d, ns_now() + PBA_SLICE_NS)) {
		if (write(pba_kick, &one, sizeof(one)) != sizeof(one))
			pr_warn("port blocks: cannot schedule the scan's next slice: %s",
				strerror(errno));
		return;
	}
	scan_end();
}

static void on_kick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) == sizeof(n) && sc.ph != SC_IDLE)
		scan_slice(arg);
}

/* Make block (addr, blk) of subscriber sub its own here, and list it. */
static void adopt_one(struct ns_daemon *d, const struct ns_pool_pba *c, uint8_t pool_id, __be32 sub,
		      __be32 addr, uint32_t blk, uint64_t now)
{
	struct ns_pba_blk_key k;
	struct ns_pba_blk_val v, cur;
	struct ns_pba_key sk;
	struct ns_pba_val s;
	unsigned int i;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.addr = addr;
	k.block = (uint16_t)blk;
	k.pool_id = pool_id;
	v.in_addr = sub;
	v.flags = NS_PBA_BLK_F_LOGGED | NS_PBA_BLK_F_REPLICATED;
	v.alloc_ns = v.logged_ns = now;
	if (bpf_map_update_elem(d->fd.pba_blk, &k, &v, BPF_NOEXIST)) {
		if (bpf_map_lookup_elem(d->fd.pba_blk, &k, &cur)) {
			pba_st.errors++;
			return;
		}
		if (cur.in_addr != sub) {
			pba_st.conflicts++;
			return;
		}
	} else {
		pba_st.adopted++;
	}
	memset(&sk, 0, sizeof(sk));
	sk.in_addr = sub;
	sk.pool_id = pool_id;
	if (bpf_map_lookup_elem(d->fd.pba, &sk, &s)) {
		memset(&s, 0, sizeof(s));
		s.out_addr = addr;
		s.n_blocks = 1;
		s.blocks[0] = (uint16_t)blk;
		s.active_ns = now;
		if (bpf_map_update_elem(d->fd.pba, &sk, &s, BPF_NOEXIST))
			pba_st.errors++;
		return;
	}
	if (s.out_addr != addr)
		return;
	for (i = 0; i < s.n_blocks && i < NS_PBA_MAX_BLOCKS; i++)
		if (s.blocks[i] == blk)
			return;
	if (s.n_blocks >= c->max_blocks || s.n_blocks >= NS_PBA_MAX_BLOCKS)
		return;
	/* the newest block the primary used is the active one */
	s.blocks[s.n_blocks++] = (uint16_t)blk;
	s.active_ns = now;
	s.cursor = 0;
	if (bpf_map_update_elem(d->fd.pba, &sk, &s, BPF_EXIST))
		pba_st.errors++;
}

void ns_pba_adopt(struct ns_daemon *d, const struct nsw_session *r, size_t n, uint64_t now)
{
	if (d->fd.pba_blk < 0 || d->fd.pba < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct ns_pool_pba *c = pool_blocks(&d->conf, r[i].pool_id);
		uint32_t blk;

		if (!c || !(r[i].bind & NSW_BIND_PORT) ||
		    ns_pba_block_of(c, ntohs(r[i].out_key.dport), &blk))
			continue;
		adopt_one(d, c, r[i].pool_id, r[i].in_key.saddr, r[i].out_key.daddr, blk, now);
	}
}

/* "sub -> addr:lo-hi (pool P, block B)" for each block of sub in pool i. */
static int det_forward(const struct ns_config *c, uint32_t i, uint32_t sub, char *out, size_t len,
		       size_t *off)
{
	const struct ns_pool_pba *p = &c->pool_pba[i];
	char a[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
	uint32_t idx, blk, first, na, ns = htonl(sub);
	int n = 0;

	for (uint32_t k = 0; k < p->max_blocks; k++) {
		if (ns_pba_det_block(p, &c->pools[i], sub, k, &idx, &blk))
			break;
		na = htonl(ns_pool_addr_at(&c->pools[i], idx));
		first = ns_pba_block_first(p, blk);
		inet_ntop(AF_INET, &ns, s, sizeof(s));
		inet_ntop(AF_INET, &na, a, sizeof(a));
		*off += (size_t)snprintf(out + *off, *off < len ? len - *off : 0,
					 "%s -> %s:%u-%u (pool %s, block %u)\n", s, a, first,
					 first + p->block_size - 1, c->pool_names[i], blk);
		n++;
	}
	return n;
}

int ns_pba_det_lookup(const struct ns_config *c, const char *query, char *out, size_t len)
{
	char host[INET_ADDRSTRLEN], *end;
	const char *colon = strchr(query, ':');
	unsigned long port = 0;
	struct in_addr ia;
	size_t off = 0;
	int found = 0;

	out[0] = '\0';
	if ((colon ? (size_t)(colon - query) : strlen(query)) >= sizeof(host))
		goto bad;
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - query) : (int)strlen(query), query);
	if (inet_pton(AF_INET, host, &ia) != 1)
		goto bad;
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || errno || port > 65535)
			goto bad;
	}
	for (uint32_t i = 0; i < c->n_pools; i++) {
		const struct ns_pool_pba *p = &c->pool_pba[i];
		char s[INET_ADDRSTRLEN];
		uint32_t idx, sub, ns;

		if (!p->block_size || !(p->flags & NS_PBA_F_DETERMINISTIC))
			continue;
		if (!colon) {
			found += det_forward(c, i, ntohl(ia.s_addr), out, len, &off);
			continue;
		}
		if (ns_pool_addr_index(&c->pools[i], ntohl(ia.s_addr), &idx) ||
		    ns_pba_det_owner(p, &c->pools[i], idx, (uint32_t)port, &sub))
			continue;
		ns = htonl(sub);
		inet_ntop(AF_INET, &ns, s, sizeof(s));
		off += (size_t)snprintf(out + off, off < len ? len - off : 0,
					"%s:%lu <- %s (pool %s)\n", host, port, s, c->pool_names[i]);
		found++;
	}
	return found;
bad:
	snprintf(out, len, "'%s' is not A.B.C.D (a subscriber) or A.B.C.D:PORT (a pool address and port)",
		 query);
	return -1;
}

static void on_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;

	(void)loop;
	(void)fd;
	(void)events;
	if (sc.ph != SC_IDLE || d->fd.pba_blk < 0 || d->fd.pba < 0 || d->fd.ports < 0)
		return; /* the one under way goes on in its slices */
	for (uint32_t i = 0; i < d->conf.n_pools; i++)
		if (pool_blocks(&d->conf, i)) {
			scan_start(d, ns_now());
			scan_slice(d);
			return;
		}
}

int ns_pba_init(struct ns_daemon *d)
{
	if (d->fd.pba_blk < 0)
		return 0;
	pba_kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pba_kick < 0 || loop_add(d->loop, pba_kick, EPOLLIN, on_kick, d)) {
		pr_err("port blocks: cannot start the scan: %s", strerror(errno));
		if (pba_kick >= 0)
			close(pba_kick);
		pba_kick = -1;
		return -EIO;
	}
	loop_set_name(d->loop, pba_kick, "port-block scan");
	pba_timer = loop_add_timer(d->loop, NS_PBA_SCAN_MS, on_timer, d);
	if (pba_timer < 0) {
		pr_err("port blocks: cannot start the scan timer: %s", strerror(-pba_timer));
		ns_pba_fini(d);
		return pba_timer;
	}
	loop_set_name(d->loop, pba_timer, "port-block timer");
	return 0;
}

void ns_pba_fini(struct ns_daemon *d)
{
	if (pba_timer >= 0 && d->loop)
		loop_del(d->loop, pba_timer); /* closes the timerfd */
	pba_timer = -1;
	if (pba_kick >= 0) {
		if (d->loop)
			loop_del(d->loop, pba_kick);
		close(pba_kick);
		pba_kick = -1;
	}
	if (sc.ph != SC_IDLE)
		scan_end();
}
