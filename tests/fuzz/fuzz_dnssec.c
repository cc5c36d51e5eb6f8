/* libFuzzer harness for signed answers: dns_process() as fuzz_dns.c drives
 * it (same input layout: a control byte, then the query), against
 * tests/fuzz/fuzz-dnssec.conf, where example.com (a KSK ECDSAP256SHA256 and
 * a ZSK ED25519) and child.example.com (a lone ECDSA key) are signed.
 *
 * Besides fuzz_dns's checks, each response is parsed by ldns and:
 *   - every RRSIG in the answer and authority sections covers an RRset
 *     sent beside it, and verifies with the zones' DNSKEYs (ldns, at the
 *     present time);
 *   - a response without the DO bit (gslbd copies the query's), for a
 *     type other than RRSIG, NSEC or ANY, has no RRSIG and no NSEC
 *     (answers without DO are unchanged).
 * A violation aborts, so libFuzzer keeps the input. */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>

#define HARNESS "fuzz_dnssec"
#define FUZZ_CONF_ENV "GSLB_FUZZ_DNSSEC_CONF"
#define FUZZ_CONF_REL "tests/fuzz/fuzz-dnssec.conf"
#define FUZZ_EXTRA_CHECK check_signed

static void check_signed(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen);

#include "fuzz_dns.c"
#include "gslb/dnssec.h"

static ldns_rr_list *fuzz_keys; /* every zone's DNSKEY records */

static void free_keys(void)
{
	ldns_rr_list_deep_free(fuzz_keys);
	fuzz_keys = NULL;
}

static ldns_rr_list *zone_keys(void)
{
	if (fuzz_keys)
		return fuzz_keys;
	fuzz_keys = ldns_rr_list_new();
	if (!fuzz_keys)
		abort();
	for (size_t i = 0; i < fuzz_snap->conf->nzones; i++) {
		const struct conf_dnssec *d = &fuzz_snap->conf->zones[i].dnssec;
		for (size_t k = 0; k < d->nkeys; k++)
			if (!ldns_rr_list_push_rr(fuzz_keys, ldns_rr_clone(d->keys[k].dnskey)))
				abort();
	}
	if (!ldns_rr_list_rr_count(fuzz_keys))
		fuzz_die(HARNESS, FUZZ_CONF_REL ": no zone with dnssec keys");
	atexit(free_keys);
	return fuzz_keys;
}

/* The records of section with sig's owner, class and covered type, each
 * once (a CNAME loop repeats its records, as validators accept). */
static ldns_rr_list *covered_rrset(const ldns_rr_list *section, const ldns_rr *sig)
{
	ldns_rr_list *set = ldns_rr_list_new();
	ldns_rr_type t = ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig));
	if (!set)
		abort();
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		ldns_rr *rr = ldns_rr_list_rr(section, i);
		if (ldns_rr_get_type(rr) != t || ldns_rr_get_class(rr) != ldns_rr_get_class(sig) ||
		    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(sig)) != 0 ||
		    ldns_rr_list_contains_rr(set, rr))
			continue;
		if (!ldns_rr_list_push_rr(set, rr))
			abort();
	}
	return set;
}

static void check_section(const ldns_rr_list *section, int do_bit)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		ldns_rr *sig = ldns_rr_list_rr(section, i);
		ldns_rr_type t = ldns_rr_get_type(sig);
		if (!do_bit && (t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC))
			fuzz_fail("RRSIG or NSEC sent to a query without DO");
		if (t != LDNS_RR_TYPE_RRSIG)
			continue;
		ldns_rr_list *set = covered_rrset(section, sig);
		if (!ldns_rr_list_rr_count(set))
			fuzz_fail("RRSIG without the RRset it covers");
		ldns_rr_list *good = ldns_rr_list_new();
		if (!good)
			abort();
		ldns_status st = ldns_verify_rrsig_keylist(set, sig, zone_keys(), good);
		ldns_rr_list_free(good);
		ldns_rr_list_free(set);
		if (st != LDNS_STATUS_OK) {
			fprintf(stderr, HARNESS ": %s\n", ldns_get_errorstr_by_id(st));
			fuzz_fail("RRSIG does not verify");
		}
	}
}

/* The DO bit and the question are read from the response (gslbd copies
 * DO into its OPT): ldns leaks on some malformed queries. */
static void check_signed(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen)
{
	ldns_pkt *resp = NULL;
	(void)q;
	(void)qlen;
	if (ldns_wire2pkt(&resp, r, rlen) != LDNS_STATUS_OK)
		fuzz_fail("response does not parse (ldns)");
	int do_bit = ldns_pkt_edns_do(resp);
	const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(resp), 0);
	if (qrr) {
		ldns_rr_type qt = ldns_rr_get_type(qrr);
		if (qt == LDNS_RR_TYPE_RRSIG || qt == LDNS_RR_TYPE_NSEC || qt == LDNS_RR_TYPE_ANY)
			do_bit = 1; /* asked for by type: no claim on their absence */
	}
	check_section(ldns_pkt_answer(resp), do_bit);
	check_section(ldns_pkt_authority(resp), do_bit);
	ldns_pkt_free(resp);
}
