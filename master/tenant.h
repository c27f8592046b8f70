/*
 * Containers as tenants of the handle table and the content region: every
 * open is charged to the reader's container, each container holds at most
 * its share (shm/quota.h), and one past its share is refused on its own opens
 * only, with a log line per container at most every 10 s.
 *
 * The counts live in the region (struct shm_tenant, the handle table), so a
 * master that attaches to a live region rebuilds its index from them.
 */
#ifndef LXCFS_TENANT_H
#define LXCFS_TENANT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/master.h"
#include "shm/ident_key.h"

/* Build the index from the region (new or inherited). Returns 0 or -ENOMEM. */
int tenant_init(struct master *m);

/*
 * A handle for an open of what (inode node) by reader pid, charged to
 * container key (0: the reader's container is unknown). paths, when known,
 * name it in status. Returns the handle id, -EMFILE when the container holds
 * its share, or -ENFILE when the table itself is full.
 */
int64_t tenant_open(struct master *m, uint64_t key, const struct cont_paths *paths, pid_t pid,
                    const char *what, uint64_t node);

/*
 * The slot of container key for handles taken over from another master,
 * named label as that master named it. Its counts follow tenant_recount.
 */
uint32_t tenant_import(struct master *m, uint64_t key, const char *label);

/* A RELEASE: free the handle and what it held. Ignores ids that are not open. */
void tenant_release(struct master *m, uint64_t fh);

/* Chunks of content published for fh (positive) or freed from it (negative). */
void tenant_charge(struct master *m, uint64_t fh, int32_t delta);

/*
 * Recount every container's handles and chunks from the handle table, once
 * no worker is changing content (after dead workers' chunks were recovered,
 * or when attaching to a region another master left).
 */
void tenant_recount(struct master *m);

/* One container as status shows it. */
struct tenant_view {
	char label[TENANT_LABEL];
	uint32_t handles;
	int32_t chunks;
	uint64_t refused;
};

/*
 * The containers holding the most handles, most first, at most n of them into
 * out. Returns how many were written; *active gets how many hold any.
 */
unsigned tenant_top(struct master *m, struct tenant_view *out, unsigned n, unsigned *active);

#endif
