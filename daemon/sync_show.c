// SPDX-License-Identifier: GPL-2.0
/*
 * sync_show.c - "natsyncctl show sync": the channel, the walk, the bulk and
 * the counters, as text and JSON.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "active.h"
#include "daemon.h"
#include "log.h"
#include "redundancy.h"
#include "sync.h"
#include "sync_wire.h"
#include "util.h"
#include "sync_int.h"

/* ---- show sync ---------------------------------------------------------- */

/* Data frames sent that the backup has not acknowledged as installed. */
uint32_t sy_lag_frames(const struct sync_conn *c)
{
	int32_t d = (int32_t)(c->data_seq - c->acked);

	return d > 0 ? (uint32_t)d : 0;
}

static void show_text(struct ns_sync *s, FILE *f)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	const struct sync_stats *t = &s->st;
	struct sync_conn *c = s->active;
	char a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
	uint64_t now = ns_now();

	fprintf(f, "Sync:         %s, role %s, fingerprint %016llx\n", s->d->conf.node_name,
		sy_role_name(s->primary), (unsigned long long)s->fingerprint);
	fprintf(f, "Channel:      %s:%u -> %s:%u%s%s, threshold %u s, %s\n",
		ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)), r->port,
		ns_fmt_ip(r->peer_addr.s_addr, p, sizeof(p)), r->port,
		r->device[0] ? " dev " : "", r->device, r->replication_threshold,
		s->encrypt ? "authenticated, encrypted (ChaCha20-Poly1305)" :
		s->psk_len ? "authenticated, not encrypted" : "not authenticated");
	if (c)
		fprintf(f, "Peer:         %s, role %s, %s, up %llu s, ready %s, %s\n", c->peer.name,
			sy_role_name(c->peer.role == NSW_ROLE_PRIMARY), sy_state_name(c->st),
			(unsigned long long)((now - c->opened_ns) / 1000000000ull),
			sync_backup_ready(s->d) ? "yes" : "no",
			c->enc ? "encrypted" : c->auth ? "authenticated" : "clear");
	else
		fprintf(f, "Peer:         not connected%s\n", s->lfd < 0 ? " (not listening)" : "");
	if (s->primary)
		fprintf(f, "Bulk:         %s, epoch %u, %u sent (expected %u)\n",
			s->bulk_running ? "running" : s->bulk_pending ? "pending" :
			s->peer_ready ? "acknowledged" : "idle",
			s->bulk_epoch, s->bulk_count, s->bulk_expected);
	else
		fprintf(f, "Bulk:         %s, epoch %u, %u received (expected %u)\n",
			s->bulk_rx_running ? "receiving" : s->sweeping ? "sweeping" :
			s->ready ? "complete" : "waiting",
			s->bulk_rx_epoch, s->bulk_rx_count, s->bulk_rx_expected);
	fprintf(f, "Tracked:      %zu sessions %s\n", sy_tracked(s),
		s->primary ? "replicated to the peer" : "installed from the peer");
	fprintf(f, "Sent:         %llu add, %llu update, %llu delete (%llu by clear sessions), "
		"%llu bulks, %llu frames, %llu bytes\n",
		(unsigned long long)t->adds_tx, (unsigned long long)t->updates_tx,
		(unsigned long long)t->dels_tx, (unsigned long long)t->clear_dels,
		(unsigned long long)t->bulks_tx,
		(unsigned long long)t->frames_tx, (unsigned long long)t->bytes_tx);
	fprintf(f, "Received:     %llu records, %llu installed, %llu install failures, %llu deletes "
		"(%llu applied), %llu stale removed, %llu frames, %llu bytes\n",
		(unsigned long long)t->records_rx, (unsigned long long)t->installed,
		(unsigned long long)t->install_fail, (unsigned long long)t->dels_rx,
		(unsigned long long)t->dels_applied, (unsigned long long)t->stale_removed,
		(unsigned long long)t->frames_rx, (unsigned long long)t->bytes_rx);
	fprintf(f, "Held ports:   %llu sent, %llu not sent, %llu received, %llu installed, "
		"%llu install failures\n", (unsigned long long)s->hold.sent,
		(unsigned long long)s->hold.dropped, (unsigned long long)s->hold.received,
		(unsigned long long)s->hold.installed, (unsigned long long)s->hold.install_fail);
	if (c && s->primary)
		fprintf(f, "Lag:          %u frames (data seq %u, acked %u), queued %zu + %zu bytes, "
			"peer install failures %u\n", sy_lag_frames(c), c->data_seq, c->acked,
			sy_q_len(&c->hi), sy_q_len(&c->lo), s->peer_install_fail);
	if (s->lat.measured || s->lat.unmeasured)
		fprintf(f, "Latency:      %llu new sessions acked by the peer after they were due: "
			"p50 <= %.1f ms, p99 <= %.1f ms, max %.1f ms, %llu over %llu ms, "
			"%llu not measured\n", (unsigned long long)s->lat.measured,
			sy_lat_quantile_ns(&s->lat, 0.50) / 1e6,
			sy_lat_quantile_ns(&s->lat, 0.99) / 1e6, s->lat.max_ns / 1e6,
			(unsigned long long)s->lat.over,
			(unsigned long long)(SYNC_LAT_BUCKETS * SYNC_LAT_BUCKET_NS / SYNC_NS_PER_MS),
			(unsigned long long)s->lat.unmeasured);
	fprintf(f, "Errors:       connect %llu, refused sent %llu, refused received %llu, "
		"protocol %llu, auth %llu, replayed %llu, sequence gaps %llu, truncated %llu, "
		"dead peer %llu, rejected %llu, backpressure %llu, deletes deferred %llu, "
		"walk errors %llu\n",
		(unsigned long long)t->connect_fail, (unsigned long long)t->refused_sent,
		(unsigned long long)t->refused_recv, (unsigned long long)t->proto_errors,
		(unsigned long long)t->auth_fail, (unsigned long long)t->seq_replays,
		(unsigned long long)t->seq_gaps, (unsigned long long)t->truncated,
		(unsigned long long)t->dead_peer, (unsigned long long)t->accept_rejected,
		(unsigned long long)t->backpressure, (unsigned long long)t->dels_deferred,
		(unsigned long long)t->walk_errors);
	fprintf(f, "Queues:       most queued %llu bytes (bounds %u + %u), %llu control frames "
		"not queued (full)\n", (unsigned long long)t->queued_max, SYNC_HI_CAP,
		SYNC_LO_CAP, (unsigned long long)t->hi_full);
	fprintf(f, "Loop:         %llu steps, longest %llu.%03llu ms (%s; most CPU %llu.%03llu ms), "
		"%llu over %llu ms, %llu input yields, %llu window waits, redundancy handler "
		"longest %llu ms\n",
		(unsigned long long)t->steps, (unsigned long long)(t->step_max_ns / SYNC_NS_PER_MS),
		(unsigned long long)(t->step_max_ns % SYNC_NS_PER_MS / 1000),
		t->step_max_what ? t->step_max_what : "-",
		(unsigned long long)(t->step_max_cpu_ns / SYNC_NS_PER_MS),
		(unsigned long long)(t->step_max_cpu_ns % SYNC_NS_PER_MS / 1000),
		(unsigned long long)t->steps_slow,
		(unsigned long long)(SYNC_SLOW_STEP_NS / SYNC_NS_PER_MS),
		(unsigned long long)t->rx_yields, (unsigned long long)t->window_waits,
		(unsigned long long)(t->red_max_ns / SYNC_NS_PER_MS));
	if (t->step_max_cpu_ns) {
		fprintf(f, "Most CPU:     %llu.%03llu ms in a %s step:",
			(unsigned long long)(t->step_max_cpu_ns / SYNC_NS_PER_MS),
			(unsigned long long)(t->step_max_cpu_ns % SYNC_NS_PER_MS / 1000),
			t->step_max_cpu_what ? t->step_max_cpu_what : "-");
		for (int i = 0; i < SYP_N; i++)
			if (t->step_max_cpu_ph[i])
				fprintf(f, " %s %llu.%03llu", sy_phase_name[i],
					(unsigned long long)(t->step_max_cpu_ph[i] / SYNC_NS_PER_MS),
					(unsigned long long)(t->step_max_cpu_ph[i] % SYNC_NS_PER_MS /
							     1000));
		fprintf(f, " ms; %llu steps over %llu ms of CPU\n",
			(unsigned long long)t->steps_over_cpu,
			(unsigned long long)(SYNC_SLOW_STEP_NS / SYNC_NS_PER_MS));
	}
	if (s->last_error[0])
		fprintf(f, "Last error:   %s\n", s->last_error);
}

