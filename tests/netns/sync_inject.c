// SPDX-License-Identifier: GPL-2.0
/*
 * sync_inject.c - a hostile (or just confused) sync peer for
 * tests/netns/test_sync_attack.sh: it connects to a running natsyncd's sync
 * port as the configured peer, completes the handshake with the pair's key
 * file (or a wrong one) and then sends one frame, valid or broken, built with
 * the daemon's own encoder (daemon/sync_wire.c), and reports what the
 * daemon did: acknowledged it, refused it, closed or reset the connection.
 *
 *   sync_inject -c CONFIG -k KEYFILE -l LOCAL -r PEER [-p PORT] [-d DEV] [-e]
 *               CASE SPORT
 *
 * CONFIG is the daemon's config (only its fingerprint is used), LOCAL the
 * peer address the daemon expects (the tool binds to it), -e asks for an
 * encrypted channel. The frame carries one firewall-only UDP session
 * 100.64.7.1:SPORT -> 198.51.100.10:53, so every case leaves its own trace.
 * CASE:
 *   valid     a correct SESSION_ADD; waits for the ACK that says installed
 *   badtag    the same frame with one bit of its MAC/AEAD tag flipped
 *   replay    the frame under the sequence number of the previous frame
 *   reorder   the frame with a sequence number one too high (a gap)
 *   truncated the first half of the frame, then our side of TCP closed
 *   badlen    the frame with a length field beyond the protocol's maximum
 *   plain     on an encrypted channel (-e): the frame MAC-tagged, not sealed
 *   wrongkey  the handshake with KEYFILE as if it were the pair's key (give
 *             it another key file): then the frame
 * Output: "handshake: ok|refused ...", then "ack: SEQ" (valid) or
 * "refuse: REASON" and "closed: eof|reset" (the daemon ended it) or
 * "closed: timeout". Exit 0 when the daemon did what the case expects
 * (valid: acknowledged; any other: connection ended by the daemon), 1 when
 * not, 2 on a usage or local error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/config.h"
#include "daemon/sync_wire.h"

#define WAIT_MS 5000

struct peer {
	int fd;
	bool enc;
	uint32_t tx_seq;        /* last sequence we sent */
	uint8_t nonce[NSW_NONCE_LEN];
	uint8_t key[NSW_KEY_LEN], tx_key[NSW_KEY_LEN], rx_key[NSW_KEY_LEN];
	uint8_t in[2 * NSW_MAX_FRAME];
	size_t in_len;
};

static struct ns_config conf;
static bool close_expected;     /* a bad case: the daemon ending it is a pass */

static void usage(void)
{
	fprintf(stderr, "usage: sync_inject -c CONFIG -k KEYFILE -l LOCAL -r PEER [-p PORT] "
		"[-d DEV] [-e] valid|badtag|replay|reorder|truncated|badlen|plain|wrongkey "
		"SPORT\n");
	exit(2);
}

