/*
 * lxcfs-ctl: the operator's view of a running lxcfs, over its control socket.
 *
 *   lxcfs-ctl [--runtime-dir DIR | --socket PATH] [--json] COMMAND [ARGS]
 *   lxcfs-ctl --version
 *
 * Commands: status, workers, stats, snapshot, upgrade, restart-worker, scale, attach.
 * Exit codes: 0 done, 1 the daemon refused or the operation stopped, 2 usage,
 * 3 no daemon answers, 4 the socket does not speak lxcfs's protocol.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/control.h"
#include "master/ctl_attach.h"
#include "master/ctl_client.h"
#include "master/ctl_prometheus.h"
#include "master/ctl_takeover.h"
#include "shm/snap.h"

#ifndef LXCFS_VERSION
#define LXCFS_VERSION "0.0.0"
#endif
#ifndef LXCFS_BUILD_ID
#define LXCFS_BUILD_ID "unknown"
#endif


static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: lxcfs-ctl [--runtime-dir DIR | --socket PATH] [--json] COMMAND\n"
	    "       lxcfs-ctl --version\n"
	    "\n"
	    "Commands (COMMAND --help for each):\n"
	    "  status          the master, the mount and each worker\n"
	    "  workers         each worker: pid, state, requests, restarts, version\n"
	    "  stats [--prometheus]            per file requests and latency; cache figures\n"
	    "  snapshot [--table NAME] [--cgroup PATH] [--limit N]\n"
	    "                  the cached entries, containers' first\n"
	    "  upgrade [--worker-binary PATH]  rolling replacement of every worker\n"
	    "  restart-worker ID               replace one worker\n"
	    "  scale N                         run N workers\n"
	    "  attach PID | --all              bind the served files into running containers\n"
	    "\n"
	    "Options:\n"
	    "  --runtime-dir DIR  where lxcfs was told to keep its runtime files (default /run)\n"
	    "  --socket PATH      the control socket itself\n"
	    "  --json             one JSON document instead of tables (before or after\n"
	    "                     COMMAND)\n"
	    "  -v, --version      version and build id of this lxcfs-ctl\n"
	    "  -h, --help         this text\n");
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_record(const struct record *r)
{
	putchar('{');
	for (int i = 0; i < r->n; i++) {
		if (i)
			putchar(',');
		json_string(r->key[i]);
		putchar(':');
		if (is_number(r->val[i]))
			fputs(r->val[i], stdout);
		else
			json_string(r->val[i]);
	}
	putchar('}');
}


/* Kinds that are lists even with one record (tables of workers, files, entries). */
static bool always_list(const char *kind)
{
	static const char *const lists[] = {"worker", "file",  "table",
	                                    "entry",  "count", "container"};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (strcmp(kind, lists[i]) == 0)
			return true;
	return false;
}

/*
 * Print the records of a reply: a kind with one record as "key: value" lines,
 * a kind with several as a table; with --json, one object whose members are
 * the kinds (an object for a single record, else an array).
 */
