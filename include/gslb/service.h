/* The geo-balancing model, as loaded from the config: regions (sites with
 * coordinates), services (owner names with a policy), one pool of members
 * per service and region, and route rules. Immutable once built. */
#ifndef GSLB_SERVICE_H
#define GSLB_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/dname.h"

#define GSLB_MAX_REGIONS 64

struct region {
	char *name;
	double lat, lon;
	char *redirect; /* optional redirect target (HTTP listener) */
	int line;
};

struct member {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t weight; /* >= 1 */
	char *text;      /* as written in the config */
	char *target;    /* what a check probes instead, NULL = the member */
	int line;
};

struct pool {
	unsigned region; /* index into conf->regions */
	char *check;     /* check name, NULL when unchecked */
	double min_up;   /* a count (>= 1) or a fraction (< 1) */
	struct member *members;
	size_t nmembers;
	unsigned n4, n6;  /* members per family */
	uint8_t cname[DNAME_MAXLEN]; /* CNAME target instead of members */
	uint8_t cname_len;           /* 0 = none */
	int line;
};

enum route_kind {
	ROUTE_COUNTRY,
	ROUTE_CONTINENT,
	ROUTE_SUBDIVISION,
	ROUTE_NET,
};

struct route {
	enum route_kind kind;
	char code[16]; /* upper-case ISO code, "PL", "EU", "US-CA" */
	int family;    /* ROUTE_NET */
	uint8_t addr[16];
	uint8_t prefix;
	unsigned *regions;
	size_t nregions;
	char *text; /* "country:PL", for explain */
	int line;
};

struct service {
	char *name; /* presentation form, as configured */
	uint8_t lname[DNAME_MAXLEN]; /* lower-cased wire, "*" label kept for wildcards */
	uint8_t lname_len;
	int wildcard;
	uint32_t ttl;
	unsigned answers; /* most addresses per answer */
	unsigned limit;   /* most regions tried, 0 = all */
	struct route *routes;
	size_t nroutes;
	unsigned *dflt; /* order for unknown locations, NULL = config order */
	size_t ndflt;
	struct pool *pools;
	size_t npools;
	int pool_of_region[GSLB_MAX_REGIONS]; /* pool index or -1 */
	int line;
	const char *file;
};

#endif
