/* Prometheus metrics. Hot-path counters live in per-thread shards (one per
 * DNS worker, one for the TCP loop, one per HTTP thread...) that only their
 * thread writes, with relaxed atomic adds, and that a scrape sums: no lock
 * and no shared cache line on the query path. Per service and region
 * counters use slots handed out by name, stable across reloads. */
#ifndef GSLB_METRICS_H
#define GSLB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct snapshot;
struct dns_info;

#define METRICS_SLOTS 4096 /* service x region pairs (and one per service) */

enum metrics_transport {
	MT_UDP = 0,
	MT_TCP = 1,
	MT_N,
};

/* qtype buckets exported by name; everything else is "other" */
#define METRICS_QTYPES 16
#define METRICS_RCODES 9 /* NOERROR..REFUSED, NOTAUTH, BADVERS, other */

enum metrics_redirect {
	MR_301,
	MR_302,
	MR_303,
	MR_307,
	MR_308,
	MR_N,
};

struct metrics_shard {
	uint64_t queries[MT_N][METRICS_QTYPES][METRICS_RCODES];
	uint64_t dropped[MT_N]; /* no reply: malformed, or a response */
	uint64_t ecs;
	uint64_t truncated;
	uint64_t answers[METRICS_SLOTS];  /* by pool slot */
	uint64_t all_down[METRICS_SLOTS]; /* by service slot */
	uint64_t redirects[METRICS_SLOTS][MR_N];
	uint64_t rrl_dropped, rrl_slipped;
	uint64_t acl_refused, acl_dropped;
	struct metrics_shard *next;
};

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* A shard for the calling thread's counters; lives as long as m. */
struct metrics_shard *metrics_shard_new(struct metrics *m);

/* Give every pool of snap its slot (pool->metric_slot) and every service
 * its own; call before snap is published. Slots are found by service and
 * region name, so a reload keeps counting in the same series. */
void metrics_bind(struct metrics *m, struct snapshot *snap);

/* Count one DNS query. */
void metrics_dns(struct metrics_shard *s, enum metrics_transport t, size_t reply_len,
		 const struct dns_info *info);

/* Reloads, by the control thread. */
void metrics_reload(struct metrics *m, int ok, int64_t when);

/* Prometheus text exposition of everything (counters, the health view's
 * gauges, GeoIP and build info), plus extra text appended by the caller
 * (prober and HTTP counters). Caller frees. */
char *metrics_render(struct metrics *m, const struct snapshot *snap, const char *extra);

static inline void metrics_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

#endif
