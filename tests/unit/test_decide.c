/* Unit tests for the decision engine, decide() (include/gslb/decide.h): the
 * region order (override region lists, route rules of each kind, distance,
 * the service's default order, config order), the service limit, what
 * when_all_down does when every pool tried is down (fail-open skipping
 * pools drained or forced down by an admin, nodata, servfail, fallback and
 * the region a redirect names), the TTL, and the ECS scope decide() adds to
 * the database's (one-region services, route nets, IPv4 inside IPv6).
 *
 * The snapshot is loaded from a config written to a temporary folder, with
 * the zone of tests/data, the city database built from
 * tests/data/geoip/test-city.json (tests/unit/test_geo.sh --make-dbs; exit
 * 77 without MaxMind::DB::Writer) and the overrides of
 * tests/data/geoip/test.nets. The expected orders follow from the
 * great-circle distances between the locations of test-city.json and the
 * regions below. */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/err.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"
#include "geo_test_dbs.h"

#ifndef TEST_DATADIR
#error TEST_DATADIR must be defined
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *db_dir;
static char conf_path[600];
static struct snapshot *snap;
static struct health *initial; /* snap's first view: every pool up */

static struct snapshot *load(int overrides);

/* d: distance over five regions (fail-open);
 * r: route rules of each kind, a default order, limit 2, no pool in us-west;
 * c: neither routes nor default, pools in two regions (config order);
 * n, s, f: when_all_down nodata, servfail, fallback;
 * o: one region (every client gets the same answer);
 * t: a checked pool (TTL capped by interval x fall);
 * k: one region, sticky members (hash prefixes /24 and /48);
 * p: split route rules (90/10 for a net, 1/0 for PL: distance after);
 * l: pools reading a load figure, a net rule's order eu-east, eu-west, us-east. */
static const char *const decide_regions =
	"regions = (\n"
	"  { name = \"us-east\"; lat = 39.04; lon = -77.49; },\n"
	"  { name = \"us-west\"; lat = 45.6; lon = -121.2; },\n"
	"  { name = \"eu-east\"; lat = 52.23; lon = 21.01; },\n"
	"  { name = \"eu-west\"; lat = 53.35; lon = -6.26; },\n"
	"  { name = \"ap-southeast\"; lat = 1.35; lon = 103.82; }\n"
	");\n";

static const char *const decide_conf =
	"checks = ( { name = \"web\"; type = \"http\"; interval = 2.0; timeout = 1.0;\n"
	"             rise = 2; fall = 3; } );\n"
	"services = (\n"
	"  { name = \"d.example.test\"; ttl = 30; ttl_min = 5;\n"
	"    pools = (\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.1\" ]; },\n"
	"      { region = \"us-west\"; members = [ \"192.0.2.2\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.3\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.4\" ]; },\n"
	"      { region = \"ap-southeast\"; members = [ \"192.0.2.5\" ]; }\n"
	"    ); },\n"
	"  { name = \"r.example.test\"; ttl = 60; limit = 2;\n"
	"    route = (\n"
	"      { match = \"country:JP\"; regions = [ \"ap-southeast\", \"us-west\" ]; },\n"
	"      { match = \"continent:SA\"; regions = [ \"us-east\" ]; },\n"
	"      { match = \"subdivision:PL-12\"; regions = [ \"eu-west\", \"eu-east\" ]; },\n"
	"      { match = \"net:4.0.0.0/12\"; regions = [ \"us-west\", \"us-east\" ]; }\n"
	"    );\n"
	"    default = [ \"eu-west\", \"us-east\" ];\n"
	"    pools = (\n"
	"      { region = \"eu-west\"; members = [ \"198.51.100.4\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"198.51.100.1\" ]; },\n"
	"      { region = \"eu-east\"; members = [ \"198.51.100.3\" ]; },\n"
	"      { region = \"ap-southeast\"; members = [ \"198.51.100.5\" ]; }\n"
	"    ); },\n"
	"  { name = \"c.example.test\";\n"
	"    pools = (\n"
	"      { region = \"eu-west\"; members = [ \"203.0.113.4\" ]; },\n"
	"      { region = \"us-west\"; members = [ \"203.0.113.2\" ]; }\n"
	"    ); },\n"
	"  { name = \"n.example.test\"; when_all_down = \"nodata\"; ttl = 30; ttl_min = 7;\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.13\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.11\" ]; }\n"
	"    ); },\n"
	"  { name = \"s.example.test\"; when_all_down = \"servfail\";\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.23\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.21\" ]; }\n"
	"    ); },\n"
	"  { name = \"f.example.test\"; when_all_down = \"fallback\"; fallback = [ \"192.0.2.99\" ];\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.33\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.34\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.31\" ]; }\n"
	"    ); },\n"
	"  { name = \"o.example.test\";\n"
	"    pools = ( { region = \"us-west\"; members = [ \"192.0.2.42\" ]; } ); },\n"
	"  { name = \"p.example.test\"; default = [ \"us-east\", \"eu-west\", \"eu-east\" ];\n"
	"    route = ( { match = \"net:100.64.0.0/10\";\n"
	"      split = ( { region = \"eu-east\"; weight = 90; }, { region = \"eu-west\"; weight = 10; } ); },\n"
	"      { match = \"country:PL\";\n"
	"      split = ( { region = \"eu-west\"; weight = 1; }, { region = \"us-west\"; weight = 0; } ); } );\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.71\" ]; },\n"
	"      { region = \"eu-west\"; members = [ \"192.0.2.72\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.73\" ]; }\n"
	"    ); },\n"
	"  { name = \"k.example.test\"; members_pick = \"sticky\"; hash_prefix_v6 = 48;\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; members = [ \"192.0.2.61\", \"192.0.2.62\",\n"
	"        \"192.0.2.63\", \"192.0.2.64\" ]; }\n"
	"    ); },\n"
	"  { name = \"l.example.test\";\n"
	"    route = ( { match = \"net:100.64.0.0/10\"; regions = [ \"eu-east\", \"eu-west\", "
	"\"us-east\" ]; } );\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; check = \"web\"; members = [ \"192.0.2.81\" ];\n"
	"        load = { from = \"body-json:load\"; low = 0.8; high = 0.95; }; },\n"
	"      { region = \"eu-west\"; check = \"web\"; members = [ \"192.0.2.82\" ];\n"
	"        load = { from = \"header:X-Load\"; low = 0.5; high = 0.7; }; },\n"
	"      { region = \"us-east\"; check = \"web\"; members = [ \"192.0.2.83\" ];\n"
	"        load = { from = \"body-number\"; }; }\n"
	"    ); },\n"
	"  { name = \"t.example.test\"; ttl = 30; ttl_min = 3;\n"
	"    pools = (\n"
	"      { region = \"eu-east\"; check = \"web\";\n"
	"        members = [ \"192.0.2.51\", \"192.0.2.52\" ]; },\n"
	"      { region = \"us-east\"; members = [ \"192.0.2.53\" ]; }\n"
	"    ); }\n"
	");\n";

