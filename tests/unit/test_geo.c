/* Unit tests for the GeoIP module: lookups in databases of three schemas,
 * overrides (longest prefix, ECS scope, file errors with line numbers),
 * damaged databases, centroids and distances, and geo_walk over IPv4 and
 * IPv6 trees (aliased and not).
 *
 * The databases are built from tests/data/geoip/test-city.json by
 * tests/unit/test_geo.sh, which passes their directory in GEO_TEST_DIR. Run
 * alone (valgrind, a debugger), this program asks that script to build them
 * into a temporary directory first. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gslb/err.h"
#include "gslb/geo.h"
#include "geo_test_dbs.h"

#ifndef TEST_DATADIR
#error TEST_DATADIR must be defined
#endif

/* Count heap allocations around geo_lookup by interposing malloc and
 * friends on glibc; sanitizers bring their own allocator, so the check is
 * skipped there. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GEO_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GEO_TEST_ASAN 1
#endif
#if defined(__GLIBC__) && !defined(GEO_TEST_ASAN)
#define GEO_TEST_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static volatile int alloc_armed;
static volatile long alloc_count;
void *malloc(size_t n)
{
	if (alloc_armed)
		alloc_count++;
	return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
	if (alloc_armed)
		alloc_count++;
	return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
	if (alloc_armed)
		alloc_count++;
	return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
#endif

static const char *test_dir; /* where the test databases are */

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", test_dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct geo_db *open_ok(const struct geo_conf *gc)
{
	char err[512] = "";
	struct geo_db *g = NULL;
	int rc = geo_open(gc, &g, err, sizeof(err));
	if (rc)
		print_error("geo_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(g);
	return g;
}

static struct geo_db *open_db(const char *name, const char *overrides)
{
	char db[1024], ov[1024];
	struct geo_conf gc;
	memset(&gc, 0, sizeof(gc));
	if (name) {
		path_of(db, sizeof(db), name);
		gc.database = db;
	}
	if (overrides) {
		snprintf(ov, sizeof(ov), "%s/geoip/%s", TEST_DATADIR, overrides);
		gc.overrides = ov;
	}
	return open_ok(&gc);
}

static int lookup(const struct geo_db *g, const char *text, struct geo_result *r)
{
	uint8_t a[16];
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(family, text, a), 1);
	return geo_lookup(g, family, a, r);
}

static void assert_near(double got, double want, double tol)
{
	if (got < want - tol || got > want + tol)
		fail_msg("got %f, want %f +- %f", got, want, tol);
}

/* ---- distance and centroids --------------------------------------------- */

static void test_distance(void **state)
{
	(void)state;
	/* Warsaw - New York */
	assert_near(geo_distance_km(52.2297, 21.0122, 40.7128, -74.0060), 6860, 50);
	assert_near(geo_distance_km(52.2297, 21.0122, 52.2297, 21.0122), 0, 1e-9);
	/* symmetric, and the antipodes are half the circumference */
	assert_near(geo_distance_km(40.7128, -74.0060, 52.2297, 21.0122),
		    geo_distance_km(52.2297, 21.0122, 40.7128, -74.0060), 1e-9);
	assert_near(geo_distance_km(0, 0, 0, 180), 3.14159265358979 * 6371.0088, 0.01);
	assert_near(geo_distance_km(90, 0, -90, 0), 3.14159265358979 * 6371.0088, 0.01);
	/* across the date line: Fiji - Samoa is short */
	assert_true(geo_distance_km(-17.7, 178.0, -13.8, -172.1) < 1300);
}

static void test_centroid(void **state)
{
	double lat = 0, lon = 0;
	(void)state;
	assert_int_equal(geo_country_centroid("PL", &lat, &lon), 0);
	assert_near(lat, 51.9, 1);
	assert_near(lon, 19.1, 1);
	assert_int_equal(geo_country_centroid("us", &lat, &lon), 0);
	assert_near(lat, 37.1, 1);
	assert_near(lon, -95.7, 1);
	assert_int_equal(geo_country_centroid("AD", &lat, &lon), 0); /* first */
	assert_int_equal(geo_country_centroid("ZW", &lat, &lon), 0); /* last */
	assert_int_equal(geo_country_centroid("XK", &lat, &lon), 0);
	assert_int_equal(geo_country_centroid("ZZ", &lat, &lon), GSLB_ENOENT);
	assert_int_equal(geo_country_centroid("", &lat, &lon), GSLB_ENOENT);
	assert_int_equal(geo_country_centroid("P", &lat, &lon), GSLB_ENOENT);
	assert_int_equal(geo_country_centroid("POL", &lat, &lon), GSLB_ENOENT);
	assert_int_equal(geo_country_centroid("P1", &lat, &lon), GSLB_ENOENT);
	assert_int_equal(geo_country_centroid(NULL, &lat, &lon), GSLB_ENOENT);
}

/* ---- city schema, IPv6 tree --------------------------------------------- */

struct expect {
	const char *addr;
	const char *country, *continent, *subdivision;
	double lat, lon;
	unsigned prefix;
	const char *network;
};

