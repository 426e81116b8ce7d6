// SPDX-License-Identifier: GPL-2.0
/*
 * attach.c - the programs of the veth forwarding topology (issue 5, part 2),
 * attached from inside the namespace that owns the interfaces (run.sh uses
 * nsenter --net, which keeps /sys/fs/bpf visible for the pins):
 *
 *   bench_pkt attach fwd IFNAME...        minimal XDP forwarder (bench_fwd)
 *   bench_pkt attach static IN OUT DMAC   static-MAC forwarder on IN: every
 *                                         frame to OUT, to DMAC, from OUT's
 *                                         MAC (bench_static_fwd)
 *   bench_pkt attach sink IFNAME...       count-and-drop (bench_sink)
 *   bench_pkt attach natsync IN OUT DIR   natsync's XDP program on IN/OUT,
 *                                         maps filled as nsb_fill_config(),
 *                                         maps pinned under DIR
 *   bench_pkt attach counters DIR         natsync counters from DIR as JSON
 *   bench_pkt attach prefill DIR N        N established sessions into the
 *                                         maps pinned in DIR (natsyncd's)
 *   bench_pkt attach off IFNAME...        detach XDP
 *
 * XDP attached through netlink stays attached (and keeps its maps) after
 * this process exits; run.sh detaches it, or deletes the namespaces.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "nsmaps.h"
#include "daemon/counters.h"
#include "xdp_min.skel.h"

/* Native first (veth supports it), generic as the fallback. */
static int xdp_attach(const char *ifname, int prog_fd)
{
	int ifindex = (int)if_nametoindex(ifname);
	int err;

	if (!ifindex) {
		fprintf(stderr, "bench: no interface %s\n", ifname);
		return -ENODEV;
	}
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "bench: native XDP on %s failed (%s), using generic\n", ifname,
			strerror(-err));
		err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE, NULL);
	}
	if (err)
		fprintf(stderr, "bench: XDP attach on %s failed: %s\n", ifname, strerror(-err));
	return err;
}

static int attach_ref(int argc, char **argv, bool sink)
{
	struct xdp_min_bpf *skel = xdp_min_bpf__open_and_load();
	int i, err = 0;

	if (!skel) {
		fprintf(stderr, "bench: cannot load xdp_min: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < argc && !err; i++)
		err = xdp_attach(argv[i], bpf_program__fd(sink ? skel->progs.bench_sink
							       : skel->progs.bench_fwd));
	xdp_min_bpf__destroy(skel);
	return err;
}

int bench_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* bench_static_fwd on IN, its next hop (OUT, DMAC, OUT's MAC) set before load. */
static int attach_static(int argc, char **argv)
{
	struct xdp_min_bpf *skel;
	uint8_t dmac[6], smac[6];
	int out, err;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_pkt attach static IN OUT DMAC\n");
		return -EINVAL;
	}
	out = (int)if_nametoindex(argv[1]);
	if (!out || bench_if_mac(argv[1], smac) || bench_parse_mac(argv[2], dmac)) {
		fprintf(stderr, "bench: attach static: bad interface %s or MAC %s\n", argv[1],
			argv[2]);
		return -EINVAL;
	}
	skel = xdp_min_bpf__open();
	if (!skel) {
		fprintf(stderr, "bench: cannot open xdp_min: %s\n", strerror(errno));
		return -1;
	}
	skel->rodata->static_ifindex = (__u32)out;
	memcpy((void *)skel->rodata->static_dmac, dmac, 6);
	memcpy((void *)skel->rodata->static_smac, smac, 6);
	err = xdp_min_bpf__load(skel);
	if (err)
		fprintf(stderr, "bench: cannot load xdp_min: %s\n", strerror(-err));
	err = err ?: xdp_attach(argv[0], bpf_program__fd(skel->progs.bench_static_fwd));
	xdp_min_bpf__destroy(skel);
	return err;
}

static int attach_natsync(int argc, char **argv)
{
	char why[256];
	struct nsb *b;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_pkt attach natsync IN OUT PIN_DIR\n");
		return -EINVAL;
	}
	/* Room for the all-new-flows case: every packet is a session. */
	b = nsb_open(4L << 20, false, why, sizeof(why));
	if (!b) {
		fprintf(stderr, "bench: %s\n", why);
		return -ENOENT;
	}
	err = nsb_fill_config(b, (int)if_nametoindex(argv[0]), (int)if_nametoindex(argv[1]));
	if (err)
		fprintf(stderr, "bench: filling natsync maps failed: %s\n", strerror(-err));
	if (!err) {
		mkdir(argv[2], 0700);
		err = bpf_object__pin_maps(nsb_obj(b), argv[2]);
	}
	err = err ?: xdp_attach(argv[0], nsb_prog_fd(b, false));
	err = err ?: xdp_attach(argv[1], nsb_prog_fd(b, false));
	nsb_close(b);
	return err;
}

/* Print the natsync counters pinned in dir as one JSON object. */
static int print_counters(const char *dir)
{
	uint64_t c[NS_CNT_MAX];
	char path[512];
	int fd, i, err;

	snprintf(path, sizeof(path), "%s/%s", dir, NS_MAP_COUNTERS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = ns_counters_read(fd, c);
	if (err)
		return err;
	putchar('{');
	for (i = 0; i < NS_CNT_MAX; i++)
		printf("%s\"%s\":%llu", i ? "," : "", ns_counter_name(i), (unsigned long long)c[i]);
	printf("}\n");
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	int i, err = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_pkt attach (fwd|sink|off) IFNAME... | "
			"natsync IN OUT PIN_DIR | counters PIN_DIR | prefill PIN_DIR N\n");
		return -EINVAL;
	}
	if (!strcmp(argv[0], "fwd") || !strcmp(argv[0], "sink"))
		return attach_ref(argc - 1, argv + 1, !strcmp(argv[0], "sink"));
	if (!strcmp(argv[0], "static"))
		return attach_static(argc - 1, argv + 1);
	if (!strcmp(argv[0], "natsync"))
		return attach_natsync(argc - 1, argv + 1);
	if (!strcmp(argv[0], "counters"))
		return print_counters(argv[1]);
	if (!strcmp(argv[0], "prefill") && argc == 3) {
		err = nsb_prefill_pinned(argv[1], atol(argv[2]));
		if (err)
			fprintf(stderr, "bench: prefill %s: %s\n", argv[1], strerror(-err));
		return err;
	}
	if (!strcmp(argv[0], "off")) {
		for (i = 1; i < argc; i++)
			if (if_nametoindex(argv[i]))
				err = bpf_xdp_detach((int)if_nametoindex(argv[i]), 0, NULL) ?: err;
		return err;
	}
	fprintf(stderr, "bench: unknown attach target %s\n", argv[0]);
	return -EINVAL;
}
