/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctlproto.h - the natsyncd control protocol, as pure code: the request
 * grammar and its parser, the session filter, the JSON writer and the name
 * tables. No sockets, no maps, no daemon state, so everything here can be
 * unit-tested and fuzzed. The server lives in control.c, the client in
 * natsyncctl.c; both use this parser, so they can never disagree.
 *
 * Framing (one request per connection):
 *   client -> daemon: one line of text, at most CTL_MAX_LINE bytes including
 *                     the '\n' (EOF may stand for the newline);
 *   daemon -> client: "OK\n" followed by the body (a human table, or one JSON
 *                     document when json=1), or "ERR <message>\n" and nothing
 *                     else; then the daemon closes the connection.
 *
 * Request grammar (tokens separated by blanks):
 *   request  = command *( key "=" value )
 *   command  = "show" ( "sessions" | "pools" | "counters" | "config" |
 *                       "status" | "sync" | "redundancy" | "metrics" )
 *            | "show" "subscriber" ADDR | "clear" "sessions"
 *            | "switchover" | "reload"
 * Every command word may be abbreviated to an unambiguous prefix ("sh sess").
 * Every command takes json=0|1; the keys allowed per command are in the
 * command table (ctl_commands[]); anything else is an error.
 */
#ifndef NATSYNC_CTLPROTO_H
#define NATSYNC_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/natsync.h"
#include "config.h"

#define CTL_MAX_LINE 1024       /* request line, '\n' included */
#define CTL_MAX_TOKENS 24       /* command words + arguments */
#define CTL_ERR_MAX 256         /* error text, "ERR " excluded */
#define CTL_LIMIT_DEFAULT 1000  /* sessions listed unless limit= says */
#define CTL_LIMIT_MAX 100000    /* bounds the response buffer (~40 MB JSON) */
#define CTL_DEFAULT_SOCKET "/run/natsync.sock"

enum ctl_cmd {
	CTL_CMD_NONE = 0,
	CTL_SHOW_SESSIONS,
	CTL_SHOW_POOLS,
	CTL_SHOW_COUNTERS,
	CTL_SHOW_CONFIG,
	CTL_SHOW_STATUS,
	CTL_SHOW_SYNC,
	CTL_SHOW_REDUNDANCY,
	CTL_SWITCHOVER,
	CTL_RELOAD,
	CTL_ROLE_PRIMARY,       /* role-control external: keepalived notify */
	CTL_ROLE_BACKUP,
	CTL_SHOW_METRICS,       /* Prometheus text exposition (metrics.c) */
	CTL_SHOW_SUBSCRIBER,    /* one subscriber's sessions and bindings (subscriber.c) */
	CTL_CLEAR_SESSIONS,     /* drop sessions by filter (clear.c) */
	CTL_CMD_MAX,
};

/* Argument keys (bit in struct ctl_request.have, and allowed-mask bit). */
enum ctl_arg {
	CTL_ARG_JSON = 0,
	CTL_ARG_SRC,    /* subscriber (inside) address or prefix */
	CTL_ARG_DST,    /* remote address or prefix */
	CTL_ARG_NAT,    /* translated (pool) address or prefix */
	CTL_ARG_PROTO,
	CTL_ARG_SPORT,  /* subscriber port (ICMP: echo identifier) */
	CTL_ARG_DPORT,  /* remote port */
	CTL_ARG_NPORT,  /* translated (pool) port */
	CTL_ARG_SVC,    /* service-set name */
	CTL_ARG_STATE,  /* TCP state name */
	CTL_ARG_LIMIT,
	CTL_ARG_POOL,   /* pool name (show pools) */
	CTL_ARG_FORCE,  /* switchover to a backup that is not ready */
	CTL_ARG_MAX,
};

#define CTL_BIT(a) (1u << (a))

/* One entry of the command table: used for dispatch, --help and docs. */
struct ctl_command {
	enum ctl_cmd cmd;
	const char *words[2];   /* "show", "sessions"; words[1] NULL for one word */
	uint32_t args;          /* CTL_BIT(CTL_ARG_*) allowed besides json */
	const char *usage;      /* argument synopsis for --help */
	const char *help;       /* one line */
};

