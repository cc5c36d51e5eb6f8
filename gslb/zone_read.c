/* Zone file text to records. The file is read into memory once. Each entry
 * is either a plain one-line record of a common type, which the fast path
 * below turns into wire form directly, or anything else, which ldns reads
 * from the same bytes (a memory stream positioned at the entry) with the
 * same origin, default TTL, previous owner and line counter as the fast
 * path uses, so the two can alternate line by line. The fast path takes a
 * line only when ldns would read it the same way and give the same bytes
 * (tests/zone_oracle.h compares the two, in tests/unit/test_zone.c and on
 * every input of the fuzz_zone harness); when in doubt
 * it leaves the line to ldns, whose errors are then the ones reported.
 *
 * Line numbers are ldns's: the line counter after an entry and the empty
 * lines right after it (ldns skips them while reading the entry). */
#include "gslb/zone_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "gslb/dname.h"
#include "gslb/err.h"

struct reader {
	struct zread *zr;
	const char *file;
	const uint8_t *zorigin; /* the zone's origin: records must be inside */
	size_t zorigin_len;
	unsigned zorigin_labels;
	const char *zorigin_str;
	char *err;
	size_t errlen;
	ldns_buffer *buf; /* RDATA of ldns records, reused */
	/* The state ldns and the fast path share. ldns's prev is refreshed
	 * from prev_wire before ldns reads an entry when the fast path moved
	 * it (prev_dirty), and prev_wire from ldns's after. */
	ldns_rdf *origin;
	ldns_rdf *prev;
	uint32_t default_ttl;
	uint8_t prev_wire[DNAME_MAXLEN];
	size_t prev_len;
	int prev_dirty;
	uint8_t last_owner[DNAME_MAXLEN]; /* lower-cased owner of the last record */
	size_t last_olen;
};

