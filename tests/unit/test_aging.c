// SPDX-License-Identifier: GPL-2.0
/*
 * test_aging.c - the daemon's pure decisions: session expiry, NAT binding
 * hold/release (RFC 6888 port hold, EIM binding time, clean TCP close),
 * paired-pool expiry, event log lines and counter names, with fake clocks
 * and no maps; then (as root only, skipped otherwise) whole aging cycles
 * over real BPF hash maps shaped like natsync's, run by both engines (the
 * in-kernel sweep and the batch walk) with the same expected outcome.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "daemon/aging.h"
#include "daemon/config.h"
#include "daemon/counters.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/loader.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/util.h"

#define S(x) ((uint64_t)(x) * NS_NSEC_PER_SEC)

/* ---- session expiry ----------------------------------------------------- */

Test(aging_session, idle_longer_than_timeout_expires)
{
	cr_assert(ns_aging_session_expired(S(100), S(131), 30));
}

Test(aging_session, idle_exactly_timeout_is_kept)
{
	/* "older than the timeout": the boundary itself is still alive. */
	cr_assert_not(ns_aging_session_expired(S(100), S(130), 30));
	cr_assert(ns_aging_session_expired(S(100), S(130) + 1, 30));
}

Test(aging_session, packet_newer_than_pass_clock_is_kept)
{
	/* A packet refreshed the session after the pass read the clock. */
	cr_assert_not(ns_aging_session_expired(S(200), S(100), 0));
	cr_assert_not(ns_aging_session_expired(S(100), S(100), 0));
}

Test(aging_session, zero_timeout_expires_any_idle_session)
{
	cr_assert(ns_aging_session_expired(S(100), S(100) + 1, 0));
}

Test(aging_session, long_timeouts_do_not_overflow)
{
	/* 7440 s (RFC 5382 established) in ns does not fit in 32 bits. */
	cr_assert_not(ns_aging_session_expired(S(1), S(7000), 7440));
	cr_assert(ns_aging_session_expired(S(1), S(7442), 7440));
}

/* ---- NAT binding decisions ---------------------------------------------- */

static struct ns_port_val port(uint8_t flags, uint64_t last_used, uint64_t released)
{
	struct ns_port_val v;

	memset(&v, 0, sizeof(v));
	v.flags = flags;
	v.last_used_ns = last_used;
	v.released_ns = released;
	return v;
}

Test(aging_port, used_port_is_kept)
{
	struct ns_port_val v = port(0, S(1), 0);

	cr_assert_eq(ns_aging_port_decide(&v, true, false, S(500), S(500), 120, 0), NS_PORT_KEEP);
}

Test(aging_port, used_again_while_held_loses_hold)
{
	struct ns_port_val v = port(NS_PORT_F_HOLD, S(1), S(400));

	cr_assert_eq(ns_aging_port_decide(&v, true, false, S(500), S(500), 120, 0),
		     NS_PORT_UNHOLD);
}

Test(aging_port, unused_port_goes_into_hold)
{
	struct ns_port_val v = port(0, S(1), 0);

	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(500), S(500), 120, 0),
		     NS_PORT_HOLD);
}

Test(aging_port, held_port_is_kept_until_hold_is_over)
{
	struct ns_port_val v = port(NS_PORT_F_HOLD, S(1), S(400));

	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(520), S(520), 120, 0),
		     NS_PORT_KEEP);
	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(520), S(520), 120, 0),
		     NS_PORT_KEEP);
	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(520) + 1, S(520), 120, 0),
		     NS_PORT_FREE);
}

Test(aging_port, zero_hold_frees_at_once)
{
	struct ns_port_val v = port(0, S(1), 0);

	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(500), S(500), 0, 0), NS_PORT_FREE);
}

Test(aging_port, clean_tcp_close_skips_the_hold)
{
	struct ns_port_val v = port(0, S(1), 0);

	/* RFC 6888: a port may be reused at once after a clean TCP close. */
	cr_assert_eq(ns_aging_port_decide(&v, false, true, S(500), S(500), 120, 0), NS_PORT_FREE);
}

Test(aging_port, port_allocated_during_the_walk_is_kept)
{
	/* Its session may sit in a bucket the walk had passed already. */
	struct ns_port_val v = port(0, S(450), 0);

	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(500), S(450), 0, 0), NS_PORT_KEEP);
	cr_assert_eq(ns_aging_port_decide(&v, false, false, S(500), S(451), 0, 0), NS_PORT_FREE);
}

Test(aging_port, eim_binding_outlives_its_sessions_then_holds)
{
	struct ns_port_val idle = port(NS_PORT_F_EIM, S(1), 0);
	struct ns_port_val held = port(NS_PORT_F_EIM | NS_PORT_F_HOLD, S(1), S(400));

	/* binding 60 s, hold 120 s: hold starts, EIM entry kept 60 s, then the
	 * mapping goes but the port stays held until 180 s after release. */
	cr_assert_eq(ns_aging_port_decide(&idle, false, false, S(400), S(400), 120, 60),
		     NS_PORT_HOLD);
	cr_assert_eq(ns_aging_port_decide(&held, false, false, S(460), S(460), 120, 60),
		     NS_PORT_KEEP);
	cr_assert_eq(ns_aging_port_decide(&held, false, false, S(461), S(461), 120, 60),
		     NS_PORT_DROP_EIM);
	cr_assert_eq(ns_aging_port_decide(&held, false, false, S(581), S(581), 120, 60),
		     NS_PORT_FREE);
	/* An EIM binding reused in its binding time is simply in use again. */
	cr_assert_eq(ns_aging_port_decide(&held, true, false, S(430), S(430), 120, 60),
		     NS_PORT_UNHOLD);
}

Test(aging_port, binding_time_does_not_apply_to_non_eim_ports)
{
	struct ns_port_val held = port(NS_PORT_F_HOLD, S(1), S(400));

	cr_assert_eq(ns_aging_port_decide(&held, false, false, S(401), S(401), 0, 600),
		     NS_PORT_FREE);
}

Test(aging_paired, unused_entry_expires_after_binding_time)
{
	struct ns_paired_val v = { .last_used_ns = S(100) };

	cr_assert_not(ns_aging_paired_expired(&v, false, S(150), S(150), 60));
	cr_assert(ns_aging_paired_expired(&v, false, S(161), S(161), 60));
	cr_assert_not(ns_aging_paired_expired(&v, true, S(1000), S(1000), 60));
	/* touched since the walk began: its session may not have been seen */
	cr_assert_not(ns_aging_paired_expired(&v, false, S(1000), S(100), 60));
}

/* ---- event lines --------------------------------------------------------- */

static struct ns_config conf;

static void conf_setup(void)
{
	ns_config_defaults(&conf);
	conf.n_svcs = 1;
	strcpy(conf.svc_conf[0].name, "ss2");
	conf.svcs[0].flags = NS_SVC_F_SYSLOG_SESSION | NS_SVC_F_SYSLOG_NAT;
	conf.n_pools = 3;
	strcpy(conf.pool_names[2], "p2");
}

static struct ns_tuple tuple(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	inet_pton(AF_INET, s, &t.saddr);
	inet_pton(AF_INET, d, &t.daddr);
	t.sport = htons(sp);
	t.dport = htons(dp);
	t.proto = proto;
	return t;
}

