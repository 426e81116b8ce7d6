// SPDX-License-Identifier: GPL-2.0
/*
 * policy.c - redundancy policies: which events trigger which actions
 * (pure, first half) and the actions themselves (second half). See
 * policy.h for the rules and doc/redundancy.md for the Junos mapping.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctlproto.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "policy.h"
#include "util.h"
#include "vip.h"

/* ---- which policies ------------------------------------------------------- */

uint32_t policy_triggered(const struct ns_redundancy_conf *rc, uint32_t idx, int fire)
{
	uint32_t mask = 0;

	if (idx >= rc->n_events || (fire != MON_FIRE_DOWN && fire != MON_FIRE_UP))
		return 0;
	for (uint32_t k = 0; k < rc->n_policies; k++) {
		const struct ns_srd_policy_conf *pc = &rc->policies[k];

		if ((pc->events & (1u << idx)) && pc->on_up == (fire == MON_FIRE_UP))
			mask |= 1u << k;
	}
	return mask;
}

bool policy_holds(const struct ns_srd_policy_conf *pc, const struct ns_monitor *m)
{
	for (uint32_t i = 0; i < NS_SRD_MAX_EVENTS; i++)
		if ((pc->events & (1u << i)) && monitor_is(m, i, pc->on_up))
			return true;
	return false;
}

/* ---- actions ---------------------------------------------------------------- */

#define POL_TEXT_MAX 320
#define POL_TICK_MS 100

struct pol_state {
	bool engaged;             /* triggered, and its condition still holds */
	uint64_t fired;           /* triggers */
	uint64_t failures;        /* actions that failed */
	uint64_t last_ms;         /* last trigger (0 never) */
	char last_event[NS_NAME_MAX + 8];
	char last[POL_TEXT_MAX];  /* what the last trigger did */
	pid_t hook_pid;           /* 0: no hook running */
	int hook_pidfd;
	uint64_t hook_start_ms, hook_deadline_ms;
	bool hook_killed;
	char hook_result[MON_TEXT_MAX];
};

struct ns_policies {
	struct ns_loop *loop;
	const struct ns_redundancy_conf *rc;
	const char *node;
	struct policy_ops ops;
	void *arg;
	struct pol_state st[NS_SRD_MAX_POLICIES];
	int nlfd;                 /* rtnetlink requests, opened on first use */
	int tfd;                  /* hook timeouts */
	bool released;            /* release-mastership in force */
};

static uint64_t now_ms(void)
{
	return ns_now() / 1000000ull;
}

