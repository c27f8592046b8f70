/*
 * Reader identity from /proc alone.
 *
 * A reader in another pid namespace speaks for the container whose init is
 * pid 1 of that namespace. We find that init by walking up the reader's
 * parents while they stay in its namespace (the ns init is the first one whose
 * innermost pid, the last NSpid field, is 1). A process that joined the
 * namespace with setns() (nsenter, lxc-attach) has a parent outside it; then we
 * scan /proc for the namespace's pid 1. The answer is cached per namespace.
 *
 * Each process is looked at through an open /proc/<pid> directory fd: it is
 * bound to that process, so once its namespace is checked through the fd, a
 * read through it can never see a later process that reused the pid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/reader.h"

/* Longest ancestor chain we follow before deciding the walk is lost (pid reuse races). */
#define READER_MAX_WALK   4096
#define READER_CACHE_SIZE 64
/* /proc/<pid>/status is ~1.5 KiB; /proc/<pid>/cgroup ~1 KiB with v1's dozen lines. */
#define READER_TEXT_BUF 32768

struct ns_id {
	dev_t dev;
	ino_t ino;
};

/* Namespace -> its init, trusted only after re-checking the init's ns and start time. */
struct ns_cache_entry {
	bool used;
	struct ns_id ns;
	pid_t init;
	uint64_t start; /* field 22 of /proc/<init>/stat */
};

static pthread_mutex_t reader_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ns_cache_entry ns_cache[READER_CACHE_SIZE];
static unsigned int ns_cache_next;
/* Our own pid namespace, per process: a fork after unshare(CLONE_NEWPID) changes it. */
static pid_t self_ns_owner;
static struct ns_id self_ns;