/* 100.64.0.10:40000 -> 198.51.100.10:80 translated to 203.0.113.7:1234 */
static struct ns_event napt_event(uint8_t type)
{
	struct ns_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.in_key = tuple("100.64.0.10", 40000, "198.51.100.10", 80, 6);
	ev.out_key = tuple("198.51.100.10", 80, "203.0.113.7", 1234, 6);
	ev.svc_set = 0;
	ev.nat_type = NS_NAT_NAPT44;
	ev.pool_id = 2;
	return ev;
}

TestSuite(daemon_events, .init = conf_setup);

Test(daemon_events, session_open_line)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_OPEN);
	char line[256];

	cr_assert_gt(ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "SESSION_OPEN svc=ss2 tcp 100.64.0.10:40000 -> 198.51.100.10:80 "
			       "nat 203.0.113.7:1234 napt-44");
}

/* NAT64: the log line names the IPv6 subscriber and destination, not the
 * 32-bit stand-in the event's in_key holds. */
Test(daemon_events, nat64_lines_carry_the_ipv6_addresses)
{
	struct ns_event6 e6;
	char line[320];

	memset(&e6, 0, sizeof(e6));
	e6.ev = napt_event(NS_EV_SESSION_OPEN);
	e6.ev.nat_type = NS_NAT_NAT64;
	inet_pton(AF_INET6, "2001:db8:64::10", e6.saddr6);
	inet_pton(AF_INET6, "64:ff9b::c633:640a", e6.daddr6);
	cr_assert_gt(ns_event6_format(&e6, NULL, 0, &conf, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "SESSION_OPEN svc=ss2 tcp [2001:db8:64::10]:40000 -> "
			       "[64:ff9b::c633:640a]:80 nat 203.0.113.7:1234 stateful-nat64");
	e6.ev.type = NS_EV_NAT_ALLOC;
	ns_event6_format(&e6, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "NAT_ALLOC svc=ss2 pool=p2 tcp [2001:db8:64::10]:40000 -> "
			       "203.0.113.7:1234 stateful-nat64");
}

Test(daemon_events, session_close_line_has_state_age_and_counts)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_CLOSE);
	struct ns_session s;
	char line[256];

	memset(&s, 0, sizeof(s));
	s.created_ns = S(10);
	s.tcp_state = NS_TCP_TIME_WAIT;
	s.packets[0] = 5;
	s.packets[1] = 4;
	s.bytes[0] = 500;
	s.bytes[1] = 4000;
	ns_event_format(&ev, &s, S(75), &conf, line, sizeof(line));
	cr_assert_str_eq(line, "SESSION_CLOSE svc=ss2 tcp 100.64.0.10:40000 -> 198.51.100.10:80 "
			       "nat 203.0.113.7:1234 napt-44 state=time-wait age=65s "
			       "pkts=5/4 bytes=500/4000");
}

Test(daemon_events, nat_alloc_line_records_no_destination)
{
	struct ns_event ev = napt_event(NS_EV_NAT_ALLOC);
	char line[256];

	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "NAT_ALLOC svc=ss2 pool=p2 tcp 100.64.0.10:40000 -> "
			       "203.0.113.7:1234 napt-44");
	/* RFC 6888: NAT logs should not record destinations. */
	cr_assert_null(strstr(line, "198.51.100.10"));
}

Test(daemon_events, pool_exhausted_line)
{
	struct ns_event ev = napt_event(NS_EV_POOL_EXHAUSTED);
	char line[256];

	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "POOL_EXHAUSTED svc=ss2 pool=p2 tcp 100.64.0.10:40000");
}

Test(daemon_events, firewall_only_session_has_no_nat_part)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_OPEN);
	char line[256];

	ev.nat_type = NS_NAT_NONE;
	ev.out_key = tuple("198.51.100.10", 80, "100.64.0.10", 40000, 6);
	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "SESSION_OPEN svc=ss2 tcp 100.64.0.10:40000 -> 198.51.100.10:80");
}

Test(daemon_events, destination_translation_is_shown)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_OPEN);
	char line[256];

	ev.nat_type = NS_NAT_TWICE;
	ev.out_key = tuple("100.64.9.9", 8080, "203.0.113.7", 1234, 6);
	ev.origin = NS_SIDE_OUTSIDE;
	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "SESSION_OPEN svc=ss2 tcp 100.64.0.10:40000 -> 198.51.100.10:80 "
			       "nat 203.0.113.7:1234 dst 100.64.9.9:8080 twice-nat origin=outside");
}

Test(daemon_events, icmp_query_shows_identifiers_not_ports)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_OPEN);
	char line[256];

	ev.in_key = tuple("100.64.0.10", 31409, "198.51.100.10", 0, 1);
	ev.out_key = tuple("198.51.100.10", 0, "203.0.113.11", 38841, 1);
	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "SESSION_OPEN svc=ss2 icmp 100.64.0.10:31409 -> 198.51.100.10 "
			       "nat 203.0.113.11:38841 napt-44");
}

Test(daemon_events, unknown_service_set_and_pool_are_numbered)
{
	struct ns_event ev = napt_event(NS_EV_NAT_RELEASE);
	char line[256];

	ev.svc_set = 7;
	ev.pool_id = 9;
	ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line));
	cr_assert_str_eq(line, "NAT_RELEASE svc=#7 pool=#9 tcp 100.64.0.10:40000 -> "
			       "203.0.113.7:1234");
}

Test(daemon_events, unknown_type_is_refused)
{
	struct ns_event ev = napt_event(99);
	char line[64] = "x";

	cr_assert_eq(ns_event_format(&ev, NULL, 0, &conf, line, sizeof(line)), -1);
	cr_assert_str_eq(line, "");
}

Test(daemon_events, syslog_classes_select_the_events)
{
	struct ns_event open = napt_event(NS_EV_SESSION_OPEN);
	struct ns_event alloc = napt_event(NS_EV_NAT_ALLOC);
	struct ns_event full = napt_event(NS_EV_POOL_EXHAUSTED);

	cr_assert(ns_event_wanted(&open, &conf));
	cr_assert(ns_event_wanted(&alloc, &conf));
	conf.svcs[0].flags = NS_SVC_F_SYSLOG_NAT;
	cr_assert_not(ns_event_wanted(&open, &conf));
	cr_assert(ns_event_wanted(&alloc, &conf));
	conf.svcs[0].flags = 0;
	cr_assert_not(ns_event_wanted(&alloc, &conf));
	/* exhaustion is an operational warning whatever the classes */
	cr_assert(ns_event_wanted(&full, &conf));
}

Test(daemon_events, line_is_truncated_not_overrun)
{
	struct ns_event ev = napt_event(NS_EV_SESSION_OPEN);
	char line[24];

	memset(line, 'x', sizeof(line));
	ns_event_format(&ev, NULL, 0, &conf, line, 16);
	cr_assert_eq(strlen(line), 15);
	cr_assert_eq(line[16], 'x');
}

