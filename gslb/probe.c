/* The prober: one thread runs every health check and keeps the health view
 * current.
 *
 * http, https and tcp checks go through one curl multi handle driven by
 * curl_multi_socket_action; dns checks use one c-ares channel per target
 * (its server is the member); host-name members are resolved by resolve.c.
 * All of their sockets and a wake-up eventfd sit in one epoll set, so the
 * loop costs what is ready, not what exists. Probe times live in a min-heap:
 * a tick pops what is due, nothing scans every member.
 *
 * The prober keeps its own model of every probed address (a target) with
 * its rise/fall state. Results mark pools dirty; once per loop iteration a
 * state change is published as a new immutable view (health_clone, the
 * dirty pools rewritten from the model, health_compute) through
 * rcu_assign_pointer(snap->health), and the old view is freed after a grace
 * period. Changes that move no state (counters, reasons) are published at
 * most once a second. This thread is the only writer of snap->health:
 * admin changes and reloads are handed to it and their callers wait. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <ares.h>
#include <curl/curl.h>
#include <jansson.h>
#include <ldns/ldns.h>
#include <urcu/urcu-memb.h>

#include "config.h"
#include "gslb/err.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/probe.h"
#include "gslb/resolve.h"
#include "gslb/snapshot.h"

#define BODY_MAX (64 * 1024)   /* expect_body looks this far into a body */
#define EV_BATCH 256           /* epoll events per wait */
#define SAVE_EVERY_MS 1000     /* health.state written at most this often */
#define SOFT_PUBLISH_MS 1000   /* counters and reasons published this often */
#define FIRST_WINDOW_MS 500    /* first probes of new targets spread over this, */
#define FIRST_RATE 4000        /* ... or longer, to stay under this many a second */
#define HOST_WINDOW_MS 100     /* ... and those of a name's first addresses */
#define LOOP_MAX_WAIT_MS 1000  /* the loop looks around at least this often */
#define RETRY_MIN_S 5          /* a failed resolution is retried after this */
#define RETRY_MAX_S 60         /* ... doubling up to this */
#define ADMIN_WAIT_S 5         /* prober_admin waits this long for publication */
#define LOCAL_LOG_MS 10000     /* local probe errors are logged this often */
#define INFLIGHT_AUTO_MAX 1024 /* probe_max_inflight = 0: at most this many, */
#define INFLIGHT_FD_SHARE 4    /* ... and a quarter of the descriptor limit */
#define WAKE_TAG UINT64_MAX    /* epoll data of the eventfd */
#define NOT_QUEUED SIZE_MAX

#define container_of(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

enum sched_kind {
	EV_PROBE,    /* a target's next probe */
	EV_DEADLINE, /* a dns probe in flight gives up */
	EV_RESOLVE,  /* a host name is resolved again */
};

struct sched {
	int64_t at; /* monotonic ms */
	size_t idx; /* position in the heap, NOT_QUEUED when out */
	uint8_t kind;
};

struct heap {
	struct sched **v;
	size_t n, cap;
};

enum fd_kind {
	FD_NONE = 0,
	FD_CURL,
	FD_ARES, /* a dns check's channel; owner is the target */
	FD_RESOLVE,
};

struct fdent {
	uint8_t kind;
	uint32_t events;
	void *owner;
};

struct prober;
struct ppool;

/* A check as the prober uses it. */
struct pcheck {
	const struct check *c;
	struct curl_slist *headers;
	int64_t interval_ms, timeout_ms;
	size_t ntargets;
	size_t nnew, inew; /* while building: targets without a carried schedule */
};

/* One probed address: a static member or one address of a host name. */
struct ptarget {
	struct sched next;
	struct sched deadline;
	struct ppool *pp;
	uint16_t member; /* index in pool->members */
	int family;
	uint8_t addr[16];
	uint32_t weight;
	char atext[INET6_ADDRSTRLEN];
	/* state, mirrored into the view */
	uint8_t state;
	uint16_t fails, oks;
	int64_t since;
	char reason[HEALTH_REASON_MAX];
	uint8_t fresh;   /* has a result from this process */
	uint8_t carried; /* schedule carried over from the previous model */
	int64_t phase;   /* ms: its slot within the check's interval */
	/* what to probe, built once */
	char *url;
	struct curl_slist *connect_to;
	char *dns_server;
	const char *qname;
	const char *spec_error; /* unusable target: every probe fails with this */
	/* in flight */
	CURL *easy;
	ares_channel chan;
	uint8_t dns_busy, cancelling, body_stop;
	uint8_t running;   /* holds one of the prober's slots (probe_max_inflight) */
	uint8_t queued;    /* waiting for a slot, in the prober's FIFO */
	uint8_t sock_made; /* a socket was opened for the probe in flight */
	int local_err;     /* errno of a socket that could not be opened */
	struct ptarget *qnext, *qprev;
	int64_t started;
	char *body; /* grows up to BODY_MAX: hanging probes hold little */
	size_t blen, bcap;
	char errbuf[CURL_ERROR_SIZE];
};

/* A host-name member of a pool. */
struct phost {
	struct sched next;
	struct ppool *pp;
	uint16_t member;
	const char *name;
	uint8_t attempted; /* a first resolution has finished */
	uint8_t busy, failing;
	uint32_t retry; /* seconds before the next try after a failure */
};

struct ppool {
	struct prober *p;
	const struct service *svc;
	const struct pool *pool;
	const char *region;
	struct pcheck *pc;  /* NULL when unchecked */
	struct ptarget **t; /* in view order */
	size_t n, cap;
	struct phost *hosts;
	size_t nhosts;
	uint8_t dirty;
	uint8_t cname_pending; /* see struct hpool */
	const char *resolvers; /* the config's, for a CNAME pool's dns check */
};

struct model {
	struct snapshot *snap;
	struct pcheck *checks;
	size_t nchecks;
	struct ppool *pools;
	size_t npools;
};

struct prober {
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;

	/* under mu */
	struct snapshot *snap; /* written by the prober thread only */
	struct admin_table admin;
	struct snapshot *adopt_req;
	uint64_t adopt_seq, adopt_done;
	int adopt_rc;
	uint64_t pub_req, pub_done;
	int stop, exited, first_done;

	/* prober thread only (and prober_start/stop around it) */
	char *state_dir;
	int epfd, evfd;
	CURLM *multi;
	int curl_inited;
	int64_t curl_timer; /* monotonic ms, -1 = none */
	struct resolver *res;
	struct fdent *fds;
	size_t nfds;
	struct heap heap;
	struct model *m;
	int hard_dirty, soft_dirty;
	int64_t last_pub;
	int save_pending, save_failing;
	int64_t last_save;
	int publish_failing;
	size_t first_pending;
	uint64_t rng;
	int64_t epoch;

	/* Probes in flight are capped (probe_max_inflight): each holds a
	 * socket, and a black hole must not take every descriptor. Due probes
	 * beyond the cap wait in a FIFO, so every target gets its turn. */
	size_t cap, inflight;
	struct ptarget *qhead, *qtail;
	size_t nqueued;
	int64_t local_log_at;    /* last log line about local probe errors */
	uint64_t local_unlogged; /* errors since that line */
	uint64_t local_errors;   /* since the first after probes last ran */

	/* Probe counters for /metrics, by check name: written by the prober
	 * thread, read by the admin thread, under their own small lock (never
	 * taken inside an RCU read-side section). */
	pthread_mutex_t mmu;
	struct pmetric *pm;
	size_t npm;
	size_t m_cap, m_inflight, m_inflight_max, m_queued; /* gauges, under mmu */
};

#define PM_BUCKETS 11
static const double pm_bounds[PM_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					      0.5,   1.0,  2.5,   5.0,  10.0 };

struct pmetric {
	char check[64];
	uint64_t ok, fail, unknown;   /* unknown: a local error, no result */
	uint64_t buckets[PM_BUCKETS]; /* cumulative at render time, plain here */
	uint64_t count;
	double sum; /* seconds */
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_s(void) { return (int64_t)time(NULL); }

static uint64_t rnd(struct prober *p)
{
	/* xorshift64*: jitter only, no need for more */
	uint64_t x = p->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-span, span]. */
static int64_t jitter(struct prober *p, int64_t span)
{
	if (span <= 0)
		return 0;
	return (int64_t)(rnd(p) % (uint64_t)(2 * span + 1)) - span;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Reasons end up inside reason="..." in logs and in health.state lines:
 * no quotes, no control characters. */
static void set_reason(char *dst, size_t len, const char *src)
{
	size_t i;
	for (i = 0; i + 1 < len && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch == '"' ? '\'' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[i] = '\0';
}

static void wake(struct prober *p)
{
	uint64_t one = 1;
	ssize_t n = write(p->evfd, &one, sizeof(one));
	(void)n; /* EAGAIN: already pending */
}

/* ---- schedule: a binary min-heap of sched nodes ------------------------- */

static void heap_swap(struct heap *h, size_t i, size_t j)
{
	struct sched *t = h->v[i];
	h->v[i] = h->v[j];
	h->v[j] = t;
	h->v[i]->idx = i;
	h->v[j]->idx = j;
}

static void heap_up(struct heap *h, size_t i)
{
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (h->v[up]->at <= h->v[i]->at)
			break;
		heap_swap(h, i, up);
		i = up;
	}
}

static void heap_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l]->at < h->v[m]->at)
			m = l;
		if (r < h->n && h->v[r]->at < h->v[m]->at)
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
}

static int heap_set(struct heap *h, struct sched *s, int64_t at)
{
	if (s->idx != NOT_QUEUED) {
		int64_t old = s->at;
		s->at = at;
		if (at < old)
			heap_up(h, s->idx);
		else
			heap_down(h, s->idx);
		return GSLB_OK;
	}
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct sched **nv = realloc(h->v, nc * sizeof(*nv));
		if (!nv)
			return GSLB_ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	s->at = at;
	s->idx = h->n;
	h->v[h->n++] = s;
	heap_up(h, s->idx);
	return GSLB_OK;
}

static void heap_del(struct heap *h, struct sched *s)
{
	size_t i = s->idx;
	if (i == NOT_QUEUED)
		return;
	s->idx = NOT_QUEUED;
	h->n--;
	if (i == h->n)
		return;
	h->v[i] = h->v[h->n];
	h->v[i]->idx = i;
	heap_up(h, i);
	heap_down(h, h->v[i]->idx);
}

