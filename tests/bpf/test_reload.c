// SPDX-License-Identifier: GPL-2.0
/*
 * test_reload.c - a reload is atomic for the fast path: natsyncd's own
 * loader (ns_loader_stage_config / ns_loader_commit_config, the functions a
 * SIGHUP or `natsyncctl reload` runs) writes the new config into the bank
 * not in force, and packets keep getting the whole old config until the
 * flip, then the whole new one; a write that fails half-way changes
 * nothing packets can see. Two configs that treat the same packets
 * differently: A translates to pool 203.0.113.8/30 and accepts everything
 * from the inside, B translates to 203.0.113.64/30 and discards UDP to
 * port 53.
 */
#include "tests/bpf/fixture.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/loader.h"
#include "daemon/log.h"
#include "daemon/util.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#define CFG_TEXT                                                                          \
	"natsync: {\n"                                                                    \
	"  pin-path = \"/sys/fs/bpf/nsbt-reload\";\n"                                    \
	"  control-socket = \"/run/nsbt-reload.sock\";\n"                               \
	"  services: {\n"                                                                 \
	"    nat: {\n"                                                                    \
	"      pools = ( { name = \"p\"; address = [ \"%s\" ]; port = \"automatic\"; } );\n" \
	"      rules = ( { name = \"r\"; match-direction = \"input\"; terms = (\n"        \
	"        { name = \"t\"; from = { source-address = [ \"100.64.0.0/10\" ]; };\n"   \
	"          then = { translation-type = \"napt-44\"; source-pool = \"p\"; }; } ); } );\n" \
	"    };\n"                                                                        \
	"    stateful-firewall: {\n"                                                      \
	"      rules = ( { name = \"fw\"; match-direction = \"input\"; terms = (\n"       \
	"        %s\n"                                                                    \
	"        { name = \"ok\"; from = { source-address = [ \"100.64.0.0/10\" ]; };\n"  \
	"          then = \"accept\"; } ); } );\n"                                         \
	"    };\n"                                                                        \
	"    service-sets = ( { name = \"ss\"; stateful-firewall-rules = [ \"fw\" ];\n"   \
	"      nat-rules = [ \"r\" ]; next-hop-service = {\n"                             \
	"        inside-service-interface = \"nsbt_in\";\n"                               \
	"        outside-service-interface = \"nsbt_out\"; }; } );\n"                     \
	"  };\n"                                                                          \
	"};\n"

#define NO_DNS                                                                            \
	"{ name = \"nodns\"; from = { source-address = [ \"100.64.0.0/10\" ];\n"          \
	"  protocol = [ \"udp\" ]; destination-port = [ \"53\" ]; }; then = \"discard\"; },"

static struct ns_daemon d;
static struct ns_config conf_a, conf_b;

static void load_conf(struct ns_config *c, const char *name, const char *pool, const char *fw)
{
	char text[4096], err[NS_CONF_ERR_MAX];

	snprintf(text, sizeof(text), CFG_TEXT, pool, fw);
	cr_assert_eq(ns_config_load_string(text, name, c, err, sizeof(err)), 0, "%s: %s", name,
		     err);
}

static void setup(void)
{
	t_setup(1024);
	log_set_level(NS_LOG_ERR);
	memset(&d, 0, sizeof(d));
	d.aging_timer_fd = -1;
	d.fd.sessions = t_fd("ns_sessions");
	d.fd.session_rev = t_fd("ns_session_rev");
	d.fd.ports = t_fd("ns_ports");
	d.fd.eim = t_fd("ns_eim");
	d.fd.paired = t_fd("ns_paired");
	d.fd.pools = t_fd("ns_pools");
	d.fd.pool_state = t_fd("ns_pool_state");
	d.fd.svc = t_fd("ns_svc");
	d.fd.fw_terms = t_fd("ns_fw_terms");
	d.fd.nat_terms = t_fd("ns_nat_terms");
	d.fd.ifaces = t_fd("ns_ifaces");
	d.fd.config = t_fd("ns_config");
	d.fd.counters = t_fd("ns_counters");
	d.fd.tx_ports = t_fd("ns_tx_ports");
	d.fd.events = t_fd("ns_events");
	d.fd.nat64_sess = t_fd("ns_nat64_sess");
	d.fd.nat64_rev = t_fd("ns_nat64_rev");
	d.fd.nat64_terms = t_fd("ns_nat64_terms");
	d.fd.pool_pba = t_fd("ns_pool_pba");
	d.fd.pba = t_fd("ns_pba");
	d.fd.pba_blk = t_fd("ns_pba_blk");
	load_conf(&conf_a, "a.cfg", "203.0.113.8/30", "");
	load_conf(&conf_b, "b.cfg", "203.0.113.64/30", NO_DNS);
	cr_assert_eq(ns_loader_write_config(&d, &conf_a), 0, "config A in force");
}