static const struct expect city_cases[] = {
	/* 83.0.0.0/11 minus its 83.16.0.0/16: the tree holds it as pieces */
	{ "83.1.2.3", "PL", "EU", "PL-14", 52.2297, 21.0122, 12, "83.0.0.0/12" },
	{ "83.16.5.5", "PL", "EU", "PL-12", 50.0647, 19.945, 16, "83.16.0.0/16" },
	{ "4.4.4.4", "US", "NA", "US-VA", 39.0438, -77.4874, 9, "4.0.0.0/9" },
	{ "8.8.8.8", "US", "NA", "US-CA", 37.386, -122.0838, 24, "8.8.8.0/24" },
	{ "1.0.0.1", "AU", "OC", "AU-NSW", -33.8688, 151.2093, 24, "1.0.0.0/24" },
	{ "27.1.2.3", "JP", "AS", "JP-13", 35.6895, 139.6917, 14, "27.0.0.0/14" },
	{ "41.1.2.3", "ZA", "AF", "ZA-GP", -26.2041, 28.0473, 11, "41.0.0.0/11" },
	{ "177.1.2.3", "BR", "SA", "BR-SP", -23.5505, -46.6333, 9, "177.0.0.0/9" },
	{ "2a00:1450:4001::1", "IE", "EU", "IE-L", 53.3498, -6.2603, 32, "2a00:1450::/32" },
	{ "2001:4860:4860::8888", "US", "NA", "US-CA", 37.386, -122.0838, 32, "2001:4860::/32" },
	{ "2400:cb00:1::1", "SG", "AS", "", 1.2897, 103.8501, 32, "2400:cb00::/32" },
	{ "2001:db8:1:2::5", "JP", "AS", "JP-13", 35.6895, 139.6917, 48, "2001:db8:1::/48" },
};

static void check_case(const struct geo_db *g, const struct expect *e, int with_subdivision)
{
	struct geo_result r;
	assert_int_equal(lookup(g, e->addr, &r), 0);
	if (!r.db_found)
		fail_msg("%s: not found", e->addr);
	assert_string_equal(r.country, e->country);
	assert_string_equal(r.continent, e->continent);
	if (with_subdivision)
		assert_string_equal(r.subdivision, e->subdivision);
	assert_true(r.has_coords);
	assert_false(r.coords_from_centroid);
	assert_near(r.lat, e->lat, 1e-4);
	assert_near(r.lon, e->lon, 1e-4);
	if (r.db_prefix != e->prefix)
		fail_msg("%s: db_prefix %u, want %u", e->addr, r.db_prefix, e->prefix);
	assert_string_equal(r.network, e->network);
	assert_false(r.mapped_v4);
	assert_null(r.override);
	assert_int_equal(r.scope_prefix, r.db_prefix);
}

static void test_city_lookups(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	(void)state;
	for (size_t i = 0; i < sizeof(city_cases) / sizeof(city_cases[0]); i++)
		check_case(g, &city_cases[i], 1);
	geo_close(g);
}

static void test_city_not_found(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	struct geo_result r;
	(void)state;
	/* private and unlisted addresses: no record, no error */
	const char *misses[] = { "10.0.0.1",      "83.200.0.1", "127.0.0.1",
				 "2001:db8:9::1", "::1",        "fe80::1" };
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		assert_int_equal(lookup(g, misses[i], &r), 0);
		if (r.db_found)
			fail_msg("%s: found", misses[i]);
		assert_string_equal(r.country, "");
		assert_string_equal(r.continent, "");
		assert_string_equal(r.subdivision, "");
		assert_string_equal(r.network, "");
		assert_false(r.has_coords);
		assert_null(r.override);
		assert_int_equal(r.scope_prefix, r.db_prefix);
	}
	/* the empty network around 10.0.0.1 is 10.0.0.0/7 (8.8.8.0/24 is in
	 * 8.0.0.0/7): a resolver may cache "unknown" for all of it */
	assert_int_equal(lookup(g, "10.0.0.1", &r), 0);
	assert_int_equal(r.db_prefix, 7);
	geo_close(g);
}

static void test_city_mapped(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	struct geo_result r;
	(void)state;
	/* IPv4-mapped: located as 83.16.5.5, prefixes in IPv6 bits */
	assert_int_equal(lookup(g, "::ffff:83.16.5.5", &r), 0);
	assert_true(r.mapped_v4);
	assert_true(r.db_found);
	assert_string_equal(r.subdivision, "PL-12");
	assert_string_equal(r.network, "83.16.0.0/16");
	assert_int_equal(r.db_prefix, 96 + 16);
	assert_int_equal(r.scope_prefix, 96 + 16);
	/* NAT64 well-known prefix and IPv4-compatible */
	assert_int_equal(lookup(g, "64:ff9b::83.1.2.3", &r), 0);
	assert_true(r.mapped_v4);
	assert_int_equal(r.db_prefix, 96 + 12);
	assert_string_equal(r.country, "PL");
	assert_int_equal(lookup(g, "::27.1.2.3", &r), 0);
	assert_true(r.mapped_v4);
	assert_string_equal(r.country, "JP");
	/* 6to4 2002:AABB:CCDD::/48 carries the IPv4 address at bit 16 */
	assert_int_equal(lookup(g, "2002:5310:0505::1", &r), 0);
	assert_true(r.mapped_v4);
	assert_string_equal(r.subdivision, "PL-12");
	assert_int_equal(r.db_prefix, 16 + 16);
	/* :: and ::1 are not IPv4 addresses */
	assert_int_equal(lookup(g, "::1", &r), 0);
	assert_false(r.mapped_v4);
	geo_close(g);
}

