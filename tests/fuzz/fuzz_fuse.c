/*
 * libFuzzer harness: the master's FUSE request decoder (fuse_handle) fed
 * whatever requests the input makes, as if the kernel sent them, with a
 * handle table so small that it is soon full.
 *
 * The input is a series of requests, each a 16-bit length then that many
 * bytes, given to fuse_handle. The header's len field is set to what the
 * request holds, unless the length's top bit says to keep the fuzzer's (it
 * may lie: the decoder must check it against what it was handed). Replies
 * go to /dev/null. The pool has no workers: what the master hands to one
 * queues, and the queue is emptied after each input. The session starts
 * initialized (as after INIT), so every opcode reaches its handler.
 */
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "master/loop.h"
#include "master/master.h"
#include "master/pool.h"
#include "master/tenant.h"

static struct master m;
static struct pool pool;
static struct cli cli;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cli.mountpoint = "/nonexistent";
	cli.runtime_dir = "/nonexistent";
	cli.worker_binary = "/bin/false";
	m.cli = &cli;
	m.pool = &pool;
	m.fuse_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	m.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m.fuse_fd < 0 || m.wakefd < 0 ||
	    shm_create(&m.shm, &(struct shm_sizes){.nhandles = 64,
	                                           .nchunks = 64,
	                                           .max_cgroups = 16,
	                                           .max_pids = 16,
	                                           .host_size = 1 << 20,
	                                           .host_cpus = 4}) < 0 ||
	    tenant_init(&m) < 0 || loop_init(&m) < 0)
		abort();
	if (pool_init(&pool, &m, 0, &fuse_pool_hooks) < 0)
		abort();
	m.initialized = true;
	m.proto_minor = 38;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 16];

	while (size >= 2) {
		size_t n = (size_t)data[0] | (size_t)(data[1] & 0x7f) << 8;
		bool keep_len = data[1] & 0x80;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		memcpy(buf, data, n);
		if (!keep_len && n >= sizeof(struct fuse_in_header))
			((struct fuse_in_header *)buf)->len = (uint32_t)n;
		fuse_handle(&m, buf, n);
		data += n;
		size -= n;
	}
	/* Nothing is answered from the queue between inputs: an input starts afresh. */
	pool.pending_head = pool.pending_tail;
	m.stopping = false;
	return 0;
}
