/*
 * Per-open content: what a read at offset 0 rendered, kept in shared memory so
 * that reads at later offsets return the same bytes even if the worker that
 * rendered them died, and so that the master can answer them itself.
 *
 * Content is a chain of fixed-size chunks (no size limit short of the region).
 * Free chunks form a lock-free stack: a process killed at any instruction has
 * either taken a chunk or not, and no lock is ever left held. The worst a
 * death can do is leak the chunks a worker took and had not yet published.
 *
 * Ownership: a worker fills chunks it took, then publishes the chain to a
 * handle with one compare-and-swap (content_publish). A published chain is
 * read and freed by the master only (its reads and frees are sequential, so a
 * chain is never freed under a reader); a chain that a publish replaced goes
 * back to the master in the completion.
 */
#ifndef LXCFS_CONTENT_H
#define LXCFS_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "shm/layout.h"

/* Master, at creation: every chunk on the free stack, every handle empty. */
void content_init(struct shm *s);

/* Copy data into a new chain. Returns 0 with *chain (index + 1), or -ENOSPC. */
int content_store(struct shm *s, const void *data, size_t len, uint32_t *chain);

/*
 * Put a chain back on the free stack. A chain is freed once, by its owner.
 * Returns the number of chunks it held.
 */
uint32_t content_free(struct shm *s, uint32_t chain);

/* Chunks in a chain (bounded by the region: a corrupt chain ends the count). */
uint32_t content_chain_chunks(const struct shm *s, uint32_t chain);

/* Chunks a content of len bytes takes (an empty one takes one). */
static inline uint32_t content_chunks_for(size_t len)
{
	return len ? (uint32_t)((len + SHM_CHUNK_SIZE - 1) / SHM_CHUNK_SIZE) : 1;
}

/*
 * Worker: make chain the content of handle fh. *old gets the chain it replaced
 * (0 if none), for the master to free. Returns 0, or -ESTALE when fh was
 * closed meanwhile (the caller frees its chain).
 */
int content_publish(struct shm *s, uint64_t fh, uint32_t chain, uint32_t *old);

/* The published chain of fh and its length. Returns 0, -ENODATA (none yet), -ESTALE. */
int content_get(const struct shm *s, uint64_t fh, uint32_t *chain, uint32_t *len);

/*
 * iovecs over [off, off + size) of a chain of length len. Returns the number
 * of iovecs (0 at or past the end) with *bytes their total, or -EFAULT for a
 * chain that does not check out (bad index, too short).
 */
int content_iov(const struct shm *s, uint32_t chain, uint32_t len, uint64_t off, uint32_t size,
                struct iovec *iov, int maxiov, size_t *bytes);

/*
 * Master, while no worker holds a request (so none is filling or replacing a
 * chain): give back every chunk that is neither free nor published for an
 * open handle. A worker killed between taking chunks and publishing them, or
 * between replacing a chain and reporting it, leaks those; this is where they
 * return. Returns the number of chunks recovered.
 */
unsigned content_collect(struct shm *s);

/*
 * Master: a handle for a new open of inode node charged to container slot
 * tenant, or -ENFILE. Its id encodes the generation. Free handles are those
 * naming no container, so a master that attaches to a live region finds
 * them again, and what is open on each inode (UINT32_MAX: an inode past
 * 32 bits, the passed-through tree's).
 */
int64_t handle_open(struct shm *s, uint32_t tenant, uint64_t node);

/*
 * Master: close a handle, freeing its content. Sets the container slot it was
 * charged to and the chunks charged for its content. Returns 0, or -ESTALE
 * for an id that is not open (then nothing changes).
 */
int handle_release(struct shm *s, uint64_t fh, uint32_t *tenant, int32_t *chunks);

/*
 * Master taking over from another: open fh exactly as the other master had
 * it (index and generation), for inode node, charged to container slot
 * tenant. Returns 0, -ERANGE (no such handle in this table), -EEXIST.
 */
int handle_import(struct shm *s, uint64_t fh, uint32_t tenant, uint64_t node);

/* The handle of fh if fh is open (its generation current), else NULL. */
struct shm_handle *handle_if_open(const struct shm *s, uint64_t fh);

/* Master: handles free to open. */
uint32_t handle_nfree_count(const struct shm *s);

#endif
