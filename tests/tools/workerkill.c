/*
 * workerkill: SIGKILL a random lxcfs worker at random moments, on schedule.
 *
 *   workerkill --master PID [--seconds S] [--every-ms MIN[-MAX]] [--name COMM]
 *
 * Every MIN..MAX ms (uniformly drawn; default 50) for S seconds (default 10),
 * picks one of the master's live children whose name is COMM (default
 * lxcfs-worker) at random and sends it SIGKILL. The schedule is absolute
 * (clock_nanosleep to the next deadline), so a slow step does not push the
 * later ones back; a step more than a period late is dropped rather than
 * made up with a burst. The children are found by a scan of /proc/<pid>/stat:
 * no fork per kill, so the schedule holds on a loaded machine where a shell
 * loop around pgrep slips to one kill a second.
 *
 * Prints "kills=N skipped=N seconds=F mean_ms=F" (skipped: steps with no live
 * worker to kill) and exits 0; 1 if the master went away; 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_KIDS 256

static void usage(void)
{
	fprintf(stderr, "usage: workerkill --master PID [--seconds S] [--every-ms MIN[-MAX]] "
	                "[--name COMM]\n");
	exit(2);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Parent pid, state and name of pid from /proc/<pid>/stat; 0 or -1. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state, char *comm, size_t size)
{
	char path[64], buf[512], *lp, *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp || rp[1] != ' ')
		return -1;
	snprintf(comm, size, "%.*s", (int)(rp - lp - 1), lp + 1);
	*state = rp[2];
	*ppid = (pid_t)strtol(rp + 4, NULL, 10);
	return 0;
}

/* The master's live children named name. */
static int children(pid_t master, const char *name, pid_t *out)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_KIDS) {
		char comm[64], state;
		pid_t pid = (pid_t)atoi(de->d_name), ppid;

		if (pid <= 0 || proc_stat(pid, &ppid, &state, comm, sizeof(comm)) < 0)
			continue;
		if (ppid == master && state != 'Z' && state != 'X' && strcmp(comm, name) == 0)
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *name = "lxcfs-worker";
	double seconds = 10;
	long min_ms = 50, max_ms = 50;
	unsigned long kills = 0, skipped = 0;
	long long start, end, next;
	pid_t master = 0, kids[MAX_KIDS];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		char *e;

		if (i + 1 >= argc)
			usage();
		v = argv[++i];
		if (strcmp(a, "--master") == 0) {
			master = (pid_t)strtol(v, &e, 10);
		} else if (strcmp(a, "--seconds") == 0) {
			seconds = strtod(v, &e);
		} else if (strcmp(a, "--every-ms") == 0) {
			min_ms = max_ms = strtol(v, &e, 10);
			if (*e == '-')
				max_ms = strtol(e + 1, &e, 10);
		} else if (strcmp(a, "--name") == 0) {
			name = v;
			e = (char *)"";
		} else {
			usage();
		}
		if (*e)
			usage();
	}
	if (master <= 0 || seconds <= 0 || min_ms < 1 || max_ms < min_ms)
		usage();

	/* Keep to the schedule on a machine that the readers keep busy. */
	setpriority(PRIO_PROCESS, 0, -10);
	srandom((unsigned)(now_ns() ^ getpid()));
	start = next = now_ns();
	end = start + (long long)(seconds * 1e9);
	while (next < end) {
		struct timespec ts;
		int n;

		if (kill(master, 0) < 0 && errno == ESRCH) {
			printf("kills=%lu skipped=%lu master_gone=1\n", kills, skipped);
			return 1;
		}
		n = children(master, name, kids);
		if (n > 0 && kill(kids[random() % n], SIGKILL) == 0)
			kills++;
		else
			skipped++;
		next += (min_ms + random() % (max_ms - min_ms + 1)) * 1000000LL;
		if (now_ns() - next > max_ms * 1000000LL)
			next = now_ns();
		if (next > end)
			next = end;
		ts.tv_sec = (time_t)(next / 1000000000LL);
		ts.tv_nsec = (long)(next % 1000000000LL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	printf("kills=%lu skipped=%lu seconds=%.1f mean_ms=%.1f\n", kills, skipped,
	       (double)(now_ns() - start) / 1e9,
	       kills ? (double)(now_ns() - start) / 1e6 / (double)kills : 0.0);
	return 0;
}
