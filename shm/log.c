/*
 * Log lines to stderr, syslog or journald (see log.h). Every process has its
 * own connected datagram socket; the master and the workers never share one,
 * so a worker killed mid-line cannot garble the master's.
 *
 * The datagram formats are written here rather than taken from syslog(3):
 * syslog(3) blocks in send() when the receiver's queue is full (and on a
 * stream socket, if /dev/log is one), and the daemon must never wait on it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "shm/log.h"

#define LOG_IDENT        "lxcfs"
#define LOG_SYSLOG_PATH  "/dev/log"
#define LOG_JOURNAL_PATH "/run/systemd/journal/socket"
#define LOG_RETRY_NS     1000000000ULL /* a missing socket is tried again at most this often */
#define LOG_LINE_MAX     1024

bool log_debug_on;
static char log_who[32] = "lxcfs";
static enum log_target target = LOG_TARGET_STDERR;
static int log_worker = -1;
static int sock = -1;     /* connected datagram socket of syslog/journald, -1 none */
static uint64_t retry_at; /* when sock is -1: the next connect attempt, CLOCK_MONOTONIC */
static int lost_err;      /* why sock is -1 (-errno), told on stderr once per loss */
static bool lost_told;
static bool stderr_socket;  /* fd 2 is a socket (systemd's stream): send without waiting */
static uint64_t dropped;    /* lines the target did not take */
static uint64_t unreported; /* of those, not yet told about on the target */

static const char *const target_names[] = {
    [LOG_TARGET_STDERR] = "stderr",
    [LOG_TARGET_SYSLOG] = "syslog",
    [LOG_TARGET_JOURNALD] = "journald",
    [LOG_TARGET_AUTO] = "auto",
};

void log_init(const char *who, bool debug)
{
	snprintf(log_who, sizeof(log_who), "%s", who);
	log_debug_on = debug;
}

int log_target_parse(const char *name, enum log_target *out)
{
	for (unsigned i = 0; i < sizeof(target_names) / sizeof(target_names[0]); i++)
		if (strcmp(name, target_names[i]) == 0) {
			*out = (enum log_target)i;
			return 0;
		}
	return -EINVAL;
}

const char *log_target_name(enum log_target t)
{
	return (unsigned)t < sizeof(target_names) / sizeof(target_names[0]) ? target_names[t] : "?";
}

enum log_target log_target_now(void)
{
	return target;
}

uint64_t log_dropped(void)
{
	return dropped;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* systemd sets JOURNAL_STREAM to "<dev>:<inode>" of the stream it gave us as stderr. */
static bool stderr_is_journal(const struct stat *st)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	return st->st_dev == (dev_t)dev && st->st_ino == (ino_t)ino;
}

enum log_target log_target_default(void)
{
	struct stat st, null;

	if (fstat(STDERR_FILENO, &st) < 0)
		return LOG_TARGET_AUTO; /* closed: nobody would read it */
	if (stderr_is_journal(&st))
		return LOG_TARGET_JOURNALD;
	if (S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
	    st.st_rdev == null.st_rdev)
		return LOG_TARGET_AUTO;
	return LOG_TARGET_STDERR;
}

static bool socket_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static const char *target_path(void)
{
	return target == LOG_TARGET_JOURNALD ? LOG_JOURNAL_PATH : LOG_SYSLOG_PATH;
}

