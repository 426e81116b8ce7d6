// SPDX-License-Identifier: GPL-2.0
/*
 * test_redundancy.c - the redundancy state machine (daemon/redundancy.h),
 * driven without sockets or maps: start-up, peer loss, link down/up,
 * manual switchover with and without readiness and force, graceful
 * handover, preempt on/off with priorities, split brain and its healing,
 * fail-back, external (keepalived) role control, history. Most tests run
 * a pair of state machines that exchange heartbeats like two natsyncd.
 * The last tests exercise vip.c for real in a private network namespace
 * (root only, skipped otherwise).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/redundancy.h"
#include "daemon/vip.h"

#define DEAD 1000u
#define HB 250u

/* A box: its state machine and what its sync module would report. */
struct box {
	struct red_fsm f;
	const char *name;
	bool up;       /* daemon running: sends heartbeats */
	bool link;     /* the HA link is up: heartbeats get through */
};

static void box_init(struct box *b, const char *name, uint32_t addr, uint32_t peer, int prio,
		     bool preempt, uint64_t now)
{
	struct red_fsm_conf c = {
		.dead_ms = DEAD, .priority = prio, .preempt = preempt,
		.local_addr = addr, .peer_addr = peer,
	};

	memset(b, 0, sizeof(*b));
	red_fsm_init(&b->f, &c, now);
	b->name = name;
	b->up = b->link = true;
}

static uint8_t wire_role(const struct box *b)
{
	return b->f.role == RED_ROLE_PRIMARY ? RED_PEER_PRIMARY : RED_PEER_BACKUP;
}

/* Deliver from's heartbeat to to (when both run and the link is up). */
static unsigned int deliver(struct box *from, struct box *to, uint64_t now)
{
	if (!from->up || !to->up || !from->link || !to->link)
		return 0;
	return red_fsm_peer_heartbeat(&to->f, now, wire_role(from), red_fsm_advert_ready(&from->f),
				      red_fsm_advert(&from->f), from->name);
}

/* Let time pass in heartbeat steps, exchanging heartbeats both ways. */
static void run(struct box *a, struct box *b, uint64_t *now, uint64_t ms)
{
	for (uint64_t end = *now + ms; *now < end;) {
		*now += 50;
		if (a->up)
			red_fsm_tick(&a->f, *now);
		if (b->up)
			red_fsm_tick(&b->f, *now);
		if (*now % HB == 0) {
			deliver(a, b, *now);
			deliver(b, a, *now);
		}
	}
}

/* Exchange a few immediate heartbeats (what RED_ACT_ADVERTISE triggers). */
static void settle(struct box *a, struct box *b, uint64_t now)
{
	for (int i = 0; i < 4; i++) {
		deliver(a, b, now);
		deliver(b, a, now);
	}
}

/* A healthy, synced pair: A (lower address) primary, B backup, both ready. */
static void healthy_pair(struct box *a, struct box *b, uint64_t *now, int pa, int pb,
			 bool preempt_a, bool preempt_b)
{
	*now = 1000;
	box_init(a, "A", 0xc0000201, 0xc0000202, pa, preempt_a, *now);
	box_init(b, "B", 0xc0000202, 0xc0000201, pb, preempt_b, *now);
	run(a, b, now, 500);
	red_fsm_set_ready(&a->f, *now, true);
	red_fsm_set_ready(&b->f, *now, true);
	run(a, b, now, 500);
}

static int n_primary(const struct box *a, const struct box *b)
{
	return (a->f.role == RED_ROLE_PRIMARY) + (b->f.role == RED_ROLE_PRIMARY);
}

/* ---- start-up --------------------------------------------------------------- */

Test(red_start, alone_becomes_primary_after_dead_interval)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 100 };

	red_fsm_init(&f, &c, 0);
	cr_assert_eq(f.role, RED_ROLE_INIT);
	cr_assert_eq(red_fsm_tick(&f, DEAD - 1) & RED_ACT_PRIMARY, 0);
	cr_assert_eq(f.role, RED_ROLE_INIT, "must wait the whole dead-interval for the peer");
	cr_assert(red_fsm_tick(&f, DEAD) & RED_ACT_PRIMARY);
	cr_assert_eq(f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_history(&f, 0)->reason, RED_R_NO_PEER);
}

