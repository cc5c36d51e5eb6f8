/* The network side of gslbd.
 *
 * UDP: conf->workers threads, each owning one SO_REUSEPORT socket per listen
 * address, so the kernel spreads datagrams over threads and no two threads
 * ever touch the same socket or buffer. A worker sleeps in poll() on its
 * sockets and its generation's eventfd (written once, to stop it), then
 * reads up to UDP_BATCH datagrams with one recvmmsg(), answers each inside a
 * short RCU read-side section and sends all replies with one sendmmsg().
 *
 * TCP (RFC 7766): a libuv loop in the main thread, which also handles
 * signals. One query is answered at a time per connection, in order, into a
 * fixed per-connection buffer; pipelined queries wait in the read buffer
 * while a reply is being written, so a connection never holds more than its
 * two 64 KiB buffers whatever the client sends.
 *
 * The snapshot is published through srv->snap with RCU (liburcu, memb
 * flavour); every thread that reads it, the main thread included, is a
 * registered reader.
 *
 * A full reload also applies changed listen addresses, worker count, EDNS
 * size, TCP limits and admin address without a restart: see net_prepare(). */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <urcu/urcu-memb.h>
#include <uv.h>

#include "gslb/admin.h"
#include "gslb/config.h"
#include "gslb/dns.h"
#include "gslb/err.h"
#include "gslb/fdlimit.h"
#include "gslb/http.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/rrl.h"
#include "gslb/cidrset.h"
#include "gslb/notify.h"
#include "gslb/privs.h"
#include "gslb/probe.h"
#include "gslb/server.h"
#include "gslb/snapshot.h"
#include "gslb/wire.h"

/* Datagrams moved per recvmmsg()/sendmmsg() call. */
#define UDP_BATCH 64
/* Batches a worker takes from one socket before polling again, so that a
 * flooded address cannot starve the others. */
#define UDP_ROUNDS 4
/* Largest query accepted over UDP. Our advertised EDNS size is at most 4096,
 * and RFC 6891 makes that the largest datagram a client may send us; a
 * longer one arrives with MSG_TRUNC and is dropped. */
#define UDP_QUERY_MAX 4096
/* Kernel receive buffer per UDP socket: absorbs bursts while a worker is
 * busy with a batch. The kernel caps it at net.core.rmem_max. */
#define UDP_RCVBUF (4 * 1024 * 1024)
/* A port-0 address gets a fresh ephemeral port when TCP or a worker socket
 * cannot have the port the first UDP socket got. */
#define PORT0_ATTEMPTS 16
#define TCP_BACKLOG 1024
/* Length prefix plus the largest DNS message. */
#define TCP_FRAME_MAX (2 + DNS_MAX_MSG)

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message, aligned. */
union pktinfo_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

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

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	int started;
	/* The sockets this worker serves, then its generation's stop eventfd;
	 * pl[i] is the listener of pfds[i]. */
	struct pollfd *pfds;
	struct listener **pl;
	nfds_t nsocks;

	/* Everything a batch needs, allocated once in worker_new: see
	 * worker_udp() for why the query path never allocates. */
	size_t resp_cap;
	uint8_t *qbuf; /* UDP_BATCH * UDP_QUERY_MAX */
	uint8_t *rbuf; /* UDP_BATCH * resp_cap */
	struct mmsghdr rmsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH];
	struct sockaddr_storage peer[UDP_BATCH];
	union pktinfo_buf rctl[UDP_BATCH];
	struct mmsghdr smsg[UDP_BATCH];
	struct iovec siov[UDP_BATCH];
	union pktinfo_buf sctl[UDP_BATCH];
	uint64_t rng;             /* this worker's random stream for weighted picks */
	struct metrics_shard *ms; /* this worker's counters */
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

struct tcp_conn {
	struct server *srv;
	struct tcp_conn *prev, *next;
	uv_tcp_t h;
	uv_timer_t timer;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	struct sockaddr_storage peer;
	int peer_len;
	int family; /* the peer's address, for max_per_ip (0: unknown) */
	uint8_t addr[16];
	uint64_t born; /* loop time at accept, ms: for tcp.max_lifetime */
	unsigned nqueries;
	unsigned pending_close; /* handles whose close callback is due */
	int reading;
	int writing;  /* a reply is queued in uv_write: serve nothing else */
	int draining; /* max_queries reached: half-closed, discard input */
	int shut;
	int closing;
	size_t rpos;   /* next unread byte of rbuf */
	size_t rlen;   /* bytes in rbuf */
	uint8_t *rbuf; /* TCP_FRAME_MAX bytes each, in the same allocation */
	uint8_t *wbuf;
	uint8_t mem[];
};

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
	uint64_t rng; /* the loop thread's random stream (TCP queries) */
	struct metrics *metrics;
	struct rrl *rrl;              /* shared by the UDP workers; lock-free */
	struct metrics_shard *tcp_ms; /* the loop thread's counters (TCP) */

	/* The server's own copy of the config it was started with: listeners
	 * and TCP limits point into it, so snapshots can come and go. */
	struct conf *own_conf;
	char *conf_path;
	int reload_running; /* one reload at a time, on the thread pool */
	int reload_pending; /* RELOAD_* bits asked for meanwhile */
	/* Watchers of the database, overrides and ACL blocklist files; NULL when
	 * that file is not configured. Each is allocated on its own and never
	 * restarted: one whose path changes is closed and replaced. */
	uv_fs_poll_t *geo_poll[3];
	/* A changed file is loaded once it has stopped changing: its size and
	 * modification time as last seen, and whether it waits to settle. */
	uv_timer_t geo_settle;
	int geo_settle_init;
	uv_stat_t geo_seen[3];
	int geo_waiting[3];

	struct prober *prober;      /* NULL when nothing needs probing or resolving */
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

/* How long an admin listener replaced by a reload may finish the requests
 * it has (the POST /reload itself) before it is stopped. */
#define ADMIN_RETIRE_WAIT_S 2.0

/* How often GeoIP files are checked for replacement (libuv stat polling). */
#define GEO_POLL_MS 2000
/* How long a changed data file must stay the same (size, modification
 * time) before it is loaded: a file still being written is not read. */
#define GEO_SETTLE_MS 1000

enum {
	RELOAD_GEO = 1,  /* GeoIP database or overrides changed on disk */
	RELOAD_FULL = 2, /* SIGHUP: config, zones and GeoIP */
};

static void reload_answer(struct server *srv, uint64_t ticket, int rc, const char *err);

/* splitmix64: cheap, decent, and each thread owns its state, so weighted
 * answer picks need no shared counter. */
static uint32_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint64_t rng_seed(unsigned salt)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32) ^ ((uint64_t)salt * 0x9E3779B97F4A7C15ull);
}

/* ---- sockets -------------------------------------------------------- */

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static int set_int_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

enum sock_kind {
	SOCK_UDP_PROBE, /* port 0, no SO_REUSEPORT: the kernel picks a port nobody uses */
	SOCK_UDP,       /* a worker's socket: SO_REUSEPORT */
	SOCK_TCP,       /* the listener */
};

/* Open and bind one socket. On failure returns -errno-like GSLB_ESYS with
 * errno set, and *fd is -1. */
