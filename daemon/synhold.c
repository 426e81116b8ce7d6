// SPDX-License-Identifier: GPL-2.0
/* synhold.c - IPv4-initiated NAT64 SYNs held 6 s (RFC 6146 3.5.2.2; synhold.h). */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "ctlproto.h"
#include "daemon.h"
#include "frag.h"
#include "loader.h"
#include "log.h"
#include "synhold.h"
#include "util.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_RST 0x04
#define TCP_FIN 0x01

struct held_syn {
	struct ns_tuple t;
	uint64_t at_ns;
	uint32_t ifindex;
	uint16_t len; /* 0: free slot */
	uint8_t data[NS_FRAG_DATA_MAX];
};

struct ns_synhold {
	const struct ns_synhold_ops *ops;
	void *ctx;
	struct ns_synhold_stats st;
	unsigned int next; /* the slot the next check starts at */
	struct held_syn held[NS_SYNHOLD_MAX];
};

int ns_synhold_tuple(const uint8_t *pkt, uint32_t len, struct ns_tuple *t)
{
	unsigned int hl;
	uint8_t flags;

	if (len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_TCP)
		return -EINVAL;
	hl = (pkt[0] & 0xf) * 4u;
	if (hl < 20 || ((uint32_t)pkt[2] << 8 | pkt[3]) != len || len < hl + 20)
		return -EINVAL;
	flags = pkt[hl + 13];
	if (!(flags & TCP_SYN) || (flags & (TCP_ACK | TCP_RST | TCP_FIN)))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memcpy(&t->saddr, pkt + 12, 4);
	memcpy(&t->daddr, pkt + 16, 4);
	memcpy(&t->sport, pkt + hl, 2);
	memcpy(&t->dport, pkt + hl + 2, 2);
	t->proto = IPPROTO_TCP;
	return 0;
}

int ns_synhold_icmp(uint8_t *out, size_t cap, const uint8_t *syn, uint32_t len)
{
	uint32_t q = len, n;
	uint16_t c, id;
	struct ns_tuple t;

	if (ns_synhold_tuple(syn, len, &t))
		return -EINVAL;
	if (q > NS_SYNHOLD_ICMP_MAX - 28)
		q = NS_SYNHOLD_ICMP_MAX - 28;
	n = 28 + q;
	if (cap < n)
		return -EINVAL;
	memset(out, 0, 28);
	out[0] = 0x45;
	out[2] = n >> 8;
	out[3] = n & 0xff;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = (uint16_t)ns_now();
	memcpy(out + 4, &id, 2);
	out[8] = 64;
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, &t.daddr, 4); /* the address the SYN was sent to */
	memcpy(out + 16, &t.saddr, 4);
	c = ns_inet_csum(out, 20);
	out[10] = c >> 8;
	out[11] = c & 0xff;
	out[20] = 3; /* destination unreachable */
	out[21] = 3; /* port unreachable */
	memcpy(out + 28, syn, q);
	c = ns_inet_csum(out + 20, 8 + q);
	out[22] = c >> 8;
	out[23] = c & 0xff;
	return (int)n;
}

struct ns_synhold *ns_synhold_new(const struct ns_synhold_ops *ops, void *ctx)
{
	struct ns_synhold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ops = ops;
	h->ctx = ctx;
	return h;
}

void ns_synhold_free(struct ns_synhold *h)
{
	free(h);
}

const struct ns_synhold_stats *ns_synhold_get(const struct ns_synhold *h)
{
	return &h->st;
}

static void drop_slot(struct ns_synhold *h, struct held_syn *s)
{
	s->len = 0;
	h->st.waiting--;
}

/* The flow of @s is open: through the fast path with it. */
static void release(struct ns_synhold *h, struct held_syn *s)
{
	if (h->ops->reinject(h->ctx, s->ifindex, s->data, s->len))
		h->st.send_errors++;
	else
		h->st.released++;
	drop_slot(h, s);
}

int ns_synhold_add(struct ns_synhold *h, const uint8_t *pkt, uint32_t len, uint32_t ifindex,
		   uint64_t now)
{
	struct held_syn *slot = NULL;
	struct ns_tuple t;

	if (len > NS_FRAG_DATA_MAX || ns_synhold_tuple(pkt, len, &t)) {
		h->st.bad++;
		return -EINVAL;
	}
	for (unsigned int i = 0; i < NS_SYNHOLD_MAX; i++) {
		struct held_syn *s = &h->held[i];

		if (!s->len) {
			if (!slot)
				slot = s;
		} else if (!memcmp(&s->t, &t, sizeof(t))) {
			/* a retransmission: the first copy's 6 s go on */
			h->st.duplicates++;
			return 0;
		}
	}
	if (!slot) {
		h->st.table_full++;
		return -ENOSPC;
	}
	slot->t = t;
	slot->at_ns = now;
	slot->ifindex = ifindex;
	slot->len = (uint16_t)len;
	memcpy(slot->data, pkt, len);
	h->st.held++;
	h->st.waiting++;
	/* the outbound SYN may have come between the fast path's copy and now */
	if (h->ops->opened(h->ctx, &t))
		release(h, slot);
	return 0;
}

