/* The HTTP(S) redirect listener (issue 5): a request for a service's name
 * is answered with a redirect to the region decide() picks for the client,
 * from the same snapshot and health state as the DNS answers.
 *
 * One libmicrohttpd daemon per listen.http address, each with its own epoll
 * thread. MHD parses HTTP, runs TLS (GnuTLS, certificates chosen by SNI in
 * http_cert_cb), enforces the connection, memory and inactivity limits
 * and answers malformed requests with 400; this file decides, and counts
 * connections per client network (http_accept_policy).
 *
 * The decision itself is http_answer(): a pure function of the snapshot and
 * the request that allocates nothing, so tests and fuzzers call it directly.
 * The request target is taken raw from MHD's URI log callback (MHD splits
 * and unescapes its own copy in place), kept in a per-connection buffer, and
 * copied into the Location byte for byte except for the bytes a URL may not
 * carry raw, which are percent-encoded; nothing is ever decoded.
 *
 * Each daemon thread registers itself once as an RCU reader on its first
 * request and unregisters at thread exit through a pthread key destructor
 * (MHD has no thread-exit hook, and registering per request would contend
 * with synchronize_rcu on liburcu's registry lock). Everything else a
 * daemon's callbacks touch belongs to that daemon's one thread, except the
 * counters: the daemon's metrics shard, read by http_counters() and /metrics
 * from any thread. */
#include "gslb/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <urcu/urcu-memb.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/explain.h"
#include "gslb/fdlimit.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"
#include "gslb/wire.h"

/* libmicrohttpd 0.9.71 turned the callbacks' int into enum MHD_Result. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result http_mhd_result;
#else
typedef int http_mhd_result;
#endif

/* Addresses kept from one X-Forwarded-For or Forwarded value: the right-most
 * ones matter, so a longer list keeps its last HTTP_FWD_MAX entries. */
#define HTTP_FWD_MAX 32
/* A request target up to this long is kept in the connection's own buffer;
 * a longer one gets a heap buffer, reused by the connection's next requests. */
#define HTTP_URI_INLINE 512
/* Certificates in one PEM chain. */
#define HTTP_CHAIN_MAX 16
/* Largest certificate or key file read. */
#define HTTP_PEM_MAX (1024 * 1024)
/* libmicrohttpd's memory pool per connection holds the request head and the
 * parsed header list, then the response head; this much beyond
 * header_limit leaves room for all of that. Heads between header_limit and
 * what the pool holds are refused with 431 by the handler (it knows the
 * exact size), larger ones by libmicrohttpd itself. (libmicrohttpd 0.9.75
 * closes the connection without an answer when a head fills the pool to
 * within the few hundred bytes its header list and 431 would need.) */
#define HTTP_POOL_EXTRA (8u * 1024u)
/* Retry-After when the service has no ttl_min. */
/* By number: libmicrohttpd renamed some of these between versions. */

struct http_daemon;

/* A certificate chain and its key, ready for GnuTLS. */
struct http_cert {
	const char *name; /* SNI name ("*.example.com" allowed), NULL = default */
	gnutls_pcert_st pcert[HTTP_CHAIN_MAX];
	unsigned npcert;
	gnutls_privkey_t key;
};

/* The listener's metric families; each daemon thread counts in its own
 * shard, read by http_counters() and /metrics from any thread. */
enum http_family {
	MH_REDIRECTS,   /* pool slot x status */
	MH_CONNECTIONS, /* */
	MH_REQUESTS,    /* enum http_outcome */
	MH_LIMITS,      /* enum http_limit */
};

enum http_outcome {
	HO_REDIRECT,
	HO_EXPLAIN,
	HO_NOT_FOUND,
	HO_METHOD_NOT_ALLOWED,
	HO_UNAVAILABLE,
	HO_BAD_REQUEST,
	HO_TOO_LARGE,
};

enum http_limit {
	HL_REQUEST_TIMEOUT,
	HL_MAX_CONNECTIONS,
	HL_MAX_PER_IP
};

/* The redirect statuses a service may use (config.c), counted apart. */
#define NREDIRECT_CODES 5
static const unsigned redirect_codes[NREDIRECT_CODES] = { 301, 302, 303, 307, 308 };
static const char *const redirect_statuses[NREDIRECT_CODES] = { "301", "302", "303", "307", "308" };
static const char *const outcomes[] = { "redirect",           "explain",     "not_found",
					"method_not_allowed", "unavailable", "bad_request",
					"too_large" };
static const char *const limits[] = { "request_timeout", "max_connections", "max_per_ip" };

static const struct metric_family http_families[] = {
	[MH_REDIRECTS] = { .name = "gslb_http_redirects_total",
			   .help = "HTTP redirects, by service, region and status.",
			   .type = METRIC_COUNTER,
			   .flags = METRIC_NONZERO,
			   .labels = { { .kind = ML_POOL },
				       METRIC_ENUM("status", redirect_statuses) } },
	[MH_CONNECTIONS] = { .name = "gslb_http_connections_total",
			     .help = "Connections accepted by the redirect listener.",
			     .type = METRIC_COUNTER },
	[MH_REQUESTS] = { .name = "gslb_http_requests_total",
			  .help = "Requests answered by the redirect listener, by outcome.",
			  .type = METRIC_COUNTER,
			  .labels = { METRIC_ENUM("outcome", outcomes) } },
	[MH_LIMITS] = { .name = "gslb_http_limit_hits_total",
			.help = "Times a limit of the redirect listener cut in, by limit.",
			.type = METRIC_COUNTER,
			.labels = { METRIC_ENUM("limit", limits) } },
};

static const struct metric_set http_metric_set = METRIC_SET(http_families);

