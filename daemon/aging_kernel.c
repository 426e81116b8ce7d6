// SPDX-License-Identifier: GPL-2.0
/*
 * aging_kernel.c - the in-kernel aging sweep (bpf/aging.bpf.c) driven from
 * natsyncd: loading it over the daemon's maps, its worker thread, the phase
 * machine that applies what the walks find on the event loop, the timer,
 * and aging's entry points (aging.h). What a cycle changes, and the batch
 * walk it falls back to, are in aging.c (aging_cycle.h).
 */
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aging.h"
#include "aging_cycle.h"
#include "bpf/aging_sweep.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#include "aging.skel.h"

/* ---- the in-kernel sweep ------------------------------------------------- */

/*
 * A cycle's walks run in the kernel (bpf/aging.bpf.c: syscall programs, one
 * map each, in slices of conf.aging_slice entries per BPF_PROG_RUN) on a
 * worker thread, which collects what each slice emitted and yields before
 * the next; everything else (re-checking and deleting, applying, logging)
 * runs on the event loop in steps of at most SLICE_NS. After each step or walk, aging
 * rests long enough to stay under NS_AGING_CPU_SHARE_PCT of one core.
 */
#define SLICE_NS (4 * 1000 * 1000ull)
#define MIN_GAP_NS (1000 * 1000ull)
#define OUT_RECS NS_AGING_OUT_RECS
/* Bitmap bits per session-map entry (two ids per session, two bits each). */
#define BITS_PER_SESSION 32
/* Expired sessions re-checked and deleted, or port/paired changes applied,
 * per step on the loop. */
#define REAP_CHUNK 1024

/*
 * The phases of a cycle. The walks (PH_SESSIONS, PH_PORTS, PH_PAIRED) run
 * in the kernel; each is followed by a phase that applies what it found on
 * the loop, in chunks. Expired sessions are deleted only after the session
 * walks (PH_REAP, PH_REAP64), before the port walk reads the live bitmap.
 */
enum sweep_phase {
	PH_SESSIONS = 0, PH_REAP, PH_REAP64, PH_PORTS, PH_APPLY_PORTS, PH_PAIRED,
	PH_APPLY_PAIRED, PH_MAX, PH_IDLE = PH_MAX
};

static bool phase_walks(enum sweep_phase ph)
{
	return ph == PH_SESSIONS || ph == PH_PORTS || ph == PH_PAIRED;
}

struct ns_aging_sweep {
	struct ns_daemon *d;
	struct aging_bpf *skel;
	uint64_t *bitmap;               /* ns_age_live, mmap()ed */
	size_t bitmap_len;
	uint32_t nbits;
	const struct ns_age_rec *out;   /* ns_age_out, mmap()ed */
	size_t out_len;
	enum sweep_phase phase;
	struct pass p;                  /* the running cycle */
	uint64_t cycle_start, work_ns, cycles;
	uint64_t next_ns;               /* when the next cycle may start */
	int err;                        /* first error of the running cycle */
	size_t done;                    /* reap/apply phases: entries handled */
	uint64_t deferred;              /* age_stats.deferred, summed per cycle */
	bool walked;                    /* the current phase's walk is over */
	uint64_t walk_ns[3];            /* this cycle: sessions, ports, paired */
	uint32_t slice;                 /* this cycle's entries per run, 0: all */
	uint32_t walk_recs;             /* records the running walk emitted */
	uint64_t slices, slice_max_ns;  /* this cycle: runs, the longest one */
	uint64_t skipped;               /* this cycle: entries skipped to resume */
	uint64_t restarts, unsliced;    /* this cycle: walks restarted, unsliced */
	ns_aging_slice_hook_fn hook;    /* tests: called between two slices */
	void *hook_arg;
	ns_aging_worker_hook_fn worker_hook; /* tests: after a walk's end is told */
	void *worker_hook_arg;
	bool waiting;                   /* the worker walks for this cycle */

	/* The worker thread (started by ns_aging_init(); ns_aging_pass()
	 * runs walks inline instead). The loop never waits for it: no lock
	 * is shared. The loop sets job and writes job_fd; the worker walks,
	 * writes job_err and job_cpu_ns, sets job to -1 (release) and writes
	 * done_fd; the loop reads them after job reads -1 (acquire). */
	pthread_t thread;
	bool thread_up;
	_Atomic int job;                /* the walk to run, -1: none */
	_Atomic bool quit;
	int job_err;
	uint64_t job_cpu_ns;
	int job_fd;                     /* eventfd: a job (or quit) for the worker */
	int done_fd;                    /* eventfd: a walk is over */
	int timer_fd;                   /* the aging timer, re-armed per step */
};