Test(daemon_events, session_to_event_copies_the_tuples)
{
	struct ns_session s;
	struct ns_event ev;

	memset(&s, 0, sizeof(s));
	s.in_key = tuple("100.64.0.10", 1, "198.51.100.10", 2, 17);
	s.out_key = tuple("198.51.100.10", 2, "203.0.113.7", 3, 17);
	s.svc_set = 4;
	s.nat_type = NS_NAT_NAPT44;
	s.pool_id = 2;
	ns_event_from_session(&ev, &s, NS_EV_SESSION_CLOSE);
	cr_assert_eq(ev.type, NS_EV_SESSION_CLOSE);
	cr_assert_eq(memcmp(&ev.in_key, &s.in_key, sizeof(s.in_key)), 0);
	cr_assert_eq(memcmp(&ev.out_key, &s.out_key, sizeof(s.out_key)), 0);
	cr_assert_eq(ev.svc_set, 4);
	cr_assert_eq(ev.pool_id, 2);
}

/* ---- counter names ------------------------------------------------------- */

Test(daemon_counters, every_counter_has_a_unique_snake_case_name)
{
	for (int i = 0; i < NS_CNT_MAX; i++) {
		const char *n = ns_counter_name(i);

		cr_assert_not_null(n, "counter %d has no name", i);
		for (const char *p = n; *p; p++)
			cr_assert(islower((unsigned char)*p) || *p == '_' || isdigit((unsigned char)*p),
				  "counter name %s is not snake_case", n);
		cr_assert_eq(ns_counter_by_name(n), i, "name %s is not unique", n);
	}
	cr_assert_null(ns_counter_name(-1));
	cr_assert_null(ns_counter_name(NS_CNT_MAX));
	cr_assert_eq(ns_counter_by_name("no_such_counter"), -1);
}

Test(daemon_counters, names_are_stable)
{
	cr_assert_str_eq(ns_counter_name(NS_CNT_RX), "rx");
	cr_assert_str_eq(ns_counter_name(NS_CNT_DROP_NO_SESSION), "drop_no_session");
	cr_assert_str_eq(ns_counter_name(NS_CNT_DROP_POOL_EXHAUSTED), "drop_pool_exhausted");
	cr_assert_str_eq(ns_counter_name(NS_CNT_DROP_TCP_NO_SYN), "drop_tcp_no_syn");
	cr_assert_str_eq(ns_counter_name(NS_CNT_EVENT_LOST), "event_lost");
}

/* ---- whole cycles over real maps (root) ---------------------------------- */

#define FILL_LIVE 5000
#define FILL_DEAD 1500
#define MAP_MAX (1u << 20) /* the sweep's bitmap is sized by it */

static struct ns_daemon md; /* large (config): not on the stack */
static uint64_t T;          /* the cycle's clock */

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (BPF maps)");
	/* The scenario dates entries up to 1000 s back: run the daemon's clock
	 * ahead of the kernel's (these maps see no packets), so it runs the
	 * same on a machine booted a minute ago as on one up for days. */
	ns_clock_offset_set(S(10000));
}

static uint32_t map_max = MAP_MAX;

static int mk(const char *name, uint32_t ksz, uint32_t vsz)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, ksz, vsz, map_max, &opts);

	cr_assert_geq(fd, 0, "bpf_map_create %s: %s", name, strerror(errno));
	return fd;
}

/* engine: NULL for the in-kernel sweep, required (no silent fallback:
 * the engine is checked by name, with the reason it did not load), or
 * "batch" for the batch walk. */
static void maps_setup(const char *engine)
{
	setenv("NATSYNC_AGING_ENGINE", engine ? engine : "in-kernel", 1);
	log_set_level(getenv("AGING_TEST_DEBUG") ? NS_LOG_DEBUG : NS_LOG_ERR);
	memset(&md, 0, sizeof(md));
	ns_config_defaults(&md.conf);
	ns_loader_init_fds(&md.fd);
	md.aging_timer_fd = -1;
	md.conf.timeouts.udp = 30;
	md.conf.timeouts.tcp_time_wait = 240;
	md.conf.timeouts.port_hold = 120;
	md.conf.timeouts.binding = 0;
	md.fd.sessions = mk(NS_MAP_SESSIONS, sizeof(struct ns_tuple), sizeof(struct ns_session));
	md.fd.session_rev = mk(NS_MAP_SESSION_REV, sizeof(struct ns_tuple), sizeof(struct ns_tuple));
	md.fd.ports = mk(NS_MAP_PORTS, sizeof(struct ns_port_key), sizeof(struct ns_port_val));
	md.fd.eim = mk(NS_MAP_EIM, sizeof(struct ns_eim_key), sizeof(struct ns_eim_val));
	md.fd.paired = mk(NS_MAP_PAIRED, sizeof(struct ns_paired_key), sizeof(struct ns_paired_val));
}

static void maps_teardown(void)
{
	ns_aging_fini(&md);
	ns_loader_close_fds(&md.fd);
	unsetenv("NATSYNC_AGING_ENGINE");
}

/* Subscriber 100.64.x.y, pool 203.0.113.1, remote 198.51.100.10:53. */
static struct ns_port_key pkey(uint16_t port)
{
	struct ns_port_key k;

	memset(&k, 0, sizeof(k));
	k.addr = htonl(0xcb007101);
	k.port = htons(port);
	k.proto = port == 1003 ? 6 : 17; /* 1003: the TCP case */
	return k;
}

static void put_port(uint16_t port, uint8_t flags, uint64_t last_used, uint64_t released)
{
	struct ns_port_key k = pkey(port);
	struct ns_port_val v = { .flags = flags, .last_used_ns = last_used,
				 .released_ns = released };

	cr_assert_eq(bpf_map_update_elem(md.fd.ports, &k, &v, BPF_ANY), 0);
}

static struct ns_tuple in_key(uint32_t sub, uint16_t sport, uint8_t proto)
{
	struct ns_tuple t;

	memset(&t, 0, sizeof(t));
	t.saddr = htonl(sub);
	t.daddr = htonl(0xc633640a);
	t.sport = htons(sport);
	t.dport = htons(sport % 2 ? 53 : 54); /* 1008/1009: two remotes, one port */
	t.proto = proto;
	return t;
}

/* A NAPT44 session from sub:sport on pool port `port`, last seen at seen. */
static struct ns_tuple put_session(uint32_t sub, uint16_t sport, uint16_t port, uint8_t proto,
				   uint8_t tcp_state, uint64_t seen)
{
	struct ns_session s;

	memset(&s, 0, sizeof(s));
	s.in_key = in_key(sub, sport, proto);
	s.out_key.saddr = s.in_key.daddr;
	s.out_key.sport = s.in_key.dport;
	s.out_key.daddr = htonl(0xcb007101);
	s.out_key.dport = htons(port);
	s.out_key.proto = proto;
	s.created_ns = seen - S(1);
	s.last_seen_ns = seen;
	s.nat_type = NS_NAT_NAPT44;
	s.tcp_state = tcp_state;
	s.pool_id = 0;
	s.nat_term = 0;
	s.fw_term = NS_NONE16;
	cr_assert_eq(bpf_map_update_elem(md.fd.sessions, &s.in_key, &s, BPF_ANY), 0);
	cr_assert_eq(bpf_map_update_elem(md.fd.session_rev, &s.out_key, &s.in_key, BPF_ANY), 0);
	return s.in_key;
}

