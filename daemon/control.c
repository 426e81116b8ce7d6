// SPDX-License-Identifier: GPL-2.0
/*
 * control.c - the control socket server and request dispatch (see control.h
 * for the contract, ctlproto.h for the protocol). The built-in commands are
 * in ctl_sessions.c, ctl_pools.c and ctl_status.c (control_int.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "ctl_buf.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#define NSEC_PER_MSEC 1000000ull
#define CTL_SWEEP_MS 500          /* how often deadlines are checked */

enum client_state { CL_FREE = 0, CL_READ, CL_WORK, CL_WRITE };

/* A request being answered over several slices (CL_WORK). */
struct ctl_work {
	struct ctl_request req;
	struct ctl_out out;
	struct ctl_json j;
	struct ctl_buf ob;           /* out.f writes here */
};

struct ctl_client {
	int fd;
	enum client_state state;
	uint64_t deadline_ns;
	size_t in_len;
	char in[CTL_MAX_LINE];
	struct ctl_buf out;          /* the answer, sent as the socket takes it */
	struct ctl_work *work;       /* CL_WORK; waits on work->out.wait_fd if >= 0 */
};

struct ctl_handler_slot {
	ns_ctl_handler fn;
	void *arg;
};

struct ns_control {
	struct ns_daemon *d;
	int lfd;
	int kfd;                     /* eventfd: the next slice of CL_WORK requests */
	uint64_t slices;             /* handler calls that returned CTL_MORE/WAIT */
	uint64_t sends;              /* client_flush calls that sent something */
	size_t send_max;             /* the most bytes one of them sent */
	int timer_fd;                /* deadline sweep, only while clients exist */
	unsigned int n_clients;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                   /* identity of the socket file we bound */
	ino_t ino;
	struct ctl_client cl[CTL_MAX_CLIENTS];
	struct ctl_handler_slot h[CTL_CMD_MAX];
};

