/*
 * lxcfs-ctl's side of the control socket (control.h): connecting, and one
 * request with its whole reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/control.h"
#include "master/ctl_client.h"

int ctl_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "lxcfs-ctl: socket path %s is too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

char *ctl_roundtrip(int fd, const char *cmd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	char req[4096 * 3 + 1100];
	int n;

	if (!buf)
		return NULL;
	n = snprintf(req, sizeof(req), "%s %s\n", CTL_PROTO_REQ, cmd);
	/* Even if the write fails, a refusal may be waiting to be read. */
	(void)!write(fd, req, (size_t)n);
	for (;;) {
		ssize_t r;

		if (len + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

char *ctl_request(const char *path, const char *cmd)
{
	int fd = ctl_connect(path);
	char *reply;

	if (fd < 0)
		return NULL;
	reply = ctl_roundtrip(fd, cmd);
	close(fd);
	return reply;
}

void record_parse(char *line, struct record *r, char **room)
{
	char *save = NULL, *tok;

	r->n = 0;
	r->key = room;
	r->val = room + RECORD_FIELDS;
	r->kind = strtok_r(line, " ", &save);
	while ((tok = strtok_r(NULL, " ", &save)) && r->n < RECORD_FIELDS) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		ctl_unescape(eq + 1);
		r->key[r->n] = tok;
		r->val[r->n] = eq + 1;
		r->n++;
	}
}

const char *record_get(const struct record *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->val[i];
	return NULL;
}
