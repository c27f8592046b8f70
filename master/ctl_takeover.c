/*
 * lxcfs-ctl upgrade --all: replace the whole daemon with the installed
 * binaries, without unmounting. Runs `lxcfs --takeover` with the command line
 * the running master was started with (less --worker-binary, so that the new
 * lxcfs finds the worker installed beside it), detached from this command,
 * its stderr where the running master's goes, and waits until it serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master/ctl_client.h"
#include "master/ctl_takeover.h"

#define UPGRADE_WAIT_MS 30000
#define MAX_ARGS        256

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The running master's pid, from its status; 0 if it does not answer. */
static pid_t master_pid(const char *socket_path)
{
	char *reply = ctl_request(socket_path, "status"), *p;
	pid_t pid = 0;

	if (reply && (p = strstr(reply, "\nmaster pid=")) != NULL)
		pid = (pid_t)atol(p + strlen("\nmaster pid="));
	free(reply);
	return pid;
}

/* argv of process pid, NUL-separated in buf; returns the count, or -errno. */
static int proc_cmdline(pid_t pid, char *buf, size_t size, char **args, int max)
{
	char path[64];
	ssize_t n;
	int fd, count = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	for (char *p = buf; p < buf + n && count < max; p += strlen(p) + 1)
		args[count++] = p;
	return count;
}

/* The installed lxcfs: beside this lxcfs-ctl. */
static int default_binary(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, size, "%s/lxcfs", dirname(self));
	return 0;
}

int ctl_upgrade_all(const char *socket_path, const char *binary, const char *worker_binary)
{
	static char cmdline[65536];
	char exe[PATH_MAX], err_path[64], *old[MAX_ARGS], *args[MAX_ARGS + 8];
	pid_t old_pid, child, now_pid = 0;
	uint64_t t0;
	int nold, n = 0, status;

	old_pid = master_pid(socket_path);
	if (old_pid <= 0) {
		fprintf(stderr, "lxcfs-ctl: no lxcfs answers on %s\n", socket_path);
		return EXIT_NO_DAEMON;
	}
	nold = proc_cmdline(old_pid, cmdline, sizeof(cmdline), old, MAX_ARGS);
	if (nold < 0) {
		fprintf(stderr, "lxcfs-ctl: command line of master %d: %s\n", old_pid,
		        strerror(-nold));
		return 1;
	}
	if (!binary) {
		if (default_binary(exe, sizeof(exe)) < 0) {
			fprintf(stderr, "lxcfs-ctl: cannot tell where lxcfs is installed\n");
			return 1;
		}
		binary = exe;
	}
	if (access(binary, X_OK) < 0) {
		fprintf(stderr, "lxcfs-ctl: %s: %s\n", binary, strerror(errno));
		return 1;
	}
	args[n++] = (char *)binary;
	args[n++] = "--takeover";
	for (int i = 1; i < nold; i++) {
		if (strcmp(old[i], "--standby") == 0 || strcmp(old[i], "--takeover") == 0)
			continue;
		if (strcmp(old[i], "--worker-binary") == 0) {
			i++; /* and its value */
			continue;
		}
		if (strncmp(old[i], "--worker-binary=", 16) == 0)
			continue;
		args[n++] = old[i];
	}
	if (worker_binary) {
		/* Before the mount point's own position does not matter: getopt permutes. */
		args[n++] = "--worker-binary";
		args[n++] = (char *)worker_binary;
	}
	args[n] = NULL;
	snprintf(err_path, sizeof(err_path), "/proc/%d/fd/2", (int)old_pid);

	printf("taking over from lxcfs pid %d with %s\n", old_pid, binary);
	fflush(stdout);
	t0 = mono_ms();
	child = fork();
	if (child < 0) {
		fprintf(stderr, "lxcfs-ctl: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		/* A daemon of its own: its own session, its logs where the old master's went. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int err = open(err_path, O_WRONLY | O_APPEND | O_CLOEXEC);

		setsid();
		signal(SIGPIPE, SIG_DFL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(err >= 0 ? err : null, 2) < 0)
			_exit(126);
		syscall(SYS_close_range, 3, ~0U, 0);
		execv(binary, args);
		_exit(127);
	}
	while (mono_ms() - t0 < UPGRADE_WAIT_MS) {
		if (waitpid(child, &status, WNOHANG) == child) {
			fprintf(stderr,
			        "lxcfs-ctl: %s --takeover exited with status %d (the daemon's log "
			        "says why); lxcfs pid %d keeps serving\n",
			        binary,
			        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			        old_pid);
			return 1;
		}
		now_pid = master_pid(socket_path);
		if (now_pid == child) {
			printf("lxcfs pid %d -> %d, serving after %llu ms\n", old_pid, child,
			       (unsigned long long)(mono_ms() - t0));
			return 0;
		}
		usleep(20000);
	}
	fprintf(stderr, "lxcfs-ctl: no answer from lxcfs pid %d after %d s (master now %d)\n",
	        child, UPGRADE_WAIT_MS / 1000, now_pid);
	return 1;
}