struct http_daemon {
	struct http_listener *l;
	const struct conf_http_listen *conf;
	struct MHD_Daemon *mhd;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	int https;
	atomic_int running;       /* MHD_start_daemon returned: its messages are per client */
	atomic_int listen_fd;     /* libmicrohttpd's listening socket, -1 until known */
	int fd;                   /* bound and listening, until daemon_start hands it over */
	struct metrics_shard *ms; /* this daemon thread's counters, or NULL */
	struct http_cert *certs;
	size_t ncerts;
	/* Touched by the daemon's one thread only (no thread pool): the
	 * scratch buffers need no lock. */
	unsigned nconn; /* open connections */
	/* Open connections that have a context: walked by the accept
	 * policy (max_per_ip) on this thread, and by the head deadline
	 * sweeper under mu; changed on this thread only, under mu. */
	struct http_conn *conns;
	pthread_mutex_t mu;
	int mu_init;
	char *fwd_xff, *fwd_fwd; /* joined forwarding header values, header_limit + 1 */
	size_t fwd_cap;
	char *body; /* a redirect's HTML */
	size_t body_cap;
	/* Answers that never change, built once (MHD_RESPMEM_PERSISTENT). */
	struct MHD_Response *r400, *r404, *r405, *r414, *r431;
};

struct http_listener {
	const struct conf *conf;
	struct snapshot **snap;
	/* The request head deadline (http_sweep): a thread that cuts off
	 * connections whose head is not complete in time. */
	pthread_t sweeper;
	int sweeper_started;
	pthread_mutex_t sweep_mu;
	pthread_cond_t sweep_cv;
	int sweep_stop;
	pthread_key_t rcu_key; /* set in daemon threads registered with RCU */
	int rcu_key_init;
	struct http_daemon *d;
	size_t nd;
};

enum {
	REQ_NONE = 0,     /* between requests */
	REQ_HEAD = 1,     /* request line read: the head is coming */
	REQ_BODY = 2,     /* head read, waiting for the (empty) body */
	REQ_ANSWERED = 3, /* answer queued */
};

/* Per connection, from MHD's "connection started" notice to "closed". */
struct http_conn {
	struct http_daemon *d;
	struct http_conn *prev, *next; /* the daemon's conns */
	int family;                    /* the peer's address (IPv4-mapped as IPv4) */
	uint8_t addr[16];
	int exempt; /* a trusted proxy: not counted for max_per_ip */
	int fd;     /* its socket, for the sweeper's shutdown() */
	/* CLOCK_MONOTONIC ms by which the head of the next request must be
	 * complete, 0 while none is due (set on the daemon thread, read by
	 * the sweeper); cut: the sweeper cut it off (under d->mu). */
	atomic_int_fast64_t head_deadline;
	int cut;
	double since;      /* connection start, or the end of its last request */
	unsigned requests; /* completed on this connection */
	int in_request;    /* REQ_*: where the current request is */
	int timed_out;     /* counted already */
	char *uri;         /* the raw request target of the current request */
	size_t uri_len;
	char *heap; /* for targets longer than uri_inline */
	size_t heap_cap;
	char uri_inline[HTTP_URI_INLINE];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ RCU */

static void http_rcu_unregister(void *v)
{
	(void)v;
	urcu_memb_unregister_thread();
}

/* Register the calling daemon thread as an RCU reader, once. */
static void http_rcu_ready(struct http_listener *l)
{
	if (pthread_getspecific(l->rcu_key))
		return;
	urcu_memb_register_thread();
	pthread_setspecific(l->rcu_key, l);
}

/* ------------------------------------------------------------ responses */

static const char *status_text(unsigned s)
{
	switch (s) {
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	default:
		return "Redirect";
	}
}

static void put_html(struct wbuf *b, const char *s)
{
	for (; *s; s++) {
		size_t run = strcspn(s, "&<>\"'");
		if (run) {
			wbuf_put(b, s, run);
			s += run - 1;
			continue;
		}
		switch (*s) {
		case '&':
			wbuf_put(b, "&amp;", 5);
			break;
		case '<':
			wbuf_put(b, "&lt;", 4);
			break;
		case '>':
			wbuf_put(b, "&gt;", 4);
			break;
		case '"':
			wbuf_put(b, "&quot;", 6);
			break;
		case '\'':
			wbuf_put(b, "&#39;", 5);
			break;
		default:
			wbuf_u8(b, (uint8_t)*s);
		}
	}
}

/* "private, max-age=N" into buf (at least 32 bytes), without printf. */
static void cache_control(char *buf, size_t len, unsigned max_age)
{
	static const char pre[] = "private, max-age=";
	char digits[12];
	size_t nd = 0;

	do {
		digits[nd++] = (char)('0' + max_age % 10);
		max_age /= 10;
	} while (max_age && nd < sizeof(digits));
	if (len < sizeof(pre) + nd) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, pre, sizeof(pre) - 1);
	for (size_t i = 0; i < nd; i++)
		buf[sizeof(pre) - 1 + i] = digits[nd - 1 - i];
	buf[sizeof(pre) - 1 + nd] = '\0';
}

static size_t redirect_body(struct http_daemon *d, const struct http_answer *a)
{
	struct wbuf b;
	static const char open[] = "<!DOCTYPE html>\n<html><head><title>";
	static const char mid[] = "</title></head><body><a href=\"";
	const char *text = status_text(a->status);
	char code[4] = { (char)('0' + a->status / 100 % 10), (char)('0' + a->status / 10 % 10),
			 (char)('0' + a->status % 10), ' ' };

	wbuf_init(&b, (uint8_t *)d->body, d->body_cap);
	wbuf_put(&b, open, sizeof(open) - 1);
	wbuf_put(&b, code, 4);
	wbuf_put(&b, text, strlen(text));
	wbuf_put(&b, mid, sizeof(mid) - 1);
	put_html(&b, a->location);
	wbuf_put(&b, "\">", 2);
	put_html(&b, a->location);
	wbuf_put(&b, "</a></body></html>\n", 19);
	return b.err ? 0 : b.pos;
}