static void print_records(char *body, bool json)
{
	struct record *recs;
	char *save = NULL, *line, **ptrs, *room[2 * RECORD_FIELDS];
	size_t nlines = 1, npairs = 0, nptrs = 0;
	int n = 0;

	/* Room for every record and every pair: a snapshot may hold 100,000 rows. */
	for (const char *p = body; *p; p++) {
		nlines += *p == '\n';
		npairs += *p == '='; /* values are escaped: each '=' is a pair's */
	}
	recs = calloc(nlines, sizeof(*recs));
	ptrs = calloc(2 * npairs + 1, sizeof(*ptrs));
	if (!recs || !ptrs) {
		fprintf(stderr, "lxcfs-ctl: out of memory for %zu records\n", nlines);
		exit(1);
	}
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct record r;

		if (strcmp(line, "END") == 0)
			break;
		record_parse(line, &r, room);
		if (!r.kind)
			continue;
		recs[n].kind = r.kind;
		recs[n].n = r.n;
		recs[n].key = ptrs + nptrs;
		memcpy(recs[n].key, r.key, sizeof(char *) * (size_t)r.n);
		recs[n].val = ptrs + nptrs + (size_t)r.n;
		memcpy(recs[n].val, r.val, sizeof(char *) * (size_t)r.n);
		nptrs += 2 * (size_t)r.n;
		n++;
	}
	if (json)
		putchar('{');
	for (int i = 0, first_kind = 1; i < n; first_kind = 0) {
		const char *kind = recs[i].kind;
		int j = i, count;

		while (j < n && strcmp(recs[j].kind, kind) == 0)
			j++;
		count = j - i;
		if (json) {
			printf("%s", first_kind ? "" : ",");
			json_string(kind);
			putchar(':');
			if (count > 1 || always_list(kind))
				putchar('[');
			for (int k = i; k < j; k++) {
				if (k > i)
					putchar(',');
				json_record(&recs[k]);
			}
			if (count > 1 || always_list(kind))
				putchar(']');
		} else if (count == 1 && !always_list(kind)) {
			int width = 18;

			for (int k = 0; k < recs[i].n; k++)
				if ((int)strlen(recs[i].key[k]) > width)
					width = (int)strlen(recs[i].key[k]);
			printf("%s:\n", kind);
			for (int k = 0; k < recs[i].n; k++)
				printf("  %-*s %s\n", width, recs[i].key[k], recs[i].val[k]);
		} else {
			int width[RECORD_FIELDS] = {0};

			for (int k = 0; k < recs[i].n; k++) {
				width[k] = (int)strlen(recs[i].key[k]);
				for (int r = i; r < j; r++)
					if (k < recs[r].n && (int)strlen(recs[r].val[k]) > width[k])
						width[k] = (int)strlen(recs[r].val[k]);
			}
			printf("%s:\n ", kind);
			for (int k = 0; k < recs[i].n; k++)
				printf(" %-*s", width[k], recs[i].key[k]);
			putchar('\n');
			for (int r = i; r < j; r++) {
				putchar(' ');
				for (int k = 0; k < recs[r].n && k < RECORD_FIELDS; k++)
					printf(" %-*s", k < recs[i].n ? width[k] : 0,
					       recs[r].val[k]);
				putchar('\n');
			}
		}
		if (!json)
			putchar('\n');
		i = j;
	}
	if (json)
		printf("}\n");
	free(recs);
	free(ptrs);
}

struct command {
	const char *name;
	const char *args; /* synopsis of its arguments */
	const char *help;
	int min_args, max_args;
	bool streams; /* progress arrives while the operation runs */
};