static void sched_set(struct prober *p, struct sched *s, int64_t at)
{
	if (heap_set(&p->heap, s, at))
		log_err("prober: out of memory scheduling a probe");
}

/* ---- epoll set: curl, c-ares and resolver sockets ----------------------- */

/* events 0 = stop watching. Indexed by fd, so an event for a socket closed
 * in the same batch finds an empty slot (or a new owner whose socket is
 * non-blocking: a spurious wake-up is harmless). */
static void fd_watch(struct prober *p, int fd, uint8_t kind, void *owner, uint32_t events)
{
	struct epoll_event ev;
	struct fdent *e;

	if (fd < 0)
		return;
	if ((size_t)fd >= p->nfds) {
		size_t n = p->nfds ? p->nfds : 64;
		struct fdent *nv;
		if (events == 0)
			return;
		while (n <= (size_t)fd)
			n *= 2;
		nv = realloc(p->fds, n * sizeof(*nv));
		if (!nv) {
			log_err("prober: out of memory watching a socket");
			return;
		}
		memset(nv + p->nfds, 0, (n - p->nfds) * sizeof(*nv));
		p->fds = nv;
		p->nfds = n;
	}
	e = &p->fds[fd];
	memset(&ev, 0, sizeof(ev));
	ev.data.u64 = (uint64_t)fd;
	if (events == 0) {
		if (e->kind != FD_NONE)
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev); /* EBADF: closed */
		memset(e, 0, sizeof(*e));
		return;
	}
	ev.events = events;
	if (e->kind == FD_NONE) {
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) && errno == EEXIST)
			epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
	} else if (e->events != events) {
		if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
			epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	e->kind = kind;
	e->owner = owner;
	e->events = events;
}

static uint32_t ares_events(int readable, int writable)
{
	return (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
}

static void resolver_sock(void *arg, int fd, int readable, int writable)
{
	fd_watch(arg, fd, FD_RESOLVE, NULL, ares_events(readable, writable));
}

static void check_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	struct ptarget *t = data;
	if (readable || writable)
		t->sock_made = 1;
	fd_watch(t->pp->p, (int)fd, FD_ARES, t, ares_events(readable, writable));
}

static int curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	uint32_t ev = 0;
	(void)e;
	(void)socketp;
	if (what == CURL_POLL_IN)
		ev = EPOLLIN;
	else if (what == CURL_POLL_OUT)
		ev = EPOLLOUT;
	else if (what == CURL_POLL_INOUT)
		ev = EPOLLIN | EPOLLOUT;
	fd_watch(userp, (int)s, FD_CURL, NULL, ev);
	return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct prober *p = userp;
	(void)multi;
	p->curl_timer = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

/* ---- probe slots -------------------------------------------------------- */

static void gauges(struct prober *p)
{
	pthread_mutex_lock(&p->mmu);
	p->m_cap = p->cap;
	p->m_inflight = p->inflight;
	if (p->inflight > p->m_inflight_max)
		p->m_inflight_max = p->inflight;
	p->m_queued = p->nqueued;
	pthread_mutex_unlock(&p->mmu);
}

static void slot_take(struct prober *p, struct ptarget *t)
{
	t->running = 1;
	p->inflight++;
	gauges(p);
}

static void slot_give(struct prober *p, struct ptarget *t)
{
	if (!t->running)
		return;
	t->running = 0;
	p->inflight--;
	gauges(p);
}

static void queue_push(struct prober *p, struct ptarget *t)
{
	t->queued = 1;
	t->qnext = NULL;
	t->qprev = p->qtail;
	if (p->qtail)
		p->qtail->qnext = t;
	else
		p->qhead = t;
	p->qtail = t;
	p->nqueued++;
	gauges(p);
}

static void queue_del(struct prober *p, struct ptarget *t)
{
	if (!t->queued)
		return;
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		p->qhead = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		p->qtail = t->qprev;
	t->qnext = t->qprev = NULL;
	t->queued = 0;
	p->nqueued--;
	gauges(p);
}

/* ---- targets ------------------------------------------------------------ */

static const struct check *target_check(const struct ptarget *t)
{
	return t->pp->pc ? t->pp->pc->c : NULL;
}

static const struct member *target_member(const struct ptarget *t)
{
	return &t->pp->pool->members[t->member];
}

/* "host:port", "[v6]:port", "host", "v6" (no port) -> host, port. */
static int parse_hostport(const char *s, uint16_t defport, char *host, size_t hostlen,
			  uint16_t *port)
{
	const char *h = s, *he, *ps = NULL;
	size_t hl;

	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he)
			return GSLB_EINVAL;
		if (he[1] == ':')
			ps = he + 2;
		else if (he[1] != '\0')
			return GSLB_EINVAL;
	} else {
		const char *c = strchr(s, ':');
		if (c && !strchr(c + 1, ':')) {
			he = c;
			ps = c + 1;
		} else {
			he = s + strlen(s); /* no port, or a bare IPv6 address */
		}
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= hostlen)
		return GSLB_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = defport;
	if (ps) {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(ps, &end, 10);
		if (errno || end == ps || *end || v == 0 || v > 65535)
			return GSLB_EINVAL;
		*port = (uint16_t)v;
	}
	return GSLB_OK;
}

static int is_v6(const char *host) { return strchr(host, ':') != NULL; }

/* What a target probes, built once: a URL (and a connect-to rule sending
 * the connection to the member while Host and SNI name check->host) for
 * http, https and tcp; a server for dns. A target that cannot be built
 * fails every probe with the reason, so it shows in status. */
static int target_spec(struct ptarget *t)
{
	const struct check *c = target_check(t);
	const struct member *mb = target_member(t);
	const char *tg = mb->target;
	char host[300];
	uint16_t port = 0;

	if (!c)
		return GSLB_OK;
	if (t->pp->pool->cname_query) {
		/* the CNAME target itself, asked of the resolvers */
		t->qname = c->query && c->query[0] ? c->query : mb->hostname;
		if (!t->pp->resolvers)
			return GSLB_OK; /* the system's: c-ares reads resolv.conf */
		t->dns_server = strdup(t->pp->resolvers);
		return t->dns_server ? GSLB_OK : GSLB_ENOMEM;
	}
	if (tg && strstr(tg, "://") && (c->type == CHECK_HTTP || c->type == CHECK_HTTPS)) {
		t->url = strdup(tg); /* exactly that URL: Host and SNI from it */
		return t->url ? GSLB_OK : GSLB_ENOMEM;
	}
	if (tg) {
		uint16_t def = c->port                ? c->port :
			       c->type == CHECK_HTTP  ? 80 :
			       c->type == CHECK_HTTPS ? 443 :
			       c->type == CHECK_DNS   ? 53 :
							0;
		if (parse_hostport(tg, def, host, sizeof(host), &port)) {
			t->spec_error = "bad target";
			return GSLB_OK;
		}
	} else {
		snprintf(host, sizeof(host), "%s", t->atext);
	}
	const char *lb = is_v6(host) ? "[" : "", *rb = is_v6(host) ? "]" : "";
	switch (c->type) {
	case CHECK_HTTP:
	case CHECK_HTTPS: {
		const char *scheme = c->type == CHECK_HTTPS ? "https" : "http";
		const char *path = c->path && c->path[0] ? c->path : "/";
		const char *slash = path[0] == '/' ? "" : "/";
		/* Host and SNI: the check's host, else a CNAME pool's target
		 * (the name its addresses serve), else the address */
		const char *vhost = c->host && c->host[0]  ? c->host :
				    t->pp->pool->cname_len ? mb->hostname :
							     NULL;
		if (!tg)
			port = c->port ? c->port : c->type == CHECK_HTTPS ? 443 : 80;
		if (vhost) {
			const char *hl = is_v6(vhost) ? "[" : "", *hr = is_v6(vhost) ? "]" : "";
			char *rule = dupf("%s%s%s:%u:%s%s%s:%u", hl, vhost, hr, port, lb, host, rb,
					  port);
			t->url = dupf("%s://%s%s%s:%u%s%s", scheme, hl, vhost, hr, port, slash,
				      path);
			if (rule)
				t->connect_to = curl_slist_append(NULL, rule);
			free(rule);
			if (!t->url || !t->connect_to)
				return GSLB_ENOMEM;
		} else {
			t->url =
				dupf("%s://%s%s%s:%u%s%s", scheme, lb, host, rb, port, slash, path);
			if (!t->url)
				return GSLB_ENOMEM;
		}
		return GSLB_OK;
	}
	case CHECK_TCP:
		if (!tg)
			port = c->port;
		if (port == 0) {
			t->spec_error = "tcp check without a port";
			return GSLB_OK;
		}
		t->url = dupf("http://%s%s%s:%u/", lb, host, rb, port);
		return t->url ? GSLB_OK : GSLB_ENOMEM;
	case CHECK_DNS: {
		uint8_t a[16];
		if (!tg)
			port = c->port ? c->port : 53;
		if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1) {
			t->spec_error = "dns check target must be an address";
			return GSLB_OK;
		}
		t->dns_server = dupf("%s%s%s:%u", lb, host, rb, port);
		t->qname = c->query && c->query[0] ? c->query : t->pp->svc->name;
		return t->dns_server ? GSLB_OK : GSLB_ENOMEM;
	}
	}
	return GSLB_OK;
}

static struct ptarget *target_new(struct ppool *pp, const struct hmember *hm)
{
	struct ptarget *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->next.idx = NOT_QUEUED;
	t->next.kind = EV_PROBE;
	t->deadline.idx = NOT_QUEUED;
	t->deadline.kind = EV_DEADLINE;
	t->pp = pp;
	t->member = hm->member;
	t->family = hm->family;
	memcpy(t->addr, hm->addr, 16);
	t->weight = hm->weight;
	if (!hm->family) /* a CNAME pool's target asked with a dns check */
		snprintf(t->atext, sizeof(t->atext), "%.45s", target_member(t)->hostname);
	else if (!inet_ntop(hm->family, hm->addr, t->atext, sizeof(t->atext)))
		snprintf(t->atext, sizeof(t->atext), "?");
	t->state = hm->state;
	t->fails = hm->fails;
	t->oks = hm->oks;
	t->since = hm->since;
	memcpy(t->reason, hm->reason, sizeof(t->reason));
	t->reason[sizeof(t->reason) - 1] = '\0';
	if (target_spec(t)) {
		curl_slist_free_all(t->connect_to);
		free(t->url);
		free(t->dns_server);
		free(t);
		return NULL;
	}
	return t;
}