Test(red_start, never_primary_while_peer_is_primary)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 250, .preempt = false,
				  .local_addr = 1, .peer_addr = 2 };
	unsigned int acts;

	red_fsm_init(&f, &c, 0);
	/* Even with a higher priority and the lower address. */
	acts = red_fsm_peer_heartbeat(&f, 10, RED_PEER_PRIMARY, true, RED_ADV_HEALTHY_BASE + 1, "B");
	cr_assert_eq(f.role, RED_ROLE_BACKUP);
	cr_assert(acts & RED_ACT_BACKUP);
	cr_assert_eq(red_fsm_history(&f, 0)->reason, RED_R_PEER_PRIMARY);
	cr_assert_str_eq(f.peer.name, "B");
	/* And keeps being backup while heartbeats continue. */
	for (uint64_t t = 260; t < 5000; t += 250)
		red_fsm_peer_heartbeat(&f, t, RED_PEER_PRIMARY, true, RED_ADV_HEALTHY_BASE + 1, "B");
	cr_assert_eq(f.role, RED_ROLE_BACKUP);
}

Test(red_start, simultaneous_start_elects_higher_priority)
{
	struct box a, b;
	uint64_t now = 0;

	box_init(&a, "A", 0xc0000201, 0xc0000202, 100, false, now);
	box_init(&b, "B", 0xc0000202, 0xc0000201, 200, false, now);
	run(&a, &b, &now, 300);
	cr_assert_eq(n_primary(&a, &b), 1);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	run(&a, &b, &now, 5000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY, "stable");
	cr_assert_eq(a.f.n_hist, 1);
	cr_assert_eq(b.f.n_hist, 1);
}

Test(red_start, equal_priority_lower_address_wins)
{
	struct box a, b;
	uint64_t now = 0;

	box_init(&a, "A", 0xc0000209, 0xc0000202, 100, false, now);
	box_init(&b, "B", 0xc0000202, 0xc0000209, 100, false, now);
	run(&a, &b, &now, 500);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_ELECTION);
}

/* ---- peer loss --------------------------------------------------------------- */

Test(red_peer, backup_takes_over_after_dead_interval_not_before)
{
	struct box a, b;
	uint64_t now, t0;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
	a.up = false; /* kill -9 */
	t0 = b.f.peer.last_hb_ms;
	while (now < t0 + DEAD - 50) {
		run(&a, &b, &now, 50);
		cr_assert_eq(b.f.role, RED_ROLE_BACKUP, "took over %llu ms after the last heartbeat",
			     (unsigned long long)(now - t0));
	}
	run(&a, &b, &now, 100);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_PEER_DEAD);
}

Test(red_peer, fail_back_old_primary_returns_as_backup_then_manual)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;
	char err[128];

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	a.up = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	/* A restarts: INIT, hears B primary, becomes backup although it
	 * has the lower address that won the first election. */
	box_init(&a, "A", 0xc0000201, 0xc0000202, 100, false, now);
	run(&a, &b, &now, 500);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	/* Before its bulk is installed A is not ready: a switchover is refused. */
	cr_assert_eq(red_fsm_switchover(&b.f, now, false, &acts, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not ready"), "%s", err);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	red_fsm_set_ready(&a.f, now, true);
	run(&a, &b, &now, 500);
	cr_assert_eq(red_fsm_switchover(&b.f, now, false, &acts, err, sizeof(err)), 0, "%s", err);
	cr_assert(acts & RED_ACT_BACKUP);
	settle(&a, &b, now);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_PEER_RELEASED);
	run(&a, &b, &now, 5000);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY, "stable after fail-back");
	cr_assert_eq(n_primary(&a, &b), 1);
}

Test(red_peer, fail_back_by_preempt)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 200, 100, true, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	a.up = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	box_init(&a, "A", 0xc0000201, 0xc0000202, 200, true, now);
	run(&a, &b, &now, 2000);
	/* Not ready: no preempt, flows would be lost. */
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	red_fsm_set_ready(&a.f, now, true);
	run(&a, &b, &now, 2 * HB);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_PEER_REQUEST);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_PEER_RELEASED);
}

/* ---- preempt ------------------------------------------------------------------ */

Test(red_preempt, off_keeps_the_current_primary)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	/* B gets a higher priority, but no preempt. */
	b.f.c.priority = 250;
	run(&a, &b, &now, 5000);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
}

