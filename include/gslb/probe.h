/* The prober: one thread that drives every health check (curl multi for
 * http, https and tcp; c-ares for dns checks and for resolving host-name
 * members) in one poll loop, runs the rise/fall state machine, and
 * publishes a new health view (health.h) through snapshot->health whenever
 * something changes. It also owns the admin overrides table. */
#ifndef GSLB_PROBE_H
#define GSLB_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct metrics;
struct snapshot;
struct prober;

/* Most probes in flight at once (each holds a socket): probe_max_inflight,
 * or when it is 0, min(1024, the soft RLIMIT_NOFILE / 4) read now. Due
 * probes beyond it wait their turn in a FIFO. The descriptor budget counts
 * this figure. */
size_t probe_inflight_cap(const struct conf *c);

/* Set up probing snap's pools, without its thread (at start, before the
 * privilege drop): snap->health gets an initial view if it has none.
 * state_dir (may be NULL) is where health.state and overrides.state live;
 * overrides found there are read now and applied at once. The prober counts
 * in a shard of metrics (may be NULL). On failure returns a negative
 * gslb_err and logs why. */
int prober_new(struct snapshot *snap, const char *state_dir, struct metrics *metrics,
	       struct prober **out);

/* Start the prober's thread: probing, and saving state, begin. Returns 0
 * or GSLB_ESYS (logged); prober_stop frees the prober either way. */
int prober_run(struct prober *p);

/* Block until every checked member has a first result (and every host-name
 * member a first resolution), or max_seconds pass. Returns 0 when complete,
 * GSLB_ERANGE on timeout. */
int prober_wait_first_round(struct prober *p, double max_seconds);

/* Move to a new snapshot after a reload, before it is published: builds
 * new_snap->health carrying states over by service, region and address,
 * and probes new_snap's pools from then on. Blocks until done. */
int prober_adopt(struct prober *p, struct snapshot *new_snap);

/* Admin overrides: action is drain, undrain, force-up, force-down or clear;
 * target as in health_parse_target(). start and end (unix seconds, 0 =
 * none) schedule a drain, force-up or force-down: in force from start (at
 * once when 0 or past) until end (for good when 0), then gone by itself;
 * an end not after now, or not after start, is refused. Thread-safe;
 * persisted in state_dir; published at once. Returns 0 or a negative
 * gslb_err with err filled. */
int prober_admin(struct prober *p, const char *target, const char *action, int64_t start,
		 int64_t end, char *err, size_t errlen);

/* With a cluster (cluster = { ... }), overrides are written to etcd and
 * applied by every node from its watch; when etcd cannot be written the
 * override is refused with GSLB_EIO and err says so. */

/* The cluster's state for status as JSON text (caller frees), NULL
 * without a cluster (cluster_node_status). */
char *prober_cluster_json(struct prober *p);

/* The latest transitions (members, pools, regions, overrides; the
 * webhook events, receivers or not), oldest first, as JSON array text
 * (caller frees), for status. */
char *prober_events_json(struct prober *p);

/* Copy of the overrides in force, as JSON text (caller frees), for status. */
char *prober_admin_json(struct prober *p);

/* A webhook event from another module (what: enum webhook_what, e.g. a
 * reload): queued for the receivers that want it, sent by the prober
 * thread. Any thread; NULL p does nothing. */
void prober_event(struct prober *p, int what, const char *name, const char *from, const char *to,
		  const char *why);

/* Stop the thread, save the state, free everything. NULL is fine. */
void prober_stop(struct prober *p);

#endif
