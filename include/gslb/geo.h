/* Client location: a MaxMind-format database (libmaxminddb, any schema whose
 * fields can be named by paths) plus an optional overrides file of CIDR lines
 * that win over it. A geo_db is immutable once geo_open returns, so many DNS
 * worker threads may call geo_lookup on it at once; lookups allocate nothing.
 * Reload is a new geo_open and a snapshot swap by the caller. */
#ifndef GSLB_GEO_H
#define GSLB_GEO_H

#include <stddef.h>
#include <stdint.h>

/* Filled by config.c from the `geoip { }` section. geo_open copies what it
 * keeps, so the caller may free this afterwards. */
struct geo_conf {
	char *database;  /* path to a MaxMind-format .mmdb; NULL: overrides only */
	char *overrides; /* optional path, NULL when unset */
	/* optional GeoLite2-ASN format database (autonomous_system_number,
	 * autonomous_system_organization), for asn:N route rules */
	char *asn_database;
	/* Lookup paths into a database record, '/'-separated; numeric
	 * components index arrays. NULL selects the GeoIP2/GeoLite2 default
	 * shown; "" means the database has no such field. */
	char *path_country;     /* default "country/iso_code" */
	char *path_continent;   /* default "continent/code" */
	char *path_subdivision; /* default "subdivisions/0/iso_code" */
	char *path_latitude;    /* default "location/latitude" */
	char *path_longitude;   /* default "location/longitude" */
};

/* One line of the overrides file: either a region list or a location. */
struct geo_override {
	uint8_t family_is_v6;
	uint8_t addr[16]; /* network address, host bits zero; IPv4 in addr[0..3] */
	uint8_t prefix;
	int line; /* line number in the overrides file */
	char **regions;
	size_t nregions; /* 0 when the line gives a location */
	int has_coords;
	double lat, lon;
};

struct geo_result {
	/* The IPv6 address asked embeds an IPv4 address (::ffff:a.b.c.d,
	 * ::a.b.c.d, 64:ff9b::a.b.c.d, 2002:aabb:ccdd::/48) and was located
	 * as that IPv4 address. The prefix lengths below stay in IPv6 bits. */
	int mapped_v4;
	int db_found; /* the database had a record for the address */
	/* Prefix length of the database network holding the address (also
	 * when the network is empty and db_found is 0), in the family of the
	 * address asked: an IPv4 address in an IPv6 tree counts from bit 96. */
	uint8_t db_prefix;
	/* Longest prefix of the address within which everything geo_lookup
	 * reports stays the same: at least db_prefix and the matching
	 * override's prefix, longer when a more specific override sits inside
	 * that network, or (IPv6) one of the ranges located as IPv4
	 * (::/96, ::ffff:0:0/96, 64:ff9b::/96, 2002::/16). This is the ECS
	 * scope for location-dependent answers. */
	uint8_t scope_prefix;
	char network[64];     /* database network, "83.0.0.0/11"; "" if !db_found */
	char country[3];      /* ISO 3166-1 alpha-2, upper case; "" when unknown */
	char continent[3];    /* "EU", "NA"...; "" when unknown */
	char subdivision[16]; /* "PL-14": country '-' code; "" when unknown */
	/* Database location; from the country centroid table when the
	 * database knows the country but has no coordinates. Overrides do not
	 * change these fields: see override. */
	int has_coords;
	double lat, lon;
	int coords_from_centroid;
	/* Longest-prefix override that matched, or NULL. The caller applies
	 * it (its regions, or its location instead of lat/lon above). */
	const struct geo_override *override;
};

struct geo_db;

/* geoip.asn_database: the autonomous system of an address. */
#define GEO_ASN_ORG_MAX 96
struct geo_asn {
	int found;                 /* the database has a record with a number */
	uint32_t asn;              /* autonomous_system_number */
	uint8_t prefix;            /* the database network's prefix length, in the family asked */
	char org[GEO_ASN_ORG_MAX]; /* autonomous_system_organization, "" if none */
};

/* Look addr up in the ASN database (4 bytes for AF_INET, 16 for AF_INET6);
 * with want_org the organisation too. Returns 0 (out->found says whether
 * there was a number), or GSLB_EIO from a damaged file. Without an ASN
 * database out->found is 0 and prefix 0. Thread-safe, no heap. */
int geo_asn_lookup(const struct geo_db *g, int family, const uint8_t *addr, int want_org,
		   struct geo_asn *out);
/* Is an ASN database loaded? Its path, "" when none. */
int geo_has_asn(const struct geo_db *g);
const char *geo_asn_path(const struct geo_db *g);
/* Its metadata: database_type ("" when none) and build time (0). */
const char *geo_asn_type(const struct geo_db *g);
uint64_t geo_asn_build_epoch(const struct geo_db *g);

/* Open the database (memory-mapped) and load and validate the overrides.
 * On failure returns a negative gslb_err and writes "FILE:LINE: reason"
 * (overrides) or "FILE: reason" (database) to err. On success *out is owned
 * by the caller (geo_close). */
int geo_open(const struct geo_conf *gc, struct geo_db **out, char *err, size_t errlen);
void geo_close(struct geo_db *g);