Test(red_preempt, on_higher_priority_takes_over_lower_does_not)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 100, false, true);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	/* Equal priority: preempt does nothing. */
	run(&a, &b, &now, 3000);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	b.f.c.priority = 150;
	run(&a, &b, &now, 3 * HB);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	run(&a, &b, &now, 5000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY, "no flapping");
	cr_assert_eq(b.f.n_hist, 2); /* init->backup, backup->primary */
}

Test(red_preempt, manual_switchover_suppresses_preempt)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;
	char err[128];

	healthy_pair(&a, &b, &now, 200, 100, true, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_switchover(&a.f, now, false, &acts, err, sizeof(err)), 0, "%s", err);
	settle(&a, &b, now);
	run(&a, &b, &now, 5000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY, "A must not preempt back after a manual switchover");
	cr_assert(a.f.preempt_suppressed);
	/* A manual switchover back clears it. */
	cr_assert_eq(red_fsm_switchover(&a.f, now, false, &acts, err, sizeof(err)), 0, "%s", err);
	run(&a, &b, &now, 3 * HB);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
}

/* ---- manual switchover --------------------------------------------------------- */

Test(red_manual, on_primary_needs_ready_peer_or_force)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;
	char err[128];

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	red_fsm_set_ready(&b.f, now, false);
	run(&a, &b, &now, 500);
	cr_assert_eq(red_fsm_switchover(&a.f, now, false, &acts, err, sizeof(err)), -1);
	cr_assert_eq(acts, 0);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY, "refused request changes nothing");
	cr_assert_eq(red_fsm_switchover(&a.f, now, true, &acts, err, sizeof(err)), 0, "%s", err);
	cr_assert(acts & RED_ACT_BACKUP);
	cr_assert(acts & RED_ACT_ADVERTISE);
	cr_assert_eq(red_fsm_advert(&a.f), RED_ADV_RELEASE);
	settle(&a, &b, now);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert(!a.f.releasing, "release ends when the peer is primary");
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_MANUAL);
}

Test(red_manual, on_backup_asks_the_primary)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;
	char err[128];

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	red_fsm_set_ready(&b.f, now, false);
	cr_assert_eq(red_fsm_switchover(&b.f, now, false, &acts, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not ready"), "%s", err);
	cr_assert_eq(red_fsm_switchover(&b.f, now, true, &acts, err, sizeof(err)), 0, "%s", err);
	cr_assert(acts & RED_ACT_ADVERTISE);
	cr_assert_eq(red_fsm_advert(&b.f), RED_ADV_REQUEST);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP, "a backup never takes the role by itself");
	settle(&a, &b, now);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(n_primary(&a, &b), 1);
	run(&a, &b, &now, 5000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
}

Test(red_manual, refused_without_live_peer_and_in_init)
{
	struct box a, b;
	uint64_t now = 0;
	unsigned int acts;
	char err[128];

	box_init(&a, "A", 1, 2, 100, false, now);
	cr_assert_eq(red_fsm_switchover(&a.f, now, true, &acts, err, sizeof(err)), -1);
	cr_assert(strstr(err, "init"), "%s", err);
	healthy_pair(&a, &b, &now, 100, 100, false, false);
	b.up = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(red_fsm_switchover(&a.f, now, true, &acts, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not alive"), "%s", err);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
}

Test(red_manual, release_times_out_when_peer_never_takes_over)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;
	char err[128];

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	cr_assert_eq(red_fsm_switchover(&a.f, now, false, &acts, err, sizeof(err)), 0, "%s", err);
	/* B hears nothing more: the HA link fails right after the release. */
	a.link = false;
	run(&a, &b, &now, 3 * DEAD);
	/* Both take the role (split brain), A because B went silent. */
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert(!a.f.releasing);
}

/* ---- graceful shutdown ------------------------------------------------------------ */

Test(red_shutdown, primary_hands_over_at_once)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;

	healthy_pair(&a, &b, &now, 200, 100, false, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	acts = red_fsm_shutdown(&a.f, now);
	cr_assert(acts & RED_ACT_BACKUP);
	cr_assert(acts & RED_ACT_ADVERTISE);
	cr_assert_eq(red_fsm_advert(&a.f), RED_ADV_RELEASE);
	deliver(&a, &b, now);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY, "took over on the release heartbeat, not after dead-interval");
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_PEER_RELEASED);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_SHUTDOWN);
}

