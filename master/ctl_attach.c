/*
 * lxcfs-ctl attach (see ctl_attach.h). A container's mount namespace usually
 * cannot see the host's mount point, so each file is cloned here, in ours,
 * as a detached mount (open_tree with OPEN_TREE_CLONE), and a child that
 * entered the container's mount namespace (and its root, for a container that
 * pivoted or chrooted) moves the clones over the targets (move_mount). The
 * child reports each file's outcome on a pipe; a child stuck on a hung
 * filesystem is killed after ATTACH_TIMEOUT_MS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master/control.h"
#include "master/ctl_attach.h"
#include "master/ctl_client.h"
#include "master/tree.h"

#define ATTACH_TIMEOUT_MS 10000
#define ATTACH_MAX_CT     65536 /* containers attach --all takes on at once */
#define STALE_LAYERS      16    /* stale binds stacked on one target, detached in turn */

enum outcome {
	OUT_BOUND,      /* bound over the container's own file */
	OUT_REBOUND,    /* bound after detaching a stale bind */
	OUT_ALREADY,    /* bound to this mount already: left as it is */
	OUT_MISSING,    /* the container has no such file */
	OUT_NOT_SERVED, /* the mount does not serve it (an older lxcfs) */
	OUT_FAILED,
	OUT_COUNT,
};

static const char *const outcome_names[OUT_COUNT] = {
    "bound", "rebound", "already", "missing", "not_served", "failed",
};

/* One file to attach: where it is in the mount, and its clone for one container. */
struct attach_file {
	char rel[64]; /* "proc/meminfo": the target is the same path from the container's root */
	bool served;  /* the mount has it */
	int tree;     /* the detached clone, -1 when none (or a dry run) */
	dev_t dev;    /* the served file, to recognise a target bound to it */
	ino_t ino;
};

/* What the child tells about one file (file -1: the container as a whole). */
struct attach_msg {
	int file;
	int outcome;
	int err;
	char call[16]; /* the call that failed */
};

struct attach_ct {
	pid_t pid;
	char cgroup[4096];
	int outcome[LX_FILE_COUNT];
	int err[LX_FILE_COUNT];
	char call[LX_FILE_COUNT][16];
	int nfiles;
	char error[8192]; /* the container could not be entered */
};

/* The files the mount serves, from the master's tree. */
static int files_list(struct attach_file *f, int max)
{
	int n = 0;

	for (int k = LX_FILE_NONE + 1; k < LX_FILE_COUNT && n < max; k++)
		if (tree_file_path((enum lx_file)k, f[n].rel, sizeof(f[n].rel))) {
			f[n].served = false;
			f[n++].tree = -1;
		}
	return n;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void child_say(int fd, int file, int outcome, int err, const char *call)
{
	struct attach_msg msg = {.file = file, .outcome = outcome, .err = err};

	snprintf(msg.call, sizeof(msg.call), "%s", call);
	(void)!write(fd, &msg, sizeof(msg));
}

/*
 * In the child, in the container's mount namespace and root: the outcome of
 * one file. A stale bind answers stat with ENOTCONN; several may be stacked
 * (lxcfs killed whole more than once): each is detached in turn.
 */
static void child_file(int out, int i, const struct attach_file *f, bool dry_run)
{
	char target[80];
	bool stale = false;
	struct stat st;

	if (!f->served) {
		child_say(out, i, OUT_NOT_SERVED, 0, "");
		return;
	}
	snprintf(target, sizeof(target), "/%.63s", f->rel);
	for (int layer = 0;; layer++) {
		if (stat(target, &st) == 0)
			break;
		if (errno == ENOENT) {
			child_say(out, i, OUT_MISSING, 0, "");
			return;
		}
		if (errno != ENOTCONN || layer == STALE_LAYERS) {
			child_say(out, i, OUT_FAILED, errno, "stat");
			return;
		}
		stale = true;
		if (dry_run)
			break;
		if (umount2(target, MNT_DETACH) < 0) {
			child_say(out, i, OUT_FAILED, errno, "umount2");
			return;
		}
	}
	if (!stale && st.st_dev == f->dev && st.st_ino == f->ino) {
		child_say(out, i, OUT_ALREADY, 0, "");
		return;
	}
	if (!dry_run && move_mount(f->tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		child_say(out, i, OUT_FAILED, errno, "move_mount");
		return;
	}
	child_say(out, i, stale ? OUT_REBOUND : OUT_BOUND, 0, "");
}

static void child_run(int out, int mntfd, int rootfd, const struct attach_file *f, int n,
                      bool dry_run)
{
	if (setns(mntfd, CLONE_NEWNS) < 0) {
		child_say(out, -1, OUT_FAILED, errno, "setns");
		_exit(1);
	}
	/* The container's root, as its processes see it (pivot_root, chroot). */
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		child_say(out, -1, OUT_FAILED, errno, "chroot");
		_exit(1);
	}
	for (int i = 0; i < n; i++)
		child_file(out, i, &f[i], dry_run);
	_exit(0);
}

/* Read the child's messages until it closes the pipe or the time is up. */
static void collect(int in, pid_t child, struct attach_ct *ct)
{
	uint64_t deadline = mono_ms() + ATTACH_TIMEOUT_MS;
	struct attach_msg msg;
	int status;

	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd p = {.fd = in, .events = POLLIN};
		ssize_t got;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			snprintf(ct->error, sizeof(ct->error),
			         "no answer in %d ms (a file of the container hangs?)",
			         ATTACH_TIMEOUT_MS);
			kill(child, SIGKILL);
			break;
		}
		got = read(in, &msg, sizeof(msg));
		if (got == 0)
			break;
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(msg))
			break;
		msg.call[sizeof(msg.call) - 1] = '\0';
		if (msg.file < 0) {
			snprintf(ct->error, sizeof(ct->error), "%s: %s", msg.call,
			         strerror(msg.err));
		} else if (msg.file < ct->nfiles && msg.outcome >= 0 && msg.outcome < OUT_COUNT) {
			ct->outcome[msg.file] = msg.outcome;
			ct->err[msg.file] = msg.err;
			memcpy(ct->call[msg.file], msg.call, sizeof(msg.call));
		}
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
}

