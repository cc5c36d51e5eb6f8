/* The admin listener: a small HTTP API on listen.admin, served by
 * libmicrohttpd from its own polling thread. Read-only views (/healthz,
 * /status, /explain) read the published snapshot under RCU exactly like the
 * DNS workers; control requests (/override, /reload) change state through
 * the prober and the server's reload hook. Every request needs an allowed
 * Host (against DNS rebinding); control requests need X-Gslb-Admin or the
 * bearer token, are refused cross-site, and need the token from peers that
 * are not on loopback (admin_require_token: every request). Requests are
 * routed through one table, an endpoint per line. */
#include "gslb/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <urcu/urcu-memb.h>

#include "config.h"
#include "gslb/config.h"
#include "gslb/err.h"
#include "gslb/explain.h"
#include "gslb/fdlimit.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/net.h"
#include "gslb/probe.h"
#include "gslb/snapshot.h"
#include "gslb/web.h"
#include "gslb/whatif.h"
#include "gslb/xfr.h"

/* libmicrohttpd 0.9.71 turned the callbacks' int into enum MHD_Result. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result admin_mhd_result;
#else
typedef int admin_mhd_result;
#endif

/* Limits of the listener: an operator tool, not a public service
 * (ADMIN_CONNECTION_LIMIT in admin.h: the descriptor budget counts it). */
#define ADMIN_PER_IP_LIMIT 16u
#define ADMIN_TIMEOUT_SECONDS 10u
#define ADMIN_MEMORY_LIMIT (64u * 1024u) /* per connection: headers and URL */
/* No endpoint reads a body (arguments travel in the query string); a client
 * that sends a large one anyway is cut off instead of being read forever. */
#define ADMIN_MAX_BODY (16u * 1024u)
#define ADMIN_ERRLEN 1024
/* By number: libmicrohttpd renamed these macros between versions. */
#define ADMIN_HTTP_TOO_LARGE 413u
#define ADMIN_HTTP_UNPROCESSABLE 422u
#define ADMIN_HTTP_MISDIRECTED 421u
/* What control requests carry instead of the token: a header a web page
 * cannot add to a cross-site request without a preflight we never allow. */
#define ADMIN_CONTROL_HEADER "X-Gslb-Admin"

struct admin {
	struct MHD_Daemon *daemon;
	struct admin_hooks hooks;
	pthread_mutex_t token_mu; /* a reload may replace the token */
	char *token;              /* our copy of hooks.token */
	int require_token;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	int ipv6;
	int fd;        /* bound and listening, until admin_serve hands it over */
	int listen_fd; /* libmicrohttpd's listening socket (atomic), -1 until served */
};

/* Per-request state, from the first call of the access handler to the
 * completion notice. */
struct admin_req {
	size_t body_len;
};

/* What a handler produces; admin_send() turns it into the response. */
struct admin_reply {
	unsigned status;
	const char *content_type;
	char *body; /* malloc'd, owned by the reply */
	size_t len;
	const char *allow;             /* Allow header for 405, else NULL */
	int want_token;                /* 401: WWW-Authenticate: Bearer */
	const struct web_asset *asset; /* the status page's: body, type, ETag */
};

typedef void (*admin_handler)(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r);

enum admin_access {
	ADMIN_OPEN,    /* anyone who can reach the listener (liveness) */
	ADMIN_READ,    /* the same, or the token with admin_require_token */
	ADMIN_CONTROL, /* changes state: trusted peers only, never from a browser */
};

struct admin_route {
	const char *path;
	const char *method; /* "GET" also answers HEAD */
	enum admin_access access;
	admin_handler fn;
};

/* ------------------------------------------------------------ replies */

static void reply_text(struct admin_reply *r, unsigned status, const char *type, const char *text)
{
	r->status = status;
	r->content_type = type;
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
	if (!r->body)
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Takes the reference on j. */
static void reply_json(struct admin_reply *r, unsigned status, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	if (!txt) {
		reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
			   "{\"error\":\"out of memory\"}\n");
		return;
	}
	size_t n = strlen(txt);
	/* A trailing newline keeps curl and shell output tidy. */
	char *body = realloc(txt, n + 2);
	if (!body) {
		free(txt);
		reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
			   "{\"error\":\"out of memory\"}\n");
		return;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	r->status = status;
	r->content_type = "application/json";
	r->body = body;
	r->len = n + 1;
}

static void reply_error(struct admin_reply *r, unsigned status, const char *msg)
{
	reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* The status page: no script but its own file (no inline script, no
 * eval), data from this listener only, never in a frame. */
#define ADMIN_PAGE_CSP                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static admin_mhd_result admin_send_asset(struct MHD_Connection *conn, struct admin_reply *r)
{
	const struct web_asset *w = r->asset;
	const char *inm =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	int fresh = inm && strstr(inm, w->etag) != NULL;
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		fresh ? 0 : w->len, (void *)w->data, MHD_RESPMEM_PERSISTENT);
	admin_mhd_result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, w->type);
	/* Built into the binary: revalidated by ETag, new with each build. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, w->etag);
	MHD_add_response_header(resp, "Content-Security-Policy", ADMIN_PAGE_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	ret = MHD_queue_response(conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static admin_mhd_result admin_send(struct MHD_Connection *conn, struct admin_reply *r)
{
	struct MHD_Response *resp;
	admin_mhd_result ret;

	if (r->asset)
		return admin_send_asset(conn, r);
	resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->body);
		r->body = NULL;
		return MHD_NO;
	}
	r->body = NULL; /* the response owns it now */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	/* State changes from second to second: never serve it from a cache. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->want_token)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"gslbd\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ------------------------------------------------------------ access */

