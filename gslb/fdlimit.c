/* File descriptors: the limit, the budget of a configuration, and the
 * reserve that lets an accept path shed connections when they run out
 * (see fdlimit.h). */
#include "gslb/fdlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gslb/admin.h"
#include "gslb/config.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/probe.h"

/* The prober's own descriptors beside its probes (epoll set, wake-up,
 * curl's and c-ares' sockets), and the most probes counted in flight. */
#define PROBE_FD_OWN 16ul
/* Per listen.http address beside its connections: the listen socket,
 * libmicrohttpd's epoll set and wake-up, one being refused. */
#define HTTP_FD_OWN 4ul
/* The admin listener beside its connections (listen socket, poll set,
 * wake-up), and as much again while a reload replaces it. */
#define ADMIN_FD_OWN 4ul

unsigned long probe_fd_budget(const struct conf *c)
{
	unsigned long targets = 0;

	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t p = 0; p < svc->npools; p++) {
			const struct pool *pool = &svc->pools[p];
			for (size_t m = 0; m < pool->nmembers; m++)
				if (pool->check_idx >= 0 || pool->members[m].hostname)
					targets++;
		}
	}
	if (targets == 0)
		return 0;
	/* Probes in flight never pass the prober's cap (probe_max_inflight,
	 * or by default a quarter of the soft limit). */
	unsigned long cap = (unsigned long)probe_inflight_cap(c);
	return PROBE_FD_OWN + (targets < cap ? targets : cap);
}

void fdlimit_budget(const struct conf *c, struct fd_budget *b)
{
	unsigned long workers = c->workers ? c->workers : 1;

	memset(b, 0, sizeof(*b));
	b->tcp = (unsigned long)c->tcp_max_connections + 1;
	b->nhttp = c->nhttp;
	b->http = (unsigned long)c->nhttp * ((unsigned long)c->http_max_connections + HTTP_FD_OWN);
	b->admin = c->admin ? ADMIN_CONNECTION_LIMIT + ADMIN_FD_OWN : 0;
	/* two wake-up eventfds: a reload may start a second generation */
	b->dns = (unsigned long)c->ndns * (1 + workers) + 2;
	b->probes = probe_fd_budget(c);
	b->reserve = FDLIMIT_RESERVE;
	b->total = b->tcp + b->http + b->admin + b->dns + b->probes + b->reserve;
}

static unsigned long rlim_value(rlim_t v)
{
	return v == RLIM_INFINITY ? (unsigned long)-1 : (unsigned long)v;
}

unsigned long fdlimit_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	return rlim_value(rl.rlim_max);
}

unsigned long fdlimit_current(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	return rlim_value(rl.rlim_cur);
}

unsigned long fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the descriptor limit to the hard limit soft=%lu "
				 "hard=%lu error=\"%s\"",
				 rlim_value(was), rlim_value(rl.rlim_max), strerror(errno));
			return rlim_value(was);
		}
		log_info("descriptor limit raised to the hard limit soft=%lu limit=%lu",
			 rlim_value(was), rlim_value(rl.rlim_cur));
	}
	return rlim_value(rl.rlim_cur);
}

int fdlimit_check(const struct conf *c, unsigned long limit, char *err, size_t errlen)
{
	struct fd_budget b;

	fdlimit_budget(c, &b);
	if (b.total <= limit)
		return GSLB_OK;
	snprintf(err, errlen,
		 "%s: the connection limits need %lu file descriptors, more than the limit of "
		 "%lu (RLIMIT_NOFILE): tcp.max_connections %lu + http.max_connections x %lu "
		 "listen.http address%s %lu + admin listener %lu + DNS sockets of %u worker%s "
		 "%lu + probes %lu + reserved %lu; lower tcp.max_connections or "
		 "http.max_connections, or raise the limit (LimitNOFILE= in the systemd unit, "
		 "ulimit -n)",
		 c->path, b.total, limit, b.tcp, b.nhttp, b.nhttp == 1 ? "" : "es", b.http, b.admin,
		 c->workers, c->workers == 1 ? "" : "s", b.dns, b.probes, b.reserve);
	return GSLB_ERANGE;
}

