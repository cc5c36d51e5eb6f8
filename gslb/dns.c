/* DNS message handling: decode a query through a bounds-checked cursor,
 * resolve it against the snapshot's zones, render the reply into the
 * caller's buffer.
 *
 * Why there are no locks and no heap allocation here: the snapshot is
 * immutable (readers hold it under RCU), every piece of per-query state lives
 * in struct ctx on the caller's stack (fixed-size name buffers, a fixed
 * compression table), and output goes only into req->resp through a wbuf that
 * refuses to grow. Nothing in this file calls malloc or takes a mutex.
 *
 * Signed zones (issue 14): RRsets built per query (geo members, CNAME pools,
 * wildcard expansions, compact-denial NSECs) get their RRSIGs from the
 * shared signature cache (dnssec_cache.c), which signs on a miss; that
 * module allocates, this one still does not. */
#include "gslb/dns.h"
#include "gslb/dnsdefs.h"

#include <assert.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dname.h"
#include "gslb/dnssec_cache.h"
#include "gslb/snapshot.h"
#include "gslb/wire.h"
#include "gslb/zone.h"

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_NOTAUTH = 9,
	RCODE_BADVERS = 16,
};

/* TSIG error (RFC 8945 3): the key is not known */
#define TSIG_BADKEY 17

enum {
	F_QR = 0x8000,
	F_AA = 0x0400,
	F_TC = 0x0200,
	F_RD = 0x0100,
	F_CD = 0x0010,
};

enum {
	EDNS_NSID = 3,
	EDNS_ECS = 8
};

/* EDNS header flags: DNSSEC OK (RFC 3225), Compact Answers OK (RFC 9824) */
#define EDNS_F_DO 0x8000
#define EDNS_F_CO 0x4000

/* NXNAME, the meta type of RFC 9824's NSEC for a name that does not exist */
#define DNS_T_NXNAME 128

#define COMP_MAX 64
#define CHAIN_MAX 12
#define ADDL_MAX 32

struct ctx {
	const struct snapshot *snap;
	const struct dns_request *req;
	struct wbuf out;
	size_t limit; /* largest reply allowed by transport and EDNS */

	uint16_t id, qflags, qtype, qclass;
	uint8_t opcode;
	int have_question;
	uint8_t qname[DNAME_MAXLEN]; /* as asked, case kept */
	uint8_t lqname[DNAME_MAXLEN];
	size_t qname_len;

	int edns;
	uint16_t udp_size;
	uint8_t edns_version;
	int do_bit;
	int co_bit;  /* Compact Answers OK (RFC 9824), with do_bit only */
	int co_echo; /* the answer came from a signed zone: CO set in the reply */
	int nsid_req;
	uint32_t now; /* signing time, read on first use */

	/* EDNS Client Subnet (RFC 7871) as received */
	int ecs;
	uint16_t ecs_family; /* 1 = IPv4, 2 = IPv6 */
	uint8_t ecs_source;
	uint8_t ecs_scope; /* what we answer with */
	uint8_t ecs_addr[16];
	uint8_t ecs_addrlen;

	/* A TSIG record as received (RFC 8945). gslbd holds no keys: every
	 * signed query gets NOTAUTH and an unsigned TSIG saying BADKEY. */
	int tsig;
	uint8_t tsig_key[DNAME_MAXLEN], tsig_alg[DNAME_MAXLEN];
	size_t tsig_key_len, tsig_alg_len;
	uint8_t tsig_time[6];
	uint16_t tsig_fudge, tsig_orig_id;

	const struct service *svc; /* the service answered, for counters */
	int region;
	int slot;                  /* metrics slot of the pool answered */
	int split_rule;            /* index of the split rule that decided, -1 = none */
	const uint8_t *rrl_name;   /* the wildcard owner an answer came from */
	int all_down;              /* when_all_down was applied */
	const struct route *route; /* decide()'s rule, for logs (dns_info) */
	uint8_t rule, scope;
	uint32_t rng;

	uint16_t comp[COMP_MAX]; /* packet offsets of names already written */
	unsigned ncomp;

	uint16_t counts[3]; /* answer, authority, additional */
	uint16_t flags;
	uint16_t rcode;
	size_t after_question;

	const struct zone_node *addl_done[ADDL_MAX];
	unsigned naddl;

	unsigned nsigs_online; /* RRSIGs made or found in the cache */
};

enum {
	SEC_AN = 0,
	SEC_NS = 1,
	SEC_AR = 2
};

/* Save point for rolling back a partly written RRset. */
struct mark {
	size_t pos;
	unsigned ncomp;
	uint16_t counts[3];
};

static struct mark mark_get(const struct ctx *c)
{
	struct mark m = { c->out.pos, c->ncomp, { c->counts[0], c->counts[1], c->counts[2] } };
	return m;
}

static void mark_restore(struct ctx *c, const struct mark *m)
{
	c->out.pos = m->pos;
	c->out.err = 0;
	c->ncomp = m->ncomp;
	memcpy(c->counts, m->counts, sizeof(c->counts));
}

static inline uint8_t lc(uint8_t ch) { return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch; }

/* Does the (possibly compressed) name at off in our own output equal name?
 * Our output only holds names we wrote, with backward pointers only. */
static int out_name_eq(const struct ctx *c, size_t off, const uint8_t *name)
{
	const uint8_t *pkt = c->out.buf;
	size_t p = 0;
	for (int guard = 0; guard < 128; guard++) {
		if (off >= c->out.pos)
			return 0;
		uint8_t l = pkt[off];
		if ((l & 0xC0) == 0xC0) {
			if (off + 1 >= c->out.pos)
				return 0;
			off = ((size_t)(l & 0x3F) << 8) | pkt[off + 1];
			continue;
		}
		if (l != name[p])
			return 0;
		if (l == 0)
			return 1;
		if (off + 1 + l > c->out.pos)
			return 0;
		for (uint8_t i = 1; i <= l; i++)
			if (lc(pkt[off + i]) != lc(name[p + i]))
				return 0;
		off += 1 + (size_t)l;
		p += 1 + (size_t)l;
	}
	return 0;
}

/* Write a name, pointing at an earlier copy of its longest known suffix
 * when compress is set; every new suffix written is remembered. */
static void put_name(struct ctx *c, const uint8_t *name, int compress)
{
	size_t p = 0;
	/* Most owners are the question name: point at it without a search.
	 * Byte by byte so a shorter name stops at its own end. */
	if (compress && c->have_question) {
		size_t i = 0;
		while (i < c->qname_len && name[i] == c->lqname[i])
			i++;
		if (i == c->qname_len) {
			wbuf_u16(&c->out, 0xC000 | DNS_HEADER_LEN);
			return;
		}
	}
	while (name[p] != 0) {
		if (compress) {
			for (unsigned i = 0; i < c->ncomp; i++) {
				if (out_name_eq(c, c->comp[i], name + p)) {
					wbuf_u16(&c->out, (uint16_t)(0xC000 | c->comp[i]));
					return;
				}
			}
		}
		if (c->out.pos < 0x4000 && c->ncomp < COMP_MAX && !c->out.err)
			c->comp[c->ncomp++] = (uint16_t)c->out.pos;
		wbuf_put(&c->out, name + p, 1 + (size_t)name[p]);
		p += 1 + (size_t)name[p];
	}
	wbuf_u8(&c->out, 0);
}

