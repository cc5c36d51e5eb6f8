/* Unit tests: the signature cache (dnssec_cache.c). A key made by
 * ldns-keygen signs; signatures are checked by ldns_verify_rrsig. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <urcu/urcu-memb.h>

#include "gslb/dnssec_cache.h"
#include "gslb/err.h"

static char dir[64];
static struct dnssec_key key;
static uint64_t fp = 0x1234;
static struct zone_signer zs;

static const uint8_t owner[] = "\3www\7example\3com";
static const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 }, a3[4] = { 192, 0, 2, 3 };

static int setup(void **state)
{
	(void)state;
	char cmd[256], name[128], base[256], err[256];
	snprintf(dir, sizeof(dir), "/tmp/gslb-sigcache-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "cd '%s' && ldns-keygen -a ECDSAP256SHA256 example.com", dir);
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(name, sizeof(name), p) || pclose(p) != 0)
		return -1;
	name[strcspn(name, "\n")] = '\0';
	snprintf(base, sizeof(base), "%s/%s", dir, name);
	if (dnssec_key_load(&key, base, "example.com", err, sizeof(err)))
		return -1;
	zs = (struct zone_signer){ .keys = &key,
				   .nkeys = 1,
				   .fp = &fp,
				   .validity = 3600,
				   .refresh = 600,
				   .inception_offset = 60 };
	urcu_memb_register_thread();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	urcu_memb_unregister_thread();
	dnssec_key_free(&key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sig_rrset rrset(const uint8_t *const *rd, const uint16_t *len, size_t n)
{
	return (struct sig_rrset){ owner, sizeof(owner), 1, 300, n, rd, len };
}

/* The RRSIG of an entry verifies over the A records given, at time at. */
static void verify(const struct sig_entry *e, const uint8_t *const *rd, size_t n, uint32_t at)
{
	uint16_t len;
	const uint8_t *sig = sig_entry_rdata(e, &len);
	uint8_t wire[1024];
	size_t pos = 0, w = sizeof(owner);
	assert_true(w + 10 + len <= sizeof(wire));
	memcpy(wire, owner, w);
	static const uint8_t fixed[8] = { 0, 46, 0, 1, 0, 0, 1, 44 };
	memcpy(wire + w, fixed, 8);
	w += 8;
	wire[w++] = (uint8_t)(len >> 8);
	wire[w++] = (uint8_t)len;
	memcpy(wire + w, sig, len);
	ldns_rr *rrsig = NULL;
	assert_int_equal(ldns_wire2rr(&rrsig, wire, w + len, &pos, LDNS_SECTION_ANSWER),
			 LDNS_STATUS_OK);
	ldns_rr_list *set = ldns_rr_list_new(), *keys = ldns_rr_list_new();
	for (size_t i = 0; i < n; i++) {
		char text[128];
		snprintf(text, sizeof(text), "www.example.com. 300 IN A %u.%u.%u.%u", rd[i][0],
			 rd[i][1], rd[i][2], rd[i][3]);
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_rr_list_push_rr(set, rr);
	}
	ldns_rr_list_push_rr(keys, ldns_rr_clone(key.dnskey));
	assert_int_equal(ldns_verify_rrsig_keylist_time(set, rrsig, keys, (time_t)at, NULL),
			 LDNS_STATUS_OK);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(keys);
	ldns_rr_free(rrsig);
}

static void test_hit_in_any_order(void **state)
{
	(void)state;
	struct sigcache *sc = sigcache_new(64);
	const uint8_t *fwd[3] = { a1, a2, a3 }, *rev[3] = { a3, a1, a2 };
	const uint16_t lens[3] = { 4, 4, 4 };
	struct sig_rrset r1 = rrset(fwd, lens, 3), r2 = rrset(rev, lens, 3);
	uint32_t now = (uint32_t)time(NULL);
	const struct sig_entry *e1 = sigcache_get(sc, &zs, 0, &r1, now);
	assert_non_null(e1);
	verify(e1, fwd, 3, now);
	assert_ptr_equal(sigcache_get(sc, &zs, 0, &r2, now), e1);
	/* another set: another signature */
	struct sig_rrset r3 = rrset(fwd, lens, 2);
	const struct sig_entry *e3 = sigcache_get(sc, &zs, 0, &r3, now);
	assert_ptr_not_equal(e3, e1);
	verify(e3, fwd, 2, now);
	struct sigcache_stats st;
	sigcache_stats(sc, &st);
	assert_int_equal(st.made, 2);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.entries, 2);
	sigcache_free(sc);
}

