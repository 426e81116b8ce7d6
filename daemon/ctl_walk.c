// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_walk.c - the state and the slices of a command that walks maps
 * (show sessions, show pools, show subscriber, clear sessions): see
 * control.h's struct ctl_walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static void ctl_walk_free(void *p)
{
	struct ctl_walk *cw = p;

	ns_walk_seq_fini(&cw->q);
	if (cw->fini)
		cw->fini(cw);
	free(cw);
}

void *ctl_walk_new(struct ctl_out *out, const struct ctl_request *req, size_t size,
		   void (*fini)(struct ctl_walk *cw))
{
	struct ctl_walk *cw = calloc(1, size);

	if (!cw) {
		ctl_out_error(out, "out of memory");
		return NULL;
	}
	cw->r = *req;
	cw->fini = fini;
	out->cont = cw;
	out->cont_free = ctl_walk_free;
	return cw;
}

int ctl_walk_step(struct ctl_out *out, struct ctl_walk *cw, const char *what)
{
	int ret = ns_walk_seq_step(&cw->q, out->deadline);

	if (ret < 0)
		return ctl_out_error(out, "%sreading %s: %s", what, cw->q.name, strerror(-ret));
	return ret ? 0 : CTL_MORE;
}