static void put_paired(uint32_t sub, uint64_t last_used)
{
	struct ns_paired_key k = { .in_addr = htonl(sub), .pool_id = 0 };
	struct ns_paired_val v = { .out_addr = htonl(0xcb007101), .last_used_ns = last_used };

	cr_assert_eq(bpf_map_update_elem(md.fd.paired, &k, &v, BPF_ANY), 0);
}

static bool has_session(uint32_t sub, uint16_t sport, uint8_t proto)
{
	struct ns_tuple k = in_key(sub, sport, proto);
	struct ns_session s;

	return !bpf_map_lookup_elem(md.fd.sessions, &k, &s);
}

/* The port's flags, or -1 when it was freed. */
static int port_flags(uint16_t port, uint64_t *released)
{
	struct ns_port_key k = pkey(port);
	struct ns_port_val v;

	if (bpf_map_lookup_elem(md.fd.ports, &k, &v))
		return -1;
	if (released)
		*released = v.released_ns;
	return v.flags;
}

static bool has_paired(uint32_t sub)
{
	struct ns_paired_key k = { .in_addr = htonl(sub), .pool_id = 0 };
	struct ns_paired_val v;

	return !bpf_map_lookup_elem(md.fd.paired, &k, &v);
}

static long count(int fd, uint32_t ksz)
{
	char k[64], next[64];
	long n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(k, next, ksz);
		prev = k;
		n++;
	}
	return n;
}

#define SUB(i) (0x64400000u + (i))
#define FILL_SUB(i) (0x64500000u + (i) / 64)

/*
 * The scenario: named cases for every verdict, plus enough filler that the
 * sweep needs many reads (progress marks, records spread over reads).
 */
static void fill_scenario_at(uint64_t t)
{
	T = t;
	put_session(SUB(1), 1001, 1001, 17, 0, T - S(5));      /* live */
	put_port(1001, 0, T - S(500), 0);
	put_paired(SUB(1), T - S(500));
	put_session(SUB(2), 1002, 1002, 17, 0, T - S(100));    /* expired */
	put_port(1002, 0, T - S(500), 0);                      /* -> hold */
	put_paired(SUB(2), T - S(500));                        /* -> gone */
	put_session(SUB(3), 1003, 1003, 6, NS_TCP_TIME_WAIT, T - S(300)); /* clean close */
	put_port(1003, 0, T - S(500), 0);                      /* -> freed at once */
	put_port(1004, NS_PORT_F_HOLD, T - S(900), T - S(200)); /* hold over -> freed */
	put_port(1005, NS_PORT_F_HOLD, T - S(900), T - S(10));  /* still held */
	put_session(SUB(1), 1006, 1006, 17, 0, T - S(1));      /* in use again */
	put_port(1006, NS_PORT_F_HOLD, T - S(900), T - S(10)); /* -> unhold */
	put_port(1007, 0, T, 0);                               /* allocated during the walk */
	put_session(SUB(4), 1008, 1008, 17, 0, T - S(2));      /* two sessions, one port: */
	put_session(SUB(4), 1009, 1008, 17, 0, T - S(200));    /* one expires, port kept */
	put_port(1008, 0, T - S(500), 0);
	put_paired(SUB(4), T - S(500));
	put_paired(SUB(5), T - S(500));                        /* nobody's: gone */
	for (int i = 0; i < FILL_LIVE + FILL_DEAD; i++) {
		bool dead = i >= FILL_LIVE;
		uint16_t port = (uint16_t)(10000 + i);

		put_session(FILL_SUB(i), (uint16_t)(20000 + i), port, 17, 0,
			    dead ? T - S(31) - (uint64_t)i : T - S(29));
		put_port(port, 0, T - S(600), 0);
		if (i % 64 == 0)
			put_paired(FILL_SUB(i), T - S(600));
	}
}

static void fill_scenario(void)
{
	fill_scenario_at(ns_now());
}

static void check_scenario(void)
{
	uint64_t rel = 0;
	long held = 0;

	cr_assert(has_session(SUB(1), 1001, 17));
	cr_assert_not(has_session(SUB(2), 1002, 17));
	cr_assert_not(has_session(SUB(3), 1003, 6));
	cr_assert(has_session(SUB(1), 1006, 17));
	cr_assert(has_session(SUB(4), 1008, 17));
	cr_assert_not(has_session(SUB(4), 1009, 17));

	cr_assert_eq(port_flags(1001, NULL), 0);
	cr_assert_eq(port_flags(1002, &rel), NS_PORT_F_HOLD);
	cr_assert_eq(rel, T, "hold starts at the cycle's clock");
	cr_assert_eq(port_flags(1003, NULL), -1, "clean TCP close frees at once");
	cr_assert_eq(port_flags(1004, NULL), -1, "hold over: freed");
	cr_assert_eq(port_flags(1005, NULL), NS_PORT_F_HOLD);
	cr_assert_eq(port_flags(1006, &rel), 0, "in use again: hold cleared");
	cr_assert_eq(rel, 0);
	cr_assert_eq(port_flags(1007, NULL), 0);
	cr_assert_eq(port_flags(1008, NULL), 0, "still used by the live session");

	cr_assert(has_paired(SUB(1)));
	cr_assert_not(has_paired(SUB(2)));
	cr_assert(has_paired(SUB(4)));
	cr_assert_not(has_paired(SUB(5)));

	/* Sessions and rev entries go together. */
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 3 + FILL_LIVE);
	cr_assert_eq(count(md.fd.session_rev, sizeof(struct ns_tuple)), 3 + FILL_LIVE);
	for (int i = 0; i < FILL_LIVE + FILL_DEAD; i++) {
		bool dead = i >= FILL_LIVE;
		int f = port_flags((uint16_t)(10000 + i), NULL);

		cr_assert_eq(has_session(FILL_SUB(i), (uint16_t)(20000 + i), 17), !dead, "%d", i);
		cr_assert_neq(f, -1, "filler port %d freed without hold", i);
		if (!dead)
			cr_assert_eq(f, 0, "live filler port %d held", i);
		held += f == NS_PORT_F_HOLD;
	}
	/* The sweep's Bloom filter may keep a dead port one cycle more (a
	 * false positive, ~1e-5 each here); never the other way round. */
	cr_assert_geq(held, FILL_DEAD - 2, "%ld of %d dead filler ports held", held, FILL_DEAD);
	cr_assert_eq(md.st.sessions_expired, 3 + FILL_DEAD);
	cr_assert_eq(md.st.nat_released, 2);
	cr_assert_eq(md.st.sessions_seen, 3 + FILL_LIVE);
	cr_assert_eq(md.st.aging_passes, 1);
	cr_assert_eq(md.st.aging_errors, 0);
}

static void one_pass(const char *want_engine)
{
	need_root();
	fill_scenario();
	cr_assert_str_eq(ns_aging_engine(&md), want_engine, "fallback: %s",
			 ns_aging_fallback(&md) ? ns_aging_fallback(&md) : "none");
	cr_assert_eq(ns_aging_pass(&md, T), 0);
	check_scenario();
}

TestSuite(aging_sweep, .init = NULL, .fini = maps_teardown);

Test(aging_sweep, kernel_sweep_cycle)
{
	need_root();
	maps_setup(NULL);
	one_pass("in-kernel sweep");
}

Test(aging_sweep, batch_walk_cycle_gives_the_same_result)
{
	need_root();
	maps_setup("batch");
	one_pass("batch walk");
}

