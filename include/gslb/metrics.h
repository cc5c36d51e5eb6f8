/* Prometheus metrics: one registry, one renderer.
 *
 * Each module declares its metric families once, in a table (a struct
 * metric_set): name, help, type, labels. Values live in cells. Hot-path
 * counters live in per-thread shards (one per DNS worker, one for the TCP
 * loop, one per HTTP thread, one for the prober) that only their thread
 * writes, with relaxed atomic adds, and that a scrape sums: no lock and no
 * shared cache line on the query path. A module counts through its shard and
 * the index of the family in its table (metrics_inc, metrics_set,
 * metrics_observe); metrics_render writes the exposition text of every set.
 * Families whose values are read from the snapshot at scrape time (health,
 * zones, GeoIP) give them through a collect function instead of cells.
 *
 * Cells of a family are laid out row-major in label order; a label whose
 * values are slots (pool, service, check) comes first. Histograms keep, per
 * label combination, one cell per bound (not cumulative), the count and the
 * sum in microseconds. */
#ifndef GSLB_METRICS_H
#define GSLB_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct dns_info;
struct metrics;
struct metrics_out;

/* Service x region pairs (and one per service), and check names: the slots
 * handed out by name. Beyond the cap a series is not counted. */
#define METRICS_SLOTS 4096

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* Where a label's values come from. */
enum metric_label_kind {
	ML_NONE = 0,
	ML_ENUM,    /* the list in the declaration */
	ML_GIVEN,   /* given with each sample by the family's collect function */
	ML_POOL,    /* two labels, service and region: a pool slot (metrics_bind) */
	ML_SERVICE, /* service: a service slot (metrics_bind) */
	ML_CHECK,   /* check: a check slot (metrics_check_slot) */
};

struct metric_label {
	enum metric_label_kind kind;
	const char *name;          /* ML_ENUM, ML_GIVEN */
	const char *const *values; /* ML_ENUM */
	size_t nvalues;            /* ML_ENUM */
};

/* A label with the values of a constant array; one given by collect. */
#define METRIC_ENUM(n, v)                                                                          \
	{                                                                                          \
		.kind = ML_ENUM, .name = (n), .values = (v), .nvalues = sizeof(v) / sizeof((v)[0]) \
	}

#define METRIC_GIVEN(n)                       \
	{                                     \
		.kind = ML_GIVEN, .name = (n) \
	}

#define METRIC_LABELS 3

/* flags */
#define METRIC_NONZERO 1u /* samples at zero are left out */

struct metric_family {
	const char *name;
	const char *help;
	enum metric_type type;
	unsigned flags;
	struct metric_label labels[METRIC_LABELS];
	const double *bounds; /* histograms: upper bounds, ascending (+Inf implied) */
	unsigned nbounds;
	/* Samples computed at scrape time (no cells): metrics_sample for each;
	 * returns 0 when the family is not shown at all (snap may be NULL). */
	int (*collect)(struct metrics_out *o, const struct snapshot *snap);
};

/* A module's families. Shown when registered (metrics_register, or a
 * first shard); a set with cells is shown only once it has a shard (a
 * module that is not running shows nothing). */
struct metric_set {
	const struct metric_family *f;
	size_t n;
};

#define METRIC_SET(families)                                         \
	{                                                            \
		(families), sizeof(families) / sizeof((families)[0]) \
	}

/* One thread's cells of one set; lives as long as the registry. */
struct metrics_shard {
	const size_t *off; /* first cell of each family of the set */
	const struct metric_set *set;
	struct metrics_shard *next;
	uint64_t cells[];
};

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Show set's families (idempotent; the order of registration is the
 * order of /metrics). GSLB_OK or GSLB_ENOMEM. */
int metrics_register(struct metrics *m, const struct metric_set *set);

/* A shard for the calling thread's counters of set (registered on the way);
 * NULL when m is NULL or out of memory (counting through NULL does nothing). */
struct metrics_shard *metrics_shard_new(struct metrics *m, const struct metric_set *set);

/* Give every pool of snap its slot (pool->metric_slot) and every service
 * its own; call before snap is published. Slots are found by service and
 * region name, so a reload keeps counting in the same series. */
void metrics_bind(struct metrics *m, struct snapshot *snap);

/* The slot of a check name (found or handed out), -1 beyond the cap. */
int metrics_check_slot(struct metrics *m, const char *check);

/* Prometheus text exposition of every registered set. Caller frees. */
char *metrics_render(struct metrics *m, const struct snapshot *snap);

