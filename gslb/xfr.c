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

static void put_soa(struct xfr *x)
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
		ldns_rdf *serial = ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, xfr_zone_serial(z));
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

/* The pool a client gets that the database does not locate: the service's
 * `default` order (else the regions' order), the first region whose pool
 * is up; when none is, what when_all_down answers (fail-open: the first
 * pool; fallback: the fallback; nodata, servfail: nothing). */
static const struct pool *default_pool(const struct snapshot *snap, const struct service *svc)
{
	const struct health *h = rcu_dereference(((struct snapshot *)snap)->health);
	size_t n = svc->dflt ? svc->ndflt : snap->conf->nregions;
	const struct pool *first = NULL;

	for (size_t i = 0; i < n && !(svc->limit && i >= svc->limit); i++) {
		unsigned r = svc->dflt ? svc->dflt[i] : (unsigned)i;
		int pi = r < GSLB_MAX_REGIONS ? svc->pool_of_region[r] : -1;
		if (pi < 0)
			continue;
		const struct pool *p = &svc->pools[pi];
		const struct hpool *hp = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
		if (!first)
			first = p;
		if (!hp || hp->up)
			return p;
	}
	if (svc->when_all_down == ALL_DOWN_FALLBACK)
		return &svc->fallback;
	if (svc->when_all_down == ALL_DOWN_FAIL_OPEN)
		return first;
	return NULL;
}

/* A service's default answer: its members' addresses (host-name members
 * are left out) or its CNAME, with the service's TTL. */
static void put_service(struct xfr *x, const struct service *svc)
{
	const struct pool *p = default_pool(x->snap, svc);

	if (!p)
		return;
	if (p->cname_len) {
		put_rr(x, rr_from_wire(x, svc->lname, svc->lname_len, DNS_T_CNAME, svc->ttl,
				       p->cname, p->cname_len));
		return;
	}
	for (size_t i = 0; i < p->nmembers; i++) {
		const struct member *m = &p->members[i];
		if (m->family == AF_INET)
			put_rr(x, rr_from_wire(x, svc->lname, svc->lname_len, DNS_T_A, svc->ttl,
					       m->addr, 4));
		else if (m->family == AF_INET6)
			put_rr(x, rr_from_wire(x, svc->lname, svc->lname_len, DNS_T_AAAA, svc->ttl,
					       m->addr, 16));
	}
}

/* A service name answers for these types; the zone's own records of them
 * at that name are not transferred. */
static int service_type(uint16_t type)
{
	return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_CNAME;
}

static void put_zone(struct xfr *x)
{
	const struct zone *z = x->zone;
	const struct conf *c = x->snap->conf;

	put_soa(x);
	for (size_t i = 0; i < z->nnodes && !x->failed; i++) {
		const struct zone_node *n = &z->nodes[i];
		const struct service *svc = decide_find_service(x->snap, n->name, n->name_len);
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
				put_rr(x, rr_from_wire(x, n->name, n->name_len, rs->type, rs->ttl,
						       rd, rdlen));
		}
	}
	for (size_t i = 0; i < c->nservices && !x->failed; i++) {
		const struct service *svc = &c->services[i];
		if (zoneset_find(x->snap->zones, svc->lname, svc->lname_len) == z)
			put_service(x, svc);
	}
	put_soa(x);
}

/* An error reply: REFUSED, or NOTAUTH with an unsigned TSIG record naming
 * the error (BADKEY, BADSIG) or, for BADTIME, our time in its other data
 * (RFC 8945 5.2). */
