/* One listen.dns address: its TCP listening socket and its SO_REUSEPORT
 * group of UDP sockets, one per worker at least, bound to the same port.
 * A listener is allocated on its own (libuv handles must not move) and
 * kept across reloads for as long as the address stays in the config. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <uv.h>

#include "gslb/config.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/server_int.h"

/* Kernel receive buffer per UDP socket: absorbs bursts while a worker is
 * busy with a batch. The kernel caps it at net.core.rmem_max. */
#define UDP_RCVBUF (4 * 1024 * 1024)
/* A port-0 address gets a fresh ephemeral port when TCP or a worker socket
 * cannot have the port the first UDP socket got. */
#define PORT0_ATTEMPTS 16
#define TCP_BACKLOG 1024

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

		assert(l->conf_addr_len <= sizeof(l->addr));
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
int listener_new(struct server *srv, const struct conf_listen *c, unsigned nudp,
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
	assert(c->addr_len <= sizeof(l->conf_addr));
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
int listener_grow(struct listener *l, unsigned n, char *errbuf, size_t errlen)
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
void listener_retire(struct listener *l)
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

void listener_shrink(struct listener *l, unsigned n)
{
	assert(n <= l->nudp);
	for (unsigned s = n; s < l->nudp; s++)
		close_fd(&l->udp_fds[s]);
	l->nudp = n;
}

void listener_free(struct listener *l)
{
	listener_close_fds(l);
	free(l->udp_fds);
	free(l);
}

/* Same family, address and port (and IPv6 scope). */
int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
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
