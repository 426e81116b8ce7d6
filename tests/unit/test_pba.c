// SPDX-License-Identifier: GPL-2.0
/*
 * test_pba.c - port-block-allocation without the kernel: the config keys
 * and what they refuse, the block arithmetic of common/pba.h, the
 * deterministic mapping (RFC 7422) both ways over a whole pool, the log
 * line and which per-session events a block pool silences.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/pba.h"
#include "daemon/config.h"
#include "daemon/events.h"
#include "daemon/pba.h"

static struct ns_config conf;
static char err[NS_CONF_ERR_MAX];

/* A napt-44 config whose pool p1 carries @pool_extra (line 4). */
static int load(const char *pool_port, const char *pool_extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "natsync: {\n"
		 "\tservices: {\n"
		 "\t\tnat: {\n"
		 "\t\t\tpools = ( { name = \"p1\"; address = [ \"203.0.113.0/30\" ]; %s %s } );\n"
		 "\t\t\trules = ( { name = \"r1\"; match-direction = \"input\"; terms = (\n"
		 "\t\t\t\t{ name = \"t1\"; from = { source-address = [ \"100.64.0.0/10\" ]; };\n"
		 "\t\t\t\t  then = { translation-type = \"napt-44\"; source-pool = \"p1\"; }; } ); } );\n"
		 "\t\t};\n"
		 "\t\tservice-sets = ( { name = \"ss1\"; nat-rules = [ \"r1\" ];\n"
		 "\t\t\tnext-hop-service = { inside-service-interface = \"nsu-in\"; outside-service-interface = \"nsu-out\"; }; } );\n"
		 "\t};\n"
		 "};\n",
		 pool_port, pool_extra);
	err[0] = '\0';
	return ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err));
}

#define AUTO "port = \"automatic\";"

Test(pba_config, automatic_ports_cut_1024_to_65535)
{
	const struct ns_pool_pba *c = &conf.pool_pba[0];

	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 128; max-blocks-per-address = 4; "
				"active-block-timeout = 300; interim-logging-interval = 1800; };"),
		     0, "%s", err);
	cr_expect_eq(c->block_size, 128);
	cr_expect_eq(c->max_blocks, 4);
	cr_expect_eq(c->port_lo, 1024);
	cr_expect_eq(c->port_hi, 65535);
	cr_expect_eq(c->blocks_per_addr, 64512 / 128);
	cr_expect_eq(c->active_timeout_s, 300);
	cr_expect_eq(c->interim_s, 1800);
	cr_expect_eq(c->flags, 0);
}

Test(pba_config, port_range_and_defaults)
{
	const struct ns_pool_pba *c = &conf.pool_pba[0];

	cr_assert_eq(load("port-range = [ 2000, 2999 ];", "port-block-allocation = { block-size = 300; };"),
		     0, "%s", err);
	cr_expect_eq(c->port_lo, 2000);
	cr_expect_eq(c->port_hi, 2999);
	cr_expect_eq(c->blocks_per_addr, 3, "the 100-port tail is no block");
	cr_expect_eq(c->max_blocks, 1);
	cr_expect_eq(c->active_timeout_s, 0);
}

Test(pba_config, none_without_the_key)
{
	cr_assert_eq(load(AUTO, ""), 0, "%s", err);
	cr_expect_eq(conf.pool_pba[0].block_size, 0);
}

