/* Resolution of member host names (A and AAAA) with c-ares and the system
 * resolver configuration, for the prober. The caller owns the event loop:
 * c-ares sockets are reported through a callback as they open, change and
 * close, and the caller hands readiness and timeouts back. Not thread-safe:
 * one resolver belongs to one thread. */
#ifndef GSLB_RESOLVE_H
#define GSLB_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

/* Re-resolve no sooner and no later than this, whatever the TTL says. */
#define RESOLVE_TTL_MIN 5
#define RESOLVE_TTL_MAX 3600

struct resolver;

struct resolve_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

enum resolve_status {
	RESOLVE_OK = 0,        /* addrs holds at least one address */
	RESOLVE_FAILED = 1,    /* error says why (NXDOMAIN, timeout...) */
	RESOLVE_CANCELLED = 2, /* resolve_cancel() or resolve_free() */
};

/* A socket of the resolver to watch: readable/writable are the interests,
 * both 0 when the socket is about to close. */
typedef void (*resolve_sock_fn)(void *arg, int fd, int readable, int writable);

/* Called once per resolve_name(): addrs are deduplicated, in the order
 * received, ttl is the shortest TTL clamped to [RESOLVE_TTL_MIN,
 * RESOLVE_TTL_MAX]. addrs and error live only during the call. */
typedef void (*resolve_done_fn)(void *arg, enum resolve_status status,
				const struct resolve_addr *addrs, size_t naddrs, uint32_t ttl,
				const char *error);

/* A resolver reading the system configuration (/etc/resolv.conf, hosts
 * file). Returns 0 or a negative gslb_err (logged). Free with resolve_free. */
/* servers: "127.0.0.1:53,[::1]:5353" (the config's `resolvers`), or NULL for
 * the system resolver configuration. */
int resolve_new(resolve_sock_fn sock_cb, void *sock_arg, const char *servers,
		struct resolver **out);

/* Start resolving name; done runs later from resolve_process(), or from
 * resolve_cancel()/resolve_free(). Returns 0 or a negative gslb_err, in which
 * case done is never called. */
int resolve_name(struct resolver *r, const char *name, resolve_done_fn done, void *arg);

/* Hand over readiness of fd (fd < 0: only run timeouts). */
void resolve_process(struct resolver *r, int fd, int readable, int writable);

/* Milliseconds until resolve_process(r, -1, 0, 0) is due, or max_ms when
 * nothing is pending or sooner. */
int64_t resolve_timeout_ms(struct resolver *r, int64_t max_ms);

/* Number of resolutions in flight. */
size_t resolve_pending(const struct resolver *r);

/* Every pending done callback runs now with RESOLVE_CANCELLED. */
void resolve_cancel(struct resolver *r);

/* Cancels what is pending, closes the sockets, frees. NULL is fine. */
void resolve_free(struct resolver *r);

/* Clamp a TTL to [RESOLVE_TTL_MIN, RESOLVE_TTL_MAX]. */
uint32_t resolve_ttl_clamp(uint32_t ttl);

#endif
