/*
 * The static tree. Only files that are rendered appear: no placeholders.
 * Inodes are numbered without gaps (fuse_measure_host walks them in order).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master/tree.h"

static const struct tree_node nodes[] = {
    {TREE_ROOT_INO, TREE_ROOT_INO, "", S_IFDIR | 0755, LX_FILE_NONE, NULL},
    {2, TREE_ROOT_INO, "proc", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {3, 2, "cpuinfo", S_IFREG | 0444, LX_FILE_CPUINFO, "/proc/cpuinfo"},
    {4, 2, "diskstats", S_IFREG | 0444, LX_FILE_DISKSTATS, "/proc/diskstats"},
    {5, 2, "loadavg", S_IFREG | 0444, LX_FILE_LOADAVG, "/proc/loadavg"},
    {6, 2, "meminfo", S_IFREG | 0444, LX_FILE_MEMINFO, "/proc/meminfo"},
    {7, 2, "slabinfo", S_IFREG | 0444, LX_FILE_SLABINFO, "/proc/slabinfo"},
    {8, 2, "stat", S_IFREG | 0444, LX_FILE_STAT, "/proc/stat"},
    {9, 2, "swaps", S_IFREG | 0444, LX_FILE_SWAPS, "/proc/swaps"},
    {10, 2, "uptime", S_IFREG | 0444, LX_FILE_UPTIME, "/proc/uptime"},
    {23, 2, "vmstat", S_IFREG | 0444, LX_FILE_VMSTAT, "/proc/vmstat"},
    {11, 2, "pressure", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {12, 11, "cpu", S_IFREG | 0444, LX_FILE_PRESSURE_CPU, "/proc/pressure/cpu"},
    {13, 11, "io", S_IFREG | 0444, LX_FILE_PRESSURE_IO, "/proc/pressure/io"},
    {14, 11, "memory", S_IFREG | 0444, LX_FILE_PRESSURE_MEMORY, "/proc/pressure/memory"},
    {15, TREE_ROOT_INO, "sys", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {16, 15, "devices", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {17, 16, "system", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {18, 17, "cpu", S_IFDIR | 0555, LX_FILE_NONE, NULL},
    {19, 18, "online", S_IFREG | 0444, LX_FILE_CPU_ONLINE, "/sys/devices/system/cpu/online"},
    {20, 18, "possible", S_IFREG | 0444, LX_FILE_CPU_POSSIBLE, "/sys/devices/system/cpu/possible"},
    {21, 18, "present", S_IFREG | 0444, LX_FILE_CPU_PRESENT, "/sys/devices/system/cpu/present"},
    {22, 18, "offline", S_IFREG | 0444, LX_FILE_CPU_OFFLINE, "/sys/devices/system/cpu/offline"},
};

_Static_assert(LX_INO_CPU_ONLINE == 19 && LX_INO_CPU_POSSIBLE == 20 && LX_INO_CPU_PRESENT == 21 &&
                   LX_INO_CPU_OFFLINE == 22,
               "the generated lists' inodes are the workers' too (sysfs.c)");

#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

const struct tree_node *tree_get(uint64_t ino)
{
	for (size_t i = 0; i < NNODES; i++)
		if (nodes[i].ino == ino)
			return &nodes[i];
	return NULL;
}

const struct tree_node *tree_lookup(uint64_t parent, const char *name)
{
	for (size_t i = 0; i < NNODES; i++)
		if (nodes[i].parent == parent && nodes[i].ino != parent &&
		    strcmp(nodes[i].name, name) == 0)
			return &nodes[i];
	return NULL;
}

const struct tree_node *tree_child(uint64_t dir, unsigned n)
{
	for (size_t i = 0; i < NNODES; i++) {
		if (nodes[i].parent != dir || nodes[i].ino == dir)
			continue;
		if (n-- == 0)
			return &nodes[i];
	}
	return NULL;
}

const char *tree_file_path(enum lx_file f, char *buf, size_t size)
{
	const struct tree_node *n = NULL, *chain[8];
	size_t used = 0;
	int depth = 0;

	for (size_t i = 0; i < NNODES && !n; i++)
		if (nodes[i].file == f && f != LX_FILE_NONE)
			n = &nodes[i];
	if (!n || size == 0)
		return NULL;
	while (n && n->ino != TREE_ROOT_INO && depth < 8) {
		chain[depth++] = n;
		n = tree_get(n->parent);
	}
	buf[0] = '\0';
	while (depth-- > 0) {
		int w =
		    snprintf(buf + used, size - used, "%s%s", used ? "/" : "", chain[depth]->name);

		if (w < 0 || (size_t)w >= size - used)
			return NULL;
		used += (size_t)w;
	}
	return buf;
}

/*
 * access(2) as the kernel's generic_permission() answers it for the node of
 * mode, owned by root like the host's /proc files: root reads and writes
 * anything and executes what has an x bit (CAP_DAC_OVERRIDE), others get the
 * group bits (gid 0) or the other bits. The kernel asks us only for access(2)
 * and chdir (fuse_access(); we mount without default_permissions), with the
 * caller's real ids. Writing still fails at open: this only says what the
 * bits say, as /proc/meminfo does.
 */
int tree_access(mode_t mode, uint32_t uid, uint32_t gid, uint32_t mask)
{
	unsigned bits;

	mask &= R_OK | W_OK | X_OK;
	if (uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(mode) && !(mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
			return -EACCES;
		return 0;
	}
	bits = gid == 0 ? (mode >> 3) & 7 : mode & 7;
	return (mask & ~bits) ? -EACCES : 0;
}
