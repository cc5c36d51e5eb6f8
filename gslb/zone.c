/* Zone loading and lookup. ldns parses the RFC 1035 text (one record at a
 * time, so every record keeps its line for error messages); we validate the
 * records as a whole, then freeze them into nodes, RRsets and a hash table
 * that the query path reads without locks or allocation. */
#include "gslb/zone.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "gslb/err.h"
#include "gslb/log.h"

struct rec {
	uint8_t *owner; /* lower-cased wire */
	uint8_t *rd;
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
	uint8_t olen;
	int line;
};

struct recvec {
	struct rec *v;
	size_t n, cap;
};

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

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	size_t n = x->olen < y->olen ? x->olen : y->olen;
	int c = memcmp(x->owner, y->owner, n);
	if (c)
		return c;
	if (x->olen != y->olen)
		return x->olen < y->olen ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	/* Same RRset: keep file order so duplicates and TTLs report the later line. */
	return (x->line > y->line) - (x->line < y->line);
}

static void recvec_free(struct recvec *rv)
{
	for (size_t i = 0; i < rv->n; i++) {
		free(rv->v[i].owner);
		free(rv->v[i].rd);
	}
	free(rv->v);
	rv->v = NULL;
	rv->n = rv->cap = 0;
}

/* Convert one parsed ldns record to our form, checking it belongs here. */
static int rec_add(struct recvec *rv, const struct zone *z, const ldns_rr *rr, int line,
		   const char *file, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	ldns_buffer *buf = NULL;
	char *owner_txt = NULL;
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint8_t wire[DNAME_MAXLEN];
	size_t olen = ldns_rdf_size(owner);

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		errf(err, errlen, "%s:%d: only class IN is supported", file, line);
		rc = GSLB_EPARSE;
		goto out;
	}
	if (olen == 0 || olen > DNAME_MAXLEN) {
		errf(err, errlen, "%s:%d: bad owner name", file, line);
		rc = GSLB_EPARSE;
		goto out;
	}
	dname_tolower(wire, ldns_rdf_data(owner), olen);
	if (!dname_is_sub(wire, olen, z->origin, z->origin_len)) {
		owner_txt = ldns_rdf2str(owner);
		errf(err, errlen, "%s:%d: %s is outside the zone %s", file, line,
		     owner_txt ? owner_txt : "name", z->origin_str);
		rc = GSLB_EPARSE;
		goto out;
	}
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	if (type == LDNS_RR_TYPE_OPT || type == LDNS_RR_TYPE_TSIG || type == LDNS_RR_TYPE_AXFR ||
	    type == LDNS_RR_TYPE_IXFR || type == LDNS_RR_TYPE_ANY || type == 0) {
		errf(err, errlen, "%s:%d: record type %u cannot appear in a zone", file, line,
		     type);
		rc = GSLB_EPARSE;
		goto out;
	}
	buf = ldns_buffer_new(512);
	if (!buf) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	if (ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK) {
		errf(err, errlen, "%s:%d: cannot encode record data", file, line);
		rc = GSLB_EPARSE;
		goto out;
	}
	size_t rdlen = ldns_buffer_position(buf);
	if (rdlen > 65535) {
		errf(err, errlen, "%s:%d: record data too long", file, line);
		rc = GSLB_EPARSE;
		goto out;
	}
	if (rv->n == rv->cap) {
		size_t ncap = rv->cap ? rv->cap * 2 : 256;
		struct rec *nv = realloc(rv->v, ncap * sizeof(*nv));
		if (!nv) {
			rc = GSLB_ENOMEM;
			goto out;
		}
		rv->v = nv;
		rv->cap = ncap;
	}
	struct rec *r = &rv->v[rv->n];
	memset(r, 0, sizeof(*r));
	r->owner = malloc(olen);
	r->rd = malloc(rdlen ? rdlen : 1);
	if (!r->owner || !r->rd) {
		free(r->owner);
		free(r->rd);
		rc = GSLB_ENOMEM;
		goto out;
	}
	memcpy(r->owner, wire, olen);
	memcpy(r->rd, ldns_buffer_begin(buf), rdlen);
	r->olen = (uint8_t)olen;
	r->rdlen = (uint16_t)rdlen;
	r->type = type;
	r->ttl = ldns_rr_ttl(rr);
	r->line = line;
	rv->n++;
