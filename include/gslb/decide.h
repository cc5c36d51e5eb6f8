/* The decision engine: for one service and one client address (from ECS or
 * the packet source), locate the client, order the regions, take the first
 * usable one and say why. DNS answers, HTTP redirects and --explain all
 * call decide(); it reads only the immutable snapshot and allocates nothing. */
#ifndef GSLB_DECIDE_H
#define GSLB_DECIDE_H

#include <stdint.h>

#include "gslb/geo.h"
#include "gslb/health.h"
#include "gslb/service.h"

struct snapshot;

enum decide_rule {
	RULE_OVERRIDE, /* an overrides-file line with a region list */
	RULE_ROUTE,    /* a service route rule */
	RULE_DISTANCE, /* great-circle distance from the client */
	RULE_DEFAULT,  /* the service's default order (unknown location) */
	RULE_CONFIG,   /* all regions in config order (unknown location) */
};

enum decide_state {
	REGION_TAKEN,
	REGION_SKIP_NO_POOL,   /* the service has no pool in this region */
	REGION_SKIP_NO_FAMILY, /* not used for choice; informative */
	REGION_SKIP_DOWN,      /* its pool is down (probes or admin) */
	REGION_NOT_TRIED,      /* after the chosen one */
	REGION_BEYOND_LIMIT,   /* cut by the service's limit */
	REGION_SKIP_FULL,      /* pools[].load: its pool is full (load >= high) */
	REGION_SKIP_SHED,      /* pools[].load: the client is in the share its pool sheds */
	REGION_TAKEN_LOADED,   /* taken although full or shedding: every other region was out */
};

struct decide_step {
	uint8_t region;
	uint8_t state; /* enum decide_state */
	/* cosine of the angle between client and region (1 = same place),
	 * < -1 when no location; decide_step_km() turns it into km. Ordering
	 * needs no arc cosine, so the query path does not compute one. */
	double cos_angle;
};

/* Great-circle distance of a step in km, or -1 without a location. */
double decide_step_km(const struct decide_step *st);
/* The distance ordering used: km x (1 - bias/100) of the step's region
 * (regions[].bias), or -1 without a location. */
double decide_biased_km(const struct snapshot *snap, const struct decide_step *st);

struct decision {
	const struct service *svc;
	/* the address used, after unwrapping IPv4-mapped and similar forms */
	int family;
	uint8_t addr[16];
	uint8_t prefix;
	int unwrapped_v4;     /* the query gave an IPv6 form of an IPv4 address */
	uint8_t unwrap_shift; /* bits before the embedded IPv4 address */

	struct geo_result geo;
	/* asn:N route rules: the client's autonomous system, looked up when
	 * the first such rule is reached (asn_looked) */
	int asn_looked;
	struct geo_asn asn;
	int located; /* a location (coordinates or a region list) was found */
	enum decide_rule rule;
	const struct route *route; /* RULE_ROUTE */
	/* a split route rule: the client subnet's bucket (of ROUTE_SPLIT_RING)
	 * and the region it gives, tried first; -1 = no split */
	uint32_t split_bucket;
	int split_region;

	struct decide_step steps[GSLB_MAX_REGIONS];
	unsigned nsteps;
	int region;                /* chosen region index, -1 = none */
	const struct pool *pool;   /* its pool (the fallback pool for ALL_DOWN_FALLBACK) */
	const struct hpool *hpool; /* its health, NULL when no view */
	/* the region an HTTP redirect names: region, or with when_all_down =
	 * "fallback" (whose answer names no region) the one fail-open would
	 * take, never one drained or forced down; -1 = none (503) */
	int redirect_region;
	int all_down;  /* every pool tried was down: when_all_down applies */
	int fail_open; /* answering a down pool, all members, as if up */
	uint8_t scope; /* ECS scope, in the family of the query */
	uint32_t ttl;
	/* members_pick = "sticky" or a split: the client subnet at the service's hash
	 * prefix (hash_prefix_v4/v6, at most the subnet's own prefix) and its
	 * hash; the ECS scope is at least hash_prefix */
	int hashed;
	uint8_t hash_prefix;
	uint64_t client_hash;
	/* pools[].load: the client's draw in 0..1 from its subnet hash (a pool
	 * shedding share s sends the clients whose draw is below s to their next
	 * region), valid when shed_drawn (a pool shedding was tried); shed_moved:
	 * a region was passed over for its load (full or shedding) */
	double shed_draw;
	int shed_drawn;
	int shed_moved;
	/* decide_forced: the split bucket and the shedding draw given, not
	 * hashed from the subnet */
	int forced;
	uint32_t forced_bucket;
	double forced_draw;
};

