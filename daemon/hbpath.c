// SPDX-License-Identifier: GPL-2.0
/*
 * hbpath.c - UDP heartbeat paths besides the sync channel: the datagram
 * (pure, first half) and the sockets on the event loop (second half). See
 * hbpath.h for the authentication and the replay protection.
 *
 * Datagram (big-endian), HBP_BODY_LEN bytes, then the tag when keyed:
 *   0  "NSHB"   4  version 1   5  flags (bit 0: tagged)   6  role   7  ready
 *   8  advertisement (16)   10  zero (16)   12  nonce (64)   20  echo (64)
 *   28 sender uptime in ms (64)   36 node name, NUL-padded (32)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "ctlproto.h"
#include "hbpath.h"
#include "log.h"
#include "loop.h"
#include "sync_wire.h"
#include "util.h"

/* ---- the datagram ----------------------------------------------------------- */

#define HBP_VERSION 1
#define HBP_F_TAG 0x01

static const char hbp_magic[4] = { 'N', 'S', 'H', 'B' };
static const char hbp_label[] = "natsync-hbpath-v1";

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void hbp_derive_key(const uint8_t *psk, size_t psk_len, uint8_t key[HBP_KEY_LEN])
{
	static const char label[] = "natsync-hbpath-key-v1";

	nsw_hmac_sha256(psk, psk_len, (const uint8_t *)label, sizeof(label) - 1, NULL, 0, key);
}

static void tag_of(const uint8_t *key, const uint8_t *body, uint8_t out[32])
{
	nsw_hmac_sha256(key, HBP_KEY_LEN, (const uint8_t *)hbp_label, sizeof(hbp_label) - 1, body,
			HBP_BODY_LEN, out);
}

size_t hbp_encode(uint8_t *buf, const struct hbp_frame *f, const uint8_t *key)
{
	uint8_t tag[32];

	memset(buf, 0, HBP_BODY_LEN);
	memcpy(buf, hbp_magic, 4);
	buf[4] = HBP_VERSION;
	buf[5] = key ? HBP_F_TAG : 0;
	buf[6] = f->role;
	buf[7] = f->ready;
	buf[8] = (uint8_t)(f->adv >> 8);
	buf[9] = (uint8_t)f->adv;
	put64(buf + 12, f->nonce);
	put64(buf + 20, f->echo);
	put64(buf + 28, f->uptime_ms);
	memcpy(buf + 36, f->name, strnlen(f->name, HBP_NAME_MAX - 1));
	if (!key)
		return HBP_BODY_LEN;
	tag_of(key, buf, tag);
	memcpy(buf + HBP_BODY_LEN, tag, HBP_TAG_LEN);
	return HBP_MAX_LEN;
}

int hbp_decode(const uint8_t *buf, size_t len, struct hbp_frame *f, const uint8_t *key)
{
	uint8_t tag[32];
	bool tagged;

	if (len < HBP_BODY_LEN || memcmp(buf, hbp_magic, 4) || buf[4] != HBP_VERSION)
		return HBP_E_MALFORMED;
	tagged = buf[5] & HBP_F_TAG;
	if (len != (tagged ? HBP_MAX_LEN : HBP_BODY_LEN))
		return HBP_E_MALFORMED;
	if (tagged != !!key)
		return HBP_E_AUTH;
	if (key) {
		tag_of(key, buf, tag);
		if (sodium_memcmp(tag, buf + HBP_BODY_LEN, HBP_TAG_LEN))
			return HBP_E_AUTH;
	}
	memset(f, 0, sizeof(*f));
	f->role = buf[6];
	f->ready = buf[7] != 0;
	f->adv = (uint16_t)(buf[8] << 8 | buf[9]);
	f->nonce = get64(buf + 12);
	f->echo = get64(buf + 20);
	f->uptime_ms = get64(buf + 28);
	memcpy(f->name, buf + 36, HBP_NAME_MAX - 1);
	return 0;
}

void hbp_fresh_sent(struct hbp_fresh *s, uint64_t nonce, uint64_t now)
{
	s->nonce[s->next % HBP_NONCES] = nonce;
	s->sent_ms[s->next % HBP_NONCES] = now;
	s->next++;
}

bool hbp_fresh_ok(const struct hbp_fresh *s, uint64_t echo, uint64_t now, uint32_t window_ms)
{
	if (!echo)
		return false;
	for (uint32_t i = 0; i < HBP_NONCES; i++)
		if (s->nonce[i] == echo && now - s->sent_ms[i] < window_ms)
			return true;
	return false;
}

/* ---- daemon glue -------------------------------------------------------------- */

struct hbp_path {
	int fd;
	struct hbp_fresh fresh;
	uint64_t peer_nonce;      /* to echo */
	uint64_t last_rx_ms;      /* last fresh heartbeat, 0 never */
	uint64_t tx, rx, rx_stale, rx_auth, rx_bad, tx_err;
	int last_err;             /* last socket error, 0 none */
	bool warned_auth;
};