static struct MHD_Response *fixed_response(const char *text, const char *allow, int close)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	/* after a malformed or oversized request, nothing on the connection
	 * is worth reading */
	if (close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

static int fixed_responses(struct http_daemon *d)
{
	d->r400 = fixed_response("400 Bad Request\n", NULL, 1);
	d->r404 =
		fixed_response("404 Not Found: no redirect is configured for this host\n", NULL, 0);
	d->r405 = fixed_response("405 Method Not Allowed\n", "GET, HEAD", 0);
	d->r414 = fixed_response("414 URI Too Long\n", NULL, 1);
	d->r431 = fixed_response("431 Request Header Fields Too Large\n", NULL, 1);
	return d->r400 && d->r404 && d->r405 && d->r414 && d->r431 ? GSLB_OK : GSLB_ENOMEM;
}

static void free_fixed_responses(struct http_daemon *d)
{
	struct MHD_Response **all[] = { &d->r400, &d->r404, &d->r405, &d->r414, &d->r431 };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i])
			MHD_destroy_response(*all[i]);
		*all[i] = NULL;
	}
}

static http_mhd_result queue_fixed(struct MHD_Connection *conn, unsigned status,
				   struct MHD_Response *r)
{
	return MHD_queue_response(conn, status, r);
}

/* Takes ownership of json text (malloc'd). */
static http_mhd_result queue_explain(struct MHD_Connection *conn, char *text, int vary)
{
	size_t n = strlen(text);
	struct MHD_Response *r;
	http_mhd_result ret;

	/* jansson leaves no newline; curl output reads better with one */
	char *body = realloc(text, n + 2);
	if (!body) {
		free(text);
		return MHD_NO;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	r = MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (vary)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "X-Forwarded-For, Forwarded");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static http_mhd_result queue_answer(struct http_daemon *d, struct MHD_Connection *conn,
				    const struct http_answer *a)
{
	struct MHD_Response *r;
	http_mhd_result ret;
	char num[64];

	switch (a->status) {
	case 400:
		return queue_fixed(conn, 400, d->r400);
	case 404:
		return queue_fixed(conn, 404, d->r404);
	case 405:
		return queue_fixed(conn, 405, d->r405);
	case HTTP_URI_TOO_LONG:
		return queue_fixed(conn, HTTP_URI_TOO_LONG, d->r414);
	case HTTP_HEADERS_TOO_LARGE:
		return queue_fixed(conn, HTTP_HEADERS_TOO_LARGE, d->r431);
	case 503: {
		static const char text[] =
			"503 Service Unavailable: no region can take this request now\n";
		r = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text,
						    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		snprintf(num, sizeof(num), "%u", a->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		break;
	}
	default: {
		size_t n = redirect_body(d, a);
		r = MHD_create_response_from_buffer(n, d->body, MHD_RESPMEM_MUST_COPY);
		if (!r)
			return MHD_NO;
		cache_control(num, sizeof(num), a->max_age);
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, a->location);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, num);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/html; charset=utf-8");
		break;
	}
	}
	/* Behind a trusted proxy the answer depends on the forwarding headers,
	 * which a shared cache must key on. From any other peer it depends on
	 * the peer address alone, which no header names: the answer is marked
	 * private (or no-store) instead, so no shared cache keeps it. */
	if (a->vary)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "X-Forwarded-For, Forwarded");
	ret = MHD_queue_response(conn, a->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------ requests */

/* One walk over the request's header lines: Host lines are counted (more
 * than one is a 400, RFC 9112 3.2) and, from a trusted proxy, the
 * forwarding headers gathered: several lines of one are one list (RFC 9110
 * 5.3). */
struct fwd_gather {
	struct http_daemon *d;
	size_t xff_len, fwd_len;
	int xff, fwd;
	int trusted; /* gather the forwarding headers */
	unsigned hosts;
};

static void gather_append(char *buf, size_t cap, size_t *len, int *have, const char *v)
{
	size_t n = strlen(v);

	if (*have) {
		if (*len + 2 + n >= cap)
			return; /* cannot happen: the head is within header_limit */
		memcpy(buf + *len, ", ", 2);
		*len += 2;
	} else if (n >= cap) {
		return;
	}
	memcpy(buf + *len, v, n);
	*len += n;
	buf[*len] = '\0';
	*have = 1;
}

static http_mhd_result gather_fwd(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct fwd_gather *g = cls;

	(void)kind;
	if (!key || !value)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		g->hosts++;
	else if (!g->trusted)
		return MHD_YES;
	else if (strcasecmp(key, "X-Forwarded-For") == 0)
		gather_append(g->d->fwd_xff, g->d->fwd_cap, &g->xff_len, &g->xff, value);
	else if (strcasecmp(key, "Forwarded") == 0)
		gather_append(g->d->fwd_fwd, g->d->fwd_cap, &g->fwd_len, &g->fwd, value);
	return MHD_YES;
}

static int has_body(struct MHD_Connection *conn)
{
	const char *cl =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return 1;
	return cl && strspn(cl, "0 \t") != strlen(cl);
}

/* Split the raw target into path and query (in place: it is the
 * connection's own copy). An absolute-form target ("http://host/path")
 * names the host itself (RFC 9112 3.2.2), copied into host_buf. */
static void split_target(char *uri, struct http_request_info *req, char *host_buf, size_t host_cap)
{
	char *q = strchr(uri, '?');

	if (q) {
		*q = '\0';
		req->query = q + 1;
	}
	req->path = uri;
	if (strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0) {
		char *auth = strstr(uri, "//") + 2;
		char *slash = strchr(auth, '/');
		size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
		if (alen > 0 && alen < host_cap) {
			memcpy(host_buf, auth, alen);
			host_buf[alen] = '\0';
			req->host = host_buf;
		} else {
			req->host = NULL; /* answered 400 */
		}
		req->path = slash ? slash : "/";
	}
}

static void access_log(const struct http_request_info *req, struct http_answer *a,
		       const char *region)
{
	char path[512], method[32];
	struct wbuf b;

	wbuf_init(&b, (uint8_t *)path, sizeof(path) - 4);
	http_put_escaped(&b, req->path ? req->path : "-", req->path ? strlen(req->path) : 1);
	if (!b.err && req->query) {
		wbuf_u8(&b, '?');
		http_put_escaped(&b, req->query, strlen(req->query));
	}
	if (b.err) {
		b.err = 0;
		b.pos = b.cap; /* truncated */
		wbuf_put(&b, "...", 3);
		b.cap += 3;
	}
	path[b.pos] = '\0';
	wbuf_init(&b, (uint8_t *)method, sizeof(method) - 1);
	http_put_escaped(&b, req->method, strnlen(req->method, 16));
	method[b.err ? 0 : b.pos] = '\0';
	log_info("http request client=%s host=%s method=%s path=%s status=%u region=%s",
		 http_answer_client(a)[0] ? a->client : "-", a->host[0] ? a->host : "-", method,
		 path, a->status, region[0] ? region : "-");
}

static enum http_outcome outcome_of(unsigned status)
{
	switch (status) {
	case 200:
		return HO_EXPLAIN;
	case 400:
		return HO_BAD_REQUEST;
	case 404:
		return HO_NOT_FOUND;
	case 405:
		return HO_METHOD_NOT_ALLOWED;
	case HTTP_URI_TOO_LONG:
	case HTTP_HEADERS_TOO_LARGE:
		return HO_TOO_LARGE;
	case 503:
		return HO_UNAVAILABLE;
	default:
		return HO_REDIRECT;
	}
}

/* One answer: its outcome, and a redirect by service, region and status. */
static void count_answer(struct http_daemon *d, unsigned status, int slot)
{
	enum http_outcome o = outcome_of(status);
	metrics_inc(d->ms, MH_REQUESTS, o);
	if (o != HO_REDIRECT || slot < 0 || slot >= METRICS_SLOTS)
		return;
	for (size_t b = 0; b < NREDIRECT_CODES; b++)
		if (redirect_codes[b] == status)
			metrics_inc(d->ms, MH_REDIRECTS, (size_t)slot * NREDIRECT_CODES + b);
}

static http_mhd_result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = *con_cls;
	struct http_request_info req = { 0 };
	struct http_answer a;
	const union MHD_ConnectionInfo *ci;
	char host_buf[HTTP_HOST_MAX + 8], region[64] = "";
	char *explain = NULL;
	int access_logged = 0, too_large = 0;
	http_mhd_result ret;

	(void)version;
	(void)upload_data;
	if (*upload_data_size) {
		/* A body after the answer was queued: read and dropped. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (hc && hc->in_request == REQ_ANSWERED)
		return MHD_YES; /* the end of a body after the answer */
	if (hc)                 /* the head is complete */
		atomic_store_explicit(&hc->head_deadline, 0, memory_order_relaxed);
	if (!hc || hc->in_request == REQ_HEAD) {
		/* The exact size of the head: larger than header_limit is 431
		 * even when libmicrohttpd's pool (header_limit + room) held it. */
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
		too_large = ci && ci->header_size > d->l->conf->http_header_limit;
		/* An answer queued at this first call makes libmicrohttpd
		 * close the connection after it; without a body there is
		 * nothing to wait for but its next call, so answer then and
		 * keep the connection. A body is not worth reading: answer
		 * now and let the connection close. */
		if (hc && !too_large && !has_body(conn)) {
			hc->in_request = REQ_BODY;
			return MHD_YES;
		}
	}
	if (hc)
		hc->in_request = REQ_ANSWERED;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	req.peer = ci ? ci->client_addr : NULL;
	req.method = method;
	req.is_https = d->https;
	req.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (hc && hc->uri)
		split_target(hc->uri, &req, host_buf, sizeof(host_buf));
	else
		req.path = url; /* not seen raw (out of memory): MHD's copy */

	http_rcu_ready(d->l);
	urcu_memb_read_lock();
	const struct snapshot *snap = rcu_dereference(*d->l->snap);
	uint8_t paddr[16];
	int pfam = net_sockaddr_ip(req.peer, paddr);
	struct fwd_gather g = { .d = d };
	g.trusted = pfam && http_trusted_proxy(snap->conf, pfam, paddr);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, gather_fwd, &g);
	req.x_forwarded_for = g.xff ? d->fwd_xff : NULL;
	req.forwarded = g.fwd ? d->fwd_fwd : NULL;
	req.repeated_host = g.hosts > 1;
	(void)http_answer(snap, &req, &a);
	if (too_large) {
		/* decided all the same, for the access log's client and host */
		a.status = HTTP_HEADERS_TOO_LARGE;
		a.explain = 0;
		a.region = NULL;
	}
	if (a.region)
		snprintf(region, sizeof(region), "%s", a.region);
	if (a.explain) {
		char err[256];
		json_t *j = NULL;
		if (explain_json(snap, http_answer_client(&a), a.host, &j, err, sizeof(err)) == 0 &&
		    j)
			explain = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(j);
		if (!explain)
			a.status = 400;
	}
	access_logged = snap->conf->http_access_log;
	urcu_memb_read_unlock();

	count_answer(d, a.status, a.slot);
	if (access_logged)
		access_log(&req, &a, region);
	if (explain)
		ret = queue_explain(conn, explain, a.vary);
	else
		ret = queue_answer(d, conn, &a);
	return ret;
}