int admin_peer_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		/* An IPv4 loopback peer on a dual-stack socket. */
		return memcmp(b, mapped, sizeof(mapped)) == 0 && b[12] == 127;
	}
	return 0;
}

/* ":PORT" or nothing after the host part of a Host header. */
static int host_port_ok(const char *s)
{
	unsigned long v = 0;
	size_t n = 0;

	if (*s == '\0')
		return 1;
	if (*s++ != ':')
		return 0;
	for (; *s >= '0' && *s <= '9' && n < 6; s++, n++)
		v = v * 10 + (unsigned long)(*s - '0');
	return *s == '\0' && n >= 1 && n <= 5 && v <= 65535;
}

int admin_host_allowed(const char *host, char *const *names, size_t nnames)
{
	char buf[256];
	const char *end;
	size_t len;

	if (!host)
		return 0;
	if (host[0] == '[') {
		struct in6_addr a6;
		end = strchr(host, ']');
		len = end ? (size_t)(end - host - 1) : 0;
		if (!end || len == 0 || len >= sizeof(buf))
			return 0;
		memcpy(buf, host + 1, len);
		buf[len] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 && host_port_ok(end + 1);
	}
	end = strchr(host, ':');
	len = end ? (size_t)(end - host) : strlen(host);
	if (len == 0 || len >= sizeof(buf) || !host_port_ok(host + len))
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return 1;
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (strcasecmp(buf, "localhost") == 0)
		return 1;
	for (size_t i = 0; i < nnames; i++)
		if (strcasecmp(buf, names[i]) == 0)
			return 1;
	return 0;
}

/* Compares in time that depends on the length only, not on where the first
 * difference is, so the token cannot be guessed byte by byte. */
static int token_equal(const char *given, const char *want)
{
	size_t gl = strlen(given), wl = strlen(want);
	unsigned char diff = (unsigned char)(gl != wl);
	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
	return diff == 0;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Why a request is refused: the status, the answer's text and the log's. */
struct admin_refusal {
	unsigned status;
	const char *msg;
	const char *reason;
};

/* Set by a browser on any request a page makes to another site (Origin on
 * every POST, Sec-Fetch-Site on everything in current browsers); never by
 * gslbctl, curl or a monitoring system. */
static int from_a_browser_page(struct MHD_Connection *conn)
{
	const char *sfs = header(conn, "Sec-Fetch-Site");

	if (header(conn, "Origin"))
		return 1;
	return sfs && (strcasecmp(sfs, "cross-site") == 0 || strcasecmp(sfs, "same-site") == 0);
}

/* The status page served by this listener (Origin http://<Host>, not
 * cross-site): its control buttons send the bearer token, which no other
 * page can (a custom Authorization needs a preflight we never allow). */
static int from_our_page(struct MHD_Connection *conn)
{
	const char *origin = header(conn, "Origin"), *host = header(conn, MHD_HTTP_HEADER_HOST);
	const char *sfs = header(conn, "Sec-Fetch-Site");

	if (!origin || !host || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host))
		return 0;
	return !sfs || strcasecmp(sfs, "same-origin") == 0;
}

/* The one place that decides who may do what. A browser on the operator's
 * machine is the adversary here: a page it shows may send simple requests
 * (no preflight) to the listener, and a page whose name was rebound to
 * 127.0.0.1 may even read the answers; the Host check (admin_access) stops
 * the latter, and control requests need what such a page cannot send: a
 * custom header or the bearer token, and no Origin. Returns 0 when
 * allowed. */
static int admin_authorize(struct admin *a, struct MHD_Connection *conn, enum admin_access access,
			   struct admin_refusal *no)
{
	const union MHD_ConnectionInfo *ci;
	const char *auth = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *mark = header(conn, ADMIN_CONTROL_HEADER);
	int have_token, token_ok, require;

	if (access == ADMIN_OPEN)
		return 0;
	pthread_mutex_lock(&a->token_mu);
	have_token = a->token != NULL;
	require = a->require_token;
	token_ok = have_token && auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
		   token_equal(auth + 7, a->token);
	pthread_mutex_unlock(&a->token_mu);