static int error_reply(struct xfr *x, ldns_pkt_rcode rcode, uint16_t tsig_error)
{
	ldns_pkt *r = reply_new(x->query, rcode);
	const ldns_rr *qt = ldns_pkt_tsig(x->query);
	int rc = -1;

	if (!r)
		return -1;
	if (tsig_error && qt && ldns_rr_rd_count(qt) >= 7) {
		ldns_rr *t = ldns_rr_new();
		uint8_t now[6];
		uint64_t s = (uint64_t)time(NULL);
		for (int i = 5; i >= 0; i--, s >>= 8)
			now[i] = (uint8_t)s;
		if (t) {
			ldns_rr_set_owner(t, ldns_rdf_clone(ldns_rr_owner(qt)));
			ldns_rr_set_class(t, LDNS_RR_CLASS_ANY);
			ldns_rr_set_type(t, LDNS_RR_TYPE_TSIG);
			ldns_rr_set_ttl(t, 0);
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 0)));
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 1)));
			ldns_rr_push_rdf(t, ldns_rdf_clone(ldns_rr_rdf(qt, 2)));
			ldns_rr_push_rdf(t, ldns_native2rdf_int16_data(0, NULL));
			ldns_rr_push_rdf(t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16,
								  ldns_pkt_id(x->query)));
			ldns_rr_push_rdf(t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, tsig_error));
			ldns_rr_push_rdf(t, tsig_error == TSIG_BADTIME ?
						    ldns_native2rdf_int16_data(6, now) :
						    ldns_native2rdf_int16_data(0, NULL));
			ldns_pkt_set_tsig(r, t);
		}
	}
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
	char *owner = ldns_rdf2str(ldns_rr_owner(qt));
	char *alg = ldns_rr_rd_count(qt) >= 7 ? ldns_rdf2str(ldns_rr_rdf(qt, 0)) : NULL;
	int known = x->key && owner && alg && conf_tsig_same(owner, x->key->name) &&
		    conf_tsig_same(alg, alg_names[x->key->algorithm]);
	free(owner);
	free(alg);
	if (!known) {
		*why = "unknown key (BADKEY)";
		return error_reply(x, LDNS_RCODE_NOTAUTH, TSIG_BADKEY) ? -1 : 1;
	}
	if (!ldns_pkt_tsig_verify(x->query, req->query, req->query_len, x->key->name,
				  x->key->secret, NULL)) {
		*why = "bad signature (BADSIG)";
		return error_reply(x, LDNS_RCODE_NOTAUTH, TSIG_BADSIG) ? -1 : 1;
	}
	const ldns_rdf *ts = ldns_rr_rdf(qt, 1);
	uint64_t signed_at = 0;
	for (size_t i = 0; i < 6 && i < ldns_rdf_size(ts); i++)
		signed_at = (signed_at << 8) | ldns_rdf_data(ts)[i];
	uint16_t fudge = ldns_rdf2native_int16(ldns_rr_rdf(qt, 2));
	int64_t skew = (int64_t)time(NULL) - (int64_t)signed_at;
	if (skew > fudge || -skew > fudge) {
		*why = "time out of fudge (BADTIME)";
		return error_reply(x, LDNS_RCODE_NOTAUTH, TSIG_BADTIME) ? -1 : 1;
	}
	x->mac = ldns_rdf_clone(ldns_rr_rdf(qt, 3));
	return x->mac ? 0 : -1;
}

/* IXFR from the serial we have: the SOA alone says "you are current"
 * (RFC 1995 4); any other serial gets the whole zone, AXFR-style. */
static int ixfr_current(const struct xfr *x)
{
	const ldns_rr_list *auth = ldns_pkt_authority(x->query);
	const ldns_rr *soa =
		auth && ldns_rr_list_rr_count(auth) == 1 ? ldns_rr_list_rr(auth, 0) : NULL;
	if (!soa || ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(soa) < 3)
		return 0;
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) == xfr_zone_serial(x->zone);
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

int xfr_answer(const struct snapshot *snap, const struct dns_request *req, uint8_t **out,
	       size_t *outlen)
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
		rc = 1;
		goto out;
	}
	if (auth < 0)
		goto out;
	x.scratch = malloc(DNAME_MAXLEN + 10 + 65536);
	if (!x.scratch)
		goto out;
	int ixfr = ldns_rr_get_type(q) == LDNS_RR_TYPE_IXFR;
	if (ixfr && ixfr_current(&x))
		put_soa(&x);
	else
		put_zone(&x);
	if (!x.failed && msg_flush(&x) == 0) {
		log_info("zone transfer zone=%s client=%s type=%s serial=%u records=%zu "
			 "messages=%u signed=%s",
			 x.zone->origin_str, peer_text(req, peer, sizeof(peer)),
			 ixfr ? "ixfr" : "axfr", xfr_zone_serial(x.zone), x.nrecords, x.nmsgs,
			 x.key ? x.key->name : "no");
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
