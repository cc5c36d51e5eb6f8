/* libFuzzer harness for the HTTP redirect decision, http_answer().
 *
 * Input layout:
 *   byte 0   control: bits 0-2 the peer (table below), bit 3 the request
 *            came over https, bits 4-7 the regions whose pools are all down
 *            (bit 4 = first region of tests/fuzz/fuzz-http.conf, ...)
 *   byte 1   fields forced to NULL (bit 0 method, 1 host, 2 path, 3 query,
 *            4 X-Forwarded-For, 5 Forwarded); bit 6 turns peer 7 from none
 *            into an AF_UNIX address; bit 7: the request had two Host lines
 *   rest     method, host, path, query, X-Forwarded-For, Forwarded,
 *            separated by NUL bytes; a field the input does not reach is NULL
 *
 * The snapshot is loaded once from tests/fuzz/fuzz-http.conf (found like
 * fuzz_dns finds fuzz.conf: $GSLB_FUZZ_HTTP_CONF, $GSLB_SRCDIR, the source
 * folder compiled in, the binary's location), and sixteen health views are
 * made from its first one, one per set of regions marked down.
 *
 * Each answer is checked against what the request and the config say it
 * must be: a status the listener knows; 400 (and a negative return) exactly
 * for a missing or malformed peer, method, path or Host, or a repeated Host; for a Host that
 * names a service: 404 without a redirect, 405 for other methods unless
 * all_methods, else 200 (explain), 503 (with Retry-After) or the service's
 * redirect status; a redirect's Location is exactly the region's target
 * (its own, or the template with {region} replaced; https, never http, for a
 * request over https), then the path and query with every byte a URL cannot
 * carry percent-encoded, or 414 when that would not fit; the same request
 * gets the same answer twice. A violation aborts, so libFuzzer keeps the
 * input. */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/health.h"
#include "gslb/http.h"
#include "gslb/log.h"
#include "gslb/snapshot.h"
#include "fuzz_util.h"

#define HARNESS "fuzz_http"
#define NFIELDS 6
#define NVIEWS 16

static struct snapshot *snap;
static struct health *orig_health;
static struct health *views[NVIEWS];

static void cleanup(void)
{
	if (!snap)
		return;
	snap->health = orig_health;
	for (int i = 0; i < NVIEWS; i++)
		health_free(views[i]);
	snapshot_free(snap);
	snap = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	if (snap)
		return 0;
	snap = fuzz_load_snapshot(HARNESS, "GSLB_FUZZ_HTTP_CONF", "tests/fuzz/fuzz-http.conf");
	if (!snap->health) {
		fprintf(stderr, HARNESS ": the snapshot has no health view\n");
		exit(2);
	}
	orig_health = snap->health;
	/* View v: every member of every pool in region r is down when bit r
	 * of v is set. */
	for (int v = 0; v < NVIEWS; v++) {
		const struct conf *c = snap->conf;
		struct health *h = health_clone(orig_health);

		if (!h)
			fuzz_die(HARNESS, "health_clone failed");
		for (size_t si = 0; si < c->nservices; si++) {
			const struct service *svc = &c->services[si];
			for (size_t pi = 0; pi < svc->npools; pi++) {
				const struct pool *p = &svc->pools[pi];
				struct hpool *hp = &h->pools[p->gidx];
				int down = p->region < 4 && (v >> p->region) & 1;
				for (size_t mi = 0; mi < hp->nmembers; mi++)
					hp->members[mi].state = down ? HEALTH_DOWN : HEALTH_UP;
			}
		}
		health_compute(h, snap, NULL, NULL, 0);
		views[v] = h;
	}
	atexit(cleanup);
	return 0;
}

/* The bytes http.c must percent-encode in a Location. */
static int must_escape(uint8_t c)
{
	return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}#", c) != NULL;
}

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_raw(struct sbuf *b, const char *s, size_t n)
{
	while (b->n + n + 1 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_esc(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (must_escape(c)) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_raw(b, e, 3);
		} else {
			sb_raw(b, s + i, 1);
		}
	}
}

/* The Location expected for a redirect to region rg of svc. */
static void expected_location(const struct service *svc, const struct region *rg,
			      const struct http_request_info *req, struct sbuf *b)
{
	const char *t = rg->redirect ? rg->redirect : svc->redirect_target;
	size_t n = strlen(t), i = 0;

	b->n = 0;
	sb_raw(b, "", 0);
	if (req->is_https && strncasecmp(t, "http://", 7) == 0) {
		sb_raw(b, "https://", 8);
		i = 7;
	}
	for (; i < n; i++) {
		if (!rg->redirect && strncmp(t + i, "{region}", 8) == 0) {
			sb_esc(b, rg->name, strlen(rg->name));
			i += 7;
		} else {
			sb_esc(b, t + i, 1);
		}
	}
	if (b->n && b->p[b->n - 1] == '/' && req->path[0] == '/')
		b->n--;
	sb_esc(b, req->path, strlen(req->path));
	if (req->query) {
		sb_raw(b, "?", 1);
		sb_esc(b, req->query, strlen(req->query));
	}
}

