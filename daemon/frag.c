// SPDX-License-Identifier: GPL-2.0
/* frag.c - out-of-order IPv4 fragments: hold, translate, send (frag.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctlproto.h"
#include "daemon.h"
#include "frag.h"
#include "log.h"
#include "synhold.h"
#include "util.h"

#define FRAG_CHECK_MS 500 /* how often held fragments are checked for expiry */

struct held {
	struct ns_frag_key key;
	uint64_t at_ns;
	uint16_t len; /* 0: free slot */
	uint8_t data[NS_FRAG_DATA_MAX];
};

/* How a datagram's first fragment went out (enum ns_frag_xlat). */
struct xlat {
	uint8_t how;
	uint32_t s4, d4;
	uint8_t s6[16], d6[16];
};

struct known {
	struct ns_frag_key key;
	struct xlat x;
	uint64_t at_ns; /* 0: free slot */
};

struct ns_fragd {
	struct ring_buffer *rb;
	int raw_fd;   /* -1: no CAP_NET_RAW, held fragments only expire */
	int raw6_fd;  /* IPv6 (NAT64 fragments); -1 as raw_fd */
	int timer_fd;
	struct ns_frag_stats st;
	struct held held[NS_FRAGD_HELD_MAX];
	struct known known[NS_FRAGD_KNOWN_MAX];
};

int ns_frag_translate(uint8_t *pkt, uint32_t len, uint32_t new_saddr, uint32_t new_daddr)
{
	unsigned int hl;
	uint16_t c;

	if (len < 20 || (pkt[0] >> 4) != 4)
		return -EINVAL;
	hl = (pkt[0] & 0xf) * 4u;
	if (hl < 20 || hl > len || ((uint32_t)pkt[2] << 8 | pkt[3]) != len || pkt[8] <= 1)
		return -EINVAL;
	memcpy(pkt + 12, &new_saddr, 4);
	memcpy(pkt + 16, &new_daddr, 4);
	pkt[8]--; /* forwarded: as the first fragment was */
	pkt[10] = pkt[11] = 0;
	c = ns_inet_csum(pkt, hl);
	pkt[10] = c >> 8;
	pkt[11] = c & 0xff;
	return 0;
}

