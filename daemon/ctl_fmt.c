// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_fmt.c - formatting helpers shared by the control commands (control_int.h).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "control.h"
#include "control_int.h"
#include "daemon.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000ull

const char *ctl_fmt_ep(uint32_t be_addr, uint16_t be_port, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s:%u", ns_fmt_ip(be_addr, ip, sizeof(ip)), ntohs(be_port));
	return buf;
}

void ctl_json_ep(struct ctl_json *j, const char *key, uint32_t be_addr, uint16_t be_port)
{
	char ip[INET_ADDRSTRLEN];

	ctl_json_key(j, key);
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "addr", ns_fmt_ip(be_addr, ip, sizeof(ip)));
	ctl_json_kv_uint(j, "port", ntohs(be_port));
	ctl_json_end_object(j);
}

const char *ctl_svc_name(const struct ns_config *c, unsigned int idx)
{
	if (idx < c->n_svcs && idx < NS_MAX_SVC_SETS)
		return c->svc_conf[idx].name;
	return NULL;
}

const char *ctl_pool_name(const struct ns_config *c, unsigned int idx)
{
	if (idx < c->n_pools && idx < NS_MAX_POOLS)
		return c->pool_names[idx];
	return NULL;
}

/* A name, or null when the index is not in the config (e.g. pool 0xff). */
void ctl_json_name(struct ctl_json *j, const char *key, const char *name)
{
	ctl_json_key(j, key);
	if (name)
		ctl_json_string(j, name);
	else
		ctl_json_null(j);
}

uint64_t ctl_secs_between(uint64_t from, uint64_t to)
{
	return to > from ? (to - from) / NSEC_PER_SEC : 0;
}

