/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.h - the one config model of natsyncd.
 *
 * ns_config_load() parses a libconfig file, validates every key and compiles
 * the rules into the exact images the BPF maps hold (struct ns_pool,
 * ns_svc, ns_fw_term, ns_nat_term from common/natsync.h). On any error it
 * fills err with "FILE:LINE: KEY: reason", returns -1 and leaves *out
 * untouched, so a bad file is never half-applied.
 *
 * The struct is plain data (fixed arrays, no pointers) so it can be copied,
 * compared and fingerprinted as a whole.
 */
#ifndef NATSYNC_CONFIG_H
#define NATSYNC_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include "../common/natsync.h"

#define NS_NAME_MAX 64
#define NS_CONF_ERR_MAX 512

enum ns_attach_mode {
	NS_ATTACH_NATIVE = 0,  /* XDP native (driver) mode */
	NS_ATTACH_GENERIC = 1, /* XDP generic (skb) mode */
	NS_ATTACH_TC = 2,      /* TC ingress (clsact) instead of XDP */
	NS_ATTACH_AUTO = 3,    /* native, falling back to generic */
};

enum ns_log_level { NS_LOG_ERR = 0, NS_LOG_WARN, NS_LOG_INFO, NS_LOG_DEBUG };

/* Per-state timeouts in seconds (RFC 5382/4787/5508/6888/7857 defaults). */
struct ns_timeouts {
	uint32_t tcp_syn;         /* transitory, opening: default 240 */
	uint32_t tcp_established; /* default 7440 (2 h 4 min) */
	uint32_t tcp_closing;     /* FIN seen one side: default 240 */
	uint32_t tcp_time_wait;   /* FIN both sides: default 240 */
	uint32_t tcp_rst;         /* after RST: default 240 (RFC 7857) */
	uint32_t udp;             /* default 300 */
	uint32_t icmp;            /* default 60 */
	uint32_t other;           /* other protocols: default 300 */
	uint32_t port_hold;       /* released port not reused for: default 120 */
	uint32_t binding;         /* EIM/paired binding kept after last session: 0 */
};

struct ns_iface_conf {
	char name[IF_NAMESIZE];
	int mode;                 /* enum ns_attach_mode */
	int side;                 /* enum ns_side */
	int svc;                  /* service-set index */
};

#define NS_RED_MAX_VIPS 16
#define NS_RED_MAX_ROUTES 16
#define NS_RED_MAX_MONITOR 16

/* A virtual address the primary owns: address/prefix on an interface. */
struct ns_red_vip {
	struct in_addr addr;
	uint8_t prefix_len;             /* default 32 */
	char ifname[IF_NAMESIZE];
};

/* A signal route the primary installs (a routing daemon advertises it).
 * Neither ifname nor via: a blackhole route. */
struct ns_red_route {
	struct in_addr dst;
	uint8_t prefix_len;
	struct in_addr via;             /* 0.0.0.0 = none */
	char ifname[IF_NAMESIZE];       /* "" = none */
	uint32_t table;                 /* default 254 (main); 0 is read as 254 */
	uint32_t metric;                /* default 0 */
};

/*
 * Service Redundancy Daemon model (issue 10, daemon/monitor.c, policy.c,
 * hbpath.c; doc/redundancy.md maps each key to its Junos statement).
 */
#define NS_SRD_MAX_EVENTS 16
#define NS_SRD_MAX_POLICIES 16
#define NS_SRD_MAX_ROUTES 8            /* static routes per policy action */
#define NS_SRD_MAX_LINKS 8             /* interfaces per link-down event */
#define NS_SRD_HOOK_MAX 512
#define NS_SRD_MAX_HB_PATHS 4

/* What a redundancy event watches (exactly one per event). */
enum ns_srd_kind {
	NS_SRD_LINK = 1,    /* monitor-link-down: any of the interfaces lost its link */
	NS_SRD_ROUTE,       /* monitor-route: the prefix is gone from the table */
	NS_SRD_PING,        /* monitor-ping: count echoes in a row unanswered */
	NS_SRD_PEER,        /* monitor-peer = "loss": no heartbeat for dead-interval */
};

struct ns_srd_event_conf {
	char name[NS_NAME_MAX];
	int kind;                       /* enum ns_srd_kind */
	char links[NS_SRD_MAX_LINKS][IF_NAMESIZE];
	uint32_t n_links;
	struct in_addr prefix;          /* route: network address */
	uint8_t prefix_len;
	uint32_t table;                 /* route: default 254 */
	struct in_addr ping_addr;       /* ping: the target */
	struct in_addr ping_source;     /* ping: source address, 0 = the route's */
	char ping_iface[IF_NAMESIZE];   /* ping: SO_BINDTODEVICE, "" none */
	uint32_t ping_interval_ms;      /* default 1000 */
	uint32_t ping_count;            /* lost in a row -> down, default 3 */
	uint32_t hold_down_ms;          /* down for this long before it counts, default 0 */
	uint32_t hold_up_ms;            /* up for this long before it counts, default 0 */
};

