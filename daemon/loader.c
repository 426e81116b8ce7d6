// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - skeleton open/load, map pinning and adoption, config maps,
 * XDP/TC attach and detach (see loader.h and doc/daemon.md).
 *
 * Why legacy (single-program) XDP mode: libxdp's multi-program dispatcher
 * attaches its component programs with freplace, which requires them to be
 * loaded as BPF_PROG_TYPE_EXT against one specific dispatcher. Our program is
 * loaded as a plain XDP program by the skeleton, because the same loaded
 * program also serves BPF_PROG_TEST_RUN and both interfaces, and its maps
 * are pinned and adopted. libxdp 1.3.1 cannot link an already-loaded XDP
 * program into a dispatcher (the link fails and it falls back to the single
 * program path after loading a dispatcher for nothing), so we ask for the
 * single-program path directly (LIBXDP_SKIP_DISPATCHER=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "natsync.skel.h"

#include "loader.h"
#include "log.h"
#include "pba.h"
#include "util.h"

enum attach_kind { AT_NONE = 0, AT_XDP, AT_TC };

struct attachment {
	char name[IF_NAMESIZE];
	int ifindex;
	enum attach_kind kind;
	enum xdp_attach_mode xmode;    /* AT_XDP: the mode that worked */
	struct xdp_program *xprog;     /* AT_XDP: for xdp_program__detach */
	bool hook_created;             /* AT_TC: clsact was created by us */
};

struct ns_loader {
	struct bpf_program *xdp;       /* the XDP entry point */
	struct bpf_program *tc;        /* the TC ingress entry point */
	struct attachment at[NS_MAX_IFACES];
	unsigned int n_at;
};

/* Every map natsyncd tracks, by name, and where its fd lives. */
static const struct {
	const char *name;
	size_t off;
	bool required;
	/* max_entries = max-sessions times this (0: the object's own size).
	 * NAT bindings (ns_ports, ns_eim) outlive their sessions (port-hold,
	 * EIM binding time), so their maps get twice the room: a full session
	 * table must be refused as drop_session_full, never run out of
	 * binding slots first and pass for an exhausted pool. */
	unsigned int sessions_x;
	/* NAT64 session maps: sized as above only when the config has a
	 * stateful-nat64 term, else NS_NAT64_SESSIONS_IDLE entries, so a box
	 * without NAT64 does not preallocate a second session table. */
	bool nat64;
	/* port-block maps: sized by ns_pba_map_entries() */
	bool pba;
} map_table[] = {
	{ NS_MAP_SESSIONS, offsetof(struct ns_map_fds, sessions), true, 1, false, false },
	{ NS_MAP_SESSION_REV, offsetof(struct ns_map_fds, session_rev), true, 1, false, false },
	{ NS_MAP_PORTS, offsetof(struct ns_map_fds, ports), false, 2, false, false },
	{ NS_MAP_EIM, offsetof(struct ns_map_fds, eim), false, 2, false, false },
	{ NS_MAP_PAIRED, offsetof(struct ns_map_fds, paired), false, 1, false, false },
	{ NS_MAP_POOLS, offsetof(struct ns_map_fds, pools), true, 0, false, false },
	{ NS_MAP_POOL_STATE, offsetof(struct ns_map_fds, pool_state), false, 0, false, false },
	{ NS_MAP_SVC, offsetof(struct ns_map_fds, svc), true, 0, false, false },
	{ NS_MAP_FW_TERMS, offsetof(struct ns_map_fds, fw_terms), true, 0, false, false },
	{ NS_MAP_NAT_TERMS, offsetof(struct ns_map_fds, nat_terms), true, 0, false, false },
	{ NS_MAP_IFACES, offsetof(struct ns_map_fds, ifaces), true, 0, false, false },
	{ NS_MAP_CONFIG, offsetof(struct ns_map_fds, config), true, 0, false, false },
	{ NS_MAP_COUNTERS, offsetof(struct ns_map_fds, counters), true, 0, false, false },
	{ NS_MAP_TX_PORTS, offsetof(struct ns_map_fds, tx_ports), false, 0, false, false },
	{ NS_MAP_EVENTS, offsetof(struct ns_map_fds, events), false, 0, false, false },
	{ NS_MAP_NAT64_SESS, offsetof(struct ns_map_fds, nat64_sess), false, 1, true, false },
	/* the NAT64 BIB lives in it too: room for the bindings */
	{ NS_MAP_NAT64_REV, offsetof(struct ns_map_fds, nat64_rev), false, 2, true, false },
	{ NS_MAP_NAT64_TERMS, offsetof(struct ns_map_fds, nat64_terms), false, 0, false, false },
	{ NS_MAP_FRAG, offsetof(struct ns_map_fds, frag), false, 0, false, false },
	{ NS_MAP_FRAG_RING, offsetof(struct ns_map_fds, frag_ring), false, 0, false, false },
	{ NS_MAP_POOL_PBA, offsetof(struct ns_map_fds, pool_pba), false, 0, false, false },
	{ NS_MAP_PBA, offsetof(struct ns_map_fds, pba), false, 0, false, true },
	{ NS_MAP_PBA_BLK, offsetof(struct ns_map_fds, pba_blk), false, 0, false, true },
};

static int *fd_slot(struct ns_map_fds *fds, size_t i)
{
	return (int *)((char *)fds + map_table[i].off);
}

void ns_loader_init_fds(struct ns_map_fds *fds)
{
	for (size_t i = 0; i < NS_ARRAY_SIZE(map_table); i++)
		*fd_slot(fds, i) = -1;
}

void ns_loader_close_fds(struct ns_map_fds *fds)
{
	for (size_t i = 0; i < NS_ARRAY_SIZE(map_table); i++) {
		if (*fd_slot(fds, i) >= 0)
			close(*fd_slot(fds, i));
		*fd_slot(fds, i) = -1;
	}
}

static int pin_dir(const char *pin_path, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", pin_path, NS_PIN_SUBDIR) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int ns_loader_open_pinned(const char *pin_path, struct ns_map_fds *fds)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int err = pin_dir(pin_path, dir, sizeof(dir));

	ns_loader_init_fds(fds);
	if (err)
		return err;
	for (size_t i = 0; i < NS_ARRAY_SIZE(map_table); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_table[i].name);
		*fd_slot(fds, i) = bpf_obj_get(path);
	}
	return fds->sessions >= 0 ? 0 : -ENOENT;
}

