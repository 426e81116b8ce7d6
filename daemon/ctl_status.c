// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_status.c - "show counters", "show status" and "show config": the daemon's
 * counters, state and configuration as it runs.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include "aging.h"
#include "control.h"
#include "control_int.h"
#include "counters.h"
#include "daemon.h"
#include "frag.h"
#include "loader.h"
#include "mapmem.h"
#include "synhold.h"
#include "util.h"

int ctl_show_counters(struct ns_daemon *d, const struct ctl_request *req,
			 struct ctl_out *out, void *arg)
{
	uint64_t cnt[NS_CNT_MAX];
	int ret;

	(void)req;
	(void)arg;
	ret = ns_counters_read(d->fd.counters, cnt);
	if (ret)
		return ctl_out_error(out, "reading %s: %s", NS_MAP_COUNTERS, strerror(-ret));
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_key(out->j, "counters");
		ctl_json_start_object(out->j);
		for (int i = 0; i < NS_CNT_MAX; i++)
			ctl_json_kv_uint(out->j, ns_counter_name(i), cnt[i]);
		ctl_json_end_object(out->j);
		ctl_json_key(out->j, "daemon");
		ctl_json_start_object(out->j);
		for (size_t i = 0; i < ns_n_daemon_stat_fields; i++)
			ctl_json_kv_uint(out->j, ns_daemon_stat_fields[i].name, ns_daemon_stat_value(&d->st, i));
		ctl_json_end_object(out->j);
		ctl_json_end_object(out->j);
		return 0;
	}
	fprintf(out->f, "fast path (all CPUs)\n");
	for (int i = 0; i < NS_CNT_MAX; i++)
		fprintf(out->f, "  %-22s %llu\n", ns_counter_name(i), (unsigned long long)cnt[i]);
	fprintf(out->f, "daemon\n");
	for (size_t i = 0; i < ns_n_daemon_stat_fields; i++)
		fprintf(out->f, "  %-22s %llu\n", ns_daemon_stat_fields[i].name,
			(unsigned long long)ns_daemon_stat_value(&d->st, i));
	return 0;
}

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

static const char *log_level_name(int l)
{
	return l >= 0 && (size_t)l < NS_ARRAY_SIZE(log_level_names) ? log_level_names[l] : "?";
}

static void redundancy_json(struct ctl_json *j, const struct ns_redundancy_conf *r)
{
	char ip[INET_ADDRSTRLEN];

	ctl_json_key(j, "redundancy");
	ctl_json_start_object(j);
	ctl_json_kv_bool(j, "enabled", r->enabled);
	if (r->enabled) {
		ctl_json_kv_string(j, "local", ns_fmt_ip(r->local_addr.s_addr, ip, sizeof(ip)));
		ctl_json_kv_string(j, "peer", ns_fmt_ip(r->peer_addr.s_addr, ip, sizeof(ip)));
		ctl_json_kv_uint(j, "port", r->port);
		ctl_json_kv_string(j, "device", r->device);
		ctl_json_kv_uint(j, "replication_threshold_s", r->replication_threshold);
		ctl_json_kv_int(j, "priority", r->priority);
		ctl_json_kv_bool(j, "preempt", r->preempt);
	}
	ctl_json_end_object(j);
}

static void redundancy_text(FILE *f, const struct ns_redundancy_conf *r)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (!r->enabled) {
		fprintf(f, "redundancy     disabled\n");
		return;
	}
	fprintf(f, "redundancy     local %s, peer %s port %u%s%s, replication after %u s\n",
		ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)),
		ns_fmt_ip(r->peer_addr.s_addr, b, sizeof(b)), r->port,
		r->device[0] ? " via " : "", r->device, r->replication_threshold);
}

static const char *iface_svc(const struct ns_config *c, const struct ns_iface_conf *i)
{
	const char *n = i->svc >= 0 ? ctl_svc_name(c, (unsigned int)i->svc) : NULL;

	return n ? n : "-";
}

/*
 * What the kernel says is attached on an interface, asked in the daemon's
 * own namespace, so "auto" shows whether native or generic XDP won and a
 * program detached behind our back shows as "none".
 */