static void show_json(struct ns_sync *s, struct ctl_json *j)
{
	const struct ns_redundancy_conf *r = &s->d->conf.red;
	const struct sync_stats *t = &s->st;
	struct sync_conn *c = s->active;
	char a[INET_ADDRSTRLEN], fp[20];
	uint64_t now = ns_now();

	ctl_json_start_object(j);
	ctl_json_kv_bool(j, "enabled", true);
	ctl_json_kv_string(j, "node", s->d->conf.node_name);
	ctl_json_kv_string(j, "role", sy_role_name(s->primary));
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)s->fingerprint);
	ctl_json_kv_string(j, "fingerprint", fp);
	ctl_json_kv_string(j, "local", ns_fmt_ip(r->local_addr.s_addr, a, sizeof(a)));
	ctl_json_kv_string(j, "peer", ns_fmt_ip(r->peer_addr.s_addr, a, sizeof(a)));
	ctl_json_kv_uint(j, "port", r->port);
	ctl_json_kv_string(j, "device", r->device);
	ctl_json_kv_uint(j, "replication_threshold", r->replication_threshold);
	ctl_json_kv_bool(j, "listening", s->lfd >= 0);
	ctl_json_kv_bool(j, "authenticated", s->psk_len > 0);
	ctl_json_kv_bool(j, "encrypted", s->encrypt);
	ctl_json_kv_string(j, "cipher", s->encrypt ? "chacha20-poly1305-ietf" :
			   s->psk_len ? "hmac-sha256 (integrity only)" : "none");
	ctl_json_kv_string(j, "state", c ? sy_state_name(c->st) : "disconnected");
	ctl_json_kv_bool(j, "ready", sync_backup_ready(s->d));
	ctl_json_kv_uint(j, "tracked_sessions", sy_tracked(s));
	ctl_json_kv_uint(j, "tracked_nat64_sessions", s->tab64.n);
	if (c) {
		ctl_json_key(j, "connection");
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "peer_node", c->peer.name);
		ctl_json_kv_string(j, "peer_role", sy_role_name(c->peer.role == NSW_ROLE_PRIMARY));
		ctl_json_kv_string(j, "direction", c->outgoing ? "outgoing" : "incoming");
		ctl_json_kv_bool(j, "encrypted", c->enc);
		ctl_json_kv_uint(j, "up_ms", (now - c->opened_ns) / SYNC_NS_PER_MS);
		ctl_json_kv_uint(j, "seq_sent", c->tx_seq);
		ctl_json_kv_uint(j, "seq_data_sent", c->data_seq);
		ctl_json_kv_uint(j, "seq_acked", c->acked);
		ctl_json_kv_uint(j, "lag_frames", s->primary ? sy_lag_frames(c) : 0);
		ctl_json_kv_uint(j, "seq_received", c->rx_seq);
		ctl_json_kv_uint(j, "queued_hi_bytes", sy_q_len(&c->hi));
		ctl_json_kv_uint(j, "queued_lo_bytes", sy_q_len(&c->lo));
		ctl_json_kv_uint(j, "peer_install_failures", s->peer_install_fail);
		ctl_json_end_object(j);
	}
	ctl_json_key(j, "bulk");
	ctl_json_start_object(j);
	if (s->primary) {
		ctl_json_kv_string(j, "state", s->bulk_running ? "running" : s->bulk_pending ?
				   "pending" : s->peer_ready ? "acknowledged" : "idle");
		ctl_json_kv_uint(j, "epoch", s->bulk_epoch);
		ctl_json_kv_uint(j, "sent", s->bulk_count);
		ctl_json_kv_uint(j, "expected", s->bulk_expected);
	} else {
		ctl_json_kv_string(j, "state", s->bulk_rx_running ? "receiving" : s->sweeping ?
				   "sweeping" : s->ready ? "complete" : "waiting");
		ctl_json_kv_uint(j, "epoch", s->bulk_rx_epoch);
		ctl_json_kv_uint(j, "received", s->bulk_rx_count);
		ctl_json_kv_uint(j, "expected", s->bulk_rx_expected);
	}
	ctl_json_end_object(j);
	ctl_json_key(j, "replication_latency");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "measured", s->lat.measured);
	ctl_json_kv_uint(j, "p50_us", sy_lat_quantile_ns(&s->lat, 0.50) / 1000);
	ctl_json_kv_uint(j, "p99_us", sy_lat_quantile_ns(&s->lat, 0.99) / 1000);
	ctl_json_kv_uint(j, "max_us", s->lat.max_ns / 1000);
	ctl_json_kv_uint(j, "over_max_bucket", s->lat.over);
	ctl_json_kv_uint(j, "unmeasured", s->lat.unmeasured);
	ctl_json_end_object(j);
	ctl_json_key(j, "counters");
	ctl_json_start_object(j);