Test(red_shutdown, release_with_stale_primary_role_is_a_release)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 200, 100, false, false);
	/* The heartbeat that says "releasing" may still carry role primary
	 * (the sync role byte lags): the backup takes over all the same. */
	red_fsm_peer_heartbeat(&b.f, now, RED_PEER_PRIMARY, true, RED_ADV_RELEASE, "A");
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_PEER_RELEASED);
}

Test(red_shutdown, backup_shutdown_changes_nothing_on_primary)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	acts = red_fsm_shutdown(&b.f, now);
	cr_assert_eq(acts & (RED_ACT_PRIMARY | RED_ACT_BACKUP), 0);
	deliver(&b, &a, now);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
}

/* ---- monitored links ------------------------------------------------------------- */

Test(red_link, primary_link_down_hands_over_to_healthy_peer)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;

	healthy_pair(&a, &b, &now, 200, 100, false, false);
	acts = red_fsm_set_fault(&a.f, now, true, "link down: in0");
	cr_assert(acts & RED_ACT_BACKUP);
	settle(&a, &b, now);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_LINK_DOWN);
	cr_assert_str_eq(red_fsm_history(&a.f, 0)->detail, "link down: in0");
	/* Link back, no preempt: B stays. */
	red_fsm_set_fault(&a.f, now, false, "links up");
	run(&a, &b, &now, 3000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
}

Test(red_link, link_up_again_with_preempt_fails_back)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 200, 100, true, false);
	red_fsm_set_fault(&a.f, now, true, "link down: out0");
	run(&a, &b, &now, 2 * HB);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	/* While faulted A advertises less than B: no preempt. */
	cr_assert_lt(red_fsm_advert(&a.f), red_fsm_advert(&b.f));
	run(&a, &b, &now, 2000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	red_fsm_set_fault(&a.f, now, false, "links up");
	run(&a, &b, &now, 3 * HB);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
}

Test(red_link, primary_stays_when_peer_is_faulted_too)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	red_fsm_set_fault(&b.f, now, true, "link down: out0");
	run(&a, &b, &now, 2 * HB);
	red_fsm_set_fault(&a.f, now, true, "link down: in0");
	run(&a, &b, &now, 3000);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY, "handing over to a faulted peer gains nothing");
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
}

Test(red_link, backup_link_down_prevents_nothing_when_primary_dies)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	red_fsm_set_fault(&b.f, now, true, "link down: out0");
	a.up = false;
	run(&a, &b, &now, 2 * DEAD);
	/* A faulted box is still better than none. */
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
}

Test(red_peer, stale_then_fresh_heartbeat_reports_both_steps)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;

	healthy_pair(&a, &b, &now, 200, 100, false, false);
	/* B's loop was busy: its last record of A is older than dead-interval,
	 * and A's fresh heartbeat is processed only now. A tick first would
	 * make B primary (peer-dead), the heartbeat right after makes it
	 * yield (dual-primary): the caller gets both bits and must act on
	 * the final role. */
	now += DEAD + 100;
	acts = red_fsm_tick(&b.f, now);
	acts |= red_fsm_peer_heartbeat(&b.f, now, RED_PEER_PRIMARY, true,
				       red_fsm_advert(&a.f), "A");
	cr_assert(acts & RED_ACT_PRIMARY);
	cr_assert(acts & RED_ACT_BACKUP);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP, "final role");
	cr_assert_eq(red_fsm_history(&b.f, 0)->reason, RED_R_DUAL_PRIMARY);
}

/* ---- split brain --------------------------------------------------------------------- */

Test(red_split, sync_link_down_both_primary_then_heal_one_yields)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 150, false, false);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	a.link = b.link = false;
	run(&a, &b, &now, 2 * DEAD);
	/* Defined behaviour: VRRP-like, both boxes are primary. */
	cr_assert_eq(n_primary(&a, &b), 2);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_PEER_DEAD);
	/* Healed: the election loser (lower priority) yields at the first
	 * heartbeat, the winner keeps the role (no double switchover). */
	a.link = b.link = true;
	run(&a, &b, &now, HB);
	cr_assert_eq(n_primary(&a, &b), 1);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_DUAL_PRIMARY);
	cr_assert_eq(b.f.n_hist, 1, "the winner never left primary (init -> primary only)");
	/* The winner is told to announce its addresses again. */
	cr_assert(red_fsm_peer_heartbeat(&b.f, now, RED_PEER_PRIMARY, true,
					 RED_ADV_HEALTHY_BASE + 100, "A") & RED_ACT_REANNOUNCE);
	run(&a, &b, &now, 5000);
	cr_assert_eq(n_primary(&a, &b), 1);
}