static const char *iface_attached(const struct ns_iface_conf *ic)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = NS_TC_HANDLE, .priority = NS_TC_PRIO);
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	int ifindex = (int)if_nametoindex(ic->name);

	if (!ifindex)
		return "missing";
	if (ic->mode == NS_ATTACH_TC) {
		hook.ifindex = ifindex;
		return bpf_tc_query(&hook, &tc) ? "none" : "tc";
	}
	if (bpf_xdp_query(ifindex, 0, &xq))
		return "unknown";
	switch (xq.attach_mode) {
	case XDP_ATTACHED_DRV: return "native";
	case XDP_ATTACHED_SKB: return "generic";
	case XDP_ATTACHED_HW: return "offload";
	case XDP_ATTACHED_MULTI: return "multi";
	default: return "none";
	}
}

/* The config bank the fast path uses now (ns_config's live slot), -1 if
 * the map cannot be read. */
static int config_bank(const struct ns_daemon *d)
{
	struct ns_cfg live;
	uint32_t k = NS_CFG_SLOT_LIVE;

	if (d->fd.config < 0 || bpf_map_lookup_elem(d->fd.config, &k, &live))
		return -1;
	return (int)(live.bank & 1);
}

#define STATUS_MAPS 32

/* Kernel memory of every map (mapmem.h), for show status. */
static void maps_json(struct ctl_json *j, struct ns_daemon *d)
{
	struct ns_map_mem m[STATUS_MAPS];
	long long total;
	int n = ns_map_memory(d, m, STATUS_MAPS, &total);

	ctl_json_key(j, "maps");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "count", (uint64_t)n);
	ctl_json_kv_uint(j, "kernel_bytes", (uint64_t)total);
	ctl_json_kv_uint(j, "bytes_per_session",
			 d->conf.max_sessions ? (uint64_t)total / d->conf.max_sessions : 0);
	ctl_json_key(j, "each");
	ctl_json_start_array(j);
	for (int i = 0; i < n && i < STATUS_MAPS; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", m[i].name);
		ctl_json_kv_uint(j, "max_entries", m[i].max_entries);
		ctl_json_kv_uint(j, "kernel_bytes", (uint64_t)m[i].bytes);
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

static void maps_text(FILE *f, struct ns_daemon *d)
{
	struct ns_map_mem m[STATUS_MAPS];
	long long total;
	int n = ns_map_memory(d, m, STATUS_MAPS, &total);

	fprintf(f, "maps           %d, %.1f MiB kernel memory, %llu B per session at max-sessions %u:",
		n, total / 1048576.0,
		d->conf.max_sessions ? (unsigned long long)total / d->conf.max_sessions : 0ull,
		d->conf.max_sessions);
	for (int i = 0; i < n && i < STATUS_MAPS; i++)
		fprintf(f, " %s %.1f", m[i].name, m[i].bytes / 1048576.0);
	fprintf(f, " (MiB)\n");
}

/* The event loop's stall statistics (loop.h), for show status. */
static void loop_json(struct ctl_json *j, const struct ns_loop *loop)
{
	struct ns_loop_stats st = { 0 };

	if (loop)
		loop_get_stats(loop, &st);
	ctl_json_key(j, "event_loop");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "callbacks", st.callbacks);
	ctl_json_kv_uint(j, "longest_stall_us", st.max_ns / 1000);
	ctl_json_kv_uint(j, "longest_stall_cpu_us", st.max_cpu_ns / 1000);
	ctl_json_kv_string(j, "longest_stall_in", st.max_name);
	ctl_json_key(j, "by_duration");
	ctl_json_start_object(j);
	for (int b = 0; b < NS_LOOP_BUCKETS; b++) {
		char name[32];

		if (b < NS_LOOP_BUCKETS - 1)
			snprintf(name, sizeof(name), "le_%u_us", NS_LOOP_BUCKET_US[b]);
		else
			snprintf(name, sizeof(name), "gt_%u_us", NS_LOOP_BUCKET_US[b - 1]);
		ctl_json_kv_uint(j, name, st.hist[b]);
	}
	ctl_json_end_object(j);
	ctl_json_end_object(j);
}

