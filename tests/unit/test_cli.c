/*
 * The lxcfs command line as a drop-in for upstream's: the -o options
 * upstream accepts and drops are dropped here too (libfuse 3 refuses most of
 * them), the others reach the mount, in order, from every -o given.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "master/cli.h"

/* Parse "lxcfs ARGS... /mnt"; returns cli_parse's answer. */
static int parse(struct cli *c, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"lxcfs";
	for (; *args && argc < 30; args++)
		argv[argc++] = (char *)*args;
	argv[argc++] = (char *)"/mnt";
	argv[argc] = NULL;
	return cli_parse(argc, argv, c);
}

#define OPTS(c) ((c)->fuse_opts ? (c)->fuse_opts : "(none)")

static void test_dropped(void)
{
	static struct cli c;

	CHECK(parse(&c, (const char *[]){"-o", "allow_other", NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	CHECK(parse(&c, (const char *[]){"-o", "nonempty", NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	CHECK(parse(&c, (const char *[]){"-o", "direct_io", NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	CHECK(parse(&c, (const char *[]){"-o", "entry_timeout=0.5", NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	CHECK(parse(&c, (const char *[]){"-oattr_timeout=10", NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	/* Upstream's init scripts: all of them in one -o. */
	CHECK(parse(&c, (const char *[]){"-o",
	                                 "allow_other,direct_io,entry_timeout=0.5,attr_timeout=0.5,"
	                                 "nonempty",
	                                 NULL}) == 0);
	CHECK_STR(OPTS(&c), "(none)");
	CHECK(c.fuse_opts == NULL);
}

static void test_kept(void)
{
	static struct cli c;

	/* Others go to the mount, with the dropped ones taken out. */
	CHECK(parse(&c, (const char *[]){"-o", "allow_other,ro", NULL}) == 0);
	CHECK_STR(OPTS(&c), "ro");
	CHECK(parse(&c, (const char *[]){"-o", "ro,nonempty,max_read=4096", NULL}) == 0);
	CHECK_STR(OPTS(&c), "ro,max_read=4096");
	/* Every -o counts (upstream kept one; libfuse takes them all). */
	CHECK(parse(&c, (const char *[]){"-o", "ro", "-o", "direct_io", "-o", "noexec", NULL}) ==
	      0);
	CHECK_STR(OPTS(&c), "ro,noexec");
	/* Empty items and an escaped comma, as libfuse reads them. */
	CHECK(parse(&c, (const char *[]){"-o", ",,ro,,", NULL}) == 0);
	CHECK_STR(OPTS(&c), "ro");
	CHECK(parse(&c, (const char *[]){"-o", "fsname=a\\,b,allow_other", NULL}) == 0);
	CHECK_STR(OPTS(&c), "fsname=a\\,b");
	/* A name only starting like a dropped one is not dropped. */
	CHECK(parse(&c, (const char *[]){"-o", "allow_other_x,direct_io2", NULL}) == 0);
	CHECK_STR(OPTS(&c), "allow_other_x,direct_io2");
}

static void test_answered(void)
{
	static struct cli c;
	FILE *out = stdout, *err = stderr;

	/* -h and -v answer and stop (1); a second mount point, an unknown option: usage errors. */
	stdout = fopen("/dev/null", "w");
	CHECK(parse(&c, (const char *[]){"-h", NULL}) == 1);
	CHECK(parse(&c, (const char *[]){"--version", NULL}) == 1);
	CHECK(parse(&c, (const char *[]){"-v", NULL}) == 1);
	fclose(stdout);
	stdout = out;
	stderr = fopen("/dev/null", "w");
	int two_mounts = parse(&c, (const char *[]){"/other", NULL});
	int unknown = parse(&c, (const char *[]){"--no-such-option", NULL});
	/* More -o than fits is a usage error, not a list cut short. */
	static char big[6000];
	memset(big, 'x', sizeof(big) - 1);
	int too_long = parse(&c, (const char *[]){"-o", big, NULL});
	fclose(stderr);
	stderr = err;
	CHECK(two_mounts == 2);
	CHECK(unknown == 2);
	CHECK(too_long == 2);
}

int main(void)
{
	test_dropped();
	test_kept();
	test_answered();
	return check_report("test_cli");
}
