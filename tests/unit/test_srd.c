// SPDX-License-Identifier: GPL-2.0
/*
 * test_srd.c - the Service Redundancy Daemon model of issue 10: the
 * events' hold times (daemon/monitor.h, pure and through the glue with the
 * clock frozen and moved by ns_clock_freeze()), which policies an event triggers
 * and how long release-mastership holds (daemon/policy.h, actions recorded
 * by fake mastership operations), a policy hook with its environment, the
 * heartbeat paths' datagram (daemon/hbpath.h: authentication, tampering,
 * replay), and the configuration's validation (redundancy-events,
 * redundancy-policies, heartbeat-paths).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/hbpath.h"
#include "daemon/monitor.h"
#include "daemon/policy.h"
#include "daemon/redundancy.h"
#include "daemon/util.h"

/* ---- the debouncer ---------------------------------------------------------- */

Test(srd_hold, first_up_settles_silently_first_down_fires)
{
	struct mon_event e = { 0 };

	cr_expect_eq(mon_event_input(&e, 0, 0, 1000, true, "ok"), 0, "unknown -> up is no change");
	cr_expect_eq(e.state, MON_UP);
	cr_expect_str_eq(mon_event_state_name(&e), "up");

	memset(&e, 0, sizeof(e));
	cr_expect_eq(mon_event_input(&e, 0, 0, 1000, false, "gone"), MON_FIRE_DOWN);
	cr_expect_eq(e.state, MON_DOWN);
	cr_expect_str_eq(e.reason, "gone");
}

Test(srd_hold, down_counts_only_after_hold_time_down)
{
	struct mon_event e = { 0 };

	mon_event_input(&e, 500, 2000, 0, true, "ok");
	cr_expect_eq(mon_event_input(&e, 500, 2000, 100, false, "gone"), 0);
	cr_expect_str_eq(mon_event_state_name(&e), "holding-down");
	cr_expect_eq(e.state, MON_UP, "still up while holding");
	cr_expect_eq(mon_event_tick(&e, 500, 2000, 599), 0, "499 ms < 500 ms");
	cr_expect_eq(mon_event_tick(&e, 500, 2000, 600), MON_FIRE_DOWN);
	cr_expect_eq(e.state, MON_DOWN);
	cr_expect_eq(e.since_ms, 600);
	cr_expect_eq(e.changes, 2, "unknown -> up, up -> down");
	/* and back up: hold-time-up applies */
	cr_expect_eq(mon_event_input(&e, 500, 2000, 1000, true, "back"), 0);
	cr_expect_str_eq(mon_event_state_name(&e), "holding-up");
	cr_expect_eq(mon_event_tick(&e, 500, 2000, 2999), 0);
	cr_expect_eq(mon_event_tick(&e, 500, 2000, 3000), MON_FIRE_UP);
	cr_expect_str_eq(e.reason, "back");
}

Test(srd_hold, a_flap_shorter_than_the_hold_is_forgotten)
{
	struct mon_event e = { 0 };

	mon_event_input(&e, 1000, 0, 0, true, "ok");
	mon_event_input(&e, 1000, 0, 10, false, "gone");
	cr_expect_eq(mon_event_input(&e, 1000, 0, 900, true, "ok again"), 0);
	cr_expect_eq(e.state, MON_UP);
	cr_expect_not(e.holding);
	cr_expect_eq(e.flaps, 1);
	cr_expect_eq(mon_event_tick(&e, 1000, 0, 5000), 0, "nothing left to settle");
	/* the hold restarts from the next change, not the first */
	mon_event_input(&e, 1000, 0, 6000, false, "gone");
	cr_expect_eq(mon_event_tick(&e, 1000, 0, 6999), 0);
	cr_expect_eq(mon_event_tick(&e, 1000, 0, 7000), MON_FIRE_DOWN);
}

/* ---- the glue with an injected clock ---------------------------------------- */

static struct ns_redundancy_conf rc;

/* What the fake mastership operations were asked. */
static int acquires, releases_on, releases_off, acquire_refuse;
static char last_why[160];

