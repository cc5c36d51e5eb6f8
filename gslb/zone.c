/* Zone loading and lookup. zone_read.c reads the file into records (each
 * checked on its own, with its line for error messages); here they are
 * validated as a whole and frozen into nodes, RRsets and a hash table that
 * the query path reads without locks or allocation. Every step is linear in
 * the records (bench/scale.sh measures it at a million). */
#include "gslb/zone.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "gslb/dnsdefs.h"
#include "gslb/dnssec_cache.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/zone_read.h"

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct zone_node *find_in(const struct zone_node *nodes, const uint32_t *table,
				       size_t mask, const uint8_t *lname, size_t len)
{
	uint32_t h = dname_hash(lname, len);
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t idx = table[i];
		if (idx == 0)
			return NULL;
		const struct zone_node *n = &nodes[idx - 1];
		if (n->name_len == len && memcmp(n->name, lname, len) == 0)
			return n;
	}
}

const struct zone_node *zone_find(const struct zone *z, const uint8_t *lname, size_t len)
{
	return find_in(z->nodes, z->table, z->table_mask, lname, len);
}

const struct zone_rrset *zone_rrset(const struct zone_node *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
		if (n->rrsets[i].type > type)
			break;
	}
	return NULL;
}

int zone_rrset_next(const struct zone_rrset *rs, size_t *pos, const uint8_t **rd, uint16_t *rdlen)
{
	if (*pos + 2 > rs->rdata_size)
		return 0;
	uint16_t l;
	memcpy(&l, rs->rdata + *pos, 2);
	*rd = rs->rdata + *pos + 2;
	*rdlen = l;
	*pos += 2 + (size_t)l;
	return 1;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;
	while (p < n)
		p <<= 1;
	return p;
}

static unsigned count_labels(const uint8_t *name)
{
	unsigned n = 0;
	for (size_t p = 0; name[p]; p += 1 + (size_t)name[p])
		n++;
	return n;
}

/* Insert a node into the table; returns the existing one when present. */
static struct zone_node *table_insert_hashed(struct zone *z, const uint8_t *name, size_t len,
					     uint32_t h, int *created)
{
	for (size_t i = h & z->table_mask;; i = (i + 1) & z->table_mask) {
		uint32_t idx = z->table[i];
		if (idx == 0) {
			struct zone_node *n = &z->nodes[z->nnodes++];
			z->table[i] = (uint32_t)z->nnodes;
			n->name = name;
			n->name_len = (uint8_t)len;
			n->labels = (uint8_t)count_labels(name);
			*created = 1;
			return n;
		}
		struct zone_node *n = &z->nodes[idx - 1];
		if (n->name_len == len && memcmp(n->name, name, len) == 0) {
			*created = 0;
			return n;
		}
	}
}

static struct zone_node *table_insert(struct zone *z, const uint8_t *name, size_t len, int *created)
{
	return table_insert_hashed(z, name, len, dname_hash(name, len), created);
}

/* What zone_load's phases share. */
struct builder {
	struct zone *z;
	struct zread zr;
	uint32_t *order; /* record indexes grouped by node, DROPPED for duplicates */
	uint32_t *first; /* node i's records: order[first[i] .. first[i + 1]) */
	size_t nreal;    /* nodes that own records (the rest are added later) */
	size_t nsets;    /* RRsets after duplicates are dropped */
	size_t blob;     /* bytes of names and RDATA after duplicates are dropped */
	struct zone_rrset *sets;
	uint8_t *mem;
	char *err;
	size_t errlen;
};

#define DROPPED UINT32_MAX

/* Phase 1: a node for every owner (the node table is sized for the owners
 * and all their ancestors); each record learns its node's index. Names
 * point into the reader's arena until freeze_nodes copies them. */