/* ---- pin directory ------------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (ns_strlcpy(tmp, path, sizeof(tmp)))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int mount_bpffs(const char *where)
{
	if (mount("bpffs", where, "bpf", 0, "mode=0700")) {
		int err = -errno;

		pr_err("%s is not on a bpf filesystem and mounting one there failed: %s "
		       "(mount -t bpf bpffs /sys/fs/bpf)", where, strerror(-err));
		return err;
	}
	pr_warn("%s was not on a bpf filesystem: mounted a bpffs there", where);
	return 0;
}

/*
 * Make <pin-path> a directory on a bpffs. The usual case: /sys/fs/bpf is a
 * bpffs and we mkdir below it. When the well-known /sys/fs/bpf is only the
 * empty sysfs mount point (no bpffs mounted, as on minimal systems), mount
 * one there, as libxdp and systemd do. Any other place that is not on a
 * bpffs gets a bpffs of its own at <pin-path> (say so: other processes see
 * those pins only through this mount).
 */
static int prepare_pin_dir(const char *pin_path, char *dir, size_t len)
{
	char anc[PATH_MAX];
	int err = pin_dir(pin_path, dir, len);

	if (err)
		return err;
	ns_existing_ancestor(pin_path, anc, sizeof(anc));
	if (!on_bpffs(anc) && !strcmp(anc, "/sys/fs/bpf")) {
		err = mount_bpffs(anc);
		if (err)
			return err;
	}
	err = mkdir_p(pin_path);
	if (err) {
		pr_err("pin-path %s: cannot create: %s", pin_path, strerror(-err));
		return err;
	}
	if (!on_bpffs(pin_path)) {
		err = mount_bpffs(pin_path);
		if (err)
			return err;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("pin directory %s: %s", dir, strerror(-err));
		return err;
	}
	return 0;
}

int ns_loader_pin_dir(const char *pin_path, char *dir, size_t len, bool create)
{
	return create ? prepare_pin_dir(pin_path, dir, len) : pin_dir(pin_path, dir, len);
}

/* ---- open, adopt, load --------------------------------------------------- */

static int check_ifaces(const struct ns_config *c)
{
	for (uint32_t i = 0; i < c->n_ifaces; i++) {
		if (if_nametoindex(c->ifaces[i].name))
			continue;
		pr_err("interface %s (%s side of service set %s) does not exist in this "
		       "network namespace", c->ifaces[i].name,
		       c->ifaces[i].side == NS_SIDE_INSIDE ? "inside" : "outside",
		       c->ifaces[i].svc >= 0 && (uint32_t)c->ifaces[i].svc < c->n_svcs ?
		       c->svc_conf[c->ifaces[i].svc].name : "?");
		return -ENODEV;
	}
	return 0;
}

/*
 * A pinned map libbpf cannot reuse fails the whole load with a terse
 * message: check first and explain. A different max_entries on a
 * session-sized map means max-sessions changed: keep the pinned size (and
 * the sessions) rather than refuse to start; --purge applies the new size.
 */
static int adopt_pinned(struct bpf_map *map, const char *path, bool session_sized)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	/* The kernel adds BPF_F_RDONLY_PROG to every devmap it creates (and
	 * refuses it at creation); libbpf 1.1 then calls the pinned map's flags
	 * a mismatch. Ask for the flag on the map we reuse, never create. */
	if ((info.type == BPF_MAP_TYPE_DEVMAP || info.type == BPF_MAP_TYPE_DEVMAP_HASH) &&
	    info.map_flags == (bpf_map__map_flags(map) | BPF_F_RDONLY_PROG)) {
		err = bpf_map__set_map_flags(map, info.map_flags);
		if (err)
			goto out;
	}
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.map_flags != bpf_map__map_flags(map)) {
		pr_err("pinned map %s has another layout (type %u key %u value %u flags 0x%x) "
		       "than this build's (type %u key %u value %u flags 0x%x): run natsyncd "
		       "--purge to start without state", path, info.type, info.key_size,
		       info.value_size, info.map_flags, bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map), bpf_map__map_flags(map));
		err = -EEXIST;
		goto out;
	}
	if (info.max_entries != bpf_map__max_entries(map)) {
		if (!session_sized) {
			pr_err("pinned map %s has %u entries, this build %u: run natsyncd --purge",
			       path, info.max_entries, bpf_map__max_entries(map));
			err = -EEXIST;
			goto out;
		}
		pr_warn("pinned map %s keeps its %u entries (this config needs %u): "
			"restart after natsyncd --purge to resize (drops sessions)", path,
			info.max_entries, bpf_map__max_entries(map));
		err = bpf_map__set_max_entries(map, info.max_entries);
	}
	pr_debug("adopting pinned map %s", path);