static int sock_bind(const struct listener *l, enum sock_kind kind, int *fd)
{
	int family = l->addr.ss_family;
	int type = kind == SOCK_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int s, saved;

	*fd = -1;
	s = socket(family, type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return GSLB_ESYS;
	/* v4 and v6 listeners on the same port are separate sockets, so v6
	 * sockets must not claim the v4 space too. */
	if (family == AF_INET6 && set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
		goto fail;
	if (kind == SOCK_UDP && set_int_opt(s, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	/* Restart without waiting for old connections in TIME_WAIT. */
	if (kind == SOCK_TCP && set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail;
	if (kind == SOCK_UDP) {
		/* Best effort: a smaller buffer only means earlier drops. */
		(void)set_int_opt(s, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
		/* Never set DF nor trust ICMP-learnt path MTUs for answers:
		 * forged "fragmentation needed" messages would otherwise let an
		 * attacker fragment our answers (as NSD and Knot do). */
		if (family == AF_INET)
			(void)set_int_opt(s, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
		else
			(void)set_int_opt(s, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_OMIT);
		/* On a wildcard address a reply must leave from the address the
		 * query was sent to, or the client drops it. */
		if (l->wildcard && family == AF_INET &&
		    set_int_opt(s, IPPROTO_IP, IP_PKTINFO, 1) < 0)
			goto fail;
		if (l->wildcard && family == AF_INET6 &&
		    set_int_opt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0)
			goto fail;
	}
	if (bind(s, (const struct sockaddr *)&l->addr, l->addr_len) < 0)
		goto fail;
	*fd = s;
	return GSLB_OK;
fail:
	saved = errno;
	close(s);
	errno = saved;
	return GSLB_ESYS;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void listener_close_fds(struct listener *l)
{
	close_fd(&l->tcp_fd);
	for (unsigned i = 0; i < l->nudp; i++)
		close_fd(&l->udp_fds[i]);
}

/* Bind the TCP listener and every worker's UDP socket of one address. For
 * port 0, a probe socket without SO_REUSEPORT asks the kernel for a port no
 * UDP socket uses (with SO_REUSEPORT on, Linux may hand out a port already
 * shared by another process of the same user, such as a parallel test's
 * server), and TCP and the worker sockets then take that port; whoever
 * cannot have it sends us round again with a new port. */
static int listener_bind(struct listener *l, char *errbuf, size_t errlen)
{
	int port0 = get_port(&l->conf_addr) == 0;
	const char *what = "udp";
	int rc = GSLB_OK;
	int err = 0;

	for (int attempt = 0; attempt < PORT0_ATTEMPTS; attempt++) {
		int probe = -1;

		memcpy(&l->addr, &l->conf_addr, l->conf_addr_len);
		l->addr_len = l->conf_addr_len;
		if (port0) {
			struct sockaddr_storage got;
			socklen_t len = sizeof(got);

			what = "udp";
			rc = sock_bind(l, SOCK_UDP_PROBE, &probe);
			if (rc == GSLB_OK && getsockname(probe, (struct sockaddr *)&got, &len) < 0)
				rc = GSLB_ESYS;
			if (rc) {
				err = errno;
				close_fd(&probe);
				goto out;
			}
			set_port(&l->addr, get_port(&got));
		}
		what = "tcp";
		rc = sock_bind(l, SOCK_TCP, &l->tcp_fd);
		err = errno;
		/* The probe holds the UDP port until TCP has its own. */
		close_fd(&probe);
		if (rc == GSLB_OK) {
			what = "udp";
			for (unsigned i = 0; i < l->nudp && rc == GSLB_OK; i++) {
				rc = sock_bind(l, SOCK_UDP, &l->udp_fds[i]);
				err = errno;
			}
		}
		if (rc == GSLB_OK)
			break;
		if (!port0 || err != EADDRINUSE)
			goto out;
		log_debug("ephemeral port taken, retrying proto=%s address=%s port=%u", what,
			  l->host, get_port(&l->addr));
		listener_close_fds(l);
	}
	if (rc)
		goto out;
	l->port = get_port(&l->addr);
	what = "tcp";
	if (listen(l->tcp_fd, TCP_BACKLOG) < 0) {
		err = errno;
		rc = GSLB_ESYS;
		goto out;
	}
out:
	if (rc) {
		log_err("cannot listen proto=%s address=%s port=%u error=\"%s\"", what, l->host,
			get_port(&l->addr), strerror(err));
		snprintf(errbuf, errlen, "cannot listen proto=%s address=%s port=%u: %s", what,
			 l->host, get_port(&l->addr), strerror(err));
		listener_close_fds(l);
	}
	return rc;
}

/* A listener for one configured address with its TCP socket listening and
 * nudp UDP sockets bound, not yet served (listener_serve_tcp and a worker
 * generation do that). The caller frees it with listener_retire. */
static int listener_new(struct server *srv, const struct conf_listen *c, unsigned nudp,
			struct listener **out, char *errbuf, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	const void *a;
	int rc;

	*out = NULL;
	if (l == NULL || (l->udp_fds = calloc(nudp, sizeof(*l->udp_fds))) == NULL) {
		free(l);
		snprintf(errbuf, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	l->srv = srv;
	memcpy(&l->conf_addr, &c->addr, c->addr_len);
	l->conf_addr_len = c->addr_len;
	l->tcp_fd = -1;
	l->nudp = nudp;
	for (unsigned i = 0; i < nudp; i++)
		l->udp_fds[i] = -1;
	l->wildcard = is_wildcard(&l->conf_addr);
	a = l->conf_addr.ss_family == AF_INET6 ?
		    (const void *)&((const struct sockaddr_in6 *)&l->conf_addr)->sin6_addr :
		    (const void *)&((const struct sockaddr_in *)&l->conf_addr)->sin_addr;
	inet_ntop(l->conf_addr.ss_family, a, l->host, sizeof(l->host));
	rc = listener_bind(l, errbuf, errlen);
	if (rc) {
		free(l->udp_fds);
		free(l);
		return rc;
	}
	*out = l;
	return GSLB_OK;
}

/* More sockets in the address's SO_REUSEPORT group, for more workers. On
 * failure the group is as it was. */
static int listener_grow(struct listener *l, unsigned n, char *errbuf, size_t errlen)
{
	unsigned had = l->nudp;
	int *fds;
	int rc = GSLB_OK;

	if (n <= had)
		return GSLB_OK;
	fds = realloc(l->udp_fds, n * sizeof(*fds));
	if (fds == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	l->udp_fds = fds;
	for (unsigned i = had; i < n; i++)
		fds[i] = -1;
	l->nudp = n;
	for (unsigned i = had; i < n && rc == GSLB_OK; i++)
		rc = sock_bind(l, SOCK_UDP, &fds[i]);
	if (rc) {
		int err = errno;
		log_err("cannot listen proto=udp address=%s port=%u error=\"%s\"", l->host, l->port,
			strerror(err));
		snprintf(errbuf, errlen, "cannot listen proto=udp address=%s port=%u: %s", l->host,
			 l->port, strerror(err));
		for (unsigned i = had; i < n; i++)
			close_fd(&fds[i]);
		l->nudp = had;
	}
	return rc;
}

/* Accept on the TCP socket whenever it is readable. The accepting is
 * ours, not uv_listen's: libuv retries a failing accept() in a loop that
 * never returns once its own reserve descriptor is gone, whereas
 * tcp_readable pauses (accept_pause). */
static void tcp_readable(uv_poll_t *h, int status, int events);

static int listener_serve_tcp(struct server *srv, struct listener *l, char *errbuf, size_t errlen)
{
	int rc = uv_poll_init(&srv->loop, &l->tcp, l->tcp_fd);

	if (rc == 0) {
		l->tcp_init = 1;
		l->tcp.data = l;
		if (!srv->accept_paused)
			rc = uv_poll_start(&l->tcp, UV_READABLE, tcp_readable);
	}
	if (rc) {
		log_err("cannot listen proto=tcp address=%s port=%u error=\"%s\"", l->host, l->port,
			uv_strerror(rc));
		snprintf(errbuf, errlen, "cannot listen proto=tcp address=%s port=%u: %s", l->host,
			 l->port, uv_strerror(rc));
		return GSLB_ESYS;
	}
	return GSLB_OK;
}

static void listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	close_fd(&l->tcp_fd); /* no longer polled */
	free(l->udp_fds);
	free(l);
}

/* Close a listener that is no longer served (no worker polls its sockets)
 * and free it, at once or when libuv has closed its TCP handle (the TCP
 * socket is closed then: never while it is polled). */
static void listener_retire(struct listener *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < l->nudp; i++)
		close_fd(&l->udp_fds[i]);
	if (!l->tcp_init)
		close_fd(&l->tcp_fd);
	if (l->tcp_init && !uv_is_closing((uv_handle_t *)&l->tcp)) {
		l->tcp.data = l;
		uv_close((uv_handle_t *)&l->tcp, listener_closed);
		return;
	}
	if (!l->tcp_init) {
		free(l->udp_fds);
		free(l);
	}
	/* else: already closing (server_stop); server_free frees it */
}

/* ---- UDP workers ------------------------------------------------------ */

/* strerror() may share one buffer between threads; workers use this. */
static const char *worker_strerror(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);
}

static void worker_free(struct worker *w);

/* Worker id of generation ws serves socket s of every listener where
 * s % ws->n == id: each socket has exactly one worker, and every worker
 * has at least one socket per address (a listener has no fewer sockets
 * than workers). */
static struct worker *worker_new(struct server *srv, const struct workers *ws, unsigned id,
				 struct listener *const *ls, size_t nls)
{
	struct worker *w = calloc(1, sizeof(*w));
	nfds_t k = 0;

	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->id = id;
	w->resp_cap = ws->resp_cap;
	w->rng = rng_seed(w->id + 1);
	w->ms = srv->udp_ms[id];
	for (size_t i = 0; i < nls; i++)
		for (unsigned s = id; s < ls[i]->nudp; s += ws->n)
			w->nsocks++;
	w->qbuf = malloc((size_t)UDP_BATCH * UDP_QUERY_MAX);
	w->rbuf = malloc((size_t)UDP_BATCH * w->resp_cap);
	w->pfds = calloc(w->nsocks + 1, sizeof(*w->pfds));
	w->pl = calloc(w->nsocks + 1, sizeof(*w->pl));
	if (w->qbuf == NULL || w->rbuf == NULL || w->pfds == NULL || w->pl == NULL) {
		worker_free(w);
		return NULL;
	}
	for (size_t i = 0; i < nls; i++) {
		for (unsigned s = id; s < ls[i]->nudp; s += ws->n) {
			w->pfds[k].fd = ls[i]->udp_fds[s];
			w->pfds[k].events = POLLIN;
			w->pl[k++] = ls[i];
		}
	}
	w->pfds[k].fd = ws->stop_fd;
	w->pfds[k].events = POLLIN;
	for (unsigned j = 0; j < UDP_BATCH; j++) {
		w->riov[j].iov_base = w->qbuf + (size_t)j * UDP_QUERY_MAX;
		w->riov[j].iov_len = UDP_QUERY_MAX;
		w->rmsg[j].msg_hdr.msg_iov = &w->riov[j];
		w->rmsg[j].msg_hdr.msg_iovlen = 1;
	}
	return w;
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	free(w->qbuf);
	free(w->rbuf);
	free(w->pfds);
	free(w->pl);
	free(w);
}

/* Fill a reply's control message from the query's IP_PKTINFO/IPV6_PKTINFO,
 * so that the reply's source is the address the client sent to. Returns the
 * control length to use (0 when the query carried none). */
static size_t reply_pktinfo(const struct msghdr *q, union pktinfo_buf *out)
{
	struct msghdr tmp = { .msg_control = out->buf, .msg_controllen = sizeof(out->buf) };
	struct cmsghdr *o = CMSG_FIRSTHDR(&tmp);

	if (q->msg_controllen == 0 || (q->msg_flags & MSG_CTRUNC))
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(q); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)q, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo in, pi = { 0 };
			memcpy(&in, CMSG_DATA(c), sizeof(in));
			/* Source address only: the routing table picks the
			 * interface, which also works for asymmetric routes. */
			pi.ipi_spec_dst = in.ipi_addr;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* A link-local source needs its interface; any other
			 * address is left to the routing table. */
			if (!IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				pi.ipi6_ifindex = 0;
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
	}
	return 0;
}

static void worker_send(struct worker *w, int fd, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, w->smsg + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* The first unsent reply failed on its own (peer
			 * unreachable, a firewall's EPERM...): skip it, not
			 * the rest of the batch. */
			char eb[128];
			log_debug("udp send failed worker=%u error=\"%s\"", w->id,
				  worker_strerror(errno, eb, sizeof(eb)));
			done++;
			continue;
		}
		done += (unsigned)r;
	}
}

enum {
	ACL_SERVE = 0,
	ACL_REFUSE = 1,
	ACL_DROP = 2
};

/* The query ACL, before any other work: deny and the blocklist win, then
 * an allow list (when given) must match. */
static int acl_verdict(const struct snapshot *snap, const struct sockaddr *peer)
{
	const struct conf *c = snap->conf;
	if (!c->acl_allow && !c->acl_deny && !snap->acl_block)
		return ACL_SERVE;
	uint8_t a[16];
	int family;
	if (peer->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
		family = AF_INET;
	} else if (peer->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
		family = AF_INET6;
	} else {
		return ACL_SERVE;
	}
	int denied = cidrset_contains(c->acl_deny, family, a) ||
		     cidrset_contains(snap->acl_block, family, a) ||
		     (c->acl_allow && !cidrset_contains(c->acl_allow, family, a));
	if (!denied)
		return ACL_SERVE;
	return c->acl_drop ? ACL_DROP : ACL_REFUSE;
}

/* Serve up to UDP_ROUNDS batches from one socket.
 *
 * No heap allocation per query, by construction: every buffer used here
 * (query slots, reply slots, peer addresses, control messages, the mmsghdr
 * and iovec arrays) is allocated once in worker_new() with a hard size,
 * dns_process() is documented and written to use only the stack and the
 * caller's buffer, recvmmsg()/sendmmsg() fill and read those arrays in the
 * kernel, and logging here is at debug level only, into a stack buffer. No
 * lock is taken either: the socket and buffers belong to this thread alone,
 * and the snapshot is read under RCU, which readers enter without a lock. */
static void worker_udp(struct worker *w, nfds_t si)
{
	struct server *srv = w->srv;
	const struct listener *l = w->pl[si];
	int fd = w->pfds[si].fd;

	for (int round = 0; round < UDP_ROUNDS; round++) {
		unsigned nout = 0;
		int n;

		for (unsigned j = 0; j < UDP_BATCH; j++) {
			struct msghdr *h = &w->rmsg[j].msg_hdr;
			h->msg_name = &w->peer[j];
			h->msg_namelen = sizeof(w->peer[j]);
			h->msg_control = l->wildcard ? w->rctl[j].buf : NULL;
			h->msg_controllen = l->wildcard ? sizeof(w->rctl[j].buf) : 0;
			h->msg_flags = 0;
		}
		n = recvmmsg(fd, w->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			char eb[128];
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("udp receive failed worker=%u error=\"%s\"", w->id,
					  worker_strerror(errno, eb, sizeof(eb)));
			return;
		}
		/* One clock read a batch is precise enough for per-second RRL. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		int64_t now_s = (int64_t)ts.tv_sec;
		for (int j = 0; j < n; j++) {
			const struct msghdr *h = &w->rmsg[j].msg_hdr;
			uint8_t *resp = w->rbuf + (size_t)j * w->resp_cap;
			struct dns_request req = {
				.query = w->riov[j].iov_base,
				.query_len = w->rmsg[j].msg_len,
				.resp = resp,
				.resp_cap = w->resp_cap,
				.transport = DNS_UDP,
				.peer = (const struct sockaddr *)&w->peer[j],
				.peer_len = h->msg_namelen,
				.entropy = rng_next(&w->rng),
			};
			const struct snapshot *snap;
			size_t len;

			/* Longer than any query we accept: not worth a reply. */
			if (h->msg_flags & MSG_TRUNC)
				continue;
			struct dns_info info;
			urcu_memb_read_lock();
			snap = rcu_dereference(srv->snap);
			int acl = acl_verdict(snap, req.peer);
			if (acl) {
				len = acl == ACL_REFUSE ? dns_refuse(&req) : 0;
				metrics_inc(w->ms, MDNS_ACL,
					    acl == ACL_REFUSE ? MACL_REFUSE : MACL_DROP);
				urcu_memb_read_unlock();
				if (len == 0)
					continue;
			} else {
				len = dns_process(snap, &req, &info);
				/* info->service points into the snapshot: count inside. */
				metrics_dns(w->ms, MT_UDP, len, &info);
				if (len && snap->conf->rrl.rate) {
					enum rrl_verdict v = rrl_check(
						srv->rrl, &snap->conf->rrl, req.peer, resp, len,
						info.rrl_name, now_s, rng_next(&w->rng));
					if (v == RRL_DROP) {
						metrics_inc(w->ms, MDNS_RRL, MRRL_DROP);
						len = 0;
					} else if (v == RRL_SLIP) {
						metrics_inc(w->ms, MDNS_RRL, MRRL_SLIP);
						len = rrl_truncate(resp, len);
					}
				}
				urcu_memb_read_unlock();
				if (len == 0)
					continue;
			}

			struct msghdr *o = &w->smsg[nout].msg_hdr;
			w->siov[nout].iov_base = resp;
			w->siov[nout].iov_len = len;
			o->msg_name = &w->peer[j];
			o->msg_namelen = h->msg_namelen;
			o->msg_iov = &w->siov[nout];
			o->msg_iovlen = 1;
			o->msg_controllen = l->wildcard ? reply_pktinfo(h, &w->sctl[nout]) : 0;
			o->msg_control = o->msg_controllen ? w->sctl[nout].buf : NULL;
			o->msg_flags = 0;
			nout++;
		}
		if (nout > 0)
			worker_send(w, fd, nout);
		if (n < UDP_BATCH)
			return;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	nfds_t nfds = w->nsocks + 1;

	urcu_memb_register_thread();
	for (;;) {
		int n = poll(w->pfds, nfds, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			char eb[128];
			log_err("worker stopped worker=%u error=\"%s\"", w->id,
				worker_strerror(errno, eb, sizeof(eb)));
			break;
		}
		/* The eventfd is never read, so it wakes every worker. */
		if (w->pfds[w->nsocks].revents)
			break;
		for (nfds_t i = 0; i < w->nsocks; i++) {
			if (w->pfds[i].revents & (POLLIN | POLLERR))
				worker_udp(w, i);
		}
	}
	urcu_memb_unregister_thread();
	return NULL;
}

static void workers_free(struct workers *ws)
{
	if (ws == NULL)
		return;
	for (unsigned i = 0; ws->w && i < ws->n; i++)
		worker_free(ws->w[i]);
	free(ws->w);
	if (ws->stop_fd >= 0)
		close(ws->stop_fd);
	free(ws);
}

/* A generation of n workers over the sockets of ls, not started. edns is
 * the advertised EDNS size: replies never exceed it (the engine limits a
 * UDP answer to the smaller of the client's size and ours, and never writes
 * past resp_cap). */
static int workers_new(struct server *srv, struct listener *const *ls, size_t nls, unsigned n,
		       uint16_t edns, struct workers **out)
{
	struct workers *ws;

	*out = NULL;
	if (n > srv->nudp_ms) {
		struct metrics_shard **ms = realloc(srv->udp_ms, n * sizeof(*ms));
		if (ms == NULL)
			return GSLB_ENOMEM;
		srv->udp_ms = ms;
		for (; srv->nudp_ms < n; srv->nudp_ms++) {
			ms[srv->nudp_ms] = metrics_shard_new(srv->metrics, &metrics_dns_set);
			if (ms[srv->nudp_ms] == NULL)
				return GSLB_ENOMEM;
		}
	}
	ws = calloc(1, sizeof(*ws));
	if (ws == NULL)
		return GSLB_ENOMEM;
	ws->n = n;
	ws->resp_cap = edns > DNS_MIN_UDP ? edns : DNS_MIN_UDP;
	ws->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ws->w = calloc(n, sizeof(*ws->w));
	if (ws->stop_fd < 0 || ws->w == NULL) {
		int rc = ws->stop_fd < 0 ? GSLB_ESYS : GSLB_ENOMEM;
		if (ws->stop_fd < 0)
			log_err("cannot create eventfd error=\"%s\"", strerror(errno));
		workers_free(ws);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		ws->w[i] = worker_new(srv, ws, i, ls, nls);
		if (ws->w[i] == NULL) {
			workers_free(ws);
			return GSLB_ENOMEM;
		}
	}
	*out = ws;
	return GSLB_OK;
}

/* Wake every thread of the generation to stop (the eventfd is never read,
 * so one write wakes them all). */
static void workers_wake(struct workers *ws)
{
	uint64_t one = 1;

	if (ws == NULL || ws->woken)
		return;
	if (write(ws->stop_fd, &one, sizeof(one)) < 0)
		log_err("cannot wake workers error=\"%s\"", strerror(errno));
	ws->woken = 1;
}

static void workers_join(struct workers *ws)
{
	for (unsigned i = 0; ws && i < ws->n; i++) {
		if (ws->w[i]->started) {
			pthread_join(ws->w[i]->thread, NULL);
			ws->w[i]->started = 0;
		}
	}
}

/* Start every thread of the generation. They inherit a mask with every
 * signal blocked, so signals reach the main thread's loop and never
 * interrupt a worker. On failure the ones started are stopped again. */
static int workers_start(struct workers *ws)
{
	sigset_t all, old;
	int rc = GSLB_OK;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < ws->n; i++) {
		int err = pthread_create(&ws->w[i]->thread, NULL, worker_main, ws->w[i]);
		if (err) {
			log_err("cannot start worker worker=%u error=\"%s\"", i, strerror(err));
			rc = GSLB_ESYS;
			break;
		}
		ws->w[i]->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		workers_wake(ws);
		workers_join(ws);
	}
	return rc;
}

/* ---- TCP ------------------------------------------------------------ */

/* The settings in force (TCP limits): the published snapshot's config.
 * Only the loop thread calls this, and it is the thread that publishes and
 * retires snapshots, so the pointer stays valid without a read-side
 * section. */
static const struct conf *live_conf(const struct server *srv)
{
	return srv->snap ? srv->snap->conf : srv->conf;
}

static void conn_serve(struct tcp_conn *c);

static void conn_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;

	c->pending_close--;
	if (c->pending_close == 0)
		free(c);
}

static void conn_unlink(struct tcp_conn *c)
{
	struct server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void conn_link_first(struct tcp_conn *c)
{
	struct server *srv = c->srv;

	c->prev = NULL;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	else
		srv->conns_tail = c;
	srv->conns = c;
}

/* Close at once. Whatever is buffered, an incomplete message included, is
 * dropped. */
static void conn_close(struct tcp_conn *c)
{
	struct server *srv = c->srv;
	unsigned max = live_conf(srv)->tcp_max_connections;

	if (c->closing)
		return;
	c->closing = 1;
	conn_unlink(c);
	srv->nconns--;
	/* Re-arm the warning only well below the cap, so that a client
	 * hammering at the limit does not make a log line per connection. */
	if (srv->nconns <= max - max / 4)
		srv->tcp_full_logged = 0;
	c->pending_close = 2;
	uv_close((uv_handle_t *)&c->timer, conn_closed);
	uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void conn_timeout(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;

	log_debug("tcp connection idle, closing nqueries=%u", c->nqueries);
	conn_close(c);
}

/* RFC 7766 6.2.3: the idle timeout runs from the last activity. The
 * connection also becomes the most recently active one. */
static void conn_touch(struct tcp_conn *c)
{
	const struct conf *cf = live_conf(c->srv);

	if (c->srv->conns != c) {
		conn_unlink(c);
		conn_link_first(c);
	}
	uint64_t ms = (uint64_t)(cf->tcp_idle_timeout * 1000.0);
	if (cf->tcp_max_lifetime > 0) {
		/* A slow client cannot keep a connection forever: the idle
		 * timer never runs past the connection's total lifetime. */
		uint64_t age = uv_now(&c->srv->loop) - c->born;
		uint64_t life = (uint64_t)(cf->tcp_max_lifetime * 1000.0);
		uint64_t left = age < life ? life - age : 1;
		if (left < ms)
			ms = left;
	}

	uv_timer_start(&c->timer, conn_timeout, ms ? ms : 1, 0);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;

	(void)suggested;
	if (c->draining) {
		c->rpos = c->rlen = 0;
	} else if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	/* Never empty: a complete frame is at most TCP_FRAME_MAX bytes and is
	 * consumed before reading resumes. */
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(TCP_FRAME_MAX - c->rlen));
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;

	(void)buf;
	if (nread < 0) {
		/* EOF or error; an incomplete message is dropped with it. */
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	conn_touch(c);
	if (c->draining)
		return; /* conn_alloc discards it */
	c->rlen += (size_t)nread;
	conn_serve(c);
}

static void conn_read_start(struct tcp_conn *c)
{
	int rc;

	if (c->reading || c->closing)
		return;
	rc = uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read);
	if (rc) {
		conn_close(c);
		return;
	}
	c->reading = 1;
}

static void conn_read_stop(struct tcp_conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop((uv_stream_t *)&c->h);
	c->reading = 0;
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	struct tcp_conn *c = req->handle->data;

	if (status < 0)
		conn_close(c);
	/* Otherwise keep reading until the client closes too (or the idle
	 * timer fires): closing with unread input would send a RST, which can
	 * destroy our last replies before the client has read them. */
}

static void conn_written(uv_write_t *req, int status)
{
	struct tcp_conn *c = req->handle->data;

	c->writing = 0;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->closing)
		return;
	conn_touch(c);
	conn_read_start(c);
	conn_serve(c);
}

/* Send wbuf[0..total): straight away when the socket takes it all (the
 * usual case), else through uv_write, pausing input until it is done. */
static int conn_send(struct tcp_conn *c, size_t total)
{
	uv_stream_t *s = (uv_stream_t *)&c->h;
	uv_buf_t b = uv_buf_init((char *)c->wbuf, (unsigned)total);
	int r;

	r = uv_try_write(s, &b, 1);
	if (r >= 0 && (size_t)r == total)
		return GSLB_OK;
	if (r < 0 && r != UV_EAGAIN) {
		conn_close(c);
		return GSLB_EIO;
	}
	if (r < 0)
		r = 0;
	b = uv_buf_init((char *)c->wbuf + r, (unsigned)(total - (size_t)r));
	r = uv_write(&c->wreq, s, &b, 1, conn_written);
	if (r) {
		conn_close(c);
		return GSLB_EIO;
	}
	c->writing = 1;
	conn_read_stop(c);
	return GSLB_OK;
}

/* Answer every complete message in the read buffer, in order, one reply in
 * flight at a time. */
static void conn_serve(struct tcp_conn *c)
{
	struct server *srv = c->srv;
	unsigned maxq = live_conf(srv)->tcp_max_queries;

	while (!c->writing && !c->draining && !c->closing) {
		struct wire w;
		const uint8_t *msg;
		size_t mlen, len = 0;

		wire_init(&w, c->rbuf + c->rpos, c->rlen - c->rpos);
		mlen = wire_u16(&w);
		msg = wire_take(&w, mlen);
		if (!wire_ok(&w))
			break; /* incomplete: wait for more */
		c->rpos += 2 + mlen;
		c->nqueries++;
		/* A zero-length frame holds no message: skip it. */
		if (mlen > 0) {
			struct dns_request req = {
				.query = msg,
				.query_len = mlen,
				.resp = c->wbuf + 2,
				.resp_cap = DNS_MAX_MSG,
				.transport = DNS_TCP,
				.peer = (const struct sockaddr *)&c->peer,
				.peer_len = (socklen_t)c->peer_len,
				.entropy = rng_next(&c->srv->rng),
			};
			const struct snapshot *snap;

			struct dns_info info;
			urcu_memb_read_lock();
			snap = rcu_dereference(srv->snap);
			int acl = acl_verdict(snap, req.peer);
			if (acl == ACL_DROP) {
				metrics_inc(srv->tcp_ms, MDNS_ACL, MACL_DROP);
				urcu_memb_read_unlock();
				conn_close(c);
				return;
			}
			if (acl == ACL_REFUSE) {
				len = dns_refuse(&req);
				metrics_inc(srv->tcp_ms, MDNS_ACL, MACL_REFUSE);
			} else {
				len = dns_process(snap, &req, &info);
				/* info->service points into the snapshot: count inside. */
				metrics_dns(srv->tcp_ms, MT_TCP, len, &info);
			}
			urcu_memb_read_unlock();
		}
		if (maxq && c->nqueries >= maxq)
			c->draining = 1;
		if (len > 0) {
			c->wbuf[0] = (uint8_t)(len >> 8);
			c->wbuf[1] = (uint8_t)len;
			if (conn_send(c, len + 2))
				return;
		}
	}
	if (c->draining && !c->writing && !c->closing && !c->shut) {
		/* Last query answered: FIN after the reply, as RFC 7766 6.2.2
		 * lets a server end a connection. */
		c->shut = 1;
		c->rpos = c->rlen = 0;
		if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->h, conn_shutdown_done)) {
			conn_close(c);
			return;
		}
		conn_read_start(c);
	}
}

static void free_handle(uv_handle_t *h) { free(h); }

/* Over the connection cap with nothing idle to close: the connection was
 * accepted only to be closed at once, so the client is told now rather
 * than left waiting in the backlog. */
static void tcp_refuse_full(struct server *srv, int fd)
{
	close(fd);
	metrics_inc(srv->tcp_ms, MDNS_TCP_REFUSED, MTCP_FULL);
	if (!srv->tcp_full_logged) {
		log_warn("tcp connection limit reached and no connection idle, refusing new "
			 "connections max_connections=%u",
			 live_conf(srv)->tcp_max_connections);
		srv->tcp_full_logged = 1;
	}
}

/* Open connections from the client network of (family, addr): the peer's
 * address cut to tcp.ipv4_prefix or ipv6_prefix, so that one /64 (or one
 * /24) cannot take every slot. A walk over at most tcp.max_connections
 * entries, once per accept. */
static unsigned conns_from(const struct server *srv, int family, const uint8_t *addr)
{
	const struct conf *cf = live_conf(srv);
	unsigned prefix = family == AF_INET ? cf->tcp_ipv4_prefix : cf->tcp_ipv6_prefix;
	unsigned n = 0;

	for (const struct tcp_conn *o = srv->conns; o; o = o->next)
		if (!o->closing && o->family == family && cidr_same_net(o->addr, addr, prefix))
			n++;
	return n;
}

/* The table is full: close the connection idle the longest (nothing
 * unread, no reply being written) to make room for a new client, as NSD
 * and Knot do; RFC 7766 6.2.3 lets a server close idle connections, and a
 * client reconnects when it needs to. Returns 0 when none is idle. */
static int evict_idle(struct server *srv)
{
	for (struct tcp_conn *c = srv->conns_tail; c; c = c->prev) {
		if (c->closing || c->writing || c->rlen > c->rpos)
			continue;
		if (!srv->tcp_full_logged) {
			log_warn("tcp connection limit reached, closing the longest idle "
				 "connections for new ones max_connections=%u",
				 live_conf(srv)->tcp_max_connections);
			srv->tcp_full_logged = 1;
		}
		log_debug("tcp connection idle the longest closed for a new one nqueries=%u",
			  c->nqueries);
		metrics_inc(srv->tcp_ms, MDNS_TCP_EVICTED, 0);
		conn_close(c);
		return 1;
	}
	return 0;
}

/* Serve an accepted connection fd from peer, or close it (tcp limits). */
static void tcp_take(struct server *srv, int fd, const struct sockaddr_storage *peer,
		     socklen_t peer_len)
{
	const struct conf *cf = live_conf(srv);
	uint8_t addr[16];
	int family = cidr_sockaddr_ip((const struct sockaddr *)peer, addr);
	struct tcp_conn *c;

	if (srv->stopping) {
		close(fd);
		return;
	}
	if (cf->tcp_max_per_ip && family && conns_from(srv, family, addr) >= cf->tcp_max_per_ip) {
		log_debug("tcp connection refused: max_per_ip reached for the client's network");
		metrics_inc(srv->tcp_ms, MDNS_TCP_REFUSED, MTCP_PER_IP);
		close(fd);
		return;
	}
	if (srv->nconns >= cf->tcp_max_connections && !evict_idle(srv)) {
		tcp_refuse_full(srv, fd);
		return;
	}
	/* The buffers are sized for the largest message at accept time and
	 * never grow; malloc, not calloc: they need no zeroing. */
	c = malloc(sizeof(*c) + 2 * (size_t)TCP_FRAME_MAX);
	if (c == NULL) {
		log_warn("tcp connection dropped error=\"out of memory\"");
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->srv = srv;
	c->rbuf = c->mem;
	c->wbuf = c->mem + TCP_FRAME_MAX;
	memcpy(&c->peer, peer, peer_len);
	c->peer_len = (int)peer_len;
	c->family = family;
	memcpy(c->addr, addr, sizeof(c->addr));
	uv_tcp_init(&srv->loop, &c->h);
	uv_timer_init(&srv->loop, &c->timer);
	c->h.data = c;
	c->timer.data = c;
	conn_link_first(c);
	srv->nconns++;
	if (uv_tcp_open(&c->h, fd)) {
		close(fd); /* not the handle's */
		conn_close(c);
		return;
	}
	c->born = uv_now(&srv->loop);
	/* Replies are written whole; there is nothing to coalesce. */
	(void)uv_tcp_nodelay(&c->h, 1);
	conn_touch(c);
	conn_read_start(c);
}

/* Out of descriptors pause length, and connections accepted per readiness
 * event of one listener (the others get their turn). */
#define ACCEPT_PAUSE_MS 250
#define ACCEPT_BATCH 64

static void accept_resume(uv_timer_t *t)
{
	struct server *srv = t->data;

	srv->accept_paused = 0;
	fdlimit_reserve_open(); /* if a shed could not */
	for (size_t i = 0; i < srv->nls; i++)
		if (srv->ls[i]->tcp_init && !uv_is_closing((uv_handle_t *)&srv->ls[i]->tcp))
			uv_poll_start(&srv->ls[i]->tcp, UV_READABLE, tcp_readable);
}

/* accept() ran out of descriptors: the connections waiting on l are
 * accepted and closed with the reserve descriptor (fdlimit_shed: counted,
 * logged once an interval), and no listener is polled for ACCEPT_PAUSE_MS,
 * so the loop goes on serving, reaping closed connections and handling
 * signals instead of retrying accept() at once. Once descriptors are free
 * again, accepting resumes by itself. */
static void accept_pause(struct server *srv, struct listener *l)
{
	(void)fdlimit_shed(FDL_DNS, l->tcp_fd);
	if (srv->accept_paused || !srv->accept_timer_init)
		return;
	srv->accept_paused = 1;
	for (size_t i = 0; i < srv->nls; i++)
		if (srv->ls[i]->tcp_init && !uv_is_closing((uv_handle_t *)&srv->ls[i]->tcp))
			uv_poll_stop(&srv->ls[i]->tcp);
	uv_timer_start(&srv->accept_timer, accept_resume, ACCEPT_PAUSE_MS, 0);
}

static void tcp_readable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	struct server *srv = l->srv;

	(void)events;
	if (status < 0) {
		log_warn("tcp listener failed address=%s port=%u error=\"%s\"", l->host, l->port,
			 uv_strerror(status));
		uv_poll_stop(h);
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH && !srv->stopping && !srv->accept_paused; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->tcp_fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			tcp_take(srv, fd, &peer, len);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue; /* a client gone before we took it */
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			accept_pause(srv, l);
			return;
		case EAGAIN:
			return;
		default:
			log_warn("tcp accept failed address=%s port=%u error=\"%s\"", l->host,
				 l->port, strerror(errno));
			return;
		}
	}
}

/* ---- life cycle ------------------------------------------------------- */

/* Begin a clean stop from the loop: wake the workers, close every handle;
 * uv_run() returns once the last close callback has run. */
static void server_stop(struct server *srv)
{
	if (srv->stopping)
		return;
	notify_stopping();
	/* The admin thread may wait for a reload: answer it, then stop it. */
	reload_answer(srv, srv->reload_asked, GSLB_EINVAL, "stopping");
	admin_stop(srv->admin);
	srv->admin = NULL;
	http_stop(srv->http);
	srv->http = NULL;
	if (srv->reload_async_init) {
		uv_close((uv_handle_t *)&srv->reload_async, NULL);
		srv->reload_async_init = 0;
	}
	srv->stopping = 1;
	workers_wake(srv->ws);
	for (size_t i = 0; i < srv->nls; i++) {
		struct listener *l = srv->ls[i];
		if (l && l->tcp_init && !uv_is_closing((uv_handle_t *)&l->tcp))
			uv_close((uv_handle_t *)&l->tcp, NULL);
	}
	if (srv->accept_timer_init) {
		uv_close((uv_handle_t *)&srv->accept_timer, NULL);
		srv->accept_timer_init = 0;
	}
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->sig_init) {
		uv_close((uv_handle_t *)&srv->sig_term, NULL);
		uv_close((uv_handle_t *)&srv->sig_int, NULL);
		uv_close((uv_handle_t *)&srv->sig_hup, NULL);
		srv->sig_init = 0;
	}
	for (int i = 0; i < 3; i++) {
		if (srv->geo_poll[i]) {
			uv_close((uv_handle_t *)srv->geo_poll[i], free_handle);
			srv->geo_poll[i] = NULL;
		}
	}
	if (srv->geo_settle_init) {
		uv_close((uv_handle_t *)&srv->geo_settle, NULL);
		srv->geo_settle_init = 0;
	}
}