/* Stop what is in flight (or waiting for a slot) without a result. */
static void target_cancel(struct prober *p, struct ptarget *t)
{
	queue_del(p, t);
	slot_give(p, t);
	if (t->easy) {
		curl_multi_remove_handle(p->multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	free(t->body);
	t->body = NULL;
	t->blen = t->bcap = 0;
	if (t->dns_busy) {
		t->cancelling = 1;
		ares_cancel(t->chan); /* dns_done runs and ignores it */
		t->cancelling = 0;
		t->dns_busy = 0;
	}
	heap_del(&p->heap, &t->deadline);
}

static void target_free(struct prober *p, struct ptarget *t)
{
	if (!t)
		return;
	target_cancel(p, t);
	heap_del(&p->heap, &t->next);
	if (t->chan) {
		t->cancelling = 1;
		ares_destroy(t->chan); /* closes its sockets through check_sock */
	}
	curl_slist_free_all(t->connect_to);
	free(t->url);
	free(t->dns_server);
	free(t);
}

/* ---- state machine ------------------------------------------------------ */

/* result: 1 success, 0 failure, -1 unknown (a local error: no verdict). */
static void count_probe(struct prober *p, const char *check, int result, double secs)
{
	pthread_mutex_lock(&p->mmu);
	struct pmetric *m = NULL;
	for (size_t i = 0; i < p->npm; i++)
		if (strcmp(p->pm[i].check, check) == 0)
			m = &p->pm[i];
	if (!m) {
		struct pmetric *nv = realloc(p->pm, (p->npm + 1) * sizeof(*nv));
		if (nv) {
			p->pm = nv;
			m = &p->pm[p->npm++];
			memset(m, 0, sizeof(*m));
			snprintf(m->check, sizeof(m->check), "%s", check);
		}
	}
	if (m && result < 0) {
		m->unknown++;
	} else if (m) {
		if (result)
			m->ok++;
		else
			m->fail++;
		for (int b = 0; b < PM_BUCKETS; b++)
			if (secs <= pm_bounds[b]) {
				m->buckets[b]++;
				break;
			}
		m->count++;
		m->sum += secs;
	}
	pthread_mutex_unlock(&p->mmu);
}

char *prober_metrics_text(struct prober *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&p->mmu);
	fprintf(f,
		"# HELP gslb_probe_max_inflight Probes allowed in flight at once "
		"(probe_max_inflight).\n"
		"# TYPE gslb_probe_max_inflight gauge\n"
		"gslb_probe_max_inflight %zu\n"
		"# HELP gslb_probes_in_flight Probes running now.\n"
		"# TYPE gslb_probes_in_flight gauge\n"
		"gslb_probes_in_flight %zu\n"
		"# HELP gslb_probes_in_flight_max Most probes running at once since the start.\n"
		"# TYPE gslb_probes_in_flight_max gauge\n"
		"gslb_probes_in_flight_max %zu\n"
		"# HELP gslb_probes_queued Due probes waiting for a slot.\n"
		"# TYPE gslb_probes_queued gauge\n"
		"gslb_probes_queued %zu\n",
		p->m_cap, p->m_inflight, p->m_inflight_max, p->m_queued);
	fputs("# HELP gslb_probes_total Health probes, by check and result (unknown: not run "
	      "for a local error, no state change).\n"
	      "# TYPE gslb_probes_total counter\n",
	      f);
	for (size_t i = 0; i < p->npm; i++)
		fprintf(f,
			"gslb_probes_total{check=\"%s\",result=\"success\"} %llu\n"
			"gslb_probes_total{check=\"%s\",result=\"failure\"} %llu\n"
			"gslb_probes_total{check=\"%s\",result=\"unknown\"} %llu\n",
			p->pm[i].check, (unsigned long long)p->pm[i].ok, p->pm[i].check,
			(unsigned long long)p->pm[i].fail, p->pm[i].check,
			(unsigned long long)p->pm[i].unknown);
	fputs("# HELP gslb_probe_duration_seconds Time from a probe's start to its result.\n"
	      "# TYPE gslb_probe_duration_seconds histogram\n",
	      f);
	for (size_t i = 0; i < p->npm; i++) {
		uint64_t cum = 0;
		for (int b = 0; b < PM_BUCKETS; b++) {
			cum += p->pm[i].buckets[b];
			fprintf(f,
				"gslb_probe_duration_seconds_bucket{check=\"%s\",le=\"%g\"} %llu\n",
				p->pm[i].check, pm_bounds[b], (unsigned long long)cum);
		}
		fprintf(f,
			"gslb_probe_duration_seconds_bucket{check=\"%s\",le=\"+Inf\"} %llu\n"
			"gslb_probe_duration_seconds_sum{check=\"%s\"} %.6f\n"
			"gslb_probe_duration_seconds_count{check=\"%s\"} %llu\n",
			p->pm[i].check, (unsigned long long)p->pm[i].count, p->pm[i].check,
			p->pm[i].sum, p->pm[i].check, (unsigned long long)p->pm[i].count);
	}
	pthread_mutex_unlock(&p->mmu);
	fclose(f);
	return buf;
}

static void target_result(struct prober *p, struct ptarget *t, int ok, const char *reason)
{
	const struct check *c = target_check(t);
	int64_t now = mono_ms();
	count_probe(p, c->name, ok ? 1 : 0,
		    t->started > 0 ? (double)(now - t->started) / 1000.0 : 0);
	if (p->local_errors && now - p->local_log_at >= LOCAL_LOG_MS) {
		log_info("probes run again after local errors errors=%" PRIu64, p->local_errors);
		p->local_errors = p->local_unlogged = 0;
	}
	struct ppool *pp = t->pp;
	uint8_t old = t->state, nstate;
	int was_failing = old != HEALTH_DOWN && t->fails > 0;

	set_reason(t->reason, sizeof(t->reason), reason);
	nstate = (uint8_t)health_step((enum health_state)old, &t->oks, &t->fails, ok ? 1 : 0,
				      c->rise, c->fall);
	int failing = nstate != HEALTH_DOWN && t->fails > 0;

	if (nstate != old) {
		const struct member *mb = target_member(t);
		unsigned count = ok ? t->oks : t->fails;
		char times[16] = "";
		t->state = nstate;
		t->since = wall_s();
		if (count > 1)
			snprintf(times, sizeof(times), " x%u", count);
		log_msg(nstate == HEALTH_DOWN ? LOG_LVL_WARN : LOG_LVL_INFO,
			"member state changed service=%s region=%s member=%s%s%s check=%s old=%s "
			"new=%s reason=\"%s%s\"",
			pp->svc->name, pp->region, t->atext,
			mb->hostname && t->family ? " host=" : "",
			mb->hostname && t->family ? mb->hostname : "", c->name,
			health_state_name((enum health_state)old),
			health_state_name((enum health_state)nstate), t->reason, times);
		p->hard_dirty = 1;
		p->save_pending = 1;
	} else if (failing != was_failing) {
		p->hard_dirty = 1; /* the TTL drops while a pool fails probes */
	} else if (!p->first_done) {
		p->hard_dirty = 1; /* the first round is published before it is announced */
	} else {
		p->soft_dirty = 1;
	}
	log_debug("probe result service=%s region=%s member=%s check=%s ok=%d reason=\"%s\"",
		  pp->svc->name, pp->region, t->atext, c->name, ok, t->reason);
	pp->dirty = 1;
	if (!t->fresh) {
		t->fresh = 1;
		if (p->first_pending)
			p->first_pending--;
	}
}

/* A probe that could not run for a reason of this host (out of
 * descriptors or memory, no socket, a library failure) says nothing about
 * the member: no rise/fall step, the state stays; counted as "unknown" and
 * logged at most every LOCAL_LOG_MS. */
static void target_unknown(struct prober *p, struct ptarget *t, const char *why)
{
	const struct check *c = target_check(t);
	int64_t now = mono_ms();
	char r[HEALTH_REASON_MAX];

	count_probe(p, c->name, -1, 0);
	t->state = (uint8_t)health_step((enum health_state)t->state, &t->oks, &t->fails, -1,
					c->rise, c->fall);
	p->local_errors++;
	snprintf(r, sizeof(r), "not probed: %s", why);
	set_reason(t->reason, sizeof(t->reason), r);
	t->pp->dirty = 1;
	p->soft_dirty = 1;
	if (p->local_log_at && now - p->local_log_at < LOCAL_LOG_MS) {
		p->local_unlogged++;
		return;
	}
	log_warn("probe not run for a local error, member state unchanged service=%s region=%s "
		 "member=%s check=%s error=\"%s\" unlogged=%" PRIu64,
		 t->pp->svc->name, t->pp->region, t->atext, c->name, why, p->local_unlogged);
	p->local_log_at = now;
	p->local_unlogged = 0;
}

static int errno_is_local(long e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EADDRNOTAVAIL;
}

/* ---- http, https and tcp through curl ----------------------------------- */

/* curl opens its sockets here, so that a socket that cannot be had (out of
 * descriptors) is told apart from a member that refuses. */
static curl_socket_t open_sock_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct ptarget *t = clientp;
	int fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0) {
		t->local_err = errno;
		return CURL_SOCKET_BAD;
	}
	return fd;
}

/* Why a curl transfer failed for a reason of this host, or NULL. */
static const char *curl_local(const struct ptarget *t, CURLcode rc, long oserr, char *buf,
			      size_t len)
{
	if (t->local_err) {
		char eb[64];
		snprintf(buf, len, "cannot open a socket: %s",
			 strerror_r(t->local_err, eb, sizeof(eb)));
		return buf;
	}
	switch (rc) {
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		snprintf(buf, len, "curl: %s", curl_easy_strerror(rc));
		return buf;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		if (errno_is_local(oserr)) {
			char eb[64];
			snprintf(buf, len, "%s", strerror_r((int)oserr, eb, sizeof(eb)));
			return buf;
		}
		return NULL;
	default:
		return NULL;
	}
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ptarget *t = userdata;
	const struct check *c = target_check(t);
	size_t n = size * nmemb, take;

	/* Nothing to look for, or looked far enough: stop the transfer (the
	 * connection is not reused anyway). */
	if (!c->expect_body || t->blen >= BODY_MAX) {
		t->body_stop = 1;
		return 0;
	}
	take = n < BODY_MAX - t->blen ? n : BODY_MAX - t->blen;
	if (t->blen + take > t->bcap) {
		size_t nc = t->bcap ? t->bcap : 4096;
		char *nb;
		while (nc < t->blen + take)
			nc *= 2;
		if (nc > BODY_MAX)
			nc = BODY_MAX;
		nb = realloc(t->body, nc);
		if (!nb) {
			t->body_stop = 1;
			return 0;
		}
		t->body = nb;
		t->bcap = nc;
	}
	memcpy(t->body + t->blen, ptr, take);
	t->blen += take;
	return n;
}