/* The raw request target, before libmicrohttpd splits and unescapes its
 * own copy. The return value becomes the request's con_cls. */
static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	struct http_conn *hc;
	size_t n;

	(void)cls;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	hc = ci ? ci->socket_context : NULL;
	if (!hc)
		return NULL;
	hc->in_request = REQ_HEAD;
	n = strlen(uri); /* bounded by the connection's memory pool */
	if (n < sizeof(hc->uri_inline)) {
		hc->uri = hc->uri_inline;
	} else {
		if (n >= hc->heap_cap) {
			char *p = realloc(hc->heap, n + 1);
			if (!p) {
				hc->uri = NULL;
				return hc;
			}
			hc->heap = p;
			hc->heap_cap = n + 1;
		}
		hc->uri = hc->heap;
	}
	memcpy(hc->uri, uri, n + 1);
	hc->uri_len = n;
	return hc;
}

/* The path is kept raw: nothing is decoded (and MHD's own decoding of its
 * copy is work for nothing). */
static size_t http_unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

/* A request head is due within request_timeout of now (0 = never). */
static void head_due(struct http_conn *hc)
{
	double t = hc->d->l->conf->http_request_timeout;
	int64_t at = t > 0 ? now_ms() + (int64_t)(t * 1000.0) : 0;

	atomic_store_explicit(&hc->head_deadline, at, memory_order_relaxed);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = *con_cls;

	(void)conn;
	*con_cls = NULL;
	if (!hc)
		return;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED && hc->in_request != REQ_ANSWERED &&
	    !hc->timed_out) {
		/* a request line, then too slow with the rest of the head */
		hc->timed_out = 1;
		metrics_inc(d->ms, MH_LIMITS, HL_REQUEST_TIMEOUT);
	}
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		hc->requests++;
	hc->in_request = REQ_NONE;
	hc->since = now_mono();
	head_due(hc); /* the next request's */
}

