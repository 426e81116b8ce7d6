// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_min.bpf.c - the reference programs natsync is benchmarked against
 * (tests/bench/run.sh, issue 5). They are deliberately minimal so that the
 * difference to natsync is what natsync itself costs:
 *
 *   bench_noop          XDP_PASS, nothing else: the floor of BPF_PROG_TEST_RUN
 *   bench_parse_lookup  parse Ethernet (one 802.1Q tag), IPv4 (options
 *                       skipped), the TCP/UDP ports, one hash lookup of the
 *                       5-tuple: the cheapest possible "session lookup"
 *   bench_fwd           parse + bpf_fib_lookup + TTL decrement + MAC rewrite +
 *                       bpf_redirect: the minimal XDP forwarder, i.e. the limit
 *                       of the veth topology
 *   bench_static_fwd    bench_fwd with the fib lookup replaced by a next hop
 *                       set at load time (egress ifindex and both MACs):
 *                       the static-MAC forwarder, floor of the topology
 *   bench_sink          count and drop: the sink of the forwarding topology,
 *                       so every case pays the same, small, receive cost
 *
 * The cost ladder of the established NAPT44 path (testrun.c, "breakdown"
 * rows): each step adds one piece of work natsync does for an established
 * packet, on the same packet and table, so the differences say where
 * natsync's time goes (and what a lean implementation would cost):
 *
 *   bench_l1_lookup     parse + lookup of the 5-tuple in a table whose
 *                       value is natsync's 96-byte struct ns_session +
 *                       natsync's accounting (atomic packets/bytes,
 *                       last_seen_ns = bpf_ktime_get_ns())
 *   bench_l2_fwd        l1 + bpf_fib_lookup + TTL + MACs + bpf_redirect
 *   bench_l3_nat        l2 + source NAT from the session (address, port)
 *                       with incremental IPv4 and UDP/TCP checksums: a
 *                       minimal established NAPT44 forwarder
 *   bench_l4_counted    l3 + what natsync does around it: the interface,
 *                       config and service-set lookups before parsing, two
 *                       per-CPU counters (rx, verdict), devmap redirect
 *   bench_l3_nh_cached  l3 with the fib lookup replaced by a next hop cached
 *                       in an array map: what caching the forwarding
 *                       decision would save
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "common/natsync.h"

#define AF_INET 2
#define VLAN_HLEN 4
#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)

char LICENSE[] SEC("license") = "GPL";

/* The flows bench_parse_lookup looks up: same key layout as natsync's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, struct ns_tuple);
	__type(value, __u64);
} bench_flows SEC(".maps");

/* [0] packets seen by bench_sink, [1] packets bench_fwd redirected. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_cnt SEC(".maps");

/* The ladder's session table: natsync's key and value layout. The
 * translation of a session is its out_key's saddr/sport (source NAT). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, struct ns_tuple);
	__type(value, struct ns_session);
} bench_sess SEC(".maps");

/* Stand-ins for natsync's per-packet configuration lookups (ns_ifaces,
 * ns_config, ns_svc) and its per-CPU verdict counters. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct ns_iface);
} bench_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ns_cfg);
} bench_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct ns_svc);
} bench_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} bench_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} bench_tx SEC(".maps");

struct parsed {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct ns_tuple key;
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&bench_cnt, &idx);

	if (v)
		(*v)++;
}

/* Parse up to the L4 ports; 0 on an IPv4 packet, -1 otherwise. */
static __always_inline int parse(struct xdp_md *ctx, struct parsed *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be16 proto;
	void *cur;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > end)
		return -1;
	proto = eth->h_proto;
	cur = eth + 1;
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		if (cur + VLAN_HLEN > end)
			return -1;
		proto = *(__be16 *)(cur + 2);
		cur += VLAN_HLEN;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = cur;
	if ((void *)(ip + 1) > end)
		return -1;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || cur + ihl > end)
		return -1;
	p->eth = eth;
	p->ip = ip;
	__builtin_memset(&p->key, 0, sizeof(p->key));
	p->key.saddr = ip->saddr;
	p->key.daddr = ip->daddr;
	p->key.proto = ip->protocol;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		struct udphdr *l4 = cur + ihl;

		if ((void *)(l4 + 1) > end)
			return -1;
		p->key.sport = l4->source;
		p->key.dport = l4->dest;
	}
	return 0;
}

SEC("xdp")
int bench_noop(struct xdp_md *ctx __attribute__((unused)))
{
	return XDP_PASS;
}

SEC("xdp")
int bench_parse_lookup(struct xdp_md *ctx)
{
	struct parsed p;
	__u64 *hits;

	if (parse(ctx, &p))
		return XDP_PASS;
	hits = bpf_map_lookup_elem(&bench_flows, &p.key);
	if (!hits)
		return XDP_PASS;
	/* A write, like natsync's last_seen update, so the line is dirtied. */
	__sync_fetch_and_add(hits, 1);
	return XDP_PASS;
}