/* decide_regions with proximity biases (test_bias). */
static const char *const bias_regions =
	"regions = (\n"
	"  { name = \"us-east\"; lat = 39.04; lon = -77.49; bias = -50; },\n"
	"  { name = \"us-west\"; lat = 45.6; lon = -121.2; },\n"
	"  { name = \"eu-east\"; lat = 52.23; lon = 21.01; bias = 5; },\n"
	"  { name = \"eu-west\"; lat = 53.35; lon = -6.26; bias = 90; },\n"
	"  { name = \"ap-southeast\"; lat = 1.35; lon = 103.82; }\n"
	");\n";

static const char *regions_text = decide_regions;

/* ---- helpers --------------------------------------------------------------- */

static const struct service *service(const char *letter)
{
	char name[64];
	snprintf(name, sizeof(name), "%s.example.test", letter);
	for (size_t i = 0; i < snap->conf->nservices; i++)
		if (strcmp(snap->conf->services[i].name, name) == 0)
			return &snap->conf->services[i];
	fail_msg("no service %s", name);
	return NULL;
}

static int region_index(const char *name, size_t len)
{
	for (size_t i = 0; i < snap->conf->nregions; i++)
		if (strlen(snap->conf->regions[i].name) == len &&
		    strncmp(snap->conf->regions[i].name, name, len) == 0)
			return (int)i;
	fail_msg("no region %.*s", (int)len, name);
	return -1;
}

static const char *region_name(int r)
{
	return r < 0 ? "-" : snap->conf->regions[r].name;
}

/* The i-th of 10,000 client /24s in 100.64.0.0/10. */
static void nth_client(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "100.%u.%u.0/24", 64 + i / 256, i % 256);
}

/* "ADDRESS" or "ADDRESS/PREFIX" (bits beyond PREFIX cleared, as in ECS). */
static void decide_for(const char *svc, const char *client, struct decision *d)
{
	struct net_cidr c;
	char why[256];

	if (net_parse(client, NET_CLEAR_HOST, &c, why, sizeof(why)) != GSLB_OK)
		fail_msg("bad client %s: %s", client, why);
	decide(snap, service(svc), c.family, c.addr, c.prefix, d);
}

static char state_letter(uint8_t s)
{
	switch (s) {
	case REGION_TAKEN:
		return 'T';
	case REGION_SKIP_NO_POOL:
		return 'P';
	case REGION_SKIP_NO_FAMILY:
		return 'F';
	case REGION_SKIP_DOWN:
		return 'D';
	case REGION_NOT_TRIED:
		return 'N';
	case REGION_BEYOND_LIMIT:
		return 'L';
	case REGION_SKIP_FULL:
		return 'X';
	case REGION_SKIP_SHED:
		return 'S';
	case REGION_TAKEN_LOADED:
		return 'O';
	}
	return '?';
}

/* Decide, and the steps as "eu-east=T eu-west=N ..." in buf: T taken,
 * P no pool, D down, N not tried, L beyond the limit. */
static void decide_steps(const char *svc, const char *client, struct decision *d, char *buf,
			 size_t len)
{
	size_t used = 0;
	decide_for(svc, client, d);
	buf[0] = '\0';
	for (unsigned i = 0; i < d->nsteps && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s=%c", i ? " " : "",
					 region_name(d->steps[i].region),
					 state_letter(d->steps[i].state));
}

/* svc's pool in region, by name. */
static const struct pool *pool_in(const struct service *svc, const char *region)
{
	int r = region_index(region, strlen(region));
	assert_true(svc->pool_of_region[r] >= 0);
	return &svc->pools[svc->pool_of_region[r]];
}