	*no = (struct admin_refusal){ MHD_HTTP_UNAUTHORIZED,
				      "this listener needs Authorization: Bearer <token> "
				      "(admin_require_token)",
				      "no valid bearer token" };
	if (access == ADMIN_READ)
		return require && !token_ok;
	if (from_a_browser_page(conn) && !(token_ok && from_our_page(conn))) {
		if (from_our_page(conn) && have_token && auth) {
			/* our own page with a token that is not the one: say so
			 * (refused all the same) rather than "cross-site" */
			no->msg = "wrong bearer token";
			return 1;
		}
		*no = (struct admin_refusal){ MHD_HTTP_FORBIDDEN,
					      "cross-site request refused: control requests "
					      "must not carry Origin or Sec-Fetch-Site: "
					      "cross-site (use gslbctl or curl)",
					      "cross-site" };
		return 1;
	}
	if (token_ok)
		return 0;
	if (have_token && auth) {
		no->msg = "wrong bearer token";
		return 1;
	}
	if (require)
		return 1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !admin_peer_is_loopback(ci->client_addr)) {
		no->msg = have_token ? "control requests need loopback or "
				       "Authorization: Bearer <token>" :
				       "control requests are accepted from loopback only";
		no->status = have_token ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_FORBIDDEN;
		no->reason = have_token ? "no valid bearer token" : "not loopback";
		return 1;
	}
	if (mark && strcmp(mark, "1") == 0)
		return 0;
	*no = (struct admin_refusal){ MHD_HTTP_FORBIDDEN,
				      "control requests need the header " ADMIN_CONTROL_HEADER
				      ": 1 (gslbctl sends it) or Authorization: Bearer <token>",
				      "no " ADMIN_CONTROL_HEADER " header" };
	return 1;
}

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	const void *ip = NULL;

	snprintf(buf, len, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		ip = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (ip && !inet_ntop(sa->sa_family, ip, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static const char *arg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* ------------------------------------------------------------ RCU */

/* liburcu's memb flavour requires readers to unregister before their
 * thread exits, and libmicrohttpd offers no hook at the end of its polling
 * thread. Admin requests are rare, so the thread registers around each
 * snapshot read instead of once for its life. */
static const struct snapshot *admin_read_begin(const struct admin *a)
{
	urcu_memb_register_thread();
	urcu_memb_read_lock();
	return a->hooks.snap ? rcu_dereference(*a->hooks.snap) : NULL;
}

static void admin_read_end(void)
{
	urcu_memb_read_unlock();
	urcu_memb_unregister_thread();
}

/* ------------------------------------------------------------ /status */

static json_t *json_since(int64_t t) { return t > 0 ? json_integer((json_int_t)t) : json_null(); }

static json_t *min_up_json(double min_up)
{
	/* A count is written as an integer, a fraction as a number. */
	if (min_up >= 1.0)
		return json_integer((json_int_t)min_up);
	return json_real(min_up);
}

static json_t *member_json(const struct pool *p, const struct hmember *hm)
{
	char txt[INET6_ADDRSTRLEN];
	const struct member *m = hm->member < p->nmembers ? &p->members[hm->member] : NULL;

	/* no address: a CNAME pool's target asked with a dns check */
	if (!hm->family || !inet_ntop(hm->family, hm->addr, txt, sizeof(txt)))
		txt[0] = '\0';
	/* latency: seconds the latest probe took, to the millisecond */
	return json_pack(
		"{s:s?, s:s?, s:I, s:s, s:s, s:b, s:b, s:s, s:o, s:i, s:i, s:o}", "address",
		txt[0] ? txt : NULL, "member", m ? m->text : NULL, "weight", (json_int_t)hm->weight,
		"state", health_state_name((enum health_state)hm->state), "admin",
		override_state_name((enum override_state)hm->admin), "usable", hm->usable,
		"failing", hm->failing, "reason", hm->reason, "since", json_since(hm->since),
		"fails", (int)hm->fails, "oks", (int)hm->oks, "latency",
		hm->has_latency ? json_real(round(hm->latency * 1e3) / 1e3) : json_null());
}

/* Without a health view (no prober yet) the members are listed as
 * configured, with no state. */
static json_t *member_conf_json(const struct member *m)
{
	char txt[INET6_ADDRSTRLEN];
	const char *addr = NULL;

	if (m->family && inet_ntop(m->family, m->addr, txt, sizeof(txt)))
		addr = txt;
	return json_pack("{s:s?, s:s, s:I, s:n, s:s, s:n, s:n, s:s, s:n, s:n}", "address", addr,
			 "member", m->text, "weight", (json_int_t)m->weight, "state", "admin",
			 "none", "usable", "failing", "reason", "", "since", "latency");
}

static json_t *pool_json(const struct snapshot *snap, const struct pool *p, const struct health *h)
{
	const struct hpool *hp = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
	json_t *members = json_array();
	json_t *o;

	if (hp) {
		for (size_t i = 0; i < hp->nmembers; i++) {
			json_t *mj = member_json(p, &hp->members[i]);
			if (mj && p->load.kind != LOAD_NONE)
				json_object_set_new(mj, "load",
						    hp->members[i].has_load ?
							    json_real(hp->members[i].load) :
							    json_null());
			json_array_append_new(members, mj);
		}
	} else {
		for (size_t i = 0; i < p->nmembers; i++)
			json_array_append_new(members, member_conf_json(&p->members[i]));
	}
	o = json_pack("{s:s, s:s?, s:o}", "region", snap->conf->regions[p->region].name, "check",
		      p->check, "min_up", min_up_json(p->min_up));
	if (!o) {
		json_decref(members);
		return NULL;
	}
	if (p->cname_len) {
		char cn[DNAME_MAXLEN * 4 + 1];
		dname_to_str(p->cname, cn, sizeof(cn));
		json_object_set_new(o, "cname", json_string(cn));
	}
	if (hp) {
		json_object_set_new(o, "up", json_boolean(hp->up));
		json_object_set_new(o, "failing", json_boolean(hp->failing));
		json_object_set_new(o, "admin", json_string(override_state_name(hp->admin)));
		json_object_set_new(o, "usable4", json_integer(hp->usable4));
		json_object_set_new(o, "usable6", json_integer(hp->usable6));
		json_object_set_new(o, "reason", json_string(hp->reason));
		json_object_set_new(o, "since", json_since(hp->since));
		json_object_set_new(o, "state",
				    json_string(!hp->up  ? "down" :
						hp->full ? "full" :
							   "up"));
		if (p->load.kind != LOAD_NONE) {
			json_object_set_new(o, "load",
					    hp->load >= 0 ? json_real(hp->load) : json_null());
			json_object_set_new(o, "shed_share", json_real(hp->shed));
			json_object_set_new(o, "load_low", json_real(p->load.low));
			json_object_set_new(o, "load_high", json_real(p->load.high));
		}
	} else {
		json_object_set_new(o, "up", json_null());
		json_object_set_new(o, "failing", json_null());
		json_object_set_new(o, "admin", json_string("none"));
		json_object_set_new(o, "reason", json_string(""));
		json_object_set_new(o, "since", json_null());
	}
	json_object_set_new(o, "members", members);
	return o;
}

/* The override entry whose target is "region:NAME", if any: a region has
 * no health record of its own, so its admin state comes from the table. */
static const char *region_admin(const json_t *overrides, const char *name)
{
	size_t i;
	const json_t *ov;

	json_array_foreach(overrides, i, ov)
	{
		const char *t = json_string_value(json_object_get(ov, "target"));
		const char *s = json_string_value(json_object_get(ov, "state"));
		if (!s)
			s = json_string_value(json_object_get(ov, "admin"));
		if (!s)
			s = json_string_value(json_object_get(ov, "action"));
		if (json_is_false(json_object_get(ov, "active")))
			continue; /* scheduled, not started */
		if (t && s && strncmp(t, "region:", 7) == 0 && strcmp(t + 7, name) == 0)
			return s;
	}
	return "none";
}

static json_t *geoip_json(const struct snapshot *snap)
{
	if (!snap->geo)
		return json_null();
	return json_pack("{s:s, s:s, s:I, s:i}", "path", geo_db_path(snap->geo), "type",
			 geo_db_type(snap->geo), "build_epoch",
			 (json_int_t)geo_db_build_epoch(snap->geo), "ip_version",
			 (int)geo_db_ip_version(snap->geo));
}

static json_t *overrides_json(const struct admin *a)
{
	json_t *j = NULL;

	if (a->hooks.prober) {
		char *txt = prober_admin_json(a->hooks.prober);
		if (txt)
			j = json_loads(txt, 0, NULL);
		free(txt);
	}
	if (!json_is_array(j)) {
		json_decref(j);
		j = json_array();
	}
	return j;
}

static json_t *status_json(const struct admin *a, const struct snapshot *snap, json_t *overrides)
{
	const struct conf *c = snap->conf;
	const struct health *h = rcu_dereference(snap->health);
	json_t *o = json_object();
	json_t *zones = json_array(), *regions = json_array(), *services = json_array();

	(void)a;
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "generation", json_integer((json_int_t)snap->generation));
	json_object_set_new(o, "health_version",
			    h ? json_integer((json_int_t)h->version) : json_null());
	for (size_t i = 0; i < snap->zones->nzones; i++) {
		const struct zone *z = snap->zones->zones[i];
		json_array_append_new(zones, json_pack("{s:s, s:s, s:I, s:I}", "origin",
						       z->origin_str, "file", z->file, "serial",
						       (json_int_t)xfr_zone_serial(z), "records",
						       (json_int_t)z->nrecords));
	}
	json_object_set_new(o, "zones", zones);
	json_object_set_new(o, "geoip", geoip_json(snap));
	for (size_t i = 0; i < c->nregions; i++) {
		const struct region *rg = &c->regions[i];
		json_array_append_new(regions,
				      json_pack("{s:s, s:f, s:f, s:f, s:s}", "name", rg->name,
						"lat", rg->lat, "lon", rg->lon, "bias", rg->bias,
						"admin", region_admin(overrides, rg->name)));
	}
	json_object_set_new(o, "regions", regions);
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		json_t *pools = json_array();
		for (size_t k = 0; k < svc->npools; k++)
			json_array_append_new(pools, pool_json(snap, &svc->pools[k], h));
		json_array_append_new(
			services,
			json_pack("{s:s, s:I, s:s, s:s, s:o}", "name", svc->name, "ttl",
				  (json_int_t)svc->ttl, "when_all_down",
				  all_down_name(svc->when_all_down), "members_pick",
				  svc->members_pick == PICK_STICKY ? "sticky" : "weighted", "pools",
				  pools));
	}
	json_object_set_new(o, "services", services);
	json_object_set_new(o, "overrides", json_incref(overrides));
	return o;
}

/* ------------------------------------------------------------ handlers */

static void h_healthz(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	(void)a;
	(void)conn;
	reply_text(r, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
}

static void h_status(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	/* Taken before the read section: the prober's lock is not held
	 * inside an RCU read-side section. */
	json_t *overrides = overrides_json(a);
	char *cl = a->hooks.prober ? prober_cluster_json(a->hooks.prober) : NULL;
	char *ev = a->hooks.prober ? prober_events_json(a->hooks.prober) : NULL;
	json_t *j;

	(void)conn;
	const struct snapshot *snap = admin_read_begin(a);
	j = snap ? status_json(a, snap, overrides) : NULL;
	admin_read_end();
	json_decref(overrides);
	if (j && cl)
		json_object_set_new(j, "cluster", json_loads(cl, 0, NULL));
	if (j && ev)
		json_object_set_new(j, "events", json_loads(ev, 0, NULL));
	free(cl);
	free(ev);
	if (!j) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no configuration loaded");
		return;
	}
	reply_json(r, MHD_HTTP_OK, j);
}

static void h_explain(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	const char *address = arg(conn, "address"), *name = arg(conn, "name");
	char err[ADMIN_ERRLEN] = "";
	json_t *j = NULL;
	int rc;

	if (!address || !*address || !name || !*name) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "explain needs address and name: /explain?address=A&name=N");
		return;
	}
	const struct snapshot *snap = admin_read_begin(a);
	rc = snap ? explain_json(snap, address, name, &j, err, sizeof(err)) : GSLB_ENOENT;
	admin_read_end();
	if (rc) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, err[0] ? err : gslb_strerror(rc));
		return;
	}
	reply_json(r, MHD_HTTP_OK, j);
}