out:
	close(fd);
	return err;
}

static int table_index(const char *name)
{
	for (size_t i = 0; i < NS_ARRAY_SIZE(map_table); i++)
		if (!strcmp(map_table[i].name, name))
			return (int)i;
	return -1;
}

static int setup_maps(struct bpf_object *obj, const struct ns_config *c, const char *dir)
{
	char path[PATH_MAX + 64];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		int ti = table_index(name);
		unsigned int x = ti >= 0 ? map_table[ti].sessions_x : 0;
		bool pba = ti >= 0 && map_table[ti].pba;
		bool sized = x > 0 || pba;

		/* Only our maps: internal ones (.rodata, .bss) must never be
		 * adopted, or a new build would run on old constants. */
		if (strncmp(name, "ns_", 3))
			continue;
		if (pba) {
			err = bpf_map__set_max_entries(map, ns_pba_map_entries(c));
			if (err)
				return err;
		} else if (sized) {
			unsigned int n = c->max_sessions * x;

			if (map_table[ti].nat64 && !c->n_nat64 && n > NS_NAT64_SESSIONS_IDLE)
				n = NS_NAT64_SESSIONS_IDLE;
			err = bpf_map__set_max_entries(map, n);
			if (err)
				return err;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		err = bpf_map__set_pin_path(map, path);
		if (!err)
			err = adopt_pinned(map, path, sized);
		if (err)
			return err;
	}
	return 0;
}

static int find_programs(struct ns_loader *ld, struct bpf_object *obj)
{
	struct bpf_program *p;

	/* by name: the frag64 programs are of the same types, reached by
	 * tail calls, never attached (bpf/frag64.h) */
	bpf_object__for_each_program(p, obj) {
		if (!ld->xdp && bpf_program__type(p) == BPF_PROG_TYPE_XDP &&
		    !strcmp(bpf_program__name(p), "natsync_xdp"))
			ld->xdp = p;
		if (!ld->tc && bpf_program__type(p) == BPF_PROG_TYPE_SCHED_CLS &&
		    !strcmp(bpf_program__name(p), "natsync_tc"))
			ld->tc = p;
	}
	if (!ld->xdp) {
		pr_err("BPF object has no XDP program");
		return -ENOENT;
	}
	return 0;
}

int ns_loader_tc_fd(const struct ns_daemon *d)
{
	return d->ld && d->ld->tc ? bpf_program__fd(d->ld->tc) : -1;
}

static int collect_fds(struct ns_daemon *d)
{
	struct bpf_object *obj = d->skel->obj;

	for (size_t i = 0; i < NS_ARRAY_SIZE(map_table); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, map_table[i].name);

		*fd_slot(&d->fd, i) = m ? bpf_map__fd(m) : -1;
		if (*fd_slot(&d->fd, i) < 0 && map_table[i].required) {
			pr_err("BPF object has no map %s", map_table[i].name);
			return -ENOENT;
		}
	}
	return 0;
}

int ns_loader_check_tail_calls(struct bpf_object *obj)
{
	/* bpf/frag.h: each main program ends a NAT64 fragment in a tail call
	 * through a one-slot program array that libbpf fills at load. An
	 * empty slot would make every NAT64 fragment a drop_fragment, which
	 * a start must not hide: refused here, once, not counted per packet. */
	static const char *const arrays[] = { "frag64_xdp", "frag64_tc" };

	for (size_t i = 0; i < NS_ARRAY_SIZE(arrays); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, arrays[i]);
		__u32 key = 0, id;

		if (!m || bpf_map_lookup_elem(bpf_map__fd(m), &key, &id)) {
			pr_err("BPF object: no NAT64 fragment program in %s (%s): NAT64 "
			       "fragments would all be dropped", arrays[i],
			       m ? strerror(errno) : "no such map");
			return -ENOENT;
		}
	}
	return 0;
}

int ns_loader_load(struct ns_daemon *d)
{
	char dir[PATH_MAX];
	int err;

	ns_loader_init_fds(&d->fd);
	err = check_ifaces(&d->conf);
	if (err)
		return err;
	d->ld = calloc(1, sizeof(*d->ld));
	if (!d->ld)
		return -ENOMEM;
	d->skel = natsync_bpf__open();
	if (!d->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	err = find_programs(d->ld, d->skel->obj);
	if (!err)
		err = prepare_pin_dir(d->conf.pin_path, dir, sizeof(dir));
	if (!err)
		err = setup_maps(d->skel->obj, &d->conf, dir);
	if (err)
		goto fail;
	err = natsync_bpf__load(d->skel);
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -d for the verifier log)",
		       strerror(-err));
		goto fail;
	}
	err = collect_fds(d);
	if (!err)
		err = ns_loader_check_tail_calls(d->skel->obj);
	if (err)
		goto fail;
	pr_info("BPF programs loaded, maps pinned under %s", dir);
	return 0;
fail:
	ns_loader_close(d);
	return err;
}

