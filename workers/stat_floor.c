/*
 * /proc/stat counters that never go backwards for a container (upstream's
 * #554), across reads, workers and worker restarts: the figures last shown
 * are kept per container in shared memory (SNAP_STAT) as a floor. A render
 * clamps to the floor; the floor is raised before the reply is sent, so a
 * reader's next read, by whichever worker, starts from it.
 *
 * A floor belongs to one life of the container's usage cgroup (cg_life, as
 * the cpuacct or cpu.stat figures were read): a container made again at the
 * same path, as a restart does, starts from nothing instead of showing its
 * predecessor's figures until its own pass them.
 *
 * The floors are a state table (snap.h), not part of the snapshot's cache:
 * however many cgroups evict each other's values there, a floor stays while
 * its container reads /proc/stat. Only a floor unread for ten minutes makes
 * room for another container's; when the table is full of floors in use, a
 * newcomer is served without one (logged) rather than taking one away.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proc_render/cpu.h"
#include "shm/log.h"
#include "workers/files.h"
#include "workers/worker.h"

_Static_assert(ST_NFIELDS == SNAP_STAT_FIELDS, "the stat floor's shape changed");

/* Lines of the shared floor: the "cpu" line and one per host CPU. */
static uint32_t floor_lines(const struct worker_ctx *w)
{
	uint32_t n = w->shm.hdr->host_cpus + 1;

	return n > STAT_FLOOR_CPUS + 1 ? STAT_FLOOR_CPUS + 1 : n;
}

/*
 * SNAP_STAT value: the life of the usage cgroup (cg_life) the floor was shown
 * for, 0 when not known yet, then the lines, ST_NFIELDS counters each.
 */
struct floor_value {
	uint64_t life;
	uint64_t pad;
	uint64_t f[];
};

_Static_assert(sizeof(struct floor_value) == SNAP_STAT_VALUE(0) - SNAP_STAT_FIELDS * 8,
               "the stat floor's header changed");

static size_t floor_bytes(uint32_t lines)
{
	return sizeof(struct floor_value) + (size_t)lines * ST_NFIELDS * sizeof(uint64_t);
}

static void floor_expand(const struct floor_value *v, uint32_t lines, struct stat_floor *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->all, v->f, sizeof(f->all));
	for (uint32_t l = 1; l < lines; l++)
		memcpy(f->cpu[l - 1], v->f + (size_t)l * ST_NFIELDS, sizeof(f->cpu[0]));
}

struct floor_merge {
	const struct stat_floor *shown;
	uint32_t lines;
	uint64_t life; /* of the figures shown */
};

/*
 * Raise the stored floor to what was shown: two workers racing keep the
 * higher. Figures of a later life of the cgroup replace the floor (a new
 * container at the same path); those of an earlier one leave it alone.
 */
static int merge_floor(void *ctx, void *value, size_t size, size_t *len)
{
	struct floor_merge *m = ctx;
	struct floor_value *v = value;
	size_t need = floor_bytes(m->lines);

	if (size < need)
		return -ENOSPC;
	if (*len != need) /* new, or of another shape: start from nothing */
		memset(v, 0, need);
	if (m->life < v->life)
		return SNAP_KEEP;
	if (m->life > v->life) {
		memset(v, 0, need);
		v->life = m->life;
	}
	for (uint32_t l = 0; l < m->lines; l++) {
		const uint64_t *src = l ? m->shown->cpu[l - 1] : m->shown->all;

		for (int f = 0; f < ST_NFIELDS; f++)
			if (src[f] > v->f[(size_t)l * ST_NFIELDS + f])
				v->f[(size_t)l * ST_NFIELDS + f] = src[f];
	}
	*len = need;
	return SNAP_WRITE;
}

static int fill_zero(void *ctx, void *value, size_t size, size_t *len)
{
	size_t need = *(const size_t *)ctx;

	if (size < need)
		return -ENOSPC;
	memset(value, 0, need);
	*len = need;
	return 0;
}

int file_stat(struct worker_ctx *w, pid_t pid)
{
	static struct stat_floor floor; /* 80 KiB: not on the stack */
	static uint64_t room[2 + (STAT_FLOOR_CPUS + 1) * ST_NFIELDS];
	struct floor_value *stored = (struct floor_value *)room;
	uint32_t lines = floor_lines(w);
	size_t need = floor_bytes(lines), len = 0;
	int c = w->layout.ctrl[CG_CPUACCT].present ? CG_CPUACCT : CG_CPU;
	char path[PATH_MAX], cpus[PATH_MAX], keytext[2 * PATH_MAX + 2], label[64];
	struct snap_key key;
	uint64_t life;
	int err;

	if (atomic_load(&w->shm.hdr->config.virt_off) ||
	    worker_reader_cgroup(w, pid, c, path, sizeof(path)) < 0)
		return file_stat_floor(w, pid, NULL, NULL);
	/*
	 * The lines shown depend on the CPUs the reader sees as much as on its
	 * usage cgroup: two containers sharing a cpuacct cgroup with other
	 * cpusets must not share a floor.
	 */
	if (worker_reader_cgroup(w, pid, CG_CPUSET, cpus, sizeof(cpus)) < 0)
		cpus[0] = '\0';
	snprintf(keytext, sizeof(keytext), "%s|%s", path, cpus);
	snap_hash(keytext, strlen(keytext), &key);
	snap_label(label, sizeof(label), "stat", path);
	err = snap_get(&w->shm, SNAP_STAT, &key, label, UINT64_MAX, fill_zero, &need, room,
	               sizeof(room), &len, &w->who);
	if (err < 0 || len != need)
		return file_stat_floor(w, pid, NULL, NULL);
	floor_expand(stored, lines, &floor);
	life = stored->life;

	err = file_stat_floor(w, pid, &floor, &life);
	if (err < 0)
		return err;
	/*
	 * A floor we could not store for a moment (-EBUSY) costs monotonicity for
	 * one read at most: log nothing. A full floor table (-ENOSPC) leaves this
	 * container without one for as long as it stays full: say so.
	 */
	err = snap_modify(&w->shm, SNAP_STAT, &key, label, &w->who, merge_floor,
	                  &(struct floor_merge){&floor, lines, life});
	if (err == -ENOSPC) {
		static unsigned long full;

		if (full++ % 1000 == 0)
			log_msg("stat: keep the floor of %s: %s: the floor table is full, its "
			        "counters are not clamped (%lu times so far)",
			        path, strerror(-err), full);
	}
	return 0;
}
