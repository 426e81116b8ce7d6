// SPDX-License-Identifier: GPL-2.0
/*
 * sgen.c - the socket generator of the forwarding benchmark (issue 14):
 *
 *   bench_pkt sgen [-r ADDR] IFNAME DST_MAC (FLOWS|new) COUNT [PPS]
 *
 * sends COUNT 64-byte UDP frames (100.64.0.2:1024+ -> 198.51.100.2:9, the
 * flows of bench_gen) out of IFNAME with sendmmsg() on an AF_PACKET raw
 * socket, batches of SGEN_BATCH, no TX ring and no BPF: it works where the
 * XDP live-frames run is refused (EPERM) and trafgen's TX_RING flush fails
 * with EAGAIN. FLOWS flows rotate the UDP source port; "new" gives every
 * frame a new source address and port (100.96.0.0/11, 64 ports per address,
 * as bench_gen). The qdisc is bypassed (PACKET_QDISC_BYPASS): the frame goes
 * straight to the veth, which drops it when the peer's ring is full; the
 * socket then reports ENOBUFS and the frame is counted as refused, not sent
 * again. Without PPS it sends as fast as one CPU can (saturating the box);
 * with PPS it paces itself to that rate (priming: every flow gets through).
 * -r ADDR sends the replies of FLOWS flows instead, as the sink answers a
 * source NAT that kept the ports: 198.51.100.2:9 -> ADDR:1024+ (priming
 * conntrack's reply direction for the nftables case).
 *
 * Prints "sent N in NS ns, refused R" on stdout (N counts refused frames).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "daemon/util.h"

#define SGEN_BATCH 64

struct sgen {
	int fd;
	struct sockaddr_ll to;
	struct pkt tmpl;
	uint32_t flows; /* 0: new flows */
	uint32_t reply; /* host order; 0: the pattern itself */
	uint64_t seq;
	uint8_t frames[SGEN_BATCH][64];
	struct iovec iov[SGEN_BATCH];
	struct mmsghdr msg[SGEN_BATCH];
};

/* Frame number seq of the pattern into buf (as bench_gen varies it). */
static void sgen_frame(const struct sgen *g, uint64_t seq, uint8_t *buf)
{
	uint8_t *ip = buf + 14, *udp = ip + 20;
	uint32_t saddr = 0x64400002;
	uint16_t sport = 1024, c, flow = (uint16_t)(g->flows > 1 ? seq % g->flows : 0);

	memcpy(buf, g->tmpl.data, g->tmpl.len);
	if (!g->flows) {
		saddr = 0x64600000 + (uint32_t)((seq >> 6) & 0x1fffff);
		sport = (uint16_t)(1024 + (seq & 63));
	} else if (g->reply) {
		saddr = 0xc6336402; /* 198.51.100.2:9 */
		sport = 9;
		memcpy(ip + 16, (uint8_t[4]){ (uint8_t)(g->reply >> 24), (uint8_t)(g->reply >> 16),
					      (uint8_t)(g->reply >> 8), (uint8_t)g->reply }, 4);
		udp[2] = (uint8_t)((1024 + flow) >> 8);
		udp[3] = (uint8_t)(1024 + flow);
	} else {
		sport = (uint16_t)(1024 + flow);
	}
	ip[12] = (uint8_t)(saddr >> 24);
	ip[13] = (uint8_t)(saddr >> 16);
	ip[14] = (uint8_t)(saddr >> 8);
	ip[15] = (uint8_t)saddr;
	ip[10] = ip[11] = 0;
	c = ns_inet_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[6] = udp[7] = 0; /* no UDP checksum (IPv4 allows it) */
}