#define SETOPT(e, opt, val)                                       \
	do {                                                      \
		if (cc == CURLE_OK)                               \
			cc = curl_easy_setopt((e), (opt), (val)); \
	} while (0)

static void curl_start(struct prober *p, struct ptarget *t, int64_t now)
{
	const struct check *c = target_check(t);
	long tmo = (long)t->pp->pc->timeout_ms;
	CURLcode cc = CURLE_OK;
	CURL *e = curl_easy_init();

	if (!e) {
		target_unknown(p, t, "curl: out of memory");
		return;
	}
	t->local_err = 0;
	t->errbuf[0] = '\0';
	t->blen = 0;
	t->body_stop = 0;
	SETOPT(e, CURLOPT_URL, t->url);
	SETOPT(e, CURLOPT_PRIVATE, (void *)t);
	SETOPT(e, CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_TIMEOUT_MS, tmo);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, tmo);
	SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(e, CURLOPT_FORBID_REUSE, 1L);
	SETOPT(e, CURLOPT_USERAGENT, "gslbd-probe/" PACKAGE_VERSION);
	SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, open_sock_cb);
	SETOPT(e, CURLOPT_OPENSOCKETDATA, (void *)t);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SETOPT(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (t->connect_to)
		SETOPT(e, CURLOPT_CONNECT_TO, t->connect_to);
	if (c->type == CHECK_TCP) {
		SETOPT(e, CURLOPT_CONNECT_ONLY, 1L);
	} else {
		SETOPT(e, CURLOPT_WRITEFUNCTION, body_cb);
		SETOPT(e, CURLOPT_WRITEDATA, (void *)t);
		if (c->method_head)
			SETOPT(e, CURLOPT_NOBODY, 1L);
		if (c->follow_redirects) {
			SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
			SETOPT(e, CURLOPT_MAXREDIRS, 5L);
		}
		if (t->pp->pc->headers)
			SETOPT(e, CURLOPT_HTTPHEADER, t->pp->pc->headers);
		SETOPT(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
		SETOPT(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
		if (c->ca_file)
			SETOPT(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (cc == CURLE_OK && curl_multi_add_handle(p->multi, e) != CURLM_OK)
		cc = CURLE_OUT_OF_MEMORY;
	if (cc != CURLE_OK) {
		char r[HEALTH_REASON_MAX];
		snprintf(r, sizeof(r), "curl: %s", curl_easy_strerror(cc));
		curl_easy_cleanup(e);
		target_unknown(p, t, r);
		return;
	}
	t->easy = e;
	t->started = now;
	slot_take(p, t);
}

/* "SSL certificate problem: certificate has expired" -> "certificate has
 * expired": the words a person acts on. */
static void tls_reason(const char *errbuf, CURLcode rc, char *out, size_t len)
{
	static const char *const prefixes[] = { "SSL certificate problem: ", "SSL: ",
						"OpenSSL SSL_connect: ", "error:" };
	const char *s = errbuf;

	if (!s[0]) {
		snprintf(out, len, "TLS: %s", curl_easy_strerror(rc));
		return;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			s += strlen(prefixes[i]);
	if (strstr(s, "subject name") || strstr(s, "does not match"))
		snprintf(out, len, "TLS: certificate does not match the host name");
	else
		snprintf(out, len, "TLS: %.85s", s);
}

static void curl_reason(const struct ptarget *t, CURLcode rc, long oserr, char *out, size_t len)
{
	const struct check *c = target_check(t);
	char eb[128];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(out, len, "timeout after %.1fs", c->timeout);
		return;
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			snprintf(out, len, "connection refused");
		else if (oserr == EHOSTUNREACH)
			snprintf(out, len, "host unreachable");
		else if (oserr == ENETUNREACH)
			snprintf(out, len, "network unreachable");
		else if (oserr == ETIMEDOUT)
			snprintf(out, len, "timeout after %.1fs", c->timeout);
		else if (oserr)
			snprintf(out, len, "connect failed: %s",
				 strerror_r((int)oserr, eb, sizeof(eb)));
		else
			snprintf(out, len, "connect failed");
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(out, len, "cannot resolve host");
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
		tls_reason(t->errbuf, rc, out, len);
		return;
	case CURLE_GOT_NOTHING:
		snprintf(out, len, "empty reply");
		return;
	case CURLE_RECV_ERROR:
		snprintf(out, len, oserr == ECONNRESET ? "connection reset" : "receive failed");
		return;
	case CURLE_SEND_ERROR:
		snprintf(out, len, oserr == ECONNRESET ? "connection reset" : "send failed");
		return;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(out, len, "too many redirects");
		return;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		snprintf(out, len, "bad HTTP reply");
		return;
	default:
		snprintf(out, len, "curl: %.85s",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
		return;
	}
}

static int status_expected(const struct check *c, long code)
{
	if (c->nexpect_status == 0)
		return code == 200;
	for (size_t i = 0; i < c->nexpect_status; i++)
		if ((long)c->expect_status[i] == code)
			return 1;
	return 0;
}

static int http_verdict(const struct ptarget *t, CURLcode rc, long code, long oserr, char *out,
			size_t len)
{
	const struct check *c = target_check(t);

	if (rc == CURLE_WRITE_ERROR && t->body_stop)
		rc = CURLE_OK; /* we stopped reading on purpose */
	if (rc != CURLE_OK) {
		curl_reason(t, rc, oserr, out, len);
		return 0;
	}
	if (c->type == CHECK_TCP) {
		snprintf(out, len, "connected");
		return 1;
	}
	if (!status_expected(c, code)) {
		snprintf(out, len, "HTTP %ld", code);
		return 0;
	}
	if (c->expect_body && c->expect_body[0] &&
	    !(t->body && memmem(t->body, t->blen, c->expect_body, strlen(c->expect_body)))) {
		snprintf(out, len, "body does not contain \"%.40s\"", c->expect_body);
		return 0;
	}
	snprintf(out, len, "HTTP %ld", code);
	return 1;
}

static void curl_collect(struct prober *p)
{
	for (;;) {
		int left = 0;
		CURLMsg *msg = curl_multi_info_read(p->multi, &left);
		char reason[HEALTH_REASON_MAX];
		struct ptarget *t = NULL;
		long code = 0, oserr = 0;
		CURL *e;
		CURLcode rc;
		int ok;

		if (!msg)
			break;
		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		rc = msg->data.result;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		t = (struct ptarget *)(void *)priv;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
		if (!t)
			continue;
		const char *local = curl_local(t, rc, oserr, reason, sizeof(reason));
		ok = local ? 0 : http_verdict(t, rc, code, oserr, reason, sizeof(reason));
		curl_multi_remove_handle(p->multi, e);
		curl_easy_cleanup(e);
		t->easy = NULL;
		free(t->body);
		t->body = NULL;
		t->blen = t->bcap = 0;
		slot_give(p, t);
		if (local)
			target_unknown(p, t, local);
		else
			target_result(p, t, ok, reason);
	}
}

/* ---- dns checks through c-ares ------------------------------------------ */

static int text_match(const char *have, const char *want)
{
	size_t hl = strlen(have), wl = strlen(want);
	if (hl >= 2 && have[0] == '"' && have[hl - 1] == '"') {
		have++;
		hl -= 2;
	}
	if (hl > 1 && have[hl - 1] == '.')
		hl--;
	if (wl > 1 && want[wl - 1] == '.')
		wl--;
	return hl == wl && strncasecmp(have, want, hl) == 0;
}

/* expect_answer: an address compared as an address with A and AAAA
 * records, else text compared with each rdata field. */
static int answer_has(ldns_pkt *pkt, const char *want)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	uint8_t wa[16];
	int wfam = 0;

	if (inet_pton(AF_INET, want, wa) == 1)
		wfam = AF_INET;
	else if (inet_pton(AF_INET6, want, wa) == 1)
		wfam = AF_INET6;
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rr_type type = ldns_rr_get_type(rr);
		if (wfam && ((type == LDNS_RR_TYPE_A && wfam == AF_INET) ||
			     (type == LDNS_RR_TYPE_AAAA && wfam == AF_INET6))) {
			ldns_rdf *f = ldns_rr_rdf(rr, 0);
			size_t al = wfam == AF_INET ? 4 : 16;
			if (f && ldns_rdf_size(f) == al && memcmp(ldns_rdf_data(f), wa, al) == 0)
				return 1;
			continue;
		}
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, k));
			int m = s && text_match(s, want);
			free(s);
			if (m)
				return 1;
		}
	}
	return 0;
}

static void rcode_text(int rcode, char *out, size_t len)
{
	ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);
	if (lt && lt->name)
		snprintf(out, len, "DNS %s", lt->name);
	else
		snprintf(out, len, "DNS RCODE%d", rcode);
}