/* ---- reload ------------------------------------------------------------ */

/* A reload builds the new snapshot on libuv's thread pool (parsing zones and
 * opening databases must not stall TCP or signals), publishes it with one
 * pointer store, waits out the RCU grace period on the pool again, and only
 * then frees the old one. A failed build changes nothing. */
struct reload_job {
	uv_work_t req;
	struct server *srv;
	int kind;
	uint64_t ticket; /* admin requests this reload answers */
	const struct snapshot *old;
	struct snapshot *result;
	int rc;
	char err[1024];
};

struct retire_job {
	uv_work_t req;
	struct server *srv;
	struct snapshot *old;
};

static void reload_start(struct server *srv);
static int needs_prober(const struct conf *c);
static void geo_watch(struct server *srv);

/* Tell admin requests waiting for a reload how it went. */
static void reload_answer(struct server *srv, uint64_t ticket, int rc, const char *err)
{
	if (ticket == 0)
		return;
	pthread_mutex_lock(&srv->reload_mu);
	if (ticket > srv->reload_answered) {
		srv->reload_answered = ticket;
		srv->reload_rc = rc;
		snprintf(srv->reload_err, sizeof(srv->reload_err), "%s", err ? err : "");
	}
	pthread_cond_broadcast(&srv->reload_cv);
	pthread_mutex_unlock(&srv->reload_mu);
}

