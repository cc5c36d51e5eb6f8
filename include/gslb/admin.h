/* The admin listener (libmicrohttpd, its own thread) on listen.admin:
 * /healthz, /status, /explain, /what-if, /metrics, the admin overrides and
 * /reload. It reads the current snapshot under RCU like the DNS workers. */
#ifndef GSLB_ADMIN_H
#define GSLB_ADMIN_H

struct snapshot;
struct prober;
struct conf_listen;
struct admin;
struct metrics;

#include <stddef.h>

/* Connections the admin listener serves at once. */
#define ADMIN_CONNECTION_LIMIT 64u

struct admin_hooks {
	/* The published snapshot pointer (RCU): read with rcu_dereference
	 * inside urcu_memb_read_lock(). */
	struct snapshot **snap;
	struct prober *prober; /* may be NULL: no overrides then */
	/* Ask for a reload and wait for its result; NULL = 501. */
	int (*reload)(void *ctx, char *err, unsigned long errlen);
	void *ctx;
	/* /metrics: the registry every module counts in. */
	struct metrics *metrics;
	/* Bearer token that lets non-loopback peers make control requests
	 * (copied at start); NULL = loopback only. */
	const char *token;
	int require_token; /* loopback peers need it too */
};

/* Bind addr and start serving. The hooks must outlive the listener. Port 0
 * picks a free port, logged as "listening proto=admin address=A port=N".
 * Returns 0 or a negative gslb_err (logged). */
int admin_start(const struct conf_listen *addr, const struct admin_hooks *hooks,
		struct admin **out);

/* admin_start in two steps: bind (no thread; at start, before the
 * privilege drop), then serve (its thread; logs the listening line).
 * admin_stop frees one that was bound and not served. */
int admin_bind(const struct conf_listen *addr, const struct admin_hooks *hooks, struct admin **out);
int admin_serve(struct admin *a);
void admin_stop(struct admin *a);

/* Replace the bearer token (after a reload); NULL = loopback only. */
void admin_set_token(struct admin *a, const char *token, int require);

/* Stop a listener that a reload replaced, gently: it accepts no new
 * connection, and the ones open (the POST /reload that replaced it, still
 * sending its answer) get up to max_seconds to end before it stops. Blocks:
 * call it off the event loop. NULL is fine. */
void admin_retire(struct admin *a, double max_seconds);

/* Whether a peer counts as local for control requests: 127.0.0.0/8, ::1
 * and IPv4-mapped 127.0.0.0/8. Exposed for the unit tests. */
struct sockaddr;
int admin_peer_is_loopback(const struct sockaddr *sa);

/* Whether a Host header may reach the admin listener: an IPv4 address, a
 * bracketed IPv6 address or localhost, each with an optional :PORT, or one
 * of names (admin_hosts; compared without case, a trailing dot ignored).
 * NULL (no Host) is refused. Exposed for the unit tests. */
int admin_host_allowed(const char *host, char *const *names, size_t nnames);

#endif
