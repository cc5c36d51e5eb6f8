/* geoip.compact: the class table must give exactly the answers the database
 * gives. For each test database (a city database in an IPv6 tree with
 * aliases and the overrides of tests/data/geoip/test.nets, the same data as
 * a flat IPv4 database with its own field paths, a country-only database,
 * an IPv6 tree without aliases, the demo database, and GSLB_COMPACT_DB when
 * set: GeoLite2-City, say; the city database again with region biases),
 * two snapshots are loaded from one config, with
 * compact off and on. Then for addresses at both ends and the middle of
 * every database network, at both ends of every merged network, in the
 * IPv6 forms of IPv4 addresses, in the aliased ranges (Teredo, ::, ::1) and
 * at random, and for every service (pure distance with two regions at the
 * same place, route rules of every kind with a limit and a default, a
 * CNAME service with one region, a split rule with sticky members, asn:
 * rules, pools shedding load or full),
 * decide() on the compact snapshot must
 * give the same rule, route, region order, states, region, pool and TTL as
 * the database lookup, and an ECS scope no longer than the database's; and
 * the whole merged network must get that same answer from the database.
 *
 * The databases are built by tests/unit/test_geo.sh --make-dbs (needs
 * MaxMind::DB::Writer; exit 77 without it). */
#include <arpa/inet.h>
#include <errno.h>
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
#include <maxminddb.h>

#include "gslb/decide.h"
#include "gslb/err.h"
#include "gslb/geo.h"
#include "gslb/log.h"
#include "gslb/snapshot.h"
#include "geo_test_dbs.h"

#ifndef TEST_DATADIR
#error TEST_DATADIR must be defined
#endif

static const char *db_dir;

/* ---- configs ----------------------------------------------------------- */

static const char *const plain_regions_conf =
	"regions = (\n"
	"  { name = \"us-east\"; lat = 39.04; lon = -77.49; },\n"
	"  { name = \"us-west\"; lat = 45.6; lon = -121.2; },\n"
	"  { name = \"eu-east\"; lat = 52.23; lon = 21.01; },\n"
	"  { name = \"eu-west\"; lat = 53.35; lon = -6.26; },\n"
	"  { name = \"ap-southeast\"; lat = 1.35; lon = 103.82; },\n"
	"  { name = \"eu-twin\"; lat = 52.23; lon = 21.01; }\n"
	");\n";

/* The same regions with proximity biases (regions[].bias): the classes
 * follow the biased order. */
static const char *const biased_regions_conf =
	"regions = (\n"
	"  { name = \"us-east\"; lat = 39.04; lon = -77.49; bias = -30; },\n"
	"  { name = \"us-west\"; lat = 45.6; lon = -121.2; },\n"
	"  { name = \"eu-east\"; lat = 52.23; lon = 21.01; bias = 25; },\n"
	"  { name = \"eu-west\"; lat = 53.35; lon = -6.26; bias = 60; },\n"
	"  { name = \"ap-southeast\"; lat = 1.35; lon = 103.82; bias = 10; },\n"
	"  { name = \"eu-twin\"; lat = 52.23; lon = 21.01; bias = 25; }\n"
	");\n";

static const char *regions_conf = plain_regions_conf;

/* a: distance over all six regions (two at one place: ties);
 * b: route rules of each kind, a limit, a default, pools listed out of
 *    region order; c: one region (scope 0) as a CNAME; s: a split route
 *    rule and sticky members (the client-subnet hash); n: asn: rules (the
 *    ASN database's networks cut across the city database's), then
 *    distance. */
