/* The prober's insides, shared by its files: the model of what is probed
 * (checks, pools, targets, host-name members), the schedule, and the
 * prober itself. Not for other modules: they use gslb/probe.h.
 *
 *   probe.c        the thread: its epoll loop, publication of the health
 *                  view, state saving, reloads, the public interface
 *   probe_sched.c  the schedule (a min-heap), probe slots and their FIFO,
 *                  the rise/fall state machine of results
 *   probe_model.c  targets and what each probes, host-name members, the
 *                  model built from a snapshot
 *   probe_curl.c   http, https and tcp checks through curl multi
 *   probe_dns.c    dns checks through c-ares */
#ifndef GSLB_PROBE_INT_H
#define GSLB_PROBE_INT_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <ares.h>
#include <curl/curl.h>

#include "gslb/health.h"
#include "gslb/metrics.h"
#include "gslb/snapshot.h"

struct resolver;

#define BODY_MAX (64 * 1024)   /* expect_body and pools[].load look this far into a body */
#define LOAD_WINDOW 3          /* a member's load figure: the mean of its last readings */
#define LOAD_HEADER_MAX 32     /* pools[].load from a header: its value, bounded */
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
struct cl_seen;

/* A check as the prober uses it. */
struct pcheck {
	const struct check *c;
	struct curl_slist *headers;
	int64_t interval_ms, timeout_ms;
	size_t ntargets;
	size_t nnew, inew; /* while building: targets without a carried schedule */
	int mslot;         /* its metrics slot (metrics_check_slot), -2 until a first result */
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
	uint8_t has_latency; /* latency: seconds the latest probe with a verdict took */
	double latency;
	/* pools[].load: the last LOAD_WINDOW figures read (a ring) */
	double loads[LOAD_WINDOW];
	uint8_t nloads, load_pos;
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
	char load_hdr[LOAD_HEADER_MAX]; /* pools[].load = { from = "header:..." } */
	uint8_t has_load_hdr;
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
	struct override_table admin;
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

	/* Counters and gauges for /metrics: the prober's shard, written by
	 * its thread (and by prober_new before the thread exists). */
	struct metrics *metrics;
	struct metrics_shard *ms;
	size_t inflight_max;

	/* Webhooks (webhook.h): their POSTs share the curl multi handle and
	 * are not counted in probe_max_inflight. shown is the overrides in
	 * force at the last publication (prober thread only); override_tick
	 * is the wall second the schedule was last looked at. */
	struct webhooks *wh;
	struct override_table shown;
	int64_t override_tick;
	/* the cluster as last announced (cluster events): node names and
	 * whether each was live, and degraded mode; cl_known once a first
	 * look was taken (a start announces nothing) */
	struct cl_seen *cl_nodes;
	size_t ncl_nodes;
	int cl_degraded, cl_known;

	/* cluster = { ... }: this node's part (cluster_node.h). cn is set and
	 * replaced under mu by the prober thread; cl_dirty (under mu) says
	 * the cluster view changed; cl_admin (under mu) counts overrides
	 * being written to etcd, which a reload waits for. */
	struct cluster_node *cn;
	uint64_t cl_ovr_version;
	int cl_dirty;
	int cl_admin;
};

/* A member's name in the cluster's keys: "service/region/address" (a
 * CNAME pool's: its target name). */
void probe_member_key(const struct ptarget *t, char *buf, size_t len);

/* The prober's metric families (their table is in probe.c). */
enum probe_family {
	MP_MAX_INFLIGHT,
	MP_IN_FLIGHT,
	MP_IN_FLIGHT_MAX,
	MP_QUEUED,
	MP_PROBES,   /* check slot x result */
	MP_DURATION, /* check slot */
};

enum probe_result {
	PR_SUCCESS,
	PR_FAILURE,
	PR_UNKNOWN
};

/* ---- small helpers ------------------------------------------------------ */

static inline int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t wall_s(void) { return (int64_t)time(NULL); }

static inline uint64_t rnd(struct prober *p)
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
static inline int64_t jitter(struct prober *p, int64_t span)
{
	if (span <= 0)
		return 0;
	return (int64_t)(rnd(p) % (uint64_t)(2 * span + 1)) - span;
}

static inline uint32_t ares_events(int readable, int writable)
{
	return (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
}

static inline const struct check *target_check(const struct ptarget *t)
{
	return t->pp->pc ? t->pp->pc->c : NULL;
}

static inline const struct member *target_member(const struct ptarget *t)
{
	return &t->pp->pool->members[t->member];
}

static inline int errno_is_local(long e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EADDRNOTAVAIL;
}

/* ---- across the prober's files ------------------------------------------ */

/* probe.c: watch fd in the prober's epoll set for events (0 = stop). */
void probe_fd_watch(struct prober *p, int fd, uint8_t kind, void *owner, uint32_t events);

/* probe_sched.c: the heap, slots and queue, scheduling; results go
 * through probe_target_result (a verdict) or probe_target_unknown (a local
 * error: no rise/fall step). */
void probe_heap_del(struct heap *h, struct sched *s);
void probe_sched_set(struct prober *p, struct sched *s, int64_t at);
void probe_gauges(struct prober *p);
void probe_slot_take(struct prober *p, struct ptarget *t);
void probe_slot_give(struct prober *p, struct ptarget *t);
void probe_queue_del(struct prober *p, struct ptarget *t);
void probe_target_result(struct prober *p, struct ptarget *t, int ok, const char *reason);
void probe_target_unknown(struct prober *p, struct ptarget *t, const char *why);
void probe_start(struct prober *p, struct ptarget *t, int64_t now);
void probe_queue_drain(struct prober *p);
int64_t probe_next_at(struct prober *p, const struct ptarget *t, int64_t now);
void probe_schedule_new(struct prober *p, struct ptarget *t, size_t i, size_t n, int64_t window,
			int64_t now);

/* probe_model.c: targets, host names, the model of a snapshot. */
void probe_target_cancel(struct prober *p, struct ptarget *t);
void probe_host_resolve(struct prober *p, struct phost *h, int64_t now);
void probe_model_free(struct prober *p, struct model *m);
int probe_model_build(struct prober *p, struct snapshot *snap, const struct model *old,
		      struct model **out);
void probe_model_schedule(struct prober *p, struct model *m, int64_t now);

/* probe_curl.c: the multi handle's callbacks, a transfer started, the
 * finished ones collected. */
int probe_curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp);
int probe_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp);
void probe_curl_start(struct prober *p, struct ptarget *t, int64_t now);
void probe_curl_collect(struct prober *p);

/* probe_notify.c: webhook events for what changed between two views of
 * one snapshot, and for the overrides in force now (active) against
 * p->shown; one that left for a scheduled one not started yet (pending)
 * says it was replaced. */
void probe_events_view(struct prober *p, const struct snapshot *snap, const struct health *old,
		       const struct health *nw);
void probe_events_overrides(struct prober *p, const struct override_table *active,
			    const struct override_table *pending, int64_t now);
/* Cluster events: nodes whose lease went live or ended, degraded mode
 * begun or ended, against what was last seen (prober thread, once a
 * second, only when a receiver wants cluster events). */
void probe_events_cluster(struct prober *p);
void probe_events_free(struct prober *p);

/* probe_dns.c: a query started; the backstop deadline of one in flight. */
void probe_dns_start(struct prober *p, struct ptarget *t, int64_t now);
void probe_dns_deadline(struct prober *p, struct ptarget *t);

#endif
