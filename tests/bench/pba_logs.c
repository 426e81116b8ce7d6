// SPDX-License-Identifier: GPL-2.0
/*
 * pba_logs.c - what port-block-allocation saves in logs: the lines and
 * bytes natsyncd's own formatters (events.c, pba.c) write for 1M UDP
 * sessions, with per-session NAT logging (NAT_ALLOC + NAT_RELEASE per
 * session) and with port blocks (PORT_BLOCK_ALLOC + PORT_BLOCK_RELEASE
 * per block). Workload: 62 500 subscribers from 100.64.0.0, 16 sessions
 * each to distinct servers, pool 203.0.113.0/24 ports 1024..65535,
 * block-size 64 (one block per subscriber). No kernel: the lines are
 * formatted, counted and thrown away.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "common/pba.h"
#include "daemon/config.h"
#include "daemon/events.h"
#include "daemon/pba.h"

#define LOG_SESSIONS 1000000L
#define PER_SUB 16

static const char cfg_text[] =
	"natsync: { services: { nat: {\n"
	"  pools = ( { name = \"pool-a\"; address = [ \"203.0.113.0/24\" ]; port = \"automatic\";\n"
	"              port-block-allocation = { block-size = 64; max-blocks-per-address = 4; }; } );\n"
	"  rules = ( { name = \"r1\"; match-direction = \"input\"; terms = ( { name = \"t1\";\n"
	"    from = { source-address = [ \"100.64.0.0/10\" ]; };\n"
	"    then = { translation-type = \"napt-44\"; source-pool = \"pool-a\"; }; } ); } ); };\n"
	"  service-sets = ( { name = \"ss1\"; nat-rules = [ \"r1\" ]; syslog = [ \"nat-logs\" ];\n"
	"    next-hop-service = { inside-service-interface = \"in0\"; outside-service-interface = \"out0\"; }; } );\n"
	"}; };\n";

void bench_pba_logs(void)
{
	static struct ns_config c;
	char err[NS_CONF_ERR_MAX], line[512];
	const struct ns_pool_pba *p = &c.pool_pba[0];
	long lines_s = 0, bytes_s = 0, lines_b = 0, bytes_b = 0, i;
	char how[512];

	if (ns_config_load_string(cfg_text, "bench.cfg", &c, err, sizeof(err))) {
		bench_emit_na("logs", "NAT log lines per 1M sessions", LOG_SESSIONS, err, NULL);
		return;
	}
	for (i = 0; i < LOG_SESSIONS; i++) {
		uint32_t sub = 0x64400000u + (uint32_t)(i / PER_SUB), blk = (uint32_t)(i / PER_SUB);
		struct ns_event ev = { .type = NS_EV_NAT_ALLOC, .nat_type = NS_NAT_NAPT44 };
		int n;

		ev.in_key.saddr = htonl(sub);
		ev.in_key.daddr = htonl(0xc6336400u + (uint32_t)(i % 200));
		ev.in_key.sport = htons((uint16_t)(30000 + i % PER_SUB));
		ev.in_key.dport = htons(443);
		ev.in_key.proto = 17;
		ev.out_key.saddr = ev.in_key.daddr;
		ev.out_key.daddr = htonl(0xcb007100u + blk % 256);
		ev.out_key.sport = htons(443);
		ev.out_key.dport = htons((uint16_t)(1024 + (blk / 256) % p->blocks_per_addr *
							   p->block_size + i % PER_SUB));
		ev.out_key.proto = 17;
		n = ns_event_format(&ev, NULL, 0, &c, line, sizeof(line));
		ev.type = NS_EV_NAT_RELEASE;
		n += ns_event_format(&ev, NULL, 0, &c, line, sizeof(line));
		lines_s += 2;
		bytes_s += n + 2; /* and their newlines */
		if (i % PER_SUB == 0) {
			struct ns_pba_blk_key k = { .addr = ev.out_key.daddr,
						    .block = (uint16_t)((blk / 256) % p->blocks_per_addr) };
			struct ns_pba_blk_val v = { .in_addr = ev.in_key.saddr, .alloc_ns = 0 };

			n = ns_pba_format(line, sizeof(line), "ALLOC", "pool-a", p, &k, &v, 0);
			n += ns_pba_format(line, sizeof(line), "RELEASE", "pool-a", p, &k, &v,
					   1800ull * 1000000000ull);
			lines_b += 2;
			bytes_b += n + 2;
		}
	}
	snprintf(how, sizeof(how), "1M UDP sessions, %d per subscriber, formatted by natsyncd's "
		 "own formatters (events.c NAT_ALLOC + NAT_RELEASE per session; pba.c "
		 "PORT_BLOCK_ALLOC + PORT_BLOCK_RELEASE per block of 64, one block per "
		 "subscriber); bytes include the newline, not a syslog header", PER_SUB);
	bench_emit_value("logs", "NAT log lines per 1M sessions, per session", LOG_SESSIONS,
			 "lines", (double)lines_s, how, NULL, NULL);
	bench_emit_value("logs", "NAT log bytes per 1M sessions, per session", LOG_SESSIONS,
			 "bytes", (double)bytes_s, how, NULL, NULL);
	bench_emit_value("logs", "NAT log lines per 1M sessions, port blocks", LOG_SESSIONS,
			 "lines", (double)lines_b, how, NULL, NULL);
	bench_emit_value("logs", "NAT log bytes per 1M sessions, port blocks", LOG_SESSIONS,
			 "bytes", (double)bytes_b, how, NULL, NULL);
}
