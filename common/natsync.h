/* SPDX-License-Identifier: GPL-2.0 */
/*
 * natsync.h - every struct, constant and enum that the BPF fast path and the
 * userspace daemon must agree on. Included by the BPF programs and by daemon/.
 *
 * Rules for this file (see DESIGN.md, "Fast-path and map pitfalls"):
 *  - every map key/value struct has explicit _pad fields and a size assertion,
 *    because keys are compared byte for byte: zero a key before filling it;
 *  - addresses and ports are stored in network byte order (__be*) exactly as
 *    they appear on the wire, everything else in host order;
 *  - times in map values are the local CLOCK_MONOTONIC in ns
 *    (bpf_ktime_get_ns()); they never cross machines;
 *  - changing any layout here changes NS_ABI_VERSION, which is part of the
 *    pin directory name, so an upgrade never trips over an old pinned map.
 */
#ifndef NATSYNC_COMMON_H
#define NATSYNC_COMMON_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/bpf.h> /* struct bpf_timer */
#include <linux/types.h>
#include <stddef.h>
#endif

#define NS_ABI_VERSION 4
/* Pinned objects live in <pin-path>/v<NS_ABI_VERSION>/<map name>. */
#define NS_PIN_SUBDIR "v4"

/* ---- sizes ------------------------------------------------------------ */
#define NS_MAX_SESSIONS_DEFAULT (1u << 20)  /* runtime-settable: max-sessions */
#define NS_MAX_POOLS 64
#define NS_POOL_MAX_RANGES 8   /* non-contiguous pools: up to 8 prefixes/ranges */
#define NS_MAX_SVC_SETS 64
#define NS_MAX_FW_TERMS 256    /* compiled (expanded) firewall terms, all sets */
#define NS_MAX_NAT_TERMS 256   /* compiled (expanded) NAT terms, all sets */
#define NS_MAX_IFACES 64
#define NS_PORT_ALLOC_TRIES 32 /* random probes before a pool counts as full */
#define NS_EVENTS_RINGBUF_BYTES (1u << 22)
#define NS_NONE16 0xffff
#define NS_MAX_SUBSCRIBERS (1u << 18) /* entries of ns_sub_created/_closed */
#define NS_MAX_NAT64_TERMS 32  /* compiled stateful-nat64 terms, all sets */
#define NS_NAT64_SESSIONS_IDLE 1024 /* ns64_* map size when no NAT64 term is
				     * configured (else max-sessions) */

/*
 * Config banks (atomic reload). The config maps (ns_svc, ns_fw_terms,
 * ns_nat_terms, ns_pools) hold NS_CFG_BANKS copies of the config, bank b
 * at indexes [b * NS_MAX_x, (b + 1) * NS_MAX_x); ns_config holds the live
 * slot (NS_CFG_SLOT_LIVE: the role and which bank is in force) and one
 * slot per bank (NS_CFG_SLOT_BANK(b)). A reload writes the bank not in
 * force, then flips ns_config[NS_CFG_SLOT_LIVE].bank with one 4-byte store:
 * every packet sees the whole old config or the whole new one. Indexes
 * stored in sessions, bindings and events (svc set, term, pool) are always
 * bank-relative, so they stay valid across a flip and on the sync peer.
 */
#define NS_CFG_BANKS 2
#define NS_CFG_SLOT_LIVE 0
#define NS_CFG_SLOT_BANK(b) (1u + ((b) & 1u))
#define NS_CFG_SLOTS (1 + NS_CFG_BANKS)

/* ---- enums ------------------------------------------------------------ */

/* Where a packet arrived, or which side opened a session. */
enum ns_side {
	NS_SIDE_INSIDE = 0,  /* subscriber side ("match-direction input") */
	NS_SIDE_OUTSIDE = 1, /* internet side ("match-direction output") */
};

enum ns_nat_type {
	NS_NAT_NONE = 0,        /* firewall-only session */
	NS_NAT_BASIC44 = 1,     /* static 1:1 address, ports kept */
	NS_NAT_DYNAMIC44 = 2,   /* dynamic address from pool, ports kept */
	NS_NAT_NAPT44 = 3,      /* address + port from pool */
	NS_NAT_DNAT44 = 4,      /* destination address(/port) rewrite */
	NS_NAT_TWICE = 5,       /* source and destination */
	NS_NAT_NAT64 = 6,       /* stateful NAT64 (RFC 6146): ns_nat64_sess */
};

/* TCP tracking, deliberately small: the daemon maps each state to a timeout. */
enum ns_tcp_state {
	NS_TCP_NONE = 0,        /* not TCP */
	NS_TCP_SYN_SENT = 1,    /* initiator's SYN seen */
	NS_TCP_SYN_RECV = 2,    /* responder's SYN(+ACK) seen */
	NS_TCP_ESTABLISHED = 3, /* handshake completed (or data both ways) */
	NS_TCP_FIN_WAIT = 4,    /* FIN seen from one side */
	NS_TCP_TIME_WAIT = 5,   /* FIN seen from both sides */
	NS_TCP_CLOSED = 6,      /* RST seen */
	NS_TCP_STATE_MAX,
};