static int index_owners(struct builder *b)
{
	struct zone *z = b->z;
	size_t bound = b->zr.node_bound + 1; /* the apex, should it have no records */
	z->nodes = calloc(bound, sizeof(*z->nodes));
	z->table_mask = pow2_at_least(bound * 2) - 1;
	z->table = calloc(z->table_mask + 1, sizeof(*z->table));
	if (!z->nodes || !z->table)
		return GSLB_ENOMEM;
	/* Each new owner's hash is taken AHEAD records early, kept in its
	 * node field, and its table slot fetched meanwhile: past the caches'
	 * size the slots are misses, and waiting for each one made a million
	 * records slower per record than a hundred thousand. */
	enum {
		AHEAD = 8
	};
	struct zrec *v = b->zr.v;
	size_t n = b->zr.n;
	for (size_t j = 0; j < n + AHEAD; j++) {
		if (j < n && (j == 0 || v[j].owner != v[j - 1].owner)) {
			v[j].node = dname_hash(b->zr.arena + v[j].owner, v[j].olen);
			__builtin_prefetch(&z->table[v[j].node & z->table_mask]);
		}
		if (j < AHEAD)
			continue;
		struct zrec *r = &v[j - AHEAD];
		if (r > v && r->owner == r[-1].owner) {
			r->node = r[-1].node; /* the same bytes: the same owner */
			continue;
		}
		int created;
		struct zone_node *nd =
			table_insert_hashed(z, b->zr.arena + r->owner, r->olen, r->node, &created);
		r->node = (uint32_t)(nd - z->nodes);
	}
	b->nreal = z->nnodes;
	return GSLB_OK;
}

/* Phase 2: the records of each node together, in file order (a counting
 * sort by node). */
static int group_records(struct builder *b)
{
	size_t n = b->zr.n;
	b->first = calloc(b->nreal + 1, sizeof(*b->first));
	b->order = malloc((n ? n : 1) * sizeof(*b->order));
	if (!b->first || !b->order)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < n; i++)
		b->first[b->zr.v[i].node + 1]++;
	for (size_t k = 0; k < b->nreal; k++)
		b->first[k + 1] += b->first[k];
	uint32_t *next = malloc((b->nreal ? b->nreal : 1) * sizeof(*next));
	if (!next)
		return GSLB_ENOMEM;
	memcpy(next, b->first, b->nreal * sizeof(*next));
	for (size_t i = 0; i < n; i++)
		b->order[next[b->zr.v[i].node]++] = (uint32_t)i;
	free(next);
	return GSLB_OK;
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sort one node's record indexes by type, file order within a type: keys
 * are type << 32 | index. */
static int sort_by_type(const struct zread *zr, uint32_t *idx, size_t n, uint64_t **keys,
			size_t *keycap)
{
	if (n > *keycap) {
		uint64_t *k = realloc(*keys, n * sizeof(*k));
		if (!k)
			return GSLB_ENOMEM;
		*keys = k;
		*keycap = n;
	}
	uint64_t *k = *keys;
	for (size_t i = 0; i < n; i++)
		k[i] = (uint64_t)zr->v[idx[i]].type << 32 | idx[i];
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			uint64_t x = k[i];
			size_t j = i;
			for (; j > 0 && k[j - 1] > x; j--)
				k[j] = k[j - 1];
			k[j] = x;
		}
	} else {
		qsort(k, n, sizeof(*k), key_cmp);
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)k[i];
	return GSLB_OK;
}

