/* libFuzzer harness for the query-to-response function dns_process().
 *
 * Input layout: one control byte, then the DNS message as it would arrive
 * (without the TCP length prefix). The control byte picks what a message
 * alone cannot say:
 *   bit 0     transport: 0 = UDP, 1 = TCP
 *   bit 1     peer family: 0 = IPv4, 1 = IPv6
 *   bits 2-3  which peer address of that family (a small fixed table)
 *   bits 4-5  response buffer capacity: 65535, 4096, 1232, 512
 *   bit 6     no peer at all (NULL, as the unit tests call it)
 *   bit 7     the same config with geoip.compact (the class table)
 *
 * The snapshot is loaded once from tests/fuzz/fuzz.conf (zones with every
 * lookup path, the demo GeoIP data, regions and services, so that the client
 * subnet and the peer address reach the decision engine), found through
 * $GSLB_FUZZ_CONF, $GSLB_SRCDIR, the source directory compiled in, or the
 * binary's own location. Besides the sanitizers, each response is checked
 * for what must hold whatever the query: it fits the buffer and the transport,
 * it echoes the ID and has QR set, and it parses as a DNS message whose
 * section counts match its contents. A violation aborts, so libFuzzer keeps
 * the input. */
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gslb/decide.h"
#include "gslb/dns.h"
#include "gslb/log.h"
#include "gslb/snapshot.h"
#include "fuzz_util.h"

/* fuzz_dnssec.c includes this file with its own name, config and a check
 * of its own (FUZZ_EXTRA_CHECK) run on every response. */
#ifndef HARNESS
#define HARNESS "fuzz_dns"
#define FUZZ_CONF_ENV "GSLB_FUZZ_CONF"
#define FUZZ_CONF_REL "tests/fuzz/fuzz.conf"
#endif
/* The edns_size in fuzz.conf: no UDP response may be larger. */
#define FUZZ_EDNS_SIZE 1232

static struct snapshot *fuzz_snap;
static struct snapshot *fuzz_snap_compact; /* fuzz_snap's config, geoip.compact */

static void fuzz_fail(const char *what)
{
	fprintf(stderr, HARNESS ": invariant violated: %s\n", what);
	abort();
}

static void fuzz_cleanup(void)
{
	snapshot_free(fuzz_snap);
	snapshot_free(fuzz_snap_compact);
	fuzz_snap = NULL;
	fuzz_snap_compact = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512] = "";

	fuzz_init(argc, argv);
	if (fuzz_snap)
		return 0;
	fuzz_snap = fuzz_load_snapshot(HARNESS, FUZZ_CONF_ENV, FUZZ_CONF_REL);
	fuzz_snap_compact = fuzz_load_snapshot(HARNESS, FUZZ_CONF_ENV, FUZZ_CONF_REL);
	if (!fuzz_snap_compact->gclass &&
	    decide_build_classes(fuzz_snap_compact, &fuzz_snap_compact->gclass, err, sizeof(err))) {
		fprintf(stderr, HARNESS ": " FUZZ_CONF_REL ", geoip.compact: %s\n", err);
		exit(2);
	}
	atexit(fuzz_cleanup);
	return 0;
}

/* Skip one name in a response. Compression pointers must point strictly
 * backwards (every compressor does so); the expanded name must stay within
 * 255 octets. Returns 0 on a malformed name. */
static int check_name(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;
	size_t total = 0;
	int jumped = 0;
	unsigned hops = 0;

	for (;;) {
		uint8_t c;

		if (p >= len)
			return 0;
		c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= len)
				return 0;
			target = ((size_t)(c & 0x3f) << 8) | msg[p + 1];
			if (target >= p)
				return 0;
			if (!jumped)
				*pos = p + 2;
			jumped = 1;
			if (++hops > 127)
				return 0;
			p = target;
			continue;
		}
		if (c & 0xc0)
			return 0; /* extended label types: never in our output */
		total += (size_t)c + 1;
		if (total > 255)
			return 0;
		if (c == 0) {
			if (!jumped)
				*pos = p + 1;
			return 1;
		}
		p += (size_t)c + 1;
	}
}

static void check_response(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen, size_t cap,
			   enum dns_transport transport)
{
	unsigned qd, an, ns, ar, i;
	size_t pos = DNS_HEADER_LEN;
	int opt = 0;