/* Session flags (struct ns_session.flags). */
#define NS_SF_NAT_SRC (1u << 0)     /* source rewritten inside->outside */
#define NS_SF_NAT_DST (1u << 1)     /* destination rewritten inside->outside */
#define NS_SF_EIM (1u << 2)         /* uses an endpoint-independent binding */
#define NS_SF_EIF (1u << 3)         /* created by endpoint-independent filter */
#define NS_SF_FIN_IN (1u << 4)      /* FIN seen from the inside host */
#define NS_SF_FIN_OUT (1u << 5)     /* FIN seen from the outside host */
#define NS_SF_REPLICATED (1u << 6)  /* installed by sync (backup side) */
#define NS_SF_SYSLOG (1u << 7)      /* the rule that made it asked for logs */
#define NS_SF_SYNCED (1u << 8)      /* sent to the peer at least once (primary) */
#define NS_SF_SUB_COUNTED (1u << 9) /* counted in ns_sub_created by this box's
				     * fast path: its deletion counts in
				     * ns_sub_closed (max-sessions-per-subscriber) */
#define NS_SF_HAIRPIN (1u << 10) /* between two endpoints behind this box: its
				  * packets from the inside take the pipeline's
				  * second pass (hairpinning) */

/* Firewall term actions. */
enum ns_fw_action {
	NS_FW_ACCEPT = 0,
	NS_FW_DISCARD = 1, /* silent drop */
	NS_FW_REJECT = 2,  /* TCP RST, or ICMP port unreachable for others */
};

/* Match directions for a term (bit mask). */
#define NS_DIR_INPUT (1u << NS_SIDE_INSIDE)   /* packets arriving inside */
#define NS_DIR_OUTPUT (1u << NS_SIDE_OUTSIDE) /* packets arriving outside */

/* Pool flags (struct ns_pool.flags). */
#define NS_POOL_F_RANDOM_PORT (1u << 0)  /* random-allocation (else sequential) */
#define NS_POOL_F_ROUND_ROBIN (1u << 1)  /* address-allocation round-robin */
#define NS_POOL_F_PORT_AUTO (1u << 2)    /* port automatic: <1024 -> 512..1023,
					  * >=1024 -> 1024..65535 (RFC 4787 REQ-3) */
#define NS_POOL_F_PARITY (1u << 3)       /* preserve port parity (REQ-4) */

/* NAT term flags (struct ns_nat_term.flags). */
#define NS_NAT_F_EIM (1u << 0)    /* mapping-type endpoint-independent */
#define NS_NAT_F_EIF (1u << 1)    /* filtering-type endpoint-independent */
#define NS_NAT_F_PAIRED (1u << 2) /* address-pooling paired */
#define NS_NAT_F_SYSLOG (1u << 3) /* then syslog */
#define NS_NAT_F_NO_TRANSLATION (1u << 4) /* exempt: match but do not NAT */

/* Global config flags (struct ns_cfg.flags). */
#define NS_CFG_F_ACTIVE (1u << 0)   /* this box forwards and creates sessions
				     * (primary); clear on a backup */
#define NS_CFG_F_EVENTS (1u << 1)   /* emit ring buffer events */

/* Port ownership flags (struct ns_port_val.flags). */
#define NS_PORT_F_EIM (1u << 0)     /* endpoint-independent binding */
#define NS_PORT_F_EIF (1u << 1)     /* inbound from any remote allowed */
#define NS_PORT_F_HOLD (1u << 2)    /* released, held before reuse (RFC 6888) */
#define NS_PORT_F_NAT64 (1u << 3)   /* a stateful-nat64 binding: in_addr is the
				     * subscriber's ns_nat64_fold(), its IPv6
				     * owner is in ns_nat64_rev (NAT64 BIB) */

/* ---- per-CPU counters -------------------------------------------------- */
/*
 * Index into the per-CPU array ns_counters. Every packet the programs see is
 * counted once under NS_CNT_RX and ends in exactly one verdict counter
 * (NS_CNT_PASS_*, NS_CNT_FWD_*, NS_CNT_DROP_*, NS_CNT_TX_REJECT), so
 * rx == sum(verdicts) holds and every drop is explained.
 */
