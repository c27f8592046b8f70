/*
 * --enable-io-accounting: turn on the kernel's v1 blkio statistics for every
 * disk, without limiting anything, so that a container's diskstats is its own.
 *
 * Since blk-mq (kernel 5.0) the only v1 per-cgroup I/O statistics are
 * blk-throttle's (blkio.throttle.io_serviced and io_service_bytes), and
 * recent kernels keep them only on a disk where blk-throttle was set up: the
 * first write of a rule for that disk to any cgroup's throttle file
 * (blk_throtl_init(), from tg_set_conf()). A disk no one ever limited counts
 * nothing, and every container's diskstats falls back to the host's.
 *
 * The least intrusive write there is sets no limit at all: "MAJ:MIN 0", the
 * value that means "no rule", to blkio.throttle.read_bps_device of a cgroup
 * of our own that holds no process (lxcfs-io-accounting.<pid>, below
 * lxcfs's own blkio cgroup), which is removed at once. The kernel then
 * counts every bio of every cgroup on that disk (a per-CPU counter add per
 * bio; no bio is ever held, as no rule exists); nothing else changes. Checked
 * on 6.18: a cgroup's statistics count its I/O from that write on, and go on
 * counting after the cgroup and the write are gone. The kernel keeps them
 * until the disk is removed: no interface turns them off again, so there is
 * nothing of the kernel's to undo at exit, and nothing of ours (the cgroup
 * is gone before this process ends; one left by a helper killed midway is
 * removed by the next run).
 *
 * Runs as its own process, "lxcfs-worker --io-accounting start|exit", which
 * the master starts at start, every minute (disks added later, such as loop
 * devices made for containers), and at exit; the master never touches
 * cgroupfs. A disk whose statistics are on already (root's
 * blkio.throttle.io_serviced lists it) is left alone. Exit status 0 unless
 * the blkio hierarchy could not be used at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/log.h"
#include "workers/cg_fs.h"
#include "workers/cgroup.h"
#include "workers/io_accounting.h"
#include "workers/procfs.h"

#define IOACCT_PREFIX "lxcfs-io-accounting."

/* Our own blkio cgroup's folder into out. 0 or -errno. */
static int own_blkio_dir(const struct cg_layout *l, char *out, size_t size)
{
	const struct cg_hier *h = &l->ctrl[CG_BLKIO];
	struct fbuf b = {0};
	char path[CG_PROC_PATH_MAX];
	ssize_t n;
	int err;

	n = procfs_read(AT_FDCWD, "/proc/self/cgroup", &b);
	if (n < 0)
		return (int)n;
	err = cg_path_parse(b.data, (size_t)n, h, CG_BLKIO, path, sizeof(path));
	free(b.data);
	if (err < 0)
		return err;
	n = snprintf(out, size, "%s%s", h->mount, strcmp(path, "/") == 0 ? "" : path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Remove our cgroups left by helpers that died before removing them. */
static void sweep_leftovers(const char *own)
{
	struct dirent *e;
	DIR *d = opendir(own);

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char dir[PATH_MAX + 256];
		long pid;

		if (strncmp(e->d_name, IOACCT_PREFIX, strlen(IOACCT_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(IOACCT_PREFIX), NULL, 10);
		if (pid <= 0 || pid == getpid() || (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", own, e->d_name);
		if (rmdir(dir) == 0)
			log_info("io accounting: removed %s, left by a helper that died", dir);
		else
			log_warn("io accounting: rmdir %s: %s", dir, strerror(errno));
	}
	closedir(d);
}

/* Whether root's throttle statistics list device dev ("MAJ:MIN"): counted already. */
static bool counted(const char *root_stats, const char *dev)
{
	size_t n = strlen(dev);

	for (const char *p = root_stats; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, dev, n) == 0 && p[n] == ' ')
			return true;
	return false;
}

/* Append "name (dev)" to a list for the log. */
static void note(char *list, size_t size, const char *name, const char *dev)
{
	size_t len = strlen(list);

	snprintf(list + len, size - len, "%s%s (%s)", len ? ", " : "", name, dev);
}

/*
 * Turn the statistics on for every disk of /sys/block not counted yet,
 * through a cgroup of ours made for it and removed at once. 0 or -errno.
 */
static int accounting_on(const char *mount, const char *own)
{
	static char turned[4096], failed[4096];
	struct fbuf root = {0};
	char cg[PATH_MAX + 64], file[PATH_MAX + 128], path[PATH_MAX + 64];
	unsigned already = 0;
	struct dirent *e;
	bool made = false;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "%s/blkio.throttle.io_serviced", mount);
	n = procfs_read(AT_FDCWD, path, &root);
	if (n < 0) {
		log_warn("io accounting: read %s: %s: not turned on", path, strerror((int)-n));
		return (int)n;
	}
	d = opendir("/sys/block");
	if (!d) {
		n = -errno;
		log_warn("io accounting: opendir /sys/block: %s: not turned on", strerror(errno));
		free(root.data);
		return (int)n;
	}
	snprintf(cg, sizeof(cg), "%s/" IOACCT_PREFIX "%d", own, (int)getpid());
	snprintf(file, sizeof(file), "%s/blkio.throttle.read_bps_device", cg);
	turned[0] = failed[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		char dev[64], rule[96];
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dev", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, dev, sizeof(dev) - 1);
		close(fd);
		if (n <= 0)
			continue;
		dev[cg_trim(dev, (size_t)n)] = '\0';
		if (counted(root.data, dev)) {
			already++;
			continue;
		}
		if (!made && mkdir(cg, 0755) < 0 && errno != EEXIST) {
			log_warn("io accounting: mkdir %s: %s: not turned on", cg, strerror(errno));
			break;
		}
		made = true;
		/* "0" is "no limit": the write sets blk-throttle up and limits nothing. */
		snprintf(rule, sizeof(rule), "%s 0\n", dev);
		fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, rule, strlen(rule)) < 0) {
			log_debug("io accounting: %s on %s: %s", rule, file, strerror(errno));
			note(failed, sizeof(failed), e->d_name, dev);
		} else {
			note(turned, sizeof(turned), e->d_name, dev);
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	free(root.data);
	if (made && rmdir(cg) < 0)
		log_warn("io accounting: rmdir %s: %s", cg, strerror(errno));
	if (turned[0])
		log_info("io accounting: kernel blkio statistics turned on for %s (no limit set; "
		         "%u disk(s) counted already)",
		         turned, already);
	else
		log_debug("io accounting: every disk counted already (%u)", already);
	if (failed[0])
		log_debug("io accounting: not for %s (no request queue to count on)", failed);
	return 0;
}

int io_accounting_main(const char *mode)
{
	struct cg_layout l;
	char own[PATH_MAX];
	int err;

	if (strcmp(mode, "start") != 0 && strcmp(mode, "exit") != 0) {
		log_err("io accounting: unknown mode '%s'", mode);
		return 2;
	}
	err = cg_layout_detect(&l);
	if (err < 0) {
		log_err("io accounting: cgroup layout: %s", strerror(-err));
		return 1;
	}
	if (!l.ctrl[CG_BLKIO].present || l.ctrl[CG_BLKIO].version != 1) {
		if (strcmp(mode, "start") == 0)
			log_info("io accounting: no v1 blkio hierarchy: %s",
			         l.ctrl[CG_BLKIO].present ? "io.stat counts every disk already"
			                                  : "nothing to turn on");
		return 0;
	}
	err = own_blkio_dir(&l, own, sizeof(own));
	if (err < 0) {
		log_err("io accounting: our own blkio cgroup: %s", strerror(-err));
		return 1;
	}
	sweep_leftovers(own);
	if (strcmp(mode, "exit") == 0) {
		log_info("io accounting: nothing of ours left in cgroupfs; the kernel keeps its "
		         "blkio statistics on each disk until the disk is removed (no interface "
		         "turns them off)");
		return 0;
	}
	return accounting_on(l.ctrl[CG_BLKIO].mount, own) < 0 ? 1 : 0;
}