static const char *const services_conf =
	"services = (\n"
	"  { name = \"a.example.test\"; ttl = 30;\n"
	"    pools = (\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.1\" ]; },\n"
	"      { region = \"us-west\"; members = [ \"192.0.2.2\" ]; },\n"
	"      { region = \"eu-twin\"; members = [ \"192.0.2.6\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.3\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.4\" ]; },\n"
	"      { region = \"ap-southeast\"; members = [ \"192.0.2.5\" ]; }\n"
	"    ); },\n"
	"  { name = \"b.example.test\"; ttl = 60; limit = 2;\n"
	"    route = (\n"
	"      { match = \"country:JP\"; regions = [ \"ap-southeast\", \"us-west\" ]; },\n"
	"      { match = \"continent:SA\"; regions = [ \"us-east\" ]; },\n"
	"      { match = \"subdivision:PL-12\"; regions = [ \"eu-west\", \"eu-east\" ]; },\n"
	"      { match = \"net:4.0.0.0/12\"; regions = [ \"us-west\" ]; }\n"
	"    );\n"
	"    default = [ \"eu-west\", \"us-east\" ];\n"
	"    pools = (\n"
	"      { region = \"eu-west\"; members = [ \"198.51.100.4\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"198.51.100.1\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"198.51.100.3\" ]; },\n"
	"      { region = \"ap-southeast\"; members = [ \"198.51.100.5\" ]; }\n"
	"    ); },\n"
	"  { name = \"c.example.test\";\n"
	"    pools = ( { region = \"us-west\"; cname = \"west.example.net.\"; } ); },\n"
	"  { name = \"s.example.test\"; members_pick = \"sticky\";\n"
	"    route = ( { match = \"continent:EU\";\n"
	"      split = ( { region = \"eu-west\"; weight = 70; }, { region = \"us-east\"; weight = 30; } ); } );\n"
	"    pools = (\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.81\", \"192.0.2.82\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.84\", \"192.0.2.85\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.83\" ]; }\n"
	"    ); },\n"
	"  { name = \"n.example.test\";\n"
	"    route = ( { match = \"asn:64510\"; regions = [ \"us-west\", \"eu-east\" ]; },\n"
	"      { match = \"asn:64512\"; regions = [ \"ap-southeast\" ]; },\n"
	"      { match = \"continent:EU\"; regions = [ \"eu-west\" ]; } );\n"
	"    pools = (\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.91\" ]; },\n"
	"      { region = \"us-west\"; members = [ \"192.0.2.92\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.93\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.94\" ]; },\n"
	"      { region = \"ap-southeast\"; members = [ \"192.0.2.95\" ]; }\n"
	"    ); }\n"
	");\n";

struct dbcase {
	const char *label;
	const char *file; /* in db_dir, or a full path when it has a '/' */
	const char *paths; /* geoip.paths group, or NULL */
	int overrides;     /* with tests/data/geoip/test.nets */
};

static void write_conf(const char *path, const struct dbcase *dc, const char *db, int compact)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "listen = { dns = [ \"127.0.0.1:0\" ]; };\n");
	fprintf(f, "zones = ( { origin = \"example.test\"; file = \"%s/zones/example.test.zone\"; } );\n",
		TEST_DATADIR);
	fprintf(f, "geoip = { database = \"%s\"; compact = %s; asn_database = \"%s/asn6.mmdb\";", db,
		compact ? "true" : "false", db_dir);
	if (dc->overrides)
		fprintf(f, " overrides = \"%s/geoip/test.nets\";", TEST_DATADIR);
	if (dc->paths)
		fprintf(f, " paths = %s;", dc->paths);
	fprintf(f, " };\n%s%s", regions_conf, services_conf);
	assert_int_equal(fclose(f), 0);
}

static struct snapshot *load(const char *path)
{
	char err[1024] = "";
	struct snapshot *s = NULL;
	int rc = snapshot_load(path, &s, err, sizeof(err));
	if (rc)
		fail_msg("snapshot_load %s: %s", path, err);
	return s;
}

/* ---- comparison -------------------------------------------------------- */

struct pair {
	struct snapshot *exact, *compact;
	long decisions, merged_checks;
};

static long index_of(const void *p, const void *base, size_t size)
{
	return p ? (long)(((const char *)p - (const char *)base) / (long)size) : -1;
}