/* For collect functions: one sample; lv holds the values of the family's
 * ML_GIVEN labels, in order. */
void metrics_sample(struct metrics_out *o, const char *const *lv, int64_t v);
/* The same with a fractional value (a gauge such as a load figure). */
void metrics_sample_real(struct metrics_out *o, const char *const *lv, double v);

/* Counting. i is the cell within the family (label order, row-major). */
static inline void metrics_add(struct metrics_shard *s, unsigned fam, size_t i, uint64_t n)
{
	if (s)
		__atomic_fetch_add(&s->cells[s->off[fam] + i], n, __ATOMIC_RELAXED);
}

static inline void metrics_inc(struct metrics_shard *s, unsigned fam, size_t i)
{
	metrics_add(s, fam, i, 1);
}

/* Gauges: one shard sets them. */
static inline void metrics_set(struct metrics_shard *s, unsigned fam, size_t i, uint64_t v)
{
	if (s)
		__atomic_store_n(&s->cells[s->off[fam] + i], v, __ATOMIC_RELAXED);
}

static inline uint64_t metrics_get(const struct metrics_shard *s, unsigned fam, size_t i)
{
	return s ? __atomic_load_n(&s->cells[s->off[fam] + i], __ATOMIC_RELAXED) : 0;
}

/* One observation of a histogram, in seconds; i is the label combination. */
void metrics_observe(struct metrics_shard *s, unsigned fam, size_t i, double seconds);

/* ---- the DNS server's families (gslb/metrics_dns.c) --------------------- */

extern const struct metric_set metrics_dns_set;

enum metrics_dns_family {
	MDNS_QUERIES,     /* transport x qtype x rcode */
	MDNS_DROPPED,     /* transport */
	MDNS_ECS,         /* */
	MDNS_TRUNCATED,   /* */
	MDNS_ANSWERS,     /* pool slot */
	MDNS_ALL_DOWN,    /* service slot */
	MDNS_RRL,         /* enum metrics_rrl_action */
	MDNS_ACL,         /* enum metrics_acl_action */
	MDNS_TCP_REFUSED, /* enum metrics_tcp_limit */
	MDNS_TCP_EVICTED, /* */
	MDNS_SPLIT,       /* pool slot x split rule (MDNS_SPLIT_RULES) */
};

enum metrics_transport {
	MT_UDP = 0,
	MT_TCP = 1,
	MT_N,
};

/* MDNS_SPLIT: the split rule's place in its service's routes, 1..8, then
 * one series for the rest. */
#define MDNS_SPLIT_RULES 9

/* MDNS_QUERIES: qtype buckets exported by name (everything else is
 * "other"), and rcodes (NOERROR..REFUSED, NOTAUTH, BADVERS, other). */
#define METRICS_QTYPES 16
#define METRICS_RCODES 9

enum metrics_rrl_action {
	MRRL_DROP,
	MRRL_SLIP
};
enum metrics_acl_action {
	MACL_REFUSE,
	MACL_DROP
};
enum metrics_tcp_limit {
	MTCP_PER_IP,
	MTCP_FULL
};

/* Count one DNS query. */
void metrics_dns(struct metrics_shard *s, enum metrics_transport t, size_t reply_len,
		 const struct dns_info *info);

/* ---- the snapshot's view and reloads (gslb/metrics_view.c) --------------- */

/* Registered by metrics_new; its one shard is the registry's own. */
extern const struct metric_set metrics_view_set;

enum metrics_view_family {
	MVIEW_BUILD_INFO,
	MVIEW_RELOADS,     /* success, failure */
	MVIEW_RELOAD_LAST, /* gauge */
	MVIEW_GEOIP,
	MVIEW_GENERATION,
	MVIEW_ZONE_SERIAL,
	MVIEW_POOL_UP,
	MVIEW_POOL_CHANGE,
	MVIEW_MEMBER_UP,
	MVIEW_MEMBER_CHANGE,
	MVIEW_DNSSEC_SIGS,  /* signature cache (dnssec_cache.h): made, refreshes */
	MVIEW_DNSSEC_CACHE, /* lookups: hit, miss */
	MVIEW_DNSSEC_ENTRIES,
	MVIEW_POOL_FULL, /* pools[].load */
	MVIEW_POOL_LOAD,
	MVIEW_POOL_SHED,
};

/* Reloads, by the control thread. */
void metrics_reload(struct metrics *m, int ok, int64_t when);

#endif