/* A namespace's inode, or 0. */
static ino_t ns_ino(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A cgroup path to name the container by: the v2 one, else the first that is not the root. */
static void ct_cgroup(pid_t pid, char *buf, size_t size)
{
	char path[64], line[4096], first[4096] = "";
	FILE *f;

	snprintf(buf, size, "-");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *cg = strchr(line, ':');

		cg = cg ? strchr(cg + 1, ':') : NULL;
		if (!cg)
			continue;
		cg++;
		cg[strcspn(cg, "\n")] = '\0';
		if (strcmp(cg, "/") == 0)
			continue;
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(first, sizeof(first), "%s", cg);
			break;
		}
		if (!first[0])
			snprintf(first, sizeof(first), "%s", cg);
	}
	fclose(f);
	if (first[0])
		snprintf(buf, size, "%s", first);
}

/*
 * Attach one container: clones made here, a child in its namespace moves
 * them. Returns 0, or -1 with ct->error set when it could not be entered.
 */
static int attach_ct(pid_t pid, const struct attach_opts *o, struct attach_ct *ct)
{
	struct attach_file f[LX_FILE_COUNT];
	char path[4096 + 80];
	int mntfd = -1, rootfd = -1, pipefd[2] = {-1, -1}, rc = -1;
	ino_t ours = ns_ino(0, "mnt");
	struct stat st;
	pid_t child;

	memset(ct, 0, sizeof(*ct));
	ct->pid = pid;
	ct->nfiles = files_list(f, LX_FILE_COUNT);
	for (int i = 0; i < ct->nfiles; i++)
		ct->outcome[i] = OUT_FAILED;
	ct_cgroup(pid, ct->cgroup, sizeof(ct->cgroup));
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	mntfd = open(path, O_RDONLY | O_CLOEXEC);
	if (mntfd < 0 || fstat(mntfd, &st) < 0) {
		snprintf(ct->error, sizeof(ct->error), "open %s: %s", path,
		         errno == ENOENT ? "no such process" : strerror(errno));
		goto out;
	}
	if (st.st_ino == ours) {
		snprintf(ct->error, sizeof(ct->error),
		         "shares our mount namespace: binding there would cover the host's "
		         "/proc; not a container");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		snprintf(ct->error, sizeof(ct->error), "open %s: %s", path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < ct->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->mount, f[i].rel);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT)
				continue; /* not served: the child says so */
			snprintf(ct->error, sizeof(ct->error), "stat %s: %s", path,
			         strerror(errno));
			goto out;
		}
		f[i].served = true;
		f[i].dev = st.st_dev;
		f[i].ino = st.st_ino;
		if (o->dry_run)
			continue;
		f[i].tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (f[i].tree < 0) {
			snprintf(ct->error, sizeof(ct->error), "open_tree %s: %s", path,
			         strerror(errno));
			goto out;
		}
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(ct->error, sizeof(ct->error), "pipe2: %s", strerror(errno));
		goto out;
	}
	child = fork();
	if (child < 0) {
		snprintf(ct->error, sizeof(ct->error), "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		close(pipefd[0]);
		child_run(pipefd[1], mntfd, rootfd, f, ct->nfiles, o->dry_run);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	collect(pipefd[0], child, ct);
	rc = ct->error[0] ? -1 : 0;
out:
	for (int i = 0; i < ct->nfiles; i++)
		if (f[i].tree >= 0)
			close(f[i].tree); /* a clone never moved is unmounted with its last fd */
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (rootfd >= 0)
		close(rootfd);
	if (mntfd >= 0)
		close(mntfd);
	return rc;
}

/* Did the container fail as a whole or in a file? */
static bool ct_failed(const struct attach_ct *ct)
{
	if (ct->error[0])
		return true;
	for (int i = 0; i < ct->nfiles; i++)
		if (ct->outcome[i] == OUT_FAILED)
			return true;
	return false;
}

static void json_str(const char *s)
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

static void print_ct(const struct attach_ct *ct, const struct attach_opts *o, bool first)
{
	struct attach_file f[LX_FILE_COUNT];
	int count[OUT_COUNT] = {0};

	files_list(f, LX_FILE_COUNT);
	for (int i = 0; i < ct->nfiles; i++)
		count[ct->outcome[i]]++;
	if (o->json) {
		printf("%s{\"pid\":%d,\"cgroup\":", first ? "" : ",", (int)ct->pid);
		json_str(ct->cgroup);
		if (ct->error[0]) {
			printf(",\"error\":");
			json_str(ct->error);
			putchar('}');
			return;
		}
		for (int k = 0; k < OUT_COUNT; k++)
			printf(",\"%s\":%d", outcome_names[k], count[k]);
		printf(",\"files\":{");
		for (int i = 0; i < ct->nfiles; i++) {
			printf("%s", i ? "," : "");
			json_str(f[i].rel);
			printf(":\"%s\"", outcome_names[ct->outcome[i]]);
		}
		printf("}}");
		return;
	}
	if (ct->error[0]) {
		printf("pid %d: %s\n", (int)ct->pid, ct->error);
		return;
	}
	printf("pid %d cgroup=%s%s:", (int)ct->pid, ct->cgroup, o->dry_run ? " (dry run)" : "");
	for (int k = 0; k < OUT_COUNT; k++)
		printf(" %s=%d", outcome_names[k], count[k]);
	putchar('\n');
	/* Which files, for what is not the common case. */
	for (int k = OUT_REBOUND; k < OUT_COUNT; k++) {
		if (!count[k] || k == OUT_ALREADY)
			continue;
		printf("  %s:", outcome_names[k]);
		for (int i = 0; i < ct->nfiles; i++) {
			if (ct->outcome[i] != k)
				continue;
			printf(" %s", f[i].rel);
			if (k == OUT_FAILED)
				printf(" (%s: %s)", ct->call[i], strerror(ct->err[i]));
		}
		putchar('\n');
	}
}

static int check_mount(const struct attach_opts *o)
{
	char path[4096 + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/proc/meminfo", o->mount);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "lxcfs-ctl: attach: %s: %s (is lxcfs serving %s?)\n", path,
		        strerror(errno), o->mount);
		return -1;
	}
	return 0;
}

