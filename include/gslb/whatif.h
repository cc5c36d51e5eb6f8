/* What-if: where clients go, per service, over the whole GeoIP database,
 * and where they would go after a change of health (a region down or
 * drained, a pool, a member). The database is walked once and sampled per
 * country; each sample is decided with decide(), the same engine DNS uses,
 * against a health view with the changes applied (health_compute() with the
 * admin table plus the changes, exactly as if the overrides were set). The
 * result is JSON; `gslbd -t`, `gslbd --what-if`, `GET /what-if` and
 * `gslbctl what-if` all print it with whatif_print(). */
#ifndef GSLB_WHATIF_H
#define GSLB_WHATIF_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct snapshot;
struct health;
struct override_table;

/* Most change texts in one question (repeated --what-if or change=). */
#define WHATIF_MAX_CHANGES 64

/* Evaluate snap's services for a sample of the database's networks, under
 * the health view base (NULL: every pool up) and, when nchanges > 0, under
 * that view with the changes applied on top of the admin overrides in admin
 * (may be NULL). Each change text is "ACTION TARGET[, ACTION TARGET]...":
 * ACTION is down (force-down), drain or up (force-up); TARGET is a region
 * name, region:REGION, pool:SERVICE/REGION or member:SERVICE/REGION/ADDRESS.
 * Returns 0 and a new JSON object in *out (caller json_decref()s it), or a
 * negative gslb_err with the reason in err: GSLB_EINVAL for a change that
 * does not parse or names nothing known, GSLB_ENOENT without a database,
 * GSLB_EIO for a database that cannot be walked. Reads snap only. */
int whatif_json(const struct snapshot *snap, const struct health *base,
		const struct override_table *admin, const char *const *changes, size_t nchanges,
		json_t **out, char *err, size_t errlen);

/* The report for people: per service, a table of regions with their share
 * of the database's IPv4 and IPv6 address space and countries; with
 * changes, where each affected region's clients go and before/after. */
void whatif_print(const json_t *j, FILE *out);

/* `gslbd -t`: warn (log) about services with no default order for unknown
 * locations; then, when a database is configured, evaluate as whatif_json
 * does without changes (*out stays NULL without a database). Returns 0, or
 * a negative gslb_err with the reason in err. */
int whatif_check(const struct snapshot *snap, json_t **out, char *err, size_t errlen);

/* The admin overrides listed in a JSON array of {"target","state"} objects
 * (prober_admin_json()) into t, which the caller frees
 * (override_table_free). Entries that do not parse are skipped. */
int whatif_admin_from_json(const json_t *arr, struct override_table *t);

#endif