/* Is the peer a trusted proxy in the config in force? */
static int peer_trusted(struct http_daemon *d, int family, const uint8_t *addr)
{
	int t;

	http_rcu_ready(d->l);
	urcu_memb_read_lock();
	t = http_trusted_proxy(rcu_dereference(*d->l->snap)->conf, family, addr);
	urcu_memb_read_unlock();
	return t;
}

/* libmicrohttpd's accept policy, on the daemon's thread before a connection
 * is set up: max_per_ip counts the open connections of the client's network
 * (http.ipv4_prefix, ipv6_prefix), so one /64 cannot hold every slot. A
 * trusted proxy is not capped per address: every client behind it arrives
 * from its few addresses (max_connections still holds). */
static http_mhd_result http_accept_policy(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http_daemon *d = cls;
	const struct conf *c = d->l->conf;
	uint8_t addr[16];
	int family = net_sockaddr_ip(sa, addr);
	unsigned prefix = family == AF_INET ? c->http_ipv4_prefix : c->http_ipv6_prefix;
	unsigned n = 0;

	(void)len;
	if (!family || peer_trusted(d, family, addr))
		return MHD_YES;
	for (const struct http_conn *hc = d->conns; hc; hc = hc->next) {
		if (hc->exempt || hc->family != family || !net_same(hc->addr, addr, prefix))
			continue;
		if (++n >= c->http_max_per_ip) {
			metrics_inc(d->ms, MH_LIMITS, HL_MAX_PER_IP);
			log_debug("http connection refused: max_per_ip reached for the client's "
				  "network port=%u",
				  (unsigned)d->port);
			return MHD_NO;
		}
	}
	return MHD_YES;
}

static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = *socket_context;
	double timeout = ceil(d->l->conf->http_request_timeout);

	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		hc = calloc(1, sizeof(*hc));
		*socket_context = hc; /* NULL: requests still answered, from MHD's URL */
		if (hc) {
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			hc->d = d;
			hc->since = now_mono();
			hc->family = net_sockaddr_ip(ci ? ci->client_addr : NULL, hc->addr);
			hc->exempt = hc->family && peer_trusted(d, hc->family, hc->addr);
			ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
			hc->fd = ci ? ci->connect_fd : -1;
			head_due(hc); /* the TLS handshake and the first head */
			pthread_mutex_lock(&d->mu);
			hc->next = d->conns;
			if (d->conns)
				d->conns->prev = hc;
			d->conns = hc;
			pthread_mutex_unlock(&d->mu);
		}
		d->nconn++;
		metrics_inc(d->ms, MH_CONNECTIONS, 0);
		if (d->nconn == d->l->conf->http_max_connections)
			metrics_inc(d->ms, MH_LIMITS, HL_MAX_CONNECTIONS);
		return;
	}
	if (d->nconn)
		d->nconn--;
	if (!hc)
		return;
	/* libmicrohttpd closes the socket after this returns: the sweeper,
	 * which holds mu while it shuts sockets down, never sees it closed. */
	pthread_mutex_lock(&d->mu);
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		d->conns = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	int cut = hc->cut;
	pthread_mutex_unlock(&d->mu);
	/* Cut off by the head deadline, or closed without a complete request
	 * for request_timeout: by libmicrohttpd's inactivity timeout (whole
	 * seconds, hence the slack). */
	if (!hc->timed_out &&
	    (cut || (hc->requests == 0 && timeout > 0 && now_mono() - hc->since + 1.0 > timeout)))
		metrics_inc(d->ms, MH_LIMITS, HL_REQUEST_TIMEOUT);
	free(hc->heap);
	free(hc);
	*socket_context = NULL;
}

/* How often the sweeper looks for heads past their deadline. */
#define HTTP_SWEEP_MS 250

/* The request head deadline. libmicrohttpd's timeout counts from the last
 * byte, so a head dripped a byte every few seconds would live for ever; a
 * connection whose head is not complete within request_timeout of the
 * connection's start (TLS handshake included) or of the previous answer is
 * shut down here, and libmicrohttpd then closes it as closed by the client.
 * The shutdown happens under the daemon's mu, which the close notice takes
 * before libmicrohttpd closes the socket, so the descriptor is still the
 * connection's. */
