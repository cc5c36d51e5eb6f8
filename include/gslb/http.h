/* The HTTP(S) redirect listener: a browser or API client that reaches the
 * service's name over HTTP gets a redirect to the region the DNS would have
 * chosen for it, from the same decide() and the same health state. */
#ifndef GSLB_HTTP_H
#define GSLB_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct snapshot;
struct conf;
struct http_listener;
struct metrics;

/* Longest Location (and so the longest path and query a redirect keeps,
 * after escaping); a longer one is answered 414. */
#define HTTP_LOCATION_MAX 4096
/* The text of an IPv6 address (INET6_ADDRSTRLEN). */
#define HTTP_ADDRSTRLEN 46
/* A host name in presentation form, without the trailing dot. */
#define HTTP_HOST_MAX 254

/* What one request gets, computed without any I/O (used by the listener,
 * the tests and the fuzz harness). */
struct http_answer {
	unsigned status;                  /* 301..308, 400, 404, 405, 414, 503; 200 for explain */
	char location[HTTP_LOCATION_MAX]; /* redirects only */
	unsigned max_age;                 /* Cache-Control: private, max-age= */
	unsigned retry_after;             /* 503 */
	const char *region;               /* chosen region name, NULL if none */
	int explain;                      /* ?explain was asked and allowed: caller renders JSON */
	int vary;                         /* the peer is a trusted proxy: the answer depends on
					   * its forwarding headers (Vary) */
	/* the client address decided on (family 0 if none); its text, for
	 * the access log and explain, is made by http_answer_client() */
	int client_family;
	uint8_t client_addr[16];
	char client[HTTP_ADDRSTRLEN]; /* "" until http_answer_client() */
	char host[HTTP_HOST_MAX];     /* the Host as a name: lower case, no port or
				       * trailing dot; "" when missing or malformed */
	int slot;                     /* metrics slot of the region's pool, -1 = none */
};

struct http_request_info {
	const char *method; /* "GET", "HEAD", ... */
	const char *host;   /* Host header, may carry a port; NULL = missing */
	const char *path;   /* raw path as received, starting with '/' */
	const char *query;  /* raw query string without '?', NULL = none */
	int is_https;
	const struct sockaddr *peer;
	const char *x_forwarded_for; /* NULL = absent; several header lines joined by ", " */
	const char *forwarded;       /* RFC 7239, NULL = absent; joined likewise */
	int repeated_host;           /* more than one Host line: 400 (RFC 9112 3.2) */
};

/* Decide the answer to one request against snap (caller holds the RCU read
 * lock). Returns 0, or a negative gslb_err for a malformed request (400, with
 * out->status set to 400). Allocates nothing. */
int http_answer(const struct snapshot *snap, const struct http_request_info *req,
		struct http_answer *out);

/* The client address of a as text ("" if none), made on first use: the
 * request path needs it only for the access log and explain. */
const char *http_answer_client(struct http_answer *a);

/* One listener per listen.http address of conf, in two steps: http_bind
 * loads the certificates and binds every address (no thread: at start,
 * before the privilege drop; *out stays NULL without listen.http), then
 * http_serve starts each address's libmicrohttpd thread and logs
 * "listening proto=http(s) address=A port=N". snap is the published
 * snapshot pointer (RCU). conf must outlive the listener; trusted_proxies,
 * explain_from and access_log are read from the current snapshot's config,
 * so a reload changes them. http_stop frees either. */
int http_bind(const struct conf *conf, struct snapshot **snap, struct metrics *metrics,
	      struct http_listener **out);
int http_serve(struct http_listener *l);
void http_stop(struct http_listener *l);

/* What the listener has counted since it started, summed over its
 * addresses (issue 6 exports them). Safe from any thread. */
struct http_counters {
	uint64_t connections; /* accepted */
	uint64_t requests;    /* answered: the sum of the outcomes below */
	uint64_t redirects;
	uint64_t explains;
	uint64_t not_found;          /* 404: no service (or no redirect) for the Host */
	uint64_t method_not_allowed; /* 405 */
	uint64_t unavailable;        /* 503: no region to send the client to */
	uint64_t bad_requests;       /* 400: malformed (by libmicrohttpd or by us) */
	uint64_t too_large;          /* 431 (request head over header_limit) and 414 */
	uint64_t timeouts;           /* connections cut off by request_timeout before
				      * a complete request */
	uint64_t conn_limit;         /* times max_connections was reached (further
				      * connections wait in the listen backlog) */
	uint64_t per_ip_limit;       /* connections refused by max_per_ip */
};
void http_counters(const struct http_listener *l, struct http_counters *out);

/* Shared by http.c and http_answer.c (not for other modules). */
#define HTTP_RETRY_DEFAULT 5u  /* Retry-After of a 503, seconds */
#define HTTP_URI_TOO_LONG 414u /* answered by status only */
#define HTTP_HEADERS_TOO_LARGE 431u
struct wbuf;
struct conf;
/* Is the peer (family, addr) in trusted_proxies? */
int http_trusted_proxy(const struct conf *c, int family, const uint8_t *addr);
/* s[0..n) into b, with bytes that may not stand in a URL (or a log field)
 * %-escaped. */
void http_put_escaped(struct wbuf *b, const char *s, size_t n);

#endif
