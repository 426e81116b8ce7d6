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
 *   bench_sink          count and drop: the sink of the forwarding topology,
 *                       so every case pays the same, small, receive cost
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
