/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy.h - redundancy policies (issue 10): which actions a settled change
 * of a redundancy event (monitor.h) triggers, as Junos SRD's
 * "policy-options redundancy-policy NAME { redundancy-events [...]; then
 * {...} }" configures them.
 *
 * A policy triggers when one of its events settles in the state its "when"
 * names (default "down": the event occurred) and stays engaged while any of
 * them is in that state. On the trigger it acts, in this order:
 *   acquire-mastership   a backup asks the primary for the role (refused,
 *                        and said so, when it is not ready or alone)
 *   release-mastership   the box advertises itself faulted while the policy
 *                        is engaged: a primary hands over to a healthy peer,
 *                        a backup does not preempt (with the peer dead it
 *                        still takes the role: better than nobody)
 *   add/delete-signal-route   the redundancy-options signal-routes
 *   delete-static-route, add-static-route   the policy's own routes
 *   hook                 /bin/sh -c, off the loop, killed at hook-timeout-ms
 * Everything is non-blocking (rtnetlink requests are answered inside
 * sendmsg(); the hook is a child reaped through a pidfd).
 */
#ifndef NATSYNC_POLICY_H
#define NATSYNC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ns_loop;
struct ns_monitor;
struct ns_redundancy_conf;
struct ns_srd_policy_conf;
struct ctl_json;

/* What the mastership actions do: redundancy.c's state machine. */
struct policy_ops {
	/* Ask for the role; 0, or -1 with a reason in err. */
	int (*acquire)(void *arg, const char *why, char *err, size_t errlen);
	/* Advertise faulted (on) or healthy again (off) for why. */
	void (*release)(void *arg, bool on, const char *why);
	/* The current role's name, for the hook's environment. */
	const char *(*role)(void *arg);
};

/*
 * policy_triggered - the policies a settled change of event idx (fire:
 * MON_FIRE_DOWN / MON_FIRE_UP) triggers, as a bit mask (bit k: policy k).
 */
uint32_t policy_triggered(const struct ns_redundancy_conf *rc, uint32_t idx, int fire);

/* policy_holds - is one of pc's events settled in the state its "when" names? */
bool policy_holds(const struct ns_srd_policy_conf *pc, const struct ns_monitor *m);

struct ns_policies;

/*
 * policy_new - the policies of rc (kept by pointer), acting through ops.
 * loop may be NULL (tests): then hooks are not reaped nor timed out, and
 * routes are changed all the same (root only). node names this box in the
 * hooks' environment. NULL on allocation failure.
 */
struct ns_policies *policy_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			       const char *node, const struct policy_ops *ops, void *arg);

/* policy_free - forget running hooks (they are not killed), close sockets. */
void policy_free(struct ns_policies *p);

/*
 * policy_on_event - event idx settled (fire) with the events' states in m:
 * run the triggered policies' actions, then release mastership while any
 * release-mastership policy is engaged.
 */
void policy_on_event(struct ns_policies *p, const struct ns_monitor *m, uint32_t idx, int fire);

/* Hooks of policies still running (started, not reaped). */
unsigned int policy_hooks_running(const struct ns_policies *p);

/* "show redundancy" lines (f) or the "policies" array (j). */
void policy_status(const struct ns_policies *p, FILE *f, struct ctl_json *j);

#endif
