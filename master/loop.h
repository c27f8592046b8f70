/*
 * The master's event loop: one epoll set, one handler per kind of event, and
 * ticks run after every turn. The lowest layer of the master: it calls the
 * others only through what they registered, so that the pool, the FUSE
 * protocol, the control socket and the standby each own their events.
 */
#ifndef LXCFS_LOOP_H
#define LXCFS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "master/master.h"

/* Handle an event of its kind; idx is the index its registration carried. */
typedef void (*loop_handler)(struct master *m, int idx, unsigned events);

/*
 * Run after every turn of the loop. Returns when it must run again at the
 * latest (CLOCK_MONOTONIC ns), or 0 when it needs no clock: an idle daemon
 * then sleeps until an event.
 */
typedef uint64_t (*loop_tick)(struct master *m);

#define LOOP_TICK_NS (50ULL * 1000000ULL) /* the clock of deadlines while work is in flight */

int loop_init(struct master *m);
void loop_on(struct master *m, enum ev_kind kind, loop_handler fn);
void loop_add_tick(struct master *m, loop_tick fn);

/* Turn until m->stopping. */
void loop_run(struct master *m);

/* Turn until done(m) holds, m->stopping, or timeout_ns passed. Returns done(m). */
bool loop_run_until(struct master *m, bool (*done)(struct master *m), uint64_t timeout_ns);

#endif
