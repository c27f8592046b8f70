/*
 * The master's own rules: access(2) answered as the kernel's
 * generic_permission() answers it, and reads through the kernel's page cache
 * (which read is one, when one may be answered, when i_size must be raised
 * first).
 */
#include <errno.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "master/pagecache.h"
#include "master/tree.h"

static void test_classify(void)
{
	/* Direct reads carry the lock owner, whatever their shape. */
	CHECK(!pc_read_is_pagecache(FUSE_READ_LOCKOWNER, 0, 4096));
	CHECK(!pc_read_is_pagecache(FUSE_READ_LOCKOWNER, 8192, 131072));
	/* Page-cache reads: whole pages, no lock owner. */
	CHECK(pc_read_is_pagecache(0, 0, 4096));
	CHECK(pc_read_is_pagecache(0, 4096, 32768));
	/* Without a lock owner but not page-shaped: taken for direct. */
	CHECK(!pc_read_is_pagecache(0, 0, 100));
	CHECK(!pc_read_is_pagecache(0, 10, 4096));
	CHECK(!pc_read_is_pagecache(0, 0, 0));
}

static void test_alone(void)
{
	struct pc_node n = {0};

	/* A fresh node (i_size from LOOKUP) needs no raise; its only handle may read. */
	CHECK(!pc_open_needs_raise(&n));
	pc_opened(&n, 11, true);
	CHECK(pc_read_allowed(&n, 11));
	CHECK(pc_read_allowed(&n, 11)); /* the next pages of the same text */
	pc_released(&n);

	/* That read may have lowered i_size: the next lone open raises it first. */
	CHECK(pc_open_needs_raise(&n));
	pc_opened(&n, 12, true);
	CHECK(!pc_open_needs_raise(&n));
	CHECK(pc_read_allowed(&n, 12));
	pc_released(&n);

	/* A raise that failed: that handle may not read through the page cache. */
	CHECK(pc_open_needs_raise(&n));
	pc_opened(&n, 13, false);
	CHECK(!pc_read_allowed(&n, 13));
	pc_released(&n);
	CHECK(pc_open_needs_raise(&n));
}

static void test_shared(void)
{
	struct pc_node n = {0};

	/* Two open files: whichever page is filled, the other could read it. */
	pc_opened(&n, 21, true);
	pc_opened(&n, 22, true);
	CHECK(!pc_read_allowed(&n, 21));
	CHECK(!pc_read_allowed(&n, 22));
	CHECK(!n.lowered);

	/* The second alone, i_size never lowered since the raise: it may. */
	pc_released(&n);
	CHECK(pc_read_allowed(&n, 22));

	/* Opened while another was open: no raise, and the first lowered it. */
	pc_opened(&n, 23, true);
	CHECK(!pc_open_needs_raise(&n));
	pc_released(&n); /* 22 goes */
	CHECK(!pc_read_allowed(&n, 23));
	pc_released(&n);

	/* Releases never go below zero. */
	pc_released(&n);
	CHECK_EQ_U64(n.nopen, 0);
	CHECK(pc_open_needs_raise(&n));
}

static void test_access(void)
{
	mode_t file = S_IFREG | 0444, dir = S_IFDIR | 0555;

	/* root: /proc/meminfo's answers (CAP_DAC_OVERRIDE but no x bit). */
	CHECK_EQ_U64(tree_access(file, 0, 0, F_OK), 0);
	CHECK_EQ_U64(tree_access(file, 0, 0, R_OK), 0);
	CHECK_EQ_U64(tree_access(file, 0, 0, W_OK), 0);
	CHECK_EQ_U64(tree_access(file, 0, 0, X_OK), (uint64_t)-EACCES);
	CHECK_EQ_U64(tree_access(file, 0, 0, R_OK | X_OK), (uint64_t)-EACCES);
	CHECK_EQ_U64(tree_access(dir, 0, 0, X_OK | W_OK), 0);
	CHECK_EQ_U64(tree_access(S_IFREG | 0755, 0, 0, X_OK), 0);
	/* Anyone else: the bits. */
	CHECK_EQ_U64(tree_access(file, 65534, 65534, R_OK), 0);
	CHECK_EQ_U64(tree_access(file, 65534, 65534, W_OK), (uint64_t)-EACCES);
	CHECK_EQ_U64(tree_access(file, 65534, 65534, X_OK), (uint64_t)-EACCES);
	CHECK_EQ_U64(tree_access(dir, 65534, 65534, R_OK | X_OK), 0);
	CHECK_EQ_U64(tree_access(dir, 65534, 65534, W_OK), (uint64_t)-EACCES);
	CHECK_EQ_U64(tree_access(S_IFREG | 0640, 1000, 0, R_OK), 0);
	CHECK_EQ_U64(tree_access(S_IFREG | 0640, 1000, 1000, R_OK), (uint64_t)-EACCES);
}

int main(void)
{
	test_classify();
	test_alone();
	test_shared();
	test_access();
	return check_report("test_master");
}
