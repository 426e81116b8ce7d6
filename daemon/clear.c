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
#include "redundancy.h"
#include "sublimit.h"
#include "sync.h"
#include "util.h"

/* The sessions a walk matched: keys (IPv4 or IPv6 tuple) and values. */
struct victims {
	const struct ctl_request *req;
	size_t ksz;
	char *keys;
	struct ns_session *vals;
	size_t n, cap;
	size_t done;                 /* drop(): entries [0, done) handled */
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
 * reverse entries (rev_fd, keyed by out_key), from v->done on, until all
 * are done or the deadline (0: none) has passed. Returns how many were
 * deleted (a session gone meanwhile is not counted), or -errno.
 */
static long drop_some(struct ns_daemon *d, struct victims *v, int sess_fd, int rev_fd,
		      struct ns_sublimit_acc *subs, uint64_t deadline)
{
	long n = 0;

	for (; v->done < v->n; v->done++) {
		const struct ns_session *s = &v->vals[v->done];
		struct ns_event6 ev6;
		struct ns_event ev;

		if (deadline && !(v->done & 255) && n && ns_now() >= deadline)
			break;
		if (bpf_map_delete_elem(sess_fd, v->keys + v->done * v->ksz)) {
			if (errno == ENOENT)
				continue; /* expired or closed meanwhile */
			return -errno;
		}
		if (bpf_map_delete_elem(rev_fd, &s->out_key) && errno != ENOENT)
			pr_warn("clear: reverse entry of a session: %s", strerror(errno));
		if (ns_sublimit_note(subs, s))
			return -ENOMEM;
		if (v->ksz == sizeof(struct ns_tuple6)) {
			/* NAT64: the line names the IPv6 endpoints */
			ns_event6_from_session(&ev6, s,
					       (const void *)(v->keys + v->done * v->ksz),
					       NS_EV_SESSION_CLOSE);
			ns_event6_log(d, &ev6, s);
		} else {
			ns_event_from_session(&ev, s, NS_EV_SESSION_CLOSE);
			ns_event_log(d, &ev, s);
		}
		n++;
	}
	return n;
}

/* drop_some(), then a primary tells its backup at once (sync.h). */
static long drop(struct ns_daemon *d, struct victims *v, int sess_fd, int rev_fd,
		 struct ns_sublimit_acc *subs, uint64_t deadline)
{
	size_t first = v->done;
	long n = drop_some(d, v, sess_fd, rev_fd, subs, deadline);

	sync_sessions_cleared(d, v->vals + first, v->done - first,
			      v->ksz == sizeof(struct ns_tuple6));
	return n;
}

/* clear sessions between slices: the matches of both tables, then the
 * deletes (IPv4 table, then NAT64). */
struct clear_cont {
	struct ctl_walk cw;
	struct victims v4, v6;
	struct ns_sublimit_acc subs;
	uint64_t cleared;
	int phase;                   /* 0 collect, 1 drop v4, 2 drop v6 */
};

static void clear_cont_fini(struct ctl_walk *cw)
{
	struct clear_cont *cc = (struct clear_cont *)cw;

	free(cc->v4.keys);
	free(cc->v4.vals);
	free(cc->v6.keys);
	free(cc->v6.vals);
	free(cc->subs.keys);
}

/* One slice of the work; 1 when done, 0 more, -errno. */
static int clear_step(struct ns_daemon *d, struct clear_cont *cc, uint64_t deadline)
{
	long n;
	int r;

	if (cc->phase == 0) {
		r = ns_walk_seq_step(&cc->cw.q, deadline);
		if (r <= 0)
			return r;
		if (cc->v4.err || cc->v6.err)
			return cc->v4.err ? cc->v4.err : cc->v6.err;
		cc->phase = 1;
	}
	if (cc->phase == 1) {
		n = drop(d, &cc->v4, d->fd.sessions, d->fd.session_rev, &cc->subs, deadline);
		if (n < 0)
			return (int)n;
		cc->cleared += (uint64_t)n;
		if (cc->v4.done < cc->v4.n)
			return 0;
		cc->phase = 2;
	}
	if (cc->v6.n) {
		n = drop(d, &cc->v6, d->fd.nat64_sess, d->fd.nat64_rev, &cc->subs, deadline);
		if (n < 0)
			return (int)n;
		cc->cleared += (uint64_t)n;
		if (cc->v6.done < cc->v6.n)
			return 0;
	}
	return 1;
}

int ns_clear_ctl(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		 void *arg)
{
	struct clear_cont *cc = out->cont;
	const char *role;
	uint64_t matched;
	int ret;

	(void)arg;
	if (!cc) {
		cc = ctl_walk_new(out, req, sizeof(*cc), clear_cont_fini);
		if (!cc)
			return -1;
		if (ctl_sessions_ready(d, &cc->cw.r, out))
			return -1;
		cc->v4 = (struct victims){ .req = &cc->cw.r, .ksz = sizeof(struct ns_tuple) };
		cc->v6 = (struct victims){ .req = &cc->cw.r, .ksz = sizeof(struct ns_tuple6) };
		ns_walk_seq_add(&cc->cw.q, d->fd.sessions, sizeof(struct ns_tuple),
				sizeof(struct ns_session), collect, &cc->v4, NS_MAP_SESSIONS);
		/* src= names an IPv4 subscriber: NAT64 ones are IPv6 (as show sessions) */
		if (!(cc->cw.r.have & CTL_BIT(CTL_ARG_SRC)))
			ns_walk_seq_add(&cc->cw.q, d->fd.nat64_sess, sizeof(struct ns_tuple6),
					sizeof(struct ns_session), collect, &cc->v6,
					NS_MAP_NAT64_SESS);
	}
	ret = clear_step(d, cc, out->deadline);
	if (!ret)
		return CTL_MORE;
	matched = cc->v4.n + cc->v6.n;
	if (ns_sublimit_after_reap(d, &cc->subs, ns_now()))
		pr_warn("clear: max-sessions-per-subscriber counts not updated");
	d->st.sessions_cleared += cc->cleared;
	pr_info("clear sessions: %llu of %llu matching sessions dropped%s",
		(unsigned long long)cc->cleared, (unsigned long long)matched,
		ret < 0 ? " before an error" : "");
	if (ret < 0)
		return ctl_out_error(out, "clear sessions: %s after %llu sessions",
				     strerror(-ret), (unsigned long long)cc->cleared);
	role = !d->sync ? "standalone" : red_is_active(d) ? "primary" : "backup";
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_kv_uint(out->j, "matched", matched);
		ctl_json_kv_uint(out->j, "cleared", cc->cleared);
		ctl_json_kv_string(out->j, "role", role);
		ctl_json_kv_bool(out->j, "peer_follows", role[0] == 'p');
		ctl_json_end_object(out->j);
	} else {
		fprintf(out->f, "%llu sessions cleared (%llu matched)%s\n",
			(unsigned long long)cc->cleared, (unsigned long long)matched,
			role[0] == 'p' ? "; the backup drops them too" :
			role[0] == 'b' ? " on this backup only: the primary keeps them and "
					 "sends them again when they change (clear them on the "
					 "primary to drop them on both)" : "");
	}
	return 0;
}
