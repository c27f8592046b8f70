/*
 * The master's own rules: access(2) answered as the kernel's
 * generic_permission() answers it.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "master/tree.h"

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
	test_access();
	return check_report("test_master");
}