/* Host as http.c reads it: 0 a name (lname set), 1 an IPv6 literal, -1
 * malformed. Kept independent of http.c on purpose. */
static int host_name(const char *host, uint8_t lname[DNAME_MAXLEN], size_t *len)
{
	char text[HTTP_HOST_MAX + 8];
	size_t n = strnlen(host, HTTP_HOST_MAX + 8), name_len;
	const char *colon;

	if (n == 0 || n > HTTP_HOST_MAX + 6)
		return -1;
	if (host[0] == '[')
		return memchr(host, ']', n) ? 1 : -1;
	colon = memchr(host, ':', n);
	name_len = colon ? (size_t)(colon - host) : n;
	if (colon) {
		size_t plen = n - name_len - 1;
		if (plen == 0 || plen > 5)
			return -1;
		for (size_t i = 0; i < plen; i++)
			if (!isdigit((unsigned char)colon[1 + i]))
				return -1;
	}
	if (name_len && host[name_len - 1] == '.')
		name_len--;
	if (name_len == 0 || name_len >= HTTP_HOST_MAX)
		return -1;
	for (size_t i = 0; i < name_len; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
			return -1;
		text[i] = (char)tolower(ch);
	}
	text[name_len] = '\0';
	*len = dname_from_str(text, lname);
	return *len ? 0 : -1;
}

static int has_explain(const char *q)
{
	size_t n = strlen(q), start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || q[i] == '&' || q[i] == ';') {
			const char *eq = memchr(q + start, '=', i - start);
			size_t len = eq ? (size_t)(eq - (q + start)) : i - start;
			if (len == 7 && memcmp(q + start, "explain", 7) == 0)
				return 1;
			start = i + 1;
		}
	}
	return 0;
}