static int fake_acquire(void *arg, const char *why, char *err, size_t errlen)
{
	(void)arg;
	acquires++;
	ns_strlcpy(last_why, why, sizeof(last_why));
	if (acquire_refuse) {
		snprintf(err, errlen, "this box is not ready");
		return -1;
	}
	return 0;
}

static void fake_release(void *arg, bool on, const char *why)
{
	(void)arg;
	if (on)
		releases_on++;
	else
		releases_off++;
	ns_strlcpy(last_why, why, sizeof(last_why));
}

static const char *fake_role(void *arg)
{
	(void)arg;
	return "backup";
}

static const struct policy_ops fake_ops = {
	.acquire = fake_acquire, .release = fake_release, .role = fake_role,
};

static struct ns_policies *pols;
static struct ns_monitor *mon;

static void fired(void *arg, uint32_t idx, int fire)
{
	(void)arg;
	policy_on_event(pols, mon, idx, fire);
}

/* The tests' clock: ns_now() is frozen at clock_at (setup(), advance_ms()). */
static uint64_t clock_at;

static int peer_up;

static int peer_alive(void *arg)
{
	(void)arg;
	return peer_up;
}

static void add_event(const char *name, int kind, uint32_t hold_down, uint32_t hold_up)
{
	struct ns_srd_event_conf *e = &rc.events[rc.n_events++];

	ns_strlcpy(e->name, name, sizeof(e->name));
	e->kind = kind;
	e->hold_down_ms = hold_down;
	e->hold_up_ms = hold_up;
}

static struct ns_srd_policy_conf *add_policy(const char *name, uint32_t events, bool on_up,
					     uint32_t actions)
{
	struct ns_srd_policy_conf *p = &rc.policies[rc.n_policies++];

	ns_strlcpy(p->name, name, sizeof(p->name));
	p->events = events;
	p->on_up = on_up;
	p->actions = actions;
	p->hook_timeout_ms = 10000;
	return p;
}

static void setup(void)
{
	memset(&rc, 0, sizeof(rc));
	acquires = releases_on = releases_off = acquire_refuse = 0;
	last_why[0] = '\0';
	peer_up = 1;
	/* Time stands still but where advance_ms() moves it: under load the
	 * real clock would add a millisecond between two steps of a test. */
	clock_at = ns_now();
	ns_clock_freeze(clock_at);
}

/* Start the monitor and the policies of rc (no loop: no sockets). */
static void start(void)
{
	pols = policy_new(NULL, &rc, "box-t", &fake_ops, NULL);
	cr_assert(pols);
	mon = monitor_new(NULL, &rc, fired, peer_alive, NULL);
	cr_assert(mon);
}

static void stop(void)
{
	monitor_free(mon);
	policy_free(pols);
	ns_clock_freeze(0);
}

/* Move ns_now() ms further and let the monitor see the time. */
static void advance_ms(uint64_t ms)
{
	clock_at += ms * 1000000ull;
	ns_clock_freeze(clock_at);
	monitor_tick(mon);
}

Test(srd_policy, triggered_by_event_and_direction)
{
	setup();
	add_event("route", NS_SRD_ROUTE, 0, 0);
	add_event("ping", NS_SRD_PING, 0, 0);
	add_policy("rel", 1u << 0 | 1u << 1, false, NS_SRD_A_RELEASE);
	add_policy("acq", 1u << 1, true, NS_SRD_A_ACQUIRE);
	add_policy("other", 1u << 0, true, NS_SRD_A_HOOK);
	cr_expect_eq(policy_triggered(&rc, 0, MON_FIRE_DOWN), 1u << 0);
	cr_expect_eq(policy_triggered(&rc, 1, MON_FIRE_DOWN), 1u << 0);
	cr_expect_eq(policy_triggered(&rc, 1, MON_FIRE_UP), 1u << 1);
	cr_expect_eq(policy_triggered(&rc, 0, MON_FIRE_UP), 1u << 2);
	cr_expect_eq(policy_triggered(&rc, 2, MON_FIRE_DOWN), 0, "no such event");
	cr_expect_eq(policy_triggered(&rc, 0, 0), 0, "no change, no trigger");
}