enum ns_counter {
	NS_CNT_RX = 0,
	/* verdicts: passed to the kernel untouched */
	NS_CNT_PASS_NON_IP,        /* ARP, IPv6 (no NAT64 rule), other ethertypes */
	NS_CNT_PASS_LOCAL,         /* destined to the box itself */
	NS_CNT_PASS_NO_SVC,        /* interface not in any service set */
	NS_CNT_PASS_TTL,           /* TTL <= 1: kernel answers time exceeded */
	NS_CNT_PASS_UNTRACKED,     /* protocol natsync does not track (e.g. GRE),
				    * allowed by config */
	/* verdicts: forwarded after the session was applied */
	NS_CNT_FWD_REDIRECT,       /* fib lookup + redirect */
	NS_CNT_FWD_STACK,          /* translated, handed to the kernel (no neigh,
				    * VLAN, no devmap entry) */
	NS_CNT_TX_REJECT,          /* reject: RST / ICMP unreachable sent back */
	/* verdicts: dropped, one reason each */
	NS_CNT_DROP_MALFORMED,     /* truncated or invalid header */
	NS_CNT_DROP_FRAGMENT,      /* non-first IPv4 fragment without session */
	NS_CNT_DROP_NO_SESSION,    /* unsolicited inbound */
	NS_CNT_DROP_TCP_NO_SYN,    /* first packet of a TCP session not a SYN */
	NS_CNT_DROP_FW_DISCARD,    /* firewall discard (or no term matched) */
	NS_CNT_DROP_POOL_EXHAUSTED,/* no free address/port in the pool */
	NS_CNT_DROP_SESSION_FULL,  /* session map full: insert failed */
	NS_CNT_DROP_INACTIVE,      /* this box is backup: does not forward */
	NS_CNT_DROP_ICMP_ERR,      /* ICMP error: bad checksum or no session */
	NS_CNT_DROP_UNSUPPORTED,   /* protocol/feature not handled, counted */
	/* events, not verdicts */
	NS_CNT_SESSION_HIT,
	NS_CNT_SESSION_NEW,
	NS_CNT_SESSION_RACE,       /* another CPU created it first */
	NS_CNT_NAT_ALLOC,          /* outside address/port bound */
	NS_CNT_EIM_REUSE,          /* existing EIM binding reused */
	NS_CNT_EIF_INBOUND,        /* inbound session opened via EIF */
	NS_CNT_ICMP_ERR_XLATED,    /* ICMP error translated */
	NS_CNT_EVENT_LOST,         /* ring buffer full, event dropped */
	/* verdict appended after the events (keeps the older indices) */
	NS_CNT_DROP_SUBSCRIBER_LIMIT, /* max-sessions-per-subscriber reached */
	/* NAT64 (appended): one verdict, then events */
	NS_CNT_DROP_IPV6_EXTHDR,   /* NAT64: IPv6 extension header not handled */
	NS_CNT_NAT64_OUT,          /* NAT64: IPv6 packet translated to IPv4 */
	NS_CNT_NAT64_IN,           /* NAT64: IPv4 packet translated to IPv6 */
	/* IPv4 fragments (appended, bpf/frag.h): one verdict, then events */
	NS_CNT_FRAG_HELD,          /* non-first fragment before its first one:
				    * handed to the daemon, which sends it on
				    * once the first is translated (not a loss) */
	NS_CNT_FRAG_FIRST,         /* first fragment translated and tracked */
	NS_CNT_FRAG_XLATED,        /* later fragment translated as its first */
	NS_CNT_FRAG_UNKNOWN,       /* later fragment without a known first one */
	NS_CNT_FRAG_TRACK_FULL,    /* ns_frag full: datagram not tracked */
	NS_CNT_FRAG_HOLD_FULL,     /* fragment not held: NS_FRAG_HOLD_MAX of its
				    * datagram already are, or the ring is full */
	NS_CNT_FRAG_TIMEOUT,       /* tracked datagram incomplete after
				    * NS_FRAG_TIMEOUT_NS: forgotten */
	/* port-block-allocation (appended, bpf/pba.h): events; a refused
	 * session still ends in drop_pool_exhausted */
	NS_CNT_PBA_BLOCK_NEW,      /* a subscriber was given a port block */
	NS_CNT_PBA_MAX_BLOCKS,     /* active block full and max-blocks-per-address
				    * reached: the session was refused */
	NS_CNT_PBA_NO_BLOCK,       /* no free block left on the subscriber's
				    * address: the session was refused */
	/* IPv4-initiated NAT64 SYNs (appended, RFC 6146 3.5.2.2, bpf/nat64_bib.h):
	 * one verdict, then an event */
	NS_CNT_SYN_HELD,           /* inbound SYN that filtering refused: handed
				    * to the daemon, which holds it 6 s */
	NS_CNT_SYN_HOLD_FULL,      /* such a SYN not held (ns_frag_ring full):
				    * dropped as drop_no_session */
	NS_CNT_MAX,
};

/* True for a verdict counter: every packet ends in exactly one, so
 * rx == sum of the verdicts (the tests check it, the benchmarks use it). */
static inline int ns_counter_is_verdict(int i)
{
	return (i >= NS_CNT_PASS_NON_IP && i <= NS_CNT_DROP_UNSUPPORTED) ||
	       i == NS_CNT_DROP_SUBSCRIBER_LIMIT || i == NS_CNT_DROP_IPV6_EXTHDR ||
	       i == NS_CNT_FRAG_HELD || i == NS_CNT_SYN_HELD;
}

/* True for the verdicts that drop the packet. */
static inline int ns_counter_is_drop(int i)
{
	return (i >= NS_CNT_DROP_MALFORMED && i <= NS_CNT_DROP_UNSUPPORTED) ||
	       i == NS_CNT_DROP_SUBSCRIBER_LIMIT || i == NS_CNT_DROP_IPV6_EXTHDR;
}

/* ---- map keys and values ---------------------------------------------- */

/*
 * A flow as seen on the wire at one interface, before translation.
 * ICMP queries: the identifier goes in sport for echo requests and in dport
 * for echo replies, so that reversing a tuple maps a request onto its reply.
 */
