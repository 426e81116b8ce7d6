// SPDX-License-Identifier: GPL-2.0
/* fixture.c - see fixture.h. */
#include <criterion/criterion.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natsync.skel.h"
#include "tests/bpf/fixture.h"

struct natsync_bpf *t_skel;
int t_ifin, t_ifout;
uint8_t t_mac_in[6], t_mac_out[6];
const uint8_t t_mac_sub[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t t_mac_rem[6] = {0x02, 0, 0, 0, 0, 0x03};

static void sh(const char *cmd)
{
	int rc = system(cmd);

	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void if_mac(const char *name, uint8_t *mac)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

static void write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "open %s", path);
	fputs(val, f);
	fclose(f);
}

/* Private namespace: nsbt_in (100.64.0.1/24) and nsbt_out
 * (198.51.100.1/24), permanent neighbours for the subscriber and remote
 * hosts, a blackhole route for the pool (as on a real box, so pool
 * addresses are forwarded, not "local"). */
static void netns_setup(void)
{
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): run as root");
	sh("ip link set lo up");
	sh("ip link add nsbt_in type veth peer name nsbt_inp");
	sh("ip link add nsbt_out type veth peer name nsbt_outp");
	sh("ip link set nsbt_in up && ip link set nsbt_inp up");
	sh("ip link set nsbt_out up && ip link set nsbt_outp up");
	sh("ip addr add 100.64.0.1/24 dev nsbt_in");
	sh("ip addr add 198.51.100.1/24 dev nsbt_out");
	sh("ip neigh replace 100.64.0.2 lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
	sh("ip neigh replace 100.64.0.3 lladdr 02:00:00:00:00:02 dev nsbt_in nud permanent");
	sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
	sh("ip neigh replace 198.51.100.3 lladdr 02:00:00:00:00:03 dev nsbt_out nud permanent");
	sh("ip route add blackhole 203.0.113.0/24");
	write_file("/proc/sys/net/ipv4/ip_forward", "1");
	t_ifin = if_nametoindex("nsbt_in");
	t_ifout = if_nametoindex("nsbt_out");
	cr_assert(t_ifin > 0 && t_ifout > 0);
	if_mac("nsbt_in", t_mac_in);
	if_mac("nsbt_out", t_mac_out);
}

static void map_put(struct bpf_map *m, const void *k, const void *v)
{
	int rc = bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY);

	cr_assert_eq(rc, 0, "update %s: %d", bpf_map__name(m), rc);
}

void t_set_cfg(uint32_t flags)
{
	struct ns_cfg c = {.flags = flags, .n_svc = 1};
	uint32_t k = NS_CFG_SLOT_LIVE;

	/* bank 0 in force: the live slot (role) and bank 0's slot (events) */
	map_put(t_skel->maps.ns_config, &k, &c);
	k = NS_CFG_SLOT_BANK(0);
	map_put(t_skel->maps.ns_config, &k, &c);
}

void t_set_pool(uint32_t id, const char *first, uint32_t count, uint16_t lo, uint16_t hi,
		uint32_t flags)
{
	struct ns_pool p;

	memset(&p, 0, sizeof(p));
	p.ranges[0].first = ntohl(pkt_ip(first));
	p.ranges[0].count = count;
	p.n_ranges = 1;
	p.n_addrs = count;
	p.port_lo = lo;
	p.port_hi = hi;
	p.flags = flags;
	map_put(t_skel->maps.ns_pools, &id, &p);
}

void t_set_svc(uint16_t fw_first, uint16_t fw_count, uint16_t nat_first, uint16_t nat_count,
	       uint32_t flags)
{
	struct ns_svc s = {fw_first, fw_count, nat_first, nat_count, flags, 0, 0}; /* bank 0 */
	uint32_t k = 0;

	map_put(t_skel->maps.ns_svc, &k, &s);
}

struct ns_match t_match(const char *src, int src_len, const char *dst, int dst_len, uint8_t proto,
			uint16_t dport_lo, uint16_t dport_hi, uint8_t dir)
{
	struct ns_match m;

	memset(&m, 0, sizeof(m));
	m.src_addr = pkt_ip(src);
	m.src_mask = src_len ? htonl(0xffffffffu << (32 - src_len)) : 0;
	m.dst_addr = pkt_ip(dst);
	m.dst_mask = dst_len ? htonl(0xffffffffu << (32 - dst_len)) : 0;
	m.sport_lo = 0;
	m.sport_hi = 0xffff;
	m.dport_lo = dport_lo;
	m.dport_hi = dport_hi;
	m.proto = proto;
	m.dir_mask = dir;
	return m;
}

