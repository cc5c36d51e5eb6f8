/* Unit tests: DNSSEC key loading, DS records and RRSIGs. The keys are made
 * at test time by ldns-keygen (ldnsutils); signatures are checked by ldns's
 * verification (ldns_verify_rrsig), not by this module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gslb/dnssec.h"
#include "gslb/err.h"

static char dir[64];

/* Runs ldns-keygen ARGS in the test directory; writes dir/basename to out. */
static void keygen(const char *args, char *out, size_t outlen)
{
	char cmd[256], name[128];
	snprintf(cmd, sizeof(cmd), "cd '%s' && ldns-keygen %s", dir, args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(name, sizeof(name), p));
	assert_int_equal(pclose(p), 0);
	name[strcspn(name, "\n")] = '\0';
	snprintf(out, outlen, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gslb-dnssec-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The key tag is the one in the file name K<zone>+<alg>+<tag>. */
static unsigned tag_of(const char *base)
{
	const char *p = strrchr(base, '+');
	return (unsigned)strtoul(p + 1, NULL, 10);
}

static void test_load_ecdsa_ksk_and_ds(void **state)
{
	(void)state;
	char base[256], err[256] = "", dsfile[300], line[512];
	keygen("-a ECDSAP256SHA256 -k example.com", base, sizeof(base));
	struct dnssec_key k;
	assert_int_equal(dnssec_key_load(&k, base, "Example.COM", err, sizeof(err)), GSLB_OK);
	assert_int_equal(k.alg, DNSSEC_ALG_ECDSAP256SHA256);
	assert_int_equal(k.flags, 257);
	assert_int_equal(k.tag, tag_of(base));
	assert_false(k.private_world_readable);
	/* the DS ldns-keygen wrote next to the key */
	snprintf(dsfile, sizeof(dsfile), "%s.ds", base);
	FILE *f = fopen(dsfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	ldns_rr *want = NULL;
	assert_int_equal(ldns_rr_new_frm_str(&want, line, 3600, NULL, NULL), LDNS_STATUS_OK);
	ldns_rr *ds = dnssec_key_ds(&k, LDNS_SHA256, 3600);
	assert_non_null(ds);
	assert_int_equal(ldns_rr_compare(ds, want), 0);
	ldns_rr_free(ds);
	ldns_rr_free(want);
	/* printed DS: one line, SEP keys only */
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(dnssec_print_ds(m, &k, 1, 3600), GSLB_OK);
	fclose(m);
	char expect[64];
	snprintf(expect, sizeof(expect), "\tDS\t%u 13 2 ", k.tag);
	assert_non_null(strstr(buf, expect));
	assert_ptr_equal(strchr(buf, '\n'), buf + len - 1);
	free(buf);
	dnssec_key_free(&k);
}

static ldns_rr_list *a_rrset(const char *owner, const char *const *addrs, size_t n)
{
	ldns_rr_list *l = ldns_rr_list_new();
	for (size_t i = 0; i < n; i++) {
		char text[128];
		ldns_rr *rr = NULL;
		snprintf(text, sizeof(text), "%s 300 IN A %s", owner, addrs[i]);
		assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_rr_list_push_rr(l, rr);
	}
	return l;
}

static void sign_and_verify(const char *keygen_args)
{
	char base[256], err[256] = "";
	keygen(keygen_args, base, sizeof(base));
	struct dnssec_key k;
	assert_int_equal(dnssec_key_load(&k, base, "example.com.", err, sizeof(err)), GSLB_OK);
	static const char *const addrs[] = { "192.0.2.9", "192.0.2.1", "198.51.100.7" };
	/* mixed case and unsorted: signing must use the canonical form */
	ldns_rr_list *rrset = a_rrset("WwW.Example.com.", addrs, 3);
	uint32_t now = (uint32_t)time(NULL);
	ldns_rr *sig = dnssec_sign_rrset(rrset, &k, now - 3600, now + 86400);
	assert_non_null(sig);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig)), k.tag);
	assert_int_equal(ldns_rdf2native_time_t(ldns_rr_rrsig_inception(sig)), now - 3600);
	assert_int_equal(ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(sig)), now + 86400);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rrsig_labels(sig)), 3);
	ldns_rr_list *keys = ldns_rr_list_new();
	ldns_rr_list_push_rr(keys, ldns_rr_clone(k.dnskey));
	ldns_rr_list *good = ldns_rr_list_new();
	/* the validator's view: lower case, another order */
	static const char *const sorted[] = { "198.51.100.7", "192.0.2.1", "192.0.2.9" };
	ldns_rr_list *seen = a_rrset("www.example.com.", sorted, 3);
	ldns_status st = ldns_verify_rrsig_keylist(seen, sig, keys, good);
	if (st != LDNS_STATUS_OK)
		fail_msg("verification: %s", ldns_get_errorstr_by_id(st));
	/* one record less: the signature no longer verifies */
	ldns_rr_list *fewer = a_rrset("www.example.com.", sorted, 2);
	assert_int_not_equal(ldns_verify_rrsig_keylist(fewer, sig, keys, good), LDNS_STATUS_OK);
	/* expired signature */
	ldns_rr *old = dnssec_sign_rrset(rrset, &k, now - 7200, now - 3600);
	assert_non_null(old);
	assert_int_equal(ldns_verify_rrsig_keylist(seen, old, keys, good),
			 LDNS_STATUS_CRYPTO_SIG_EXPIRED);
	ldns_rr_free(old);
	ldns_rr_list_deep_free(fewer);
	ldns_rr_list_deep_free(seen);
	ldns_rr_list_free(good);
	ldns_rr_list_deep_free(keys);
	ldns_rr_free(sig);
	ldns_rr_list_deep_free(rrset);
	dnssec_key_free(&k);
}

