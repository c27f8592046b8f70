/*
 * The shared-memory rings between two real processes: one million messages
 * arrive none lost, duplicated or reordered, through the futex sleep and
 * wake path; and a consumer SIGKILLed mid-stream is noticed by the producer
 * (pidfd), which resets the ring and goes on with a new consumer from the
 * last message the dead one finished, still losing nothing.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "shm/ring.h"

#define NSLOTS 256
#define TOTAL  1000000u

struct msg {
	uint64_t seq;
	uint64_t check; /* ~seq: a torn slot would not match */
};

struct shared {
	struct ring ring;
	struct msg slots[NSLOTS];
	_Atomic uint64_t done;   /* consumer: messages finished, in order */
	_Atomic uint64_t errors; /* consumer: out-of-order, duplicate or torn */
	_Atomic int stop;
};

static void consume(struct shared *s, uint64_t first, uint64_t last)
{
	uint64_t want = first;
	struct msg m;

	while (want < last) {
		if (!ring_pop(&s->ring, s->slots, NSLOTS, sizeof(m), &m)) {
			ring_wait(&s->ring, 100);
			continue;
		}
		if (m.seq != want || m.check != ~m.seq)
			atomic_fetch_add(&s->errors, 1);
		want = m.seq + 1;
		atomic_store(&s->done, want);
	}
	_exit(0);
}

static pid_t start_consumer(struct shared *s, uint64_t first, int *pidfd)
{
	pid_t pid = fork();

	if (pid == 0)
		consume(s, first, TOTAL);
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pid;
}

static bool dead(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* Push [from, TOTAL); kill the consumer once `kill_at` messages are done. */
static int produce(struct shared *s, uint64_t kill_at)
{
	uint64_t next = 0;
	int pidfd, restarts = 0;
	pid_t pid = start_consumer(s, 0, &pidfd);

	while (atomic_load(&s->done) < TOTAL) {
		struct msg m = {.seq = next, .check = ~next};

		if (kill_at && atomic_load(&s->done) >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = 0;
		}
		if (dead(pidfd)) {
			int status;

			waitpid(pid, &status, 0);
			close(pidfd);
			if (WIFEXITED(status) && atomic_load(&s->done) >= TOTAL)
				break;
			/* Whatever it had not finished is sent again to its successor. */
			ring_reset(&s->ring);
			next = atomic_load(&s->done);
			pid = start_consumer(s, next, &pidfd);
			restarts++;
			continue;
		}
		if (next < TOTAL && ring_push(&s->ring, s->slots, NSLOTS, sizeof(m), &m))
			next++;
		else
			sched_yield();
	}
	waitpid(pid, NULL, 0);
	close(pidfd);
	return restarts;
}

int main(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int restarts;

	alarm(120); /* a lost wake-up would hang: fail instead */
	CHECK(s != MAP_FAILED);
	if (s == MAP_FAILED)
		return check_report("ring");

	ring_reset(&s->ring);
	restarts = produce(s, 0);
	CHECK_EQ_U64(atomic_load(&s->done), TOTAL);
	CHECK_EQ_U64(atomic_load(&s->errors), 0);
	CHECK_EQ_U64(restarts, 0);

	memset(s, 0, sizeof(*s));
	ring_reset(&s->ring);
	restarts = produce(s, TOTAL / 3);
	CHECK_EQ_U64(atomic_load(&s->done), TOTAL);
	CHECK_EQ_U64(atomic_load(&s->errors), 0);
	CHECK_EQ_U64(restarts, 1);

	/* The count is untrusted: corrupt indexes are reported, not believed. */
	atomic_store(&s->ring.head, 5);
	atomic_store(&s->ring.tail, 10);
	CHECK_EQ_U64(ring_count(&s->ring, NSLOTS), UINT32_MAX);
	ring_reset(&s->ring);
	CHECK_EQ_U64(ring_count(&s->ring, NSLOTS), 0);

	return check_report("ring");
}