/* At the heal the loser may yield before the winner hears it as primary
 * (its first heartbeat then says backup): the winner must announce its
 * addresses again all the same, or the LANs keep pointing at the loser. */
Test(red_split, heal_reannounces_even_when_the_peer_yielded_first)
{
	struct box a, b;
	uint64_t now;
	unsigned int acts;

	healthy_pair(&a, &b, &now, 200, 100, false, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	a.link = b.link = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(n_primary(&a, &b), 2);
	a.link = b.link = true;
	deliver(&a, &b, now); /* B hears A first and yields */
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
	acts = deliver(&b, &a, now); /* A hears B, a backup already */
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert(acts & RED_ACT_REANNOUNCE, "A must announce again after the split");
	/* Once: the next heartbeats change nothing. */
	cr_assert_not(deliver(&b, &a, now + HB) & RED_ACT_REANNOUNCE);
}

Test(red_split, equal_priority_heal_lower_address_keeps_role)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 100, 100, false, false);
	a.link = b.link = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(n_primary(&a, &b), 2);
	a.link = b.link = true;
	run(&a, &b, &now, 2 * HB);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(b.f.role, RED_ROLE_BACKUP);
}

/*
 * The restart race: the old primary (higher priority, lower address)
 * restarts while its peer, now primary, carries the flows; its first
 * heartbeats are lost (the peer was busy), so it comes up alone as
 * primary. When they meet, the box that holds the flows keeps them.
 */
Test(red_split, restarted_box_yields_to_the_primary_that_holds_the_flows)
{
	struct box a, b;
	uint64_t now;

	healthy_pair(&a, &b, &now, 200, 100, true, false);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	a.up = false;
	run(&a, &b, &now, 2 * DEAD);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	cr_assert(b.f.current, "took over with its bulk installed: holds the flows");
	box_init(&a, "A", 0xc0000201, 0xc0000202, 200, true, now);
	a.link = false;
	run(&a, &b, &now, DEAD + 100);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_NO_PEER);
	cr_assert_not(a.f.current, "alone since start: holds nothing the pair agreed on");
	a.link = true;
	run(&a, &b, &now, HB);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY, "priority and preempt do not move the flows");
	cr_assert_eq(a.f.role, RED_ROLE_BACKUP);
	cr_assert_eq(red_fsm_history(&a.f, 0)->reason, RED_R_DUAL_PRIMARY);
	cr_assert_str_eq(red_fsm_history(&a.f, 0)->detail, "the peer holds the flows");
	cr_assert_eq(b.f.n_hist, 2, "B: init -> backup -> primary, nothing since");
	/* A preempts only once it is ready (its bulk installed). */
	run(&a, &b, &now, 5000);
	cr_assert_eq(b.f.role, RED_ROLE_PRIMARY);
	red_fsm_set_ready(&a.f, now, true);
	red_fsm_set_ready(&b.f, now, true);
	run(&a, &b, &now, 2000);
	cr_assert_eq(a.f.role, RED_ROLE_PRIMARY, "ready, higher priority, preempt: takes over");
	cr_assert_eq(n_primary(&a, &b), 1);
}

/* A box in INIT whose channel is up waits for the heartbeat, not only the
 * dead interval; a peer that never sends one is given up on. */