static bool ns_eq(const struct ns_id *a, const struct ns_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Open /proc/<pid> as a directory. -ESRCH when the process does not exist. */
static int proc_open(pid_t pid)
{
	char path[32];
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

static int proc_ns(int pfd, struct ns_id *ns)
{
	struct stat st;

	if (fstatat(pfd, "ns/pid", &st, 0) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

/*
 * Read a /proc file of the process at pfd to EOF (these are seq_files, so
 * several reads continue one text). -ESRCH when the process has gone.
 */
static ssize_t proc_read(int pfd, const char *name, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	fd = openat(pfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == size)
		return -EFBIG;
	return (ssize_t)len;
}

/* The value of "Name:\t..." in a status text, as a pointer to its first char. */
static const char *status_field(const char *text, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == ':')
			return p + nlen + 1;
		p = le + 1;
	}
	return NULL;
}

/*
 * Thread group id and parent pid (as we see them) and the innermost-namespace
 * pid of the process at pfd. -EOPNOTSUPP without an NSpid line (before 4.1).
 */
static int proc_status_pids(int pfd, pid_t *tgid, pid_t *ppid, pid_t *inner)
{
	char buf[READER_TEXT_BUF];
	const char *v, *end;
	long last = -1;
	ssize_t n;
	char *e;

	n = proc_read(pfd, "status", buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ESRCH; /* a task being torn down can read empty */
	buf[n] = '\0';

	v = status_field(buf, (size_t)n, "Tgid");
	if (!v)
		return -EINVAL;
	*tgid = (pid_t)strtol(v, &e, 10);
	if (e == v)
		return -EINVAL;
	v = status_field(buf, (size_t)n, "PPid");
	if (!v)
		return -EINVAL;
	*ppid = (pid_t)strtol(v, &e, 10);
	if (e == v)
		return -EINVAL;

	v = status_field(buf, (size_t)n, "NSpid");
	if (!v)
		return -EOPNOTSUPP;
	end = strchrnul(v, '\n');
	/* "NSpid:\t4242\t17\t1": one pid per namespace level, innermost last. */
	while (v < end) {
		long x = strtol(v, &e, 10);

		if (e == v)
			break;
		last = x;
		v = e;
	}
	if (last < 0)
		return -EINVAL;
	*inner = (pid_t)last;
	return 0;
}

int reader_parse_start_time(const char *text, size_t len, uint64_t *ticks)
{
	const char *p = text, *end = text + len, *rp = NULL;
	uint64_t v = 0;

	/* comm (field 2) may hold spaces and ')': fields resume after the last ')'. */
	for (const char *q = text; q < end; q++)
		if (*q == ')')
			rp = q;
	if (!rp)
		return -EINVAL;
	p = rp + 1;
	/* After ") " comes field 3 (state); skip fields 3..21. */
	for (int field = 3; field < 22; field++) {
		while (p < end && *p == ' ')
			p++;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p < '0' || *p > '9')
		return -EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ticks = v;
	return 0;
}

int reader_start_time(int pfd, uint64_t *start)
{
	char buf[4096]; /* ~52 numeric fields and a comm of at most 64 bytes */
	ssize_t n;

	n = proc_read(pfd, "stat", buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	return reader_parse_start_time(buf, (size_t)n, start);
}

static int self_ns_get(struct ns_id *ns)
{
	pid_t me = getpid();
	struct stat st;

	pthread_mutex_lock(&reader_lock);
	if (self_ns_owner == me) {
		*ns = self_ns;
		pthread_mutex_unlock(&reader_lock);
		return 0;
	}
	pthread_mutex_unlock(&reader_lock);

	if (stat("/proc/self/ns/pid", &st) < 0)
		return -errno;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;

	pthread_mutex_lock(&reader_lock);
	self_ns = *ns;
	self_ns_owner = me;
	pthread_mutex_unlock(&reader_lock);
	return 0;
}

int reader_ns_is_own(int pfd)
{
	struct ns_id own = {0}, ns = {0};
	int ret;

	ret = self_ns_get(&own);
	if (ret == 0)
		ret = proc_ns(pfd, &ns);
	return ret < 0 ? ret : ns_eq(&ns, &own);
}

/*
 * Is the process at pfd pid 1 of namespace ns? Returns 1, 0, or -errno.
 */
static int proc_is_ns_init(int pfd, const struct ns_id *ns)
{
	pid_t tgid, ppid, inner;
	struct ns_id id = {0};
	int ret;

	ret = proc_ns(pfd, &id);
	if (ret < 0)
		return ret;
	if (!ns_eq(&id, ns))
		return 0;
	ret = proc_status_pids(pfd, &tgid, &ppid, &inner);
	if (ret < 0)
		return ret;
	return inner == 1;
}

/*
 * Walk up from the reader (pid, open at rfd) to its namespace's init. Returns
 * an open fd of the init's /proc dir with *init set, -ENOENT when the walk
 * leaves the namespace or loses its way (the caller then scans), or -errno.
 */
static int ns_init_walk(pid_t pid, int rfd, const struct ns_id *ns, pid_t *init)
{
	pid_t p = pid;
	int pfd = rfd;

	for (int step = 0; step < READER_MAX_WALK; step++) {
		pid_t tgid, ppid, inner, next;
		struct ns_id id = {0};
		int ret;

		if (pfd != rfd) {
			ret = proc_ns(pfd, &id);
			if (ret < 0 || !ns_eq(&id, ns)) {
				close(pfd);
				return -ENOENT; /* left the namespace, or an ancestor exited */
			}
		}
		ret = proc_status_pids(pfd, &tgid, &ppid, &inner);
		if (ret < 0) {
			if (pfd != rfd)
				close(pfd);
			/* The reader itself gone is final; an ancestor gone means rescan. */
			return pfd == rfd || ret == -EOPNOTSUPP ? ret : -ENOENT;
		}
		if (inner == 1) {
			/* The reader may be the init itself: hand back a fd of our own. */
			if (pfd == rfd) {
				pfd = fcntl(rfd, F_DUPFD_CLOEXEC, 0);
				if (pfd < 0)
					return -errno;
			}
			*init = p;
			return pfd;
		}
		if (pfd != rfd)
			close(pfd);
		/* A thread (FUSE reports thread ids) climbs to its leader first. */
		next = tgid > 0 && tgid != p ? tgid : ppid;
		if (next <= 0)
			return -ENOENT; /* the parent is not visible to us */
		p = next;
		pfd = proc_open(p);
		if (pfd < 0)
			return -ENOENT;
	}
	return -ENOENT;
}

/* Find pid 1 of namespace ns among all processes. */
static int ns_init_scan(const struct ns_id *ns, pid_t *init)
{
	struct dirent *d;
	int ret = -ESRCH;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char *e;
		long pid = strtol(d->d_name, &e, 10);
		int pfd;

		if (*e || pid <= 0)
			continue;
		pfd = openat(dirfd(dir), d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue; /* gone since readdir */
		if (proc_is_ns_init(pfd, ns) == 1) {
			*init = (pid_t)pid;
			ret = pfd;
			break;
		}
		close(pfd);
	}
	closedir(dir);
	return ret;
}

/* A cached init for ns, validated: an open fd of its /proc dir, or -ENOENT. */
static int ns_cache_lookup(const struct ns_id *ns, pid_t *init)
{
	struct ns_cache_entry e = {0};
	uint64_t start;
	int pfd;

	pthread_mutex_lock(&reader_lock);
	for (int i = 0; i < READER_CACHE_SIZE; i++) {
		if (ns_cache[i].used && ns_eq(&ns_cache[i].ns, ns)) {
			e = ns_cache[i];
			break;
		}
	}
	pthread_mutex_unlock(&reader_lock);
	if (!e.used)
		return -ENOENT;

	/*
	 * A pid is only the same process if its namespace and start time still
	 * match; the same process, once pid 1 of its namespace, stays so.
	 */
	pfd = proc_open(e.init);
	if (pfd >= 0) {
		struct ns_id id = {0};

		if (proc_ns(pfd, &id) == 0 && ns_eq(&id, ns) && reader_start_time(pfd, &start) == 0 &&
		    start == e.start) {
			*init = e.init;
			return pfd;
		}
		close(pfd);
	}

	pthread_mutex_lock(&reader_lock);
	for (int i = 0; i < READER_CACHE_SIZE; i++)
		if (ns_cache[i].used && ns_eq(&ns_cache[i].ns, ns) && ns_cache[i].init == e.init)
			ns_cache[i].used = false;
	pthread_mutex_unlock(&reader_lock);
	return -ENOENT;
}

static void ns_cache_store(const struct ns_id *ns, pid_t init, int pfd)
{
	struct ns_cache_entry e = {.used = true, .ns = *ns, .init = init};
	int slot = -1;

	if (reader_start_time(pfd, &e.start) < 0)
		return;
	pthread_mutex_lock(&reader_lock);
	for (int i = 0; i < READER_CACHE_SIZE; i++) {
		if (ns_cache[i].used && ns_eq(&ns_cache[i].ns, ns)) {
			slot = i;
			break;
		}
	}
	if (slot < 0) {
		for (int i = 0; i < READER_CACHE_SIZE && slot < 0; i++)
			if (!ns_cache[i].used)
				slot = i;
	}
	if (slot < 0) /* full: evict round-robin; a miss costs one walk */
		slot = (int)(ns_cache_next++ % READER_CACHE_SIZE);
	ns_cache[slot] = e;
	pthread_mutex_unlock(&reader_lock);
}

/*
 * Resolve the init of pid's namespace (pid itself in our own namespace).
 * Returns an open /proc/<init> directory fd with *init set, or -errno.
 */
static int reader_resolve(pid_t pid, pid_t *init)
{
	struct ns_id own = {0}, ns = {0};
	int rfd, pfd, ret;

	ret = self_ns_get(&own);
	if (ret < 0)
		return ret;
	rfd = proc_open(pid);
	if (rfd < 0)
		return rfd;
	ret = proc_ns(rfd, &ns);
	if (ret < 0)
		goto fail;
	if (ns_eq(&ns, &own)) {
		*init = pid;
		return rfd;
	}

	pfd = ns_cache_lookup(&ns, init);
	if (pfd >= 0)
		goto done;

	pfd = ns_init_walk(pid, rfd, &ns, init);
	if (pfd == -ENOENT)
		pfd = ns_init_scan(&ns, init);
	if (pfd < 0) {
		ret = pfd;
		goto fail;
	}
	ns_cache_store(&ns, *init, pfd);
done:
	close(rfd);
	return pfd;
fail:
	close(rfd);
	return ret;
}

int reader_init_open(pid_t pid, pid_t *init)
{
	if (!init)
		return -EINVAL;
	return reader_resolve(pid, init);
}

int reader_ns_init(pid_t pid, pid_t *init)
{
	pid_t found;
	int pfd;

	if (!init)
		return -EINVAL;
	pfd = reader_resolve(pid, &found);
	if (pfd < 0)
		return pfd;
	close(pfd);
	*init = found;
	return 0;
}

int reader_cgroup(pid_t pid, const struct cg_layout *layout, enum cg_ctrl c, char *out, size_t size)
{
	char buf[READER_TEXT_BUF];
	pid_t init;
	ssize_t n;
	int pfd;

	if (!layout || (unsigned int)c >= CG_NCTRL || !out || size == 0)
		return -EINVAL;
	if (!layout->ctrl[c].present)
		return -ENOENT;

	pfd = reader_resolve(pid, &init);
	if (pfd < 0)
		return pfd;
	/* Read through the init's fd: if it exited meanwhile this fails, never misleads. */
	n = proc_read(pfd, "cgroup", buf, sizeof(buf));
	close(pfd);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ESRCH; /* an exiting task reads empty */
	return cg_path_parse(buf, (size_t)n, &layout->ctrl[c], c, out, size);
}