static void dns_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	int err = errno; /* a socket that failed to open: just before this call */
	struct ptarget *t = arg;
	struct prober *p = t->pp->p;
	const struct check *c = target_check(t);
	char reason[HEALTH_REASON_MAX];
	int ok = 0;

	(void)timeouts;
	if (!t->dns_busy || t->cancelling || status == ARES_EDESTRUCTION)
		return;
	t->dns_busy = 0;
	slot_give(p, t);
	heap_del(&p->heap, &t->deadline);
	/* No socket could be opened (c-ares reports it as a refusal), or
	 * c-ares ran out of memory: nothing is known about the member. */
	if (status == ARES_ENOMEM || (status != ARES_SUCCESS && !t->sock_made)) {
		char eb[64];
		if (status == ARES_ENOMEM)
			snprintf(reason, sizeof(reason), "c-ares: %s", ares_strerror(status));
		else
			snprintf(reason, sizeof(reason), "cannot open a socket%s%s",
				 errno_is_local(err) ? ": " : "",
				 errno_is_local(err) ? strerror_r(err, eb, sizeof(eb)) : "");
		target_unknown(p, t, reason);
		return;
	}
	if (status == ARES_ETIMEOUT || status == ARES_ECANCELLED) {
		snprintf(reason, sizeof(reason), "timeout after %.1fs", c->timeout);
	} else if (status == ARES_ECONNREFUSED) {
		snprintf(reason, sizeof(reason), "connection refused");
	} else if (status != ARES_SUCCESS || !abuf || alen <= 0) {
		snprintf(reason, sizeof(reason), "DNS: %s", ares_strerror(status));
	} else {
		ldns_pkt *pkt = NULL;
		if (ldns_wire2pkt(&pkt, abuf, (size_t)alen) != LDNS_STATUS_OK || !pkt) {
			snprintf(reason, sizeof(reason), "DNS: malformed reply");
		} else {
			int rcode = (int)ldns_pkt_get_rcode(pkt);
			rcode_text(rcode, reason, sizeof(reason));
			if (rcode != c->expect_rcode) {
				ok = 0;
			} else if (c->expect_answer && c->expect_answer[0] &&
				   !answer_has(pkt, c->expect_answer)) {
				snprintf(reason, sizeof(reason), "no answer %s", c->expect_answer);
				ok = 0;
			} else {
				ok = 1;
			}
		}
		ldns_pkt_free(pkt);
	}
	target_result(p, t, ok, reason);
}

static int dns_channel(struct ptarget *t)
{
	struct ares_options o;
	int rc;

	if (t->chan)
		return ARES_SUCCESS;
	memset(&o, 0, sizeof(o));
	/* NOCHECKRESP: SERVFAIL and REFUSED are answers to judge, not reasons
	 * to try another server. */
	o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
	o.timeout = (int)t->pp->pc->timeout_ms;
	o.tries = 1;
	o.sock_state_cb = check_sock;
	o.sock_state_cb_data = t;
	rc = ares_init_options(&t->chan, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				       ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		t->chan = NULL;
		return rc;
	}
	if (!t->dns_server)
		return ARES_SUCCESS; /* the system's resolvers */
	rc = ares_set_servers_ports_csv(t->chan, t->dns_server);
	if (rc != ARES_SUCCESS) {
		ares_destroy(t->chan);
		t->chan = NULL;
	}
	return rc;
}

static void dns_start(struct prober *p, struct ptarget *t, int64_t now)
{
	const struct check *c = target_check(t);
	unsigned char *q = NULL;
	int qlen = 0, rc;
	char reason[HEALTH_REASON_MAX];

	rc = dns_channel(t);
	if (rc == ARES_SUCCESS)
		rc = ares_create_query(t->qname, 1 /* IN */, c->qtype ? c->qtype : 1, 0, 1, &q,
				       &qlen, 0);
	if (rc != ARES_SUCCESS) {
		snprintf(reason, sizeof(reason), "DNS: %s", ares_strerror(rc));
		/* a name that cannot be asked is the check's fault; the rest
		 * (memory, reading the resolver configuration) is this host's */
		if (rc == ARES_EBADNAME)
			target_result(p, t, 0, reason);
		else
			target_unknown(p, t, reason);
		return;
	}
	t->dns_busy = 1;
	t->sock_made = 0;
	t->started = now;
	slot_take(p, t);
	/* c-ares gives up after the timeout by itself; this is the backstop. */
	sched_set(p, &t->deadline, now + t->pp->pc->timeout_ms + 50);
	ares_send(t->chan, q, qlen, dns_done, t); /* may call dns_done at once */
	ares_free_string(q);
}

