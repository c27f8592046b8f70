/*
 * lxcfs-worker: started by the master (fork+exec) with the /dev/fuse file on
 * fd 3, the shared memory on fd 4 and the master's wake eventfd on fd 5.
 * It attaches to its slot, says READY, then serves its request ring until the
 * master stops it or dies. It logs where the master does (--log TARGET).
 * "--io-accounting start|exit" runs the helper of --enable-io-accounting
 * instead (io_accounting.h), which has no slot.
 *
 * Exit codes the master reads: 3 = the region's layout is not ours (an
 * incompatible binary), 1 = any other setup failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm/log.h"
#include "workers/io_accounting.h"
#include "workers/worker.h"

#ifndef LXCFS_VERSION
#define LXCFS_VERSION "0.0.0"
#endif
#ifndef LXCFS_BUILD_ID
#define LXCFS_BUILD_ID ""
#endif

#define EXIT_INCOMPATIBLE 3

/* SIGTERM: finish the request at hand, then exit (the master drained us first). */
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void open_roots(struct worker_ctx *w)
{
	w->unified_fd = -1;
	if (w->layout.unified.present) {
		w->unified_fd = open(w->layout.unified.mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (w->unified_fd < 0)
			log_warn("open %s: %s: pressure served from the host",
			         w->layout.unified.mount, strerror(errno));
	}
	for (int c = 0; c < CG_NCTRL; c++) {
		const struct cg_hier *h = &w->layout.ctrl[c];

		w->root_fd[c] = -1;
		if (!h->present)
			continue;
		w->root_fd[c] = open(h->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (w->root_fd[c] < 0)
			log_warn("open %s: %s: %s served from the host", h->mount, strerror(errno),
			         cg_ctrl_name((enum cg_ctrl)c));
	}
}

/* Alive and not stuck: the master replaces a worker silent for too long. */
static void heartbeat(struct worker_ctx *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store_explicit(&w->sw->heartbeat_ns,
			      (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec,
			      memory_order_relaxed);
}

static void wake_master(void)
{
	uint64_t one = 1;

	(void)!write(WORKER_WAKE_FD, &one, sizeof(one));
}

/*
 * The master serving now, as the region names it, watched through a pidfd
 * opened again whenever another master takes over (master_gen). A master
 * that dies is replaced within a second or two by its standby; a worker
 * that sees no master for ORPHAN_NS holds the connection open for nothing,
 * and exits (the mount goes with its last holder).
 */
#define ORPHAN_NS (10ULL * 1000000000ULL)

struct master_seen {
	uint32_t gen;
	int pidfd;
	uint64_t gone_since; /* 0 while a master runs */
};

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool master_gone_too_long(struct worker_ctx *w, struct master_seen *ms)
{
	uint32_t gen = atomic_load(&w->shm.hdr->master_gen);
	struct pollfd pfd;

	if (ms->pidfd < 0 || gen != ms->gen) {
		pid_t pid = atomic_load(&w->shm.hdr->master_pid);

		if (ms->pidfd >= 0)
			close(ms->pidfd);
		ms->gen = gen;
		ms->pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	}
	pfd = (struct pollfd){.fd = ms->pidfd, .events = POLLIN};
	if (ms->pidfd >= 0 && poll(&pfd, 1, 0) == 0) {
		ms->gone_since = 0;
		return false;
	}
	if (!ms->gone_since) {
		ms->gone_since = mono_now();
		log_warn("no master is serving (pid %d, generation %u): waiting for one",
		         atomic_load(&w->shm.hdr->master_pid), gen);
	}
	return mono_now() - ms->gone_since > ORPHAN_NS;
}

static void push_completion(struct worker_ctx *w, const struct lx_cmp *cmp)
{
	/* The master bounds what it gives us by the ring size, so this is a formality. */
	while (!ring_push(&w->sw->cmp, w->sw->cmp_slot, SHM_RING_SLOTS, sizeof(*cmp), cmp)) {
		wake_master();
		usleep(1000);
	}
	if (atomic_load_explicit(&w->sw->want_wake, memory_order_relaxed))
		wake_master();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"slot", required_argument, NULL, 's'},
	    {"gen", required_argument, NULL, 'g'},
	    {"debug", no_argument, NULL, 'd'},
	    {"log", required_argument, NULL, 'l'},
	    {"version", no_argument, NULL, 'v'},
	    {"io-accounting", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	static struct worker_ctx ctx;
	struct worker_ctx *w = &ctx;
	struct master_seen ms = {.pidfd = -1};
	unsigned long gen = 0;
	enum log_target target = LOG_TARGET_STDERR;
	bool debug = false, bad_target = false;
	const char *io_accounting = NULL;
	char msg[256] = "", who[32];
	int opt, err;

	w->slot = -1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			w->slot = atoi(optarg);
			break;
		case 'g':
			gen = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			debug = true;
			break;
		case 'l':
			/* A master newer than us may name a target we do not know: still serve. */
			bad_target = log_target_parse(optarg, &target) < 0;
			break;
		case 'v':
			printf("lxcfs-worker %s (build %s)\n", LXCFS_VERSION, LXCFS_BUILD_ID);
			return 0;
		case 'i':
			io_accounting = optarg;
			break;
		default:
			fprintf(stderr, "lxcfs-worker is started by lxcfs, not by hand\n");
			return 1;
		}
	}
	if (io_accounting) {
		/* A helper of the master, not a worker: no slot, no shared memory. */
		log_init("lxcfs", debug);
		log_open(target, -1);
		return io_accounting_main(io_accounting);
	}
	snprintf(who, sizeof(who), "worker %d", w->slot);
	log_init(who, debug);
	log_open(target, w->slot);
	if (bad_target)
		log_warn("unknown --log target: logging to stderr");
	if (w->slot < 0 || w->slot >= SHM_MAX_WORKERS) {
		log_err("bad --slot: lxcfs-worker is started by lxcfs, not by hand");
		return 1;
	}
	err = shm_attach(&w->shm, WORKER_SHM_FD, msg, sizeof(msg));
	if (err == -EPROTO) {
		log_err("refusing to attach: %s", msg);
		return EXIT_INCOMPATIBLE;
	}
	if (err < 0) {
		log_err("attach shared memory on fd %d: %s%s%s", WORKER_SHM_FD, strerror(-err),
		        msg[0] ? ": " : "", msg);
		return 1;
	}
	w->sw = &w->shm.workers[w->slot];
	w->who.worker = (uint32_t)w->slot;
	w->who.gen = (uint32_t)gen;
	w->who.c = &w->sw->snap;
	if (atomic_load(&w->sw->gen) != gen) {
		log_err("slot %d is generation %u, not ours (%lu): exiting", w->slot,
		        atomic_load(&w->sw->gen), gen);
		return 1;
	}
	err = cg_layout_detect(&w->layout);
	if (err < 0)
		log_warn("cgroup layout from /proc/self/mountinfo: %s: serving host content",
		         strerror(-err));
	open_roots(w);
	w->opts.swap_off = w->shm.hdr->config.opts & LX_OPT_SWAP_OFF;
	w->opts.zswap_off = w->shm.hdr->config.opts & LX_OPT_ZSWAP_OFF;

	/* No SA_RESTART: the signal must break the futex wait. */
	sigaction(SIGTERM, &(struct sigaction){.sa_handler = on_term}, NULL);
	snprintf(w->sw->version, sizeof(w->sw->version), "%s %s", LXCFS_VERSION, LXCFS_BUILD_ID);
	heartbeat(w); /* before READY: the master may look at once */
	atomic_store(&w->sw->state, WS_READY);
	wake_master();
	log_debug("ready (pid %d)", getpid());

	while (!stopping) {
		struct lx_req req;
		struct lx_cmp cmp;

		heartbeat(w);
		atomic_store_explicit(&w->sw->cpu, sched_getcpu(), memory_order_relaxed);
		while (ring_pop(&w->sw->req, w->sw->req_slot, SHM_RING_SLOTS, sizeof(req), &req)) {
			unsigned long files = cg_files_read;

			serve_request(w, &req, &cmp);
			atomic_fetch_add_explicit(&w->sw->snap.cgfs_reads, cg_files_read - files,
			                          memory_order_relaxed);
			if (req.file < LX_FILE_MAX)
				atomic_fetch_add_explicit(&w->sw->file_reqs[req.file], 1,
				                          memory_order_relaxed);
			push_completion(w, &cmp);
			heartbeat(w);
		}
		/* Wake now and then to notice a master that is gone for good. */
		if (ring_wait(&w->sw->req, 1000) == -ETIMEDOUT && master_gone_too_long(w, &ms)) {
			log_warn("no master for %llu s: exiting",
			         (unsigned long long)(ORPHAN_NS / 1000000000ULL));
			return 0;
		}
	}
	log_debug("stopping on SIGTERM");
	return 0;
}