int ctl_out_error(struct ctl_out *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->err, sizeof(out->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- request dispatch ----------------------------------------------------- */

/* Slice length of a request that walks maps (ctl_out.deadline). */
#define CTL_SLICE_NS (5ull * 1000000)

/* Open w's answer ("OK\n", then the body) and check that req has a handler. */
static int work_start(struct ns_control *c, struct ctl_work *w, char *err, size_t errlen)
{
	char name[32];

	if (!c->h[w->req.cmd].fn) {
		bool ha = w->req.cmd == CTL_SHOW_SYNC || w->req.cmd == CTL_SHOW_REDUNDANCY ||
			  w->req.cmd == CTL_SWITCHOVER || w->req.cmd == CTL_ROLE_PRIMARY ||
			  w->req.cmd == CTL_ROLE_BACKUP;

		snprintf(err, errlen, "%s: not available (%s)",
			 ctl_command_name(w->req.cmd, name, sizeof(name)),
			 ha && !c->d->conf.red.enabled ? "redundancy is not configured"
						       : "not provided by this daemon");
		return -1;
	}
	w->out.f = ctl_buf_open(&w->ob);
	if (!w->out.f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fputs("OK\n", w->out.f);
	if (w->req.json) {
		ctl_json_init(&w->j, w->out.f);
		w->out.j = &w->j;
	}
	return 0;
}

/* One call of the handler; 0 done, CTL_MORE, CTL_WAIT, -1 (err set). */
static int work_step(struct ns_control *c, struct ctl_work *w, uint64_t deadline, char *err,
		     size_t errlen)
{
	struct ctl_handler_slot *h = &c->h[w->req.cmd];
	char name[32];
	int r;

	w->out.deadline = deadline;
	w->out.wait_fd = -1;
	r = h->fn(c->d, &w->req, &w->out, h->arg);
	if (r != CTL_WAIT)
		w->out.wait_fd = -1; /* >= 0 only while waited on */
	if (r == CTL_MORE || (r == CTL_WAIT && w->out.wait_fd >= 0))
		return r;
	if (r) {
		snprintf(err, errlen, "%s", w->out.err[0] ? w->out.err : "command failed");
		return -1;
	}
	if (w->out.j && (w->j.error || w->j.depth)) {
		snprintf(err, errlen, "internal error: malformed JSON from %s",
			 ctl_command_name(w->req.cmd, name, sizeof(name)));
		return -1;
	}
	if (w->out.j)
		fputc('\n', w->out.f);
	return 0;
}

/* Move the answer of w (its body, or "ERR err" when ret failed) into the
 * empty *resp; frees w's stream and handler state. 0, or -ENOMEM. */
static int work_finish(struct ctl_work *w, int ret, const char *err, struct ctl_buf *resp)
{
	char line[CTL_ERR_MAX + 8];

	if (w->out.cont && w->out.cont_free)
		w->out.cont_free(w->out.cont);
	w->out.cont = NULL;
	if (w->out.f && (fclose(w->out.f) || w->ob.nomem) && !ret) {
		ret = -1;
		err = "out of memory";
	}
	w->out.f = NULL;
	if (!ret) {
		*resp = w->ob;
		memset(&w->ob, 0, sizeof(w->ob));
		return 0;
	}
	ctl_buf_free(&w->ob);
	pr_debug("control: request refused: %s", err);
	snprintf(line, sizeof(line), "ERR %s\n", err);
	return ctl_buf_append(resp, line, strlen(line));
}

/* Block until fd is readable (ns_control_answer: not on the loop). */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

int ns_control_answer(struct ns_control *c, const char *line, size_t len, char **resp,
		      size_t *resp_len)
{
	struct ctl_work w = { 0 };
	struct ctl_buf b = { 0 };
	char err[CTL_ERR_MAX] = "";
	int ret;

	ret = ctl_parse_request(line, len, &w.req, err, sizeof(err));
	if (!ret)
		ret = work_start(c, &w, err, sizeof(err));
	if (!ret)
		while ((ret = work_step(c, &w, 0, err, sizeof(err))) == CTL_MORE ||
		       ret == CTL_WAIT)
			if (ret == CTL_WAIT)
				wait_readable(w.out.wait_fd);
	if (work_finish(&w, ret, err, &b)) {
		ctl_buf_free(&b);
		return -ENOMEM;
	}
	*resp = ctl_buf_join(&b, resp_len);
	return *resp ? 0 : -ENOMEM;
}

/* ---- the socket server ---------------------------------------------------- */

static void client_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg);

static void sweep_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg);

/* The deadline sweep only ticks while there is a client to time out. */
static void sweep_update(struct ns_control *c)
{
	int fd;

	if (c->n_clients && c->timer_fd < 0) {
		fd = loop_add_timer(c->d->loop, CTL_SWEEP_MS, sweep_cb, c);
		if (fd < 0)
			pr_warn("control: no deadline timer: %s", strerror(-fd));
		else {
			c->timer_fd = fd;
			loop_set_name(c->d->loop, fd, "control deadlines");
		}
	} else if (!c->n_clients && c->timer_fd >= 0) {
		loop_del(c->d->loop, c->timer_fd); /* closes the timerfd */
		c->timer_fd = -1;
	}
}

/* Read what the client sent beyond its request line: closing a socket with
 * unread data resets the connection and could cut off our answer. */
static void client_drain(int fd)
{
	char buf[512];

	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
}

static void client_drop(struct ns_control *c, struct ctl_client *cl)
{
	if (cl->work) { /* gone while its answer was being made */
		if (cl->work->out.wait_fd >= 0)
			loop_del(c->d->loop, cl->work->out.wait_fd); /* the handler's to close */
		work_finish(cl->work, -1, "client gone", &cl->out);
		free(cl->work);
	}
	loop_del(c->d->loop, cl->fd);
	client_drain(cl->fd);
	close(cl->fd);
	ctl_buf_free(&cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	cl->state = CL_FREE;
	c->n_clients--;
	sweep_update(c);
}

/*
 * Write what the socket takes, at most CTL_SEND_MAX bytes per call: a
 * client that reads as fast as we send would otherwise keep this callback
 * copying a whole large answer. The rest goes on the next EPOLLOUT. Drop
 * the client when done or broken.
 */
static void client_flush(struct ns_control *c, struct ctl_client *cl)
{
	ssize_t n = cl->out.len ? ctl_buf_send(&cl->out, cl->fd, CTL_SEND_MAX) : 0;

	if (n > 0) {
		c->sends++;
		if ((size_t)n > c->send_max)
			c->send_max = (size_t)n;
	}
	if (cl->out.len && (n > 0 || n == -EAGAIN || n == -EWOULDBLOCK)) {
		/* the timeout is for a client that stops reading */
		if (cl->state != CL_WRITE || n > 0)
			cl->deadline_ns = ns_now() + CTL_WRITE_TIMEOUT_MS * NSEC_PER_MSEC;
		if (cl->state != CL_WRITE) {
			cl->state = CL_WRITE;
			loop_mod(c->d->loop, cl->fd, EPOLLOUT);
		}
		return;
	}
	if (n < 0)
		pr_debug("control: client went away: %s", strerror((int)-n));
	client_drop(c, cl);
}

static const char ctl_nomem[] = "ERR out of memory\n";

/* A fixed answer (the request was not run). */
static void client_set_answer(struct ctl_client *cl, const char *msg)
{
	ctl_buf_free(&cl->out);
	ctl_buf_append(&cl->out, msg, strlen(msg));
}

static void wait_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg);

/* One slice of cl's request; its answer is sent when the handler is done. */
static void client_work(struct ns_control *c, struct ctl_client *cl)
{
	struct ctl_work *w = cl->work;
	char err[CTL_ERR_MAX] = "";
	uint64_t one = 1;
	int ret = work_step(c, w, ns_now() + CTL_SLICE_NS, err, sizeof(err));

	if (ret == CTL_MORE || ret == CTL_WAIT) {
		c->slices++;
		if (cl->state != CL_WORK) /* nothing to read meanwhile */
			loop_mod(c->d->loop, cl->fd, 0);
		cl->state = CL_WORK;
		if (ret == CTL_WAIT) {
			/* resumed by wait_cb, not by the kick: the loop sleeps meanwhile */
			ret = loop_add(c->d->loop, w->out.wait_fd, EPOLLIN, wait_cb, c);
			if (!ret) {
				loop_set_name(c->d->loop, w->out.wait_fd, "control wait");
				return;
			}
			snprintf(err, sizeof(err), "cannot wait for the answer: %s",
				 strerror(-ret));
			ret = -1;
		} else {
			if (write(c->kfd, &one, sizeof(one)) != sizeof(one))
				pr_warn("control: cannot schedule the next slice: %s",
					strerror(errno));
			return;
		}
	}
	if (work_finish(w, ret, err, &cl->out))
		client_set_answer(cl, ctl_nomem);
	free(w);
	cl->work = NULL;
	cl->state = CL_READ; /* client_flush moves it on */
	client_flush(c, cl);
}

static void client_respond(struct ns_control *c, struct ctl_client *cl, const char *line,
			   size_t len)
{
	char err[CTL_ERR_MAX] = "";
	struct ctl_work *w = calloc(1, sizeof(*w));
	int ret;

	if (!w) {
		client_set_answer(cl, ctl_nomem);
		client_flush(c, cl);
		return;
	}
	w->out.wait_fd = -1;
	cl->work = w;
	ret = ctl_parse_request(line, len, &w->req, err, sizeof(err));
	if (!ret)
		ret = work_start(c, w, err, sizeof(err));
	if (!ret) {
		client_work(c, cl);
		return;
	}
	if (work_finish(w, ret, err, &cl->out))
		client_set_answer(cl, ctl_nomem);
	free(w);
	cl->work = NULL;
	client_flush(c, cl);
}

/* The next slice of every request still being answered. */
static void kick_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state == CL_WORK && c->cl[i].work && c->cl[i].work->out.wait_fd < 0)
			client_work(c, &c->cl[i]);
}