/* RDATA, compressing the embedded names of the RFC 1035 types that allow it
 * (RFC 3597 section 4); everything else is copied as stored. */
static void put_rdata(struct ctx *c, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	size_t lenpos = c->out.pos;
	wbuf_u16(&c->out, 0);
	size_t start = c->out.pos;
	switch (type) {
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		put_name(c, rd, 1);
		break;
	case DNS_T_MX:
		wbuf_put(&c->out, rd, 2);
		put_name(c, rd + 2, 1);
		break;
	case DNS_T_SOA: {
		size_t l1 = dname_len(rd);
		size_t l2 = dname_len(rd + l1);
		put_name(c, rd, 1);
		put_name(c, rd + l1, 1);
		wbuf_put(&c->out, rd + l1 + l2, 20);
		break;
	}
	default:
		wbuf_put(&c->out, rd, rdlen);
		break;
	}
	if (!c->out.err)
		wbuf_set_u16(&c->out, lenpos, (uint16_t)(c->out.pos - start));
}

static void put_rrsig(struct ctx *c, int sec, const uint8_t *owner, uint32_t ttl, const uint8_t *rd,
		      uint16_t len)
{
	put_name(c, owner, 1);
	wbuf_u16(&c->out, DNS_T_RRSIG);
	wbuf_u16(&c->out, DNS_C_IN);
	wbuf_u32(&c->out, ttl);
	wbuf_u16(&c->out, len);
	wbuf_put(&c->out, rd, len);
	c->counts[sec]++;
}

/* The RRSIGs of an RRset built for this answer (owner lower-cased), made
 * online with z's signing keys or found in the signature cache, when the
 * query has the DO bit and z is signed. A signature that cannot be made
 * leaves the RRset unsigned (validators then fail it). */
static void put_online_sigs(struct ctx *c, int sec, const struct zone *z,
			    const struct sig_rrset *rs, uint32_t ttl)
{
	const struct zone_signer *zs = z ? z->signer : NULL;
	if (!c->do_bit || !zs || !rs->n)
		return;
	uint8_t lowner[DNAME_MAXLEN];
	struct sig_rrset l = *rs;
	dname_tolower(lowner, rs->owner, rs->owner_len);
	l.owner = lowner;
	rs = &l;
	if (!c->now)
		c->now = (uint32_t)time(NULL);
	for (size_t k = 0; k < zs->nkeys; k++) {
		if (!zone_signer_signs(zs, k))
			continue;
		const struct sig_entry *e = sigcache_get(sigcache_global(), zs, k, rs, c->now);
		if (!e)
			continue;
		uint16_t len;
		const uint8_t *rd = sig_entry_rdata(e, &len);
		put_rrsig(c, sec, rs->owner, ttl, rd, len);
		c->nsigs_online++;
	}
}

#define RRSET_MAX 256

/* A zone given to secondaries answers its SOA with the serial gslbd keeps
 * for it (xfr.h), not the file's: the serial field, the 20 bytes' first
 * four, ends the RDATA just written. */
static void put_live_serial(struct ctx *c, const uint8_t *owner, const struct zone_rrset *rs)
{
	const struct zone *z = zoneset_find(c->snap->zones, owner, dname_len(owner));
	uint32_t serial =
		z && z->soa == rs ? __atomic_load_n(&z->live_serial, __ATOMIC_RELAXED) : 0;
	if (serial == 0 || c->out.err || c->out.pos < 20)
		return;
	uint8_t *p = c->out.buf + c->out.pos - 20;
	p[0] = (uint8_t)(serial >> 24);
	p[1] = (uint8_t)(serial >> 16);
	p[2] = (uint8_t)(serial >> 8);
	p[3] = (uint8_t)serial;
}

/* Append a whole RRset to a section; all or nothing. Returns 0 on success,
 * -1 when it did not fit (the output is rolled back). online: a signed
 * zone whose RRset is sent under another owner than its own (a wildcard
 * expansion): its RRSIGs are made for owner, not the stored ones. */
static int put_rrset_as(struct ctx *c, int sec, const uint8_t *owner, const struct zone_rrset *rs,
			uint32_t ttl, const struct zone *online)
{
	struct mark m = mark_get(c);
	size_t pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;
	const uint8_t *rds[RRSET_MAX];
	uint16_t lens[RRSET_MAX];
	size_t n = 0;
	while (zone_rrset_next(rs, &pos, &rd, &rdlen)) {
		put_name(c, owner, 1);
		wbuf_u16(&c->out, rs->type);
		wbuf_u16(&c->out, DNS_C_IN);
		wbuf_u32(&c->out, ttl);
		put_rdata(c, rs->type, rd, rdlen);
		if (rs->type == DNS_T_SOA)
			put_live_serial(c, owner, rs);
		c->counts[sec]++;
		if (n < RRSET_MAX) {
			rds[n] = rd;
			lens[n] = rdlen;
		}
		n++;
	}
	if (online && online->signer && c->do_bit) {
		struct sig_rrset srs = { owner, dname_len(owner), rs->type, rs->ttl, n, rds, lens };
		if (n <= RRSET_MAX)
			put_online_sigs(c, sec, online, &srs, ttl);
	} else {
		/* a signed zone's RRSIGs, to a query with the DO bit (RFC 4035
		 * 3.1.1); the maintenance replaces them before they expire */
		const uint8_t *sigs = __atomic_load_n(&rs->sigs, __ATOMIC_ACQUIRE);
		pos = 0;
		for (uint16_t k = 0; c->do_bit && k < rs->nsigs; k++) {
			uint16_t len;
			memcpy(&len, sigs + pos, 2);
			put_rrsig(c, sec, owner, ttl, sigs + pos + 2, len);
			pos += 2 + (size_t)len;
		}
	}
	if (c->out.err) {
		mark_restore(c, &m);
		return -1;
	}
	return 0;
}

static int put_rrset(struct ctx *c, int sec, const uint8_t *owner, const struct zone_rrset *rs,
		     uint32_t ttl)
{
	return put_rrset_as(c, sec, owner, rs, ttl, NULL);
}

/* Whole response no longer fits: RFC 2181 9 - set TC, keep only the
 * question (the OPT record is added afterwards). */
static void truncate_all(struct ctx *c)
{
	c->out.pos = c->after_question;
	c->out.err = 0;
	c->counts[0] = c->counts[1] = c->counts[2] = 0;
	/* Forget compression targets beyond the question. */
	unsigned k = 0;
	for (unsigned i = 0; i < c->ncomp; i++)
		if (c->comp[i] < c->after_question)
			c->comp[k++] = c->comp[i];
	c->ncomp = k;
	c->flags |= F_TC;
}

static int put_soa_authority(struct ctx *c, const struct zone *z)
{
	if (put_rrset(c, SEC_NS, z->origin, z->soa, zone_negative_ttl(z))) {
		truncate_all(c);
		return -1;
	}
	return 0;
}

#define NSEC_TYPES_MAX 64

/* Compact denial made online (RFC 9824): an NSEC at name whose bitmap
 * holds types[0..n) (any order) and RRSIG and NSEC, with its RRSIGs, in
 * authority. -1 when it did not fit (rolled back). */
