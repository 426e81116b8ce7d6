// SPDX-License-Identifier: GPL-2.0
/*
 * sync_table.c - the sync module's bookkeeping: the table of sessions the
 * peer has (primary) or we installed (backup), keyed by in_key, freed off
 * the loop when dropped whole, and the due wheel of sessions about to
 * become old enough to replicate.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "active.h"
#include "daemon.h"
#include "log.h"
#include "redundancy.h"
#include "sync.h"
#include "sync_wire.h"
#include "util.h"
#include "sync_int.h"

/* ---- table -------------------------------------------------------------- */

static size_t tab_hash(const struct sync_table *t, const struct ns_tuple *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	uint32_t w[4];

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 4; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	return h & (t->nb - 1);
}

static bool key_eq(const struct ns_tuple *a, const struct ns_tuple *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return x[0] == y[0] && x[1] == y[1];
}

struct sync_ent *sy_tab_find(struct sync_table *t, const struct ns_tuple *k)
{
	if (!t->nb)
		return NULL;
	for (struct sync_ent *e = t->b[tab_hash(t, k)]; e; e = e->next)
		if (key_eq(&e->key, k))
			return e;
	return NULL;
}

/*
 * Start loading the entries of n keys about to be looked up: the table is
 * far larger than the caches, and the walk looks up every session of the
 * map once per pass. Two rounds (bucket slots, then the first entries)
 * overlap the cache misses instead of taking them one after the other.
 */
void sy_tab_prefetch(const struct sync_table *t, const struct ns_tuple *k, size_t n,
			 uint32_t *h)
{
	if (!t->nb)
		return;
	for (size_t i = 0; i < n; i++) {
		h[i] = (uint32_t)tab_hash(t, &k[i]);
		__builtin_prefetch(&t->b[h[i]]);
	}
	for (size_t i = 0; i < n; i++)
		if (t->b[h[i]])
			__builtin_prefetch(t->b[h[i]]);
}

/*
 * Double the bucket array; on allocation failure keep the old one. The
 * first size comes from max-sessions (sy_tab_size), so this rehash - one
 * loop iteration, ~50 ms at a million entries - only runs when the maps
 * hold more than the configuration allows for.
 */
static void tab_grow(struct sync_table *t)
{
	size_t nb = t->nb ? t->nb * 2 : (t->nb_min ? t->nb_min : 4096);
	struct sync_ent **b = calloc(nb, sizeof(*b));
	struct sync_table nt = { .b = b, .nb = nb, .n = t->n, .nb_min = t->nb_min };

	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct sync_ent *e = t->b[i], *next;

		for (; e; e = next) {
			size_t h = tab_hash(&nt, &e->key);

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(t->b);
	*t = nt;
}

struct sync_ent *sy_tab_add(struct sync_table *t, const struct ns_tuple *k)
{
	struct sync_ent *e;
	size_t h;

	if (!t->nb || t->n >= t->nb * SYNC_TAB_LOAD)
		tab_grow(t);
	if (!t->nb)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = *k;
	h = tab_hash(t, k);
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
	return e;
}

void sy_tab_del(struct sync_table *t, const struct ns_tuple *k)
{
	struct sync_ent **pp;

	if (!t->nb)
		return;
	for (pp = &t->b[tab_hash(t, k)]; *pp; pp = &(*pp)->next) {
		if (key_eq(&(*pp)->key, k)) {
			struct sync_ent *e = *pp;

			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
	}
}

void sy_tab_clear(struct sync_table *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct sync_ent *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0; /* nb_min stays */
}

/* Tables being freed by sy_tab_discard()'s threads (sync_fini waits for 0). */
static int tab_discards;

static void *tab_free_thread(void *arg)
{
	struct sync_table *t = arg;

	ns_thread_nice(NS_BG_NICE); /* background: below the event loop */
	sy_tab_clear(t);
	free(t);
	__atomic_sub_fetch(&tab_discards, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* At exit: let the freeing threads finish (a table of 10M: a few seconds). */
void sy_tab_discards_wait(void)
{
	for (int i = 0; i < 30000 && __atomic_load_n(&tab_discards, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
}

/*
 * Empty t at once and free what it held on a thread of its own: freeing a
 * table costs a walk of its whole bucket array (sized by max-sessions) and
 * one free() per entry, up to a second at 1M sessions, which a role change
 * must not spend on the event loop. Freed inline only when no thread can
 * be started (logged).
 */
void sy_tab_discard(struct sync_table *t)
{
	struct sync_table *old;
	pthread_attr_t attr;
	pthread_t th;
	int err = ENOMEM;

	if (!t->b)
		return;
	old = malloc(sizeof(*old));
	if (old) {
		*old = *t;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		__atomic_add_fetch(&tab_discards, 1, __ATOMIC_ACQ_REL);
		err = pthread_create(&th, &attr, tab_free_thread, old);
		if (err)
			__atomic_sub_fetch(&tab_discards, 1, __ATOMIC_RELEASE);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		pr_warn("sync: cannot free the session table off the loop (%s): freeing %zu "
			"entries inline", strerror(err), t->n);
		free(old);
		sy_tab_clear(t);
		return;
	}
	t->b = NULL;
	t->nb = t->n = 0; /* nb_min stays */
}

/* Size the first bucket array for max sessions (bounded: 32 MiB). */
void sy_tab_size(struct sync_table *t, uint32_t max_sessions)
{
	size_t want = max_sessions / SYNC_TAB_LOAD;

	t->nb_min = 4096;
	while (t->nb_min < want && t->nb_min < SYNC_TAB_MAX_FIRST)
		t->nb_min *= 2;
}

/* ---- due wheel ---------------------------------------------------------- */

/* Queue session v, due at due_ns (> now); false when the wheel is full,
 * out of memory or due_ns too far ahead (it is then sent when a pass
 * reaches it, as without the wheel). */
bool sy_wheel_push(struct sync_wheel *w, const struct ns_session *v, uint8_t bind,
		       uint64_t due_ns, uint64_t now)
{
	uint64_t t = due_ns / SYNC_DUE_SLOT_NS;
	struct sync_slot *sl;

	if (!w->n)
		w->pos = now / SYNC_DUE_SLOT_NS;
	if (t < w->pos || t - w->pos >= SYNC_DUE_SLOTS || w->n >= w->max)
		return false;
	sl = &w->slot[t % SYNC_DUE_SLOTS];
	if (sl->n >= sl->cap) {
		uint32_t cap = sl->cap ? sl->cap * 2 : 256;
		struct sync_due *nv = realloc(sl->v, cap * sizeof(*nv));

		if (!nv)
			return false;
		sl->v = nv;
		sl->cap = cap;
	}
	sl->v[sl->n].v = *v;
	sl->v[sl->n++].bind = bind;
	w->n++;
	return true;
}

void sy_slot_free(struct sync_slot *sl)
{
	free(sl->v);
	memset(sl, 0, sizeof(*sl));
}

void sy_wheel_clear(struct sync_wheel *w)
{
	for (uint32_t i = 0; i < SYNC_DUE_SLOTS; i++)
		sy_slot_free(&w->slot[i]);
	w->n = 0;
}
