/* Line-by-line reading of the operators' text files (the GeoIP overrides,
 * the ACL blocklist): a line never splits into two, a line too long or
 * holding a NUL byte is an error naming FILE:LINE. */
#ifndef GSLB_TEXTLINE_H
#define GSLB_TEXTLINE_H

#include <stddef.h>
#include <stdio.h>

/* The longest line these files may have, with its end. */
#define TEXTLINE_MAX 4096

/* Reads one line (without its '\n') into buf, never growing it. Returns 1
 * with a line, 0 at end of file, GSLB_ERANGE for a line that does not fit
 * in cap bytes with its terminator, GSLB_EPARSE for a NUL byte, GSLB_EIO
 * on a read error. */
int textline_read(FILE *f, char *buf, size_t cap, size_t *len);

/* The message for a negative textline_read result on line `line` of
 * path: "path:line: reason". */
void textline_error(int rc, const char *path, int line, size_t cap, char *err, size_t errlen);

#endif