int ctl_attach_pid(pid_t pid, const struct attach_opts *o)
{
	struct attach_ct ct;

	if (check_mount(o) < 0)
		return 1;
	attach_ct(pid, o, &ct);
	if (ct.error[0] && !o->json) {
		fprintf(stderr, "lxcfs-ctl: attach %d: %s\n", (int)pid, ct.error);
		return 1;
	}
	if (o->json)
		printf("{\"container\":[");
	print_ct(&ct, o, true);
	if (o->json)
		printf("]}\n");
	return ct_failed(&ct) ? 1 : 0;
}

/* Is one of pid's cgroups cg or below it? */
static bool in_cgroup(pid_t pid, const char *cg)
{
	size_t len = strlen(cg);
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	while (len > 1 && cg[len - 1] == '/')
		len--;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		found = len == 1 || (strncmp(p, cg, len) == 0 && (p[len] == '\0' || p[len] == '/'));
	}
	fclose(f);
	return found;
}

/* Is pid the init (pid 1) of its pid namespace? The last NSpid field says. */
static bool is_ns_init(pid_t pid)
{
	char path[64], line[512];
	bool init = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		last = strrchr(line, '\t');
		if (!last)
			last = strrchr(line, ' ');
		init = last && strcmp(last + 1, "1") == 0;
		break;
	}
	fclose(f);
	return init;
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