static void dns_deadline(struct prober *p, struct ptarget *t)
{
	(void)p;
	if (!t->dns_busy)
		return;
	ares_process_fd(t->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (t->dns_busy)
		ares_cancel(t->chan); /* dns_done reports the timeout */
}

/* ---- probing and scheduling --------------------------------------------- */

static void probe_run(struct prober *p, struct ptarget *t, int64_t now)
{
	if (target_check(t)->type == CHECK_DNS)
		dns_start(p, t, now);
	else
		curl_start(p, t, now);
}

/* A due probe runs now when a slot is free and nobody waits, else it
 * waits its turn. */
static void probe_start(struct prober *p, struct ptarget *t, int64_t now)
{
	if (t->running || t->queued)
		return; /* the timeout is shorter than the interval, or the queue is long */
	if (t->spec_error) {
		target_result(p, t, 0, t->spec_error);
		return;
	}
	if (p->qhead || p->inflight >= p->cap) {
		queue_push(p, t);
		return;
	}
	probe_run(p, t, now);
}

/* Freed slots go to the probes waiting longest. */
static void queue_drain(struct prober *p)
{
	int64_t now = mono_ms();

	while (p->qhead && p->inflight < p->cap) {
		struct ptarget *t = p->qhead;
		queue_del(p, t);
		probe_run(p, t, now);
	}
}

/* The next probe: the first time in the target's slot sequence
 * (epoch + phase + k * interval) at least half an interval away, with a
 * little jitter; slots of one check are spread evenly over the interval. */
static int64_t next_probe(struct prober *p, const struct ptarget *t, int64_t now)
{
	const struct pcheck *pc = t->pp->pc;
	int64_t iv = pc->interval_ms, base = p->epoch + t->phase;
	int64_t want = now + iv / 2, at = base;
	int64_t slot = iv / (int64_t)(pc->ntargets ? pc->ntargets : 1);

	if (want > base)
		at = base + (want - base + iv - 1) / iv * iv;
	return at + jitter(p, slot / 10 < iv / 20 ? slot / 10 : iv / 20);
}

/* A target seen for the first time: its first probe soon, spread over a
 * short window (at most window ms) so that a start or a reload is not a
 * burst, yet the first round ends within window + timeout; then its slot
 * in the interval. i of n among the targets of its check added together. */
static void schedule_new(struct prober *p, struct ptarget *t, size_t i, size_t n, int64_t window,
			 int64_t now)
{
	const struct pcheck *pc = t->pp->pc;
	int64_t iv = pc->interval_ms;
	int64_t w = iv < window ? iv : window;
	int64_t slot = iv / (int64_t)(n ? n : 1);

	t->phase = n ? (int64_t)i * iv / (int64_t)n + jitter(p, slot / 10) : 0;
	t->phase = ((t->phase % iv) + iv) % iv;
	sched_set(p, &t->next,
		  now + (n ? (int64_t)i * w / (int64_t)n : 0) +
			  jitter(p, w / (int64_t)(n ? n : 1) / 10));
}

/* ---- host-name members -------------------------------------------------- */

static int same_addr(const struct ptarget *t, int family, const uint8_t *addr)
{
	return t->family == family && memcmp(t->addr, addr, family == AF_INET ? 4 : 16) == 0;
}

static void pool_remove_at(struct prober *p, struct ppool *pp, size_t i)
{
	struct ptarget *t = pp->t[i];
	if (pp->pc) {
		if (!t->fresh && p->first_pending)
			p->first_pending--;
		pp->pc->ntargets--;
	}
	target_free(p, t);
	memmove(&pp->t[i], &pp->t[i + 1], (pp->n - i - 1) * sizeof(pp->t[0]));
	pp->n--;
}

static int pool_insert(struct ppool *pp, size_t at, struct ptarget *t)
{
	if (pp->n == pp->cap) {
		size_t nc = pp->cap ? pp->cap * 2 : 4;
		struct ptarget **nv = realloc(pp->t, nc * sizeof(*nv));
		if (!nv)
			return GSLB_ENOMEM;
		pp->t = nv;
		pp->cap = nc;
	}
	memmove(&pp->t[at + 1], &pp->t[at], (pp->n - at) * sizeof(pp->t[0]));
	pp->t[at] = t;
	pp->n++;
	return GSLB_OK;
}

/* Make the member's targets the resolved set: gone addresses leave at
 * once, new ones start unknown (checked) or up (unchecked). Returns whether
 * anything changed. */
static int host_apply(struct prober *p, struct phost *h, const struct resolve_addr *a, size_t n,
		      int first, int64_t now)
{
	struct ppool *pp = h->pp;
	const struct member *mb = &pp->pool->members[h->member];
	int changed = 0;
	size_t nnew = 0, inew = 0;

	for (size_t i = pp->n; i-- > 0;) {
		const struct ptarget *t = pp->t[i];
		int keep = 0;
		if (t->member != h->member)
			continue;
		for (size_t k = 0; k < n && !keep; k++)
			keep = same_addr(t, a[k].family, a[k].addr);
		if (!keep) {
			pool_remove_at(p, pp, i);
			changed = 1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		int have = 0;
		for (size_t i = 0; i < pp->n && !have; i++)
			have = pp->t[i]->member == h->member &&
			       same_addr(pp->t[i], a[k].family, a[k].addr);
		nnew += !have;
	}
	for (size_t k = 0; k < n; k++) {
		struct hmember hm;
		struct ptarget *t;
		size_t at = 0;
		int have = 0;

		for (size_t i = 0; i < pp->n && !have; i++)
			have = pp->t[i]->member == h->member &&
			       same_addr(pp->t[i], a[k].family, a[k].addr);
		if (have)
			continue;
		memset(&hm, 0, sizeof(hm));
		hm.family = a[k].family;
		memcpy(hm.addr, a[k].addr, 16);
		hm.weight = mb->weight;
		hm.member = h->member;
		hm.state = pp->pc ? HEALTH_UNKNOWN : HEALTH_UP;
		snprintf(hm.reason, sizeof(hm.reason), "%s",
			 pp->pc ? "not probed yet" : "not checked");
		t = target_new(pp, &hm);
		/* keep the view in config order: after the member's
		 * predecessors and its own earlier addresses */
		for (size_t i = 0; i < pp->n; i++)
			if (pp->t[i]->member <= h->member)
				at = i + 1;
		if (!t || pool_insert(pp, at, t)) {
			log_err("prober: out of memory adding a resolved address service=%s "
				"region=%s host=%s",
				pp->svc->name, pp->region, h->name);
			target_free(p, t);
			continue;
		}
		changed = 1;
		if (pp->pc) {
			pp->pc->ntargets++;
			if (!p->first_done)
				p->first_pending++;
			/* a name's first addresses are probed at once: the
			 * first round waits for them */
			schedule_new(p, t, inew++, nnew, first ? HOST_WINDOW_MS : FIRST_WINDOW_MS,
				     now);
			/* its slot: anywhere, other names' addresses are there too */
			t->phase = (int64_t)(rnd(p) % (uint64_t)pp->pc->interval_ms);
		} else {
			t->fresh = 1;
		}
	}
	if (changed) {
		pp->dirty = 1;
		p->hard_dirty = 1;
		p->save_pending = 1;
	}
	return changed;
}

static void host_done(void *arg, enum resolve_status status, const struct resolve_addr *a, size_t n,
		      uint32_t ttl, const char *error)
{
	struct phost *h = arg;
	struct ppool *pp = h->pp;
	struct prober *p = pp->p;
	int64_t now = mono_ms();

	h->busy = 0;
	if (status == RESOLVE_CANCELLED)
		return; /* adopt or stop: rescheduled or gone */
	int first = !h->attempted;
	if (!h->attempted) {
		h->attempted = 1;
		if (p->first_pending)
			p->first_pending--;
	}
	if (pp->cname_pending) {
		/* resolved or not, a CNAME pool's target is now known */
		pp->cname_pending = 0;
		pp->dirty = 1;
		p->hard_dirty = 1;
	}
	if (status != RESOLVE_OK) {
		size_t have = 0;
		for (size_t i = 0; i < pp->n; i++)
			have += pp->t[i]->member == h->member;
		if (!h->failing)
			log_warn("member host name does not resolve%s service=%s region=%s host=%s "
				 "addresses=%zu error=\"%s\"",
				 have ? ", keeping its last addresses" : "", pp->svc->name,
				 pp->region, h->name, have, error ? error : "?");
		h->failing = 1;
		h->retry = h->retry ? h->retry * 2 : RETRY_MIN_S;
		if (h->retry > RETRY_MAX_S)
			h->retry = RETRY_MAX_S;
		sched_set(p, &h->next, now + (int64_t)h->retry * 1000);
		return;
	}
	if (h->failing)
		log_info("member host name resolves again service=%s region=%s host=%s",
			 pp->svc->name, pp->region, h->name);
	h->failing = 0;
	h->retry = 0;
	if (host_apply(p, h, a, n, first, now)) {
		char list[512] = "", at[INET6_ADDRSTRLEN];
		size_t off = 0;
		for (size_t k = 0; k < n && off < sizeof(list); k++) {
			if (!inet_ntop(a[k].family, a[k].addr, at, sizeof(at)))
				continue;
			int w = snprintf(list + off, sizeof(list) - off, "%s%s", k ? "," : "", at);
			if (w < 0)
				break;
			off += (size_t)w;
		}
		log_info("member host name resolved service=%s region=%s host=%s addresses=%s "
			 "ttl=%u",
			 pp->svc->name, pp->region, h->name, list, ttl);
	}
	sched_set(p, &h->next, now + (int64_t)ttl * 1000);
}

static void host_resolve(struct prober *p, struct phost *h, int64_t now)
{
	if (h->busy)
		return;
	h->busy = 1;
	if (resolve_name(p->res, h->name, host_done, h)) {
		h->busy = 0;
		sched_set(p, &h->next, now + RETRY_MIN_S * 1000);
	}
}

/* ---- the model: targets of every pool of a snapshot ---------------------- */

static void model_free(struct prober *p, struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->npools; i++) {
		struct ppool *pp = &m->pools[i];
		for (size_t k = 0; k < pp->n; k++)
			target_free(p, pp->t[k]);
		free(pp->t);
		for (size_t k = 0; k < pp->nhosts; k++)
			heap_del(&p->heap, &pp->hosts[k].next);
		free(pp->hosts);
	}
	free(m->pools);
	for (size_t i = 0; i < m->nchecks; i++)
		curl_slist_free_all(m->checks[i].headers);
	free(m->checks);
	free(m);
}

static int same_name(const struct service *a, const struct service *b)
{
	return a->lname_len == b->lname_len && memcmp(a->lname, b->lname, a->lname_len) == 0;
}

/* The pool of old that a new pool continues: same service, same region. */
static const struct ppool *old_pool(const struct model *old, const struct ppool *pp)
{
	if (!old)
		return NULL;
	if (pp->pool->gidx < old->npools) {
		const struct ppool *o = &old->pools[pp->pool->gidx];
		if (o->svc && same_name(o->svc, pp->svc) && strcmp(o->region, pp->region) == 0)
			return o;
	}
	for (size_t i = 0; i < old->npools; i++) {
		const struct ppool *o = &old->pools[i];
		if (o->svc && same_name(o->svc, pp->svc) && strcmp(o->region, pp->region) == 0)
			return o;
	}
	return NULL;
}

/* Carry over scheduling and freshness (the state itself comes with the
 * view, from health_initial) by service, region and address. */
static void carry_target(struct ptarget *t, const struct ppool *op)
{
	if (!op || !op->pc || !t->pp->pc)
		return;
	for (size_t i = 0; i < op->n; i++) {
		const struct ptarget *o = op->t[i];
		if (!same_addr(o, t->family, t->addr))
			continue;
		t->fresh = o->fresh;
		t->carried = 1;
		t->phase = o->phase % t->pp->pc->interval_ms;
		t->next.at = o->next.idx != NOT_QUEUED ? o->next.at : 0;
		return;
	}
}

static void carry_host(struct phost *h, const struct ppool *op)
{
	if (!op)
		return;
	for (size_t i = 0; i < op->nhosts; i++) {
		const struct phost *o = &op->hosts[i];
		if (strcasecmp(o->name, h->name) != 0)
			continue;
		h->attempted = o->attempted;
		h->failing = o->failing;
		h->retry = o->retry;
		h->next.at = o->next.idx != NOT_QUEUED ? o->next.at : 0;
		return;
	}
}

static int model_build(struct prober *p, struct snapshot *snap, const struct model *old,
		       struct model **out)
{
	const struct conf *c = snap->conf;
	const struct health *h = snap->health;
	struct model *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return GSLB_ENOMEM;
	m->snap = snap;
	m->nchecks = c->nchecks;
	m->checks = calloc(c->nchecks ? c->nchecks : 1, sizeof(*m->checks));
	m->npools = c->npools;
	m->pools = calloc(c->npools ? c->npools : 1, sizeof(*m->pools));
	if (!m->checks || !m->pools)
		goto nomem;
	for (size_t i = 0; i < c->nchecks; i++) {
		struct pcheck *pc = &m->checks[i];
		const struct check *ck = &c->checks[i];
		pc->c = ck;
		pc->interval_ms = (int64_t)(ck->interval * 1000.0 + 0.5);
		pc->timeout_ms = (int64_t)(ck->timeout * 1000.0 + 0.5);
		if (pc->interval_ms < 1)
			pc->interval_ms = 1;
		if (pc->timeout_ms < 1)
			pc->timeout_ms = 1;
		for (size_t k = 0; k < ck->nheaders; k++) {
			struct curl_slist *l = curl_slist_append(pc->headers, ck->headers[k]);
			if (!l)
				goto nomem;
			pc->headers = l;
		}
	}
	for (size_t si = 0; si < c->nservices; si++) {
		const struct service *svc = &c->services[si];
		for (size_t pi = 0; pi < svc->npools; pi++) {
			const struct pool *pool = &svc->pools[pi];
			struct ppool *pp;
			const struct ppool *op;
			const struct hpool *hp;

			if (pool->gidx >= m->npools)
				continue;
			pp = &m->pools[pool->gidx];
			pp->p = p;
			pp->svc = svc;
			pp->pool = pool;
			pp->region = c->regions[pool->region].name;
			pp->pc = pool->check_idx >= 0 && (size_t)pool->check_idx < m->nchecks ?
					 &m->checks[pool->check_idx] :
					 NULL;
			pp->resolvers = c->resolvers;
			op = old_pool(old, pp);
			hp = h && pool->gidx < h->npools ? &h->pools[pool->gidx] : NULL;
			pp->cname_pending = hp ? hp->cname_pending : 0;
			for (size_t k = 0; hp && k < hp->nmembers; k++) {
				const struct hmember *hm = &hp->members[k];
				struct ptarget *t;
				if (hm->member >= pool->nmembers)
					continue;
				t = target_new(pp, hm);
				if (!t || pool_insert(pp, pp->n, t)) {
					target_free(p, t);
					goto nomem;
				}
				if (!pp->pc) {
					t->fresh = 1;
					continue;
				}
				pp->pc->ntargets++;
				carry_target(t, op);
				if (!t->carried)
					pp->pc->nnew++;
			}
			for (size_t k = 0; k < pool->nmembers && !pool->cname_query; k++)
				pp->nhosts += pool->members[k].hostname != NULL;
			if (pp->nhosts) {
				size_t j = 0;
				pp->hosts = calloc(pp->nhosts, sizeof(*pp->hosts));
				if (!pp->hosts)
					goto nomem;
				for (size_t k = 0; k < pool->nmembers; k++) {
					struct phost *ph;
					if (!pool->members[k].hostname)
						continue; /* (cname_query pools have no hosts) */
					ph = &pp->hosts[j++];
					ph->next.idx = NOT_QUEUED;
					ph->next.kind = EV_RESOLVE;
					ph->pp = pp;
					ph->member = (uint16_t)k;
					ph->name = pool->members[k].hostname;
					carry_host(ph, op);
				}
			}
		}
	}
	*out = m;
	return GSLB_OK;
nomem:
	model_free(p, m);
	return GSLB_ENOMEM;
}

/* Put a freshly built model's probes and resolutions on the schedule and
 * count what the first round waits for. */
static void model_schedule(struct prober *p, struct model *m, int64_t now)
{
	size_t nhosts_new = 0, ihost = 0, nnew = 0;

	p->first_pending = 0;
	for (size_t i = 0; i < m->npools; i++)
		for (size_t k = 0; m->pools[i].pc && k < m->pools[i].n; k++)
			nnew += !m->pools[i].t[k]->carried;
	/* A first round of thousands of probes in half a second would time
	 * out healthy members on a small machine: spread it at FIRST_RATE. */
	int64_t window = (int64_t)(nnew * 1000 / FIRST_RATE);
	if (window < FIRST_WINDOW_MS)
		window = FIRST_WINDOW_MS;
	for (size_t i = 0; i < m->npools; i++) {
		struct ppool *pp = &m->pools[i];
		for (size_t k = 0; k < pp->nhosts; k++)
			nhosts_new += pp->hosts[k].next.at == 0;
	}
	for (size_t i = 0; i < m->npools; i++) {
		struct ppool *pp = &m->pools[i];
		for (size_t k = 0; pp->pc && k < pp->n; k++) {
			struct ptarget *t = pp->t[k];
			if (!t->fresh)
				p->first_pending++;
			if (t->carried && t->next.at > 0) {
				int64_t at = t->next.at;
				t->next.at = 0;
				/* a shorter interval after a reload applies soon */
				if (at > now + pp->pc->interval_ms)
					at = now + pp->pc->interval_ms;
				sched_set(p, &t->next, at);
			} else if (t->carried) {
				sched_set(p, &t->next, now);
			} else {
				schedule_new(p, t, pp->pc->inew++, pp->pc->nnew, window, now);
			}
		}
		for (size_t k = 0; k < pp->nhosts; k++) {
			struct phost *h = &pp->hosts[k];
			int64_t at = h->next.at;
			if (!h->attempted)
				p->first_pending++;
			h->next.at = 0;
			if (at == 0)
				at = now + (int64_t)(ihost++) * FIRST_WINDOW_MS /
						   (int64_t)(nhosts_new ? nhosts_new : 1);
			sched_set(p, &h->next, at);
		}
	}
}

/* ---- publication -------------------------------------------------------- */

static int pool_to_view(struct hpool *hp, const struct ppool *pp)
{
	hp->cname_pending = pp->cname_pending;
	if (hp->nmembers != pp->n) {
		struct hmember *v = NULL;
		if (pp->n) {
			v = calloc(pp->n, sizeof(*v));
			if (!v)
				return GSLB_ENOMEM;
		}
		free(hp->members);
		hp->members = v;
		hp->nmembers = pp->n;
	}
	for (size_t i = 0; i < pp->n; i++) {
		const struct ptarget *t = pp->t[i];
		struct hmember *hm = &hp->members[i];
		hm->family = t->family;
		memcpy(hm->addr, t->addr, 16);
		hm->weight = t->weight;
		hm->member = t->member;
		hm->state = t->state;
		hm->fails = t->fails;
		hm->oks = t->oks;
		hm->since = t->since;
		hm->failing = t->state != HEALTH_DOWN && t->fails > 0;
		memcpy(hm->reason, t->reason, sizeof(hm->reason));
	}
	return GSLB_OK;
}

/* A new view from the model's dirty pools and the admin table, published
 * through snap->health; the old one is freed after a grace period. */
static int publish(struct prober *p, int64_t now)
{
	struct health *old, *nw;
	uint64_t served;
	struct model *m = p->m;

	pthread_mutex_lock(&p->mu);
	served = p->pub_req;
	old = p->snap->health;
	nw = old ? health_clone(old) : NULL;
	if (!nw) {
		pthread_mutex_unlock(&p->mu);
		if (!p->publish_failing)
			log_err("prober: out of memory building a health view; will retry");
		p->publish_failing = 1;
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < m->npools && i < nw->npools; i++) {
		if (!m->pools[i].dirty)
			continue;
		if (pool_to_view(&nw->pools[i], &m->pools[i])) {
			pthread_mutex_unlock(&p->mu);
			health_free(nw);
			if (!p->publish_failing)
				log_err("prober: out of memory building a health view; will retry");
			p->publish_failing = 1;
			return GSLB_ENOMEM;
		}
	}
	health_compute(nw, p->snap, &p->admin, old, wall_s());
	rcu_assign_pointer(p->snap->health, nw);
	p->pub_done = served;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);

	for (size_t i = 0; i < m->npools; i++)
		m->pools[i].dirty = 0;
	p->hard_dirty = p->soft_dirty = 0;
	p->last_pub = now;
	p->publish_failing = 0;
	urcu_memb_synchronize_rcu();
	health_free(old);
	return GSLB_OK;
}