static void reload_work(uv_work_t *req)
{
	struct reload_job *j = req->data;
	j->err[0] = '\0';
	if (j->kind & RELOAD_FULL) {
		j->rc = snapshot_load(j->srv->conf_path, &j->result, j->err, sizeof(j->err));
		/* New limits must fit in the descriptors the process has. */
		if (j->rc == GSLB_OK)
			j->rc = fdlimit_check(j->result->conf, fdlimit_current(), j->err,
					      sizeof(j->err));
	} else
		j->rc = snapshot_regeo(j->old, &j->result, j->err, sizeof(j->err));
}

static void retire_work(uv_work_t *req)
{
	(void)req;
	/* Every reader that could still see the old snapshot leaves its
	 * read-side section before this returns. */
	urcu_memb_synchronize_rcu();
}

static void retire_done(uv_work_t *req, int status)
{
	struct retire_job *r = req->data;
	struct server *srv = r->srv;
	(void)status;
	snapshot_free(r->old);
	free(r);
	snapshot_memory_release();
	srv->reload_running = 0;
	if (srv->reload_pending && !srv->stopping)
		reload_start(srv);
}

/* Same family, address and port (and IPv6 scope). */
static int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	const struct sockaddr_in *x = (const struct sockaddr_in *)a;
	const struct sockaddr_in *y = (const struct sockaddr_in *)b;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int http_listen_changed(const struct conf *a, const struct conf *b)
{
	if (a->nhttp != b->nhttp)
		return 1;
	for (size_t i = 0; i < a->nhttp; i++) {
		const struct conf_http_listen *x = &a->http[i], *y = &b->http[i];
		if (!same_sockaddr(&x->l.addr, &y->l.addr) || x->ncerts != y->ncerts)
			return 1;
		for (size_t c = 0; c < x->ncerts; c++)
			if (!same_str(x->certs[c].name, y->certs[c].name) ||
			    !same_str(x->certs[c].cert, y->certs[c].cert) ||
			    !same_str(x->certs[c].key, y->certs[c].key))
				return 1;
	}
	return 0;
}