struct ns_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 _pad[3];
};

/*
 * THE session record. One per session; the fast path creates it, aging
 * expires it, sync ships it (encoded separately), the backup installs it.
 *
 * ns_sessions:    key = in_key  -> struct ns_session
 * ns_session_rev: key = out_key -> struct ns_tuple (the in_key)
 *
 * in_key:  tuple of inside->outside packets as they arrive on the inside
 *          interface (subscriber -> remote, pre-NAT).
 * out_key: tuple of outside->inside packets as they arrive on the outside
 *          interface (remote -> pool address, pre-NAT) = reverse of the
 *          translated inside->outside tuple.
 * For a firewall-only session out_key is simply the reverse of in_key.
 */
struct ns_session {
	struct ns_tuple in_key;
	struct ns_tuple out_key;
	__u64 created_ns;    /* local monotonic clock */
	__u64 last_seen_ns;  /* last packet, either direction */
	__u64 packets[2];    /* [NS_SIDE_INSIDE] = inside->outside */
	__u64 bytes[2];
	__u32 flags;         /* NS_SF_* */
	__u16 svc_set;       /* service-set index */
	__u16 nat_term;      /* compiled NAT term index, NS_NONE16 if none */
	__u16 fw_term;       /* compiled firewall term index, NS_NONE16 if none */
	__u8 nat_type;       /* enum ns_nat_type */
	__u8 tcp_state;      /* enum ns_tcp_state */
	__u8 origin;         /* enum ns_side that sent the first packet */
	__u8 pool_id;        /* 0xff if none */
	__u8 _pad[2];
};

/* ns_ports: who owns an outside (address, port, proto). Also the EIM/EIF
 * reverse binding: inbound lookups for EIF use this map. */
struct ns_port_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 _pad;
};

struct ns_port_val {
	__be32 in_addr;      /* inside endpoint that owns the port */
	__be16 in_port;
	__u8 flags;          /* NS_PORT_F_* */
	__u8 pool_id;
	__u16 svc_set;
	__u16 nat_term;
	__u32 _pad;
	__u64 last_used_ns;  /* refreshed when a session is created on it */
	__u64 released_ns;   /* with NS_PORT_F_HOLD: when the last session ended */
};

/* ns_eim: endpoint-independent mapping, inside endpoint -> outside endpoint. */
struct ns_eim_key {
	__be32 in_addr;
	__be16 in_port;
	__u8 proto;
	__u8 _pad;
	__u16 svc_set;
	__u16 _pad2;
};

struct ns_eim_val {
	__be32 out_addr;
	__be16 out_port;
	__u8 flags;          /* NS_PORT_F_* */
	__u8 pool_id;
	__u64 last_used_ns;
};

/* ns_paired: address-pooling paired, subscriber -> its pool address. */
struct ns_paired_key {
	__be32 in_addr;
	__u8 pool_id;
	__u8 _pad[3];
};

struct ns_paired_val {
	__be32 out_addr;
	__u32 _pad;
	__u64 last_used_ns;
};

/* Prefix/port match shared by firewall and NAT terms. Ports in host order,
 * inclusive ranges; 0..65535 matches all. proto 0 = any. */
struct ns_match {
	__be32 src_addr;
	__be32 src_mask;
	__be32 dst_addr;
	__be32 dst_mask;
	__u16 sport_lo;
	__u16 sport_hi;
	__u16 dport_lo;
	__u16 dport_hi;
	__u8 proto;
	__u8 dir_mask;       /* NS_DIR_INPUT | NS_DIR_OUTPUT */
	__u8 _pad[2];
};

struct ns_fw_term {
	struct ns_match m;
	__u8 action;         /* enum ns_fw_action */
	__u8 syslog;
	__u16 rule_idx;      /* index into the config's rule list (for display) */
	__u16 term_idx;
	__u16 _pad;
};

struct ns_nat_term {
	struct ns_match m;
	__u8 nat_type;       /* enum ns_nat_type */
	__u8 flags;          /* NS_NAT_F_* */
	__u8 src_pool;       /* pool id for source translation, 0xff none */
	__u8 dst_pool;       /* pool id for destination translation (dnat-44,
				twice-nat: first address [+ port]), 0xff none */
	__u16 rule_idx;
	__u16 term_idx;
};

/* An address range: first address (host order) and count. */
struct ns_range {
	__u32 first;         /* host byte order */
	__u32 count;
};

struct ns_pool {
	struct ns_range ranges[NS_POOL_MAX_RANGES];
	__u32 n_ranges;
	__u32 n_addrs;       /* sum of ranges[].count */
	__u16 port_lo;       /* host order, inclusive; ignored with PORT_AUTO */
	__u16 port_hi;
	__u32 flags;         /* NS_POOL_F_* */
};

/* Mutable allocator state of a pool (plain array map, atomics in BPF). */
struct ns_pool_state {
	__u32 rr_next;       /* round-robin address cursor */
	__u32 port_next;     /* sequential port cursor */
};

