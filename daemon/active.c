// SPDX-License-Identifier: GPL-2.0
/* active.c - the fast path's ACTIVE flag (see active.h). */
#include <errno.h>

#include <bpf/bpf.h>

#include "active.h"
#include "daemon.h"

int ns_active_set(struct ns_daemon *d, bool on)
{
	uint32_t k = NS_CFG_SLOT_LIVE;
	struct ns_cfg cfg;

	if (on)
		d->conf.cfg.flags |= NS_CFG_F_ACTIVE;
	else
		d->conf.cfg.flags &= ~NS_CFG_F_ACTIVE;
	if (d->fd.config < 0)
		return 0;
	if (bpf_map_lookup_elem(d->fd.config, &k, &cfg))
		return -errno;
	if (on)
		cfg.flags |= NS_CFG_F_ACTIVE;
	else
		cfg.flags &= ~NS_CFG_F_ACTIVE;
	return bpf_map_update_elem(d->fd.config, &k, &cfg, BPF_ANY) ? -errno : 0;
}
