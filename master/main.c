/*
 * lxcfs, the master: parse the command line, lock the pidfile, create the
 * shared memory, mount, start the workers, then serve the FUSE connection
 * from one epoll loop until SIGTERM/SIGINT or an unmount.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "master/cli.h"
#include "master/control.h"
#include "master/loop.h"
#include "master/master.h"
#include "master/mount.h"
#include "master/notify.h"
#include "master/pidfile.h"
#include "master/pool.h"
#include "master/handover.h"
#include "master/ioacct.h"
#include "master/standby.h"
#include "master/takeover.h"
#include "master/tenant.h"
#include "shm/log.h"

#define CHUNKS_PER_MIB    ((1u << 20) / SHM_CHUNK_SIZE) /* content is touched only as used */
#define HOST_FILE_MAX     (2u << 20) /* a 1024-CPU host's cpuinfo */

/* CPUs the host can bring online: /proc/stat has at most one line for each. */
static uint32_t host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n < 1 ? 1 : n > 8192 ? 8192 : (uint32_t)n;
}

static void on_signal(struct master *m, int idx, unsigned events)
{
	struct signalfd_siginfo si;

	(void)idx;
	(void)events;
	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d (%s): unmounting and exiting", si.ssi_signo,
			         sigabbrev_np((int)si.ssi_signo));
			m->stopping = true;
			break;
		case SIGUSR1: {
			char msg[256];

			if (pool_roll(m->pool, NULL, -1, NULL, NULL, msg, sizeof(msg)) < 0)
				log_warn("SIGUSR1: %s", msg);
			break;
		}
		case SIGUSR2: {
			uint32_t off = !atomic_load(&m->shm.hdr->config.virt_off);

			atomic_store(&m->shm.hdr->config.virt_off, off);
			log_info("SIGUSR2: virtualization %s", off ? "off (host content)" : "on");
			break;
		}
		default:
			break;
		}
	}
}

/*
 * Signals as events of the loop, and the workers' wake eventfd (a standby
 * taking over keeps the one the workers already hold).
 */
static int setup_fds(struct master *m, bool make_wake)
{
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	err = loop_init(m);
	if (err < 0)
		return err;
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (make_wake)
		m->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->sigfd < 0 || m->wakefd < 0)
		return -errno;
	loop_on(m, EV_SIGNAL, on_signal);
	return master_watch(m, m->sigfd, EV(EV_SIGNAL, 0)) < 0 ? -EIO : 0;
}

/* The loop turns: the standby sees this master alive as long as the beat moves. */
static uint64_t beat_clock(struct master *m)
{
	uint64_t now = now_ns();

	atomic_store_explicit(&m->shm.hdr->master_beat_ns, now, memory_order_relaxed);
	return now + 1000000000ULL;
}

/* The options that shape rendering: this master's, whoever created the region. */
static void apply_options(struct master *m)
{
	const struct cli *c = m->cli;

	m->shm.hdr->config.opts = (c->swap_off ? LX_OPT_SWAP_OFF : 0) |
	                          (c->zswap_off ? LX_OPT_ZSWAP_OFF : 0) |
	                          (c->cfs ? LX_OPT_CFS : 0) | (c->loadavg ? LX_OPT_LOADAVG : 0) |
	                          (c->io_accounting ? LX_OPT_IO_ACCOUNTING : 0);
	m->shm.hdr->config.cache_ttl_ms = c->cache_ttl_ms;
}

/* How a master came to serve: what serve() still has to set up. */
enum serve_how {
	SERVE_NEW,      /* mounted just now: start the workers */
	SERVE_ADOPTED,  /* a standby whose master died: adopt its workers */
	SERVE_TAKEN,    /* lxcfs --takeover: own workers and connection already set up */
};

/*
 * Serve the connection until told to stop: this master's name in the region,
 * its events, the pool, the control socket and a standby. Then stop in the
 * order that keeps readers from ENOTCONN: the standby (lest it take over),
 * the mount, the workers. A master that handed over leaves the mount.
 */
