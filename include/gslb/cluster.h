/* Cluster: gslbd nodes sharing verdicts and overrides through etcd v3.
 *
 * This part is the etcd client: the v3 JSON gateway (grpc-gateway) over
 * libcurl, bodies and answers in JSON with jansson, keys and values in
 * base64. Every call blocks (at most the client's timeout, or the watch's)
 * and must never run on the DNS or HTTP paths: the cluster thread owns the
 * client. A request that fails on one endpoint (no connection, timeout,
 * HTTP 5xx, "no leader") is tried on the next one; the endpoint that
 * answered is tried first next time. Errors are written to err[errlen]. */
#ifndef GSLB_CLUSTER_H
#define GSLB_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

/* TLS to etcd (https endpoints); NULL members: curl's defaults. */
struct etcd_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
};

struct etcd_client;

/* How many of the nodes probing a member must say down (cluster.quorum). */
enum cluster_quorum {
	CLUSTER_QUORUM_MAJORITY = 0, /* more than half of the live probing nodes */
	CLUSTER_QUORUM_ANY,          /* one */
	CLUSTER_QUORUM_ALL,          /* every live probing node */
	CLUSTER_QUORUM_COUNT,        /* quorum_count nodes */
};

/* cluster = { ... } in gslb.conf (config_cluster.c); enabled 0: a single
 * node, as without the group. */
struct cluster_conf {
	int enabled;
	char *name;   /* the cluster's name: label characters */
	char *prefix; /* etcd key prefix, "/gslb/<name>/" unless set; ends in '/' */
	char *node;   /* this node's name, unique in the cluster; the host name */
	char **etcd;  /* endpoints "http://host:port" or "https://..." */
	size_t netcd;
	int quorum_mode; /* enum cluster_quorum */
	unsigned quorum_count;
	unsigned lease_ttl;   /* seconds */
	unsigned probe_share; /* 0: every node probes every member */
	char *ca_file;        /* tls = { ... }: NULL = curl's defaults */
	char *cert_file;
	char *key_file;
};

/* One key-value as etcd returns it; key NUL-terminated, value not. */
struct etcd_kv {
	const char *key;
	const unsigned char *value;
	size_t value_len;
	int64_t mod_revision;
	int64_t lease;
};

enum etcd_event_type {
	ETCD_EV_PUT = 0,
	ETCD_EV_DELETE = 1
};

/* Returns 0 to go on, non-zero to stop (the call then returns 0). */
typedef int (*etcd_kv_fn)(void *user, enum etcd_event_type type, const struct etcd_kv *kv);

/* The watch's start revision was compacted away: range again, then watch
 * from the revision the range returned plus one. */
#define ETCD_COMPACTED 1

/* n endpoints ("http://host:port", "https://..."), copied; tls may be NULL;
 * timeout_ms bounds each request but watches. NULL with err set on error. */
struct etcd_client *etcd_client_new(const char *const *endpoints, size_t n,
				    const struct etcd_tls *tls, long timeout_ms, char *err,
				    size_t errlen);
void etcd_client_free(struct etcd_client *c);

/* The endpoint that answered last (or will be tried first). */
const char *etcd_client_endpoint(const struct etcd_client *c);
/* Requests that failed on some endpoint since the client was made. */
uint64_t etcd_client_errors(const struct etcd_client *c);

/* A lease of ttl seconds; its id in *lease. */
int etcd_lease_grant(struct etcd_client *c, long ttl, int64_t *lease, char *err, size_t errlen);
/* Renews lease; *ttl (may be NULL) gets its new ttl. GSLB_ENOENT: expired. */
int etcd_lease_keepalive(struct etcd_client *c, int64_t lease, long *ttl, char *err, size_t errlen);
/* Puts key = value[len], attached to lease (0: none); *revision (may be
 * NULL) gets the store's revision after the put. */
int etcd_put(struct etcd_client *c, const char *key, const void *value, size_t len, int64_t lease,
	     int64_t *revision, char *err, size_t errlen);
/* Deletes key; *revision (may be NULL) gets the store's revision after. */
int etcd_delete(struct etcd_client *c, const char *key, int64_t *revision, char *err,
		size_t errlen);
/* One operation of a transaction: a put of value[value_len] (value NULL:
 * a delete of key). */
struct etcd_op {
	const char *key;
	const void *value;
	size_t value_len;
};
/* Applies the n ops at once (one etcd transaction, puts attached to lease,
 * 0: none); etcd takes at most 128 per transaction by default. */
int etcd_txn(struct etcd_client *c, const struct etcd_op *ops, size_t n, int64_t lease, char *err,
	     size_t errlen);