static void loop_text(FILE *f, const struct ns_loop *loop)
{
	struct ns_loop_stats st = { 0 };

	if (loop)
		loop_get_stats(loop, &st);
	fprintf(f, "event loop     longest stall %llu us (%s, %llu us of CPU) over %llu callbacks; "
		"by duration:", (unsigned long long)(st.max_ns / 1000),
		st.max_name[0] ? st.max_name : "none", (unsigned long long)(st.max_cpu_ns / 1000),
		(unsigned long long)st.callbacks);
	for (int b = 0; b < NS_LOOP_BUCKETS; b++) {
		if (b < NS_LOOP_BUCKETS - 1)
			fprintf(f, " <=%uus %llu", NS_LOOP_BUCKET_US[b], (unsigned long long)st.hist[b]);
		else
			fprintf(f, " >%uus %llu\n", NS_LOOP_BUCKET_US[b - 1],
				(unsigned long long)st.hist[b]);
	}
}

static void status_json(struct ns_daemon *d, struct ctl_json *j, uint64_t up)
{
	const struct ns_config *c = &d->conf;

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "node", c->node_name);
	ctl_json_kv_uint(j, "pid", (uint64_t)getpid());
	ctl_json_kv_uint(j, "abi_version", NS_ABI_VERSION);
	ctl_json_kv_string(j, "config", c->path);
	ctl_json_kv_string(j, "pin_path", c->pin_path);
	ctl_json_kv_string(j, "pin_dir", NS_PIN_SUBDIR);
	ctl_json_kv_uint(j, "uptime_s", up);
	ctl_json_kv_uint(j, "sessions", d->st.sessions_seen);
	ctl_json_kv_uint(j, "nat64_sessions", d->st.nat64_sessions_seen);
	ctl_json_kv_uint(j, "max_sessions", c->max_sessions);
	ctl_json_key(j, "aging");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "interval_ms", c->aging_interval_ms);
	ctl_json_kv_uint(j, "passes", d->st.aging_passes);
	ctl_json_kv_uint(j, "last_pass_us", d->st.aging_last_ns / 1000);
	ctl_json_kv_uint(j, "sessions_expired", d->st.sessions_expired);
	ctl_json_kv_uint(j, "bindings_live", d->st.bindings_live);
	ctl_json_kv_uint(j, "bindings_released", d->st.bindings_released);
	ctl_json_kv_string(j, "engine", ns_aging_engine(d));
	ctl_json_kv_string(j, "fallback", ns_aging_fallback(d) ? ns_aging_fallback(d) : "");
	ctl_json_kv_uint(j, "deferred", d->st.aging_deferred);
	ctl_json_kv_uint(j, "slice_entries", ns_aging_slice(d));
	ctl_json_kv_uint(j, "slices", d->st.aging_slices);
	ctl_json_kv_uint(j, "slice_max_us", d->st.aging_slice_max_ns / 1000);
	ctl_json_kv_uint(j, "slice_restarts", d->st.aging_slice_restarts);
	ctl_json_kv_uint(j, "unsliced_walks", d->st.aging_unsliced_walks);
	ctl_json_end_object(j);
	loop_json(j, d->loop);
	maps_json(j, d);
	ns_frag_status_json(d, j);
	ns_synhold_status_json(d, j);
	ctl_json_kv_uint(j, "events_logged", d->st.events_logged);
	ctl_json_kv_uint(j, "reloads", d->st.reloads);
	ctl_json_kv_uint(j, "reload_failures", d->st.reload_failures);
	ctl_json_kv_uint(j, "reloads_deferred", d->st.reloads_deferred);
	ctl_json_kv_int(j, "loop_nice", d->loop_nice);
	ctl_json_kv_int(j, "loop_nice_configured", d->conf.loop_nice);
	ctl_json_kv_int(j, "aging_cpu", d->aging_cpu);
	ctl_json_kv_int(j, "config_bank", config_bank(d));
	ctl_json_kv_uint(j, "config_flips", d->cfg_flips);
	redundancy_json(j, &c->red);
	ctl_json_key(j, "interfaces");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_ifaces && i < NS_MAX_IFACES; i++) {
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", c->ifaces[i].name);
		ctl_json_kv_string(j, "side", ctl_side_name((uint8_t)c->ifaces[i].side));
		ctl_json_kv_string(j, "svc", iface_svc(c, &c->ifaces[i]));
		ctl_json_kv_string(j, "attach_mode", ctl_attach_mode_name(c->ifaces[i].mode));
		ctl_json_kv_string(j, "attached", iface_attached(&c->ifaces[i]));
		ctl_json_end_object(j);
	}
	ctl_json_end_array(j);
	ctl_json_end_object(j);
}

