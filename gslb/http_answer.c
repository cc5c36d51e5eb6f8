/* The HTTP redirect decision, without the server around it: the client's
 * address (the peer, or X-Forwarded-For / Forwarded from a trusted proxy),
 * the service from Host, and the answer decide() gives: a redirect with
 * its Location, an explanation, 404, 405 or 503 (http_answer in http.h).
 * Pure functions of the request and the snapshot, so the libFuzzer harness
 * and the server run the same code. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/http.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"
#include "gslb/wire.h"

#define HTTP_FWD_MAX 32

/* ------------------------------------------------------------ addresses */

int http_trusted_proxy(const struct conf *c, int family, const uint8_t *addr)
{
	return net_set_contains(c->trusted_proxies, family, addr);
}

/* explain_from, by default loopback (127.0.0.0/8 and ::1). An empty list
 * in the config allows nobody. */
static int explain_allowed(const struct conf *c, int family, const uint8_t *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (c->explain_from)
		return net_set_contains(c->explain_from, family, addr);
	if (family == AF_INET)
		return addr[0] == 127;
	return family == AF_INET6 && memcmp(addr, v6_loopback, 16) == 0;
}

/* One address as a forwarding header writes it: "192.0.2.1",
 * "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]:8080", in quotes or not.
 * Returns the family, 0 when it is not an address ("unknown", "_hidden"). */
static int parse_fwd_addr(const char *s, size_t n, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct wire w;
	size_t start, end, colons = 0;

	wire_init(&w, (const uint8_t *)s, n);
	while (wire_left(&w) && (s[w.pos] == ' ' || s[w.pos] == '\t'))
		wire_skip(&w, 1);
	start = w.pos;
	end = n;
	while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	if (end - start >= 2 && s[start] == '"' && s[end - 1] == '"') {
		start++;
		end--;
	}
	if (end > start && s[start] == '[') {
		const char *close = memchr(s + start, ']', end - start);
		if (!close)
			return 0;
		/* after ']': nothing or ":port" */
		end = (size_t)(close - s);
		start++;
	} else {
		for (size_t i = start; i < end; i++)
			colons += s[i] == ':';
		if (colons == 1) /* IPv4 with a port */
			end = start + (size_t)((const char *)memchr(s + start, ':', end - start) -
					       (s + start));
	}
	if (end <= start || end - start >= sizeof(buf))
		return 0;
	memcpy(buf, s + start, end - start);
	buf[end - start] = '\0';
	int family = net_addr_parse(buf, addr);
	return family == AF_INET6 ? net_unmap_v4(addr) : family;
}

/* Entries of a forwarding header, as (offset, length) of the address part,
 * the last HTTP_FWD_MAX of them in order. */
struct fwd_list {
	size_t off[HTTP_FWD_MAX], len[HTTP_FWD_MAX];
	size_t n; /* entries seen (may exceed HTTP_FWD_MAX) */
};

static void fwd_add(struct fwd_list *f, size_t off, size_t len)
{
	size_t slot = f->n % HTTP_FWD_MAX;
	f->off[slot] = off;
	f->len[slot] = len;
	f->n++;
}

/* X-Forwarded-For: "client, proxy1, proxy2". */
static void split_xff(const char *s, struct fwd_list *f)
{
	size_t n = strlen(s), start = 0;

	f->n = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			fwd_add(f, start, i - start);
			start = i + 1;
		}
	}
}

/* Forwarded (RFC 7239): elements separated by commas, each a list of
 * name=value pairs separated by semicolons, values tokens or quoted
 * strings. Only for= matters; an element without one is recorded empty,
 * which stops the walk like any entry that is not an address. */
static void split_forwarded(const char *s, struct fwd_list *f)
{
	size_t n = strlen(s), i = 0;

	f->n = 0;
	while (i <= n) {
		size_t for_off = 0, for_len = 0;
		int have_for = 0;
		/* one element: pairs until ',' (outside quotes) or the end */
		for (;;) {
			while (i < n && (s[i] == ' ' || s[i] == '\t'))
				i++;
			size_t name = i;
			while (i < n && s[i] != '=' && s[i] != ';' && s[i] != ',')
				i++;
			size_t name_len = i - name;
			while (name_len &&
			       (s[name + name_len - 1] == ' ' || s[name + name_len - 1] == '\t'))
				name_len--;
			size_t val = i, val_len = 0;
			if (i < n && s[i] == '=') {
				i++;
				val = i;
				if (i < n && s[i] == '"') {
					i++;
					while (i < n && s[i] != '"') {
						if (s[i] == '\\' && i + 1 < n)
							i++;
						i++;
					}
					if (i < n)
						i++; /* closing quote */
				} else {
					while (i < n && s[i] != ';' && s[i] != ',')
						i++;
				}
				val_len = i - val;
				while (i < n && s[i] != ';' && s[i] != ',')
					i++; /* junk after a quoted value */
			}
			if (name_len == 3 && strncasecmp(s + name, "for", 3) == 0 && !have_for) {
				have_for = 1;
				for_off = val;
				for_len = val_len;
			}
			if (i < n && s[i] == ';') {
				i++;
				continue;
			}
			break;
		}
		fwd_add(f, for_off, have_for ? for_len : 0);
		if (i >= n)
			break;
		i++; /* ',' */
	}
}