void ns_loader_close(struct ns_daemon *d)
{
	/* The map fds belong to the skeleton's object. */
	ns_loader_init_fds(&d->fd);
	if (d->skel)
		natsync_bpf__destroy(d->skel);
	d->skel = NULL;
	if (d->ld) {
		for (unsigned int i = 0; i < d->ld->n_at; i++)
			xdp_program__close(d->ld->at[i].xprog);
		free(d->ld);
	}
	d->ld = NULL;
}

/* ---- config maps --------------------------------------------------------- */

/*
 * Write n images of size sz at keys bank * per_bank .. + n - 1 and zero the
 * rest of that bank's slice: a reload that removes rules leaves none behind.
 * The other bank, possibly in force, is not touched.
 */
static int write_bank(int fd, const char *name, const void *img, uint32_t n, size_t sz,
		      uint32_t bank, uint32_t per_bank)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info), base = bank * per_bank;
	char zero[256] = {0};

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.value_size != sz || sz > sizeof(zero)) {
		pr_err("map %s: value size %u, expected %zu", name, info.value_size, sz);
		return -EPROTO;
	}
	if (info.max_entries < base + per_bank) {
		pr_err("map %s holds %u entries, config bank %u needs %u", name, info.max_entries,
		       bank, base + per_bank);
		return -EPROTO;
	}
	if (n > per_bank) {
		pr_err("map %s: config needs %u entries, a bank holds %u", name, n, per_bank);
		return -E2BIG;
	}
	for (uint32_t i = 0; i < per_bank; i++) {
		const void *v = i < n ? (const char *)img + (size_t)i * sz : zero;
		uint32_t k = base + i;

		if (bpf_map_update_elem(fd, &k, v, BPF_ANY)) {
			pr_err("map %s: update of entry %u failed: %s", name, k, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static bool iface_configured(const struct ns_config *c, uint32_t ifindex)
{
	for (uint32_t i = 0; i < c->n_ifaces; i++)
		if (if_nametoindex(c->ifaces[i].name) == ifindex)
			return true;
	return false;
}

/* Remove keys (ifindexes) of a hash map that c no longer configures. */
static void prune_ifindex_map(int fd, const struct ns_config *c)
{
	uint32_t key, next, stale[NS_MAX_IFACES * 2];
	unsigned int n = 0;
	void *prev = NULL;

	while (n < NS_ARRAY_SIZE(stale) && !bpf_map_get_next_key(fd, prev, &next)) {
		if (!iface_configured(c, next))
			stale[n++] = next;
		key = next;
		prev = &key;
	}
	for (unsigned int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &stale[i]);
}

static int write_ifaces(struct ns_daemon *d, const struct ns_config *c)
{
	for (uint32_t i = 0; i < c->n_ifaces; i++) {
		uint32_t ifindex = if_nametoindex(c->ifaces[i].name);
		struct ns_iface v = {
			.svc_set = (uint16_t)c->ifaces[i].svc,
			.side = (uint8_t)c->ifaces[i].side,
		};

		if (!ifindex) {
			pr_err("interface %s does not exist", c->ifaces[i].name);
			return -ENODEV;
		}
		if (bpf_map_update_elem(d->fd.ifaces, &ifindex, &v, BPF_ANY)) {
			pr_err("map %s: %s: %s", NS_MAP_IFACES, c->ifaces[i].name, strerror(errno));
			return -errno;
		}
	}
	prune_ifindex_map(d->fd.ifaces, c);
	return 0;
}

/*
 * The devmap for bpf_redirect_map(): key = ifindex, value = ifindex (or
 * struct bpf_devmap_val with no program). Written from natsyncd's own
 * network namespace, where the kernel resolves the ifindex.
 */
static int write_tx_ports(struct ns_daemon *d, const struct ns_config *c)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (d->fd.tx_ports < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(d->fd.tx_ports, &info, &len))
		return -errno;
	for (uint32_t i = 0; i < c->n_ifaces; i++) {
		uint32_t ifindex = if_nametoindex(c->ifaces[i].name);
		uint32_t val[2] = { ifindex, 0 }; /* bpf_devmap_val: no prog */

		if (info.value_size != 4 && info.value_size != 8)
			return -EPROTO;
		if (bpf_map_update_elem(d->fd.tx_ports, &ifindex, val, BPF_ANY)) {
			pr_err("map %s: %s (ifindex %u): %s", NS_MAP_TX_PORTS, c->ifaces[i].name,
			       ifindex, strerror(errno));
			return -errno;
		}
	}
	if (info.type == BPF_MAP_TYPE_DEVMAP_HASH)
		prune_ifindex_map(d->fd.tx_ports, c);
	return 0;
}

/* The bank slot of ns_config for c: everything but the role. */
static struct ns_cfg bank_cfg(const struct ns_config *c, uint32_t bank)
{
	struct ns_cfg cfg = c->cfg;

	cfg.n_svc = c->n_svcs;
	cfg.flags &= ~NS_CFG_F_ACTIVE;
	cfg.bank = bank;
	for (uint32_t i = 0; i < c->n_svcs; i++)
		if (c->svcs[i].flags & (NS_SVC_F_SYSLOG_SESSION | NS_SVC_F_SYSLOG_NAT))
			cfg.flags |= NS_CFG_F_EVENTS;
	if (c->ipfix.n_collectors) /* IPFIX exports every event */
		cfg.flags |= NS_CFG_F_EVENTS;
	return cfg;
}

/*
 * A packet that read the bank number just before the last flip may still
 * be reading that bank's entries: they must not be rewritten under it. A
 * BPF program runs for microseconds; the bank is rewritten only once
 * NS_CFG_QUIESCE_NS have passed since the last flip, far beyond that.
 */
#define NS_CFG_QUIESCE_NS (50ull * 1000 * 1000)

uint64_t ns_loader_quiesce_left_ns(const struct ns_daemon *d)
{
	uint64_t now = ns_now();

	if (d->cfg_flip_ns && now - d->cfg_flip_ns < NS_CFG_QUIESCE_NS)
		return NS_CFG_QUIESCE_NS - (now - d->cfg_flip_ns);
	return 0;
}

/* The live slot of ns_config, zero when it cannot be read (fresh maps). */
static struct ns_cfg live_cfg(const struct ns_daemon *d)
{
	struct ns_cfg cur = {0};
	uint32_t k = NS_CFG_SLOT_LIVE;

	if (d->fd.config < 0 || bpf_map_lookup_elem(d->fd.config, &k, &cur))
		memset(&cur, 0, sizeof(cur));
	return cur;
}

int ns_loader_stage_config(struct ns_daemon *d, const struct ns_config *c, uint32_t *bank)
{
	static struct ns_svc svcs[NS_MAX_SVC_SETS];
	uint32_t nb = (live_cfg(d).bank & 1) ^ 1, k = NS_CFG_SLOT_BANK(nb);
	struct ns_cfg cfg = bank_cfg(c, nb);
	int err;

	if (c->n_svcs > NS_MAX_SVC_SETS)
		return -E2BIG;
	for (uint32_t i = 0; i < c->n_svcs; i++) {
		svcs[i] = c->svcs[i];
		svcs[i].bank = (uint16_t)nb;
	}
	/* Never waits: the caller retries later (reload.c's timer). */
	if (ns_loader_quiesce_left_ns(d))
		return -EAGAIN;
	/* Terms and pools first, then the sets that index them, the bank's
	 * global knobs last; nothing here is in force before the flip. */
	err = write_bank(d->fd.pools, NS_MAP_POOLS, c->pools, c->n_pools, sizeof(c->pools[0]), nb,
			 NS_MAX_POOLS);
	if (!err)
		err = write_bank(d->fd.pool_pba, NS_MAP_POOL_PBA, c->pool_pba, c->n_pools,
				 sizeof(c->pool_pba[0]), nb, NS_MAX_POOLS);
	if (!err)
		err = write_bank(d->fd.fw_terms, NS_MAP_FW_TERMS, c->fw, c->n_fw, sizeof(c->fw[0]),
				 nb, NS_MAX_FW_TERMS);
	if (!err)
		err = write_bank(d->fd.nat_terms, NS_MAP_NAT_TERMS, c->nat, c->n_nat,
				 sizeof(c->nat[0]), nb, NS_MAX_NAT_TERMS);
	if (!err)
		err = write_bank(d->fd.nat64_terms, NS_MAP_NAT64_TERMS, c->nat64, c->n_nat64,
				 sizeof(c->nat64[0]), nb, NS_MAX_NAT64_TERMS);
	if (!err)
		err = write_bank(d->fd.svc, NS_MAP_SVC, svcs, c->n_svcs, sizeof(svcs[0]), nb,
				 NS_MAX_SVC_SETS);
	if (!err && d->fd.config >= 0 && bpf_map_update_elem(d->fd.config, &k, &cfg, BPF_ANY)) {
		err = -errno;
		pr_err("map %s: bank %u: %s", NS_MAP_CONFIG, nb, strerror(-err));
	}
	if (err) {
		pr_err("config bank %u not written: the config in force is unchanged", nb);
		return err;
	}
	*bank = nb;
	return 0;
}

int ns_loader_commit_config(struct ns_daemon *d, const struct ns_config *c, uint32_t bank)
{
	struct ns_cfg live = live_cfg(d);
	uint32_t k = NS_CFG_SLOT_LIVE;
	int err;

	/* Interfaces cannot change on a reload (natsyncd refuses that), so
	 * these writes rewrite equal values then; at start they come before
	 * the flip that makes the box forward. */
	err = write_ifaces(d, c);
	if (!err)
		err = write_tx_ports(d, c);
	if (err)
		return err;
	/* Without redundancy this box is the only one: it forwards. With
	 * redundancy the role logic (redundancy.c, which runs after the first
	 * write) sets ACTIVE: a box that starts must not forward before it
	 * knows whether its peer is primary. Once sync runs, the role is its
	 * to keep: a reload must not turn a backup into a second primary. */
	if (!d->sync) {
		if (c->red.enabled)
			live.flags &= ~NS_CFG_F_ACTIVE;
		else
			live.flags |= NS_CFG_F_ACTIVE;
	}
	live.flags &= NS_CFG_F_ACTIVE;
	live.bank = bank & 1;
	if (d->fd.config >= 0 && bpf_map_update_elem(d->fd.config, &k, &live, BPF_ANY)) {
		err = -errno;
		pr_err("map %s: flip to bank %u: %s", NS_MAP_CONFIG, bank, strerror(-err));
		return err;
	}
	d->cfg_flip_ns = ns_now();
	d->cfg_flips++;
	return 0;
}

int ns_loader_write_config(struct ns_daemon *d, const struct ns_config *c)
{
	uint32_t bank;
	int err;

	err = ns_loader_stage_config(d, c, &bank);
	if (!err)
		err = ns_loader_commit_config(d, c, bank);
	if (!err)
		pr_info("config bank %u in force: %u pools, %u service sets, %u firewall terms, "
			"%u NAT terms, %u interfaces", bank, c->n_pools, c->n_svcs, c->n_fw,
			c->n_nat, c->n_ifaces);
	return err;
}

/* ---- XDP ----------------------------------------------------------------- */

/* The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a program name. */
static bool same_prog_name(const char *kernel_name, const char *ours)
{
	return !strncmp(kernel_name, ours, BPF_OBJ_NAME_LEN - 1);
}

/* What an earlier natsyncd left attached on an interface. */
struct stale_xdp {
	int fd;                     /* its program (our dup), -1 if none */
	enum xdp_attach_mode mode;
	unsigned int id;
};

static unsigned int xdp_mode_flags(enum xdp_attach_mode mode)
{
	return mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE :
	       mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : 0;
}

/*
 * Find a natsync XDP program an earlier instance left on ifindex (after
 * kill -9 the netlink attachment stays, and keeps forwarding). A program
 * natsync did not attach is not ours to touch: -EBUSY.
 */
static int find_stale_xdp(int ifindex, const char *ifname, const char *prog_name,
			  struct stale_xdp *st)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *main;
	int err = 0;

	st->fd = -1;
	if (libxdp_get_error(mp) || !mp)
		return 0; /* nothing attached */
	main = xdp_multiprog__main_prog(mp);
	if (!main) {
		xdp_multiprog__close(mp);
		return 0;
	}
	if (!xdp_multiprog__is_legacy(mp) || !same_prog_name(xdp_program__name(main), prog_name)) {
		pr_err("%s already has XDP program %s (id %u) that natsync did not attach: "
		       "not replacing it", ifname, xdp_program__name(main), xdp_program__id(main));
		err = -EBUSY;
	} else {
		st->mode = xdp_multiprog__attach_mode(mp);
		st->id = xdp_program__id(main);
		st->fd = fcntl(xdp_program__fd(main), F_DUPFD_CLOEXEC, 3);
		if (st->fd < 0)
			err = -errno;
	}
	xdp_multiprog__close(mp);
	return err;
}

/* Detach a stale program, only if it is still the one attached. */
static int detach_stale_xdp(int ifindex, const char *ifname, const struct stale_xdp *st)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = st->fd);
	int err = bpf_xdp_detach(ifindex, xdp_mode_flags(st->mode) | XDP_FLAGS_REPLACE, &opts);

	if (err)
		pr_err("%s: cannot detach natsync XDP program id %u left by an earlier instance: "
		       "%s", ifname, st->id, strerror(-err));
	else
		pr_info("%s: detached natsync XDP program id %u left by an earlier instance",
			ifname, st->id);
	return err;
}