static void *http_sweep(void *arg)
{
	struct http_listener *l = arg;

	pthread_mutex_lock(&l->sweep_mu);
	while (!l->sweep_stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += HTTP_SWEEP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->sweep_cv, &l->sweep_mu, &until);
		if (l->sweep_stop)
			break;
		int64_t now = now_ms();
		for (size_t i = 0; i < l->nd; i++) {
			struct http_daemon *d = &l->d[i];
			pthread_mutex_lock(&d->mu);
			for (struct http_conn *hc = d->conns; hc; hc = hc->next) {
				int64_t due = atomic_load_explicit(&hc->head_deadline,
								   memory_order_relaxed);
				if (!due || due > now || hc->cut || hc->fd < 0)
					continue;
				hc->cut = 1;
				(void)shutdown(hc->fd, SHUT_RDWR);
				log_debug("http connection cut off: request head not complete "
					  "within request_timeout port=%u",
					  (unsigned)d->port);
			}
			pthread_mutex_unlock(&d->mu);
		}
	}
	pthread_mutex_unlock(&l->sweep_mu);
	return NULL;
}

static int sweep_start(struct http_listener *l)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->sweep_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&l->sweep_mu, NULL);
	/* Signals are for the main thread's loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&l->sweeper, NULL, http_sweep, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_err("cannot start the http listener error=\"%s\"", strerror(err));
		pthread_cond_destroy(&l->sweep_cv);
		pthread_mutex_destroy(&l->sweep_mu);
		return GSLB_ESYS;
	}
	l->sweeper_started = 1;
	return GSLB_OK;
}

static void sweep_stop(struct http_listener *l)
{
	if (!l->sweeper_started)
		return;
	pthread_mutex_lock(&l->sweep_mu);
	l->sweep_stop = 1;
	pthread_cond_signal(&l->sweep_cv);
	pthread_mutex_unlock(&l->sweep_mu);
	pthread_join(l->sweeper, NULL);
	pthread_cond_destroy(&l->sweep_cv);
	pthread_mutex_destroy(&l->sweep_mu);
	l->sweeper_started = 0;
}

/* libmicrohttpd's own messages. While it starts they are errors worth a
 * warning (cannot bind...); afterwards they are about single clients and
 * go to debug, with the limits they report counted. */
__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
							       va_list ap)
{
	struct http_daemon *d = cls;
	char buf[512];
	unsigned code = 0;
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (strncmp(buf, "Server reached connection limit", 31) == 0) {
		/* max_connections (max_per_ip is http_accept_policy's) */
		log_debug("http listener: %s port=%u", buf, (unsigned)d->port);
		return;
	}
	if (strncmp(buf, "Hit process or system resource", 30) == 0) {
		/* accept() out of descriptors: libmicrohttpd stops accepting
		 * until a connection closes, or with none open retries at once;
		 * the waiting connections are accepted and closed with the
		 * reserve (counted, logged once an interval), and without a
		 * reserve the retry is slowed down instead of spinning. */
		if (fdlimit_shed(FDL_HTTP, atomic_load(&d->listen_fd)) < 0)
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
		return;
	}
	if (sscanf(buf, "Error processing request (HTTP response code is %u", &code) == 1) {
		if (code == 400)
			metrics_inc(d->ms, MH_REQUESTS, HO_BAD_REQUEST);
		else if (code == HTTP_HEADERS_TOO_LARGE || code == HTTP_URI_TOO_LONG || code == 413)
			metrics_inc(d->ms, MH_REQUESTS, HO_TOO_LARGE);
	}
	if (!atomic_load(&d->running) || strncmp(buf, "Failed to create", 16) == 0)
		log_warn("http listener: %s", buf);
	else
		log_debug("http listener: %s port=%u", buf, (unsigned)d->port);
}

/* ------------------------------------------------------------ TLS */

static int read_pem(const char *path, gnutls_datum_t *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	out->data = NULL;
	out->size = 0;
	if (!f)
		return GSLB_EIO;
	out->data = gnutls_malloc(HTTP_PEM_MAX + 1);
	if (!out->data) {
		fclose(f);
		return GSLB_ENOMEM;
	}
	n = fread(out->data, 1, HTTP_PEM_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > HTTP_PEM_MAX) {
		gnutls_free(out->data);
		out->data = NULL;
		return n ? GSLB_ERANGE : GSLB_EIO;
	}
	out->data[n] = '\0';
	out->size = (unsigned)n;
	return GSLB_OK;
}

static void cert_free(struct http_cert *c)
{
	for (unsigned i = 0; i < c->npcert; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	c->npcert = 0;
	if (c->key)
		gnutls_privkey_deinit(c->key);
	c->key = NULL;
}

/* Load one chain and key, and check that they belong together. */
static int cert_load(struct http_cert *c, const struct conf_tls_cert *tc)
{
	gnutls_datum_t crt = { NULL, 0 }, key = { NULL, 0 };
	gnutls_certificate_credentials_t check = NULL;
	unsigned n = HTTP_CHAIN_MAX;
	const char *what = tc->cert;
	int rc, g;

	c->name = tc->name;
	rc = read_pem(tc->cert, &crt);
	if (rc)
		goto out;
	what = tc->key;
	rc = read_pem(tc->key, &key);
	if (rc)
		goto out;
	/* gnutls says whether key and certificate match */
	what = tc->cert;
	rc = GSLB_EINVAL;
	g = gnutls_certificate_allocate_credentials(&check);
	if (g == 0)
		g = gnutls_certificate_set_x509_key_mem(check, &crt, &key, GNUTLS_X509_FMT_PEM);
	if (g < 0)
		goto tls_err;
	g = gnutls_pcert_list_import_x509_raw(c->pcert, &n, &crt, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0)
		goto tls_err;
	c->npcert = n;
	what = tc->key;
	g = gnutls_privkey_init(&c->key);
	if (g == 0)
		g = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0)
		goto tls_err;
	rc = GSLB_OK;
	goto out;
tls_err:
	log_err("cannot load TLS certificate file=%s error=\"%s\"", what, gnutls_strerror(g));
	what = NULL;
out:
	if (rc && what)
		log_err("cannot load TLS certificate file=%s error=\"%s\"", what,
			gslb_strerror(rc));
	if (check)
		gnutls_certificate_free_credentials(check);
	gnutls_free(crt.data);
	if (key.data) {
		memset(key.data, 0, key.size);
		gnutls_free(key.data);
	}
	if (rc)
		cert_free(c);
	return rc;
}