/* ---- region order ---------------------------------------------------------- */

static const struct order_case {
	const char *svc, *client;
	enum decide_rule rule;
	const char *steps;
	const char *region;
} order_cases[] = {
	/* distance, nearest first (km: Warsaw 0, 1826, 7192, 8554, 9399) */
	{ "d", "83.1.2.3", RULE_DISTANCE,
	  "eu-east=T eu-west=N us-east=N us-west=N ap-southeast=N", "eu-east" },
	{ "d", "4.1.2.3", RULE_DISTANCE,
	  "us-east=T us-west=N eu-west=N eu-east=N ap-southeast=N", "us-east" },
	{ "d", "8.8.8.8", RULE_DISTANCE,
	  "us-west=T us-east=N eu-west=N eu-east=N ap-southeast=N", "us-west" },
	/* Johannesburg: ap-southeast 8659 km, eu-east 8748 km */
	{ "d", "41.1.2.3", RULE_DISTANCE,
	  "ap-southeast=T eu-east=N eu-west=N us-east=N us-west=N", "ap-southeast" },
	{ "d", "177.1.2.3", RULE_DISTANCE,
	  "us-east=T eu-west=N eu-east=N us-west=N ap-southeast=N", "us-east" },
	/* a country without coordinates: its centroid (Germany) */
	{ "d", "5.0.1.1", RULE_DISTANCE,
	  "eu-east=T eu-west=N us-east=N us-west=N ap-southeast=N", "eu-east" },
	{ "d", "2a00:1450::1", RULE_DISTANCE,
	  "eu-west=T eu-east=N us-east=N us-west=N ap-southeast=N", "eu-west" },
	{ "d", "2400:cb00::1", RULE_DISTANCE,
	  "ap-southeast=T eu-east=N eu-west=N us-west=N us-east=N", "ap-southeast" },
	/* an IPv4 client in IPv6 forms */
	{ "d", "::ffff:4.1.2.3", RULE_DISTANCE,
	  "us-east=T us-west=N eu-west=N eu-east=N ap-southeast=N", "us-east" },
	{ "d", "2002:0401:0203::1/48", RULE_DISTANCE,
	  "us-east=T us-west=N eu-west=N eu-east=N ap-southeast=N", "us-east" },
	/* an override location (Warsaw) replaces the database's (Ashburn) */
	{ "d", "192.0.2.7", RULE_DISTANCE,
	  "eu-east=T eu-west=N us-east=N us-west=N ap-southeast=N", "eu-east" },
	/* override region lists, the longest prefix, before any route rule */
	{ "d", "10.2.3.4", RULE_OVERRIDE, "eu-east=T us-east=N", "eu-east" },
	{ "d", "10.1.2.3", RULE_OVERRIDE, "ap-southeast=T", "ap-southeast" },
	{ "r", "10.1.2.3", RULE_OVERRIDE, "ap-southeast=T", "ap-southeast" },
	{ "r", "2001:db8:1::1", RULE_OVERRIDE, "us-east=T", "us-east" },
	{ "r", "2001:db8:1:2::1", RULE_OVERRIDE, "eu-east=T us-east=N", "eu-east" },
	/* route rules: country, continent, subdivision, net */
	{ "r", "27.0.0.1", RULE_ROUTE, "ap-southeast=T us-west=N", "ap-southeast" },
	{ "r", "177.1.2.3", RULE_ROUTE, "us-east=T", "us-east" },
	{ "r", "83.16.1.1", RULE_ROUTE, "eu-west=T eu-east=N", "eu-west" },
	{ "r", "4.1.2.3", RULE_ROUTE, "us-west=P us-east=T", "us-east" },
	/* a client subnet wider than the rule's net is not inside it */
	{ "r", "4.0.0.0/8", RULE_DISTANCE, "us-east=T eu-west=N eu-east=L ap-southeast=L",
	  "us-east" },
	/* no rule matches (Warsaw is PL-14): distance over the service's
	 * pools only, cut at the limit */
	{ "r", "83.1.2.3", RULE_DISTANCE, "eu-east=T eu-west=N us-east=L ap-southeast=L",
	  "eu-east" },
	/* no location: the default order, else every region in config order */
	{ "r", "200.1.2.3", RULE_DEFAULT, "eu-west=T us-east=N", "eu-west" },
	{ "c", "200.1.2.3", RULE_CONFIG,
	  "us-east=P us-west=T eu-east=N eu-west=N ap-southeast=N", "us-west" },
	{ "c", "2c0f::1", RULE_CONFIG, "us-east=P us-west=T eu-east=N eu-west=N ap-southeast=N",
	  "us-west" },
	/* c has pools in two regions: distance ranks only those */
	{ "c", "83.1.2.3", RULE_DISTANCE, "eu-west=T us-west=N", "eu-west" },
};

static void test_region_order(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(order_cases); i++) {
		const struct order_case *c = &order_cases[i];
		struct decision d;
		char got[512];
		decide_steps(c->svc, c->client, &d, got, sizeof(got));
		if (d.rule != c->rule || strcmp(got, c->steps) != 0 ||
		    strcmp(region_name(d.region), c->region) != 0 || d.all_down)
			fail_msg("%s.example.test for %s: rule %s, steps \"%s\", region %s; "
				 "expected rule %s, steps \"%s\", region %s",
				 c->svc, c->client, decide_rule_name(d.rule), got,
				 region_name(d.region), decide_rule_name(c->rule), c->steps,
				 c->region);
		assert_ptr_equal(d.pool, pool_in(d.svc, c->region));
		assert_int_equal(d.redirect_region, d.region);
	}
}

