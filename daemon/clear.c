// SPDX-License-Identifier: GPL-2.0
/* clear.c - clear sessions by filter (see clear.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "clear.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "mapwalk.h"
#include "sublimit.h"

/* The sessions a walk matched: keys (IPv4 or IPv6 tuple) and values. */
struct victims {
	const struct ctl_request *req;
	size_t ksz;
	char *keys;
	struct ns_session *vals;
	size_t n, cap;
	int err;
};

static void collect(const void *key, const void *val, void *arg)
{
	struct victims *v = arg;
	const struct ns_session *s = val;
	void *k, *nv;

	if (v->err || !ctl_session_matches(v->req, s))
		return;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;

		k = realloc(v->keys, cap * v->ksz);
		if (k)
			v->keys = k;
		nv = k ? realloc(v->vals, cap * sizeof(*v->vals)) : NULL;
		if (!nv) {
			v->err = -ENOMEM;
			return;
		}
		v->vals = nv;
		v->cap = cap;
	}
	memcpy(v->keys + v->n * v->ksz, key, v->ksz);
	v->vals[v->n++] = *s;
}

/*
 * Delete the matched sessions of one table (sess_fd, keyed ksz) and their
 * reverse entries (rev_fd, keyed by out_key). Returns how many were
 * deleted (a session gone meanwhile is not counted), or -errno.
 */
static long drop(struct ns_daemon *d, struct victims *v, int sess_fd, int rev_fd,
		 struct ns_sublimit_acc *subs)
{
	long n = 0;

	for (size_t i = 0; i < v->n; i++) {
		const struct ns_session *s = &v->vals[i];
		struct ns_event ev;

		if (bpf_map_delete_elem(sess_fd, v->keys + i * v->ksz)) {
			if (errno == ENOENT)
				continue; /* expired or closed meanwhile */
			return -errno;
		}
		if (bpf_map_delete_elem(rev_fd, &s->out_key) && errno != ENOENT)
			pr_warn("clear: reverse entry of a session: %s", strerror(errno));
		if (ns_sublimit_note(subs, s))
			return -ENOMEM;
		ns_event_from_session(&ev, s, NS_EV_SESSION_CLOSE);
		ns_event_log(d, &ev, s);
		n++;
	}
	return n;
}

/* Walk one table, drop what matches; *matched and *cleared added to. */
static int clear_table(struct ns_daemon *d, const struct ctl_request *req, int sess_fd,
		       int rev_fd, size_t ksz, struct ns_sublimit_acc *subs, uint64_t *matched,
		       uint64_t *cleared)
{
	struct victims v = { .req = req, .ksz = ksz };
	long n;
	int err;

	if (sess_fd < 0)
		return 0;
	err = ns_map_walk(sess_fd, ksz, sizeof(struct ns_session), collect, &v);
	if (!err)
		err = v.err;
	if (!err) {
		*matched += v.n;
		n = drop(d, &v, sess_fd, rev_fd, subs);
		if (n < 0)
			err = (int)n;
		else
			*cleared += (uint64_t)n;
	}
	free(v.keys);
	free(v.vals);
	return err;
}

int ns_clear_ctl(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg)
{
	struct ns_sublimit_acc subs = { 0 };
	struct ctl_request r = *req;
	uint64_t matched = 0, cleared = 0;
	int ret;

	(void)arg;
	if (ctl_sessions_ready(d, &r, out))
		return -1;
	ret = clear_table(d, &r, d->fd.sessions, d->fd.session_rev, sizeof(struct ns_tuple), &subs,
			  &matched, &cleared);
	/* src= names an IPv4 subscriber: NAT64 ones are IPv6 (as show sessions) */
	if (!ret && !(r.have & CTL_BIT(CTL_ARG_SRC)))
		ret = clear_table(d, &r, d->fd.nat64_sess, d->fd.nat64_rev,
				  sizeof(struct ns_tuple6), &subs, &matched, &cleared);
	if (ns_sublimit_after_reap(d, &subs, ns_now()))
		pr_warn("clear: max-sessions-per-subscriber counts not updated");
	free(subs.keys);
	d->st.sessions_cleared += cleared;
	pr_info("clear sessions: %llu of %llu matching sessions dropped%s",
		(unsigned long long)cleared, (unsigned long long)matched,
		ret ? " before an error" : "");
	if (ret)
		return ctl_out_error(out, "clear sessions: %s after %llu sessions",
				     strerror(-ret), (unsigned long long)cleared);
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_kv_uint(out->j, "matched", matched);
		ctl_json_kv_uint(out->j, "cleared", cleared);
		ctl_json_kv_bool(out->j, "peer_follows", d->sync != NULL);
		ctl_json_end_object(out->j);
	} else {
		fprintf(out->f, "%llu sessions cleared (%llu matched)%s\n",
			(unsigned long long)cleared, (unsigned long long)matched,
			d->sync ? "; a backup drops them with the next replication pass" : "");
	}
	return 0;
}
