// SPDX-License-Identifier: GPL-2.0
/*
 * test_pinlock.c - the pure parts of "one natsyncd per pin path" and of the
 * start-time checks: the /proc/locks parser that names a lock's holder,
 * locks taken on real files and directories (a second taker is refused and
 * told our pid, a removed lock file is never someone else's), the config
 * path made absolute for a daemon that runs in /, the key-file size rule,
 * and ns_preflight() on interfaces and key files. Runs from the repository
 * root (it reads configs/).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/pinlock.h"
#include "daemon/preflight.h"

/* ---- /proc/locks --------------------------------------------------------- */

static const char proc_locks[] = "1: POSIX  ADVISORY  WRITE 700 00:27:27590 0 EOF\n"
				 "2: FLOCK  ADVISORY  WRITE 9477 00:27:27590 0 EOF\n"
				 "2: -> FLOCK  ADVISORY  WRITE 9478 00:27:27590 0 EOF\n"
				 "3: OFDLCK ADVISORY  READ -1 fd:01:1234 0 EOF\n"
				 "4: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF\n"
				 "5: LEASE  ACTIVE    READ 12 00:1a:99 0 EOF\n";

Test(pinlock, proc_locks_names_the_flock_holder)
{
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0, 0x27, 27590), 9477);
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0xfd, 1, 1234), 4242);
}

Test(pinlock, proc_locks_ignores_waiters_other_lock_types_and_other_inodes)
{
	/* only a waiter on this inode: nobody holds it */
	cr_assert_eq(
	    ns_proc_locks_holder("7: -> FLOCK  ADVISORY  WRITE 55 00:27:1 0 EOF\n", 0, 0x27, 1), 0);
	/* a POSIX lock or a lease is not ours */
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0, 0x1a, 99), 0);
	cr_assert_eq(
	    ns_proc_locks_holder("1: POSIX  ADVISORY  WRITE 700 00:27:5 0 EOF\n", 0, 0x27, 5), 0);
	/* same inode number on another device, another inode on this one */
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0, 0x28, 27590), 0);
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0, 0x27, 27591), 0);
	cr_assert_eq(ns_proc_locks_holder(proc_locks, 0, 0x27, 2759), 0);
}

Test(pinlock, proc_locks_survives_garbage)
{
	cr_assert_eq(ns_proc_locks_holder("", 0, 0x27, 1), 0);
	cr_assert_eq(ns_proc_locks_holder("\n\n  \n", 0, 0x27, 1), 0);
	cr_assert_eq(ns_proc_locks_holder("1: FLOCK\n2: FLOCK ADVISORY WRITE\n", 0, 0x27, 1), 0);
	cr_assert_eq(ns_proc_locks_holder("1: FLOCK ADVISORY WRITE x 00:27:1 0 EOF", 0, 0x27, 1),
		     0);
	cr_assert_eq(ns_proc_locks_holder("1: FLOCK ADVISORY WRITE 0 00:27:1 0 EOF", 0, 0x27, 1),
		     0);
	cr_assert_eq(ns_proc_locks_holder("1: FLOCK ADVISORY WRITE 9 00:27:1x 0 EOF", 0, 0x27, 1),
		     0);
	/* no final newline */
	cr_assert_eq(ns_proc_locks_holder("1: FLOCK  ADVISORY  WRITE 31 00:27:1 0 EOF", 0, 0x27, 1),
		     31);
}

/* ---- locks on real files --------------------------------------------------- */

static char dir[] = "/tmp/nsu-pinlock-XXXXXX";

static void mkscratch(void)
{
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void rmscratch(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dir);
}

TestSuite(pinlock_fs, .init = mkscratch, .fini = rmscratch);

Test(pinlock_fs, a_second_taker_is_refused_and_told_our_pid)
{
	struct ns_lock a, b;
	char path[128];
	pid_t who = -1;

	snprintf(path, sizeof(path), "%s/ctl.sock.lock", dir);
	cr_assert_eq(ns_lock_take(&a, path, false, true, &who), 0);
	cr_assert(a.created);
	cr_assert_eq(access(path, F_OK), 0, "the lock file exists while held");
	/* another open file description: flock() conflicts even in one process */
	cr_assert_eq(ns_lock_take(&b, path, false, true, &who), -EBUSY);
	cr_assert_eq(b.fd, -1);
	cr_assert_eq(who, getpid(), "holder %d, expected %d", (int)who, (int)getpid());
	cr_assert_eq(ns_lock_probe(path), getpid());
	/* rebinding (what the daemonized child does) keeps it ours */
	cr_assert_eq(ns_lock_rebind(&a, &who), 0);
	cr_assert_eq(ns_lock_take(&b, path, false, true, &who), -EBUSY);
	ns_lock_release(&a, true);
	cr_assert_neq(access(path, F_OK), 0, "released with remove: the file is gone");
	cr_assert_eq(ns_lock_probe(path), -ENOENT);
	cr_assert_eq(ns_lock_take(&b, path, false, true, &who), 0, "free again");
	ns_lock_release(&b, true);
}