Test(srd_policy, release_holds_while_any_event_is_down_after_hold_times)
{
	setup();
	add_event("route", NS_SRD_ROUTE, 300, 1000);
	add_event("ping", NS_SRD_PING, 0, 0);
	add_policy("rel", 1u << 0 | 1u << 1, false, NS_SRD_A_RELEASE);
	start();
	monitor_input(mon, 0, true, "route present");
	monitor_input(mon, 1, true, "answers");
	cr_expect_eq(releases_on + releases_off, 0, "first up changes nothing");

	monitor_input(mon, 0, false, "route gone");
	advance_ms(299);
	cr_expect_eq(releases_on, 0, "held: 299 ms < hold-time-down 300 ms");
	cr_expect_str_eq(mon_event_state_name(monitor_event(mon, 0)), "holding-down");
	advance_ms(1);
	cr_expect_eq(releases_on, 1, "released once the hold ran out");
	cr_expect_str_eq(last_why, "released by policy rel");

	monitor_input(mon, 1, false, "3 echoes unanswered");
	cr_expect_eq(releases_on, 1, "already released: the second event adds nothing");
	monitor_input(mon, 0, true, "route back");
	advance_ms(1000);
	cr_expect_eq(monitor_event(mon, 0)->state, MON_UP);
	cr_expect_eq(releases_off, 0, "ping still down: the policy holds");
	monitor_input(mon, 1, true, "answers");
	cr_expect_eq(releases_off, 1, "both up: healthy again");
	stop();
}

Test(srd_policy, acquire_on_peer_loss_and_refusal_is_recorded)
{
	char buf[4096];
	FILE *f;

	setup();
	add_event("peer", NS_SRD_PEER, 200, 0);
	add_policy("acq", 1u << 0, false, NS_SRD_A_ACQUIRE);
	start();
	peer_up = -1;
	advance_ms(1000);
	cr_expect_eq(monitor_event(mon, 0)->state, MON_UNKNOWN, "never heard: nobody was lost");
	cr_expect_eq(acquires, 0);
	peer_up = 1;
	advance_ms(10);
	cr_expect_eq(monitor_event(mon, 0)->state, MON_UP);
	peer_up = 0;
	advance_ms(100);
	cr_expect_str_eq(mon_event_state_name(monitor_event(mon, 0)), "holding-down");
	acquire_refuse = 1;
	advance_ms(199);
	cr_expect_eq(acquires, 0, "199 ms < hold-time-down 200 ms");
	advance_ms(1);
	cr_expect_eq(acquires, 1);
	cr_expect_str_eq(last_why, "policy acq (event peer down)");
	f = fmemopen(buf, sizeof(buf), "w");
	policy_status(pols, f, NULL);
	fclose(f);
	cr_expect(strstr(buf, "acquire-mastership refused: this box is not ready"), "%s", buf);
	cr_expect(strstr(buf, "triggered 1 times"), "%s", buf);
	/* stays down: no second trigger */
	advance_ms(1000);
	cr_expect_eq(acquires, 1);
	stop();
}

Test(srd_policy, when_up_policies_fire_on_recovery_only)
{
	setup();
	add_event("ping", NS_SRD_PING, 0, 500);
	add_policy("back", 1u << 0, true, NS_SRD_A_ACQUIRE);
	start();
	monitor_input(mon, 0, true, "answers");
	cr_expect_eq(acquires, 0, "unknown -> up is not a recovery");
	monitor_input(mon, 0, false, "lost");
	cr_expect_eq(acquires, 0);
	monitor_input(mon, 0, true, "answers");
	advance_ms(499);
	cr_expect_eq(acquires, 0);
	advance_ms(1);
	cr_expect_eq(acquires, 1);
	stop();
}

