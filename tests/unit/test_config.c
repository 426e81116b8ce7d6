// SPDX-License-Identifier: GPL-2.0
/*
 * test_config.c - the config loader: every shipped example loads, the seed
 * example compiles into the expected map images, defaults, timeouts, the
 * fingerprint, and a table of broken configs with their exact error text.
 * Runs from the repository root (it reads configs/).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/aging.h"
#include "daemon/config.h"

#define CONFIGS_DIR "configs"

static struct ns_config conf, conf2;
static char err[NS_CONF_ERR_MAX];

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a.s_addr;
}

static uint32_t mask(unsigned int len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

static void load_ok(const char *path, struct ns_config *c)
{
	err[0] = '\0';
	cr_assert_eq(ns_config_load(path, c, err, sizeof(err)), 0, "%s: %s", path, err);
}

/* base with the one occurrence of find replaced by repl (malloc'd). */
static char *subst(const char *base, const char *find, const char *repl)
{
	const char *at = strstr(base, find);
	size_t n;
	char *out;

	cr_assert_not_null(at, "'%s' not in the base config", find);
	cr_assert_null(strstr(at + 1, find), "'%s' is not unique in the base config", find);
	n = strlen(base) - strlen(find) + strlen(repl) + 1;
	out = malloc(n);
	cr_assert_not_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - base), base, repl, at + strlen(find));
	return out;
}

/* ---- every shipped example loads ---------------------------------------- */

Test(config, every_example_in_configs_loads)
{
	DIR *d = opendir(CONFIGS_DIR);
	struct dirent *e;
	char path[512];
	int n = 0;

	cr_assert_not_null(d, "run the tests from the repository root (%s/ missing)", CONFIGS_DIR);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".cfg"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", CONFIGS_DIR, e->d_name);
		memset(&conf, 0, sizeof(conf));
		err[0] = '\0';
		cr_expect_eq(ns_config_load(path, &conf, err, sizeof(err)), 0, "%s: %s", path, err);
		cr_expect_gt(conf.n_svcs, 0, "%s: no service set", path);
		n++;
	}
	closedir(d);
	/* chassis1, chassis2, single-box and the per-feature examples */
	cr_expect_geq(n, 8, "only %d example configs found", n);
}

/* ---- the seed's two-chassis example ------------------------------------- */

Test(config, seed_chassis1_compiles_to_expected_images)
{
	const struct ns_pool *p;
	const struct ns_nat_term *t;
	int i;

	load_ok(CONFIGS_DIR "/chassis1.cfg", &conf);
	cr_expect_str_eq(conf.node_name, "chassis1");
	cr_expect_str_eq(conf.path, CONFIGS_DIR "/chassis1.cfg");

	/* pool p2 address 203.0.113.0/24, port automatic random, round-robin */
	cr_assert_eq(conf.n_pools, 1);
	cr_expect_str_eq(conf.pool_names[0], "p2");
	p = &conf.pools[0];
	cr_expect_eq(p->n_ranges, 1);
	cr_expect_eq(p->ranges[0].first, 0xcb007100u); /* host order */
	cr_expect_eq(p->ranges[0].count, 256);
	cr_expect_eq(p->n_addrs, 256);
	cr_expect_eq(p->flags, NS_POOL_F_PORT_AUTO | NS_POOL_F_RANDOM_PORT | NS_POOL_F_ROUND_ROBIN);

	/* rule r2 term t1: two source prefixes -> two compiled terms, in order */
	cr_assert_eq(conf.n_nat_rules, 1);
	cr_expect_str_eq(conf.nat_rule_names[0], "r2");
	cr_assert_eq(conf.n_nat, 2);
	for (i = 0; i < 2; i++) {
		t = &conf.nat[i];
		cr_expect_eq(t->m.src_addr, ip(i == 0 ? "100.96.0.0" : "100.64.0.0"), "term %d", i);
		cr_expect_eq(t->m.src_mask, mask(11));
		cr_expect_eq(t->m.dst_addr, 0);
		cr_expect_eq(t->m.dst_mask, 0);
		cr_expect_eq(t->m.proto, 0);
		cr_expect_eq(t->m.sport_lo, 0);
		cr_expect_eq(t->m.sport_hi, 65535);
		cr_expect_eq(t->m.dport_lo, 0);
		cr_expect_eq(t->m.dport_hi, 65535);
		cr_expect_eq(t->m.dir_mask, NS_DIR_INPUT);
		cr_expect_eq(t->nat_type, NS_NAT_NAPT44);
		cr_expect_eq(t->flags, NS_NAT_F_PAIRED | NS_NAT_F_SYSLOG);
		cr_expect_eq(t->src_pool, 0);
		cr_expect_eq(t->dst_pool, 0xff);
		cr_expect_eq(t->rule_idx, 0);
		cr_expect_eq(t->term_idx, 0);
	}
	cr_expect_eq(conf.n_fw, 0);

	/* service set ss2: NAT slice 0..2, no firewall, both syslog classes */
	cr_assert_eq(conf.n_svcs, 1);
	cr_expect_str_eq(conf.svc_conf[0].name, "ss2");
	cr_expect_eq(conf.svcs[0].nat_first, 0);
	cr_expect_eq(conf.svcs[0].nat_count, 2);
	cr_expect_eq(conf.svcs[0].fw_count, 0);
	cr_expect_eq(conf.svcs[0].flags, NS_SVC_F_SYSLOG_SESSION | NS_SVC_F_SYSLOG_NAT);
	cr_expect_eq(conf.svc_conf[0].replication_threshold, 180);
	cr_expect(conf.svc_conf[0].replicate);
	cr_expect_eq(conf.cfg.n_svc, 1);
	cr_expect_eq(conf.cfg.flags, NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS);

	/* next-hop-service inside/outside */
	cr_assert_eq(conf.n_ifaces, 2);
	cr_expect_str_eq(conf.ifaces[0].name, "ms-in");
	cr_expect_eq(conf.ifaces[0].side, NS_SIDE_INSIDE);
	cr_expect_eq(conf.ifaces[0].svc, 0);
	cr_expect_eq(conf.ifaces[0].mode, NS_ATTACH_AUTO);
	cr_expect_str_eq(conf.ifaces[1].name, "ms-out");
	cr_expect_eq(conf.ifaces[1].side, NS_SIDE_OUTSIDE);
	cr_expect_str_eq(conf.svc_conf[0].inside, "ms-in");
	cr_expect_str_eq(conf.svc_conf[0].outside, "ms-out");

	/* redundancy-options */
	cr_expect(conf.red.enabled);
	cr_expect_eq(conf.red.local_addr.s_addr, ip("192.0.2.1"));
	cr_expect_eq(conf.red.peer_addr.s_addr, ip("192.0.2.2"));
	cr_expect_str_eq(conf.red.device, "HA");
	cr_expect_eq(conf.red.replication_threshold, 180);
	cr_expect_eq(conf.red.port, 7788);
}

Test(config, seed_chassis2_mirrors_chassis1)
{
	load_ok(CONFIGS_DIR "/chassis1.cfg", &conf);
	load_ok(CONFIGS_DIR "/chassis2.cfg", &conf2);
	cr_expect_eq(conf2.red.local_addr.s_addr, conf.red.peer_addr.s_addr);
	cr_expect_eq(conf2.red.peer_addr.s_addr, conf.red.local_addr.s_addr);
	cr_expect_str_neq(conf.pin_path, conf2.pin_path);
	cr_expect_str_neq(conf.control_socket, conf2.control_socket);
	/* the compiled NAT images are identical, byte for byte */
	cr_expect_eq(conf.n_nat, conf2.n_nat);
	cr_expect_eq(memcmp(conf.nat, conf2.nat, sizeof(conf.nat)), 0);
	cr_expect_eq(memcmp(conf.pools, conf2.pools, sizeof(conf.pools)), 0);
	cr_expect_eq(memcmp(conf.svcs, conf2.svcs, sizeof(conf.svcs)), 0);
}

/* ---- expansion, slices and overrides ------------------------------------- */