static void describe(char *buf, size_t len, int family, const uint8_t *a, unsigned prefix)
{
	char t[INET6_ADDRSTRLEN];
	inet_ntop(family, a, t, sizeof(t));
	snprintf(buf, len, "%s/%u", t, prefix);
}

/* Same answer from both; returns the compact decision's scope. */
static void same_answer(const struct decision *x, const struct decision *y, const char *what)
{
	const struct service *sx = x->svc, *sy = y->svc;
	if (x->rule != y->rule || x->nsteps != y->nsteps || x->region != y->region ||
	    x->all_down != y->all_down || x->fail_open != y->fail_open || x->ttl != y->ttl ||
	    x->located != y->located || x->split_region != y->split_region ||
	    x->client_hash != y->client_hash ||
	    index_of(x->route, sx->routes, sizeof(*sx->routes)) !=
		    index_of(y->route, sy->routes, sizeof(*sy->routes)) ||
	    index_of(x->pool, sx->pools, sizeof(*sx->pools)) !=
		    index_of(y->pool, sy->pools, sizeof(*sy->pools)) ||
	    (x->geo.override == NULL) != (y->geo.override == NULL) ||
	    (x->geo.override && x->geo.override->line != y->geo.override->line))
		fail_msg("%s %s: database says rule %s region %d (%u steps), compact table "
			 "rule %s region %d (%u steps)",
			 sx->name, what, decide_rule_name(x->rule), x->region, x->nsteps,
			 decide_rule_name(y->rule), y->region, y->nsteps);
	for (unsigned i = 0; i < x->nsteps; i++)
		if (x->steps[i].region != y->steps[i].region ||
		    x->steps[i].state != y->steps[i].state)
			fail_msg("%s %s: step %u: region %u (%s) against %u (%s)", sx->name, what,
				 i, x->steps[i].region, decide_state_name(x->steps[i].state),
				 y->steps[i].region, decide_state_name(y->steps[i].state));
}

static void mask(uint8_t *out, const uint8_t *a, unsigned alen, unsigned prefix, int ones)
{
	for (unsigned i = 0; i < alen; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = (uint8_t)(keep ? 0xFF << (8 - keep) : 0);
		out[i] = (uint8_t)((a[i] & m) | (ones ? ~m : 0));
	}
}

/* An IPv6 scope must not cover a range whose clients are located by the
 * IPv4 address inside (they get other answers): ::/96, ::ffff:0:0/96,
 * 64:ff9b::/96, 2002::/16. */
static void check_v6_scope(const struct decision *d, const char *mode, const char *what)
{
	static const struct {
		uint8_t net[16];
		unsigned len;
		const char *name;
	} r[] = {
		{ { 0 }, 96, "::/96" },
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96, "::ffff:0:0/96" },
		{ { 0, 0x64, 0xff, 0x9b }, 96, "64:ff9b::/96" },
		{ { 0x20, 0x02 }, 16, "2002::/16" },
	};
	if (d->family != AF_INET6 || d->unwrapped_v4 || d->geo.mapped_v4)
		return;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		uint8_t m1[16], m2[16];
		if (d->scope > r[i].len)
			continue;
		mask(m1, d->addr, 16, d->scope, 0);
		mask(m2, r[i].net, 16, d->scope, 0);
		/* the client itself inside the range (:: and ::1) is fine */
		uint8_t m3[16], m4[16];
		mask(m3, d->addr, 16, r[i].len, 0);
		mask(m4, r[i].net, 16, r[i].len, 0);
		if (memcmp(m1, m2, 16) == 0 && memcmp(m3, m4, 16) != 0)
			fail_msg("%s %s: %s scope /%u covers %s", d->svc->name, what, mode, d->scope,
				 r[i].name);
	}
}