static void test_sign_ecdsa(void **state)
{
	(void)state;
	sign_and_verify("-a ECDSAP256SHA256 example.com");
}

static void test_sign_ed25519(void **state)
{
	(void)state;
	sign_and_verify("-a ED25519 -k example.com");
}

static void expect_error(const char *base, const char *zone, const char *needle)
{
	char err[512] = "";
	struct dnssec_key k;
	assert_true(dnssec_key_load(&k, base, zone, err, sizeof(err)) < 0);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_null(k.key);
	assert_null(k.dnskey);
}

static void test_load_errors(void **state)
{
	(void)state;
	char a[256], b[256], path[300], cmd[700];
	keygen("-a ED25519 example.com", a, sizeof(a));
	keygen("-a ED25519 example.com", b, sizeof(b));
	expect_error(a, "example.net", "not of zone example.net");
	snprintf(path, sizeof(path), "%s/missing", dir);
	expect_error(path, "example.com", "missing.key: No such file");
	/* the private part of another key */
	snprintf(cmd, sizeof(cmd), "cp '%s.private' '%s.private'", b, a);
	assert_int_equal(system(cmd), 0);
	expect_error(a, "example.com", "does not match");
	/* no private part */
	snprintf(path, sizeof(path), "%s.private", a);
	assert_int_equal(unlink(path), 0);
	expect_error(a, "example.com", ".private: No such file");
	/* bad private file: named with its line */
	write_file(path, "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: !!\n");
	expect_error(a, "example.com", ".private:");
	/* RSA (algorithm 8) is not supported */
	snprintf(path, sizeof(path), "%s/Krsa", dir);
	snprintf(cmd, sizeof(cmd), "%s.key", path);
	write_file(cmd, "; comment\nexample.com. IN DNSKEY 256 3 8 AwEAAQ==\n");
	expect_error(path, "example.com", "algorithm 8 not supported");
	write_file(cmd, "example.com. IN DNSKEY 0 3 13 AwEAAQ==\n");
	expect_error(path, "example.com", "lack the zone key bit");
	write_file(cmd, "example.com. IN DNSKEY 385 3 13 AwEAAQ==\n");
	expect_error(path, "example.com", "revoked");
	write_file(cmd, "example.com. IN A 192.0.2.1\n");
	expect_error(path, "example.com", "Krsa.key:");
	write_file(cmd, "; only a comment\n");
	expect_error(path, "example.com", "no DNSKEY record");
}

static void test_world_readable_private(void **state)
{
	(void)state;
	char base[256], path[300], err[256] = "";
	keygen("-a ED25519 example.com", base, sizeof(base));
	snprintf(path, sizeof(path), "%s.private", base);
	assert_int_equal(chmod(path, 0644), 0);
	struct dnssec_key k;
	assert_int_equal(dnssec_key_load(&k, base, "example.com", err, sizeof(err)), GSLB_OK);
	assert_true(k.private_world_readable);
	assert_int_equal(k.flags, 256);
	dnssec_key_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_ecdsa_ksk_and_ds),
		cmocka_unit_test(test_sign_ecdsa),
		cmocka_unit_test(test_sign_ed25519),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_world_readable_private),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