/* GET /ds?zone=Z: the DS records of the zone's keys, as gslbd --ds prints
 * them, from the loaded config (gslbctl ds). */
static void h_ds(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	const char *zone = arg(conn, "zone");
	char err[ADMIN_ERRLEN] = "";
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!zone || !*zone) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "ds needs a zone: /ds?zone=Z");
		return;
	}
	FILE *out = open_memstream(&text, &len);
	if (!out) {
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	const struct snapshot *snap = admin_read_begin(a);
	rc = snap ? conf_dnssec_ds(snap->conf, zone, out, err, sizeof(err)) : GSLB_ENOENT;
	admin_read_end();
	if (fclose(out) && !rc)
		rc = GSLB_ENOMEM;
	if (rc)
		reply_error(r,
			    rc == GSLB_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_NOT_FOUND,
			    err[0] ? err : gslb_strerror(rc));
	else
		reply_text(r, MHD_HTTP_OK, "text/plain; charset=utf-8", text ? text : "");
	free(text);
}

/* The canonical spelling of target (lower-case service name), for the
 * reply; the target as given when it no longer parses (a clear of
 * something a reload removed). */
static void canonical_target(const struct admin *a, const char *target, char *out, size_t len)
{
	struct override ov;
	char err[ADMIN_ERRLEN];
	int rc;

	const struct snapshot *snap = admin_read_begin(a);
	rc = snap ? health_parse_target(snap, target, &ov, err, sizeof(err)) : GSLB_ENOENT;
	admin_read_end();
	snprintf(out, len, "%s", rc ? target : ov.target);
}

