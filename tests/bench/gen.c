// SPDX-License-Identifier: GPL-2.0
/*
 * gen.c - the saturating packet generator of the forwarding benchmark:
 *
 *   bench_pkt gen IFNAME DST_MAC (FLOWS|new) COUNT
 *
 * runs bench_gen (xdp_min.bpf.c) with BPF_PROG_TEST_RUN in live-frames mode
 * on IFNAME: the kernel builds COUNT 64-byte UDP frames from one template
 * (100.64.0.2:1024 -> 198.51.100.2:9), the program varies the flow and
 * XDP_TX sends each out of IFNAME, as fast as one CPU can (the template's
 * headers are rewritten into every frame: see bench_gen). trafgen cannot
 * keep a box's XDP program busy on a 2-core machine; this can, so the box
 * is measured saturated (cost per packet without idle wake-ups). Frames the
 * box's receive ring cannot take are dropped by veth before the box sees
 * them. Prints "sent COUNT in NS ns" on stdout.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "daemon/util.h"
#include "xdp_min.skel.h"

int bench_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int cmd_gen(int argc, char **argv)
{
	struct ns_tuple t = pkt_tuple(0x64400002, 1024, 0xc6336402, 9, 17);
	struct xdp_min_bpf *skel = NULL;
	struct xdp_md ctx = { 0 };
	struct pkt p;
	uint64_t t0, t1;
	long count;
	int ifindex, err;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_pkt gen IFNAME DST_MAC (FLOWS|new) COUNT\n");
		return -EINVAL;
	}
	ifindex = (int)if_nametoindex(argv[0]);
	count = atol(argv[3]);
	pkt_udp(&p, &t, 64, 0);
	if (!ifindex || bench_parse_mac(argv[1], p.data) || count <= 0) {
		fprintf(stderr, "bench: gen: bad interface, MAC or count\n");
		return -EINVAL;
	}
	skel = xdp_min_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "bench: cannot load xdp_min: %s\n", strerror(errno));
		return -1;
	}
	memcpy(skel->bss->gen_tmpl, p.data, sizeof(skel->bss->gen_tmpl));
	skel->bss->gen_new = !strcmp(argv[2], "new");
	skel->data->gen_flows = skel->bss->gen_new ? 1 : (__u32)atoi(argv[2]);
	ctx.data_end = p.len;
	ctx.ingress_ifindex = (__u32)ifindex;
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .data_in = p.data,
			    .data_size_in = p.len,
			    .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx),
			    .repeat = (__u32)count,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		t0 = ns_now();
		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bench_gen), &opts);
		t1 = ns_now();
		if (err)
			fprintf(stderr, "bench: gen: live test_run failed: %s\n", strerror(errno));
		else
			printf("sent %ld in %llu ns\n", count, (unsigned long long)(t1 - t0));
	}
	xdp_min_bpf__destroy(skel);
	return err ? -1 : 0;
}