/* What a CTL_WAIT handler waited for is ready: its next call. */
static void wait_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;

	(void)events;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->cl[i];

		if (cl->work && cl->work->out.wait_fd == fd) {
			loop_del(loop, fd);
			client_work(c, cl);
			return;
		}
	}
	loop_del(loop, fd); /* nobody waits on it any more */
}

/* Send a fixed error at once and drop: used before any request was read. */
static void client_refuse(struct ns_control *c, struct ctl_client *cl, const char *msg)
{
	client_set_answer(cl, msg);
	client_flush(c, cl);
}

static void client_read(struct ns_control *c, struct ctl_client *cl)
{
	char *nl;
	ssize_t n;

	for (;;) {
		n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* wait for more, the deadline bounds the wait */
		if (n < 0) {
			client_drop(c, cl);
			return;
		}
		if (n == 0) {
			/* EOF without newline: what was sent is the request. */
			if (cl->in_len)
				client_respond(c, cl, cl->in, cl->in_len);
			else
				client_drop(c, cl);
			return;
		}
		nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
		cl->in_len += (size_t)n;
		if (nl) {
			client_respond(c, cl, cl->in, (size_t)(nl - cl->in) + 1);
			return;
		}
		if (cl->in_len == sizeof(cl->in)) {
			client_refuse(c, cl, "ERR request too long (max 1023 bytes)\n");
			return;
		}
	}
}

