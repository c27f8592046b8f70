/*
 * The helper of --enable-io-accounting (ioacct.h): forked and exec'd from
 * the worker binary, with nothing of the master's but stderr, reaped from a
 * tick of the loop. A helper that runs for more than IOACCT_STUCK_NS (stuck
 * in cgroupfs) is killed; the next run finishes its work.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/ioacct.h"
#include "master/loop.h"
#include "shm/log.h"

#define IOACCT_RESCAN_NS (60ULL * 1000000000ULL)
#define IOACCT_STUCK_NS  (10ULL * 1000000000ULL)

static pid_t helper;      /* the run in progress, 0: none */
static uint64_t started;  /* when it was started */
static uint64_t next_run; /* when the next one starts */

static pid_t helper_spawn(struct master *m, const char *mode)
{
	const char *target = log_target_name(log_target_now());
	sigset_t none;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_warn("io accounting: fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		char *argv[] = {"lxcfs-worker",
		                "--io-accounting",
		                (char *)mode,
		                "--log",
		                (char *)target,
		                log_debug_on ? "--debug" : NULL,
		                NULL};

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* Not the FUSE connection, the region or the pidfile: stdin, stdout, stderr only.
		 */
		syscall(SYS_close_range, 3, ~0U, 0);
		execv(m->cli->worker_binary, argv);
		_exit(127);
	}
	return pid;
}

/* Reap the helper if it ended; log how, unless it ended well. */
static bool helper_reaped(bool block)
{
	int status;
	pid_t r;

	do
		r = waitpid(helper, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (r == helper && WIFSIGNALED(status))
		log_warn("io accounting: helper %d killed by signal %d", helper, WTERMSIG(status));
	else if (r == helper && WEXITSTATUS(status))
		log_warn("io accounting: helper %d exited with %d", helper, WEXITSTATUS(status));
	helper = 0;
	return true;
}

static uint64_t ioacct_clock(struct master *m)
{
	uint64_t now = now_ns();

	if (helper && !helper_reaped(false)) {
		if (now - started < IOACCT_STUCK_NS)
			return now + LOOP_TICK_NS;
		kill(helper, SIGKILL);
		helper_reaped(true);
	}
	if (now >= next_run && !m->stopping) {
		helper = helper_spawn(m, "start");
		started = now;
		next_run = now + IOACCT_RESCAN_NS;
		if (helper)
			return now + LOOP_TICK_NS;
	}
	return next_run;
}

void ioacct_start(struct master *m)
{
	next_run = now_ns();
	loop_add_tick(m, ioacct_clock);
}

void ioacct_stop(struct master *m)
{
	for (int i = 0; helper && i < 100 && !helper_reaped(false); i++)
		usleep(10000);
	if (helper) {
		kill(helper, SIGKILL);
		helper_reaped(true);
	}
	helper = helper_spawn(m, "exit");
	for (int i = 0; helper && i < 100 && !helper_reaped(false); i++)
		usleep(10000);
	if (helper) {
		log_warn("io accounting: exit pass still running after 1 s: killed");
		kill(helper, SIGKILL);
		helper_reaped(true);
	}
}
