/* SPDX-License-Identifier: GPL-2.0 */
/*
 * subscriber.h - natsyncctl show subscriber ADDR: one subscriber as the
 * maps hold it - its sessions, the NAT ports it owns (in use or held), its
 * address-pooling paired address per pool.
 */
#ifndef NATSYNC_SUBSCRIBER_H
#define NATSYNC_SUBSCRIBER_H

struct ns_daemon;
struct ctl_request;
struct ctl_out;

int ns_subscriber_ctl(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg);

#endif