/* What a full reload changes on the network side.
 *
 * Everything that can fail is done first, while the running set keeps
 * serving untouched: new addresses are bound (TCP listening, UDP sockets in
 * their SO_REUSEPORT group), kept addresses get more UDP sockets when there
 * are more workers, a new admin listener is started, and when the sockets,
 * the worker count or the EDNS size change, a new generation of workers is
 * started over the new socket set. Only then (net_commit, after the
 * snapshot is published) is the old generation stopped and are removed
 * addresses closed; on any failure net_rollback undoes the new parts and
 * the old state is exactly as it was.
 *
 * Nothing is dropped on a kept address while workers change: its sockets
 * stay open the whole time, so the kernel keeps queuing datagrams on them
 * (up to UDP_RCVBUF each), and for a moment both generations poll the same
 * sockets; whichever thread's recvmmsg() takes a datagram answers it, and
 * none is read twice. The TCP listener of a kept address is not touched at
 * all, nor are open connections. A removed address stops answering once
 * its sockets are closed (clients then get ICMP port unreachable or a
 * refused connection); connections already accepted on it are served
 * until they end. */
struct net_plan {
	struct listener **ls; /* the new set in config order: kept and fresh */
	size_t nls;
	struct workers *ws;  /* the new generation, running; NULL = keep */
	struct admin *admin; /* the new admin listener (when changed) */
	int admin_changed;
	int active;
};