/* Service set: its terms are contiguous slices of the compiled arrays. */
struct ns_svc {
	__u16 fw_first;
	__u16 fw_count;
	__u16 nat_first;
	__u16 nat_count;
	__u32 flags;         /* NS_SVC_F_* */
	__u16 bank;          /* the config bank this copy belongs to: term and
				pool indexes above are relative to it */
	__u16 _pad;
};
#define NS_SVC_F_HAS_FW (1u << 0)   /* stateful-firewall-rules present: a packet
				     * no term accepts is discarded */
#define NS_SVC_F_SYSLOG_SESSION (1u << 1)
#define NS_SVC_F_SYSLOG_NAT (1u << 2)
#define NS_SVC_F_NO_REPLICATE (1u << 3)

/* ns_ifaces: ifindex -> role of the interface. */
struct ns_iface {
	__u16 svc_set;
	__u8 side;           /* enum ns_side */
	__u8 flags;
};

/*
 * ns_config: global knobs the fast path reads. In the live slot
 * (NS_CFG_SLOT_LIVE) only flags & NS_CFG_F_ACTIVE (the role, written by
 * the redundancy module) and bank are meaningful; in a bank slot
 * (NS_CFG_SLOT_BANK(b)) everything but NS_CFG_F_ACTIVE and bank is.
 */
struct ns_cfg {
	__u32 flags;         /* NS_CFG_F_* */
	__u32 n_svc;
	__u32 max_sess_per_sub; /* live sessions a subscriber may open, 0 = no
				 * limit (RFC 6888 REQ-4) */
	__u32 bank;          /* live slot: the config bank in force (0/1) */
	__u32 n_nat64;       /* stateful-nat64 terms in this bank's slice of
				ns_nat64_terms */
	__u32 _reserved32;
	__u64 _reserved;
};

/*
 * Per-subscriber session accounting (max-sessions-per-subscriber): the
 * fast path alone increments ns_sub_created when it opens a session from
 * the inside (and marks it NS_SF_SUB_COUNTED); the daemon alone increments
 * ns_sub_closed when it deletes such a session. live = created - closed.
 * Two maps, each with a single writer, because a userspace update
 * rewrites the whole value and would lose a concurrent BPF increment.
 */
struct ns_sub_key {
	__be32 addr;         /* the subscriber (in_key.saddr); NAT64: the
			      * ns_nat64_fold() of its /64 */
	__u16 svc_set;
	__u16 nat64;         /* 1: an IPv6 subscriber of a stateful-nat64 term */
};

/* ---- stateful NAT64 (RFC 6146) ------------------------------------------
 *
 * A NAT64 session is the same struct ns_session, kept in its own maps
 * because its inside key is an IPv6 tuple:
 *
 * ns_nat64_sess: key = struct ns_tuple6 (the IPv6 packet from the
 *                inside, as it arrives) -> struct ns_session
 * ns_nat64_rev:  key = out_key (IPv4, outside->inside as it arrives)
 *                -> struct ns_tuple6 (the ns_nat64_sess key)
 *
 * In the session record nat_type = NS_NAT_NAT64 and
 *  out_key = the IPv4 reply tuple (remote -> pool address:port), exactly as
 *            for napt-44, so ns_ports/aging/pool accounting are shared;
 *  in_key  = the flow as the IPv4 side sees it before source translation:
 *            saddr = ns_nat64_fold(IPv6 source) (a 32-bit stand-in for the
 *            subscriber, used for the pool's address choice and paired
 *            pooling), daddr = the embedded IPv4 destination, ports as on
 *            the IPv6 side, proto = the IPv4 protocol (ICMPv6 -> ICMP).
 * ICMP echo ids sit in sport (request) / dport (reply) as in ns_tuple.
 */
struct ns_tuple6 {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;          /* IPv6 next header: TCP, UDP, ICMPv6 (58) */
	__u8 _pad[3];
};

/* A compiled stateful-nat64 term: IPv6 subscriber prefix, the pref64
 * (RFC 6052 section 2.2: /32, /40, /48, /56, /64 or /96) the destinations
 * embed IPv4 addresses in, the NAPT pool. */
struct ns_nat64_term {
	__u8 src6[16];       /* source prefix, host bits zero */
	__u8 pref64[16];     /* the prefix, every bit from pref_len on zero */
	__u8 src6_len;       /* source prefix length 0..128 */
	__u8 src_pool;       /* pool id (napt: address + port) */
	__u8 flags;          /* NS_NAT_F_SYSLOG, NS_NAT_F_EIM, NS_NAT_F_EIF */
	__u8 pref_len;       /* 32, 40, 48, 56, 64 or 96 */
	__u16 svc_set;
	__u16 rule_idx;
	__u16 term_idx;
	__u16 _pad2;
	__u32 _pad3;
};

/*
 * The NAT64 BIB (RFC 6146 section 3.1) of an endpoint-independent binding
 * lives in ns_nat64_rev beside the sessions' reverse entries, under the
 * binding's outside endpoint with the remote left out: key = { saddr 0,
 * daddr = pool address, sport 0, dport = pool port, proto, _pad[0] =
 * NS_NAT64_BIB_MARK } (a packet's tuple always has _pad zero), value = {
 * saddr = the subscriber, daddr = the term's pref64, sport = the
 * subscriber's port, dport = the term's index (host order, bank-relative),
 * proto = IPv6 next header, _pad[0] = the pref64 length }. Endpoint-
 * independent filtering opens inbound sessions from it; aging deletes it
 * with the ns_ports entry it belongs to.
 */