void t_set_fw(uint32_t idx, struct ns_match m, uint8_t action)
{
	struct ns_fw_term t;

	memset(&t, 0, sizeof(t));
	t.m = m;
	t.action = action;
	t.term_idx = idx;
	map_put(t_skel->maps.ns_fw_terms, &idx, &t);
}

void t_set_nat(uint32_t idx, struct ns_match m, uint8_t type, uint8_t flags, uint8_t pool)
{
	struct ns_nat_term t;

	memset(&t, 0, sizeof(t));
	t.m = m;
	t.nat_type = type;
	t.flags = flags;
	t.src_pool = pool;
	t.dst_pool = 0xff;
	t.term_idx = idx;
	map_put(t_skel->maps.ns_nat_terms, &idx, &t);
}

void t_set_nat2(uint32_t idx, struct ns_match m, uint8_t type, uint8_t src_pool, uint8_t dst_pool)
{
	struct ns_nat_term t;

	memset(&t, 0, sizeof(t));
	t.m = m;
	t.nat_type = type;
	t.src_pool = src_pool;
	t.dst_pool = dst_pool;
	t.term_idx = idx;
	map_put(t_skel->maps.ns_nat_terms, &idx, &t);
}

static void default_config(void)
{
	struct ns_iface in = {.svc_set = 0, .side = NS_SIDE_INSIDE};
	struct ns_iface out = {.svc_set = 0, .side = NS_SIDE_OUTSIDE};
	uint32_t k;

	t_set_cfg(NS_CFG_F_ACTIVE);
	k = t_ifin;
	map_put(t_skel->maps.ns_ifaces, &k, &in);
	map_put(t_skel->maps.ns_tx_ports, &k, &k);
	k = t_ifout;
	map_put(t_skel->maps.ns_ifaces, &k, &out);
	map_put(t_skel->maps.ns_tx_ports, &k, &k);
	t_set_pool(0, T_POOL_FIRST, 4, 0, 0, NS_POOL_F_PORT_AUTO | NS_POOL_F_RANDOM_PORT);
	t_set_nat(0, t_match("100.64.0.0", 10, "0.0.0.0", 0, 0, 0, 0xffff, NS_DIR_INPUT),
		  NS_NAT_NAPT44, 0, 0);
	t_set_svc(0, 0, 0, 1, 0);
}

static int quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void t_setup(unsigned int max_sessions)
{
	netns_setup();
	t_load(max_sessions);
}

void t_load(unsigned int max_sessions)
{
	libbpf_set_print(quiet);
	t_skel = natsync_bpf__open();
	cr_assert_not_null(t_skel);
	bpf_map__set_max_entries(t_skel->maps.ns_sessions, max_sessions);
	bpf_map__set_max_entries(t_skel->maps.ns_session_rev, max_sessions);
	bpf_map__set_max_entries(t_skel->maps.ns_nat64_sess, max_sessions);
	bpf_map__set_max_entries(t_skel->maps.ns_nat64_rev, max_sessions);
	bpf_map__set_max_entries(t_skel->maps.ns_ports, 4096);
	bpf_map__set_max_entries(t_skel->maps.ns_eim, 4096);
	bpf_map__set_max_entries(t_skel->maps.ns_paired, 4096);
	bpf_map__set_max_entries(t_skel->maps.ns_events, 64 * 1024);
	cr_assert_eq(natsync_bpf__load(t_skel), 0, "skeleton load (verifier) failed");
	default_config();
}

void t_teardown(void)
{
	natsync_bpf__destroy(t_skel);
	t_skel = NULL;
}

int t_run_xdp(int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len)
{
	struct xdp_md ctx = {.data = 0, .data_end = len, .ingress_ifindex = ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX * 2, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(t_skel->progs.natsync_xdp), &o);

	cr_assert_eq(rc, 0, "xdp test run: %d", rc);
	*out_len = o.data_size_out;
	return o.retval;
}

int t_run_tc(int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len)
{
	struct __sk_buff ctx;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX * 2, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = ifindex;
	rc = bpf_prog_test_run_opts(bpf_program__fd(t_skel->progs.natsync_tc), &o);
	cr_assert_eq(rc, 0, "tc test run: %d", rc);
	*out_len = o.data_size_out;
	return o.retval;
}