static int put_online_nsec(struct ctx *c, const struct zone *z, const uint8_t *name, size_t len,
			   const uint16_t *types, size_t n)
{
	uint16_t all[NSEC_TYPES_MAX + 2];
	size_t na = 0;
	all[na++] = DNS_T_RRSIG;
	all[na++] = DNS_T_NSEC;
	for (size_t i = 0; i < n && na < NSEC_TYPES_MAX + 2; i++) {
		size_t j = na;
		while (j > 0 && all[j - 1] > types[i])
			j--;
		if (j > 0 && all[j - 1] == types[i])
			continue;
		memmove(all + j + 1, all + j, (na - j) * sizeof(all[0]));
		all[j] = types[i];
		na++;
	}
	uint8_t lname[DNAME_MAXLEN];
	uint8_t rd[DNAME_MAXLEN + 2 + (NSEC_TYPES_MAX + 2) * 34];
	dname_tolower(lname, name, len);
	size_t rdlen = dnssec_nsec_rdata(rd, sizeof(rd), lname, len, all, na);
	if (!rdlen)
		return 0; /* a name too long for \000 in front: no proof */
	uint32_t ttl = zone_negative_ttl(z);
	struct mark m = mark_get(c);
	put_name(c, lname, 1);
	wbuf_u16(&c->out, DNS_T_NSEC);
	wbuf_u16(&c->out, DNS_C_IN);
	wbuf_u32(&c->out, ttl);
	wbuf_u16(&c->out, (uint16_t)rdlen);
	wbuf_put(&c->out, rd, rdlen);
	c->counts[SEC_NS]++;
	const uint8_t *rds[1] = { rd };
	uint16_t lens[1] = { (uint16_t)rdlen };
	struct sig_rrset srs = { lname, len, DNS_T_NSEC, ttl, 1, rds, lens };
	put_online_sigs(c, SEC_NS, z, &srs, ttl);
	if (c->out.err) {
		mark_restore(c, &m);
		return -1;
	}
	return 0;
}

/* A negative answer at name: the SOA, and to a DO query in a signed zone
 * the NSEC made for it, listing types[0..n) (the types at name but the
 * one asked). */
static void deny(struct ctx *c, const struct zone *z, const uint8_t *name, size_t len,
		 const uint16_t *types, size_t n)
{
	if (put_soa_authority(c, z))
		return;
	if (c->do_bit && z->signer && put_online_nsec(c, z, name, len, types, n))
		truncate_all(c);
}

/* The types that exist at a node and at a service there, but qtype. */
static size_t name_types(const struct ctx *c, const struct zone_node *nd, const struct service *svc,
			 uint16_t *out)
{
	size_t n = 0;
	for (size_t i = 0; nd && i < nd->nrrsets && n + 2 < NSEC_TYPES_MAX; i++)
		if (nd->rrsets[i].type != c->qtype)
			out[n++] = nd->rrsets[i].type;
	if (svc && svc->npools > 0 && svc->pools[0].cname_len > 0) {
		if (c->qtype != DNS_T_CNAME)
			out[n++] = DNS_T_CNAME;
	} else if (svc) {
		if (c->qtype != DNS_T_A)
			out[n++] = DNS_T_A;
		if (c->qtype != DNS_T_AAAA)
			out[n++] = DNS_T_AAAA;
	}
	return n;
}

static void deny_service(struct ctx *c, const struct zone *z, const struct service *svc,
			 const uint8_t *name, size_t len)
{
	uint16_t types[NSEC_TYPES_MAX];
	const struct zone_node *nd = c->do_bit && z->signer ? zone_find(z, name, len) : NULL;
	deny(c, z, name, len, types, name_types(c, nd, svc, types));
}

static int addl_seen(struct ctx *c, const struct zone_node *n)
{
	for (unsigned i = 0; i < c->naddl; i++)
		if (c->addl_done[i] == n)
			return 1;
	if (c->naddl < ADDL_MAX)
		c->addl_done[c->naddl++] = n;
	return 0;
}

/* Addresses of a target name served by us. glue: also accept occluded
 * names below a zone cut (referrals). Returns -1 when a required record
 * did not fit. */
static int add_addresses(struct ctx *c, const uint8_t *target, int glue)
{
	uint8_t lt[DNAME_MAXLEN];
	size_t len = dname_len(target);
	dname_tolower(lt, target, len);
	const struct zone *z = zoneset_find(c->snap->zones, lt, len);
	if (!z)
		return 0;
	const struct zone_node *n = zone_find(z, lt, len);
	if (!n || ((n->flags & ZONE_NODE_GLUE) && !glue) || addl_seen(c, n))
		return 0;
	static const uint16_t types[2] = { DNS_T_A, DNS_T_AAAA };
	for (int i = 0; i < 2; i++) {
		const struct zone_rrset *rs = zone_rrset(n, types[i]);
		if (rs && put_rrset(c, SEC_AR, n->name, rs, rs->ttl))
			return -1;
	}
	return 0;
}

/* Additional-section processing for NS, MX and SRV answers (RFC 1035 3.3,
 * RFC 2782): best effort, dropped silently when out of room. */
static void additional_for(struct ctx *c, const struct zone_rrset *rs)
{
	size_t off;
	switch (rs->type) {
	case DNS_T_NS:
		off = 0;
		break;
	case DNS_T_MX:
		off = 2;
		break;
	case DNS_T_SRV:
		off = 6;
		break;
	default:
		return;
	}
	size_t pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;
	while (zone_rrset_next(rs, &pos, &rd, &rdlen)) {
		if (rdlen <= off)
			continue;
		if (add_addresses(c, rd + off, 0))
			return;
	}
}

/* Referral to a child zone: NS in authority, glue in additional, AA off
 * unless an authoritative CNAME came first. Glue for names inside the
 * delegated zone must fit (RFC 9471), else TC. */
static void referral(struct ctx *c, const struct zone_node *cut, int after_cname)
{
	const struct zone_rrset *ns = zone_rrset(cut, DNS_T_NS);
	if (!after_cname)
		c->flags &= (uint16_t)~F_AA;
	if (put_rrset(c, SEC_NS, cut->name, ns, ns->ttl)) {
		truncate_all(c);
		return;
	}
	/* A signed zone's referral to a DO query says whether the child is
	 * signed (RFC 4035 3.1.4): its DS with RRSIG, or the NSEC proving
	 * there is none. */
	if (c->do_bit) {
		const struct zone_rrset *ds = zone_rrset(cut, DNS_T_DS);
		const struct zone_rrset *proof = ds && ds->nsigs ? ds : (ds ? NULL : cut->nsec);
		if (proof && put_rrset(c, SEC_NS, cut->name, proof, proof->ttl)) {
			truncate_all(c);
			return;
		}
	}
	size_t pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;
	while (zone_rrset_next(ns, &pos, &rd, &rdlen)) {
		size_t tl = dname_len(rd);
		int in_child = dname_is_sub(rd, tl, cut->name, cut->name_len);
		if (add_addresses(c, rd, 1)) {
			if (in_child)
				truncate_all(c);
			return;
		}
	}
}

/* RFC 8482: answer ANY with one RRset rather than everything. */
static const struct zone_rrset *any_choice(const struct zone_node *n)
{
	static const uint16_t prefer[] = { DNS_T_CNAME, DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT };
	for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]); i++) {
		const struct zone_rrset *rs = zone_rrset(n, prefer[i]);
		if (rs)
			return rs;
	}
	return n->nrrsets ? &n->rrsets[0] : NULL;
}