int ctl_attach_all(const struct attach_opts *o)
{
	ino_t our_pid_ns = ns_ino(0, "pid"), our_mnt_ns = ns_ino(0, "mnt");
	ino_t *seen = calloc(ATTACH_MAX_CT, sizeof(*seen));
	pid_t *pids = calloc(ATTACH_MAX_CT, sizeof(*pids));
	unsigned npids = 0, shared = 0, failed = 0;
	struct dirent *d;
	DIR *proc;

	if (!seen || !pids) {
		fprintf(stderr, "lxcfs-ctl: attach --all: out of memory\n");
		return 1;
	}
	if (check_mount(o) < 0)
		return 1;
	proc = opendir("/proc");
	if (!proc) {
		fprintf(stderr, "lxcfs-ctl: attach --all: opendir /proc: %s\n", strerror(errno));
		return 1;
	}
	while ((d = readdir(proc)) != NULL && npids < ATTACH_MAX_CT) {
		char *end;
		long v = strtol(d->d_name, &end, 10);
		ino_t pidns, mntns;
		bool dup = false;

		if (*end || v <= 1)
			continue;
		pidns = ns_ino((pid_t)v, "pid");
		if (!pidns || pidns == our_pid_ns || !is_ns_init((pid_t)v))
			continue;
		mntns = ns_ino((pid_t)v, "mnt");
		if (!mntns)
			continue;
		if (mntns == our_mnt_ns) {
			shared++; /* a pid namespace without a mount namespace: not a container */
			continue;
		}
		if (o->cgroup && !in_cgroup((pid_t)v, o->cgroup))
			continue;
		/* Nested pid namespaces in one mount namespace: attached once. */
		for (unsigned i = 0; i < npids && !dup; i++)
			dup = seen[i] == mntns;
		if (dup)
			continue;
		seen[npids] = mntns;
		pids[npids++] = (pid_t)v;
	}
	closedir(proc);
	qsort(pids, npids, sizeof(*pids), pid_cmp);
	if (o->json)
		printf("{\"container\":[");
	for (unsigned i = 0; i < npids; i++) {
		struct attach_ct ct;

		attach_ct(pids[i], o, &ct);
		failed += ct_failed(&ct);
		print_ct(&ct, o, i == 0);
		fflush(stdout);
	}
	if (o->json) {
		printf("],\"found\":%u,\"failed\":%u,\"shares_our_mount_namespace\":%u}\n", npids,
		       failed, shared);
	} else {
		printf("%u container%s %s, %u failed", npids, npids == 1 ? "" : "s",
		       o->dry_run ? "found (dry run: nothing changed)" : "attached", failed);
		if (shared)
			printf("; %u pid namespace%s sharing our mount namespace left alone", shared,
			       shared == 1 ? "" : "s");
		putchar('\n');
	}
	free(seen);
	free(pids);
	return failed ? 1 : 0;
}

int ctl_daemon_mount(const char *socket_path, char *buf, size_t size)
{
	char *reply = ctl_request(socket_path, "status"), *line, *save = NULL;
	char *room[2 * RECORD_FIELDS];
	int rc = -EPROTO;

	if (!reply)
		return -ENOENT;
	if (strncmp(reply, CTL_PROTO_REPLY " OK\n", strlen(CTL_PROTO_REPLY) + 4) != 0) {
		free(reply);
		return -EPROTO;
	}
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct record r;
		const char *mnt, *pid;

		if (strncmp(line, "master ", 7) != 0)
			continue;
		record_parse(line, &r, room);
		mnt = record_get(&r, "mount");
		pid = record_get(&r, "pid");
		if (!mnt || !pid)
			break;
		if (mnt[0] == '/') {
			snprintf(buf, size, "%s", mnt);
		} else {
			/* Relative to where the master runs. */
			char cwd_link[64], cwd[4096];
			ssize_t n;

			snprintf(cwd_link, sizeof(cwd_link), "/proc/%s/cwd", pid);
			n = readlink(cwd_link, cwd, sizeof(cwd) - 1);
			if (n <= 0)
				break;
			cwd[n] = '\0';
			snprintf(buf, size, "%s/%s", cwd, mnt);
		}
		rc = 0;
		break;
	}
	free(reply);
	return rc;
}