/* The warm-up's lookups are no hits or misses: those count queries. */
static void test_warm_up_counts_apart(void **state)
{
	(void)state;
	struct sigcache *sc = sigcache_new(64);
	const uint8_t *fwd[2] = { a1, a2 };
	const uint16_t lens[2] = { 4, 4 };
	struct sig_rrset r = rrset(fwd, lens, 2);
	uint32_t now = (uint32_t)time(NULL);
	const struct sig_entry *e = sigcache_warm(sc, &zs, 0, &r, now);
	assert_non_null(e);
	assert_ptr_equal(sigcache_warm(sc, &zs, 0, &r, now), e);
	struct sigcache_stats st;
	sigcache_stats(sc, &st);
	assert_int_equal(st.made, 1);
	assert_int_equal(st.warmed, 1);
	assert_int_equal(st.hits + st.misses, 0);
	assert_ptr_equal(sigcache_get(sc, &zs, 0, &r, now), e);
	sigcache_stats(sc, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.made, 1);
	sigcache_free(sc);
}

static void test_bounded(void **state)
{
	(void)state;
	struct sigcache *sc = sigcache_new(16);
	uint32_t now = (uint32_t)time(NULL);
	const uint16_t lens[1] = { 4 };
	for (unsigned i = 0; i < 100; i++) {
		uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		const uint8_t *rd[1] = { a };
		struct sig_rrset r = rrset(rd, lens, 1);
		assert_non_null(sigcache_get(sc, &zs, 0, &r, now));
	}
	struct sigcache_stats st;
	sigcache_stats(sc, &st);
	assert_true(st.entries <= 16);
	assert_int_equal(st.evictions, 100 - st.entries);
	sigcache_reclaim(sc, 0); /* frees what was pushed out */
	sigcache_free(sc);
}

static void test_sweep_refreshes_used_and_drops_the_rest(void **state)
{
	(void)state;
	struct sigcache *sc = sigcache_new(64);
	uint32_t now = (uint32_t)time(NULL);
	const uint8_t *one[1] = { a1 }, *two[1] = { a2 };
	const uint16_t lens[1] = { 4 };
	struct sig_rrset r1 = rrset(one, lens, 1), r2 = rrset(two, lens, 1);
	const struct sig_entry *e1 = sigcache_get(sc, &zs, 0, &r1, now);
	assert_non_null(sigcache_get(sc, &zs, 0, &r2, now));
	const struct zone_signer *all[1] = { &zs };
	/* not due yet: kept; the sweep clears the marks of use */
	sigcache_sweep(sc, all, 1, now + 10);
	assert_ptr_equal(sigcache_get(sc, &zs, 0, &r1, now + 10), e1);
	/* within signature_refresh of expiry: r1 (used since) signed again,
	 * r2 (unused) dropped */
	uint32_t later = now + zs.validity - zs.refresh + 1;
	sigcache_sweep(sc, all, 1, later);
	struct sigcache_stats st;
	sigcache_stats(sc, &st);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.entries, 1);
	const struct sig_entry *e1b = sigcache_get(sc, &zs, 0, &r1, later);
	assert_ptr_not_equal(e1b, e1);
	verify(e1b, one, 1, later);
	sigcache_stats(sc, &st);
	assert_int_equal(st.hits, 2);
	/* a key no zone has any more: dropped */
	sigcache_sweep(sc, NULL, 0, later);
	sigcache_stats(sc, &st);
	assert_int_equal(st.entries, 0);
	sigcache_free(sc);
}

static void test_late_sweep_the_query_path_signs_again(void **state)
{
	(void)state;
	struct sigcache *sc = sigcache_new(64);
	uint32_t now = (uint32_t)time(NULL);
	const uint8_t *one[1] = { a1 };
	const uint16_t lens[1] = { 4 };
	struct sig_rrset r1 = rrset(one, lens, 1);
	const struct sig_entry *e1 = sigcache_get(sc, &zs, 0, &r1, now);
	/* less than half the refresh time left and no sweep: not sent */
	uint32_t late = now + zs.validity - zs.refresh / 2;
	const struct sig_entry *e2 = sigcache_get(sc, &zs, 0, &r1, late);
	assert_non_null(e2);
	assert_ptr_not_equal(e2, e1);
	const struct zone_signer *all[1] = { &zs };
	sigcache_sweep(sc, all, 1, late);
	sigcache_reclaim(sc, 1);
	sigcache_free(sc);
}

static void test_nsec_rdata(void **state)
{
	(void)state;
	uint8_t out[300];
	const uint16_t types[] = { 1, 46, 47, 128, 257 };
	size_t n = dnssec_nsec_rdata(out, sizeof(out), owner, sizeof(owner), types, 5);
	static const uint8_t want[] = { 1,    0,    3,    'w',  'w',  'w',  7,    'e',  'x',
					'a',  'm',  'p',  'l',  'e',  3,    'c',  'o',  'm',
					0,    0,    17,   0x40, 0,    0,    0,    0,    0x03,
					0,    0,    0,    0,    0,    0,    0,    0,    0,
					0,    0x80, 1,    1,    0x40 };
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(dnssec_nsec_rdata(out, 10, owner, sizeof(owner), types, 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_in_any_order),
		cmocka_unit_test(test_warm_up_counts_apart),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_sweep_refreshes_used_and_drops_the_rest),
		cmocka_unit_test(test_late_sweep_the_query_path_signs_again),
		cmocka_unit_test(test_nsec_rdata),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