static void sweep_destroy(struct ns_aging_sweep *sw)
{
	if (!sw)
		return;
	if (sw->bitmap)
		munmap(sw->bitmap, sw->bitmap_len);
	if (sw->out)
		munmap((void *)sw->out, sw->out_len);
	aging_bpf__destroy(sw->skel);
	ag_pass_free(&sw->p);
	free(sw);
}

static int map_max_entries(int fd)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return (int)info.max_entries;
}

/* Walk the daemon's own map (fd), or an empty one when it has none. */
static int sweep_use_map(struct bpf_map *m, int fd)
{
	return fd >= 0 ? bpf_map__reuse_fd(m, fd) : 0;
}

static void *map_shared(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Load the sweep over the daemon's maps: their fds are handed to libbpf
 * before load, so the programs walk the loaded or pinned ns_* maps as they
 * are. The bitmap gets BITS_PER_SESSION bits per ns_sessions entry.
 */
static int sweep_open(struct ns_daemon *d, struct ns_aging_sweep **out)
{
	struct ns_aging_sweep *sw = calloc(1, sizeof(*sw));
	int max = map_max_entries(d->fd.sessions), err;
	long page = sysconf(_SC_PAGESIZE);
	struct aging_bpf *k;
	uint32_t words;

	if (!sw)
		return -ENOMEM;
	sw->d = d;
	sw->phase = PH_IDLE;
	sw->job = -1;
	sw->job_fd = -1;
	sw->done_fd = -1;
	sw->timer_fd = -1;
	if (max <= 0) {
		err = max < 0 ? max : -EINVAL;
		goto fail;
	}
	words = (uint32_t)(((uint64_t)max * BITS_PER_SESSION + 63) / 64);
	if (words < 1024)
		words = 1024;
	k = sw->skel = aging_bpf__open();
	if (!k) {
		err = -errno;
		goto fail;
	}
	err = bpf_map__set_max_entries(k->maps.ns_age_live, words);
	err = err ?: bpf_map__set_max_entries(k->maps.ns_age_out, OUT_RECS);
	err = err ?: sweep_use_map(k->maps.ns_sessions, d->fd.sessions);
	err = err ?: sweep_use_map(k->maps.ns_nat64_sess, d->fd.nat64_sess);
	err = err ?: sweep_use_map(k->maps.ns_ports, d->fd.ports);
	err = err ?: sweep_use_map(k->maps.ns_paired, d->fd.paired);
	err = err ?: sweep_use_map(k->maps.ns_eim, d->fd.eim);
	err = err ?: aging_bpf__load(k);
	if (err)
		goto fail;
	sw->nbits = words * 64;
	sw->bitmap_len = ((size_t)words * 8 + page - 1) / page * page;
	sw->bitmap = map_shared(bpf_map__fd(k->maps.ns_age_live), sw->bitmap_len);
	sw->out_len = ((size_t)OUT_RECS * sizeof(struct ns_age_rec) + page - 1) / page * page;
	sw->out = map_shared(bpf_map__fd(k->maps.ns_age_out), sw->out_len);
	if (!sw->bitmap || !sw->out) {
		err = -errno;
		goto fail;
	}
	*out = sw;
	return 0;
fail:
	sweep_destroy(sw);
	return err;
}

/* Which engine the operator asked for: NATSYNC_AGING_ENGINE = auto (the
 * default: the sweep, else the batch walk, loudly), in-kernel (the sweep or
 * nothing: natsyncd does not start), batch. */
enum engine_want { WANT_AUTO, WANT_KERNEL, WANT_BATCH, WANT_BAD };

static enum engine_want engine_wanted(void)
{
	const char *e = getenv("NATSYNC_AGING_ENGINE");

	if (!e || !*e || !strcmp(e, "auto"))
		return WANT_AUTO;
	if (!strcmp(e, "in-kernel"))
		return WANT_KERNEL;
	if (!strcmp(e, "batch"))
		return WANT_BATCH;
	return WANT_BAD;
}

/* The daemon's sweep, loaded on first use; NULL means the batch walk, with
 * the reason in d->aging_why. */
static struct ns_aging_sweep *sweep_of(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw = NULL;
	int err;

	if (d->aging_sweep || d->aging_why[0])
		return d->aging_sweep;
	switch (engine_wanted()) {
	case WANT_BATCH:
		snprintf(d->aging_why, sizeof(d->aging_why), "NATSYNC_AGING_ENGINE=batch");
		pr_info("aging: NATSYNC_AGING_ENGINE=batch: using the batch walk");
		return NULL;
	case WANT_BAD:
		snprintf(d->aging_why, sizeof(d->aging_why), "NATSYNC_AGING_ENGINE=%s is not "
			 "auto, in-kernel or batch", getenv("NATSYNC_AGING_ENGINE"));
		pr_err("aging: %s", d->aging_why);
		return NULL;
	default:
		break;
	}
	err = sweep_open(d, &sw);
	if (!err) {
		d->aging_sweep = sw;
		pr_info("aging: in-kernel sweep loaded (syscall programs, %u bitmap bits)",
			sw->nbits);
		return sw;
	}
	snprintf(d->aging_why, sizeof(d->aging_why), "in-kernel sweep refused: %s",
		 strerror(-err));
	pr_warn("aging: %s: FALLING BACK to the batch walk, which runs one synchronous pass "
		"per tick on the event loop", d->aging_why);
	if (d->conf.red.enabled)
		pr_warn("aging: this box is half of an HA pair: at scale the batch walk delays "
			"heartbeats (set NATSYNC_AGING_ENGINE=in-kernel to refuse to start "
			"instead)");
	return NULL;
}

/* Start a cycle at clock now: write the parameters of the walks. */
static void sweep_begin(struct ns_aging_sweep *sw, uint64_t now)
{
	struct ns_daemon *d = sw->d;
	const struct ns_config *c = &d->conf;
	struct ns_age_cfg *cfg = &sw->skel->bss->age_cfg;
	struct pass *p = &sw->p;

	ag_pass_free(p);
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->now = now;
	p->walk_start = ns_now();
	if (p->walk_start > now)
		p->walk_start = now; /* a caller-supplied (test) clock in the past */
	p->bitmap = sw->bitmap;
	p->nbits = sw->nbits;
	p->seed = ns_age_mix64(now ^ ++sw->cycles);

	memset(cfg, 0, sizeof(*cfg));
	cfg->now = now;
	cfg->walk_start = p->walk_start;
	cfg->seed = p->seed;
	cfg->nbits = sw->nbits;
	cfg->hold_s = c->timeouts.port_hold;
	cfg->binding_s = c->timeouts.binding;
	/* Timeouts are re-read every cycle: a reload may have changed them. */
	for (uint8_t st = 0; st < NS_TCP_STATE_MAX; st++)
		cfg->timeout_s[st] = ns_config_session_timeout(c, 6, st);
	cfg->timeout_s[NS_AGE_TO_UDP] = ns_config_session_timeout(c, 17, 0);
	cfg->timeout_s[NS_AGE_TO_ICMP] = ns_config_session_timeout(c, 1, 0);
	cfg->timeout_s[NS_AGE_TO_OTHER] = ns_config_session_timeout(c, 47, 0);
	memset(&sw->skel->bss->age_stats, 0, sizeof(sw->skel->bss->age_stats));
	sw->slice = ns_aging_slice(d); /* a reload applies from the next cycle */
	sw->slices = sw->slice_max_ns = sw->skipped = sw->restarts = sw->unsliced = 0;

	sw->work_ns = 0;
	sw->cycle_start = ns_now();
	sw->err = 0;
	sw->done = 0;
	sw->deferred = 0;
	sw->walked = false;
	sw->phase = PH_SESSIONS;
}

static int prog_run(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (err)
		return -errno;
	return (int)opts.retval;
}

/* Turn one emitted record into the cycle's work (the exact decision for a
 * port, now with the clean-close set). */
static int sweep_record(struct ns_aging_sweep *sw, const struct ns_age_rec *r)
{
	struct pass *p = &sw->p;
	/* the cycle's values: a reload on the loop may change the config
	 * while the worker collects */
	const struct ns_age_cfg *cfg = &sw->skel->bss->age_cfg;

	switch (r->type) {
	case NS_AGE_REC_SESSION:
		if (ag_grow((void **)&p->exp, &p->cap_exp, p->n_exp + 1, sizeof(*p->exp)))
			return -ENOMEM;
		p->exp[p->n_exp].key = r->sess.key;
		p->exp[p->n_exp++].s = r->sess.s;
		return 0;
	case NS_AGE_REC_SESSION64:
		return ag_note_expired64(p, &r->sess64.key, &r->sess64.s);
	case NS_AGE_REC_PORT: {
		uint64_t id = ag_port_id(r->port.k.addr, r->port.k.port, r->port.k.proto);
		enum ns_port_verdict vd;

		vd = ns_aging_port_decide(&r->port.v, ag_bitmap_test(p, id), ag_set_has(&p->clean, id),
					  p->now, p->walk_start, cfg->hold_s, cfg->binding_s);
		if (vd == NS_PORT_KEEP)
			return 0;
		if (ag_grow((void **)&p->pc, &p->cap_pc, p->n_pc + 1, sizeof(*p->pc)))
			return -ENOMEM;
		p->pc[p->n_pc].k = r->port.k;
		p->pc[p->n_pc].v = r->port.v;
		p->pc[p->n_pc++].verdict = vd;
		return 0;
	}
	case NS_AGE_REC_PAIRED:
		if (ag_grow((void **)&p->gone, &p->cap_gone, p->n_gone + 1, sizeof(*p->gone)))
			return -ENOMEM;
		p->gone[p->n_gone].k = r->paired.k;
		p->gone[p->n_gone++].seen_last_used = r->paired.v.last_used_ns;
		return 0;
	default:
		return -EPROTO;
	}
}

/* After a walk: take in what it emitted. 0 or -errno. */
static int sweep_collect(struct ns_aging_sweep *sw)
{
	uint32_t n = sw->skel->bss->age_out_n;
	int err = 0;

	if (n > OUT_RECS)
		return -EOVERFLOW;
	for (uint32_t i = 0; i < n && !err; i++)
		err = sweep_record(sw, &sw->out[i]);
	return err;
}

/* What a walk has added to the cycle so far: a restart rolls back to it. */
struct walk_mark {
	size_t n_exp, n_exp64, n_pc, n_gone;
	uint32_t walk_recs;
	struct ns_age_stats st;
};

static void walk_mark_take(struct ns_aging_sweep *sw, struct walk_mark *m)
{
	m->n_exp = sw->p.n_exp;
	m->n_exp64 = sw->p.n_exp64;
	m->n_pc = sw->p.n_pc;
	m->n_gone = sw->p.n_gone;
	m->walk_recs = sw->walk_recs;
	m->st = sw->skel->bss->age_stats;
}

static void walk_mark_restore(struct ns_aging_sweep *sw, const struct walk_mark *m)
{
	sw->p.n_exp = m->n_exp;
	sw->p.n_exp64 = m->n_exp64;
	sw->p.n_pc = m->n_pc;
	sw->p.n_gone = m->n_gone;
	sw->walk_recs = m->walk_recs;
	sw->skel->bss->age_stats = m->st;
}

/*
 * Walk one map with prog, in slices: each run processes up to sw->slice
 * entries, or 1/NS_AGING_SLICE_GROWTH of what the walk has passed if that
 * is more, after the key the previous one stopped at (bpf/aging.bpf.c), and
 * what it emitted is taken in before the next, so ns_age_out is reused
 * every slice up to NS_AGING_WALK_RECS per walk. When the key the walk
 * resumes from was deleted meanwhile, what the walk emitted is thrown away
 * and it starts over; after NS_AGING_MAX_RESTARTS it runs unsliced, and so
 * does a walk that has processed more entries than twice the map holds
 * (inserts chasing it): every walk ends.
 */
static int walk_map(struct ns_aging_sweep *sw, struct bpf_program *prog, int map_fd,
		    uint32_t max_entries)
{
	struct aging_bpf *k = sw->skel;
	struct ns_age_cursor *cur = &k->bss->age_cur;
	uint64_t processed = 0;
	uint32_t restarts = 0;
	struct walk_mark m;
	int err;

	walk_mark_take(sw, &m);
	memset(cur, 0, sizeof(*cur));
	cur->limit = sw->slice;
	for (;;) {
		uint64_t t0 = ns_now(), dt;

		k->bss->age_out_n = 0;
		k->bss->age_out_max = NS_AGING_WALK_RECS - sw->walk_recs < OUT_RECS ?
				      NS_AGING_WALK_RECS - sw->walk_recs : OUT_RECS;
		err = prog_run(prog);
		dt = ns_now() - t0;
		sw->slices++;
		if (dt > sw->slice_max_ns)
			sw->slice_max_ns = dt;
		if (err)
			return err;
		sw->skipped += cur->skipped;
		processed += cur->n;
		sw->walk_recs += k->bss->age_out_n;
		err = sweep_collect(sw);
		if (err)
			return err;
		if (cur->state == NS_AGE_RUN_END)
			return 0;
		/* The next run skips what this one passed: grow the slice
		 * with it, so a walk costs O(n), not O(n^2 / slice). */
		if (cur->limit && (cur->skipped + cur->n) / NS_AGING_SLICE_GROWTH > cur->limit)
			cur->limit = (cur->skipped + cur->n) / NS_AGING_SLICE_GROWTH;
		if (cur->state == NS_AGE_RUN_LOST ||
		    (cur->limit && processed > 2 * (uint64_t)max_entries)) {
			walk_mark_restore(sw, &m);
			memset(cur, 0, sizeof(*cur));
			processed = 0;
			sw->restarts++;
			if (++restarts <= NS_AGING_MAX_RESTARTS) {
				cur->limit = sw->slice;
			} else {
				cur->limit = 0;
				sw->unsliced++;
			}
		}
		if (sw->hook && cur->has_key)
			sw->hook(sw->hook_arg, map_fd, &cur->key);
		/* Let whatever waits for this CPU run before the next slice. */
		sched_yield();
	}
}

/*
 * The walk of phase ph, in the kernel: clear what it writes, run its
 * program(s) slice by slice. Runs on the worker thread (or inline in
 * ns_aging_pass()); it touches only the sweep's own maps and .bss and the
 * running pass, which the loop leaves alone while a walk is under way.
 */
static int sweep_walk(struct ns_aging_sweep *sw, enum sweep_phase ph)
{
	struct aging_bpf *k = sw->skel;
	uint64_t t0 = ns_now();
	int err, i = ph == PH_SESSIONS ? 0 : ph == PH_PORTS ? 1 : 2;

	sw->walk_recs = 0;
	switch (ph) {
	case PH_SESSIONS:
		memset(sw->bitmap, 0, (size_t)sw->nbits / 8);
		err = walk_map(sw, k->progs.ns_age_sessions, sw->d->fd.sessions,
			       bpf_map__max_entries(k->maps.ns_sessions));
		err = err ?: walk_map(sw, k->progs.ns_age_sessions64, sw->d->fd.nat64_sess,
				      bpf_map__max_entries(k->maps.ns_nat64_sess));
		break;
	case PH_PORTS:
		err = walk_map(sw, k->progs.ns_age_ports, sw->d->fd.ports,
			       bpf_map__max_entries(k->maps.ns_ports));
		break;
	case PH_PAIRED:
		err = walk_map(sw, k->progs.ns_age_paired, sw->d->fd.paired,
			       bpf_map__max_entries(k->maps.ns_paired));
		break;
	default:
		return -EINVAL;
	}
	sw->walk_ns[i] = ns_now() - t0;
	return err;
}

static void sweep_finish(struct ns_aging_sweep *sw)
{
	struct ns_daemon *d = sw->d;
	struct pass *p = &sw->p;
	const struct ns_age_stats *ks = &sw->skel->bss->age_stats;
	uint64_t live = ks->sessions - ks->expired + p->live;

	d->st.aging_passes++;
	d->st.aging_last_ns = sw->work_ns;
	d->st.aging_deferred += ks->deferred;
	d->st.sessions_seen = live;
	d->st.nat64_sessions_seen = ks->sessions64 - ks->expired64 + p->live64;
	d->st.bindings_live = ks->ports - p->freed;
	d->st.bindings_released += p->held;
	d->st.nat_released += p->freed;
	d->st.aging_slices = sw->slices;
	d->st.aging_slice_max_ns = sw->slice_max_ns;
	d->st.aging_slice_restarts += sw->restarts;
	d->st.aging_unsliced_walks += sw->unsliced;
	if (sw->err)
		d->st.aging_errors++;
	if (p->n_exp || p->n_exp64 || p->held || p->freed || p->n_gone || ks->deferred ||
	    d->st.aging_passes % 60 == 1)
		pr_debug("aging: cycle %llu: %llu live, %zu expired, %llu NAT64 live, %zu NAT64 "
			 "expired, %llu bindings, %llu held, %llu freed, %zu paired gone, %llu "
			 "deferred, %llu us of work (walks %llu/%llu/%llu us; %llu slices of at most "
			 "%llu us, %llu entries skipped, %llu restarts) over %llu ms%s",
			 (unsigned long long)d->st.aging_passes, (unsigned long long)live, p->n_exp,
			 (unsigned long long)d->st.nat64_sessions_seen, p->n_exp64,
			 (unsigned long long)ks->ports, (unsigned long long)p->held,
			 (unsigned long long)p->freed, p->n_gone,
			 (unsigned long long)ks->deferred, (unsigned long long)(sw->work_ns / 1000),
			 (unsigned long long)(sw->walk_ns[0] / 1000),
			 (unsigned long long)(sw->walk_ns[1] / 1000),
			 (unsigned long long)(sw->walk_ns[2] / 1000),
			 (unsigned long long)sw->slices, (unsigned long long)(sw->slice_max_ns / 1000),
			 (unsigned long long)sw->skipped, (unsigned long long)sw->restarts,
			 (unsigned long long)((ns_now() - sw->cycle_start) / 1000000),
			 sw->err ? " (failed)" : "");
	ag_warn_if_full(d, p->now, live);
	sw->phase = PH_IDLE;
}

/* One chunk of a reap/apply phase; true while there is more. */
static bool sweep_apply_chunk(struct ns_aging_sweep *sw)
{
	struct pass *p = &sw->p;
	size_t total, n;
	int err;

	switch (sw->phase) {
	case PH_REAP:
		total = p->n_exp;
		break;
	case PH_REAP64:
		total = p->n_exp64;
		break;
	case PH_APPLY_PORTS:
		total = p->n_pc;
		break;
	default: /* PH_APPLY_PAIRED */
		total = p->n_gone;
		break;
	}
	n = total - sw->done > REAP_CHUNK ? REAP_CHUNK : total - sw->done;
	if (!n)
		return false;
	if (sw->phase == PH_REAP)
		err = ag_reap_sessions(p, sw->done, n);
	else if (sw->phase == PH_REAP64)
		err = ag_reap_sessions64(p, sw->done, n);
	else if (sw->phase == PH_APPLY_PORTS)
		err = ag_apply_ports(p, sw->done, n);
	else
		err = ag_delete_paired_unchanged(sw->d->fd.paired, p->gone + sw->done, n);
	if (err)
		sw->err = sw->err ?: err;
	sw->done += n;
	return sw->done < total;
}

enum step { STEP_DONE, STEP_MORE, STEP_WAIT };

/* Hand the current phase's walk to the worker. The timer stays disarmed
 * until the walk is over: the loop must not write the .bss meanwhile. */
static void sweep_submit(struct ns_aging_sweep *sw)
{
	struct itimerspec off = {0};
	uint64_t one = 1;

	if (sw->timer_fd >= 0)
		timerfd_settime(sw->timer_fd, 0, &off, NULL);
	sw->waiting = true;
	atomic_store_explicit(&sw->job, (int)sw->phase, memory_order_release);
	if (write(sw->job_fd, &one, sizeof(one)) < 0)
		pr_err("aging: cannot wake the worker: %s", strerror(errno));
}

/*
 * Run the cycle until it ends (STEP_DONE), the clock passes deadline
 * (STEP_MORE), or a walk has been handed to the worker (STEP_WAIT: its end
 * wakes the loop). With inline_walks (ns_aging_pass()), walks run here.
 * A failed walk ends the cycle: a session walk that did not finish leaves
 * the live bitmap incomplete, so no binding may be judged on it.
 */
static enum step sweep_step(struct ns_aging_sweep *sw, uint64_t deadline, bool inline_walks)
{
	uint64_t t0 = ns_now();
	int err;

	while (sw->phase < PH_MAX) {
		if (phase_walks(sw->phase)) {
			if (!sw->walked && !inline_walks) {
				sw->work_ns += ns_now() - t0;
				sweep_submit(sw);
				return STEP_WAIT;
			}
			err = sw->walked ? 0 : sweep_walk(sw, sw->phase);
			sw->walked = false;
			err = err ?: sw->err;
			if (err) {
				sw->err = sw->err ?: err;
				sw->phase = PH_MAX;
				break;
			}
			sw->phase++;
			sw->done = 0;
		} else if (!sweep_apply_chunk(sw)) {
			sw->phase++;
			sw->done = 0;
		}
		if (sw->phase < PH_MAX && ns_now() >= deadline) {
			sw->work_ns += ns_now() - t0;
			return STEP_MORE;
		}
	}
	sw->work_ns += ns_now() - t0;
	sweep_finish(sw);
	return STEP_DONE;
}

/* ---- the worker thread ---------------------------------------------------- */

/* CPU time of this thread: the share is about CPU, and a slice preempted
 * by another process should not make aging rest longer. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return ns_now();
	return (uint64_t)ts.tv_sec * NS_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *sweep_worker(void *arg)
{
	struct ns_aging_sweep *sw = arg;
	uint64_t one = 1;

	/* Background work: below the event loop (which may run at a raised
	 * priority, config.h), never in its way. */
	ns_thread_nice(NS_BG_NICE);

	for (;;) {
		uint64_t c0, n;
		int ph, err;

		if (read(sw->job_fd, &n, sizeof(n)) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("aging: the worker cannot wait for work: %s", strerror(errno));
			break;
		}
		if (atomic_load(&sw->quit))
			break;
		ph = atomic_load_explicit(&sw->job, memory_order_acquire);
		if (ph < 0)
			continue;
		c0 = thread_cpu_ns();
		err = sweep_walk(sw, (enum sweep_phase)ph);
		sw->job_err = err;
		sw->job_cpu_ns = thread_cpu_ns() - c0;
		atomic_store_explicit(&sw->job, -1, memory_order_release);
		if (write(sw->done_fd, &one, sizeof(one)) < 0)
			pr_err("aging: cannot wake the loop: %s", strerror(errno));
		if (sw->worker_hook)
			sw->worker_hook(sw->worker_hook_arg);
	}
	return NULL;
}