/* ns_pba_blk/ns_pba are sized from the pools (the loader, ns_pba_map_entries) */
Test(pba_maps, sized_from_the_pools)
{
	cr_assert_eq(load(AUTO, ""), 0, "%s", err);
	cr_expect_eq(ns_pba_map_entries(&conf), 1, "no pool with blocks: 1 entry");
	cr_assert_eq(load("port-range = [ 2000, 2999 ];", "port-block-allocation = { block-size = 300; };"),
		     0, "%s", err);
	cr_assert_eq(conf.pools[0].n_addrs, 4);
	cr_expect_eq(ns_pba_map_entries(&conf), 4 * 3, "4 addresses x 3 blocks");
	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 8; };"), 0, "%s", err);
	cr_expect_eq(ns_pba_map_entries(&conf), 4 * (64512 / 8), "4 x 8064 blocks");
	/* a deterministic pool keeps no block in the maps */
	cr_assert_eq(load("port-range = [ 1024, 65535 ];",
			  "port-block-allocation = { block-size = 8064; deterministic = { "
			  "subscriber-range = \"100.64.0.0/30\"; }; };"), 0, "%s", err);
	cr_expect_eq(ns_pba_map_entries(&conf), 1);
}

Test(pba_maps, at_most_the_compiled_bound)
{
	char text[160];

	/* a /16 of 1008 blocks each: 66M blocks, capped */
	snprintf(text, sizeof(text), "port-block-allocation = { block-size = 64; };");
	cr_assert_eq(load(AUTO, text), 0, "%s", err);
	conf.pools[0].n_addrs = 65536;
	cr_expect_eq(ns_pba_map_entries(&conf), NS_MAX_PBA_BLOCKS);
}

Test(pba_config, fingerprint_covers_blocks)
{
	uint64_t a, b;

	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 128; };"), 0, "%s", err);
	a = ns_config_fingerprint(&conf);
	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 256; };"), 0, "%s", err);
	b = ns_config_fingerprint(&conf);
	cr_expect_neq(a, b, "a pair must cut the same blocks");
}

static const struct {
	const char *port, *extra, *msg;
} bad[] = {
	{ "port = 5000;", "port-block-allocation = { block-size = 64; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation: needs port = \"automatic\" or port-range" },
	{ AUTO, "port-block-allocation = { max-blocks-per-address = 2; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.block-size: missing (required)" },
	{ AUTO, "port-block-allocation = { block-size = 4; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.block-size: 4 is out of range 8..65535" },
	{ "port-range = [ 2000, 2063 ];", "port-block-allocation = { block-size = 128; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.block-size: a block of 128 ports does not fit ports 2000..2063" },
	{ AUTO, "port-block-allocation = { block-size = 64; max-blocks-per-address = 9; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.max-blocks-per-address: 9 is out of range 1..8" },
	{ AUTO, "port-block-allocation = { block-size = 64; interim-logging-interval = 10; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.interim-logging-interval: 10 s: at least 60 (or 0 for none)" },
	{ AUTO, "port-block-allocation = { block-size = 64; blocks = 2; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.blocks: unknown key" },
	{ AUTO "preserve-parity = true;", "port-block-allocation = { block-size = 64; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation: ports inside a block do not keep parity: drop preserve-parity" },
	/* 4 addresses x 8 blocks of 8064 ports = 32 blocks: a /26 (64) does not fit */
	{ "port-range = [ 1024, 65535 ];", "port-block-allocation = { block-size = 8064; deterministic = { subscriber-range = \"100.64.0.0/26\"; }; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.deterministic.subscriber-range: 64 subscribers need 64 blocks of 8064 ports, pool 'p1' has 32 (4 addresses x 8 blocks)" },
	{ AUTO, "port-block-allocation = { block-size = 64; active-block-timeout = 60; deterministic = { subscriber-range = \"100.64.0.0/24\"; }; };",
	  "t.cfg:4: natsync.services.nat.pools.[0].port-block-allocation.deterministic: deterministic blocks are never allocated nor released: drop active-block-timeout and interim-logging-interval" },
	{ AUTO, "port-block-allocation = { block-size = 64; deterministic = { subscriber-range = \"100.64.0.1/24\"; }; };",
	  NULL /* host bits set: parse_prefix's own message */ },
};

Test(pba_config, refused_with_a_clear_error)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(load(bad[i].port, bad[i].extra), 0, "case %zu loaded", i);
		if (bad[i].msg)
			cr_expect_str_eq(err, bad[i].msg, "case %zu: %s", i, err);
		else
			cr_expect(strstr(err, "subscriber-range"), "case %zu: %s", i, err);
	}
}

