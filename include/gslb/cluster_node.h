/* This gslbd as a node of a cluster (cluster = { ... }): two threads that
 * talk to etcd (cluster.h's client) and a view of the cluster that the
 * prober reads, under a mutex that is never held across etcd I/O.
 *
 *   writer thread   grants a lease (lease_ttl) and keeps it alive, puts
 *                   <prefix>nodes/<node> under it, and writes this node's
 *                   verdicts <prefix>verdicts/<node>/<member> when they
 *                   change (and repairs them every REFRESH_S after reading
 *                   them back); revokes the lease when stopped.
 *   watcher thread  ranges <prefix> then watches it from the next revision
 *                   (again from a range after ETCD_COMPACTED or an error):
 *                   the nodes alive, their verdicts, the overrides.
 *
 * The prober asks, in each publication, for every member's state in the
 * cluster view (cluster_node_vote) and tells its own verdict on the way;
 * the view reaches DNS and HTTP in the health view the prober publishes
 * (RCU), so neither ever waits on etcd. When the cluster view changes the
 * node calls `changed` (from its threads; it must not block). */
#ifndef GSLB_CLUSTER_NODE_H
#define GSLB_CLUSTER_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/cluster.h"
#include "gslb/health.h"

struct cluster_node;
struct metrics;

typedef void (*cluster_changed_fn)(void *ctx);

/* Starts the node's threads for cf (copied). NULL on failure (logged). */
struct cluster_node *cluster_node_start(const struct cluster_conf *cf, struct metrics *metrics,
					cluster_changed_fn changed, void *ctx);
/* Stops the threads (the lease is revoked when etcd answers) and frees. */
void cluster_node_stop(struct cluster_node *cn);
/* A reload's restart: stops and frees as cluster_node_stop but keeps the
 * lease (returned, 0 if none): its node key and verdicts stay in etcd, so
 * the other nodes see no gap, until the node started with
 * cluster_node_start_after() has written its own over them; what it does
 * not rewrite goes when that lease ends (lease_ttl). */
int64_t cluster_node_stop_keep(struct cluster_node *cn);
/* cluster_node_start, taking over the node key held by prev_lease (from
 * cluster_node_stop_keep; 0: none). */
struct cluster_node *cluster_node_start_after(const struct cluster_conf *cf,
					      struct metrics *metrics, cluster_changed_fn changed,
					      void *ctx, int64_t prev_lease);

/* A reload added the group: local (a copy is kept) are written to etcd
 * once the node has joined and read it, each unless etcd already has an
 * override for its target (then it is dropped, logged). */
void cluster_node_seed_overrides(struct cluster_node *cn, const struct override_table *local);

/* The group the node runs with (its own copy). */
const struct cluster_conf *cluster_node_conf(const struct cluster_node *cn);

/* Whether two cluster groups are the same (a reload that changes one
 * restarts the node). */
int cluster_conf_same(const struct cluster_conf *a, const struct cluster_conf *b);

/* One pass of the prober over every member it publishes: begin, one vote
 * per member, end. local is this node's own verdict (enum health_state,
 * after rise and fall) and local_reason its probe's reason (written with
 * the verdict when it changes).
 * Returns the member's state in the cluster view and writes why to
 * reason[HEALTH_REASON_MAX] when the cluster decides otherwise than local
 * would, or when some node says down ("" otherwise). */
void cluster_node_votes_begin(struct cluster_node *cn);
uint8_t cluster_node_vote(struct cluster_node *cn, const char *member, uint8_t local,
			  const char *local_reason, char *reason);
void cluster_node_votes_end(struct cluster_node *cn);

/* Whether this node probes member now (probe_share k of the live nodes;
 * every member with probe_share 0). */
int cluster_node_probes(struct cluster_node *cn, const char *member);

/* The cluster's overrides, copied into out when their version differs from
 * *version (then updated); returns 1 when copied. Nothing is copied before
 * the node has read etcd once: the overrides last seen stay meanwhile. */
int cluster_node_overrides(struct cluster_node *cn, uint64_t *version, struct override_table *out);

/* Writes override o to etcd (o->state OVERRIDE_NONE: deletes it) and waits
 * (at most a few seconds) until this node's watch has seen it. GSLB_EIO
 * with err set when etcd cannot be written: the override is not applied. */
int cluster_node_override(struct cluster_node *cn, const struct override *o, char *err,
			  size_t errlen);

/* The cluster's state for /status as JSON text (caller frees): nodes,
 * leases, degraded since, and each member's verdicts per node. */
char *cluster_node_status(struct cluster_node *cn);

#endif