/* The client address of a request: the peer, or, when the peer is a trusted
 * proxy, the right-most address of its forwarding header that is not itself
 * a trusted proxy (all trusted: the left-most; an entry that is no address
 * stops the walk at the last good one). X-Forwarded-For is read when
 * present, else Forwarded. Returns the family (0: no usable peer). */
static int client_address(const struct conf *c, const struct http_request_info *req,
			  uint8_t addr[16], int *via_proxy)
{
	int family = net_sockaddr_ip(req->peer, addr);
	const char *hdr;
	struct fwd_list f;

	*via_proxy = 0;
	if (!family || !http_trusted_proxy(c, family, addr))
		return family;
	*via_proxy = 1;
	hdr = req->x_forwarded_for ? req->x_forwarded_for : req->forwarded;
	if (!hdr)
		return family;
	if (req->x_forwarded_for)
		split_xff(hdr, &f);
	else
		split_forwarded(hdr, &f);
	size_t kept = f.n < HTTP_FWD_MAX ? f.n : HTTP_FWD_MAX;
	for (size_t k = 0; k < kept; k++) {
		size_t slot = (f.n - 1 - k) % HTTP_FWD_MAX;
		uint8_t a[16];
		int fam = parse_fwd_addr(hdr + f.off[slot], f.len[slot], a);
		if (!fam)
			break;
		family = fam;
		memcpy(addr, a, 16);
		if (!http_trusted_proxy(c, fam, a))
			break;
	}
	return family;
}

/* ------------------------------------------------------------ host */

/* The Host header as a lower-cased wire name. Returns 0, 1 when it is an IP
 * literal or otherwise names no service (404), or GSLB_EINVAL when it is
 * malformed (400). text gets the name, lower case, no trailing dot. */
static int parse_host(const char *host, uint8_t lname[DNAME_MAXLEN], size_t *len,
		      char text[HTTP_HOST_MAX])
{
	size_t n = strnlen(host, HTTP_HOST_MAX + 8);
	size_t name_len = n;
	const char *colon;

	if (n == 0 || n > HTTP_HOST_MAX + 6)
		return GSLB_EINVAL;
	if (host[0] == '[') {
		/* an IPv6 literal: valid, but never a service name */
		if (!memchr(host, ']', n))
			return GSLB_EINVAL;
		return 1;
	}
	colon = memchr(host, ':', n);
	if (colon) {
		size_t plen = n - (size_t)(colon - host) - 1;
		if (plen == 0 || plen > 5)
			return GSLB_EINVAL;
		for (size_t i = 0; i < plen; i++)
			if (!isdigit((unsigned char)colon[1 + i]))
				return GSLB_EINVAL;
		name_len = (size_t)(colon - host);
	}
	if (name_len && host[name_len - 1] == '.')
		name_len--; /* "www.example.com." is the same name */
	if (name_len == 0 || name_len >= HTTP_HOST_MAX)
		return GSLB_EINVAL;
	for (size_t i = 0; i < name_len; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_') {
			text[0] = '\0'; /* nothing half-copied for the access log */
			return GSLB_EINVAL;
		}
		text[i] = (char)tolower(ch);
	}
	text[name_len] = '\0';
	*len = dname_from_str(text, lname);
	if (*len == 0) {
		text[0] = '\0';
		return GSLB_EINVAL; /* empty label, label over 63, name over 255 */
	}
	return 0;
}

/* ------------------------------------------------------------ Location */

/* Bytes that may not stand raw in a Location: controls, space, non-ASCII,
 * the characters RFC 3986 leaves out of URLs, and '#', which would start
 * a fragment (a request target never carries one, so a '#' in it is data). */
static int must_escape(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 1;
	switch (c) {
	case '"':
	case '<':
	case '>':
	case '\\':
	case '^':
	case '`':
	case '{':
	case '|':
	case '}':
	case '#':
		return 1;
	default:
		return 0;
	}
}

void http_put_escaped(struct wbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n;) {
		size_t run = i;
		while (run < n && !must_escape((uint8_t)s[run]))
			run++;
		if (run > i) {
			/* a run of bytes that need no escape, copied at once */
			wbuf_put(b, s + i, run - i);
			i = run;
			continue;
		}
		uint8_t c = (uint8_t)s[i++];
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };
		wbuf_put(b, e, 3);
	}
}

/* The region's target: its own redirect, else the service template with
 * every "{region}" replaced by the region's name. A request that came over
 * https is never sent to http: the scheme becomes https (same host, same
 * port). Bytes a URL may not carry are escaped even here, so the header
 * stays well formed whatever the config holds. */