/* A stale program in a mode the config still allows is swapped in place. */
static bool mode_allows(int conf_mode, enum xdp_attach_mode mode)
{
	switch (conf_mode) {
	case NS_ATTACH_AUTO: return mode == XDP_MODE_NATIVE || mode == XDP_MODE_SKB;
	case NS_ATTACH_NATIVE: return mode == XDP_MODE_NATIVE;
	case NS_ATTACH_GENERIC: return mode == XDP_MODE_SKB;
	default: return false;
	}
}

/*
 * Replace the program an earlier instance left with ours in one netlink
 * operation (XDP_FLAGS_REPLACE + the old fd): no moment without a program,
 * so no packet slips through untranslated while natsyncd restarts.
 */
static int replace_xdp(struct ns_loader *ld, struct attachment *at, const struct stale_xdp *st)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = st->fd);
	int err;

	err = bpf_xdp_attach(at->ifindex, bpf_program__fd(ld->xdp),
			     xdp_mode_flags(st->mode) | XDP_FLAGS_REPLACE, &opts);
	if (err) {
		pr_err("%s: cannot replace natsync XDP program id %u: %s", at->name, st->id,
		       strerror(-err));
		return err;
	}
	/* libxdp's handle on it, so shutdown detaches the same way as after
	 * a fresh attach. */
	at->xprog = xdp_program__from_fd(bpf_program__fd(ld->xdp));
	if (libxdp_get_error(at->xprog))
		at->xprog = NULL;
	at->kind = AT_XDP;
	at->xmode = st->mode;
	pr_info("%s: replacing natsync XDP program id %u left by an earlier instance "
		"(atomic replace, %s mode)", at->name, st->id,
		st->mode == XDP_MODE_NATIVE ? "native" : "generic");
	return 0;
}