Test(srd_policy, hook_runs_with_its_environment)
{
	char out[] = "/tmp/nsu-srd-hook.XXXXXX", buf[256] = "";
	struct ns_srd_policy_conf *p;
	FILE *f;
	int fd;

	setup();
	fd = mkstemp(out);
	cr_assert(fd >= 0);
	close(fd);
	add_event("route", NS_SRD_ROUTE, 0, 0);
	p = add_policy("hooked", 1u << 0, false, NS_SRD_A_HOOK);
	snprintf(p->hook, sizeof(p->hook),
		 "echo \"$NATSYNC_POLICY $NATSYNC_EVENT $NATSYNC_EVENT_STATE $NATSYNC_ROLE "
		 "$NATSYNC_NODE $1 $2 $3\" > %s", out);
	start();
	monitor_input(mon, 0, false, "gone");
	cr_expect_eq(policy_hooks_running(pols), 1);
	/* no loop here: wait for the child ourselves */
	for (int i = 0; i < 3000; i++) { /* 30 s: a shell starts late on a busy box */
		f = fopen(out, "r");
		if (f && fgets(buf, sizeof(buf), f)) {
			fclose(f);
			break;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	cr_expect_str_eq(buf, "hooked route down backup box-t hooked route down\n");
	unlink(out);
	stop();
}

/* ---- configuration --------------------------------------------------------- */

static struct ns_config conf;
static char err[NS_CONF_ERR_MAX];

/* A pair's redundancy-options with EXTRA inside (line 4 on). */
static char *red_cfg(const char *extra)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
		 "natsync: {\n"
		 "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; };\n"
		 "  redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n"
		 "%s\n"
		 "  signal-routes = ( { destination = \"203.0.113.0/24\"; } );\n"
		 "};\n"
		 "services: { nat: { pools = ( { name = \"p1\"; address = [ \"203.0.113.0/24\" ]; "
		 "port = \"automatic\"; } );\n"
		 "  rules = ( { name = \"r1\"; match-direction = \"input\"; terms = ( { name = \"t1\";\n"
		 "    from = { source-address = [ \"100.64.0.0/10\" ]; };\n"
		 "    then = { translation-type = \"napt-44\"; source-pool = \"p1\"; }; } ); } ); };\n"
		 "  service-sets = ( { name = \"ss1\"; nat-rules = [ \"r1\" ];\n"
		 "    next-hop-service = { inside-service-interface = \"in0\";\n"
		 "      outside-service-interface = \"out0\"; }; } ); };\n"
		 "};\n", extra);
	return buf;
}

