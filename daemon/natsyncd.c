// SPDX-License-Identifier: GPL-2.0
/*
 * natsyncd.c - the natsync control daemon: config -> BPF load/pin/attach ->
 * one event loop (signals, aging timer, ring buffer, control socket) ->
 * clean detach. Lifecycle, signals and files: doc/daemon.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "aging.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "loader.h"
#include "redundancy.h"
#include "log.h"
#include "sync.h"
#include "util.h"

struct opts {
	const char *config;
	const char *pid_file;
	bool foreground, check, debug, purge;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: natsyncd -c FILE [-f] [-d] [-p PIDFILE]\n"
		"       natsyncd -c FILE --check\n"
		"       natsyncd -c FILE --purge\n"
		"\n"
		"natsync control daemon: loads the XDP/TC fast path, pins its maps under the\n"
		"configured pin-path, fills the rule and pool maps, ages sessions, logs\n"
		"session/NAT events and serves natsyncctl on the control socket.\n"
		"\n"
		"  -c, --config FILE    configuration file (required)\n"
		"  -f, --foreground     stay in the foreground (default: daemonize)\n"
		"  -d, --debug          log at debug level (includes libbpf/libxdp messages)\n"
		"  -p, --pid-file FILE  write the daemon's pid to FILE\n"
		"      --check          validate FILE, print OK or FILE:LINE: key: reason, exit 0/1\n"
		"      --purge          detach natsync programs left on the configured interfaces\n"
		"                       and remove <pin-path>/v2 (all pinned state), then exit\n"
		"  -h, --help           this text\n"
		"\n"
		"signals: SIGTERM/SIGINT detach and exit 0 (pinned maps and sessions stay);\n"
		"SIGHUP re-reads FILE and rewrites rules/pools if valid (else keeps the old).\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'C' },
		{ "purge", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:fdp:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'p': o->pid_file = optarg; break;
		case 'C': o->check = true; break;
		case 'P': o->purge = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || !o->config) {
		fprintf(stderr, "natsyncd: %s\n", o->config ? "unexpected argument" :
			"-c FILE is required");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* ---- libbpf / libxdp messages through log.h -------------------------------- */

static void log_lib(int level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_msg(level, "%s", msg);
}

/* libbpf's own debug output (every ELF section, every relocation) only
 * with -d; a config "debug" level shows natsync's debug lines only. */
static bool lib_debug;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !lib_debug)
		return 0;
	log_lib(level == LIBBPF_WARN ? 1 : 3, fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_DEBUG && !lib_debug)
		return 0;
	log_lib(level == LIBXDP_WARN ? 1 : 3, fmt, ap);
	return 0;
}

/* ---- signals and reload ---------------------------------------------------- */

static bool same_ifaces(const struct ns_config *a, const struct ns_config *b)
{
	return a->n_ifaces == b->n_ifaces &&
	       !memcmp(a->ifaces, b->ifaces, sizeof(a->ifaces[0]) * a->n_ifaces);
}

/*
 * SIGHUP: re-validate the file; if valid, rewrite rules, pools and service
 * sets. What the running maps and attachments depend on (interfaces,
 * pin-path, max-sessions, control socket) needs a restart: a reload that
 * changes it is refused as a whole, so the running config stays coherent.
 */