Test(aging_sweep, second_cycle_frees_after_the_hold)
{
	need_root();
	maps_setup(NULL);
	one_pass("in-kernel sweep");
	/* 121 s later: every held port's hold is over, nothing else changed. */
	cr_assert_eq(ns_aging_pass(&md, T + S(121)), 0);
	cr_assert_eq(port_flags(1002, NULL), -1);
	cr_assert_eq(port_flags(1005, NULL), -1);
	cr_assert_eq(port_flags(10000 + FILL_LIVE, NULL), -1);
	/* the live ones (last seen T - 29 s) expired meanwhile: held now */
	cr_assert_eq(port_flags(10000, NULL), NS_PORT_F_HOLD);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 0);
	cr_assert_eq(count(md.fd.session_rev, sizeof(struct ns_tuple)), 0);
}

/* n expired sessions, each on its own port, and one cycle of the sweep. */
static void expired_pass(int n)
{
	T = ns_now();
	for (int i = 0; i < n; i++) {
		put_session(FILL_SUB(i), (uint16_t)(20000 + i % 40000), (uint16_t)(1024 + i), 17,
			    0, T - S(31));
		put_port((uint16_t)(1024 + i), 0, T - S(600), 0);
	}
	cr_assert_str_eq(ns_aging_engine(&md), "in-kernel sweep");
	cr_assert_eq(ns_aging_pass(&md, T), 0);
}

/*
 * More expired sessions than one walk can emit: the first cycle deletes
 * what fit and defers the rest, whose ports stay in use (not held) until
 * their sessions go in the next cycle. Nothing is lost, nothing freed early.
 */
Test(aging_sweep, more_expired_than_one_walk_emits_waits_for_the_next_cycle)
{
	const int n = (int)NS_AGING_OUT_RECS + 5000;
	long held = 0, live_ports = 0;

	need_root();
	maps_setup(NULL);
	md.conf.aging_slice = 0; /* one run per map: one ns_age_out per walk */
	expired_pass(n);
	cr_assert_eq(md.st.sessions_expired, NS_AGING_OUT_RECS);
	cr_assert_geq(md.st.aging_deferred, 5000, "%llu deferred",
		      (unsigned long long)md.st.aging_deferred);
	for (int i = 0; i < n; i++) {
		int f = port_flags((uint16_t)(1024 + i), NULL);

		cr_assert_neq(f, -1, "port %d freed", 1024 + i);
		held += f == NS_PORT_F_HOLD;
		live_ports += f == 0;
	}
	/* Every port of a deleted session is held; the deferred ones' are
	 * not (a Bloom false positive may keep a held one live: ~1e-5). */
	cr_assert_geq(held, (long)NS_AGING_OUT_RECS - 2, "%ld held", held);
	cr_assert_geq(live_ports, 5000, "%ld ports of deferred sessions kept", live_ports);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 5000);

	cr_assert_eq(ns_aging_pass(&md, T + S(1)), 0);
	cr_assert_eq(md.st.sessions_expired, (uint64_t)n);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 0);
	cr_assert_eq(count(md.fd.session_rev, sizeof(struct ns_tuple)), 0);
	held = 0;
	for (int i = 0; i < n; i++)
		held += port_flags((uint16_t)(1024 + i), NULL) == NS_PORT_F_HOLD;
	cr_assert_eq(held, n, "%ld of %d held after the second cycle", held, n);
	cr_assert_eq(md.st.aging_errors, 0);
}

/* An engine name natsyncd does not know is refused, not guessed at. */
Test(aging_sweep, unknown_engine_name_is_refused)
{
	need_root();
	maps_setup(NULL);
	setenv("NATSYNC_AGING_ENGINE", "fastest", 1);
	md.loop = loop_new();
	cr_assert_not_null(md.loop);
	cr_assert_eq(ns_aging_init(&md), -ENOTSUP);
	cr_assert_eq(ns_aging_pass(&md, ns_now()), -ENOTSUP);
	cr_assert(strstr(ns_aging_fallback(&md), "fastest"), "%s", ns_aging_fallback(&md));
	ns_aging_fini(&md);
	loop_free(md.loop);
	md.loop = NULL;
}

static void stop_loop(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	loop_stop(loop);
}

/* natsyncd's aging on md.loop (timer, worker thread) every 50 ms over a
 * small table (as natsyncd's netns tests use) of n UDP sessions, every
 * other one expired; aging-slice `slice`. */
static void sweep_on_loop(int n, uint32_t slice)
{
	need_root();
	map_max = 4096;
	maps_setup(NULL);
	md.conf.aging_interval_ms = 50;
	md.conf.aging_slice = slice;
	md.loop = loop_new();
	cr_assert_not_null(md.loop);
	T = ns_now();
	for (int i = 0; i < n; i++)
		put_session(FILL_SUB(i), (uint16_t)(20000 + i), (uint16_t)(10000 + i), 17, 0,
			    i % 2 ? T - S(31) : T);
	cr_assert_eq(ns_aging_init(&md), 0);
	cr_assert_str_eq(ns_aging_engine(&md), "in-kernel sweep", "fallback: %s",
			 ns_aging_fallback(&md) ? ns_aging_fallback(&md) : "none");
}

Test(aging_sweep, timer_runs_cycles_in_slices_on_the_loop)
{
	sweep_on_loop(2000, 64); /* the worker thread runs the slices */
	cr_assert_geq(loop_add_timer(md.loop, 1500, stop_loop, NULL), 0);
	cr_assert_eq(loop_run(md.loop), 0);
	cr_assert_geq(md.st.aging_passes, 2, "%llu cycles", (unsigned long long)md.st.aging_passes);
	cr_assert_geq(md.st.aging_slices, 10, "%llu slices a cycle",
		     (unsigned long long)md.st.aging_slices);
	cr_assert_eq(md.st.sessions_expired, 1000);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 1000);
	cr_assert_eq(count(md.fd.session_rev, sizeof(struct ns_tuple)), 1000);
	ns_aging_fini(&md);
	loop_free(md.loop);
	md.loop = NULL;
}

/*
 * The loop never waits for the sweep's worker thread. The worker runs at
 * nice 10 on a CPU of its own, which a CPU hog shares: descheduled right
 * after it told the loop that a walk was over, it used to keep the mutex
 * the loop then took to read the result, and the loop (heartbeats) waited
 * until the scheduler gave the worker its CPU back: ha_load's 1.54 s
 * "aging walk done" stall on the backup. Here the worker is held at that
 * very point (the hook) until the loop has run a timer callback twice
 * after it, or for 5 s: the loop must have run meanwhile, and the cycles
 * must still finish once the worker goes on.
 */
struct held_worker {
	_Atomic int calls;
	_Atomic int ticks;          /* loop timer callbacks */
	_Atomic int loop_ran;       /* ticks seen while the worker was held */
};

static void hold_worker(void *arg)
{
	struct held_worker *h = arg;
	uint64_t until = ns_now() + S(5);
	int t0 = atomic_load(&h->ticks);

	if (atomic_fetch_add(&h->calls, 1))
		return; /* hold it once */
	while (atomic_load(&h->ticks) < t0 + 2 && ns_now() < until)
		usleep(1000);
	atomic_store(&h->loop_ran, atomic_load(&h->ticks) - t0);
}

