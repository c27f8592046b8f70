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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "master/cli.h"
#include "master/control.h"
#include "master/master.h"
#include "master/mount.h"
#include "master/pidfile.h"
#include "master/pool.h"
#include "master/tenant.h"
#include "shm/log.h"

#define CHUNKS_PER_MIB    ((1u << 20) / SHM_CHUNK_SIZE) /* content is touched only as used */
#define HOST_FILE_MAX     (2u << 20) /* a 1024-CPU host's cpuinfo */
#define TICK_NS           50000000L
#define LOADAVG_PERIOD_NS (5ULL * 1000000000ULL) /* the kernel's LOAD_FREQ */
#define READ_BUF          (1 << 20)              /* >= the kernel's minimum plus max_write */

/* CPUs the host can bring online: /proc/stat has at most one line for each. */
static uint32_t host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n < 1 ? 1 : n > 8192 ? 8192 : (uint32_t)n;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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

/*
 * A fast tick while requests are in flight (deadlines), a slow one when idle
 * (worker heartbeats, restarts): an idle daemon wakes once a second.
 */
static void arm_timer(struct master *m, bool busy)
{
	struct itimerspec its = {0};

	if (m->timer_armed && busy == m->timer_fast)
		return;
	its.it_value.tv_sec = busy ? 0 : 1;
	its.it_value.tv_nsec = busy ? TICK_NS : 0;
	its.it_interval = its.it_value;
	timerfd_settime(m->timerfd, 0, &its, NULL);
	m->timer_armed = true;
	m->timer_fast = busy;
}

/* Drain /dev/fuse: every request the kernel has queued, then back to epoll. */
static void on_fuse(struct master *m, char *buf)
{
	for (;;) {
		ssize_t n = read(m->fuse_fd, buf, READ_BUF);

		if (n < 0) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR ||
			    errno == ENOENT) /* ENOENT: interrupted before we read it */
				continue;
			if (errno == ENODEV) {
				log_info("%s was unmounted: exiting", m->cli->mountpoint);
				m->stopping = true;
				return;
			}
			log_err("read /dev/fuse: %s", strerror(errno));
			m->stopping = true;
			return;
		}
		fuse_handle(m, buf, (size_t)n);
	}
}

static void on_signal(struct master *m)
{
	struct signalfd_siginfo si;

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

			if (pool_roll(m->pool, NULL, -1, -1, msg, sizeof(msg)) < 0)
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

static int setup_fds(struct master *m)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->sigfd < 0 || m->epfd < 0 || m->wakefd < 0 || m->timerfd < 0)
		return -errno;
	if (master_watch(m, m->sigfd, EV(EV_SIGNAL, 0)) < 0 ||
	    master_watch(m, m->wakefd, EV(EV_WAKE, 0)) < 0 ||
	    master_watch(m, m->timerfd, EV(EV_TIMER, 0)) < 0)
		return -EIO;
	return 0;
}

/*
 * -l: every 5 s one worker samples the load of the containers read recently.
 * Returns the epoll timeout until the next sample (-1: none due).
 */
static int loadavg_clock(struct master *m, uint64_t *next)
{
	uint64_t now = now_ns();
	struct lx_req req = {.op = LX_OP_SAMPLE, .file = LX_FILE_LOADAVG};

	if (!m->cli->loadavg)
		return -1;
	if (now >= *next) {
		req.t_dispatch_ns = now;
		pool_dispatch(m->pool, &req);
		*next = now + LOADAVG_PERIOD_NS;
	}
	return (int)((*next - now) / 1000000ULL) + 1;
}