/* Actions of a redundancy policy (bits of ns_srd_policy_conf.actions). */
#define NS_SRD_A_ACQUIRE (1u << 0)      /* acquire-mastership */
#define NS_SRD_A_RELEASE (1u << 1)      /* release-mastership */
#define NS_SRD_A_ADD_SIGNAL (1u << 2)   /* add-signal-route: the signal-routes */
#define NS_SRD_A_DEL_SIGNAL (1u << 3)   /* delete-signal-route */
#define NS_SRD_A_ADD_ROUTES (1u << 4)   /* add-static-route */
#define NS_SRD_A_DEL_ROUTES (1u << 5)   /* delete-static-route */
#define NS_SRD_A_HOOK (1u << 6)         /* hook */

struct ns_srd_policy_conf {
	char name[NS_NAME_MAX];
	uint32_t events;                /* bit i: redundancy-events names event i */
	bool on_up;                     /* when = "up" (default "down") */
	uint32_t actions;               /* NS_SRD_A_* */
	struct ns_red_route add_routes[NS_SRD_MAX_ROUTES];
	uint32_t n_add_routes;
	struct ns_red_route del_routes[NS_SRD_MAX_ROUTES];
	uint32_t n_del_routes;
	char hook[NS_SRD_HOOK_MAX];
	uint32_t hook_timeout_ms;       /* default 10000 */
};

/* A second heartbeat path (UDP), besides the sync channel. */
struct ns_hb_path_conf {
	char name[NS_NAME_MAX];
	struct in_addr local_addr;
	struct in_addr peer_addr;
	uint16_t port;                  /* default 7789 (both ends) */
	char ifname[IF_NAMESIZE];       /* SO_BINDTODEVICE, "" none */
};

/* metrics: { listen = "ADDR:PORT"; } - the Prometheus endpoint (metrics.c). */
struct ns_metrics_conf {
	bool enabled;                   /* off unless listen is set */
	char listen[64];                /* as written: "198.51.100.1:9477", "[::1]:9477" */
	int family;                     /* AF_INET or AF_INET6 */
	struct in_addr addr4;
	struct in6_addr addr6;
	uint16_t port;                  /* host order */
};

struct ns_redundancy_conf {
	bool enabled;
	struct in_addr local_addr;   /* redundancy-local data-address */
	struct in_addr peer_addr;    /* redundancy-peer ipaddress */
	uint16_t port;               /* TCP port, default 7788 */
	char device[IF_NAMESIZE];    /* routing-instance: VRF or device, "" none */
	uint32_t replication_threshold; /* seconds, default 180, 0 = all */
	uint32_t heartbeat_interval_ms; /* default 1000 */
	uint32_t dead_interval_ms;      /* default 3000 */
	int priority;                   /* default 100 */
	bool preempt;                   /* default false */
	char key_file[PATH_MAX];        /* pre-shared key, "" none */
	bool encrypt;                   /* encrypt = true: sync frames encrypted
					 * (ChaCha20-Poly1305); needs key_file */
	/* Appended by sync (issue 3), key redundancy-options.initial-role =
	 * "primary" | "backup": the role this box starts in (the redundancy
	 * module of issue 4 changes it at run time). Default primary. */
	int initial_role;               /* NS_ROLE_PRIMARY / NS_ROLE_BACKUP */
	/* Appended by redundancy (issue 4, daemon/redundancy.c, vip.c);
	 * keys documented in doc/redundancy.md. */
	bool role_external;             /* role-control = "external": only
					 * "natsyncctl role" sets the role
					 * (keepalived); default false = "auto" */
	struct ns_red_vip vips[NS_RED_MAX_VIPS]; /* virtual-addresses */
	uint32_t n_vips;                /* default 0 */
	struct ns_red_route routes[NS_RED_MAX_ROUTES]; /* signal-routes */
	uint32_t n_routes;              /* default 0 */
	char monitor[NS_RED_MAX_MONITOR][IF_NAMESIZE]; /* monitor-interfaces */
	uint32_t n_monitor;             /* default 0 = every service-set interface */
	char hook[PATH_MAX];            /* hook: run by /bin/sh -c on every role
					 * change, "" none (default) */
	uint32_t garp_count;            /* gratuitous ARPs per address, default 5
					 * (0 is read as 5) */
	uint32_t garp_interval_ms;      /* their spacing, default 200 (0 read as 200) */
	/* Appended by issue 10: redundancy-events, redundancy-policies,
	 * heartbeat-paths. */
	struct ns_srd_event_conf events[NS_SRD_MAX_EVENTS];
	uint32_t n_events;
	struct ns_srd_policy_conf policies[NS_SRD_MAX_POLICIES];
	uint32_t n_policies;
	struct ns_hb_path_conf hb_paths[NS_SRD_MAX_HB_PATHS];
	uint32_t n_hb_paths;
};

/* IPFIX export of NAT events (daemon/ipfix.c, doc/logging.md). */
#define NS_IPFIX_MAX_COLLECTORS 4
struct ns_ipfix_conf {
	struct sockaddr_storage collectors[NS_IPFIX_MAX_COLLECTORS]; /* "address:port" */
	uint32_t n_collectors;          /* 0 = no export (default) */
	uint32_t template_refresh;      /* seconds between template sets, default 60 */
	uint32_t domain;                /* observation domain id, default 1 */
	uint32_t message_size;          /* bytes per message (UDP payload), default 1400 */
};