static void test_city_metadata(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	(void)state;
	assert_string_equal(geo_db_type(g), "gslb-Test-City");
	assert_int_equal(geo_db_build_epoch(g), 1700000000);
	assert_int_equal(geo_db_ip_version(g), 6);
	assert_true(geo_db_node_count(g) > 0);
	assert_non_null(strstr(geo_db_path(g), "city6.mmdb"));
	assert_int_equal(geo_override_count(g), 0);
	assert_null(geo_overrides_path(g));
	geo_close(g);
}

/* ---- flat schema, IPv4 tree --------------------------------------------- */

static void test_flat_schema(void **state)
{
	char db[1024];
	struct geo_conf gc;
	struct geo_db *g;
	struct geo_result r;
	(void)state;
	path_of(db, sizeof(db), "flat4.mmdb");
	memset(&gc, 0, sizeof(gc));
	gc.database = db;
	gc.path_country = "country_code";
	gc.path_continent = "continent_code";
	gc.path_subdivision = "region_code"; /* stored as "JP-13" already */
	gc.path_latitude = "latitude";
	gc.path_longitude = "longitude";
	g = open_ok(&gc);
	assert_int_equal(geo_db_ip_version(g), 4);
	assert_string_equal(geo_db_type(g), "gslb-Test-Flat");
	for (size_t i = 0; i < sizeof(city_cases) / sizeof(city_cases[0]); i++)
		if (!strchr(city_cases[i].addr, ':'))
			check_case(g, &city_cases[i], 1);
	/* an IPv6 address in an IPv4-only database: unknown, not an error */
	assert_int_equal(lookup(g, "2a00:1450:4001::1", &r), 0);
	assert_false(r.db_found);
	assert_int_equal(r.db_prefix, 0);
	/* an IPv4-mapped address still finds the IPv4 record */
	assert_int_equal(lookup(g, "::ffff:27.1.2.3", &r), 0);
	assert_true(r.db_found);
	assert_string_equal(r.country, "JP");
	assert_int_equal(r.db_prefix, 96 + 14);
	geo_close(g);

	/* the default GeoIP2 paths find nothing in a flat record */
	memset(&gc, 0, sizeof(gc));
	gc.database = db;
	g = open_ok(&gc);
	assert_int_equal(lookup(g, "27.1.2.3", &r), 0);
	assert_true(r.db_found);
	assert_string_equal(r.country, "");
	assert_false(r.has_coords);
	geo_close(g);

	/* "" switches a field off */
	memset(&gc, 0, sizeof(gc));
	gc.database = db;
	gc.path_country = "country_code";
	gc.path_continent = "";
	gc.path_subdivision = "";
	gc.path_latitude = "";
	gc.path_longitude = "";
	g = open_ok(&gc);
	assert_int_equal(lookup(g, "27.1.2.3", &r), 0);
	assert_string_equal(r.country, "JP");
	assert_string_equal(r.continent, "");
	assert_string_equal(r.subdivision, "");
	assert_true(r.has_coords);
	assert_true(r.coords_from_centroid);
	geo_close(g);
}

/* ---- country-only schema ------------------------------------------------ */

static void test_country_only(void **state)
{
	struct geo_db *g = open_db("country6.mmdb", NULL);
	struct geo_result r;
	double lat, lon;
	(void)state;
	assert_int_equal(lookup(g, "83.1.2.3", &r), 0);
	assert_true(r.db_found);
	assert_string_equal(r.country, "PL");
	assert_string_equal(r.continent, "EU");
	assert_string_equal(r.subdivision, "");
	assert_true(r.has_coords);
	assert_true(r.coords_from_centroid);
	assert_int_equal(geo_country_centroid("PL", &lat, &lon), 0);
	assert_near(r.lat, lat, 1e-9);
	assert_near(r.lon, lon, 1e-9);
	/* same data in 83.0.0.0/11 and 83.16.0.0/16: the writer merged them */
	assert_int_equal(r.db_prefix, 11);
	assert_int_equal(lookup(g, "2001:db8:1::1", &r), 0);
	assert_string_equal(r.country, "JP");
	assert_true(r.coords_from_centroid);
	assert_near(r.lat, 36.2, 1);
	geo_close(g);

	/* a record of a city database without a location gets the centroid too */
	g = open_db("city6.mmdb", NULL);
	assert_int_equal(lookup(g, "5.0.1.2", &r), 0);
	assert_string_equal(r.country, "DE");
	assert_true(r.has_coords);
	assert_true(r.coords_from_centroid);
	assert_near(r.lat, 51.2, 1);
	assert_near(r.lon, 10.5, 1);
	geo_close(g);
}

/* ---- overrides ---------------------------------------------------------- */

