/* Explain a decision: for a client address (or subnet) and a name, what the
 * engine finds and does, as JSON (the admin API and HTTP ?explain use the
 * same) or as text for `gslbd --explain`. It calls decide() exactly as the
 * DNS path does. */
#ifndef GSLB_EXPLAIN_H
#define GSLB_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct snapshot;

/* address: "192.0.2.1", "83.0.0.0/24", "2001:db8::/48". On success returns
 * 0 and a new JSON object in *out (the caller json_decref()s it); on bad
 * input returns a negative gslb_err with the reason in err. */
int explain_json(const struct snapshot *snap, const char *address, const char *name, json_t **out,
		 char *err, size_t errlen);

/* The same content, for people. */
void explain_print(const json_t *ex, FILE *out);

#endif
