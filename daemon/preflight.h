/* SPDX-License-Identifier: GPL-2.0 */
/*
 * preflight.h - what a start needs from the host, checked without changing
 * anything: the configured interfaces exist in this network namespace, the
 * sync key file is readable and of a usable size, the pin path can hold
 * pins, no other natsyncd owns the pin path or the control socket (nor
 * answers on it), the privileges. natsyncd runs the refusing checks before
 * it touches the fast path; `natsyncd --check-start` runs all of them and
 * prints each, with what it cannot check. See doc/daemon.md.
 */
#ifndef NATSYNC_PREFLIGHT_H
#define NATSYNC_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

enum ns_pf_verdict {
	NS_PF_OK = 0,
	NS_PF_WARN, /* a start goes on, but the operator should know */
	NS_PF_FAIL, /* a start would be refused */
	NS_PF_SKIP, /* not checked here: why is in the detail */
};

/* One checked item: what ("interfaces", "key-file", ...) and the detail. */
typedef void (*ns_pf_report)(enum ns_pf_verdict v, const char *what, const char *detail, void *arg);

/* Which checks ns_preflight() runs. */
enum {
	NS_PF_IFACES = 1 << 0, /* the configured interfaces exist */
	NS_PF_KEY = 1 << 1,    /* redundancy key-file readable, 16..256 bytes */
	NS_PF_PINS = 1 << 2,   /* the pin path can hold pins */
	NS_PF_OWNER = 1 << 3,  /* no other natsyncd holds our locks */
	NS_PF_SOCKET = 1 << 4, /* the socket's directory exists, nobody answers */
	NS_PF_PRIV = 1 << 5,   /* root or the capabilities */
	NS_PF_LOG = 1 << 6,    /* the log file can be opened (warning only) */
	NS_PF_ALL = 0x7f,
};

/*
 * ns_preflight - run the checks in mask for config c, calling report once
 * per item (report may be NULL). Changes nothing: no file created, no lock
 * taken, no mount. Returns the number of NS_PF_FAIL items.
 */
int ns_preflight(const struct ns_config *c, unsigned int mask, ns_pf_report report, void *arg);

/*
 * ns_pf_key_len - the key natsyncd would use from a key file's first n
 * bytes (more: the file has more than the buffer of 256 bytes held):
 * trailing CR/LF are dropped (a key written with echo works). Returns the
 * key length (16..256) or -EINVAL, as sync.c's load_key() judges it.
 */
int ns_pf_key_len(const unsigned char *buf, size_t n, bool more);

/*
 * ns_path_absolute - path made absolute against cwd ("cfg" in "/etc" ->
 * "/etc/cfg"); an absolute path is copied as it is. Symbolic links are not
 * resolved, so a link swapped later still takes effect on reload. Returns
 * 0, -EINVAL (empty path, or a relative one with a cwd that is not
 * absolute) or -ENAMETOOLONG.
 */
int ns_path_absolute(const char *cwd, const char *path, char *buf, size_t len);

#endif