static const struct command commands[] = {
    {"status", "",
     "the master, the mount, and each worker: pid, state, CPU, requests\n"
     "served, in flight and queued, restarts, last exit, version",
     0, 0, false},
    {"workers", "", "each worker: pid, state, CPU, requests, restarts, last exit, version", 0, 0,
     false},
    {"stats", "[--prometheus]",
     "per file: requests, errors, p50/p99 latency; cache hits, misses,\n"
     "refreshes, evictions, cgroupfs reads; snapshot table sizes.\n"
     "\n"
     "  --prometheus   the Prometheus text format instead (for a node-exporter\n"
     "                 textfile collector): requests, errors and a latency\n"
     "                 histogram per file, each worker, how workers ended, the\n"
     "                 cache, shared memory use; lxcfs_up 0 (and exit 3) when no\n"
     "                 daemon answers",
     0, 0, false},
    {"snapshot", "[--table NAME]... [--cgroup PATH] [--limit N]",
     "the cached entries: table, key, time since last use, age, size. Entries\n"
     "of containers and cgroups come first, then host-wide ones, then readers'\n"
     "pid entries; within each, the most recently used first. A count per\n"
     "table says how many entries it holds, matched and were shown.\n"
     "\n"
     "  --table NAME   only this table (repeat, or NAME,NAME); tables below\n"
     "  --cgroup PATH  only entries of cgroup PATH and below (as in\n"
     "                 /proc/PID/cgroup); a label keeps the last 50-odd bytes of\n"
     "                 a long path: entries it cannot place are counted unsure\n"
     "  --limit N      show at most N entries (default 500, at most 100000)",
     0, 0, false},
    {"upgrade", "[--worker-binary PATH] | --all [--binary PATH] [--worker-binary PATH]",
     "replace every worker, one at a time, with PATH (default: the binary\n"
     "lxcfs runs, re-read from disk); exits non-zero if the upgrade stops.\n"
     "\n"
     "  --all          replace the whole daemon, master included, without\n"
     "                 unmounting: start lxcfs --takeover from the installed\n"
     "                 binaries (or --binary PATH) with the running master's\n"
     "                 command line, and wait until it serves (lxcfs(1))",
     0, 1, true},
    {"restart-worker", "ID", "replace worker ID with a fresh one", 1, 1, true},
    {"attach", "[--mount DIR] [--dry-run] PID | --all [--cgroup PATH]",
     "bind the served files (proc/..., sys/devices/system/cpu/online) over\n"
     "the same files in the mount namespace of the container of process PID,\n"
     "for a container started before lxcfs or whose binds went stale when an\n"
     "lxcfs was killed whole. Files the container lacks are skipped; a file\n"
     "bound to this mount already is left as it is; a stale bind (Transport\n"
     "endpoint is not connected) is detached and bound again. A process of\n"
     "our own mount namespace is refused. One line per container: bound,\n"
     "rebound (over a stale bind), already, missing, not_served, failed.\n"
     "\n"
     "  --all          every container: each process that is pid 1 of a pid\n"
     "                 namespace other than ours, once per mount namespace\n"
     "  --cgroup PATH  with --all: only containers whose init has a cgroup\n"
     "                 at or below PATH (as in /proc/PID/cgroup)\n"
     "  --dry-run      say what would be done, change nothing\n"
     "  --mount DIR    the lxcfs mount point (default: the one the daemon\n"
     "                 serves, asked on the control socket)",
     0, 1, false},
    {"scale", "N", "run N workers", 1, 1, true},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: lxcfs-ctl [--runtime-dir DIR | --socket PATH] [--json] %s %s\n\n%s\n",
	        c->name, c->args, c->help);
	if (strcmp(c->name, "snapshot") == 0) {
		fprintf(f, "\nTables:");
		for (int t = 0; t < SNAP_NTABLES; t++)
			fprintf(f, " %s", snap_table_name((enum snap_table_id)t));
		fprintf(f, "\n");
	}
}

/* Add the tables of a --table value (NAME or NAME,NAME) to list; false if one is unknown. */
static bool tables_add(char *list, size_t size, const char *arg)
{
	const char *n = arg, *comma;

	do {
		int found = -1;

		comma = strchrnul(n, ',');
		for (int t = 0; t < SNAP_NTABLES; t++) {
			const char *name = snap_table_name((enum snap_table_id)t);

			if (strlen(name) == (size_t)(comma - n) &&
			    strncmp(name, n, (size_t)(comma - n)) == 0)
				found = t;
		}
		if (found < 0) {
			fprintf(stderr,
			        "lxcfs-ctl: snapshot: no table '%.*s' (tables:", (int)(comma - n),
			        n);
			for (int t = 0; t < SNAP_NTABLES; t++)
				fprintf(stderr, " %s", snap_table_name((enum snap_table_id)t));
			fprintf(stderr, ")\n");
			return false;
		}
		snprintf(list + strlen(list), size - strlen(list), "%s%s", list[0] ? "," : "",
		         snap_table_name((enum snap_table_id)found));
		n = comma + 1;
	} while (*comma);
	return true;
}

/*
 * Print a streamed operation as it goes: "progress" records as lines, then
 * the "result" record. Returns the exit code: 0 if the operation succeeded.
 */
