/* SPDX-License-Identifier: GPL-2.0 */
/*
 * active.h - the fast path's ACTIVE flag (NS_CFG_F_ACTIVE in the live slot of
 * ns_config): set, the box forwards and creates sessions; clear, it only
 * holds what it was given. One writer for a role change, whoever decides it
 * (redundancy.c with a peer, sync.c without redundancy); the loader keeps
 * the flag as it is when it flips a config bank.
 */
#ifndef NATSYNC_ACTIVE_H
#define NATSYNC_ACTIVE_H

#include <stdbool.h>

struct ns_daemon;

/* Set or clear ACTIVE in d->conf.cfg and in ns_config's live slot (when the
 * map is open). 0 or -errno (the map was not changed then). */
int ns_active_set(struct ns_daemon *d, bool on);

#endif
