/*
 * The cgroup stat snapshot: set-associative tables in shared memory that map a
 * key (a cgroup path, a pid, a host file name) to the values read for it, with
 * the time they were read. Any worker can use what another read, a restarted
 * worker starts warm, and a read of a fresh entry never touches cgroupfs.
 *
 * Every slot is a seqlock plus a lease:
 *   - readers copy a slot out and retry if its sequence moved; they never take
 *     a lock, and give up (reading live instead) rather than wait on a writer;
 *   - a writer first takes the slot's lease (compare-and-swap of its worker id
 *     and generation), so one stale entry is refreshed by one worker however
 *     many race on it; a lease whose holder died or was replaced is taken over;
 *   - a writer killed mid-write leaves the sequence odd: readers treat the slot
 *     as missing until the next writer completes it.
 * A bucket holds SNAP_WAYS slots; a new key takes an empty slot or evicts the
 * least recently used one of its bucket. Capacity is fixed at creation.
 *
 * Two tables hold state rather than a cache of what cgroupfs says: the
 * /proc/stat floors (SNAP_STAT) and the load averages (SNAP_LOAD). Losing an
 * entry there breaks a promise (counters never go backwards, averages carry
 * on), so they are SNAP_TABLE_STATE tables, sized apart from the snapshot
 * (see layout.h) and evicted differently:
 *   - a key may live in either of two buckets and a new key goes to the one
 *     with more room, so a table fills evenly before any bucket overflows;
 *   - only an entry nobody used for SNAP_STATE_IDLE_NS makes room for a new
 *     key; when both buckets hold only entries in use, the new key is not
 *     stored (snap_get reads it live, snap_modify returns -ENOSPC) and the
 *     entries in use keep their state.
 */
#ifndef LXCFS_SNAP_H
#define LXCFS_SNAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_WAYS 8

enum snap_table_id {
	SNAP_PID,  /* (pid, /proc/<pid> inode, ctime) -> init of its pid namespace */
	SNAP_CONT, /* (init pid, inode, ctime) -> its cgroup paths */
	SNAP_MEM,  /* (hierarchy, cgroup path) -> struct cg_memory */
	SNAP_HOST, /* host file name -> its text */
	SNAP_LOAD, /* cpu cgroup path -> its load average state (-l) */
	SNAP_STAT, /* usage cgroup path -> the /proc/stat figures last shown (a floor) */
	SNAP_PATH, /* passthrough inode -> its path under sys/devices/system/cpu, its type */
	SNAP_CPU,  /* (hierarchy, cgroup path) -> its effective cpuset, or its CFS quota in CPUs */
	SNAP_ACCT, /* (hierarchy, cgroup path) -> its CPU time: v1 per CPU, v2 totals */
	SNAP_PSI,  /* (file, unified cgroup path) -> its pressure text, or that it has none */
	SNAP_IO,   /* (hierarchy, cgroup path) -> its I/O figures per device */
	SNAP_NTABLES,
};

/* The table's name in dumps and statistics. */
const char *snap_table_name(enum snap_table_id t);

/* A 128-bit hash of the key bytes: equal hashes are taken as equal keys. */
struct snap_key {
	uint64_t h1, h2;
};

struct snap_slot {
	_Atomic uint32_t seq;     /* odd while a writer is in it */
	uint32_t value_len;       /* under seq */
	_Atomic uint64_t lease;   /* 0, or (worker id + 1) << 32 | generation */
	struct snap_key key;      /* under seq; zero: never used */
	uint64_t filled_ns;       /* under seq: CLOCK_MONOTONIC when read */
	_Atomic uint64_t used_ns; /* last use, for eviction; racy by design */
	char label[64];           /* under seq: a readable form of the key, for dumps */
	                          /* value bytes follow, the table's value_size */
};

/* Unused this long, a state table's entry may make room for another key. */
#define SNAP_STATE_IDLE_NS (600ULL * 1000000000ULL)

#define SNAP_TABLE_STATE (1u << 0) /* two buckets per key, only idle entries evicted */

/* Where a table lives in the region: fixed at creation, copied privately at attach. */
struct snap_table_desc {
	uint64_t off;      /* from the region base */
	uint32_t nbuckets; /* a power of two */
	uint32_t value_size;
	uint32_t slot_size;
	uint32_t flags; /* SNAP_TABLE_* */
};

/* Counters a worker keeps in its own shm slot (written by it alone). */
struct snap_counters {
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;     /* not in the table */
	_Atomic uint64_t stale;      /* in the table, older than the bound */
	_Atomic uint64_t refreshes;  /* values read and stored */
	_Atomic uint64_t evictions;  /* another key's entry replaced */
	_Atomic uint64_t waits;      /* another worker was refreshing it: waited */
	_Atomic uint64_t live;       /* read live, not stored (ttl 0, lease held too long) */
	_Atomic uint64_t cgfs_reads; /* cgroupfs files read */
};