struct ns_hbpaths {
	struct ns_loop *loop;
	const struct ns_redundancy_conf *rc;
	char node[HBP_NAME_MAX];
	struct hbpath_ops ops;
	void *arg;
	bool keyed;
	uint8_t key[HBP_KEY_LEN];
	struct hbp_path p[NS_SRD_MAX_HB_PATHS];
	int tfd;
};

static uint64_t now_ms(void)
{
	return ns_now() / 1000000ull;
}

static uint32_t dead_ms(const struct ns_hbpaths *h)
{
	return h->rc->dead_interval_ms ? h->rc->dead_interval_ms : 3000;
}

static void on_rx(struct ns_loop *loop, int fd, uint32_t events, void *arg);

static int path_open(struct ns_hbpaths *h, uint32_t i)
{
	const struct ns_hb_path_conf *c = &h->rc->hb_paths[i];
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr = c->local_addr, .sin_port = htons(c->port),
	};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err, one = 1;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (c->ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c->ifname,
					(socklen_t)strlen(c->ifname) + 1) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = loop_add(h->loop, fd, EPOLLIN, on_rx, h);
	if (err) {
		close(fd);
		return err;
	}
	h->p[i].fd = fd;
	return 0;
}

static void send_one(struct ns_hbpaths *h, uint32_t i, uint64_t now)
{
	const struct ns_hb_path_conf *c = &h->rc->hb_paths[i];
	struct hbp_path *p = &h->p[i];
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_addr = c->peer_addr, .sin_port = htons(c->port),
	};
	struct hbp_frame f = { .echo = p->peer_nonce };
	uint8_t buf[HBP_MAX_LEN];
	size_t len;
	int err;

	if (p->fd < 0) {
		err = path_open(h, i);
		if (err) {
			if (err != -p->last_err)
				pr_warn("redundancy: heartbeat path %s: %s (retrying)", c->name,
					strerror(-err));
			p->last_err = -err;
			return;
		}
		pr_info("redundancy: heartbeat path %s open", c->name);
	}
	h->ops.content(h->arg, &f.role, &f.ready, &f.adv, &f.uptime_ms);
	randombytes_buf(&f.nonce, sizeof(f.nonce));
	ns_strlcpy(f.name, h->node, sizeof(f.name));
	len = hbp_encode(buf, &f, h->keyed ? h->key : NULL);
	hbp_fresh_sent(&p->fresh, f.nonce, now);
	if (sendto(p->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0) {
		p->tx_err++;
		p->last_err = errno;
		return;
	}
	p->last_err = 0;
	p->tx++;
}

void hbpath_send_now(struct ns_hbpaths *h)
{
	uint64_t now = now_ms();

	if (!h)
		return;
	for (uint32_t i = 0; i < h->rc->n_hb_paths; i++)
		send_one(h, i, now);
}

static void on_tick(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	hbpath_send_now(arg);
}

static void rx_one(struct ns_hbpaths *h, uint32_t i, const uint8_t *buf, size_t len,
		   const struct sockaddr_in *from)
{
	const struct ns_hb_path_conf *c = &h->rc->hb_paths[i];
	struct hbp_path *p = &h->p[i];
	uint64_t now = now_ms();
	struct hbp_frame f;
	int r;

	if (from->sin_addr.s_addr != c->peer_addr.s_addr || from->sin_port != htons(c->port)) {
		p->rx_bad++;
		return;
	}
	r = hbp_decode(buf, len, &f, h->keyed ? h->key : NULL);
	if (r == HBP_E_AUTH) {
		p->rx_auth++;
		if (!p->warned_auth)
			pr_warn("redundancy: heartbeat path %s: a datagram from the peer failed "
				"authentication: check key-file on both boxes", c->name);
		p->warned_auth = true;
		return;
	}
	if (r) {
		p->rx_bad++;
		return;
	}
	/* Authentic: its nonce is what we echo next. It proves the peer
	 * alive only when it echoes one of our recent nonces. */
	p->peer_nonce = f.nonce;
	if (!hbp_fresh_ok(&p->fresh, f.echo, now, dead_ms(h))) {
		p->rx_stale++;
		return;
	}
	if (!p->last_rx_ms || now - p->last_rx_ms >= dead_ms(h))
		pr_info("redundancy: heartbeat path %s: peer %s heard", c->name, f.name);
	p->last_rx_ms = now;
	p->rx++;
	h->ops.deliver(h->arg, i, f.role, f.ready, f.adv, f.name, f.uptime_ms);
}

static void on_rx(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ns_hbpaths *h = arg;
	uint8_t buf[HBP_MAX_LEN + 1];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	(void)loop;
	(void)events;
	for (uint32_t i = 0; i < h->rc->n_hb_paths; i++) {
		if (h->p[i].fd != fd)
			continue;
		for (int k = 0; k < 64; k++) {
			fl = sizeof(from);
			n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (n < 0)
				break;
			rx_one(h, i, buf, (size_t)n, &from);
		}
	}
}

const char *hbpath_alive(const struct ns_hbpaths *h)
{
	uint64_t now = now_ms();

	if (!h)
		return NULL;
	for (uint32_t i = 0; i < h->rc->n_hb_paths; i++)
		if (h->p[i].last_rx_ms && now - h->p[i].last_rx_ms < dead_ms(h))
			return h->rc->hb_paths[i].name;
	return NULL;
}