uint64_t t_cnt(int idx)
{
	int n = libbpf_num_possible_cpus(), i;
	uint64_t vals[n], sum = 0;
	uint32_t k = idx;

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(t_skel->maps.ns_counters), &k, vals), 0);
	for (i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

void t_assert_invariant(void)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < NS_CNT_MAX; i++)
		if (ns_counter_is_verdict(i))
			sum += t_cnt(i);
	cr_assert_eq(t_cnt(NS_CNT_RX), sum, "rx %lu != sum of verdicts %lu",
		     (unsigned long)t_cnt(NS_CNT_RX), (unsigned long)sum);
}

static int frag_rec(void *ctx, void *data, size_t size)
{
	struct t_frag_log *l = ctx;
	const struct ns_frag_rec *r = data;

	cr_assert(size >= sizeof(*r));
	if (l->n >= T_FRAG_LOG_MAX)
		return 0;
	memcpy(&l->hdr[l->n], r, sizeof(*r));
	if (r->type == NS_FRAG_REC_HELD) {
		cr_assert(size >= sizeof(*r) + r->len);
		memcpy(l->data[l->n], r->data, r->len);
	}
	l->n++;
	return 0;
}

void t_frag_ring_read(struct t_frag_log *l)
{
	struct ring_buffer *rb =
	    ring_buffer__new(bpf_map__fd(t_skel->maps.ns_frag_ring), frag_rec, l, NULL);

	memset(l, 0, sizeof(*l));
	cr_assert_not_null(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
}

int t_fd(const char *map)
{
	struct bpf_map *m = bpf_object__find_map_by_name(t_skel->obj, map);

	cr_assert_not_null(m, "map %s", map);
	return bpf_map__fd(m);
}

int t_map_count(int fd)
{
	uint8_t key[64], next[64];
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

int t_session(const struct ns_tuple *in_key, struct ns_session *s)
{
	return bpf_map_lookup_elem(bpf_map__fd(t_skel->maps.ns_sessions), in_key, s);
}

struct ns_tuple t_tuple(const char *s, uint16_t sport, const char *d, uint16_t dport, uint8_t proto)
{
	return pkt_tuple_str(s, sport, d, dport, proto);
}

static struct pkt_spec spec(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			    uint16_t dport, const uint8_t *smac, const uint8_t *dmac)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	memcpy(s.smac, smac, 6);
	memcpy(s.dmac, dmac, 6);
	s.proto = proto;
	s.src = src;
	s.dst = dst;
	s.sport = sport;
	s.dport = dport;
	s.icmp_id = sport;
	s.seq = 1000;
	return s;
}

struct pkt_spec t_spec_out(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			   uint16_t dport)
{
	return spec(proto, src, sport, dst, dport, t_mac_sub, t_mac_in);
}

struct pkt_spec t_spec_in(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			  uint16_t dport)
{
	return spec(proto, src, sport, dst, dport, t_mac_rem, t_mac_out);
}

struct pkt_info t_send(int tc, int ifindex, const struct pkt_spec *s, int expect, uint8_t *out,
		       int *out_len)
{
	uint8_t in[PKT_MAX], tmp[PKT_MAX * 2];
	int len = pkt_build(in, s), olen = 0, rc;

	if (!out)
		out = tmp;
	if (tc)
		rc = t_run_tc(ifindex, in, len, out, &olen);
	else
		rc = t_run_xdp(ifindex, in, len, out, &olen);
	cr_assert_eq(rc, expect, "%s returned %d, expected %d", tc ? "tc" : "xdp", rc, expect);
	if (out_len)
		*out_len = olen;
	return pkt_parse(out, olen);
}

void t_sh(const char *cmd)
{
	sh(cmd);
}

int t_run(int tc, int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len)
{
	return tc ? t_run_tc(ifindex, in, len, out, out_len)
		  : t_run_xdp(ifindex, in, len, out, out_len);
}

int t_fwd_rc(int tc)
{
	return tc ? TC_RET_REDIRECT : XDP_RET_REDIRECT;
}

int t_drop_rc(int tc)
{
	return tc ? TC_RET_SHOT : XDP_RET_DROP;
}

int t_pass_rc(int tc)
{
	return tc ? TC_RET_OK : XDP_RET_PASS;
}