/*
 * On a box with two CPUs or more, the walks get one CPU and the event loop
 * the others. A bpf_for_each_map_elem() over a large map runs for hundreds
 * of ms without a preemption point on a kernel built PREEMPT_NONE, and a
 * loop thread that the scheduler queued behind it on the same CPU would wait
 * that long, whatever its priority (doc/daemon.md, "Scheduling"). Fills
 * *worker with the walks' CPU and restricts the calling (loop) thread to
 * the rest; d->aging_cpu is that CPU, -1 when there is one CPU only.
 */
static void split_cpus(struct ns_daemon *d, cpu_set_t *worker)
{
	cpu_set_t all, rest;
	int last = -1, n = 0;

	d->aging_cpu = -1;
	CPU_ZERO(worker);
	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			last = c;
			n++;
		}
	if (n < 2)
		return;
	rest = all;
	CPU_CLR(last, &rest);
	if (sched_setaffinity(0, sizeof(rest), &rest)) {
		pr_warn("aging: cannot keep the event loop off CPU %d: %s", last, strerror(errno));
		return;
	}
	CPU_SET(last, worker);
	d->aging_cpu = last;
	pr_info("aging: the sweep's walks run on CPU %d, the event loop on the other %d", last,
		n - 1);
}

/* Start the worker; signals stay with the main thread's signalfd. */
static int worker_start(struct ns_aging_sweep *sw)
{
	pthread_attr_t attr;
	cpu_set_t cpu;
	sigset_t all, old;
	int err;

	sw->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sw->done_fd < 0)
		return -errno;
	sw->job_fd = eventfd(0, EFD_CLOEXEC); /* the worker blocks on it */
	if (sw->job_fd < 0) {
		err = -errno;
		close(sw->done_fd);
		sw->done_fd = -1;
		return err;
	}
	split_cpus(sw->d, &cpu);
	pthread_attr_init(&attr);
	if (sw->d->aging_cpu >= 0)
		pthread_attr_setaffinity_np(&attr, sizeof(cpu), &cpu);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&sw->thread, &attr, sweep_worker, sw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		close(sw->job_fd);
		close(sw->done_fd);
		sw->job_fd = sw->done_fd = -1;
		return -err;
	}
	sw->thread_up = true;
	return 0;
}