static int reload(struct ns_daemon *d)
{
	static struct ns_config nc; /* large: not on the stack */
	char err[NS_CONF_ERR_MAX];

	if (ns_config_load(d->conf.path, &nc, err, sizeof(err))) {
		pr_err("reload: %s: keeping the running config", err);
		goto fail;
	}
	if (!same_ifaces(&d->conf, &nc) || strcmp(d->conf.pin_path, nc.pin_path) ||
	    d->conf.max_sessions != nc.max_sessions ||
	    strcmp(d->conf.control_socket, nc.control_socket) ||
	    d->conf.aging_interval_ms != nc.aging_interval_ms) {
		pr_err("reload: interfaces, pin-path, max-sessions, control-socket or "
		       "aging-interval-ms changed: restart natsyncd to apply; keeping the "
		       "running config");
		goto fail;
	}
	/* The new config goes into the bank not in force and is flipped in
	 * with one store: a failure before the flip leaves the running
	 * config in force, whole (loader.c). */
	if (ns_loader_write_config(d, &nc)) {
		pr_err("reload: writing the maps failed: the running config stays in force");
		goto fail;
	}
	d->conf = nc;
	sync_reconfigure(d); /* role to the fast path again, re-handshake if the fingerprint changed */
	red_reconfigure(d);  /* priority, preempt, dead-interval, new VIPs/routes */
	log_set_level(lib_debug ? NS_LOG_DEBUG : nc.log_level); /* -d wins */
	d->st.reloads++;
	pr_info("reload: %s applied", nc.path);
	return 0;
fail:
	d->st.reload_failures++;
	return -1;
}

static void on_signal(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	struct ns_daemon *d = arg;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			pr_info("SIGHUP: reloading %s", d->conf.path);
			reload(d);
			break;
		default:
			pr_info("%s: shutting down", strsignal((int)si.ssi_signo));
			/* A primary hands over first: the redundancy module stops
			 * the loop once its peer has taken over (a second signal
			 * stops it at once). */
			if (!red_shutdown_begin(d))
				loop_stop(loop);
			return;
		}
	}
}

static int ctl_reload(struct ns_daemon *d, const struct ctl_request *req, struct ctl_out *out,
		      void *arg)
{
	(void)req;
	(void)arg;
	if (reload(d))
		return ctl_out_error(out, "reload failed: running config kept (see the log)");
	if (out->j)
		return 0;
	fprintf(out->f, "reloaded %s\n", d->conf.path);
	return 0;
}

static int signals_init(struct ns_daemon *d, sigset_t *mask)
{
	int fd, err;

	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN); /* a vanished control client must not kill us */
	fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = loop_add(d->loop, fd, EPOLLIN, on_signal, d);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* ---- daemonize ------------------------------------------------------------ */

/*
 * Daemonizing happens before anything is opened: a signalfd watched by an
 * epoll set does not wake the epoll of a forked child (its wait queue is
 * the parent's), and libbpf's ring buffer has its own epoll. Yet a failure
 * while loading must still reach the caller's terminal and exit status, so
 * the caller waits on a pipe: the daemon writes one byte when it runs; if
 * it exits first, the caller reads EOF and exits 1.
 */
static int daemonize_start(int *ready_fd)
{
	int p[2], fd;
	char ok;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	umask(022);
	if (chdir("/"))
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	*ready_fd = p[1];
	return 0;
}

/* Tell the waiting caller we run; from now on stderr goes nowhere. */
static void daemonize_done(int ready_fd)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (write(ready_fd, "1", 1) != 1)
		pr_warn("daemonize: cannot notify the caller: %s", strerror(errno));
	close(ready_fd);
}

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) ? -errno : 0;
}

/* ---- main ----------------------------------------------------------------- */

static struct ns_daemon daemon_state; /* large (config): static, not stack */