static int sni_matches(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return 1;
	if (pattern[0] != '*' || pattern[1] != '.')
		return 0;
	/* "*.example.com" covers exactly one label more */
	const char *dot = strchr(name, '.');
	return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
}

/* GnuTLS asks for the certificate during the handshake. libmicrohttpd sets
 * the session pointer to the connection, whose socket context leads to the
 * daemon and its certificates. */
static int http_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	const struct http_conn *hc;
	const struct http_cert *pick;
	char name[256];
	size_t len = sizeof(name);
	unsigned type = 0;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
	hc = ci ? ci->socket_context : NULL;
	if (!hc || !hc->d->ncerts)
		return -1;
	pick = &hc->d->certs[0];
	if (gnutls_server_name_get(session, name, &len, &type, 0) == GNUTLS_E_SUCCESS &&
	    type == GNUTLS_NAME_DNS && len < sizeof(name)) {
		name[len] = '\0';
		if (len && name[len - 1] == '.')
			name[len - 1] = '\0';
		/* exact names first, then wildcards */
		const struct http_cert *wild = NULL;
		for (size_t i = 1; i < hc->d->ncerts; i++) {
			const struct http_cert *c = &hc->d->certs[i];
			if (strcasecmp(c->name, name) == 0) {
				wild = NULL;
				pick = c;
				break;
			}
			if (!wild && sni_matches(c->name, name))
				wild = c;
		}
		if (wild)
			pick = wild;
	}
	*pcert = (gnutls_pcert_st *)pick->pcert;
	*pcert_length = pick->npcert;
	*pkey = pick->key;
	return 0;
}

/* ------------------------------------------------------------ life cycle */

static int daemon_prepare(struct http_listener *l, struct http_daemon *d,
			  const struct conf_http_listen *hl)
{
	const struct sockaddr *sa = (const struct sockaddr *)&hl->l.addr;
	const void *ip;

	d->l = l;
	d->conf = hl;
	d->https = hl->certs != NULL;
	atomic_store(&d->listen_fd, -1);
	pthread_mutex_init(&d->mu, NULL);
	d->mu_init = 1;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		ip = &in6->sin6_addr;
		d->port = ntohs(in6->sin6_port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		ip = &in->sin_addr;
		d->port = ntohs(in->sin_port);
	} else {
		log_err("http listener address=%s error=\"not an IPv4 or IPv6 address\"",
			hl->l.text ? hl->l.text : "?");
		return GSLB_EINVAL;
	}
	if (!inet_ntop(sa->sa_family, ip, d->host, sizeof(d->host)))
		snprintf(d->host, sizeof(d->host), "?");
	d->fwd_cap = (size_t)l->conf->http_header_limit + 1;
	d->fwd_xff = malloc(d->fwd_cap);
	d->fwd_fwd = malloc(d->fwd_cap);
	/* a Location HTML-escaped twice, and the markup around it */
	d->body_cap = 2 * 6 * HTTP_LOCATION_MAX + 256;
	d->body = malloc(d->body_cap);
	if (!d->fwd_xff || !d->fwd_fwd || !d->body || fixed_responses(d))
		return GSLB_ENOMEM;
	if (d->https) {
		d->certs = calloc(hl->ncerts, sizeof(*d->certs));
		if (!d->certs)
			return GSLB_ENOMEM;
		for (size_t i = 0; i < hl->ncerts; i++) {
			int rc = cert_load(&d->certs[i], &hl->certs[i]);
			if (rc)
				return rc;
			d->ncerts++;
		}
	}
	return GSLB_OK;
}