/* The client subnet to locate: ECS when it carries a prefix, else the
 * packet's source address (RFC 7871 7.1.2: source prefix 0 means "use the
 * source"). */
static void client_subnet(const struct ctx *c, int *family, uint8_t addr[16], uint8_t *prefix)
{
	memset(addr, 0, 16);
	if (c->ecs && c->ecs_source > 0) {
		*family = c->ecs_family == 1 ? AF_INET : AF_INET6;
		memcpy(addr, c->ecs_addr, c->ecs_addrlen);
		*prefix = c->ecs_source;
		return;
	}
	const struct sockaddr *sa = c->req->peer;
	if (sa && sa->sa_family == AF_INET6 &&
	    c->req->peer_len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		*family = AF_INET6;
		memcpy(addr, &s6->sin6_addr, 16);
		*prefix = 128;
		return;
	}
	*family = AF_INET;
	*prefix = 0; /* unknown source: locate nothing */
	if (sa && sa->sa_family == AF_INET &&
	    c->req->peer_len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		memcpy(addr, &s4->sin_addr, 4);
		*prefix = 32;
	}
}

static uint32_t rnd(struct ctx *c)
{
	/* xorshift32: per-query state seeded by the worker, nothing shared. */
	uint32_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->rng = x;
	return x;
}

#define PICK_MAX 256

/* Up to `answers` members of one family, weighted when weights differ,
 * rotated between queries. Returns how many were written, -1 when they did
 * not fit. */
/* The candidates of one family: from the health view when there is one
 * (only usable members, or all of them when failing open), else the config. */
struct cand {
	const uint8_t *addr;
	uint32_t weight;
};

/* members_pick = "sticky": the k best-scored candidates to the front, best
 * first (a selection: k is small). */
static void sticky_order(const struct decision *d, struct cand *cand, unsigned n, unsigned k,
			 int family)
{
	double score[PICK_MAX];
	int same_weight = 1;
	for (unsigned i = 1; i < n && same_weight; i++)
		same_weight = cand[i].weight == cand[0].weight;
	/* equal weights: the draw orders as the score does, no logarithm */
	for (unsigned i = 0; i < n; i++)
		score[i] = same_weight ?
				   (double)decide_member_draw(d, family, cand[i].addr) :
				   decide_member_score(d, family, cand[i].addr, cand[i].weight);
	for (unsigned i = 0; i < k; i++) {
		unsigned best = i;
		for (unsigned j = i + 1; j < n; j++)
			if (score[j] > score[best])
				best = j;
		struct cand tc = cand[i];
		double ts = score[i];
		cand[i] = cand[best];
		score[i] = score[best];
		cand[best] = tc;
		score[best] = ts;
	}
}

static int put_members(struct ctx *c, const struct zone *z, const uint8_t *owner,
		       const struct decision *d, int family, unsigned answers)
{
	const struct pool *p = d->pool;
	const struct hpool *hp = d->hpool;
	int all = d->fail_open;
	uint32_t ttl = d->ttl;
	struct cand cand[PICK_MAX];
	unsigned n = 0;
	uint64_t total = 0;
	int equal = 1;
	if (hp) {
		for (size_t i = 0; i < hp->nmembers && n < PICK_MAX; i++) {
			const struct hmember *m = &hp->members[i];
			/* Failing open answers members the probes call down, never
			 * what an admin drained or forced down. */
			int ok = m->usable || (all && m->admin != OVERRIDE_DRAIN &&
					       m->admin != OVERRIDE_FORCE_DOWN);
			if (m->family != family || !ok)
				continue;
			cand[n].addr = m->addr;
			cand[n].weight = m->weight;
			n++;
		}
	} else {
		for (size_t i = 0; i < p->nmembers && n < PICK_MAX; i++) {
			const struct member *m = &p->members[i];
			if (m->family != family)
				continue;
			cand[n].addr = m->addr;
			cand[n].weight = m->weight;
			n++;
		}
	}
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		total += cand[i].weight;
		if (cand[i].weight != cand[0].weight)
			equal = 0;
	}
	unsigned k = answers && answers < n ? answers : n;
	uint16_t type = family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	size_t alen = family == AF_INET ? 4 : 16;
	struct mark mk = mark_get(c);
	const uint8_t *sent[PICK_MAX];
	uint16_t lens[PICK_MAX];
	unsigned start = rnd(c) % n;
	if (d->hashed) {
		sticky_order(d, cand, n, k, family);
		start = 0;
		equal = 1;
	}
	for (unsigned i = 0; i < k; i++) {
		const struct cand *m;
		if (equal) {
			m = &cand[(start + i) % n];
		} else {
			/* Weighted draw without replacement. */
			uint64_t r = rnd(c) % total;
			unsigned j = 0;
			while (r >= cand[j].weight) {
				r -= cand[j].weight;
				j++;
			}
			struct cand tmp = cand[j];
			cand[j] = cand[n - 1];
			cand[n - 1] = tmp;
			m = &cand[n - 1];
			total -= m->weight;
			n--;
		}
		put_name(c, owner, 1);
		wbuf_u16(&c->out, type);
		wbuf_u16(&c->out, DNS_C_IN);
		wbuf_u32(&c->out, ttl);
		wbuf_u16(&c->out, (uint16_t)alen);
		wbuf_put(&c->out, m->addr, alen);
		c->counts[SEC_AN]++;
		sent[i] = m->addr;
		lens[i] = (uint16_t)alen;
	}
	/* signed as the RRset actually sent (the cache sorts it) */
	struct sig_rrset srs = {
		owner, dname_len(owner), type, dnssec_answer_ttl(d->svc, ttl), k, sent, lens
	};
	put_online_sigs(c, SEC_AN, z, &srs, ttl);
	if (c->out.err) {
		mark_restore(c, &mk);
		return -1;
	}
	return (int)k;
}

enum {
	SVC_DONE,
	SVC_FOLLOW
};

/* Answer at a service name. Returns SVC_FOLLOW with name/len replaced by
 * a CNAME target that is to be resolved further. */
