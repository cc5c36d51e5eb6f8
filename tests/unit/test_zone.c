/* Unit tests: zone loading, validation errors with file:line, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/err.h"
#include "gslb/zone.h"

#ifndef TEST_DATADIR
#error TEST_DATADIR must be defined
#endif

static struct zone *load_ok(const char *file)
{
	char path[1024], err[512] = "";
	struct zone *z = NULL;
	snprintf(path, sizeof(path), "%s/unit/%s", TEST_DATADIR, file);
	int rc = zone_load("unit.test", path, &z, err, sizeof(err));
	if (rc)
		print_error("zone_load: %s\n", err);
	assert_int_equal(rc, GSLB_OK);
	assert_non_null(z);
	return z;
}

static void expect_error(const char *file, const char *needle, int line)
{
	char path[1024], err[512] = "", want[64];
	struct zone *z = NULL;
	snprintf(path, sizeof(path), "%s/unit/%s", TEST_DATADIR, file);
	int rc = zone_load("unit.test", path, &z, err, sizeof(err));
	assert_true(rc < 0);
	assert_null(z);
	if (!strstr(err, needle))
		print_error("error was: %s\n", err);
	assert_non_null(strstr(err, needle));
	assert_non_null(strstr(err, file));
	if (line > 0) {
		snprintf(want, sizeof(want), ".zone:%d:", line);
		if (!strstr(err, want))
			print_error("error was: %s (want line %d)\n", err, line);
		assert_non_null(strstr(err, want));
	}
}

static void lookup(const struct zone *z, const char *name, uint16_t qtype,
		   struct zone_answer *za)
{
	uint8_t n[DNAME_MAXLEN];
	size_t l = dname_from_str(name, n);
	assert_true(l > 0);
	zone_lookup(z, n, l, qtype, za);
}

static void test_load_counts_and_serial(void **state)
{
	(void)state;
	struct zone *z = load_ok("unit.test.zone");
	assert_int_equal(z->serial, 2026112601);
	assert_string_equal(z->origin_str, "unit.test.");
	/* "dup" is listed twice with the same data: RRsets are sets. */
	uint8_t n[DNAME_MAXLEN];
	size_t l = dname_from_str("dup.unit.test", n);
	const struct zone_node *node = zone_find(z, n, l);
	assert_non_null(node);
	const struct zone_rrset *rs = zone_rrset(node, 1);
	assert_non_null(rs);
	assert_int_equal(rs->count, 1);
	/* Unknown type in RFC 3597 form keeps its bytes. */
	l = dname_from_str("unk.unit.test", n);
	node = zone_find(z, n, l);
	rs = zone_rrset(node, 65280);
	assert_non_null(rs);
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	assert_true(zone_rrset_next(rs, &pos, &rd, &rdlen));
	assert_int_equal(rdlen, 4);
	assert_memory_equal(rd, "\x01\x02\x03\x04", 4);
	zone_free(z);
}

static void test_lookup_kinds(void **state)
{
	(void)state;
	struct zone *z = load_ok("unit.test.zone");
	struct zone_answer za;

	lookup(z, "www.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_EXACT);
	lookup(z, "WWW.Unit.Test", 1, &za); /* callers lower-case; table is lower-case */
	assert_int_equal(za.result, ZONE_EXACT);
	lookup(z, "unit.test", 6, &za);
	assert_int_equal(za.result, ZONE_EXACT);
	assert_true(za.node->flags & ZONE_NODE_APEX);

	lookup(z, "nope.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_NXDOMAIN);

	lookup(z, "anything.wild.unit.test", 16, &za);
	assert_int_equal(za.result, ZONE_WILDCARD);
	lookup(z, "a.b.wild.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_WILDCARD);
	lookup(z, "wild.unit.test", 1, &za); /* the parent is an empty non-terminal */
	assert_int_equal(za.result, ZONE_EXACT);
	assert_true(za.node->flags & ZONE_NODE_ENT);

	/* "y.ent" exists (empty non-terminal), so "*.ent" does not cover it
	 * nor names below it (RFC 4592 2.2.2). */
	lookup(z, "y.ent.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_EXACT);
	assert_int_equal(za.node->nrrsets, 0);
	lookup(z, "z.y.ent.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_NXDOMAIN);
	lookup(z, "q.ent.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_WILDCARD);

	lookup(z, "child.unit.test", 1, &za);
	assert_int_equal(za.result, ZONE_DELEGATION);
	lookup(z, "deep.down.child.unit.test", 28, &za);
	assert_int_equal(za.result, ZONE_DELEGATION);
	lookup(z, "ns.child.unit.test", 1, &za); /* glue is not an answer */
	assert_int_equal(za.result, ZONE_DELEGATION);
	lookup(z, "child.unit.test", 43, &za); /* DS: parent side */
	assert_int_equal(za.result, ZONE_EXACT);
	assert_non_null(zone_rrset(za.node, 43));
	zone_free(z);
}

static void test_rejects_bad_zones(void **state)
{
	(void)state;
	expect_error("bad-cname.zone", "CNAME and other data", 7);
	expect_error("bad-nosoa.zone", "no SOA", 0);
	expect_error("bad-nons.zone", "no NS", 0);
	expect_error("bad-outside.zone", "outside the zone", 6);
	expect_error("bad-syntax.zone", "bad-syntax.zone:5:", 5);
	expect_error("does-not-exist.zone", "cannot open", 0);
}

static void test_zoneset_most_specific(void **state)
{
	(void)state;
	char path[1024], err[512];
	struct zone *zs_in[2] = { NULL, NULL };
	snprintf(path, sizeof(path), "%s/unit/unit.test.zone", TEST_DATADIR);
	assert_int_equal(zone_load("unit.test", path, &zs_in[0], err, sizeof(err)), 0);
	assert_int_equal(zone_load("unit.test", path, &zs_in[1], err, sizeof(err)), 0);
	struct zoneset *set = NULL;
	/* The same origin twice is refused, and both zones are freed. */
	assert_int_equal(zoneset_new(zs_in, 2, &set, err, sizeof(err)), GSLB_EEXIST);
	assert_null(set);
	assert_non_null(strstr(err, "already loaded"));

	assert_int_equal(zone_load("unit.test", path, &zs_in[0], err, sizeof(err)), 0);
	assert_int_equal(zoneset_new(zs_in, 1, &set, err, sizeof(err)), 0);
	uint8_t n[DNAME_MAXLEN];
	size_t l = dname_from_str("a.b.unit.test", n);
	assert_non_null(zoneset_find(set, n, l));
	l = dname_from_str("unit.test", n);
	assert_non_null(zoneset_find(set, n, l));
	l = dname_from_str("test", n);
	assert_null(zoneset_find(set, n, l));
	l = dname_from_str("xunit.test", n);
	assert_null(zoneset_find(set, n, l));
	zoneset_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_counts_and_serial),
		cmocka_unit_test(test_lookup_kinds),
		cmocka_unit_test(test_rejects_bad_zones),
		cmocka_unit_test(test_zoneset_most_specific),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
