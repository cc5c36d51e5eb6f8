/* Private to the files of the server module, which is split the way Knot
 * splits its network side (server.c, udp-handler.c, tcp-handler.c):
 *
 *   server.c  life cycle: server_new, server_run, signals, server_stop,
 *             server_free, the prober's start, /metrics extras
 *   listen.c  one listen.dns address: its TCP listening socket and its
 *             SO_REUSEPORT group of UDP sockets
 *   udp.c     UDP worker threads (recvmmsg/sendmmsg batches)
 *   tcp.c     TCP DNS on the libuv loop: accepting, connections, limits
 *   reload.c  reloads on the thread pool, the network side of a reload
 *             (net_prepare/net_commit), data file watching, admin reloads
 *   serve.c   serve_query(), the query path both transports share
 *
 * Everything here runs on the loop (main) thread unless it says otherwise.
 * Nothing outside these files includes this header. */
#ifndef GSLB_SERVER_INT_H
#define GSLB_SERVER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <uv.h>

#include "gslb/admin.h"
#include "gslb/serve.h"

struct conf;
struct conf_listen;
struct http_listener;
struct metrics;
struct metrics_shard;
struct prober;
struct rrl;
struct snapshot;
struct tcp_conn;
struct worker;

struct server;

/* One listen.dns address. Allocated on its own (libuv handles must not
 * move) and kept across reloads for as long as the address stays in the
 * config. */
struct listener {
	struct server *srv;
	struct sockaddr_storage conf_addr; /* as configured: port 0 = any */
	socklen_t conf_addr_len;
	struct sockaddr_storage addr; /* with the port actually bound */
	socklen_t addr_len;
	int wildcard; /* 0.0.0.0 or ::, where replies must name their source */
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	int tcp_fd;    /* the listening socket: accepted on by tcp_readable */
	uv_poll_t tcp; /* its readiness, on the loop */
	int tcp_init;  /* tcp initialised: closed through libuv */
	/* The address's SO_REUSEPORT group: never fewer sockets than workers.
	 * A reload that lowers the worker count keeps them all (closing one
	 * would drop the datagrams queued on it) and shares them out. */
	int *udp_fds;
	unsigned nudp;
	/* During a reload (net_prepare to net_commit or net_rollback). */
	unsigned nudp_before; /* the count to roll back to */
	int kept;             /* in the new config too */
	int fresh;            /* opened for the new config */
};

/* One generation of UDP workers. A reload that changes the sockets, the
 * worker count or the EDNS size starts a new generation, then stops the old
 * one (net_prepare, net_commit). */
struct workers {
	struct worker **w;
	unsigned n;
	size_t resp_cap; /* reply buffer per datagram: the advertised EDNS size */
	int stop_fd;     /* eventfd, written once to stop this generation */
	int woken;
};

#define GEO_WATCHED 4 /* data files watched: database, overrides, blocklist, ASN */

struct server {
	struct snapshot *snap;   /* RCU-protected: rcu_dereference() to read */
	const struct conf *conf; /* the config the server was started with */
	struct listener **ls;    /* in config order */
	size_t nls;
	struct workers *ws;
	/* Worker i's counters, kept when workers are restarted so that the
	 * totals never go back. */
	struct metrics_shard **udp_ms;
	unsigned nudp_ms;
	/* The admin listener's configured address (admin_on = 0: none). */
	struct sockaddr_storage admin_addr;
	int admin_on;

	uv_loop_t loop;
	int loop_init;
	uv_signal_t sig_term, sig_int, sig_hup;
	int sig_init;

	/* Open connections, most recently active first (conn_touch moves a
	 * connection to the head): the tail is the one idle the longest. */
	struct tcp_conn *conns, *conns_tail;
	unsigned nconns;
	/* Out of descriptors: the listeners are not polled until the timer
	 * fires (accept_pause). */
	uv_timer_t accept_timer;
	int accept_timer_init;
	int accept_paused;
	int tcp_full_logged;
	int stopping;
	struct metrics *metrics;
	struct rrl *rrl;         /* shared by the UDP workers; lock-free */
	struct serve_thread tcp; /* the loop thread's counters and random stream (TCP) */

	/* The server's own copy of the config it was started with: listeners
	 * and TCP limits point into it, so snapshots can come and go. */
	struct conf *own_conf;
	char *conf_path;
	int reload_running; /* one reload at a time, on the thread pool */
	int reload_pending; /* RELOAD_* bits asked for meanwhile */
	/* Watchers of the database, overrides, ACL blocklist and ASN database
	 * files; NULL when that file is not configured. Each is allocated on its
	 * own and never restarted: one whose path changes is closed and
	 * replaced. */
	uv_fs_poll_t *geo_poll[GEO_WATCHED];
	/* A changed file is loaded once it has stopped changing: its size and
	 * modification time as last seen, and whether it waits to settle. */
	uv_timer_t geo_settle;
	int geo_settle_init;
	/* signing again before expiry (dnssec_maint.c); NULL when stopped */
	struct dnssec_maint *dnssec_maint;
	uv_stat_t geo_seen[GEO_WATCHED];
	int geo_waiting[GEO_WATCHED];