/* Stop the worker; a walk under way is waited for (it is bounded). */
static void worker_stop(struct ns_aging_sweep *sw)
{
	uint64_t one = 1;

	if (!sw->thread_up)
		return;
	atomic_store(&sw->quit, true);
	if (write(sw->job_fd, &one, sizeof(one)) < 0)
		pr_err("aging: cannot stop the worker: %s", strerror(errno));
	pthread_join(sw->thread, NULL);
	close(sw->job_fd);
	close(sw->done_fd);
	sw->job_fd = sw->done_fd = -1;
	sw->thread_up = false;
}

/* ---- entry points -------------------------------------------------------- */

int ns_aging_pass(struct ns_daemon *d, uint64_t now)
{
	struct ns_aging_sweep *sw = sweep_of(d);

	if (!sw) {
		if (engine_wanted() == WANT_KERNEL || engine_wanted() == WANT_BAD)
			return -ENOTSUP;
		return ag_batch_pass(d, now);
	}
	if (sw->waiting)
		return -EBUSY; /* the worker is walking for the timer's cycle */
	sweep_begin(sw, now);
	sweep_step(sw, UINT64_MAX, true);
	return sw->err;
}

uint32_t ns_aging_slice(const struct ns_daemon *d)
{
	if (d->conf.aging_slice != NS_AGING_SLICE_AUTO)
		return d->conf.aging_slice;
	return d->aging_cpu >= 0 ? 0 : NS_AGING_SLICE_DEFAULT;
}

