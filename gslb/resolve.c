/* Member host names resolved with c-ares (ares_getaddrinfo, A and AAAA)
 * under the system resolver configuration. The prober's poll loop owns the
 * sockets: c-ares tells us through its socket-state callback which ones to
 * watch, and we hand readiness and timeouts back. Keeping this apart from the
 * prober leaves it one job: names in, deduplicated addresses and a clamped
 * TTL out. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ares.h>

#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/resolve.h"

struct resolver {
	ares_channel chan;
	resolve_sock_fn sock_cb;
	void *sock_arg;
	size_t pending;
};

struct resolve_req {
	struct resolver *r;
	resolve_done_fn done;
	void *arg;
};

uint32_t resolve_ttl_clamp(uint32_t ttl)
{
	if (ttl < RESOLVE_TTL_MIN)
		return RESOLVE_TTL_MIN;
	if (ttl > RESOLVE_TTL_MAX)
		return RESOLVE_TTL_MAX;
	return ttl;
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	r->sock_cb(r->sock_arg, (int)fd, readable, writable);
}

int resolve_new(resolve_sock_fn sock_cb, void *sock_arg, const char *servers, struct resolver **out)
{
	struct ares_options opts;
	int rc;
	struct resolver *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return GSLB_ENOMEM;
	r->sock_cb = sock_cb;
	r->sock_arg = sock_arg;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = r;
	/* Member names are fully qualified: no search domains. */
	opts.flags = ARES_FLAG_NOSEARCH;
	rc = ares_init_options(&r->chan, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS) {
		log_err("cannot start the host name resolver error=\"%s\"", ares_strerror(rc));
		free(r);
		return rc == ARES_ENOMEM ? GSLB_ENOMEM : GSLB_EIO;
	}
	if (servers) {
		rc = ares_set_servers_ports_csv(r->chan, servers);
		if (rc != ARES_SUCCESS) {
			log_err("cannot use the configured resolvers servers=\"%s\" error=\"%s\"",
				servers, ares_strerror(rc));
			ares_destroy(r->chan);
			free(r);
			return GSLB_EINVAL;
		}
	}
	*out = r;
	return GSLB_OK;
}

static const char *failure_text(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "no A or AAAA records";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_ECONNREFUSED:
		return "connection refused";
	default:
		return ares_strerror(status);
	}
}

static void gai_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolve_req *req = arg;
	struct resolve_addr *addrs = NULL;
	size_t n = 0, cap = 0;
	uint32_t ttl = UINT32_MAX;
	enum resolve_status st = RESOLVE_OK;
	const char *error = NULL;

	(void)timeouts;
	req->r->pending--;
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
		st = RESOLVE_CANCELLED;
		error = "cancelled";
		goto out;
	}
	if (status != ARES_SUCCESS || !res) {
		st = RESOLVE_FAILED;
		error = failure_text(status);
		goto out;
	}
	for (struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next) {
		struct resolve_addr a;
		int dup = 0;

		memset(&a, 0, sizeof(a));
		if (nd->ai_family == AF_INET && nd->ai_addr) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)nd->ai_addr;
			a.family = AF_INET;
			memcpy(a.addr, &sin->sin_addr, 4);
		} else if (nd->ai_family == AF_INET6 && nd->ai_addr) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)nd->ai_addr;
			a.family = AF_INET6;
			memcpy(a.addr, &sin6->sin6_addr, 16);
		} else {
			continue;
		}
		if (nd->ai_ttl >= 0 && (uint32_t)nd->ai_ttl < ttl)
			ttl = (uint32_t)nd->ai_ttl;
		for (size_t i = 0; i < n && !dup; i++)
			dup = addrs[i].family == a.family && memcmp(addrs[i].addr, a.addr, 16) == 0;
		if (dup)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct resolve_addr *v = realloc(addrs, ncap * sizeof(*v));
			if (!v) {
				st = RESOLVE_FAILED;
				error = "out of memory";
				n = 0;
				goto out;
			}
			addrs = v;
			cap = ncap;
		}
		addrs[n++] = a;
	}
	for (struct ares_addrinfo_cname *cn = res->cnames; cn; cn = cn->next)
		if (cn->ttl >= 0 && (uint32_t)cn->ttl < ttl)
			ttl = (uint32_t)cn->ttl;
	if (n == 0) {
		st = RESOLVE_FAILED;
		error = "no A or AAAA records";
	}
out:
	if (res)
		ares_freeaddrinfo(res);
	req->done(req->arg, st, st == RESOLVE_OK ? addrs : NULL, st == RESOLVE_OK ? n : 0,
		  resolve_ttl_clamp(ttl == UINT32_MAX ? 0 : ttl), error);
	free(addrs);
	free(req);
}

int resolve_name(struct resolver *r, const char *name, resolve_done_fn done, void *arg)
{
	struct ares_addrinfo_hints hints;
	char buf[256];
	size_t len = strlen(name);
	struct resolve_req *req;

	/* "name." and "name" are the same name here, and the hosts file only
	 * knows the second. */
	if (len > 1 && name[len - 1] == '.') {
		if (len > sizeof(buf))
			return GSLB_EINVAL;
		memcpy(buf, name, len - 1);
		buf[len - 1] = '\0';
		name = buf;
	}
	req = malloc(sizeof(*req));
	if (!req)
		return GSLB_ENOMEM;
	req->r = r;
	req->done = done;
	req->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	/* No destination sorting: it connects UDP sockets to every address. */
	hints.ai_flags = ARES_AI_NOSORT;
	r->pending++;
	/* May call gai_done before returning (hosts file, immediate errors). */
	ares_getaddrinfo(r->chan, name, NULL, &hints, gai_done, req);
	return GSLB_OK;
}

void resolve_process(struct resolver *r, int fd, int readable, int writable)
{
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (fd >= 0 && readable)
		rfd = (ares_socket_t)fd;
	if (fd >= 0 && writable)
		wfd = (ares_socket_t)fd;
	ares_process_fd(r->chan, rfd, wfd);
}

int64_t resolve_timeout_ms(struct resolver *r, int64_t max_ms)
{
	struct timeval tv, *t;
	int64_t ms;

	if (r->pending == 0)
		return max_ms;
	t = ares_timeout(r->chan, NULL, &tv);
	if (!t)
		return max_ms;
	ms = (int64_t)t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;
	return ms < max_ms ? ms : max_ms;
}

size_t resolve_pending(const struct resolver *r) { return r->pending; }

void resolve_cancel(struct resolver *r) { ares_cancel(r->chan); }

void resolve_free(struct resolver *r)
{
	if (!r)
		return;
	ares_destroy(r->chan);
	free(r);
}
