// SPDX-License-Identifier: GPL-2.0
/* preflight.c - start-time checks of the host, changing nothing (see preflight.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "pinlock.h"
#include "preflight.h"
#include "util.h"

#define KEY_MAX 256 /* sync.c's psk buffer */
#define KEY_MIN 16

struct pf {
	ns_pf_report report;
	void *arg;
	int fails;
};

static void say(struct pf *p, enum ns_pf_verdict v, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct pf *p, enum ns_pf_verdict v, const char *what, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (v == NS_PF_FAIL)
		p->fails++;
	if (p->report)
		p->report(v, what, detail, p->arg);
}

int ns_path_absolute(const char *cwd, const char *path, char *buf, size_t len)
{
	int n;

	if (!path || !*path)
		return -EINVAL;
	if (path[0] == '/')
		return ns_strlcpy(buf, path, len) ? -ENAMETOOLONG : 0;
	if (!cwd || cwd[0] != '/')
		return -EINVAL;
	while (path[0] == '.' && path[1] == '/') /* "./cfg": drop the no-op prefix */
		for (path += 2; *path == '/'; path++)
			;
	if (!*path || !strcmp(path, "."))
		return -EINVAL; /* a directory, not a file */
	n = snprintf(buf, len, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ns_pf_key_len(const unsigned char *buf, size_t n, bool more)
{
	if (more || n > KEY_MAX)
		return -EINVAL;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	return n < KEY_MIN ? -EINVAL : (int)n;
}

/* ---- the checks ---------------------------------------------------------- */

static void check_ifaces(struct pf *p, const struct ns_config *c)
{
	char present[512] = "", missing[512] = "";

	for (uint32_t i = 0; i < c->n_ifaces; i++) {
		const struct ns_iface_conf *ic = &c->ifaces[i];
		bool here = if_nametoindex(ic->name);
		char *list = here ? present : missing;
		size_t used = strlen(list);

		if (here)
			snprintf(list + used, sizeof(present) - used, "%s%s", used ? ", " : "",
				 ic->name);
		else
			snprintf(list + used, sizeof(missing) - used, "%s%s (%s side of %s)",
				 used ? ", " : "", ic->name,
				 ic->side == NS_SIDE_INSIDE ? "inside" : "outside",
				 ic->svc >= 0 && (uint32_t)ic->svc < c->n_svcs
				     ? c->svc_conf[ic->svc].name
				     : "?");
	}
	if (missing[0])
		say(p, NS_PF_FAIL, "interfaces",
		    "%s does not exist in this network namespace: start refuses (check where "
		    "natsyncd runs: nsenter --net=/var/run/netns/NAME)",
		    missing);
	else if (present[0])
		say(p, NS_PF_OK, "interfaces", "%s present in this network namespace", present);
	else
		say(p, NS_PF_OK, "interfaces", "none configured");
}

static void check_key(struct pf *p, const struct ns_config *c)
{
	unsigned char buf[KEY_MAX];
	const char *path = c->red.key_file;
	size_t n;
	bool more;
	FILE *f;
	int len;

	if (!c->red.enabled) {
		say(p, NS_PF_OK, "key-file", "no redundancy-options: no sync key needed");
		return;
	}
	if (!path[0]) {
		say(p, NS_PF_WARN, "key-file",
		    "none: the sync channel is not authenticated (redundancy-options.key-file)");
		return;
	}
	f = fopen(path, "re");
	if (!f) {
		say(p, NS_PF_FAIL, "key-file", "%s: %s (uid %d): start refuses", path,
		    strerror(errno), (int)geteuid());
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	more = fgetc(f) != EOF;
	if (ferror(f)) {
		say(p, NS_PF_FAIL, "key-file", "%s: read error: start refuses", path);
		fclose(f);
		return;
	}
	fclose(f);
	len = ns_pf_key_len(buf, n, more);
	memset(buf, 0, sizeof(buf));
	if (len < 0)
		say(p, NS_PF_FAIL, "key-file",
		    "%s: must hold %d to %d bytes (a trailing newline is not counted): "
		    "start refuses",
		    path, KEY_MIN, KEY_MAX);
	else
		say(p, NS_PF_OK, "key-file", "%s readable, a %d-byte key", path, len);
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int count_entries(const char *dir)
{
	struct dirent *e;
	DIR *dh = opendir(dir);
	int n = 0;

	if (!dh)
		return -errno;
	while ((e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dh);
	return n;
}

static void check_pins(struct pf *p, const struct ns_config *c)
{
	char dir[PATH_MAX], anc[PATH_MAX];
	struct stat st;
	int n;

	if (snprintf(dir, sizeof(dir), "%s/%s", c->pin_path, NS_PIN_SUBDIR) >= (int)sizeof(dir)) {
		say(p, NS_PF_FAIL, "pin-path", "%s: name too long", c->pin_path);
		return;
	}
	if (!stat(c->pin_path, &st) && !S_ISDIR(st.st_mode)) {
		say(p, NS_PF_FAIL, "pin-path", "%s exists and is not a directory", c->pin_path);
		return;
	}
	if (!stat(dir, &st)) {
		if (!S_ISDIR(st.st_mode)) {
			say(p, NS_PF_FAIL, "pin-path", "%s exists and is not a directory", dir);
			return;
		}
		if (!on_bpffs(dir)) {
			say(p, NS_PF_FAIL, "pin-path",
			    "%s is not on a bpf filesystem (pins cannot live there)", dir);
			return;
		}
		n = count_entries(dir);
		if (n < 0)
			say(p, NS_PF_FAIL, "pin-path", "%s: %s", dir, strerror(-n));
		else
			say(p, NS_PF_OK, "pin-path",
			    "%s on a bpf filesystem, %d pins (a start adopts the compatible ones)",
			    dir, n);
		return;
	}
	if (errno != ENOENT) {
		say(p, NS_PF_FAIL, "pin-path", "%s: %s", dir, strerror(errno));
		return;
	}
	ns_existing_ancestor(c->pin_path, anc, sizeof(anc));
	if (access(anc, W_OK | X_OK)) {
		say(p, NS_PF_FAIL, "pin-path", "%s does not exist and %s is not writable: %s", dir,
		    anc, strerror(errno));
		return;
	}
	if (on_bpffs(anc))
		say(p, NS_PF_OK, "pin-path", "%s on a bpf filesystem: created at start (no state)",
		    dir);
	else if (!strcmp(anc, "/sys/fs/bpf"))
		say(p, NS_PF_OK, "pin-path",
		    "no bpf filesystem on /sys/fs/bpf: a start mounts one, then creates %s", dir);
	else
		say(p, NS_PF_WARN, "pin-path",
		    "%s is not on a bpf filesystem: a start mounts one on %s (other processes see "
		    "the pins only through that mount)",
		    anc, c->pin_path);
}

static void check_owner(struct pf *p, const struct ns_config *c)
{
	char dir[PATH_MAX], lock[PATH_MAX], comm[32];
	pid_t a = 0, b = 0;

	if (snprintf(dir, sizeof(dir), "%s/%s", c->pin_path, NS_PIN_SUBDIR) >= (int)sizeof(dir)) {
		say(p, NS_PF_FAIL, "instance", "%s: name too long", c->pin_path);
		return;
	}
	if (!ns_sock_lock_path(c->control_socket, lock, sizeof(lock)))
		b = ns_lock_probe(lock);
	a = ns_lock_probe(dir);
	if (a > 0)
		say(p, NS_PF_FAIL, "instance",
		    "pid %d (%s) owns %s: a start would be refused (reload the running one: "
		    "natsyncctl reload or SIGHUP)",
		    (int)a, ns_pid_comm(a, comm, sizeof(comm)), dir);
	if (b > 0 && b != a)
		say(p, NS_PF_FAIL, "instance", "pid %d (%s) owns %s: a start would be refused",
		    (int)b, ns_pid_comm(b, comm, sizeof(comm)), lock);
	if (a <= 0 && b <= 0)
		say(p, NS_PF_OK, "instance",
		    "no process holds %s or %s (as far as /proc/locks shows in this pid namespace)",
		    dir, lock);
}

static void check_socket(struct pf *p, const struct ns_config *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = c->control_socket;
	char parent[PATH_MAX], *slash;
	struct stat st;
	int fd, r;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		say(p, NS_PF_FAIL, "control-socket", "'%s': empty or too long", path);
		return;
	}
	ns_strlcpy(parent, path, sizeof(parent));
	slash = strrchr(parent, '/');
	if (slash)
		slash == parent ? (void)(parent[1] = '\0') : (void)(*slash = '\0');
	else
		strcpy(parent, ".");
	if (access(parent, W_OK | X_OK)) {
		say(p, NS_PF_FAIL, "control-socket", "directory %s: %s", parent, strerror(errno));
		return;
	}
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			say(p, NS_PF_OK, "control-socket", "%s: free, %s writable", path, parent);
		else
			say(p, NS_PF_FAIL, "control-socket", "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		say(p, NS_PF_FAIL, "control-socket", "%s exists and is not a socket", path);
		return;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		say(p, NS_PF_FAIL, "control-socket", "socket: %s", strerror(errno));
		return;
	}
	r = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
	if (r)
		r = errno;
	close(fd);
	if (!r)
		say(p, NS_PF_FAIL, "control-socket",
		    "%s: a natsyncd answers there: a start would be refused", path);
	else if (r == ECONNREFUSED)
		say(p, NS_PF_OK, "control-socket", "%s: stale (nobody answers): removed at start",
		    path);
	else
		say(p, NS_PF_FAIL, "control-socket", "%s: %s", path, strerror(r));
}

/* CapEff bits from /proc/self/status, 0 when unreadable. */
static unsigned long long cap_eff(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

static void check_priv(struct pf *p)
{
	static const struct {
		int bit;
		const char *name;
	} need[] = {{12, "CAP_NET_ADMIN"}, {21, "CAP_SYS_ADMIN"}, {39, "CAP_BPF"}};
	unsigned long long caps = cap_eff();
	char missing[128] = "";

	for (size_t i = 0; i < NS_ARRAY_SIZE(need); i++)
		if (!(caps & (1ull << need[i].bit))) {
			size_t used = strlen(missing);

			snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
				 need[i].name);
		}
	if (missing[0])
		say(p, NS_PF_FAIL, "privileges", "uid %d without %s: loading and attaching fail",
		    (int)geteuid(), missing);
	else
		say(p, NS_PF_OK, "privileges", "uid %d with CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN",
		    (int)geteuid());
}

static void check_log(struct pf *p, const struct ns_config *c)
{
	char parent[PATH_MAX], *slash;

	if (!c->log_file[0]) {
		say(p, NS_PF_OK, "log",
		    "no log.file: stderr in the foreground, syslog when daemonized%s",
		    c->log_syslog ? " (and syslog as configured)" : "");
		return;
	}
	if (!access(c->log_file, W_OK)) {
		say(p, NS_PF_OK, "log", "%s writable", c->log_file);
		return;
	}
	if (errno == ENOENT) {
		ns_strlcpy(parent, c->log_file, sizeof(parent));
		slash = strrchr(parent, '/');
		if (slash)
			slash == parent ? (void)(parent[1] = '\0') : (void)(*slash = '\0');
		if (!access(parent, W_OK | X_OK)) {
			say(p, NS_PF_OK, "log", "%s: created at start", c->log_file);
			return;
		}
	}
	say(p, NS_PF_WARN, "log", "%s: %s: a daemonized natsyncd logs to syslog instead",
	    c->log_file, strerror(errno));
}

int ns_preflight(const struct ns_config *c, unsigned int mask, ns_pf_report report, void *arg)
{
	struct pf p = {.report = report, .arg = arg};

	if (mask & NS_PF_PRIV)
		check_priv(&p);
	if (mask & NS_PF_IFACES)
		check_ifaces(&p, c);
	if (mask & NS_PF_KEY)
		check_key(&p, c);
	if (mask & NS_PF_PINS)
		check_pins(&p, c);
	if (mask & NS_PF_OWNER)
		check_owner(&p, c);
	if (mask & NS_PF_SOCKET)
		check_socket(&p, c);
	if (mask & NS_PF_LOG)
		check_log(&p, c);
	return p.fails;
}
