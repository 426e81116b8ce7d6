/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlock.h - one natsyncd per pin path and per control socket.
 *
 * natsyncd takes two exclusive flock()s right after parsing its config,
 * before it writes a map, attaches, detaches, unpins or removes anything:
 * on the pin directory <pin-path>/v4 itself (bpffs holds no regular files,
 * but a directory can be flock()ed) and on <control-socket>.lock. A second
 * instance on the same config, pin path or control socket fails to take
 * one and exits NS_EXIT_LOCKED, naming the holder's pid from /proc/locks.
 * The locks go with the process (kill -9 included): there is no stale lock
 * to clean up. `natsyncd --purge` takes the same locks. See doc/daemon.md.
 */
#ifndef NATSYNC_PINLOCK_H
#define NATSYNC_PINLOCK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* Exit status of natsyncd when another instance owns its pins or socket. */
#define NS_EXIT_LOCKED 3

struct ns_lock {
	int fd;	   /* -1: not held */
	dev_t dev; /* identity of what we locked */
	ino_t ino;
	bool dir;     /* a directory (pin dir) or a regular lock file */
	bool created; /* we created it: removed again on release */
	char path[PATH_MAX];
};

/* The two locks of one natsyncd instance. */
struct ns_instance_lock {
	struct ns_lock sock; /* <control-socket>.lock */
	struct ns_lock pins; /* <pin-path>/v4 */
};

/* Mark l as not held (fd -1). */
void ns_lock_init(struct ns_lock *l);

/*
 * ns_lock_take - open path (a directory when dir, else a regular file,
 * created mode 0600 when missing and create is set; a missing directory is
 * never created here) and flock() it exclusively without waiting. After
 * the lock, the path must still name the inode we locked (a predecessor
 * that removed it between our open and our flock would leave us holding a
 * lock on nothing): else we retry. Returns 0; -EBUSY when another open
 * file holds it (*holder: its pid from /proc/locks, 0 when not visible);
 * -ENOENT when missing and not created; another -errno.
 */
int ns_lock_take(struct ns_lock *l, const char *path, bool dir, bool create, pid_t *holder);

/*
 * ns_lock_rebind - after fork(): drop and take again the lock this process
 * inherited, so /proc/locks names this process (a flock is recorded with
 * the pid that took it, and the parent is about to exit). Another process
 * may take it in between: retried for up to about 100 ms, then -EBUSY
 * (*holder as for ns_lock_take). Returns 0 or -errno.
 */
int ns_lock_rebind(struct ns_lock *l, pid_t *holder);

/* Write this process's pid into a lock file (for people: `cat` it); the
 * authority is /proc/locks. Returns 0 or -errno. */
int ns_lock_note_pid(struct ns_lock *l);

/*
 * ns_lock_release - remove what we created (a lock file; the pin
 * directory only if still empty), still holding the lock, then close.
 * remove false: keep the path. Safe on a lock never taken.
 */
void ns_lock_release(struct ns_lock *l, bool remove);

/* Holder of an flock on path, from /proc/locks: pid, 0 none visible,
 * -errno when path cannot be stat()ed. Takes no lock. */
pid_t ns_lock_probe(const char *path);

/*
 * ns_proc_locks_holder - pure parser of /proc/locks text: the pid of the
 * first granted FLOCK (not a waiter, "->") on device maj:min, inode ino;
 * 0 when there is none. Exposed for the unit tests.
 */
pid_t ns_proc_locks_holder(const char *text, unsigned int maj, unsigned int min, unsigned long ino);

/* "<control-socket>.lock" into buf. Returns 0 or -ENAMETOOLONG. */
int ns_sock_lock_path(const char *control_socket, char *buf, size_t len);

#endif
