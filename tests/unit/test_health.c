/* Unit tests for the health state machine (include/gslb/health.h): the
 * rise/fall steps of one member, unknown results that make no step, a
 * pool's min_up (a count or a fraction), admin overrides and their
 * precedence (member over pool over region), and the since timestamps of
 * pools (health_compute) and members (carried by health_initial from the
 * previous view and from state_dir). The snapshot is loaded from a config
 * written to a temporary folder, with the zone of tests/data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gslb/config.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/snapshot.h"

#ifndef TEST_DATADIR
#error TEST_DATADIR must be defined
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- rise and fall ------------------------------------------------------- */

/* A run of results from one state: '+' success, '-' failure, '?' not
 * probed (a local error); after each, the state ('U' up, 'D' down, '?'
 * unknown) and the consecutive successes and failures. */
static const struct step_case {
	const char *what;
	unsigned rise, fall;
	enum health_state from;
	const char *results;
	const char *states;
	const uint16_t oks[8], fails[8];
} step_cases[] = {
	{ "the first success decides", 2, 3, HEALTH_UNKNOWN, "+", "U", { 1 }, { 0 } },
	{ "the first failure decides", 2, 3, HEALTH_UNKNOWN, "-", "D", { 0 }, { 1 } },
	{ "up goes down after fall failures", 2, 3, HEALTH_UP, "---", "UUD", { 0, 0, 0 },
	  { 1, 2, 3 } },
	{ "a success resets the failures", 2, 3, HEALTH_UP, "--+---", "UUUUUD",
	  { 0, 0, 1, 0, 0, 0 }, { 1, 2, 0, 1, 2, 3 } },
	{ "down goes up after rise successes", 2, 3, HEALTH_DOWN, "++", "DU", { 1, 2 },
	  { 0, 0 } },
	{ "a failure resets the successes", 2, 3, HEALTH_DOWN, "+-++", "DDDU", { 1, 0, 1, 2 },
	  { 0, 1, 0, 0 } },
	{ "more results keep the state", 2, 3, HEALTH_UP, "++", "UU", { 1, 2 }, { 0, 0 } },
	{ "rise 1, fall 1", 1, 1, HEALTH_UP, "-+-", "DUD", { 0, 1, 0 }, { 1, 0, 1 } },
	{ "rise 0 and fall 0 count as 1", 0, 0, HEALTH_UP, "-+", "DU", { 0, 1 }, { 1, 0 } },
	{ "unknown makes no step going down", 2, 2, HEALTH_UP, "-?-", "UUD", { 0, 0, 0 },
	  { 1, 1, 2 } },
	{ "unknown makes no step going up", 2, 2, HEALTH_DOWN, "+??+", "DDDU", { 1, 1, 1, 2 },
	  { 0, 0, 0, 0 } },
	{ "unknown does not decide a new member", 2, 3, HEALTH_UNKNOWN, "??+", "??U",
	  { 0, 0, 1 }, { 0, 0, 0 } },
};

static char state_letter(enum health_state s)
{
	return s == HEALTH_UP ? 'U' : s == HEALTH_DOWN ? 'D' : '?';
}

static void test_rise_fall(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(step_cases); i++) {
		const struct step_case *c = &step_cases[i];
		enum health_state s = c->from;
		uint16_t oks = 0, fails = 0;
		for (size_t k = 0; c->results[k]; k++) {
			char r = c->results[k];
			s = health_step(s, &oks, &fails, r == '+' ? 1 : r == '-' ? 0 : -1, c->rise,
					c->fall);
			if (state_letter(s) != c->states[k] || oks != c->oks[k] ||
			    fails != c->fails[k])
				fail_msg("%s: after result %zu of \"%s\": state %c oks %u fails %u, "
					 "expected %c oks %u fails %u",
					 c->what, k + 1, c->results, state_letter(s), oks, fails,
					 c->states[k], c->oks[k], c->fails[k]);
		}
	}
}