static void check_one(struct pair *p, int family, const uint8_t *a, unsigned prefix, int deep)
{
	const struct conf *cx = p->exact->conf, *cy = p->compact->conf;
	unsigned alen = family == AF_INET ? 4 : 16;
	char what[96];

	describe(what, sizeof(what), family, a, prefix);
	for (size_t i = 0; i < cx->nservices; i++) {
		struct decision x, y;
		decide_ex(p->exact, &cx->services[i], family, a, (uint8_t)prefix, DECIDE_EXACT, &x);
		decide(p->compact, &cy->services[i], family, a, (uint8_t)prefix, &y);
		p->decisions++;
		same_answer(&x, &y, what);
		if (y.scope > x.scope)
			fail_msg("%s %s: compact scope /%u longer than the database's /%u",
				 cx->services[i].name, what, y.scope, x.scope);
		/* (a service every client gets the same answer from has scope 0) */
		if (!p->exact->location_free[i]) {
			check_v6_scope(&x, "database", what);
			check_v6_scope(&y, "compact", what);
		}
		/* The whole merged network gets this answer from the database
		 * too (plain addresses: the scope counts in their own bits). */
		if (!deep || y.unwrapped_v4 || y.geo.mapped_v4 || prefix != alen * 8)
			continue;
		for (int end = 0; end < 2; end++) {
			uint8_t b[16];
			struct decision z;
			char w2[160];
			mask(b, a, alen, y.scope, end);
			decide_ex(p->exact, &cx->services[i], family, b, (uint8_t)prefix,
				  DECIDE_EXACT, &z);
			snprintf(w2, sizeof(w2), "%s (end of the merged /%u from %s)",
				 end ? "last" : "first", y.scope, what);
			/* the answer: region, pool, TTL (how it was reached may
			 * differ: a one-region service has scope 0) */
			if (z.region != y.region || z.all_down != y.all_down ||
			    z.fail_open != y.fail_open || z.ttl != y.ttl ||
			    index_of(z.pool, cx->services[i].pools, sizeof(*z.pool)) !=
				    index_of(y.pool, cy->services[i].pools, sizeof(*y.pool)))
				fail_msg("%s %s: the database answers region %d, the compact "
					 "table region %d",
					 cx->services[i].name, w2, z.region, y.region);
			p->merged_checks++;
		}
	}
}

static void check_addr(struct pair *p, int family, const uint8_t *a)
{
	unsigned full = family == AF_INET ? 32 : 128;
	check_one(p, family, a, full, 1);
	check_one(p, family, a, family == AF_INET ? 24 : 56, 0);
	check_one(p, family, a, family == AF_INET ? 8 : 32, 0);
}

static int walk_cb_count(void *arg, int family, const uint8_t *addr, unsigned prefix,
			 const struct geo_result *res)
{
	(void)arg;
	(void)family;
	(void)addr;
	(void)prefix;
	(void)res;
	return 0;
}

static int walk_cb(void *arg, int family, const uint8_t *addr, unsigned prefix,
		   const struct geo_result *res)
{
	struct pair *p = arg;
	unsigned alen = family == AF_INET ? 4 : 16;
	uint8_t b[16];
	(void)res;
	check_addr(p, family, addr);
	mask(b, addr, alen, prefix, 1);
	check_addr(p, family, b);
	/* the middle */
	memcpy(b, addr, alen);
	if (prefix < alen * 8)
		b[prefix / 8] |= (uint8_t)(0x80 >> (prefix % 8));
	check_addr(p, family, b);
	if (family == AF_INET) {
		/* the IPv6 forms of the same IPv4 address */
		uint8_t v6[16] = { 0 };
		v6[10] = v6[11] = 0xff;
		memcpy(v6 + 12, addr, 4);
		check_addr(p, AF_INET6, v6);
		memset(v6, 0, sizeof(v6));
		v6[0] = 0x20;
		v6[1] = 0x02;
		memcpy(v6 + 2, addr, 4);
		check_addr(p, AF_INET6, v6);
		/* Teredo: the server's IPv4 address in bits 32-63 */
		memset(v6, 0, sizeof(v6));
		v6[0] = 0x20;
		v6[1] = 0x01;
		memcpy(v6 + 4, addr, 4);
		check_addr(p, AF_INET6, v6);
	}
	return 0;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* pools[].load as the prober would publish it: a's eu-east sheds 40% of
 * its clients (by their subnet hash), s's eu-west is full. Load does not
 * depend on location, so both modes must still agree. */
static void set_load(struct snapshot *snap)
{
	const struct conf *c = snap->conf;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t k = 0; k < svc->npools; k++) {
			const char *r = c->regions[svc->pools[k].region].name;
			struct hpool *hp = &snap->health->pools[svc->pools[k].gidx];
			if (strcmp(svc->name, "a.example.test") == 0 && strcmp(r, "eu-east") == 0) {
				hp->load = 0.86;
				hp->shed = 0.4;
			} else if (strcmp(svc->name, "s.example.test") == 0 &&
				   strcmp(r, "eu-west") == 0) {
				hp->load = 0.99;
				hp->shed = 1;
				hp->full = 1;
			}
		}
	}
}