static int load_config(const struct opts *o, struct ns_config *c)
{
	char err[NS_CONF_ERR_MAX];

	if (ns_config_load(o->config, c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ns_daemon *d = &daemon_state;
	struct ns_control *ctl = NULL;
	struct opts o = {0};
	sigset_t mask;
	int err = 0, sig_fd = -1, ready_fd = -1;
	char pid_path[PATH_MAX];
	bool pid_written = false;

	d->aging_timer_fd = -1;
	ns_loader_init_fds(&d->fd);
	if (parse_args(argc, argv, &o))
		return 2;
	if (load_config(&o, &d->conf))
		return 1;
	if (o.check) {
		printf("OK\n");
		return 0;
	}
	d->foreground = o.foreground;
	log_init("natsyncd", o.debug ? NS_LOG_DEBUG : d->conf.log_level, d->conf.log_file,
		 d->conf.log_syslog);
	lib_debug = o.debug;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
	if (o.purge) {
		err = ns_loader_purge(&d->conf);
		log_close();
		return err ? 1 : 0;
	}
	/* The daemon runs in /: a relative pid file means the caller's cwd. */
	if (o.pid_file && o.pid_file[0] != '/' && getcwd(pid_path, sizeof(pid_path)) &&
	    strlen(pid_path) + strlen(o.pid_file) + 2 <= sizeof(pid_path)) {
		strcat(pid_path, "/");
		strcat(pid_path, o.pid_file);
		o.pid_file = pid_path;
	}
	if (!o.foreground) {
		err = daemonize_start(&ready_fd);
		if (err) {
			pr_err("daemonize: %s", strerror(-err));
			goto cleanup;
		}
	}
	d->started_ns = ns_now();
	d->loop = loop_new();
	if (!d->loop) {
		err = -ENOMEM;
		goto cleanup;
	}
	sig_fd = signals_init(d, &mask);
	if (sig_fd < 0) {
		err = sig_fd;
		pr_err("signals: %s", strerror(-err));
		goto cleanup;
	}
	err = ns_loader_load(d);
	if (!err)
		err = ns_loader_write_config(d, &d->conf);
	if (!err)
		err = ns_loader_attach(d);
	if (!err && d->fd.events >= 0)
		err = ns_events_init(d);
	if (!err)
		err = ns_aging_init(d);
	if (err)
		goto cleanup;
	ctl = ns_control_open(d, &err);
	if (!ctl) {
		pr_err("control socket %s: %s", d->conf.control_socket, strerror(-err));
		goto cleanup;
	}
	ns_control_set_handler(ctl, CTL_RELOAD, ctl_reload, NULL);
	/* Session sync (no-op without redundancy): after the maps are filled,
	 * since it takes its initial role from conf.cfg.flags. */
	/* Redundancy before sync: it owns the role (starts undecided, ACTIVE
	 * cleared) and sync asks it; no-op without redundancy-options. */
	err = red_init(d);
	if (err) {
		pr_err("redundancy: %s", strerror(-err));
		goto cleanup;
	}
	err = sync_init(d);
	if (err) {
		pr_err("sync: %s", strerror(-err));
		goto cleanup;
	}
	if (d->red) {
		ns_control_set_handler(ctl, CTL_SHOW_REDUNDANCY, red_ctl_show, NULL);
		ns_control_set_handler(ctl, CTL_SWITCHOVER, red_ctl_switchover, NULL);
		ns_control_set_handler(ctl, CTL_ROLE_PRIMARY, red_ctl_role, (void *)1);
		ns_control_set_handler(ctl, CTL_ROLE_BACKUP, red_ctl_role, NULL);
	}
	if (d->sync)
		ns_control_set_handler(ctl, CTL_SHOW_SYNC, sync_ctl_show, NULL);
	if (o.pid_file) {
		err = write_pid_file(o.pid_file);
		if (err)
			pr_warn("pid file %s: %s", o.pid_file, strerror(-err));
		pid_written = !err;
		err = 0;
	}
	if (ready_fd >= 0)
		daemonize_done(ready_fd);
	pr_info("natsyncd running (node %s, %u interfaces, pins under %s/%s)",
		d->conf.node_name, d->conf.n_ifaces, d->conf.pin_path, NS_PIN_SUBDIR);
	err = loop_run(d->loop);
	if (err)
		pr_err("event loop: %s", strerror(-err));
cleanup:
	/* Reverse order of setup; each step copes with never having run.
	 * A primary that stops cleanly hands over first: red_fini queues the
	 * release heartbeat that sync_fini flushes. */
	red_fini(d, !err);
	sync_fini(d);
	ns_control_close(ctl);
	ns_aging_fini(d);
	ns_events_fini(d);
	ns_loader_detach(d);
	ns_loader_close(d);
	if (sig_fd >= 0) {
		loop_del(d->loop, sig_fd);
		close(sig_fd);
	}
	loop_free(d->loop);
	if (pid_written)
		unlink(o.pid_file);
	pr_info("natsyncd exiting%s", err ? " after an error" : "");
	log_close();
	return err ? 1 : 0;
}
