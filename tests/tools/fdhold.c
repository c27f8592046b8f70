/*
 * fdhold: open a file as many times as allowed and keep every open, as a
 * tenant hoarding a shared handle table would.
 *
 *   fdhold [--count N] [--read BYTES] [--stop-file PATH] [--seconds S] FILE...
 *
 * Opens the FILEs in turn, N opens in all (default: until an open fails),
 * reading BYTES from each open when --read is given (so that its content is
 * kept too), and stops at the first failure. Then prints one line,
 *   opened=N failed_errno=NAME
 * (NAME "none" when every open succeeded). It raises the soft file limit to the
 * hard one first so that the limit under test is the filesystem's, keeps
 * everything open until PATH exists or S seconds (default 300) passed, and
 * closes it all. Exits 0, or 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: fdhold [--count N] [--read BYTES] [--stop-file PATH] "
	                "[--seconds S] FILE...\n");
	exit(2);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long count = -1, nread = 0, seconds = 300, opened = 0;
	const char *stop = NULL;
	struct rlimit rl;
	char buf[4096];
	int *fds, i, err = 0, nfiles;
	double deadline;

	for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--read") == 0)
			nread = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--stop-file") == 0)
			stop = argv[i + 1];
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atol(argv[i + 1]);
		else
			usage();
	}
	nfiles = argc - i;
	if (nfiles < 1 || nread < 0 || (size_t)nread > sizeof(buf))
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (count < 0)
		count = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : 1024;
	fds = calloc((size_t)count + 1, sizeof(*fds));
	if (!fds)
		return 3;
	while (opened < count) {
		int fd = open(argv[i + opened % nfiles], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			err = errno;
			break;
		}
		if (nread && read(fd, buf, (size_t)nread) < 0) {
			err = errno;
			close(fd);
			break;
		}
		fds[opened++] = fd;
	}
	printf("opened=%ld failed_errno=%s\n", opened, err ? strerrorname_np(err) : "none");
	fflush(stdout);
	deadline = mono_s() + (double)seconds;
	while (mono_s() < deadline && !(stop && access(stop, F_OK) == 0))
		usleep(50000);
	for (long k = 0; k < opened; k++)
		close(fds[k]);
	free(fds);
	return 0;
}