static void put_target(struct wbuf *b, const struct service *svc, const struct region *rg,
		       int is_https)
{
	const char *t = rg->redirect ? rg->redirect : svc->redirect_target;
	size_t n = strlen(t), i = 0;

	if (is_https && n >= 7 && strncasecmp(t, "http://", 7) == 0) {
		wbuf_put(b, "https://", 8);
		i = 7;
	}
	while (i < n) {
		const char *mark = rg->redirect ? NULL : strstr(t + i, "{region}");
		size_t lit = mark ? (size_t)(mark - (t + i)) : n - i;
		http_put_escaped(b, t + i, lit);
		i += lit;
		if (mark) {
			http_put_escaped(b, rg->name, strlen(rg->name));
			i += 8;
		}
	}
}

/* target + path [+ '?' query] into out->location; 0 or GSLB_ERANGE. */
static int build_location(struct http_answer *out, const struct service *svc,
			  const struct region *rg, const struct http_request_info *req)
{
	struct wbuf b;
	const char *path = req->path;

	wbuf_init(&b, (uint8_t *)out->location, sizeof(out->location) - 1);
	put_target(&b, svc, rg, req->is_https);
	/* "https://eu.example.com/" + "/a" is ".../a", not "...//a" */
	if (!b.err && b.pos > 0 && out->location[b.pos - 1] == '/' && path[0] == '/')
		b.pos--;
	http_put_escaped(&b, path, strlen(path));
	if (req->query) {
		wbuf_u8(&b, '?');
		http_put_escaped(&b, req->query, strlen(req->query));
	}
	if (b.err) {
		out->location[0] = '\0';
		return GSLB_ERANGE;
	}
	out->location[b.pos] = '\0';
	return GSLB_OK;
}

/* Does the raw query have a parameter named explain ("explain",
 * "explain=1", "a=b&explain")? */
static int query_has_explain(const char *q)
{
	size_t n = strlen(q), start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || q[i] == '&' || q[i] == ';') {
			size_t len = i - start;
			const char *eq = memchr(q + start, '=', len);
			if (eq)
				len = (size_t)(eq - (q + start));
			if (len == 7 && memcmp(q + start, "explain", 7) == 0)
				return 1;
			start = i + 1;
		}
	}
	return 0;
}

static int is_get_or_head(const char *m)
{
	return m && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0);
}

const char *http_answer_client(struct http_answer *a)
{
	if (!a->client[0] && a->client_family &&
	    !inet_ntop(a->client_family, a->client_addr, a->client, sizeof(a->client)))
		a->client[0] = '\0';
	return a->client;
}

int http_answer(const struct snapshot *snap, const struct http_request_info *req,
		struct http_answer *out)
{
	const struct conf *c = snap->conf;
	uint8_t lname[DNAME_MAXLEN], addr[16];
	size_t len = 0;
	int family, rc;

	out->status = 400;
	out->slot = -1;
	out->location[0] = '\0';
	out->max_age = 0;
	out->retry_after = 0;
	out->region = NULL;
	out->explain = 0;
	out->vary = 0;
	out->client[0] = '\0';
	out->client_family = 0;
	out->host[0] = '\0';

	family = client_address(c, req, addr, &out->vary);
	if (family) {
		out->client_family = family;
		memcpy(out->client_addr, addr, family == AF_INET ? 4 : 16);
	}
	if (!family || !req->path || req->path[0] != '/' || !req->method)
		return GSLB_EINVAL;
	if (!req->host)
		return GSLB_EINVAL; /* HTTP/1.0 without Host: no name to go by */
	if (req->repeated_host)
		return GSLB_EINVAL; /* which one would it be? (RFC 9112 3.2) */
	rc = parse_host(req->host, lname, &len, out->host);
	if (rc < 0)
		return rc;
	const struct service *svc = rc == 0 ? decide_find_service(snap, lname, len) : NULL;
	if (!svc || !svc->redirect_target) {
		out->status = 404;
		return GSLB_OK;
	}
	if (!is_get_or_head(req->method) && !svc->redirect_all_methods) {
		out->status = 405;
		return GSLB_OK;
	}
	if (req->query && query_has_explain(req->query) && explain_allowed(c, family, addr)) {
		out->status = 200;
		out->explain = 1;
		return GSLB_OK;
	}

	struct decision d;
	decide(snap, svc, family, addr, family == AF_INET ? 32 : 128, &d);
	int region = d.redirect_region;
	if (region < 0) {
		/* nodata or servfail for every pool down, or no region at all */
		out->status = 503;
		out->retry_after = svc->ttl_min ? svc->ttl_min : HTTP_RETRY_DEFAULT;
		return GSLB_OK;
	}
	const struct region *rg = &c->regions[region];
	out->region = rg->name;
	out->max_age = d.ttl;
	if (build_location(out, svc, rg, req)) {
		out->status = HTTP_URI_TOO_LONG;
		return GSLB_OK;
	}
	out->status = svc->redirect_status ? svc->redirect_status : 302;
	if (svc->pool_of_region[region] >= 0)
		out->slot = svc->pools[svc->pool_of_region[region]].metric_slot;
	return GSLB_OK;
}