static int follow(int fd, bool json)
{
	char buf[65536], *line;
	size_t len = 0;
	int rc = EXIT_PROTOCOL;
	bool first = true;

	if (json)
		printf("[");
	for (;;) {
		char *nl;
		ssize_t n;

		while ((nl = memchr(buf, '\n', len)) != NULL) {
			char *room[2 * RECORD_FIELDS];
			struct record r;

			*nl = '\0';
			line = buf;
			if (strcmp(line, "END") == 0)
				goto out;
			if (strncmp(line, CTL_PROTO_REPLY " ", strlen(CTL_PROTO_REPLY) + 1) != 0) {
				record_parse(line, &r, room);
				if (r.kind && json) {
					printf("%s", first ? "" : ",");
					json_record(&r);
					first = false;
				} else if (r.kind && r.n > 0) {
					const char *msg = r.val[r.n - 1];

					if (strcmp(r.kind, "result") == 0) {
						rc = strcmp(r.val[0], "1") == 0 ? 0 : 1;
						fprintf(rc ? stderr : stdout, "%s%s\n",
						        rc ? "lxcfs-ctl: " : "", msg);
					} else {
						printf("%s\n", msg);
					}
					fflush(stdout);
				}
				if (r.kind && strcmp(r.kind, "result") == 0 && json)
					rc = strcmp(r.val[0], "1") == 0 ? 0 : 1;
			}
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf));
			len -= (size_t)(nl + 1 - buf);
		}
		if (len == sizeof(buf))
			break;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
out:
	if (json)
		printf("]\n");
	if (rc == EXIT_PROTOCOL)
		fprintf(stderr, "lxcfs-ctl: the daemon closed the connection before the end\n");
	return rc;
}