/* The rule that matched is the first in the service's list. */
static void test_route_named(void **state)
{
	static const struct {
		const char *client;
		int route; /* index in r's route list, -1 none */
	} cases[] = {
		{ "27.0.0.1", 0 },   { "177.1.2.3", 1 }, { "83.16.1.1", 2 },
		{ "4.15.255.255", 3 }, { "4.16.0.0", -1 }, { "83.1.2.3", -1 },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct decision d;
		decide_for("r", cases[i].client, &d);
		long got = d.route ? (long)(d.route - d.svc->routes) : -1;
		if (got != cases[i].route || (d.rule == RULE_ROUTE) != (cases[i].route >= 0))
			fail_msg("%s: route %ld (%s), expected %d", cases[i].client, got,
				 decide_rule_name(d.rule), cases[i].route);
	}
}

/* ---- when every pool tried is down ---------------------------------------- */

/* Pools of svc, by region: down by probes (every member down), drained or
 * forced down by an admin. Each a list like "eu-east,us-east" or "". */
static void set_health(const char *svc, const char *down, const char *drained,
		       const char *forced_down)
{
	const struct service *s = service(svc);
	const char *const lists[] = { down, drained, forced_down };
	struct override_table t = { 0 };
	struct health *h = health_clone(initial);
	assert_non_null(h);
	for (size_t l = 0; l < N(lists); l++) {
		for (const char *p = lists[l]; *p;) {
			size_t len = strcspn(p, ",");
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			if (l == 0) {
				struct hpool *hp = &h->pools[pool_in(s, name)->gidx];
				for (size_t m = 0; m < hp->nmembers; m++)
					hp->members[m].state = HEALTH_DOWN;
			} else {
				struct override o;
				char target[300], err[256] = "";
				snprintf(target, sizeof(target), "pool:%s/%s", s->name, name);
				if (health_parse_target(snap, target, &o, err, sizeof(err)))
					fail_msg("%s: %s", target, err);
				o.state = l == 1 ? OVERRIDE_DRAIN : OVERRIDE_FORCE_DOWN;
				assert_int_equal(override_table_set(&t, &o), 0);
			}
			p += len;
			if (*p == ',')
				p++;
		}
	}
	health_compute(h, snap, &t, NULL, 1000);
	override_table_free(&t);
	health_free(snap->health);
	snap->health = h;
}

static void reset_health(void)
{
	health_free(snap->health);
	snap->health = health_clone(initial);
	assert_non_null(snap->health);
}

static const struct down_case {
	const char *svc, *client;
	const char *down, *drained, *forced_down;
	const char *steps;
	const char *region;   /* the region answered, "-" none */
	char pool;            /* 'r' the region's pool, 'f' the fallback, '-' none */
	const char *redirect; /* the region a redirect names, "-" none (503) */
	int all_down, fail_open;
	uint32_t ttl;
} down_cases[] = {
	/* the next region in order answers */
	{ "d", "83.1.2.3", "eu-east", "", "",
	  "eu-east=D eu-west=T us-east=N us-west=N ap-southeast=N", "eu-west", 'r', "eu-west", 0, 0,
	  30 },
	{ "d", "83.1.2.3", "", "eu-east", "",
	  "eu-east=D eu-west=T us-east=N us-west=N ap-southeast=N", "eu-west", 'r', "eu-west", 0, 0,
	  30 },
	{ "d", "83.1.2.3", "eu-east,eu-west,us-east,us-west", "", "",
	  "eu-east=D eu-west=D us-east=D us-west=D ap-southeast=T", "ap-southeast", 'r',
	  "ap-southeast", 0, 0, 30 },
	/* fail-open: the first region down by probes, as if up */
	{ "d", "83.1.2.3", "eu-east,eu-west,us-east,us-west,ap-southeast", "", "",
	  "eu-east=T eu-west=D us-east=D us-west=D ap-southeast=D", "eu-east", 'r', "eu-east", 1, 1,
	  5 },
	/* ... never one drained or forced down */
	{ "d", "83.1.2.3", "us-west,ap-southeast,us-east", "eu-east", "eu-west",
	  "eu-east=D eu-west=D us-east=T us-west=D ap-southeast=D", "us-east", 'r', "us-east", 1, 1,
	  5 },
	{ "d", "83.1.2.3", "", "eu-east,eu-west,us-east", "us-west,ap-southeast",
	  "eu-east=D eu-west=D us-east=D us-west=D ap-southeast=D", "-", '-', "-", 1, 0, 5 },
	/* a region with no pool does not count as down */
	{ "r", "27.0.0.1", "ap-southeast", "", "", "ap-southeast=T us-west=P", "ap-southeast", 'r',
	  "ap-southeast", 1, 1, 5 },
	/* the limit: regions beyond it are not tried, even when up */
	{ "r", "83.1.2.3", "eu-east,eu-west", "", "", "eu-east=T eu-west=D us-east=L ap-southeast=L",
	  "eu-east", 'r', "eu-east", 1, 1, 5 },
	{ "r", "83.1.2.3", "eu-east", "", "", "eu-east=D eu-west=T us-east=L ap-southeast=L",
	  "eu-west", 'r', "eu-west", 0, 0, 60 },
	/* nodata, servfail: nothing answered */
	{ "n", "83.1.2.3", "eu-east,us-east", "", "", "eu-east=D us-east=D", "-", '-', "-", 1, 0,
	  7 },
	{ "n", "83.1.2.3", "eu-east", "", "", "eu-east=D us-east=T", "us-east", 'r', "us-east", 0,
	  0, 30 },
	{ "s", "83.1.2.3", "eu-east,us-east", "", "", "eu-east=D us-east=D", "-", '-', "-", 1, 0,
	  5 },
	/* fallback: its own answer; a redirect goes where fail-open would */
	{ "f", "83.1.2.3", "eu-east,eu-west,us-east", "", "", "eu-east=D eu-west=D us-east=D", "-",
	  'f', "eu-east", 1, 0, 5 },
	{ "f", "83.1.2.3", "eu-west,us-east", "eu-east", "", "eu-east=D eu-west=D us-east=D", "-",
	  'f', "eu-west", 1, 0, 5 },
	{ "f", "83.1.2.3", "", "eu-east", "eu-west,us-east", "eu-east=D eu-west=D us-east=D", "-",
	  'f', "-", 1, 0, 5 },
};

