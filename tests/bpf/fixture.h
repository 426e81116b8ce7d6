/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fixture.h - test bed for the BPF_PROG_TEST_RUN suites: every test runs in
 * its own Criterion child inside a private network namespace (unshare) with
 * two veth pairs standing in for the inside and outside interfaces, fixed
 * neighbours so bpf_fib_lookup succeeds, and the natsync skeleton loaded
 * with small maps. Nothing leaves the namespace; it dies with the child.
 */
#ifndef NATSYNC_TEST_FIXTURE_H
#define NATSYNC_TEST_FIXTURE_H

#include "common/natsync.h"
#include "tests/bpf/pkt.h"
#include "tests/bpf/tuple.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#define T_SUB "100.64.0.2" /* subscriber */
#define T_SUB2 "100.64.0.3"
#define T_REM "198.51.100.2" /* remote server */
#define T_REM2 "198.51.100.3"
#define T_POOL_FIRST "203.0.113.8"

#define XDP_RET_PASS 2
#define XDP_RET_DROP 1
#define XDP_RET_TX 3
#define XDP_RET_REDIRECT 4
#define TC_RET_OK 0
#define TC_RET_SHOT 2
#define TC_RET_REDIRECT 7

struct natsync_bpf;
extern struct natsync_bpf *t_skel;
extern int t_ifin, t_ifout;
extern uint8_t t_mac_in[6], t_mac_out[6];	 /* the box's interfaces */
extern const uint8_t t_mac_sub[6], t_mac_rem[6]; /* their neighbours */

/* Build the namespace, load the skeleton (ns_sessions max @max_sessions),
 * install the default config: one service set, NAPT44 of 100.64.0.0/10 to
 * a 4-address pool with automatic random ports, no firewall. */
void t_setup(unsigned int max_sessions);
/* t_setup's skeleton and config alone, in the namespace t_setup built:
 * after a t_teardown, a test's own .init (it runs after the suite's) loads
 * the skeleton again with other map sizes. */
void t_load(unsigned int max_sessions);
void t_teardown(void);

/* Map writers (return nothing; assert on failure). */
void t_set_cfg(uint32_t flags);
void t_set_pool(uint32_t id, const char *first, uint32_t count, uint16_t lo, uint16_t hi,
		uint32_t flags);
void t_set_svc(uint16_t fw_first, uint16_t fw_count, uint16_t nat_first, uint16_t nat_count,
	       uint32_t flags);
struct ns_match t_match(const char *src, int src_len, const char *dst, int dst_len, uint8_t proto,
			uint16_t dport_lo, uint16_t dport_hi, uint8_t dir);
void t_set_fw(uint32_t idx, struct ns_match m, uint8_t action);
void t_set_nat(uint32_t idx, struct ns_match m, uint8_t type, uint8_t flags, uint8_t pool);
/* A NAT term with a destination pool too (dnat-44, twice-nat). */
void t_set_nat2(uint32_t idx, struct ns_match m, uint8_t type, uint8_t src_pool, uint8_t dst_pool);

/* Run a frame through XDP or TC on @ifindex; out/out_len get the result. */
int t_run_xdp(int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len);
int t_run_tc(int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len);

/* Build @s, run it through TC (@tc) or XDP on @ifindex, assert the return
 * code is @expect and parse the output (out may be NULL). */
struct pkt_info t_send(int tc, int ifindex, const struct pkt_spec *s, int expect, uint8_t *out,
		       int *out_len);

/* Counters summed over CPUs, and the rx == sum(verdicts) check. */
uint64_t t_cnt(int idx);
void t_assert_invariant(void);
/* Number of entries in a map. */
int t_map_count(int fd);
int t_fd(const char *map);
/* Find the session whose in_key matches; 0 if found. */
int t_session(const struct ns_tuple *in_key, struct ns_session *s);
struct ns_tuple t_tuple(const char *s, uint16_t sport, const char *d, uint16_t dport,
			uint8_t proto);

/* A spec for sub -> rem / rem -> addr with the right MACs. */
struct pkt_spec t_spec_out(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			   uint16_t dport);
struct pkt_spec t_spec_in(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			  uint16_t dport);

/* ns_frag_ring's records as the daemon would read them (bpf/frag.h): the
 * header of each, and the data of a held fragment. */
#define T_FRAG_LOG_MAX 16
struct t_frag_log {
	int n;
	struct ns_frag_rec hdr[T_FRAG_LOG_MAX];
	uint8_t data[T_FRAG_LOG_MAX][NS_FRAG_DATA_MAX];
};
/* Empty @l, then read into it every record the ring holds. */
void t_frag_ring_read(struct t_frag_log *l);

/* Run @cmd through the shell (in the test's namespace); assert it succeeds. */
void t_sh(const char *cmd);

/* t_run_tc() if @tc, else t_run_xdp(); the verdicts of a frame forwarded
 * by redirect, dropped, or left to the kernel, in the program of @tc. */
int t_run(int tc, int ifindex, const uint8_t *in, int len, uint8_t *out, int *out_len);
int t_fwd_rc(int tc);
int t_drop_rc(int tc);
int t_pass_rc(int tc);

/* Test(@suite, @name_xdp) and Test(@suite, @name_tc): @fn(0, ...) and
 * @fn(1, ...), the same checks through XDP and through TC. */
#define T_XDP_TC(suite, name, fn, ...)                                                             \
	Test(suite, name##_xdp)                                                                    \
	{                                                                                          \
		fn(0, ##__VA_ARGS__);                                                              \
	}                                                                                          \
	Test(suite, name##_tc)                                                                     \
	{                                                                                          \
		fn(1, ##__VA_ARGS__);                                                              \
	}

#endif /* NATSYNC_TEST_FIXTURE_H */