#define NS_ROLE_PRIMARY 0
#define NS_ROLE_BACKUP 1

struct ns_svc_conf {
	char name[NS_NAME_MAX];
	char inside[IF_NAMESIZE];
	char outside[IF_NAMESIZE];
	int64_t replication_threshold;  /* seconds; -1 = use the global one */
	bool replicate;                 /* false: disable-replication-capability */
};

/*
 * Scheduling (doc/daemon.md): the event loop thread (heartbeats, the sync
 * channel, the control socket) runs at loop-nice, default -10, so that a
 * busy box still runs it first; background threads (the aging walk, freeing
 * the sync tables) at NS_BG_NICE.
 */
#define NS_LOOP_NICE_DEFAULT (-10)
#define NS_BG_NICE 10

struct ns_config {
	char path[PATH_MAX];
	char node_name[NS_NAME_MAX];
	char pin_path[PATH_MAX];        /* default /sys/fs/bpf/natsync */
	char control_socket[108];       /* default /run/natsync.sock */
	char log_file[PATH_MAX];        /* "" = stderr only */
	bool log_syslog;
	char syslog_socket[108];        /* log.syslog-socket, default /dev/log */
	int log_level;                  /* enum ns_log_level */
	uint32_t max_sessions;          /* default NS_MAX_SESSIONS_DEFAULT */
	uint32_t aging_interval_ms;     /* default 1000 */
	uint32_t aging_slice;           /* entries per walk slice, 0 = unsliced,
					 * NS_AGING_SLICE_AUTO (default) */
	int32_t loop_nice;              /* the event loop thread's nice, default -10 */
	int attach_mode;                /* default for interfaces */
	struct ns_timeouts timeouts;
	struct ns_redundancy_conf red;
	struct ns_metrics_conf metrics;

	/* Interfaces, named by service sets, with their attach mode. */
	struct ns_iface_conf ifaces[NS_MAX_IFACES];
	uint32_t n_ifaces;

	/* Names for display, same index as the compiled arrays. */
	char pool_names[NS_MAX_POOLS][NS_NAME_MAX];
	struct ns_svc_conf svc_conf[NS_MAX_SVC_SETS];
	char fw_rule_names[NS_MAX_FW_TERMS][NS_NAME_MAX];
	char nat_rule_names[NS_MAX_NAT_TERMS][NS_NAME_MAX];
	uint32_t n_fw_rules, n_nat_rules;

	/* Compiled images, written as they are into the BPF maps. */
	struct ns_cfg cfg;
	struct ns_pool pools[NS_MAX_POOLS];
	/* port-block-allocation of each pool (block_size 0: none), written
	 * into ns_pool_pba */
	struct ns_pool_pba pool_pba[NS_MAX_POOLS];
	uint32_t n_pools;
	struct ns_svc svcs[NS_MAX_SVC_SETS];
	uint32_t n_svcs;
	struct ns_fw_term fw[NS_MAX_FW_TERMS];
	uint32_t n_fw;
	struct ns_nat_term nat[NS_MAX_NAT_TERMS];
	uint32_t n_nat;
	/* stateful-nat64 terms (doc/nat64.md), written into ns_nat64_terms;
	 * cfg.n_nat64 holds their count */
	struct ns_nat64_term nat64[NS_MAX_NAT64_TERMS];
	uint32_t n_nat64;
	struct ns_ipfix_conf ipfix;
};

/* "A.B.C.D:PORT" or "[IPV6]:PORT" into m (enabled); 0, or -1 with err. */
int ns_metrics_parse_listen(const char *v, struct ns_metrics_conf *m, char *err, size_t errlen);

/* Fill *out with every default (no interfaces, rules or pools). */
void ns_config_defaults(struct ns_config *out);

/* Load and validate FILE. 0 on success; -1 with err "FILE:LINE: KEY: why". */
int ns_config_load(const char *path, struct ns_config *out, char *err, size_t errlen);

/* Same, from a string (tests, fuzzing); name is used in messages. */
int ns_config_load_string(const char *text, const char *name, struct ns_config *out,
			  char *err, size_t errlen);

/* Timeout in seconds for a session in this protocol/TCP state. */
uint32_t ns_config_session_timeout(const struct ns_config *c, uint8_t proto, uint8_t tcp_state);

/* Stable 64-bit fingerprint of what must be identical on both chassis:
 * pools, rules, service sets and timeouts (not node name, paths, addresses). */
uint64_t ns_config_fingerprint(const struct ns_config *c);

/* Config spelling of an enum ns_attach_mode ("native", "tc", ...); "" if unknown. */
const char *ns_attach_mode_name(int mode);

/* Config spelling of an enum ns_nat_type ("napt-44", ...; "none" for 0). */
const char *ns_nat_type_name(int type);

/* Config spelling of an enum ns_fw_action ("accept", "discard", "reject"). */
const char *ns_fw_action_name(int action);

#endif