static int attach_xdp(struct ns_loader *ld, struct attachment *at, int mode)
{
	static const enum xdp_attach_mode native_then_generic[] = { XDP_MODE_NATIVE,
								    XDP_MODE_SKB };
	const enum xdp_attach_mode *modes = native_then_generic;
	unsigned int n_modes = mode == NS_ATTACH_AUTO ? 2 : 1;
	int err = -EINVAL;

	if (mode == NS_ATTACH_GENERIC)
		modes = &native_then_generic[1];
	at->xprog = xdp_program__from_fd(bpf_program__fd(ld->xdp));
	err = libxdp_get_error(at->xprog);
	if (err) {
		at->xprog = NULL;
		return err;
	}
	for (unsigned int i = 0; i < n_modes; i++) {
		err = xdp_program__attach(at->xprog, at->ifindex, modes[i], 0);
		if (!err) {
			at->kind = AT_XDP;
			at->xmode = modes[i];
			pr_info("%s: XDP attached (%s mode)", at->name,
				modes[i] == XDP_MODE_NATIVE ? "native" : "generic");
			return 0;
		}
		pr_debug("%s: XDP %s attach failed: %s", at->name,
			 modes[i] == XDP_MODE_NATIVE ? "native" : "generic", strerror(-err));
	}
	pr_err("%s: cannot attach XDP: %s", at->name, strerror(-err));
	xdp_program__close(at->xprog);
	at->xprog = NULL;
	return err;
}

