/*
 * Reader identity via the snapshot tables (see ident.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/log.h"
#include "workers/ident.h"
#include "workers/reader.h"
#include "workers/worker.h"

/*
 * Does key still name the process holding its pid (the /proc directory at
 * path relative to dirfd, "" for dirfd itself)? 0, or -ESRCH, or -errno.
 */
static int proc_key_holds(int dirfd, const char *path, const struct proc_key *key)
{
	struct proc_key now;
	int err = proc_key_of(dirfd, path, key->pid, &now);

	if (err == 0 && (now.ino != key->ino || now.ctime_ns != key->ctime_ns))
		err = -ESRCH;
	return err;
}

struct pid_fill {
	pid_t pid;
};

static int fill_pid(void *ctx, void *value, size_t size, size_t *len)
{
	struct pid_fill *f = ctx;
	struct pid_value v;
	pid_t init;
	int pfd, err;

	pfd = reader_init_open(f->pid, &init);
	if (pfd < 0)
		return pfd;
	err = proc_key_of(pfd, "", init, &v.init);
	close(pfd);
	if (err < 0)
		return err;
	if (size < sizeof(v))
		return -ENOSPC;
	memcpy(value, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

struct cont_fill {
	struct worker_ctx *w;
	const struct proc_key *init;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The init's cgroups from /proc/<init>/cgroup. A refresh that finds the same
 * paths keeps when they were first seen; other paths (the init was moved)
 * are seen now.
 */
static int fill_cont(void *ctx, void *value, size_t size, size_t *len)
{
	struct cont_fill *f = ctx;
	const struct cg_layout *l = &f->w->layout;
	struct cont_paths *p = value, prev;
	char path[32], text[16384];
	bool had = *len == sizeof(*p);
	ssize_t n;
	int fd, err;

	if (size < sizeof(*p))
		return -ENOSPC;
	if (had)
		memcpy(&prev, p, sizeof(prev));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", f->init->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH; /* an exiting task reads empty */
	/*
	 * The key was seen before the open: if it still names the pid after the
	 * read, that process held the pid throughout and the text is its own.
	 */
	snprintf(path, sizeof(path), "/proc/%d", f->init->pid);
	err = proc_key_holds(AT_FDCWD, path, f->init);
	if (err < 0)
		return err;
	text[n] = '\0';

	memset(p, 0, sizeof(*p));
	for (int c = 0; c <= CG_NCTRL; c++) {
		const struct cg_hier *h = c == IDENT_UNIFIED ? &l->unified : &l->ctrl[c];

		if (!h->present)
			continue;
		err = cg_path_parse(text, (size_t)n, h, c == IDENT_UNIFIED ? CG_MEMORY : c,
		                    p->path[c], sizeof(p->path[c]));
		if (err == -ENAMETOOLONG) {
			p->path[c][0] = IDENT_TOO_LONG;
			p->path[c][1] = '\0';
		} else if (err < 0) {
			if (err != -ENOENT)
				log_debug("cgroup of pid %d for %s: %s", f->init->pid,
				          c == IDENT_UNIFIED ? "unified" : cg_ctrl_name(c),
				          strerror(-err));
			p->path[c][0] = '\0';
		}
	}
	p->seen_ns = mono_ns();
	if (had && prev.seen_ns && prev.seen_ns <= p->seen_ns &&
	    memcmp(prev.path, p->path, sizeof(p->path)) == 0)
		p->seen_ns = prev.seen_ns;
	*len = sizeof(*p);
	return 0;
}

/* The key of the init of reader pid's pid namespace, through SNAP_PID. 0 or -errno. */
static int ident_init_key(struct worker_ctx *w, pid_t pid, struct proc_key *init)
{
	uint64_t ttl = worker_ttl_ns(w);
	struct proc_key key;
	struct pid_value pv;
	struct snap_key sk;
	char path[32], label[64];
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	err = proc_key_of(AT_FDCWD, path, pid, &key);
	if (err < 0)
		return err;

	/* A process never leaves its pid namespace: its entry lives as long as it does. */
	snap_hash(&key, sizeof(key), &sk);
	snprintf(label, sizeof(label), "pid %d", pid);
	err = snap_get(&w->shm, SNAP_PID, &sk, label, ttl ? UINT64_MAX : 0, fill_pid,
	               &(struct pid_fill){.pid = pid}, &pv, sizeof(pv), &len, &w->who);
	if (err < 0)
		return err;
	if (len != sizeof(pv))
		return -EIO;
	*init = pv.init;
	return 0;
}

int ident_resolve(struct worker_ctx *w, pid_t pid, struct cont_paths *out)
{
	struct proc_key init;
	struct snap_key sk;
	char label[64];
	size_t len;
	int err;

	err = ident_init_key(w, pid, &init);
	if (err < 0)
		return err;
	snap_hash(&init, sizeof(init), &sk);
	snprintf(label, sizeof(label), "init %d", init.pid);
	err = snap_get(&w->shm, SNAP_CONT, &sk, label, worker_ttl_ns(w), fill_cont,
	               &(struct cont_fill){.w = w, .init = &init}, out, sizeof(*out), &len, &w->who);
	if (err < 0)
		return err;
	if (len != sizeof(*out))
		return -EIO;
	/* Values in shm are untrusted: every path must end inside its buffer. */
	for (int c = 0; c <= CG_NCTRL; c++)
		out->path[c][IDENT_PATH_MAX] = '\0';
	return 0;
}

/* SNAP_PID value under an init's start key: what uptime needs of it. */
struct start_value {
	uint64_t start_ticks;
	uint32_t host;
	uint32_t pad;
};

_Static_assert(sizeof(struct start_value) <= SNAP_PID_VALUE, "start value outgrew its table");

/* Its own key in SNAP_PID: the init's key, told from a reader's by the tag. */
struct start_key {
	char tag[8];
	struct proc_key init;
};

static int fill_start(void *ctx, void *value, size_t size, size_t *len)
{
	const struct proc_key *init = ctx;
	struct start_value v = {0};
	char path[32];
	int pfd, err, own = 0;

	if (size < sizeof(v))
		return -ENOSPC;
	snprintf(path, sizeof(path), "/proc/%d", init->pid);
	pfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* Through this fd we read the very process the key names, or nothing. */
	err = proc_key_holds(pfd, "", init);
	if (err == 0) {
		own = reader_ns_is_own(pfd);
		err = own < 0 ? own : reader_start_time(pfd, &v.start_ticks);
	}
	close(pfd);
	if (err < 0)
		return err;
	/* An "init" in our own pid namespace is a host process: the host's uptime. */
	v.host = own == 1;
	memcpy(value, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

int ident_init(struct worker_ctx *w, pid_t pid, struct ident_init *out)
{
	struct start_key k = {.tag = "start"};
	struct start_value v;
	struct snap_key sk;
	char label[64];
	size_t len;
	int err;

	err = ident_init_key(w, pid, &k.init);
	if (err < 0)
		return err;
	/* An init's start and namespace never change: kept as long as it lives. */
	snap_hash(&k, sizeof(k), &sk);
	snprintf(label, sizeof(label), "start %d", k.init.pid);
	err = snap_get(&w->shm, SNAP_PID, &sk, label, worker_ttl_ns(w) ? UINT64_MAX : 0,
	               fill_start, &k.init, &v, sizeof(v), &len, &w->who);
	if (err < 0)
		return err;
	if (len != sizeof(v))
		return -EIO;
	out->pid = k.init.pid;
	out->host = v.host != 0;
	out->start_ticks = v.start_ticks;
	return 0;
}
