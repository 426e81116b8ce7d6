/* SPDX-License-Identifier: GPL-2.0 */
/* util.h - small helpers shared by natsyncd, natsyncctl and the tests. */
#ifndef NATSYNC_UTIL_H
#define NATSYNC_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#define NS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads. */
uint64_t ns_now(void);

/* Set the calling thread's nice value (Linux: per thread). Returns 0 or
 * -errno (raising the priority needs CAP_SYS_NICE). */
int ns_thread_nice(int nice);

/* Give the event loop thread d->conf.loop_nice (at start and on a reload):
 * sets d->loop_nice to what is in force; warns once when it cannot. */
struct ns_daemon;
void ns_loop_nice_apply(struct ns_daemon *d);

/*
 * Tests only: run ns_now() offset_ns ahead of CLOCK_MONOTONIC, so a test
 * that writes map entries itself can date them minutes in the past on a
 * freshly booted machine. Never set in natsyncd: the fast path's
 * bpf_ktime_get_ns() stamps would no longer compare with ns_now().
 */
void ns_clock_offset_set(uint64_t offset_ns);

/*
 * Tests only: ns_now() returns at_ns and stands still until the next call
 * (0 lets it run again), so a test of hold times decides every millisecond
 * itself and a busy machine cannot slip one in between two of its steps.
 */
void ns_clock_freeze(uint64_t at_ns);

/* Dotted quad of a network-order IPv4 address into buf (>= 16 bytes). */
const char *ns_fmt_ip(uint32_t be_addr, char *buf, size_t len);

/* The Internet checksum (RFC 1071) of @len bytes at @p (an odd last byte
 * padded with zero), ready to be stored in network order as two bytes:
 * out[0] = c >> 8, out[1] = c & 0xff. */
uint16_t ns_inet_csum(const uint8_t *p, size_t len);

/* Protocol number to "tcp"/"udp"/"icmp"/number string (static storage). */
const char *ns_proto_name(uint8_t proto);

/*
 * ns_join - append item to a comma-separated list in buf (size bytes, *len
 * used): the first item after prefix, the others after ",". Truncates,
 * always terminated; *len stays < size.
 */
void ns_join(char *buf, size_t size, size_t *len, const char *prefix, const char *item);

/* The IFLA_IFNAME of an RTM_NEWLINK/RTM_DELLINK message, or NULL. */
struct nlmsghdr;
const char *ns_nl_link_name(const struct nlmsghdr *h);

/* Bounded string copy that always terminates; returns -1 if truncated. */
int ns_strlcpy(char *dst, const char *src, size_t size);

/* The deepest existing ancestor of path (path itself if it exists) into buf. */
void ns_existing_ancestor(const char *path, char *buf, size_t len);

/* The command name of pid (/proc/PID/comm) into buf, or "?". */
const char *ns_pid_comm(pid_t pid, char *buf, size_t len);

#endif
