/*
 * Block I/O, thread states, CPU time and verbatim files of one cgroup, read
 * below a hierarchy root fd (see cg_misc.h).
 *
 * As in cg_memory.c, a cgroup is reached one path component at a time with
 * openat() from the root, so no absolute path is built and no ".." or symlink
 * can lead out of the hierarchy. The files here can be long (a tasks file
 * lists every thread, io.stat every device), so each is read to EOF into a
 * growing buffer with cg_read_text(); cgroupfs serves them as seq_files, which
 * continue one text across reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/cg_fs.h"
#include "workers/cg_misc.h"

/* Nanoseconds per millisecond: blkio times are in ns, diskstats in ms. */
#define NS_PER_MS 1000000ULL

/* "MAJ:MIN" exactly. */
static int cgm_parse_dev(const char *s, size_t len, unsigned int *major, unsigned int *minor)
{
	const char *colon = memchr(s, ':', len);
	uint64_t ma, mi;

	if (!colon)
		return -EINVAL;
	if (cg_parse_u64(s, (size_t)(colon - s), &ma) < 0 ||
	    cg_parse_u64(colon + 1, (size_t)(s + len - colon - 1), &mi) < 0)
		return -EINVAL;
	if (ma > UINT_MAX || mi > UINT_MAX)
		return -EINVAL;
	*major = (unsigned int)ma;
	*minor = (unsigned int)mi;
	return 0;
}

/* Next blank-separated token of [*p, end): false at the end of the line. */
static bool cgm_token(const char **p, const char *end, const char **tok, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return false;
	*tok = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return true;
}

static bool cgm_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Devices being collected; never more than max. */
struct io_table {
	struct io_dev_stats *dev;
	size_t n, max;
};

static struct io_dev_stats *io_slot(struct io_table *t, unsigned int major, unsigned int minor)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->dev[i].major == major && t->dev[i].minor == minor)
			return &t->dev[i];
	if (t->n == t->max)
		return NULL;
	t->dev[t->n] = (struct io_dev_stats){.major = major, .minor = minor};
	return &t->dev[t->n++];
}

/*
 * What one v1 blkio file feeds: per operation ("Read", "Write", "Discard",
 * "Total") the field it adds to, NULL to ignore. Times are in ns and divided
 * per file before adding, as upstream does (service + wait, each in ms).
 */
struct blkio_file {
	const char *name;
	size_t rd, wr, dis, total; /* offsetof a uint64_t field, or NO_FIELD */
	bool ns;
};

#define NO_FIELD  ((size_t)-1)
#define IO_OFF(f) offsetof(struct io_dev_stats, f)

static const struct blkio_file blkio_cfq[] = {
    {"blkio.io_serviced_recursive", IO_OFF(rios), IO_OFF(wios), IO_OFF(dios), NO_FIELD, false},
    {"blkio.io_service_bytes_recursive", IO_OFF(rbytes), IO_OFF(wbytes), IO_OFF(dbytes), NO_FIELD,
     false},
    {"blkio.io_merged_recursive", IO_OFF(rmerged), IO_OFF(wmerged), IO_OFF(dmerged), NO_FIELD,
     false},
    {"blkio.io_service_time_recursive", IO_OFF(rticks_ms), IO_OFF(wticks_ms), IO_OFF(dticks_ms),
     IO_OFF(io_ticks_ms), true},
    {"blkio.io_wait_time_recursive", IO_OFF(rticks_ms), IO_OFF(wticks_ms), IO_OFF(dticks_ms),
     NO_FIELD, true},
};

static const struct blkio_file blkio_throttle[] = {
    {"blkio.throttle.io_serviced_recursive", IO_OFF(rios), IO_OFF(wios), IO_OFF(dios), NO_FIELD,
     false},
    {"blkio.throttle.io_service_bytes_recursive", IO_OFF(rbytes), IO_OFF(wbytes), IO_OFF(dbytes),
     NO_FIELD, false},
};

static void io_add(struct io_dev_stats *d, size_t off, uint64_t v)
{
	uint64_t *f;

	if (off == NO_FIELD)
		return;
	f = (uint64_t *)((char *)d + off);
	*f += v;
}

/*
 * Parse one v1 blkio text: "MAJ:MIN Op value" lines and a last "Total value".
 * Operations we have no field for (Sync, Async) and ones a later kernel may
 * add are skipped, but every line must have the shape.
 */
