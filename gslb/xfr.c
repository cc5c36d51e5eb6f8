/* Zone transfers (AXFR; IXFR answered with the whole zone, or the SOA
 * alone when the secondary is current) to the addresses of a zone's
 * `transfer.allow`, signed with its TSIG key (RFC 8945) through ldns:
 * ldns_pkt_tsig_verify for the query, ldns_pkt_tsig_sign_next for each
 * message (the first with the query's MAC, each later one with the MAC of
 * the one before and the timers only, RFC 8945 5.3.1). See xfr.h. */
#include "gslb/xfr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <ldns/ldns.h>
#include <urcu/urcu-memb.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dname.h"
#include "gslb/dns.h"
#include "gslb/dnsdefs.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"
#include "gslb/zone.h"

/* Records per message are cut at about this many bytes (uncompressed),
 * well inside the 64 KiB a TCP message may hold. */
#define XFR_MSG_BYTES 16000
/* The fudge gslbd signs with, and the most it accepts (RFC 8945 10: 300 s). */
#define XFR_FUDGE 300

/* RFC 8945 3: TSIG errors */
enum {
	TSIG_BADSIG = 16,
	TSIG_BADKEY = 17,
	TSIG_BADTIME = 18,
};

static const char *const alg_names[] = { "hmac-sha256.", "hmac-sha512." };

int xfr_is_transfer(const uint8_t *q, size_t len)
{
	size_t pos = DNS_HEADER_LEN;

	if (len < DNS_HEADER_LEN + 5 || (q[2] & 0x80) || (q[2] & 0x78) != 0)
		return 0;
	if (q[4] != 0 || q[5] != 1)
		return 0;
	while (pos < len && q[pos] != 0) {
		if (q[pos] & 0xC0)
			return 0;
		pos += 1u + q[pos];
	}
	if (pos + 5 > len)
		return 0;
	uint16_t qtype = (uint16_t)((q[pos + 1] << 8) | q[pos + 2]);
	return qtype == DNS_T_AXFR || qtype == DNS_T_IXFR;
}

uint32_t xfr_zone_serial(const struct zone *z)
{
	uint32_t live = __atomic_load_n(&z->live_serial, __ATOMIC_RELAXED);
	return live ? live : z->serial;
}

/* A transfer being built: the framed messages so far, the message being
 * filled, and what signs them. */
struct xfr {
	const struct snapshot *snap;
	const struct zone *zone;
	const struct conf_tsig *key; /* NULL: unsigned */
	ldns_pkt *query;
	ldns_rdf *mac; /* the query's MAC, then each message's: the next one signs over it */
	ldns_pkt *msg;
	size_t msg_bytes;
	unsigned nmsgs;
	size_t nrecords;
	uint8_t *out;
	size_t len, cap;
	uint8_t *scratch; /* one record in wire form */
	int failed;
	char why[DNAME_MAXLEN * 4 + 64]; /* a refusal's reason, when it names a key */
};

static int out_append(struct xfr *x, const uint8_t *wire, size_t len)
{
	if (len > DNS_MAX_MSG)
		return -1;
	if (x->len + 2 + len > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 65536;
		while (cap < x->len + 2 + len)
			cap *= 2;
		uint8_t *p = realloc(x->out, cap);
		if (!p)
			return -1;
		x->out = p;
		x->cap = cap;
	}
	x->out[x->len] = (uint8_t)(len >> 8);
	x->out[x->len + 1] = (uint8_t)len;
	memcpy(x->out + x->len + 2, wire, len);
	x->len += 2 + len;
	return 0;
}

/* A reply to the query: its id, question and opcode, QR and AA set. */
static ldns_pkt *reply_new(const ldns_pkt *q, ldns_pkt_rcode rcode)
{
	ldns_pkt *r = ldns_pkt_new();
	if (!r)
		return NULL;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, rcode == LDNS_RCODE_NOERROR);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_rcode(r, rcode);
	ldns_rr_list *qs = ldns_rr_list_clone(ldns_pkt_question(q));
	if (!qs) {
		ldns_pkt_free(r);
		return NULL;
	}
	ldns_rr_list_deep_free(ldns_pkt_question(r));
	ldns_pkt_set_question(r, qs);
	ldns_pkt_set_qdcount(r, (uint16_t)ldns_rr_list_rr_count(qs));
	return r;
}