static bool key_eq(const struct ns_frag_key *a, const struct ns_frag_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The IPv4 or IPv6 packet @pkt (its own header) to its header's
 * destination through @fd's raw sockets (ns_frag_raw_send()). */
static int raw_send(const struct ns_fragd *fd, const uint8_t *pkt, uint32_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *sa = (const struct sockaddr *)&to;
	socklen_t sl = sizeof(to);
	int sock = fd->raw_fd;
	ssize_t n;

	if (len < 20)
		return -EINVAL;
	if (pkt[0] >> 4 == 6) {
		if (len < 40)
			return -EINVAL;
		memcpy(&to6.sin6_addr, pkt + 24, 16);
		sa = (const struct sockaddr *)&to6;
		sl = sizeof(to6);
		sock = fd->raw6_fd;
	} else {
		memcpy(&to.sin_addr.s_addr, pkt + 16, 4);
	}
	if (sock < 0)
		return -ENOTSUP;
	/* never waits on the event loop: a full socket buffer is a failure */
	n = sendto(sock, pkt, len, MSG_DONTWAIT, sa, sl);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	return 0;
}

int ns_frag_raw_send(const struct ns_daemon *d, const uint8_t *pkt, uint32_t len)
{
	return d->frag ? raw_send(d->frag, pkt, len) : -ENOTSUP;
}

static void send_one(struct ns_fragd *fd, uint8_t *pkt, uint16_t len, const struct xlat *x)
{
	uint8_t out[NS_FRAG_DATA_MAX + 48];
	int n = len, err;

	if (x->how == NS_FRAG_X44) {
		n = ns_frag_translate(pkt, len, x->s4, x->d4) ? -EINVAL : len;
	} else if (x->how == NS_FRAG_X6TO4) {
		n = ns_frag_xlat_6to4(pkt, len, x->s4, x->d4, out, sizeof(out));
		pkt = out;
	} else {
		n = ns_frag_xlat_4to6(pkt, len, x->s6, x->d6, out, sizeof(out));
		pkt = out;
	}
	err = n < 0 ? n : raw_send(fd, pkt, (uint32_t)n);
	if (err) {
		fd->st.send_errors++;
		pr_debug("frag: sending a held fragment: %s", strerror(-err));
		return;
	}
	fd->st.sent++;
}

/* The first fragment of @k went out as @x says: send what is held. */
static void flush(struct ns_fragd *fd, const struct ns_frag_key *k, const struct xlat *x)
{
	for (unsigned int i = 0; i < NS_FRAGD_HELD_MAX; i++) {
		struct held *h = &fd->held[i];

		if (!h->len || !key_eq(&h->key, k))
			continue;
		send_one(fd, h->data, h->len, x);
		h->len = 0;
		fd->st.waiting--;
	}
}

/* Remember a translation for held copies that arrive after its record
 * (another CPU's copy can be read after the first fragment's record). */
static void remember(struct ns_fragd *fd, const struct ns_frag_key *k, const struct xlat *x,
		     uint64_t now)
{
	struct known *oldest = &fd->known[0];

	for (unsigned int i = 0; i < NS_FRAGD_KNOWN_MAX; i++) {
		if (fd->known[i].at_ns < oldest->at_ns)
			oldest = &fd->known[i];
	}
	oldest->key = *k;
	oldest->x = *x;
	oldest->at_ns = now;
}

/* How the first fragment of @k was translated, if known: from a recent
 * record, else from ns_frag itself. */
static bool lookup_first(const struct ns_daemon *d, const struct ns_fragd *fd,
			 const struct ns_frag_key *k, uint64_t now, struct xlat *x)
{
	struct ns_frag e;

	for (unsigned int i = 0; i < NS_FRAGD_KNOWN_MAX; i++) {
		const struct known *kn = &fd->known[i];

		if (kn->at_ns && now - kn->at_ns < NS_FRAG_TIMEOUT_NS && key_eq(&kn->key, k)) {
			*x = kn->x;
			return true;
		}
	}
	if (d->fd.frag < 0 || bpf_map_lookup_elem(d->fd.frag, k, &e) || !e.first)
		return false;
	x->how = e.xlat;
	x->s4 = e.new_saddr;
	x->d4 = e.new_daddr;
	memcpy(x->s6, e.new_saddr6, 16);
	memcpy(x->d6, e.new_daddr6, 16);
	return true;
}

static void hold(struct ns_daemon *d, struct ns_fragd *fd, const struct ns_frag_rec *r,
		 size_t size, uint64_t now)
{
	struct held *slot = NULL;
	uint8_t buf[NS_FRAG_DATA_MAX];
	struct xlat x;

	if (r->len > NS_FRAG_DATA_MAX || size < sizeof(*r) + r->len || !r->len) {
		fd->st.bad++;
		return;
	}
	fd->st.held++;
	if (lookup_first(d, fd, &r->key, now, &x)) {
		memcpy(buf, r->data, r->len);
		send_one(fd, buf, r->len, &x);
		return;
	}
	for (unsigned int i = 0; i < NS_FRAGD_HELD_MAX && !slot; i++)
		if (!fd->held[i].len)
			slot = &fd->held[i];
	if (!slot) {
		fd->st.table_full++;
		return;
	}
	slot->key = r->key;
	slot->at_ns = now;
	slot->len = r->len;
	memcpy(slot->data, r->data, r->len);
	fd->st.waiting++;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ns_daemon *d = ctx;
	struct ns_fragd *fd = d->frag;
	struct ns_frag_rec r;
	uint64_t now = ns_now();

	if (size < sizeof(r)) {
		fd->st.bad++;
		return 0;
	}
	memcpy(&r, data, sizeof(r)); /* ring data is only 8-byte aligned */
	if (r.type == NS_FRAG_REC_HELD) {
		hold(d, fd, data, size, now);
	} else if (r.type == NS_FRAG_REC_FIRST) {
		struct xlat x = { .how = r.xlat, .s4 = r.new_saddr, .d4 = r.new_daddr };

		memcpy(x.s6, r.new_saddr6, 16);
		memcpy(x.d6, r.new_daddr6, 16);
		remember(fd, &r.key, &x, now);
		flush(fd, &r.key, &x);
	} else if (r.type == NS_FRAG_REC_SYN) {
		ns_synhold_record(d, data, size); /* a NAT64 SYN (synhold.h) */
	} else {
		fd->st.bad++;
	}
	return 0;
}

static void on_ring_ready(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_daemon *d = arg;
	int n;

	(void)loop;
	(void)fd;
	(void)events;
	n = ring_buffer__consume(d->frag->rb);
	if (n < 0)
		pr_warn("frag: ring buffer consume failed: %s", strerror(-n));
}

/* Held fragments whose first fragment did not come in time go. */
static void on_timer(struct ns_loop *loop, int tfd, uint32_t events, void *arg)
{
	struct ns_fragd *fd = ((struct ns_daemon *)arg)->frag;
	uint64_t now = ns_now();

	(void)loop;
	(void)tfd;
	(void)events;
	for (unsigned int i = 0; i < NS_FRAGD_HELD_MAX; i++) {
		struct held *h = &fd->held[i];

		if (h->len && now - h->at_ns >= NS_FRAG_TIMEOUT_NS) {
			h->len = 0;
			fd->st.waiting--;
			fd->st.expired++;
		}
	}
}

int ns_frag_init(struct ns_daemon *d)
{
	struct ns_fragd *fd;
	int err;

	if (d->fd.frag_ring < 0)
		return 0;
	fd = calloc(1, sizeof(*fd));
	if (!fd)
		return -ENOMEM;
	fd->timer_fd = -1;
	/* also synhold.c's (ns_frag_raw_send()) */
	fd->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd->raw_fd < 0)
		pr_warn("frag: no raw socket (%s): fragments that arrive before their first one "
			"are dropped, IPv4-initiated NAT64 SYNs that expire are not answered",
			strerror(errno));
	/* IPPROTO_RAW on IPv6: the header is ours (as IP_HDRINCL) */
	fd->raw6_fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd->raw6_fd < 0)
		pr_warn("frag: no raw IPv6 socket (%s): NAT64 fragments that arrive before "
			"their first one are dropped, IPv4-initiated NAT64 SYNs are not released",
			strerror(errno));
	d->frag = fd;
	fd->rb = ring_buffer__new(d->fd.frag_ring, on_record, d, NULL);
	if (!fd->rb) {
		err = -errno;
		pr_err("frag: cannot open ring buffer %s: %s", NS_MAP_FRAG_RING, strerror(-err));
		goto fail;
	}
	err = loop_add(d->loop, ring_buffer__epoll_fd(fd->rb), EPOLLIN, on_ring_ready, d);
	if (err) {
		pr_err("frag: cannot watch ring buffer: %s", strerror(-err));
		goto fail;
	}
	fd->timer_fd = loop_add_timer(d->loop, FRAG_CHECK_MS, on_timer, d);
	if (fd->timer_fd < 0) {
		err = fd->timer_fd;
		pr_err("frag: timer: %s", strerror(-err));
		loop_del(d->loop, ring_buffer__epoll_fd(fd->rb));
		goto fail;
	}
	return 0;