static void status_text(struct ns_daemon *d, FILE *f, uint64_t up)
{
	const struct ns_config *c = &d->conf;

	fprintf(f, "node           %s\n", c->node_name);
	fprintf(f, "pid            %d\n", (int)getpid());
	fprintf(f, "config         %s\n", c->path);
	fprintf(f, "pin path       %s/%s\n", c->pin_path, NS_PIN_SUBDIR);
	fprintf(f, "uptime         %llud %02llu:%02llu:%02llu\n",
		(unsigned long long)(up / 86400), (unsigned long long)(up / 3600 % 24),
		(unsigned long long)(up / 60 % 60), (unsigned long long)(up % 60));
	fprintf(f, "sessions       %llu (at the last aging pass; max %u)\n",
		(unsigned long long)d->st.sessions_seen, c->max_sessions);
	if (c->n_nat64)
		fprintf(f, "nat64 sessions %llu (at the last aging pass)\n",
			(unsigned long long)d->st.nat64_sessions_seen);
	fprintf(f, "aging          every %u ms: %llu passes, last took %llu us, %llu sessions expired\n",
		c->aging_interval_ms, (unsigned long long)d->st.aging_passes,
		(unsigned long long)(d->st.aging_last_ns / 1000),
		(unsigned long long)d->st.sessions_expired);
	if (ns_aging_fallback(d))
		fprintf(f, "aging engine   batch walk: FALLBACK (%s)\n", ns_aging_fallback(d));
	else
		fprintf(f, "aging engine   in-kernel sweep (%llu records deferred)\n"
			"aging slices   %llu in the last cycle (%u entries at least, 0: unsliced), longest %llu us; "
			"%llu restarts, %llu unsliced walks\n",
			(unsigned long long)d->st.aging_deferred,
			(unsigned long long)d->st.aging_slices, ns_aging_slice(d),
			(unsigned long long)(d->st.aging_slice_max_ns / 1000),
			(unsigned long long)d->st.aging_slice_restarts,
			(unsigned long long)d->st.aging_unsliced_walks);
	loop_text(f, d->loop);
	maps_text(f, d);
	fprintf(f, "bindings       %llu live, %llu released\n",
		(unsigned long long)d->st.bindings_live, (unsigned long long)d->st.bindings_released);
	ns_frag_status_text(d, f);
	ns_synhold_status_text(d, f);
	fprintf(f, "events logged  %llu\n", (unsigned long long)d->st.events_logged);
	fprintf(f, "reloads        %llu (%llu failed, %llu deferred)\n",
		(unsigned long long)d->st.reloads, (unsigned long long)d->st.reload_failures,
		(unsigned long long)d->st.reloads_deferred);
	fprintf(f, "scheduling     event loop nice %d (configured %d), background threads nice %d",
		d->loop_nice, d->conf.loop_nice, NS_BG_NICE);
	if (d->aging_cpu >= 0)
		fprintf(f, "; aging walks on CPU %d, the event loop off it\n", d->aging_cpu);
	else
		fprintf(f, "; aging walks share the event loop's CPUs\n");
	fprintf(f, "config bank    %d in force (%llu flips)\n", config_bank(d),
		(unsigned long long)d->cfg_flips);
	redundancy_text(f, &c->red);
	fprintf(f, "interfaces\n");
	for (uint32_t i = 0; i < c->n_ifaces && i < NS_MAX_IFACES; i++)
		fprintf(f, "  %-16s %-8s svc %-16s mode %-8s attached %s\n", c->ifaces[i].name,
			ctl_side_name((uint8_t)c->ifaces[i].side), iface_svc(c, &c->ifaces[i]),
			ctl_attach_mode_name(c->ifaces[i].mode), iface_attached(&c->ifaces[i]));
}

int ctl_show_status(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg)
{
	uint64_t up = ctl_secs_between(d->started_ns, ns_now());

	(void)req;
	(void)arg;
	if (out->j)
		status_json(d, out->j, up);
	else
		status_text(d, out->f, up);
	return 0;
}