static void test_counts_saturate(void **state)
{
	uint16_t oks = UINT16_MAX, fails = 0;
	(void)state;
	assert_int_equal(health_step(HEALTH_UP, &oks, &fails, 1, 2, 2), HEALTH_UP);
	assert_int_equal(oks, UINT16_MAX);
	oks = 0;
	fails = UINT16_MAX;
	assert_int_equal(health_step(HEALTH_DOWN, &oks, &fails, 0, 2, 2), HEALTH_DOWN);
	assert_int_equal(fails, UINT16_MAX);
	assert_int_equal(oks, 0);
}

/* ---- a snapshot ------------------------------------------------------------ */

static char tmp_dir[256];

/* Service h.example.test: region a, three checked members, min_up 2;
 * region b, three checked members, min_up 0.5 (rounded up: two); region c,
 * one unchecked member. */
static const char *const health_conf =
	"regions = (\n"
	"  { name = \"a\"; lat = 50.0; lon = 10.0; },\n"
	"  { name = \"b\"; lat = 40.0; lon = -75.0; },\n"
	"  { name = \"c\"; lat = 1.0; lon = 100.0; }\n"
	");\n"
	"checks = ( { name = \"web\"; type = \"http\"; interval = 10.0; timeout = 2.0;\n"
	"             rise = 2; fall = 2; } );\n"
	"services = (\n"
	"  { name = \"h.example.test\";\n"
	"    pools = (\n"
	"      { region = \"a\"; check = \"web\"; min_up = 2;\n"
	"        members = [ \"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\" ]; },\n"
	"      { region = \"b\"; check = \"web\"; min_up = 0.5;\n"
	"        members = [ \"198.51.100.1\", \"198.51.100.2\", \"198.51.100.3\" ]; },\n"
	"      { region = \"c\"; members = [ \"203.0.113.1\" ]; }\n"
	"    ); }\n"
	");\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Load the config above; state_dir: a folder, or NULL for none. */
static struct snapshot *load(const char *state_dir)
{
	char path[512], text[4096], err[1024] = "";
	struct snapshot *s = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/health.conf", tmp_dir);
	n = snprintf(text, sizeof(text),
		     "listen = { dns = [ \"127.0.0.1:0\" ]; };\n"
		     "zones = ( { origin = \"example.test\"; file = \"%s/zones/example.test.zone\"; "
		     "} );\n%s%s%s%s",
		     TEST_DATADIR, state_dir ? "state_dir = \"" : "", state_dir ? state_dir : "",
		     state_dir ? "\";\n" : "", health_conf);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	write_file(path, text);
	if (snapshot_load(path, &s, err, sizeof(err)) != 0)
		fail_msg("snapshot_load %s: %s", path, err);
	return s;
}

static const struct pool *pool_of(const struct snapshot *s, const char *region)
{
	const struct service *svc = &s->conf->services[0];
	for (size_t i = 0; i < svc->npools; i++)
		if (strcmp(s->conf->regions[svc->pools[i].region].name, region) == 0)
			return &svc->pools[i];
	fail_msg("no pool in region %s", region);
	return NULL;
}

static struct hpool *hpool_of(struct health *h, const struct snapshot *s, const char *region)
{
	return &h->pools[pool_of(s, region)->gidx];
}

/* Member states of a pool from letters: 'U' up, 'D' down, '?' unknown. */
static void set_states(struct hpool *hp, const char *states)
{
	assert_int_equal(strlen(states), hp->nmembers);
	for (size_t i = 0; i < hp->nmembers; i++)
		hp->members[i].state = states[i] == 'U' ? HEALTH_UP :
				       states[i] == 'D' ? HEALTH_DOWN :
							  HEALTH_UNKNOWN;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/gslb-test_health.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp_dir))
		return -1;
	return 0;
}