#define KV(name) ctl_json_kv_uint(j, #name, t->name)
	KV(connects); KV(connect_fail); KV(accepts); KV(accept_rejected); KV(disconnects);
	KV(refused_sent); KV(refused_recv); KV(proto_errors); KV(dead_peer);
	KV(frames_tx); KV(frames_rx); KV(bytes_tx); KV(bytes_rx);
	KV(adds_tx); KV(updates_tx); KV(dels_tx); KV(clear_dels); KV(bulks_tx);
	KV(records_rx); KV(installed); KV(install_fail); KV(dels_rx); KV(dels_applied);
	KV(bulks_rx); KV(stale_removed); KV(backpressure); KV(dels_deferred);
	KV(walk_passes); KV(walk_errors); KV(walk_last_ns); KV(due_sent); KV(open_sent); KV(heartbeats_tx);
	KV(heartbeats_rx); KV(acks_rx); KV(bulk_requests_rx); KV(auth_fail);
	KV(steps); KV(steps_slow); KV(step_max_ns); KV(step_max_cpu_ns); KV(rx_yields);
	KV(window_waits); KV(red_max_ns); KV(seq_replays); KV(seq_gaps); KV(truncated);
	KV(hi_full); KV(queued_max); KV(steps_over_cpu);
#undef KV
	ctl_json_kv_uint(j, "holds_tx", s->hold.sent);
	ctl_json_kv_uint(j, "holds_not_sent", s->hold.dropped);
	ctl_json_kv_uint(j, "holds_rx", s->hold.received);
	ctl_json_kv_uint(j, "holds_installed", s->hold.installed);
	ctl_json_kv_uint(j, "holds_install_fail", s->hold.install_fail);
	ctl_json_end_object(j);
	/* the step that used most CPU, by phase (ns) */
	ctl_json_key(j, "step_max_cpu");
	ctl_json_start_object(j);
	ctl_json_kv_string(j, "in", t->step_max_cpu_what ? t->step_max_cpu_what : "");
	ctl_json_kv_uint(j, "cpu_ns", t->step_max_cpu_ns);
	for (int i = 0; i < SYP_N; i++)
		ctl_json_kv_uint(j, sy_phase_name[i], t->step_max_cpu_ph[i]);
	ctl_json_end_object(j);
	ctl_json_kv_string(j, "last_error", s->last_error);
	ctl_json_end_object(j);
}

void sync_show(struct ns_daemon *d, FILE *f, struct ctl_json *j)
{
	struct ns_sync *s = d->sync;

	if (!s) {
		if (j) {
			ctl_json_start_object(j);
			ctl_json_kv_bool(j, "enabled", false);
			ctl_json_end_object(j);
		} else {
			fprintf(f, "Sync:         not configured (redundancy-options)\n");
		}
		return;
	}
	if (j)
		show_json(s, j);
	else
		show_text(s, f);
}

int sync_ctl_show(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		  void *arg)
{
	(void)arg;
	sync_show(d, out->f, req->json ? out->j : NULL);
	return 0;
}