/* Locate addr (4 bytes for AF_INET, 16 for AF_INET6). Thread-safe, no heap
 * allocation. Returns 0, or a negative gslb_err when the database is
 * corrupt at this address (then the database fields are empty but the
 * override and scope are still filled in); an address the database does not
 * cover is not an error (db_found 0). */
int geo_lookup(const struct geo_db *g, int family, const uint8_t *addr, struct geo_result *res);

/* Every network of the database that holds a record, once each, in
 * address order (IPv4 first in an IPv6 tree): cb gets the network address
 * (4 bytes for AF_INET, 16 for AF_INET6, host bits zero), its prefix length
 * and the record's location fields as geo_lookup reports them (db_found 1,
 * db_prefix = scope_prefix = prefix; network text left empty and no
 * override applied: the walk is about the database alone). IPv4 data of an
 * IPv6 tree comes once, as AF_INET, from ::/96; the ranges gslb locates as
 * IPv4 (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) and any other alias of the
 * IPv4 subtree (Teredo) are skipped. A non-zero return from cb stops the
 * walk and is returned. Returns 0, or GSLB_EIO when the tree or a record is
 * damaged, GSLB_ENOMEM. Without a database there is nothing to visit. */
typedef int (*geo_walk_fn)(void *arg, int family, const uint8_t *addr, unsigned prefix,
			   const struct geo_result *res);
int geo_walk(const struct geo_db *g, geo_walk_fn cb, void *arg);

/* The same, with flags: GEO_NO_NETWORK leaves res->network empty (the DNS
 * path does not need the text; explain does). */
#define GEO_NO_NETWORK 1u
int geo_lookup_flags(const struct geo_db *g, int family, const uint8_t *addr,
		     struct geo_result *res, unsigned flags);

/* Overrides, in file order, for validation by the caller (region names are
 * checked against the configured regions by config.c). */
size_t geo_override_count(const struct geo_db *g);
const struct geo_override *geo_override_at(const struct geo_db *g, size_t i);
const char *geo_overrides_path(const struct geo_db *g); /* NULL when unset */
/* "10.0.0.0/8" into buf; returns snprintf's count. */
int geo_override_cidr(const struct geo_override *o, char *buf, size_t len);

/* Database metadata for logs and explain; "" / 0 without a database. */
const char *geo_db_path(const struct geo_db *g);
const char *geo_db_type(const struct geo_db *g);
uint64_t geo_db_build_epoch(const struct geo_db *g);
uint32_t geo_db_node_count(const struct geo_db *g);
unsigned geo_db_ip_version(const struct geo_db *g); /* 4 or 6, 0 without a database */

/* An IPv4 address inside an IPv6 one (::ffff:a.b.c.d, ::a.b.c.d other than
 * :: and ::1, 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::/48): copies it to v4
 * and returns its bit offset in the IPv6 address (96 or 16), else -1. The
 * decision engine and the lookups use this one rule. */
int geo_v4_embedded(const uint8_t *a, uint8_t *v4);

/* Approximate centroid of an ISO 3166-1 alpha-2 country (any case, plus XK
 * for Kosovo). Returns 0 and fills lat/lon, or GSLB_ENOENT. */
int geo_country_centroid(const char *cc, double *lat, double *lon);

/* Great-circle distance in km (haversine, mean earth radius 6371.0088 km). */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

/* ---- compact table (geoip.compact) ----
 * The database's networks merged by answer class: a classifier maps each
 * record's location fields (as geo_lookup reports them) to a class, and
 * neighbouring networks of one class merge into the widest network that
 * holds only that class. Lookups then walk this table instead of the
 * database, never touch the database's data section, and report as
 * db_prefix the merged network's prefix. Classes 0 and 1 are the table's. */
#define GEO_CLASS_NONE 0u  /* no record: the database knows nothing here */
#define GEO_CLASS_EXACT 1u /* ask the database (:: and ::1, aliases) */
#define GEO_CLASS_FIRST 2u /* the first class a classifier may give */

struct geo_compact;

/* Sets *cls (GEO_CLASS_FIRST .. 2^31-1) for a record's location; a
 * non-zero return stops the build and is returned. */
typedef int (*geo_class_fn)(void *arg, const struct geo_result *res, uint32_t *cls);

/* Walks the whole database tree once, calling fn once per distinct record
 * (about 500 thousand for GeoLite2-City). Returns 0, GSLB_EIO for a damaged
 * tree, GSLB_ENOMEM, or fn's error. */
int geo_compact_build(const struct geo_db *g, geo_class_fn fn, void *arg, struct geo_compact **out);
void geo_compact_free(struct geo_compact *c);
void geo_compact_stats(const struct geo_compact *c, size_t *nodes, size_t *leaves, size_t *bytes);

/* geo_lookup_flags(GEO_NO_NETWORK) with the database part from c: the
 * override, mapped_v4, db_found, db_prefix (the merged network) and
 * scope_prefix are filled and *cls is the class; the location fields are
 * left empty for the caller to fill from its class. When *cls is
 * GEO_CLASS_EXACT the database was asked and res is complete. */
int geo_lookup_compact(const struct geo_db *g, const struct geo_compact *c, int family,
		       const uint8_t *addr, struct geo_result *res, uint32_t *cls);

/* Drops this process's hold on the database file's pages (a build walked
 * them all); they stay in the page cache and come back on use. */
void geo_release_pages(const struct geo_db *g);

#endif