void ns_aging_set_slice_hook(struct ns_daemon *d, ns_aging_slice_hook_fn fn, void *arg)
{
	struct ns_aging_sweep *sw = sweep_of(d);

	if (sw) {
		sw->hook = fn;
		sw->hook_arg = arg;
	}
}

void ns_aging_set_worker_hook(struct ns_daemon *d, ns_aging_worker_hook_fn fn, void *arg)
{
	struct ns_aging_sweep *sw = sweep_of(d);

	if (sw) {
		sw->worker_hook = fn;
		sw->worker_hook_arg = arg;
	}
}

const char *ns_aging_engine(struct ns_daemon *d)
{
	return sweep_of(d) ? "in-kernel sweep" : "batch walk";
}

int ns_aging_map_fds(struct ns_daemon *d, int *fds, int max)
{
	struct ns_aging_sweep *sw = d->aging_sweep;
	int n = 0;

	if (!sw)
		return 0;
	if (n < max)
		fds[n++] = bpf_map__fd(sw->skel->maps.ns_age_live);
	if (n < max)
		fds[n++] = bpf_map__fd(sw->skel->maps.ns_age_out);
	return n;
}

const char *ns_aging_fallback(struct ns_daemon *d)
{
	return sweep_of(d) ? NULL : d->aging_why;
}

