/* Bounded line reading for operator text files. */
#include "gslb/textline.h"

#include <errno.h>
#include <string.h>

#include "gslb/err.h"

int textline_read(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c;
	while ((c = getc(f)) != EOF) {
		if (c == '\n')
			break;
		if (c == '\0')
			return GSLB_EPARSE;
		if (n + 1 >= cap)
			return GSLB_ERANGE;
		buf[n++] = (char)c;
	}
	if (c == EOF && ferror(f))
		return GSLB_EIO;
	buf[n] = '\0';
	*len = n;
	return c == EOF && n == 0 ? 0 : 1;
}

void textline_error(int rc, const char *path, int line, size_t cap, char *err, size_t errlen)
{
	if (rc == GSLB_EIO)
		snprintf(err, errlen, "%s:%d: %s", path, line, strerror(errno));
	else if (rc == GSLB_ERANGE)
		snprintf(err, errlen, "%s:%d: line longer than %zu bytes", path, line, cap - 1);
	else
		snprintf(err, errlen, "%s:%d: NUL byte in line", path, line);
}