static const struct {
	const char *name;
	size_t off;
} timeout_fields[] = {
#define TO(f, n) { n, offsetof(struct ns_timeouts, f) }
	TO(tcp_syn, "tcp-syn"),     TO(tcp_established, "tcp-established"),
	TO(tcp_closing, "tcp-closing"), TO(tcp_time_wait, "tcp-time-wait"),
	TO(tcp_rst, "tcp-rst"),     TO(udp, "udp"),
	TO(icmp, "icmp"),           TO(other, "other"),
	TO(port_hold, "port-hold"), TO(binding, "binding"),
#undef TO
};

static uint32_t timeout_value(const struct ns_timeouts *t, size_t i)
{
	uint32_t v;

	memcpy(&v, (const char *)t + timeout_fields[i].off, sizeof(v));
	return v;
}

static void config_svc_json(struct ctl_json *j, const struct ns_config *c, uint32_t i)
{
	const struct ns_svc *s = &c->svcs[i];

	ctl_json_start_object(j);
	ctl_json_kv_string(j, "name", c->svc_conf[i].name);
	ctl_json_kv_string(j, "inside", c->svc_conf[i].inside);
	ctl_json_kv_string(j, "outside", c->svc_conf[i].outside);
	ctl_json_kv_uint(j, "firewall_terms", s->fw_count);
	ctl_json_kv_uint(j, "nat_terms", s->nat_count);
	ctl_json_kv_bool(j, "session_logs", s->flags & NS_SVC_F_SYSLOG_SESSION);
	ctl_json_kv_bool(j, "nat_logs", s->flags & NS_SVC_F_SYSLOG_NAT);
	ctl_json_kv_bool(j, "replicate", c->svc_conf[i].replicate);
	ctl_json_end_object(j);
}

/* A stateful-nat64 term: "2001:db8:64::/48 -> 64:ff9b::/96 pool p64". */
static void nat64_term_strs(const struct ns_nat64_term *t, char *src, char *pref, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, t->src6, a, sizeof(a));
	snprintf(src, len, "%s/%u", a, t->src6_len);
	inet_ntop(AF_INET6, t->pref64, a, sizeof(a));
	snprintf(pref, len, "%s/%u", a, t->pref_len);
}

/* RFC 4787 mapping/filtering behaviour, as the config names it */
static const char *nat64_eim_name(unsigned int eim)
{
	return eim ? "endpoint-independent" : "address-and-port-dependent";
}

static void nat64_term_json(struct ctl_json *j, const struct ns_config *c,
			    const struct ns_nat64_term *t)
{
	char src[64], pref[64];

	nat64_term_strs(t, src, pref, sizeof(src));
	ctl_json_start_object(j);
	ctl_json_name(j, "rule", t->rule_idx < c->n_nat_rules ? c->nat_rule_names[t->rule_idx] : NULL);
	ctl_json_name(j, "svc", ctl_svc_name(c, t->svc_set));
	ctl_json_kv_string(j, "source", src);
	ctl_json_kv_string(j, "pref64", pref);
	ctl_json_name(j, "pool", ctl_pool_name(c, t->src_pool));
	ctl_json_kv_string(j, "mapping", nat64_eim_name(t->flags & NS_NAT_F_EIM));
	ctl_json_kv_string(j, "filtering", nat64_eim_name(t->flags & NS_NAT_F_EIF));
	ctl_json_end_object(j);
}