static void test_overrides_match(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", "test.nets");
	struct geo_result r;
	char cidr[64];
	(void)state;

	/* longest prefix: 10.1.0.0/16 beats 10.0.0.0/8 */
	assert_int_equal(lookup(g, "10.1.2.3", &r), 0);
	assert_non_null(r.override);
	geo_override_cidr(r.override, cidr, sizeof(cidr));
	assert_string_equal(cidr, "10.1.0.0/16");
	assert_int_equal(r.override->nregions, 1);
	assert_string_equal(r.override->regions[0], "ap-southeast");
	assert_int_equal(r.override->line, 3);
	assert_false(r.db_found);
	assert_int_equal(r.scope_prefix, 16);

	/* the shorter one for the rest of 10/8; the scope must keep 10.1/16
	 * out: 10.2.0.0 and 10.1.0.0 share 14 bits, so /15 */
	assert_int_equal(lookup(g, "10.2.3.4", &r), 0);
	assert_non_null(r.override);
	geo_override_cidr(r.override, cidr, sizeof(cidr));
	assert_string_equal(cidr, "10.0.0.0/8");
	assert_int_equal(r.override->nregions, 2);
	assert_string_equal(r.override->regions[0], "eu-east");
	assert_string_equal(r.override->regions[1], "us-east");
	assert_int_equal(r.scope_prefix, 15);
	/* 10.128.0.0/9 is the widest block without 10.1.0.0/16 in it */
	assert_int_equal(lookup(g, "10.128.0.1", &r), 0);
	assert_int_equal(r.scope_prefix, 9);

	/* an override beats the database, whose data is still reported */
	assert_int_equal(lookup(g, "83.0.1.1", &r), 0);
	assert_non_null(r.override);
	assert_string_equal(r.override->regions[0], "us-east");
	assert_true(r.db_found);
	assert_string_equal(r.country, "PL");
	assert_int_equal(r.db_prefix, 12);
	assert_int_equal(r.scope_prefix, 16);
	/* next to the override, in the same database network 83.0.0.0/12:
	 * the scope is narrowed so that a cached answer does not cover
	 * 83.0.0.0/16 */
	assert_int_equal(lookup(g, "83.1.1.1", &r), 0);
	assert_null(r.override);
	assert_int_equal(r.db_prefix, 12);
	assert_int_equal(r.scope_prefix, 16);
	/* farther away the database network is the narrower one */
	assert_int_equal(lookup(g, "83.20.1.1", &r), 0);
	assert_null(r.override);
	assert_int_equal(r.db_prefix, 14);
	assert_int_equal(r.scope_prefix, 14);

	/* a location override */
	assert_int_equal(lookup(g, "192.0.2.77", &r), 0);
	assert_non_null(r.override);
	assert_true(r.override->has_coords);
	assert_int_equal(r.override->nregions, 0);
	assert_near(r.override->lat, 52.23, 1e-9);
	assert_near(r.override->lon, 21.01, 1e-9);
	assert_string_equal(r.country, "US"); /* database data unchanged */

	/* IPv6, with a longer override inside a shorter one */
	assert_int_equal(lookup(g, "2001:db8:1:2::5", &r), 0);
	assert_non_null(r.override);
	geo_override_cidr(r.override, cidr, sizeof(cidr));
	assert_string_equal(cidr, "2001:db8:1:2::/64");
	assert_int_equal(r.override->nregions, 2);
	assert_string_equal(r.override->regions[1], "us-east");
	assert_string_equal(r.country, "JP");
	assert_int_equal(r.scope_prefix, 64);
	assert_int_equal(lookup(g, "2001:db8:5::1", &r), 0);
	geo_override_cidr(r.override, cidr, sizeof(cidr));
	assert_string_equal(cidr, "2001:db8::/32");
	/* 2001:db8:5:: and 2001:db8:1:2:: share 45 bits */
	assert_int_equal(r.scope_prefix, 46);

	/* IPv4 overrides match the IPv6 forms of IPv4 addresses */
	assert_int_equal(lookup(g, "::ffff:10.1.2.3", &r), 0);
	assert_true(r.mapped_v4);
	assert_non_null(r.override);
	assert_string_equal(r.override->regions[0], "ap-southeast");
	assert_int_equal(r.scope_prefix, 96 + 16);

	/* no override near an address elsewhere */
	assert_int_equal(lookup(g, "27.1.2.3", &r), 0);
	assert_null(r.override);
	assert_int_equal(r.scope_prefix, 14);
	geo_close(g);
}

static void test_overrides_access(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", "test.nets");
	const struct geo_override *o;
	char cidr[64];
	static const char *const want[] = { "10.0.0.0/8",   "10.1.0.0/16",   "83.0.0.0/16",
					    "192.0.2.0/24", "2001:db8::/32", "2001:db8:1:2::/64" };
	static const int lines[] = { 2, 3, 5, 6, 7, 8 };
	(void)state;
	assert_int_equal(geo_override_count(g), 6);
	for (size_t i = 0; i < 6; i++) {
		o = geo_override_at(g, i);
		assert_non_null(o);
		geo_override_cidr(o, cidr, sizeof(cidr));
		assert_string_equal(cidr, want[i]);
		assert_int_equal(o->line, lines[i]);
		assert_int_equal(o->family_is_v6, i >= 4);
	}
	assert_null(geo_override_at(g, 6));
	assert_non_null(strstr(geo_overrides_path(g), "test.nets"));
	geo_close(g);
}

static void test_overrides_only(void **state)
{
	/* no database: the overrides still work, with no database data */
	struct geo_db *g = open_db(NULL, "test.nets");
	struct geo_result r;
	(void)state;
	assert_string_equal(geo_db_type(g), "");
	assert_int_equal(geo_db_ip_version(g), 0);
	assert_int_equal(lookup(g, "10.1.2.3", &r), 0);
	assert_non_null(r.override);
	assert_false(r.db_found);
	assert_int_equal(r.scope_prefix, 16);
	/* nothing is known about 27.1.2.3, but 0.0.0.0/0 would include the
	 * overrides: 16.0.0.0/4 is the widest block free of them */
	assert_int_equal(lookup(g, "27.1.2.3", &r), 0);
	assert_null(r.override);
	assert_int_equal(r.scope_prefix, 4);
	assert_int_equal(lookup(g, "2001:db9::1", &r), 0);
	assert_null(r.override);
	assert_int_equal(r.scope_prefix, 32);
	geo_close(g);
}

