/* Signing a static zone at load (dnssec.h, dnssec_sign_zone): the DNSKEY,
 * CDS and CDNSKEY RRsets are added at the apex, and every authoritative RRset gets its RRSIGs,
 * stored beside its RDATA for the query path to send with the DO bit. */
#include <stdlib.h>
#include <string.h>

#include "gslb/dnsdefs.h"
#include "gslb/dnssec.h"
#include "gslb/dnssec_cache.h"
#include "gslb/err.h"
#include "gslb/siphash.h"
#include "gslb/zone.h"

/* A growing block of RDLENGTH (host order) + RDATA entries. */
struct blob {
	uint8_t *p;
	size_t len, cap;
};

static int blob_put(struct blob *b, const uint8_t *rd, size_t n)
{
	if (n > 65535)
		return GSLB_ERANGE;
	if (b->len + 2 + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + 2 + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return GSLB_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	uint16_t l = (uint16_t)n;
	memcpy(b->p + b->len, &l, 2);
	memcpy(b->p + b->len + 2, rd, n);
	b->len += 2 + n;
	return GSLB_OK;
}

/* Where each signed RRset's entries start in the blob (set once it stops
 * moving). */
struct placed {
	struct zone_rrset *rs;
	size_t off;
	uint16_t n;
};

enum {
	APEX_KEY_SETS = 3
};

struct signer {
	struct zone *z;
	const struct dnssec_key *keys;
	size_t nkeys;
	/* with both, SEP keys (KSKs) sign the key RRsets, the others (ZSKs)
	 * the rest; else every key signs all */
	int have_zsk, have_ksk;
	size_t key_off[APEX_KEY_SETS]; /* the key RRsets' RDATA in the block */
	uint32_t inception, expiration;
	struct blob blob;
	struct placed *placed;
	size_t nplaced, capplaced;
	char *err;
	size_t errlen;
};

static int is_key_type(uint16_t t)
{
	return t == DNS_T_DNSKEY || t == DNS_T_CDS || t == DNS_T_CDNSKEY;
}

/* The RRset as ldns records: owner, type, IN, TTL, each RDATA. */
static ldns_rr_list *to_ldns(const uint8_t *owner, size_t olen, const struct zone_rrset *rs)
{
	ldns_rr_list *l = ldns_rr_list_new();
	size_t pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;
	while (l && zone_rrset_next(rs, &pos, &rd, &rdlen)) {
		if (dnssec_rr_push(l, owner, olen, rs->type, rs->ttl, rd, rdlen)) {
			ldns_rr_list_deep_free(l);
			return NULL;
		}
	}
	return l;
}

static int sign_one(struct signer *s, const struct zone_node *node, struct zone_rrset *rs)
{
	ldns_rr_list *l = to_ldns(node->name, node->name_len, rs);
	if (!l)
		return GSLB_ENOMEM;
	size_t off = s->blob.len;
	uint16_t n = 0;
	int rc = GSLB_OK;
	ldns_buffer *buf = ldns_buffer_new(1024);
	for (size_t k = 0; k < s->nkeys && rc == GSLB_OK && buf; k++) {
		int sep = (s->keys[k].flags & DNSSEC_FLAG_SEP) != 0;
		if (s->have_zsk && s->have_ksk && sep != is_key_type(rs->type))
			continue;
		ldns_rr *sig = dnssec_sign_rrset(l, &s->keys[k], s->inception, s->expiration);
		ldns_buffer_clear(buf);
		if (!sig || ldns_rr_rdata2buffer_wire(buf, sig) != LDNS_STATUS_OK)
			rc = GSLB_ENOMEM;
		else
			rc = blob_put(&s->blob, ldns_buffer_begin(buf), ldns_buffer_position(buf));
		ldns_rr_free(sig);
		n++;
	}
	if (!buf)
		rc = GSLB_ENOMEM;
	ldns_buffer_free(buf);
	ldns_rr_list_deep_free(l);
	if (rc)
		return rc;
	if (s->nplaced == s->capplaced) {
		size_t cap = s->capplaced ? s->capplaced * 2 : 256;
		struct placed *p = realloc(s->placed, cap * sizeof(*p));
		if (!p)
			return GSLB_ENOMEM;
		s->placed = p;
		s->capplaced = cap;
	}
	s->placed[s->nplaced++] = (struct placed){ rs, off, n };
	return GSLB_OK;
}

/* The apex RRsets made from the keys: DNSKEY, CDS, CDNSKEY (type order). */
static const uint16_t key_types[APEX_KEY_SETS] = { DNS_T_DNSKEY, DNS_T_CDS, DNS_T_CDNSKEY };

/* RDATA of one key's record of type t into the block. */
static int put_key_rdata(struct blob *b, const struct dnssec_key *k, uint16_t t, ldns_buffer *buf)
{
	ldns_rr *ds = t == DNS_T_CDS ? dnssec_key_ds(k, LDNS_SHA256, 0) : NULL;
	if (t == DNS_T_CDS && !ds)
		return GSLB_ENOMEM;
	ldns_buffer_clear(buf);
	int rc = ldns_rr_rdata2buffer_wire(buf, ds ? ds : k->dnskey) == LDNS_STATUS_OK ?
			 blob_put(b, ldns_buffer_begin(buf), ldns_buffer_position(buf)) :
			 GSLB_ENOMEM;
	ldns_rr_free(ds);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
	uint16_t lx, ly;
	memcpy(&lx, x, 2);
	memcpy(&ly, y, 2);
	int c = memcmp(x + 2, y + 2, lx < ly ? lx : ly);
	return c ? c : (lx > ly) - (lx < ly);
}

/* The n entries of p[0..len) in canonical RDATA order (RFC 4034 6.3), so
 * that nodes given the same keys in another order send the same bytes. */
static int sort_entries(uint8_t *p, size_t len, size_t n)
{
	const uint8_t **at = calloc(n ? n : 1, sizeof(*at));
	uint8_t *copy = malloc(len ? len : 1);
	if (!at || !copy) {
		free(at);
		free(copy);
		return GSLB_ENOMEM;
	}
	memcpy(copy, p, len);
	for (size_t i = 0, off = 0; i < n; i++) {
		uint16_t l;
		memcpy(&l, copy + off, 2);
		at[i] = copy + off;
		off += 2 + (size_t)l;
	}
	qsort(at, n, sizeof(*at), cmp_entry);
	for (size_t i = 0, off = 0; i < n; i++) {
		uint16_t l;
		memcpy(&l, at[i], 2);
		memcpy(p + off, at[i], 2 + (size_t)l);
		off += 2 + (size_t)l;
	}
	free(at);
	free(copy);
	return GSLB_OK;
}

/* The apex's key RRsets at their entries in the block (it moves as
 * signatures are added). */
static void point_key_sets(struct signer *s)
{
	for (size_t i = 0; i < s->z->apex->nrrsets; i++) {
		struct zone_rrset *rs = (struct zone_rrset *)&s->z->apex->rrsets[i];
		for (size_t t = 0; t < APEX_KEY_SETS; t++)
			if (rs->type == key_types[t])
				rs->rdata = s->blob.p + s->key_off[t];
	}
}

/* DNSKEY RRset at the apex from every key, CDS (SHA-256) and CDNSKEY
 * (RFC 7344) from the keys the parent's DS names: the apex's RRsets are
 * copied into a new array with them in type order; their RDATA lead the
 * block, signatures follow. */
static int add_key_sets(struct signer *s, uint32_t ttl)
{
	struct zone *z = s->z;
	struct zone_node *apex = (struct zone_node *)z->apex;
	size_t total = (size_t)apex->nrrsets + APEX_KEY_SETS;
	struct zone_rrset *sets = calloc(total, sizeof(*sets));
	ldns_buffer *buf = ldns_buffer_new(512);
	struct zone_rrset made[APEX_KEY_SETS] = { 0 };
	int rc = sets && buf ? GSLB_OK : GSLB_ENOMEM;
	for (size_t t = 0; t < APEX_KEY_SETS && !rc; t++) {
		s->key_off[t] = s->blob.len;
		made[t].type = key_types[t];
		made[t].ttl = ttl;
		for (size_t k = 0; k < s->nkeys && !rc; k++) {
			if (key_types[t] != DNS_T_DNSKEY &&
			    !dnssec_key_for_ds(s->keys, s->nkeys, k))
				continue;
			rc = put_key_rdata(&s->blob, &s->keys[k], key_types[t], buf);
			made[t].count++;
		}
		made[t].rdata_size = s->blob.len - s->key_off[t];
		if (!rc)
			rc = sort_entries(s->blob.p + s->key_off[t], made[t].rdata_size,
					  made[t].count);
	}
	ldns_buffer_free(buf);
	if (rc) {
		free(sets);
		return rc;
	}
	for (size_t i = 0, o = 0, t = 0; i < total; i++)
		sets[i] = t < APEX_KEY_SETS && (o == apex->nrrsets ||
						apex->rrsets[o].type > key_types[t]) ?
				  made[t++] :
				  apex->rrsets[o++];
	z->apex_sets = sets;
	apex->rrsets = sets;
	apex->nrrsets = (uint16_t)total;
	for (size_t i = 0; i < apex->nrrsets; i++)
		if (sets[i].type == DNS_T_SOA)
			z->soa = &sets[i];
	point_key_sets(s);
	return GSLB_OK;
}

static int nsec_here(const struct zone_node *nd)
{
	return !(nd->flags & ZONE_NODE_GLUE) && (size_t)nd->name_len + 2 <= DNAME_MAXLEN;
}

/* NSEC RDATA for a node (compact denial, RFC 9824 3.2): next name
 * \000.owner, the bitmap of the types present plus RRSIG and NSEC. */
static int nsec_rdata(const struct zone_node *nd, struct blob *b)
{
	ldns_rr_type types[65536 / 64];
	size_t n = 0;
	int rrsig = 0, nsec = 0;
	for (size_t j = 0; j < nd->nrrsets && n + 2 < sizeof(types) / sizeof(types[0]); j++) {
		uint16_t t = nd->rrsets[j].type;
		if (!rrsig && t > DNS_T_RRSIG)
			types[n++] = LDNS_RR_TYPE_RRSIG, rrsig = 1;
		if (!nsec && t > DNS_T_NSEC)
			types[n++] = LDNS_RR_TYPE_NSEC, nsec = 1;
		types[n++] = (ldns_rr_type)t;
	}
	if (!rrsig)
		types[n++] = LDNS_RR_TYPE_RRSIG;
	if (!nsec)
		types[n++] = LDNS_RR_TYPE_NSEC;
	ldns_rdf *bitmap = ldns_dnssec_create_nsec_bitmap(types, n, LDNS_RR_TYPE_NSEC);
	if (!bitmap)
		return GSLB_ENOMEM;
	uint8_t rd[DNAME_MAXLEN + 8192];
	size_t len = 0;
	rd[len++] = 1;
	rd[len++] = 0;
	memcpy(rd + len, nd->name, nd->name_len);
	len += nd->name_len;
	int rc = GSLB_ERANGE;
	if (len + ldns_rdf_size(bitmap) <= sizeof(rd)) {
		memcpy(rd + len, ldns_rdf_data(bitmap), ldns_rdf_size(bitmap));
		rc = blob_put(b, rd, len + ldns_rdf_size(bitmap));
	}
	ldns_rdf_deep_free(bitmap);
	return rc;
}

/* Every authoritative name's NSEC, signed, for NODATA answers. */
static int add_nsec(struct signer *s)
{
	struct zone *z = s->z;
	size_t count = 0;
	for (size_t i = 0; i < z->nnodes; i++)
		count += nsec_here(&z->nodes[i]);
	struct zone_rrset *sets = calloc(count ? count : 1, sizeof(*sets));
	size_t *off = calloc(count ? count : 1, sizeof(*off));
	struct blob b = { 0 };
	int rc = sets && off ? GSLB_OK : GSLB_ENOMEM;
	for (size_t i = 0, k = 0; i < z->nnodes && !rc; i++) {
		if (!nsec_here(&z->nodes[i]))
			continue;
		off[k++] = b.len;
		rc = nsec_rdata(&z->nodes[i], &b);
	}
	z->nsec_sets = sets;
	z->nsec_mem = b.p;
	uint32_t ttl = zone_negative_ttl(z);
	for (size_t i = 0, k = 0; i < z->nnodes && !rc; i++) {
		struct zone_node *nd = &z->nodes[i];
		if (!nsec_here(nd))
			continue;
		struct zone_rrset *rs = &sets[k];
		rs->type = DNS_T_NSEC;
		rs->count = 1;
		rs->ttl = ttl;
		rs->rdata = b.p + off[k];
		rs->rdata_size = (k + 1 < count ? off[k + 1] : b.len) - off[k];
		nd->nsec = rs;
		k++;
		rc = sign_one(s, nd, rs);
	}
	free(off);
	return rc;
}

/* zone_load noted the first DNSSEC record of the file (the only way a
 * zone is made), with its line. */
static int refuse_presigned(struct signer *s)
{
	uint16_t t = s->z->dnssec_type;
	if (!s->z->dnssec_line)
		return GSLB_OK;
	snprintf(s->err, s->errlen,
		 "%s:%d: a %s record; with dnssec, gslbd makes DNSKEY, "
		 "CDS, CDNSKEY, RRSIG and NSEC itself",
		 s->z->file, s->z->dnssec_line,
		 t == DNS_T_DNSKEY  ? "DNSKEY" :
		 t == DNS_T_CDS     ? "CDS" :
		 t == DNS_T_CDNSKEY ? "CDNSKEY" :
		 t == DNS_T_RRSIG   ? "RRSIG" :
		 t == DNS_T_NSEC    ? "NSEC" :
				      "NSEC3");
	return GSLB_EINVAL;
}

int dnssec_sign_zone(struct zone *z, const struct dnssec_key *keys, size_t nkeys,
		     uint32_t inception, uint32_t expiration, char *err, size_t errlen)
{
	struct signer s = { .z = z,
			    .keys = keys,
			    .nkeys = nkeys,
			    .inception = inception,
			    .expiration = expiration,
			    .err = err,
			    .errlen = errlen };
	if (!nkeys || z->apex_sets)
		return GSLB_EINVAL;
	for (size_t k = 0; k < nkeys; k++) {
		s.have_zsk |= !(keys[k].flags & DNSSEC_FLAG_SEP);
		s.have_ksk |= (keys[k].flags & DNSSEC_FLAG_SEP) != 0;
	}
	int rc = refuse_presigned(&s);
	if (!rc)
		rc = add_key_sets(&s, z->soa->ttl);
	/* the key RRsets first, pointed at their RDATA before each (the
	 * block moves as signatures are added) */
	for (size_t t = 0; t < APEX_KEY_SETS && !rc; t++) {
		point_key_sets(&s);
		rc = sign_one(&s, z->apex, (struct zone_rrset *)zone_rrset(z->apex, key_types[t]));
	}
	for (size_t i = 0; i < z->nnodes && !rc; i++) {
		struct zone_node *nd = &z->nodes[i];
		if (nd->flags & ZONE_NODE_GLUE)
			continue;
		for (size_t j = 0; j < nd->nrrsets && !rc; j++) {
			struct zone_rrset *rs = (struct zone_rrset *)&nd->rrsets[j];
			if ((nd->flags & ZONE_NODE_DELEG) && rs->type != DNS_T_DS)
				continue; /* the child's NS and glue are not ours to sign */
			if (is_key_type(rs->type) && nd == z->apex)
				continue;
			rc = sign_one(&s, nd, rs);
		}
	}
	if (!rc)
		rc = add_nsec(&s);
	if (rc) {
		if (rc == GSLB_ENOMEM || !err[0])
			snprintf(err, errlen, "%s: signing: %s", z->file, gslb_strerror(rc));
		free(s.placed);
		/* the apex keeps its new array (freed with the zone); the
		 * key RRsets' RDATA with the block */
		z->sig_mem = s.blob.p;
		return rc;
	}
	z->sig_mem = s.blob.p;
	/* the block stopped moving: point the apex's key RRsets and every
	 * RRset's signatures at their entries */
	point_key_sets(&s);
	for (size_t i = 0; i < s.nplaced; i++) {
		s.placed[i].rs->sigs = s.blob.p + s.placed[i].off;
		s.placed[i].rs->nsigs = s.placed[i].n;
	}
	free(s.placed);
	return GSLB_OK;
}

size_t dnssec_zone_signatures(const struct zone *z)
{
	size_t n = 0;
	for (size_t i = 0; i < z->nnodes; i++) {
		const struct zone_node *nd = &z->nodes[i];
		for (size_t j = 0; j < nd->nrrsets; j++)
			n += nd->rrsets[j].nsigs;
		if (nd->nsec)
			n += nd->nsec->nsigs;
	}
	return n;
}

/* Every RRset of z signed at load, and the nodes' NSEC: new signatures into
 * a new block, published RRset by RRset (a reader sees the old or the new
 * signatures, both valid); the replaced block is returned in *old for the
 * caller to free after an RCU grace period. */
int dnssec_resign_zone(struct zone *z, uint32_t inception, uint32_t expiration, void **old)
{
	const struct zone_signer *zs = z->signer;
	*old = NULL;
	if (!zs)
		return GSLB_EINVAL;
	char err[256];
	struct signer s = { .z = z,
			    .keys = zs->keys,
			    .nkeys = zs->nkeys,
			    .inception = inception,
			    .expiration = expiration,
			    .err = err,
			    .errlen = sizeof(err) };
	for (size_t k = 0; k < zs->nkeys; k++) {
		s.have_zsk |= !(zs->keys[k].flags & DNSSEC_FLAG_SEP);
		s.have_ksk |= (zs->keys[k].flags & DNSSEC_FLAG_SEP) != 0;
	}
	int rc = GSLB_OK;
	for (size_t i = 0; i < z->nnodes && !rc; i++) {
		struct zone_node *nd = &z->nodes[i];
		for (size_t j = 0; j < nd->nrrsets && !rc; j++)
			if (nd->rrsets[j].nsigs)
				rc = sign_one(&s, nd, (struct zone_rrset *)&nd->rrsets[j]);
		if (!rc && nd->nsec && nd->nsec->nsigs)
			rc = sign_one(&s, nd, (struct zone_rrset *)nd->nsec);
	}
	for (size_t i = 0; i < s.nplaced && !rc; i++)
		if (s.placed[i].n != s.placed[i].rs->nsigs)
			rc = GSLB_EINVAL; /* not the keys it was signed with */
	if (rc) {
		free(s.blob.p);
		free(s.placed);
		return rc;
	}
	for (size_t i = 0; i < s.nplaced; i++)
		__atomic_store_n(&s.placed[i].rs->sigs, s.blob.p + s.placed[i].off,
				 __ATOMIC_RELEASE);
	free(s.placed);
	*old = z->resig_mem;
	z->resig_mem = s.blob.p;
	((struct zone_signer *)zs)->expire = expiration;
	return GSLB_OK;
}

int dnssec_zone_signer(struct zone *z, const struct dnssec_key *keys, size_t nkeys,
		       uint32_t validity, uint32_t refresh, uint32_t inception_offset,
		       uint32_t expire)
{
	static const uint8_t fpkey[SIPHASH_KEY_LEN] = "gslb dnssec key";
	struct zone_signer *zs = calloc(1, sizeof(*zs));
	uint64_t *fp = calloc(nkeys ? nkeys : 1, sizeof(*fp));
	ldns_buffer *buf = ldns_buffer_new(512);
	int rc = zs && fp && buf ? GSLB_OK : GSLB_ENOMEM;
	for (size_t k = 0; k < nkeys && !rc; k++) {
		ldns_buffer_clear(buf);
		if (ldns_rr_rdata2buffer_wire(buf, keys[k].dnskey) != LDNS_STATUS_OK)
			rc = GSLB_ENOMEM;
		else
			fp[k] = siphash24(fpkey, ldns_buffer_begin(buf), ldns_buffer_position(buf));
		zs->have_zsk |= !(keys[k].flags & DNSSEC_FLAG_SEP);
	}
	ldns_buffer_free(buf);
	if (rc) {
		free(zs);
		free(fp);
		return rc;
	}
	zs->keys = keys;
	zs->nkeys = nkeys;
	zs->fp = fp;
	zs->validity = validity;
	zs->refresh = refresh;
	zs->inception_offset = inception_offset;
	zs->expire = expire;
	z->signer = zs;
	return GSLB_OK;
}