static int same_rdata(const struct zread *zr, uint32_t a, uint32_t b)
{
	const struct zrec *x = &zr->v[a], *y = &zr->v[b];
	return x->rdlen == y->rdlen && memcmp(zr->arena + x->rd, zr->arena + y->rd, x->rdlen) == 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int rdata_cmp(const void *a, const void *b, void *arg)
{
	const struct zread *zr = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct zrec *x = &zr->v[i], *y = &zr->v[j];
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	int c = memcmp(zr->arena + x->rd, zr->arena + y->rd, x->rdlen);
	if (c)
		return c;
	return (i > j) - (i < j);
}

/* Drop every record equal to an earlier one (in file order) of the same
 * RRset, idx[0..n): RRsets are sets. Small RRsets compare each pair; large
 * ones sort a copy by RDATA so that equal records meet. */
static int drop_duplicates(const struct zread *zr, uint32_t *idx, size_t n, uint32_t **tmp,
			   size_t *tmpcap)
{
	if (n <= 32) {
		for (size_t i = 1; i < n; i++)
			for (size_t k = 0; k < i; k++)
				if (idx[k] != DROPPED && same_rdata(zr, idx[k], idx[i])) {
					idx[i] = DROPPED;
					break;
				}
		return GSLB_OK;
	}
	if (n > *tmpcap) {
		uint32_t *t = realloc(*tmp, n * sizeof(*t));
		if (!t)
			return GSLB_ENOMEM;
		*tmp = t;
		*tmpcap = n;
	}
	uint32_t *t = *tmp;
	memcpy(t, idx, n * sizeof(*t));
	qsort_r(t, n, sizeof(*t), rdata_cmp, (void *)zr);
	/* Equal RDATA sort together, the earliest record first: the others
	 * are the copies (collected at the front of t, then marked in idx,
	 * which is in file order). */
	size_t nd = 0;
	for (size_t i = 1; i < n; i++)
		if (same_rdata(zr, t[i - 1], t[i]))
			t[nd++] = t[i];
	qsort(t, nd, sizeof(*t), u32_cmp);
	for (size_t i = 0, d = 0; i < n && d < nd; i++)
		if (idx[i] == t[d]) {
			idx[i] = DROPPED;
			d++;
		}
	return GSLB_OK;
}

/* Phase 3: inside each node, records by type (file order within a type),
 * and a record equal to an earlier one of its RRset dropped. The RRsets
 * and bytes left are counted for the frozen form. */
static int sort_nodes(struct builder *b)
{
	const struct zread *zr = &b->zr;
	uint64_t *keys = NULL;
	uint32_t *tmp = NULL;
	size_t keycap = 0, tmpcap = 0;
	int rc = GSLB_OK;
	b->nsets = 0;
	b->blob = 0;
	for (size_t g = 0; g < b->nreal && !rc; g++) {
		uint32_t *idx = b->order + b->first[g];
		size_t n = b->first[g + 1] - b->first[g];
		if (n > 1)
			rc = sort_by_type(zr, idx, n, &keys, &keycap);
		b->blob += zr->v[idx[0]].olen;
		for (size_t k = 0; k < n && !rc;) {
			size_t e = k + 1;
			while (e < n && zr->v[idx[e]].type == zr->v[idx[k]].type)
				e++;
			if (e - k > 1)
				rc = drop_duplicates(zr, idx + k, e - k, &tmp, &tmpcap);
			b->nsets++;
			for (size_t i = k; i < e; i++)
				if (idx[i] != DROPPED)
					b->blob += 2 + (size_t)zr->v[idx[i]].rdlen;
			k = e;
		}
	}
	free(keys);
	free(tmp);
	return rc;
}

/* Is this an allowed companion of a CNAME at the same owner? (DNSSEC only.) */
static int cname_companion_ok(uint16_t type)
{
	return type == LDNS_RR_TYPE_RRSIG || type == LDNS_RR_TYPE_NSEC ||
	       type == LDNS_RR_TYPE_CNAME;
}

/* One RRset from recs[0..n) (kept records of one type): its RDATA copied
 * to mem at *mpos, TTLs folded to the lowest as RFC 2181 5.2 asks. */
static int freeze_rrset(struct builder *b, struct zone_rrset *rs, const struct zrec *const *recs,
			size_t n, size_t *mpos)
{
	if (n > 65535) {
		errf(b->err, b->errlen, "%s:%d: more than 65535 records in one RRset", b->z->file,
		     recs[65535]->line);
		return GSLB_EPARSE;
	}
	rs->type = recs[0]->type;
	rs->count = (uint16_t)n;
	rs->ttl = recs[0]->ttl;
	rs->rdata = b->mem + *mpos;
	for (size_t x = 0; x < n; x++) {
		const struct zrec *r = recs[x];
		if (r->ttl != rs->ttl) {
			log_warn("RRset TTLs differ, using the lowest file=%s line=%d", b->z->file,
				 r->line);
			if (r->ttl < rs->ttl)
				rs->ttl = r->ttl;
		}
		memcpy(b->mem + *mpos, &r->rdlen, 2);
		memcpy(b->mem + *mpos + 2, b->zr.arena + r->rd, r->rdlen);
		*mpos += 2 + (size_t)r->rdlen;
	}
	rs->rdata_size = (size_t)(b->mem + *mpos - rs->rdata);
	return GSLB_OK;
}

/* The rules about one node's RRsets: one CNAME and nothing else beside it
 * but DNSSEC; one SOA, at the apex. recs[k] is the first record of sets[k]
 * and recs[k + 1] the second when there is one. */
static int check_node(struct builder *b, const struct zone_node *node,
		      const struct zone_rrset *sets, const struct zrec *const *first,
		      const struct zrec *const *second)
{
	const struct zone *z = b->z;
	int cname_line = 0, other_line = 0;
	for (uint16_t k = 0; k < node->nrrsets; k++) {
		const struct zone_rrset *rs = &sets[k];
		if (rs->type == LDNS_RR_TYPE_CNAME) {
			cname_line = first[k]->line;
			if (rs->count > 1) {
				errf(b->err, b->errlen, "%s:%d: more than one CNAME at one name",
				     z->file, second[k]->line);
				return GSLB_EPARSE;
			}
		} else if (!cname_companion_ok(rs->type)) {
			other_line = first[k]->line;
		}
		if (rs->type == LDNS_RR_TYPE_SOA) {
			if (node->name_len != z->origin_len ||
			    memcmp(node->name, z->origin, z->origin_len) != 0) {
				errf(b->err, b->errlen, "%s:%d: SOA record outside the zone apex",
				     z->file, first[k]->line);
				return GSLB_EPARSE;
			}
			if (rs->count > 1) {
				errf(b->err, b->errlen, "%s:%d: more than one SOA record", z->file,
				     second[k]->line);
				return GSLB_EPARSE;
			}
		}
	}
	if (cname_line && other_line) {
		int l = cname_line > other_line ? cname_line : other_line;
		char txt[DNAME_MAXLEN * 4 + 1];
		dname_to_str(node->name, txt, sizeof(txt));
		errf(b->err, b->errlen, "%s:%d: CNAME and other data at %s", z->file, l, txt);
		return GSLB_EPARSE;
	}
	return GSLB_OK;
}

/* Phase 4: the frozen form. Names and RDATA go to one block, RRset headers
 * to another (both owned by z->mem); each node's RRsets are checked. */
static int freeze_nodes(struct builder *b)
{
	struct zone *z = b->z;
	b->sets = calloc(b->nsets ? b->nsets : 1, sizeof(*b->sets));
	b->mem = malloc(b->blob ? b->blob : 1);
	struct {
		struct zone_rrset *sets;
		uint8_t *mem;
	} *hold = malloc(sizeof(*hold));
	if (!b->sets || !b->mem || !hold) {
		free(hold);
		return GSLB_ENOMEM;
	}
	hold->sets = b->sets;
	hold->mem = b->mem;
	z->mem = hold; /* zone_free frees them from here on */

	const struct zrec **recs = NULL, **first = NULL, **second = NULL;
	size_t cap = 0, mpos = 0, si = 0, nkept = 0;
	int rc = GSLB_OK;
	for (size_t g = 0; g < b->nreal && !rc; g++) {
		struct zone_node *node = &z->nodes[g];
		const uint32_t *idx = b->order + b->first[g];
		size_t n = b->first[g + 1] - b->first[g];
		if (n > cap) {
			const struct zrec **nr = realloc(recs, n * sizeof(*nr));
			const struct zrec **nf = nr ? realloc(first, n * sizeof(*nf)) : NULL;
			const struct zrec **ns = nf ? realloc(second, n * sizeof(*ns)) : NULL;
			recs = nr ? nr : recs;
			first = nf ? nf : first;
			second = ns ? ns : second;
			if (!ns) {
				rc = GSLB_ENOMEM;
				break;
			}
			cap = n;
		}
		memcpy(b->mem + mpos, node->name, node->name_len);
		node->name = b->mem + mpos;
		mpos += node->name_len;
		node->rrsets = &b->sets[si];
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (idx[i] != DROPPED)
				recs[m++] = &b->zr.v[idx[i]];
		nkept += m;
		for (size_t k = 0; k < m && !rc;) {
			size_t e = k;
			while (e < m && recs[e]->type == recs[k]->type)
				e++;
			first[node->nrrsets] = recs[k];
			second[node->nrrsets] = e - k > 1 ? recs[k + 1] : NULL;
			rc = freeze_rrset(b, &b->sets[si++], recs + k, e - k, &mpos);
			node->nrrsets++;
			k = e;
		}
		if (!rc)
			rc = check_node(b, node, node->rrsets, first, second);
		for (uint16_t k = 0; k < node->nrrsets; k++)
			if (node->rrsets[k].type == LDNS_RR_TYPE_CNAME)
				node->flags |= ZONE_NODE_CNAME;
	}
	free(recs);
	free(first);
	free(second);
	z->nrecords = nkept;
	return rc;
}

/* Phase 5: ancestors between each owner and the apex exist as empty
 * non-terminals (RFC 4592): they block wildcards and give NODATA. */
static void add_empty_non_terminals(struct zone *z, size_t nreal)
{
	for (size_t i = 0; i < nreal; i++) {
		const uint8_t *name = z->nodes[i].name;
		size_t len = z->nodes[i].name_len;
		while (len > z->origin_len) {
			len -= 1 + (size_t)name[0];
			name += 1 + (size_t)name[0];
			int created;
			struct zone_node *a = table_insert(z, name, len, &created);
			if (!created)
				break; /* its ancestors are already in */
			a->flags |= ZONE_NODE_ENT;
		}
	}
}

/* Phase 6: SOA and NS at the apex; the serial. */
static int check_apex(struct builder *b)
{
	struct zone *z = b->z;
	int last = b->zr.n ? b->zr.v[b->zr.n - 1].line : 1;
	const struct zone_node *apex = zone_find(z, z->origin, z->origin_len);
	const struct zone_rrset *soa = apex ? zone_rrset(apex, LDNS_RR_TYPE_SOA) : NULL;
	if (!soa) {
		errf(b->err, b->errlen, "%s:%d: zone %s has no SOA record at its apex", z->file,
		     last, z->origin_str);
		return GSLB_EPARSE;
	}
	if (!zone_rrset(apex, LDNS_RR_TYPE_NS)) {
		errf(b->err, b->errlen, "%s:%d: zone %s has no NS records at its apex", z->file,
		     last, z->origin_str);
		return GSLB_EPARSE;
	}
	z->apex = apex;
	z->soa = soa;
	((struct zone_node *)apex)->flags |= ZONE_NODE_APEX;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	if (zone_rrset_next(soa, &pos, &rd, &rdlen) && rdlen >= 20)
		z->serial = ((uint32_t)rd[rdlen - 20] << 24) | ((uint32_t)rd[rdlen - 19] << 16) |
			    ((uint32_t)rd[rdlen - 18] << 8) | rd[rdlen - 17];
	return GSLB_OK;
}

/* Phase 7: zone cuts, then everything below a cut is occluded (glue at
 * most). */
static void mark_cuts(struct zone *z)
{
	int any = 0;
	for (size_t i = 0; i < z->nnodes; i++) {
		struct zone_node *nd = &z->nodes[i];
		if (!(nd->flags & ZONE_NODE_APEX) && zone_rrset(nd, LDNS_RR_TYPE_NS)) {
			nd->flags |= ZONE_NODE_DELEG;
			any = 1;
		}
	}
	for (size_t i = 0; any && i < z->nnodes; i++) {
		struct zone_node *nd = &z->nodes[i];
		const uint8_t *name = nd->name;
		size_t len = nd->name_len;
		while (len > z->origin_len) {
			len -= 1 + (size_t)name[0];
			name += 1 + (size_t)name[0];
			const struct zone_node *a = zone_find(z, name, len);
			if (a && (a->flags & ZONE_NODE_DELEG)) {
				nd->flags |= ZONE_NODE_GLUE;
				break;
			}
		}
	}
}

static int build(struct builder *b)
{
	int rc = index_owners(b);
	if (!rc)
		rc = group_records(b);
	if (!rc)
		rc = sort_nodes(b);
	if (!rc)
		rc = freeze_nodes(b);
	if (rc)
		return rc;
	add_empty_non_terminals(b->z, b->nreal);
	rc = check_apex(b);
	if (rc)
		return rc;
	mark_cuts(b->z);
	return GSLB_OK;
}

int zone_load(const char *origin, const char *file, struct zone **out, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	struct builder b = { .err = err, .errlen = errlen };
	struct zone *z = calloc(1, sizeof(*z));
	char txt[DNAME_MAXLEN * 4 + 1];

	*out = NULL;
	if (!z) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	b.z = z;
	size_t olen = dname_from_str(origin, z->origin);
	if (olen == 0) {
		errf(err, errlen, "%s: invalid zone origin \"%s\"", file, origin);
		rc = GSLB_EINVAL;
		goto out;
	}
	z->origin_len = (uint8_t)olen;
	z->origin_labels = (uint8_t)count_labels(z->origin);
	dname_to_str(z->origin, txt, sizeof(txt));
	z->origin_str = strdup(txt);
	z->file = strdup(file);
	if (!z->origin_str || !z->file) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	rc = zread_file(&b.zr, file, z->origin, z->origin_len, z->origin_str, err, errlen);
	for (size_t i = 0; !rc && i < b.zr.n && !z->dnssec_line; i++) {
		uint16_t t = b.zr.v[i].type;
		if (t == DNS_T_DNSKEY || t == DNS_T_CDS || t == DNS_T_CDNSKEY || t == DNS_T_RRSIG ||
		    t == DNS_T_NSEC || t == DNS_T_NSEC3) {
			z->dnssec_line = b.zr.v[i].line;
			z->dnssec_type = t;
		}
	}
	if (!rc)
		rc = build(&b);
	if (rc)
		goto out;
	*out = z;
	z = NULL;
out:
	if (rc == GSLB_ENOMEM)
		errf(err, errlen, "%s: out of memory", file);
	zread_free(&b.zr);
	free(b.order);
	free(b.first);
	zone_free(z);
	return rc;
}

void zone_free(struct zone *z)
{
	if (!z)
		return;
	if (z->mem) {
		struct {
			struct zone_rrset *sets;
			uint8_t *mem;
		} *hold = z->mem;
		free(hold->sets);
		free(hold->mem);
		free(hold);
	}
	free(z->sig_mem);
	free(z->apex_sets);
	free(z->nsec_sets);
	free(z->nsec_mem);
	free(z->resig_mem);
	if (z->signer)
		free(z->signer->fp);
	free(z->signer);
	free(z->nodes);
	free(z->table);
	free(z->origin_str);
	free(z->file);
	free(z);
}

void zone_lookup(const struct zone *z, const uint8_t *lname, size_t len, uint16_t qtype,
		 struct zone_answer *ans)
{
	uint8_t offs[DNAME_MAXLABELS];
	unsigned L = dname_labels(lname, offs);
	unsigned Z = z->origin_labels;
	unsigned ce = Z; /* labels of the closest encloser found so far */
	const struct zone_node *node = z->apex;

	/* Walk down from the apex, one label at a time: the first zone cut
	 * wins (DS at the cut itself belongs to this side), and the first
	 * missing name ends the walk at the closest encloser. */
	for (unsigned k = Z + 1; k <= L; k++) {
		const uint8_t *suffix = lname + offs[L - k];
		const struct zone_node *n = zone_find(z, suffix, len - offs[L - k]);
		if (!n)
			goto not_found;
		if (n->flags & ZONE_NODE_DELEG) {
			if (k == L && qtype == LDNS_RR_TYPE_DS) {
				ans->result = ZONE_EXACT;
				ans->node = n;
				return;
			}
			ans->result = ZONE_DELEGATION;
			ans->node = n;
			return;
		}
		node = n;
		ce = k;
	}
	ans->result = ZONE_EXACT;
	ans->node = node;
	return;

not_found:;
	/* Source of synthesis: "*" directly below the closest encloser. */
	uint8_t wild[DNAME_MAXLEN];
	size_t celen = len - (ce == 0 ? len - 1 : offs[L - ce]);
	const uint8_t *cename = lname + (len - celen);
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, cename, celen);
	const struct zone_node *w = zone_find(z, wild, celen + 2);
	if (w) {
		ans->result = ZONE_WILDCARD;
		ans->node = w;
		return;
	}
	ans->result = ZONE_NXDOMAIN;
	ans->node = node;
}