#define NS_NAT64_BIB_MARK 0xb1

static inline void ns_nat64_bib_key(struct ns_tuple *k, __be32 addr, __be16 port, __u8 proto)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->daddr = addr;
	k->dport = port;
	k->proto = proto;
	k->_pad[0] = NS_NAT64_BIB_MARK;
}

/* The BIB value (above) of subscriber saddr/sport's binding under term t
 * (index ti): the fast path writes it at the binding's first packet, a
 * backup from the replicated session (daemon/sync_recv.c). */
static inline void ns_nat64_bib_val(struct ns_tuple6 *v, const __u8 saddr[16], __be16 sport,
				    __u8 proto, const struct ns_nat64_term *t, __u16 ti)
{
	__builtin_memset(v, 0, sizeof(*v));
	__builtin_memcpy(v->saddr, saddr, 16);
	__builtin_memcpy(v->daddr, t->pref64, 16);
	v->sport = sport;
	v->dport = ti;
	v->proto = proto;
	v->_pad[0] = t->pref_len;
}

/* The subscriber's 32-bit stand-in in in_key.saddr (see above). */
static inline __be32 ns_nat64_fold(const __u8 a[16])
{
	__u32 w[4], h;

	__builtin_memcpy(w, a, 16);
	h = w[0] * 0x9e3779b1u ^ w[1];
	h = h * 0x85ebca6bu ^ w[2];
	h = h * 0xc2b2ae35u ^ w[3];
	return h ^ (h >> 16);
}

/* ---- IPv4 fragments (bpf/frag.h, doc/fastpath.md "Fragments") ----------
 *
 * ns_frag: key = the fragment as it arrives (addresses, IP ID, protocol,
 * ingress side) -> how its datagram is translated. The first fragment
 * (MF set, offset 0) carries the L4 header: the pipeline translates it
 * through its session and records the translated addresses; later
 * fragments get the same addresses (and the IPv4 header checksum; the L4
 * checksum lies in the first fragment only). A later fragment arriving
 * before its first one makes a pending entry and is copied to the daemon
 * through ns_frag_ring (NS_FRAG_REC_HELD); when the first one arrives the
 * fast path says so (NS_FRAG_REC_FIRST) and the daemon sends the held
 * ones on, translated (RFC 4787 REQ-14). An entry goes when the fragments
 * seen cover the datagram, or after NS_FRAG_TIMEOUT_NS (its bpf_timer).
 */
#define NS_FRAG_MAX 8192	  /* datagrams tracked at once */
#define NS_FRAG_TIMEOUT_NS (2ull * 1000 * 1000 * 1000) /* RFC 6146: >= 2 s */
#define NS_FRAG_HOLD_MAX 8	  /* fragments held per datagram before its first */
#define NS_FRAG_DATA_MAX 1536	  /* bytes of one held fragment (its IPv4 packet) */
#define NS_FRAG_RING_BYTES (1u << 21)
#define NS_SYN_HOLD_NS (6ull * 1000 * 1000 * 1000) /* RFC 6146 3.5.2.2: >= 6 s */

struct ns_frag_key {
	__be32 saddr;	     /* IPv4 fragments; 0 in an IPv6 key */
	__be32 daddr;
	__be16 id;	     /* IPv4 identification */
	__u8 proto;	     /* IPv4 protocol / the Fragment header's next header */
	__u8 side;	     /* enum ns_side it arrived on */
	__be32 id6;	     /* IPv6 (NAT64 inside): the Fragment header's identification */
	__u8 v6;	     /* an IPv6 fragment: saddr6/daddr6/id6 are the key */
	__u8 _pad[3];
	__u8 saddr6[16];
	__u8 daddr6[16];
};

/* ns_frag.xlat: how the datagram's fragments are translated */
enum ns_frag_xlat {
	NS_FRAG_X44 = 0,  /* IPv4 -> IPv4: new_saddr/new_daddr */
	NS_FRAG_X4TO6 = 1, /* IPv4 -> IPv6 (NAT64 outside): new_saddr6/new_daddr6 */
	NS_FRAG_X6TO4 = 2, /* IPv6 -> IPv4 (NAT64 inside): new_saddr/new_daddr */
};

struct ns_frag {
	__be32 new_saddr;    /* the translated addresses (valid with first) */
	__be32 new_daddr;
	__u64 created_ns;
	__u32 seen;	     /* payload bytes of the fragments seen */
	__u32 total;	     /* payload bytes of the datagram (valid with last) */
	__u32 held;	     /* fragments handed to the daemon */
	__u8 first;	     /* first fragment seen and translated */
	__u8 last;	     /* last fragment (MF clear) seen */
	__u8 xlat;	     /* enum ns_frag_xlat (valid with first) */
	__u8 _pad;
	__u8 new_saddr6[16]; /* NS_FRAG_X4TO6 */
	__u8 new_daddr6[16];
	struct bpf_timer timer; /* expiry after NS_FRAG_TIMEOUT_NS */
};

