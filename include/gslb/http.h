/* The HTTP(S) redirect listener: a browser or API client that reaches the
 * service's name over HTTP gets a redirect to the region the DNS would have
 * chosen for it, from the same decide() and the same health state. */
#ifndef GSLB_HTTP_H
#define GSLB_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct snapshot;
struct conf;
struct http_listener;

/* What one request gets, computed without any I/O (used by the listener,
 * the tests and the fuzz harness). */
struct http_answer {
	unsigned status;      /* 301..308, 404, 405, 503, 400 */
	char location[4096];  /* redirects only */
	unsigned max_age;     /* Cache-Control: private, max-age= */
	unsigned retry_after; /* 503 */
	const char *region;   /* chosen region name, NULL if none */
	int explain;          /* ?explain was asked and allowed: caller renders JSON */
};

struct http_request_info {
	const char *method;     /* "GET", "HEAD", ... */
	const char *host;       /* Host header, may carry a port; NULL = missing */
	const char *path;       /* raw path as received, starting with '/' */
	const char *query;      /* raw query string without '?', NULL = none */
	int is_https;
	const struct sockaddr *peer;
	const char *x_forwarded_for; /* NULL = absent */
	const char *forwarded;       /* RFC 7239, NULL = absent */
};

/* Decide the answer to one request against snap (caller holds the RCU read
 * lock). Returns 0, or a negative gslb_err for a malformed request (400). */
int http_answer(const struct snapshot *snap, const struct http_request_info *req,
		struct http_answer *out);

/* Start one listener per listen.http address of conf (its own thread(s),
 * libmicrohttpd). snap is the published snapshot pointer (RCU). Logs
 * "listening proto=http(s) address=A port=N". */
int http_start(const struct conf *conf, struct snapshot **snap, struct http_listener **out);
void http_stop(struct http_listener *l);

#endif