static int daemon_start(struct http_daemon *d)
{
	const struct conf *c = d->l->conf;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	unsigned timeout = (unsigned)ceil(c->http_request_timeout);
	size_t pool = (size_t)c->http_header_limit + HTTP_POOL_EXTRA;

	if (d->conf->l.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6; /* IPv6 only, as written */
	if (d->https)
		flags |= MHD_USE_TLS;
	/* libmicrohttpd closes the socket it is given, even on some failures:
	 * it gets a copy, ours is closed here either way. */
	int fd = dup(d->fd);
	close(d->fd);
	d->fd = -1;
	if (fd < 0) {
		log_err("cannot listen proto=%s address=%s port=%u error=\"%s\"",
			d->https ? "https" : "http", d->host, (unsigned)d->port, strerror(errno));
		return GSLB_ESYS;
	}
	/* Without TLS the option list ends before the certificate callback. */
	d->mhd = MHD_start_daemon(
		flags, d->port, http_accept_policy, d, http_access, d,
		/* first, or libmicrohttpd prints its early messages itself */
		MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, d, MHD_OPTION_LISTEN_SOCKET,
		(MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->http_max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
		MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, d, MHD_OPTION_UNESCAPE_CALLBACK,
		http_unescape_none, d, MHD_OPTION_NOTIFY_COMPLETED, http_completed, d,
		MHD_OPTION_NOTIFY_CONNECTION, http_connection, d,
		d->https ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, http_cert_cb,
		MHD_OPTION_END);
	if (!d->mhd) {
		log_err("cannot listen proto=%s address=%s port=%u error=\"%s\"",
			d->https ? "https" : "http", d->host, (unsigned)d->port,
			"libmicrohttpd could not start (see the message above)");
		return GSLB_ESYS;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	atomic_store(&d->listen_fd, di ? di->listen_fd : -1);
	atomic_store(&d->running, 1);
	return GSLB_OK;
}

static void daemon_free(struct http_daemon *d)
{
	if (d->mhd)
		MHD_stop_daemon(d->mhd); /* joins its thread */
	d->mhd = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free_fixed_responses(d);
	for (size_t i = 0; i < d->ncerts; i++)
		cert_free(&d->certs[i]);
	free(d->certs);
	d->certs = NULL;
	free(d->fwd_xff);
	free(d->fwd_fwd);
	free(d->body);
	if (d->mu_init)
		pthread_mutex_destroy(&d->mu);
	d->mu_init = 0;
}

void http_stop(struct http_listener *l)
{
	struct http_counters c;
	int started;

	if (!l)
		return;
	started = l->nd && l->d[0].mhd;
	sweep_stop(l); /* before the daemons and their lists go */
	for (size_t i = 0; i < l->nd; i++)
		daemon_free(&l->d[i]);
	if (started) {
		/* what the listener did, in one line (for operators and tests) */
		http_counters(l, &c);
		log_info("http listener stopped connections=%llu requests=%llu redirects=%llu "
			 "explains=%llu not_found=%llu method_not_allowed=%llu unavailable=%llu "
			 "bad_requests=%llu too_large=%llu timeouts=%llu conn_limit=%llu "
			 "per_ip_limit=%llu",
			 (unsigned long long)c.connections, (unsigned long long)c.requests,
			 (unsigned long long)c.redirects, (unsigned long long)c.explains,
			 (unsigned long long)c.not_found, (unsigned long long)c.method_not_allowed,
			 (unsigned long long)c.unavailable, (unsigned long long)c.bad_requests,
			 (unsigned long long)c.too_large, (unsigned long long)c.timeouts,
			 (unsigned long long)c.conn_limit, (unsigned long long)c.per_ip_limit);
	}
	free(l->d);
	/* every daemon thread has exited and unregistered itself */
	if (l->rcu_key_init)
		pthread_key_delete(l->rcu_key);
	free(l);
}

int http_bind(const struct conf *conf, struct snapshot **snap, struct metrics *metrics,
	      struct http_listener **out)
{
	struct http_listener *l;
	int rc = GSLB_OK;

	*out = NULL;
	if (conf->nhttp == 0)
		return GSLB_OK;
	if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL)) {
		log_err("cannot start the http listener error=\"libmicrohttpd without epoll\"");
		return GSLB_EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return GSLB_ENOMEM;
	l->conf = conf;
	l->snap = snap;
	l->nd = conf->nhttp;
	l->d = calloc(l->nd, sizeof(*l->d));
	if (!l->d) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < l->nd; i++)
		l->d[i].fd = -1;
	if (pthread_key_create(&l->rcu_key, http_rcu_unregister) != 0) {
		rc = GSLB_ESYS;
		goto out;
	}
	l->rcu_key_init = 1;
	for (size_t i = 0; i < l->nd; i++) {
		if (conf->http[i].certs &&
		    (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
		     !MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK))) {
			log_err("cannot listen proto=https address=%s error=\"libmicrohttpd "
				"without TLS or SNI support\"",
				conf->http[i].l.text);
			rc = GSLB_EINVAL;
			goto out;
		}
	}
	/* Everything that can fail without a socket first: certificates. */
	for (size_t i = 0; i < l->nd; i++) {
		rc = daemon_prepare(l, &l->d[i], &conf->http[i]);
		if (rc) {
			if (rc == GSLB_ENOMEM)
				log_err("cannot start the http listener error=\"out of memory\"");
			goto out;
		}
	}
	/* One counters shard per daemon: each daemon is one thread. */
	for (size_t i = 0; metrics && i < l->nd; i++)
		l->d[i].ms = metrics_shard_new(metrics, &http_metric_set);
	for (size_t i = 0; i < l->nd; i++) {
		struct http_daemon *d = &l->d[i];
		d->fd = net_listen_tcp((const struct sockaddr *)&d->conf->l.addr,
				       d->conf->l.addr_len);
		if (d->fd < 0) {
			log_err("cannot listen proto=%s address=%s port=%u error=\"%s\"",
				d->https ? "https" : "http", d->host, (unsigned)d->port,
				strerror(errno));
			rc = GSLB_ESYS;
			goto out;
		}
		d->port = (uint16_t)net_bound_port(d->fd);
	}
	*out = l;
	l = NULL;
out:
	http_stop(l);
	return rc;
}

int http_serve(struct http_listener *l)
{
	int rc;

	for (size_t i = 0; l && i < l->nd; i++) {
		rc = daemon_start(&l->d[i]);
		if (rc)
			return rc;
	}
	/* The head-deadline sweeper is a thread: started here, after the
	 * privilege drop, like the daemons' own threads. */
	if (l && l->conf->http_request_timeout > 0) {
		rc = sweep_start(l);
		if (rc)
			return rc;
	}
	for (size_t i = 0; l && i < l->nd; i++)
		log_info("listening proto=%s address=%s port=%u", l->d[i].https ? "https" : "http",
			 l->d[i].host, (unsigned)l->d[i].port);
	return GSLB_OK;
}

void http_counters(const struct http_listener *l, struct http_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; l && i < l->nd; i++) {
		const struct metrics_shard *s = l->d[i].ms;
		out->connections += metrics_get(s, MH_CONNECTIONS, 0);
		out->redirects += metrics_get(s, MH_REQUESTS, HO_REDIRECT);
		out->explains += metrics_get(s, MH_REQUESTS, HO_EXPLAIN);
		out->not_found += metrics_get(s, MH_REQUESTS, HO_NOT_FOUND);
		out->method_not_allowed += metrics_get(s, MH_REQUESTS, HO_METHOD_NOT_ALLOWED);
		out->unavailable += metrics_get(s, MH_REQUESTS, HO_UNAVAILABLE);
		out->bad_requests += metrics_get(s, MH_REQUESTS, HO_BAD_REQUEST);
		out->too_large += metrics_get(s, MH_REQUESTS, HO_TOO_LARGE);
		out->timeouts += metrics_get(s, MH_LIMITS, HL_REQUEST_TIMEOUT);
		out->conn_limit += metrics_get(s, MH_LIMITS, HL_MAX_CONNECTIONS);
		out->per_ip_limit += metrics_get(s, MH_LIMITS, HL_MAX_PER_IP);
	}
	out->requests = out->redirects + out->explains + out->not_found + out->method_not_allowed +
			out->unavailable + out->bad_requests + out->too_large;
}
