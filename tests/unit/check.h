/*
 * The unit tests' few assertions. Each failed check prints where and what, and
 * the test binary ends with "N passed, N failed" and exits non-zero on failure.
 */
#ifndef LXCFS_CHECK_H
#define LXCFS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (cond) {                                                                \
			check_passed++;                                                    \
		} else {                                                                   \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                          \
	} while (0)

#define CHECK_EQ_U64(got, want)                                                            \
	do {                                                                               \
		uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                      \
		if (g_ == w_) {                                                            \
			check_passed++;                                                    \
		} else {                                                                   \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: %s == %" PRIu64 ", want %" PRIu64 "\n",    \
				__FILE__, __LINE__, #got, g_, w_);                         \
		}                                                                          \
	} while (0)

#define CHECK_STR(got, want)                                                               \
	do {                                                                               \
		const char *g_ = (got), *w_ = (want);                                      \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                                     \
			check_passed++;                                                    \
		} else {                                                                   \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: %s == \"%s\", want \"%s\"\n", __FILE__,    \
				__LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");   \
		}                                                                          \
	} while (0)

/* Call last from main(). */
static inline int check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