static void rearm(int fd, uint64_t delay_ns)
{
	struct itimerspec its = {0};

	if (delay_ns < MIN_GAP_NS)
		delay_ns = MIN_GAP_NS;
	its.it_value.tv_sec = (time_t)(delay_ns / NS_NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(delay_ns % NS_NSEC_PER_SEC);
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
		pr_err("aging: cannot re-arm the timer: %s", strerror(errno));
}

/*
 * Run one step of the cycle on the loop and re-arm: after work of t (a step
 * here, or a walk on the worker), aging rests t * (100 / share - 1), so it
 * never takes more than its share of a core; after the last step, it waits
 * for the next interval. While the worker walks, nothing is armed: the end
 * of the walk (on_walk_done) steps on.
 */
static void sweep_run(struct ns_aging_sweep *sw, uint64_t prior_cpu_ns)
{
	struct ns_daemon *d = sw->d;
	uint64_t interval = (uint64_t)d->conf.aging_interval_ms * 1000000ull;
	uint64_t c0 = thread_cpu_ns(), dt, rest;
	enum step st = sweep_step(sw, ns_now() + SLICE_NS, false);

	dt = thread_cpu_ns() - c0 + prior_cpu_ns;
	if (st == STEP_WAIT)
		return;
	if (st == STEP_DONE && sw->err)
		pr_warn("aging: sweep failed: %s", strerror(-sw->err));
	rest = dt * (100 / NS_AGING_CPU_SHARE_PCT - 1);
	if (st == STEP_DONE) {
		sw->next_ns = sw->cycle_start + interval;
		if (sw->next_ns < ns_now() + rest)
			sw->next_ns = ns_now() + rest;
		rest = sw->next_ns - ns_now();
	}
	rearm(sw->timer_fd, rest);
}

static void sweep_tick(struct ns_aging_sweep *sw)
{
	uint64_t now = ns_now();

	if (sw->waiting)
		return; /* a walk is under way; its end steps on */
	if (sw->phase == PH_IDLE) {
		if (now < sw->next_ns) {
			rearm(sw->timer_fd, sw->next_ns - now);
			return;
		}
		sweep_begin(sw, now);
	} else {
		/* The clock moves on between steps (no walk is under way here:
		 * the timer is not armed then). */
		sw->p.now = now;
		sw->skel->bss->age_cfg.now = now;
	}
	sweep_run(sw, 0);
}

/* The worker finished a walk: take its result and step on. */
static void on_walk_done(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_aging_sweep *sw = arg;
	uint64_t n, cpu;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: nothing yet */
	/* never a lock: a worker descheduled on its busy CPU must not hold up
	 * the loop (heartbeats) */
	if (atomic_load_explicit(&sw->job, memory_order_acquire) >= 0)
		return; /* not over after all */
	sw->err = sw->err ?: sw->job_err;
	cpu = sw->job_cpu_ns;
	sw->work_ns += cpu;
	sw->waiting = false;
	sw->walked = true;
	sweep_run(sw, cpu);
}

static void on_aging_timer(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	int err;

	(void)loop;
	(void)events;
	(void)fd;
	if (d->aging_sweep) {
		sweep_tick(d->aging_sweep);
		return;
	}
	err = ag_batch_pass(d, ns_now());
	if (err)
		pr_warn("aging: pass failed: %s", strerror(-err));
}

int ns_aging_init(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw;
	int fd, err;

	/* Load the sweep now (not at the first tick), so its log line and any
	 * fallback to the batch walk show up at start. */
	sw = sweep_of(d);
	if (!sw && (engine_wanted() == WANT_KERNEL || engine_wanted() == WANT_BAD)) {
		pr_err("aging: NATSYNC_AGING_ENGINE asks for the in-kernel sweep, which is not "
		       "available (%s): not starting", d->aging_why);
		return -ENOTSUP;
	}
	fd = loop_add_timer(d->loop, d->conf.aging_interval_ms, on_aging_timer, d);
	if (fd < 0) {
		pr_err("aging: cannot start the timer: %s", strerror(-fd));
		return fd;
	}
	d->aging_timer_fd = fd;
	loop_set_name(d->loop, fd, "aging timer");
	if (!sw)
		return 0; /* the batch walk keeps the periodic timer */
	/* The sweep re-arms the timer one-shot per step. */
	sw->timer_fd = fd;
	err = worker_start(sw);
	if (!err)
		err = loop_add(d->loop, sw->done_fd, EPOLLIN, on_walk_done, sw);
	if (err) {
		pr_err("aging: cannot start the sweep's worker: %s", strerror(-err));
		ns_aging_fini(d);
		return err;
	}
	loop_set_name(d->loop, sw->done_fd, "aging walk done");
	return 0;
}

void ns_aging_fini(struct ns_daemon *d)
{
	struct ns_aging_sweep *sw = d->aging_sweep;

	if (d->aging_timer_fd >= 0 && d->loop)
		loop_del(d->loop, d->aging_timer_fd);
	d->aging_timer_fd = -1;
	if (sw) {
		if (sw->done_fd >= 0 && d->loop)
			loop_del(d->loop, sw->done_fd);
		worker_stop(sw);
		sweep_destroy(sw);
	}
	d->aging_sweep = NULL;
	d->aging_why[0] = '\0';
}
