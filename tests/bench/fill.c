// SPDX-License-Identifier: GPL-2.0
/*
 * fill.c - the benchmarks' one session injector: established NAPT44
 * sessions written into natsync's session maps the way its fast path
 * creates them (session, reverse entry, port binding and, when asked, the
 * paired-pooling binding), one at a time (nsb_add_session) or numbered and
 * batch-inserted (nsb_fill), into a skeleton the bench loaded (nsb_prefill)
 * or into the maps a running natsyncd pinned (nsb_prefill_pinned, `bench_pkt
 * syncfill`).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "daemon/util.h"
#include "nsmaps.h"

#define F_SRV_BASE 0xc633640au	/* 198.51.100.10 + i%200 */
#define F_POOL_NET 0xcb007100u	/* 203.0.113.0/24 */
#define F_PREFILL_SUB 0x64600000u /* 100.96.0.0: nsb_prefill's subscribers */
#define F_CHUNK 65536L
/* Prefilled pool ports stay below the bench's own (65001: 1024 + 998 * 64 +
 * 63 at most) for n up to 999 * 256 * 64. */
#define PREFILL_MAX (999L * 256 * 64)

/* Session @in -> @out as the fast path creates it: service set 0, NAT term
 * 0 and pool 0 (NS_NAT_NONE: no NAT term, no pool), firewall term @fw_term,
 * TCP established. */
static void session_of(struct ns_session *s, const struct ns_tuple *in, const struct ns_tuple *out,
		       uint8_t nat_type, uint16_t fw_term, uint64_t created, uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->in_key = *in;
	s->out_key = *out;
	s->created_ns = created;
	s->last_seen_ns = now;
	s->packets[0] = s->packets[1] = 1;
	s->flags = nat_type == NS_NAT_NONE ? 0 : NS_SF_NAT_SRC;
	s->svc_set = 0;
	s->nat_term = nat_type == NS_NAT_NONE ? NS_NONE16 : 0;
	s->fw_term = fw_term;
	s->nat_type = nat_type;
	s->tcp_state = in->proto == IPPROTO_TCP ? NS_TCP_ESTABLISHED : NS_TCP_NONE;
	s->origin = NS_SIDE_INSIDE;
	s->pool_id = nat_type == NS_NAT_NONE ? 0xff : 0;
}

/* The port binding of a NAPT44 session @in -> @out (pool 0, NAT term 0). */
static void port_of(struct ns_port_key *k, struct ns_port_val *v, const struct ns_tuple *in,
		    const struct ns_tuple *out, uint64_t now)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->addr = out->daddr; /* out_key is remote -> pool: pool is its daddr */
	k->port = out->dport;
	k->proto = in->proto;
	v->in_addr = in->saddr;
	v->in_port = in->sport;
	v->pool_id = 0;
	v->svc_set = 0;
	v->nat_term = 0;
	v->last_used_ns = now;
}

int nsb_add_session(struct nsb *b, const struct ns_tuple *in, const struct ns_tuple *out,
		    uint8_t nat_type)
{
	struct ns_session s;
	struct ns_port_key pk;
	struct ns_port_val pv;
	uint64_t now = ns_now();

	session_of(&s, in, out, nat_type, 0, now, now);
	if (bpf_map_update_elem(nsb_map_fd(b, NS_MAP_SESSIONS), in, &s, BPF_ANY) ||
	    bpf_map_update_elem(nsb_map_fd(b, NS_MAP_SESSION_REV), out, in, BPF_ANY))
		return -errno;
	if (nat_type == NS_NAT_NONE || nsb_map_fd(b, NS_MAP_PORTS) < 0)
		return 0;
	port_of(&pk, &pv, in, out, now);
	return bpf_map_update_elem(nsb_map_fd(b, NS_MAP_PORTS), &pk, &pv, BPF_ANY) ? -errno : 0;
}

/* Session i of a fill: in and out tuples (see struct nsb_fill). */
static void fill_tuple(const struct nsb_fill *f, long i, struct ns_tuple *in, struct ns_tuple *out)
{
	uint32_t j = (uint32_t)(i >> 6);
	uint16_t port = (uint16_t)(1024 + (j >> 8) * 64 + (i & 63));
	uint32_t srv = F_SRV_BASE + (uint32_t)(i % 200);

	*in = pkt_tuple(f->sub_base + j, (uint16_t)(10000 + (i & 63)), srv, 443, f->proto);
	*out = pkt_tuple(srv, 443, F_POOL_NET + (j & 255), port, f->proto);
}

int nsb_batch(int fd, long first, long n, size_t ksz, size_t vsz, nsb_entry_fn *entry,
	      const void *arg)
{
	uint8_t *keys = calloc(F_CHUNK, ksz), *vals = calloc(F_CHUNK, vsz);
	long done, i;
	int err = fd < 0 ? -EBADF : !keys || !vals ? -ENOMEM : 0;

	for (done = 0; done < n && !err; done += F_CHUNK) {
		__u32 cnt = (__u32)(n - done < F_CHUNK ? n - done : F_CHUNK);

		for (i = 0; i < cnt; i++)
			entry(first + done + i, keys + i * ksz, vals + i * vsz, arg);
		if (bpf_map_update_batch(fd, keys, vals, &cnt, NULL))
			err = -errno;
	}
	free(keys);
	free(vals);
	return err;
}