/* Sign (when there is a key) and append msg. */
static int msg_emit(struct xfr *x, ldns_pkt *m)
{
	uint8_t *wire = NULL;
	size_t wlen = 0;
	int rc = -1;

	if (x->key) {
		ldns_status st =
			ldns_pkt_tsig_sign_next(m, x->key->name, x->key->secret, XFR_FUDGE,
						alg_names[x->key->algorithm], x->mac, x->nmsgs > 0);
		if (st != LDNS_STATUS_OK || !ldns_pkt_tsig(m))
			return -1;
		ldns_rdf_deep_free(x->mac);
		x->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(m), 3));
		if (!x->mac)
			return -1;
	}
	if (ldns_pkt2wire(&wire, m, &wlen) == LDNS_STATUS_OK)
		rc = out_append(x, wire, wlen);
	free(wire);
	x->nmsgs++;
	return rc;
}

static int msg_flush(struct xfr *x)
{
	int rc = 0;
	if (x->msg) {
		rc = msg_emit(x, x->msg);
		ldns_pkt_free(x->msg);
		x->msg = NULL;
		x->msg_bytes = 0;
	}
	return rc;
}

/* One record into the transfer, owned by it from here on. */
static void put_rr(struct xfr *x, ldns_rr *rr)
{
	size_t sz;

	if (!rr || x->failed) {
		ldns_rr_free(rr);
		x->failed = 1;
		return;
	}
	sz = ldns_rr_uncompressed_size(rr);
	if (x->msg && x->msg_bytes + sz > XFR_MSG_BYTES && msg_flush(x))
		x->failed = 1;
	if (!x->msg && !x->failed) {
		x->msg = reply_new(x->query, LDNS_RCODE_NOERROR);
		if (!x->msg)
			x->failed = 1;
	}
	if (x->failed || !ldns_pkt_push_rr(x->msg, LDNS_SECTION_ANSWER, rr)) {
		ldns_rr_free(rr);
		x->failed = 1;
		return;
	}
	x->msg_bytes += sz;
	x->nrecords++;
}

/* A record from its parts in wire form (names in rdata uncompressed, as the
 * zone keeps them). */