struct bad_nets {
	const char *text;
	int line;
	const char *needle;
};

static const struct bad_nets bad_nets_cases[] = {
	{ "10.0.0.0/8 eu\n10.0.0/8 eu\n", 2, "bad CIDR" },
	{ "# c\n\n10.1.0.0/8 eu\n", 3, "host bits set" },
	{ "10.1.0.0/8 eu\n", 1, "10.0.0.0/8" },
	{ "10.0.0.0/33 eu\n", 1, "over 32" },
	{ "2001:db8::/129 eu\n", 1, "over 128" },
	{ "2001:db8::1/32 eu\n", 1, "host bits set" },
	{ "10.0.0.0/ eu\n", 1, "prefix length" },
	{ "10.0.0.0/8x eu\n", 1, "prefix length" },
	{ "10.0.0.0/-8 eu\n", 1, "prefix length" },
	{ "banana eu\n", 1, "bad CIDR" },
	{ "10.0.0.0/8\n", 1, "missing region list or location" },
	{ "10.0.0.0/8 91 0\n", 1, "latitude" },
	{ "10.0.0.0/8 -90.5 0\n", 1, "latitude" },
	{ "10.0.0.0/8 45 180.01\n", 1, "longitude" },
	{ "10.0.0.0/8 45\n", 1, "LATITUDE LONGITUDE" },
	{ "10.0.0.0/8 45 10 3\n", 1, "LATITUDE LONGITUDE" },
	{ "10.0.0.0/8 45 east\n", 1, "bad longitude" },
	{ "10.0.0.0/8 45 nan\n", 1, "bad longitude" },
	{ "10.0.0.0/8 eu,,us\n", 1, "empty region name" },
	{ "10.0.0.0/8 eu,\n", 1, "empty region name" },
	{ "10.0.0.0/8 ,eu\n", 1, "empty region name" },
	{ "10.0.0.0/8 eu us\n", 1, "separated by ','" },
	{ "10.0.0.0/8 eu;us\n", 1, "invalid character" },
	{ "10.0.0.0/8 eu,eu\n", 1, "listed twice" },
	{ "10.0.0.0/8 eu\n11.0.0.0/8 us\n10.0.0.0/8 ap\n", 3,
	  "duplicate CIDR 10.0.0.0/8 (first at line 1)" },
	{ "2001:db8::/32 eu\n2001:0db8:0::/32 us\n", 2, "duplicate CIDR 2001:db8::/32" },
	/* the first repeated line in file order is reported */
	{ "1.0.0.0/8 a\n2.0.0.0/8 a\n2.0.0.0/8 b\n1.0.0.0/8 b\n", 3, "duplicate CIDR 2.0.0.0/8" },
	{ "10.0.0.0/8 eu\n\x01\x02\0\n", 2, "NUL byte" },
};

static void test_overrides_errors(void **state)
{
	char path[1024], err[512], want[64];
	struct geo_conf gc;
	(void)state;
	path_of(path, sizeof(path), "bad.nets");
	for (size_t i = 0; i < sizeof(bad_nets_cases) / sizeof(bad_nets_cases[0]); i++) {
		const struct bad_nets *c = &bad_nets_cases[i];
		struct geo_db *g = (struct geo_db *)1;
		size_t len = strlen(c->text);
		if (strstr(c->needle, "NUL"))
			len += 2; /* the NUL and the newline after it */
		write_file(path, c->text, len);
		memset(&gc, 0, sizeof(gc));
		gc.overrides = path;
		err[0] = '\0';
		int rc = geo_open(&gc, &g, err, sizeof(err));
		if (rc >= 0)
			fail_msg("case %zu: accepted", i);
		assert_null(g);
		snprintf(want, sizeof(want), "bad.nets:%d: ", c->line);
		if (!strstr(err, want) || !strstr(err, c->needle))
			fail_msg("case %zu: error \"%s\", want line %d and \"%s\"", i, err, c->line,
				 c->needle);
	}

	/* a line too long for the fixed buffer */
	{
		size_t n = 5000;
		char *big = malloc(n);
		assert_non_null(big);
		memcpy(big, "10.0.0.0/8 ", 11);
		memset(big + 11, 'a', n - 12);
		big[n - 1] = '\n';
		write_file(path, big, n);
		free(big);
		memset(&gc, 0, sizeof(gc));
		gc.overrides = path;
		struct geo_db *g = NULL;
		assert_true(geo_open(&gc, &g, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "bad.nets:1: line longer than"));
	}

	/* a missing file */
	memset(&gc, 0, sizeof(gc));
	path_of(path, sizeof(path), "no-such.nets");
	gc.overrides = path;
	{
		struct geo_db *g = NULL;
		assert_int_equal(geo_open(&gc, &g, err, sizeof(err)), GSLB_EIO);
		assert_non_null(strstr(err, "no-such.nets: No such file"));
	}

	/* accepted edge cases: CRLF, bare addresses, comments, spacing */
	path_of(path, sizeof(path), "ok.nets");
	{
		static const char ok[] = "  192.0.2.1 eu # host route\r\n"
					 "\t2001:db8::1\tus\r\n"
					 "0.0.0.0/0 -90 -180\n"
					 "::/0 90 180\n"
					 "203.0.113.0/24 a_1,b.2 ,  c-3\n"
					 "# end without a newline\n"
					 "198.51.100.0/24 x";
		struct geo_db *g;
		struct geo_result r;
		write_file(path, ok, sizeof(ok) - 1);
		memset(&gc, 0, sizeof(gc));
		gc.overrides = path;
		g = open_ok(&gc);
		assert_int_equal(geo_override_count(g), 6);
		assert_int_equal(geo_override_at(g, 0)->prefix, 32);
		assert_int_equal(geo_override_at(g, 1)->prefix, 128);
		assert_int_equal(geo_override_at(g, 4)->nregions, 3);
		assert_string_equal(geo_override_at(g, 4)->regions[2], "c-3");
		assert_int_equal(geo_override_at(g, 5)->line, 7);
		assert_int_equal(lookup(g, "192.0.2.1", &r), 0);
		assert_int_equal(r.override->line, 1);
		assert_int_equal(r.scope_prefix, 32);
		/* 0/0 catches the rest, narrowed away from the longer ones */
		assert_int_equal(lookup(g, "8.8.8.8", &r), 0);
		assert_int_equal(r.override->line, 3);
		assert_int_equal(r.scope_prefix, 1);
		assert_int_equal(lookup(g, "2001:db8::2", &r), 0);
		assert_int_equal(r.override->line, 4);
		assert_int_equal(r.scope_prefix, 127);
		geo_close(g);
	}
}

