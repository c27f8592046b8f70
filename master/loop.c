/*
 * The master's event loop (loop.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "master/loop.h"
#include "shm/log.h"

#define LOOP_MAX_TICKS 8

static loop_handler handlers[EV_COUNT];
static loop_tick ticks[LOOP_MAX_TICKS];
static int nticks;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int loop_init(struct master *m)
{
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		return -errno;
	return 0;
}

void loop_on(struct master *m, enum ev_kind kind, loop_handler fn)
{
	(void)m;
	if (kind > 0 && kind < EV_COUNT)
		handlers[kind] = fn;
}

void loop_add_tick(struct master *m, loop_tick fn)
{
	(void)m;
	for (int i = 0; i < nticks; i++)
		if (ticks[i] == fn)
			return;
	if (nticks < LOOP_MAX_TICKS)
		ticks[nticks++] = fn;
}

int master_watch_events(struct master *m, int fd, uint64_t data, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("epoll_ctl add fd %d: %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

int master_watch(struct master *m, int fd, uint64_t data)
{
	return master_watch_events(m, fd, data, EPOLLIN);
}

void master_unwatch(struct master *m, int fd)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* The epoll timeout until the earliest tick wants to run: -1 for none. */
static int next_timeout(struct master *m)
{
	uint64_t due = 0, now;

	for (int i = 0; i < nticks; i++) {
		uint64_t t = ticks[i](m);

		if (t && (!due || t < due))
			due = t;
	}
	if (!due)
		return -1;
	now = now_ns();
	/* Rounded up: a tick run a little early would find nothing due and spin. */
	return due <= now ? 0 : (int)((due - now + 999999ULL) / 1000000ULL);
}

/* One turn: wait at most timeout ms, run the handlers. */
static void turn(struct master *m, int timeout)
{
	struct epoll_event evs[64];
	int n = epoll_wait(m->epfd, evs, 64, timeout);

	if (n < 0 && errno != EINTR) {
		log_err("epoll_wait: %s", strerror(errno));
		m->stopping = true;
		m->exit_code = 1;
		return;
	}
	for (int i = 0; i < n && !m->stopping; i++) {
		uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);

		if (kind < EV_COUNT && handlers[kind])
			handlers[kind](m, (int)(uint32_t)evs[i].data.u64, evs[i].events);
	}
}

void loop_run(struct master *m)
{
	while (!m->stopping)
		turn(m, next_timeout(m));
}

bool loop_run_until(struct master *m, bool (*done)(struct master *m), uint64_t timeout_ns)
{
	uint64_t end = now_ns() + timeout_ns;

	while (!done(m) && !m->stopping && now_ns() < end) {
		int t = next_timeout(m);

		turn(m, t < 0 || t > 100 ? 100 : t);
	}
	return done(m);
}
