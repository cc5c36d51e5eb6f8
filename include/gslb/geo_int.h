/* geo.c and geo_compact.c share these: the database handle's layout, the
 * record decoder and the compact table's lookup. Not for other modules. */
#ifndef GSLB_GEO_INT_H
#define GSLB_GEO_INT_H

#include <stdint.h>

#include <maxminddb.h>

#include "gslb/geo.h"

enum {
	GEO_F_COUNTRY,
	GEO_F_CONTINENT,
	GEO_F_SUBDIVISION,
	GEO_F_LAT,
	GEO_F_LON,
	GEO_NFIELDS,
};

/* Decoded database records, by record offset: many networks share a record
 * (GeoLite2-City: about 3 million IPv4 networks, 510 thousand records), and
 * decoding one takes five walks through nested maps. Direct-mapped, shared
 * by every DNS worker, written without locks as a seqlock: a writer that
 * cannot take an entry (odd sequence, lost race) simply does not cache, a
 * reader that sees the sequence move treats the entry as a miss. Every word
 * is read and written with atomic operations, so the races are defined.
 * Hits also spare the data section's pages, which keeps the resident set
 * small. */
#define GEO_CACHE_BITS 17

struct geo_cache_entry {
	uint64_t seq;  /* even = stable */
	uint64_t key;  /* record offset + 1, 0 = empty; flags in the high bits */
	uint64_t w[4]; /* country, continent, subdivision (12 bytes), lat, lon */
};

#define GEO_CK_COORDS (1ull << 40)
#define GEO_CK_CENTROID (1ull << 41)

struct geo_db {
	int has_mmdb;
	MMDB_s mmdb;
	struct geo_cache_entry *cache; /* 1 << GEO_CACHE_BITS entries, NULL = none */
	char *db_path;
	char *ov_path;
	/* NULL-terminated component arrays for MMDB_aget_value, pointing into
	 * path_buf; NULL when the field is disabled (""). */
	const char **paths[GEO_NFIELDS];
	char *path_buf[GEO_NFIELDS];
	struct geo_override *ov; /* file order */
	size_t nov;
	struct net_set *ovset; /* the overrides' networks, indexes into ov */
	/* geoip.asn_database, its own sealed private copy */
	int has_asn;
	MMDB_s asn;
	char *asn_path;
};

/* The location fields of one database record into res (country,
 * continent, subdivision, coordinates); 0 or a negative gslb_err. */
int geo_db_decode(const struct geo_db *g, MMDB_entry_s *entry, struct geo_result *res,
		  int *mmdb_status);

/* The compact table's class for address a (v6: IPv6 tree), and the depth
 * of the leaf it found. */
uint32_t geo_ct_find(const struct geo_compact *c, int v6, const uint8_t *a, unsigned *depth);

/* The node at ::/96 of an IPv6 tree, where the IPv4 tree starts
 * (UINT64_MAX when there is none). */
uint64_t geo_walk_v4_start(const struct geo_db *g);

#endif