/* ---- arithmetic ------------------------------------------------------------ */

static struct ns_pool_pba cut(uint16_t lo, uint16_t hi, uint16_t bs, uint16_t mb)
{
	struct ns_pool_pba c = { .block_size = bs, .max_blocks = mb, .port_lo = lo, .port_hi = hi };

	c.blocks_per_addr = ns_pba_blocks_in(lo, hi, bs);
	return c;
}

Test(pba_math, blocks_and_ports)
{
	struct ns_pool_pba c = cut(1024, 65535, 100, 1);
	uint32_t b;

	cr_expect_eq(c.blocks_per_addr, 645);
	cr_expect_eq(ns_pba_blocks_in(10, 9, 8), 0);
	cr_expect_eq(ns_pba_blocks_in(1, 7, 8), 0);
	cr_expect_eq(ns_pba_blocks_in(1, 8, 8), 1);
	cr_expect_eq(ns_pba_block_first(&c, 0), 1024);
	cr_expect_eq(ns_pba_block_first(&c, 644), 1024 + 64400);
	cr_assert_eq(ns_pba_block_of(&c, 1024, &b), 0);
	cr_expect_eq(b, 0);
	cr_assert_eq(ns_pba_block_of(&c, 1123, &b), 0);
	cr_expect_eq(b, 0);
	cr_assert_eq(ns_pba_block_of(&c, 1124, &b), 0);
	cr_expect_eq(b, 1);
	cr_assert_eq(ns_pba_block_of(&c, 65523, &b), 0);
	cr_expect_eq(b, 644);
	cr_expect_eq(ns_pba_block_of(&c, 65524, &b), -1, "the tail is no block");
	cr_expect_eq(ns_pba_block_of(&c, 1023, &b), -1);
	/* every port of every block maps back to its block */
	for (uint32_t blk = 0; blk < c.blocks_per_addr; blk += 7)
		for (uint32_t p = ns_pba_block_first(&c, blk); p < ns_pba_block_first(&c, blk) + 100; p++) {
			cr_assert_eq(ns_pba_block_of(&c, p, &b), 0);
			cr_assert_eq(b, blk);
		}
}

/* A pool of @n addresses from 203.0.113.0 with a deterministic cut. */
static void det_pool(struct ns_pool *p, struct ns_pool_pba *c, uint32_t n, uint16_t bs, uint16_t mb,
		     uint32_t subs)
{
	memset(p, 0, sizeof(*p));
	p->n_ranges = 1;
	p->n_addrs = n;
	p->ranges[0].first = 0xcb007100; /* 203.0.113.0 */
	p->ranges[0].count = n;
	*c = cut(1024, 65535, bs, mb);
	c->flags = NS_PBA_F_DETERMINISTIC;
	c->det_first = 0x64400000; /* 100.64.0.0 */
	c->det_count = subs;
}