static ldns_rr *rr_from_wire(struct xfr *x, const uint8_t *owner, size_t olen, uint16_t type,
			     uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	uint8_t *b = x->scratch;
	size_t pos = 0;
	ldns_rr *rr = NULL;

	memcpy(b, owner, olen);
	b[olen] = (uint8_t)(type >> 8);
	b[olen + 1] = (uint8_t)type;
	b[olen + 2] = 0;
	b[olen + 3] = DNS_C_IN;
	b[olen + 4] = (uint8_t)(ttl >> 24);
	b[olen + 5] = (uint8_t)(ttl >> 16);
	b[olen + 6] = (uint8_t)(ttl >> 8);
	b[olen + 7] = (uint8_t)ttl;
	b[olen + 8] = (uint8_t)(rdlen >> 8);
	b[olen + 9] = (uint8_t)rdlen;
	memcpy(b + olen + 10, rd, rdlen);
	if (ldns_wire2rr(&rr, b, olen + 10 + rdlen, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return NULL;
	return rr;
}

static void put_soa(struct xfr *x, uint32_t serial_value)
{
	const struct zone *z = x->zone;
	size_t pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;

	if (!z->soa || !zone_rrset_next(z->soa, &pos, &rd, &rdlen)) {
		x->failed = 1;
		return;
	}
	ldns_rr *rr = rr_from_wire(x, z->origin, z->origin_len, DNS_T_SOA, z->soa->ttl, rd, rdlen);
	if (rr) {
		ldns_rdf *serial = ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, serial_value);
		ldns_rdf *old = serial ? ldns_rr_set_rdf(rr, serial, 2) : NULL;
		if (!old) {
			ldns_rdf_deep_free(serial);
			ldns_rr_free(rr);
			rr = NULL;
		}
		ldns_rdf_deep_free(old);
	}
	put_rr(x, rr);
}

uint64_t xfr_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A service's default answer: what gslbd itself answers a client the
 * database does not locate (decide() with DECIDE_UNLOCATED: the `default`
 * order, health and admin overrides, when_all_down, the TTL rule), with
 * every member it could pick (usable ones; failing open, all but those
 * drained or forced down), host-name members left out; or the pool's
 * CNAME. Nothing when gslbd would answer NODATA or SERVFAIL. */
static void walk_service(const struct snapshot *snap, const struct service *svc, xfr_emit emit,
			 void *arg)
{
	static const uint8_t none[16];
	struct decision d;

	decide_ex(snap, svc, AF_INET, none, 0, DECIDE_UNLOCATED, &d);
	const struct pool *p = d.pool;
	if (!p)
		return;
	if (p->cname_len) {
		emit(arg, svc->lname, svc->lname_len, DNS_T_CNAME, d.ttl, p->cname, p->cname_len);
		return;
	}
	const struct hpool *hp = d.hpool;
	size_t n = hp ? hp->nmembers : p->nmembers;
	for (size_t i = 0; i < n; i++) {
		int family = hp ? hp->members[i].family : p->members[i].family;
		const uint8_t *addr = hp ? hp->members[i].addr : p->members[i].addr;
		if (hp && !hp->members[i].usable &&
		    (!d.fail_open || hp->members[i].admin == OVERRIDE_DRAIN ||
		     hp->members[i].admin == OVERRIDE_FORCE_DOWN))
			continue;
		if (family == AF_INET)
			emit(arg, svc->lname, svc->lname_len, DNS_T_A, d.ttl, addr, 4);
		else if (family == AF_INET6)
			emit(arg, svc->lname, svc->lname_len, DNS_T_AAAA, d.ttl, addr, 16);
	}
}

static void hash_rr(void *arg, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		    const uint8_t *rd, uint16_t rdlen)
{
	uint64_t *h = arg;
	uint8_t fixed[6] = { (uint8_t)(type >> 8), (uint8_t)type,       (uint8_t)(ttl >> 24),
			     (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl };
	*h = xfr_hash(*h, owner, olen);
	*h = xfr_hash(*h, fixed, sizeof(fixed));
	*h = xfr_hash(*h, rd, rdlen);
}

uint64_t xfr_default_hash(const struct snapshot *snap, const struct zone *z)
{
	const struct conf *c = snap->conf;
	uint64_t h = XFR_HASH_START;

	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		if (zoneset_find(snap->zones, svc->lname, svc->lname_len) != z)
			continue;
		h = xfr_hash(h, svc->lname, svc->lname_len);
		walk_service(snap, svc, hash_rr, &h);
	}
	return h;
}

/* A service name answers for these types; the zone's own records of them
 * at that name are not transferred. */
static int service_type(uint16_t type)
{
	return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_CNAME;
}

void xfr_walk(const struct snapshot *snap, const struct zone *z, xfr_emit emit, void *arg)
{
	const struct conf *c = snap->conf;

	for (size_t i = 0; i < z->nnodes; i++) {
		const struct zone_node *n = &z->nodes[i];
		const struct service *svc = decide_find_service(snap, n->name, n->name_len);
		int at_service = svc && svc->lname_len == n->name_len;
		for (uint16_t k = 0; k < n->nrrsets; k++) {
			const struct zone_rrset *rs = &n->rrsets[k];
			size_t pos = 0;
			const uint8_t *rd;
			uint16_t rdlen;
			if (rs->type == DNS_T_SOA && (n->flags & ZONE_NODE_APEX))
				continue;
			if (at_service && service_type(rs->type))
				continue;
			while (zone_rrset_next(rs, &pos, &rd, &rdlen))
				emit(arg, n->name, n->name_len, rs->type, rs->ttl, rd, rdlen);
		}
	}
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		if (zoneset_find(snap->zones, svc->lname, svc->lname_len) == z)
			walk_service(snap, svc, emit, arg);
	}
}

static void emit_rr(void *arg, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		    const uint8_t *rd, uint16_t rdlen)
{
	struct xfr *x = arg;
	if (!x->failed)
		put_rr(x, rr_from_wire(x, owner, olen, type, ttl, rd, rdlen));
}

static void put_zone(struct xfr *x)
{
	put_soa(x, xfr_zone_serial(x->zone));
	xfr_walk(x->snap, x->zone, emit_rr, x);
	put_soa(x, xfr_zone_serial(x->zone));
}

