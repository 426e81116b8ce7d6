// SPDX-License-Identifier: GPL-2.0
/*
 * test_aging.c - the daemon's pure decisions: session expiry, NAT binding
 * hold/release (RFC 6888 port hold, EIM binding time, clean TCP close),
 * paired-pool expiry, event log lines and counter names. Fake clocks only:
 * no maps, no root.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include <criterion/criterion.h>

#include "daemon/aging.h"
#include "daemon/config.h"
#include "daemon/counters.h"
#include "daemon/events.h"

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