static int die(const char *what)
{
	fprintf(stderr, "sync_inject: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* The key file as natsyncd reads it: trailing newlines stripped. */
static size_t read_key(const char *path, uint8_t *psk, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		die(path);
	n = fread(psk, 1, cap, f);
	fclose(f);
	while (n && (psk[n - 1] == '\n' || psk[n - 1] == '\r'))
		n--;
	if (n < 16) {
		fprintf(stderr, "sync_inject: %s: key shorter than 16 bytes\n", path);
		exit(2);
	}
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_peer(const char *local, const char *peer, uint16_t port, const char *dev)
{
	struct sockaddr_in la = { .sin_family = AF_INET }, pa = { .sin_family = AF_INET,
								  .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (inet_pton(AF_INET, local, &la.sin_addr) != 1 ||
	    inet_pton(AF_INET, peer, &pa.sin_addr) != 1)
		usage();
	if (dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, strlen(dev) + 1) < 0)
		die("SO_BINDTODEVICE");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The daemon only accepts its configured peer's address. */
	if (bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0)
		die("bind");
	if (connect(fd, (struct sockaddr *)&pa, sizeof(pa)) < 0)
		die("connect");
	return fd;
}

static void send_all(struct peer *p, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t r = send(p->fd, b, n, MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* The daemon may already have reset us: report that. */
			printf("closed: %s (while sending)\n",
			       errno == ECONNRESET || errno == EPIPE ? "reset" : strerror(errno));
			exit(close_expected ? 0 : 1);
		}
		b += r;
		n -= (size_t)r;
	}
}

/*
 * Stamp the next sequence (or seq when non-zero) on a frame of len bytes
 * in f (room for a tag behind it) and tag or seal it as the daemon would.
 * mac_only forces a MAC tag on an encrypted channel. Returns the size.
 */
static size_t finish_frame(struct peer *p, uint8_t *f, size_t len, uint32_t seq, bool mac_only)
{
	if (p->enc && !mac_only)
		len = nsw_mark_enc(f, len);
	else
		len = nsw_mark_mac(f, len);
	nsw_set_seq(f, seq ? seq : ++p->tx_seq);
	if (p->enc && !mac_only)
		nsw_seal_frame(p->tx_key, 'I', f);
	else
		nsw_mac_frame(p->key, 'I', f);
	return len;
}

enum rx_result { RX_FRAME, RX_EOF, RX_RESET, RX_TIMEOUT };

/* Next whole frame from the daemon into *h (frame at p->in), or how the
 * stream ended. Waits until deadline (now_ms() clock). */
static enum rx_result next_frame(struct peer *p, struct nsw_hdr *h, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int r = nsw_frame_check(p->in, p->in_len, h);
		ssize_t n;

		if (!r)
			return RX_FRAME;
		if (r != -NSW_E_TRUNCATED) {
			printf("bad frame from the daemon: %s\n", nsw_err_str(r));
			exit(1);
		}
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return RX_TIMEOUT;
		n = recv(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len, 0);
		if (n == 0)
			return RX_EOF;
		if (n < 0)
			return errno == ECONNRESET ? RX_RESET : RX_TIMEOUT;
		p->in_len += (size_t)n;
	}
}

static void drop_frame(struct peer *p, const struct nsw_hdr *h)
{
	size_t n = NSW_HDR_LEN + h->length;

	memmove(p->in, p->in + n, p->in_len - n);
	p->in_len -= n;
}

/* Body of a received frame after its tag (and, encrypted, its seal) checked. */
static bool open_frame(struct peer *p, const struct nsw_hdr *h)
{
	if (h->type == NSW_REFUSE)
		return true; /* always in clear */
	if (h->flags & NSW_F_ENC)
		return p->enc && nsw_open_frame(p->rx_key, 'A', p->in);
	return nsw_mac_verify(p->key, 'A', p->in);
}

static void print_refuse(const struct nsw_hdr *h, const uint8_t *body)
{
	struct nsw_refuse r;

	if (nsw_decode_refuse(body, nsw_body_len(h), &r))
		printf("refuse: unreadable\n");
	else
		printf("refuse: %u %s\n", r.reason, nsw_refuse_str(r.reason));
}

/* Read until the daemon ends the connection; report how. */
static int expect_close(struct peer *p)
{
	int64_t deadline = now_ms() + WAIT_MS;

	for (;;) {
		struct nsw_hdr h;

		switch (next_frame(p, &h, deadline)) {
		case RX_FRAME:
			if (h.type == NSW_REFUSE)
				print_refuse(&h, p->in + NSW_HDR_LEN);
			drop_frame(p, &h);
			continue;
		case RX_EOF:
			printf("closed: eof\n");
			return 0;
		case RX_RESET:
			printf("closed: reset\n");
			return 0;
		case RX_TIMEOUT:
			printf("closed: timeout (the daemon kept the connection)\n");
			return 1;
		}
	}
}

/* Wait for an ACK that covers seq: the daemon installed the frame. */
static int expect_ack(struct peer *p, uint32_t seq)
{
	int64_t deadline = now_ms() + WAIT_MS;

	for (;;) {
		struct nsw_hdr h;
		struct nsw_ack a;
		enum rx_result r = next_frame(p, &h, deadline);

		if (r != RX_FRAME) {
			printf("closed: %s (no ACK)\n", r == RX_EOF ? "eof" : r == RX_RESET ?
			       "reset" : "timeout");
			return 1;
		}
		if (!open_frame(p, &h)) {
			printf("daemon frame %s fails its tag\n", nsw_type_str(h.type));
			return 1;
		}
		if (h.type == NSW_REFUSE) {
			print_refuse(&h, p->in + NSW_HDR_LEN);
			return 1;
		}
		if (h.type == NSW_ACK &&
		    !nsw_decode_ack(p->in + NSW_HDR_LEN, nsw_body_len(&h), &a) &&
		    (int32_t)(a.seq - seq) >= 0) {
			printf("ack: %u\n", a.seq);
			return 0;
		}
		drop_frame(p, &h);
	}
}

/* HELLO, HELLO_ACK, then our HEARTBEAT (the proof that we hold the key). */
static int handshake(struct peer *p, const uint8_t *psk, size_t psk_len, bool wrong_key)
{
	struct nsw_hello me = { .version = NSW_VERSION, .role = NSW_ROLE_PRIMARY,
				.caps = NSW_CAP_BINDINGS | NSW_CAP_EIF | NSW_CAP_HEARTBEAT |
					NSW_CAP_AUTH | (p->enc ? NSW_CAP_ENCRYPT : 0),
				.fingerprint = ns_config_fingerprint(&conf) };
	struct nsw_heartbeat hb = { .role = NSW_ROLE_PRIMARY, .ready = 1, .priority = 357 };
	uint8_t f[NSW_HDR_LEN + 128];
	struct nsw_hello peer;
	struct nsw_hdr h;
	int n;

	if (getrandom(p->nonce, sizeof(p->nonce), 0) != sizeof(p->nonce))
		die("getrandom");
	memcpy(me.nonce, p->nonce, sizeof(me.nonce));
	strcpy(me.name, "sync-inject");
	n = nsw_encode_hello(f, sizeof(f), NSW_HELLO, ++p->tx_seq, &me);
	send_all(p, f, (size_t)n);
	switch (next_frame(p, &h, now_ms() + WAIT_MS)) {
	case RX_FRAME:
		break;
	case RX_TIMEOUT:
		printf("handshake: no answer\n");
		return 1;
	default:
		printf("handshake: closed by the daemon\n");
		return 1;
	}
	if (h.type == NSW_REFUSE) {
		printf("handshake: refused\n");
		print_refuse(&h, p->in + NSW_HDR_LEN);
		return 1;
	}
	if (h.type != NSW_HELLO_ACK ||
	    nsw_decode_hello(p->in + NSW_HDR_LEN, nsw_body_len(&h), &peer)) {
		printf("handshake: unexpected %s\n", nsw_type_str(h.type));
		return 1;
	}
	nsw_derive_key(psk, psk_len, p->nonce, peer.nonce, p->key);
	if (p->enc) {
		nsw_derive_enc_key(psk, psk_len, p->nonce, peer.nonce, 'I', p->tx_key);
		nsw_derive_enc_key(psk, psk_len, p->nonce, peer.nonce, 'A', p->rx_key);
	}
	if (!nsw_mac_verify(p->key, 'A', p->in)) {
		if (!wrong_key) {
			printf("handshake: the daemon's HELLO_ACK fails our key\n");
			return 1;
		}
		printf("handshake: HELLO_ACK fails our (wrong) key, as expected: going on\n");
	}
	drop_frame(p, &h);
	n = nsw_encode_heartbeat(f, sizeof(f), 0, &hb);
	send_all(p, f, finish_frame(p, f, (size_t)n, 0, false));
	printf("handshake: ok (peer %s, %s)\n", peer.name, p->enc ? "encrypted" : "MAC");
	return 0;
}

/* SESSION_ADD with one firewall-only UDP session from port sport. */
static size_t session_frame(uint8_t *f, size_t cap, uint16_t sport)
{
	struct nsw_session s = {
		.flags = 0, .svc_set = 0, .nat_term = NS_NONE16, .fw_term = NS_NONE16,
		.nat_type = NS_NAT_NONE, .tcp_state = NS_TCP_NONE, .origin = NS_SIDE_INSIDE,
		.pool_id = 0xff, .bind = 0, .age_ms = 10000, .idle_ms = 0,
	};
	struct nsw_batch b;

	s.in_key.saddr = htonl(0x64400701u); /* 100.64.7.1 */
	s.in_key.daddr = htonl(0xc633640au); /* 198.51.100.10 */
	s.in_key.sport = htons(sport);
	s.in_key.dport = htons(53);
	s.in_key.proto = IPPROTO_UDP;
	s.out_key.saddr = s.in_key.daddr;
	s.out_key.daddr = s.in_key.saddr;
	s.out_key.sport = s.in_key.dport;
	s.out_key.dport = s.in_key.sport;
	s.out_key.proto = IPPROTO_UDP;
	nsw_batch_start(&b, f, cap, NSW_SESSION_ADD);
	if (nsw_batch_add_session(&b, &s))
		return 0;
	return nsw_batch_finish(&b, 0);
}

static int run_case(struct peer *p, const char *c, uint16_t sport)
{
	static uint8_t f[NSW_MAX_FRAME];
	size_t n = session_frame(f, sizeof(f), sport);

	if (!n) {
		fprintf(stderr, "sync_inject: cannot encode the session\n");
		return 2;
	}
	if (!strcmp(c, "valid") || !strcmp(c, "wrongkey")) {
		n = finish_frame(p, f, n, 0, false);
		send_all(p, f, n);
		printf("sent: SESSION_ADD seq %u\n", p->tx_seq);
		return !strcmp(c, "valid") ? expect_ack(p, p->tx_seq) : expect_close(p);
	}
	if (!strcmp(c, "badtag")) {
		n = finish_frame(p, f, n, 0, false);
		f[n - 1] ^= 0x01; /* last byte of the tag */
	} else if (!strcmp(c, "replay")) {
		n = finish_frame(p, f, n, p->tx_seq, false); /* the heartbeat's */
	} else if (!strcmp(c, "reorder")) {
		n = finish_frame(p, f, n, p->tx_seq + 2, false); /* skips one */
	} else if (!strcmp(c, "plain")) {
		if (!p->enc)
			usage();
		n = finish_frame(p, f, n, 0, true);
	} else if (!strcmp(c, "badlen")) {
		n = finish_frame(p, f, n, 0, false);
		f[8] = 0x00; f[9] = 0x01; f[10] = 0x00; f[11] = 0x00; /* 65536 */
	} else if (!strcmp(c, "truncated")) {
		n = finish_frame(p, f, n, 0, false);
		send_all(p, f, n / 2);
		printf("sent: %zu of %zu bytes of SESSION_ADD seq %u, then FIN\n", n / 2, n,
		       p->tx_seq);
		shutdown(p->fd, SHUT_WR);
		return expect_close(p);
	} else {
		usage();
	}
	send_all(p, f, n);
	printf("sent: %s SESSION_ADD (%zu bytes)\n", c, n);
	return expect_close(p);
}

int main(int argc, char **argv)
{
	const char *cfg = NULL, *keyf = NULL, *local = NULL, *peer = NULL, *dev = NULL;
	static struct peer p;
	uint8_t psk[256];
	char err[512];
	size_t psk_len;
	long port = 7788, sport;
	int opt, r;

	while ((opt = getopt(argc, argv, "c:k:l:r:p:d:e")) != -1) {
		switch (opt) {
		case 'c': cfg = optarg; break;
		case 'k': keyf = optarg; break;
		case 'l': local = optarg; break;
		case 'r': peer = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'd': dev = optarg; break;
		case 'e': p.enc = true; break;
		default: usage();
		}
	}
	if (!cfg || !keyf || !local || !peer || optind + 2 != argc || port < 1 || port > 65535)
		usage();
	sport = strtol(argv[optind + 1], NULL, 10);
	if (sport < 1 || sport > 65535)
		usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "sync_inject: libsodium failed to initialise\n");
		return 2;
	}
	if (ns_config_load(cfg, &conf, err, sizeof(err))) {
		fprintf(stderr, "sync_inject: %s\n", err);
		return 2;
	}
	psk_len = read_key(keyf, psk, sizeof(psk));
	setvbuf(stdout, NULL, _IOLBF, 0);
	close_expected = strcmp(argv[optind], "valid") != 0;
	p.fd = connect_peer(local, peer, (uint16_t)port, dev);
	r = handshake(&p, psk, psk_len, !strcmp(argv[optind], "wrongkey"));
	if (r)
		return strcmp(argv[optind], "wrongkey") ? 1 : expect_close(&p);
	r = run_case(&p, argv[optind], (uint16_t)sport);
	close(p.fd);
	return r;
}