/* A unix time argument: absent or "" is 0; else digits only. */
static int time_arg(struct MHD_Connection *conn, const char *name, int64_t *out)
{
	const char *v = arg(conn, name);
	char *end;

	*out = 0;
	if (!v || !*v)
		return GSLB_OK;
	if (*v < '0' || *v > '9')
		return GSLB_EINVAL;
	errno = 0;
	long long t = strtoll(v, &end, 10);
	if (errno || *end || t < 0)
		return GSLB_EINVAL;
	*out = (int64_t)t;
	return GSLB_OK;
}

static void h_override(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	const char *action = arg(conn, "action"), *target = arg(conn, "target");
	char err[ADMIN_ERRLEN] = "";
	char canon[sizeof(((struct override *)0)->target)];
	int64_t start, end;
	uint8_t state;
	int rc;

	if (!action || !*action || !target || !*target) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "override needs action and target: "
			    "/override?action=drain|undrain|force-up|force-down|clear&target=T");
		return;
	}
	if (admin_action_parse(action, &state)) {
		snprintf(err, sizeof(err),
			 "unknown action \"%s\": drain, undrain, force-up, force-down or clear",
			 action);
		reply_error(r, MHD_HTTP_BAD_REQUEST, err);
		return;
	}
	if (time_arg(conn, "start", &start) || time_arg(conn, "end", &end)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "start and end are unix times in seconds");
		return;
	}
	if (!a->hooks.prober) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "no prober running: overrides are unavailable");
		return;
	}
	rc = prober_admin(a->hooks.prober, target, action, start, end, err, sizeof(err));
	if (rc) {
		/* GSLB_EIO: a cluster's etcd cannot be written (try again). */
		unsigned status = (rc == GSLB_EINVAL || rc == GSLB_ENOENT) ? MHD_HTTP_BAD_REQUEST :
				  rc == GSLB_EIO ? MHD_HTTP_SERVICE_UNAVAILABLE :
						   MHD_HTTP_INTERNAL_SERVER_ERROR;
		log_warn("admin override refused action=%s target=\"%s\" reason=\"%s\"", action,
			 target, err[0] ? err : gslb_strerror(rc));
		reply_error(r, status, err[0] ? err : gslb_strerror(rc));
		return;
	}
	/* The prober logs the change itself: one line per event. */
	canonical_target(a, target, canon, sizeof(canon));
	json_t *j = json_pack("{s:b, s:s, s:s}", "ok", 1, "target", canon, "action", action);
	/* the times of a scheduled override, when it has them */
	if (j && (start || end)) {
		json_object_set_new(j, "start", json_integer((json_int_t)start));
		json_object_set_new(j, "end", json_integer((json_int_t)end));
	}
	reply_json(r, MHD_HTTP_OK, j);
}

