/*
 * The handover stream (handover.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "master/handover.h"
#include "master/tenant.h"
#include "shm/content.h"
#include "shm/log.h"
#include "shm/sysfs_node.h"

#define HO_MAGIC    "LXCFSHO"
#define HO_MAX_SIZE (4ULL << 30) /* far above 16M handles of text: a bigger stream is not ours */

enum ho_type { HO_HANDLE = 1, HO_SYSFS = 2, HO_STATE = 3 };

struct ho_header {
	char magic[8];
	uint32_t version;
	uint32_t layout;
	uint32_t host_cpus;
	uint32_t fuse_ready;
	uint32_t proto_minor;
	int32_t backing_id;
	uint64_t records;
};

struct ho_rec {
	uint32_t type;
	uint32_t len; /* bytes after this header, before padding to 8 */
};

struct ho_handle {
	uint64_t fh;
	uint64_t key; /* its container's key, 0: unresolved */
	uint32_t node;
	uint32_t has_text;
	uint32_t text_len; /* text bytes follow */
	uint32_t pad;
	char label[TENANT_LABEL];
};

struct ho_sysfs {
	uint32_t mode;
	uint32_t path_len; /* path bytes follow, no NUL */
};

struct ho_state {
	uint32_t table; /* SNAP_STAT or SNAP_LOAD of the writer's layout */
	uint32_t len;   /* value bytes follow */
	uint64_t h1, h2;
	char label[64];
};

/* ---- writing ---- */

struct writer {
	int fd;
	int err;
	uint64_t records;
};

static void put(struct writer *w, uint32_t type, const void *a, size_t alen,
                const struct iovec *more, int nmore)
{
	static const char zeros[8];
	struct iovec iov[2 + 280];
	struct ho_rec rec = {.type = type};
	size_t total = alen;
	int n = 0;

	for (int i = 0; i < nmore; i++)
		total += more[i].iov_len;
	if (w->err || total > UINT32_MAX || nmore > 278)
		return;
	rec.len = (uint32_t)total;
	iov[n++] = (struct iovec){.iov_base = &rec, .iov_len = sizeof(rec)};
	iov[n++] = (struct iovec){.iov_base = (void *)a, .iov_len = alen};
	for (int i = 0; i < nmore; i++)
		iov[n++] = more[i];
	if (total % 8)
		iov[n++] = (struct iovec){.iov_base = (void *)zeros, .iov_len = 8 - total % 8};
	for (int i = 0; i < n;) {
		ssize_t r = writev(w->fd, iov + i, n - i);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			w->err = -errno;
			return;
		}
		while (i < n && (size_t)r >= iov[i].iov_len)
			r -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + r;
			iov[i].iov_len -= (size_t)r;
		}
	}
	w->records++;
}

static void put_handles(struct master *m, struct writer *w)
{
	struct shm *s = &m->shm;

	for (uint32_t i = 0; i < s->nhandles && !w->err; i++) {
		struct shm_handle *h = &s->handles[i];
		uint32_t t = atomic_load(&h->tenant), chain, clen;
		uint64_t fh = (atomic_load(&h->state) & 0xffffffff00000000ULL) | i;
		struct ho_handle rec = {.fh = fh, .node = atomic_load(&h->node)};
		struct iovec text[272];
		size_t bytes = 0;
		int n = 0;

		if (t == 0 || t > s->ntenants)
			continue;
		rec.key = atomic_load(&s->tenants[t - 1].key);
		memcpy(rec.label, s->tenants[t - 1].label, sizeof(rec.label));
		rec.label[sizeof(rec.label) - 1] = '\0';
		if (content_get(s, fh, &chain, &clen) == 0) {
			n = content_iov(s, chain, clen, 0, clen, text, 256, &bytes);
			if (n < 0 || bytes != clen) {
				/* Longer than this record carries, or corrupt: rendered again
				 * there. */
				n = 0;
				bytes = 0;
			} else {
				rec.has_text = 1;
				rec.text_len = (uint32_t)bytes;
			}
		}
		put(w, HO_HANDLE, &rec, sizeof(rec), text, n);
	}
}