Test(config, multi_set_expansion_slices_and_overrides)
{
	const struct ns_fw_term *f;

	load_ok(CONFIGS_DIR "/multi-set.cfg", &conf);
	/* "common": (tcp, udp) x (137-139, 445) + 2 source prefixes = 6 terms,
	 * copied once per service set that lists it */
	cr_assert_eq(conf.n_fw, 12);
	cr_expect_eq(conf.svcs[0].fw_first, 0);
	cr_expect_eq(conf.svcs[0].fw_count, 6);
	cr_expect_eq(conf.svcs[1].fw_first, 6);
	cr_expect_eq(conf.svcs[1].fw_count, 6);
	cr_expect_eq(conf.svcs[0].nat_first, 0);
	cr_expect_eq(conf.svcs[0].nat_count, 1);
	cr_expect_eq(conf.svcs[1].nat_first, 1);
	cr_expect_eq(conf.svcs[1].nat_count, 1);
	cr_expect_eq(conf.svcs[0].flags, NS_SVC_F_HAS_FW);
	cr_expect_eq(conf.svcs[1].flags, NS_SVC_F_HAS_FW | NS_SVC_F_NO_REPLICATE);
	cr_expect_not(conf.svc_conf[1].replicate);
	cr_expect_eq(memcmp(&conf.fw[0], &conf.fw[6], 6 * sizeof(conf.fw[0])), 0);

	/* protocol outer, destination port inner */
	f = conf.fw;
	cr_expect_eq(f[0].m.proto, 6);
	cr_expect_eq(f[0].m.dport_lo, 137);
	cr_expect_eq(f[0].m.dport_hi, 139);
	cr_expect_eq(f[1].m.proto, 6);
	cr_expect_eq(f[1].m.dport_lo, 445);
	cr_expect_eq(f[1].m.dport_hi, 445);
	cr_expect_eq(f[2].m.proto, 17);
	cr_expect_eq(f[2].m.dport_lo, 137);
	cr_expect_eq(f[3].m.proto, 17);
	cr_expect_eq(f[3].m.dport_lo, 445);
	cr_expect_eq(f[0].action, NS_FW_DISCARD);
	cr_expect_eq(f[0].m.dir_mask, NS_DIR_INPUT | NS_DIR_OUTPUT);
	cr_expect_eq(f[0].term_idx, 0);
	cr_expect_eq(f[4].term_idx, 1);
	cr_expect_eq(f[4].action, NS_FW_ACCEPT);
	cr_expect_eq(f[4].m.src_addr, ip("100.64.0.0"));
	cr_expect_eq(f[4].m.src_mask, mask(16));
	cr_expect_eq(f[5].m.src_addr, ip("100.65.0.0"));
	cr_expect_eq(f[5].m.proto, 0);
	cr_expect_eq(f[5].m.dport_hi, 65535);

	/* pool pb: a /26 and a 10-address range, explicit port range */
	cr_expect_eq(conf.pools[1].n_ranges, 2);
	cr_expect_eq(conf.pools[1].ranges[0].count, 64);
	cr_expect_eq(conf.pools[1].ranges[1].first, 0xcb0071c8u);
	cr_expect_eq(conf.pools[1].ranges[1].count, 10);
	cr_expect_eq(conf.pools[1].n_addrs, 74);
	cr_expect_eq(conf.pools[1].port_lo, 2048);
	cr_expect_eq(conf.pools[1].port_hi, 32767);
	cr_expect_eq(conf.pools[1].flags, NS_POOL_F_RANDOM_PORT);
	cr_expect_eq(conf.nat[1].flags, 0, "address-pooling arbitrary clears PAIRED");
	cr_expect_eq(conf.nat[1].src_pool, 1);

	/* attach mode: global "native", overridden per interface */
	cr_assert_eq(conf.n_ifaces, 4);
	cr_expect_eq(conf.ifaces[0].mode, NS_ATTACH_NATIVE);
	cr_expect_str_eq(conf.ifaces[2].name, "nsm-b-in");
	cr_expect_eq(conf.ifaces[2].mode, NS_ATTACH_TC);
	cr_expect_eq(conf.ifaces[3].mode, NS_ATTACH_GENERIC);
	cr_expect_eq(conf.ifaces[3].svc, 1);

	/* globals */
	cr_expect_eq(conf.max_sessions, 262144);
	cr_expect_eq(conf.aging_interval_ms, 500);
	cr_expect_eq(conf.log_level, NS_LOG_DEBUG);
	cr_expect_str_eq(conf.log_file, "/var/log/natsync-edge-7.log");
	cr_expect_eq(conf.timeouts.tcp_syn, 30);
	cr_expect_eq(conf.timeouts.binding, 60);
	cr_expect_not(conf.red.enabled);
}

Test(config, feature_examples_compile)
{
	load_ok(CONFIGS_DIR "/dnat-44.cfg", &conf);
	cr_expect_eq(conf.nat[0].nat_type, NS_NAT_DNAT44);
	cr_expect_eq(conf.nat[0].src_pool, 0xff);
	cr_expect_eq(conf.nat[0].dst_pool, 0);
	cr_expect_eq(conf.nat[0].m.dir_mask, NS_DIR_OUTPUT);
	cr_expect_eq(conf.nat[0].m.dst_addr, ip("203.0.113.80"));
	cr_expect_eq(conf.nat[0].m.dst_mask, mask(32));
	cr_expect_eq(conf.pools[0].port_lo, 8080);
	cr_expect_eq(conf.pools[0].port_hi, 8080);
	cr_expect_eq(conf.pools[0].flags, 0);

	load_ok(CONFIGS_DIR "/eim-eif.cfg", &conf);
	cr_expect_eq(conf.nat[0].flags, NS_NAT_F_EIM | NS_NAT_F_EIF | NS_NAT_F_PAIRED);
	cr_expect_eq(conf.pools[0].flags, NS_POOL_F_PARITY);
	cr_expect_eq(conf.pools[0].port_lo, 1024);

	load_ok(CONFIGS_DIR "/basic-nat44.cfg", &conf);
	cr_expect_eq(conf.nat[0].nat_type, NS_NAT_BASIC44);
	cr_expect_eq(conf.nat[0].flags, 0);
	cr_expect_eq(conf.pools[0].port_lo, 0);
	cr_expect_eq(conf.pools[0].flags, 0);

	load_ok(CONFIGS_DIR "/exemption.cfg", &conf);
	cr_expect_eq(conf.nat[0].nat_type, NS_NAT_NONE);
	cr_expect_eq(conf.nat[0].flags, NS_NAT_F_NO_TRANSLATION);
	cr_expect_eq(conf.nat[0].src_pool, 0xff);
	cr_expect_eq(conf.nat[1].nat_type, NS_NAT_NAPT44);

	load_ok(CONFIGS_DIR "/nat64.cfg", &conf);
	cr_expect_eq(conf.n_nat, 0);
	cr_expect_eq(conf.n_nat64, 1);
	cr_expect_eq(conf.nat64[0].src6_len, 48);
	cr_expect_eq(conf.nat64[0].pref64[1], 0x64);
	cr_expect_eq(conf.nat64[0].pref64[2], 0xff);
	cr_expect_eq(conf.nat64[0].pref64[3], 0x9b);

	load_ok(CONFIGS_DIR "/twice-nat.cfg", &conf);
	cr_expect_eq(conf.nat[0].nat_type, NS_NAT_TWICE);
	cr_expect_eq(conf.nat[0].src_pool, 0);
	cr_expect_eq(conf.nat[0].dst_pool, 1);

	load_ok(CONFIGS_DIR "/firewall-only.cfg", &conf);
	cr_expect_eq(conf.n_pools, 0);
	cr_expect_eq(conf.fw[0].action, NS_FW_REJECT);
	cr_expect_eq(conf.fw[0].syslog, 1);
	cr_expect_eq(conf.fw[3].m.dport_lo, 443, "'in' term srv: 22 then 443");
	cr_expect_eq(conf.fw[3].m.dir_mask, NS_DIR_OUTPUT);
	cr_expect_eq(conf.fw[4].m.proto, 1);
}

/* ---- defaults and timeouts ---------------------------------------------- */

Test(config, defaults)
{
	char host[NS_NAME_MAX] = "";

	memset(&conf, 0xa5, sizeof(conf));
	ns_config_defaults(&conf);
	gethostname(host, sizeof(host) - 1);
	cr_expect_str_eq(conf.node_name, host[0] ? host : "natsync");
	cr_expect_str_eq(conf.pin_path, "/sys/fs/bpf/natsync");
	cr_expect_str_eq(conf.control_socket, "/run/natsync.sock");
	cr_expect_str_eq(conf.log_file, "");
	cr_expect_eq(conf.log_level, NS_LOG_INFO);
	cr_expect_eq(conf.max_sessions, NS_MAX_SESSIONS_DEFAULT);
	cr_expect_eq(conf.aging_interval_ms, 1000);
	cr_expect_eq(conf.loop_nice, -10);
	cr_expect_eq(conf.attach_mode, NS_ATTACH_AUTO);
	cr_expect_eq(conf.timeouts.tcp_syn, 240);
	cr_expect_eq(conf.timeouts.tcp_established, 7440);
	cr_expect_eq(conf.timeouts.tcp_closing, 240);
	cr_expect_eq(conf.timeouts.tcp_time_wait, 240);
	cr_expect_eq(conf.timeouts.tcp_rst, 240);
	cr_expect_eq(conf.timeouts.udp, 300);
	cr_expect_eq(conf.timeouts.icmp, 60);
	cr_expect_eq(conf.timeouts.other, 300);
	cr_expect_eq(conf.timeouts.port_hold, 120);
	cr_expect_eq(conf.timeouts.binding, 0);
	cr_expect_not(conf.red.enabled);
	cr_expect_eq(conf.red.port, 7788);
	cr_expect_eq(conf.red.replication_threshold, 180);
	cr_expect_eq(conf.red.heartbeat_interval_ms, 1000);
	cr_expect_eq(conf.red.dead_interval_ms, 3000);
	cr_expect_eq(conf.red.priority, 100);
	cr_expect_not(conf.red.preempt);
	cr_expect_eq(conf.n_pools + conf.n_svcs + conf.n_fw + conf.n_nat + conf.n_ifaces, 0);
	cr_expect_eq(conf.cfg.flags, NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS);
	cr_expect_eq(conf.cfg.n_svc, 0);
}