void ns_synhold_tick(struct ns_synhold *h, uint64_t now)
{
	uint8_t icmp[NS_SYNHOLD_ICMP_MAX];
	unsigned int done = 0, i = h->next;

	for (unsigned int seen = 0; seen < NS_SYNHOLD_MAX && h->st.waiting &&
				    done < NS_SYNHOLD_TICK_MAX; seen++) {
		struct held_syn *s = &h->held[i];
		int n;

		i = (i + 1) % NS_SYNHOLD_MAX;
		if (!s->len)
			continue;
		if (h->ops->opened(h->ctx, &s->t)) {
			release(h, s);
			done++;
			continue;
		}
		if (now - s->at_ns < NS_SYN_HOLD_NS)
			continue;
		n = ns_synhold_icmp(icmp, sizeof(icmp), s->data, s->len);
		if (n < 0 || h->ops->send(h->ctx, icmp, (uint32_t)n))
			h->st.send_errors++;
		else
			h->st.expired++;
		drop_slot(h, s);
		done++;
	}
	h->next = i;
}

/* ---- the daemon's side ---------------------------------------------------- */

struct synhold_daemon {
	struct ns_synhold *h;
	struct ns_daemon *d;
	int timer_fd;
	int tc_fd;   /* the fast path's TC program (loaded in every attach mode) */
	bool warned_reinject, warned_send; /* the first failure is logged */
};

/* Log the first failure of a kind (and again after a success): the
 * counters count every one. */
static int failed(bool *warned, const char *what, int err)
{
	if (!*warned)
		pr_warn("synhold: %s failed: %s (counted in show status, syn_hold send_errors)",
			what, strerror(-err));
	*warned = true;
	return err;
}

static bool d_opened(void *ctx, const struct ns_tuple *t)
{
	struct synhold_daemon *sd = ctx;
	struct ns_tuple6 k;

	return sd->d->fd.nat64_rev >= 0 && !bpf_map_lookup_elem(sd->d->fd.nat64_rev, t, &k);
}

/* The MAC address of @ifindex into @mac; 0 or -errno. */
static int if_mac(uint32_t ifindex, uint8_t *mac)
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return err;
}

/*
 * The frame as it arrived (to the interface's own MAC, untagged: only
 * untagged SYNs are held) through the fast path's TC program
 * (BPF_PROG_TEST_RUN on @ifindex, whatever the attach mode: the XDP and TC
 * programs share the pipeline and the maps), which translates it on the
 * session the outbound SYN opened; the IPv6 packet it gives back is sent
 * through a raw IPv6 socket and the box's routing, as held fragments are
 * (frag.c).
 */
static int d_reinject(void *ctx, uint32_t ifindex, const uint8_t *pkt, uint32_t len)
{
	struct synhold_daemon *sd = ctx;
	uint8_t frame[ETH_HLEN + NS_FRAG_DATA_MAX], out[ETH_HLEN + NS_FRAG_DATA_MAX + 64];
	struct __sk_buff sctx;
	uint32_t n;
	int err;

	if (sd->tc_fd < 0 || len > NS_FRAG_DATA_MAX)
		return failed(&sd->warned_reinject, "re-injecting a held SYN (no TC program)",
			      -ENOTSUP);
	memset(frame, 0, ETH_HLEN);
	err = if_mac(ifindex, frame);
	if (err)
		return failed(&sd->warned_reinject, "the MAC address of a held SYN's interface",
			      err);
	frame[12] = ETH_P_IP >> 8;
	frame[13] = ETH_P_IP & 0xff;
	memcpy(frame + ETH_HLEN, pkt, len);
	memset(&sctx, 0, sizeof(sctx));
	sctx.ifindex = ifindex;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = ETH_HLEN + len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &sctx,
			    .ctx_size_in = sizeof(sctx), .repeat = 1);

		if (bpf_prog_test_run_opts(sd->tc_fd, &o))
			return failed(&sd->warned_reinject, "running a held SYN through the fast "
				      "path", -errno);
		n = o.data_size_out;
		/* translated (forwarded or handed to the kernel), IPv6 now */
		if ((o.retval != TC_ACT_REDIRECT && o.retval != TC_ACT_OK) || n < ETH_HLEN + 40 ||
		    out[12] != (ETH_P_IPV6 >> 8) || out[13] != (ETH_P_IPV6 & 0xff) ||
		    ETH_HLEN + 40u + ((uint32_t)out[ETH_HLEN + 4] << 8 | out[ETH_HLEN + 5]) != n)
			return failed(&sd->warned_reinject, "translating a held SYN (the fast path "
				      "did not)", -EPROTO);
	}
	err = ns_frag_raw_send(sd->d, out + ETH_HLEN, n - ETH_HLEN);
	if (err)
		return failed(&sd->warned_reinject, "sending a released SYN", err);
	sd->warned_reinject = false;
	return 0;
}

