// SPDX-License-Identifier: GPL-2.0
/* util.c - see util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

static uint64_t clock_offset_ns; /* 0 but in tests: ns_clock_offset_set() */
static uint64_t clock_frozen_ns; /* 0 but in tests: ns_clock_freeze() */

uint64_t ns_now(void)
{
	struct timespec ts;

	if (clock_frozen_ns)
		return clock_frozen_ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + clock_offset_ns;
}

void ns_join(char *buf, size_t size, size_t *len, const char *prefix, const char *item)
{
	if (*len >= size)
		return;
	*len += (size_t)snprintf(buf + *len, size - *len, "%s%s", *len ? "," : prefix, item);
	if (*len >= size)
		*len = size - 1;
}

const char *ns_nl_link_name(const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME)
			return RTA_DATA(a);
	return NULL;
}

void ns_clock_offset_set(uint64_t offset_ns)
{
	clock_offset_ns = offset_ns;
}

void ns_clock_freeze(uint64_t at_ns)
{
	clock_frozen_ns = at_ns;
}

const char *ns_fmt_ip(uint32_t be_addr, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = be_addr };

	if (!inet_ntop(AF_INET, &a, buf, len) && len)
		buf[0] = '\0';
	return buf;
}

const char *ns_proto_name(uint8_t proto)
{
	static char num[8][4];
	static unsigned int slot;

	switch (proto) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	default:
		slot = (slot + 1) % 8;
		snprintf(num[slot], sizeof(num[slot]), "%u", proto);
		return num[slot];
	}
}

int ns_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (!size)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

void ns_existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	ns_strlcpy(buf, path, len);
	while (stat(buf, &st) && (slash = strrchr(buf, '/'))) {
		if (slash == buf) {
			buf[1] = '\0';
			break;
		}
		*slash = '\0';
	}
}

const char *ns_pid_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf[0] ? buf : "?";
}

int ns_thread_nice(int nice)
{
	/* PRIO_PROCESS with a thread id: that thread only (Linux). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) < 0)
		return -errno;
	return 0;
}

void ns_loop_nice_apply(struct ns_daemon *d)
{
	int err = ns_thread_nice(d->conf.loop_nice);

	errno = 0;
	d->loop_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (err && d->loop_nice != d->conf.loop_nice)
		pr_warn("scheduling: cannot give the event loop nice %d (%s): it runs at nice %d, "
			"and heartbeats may be late on a busy box", d->conf.loop_nice,
			strerror(-err), d->loop_nice);
}

uint16_t ns_inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
