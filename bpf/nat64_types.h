/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat64_types.h - what every part of the NAT64 path shares: the IPv6
 * header, the checksum buffers of the translation, and the per-CPU
 * scratch in which the address mapping (nat64_addr.h), the bindings
 * (nat64_bib.h) and the translation (nat64.h) keep what would not fit
 * the 512-byte stack.
 */
#ifndef NATSYNC_BPF_NAT64_TYPES_H
#define NATSYNC_BPF_NAT64_TYPES_H

#include "bpf/nat44.h"
#include "bpf/tcpopt.h"

#define NS_IPPROTO_ICMPV6 58
#define NS_ICMPV6_ECHO_REQUEST 128
#define NS_ICMPV6_ECHO_REPLY 129
#define NS_IP6_HLEN 40
#define NS_IP4_HLEN 20
#define NS_HDR_DELTA (NS_IP6_HLEN - NS_IP4_HLEN)
/* A NAT64 fragment, for the frag64 program (frag64.h; never a counter). */
#define NS64_FRAG (NS_CNT_MAX + 8)
/* ns64_parse6() (nat64.h) with @frag: a later IPv6 fragment (no L4 header; sc->fk
 * is its ns_frag key). */
#define NS64_FRAG_LATER (NS_CNT_MAX + 9)

struct ns_ip6hdr {
	__u8 vtc;     /* version (4 bits), traffic class high nibble */
	__u8 tc_flow; /* traffic class low nibble, flow label */
	__be16 flow_lbl;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The IPv6 pseudo-header followed by the words of the L4 header that
 * change, as one buffer for bpf_csum_diff(). */
struct ns64_csum6 {
	__u8 saddr[16];
	__u8 daddr[16];
	__be32 len;  /* ICMPv6 only: upper-layer length */
	__be32 nh;   /* ICMPv6 only: next header */
	__be32 w[2]; /* ports, or ICMP type/code word and id/sequence */
};

struct ns64_csum4 {
	__be32 saddr;
	__be32 daddr;
	__be32 w[2];
};

/* bpf_csum_diff() sums at most 512 bytes per call. */
#define NS64_CSUM_CHUNK 512
/* Longest IPv4 UDP datagram without checksum whose checksum is computed. */
#define NS64_CSUM_CHUNKS 4

/*
 * An ICMPv4 error about a NAT64 flow and the ICMPv6 error it becomes, as
 * the two runs of words whose sums differ: the old ICMP header, quoted
 * IPv4 header and first 8 quoted L4 bytes; the new ICMPv6 header, quoted
 * IPv6 header, first 8 quoted L4 bytes and the outer IPv6 pseudo-header
 * (ICMPv6 covers one, ICMPv4 does not). Everything behind them is the
 * same, but for a quoted UDP/TCP checksum: both l4 copies keep its old
 * value, its change is folded into the outer checksum on its own
 * (ns_quoted_csum_fix()) and it is written after them.
 */
struct ns64_err_old {
	__u8 icmp[8]; /* checksum bytes zero */
	struct iphdr ip;
	__u8 l4[8];
};

struct ns64_err_new {
	__u8 icmp[8]; /* checksum bytes zero */
	struct ns_ip6hdr ip6;
	__u8 l4[8];
	__u8 ps_saddr[16]; /* outer pseudo-header */
	__u8 ps_daddr[16];
	__be32 ps_len;
	__be32 ps_nh;
};

/* The IPv6 Fragment header (RFC 8200 4.5). */
struct ns_ip6frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset (13 bits, 8-byte units), 2 reserved bits, M */
	__be32 id;
};

/* A NAT64 fragment (frag64.h, doc/nat64.md "Fragments"): the IPv6
 * Fragment header's fields, or the IPv4 ones they become (RFC 7915 4.1,
 * 5.1). Only the frag64 programs set on; the main programs leave it 0. */
struct ns64_frag {
	__be32 id;	/* IPv6 identification (an IPv4 ID in its low 16 bits) */
	__u16 off;	/* fragment offset, 8-byte units */
	__u8 mf;	/* more fragments follow */
	__u8 on;	/* the packet is a fragment */
};

/* Ethernet + one 802.1Q/802.1ad tag: the L2 header NAT64 translates under */
#define NS64_L2_MAX 18

/* Per-CPU scratch of the NAT64 path: a session under construction, the
 * IPv6 key and header copies would not fit the 512-byte stack. */
struct ns64_scratch {
	struct ns_tuple6 k;
	struct ns_tuple6 qk;  /* ns64_icmp6_error(): the quoted packet's session,
			       * off the stack (the TC chain hit 528 of 512 bytes) */
	struct ns_session s;
	struct ns_alloc a;
	struct ns_ip6hdr h6;
	struct ns64_csum6 c6;
	struct ns64_csum4 c4;
	struct iphdr h4;
	__u8 l2[NS64_L2_MAX]; /* Ethernet header and 802.1Q tag of a frame
			       * whose L3 header is being replaced */
	struct ns_tcp_opts opt; /* TCP options of a SYN (MSS clamping) */
	struct ns_tuple bk;   /* a NAT64 BIB key (natsync.h) */
	__u8 bib_new;         /* this open inserted ns_nat64_rev[bk] */
	__u8 _pad[7];
	__u64 sublimit_ev_ns; /* last NS_EV_SUBSCRIBER_LIMIT of this CPU */
	struct ns_tuple6 bv;   /* a NAT64 BIB value being written */
	__u8 p64[16];          /* a subscriber's /64 */
	struct ns_sub_key subk;
	struct ns_port_key pk;
	struct bpf_fib_lookup fib; /* ns64_forward6(): off the stack, which the
				    * hairpinning call shares */
	__u8 buf[NS64_CSUM_CHUNK]; /* a slice of a UDP datagram being summed */
	struct ns64_err_old eo;
	struct ns64_err_new en;
	struct ns_ip6hdr o6; /* outer header of a translated error */
	struct ns64_frag fr;  /* the fragment being translated (frag64.h) */
	__u8 fh[8];	      /* the IPv6 Fragment header written (frag64.h) */
	struct ns_frag_key fk; /* its ns_frag key as it arrived (frag64.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ns64_scratch);
} scratch_nat64 SEC(".maps");

static __always_inline struct ns64_scratch *ns64_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_nat64, &zero);
}

#endif /* NATSYNC_BPF_NAT64_TYPES_H */