/* A record kept in wire form (xfr_rrs) into the transfer. */
static void put_blob(struct xfr *x, const uint8_t *b)
{
	size_t pos = 0;
	ldns_rr *rr = NULL;
	uint16_t len = (uint16_t)(b[0] << 8 | b[1]);
	if (ldns_wire2rr(&rr, b + 2, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		rr = NULL;
	put_rr(x, rr);
}

/* IXFR (RFC 1995 4): the new SOA; per version, the old SOA, the records
 * deleted, the new SOA, the records added; the new SOA. */
static void put_ixfr(struct xfr *x, const struct xfr_diff *d, size_t n)
{
	uint32_t serial = xfr_zone_serial(x->zone);
	put_soa(x, serial);
	for (size_t i = 0; i < n && !x->failed; i++) {
		put_soa(x, d[i].from);
		for (size_t k = 0; k < d[i].del.n; k++)
			put_blob(x, d[i].del.rr[k]);
		put_soa(x, d[i].to);
		for (size_t k = 0; k < d[i].add.n; k++)
			put_blob(x, d[i].add.rr[k]);
	}
	put_soa(x, serial);
}

/* HMAC-SHA256 or HMAC-SHA512 (GnuTLS) of data with key; out holds the
 * digest's length, 0 on error. For the one MAC ldns cannot make: a signed
 * BADTIME (its signing sets no error). */
static size_t hmac(int alg, const uint8_t *key, size_t klen, const uint8_t *data, size_t len,
		   uint8_t out[LDNS_SHA512_DIGEST_LENGTH])
{
	gnutls_mac_algorithm_t m =
		alg == CONF_TSIG_HMAC_SHA512 ? GNUTLS_MAC_SHA512 : GNUTLS_MAC_SHA256;

	if (gnutls_hmac_fast(m, key, klen, data, len, out) < 0)
		return 0;
	return gnutls_hmac_get_len(m);
}

/* The MAC of a response r (without its TSIG yet) to a request with MAC
 * qmac, for the TSIG variables given (RFC 8945 4.3.3), or NULL. */
static ldns_rdf *error_mac(const ldns_pkt *r, const ldns_rdf *qmac, const struct conf_tsig *key,
			   const uint8_t time_signed[6], uint16_t fudge, uint16_t error,
			   const uint8_t *other, uint16_t olen)
{
	uint8_t *wire = NULL;
	size_t wlen = 0;
	ldns_rdf *secret = NULL, *out = NULL;
	ldns_buffer *b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	uint8_t kname[DNAME_MAXLEN], aname[DNAME_MAXLEN];
	size_t kl = dname_from_str(key->name, kname),
	       al = dname_from_str(alg_names[key->algorithm], aname);

	if (!b || !kl || !al || ldns_pkt2wire(&wire, r, &wlen) != LDNS_STATUS_OK ||
	    ldns_str2rdf_b64(&secret, key->secret) != LDNS_STATUS_OK)
		goto done;
	dname_tolower(kname, kname, kl);
	ldns_buffer_write(b, ldns_rdf_data(qmac), ldns_rdf_size(qmac));
	ldns_buffer_write(b, wire, wlen);
	ldns_buffer_write(b, kname, kl);
	ldns_buffer_write_u16(b, LDNS_RR_CLASS_ANY);
	ldns_buffer_write_u32(b, 0);
	ldns_buffer_write(b, aname, al);
	ldns_buffer_write(b, time_signed, 6);
	ldns_buffer_write_u16(b, fudge);
	ldns_buffer_write_u16(b, error);
	ldns_buffer_write_u16(b, olen);
	ldns_buffer_write(b, other, olen);
	if (ldns_buffer_status_ok(b)) {
		uint8_t mac[LDNS_SHA512_DIGEST_LENGTH];
		size_t n = hmac(key->algorithm, ldns_rdf_data(secret), ldns_rdf_size(secret),
				ldns_buffer_begin(b), ldns_buffer_position(b), mac);
		if (n)
			out = ldns_native2rdf_int16_data(n, mac);
	}
done:
	free(wire);
	ldns_rdf_deep_free(secret);
	ldns_buffer_free(b);
	return out;
}

/* An error reply: REFUSED, or NOTAUTH with a TSIG record naming the error
 * (RFC 8945 5.2): unsigned for BADKEY and BADSIG; for BADTIME signed with
 * key (when given), our time in its other data. */
static ldns_pkt *error_pkt(const ldns_pkt *query, ldns_pkt_rcode rcode, uint16_t tsig_error,
			   const struct conf_tsig *key)
{
	ldns_pkt *r = reply_new(query, rcode);
	const ldns_rr *qt = ldns_pkt_tsig(query);

	if (!r)
		return NULL;
	if (tsig_error && qt && ldns_rr_rd_count(qt) >= 7) {
		ldns_rr *t = ldns_rr_new();
		uint8_t now[6];
		uint64_t s = (uint64_t)time(NULL);
		for (int i = 5; i >= 0; i--, s >>= 8)
			now[i] = (uint8_t)s;
		int badtime = tsig_error == TSIG_BADTIME;
		ldns_rdf *mac = NULL;
		if (badtime && key && ldns_rdf_size(ldns_rr_rdf(qt, 1)) == 6)
			mac = error_mac(
				r, ldns_rr_rdf(qt, 3), key, ldns_rdf_data(ldns_rr_rdf(qt, 1)),
				ldns_rdf2native_int16(ldns_rr_rdf(qt, 2)), tsig_error, now, 6);
		if (t) {
			ldns_rr_set_owner(t, ldns_rdf_clone(ldns_rr_owner(qt)));
			ldns_rr_set_class(t, LDNS_RR_CLASS_ANY);
			ldns_rr_set_type(t, LDNS_RR_TYPE_TSIG);
			ldns_rr_set_ttl(t, 0);
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 0)));
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 1)));
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 2)));
			ldns_rr_push_rdf(t, mac ? mac : ldns_native2rdf_int16_data(0, NULL));
			mac = NULL;
			ldns_rr_push_rdf(
				t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, ldns_pkt_id(query)));
			ldns_rr_push_rdf(t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, tsig_error));
			ldns_rr_push_rdf(t, badtime ? ldns_native2rdf_int16_data(6, now) :
						      ldns_native2rdf_int16_data(0, NULL));
			ldns_pkt_set_tsig(r, t);
		}
		ldns_rdf_deep_free(mac);
	}
	return r;
}

