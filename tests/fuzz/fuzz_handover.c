/*
 * libFuzzer harness: the handover stream a master taking over reads from the
 * one it replaces (master/handover.c). It comes from another process, maybe
 * another build: whatever the bytes, the reader must refuse or take them
 * without reading past them or corrupting its own tables.
 *
 * Each input is the stream, in a memfd; afterwards every file it opened is
 * released, so each input starts from an empty handle table.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "master/handover.h"
#include "master/master.h"
#include "master/tenant.h"

static struct master m;
static struct cli cli;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	m.cli = &cli;
	if (shm_create(&m.shm, &(struct shm_sizes){.nhandles = 64,
	                                          .nchunks = 64,
	                                          .max_cgroups = 16,
	                                          .max_pids = 16,
	                                          .host_size = 1 << 20,
	                                          .host_cpus = 4}) < 0 ||
	    tenant_init(&m) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[256];
	int fd = memfd_create("fuzz-handover", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	handover_read(&m, fd, msg, sizeof(msg));
	close(fd);
	for (uint32_t i = 0; i < m.shm.nhandles; i++) {
		struct shm_handle *h = &m.shm.handles[i];

		if (atomic_load(&h->tenant))
			tenant_release(&m, (atomic_load(&h->state) & 0xffffffff00000000ULL) | i);
	}
	return 0;
}