static void run_case(const struct dbcase *dc, long randoms)
{
	char dir[512], cx[600], cy[600], db[1024];
	struct pair p = { 0 };

	snprintf(dir, sizeof(dir), "%s/conf-%s", db_dir, dc->label);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	if (strchr(dc->file, '/'))
		snprintf(db, sizeof(db), "%s", dc->file);
	else
		snprintf(db, sizeof(db), "%s/%s", db_dir, dc->file);
	snprintf(cx, sizeof(cx), "%s/exact.conf", dir);
	snprintf(cy, sizeof(cy), "%s/compact.conf", dir);
	write_conf(cx, dc, db, 0);
	write_conf(cy, dc, db, 1);
	p.exact = load(cx);
	p.compact = load(cy);
	assert_null(p.exact->gclass);
	assert_non_null(p.compact->gclass);
	set_load(p.exact);
	set_load(p.compact);

	assert_int_equal(geo_walk(p.exact->geo, walk_cb, &p), 0);
	static const char *const special[] = { "::",	      "::1",	       "2001::1",
					       "2001:0:5310::", "fe80::1",      "2001:db8::1",
					       "2001:db8:1:2::5", "0.0.0.0", "255.255.255.255",
					       "10.1.2.3",      "192.0.2.77",   "ffff::",
					       "2003::1",       "2001:ffff::1", "64:ff9b:1::1",
					       "::fffe:0:1",    "::1:0:0:1",    "64:ff9a::1",
					       /* the ASN database's edges (asn6.mmdb) */
					       "83.15.255.255", "83.16.0.0", "83.16.15.255", "83.16.16.0",
					       "4.63.255.255", "4.64.0.0", "41.255.255.255",
					       "2a00:1450:7fff::1", "2a00:1450:8000::" };
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		uint8_t a[16];
		int family = strchr(special[i], ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(family, special[i], a), 1);
		check_addr(&p, family, a);
	}
	for (long i = 0; i < randoms; i++) {
		uint8_t a[16];
		uint64_t r1 = next_rand(), r2 = next_rand();
		memcpy(a, &r1, 8);
		memcpy(a + 8, &r2, 8);
		if (i % 2)
			check_addr(&p, AF_INET, a);
		else
			check_addr(&p, AF_INET6, a);
	}
	size_t nodes, leaves, bytes;
	geo_compact_stats(p.compact->gclass->table, &nodes, &leaves, &bytes);
	print_message("compact %s: %zu merged networks, %zu classes, %zu bytes; %ld decisions "
		      "compared, %ld merged-network ends checked\n",
		      dc->label, leaves, p.compact->gclass->nclasses - GEO_CLASS_FIRST, bytes,
		      p.decisions, p.merged_checks);
	assert_true(p.decisions > 0);
	snapshot_free(p.exact);
	snapshot_free(p.compact);
}

