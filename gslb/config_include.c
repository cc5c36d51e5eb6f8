/* gslb.conf's @include lines, checked before libconfig reads anything
 * (conf_load). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gslb/config_schema.h"
#include "gslb/err.h"

/* libconfig 1.5 ends the process (its flex scanner's fatal error, exit(2))
 * when an @include names something that opens but cannot be read: a
 * folder, "" (the include folder itself), /proc/self/mem. It also cuts an
 * include name at a NUL byte and prints to stdout on an unknown escape in
 * it. A config check or a reload must fail cleanly instead, so before
 * libconfig reads anything, every file is read here whole and every
 * @include in it is checked: no NUL byte in any file, a name that is not
 * empty and has only the \\ and \" escapes, and a target that is a regular
 * file this process can read to the end; at most 10 levels deep.
 *
 * The scan matches libconfig's scanner, which takes `[ \t]*@include[ \t]+"`
 * at the start of a line and a name running to the next unescaped quote
 * (newlines included), and errs on the safe side: it also checks an
 * @include that libconfig would not take (inside a string or comment),
 * which can only refuse such a line when it names a folder. */
#define CONF_MAX_FILE (64u << 20)

static int line_of(const char *buf, const char *at)
{
	int n = 1;

	for (const char *p = buf; p < at; p++)
		n += (*p == '\n');
	return n;
}

/* Reads a whole regular file: 0, or -1 with errno (EISDIR/EINVAL for what
 * is not a regular file, EFBIG above CONF_MAX_FILE). Caller frees *out. */
static int read_whole(const char *path, char **out, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;
	int fd, e;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	cap = (size_t)st.st_size + 1;
	if (cap > CONF_MAX_FILE)
		cap = CONF_MAX_FILE;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= CONF_MAX_FILE) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			size_t ncap = cap * 2 > CONF_MAX_FILE ? CONF_MAX_FILE : cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}

/* The file an @include at file:lineno names (name, n bytes): a regular
 * file whose own @includes pass, or missing (libconfig says "cannot open
 * include file"). */
static int check_target(const char *file, int lineno, const char *incdir, const char *name,
			size_t n, int depth, char *err, size_t errlen)
{
	/* the path libconfig opens: include_dir/name unless name is absolute */
	size_t incsz = strlen(incdir) + n + 2;
	char *inc = malloc(incsz);
	struct stat st;
	int shown = 100; /* of a long name, in messages */
	int rc = GSLB_OK;

	if (!inc)
		return GSLB_ENOMEM;
	if (name[0] == '/')
		memcpy(inc, name, n + 1);
	else
		snprintf(inc, incsz, "%s/%s", incdir, name);
	int exists = stat(inc, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s:%d: @include \"%.*s%s\": not a regular file", file,
			 lineno, shown, name, n > (size_t)shown ? "..." : "");
		rc = GSLB_EPARSE;
	} else if (exists) {
		rc = conf_check_includes(inc, incdir, depth + 1, err, errlen);
		if (rc == GSLB_EIO) {
			/* name the @include line, then the reason */
			char why[512];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s:%d: @include \"%.*s%s\": %s", file, lineno, shown,
				 name, n > (size_t)shown ? "..." : "", why);
			rc = GSLB_EPARSE;
		}
	}
	free(inc);
	return rc;
}

int conf_check_includes(const char *file, const char *incdir, int depth, char *err, size_t errlen)
{
	char *buf = NULL, *name = NULL;
	size_t len;
	int rc = GSLB_OK;

	if (depth > 10) {
		snprintf(err, errlen, "%s: @include nested more than 10 levels", file);
		return GSLB_EPARSE;
	}
	if (read_whole(file, &buf, &len) != 0) {
		if (errno == ENOENT && depth == 0)
			return GSLB_OK; /* config_read_file reports it */
		if (errno == ENOMEM)
			return GSLB_ENOMEM;
		snprintf(err, errlen, "%s: cannot read: %s", file,
			 errno == EINVAL ? "not a regular file" :
			 errno == EFBIG  ? "larger than 64 MiB" :
					   strerror(errno));
		return GSLB_EIO;
	}
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		snprintf(err, errlen, "%s:%d: NUL byte in the file (not a text file?)", file,
			 line_of(buf, nul));
		free(buf);
		return GSLB_EPARSE;
	}
	const char *end = buf + len;
	for (const char *p = buf; p < end && !rc;) {
		const char *bol = p;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;

		while (p < next && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) < 8 || memcmp(p, "@include", 8) != 0) {
			p = next;
			continue;
		}
		p += 8;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p != '"') {
			p = next; /* not an @include to libconfig: its syntax error */
			continue;
		}
		int lineno = line_of(buf, bol);
		size_t n = 0;
		free(name);
		name = malloc((size_t)(end - p));
		if (!name) {
			rc = GSLB_ENOMEM;
			break;
		}
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\') {
				if (p + 1 < end && (p[1] == '\\' || p[1] == '"')) {
					name[n++] = *++p;
					continue;
				}
				snprintf(
					err, errlen,
					"%s:%d: @include name: only \\\\ and \\\" may follow a backslash",
					file, lineno);
				rc = GSLB_EPARSE;
				break;
			}
			name[n++] = *p;
		}
		if (rc)
			break;
		if (p == end)
			break; /* no closing quote: libconfig's syntax error */
		p++;
		name[n] = '\0';
		if (n == 0) {
			snprintf(err, errlen, "%s:%d: @include \"\": empty file name", file,
				 lineno);
			rc = GSLB_EPARSE;
			break;
		}
		rc = check_target(file, lineno, incdir, name, n, depth, err, errlen);
	}
	free(name);
	free(buf);
	return rc;
}
