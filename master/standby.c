/*
 * The standby master (standby.h): started and restarted by the serving
 * master, watching it, and telling main.c when to take its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/child.h"
#include "master/loop.h"
#include "master/standby.h"
#include "shm/log.h"

#define STANDBY_POLL_MS 50
#define STANDBY_RESPAWN_NS                                                                         \
	(1000ULL * 1000000ULL) /* one that keeps dying is retried once a second */

extern char **environ;

static char **master_argv;
static bool stopped; /* standby_stop: none until standby_start again */
static int exe_fd = -1;
static pid_t standby_pid;
static int standby_pidfd = -1;
static uint64_t respawn_at;

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void standby_exec(struct master *m, char **argv, pid_t parent)
{
	char *args[256];
	int n = 0;

	child_fds(m, parent, exe_fd);
	/* Right after the program name: an option wherever "--" may come later. */
	args[n++] = argv[0];
	args[n++] = "--standby";
	for (int i = 1; argv[i] && n < 250; i++)
		if (strcmp(argv[i], "--takeover") != 0 && strcmp(argv[i], "--standby") != 0)
			args[n++] = argv[i];
	args[n] = NULL;
	/* The binary this master runs, even if a package upgrade replaced the file since. */
	syscall(SYS_execveat, CHILD_EXTRA_FD, "", args, environ, AT_EMPTY_PATH);
	_exit(127);
}

static void on_standby_exit(struct master *m, int idx, unsigned events);

static int spawn(struct master *m)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0) {
		log_err("fork of the standby master: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0)
		standby_exec(m, master_argv, parent);
	standby_pidfd = pidfd_open(pid);
	if (standby_pidfd < 0) {
		log_err("pidfd_open of the standby master (pid %d): %s", pid, strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -errno;
	}
	standby_pid = pid;
	master_watch(m, standby_pidfd, EV(EV_STANDBY, 0));
	log_debug("standby master: pid %d", pid);
	return 0;
}

/* Restart a standby that ended, no more often than once a second. */
static uint64_t standby_clock(struct master *m)
{
	uint64_t now = now_ns();

	if (standby_pid || stopped || m->stopping)
		return 0;
	if (now >= respawn_at && spawn(m) == 0)
		return 0;
	if (now >= respawn_at)
		respawn_at = now + STANDBY_RESPAWN_NS;
	return respawn_at;
}

static void on_standby_exit(struct master *m, int idx, unsigned events)
{
	int status = 0;

	(void)idx;
	(void)events;
	if (!standby_pid)
		return;
	if (waitpid(standby_pid, &status, WNOHANG) != standby_pid)
		status = -1;
	if (status >= 0 && WIFSIGNALED(status))
		log_warn("standby master (pid %d) killed by signal %d: starting another",
		         standby_pid, WTERMSIG(status));
	else
		log_warn("standby master (pid %d) exited with status %d: starting another",
		         standby_pid, status >= 0 ? WEXITSTATUS(status) : -1);
	master_unwatch(m, standby_pidfd);
	close(standby_pidfd);
	standby_pidfd = -1;
	standby_pid = 0;
	respawn_at = now_ns() + STANDBY_RESPAWN_NS;
}

int standby_start(struct master *m, char **argv)
{
	if (argv)
		master_argv = argv;
	stopped = false;
	if (exe_fd < 0) {
		exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
		if (exe_fd < 0) {
			log_err("open /proc/self/exe: %s: no standby master", strerror(errno));
			return -errno;
		}
	}
	loop_on(m, EV_STANDBY, on_standby_exit);
	loop_add_tick(m, standby_clock);
	return spawn(m);
}

void standby_stop(struct master *m)
{
	pid_t pid = standby_pid;

	stopped = true; /* no restart from here on */
	if (!pid)
		return;
	standby_pid = 0;
	master_unwatch(m, standby_pidfd);
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto out;
		usleep(10000);
	}
	log_warn("standby master (pid %d) ignored SIGTERM: killing it", pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	close(standby_pidfd);
	standby_pidfd = -1;
}

/* The state letter of a process (R, S, D, T, t, Z, ...), '?' if unreadable. */
static char proc_state(pid_t pid)
{
	char path[32], buf[512], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

/* Kill the master we watch and wait until it is gone (its files closed). */
static void finish_master(int pidfd, pid_t pid)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (poll(&pfd, 1, 5000) != 1)
		log_err("master (pid %d) did not end 5 s after SIGKILL: taking over anyway", pid);
}

int standby_watch(struct master *m)
{
	char msg[256] = "";
	uint64_t stopped_since = 0;
	sigset_t set;
	pid_t pid;
	int err, pidfd, sigfd;

	err = shm_attach(&m->shm, CHILD_SHM_FD, msg, sizeof(msg));
	if (err < 0) {
		log_err("standby: attach shared memory: %s%s%s", strerror(-err), msg[0] ? ": " : "",
		        msg);
		return err;
	}
	m->fuse_fd = CHILD_FUSE_FD;
	m->wakefd = CHILD_WAKE_FD;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	pid = atomic_load(&m->shm.hdr->master_pid);
	pidfd = pid > 0 ? pidfd_open(pid) : -1;
	if (sigfd < 0 || pidfd < 0) {
		log_warn("standby: the master (pid %d) is already gone: taking over", pid);
		close(sigfd);
		return 0;
	}
	log_debug("standby for master pid %d", pid);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = pidfd, .events = POLLIN},
		                        {.fd = sigfd, .events = POLLIN}};
		uint64_t now, beat;
		char state;

		if (poll(pfd, 2, STANDBY_POLL_MS) < 0 && errno != EINTR)
			return -errno;
		if (pfd[1].revents) {
			close(pidfd);
			close(sigfd);
			return 1;
		}
		if (pfd[0].revents) {
			log_warn("master (pid %d) ended: taking over", pid);
			break;
		}
		now = now_ns();
		state = proc_state(pid);
		if (state == 'T' || state == 't') {
			if (!stopped_since)
				stopped_since = now;
			if (now - stopped_since >= STANDBY_STOPPED_MS * 1000000ULL) {
				log_warn(
				    "master (pid %d) stopped for %d ms: killing it and taking over",
				    pid, STANDBY_STOPPED_MS);
				finish_master(pidfd, pid);
				break;
			}
			continue;
		}
		stopped_since = 0;
		beat = atomic_load(&m->shm.hdr->master_beat_ns);
		if (beat && now > beat && now - beat >= STANDBY_HUNG_MS * 1000000ULL) {
			log_warn("master (pid %d, state %c) has not turned its loop in %llu ms: "
			         "killing it and taking over",
			         pid, state, (unsigned long long)((now - beat) / 1000000ULL));
			finish_master(pidfd, pid);
			break;
		}
	}
	close(pidfd);
	close(sigfd);
	/* From here on we are the master: signals are the loop's (main.c blocks them again). */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}