static void test_city(void **state)
{
	(void)state;
	static const struct dbcase c = { "city6", "city6.mmdb", NULL, 1 };
	run_case(&c, 20000);
}

static void test_city_biased(void **state)
{
	(void)state;
	static const struct dbcase c = { "city6 biased", "city6.mmdb", NULL, 1 };
	regions_conf = biased_regions_conf;
	run_case(&c, 20000);
	regions_conf = plain_regions_conf;
}

static void test_flat(void **state)
{
	(void)state;
	static const struct dbcase c = {
		"flat4", "flat4.mmdb",
		"{ country = \"country_code\"; continent = \"continent_code\"; "
		"subdivision = \"region_code\"; latitude = \"latitude\"; longitude = \"longitude\"; }",
		0
	};
	run_case(&c, 20000);
}

static void test_country_only(void **state)
{
	(void)state;
	static const struct dbcase c = { "country6", "country6.mmdb", NULL, 1 };
	run_case(&c, 20000);
}

static void test_unaliased(void **state)
{
	(void)state;
	static const struct dbcase c = { "walk6", "walk6.mmdb", NULL, 0 };
	run_case(&c, 20000);
}

static void test_demo(void **state)
{
	char db[1024];
	(void)state;
	snprintf(db, sizeof(db), "%s/geoip/demo-city.mmdb", test_srcdir());
	struct dbcase c = { "demo", db, NULL, 1 };
	run_case(&c, 20000);
}

/* GSLB_COMPACT_DB=/path/GeoLite2-City.mmdb: the same over a real database
 * (millions of networks: minutes). */
static void test_extra(void **state)
{
	const char *db = getenv("GSLB_COMPACT_DB");
	(void)state;
	if (!db || !*db)
		skip();
	struct dbcase c = { "extra", db, NULL, 0 };
	run_case(&c, 200000);
}