static void count_tick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct held_worker *h = arg;

	(void)fd;
	(void)events;
	atomic_fetch_add(&h->ticks, 1);
	if (atomic_load(&h->calls) && md.st.aging_passes >= 2)
		loop_stop(loop);
	if (atomic_load(&h->ticks) > 1000) /* 10 s: give up, the asserts tell */
		loop_stop(loop);
}

Test(aging_sweep, loop_runs_while_the_worker_is_descheduled, .timeout = 60)
{
	static struct held_worker h;

	sweep_on_loop(200, NS_AGING_SLICE_AUTO);
	ns_aging_set_worker_hook(&md, hold_worker, &h);
	cr_assert_geq(loop_add_timer(md.loop, 10, count_tick, &h), 0);
	cr_assert_eq(loop_run(md.loop), 0);
	cr_assert_geq(atomic_load(&h.calls), 1, "no walk ended");
	cr_assert_geq(atomic_load(&h.loop_ran), 2,
		      "the loop ran %d timer callbacks while the worker was held after a walk",
		      atomic_load(&h.loop_ran));
	cr_assert_geq(md.st.aging_passes, 2, "%llu cycles", (unsigned long long)md.st.aging_passes);
	cr_assert_eq(md.st.sessions_expired, 100);
	ns_aging_fini(&md);
	loop_free(md.loop);
	md.loop = NULL;
}

/* ---- NAT64 sessions (ns_nat64_sess, IPv6 keys, the same record) ---------- */

/* A NAT64 UDP session from [2001:db8:64::<host>]:sport on pool port `port`. */
static struct ns_tuple6 put_session64(uint16_t host, uint16_t sport, uint16_t port, uint64_t seen)
{
	struct ns_tuple6 k;
	struct ns_session s;

	memset(&k, 0, sizeof(k));
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:64::", k.saddr), 1);
	k.saddr[14] = host >> 8;
	k.saddr[15] = host & 0xff;
	cr_assert_eq(inet_pton(AF_INET6, "64:ff9b::198.51.100.10", k.daddr), 1);
	k.sport = htons(sport);
	k.dport = htons(53);
	k.proto = 17;
	memset(&s, 0, sizeof(s));
	s.in_key.saddr = ns_nat64_fold(k.saddr);
	s.in_key.daddr = htonl(0xc633640a);
	s.in_key.sport = k.sport;
	s.in_key.dport = k.dport;
	s.in_key.proto = 17;
	s.out_key.saddr = s.in_key.daddr;
	s.out_key.sport = k.dport;
	s.out_key.daddr = htonl(0xcb007101);
	s.out_key.dport = htons(port);
	s.out_key.proto = 17;
	s.created_ns = seen - S(1);
	s.last_seen_ns = seen;
	s.nat_type = NS_NAT_NAT64;
	s.pool_id = 0;
	s.nat_term = 0;
	s.fw_term = NS_NONE16;
	cr_assert_eq(bpf_map_update_elem(md.fd.nat64_sess, &k, &s, BPF_ANY), 0);
	cr_assert_eq(bpf_map_update_elem(md.fd.nat64_rev, &s.out_key, &k, BPF_ANY), 0);
	return k;
}

static void nat64_cycle(const char *engine, const char *want)
{
	struct ns_tuple6 live, dead;
	struct ns_session s;

	need_root();
	maps_setup(engine);
	md.fd.nat64_sess = mk(NS_MAP_NAT64_SESS, sizeof(struct ns_tuple6), sizeof(struct ns_session));
	md.fd.nat64_rev = mk(NS_MAP_NAT64_REV, sizeof(struct ns_tuple), sizeof(struct ns_tuple6));
	T = ns_now();
	live = put_session64(1, 4001, 3001, T - S(5));
	put_port(3001, 0, T - S(500), 0);
	dead = put_session64(2, 4002, 3002, T - S(100));
	put_port(3002, 0, T - S(500), 0);
	put_session(SUB(1), 1001, 1001, 17, 0, T - S(100)); /* a NAPT44 one beside */
	put_port(1001, 0, T - S(500), 0);
	cr_assert_str_eq(ns_aging_engine(&md), want, "fallback: %s",
			 ns_aging_fallback(&md) ? ns_aging_fallback(&md) : "none");
	cr_assert_eq(ns_aging_pass(&md, T), 0);
	cr_assert_eq(bpf_map_lookup_elem(md.fd.nat64_sess, &live, &s), 0, "live NAT64 session kept");
	cr_assert_neq(bpf_map_lookup_elem(md.fd.nat64_sess, &dead, &s), 0, "expired one deleted");
	cr_assert_eq(count(md.fd.nat64_rev, sizeof(struct ns_tuple)), 1, "with its rev entry");
	cr_assert_eq(port_flags(3001, NULL), 0, "a live NAT64 session keeps its pool port");
	cr_assert_eq(port_flags(3002, NULL), NS_PORT_F_HOLD, "an expired one releases it");
	cr_assert_not(has_session(SUB(1), 1001, 17));
	cr_assert_eq(port_flags(1001, NULL), NS_PORT_F_HOLD);
	cr_assert_eq(md.st.sessions_expired, 2);
	cr_assert_eq(md.st.nat64_sessions_seen, 1);
	cr_assert_eq(md.st.sessions_seen, 0, "NAT64 sessions are counted apart");
	cr_assert_eq(md.st.aging_errors, 0);
}

Test(aging_sweep, nat64_sessions_kernel_sweep)
{
	nat64_cycle(NULL, "in-kernel sweep");
}

Test(aging_sweep, nat64_sessions_batch_walk)
{
	nat64_cycle("batch", "batch walk");
}

/* ---- sliced walks (bpf/aging.bpf.c, age_cur) ----------------------------- */

/* Every verdict of the scenario, with every walk in slices of 7 entries. */
Test(aging_sweep, kernel_sweep_cycle_in_small_slices)
{
	need_root();
	maps_setup(NULL);
	md.conf.aging_slice = 7;
	one_pass("in-kernel sweep");
	/* 6,515 sessions, 6,522 ports, 28 paired entries in slices of 7,
	 * growing to 1/8 of the walk's position: ~40 per big walk */
	cr_assert_geq(md.st.aging_slices, 60, "%llu slices",
		      (unsigned long long)md.st.aging_slices);
	cr_assert_gt(md.st.aging_slice_max_ns, 0);
	cr_assert_eq(md.st.aging_slice_restarts, 0);
	cr_assert_eq(md.st.aging_unsliced_walks, 0);
}

#define SL_LIVE 3000
#define SL_DEAD 1000
#define SL_SLICE 97
#define SL_NEW_SUB(i) (0x64600000u + (i))
#define SL_EIM 200          /* EIM bindings re-used during the walk */
#define SL_EIM_PORT 50000   /* their ports */

/* What a test does between two slices of the session walk. */
struct slice_hook {
	int calls;          /* slices of the session walk seen */
	int del_every;      /* delete the remembered session at call 3 (1), at
			     * every call (2), never (0) */
	int n_del;
	struct ns_tuple del[16];
	int new_per_call;   /* live sessions inserted per call, on new ports */
	int n_new;
	bool eim_reuse;     /* re-use one EIM binding per call */
	int n_eim;
};