static void save(struct prober *p, int64_t now, int force)
{
	int rc;

	if (!p->state_dir || !p->save_pending)
		return;
	if (!force && now - p->last_save < SAVE_EVERY_MS)
		return;
	p->last_save = now;
	rc = health_save(p->snap->health, p->snap, p->state_dir);
	if (rc) {
		if (!p->save_failing)
			log_warn("cannot save the health state, will keep trying state_dir=%s "
				 "error=\"%s\"",
				 p->state_dir, gslb_strerror(rc));
		p->save_failing = 1;
		return;
	}
	if (p->save_failing)
		log_info("health state saved again state_dir=%s", p->state_dir);
	p->save_failing = 0;
	p->save_pending = 0;
}

/* ---- reload ------------------------------------------------------------- */

/* Cancel every probe and resolution in flight: their results would land in
 * a model about to go. */
static void cancel_all(struct prober *p)
{
	struct model *m = p->m;
	int64_t now = mono_ms();

	for (size_t i = 0; m && i < m->npools; i++) {
		struct ppool *pp = &m->pools[i];
		for (size_t k = 0; k < pp->n; k++)
			target_cancel(p, pp->t[k]);
		for (size_t k = 0; k < pp->nhosts; k++) {
			struct phost *h = &pp->hosts[k];
			if (h->busy)
				sched_set(p, &h->next, now); /* resolve again soon */
		}
	}
	if (p->res)
		resolve_cancel(p->res);
}

static int do_adopt(struct prober *p, struct snapshot *ns)
{
	int64_t now = mono_ms();
	struct health *nh, *given;
	struct model *nm = NULL;
	struct resolver *nres = NULL;
	int rc;

	/* Publish what is pending first, so that the new view starts from the
	 * latest states. */
	if (p->hard_dirty || p->soft_dirty)
		publish(p, now);
	cancel_all(p);
	pthread_mutex_lock(&p->mu);
	nh = health_initial(ns, p->snap->health, p->snap, NULL, &p->admin, wall_s());
	if (!nh) {
		pthread_mutex_unlock(&p->mu);
		log_err("prober: out of memory adopting a new configuration");
		return GSLB_ENOMEM;
	}
	given = ns->health;
	rcu_assign_pointer(ns->health, nh);
	rc = model_build(p, ns, p->m, &nm);
	if (rc) {
		rcu_assign_pointer(ns->health, given);
		pthread_mutex_unlock(&p->mu);
		health_free(nh);
		log_err("prober: out of memory adopting a new configuration");
		return rc;
	}
	model_free(p, p->m);
	p->m = nm;
	p->snap = ns;
	pthread_mutex_unlock(&p->mu);
	p->cap = probe_inflight_cap(ns->conf);
	gauges(p);

	/* A reload also rereads the system resolver configuration. */
	if (resolve_new(resolver_sock, p, ns->conf->resolvers, &nres) == GSLB_OK) {
		resolve_free(p->res);
		p->res = nres;
	}
	model_schedule(p, nm, now);
	p->hard_dirty = p->soft_dirty = 0;
	p->save_pending = 1;
	if (given) {
		/* not published yet by contract; the grace period costs little */
		urcu_memb_synchronize_rcu();
		health_free(given);
	}
	log_info("prober adopted a new configuration generation=%" PRIu64, ns->generation);
	return GSLB_OK;
}

/* ---- the thread --------------------------------------------------------- */

static void run_due(struct prober *p, int64_t now)
{
	while (p->heap.n && p->heap.v[0]->at <= now) {
		struct sched *s = p->heap.v[0];
		heap_del(&p->heap, s);
		switch (s->kind) {
		case EV_PROBE: {
			struct ptarget *t = container_of(s, struct ptarget, next);
			probe_start(p, t, now);
			sched_set(p, &t->next, next_probe(p, t, now));
			break;
		}
		case EV_DEADLINE:
			dns_deadline(p, container_of(s, struct ptarget, deadline));
			break;
		case EV_RESOLVE:
			host_resolve(p, container_of(s, struct phost, next), now);
			break;
		}
	}
}

