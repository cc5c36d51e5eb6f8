/* Everything a query reader needs, built completely and validated before it
 * is published through one RCU-protected pointer; never modified afterwards. */
#ifndef GSLB_SNAPSHOT_H
#define GSLB_SNAPSHOT_H

#include <stdint.h>

#include "gslb/config.h"
#include "gslb/zone.h"

struct snapshot {
	struct conf *conf;
	struct zoneset *zones;
	uint64_t generation;
};

/* Load the config at path and everything it names. On failure returns a
 * negative gslb_err with "file:line: reason" in err, and builds nothing.
 * The result is owned by the caller (snapshot_free). */
int snapshot_load(const char *path, struct snapshot **out, char *err, size_t errlen);
void snapshot_free(struct snapshot *s);

#endif
