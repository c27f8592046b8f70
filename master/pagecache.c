/*
 * When a page-cache read may be answered: see pagecache.h.
 */
#include <linux/fuse.h>

#include "master/pagecache.h"

#define PC_PAGE 4096u

bool pc_read_is_pagecache(uint32_t read_flags, uint64_t offset, uint32_t size)
{
	/* Direct reads carry the reader's lock owner; page-cache reads are whole pages. */
	return !(read_flags & FUSE_READ_LOCKOWNER) && offset % PC_PAGE == 0 && size > 0 &&
	       size % PC_PAGE == 0;
}

bool pc_open_needs_raise(const struct pc_node *n)
{
	return n->nopen == 0 && n->lowered;
}

void pc_opened(struct pc_node *n, uint64_t fh, bool size_ok)
{
	if (n->nopen++ > 0)
		return; /* an older handle keeps its claim (or none has one) */
	if (size_ok) {
		n->lowered = false;
		n->owner_fh = fh;
	} else {
		n->owner_fh = 0;
	}
}

void pc_released(struct pc_node *n)
{
	if (n->nopen > 0)
		n->nopen--;
}

bool pc_read_allowed(struct pc_node *n, uint64_t fh)
{
	/* Anyone else with the file open could look the page up. */
	if (n->nopen != 1)
		return false;
	/* i_size may stop short of this handle's text. */
	if (n->lowered && n->owner_fh != fh)
		return false;
	n->lowered = true;
	n->owner_fh = fh;
	return true;
}