static void h_reload(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	char err[ADMIN_ERRLEN] = "";
	int rc;

	(void)conn;
	if (!a->hooks.reload) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "reload is not available here");
		return;
	}
	/* Blocks this listener until the reload is done: the caller wants
	 * its result, and other admin requests can wait that long. */
	rc = a->hooks.reload(a->hooks.ctx, err, sizeof(err));
	if (rc) {
		/* A config that does not validate, a file it names that cannot
		 * be read, an address that cannot be bound: the operator's to
		 * fix. Out of memory or no result in time: ours. */
		unsigned status = (rc == GSLB_ENOMEM || rc == GSLB_ERANGE) ?
					  MHD_HTTP_INTERNAL_SERVER_ERROR :
					  ADMIN_HTTP_UNPROCESSABLE;
		reply_error(r, status, err[0] ? err : gslb_strerror(rc));
		return;
	}
	reply_json(r, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1));
}

static void h_metrics(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	(void)conn;
	if (!a->hooks.metrics) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no metrics here");
		return;
	}
	const struct snapshot *snap = admin_read_begin(a);
	char *text = metrics_render(a->hooks.metrics, snap);
	admin_read_end();
	if (!text) {
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	r->status = MHD_HTTP_OK;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = text;
	r->len = strlen(text);
}

/* Every change= argument, in order: a what-if may list several. */
struct whatif_args {
	const char *v[WHATIF_MAX_CHANGES];
	size_t n;
	int too_many;
};

static admin_mhd_result collect_change(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct whatif_args *w = cls;

	(void)kind;
	if (!key || strcmp(key, "change") != 0 || !value)
		return MHD_YES;
	if (w->n == WHATIF_MAX_CHANGES) {
		w->too_many = 1;
		return MHD_NO;
	}
	w->v[w->n++] = value;
	return MHD_YES;
}

static void h_whatif(struct admin *a, struct MHD_Connection *conn, struct admin_reply *r)
{
	struct whatif_args w = { .n = 0 };
	struct override_table adm = { 0 };
	char err[ADMIN_ERRLEN] = "";
	json_t *overrides, *j = NULL;
	int rc;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_change, &w);
	if (w.too_many) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "too many change arguments");
		return;
	}
	/* Taken before the read section, as for /status: the changes are
	 * applied on top of the overrides in force. */
	overrides = overrides_json(a);
	rc = whatif_admin_from_json(overrides, &adm);
	json_decref(overrides);
	if (rc) {
		override_table_free(&adm);
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, gslb_strerror(rc));
		return;
	}
	/* The walk of the database runs inside the read section (about a
	 * second for GeoLite2-City): a reload waits that long at most to free
	 * the old snapshot, and no lock is held. */
	const struct snapshot *snap = admin_read_begin(a);
	rc = snap ? whatif_json(snap, rcu_dereference(snap->health), &adm, w.v, w.n, &j, err,
				sizeof(err)) :
		    GSLB_ENOENT;
	admin_read_end();
	override_table_free(&adm);
	if (rc) {
		unsigned status = (rc == GSLB_EINVAL || rc == GSLB_ENOENT) ?
					  MHD_HTTP_BAD_REQUEST :
					  MHD_HTTP_INTERNAL_SERVER_ERROR;
		reply_error(r, status, err[0] ? err : gslb_strerror(rc));
		return;
	}
	reply_json(r, MHD_HTTP_OK, j);
}