static int answer_service(struct ctx *c, const struct zone *z, const struct service *svc,
			  uint8_t *name, size_t *len)
{
	uint16_t qt = c->qtype == DNS_T_ANY ? DNS_T_A : c->qtype;
	int cname_pools = svc->npools > 0 && svc->pools[0].cname_len > 0;

	if (!cname_pools && qt != DNS_T_A && qt != DNS_T_AAAA) {
		/* Not location dependent: zone data at the name, else NODATA. */
		struct zone_answer za;
		zone_lookup(z, name, *len, c->qtype, &za);
		const struct zone_rrset *rs = NULL;
		if (za.result == ZONE_EXACT)
			rs = zone_rrset(za.node, c->qtype);
		if (rs) {
			if (put_rrset(c, SEC_AN, name, rs, rs->ttl))
				truncate_all(c);
			else
				additional_for(c, rs);
		} else {
			deny_service(c, z, svc, name, *len);
		}
		return SVC_DONE;
	}

	struct decision d;
	int family;
	uint8_t addr[16], prefix;
	client_subnet(c, &family, addr, &prefix);
	decide(c->snap, svc, family, addr, prefix, &d);
	c->svc = svc;
	c->region = d.region;
	if (svc->wildcard && !c->rrl_name)
		c->rrl_name = svc->lname;
	c->all_down = d.all_down;
	c->rule = (uint8_t)d.rule;
	c->route = d.route;
	c->scope = d.scope;
	c->slot = d.pool && d.region >= 0 ? d.pool->metric_slot : -1;
	c->split_rule = d.split_region >= 0 && d.route ? (int)(d.route - svc->routes) : -1;
	if (c->ecs && c->ecs_source > 0 && d.scope > c->ecs_scope)
		c->ecs_scope = d.scope;
	if (d.all_down && svc->when_all_down == ALL_DOWN_SERVFAIL) {
		c->rcode = RCODE_SERVFAIL;
		c->flags &= (uint16_t)~F_AA;
		return SVC_DONE;
	}
	if (!d.pool) {
		/* No region left (or when_all_down = nodata): NODATA. */
		deny_service(c, z, svc, name, *len);
		return SVC_DONE;
	}
	if (d.pool->cname_len) {
		struct mark mk = mark_get(c);
		put_name(c, name, 1);
		wbuf_u16(&c->out, DNS_T_CNAME);
		wbuf_u16(&c->out, DNS_C_IN);
		wbuf_u32(&c->out, d.ttl);
		put_rdata(c, DNS_T_CNAME, d.pool->cname, d.pool->cname_len);
		c->counts[SEC_AN]++;
		const uint8_t *target[1] = { d.pool->cname };
		uint16_t tlen[1] = { d.pool->cname_len };
		struct sig_rrset srs = { name, *len,   DNS_T_CNAME, dnssec_answer_ttl(svc, d.ttl),
					 1,    target, tlen };
		put_online_sigs(c, SEC_AN, z, &srs, d.ttl);
		if (c->out.err) {
			mark_restore(c, &mk);
			truncate_all(c);
			return SVC_DONE;
		}
		if (c->qtype == DNS_T_CNAME)
			return SVC_DONE;
		*len = d.pool->cname_len;
		memcpy(name, d.pool->cname, *len);
		return SVC_FOLLOW;
	}
	int fam = qt == DNS_T_A ? AF_INET : AF_INET6;
	int n = put_members(c, z, name, &d, fam, svc->answers);
	if (n < 0)
		truncate_all(c);
	else if (n == 0)
		deny_service(c, z, svc, name, *len); /* no member of this family here: NODATA */
	return SVC_DONE;
}

static void answer_in(struct ctx *c)
{
	uint8_t name[DNAME_MAXLEN];
	size_t len = c->qname_len;
	memcpy(name, c->lqname, len);
	const struct zone *z = zoneset_find(c->snap->zones, name, len);
	if (!z) {
		c->rcode = RCODE_REFUSED;
		return;
	}
	/* DS lives on the parent side of a cut (RFC 4035 3.1.4.1): at the apex
	 * of a zone whose parent we also serve, answer from the parent. */
	if (c->qtype == DNS_T_DS && z->origin_len == len && len > 1) {
		const struct zone *parent =
			zoneset_find(c->snap->zones, name + 1 + name[0], len - 1 - name[0]);
		if (parent)
			z = parent;
	}
	c->co_echo = c->co_bit && z->signer;
	if (c->qtype == DNS_T_NXNAME && z->signer) {
		c->rcode = RCODE_FORMERR; /* RFC 9824 3.5 */
		return;
	}
	c->flags |= F_AA;

	for (int hop = 0; hop <= CHAIN_MAX; hop++) {
		const struct service *svc = decide_find_service(c->snap, name, len);
		if (svc) {
			if (answer_service(c, z, svc, name, &len) == SVC_DONE)
				return;
			z = zoneset_find(c->snap->zones, name, len);
			if (!z)
				return;
			continue;
		}
		struct zone_answer za;
		zone_lookup(z, name, len, c->qtype, &za);
		const struct zone_node *n = za.node;
		if (za.result == ZONE_DELEGATION) {
			referral(c, n, hop > 0);
			return;
		}
		if ((za.result == ZONE_NXDOMAIN || za.result == ZONE_WILDCARD) &&
		    decide_is_service_ent(c->snap, name, len)) {
			/* An empty non-terminal above a service name: it exists,
			 * and it blocks zone wildcards like any other (RFC 4592). */
			deny(c, z, name, len, NULL, 0);
			return;
		}
		if (za.result == ZONE_NXDOMAIN && c->do_bit && z->signer) {
			/* compact denial (RFC 9824): the name "exists" with no
			 * type but NXNAME; NXDOMAIN only when the client says it
			 * understands that (CO) */
			static const uint16_t nx[1] = { DNS_T_NXNAME };
			if (c->co_bit)
				c->rcode = RCODE_NXDOMAIN;
			deny(c, z, name, len, nx, 1);
			return;
		}
		if (za.result == ZONE_NXDOMAIN) {
			c->rcode = RCODE_NXDOMAIN;
			put_soa_authority(c, z);
			return;
		}
		/* The owner of synthesized (wildcard) answers is the name asked;
		 * rate limiting counts them under the wildcard, as BIND does,
		 * so random names below it share one bucket. */
		if (za.result == ZONE_WILDCARD && !c->rrl_name)
			c->rrl_name = n->name;
		const struct zone_rrset *rs;
		if (c->qtype == DNS_T_ANY)
			rs = any_choice(n);
		else
			rs = zone_rrset(n, c->qtype);
		/* a wildcard's RRsets are signed online under the name asked:
		 * no proof of the wildcard's use is needed */
		const struct zone *synth = za.result == ZONE_WILDCARD ? z : NULL;
		if (rs) {
			if (put_rrset_as(c, SEC_AN, name, rs, rs->ttl, synth)) {
				truncate_all(c);
				return;
			}
			additional_for(c, rs);
			return;
		}
		const struct zone_rrset *cn =
			(n->flags & ZONE_NODE_CNAME) ? zone_rrset(n, DNS_T_CNAME) : NULL;
		if (!cn) {
			/* NODATA; a signed zone proves it to DO queries with the
			 * name's NSEC (RFC 9824) */
			if (synth) {
				uint16_t types[NSEC_TYPES_MAX];
				deny(c, z, name, len, types, name_types(c, n, NULL, types));
				return;
			}
			if (put_soa_authority(c, z) == 0 && c->do_bit && za.result == ZONE_EXACT &&
			    n->nsec && put_rrset(c, SEC_NS, name, n->nsec, n->nsec->ttl))
				truncate_all(c);
			return;
		}
		if (put_rrset_as(c, SEC_AN, name, cn, cn->ttl, synth)) {
			truncate_all(c);
			return;
		}
		/* Follow the chain into any zone we serve (we are authoritative
		 * for all of them); stop at names elsewhere. */
		const uint8_t *rd;
		uint16_t rdlen;
		size_t pos = 0;
		if (!zone_rrset_next(cn, &pos, &rd, &rdlen))
			return;
		len = dname_len(rd);
		dname_tolower(name, rd, len);
		z = zoneset_find(c->snap->zones, name, len);
		if (!z)
			return;
	}
	/* Chain longer than we follow: what we have is the answer. */
}

/* CHAOS TXT for the server's identity and version (RFC 4892), only when
 * the operator configured them. */