static void test_merges(void **state)
{
	/* The address space without records merges into a few wide
	 * networks: a client there gets a scope far shorter than /24, which
	 * resolvers can cache widely. The table is a binary tree per family. */
	char cy[600];
	static const struct dbcase c = { "merge", "city6.mmdb", NULL, 0 };
	char dir[512];
	(void)state;
	snprintf(dir, sizeof(dir), "%s/conf-merge", db_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	snprintf(cy, sizeof(cy), "%s/compact.conf", dir);
	char db[1024];
	snprintf(db, sizeof(db), "%s/city6.mmdb", db_dir);
	write_conf(cy, &c, db, 1);
	struct snapshot *s = load(cy);
	uint8_t a[4] = { 200, 1, 2, 3 };
	struct decision d;
	decide(s, &s->conf->services[0], AF_INET, a, 32, &d);
	assert_int_equal(d.geo.db_found, 0);
	assert_true(d.scope < 24);
	/* c.example.test: one region every client reaches (no overrides in
	 * this config): scope 0 */
	decide(s, &s->conf->services[2], AF_INET, a, 32, &d);
	assert_int_equal(d.region, 1);
	assert_int_equal(d.scope, 0);
	size_t nodes, leaves, bytes;
	geo_compact_stats(s->gclass->table, &nodes, &leaves, &bytes);
	assert_true(leaves > 0);
	assert_int_equal(nodes + 2, leaves); /* a binary tree, two roots */
	snapshot_free(s);
}

/* A search-tree record of a node, written in place (record sizes 24, 28
 * and 32 bits). */
static void set_record(uint8_t *tree, unsigned rs, uint32_t node, int right, uint32_t v)
{
	uint8_t *n = tree + (size_t)node * rs * 2 / 8;
	if (rs == 24) {
		uint8_t *r = n + (right ? 3 : 0);
		r[0] = (uint8_t)(v >> 16);
		r[1] = (uint8_t)(v >> 8);
		r[2] = (uint8_t)v;
	} else if (rs == 28) {
		uint8_t *r = n + (right ? 4 : 0);
		r[0] = (uint8_t)(v >> 16);
		r[1] = (uint8_t)(v >> 8);
		r[2] = (uint8_t)v;
		if (right)
			n[3] = (uint8_t)((n[3] & 0xF0) | ((v >> 24) & 0x0F));
		else
			n[3] = (uint8_t)((n[3] & 0x0F) | (((v >> 24) & 0x0F) << 4));
	} else {
		uint8_t *r = n + (right ? 4 : 0);
		r[0] = (uint8_t)(v >> 24);
		r[1] = (uint8_t)(v >> 16);
		r[2] = (uint8_t)(v >> 8);
		r[3] = (uint8_t)v;
	}
}

/* A tree whose first nodes both point at the next one (a chain of shared
 * subtrees: 2^96 paths to the IPv4 start) loads in exact mode, but the
 * compact build and geo_walk must refuse it quickly instead of running
 * forever (found in review). */
static void test_shared_subtrees(void **state)
{
	char src[1024], dst[1024], dir[512], cx[600], cy[600];
	MMDB_s m;
	(void)state;
	snprintf(src, sizeof(src), "%s/city6.mmdb", db_dir);
	snprintf(dst, sizeof(dst), "%s/shared.mmdb", db_dir);
	assert_int_equal(MMDB_open(src, MMDB_MODE_MMAP, &m), MMDB_SUCCESS);
	unsigned rs = m.metadata.record_size;
	uint32_t nodes = m.metadata.node_count, data = 0;
	for (uint32_t i = 0; i < nodes && !data; i++) {
		MMDB_search_node_s n;
		assert_int_equal(MMDB_read_node(&m, i, &n), MMDB_SUCCESS);
		if (n.left_record_type == MMDB_RECORD_TYPE_DATA)
			data = (uint32_t)n.left_record;
		else if (n.right_record_type == MMDB_RECORD_TYPE_DATA)
			data = (uint32_t)n.right_record;
	}
	assert_true(data != 0);
	size_t size = (size_t)m.file_size;
	uint8_t *buf = malloc(size);
	assert_non_null(buf);
	memcpy(buf, m.file_content, size);
	MMDB_close(&m);
	uint32_t k = nodes - 1 < 120 ? nodes - 1 : 120;
	assert_true(k > 97);
	for (uint32_t i = 0; i < k; i++) {
		set_record(buf, rs, i, 0, i + 1);
		set_record(buf, rs, i, 1, i + 1);
	}
	set_record(buf, rs, k, 0, data);
	set_record(buf, rs, k, 1, data);
	FILE *f = fopen(dst, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	free(buf);

	static const struct dbcase c = { "shared", "shared.mmdb", NULL, 0 };
	snprintf(dir, sizeof(dir), "%s/conf-shared", db_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	snprintf(cx, sizeof(cx), "%s/exact.conf", dir);
	snprintf(cy, sizeof(cy), "%s/compact.conf", dir);
	write_conf(cx, &c, dst, 0);
	write_conf(cy, &c, dst, 1);
	struct snapshot *sx = load(cx);
	assert_int_equal(geo_walk(sx->geo, walk_cb_count, NULL), GSLB_EIO);
	snapshot_free(sx);
	char err[1024] = "";
	struct snapshot *sy = NULL;
	assert_int_equal(snapshot_load(cy, &sy, err, sizeof(err)), GSLB_EIO);
	assert_null(sy);
	assert_non_null(strstr(err, "damaged database tree"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_city),	   cmocka_unit_test(test_city_biased),
		cmocka_unit_test(test_flat),
		cmocka_unit_test(test_country_only), cmocka_unit_test(test_unaliased),
		cmocka_unit_test(test_demo),	   cmocka_unit_test(test_merges),
		cmocka_unit_test(test_shared_subtrees), cmocka_unit_test(test_extra),
	};
	int rc;

	log_set_level(LOG_LVL_ERR);
	db_dir = geo_test_dir("test_compact", &rc);
	if (!db_dir)
		return rc;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	remove_own_dbs();
	return rc;
}
