/* Unit tests: dns_process from query bytes to reply bytes. Replies are
 * decoded with ldns, an independent parser, so compression and counts are
 * checked by someone else's code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "gslb/config.h"
#include "gslb/dns.h"
#include "gslb/snapshot.h"
#include "gslb/zone.h"

struct fixture {
	struct conf conf;
	struct snapshot snap;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[1024], err[512];
	struct zone *z = NULL;
	if (!f)
		return -1;
	snprintf(path, sizeof(path), "%s/unit/unit.test.zone", TEST_DATADIR);
	if (zone_load("unit.test", path, &z, err, sizeof(err)) ||
	    zoneset_new(&z, 1, &f->snap.zones, err, sizeof(err))) {
		free(f);
		return -1;
	}
	f->conf.edns_size = 1232;
	f->conf.identity = (char *)"ns1.unit";
	f->conf.nsid = (uint8_t *)"gslb-test";
	f->conf.nsid_len = 9;
	f->snap.conf = &f->conf;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	zoneset_free(f->snap.zones);
	free(f);
	return 0;
}

/* Build a query with ldns, optionally with EDNS. */
static size_t make_query(uint8_t *out, size_t cap, const char *name, ldns_rr_type t,
			 ldns_rr_class cl, int edns, uint16_t bufsize)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_pkt_query_new_frm_str(&p, name, t, cl, LDNS_RD);
	assert_int_equal(st, LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 0x4242);
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, bufsize);
		ldns_pkt_set_edns_do(p, 1);
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	assert_true(len <= cap);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

static size_t run(struct fixture *f, const uint8_t *q, size_t qlen, uint8_t *resp, size_t cap,
		  enum dns_transport tr)
{
	struct dns_request req = { q, qlen, resp, cap, tr, NULL, 0, 12345, NULL };
	return dns_process(&f->snap, &req, NULL);
}

static ldns_pkt *ask(struct fixture *f, const char *name, ldns_rr_type t, int edns,
		     uint16_t bufsize, enum dns_transport tr)
{
	uint8_t q[512], r[65535];
	size_t ql = make_query(q, sizeof(q), name, t, LDNS_RR_CLASS_IN, edns, bufsize);
	size_t rl = run(f, q, ql, r, sizeof(r), tr);
	assert_true(rl >= 12);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), 0x4242);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_rd(p));
	return p;
}

static void test_positive_answer(void **state)
{
	ldns_pkt *p = ask(*state, "www.unit.test.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 2);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	assert_int_equal(ldns_rr_ttl(rr), 3600);
	ldns_pkt_free(p);
}

static void test_question_case_is_kept(void **state)
{
	uint8_t q[512], r[4096];
	size_t ql = make_query(q, sizeof(q), "wWw.UnIt.TeSt.", LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, 0, 0);
	size_t rl = run(*state, q, ql, r, sizeof(r), DNS_UDP);
	assert_true(rl > ql);
	/* Question bytes, including case, come back verbatim. */
	assert_memory_equal(r + 12, q + 12, ql - 12);
	/* The answer owner points at the question name. */
	assert_int_equal(r[ql], 0xC0);
	assert_int_equal(r[ql + 1], 12);
}

static void test_nxdomain_and_nodata(void **state)
{
	ldns_pkt *p = ask(*state, "nope.unit.test.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), 300); /* min(SOA TTL, MINIMUM) */
	ldns_pkt_free(p);

	p = ask(*state, "www.unit.test.", LDNS_RR_TYPE_AAAA, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);
}

static void test_cname_chain_and_wildcard(void **state)
{
	ldns_pkt *p = ask(*state, "chain1.unit.test.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 4); /* 2 CNAME + 2 A */
	ldns_pkt_free(p);

	p = ask(*state, "outside.unit.test.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_ancount(p), 1); /* the chain leaves our zones */
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);

	p = ask(*state, "Foo.Wild.unit.test.", LDNS_RR_TYPE_TXT, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	ldns_rdf *want = ldns_dname_new_frm_str("foo.wild.unit.test.");
	assert_int_equal(ldns_dname_compare(ldns_rr_owner(rr), want), 0);
	ldns_rdf_deep_free(want);
	ldns_pkt_free(p);
}

static void test_referral_and_ds(void **state)
{
	ldns_pkt *p = ask(*state, "www.child.unit.test.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_false(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 1); /* glue */
	ldns_pkt_free(p);

	p = ask(*state, "child.unit.test.", LDNS_RR_TYPE_DS, 0, 0, DNS_UDP);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
}

static void test_additional_for_mx_and_ns(void **state)
{
	ldns_pkt *p = ask(*state, "unit.test.", LDNS_RR_TYPE_MX, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 1); /* mail A */
	ldns_pkt_free(p);
	p = ask(*state, "unit.test.", LDNS_RR_TYPE_NS, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_ancount(p), 2);
	assert_int_equal(ldns_pkt_arcount(p), 2); /* ns1 A and AAAA; ns2 is elsewhere */
	ldns_pkt_free(p);
}

static void test_truncation(void **state)
{
	/* Three 200-byte TXT strings do not fit in 512 bytes. */
	ldns_pkt *p = ask(*state, "big.unit.test.", LDNS_RR_TYPE_TXT, 0, 0, DNS_UDP);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	p = ask(*state, "big.unit.test.", LDNS_RR_TYPE_TXT, 1, 1232, DNS_UDP);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 3);
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	p = ask(*state, "big.unit.test.", LDNS_RR_TYPE_TXT, 0, 0, DNS_TCP);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 3);
	ldns_pkt_free(p);
}

static void test_refused_and_any(void **state)
{
	ldns_pkt *p = ask(*state, "www.example.org.", LDNS_RR_TYPE_A, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(p));
	ldns_pkt_free(p);
	p = ask(*state, "unit.test.", LDNS_RR_TYPE_ANY, 0, 0, DNS_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1); /* RFC 8482: one RRset */
	ldns_pkt_free(p);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t q[512], r[4096];
	size_t ql = make_query(q, sizeof(q), "www.unit.test.", LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, 0, 0);
	/* Too short: dropped. */
	assert_int_equal(run(f, q, 11, r, sizeof(r), DNS_UDP), 0);
	/* A response: dropped. */
	q[2] |= 0x80;
	assert_int_equal(run(f, q, ql, r, sizeof(r), DNS_UDP), 0);
	q[2] &= 0x7f;
	/* Truncated question: FORMERR. */
	size_t rl = run(f, q, ql - 3, r, sizeof(r), DNS_UDP);
	assert_int_equal(rl, 12);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_FORMERR);
	/* QDCOUNT 2: FORMERR. */
	q[5] = 2;
	rl = run(f, q, ql, r, sizeof(r), DNS_UDP);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_FORMERR);
	q[5] = 1;
	/* Opcode NOTIFY: NOTIMP. */
	q[2] = (uint8_t)(q[2] | (4 << 3));
	rl = run(f, q, ql, r, sizeof(r), DNS_UDP);
	assert_true(rl >= 12);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_NOTIMPL);
	assert_int_equal((r[2] >> 3) & 0xF, 4);
}