static int blkio_parse(const char *text, size_t len, const struct blkio_file *f, struct io_table *t)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *tok[3], *q = p;
		size_t tlen[3], ntok = 0, off = NO_FIELD;
		unsigned int major, minor;
		struct io_dev_stats *d;
		uint64_t v;

		while (ntok < 3 && cgm_token(&q, le, &tok[ntok], &tlen[ntok]))
			ntok++;
		p = le + 1;
		if (ntok == 0)
			continue;
		if (ntok == 2 && cgm_is(tok[0], tlen[0], "Total")) {
			/* the sum over devices: check it, use nothing */
			if (cg_parse_u64(tok[1], tlen[1], &v) < 0)
				return -EINVAL;
			continue;
		}
		if (ntok != 3 || cgm_token(&q, le, &tok[0], &tlen[0]))
			return -EINVAL;
		if (cgm_parse_dev(tok[0], tlen[0], &major, &minor) < 0 ||
		    cg_parse_u64(tok[2], tlen[2], &v) < 0)
			return -EINVAL;

		if (cgm_is(tok[1], tlen[1], "Read"))
			off = f->rd;
		else if (cgm_is(tok[1], tlen[1], "Write"))
			off = f->wr;
		else if (cgm_is(tok[1], tlen[1], "Discard"))
			off = f->dis;
		else if (cgm_is(tok[1], tlen[1], "Total"))
			off = f->total;
		if (off == NO_FIELD)
			continue;

		d = io_slot(t, major, minor);
		if (!d)
			return -ENOSPC;
		io_add(d, off, f->ns ? v / NS_PER_MS : v);
	}
	return 0;
}

/*
 * Parse io.stat: "MAJ:MIN key=value ..." per device. Keys we do not use
 * (io.latency's, io.cost's, "cost.vrate=100.00") are skipped whatever their
 * value; the ones we use must be decimal.
 */
static int iostat_parse(const char *text, size_t len, struct io_table *t)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"rbytes", IO_OFF(rbytes)}, {"wbytes", IO_OFF(wbytes)}, {"rios", IO_OFF(rios)},
	    {"wios", IO_OFF(wios)},     {"dbytes", IO_OFF(dbytes)}, {"dios", IO_OFF(dios)},
	};
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *tok, *q = p;
		unsigned int major, minor;
		struct io_dev_stats *d, tmp;
		size_t tlen;

		p = le + 1;
		if (!cgm_token(&q, le, &tok, &tlen))
			continue;
		if (cgm_parse_dev(tok, tlen, &major, &minor) < 0)
			return -EINVAL;
		tmp = (struct io_dev_stats){.major = major, .minor = minor};
		while (cgm_token(&q, le, &tok, &tlen)) {
			const char *eq = memchr(tok, '=', tlen);
			uint64_t v;

			if (!eq || eq == tok)
				return -EINVAL;
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
				if (!cgm_is(tok, (size_t)(eq - tok), keys[i].key))
					continue;
				if (cg_parse_u64(eq + 1, (size_t)(tok + tlen - eq - 1), &v) < 0)
					return -EINVAL;
				*(uint64_t *)((char *)&tmp + keys[i].off) = v;
			}
		}
		d = io_slot(t, major, minor);
		if (!d)
			return -ENOSPC;
		*d = tmp;
	}
	return 0;
}

/*
 * Read and parse each file of a v1 set; the first one decides whether the set
 * exists. With need_devices, a first file that lists no device at all gives
 * -ENODATA: blk-throttle keeps statistics only for disks where it was set up
 * (6.x kernels do it at the first rule written for the disk, which
 * --enable-io-accounting writes for every disk), and prints just "Total 0"
 * for a cgroup that did no I/O on such a disk.
 */
static int blkio_read_set(int dirfd, const struct blkio_file *set, size_t nfiles, bool need_devices,
                          struct fbuf *b, struct io_table *t)
{
	for (size_t i = 0; i < nfiles; i++) {
		ssize_t len = cg_read_text(dirfd, set[i].name, b);
		int ret;

		if (len == -ENOENT && i == 0)
			return -EOPNOTSUPP;
		if (len < 0)
			return (int)len; /* the rest missing: the cgroup went away */
		ret = blkio_parse(b->data, (size_t)len, &set[i], t);
		if (ret < 0)
			return ret;
		if (i == 0 && need_devices && t->n == 0)
			return -ENODATA;
	}
	return 0;
}

