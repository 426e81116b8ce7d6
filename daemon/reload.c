// SPDX-License-Identifier: GPL-2.0
/*
 * reload.c - SIGHUP and "natsyncctl reload": a changed config file put in
 * force on a running daemon without a wait on the event loop (reload.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "ctlproto.h"
#include "daemon.h"
#include "ipfix.h"
#include "loader.h"
#include "log.h"
#include "loop.h"
#include "pba.h"
#include "redundancy.h"
#include "reload.h"
#include "sync.h"
#include "util.h"

/* One daemon per process: the reload state is this file's. */
static struct {
	int tfd;                  /* one-shot timer of a deferred reload */
	bool debug;               /* -d: the log level stays at debug */
	bool pending;             /* pend holds a checked config to apply */
	struct ns_config pend;    /* large: not on the stack */
} rl = { .tfd = -1 };

static bool same_ifaces(const struct ns_config *a, const struct ns_config *b)
{
	return a->n_ifaces == b->n_ifaces &&
	       !memcmp(a->ifaces, b->ifaces, sizeof(a->ifaces[0]) * a->n_ifaces);
}

/*
 * Read and check the file. What the running maps and attachments depend on
 * (interfaces, pin-path, max-sessions, control socket, aging interval)
 * needs a restart: a reload that changes it is refused as a whole, so the
 * running config stays coherent.
 */
static int check(struct ns_daemon *d, struct ns_config *nc)
{
	char err[NS_CONF_ERR_MAX];

	if (ns_config_load(d->conf.path, nc, err, sizeof(err))) {
		pr_err("reload: %s: keeping the running config", err);
		return -1;
	}
	if (!same_ifaces(&d->conf, nc) || strcmp(d->conf.pin_path, nc->pin_path) ||
	    d->conf.max_sessions != nc->max_sessions ||
	    strcmp(d->conf.control_socket, nc->control_socket) ||
	    d->conf.aging_interval_ms != nc->aging_interval_ms ||
	    memcmp(&d->conf.metrics, &nc->metrics, sizeof(nc->metrics))) {
		pr_err("reload: interfaces, pin-path, max-sessions, control-socket, "
		       "aging-interval-ms or metrics changed: restart natsyncd to apply; keeping "
		       "the running config");
		return -1;
	}
	if (ns_pba_maps_fit(d, nc, err, sizeof(err))) {
		pr_err("reload: %s; keeping the running config", err);
		return -1;
	}
	return 0;
}

/* Put the checked config nc in force: bank not in force, then the flip
 * (a failure before the flip leaves the running config in force, whole). */
static int apply(struct ns_daemon *d, const struct ns_config *nc)
{
	if (ns_loader_write_config(d, nc)) {
		pr_err("reload: writing the maps failed: the running config stays in force");
		d->st.reload_failures++;
		return -1;
	}
	d->conf = *nc;
	ipfix_reconfigure(d);
	log_set_syslog_socket(nc->syslog_socket);
	sync_reconfigure(d); /* role to the fast path again, re-handshake if the fingerprint changed */
	red_reconfigure(d);  /* priority, preempt, dead-interval, new VIPs/routes */
	log_set_level(rl.debug ? NS_LOG_DEBUG : nc->log_level);
	ns_loop_nice_apply(d);
	d->st.reloads++;
	pr_info("reload: %s applied", nc->path);
	return 0;
}

static void arm(uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull) },
	};

	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1; /* 0 would disarm it */
	timerfd_settime(rl.tfd, 0, &its, NULL);
}

static void on_timer(struct ns_loop *loop, int fd, uint32_t ev, void *arg)
{
	struct ns_daemon *d = arg;
	uint64_t n, left;

	(void)loop;
	(void)ev;
	if (read(fd, &n, sizeof(n)) < 0 || !rl.pending)
		return;
	left = ns_loader_quiesce_left_ns(d);
	if (left) { /* a start-up or test flip came in between */
		arm(left);
		return;
	}
	rl.pending = false;
	apply(d, &rl.pend);
}

int ns_reload(struct ns_daemon *d, uint64_t *deferred_ms)
{
	static struct ns_config nc;
	uint64_t left;

	*deferred_ms = 0;
	if (check(d, &nc)) {
		d->st.reload_failures++;
		return -1;
	}
	left = ns_loader_quiesce_left_ns(d);
	if (!left && !rl.pending)
		return apply(d, &nc);
	/* The bank not in force may still be read: keep the config, the
	 * timer applies it (a pending one is replaced: the newest file wins). */
	rl.pend = nc;
	rl.pending = true;
	d->st.reloads_deferred++;
	*deferred_ms = (left + 999999) / 1000000;
	if (!*deferred_ms)
		*deferred_ms = 1;
	arm(left);
	pr_info("reload: %s checked; applied in %llu ms (the previous reload's config bank "
		"may still be read until then)", nc.path, (unsigned long long)*deferred_ms);
	return 0;
}

static int ctl_reload(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg)
{
	uint64_t ms;

	(void)req;
	(void)arg;
	if (ns_reload(d, &ms))
		return ctl_out_error(out, "reload failed: running config kept (see the log)");
	if (out->j) {
		ctl_json_start_object(out->j);
		ctl_json_kv_string(out->j, "config", d->conf.path);
		ctl_json_kv_uint(out->j, "deferred_ms", ms);
		ctl_json_end_object(out->j);
		return 0;
	}
	if (ms)
		fprintf(out->f, "reload of %s checked: in force in %llu ms\n", d->conf.path,
			(unsigned long long)ms);
	else
		fprintf(out->f, "reloaded %s\n", d->conf.path);
	return 0;
}

int ns_reload_init(struct ns_daemon *d, struct ns_control *ctl, bool debug)
{
	rl.debug = debug;
	rl.pending = false;
	rl.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl.tfd < 0)
		return -errno;
	if (loop_add(d->loop, rl.tfd, EPOLLIN, on_timer, d)) {
		int err = -errno;

		close(rl.tfd);
		rl.tfd = -1;
		return err ? err : -EINVAL;
	}
	loop_set_name(d->loop, rl.tfd, "reload timer");
	if (ctl)
		ns_control_set_handler(ctl, CTL_RELOAD, ctl_reload, NULL);
	return 0;
}

void ns_reload_fini(struct ns_daemon *d)
{
	if (rl.tfd < 0)
		return;
	if (rl.pending)
		pr_warn("reload: exiting with a checked reload not yet in force");
	loop_del(d->loop, rl.tfd);
	close(rl.tfd);
	rl.tfd = -1;
	rl.pending = false;
}