static void client_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	struct ctl_client *cl = NULL;

	(void)loop;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state != CL_FREE && c->cl[i].fd == fd)
			cl = &c->cl[i];
	if (!cl)
		return;
	if (cl->state == CL_WORK) {
		if (events & (EPOLLERR | EPOLLHUP))
			client_drop(c, cl); /* gone: nobody to answer */
		return;
	}
	if (cl->state == CL_READ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		client_read(c, cl);
	else if (cl->state == CL_WRITE && (events & EPOLLERR))
		client_drop(c, cl);
	else if (cl->state == CL_WRITE && (events & (EPOLLOUT | EPOLLHUP)))
		client_flush(c, cl);
}

static void sweep_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_control *c = arg;
	uint64_t now = ns_now();

	(void)loop;
	(void)fd;
	(void)events;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->cl[i];

		/* a request being answered is bounded and moves on */
		if (cl->state == CL_FREE || cl->state == CL_WORK || now < cl->deadline_ns)
			continue;
		pr_debug("control: dropping client: %s timed out",
			 cl->state == CL_READ ? "request" : "response");
		client_drop(c, cl);
	}
}

static struct ctl_client *client_slot(struct ns_control *c)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state == CL_FREE)
			return &c->cl[i];
	return NULL;
}

static void accept_cb(struct ns_loop *loop, int lfd, uint32_t events, void *arg)
{
	static const char busy[] = "ERR too many clients, try again\n";
	struct ns_control *c = arg;
	struct ctl_client *cl;
	int fd, err;

	(void)events;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				pr_warn("control: accept: %s", strerror(errno));
			if (errno == EINTR)
				continue;
			return;
		}
		cl = client_slot(c);
		if (!cl) {
			/* Best effort: the socket buffer of a new connection is empty. */
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				pr_debug("control: busy reply: %s", strerror(errno));
			close(fd);
			continue;
		}
		err = loop_add(loop, fd, EPOLLIN, client_cb, c);
		if (err) {
			pr_warn("control: cannot watch client: %s", strerror(-err));
			close(fd);
			continue;
		}
		loop_set_name(loop, fd, "control client");
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		cl->state = CL_READ;
		cl->deadline_ns = ns_now() + CTL_READ_TIMEOUT_MS * NSEC_PER_MSEC;
		c->n_clients++;
		sweep_update(c);
	}
}

