/*
 * What the operator is told: how each end of a worker is counted (only
 * what lxcfs did not ask for is a death worth an alert), which snapshot
 * entries a --cgroup filter keeps, and the log targets and their default.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "master/control.h"
#include "master/pool.h"
#include "shm/log.h"

static void test_worker_ends(void)
{
	struct worker w = {0};
	int killed = W_EXITCODE(0, SIGKILL), termed = W_EXITCODE(0, SIGTERM);
	int segv = W_EXITCODE(0, SIGSEGV);

	/* Nothing asked of it. */
	CHECK(pool_end_of(&w, true, segv) == END_CRASH);
	CHECK(pool_end_of(&w, true, killed) == END_CRASH); /* the OOM killer, an operator */
	CHECK(pool_end_of(&w, true, termed) == END_CRASH);
	CHECK(pool_end_of(&w, true, W_EXITCODE(1, 0)) == END_CRASH);
	CHECK(pool_end_of(&w, true, W_EXITCODE(0, 0)) == END_CRASH);
	CHECK(pool_end_of(&w, true, -1) == END_CRASH);
	/* Never ready: a failed start, unless a signal we did not send ended it. */
	CHECK(pool_end_of(&w, false, W_EXITCODE(3, 0)) == END_START_FAILED);
	CHECK(pool_end_of(&w, false, W_EXITCODE(127, 0)) == END_START_FAILED);
	CHECK(pool_end_of(&w, false, segv) == END_CRASH);

	/* Our SIGKILL for a deadline: a hang, or a failed start before READY. */
	w.killed = true;
	CHECK(pool_end_of(&w, true, killed) == END_HANG);
	CHECK(pool_end_of(&w, false, killed) == END_START_FAILED);
	CHECK(pool_end_of(&w, true, segv) == END_CRASH);
	w.killed = false;

	/* Our SIGTERM after a drain, or to one scaled away while starting: planned. */
	w.stop_sent = true;
	CHECK(pool_end_of(&w, true, W_EXITCODE(0, 0)) == END_PLANNED);
	CHECK(pool_end_of(&w, true, termed) == END_PLANNED);
	CHECK(pool_end_of(&w, false, termed) == END_PLANNED);
	CHECK(pool_end_of(&w, true, W_EXITCODE(1, 0)) == END_CRASH); /* failed on its way out */
	CHECK(pool_end_of(&w, true, segv) == END_CRASH);
}

static void test_deaths_sum(void)
{
	struct pool p = {0};

	p.crashes = 1;
	p.hangs = 2;
	p.start_failures = 3;
	p.planned_exits = 100;
	CHECK_EQ_U64(pool_deaths(&p), 6);
	CHECK_STR(pool_end_name(END_PLANNED), "planned");
	CHECK_STR(pool_end_name(END_HANG), "hang");
}

static int match(const char *label, const char *cg)
{
	return ctl_cgroup_match(label, cg, strlen(cg));
}

static void test_cgroup_filter(void)
{
	/* Whole paths: the cgroup and below, not a sibling sharing a prefix. */
	CHECK(match("memory /lxc/web1", "/lxc/web1") == CTL_CG_YES);
	CHECK(match("memory /lxc/web1/init.scope", "/lxc/web1") == CTL_CG_YES);
	CHECK(match("memory /lxc/web10", "/lxc/web1") == CTL_CG_NO);
	CHECK(match("memory /lxc", "/lxc/web1") == CTL_CG_NO);
	CHECK(match("cpuset /", "/") == CTL_CG_YES);
	CHECK(match("memory /lxc/web1", "/") == CTL_CG_YES);
	/* Not a cgroup's entry at all. */
	CHECK(match("pid 1234", "/") == CTL_CG_NO);
	CHECK(match("init 1234", "/lxc") == CTL_CG_NO);
	CHECK(match("/proc/meminfo", "/") == CTL_CG_NO);

	/* A label cut to the end of a long path. */
	const char *cut = "memory ...ker-0123456789abcdef0123456789abcdef0123456789ab.scope";
	const char *cg = "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789ab.scope";

	CHECK(match(cut, cg) == CTL_CG_YES);
	CHECK(match("memory ...ef0123456789ab.scope/init.scope", cg) == CTL_CG_YES);
	/* The cgroup may lie in the part cut off: unsure, not a no. */
	CHECK(match(cut, "/system.slice") == CTL_CG_UNSURE);
	CHECK(match(cut, "/") == CTL_CG_YES);
	/* An overlap of a few bytes is chance, not evidence. */
	CHECK(match("memory ...e/web1/x", "/lxc.payload.web1/e") == CTL_CG_UNSURE);
}

static void test_log_targets(void)
{
	enum log_target t;
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

	CHECK(log_target_parse("journald", &t) == 0 && t == LOG_TARGET_JOURNALD);
	CHECK(log_target_parse("syslog", &t) == 0 && t == LOG_TARGET_SYSLOG);
	CHECK(log_target_parse("auto", &t) == 0 && t == LOG_TARGET_AUTO);
	CHECK(log_target_parse("stderr", &t) == 0 && t == LOG_TARGET_STDERR);
	CHECK(log_target_parse("kmsg", &t) < 0);
	CHECK_STR(log_target_name(LOG_TARGET_JOURNALD), "journald");

	/* stderr on /dev/null, as an init script leaves it: nobody reads it. */
	unsetenv("JOURNAL_STREAM");
	dup2(null, STDERR_FILENO);
	t = log_target_default();
	dup2(saved, STDERR_FILENO);
	CHECK(t == LOG_TARGET_AUTO);
	/* Closed: the same. */
	close(STDERR_FILENO);
	t = log_target_default();
	dup2(saved, STDERR_FILENO);
	CHECK(t == LOG_TARGET_AUTO);
	close(null);
	close(saved);
}

int main(void)
{
	test_worker_ends();
	test_deaths_sum();
	test_cgroup_filter();
	test_log_targets();
	return check_report("test_ctl");
}