static int serve(struct master *m, char **argv, enum serve_how how)
{
	int rc = 0;

	atomic_store(&m->shm.hdr->master_pid, getpid());
	atomic_fetch_add(&m->shm.hdr->master_gen, 1);
	beat_clock(m);
	loop_add_tick(m, beat_clock);
	apply_options(m);
	if ((how != SERVE_TAKEN && fuse_serve(m) < 0) ||
	    (how == SERVE_NEW && pool_init(m->pool, m, m->cli->workers, &fuse_pool_hooks) < 0) ||
	    (how == SERVE_ADOPTED &&
	     pool_adopt(m->pool, m, m->cli->workers, &fuse_pool_hooks) < 0) ||
	    control_open(m) < 0) {
		rc = -EIO;
		goto out;
	}
	if (how == SERVE_ADOPTED)
		fuse_adopt(m);
	if (m->cli->io_accounting)
		ioacct_start(m);
	if (standby_start(m, argv) < 0)
		log_warn("no standby master: a crash of this one would end the mount");
	log_info("%s %s with %d workers (%s), version %s %s, logging to %s",
	         how == SERVE_NEW ? "serving" : "took over", m->cli->mountpoint, m->cli->workers,
	         m->cli->worker_binary, LXCFS_VERSION, LXCFS_BUILD_ID,
	         log_target_name(log_target_now()));
	/*
	 * Serving: a Type=notify unit goes on to the container runtimes ordered
	 * after it. MAINPID names this process whatever it took over from, so
	 * that systemd signals (and waits for) the master that serves.
	 */
	notify_send("READY=1\nMAINPID=%ld\nSTATUS=serving %s with %d workers", (long)getpid(),
	            m->cli->mountpoint, m->cli->workers);
	loop_run(m);
	if (!m->handed_over)
		notify_send("STOPPING=1\nSTATUS=unmounting %s", m->cli->mountpoint);
	rc = m->exit_code ? -EIO : 0;
out:
	standby_stop(m);
	/* Unmount first: readers get no ENOTCONN from a half-stopped pool. */
	if (m->handed_over)
		close(m->fuse_fd);
	else
		mount_unmount(m);
	m->pool->m = m;
	if (m->pool->pending)
		pool_stop(m->pool);
	/* A master that handed over leaves the accounting to its successor. */
	if (m->cli->io_accounting && !m->handed_over)
		ioacct_stop(m);
	control_close(m);
	return rc;
}

/* The pidfile lock, waited for a while when a master just died holding it. */
static int lock_pidfile(struct master *m, int wait_ms)
{
	long holder;
	int fd;

	for (int t = 0;; t += 10) {
		fd = pidfile_lock(m->cli->pidfile, &holder);
		if (fd != -EBUSY || t >= wait_ms)
			break;
		usleep(10000);
	}
	if (fd == -EBUSY)
		log_err("another lxcfs (pid %ld) holds %s: exiting", holder, m->cli->pidfile);
	else if (fd < 0)
		log_err("pidfile %s: %s", m->cli->pidfile, strerror(-fd));
	return fd;
}

/* A region sized by the command line, with its container index. */
static int create_region(struct master *m)
{
	const struct cli *c = m->cli;
	int rc;

	rc = shm_create(&m->shm,
	                &(struct shm_sizes){.nhandles = c->max_handles,
	                                    .nchunks = c->content_mib * CHUNKS_PER_MIB,
	                                    .max_cgroups = c->max_cgroups,
	                                    .max_pids = c->max_pids,
	                                    .host_size = HOST_FILE_MAX,
	                                    .host_cpus = host_cpus(),
	                                    .tenant_handles = c->container_handles,
	                                    .tenant_chunks =
	                                        c->container_content_mib * CHUNKS_PER_MIB});
	if (rc < 0) {
		log_err("shared memory: %s", strerror(-rc));
		return rc;
	}
	rc = tenant_init(m);
	if (rc < 0) {
		log_err("container accounting: %s", strerror(-rc));
		return rc;
	}
	fuse_measure_host(m);
	return 0;
}

/* Every worker ready, or one slot's workers dying before they are: either ends the wait. */
static bool pool_started(struct master *m)
{
	return pool_ready(m->pool) >= m->cli->workers || pool_failing(m->pool);
}

/* What is left of a takeover that stopped: our workers, the session. */
static int takeover_fail(struct master *m, struct takeover *t, const char *why)
{
	fprintf(stderr, "lxcfs --takeover: %s; the running lxcfs keeps serving\n", why);
	takeover_abort(t);
	m->stopping = true;
	if (m->pool->pending)
		pool_stop(m->pool);
	return 1;
}

/*
 * lxcfs --takeover: take the mount over from the lxcfs serving it, without
 * unmounting (takeover.h): our region and our workers first, then its
 * state, then the connection.
 */