Test(red_start, init_waits_while_the_channel_is_up)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 100 };

	red_fsm_init(&f, &c, 0);
	red_fsm_set_link(&f, 200, true);
	red_fsm_tick(&f, DEAD);
	cr_assert_eq(f.role, RED_ROLE_INIT, "the peer answered: wait for its heartbeat");
	red_fsm_tick(&f, 200 + RED_INIT_LINK_WAIT * DEAD - 1);
	cr_assert_eq(f.role, RED_ROLE_INIT);
	/* Its heartbeat arrives: a primary peer makes us backup. */
	red_fsm_peer_heartbeat(&f, 200 + RED_INIT_LINK_WAIT * DEAD - 1, RED_PEER_PRIMARY, true,
			       RED_ADV_HEALTHY_BASE + 100, "B");
	cr_assert_eq(f.role, RED_ROLE_BACKUP);

	red_fsm_init(&f, &c, 0);
	red_fsm_set_link(&f, 200, true);
	red_fsm_tick(&f, 200 + RED_INIT_LINK_WAIT * DEAD);
	cr_assert_eq(f.role, RED_ROLE_PRIMARY, "a peer that never speaks is given up on");
	cr_assert_eq(red_fsm_history(&f, 0)->reason, RED_R_NO_PEER);

	/* The channel went down again: back to the plain dead interval. */
	red_fsm_init(&f, &c, 0);
	red_fsm_set_link(&f, 200, true);
	red_fsm_set_link(&f, 300, false);
	red_fsm_tick(&f, DEAD);
	cr_assert_eq(f.role, RED_ROLE_PRIMARY);
}

/* Heartbeat punctuality: the longest gap while the peer lived, and how
 * many came later than half the dead interval; a silence past the dead
 * interval is a loss, not counted as lateness. */
Test(red_peer, late_heartbeats_are_counted)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 100 };
	uint64_t t = 10;

	red_fsm_init(&f, &c, 0);
	for (int i = 0; i < 10; i++, t += HB)
		red_fsm_peer_heartbeat(&f, t, RED_PEER_PRIMARY, true, RED_ADV_HEALTHY_BASE, "B");
	cr_assert_eq(f.peer.max_gap_ms, HB);
	cr_assert_eq(f.peer.late, 0);
	t += DEAD / 2; /* one heartbeat DEAD/2 + HB after the last */
	red_fsm_peer_heartbeat(&f, t, RED_PEER_PRIMARY, true, RED_ADV_HEALTHY_BASE, "B");
	cr_assert_eq(f.peer.max_gap_ms, DEAD / 2 + HB);
	cr_assert_eq(f.peer.late, 1);
	cr_assert_eq(f.role, RED_ROLE_BACKUP);
	t += 3 * DEAD; /* lost, then back */
	red_fsm_peer_heartbeat(&f, t, RED_PEER_PRIMARY, true, RED_ADV_HEALTHY_BASE, "B");
	cr_assert_eq(f.peer.late, 1, "a silence past the dead interval is a loss");
	cr_assert_eq(f.peer.max_gap_ms, DEAD / 2 + HB);
}

/* ---- external control (keepalived) ----------------------------------------------------- */

Test(red_external, role_follows_natsyncctl_role_only)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 100, .external = true,
				  .local_addr = 1, .peer_addr = 2 };
	unsigned int acts;
	char err[128];

	red_fsm_init(&f, &c, 0);
	cr_assert_eq(f.role, RED_ROLE_BACKUP);
	red_fsm_tick(&f, 10 * DEAD);
	cr_assert_eq(f.role, RED_ROLE_BACKUP, "no peer is not a reason with external control");
	cr_assert_eq(red_fsm_switchover(&f, 10 * DEAD, false, &acts, err, sizeof(err)), -1);
	cr_assert(strstr(err, "external"), "%s", err);
	cr_assert_eq(red_fsm_set_role(&f, 10 * DEAD, true, &acts, err, sizeof(err)), 0, "%s", err);
	cr_assert(acts & RED_ACT_PRIMARY);
	cr_assert_eq(f.role, RED_ROLE_PRIMARY);
	red_fsm_peer_heartbeat(&f, 10 * DEAD + 1, RED_PEER_PRIMARY, true,
			       RED_ADV_HEALTHY_BASE + 255, "B");
	cr_assert_eq(f.role, RED_ROLE_PRIMARY, "heartbeats do not decide with external control");
	cr_assert_eq(red_fsm_set_role(&f, 10 * DEAD + 2, false, &acts, err, sizeof(err)), 0);
	cr_assert(acts & RED_ACT_BACKUP);
	cr_assert_eq(red_fsm_history(&f, 0)->reason, RED_R_EXTERNAL);
}

