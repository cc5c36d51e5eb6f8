/* UDP: conf->workers threads, each owning one SO_REUSEPORT socket per listen
 * address, so the kernel spreads datagrams over threads and no two threads
 * ever touch the same socket or buffer. A worker sleeps in poll() on its
 * sockets and its generation's eventfd (written once, to stop it), then
 * reads up to UDP_BATCH datagrams with one recvmmsg(), answers each with
 * serve_query() and sends all replies with one sendmmsg(). */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "gslb/dns.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/serve.h"
#include "gslb/server_int.h"

/* Datagrams moved per recvmmsg()/sendmmsg() call. */
#define UDP_BATCH 64
/* Batches a worker takes from one socket before polling again, so that a
 * flooded address cannot starve the others. */
#define UDP_ROUNDS 4
/* Largest query accepted over UDP. Our advertised EDNS size is at most 4096,
 * and RFC 6891 makes that the largest datagram a client may send us; a
 * longer one arrives with MSG_TRUNC and is dropped. */
#define UDP_QUERY_MAX 4096

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message, aligned. */
union pktinfo_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
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
	struct serve_thread st; /* this worker's counters and random stream */
};

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
	w->st.rng = serve_rng_seed(w->id + 1);
	assert(id < ws->n && ws->n <= srv->nudp_ms); /* workers_new made the shards */
	w->st.ms = srv->udp_ms[id];
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
	/* Counted above with the same loops: pfds has room for one more. */
	assert(k == w->nsocks);
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

/* Either control message fits a pktinfo_buf. */
_Static_assert(CMSG_SPACE(sizeof(struct in_pktinfo)) <= sizeof(union pktinfo_buf),
	       "IP_PKTINFO does not fit");
_Static_assert(CMSG_SPACE(sizeof(struct in6_pktinfo)) <= sizeof(union pktinfo_buf),
	       "IPV6_PKTINFO does not fit");

/* Fill a reply's control message from the query's IP_PKTINFO/IPV6_PKTINFO,
 * so that the reply's source is the address the client sent to, and local
 * with that address (its port left as it was). Returns the control length
 * to use (0 when the query carried none; local is then untouched). */
static size_t reply_pktinfo(const struct msghdr *q, union pktinfo_buf *out,
			    struct sockaddr_storage *local)
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
			if (local->ss_family == AF_INET)
				((struct sockaddr_in *)(void *)local)->sin_addr = in.ipi_addr;
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
			if (local->ss_family == AF_INET6)
				((struct sockaddr_in6 *)(void *)local)->sin6_addr = pi.ipi6_addr;
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

	assert(n <= UDP_BATCH);
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

/* Serve up to UDP_ROUNDS batches from one socket.
 *
 * No heap allocation per query, by construction: every buffer used here
 * (query slots, reply slots, peer addresses, control messages, the mmsghdr
 * and iovec arrays) is allocated once in worker_new() with a hard size,
 * serve_query() (dns_process() inside) is documented and written to use
 * only the stack and the caller's buffer, recvmmsg()/sendmmsg() fill and
 * read those arrays in the kernel, and logging here is at debug level
 * only, into a stack buffer. No
 * lock is taken either: the socket and buffers belong to this thread alone,
 * and the snapshot is read under RCU, which readers enter without a lock. */
static void worker_udp(struct worker *w, nfds_t si)
{
	struct server *srv = w->srv;
	assert(si < w->nsocks); /* a socket, not the stop eventfd */
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
			/* The address the query was sent to: the listener's, or
			 * on a wildcard the query's IP_PKTINFO destination. */
			struct sockaddr_storage local = l->addr;
			size_t ctl = l->wildcard ? reply_pktinfo(h, &w->sctl[nout], &local) : 0;
			struct dns_request req = {
				.query = w->riov[j].iov_base,
				.query_len = w->rmsg[j].msg_len,
				.resp = resp,
				.resp_cap = w->resp_cap,
				.transport = DNS_UDP,
				.peer = (const struct sockaddr *)&w->peer[j],
				.peer_len = h->msg_namelen,
				.local = !l->wildcard || ctl ? (const struct sockaddr *)&local :
							       NULL,
				.entropy = serve_rng_next(&w->st.rng),
			};
			enum serve_action action;
			size_t len;

			/* Longer than any query we accept: not worth a reply. */
			if (h->msg_flags & MSG_TRUNC)
				continue;
			len = serve_query(&srv->snap, srv->rrl, &w->st, &req, now_s, &action);
			if (len == 0)
				continue;

			struct msghdr *o = &w->smsg[nout].msg_hdr;
			w->siov[nout].iov_base = resp;
			w->siov[nout].iov_len = len;
			o->msg_name = &w->peer[j];
			o->msg_namelen = h->msg_namelen;
			o->msg_iov = &w->siov[nout];
			o->msg_iovlen = 1;
			o->msg_controllen = ctl;
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

void workers_free(struct workers *ws)
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

size_t workers_resp_cap(uint16_t edns) { return edns > DNS_MIN_UDP ? edns : DNS_MIN_UDP; }

/* A generation of n workers over the sockets of ls, not started. edns is
 * the advertised EDNS size: replies never exceed it (the engine limits a
 * UDP answer to the smaller of the client's size and ours, and never writes
 * past resp_cap). */
int workers_new(struct server *srv, struct listener *const *ls, size_t nls, unsigned n,
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
	ws->resp_cap = workers_resp_cap(edns);
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
void workers_wake(struct workers *ws)
{
	uint64_t one = 1;

	if (ws == NULL || ws->woken)
		return;
	if (write(ws->stop_fd, &one, sizeof(one)) < 0)
		log_err("cannot wake workers error=\"%s\"", strerror(errno));
	ws->woken = 1;
}

void workers_join(struct workers *ws)
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
int workers_start(struct workers *ws)
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