static void remove_dir(const char *dir, const char *const *names, size_t n)
{
	char p[600];
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static int teardown(void **state)
{
	static const char *const files[] = { "health.conf", "overrides.state" };
	(void)state;
	remove_dir(tmp_dir, files, N(files));
	return 0;
}

/* ---- min_up --------------------------------------------------------------- */

static const struct min_up_case {
	const char *region;
	const char *states;
	int up;
	unsigned usable;
} min_up_cases[] = {
	/* min_up = 2 of three */
	{ "a", "UUU", 1, 3 },
	{ "a", "UUD", 1, 2 },
	{ "a", "UDD", 0, 1 },
	{ "a", "DDD", 0, 0 },
	/* not probed yet: answered (fail open), so it counts */
	{ "a", "?UD", 1, 2 },
	{ "a", "??D", 1, 2 },
	/* min_up = 0.5 of three: 1.5, rounded up to two */
	{ "b", "UUD", 1, 2 },
	{ "b", "UDD", 0, 1 },
	{ "b", "DDD", 0, 0 },
	/* unchecked: its one member is up */
	{ "c", "U", 1, 1 },
};

static void test_min_up(void **state)
{
	struct snapshot *s = load(NULL);
	(void)state;
	for (size_t i = 0; i < N(min_up_cases); i++) {
		const struct min_up_case *c = &min_up_cases[i];
		struct health *h = health_clone(s->health);
		assert_non_null(h);
		struct hpool *hp = hpool_of(h, s, c->region);
		set_states(hp, c->states);
		health_compute(h, s, NULL, NULL, 1000);
		if (hp->up != c->up || hp->usable4 != c->usable || hp->usable6 != 0)
			fail_msg("pool %s members %s: up %d with %u usable, expected up %d with %u "
				 "(%s)",
				 c->region, c->states, hp->up, hp->usable4, c->up, c->usable,
				 hp->reason);
		for (size_t m = 0; m < hp->nmembers; m++)
			assert_int_equal(hp->members[m].usable, c->states[m] != 'D');
		health_free(h);
	}
	snapshot_free(s);
}

/* A member failing probes but not down yet makes its pool "failing" (the
 * TTL drops to ttl_min). */
static void test_failing(void **state)
{
	struct snapshot *s = load(NULL);
	struct health *h = health_clone(s->health);
	(void)state;
	assert_non_null(h);
	struct hpool *hp = hpool_of(h, s, "a");
	set_states(hp, "UUU");
	health_compute(h, s, NULL, NULL, 1000);
	assert_false(hp->failing);
	hp->members[1].fails = 1;
	health_compute(h, s, NULL, NULL, 1000);
	assert_true(hp->failing);
	assert_true(hp->members[1].failing);
	assert_true(hp->members[1].usable);
	/* down: no longer failing, not usable */
	hp->members[1].state = HEALTH_DOWN;
	health_compute(h, s, NULL, NULL, 1000);
	assert_false(hp->failing);
	assert_false(hp->members[1].usable);
	health_free(h);
	snapshot_free(s);
}

/* ---- admin overrides ---------------------------------------------------- */

/* Overrides on region a, its pool and its member 192.0.2.1 (each "-" for
 * none, else an action); members' probe states; then what each member's
 * admin state and usability are, the pool's own admin state and whether it
 * is up. */
static const struct admin_case {
	const char *region, *pool, *member;
	const char *states;
	uint8_t member_admin[3];
	const char *usable;
	uint8_t pool_admin;
	int up;
	const char *reason;
} admin_cases[] = {
	{ "-", "-", "-", "UUU", { OVERRIDE_NONE, OVERRIDE_NONE, OVERRIDE_NONE }, "111", OVERRIDE_NONE, 1,
	  "3 of 3" },
	{ "drain", "-", "-", "UUU", { OVERRIDE_DRAIN, OVERRIDE_DRAIN, OVERRIDE_DRAIN }, "000", OVERRIDE_DRAIN,
	  0, "drained by admin (region)" },
	{ "force-down", "-", "-", "UUU",
	  { OVERRIDE_FORCE_DOWN, OVERRIDE_FORCE_DOWN, OVERRIDE_FORCE_DOWN }, "000", OVERRIDE_FORCE_DOWN, 0,
	  "forced down by admin (region)" },
	{ "force-up", "-", "-", "DDD", { OVERRIDE_FORCE_UP, OVERRIDE_FORCE_UP, OVERRIDE_FORCE_UP }, "111",
	  OVERRIDE_FORCE_UP, 1, "forced up by admin" },
	/* the pool's override beats the region's */
	{ "drain", "force-up", "-", "DUD", { OVERRIDE_FORCE_UP, OVERRIDE_FORCE_UP, OVERRIDE_FORCE_UP },
	  "111", OVERRIDE_FORCE_UP, 1, "forced up by admin" },
	{ "force-up", "drain", "-", "UUU", { OVERRIDE_DRAIN, OVERRIDE_DRAIN, OVERRIDE_DRAIN }, "000",
	  OVERRIDE_DRAIN, 0, "drained by admin (pool)" },
	/* the member's beats both, for that member only */
	{ "drain", "force-down", "force-up", "DUU",
	  { OVERRIDE_FORCE_UP, OVERRIDE_FORCE_DOWN, OVERRIDE_FORCE_DOWN }, "100", OVERRIDE_FORCE_DOWN, 0,
	  "forced down by admin (pool)" },
	{ "-", "-", "drain", "UUU", { OVERRIDE_DRAIN, OVERRIDE_NONE, OVERRIDE_NONE }, "011", OVERRIDE_NONE, 1,
	  "2 of 3" },
	{ "-", "-", "force-down", "UUD", { OVERRIDE_FORCE_DOWN, OVERRIDE_NONE, OVERRIDE_NONE }, "010",
	  OVERRIDE_NONE, 0, "1 of 3" },
	{ "-", "-", "force-up", "DUD", { OVERRIDE_FORCE_UP, OVERRIDE_NONE, OVERRIDE_NONE }, "110",
	  OVERRIDE_NONE, 1, "2 of 3" },
	{ "-", "drain", "-", "UUU", { OVERRIDE_DRAIN, OVERRIDE_DRAIN, OVERRIDE_DRAIN }, "000", OVERRIDE_DRAIN,
	  0, "drained by admin (pool)" },
};

static void set_override(const struct snapshot *s, struct override_table *t, const char *target,
			 const char *action)
{
	struct override o;
	char err[256] = "";

	if (strcmp(action, "-") == 0)
		return;
	if (health_parse_target(s, target, &o, err, sizeof(err)) != 0)
		fail_msg("%s: %s", target, err);
	assert_int_equal(admin_action_parse(action, &o.state), 0);
	o.since = 500;
	assert_int_equal(override_table_set(t, &o), 0);
}

static void test_admin_precedence(void **state)
{
	struct snapshot *s = load(NULL);
	(void)state;
	for (size_t i = 0; i < N(admin_cases); i++) {
		const struct admin_case *c = &admin_cases[i];
		struct override_table t = { 0 };
		struct health *h = health_clone(s->health);
		assert_non_null(h);
		set_override(s, &t, "region:a", c->region);
		set_override(s, &t, "pool:h.example.test/a", c->pool);
		set_override(s, &t, "member:h.example.test/a/192.0.2.1", c->member);
		struct hpool *hp = hpool_of(h, s, "a");
		set_states(hp, c->states);
		health_compute(h, s, &t, NULL, 1000);
		for (size_t m = 0; m < 3; m++)
			if (hp->members[m].admin != c->member_admin[m] ||
			    hp->members[m].usable != (c->usable[m] == '1'))
				fail_msg("case %zu (region %s, pool %s, member %s): member %zu admin "
					 "%s usable %d, expected %s usable %c",
					 i, c->region, c->pool, c->member, m,
					 override_state_name(hp->members[m].admin),
					 hp->members[m].usable, override_state_name(c->member_admin[m]),
					 c->usable[m]);
		if (hp->admin != c->pool_admin || hp->up != c->up ||
		    strstr(hp->reason, c->reason) == NULL)
			fail_msg("case %zu (region %s, pool %s, member %s): pool admin %s up %d "
				 "\"%s\", expected %s up %d \"%s\"",
				 i, c->region, c->pool, c->member, override_state_name(hp->admin),
				 hp->up, hp->reason, override_state_name(c->pool_admin), c->up,
				 c->reason);
		/* the other regions' pools are untouched */
		assert_int_equal(hpool_of(h, s, "b")->admin, OVERRIDE_NONE);
		assert_true(hpool_of(h, s, "c")->up);
		health_free(h);
		override_table_free(&t);
	}
	snapshot_free(s);
}

/* A scheduled override is in force from its start until its end, and
 * overrides.state keeps the times (in the JSON object after the first
 * fields; a line without one is read as before; one that has ended is not
 * read back). */
static void test_override_schedule(void **state)
{
	struct snapshot *s = load(NULL);
	struct override_table t = { 0 }, back = { 0 };
	int64_t now = (int64_t)time(NULL);
	char path[600];
	FILE *fp;
	(void)state;

	set_override(s, &t, "pool:h.example.test/a", "drain");
	t.v[0].start = 2000;
	t.v[0].end = 3000;
	struct health *h = health_clone(s->health);
	assert_non_null(h);
	struct hpool *hp = hpool_of(h, s, "a");
	health_compute(h, s, &t, NULL, 1999);
	assert_int_equal(hp->admin, OVERRIDE_NONE);
	health_compute(h, s, &t, NULL, 2000);
	assert_int_equal(hp->admin, OVERRIDE_DRAIN);
	health_compute(h, s, &t, NULL, 2999);
	assert_int_equal(hp->admin, OVERRIDE_DRAIN);
	health_compute(h, s, &t, NULL, 3000);
	assert_int_equal(hp->admin, OVERRIDE_NONE);
	health_free(h);

	t.v[0].start = now + 100;
	t.v[0].end = 0;
	set_override(s, &t, "region:b", "force-down");
	t.v[1].end = now + 7200;
	set_override(s, &t, "region:c", "drain");
	t.v[2].end = now - 1; /* ended */
	assert_int_equal(override_table_save(&t, tmp_dir), 0);
	snprintf(path, sizeof(path), "%s/overrides.state", tmp_dir);
	fp = fopen(path, "a");
	assert_non_null(fp);
	fprintf(fp, "force-up member:h.example.test/a/192.0.2.1 77\n");
	fprintf(fp, "drain region:a 78 {\"start\":0,\"end\":%lld,\"later\":\"x\"}\n",
		(long long)now + 60);
	fclose(fp);
	assert_int_equal(override_table_load(&back, tmp_dir), 0);
	assert_int_equal(back.n, 4);
	assert_string_equal(back.v[0].target, "pool:h.example.test/a");
	assert_int_equal(back.v[0].start, now + 100);
	assert_int_equal(back.v[0].end, 0);
	assert_int_equal(back.v[0].since, 500);
	assert_string_equal(back.v[1].target, "region:b");
	assert_int_equal(back.v[1].state, OVERRIDE_FORCE_DOWN);
	assert_int_equal(back.v[1].end, now + 7200);
	assert_string_equal(back.v[2].target, "member:h.example.test/a/192.0.2.1");
	assert_int_equal(back.v[2].start, 0);
	assert_int_equal(back.v[2].end, 0);
	assert_int_equal(back.v[2].since, 77);
	assert_string_equal(back.v[3].target, "region:a");
	assert_int_equal(back.v[3].end, now + 60);
	override_table_free(&t);
	override_table_free(&back);
	snapshot_free(s);
}

/* Targets are checked against the snapshot and written canonically. */
static void test_admin_targets(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {
		{ "region:a", "region:a" },
		{ "pool:H.Example.Test./b", "pool:h.example.test/b" },
		{ "member:h.example.test/a/192.0.2.2", "member:h.example.test/a/192.0.2.2" },
		{ "region:x", NULL },
		{ "pool:h.example.test/x", NULL },
		{ "pool:nothere.example.test/a", NULL },
		{ "member:h.example.test/a/192.0.2.9", NULL },
		{ "member:h.example.test/a", NULL },
		{ "pool:h.example.test/a/192.0.2.1", NULL },
		{ "zone:example.test", NULL },
		{ "a", NULL },
	};
	struct snapshot *s = load(NULL);
	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct override o;
		char err[256] = "";
		int rc = health_parse_target(s, cases[i].in, &o, err, sizeof(err));
		if (cases[i].out) {
			if (rc != 0 || strcmp(o.target, cases[i].out) != 0)
				fail_msg("%s: rc %d target \"%s\" (%s)", cases[i].in, rc, o.target,
					 err);
		} else if (rc == 0 || !err[0]) {
			fail_msg("%s: accepted", cases[i].in);
		}
	}
	snapshot_free(s);
}