static void errf(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errf(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	if (!r->err || !r->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

static unsigned count_labels(const uint8_t *name)
{
	unsigned n = 0;
	for (size_t p = 0; name[p]; p += 1 + (size_t)name[p])
		n++;
	return n;
}

/* Append bytes to the arena; their offset in *off. */
static int arena_put(struct zread *zr, const void *p, size_t n, uint32_t *off)
{
	if (zr->alen + n > zr->acap) {
		size_t ncap = zr->acap ? zr->acap : 65536;
		while (ncap < zr->alen + n)
			ncap *= 2;
		if (ncap > UINT32_MAX)
			return GSLB_ENOMEM; /* offsets are 32 bits: 4 GiB of names and data */
		uint8_t *na = realloc(zr->arena, ncap);
		if (!na)
			return GSLB_ENOMEM;
		zr->arena = na;
		zr->acap = ncap;
	}
	memcpy(zr->arena + zr->alen, p, n);
	*off = (uint32_t)zr->alen;
	zr->alen += n;
	return GSLB_OK;
}

/* The checks every record passes before its RDATA is taken: owner name,
 * inside the zone, a type that may appear in a zone file. owner is the
 * wire name as written (case kept, for the message). */
static int rec_check(struct reader *r, const uint8_t *owner, size_t olen, uint16_t type, int line)
{
	if (olen == 0 || olen > DNAME_MAXLEN) {
		errf(r, "%s:%d: bad owner name", r->file, line);
		return GSLB_EPARSE;
	}
	if (!dname_is_sub(owner, olen, r->zorigin, r->zorigin_len)) {
		ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)olen, owner);
		char *txt = o ? ldns_rdf2str(o) : NULL;
		errf(r, "%s:%d: %s is outside the zone %s", r->file, line, txt ? txt : "name",
		     r->zorigin_str);
		free(txt);
		ldns_rdf_deep_free(o);
		return GSLB_EPARSE;
	}
	if (zone_type_refused(type)) {
		errf(r, "%s:%d: record type %u cannot appear in a zone", r->file, line, type);
		return GSLB_EPARSE;
	}
	return GSLB_OK;
}

/* Store a checked record. Consecutive records of one owner share its
 * bytes, and each new run of an owner adds to the bound on nodes. */
static int rec_store(struct reader *r, const uint8_t *owner, size_t olen, uint16_t type,
		     uint32_t ttl, const uint8_t *rd, size_t rdlen, int line)
{
	struct zread *zr = r->zr;
	if (rdlen > 65535) {
		errf(r, "%s:%d: record data too long", r->file, line);
		return GSLB_EPARSE;
	}
	if (zr->n == zr->cap) {
		size_t ncap = zr->cap ? zr->cap * 2 : 1024;
		struct zrec *nv = realloc(zr->v, ncap * sizeof(*nv));
		if (!nv)
			return GSLB_ENOMEM;
		zr->v = nv;
		zr->cap = ncap;
	}
	struct zrec *x = &zr->v[zr->n];
	uint8_t lower[DNAME_MAXLEN];
	dname_tolower(lower, owner, olen);
	int rc;
	if (zr->n > 0 && olen == r->last_olen && memcmp(lower, r->last_owner, olen) == 0) {
		x->owner = zr->v[zr->n - 1].owner;
	} else {
		rc = arena_put(zr, lower, olen, &x->owner);
		if (rc)
			return rc;
		memcpy(r->last_owner, lower, olen);
		r->last_olen = olen;
		zr->node_bound += count_labels(lower) - r->zorigin_labels + 1;
	}
	rc = arena_put(zr, rd, rdlen, &x->rd);
	if (rc)
		return rc;
	x->olen = (uint8_t)olen;
	x->rdlen = (uint16_t)rdlen;
	x->type = type;
	x->ttl = ttl;
	x->node = 0;
	x->line = line;
	zr->n++;
	return GSLB_OK;
}

/* A record ldns read. */
static int rec_from_ldns(struct reader *r, const ldns_rr *rr, int line)
{
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		errf(r, "%s:%d: only class IN is supported", r->file, line);
		return GSLB_EPARSE;
	}
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	int rc = rec_check(r, ldns_rdf_data(owner), ldns_rdf_size(owner), type, line);
	if (rc)
		return rc;
	ldns_buffer_clear(r->buf);
	if (ldns_rr_rdata2buffer_wire(r->buf, rr) != LDNS_STATUS_OK) {
		errf(r, "%s:%d: cannot encode record data", r->file, line);
		return GSLB_EPARSE;
	}
	return rec_store(r, ldns_rdf_data(owner), ldns_rdf_size(owner), type, ldns_rr_ttl(rr),
			 ldns_buffer_begin(r->buf), ldns_buffer_position(r->buf), line);
}

/* ---------------------------------------------------------------- fast path */

/* RDATA the fast path writes at most (longer TXT goes to ldns). */
#define FAST_RDATA_MAX 4096

struct tok {
	const char *p;
	size_t n;
};

static int tok_is(const struct tok *t, const char *word)
{
	return t->n == strlen(word) && strncasecmp(t->p, word, t->n) == 0;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '*';
}

/* A plain name (letters, digits, '-', '_', '*'; no escapes, no '@'),
 * relative to origin unless it ends with a dot; 0 when the fast path should
 * not take it (ldns then decides). Its wire form has the case as written. */
static size_t fast_name(const struct tok *t, const ldns_rdf *origin, uint8_t out[DNAME_MAXLEN])
{
	if (t->n == 0 || t->n > 250 || (t->n == 1 && t->p[0] == '.'))
		return 0;
	size_t o = 0, lpos = 0, llen = 0;
	out[o++] = 0;
	for (size_t i = 0; i < t->n; i++) {
		char c = t->p[i];
		if (c == '.') {
			if (llen == 0)
				return 0; /* empty label */
			out[lpos] = (uint8_t)llen;
			lpos = o++;
			out[lpos] = 0;
			llen = 0;
			continue;
		}
		if (!is_name_char(c) || llen == 63)
			return 0;
		out[o++] = (uint8_t)c;
		llen++;
	}
	if (llen > 0) { /* relative: the origin follows */
		out[lpos] = (uint8_t)llen;
		size_t ol = ldns_rdf_size(origin);
		if (o + ol > DNAME_MAXLEN)
			return 0;
		memcpy(out + o, ldns_rdf_data(origin), ol);
		return o + ol;
	}
	return o; /* absolute: the last length byte written is the root */
}