static void admin_retire_later(struct server *srv, struct admin *a);

static void net_rollback(struct server *srv, struct net_plan *p)
{
	if (!p->active)
		return;
	if (p->ws) {
		workers_wake(p->ws);
		workers_join(p->ws);
		workers_free(p->ws);
	}
	for (size_t i = 0; i < p->nls; i++) {
		struct listener *l = p->ls[i];
		if (l->fresh) {
			listener_retire(l);
			continue;
		}
		for (unsigned s = l->nudp_before; s < l->nudp; s++)
			close_fd(&l->udp_fds[s]);
		l->nudp = l->nudp_before;
	}
	for (size_t i = 0; i < srv->nls; i++)
		srv->ls[i]->kept = 0;
	/* Not admin_stop here: a request on the new listener may be waiting
	 * for a reload, which only the loop can run. */
	admin_retire_later(srv, p->admin);
	free(p->ls);
	memset(p, 0, sizeof(*p));
}

static int net_prepare(struct server *srv, const struct conf *nc, struct net_plan *p, char *err,
		       size_t errlen)
{
	unsigned n = nc->workers ? nc->workers : 1;
	uint16_t edns = nc->edns_size;
	int changed = 0;
	int rc = GSLB_OK;

	memset(p, 0, sizeof(*p));
	p->active = 1;
	p->ls = calloc(nc->ndns ? nc->ndns : 1, sizeof(*p->ls));
	if (p->ls == NULL) {
		rc = GSLB_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		srv->ls[i]->kept = 0;
		srv->ls[i]->nudp_before = srv->ls[i]->nudp;
	}
	for (size_t i = 0; i < nc->ndns; i++) {
		struct listener *l = NULL;

		for (size_t k = 0; k < srv->nls && l == NULL; k++)
			if (!srv->ls[k]->kept &&
			    same_sockaddr(&srv->ls[k]->conf_addr, &nc->dns[i].addr))
				l = srv->ls[k];
		if (l != NULL) {
			l->kept = 1;
			p->ls[p->nls++] = l;
			if (l->nudp < n) {
				changed = 1;
				rc = listener_grow(l, n, err, errlen);
				if (rc)
					goto out;
			}
			continue;
		}
		changed = 1;
		rc = listener_new(srv, &nc->dns[i], n, &l, err, errlen);
		if (rc)
			goto out;
		l->fresh = 1;
		p->ls[p->nls++] = l;
		rc = listener_serve_tcp(srv, l, err, errlen);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < srv->nls; i++)
		if (!srv->ls[i]->kept)
			changed = 1;
	if (changed || n != srv->ws->n ||
	    (edns > DNS_MIN_UDP ? edns : DNS_MIN_UDP) != srv->ws->resp_cap) {
		rc = workers_new(srv, p->ls, p->nls, n, edns, &p->ws);
		if (rc == GSLB_OK)
			rc = workers_start(p->ws);
		if (rc) {
			snprintf(err, errlen, "cannot start the workers: %s", gslb_strerror(rc));
			goto out;
		}
	}
	p->admin_changed = (nc->admin != NULL) != srv->admin_on ||
			   (nc->admin && !same_sockaddr(&nc->admin->addr, &srv->admin_addr));
	if (p->admin_changed && nc->admin) {
		/* The old listener still holds its address: a new one that
		 * overlaps it (same port, 127.0.0.1 to 0.0.0.0) cannot be
		 * bound now and needs a restart. */
		rc = admin_start(nc->admin, &srv->admin_hooks, &p->admin);
		if (rc) {
			snprintf(err, errlen,
				 "%s: listen.admin \"%s\": cannot listen (see the log)", nc->path,
				 nc->admin->text ? nc->admin->text : "?");
			goto out;
		}
	}
out:
	if (rc)
		net_rollback(srv, p);
	return rc;
}

/* Switch to the prepared set; cannot fail. The new snapshot is already
 * published. */
static void net_commit(struct server *srv, struct net_plan *p, const struct conf *nc)
{
	if (!p->active)
		return;
	if (p->ws) {
		/* The new generation serves every socket already. */
		workers_wake(srv->ws);
		workers_join(srv->ws);
		workers_free(srv->ws);
		srv->ws = p->ws;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		struct listener *l = srv->ls[i];
		if (l->kept)
			continue;
		log_info("stopped listening proto=udp address=%s port=%u", l->host, l->port);
		log_info("stopped listening proto=tcp address=%s port=%u", l->host, l->port);
		listener_retire(l);
	}
	for (size_t i = 0; i < p->nls; i++) {
		struct listener *l = p->ls[i];
		if (l->fresh) {
			log_info("listening proto=udp address=%s port=%u", l->host, l->port);
			log_info("listening proto=tcp address=%s port=%u", l->host, l->port);
		}
		l->kept = l->fresh = 0;
	}
	if (p->ws)
		log_info("workers restarted workers=%u addresses=%zu", srv->ws->n, p->nls);
	free(srv->ls);
	srv->ls = p->ls;
	srv->nls = p->nls;
	if (p->admin_changed) {
		admin_retire_later(srv, srv->admin);
		srv->admin = p->admin;
		srv->admin_on = nc->admin != NULL;
		if (nc->admin)
			memcpy(&srv->admin_addr, &nc->admin->addr, nc->admin->addr_len);
	}
	memset(p, 0, sizeof(*p));
}

/* Settings a reload cannot apply: say so, each time they differ from the
 * running ones. */
static void reload_warn_restart(struct server *srv, const struct conf *nc)
{
	if (!same_str(srv->conf->state_dir, nc->state_dir))
		log_warn("state_dir changed; it takes effect at the next restart old=%s new=%s",
			 srv->conf->state_dir ? srv->conf->state_dir : "(none)",
			 nc->state_dir ? nc->state_dir : "(none)");
	if (http_listen_changed(srv->conf, nc))
		log_warn("listen.http changed; it takes effect at the next restart");
	/* The redirect listener's daemons are set up with these at start. */
	if (srv->conf->http_max_connections != nc->http_max_connections ||
	    srv->conf->http_max_per_ip != nc->http_max_per_ip ||
	    srv->conf->http_header_limit != nc->http_header_limit ||
	    srv->conf->http_request_timeout != nc->http_request_timeout)
		log_warn("http limits changed; they take effect at the next restart");
}

/* The old admin listener, replaced by a reload, is stopped on the thread
 * pool: the request that asked for the reload may still be on it, waiting
 * to send its answer. */
struct admin_retire_job {
	uv_work_t req;
	struct admin *a;
};

static void admin_retire_work(uv_work_t *req)
{
	struct admin_retire_job *r = req->data;
	admin_retire(r->a, ADMIN_RETIRE_WAIT_S);
}

static void admin_retire_done(uv_work_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void admin_retire_later(struct server *srv, struct admin *a)
{
	struct admin_retire_job *r;

	if (a == NULL)
		return;
	r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->a = a;
		r->req.data = r;
	}
	if (r == NULL ||
	    uv_queue_work(&srv->loop, &r->req, admin_retire_work, admin_retire_done) != 0) {
		/* Out of memory: stop it here; a waiting request is cut. */
		free(r);
		admin_stop(a);
		return;
	}
}

/* A reload that fails after the snapshot was built: nothing was switched. */
static void reload_failed(struct server *srv, struct reload_job *j, const char *what, int rc,
			  const char *err)
{
	log_err("reload failed, still serving the previous state what=%s error=\"%s\"", what, err);
	reload_answer(srv, j->ticket, rc, err);
	metrics_reload(srv->metrics, 0, (int64_t)time(NULL));
	if (j->kind & RELOAD_FULL) {
		notify_status("reload failed, serving the previous state: %s", err);
		notify_ready();
	}
	snapshot_free(j->result);
	free(j);
	snapshot_memory_release();
	srv->reload_running = 0;
	if (srv->reload_pending && !srv->stopping)
		reload_start(srv);
}

