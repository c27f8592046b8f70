/*
 * Both sides of a takeover (takeover.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "master/control.h"
#include "master/handover.h"
#include "master/loop.h"
#include "master/pool.h"
#include "master/standby.h"
#include "master/takeover.h"
#include "shm/log.h"

#define TK_DRAIN_NS    (2ULL * 1000000000ULL) /* what old workers hold, at most this long */
#define TK_TIMEOUT_S   15                     /* the new daemon waits no longer for an answer */
#define TK_OLD_EXIT_MS 10000

/* Send buf with fd attached (fd < 0: none). 0 or -errno. */
static int send_fd(int sock, const char *buf, size_t len, int fd)
{
	union {
		char space[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.space;
		msg.msg_controllen = sizeof(ctl.space);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

/*
 * Read one line (without its newline) into buf, taking any fd attached on
 * the way into *fd (closing extra ones). 0, -errno, or -ECONNRESET at EOF.
 */
static int recv_line(int sock, char *buf, size_t size, int *fd)
{
	size_t len = 0;

	while (len + 1 < size) {
		union {
			char space[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = buf + len, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov,
		                     .msg_iovlen = 1,
		                     .msg_control = ctl.space,
		                     .msg_controllen = sizeof(ctl.space)};
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < nfd; i++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (fd && *fd < 0)
					*fd = got;
				else
					close(got);
			}
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		len++;
	}
	return -EMSGSIZE;
}

/* ---- the old master's side ---- */

enum tk_state { TK_NONE, TK_OFFERED, TK_FREEZING, TK_FROZEN };

static struct {
	enum tk_state st;
	int fd;
	pid_t peer;
	uint64_t freeze_ns;
	char in[128];
	size_t inlen;
} tk = {.fd = -1};

static void session_end(struct master *m, bool resume)
{
	if (tk.fd >= 0) {
		master_unwatch(m, tk.fd);
		close(tk.fd);
	}
	/* Back to serving: what the new daemon read and did not answer is queued again. */
	if (resume && (tk.st == TK_FREEZING || tk.st == TK_FROZEN)) {
		log_warn("takeover by pid %d abandoned: serving again", tk.peer);
		if (fuse_serve(m) < 0)
			log_err("watching /dev/fuse again failed: exiting");
		fuse_resend(m);
		if (standby_start(m, NULL) < 0)
			log_warn("no standby master after the abandoned takeover");
	}
	tk.fd = -1;
	tk.st = TK_NONE;
	tk.inlen = 0;
}

/* Send the state once the workers hold nothing more (or the drain took too long). */
static uint64_t takeover_clock(struct master *m)
{
	char msg[64];
	int state, err;

	if (tk.st != TK_FREEZING)
		return 0;
	if (!pool_idle(m->pool) && now_ns() - tk.freeze_ns < TK_DRAIN_NS)
		return now_ns() + LOOP_TICK_NS;
	state = memfd_create("lxcfs-handover", MFD_CLOEXEC);
	err = state < 0 ? -errno : handover_write(m, state);
	if (err == 0)
		err = send_fd(tk.fd, "frozen\n", 7, state);
	if (state >= 0)
		close(state);
	if (err < 0) {
		snprintf(msg, sizeof(msg), "%s", strerror(-err));
		log_err("takeover by pid %d: handing over the state: %s", tk.peer, msg);
		session_end(m, true);
		return 0;
	}
	tk.st = TK_FROZEN;
	log_info("takeover by pid %d: state handed over after %llu ms", tk.peer,
	         (unsigned long long)((now_ns() - tk.freeze_ns) / 1000000ULL));
	return 0;
}

static void on_command(struct master *m, const char *cmd)
{
	if (strcmp(cmd, "freeze") == 0 && tk.st == TK_OFFERED) {
		/* From here the new master reads /dev/fuse; ours must not take over either. */
		master_unwatch(m, m->fuse_fd);
		standby_stop(m);
		tk.st = TK_FREEZING;
		tk.freeze_ns = now_ns();
		loop_add_tick(m, takeover_clock);
		return;
	}
	if (strcmp(cmd, "done") == 0 && tk.st == TK_FROZEN) {
		log_info("taken over by pid %d: exiting, the mount stays", tk.peer);
		(void)!write(tk.fd, "bye\n", 4);
		m->handed_over = true;
		m->stopping = true;
		session_end(m, false);
		return;
	}
	/* "abort", or anything out of turn. */
	session_end(m, true);
}

static void on_session(struct master *m, int idx, unsigned events)
{
	ssize_t n;
	char *nl;

	(void)idx;
	(void)events;
	n = read(tk.fd, tk.in + tk.inlen, sizeof(tk.in) - 1 - tk.inlen);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		session_end(m, true); /* the new daemon went away */
		return;
	}
	tk.inlen += (size_t)n;
	while ((nl = memchr(tk.in, '\n', tk.inlen)) != NULL) {
		size_t used = (size_t)(nl - tk.in) + 1;

		*nl = '\0';
		on_command(m, tk.in);
		if (tk.fd < 0)
			return; /* the command ended the session */
		memmove(tk.in, tk.in + used, tk.inlen - used);
		tk.inlen -= used;
	}
	if (tk.inlen == sizeof(tk.in) - 1)
		session_end(m, true);
}

int takeover_accept(struct master *m, int fd, char *args, char *msg, size_t size)
{
	char *save = NULL, *pid_s, *mnt, reply[PATH_MAX * 3 + 128], esc[PATH_MAX * 3],
	     ours[PATH_MAX];
	int err;

	pid_s = args ? strtok_r(args, " ", &save) : NULL;
	strtok_r(NULL, " ", &save); /* its layout version: any, the state is layout-free */
	mnt = strtok_r(NULL, " ", &save);
	if (!pid_s || !mnt) {
		snprintf(msg, size, "takeover needs a pid, a layout version and a mount point");
		return -EINVAL;
	}
	ctl_unescape(mnt);
	if (tk.st != TK_NONE) {
		snprintf(msg, size, "another takeover (pid %d) is under way", tk.peer);
		return -EBUSY;
	}
	if (m->stopping) {
		snprintf(msg, size, "this lxcfs is stopping");
		return -ESHUTDOWN;
	}
	if (!realpath(m->cli->mountpoint, ours))
		snprintf(ours, sizeof(ours), "%s", m->cli->mountpoint);
	if (strcmp(ours, mnt) != 0) {
		snprintf(msg, size, "this lxcfs serves %s, not %s", ours, mnt);
		return -EXDEV;
	}
	ctl_escape(ours, esc, sizeof(esc));
	snprintf(reply, sizeof(reply), "%s OK\ntakeover pid=%d mount=%s\n", CTL_PROTO_REPLY,
	         (int)getpid(), esc);
	/* Blocking for these few lines: the socket buffer holds them. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	err = send_fd(fd, reply, strlen(reply), m->fuse_fd);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (err < 0) {
		snprintf(msg, size, "sending the connection: %s", strerror(-err));
		return err;
	}
	tk.fd = fd;
	tk.peer = (pid_t)atoi(pid_s);
	tk.st = TK_OFFERED;
	tk.inlen = 0;
	loop_on(m, EV_TAKEOVER, on_session);
	if (master_watch(m, fd, EV(EV_TAKEOVER, 0)) < 0) {
		tk.fd = -1;
		tk.st = TK_NONE;
		snprintf(msg, size, "watching the session failed");
		return -EIO;
	}
	log_info("takeover requested by pid %d", tk.peer);
	return 0;
}

/* ---- the new daemon's side ---- */

/* The type of the file system mounted at path ("fuse.lxcfs", "tmpfs"), or "" if none is. */
static void mount_type(const char *path, char *out, size_t size)
{
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	out[0] = '\0';
	if (!f)
		return;
	/* "id parent maj:min root mountpoint options ... - fstype source super": the last wins. */
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], type[64], *dash = strstr(line, " - ");

		if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    strcmp(mnt, path) == 0 && sscanf(dash + 3, "%63s", type) == 1)
			snprintf(out, size, "%s", type);
	}
	fclose(f);
}

