/*
 * Loading a fixture file whole into a caller's buffer. Tests run from the
 * repository root, where the fixture paths are relative to.
 */
#ifndef LXCFS_TEST_FIXTURE_H
#define LXCFS_TEST_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name into buf (size bytes of room, NUL-terminated): its length. Exits 2 if it cannot be read. */
static inline size_t fixture_load(const char *name, char *buf, size_t size)
{
	FILE *f = fopen(name, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "open %s: %s (run from the repository root)\n", name,
		        strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

#endif
