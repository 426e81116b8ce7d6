/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reload.h - applying a changed config file to a running natsyncd (SIGHUP,
 * "natsyncctl reload"), without ever waiting on the event loop.
 *
 * The new file is read and checked at once (a bad file is refused whole,
 * the running config stays). It goes into the config bank not in force and
 * is flipped in with one store (loader.c). That bank may only be rewritten
 * once no packet can still read it from before the previous flip
 * (NS_CFG_QUIESCE_NS): a reload that comes sooner is kept and applied by a
 * one-shot timer when that time has passed, instead of sleeping in the
 * loop. A later reload replaces a pending one (the newest file wins).
 */
#ifndef NATSYNC_RELOAD_H
#define NATSYNC_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

struct ns_daemon;

/* Register the reload timer and the "reload" control command on d's loop
 * and control socket; debug: -d given (keeps the log level at debug).
 * Returns 0 or -errno. */
struct ns_control;
int ns_reload_init(struct ns_daemon *d, struct ns_control *ctl, bool debug);
void ns_reload_fini(struct ns_daemon *d);

/*
 * ns_reload - read d->conf.path again and put it in force. Returns 0 when it
 * was applied, or accepted and deferred (*deferred_ms > 0: the bank of the
 * previous reload may still be read for that long; the timer applies it),
 * -1 when it was refused (the reason logged, reload_failures counted).
 */
int ns_reload(struct ns_daemon *d, uint64_t *deferred_ms);

#endif /* NATSYNC_RELOAD_H */