static void test_when_all_down(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(down_cases); i++) {
		const struct down_case *c = &down_cases[i];
		struct decision d;
		char got[512];
		set_health(c->svc, c->down, c->drained, c->forced_down);
		decide_steps(c->svc, c->client, &d, got, sizeof(got));
		const struct pool *want_pool = NULL;
		if (c->pool == 'f')
			want_pool = &d.svc->fallback;
		else if (c->pool == 'r')
			want_pool = pool_in(d.svc, c->region);
		if (strcmp(got, c->steps) != 0 || strcmp(region_name(d.region), c->region) != 0 ||
		    d.pool != want_pool || strcmp(region_name(d.redirect_region), c->redirect) ||
		    d.all_down != c->all_down || d.fail_open != c->fail_open || d.ttl != c->ttl)
			fail_msg("case %zu, %s.example.test (down %s, drained %s, forced down %s): "
				 "steps \"%s\" region %s redirect %s all_down %d fail_open %d ttl "
				 "%u; expected \"%s\" region %s redirect %s all_down %d fail_open "
				 "%d ttl %u (pool %c)",
				 i, c->svc, c->down, c->drained, c->forced_down, got,
				 region_name(d.region), region_name(d.redirect_region), d.all_down,
				 d.fail_open, d.ttl, c->steps, c->region, c->redirect, c->all_down,
				 c->fail_open, c->ttl, c->pool);
		reset_health();
	}
}

/* ---- TTL ------------------------------------------------------------------- */

static void test_ttl(void **state)
{
	struct decision d;
	(void)state;
	/* checked pool: never longer than interval x fall (2 s x 3) */
	decide_for("t", "83.1.2.3", &d);
	assert_string_equal(region_name(d.region), "eu-east");
	assert_int_equal(d.ttl, 6);
	/* unchecked pool: the service's ttl */
	set_health("t", "eu-east", "", "");
	decide_for("t", "83.1.2.3", &d);
	assert_string_equal(region_name(d.region), "us-east");
	assert_int_equal(d.ttl, 30);
	reset_health();
	/* a member failing probes, not down yet: ttl_min */
	struct health *h = health_clone(initial);
	assert_non_null(h);
	const struct service *t = service("t");
	struct hpool *hp = &h->pools[pool_in(t, "eu-east")->gidx];
	hp->members[0].state = HEALTH_UP;
	hp->members[0].fails = 1;
	health_compute(h, snap, NULL, NULL, 1000);
	health_free(snap->health);
	snap->health = h;
	decide_for("t", "83.1.2.3", &d);
	assert_string_equal(region_name(d.region), "eu-east");
	assert_int_equal(d.ttl, 3);
	reset_health();
}

/* ---- ECS scope ------------------------------------------------------------- */

static const struct scope_case {
	const char *svc, *client;
	unsigned scope;
} scope_cases[] = {
	/* the database network: 8.8.8.0/24, 4.0.0.0/9 */
	{ "d", "8.8.8.8", 24 },
	{ "d", "8.8.8.0/24", 24 },
	{ "d", "4.1.2.3", 9 },
	{ "d", "4.64.0.1", 9 },
	/* a route net around the client lengthens the scope to its own */
	{ "r", "4.1.2.3", 12 },
	{ "r", "4.0.0.0/8", 12 },
	/* a route net inside the database network, away from the client:
	 * the scope stops at the first bit where they differ (4.64/10 leaves
	 * 4.0.0.0/12 out) */
	{ "r", "4.64.0.1", 10 },
	/* one region, but an override lists regions without it (10.1.0.0/16
	 * ap-southeast): where the client is still matters */
	{ "o", "8.8.8.8", 24 },
	/* an IPv4 client inside IPv6: the scope counts the IPv6 bits */
	{ "d", "::ffff:8.8.8.8", 120 },
	{ "r", "::ffff:4.1.2.3", 108 },
	{ "d", "2a00:1450::1", 32 },
};