int cg_read_io(int root_fd, int version, const char *path, struct io_dev_stats *out, size_t max,
               size_t *n)
{
	struct io_table t = {.max = max};
	struct fbuf b = {0};
	int dirfd, ret;

	if (!n || (!out && max) || (version != 1 && version != 2))
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	/* Collect aside: out stays untouched unless everything parsed. */
	t.dev = calloc(max ? max : 1, sizeof(*t.dev));
	if (!t.dev) {
		ret = -ENOMEM;
		goto out;
	}

	if (version == 2) {
		ssize_t len = cg_read_text(dirfd, "io.stat", &b);

		if (len == -ENOENT)
			ret = -EOPNOTSUPP; /* io not enabled for this cgroup */
		else if (len < 0)
			ret = (int)len;
		else
			ret = iostat_parse(b.data, (size_t)len, &t);
	} else {
		ret = blkio_read_set(dirfd, blkio_cfq, sizeof(blkio_cfq) / sizeof(blkio_cfq[0]),
		                     false, &b, &t);
		if (ret == -EOPNOTSUPP) {
			t.n = 0;
			ret = blkio_read_set(dirfd, blkio_throttle,
			                     sizeof(blkio_throttle) / sizeof(blkio_throttle[0]),
			                     true, &b, &t);
		}
	}
	if (ret == 0) {
		if (t.n)
			memcpy(out, t.dev, t.n * sizeof(*t.dev));
		*n = t.n;
	}
out:
	free(b.data);
	free(t.dev);
	close(dirfd);
	return ret;
}

/* State of the cgroup walk of cg_count_tasks(). */
struct task_walk {
	int proc_fd;      /* /proc */
	const char *file; /* "tasks" or "cgroup.threads" */
	struct fbuf buf;
	unsigned int dirs, threads;
	unsigned int running, total;
	unsigned int runnable, blocked; /* R, D: /proc/stat's procs_running, procs_blocked */
	pid_t reader;                   /* counted runnable, whatever its state */
	pid_t last;
};

/*
 * State letter of thread tid, or 0 when it has gone. Only the start of stat
 * is needed: the state follows the command name, the last ')' of the line.
 * Read from <tid>/task/<tid>/stat, the thread's own: <tid>/stat is its whole
 * process's, which sums the times of every thread of the process on each
 * read (a walk of a process with n threads would cost n^2; measured on a
 * 1000-thread process: 50 us per thread against 12).
 */
static char tw_state(int proc_fd, pid_t tid)
{
	char path[48], buf[256];
	const char *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%d/task/%d/stat", (int)tid, (int)tid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm is at most 64 bytes, so its ')' is within what we read */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || !paren[2])
		return 0;
	return paren[2];
}

/* Count the threads listed in this cgroup's tasks file. */
static int tw_count(struct task_walk *tw, int dirfd)
{
	const char *p, *end;
	ssize_t len;

	len = cg_read_text(dirfd, tw->file, &tw->buf);
	if (len < 0)
		return (int)len;
	p = tw->buf.data;
	end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		uint64_t id;
		char state;

		if (le == p) {
			p = le + 1;
			continue;
		}
		if (cg_parse_u64(p, (size_t)(le - p), &id) < 0 || id == 0 || id > INT_MAX)
			return -EINVAL;
		p = le + 1;
		if (++tw->threads > CG_WALK_MAX_TASKS)
			return -E2BIG;

		state = tw_state(tw->proc_fd, (pid_t)id);
		if (!state)
			continue; /* exited since the list was read */
		tw->total++;
		if (state == 'R' || state == 'D')
			tw->running++;
		if (state == 'R' || (pid_t)id == tw->reader)
			tw->runnable++;
		else if (state == 'D')
			tw->blocked++;
		if ((pid_t)id > tw->last)
			tw->last = (pid_t)id;
	}
	return 0;
}