/* Write a whole line to fd 2, never waiting on a socket there. */
static bool stderr_write(const char *line, size_t len)
{
	ssize_t n;

	if (stderr_socket)
		n = send(STDERR_FILENO, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(STDERR_FILENO, line, len);
	if (n > 0 && (size_t)n < len && stderr_socket)
		/* A stream cut mid-line: end it, so the next line starts clean. */
		(void)!send(STDERR_FILENO, "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n == (ssize_t)len;
}

/* "who: msg" on stderr, for the stderr target and while a socket is unreachable. */
static bool stderr_line(const char *msg)
{
	char line[LOG_LINE_MAX + 64];
	int n = snprintf(line, sizeof(line), "%s: %s\n", log_who, msg);

	if (n >= (int)sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	return stderr_write(line, (size_t)n);
}

/* Connect to the target's socket. Returns 0 or -errno; sock stays -1 on failure. */
static int log_connect(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", target_path());
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	sock = fd;
	return 0;
}

/* Give up the socket after err; the next line says so on stderr. */
static void log_lost(int err)
{
	if (sock >= 0)
		close(sock);
	sock = -1;
	retry_at = mono_ns() + LOG_RETRY_NS;
	lost_err = err;
	lost_told = false;
}

/* A line the target cannot take now goes to stderr, after a note of why (once per loss). */
static void stderr_fallback(const char *msg)
{
	if (!lost_told) {
		char note[256];

		snprintf(note, sizeof(note),
		         "log target %s (%s): %s: lines go to stderr until it is back",
		         log_target_name(target), target_path(), strerror(-lost_err));
		stderr_line(note);
		lost_told = true;
	}
	stderr_line(msg);
}

enum log_target log_open(enum log_target t, int worker)
{
	struct stat st;
	int err;

	log_worker = worker;
	stderr_socket = fstat(STDERR_FILENO, &st) == 0 && S_ISSOCK(st.st_mode);
	if (t == LOG_TARGET_AUTO)
		t = socket_exists(LOG_JOURNAL_PATH)  ? LOG_TARGET_JOURNALD
		    : socket_exists(LOG_SYSLOG_PATH) ? LOG_TARGET_SYSLOG
		                                     : LOG_TARGET_STDERR;
	if (sock >= 0)
		close(sock);
	sock = -1;
	target = t;
	if (t == LOG_TARGET_STDERR)
		return t;
	tzset(); /* syslog timestamps are local time: read the zone once, not per line */
	err = log_connect();
	if (err < 0)
		log_lost(err);
	return t;
}

/*
 * One datagram for the target. msg is the line without a prefix; a worker's
 * lines say which worker in the text too, as a reader of plain syslog needs it.
 */
static int format(char *out, size_t size, int prio, const char *msg)
{
	char who[40] = "";
	int n;

	if (log_worker >= 0)
		snprintf(who, sizeof(who), "%s: ", log_who);
	if (target == LOG_TARGET_SYSLOG) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(out, size, "<%d>%s %s[%d]: %s%s", LOG_DAEMON | prio, stamp, LOG_IDENT,
		             (int)getpid(), who, msg);
	} else {
		n = snprintf(out, size,
		             "MESSAGE=%s%s\nPRIORITY=%d\nSYSLOG_FACILITY=%d\nSYSLOG_IDENTIFIER=%s\n"
		             "SYSLOG_PID=%d\n",
		             who, msg, prio, LOG_DAEMON >> 3, LOG_IDENT, (int)getpid());
		if (n > 0 && (size_t)n < size && log_worker >= 0)
			n += snprintf(out + n, size - (size_t)n, "LXCFS_WORKER=%d\n", log_worker);
	}
	return n < 0 ? 0 : (size_t)n < size ? n : (int)size - 1;
}

/* Send one datagram. 1 sent, 0 the target is full (dropped), -errno the socket is gone. */
static int log_send(const char *buf, int len)
{
	if (send(sock, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == len)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)
		return 0;
	return -errno;
}

static void emit(int prio, const char *msg)
{
	char buf[LOG_LINE_MAX + 256];
	int len, r;

	if (target == LOG_TARGET_STDERR) {
		if (!stderr_line(msg))
			dropped++;
		return;
	}
	if (sock < 0 && mono_ns() >= retry_at) {
		r = log_connect();
		if (r < 0) {
			retry_at = mono_ns() + LOG_RETRY_NS;
			lost_err = r;
		}
	}
	if (sock < 0) {
		dropped++;
		unreported++;
		stderr_fallback(msg);
		return;
	}
	if (unreported) {
		char note[128];

		snprintf(
		    note, sizeof(note),
		    "%llu earlier log lines did not get here (the log socket was full or missing)",
		    (unsigned long long)unreported);
		len = format(buf, sizeof(buf), LOG_WARNING, note);
		if (log_send(buf, len) == 1)
			unreported = 0;
	}
	len = format(buf, sizeof(buf), prio, msg);
	r = log_send(buf, len);
	if (r == 1)
		return;
	dropped++;
	unreported++;
	if (r < 0) {
		log_lost(r);
		stderr_fallback(msg);
	}
}

static void log_v(int prio, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One event, one line: a newline in a name must not start a forged one. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	emit(prio, msg);
	errno = saved;
}

#define LOG_FN(name, prio)                                                                         \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, fmt);                                                                 \
		log_v(prio, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_msg, LOG_WARNING)

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_v(LOG_DEBUG, fmt, ap);
	va_end(ap);
}
