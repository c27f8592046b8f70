/*
 * /proc/swaps for one container: a single virtual device whose size and use
 * are meminfo's SwapTotal and SwapTotal - SwapFree.
 *
 * The line is upstream LXCFS's (src/proc_fuse.c, proc_swaps_read): "none",
 * padded with 36 blanks, "virtual", two tabs, size, used, priority 0, tab
 * separated. Without swap only the header is printed, as upstream does and as
 * the kernel does on a host with no swap device.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "proc_render/misc.h"

#define SWAPS_HEADER "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"

ssize_t render_swaps(uint64_t total_kb, uint64_t used_kb, char *buf, size_t size)
{
	int n;

	if (used_kb > total_kb)
		used_kb = total_kb;
	if (total_kb > 0)
		n = snprintf(buf, size,
		             SWAPS_HEADER "none%36svirtual\t\t%" PRIu64 "\t%" PRIu64 "\t0\n", "",
		             total_kb, used_kb);
	else
		n = snprintf(buf, size, SWAPS_HEADER);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}