/* The base config of the invalid-config table (line numbers matter). */
static const char base_cfg[] =
	"natsync: {\n"                                                           /* 1 */
	"\tpin-path = \"/sys/fs/bpf/nsu-test\";\n"                               /* 2 */
	"\tcontrol-socket = \"/run/nsu-test.sock\";\n"                           /* 3 */
	"\ttimeouts: { udp = 30; tcp-established = 600; };\n"                    /* 4 */
	"\tservices: {\n"                                                        /* 5 */
	"\t\tnat: {\n"                                                           /* 6 */
	"\t\t\tpools = ( { name = \"p1\"; address = [ \"203.0.113.0/24\" ]; port = \"automatic\"; } );\n" /* 7 */
	"\t\t\trules = ( { name = \"r1\"; match-direction = \"input\"; terms = (\n" /* 8 */
	"\t\t\t\t{ name = \"t1\"; from = { source-address = [ \"100.64.0.0/10\" ]; };\n" /* 9 */
	"\t\t\t\t  then = { translation-type = \"napt-44\"; source-pool = \"p1\"; }; } ); } );\n" /* 10 */
	"\t\t};\n"                                                               /* 11 */
	"\t\tstateful-firewall: {\n"                                             /* 12 */
	"\t\t\trules = ( { name = \"fw1\"; match-direction = \"input\"; terms = (\n" /* 13 */
	"\t\t\t\t{ name = \"t1\"; from = { protocol = [ \"tcp\", \"udp\" ]; destination-port = [ \"80\", \"1000-2000\" ]; }; then = \"accept\"; } ); } );\n" /* 14 */
	"\t\t};\n"                                                               /* 15 */
	"\t\tservice-sets = ( { name = \"ss1\"; nat-rules = [ \"r1\" ]; stateful-firewall-rules = [ \"fw1\" ];\n" /* 16 */
	"\t\t\tnext-hop-service = { inside-service-interface = \"nsu-in\"; outside-service-interface = \"nsu-out\"; }; } );\n" /* 17 */
	"\t};\n"                                                                 /* 18 */
	"};\n";                                                                  /* 19 */

