/* Domain names in uncompressed wire form (length-prefixed labels ending in
 * the root label). Names kept in data structures are lower-cased; names
 * copied from queries keep their case for the reply. */
#ifndef GSLB_DNAME_H
#define GSLB_DNAME_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/wire.h"

#define DNAME_MAXLEN 255
#define DNAME_MAXLABELS 128

/* Read a possibly compressed name from a message. The cursor advances past
 * the name as it appears at its position (pointers are followed on a
 * private cursor, strictly backwards, so loops are impossible). Writes the
 * uncompressed name to out (case kept). Returns its length (>= 1) or 0 on a
 * malformed name (and sets w->err). */
size_t dname_parse(struct wire *w, uint8_t out[DNAME_MAXLEN]);

/* ASCII lower-case copy of a wire name of length len. */
void dname_tolower(uint8_t *dst, const uint8_t *src, size_t len);

/* Fill offs[] with the offset of each label start (root label excluded);
 * returns the label count. The name must be well formed. */
unsigned dname_labels(const uint8_t *name, uint8_t offs[DNAME_MAXLABELS]);

/* Length of a well-formed wire name (including the root label). */
size_t dname_len(const uint8_t *name);

/* Case-insensitive equality of two well-formed names. */
int dname_equal(const uint8_t *a, const uint8_t *b);

/* Is name equal to or below parent? Both well formed, compared case-insensitively. */
int dname_is_sub(const uint8_t *name, size_t len, const uint8_t *parent, size_t plen);

/* Hash of a lower-cased wire name (FNV-1a), used by the zone tables. */
uint32_t dname_hash(const uint8_t *name, size_t len);

/* Presentation text to wire (lower-cased, absolute; a trailing dot is
 * optional). Returns length or 0 when invalid. */
size_t dname_from_str(const char *s, uint8_t out[DNAME_MAXLEN]);

/* Wire to presentation text with a trailing dot, escaping as RFC 1035
 * does. Always NUL-terminates when cap > 0; returns the text length. */
size_t dname_to_str(const uint8_t *name, char *out, size_t cap);

#endif
