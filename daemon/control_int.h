/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control_int.h - what the control server (control.c) shares with its
 * built-in commands: show sessions (ctl_sessions.c), show pools
 * (ctl_pools.c), show counters/status/config (ctl_status.c), and the
 * formatting helpers they have in common (ctl_fmt.c). Other modules answer
 * commands through control.h's ns_control_set_handler().
 */
#ifndef NATSYNC_CONTROL_INT_H
#define NATSYNC_CONTROL_INT_H

#include <stdint.h>

#include "control.h"

struct ns_config;

/* The built-in handlers (ns_ctl_handler), registered by ns_control_open(). */
int ctl_show_sessions(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg);
int ctl_show_pools(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		   void *arg);
int ctl_show_counters(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg);
int ctl_show_status(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		    void *arg);
int ctl_show_config(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		    void *arg);

/* The name of service set / pool idx, NULL when the config has none. */
const char *ctl_svc_name(const struct ns_config *c, unsigned int idx);
const char *ctl_pool_name(const struct ns_config *c, unsigned int idx);

/* key: a name, or null when the index is not in the config (e.g. pool 0xff). */
void ctl_json_name(struct ctl_json *j, const char *key, const char *name);

#endif