/* The key from rc's key-file (the sync channel's pre-shared key). */
static int load_key(struct ns_hbpaths *h)
{
	uint8_t psk[256];
	size_t len = 0;
	int err;

	if (!h->rc->key_file[0])
		return 0;
	err = nsw_load_psk(h->rc->key_file, psk, sizeof(psk), &len);
	if (err) {
		pr_err("redundancy: heartbeat paths: key-file %s: %s", h->rc->key_file,
		       err == -EINVAL ? "16 to 256 bytes expected" : strerror(-err));
		return err;
	}
	hbp_derive_key(psk, len, h->key);
	sodium_memzero(psk, sizeof(psk));
	h->keyed = true;
	return 0;
}

struct ns_hbpaths *hbpath_new(struct ns_loop *loop, const struct ns_redundancy_conf *rc,
			      const char *node, const struct hbpath_ops *ops, void *arg)
{
	struct ns_hbpaths *h = calloc(1, sizeof(*h));
	uint32_t hb = rc->heartbeat_interval_ms ? rc->heartbeat_interval_ms : 1000;
	int err;

	if (!h)
		return NULL;
	h->loop = loop;
	h->rc = rc;
	h->ops = *ops;
	h->arg = arg;
	ns_strlcpy(h->node, node, sizeof(h->node));
	for (uint32_t i = 0; i < NS_SRD_MAX_HB_PATHS; i++)
		h->p[i].fd = -1;
	h->tfd = -1;
	err = load_key(h);
	if (!err) {
		h->tfd = loop_add_timer(loop, hb, on_tick, h);
		err = h->tfd < 0 ? h->tfd : 0;
	}
	if (err) {
		hbpath_free(h);
		errno = -err;
		return NULL;
	}
	hbpath_send_now(h);
	return h;
}

void hbpath_free(struct ns_hbpaths *h)
{
	if (!h)
		return;
	if (h->tfd >= 0)
		loop_del(h->loop, h->tfd);
	for (uint32_t i = 0; i < NS_SRD_MAX_HB_PATHS; i++)
		if (h->p[i].fd >= 0) {
			loop_del(h->loop, h->p[i].fd);
			close(h->p[i].fd);
		}
	sodium_memzero(h->key, sizeof(h->key));
	free(h);
}

void hbpath_status(const struct ns_hbpaths *h, FILE *f, struct ctl_json *j)
{
	uint64_t now = now_ms();
	char la[INET_ADDRSTRLEN], pa[INET_ADDRSTRLEN];

	if (j) {
		ctl_json_key(j, "heartbeat_paths");
		ctl_json_start_array(j);
	}
	for (uint32_t i = 0; i < h->rc->n_hb_paths; i++) {
		const struct ns_hb_path_conf *c = &h->rc->hb_paths[i];
		const struct hbp_path *p = &h->p[i];
		bool alive = p->last_rx_ms && now - p->last_rx_ms < dead_ms(h);

		ns_fmt_ip(c->local_addr.s_addr, la, sizeof(la));
		ns_fmt_ip(c->peer_addr.s_addr, pa, sizeof(pa));
		if (!j) {
			fprintf(f, "Path:         %s %s -> %s:%u udp%s, %s", c->name, la, pa, c->port,
				h->keyed ? " authenticated" : "", alive ? "peer alive" : "peer silent");
			if (p->last_rx_ms)
				fprintf(f, ", last heartbeat %llu ms ago",
					(unsigned long long)(now - p->last_rx_ms));
			fprintf(f, "; sent %llu, fresh %llu, stale %llu, failed auth %llu%s%s\n",
				(unsigned long long)p->tx, (unsigned long long)p->rx,
				(unsigned long long)p->rx_stale, (unsigned long long)p->rx_auth,
				p->last_err ? ", error: " : "", p->last_err ? strerror(p->last_err) : "");
			continue;
		}
		ctl_json_start_object(j);
		ctl_json_kv_string(j, "name", c->name);
		ctl_json_kv_string(j, "local", la);
		ctl_json_kv_string(j, "peer", pa);
		ctl_json_kv_uint(j, "port", c->port);
		ctl_json_kv_bool(j, "authenticated", h->keyed);
		ctl_json_kv_bool(j, "alive", alive);
		if (p->last_rx_ms)
			ctl_json_kv_uint(j, "last_heartbeat_ms", now - p->last_rx_ms);
		ctl_json_kv_uint(j, "sent", p->tx);
		ctl_json_kv_uint(j, "send_errors", p->tx_err);
		ctl_json_kv_uint(j, "fresh", p->rx);
		ctl_json_kv_uint(j, "stale", p->rx_stale);
		ctl_json_kv_uint(j, "failed_auth", p->rx_auth);
		ctl_json_kv_uint(j, "malformed", p->rx_bad);
		ctl_json_kv_string(j, "error", p->last_err ? strerror(p->last_err) : "");
		ctl_json_end_object(j);
	}
	if (j)
		ctl_json_end_array(j);
}