/* lxcfs-ctl attach: its arguments checked, the mount found, then ctl_attach.c. */
static int attach(const struct command *cmd, int nargs, char **args, bool all, const char *cgroup,
                  bool dry_run, const char *mount, bool json, const char *socket_path)
{
	struct attach_opts o = {.cgroup = cgroup, .dry_run = dry_run, .json = json};
	char mnt[4096], *end;
	long pid = 0;
	int rc;

	if (all ? nargs != 0 : nargs != 1 || cgroup) {
		command_usage(stderr, cmd);
		return 2;
	}
	if (!all) {
		errno = 0;
		pid = strtol(args[0], &end, 10);
		if (errno || *end || end == args[0] || pid <= 0 || pid > INT32_MAX) {
			fprintf(stderr, "lxcfs-ctl: attach: '%s' is not a process id\n", args[0]);
			return 2;
		}
	}
	if (cgroup && cgroup[0] != '/') {
		fprintf(stderr, "lxcfs-ctl: attach: --cgroup takes an absolute cgroup path, as in "
		                "/proc/PID/cgroup\n");
		return 2;
	}
	if (mount) {
		if (!realpath(mount, mnt)) {
			fprintf(stderr, "lxcfs-ctl: attach: %s: %s\n", mount, strerror(errno));
			return 2;
		}
	} else {
		rc = ctl_daemon_mount(socket_path, mnt, sizeof(mnt));
		if (rc == -ENOENT) {
			fprintf(stderr, "lxcfs-ctl: no lxcfs answers on %s (or give --mount DIR)\n",
			        socket_path);
			return EXIT_NO_DAEMON;
		}
		if (rc < 0) {
			fprintf(stderr, "lxcfs-ctl: %s did not say which mount it serves\n",
			        socket_path);
			return EXIT_PROTOCOL;
		}
	}
	o.mount = mnt;
	return all ? ctl_attach_all(&o) : ctl_attach_pid((pid_t)pid, &o);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"runtime-dir", required_argument, NULL, 'r'},
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static const struct option cmdopts[] = {
	    {"worker-binary", required_argument, NULL, 'w'},
	    {"all", no_argument, NULL, 'a'},
	    {"binary", required_argument, NULL, 'b'},
	    {"table", required_argument, NULL, 't'},
	    {"cgroup", required_argument, NULL, 'c'},
	    {"limit", required_argument, NULL, 'l'},
	    {"prometheus", no_argument, NULL, 'P'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"mount", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *runtime_dir = "/run", *socket_path = NULL, *binary = NULL;
	const char *cgroup = NULL, *limit = NULL, *master_binary = NULL;
	bool all = false, prometheus = false, dry_run = false;
	const char *mount = NULL;
	char path[4096], req[4096 * 3 + 1024], tables[512] = "", *reply, *nl;
	const struct command *cmd = NULL;
	bool json = false;
	int opt, fd, nargs;

	/* A daemon that refuses us closes at once: its reason is still there to read. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+hvV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runtime_dir = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
		case 'V':
			printf("lxcfs-ctl %s (build %s)\n", LXCFS_VERSION, LXCFS_BUILD_ID);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "lxcfs-ctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* The command's own options and arguments. */
	argc -= optind;
	argv += optind;
	optind = 0; /* 0, not 1: glibc then starts afresh, permuting "scale 3 --json" too */
	while ((opt = getopt_long(argc, argv, "h", cmdopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (strcmp(cmd->name, "upgrade") != 0 && strcmp(cmd->name, "attach") != 0) {
				command_usage(stderr, cmd);
				return 2;
			}
			all = true;
			break;
		case 'n':
		case 'm':
			if (strcmp(cmd->name, "attach") != 0) {
				command_usage(stderr, cmd);
				return 2;
			}
			if (opt == 'n')
				dry_run = true;
			else
				mount = optarg;
			break;
		case 'w':
		case 'b':
			if (strcmp(cmd->name, "upgrade") != 0) {
				command_usage(stderr, cmd);
				return 2;
			}
			if (opt == 'w')
				binary = optarg;
			else
				master_binary = optarg;
			break;
		case 't':
		case 'c':
		case 'l':
			if (strcmp(cmd->name, "snapshot") != 0 &&
			    !(opt == 'c' && strcmp(cmd->name, "attach") == 0)) {
				command_usage(stderr, cmd);
				return 2;
			}
			if (opt == 't' && !tables_add(tables, sizeof(tables), optarg))
				return 2;
			if (opt == 'c')
				cgroup = optarg;
			if (opt == 'l')
				limit = optarg;
			break;
		case 'P':
			if (strcmp(cmd->name, "stats") != 0) {
				command_usage(stderr, cmd);
				return 2;
			}
			prometheus = true;
			break;
		case 'j':
			/* "lxcfs-ctl snapshot --json" reads as naturally as "--json snapshot". */
			json = true;
			break;
		case 'h':
			command_usage(stdout, cmd);
			return 0;
		default:
			command_usage(stderr, cmd);
			return 2;
		}
	}
	nargs = argc - optind + (binary ? 1 : 0);
	if (nargs < cmd->min_args || nargs > cmd->max_args || (master_binary && !all) ||
	    (prometheus && json)) {
		command_usage(stderr, cmd);
		return 2;
	}
	if (strcmp(cmd->name, "attach") == 0) {
		if (!socket_path) {
			snprintf(path, sizeof(path), "%s/%s", runtime_dir, CTL_SOCKET_NAME);
			socket_path = path;
		}
		return attach(cmd, argc - optind, argv + optind, all, cgroup, dry_run, mount, json,
		              socket_path);
	}
	if (all) {
		if (!socket_path) {
			snprintf(path, sizeof(path), "%s/%s", runtime_dir, CTL_SOCKET_NAME);
			socket_path = path;
		}
		return ctl_upgrade_all(socket_path, master_binary, binary);
	}
	if (binary) {
		char esc[4096 * 3], abs[4096];

		/* The daemon resolves paths from its own directory: send an absolute one. */
		if (!realpath(binary, abs)) {
			fprintf(stderr, "lxcfs-ctl: %s: %s\n", binary, strerror(errno));
			return 2;
		}
		ctl_escape(abs, esc, sizeof(esc));
		snprintf(req, sizeof(req), "%s %s", cmd->name, esc);
	} else if (strcmp(cmd->name, "snapshot") == 0) {
		char esc[4096 * 3];
		size_t n = (size_t)snprintf(req, sizeof(req), "%s", cmd->name);

		if (cgroup && (cgroup[0] != '/' || strlen(cgroup) >= 4096)) {
			fprintf(stderr,
			        "lxcfs-ctl: snapshot: --cgroup takes an absolute cgroup path, "
			        "as in /proc/PID/cgroup\n");
			return 2;
		}
		if (limit && (strspn(limit, "0123456789") != strlen(limit) || !*limit ||
		              strlen(limit) > 6 || atol(limit) > 100000)) {
			fprintf(stderr, "lxcfs-ctl: snapshot: --limit takes 0 to 100000\n");
			return 2;
		}
		if (tables[0])
			n += (size_t)snprintf(req + n, sizeof(req) - n, " table=%s", tables);
		if (cgroup) {
			ctl_escape(cgroup, esc, sizeof(esc));
			n += (size_t)snprintf(req + n, sizeof(req) - n, " cgroup=%s", esc);
		}
		if (limit)
			snprintf(req + n, sizeof(req) - n, " limit=%s", limit);
	} else if (prometheus) {
		snprintf(req, sizeof(req), "metrics");
	} else if (optind < argc) {
		snprintf(req, sizeof(req), "%s %s", cmd->name, argv[optind]);
	} else {
		snprintf(req, sizeof(req), "%s", cmd->name);
	}

	if (!socket_path) {
		snprintf(path, sizeof(path), "%s/%s", runtime_dir, CTL_SOCKET_NAME);
		socket_path = path;
	}
	fd = ctl_connect(socket_path);
	if (fd == -EACCES || fd == -EPERM) {
		fprintf(stderr, "lxcfs-ctl: %s: permission denied: the control socket is root's\n",
			socket_path);
		return 1;
	}
	if (fd < 0) {
		fprintf(stderr, "lxcfs-ctl: no lxcfs answers on %s: %s\n", socket_path,
			strerror(-fd));
		if (prometheus)
			prom_write_down(stdout);
		return EXIT_NO_DAEMON;
	}
	if (cmd->streams) {
		struct timeval none = {0};
		char line[4096 * 3 + 64], first[256];
		size_t got = 0;
		int n = snprintf(line, sizeof(line), "%s %s\n", CTL_PROTO_REQ, req);

		/* An operation may take a while between two progress lines. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		/* Even if the write fails, a refusal may be waiting to be read. */
		(void)!write(fd, line, (size_t)n);
		/* The status line, byte by byte so that nothing after it is consumed. */
		while (got < sizeof(first) - 1 && read(fd, first + got, 1) == 1 &&
		       first[got] != '\n')
			got++;
		first[got] = '\0';
		if (strncmp(first, CTL_PROTO_REPLY " ", strlen(CTL_PROTO_REPLY) + 1) != 0) {
			fprintf(stderr, "lxcfs-ctl: %s did not answer as lxcfs does\n",
			        socket_path);
			close(fd);
			return EXIT_PROTOCOL;
		}
		if (strcmp(first + strlen(CTL_PROTO_REPLY) + 1, "OK") != 0) {
			fprintf(stderr, "lxcfs-ctl: %s\n", first + strlen(CTL_PROTO_REPLY) + 1);
			close(fd);
			return 1;
		}
		n = follow(fd, json);
		close(fd);
		return n;
	}
	reply = ctl_roundtrip(fd, req);
	close(fd);
	if (!reply || strncmp(reply, CTL_PROTO_REPLY " ", strlen(CTL_PROTO_REPLY) + 1) != 0) {
		fprintf(stderr, "lxcfs-ctl: %s did not answer as lxcfs does\n", socket_path);
		free(reply);
		return EXIT_PROTOCOL;
	}
	nl = strchr(reply, '\n');
	if (strncmp(reply + strlen(CTL_PROTO_REPLY) + 1, "OK", 2) != 0 || !nl) {
		if (nl)
			*nl = '\0';
		fprintf(stderr, "lxcfs-ctl: %s\n", reply + strlen(CTL_PROTO_REPLY) + 1);
		free(reply);
		return 1;
	}
	if (prometheus) {
		int rc = prom_write(stdout, nl + 1);

		free(reply);
		if (rc < 0) {
			fprintf(stderr, "lxcfs-ctl: %s sent metrics that do not hold together\n",
			        socket_path);
			return EXIT_PROTOCOL;
		}
		return 0;
	}
	print_records(nl + 1, json);
	free(reply);
	return 0;
}