static int d_send(void *ctx, const uint8_t *pkt, uint32_t len)
{
	struct synhold_daemon *sd = ctx;
	int err = ns_frag_raw_send(sd->d, pkt, len);

	if (err == -ENOTSUP)
		return err;
	if (err)
		return failed(&sd->warned_send, "sending ICMP port unreachable", err);
	sd->warned_send = false;
	return 0;
}

static const struct ns_synhold_ops d_ops = {
	.opened = d_opened,
	.reinject = d_reinject,
	.send = d_send,
};

void ns_synhold_record(struct ns_daemon *d, const void *data, size_t size)
{
	struct synhold_daemon *sd = d->synhold;
	struct ns_frag_rec r;

	if (!sd)
		return;
	memcpy(&r, data, sizeof(r)); /* frag.c checked size >= sizeof(r) */
	if (size < sizeof(r) + r.len) {
		sd->h->st.bad++;
		return;
	}
	ns_synhold_add(sd->h, (const uint8_t *)data + sizeof(r), r.len, r.ifindex, ns_now());
}

static void on_timer(struct ns_loop *loop, int tfd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;

	(void)loop;
	(void)tfd;
	(void)events;
	ns_synhold_tick(d->synhold->h, ns_now());
}

int ns_synhold_init(struct ns_daemon *d)
{
	struct synhold_daemon *sd;

	if (d->fd.frag_ring < 0 || d->fd.nat64_rev < 0)
		return 0;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->d = d;
	sd->tc_fd = ns_loader_tc_fd(d);
	/* sends through frag.c's raw sockets (ns_frag_raw_send()) */
	sd->h = ns_synhold_new(&d_ops, sd);
	sd->timer_fd = sd->h ? loop_add_timer(d->loop, NS_SYNHOLD_CHECK_MS, on_timer, d) : -ENOMEM;
	if (sd->timer_fd < 0) {
		int err = sd->timer_fd;

		pr_err("synhold: %s", strerror(-err));
		ns_synhold_free(sd->h);
		free(sd);
		return err;
	}
	d->synhold = sd;
	return 0;
}

void ns_synhold_fini(struct ns_daemon *d)
{
	struct synhold_daemon *sd = d->synhold;

	if (!sd)
		return;
	loop_del(d->loop, sd->timer_fd); /* closes the timerfd */
	ns_synhold_free(sd->h);
	free(sd);
	d->synhold = NULL;
}

static void get(const struct ns_daemon *d, struct ns_synhold_stats *st)
{
	if (d->synhold)
		*st = *ns_synhold_get(d->synhold->h);
	else
		memset(st, 0, sizeof(*st));
}

void ns_synhold_status_text(const struct ns_daemon *d, FILE *f)
{
	struct ns_synhold_stats st;

	get(d, &st);
	fprintf(f, "held SYNs      %u held now; %llu held, %llu released, %llu expired "
		"(ICMP port unreachable), %llu duplicates, %llu dropped (table full), "
		"%llu send errors\n", st.waiting, (unsigned long long)st.held,
		(unsigned long long)st.released, (unsigned long long)st.expired,
		(unsigned long long)st.duplicates, (unsigned long long)st.table_full,
		(unsigned long long)st.send_errors);
}

void ns_synhold_status_json(const struct ns_daemon *d, struct ctl_json *j)
{
	struct ns_synhold_stats st;

	get(d, &st);
	ctl_json_key(j, "syn_hold");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "waiting", st.waiting);
	ctl_json_kv_uint(j, "held", st.held);
	ctl_json_kv_uint(j, "released", st.released);
	ctl_json_kv_uint(j, "expired", st.expired);
	ctl_json_kv_uint(j, "duplicates", st.duplicates);
	ctl_json_kv_uint(j, "table_full", st.table_full);
	ctl_json_kv_uint(j, "send_errors", st.send_errors);
	ctl_json_kv_uint(j, "bad_records", st.bad);
	ctl_json_end_object(j);
}