Test(red_external, role_refused_in_auto_mode)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 100 };
	unsigned int acts;
	char err[128];

	red_fsm_init(&f, &c, 0);
	cr_assert_eq(red_fsm_set_role(&f, 0, true, &acts, err, sizeof(err)), -1);
	cr_assert_eq(f.role, RED_ROLE_INIT);
}

/* ---- history, names, advertisement --------------------------------------------------------- */

Test(red_misc, history_ring_keeps_newest)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 1, .external = true };
	unsigned int acts;
	char err[64];

	red_fsm_init(&f, &c, 0);
	for (int i = 0; i < 2 * RED_HISTORY; i++)
		red_fsm_set_role(&f, (uint64_t)i + 1, i % 2 == 0, &acts, err, sizeof(err));
	cr_assert_eq(f.n_hist, 2 * RED_HISTORY + 1);
	cr_assert_eq(red_fsm_history(&f, 0)->mono_ms, 2 * RED_HISTORY);
	cr_assert_eq(red_fsm_history(&f, RED_HISTORY - 1)->mono_ms, RED_HISTORY + 1);
	cr_assert_null(red_fsm_history(&f, RED_HISTORY));
}

Test(red_misc, names_and_advertisement)
{
	struct red_fsm f;
	struct red_fsm_conf c = { .dead_ms = DEAD, .priority = 42 };

	for (int r = 0; r < RED_R_MAX; r++)
		cr_assert_str_neq(red_reason_name(r), "unknown", "reason %d has no name", r);
	cr_assert_str_eq(red_reason_name(RED_R_MAX), "unknown");
	cr_assert_str_eq(red_role_name(RED_ROLE_PRIMARY), "primary");
	red_fsm_init(&f, &c, 0);
	cr_assert_eq(red_fsm_advert(&f), RED_ADV_HEALTHY_BASE + 42);
	red_fsm_set_fault(&f, 0, true, "x");
	cr_assert_eq(red_fsm_advert(&f), RED_ADV_FAULT_BASE + 42);
	/* Every faulted advertisement is below every healthy one. */
	cr_assert_lt(RED_ADV_FAULT_BASE + 255, RED_ADV_HEALTHY_BASE + 0);
	red_fsm_shutdown(&f, 0);
	cr_assert_eq(red_fsm_advert(&f), RED_ADV_RELEASE);
}

/* ---- vip.c in a private network namespace (root) ---------------------------------------------- */

static void private_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (network namespace)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up && ip link add nsr-a type veth peer name nsr-b && "
			    "ip link set nsr-a up && ip link set nsr-b up"), 0);
}

static bool has_addr(const char *ifname, const char *ip)
{
	struct ifaddrs *ifa, *i;
	char buf[INET_ADDRSTRLEN];
	bool found = false;

	cr_assert_eq(getifaddrs(&ifa), 0);
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, ifname))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
		found |= !strcmp(buf, ip);
	}
	freeifaddrs(ifa);
	return found;
}

Test(red_vip, address_add_remove_idempotent)
{
	int nl, ifindex;
	uint32_t a = inet_addr("100.64.0.1");

	private_netns();
	nl = vip_nl_open();
	cr_assert_geq(nl, 0);
	ifindex = (int)if_nametoindex("nsr-a");
	cr_assert_eq(vip_addr_change(nl, true, ifindex, a, 10), 0);
	cr_assert_eq(vip_addr_change(nl, true, ifindex, a, 10), 0, "adding twice is fine");
	cr_assert(has_addr("nsr-a", "100.64.0.1"));
	cr_assert_eq(vip_addr_change(nl, false, ifindex, a, 10), 0);
	cr_assert(!has_addr("nsr-a", "100.64.0.1"));
	cr_assert_eq(vip_addr_change(nl, false, ifindex, a, 10), 0, "removing twice is fine");
	cr_assert_lt(vip_addr_change(nl, true, 9999, a, 32), 0, "unknown interface fails");
	close(nl);
}