static struct ns_port_key eim_pkey(int j)
{
	struct ns_port_key k = pkey((uint16_t)(SL_EIM_PORT + j));

	k.proto = 17;
	return k;
}

static struct ns_eim_key eim_key(int j)
{
	struct ns_eim_key e;

	memset(&e, 0, sizeof(e));
	e.in_addr = htonl(SL_NEW_SUB(10000 + j));
	e.in_port = htons(5000);
	e.proto = 17;
	return e;
}

/* The EIM binding j: its port (not held) and ns_eim entry, last used long ago. */
static void put_eim_binding(int j, uint64_t last)
{
	struct ns_port_key k = eim_pkey(j);
	struct ns_port_val v = { .in_addr = htonl(SL_NEW_SUB(10000 + j)), .in_port = htons(5000),
				 .flags = NS_PORT_F_EIM, .last_used_ns = last };
	struct ns_eim_key ek = eim_key(j);
	struct ns_eim_val ev = { .out_addr = k.addr, .out_port = k.port, .flags = NS_PORT_F_EIM,
				 .last_used_ns = last };

	cr_assert_eq(bpf_map_update_elem(md.fd.ports, &k, &v, BPF_ANY), 0);
	cr_assert_eq(bpf_map_update_elem(md.fd.eim, &ek, &ev, BPF_ANY), 0);
}

static void on_slice(void *arg, int map_fd, const void *key)
{
	struct slice_hook *h = arg;

	if (map_fd != md.fd.sessions)
		return;
	h->calls++;
	if ((h->del_every == 1 && h->calls == 3) || h->del_every == 2) {
		struct ns_tuple k, rev;
		struct ns_session s;

		memcpy(&k, key, sizeof(k));
		cr_assert_eq(bpf_map_lookup_elem(md.fd.sessions, &k, &s), 0, "the remembered key");
		cr_assert_eq(bpf_map_delete_elem(md.fd.sessions, &k), 0);
		rev = s.out_key;
		bpf_map_delete_elem(md.fd.session_rev, &rev);
		cr_assert_lt(h->n_del, 16);
		h->del[h->n_del++] = k;
	}
	for (int i = 0; i < h->new_per_call; i++, h->n_new++) {
		put_session(SL_NEW_SUB(h->n_new), 30000, (uint16_t)(40000 + h->n_new), 17, 0,
			    ns_now());
		put_port((uint16_t)(40000 + h->n_new), 0, ns_now(), 0);
	}
	for (int r = 0; h->eim_reuse && r < 10 && h->n_eim < SL_EIM; r++) {
		/* a new session of the binding's subscriber, as the fast path
		 * makes it: found through ns_eim, whose stamp it refreshes;
		 * the ns_ports entry is not touched */
		struct ns_eim_key ek = eim_key(h->n_eim);
		struct ns_eim_val ev;
		struct ns_tuple t;

		cr_assert_eq(bpf_map_lookup_elem(md.fd.eim, &ek, &ev), 0);
		ev.last_used_ns = ns_now();
		cr_assert_eq(bpf_map_update_elem(md.fd.eim, &ek, &ev, BPF_EXIST), 0);
		t = put_session(SL_NEW_SUB(10000 + h->n_eim), 5000, (uint16_t)(SL_EIM_PORT + h->n_eim),
				17, 0, ns_now());
		(void)t;
		h->n_eim++;
	}
}

/* N sessions on their own ports: the first SL_LIVE live, the rest expired. */
static void fill_sliced(void)
{
	T = ns_now();
	for (int i = 0; i < SL_LIVE + SL_DEAD; i++) {
		bool dead = i >= SL_LIVE;

		put_session(FILL_SUB(i), (uint16_t)(20000 + i), (uint16_t)(10000 + i), 17, 0,
			    dead ? T - S(31) : T - S(29));
		put_port((uint16_t)(10000 + i), 0, T - S(600), 0);
	}
}

static bool deleted_by_hook(const struct slice_hook *h, const struct ns_tuple *k)
{
	for (int i = 0; i < h->n_del; i++)
		if (!memcmp(&h->del[i], k, sizeof(*k)))
			return true;
	return false;
}

/*
 * Every session the hook left alone: a live one kept and its port in use
 * (a mark the walk missed would have put it on hold), an expired one
 * deleted and its port held (a Bloom false positive may keep one or two in
 * use for a cycle more).
 */
static void check_sliced(const struct slice_hook *h)
{
	long held = 0, dead = 0;

	for (int i = 0; i < SL_LIVE + SL_DEAD; i++) {
		struct ns_tuple k = in_key(FILL_SUB(i), (uint16_t)(20000 + i), 17);
		int f = port_flags((uint16_t)(10000 + i), NULL);

		if (deleted_by_hook(h, &k))
			continue;
		if (i < SL_LIVE) {
			cr_assert(has_session(FILL_SUB(i), (uint16_t)(20000 + i), 17), "%d", i);
			cr_assert_eq(f, 0, "live session %d's port held: its mark was missed", i);
		} else {
			cr_assert_not(has_session(FILL_SUB(i), (uint16_t)(20000 + i), 17), "%d", i);
			cr_assert_neq(f, -1, "port %d freed without hold", i);
			held += f == NS_PORT_F_HOLD;
			dead++;
		}
	}
	cr_assert_geq(held, dead - 2, "%ld of %ld expired sessions' ports held", held, dead);
	cr_assert_eq(md.st.aging_errors, 0);
}

static long deleted_live(const struct slice_hook *h)
{
	long n = 0;

	for (int i = 0; i < h->n_del; i++)
		n += ntohs(h->del[i].sport) < 20000 + SL_LIVE;
	return n;
}

static void sliced_pass(struct slice_hook *h)
{
	need_root();
	maps_setup(NULL);
	md.conf.aging_slice = SL_SLICE;
	fill_sliced();
	cr_assert_str_eq(ns_aging_engine(&md), "in-kernel sweep", "fallback: %s",
			 ns_aging_fallback(&md) ? ns_aging_fallback(&md) : "none");
	ns_aging_set_slice_hook(&md, on_slice, h);
	cr_assert_eq(ns_aging_pass(&md, T), 0);
}

Test(aging_sweep, sliced_walk_finds_every_expired_session_and_live_binding)
{
	struct slice_hook h = { 0 };

	sliced_pass(&h);
	/* 97 entries, growing to 1/8 of the position after 776 */
	cr_assert_geq(h.calls, 15, "%d slices", h.calls);
	check_sliced(&h);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), SL_LIVE);
	cr_assert_eq(md.st.sessions_expired, SL_DEAD);
	cr_assert_eq(md.st.sessions_seen, SL_LIVE);
	cr_assert_eq(md.st.aging_slice_restarts, 0);
}

/* The key the next slice resumes after is deleted: the walk starts over
 * (counted) and still finds everything, once. */
Test(aging_sweep, sliced_walk_restarts_when_its_key_is_deleted)
{
	struct slice_hook h = { .del_every = 1 };

	sliced_pass(&h);
	cr_assert_eq(h.n_del, 1);
	cr_assert_eq(md.st.aging_slice_restarts, 1);
	cr_assert_eq(md.st.aging_unsliced_walks, 0);
	check_sliced(&h);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), SL_LIVE - deleted_live(&h));
	cr_assert_eq((long)md.st.sessions_expired, SL_DEAD - (h.n_del - deleted_live(&h)),
		     "expired sessions counted once, not again after the restart");
	cr_assert_eq((long)md.st.sessions_seen, SL_LIVE - deleted_live(&h));
}