static void teardown(void)
{
	t_assert_invariant();
	t_teardown();
}

TestSuite(reload, .init = setup, .fini = teardown);

/* Until the bank not in force may be rewritten (the loader never waits:
 * the daemon's reload timer does). Deadline: 10 s, far beyond the window. */
static void wait_quiesced(void)
{
	uint64_t until = ns_now() + 10000000000ull;

	while (ns_loader_quiesce_left_ns(&d)) {
		struct timespec ts = { 0, 1000000 };

		cr_assert(ns_now() < until, "the quiesce window never ended");
		nanosleep(&ts, NULL);
	}
}

static uint32_t live_bank(void)
{
	struct ns_cfg live;
	uint32_t k = NS_CFG_SLOT_LIVE;

	cr_assert_eq(bpf_map_lookup_elem(d.fd.config, &k, &live), 0);
	return live.bank;
}

/* The pool (by its first address) a new flow's source was translated to. */
static int pool_of(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be);

	if (a >= ntohl(pkt_ip("203.0.113.8")) && a < ntohl(pkt_ip("203.0.113.12")))
		return 'A';
	if (a >= ntohl(pkt_ip("203.0.113.64")) && a < ntohl(pkt_ip("203.0.113.68")))
		return 'B';
	return '?';
}

/* A new UDP flow to port 53 from @sport: 'A'/'B' (pool used) or 'D'
 * (dropped by the firewall). */
static int dns_flow(int tc, uint16_t sport)
{
	struct pkt_spec s = t_spec_out(IPPROTO_UDP, T_SUB, sport, T_REM, 53);
	uint64_t disc = t_cnt(NS_CNT_DROP_FW_DISCARD);
	uint8_t out[PKT_MAX];
	int len = sizeof(out), rc;
	uint8_t in[PKT_MAX];
	int ilen = pkt_build(in, &s);
	struct pkt_info o;

	rc = tc ? t_run_tc(t_ifin, in, ilen, out, &len) : t_run_xdp(t_ifin, in, ilen, out, &len);
	if (rc == (tc ? TC_RET_SHOT : XDP_RET_DROP)) {
		cr_assert_eq(t_cnt(NS_CNT_DROP_FW_DISCARD), disc + 1, "dropped by a firewall term");
		return 'D';
	}
	cr_assert_eq(rc, tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, "verdict %d", rc);
	o = pkt_parse(out, len);
	cr_assert(o.ok, "checksums");
	return pool_of(o.saddr);
}

/* A new TCP flow (SYN) from @sport: the pool it was translated to. */
static int tcp_flow(int tc, uint16_t sport)
{
	struct pkt_spec s = t_spec_out(IPPROTO_TCP, T_SUB, sport, T_REM, 80);
	struct pkt_info o;

	s.tcp_flags = 0x02;
	o = t_send(tc, t_ifin, &s, tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT, NULL, NULL);
	cr_assert(o.ok);
	return pool_of(o.saddr);
}