Test(srd_config, events_policies_and_paths_load)
{
	const char *x =
		"  redundancy-events = (\n"
		"    { name = \"up-route\"; monitor-route = { prefix = \"198.51.100.0/24\"; table = 100; };\n"
		"      hold-time-down-ms = 500; hold-time-up-ms = 2000; },\n"
		"    { name = \"gw\"; monitor-ping = { address = \"198.51.100.10\"; interval-ms = 200; count = 4;\n"
		"      interface = \"out0\"; }; },\n"
		"    { name = \"links\"; monitor-link-down = [ \"in0\", \"out0\" ]; },\n"
		"    { name = \"peer\"; monitor-peer = \"loss\"; } );\n"
		"  redundancy-policies = (\n"
		"    { name = \"rel\"; redundancy-events = [ \"up-route\", \"gw\" ];\n"
		"      then = { release-mastership = true; delete-signal-route = true;\n"
		"               add-static-route = ( { destination = \"10.9.0.0/16\"; table = 100; } );\n"
		"               hook = \"logger x\"; hook-timeout-ms = 2000; }; },\n"
		"    { name = \"acq\"; redundancy-events = \"peer\"; when = \"down\";\n"
		"      then = { acquire-mastership = true; add-signal-route = true; }; } );\n"
		"  heartbeat-paths = ( { name = \"inside\"; local-address = \"100.64.0.2\";\n"
		"      peer-address = \"100.64.0.3\"; interface = \"in0\"; } );\n";

	cr_assert_eq(ns_config_load_string(red_cfg(x), "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.red.n_events, 4);
	cr_expect_eq(conf.red.events[0].kind, NS_SRD_ROUTE);
	cr_expect_eq(conf.red.events[0].prefix_len, 24);
	cr_expect_eq(conf.red.events[0].table, 100);
	cr_expect_eq(conf.red.events[0].hold_down_ms, 500);
	cr_expect_eq(conf.red.events[0].hold_up_ms, 2000);
	cr_expect_eq(conf.red.events[1].kind, NS_SRD_PING);
	cr_expect_eq(conf.red.events[1].ping_interval_ms, 200);
	cr_expect_eq(conf.red.events[1].ping_count, 4);
	cr_expect_str_eq(conf.red.events[1].ping_iface, "out0");
	cr_expect_eq(conf.red.events[2].n_links, 2);
	cr_expect_eq(conf.red.events[3].kind, NS_SRD_PEER);
	cr_expect_eq(conf.red.n_policies, 2);
	cr_expect_eq(conf.red.policies[0].events, 3u);
	cr_expect_eq(conf.red.policies[0].actions, NS_SRD_A_RELEASE | NS_SRD_A_DEL_SIGNAL |
		     NS_SRD_A_ADD_ROUTES | NS_SRD_A_HOOK);
	cr_expect_eq(conf.red.policies[0].add_routes[0].table, 100);
	cr_expect_eq(conf.red.policies[0].hook_timeout_ms, 2000);
	cr_expect_eq(conf.red.policies[1].events, 1u << 3);
	cr_expect_eq(conf.red.policies[1].actions, NS_SRD_A_ACQUIRE | NS_SRD_A_ADD_SIGNAL);
	cr_expect_eq(conf.red.policies[1].hook_timeout_ms, 10000, "the default");
	cr_expect_eq(conf.red.n_hb_paths, 1);
	cr_expect_eq(conf.red.hb_paths[0].port, 7789);
	cr_expect_str_eq(conf.red.hb_paths[0].ifname, "in0");
}

Test(srd_config, the_example_srd_pair_loads_as_documented)
{
	cr_assert_eq(ns_config_load("configs/srd-pair.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.red.n_events, 4);
	cr_expect_eq(conf.red.events[0].kind, NS_SRD_LINK);
	cr_expect_eq(conf.red.events[1].kind, NS_SRD_ROUTE);
	cr_expect_eq(conf.red.events[1].prefix_len, 0, "the default route");
	cr_expect_eq(conf.red.events[2].kind, NS_SRD_PING);
	cr_expect_eq(conf.red.events[3].kind, NS_SRD_PEER);
	cr_expect_eq(conf.red.n_policies, 2);
	cr_expect_eq(conf.red.policies[0].events, 7u);
	cr_expect_eq(conf.red.policies[0].actions, NS_SRD_A_RELEASE | NS_SRD_A_DEL_SIGNAL | NS_SRD_A_HOOK);
	cr_expect_eq(conf.red.policies[0].hook_timeout_ms, 5000);
	cr_expect_eq(conf.red.n_hb_paths, 2);
}

struct srd_bad {
	const char *extra;
	const char *want;
};

static const struct srd_bad srd_bads[] = {
	{ "redundancy-events = ( { name = \"e\"; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0]: no monitor: set one of "
	  "monitor-link-down, monitor-route, monitor-ping, monitor-peer" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; monitor-link-down = \"x\"; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-peer: an event "
	  "watches one thing: monitor-link-down is set too" },
	{ "redundancy-events = ( { name = \"e\"; monitor-route = { prefix = \"198.51.100.1/24\"; }; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-route.prefix: "
	  "'198.51.100.1/24' has host bits set (did you mean 198.51.100.0/24?)" },
	{ "redundancy-events = ( { name = \"e\"; monitor-ping = { address = \"224.0.0.1\"; }; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-ping.address: "
	  "'224.0.0.1' is not a unicast IPv4 address" },
	{ "redundancy-events = ( { name = \"e\"; monitor-ping = { address = \"198.51.100.1\"; interval-ms = 10; }; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-ping.interval-ms: "
	  "10 is out of range 50..60000" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"gone\"; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-peer: expected \"loss\" "
	  "(the peer's heartbeats stop for dead-interval-ms)" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; }, { name = \"e\"; monitor-peer = \"loss\"; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[1].name: 'e' is defined twice" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; hold-time-dwn-ms = 5; } );",
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].hold-time-dwn-ms: unknown key "
	  "(did you mean 'hold-time-down-ms'?)" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } );\n"
	  "redundancy-policies = ( { name = \"p\"; redundancy-events = [ \"f\" ]; then = { release-mastership = true; }; } );",
	  "t.cfg:5: natsync.redundancy-options.redundancy-policies.[0].redundancy-events.[0]: "
	  "no redundancy event 'f' (redundancy-events)" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } );\n"
	  "redundancy-policies = ( { name = \"p\"; redundancy-events = \"e\"; then = { }; } );",
	  "t.cfg:5: natsync.redundancy-options.redundancy-policies.[0].then: no action (acquire-mastership, "
	  "release-mastership, add/delete-signal-route, add/delete-static-route, hook)" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } );\n"
	  "redundancy-policies = ( { name = \"p\"; redundancy-events = \"e\"; then = { acquire-mastership = true; release-mastership = true; }; } );",
	  "t.cfg:5: natsync.redundancy-options.redundancy-policies.[0].then: acquire-mastership and "
	  "release-mastership in one policy" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } );\n"
	  "redundancy-policies = ( { name = \"p\"; redundancy-events = \"e\"; when = \"later\"; then = { acquire-mastership = true; }; } );",
	  "t.cfg:5: natsync.redundancy-options.redundancy-policies.[0].when: 'later' is not one of: down, up" },
	{ "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } );\n"
	  "redundancy-policies = ( { name = \"p\"; redundancy-events = \"e\"; then = { hook-timeout-ms = 500; acquire-mastership = true; }; } );",
	  "t.cfg:5: natsync.redundancy-options.redundancy-policies.[0].then.hook-timeout-ms: without a hook" },
	{ "heartbeat-paths = ( { name = \"p\"; local-address = \"192.0.2.1\"; peer-address = \"192.0.2.2\"; } );",
	  "t.cfg:4: natsync.redundancy-options.heartbeat-paths.[0].local-address: is the sync channel's "
	  "address: a second path needs another link" },
	{ "heartbeat-paths = ( { name = \"p\"; local-address = \"100.64.0.2\"; } );",
	  "t.cfg:4: natsync.redundancy-options.heartbeat-paths.[0].peer-address: missing (required)" },
};

