/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control.h - natsyncd's control socket (server side of natsyncctl).
 *
 * A unix SOCK_STREAM socket at conf.control_socket, mode 0600, served from
 * the daemon's event loop without ever blocking it: non-blocking accept, the
 * request line read with a size cap and a deadline, the whole response built
 * in memory in chunks (ctl_buf.h) and written as the socket accepts it, at
 * most CTL_SEND_MAX bytes per callback. One request per connection; the
 * framing and grammar are in ctlproto.h.
 *
 * The "show sessions/pools/counters/config/status" commands are built in
 * (ctl_sessions.c, ctl_pools.c, ctl_status.c), answered from the pinned
 * maps and d->conf/d->st. Commands that belong to other
 * modules (show sync, show redundancy, switchover, reload) are answered by
 * the handler those modules register with ns_control_set_handler(); until
 * one is registered the client gets "ERR <command>: not available ...".
 */
#ifndef NATSYNC_CONTROL_H
#define NATSYNC_CONTROL_H

#include <stdio.h>

#include "ctlproto.h"
#include "mapwalk.h"

struct ns_daemon;
struct ns_control;

#define CTL_MAX_CLIENTS 8           /* concurrent connections */
#define CTL_READ_TIMEOUT_MS 5000    /* whole request line must arrive by then */
#define CTL_WRITE_TIMEOUT_MS 30000  /* a client that stops reading is dropped */
#define CTL_SEND_MAX (1024u * 1024) /* answer bytes sent per callback (~1 ms) */

/*
 * Where a handler writes its answer. In JSON mode (req->json) write exactly
 * one JSON document through j; otherwise write text to f (j is NULL).
 * "OK\n" is added by the server; on failure return ctl_out_error(...).
 */
struct ctl_out {
	FILE *f;
	struct ctl_json *j;
	char err[CTL_ERR_MAX];
	/* Work that walks maps runs in slices: a handler may stop once
	 * deadline (ns_now() clock; 0: none) has passed and return CTL_MORE,
	 * keeping its state in cont (freed with cont_free if the client goes
	 * away); it is called again with the same out after the loop's other
	 * pending events, until it returns 0 or -1.
	 * Work done elsewhere (a thread of the handler's) is waited for, not
	 * polled: the handler sets wait_fd and returns CTL_WAIT, and is called
	 * again once wait_fd is readable (the handler owns the fd: it must stay
	 * open until cont_free; the server only watches it meanwhile). */
	uint64_t deadline;
	void *cont;
	void (*cont_free)(void *cont);
	int wait_fd;
};

#define CTL_MORE 1
#define CTL_WAIT 2

/*
 * A command handler. Returns 0 (the body written to out is sent after
 * "OK"), -1 after ctl_out_error() (the body is discarded and the client
 * gets "ERR <message>"), CTL_MORE or CTL_WAIT (see ctl_out). Runs on the
 * event loop: must not block.
 */
typedef int (*ns_ctl_handler)(struct ns_daemon *d, const struct ctl_request *req,
			      struct ctl_out *out, void *arg);

/*
 * A command that walks maps in slices (CTL_MORE) keeps this first in its
 * state (out->cont): a copy of its request (the walks' visitors may point
 * to it; the handler may resolve it) and its walks, added to q on the first
 * call (ns_walk_seq_add, mapwalk.h).
 */
struct ctl_walk {
	struct ctl_request r;
	struct ns_walk_seq q;
	void (*fini)(struct ctl_walk *cw); /* frees what else the state holds */
};

/*
 * ctl_walk_new - on a walking command's first call (out->cont NULL): a
 * zeroed state of size bytes, struct ctl_walk first, with r = *req, made
 * out->cont and freed when the command ends or its client goes away
 * (fini first, if not NULL). NULL, out's error set, when out of memory.
 */
void *ctl_walk_new(struct ctl_out *out, const struct ctl_request *req, size_t size,
		   void (*fini)(struct ctl_walk *cw));

/*
 * ctl_walk_step - the walks' next slice, until out->deadline: 0 when every
 * walk is done, CTL_MORE when the deadline came first (return it), -1 on
 * an error, out's error set to "<what>reading <map>: <why>" (return it).
 */
int ctl_walk_step(struct ctl_out *out, struct ctl_walk *cw, const char *what);

/* Whole seconds from one ns_now() instant to a later one (0 if not later). */
uint64_t ctl_secs_between(uint64_t from, uint64_t to);

/* "a.b.c.d:port" of a network-order address and port into buf; returns buf. */
const char *ctl_fmt_ep(uint32_t be_addr, uint16_t be_port, char *buf, size_t len);

/* key: {"addr": "a.b.c.d", "port": N} (network-order address and port). */
void ctl_json_ep(struct ctl_json *j, const char *key, uint32_t be_addr, uint16_t be_port);

/*
 * ctl_sessions_ready - before a walk of the sessions by req's filters
 * (show sessions, clear sessions): resolve its names (svc=) and check the
 * session map's layout. 0, or -1 with the reason set in out.
 */
int ctl_sessions_ready(struct ns_daemon *d, struct ctl_request *r, struct ctl_out *out);

/* Set out->err from a printf format; always returns -1. */
int ctl_out_error(struct ctl_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * ns_control_open - create the control socket at d->conf.control_socket and
 * register it on d->loop. A stale socket file (nobody accepting) is
 * replaced; a live one (another daemon answers) is an error, -EADDRINUSE.
 * Returns the server, or NULL with *err = -errno.
 */
struct ns_control *ns_control_open(struct ns_daemon *d, int *err);

/* How many times a request was paused to let the loop run (CTL_MORE or
 * CTL_WAIT). */
uint64_t ns_control_slices(const struct ns_control *c);

/* How many callbacks sent part of an answer, and the most bytes one sent
 * (at most CTL_SEND_MAX). */
void ns_control_send_stats(const struct ns_control *c, uint64_t *sends, size_t *send_max);

/*
 * ns_control_set_handler - answer cmd with fn (replacing any built-in
 * handler), or restore "not available" with fn == NULL.
 * Returns 0, or -EINVAL for an unknown cmd.
 */
int ns_control_set_handler(struct ns_control *c, enum ctl_cmd cmd, ns_ctl_handler fn,
			   void *arg);

/*
 * ns_control_close - drop every client, unregister from the loop, close the
 * socket and unlink its file (only if it is still the one we created).
 * NULL is a no-op.
 */
void ns_control_close(struct ns_control *c);

/*
 * ns_control_answer - build the full response to one request line, exactly
 * as the socket would send it ("OK\n..." or "ERR ...\n"), into a malloc'd
 * buffer, in one call: a handler's slices run back to back and its
 * CTL_WAIT is waited for here (it blocks: for tests and tools, never on
 * the event loop). Returns 0, or -ENOMEM.
 */
int ns_control_answer(struct ns_control *c, const char *line, size_t len, char **resp,
		      size_t *resp_len);

#endif
