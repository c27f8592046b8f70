#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shm/log.h"

bool log_debug_on;
static char log_who[32] = "lxcfs";

void log_init(const char *who, bool debug)
{
	snprintf(log_who, sizeof(log_who), "%s", who);
	log_debug_on = debug;
}

static void log_v(const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	/* One write per line, so that lines from several processes do not interleave. */
	n = snprintf(line, sizeof(line), "%s: ", log_who);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}