static void reload_done(uv_work_t *req, int status)
{
	struct reload_job *j = req->data;
	struct server *srv = j->srv;
	const char *what = (j->kind & RELOAD_FULL) ? "config" : "data-files";

	if (status != 0 || j->rc != 0 || srv->stopping) {
		if (status == 0 && j->rc != 0)
			log_err("reload failed, still serving the previous state what=%s "
				"error=\"%s\"",
				what, j->err);
		reload_answer(srv, j->ticket, j->rc ? j->rc : GSLB_EINVAL,
			      j->rc ? j->err : "stopping");
		if (status == 0 && j->rc != 0)
			metrics_reload(srv->metrics, 0, (int64_t)time(NULL));
		if ((j->kind & RELOAD_FULL) && !srv->stopping) {
			notify_status("reload failed, serving the previous state: %s", j->err);
			notify_ready();
		}
		snapshot_free(j->result);
		free(j);
		snapshot_memory_release();
		srv->reload_running = 0;
		if (srv->reload_pending && !srv->stopping)
			reload_start(srv);
		return;
	}
	struct snapshot *old = srv->snap;
	struct net_plan plan = { 0 };
	j->result->generation = old->generation + 1;
	/* Sockets first: after prober_adopt() the new snapshot must be
	 * published, so nothing that can fail may come after it. */
	if (j->kind & RELOAD_FULL) {
		int rc = net_prepare(srv, j->result->conf, &plan, j->err, sizeof(j->err));
		if (rc) {
			reload_failed(srv, j, what, rc, j->err);
			return;
		}
	}
	metrics_bind(srv->metrics, j->result);
	if (srv->prober && prober_adopt(srv->prober, j->result) != 0) {
		net_rollback(srv, &plan);
		reload_failed(srv, j, what, GSLB_ENOMEM, "cannot carry health state over");
		return;
	}
	if (!srv->prober && j->result->conf->nservices > 0)
		log_warn("the new config has services; probing and overrides start at the next "
			 "restart");
	if (j->kind & RELOAD_FULL)
		reload_warn_restart(srv, j->result->conf);
	rcu_assign_pointer(srv->snap, j->result);
	net_commit(srv, &plan, j->result->conf);
	log_info("reloaded what=%s generation=%llu zones=%zu services=%zu", what,
		 (unsigned long long)j->result->generation, j->result->zones->nzones,
		 j->result->conf->nservices);
	reload_answer(srv, j->ticket, GSLB_OK, NULL);
	if (j->kind & RELOAD_FULL)
		admin_set_token(srv->admin, srv->snap->conf->admin_token,
				srv->snap->conf->admin_require_token);
	metrics_reload(srv->metrics, 1, (int64_t)time(NULL));
	if (j->kind & RELOAD_FULL) {
		log_configure(&j->result->conf->log);
		privs_reload_check(srv->conf, j->result->conf);
		notify_status("serving generation %llu", (unsigned long long)j->result->generation);
		notify_ready();
	}
	free(j);
	geo_watch(srv); /* the files to watch may have changed */

	struct retire_job *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		/* Cannot wait asynchronously: wait here, it is short. */
		urcu_memb_synchronize_rcu();
		snapshot_free(old);
		snapshot_memory_release();
		srv->reload_running = 0;
		return;
	}
	r->srv = srv;
	r->old = old;
	r->req.data = r;
	uv_queue_work(&srv->loop, &r->req, retire_work, retire_done);
}

static void reload_start(struct server *srv)
{
	struct reload_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		log_err("reload failed error=\"out of memory\"");
		return;
	}
	j->srv = srv;
	j->kind = srv->reload_pending;
	if (j->kind & RELOAD_FULL) {
		notify_reloading(); /* reload_done() says READY=1 again */
		pthread_mutex_lock(&srv->reload_mu);
		j->ticket = srv->reload_asked;
		pthread_mutex_unlock(&srv->reload_mu);
	}
	j->old = srv->snap; /* stays alive: only a finished reload retires it */
	j->req.data = j;
	srv->reload_pending = 0;
	srv->reload_running = 1;
	uv_queue_work(&srv->loop, &j->req, reload_work, reload_done);
}

static void reload_request(struct server *srv, int kind)
{
	srv->reload_pending |= kind;
	if (!srv->reload_running && !srv->stopping)
		reload_start(srv);
}

static void on_reload_async(uv_async_t *h)
{
	struct server *srv = h->data;
	log_info("reloading by=admin");
	reload_request(srv, RELOAD_FULL);
}

static int same_stat(const uv_stat_t *a, const uv_stat_t *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* GEO_SETTLE_MS after the last change seen: while any waiting file has
 * changed again, wait once more; when every one is as it was, reload them
 * all at once. */
static void on_geo_settle(uv_timer_t *t)
{
	struct server *srv = t->data;
	char path[3][1024];
	int again = 0, ready = 0;
	for (int i = 0; i < 3; i++) {
		size_t plen = sizeof(path[i]);
		uv_fs_t req;
		if (!srv->geo_waiting[i] || !srv->geo_poll[i] ||
		    uv_fs_poll_getpath(srv->geo_poll[i], path[i], &plen) != 0) {
			srv->geo_waiting[i] = 0;
			continue;
		}
		if (uv_fs_stat(&srv->loop, &req, path[i], NULL) != 0) {
			srv->geo_waiting[i] = 0; /* gone again: the poll says so */
		} else if (!same_stat(&req.statbuf, &srv->geo_seen[i])) {
			srv->geo_seen[i] = req.statbuf;
			again = 1;
			log_debug("data file still changing, waiting file=%s", path[i]);
		}
		uv_fs_req_cleanup(&req);
	}
	if (again) {
		uv_timer_start(&srv->geo_settle, on_geo_settle, GEO_SETTLE_MS, 0);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (!srv->geo_waiting[i])
			continue;
		srv->geo_waiting[i] = 0;
		ready = 1;
		log_info("data file changed, reloading file=%s", path[i]);
	}
	if (ready)
		reload_request(srv, RELOAD_GEO);
}

static void on_geo_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
	struct server *srv = h->data;
	char path[1024];
	size_t plen = sizeof(path);
	(void)prev;
	if (uv_fs_poll_getpath(h, path, &plen) != 0)
		snprintf(path, sizeof(path), "?");
	if (status < 0) {
		log_warn("data file unreadable, keeping the loaded data file=%s error=\"%s\"", path,
			 uv_strerror(status));
		return;
	}
	int i = 0;
	while (i < 3 && srv->geo_poll[i] != h)
		i++;
	if (i == 3)
		return; /* a watcher being replaced */
	srv->geo_seen[i] = *curr;
	srv->geo_waiting[i] = 1;
	if (!srv->geo_settle_init) {
		uv_timer_init(&srv->loop, &srv->geo_settle);
		srv->geo_settle.data = srv;
		srv->geo_settle_init = 1;
	}
	uv_timer_start(&srv->geo_settle, on_geo_settle, GEO_SETTLE_MS, 0);
}

/* Watches the data files the current configuration names. A watcher whose
 * file is unchanged is left running; one whose file changed or went away is
 * closed and, when needed, replaced by a new handle. A handle is never
 * stopped and started again: libuv 1.44's fs-poll keeps per-start state
 * whose timer callback asserts when a stopped handle is restarted before
 * that state is freed (seen on the third reload in a row). */
static void geo_watch(struct server *srv)
{
	const struct geo_conf *g = &srv->snap->conf->geoip;
	const char *paths[3] = { NULL, NULL, NULL };
	if (srv->snap->conf->has_geoip) {
		paths[0] = g->database;
		paths[1] = g->overrides;
	}
	paths[2] = srv->snap->conf->acl_blocklist;
	for (int i = 0; i < 3; i++) {
		uv_fs_poll_t *h = srv->geo_poll[i];
		if (h) {
			char cur[PATH_MAX];
			size_t len = sizeof(cur);
			if (paths[i] && uv_fs_poll_getpath(h, cur, &len) == 0 &&
			    strcmp(cur, paths[i]) == 0)
				continue;
			uv_close((uv_handle_t *)h, free_handle);
			srv->geo_poll[i] = NULL;
		}
		if (!paths[i])
			continue;
		h = calloc(1, sizeof(*h));
		if (h == NULL) {
			log_warn("cannot watch a data file, out of memory file=%s", paths[i]);
			continue;
		}
		uv_fs_poll_init(&srv->loop, h);
		h->data = srv;
		if (uv_fs_poll_start(h, on_geo_change, paths[i], GEO_POLL_MS) != 0) {
			log_warn("cannot watch a data file file=%s", paths[i]);
			uv_close((uv_handle_t *)h, free_handle);
			continue;
		}
		srv->geo_poll[i] = h;
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (signum == SIGHUP) {
		log_info("reloading signal=SIGHUP");
		reload_request(srv, RELOAD_FULL);
		return;
	}
	log_info("stopping signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(srv);
}

int server_new(struct snapshot *snap, struct server **out)
{
	struct server *srv;
	const struct conf *conf;
	unsigned nworkers;
	char err[1024];
	int rc = GSLB_OK;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return GSLB_ENOMEM;
	pthread_mutex_init(&srv->reload_mu, NULL);
	pthread_cond_init(&srv->reload_cv, NULL);
	srv->conf_path = strdup(snap->conf->path);
	if (srv->conf_path == NULL) {
		free(srv);
		return GSLB_ENOMEM;
	}
	/* Re-read, not borrowed: the snapshot's config is freed when a reload
	 * retires it, the one the server was started with must stay. */
	rc = conf_load(srv->conf_path, &srv->own_conf, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		free(srv->conf_path);
		free(srv);
		return rc;
	}
	conf = srv->own_conf;
	srv->conf = conf;
	srv->rng = rng_seed(0);
	srv->metrics = metrics_new();
	srv->rrl = rrl_new();
	if (!srv->rrl) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory or no random source for the RRL key\"");
		goto out;
	}
	srv->tcp_ms = metrics_shard_new(srv->metrics, &metrics_dns_set);
	if (!srv->tcp_ms) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory\"");
		goto out;
	}
	metrics_bind(srv->metrics, snap);
	nworkers = conf->workers ? conf->workers : 1;
	srv->ls = calloc(conf->ndns ? conf->ndns : 1, sizeof(*srv->ls));
	if (srv->ls == NULL) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory\"");
		goto out;
	}
	rc = uv_loop_init(&srv->loop);
	if (rc) {
		log_err("cannot start event loop error=\"%s\"", uv_strerror(rc));
		rc = GSLB_ESYS;
		goto out;
	}
	srv->loop_init = 1;
	uv_timer_init(&srv->loop, &srv->accept_timer);
	srv->accept_timer.data = srv;
	srv->accept_timer_init = 1;
	fdlimit_reserve_open();

	/* Every address is bound before anything is logged as listening, so
	 * a failure leaves no half-started server behind. */
	for (size_t i = 0; i < conf->ndns; i++) {
		rc = listener_new(srv, &conf->dns[i], nworkers, &srv->ls[i], err, sizeof(err));
		if (rc)
			goto out;
		srv->nls++;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		rc = listener_serve_tcp(srv, srv->ls[i], err, sizeof(err));
		if (rc)
			goto out;
	}
	rc = workers_new(srv, srv->ls, srv->nls, nworkers, conf->edns_size, &srv->ws);
	if (rc) {
		log_err("cannot start error=\"%s\"", gslb_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		log_info("listening proto=udp address=%s port=%u", srv->ls[i]->host,
			 srv->ls[i]->port);
		log_info("listening proto=tcp address=%s port=%u", srv->ls[i]->host,
			 srv->ls[i]->port);
	}
	rcu_assign_pointer(srv->snap, snap);
	*out = srv;
	srv = NULL;
out:
	/* On failure the caller keeps the snapshot (srv->snap is still NULL). */
	server_free(srv);
	return rc;
}