/* Decimal digits only, at most max_digits of them. */
static int fast_number(const struct tok *t, size_t max_digits, uint32_t *v)
{
	if (t->n == 0 || t->n > max_digits)
		return 0;
	uint32_t x = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return 0;
		x = x * 10 + (uint32_t)(t->p[i] - '0');
	}
	*v = x;
	return 1;
}

static int fast_u16(const struct tok *t, uint8_t *out)
{
	uint32_t v;
	if (!fast_number(t, 5, &v) || v > 65535)
		return 0;
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)v;
	return 1;
}

static int fast_addr(const struct tok *t, int af, uint8_t *out)
{
	char s[64];
	if (t->n == 0 || t->n >= sizeof(s))
		return 0;
	memcpy(s, t->p, t->n);
	s[t->n] = '\0';
	return inet_pton(af, s, out) == 1;
}

/* TXT: quoted strings only, without escapes, each at most 255 bytes (ldns
 * refuses longer ones). */
static size_t fast_txt(const struct tok *t, size_t nt, uint8_t *rd)
{
	size_t o = 0;
	for (size_t i = 0; i < nt; i++) {
		size_t n = t[i].n;
		if (n < 2 || t[i].p[0] != '"' || t[i].p[n - 1] != '"' ||
		    memchr(t[i].p + 1, '"', n - 2) || n - 2 > 255 || o + n - 1 > FAST_RDATA_MAX)
			return 0;
		rd[o++] = (uint8_t)(n - 2);
		memcpy(rd + o, t[i].p + 1, n - 2);
		o += n - 2;
	}
	return o;
}

/* RDATA of the fast types from its tokens; its length, or 0 to leave the
 * record to ldns. */
static size_t fast_rdata(uint16_t type, const struct tok *t, size_t nt, const ldns_rdf *origin,
			 uint8_t *rd)
{
	size_t l;
	switch (type) {
	case LDNS_RR_TYPE_A:
		return nt == 1 && fast_addr(&t[0], AF_INET, rd) ? 4 : 0;
	case LDNS_RR_TYPE_AAAA:
		return nt == 1 && fast_addr(&t[0], AF_INET6, rd) ? 16 : 0;
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_PTR:
		return nt == 1 ? fast_name(&t[0], origin, rd) : 0;
	case LDNS_RR_TYPE_MX:
		if (nt != 2 || !fast_u16(&t[0], rd))
			return 0;
		l = fast_name(&t[1], origin, rd + 2);
		return l ? l + 2 : 0;
	case LDNS_RR_TYPE_TXT:
		return nt >= 1 ? fast_txt(t, nt, rd) : 0;
	case LDNS_RR_TYPE_SRV:
		if (nt != 4 || !fast_u16(&t[0], rd) || !fast_u16(&t[1], rd + 2) ||
		    !fast_u16(&t[2], rd + 4))
			return 0;
		l = fast_name(&t[3], origin, rd + 6);
		return l ? l + 6 : 0;
	default:
		return 0;
	}
}

static const struct {
	const char *name;
	uint16_t type;
} fast_types[] = {
	{ "A", LDNS_RR_TYPE_A },         { "AAAA", LDNS_RR_TYPE_AAAA }, { "NS", LDNS_RR_TYPE_NS },
	{ "CNAME", LDNS_RR_TYPE_CNAME }, { "MX", LDNS_RR_TYPE_MX },     { "SRV", LDNS_RR_TYPE_SRV },
	{ "PTR", LDNS_RR_TYPE_PTR },     { "TXT", LDNS_RR_TYPE_TXT },
};