static int fail(char *msg, size_t size, int err, const char *fmt, const char *what)
{
	snprintf(msg, size, fmt, what);
	return err;
}

int takeover_connect(struct master *m, struct takeover *t, char *msg, size_t size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = TK_TIMEOUT_S};
	char path[PATH_MAX], mnt[PATH_MAX], esc[PATH_MAX * 3], line[PATH_MAX * 3 + 64], *p;
	int fd = -1, err;

	t->fd = t->old_pidfd = -1;
	snprintf(path, sizeof(path), "%s/%s", m->cli->runtime_dir, CTL_SOCKET_NAME);
	if (strlen(path) >= sizeof(addr.sun_path))
		return fail(msg, size, -ENAMETOOLONG, "control socket path %s is too long", path);
	if (!realpath(m->cli->mountpoint, mnt)) {
		snprintf(msg, size, "mount point %s: %s: nothing to take over", m->cli->mountpoint,
		         strerror(errno));
		return -errno;
	}
	strcpy(addr.sun_path, path);
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		char type[64], what[PATH_MAX + 128] = "";

		err = -errno;
		mount_type(mnt, type, sizeof(type));
		if (type[0] && strcmp(type, "fuse.lxcfs") != 0)
			snprintf(what, sizeof(what), "; %s is a %s mount, not lxcfs", mnt, type);
		else if (type[0])
			snprintf(
			    what, sizeof(what),
			    "; %s is served by an lxcfs of another runtime dir, or one without "
			    "takeover",
			    mnt);
		snprintf(msg, size, "no lxcfs answers on %s (%s)%s: nothing to take over", path,
		         strerror(-err), what);
		goto out;
	}
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ctl_escape(mnt, esc, sizeof(esc));
	snprintf(line, sizeof(line), "%s takeover %d %u %s\n", CTL_PROTO_REQ, (int)getpid(),
	         SHM_LAYOUT_VERSION, esc);
	err = send_fd(t->fd, line, strlen(line), -1);
	if (err == 0)
		err = recv_line(t->fd, line, sizeof(line), &fd);
	if (err < 0) {
		snprintf(msg, size, "the lxcfs on %s did not answer: %s", path, strerror(-err));
		goto out;
	}
	if (strncmp(line, CTL_PROTO_REPLY " ERR ", sizeof(CTL_PROTO_REPLY " ERR ") - 1) == 0) {
		snprintf(msg, size, "refused: %s", line + sizeof(CTL_PROTO_REPLY " ERR ") - 1);
		err = -EPERM;
		goto out;
	}
	err = recv_line(t->fd, line, sizeof(line), &fd);
	p = err == 0 ? strstr(line, "pid=") : NULL;
	if (!p || fd < 0) {
		snprintf(msg, size, "the lxcfs on %s does not speak takeover (%s)", path,
		         err < 0 ? strerror(-err) : line);
		err = -EPROTO;
		goto out;
	}
	t->old_pid = (pid_t)atoi(p + 4);
	t->old_pidfd = (int)syscall(SYS_pidfd_open, t->old_pid, 0);
	m->fuse_fd = fd;
	return 0;