/* The entries of session i of a fill in each map (arg: the fill). */
static void port_entry(long i, void *key, void *val, const void *arg)
{
	const struct nsb_fill *f = arg;
	struct ns_tuple in, out;

	fill_tuple(f, i, &in, &out);
	port_of(key, val, &in, &out, f->last_seen_ns);
}

static void rev_entry(long i, void *key, void *val, const void *arg)
{
	fill_tuple(arg, i, val, key);
}

static void session_entry(long i, void *key, void *val, const void *arg)
{
	const struct nsb_fill *f = arg;
	struct ns_tuple out;

	fill_tuple(f, i, key, &out);
	session_of(val, key, &out, NS_NAT_NAPT44, f->fw_term, f->created_ns, f->last_seen_ns);
}

/* Subscriber m's paired-pooling binding: that of its first session, m * 64. */
static void paired_entry(long m, void *key, void *val, const void *arg)
{
	const struct nsb_fill *f = arg;
	struct ns_paired_key *k = key;
	struct ns_paired_val *v = val;
	struct ns_tuple in, out;

	fill_tuple(f, m * 64, &in, &out);
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->in_addr = in.saddr;
	k->pool_id = 0;
	v->out_addr = out.daddr;
	v->last_used_ns = f->last_seen_ns;
}

/* Bindings first, then reverse entries, then sessions: the order natsyncd
 * installs replicated sessions in, so its sync walk never reads a session
 * whose port binding is not there yet. */
int nsb_fill(const struct nsb_fill_fds *fd, const struct nsb_fill *f)
{
	/* the subscribers whose first session (i % 64 == 0) is in the fill */
	long m0 = (f->first + 63) / 64, m1 = (f->first + f->n + 63) / 64;
	int err = 0;

	if (fd->sessions < 0 || fd->rev < 0)
		return -ENOENT;
	if (f->first < 0 || f->n < 0)
		return -EINVAL;
	if (fd->ports >= 0)
		err = nsb_batch(fd->ports, f->first, f->n, sizeof(struct ns_port_key),
				sizeof(struct ns_port_val), port_entry, f);
	if (!err && f->paired && fd->paired >= 0)
		err = nsb_batch(fd->paired, m0, m1 - m0, sizeof(struct ns_paired_key),
				sizeof(struct ns_paired_val), paired_entry, f);
	err = err ?: nsb_batch(fd->rev, f->first, f->n, sizeof(struct ns_tuple),
			       sizeof(struct ns_tuple), rev_entry, f);
	return err ?: nsb_batch(fd->sessions, f->first, f->n, sizeof(struct ns_tuple),
				sizeof(struct ns_session), session_entry, f);
}

/* fd of the map pinned at dir/name, or -1. */
static int pinned(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

int nsb_fill_pinned(const char *dir, const struct nsb_fill *f)
{
	struct nsb_fill_fds fd = {
		pinned(dir, NS_MAP_SESSIONS), pinned(dir, NS_MAP_SESSION_REV),
		pinned(dir, NS_MAP_PORTS), f->paired ? pinned(dir, NS_MAP_PAIRED) : -1,
	};
	int err = fd.ports < 0 ? -ENOENT : nsb_fill(&fd, f);

	if (fd.sessions >= 0)
		close(fd.sessions);
	if (fd.rev >= 0)
		close(fd.rev);
	if (fd.ports >= 0)
		close(fd.ports);
	if (fd.paired >= 0)
		close(fd.paired);
	return err;
}

/* nsb_prefill's sessions: UDP, subscribers 100.96.0.0 + i/64, behind the
 * accept-all firewall term of nsb_fill_config, paired bindings. */
static struct nsb_fill prefill_of(long n)
{
	uint64_t now = ns_now();
	struct nsb_fill f = {
		.first = 0, .n = n, .sub_base = F_PREFILL_SUB, .proto = IPPROTO_UDP,
		.fw_term = 0, .created_ns = now, .last_seen_ns = now, .paired = true,
	};

	return f;
}

int nsb_prefill(struct nsb *b, long n)
{
	struct nsb_fill_fds fd = {
		nsb_map_fd(b, NS_MAP_SESSIONS), nsb_map_fd(b, NS_MAP_SESSION_REV),
		nsb_map_fd(b, NS_MAP_PORTS), nsb_map_fd(b, NS_MAP_PAIRED),
	};
	struct nsb_fill f = prefill_of(n);

	return n > PREFILL_MAX ? -ERANGE : nsb_fill(&fd, &f);
}

int nsb_prefill_pinned(const char *dir, long n)
{
	struct nsb_fill f = prefill_of(n);

	return n > PREFILL_MAX ? -ERANGE : nsb_fill_pinned(dir, &f);
}