/* ---- since ------------------------------------------------------------------ */

/* A pool's since is the time its up state last changed; a new view keeps
 * it while the state stays; the view's version grows. */
static void test_pool_since(void **state)
{
	struct snapshot *s = load(NULL);
	struct health *v1 = health_clone(s->health), *v2, *v3;
	(void)state;
	assert_non_null(v1);
	set_states(hpool_of(v1, s, "a"), "UUU");
	health_compute(v1, s, NULL, NULL, 100);
	assert_true(hpool_of(v1, s, "a")->up);

	v2 = health_clone(v1);
	assert_non_null(v2);
	set_states(hpool_of(v2, s, "a"), "UDD");
	health_compute(v2, s, NULL, v1, 200);
	assert_false(hpool_of(v2, s, "a")->up);
	assert_int_equal(hpool_of(v2, s, "a")->since, 200);
	assert_int_equal(hpool_of(v2, s, "b")->since, hpool_of(v1, s, "b")->since);
	assert_int_equal(v2->version, v1->version + 1);

	v3 = health_clone(v2);
	assert_non_null(v3);
	set_states(hpool_of(v3, s, "a"), "DDD"); /* still down */
	health_compute(v3, s, NULL, v2, 300);
	assert_int_equal(hpool_of(v3, s, "a")->since, 200);
	assert_int_equal(v3->version, v2->version + 1);
	health_free(v1);
	health_free(v2);
	health_free(v3);
	snapshot_free(s);
}

