/* Unit tests: zone loading, validation errors with file:line, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <unistd.h>

#include "gslb/err.h"
#include "gslb/zone.h"
#include "gslb/zone_read.h"
#include "../zone_oracle.h"

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

static void lookup(const struct zone *z, const char *name, uint16_t qtype, struct zone_answer *za)
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

/* ---- the reader's fast path against ldns ---------------------------- */

static const char *write_temp(const char *text, char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, cap, "%s/gslb-test-zone-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

/* zread_file reads text as ldns alone does (tests/zone_oracle.h); whether
 * it is an error must match want_error. Returns how many records the fast
 * path read. */
static size_t same_as_ldns(const char *text, int want_error)
{
	char path[256], diff[9000];
	write_temp(text, path, sizeof(path));
	struct zone_oracle o;
	zone_oracle_read(&o, path, "unit.test");
	int is_error = o.err[0] != '\0';
	zone_oracle_free(&o);
	size_t nfast = 0;
	const char *what = zone_oracle_compare(path, "unit.test", diff, sizeof(diff), &nfast);
	if (what || is_error != want_error)
		print_error("zone:\n%s\n%s\n", text, what ? what : "error or not, unexpected");
	assert_null(what);
	assert_int_equal(is_error, want_error);
	unlink(path);
	return nfast;
}

static void test_fast_path_same_as_ldns(void **state)
{
	(void)state;
	/* Plain records of every fast type, in every form the fast path
	 * reads, beside lines it leaves to ldns; blank and comment lines and
	 * directives between them move the line counter and the state both
	 * share (origin, default TTL, previous owner). */
	const char *zone = "$TTL 300\n"
			   "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
			   "@\tNS\tns1\n"
			   "\tNS ns2.example.\n"
			   "ns1 A 192.0.2.1\n"
			   "ns1 60 A 192.0.2.2\n"
			   "ns1 IN A 192.0.2.3\n"
			   "ns1 61 in a 192.0.2.4\n"
			   "   AAAA 2001:db8::1\n"
			   "UPPER.Case AAAA ::ffff:192.0.2.9\n"
			   "abs.unit.test. A 192.0.2.5 ; a comment\n"
			   "\n"
			   "; a comment line\n"
			   "\n"
			   "crlf A 192.0.2.6\r\n"
			   "\r\n"
			   "www CNAME Target.Example.COM.\n"
			   "www2 CNAME host\n"
			   "*.wild A 192.0.2.7\n"
			   "_sip._tcp SRV 10 60 5060 sip\n"
			   "_sip._udp SRV 0 0 65535 sip.example.\n"
			   "mx MX 10 mail\n"
			   "mx MX 010 mail2.example.\n"
			   "mx MX 65536 big\n"
			   "mx MX 20 .\n"
			   "ptr PTR host.unit.test.\n"
			   "txt TXT \"v=spf1 -all\"\n"
			   "txt2 TXT plain\n"
			   "multi A ( 192.0.2.8 )\n"
			   "ttl0 0 A 192.0.2.10\n"
			   "ttlbig 999999999 A 192.0.2.11\n"
			   "ttlhuge 4294967295 A 192.0.2.12\n"
			   "ttlunit 1h A 192.0.2.13\n"
			   "esc\\.aped A 192.0.2.14\n"
			   "tab\t\t300\tIN\tA\t192.0.2.16   \n"
			   "cn1 CNAME @\n"
			   "long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A "
			   "192.0.2.17\n"
			   "$ORIGIN sub.unit.test.\n"
			   "s A 192.0.2.18\n"
			   "@ A 192.0.2.19\n"
			   "ns NS s\n"
			   "$TTL 0\n"
			   "z A 192.0.2.20\n"
			   "$TTL 2d\n"
			   "  A 192.0.2.21\n"
			   ";a comment line: ldns's read of y begins above it\n"
			   "y A 192.0.2.22\f"
			   "y2 A 192.0.2.23\n"
			   "last A 192.0.2.24";
	size_t nfast = same_as_ldns(zone, 0);
	/* most of the A, AAAA, NS, CNAME, PTR, MX and SRV lines */
	if (nfast < 25)
		print_error("fast path read %zu records\n", nfast);
	assert_true(nfast >= 25);

	/* Errors: the same message at the same line. */
	const char *bad[] = {
		"@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx A 1.2.3.4.5\n\n\nfoo A 1.2.3.4\n",
		"@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx AAAA 2001:db8::g\n",
		"@ SOA ns1 h 1 2 3 4 5\nx MX ten mail\n",
		"@ SOA ns1 h 1 2 3 4 5\nx A 192.0.2.1 192.0.2.2\n",
		"@ SOA ns1 h 1 2 3 4 5\n;c\nx.other. A 192.0.2.1\f",
		"@ SOA ns1 h 1 2 3 4 5\nx..y A 192.0.2.1\n",
		"@ SOA ns1 h 1 2 3 4 5\nx A\n",
		"@ SOA ns1 h 1 2 3 4 5\n"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		same_as_ldns(bad[i], 1);
}

static void test_fast_path_checks(void **state)
{
	(void)state;
	/* A fast record outside the zone: its line, as ldns's would be (the
	 * empty lines after a record count towards it). */
	char path[256], err[512] = "", want[600];
	write_temp("@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx.other. A 192.0.2.1\n\n\nfoo A 192.0.2.2\n",
		   path, sizeof(path));
	uint8_t origin[DNAME_MAXLEN];
	size_t olen = dname_from_str("unit.test", origin);
	struct zread zr;
	assert_int_equal(zread_file(&zr, path, origin, olen, "unit.test.", err, sizeof(err)),
			 GSLB_EPARSE);
	snprintf(want, sizeof(want), "%s:5: x.other. is outside the zone unit.test.", path);
	assert_string_equal(err, want);
	zread_free(&zr);
	unlink(path);
}

static void test_rrset_count_limit(void **state)
{
	(void)state;
	/* 65,536 records in one RRset: refused at the line of the one too
	 * many (its 16-bit count used to wrap to 0); 65,535 load. */
	size_t cap = 70000 * 24 + 128, n = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n");
	for (unsigned i = 0; i < 65536; i++)
		n += (size_t)snprintf(text + n, cap - n, "big A 10.%u.%u.%u\n", i >> 16,
				      (i >> 8) & 255, i & 255);
	char path[256], err[512] = "", want[600];
	write_temp(text, path, sizeof(path));
	struct zone *z = NULL;
	assert_int_equal(zone_load("unit.test", path, &z, err, sizeof(err)), GSLB_EPARSE);
	snprintf(want, sizeof(want), "%s:65538: more than 65535 records in one RRset", path);
	assert_string_equal(err, want);
	unlink(path);
	/* without the last one */
	char *last = strstr(text, "big A 10.0.255.255\n");
	assert_non_null(last);
	*last = '\0';
	write_temp(text, path, sizeof(path));
	assert_int_equal(zone_load("unit.test", path, &z, err, sizeof(err)), GSLB_OK);
	uint8_t name[DNAME_MAXLEN];
	size_t l = dname_from_str("big.unit.test", name);
	assert_int_equal(zone_rrset(zone_find(z, name, l), 1)->count, 65535);
	zone_free(z);
	unlink(path);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_counts_and_serial),
		cmocka_unit_test(test_lookup_kinds),
		cmocka_unit_test(test_rejects_bad_zones),
		cmocka_unit_test(test_zoneset_most_specific),
		cmocka_unit_test(test_fast_path_same_as_ldns),
		cmocka_unit_test(test_fast_path_checks),
		cmocka_unit_test(test_rrset_count_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