static int sgen_open(struct sgen *g, const char *ifname, const char *dmac)
{
	struct ns_tuple t = pkt_tuple(0x64400002, 1024, 0xc6336402, 9, 17);
	int one = 1, i;

	memset(&g->to, 0, sizeof(g->to));
	g->to.sll_family = AF_PACKET;
	g->to.sll_protocol = htons(ETH_P_IP);
	g->to.sll_ifindex = (int)if_nametoindex(ifname);
	g->to.sll_halen = 6;
	pkt_udp(&g->tmpl, &t, 64, 0);
	if (!g->to.sll_ifindex || bench_parse_mac(dmac, g->tmpl.data) ||
	    g->tmpl.len > sizeof(g->frames[0])) {
		fprintf(stderr, "bench: sgen: bad interface or MAC\n");
		return -EINVAL;
	}
	memcpy(g->to.sll_addr, g->tmpl.data, 6);
	/* protocol 0: a sending socket, nothing received is queued to it */
	g->fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (g->fd < 0) {
		fprintf(stderr, "bench: sgen: AF_PACKET socket: %s\n", strerror(errno));
		return -errno;
	}
	if (bench_if_mac(ifname, g->tmpl.data + 6) ||
	    setsockopt(g->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		fprintf(stderr, "bench: sgen: %s: %s\n", ifname, strerror(errno));
		close(g->fd);
		return -errno;
	}
	for (i = 0; i < SGEN_BATCH; i++) {
		g->iov[i].iov_base = g->frames[i];
		g->iov[i].iov_len = g->tmpl.len;
		memset(&g->msg[i], 0, sizeof(g->msg[i]));
		g->msg[i].msg_hdr.msg_name = &g->to;
		g->msg[i].msg_hdr.msg_namelen = sizeof(g->to);
		g->msg[i].msg_hdr.msg_iov = &g->iov[i];
		g->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* Send n (<= SGEN_BATCH) frames; frames the veth refuses are counted in
 * *refused and skipped. 0, or -errno of a real failure. */
static int sgen_batch(struct sgen *g, int n, long *refused)
{
	int i, done = 0, r;

	for (i = 0; i < n; i++)
		sgen_frame(g, g->seq++, g->frames[i]);
	while (done < n) {
		r = sendmmsg(g->fd, g->msg + done, (unsigned int)(n - done), 0);
		if (r > 0) {
			done += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
			(*refused)++;
			done++;
			continue;
		}
		fprintf(stderr, "bench: sgen: sendmmsg: %s\n", r < 0 ? strerror(errno) : "sent 0");
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}

/* Sleep until ns_now() reaches at_ns (pacing only). */
static void sgen_wait(uint64_t at_ns)
{
	uint64_t now = ns_now();
	struct timespec ts;

	if (now >= at_ns)
		return;
	ts.tv_sec = (time_t)((at_ns - now) / 1000000000ull);
	ts.tv_nsec = (long)((at_ns - now) % 1000000000ull);
	nanosleep(&ts, NULL);
}

int cmd_sgen(int argc, char **argv)
{
	static struct sgen g;
	long count, sent = 0, refused = 0, pps = 0;
	struct in_addr reply;
	uint64_t t0, t1;
	int n, err = 0;

	if (argc > 2 && !strcmp(argv[0], "-r")) {
		if (inet_pton(AF_INET, argv[1], &reply) != 1) {
			fprintf(stderr, "bench: sgen: -r %s: not an IPv4 address\n", argv[1]);
			return -EINVAL;
		}
		g.reply = ntohl(reply.s_addr);
		argc -= 2;
		argv += 2;
	}
	if (argc != 4 && argc != 5) {
		fprintf(stderr,
			"usage: bench_pkt sgen [-r ADDR] IFNAME DST_MAC (FLOWS|new) COUNT [PPS]\n");
		return -EINVAL;
	}
	count = atol(argv[3]);
	if (argc == 5)
		pps = atol(argv[4]);
	g.flows = !strcmp(argv[2], "new") ? 0 : (uint32_t)atoi(argv[2]);
	if (count <= 0 || pps < 0 || (strcmp(argv[2], "new") && !g.flows) ||
	    (g.reply && !g.flows)) {
		fprintf(stderr, "bench: sgen: bad flows, count or rate\n");
		return -EINVAL;
	}
	err = sgen_open(&g, argv[0], argv[1]);
	if (err)
		return err;
	t0 = ns_now();
	while (sent < count && !err) {
		n = count - sent < SGEN_BATCH ? (int)(count - sent) : SGEN_BATCH;
		err = sgen_batch(&g, n, &refused);
		sent += n;
		if (pps)
			sgen_wait(t0 + (uint64_t)sent * 1000000000ull / (uint64_t)pps);
	}
	t1 = ns_now();
	close(g.fd);
	if (!err)
		printf("sent %ld in %llu ns, refused %ld\n", sent, (unsigned long long)(t1 - t0),
		       refused);
	return err;
}