static const struct admin_route admin_routes[] = {
	{ "/metrics", "GET", ADMIN_READ, h_metrics },
	{ "/healthz", "GET", ADMIN_OPEN, h_healthz },
	{ "/status", "GET", ADMIN_READ, h_status },
	{ "/explain", "GET", ADMIN_READ, h_explain },
	{ "/ds", "GET", ADMIN_READ, h_ds },
	{ "/what-if", "GET", ADMIN_READ, h_whatif },
	{ "/override", "POST", ADMIN_CONTROL, h_override },
	{ "/reload", "POST", ADMIN_CONTROL, h_reload },
};

/* The status page's file at url (web.h), or NULL. */
static const struct web_asset *web_asset_find(const char *url)
{
	for (const struct web_asset *w = web_assets; w->path; w++)
		if (strcmp(url, w->path) == 0)
			return w;
	return NULL;
}

static void refuse(struct admin_reply *r, struct MHD_Connection *conn, const char *url,
		   const struct admin_refusal *no)
{
	char peer[INET6_ADDRSTRLEN];

	peer_text(conn, peer, sizeof(peer));
	log_warn("admin request refused path=%s peer=%s reason=\"%s\"", url, peer, no->reason);
	reply_error(r, no->status, no->msg);
	r->want_token = no->status == MHD_HTTP_UNAUTHORIZED;
}

/* A name that resolves to the listener's address is not enough: a page
 * whose own name was rebound to 127.0.0.1 sends its name as Host. */
static int host_refused(struct admin *a, struct MHD_Connection *conn)
{
	const char *host = header(conn, MHD_HTTP_HEADER_HOST);
	int ok;

	const struct snapshot *snap = admin_read_begin(a);
	ok = admin_host_allowed(host, snap ? snap->conf->admin_hosts : NULL,
				snap ? snap->conf->nadmin_hosts : 0);
	admin_read_end();
	return !ok;
}

static void route(struct admin *a, struct MHD_Connection *conn, const char *url, const char *method,
		  struct admin_reply *r)
{
	const struct admin_route *rt = NULL;
	const struct web_asset *asset = NULL;
	struct admin_refusal no;

	if (host_refused(a, conn)) {
		no = (struct admin_refusal){ ADMIN_HTTP_MISDIRECTED,
					     "Host must be an IP address, localhost or a name "
					     "in admin_hosts",
					     "Host not allowed" };
		refuse(r, conn, url, &no);
		return;
	}
	for (size_t i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++) {
		if (strcmp(url, admin_routes[i].path) == 0) {
			rt = &admin_routes[i];
			break;
		}
	}
	if (!rt) {
		asset = web_asset_find(url);
		if (asset) {
			static const struct admin_route page = { "/", "GET", ADMIN_READ, NULL };
			rt = &page;
		}
	}
	if (!rt) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint");
		return;
	}
	if (strcmp(method, rt->method) != 0 &&
	    !(strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		r->allow = strcmp(rt->method, "GET") == 0 ? "GET, HEAD" : rt->method;
		return;
	}
	if (admin_authorize(a, conn, rt->access, &no)) {
		refuse(r, conn, url, &no);
		return;
	}
	if (rt->fn)
		rt->fn(a, conn, r);
	else
		r->asset = asset;
}

/* ------------------------------------------------------------ MHD glue */

static admin_mhd_result admin_access(void *cls, struct MHD_Connection *conn, const char *url,
				     const char *method, const char *version,
				     const char *upload_data, size_t *upload_data_size,
				     void **con_cls)
{
	struct admin *a = cls;
	struct admin_req *req = *con_cls;
	struct admin_reply r = { 0 };
	admin_mhd_result ret;

	(void)version;
	(void)upload_data;
	if (!req) {
		/* First call: headers only. A body announced too large is
		 * refused now, before it is read; otherwise answer on a later
		 * call, once any body has been read. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > ADMIN_MAX_BODY) {
			reply_error(&r, ADMIN_HTTP_TOO_LARGE, "request body too large");
			return admin_send(conn, &r);
		}
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size) {
		req->body_len += *upload_data_size;
		*upload_data_size = 0;
		/* Chunked and larger than announced: no answer can be queued
		 * in the middle of a body, so the connection is closed. */
		return req->body_len <= ADMIN_MAX_BODY ? MHD_YES : MHD_NO;
	}
	route(a, conn, url, method, &r);
	ret = admin_send(conn, &r);
	return ret;
}

static void admin_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void admin_mhd_log(void *cls, const char *fmt,
								va_list ap)
{
	struct admin *a = cls;
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (strncmp(buf, "Hit process or system resource", 30) == 0) {
		/* Out of descriptors: as the redirect listener does (http.c). */
		if (fdlimit_shed(FDL_ADMIN, __atomic_load_n(&a->listen_fd, __ATOMIC_RELAXED)) < 0)
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
		return;
	}
	if (strncmp(buf, "Error accepting connection", 26) == 0) {
		log_debug("admin listener: %s", buf);
		return;
	}
	log_warn("admin listener: %s", buf);
}