static void dispatch(struct prober *p, const struct epoll_event *ev)
{
	struct fdent *e;
	int fd, running = 0;

	if (ev->data.u64 == WAKE_TAG) {
		uint64_t v;
		ssize_t n = read(p->evfd, &v, sizeof(v));
		(void)n;
		return;
	}
	fd = (int)ev->data.u64;
	if ((size_t)fd >= p->nfds)
		return;
	e = &p->fds[fd];
	int rd = (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
	int wr = (ev->events & EPOLLOUT) != 0;
	switch (e->kind) {
	case FD_CURL: {
		int mask = (ev->events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			   (ev->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			   (ev->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(p->multi, fd, mask, &running);
		break;
	}
	case FD_ARES: {
		struct ptarget *t = e->owner;
		ares_process_fd(t->chan, rd ? fd : ARES_SOCKET_BAD, wr ? fd : ARES_SOCKET_BAD);
		break;
	}
	case FD_RESOLVE:
		resolve_process(p->res, fd, rd, wr);
		break;
	default:
		break;
	}
}

static int wait_ms(struct prober *p, int64_t now)
{
	int64_t w = LOOP_MAX_WAIT_MS;

	if (p->heap.n && p->heap.v[0]->at - now < w)
		w = p->heap.v[0]->at - now;
	if (p->curl_timer >= 0 && p->curl_timer - now < w)
		w = p->curl_timer - now;
	w = resolve_timeout_ms(p->res, w);
	if (p->soft_dirty && p->last_pub + SOFT_PUBLISH_MS - now < w)
		w = p->last_pub + SOFT_PUBLISH_MS - now;
	if (p->save_pending && p->state_dir && p->last_save + SAVE_EVERY_MS - now < w)
		w = p->last_save + SAVE_EVERY_MS - now;
	if (p->publish_failing && w > 100)
		w = 100;
	return w < 0 ? 0 : (int)w;
}

/* Requests from other threads: stop, adopt, publish. Returns 1 to stop. */
static int requests(struct prober *p)
{
	struct snapshot *ns;
	uint64_t seq;
	int stop, rc;

	pthread_mutex_lock(&p->mu);
	stop = p->stop;
	ns = p->adopt_req;
	seq = p->adopt_seq;
	p->adopt_req = NULL;
	if (p->pub_req != p->pub_done)
		p->hard_dirty = 1;
	pthread_mutex_unlock(&p->mu);
	if (stop)
		return 1;
	if (ns) {
		rc = do_adopt(p, ns);
		pthread_mutex_lock(&p->mu);
		p->adopt_rc = rc;
		p->adopt_done = seq;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mu);
	}
	return 0;
}

static void *prober_main(void *arg)
{
	struct prober *p = arg;
	struct epoll_event evs[EV_BATCH];
	int running = 0;

	pthread_setname_np(pthread_self(), "gslb-prober");
	for (;;) {
		int64_t now = mono_ms();
		int n;

		if (requests(p))
			break;
		run_due(p, now);
		if (p->curl_timer >= 0 && now >= p->curl_timer) {
			p->curl_timer = -1;
			curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		if (resolve_pending(p->res) && resolve_timeout_ms(p->res, 1) == 0)
			resolve_process(p->res, -1, 0, 0);
		curl_collect(p);
		queue_drain(p);
		curl_collect(p); /* what failed at once while starting */
		now = mono_ms();
		if (p->hard_dirty || (p->soft_dirty && now - p->last_pub >= SOFT_PUBLISH_MS))
			publish(p, now);
		if (!p->hard_dirty && p->first_pending == 0) {
			pthread_mutex_lock(&p->mu);
			if (!p->first_done) {
				p->first_done = 1;
				log_debug("prober: first round complete");
				pthread_cond_broadcast(&p->cond);
			}
			pthread_mutex_unlock(&p->mu);
		}
		save(p, now, 0);

		n = epoll_wait(p->epfd, evs, EV_BATCH, wait_ms(p, now));
		if (n < 0 && errno != EINTR) {
			log_err("prober: epoll_wait failed: %s", strerror(errno));
			usleep(100000);
		}
		for (int i = 0; i < n; i++)
			dispatch(p, &evs[i]);
		curl_collect(p);
		queue_drain(p);
	}

	cancel_all(p);
	if (p->hard_dirty || p->soft_dirty)
		publish(p, mono_ms());
	save(p, mono_ms(), 1);
	pthread_mutex_lock(&p->mu);
	p->exited = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- public interface --------------------------------------------------- */

size_t probe_inflight_cap(const struct conf *c)
{
	struct rlimit rl;
	size_t cap = INFLIGHT_AUTO_MAX;

	if (c->probe_max_inflight)
		return c->probe_max_inflight;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / INFLIGHT_FD_SHARE < cap)
		cap = (size_t)(rl.rlim_cur / INFLIGHT_FD_SHARE);
	return cap ? cap : 1;
}

static void prober_free(struct prober *p)
{
	if (!p)
		return;
	/* the resolver first: its cancelled callbacks still see the hosts */
	resolve_free(p->res);
	p->res = NULL;
	model_free(p, p->m);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	if (p->curl_inited) {
		curl_global_cleanup();
		ares_library_cleanup();
	}
	if (p->evfd >= 0)
		close(p->evfd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p->fds);
	free(p->heap.v);
	admin_table_free(&p->admin);
	free(p->state_dir);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->mmu);
	free(p->pm);
	free(p);
}

int prober_new(struct snapshot *snap, const char *state_dir, struct prober **out)
{
	struct prober *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	struct epoll_event ev;
	int64_t now = mono_ms();
	int rc = GSLB_OK;

	*out = NULL;
	if (!p)
		return GSLB_ENOMEM;
	p->epfd = p->evfd = -1;
	p->curl_timer = -1;
	p->epoch = now;
	p->rng = (uint64_t)now * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^ (uint64_t)wall_s();
	if (!p->rng)
		p->rng = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->mmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (state_dir) {
		p->state_dir = strdup(state_dir);
		if (!p->state_dir) {
			rc = GSLB_ENOMEM;
			goto fail;
		}
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->epfd < 0 || p->evfd < 0) {
		log_err("prober: cannot create its event loop: %s", strerror(errno));
		rc = GSLB_ESYS;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = WAKE_TAG;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev)) {
		log_err("prober: cannot watch its eventfd: %s", strerror(errno));
		rc = GSLB_ESYS;
		goto fail;
	}
	/* Only this module uses curl and c-ares; initialise them before the
	 * thread exists. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("prober: curl_global_init failed");
		rc = GSLB_EIO;
		goto fail;
	}
	ares_library_init(ARES_LIB_INIT_ALL);
	p->curl_inited = 1;
	p->multi = curl_multi_init();
	if (!p->multi) {
		rc = GSLB_ENOMEM;
		goto fail;
	}
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	rc = resolve_new(resolver_sock, p, snap->conf->resolvers, &p->res);
	if (rc)
		goto fail;
	if (p->state_dir) {
		rc = admin_table_load(&p->admin, p->state_dir);
		if (rc)
			log_warn("cannot read admin overrides state_dir=%s error=\"%s\"",
				 p->state_dir, gslb_strerror(rc));
		rc = GSLB_OK;
	}
	p->snap = snap;
	p->cap = probe_inflight_cap(snap->conf);
	gauges(p);
	if (!snap->health) {
		snap->health = health_initial(snap, NULL, NULL, p->state_dir, &p->admin, wall_s());
		if (!snap->health) {
			rc = GSLB_ENOMEM;
			goto fail;
		}
	}
	rc = model_build(p, snap, NULL, &p->m);
	if (rc)
		goto fail;
	model_schedule(p, p->m, now);
	/* The overrides read above apply at once. */
	rc = publish(p, now);
	if (rc)
		goto fail;
	*out = p;
	return GSLB_OK;
fail:
	if (rc == GSLB_ENOMEM)
		log_err("prober: out of memory starting");
	prober_free(p);
	return rc;
}

int prober_run(struct prober *p)
{
	int rc = pthread_create(&p->thread, NULL, prober_main, p);
	if (rc) {
		log_err("prober: cannot start its thread: %s", strerror(rc));
		return GSLB_ESYS;
	}
	p->thread_started = 1;
	log_info("prober started pools=%zu checks=%zu", p->m->npools, p->m->nchecks);
	return GSLB_OK;
}

static void deadline_in(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	if (seconds < 0)
		seconds = 0;
	if (seconds > 1e6)
		seconds = 1e6;
	time_t whole = (time_t)seconds;
	long ns = ts->tv_nsec + (long)((seconds - (double)whole) * 1e9);
	ts->tv_sec += whole + ns / 1000000000L;
	ts->tv_nsec = ns % 1000000000L;
}

int prober_wait_first_round(struct prober *p, double max_seconds)
{
	struct timespec dl;
	int done;

	deadline_in(&dl, max_seconds);
	pthread_mutex_lock(&p->mu);
	while (!p->first_done && !p->exited)
		if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) == ETIMEDOUT)
			break;
	done = p->first_done;
	pthread_mutex_unlock(&p->mu);
	return done ? GSLB_OK : GSLB_ERANGE;
}

int prober_adopt(struct prober *p, struct snapshot *new_snap)
{
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&p->mu);
	if (p->exited || p->stop) {
		pthread_mutex_unlock(&p->mu);
		return GSLB_EINVAL;
	}
	p->adopt_req = new_snap;
	seq = ++p->adopt_seq;
	pthread_mutex_unlock(&p->mu);
	wake(p);
	pthread_mutex_lock(&p->mu);
	while (p->adopt_done < seq && !p->exited)
		pthread_cond_wait(&p->cond, &p->mu);
	rc = p->adopt_done >= seq ? p->adopt_rc : GSLB_EINVAL;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int prober_admin(struct prober *p, const char *target, const char *action, char *err, size_t errlen)
{
	struct admin_override o;
	struct timespec dl;
	uint8_t state;
	uint64_t seq;
	int rc;

	if (!target || !action || admin_action_parse(action, &state)) {
		snprintf(err, errlen,
			 "unknown action \"%s\": drain, undrain, force-up, force-down or clear",
			 action ? action : "");
		return GSLB_EINVAL;
	}
	pthread_mutex_lock(&p->mu);
	rc = health_parse_target(p->snap, target, &o, err, errlen);
	if (rc)
		goto out;
	if (state == ADMIN_NONE) {
		size_t i;
		for (i = 0; i < p->admin.n; i++)
			if (strcmp(p->admin.v[i].target, o.target) == 0)
				break;
		if (i == p->admin.n) {
			snprintf(err, errlen, "no override on %s", o.target);
			rc = GSLB_ENOENT;
			goto out;
		}
		if (strcmp(action, "undrain") == 0 && p->admin.v[i].state != ADMIN_DRAIN) {
			snprintf(err, errlen, "%s is %s, not drained: use clear", o.target,
				 admin_state_name((enum admin_state)p->admin.v[i].state));
			rc = GSLB_EINVAL;
			goto out;
		}
		rc = admin_table_clear(&p->admin, o.target);
	} else {
		o.state = state;
		o.since = wall_s();
		rc = admin_table_set(&p->admin, &o);
	}
	if (rc) {
		snprintf(err, errlen, "%s", gslb_strerror(rc));
		goto out;
	}
	log_info("admin override %s target=%s", action, o.target);
	if (p->state_dir) {
		int src = admin_table_save(&p->admin, p->state_dir);
		if (src)
			log_warn("cannot save admin overrides state_dir=%s error=\"%s\"",
				 p->state_dir, gslb_strerror(src));
	}
	/* Published by the prober thread, the only writer of the view; wait
	 * so the caller sees the change when we return. */
	seq = ++p->pub_req;
	wake(p);
	deadline_in(&dl, ADMIN_WAIT_S);
	while (p->pub_done < seq && !p->exited)
		if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) == ETIMEDOUT)
			break;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

char *prober_admin_json(struct prober *p)
{
	static const char *const kinds[] = { "region", "pool", "member" };
	json_t *arr = json_array();
	char *s;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->admin.n; i++) {
		const struct admin_override *o = &p->admin.v[i];
		json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "target", o->target, "kind",
				      (unsigned)o->kind < 3 ? kinds[o->kind] : "?", "state",
				      admin_state_name((enum admin_state)o->state), "since",
				      (json_int_t)o->since);
		if (j)
			json_array_append_new(arr, j);
	}
	pthread_mutex_unlock(&p->mu);
	s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

void prober_stop(struct prober *p)
{
	if (!p)
		return;
	if (p->thread_started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_mutex_unlock(&p->mu);
		wake(p);
		pthread_join(p->thread, NULL);
	}
	prober_free(p);
}
