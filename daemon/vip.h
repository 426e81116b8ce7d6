/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vip.h - the switchover actions that touch the host: virtual addresses
 * (rtnetlink), gratuitous ARP (AF_PACKET), signal routes (rtnetlink) and
 * hook commands (posix_spawn, reaped through a pidfd on the event loop).
 *
 * Nothing here blocks: rtnetlink requests are answered by the kernel
 * inside sendmsg(), the ARP burst is paced by a timerfd, and hooks run as
 * child processes the loop reaps. Every operation is idempotent (adding an
 * address that is there, deleting one that is not, is success), so a
 * restarted daemon can always put the host into the state its role needs.
 */
#ifndef NATSYNC_VIP_H
#define NATSYNC_VIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct ns_loop;
struct ns_vip;

#define VIP_GARP_COUNT_DEFAULT 5
#define VIP_GARP_INTERVAL_DEFAULT_MS 200
#define VIP_MAX_HOOKS 8          /* hook processes running at once */

/*
 * vip_new - actions for the addresses, routes and hook of rc (kept by
 * pointer: a reload that rewrites *rc is seen by the next action). loop may
 * be NULL (tests): then no ARP repeats and no hook reaping. node names this
 * box in the hook environment. Returns NULL on allocation failure.
 */
struct ns_vip *vip_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
		       const char *node);

/* vip_free - stop the ARP burst, forget running hooks (they are not killed). */
void vip_free(struct ns_vip *v);

/*
 * vip_takeover - add every virtual address, announce each with a burst of
 * gratuitous ARPs (garp_count, garp_interval_ms apart) and add every signal
 * route. Continues past failures; returns 0, or the first -errno.
 */
int vip_takeover(struct ns_vip *v);

/*
 * vip_release - remove the signal routes and the virtual addresses and
 * stop a running ARP burst. Continues past failures; 0 or the first -errno.
 */
int vip_release(struct ns_vip *v);

/*
 * vip_run_hook - run rc->hook (if set) with /bin/sh -c, environment
 * NATSYNC_ROLE=role, NATSYNC_PREV_ROLE=prev, NATSYNC_REASON=reason,
 * NATSYNC_NODE=node, and the same three words as $1 $2 $3. Returns the
 * child's pid, 0 when no hook is configured, or -errno.
 */
pid_t vip_run_hook(struct ns_vip *v, const char *role, const char *prev, const char *reason);

/*
 * vip_spawn_shell - start /bin/sh -c cmd (argv[0] of the script
 * "natsync-hook", then args[0..nargs) as $1...; nargs <= 3) with our
 * environment minus NATSYNC_* plus vars[0..nvars) ("NAME=value"). Does not
 * wait: the caller reaps the child. Returns its pid or -errno.
 */
pid_t vip_spawn_shell(const char *cmd, char *const *vars, size_t nvars, char *const *args,
		      size_t nargs);

/* Hooks started and not yet reaped. */
unsigned int vip_hooks_running(const struct ns_vip *v);

/* ---- building blocks (also used by the unit tests) ------------------------- */

/* A NETLINK_ROUTE socket for requests (non-blocking, close-on-exec); fd or -errno. */
int vip_nl_open(void);

/* Add (replace) or delete addr_be/plen on ifindex. Idempotent; 0 or -errno. */
int vip_addr_change(int nlfd, bool add, int ifindex, uint32_t addr_be, uint8_t plen);

/* Add (replace) or delete a signal route. Idempotent; 0 or -errno. */
int vip_route_change(int nlfd, bool add, const struct ns_red_route *r);

/* An AF_PACKET socket for ARP (non-blocking); fd or -errno. */
int vip_arp_open(void);

/*
 * Send one gratuitous ARP request for addr_be out of ifindex (sender and
 * target address both addr_be, sender MAC the interface's, to broadcast).
 * Returns 0, -EOPNOTSUPP for an interface without an Ethernet address, or
 * -errno.
 */
int vip_send_garp(int pfd, int ifindex, uint32_t addr_be);

#endif