static void say(struct pol_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append one action's outcome to the policy's last-action text. */
static void say(struct pol_state *s, const char *fmt, ...)
{
	size_t n = strlen(s->last);
	va_list ap;

	if (n && n + 2 < sizeof(s->last)) {
		strcpy(s->last + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(s->last + n, sizeof(s->last) - n, fmt, ap);
	va_end(ap);
}

static void routes_act(struct ns_policies *p, struct pol_state *s, bool add,
		       const struct ns_red_route *rt, uint32_t n, const char *what)
{
	char a[16];

	if (!n)
		return;
	if (p->nlfd < 0)
		p->nlfd = vip_nl_open();
	for (uint32_t i = 0; i < n; i++) {
		int err = p->nlfd < 0 ? p->nlfd : vip_route_change(p->nlfd, add, &rt[i]);

		ns_fmt_ip(rt[i].dst.s_addr, a, sizeof(a));
		if (err) {
			s->failures++;
			pr_err("redundancy: %s %s/%u table %u: %s", what, a, rt[i].prefix_len,
			       rt[i].table, strerror(-err));
			say(s, "%s %s/%u: %s", what, a, rt[i].prefix_len, strerror(-err));
		} else {
			say(s, "%s %s/%u", what, a, rt[i].prefix_len);
		}
	}
}

static void on_hook_exit(struct ns_loop *loop, int fd, uint32_t events, void *arg);

static void hook_start(struct ns_policies *p, const struct ns_srd_policy_conf *pc,
		       struct pol_state *s, const char *event, int fire)
{
	char vars[5][160];
	char *vp[] = { vars[0], vars[1], vars[2], vars[3], vars[4] };
	char *args[] = { (char *)pc->name, (char *)event, fire == MON_FIRE_UP ? "up" : "down" };
	pid_t pid;
	int fd;

	if (s->hook_pid) {
		s->failures++;
		say(s, "hook still running (pid %d): not started again", (int)s->hook_pid);
		return;
	}
	snprintf(vars[0], sizeof(vars[0]), "NATSYNC_POLICY=%s", pc->name);
	snprintf(vars[1], sizeof(vars[1]), "NATSYNC_EVENT=%s", event);
	snprintf(vars[2], sizeof(vars[2]), "NATSYNC_EVENT_STATE=%s", args[2]);
	snprintf(vars[3], sizeof(vars[3]), "NATSYNC_ROLE=%s", p->ops.role ? p->ops.role(p->arg) : "");
	snprintf(vars[4], sizeof(vars[4]), "NATSYNC_NODE=%s", p->node);
	pid = vip_spawn_shell(pc->hook, vp, 5, args, 3);
	if (pid < 0) {
		s->failures++;
		say(s, "hook: %s", strerror((int)-pid));
		return;
	}
	s->hook_pid = pid;
	s->hook_pidfd = -1;
	s->hook_start_ms = now_ms();
	s->hook_deadline_ms = s->hook_start_ms + pc->hook_timeout_ms;
	s->hook_killed = false;
	snprintf(s->hook_result, sizeof(s->hook_result), "running (pid %d)", (int)pid);
	say(s, "hook started (pid %d)", (int)pid);
	if (!p->loop)
		return;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 || loop_add(p->loop, fd, EPOLLIN, on_hook_exit, p)) {
		/* Unwatched, it would linger as a zombie: kill and reap now
		 * rather than leave it running without its timeout. */
		pr_err("redundancy: policy %s: cannot watch hook pid %d: %s", pc->name, (int)pid,
		       strerror(errno));
		if (fd >= 0)
			close(fd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		s->hook_pid = 0;
		s->failures++;
		snprintf(s->hook_result, sizeof(s->hook_result), "killed: cannot watch it");
		return;
	}
	s->hook_pidfd = fd;
}

static void hook_reaped(struct ns_policies *p, uint32_t k, int status)
{
	struct pol_state *s = &p->st[k];
	uint64_t took = now_ms() - s->hook_start_ms;
	const char *name = p->rc->policies[k].name;

	if (s->hook_killed)
		snprintf(s->hook_result, sizeof(s->hook_result), "killed after its timeout (%u ms)",
			 p->rc->policies[k].hook_timeout_ms);
	else if (WIFEXITED(status))
		snprintf(s->hook_result, sizeof(s->hook_result), "exited %d after %llu ms",
			 WEXITSTATUS(status), (unsigned long long)took);
	else
		snprintf(s->hook_result, sizeof(s->hook_result), "killed by signal %d after %llu ms",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0, (unsigned long long)took);
	if (s->hook_killed || !WIFEXITED(status) || WEXITSTATUS(status))
		s->failures++;
	pr_info("redundancy: policy %s: hook %s", name, s->hook_result);
	if (s->hook_pidfd >= 0) {
		loop_del(p->loop, s->hook_pidfd);
		close(s->hook_pidfd);
	}
	s->hook_pid = 0;
	s->hook_pidfd = -1;
}

static void on_hook_exit(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_policies *p = arg;
	int status;

	(void)loop;
	(void)events;
	for (uint32_t k = 0; k < p->rc->n_policies; k++) {
		struct pol_state *s = &p->st[k];

		if (s->hook_pid && s->hook_pidfd == fd &&
		    waitpid(s->hook_pid, &status, WNOHANG) == s->hook_pid)
			hook_reaped(p, k, status);
	}
}

/* Kill hooks past their timeout (the pidfd callback then reaps them). */
static void on_tick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_policies *p = arg;
	uint64_t now = now_ms();

	(void)loop;
	(void)fd;
	(void)events;
	for (uint32_t k = 0; k < p->rc->n_policies; k++) {
		struct pol_state *s = &p->st[k];

		if (!s->hook_pid || s->hook_killed || now < s->hook_deadline_ms)
			continue;
		pr_warn("redundancy: policy %s: hook pid %d still running after %u ms: killed",
			p->rc->policies[k].name, (int)s->hook_pid, p->rc->policies[k].hook_timeout_ms);
		s->hook_killed = true;
		if (syscall(SYS_pidfd_send_signal, s->hook_pidfd, SIGKILL, NULL, 0) < 0)
			kill(s->hook_pid, SIGKILL);
	}
}

/* Run one triggered policy's actions (policy.h gives the order). */
static void run(struct ns_policies *p, uint32_t k, const char *event, int fire)
{
	const struct ns_srd_policy_conf *pc = &p->rc->policies[k];
	struct pol_state *s = &p->st[k];
	char why[160], err[160];

	s->fired++;
	s->engaged = true;
	s->last_ms = now_ms();
	s->last[0] = '\0';
	snprintf(s->last_event, sizeof(s->last_event), "%s %s", event,
		 fire == MON_FIRE_UP ? "up" : "down");
	snprintf(why, sizeof(why), "policy %s (event %s %s)", pc->name, event,
		 fire == MON_FIRE_UP ? "up" : "down");
	if (pc->actions & NS_SRD_A_ACQUIRE) {
		if (p->ops.acquire && p->ops.acquire(p->arg, why, err, sizeof(err))) {
			s->failures++;
			say(s, "acquire-mastership refused: %s", err);
		} else {
			say(s, "acquire-mastership");
		}
	}
	if (pc->actions & NS_SRD_A_RELEASE)
		say(s, "release-mastership");
	if (pc->actions & NS_SRD_A_DEL_SIGNAL)
		routes_act(p, s, false, p->rc->routes, p->rc->n_routes, "delete-signal-route");
	if (pc->actions & NS_SRD_A_ADD_SIGNAL)
		routes_act(p, s, true, p->rc->routes, p->rc->n_routes, "add-signal-route");
	if (pc->actions & NS_SRD_A_DEL_ROUTES)
		routes_act(p, s, false, pc->del_routes, pc->n_del_routes, "delete-static-route");
	if (pc->actions & NS_SRD_A_ADD_ROUTES)
		routes_act(p, s, true, pc->add_routes, pc->n_add_routes, "add-static-route");
	if (pc->actions & NS_SRD_A_HOOK)
		hook_start(p, pc, s, event, fire);
	pr_warn("redundancy: %s: %s", why, s->last);
}

void policy_on_event(struct ns_policies *p, const struct ns_monitor *m, uint32_t idx, int fire)
{
	uint32_t mask = policy_triggered(p->rc, idx, fire);
	const char *event = p->rc->events[idx].name;
	const char *holder = NULL;
	bool release = false;

	for (uint32_t k = 0; k < p->rc->n_policies; k++) {
		if (mask & (1u << k))
			run(p, k, event, fire);
		else if (p->st[k].engaged && !policy_holds(&p->rc->policies[k], m))
			p->st[k].engaged = false;
		if (p->st[k].engaged && (p->rc->policies[k].actions & NS_SRD_A_RELEASE)) {
			release = true;
			holder = holder ? holder : p->rc->policies[k].name;
		}
	}
	if (release != p->released && p->ops.release) {
		char why[160];

		snprintf(why, sizeof(why), "released by policy %s", holder ? holder :
			 p->rc->policies[0].name);
		p->ops.release(p->arg, release, release ? why : "release-mastership policies clear");
	}
	p->released = release;
}

unsigned int policy_hooks_running(const struct ns_policies *p)
{
	unsigned int n = 0;

	for (uint32_t k = 0; k < NS_SRD_MAX_POLICIES; k++)
		n += p->st[k].hook_pid != 0;
	return n;
}

struct ns_policies *policy_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			       const char *node, const struct policy_ops *ops, void *arg)
{
	struct ns_policies *p = calloc(1, sizeof(*p));
	bool hooks = false;

	if (!p)
		return NULL;
	p->loop = loop;
	p->rc = rc;
	p->node = node;
	p->ops = *ops;
	p->arg = arg;
	p->nlfd = p->tfd = -1;
	for (uint32_t k = 0; k < NS_SRD_MAX_POLICIES; k++)
		p->st[k].hook_pidfd = -1;
	for (uint32_t k = 0; k < rc->n_policies; k++)
		hooks |= !!(rc->policies[k].actions & NS_SRD_A_HOOK);
	if (loop && hooks) {
		p->tfd = loop_add_timer(loop, POL_TICK_MS, on_tick, p);
		if (p->tfd < 0) {
			free(p);
			return NULL;
		}
	}
	return p;
}

void policy_free(struct ns_policies *p)
{
	if (!p)
		return;
	for (uint32_t k = 0; k < NS_SRD_MAX_POLICIES; k++)
		if (p->st[k].hook_pidfd >= 0) {
			loop_del(p->loop, p->st[k].hook_pidfd);
			close(p->st[k].hook_pidfd);
		}
	if (p->tfd >= 0)
		loop_del(p->loop, p->tfd);
	if (p->nlfd >= 0)
		close(p->nlfd);
	free(p);
}

/* ---- show ---- */

void policy_status(const struct ns_policies *p, FILE *f, struct ctl_json *j)
{
	uint64_t now = now_ms();

	if (j) {
		ctl_json_key(j, "policies");
		ctl_json_start_array(j);
	} else if (p->rc->n_policies) {
		fprintf(f, "Policies:\n");
	}
	for (uint32_t k = 0; k < p->rc->n_policies; k++) {
		const struct ns_srd_policy_conf *pc = &p->rc->policies[k];
		const struct pol_state *s = &p->st[k];

		if (!j) {
			if (!s->fired)
				fprintf(f, "  %-16s when %-4s never triggered\n", pc->name,
					pc->on_up ? "up" : "down");
			else
				fprintf(f, "  %-16s when %-4s %s, triggered %llu times, last %llu ms "
					"ago by %s: %s%s%s\n", pc->name, pc->on_up ? "up" : "down",
					s->engaged ? "engaged" : "idle", (unsigned long long)s->fired,
					(unsigned long long)(now - s->last_ms), s->last_event, s->last,
					s->hook_result[0] ? "; hook " : "", s->hook_result);
			continue;
		}
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", pc->name);
		ctl_json_kv_string(j, "when", pc->on_up ? "up" : "down");
		ctl_json_kv_bool(j, "engaged", s->engaged);
		ctl_json_kv_uint(j, "triggered", s->fired);
		ctl_json_kv_uint(j, "failures", s->failures);
		if (s->fired)
			ctl_json_kv_uint(j, "last_ms", now - s->last_ms);
		ctl_json_kv_string(j, "last_event", s->last_event);
		ctl_json_kv_string(j, "last_action", s->last);
		ctl_json_kv_string(j, "hook", s->hook_result);
		ctl_json_end_object(j);
	}
	if (j)
		ctl_json_end_array(j);
}