Test(pinlock_fs, the_pid_is_written_for_people)
{
	struct ns_lock a;
	char path[128], buf[32] = "";
	pid_t who;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pid.lock", dir);
	cr_assert_eq(ns_lock_take(&a, path, false, true, &who), 0);
	cr_assert_eq(ns_lock_note_pid(&a), 0);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_eq(atoi(buf), getpid());
	ns_lock_release(&a, true);
}

Test(pinlock_fs, release_never_removes_a_successors_lock_file)
{
	struct ns_lock a, b;
	char path[128];
	pid_t who;

	snprintf(path, sizeof(path), "%s/x.lock", dir);
	cr_assert_eq(ns_lock_take(&a, path, false, true, &who), 0);
	/* somebody removed our file and a successor locked a new one */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(ns_lock_take(&b, path, false, true, &who), 0);
	ns_lock_release(&a, true);
	cr_assert_eq(access(path, F_OK), 0, "the successor's lock file must stay");
	cr_assert_eq(ns_lock_probe(path), getpid());
	ns_lock_release(&b, true);
	cr_assert_neq(access(path, F_OK), 0);
}

Test(pinlock_fs, directories_are_locked_never_created_and_removed_only_if_made_and_empty)
{
	struct ns_lock a, b;
	char sub[128], pin[200];
	pid_t who;
	int fd;

	snprintf(sub, sizeof(sub), "%s/" NS_PIN_SUBDIR, dir);
	cr_assert_eq(ns_lock_take(&a, sub, true, true, &who), -ENOENT, "never mkdir'd here");
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(ns_lock_take(&a, sub, true, false, &who), 0);
	cr_assert_eq(ns_lock_take(&b, sub, true, false, &who), -EBUSY);
	cr_assert_eq(who, getpid());
	/* not made by the lock: kept on release */
	ns_lock_release(&a, true);
	cr_assert_eq(access(sub, F_OK), 0);
	/* made by the caller (created set), but holding a pin: kept */
	cr_assert_eq(ns_lock_take(&a, sub, true, false, &who), 0);
	a.created = true;
	snprintf(pin, sizeof(pin), "%s/ns_sessions", sub);
	fd = open(pin, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	ns_lock_release(&a, true);
	cr_assert_eq(access(sub, F_OK), 0, "a directory with pins stays");
	/* made and empty: removed */
	cr_assert_eq(unlink(pin), 0);
	cr_assert_eq(ns_lock_take(&a, sub, true, false, &who), 0);
	a.created = true;
	ns_lock_release(&a, true);
	cr_assert_neq(access(sub, F_OK), 0, "an empty directory the start made goes");
}

Test(pinlock_fs, a_lock_file_must_be_a_regular_file)
{
	struct ns_lock a;
	char fifo[128];
	pid_t who;

	/* a directory (or a fifo, a device) where the lock file should be */
	cr_assert_eq(ns_lock_take(&a, dir, false, true, &who), -EISDIR);
	cr_assert_eq(a.fd, -1);
	ns_lock_release(&a, true); /* harmless on a lock not held */
	cr_assert_eq(access(dir, F_OK), 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(ns_lock_take(&a, fifo, false, true, &who), -EINVAL);
	cr_assert_eq(a.fd, -1);
	ns_lock_release(&a, true);
	cr_assert_eq(access(fifo, F_OK), 0, "never removed: not ours");
}

Test(pinlock, sock_lock_path)
{
	char buf[32];

	cr_assert_eq(ns_sock_lock_path("/run/natsync.sock", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/run/natsync.sock.lock");
	cr_assert_eq(ns_sock_lock_path("/run/a-rather-long-name.sock", buf, sizeof(buf)),
		     -ENAMETOOLONG);
}

/* ---- the config path of a daemon that runs in / ------------------------------ */

Test(preflight, config_path_made_absolute)
{
	char buf[64];

	cr_assert_eq(ns_path_absolute("/etc/natsync", "box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/etc/natsync/box.cfg");
	cr_assert_eq(ns_path_absolute("/etc", "./natsync/box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/etc/natsync/box.cfg");
	cr_assert_eq(ns_path_absolute("/etc", ".//box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/etc/box.cfg");
	cr_assert_eq(ns_path_absolute("/", "box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/box.cfg");
	cr_assert_eq(ns_path_absolute("/home/op", "../cfg/box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/home/op/../cfg/box.cfg", "kept as written: no symlink resolution");
	/* absolute: as it is, whatever the cwd */
	cr_assert_eq(ns_path_absolute(NULL, "/etc/box.cfg", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/etc/box.cfg");
}

Test(preflight, config_path_errors)
{
	char buf[16];

	cr_assert_eq(ns_path_absolute("/etc", "", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(ns_path_absolute("/etc", NULL, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(ns_path_absolute("etc", "box.cfg", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(ns_path_absolute(NULL, "box.cfg", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(ns_path_absolute("/etc", "./", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(ns_path_absolute("/etc/natsync", "box-primary.cfg", buf, sizeof(buf)),
		     -ENAMETOOLONG);
	cr_assert_eq(ns_path_absolute("/", "/a/very/long/absolute/path", buf, sizeof(buf)),
		     -ENAMETOOLONG);
}

/* ---- key file ------------------------------------------------------------- */

Test(preflight, key_length_as_sync_reads_it)
{
	unsigned char k[300];

	memset(k, 'k', sizeof(k));
	cr_assert_eq(ns_pf_key_len(k, 15, false), -EINVAL);
	cr_assert_eq(ns_pf_key_len(k, 16, false), 16);
	cr_assert_eq(ns_pf_key_len(k, 256, false), 256);
	cr_assert_eq(ns_pf_key_len(k, 256, true), -EINVAL, "longer than the 256-byte buffer");
	k[16] = '\n';
	cr_assert_eq(ns_pf_key_len(k, 17, false), 16, "echo's newline is not key");
	k[15] = '\r';
	cr_assert_eq(ns_pf_key_len(k, 17, false), -EINVAL, "15 bytes once CR LF are dropped");
	memset(k, '\n', 20);
	cr_assert_eq(ns_pf_key_len(k, 20, false), -EINVAL);
	cr_assert_eq(ns_pf_key_len(k, 0, false), -EINVAL);
}

/* ---- ns_preflight ------------------------------------------------------------ */

static struct ns_config conf;

struct seen {
	int n[4];
	char last[4][512];
};

static void record(enum ns_pf_verdict v, const char *what, const char *detail, void *arg)
{
	struct seen *s = arg;

	s->n[v]++;
	snprintf(s->last[v], sizeof(s->last[v]), "%s: %s", what, detail);
}

static void load_single_box(void)
{
	char err[NS_CONF_ERR_MAX];

	cr_assert_eq(ns_config_load("configs/single-box.cfg", &conf, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_geq(conf.n_ifaces, 2);
}

Test(preflight, interfaces_missing_fail_present_pass)
{
	struct seen s = {0};

	load_single_box();
	strcpy(conf.ifaces[0].name, "lo");
	strcpy(conf.ifaces[1].name, "nsu-nosuch0");
	cr_assert_eq(ns_preflight(&conf, NS_PF_IFACES, record, &s), 1);
	cr_assert_eq(s.n[NS_PF_FAIL], 1);
	cr_assert(strstr(s.last[NS_PF_FAIL], "nsu-nosuch0"), "%s", s.last[NS_PF_FAIL]);
	cr_assert_null(strstr(s.last[NS_PF_FAIL], "lo,"), "%s", s.last[NS_PF_FAIL]);

	memset(&s, 0, sizeof(s));
	for (uint32_t i = 0; i < conf.n_ifaces; i++)
		strcpy(conf.ifaces[i].name, "lo");
	cr_assert_eq(ns_preflight(&conf, NS_PF_IFACES, record, &s), 0);
	cr_assert_eq(s.n[NS_PF_OK], 1);
	cr_assert_eq(ns_preflight(&conf, NS_PF_IFACES, NULL, NULL), 0, "report may be NULL");
}

static int key_check(const char *path, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	conf.red.enabled = true;
	strcpy(conf.red.key_file, path);
	return ns_preflight(&conf, NS_PF_KEY, record, s);
}

Test(preflight, key_file_missing_unreadable_short_or_good, .init = mkscratch, .fini = rmscratch)
{
	char path[128];
	struct seen s;
	FILE *f;

	load_single_box();
	/* no redundancy, no key: nothing to check, nothing fails */
	memset(&s, 0, sizeof(s));
	cr_assert_eq(ns_preflight(&conf, NS_PF_KEY, record, &s), 0);
	cr_assert_eq(s.n[NS_PF_OK], 1);
	/* redundancy without a key: a warning, not a refusal */
	cr_assert_eq(key_check("", &s), 0);
	cr_assert_eq(s.n[NS_PF_WARN], 1);

	snprintf(path, sizeof(path), "%s/missing.key", dir);
	cr_assert_eq(key_check(path, &s), 1);
	cr_assert(strstr(s.last[NS_PF_FAIL], "No such file"), "%s", s.last[NS_PF_FAIL]);

	cr_assert_eq(key_check(dir, &s), 1, "a directory is no key file");

	snprintf(path, sizeof(path), "%s/short.key", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("0123456789abcde\n", f); /* 15 bytes of key */
	fclose(f);
	cr_assert_eq(key_check(path, &s), 1);
	cr_assert(strstr(s.last[NS_PF_FAIL], "16 to 256"), "%s", s.last[NS_PF_FAIL]);

	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("0123456789abcdef\n", f);
	fclose(f);
	cr_assert_eq(key_check(path, &s), 0);
	cr_assert(strstr(s.last[NS_PF_OK], "16-byte key"), "%s", s.last[NS_PF_OK]);
}

Test(preflight, control_socket_directory_must_exist)
{
	struct seen s = {0};

	load_single_box();
	strcpy(conf.control_socket, "/nonexistent-nsu-dir/ctl.sock");
	cr_assert_eq(ns_preflight(&conf, NS_PF_SOCKET, record, &s), 1);
	cr_assert(strstr(s.last[NS_PF_FAIL], "/nonexistent-nsu-dir"), "%s", s.last[NS_PF_FAIL]);
}