static bool tw_is_dir(int dirfd, const struct dirent *e)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	return fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Count dirfd's cgroup, then each child cgroup, depth levels below the start. */
static int tw_walk(struct task_walk *tw, int dirfd, unsigned int depth)
{
	struct dirent *e;
	int fd, ret;
	DIR *dir;

	ret = tw_count(tw, dirfd);
	if (ret < 0)
		return ret;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while ((errno = 0, e = readdir(dir))) {
		int child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!tw_is_dir(fd, e))
			continue;
		if (depth + 1 > CG_WALK_MAX_DEPTH || ++tw->dirs > CG_WALK_MAX_DIRS) {
			ret = -E2BIG;
			break;
		}
		child = openat(fd, e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0) {
			if (errno == ENOENT)
				continue; /* removed since readdir */
			ret = -errno;
			break;
		}
		ret = tw_walk(tw, child, depth + 1);
		close(child);
		if (ret == -ENOENT) {
			ret = 0; /* the child cgroup was removed while we read it */
			continue;
		}
		if (ret < 0)
			break;
	}
	if (ret == 0 && errno != 0)
		ret = -errno;
	closedir(dir);
	return ret;
}

int cg_count_tasks_at(int dirfd, int version, unsigned *running, unsigned *total, pid_t *last)
{
	struct task_walk tw = {.proc_fd = -1};
	int ret;

	if (!running || !total || !last || (version != 1 && version != 2))
		return -EINVAL;
	tw.file = version == 1 ? "tasks" : "cgroup.threads";
	tw.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tw.proc_fd < 0)
		return -errno;
	ret = tw_walk(&tw, dirfd, 0);
	if (ret == 0) {
		*running = tw.running;
		*total = tw.total;
		*last = tw.last;
	}
	free(tw.buf.data);
	close(tw.proc_fd);
	return ret;
}

int cg_count_tasks(int root_fd, int version, const char *path, unsigned *running, unsigned *total,
                   pid_t *last)
{
	int dirfd, ret;

	if (!running || !total || !last || (version != 1 && version != 2))
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	ret = cg_count_tasks_at(dirfd, version, running, total, last);
	close(dirfd);
	return ret;
}

/* The value of the "key value" line of a flat-keyed file (cpu.stat). */
static int cgm_keyed_value(const char *text, size_t len, const char *key, uint64_t *v)
{
	const char *p = text, *end = text + len;
	size_t klen = strlen(key);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ' ')
			return cg_parse_u64(p + klen + 1, (size_t)(le - p - klen - 1), v);
		p = le + 1;
	}
	return -EINVAL; /* every kernel with cpu.stat prints usage_usec */
}

int cg_read_cpu_usage(int root_fd, int version, const char *path, uint64_t *usage_ns)
{
	struct fbuf b = {0};
	ssize_t len;
	uint64_t v;
	int dirfd, ret;

	if (!usage_ns || (version != 1 && version != 2))
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	len = cg_read_text(dirfd, version == 1 ? "cpuacct.usage" : "cpu.stat", &b);
	if (len < 0) {
		ret = (int)len;
		goto out;
	}
	if (version == 1) {
		while (len > 0 && (b.data[len - 1] == '\n' || b.data[len - 1] == ' '))
			len--;
		ret = cg_parse_u64(b.data, (size_t)len, &v);
	} else {
		ret = cgm_keyed_value(b.data, (size_t)len, "usage_usec", &v);
		if (ret == 0 && v > UINT64_MAX / 1000)
			ret = -EINVAL;
		if (ret == 0)
			v *= 1000;
	}
	if (ret == 0)
		*usage_ns = v;
out:
	free(b.data);
	close(dirfd);
	return ret;
}

ssize_t cg_read_file(int root_fd, const char *path, const char *name, struct fbuf *b)
{
	ssize_t len;
	int dirfd;

	if (!name || !b || strchr(name, '/'))
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	len = cg_read_text(dirfd, name, b);
	close(dirfd);
	return len;
}

int cg_count_states(int root_fd, int version, const char *path, pid_t reader,
                    struct cg_task_states *out)
{
	struct task_walk tw = {.proc_fd = -1, .reader = reader};
	int dirfd, ret;

	if (!out || (version != 1 && version != 2))
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	tw.file = version == 1 ? "tasks" : "cgroup.threads";
	tw.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tw.proc_fd < 0) {
		ret = -errno;
		close(dirfd);
		return ret;
	}
	ret = tw_walk(&tw, dirfd, 0);
	if (ret == 0)
		*out = (struct cg_task_states){tw.runnable, tw.blocked, tw.total};
	free(tw.buf.data);
	close(tw.proc_fd);
	close(dirfd);
	return ret;
}