Test(config, base_config_of_the_table_is_valid)
{
	cr_assert_eq(ns_config_load_string(base_cfg, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(conf.path, "t.cfg");
	cr_expect_eq(conf.n_fw, 4, "(tcp, udp) x (80, 1000-2000)");
	cr_expect_eq(conf.fw[1].m.dport_lo, 1000);
	cr_expect_eq(conf.fw[1].m.dport_hi, 2000);
	cr_expect_eq(conf.n_nat, 1);
	cr_expect_eq(conf.svcs[0].flags, NS_SVC_F_HAS_FW);
	cr_expect_eq(conf.timeouts.tcp_established, 600);
}

Test(config, session_timeouts_by_protocol_and_state)
{
	static const struct {
		uint8_t proto, state;
		uint32_t want;
	} cases[] = {
		{ 6, NS_TCP_NONE, 11 },       { 6, NS_TCP_SYN_SENT, 11 },
		{ 6, NS_TCP_SYN_RECV, 11 },   { 6, NS_TCP_ESTABLISHED, 12 },
		{ 6, NS_TCP_FIN_WAIT, 13 },   { 6, NS_TCP_TIME_WAIT, 14 },
		{ 6, NS_TCP_CLOSED, 15 },     { 17, NS_TCP_NONE, 16 },
		{ 1, NS_TCP_NONE, 17 },       { 47, NS_TCP_NONE, 18 },
		{ 132, NS_TCP_NONE, 18 },
	};
	char *text = subst(base_cfg, "timeouts: { udp = 30; tcp-established = 600; };",
			   "timeouts: { tcp-syn = 11; tcp-established = 12; tcp-closing = 13; "
			   "tcp-time-wait = 14; tcp-rst = 15; udp = 16; icmp = 17; other = 18; "
			   "port-hold = 19; binding = 20; };");
	size_t i;

	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(ns_config_session_timeout(&conf, cases[i].proto, cases[i].state),
			     cases[i].want, "proto %u state %u", cases[i].proto, cases[i].state);
	cr_expect_eq(conf.timeouts.port_hold, 19);
	cr_expect_eq(conf.timeouts.binding, 20);
	free(text);
}

/* encrypt: off by default, on with a key-file (the bad-config table has
 * the refusal without one). */
Test(config, redundancy_encrypt_key)
{
	char *t = subst(base_cfg, "timeouts:",
			"redundancy-options: {\n"
			"  redundancy-local = { data-address = \"192.0.2.1\"; };\n"
			"  redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n"
			"  key-file = \"/etc/natsync/pair.key\"; encrypt = true;\n"
			"}; timeouts:");
	char *off = subst(base_cfg, "timeouts:",
			  "redundancy-options: {\n"
			  "  redundancy-local = { data-address = \"192.0.2.1\"; };\n"
			  "  redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n"
			  "  key-file = \"/etc/natsync/pair.key\";\n"
			  "}; timeouts:");

	cr_assert_eq(ns_config_load_string(t, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect(conf.red.encrypt);
	cr_expect_str_eq(conf.red.key_file, "/etc/natsync/pair.key");
	cr_assert_eq(ns_config_load_string(off, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_not(conf.red.encrypt, "off unless asked for");
	free(t);
	free(off);
}

Test(config, redundancy_switchover_keys)
{
	char *t = subst(base_cfg, "timeouts:",
			"redundancy-options: {\n"
			"  redundancy-local = { data-address = \"192.0.2.1\"; };\n"
			"  redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n"
			"  initial-role = \"backup\"; role-control = \"external\";\n"
			"  virtual-addresses = ( { address = \"198.51.100.1/24\"; interface = \"nsu-out\"; },\n"
			"                        { address = \"100.64.0.1\"; interface = \"nsu-in\"; } );\n"
			"  signal-routes = ( { destination = \"203.0.113.0/24\"; },\n"
			"                    { destination = \"0.0.0.0/0\"; via = \"198.51.100.254\"; interface = \"nsu-out\"; table = 100; metric = 7; } );\n"
			"  monitor-interfaces = [ \"nsu-in\", \"nsu-out\" ];\n"
			"  hook = \"/usr/local/bin/on-role $ROLE\"; garp-count = 3; garp-interval-ms = 50;\n"
			"}; timeouts:");
	const struct ns_redundancy_conf *r = &conf.red;

	cr_assert_eq(ns_config_load_string(t, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect(r->enabled);
	cr_expect_eq(r->initial_role, NS_ROLE_BACKUP);
	cr_expect(r->role_external);
	cr_assert_eq(r->n_vips, 2);
	cr_expect_eq(r->vips[0].addr.s_addr, ip("198.51.100.1"));
	cr_expect_eq(r->vips[0].prefix_len, 24);
	cr_expect_str_eq(r->vips[0].ifname, "nsu-out");
	cr_expect_eq(r->vips[1].prefix_len, 32);
	cr_assert_eq(r->n_routes, 2);
	cr_expect_eq(r->routes[0].dst.s_addr, ip("203.0.113.0"));
	cr_expect_eq(r->routes[0].prefix_len, 24);
	cr_expect_eq(r->routes[0].via.s_addr, 0);
	cr_expect_str_eq(r->routes[0].ifname, "");
	cr_expect_eq(r->routes[0].table, 254);
	cr_expect_eq(r->routes[1].prefix_len, 0);
	cr_expect_eq(r->routes[1].via.s_addr, ip("198.51.100.254"));
	cr_expect_eq(r->routes[1].table, 100);
	cr_expect_eq(r->routes[1].metric, 7);
	cr_assert_eq(r->n_monitor, 2);
	cr_expect_str_eq(r->monitor[1], "nsu-out");
	cr_expect_str_eq(r->hook, "/usr/local/bin/on-role $ROLE");
	cr_expect_eq(r->garp_count, 3);
	cr_expect_eq(r->garp_interval_ms, 50);
	free(t);

	/* defaults when only the addresses are given */
	load_ok(CONFIGS_DIR "/chassis1.cfg", &conf);
	cr_expect_eq(r->initial_role, NS_ROLE_PRIMARY);
	cr_expect_not(r->role_external);
	cr_expect_eq(r->n_vips + r->n_routes + r->n_monitor, 0);
	cr_expect_eq(r->garp_count, 5);
	cr_expect_eq(r->garp_interval_ms, 200);
	cr_expect_str_eq(r->hook, "");
}

/* ---- fingerprint -------------------------------------------------------- */

static uint64_t fp_of(const char *text)
{
	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf2, err, sizeof(err)), 0, "%s", err);
	return ns_config_fingerprint(&conf2);
}

Test(config, fingerprint_same_for_the_pair_different_for_other_rules)
{
	uint64_t fp1, fp2, base;
	char *t;

	load_ok(CONFIGS_DIR "/chassis1.cfg", &conf);
	fp1 = ns_config_fingerprint(&conf);
	load_ok(CONFIGS_DIR "/chassis2.cfg", &conf);
	fp2 = ns_config_fingerprint(&conf);
	cr_expect_eq(fp1, fp2, "chassis1 %016lx != chassis2 %016lx", (unsigned long)fp1,
		     (unsigned long)fp2);
	cr_expect_eq(ns_config_fingerprint(&conf), fp2, "stable across calls");

	base = fp_of(base_cfg);
	/* what differs between chassis does not count ... */
	t = subst(base_cfg, "/sys/fs/bpf/nsu-test", "/sys/fs/bpf/nsu-other");
	cr_expect_eq(fp_of(t), base, "pin-path must not change the fingerprint");
	free(t);
	t = subst(base_cfg, "\"nsu-in\"", "\"nsu-in2\"");
	cr_expect_eq(fp_of(t), base, "interface names must not change the fingerprint");
	free(t);
	/* ... every rule, pool and timeout change does */
	t = subst(base_cfg, "\"1000-2000\"", "\"1000-2001\"");
	cr_expect_neq(fp_of(t), base, "firewall port change");
	free(t);
	t = subst(base_cfg, "then = \"accept\"", "then = \"reject\"");
	cr_expect_neq(fp_of(t), base, "firewall action change");
	free(t);
	t = subst(base_cfg, "100.64.0.0/10", "100.64.0.0/11");
	cr_expect_neq(fp_of(t), base, "NAT source prefix change");
	free(t);
	t = subst(base_cfg, "port = \"automatic\"", "port-range = [ 1024, 65535 ]");
	cr_expect_neq(fp_of(t), base, "pool port change");
	free(t);
	t = subst(base_cfg, "udp = 30;", "udp = 31;");
	cr_expect_neq(fp_of(t), base, "timeout change");
	free(t);
	cr_expect_neq(base, fp1);
}

/* ---- the table of invalid configs --------------------------------------- */

struct bad_case {
	const char *what;
	const char *find;     /* NULL: text is the whole config */
	const char *repl;
	const char *want;     /* exact error text */
};

static const struct bad_case bad_cases[] = {
	{ "syntax error", "udp = 30;", "udp = ;", "t.cfg:4: syntax error" },
	{ "duplicate key (libconfig)", "udp = 30;", "udp = 30; udp = 40;",
	  "t.cfg:4: duplicate setting name" },
	{ "empty file", NULL, "", "t.cfg:1: natsync: missing (required)" },
	{ "unknown top-level key", NULL, "natsinc: { };",
	  "t.cfg:1: natsinc: unknown key (did you mean 'natsync'?)" },
	{ "unknown key, typo", "pin-path =", "pin-pat =",
	  "t.cfg:2: natsync.pin-pat: unknown key (did you mean 'pin-path'?)" },
	{ "unknown nested key", "source-address = [", "source-adress = [",
	  "t.cfg:9: natsync.services.nat.rules.[0].terms.[0].from.source-adress: unknown key (did you mean 'source-address'?)" },
	{ "wrong type", "\"/run/nsu-test.sock\";", "\"/run/nsu-test.sock\"; max-sessions = \"many\";",
	  "t.cfg:3: natsync.max-sessions: expected an integer, got a string" },
	{ "out of range", "\"/run/nsu-test.sock\";", "\"/run/nsu-test.sock\"; max-sessions = 1;",
	  "t.cfg:3: natsync.max-sessions: 1 is out of range 16..67108864" },
	{ "negative per-subscriber limit", "\"/run/nsu-test.sock\";",
	  "\"/run/nsu-test.sock\"; max-sessions-per-subscriber = -1;",
	  "t.cfg:3: natsync.max-sessions-per-subscriber: -1 is out of range 0..67108864" },
	{ "per-subscriber limit as a string", "\"/run/nsu-test.sock\";",
	  "\"/run/nsu-test.sock\"; max-sessions-per-subscriber = \"1000\";",
	  "t.cfg:3: natsync.max-sessions-per-subscriber: expected an integer, got a string" },
	{ "loop-nice below -20", "\"/run/nsu-test.sock\";", "\"/run/nsu-test.sock\"; loop-nice = -21;",
	  "t.cfg:3: natsync.loop-nice: -21 is out of range -20..19" },
	{ "loop-nice as a string", "\"/run/nsu-test.sock\";", "\"/run/nsu-test.sock\"; loop-nice = \"high\";",
	  "t.cfg:3: natsync.loop-nice: expected an integer, got a string" },
	{ "aging-slice too large", "\"/run/nsu-test.sock\";",
	  "\"/run/nsu-test.sock\"; aging-slice = 16777217;",
	  "t.cfg:3: natsync.aging-slice: 16777217 is out of range 0..16777216" },
	{ "timeout zero", "udp = 30;", "udp = 0;",
	  "t.cfg:4: natsync.timeouts.udp: 0 is out of range 1..604800" },
	{ "relative pin path", "\"/sys/fs/bpf/nsu-test\"", "\"bpf/nsu-test\"",
	  "t.cfg:2: natsync.pin-path: 'bpf/nsu-test' is not an absolute path" },
	{ "bad prefix length", "\"203.0.113.0/24\"", "\"203.0.113.0/33\"",
	  "t.cfg:7: natsync.services.nat.pools.[0].address.[0]: '203.0.113.0/33' is not an IPv4 prefix" },
	{ "not an address", "\"203.0.113.0/24\"", "\"203.0.113/24\"",
	  "t.cfg:7: natsync.services.nat.pools.[0].address.[0]: '203.0.113/24' is not an IPv4 prefix" },
	{ "host bits set", "\"100.64.0.0/10\"", "\"100.64.0.1/10\"",
	  "t.cfg:9: natsync.services.nat.rules.[0].terms.[0].from.source-address.[0]: '100.64.0.1/10' has host bits set (did you mean 100.64.0.0/10?)" },
	{ "loopback pool", "\"203.0.113.0/24\"", "\"127.0.0.0/24\"",
	  "t.cfg:7: natsync.services.nat.pools.[0].address.[0]: '127.0.0.0/24' includes addresses in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3" },
	{ "reversed port range", "\"1000-2000\"", "\"2000-1000\"",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].from.destination-port.[1]: '2000-1000': the low port is above the high port" },
	{ "port above 65535", "\"80\",", "\"70000\",",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].from.destination-port.[0]: '70000' is not a port or port range (0-65535, \"low-high\")" },
	{ "ports on icmp", "protocol = [ \"tcp\", \"udp\" ]", "protocol = [ \"icmp\" ]",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].from.destination-port: protocol 'icmp' has no ports (only tcp and udp do)" },
	{ "ports without protocol", "protocol = [ \"tcp\", \"udp\" ]; ", "",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].from.destination-port: needs protocol tcp and/or udp (no protocol is given)" },
	{ "bad protocol", "[ \"tcp\", \"udp\" ]", "[ \"tcp\", \"tpc\" ]",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].from.protocol.[1]: 'tpc' is not a protocol (tcp, udp, icmp, gre, esp, ah, sctp or 1-255)" },
	{ "empty list", "[ \"100.64.0.0/10\" ]", "[ ]",
	  "t.cfg:9: natsync.services.nat.rules.[0].terms.[0].from.source-address: empty list (leave the key out to match anything)" },
	{ "unknown pool", "source-pool = \"p1\"", "source-pool = \"p9\"",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.source-pool: pool 'p9' is not defined" },
	{ "duplicate pool name", "port = \"automatic\"; } );",
	  "port = \"automatic\"; },\n{ name = \"p1\"; address = \"198.51.100.0/30\"; } );",
	  "t.cfg:8: natsync.services.nat.pools.[1].name: duplicate pool name 'p1'" },
	{ "overlapping source pools", "\"automatic\"; } );\n\t\t\trules = ( { name = \"r1\"; match-direction = \"input\"; terms = (\n",
	  "\"automatic\"; },\n{ name = \"p2\"; address = \"203.0.113.128/25\"; port = \"automatic\"; } );\n"
	  "rules = ( { name = \"r1\"; match-direction = \"input\"; terms = ( { name = \"t0\"; then = { translation-type = \"napt-44\"; source-pool = \"p2\"; }; },\n",
	  "t.cfg:8: natsync.services.nat.pools.[1].address: overlaps source pool 'p1'" },
	{ "duplicate rule name", "name = \"fw1\"; match-direction = \"input\"; terms = (",
	  "name = \"fw1\"; match-direction = \"input\"; terms = ( { name = \"a\"; then = \"accept\"; } ); }, { name = \"fw1\"; match-direction = \"input\"; terms = (",
	  "t.cfg:13: natsync.services.stateful-firewall.rules.[1].name: duplicate rule name 'fw1'" },
	{ "duplicate term name", "then = \"accept\"; } );", "then = \"accept\"; }, { name = \"t1\"; then = \"discard\"; } );",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[1].name: duplicate term name 't1' in this rule" },
	{ "bad match-direction", "\"fw1\"; match-direction = \"input\"", "\"fw1\"; match-direction = \"inbound\"",
	  "t.cfg:13: natsync.services.stateful-firewall.rules.[0].match-direction: 'inbound' is not one of: input, output, input-output" },
	{ "bad firewall action", "then = \"accept\"", "then = \"allow\"",
	  "t.cfg:14: natsync.services.stateful-firewall.rules.[0].terms.[0].then: 'allow' is not one of: accept, discard, reject" },
	{ "missing required pool name", "{ name = \"p1\"; address", "{ address",
	  "t.cfg:7: natsync.services.nat.pools.[0].name: missing (required)" },
	{ "missing next-hop-service", "stateful-firewall-rules = [ \"fw1\" ];\n\t\t\tnext-hop-service = { inside-service-interface = \"nsu-in\"; outside-service-interface = \"nsu-out\"; };",
	  "stateful-firewall-rules = [ \"fw1\" ];\n",
	  "t.cfg:16: natsync.services.service-sets.[0].next-hop-service: missing (required)" },
	{ "unknown firewall rule", "stateful-firewall-rules = [ \"fw1\" ]", "stateful-firewall-rules = [ \"fw2\" ]",
	  "t.cfg:16: natsync.services.service-sets.[0].stateful-firewall-rules.[0]: stateful-firewall rule 'fw2' is not defined" },
	{ "unknown nat rule", "nat-rules = [ \"r1\" ]", "nat-rules = [ \"r2\" ]",
	  "t.cfg:16: natsync.services.service-sets.[0].nat-rules.[0]: NAT rule 'r2' is not defined" },
	{ "interface in two service sets", "\"nsu-out\"; }; } );",
	  "\"nsu-out\"; }; },\n{ name = \"ss2\"; stateful-firewall-rules = \"fw1\"; next-hop-service = { inside-service-interface = \"nsu-in\"; outside-service-interface = \"x\"; }; } );",
	  "t.cfg:18: natsync.services.service-sets.[1].next-hop-service.inside-service-interface: interface 'nsu-in' already belongs to service set 'ss1'" },
	{ "inside equals outside", "outside-service-interface = \"nsu-out\"", "outside-service-interface = \"nsu-in\"",
	  "t.cfg:17: natsync.services.service-sets.[0].next-hop-service.outside-service-interface: interface 'nsu-in' cannot be both inside and outside" },
	{ "junos interface name", "\"nsu-in\"", "\"ms-4/0/0.20\"",
	  "t.cfg:17: natsync.services.service-sets.[0].next-hop-service.inside-service-interface: 'ms-4/0/0.20' is not a Linux interface name (1-15 characters, no '/', ':' or blanks)" },
	{ "override of an unknown interface", "timeouts:", "interfaces = ( { name = \"eth9\"; attach-mode = \"tc\"; } ); timeouts:",
	  "t.cfg:4: natsync.interfaces.[0].name: interface 'eth9' is not used by any service set" },
	{ "bad attach mode", "timeouts:", "attach-mode = \"xdp\"; timeouts:",
	  "t.cfg:4: natsync.attach-mode: 'xdp' is not one of: native, generic, tc, auto" },
	{ "stateful-nat64 with an IPv4 source", "\"napt-44\"", "\"stateful-nat64\"",
	  "t.cfg:9: natsync.services.nat.rules.[0].terms.[0].from.source-address.[0]: '100.64.0.0/10' is not an IPv6 prefix" },
	{ "bad translation type", "\"napt-44\"", "\"napt44\"",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.translation-type: 'napt44' is not one of: basic-nat44, dynamic-nat44, napt-44, dnat-44, twice-nat, stateful-nat64" },
	{ "napt-44 pool without ports", "port = \"automatic\"; ", "",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.source-pool: napt-44 needs pool 'p1' to have port = \"automatic\" or port-range" },
	{ "dnat-44 with a source pool", "\"napt-44\"", "\"dnat-44\"",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.source-pool: dnat-44 takes no source-pool" },
	{ "napt-44 under match-direction output", "\"r1\"; match-direction = \"input\"", "\"r1\"; match-direction = \"output\"",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.translation-type: napt-44 translates subscriber-originated traffic: the rule needs match-direction input" },
	{ "EIF without EIM", "source-pool = \"p1\"; }", "source-pool = \"p1\"; filtering-type = \"endpoint-independent\"; }",
	  "t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.filtering-type: endpoint-independent filtering needs mapping-type endpoint-independent" },
	{ "redundancy peer equals local", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; };\n redundancy-peer = { ipaddress = \"192.0.2.1\"; }; }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.redundancy-peer: the peer address equals redundancy-local data-address" },
	{ "redundancy without peer", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; }; timeouts:",
	  "t.cfg:4: natsync.redundancy-options.redundancy-peer: missing (required)" },
	{ "port and port-range together", "port = \"automatic\";", "port = \"automatic\"; port-range = [ 1024, 2047 ];",
	  "t.cfg:7: natsync.services.nat.pools.[0].port-range: 'port' and 'port-range' exclude each other" },
	{ "bad address-allocation", "port = \"automatic\";", "port = \"automatic\"; address-allocation = \"sequential\";",
	  "t.cfg:7: natsync.services.nat.pools.[0].address-allocation: 'sequential' is not one of: round-robin, hash" },
	{ "overlap inside one pool", "[ \"203.0.113.0/24\" ]", "[ \"203.0.113.0/24\", \"203.0.113.250-203.0.114.3\" ]",
	  "t.cfg:7: natsync.services.nat.pools.[0].address.[1]: overlaps address entry 0 of the same pool" },
	{ "reversed address range", "[ \"203.0.113.0/24\" ]", "[ \"203.0.113.9-203.0.113.1\" ]",
	  "t.cfg:7: natsync.services.nat.pools.[0].address.[0]: '203.0.113.9-203.0.113.1': the first address is above the last" },
	{ "nine pool entries", "[ \"203.0.113.0/24\" ]",
	  "[ \"203.0.113.1\", \"203.0.113.2\", \"203.0.113.3\", \"203.0.113.4\", \"203.0.113.5\", \"203.0.113.6\", \"203.0.113.7\", \"203.0.113.8\", \"203.0.113.9\" ]",
	  "t.cfg:7: natsync.services.nat.pools.[0].address: more than 8 prefixes/ranges in one pool" },
	{ "port-range reversed", "port = \"automatic\";", "port-range = [ 2000, 1999 ];",
	  "t.cfg:7: natsync.services.nat.pools.[0].port-range: low port 2000 is above high port 1999" },
	{ "dead interval too short", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; }; dead-interval-ms = 1500; }; timeouts:",
	  "t.cfg:4: natsync.redundancy-options.dead-interval-ms: dead-interval-ms 1500 must be at least twice heartbeat-interval-ms 1000" },
	{ "wrong type for a group", "timeouts: { udp = 30; tcp-established = 600; };", "timeouts = 5;",
	  "t.cfg:4: natsync.timeouts: expected a group { }, got an integer" },
	{ "bad initial role", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; }; initial-role = \"master\"; }; timeouts:",
	  "t.cfg:4: natsync.redundancy-options.initial-role: 'master' is not one of: primary, backup" },
	{ "virtual address without interface", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n virtual-addresses = ( { address = \"198.51.100.1/24\"; } ); }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.virtual-addresses.[0].interface: missing (required)" },
	{ "virtual address /0", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n virtual-addresses = ( { address = \"198.51.100.1/0\"; interface = \"nsu-out\"; } ); }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.virtual-addresses.[0].address: '198.51.100.1/0' is not an IPv4 address[/length]" },
	{ "virtual address /33", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n virtual-addresses = ( { address = \"198.51.100.1/33\"; interface = \"nsu-out\"; } ); }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.virtual-addresses.[0].address: '198.51.100.1/33' is not an IPv4 address[/length]" },
	{ "virtual address length not a number", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n virtual-addresses = ( { address = \"198.51.100.1/x\"; interface = \"nsu-out\"; } ); }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.virtual-addresses.[0].address: '198.51.100.1/x' is not an IPv4 address[/length]" },
	{ "virtual address not an address", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n virtual-addresses = ( { address = \"198.51.100.256/24\"; interface = \"nsu-out\"; } ); }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.virtual-addresses.[0].address: '198.51.100.256/24' is not a unicast IPv4 address[/length]" },
	{ "encrypt without key-file", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n encrypt = true; }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.encrypt: encrypt = true needs key-file (the encryption keys are derived from the pre-shared key)" },
	{ "encrypt not a boolean", "timeouts:",
	  "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; redundancy-peer = { ipaddress = \"192.0.2.2\"; };\n key-file = \"/etc/natsync/pair.key\"; encrypt = \"yes\"; }; timeouts:",
	  "t.cfg:5: natsync.redundancy-options.encrypt: expected a boolean (true/false), got a string" },
	{ "bad log level", "timeouts:", "log: { level = \"verbose\"; }; timeouts:",
	  "t.cfg:4: natsync.log.level: 'verbose' is not one of: error, warning, info, debug" },
	{ "service set without rules", "nat-rules = [ \"r1\" ]; stateful-firewall-rules = [ \"fw1\" ];", "",
	  "t.cfg:16: natsync.services.service-sets.[0].nat-rules: missing (a service set needs nat-rules and/or stateful-firewall-rules)" },
};

/* RFC 6888 REQ-4: the per-subscriber limit reaches the fast path's ns_cfg;
 * 0 (the default) means no limit. */
Test(config, max_sessions_per_subscriber)
{
	char *text;

	cr_assert_eq(ns_config_load_string(base_cfg, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.cfg.max_sess_per_sub, 0, "default: unlimited");
	text = subst(base_cfg, "\"/run/nsu-test.sock\";",
		     "\"/run/nsu-test.sock\"; max-sessions-per-subscriber = 2000;");
	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.cfg.max_sess_per_sub, 2000);
	cr_expect_eq(conf.cfg.flags, NS_CFG_F_ACTIVE | NS_CFG_F_EVENTS, "flags untouched");
	free(text);
}

Test(config, loop_nice)
{
	char *text = subst(base_cfg, "\"/run/nsu-test.sock\";",
			   "\"/run/nsu-test.sock\"; loop-nice = -20;");

	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.loop_nice, -20);
	free(text);
	text = subst(base_cfg, "\"/run/nsu-test.sock\";", "\"/run/nsu-test.sock\"; loop-nice = 0;");
	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.loop_nice, 0);
	free(text);
}

Test(config, aging_slice)
{
	char *text = subst(base_cfg, "\"/run/nsu-test.sock\";",
			   "\"/run/nsu-test.sock\"; aging-slice = 0;");

	cr_assert_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.aging_slice, 0, "0: unsliced");
	free(text);
	cr_assert_eq(ns_config_load_string(base_cfg, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.aging_slice, NS_AGING_SLICE_AUTO, "not set: chosen by the CPUs");
}

static void expect_rejected(const char *what, const char *text, const char *want)
{
	struct ns_config before;

	memset(&conf, 0x5a, sizeof(conf));
	memcpy(&before, &conf, sizeof(before));
	err[0] = '\0';
	cr_expect_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), -1,
		     "%s: accepted", what);
	cr_expect_str_eq(err, want, "%s:\n  got  %s\n  want %s", what, err, want);
	cr_expect_eq(memcmp(&before, &conf, sizeof(conf)), 0, "%s: *out was modified", what);
}

Test(config, invalid_configs_are_rejected_with_file_line_key_reason)
{
	size_t i;

	cr_assert_geq(sizeof(bad_cases) / sizeof(bad_cases[0]), 20);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char *text;

		text = c->find ? subst(base_cfg, c->find, c->repl) : strdup(c->repl);
		expect_rejected(c->what, text, c->want);
		free(text);
	}
}

Test(config, basic_nat44_needs_room_for_each_source_prefix)
{
	char *a = subst(base_cfg, "port = \"automatic\"; } );",
			"port = \"automatic\"; }, { name = \"p2\"; address = \"198.51.100.0/24\"; } );");
	char *b = subst(a, "\"napt-44\"; source-pool = \"p1\"", "\"basic-nat44\"; source-pool = \"p2\"");

	expect_rejected("basic-nat44 too small", b,
			"t.cfg:9: natsync.services.nat.rules.[0].terms.[0]: basic-nat44 maps 1:1, but a source prefix of 4194304 addresses does not fit pool 'p2' (256 addresses)");
	free(b);
	b = subst(a, "\"napt-44\"; source-pool = \"p1\"", "\"basic-nat44\"; source-pool = \"p1\"");
	expect_rejected("basic-nat44 with a NAPT pool", b,
			"t.cfg:10: natsync.services.nat.rules.[0].terms.[0].then.source-pool: basic-nat44 keeps ports: pool 'p1' must not set port or port-range");
	free(b);
	free(a);
}

/* ---- list limits and names (config_util.c's list helpers) ---------------- */

/* n copies of item separated by ", ", each %d in a copy its index. */
static char *list_of(const char *item, int n)
{
	size_t cap = (strlen(item) + 16) * (size_t)n + 1, len = 0;
	char *out = malloc(cap);

	cr_assert_not_null(out);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i)
			len += (size_t)snprintf(out + len, cap - len, ", ");
		len += (size_t)snprintf(out + len, cap - len, item, i, i, i, i);
	}
	return out;
}

#define RED_HEAD "redundancy-options: { redundancy-local = { data-address = \"192.0.2.1\"; }; " \
		 "redundancy-peer = { ipaddress = \"192.0.2.2\"; }; "

static const struct list_case {
	const char *what, *find, *head, *item, *tail;
	int n;
	const char *want; /* NULL: loads */
} list_cases[] = {
	{ "64 pools", "port = \"automatic\"; } );", "port = \"automatic\"; }, ",
	  "{ name = \"q%d\"; address = \"198.51.100.%d\"; }", " );", 63, NULL },
	{ "65 pools", "port = \"automatic\"; } );", "port = \"automatic\"; }, ",
	  "{ name = \"q%d\"; address = \"198.51.100.%d\"; }", " );", 64,
	  "t.cfg:7: natsync.services.nat.pools: more than 64 pools" },
	{ "8 pool ranges", "[ \"203.0.113.0/24\" ]", "[ \"203.0.113.0/24\", ",
	  "\"198.51.100.%d\"", " ]", 7, NULL },
	{ "9 pool ranges", "[ \"203.0.113.0/24\" ]", "[ \"203.0.113.0/24\", ",
	  "\"198.51.100.%d\"", " ]", 8,
	  "t.cfg:7: natsync.services.nat.pools.[0].address: more than 8 prefixes/ranges in one pool" },
	{ "256 firewall rules", "rules = ( { name = \"fw1\";", "rules = ( ",
	  "{ name = \"f%d\"; match-direction = \"input\"; terms = ( { name = \"t\"; then = \"accept\"; } ); }",
	  ", { name = \"fw1\";", 255, NULL },
	{ "257 firewall rules", "rules = ( { name = \"fw1\";", "rules = ( ",
	  "{ name = \"f%d\"; match-direction = \"input\"; terms = ( { name = \"t\"; then = \"accept\"; } ); }",
	  ", { name = \"fw1\";", 256,
	  "t.cfg:13: natsync.services.stateful-firewall.rules: more than 256 rules" },
	/* 64 sets pass the count; their 128 interfaces do not */
	{ "64 service sets", "service-sets = ( {", "service-sets = ( ",
	  "{ name = \"s%d\"; stateful-firewall-rules = \"fw1\"; next-hop-service = { "
	  "inside-service-interface = \"i%d\"; outside-service-interface = \"o%d\"; }; }", ", {", 63,
	  "t.cfg:16: natsync.services.service-sets.[32].next-hop-service.inside-service-interface: more than 64 interfaces" },
	{ "65 service sets", "service-sets = ( {", "service-sets = ( ",
	  "{ name = \"s%d\"; stateful-firewall-rules = \"fw1\"; next-hop-service = { "
	  "inside-service-interface = \"i%d\"; outside-service-interface = \"o%d\"; }; }", ", {", 64,
	  "t.cfg:16: natsync.services.service-sets: more than 64 service sets" },
	{ "duplicate service set", "service-sets = ( {", "service-sets = ( ",
	  "{ name = \"ss1\"; stateful-firewall-rules = \"fw1\"; next-hop-service = { "
	  "inside-service-interface = \"i%d\"; outside-service-interface = \"o%d\"; }; }", ", {", 1,
	  "t.cfg:16: natsync.services.service-sets.[1].name: duplicate service-set name 'ss1'" },
	{ "16 monitored links", "timeouts:", RED_HEAD "monitor-interfaces = [ ", "\"m%d\"",
	  " ]; }; timeouts:", 16, NULL },
	{ "17 monitored links", "timeouts:", RED_HEAD "monitor-interfaces = [ ", "\"m%d\"",
	  " ]; }; timeouts:", 17,
	  "t.cfg:4: natsync.redundancy-options.monitor-interfaces: more than 16 interfaces" },
	{ "16 events", "timeouts:", RED_HEAD "redundancy-events = ( ",
	  "{ name = \"e%d\"; monitor-peer = \"loss\"; }", " ); }; timeouts:", 16, NULL },
	{ "17 events", "timeouts:", RED_HEAD "redundancy-events = ( ",
	  "{ name = \"e%d\"; monitor-peer = \"loss\"; }", " ); }; timeouts:", 17,
	  "t.cfg:4: natsync.redundancy-options.redundancy-events: more than 16 events" },
	{ "8 links of an event", "timeouts:",
	  RED_HEAD "redundancy-events = ( { name = \"l\"; monitor-link-down = [ ", "\"l%d\"",
	  " ]; } ); }; timeouts:", 8, NULL },
	{ "9 links of an event", "timeouts:",
	  RED_HEAD "redundancy-events = ( { name = \"l\"; monitor-link-down = [ ", "\"l%d\"",
	  " ]; } ); }; timeouts:", 9,
	  "t.cfg:4: natsync.redundancy-options.redundancy-events.[0].monitor-link-down: more than 8 interfaces" },
	{ "16 policies", "timeouts:",
	  RED_HEAD "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } ); redundancy-policies = ( ",
	  "{ name = \"p%d\"; redundancy-events = \"e\"; then = { acquire-mastership = true; }; }",
	  " ); }; timeouts:", 16, NULL },
	{ "17 policies", "timeouts:",
	  RED_HEAD "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } ); redundancy-policies = ( ",
	  "{ name = \"p%d\"; redundancy-events = \"e\"; then = { acquire-mastership = true; }; }",
	  " ); }; timeouts:", 17,
	  "t.cfg:4: natsync.redundancy-options.redundancy-policies: more than 16 policies" },
	{ "duplicate policy", "timeouts:",
	  RED_HEAD "redundancy-events = ( { name = \"e\"; monitor-peer = \"loss\"; } ); redundancy-policies = ( ",
	  "{ name = \"p\"; redundancy-events = \"e\"; then = { acquire-mastership = true; }; }",
	  " ); }; timeouts:", 2,
	  "t.cfg:4: natsync.redundancy-options.redundancy-policies.[1].name: 'p' is defined twice" },
	{ "4 heartbeat paths", "timeouts:", RED_HEAD "heartbeat-paths = ( ",
	  "{ name = \"h%d\"; local-address = \"100.64.0.%d\"; peer-address = \"100.64.1.%d\"; }",
	  " ); }; timeouts:", 4, NULL },
	{ "5 heartbeat paths", "timeouts:", RED_HEAD "heartbeat-paths = ( ",
	  "{ name = \"h%d\"; local-address = \"100.64.0.%d\"; peer-address = \"100.64.1.%d\"; }",
	  " ); }; timeouts:", 5,
	  "t.cfg:4: natsync.redundancy-options.heartbeat-paths: more than 4 heartbeat paths" },
	{ "duplicate heartbeat path", "timeouts:", RED_HEAD "heartbeat-paths = ( ",
	  "{ name = \"h\"; local-address = \"100.64.0.%d\"; peer-address = \"100.64.1.%d\"; }",
	  " ); }; timeouts:", 2,
	  "t.cfg:4: natsync.redundancy-options.heartbeat-paths.[1].name: 'h' is defined twice" },
};

/* Each list at its limit loads, one more is refused naming the list and the
 * limit; a repeated name is refused naming the second. */
Test(config, list_limits_and_duplicate_names)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];
		char *items = list_of(c->item, c->n), *repl, *text;
		size_t n = strlen(c->head) + strlen(items) + strlen(c->tail) + 1;

		repl = malloc(n);
		cr_assert_not_null(repl);
		snprintf(repl, n, "%s%s%s", c->head, items, c->tail);
		text = subst(base_cfg, c->find, repl);
		if (c->want) {
			expect_rejected(c->what, text, c->want);
		} else {
			err[0] = '\0';
			cr_expect_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0,
				     "%s: %s", c->what, err);
		}
		free(text);
		free(repl);
		free(items);
	}
}

/* A term whose lists multiply past NS_MAX_FW_TERMS, and two rules that fit
 * alone but not together in one service set. */
static char *big_rule(const char *name, int n_src, int n_ports)
{
	static char buf[16384];
	size_t n;
	int i;

	n = snprintf(buf, sizeof(buf), "{ name = \"%s\"; match-direction = \"input\"; terms = ( { name = \"t\"; from = { protocol = \"tcp\"; source-address = [", name);
	for (i = 0; i < n_src; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s\"100.64.%d.0/24\"", i ? ", " : " ", i);
	n += snprintf(buf + n, sizeof(buf) - n, " ]; destination-port = [");
	for (i = 0; i < n_ports; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? ", " : " ", 1000 + i);
	snprintf(buf + n, sizeof(buf) - n, " ]; }; then = \"accept\"; } ); }");
	return strdup(buf);
}

Test(config, too_many_terms_after_expansion)
{
	char *r1 = big_rule("fw1", 20, 13), *r2, *text, *rules;
	size_t n;

	/* 20 x 13 = 260 > 256 in one term */
	text = subst(base_cfg, "{ name = \"fw1\"; match-direction = \"input\"; terms = (\n"
		     "\t\t\t\t{ name = \"t1\"; from = { protocol = [ \"tcp\", \"udp\" ]; destination-port = [ \"80\", \"1000-2000\" ]; }; then = \"accept\"; } ); }",
		     r1);
	expect_rejected("one term too big", text,
			"t.cfg:13: natsync.services.stateful-firewall.rules.[0].terms.[0]: the rule expands to more than 256 firewall terms");
	free(text);
	free(r1);

	/* 2 x 150 terms: each rule fits, the service set does not */
	r1 = big_rule("fw1", 10, 15);
	r2 = big_rule("fw2", 15, 10);
	n = strlen(r1) + strlen(r2) + 8;
	rules = malloc(n);
	snprintf(rules, n, "%s,\n%s", r1, r2);
	text = subst(base_cfg, "{ name = \"fw1\"; match-direction = \"input\"; terms = (\n"
		     "\t\t\t\t{ name = \"t1\"; from = { protocol = [ \"tcp\", \"udp\" ]; destination-port = [ \"80\", \"1000-2000\" ]; }; then = \"accept\"; } ); }",
		     rules);
	free(r1); /* its text is in rules now */
	r1 = subst(text, "stateful-firewall-rules = [ \"fw1\" ]", "stateful-firewall-rules = [ \"fw1\", \"fw2\" ]");
	expect_rejected("service set too big", r1,
			"t.cfg:16: natsync.services.service-sets.[0].stateful-firewall-rules.[1]: too many stateful-firewall terms: 300 after expansion with rule 'fw2', the limit is 256");
	/* each one alone loads */
	free(text);
	text = subst(r1, "[ \"fw1\", \"fw2\" ]", "[ \"fw2\" ]");
	cr_expect_eq(ns_config_load_string(text, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.n_fw, 150);
	free(text);
	free(r1);
	free(r2);
	free(rules);
}

Test(config, file_errors)
{
	char path[] = "/tmp/natsync-test-config-XXXXXX";
	int fd;

	memset(&conf, 0x5a, sizeof(conf));
	cr_expect_eq(ns_config_load("/nonexistent/natsync.cfg", &conf, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "/nonexistent/natsync.cfg: cannot read: No such file or directory");

	/* errors in a file carry the file name as given */
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	{
		static const char text[] = "natsync: {\n  max-sessions = 0;\n};\n";

		cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	}
	close(fd);
	cr_expect_eq(ns_config_load(path, &conf, err, sizeof(err)), -1);
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:2: natsync.max-sessions: 0 is out of range 16..67108864", path);
		cr_expect_str_eq(err, want);
	}
	unlink(path);
}

/* ---- stateful-nat64 ------------------------------------------------------ */

/* A NAT64 config (line numbers matter for the error table). */
static const char nat64_cfg[] =
	"natsync: {\n"                                                           /* 1 */
	"\tservices: {\n"                                                        /* 2 */
	"\t\tnat: {\n"                                                           /* 3 */
	"\t\t\tpools = ( { name = \"p64\"; address = [ \"203.0.113.64/30\" ]; port = \"automatic\"; } );\n" /* 4 */
	"\t\t\trules = ( { name = \"r64\"; match-direction = \"input\"; terms = (\n" /* 5 */
	"\t\t\t\t{ name = \"t1\"; from = { source-address = [ \"2001:db8:64::/48\", \"2001:db8:65::/48\" ]; destination-address = \"64:ff9b::/96\"; };\n" /* 6 */
	"\t\t\t\t  then = { translation-type = \"stateful-nat64\"; source-pool = \"p64\"; destination-prefix = \"64:ff9b::/96\"; }; } ); } );\n" /* 7 */
	"\t\t};\n"                                                               /* 8 */
	"\t\tservice-sets = ( { name = \"ss1\"; nat-rules = [ \"r64\" ];\n"     /* 9 */
	"\t\t\tnext-hop-service = { inside-service-interface = \"nsu-in\"; outside-service-interface = \"nsu-out\"; }; } );\n" /* 10 */
	"\t};\n"                                                                 /* 11 */
	"};\n";                                                                  /* 12 */

static void addr6(const char *s, uint8_t out[16])
{
	cr_assert_eq(inet_pton(AF_INET6, s, out), 1, "bad test address %s", s);
}

Test(config, stateful_nat64_compiles_one_term_per_source_prefix)
{
	uint8_t a[16];

	cr_assert_eq(ns_config_load_string(nat64_cfg, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.n_nat, 0, "no IPv4 NAT term");
	cr_assert_eq(conf.n_nat64, 2);
	cr_expect_eq(conf.cfg.n_nat64, 2);
	addr6("2001:db8:64::", a);
	cr_expect_eq(memcmp(conf.nat64[0].src6, a, 16), 0);
	cr_expect_eq(conf.nat64[0].src6_len, 48);
	addr6("2001:db8:65::", a);
	cr_expect_eq(memcmp(conf.nat64[1].src6, a, 16), 0);
	addr6("64:ff9b::", a);
	cr_expect_eq(memcmp(conf.nat64[0].pref64, a, 16), 0);
	cr_expect_eq(conf.nat64[0].src_pool, 0);
	cr_expect_eq(conf.nat64[0].svc_set, 0);
	cr_expect_eq(conf.nat64[1].term_idx, 0);
	cr_expect_eq(conf.nat64[0].flags, 0);
}

Test(config, stateful_nat64_defaults_to_the_well_known_prefix_and_any_source)
{
	char *a = subst(nat64_cfg, " destination-prefix = \"64:ff9b::/96\";", "");
	char *b = subst(a, "from = { source-address = [ \"2001:db8:64::/48\", \"2001:db8:65::/48\" ]; destination-address = \"64:ff9b::/96\"; };", "");
	char *c = subst(nat64_cfg, "\"64:ff9b::/96\"; }; }", "\"2001:db8:ff::/96\"; syslog = true; }; }");
	char *d = subst(c, "destination-address = \"64:ff9b::/96\"", "destination-address = \"2001:db8:ff::/96\"");
	uint8_t pref[16], zero[16] = { 0 };
	uint64_t fp;

	cr_assert_eq(ns_config_load_string(b, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf.n_nat64, 1);
	addr6("64:ff9b::", pref);
	cr_expect_eq(memcmp(conf.nat64[0].pref64, pref, 16), 0);
	cr_expect_eq(memcmp(conf.nat64[0].src6, zero, 16), 0);
	cr_expect_eq(conf.nat64[0].src6_len, 0);
	fp = ns_config_fingerprint(&conf);
	cr_assert_eq(ns_config_load_string(d, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	addr6("2001:db8:ff::", pref);
	cr_expect_eq(memcmp(conf.nat64[0].pref64, pref, 16), 0);
	cr_expect_eq(conf.nat64[0].flags, NS_NAT_F_SYSLOG);
	cr_expect_neq(ns_config_fingerprint(&conf), fp, "the pref64 is part of the fingerprint");
	free(a);
	free(b);
	free(c);
	free(d);
}

/* RFC 6052 2.2: every pref64 length, in config and compiled term; RFC
 * 6146 3.5.1.1/3.5.2: napt-44's mapping-type/filtering-type keys. */
Test(config, stateful_nat64_pref64_lengths_and_eim_eif)
{
	static const struct {
		const char *pref;
		uint8_t len;
	} ok[] = {
		{ "2001:db8::/32", 32 },	 { "2001:db8:100::/40", 40 }, { "2001:db8:122::/48", 48 },
		{ "2001:db8:122:300::/56", 56 }, { "2001:db8:122:344::/64", 64 }, { "64:ff9b::/96", 96 },
	};
	char want[64], *a, *b, *c;
	uint8_t pref[16];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(want, sizeof(want), "destination-prefix = \"%s\"", ok[i].pref);
		a = subst(nat64_cfg, "destination-prefix = \"64:ff9b::/96\"", want);
		snprintf(want, sizeof(want), "destination-address = \"%s\"", ok[i].pref);
		b = subst(a, "destination-address = \"64:ff9b::/96\"", want);
		cr_assert_eq(ns_config_load_string(b, "t.cfg", &conf, err, sizeof(err)), 0, "%s: %s",
			     ok[i].pref, err);
		*strchr(want + 23, '/') = '\0';
		addr6(want + 23, pref);
		cr_expect_eq(conf.nat64[0].pref_len, ok[i].len, "%s", ok[i].pref);
		cr_expect_eq(memcmp(conf.nat64[0].pref64, pref, 16), 0, "%s", ok[i].pref);
		cr_expect_eq(conf.nat64[0].flags, 0, "address-and-port-dependent by default");
		free(a);
		free(b);
	}
	a = subst(nat64_cfg, "source-pool = \"p64\";",
		  "source-pool = \"p64\"; mapping-type = \"endpoint-independent\";");
	c = subst(a, "mapping-type = \"endpoint-independent\";",
		  "mapping-type = \"endpoint-independent\"; filtering-type = \"endpoint-independent\";");
	cr_assert_eq(ns_config_load_string(a, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.nat64[0].flags, NS_NAT_F_EIM);
	cr_expect_eq(conf.nat64[1].flags, NS_NAT_F_EIM, "every expanded term");
	cr_assert_eq(ns_config_load_string(c, "t.cfg", &conf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(conf.nat64[0].flags, NS_NAT_F_EIM | NS_NAT_F_EIF);
	free(a);
	free(c);
}

static const struct bad_case nat64_bad[] = {
	{ "pref64 of no RFC 6052 length", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"2001:db8::/33\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '2001:db8::/33': a pref64 is a /32, /40, /48, /56, /64 or /96 (RFC 6052 2.2)" },
	{ "pref64 /128", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"64:ff9b::/128\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '64:ff9b::/128': a pref64 is a /32, /40, /48, /56, /64 or /96 (RFC 6052 2.2)" },
	{ "pref64 /96 with the u-octet set", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"2001:db8:0:0:ff00::/96\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '2001:db8:0:0:ff00::/96': bits 64-71 (the u-octet) must be zero (RFC 6052 2.2)" },
	{ "pref64 /64 with host bits", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"2001:db8:1:2:3::/64\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '2001:db8:1:2:3::/64' has host bits set beyond /64" },
	{ "destination-address of another length", "destination-address = \"64:ff9b::/96\"", "destination-address = \"64:ff9b::/64\"",
	  "t.cfg:6: natsync.services.nat.rules.[0].terms.[0].from.destination-address: '64:ff9b::/64': stateful-nat64 matches the destination-prefix of its then only" },
	{ "EIF without EIM", "source-pool = \"p64\";", "source-pool = \"p64\"; filtering-type = \"endpoint-independent\";",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.filtering-type: endpoint-independent filtering needs mapping-type endpoint-independent" },
	{ "unknown mapping type", "source-pool = \"p64\";", "source-pool = \"p64\"; mapping-type = \"full-cone\";",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.mapping-type: 'full-cone' is not one of: endpoint-independent, address-and-port-dependent" },
	{ "address-pooling", "source-pool = \"p64\";", "source-pool = \"p64\"; address-pooling = \"arbitrary\";",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.address-pooling: not supported with stateful-nat64" },
	{ "pref64 not IPv6", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"10.0.0.0/8\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '10.0.0.0/8' is not an IPv6 prefix" },
	{ "pref64 host bits", "destination-prefix = \"64:ff9b::/96\"", "destination-prefix = \"64:ff9b::1/96\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.destination-prefix: '64:ff9b::1/96' has host bits set beyond /96" },
	{ "source host bits", "\"2001:db8:65::/48\"", "\"2001:db8:65::1/48\"",
	  "t.cfg:6: natsync.services.nat.rules.[0].terms.[0].from.source-address.[1]: '2001:db8:65::1/48' has host bits set beyond /48" },
	{ "IPv4 source", "\"2001:db8:65::/48\"", "\"100.64.0.0/10\"",
	  "t.cfg:6: natsync.services.nat.rules.[0].terms.[0].from.source-address.[1]: '100.64.0.0/10' is not an IPv6 prefix" },
	{ "destination-address other than the pref64", "destination-address = \"64:ff9b::/96\"", "destination-address = \"64:ff9b:1::/96\"",
	  "t.cfg:6: natsync.services.nat.rules.[0].terms.[0].from.destination-address: '64:ff9b:1::/96': stateful-nat64 matches the destination-prefix of its then only" },
	{ "no source pool", " source-pool = \"p64\";", "",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.source-pool: missing (stateful-nat64 needs a source-pool)" },
	{ "pool without ports", "port = \"automatic\"; ", "",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.source-pool: stateful-nat64 needs pool 'p64' to have port = \"automatic\" or port-range" },
	{ "pool with port blocks", "port = \"automatic\"; ", "port = \"automatic\"; port-block-allocation = { block-size = 64; }; ",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.source-pool: stateful-nat64 cannot take pool 'p64' with port-block-allocation: its blocks would be allocated and logged per 32-bit stand-in of the IPv6 subscriber, not per subscriber (give NAT64 a pool without blocks)" },
	{ "undefined pool", "source-pool = \"p64\"", "source-pool = \"p65\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.source-pool: pool 'p65' is not defined" },
	{ "match-direction output", "match-direction = \"input\"", "match-direction = \"output\"",
	  "t.cfg:7: natsync.services.nat.rules.[0].terms.[0].then.translation-type: stateful-nat64 translates subscriber-originated traffic: the rule needs match-direction input" },
	{ "protocol match", "destination-address = \"64:ff9b::/96\";", "destination-address = \"64:ff9b::/96\"; protocol = \"tcp\";",
	  "t.cfg:6: natsync.services.nat.rules.[0].terms.[0].from.protocol: unknown key" },
};

Test(config, stateful_nat64_invalid_configs_are_rejected)
{
	size_t i;

	for (i = 0; i < sizeof(nat64_bad) / sizeof(nat64_bad[0]); i++) {
		const struct bad_case *c = &nat64_bad[i];
		char *text = subst(nat64_cfg, c->find, c->repl);

		expect_rejected(c->what, text, c->want);
		free(text);
	}
}

Test(config, stateful_nat64_term_limit)
{
	char list[4096] = "";
	char *text;
	int i;

	for (i = 0; i < NS_MAX_NAT64_TERMS + 1; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"2001:db8:%x::/48\"",
			 i ? ", " : "", i);
	text = subst(nat64_cfg, "\"2001:db8:64::/48\", \"2001:db8:65::/48\"", list);
	expect_rejected("33 source prefixes", text,
			"t.cfg:6: natsync.services.nat.rules.[0].terms.[0]: more than 32 stateful-nat64 terms after expansion");
	free(text);
}