/* Its key vanishes every time: after NS_AGING_MAX_RESTARTS restarts the walk
 * runs unsliced, and ends. */
Test(aging_sweep, sliced_walk_whose_key_keeps_vanishing_ends_unsliced)
{
	struct slice_hook h = { .del_every = 2 };

	sliced_pass(&h);
	cr_assert_eq(md.st.aging_slice_restarts, NS_AGING_MAX_RESTARTS + 1);
	cr_assert_eq(md.st.aging_unsliced_walks, 1);
	cr_assert_eq(h.n_del, NS_AGING_MAX_RESTARTS + 1);
	check_sliced(&h);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), SL_LIVE - deleted_live(&h));
}

/*
 * Sessions inserted between slices, some into parts of the map the walk has
 * passed: new ones on new ports, and new ones re-using an EIM binding whose
 * only session expired (the fast path stamps its ns_eim entry, not its
 * ns_ports entry). None of their bindings may be held or freed.
 */
Test(aging_sweep, sessions_inserted_between_slices_keep_their_bindings)
{
	struct slice_hook h = { .new_per_call = 5, .eim_reuse = true };

	need_root();
	maps_setup(NULL);
	md.conf.aging_slice = SL_SLICE;
	fill_sliced();
	for (int j = 0; j < SL_EIM; j++) {
		put_eim_binding(j, T - S(600));
		put_session(SL_NEW_SUB(20000 + j), 6000, (uint16_t)(SL_EIM_PORT + j), 17, 0,
			    T - S(100)); /* its old session: expired */
	}
	cr_assert_str_eq(ns_aging_engine(&md), "in-kernel sweep");
	ns_aging_set_slice_hook(&md, on_slice, &h);
	cr_assert_eq(ns_aging_pass(&md, T), 0);
	cr_assert_geq(h.n_eim, 30, "%d EIM bindings re-used", h.n_eim);
	check_sliced(&h);
	for (int i = 0; i < h.n_new; i++) {
		cr_assert(has_session(SL_NEW_SUB(i), 30000, 17), "new session %d", i);
		cr_assert_eq(port_flags((uint16_t)(40000 + i), NULL), 0, "new port %d", i);
	}
	for (int j = 0; j < SL_EIM; j++) {
		struct ns_port_key k = eim_pkey(j);
		struct ns_port_val v;

		cr_assert_not(has_session(SL_NEW_SUB(20000 + j), 6000, 17), "old EIM session %d", j);
		cr_assert_eq(bpf_map_lookup_elem(md.fd.ports, &k, &v), 0, "EIM port %d freed", j);
		if (j < h.n_eim)
			cr_assert_eq(v.flags, NS_PORT_F_EIM, "EIM binding %d re-used during the "
				     "walk was put on hold", j);
		else
			cr_assert_eq(v.flags, NS_PORT_F_EIM | NS_PORT_F_HOLD, "unused %d", j);
	}
	cr_assert_eq(md.st.aging_slice_restarts, 0);
}

/* What a cycle left in the maps, for comparing two engines' work. */
struct outcome {
	bool sess[FILL_LIVE + FILL_DEAD];
	int flags[FILL_LIVE + FILL_DEAD + 8];
	uint64_t released[FILL_LIVE + FILL_DEAD + 8];
	bool paired[FILL_LIVE + FILL_DEAD];
	long n_sess, n_rev, n_ports;
};

static void outcome_of(struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < FILL_LIVE + FILL_DEAD; i++) {
		o->sess[i] = has_session(FILL_SUB(i), (uint16_t)(20000 + i), 17);
		o->flags[i] = port_flags((uint16_t)(10000 + i), &o->released[i]);
		o->paired[i] = has_paired(FILL_SUB(i));
	}
	for (int i = 0; i < 8; i++)
		o->flags[FILL_LIVE + FILL_DEAD + i] =
			port_flags((uint16_t)(1001 + i), &o->released[FILL_LIVE + FILL_DEAD + i]);
	o->n_sess = count(md.fd.sessions, sizeof(struct ns_tuple));
	o->n_rev = count(md.fd.session_rev, sizeof(struct ns_tuple));
	o->n_ports = count(md.fd.ports, sizeof(struct ns_port_key));
}

/* The same maps, the same clock (so the same Bloom seed): a cycle in slices
 * of 61 leaves exactly what one unsliced run per map leaves. */
Test(aging_sweep, sliced_cycle_leaves_what_an_unsliced_one_leaves)
{
	static struct outcome whole, sliced;
	uint64_t t;

	need_root();
	maps_setup(NULL);
	t = ns_now();
	md.conf.aging_slice = 0;
	fill_scenario_at(t);
	cr_assert_str_eq(ns_aging_engine(&md), "in-kernel sweep");
	cr_assert_eq(ns_aging_pass(&md, t), 0);
	cr_assert_eq(md.st.aging_slices, 4, "one run per map");
	check_scenario();
	outcome_of(&whole);
	maps_teardown();

	maps_setup(NULL);
	md.conf.aging_slice = 61;
	fill_scenario_at(t);
	cr_assert_eq(ns_aging_pass(&md, t), 0);
	cr_assert_gt(md.st.aging_slices, 40);
	check_scenario();
	outcome_of(&sliced);
	cr_assert_eq(memcmp(&whole, &sliced, sizeof(whole)), 0,
		     "the sliced cycle left other maps than the unsliced one");
}

/* Collected after every slice, ns_age_out no longer caps a walk at
 * NS_AGING_OUT_RECS: all of them go in one cycle. */
Test(aging_sweep, sliced_walk_emits_more_than_one_out_buffer)
{
	const int n = (int)NS_AGING_OUT_RECS + 5000;

	need_root();
	maps_setup(NULL);
	md.conf.aging_slice = NS_AGING_SLICE_DEFAULT; /* not left to the CPU count */
	expired_pass(n);
	cr_assert_eq(md.st.sessions_expired, (uint64_t)n);
	cr_assert_eq(md.st.aging_deferred, 0);
	cr_assert_eq(count(md.fd.sessions, sizeof(struct ns_tuple)), 0);
	cr_assert_eq(md.st.aging_errors, 0);
}

/* aging-slice left out: slices when the walks share the event loop's CPU
 * (one CPU), none when they have one of their own; a set value wins. */
Test(aging_slice, auto_slices_only_when_the_walks_share_the_loops_cpu)
{
	static struct ns_daemon d;

	ns_config_defaults(&d.conf);
	cr_assert_eq(d.conf.aging_slice, NS_AGING_SLICE_AUTO);
	d.aging_cpu = -1;
	cr_assert_eq(ns_aging_slice(&d), NS_AGING_SLICE_DEFAULT);
	d.aging_cpu = 1;
	cr_assert_eq(ns_aging_slice(&d), 0);
	d.conf.aging_slice = 4096;
	cr_assert_eq(ns_aging_slice(&d), 4096);
	d.aging_cpu = -1;
	d.conf.aging_slice = 0;
	cr_assert_eq(ns_aging_slice(&d), 0);
}