/* Every subscriber's every port maps back to it, and no port twice. */
Test(pba_math, deterministic_both_ways)
{
	static uint16_t seen[2][65536];
	struct ns_pool p;
	struct ns_pool_pba c;
	uint32_t sub, k, idx, blk, owner;

	/* 3 blocks of 2000 per subscriber: 32 blocks per address, 2 addresses,
	 * 21 subscribers fit (64 / 3), the 22nd does not */
	det_pool(&p, &c, 2, 2000, 3, 21);
	cr_expect_eq(ns_pba_det_capacity(&c, &p), 21);
	memset(seen, 0, sizeof(seen));
	for (sub = 0; sub < 21; sub++)
		for (k = 0; k < 3; k++) {
			cr_assert_eq(ns_pba_det_block(&c, &p, 0x64400000 + sub, k, &idx, &blk), 0);
			cr_assert_lt(idx, 2);
			for (uint32_t port = ns_pba_block_first(&c, blk);
			     port < ns_pba_block_first(&c, blk) + 2000; port += 333) {
				cr_assert_eq(seen[idx][port], 0, "port %u of %u twice", port, idx);
				seen[idx][port] = (uint16_t)(sub + 1);
				cr_assert_eq(ns_pba_det_owner(&c, &p, idx, port, &owner), 0);
				cr_assert_eq(owner, 0x64400000 + sub);
			}
		}
	/* subscriber 10's blocks straddle the two addresses (g = 30, 31, 32) */
	cr_assert_eq(ns_pba_det_block(&c, &p, 0x64400000 + 10, 2, &idx, &blk), 0);
	cr_expect_eq(idx, 1);
	cr_expect_eq(blk, 0);
	/* outside the range, or past the pool */
	cr_expect_eq(ns_pba_det_block(&c, &p, 0x64400000 + 21, 0, &idx, &blk), -1);
	cr_expect_eq(ns_pba_det_block(&c, &p, 0x63ffffff, 0, &idx, &blk), -1);
	cr_expect_eq(ns_pba_det_block(&c, &p, 0x64400000, 3, &idx, &blk), -1);
	/* the last block (63) belongs to no one: 21 * 3 = 63 blocks used */
	cr_expect_eq(ns_pba_det_owner(&c, &p, 1, ns_pba_block_first(&c, 31), &owner), -1);
	cr_expect_eq(ns_pba_det_owner(&c, &p, 2, 1024, &owner), -1, "no third address");
	cr_expect_eq(ns_pba_det_owner(&c, &p, 0, 1000, &owner), -1, "below the blocks");
}

/* ---- the daemon's log line and silenced events ------------------------------ */

Test(pba_log, block_line)
{
	struct ns_pool_pba c = cut(1024, 65535, 128, 2);
	struct ns_pba_blk_key k = { .block = 3 };
	struct ns_pba_blk_val v = { .alloc_ns = 1000000000ull };
	char line[256];

	k.addr = inet_addr("203.0.113.8");
	v.in_addr = inet_addr("100.64.0.2");
	ns_pba_format(line, sizeof(line), "ALLOC", "p1", &c, &k, &v, 43500000000ull);
	cr_expect_str_eq(line, "PORT_BLOCK_ALLOC pool=p1 100.64.0.2 -> 203.0.113.8:1408-1535 block=3 age=42s");
}

Test(pba_log, per_session_nat_lines_are_silenced)
{
	struct ns_event ev = { .type = NS_EV_NAT_ALLOC, .pool_id = 0, .svc_set = 0 };

	cr_assert_eq(load(AUTO, ""), 0, "%s", err);
	conf.svcs[0].flags |= NS_SVC_F_SYSLOG_NAT | NS_SVC_F_SYSLOG_SESSION;
	cr_expect(ns_event_wanted(&ev, &conf), "no blocks: one line per binding");
	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 64; };"), 0, "%s", err);
	conf.svcs[0].flags |= NS_SVC_F_SYSLOG_NAT | NS_SVC_F_SYSLOG_SESSION;
	cr_expect_not(ns_event_wanted(&ev, &conf), "blocks: one line per block instead");
	ev.type = NS_EV_SESSION_OPEN;
	cr_expect(ns_event_wanted(&ev, &conf), "session lines stay as configured");
	cr_assert_eq(load(AUTO, "port-block-allocation = { block-size = 64; deterministic = { subscriber-range = \"100.64.0.0/24\"; }; };"),
		     0, "%s", err);
	conf.svcs[0].flags |= NS_SVC_F_SYSLOG_NAT | NS_SVC_F_SYSLOG_SESSION;
	cr_expect_not(ns_event_wanted(&ev, &conf), "deterministic: no per-session line at all");
	cr_expect(ns_pba_pool_quiet(&conf, 0));
}

/* ---- natsyncctl lookup: deterministic NAT from the config alone -------------- */

#define DET "port-block-allocation = { block-size = 500; max-blocks-per-address = 2; " \
	    "deterministic = { subscriber-range = \"100.64.0.0/24\"; }; };"

