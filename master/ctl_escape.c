/*
 * Value escaping of the control protocol, shared by the master and lxcfs-ctl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/control.h"

void ctl_escape(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in && o + 4 < size; in++) {
		unsigned char c = (unsigned char)*in;

		if (c <= ' ' || c > '~' || c == '%' || c == '=')
			o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

void ctl_unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '%' && s[1] && s[2]) {
			char hex[3] = {s[1], s[2], 0};

			*w++ = (char)strtoul(hex, NULL, 16);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}
