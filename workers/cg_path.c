/*
 * A process's cgroup from the text of /proc/<pid>/cgroup (cgroups(7)): lines
 * "hierarchy-ID:controller-list:cgroup-path". v1 lines list their controllers
 * (and "name=..." for named hierarchies); the v2 line is "0::path". The path
 * itself may hold ':' so only the first two colons split.
 */
#include <errno.h>
#include <string.h>

#include "workers/cgroup.h"

static const char init_scope[] = "/init.scope";

/* Does the comma-separated list [s, s+len) hold exactly the token name? */
static bool cg_list_has(const char *s, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *end = s + len;

	while (s <= end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t tlen = comma ? (size_t)(comma - s) : (size_t)(end - s);

		if (tlen == nlen && memcmp(s, name, nlen) == 0)
			return true;
		if (!comma)
			break;
		s = comma + 1;
	}
	return false;
}

/*
 * A path we will hand to openat() below the hierarchy root: a ".." component
 * would climb out of it. The kernel writes one only for a cgroup outside the
 * reading process's cgroup namespace, which our mount cannot reach either.
 */
static bool cg_path_has_dotdot(const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t clen = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (clen == 2 && p[0] == '.' && p[1] == '.')
			return true;
		if (!slash)
			break;
		p = slash + 1;
	}
	return false;
}

/*
 * Find the line for (version, c) and return its path and length.
 * Every line is checked for the kernel's shape so that garbage is told apart
 * from a missing controller.
 */
static int cg_find_line(const char *text, size_t len, int version, const char *name,
                        const char **path, size_t *plen)
{
	const char *p = text, *end = text + len;
	bool found = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1, *c2;
		size_t idlen, listlen;

		if (le == p) { /* tolerate blank lines, e.g. a trailing one */
			p = le + 1;
			continue;
		}
		c1 = memchr(p, ':', (size_t)(le - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (!c2 || c1 == p || c2 + 1 == le || c2[1] != '/')
			return -EINVAL;
		idlen = (size_t)(c1 - p);
		for (size_t i = 0; i < idlen; i++)
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
		listlen = (size_t)(c2 - c1 - 1);

		if (!found) {
			bool match;

			if (version == 2)
				match = idlen == 1 && p[0] == '0' && listlen == 0;
			else
				match = listlen > 0 && cg_list_has(c1 + 1, listlen, name);
			if (match) {
				*path = c2 + 1;
				*plen = (size_t)(le - c2 - 1);
				found = true;
			}
		}
		p = le + 1;
	}
	return found ? 0 : -ENOENT;
}

int cg_path_parse(const char *text, size_t len, const struct cg_hier *h, enum cg_ctrl c, char *out,
                  size_t size)
{
	const char *name = cg_ctrl_name(c), *path = NULL;
	size_t plen = 0, rlen;
	int ret;

	if (!text || !h || !name || !out || size == 0)
		return -EINVAL;
	if (!h->present)
		return -ENOENT;
	if (h->version != 1 && h->version != 2)
		return -EINVAL;

	ret = cg_find_line(text, len, h->version, name, &path, &plen);
	if (ret < 0)
		return ret;
	/*
	 * The kernel writes at most PATH_MAX - 1 bytes of a path here and cuts
	 * the rest silently: a path that long may be a prefix of the real one,
	 * which could even name another cgroup. It cannot be used.
	 */
	if (plen >= CG_PROC_PATH_MAX - 1)
		return -ENAMETOOLONG;

	/* Make it relative to what the mount shows: strip the mount's root. */
	rlen = strlen(h->root);
	while (rlen > 0 && h->root[rlen - 1] == '/')
		rlen--;
	if (rlen > 0) {
		if (plen < rlen || memcmp(path, h->root, rlen) != 0 ||
		    (plen > rlen && path[rlen] != '/'))
			return -ENOENT; /* outside the mounted subtree: not reachable */
		path += rlen;
		plen -= rlen;
	}
	while (plen > 1 && path[plen - 1] == '/')
		plen--;

	/* The container's init sits in its own init.scope: the container is the parent. */
	if (plen >= sizeof(init_scope) - 1 &&
	    memcmp(path + plen - (sizeof(init_scope) - 1), init_scope, sizeof(init_scope) - 1) == 0)
		plen -= sizeof(init_scope) - 1;

	if (cg_path_has_dotdot(path, plen))
		return -ENOENT;

	if (plen == 0) {
		path = "/";
		plen = 1;
	}
	if (plen + 1 > size)
		return -ENAMETOOLONG;
	memcpy(out, path, plen);
	out[plen] = '\0';
	return 0;
}