static void put_sysfs(void *arg, const struct snap_entry *e)
{
	struct writer *w = arg;
	const struct sysfs_node *node = e->value;
	struct ho_sysfs rec;
	struct iovec path;

	if (e->len != sizeof(*node) || !memchr(node->path, '\0', sizeof(node->path)))
		return;
	rec.mode = node->mode;
	rec.path_len = (uint32_t)strlen(node->path);
	path = (struct iovec){.iov_base = (void *)node->path, .iov_len = rec.path_len};
	put(w, HO_SYSFS, &rec, sizeof(rec), &path, 1);
}

struct state_ctx {
	struct writer *w;
	enum snap_table_id table;
};

static void put_state(void *arg, const struct snap_entry *e)
{
	struct state_ctx *c = arg;
	struct ho_state rec = {.table = c->table, .len = e->len, .h1 = e->key.h1, .h2 = e->key.h2};
	struct iovec value = {.iov_base = (void *)e->value, .iov_len = e->len};

	snprintf(rec.label, sizeof(rec.label), "%s", e->label);
	put(c->w, HO_STATE, &rec, sizeof(rec), &value, 1);
}

int handover_write(struct master *m, int fd)
{
	struct shm *s = &m->shm;
	struct ho_header hdr = {
	    .magic = HO_MAGIC,
	    .version = HANDOVER_VERSION,
	    .layout = SHM_LAYOUT_VERSION,
	    .host_cpus = s->hdr->host_cpus,
	    .fuse_ready = atomic_load(&s->hdr->fuse_ready),
	    .proto_minor = atomic_load(&s->hdr->proto_minor),
	    .backing_id = atomic_load(&s->hdr->backing_id),
	};
	struct writer w = {.fd = fd};
	struct state_ctx stat_ctx = {.w = &w, .table = SNAP_STAT};
	struct state_ctx load_ctx = {.w = &w, .table = SNAP_LOAD};

	/* The header last, once the count is known: leave its room. */
	if (lseek(fd, sizeof(hdr), SEEK_SET) < 0)
		return -errno;
	put_handles(m, &w);
	snap_each_value(s, SNAP_PATH, now_ns(), put_sysfs, &w);
	snap_each_value(s, SNAP_STAT, now_ns(), put_state, &stat_ctx);
	snap_each_value(s, SNAP_LOAD, now_ns(), put_state, &load_ctx);
	if (w.err)
		return w.err;
	hdr.records = w.records;
	if (pwrite(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return -errno;
	return 0;
}

/* ---- reading ---- */

struct reader {
	struct master *m;
	const unsigned char *p, *end;
	bool same_layout;
	struct snap_counters counters;
	struct snap_who who;
	unsigned handles, texts, nodes, states, states_skipped;
};

static int take_handle(struct reader *r, const unsigned char *p, uint32_t len, char *msg,
                       size_t size)
{
	struct ho_handle rec;
	struct shm *s = &r->m->shm;
	uint32_t slot, chain, old;
	int err;

	if (len < sizeof(rec))
		return -EINVAL;
	memcpy(&rec, p, sizeof(rec));
	if (rec.has_text && rec.text_len > len - sizeof(rec))
		return -EINVAL;
	rec.label[sizeof(rec.label) - 1] = '\0';
	slot = tenant_import(r->m, rec.key, rec.label);
	err = handle_import(s, rec.fh, slot, rec.node);
	if (err == -ERANGE) {
		snprintf(msg, size, "open file %u is beyond this daemon's table (--max-handles %u)",
		         (uint32_t)rec.fh, s->nhandles);
		return err;
	}
	if (err < 0)
		return -EINVAL; /* the same handle twice */
	r->handles++;
	/* Without its text (none yet, or no room), the next read renders afresh. */
	if (rec.has_text && content_store(s, p + sizeof(rec), rec.text_len, &chain) == 0) {
		if (content_publish(s, rec.fh, chain, &old) < 0)
			content_free(s, chain);
		else
			r->texts++;
	}
	return 0;
}

static int take_sysfs(struct reader *r, const unsigned char *p, uint32_t len)
{
	struct sysfs_node node;
	struct ho_sysfs rec;
	uint64_t nodeid;
	struct snap_key key;

	if (len < sizeof(rec))
		return -EINVAL;
	memcpy(&rec, p, sizeof(rec));
	if (rec.path_len > len - sizeof(rec) || rec.path_len >= sizeof(node.path))
		return -EINVAL;
	memset(&node, 0, sizeof(node));
	node.mode = rec.mode;
	memcpy(node.path, p + sizeof(rec), rec.path_len);
	if (memchr(node.path, '\0', rec.path_len))
		return -EINVAL;
	nodeid = sysfs_nodeid(node.path);
	snap_hash(&nodeid, sizeof(nodeid), &key);
	if (snap_put(&r->m->shm, SNAP_PATH, &key, node.path, &node, sizeof(node), &r->who) == 0)
		r->nodes++;
	return 0;
}

static int take_state(struct reader *r, const unsigned char *p, uint32_t len)
{
	struct ho_state rec;
	struct snap_key key;

	if (len < sizeof(rec))
		return -EINVAL;
	memcpy(&rec, p, sizeof(rec));
	if (rec.len > len - sizeof(rec) || (rec.table != SNAP_STAT && rec.table != SNAP_LOAD))
		return -EINVAL;
	/* Another layout may lay these values out otherwise: not guessed at. */
	if (!r->same_layout || rec.len > r->m->shm.tables[rec.table].value_size) {
		r->states_skipped++;
		return 0;
	}
	rec.label[sizeof(rec.label) - 1] = '\0';
	key = (struct snap_key){.h1 = rec.h1, .h2 = rec.h2};
	if (snap_put(&r->m->shm, rec.table, &key, rec.label, p + sizeof(rec), rec.len, &r->who) ==
	    0)
		r->states++;
	return 0;
}

int handover_read(struct master *m, int fd, char *msg, size_t size)
{
	struct reader r = {.m = m};
	struct ho_header hdr;
	struct stat st;
	void *map;
	int err = 0;

	msg[0] = '\0';
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < sizeof(hdr) || (uint64_t)st.st_size > HO_MAX_SIZE) {
		snprintf(msg, size, "handover of %lld bytes", (long long)st.st_size);
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	memcpy(&hdr, map, sizeof(hdr));
	if (memcmp(hdr.magic, HO_MAGIC, sizeof(HO_MAGIC)) != 0 || hdr.version != HANDOVER_VERSION) {
		snprintf(msg, size, "handover format %u, this build reads %u", hdr.version,
		         HANDOVER_VERSION);
		err = -EPROTO;
		goto out;
	}
	r.same_layout = hdr.layout == SHM_LAYOUT_VERSION && hdr.host_cpus == m->shm.hdr->host_cpus;
	/* Lease holder for what we put in the snapshot: no worker's generation is 0. */
	r.who = (struct snap_who){.worker = 0, .gen = 0, .c = &r.counters};
	r.p = (const unsigned char *)map + sizeof(hdr);
	r.end = (const unsigned char *)map + st.st_size;
	for (uint64_t i = 0; i < hdr.records && !err; i++) {
		struct ho_rec rec;
		size_t padded;

		if ((size_t)(r.end - r.p) < sizeof(rec)) {
			err = -EINVAL;
			break;
		}
		memcpy(&rec, r.p, sizeof(rec));
		r.p += sizeof(rec);
		padded = ((size_t)rec.len + 7) & ~(size_t)7;
		if ((size_t)(r.end - r.p) < padded) {
			err = -EINVAL;
			break;
		}
		if (rec.type == HO_HANDLE)
			err = take_handle(&r, r.p, rec.len, msg, size);
		else if (rec.type == HO_SYSFS)
			err = take_sysfs(&r, r.p, rec.len);
		else if (rec.type == HO_STATE)
			err = take_state(&r, r.p, rec.len);
		/* A type this build does not know is skipped: a later writer may add some. */
		r.p += padded;
	}
	if (err && !msg[0])
		snprintf(msg, size, "malformed handover record: %s", strerror(-err));
	if (err)
		goto out;
	tenant_recount(m);
	atomic_store(&m->shm.hdr->fuse_ready, hdr.fuse_ready);
	atomic_store(&m->shm.hdr->proto_minor, hdr.proto_minor);
	atomic_store(&m->shm.hdr->backing_id, hdr.backing_id);
	log_info("handover: %u open files (%u with their text), %u cpu tree nodes, %u floors and "
	         "load averages%s",
	         r.handles, r.texts, r.nodes, r.states,
	         r.states_skipped ? " (those of another layout start afresh)" : "");
out:
	munmap(map, (size_t)st.st_size);
	return err;
}