static void staged_then_flipped(int tc)
{
	uint32_t bank_a = live_bank(), bank_b;
	struct ns_session s;
	struct ns_tuple k = t_tuple(T_SUB, 2000, T_REM, 53, IPPROTO_UDP);
	uint32_t a_addr;

	cr_assert_eq(dns_flow(tc, 2000), 'A', "config A: DNS translated into pool A");
	cr_assert_eq(t_session(&k, &s), 0);
	a_addr = s.out_key.daddr;

	/* B written into the other bank: not in force, not even in part */
	wait_quiesced();
	cr_assert_eq(ns_loader_stage_config(&d, &conf_b, &bank_b), 0);
	cr_assert_neq(bank_b, bank_a);
	cr_assert_eq(live_bank(), bank_a);
	cr_assert_eq(dns_flow(tc, 2001), 'A', "staged B's discard term must not apply yet");
	cr_assert_eq(tcp_flow(tc, 2002), 'A', "staged B's pool must not be used yet");

	/* the flip: B whole */
	cr_assert_eq(ns_loader_commit_config(&d, &conf_b, bank_b), 0);
	cr_assert_eq(live_bank(), bank_b);
	cr_assert_eq(dns_flow(tc, 2003), 'D', "B's discard term applies");
	cr_assert_eq(tcp_flow(tc, 2004), 'B', "B's pool is used");
	/* a session opened under A keeps its binding */
	cr_assert_eq(t_session(&k, &s), 0);
	cr_assert_eq(s.out_key.daddr, a_addr);
	cr_assert_eq(dns_flow(tc, 2000), 'A', "established flow from A unchanged");

	/* and back to A */
	wait_quiesced();
	cr_assert_eq(ns_loader_write_config(&d, &conf_a), 0);
	cr_assert_eq(live_bank(), bank_a);
	cr_assert_eq(dns_flow(tc, 2005), 'A');
	cr_assert_eq(tcp_flow(tc, 2006), 'A');
	cr_assert_eq(d.cfg_flips, 3, "A, B, A: three flips");
}

Test(reload, staged_config_not_in_force_until_flip_xdp)
{
	staged_then_flipped(0);
}

Test(reload, staged_config_not_in_force_until_flip_tc)
{
	staged_then_flipped(1);
}

/* A write that fails after part of B reached the other bank (pools and
 * firewall terms written, the NAT terms refused): the live bank does not
 * move and every packet still gets all of A. */
Test(reload, failed_write_leaves_running_config_whole)
{
	static struct ns_config broken;
	uint32_t bank = live_bank();

	broken = conf_b;
	broken.n_nat = NS_MAX_NAT_TERMS + 1; /* more than a bank holds */
	wait_quiesced();
	cr_assert_neq(ns_loader_write_config(&d, &broken), 0, "the write must fail");
	cr_assert_eq(live_bank(), bank, "no flip");
	cr_assert_eq(d.cfg_flips, 1, "only A's flip counted");
	cr_assert_eq(dns_flow(0, 3000), 'A', "B's firewall term (written) is not in force");
	cr_assert_eq(tcp_flow(0, 3001), 'A', "B's pool (written) is not in force");
	/* the next good write still works */
	wait_quiesced();
	cr_assert_eq(ns_loader_write_config(&d, &conf_b), 0);
	cr_assert_eq(dns_flow(0, 3002), 'D');
}

/* Right after a flip the bank not in force may still be read by a packet
 * from before it: a write then is refused with -EAGAIN at once (no sleep
 * on the daemon's loop), writes nothing, flips nothing; once the window
 * has passed the same write goes through. */
Test(reload, write_inside_quiesce_window_refused_not_waited)
{
	uint32_t bank = live_bank(), bank_b;
	uint64_t t0, took;

	cr_assert_gt(ns_loader_quiesce_left_ns(&d), 0, "A's flip just happened");
	t0 = ns_now();
	cr_assert_eq(ns_loader_stage_config(&d, &conf_b, &bank_b), -EAGAIN);
	cr_assert_eq(ns_loader_write_config(&d, &conf_b), -EAGAIN);
	took = ns_now() - t0;
	cr_assert_eq(live_bank(), bank, "no flip");
	cr_assert_eq(d.cfg_flips, 1, "only A's flip counted");
	cr_assert_eq(dns_flow(0, 4000), 'A', "nothing of B in force");
	cr_assert_eq(tcp_flow(0, 4001), 'A', "nothing of B in force");
	cr_log_info("refused in %llu us", (unsigned long long)(took / 1000));
	wait_quiesced();
	cr_assert_eq(ns_loader_write_config(&d, &conf_b), 0);
	cr_assert_eq(dns_flow(0, 4002), 'D', "B in force after the window");
}
