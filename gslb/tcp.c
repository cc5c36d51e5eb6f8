/* TCP DNS (RFC 7766) on the libuv loop in the main thread. One query is
 * answered at a time per connection, in order, into a fixed per-connection
 * buffer; pipelined queries wait in the read buffer while a reply is being
 * written, so a connection never holds more than its two 64 KiB buffers
 * whatever the client sends. Limits: tcp.max_connections (the connection
 * idle the longest makes room), tcp.max_per_ip by client network,
 * tcp.max_queries, tcp.idle_timeout and tcp.max_lifetime. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "gslb/net.h"
#include "gslb/config.h"
#include "gslb/dns.h"
#include "gslb/err.h"
#include "gslb/fdlimit.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/serve.h"
#include "gslb/server_int.h"
#include "gslb/snapshot.h"
#include "gslb/wire.h"
#include "gslb/xfr.h"

/* Length prefix plus the largest DNS message. */
#define TCP_FRAME_MAX (2 + DNS_MAX_MSG)

struct tcp_conn {
	struct server *srv;
	struct tcp_conn *prev, *next;
	uv_tcp_t h;
	uv_timer_t timer;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	struct sockaddr_storage peer;
	int peer_len;
	struct sockaddr_storage local; /* getsockname at accept (family 0: unknown) */
	int family;                    /* the peer's address, for max_per_ip (0: unknown) */
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
	uint8_t *xbuf; /* a zone transfer's messages being written, or NULL */
	uint8_t mem[];
};

/* Accept on the TCP socket whenever it is readable. The accepting is
 * ours, not uv_listen's: libuv retries a failing accept() in a loop that
 * never returns once its own reserve descriptor is gone, whereas
 * tcp_readable pauses (accept_pause). */
static void tcp_readable(uv_poll_t *h, int status, int events);

int listener_serve_tcp(struct server *srv, struct listener *l, char *errbuf, size_t errlen)
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

	assert(c->pending_close > 0); /* one callback per handle closed */
	c->pending_close--;
	if (c->pending_close == 0) {
		free(c->xbuf);
		free(c);
	}
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
	assert(srv->nconns > 0);
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
	assert(c->rpos <= c->rlen && c->rlen <= TCP_FRAME_MAX);
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
	/* libuv read into what conn_alloc offered, no more. */
	assert(c->rlen <= TCP_FRAME_MAX);
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

	assert(c->writing);
	c->writing = 0;
	free(c->xbuf);
	c->xbuf = NULL;
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

/* Send buf[0..total) (wbuf, or a transfer's xbuf): straight away when the
 * socket takes it all (the usual case), else through uv_write, pausing
 * input until it is done. */
static int conn_send(struct tcp_conn *c, const uint8_t *buf, size_t total)
{
	uv_stream_t *s = (uv_stream_t *)&c->h;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)total);
	int r;

	/* One reply in flight: wreq and wbuf are the connection's only ones. */
	assert(!c->writing && (buf == c->xbuf || total <= TCP_FRAME_MAX));
	r = uv_try_write(s, &b, 1);
	if (r >= 0 && (size_t)r == total) {
		free(c->xbuf);
		c->xbuf = NULL;
		return GSLB_OK;
	}
	if (r < 0 && r != UV_EAGAIN) {
		conn_close(c);
		return GSLB_EIO;
	}
	if (r < 0)
		r = 0;
	b = uv_buf_init((char *)buf + r, (unsigned)(total - (size_t)r));
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
				.local = c->local.ss_family ? (const struct sockaddr *)&c->local :
							      NULL,
				.entropy = serve_rng_next(&srv->tcp.rng),
			};
			enum serve_action action;
			size_t xlen = 0;

			if (xfr_is_transfer(msg, mlen) &&
			    serve_transfer(&srv->snap, &srv->tcp, srv->xfr, &req, &c->xbuf, &xlen,
					   &action)) {
				/* A zone transfer: its messages, framed, at once. */
				if (maxq && c->nqueries >= maxq)
					c->draining = 1;
				if (action == SERVE_DROP || !c->xbuf) {
					conn_close(c);
					return;
				}
				if (conn_send(c, c->xbuf, xlen))
					return;
				continue;
			}
			/* TCP answers are never rate limited: a TCP client
			 * cannot forge its address. */
			len = serve_query(&srv->snap, NULL, &srv->tcp, &req, 0, &action);
			if (action == SERVE_DROP) {
				conn_close(c);
				return;
			}
		}
		if (maxq && c->nqueries >= maxq)
			c->draining = 1;
		if (len > 0) {
			assert(len <= DNS_MAX_MSG); /* the frame's length field */
			c->wbuf[0] = (uint8_t)(len >> 8);
			c->wbuf[1] = (uint8_t)len;
			if (conn_send(c, c->wbuf, len + 2))
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

/* Over the connection cap with nothing idle to close: the connection was
 * accepted only to be closed at once, so the client is told now rather
 * than left waiting in the backlog. */
static void tcp_refuse_full(struct server *srv, int fd)
{
	close(fd);
	metrics_inc(srv->tcp.ms, MDNS_TCP_REFUSED, MTCP_FULL);
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
		if (!o->closing && o->family == family && net_same(o->addr, addr, prefix))
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
		metrics_inc(srv->tcp.ms, MDNS_TCP_EVICTED, 0);
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
	int family = net_sockaddr_ip((const struct sockaddr *)peer, addr);
	struct tcp_conn *c;

	if (srv->stopping) {
		close(fd);
		return;
	}
	if (cf->tcp_max_per_ip && family && conns_from(srv, family, addr) >= cf->tcp_max_per_ip) {
		log_debug("tcp connection refused: max_per_ip reached for the client's network");
		metrics_inc(srv->tcp.ms, MDNS_TCP_REFUSED, MTCP_PER_IP);
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
	assert(peer_len <= sizeof(c->peer));
	memcpy(&c->peer, peer, peer_len);
	c->peer_len = (int)peer_len;
	socklen_t llen = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &llen) != 0)
		c->local.ss_family = 0;
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

void tcp_init(struct server *srv)
{
	uv_timer_init(&srv->loop, &srv->accept_timer);
	srv->accept_timer.data = srv;
	srv->accept_timer_init = 1;
}

void tcp_stop(struct server *srv)
{
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
}