/* Puts key = value[len] under lease only if key does not exist (one
 * transaction); GSLB_EEXIST when it does, with its lease in *owner (0:
 * none, or gone meanwhile). */
int etcd_create(struct etcd_client *c, const char *key, const void *value, size_t len,
		int64_t lease, int64_t *owner, char *err, size_t errlen);
/* Revokes lease: its keys go at once. */
int etcd_lease_revoke(struct etcd_client *c, int64_t lease, char *err, size_t errlen);
/* Every transfer of c stops (as a failed request) while *flag is non-zero
 * (read atomically): how a thread blocked in a watch is told to stop. */
void etcd_client_abort_on(struct etcd_client *c, const int *flag);
/* Calls fn (type ETCD_EV_PUT) for every key under prefix, in key order;
 * *revision (may be NULL) gets the store's revision of this view. */
int etcd_range_prefix(struct etcd_client *c, const char *prefix, etcd_kv_fn fn, void *user,
		      int64_t *revision, char *err, size_t errlen);
/* Watches the keys under prefix from *revision (0: from now) and calls fn
 * for each change until fn returns non-zero or timeout_ms passes (both:
 * return 0). *revision is then the revision to resume from. Returns
 * ETCD_COMPACTED when *revision is no longer kept, GSLB_EIO when no
 * endpoint could be watched. */
int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t *revision, long timeout_ms,
		      etcd_kv_fn fn, void *user, char *err, size_t errlen);

/* ---- the cluster view (cluster_view.c): pure functions ------------------ */

/* Down votes a member needs among the `probers` live nodes that probe it
 * (mode: enum cluster_quorum; count: quorum_count). A count above the live
 * probers is capped at them, so that the nodes left can still decide; no
 * live prober: 0 (nothing is down by vote). */
unsigned cluster_quorum_needed(int mode, unsigned count, unsigned probers);

/* The member is down by vote: down_votes of the live probers reach the
 * quorum (and there is at least one prober). */
int cluster_member_down(int mode, unsigned count, unsigned probers, unsigned down_votes);

/* Rendezvous (highest random weight) hashing for probe_share: the k of
 * the n nodes that probe member, as indexes into nodes, best first, in
 * out[] (room for n); k 0 or k >= n: every node, in their order. Every
 * node computes the same answer from the same names; a node that leaves
 * moves only the members it probed. Returns how many were written. */
size_t cluster_probers(const char *const *nodes, size_t n, const char *member, unsigned k,
		       size_t *out);

/* Whether node self (one of nodes) probes member under probe_share k. */
int cluster_probes(const char *const *nodes, size_t n, const char *self, const char *member,
		   unsigned k);

/* etcd keys of the cluster's state, under the cluster's prefix:
 *   <prefix>nodes/<node>               {"ttl": s, "started": t, ...}, under node's lease
 *   <prefix>verdicts/<node>/<member>   {"state": "up"|"down", ...}, under node's lease
 *   <prefix>overrides/<target>         {"state": "drain", "since": t, "node": n}, no lease
 * member is "<service>/<region>/<address or host>"; node names hold no
 * '/'. cluster_verdict_key writes one into buf[len] (GSLB_ERANGE when it
 * does not fit, GSLB_EINVAL for a node with '/' or an empty part). */
int cluster_verdict_key(char *buf, size_t len, const char *prefix, const char *node,
			const char *member);
/* The node (copied into node[nodelen]) and member (*member points into
 * key) of a verdict key under prefix; GSLB_EINVAL when key is not one. */
int cluster_verdict_parse(const char *prefix, const char *key, char *node, size_t nodelen,
			  const char **member);
/* A verdict value, JSON {"state": "down" or "up", "since": unix time,
 * "reason": "..."} (or the bare word): 1 down, 0 up, -1 anything else
 * (ignored). */
int cluster_verdict_value(const unsigned char *v, size_t len);

/* Every value read from etcd is untrusted: anyone with write access to the
 * prefix may put anything there. These parsers check each field's type and
 * range and never trust the rest; *why (static text) says what is wrong. */

/* A node name (config `node`, a node key's last part): 1..253 letters,
 * digits, '-', '_' and '.'. */
int cluster_node_name_ok(const char *name);
/* A node key's value {"ttl": 2..300, ...}: the ttl, or -1 (*why set). */
long cluster_node_value(const unsigned char *v, size_t len, const char **why);
struct override;
/* An override's value {"state": "drain"|"force-up"|"force-down", "since",
 * "start", "end": unix times >= 0 (optional; end 0 or after start), "node":
 * string (optional)} into o's state, since, start and end; GSLB_OK, or
 * GSLB_EINVAL with *why set and o's fields untouched. */
int cluster_override_value(const unsigned char *v, size_t len, struct override *o,
			   const char **why);

#endif
