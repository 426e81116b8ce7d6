/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nat64_addr.h - RFC 6052 address mapping for NAT64: an IPv4 address
 * embedded in an IPv6 one under a pref64 of 32, 40, 48, 56, 64 or 96 bits
 * (section 2.2: right after the prefix, the u-octet, bits 64..71, always
 * skipped), extracted again, and which stateful-nat64 term's pref64 and
 * source prefix an IPv6 flow falls in.
 */
#ifndef NATSYNC_BPF_NAT64_ADDR_H
#define NATSYNC_BPF_NAT64_ADDR_H

#include "bpf/maps.h"

/* Is IPv6 address @a inside @pfx/@len? */
static __always_inline int ns64_prefix_match(const __u8 *pfx, __u8 len, const __u8 *a)
{
	__u32 pw, aw, m;
	int j, bits;

#pragma unroll
	for (j = 0; j < 4; j++) {
		bits = (int)len - 32 * j;
		if (bits <= 0)
			break;
		m = bits >= 32 ? 0xffffffffu : bpf_htonl(~0u << (32 - bits));
		__builtin_memcpy(&pw, pfx + 4 * j, 4);
		__builtin_memcpy(&aw, a + 4 * j, 4);
		if ((pw ^ aw) & m)
			return 0;
	}
	return 1;
}

/*
 * RFC 6052 section 2.2: where the 4 bytes of an IPv4 address sit in an
 * IPv6 address under a pref64 of @len bits: right after the prefix, the
 * u-octet (bits 64..71, byte 8) skipped. Byte @i (0..3) of the IPv4
 * address is byte ns64_v4_at(@len, @i) of the IPv6 one.
 */
static __always_inline __u32 ns64_v4_at(__u8 len, __u32 i)
{
	__u32 o = (__u32)(len >> 3) + i;

	if (len == 96)
		return 12 + i;
	return o >= 8 ? (o + 1) & 15 : o;
}

/* The IPv4 address embedded in @a under a /@len pref64. */
static __always_inline __be32 ns64_extract4(const __u8 *a, __u8 len)
{
	__be32 v;
	__u8 *b = (__u8 *)&v;

	b[0] = a[ns64_v4_at(len, 0)];
	b[1] = a[ns64_v4_at(len, 1)];
	b[2] = a[ns64_v4_at(len, 2)];
	b[3] = a[ns64_v4_at(len, 3)];
	return v;
}

/* @out = the IPv6 form of @v4 under pref64 @pref/@len (the u-octet and the
 * suffix zero, as the prefix's own bits beyond @len are). */
static __always_inline void ns64_embed(__u8 *out, const __u8 *pref, __u8 len, __be32 v4)
{
	const __u8 *b = (const __u8 *)&v4;

	__builtin_memcpy(out, pref, 16);
	out[ns64_v4_at(len, 0)] = b[0];
	out[ns64_v4_at(len, 1)] = b[1];
	out[ns64_v4_at(len, 2)] = b[2];
	out[ns64_v4_at(len, 3)] = b[3];
}

/* Are IPv6 addresses @a and @b equal? */
static __always_inline int ns64_addr_eq(const __u8 *a, const __u8 *b)
{
	__u32 x[4], y[4];

	__builtin_memcpy(x, a, 16);
	__builtin_memcpy(y, b, 16);
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]));
}

/* The compiled NAT64 term @ti (bank-relative) of config bank @bank. */
static __always_inline struct ns_nat64_term *ns64_term_at(__u32 bank, __u32 ti)
{
	__u32 idx = (bank & 1) * NS_MAX_NAT64_TERMS + ti;

	if (ti >= NS_MAX_NAT64_TERMS)
		return NULL;
	return bpf_map_lookup_elem(&ns_nat64_terms, &idx);
}

/**
 * ns64_term_g() - the first stateful-nat64 term of service set @svc_id
 * whose pref64 holds the destination and whose prefix holds the source of
 * @k. @n: terms in the config bank's slice of ns_nat64_terms
 * (cfg->n_nat64); @bank: that bank.
 * Return: the term index (bank-relative), or -1.
 *
 * Global (noinline) like the other term walks: verified once on its own.
 */
__attribute__((noinline)) int ns64_term_g(__u32 svc_id, __u32 n, __u32 bank,
					  const struct ns_tuple6 *k)
{
	struct ns_nat64_term *t;
	__u32 i;

	if (!k)
		return -1;
	for (i = 0; i < NS_MAX_NAT64_TERMS && i < n; i++) {
		t = ns64_term_at(bank, i);
		if (!t)
			break;
		if (t->svc_set != svc_id)
			continue;
		if (!ns64_prefix_match(t->pref64, t->pref_len, k->daddr))
			continue;
		if (!ns64_prefix_match(t->src6, t->src6_len, k->saddr))
			continue;
		return (int)i;
	}
	return -1;
}

#endif /* NATSYNC_BPF_NAT64_ADDR_H */
