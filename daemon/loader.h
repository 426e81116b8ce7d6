/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loader.h - natsyncd's side of the BPF object: open the skeleton, size and
 * pin the maps (adopting maps a previous instance pinned, which is how
 * sessions survive a restart), load, write the compiled config into the
 * maps, attach XDP (libxdp) or TC ingress (clsact via bpf_tc_hook_*) on every
 * configured interface, and undo exactly what it did. See doc/daemon.md.
 */
#ifndef NATSYNC_LOADER_H
#define NATSYNC_LOADER_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "daemon.h"

struct bpf_object;

/* Our TC filter on clsact ingress: fixed so a restart can replace it. */
#define NS_TC_HANDLE 0x4e53 /* "NS" */
#define NS_TC_PRIO 0x4e53

/*
 * ns_loader_load - open the skeleton, set the session-sized maps to
 * conf.max_sessions, pin every ns_* map at <pin-path>/v4/<name> (reusing a
 * compatible pinned map), load the programs and fill d->fd. Checks first
 * that every configured interface exists, so a bad environment pins
 * nothing. Returns 0 or -errno (message logged); on error nothing is left
 * open (pins created by an earlier instance stay).
 */
int ns_loader_load(struct ns_daemon *d);

/*
 * ns_loader_check_tail_calls - 0 when both NAT64 fragment programs are in
 * their program arrays (bpf/frag.h) of the loaded @obj, else -ENOENT with
 * the error logged. ns_loader_load() refuses to start without them.
 */
int ns_loader_check_tail_calls(struct bpf_object *obj);

/*
 * ns_loader_write_config - put config c in force, atomically for the fast
 * path: ns_loader_stage_config() then ns_loader_commit_config(). On error
 * the config in force before the call is still in force, whole.
 * Returns 0 or -errno.
 */
int ns_loader_write_config(struct ns_daemon *d, const struct ns_config *c);

/*
 * ns_loader_stage_config - write the compiled images of c (pools, service
 * sets, firewall and NAT terms, the bank's global knobs) into the config
 * bank NOT in force (NS_CFG_BANKS in common/natsync.h); entries beyond c's
 * counts are cleared. Traffic does not see any of it yet. Never waits:
 * while a packet may still be reading that bank from before the last flip
 * (ns_loader_quiesce_left_ns() > 0) it writes nothing and returns -EAGAIN.
 * *bank: the bank written. Returns 0 or -errno.
 */
int ns_loader_stage_config(struct ns_daemon *d, const struct ns_config *c, uint32_t *bank);

/*
 * ns_loader_quiesce_left_ns - how long the bank not in force may still be
 * read by packets from before the last flip (0: it may be rewritten now).
 */
uint64_t ns_loader_quiesce_left_ns(const struct ns_daemon *d);

/*
 * ns_loader_commit_config - write the interfaces and the devmap, then flip
 * ns_config's live slot to @bank with one map update: from the next packet
 * on, the fast path uses the staged config. Sets the role (ACTIVE) as at
 * start when sync does not run yet, else keeps it. Returns 0 or -errno.
 */
int ns_loader_commit_config(struct ns_daemon *d, const struct ns_config *c, uint32_t bank);

/*
 * ns_loader_attach - attach on every configured interface: XDP through
 * libxdp in the configured mode (auto = native, else generic), or TC ingress
 * for mode tc. A natsync program left attached by an earlier instance is
 * replaced; another program's attachment is never touched (error).
 * Returns 0 or -errno; on error whatever was attached is detached again.
 */
int ns_loader_attach(struct ns_daemon *d);

/* The fd of the loaded TC program (attached or not: the object is loaded
 * whole in every attach mode), or -1. */
int ns_loader_tc_fd(const struct ns_daemon *d);

/* Detach everything ns_loader_attach() attached (only that). */
void ns_loader_detach(struct ns_daemon *d);

/* Close the maps and programs (pins stay) and free d->ld. */
void ns_loader_close(struct ns_daemon *d);

/*
 * ns_loader_purge - for `natsyncd --purge`: detach natsync programs left on
 * c's interfaces (XDP by program name, TC by our handle/priority) and remove
 * <pin-path>/v4 with every pin in it. Returns 0 or -errno.
 */
int ns_loader_purge(const struct ns_config *c);

/*
 * ns_loader_purge_plan - print to out what ns_loader_purge(c) would drop:
 * every pin in <pin-path>/v4 (entries of the hash maps: sessions, bindings)
 * and the XDP program on each configured interface. Changes nothing.
 */
void ns_loader_purge_plan(const struct ns_config *c, FILE *out);

/*
 * ns_loader_pin_dir - "<pin-path>/v4" into dir. With create, also make it
 * as a start does (the directories, a bpffs mounted where none is): the
 * instance lock (pinlock.h) is taken on that directory before anything
 * else. Returns 0 or -errno (logged).
 */
int ns_loader_pin_dir(const char *pin_path, char *dir, size_t len, bool create);

/*
 * ns_loader_open_pinned - open the pinned maps of an instance (for tools and
 * tests); missing maps are left at -1. Returns 0 if at least ns_sessions
 * was found, else -errno. Close with ns_loader_close_fds().
 */
int ns_loader_open_pinned(const char *pin_path, struct ns_map_fds *fd);

/* Close every fd >= 0 in fd and set it to -1. */
void ns_loader_close_fds(struct ns_map_fds *fd);

/* Set every fd in fd to -1. */
void ns_loader_init_fds(struct ns_map_fds *fd);

#endif