static void answer_chaos(struct ctx *c)
{
	static const uint8_t id_server[] = "\2id\6server";
	static const uint8_t hostname_bind[] = "\10hostname\4bind";
	static const uint8_t version_bind[] = "\7version\4bind";
	static const uint8_t version_server[] = "\7version\6server";
	const char *text = NULL;
	const struct conf *cf = c->snap->conf;

	if (c->qtype == DNS_T_TXT || c->qtype == DNS_T_ANY) {
		if (dname_equal(c->lqname, id_server) || dname_equal(c->lqname, hostname_bind))
			text = cf->identity;
		else if (dname_equal(c->lqname, version_bind) ||
			 dname_equal(c->lqname, version_server))
			text = cf->version;
	}
	if (!text) {
		c->rcode = RCODE_REFUSED;
		return;
	}
	/* No AA: these are not zone data (NSD and Knot answer the same way). */
	size_t tl = strlen(text);
	struct mark m = mark_get(c);
	put_name(c, c->qname, 1);
	wbuf_u16(&c->out, DNS_T_TXT);
	wbuf_u16(&c->out, DNS_C_CH);
	wbuf_u32(&c->out, 0);
	wbuf_u16(&c->out, (uint16_t)(tl + (tl + 254) / 255 + (tl == 0)));
	size_t p = 0;
	do {
		size_t chunk = tl - p > 255 ? 255 : tl - p;
		wbuf_u8(&c->out, (uint8_t)chunk);
		wbuf_put(&c->out, text + p, chunk);
		p += chunk;
	} while (p < tl);
	c->counts[SEC_AN]++;
	if (c->out.err) {
		mark_restore(c, &m);
		truncate_all(c);
	}
}

/* RFC 7871 section 6: family 1 or 2, source prefix within the family, no
 * more address bytes than the prefix needs and none of its bits set beyond
 * it, scope 0 in queries. Anything else is FORMERR. */
static int parse_ecs(struct ctx *c, const uint8_t *p, uint16_t len)
{
	struct wire w;
	wire_init(&w, p, len);
	if (c->ecs)
		return -1; /* one client subnet per query */
	uint16_t family = wire_u16(&w);
	uint8_t source = wire_u8(&w);
	uint8_t scope = wire_u8(&w);
	if (!wire_ok(&w))
		return -1;
	unsigned maxbits = family == 1 ? 32 : family == 2 ? 128 : 0;
	if (maxbits == 0 || source > maxbits || scope != 0)
		return -1;
	size_t alen = wire_left(&w);
	if (alen != ((size_t)source + 7) / 8)
		return -1;
	wire_read(&w, c->ecs_addr, alen);
	if (source % 8) {
		uint8_t mask = (uint8_t)(0xFF >> (source % 8));
		if (c->ecs_addr[alen - 1] & mask)
			return -1;
	}
	c->ecs = 1;
	c->ecs_family = family;
	c->ecs_source = source;
	c->ecs_addrlen = (uint8_t)alen;
	return 0;
}

/* The RDATA of a TSIG record (RFC 8945 4.2), which starts at offset at of
 * the message and is rdlen bytes long: -1 when malformed. */
static int parse_tsig(struct ctx *c, const struct wire *msg, size_t at, uint16_t rdlen)
{
	struct wire r = *msg;
	wire_seek(&r, at);
	c->tsig_alg_len = dname_parse(&r, c->tsig_alg);
	wire_read(&r, c->tsig_time, 6);
	c->tsig_fudge = wire_u16(&r);
	uint16_t mac_len = wire_u16(&r);
	wire_skip(&r, mac_len);
	c->tsig_orig_id = wire_u16(&r);
	wire_skip(&r, 2); /* error */
	uint16_t other_len = wire_u16(&r);
	wire_skip(&r, other_len);
	if (!wire_ok(&r) || c->tsig_alg_len == 0 || r.pos != at + rdlen)
		return -1;
	c->tsig = 1;
	return 0;
}

/* Parse the EDNS OPT record and anything else in the additional section. */
static enum dns_decode parse_additional(struct ctx *c, struct wire *w, uint16_t arcount)
{
	for (uint16_t i = 0; i < arcount; i++) {
		uint8_t owner[DNAME_MAXLEN];
		size_t olen = dname_parse(w, owner);
		uint16_t type = wire_u16(w);
		uint16_t klass = wire_u16(w);
		uint32_t ttl = wire_u32(w);
		uint16_t rdlen = wire_u16(w);
		const uint8_t *rd = wire_take(w, rdlen);
		if (!wire_ok(w) || olen == 0)
			return DECODE_FORMERR;
		if (type == DNS_T_TSIG) {
			/* RFC 8945 5.1: one TSIG, the last record, else FORMERR */
			if (i + 1 != arcount || parse_tsig(c, w, (size_t)(rd - w->buf), rdlen))
				return DECODE_FORMERR;
			memcpy(c->tsig_key, owner, olen);
			c->tsig_key_len = olen;
			continue;
		}
		if (type != DNS_T_OPT)
			continue;
		if (c->edns || olen != 1)
			return DECODE_FORMERR; /* RFC 6891 6.1.1: one OPT, owner root */
		c->edns = 1;
		c->udp_size = klass < DNS_MIN_UDP ? DNS_MIN_UDP : klass;
		c->edns_version = (uint8_t)(ttl >> 16);
		c->do_bit = (ttl & EDNS_F_DO) != 0;
		c->co_bit = c->do_bit && (ttl & EDNS_F_CO) != 0;
		struct wire o;
		wire_init(&o, rd, rdlen);
		while (wire_left(&o) > 0) {
			uint16_t code = wire_u16(&o);
			uint16_t olen2 = wire_u16(&o);
			wire_skip(&o, olen2);
			if (!wire_ok(&o))
				return DECODE_FORMERR;
			if (code == EDNS_NSID)
				c->nsid_req = 1;
			if (code == EDNS_ECS && parse_ecs(c, o.buf + o.pos - olen2, olen2))
				return DECODE_FORMERR;
		}
	}
	return DECODE_OK;
}

static void put_opt(struct ctx *c)
{
	const struct conf *cf = c->snap->conf;
	uint16_t rdlen = 0;
	int nsid = c->nsid_req && cf->nsid_len > 0;
	if (nsid)
		rdlen = (uint16_t)(4 + cf->nsid_len);
	if (c->ecs)
		rdlen = (uint16_t)(rdlen + 8 + c->ecs_addrlen);
	wbuf_u8(&c->out, 0);
	wbuf_u16(&c->out, DNS_T_OPT);
	wbuf_u16(&c->out, cf->edns_size);
	wbuf_u8(&c->out, (uint8_t)(c->rcode >> 4));
	wbuf_u8(&c->out, 0);
	wbuf_u16(&c->out, (uint16_t)((c->do_bit ? EDNS_F_DO : 0) | (c->co_echo ? EDNS_F_CO : 0)));
	wbuf_u16(&c->out, rdlen);
	if (nsid) {
		wbuf_u16(&c->out, EDNS_NSID);
		wbuf_u16(&c->out, cf->nsid_len);
		wbuf_put(&c->out, cf->nsid, cf->nsid_len);
	}
	if (c->ecs) {
		/* Same family, source prefix and address; our scope. */
		wbuf_u16(&c->out, EDNS_ECS);
		wbuf_u16(&c->out, (uint16_t)(4 + c->ecs_addrlen));
		wbuf_u16(&c->out, c->ecs_family);
		wbuf_u8(&c->out, c->ecs_source);
		wbuf_u8(&c->out, c->ecs_scope);
		wbuf_put(&c->out, c->ecs_addr, c->ecs_addrlen);
	}
	c->counts[SEC_AR]++;
}