static void check_answer(const struct http_request_info *req, int rc, const struct http_answer *a,
			 int family)
{
	const struct conf *c = snap->conf;
	const struct service *svc = NULL;
	uint8_t lname[DNAME_MAXLEN];
	size_t len = 0;
	int h = -1;

	if (!memchr(a->location, '\0', sizeof(a->location)) ||
	    !memchr(a->client, '\0', sizeof(a->client)))
		fuzz_die(HARNESS, "unterminated string in the answer");
	if (!memchr(a->host, '\0', sizeof(a->host)))
		fuzz_die(HARNESS, "unterminated host text in the answer");
	/* http.h: host is "" when the Host is missing or malformed */
	if (a->status == 400 && a->host[0])
		fuzz_die(HARNESS, "host text left on a 400 answer");
	switch (a->status) {
	case 200:
	case 301:
	case 302:
	case 303:
	case 307:
	case 308:
	case 400:
	case 404:
	case 405:
	case 414:
	case 503:
		break;
	default:
		fuzz_die(HARNESS, "status outside the set the listener knows");
	}
	if ((rc < 0) != (a->status == 400) || rc > 0)
		fuzz_die(HARNESS, "return code and 400 disagree");
	if (a->status < 300 || a->status > 399) {
		if (a->location[0])
			fuzz_die(HARNESS, "a Location on an answer that is no redirect");
	}
	if ((a->status == 200) != (a->explain != 0))
		fuzz_die(HARNESS, "explain without 200 or 200 without explain");
	if (a->status == 503 && a->retry_after == 0)
		fuzz_die(HARNESS, "503 without Retry-After");
	if (a->status != 400 && a->host[0])
		for (const char *p = a->host; *p; p++)
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			      *p == '-' || *p == '.' || *p == '_'))
				fuzz_die(HARNESS, "host text not a lower-case name");

	if (req->host)
		h = host_name(req->host, lname, &len);
	/* 400 exactly when the request itself is unusable. */
	int bad = !family || !req->path || req->path[0] != '/' || !req->method || !req->host ||
		  req->repeated_host || h < 0;
	if (bad != (a->status == 400))
		fuzz_die(HARNESS, bad ? "malformed request not answered 400" :
					"well-formed request answered 400");
	if (bad)
		return;
	if (h == 0)
		svc = decide_find_service(snap, lname, len);
	if (!svc || !svc->redirect_target) {
		if (a->status != 404)
			fuzz_die(HARNESS, "no redirect for this Host, yet not 404");
		return;
	}
	int get_head = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	if (!get_head && !svc->redirect_all_methods) {
		if (a->status != 405)
			fuzz_die(HARNESS, "method not allowed, yet not 405");
		return;
	}
	if (a->status == 405 || a->status == 404)
		fuzz_die(HARNESS, "404 or 405 for a service that redirects this method");
	if (a->status == 200) {
		if (!req->query || !has_explain(req->query))
			fuzz_die(HARNESS, "explain answered without ?explain");
		return;
	}
	if (a->status == 503) {
		if (a->region)
			fuzz_die(HARNESS, "503 with a region");
		return;
	}
	/* a redirect, or 414 */
	const struct region *rg = NULL;
	for (size_t i = 0; i < c->nregions; i++)
		if (a->region == c->regions[i].name)
			rg = &c->regions[i];
	if (!rg)
		fuzz_die(HARNESS, "redirect or 414 without a configured region");
	if (svc->pool_of_region[rg - c->regions] < 0)
		fuzz_die(HARNESS, "redirect to a region where the service has no pool");
	struct sbuf want = { 0 };
	expected_location(svc, rg, req, &want);
	if (want.n >= sizeof(a->location)) {
		if (a->status != 414)
			fuzz_die(HARNESS, "Location too long for the buffer, yet not 414");
	} else {
		unsigned st = svc->redirect_status ? svc->redirect_status : 302;
		if (a->status != st)
			fuzz_die(HARNESS, "redirect status differs from the service's");
		if (strcmp(a->location, want.p) != 0) {
			fprintf(stderr, HARNESS ": Location \"%s\"\n" HARNESS ": expected \"%s\"\n",
				a->location, want.p);
			fuzz_die(HARNESS, "Location differs from the target + path + query");
		}
		for (const char *p = a->location; *p; p++)
			if (must_escape((uint8_t)*p))
				fuzz_die(HARNESS, "raw byte in the Location a URL cannot carry");
		if (req->is_https && strncmp(a->location, "https://", 8) != 0)
			fuzz_die(HARNESS, "https request redirected to another scheme");
		if (a->max_age == 0 && svc->ttl)
			fuzz_die(HARNESS, "redirect without max-age");
	}
	free(want.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t v4[4][4] = {
		{ 127, 0, 0, 1 }, { 10, 1, 2, 3 }, { 83, 1, 2, 3 }, { 4, 0, 0, 1 }
	};
	static const uint8_t v6[3][16] = {
		{ [15] = 1 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, [15] = 1 },
		{ [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 },
	};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct http_request_info req;
	struct http_answer *a, *b;
	char *fields[NFIELDS] = { 0 };
	const uint8_t *p, *end;
	uint8_t ctl, nulls;
	unsigned peer;
	int family = 0, rc, rc2;

	if (!snap)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2 || size > 16384)
		return 0;
	ctl = data[0];
	nulls = data[1];
	/* Split the rest on NUL into exact-size heap strings (ASan sees any
	 * read past a field). */
	p = data + 2;
	end = data + size;
	for (int i = 0; i < NFIELDS && p <= end; i++) {
		const uint8_t *z = memchr(p, '\0', (size_t)(end - p));
		size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
		if (!z && p == end && i > 0)
			break; /* input ended right after a NUL: no further field */
		fields[i] = malloc(n + 1);
		if (!fields[i])
			abort();
		memcpy(fields[i], p, n);
		fields[i][n] = '\0';
		if (!z)
			break;
		p = z + 1;
	}
	for (int i = 0; i < NFIELDS; i++)
		if (nulls & (1u << i)) {
			free(fields[i]);
			fields[i] = NULL;
		}

	memset(&req, 0, sizeof(req));
	req.method = fields[0];
	req.host = fields[1];
	req.path = fields[2];
	req.query = fields[3];
	req.x_forwarded_for = fields[4];
	req.forwarded = fields[5];
	req.repeated_host = (nulls >> 7) & 1;
	req.is_https = (ctl >> 3) & 1;
	peer = ctl & 7;
	if (peer < 4) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(40000);
		memcpy(&sin.sin_addr, v4[peer], 4);
		req.peer = (const struct sockaddr *)&sin;
		family = AF_INET;
	} else if (peer < 7) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(40000);
		memcpy(&sin6.sin6_addr, v6[peer - 4], 16);
		req.peer = (const struct sockaddr *)&sin6;
		family = AF_INET6;
	} else if (nulls & 0x40) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		req.peer = (const struct sockaddr *)&sun;
	}
	snap->health = views[(ctl >> 4) & 15];

	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	if (!a || !b)
		abort();
	memset(a, 0xa5, sizeof(*a));
	memset(b, 0x5a, sizeof(*b));
	rc = http_answer(snap, &req, a);
	http_answer_client(a);
	check_answer(&req, rc, a, family);
	rc2 = http_answer(snap, &req, b);
	http_answer_client(b);
	if (rc != rc2 || a->status != b->status || strcmp(a->location, b->location) != 0 ||
	    a->max_age != b->max_age || a->region != b->region || a->vary != b->vary ||
	    strcmp(a->client, b->client) != 0)
		fuzz_die(HARNESS, "the same request answered differently");

	free(a);
	free(b);
	for (int i = 0; i < NFIELDS; i++)
		free(fields[i]);
	return 0;
}
