/*
 * /proc/uptime for one container: the age of its init and the part of that
 * age its CPUs did not spend on its tasks.
 *
 * Upstream LXCFS (src/proc_fuse.c, proc_uptime_read) prints "%.2lf %.2lf\n"
 * with idle = age - busy, but when busy exceeds age it prints idle = age, as
 * if the container had never run. SPEC floors idle at 0 instead: a container
 * keeping several CPUs busy has, on the whole, no idle time to show.
 */
#include <errno.h>
#include <stdio.h>

#include "proc_render/misc.h"

ssize_t render_uptime(double age_s, double idle_s, char *buf, size_t size)
{
	int n;

	/* !(x > 0) also catches a NaN from a clock gone wrong */
	if (!(age_s > 0))
		age_s = 0;
	if (!(idle_s > 0))
		idle_s = 0;
	if (idle_s > age_s)
		idle_s = age_s;

	n = snprintf(buf, size, "%.2f %.2f\n", age_s, idle_s);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}
