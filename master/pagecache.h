/*
 * Reads that go through the kernel's page cache, and when the master may
 * answer them.
 *
 * Every file is opened with FOPEN_DIRECT_IO, so read(2), pread(2) and
 * readv(2) reach us with the reader's pid and its own handle. Some paths
 * still go through the inode's page cache, which all readers of the inode
 * share: splice(2) and sendfile(2) (fuse_splice_read -> filemap_splice_read),
 * copy_file_range(2) between two FUSE mounts (splice_copy_file_range), and
 * the faults of a private mapping where passthrough cannot refuse mmap
 * (fuse_ops.c). A page-cache READ differs from a direct one by its flags:
 * fuse_send_read() sets FUSE_READ_LOCKOWNER on every direct read,
 * fuse_do_readfolio() and fuse_send_readpages() never do; its offset and
 * size are whole pages.
 *
 * What the page cache holds is seen by whoever looks it up next, without a
 * request. So a page-cache read is answered only while its handle is the
 * only open file of the inode. Anyone else who could look the page up must
 * open the file first, and the kernel's fuse_open() drops every cached page
 * after our OPEN reply (invalidate_inode_pages2, no FOPEN_KEEP_CACHE): a
 * page filled before that open is gone before the new opener can read, and a
 * read that would fill one after it is refused here. Refused, the reader gets
 * an error it can fall back from (busybox cat and Python's shutil go on with
 * read(2)), never another reader's text. (One open file shared by several
 * processes is one handle, here as for read(2).)
 *
 * The text must also come out whole. A short page-cache read makes the
 * kernel lower i_size to its end (fuse_short_read -> fuse_read_update_size)
 * and nothing but an attribute update raises it again, so after a read of a
 * shorter text a longer one would be cut at the old end (filemap_splice_read
 * stops at i_size). When a node is opened with no other handle open and a
 * page-cache read may have lowered its i_size, the master raises it first
 * (FUSE_NOTIFY_STORE of one byte past the largest text; with no file open,
 * nothing can hold the page the store locks). A page-cache read is answered
 * only by the handle that opened after such a raise, or while no page-cache
 * read has lowered i_size since.
 *
 * Pure bookkeeping: the master calls these and does the I/O.
 */
#ifndef LXCFS_PAGECACHE_H
#define LXCFS_PAGECACHE_H

#include <stdbool.h>
#include <stdint.h>

/* Nodes of the static tree tracked (inode numbers below this). */
#define PC_NODES 32

/*
 * One served file's page-cache state, kept by the master. It starts empty
 * with the connection: a master that took over a connection with files open
 * would have to refuse every page-cache read until it had seen them closed.
 */
struct pc_node {
	uint32_t nopen;    /* handles opened (OPEN answered) and not yet released */
	bool lowered;      /* a page-cache read was answered since i_size was raised */
	uint64_t owner_fh; /* the handle allowed to read through the page cache */
};

/* Whether a FUSE_READ comes from the page cache (see above). */
bool pc_read_is_pagecache(uint32_t read_flags, uint64_t offset, uint32_t size);

/* Before answering an OPEN of the node: must i_size be raised first? */
bool pc_open_needs_raise(const struct pc_node *n);

/*
 * After answering an OPEN with handle fh. size_ok: i_size is known to hold
 * any text (raised just now, or never lowered); false when a needed raise
 * failed.
 */
void pc_opened(struct pc_node *n, uint64_t fh, bool size_ok);

/* On RELEASE of one of the node's handles. */
void pc_released(struct pc_node *n);

/*
 * A page-cache READ of the node through handle fh: true if it may be answered
 * with fh's text (and it is then recorded as lowering i_size), false if it
 * must be refused.
 */
bool pc_read_allowed(struct pc_node *n, uint64_t fh);

#endif