static void test_edns_badvers_and_nsid(void **state)
{
	struct fixture *f = *state;
	/* Hand-made: www.unit.test A with OPT version 1, then one with NSID. */
	uint8_t q[128];
	size_t ql = make_query(q, sizeof(q), "www.unit.test.", LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, 0, 0);
	q[11] = 1; /* ARCOUNT */
	const uint8_t opt_v1[] = { 0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0 };
	memcpy(q + ql, opt_v1, sizeof(opt_v1));
	uint8_t r[4096];
	size_t rl = run(f, q, ql + sizeof(opt_v1), r, sizeof(r), DNS_UDP);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
	/* BADVERS is 16: header rcode 0, extended rcode 1 in the OPT TTL. */
	assert_int_equal(ldns_pkt_get_rcode(p), 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(p), 1);
	assert_int_equal(ldns_pkt_edns_version(p), 0);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);

	const uint8_t opt_nsid[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0 };
	memcpy(q + ql, opt_nsid, sizeof(opt_nsid));
	rl = run(f, q, ql + sizeof(opt_nsid), r, sizeof(r), DNS_UDP);
	assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_ancount(p), 2);
	ldns_rdf *data = ldns_pkt_edns_data(p);
	assert_non_null(data);
	assert_int_equal(ldns_rdf_size(data), 4 + 9);
	assert_memory_equal(ldns_rdf_data(data) + 4, "gslb-test", 9);
	ldns_pkt_free(p);

	/* Two OPT records: FORMERR. */
	q[11] = 2;
	memcpy(q + ql, opt_nsid, sizeof(opt_nsid));
	memcpy(q + ql + sizeof(opt_nsid), opt_nsid, sizeof(opt_nsid));
	rl = run(f, q, ql + 2 * sizeof(opt_nsid), r, sizeof(r), DNS_UDP);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_FORMERR);
	/* OPT option running past its RDATA: FORMERR. */
	q[11] = 1;
	const uint8_t opt_bad[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 9 };
	memcpy(q + ql, opt_bad, sizeof(opt_bad));
	rl = run(f, q, ql + sizeof(opt_bad), r, sizeof(r), DNS_UDP);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_FORMERR);
}

static void test_chaos(void **state)
{
	struct fixture *f = *state;
	uint8_t q[512], r[4096];
	size_t ql = make_query(q, sizeof(q), "id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH,
			       0, 0);
	size_t rl = run(f, q, ql, r, sizeof(r), DNS_UDP);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	/* version is not configured in this fixture: REFUSED. */
	ql = make_query(q, sizeof(q), "version.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0,
			0);
	rl = run(f, q, ql, r, sizeof(r), DNS_UDP);
	assert_int_equal(r[3] & 0xF, LDNS_RCODE_REFUSED);
}

/* Every prefix of a valid query, and every single-byte corruption of it,
 * must produce either nothing or a reply ldns can parse. */
static void test_mutations_never_break(void **state)
{
	struct fixture *f = *state;
	uint8_t q[512], m[512], r[65535];
	size_t ql = make_query(q, sizeof(q), "a.b.wild.unit.test.", LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, 1, 4096);
	for (size_t cut = 0; cut <= ql; cut++) {
		size_t rl = run(f, q, cut, r, sizeof(r), DNS_UDP);
		if (rl) {
			ldns_pkt *p = NULL;
			assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
			ldns_pkt_free(p);
		}
	}
	for (size_t i = 0; i < ql; i++) {
		for (int v = 0; v < 256; v += 7) {
			memcpy(m, q, ql);
			m[i] = (uint8_t)v;
			size_t rl = run(f, m, ql, r, sizeof(r), DNS_UDP);
			if (rl) {
				ldns_pkt *p = NULL;
				assert_true(rl <= 4096 || rl <= 1232);
				assert_int_equal(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
				ldns_pkt_free(p);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positive_answer),
		cmocka_unit_test(test_question_case_is_kept),
		cmocka_unit_test(test_nxdomain_and_nodata),
		cmocka_unit_test(test_cname_chain_and_wildcard),
		cmocka_unit_test(test_referral_and_ds),
		cmocka_unit_test(test_additional_for_mx_and_ns),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_refused_and_any),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_edns_badvers_and_nsid),
		cmocka_unit_test(test_chaos),
		cmocka_unit_test(test_mutations_never_break),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