/* RFC 1624 incremental update of the IPv4 checksum for ttl - 1. */
static __always_inline void ip_decrease_ttl(struct iphdr *ip)
{
	__u32 check = ip->check;

	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xFFFF));
	ip->ttl--;
}

SEC("xdp")
int bench_fwd(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};
	struct parsed p;
	long rc;

	if (parse(ctx, &p) || p.ip->ttl <= 1)
		return XDP_PASS;
	fib.family = AF_INET;
	fib.tos = p.ip->tos;
	fib.l4_protocol = p.ip->protocol;
	fib.sport = p.key.sport;
	fib.dport = p.key.dport;
	fib.tot_len = bpf_ntohs(p.ip->tot_len);
	fib.ipv4_src = p.ip->saddr;
	fib.ipv4_dst = p.ip->daddr;
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS; /* let the kernel resolve the neighbour */
	ip_decrease_ttl(p.ip);
	__builtin_memcpy(p.eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(p.eth->h_source, fib.smac, ETH_ALEN);
	count(1);
	return bpf_redirect(fib.ifindex, 0);
}

/* The static next hop of bench_static_fwd, set before load (attach.c). */
volatile const __u32 static_ifindex;
volatile const __u8 static_dmac[ETH_ALEN];
volatile const __u8 static_smac[ETH_ALEN];

SEC("xdp")
int bench_static_fwd(struct xdp_md *ctx)
{
	struct parsed p;

	if (parse(ctx, &p) || p.ip->ttl <= 1 || !static_ifindex)
		return XDP_PASS;
	ip_decrease_ttl(p.ip);
	__builtin_memcpy(p.eth->h_dest, (const __u8 *)static_dmac, ETH_ALEN);
	__builtin_memcpy(p.eth->h_source, (const __u8 *)static_smac, ETH_ALEN);
	count(1);
	return bpf_redirect(static_ifindex, 0);
}

/* RFC 1624: checksum *sum after a 32-bit field changed from `from` to `to`. */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 c = (__u16)~*sum;

	from = ~from;
	c += (from & 0xffff) + (from >> 16) + (to & 0xffff) + (to >> 16);
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 c = (__u16)~*sum;

	c += (__u16)~from + to;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

/* Ladder step 1: the session lookup and natsync's accounting of a hit. */
static __always_inline struct ns_session *l1_lookup(struct parsed *p)
{
	struct ns_session *s = bpf_map_lookup_elem(&bench_sess, &p->key);

	if (!s)
		return NULL;
	__sync_fetch_and_add(&s->packets[0], 1);
	__sync_fetch_and_add(&s->bytes[0], bpf_ntohs(p->ip->tot_len));
	s->last_seen_ns = bpf_ktime_get_ns();
	return s;
}

/* Ladder step 2: fib lookup, TTL, MACs; the egress ifindex or 0. */
static __always_inline __u32 l2_fib(struct xdp_md *ctx, struct parsed *p)
{
	struct bpf_fib_lookup fib = {};

	if (p->ip->ttl <= 1)
		return 0;
	fib.family = AF_INET;
	fib.tos = p->ip->tos;
	fib.l4_protocol = p->ip->protocol;
	fib.sport = p->key.sport;
	fib.dport = p->key.dport;
	fib.tot_len = bpf_ntohs(p->ip->tot_len);
	fib.ipv4_src = p->ip->saddr;
	fib.ipv4_dst = p->ip->daddr;
	fib.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	ip_decrease_ttl(p->ip);
	__builtin_memcpy(p->eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, fib.smac, ETH_ALEN);
	return fib.ifindex;
}

/* Ladder step 3: source NAT to the session's out_key saddr/sport, with
 * incremental IPv4 and L4 checksums (a UDP checksum of 0 stays 0). */
static __always_inline int l3_snat(struct xdp_md *ctx, struct parsed *p,
				   const struct ns_session *s)
{
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = p->ip;
	struct udphdr *udp = (void *)ip + ip->ihl * 4;
	__u16 *l4sum;

	if ((void *)(udp + 1) > end)
		return -1;
	if (ip->protocol == IPPROTO_TCP) {
		if ((void *)udp + 18 > end)
			return -1;
		l4sum = (__u16 *)((void *)udp + 16);
	} else if (ip->protocol == IPPROTO_UDP) {
		l4sum = udp->check ? &udp->check : NULL;
	} else {
		return -1;
	}
	if (l4sum) {
		csum_replace4(l4sum, ip->saddr, s->out_key.saddr);
		csum_replace2(l4sum, udp->source, s->out_key.sport);
		if (ip->protocol == IPPROTO_UDP && !*l4sum)
			*l4sum = 0xffff;
	}
	csum_replace4(&ip->check, ip->saddr, s->out_key.saddr);
	ip->saddr = s->out_key.saddr;
	udp->source = s->out_key.sport;
	return 0;
}

SEC("xdp")
int bench_l1_lookup(struct xdp_md *ctx)
{
	struct parsed p;

	if (parse(ctx, &p) || !l1_lookup(&p))
		return XDP_PASS;
	return XDP_PASS;
}