out:
	if (fd >= 0)
		close(fd);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return err;
}

int takeover_freeze(struct takeover *t, int *state, char *msg, size_t size)
{
	char line[64];
	int err;

	*state = -1;
	err = send_fd(t->fd, "freeze\n", 7, -1);
	if (err == 0)
		err = recv_line(t->fd, line, sizeof(line), state);
	if (err == 0 && (strcmp(line, "frozen") != 0 || *state < 0))
		err = -EPROTO;
	if (err < 0) {
		snprintf(msg, size, "the old master did not hand over its state: %s",
		         strerror(-err));
		if (*state >= 0)
			close(*state);
		*state = -1;
	}
	return err;
}

int takeover_done(struct takeover *t, char *msg, size_t size)
{
	struct pollfd pfd = {.fd = t->old_pidfd, .events = POLLIN};
	char line[16];
	int err = send_fd(t->fd, "done\n", 5, -1);

	if (err == 0)
		err = recv_line(t->fd, line, sizeof(line), NULL);
	close(t->fd);
	t->fd = -1;
	if (err < 0) {
		snprintf(msg, size, "the old master did not confirm: %s", strerror(-err));
		return err;
	}
	/* Its pidfile lock and its workers go with it. */
	if (t->old_pidfd >= 0 && poll(&pfd, 1, TK_OLD_EXIT_MS) != 1) {
		snprintf(msg, size, "the old master (pid %d) has not exited after %d s", t->old_pid,
		         TK_OLD_EXIT_MS / 1000);
		return -ETIMEDOUT;
	}
	return 0;
}

void takeover_abort(struct takeover *t)
{
	if (t->fd >= 0) {
		(void)send_fd(t->fd, "abort\n", 6, -1);
		close(t->fd);
	}
	t->fd = -1;
	if (t->old_pidfd >= 0)
		close(t->old_pidfd);
	t->old_pidfd = -1;
}