/* Probing is needed for checked pools and for host-name members. */
static int needs_prober(const struct conf *c)
{
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t p = 0; p < svc->npools; p++) {
			if (svc->pools[p].check_idx >= 0)
				return 1;
			for (size_t m = 0; m < svc->pools[p].nmembers; m++)
				if (svc->pools[p].members[m].hostname)
					return 1;
		}
	}
	return 0;
}

/* Has the first view any state from a previous run (state_dir)? Then the
 * daemon answers from it at once; otherwise it waits for a probe round. */
static int has_last_known(const struct snapshot *snap)
{
	const struct health *h = snap->health;
	for (size_t i = 0; h && i < h->npools; i++)
		for (size_t m = 0; m < h->pools[i].nmembers; m++)
			if (h->pools[i].members[m].state != HEALTH_UNKNOWN &&
			    strncmp(h->pools[i].members[m].reason, "last known", 10) == 0)
				return 1;
	return 0;
}

/* Before the privilege drop: the prober reads the overrides in state_dir.
 * Without services there is nothing to probe or override. With them the
 * prober runs even when nothing is checked: it owns the admin overrides
 * (drain a region) and publishes their effect. */
static int prepare_prober(struct server *srv)
{
	const struct conf *c = srv->snap->conf;

	if (c->nservices == 0)
		return GSLB_OK;
	return prober_new(srv->snap, c->state_dir, srv->metrics, &srv->prober);
}

/* After the drop: probing (and saving state) begins; a cold start waits
 * for the first round. */
static int start_prober(struct server *srv)
{
	const struct conf *c = srv->snap->conf;
	if (srv->prober == NULL)
		return GSLB_OK;
	int rc = prober_run(srv->prober);
	if (rc)
		return rc;
	if (!needs_prober(c))
		return GSLB_OK;
	if (has_last_known(srv->snap)) {
		log_info("cold start from last-known health state_dir=%s", c->state_dir);
		return GSLB_OK;
	}
	/* Bounded by the slowest check: one full round, then answer. */
	double wait = 1.0;
	size_t checked = 0;
	for (size_t i = 0; i < c->nchecks; i++)
		if (c->checks[i].timeout + 1.0 > wait)
			wait = c->checks[i].timeout + 1.0;
	for (size_t i = 0; i < c->nservices; i++)
		for (size_t p = 0; p < c->services[i].npools; p++)
			if (c->services[i].pools[p].check_idx >= 0)
				checked += c->services[i].pools[p].nmembers;
	/* The prober spreads a big first round at about 4000 probes a second. */
	wait += (double)checked / 4000.0;
	log_info("cold start: waiting for the first probe round max_wait=%.1fs", wait);
	if (prober_wait_first_round(srv->prober, wait) != 0)
		log_warn("first probe round not complete, answering with what is known");
	return GSLB_OK;
}

/* Called on the admin thread: ask the loop for a full reload and wait for
 * the result of one that started after this request. */
static int admin_reload(void *ctx, char *err, unsigned long errlen)
{
	struct server *srv = ctx;
	struct timespec until;
	int rc = GSLB_OK;

	pthread_mutex_lock(&srv->reload_mu);
	uint64_t ticket = ++srv->reload_asked;
	pthread_mutex_unlock(&srv->reload_mu);
	uv_async_send(&srv->reload_async);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 120;
	pthread_mutex_lock(&srv->reload_mu);
	while (srv->reload_answered < ticket && rc == GSLB_OK)
		if (pthread_cond_timedwait(&srv->reload_cv, &srv->reload_mu, &until) != 0)
			rc = GSLB_ERANGE;
	if (rc == GSLB_OK) {
		rc = srv->reload_rc;
		snprintf(err, errlen, "%s", srv->reload_err);
	} else {
		snprintf(err, errlen, "no reload result within 120 s");
	}
	pthread_mutex_unlock(&srv->reload_mu);
	return rc;
}

int server_run(struct server *srv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	int rc = GSLB_OK;

	/* A client that resets a TCP connection must not kill the daemon. */
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, NULL);
	/* The main thread reads the snapshot for TCP queries. */
	urcu_memb_register_thread();
	/* Before the first thread: no_new_privs is inherited, not shared. */
	privs_prepare(srv->conf);

	uv_async_init(&srv->loop, &srv->reload_async, on_reload_async);
	srv->reload_async.data = srv;
	srv->reload_async_init = 1;
	/* Everything that may need root, with no thread running: the
	 * overrides in state_dir (the snapshot read the health state), the
	 * admin and HTTP sockets (DNS in server_new) and TLS keys. */
	rc = prepare_prober(srv);
	/* Set even without listen.admin: a reload may add one. */
	srv->admin_hooks.snap = &srv->snap;
	srv->admin_hooks.prober = srv->prober;
	srv->admin_hooks.reload = admin_reload;
	srv->admin_hooks.ctx = srv;
	srv->admin_hooks.metrics = srv->metrics;
	srv->admin_hooks.token = srv->conf->admin_token;
	srv->admin_hooks.require_token = srv->conf->admin_require_token;
	if (rc == GSLB_OK && srv->conf->admin) {
		memcpy(&srv->admin_addr, &srv->conf->admin->addr, srv->conf->admin->addr_len);
		srv->admin_on = 1;
		rc = admin_bind(srv->conf->admin, &srv->admin_hooks, &srv->admin);
	}
	if (rc == GSLB_OK)
		rc = http_bind(srv->conf, &srv->snap, srv->metrics, &srv->http);
	/* Nothing needs root any more: drop it before the first thread, so
	 * that no probe, state save or request ever runs as root. */
	if (rc == GSLB_OK)
		rc = privs_drop(srv->conf);
	if (rc == GSLB_OK)
		rc = start_prober(srv);
	if (rc == GSLB_OK && srv->admin)
		rc = admin_serve(srv->admin);
	if (rc == GSLB_OK)
		rc = http_serve(srv->http);
	if (rc) {
		http_stop(srv->http);
		srv->http = NULL;
		admin_stop(srv->admin);
		srv->admin = NULL;
		prober_stop(srv->prober);
		srv->prober = NULL;
		urcu_memb_unregister_thread();
		return rc;
	}

	uv_signal_init(&srv->loop, &srv->sig_term);
	uv_signal_init(&srv->loop, &srv->sig_int);
	uv_signal_init(&srv->loop, &srv->sig_hup);
	srv->sig_init = 1;
	srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
	uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);

	rc = workers_start(srv->ws);
	if (rc == GSLB_OK) {
		geo_watch(srv);
		log_info("ready workers=%u zones=%zu", srv->ws->n, srv->snap->conf->nzones);
		notify_ready();
	} else
		server_stop(srv);
	uv_run(&srv->loop, UV_RUN_DEFAULT);

	workers_join(srv->ws);
	admin_stop(srv->admin);
	srv->admin = NULL;
	http_stop(srv->http);
	srv->http = NULL;
	prober_stop(srv->prober);
	srv->prober = NULL;
	urcu_memb_unregister_thread();
	if (rc == GSLB_OK)
		log_info("stopped");
	return rc;
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->loop_init) {
		/* Handles still open (a failed start, or a server never run)
		 * are closed and their callbacks run before the loop goes. */
		srv->stopping = 0;
		server_stop(srv);
		uv_run(&srv->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&srv->loop))
			log_warn("event loop closed with handles still open");
	}
	workers_free(srv->ws);
	/* The loop has run every close callback: free what is left. */
	for (size_t i = 0; srv->ls && i < srv->nls; i++) {
		struct listener *l = srv->ls[i];
		listener_close_fds(l);
		free(l->udp_fds);
		free(l);
	}
	/* Every reader has stopped: no grace period to wait for. */
	snapshot_free(srv->snap);
	conf_free(srv->own_conf);
	free(srv->conf_path);
	pthread_mutex_destroy(&srv->reload_mu);
	pthread_cond_destroy(&srv->reload_cv);
	metrics_free(srv->metrics);
	rrl_free(srv->rrl);
	fdlimit_reserve_close();
	free(srv->udp_ms);
	free(srv->ls);
	free(srv);
}