static void test_scope(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(scope_cases); i++) {
		const struct scope_case *c = &scope_cases[i];
		struct decision d;
		decide_for(c->svc, c->client, &d);
		if (d.scope != c->scope)
			fail_msg("%s.example.test for %s: scope /%u, expected /%u (database /%u)",
				 c->svc, c->client, d.scope, c->scope, d.geo.scope_prefix);
	}
}

/* One region every client reaches (no overrides file naming others): the
 * answer does not depend on location, scope 0. */
static void test_scope_one_region(void **state)
{
	static const struct scope_case cases[] = {
		{ "o", "8.8.8.8", 0 },
		{ "o", "2a00:1450::1", 0 },
		{ "o", "::ffff:8.8.8.8", 0 },
		{ "d", "8.8.8.8", 24 },
		{ "r", "4.1.2.3", 12 },
	};
	struct snapshot *with_overrides = snap;
	(void)state;
	snap = load(0);
	for (size_t i = 0; i < N(cases); i++) {
		struct decision d;
		decide_for(cases[i].svc, cases[i].client, &d);
		if (d.scope != cases[i].scope)
			fail_msg("without overrides, %s.example.test for %s: scope /%u, expected "
				 "/%u",
				 cases[i].svc, cases[i].client, d.scope, cases[i].scope);
	}
	snapshot_free(snap);
	snap = with_overrides;
}

/* Region biases: order by distance x (1 - bias/100); the steps keep the
 * real distance, decide_biased_km() gives the one ordered by. */
static void test_bias(void **state)
{
	static const struct {
		const char *client, *steps;
	} cases[] = {
		/* Johannesburg: ap-southeast 8659 km, eu-east 8748 x 0.95 =
		 * 8311 km, eu-west 9385 x 0.1 = 939 km: eu-west, eu-east, ap */
		{ "41.1.2.3", "eu-west=T eu-east=N ap-southeast=N us-west=N us-east=N" },
		/* Krakow: eu-east 252 x 0.95, eu-west 1700 x 0.1 = 170 km; us-east
		 * 7300 x 1.5 falls behind ap-southeast */
		{ "83.16.1.1", "eu-west=T eu-east=N us-west=N ap-southeast=N us-east=N" },
		/* Ashburn: us-east 0 km stays first whatever its bias */
		{ "4.1.2.3", "us-east=T eu-west=N us-west=N eu-east=N ap-southeast=N" },
	};
	struct snapshot *plain = snap;
	(void)state;
	regions_text = bias_regions;
	snap = load(1);
	regions_text = decide_regions;
	for (size_t i = 0; i < N(cases); i++) {
		struct decision d;
		char got[512];
		decide_steps("d", cases[i].client, &d, got, sizeof(got));
		if (d.rule != RULE_DISTANCE || strcmp(got, cases[i].steps) != 0)
			fail_msg("biased, d.example.test for %s: rule %s, steps \"%s\"; expected "
				 "\"%s\"",
				 cases[i].client, decide_rule_name(d.rule), got, cases[i].steps);
		for (unsigned j = 0; j < d.nsteps; j++) {
			const struct decide_step *st = &d.steps[j];
			double km = decide_step_km(st);
			double bkm = decide_biased_km(snap, st);
			double bias = snap->conf->regions[st->region].bias;
			assert_true(km >= 0);
			assert_true(fabs(bkm - km * (1.0 - bias / 100.0)) < 1e-6);
			if (j > 0) /* biased distances ascend */
				assert_true(decide_biased_km(snap, &d.steps[j - 1]) <= bkm);
		}
	}
	snapshot_free(snap);
	snap = plain;
}

/* members_pick = "sticky": the hash covers the client subnet cut to the
 * hash prefix, the ECS scope is at least that prefix (also for a service
 * with one region), and the rendezvous scores give each member about its
 * share and move only a removed member's subnets. */