static void config_json(const struct ns_config *c, struct ctl_json *j)
{
	char fp[20];

	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)ns_config_fingerprint(c));
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "path", c->path);
	ctl_json_kv_string(j, "fingerprint", fp);
	ctl_json_kv_string(j, "node", c->node_name);
	ctl_json_kv_string(j, "pin_path", c->pin_path);
	ctl_json_kv_string(j, "control_socket", c->control_socket);
	ctl_json_kv_string(j, "log_level", log_level_name(c->log_level));
	ctl_json_kv_string(j, "log_file", c->log_file);
	ctl_json_kv_bool(j, "log_syslog", c->log_syslog);
	ctl_json_kv_uint(j, "max_sessions", c->max_sessions);
	ctl_json_kv_uint(j, "aging_interval_ms", c->aging_interval_ms);
	ctl_json_kv_string(j, "attach_mode", ctl_attach_mode_name(c->attach_mode));
	ctl_json_key(j, "timeouts_s");
	ctl_json_start_object(j);
	for (size_t i = 0; i < NS_ARRAY_SIZE(timeout_fields); i++)
		ctl_json_kv_uint(j, timeout_fields[i].name, timeout_value(&c->timeouts, i));
	ctl_json_end_object(j);
	ctl_json_key(j, "pools");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++)
		ctl_json_string(j, c->pool_names[i]);
	ctl_json_end_array(j);
	ctl_json_key(j, "service_sets");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_svcs && i < NS_MAX_SVC_SETS; i++)
		config_svc_json(j, c, i);
	ctl_json_end_array(j);
	ctl_json_kv_uint(j, "firewall_terms", c->n_fw);
	ctl_json_kv_uint(j, "nat_terms", c->n_nat);
	ctl_json_key(j, "nat64_terms");
	ctl_json_start_array(j);
	for (uint32_t i = 0; i < c->n_nat64 && i < NS_MAX_NAT64_TERMS; i++)
		nat64_term_json(j, c, &c->nat64[i]);
	ctl_json_end_array(j);
	redundancy_json(j, &c->red);
	ctl_json_end_object(j);
}

static void config_text(const struct ns_config *c, FILE *f)
{
	fprintf(f, "config         %s (fingerprint %016llx)\n", c->path,
		(unsigned long long)ns_config_fingerprint(c));
	fprintf(f, "node           %s\n", c->node_name);
	fprintf(f, "pin path       %s\n", c->pin_path);
	fprintf(f, "control socket %s\n", c->control_socket);
	fprintf(f, "log            level %s, file %s, syslog %s\n", log_level_name(c->log_level),
		c->log_file[0] ? c->log_file : "-", c->log_syslog ? "yes" : "no");
	fprintf(f, "max sessions   %u\n", c->max_sessions);
	fprintf(f, "aging          every %u ms\n", c->aging_interval_ms);
	fprintf(f, "attach mode    %s\n", ctl_attach_mode_name(c->attach_mode));
	fprintf(f, "timeouts (s)  ");
	for (size_t i = 0; i < NS_ARRAY_SIZE(timeout_fields); i++)
		fprintf(f, " %s %u", timeout_fields[i].name, timeout_value(&c->timeouts, i));
	fprintf(f, "\npools          %u:", c->n_pools);
	for (uint32_t i = 0; i < c->n_pools && i < NS_MAX_POOLS; i++)
		fprintf(f, " %s", c->pool_names[i]);
	fprintf(f, "\nservice sets   %u (%u firewall terms, %u NAT terms in all)\n", c->n_svcs,
		c->n_fw, c->n_nat);
	for (uint32_t i = 0; i < c->n_svcs && i < NS_MAX_SVC_SETS; i++)
		fprintf(f, "  %-16s inside %-10s outside %-10s fw %u, nat %u%s%s%s\n",
			c->svc_conf[i].name, c->svc_conf[i].inside, c->svc_conf[i].outside,
			c->svcs[i].fw_count, c->svcs[i].nat_count,
			c->svcs[i].flags & NS_SVC_F_SYSLOG_SESSION ? ", session-logs" : "",
			c->svcs[i].flags & NS_SVC_F_SYSLOG_NAT ? ", nat-logs" : "",
			c->svc_conf[i].replicate ? "" : ", no replication");
	for (uint32_t i = 0; i < c->n_nat64 && i < NS_MAX_NAT64_TERMS; i++) {
		const struct ns_nat64_term *t = &c->nat64[i];
		const char *pool = ctl_pool_name(c, t->src_pool), *svc = ctl_svc_name(c, t->svc_set);
		char src[64], pref[64];

		nat64_term_strs(t, src, pref, sizeof(src));
		fprintf(f, "nat64          %s -> %s, pool %s, service set %s%s%s\n", src, pref,
			pool ? pool : "?", svc ? svc : "?",
			t->flags & NS_NAT_F_EIM ? ", mapping endpoint-independent" : "",
			t->flags & NS_NAT_F_EIF ? ", filtering endpoint-independent" : "");
	}
	redundancy_text(f, &c->red);
}

int ctl_show_config(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		       void *arg)
{
	(void)req;
	(void)arg;
	if (out->j)
		config_json(&d->conf, out->j);
	else
		config_text(&d->conf, out->f);
	return 0;
}
