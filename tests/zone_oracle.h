/* The records of a zone file as ldns alone reads them, record by record,
 * with the checks zone_load makes of each record: how every zone was read
 * before gslb/zone_read.c got its fast path. zone_oracle_compare() reads a
 * file both ways and says where they differ (records, bytes, TTLs, lines,
 * or the error text and line). Header-only: used by tests/unit/test_zone.c
 * and tests/fuzz/fuzz_zone.c. */
#ifndef GSLB_TEST_ZONE_ORACLE_H
#define GSLB_TEST_ZONE_ORACLE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/zone_read.h"

struct zone_oracle_rec {
	uint8_t owner[DNAME_MAXLEN]; /* lower-cased */
	size_t olen;
	uint16_t type;
	uint32_t ttl;
	uint8_t *rd;
	size_t rdlen;
	int line;
};

struct zone_oracle {
	struct zone_oracle_rec *v;
	size_t n, cap;
	char err[4096]; /* "" when the file reads without error */
};

static inline void zone_oracle_free(struct zone_oracle *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].rd);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

/* One record ldns read: zone_load's per-record checks, then kept. 0, or -1
 * with o->err set. */
static inline int zone_oracle_add(struct zone_oracle *o, const char *path, const uint8_t *origin,
				  size_t olen, const char *origin_str, const ldns_rr *rr, int line)
{
	const ldns_rdf *ow = ldns_rr_owner(rr);
	size_t n = ldns_rdf_size(ow);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		snprintf(o->err, sizeof(o->err), "%.1000s:%d: only class IN is supported", path,
			 line);
		return -1;
	}
	if (n == 0 || n > DNAME_MAXLEN) {
		snprintf(o->err, sizeof(o->err), "%.1000s:%d: bad owner name", path, line);
		return -1;
	}
	if (!dname_is_sub(ldns_rdf_data(ow), n, origin, olen)) {
		char *txt = ldns_rdf2str(ow);
		snprintf(o->err, sizeof(o->err), "%.1000s:%d: %.1100s is outside the zone %.1100s",
			 path, line, txt ? txt : "name", origin_str);
		free(txt);
		return -1;
	}
	if (zone_type_refused(type)) {
		snprintf(o->err, sizeof(o->err),
			 "%.1000s:%d: record type %u cannot appear in a zone", path, line, type);
		return -1;
	}
	ldns_buffer *b = ldns_buffer_new(512);
	if (!b || ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK) {
		snprintf(o->err, sizeof(o->err), "%.1000s:%d: cannot encode record data", path,
			 line);
		ldns_buffer_free(b);
		return -1;
	}
	if (ldns_buffer_position(b) > 65535) {
		snprintf(o->err, sizeof(o->err), "%.1000s:%d: record data too long", path, line);
		ldns_buffer_free(b);
		return -1;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 64;
		o->v = realloc(o->v, o->cap * sizeof(*o->v));
		if (!o->v)
			abort();
	}
	struct zone_oracle_rec *r = &o->v[o->n++];
	r->olen = n;
	dname_tolower(r->owner, ldns_rdf_data(ow), n);
	r->type = type;
	r->ttl = ldns_rr_ttl(rr);
	r->rdlen = ldns_buffer_position(b);
	r->rd = malloc(r->rdlen ? r->rdlen : 1);
	if (!r->rd)
		abort();
	memcpy(r->rd, ldns_buffer_begin(b), r->rdlen);
	r->line = line;
	ldns_buffer_free(b);
	return 0;
}

/* Read path, a zone for origin_text ("unit.test"), with ldns alone. */
static inline void zone_oracle_read(struct zone_oracle *o, const char *path,
				    const char *origin_text)
{
	uint8_t origin[DNAME_MAXLEN];
	char origin_str[DNAME_MAXLEN * 4 + 1];
	size_t olen = dname_from_str(origin_text, origin);
	dname_to_str(origin, origin_str, sizeof(origin_str));
	memset(o, 0, sizeof(*o));
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(o->err, sizeof(o->err), "%.1000s: cannot open", path);
		return;
	}
	uint32_t ttl = 3600;
	ldns_rdf *org = ldns_dname_new_frm_data((uint16_t)olen, origin);
	ldns_rdf *prev = ldns_rdf_clone(org);
	int line = 0;
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		int before = line;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &org, &prev, &line);
		int stop = 0;
		if (st == LDNS_STATUS_OK)
			stop = zone_oracle_add(o, path, origin, olen, origin_str, rr,
					       line > before ? line : before + 1) != 0;
		else if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
			snprintf(o->err, sizeof(o->err), "%.1000s:%d: $INCLUDE is not supported",
				 path, line);
			stop = 1;
		} else if (st != LDNS_STATUS_SYNTAX_EMPTY && st != LDNS_STATUS_SYNTAX_TTL &&
			   st != LDNS_STATUS_SYNTAX_ORIGIN) {
			snprintf(o->err, sizeof(o->err), "%.1000s:%d: %.200s", path,
				 line > 0 ? line : 1, ldns_get_errorstr_by_id(st));
			stop = 1;
		}
		ldns_rr_free(rr);
		if (stop)
			break;
	}
	ldns_rdf_deep_free(org);
	ldns_rdf_deep_free(prev);
	fclose(fp);
}

/* NULL when zread_file and ldns alone read path the same way; else what
 * differs, in buf. *nfast: the records zread_file's fast path read. */
static inline const char *zone_oracle_compare(const char *path, const char *origin_text, char *buf,
					      size_t cap, size_t *nfast)
{
	struct zone_oracle o;
	struct zread zr;
	char err[4096] = "";
	uint8_t origin[DNAME_MAXLEN];
	char origin_str[DNAME_MAXLEN * 4 + 1];
	size_t olen = dname_from_str(origin_text, origin);
	dname_to_str(origin, origin_str, sizeof(origin_str));
	zone_oracle_read(&o, path, origin_text);
	int rc = zread_file(&zr, path, origin, olen, origin_str, err, sizeof(err));
	const char *what = NULL;
	*nfast = zr.nfast;
	if (rc && strstr(err, "bad $TTL value")) {
		/* checked before either reads a record */
	} else if (o.err[0] || rc) {
		if (!o.err[0] || !rc || strcmp(o.err, err) != 0) {
			snprintf(buf, cap,
				 "errors differ: ldns \"%.3000s\", zread \"%.3000s\" (rc %d)",
				 o.err, err, rc);
			what = buf;
		}
	} else if (zr.n != o.n) {
		snprintf(buf, cap, "ldns read %zu records, zread %zu", o.n, zr.n);
		what = buf;
	} else {
		for (size_t i = 0; i < o.n && !what; i++) {
			const struct zrec *r = &zr.v[i];
			const struct zone_oracle_rec *w = &o.v[i];
			if (r->line != w->line || r->type != w->type || r->ttl != w->ttl ||
			    r->olen != w->olen ||
			    memcmp(zr.arena + r->owner, w->owner, w->olen) != 0 ||
			    r->rdlen != w->rdlen ||
			    memcmp(zr.arena + r->rd, w->rd, w->rdlen) != 0) {
				snprintf(
					buf, cap,
					"record %zu differs: ldns line %d type %u ttl %u rdlen %zu, "
					"zread line %d type %u ttl %u rdlen %u",
					i, w->line, w->type, w->ttl, w->rdlen, r->line, r->type,
					r->ttl, r->rdlen);
				what = buf;
			}
		}
	}
	zread_free(&zr);
	zone_oracle_free(&o);
	return what;
}

#endif