static void test_sticky(void **state)
{
	struct decision a, b;
	(void)state;
	decide_for("k", "83.1.2.3", &a);
	decide_for("k", "83.1.2.200", &b);
	assert_true(a.hashed && a.hash_prefix == 24);
	assert_true(a.client_hash == b.client_hash);
	assert_int_equal(a.scope, 24);
	decide_for("k", "83.1.3.3", &b);
	assert_true(a.client_hash != b.client_hash);
	/* an ECS /16: the hash of the /16, the scope still /24 */
	decide_for("k", "83.1.0.0/16", &a);
	decide_for("k", "83.1.0.0/16", &b);
	assert_int_equal(a.scope, 24);
	assert_true(a.client_hash == b.client_hash);
	decide_for("k", "2a00:1450:1:2::1", &a);
	decide_for("k", "2a00:1450:1:3::1", &b);
	assert_true(a.hash_prefix == 48 && a.scope == 48 && a.client_hash == b.client_hash);
	/* a weighted service hashes nothing */
	decide_for("d", "83.1.2.3", &a);
	assert_false(a.hashed);

	uint8_t m[4][4] = { { 192, 0, 2, 61 }, { 192, 0, 2, 62 }, { 192, 0, 2, 63 },
			    { 192, 0, 2, 64 } };
	unsigned count[4] = { 0 }, moved = 0, moved_other = 0;
	for (unsigned i = 0; i < 4000; i++) {
		char client[32];
		snprintf(client, sizeof(client), "%u.%u.%u.0/24", 1 + i / 256 % 200, i % 256,
			 i / 200);
		decide_for("k", client, &a);
		unsigned best = 0, best3 = 0;
		double sc[4];
		for (unsigned j = 0; j < 4; j++)
			sc[j] = decide_member_score(&a, AF_INET, m[j], 1);
		for (unsigned j = 1; j < 4; j++)
			if (sc[j] > sc[best])
				best = j;
		for (unsigned j = 1; j < 3; j++) /* without the fourth member */
			if (sc[j] > sc[best3])
				best3 = j;
		count[best]++;
		if (best == 3)
			moved++;
		else if (best3 != best)
			moved_other++;
	}
	for (unsigned j = 0; j < 4; j++)
		if (count[j] < 850 || count[j] > 1150)
			fail_msg("member %u best for %u of 4000 subnets", j, count[j]);
	assert_int_equal(moved, count[3]);
	assert_int_equal(moved_other, 0);

	/* weights: a member of weight 3 against one of weight 1 wins ~3/4 */
	unsigned heavy = 0;
	for (unsigned i = 0; i < 4000; i++) {
		char client[32];
		snprintf(client, sizeof(client), "10.%u.%u.0/24", i / 256, i % 256);
		decide_for("k", client, &a);
		if (decide_member_score(&a, AF_INET, m[0], 3) > decide_member_score(&a, AF_INET, m[1], 1))
			heavy++;
	}
	if (heavy < 2850 || heavy > 3150)
		fail_msg("weight 3 against 1: best for %u of 4000", heavy);
}

/* Split route rules: 10,000 /24s divided 90/10 within 2 points, each the
 * same on every decision, the split region first and the client's usual
 * order after it; a split region down sends its clients (only) to their
 * next region; the ECS scope is at least the hash prefix. */
static void test_split(void **state)
{
	unsigned east = 0, moved_wrong = 0;
	int ee = region_index("eu-east", 7), ew = region_index("eu-west", 7);
	int ue = region_index("us-east", 7);
	static uint8_t was[10000];
	(void)state;
	for (unsigned i = 0; i < 10000; i++) {
		char client[32];
		struct decision d, d2;
		nth_client(i, client, sizeof(client));
		decide_for("p", client, &d);
		decide_for("p", client, &d2);
		assert_int_equal(d.rule, RULE_ROUTE);
		assert_true(d.split_region == ee || d.split_region == ew);
		assert_int_equal(d.region, d.split_region);
		assert_int_equal(d2.region, d.region);
		assert_true(d.scope >= 24);
		/* then the usual order (default: us-east, eu-west, eu-east) */
		assert_int_equal(d.steps[1].region, ue);
		was[i] = (uint8_t)d.region;
		east += d.region == ee;
	}
	if (east < 8800 || east > 9200)
		fail_msg("90/10 split: eu-east %u of 10000", east);
	set_health("p", "eu-west", "", "");
	for (unsigned i = 0; i < 10000; i++) {
		char client[32];
		struct decision d;
		nth_client(i, client, sizeof(client));
		decide_for("p", client, &d);
		int want = was[i] == ew ? ue : was[i];
		if (d.region != want)
			moved_wrong++;
	}
	reset_health();
	assert_int_equal(moved_wrong, 0);
	/* weight 0: never first; after eu-west, the usual order by distance */
	char got[512];
	struct decision d;
	decide_steps("p", "83.1.2.3", &d, got, sizeof(got));
	assert_string_equal(got, "eu-west=T eu-east=N us-east=N");
	assert_int_equal(d.split_region, ew);
}

/* ---- load shedding ---------------------------------------------------------- */

/* Every member of l's pools in eu-east, eu-west, us-east reports these
 * figures (< 0: none), and health_compute derives the pools'. */
static void set_loads(double east, double west, double us)
{
	const struct service *s = service("l");
	const char *const names[] = { "eu-east", "eu-west", "us-east" };
	const double figures[] = { east, west, us };
	struct override_table t = { 0 };
	struct health *h = health_clone(initial);
	assert_non_null(h);
	for (size_t i = 0; i < N(names); i++) {
		struct hpool *hp = &h->pools[pool_in(s, names[i])->gidx];
		for (size_t m = 0; m < hp->nmembers; m++) {
			hp->members[m].has_load = figures[i] >= 0;
			hp->members[m].load = figures[i];
		}
	}
	health_compute(h, snap, &t, NULL, 0);
	health_free(snap->health);
	snap->health = h;
}

/* How many of 10,000 client /24s eu-east passes over, each marked in moved. */
static unsigned shed_count(uint8_t *moved)
{
	int ee = region_index("eu-east", 7);
	unsigned n = 0;
	for (unsigned i = 0; i < 10000; i++) {
		char client[32];
		struct decision d, d2;
		nth_client(i, client, sizeof(client));
		decide_for("l", client, &d);
		decide_for("l", client, &d2);
		assert_int_equal(d.region, d2.region);
		moved[i] = d.region != ee;
		n += moved[i];
		/* shed by its draw, the answer depends on the /24 (a full
		 * pool passes every client: the route net's scope) */
		if (moved[i] && !(d.shed_moved &&
				  (d.steps[0].state != REGION_SKIP_SHED || d.scope >= 24)))
			fail_msg("%s moved: shed_moved %d scope %u", client, d.shed_moved, d.scope);
	}
	return n;
}