/* ns_frag_ring records. */
enum ns_frag_rec_type {
	NS_FRAG_REC_HELD = 1,  /* data: a later fragment as it arrived */
	NS_FRAG_REC_FIRST = 2, /* its first fragment went out as new_* */
	NS_FRAG_REC_SYN = 3,   /* data: an IPv4 SYN to a NAT64 binding that
				* filtering refused, held NS_SYN_HOLD_NS
				* (RFC 6146 3.5.2.2; daemon/synhold.h) */
};

struct ns_frag_rec {
	struct ns_frag_key key;
	__u8 type;	     /* enum ns_frag_rec_type */
	__u8 xlat;	     /* NS_FRAG_REC_FIRST: enum ns_frag_xlat */
	__u16 len;	     /* NS_FRAG_REC_HELD: bytes of data */
	__be32 new_saddr;    /* NS_FRAG_REC_FIRST */
	__be32 new_daddr;
	__u32 ifindex;	     /* NS_FRAG_REC_HELD: where it arrived */
	__u8 new_saddr6[16]; /* NS_FRAG_REC_FIRST, NS_FRAG_X4TO6 */
	__u8 new_daddr6[16];
	__u8 data[];	     /* NS_FRAG_REC_HELD: the IPv4/IPv6 packet */
};

/* ---- port-block-allocation (bpf/pba.h, doc/fastpath.md "Port blocks") ---
 *
 * A pool with port-block-allocation hands each subscriber blocks of
 * block_size consecutive ports on one address (its paired address); the
 * subscriber's sessions take ports from its active block (ns_ports still
 * arbitrates each port). Port span [port_lo, port_hi] is cut into
 * blocks_per_addr = (port_hi - port_lo + 1) / block_size whole blocks;
 * block b of an address covers port_lo + b * block_size .. + block_size - 1.
 *
 * ns_pool_pba (array, banked like ns_pools): the pool's PBA parameters,
 *                 block_size 0 = no PBA.
 * ns_pba:     key (subscriber, pool) -> its address and blocks, the last
 *             one active (the fast path's allocation state).
 * ns_pba_blk: key (pool address, block, pool) -> the owner: claimed with
 *             BPF_NOEXIST, so no block ever has two subscribers. The daemon
 *             (daemon/pba.c) logs, releases and replicates blocks from it.
 */
#define NS_PBA_MAX_BLOCKS 8	   /* max-blocks-per-address upper bound */
#define NS_PBA_MIN_BLOCK 8	   /* smallest block-size */
#define NS_PBA_PROBES 64	   /* ports of the active block probed per session */
#define NS_MAX_PBA_BLOCKS (1u << 18) /* most entries of ns_pba_blk and ns_pba: the
				      * loader sizes them from the pools
				      * (ns_pba_map_entries, daemon/pba.h) */

#define NS_PBA_F_DETERMINISTIC (1u << 0) /* RFC 7422: block = f(subscriber) */

struct ns_pool_pba {
	__u16 block_size;    /* ports per block; 0 = port-block-allocation off */
	__u16 max_blocks;    /* per subscriber, 1..NS_PBA_MAX_BLOCKS */
	__u16 port_lo;       /* span the blocks are cut from, host order */
	__u16 port_hi;
	__u32 blocks_per_addr;
	__u32 active_timeout_s; /* active-block-timeout: 0 = none */
	__u32 interim_s;     /* interim-logging-interval (daemon only): 0 = none */
	__u32 flags;         /* NS_PBA_F_* */
	__u32 det_first;     /* deterministic: subscriber-range first address,
				host order */
	__u32 det_count;     /* ... and its number of addresses */
};

struct ns_pba_key {
	__be32 in_addr;      /* the subscriber */
	__u8 pool_id;
	__u8 _pad[3];
};

struct ns_pba_val {
	__be32 out_addr;     /* the pool address all its blocks are on */
	__u8 n_blocks;       /* blocks[0..n_blocks-1]; the last one is active */
	__u8 _pad;
	__u16 cursor;        /* next offset in the active block (sequential) */
	__u16 blocks[NS_PBA_MAX_BLOCKS];
	__u64 active_ns;     /* when the active block was allocated */
};

struct ns_pba_blk_key {
	__be32 addr;         /* pool address */
	__u16 block;         /* block index on that address */
	__u8 pool_id;
	__u8 _pad;
};

#define NS_PBA_BLK_F_LOGGED (1u << 0)     /* its allocation was logged */
#define NS_PBA_BLK_F_REPLICATED (1u << 1) /* installed from a synced session */

struct ns_pba_blk_val {
	__be32 in_addr;      /* the subscriber that owns it */
	__u8 flags;          /* NS_PBA_BLK_F_* (the daemon's) */
	__u8 _pad[3];
	__u64 alloc_ns;      /* when it was claimed */
	__u64 logged_ns;     /* last allocation/interim log line (daemon) */
};

