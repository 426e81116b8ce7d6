/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctx.h - the per-packet context shared by the XDP and TC entry points.
 *
 * Every pipeline function is __always_inline and takes a compile-time
 * constant is_tc, so one source yields two programs: the dead branch of each
 * `is_tc ? skb : xdp` disappears at -O2 and the verifier only ever sees the
 * context type of the program it checks. Packet positions are kept as
 * offsets, never pointers, because the TC checksum helpers invalidate packet
 * pointers: ns_ptr() re-derives a bounds-checked pointer when one is needed.
 */
#ifndef NATSYNC_BPF_CTX_H
#define NATSYNC_BPF_CTX_H

/* linux/bpf.h first: libbpf's helper definitions need its types. */
/* clang-format off */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <stdbool.h>
/* clang-format on */

#include "common/match.h"
#include "common/natsync.h"
#include "common/pool.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* <linux/icmp.h> drags in libc socket headers that do not build for the BPF
 * target, so the few ICMP definitions needed are here. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMP_PORT_UNREACH 3
#define ICMP_PKT_FILTERED 13

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		__be32 gateway;
	} un;
};

/* Headers never lie further in than this: 2 VLAN tags + 60 B IPv4 + ICMP
 * + inner 60 B IPv4 + 8 B. Bounding offsets keeps the verifier's range
 * tracking simple. */
#define NS_MAX_HDR_OFF 256
/* Bytes pulled into the linear part of an skb before parsing. */
#define NS_TC_PULL_LEN 192

#define NS_TCP_FIN 0x01
#define NS_TCP_SYN 0x02
#define NS_TCP_RST 0x04
#define NS_TCP_PSH 0x08
#define NS_TCP_ACK 0x10

/* What the parser learnt about one packet. */
struct ns_pkt {
	void *ctx;	   /* struct xdp_md * or struct __sk_buff * */
	struct ns_tuple t; /* current tuple (updated after translation) */
	__u32 ifindex;	   /* ingress interface */
	__u16 l3_off;	   /* offset of the IPv4 header */
	__u16 l4_off;	   /* offset of the L4 header */
	__u16 ip_len;	   /* IPv4 total length */
	__u8 vlans;	   /* VLAN tags in the frame (0..2) */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 ttl;
	__u8 tos;
	__u8 side; /* enum ns_side of the ingress interface */
	__u8 to_pool; /* outside packet to a source-pool address (set on the
		       * slow paths that need it) */
	__u8 active; /* this box forwards (ns_config live slot's ACTIVE) */
	__u8 bank;   /* the config bank this packet is judged by */
	__u8 hairpin; /* second pass of a hairpinned packet (pipeline.h) */
};

static __always_inline void *ns_data(void *ctx, const bool is_tc)
{
	if (is_tc)
		return (void *)(long)((struct __sk_buff *)ctx)->data;
	return (void *)(long)((struct xdp_md *)ctx)->data;
}

static __always_inline void *ns_data_end(void *ctx, const bool is_tc)
{
	if (is_tc)
		return (void *)(long)((struct __sk_buff *)ctx)->data_end;
	return (void *)(long)((struct xdp_md *)ctx)->data_end;
}

/**
 * ns_ptr() - bounds-checked pointer to @len bytes at offset @off.
 * Return: the pointer, or NULL when the packet is shorter.
 */
static __always_inline void *ns_ptr(void *ctx, const bool is_tc, __u32 off, const __u32 len)
{
	void *data = ns_data(ctx, is_tc);
	void *end = ns_data_end(ctx, is_tc);

	if (off > NS_MAX_HDR_OFF)
		return NULL;
	if (data + off + len > end)
		return NULL;
	return data + off;
}

/* Frame length in bytes (whole packet, all fragments of an XDP buffer). */
static __always_inline __u32 ns_frame_len(void *ctx, const bool is_tc)
{
	if (is_tc)
		return ((struct __sk_buff *)ctx)->len;
	return bpf_xdp_get_buff_len((struct xdp_md *)ctx);
}

/* Slow-path byte access through helpers (reject replies, ICMP errors). */
static __always_inline long ns_load(void *ctx, const bool is_tc, __u32 off, void *to, __u32 len)
{
	if (is_tc)
		return bpf_skb_load_bytes(ctx, off, to, len);
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

static __always_inline long ns_store(void *ctx, const bool is_tc, __u32 off, const void *from,
				     __u32 len)
{
	if (is_tc)
		return bpf_skb_store_bytes(ctx, off, from, len, BPF_F_RECOMPUTE_CSUM);
	return bpf_xdp_store_bytes(ctx, off, (void *)from, len);
}

/**
 * ns_pkt_store() - overwrite @len bytes at @off of @p's frame (both
 * programs). XDP writes directly when the bytes are in the linear part: a
 * helper call per store cost the NAT64 translation about a fifth of its
 * time. Return: 0, or -1.
 */
static __always_inline int ns_pkt_store(struct ns_pkt *p, const bool is_tc, __u32 off,
					const void *from, const __u32 len)
{
	if (!is_tc) {
		void *d = ns_ptr(p->ctx, false, off, len);

		if (d) {
			__builtin_memcpy(d, from, len);
			return 0;
		}
	}
	return ns_store(p->ctx, is_tc, off, from, len) ? -1 : 0;
}

/* Read @len bytes at @off of @p's frame, directly in XDP when they are
 * linear. Return: 0, or -1. */
static __always_inline int ns_pkt_load(struct ns_pkt *p, const bool is_tc, __u32 off, void *to,
				       const __u32 len)
{
	if (!is_tc) {
		void *s = ns_ptr(p->ctx, false, off, len);

		if (s) {
			__builtin_memcpy(to, s, len);
			return 0;
		}
	}
	return ns_load(p->ctx, is_tc, off, to, len) ? -1 : 0;
}

/* Resize the frame to @len bytes at its tail. */
static __always_inline long ns_set_len(void *ctx, const bool is_tc, __u32 len)
{
	if (is_tc)
		return bpf_skb_change_tail(ctx, len, 0);
	return bpf_xdp_adjust_tail(ctx, (int)len - (int)ns_frame_len(ctx, is_tc));
}

#endif /* NATSYNC_BPF_CTX_H */