static int run_takeover(struct master *m, char **argv)
{
	struct takeover t;
	char msg[512], why[600];
	int rc, state, pidfd;

	rc = takeover_connect(m, &t, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "lxcfs --takeover: %s\n", msg);
		return 1;
	}
	rc = create_region(m);
	if (rc == 0)
		rc = setup_fds(m, true);
	if (rc < 0) {
		snprintf(why, sizeof(why), "setting up: %s", strerror(-rc));
		return takeover_fail(m, &t, why);
	}
	/* Our workers watch for a master from their start. */
	atomic_store(&m->shm.hdr->master_pid, getpid());
	apply_options(m);
	if (pool_init(m->pool, m, m->cli->workers, &fuse_pool_hooks) < 0 ||
	    !loop_run_until(m, pool_started, 10000000000ULL) || pool_failing(m->pool)) {
		snprintf(why, sizeof(why), "the workers of this build did not start (%s, %s)",
		         m->cli->worker_binary,
		         m->pool->w[0].last_exit[0] ? m->pool->w[0].last_exit : "not ready in 10 s");
		return takeover_fail(m, &t, why);
	}
	rc = takeover_freeze(&t, &state, msg, sizeof(msg));
	if (rc == 0) {
		rc = handover_read(m, state, msg, sizeof(msg));
		close(state);
	}
	if (rc < 0)
		return takeover_fail(m, &t, msg);
	/* From here the old master reads nothing: the connection is ours. */
	if (fuse_serve(m) < 0)
		return takeover_fail(m, &t, "watching /dev/fuse failed");
	fuse_adopt(m);
	rc = takeover_done(&t, msg, sizeof(msg));
	takeover_abort(&t); /* closes what is left of the session */
	if (rc < 0)
		log_warn("takeover: %s", msg);
	pidfd = lock_pidfile(m, 5000);
	rc = serve(m, argv, SERVE_TAKEN);
	pidfile_remove(m->cli->pidfile, pidfd);
	return rc < 0 ? 1 : 0;
}

/*
 * The standby: watch the master; when it is gone, become the master with
 * what it left (the connection, the region, the workers).
 */
static int run_standby(struct master *m, char **argv)
{
	int rc, pidfd;

	log_init("lxcfs standby", m->cli->debug);
	rc = standby_watch(m);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	log_init("lxcfs", m->cli->debug);
	pidfd = lock_pidfile(m, 2000);
	if (pidfd < 0)
		return 1;
	rc = tenant_init(m);
	if (rc == 0)
		rc = setup_fds(m, false);
	if (rc < 0) {
		log_err("taking over: %s", strerror(-rc));
		pidfile_remove(m->cli->pidfile, pidfd);
		return 1;
	}
	rc = serve(m, argv, SERVE_ADOPTED);
	pidfile_remove(m->cli->pidfile, pidfd);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct master master;
	static struct pool pool;
	struct master *m = &master;
	struct cli cli;
	struct timespec ts;
	int rc, pidfd;

	rc = cli_parse(argc, argv, &cli);
	if (rc)
		return rc == 1 ? 0 : 2;
	log_init("lxcfs", cli.debug);
	log_open(cli.log, -1);
	m->cli = &cli;
	m->pool = &pool;
	m->fuse_fd = -1;
	m->wakefd = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	m->start_mono_ns = now_ns();

	if (access(cli.worker_binary, X_OK) < 0) {
		log_err("worker binary %s: %s", cli.worker_binary, strerror(errno));
		return 1;
	}
	if (cli.standby)
		return run_standby(m, argv);
	if (mkdir(cli.runtime_dir, 0755) < 0 && errno != EEXIST) {
		log_err("mkdir %s: %s", cli.runtime_dir, strerror(errno));
		return 1;
	}
	if (cli.takeover)
		return run_takeover(m, argv);
	pidfd = lock_pidfile(m, 0);
	if (pidfd < 0)
		return 1;
	rc = create_region(m);
	if (rc < 0)
		goto out_pidfile;
	rc = setup_fds(m, true);
	if (rc < 0) {
		log_err("setting up the event loop: %s", strerror(-rc));
		goto out_pidfile;
	}
	rc = mount_fuse(m);
	if (rc < 0)
		goto out_pidfile;
	rc = serve(m, argv, SERVE_NEW);
out_pidfile:
	pidfile_remove(cli.pidfile, pidfd);
	return rc < 0 ? 1 : 0;
}