static void test_bad_paths(void **state)
{
	const char *bad[] = { "country//iso_code", "/country", "country/", "/" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct geo_conf gc;
		struct geo_db *g = NULL;
		char err[256] = "";
		memset(&gc, 0, sizeof(gc));
		gc.path_subdivision = (char *)bad[i];
		assert_int_equal(geo_open(&gc, &g, err, sizeof(err)), GSLB_EINVAL);
		assert_null(g);
		assert_non_null(strstr(err, "path_subdivision"));
	}
}

/* ---- damaged databases -------------------------------------------------- */

static int read_all(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc((size_t)n);
	if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static void expect_db_error(const char *path, const char *needle)
{
	struct geo_conf gc;
	struct geo_db *g = (struct geo_db *)1;
	char err[512] = "";
	memset(&gc, 0, sizeof(gc));
	gc.database = (char *)path;
	int rc = geo_open(&gc, &g, err, sizeof(err));
	if (rc >= 0)
		fail_msg("%s: accepted", path);
	assert_null(g);
	if (!strstr(err, path) || (needle && !strstr(err, needle)))
		fail_msg("%s: error \"%s\", want \"%s\"", path, err, needle ? needle : "");
}

static void test_bad_db(void **state)
{
	char path[1024], good[1024];
	uint8_t *data = NULL, junk[4096];
	size_t len = 0;
	uint32_t x = 12345;
	(void)state;

	path_of(path, sizeof(path), "missing.mmdb");
	expect_db_error(path, "No such file");

	path_of(path, sizeof(path), "empty.mmdb");
	write_file(path, "", 0);
	expect_db_error(path, NULL);

	path_of(path, sizeof(path), "garbage.mmdb");
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	write_file(path, junk, sizeof(junk));
	expect_db_error(path, NULL);

	path_of(path, sizeof(path), "text.mmdb");
	write_file(path, "this is not a database\n", 23);
	expect_db_error(path, NULL);

	expect_db_error(test_dir, NULL); /* a directory */

	/* a real database cut in half: the metadata at the end is gone */
	path_of(good, sizeof(good), "city6.mmdb");
	assert_int_equal(read_all(good, &data, &len), 0);
	path_of(path, sizeof(path), "half.mmdb");
	write_file(path, data, len / 2);
	expect_db_error(path, NULL);

	/* metadata intact, search tree overwritten: caught by the probes */
	memset(data, 0xff, len / 3);
	path_of(path, sizeof(path), "tree.mmdb");
	write_file(path, data, len);
	expect_db_error(path, "damaged database");
	free(data);
}

/* ---- hot path properties ------------------------------------------------ */

static void test_no_alloc(void **state)
{
	(void)state;
#ifdef GEO_TEST_COUNT_ALLOCS
	struct geo_db *g;
	/* the counter works: opening allocates. Under valgrind, whose
	 * allocator replaces ours too, it does not move: skip then. */
	alloc_count = 0;
	alloc_armed = 1;
	g = open_db("city6.mmdb", "test.nets");
	alloc_armed = 0;
	if (alloc_count == 0) {
		geo_close(g);
		skip();
	}
	const char *addrs[] = { "83.1.2.3", "10.1.2.3",   "2001:db8:1:2::5", "::ffff:8.8.8.8",
				"5.0.1.2",  "10.255.0.1", "2a00:1450::1" };
	uint8_t bin[7][16];
	int fam[7];
	struct geo_result r;
	long n;
	for (int i = 0; i < 7; i++) {
		fam[i] = strchr(addrs[i], ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(fam[i], addrs[i], bin[i]), 1);
	}
	alloc_count = 0;
	alloc_armed = 1;
	for (int k = 0; k < 100; k++)
		for (int i = 0; i < 7; i++)
			geo_lookup(g, fam[i], bin[i], &r);
	alloc_armed = 0;
	n = alloc_count;
	geo_close(g);
	assert_int_equal(n, 0);
#else
	skip();
#endif
}

struct thread_arg {
	const struct geo_db *g;
	int bad;
};

static void *lookup_thread(void *p)
{
	struct thread_arg *t = p;
	for (int k = 0; k < 2000; k++) {
		for (size_t i = 0; i < sizeof(city_cases) / sizeof(city_cases[0]); i++) {
			const struct expect *e = &city_cases[i];
			struct geo_result r;
			uint8_t a[16];
			int family = strchr(e->addr, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(family, e->addr, a) != 1 || geo_lookup(t->g, family, a, &r) ||
			    strcmp(r.country, e->country) || r.db_prefix != e->prefix)
				t->bad++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", "test.nets");
	pthread_t th[4];
	struct thread_arg args[4];
	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i].g = g;
		args[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, lookup_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	geo_close(g);
}

/* ---- geo_walk ------------------------------------------------------------ */

struct walked {
	int family;
	uint8_t addr[16];
	unsigned prefix;
	struct geo_result res;
};

struct walk_log {
	struct walked v[64];
	size_t n;
	int stop_after; /* return 7 after this many networks, 0 = never */
};

static int walk_collect(void *arg, int family, const uint8_t *addr, unsigned prefix,
			const struct geo_result *res)
{
	struct walk_log *w = arg;
	assert_true(w->n < sizeof(w->v) / sizeof(w->v[0]));
	w->v[w->n].family = family;
	memset(w->v[w->n].addr, 0, 16);
	memcpy(w->v[w->n].addr, addr, family == AF_INET ? 4 : 16);
	w->v[w->n].prefix = prefix;
	w->v[w->n].res = *res;
	w->n++;
	return w->stop_after && (int)w->n == w->stop_after ? 7 : 0;
}

static void walked_text(const struct walked *x, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	assert_non_null(inet_ntop(x->family, x->addr, a, sizeof(a)));
	snprintf(buf, len, "%s/%u", a, x->prefix);
}

/* Networks of test-city.json as a tree holds them: 83.16.0.0/16 inside
 * 83.0.0.0/11 splits the rest of the /11 into five networks. */
static const struct {
	const char *net, *country;
} city_nets[] = {
	{ "1.0.0.0/24", "AU" },      { "4.0.0.0/9", "US" },      { "5.0.0.0/16", "DE" },
	{ "8.8.8.0/24", "US" },      { "27.0.0.0/14", "JP" },    { "41.0.0.0/11", "ZA" },
	{ "83.0.0.0/12", "PL" },     { "83.16.0.0/16", "PL" },   { "83.17.0.0/16", "PL" },
	{ "83.18.0.0/15", "PL" },    { "83.20.0.0/14", "PL" },   { "83.24.0.0/13", "PL" },
	{ "177.0.0.0/9", "BR" },     { "192.0.2.0/24", "US" },   { "198.51.100.0/24", "PL" },
	{ "2001:db8:1::/48", "JP" }, { "2001:4860::/32", "US" }, { "2400:cb00::/32", "SG" },
	{ "2a00:1450::/32", "IE" },
};
#define CITY_NETS4 15

/* Each network once, in address order, with what geo_lookup says of its
 * first and last address. */
static void check_walk_city(const char *db, size_t want)
{
	struct geo_db *g = open_db(db, NULL);
	struct walk_log w = { .n = 0 };
	char text[80];

	assert_int_equal(geo_walk(g, walk_collect, &w), 0);
	assert_int_equal(w.n, want);
	for (size_t i = 0; i < w.n; i++) {
		const struct walked *x = &w.v[i];
		unsigned alen = x->family == AF_INET ? 4 : 16;
		uint8_t last[16];
		struct geo_result r;

		walked_text(x, text, sizeof(text));
		assert_string_equal(text, city_nets[i].net);
		assert_int_equal(x->family, strchr(city_nets[i].net, ':') ? AF_INET6 : AF_INET);
		assert_int_equal(x->res.db_found, 1);
		assert_int_equal(x->res.db_prefix, x->prefix);
		assert_int_equal(x->res.scope_prefix, x->prefix);
		assert_null(x->res.override);
		/* the country is decoded for every network: a cached record
		 * must not leak into its neighbour */
		if (strcmp(db, "flat4.mmdb") != 0)
			assert_string_equal(x->res.country, city_nets[i].country);
		assert_int_equal(geo_lookup(g, x->family, x->addr, &r), 0);
		assert_int_equal(r.db_found, 1);
		assert_int_equal(r.db_prefix, x->prefix);
		assert_string_equal(r.country, x->res.country);
		assert_string_equal(r.subdivision, x->res.subdivision);
		assert_true(r.lat == x->res.lat && r.lon == x->res.lon);
		memcpy(last, x->addr, 16);
		for (unsigned b = x->prefix; b < alen * 8; b++)
			last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		assert_int_equal(geo_lookup(g, x->family, last, &r), 0);
		assert_int_equal(r.db_prefix, x->prefix);
	}
	geo_close(g);
}

static void test_walk_city(void **state)
{
	(void)state;
	/* IPv6 tree: IPv4 once from ::/96, none of its aliases (::ffff:0:0/96,
	 * 2002::/16, Teredo 2001::/32) again */
	check_walk_city("city6.mmdb", sizeof(city_nets) / sizeof(city_nets[0]));
	/* IPv4 tree: the IPv6 networks of the source are not in it */
	check_walk_city("flat4.mmdb", CITY_NETS4);
}

static void test_walk_country_only(void **state)
{
	struct geo_db *g = open_db("country6.mmdb", NULL);
	struct walk_log w = { .n = 0 };
	(void)state;
	assert_int_equal(geo_walk(g, walk_collect, &w), 0);
	/* Warsaw and Krakow have the same country record: the writer keeps
	 * 83.0.0.0/11 whole, five networks fewer than the city tree */
	assert_int_equal(w.n, sizeof(city_nets) / sizeof(city_nets[0]) - 5);
	/* no coordinates in the records: the centroid, as geo_lookup does */
	assert_string_equal(w.v[0].res.country, "AU");
	assert_int_equal(w.v[0].res.has_coords, 1);
	assert_int_equal(w.v[0].res.coords_from_centroid, 1);
	geo_close(g);
}

static void test_walk_unaliased(void **state)
{
	static const struct {
		int family;
		const char *net, *country;
	} want[] = {
		{ AF_INET, "1.2.3.0/24", "FI" },
		{ AF_INET6, "2001:0:1::/48", "IS" },
		{ AF_INET6, "2a02::/32", "EE" },
	};
	struct geo_db *g = open_db("walk6.mmdb", NULL);
	struct walk_log w = { .n = 0 };
	char text[80], expect[80];
	(void)state;
	/* what the tree holds in ::ffff:1.2.3.0/120, 2002:102:300::/40 and
	 * 64:ff9b::102:300/120 is never looked up, and not walked */
	assert_int_equal(geo_walk(g, walk_collect, &w), 0);
	assert_int_equal(w.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < w.n; i++) {
		uint8_t a[16];
		walked_text(&w.v[i], text, sizeof(text));
		/* inet_ntop spells 2001:0:1:: its own way: compare addresses */
		snprintf(expect, sizeof(expect), "%s", want[i].net);
		*strchr(expect, '/') = '\0';
		assert_int_equal(inet_pton(want[i].family, expect, a), 1);
		assert_int_equal(w.v[i].family, want[i].family);
		assert_memory_equal(w.v[i].addr, a, want[i].family == AF_INET ? 4 : 16);
		assert_int_equal(w.v[i].prefix, (unsigned)atol(strchr(want[i].net, '/') + 1));
		assert_string_equal(w.v[i].res.country, want[i].country);
	}
	geo_close(g);
}

static void test_walk_stop_and_args(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	struct geo_db *ov = open_db(NULL, "test.nets");
	struct walk_log w = { .stop_after = 3 };
	(void)state;
	/* the callback's value ends the walk and comes back */
	assert_int_equal(geo_walk(g, walk_collect, &w), 7);
	assert_int_equal(w.n, 3);
	assert_int_equal(geo_walk(NULL, walk_collect, &w), GSLB_EINVAL);
	assert_int_equal(geo_walk(g, NULL, &w), GSLB_EINVAL);
	/* overrides only: no database, nothing to visit */
	w.n = 0;
	w.stop_after = 0;
	assert_int_equal(geo_walk(ov, walk_collect, &w), 0);
	assert_int_equal(w.n, 0);
	geo_close(ov);
	geo_close(g);
}

static void test_bad_args(void **state)
{
	struct geo_db *g = open_db("city6.mmdb", NULL);
	struct geo_result r;
	uint8_t a[16] = { 0 };
	char err[64];
	(void)state;
	assert_int_equal(geo_lookup(g, AF_UNIX, a, &r), GSLB_EINVAL);
	assert_int_equal(geo_lookup(NULL, AF_INET, a, &r), GSLB_EINVAL);
	assert_int_equal(geo_lookup(g, AF_INET, NULL, &r), GSLB_EINVAL);
	assert_int_equal(geo_open(NULL, NULL, err, sizeof(err)), GSLB_EINVAL);
	geo_close(NULL);
	geo_close(g);
}

/* ---- databases when run alone ------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),           cmocka_unit_test(test_centroid),
		cmocka_unit_test(test_city_lookups),       cmocka_unit_test(test_city_not_found),
		cmocka_unit_test(test_city_mapped),        cmocka_unit_test(test_city_metadata),
		cmocka_unit_test(test_flat_schema),        cmocka_unit_test(test_country_only),
		cmocka_unit_test(test_overrides_match),    cmocka_unit_test(test_overrides_access),
		cmocka_unit_test(test_overrides_only),     cmocka_unit_test(test_overrides_errors),
		cmocka_unit_test(test_bad_paths),          cmocka_unit_test(test_bad_db),
		cmocka_unit_test(test_no_alloc),           cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bad_args),           cmocka_unit_test(test_walk_city),
		cmocka_unit_test(test_walk_country_only),  cmocka_unit_test(test_walk_unaliased),
		cmocka_unit_test(test_walk_stop_and_args),
	};
	int rc;

	test_dir = geo_test_dir("test_geo", &rc);
	if (!test_dir)
		return rc;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	remove_own_dbs();
	return rc;
}