int admin_bind(const struct conf_listen *addr, const struct admin_hooks *hooks, struct admin **out)
{
	struct admin *a;
	uint16_t port = 0;
	const void *ip;

	*out = NULL;
	if (addr->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)(const void *)&addr->addr;
		port = ntohs(in6->sin6_port);
		ip = &in6->sin6_addr;
	} else if (addr->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in =
			(const struct sockaddr_in *)(const void *)&addr->addr;
		port = ntohs(in->sin_port);
		ip = &in->sin_addr;
	} else {
		log_err("admin listener address=%s error=\"not an IPv4 or IPv6 address\"",
			addr->text ? addr->text : "?");
		return GSLB_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return GSLB_ENOMEM;
	a->fd = -1;
	a->listen_fd = -1;
	a->hooks = *hooks;
	a->ipv6 = addr->addr.ss_family == AF_INET6;
	pthread_mutex_init(&a->token_mu, NULL);
	a->require_token = hooks->require_token && hooks->token;
	if (hooks->token) {
		a->token = strdup(hooks->token);
		if (!a->token) {
			admin_stop(a);
			return GSLB_ENOMEM;
		}
	}
	if (!inet_ntop(addr->addr.ss_family, ip, a->host, sizeof(a->host)))
		snprintf(a->host, sizeof(a->host), "?");
	a->fd = net_listen_tcp((const struct sockaddr *)&addr->addr, addr->addr_len);
	if (a->fd < 0) {
		log_err("cannot listen proto=admin address=%s port=%u error=\"%s\"", a->host, port,
			strerror(errno));
		admin_stop(a);
		return GSLB_ESYS;
	}
	a->port = (uint16_t)net_bound_port(a->fd);
	*out = a;
	return GSLB_OK;
}

int admin_serve(struct admin *a)
{
	/* MHD_USE_ITC: admin_retire() needs MHD_quiesce_daemon(). Polling
	 * with epoll or poll, not select(): with the descriptor limit raised,
	 * a connection's descriptor may be past FD_SETSIZE. */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	/* libmicrohttpd closes the socket it is given, even on some failures:
	 * it gets a copy, ours is closed here either way. */
	int fd = dup(a->fd);

	if (a->ipv6)
		flags |= MHD_USE_IPv6;
	if (fd >= 0)
		a->daemon = MHD_start_daemon(
			flags, a->port, NULL, NULL, admin_access, a,
			/* First, or libmicrohttpd prints its early messages itself. */
			MHD_OPTION_EXTERNAL_LOGGER, admin_mhd_log, a, MHD_OPTION_LISTEN_SOCKET,
			(MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, ADMIN_CONNECTION_LIMIT,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, ADMIN_PER_IP_LIMIT,
			MHD_OPTION_CONNECTION_TIMEOUT, ADMIN_TIMEOUT_SECONDS,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADMIN_MEMORY_LIMIT,
			MHD_OPTION_NOTIFY_COMPLETED, admin_completed, a, MHD_OPTION_END);
	close(a->fd);
	a->fd = -1;
	if (!a->daemon) {
		log_err("cannot listen proto=admin address=%s port=%u error=\"%s\"", a->host,
			(unsigned)a->port, "libmicrohttpd could not start (see the message above)");
		return GSLB_ESYS;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_LISTEN_FD);
	__atomic_store_n(&a->listen_fd, di ? di->listen_fd : -1, __ATOMIC_RELAXED);
	log_info("listening proto=admin address=%s port=%u", a->host, (unsigned)a->port);
	return GSLB_OK;
}

int admin_start(const struct conf_listen *addr, const struct admin_hooks *hooks, struct admin **out)
{
	int rc = admin_bind(addr, hooks, out);

	if (rc == GSLB_OK && (rc = admin_serve(*out)) != GSLB_OK) {
		admin_stop(*out);
		*out = NULL;
	}
	return rc;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	/* Joins the polling thread: no request runs after this returns. */
	if (a->daemon)
		MHD_stop_daemon(a->daemon);
	if (a->fd >= 0)
		close(a->fd);
	free(a->token);
	pthread_mutex_destroy(&a->token_mu);
	free(a);
}

void admin_set_token(struct admin *a, const char *token, int require)
{
	if (!a)
		return;
	char *copy = token ? strdup(token) : NULL;
	pthread_mutex_lock(&a->token_mu);
	char *old = a->token;
	a->token = copy;
	a->require_token = require && copy;
	pthread_mutex_unlock(&a->token_mu);
	free(old);
}

void admin_retire(struct admin *a, double max_seconds)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	MHD_socket s;

	if (!a)
		return;
	s = a->daemon ? MHD_quiesce_daemon(a->daemon) : MHD_INVALID_SOCKET;
	for (double waited = 0; waited < max_seconds; waited += 0.01) {
		const union MHD_DaemonInfo *di =
			a->daemon ? MHD_get_daemon_info(a->daemon,
							MHD_DAEMON_INFO_CURRENT_CONNECTIONS) :
				    NULL;
		if (!di || di->num_connections == 0)
			break;
		nanosleep(&tick, NULL);
	}
	log_info("stopped listening proto=admin address=%s port=%u", a->host, (unsigned)a->port);
	admin_stop(a);
	/* Ours to close once the daemon has stopped (libmicrohttpd's rule). */
	if (s != MHD_INVALID_SOCKET)
		close(s);
}