	struct prober *prober; /* NULL when nothing needs probing or resolving */
	/* zone serials and NOTIFY (xfr.h); a timer looks for new health views */
	struct xfr_keeper *xfr;
	uv_timer_t xfr_timer;
	int xfr_timer_init;
	struct admin *admin;        /* NULL without listen.admin */
	struct http_listener *http; /* NULL without listen.http */
	struct admin_hooks admin_hooks;

	/* Reloads asked for from other threads (admin POST /reload): a ticket
	 * per request, answered when a full reload that started after it
	 * ends, with its result. */
	uv_async_t reload_async;
	int reload_async_init;
	pthread_mutex_t reload_mu;
	pthread_cond_t reload_cv;
	uint64_t reload_asked;    /* tickets handed out */
	uint64_t reload_started;  /* last ticket covered by the running reload */
	uint64_t reload_answered; /* tickets with a result */
	int reload_rc;
	char reload_err[1024];
};

enum {
	RELOAD_GEO = 1,  /* GeoIP database or overrides changed on disk */
	RELOAD_FULL = 2, /* SIGHUP: config, zones and GeoIP */
};

/* ---- listen.c ---------------------------------------------------------- */

/* A listener for one configured address with its TCP socket listening and
 * nudp UDP sockets bound, not yet served (listener_serve_tcp and a worker
 * generation do that). The caller frees it with listener_retire. */
int listener_new(struct server *srv, const struct conf_listen *c, unsigned nudp,
		 struct listener **out, char *errbuf, size_t errlen);

/* More sockets in the address's SO_REUSEPORT group, for more workers. On
 * failure the group is as it was. */
int listener_grow(struct listener *l, unsigned n, char *errbuf, size_t errlen);

/* Close the UDP sockets from the n-th on: the group as it was before
 * listener_grow. */
void listener_shrink(struct listener *l, unsigned n);

/* Close a listener that is no longer served (no worker polls its sockets)
 * and free it, at once or when libuv has closed its TCP handle. */
void listener_retire(struct listener *l);

/* Close and free a listener once the loop has closed its TCP handle (the
 * server's end). */
void listener_free(struct listener *l);

/* Same family, address and port (and IPv6 scope). */
int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* ---- udp.c ------------------------------------------------------------- */

/* The reply buffer per datagram of workers answering with EDNS size edns. */
size_t workers_resp_cap(uint16_t edns);

/* A generation of n workers over the sockets of ls, not started. */
int workers_new(struct server *srv, struct listener *const *ls, size_t nls, unsigned n,
		uint16_t edns, struct workers **out);

/* Start every thread of the generation; on failure none runs. */
int workers_start(struct workers *ws);

/* Wake every thread of the generation to stop, then wait for them. */
void workers_wake(struct workers *ws);
void workers_join(struct workers *ws);
void workers_free(struct workers *ws);

/* ---- tcp.c ------------------------------------------------------------- */

/* Set up TCP on the loop (the accept pause timer). */
void tcp_init(struct server *srv);

/* Accept on l's TCP socket from now on (or once accepting resumes). */
int listener_serve_tcp(struct server *srv, struct listener *l, char *errbuf, size_t errlen);

/* Stop accepting and close every connection (server_stop). */
void tcp_stop(struct server *srv);

/* ---- reload.c ---------------------------------------------------------- */

/* Ask for a reload of kind RELOAD_*: now, or when the running one ends. */
void reload_request(struct server *srv, int kind);

/* Tell admin requests waiting for a reload, up to ticket, how it went. */
void reload_answer(struct server *srv, uint64_t ticket, int rc, const char *err);

/* Let other threads ask for reloads (admin_reload). */
void reload_init(struct server *srv);

/* Called on the admin thread: ask the loop for a full reload and wait for
 * the result of one that started after this request. */
int admin_reload(void *ctx, char *err, unsigned long errlen);

/* Watch the data files the current snapshot's config names; stop it. */
void geo_watch(struct server *srv);
void geo_unwatch(struct server *srv);

/* The DNSSEC maintenance timer (dnssec_maint.c): started with the
 * workers, stopped with the loop. */
void dnssec_maint_start(struct server *srv);
void dnssec_maint_stop(struct server *srv);

#endif