static int error_reply(struct xfr *x, ldns_pkt_rcode rcode, uint16_t tsig_error)
{
	ldns_pkt *r = error_pkt(x->query, rcode, tsig_error, x->key);
	int rc = -1;

	if (!r)
		return -1;
	uint8_t *wire = NULL;
	size_t wlen = 0;
	if (ldns_pkt2wire(&wire, r, &wlen) == LDNS_STATUS_OK)
		rc = out_append(x, wire, wlen);
	free(wire);
	ldns_pkt_free(r);
	return rc;
}

static const char *peer_text(const struct dns_request *req, char *buf, size_t len)
{
	uint8_t a[16];
	int fam = req->peer ? net_sockaddr_ip(req->peer, a) : 0;
	if (!fam || !inet_ntop(fam, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
	return buf;
}

/* The query's TSIG against key (NULL: none known): 0 when it is that key,
 * the MAC is right and the time within the fudge, else the TSIG error
 * (RFC 8945 5.2). */
static uint16_t tsig_check(ldns_pkt *q, const struct dns_request *req, const struct conf_tsig *key)
{
	const ldns_rr *qt = ldns_pkt_tsig(q);
	if (!qt || ldns_rr_rd_count(qt) < 7)
		return TSIG_BADKEY;
	char *owner = ldns_rdf2str(ldns_rr_owner(qt));
	char *alg = ldns_rdf2str(ldns_rr_rdf(qt, 0));
	int known = key && owner && alg && conf_tsig_same(owner, key->name) &&
		    conf_tsig_same(alg, alg_names[key->algorithm]);
	free(owner);
	free(alg);
	if (!known)
		return TSIG_BADKEY;
	if (!ldns_pkt_tsig_verify(q, req->query, req->query_len, key->name, key->secret, NULL))
		return TSIG_BADSIG;
	const ldns_rdf *ts = ldns_rr_rdf(qt, 1);
	uint64_t signed_at = 0;
	for (size_t i = 0; i < 6 && i < ldns_rdf_size(ts); i++)
		signed_at = (signed_at << 8) | ldns_rdf_data(ts)[i];
	uint16_t fudge = ldns_rdf2native_int16(ldns_rr_rdf(qt, 2));
	int64_t skew = (int64_t)time(NULL) - (int64_t)signed_at;
	if (skew > fudge || -skew > fudge)
		return TSIG_BADTIME;
	return 0;
}

/* Why a key is BADKEY for this zone, in x->why: a key of the config that
 * is not the zone's (or the zone's name with another algorithm), or one
 * gslbd does not have at all. */
static const char *badkey_why(struct xfr *x, const ldns_rr *qt)
{
	char *name = ldns_rdf2str(ldns_rr_owner(qt));
	char *alg = ldns_rr_rd_count(qt) > 0 ? ldns_rdf2str(ldns_rr_rdf(qt, 0)) : NULL;
	const struct conf *c = x->snap->conf;
	const char *n = name ? name : "?";
	size_t i = 0;

	while (name && i < c->ntsig && !conf_tsig_same(name, c->tsig[i].name))
		i++;
	if (!name || i == c->ntsig)
		snprintf(x->why, sizeof(x->why), "unknown key %s (BADKEY)", n);
	else if (x->key && &c->tsig[i] == x->key)
		snprintf(x->why, sizeof(x->why), "key %s with algorithm %s, not %s (BADKEY)", n,
			 alg ? alg : "?", alg_names[x->key->algorithm]);
	else
		snprintf(x->why, sizeof(x->why), "key %s is not the zone's key (BADKEY)", n);
	free(name);
	free(alg);
	return x->why;
}

/* Who may transfer: an address in allow; then, with a key, a query signed
 * with it, correctly, in time. Returns 0 to go on, else the error reply
 * is written and why names it. */
static int authorize(struct xfr *x, const struct conf_transfer *t, const struct dns_request *req,
		     const char **why)
{
	uint8_t a[16];
	int fam = req->peer ? net_sockaddr_ip(req->peer, a) : 0;
	const ldns_rr *qt = ldns_pkt_tsig(x->query);

	if (!fam || !t->allow || !net_set_contains(t->allow, fam, a)) {
		*why = "address not allowed";
		return error_reply(x, LDNS_RCODE_REFUSED, 0) ? -1 : 1;
	}
	if (!x->key && !qt)
		return 0;
	if (!qt) {
		*why = "not signed";
		return error_reply(x, LDNS_RCODE_REFUSED, 0) ? -1 : 1;
	}
	static const char *const whys[] = {
		[TSIG_BADSIG] = "bad signature (BADSIG)",
		[TSIG_BADTIME] = "time out of fudge (BADTIME)",
	};
	uint16_t err = tsig_check(x->query, req, x->key);
	if (err) {
		*why = err == TSIG_BADKEY ? badkey_why(x, qt) : whys[err];
		return error_reply(x, LDNS_RCODE_NOTAUTH, err) ? -1 : 1;
	}
	x->mac = ldns_rdf_clone(ldns_rr_rdf(qt, 3));
	return x->mac ? 0 : -1;
}

/* IXFR from the serial the client has: the SOA alone says "you are
 * current" (RFC 1995 2, 4), also to a serial after ours (RFC 1982); an
 * older one gets the changes since, else the whole zone, AXFR-style. */
static int ixfr_serial(const struct xfr *x, uint32_t *serial)
{
	const ldns_rr_list *auth = ldns_pkt_authority(x->query);
	const ldns_rr *soa =
		auth && ldns_rr_list_rr_count(auth) == 1 ? ldns_rr_list_rr(auth, 0) : NULL;
	if (!soa || ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(soa) < 3)
		return 0;
	*serial = ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
	return 1;
}

static const struct zone *exact_zone(const struct snapshot *snap, const ldns_rdf *owner,
				     size_t *index)
{
	uint8_t lname[DNAME_MAXLEN];
	size_t len = ldns_rdf_size(owner);

	if (len == 0 || len > DNAME_MAXLEN)
		return NULL;
	dname_tolower(lname, ldns_rdf_data(owner), len);
	const struct zone *z = zoneset_find(snap->zones, lname, len);
	if (!z || z->origin_len != len || memcmp(z->origin, lname, len) != 0)
		return NULL;
	for (size_t i = 0; i < snap->zones->nzones; i++) {
		if (snap->zones->zones[i] == z) {
			*index = i;
			return z;
		}
	}
	return NULL;
}

int xfr_answer(const struct snapshot *snap, const struct xfr_keeper *keeper,
	       const struct dns_request *req, uint8_t **out, size_t *outlen)
{
	struct xfr x;
	size_t zi = 0;
	const char *why = NULL;
	char peer[64];
	int rc = 0;

	memset(&x, 0, sizeof(x));
	x.snap = snap;
	if (ldns_wire2pkt(&x.query, req->query, req->query_len) != LDNS_STATUS_OK)
		return 0;
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(x.query), 0);
	x.zone = q ? exact_zone(snap, ldns_rr_owner(q), &zi) : NULL;
	const struct conf_transfer *t =
		x.zone && zi < snap->conf->nzones ? &snap->conf->zones[zi].transfer : NULL;
	if (!t || !t->enabled) {
		ldns_pkt_free(x.query);
		return 0;
	}
	x.key = t->key >= 0 ? &snap->conf->tsig[t->key] : NULL;
	int auth = authorize(&x, t, req, &why);
	if (auth == 1) {
		log_info("zone transfer refused zone=%s client=%s reason=\"%s\"",
			 x.zone->origin_str, peer_text(req, peer, sizeof(peer)), why);
		xfr_keeper_count(keeper, XFR_REFUSED);
		rc = 1;
		goto out;
	}
	if (auth < 0)
		goto out;
	x.scratch = malloc(DNAME_MAXLEN + 10 + 65536);
	if (!x.scratch)
		goto out;
	int ixfr = ldns_rr_get_type(q) == LDNS_RR_TYPE_IXFR;
	uint32_t from = 0;
	size_t ndiffs = 0;
	const struct xfr_diff *diffs = NULL;
	const char *kind = "axfr";
	enum xfr_result result = XFR_AXFR;
	uint32_t cur = xfr_zone_serial(x.zone);
	if (ixfr && ixfr_serial(&x, &from) && !xfr_serial_gt(cur, from)) {
		/* current, or newer than ours (RFC 1995 2): the SOA alone */
		put_soa(&x, cur);
		kind = from == cur ? "ixfr-current" : "ixfr-newer";
		result = XFR_CURRENT;
	} else if (ixfr && (diffs = xfr_keeper_diffs(keeper, x.zone, from, &ndiffs)) != NULL) {
		put_ixfr(&x, diffs, ndiffs);
		kind = "ixfr";
		result = XFR_IXFR;
	} else {
		put_zone(&x);
		kind = ixfr ? "ixfr-as-axfr" : "axfr";
	}
	if (!x.failed && msg_flush(&x) == 0) {
		log_info("zone transfer zone=%s client=%s type=%s serial=%u records=%zu "
			 "messages=%u signed=%s",
			 x.zone->origin_str, peer_text(req, peer, sizeof(peer)), kind,
			 xfr_zone_serial(x.zone), x.nrecords, x.nmsgs, x.key ? x.key->name : "no");
		xfr_keeper_count(keeper, result);
		rc = 1;
	}
out:
	if (rc == 1) {
		*out = x.out;
		*outlen = x.len;
		x.out = NULL;
	} else {
		log_warn("zone transfer failed zone=%s error=\"out of memory or record too large\"",
			 x.zone ? x.zone->origin_str : "?");
		/* The usual path answers (SERVFAIL is not ours to pick here). */
		rc = 0;
	}
	free(x.out);
	free(x.scratch);
	if (x.msg)
		ldns_pkt_free(x.msg);
	ldns_rdf_deep_free(x.mac);
	ldns_pkt_free(x.query);
	return rc;
}

/* ---- signed queries ------------------------------------------------------ */

/* The end of the name at pos, or 0 when it runs past len. */
static size_t skip_name(const uint8_t *q, size_t len, size_t pos)
{
	while (pos < len) {
		uint8_t l = q[pos];
		if (l == 0)
			return pos + 1;
		if ((l & 0xC0) == 0xC0)
			return pos + 2 <= len ? pos + 2 : 0;
		if (l & 0xC0)
			return 0;
		pos += 1u + l;
	}
	return 0;
}

size_t xfr_tsig_start(const uint8_t *q, size_t len)
{
	if (len < DNS_HEADER_LEN)
		return 0;
	unsigned qd = (unsigned)(q[4] << 8 | q[5]);
	unsigned total = (unsigned)(q[6] << 8 | q[7]) + (unsigned)(q[8] << 8 | q[9]) +
			 (unsigned)(q[10] << 8 | q[11]);
	size_t pos = DNS_HEADER_LEN;
	if ((q[10] | q[11]) == 0)
		return 0;
	for (unsigned i = 0; i < qd; i++) {
		pos = skip_name(q, len, pos);
		if (!pos || pos + 4 > len)
			return 0;
		pos += 4;
	}
	for (unsigned i = 0; i < total; i++) {
		size_t start = pos;
		pos = skip_name(q, len, pos);
		if (!pos || pos + 10 > len)
			return 0;
		uint16_t type = (uint16_t)(q[pos] << 8 | q[pos + 1]);
		pos += 10u + (size_t)(q[pos + 8] << 8 | q[pos + 9]);
		if (pos > len)
			return 0;
		if (i + 1 == total && type == DNS_T_TSIG)
			return start;
	}
	return 0;
}

/* Bytes kept free for the TSIG record of a signed answer: owner, fixed
 * fields, algorithm name and a SHA-512 MAC. */
#define TSIG_ROOM 400

/* The largest reply the client takes: its EDNS size (512 without), at most
 * ours, over UDP; the buffer over TCP. */
static size_t reply_limit(const struct snapshot *snap, const struct dns_request *req,
			  const ldns_pkt *q)
{
	size_t lim = req->resp_cap;
	if (req->transport == DNS_UDP) {
		size_t want = ldns_pkt_edns(q) ? ldns_pkt_edns_udp_size(q) : DNS_MIN_UDP;
		if (want > snap->conf->edns_size)
			want = snap->conf->edns_size;
		if (want < DNS_MIN_UDP)
			want = DNS_MIN_UDP;
		if (want < lim)
			lim = want;
	}
	return lim;
}

/* r signed over the query's MAC into req->resp, or truncated (TC, no
 * records) and signed when it does not fit (RFC 8945 5.3). */
static size_t sign_into(const struct snapshot *snap, const struct dns_request *req,
			const ldns_pkt *q, ldns_pkt *r, const struct conf_tsig *key)
{
	const ldns_rdf *mac = ldns_rr_rdf(ldns_pkt_tsig(q), 3);
	size_t lim = reply_limit(snap, req, q);
	uint8_t *wire = NULL;
	size_t wlen = 0;

	for (int tries = 0; tries < 2; tries++) {
		if (ldns_pkt_tsig_sign(r, key->name, key->secret, XFR_FUDGE,
				       alg_names[key->algorithm], mac) != LDNS_STATUS_OK ||
		    ldns_pkt2wire(&wire, r, &wlen) != LDNS_STATUS_OK)
			break;
		if (wlen <= lim) {
			memcpy(req->resp, wire, wlen);
			free(wire);
			return wlen;
		}
		free(wire);
		wire = NULL;
		ldns_rr_free(ldns_pkt_tsig(r));
		ldns_pkt_set_tsig(r, NULL);
		ldns_rr_list_deep_free(ldns_pkt_answer(r));
		ldns_rr_list_deep_free(ldns_pkt_authority(r));
		ldns_rr_list_deep_free(ldns_pkt_additional(r));
		ldns_pkt_set_answer(r, ldns_rr_list_new());
		ldns_pkt_set_authority(r, ldns_rr_list_new());
		ldns_pkt_set_additional(r, ldns_rr_list_new());
		ldns_pkt_set_ancount(r, 0);
		ldns_pkt_set_nscount(r, 0);
		ldns_pkt_set_arcount(r, 0);
		ldns_pkt_set_tc(r, true);
	}
	free(wire);
	return 0;
}

size_t xfr_signed_query(const struct snapshot *snap, const struct dns_request *req, size_t tsig_at,
			struct dns_info *info, int *handled)
{
	const struct conf *c = snap->conf;
	const struct conf_tsig *key = NULL;
	ldns_pkt *q = NULL, *r = NULL;
	uint8_t *stripped = NULL;
	size_t len = 0;

	*handled = 0;
	if (ldns_wire2pkt(&q, req->query, req->query_len) != LDNS_STATUS_OK)
		return 0;
	const ldns_rr *qt = ldns_pkt_tsig(q);
	char *owner = qt ? ldns_rdf2str(ldns_rr_owner(qt)) : NULL;
	for (size_t i = 0; owner && i < c->ntsig && !key; i++)
		if (conf_tsig_same(owner, c->tsig[i].name))
			key = &c->tsig[i];
	free(owner);
	if (!key || ldns_rr_rd_count(qt) < 7)
		goto out; /* a key we do not have: the query path says BADKEY */
	*handled = 1;
	if (info) {
		/* what is counted when no answer is made */
		memset(info, 0, sizeof(*info));
		info->verdict = DECODE_NOTAUTH;
		info->rcode = LDNS_RCODE_NOTAUTH;
		info->region = info->slot = -1;
	}
	uint16_t err = tsig_check(q, req, key);
	if (err) {
		r = error_pkt(q, LDNS_RCODE_NOTAUTH, err, key);
		uint8_t *wire = NULL;
		size_t wlen = 0;
		if (r && ldns_pkt2wire(&wire, r, &wlen) == LDNS_STATUS_OK &&
		    wlen <= reply_limit(snap, req, q)) {
			memcpy(req->resp, wire, wlen);
			len = wlen;
		}
		free(wire);
		goto out;
	}
	/* The query without its TSIG record, answered as any other. */
	stripped = malloc(tsig_at);
	if (!stripped)
		goto out;
	memcpy(stripped, req->query, tsig_at);
	uint16_t ar = (uint16_t)((stripped[10] << 8 | stripped[11]) - 1);
	stripped[10] = (uint8_t)(ar >> 8);
	stripped[11] = (uint8_t)ar;
	struct dns_request sub = *req;
	sub.query = stripped;
	sub.query_len = tsig_at;
	sub.resp_cap =
		req->resp_cap > DNS_MIN_UDP + TSIG_ROOM ? req->resp_cap - TSIG_ROOM : req->resp_cap;
	len = dns_process(snap, &sub, info);
	if (len == 0)
		goto out;
	if (ldns_wire2pkt(&r, req->resp, len) != LDNS_STATUS_OK) {
		len = 0;
		goto out;
	}
	len = sign_into(snap, req, q, r, key);
out:
	free(stripped);
	if (r)
		ldns_pkt_free(r);
	ldns_pkt_free(q);
	return len;
}