out:
	ldns_buffer_free(buf);
	free(owner_txt);
	return rc;
}

/* TTL text as RFC 1035 and BIND write it: digits, or digits with units
 * (1h30m). ldns quietly reads anything else as 0, so $TTL lines are checked
 * here first. */
static int ttl_text_ok(const char *t, size_t n)
{
	if (n == 0)
		return 0;
	int need_digit = 1, units = 0, plain = 1;
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];
		if (ch >= '0' && ch <= '9') {
			need_digit = 0;
			continue;
		}
		if (need_digit || !strchr("sSmMhHdDwW", ch))
			return 0;
		need_digit = 1;
		units = 1;
		plain = 0;
	}
	return plain || (units && need_digit);
}

static int check_ttl_directives(struct zone *z, FILE *fp, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = GSLB_OK;
	while (getline(&line, &cap, fp) >= 0) {
		lineno++;
		if (strncasecmp(line, "$TTL", 4) != 0 || !(line[4] == ' ' || line[4] == '\t'))
			continue;
		const char *p = line + 4;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t\r\n;");
		if (!ttl_text_ok(p, n)) {
			errf(err, errlen, "%s:%d: bad $TTL value \"%.*s\"", z->file, lineno,
			     (int)(n > 40 ? 40 : n), p);
			rc = GSLB_EPARSE;
			break;
		}
	}
	free(line);
	rewind(fp);
	return rc;
}

static int parse_file(struct zone *z, FILE *fp, struct recvec *rv, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	uint32_t default_ttl = 3600;
	ldns_rdf *origin = NULL;
	ldns_rdf *prev = NULL;
	int line = 0;

	rc = check_ttl_directives(z, fp, err, errlen);
	if (rc)
		goto out;
	origin = ldns_dname_new_frm_data(z->origin_len, z->origin);
	if (!origin) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	prev = ldns_rdf_clone(origin);
	if (!prev) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		int before = line;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &origin, &prev, &line);
		switch (st) {
		case LDNS_STATUS_OK:
			rc = rec_add(rv, z, rr, line > before ? line : before + 1, z->file, err,
				     errlen);
			ldns_rr_free(rr);
			if (rc)
				goto out;
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			errf(err, errlen, "%s:%d: $INCLUDE is not supported", z->file, line);
			rc = GSLB_EPARSE;
			goto out;
		default:
			errf(err, errlen, "%s:%d: %s", z->file, line > 0 ? line : 1,
			     ldns_get_errorstr_by_id(st));
			rc = GSLB_EPARSE;
			goto out;
		}
	}
	if (ferror(fp)) {
		errf(err, errlen, "%s: read error: %s", z->file, strerror(errno));
		rc = GSLB_EIO;
	}
out:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
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
static struct zone_node *table_insert(struct zone *z, const uint8_t *name, size_t len, int *created)
{
	uint32_t h = dname_hash(name, len);
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

/* Is this an allowed companion of a CNAME at the same owner? (DNSSEC only.) */
static int cname_companion_ok(uint16_t type)
{
	return type == LDNS_RR_TYPE_RRSIG || type == LDNS_RR_TYPE_NSEC ||
	       type == LDNS_RR_TYPE_CNAME;
}

static int build(struct zone *z, struct recvec *rv, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	struct rec *v = rv->v;
	size_t n = rv->n;

	if (n > 1)
		qsort(v, n, sizeof(*v), rec_cmp);

	/* Drop exact duplicates (RRsets are sets) and fold TTLs of one RRset to
	 * the lowest, as RFC 2181 5.2 asks servers to treat differing TTLs. */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w > 0) {
			struct rec *p = &v[w - 1];
			if (p->olen == v[i].olen && p->type == v[i].type &&
			    memcmp(p->owner, v[i].owner, p->olen) == 0 && p->rdlen == v[i].rdlen &&
			    memcmp(p->rd, v[i].rd, p->rdlen) == 0) {
				free(v[i].owner);
				free(v[i].rd);
				continue;
			}
		}
		v[w++] = v[i];
	}
	n = rv->n = w;

	/* Count RRsets, owners and the bound on nodes (owners plus ancestors). */
	size_t nsets = 0, nowners = 0, bound = 0, blob = 0;
	for (size_t i = 0; i < n; i++) {
		int new_owner = i == 0 || v[i].olen != v[i - 1].olen ||
				memcmp(v[i].owner, v[i - 1].owner, v[i].olen) != 0;
		if (new_owner) {
			nowners++;
			bound += count_labels(v[i].owner) - z->origin_labels + 1;
			blob += v[i].olen;
		}
		if (new_owner || v[i].type != v[i - 1].type)
			nsets++;
		blob += 2 + (size_t)v[i].rdlen;
	}
	bound += 1; /* the apex, should it have no records */

	z->nodes = calloc(bound, sizeof(*z->nodes));
	struct zone_rrset *sets = calloc(nsets ? nsets : 1, sizeof(*sets));
	uint8_t *mem = malloc(blob ? blob : 1);
	z->table_mask = pow2_at_least(bound * 2) - 1;
	z->table = calloc(z->table_mask + 1, sizeof(*z->table));
	z->mem = NULL;
	if (!z->nodes || !sets || !mem || !z->table) {
		free(sets);
		free(mem);
		rc = GSLB_ENOMEM;
		goto out;
	}
	/* One allocation holds RRset headers followed by the bytes they point at. */
	struct {
		struct zone_rrset *sets;
		uint8_t *mem;
	} *hold = malloc(sizeof(*hold));
	if (!hold) {
		free(sets);
		free(mem);
		rc = GSLB_ENOMEM;
		goto out;
	}
	hold->sets = sets;
	hold->mem = mem;
	z->mem = hold;

	size_t mpos = 0, si = 0;
	for (size_t i = 0; i < n;) {
		/* One owner: v[i..j) */
		size_t j = i;
		while (j < n && v[j].olen == v[i].olen &&
		       memcmp(v[j].owner, v[i].owner, v[i].olen) == 0)
			j++;
		uint8_t *name = mem + mpos;
		memcpy(name, v[i].owner, v[i].olen);
		mpos += v[i].olen;
		int created;
		struct zone_node *node = table_insert(z, name, v[i].olen, &created);
		node->rrsets = &sets[si];
		int has_cname = 0, has_other = 0, other_line = 0, cname_line = 0;
		for (size_t k = i; k < j;) {
			size_t e = k;
			while (e < j && v[e].type == v[k].type)
				e++;
			struct zone_rrset *rs = &sets[si++];
			rs->type = v[k].type;
			rs->count = (uint16_t)(e - k);
			rs->ttl = v[k].ttl;
			rs->rdata = mem + mpos;
			for (size_t x = k; x < e; x++) {
				if (v[x].ttl != rs->ttl) {
					log_warn(
						"RRset TTLs differ, using the lowest file=%s line=%d",
						z->file, v[x].line);
					if (v[x].ttl < rs->ttl)
						rs->ttl = v[x].ttl;
				}
				memcpy(mem + mpos, &v[x].rdlen, 2);
				memcpy(mem + mpos + 2, v[x].rd, v[x].rdlen);
				mpos += 2 + (size_t)v[x].rdlen;
			}
			rs->rdata_size = (size_t)(mem + mpos - rs->rdata);
			node->nrrsets++;
			if (rs->type == LDNS_RR_TYPE_CNAME) {
				has_cname = 1;
				cname_line = v[k].line;
				if (rs->count > 1) {
					errf(err, errlen, "%s:%d: more than one CNAME at one name",
					     z->file, v[k + 1].line);
					rc = GSLB_EPARSE;
					goto out;
				}
			} else if (!cname_companion_ok(rs->type)) {
				has_other = 1;
				other_line = v[k].line;
			}
			if (rs->type == LDNS_RR_TYPE_SOA) {
				if (node->name_len != z->origin_len ||
				    memcmp(node->name, z->origin, z->origin_len) != 0) {
					errf(err, errlen, "%s:%d: SOA record outside the zone apex",
					     z->file, v[k].line);
					rc = GSLB_EPARSE;
					goto out;
				}
				if (rs->count > 1) {
					errf(err, errlen, "%s:%d: more than one SOA record",
					     z->file, v[k + 1].line);
					rc = GSLB_EPARSE;
					goto out;
				}
			}
			k = e;
		}
		if (has_cname && has_other) {
			int l = cname_line > other_line ? cname_line : other_line;
			char txt[DNAME_MAXLEN * 4 + 1];
			dname_to_str(node->name, txt, sizeof(txt));
			errf(err, errlen, "%s:%d: CNAME and other data at %s", z->file, l, txt);
			rc = GSLB_EPARSE;
			goto out;
		}
		if (has_cname)
			node->flags |= ZONE_NODE_CNAME;
		i = j;
	}

	/* Ancestors between each owner and the apex exist as empty
	 * non-terminals (RFC 4592): they block wildcards and give NODATA. */
	size_t nreal = z->nnodes;
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

	const struct zone_node *apex = zone_find(z, z->origin, z->origin_len);
	const struct zone_rrset *soa = apex ? zone_rrset(apex, LDNS_RR_TYPE_SOA) : NULL;
	if (!soa) {
		errf(err, errlen, "%s:%d: zone %s has no SOA record at its apex", z->file,
		     n ? v[n - 1].line : 1, z->origin_str);
		rc = GSLB_EPARSE;
		goto out;
	}
	if (!zone_rrset(apex, LDNS_RR_TYPE_NS)) {
		errf(err, errlen, "%s:%d: zone %s has no NS records at its apex", z->file,
		     n ? v[n - 1].line : 1, z->origin_str);
		rc = GSLB_EPARSE;
		goto out;
	}
	z->apex = apex;
	z->soa = soa;
	((struct zone_node *)apex)->flags |= ZONE_NODE_APEX;
	{
		const uint8_t *rd;
		uint16_t rdlen;
		size_t pos = 0;
		if (zone_rrset_next(soa, &pos, &rd, &rdlen) && rdlen >= 20)
			z->serial = ((uint32_t)rd[rdlen - 20] << 24) |
				    ((uint32_t)rd[rdlen - 19] << 16) |
				    ((uint32_t)rd[rdlen - 18] << 8) | rd[rdlen - 17];
	}

	/* Zone cuts, then everything below a cut is occluded (glue at most). */
	for (size_t i = 0; i < z->nnodes; i++) {
		struct zone_node *nd = &z->nodes[i];
		if (!(nd->flags & ZONE_NODE_APEX) && zone_rrset(nd, LDNS_RR_TYPE_NS))
			nd->flags |= ZONE_NODE_DELEG;
	}
	for (size_t i = 0; i < z->nnodes; i++) {
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
	z->nrecords = n;
out:
	return rc;
}

int zone_load(const char *origin, const char *file, struct zone **out, char *err, size_t errlen)
{
	int rc = GSLB_OK;
	FILE *fp = NULL;
	struct recvec rv = { 0 };
	struct zone *z = calloc(1, sizeof(*z));
	char txt[DNAME_MAXLEN * 4 + 1];

	*out = NULL;
	if (!z) {
		rc = GSLB_ENOMEM;
		goto out;
	}
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
	fp = fopen(file, "r");
	if (!fp) {
		errf(err, errlen, "%s: cannot open zone file: %s", file, strerror(errno));
		rc = GSLB_EIO;
		goto out;
	}
	rc = parse_file(z, fp, &rv, err, errlen);
	if (rc)
		goto out;
	rc = build(z, &rv, err, errlen);
	if (rc)
		goto out;
	*out = z;
	z = NULL;
out:
	if (rc == GSLB_ENOMEM)
		errf(err, errlen, "%s: out of memory", file);
	if (fp)
		fclose(fp);
	recvec_free(&rv);
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