/* The TSIG record of an error reply to a signed query: the query's key
 * name, algorithm, time and fudge, no MAC (RFC 8945 5.3.2: errors about
 * the key are unsigned), error BADKEY. The last record of the message; a
 * reply it does not fit goes out truncated without it. */
static void put_tsig(struct ctx *c)
{
	struct mark mk = mark_get(c);
	c->out.cap = c->limit;
	wbuf_put(&c->out, c->tsig_key, c->tsig_key_len);
	wbuf_u16(&c->out, DNS_T_TSIG);
	wbuf_u16(&c->out, DNS_C_ANY);
	wbuf_u32(&c->out, 0);
	size_t rdlen_at = c->out.pos;
	wbuf_u16(&c->out, 0);
	wbuf_put(&c->out, c->tsig_alg, c->tsig_alg_len);
	wbuf_put(&c->out, c->tsig_time, 6);
	wbuf_u16(&c->out, c->tsig_fudge);
	wbuf_u16(&c->out, 0); /* MAC size */
	wbuf_u16(&c->out, c->tsig_orig_id);
	wbuf_u16(&c->out, TSIG_BADKEY);
	wbuf_u16(&c->out, 0); /* other len */
	if (c->out.err) {
		mark_restore(c, &mk);
		c->flags |= F_TC;
		return;
	}
	wbuf_set_u16(&c->out, rdlen_at, (uint16_t)(c->out.pos - rdlen_at - 2));
	c->counts[SEC_AR]++;
}

static size_t opt_size(const struct ctx *c)
{
	const struct conf *cf = c->snap->conf;
	size_t n = 11;
	if (c->nsid_req && cf->nsid_len > 0)
		n += 4 + (size_t)cf->nsid_len;
	if (c->ecs)
		n += 8 + (size_t)c->ecs_addrlen;
	return n;
}

static void put_header(struct ctx *c)
{
	uint16_t flags = F_QR | (uint16_t)(c->opcode << 11) | (c->qflags & (F_RD | F_CD)) |
			 (c->flags & (F_AA | F_TC)) | (c->rcode & 0xF);
	uint8_t *h = c->out.buf;
	h[0] = (uint8_t)(c->id >> 8);
	h[1] = (uint8_t)c->id;
	h[2] = (uint8_t)(flags >> 8);
	h[3] = (uint8_t)flags;
	h[4] = 0;
	h[5] = c->have_question ? 1 : 0;
	for (int i = 0; i < 3; i++) {
		h[6 + 2 * i] = (uint8_t)(c->counts[i] >> 8);
		h[7 + 2 * i] = (uint8_t)c->counts[i];
	}
}

static void put_question(struct ctx *c)
{
	c->out.pos = DNS_HEADER_LEN;
	if (c->have_question) {
		put_name(c, c->qname, 0);
		wbuf_u16(&c->out, c->qtype);
		wbuf_u16(&c->out, c->qclass);
	}
	c->after_question = c->out.pos;
}

/* Reply carrying only the header (and question when we have it), for errors. */
static size_t finish(struct ctx *c, int with_opt, struct dns_info *info)
{
	if (c->out.err) {
		/* Could not even fit the question: header only. */
		c->have_question = 0;
		c->ncomp = 0;
		c->out.err = 0;
		put_question(c);
	}
	if (with_opt && c->edns) {
		c->out.cap = c->limit;
		put_opt(c);
		if (c->out.err) {
			c->out.err = 0;
			truncate_all(c);
			c->counts[SEC_AR] = 0;
		}
	}
	if (with_opt && c->rcode == RCODE_NOTAUTH && c->tsig)
		put_tsig(c);
	put_header(c);
	if (info) {
		info->rcode = c->rcode;
		info->truncated = (c->flags & F_TC) != 0;
		info->edns = (uint8_t)c->edns;
		info->qtype = c->qtype;
		info->ecs = (uint8_t)c->ecs;
		info->service = c->svc;
		info->region = c->region;
		info->slot = c->slot;
		info->split_rule = c->split_rule;
		info->rrl_name = c->rrl_name;
		info->all_down = (uint8_t)c->all_down;
		info->rule = c->rule;
		info->route = c->route;
		info->scope = c->scope;
	}
	return c->out.pos;
}

/* The section counts of a query's header. */
struct sections {
	uint16_t qd, an, ns, ar;
};

/* Read the header. DECODE_DROP for what deserves no reply: shorter than a
 * header (or no room for one), or a response. */
static enum dns_decode decode_header(struct ctx *c, struct wire *w, struct sections *n)
{
	const struct dns_request *req = c->req;

	if (req->query_len < DNS_HEADER_LEN || req->resp_cap < DNS_HEADER_LEN)
		return DECODE_DROP;
	wire_init(w, req->query, req->query_len);
	c->id = wire_u16(w);
	c->qflags = wire_u16(w);
	n->qd = wire_u16(w);
	n->an = wire_u16(w);
	n->ns = wire_u16(w);
	n->ar = wire_u16(w);
	if (c->qflags & F_QR)
		return DECODE_DROP; /* never answer a response */
	c->opcode = (uint8_t)((c->qflags >> 11) & 0xF);
	return DECODE_OK;
}

/* Replies go to a fixed buffer; until EDNS is known the UDP limit is 512. */
static void output_init(struct ctx *c)
{
	c->limit = c->req->transport == DNS_TCP ? DNS_MAX_MSG : DNS_MIN_UDP;
	if (c->limit > c->req->resp_cap)
		c->limit = c->req->resp_cap;
	/* decode_header made sure a header fits: put_header writes it blind. */
	assert(c->limit >= DNS_HEADER_LEN);
	wbuf_init(&c->out, c->req->resp, c->limit);
}

/* The question, when there is exactly one and it parses. */
static void decode_question(struct ctx *c, struct wire *w, uint16_t qdcount)
{
	if (qdcount != 1)
		return;
	c->qname_len = dname_parse(w, c->qname);
	c->qtype = wire_u16(w);
	c->qclass = wire_u16(w);
	if (wire_ok(w) && c->qname_len > 0) {
		c->have_question = 1;
		dname_tolower(c->lqname, c->qname, c->qname_len);
	}
}

/* Over UDP with EDNS, the reply may grow to the smaller of the client's
 * size and ours (never below 512, never past the caller's buffer). */
static void edns_limit(struct ctx *c)
{
	uint16_t ours = c->snap->conf->edns_size;

	if (!c->edns || c->req->transport != DNS_UDP)
		return;
	size_t lim = c->udp_size < ours ? c->udp_size : ours;
	if (lim < DNS_MIN_UDP)
		lim = DNS_MIN_UDP;
	c->limit = lim < c->req->resp_cap ? lim : c->req->resp_cap;
	c->out.cap = c->limit;
	/* Nothing is written yet: no cap below what the buffer holds. */
	assert(c->out.pos <= c->out.cap);
}