static uint16_t fast_type(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(fast_types) / sizeof(fast_types[0]); i++)
		if (tok_is(t, fast_types[i].name))
			return fast_types[i].type;
	return 0;
}

enum {
	FAST_NO = 1,
	FAST_DONE = 2
};

/* What ldns does after an entry: skip the characters of "\f\n\r\v" that
 * follow, counting lines. */
static size_t skip_line_ends(const char *text, size_t len, size_t pos, int *line)
{
	while (pos < len &&
	       (text[pos] == '\n' || text[pos] == '\f' || text[pos] == '\r' || text[pos] == '\v')) {
		if (text[pos] == '\n')
			(*line)++;
		pos++;
	}
	return pos;
}

/* The entry at *pos when it is a plain line: an empty or comment line, or
 * a record "[owner] [ttl] [IN] type rdata" of a fast type whose every
 * field the fast path reads. Returns FAST_DONE (*pos and *line moved past
 * it, the record stored), FAST_NO (nothing moved: ldns reads it) or a
 * negative gslb_err. *start is the line counter where ldns's read of the
 * entry would have begun: a line with nothing before its newline or ';'
 * does not end a read of ldns's, which goes on to the next line (the
 * record's line is the counter after the record, or *start + 1 when
 * reading it moved no line). */
static int fast_entry(struct reader *r, const char *text, size_t len, size_t *pos, int *line,
		      int *start)
{
	const char *s = text + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	const char *e = nl ? nl : text + len;
	const char *content_end = e;
	int quoted = 0;
	for (const char *c = s; c < e; c++) {
		unsigned char ch = (unsigned char)*c;
		if (ch == '\\' || ch == '$' || ch >= 0x7f ||
		    (ch < 0x20 && ch != '\t' && ch != '\r') || (quoted && ch == '\r'))
			return FAST_NO;
		if (ch == '"') {
			quoted = !quoted;
		} else if (!quoted && ch == ';') {
			content_end = c; /* a comment runs to the end of the line */
			break;
		} else if (!quoted && (ch == '(' || ch == ')')) {
			return FAST_NO;
		}
	}
	if (quoted)
		return FAST_NO;
	/* Tokens split at blanks outside quotes; a quoted string is one. */
	struct tok t[16];
	size_t nt = 0;
	int has_owner = s < content_end && *s != ' ' && *s != '\t' && *s != '\r';
	for (const char *c = s; c < content_end;) {
		while (c < content_end && (*c == ' ' || *c == '\t' || *c == '\r'))
			c++;
		if (c == content_end)
			break;
		if (nt == sizeof(t) / sizeof(t[0]))
			return FAST_NO;
		t[nt].p = c;
		for (int q = 0; c < content_end && (q || (*c != ' ' && *c != '\t' && *c != '\r'));
		     c++)
			if (*c == '"')
				q = !q;
		t[nt].n = (size_t)(c - t[nt].p);
		nt++;
	}
	if (nt == 0) { /* nothing but blanks or a comment */
		size_t after = (size_t)(e - text) + (nl ? 1 : 0);
		if (nl)
			(*line)++;
		if (content_end == s) {
			*pos = after; /* ldns reads on: its entry has not begun */
		} else {
			*pos = skip_line_ends(text, len, after, line);
			*start = *line;
		}
		return FAST_DONE;
	}

	/* owner */
	size_t i = 0;
	uint8_t owner[DNAME_MAXLEN];
	size_t olen;
	if (!has_owner) {
		olen = r->prev_len;
		memcpy(owner, r->prev_wire, olen);
	} else if (t[0].n == 1 && t[0].p[0] == '@') {
		olen = ldns_rdf_size(r->origin);
		memcpy(owner, ldns_rdf_data(r->origin), olen);
		i = 1;
	} else {
		olen = fast_name(&t[0], r->origin, owner);
		if (olen == 0)
			return FAST_NO;
		i = 1;
	}
	/* [ttl] [IN] type: ldns reads a TTL only before the class */
	uint32_t ttl = r->default_ttl ? r->default_ttl : LDNS_DEFAULT_TTL;
	if (i < nt && t[i].p[0] >= '0' && t[i].p[0] <= '9') {
		if (!fast_number(&t[i], 9, &ttl))
			return FAST_NO;
		i++;
	}
	if (i < nt && tok_is(&t[i], "IN"))
		i++;
	if (i >= nt)
		return FAST_NO;
	uint16_t type = fast_type(&t[i]);
	if (type == 0)
		return FAST_NO;
	i++;
	uint8_t rd[FAST_RDATA_MAX];
	size_t rdlen = fast_rdata(type, &t[i], nt - i, r->origin, rd);
	if (rdlen == 0)
		return FAST_NO;

	/* Taken: the line and the empty lines after it are read. */
	if (has_owner) {
		memcpy(r->prev_wire, owner, olen);
		r->prev_len = olen;
		r->prev_dirty = 1;
	}
	if (nl)
		(*line)++;
	*pos = skip_line_ends(text, len, (size_t)(e - text) + (nl ? 1 : 0), line);
	int at = *line > *start ? *line : *start + 1;
	*start = *line;
	r->zr->nfast++;
	int rc = rec_check(r, owner, olen, type, at);
	if (!rc)
		rc = rec_store(r, owner, olen, type, ttl, rd, rdlen, at);
	return rc ? rc : FAST_DONE;
}