static void detach_xdp(struct attachment *at)
{
	int err = xdp_program__detach(at->xprog, at->ifindex, at->xmode, 0);

	if (err)
		pr_warn("%s: XDP detach failed: %s", at->name, strerror(-err));
	else
		pr_info("%s: XDP detached", at->name);
}

/* ---- TC ------------------------------------------------------------------ */

static void tc_remove_ours(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NS_TC_HANDLE, .priority = NS_TC_PRIO);

	libbpf_print_fn_t prev;

	/* Fails harmlessly (ENOENT/EINVAL) when there is nothing of ours; keep
	 * libbpf from logging the kernel's "no such qdisc" as a warning. */
	prev = libbpf_set_print(NULL);
	bpf_tc_detach(&hook, &opts);
	libbpf_set_print(prev);
}

static int attach_tc(struct ns_loader *ld, struct attachment *at)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = at->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NS_TC_HANDLE, .priority = NS_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t prev;
	int err;

	if (!ld->tc) {
		pr_err("%s: attach mode tc, but the BPF object has no TC program", at->name);
		return -ENOENT;
	}
	/* EEXIST is expected (and fine) when a clsact is there already: keep
	 * libbpf from logging the kernel's complaint about it as a warning. */
	prev = libbpf_set_print(NULL);
	err = bpf_tc_hook_create(&hook);
	libbpf_set_print(prev);
	if (err && err != -EEXIST) {
		pr_err("%s: cannot create the clsact qdisc: %s", at->name, strerror(-err));
		return err;
	}
	/* -EEXIST: somebody else's clsact (or an earlier instance's): use it,
	 * never destroy it. */
	at->hook_created = !err;
	opts.prog_fd = bpf_program__fd(ld->tc);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_err("%s: cannot attach the TC program: %s", at->name, strerror(-err));
		if (at->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	at->kind = AT_TC;
	pr_info("%s: TC ingress attached (handle 0x%x prio 0x%x%s)", at->name, NS_TC_HANDLE,
		NS_TC_PRIO, at->hook_created ? ", clsact created" : "");
	return 0;
}

static void detach_tc(struct attachment *at)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = at->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NS_TC_HANDLE, .priority = NS_TC_PRIO);
	int err = bpf_tc_detach(&hook, &opts);

	if (err)
		pr_warn("%s: TC detach failed: %s", at->name, strerror(-err));
	if (at->hook_created) {
		/* Destroying the whole clsact qdisc needs both points. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err)
			pr_warn("%s: clsact removal failed: %s", at->name, strerror(-err));
	}
	pr_info("%s: TC detached%s", at->name, at->hook_created ? " (clsact removed)" : "");
}

/* ---- attach / detach ----------------------------------------------------- */

static int attach_one(struct ns_loader *ld, const struct ns_iface_conf *ic)
{
	struct attachment *at = &ld->at[ld->n_at];
	struct stale_xdp st;
	int err;

	memset(at, 0, sizeof(*at));
	ns_strlcpy(at->name, ic->name, sizeof(at->name));
	at->ifindex = (int)if_nametoindex(ic->name);
	if (!at->ifindex) {
		pr_err("interface %s does not exist", ic->name);
		return -ENODEV;
	}
	/* A natsync program of an earlier instance is replaced in place when
	 * the mode still fits, else removed first (mode change, tc). */
	err = find_stale_xdp(at->ifindex, at->name, bpf_program__name(ld->xdp), &st);
	if (err)
		return err;
	if (st.fd >= 0 && ic->mode != NS_ATTACH_TC && mode_allows(ic->mode, st.mode)) {
		err = replace_xdp(ld, at, &st);
	} else {
		if (st.fd >= 0)
			err = detach_stale_xdp(at->ifindex, at->name, &st);
		if (!err && ic->mode == NS_ATTACH_TC) {
			err = attach_tc(ld, at);
		} else if (!err) {
			tc_remove_ours(at->ifindex);
			err = attach_xdp(ld, at, ic->mode);
		}
	}
	if (st.fd >= 0)
		close(st.fd);
	if (!err)
		ld->n_at++;
	return err;
}

int ns_loader_attach(struct ns_daemon *d)
{
	int err = 0;

	/* Legacy single-program XDP: see the comment at the top of the file. */
	setenv("LIBXDP_SKIP_DISPATCHER", "1", 1);
	for (uint32_t i = 0; i < d->conf.n_ifaces && !err; i++)
		err = attach_one(d->ld, &d->conf.ifaces[i]);
	if (err)
		ns_loader_detach(d);
	return err;
}

void ns_loader_detach(struct ns_daemon *d)
{
	struct ns_loader *ld = d->ld;

	if (!ld)
		return;
	while (ld->n_at) {
		struct attachment *at = &ld->at[--ld->n_at];

		if (at->kind == AT_XDP)
			detach_xdp(at);
		else if (at->kind == AT_TC)
			detach_tc(at);
		xdp_program__close(at->xprog);
		at->xprog = NULL;
		at->kind = AT_NONE;
	}
}

/* ---- purge --------------------------------------------------------------- */

static int remove_pins(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *dh = opendir(dir);
	int err = 0;

	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path)) {
			err = -errno;
			pr_err("cannot remove %s: %s", path, strerror(-err));
		}
	}
	closedir(dh);
	if (!err && rmdir(dir)) {
		err = -errno;
		pr_err("cannot remove %s: %s", dir, strerror(-err));
	}
	return err;
}