	if (rlen > cap)
		fuzz_fail("response longer than the buffer");
	if (transport == DNS_UDP && rlen > FUZZ_EDNS_SIZE)
		fuzz_fail("UDP response larger than edns_size");
	if (rlen < DNS_HEADER_LEN)
		fuzz_fail("response shorter than a header");
	if (qlen < 2)
		fuzz_fail("answered a message without an ID");
	if (r[0] != q[0] || r[1] != q[1])
		fuzz_fail("response ID differs from the query's");
	if (!(r[2] & 0x80))
		fuzz_fail("response without QR");
	if (qlen > 2 && (q[2] & 0x80))
		fuzz_fail("answered a response (QR set in the query)");

	qd = (unsigned)(r[4] << 8 | r[5]);
	an = (unsigned)(r[6] << 8 | r[7]);
	ns = (unsigned)(r[8] << 8 | r[9]);
	ar = (unsigned)(r[10] << 8 | r[11]);
	for (i = 0; i < qd; i++) {
		if (!check_name(r, rlen, &pos))
			fuzz_fail("malformed question name in the response");
		if (rlen - pos < 4)
			fuzz_fail("question truncated in the response");
		pos += 4;
	}
	for (i = 0; i < an + ns + ar; i++) {
		size_t rdlen;

		if (!check_name(r, rlen, &pos))
			fuzz_fail("malformed owner name in the response");
		if (rlen - pos < 10)
			fuzz_fail("record header truncated in the response");
		rdlen = (size_t)(r[pos + 8] << 8 | r[pos + 9]);
		if (i >= an + ns && r[pos] == 0 && r[pos + 1] == 41)
			opt++;
		pos += 10;
		if (rlen - pos < rdlen)
			fuzz_fail("RDATA runs past the end of the response");
		pos += rdlen;
	}
	if (pos != rlen)
		fuzz_fail("bytes left over after the counted records");
	if (opt > 1)
		fuzz_fail("more than one OPT record");
	/* Without EDNS in the reply the client cannot take more than 512. */
	if (transport == DNS_UDP && !opt && rlen > DNS_MIN_UDP)
		fuzz_fail("UDP response over 512 bytes without OPT");
}

/* FNV-1a: stands in for the worker's per-query randomness (weighted picks). */
static uint32_t input_hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < size; i++) {
		h ^= data[i];
		h *= 16777619u;
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[4] = { 65535, 4096, 1232, 512 };
	/* Peers the demo GeoIP data in fuzz.conf knows: none, Warsaw, Ashburn,
	 * an override; loopback, Dublin, Singapore, Warsaw v4-mapped. */
	static const uint8_t v4[4][4] = {
		{ 127, 0, 0, 1 }, { 83, 0, 0, 1 }, { 4, 0, 0, 1 }, { 10, 8, 1, 2 }
	};
	static const uint8_t v6[4][16] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 0x2a, 0x00, 0x14, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07 },
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 83, 0, 0, 1 } /* v4-mapped */
	};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct dns_request req;
	struct dns_info info;
	uint8_t ctl;
	uint8_t *query;
	uint8_t *resp;
	size_t qlen, cap, rlen;

	if (!fuzz_snap)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	ctl = data[0];
	qlen = size - 1;
	cap = caps[(ctl >> 4) & 3];

	/* Exact-size heap copies so that ASan sees any access past either end. */
	query = malloc(qlen ? qlen : 1);
	resp = malloc(cap);
	if (!query || !resp)
		abort();
	if (qlen)
		memcpy(query, data + 1, qlen);

	memset(&req, 0, sizeof(req));
	req.query = query;
	req.query_len = qlen;
	req.resp = resp;
	req.resp_cap = cap;
	req.transport = (ctl & 1) ? DNS_TCP : DNS_UDP;
	req.entropy = input_hash(data, size); /* varied, yet reproducible per input */
	if (ctl & 0x40) {
		req.peer = NULL;
		req.peer_len = 0;
	} else if (ctl & 2) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(40000);
		memcpy(&sin6.sin6_addr, v6[(ctl >> 2) & 3], 16);
		req.peer = (const struct sockaddr *)&sin6;
		req.peer_len = sizeof(sin6);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(40000);
		memcpy(&sin.sin_addr, v4[(ctl >> 2) & 3], 4);
		req.peer = (const struct sockaddr *)&sin;
		req.peer_len = sizeof(sin);
	}

	memset(&info, 0, sizeof(info));
	rlen = dns_process((ctl & 0x80) ? fuzz_snap_compact : fuzz_snap, &req, &info);
	if (rlen)
		check_response(query, qlen, resp, rlen, cap, req.transport);
#ifdef FUZZ_EXTRA_CHECK
	if (rlen)
		FUZZ_EXTRA_CHECK(query, qlen, resp, rlen);
#endif

	free(query);
	free(resp);
	return 0;
}