Test(pba_lookup, both_ways)
{
	char out[4096];

	/* 4 addresses x 129 blocks of 500 (1024..65523); 256 subscribers x 2 */
	cr_assert_eq(load(AUTO, DET), 0, "%s", err);
	cr_assert_eq(ns_pba_det_lookup(&conf, "100.64.0.33", out, sizeof(out)), 2, "%s", out);
	/* subscriber 33: global blocks 66, 67 = address 0, blocks 66 and 67 */
	cr_expect_str_eq(out, "100.64.0.33 -> 203.0.113.0:34024-34523 (pool p1, block 66)\n"
			      "100.64.0.33 -> 203.0.113.0:34524-35023 (pool p1, block 67)\n");
	cr_assert_eq(ns_pba_det_lookup(&conf, "203.0.113.0:34024", out, sizeof(out)), 1, "%s", out);
	cr_expect_str_eq(out, "203.0.113.0:34024 <- 100.64.0.33 (pool p1)\n");
	cr_assert_eq(ns_pba_det_lookup(&conf, "203.0.113.0:35023", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "203.0.113.0:35023 <- 100.64.0.33 (pool p1)\n");
	cr_assert_eq(ns_pba_det_lookup(&conf, "203.0.113.0:35024", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "203.0.113.0:35024 <- 100.64.0.34 (pool p1)\n");
	/* subscriber 64: global blocks 128 (address 0) and 129 (address 1, block 0) */
	cr_assert_eq(ns_pba_det_lookup(&conf, "100.64.0.64", out, sizeof(out)), 2);
	cr_expect_str_eq(out, "100.64.0.64 -> 203.0.113.0:65024-65523 (pool p1, block 128)\n"
			      "100.64.0.64 -> 203.0.113.1:1024-1523 (pool p1, block 0)\n");
	/* below the blocks, in the tail, outside the pool, outside the range */
	cr_expect_eq(ns_pba_det_lookup(&conf, "203.0.113.1:1000", out, sizeof(out)), 0);
	cr_expect_eq(ns_pba_det_lookup(&conf, "203.0.113.1:65524", out, sizeof(out)), 0);
	cr_expect_eq(ns_pba_det_lookup(&conf, "203.0.113.9:3024", out, sizeof(out)), 0);
	cr_expect_eq(ns_pba_det_lookup(&conf, "100.64.1.1", out, sizeof(out)), 0);
	/* malformed */
	cr_expect_eq(ns_pba_det_lookup(&conf, "203.0.113.1:", out, sizeof(out)), -1);
	cr_expect_eq(ns_pba_det_lookup(&conf, "203.0.113.1:70000", out, sizeof(out)), -1);
	cr_expect_eq(ns_pba_det_lookup(&conf, "pool", out, sizeof(out)), -1);
	cr_expect(strstr(out, "is not A.B.C.D"), "%s", out);
}

/* Every port of every subscriber maps back to it through the lookup. */
Test(pba_lookup, round_trip_over_the_range)
{
	char out[4096], q[64], want[160];

	cr_assert_eq(load(AUTO, DET), 0, "%s", err);
	for (unsigned int s = 0; s < 256; s += 17) {
		char sub[32], addr[32];
		unsigned int lo, hi, blk;

		snprintf(sub, sizeof(sub), "100.64.0.%u", s);
		cr_assert_eq(ns_pba_det_lookup(&conf, sub, out, sizeof(out)), 2);
		cr_assert_eq(sscanf(out, "%*s -> %31[0-9.]:%u-%u (pool p1, block %u)", addr, &lo, &hi,
				    &blk), 4, "%s", out);
		snprintf(q, sizeof(q), "%s:%u", addr, lo + (hi - lo) / 2);
		snprintf(want, sizeof(want), "%s <- %s (pool p1)\n", q, sub);
		cr_assert_eq(ns_pba_det_lookup(&conf, q, out, sizeof(out)), 1);
		cr_expect_str_eq(out, want);
	}
}
