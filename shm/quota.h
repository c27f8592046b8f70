/*
 * Fair shares of the region's fixed pools (open-file handles, content chunks)
 * among containers: no container can take what another needs to open and
 * read its own files. Pure: the master applies it to handles, the workers to
 * the content they keep.
 *
 * A container may hold up to limit units. Below floor it is admitted as long
 * as any unit is free; at or above floor only while more than reserve units
 * stay free after the grant. So however many containers fill up to their
 * limit, reserve units remain for the containers that hold little.
 */
#ifndef LXCFS_QUOTA_H
#define LXCFS_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct quota {
	uint32_t limit;   /* most one container may hold */
	uint32_t floor;   /* below this, admitted while any unit is free */
	uint32_t reserve; /* units kept free for containers below floor */
	uint32_t pad;
};

/* The shares of a pool of total units, one container allowed limit of them. */
static inline struct quota quota_for(uint32_t total, uint32_t limit, uint32_t floor)
{
	struct quota q = {.limit = limit, .floor = floor < limit ? floor : limit};

	q.reserve = total / 8;
	return q;
}

/* May a container holding used units take n more, with free units left in the pool? */
static inline bool quota_admit(const struct quota *q, int64_t used, uint32_t n, uint64_t free)
{
	if (used < 0)
		used = 0; /* counts settle after the fact: a transient negative holds nothing */
	if (n > free || (uint64_t)used + n > q->limit)
		return false;
	if ((uint64_t)used + n <= q->floor)
		return true;
	return free - n >= q->reserve;
}

#endif