static void loop(struct master *m)
{
	struct epoll_event evs[64];
	char *buf = malloc(READ_BUF);
	uint64_t next_sample = now_ns() + LOADAVG_PERIOD_NS;
	int timeout = -1;

	if (!buf) {
		log_err("malloc of the request buffer failed");
		return;
	}
	while (!m->stopping) {
		int n = epoll_wait(m->epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n && !m->stopping; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
			int idx = (int)(uint32_t)evs[i].data.u64;
			uint64_t v;

			switch (kind) {
			case EV_FUSE:
				pool_harvest(m->pool);
				on_fuse(m, buf);
				break;
			case EV_SIGNAL:
				on_signal(m);
				break;
			case EV_WAKE:
				(void)!read(m->wakefd, &v, sizeof(v));
				pool_on_wake(m->pool);
				break;
			case EV_TIMER:
				(void)!read(m->timerfd, &v, sizeof(v));
				break;
			case EV_PIDFD:
				pool_on_exit(m->pool, idx);
				break;
			case EV_CTL_LISTEN:
				control_on_listen(m);
				break;
			case EV_CTL_CONN:
				control_on_conn(m, idx, evs[i].events);
				break;
			}
		}
		/* Deadlines and restarts need a clock only while there is work. */
		arm_timer(m, pool_tick(m->pool) | pool_op_step(m->pool) | control_tick(m));
		timeout = loadavg_clock(m, &next_sample);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	static struct master master;
	static struct pool pool;
	struct master *m = &master;
	struct cli cli;
	struct timespec ts;
	long holder;
	int rc, pidfd;

	rc = cli_parse(argc, argv, &cli);
	if (rc)
		return rc == 1 ? 0 : 2;
	log_init("lxcfs", cli.debug);
	log_open(cli.log, -1);
	m->cli = &cli;
	m->pool = &pool;
	m->fuse_fd = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	m->start_mono_ns = now_ns();

	if (access(cli.worker_binary, X_OK) < 0) {
		log_err("worker binary %s: %s", cli.worker_binary, strerror(errno));
		return 1;
	}
	if (mkdir(cli.runtime_dir, 0755) < 0 && errno != EEXIST) {
		log_err("mkdir %s: %s", cli.runtime_dir, strerror(errno));
		return 1;
	}
	pidfd = pidfile_lock(cli.pidfile, &holder);
	if (pidfd == -EBUSY) {
		log_err("another lxcfs (pid %ld) holds %s: exiting", holder, cli.pidfile);
		return 1;
	}
	if (pidfd < 0) {
		log_err("pidfile %s: %s", cli.pidfile, strerror(-pidfd));
		return 1;
	}
	rc = shm_create(&m->shm,
	                &(struct shm_sizes){.nhandles = cli.max_handles,
	                                    .nchunks = cli.content_mib * CHUNKS_PER_MIB,
	                                    .max_cgroups = cli.max_cgroups,
	                                    .max_pids = cli.max_pids,
	                                    .host_size = HOST_FILE_MAX,
	                                    .host_cpus = host_cpus(),
	                                    .tenant_handles = cli.container_handles,
	                                    .tenant_chunks =
	                                        cli.container_content_mib * CHUNKS_PER_MIB});
	if (rc < 0) {
		log_err("shared memory: %s", strerror(-rc));
		goto out_pidfile;
	}
	rc = tenant_init(m);
	if (rc < 0) {
		log_msg("container accounting: %s", strerror(-rc));
		goto out_pidfile;
	}
	m->shm.hdr->config.opts = (cli.swap_off ? LX_OPT_SWAP_OFF : 0) |
	                          (cli.zswap_off ? LX_OPT_ZSWAP_OFF : 0) |
	                          (cli.cfs ? LX_OPT_CFS : 0) | (cli.loadavg ? LX_OPT_LOADAVG : 0);
	m->shm.hdr->config.cache_ttl_ms = cli.cache_ttl_ms;
	fuse_measure_host(m);

	rc = setup_fds(m);
	if (rc < 0) {
		log_err("setting up the event loop: %s", strerror(-rc));
		goto out_pidfile;
	}
	rc = mount_fuse(m);
	if (rc < 0)
		goto out_pidfile;
	if (master_watch(m, m->fuse_fd, EV(EV_FUSE, 0)) < 0 || control_open(m) < 0 ||
	    pool_init(&pool, m, cli.workers) < 0) {
		rc = -EIO;
		goto out_unmount;
	}
	log_info("serving %s with %d workers (%s), version %s %s, logging to %s", cli.mountpoint,
	         cli.workers, cli.worker_binary, LXCFS_VERSION, LXCFS_BUILD_ID,
	         log_target_name(log_target_now()));
	loop(m);
	rc = m->exit_code ? -EIO : 0;

out_unmount:
	/* Unmount first: readers get no ENOTCONN from a half-stopped pool. */
	mount_unmount(m);
	pool.m = m;
	if (pool.pending)
		pool_stop(&pool);
	control_close(m);
out_pidfile:
	pidfile_remove(cli.pidfile, pidfd);
	return rc < 0 ? 1 : 0;
}