/* RFC 1995 3: an IXFR query carries the client's SOA in the authority
 * section; skipped (a few records at most, well-formed). Any other query
 * with authority records is FORMERR, as NSD does. Returns -1 for FORMERR. */
#define IXFR_MAX_AUTHORITY 8
static int skip_authority(const struct ctx *c, struct wire *w, uint16_t ns)
{
	if (ns == 0)
		return 0;
	if (c->qtype != DNS_T_IXFR || ns > IXFR_MAX_AUTHORITY)
		return -1;
	for (uint16_t i = 0; i < ns; i++) {
		uint8_t owner[DNAME_MAXLEN];
		size_t olen = dname_parse(w, owner);
		wire_skip(w, 8); /* type, class, TTL */
		uint16_t rdlen = wire_u16(w);
		wire_skip(w, rdlen);
		if (!wire_ok(w) || olen == 0)
			return -1;
	}
	return 0;
}

/* What a query must be before it is looked up, in this order: opcode
 * QUERY, one question and no answer records, no authority records but an
 * IXFR's (skip_authority), a well-formed
 * additional section, no TSIG (gslbd knows no key), EDNS version 0.
 * Returns DECODE_OK, or the verdict of the error reply with c->rcode set. */
static enum dns_decode check_query(struct ctx *c, struct wire *w, const struct sections *n)
{
	enum dns_decode verdict;

	if (c->opcode != 0) {
		c->rcode = RCODE_NOTIMP;
		return DECODE_NOTIMP;
	}
	if (!c->have_question || n->an != 0 || skip_authority(c, w, n->ns)) {
		c->rcode = RCODE_FORMERR;
		return DECODE_FORMERR;
	}
	verdict = parse_additional(c, w, n->ar);
	if (verdict != DECODE_OK) {
		c->rcode = RCODE_FORMERR;
		c->edns = 0; /* the OPT itself may be what is broken */
		return verdict;
	}
	edns_limit(c);
	if (c->tsig) {
		/* RFC 8945 5.2.2: a key we do not know (we know none). */
		c->rcode = RCODE_NOTAUTH;
		return DECODE_NOTAUTH;
	}
	if (c->edns && c->edns_version > 0) {
		c->rcode = RCODE_BADVERS;
		c->nsid_req = 0;
		return DECODE_BADVERS;
	}
	return DECODE_OK;
}

/* Answer a query that passed check_query, after its question: by type
 * first (meta types, zone transfers), then by class. Returns the verdict
 * for the counters. */
static enum dns_decode answer(struct ctx *c)
{
	if (c->qtype == DNS_T_OPT || c->qtype == DNS_T_TSIG || c->qtype == DNS_T_TKEY) {
		c->rcode = RCODE_FORMERR;
		return DECODE_FORMERR;
	}
	if (c->qtype == DNS_T_MAILA || c->qtype == DNS_T_MAILB) {
		c->rcode = RCODE_NOTIMP;
		return DECODE_NOTIMP;
	}
	/* Room for the OPT record is kept back while sections are written. */
	if (c->edns) {
		size_t need = opt_size(c);
		c->out.cap = c->limit > c->out.pos + need ? c->limit - need : c->out.pos;
	}
	assert(c->out.pos <= c->out.cap && c->out.cap <= c->limit);
	if (c->qtype == DNS_T_AXFR || c->qtype == DNS_T_IXFR) {
		c->rcode = RCODE_REFUSED; /* zone transfers are not offered */
		return DECODE_REFUSED;
	}
	if (c->qclass == DNS_C_IN) {
		answer_in(c);
	} else if (c->qclass == DNS_C_CH) {
		answer_chaos(c);
	} else {
		c->rcode = RCODE_REFUSED;
		return DECODE_REFUSED;
	}
	return c->rcode == RCODE_REFUSED ? DECODE_REFUSED : DECODE_OK;
}

size_t dns_process(const struct snapshot *snap, const struct dns_request *req,
		   struct dns_info *info)
{
	struct ctx c;
	struct wire w;
	struct sections n;
	enum dns_decode verdict;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.snap = snap;
	c.req = req;
	c.region = -1;
	c.slot = -1;
	c.split_rule = -1;
	c.rng = req->entropy | 1;
	if (info)
		memset(info, 0, sizeof(*info));

	verdict = decode_header(&c, &w, &n);
	if (verdict == DECODE_DROP) {
		if (info)
			info->verdict = verdict;
		return 0;
	}
	output_init(&c);
	decode_question(&c, &w, n.qd);
	verdict = check_query(&c, &w, &n);
	put_question(&c);
	if (verdict == DECODE_OK && !c.out.err)
		verdict = answer(&c);
	if (info)
		info->verdict = verdict;
	len = finish(&c, 1, info);
	/* The reply never leaves the caller's buffer nor the transport's
	 * limit: a longer length would send memory past it. */
	assert(len <= c.limit && c.limit <= req->resp_cap);
	return len;
}

size_t dns_refuse(const struct dns_request *req)
{
	struct wire w;
	struct wbuf out;
	uint8_t qname[DNAME_MAXLEN];

	if (req->query_len < DNS_HEADER_LEN || req->resp_cap < DNS_MIN_UDP)
		return 0;
	wire_init(&w, req->query, req->query_len);
	uint16_t id = wire_u16(&w);
	uint16_t flags = wire_u16(&w);
	uint16_t qd = wire_u16(&w);
	wire_skip(&w, 6);
	if ((flags & F_QR) || qd != 1)
		return 0;
	size_t nl = dname_parse(&w, qname);
	uint16_t qtype = wire_u16(&w), qclass = wire_u16(&w);
	if (!nl || !wire_ok(&w))
		return 0;
	wbuf_init(&out, req->resp, DNS_MIN_UDP);
	wbuf_u16(&out, id);
	wbuf_u16(&out, (uint16_t)(F_QR | (flags & (0x7800 | F_RD | F_CD)) | RCODE_REFUSED));
	wbuf_u16(&out, 1);
	wbuf_u16(&out, 0);
	wbuf_u16(&out, 0);
	wbuf_u16(&out, 0);
	wbuf_put(&out, qname, nl);
	wbuf_u16(&out, qtype);
	wbuf_u16(&out, qclass);
	/* RFC 6891 7: a query with OPT gets OPT back, even when refused. */
	uint16_t an = (uint16_t)((req->query[6] << 8) | req->query[7]);
	uint16_t ns = (uint16_t)((req->query[8] << 8) | req->query[9]);
	uint16_t ar = (uint16_t)((req->query[10] << 8) | req->query[11]);
	if (an == 0 && ns == 0 && ar > 0) {
		uint8_t owner[DNAME_MAXLEN];
		size_t ol = dname_parse(&w, owner);
		uint16_t type = wire_u16(&w);
		wire_skip(&w, 2);
		uint32_t ttl = wire_u32(&w);
		if (wire_ok(&w) && ol == 1 && type == DNS_T_OPT) {
			wbuf_u8(&out, 0);
			wbuf_u16(&out, DNS_T_OPT);
			wbuf_u16(&out, DNS_DEFAULT_EDNS_SIZE);
			wbuf_u32(&out, ttl & 0x8000); /* ext rcode 0, version 0, DO copied */
			wbuf_u16(&out, 0);
			if (!out.err)
				wbuf_set_u16(&out, 10, 1);
		}
	}
	return out.err ? 0 : out.pos;
}
