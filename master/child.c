/*
 * Descriptors of the master's children (child.h).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "master/child.h"

void child_fds(struct master *m, pid_t parent, int extra)
{
	int fuse, shm, wake, ext = -1;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (getppid() != parent)
		_exit(1);
	/* Out of the way first: a dup2 onto 3..6 must not clobber one still to move. */
	fuse = fcntl(m->fuse_fd, F_DUPFD, 100);
	shm = fcntl(m->shm.fd, F_DUPFD, 100);
	wake = fcntl(m->wakefd, F_DUPFD, 100);
	if (extra >= 0)
		ext = fcntl(extra, F_DUPFD, 100);
	if (fuse < 0 || shm < 0 || wake < 0 || (extra >= 0 && ext < 0) ||
	    dup2(fuse, CHILD_FUSE_FD) < 0 || dup2(shm, CHILD_SHM_FD) < 0 ||
	    dup2(wake, CHILD_WAKE_FD) < 0 ||
	    (ext >= 0 && (dup2(ext, CHILD_EXTRA_FD) < 0 ||
	                  fcntl(CHILD_EXTRA_FD, F_SETFD, FD_CLOEXEC) < 0)))
		_exit(126);
	syscall(SYS_close_range, ext >= 0 ? CHILD_EXTRA_FD + 1 : CHILD_EXTRA_FD, ~0U, 0);
}