/* A new snapshot's first view carries each member's probe state, counts,
 * since and reason from the previous view (by service, region and
 * address); without one, from state_dir's last-known states. */
static void test_member_since_carried(void **state)
{
	char dir[300];
	struct snapshot *s = load(NULL);
	(void)state;
	struct health *prev = health_clone(s->health);
	assert_non_null(prev);
	struct hpool *hp = hpool_of(prev, s, "a");
	assert_int_equal(hp->members[0].state, HEALTH_UNKNOWN);
	hp->members[0].state = HEALTH_DOWN;
	hp->members[0].fails = 3;
	hp->members[0].since = 1234;
	snprintf(hp->members[0].reason, sizeof(hp->members[0].reason), "connection refused");
	hp->members[1].state = HEALTH_UP;
	hp->members[1].since = 1111;
	health_compute(prev, s, NULL, NULL, 1000);

	struct health *next = health_initial(s, prev, s, NULL, NULL, 2000);
	assert_non_null(next);
	const struct hpool *np = hpool_of(next, s, "a");
	assert_int_equal(np->members[0].state, HEALTH_DOWN);
	assert_int_equal(np->members[0].fails, 3);
	assert_int_equal(np->members[0].since, 1234);
	assert_string_equal(np->members[0].reason, "connection refused");
	assert_int_equal(np->members[1].since, 1111);
	assert_int_equal(np->members[2].state, HEALTH_UNKNOWN);
	assert_int_equal(np->members[2].since, 0);
	assert_int_equal(next->version, prev->version + 1);
	health_free(next);

	/* through state_dir: a restart */
	snprintf(dir, sizeof(dir), "%s/state", tmp_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(health_save(prev, s, dir), 0);
	struct snapshot *s2 = load(dir);
	np = hpool_of(s2->health, s2, "a");
	assert_int_equal(np->members[0].state, HEALTH_DOWN);
	assert_int_equal(np->members[0].since, 1234);
	assert_string_equal(np->members[0].reason, "last known: connection refused");
	assert_int_equal(np->members[1].state, HEALTH_UP);
	assert_int_equal(np->members[1].since, 1111);
	assert_int_equal(np->members[2].state, HEALTH_UNKNOWN);
	/* the unchecked member is up whatever was saved */
	assert_int_equal(hpool_of(s2->health, s2, "c")->members[0].state, HEALTH_UP);
	snapshot_free(s2);
	static const char *const files[] = { "health.state" };
	remove_dir(dir, files, N(files));
	health_free(prev);
	snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rise_fall),
		cmocka_unit_test(test_counts_saturate),
		cmocka_unit_test(test_min_up),
		cmocka_unit_test(test_failing),
		cmocka_unit_test(test_admin_precedence),
		cmocka_unit_test(test_admin_targets),
		cmocka_unit_test(test_override_schedule),
		cmocka_unit_test(test_pool_since),
		cmocka_unit_test(test_member_since_carried),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