Test(red_vip, garp_is_a_broadcast_announcement)
{
	struct sockaddr_ll from;
	socklen_t fl = sizeof(from);
	unsigned char buf[128];
	uint32_t a = inet_addr("198.51.100.1");
	struct pollfd p;
	int pfd, rx;
	ssize_t n;

	private_netns();
	rx = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
	cr_assert_geq(rx, 0);
	struct sockaddr_ll bind_to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				       .sll_ifindex = (int)if_nametoindex("nsr-b") };
	cr_assert_eq(bind(rx, (struct sockaddr *)&bind_to, sizeof(bind_to)), 0);
	pfd = vip_arp_open();
	cr_assert_geq(pfd, 0);
	cr_assert_eq(vip_send_garp(pfd, (int)if_nametoindex("nsr-a"), a), 0);
	p.fd = rx;
	p.events = POLLIN;
	cr_assert_eq(poll(&p, 1, 2000), 1, "no ARP arrived on the peer veth");
	n = recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	cr_assert_eq(n, 28);
	cr_assert_eq(from.sll_pkttype, PACKET_BROADCAST);
	cr_assert_eq(buf[6] << 8 | buf[7], ARPOP_REQUEST);
	cr_assert_eq(memcmp(buf + 14, &a, 4), 0, "sender address");
	cr_assert_eq(memcmp(buf + 24, &a, 4), 0, "target address");
	cr_assert_eq(vip_send_garp(pfd, (int)if_nametoindex("lo"), a), -EOPNOTSUPP);
	close(pfd);
	close(rx);
}

Test(red_vip, takeover_release_addresses_and_signal_routes)
{
	static struct ns_redundancy_conf rc;
	struct ns_vip *v;

	private_netns();
	memset(&rc, 0, sizeof(rc));
	rc.n_vips = 2;
	rc.vips[0].addr.s_addr = inet_addr("100.64.0.1");
	rc.vips[0].prefix_len = 10;
	strcpy(rc.vips[0].ifname, "nsr-a");
	rc.vips[1].addr.s_addr = inet_addr("198.51.100.1");
	rc.vips[1].prefix_len = 24;
	strcpy(rc.vips[1].ifname, "nsr-b");
	rc.n_routes = 2;
	rc.routes[0].dst.s_addr = inet_addr("203.0.113.0");
	rc.routes[0].prefix_len = 24;       /* blackhole: a pure signal */
	rc.routes[1].dst.s_addr = inet_addr("203.0.113.128");
	rc.routes[1].prefix_len = 25;
	strcpy(rc.routes[1].ifname, "nsr-b");
	rc.routes[1].metric = 77;
	rc.garp_count = 1;
	v = vip_new(NULL, &rc, "test");
	cr_assert_not_null(v);
	cr_assert_eq(vip_takeover(v), 0);
	cr_assert(has_addr("nsr-a", "100.64.0.1"));
	cr_assert(has_addr("nsr-b", "198.51.100.1"));
	cr_assert_eq(system("ip route show 203.0.113.0/24 | grep -q '^blackhole'"), 0);
	cr_assert_eq(system("ip route show 203.0.113.128/25 | grep -q 'dev nsr-b.*metric 77'"), 0);
	cr_assert_eq(vip_takeover(v), 0, "a second takeover is idempotent");
	cr_assert_eq(vip_release(v), 0);
	cr_assert(!has_addr("nsr-a", "100.64.0.1"));
	cr_assert(!has_addr("nsr-b", "198.51.100.1"));
	cr_assert_neq(system("ip route show 203.0.113.0/24 | grep -q ."), 0);
	cr_assert_neq(system("ip route show 203.0.113.128/25 | grep -q ."), 0);
	cr_assert_eq(vip_release(v), 0, "a second release is idempotent");
	vip_free(v);
}

Test(red_vip, hook_gets_role_and_reason)
{
	static struct ns_redundancy_conf rc;
	char path[] = "/tmp/nsr-hook-XXXXXX", line[256] = "";
	struct ns_vip *v;
	pid_t pid;
	int status, fd;
	FILE *f;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	memset(&rc, 0, sizeof(rc));
	snprintf(rc.hook, sizeof(rc.hook),
		 "echo \"$NATSYNC_NODE $NATSYNC_ROLE $NATSYNC_PREV_ROLE $NATSYNC_REASON $1 $3\" > %s",
		 path);
	v = vip_new(NULL, &rc, "box-a");
	pid = vip_run_hook(v, "primary", "backup", "peer-dead");
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	cr_assert_str_eq(line, "box-a primary backup peer-dead primary peer-dead\n");
	rc.hook[0] = '\0';
	cr_assert_eq(vip_run_hook(v, "backup", "primary", "manual"), 0, "no hook, no process");
	vip_free(v);
}