/* ---- ring buffer events ------------------------------------------------ */
enum ns_event_type {
	NS_EV_SESSION_OPEN = 1,
	NS_EV_SESSION_CLOSE = 2,  /* emitted by the daemon's aging, not BPF */
	NS_EV_NAT_ALLOC = 3,
	NS_EV_NAT_RELEASE = 4,    /* daemon */
	NS_EV_POOL_EXHAUSTED = 5,
	NS_EV_SESSION_FULL = 6,
	NS_EV_SUBSCRIBER_LIMIT = 7, /* a subscriber at max-sessions-per-subscriber
				     * was refused a new flow (sampled: at most
				     * one per CPU per 100 ms) */
};

struct ns_event {
	__u64 ts_ns;
	struct ns_tuple in_key;
	struct ns_tuple out_key;
	__u16 svc_set;
	__u8 type;           /* enum ns_event_type */
	__u8 nat_type;
	__u8 pool_id;
	__u8 origin;
	__u8 _pad[2];
};

/*
 * A NAT64 event (nat_type NS_NAT_NAT64): the event as above, whose
 * in_key.saddr is the subscriber's 32-bit stand-in, followed by the IPv6
 * addresses themselves. The ring buffer's record size tells the two apart.
 */
struct ns_event6 {
	struct ns_event ev;
	__u8 saddr6[16];     /* the IPv6 subscriber */
	__u8 daddr6[16];     /* its IPv6 destination (pref64 + IPv4) */
};

/* ---- layout checks ----------------------------------------------------- */
#ifndef __cplusplus
#define NS_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), #type " size changed: bump NS_ABI_VERSION")
NS_ASSERT_SIZE(ns_tuple, 16);
NS_ASSERT_SIZE(ns_session, 96);
NS_ASSERT_SIZE(ns_port_key, 8);
NS_ASSERT_SIZE(ns_port_val, 32);
NS_ASSERT_SIZE(ns_eim_key, 12);
NS_ASSERT_SIZE(ns_eim_val, 16);
NS_ASSERT_SIZE(ns_paired_key, 8);
NS_ASSERT_SIZE(ns_paired_val, 16);
NS_ASSERT_SIZE(ns_match, 28);
NS_ASSERT_SIZE(ns_fw_term, 36);
NS_ASSERT_SIZE(ns_nat_term, 36);
NS_ASSERT_SIZE(ns_pool, 80);
NS_ASSERT_SIZE(ns_pool_state, 8);
NS_ASSERT_SIZE(ns_svc, 16);
NS_ASSERT_SIZE(ns_iface, 4);
NS_ASSERT_SIZE(ns_cfg, 32);
NS_ASSERT_SIZE(ns_sub_key, 8);
NS_ASSERT_SIZE(ns_event, 48);
NS_ASSERT_SIZE(ns_event6, 80);
NS_ASSERT_SIZE(ns_tuple6, 40);
NS_ASSERT_SIZE(ns_nat64_term, 48);
NS_ASSERT_SIZE(ns_frag_key, 52);
NS_ASSERT_SIZE(ns_frag, 80);
NS_ASSERT_SIZE(ns_frag_rec, 100);
NS_ASSERT_SIZE(ns_pool_pba, 32);
NS_ASSERT_SIZE(ns_pba_key, 8);
NS_ASSERT_SIZE(ns_pba_val, 32);
NS_ASSERT_SIZE(ns_pba_blk_key, 8);
NS_ASSERT_SIZE(ns_pba_blk_val, 24);
#endif

/* ---- map names (pinned as <pin-path>/v2/<name>) ------------------------- */
#define NS_MAP_SESSIONS "ns_sessions"
#define NS_MAP_SESSION_REV "ns_session_rev"
#define NS_MAP_PORTS "ns_ports"
#define NS_MAP_EIM "ns_eim"
#define NS_MAP_PAIRED "ns_paired"
#define NS_MAP_POOLS "ns_pools"
#define NS_MAP_POOL_STATE "ns_pool_state"
#define NS_MAP_SVC "ns_svc"
#define NS_MAP_FW_TERMS "ns_fw_terms"
#define NS_MAP_NAT_TERMS "ns_nat_terms"
#define NS_MAP_IFACES "ns_ifaces"
#define NS_MAP_CONFIG "ns_config"
#define NS_MAP_COUNTERS "ns_counters"
#define NS_MAP_TX_PORTS "ns_tx_ports"
#define NS_MAP_EVENTS "ns_events"
#define NS_MAP_SUB_CREATED "ns_sub_created"
#define NS_MAP_SUB_CLOSED "ns_sub_closed"
#define NS_MAP_NAT64_SESS "ns_nat64_sess"
#define NS_MAP_NAT64_REV "ns_nat64_rev"
#define NS_MAP_NAT64_TERMS "ns_nat64_terms"
#define NS_MAP_FRAG "ns_frag"
#define NS_MAP_FRAG_RING "ns_frag_ring"
#define NS_MAP_POOL_PBA "ns_pool_pba"
#define NS_MAP_PBA "ns_pba"
#define NS_MAP_PBA_BLK "ns_pba_blk"

#endif /* NATSYNC_COMMON_H */