/* ---------------------------------------------------------------- ldns */

/* One entry read by ldns from *pos, as ldns_rr_new_frm_fp_l reads a file
 * (*start: as for fast_entry). */
static int ldns_entry(struct reader *r, FILE *fp, size_t *pos, int *line, int *start)
{
	if (r->prev_dirty) {
		ldns_rdf *p = ldns_dname_new_frm_data((uint16_t)r->prev_len, r->prev_wire);
		if (!p)
			return GSLB_ENOMEM;
		ldns_rdf_deep_free(r->prev);
		r->prev = p;
		r->prev_dirty = 0;
	}
	if (fseek(fp, (long)*pos, SEEK_SET) != 0) {
		errf(r, "%s: read error: %s", r->file, strerror(errno));
		return GSLB_EIO;
	}
	int before = *start;
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &r->default_ttl, &r->origin, &r->prev, line);
	long at = ftell(fp);
	if (at < 0 || (size_t)at <= *pos) {
		/* ldns reads at least one character of an entry: never here */
		errf(r, "%s:%d: read error", r->file, *line > 0 ? *line : 1);
		ldns_rr_free(rr);
		return GSLB_EIO;
	}
	*pos = (size_t)at;
	*start = *line;
	if (r->prev) {
		r->prev_len = ldns_rdf_size(r->prev);
		memcpy(r->prev_wire, ldns_rdf_data(r->prev), r->prev_len);
	}
	int rc = GSLB_OK;
	switch (st) {
	case LDNS_STATUS_OK:
		rc = rec_from_ldns(r, rr, *line > before ? *line : before + 1);
		break;
	case LDNS_STATUS_SYNTAX_EMPTY:
	case LDNS_STATUS_SYNTAX_TTL:
	case LDNS_STATUS_SYNTAX_ORIGIN:
		break;
	case LDNS_STATUS_SYNTAX_INCLUDE:
		errf(r, "%s:%d: $INCLUDE is not supported", r->file, *line);
		rc = GSLB_EPARSE;
		break;
	default:
		errf(r, "%s:%d: %s", r->file, *line > 0 ? *line : 1, ldns_get_errorstr_by_id(st));
		rc = GSLB_EPARSE;
	}
	ldns_rr_free(rr);
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