SEC("xdp")
int bench_l2_fwd(struct xdp_md *ctx)
{
	struct parsed p;
	__u32 oif;

	if (parse(ctx, &p) || !l1_lookup(&p))
		return XDP_PASS;
	oif = l2_fib(ctx, &p);
	if (!oif)
		return XDP_PASS;
	return bpf_redirect(oif, 0);
}

SEC("xdp")
int bench_l3_nat(struct xdp_md *ctx)
{
	struct ns_session *s;
	struct parsed p;
	__u32 oif;

	if (parse(ctx, &p))
		return XDP_PASS;
	s = l1_lookup(&p);
	if (!s || l3_snat(ctx, &p, s))
		return XDP_PASS;
	oif = l2_fib(ctx, &p);
	if (!oif)
		return XDP_PASS;
	return bpf_redirect(oif, 0);
}

/* A next-hop cache entry: what bpf_fib_lookup returns, kept per route. */
struct bench_nh_val {
	__u32 ifindex;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_nh_val);
} bench_nh SEC(".maps");

/* Step 3 with the fib lookup replaced by one array lookup of a cached
 * next hop (what caching the forwarding decision would save). */
SEC("xdp")
int bench_l3_nh_cached(struct xdp_md *ctx)
{
	struct bench_nh_val *nh;
	struct ns_session *s;
	struct parsed p;
	__u32 zero = 0;

	if (parse(ctx, &p) || p.ip->ttl <= 1)
		return XDP_PASS;
	s = l1_lookup(&p);
	if (!s || l3_snat(ctx, &p, s))
		return XDP_PASS;
	nh = bpf_map_lookup_elem(&bench_nh, &zero);
	if (!nh || !nh->ifindex)
		return XDP_PASS;
	ip_decrease_ttl(p.ip);
	__builtin_memcpy(p.eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(p.eth->h_source, nh->smac, ETH_ALEN);
	return bpf_redirect(nh->ifindex, 0);
}

static __always_inline void count_verdict(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&bench_verdicts, &idx);

	if (v)
		*v += 1;
}

/* Step 3 with natsync's surroundings: returns the verdict counter index. */
static __always_inline __u32 l4_body(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex, zero = 0, svc_id, oif;
	struct ns_session *s;
	struct ns_iface *ifc;
	struct ns_cfg *cfg;
	struct ns_svc *svc;
	struct parsed p;

	ifc = bpf_map_lookup_elem(&bench_ifaces, &ifindex);
	cfg = bpf_map_lookup_elem(&bench_cfg, &zero);
	if (!ifc || !cfg)
		return 1;
	svc_id = ifc->svc_set;
	svc = bpf_map_lookup_elem(&bench_svc, &svc_id);
	if (!svc || !(cfg->flags & NS_CFG_F_ACTIVE))
		return 1;
	if (parse(ctx, &p))
		return 1;
	s = l1_lookup(&p);
	if (!s || l3_snat(ctx, &p, s))
		return 1;
	oif = l2_fib(ctx, &p);
	if (!oif || !bpf_map_lookup_elem(&bench_tx, &oif))
		return 1;
	bpf_redirect_map(&bench_tx, oif, 0);
	return 2;
}

SEC("xdp")
int bench_l4_counted(struct xdp_md *ctx)
{
	__u32 v = l4_body(ctx);

	count_verdict(0); /* rx, as natsync's entry point counts every packet */
	count_verdict(v);
	return v == 2 ? XDP_REDIRECT : XDP_PASS;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx __attribute__((unused)))
{
	count(0);
	return XDP_DROP;
}

/*
 * bench_gen - the saturating generator of the forwarding benchmark, run
 * with BPF_PROG_TEST_RUN in live-frames mode on the generator's veth:
 * every run rewrites the UDP source port (gen_flows flows) or, with
 * gen_new, the source address and port (a new 5-tuple per frame: 64 ports
 * per subscriber address), then XDP_TX sends it into the box.
 * Live frames are recycled pages, and the box's programs rewrite them in
 * place (MACs, TTL, NAT addresses) before they come back: so every run
 * first copies the whole template header (gen_tmpl, set by userspace) and
 * recomputes the IPv4 checksum. The UDP checksum is 0 (allowed for IPv4).
 */
#define GEN_HDR (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

__u32 gen_flows = 1;
__u32 gen_new;
__u64 gen_seq;
__u8 gen_tmpl[GEN_HDR];

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(ip + 1);
	__u64 n = gen_seq++;
	__u32 sum = 0;
	__u16 *w;
	int i;

	if (data + GEN_HDR > end)
		return XDP_DROP;
	__builtin_memcpy(data, gen_tmpl, GEN_HDR);
	udp->check = 0;
	if (gen_new) {
		ip->saddr = bpf_htonl(0x64600000 + ((n >> 6) & 0x1fffff)); /* 100.96.0.0/11 */
		udp->source = bpf_htons(1024 + (__u16)(n & 63));
	} else {
		udp->source = bpf_htons(1024 + (__u16)(gen_flows > 1 ? n % gen_flows : 0));
	}
	ip->check = 0;
	w = (__u16 *)ip;
#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
	return XDP_TX;
}