/* ---- the reserve and the shedding ------------------------------------- */

static const char *const listener_name[FDL_N] = { "dns", "http", "admin" };

static pthread_mutex_t reserve_mu = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;

/* Under reserve_mu. */
static time_t last_log[FDL_N];
static unsigned long unlogged_pauses[FDL_N], unlogged_refused[FDL_N];

static uint64_t pauses[FDL_N], refused[FDL_N]; /* atomic */

/* Under reserve_mu. */
static void reserve_open_locked(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void fdlimit_reserve_open(void)
{
	pthread_mutex_lock(&reserve_mu);
	reserve_open_locked();
	pthread_mutex_unlock(&reserve_mu);
}

void fdlimit_reserve_close(void)
{
	pthread_mutex_lock(&reserve_mu);
	if (reserve_fd >= 0)
		close(reserve_fd);
	reserve_fd = -1;
	pthread_mutex_unlock(&reserve_mu);
}

int fdlimit_shed(enum fdlimit_listener who, int listen_fd)
{
	int n = -1;
	time_t now = time(NULL);

	pthread_mutex_lock(&reserve_mu);
	if (reserve_fd >= 0 && listen_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
		n = 0;
		for (;;) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				break; /* EAGAIN: none left; EMFILE: another thread was faster */
			}
			close(fd);
			n++;
		}
	}
	/* With no reserve before, this is the first free descriptor. */
	reserve_open_locked();
	__atomic_fetch_add(&pauses[who], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&refused[who], n > 0 ? (unsigned)n : 0, __ATOMIC_RELAXED);
	unlogged_pauses[who]++;
	unlogged_refused[who] += n > 0 ? (unsigned long)n : 0;
	if (now - last_log[who] >= FDLIMIT_LOG_INTERVAL) {
		log_warn("out of file descriptors, accepting paused listener=%s pauses=%lu "
			 "refused=%lu limit=%lu reserve=%s (counts since the last such line; "
			 "see tcp.max_connections, http.max_connections and the descriptor limit)",
			 listener_name[who], unlogged_pauses[who], unlogged_refused[who],
			 fdlimit_current(), reserve_fd >= 0 ? "yes" : "no");
		last_log[who] = now;
		unlogged_pauses[who] = 0;
		unlogged_refused[who] = 0;
	}
	pthread_mutex_unlock(&reserve_mu);
	return n;
}

/* The counters are process-wide: read at scrape time. */
static int accept_samples(struct metrics_out *o, const uint64_t *counts)
{
	for (int i = 0; i < FDL_N; i++) {
		const char *lv[] = { listener_name[i] };
		metrics_sample(o, lv, (int64_t)__atomic_load_n(&counts[i], __ATOMIC_RELAXED));
	}
	return 1;
}

static int accept_pauses(struct metrics_out *o, const struct snapshot *snap)
{
	(void)snap;
	return accept_samples(o, pauses);
}

static int accept_refused(struct metrics_out *o, const struct snapshot *snap)
{
	(void)snap;
	return accept_samples(o, refused);
}

static const struct metric_family fdlimit_families[] = {
	{ .name = "gslb_accept_pauses_total",
	  .help = "Times a listener paused accepting for lack of file descriptors.",
	  .type = METRIC_COUNTER,
	  .labels = { METRIC_GIVEN("listener") },
	  .collect = accept_pauses },
	{ .name = "gslb_accept_refused_total",
	  .help = "Connections accepted and closed at once for lack of file descriptors.",
	  .type = METRIC_COUNTER,
	  .labels = { METRIC_GIVEN("listener") },
	  .collect = accept_refused },
};

const struct metric_set fdlimit_metric_set = METRIC_SET(fdlimit_families);