/* Entries in a hash-like map (get_next_key walk), -errno on error. */
static long count_keys(int fd, uint32_t key_size)
{
	char *key = calloc(2, key_size ? key_size : 1), *next;
	long n = 0;

	if (!key)
		return -ENOMEM;
	next = key + key_size;
	while (!bpf_map_get_next_key(fd, n ? key : NULL, next)) {
		memcpy(key, next, key_size);
		n++;
	}
	free(key);
	return n;
}

static bool per_entry_map(uint32_t type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_DEVMAP_HASH;
}

void ns_loader_purge_plan(const struct ns_config *c, FILE *out)
{
	char dir[PATH_MAX], path[PATH_MAX + 256], xdp_name[BPF_OBJ_NAME_LEN] = "natsync_xdp";
	struct natsync_bpf *skel = natsync_bpf__open();
	struct ns_loader ld = {0};
	struct dirent *e;
	DIR *dh;

	/* The name our XDP program has in the kernel, from the object itself. */
	if (skel && !find_programs(&ld, skel->obj))
		ns_strlcpy(xdp_name, bpf_program__name(ld.xdp), sizeof(xdp_name));
	natsync_bpf__destroy(skel);
	if (pin_dir(c->pin_path, dir, sizeof(dir)))
		return;
	dh = opendir(dir);
	if (!dh) {
		fprintf(out, "purge: %s: %s: no pinned state to drop\n", dir, strerror(errno));
	} else {
		fprintf(out, "purge: will unpin (and so drop) every map in %s:\n", dir);
		while ((e = readdir(dh))) {
			struct bpf_map_info info = {0};
			uint32_t len = sizeof(info);
			int fd;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			fd = bpf_obj_get(path);
			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
				fprintf(out, "  %s (not a readable map: %s)\n", e->d_name,
					strerror(errno));
			} else if (per_entry_map(info.type)) {
				long n = count_keys(fd, info.key_size);

				fprintf(out, "  %-16s %ld of %u entries\n", e->d_name, n < 0 ? 0 : n,
					info.max_entries);
			} else {
				fprintf(out, "  %-16s %u slots\n", e->d_name, info.max_entries);
			}
			if (fd >= 0)
				close(fd);
		}
		closedir(dh);
	}
	for (uint32_t i = 0; i < c->n_ifaces; i++) {
		int ifindex = (int)if_nametoindex(c->ifaces[i].name);
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		struct bpf_prog_info pi = {0};
		uint32_t len = sizeof(pi);
		int pfd;

		if (!ifindex) {
			fprintf(out, "purge: %s: not in this network namespace: nothing detached "
				"there\n", c->ifaces[i].name);
			continue;
		}
		if (bpf_xdp_query(ifindex, 0, &q) || !q.prog_id) {
			fprintf(out, "purge: %s: no XDP program (a natsync TC filter, if any, is "
				"removed)\n", c->ifaces[i].name);
			continue;
		}
		pfd = bpf_prog_get_fd_by_id(q.prog_id);
		if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &len))
			fprintf(out, "purge: %s: XDP program %s id %u: %s\n", c->ifaces[i].name,
				pi.name, q.prog_id,
				same_prog_name(pi.name, xdp_name) ? "detached" :
				"left alone if natsync did not attach it");
		if (pfd >= 0)
			close(pfd);
	}
}

int ns_loader_purge(const struct ns_config *c)
{
	struct natsync_bpf *skel = natsync_bpf__open();
	struct ns_loader ld = {0};
	char dir[PATH_MAX];
	int err;

	if (!skel)
		return -errno;
	err = find_programs(&ld, skel->obj);
	for (uint32_t i = 0; i < c->n_ifaces && !err; i++) {
		int ifindex = (int)if_nametoindex(c->ifaces[i].name);
		struct stale_xdp st;

		if (!ifindex)
			continue;
		tc_remove_ours(ifindex);
		/* A foreign program is reported and left alone; go on. */
		if (!find_stale_xdp(ifindex, c->ifaces[i].name, bpf_program__name(ld.xdp), &st) &&
		    st.fd >= 0) {
			detach_stale_xdp(ifindex, c->ifaces[i].name, &st);
			close(st.fd);
		}
	}
	natsync_bpf__destroy(skel);
	if (!err)
		err = pin_dir(c->pin_path, dir, sizeof(dir));
	if (!err)
		err = remove_pins(dir);
	/* The pin path itself goes too once nothing else is in it (another
	 * ABI version's pins, say, keep it). */
	if (!err && !rmdir(c->pin_path))
		pr_info("purge: %s was empty: removed", c->pin_path);
	if (!err)
		pr_info("purged: programs detached, %s removed", dir);
	return err;
}