extern const struct ctl_command ctl_commands[];
extern const size_t ctl_n_commands;

/* A parsed request. Addresses and masks in network order, ports host order. */
struct ctl_request {
	enum ctl_cmd cmd;
	uint32_t have;          /* CTL_BIT(CTL_ARG_*) of the keys given */
	bool json;
	bool force;
	uint32_t src_addr, src_mask;
	uint32_t dst_addr, dst_mask;
	uint32_t nat_addr, nat_mask;
	uint16_t sport, dport, nport;
	uint8_t proto;
	uint8_t state;          /* enum ns_tcp_state */
	uint32_t limit;         /* CTL_LIMIT_DEFAULT unless given */
	char svc[NS_NAME_MAX];
	int svc_idx;            /* set by ctl_request_resolve(), -1 unknown */
	char pool[NS_NAME_MAX];
	int pool_idx;           /* set by ctl_request_resolve(), -1 unknown */
};

/*
 * Parse one request line of len bytes (a trailing "\n" or "\r\n" is allowed;
 * line need not be NUL-terminated). Strict: unknown commands or keys,
 * duplicate keys, bad values, NUL or control bytes, overlong input are all
 * errors. Returns 0, or -1 with a one-line reason in err (never crashes,
 * never reads beyond len).
 */
int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
		      size_t errlen);

/*
 * Resolve the names in req (svc=, pool=) against a config: fills svc_idx
 * and pool_idx. Returns 0, or -1 with "unknown service set 'x'" in err.
 */
int ctl_request_resolve(struct ctl_request *req, const struct ns_config *conf, char *err,
			size_t errlen);

/* True when session s passes every filter of a (resolved) show sessions. */
bool ctl_session_matches(const struct ctl_request *req, const struct ns_session *s);

/* The command table entry for cmd, or NULL. */
const struct ctl_command *ctl_command_find(enum ctl_cmd cmd);

/* "show sessions" etc. for cmd into buf; returns buf. */
const char *ctl_command_name(enum ctl_cmd cmd, char *buf, size_t len);

/* Key name of an argument ("src"), or NULL. */
const char *ctl_arg_name(enum ctl_arg a);

/* Names for display; never NULL ("unknown" for out-of-range values).
 * TCP state and NAT type names come from events.h (one definition). */
const char *ctl_side_name(uint8_t side);
const char *ctl_attach_mode_name(int mode);

/* ---- JSON writer ---------------------------------------------------------
 * A tiny streaming writer (bpftool json_writer style): it tracks nesting and
 * commas, escapes every string (control characters, quotes, backslashes,
 * invalid UTF-8 as U+FFFD), and writes compact JSON. Inside an object call
 * ctl_json_key() before each value, or use the ctl_json_kv_* shorthands.
 */
#define CTL_JSON_MAX_DEPTH 16

struct ctl_json {
	FILE *f;
	int depth;
	bool need_comma[CTL_JSON_MAX_DEPTH + 1];
	bool is_obj[CTL_JSON_MAX_DEPTH + 1];
	bool after_key;
	bool error;             /* nesting misuse; the document is invalid */
};

void ctl_json_init(struct ctl_json *j, FILE *f);
void ctl_json_start_object(struct ctl_json *j);
void ctl_json_end_object(struct ctl_json *j);
void ctl_json_start_array(struct ctl_json *j);
void ctl_json_end_array(struct ctl_json *j);
void ctl_json_key(struct ctl_json *j, const char *key);
void ctl_json_string(struct ctl_json *j, const char *s);
void ctl_json_uint(struct ctl_json *j, uint64_t v);
void ctl_json_int(struct ctl_json *j, int64_t v);
void ctl_json_bool(struct ctl_json *j, bool v);
void ctl_json_null(struct ctl_json *j);
void ctl_json_kv_string(struct ctl_json *j, const char *key, const char *s);
void ctl_json_kv_uint(struct ctl_json *j, const char *key, uint64_t v);
void ctl_json_kv_int(struct ctl_json *j, const char *key, int64_t v);
void ctl_json_kv_bool(struct ctl_json *j, const char *key, bool v);
/* Escape s as a JSON string literal (quotes included) into f. */
void ctl_json_escape(FILE *f, const char *s);

#endif
