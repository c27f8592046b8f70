/*
 * The messages between the master and its workers, carried in the shared
 * memory rings. Both sides are built from this header; a change to any
 * structure here is a layout change (bump SHM_LAYOUT_VERSION in layout.h).
 */
#ifndef LXCFS_PROTO_H
#define LXCFS_PROTO_H

#include <stdint.h>

/* Files a worker renders. The master's directory tree maps inodes to these. */
enum lx_file {
	LX_FILE_NONE = 0,
	LX_FILE_MEMINFO,
	LX_FILE_CPUINFO,
	LX_FILE_STAT,
	LX_FILE_UPTIME,
	LX_FILE_LOADAVG,
	LX_FILE_SWAPS,
	LX_FILE_DISKSTATS,
	LX_FILE_SLABINFO,
	LX_FILE_PRESSURE_CPU,
	LX_FILE_PRESSURE_IO,
	LX_FILE_PRESSURE_MEMORY,
	LX_FILE_CPU_ONLINE,
	LX_FILE_SYSFS, /* a file of the host's sys/devices/system/cpu, passed through */
	/* Added later, after SYSFS so that the values above keep their meaning. */
	LX_FILE_CPU_POSSIBLE,
	LX_FILE_CPU_PRESENT,
	LX_FILE_CPU_OFFLINE,
	LX_FILE_VMSTAT,
	LX_FILE_COUNT,
};

/*
 * sys/devices/system/cpu is the host's tree passed through, but for the
 * generated lists (online, possible, present, offline) and the cpuN
 * directories, of which each reader sees its container's. Its inodes are
 * fixed; the nodes below it are named by LX_INO_DYNAMIC | a hash of their
 * path under it, and the path is kept in the snapshot's SNAP_PATH table
 * (workers add it when they answer a LOOKUP).
 */
#define LX_INO_CPU_DIR      18
#define LX_INO_CPU_ONLINE   19
#define LX_INO_CPU_POSSIBLE 20
#define LX_INO_CPU_PRESENT  21
#define LX_INO_CPU_OFFLINE  22
#define LX_INO_DYNAMIC    (1ULL << 62)
#define LX_SYSFS_ROOT     "/sys/devices/system/cpu"
#define LX_NAME_MAX       255

/* Room for per-file counters in shared memory: files can be added without a layout change. */
#define LX_FILE_MAX 32

/* What a request asks of a worker. */
enum lx_op {
	LX_OP_READ = 1,     /* render the file for the reader, publish it, reply a slice */
	LX_OP_SAMPLE = 2,   /* -l: sample the load of the containers read recently; no reply */
	LX_OP_LOOKUP = 3,   /* passthrough: name in directory nodeid */
	LX_OP_GETATTR = 4,  /* passthrough: attributes of nodeid */
	LX_OP_READDIR = 5,  /* passthrough: entries of directory nodeid from offset */
	LX_OP_READLINK = 6, /* passthrough: target of symlink nodeid */
	LX_OP_RESOLVE = 7,  /* an OPEN by a reader the identity cache does not know yet:
	                       resolve its container; the master answers the OPEN */
};

/*
 * One request, master -> worker. seq numbers the master's pushes to one worker
 * so that completions can retire in-flight entries; unique is the kernel's.
 */
struct lx_req {
	uint64_t unique;
	uint64_t fh;            /* handle id: generation << 32 | index */
	uint64_t offset;        /* read offset */
	uint64_t t_dispatch_ns; /* CLOCK_MONOTONIC when the master first took it */
	uint32_t seq;
	uint32_t size; /* read size */
	uint32_t pid;  /* reader (host pid namespace) */
	uint32_t uid;
	uint32_t gid;
	uint16_t op;
	uint16_t file;
	uint64_t nodeid;              /* passthrough: the node asked about */
	char name[LX_NAME_MAX + 1];   /* LX_OP_LOOKUP: the name, NUL-terminated */
};

/*
 * One completion, worker -> master. old_content is a content chain the worker
 * replaced when it published a new one: only the master frees chains, because
 * only it may be reading one (see content.h).
 */
struct lx_cmp {
	uint64_t unique;
	uint64_t done_ns; /* CLOCK_MONOTONIC when the reply was written */
	uint64_t fh;      /* the request's handle: content below is charged to it */
	uint64_t tenant;  /* LX_OP_RESOLVE: the reader's container key, 0 unresolved */
	uint32_t seq;
	int32_t error;        /* 0, or the -errno replied to the kernel */
	uint32_t bytes;       /* payload bytes replied */
	uint32_t old_content; /* chunk index + 1 of a chain to free, 0 none */
	uint32_t new_chunks;  /* chunks of the content published for fh, 0 none */
	uint16_t file;
	uint16_t pad;
};

#endif
