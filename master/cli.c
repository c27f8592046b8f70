/*
 * Command line parsing. Unknown options print the usage and exit 2, as a
 * service manager should see a misconfiguration at once.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/cli.h"

#ifndef LXCFS_VERSION
#define LXCFS_VERSION "0.0.0"
#endif
#ifndef LXCFS_BUILD_ID
#define LXCFS_BUILD_ID "unknown"
#endif
#ifndef LXCFS_LIBEXECDIR
#define LXCFS_LIBEXECDIR "/usr/local/libexec/lxcfs"
#endif

enum {
	OPT_RUNTIME_DIR = 256,
	OPT_ENABLE_CFS,
	OPT_ENABLE_PIDFD,
	OPT_ENABLE_CGROUP,
	OPT_ENABLE_PSI_POLL,
	OPT_WORKERS,
	OPT_CACHE_TTL,
	OPT_WORKER_BINARY,
	OPT_REQUEST_TIMEOUT,
	OPT_MAX_CGROUPS,
	OPT_MAX_PIDS,
	OPT_MAX_HANDLES,
	OPT_CONTAINER_HANDLES,
	OPT_CONTENT_MIB,
	OPT_CONTAINER_CONTENT_MIB,
	OPT_LOG,
	OPT_TAKEOVER,
	OPT_STANDBY,
	OPT_ENABLE_IO_ACCOUNTING,
};

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: lxcfs [options] MOUNTPOINT\n"
	        "\n"
	        "Container-aware /proc files served from MOUNTPOINT (usually /var/lib/lxcfs).\n"
	        "\n"
	        "Options:\n"
	        "  -f, --foreground          stay in the foreground (the default)\n"
	        "  -d, --debug               foreground, with debug logging\n"
	        "  -l, --enable-loadavg      virtualize /proc/loadavg\n"
	        "  -u, --disable-swap        show no swap (SwapTotal/SwapFree 0)\n"
	        "  -z, --disable-zswap       show Zswap lines as 0\n"
	        "      --enable-cfs          count CPUs from the CFS quota too\n"
	        "      --enable-pidfd        accepted; pidfds are always used\n"
	        "      --enable-cgroup       accepted; no cgroup tree is served\n"
	        "      --enable-psi-poll     accepted; pressure files are read, not polled\n"
	        "      --enable-io-accounting  turn the kernel's v1 blkio statistics on for\n"
	        "                            every disk (no limit set), so that diskstats\n"
	        "                            is each container's own\n"
	        "  -s                        accepted; there is no multithreaded loop to disable\n"
	        "  -p, --pidfile FILE        pidfile, locked (default RUNTIME_DIR/lxcfs.pid)\n"
	        "      --runtime-dir DIR     pidfile and control socket location (default /run)\n"
	        "  -o OPTS                   extra FUSE mount options (repeatable); upstream's\n"
	        "                            allow_other, nonempty, direct_io, entry_timeout=N\n"
	        "                            and attr_timeout=N are accepted and dropped\n"
	        "      --workers N           worker processes (default: CPUs, at least 2)\n"
	        "      --cache-ttl-ms MS     cgroup value freshness bound (default 100)\n"
	        "      --worker-binary PATH  lxcfs-worker to run (default: beside lxcfs)\n"
	        "      --request-timeout-ms MS  re-dispatch a request a worker has not\n"
	        "                            answered by then (default 500)\n"
	        "      --max-cgroups N       cgroups the shared snapshot holds (default 10000)\n"
	        "      --max-pids N          readers the identity cache holds (default 100000)\n"
	        "      --max-handles N       files open at once, all readers (default 262144)\n"
	        "      --container-handles N files one container may hold open\n"
	        "                            (default max-handles / 64)\n"
	        "      --content-mib N       memory for open files' content (default 64)\n"
	        "      --container-content-mib N  content one container may hold\n"
	        "                            (default content-mib / 8)\n"
	        "      --log TARGET          where the master and the workers log:\n"
	        "                              stderr    lines on standard error\n"
	        "                              syslog    /dev/log, facility daemon, ident lxcfs\n"
	        "                              journald  journald's socket, with PRIORITY,\n"
	        "                                        SYSLOG_IDENTIFIER=lxcfs, LXCFS_WORKER\n"
	        "                              auto      journald if running, else syslog if\n"
	        "                                        /dev/log exists, else stderr\n"
	        "                            default: stderr, unless stderr is /dev/null or\n"
	        "                            closed (auto) or systemd's journal stream (journald)\n"
	        "      --takeover            take the mount over from the lxcfs serving it\n"
	        "                            (same runtime dir), without unmounting: this\n"
	        "                            build and these options replace the running ones\n"
	        "  -h, --help                this text\n"
	        "  -v, --version             version and build id\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out > max)
		return -EINVAL;
	return 0;
}

/* A numeric option's value within [min, max], or a usage error naming it. */
static int num_arg(const char *name, const char *arg, unsigned long min, unsigned long max,
                   uint32_t *out)
{
	unsigned long v;

	if (parse_uint(arg, max, &v) < 0 || v < min) {
		fprintf(stderr, "lxcfs: --%s takes %lu to %lu, not '%s'\n", name, min, max, arg);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/*
 * Mount options upstream's command lines carry that mean nothing here, or
 * that we always do: every reader is let in (allow_other), libfuse 3 mounts
 * on a non-empty folder anyway (nonempty), every file is opened with direct
 * I/O (direct_io), and the timeouts are ours (entry_timeout, attr_timeout).
 * Upstream drops them too; libfuse 3 would refuse all but the first, and a
 * drop-in must start from the command line an init script already has.
 */
static bool fuse_opt_dropped(const char *tok, size_t len)
{
	static const char *const flags[] = {"allow_other", "nonempty", "direct_io"};
	static const char *const valued[] = {"entry_timeout=", "attr_timeout="};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strlen(flags[i]) == len && memcmp(tok, flags[i], len) == 0)
			return true;
	for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
		if (len >= strlen(valued[i]) && memcmp(tok, valued[i], strlen(valued[i])) == 0)
			return true;
	return false;
}

/*
 * Add the options of one -o (comma-separated, "\," escapes a comma as in
 * libfuse) to those passed on to the mount, less the dropped ones. Returns
 * -E2BIG when they do not fit.
 */
static int fuse_opts_add(struct cli *c, const char *arg)
{
	size_t used = strlen(c->fuse_opts_buf);

	for (const char *tok = arg, *end; *tok; tok = *end ? end + 1 : end) {
		size_t len;

		for (end = tok; *end && *end != ','; end++)
			if (end[0] == '\\' && end[1])
				end++;
		len = (size_t)(end - tok);
		if (len == 0 || fuse_opt_dropped(tok, len))
			continue;
		if (used + len + 2 > sizeof(c->fuse_opts_buf))
			return -E2BIG;
		if (used)
			c->fuse_opts_buf[used++] = ',';
		memcpy(c->fuse_opts_buf + used, tok, len);
		used += len;
		c->fuse_opts_buf[used] = '\0';
	}
	c->fuse_opts = used ? c->fuse_opts_buf : NULL;
	return 0;
}

/* Where the worker binary sits relative to ours: the build folder or an install. */
static void default_worker(struct cli *c)
{
	char self[PATH_MAX], dir[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	c->worker_binary = LXCFS_LIBEXECDIR "/lxcfs-worker";
	if (n <= 0)
		return;
	self[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(self));
	snprintf(c->worker_buf, sizeof(c->worker_buf), "%s/lxcfs-worker", dir);
	if (access(c->worker_buf, X_OK) == 0) {
		c->worker_binary = c->worker_buf;
		return;
	}
	snprintf(self, sizeof(self), "%s/../libexec/lxcfs/lxcfs-worker", dir);
	if (access(self, X_OK) == 0 && realpath(self, c->worker_buf))
		c->worker_binary = c->worker_buf;
}

int cli_parse(int argc, char **argv, struct cli *c)
{
	static const struct option longopts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"debug", no_argument, NULL, 'd'},
	    {"enable-loadavg", no_argument, NULL, 'l'},
	    {"disable-swap", no_argument, NULL, 'u'},
	    {"disable-zswap", no_argument, NULL, 'z'},
	    {"pidfile", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	    {"enable-cfs", no_argument, NULL, OPT_ENABLE_CFS},
	    {"enable-pidfd", no_argument, NULL, OPT_ENABLE_PIDFD},
	    {"enable-cgroup", no_argument, NULL, OPT_ENABLE_CGROUP},
	    {"enable-psi-poll", no_argument, NULL, OPT_ENABLE_PSI_POLL},
	    {"workers", required_argument, NULL, OPT_WORKERS},
	    {"cache-ttl-ms", required_argument, NULL, OPT_CACHE_TTL},
	    {"worker-binary", required_argument, NULL, OPT_WORKER_BINARY},
	    {"request-timeout-ms", required_argument, NULL, OPT_REQUEST_TIMEOUT},
	    {"max-cgroups", required_argument, NULL, OPT_MAX_CGROUPS},
	    {"max-pids", required_argument, NULL, OPT_MAX_PIDS},
	    {"max-handles", required_argument, NULL, OPT_MAX_HANDLES},
	    {"container-handles", required_argument, NULL, OPT_CONTAINER_HANDLES},
	    {"content-mib", required_argument, NULL, OPT_CONTENT_MIB},
	    {"container-content-mib", required_argument, NULL, OPT_CONTAINER_CONTENT_MIB},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"takeover", no_argument, NULL, OPT_TAKEOVER},
	    {"standby", no_argument, NULL, OPT_STANDBY},
	    {"enable-io-accounting", no_argument, NULL, OPT_ENABLE_IO_ACCOUNTING},
	    {NULL, 0, NULL, 0},
	};
	uint32_t workers = 0;
	bool log_given = false;
	long ncpu;
	int opt;

	memset(c, 0, sizeof(*c));
	c->foreground = true;
	c->runtime_dir = "/run";
	c->cache_ttl_ms = 100;
	c->request_timeout_ms = 500;
	c->max_cgroups = 10000;
	c->max_pids = 100000;
	c->max_handles = 262144;
	c->content_mib = 64;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = ncpu < 2 ? 2 : (ncpu > 64 ? 64 : (int)ncpu);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "fdluzsp:o:hv", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			c->foreground = true;
			break;
		case 'd':
			c->debug = true;
			c->foreground = true;
			break;
		case 'l':
			c->loadavg = true;
			break;
		case 'u':
			c->swap_off = true;
			break;
		case 'z':
			c->zswap_off = true;
			break;
		case 's':
		case OPT_ENABLE_PIDFD:
		case OPT_ENABLE_CGROUP:
		case OPT_ENABLE_PSI_POLL:
			break;
		case 'p':
			c->pidfile = optarg;
			break;
		case 'o':
			if (fuse_opts_add(c, optarg) < 0) {
				fprintf(stderr, "lxcfs: -o: more mount options than fit in %zu bytes\n",
				        sizeof(c->fuse_opts_buf) - 1);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'v':
			printf("lxcfs %s (build %s)\n", LXCFS_VERSION, LXCFS_BUILD_ID);
			return 1;
		case OPT_RUNTIME_DIR:
			c->runtime_dir = optarg;
			break;
		case OPT_ENABLE_CFS:
			c->cfs = true;
			break;
		case OPT_WORKERS:
			if (num_arg("workers", optarg, 1, 64, &workers) < 0)
				return 2;
			c->workers = (int)workers;
			break;
		case OPT_CACHE_TTL:
			if (num_arg("cache-ttl-ms", optarg, 0, 3600000, &c->cache_ttl_ms) < 0)
				return 2;
			break;
		case OPT_REQUEST_TIMEOUT:
			if (num_arg("request-timeout-ms", optarg, 10, 600000,
			            &c->request_timeout_ms) < 0)
				return 2;
			break;
		case OPT_MAX_CGROUPS:
			if (num_arg("max-cgroups", optarg, 16, 1u << 22, &c->max_cgroups) < 0)
				return 2;
			break;
		case OPT_MAX_PIDS:
			if (num_arg("max-pids", optarg, 16, 1u << 24, &c->max_pids) < 0)
				return 2;
			break;
		case OPT_MAX_HANDLES:
			if (num_arg("max-handles", optarg, 64, 1u << 24, &c->max_handles) < 0)
				return 2;
			break;
		case OPT_CONTAINER_HANDLES:
			if (num_arg("container-handles", optarg, 1, 1u << 24,
			            &c->container_handles) < 0)
				return 2;
			break;
		case OPT_CONTENT_MIB:
			if (num_arg("content-mib", optarg, 1, 65536, &c->content_mib) < 0)
				return 2;
			break;
		case OPT_CONTAINER_CONTENT_MIB:
			if (num_arg("container-content-mib", optarg, 1, 65536,
			            &c->container_content_mib) < 0)
				return 2;
			break;
		case OPT_WORKER_BINARY:
			c->worker_binary = optarg;
			break;
		case OPT_TAKEOVER:
			c->takeover = true;
			break;
		case OPT_STANDBY:
			c->standby = true;
			break;
		case OPT_ENABLE_IO_ACCOUNTING:
			c->io_accounting = true;
			break;
		case OPT_LOG:
			if (log_target_parse(optarg, &c->log) < 0) {
				fprintf(stderr,
				        "lxcfs: --log takes stderr, syslog, journald or auto, "
				        "not '%s'\n",
				        optarg);
				return 2;
			}
			log_given = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "lxcfs: exactly one MOUNTPOINT is needed\n");
		usage(stderr);
		return 2;
	}
	c->mountpoint = argv[optind];
	if (!c->pidfile) {
		snprintf(c->pidfile_buf, sizeof(c->pidfile_buf), "%s/lxcfs.pid", c->runtime_dir);
		c->pidfile = c->pidfile_buf;
	}
	if (c->container_handles > c->max_handles ||
	    c->container_content_mib > c->content_mib) {
		fprintf(stderr, "lxcfs: a container's share cannot exceed the whole (--max-handles, "
		                "--content-mib)\n");
		return 2;
	}
	if (!c->worker_binary)
		default_worker(c);
	if (!log_given)
		c->log = log_target_default();
	return 0;
}