Test(srd_config, invalid_srd_configs_are_rejected_with_a_clear_error)
{
	for (size_t i = 0; i < sizeof(srd_bads) / sizeof(srd_bads[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(ns_config_load_string(red_cfg(srd_bads[i].extra), "t.cfg", &conf, err,
						   sizeof(err)), -1, "case %zu accepted", i);
		cr_expect_str_eq(err, srd_bads[i].want, "case %zu:\n  got  %s\n  want %s", i, err,
				 srd_bads[i].want);
	}
}

/* ---- heartbeat path datagrams ------------------------------------------------ */

static const uint8_t psk_a[] = "0123456789abcdef-pre-shared";
static const uint8_t psk_b[] = "0123456789abcdef-other-key!";

static struct hbp_frame sample(void)
{
	struct hbp_frame f = {
		.role = 1, .ready = true, .adv = 457, .nonce = 0x1122334455667788ull,
		.echo = 0x99aabbccddeeff00ull, .uptime_ms = 123456789,
	};

	ns_strlcpy(f.name, "box-a", sizeof(f.name));
	return f;
}

Test(srd_hbpath, round_trip_tagged_and_untagged)
{
	struct hbp_frame f = sample(), g;
	uint8_t key[HBP_KEY_LEN], buf[HBP_MAX_LEN];
	size_t n;

	hbp_derive_key(psk_a, sizeof(psk_a) - 1, key);
	n = hbp_encode(buf, &f, key);
	cr_assert_eq(n, HBP_MAX_LEN);
	cr_assert_eq(hbp_decode(buf, n, &g, key), 0);
	cr_expect_eq(g.role, 1);
	cr_expect(g.ready);
	cr_expect_eq(g.adv, 457);
	cr_expect_eq(g.nonce, f.nonce);
	cr_expect_eq(g.echo, f.echo);
	cr_expect_eq(g.uptime_ms, 123456789);
	cr_expect_str_eq(g.name, "box-a");
	n = hbp_encode(buf, &f, NULL);
	cr_assert_eq(n, HBP_BODY_LEN);
	cr_expect_eq(hbp_decode(buf, n, &g, NULL), 0);
	cr_expect_eq(g.adv, 457);
}

Test(srd_hbpath, wrong_key_tampering_and_missing_tag_are_refused)
{
	struct hbp_frame f = sample(), g;
	uint8_t ka[HBP_KEY_LEN], kb[HBP_KEY_LEN], buf[HBP_MAX_LEN];
	size_t n;

	hbp_derive_key(psk_a, sizeof(psk_a) - 1, ka);
	hbp_derive_key(psk_b, sizeof(psk_b) - 1, kb);
	n = hbp_encode(buf, &f, ka);
	cr_expect_eq(hbp_decode(buf, n, &g, kb), HBP_E_AUTH, "another key");
	cr_expect_eq(hbp_decode(buf, n, &g, NULL), HBP_E_AUTH, "tagged, but we have no key");
	for (size_t i = 6; i < n; i++) {
		buf[i] ^= 0x01;
		cr_expect_eq(hbp_decode(buf, n, &g, ka), HBP_E_AUTH, "bit flipped at byte %zu", i);
		buf[i] ^= 0x01;
	}
	n = hbp_encode(buf, &f, NULL);
	cr_expect_eq(hbp_decode(buf, n, &g, ka), HBP_E_AUTH, "untagged, but we have a key");
	cr_expect_eq(hbp_decode(buf, n - 1, &g, NULL), HBP_E_MALFORMED, "truncated");
	buf[0] = 'X';
	cr_expect_eq(hbp_decode(buf, n, &g, NULL), HBP_E_MALFORMED, "magic");
}

Test(srd_hbpath, only_an_echo_of_a_recent_nonce_proves_the_peer_alive)
{
	struct hbp_fresh s;

	memset(&s, 0, sizeof(s));
	cr_expect_not(hbp_fresh_ok(&s, 0, 100, 500), "no echo yet");
	hbp_fresh_sent(&s, 42, 1000);
	cr_expect(hbp_fresh_ok(&s, 42, 1200, 500));
	cr_expect_not(hbp_fresh_ok(&s, 43, 1200, 500), "never sent");
	cr_expect_not(hbp_fresh_ok(&s, 42, 1500, 500), "a replay after the dead interval");
	/* only the last HBP_NONCES are remembered */
	for (uint64_t n = 100; n < 100 + HBP_NONCES; n++)
		hbp_fresh_sent(&s, n, 2000);
	cr_expect_not(hbp_fresh_ok(&s, 42, 2001, 500));
	cr_expect(hbp_fresh_ok(&s, 100, 2001, 500));
}

Test(srd_hbpath, a_heartbeat_overtaken_by_a_newer_one_is_ignored_a_restart_is_not)
{
	uint64_t last = 0;

	cr_expect(red_hb_in_order(&last, 5000, 500));
	cr_expect(red_hb_in_order(&last, 5100, 500), "newer, over the other transport");
	cr_expect_not(red_hb_in_order(&last, 5050, 500), "sent before the one just seen");
	cr_expect_eq(last, 5100);
	cr_expect(red_hb_in_order(&last, 5100, 500), "the same heartbeat over both transports");
	cr_expect(red_hb_in_order(&last, 300, 500), "4.8 s back: the peer restarted");
	cr_expect_eq(last, 300);
	cr_expect(red_hb_in_order(&last, 400, 500));
}