static int check_ttl_directives(struct reader *r, const char *text, size_t len)
{
	int lineno = 0;
	for (size_t p = 0; p < len;) {
		const char *line = text + p;
		const char *nl = memchr(line, '\n', len - p);
		size_t n = nl ? (size_t)(nl - line) : len - p;
		p += n + 1;
		lineno++;
		if (n < 5 || strncasecmp(line, "$TTL", 4) != 0 ||
		    !(line[4] == ' ' || line[4] == '\t'))
			continue;
		const char *v = line + 4, *end = line + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		size_t vn = 0;
		while (v + vn < end && !strchr(" \t\r;", v[vn]) && v[vn] != '\0')
			vn++;
		if (!ttl_text_ok(v, vn)) {
			errf(r, "%s:%d: bad $TTL value \"%.*s\"", r->file, lineno,
			     (int)(vn > 40 ? 40 : vn), v);
			return GSLB_EPARSE;
		}
	}
	return GSLB_OK;
}

/* The whole file, NUL-terminated. */
static int slurp(struct reader *r, char **text, size_t *len)
{
	FILE *f = fopen(r->file, "r");
	if (!f) {
		errf(r, "%s: cannot open zone file: %s", r->file, strerror(errno));
		return GSLB_EIO;
	}
	struct stat st;
	size_t cap = 65536, n = 0;
	if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX / 2)
		cap = (size_t)st.st_size + 2; /* one read, then one more to see the end */
	char *buf = malloc(cap);
	int rc = buf ? GSLB_OK : GSLB_ENOMEM;
	while (!rc) {
		if (n + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = GSLB_ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (!rc && ferror(f)) {
		errf(r, "%s: read error: %s", r->file, strerror(errno));
		rc = GSLB_EIO;
	}
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return GSLB_OK;
}

int zread_file(struct zread *zr, const char *file, const uint8_t *origin, size_t origin_len,
	       const char *origin_str, char *err, size_t errlen)
{
	struct reader r = {
		.zr = zr,
		.file = file,
		.zorigin = origin,
		.zorigin_len = origin_len,
		.zorigin_labels = count_labels(origin),
		.zorigin_str = origin_str,
		.err = err,
		.errlen = errlen,
		.default_ttl = 3600,
	};
	char *text = NULL;
	size_t len = 0;
	FILE *fp = NULL;
	int line = 0, start = 0;

	memset(zr, 0, sizeof(*zr));
	int rc = slurp(&r, &text, &len);
	if (rc)
		return rc;
	rc = check_ttl_directives(&r, text, len);
	if (rc)
		goto out;
	r.buf = ldns_buffer_new(512);
	r.origin = ldns_dname_new_frm_data((uint16_t)origin_len, origin);
	r.prev = r.origin ? ldns_rdf_clone(r.origin) : NULL;
	if (!r.buf || !r.origin || !r.prev) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	r.prev_len = origin_len;
	memcpy(r.prev_wire, origin, origin_len);
	for (size_t pos = 0; pos < len;) {
		rc = fast_entry(&r, text, len, &pos, &line, &start);
		if (rc == FAST_DONE) {
			rc = GSLB_OK;
			continue;
		}
		if (rc < 0)
			goto out;
		if (!fp) {
			fp = fmemopen(text, len, "r");
			if (!fp) {
				rc = GSLB_ENOMEM;
				goto out;
			}
		}
		rc = ldns_entry(&r, fp, &pos, &line, &start);
		if (rc)
			goto out;
	}
out:
	if (fp)
		fclose(fp);
	free(text);
	ldns_buffer_free(r.buf);
	ldns_rdf_deep_free(r.origin);
	ldns_rdf_deep_free(r.prev);
	return rc;
}

void zread_free(struct zread *zr)
{
	free(zr->v);
	free(zr->arena);
	memset(zr, 0, sizeof(*zr));
}