int zoneset_new(struct zone **zones, size_t n, struct zoneset **out, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	struct zoneset *zs = calloc(1, sizeof(*zs));
	*out = NULL;
	if (!zs) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	zs->zones = calloc(n ? n : 1, sizeof(*zs->zones));
	zs->table_mask = pow2_at_least(n * 2) - 1;
	zs->table = calloc(zs->table_mask + 1, sizeof(*zs->table));
	if (!zs->zones || !zs->table) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct zone *z = zones[i];
		zones[i] = NULL;
		uint32_t h = dname_hash(z->origin, z->origin_len);
		size_t slot = h & zs->table_mask;
		for (;; slot = (slot + 1) & zs->table_mask) {
			uint32_t idx = zs->table[slot];
			if (idx == 0)
				break;
			const struct zone *o = zs->zones[idx - 1];
			if (o->origin_len == z->origin_len &&
			    memcmp(o->origin, z->origin, z->origin_len) == 0) {
				errf(err, errlen, "%s: zone %s is already loaded from %s", z->file,
				     z->origin_str, o->file);
				zone_free(z);
				rc = GSLB_EEXIST;
				goto out;
			}
		}
		zs->zones[zs->nzones++] = z;
		zs->table[slot] = (uint32_t)zs->nzones;
	}
	*out = zs;
	zs = NULL;