/* The client's load-shedding draw, from its subnet hash (decide.c). */
double decide_shed_draw(uint64_t client_hash);

/* Decide for svc. family/addr/prefix: the client subnet as received (ECS
 * source prefix, or the full source address). With geoip.compact the
 * location comes from the snapshot's class table: the same region order
 * and answer as from the database, the location fields (and so the
 * distances in steps) those of one location of the client's class, and an
 * ECS scope as wide as the network of that class allows. */
void decide(const struct snapshot *snap, const struct service *svc, int family, const uint8_t *addr,
	    uint8_t prefix, struct decision *d);

/* decide() with flags: DECIDE_EXACT locates the client in the database
 * itself even when a class table exists (explain, what-if: they show the
 * client's own location and distances). */
#define DECIDE_EXACT 1u
/* DECIDE_UNLOCATED: the answer of a client the database does not locate,
 * whatever the address (zone transfers: the default answer). */
#define DECIDE_UNLOCATED 2u
void decide_ex(const struct snapshot *snap, const struct service *svc, int family,
	       const uint8_t *addr, uint8_t prefix, unsigned flags, struct decision *d);
/* decide_ex with the split bucket (0..ROUTE_SPLIT_RING-1) and the load
 * shedding draw (0..1) given instead of hashed from the client subnet:
 * what-if and -t weigh each stretch of the ring and each interval of
 * draws by its size, exactly, instead of sampling subnets. */
void decide_forced(const struct snapshot *snap, const struct service *svc, int family,
		   const uint8_t *addr, uint8_t prefix, unsigned flags, uint32_t bucket,
		   double draw, struct decision *d);

/* geoip.compact: the database's networks merged by what decide() would
 * answer from them under this snapshot's config (regions, route rules). */
struct geo_classes {
	struct geo_compact *table;
	struct geo_result *rep; /* one location per class id */
	size_t nclasses;        /* ids below GEO_CLASS_FIRST are unused */
	/* per class: all the config's regions by distance (nregions bytes
	 * each) and which of them are as near as the one before (bit i) */
	uint8_t *order;
	uint64_t *ties;
};

/* Build the classes for snap (its config, services and geo must be in
 * place). On failure err says why. */
int decide_build_classes(const struct snapshot *snap, struct geo_classes **out, char *err,
			 size_t errlen);
void decide_free_classes(struct geo_classes *gc);

/* Service for a lower-cased owner name, exact first, then the closest
 * wildcard service ("*.parent") above it; NULL when none. */
const struct service *decide_find_service(const struct snapshot *snap, const uint8_t *lname,
					  size_t len);

/* Does a lower-cased name exist only as an ancestor of a service name? */
int decide_is_service_ent(const struct snapshot *snap, const uint8_t *lname, size_t len);

/* members_pick = "sticky": the rendezvous score of a member for the
 * decision's client subnet (d->hashed), weights respected; members are
 * answered highest score first, so a client subnet keeps its members while
 * they are up and a member going down moves only its own clients. */
double decide_member_score(const struct decision *d, int family, const uint8_t *addr,
			   uint32_t weight);
/* The member's draw (53 bits) the score is made of: among members of equal
 * weight the score grows with it, so it orders them alike without the
 * logarithm (the query path's fast case). */
uint64_t decide_member_draw(const struct decision *d, int family, const uint8_t *addr);

const char *decide_rule_name(enum decide_rule r);
const char *decide_state_name(enum decide_state s);

#endif