fail:
	ring_buffer__free(fd->rb);
	if (fd->raw_fd >= 0)
		close(fd->raw_fd);
	if (fd->raw6_fd >= 0)
		close(fd->raw6_fd);
	free(fd);
	d->frag = NULL;
	return err;
}

void ns_frag_fini(struct ns_daemon *d)
{
	struct ns_fragd *fd = d->frag;

	if (!fd)
		return;
	if (fd->timer_fd >= 0)
		loop_del(d->loop, fd->timer_fd); /* closes the timerfd */
	loop_del(d->loop, ring_buffer__epoll_fd(fd->rb));
	ring_buffer__free(fd->rb);
	if (fd->raw_fd >= 0)
		close(fd->raw_fd);
	if (fd->raw6_fd >= 0)
		close(fd->raw6_fd);
	free(fd);
	d->frag = NULL;
}

void ns_frag_get_stats(const struct ns_daemon *d, struct ns_frag_stats *st)
{
	if (d->frag)
		*st = d->frag->st;
	else
		memset(st, 0, sizeof(*st));
}

void ns_frag_status_text(const struct ns_daemon *d, FILE *f)
{
	struct ns_frag_stats st;

	ns_frag_get_stats(d, &st);
	fprintf(f, "fragments      %u held now; %llu held, %llu sent on, %llu send errors, "
		"%llu expired, %llu dropped (table full)%s\n", st.waiting,
		(unsigned long long)st.held, (unsigned long long)st.sent,
		(unsigned long long)st.send_errors, (unsigned long long)st.expired,
		(unsigned long long)st.table_full,
		d->frag && d->frag->raw_fd < 0 ? " [no raw socket: not sent]" : "");
}

void ns_frag_status_json(const struct ns_daemon *d, struct ctl_json *j)
{
	struct ns_frag_stats st;

	ns_frag_get_stats(d, &st);
	ctl_json_key(j, "fragments");
	ctl_json_start_object(j);
	ctl_json_kv_uint(j, "waiting", st.waiting);
	ctl_json_kv_uint(j, "held", st.held);
	ctl_json_kv_uint(j, "sent", st.sent);
	ctl_json_kv_uint(j, "send_errors", st.send_errors);
	ctl_json_kv_uint(j, "expired", st.expired);
	ctl_json_kv_uint(j, "table_full", st.table_full);
	ctl_json_kv_uint(j, "bad_records", st.bad);
	ctl_json_end_object(j);
}