out:
	for (size_t i = 0; i < n; i++) {
		zone_free(zones[i]);
		zones[i] = NULL;
	}
	zoneset_free(zs);
	return rc;
}

void zoneset_free(struct zoneset *zs)
{
	if (!zs)
		return;
	for (size_t i = 0; i < zs->nzones; i++)
		zone_free(zs->zones[i]);
	free(zs->zones);
	free(zs->table);
	free(zs);
}

const struct zone *zoneset_find(const struct zoneset *zs, const uint8_t *lname, size_t len)
{
	/* Longest suffix first: the most specific zone wins. */
	size_t p = 0;
	for (;;) {
		const uint8_t *s = lname + p;
		size_t sl = len - p;
		uint32_t h = dname_hash(s, sl);
		for (size_t i = h & zs->table_mask;; i = (i + 1) & zs->table_mask) {
			uint32_t idx = zs->table[i];
			if (idx == 0)
				break;
			const struct zone *z = zs->zones[idx - 1];
			if (z->origin_len == sl && memcmp(z->origin, s, sl) == 0)
				return z;
		}
		if (lname[p] == 0)
			return NULL;
		p += 1 + (size_t)lname[p];
	}
}

/* zone.h */
uint32_t zone_negative_ttl(const struct zone *z)
{
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	uint32_t ttl = z->soa->ttl;
	if (zone_rrset_next(z->soa, &pos, &rd, &rdlen) && rdlen >= 20) {
		const uint8_t *m = rd + rdlen - 4;
		uint32_t minimum = ((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) |
				   ((uint32_t)m[2] << 8) | m[3];
		if (minimum < ttl)
			ttl = minimum;
	}
	return ttl;
}