/*
 * A socket file left by a daemon that died is stale if nobody accepts on it;
 * only then may it be removed. Returns 0 when the path is free now.
 */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st)) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST; /* never remove a file that is not a socket */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	pr_info("control: removing stale socket %s", sa->sun_path);
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

/* Bind with mode 0600 from the start: umask covers the window before chmod. */
static int bind_private(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;

	umask(old);
	if (ret)
		return -err;
	return chmod(sa->sun_path, 0600) ? -errno : 0;
}

static int control_listen(struct ns_control *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int err;

	if (!c->path[0] || strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	err = clear_stale(&sa);
	if (err)
		return err;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -errno;
	err = bind_private(c->lfd, &sa);
	if (err)
		return err;
	if (stat(c->path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	if (listen(c->lfd, CTL_MAX_CLIENTS))
		return -errno;
	return loop_add(c->d->loop, c->lfd, EPOLLIN, accept_cb, c);
}

struct ns_control *ns_control_open(struct ns_daemon *d, int *err)
{
	struct ns_control *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->d = d;
	c->lfd = -1;
	c->kfd = -1;
	c->timer_fd = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	ns_strlcpy(c->path, d->conf.control_socket, sizeof(c->path));
	c->h[CTL_SHOW_SESSIONS].fn = ctl_show_sessions;
	c->h[CTL_SHOW_POOLS].fn = ctl_show_pools;
	c->h[CTL_SHOW_COUNTERS].fn = ctl_show_counters;
	c->h[CTL_SHOW_CONFIG].fn = ctl_show_config;
	c->h[CTL_SHOW_STATUS].fn = ctl_show_status;
	if (!d->loop) {
		/* No loop (tests): ns_control_answer() works, no socket. */
		return c;
	}
	c->kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->kfd < 0 || loop_add(d->loop, c->kfd, EPOLLIN, kick_cb, c)) {
		ret = c->kfd < 0 ? -errno : -EIO;
		pr_err("control: cannot set up request slices: %s", strerror(-ret));
		ns_control_close(c);
		*err = ret;
		return NULL;
	}
	loop_set_name(d->loop, c->kfd, "control slices");
	ret = control_listen(c);
	if (ret) {
		pr_err("control: cannot listen on %s: %s", c->path,
		       ret == -EADDRINUSE ? "another natsyncd answers there" : strerror(-ret));
		ns_control_close(c);
		*err = ret;
		return NULL;
	}
	pr_info("control: listening on %s", c->path);
	return c;
}

uint64_t ns_control_slices(const struct ns_control *c)
{
	return c->slices;
}

void ns_control_send_stats(const struct ns_control *c, uint64_t *sends, size_t *send_max)
{
	*sends = c->sends;
	*send_max = c->send_max;
}

int ns_control_set_handler(struct ns_control *c, enum ctl_cmd cmd, ns_ctl_handler fn,
			   void *arg)
{
	if (cmd <= CTL_CMD_NONE || cmd >= CTL_CMD_MAX)
		return -EINVAL;
	c->h[cmd].fn = fn;
	c->h[cmd].arg = arg;
	return 0;
}

/* Unlink the path only if it is still our socket, not a successor's. */
static void unlink_own(struct ns_control *c)
{
	struct stat st;

	if (!c->ino || stat(c->path, &st))
		return;
	if (st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
}

void ns_control_close(struct ns_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].state != CL_FREE)
			client_drop(c, &c->cl[i]);
	if (c->lfd >= 0) {
		loop_del(c->d->loop, c->lfd);
		close(c->lfd);
		unlink_own(c);
	}
	if (c->timer_fd >= 0)
		loop_del(c->d->loop, c->timer_fd);
	if (c->kfd >= 0) {
		if (c->d->loop)
			loop_del(c->d->loop, c->kfd);
		close(c->kfd);
	}
	free(c);
}