struct shm;

/* Who is asking: the lease names the worker; counters go to its slot. */
struct snap_who {
	uint32_t worker; /* slot id */
	uint32_t gen;
	struct snap_counters *c;
};

/*
 * Fill value (size bytes of room) for the key; set *len. Returns 0 or -errno.
 * Runs with the slot's lease held: only the time it takes is at stake. On
 * entry, when the key had an entry (a stale one being refreshed), value holds
 * its last value and *len its length; for a new key *len is 0. A fill may
 * carry something over from it (what stays true across refreshes).
 */
typedef int (*snap_fill_fn)(void *ctx, void *value, size_t size, size_t *len);

void snap_hash(const void *key, size_t len, struct snap_key *out);

/* A dump label "kind what", keeping the end of what (the informative part of a path). */
void snap_label(char *out, size_t size, const char *kind, const char *what);

/* Bytes a table of capacity entries with values of value_size needs. */
uint64_t snap_table_bytes(uint32_t capacity, uint32_t value_size, uint32_t *nbuckets,
                          uint32_t *slot_size);

/*
 * The value for key, read within the last ttl_ns (0: always read live, never
 * stored). Copies it to out (size bytes) and sets *len. On a miss or a stale
 * entry, fill() reads it (once, whoever else asks at the same time); a key a
 * full state table has no room for is read live too. label names the key in
 * dumps (truncated). Returns 0 or fill's -errno; an entry fill() failed for
 * is not stored.
 */
int snap_get(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
             uint64_t ttl_ns, snap_fill_fn fill, void *ctx, void *out, size_t size, size_t *len,
             const struct snap_who *who);

/* Forget key (e.g. a value found wrong). */
void snap_drop(struct shm *s, enum snap_table_id t, const struct snap_key *key,
               const struct snap_who *who);

/*
 * Copy key's value out if present, whatever its age, without reading anything
 * (the master's lookups of passthrough paths). Returns 0, -ENOENT or -EBUSY.
 */
int snap_peek(const struct shm *s, enum snap_table_id t, const struct snap_key *key, void *out,
	      size_t size, size_t *len);

/*
 * Store value under key now (insert or replace), with its lease held. Returns
 * 0 or -EBUSY when another worker holds the slot past the wait bound.
 */
int snap_put(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
	     const void *value, size_t len, const struct snap_who *who);

/* Entries in use in table t (kept as slots change hands, not counted by a scan). */
uint32_t snap_count(const struct shm *s, enum snap_table_id t);

/* One entry as a dump sees it. */
struct snap_entry {
	const char *label;
	uint64_t age_ns;  /* since its value was read */
	uint64_t idle_ns; /* since a worker last used it (racy: a hint for ordering) */
	uint32_t len;     /* value bytes */
	struct snap_key key;
	const void *value; /* snap_each_value only: a copy of the len value bytes */
};

/*
 * Visit every valid entry of table t (for dumps). Consistent per entry, not
 * across entries. Pages never touched are skipped without faulting them in.
 */
void snap_each(const struct shm *s, enum snap_table_id t, uint64_t now_ns,
               void (*cb)(void *arg, const struct snap_entry *e), void *arg);

/* As snap_each, with a consistent copy of each entry's value (e->value). */
void snap_each_value(const struct shm *s, enum snap_table_id t, uint64_t now_ns,
                     void (*cb)(void *arg, const struct snap_entry *e), void *arg);

/*
 * Visit every entry of table t with its lease held: fn gets a copy of the
 * value and the entry's last use; it returns SNAP_KEEP, SNAP_WRITE (store the
 * changed copy) or SNAP_DROP (forget the entry). Entries another worker holds
 * are skipped this time. Returns the number of entries visited.
 */
enum { SNAP_KEEP, SNAP_WRITE, SNAP_DROP };

/*
 * Change key's value in place with its lease held (inserting it, zeroed, if
 * absent): fn gets the value (size bytes of room, *len its length, 0 when
 * new) and returns SNAP_WRITE to store it. Waits at most the snapshot's wait
 * bound for another holder; returns 0, -EBUSY, -ENOSPC (a state table with no
 * room for a new key), or fn's -errno.
 */
typedef int (*snap_modify_fn)(void *ctx, void *value, size_t size, size_t *len);
int snap_modify(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
                const struct snap_who *who, snap_modify_fn fn, void *ctx);
typedef int (*snap_update_fn)(void *ctx, void *value, size_t len, uint64_t used_ns);
unsigned snap_update_each(struct shm *s, enum snap_table_id t, const struct snap_who *who,
                          snap_update_fn fn, void *ctx);

#endif