static void test_load_shed(void **state)
{
	static uint8_t third[10000], two[10000];
	const struct service *s = service("l");
	char got[512];
	struct decision d;
	(void)state;

	/* no figure, or at low: nothing shed, nothing hashed */
	set_loads(-1, -1, -1);
	assert_true(snap->health->pools[pool_in(s, "eu-east")->gidx].load < 0);
	assert_int_equal(shed_count(third), 0);
	set_loads(0.8, 0, 0);
	assert_int_equal(shed_count(third), 0);
	decide_steps("l", "100.64.0.0/24", &d, got, sizeof(got));
	assert_string_equal(got, "eu-east=T eu-west=N us-east=N");
	assert_int_equal(d.hashed, 0);

	/* 0.85 of 0.8..0.95: a third shed, to the next region */
	set_loads(0.85, 0, 0);
	const struct hpool *hp = &snap->health->pools[pool_in(s, "eu-east")->gidx];
	assert_true(fabs(hp->shed - 1.0 / 3) < 1e-3 && !hp->full && hp->up);
	unsigned n3 = shed_count(third);
	if (n3 < 3133 || n3 > 3533)
		fail_msg("load 0.85: %u of 10000 shed, expected about 3333", n3);
	/* 0.9: two thirds, every client moved before among them */
	set_loads(0.9, 0, 0);
	unsigned n6 = shed_count(two);
	if (n6 < 6467 || n6 > 6867)
		fail_msg("load 0.9: %u of 10000 shed, expected about 6667", n6);
	for (unsigned i = 0; i < 10000; i++)
		if (third[i] && !two[i])
			fail_msg("client %u moved at 0.85 and back at 0.9", i);
	for (unsigned i = 0; i < 10000; i++) {
		if (!two[i])
			continue;
		char client[32];
		nth_client(i, client, sizeof(client));
		decide_steps("l", client, &d, got, sizeof(got));
		assert_string_equal(got, "eu-east=S eu-west=T us-east=N");
		assert_true(d.shed_draw < 2.0 / 3);
		break;
	}

	/* full: every client on; two full: the third region; all full: the
	 * first of them anyway */
	set_loads(0.97, 0, 0);
	hp = &snap->health->pools[pool_in(s, "eu-east")->gidx];
	assert_true(hp->full && hp->up && hp->shed == 1);
	assert_int_equal(shed_count(third), 10000);
	decide_steps("l", "100.64.0.0/24", &d, got, sizeof(got));
	assert_string_equal(got, "eu-east=X eu-west=T us-east=N");
	set_loads(1, 0.7, 0);
	decide_steps("l", "100.64.0.0/24", &d, got, sizeof(got));
	assert_string_equal(got, "eu-east=X eu-west=X us-east=T");
	set_loads(1, 0.9, 0.96);
	decide_steps("l", "100.64.0.0/24", &d, got, sizeof(got));
	assert_string_equal(got, "eu-east=O eu-west=X us-east=X");
	assert_int_equal(d.region, region_index("eu-east", 7));
	assert_int_equal(d.all_down, 0);

	/* a pool down is down, not full; forced up takes every client */
	set_health("l", "eu-east", "", "");
	decide_steps("l", "100.64.0.0/24", &d, got, sizeof(got));
	assert_string_equal(got, "eu-east=D eu-west=T us-east=N");
	reset_health();
	assert_int_equal(shed_count(third), 0);
}

/* ---- setup ------------------------------------------------------------------ */

static struct snapshot *load(int overrides)
{
	char err[1024] = "";
	struct snapshot *s = NULL;
	FILE *f = fopen(conf_path, "w");
	assert_non_null(f);
	fprintf(f,
		"listen = { dns = [ \"127.0.0.1:0\" ]; };\n"
		"zones = ( { origin = \"example.test\"; file = \"%s/zones/example.test.zone\"; } "
		");\n"
		"geoip = { database = \"%s/city6.mmdb\";",
		TEST_DATADIR, db_dir);
	if (overrides)
		fprintf(f, " overrides = \"%s/geoip/test.nets\";", TEST_DATADIR);
	fprintf(f, " };\n%s%s", regions_text, decide_conf);
	assert_int_equal(fclose(f), 0);
	if (snapshot_load(conf_path, &s, err, sizeof(err)) != 0)
		fail_msg("snapshot_load %s: %s", conf_path, err);
	return s;
}

static int setup(void **state)
{
	(void)state;
	snprintf(conf_path, sizeof(conf_path), "%s/decide.conf", db_dir);
	snap = load(1);
	initial = health_clone(snap->health);
	return initial ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	health_free(initial);
	snapshot_free(snap);
	snap = NULL;
	unlink(conf_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_order), cmocka_unit_test(test_route_named),
		cmocka_unit_test(test_when_all_down), cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_scope),	     cmocka_unit_test(test_scope_one_region),
		cmocka_unit_test(test_bias),	     cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_split), cmocka_unit_test(test_load_shed),
	};
	int rc;

	log_set_level(LOG_LVL_ERR);
	db_dir = geo_test_dir("test_decide", &rc);
	if (!db_dir)
		return rc;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	remove_own_dbs();
	return rc;
}
