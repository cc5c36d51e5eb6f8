/* This gslbd as a node of a cluster: the writer and watcher threads and
 * the cluster view (cluster_node.h; docs/architecture.md, "Cluster"). */
#include "gslb/cluster_node.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/siphash.h"

#define MAX_NODES 64      /* bits of a vote mask; node 0 is this one */
#define NODE_NAME_MAX 254 /* config_cluster.c: at most 253 */
#define RETRY_MS 500      /* etcd failed: try again after this */
#define REFRESH_S 60      /* own verdicts read back and repaired this often */
#define WATCH_MS                                                        \
	10000 /* a watch request runs this long, then resumes: a stream \
	       * to a member cut off from the others is left soon */
#define OVERRIDE_WAIT_MS 3000
#define BATCH 64    /* verdicts written per turn of the writer (cn->batch) */
#define PUT_STALE 3 /* ment.put: a key of an old lease, to write again */

struct cnode {
	char name[NODE_NAME_MAX];
	int used;
	int present;     /* its node key exists, as last seen */
	int64_t lease;   /* of its node key */
	long ttl;        /* its lease_ttl, from the node key's value */
	int64_t expires; /* degraded: monotonic ms when it stops counting; 0 = not */
};

/* A member: the votes of every node, and what this node wrote of its own. */
struct ment {
	struct ment *next;
	uint64_t hash;
	uint64_t down, up; /* bit i: node i says down / up */
	uint8_t want;      /* own verdict to be in etcd: HEALTH_UP, HEALTH_DOWN, 0 none */
	uint8_t put;       /* own verdict in etcd as written: same values */
	uint8_t result;    /* state in the cluster view, at the latest pass */
	uint8_t nprobers, ndown;
	uint64_t probers; /* mask of the nodes that probed it at the latest pass */
	uint64_t stamp;   /* pass that saw it */
	int64_t since;
	char reason[HEALTH_REASON_MAX];
	char member[];
};

struct mtable {
	struct ment **b;
	size_t nb, n;
};

enum {
	FAIL_WRITER,
	FAIL_WATCHER
};

struct cluster_node {
	struct cluster_conf cf; /* copied strings */
	cluster_changed_fn changed;
	void *ctx;
	pthread_t writer, watcher;
	int writer_started, watcher_started;
	int stop;                         /* atomic: the threads end, transfers abort */
	struct etcd_client *wc, *rc, *ac; /* writer's, watcher's, admin's */
	pthread_mutex_t amu;              /* the admin client */

	pthread_mutex_t mu;
	pthread_cond_t cond; /* writer waits here; override waiters too */
	struct cnode nodes[MAX_NODES];
	struct mtable t;
	struct override_table ovr;
	uint64_t ovr_version;
	int synced; /* a range has succeeded: ovr is the cluster's */
	int64_t lease;
	int failed[2];
	int64_t degraded_since; /* unix time, 0 = not degraded */
	int64_t applied_rev;    /* latest revision the view holds */
	uint64_t epoch;
	int local_dirty;
	uint64_t live; /* mask at the latest pass */
	const char *live_names[MAX_NODES];
	int live_idx[MAX_NODES];
	size_t nlive;

	int announced;              /* degraded mode was logged */
	int64_t bad_logged;         /* unix time a bad value was last logged */
	unsigned long bad_quiet;    /* bad values not logged since */
	int64_t taken_by;           /* join refused: the lease holding our node key; 0 = not */
	int own_lost;               /* the watcher saw our node key go while we held a lease */
	int64_t prev_lease;         /* the previous configuration's: its node key is ours */
	int in_range;               /* applying a full range: changes are not logged */
	struct override_table seed; /* local overrides to publish once joined (reload) */
	int keep_lease;             /* stopping for a reload: do not revoke */
	struct pending {
		char member[1024];
		uint8_t want;
		int64_t since;
		char reason[HEALTH_REASON_MAX];
	} batch[64]; /* the writer's */

	struct metrics_shard *ms;
};

/* ---- metrics -------------------------------------------------------------- */

enum {
	MC_NODES,
	MC_DEGRADED,
	MC_ERRORS,
	MC_MEMBERS,
	MC_IGNORED
};

static const char *const member_states[] = { "up", "down", "disputed" };

static const struct metric_family cluster_families[] = {
	[MC_NODES] = { .name = "gslb_cluster_nodes",
		       .help = "Live nodes of the cluster this node counts (itself included).",
		       .type = METRIC_GAUGE },
	[MC_DEGRADED] = { .name = "gslb_cluster_degraded",
			  .help = "1 while etcd cannot be reached: local verdicts and the last "
				  "view are used.",
			  .type = METRIC_GAUGE },
	[MC_ERRORS] = { .name = "gslb_cluster_etcd_errors_total",
			.help = "etcd requests that failed on some endpoint.",
			.type = METRIC_COUNTER },
	[MC_MEMBERS] = { .name = "gslb_cluster_members",
			 .help = "Members by cluster verdict (disputed: some node says down, "
				 "fewer than the quorum).",
			 .type = METRIC_GAUGE,
			 .labels = { METRIC_ENUM("verdict", member_states) } },
	[MC_IGNORED] = { .name = "gslb_cluster_ignored_values_total",
			 .help = "Keys read from etcd whose value was not understood and was "
				 "ignored.",
			 .type = METRIC_COUNTER },
};

static const struct metric_set cluster_metric_set = METRIC_SET(cluster_families);

/* ---- small helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopping(const struct cluster_node *cn)
{
	return __atomic_load_n(&cn->stop, __ATOMIC_RELAXED);
}

static const uint8_t table_key[SIPHASH_KEY_LEN] = { 'g', 's', 'l', 'b', '-', 'c', 'l', 'u',
						    's', 't', 'e', 'r', '-', 'm', 't', '1' };

static struct ment *mfind(struct mtable *t, const char *member, int create)
{
	uint64_t h = siphash24(table_key, member, strlen(member));
	struct ment *e;
	size_t len;

	if (t->nb) {
		for (e = t->b[h & (t->nb - 1)]; e; e = e->next)
			if (e->hash == h && strcmp(e->member, member) == 0)
				return e;
	}
	if (!create)
		return NULL;
	if (t->n >= t->nb) {
		size_t nb = t->nb ? t->nb * 2 : 256;
		struct ment **b = calloc(nb, sizeof(*b));

		if (!b)
			return NULL;
		for (size_t i = 0; i < t->nb; i++)
			while (t->b[i]) {
				struct ment *x = t->b[i];

				t->b[i] = x->next;
				x->next = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
		free(t->b);
		t->b = b;
		t->nb = nb;
	}
	len = strlen(member);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->member, member, len + 1);
	e->hash = h;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
	return e;
}

static void mtable_free(struct mtable *t)
{
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i]) {
			struct ment *x = t->b[i];

			t->b[i] = x->next;
			free(x);
		}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

#define MT_FOREACH(t, e)                        \
	for (size_t i_ = 0; i_ < (t)->nb; i_++) \
		for (struct ment *e = (t)->b[i_]; e; e = e->next)

static int node_find(struct cluster_node *cn, const char *name, int create)
{
	int free_slot = -1;

	for (int i = 0; i < MAX_NODES; i++) {
		if (cn->nodes[i].used && strcmp(cn->nodes[i].name, name) == 0)
			return i;
		if (!cn->nodes[i].used && free_slot < 0)
			free_slot = i;
	}
	if (!create || free_slot < 0 || strlen(name) >= NODE_NAME_MAX)
		return -1;
	memset(&cn->nodes[free_slot], 0, sizeof(cn->nodes[free_slot]));
	cn->nodes[free_slot].used = 1;
	snprintf(cn->nodes[free_slot].name, NODE_NAME_MAX, "%s", name);
	return free_slot;
}

/* A remote node leaves: its votes go with it. */
static void node_drop(struct cluster_node *cn, int i)
{
	uint64_t bit = 1ull << i;

	if (i == 0)
		return;
	MT_FOREACH(&cn->t, e)
	{
		e->down &= ~bit;
		e->up &= ~bit;
	}
	memset(&cn->nodes[i], 0, sizeof(cn->nodes[i]));
}

static int node_live(const struct cnode *n, int64_t now)
{
	return n->used && n->present && (n->expires == 0 || now < n->expires);
}

static int degraded(const struct cluster_node *cn)
{
	return cn->failed[FAIL_WRITER] || cn->failed[FAIL_WATCHER];
}

static int degraded_now(struct cluster_node *cn)
{
	int d;

	pthread_mutex_lock(&cn->mu);
	d = degraded(cn);
	pthread_mutex_unlock(&cn->mu);
	return d;
}

static void notify(struct cluster_node *cn)
{
	if (cn->changed)
		cn->changed(cn->ctx);
}

/* One of the threads reached etcd (ok) or did not: degraded mode begins
 * when either fails and ends when both work again, logged once each way.
 * Entering it, each remote node counts until its lease would end. */
static void set_ok(struct cluster_node *cn, int which, int ok, const char *err)
{
	int was, is, watch_lost;
	int64_t now = now_ms();

	pthread_mutex_lock(&cn->mu);
	was = degraded(cn);
	watch_lost = which == FAIL_WATCHER && !ok && !cn->failed[FAIL_WATCHER];
	cn->failed[which] = !ok;
	is = degraded(cn);
	if (is && !ok && !cn->announced) {
		cn->announced = 1;
		log_warn("cluster %s: degraded: %s, serving local verdicts and the "
			 "last view node=%s error=\"%s\"",
			 cn->cf.name, cn->taken_by ? "not joined" : "etcd unreachable", cn->cf.node,
			 err ? err : "");
	}
	/* Without the watch the other nodes' keys are not seen to go: each
	 * counts until its lease would end (a range puts it right after). */
	if (watch_lost)
		for (int i = 1; i < MAX_NODES; i++)
			if (cn->nodes[i].used && cn->nodes[i].expires == 0)
				cn->nodes[i].expires =
					now + (cn->nodes[i].ttl > 0 ? cn->nodes[i].ttl :
								      (long)cn->cf.lease_ttl) *
						      1000;
	if (!was && is) {
		cn->degraded_since = (int64_t)time(NULL);
	} else if (was && !is) {
		if (cn->announced)
			log_info("cluster %s: etcd reachable again, degraded for %" PRId64
				 "s node=%s",
				 cn->cf.name, (int64_t)time(NULL) - cn->degraded_since,
				 cn->cf.node);
		cn->announced = 0;
		cn->degraded_since = 0;
	}
	metrics_set(cn->ms, MC_DEGRADED, 0, is ? 1 : 0);
	metrics_set(cn->ms, MC_ERRORS, 0,
		    etcd_client_errors(cn->wc) + etcd_client_errors(cn->rc) +
			    etcd_client_errors(cn->ac));
	pthread_mutex_unlock(&cn->mu);
	if (was != is)
		notify(cn);
}

/* Waits on the node's condition for ms (a stop or a signal ends it). */
static void nap(struct cluster_node *cn, int64_t ms, int wake_on_dirty)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cn->mu);
	if (!stopping(cn) && !(wake_on_dirty && cn->local_dirty))
		pthread_cond_timedwait(&cn->cond, &cn->mu, &ts);
	pthread_mutex_unlock(&cn->mu);
}

static const char *quorum_text(const struct cluster_conf *c, char *buf, size_t len)
{
	if (c->quorum_mode == CLUSTER_QUORUM_COUNT) {
		snprintf(buf, len, "%u", c->quorum_count);
		return buf;
	}
	return c->quorum_mode == CLUSTER_QUORUM_ANY ? "any" :
	       c->quorum_mode == CLUSTER_QUORUM_ALL ? "all" :
						      "majority";
}

/* ---- keys ------------------------------------------------------------------- */

#define KEY_MAX 1024

static int key_of(const struct cluster_node *cn, char *buf, const char *kind, const char *rest)
{
	int n = snprintf(buf, KEY_MAX, "%s%s%s", cn->cf.prefix, kind, rest);

	return n > 0 && n < KEY_MAX;
}

/* ---- the view: applying what etcd says -------------------------------------- */

#define BAD_LOG_S 60 /* a value not understood is logged at most this often */

/* A key whose value (or name) is not understood: ignored, counted, logged
 * at most once per BAD_LOG_S (anyone who can write the prefix could flood
 * the log otherwise). Under mu. */
static void bad_value(struct cluster_node *cn, const char *key, const char *why)
{
	int64_t now = (int64_t)time(NULL);

	metrics_inc(cn->ms, MC_IGNORED, 0);
	if (cn->bad_logged && now - cn->bad_logged < BAD_LOG_S) {
		cn->bad_quiet++;
		return;
	}
	log_warn("cluster %s: key %s%s: not understood, ignored: %s (%lu more not logged in "
		 "the last %ds) node=%s",
		 cn->cf.name, cn->cf.prefix, key, why, cn->bad_quiet, BAD_LOG_S, cn->cf.node);
	cn->bad_logged = now;
	cn->bad_quiet = 0;
}

static void apply_node(struct cluster_node *cn, enum etcd_event_type type, const char *name,
		       const struct etcd_kv *kv)
{
	const char *why = "";
	long ttl = -1;
	int i;

	if (type == ETCD_EV_PUT) {
		if (!cluster_node_name_ok(name))
			why = "not a node name";
		else if (kv->lease == 0)
			why = "a node key without a lease";
		else
			ttl = cluster_node_value(kv->value, kv->value_len, &why);
		if (ttl < 0) {
			/* a node key overwritten with garbage: that node is gone */
			bad_value(cn, kv->key + strlen(cn->cf.prefix), why);
			type = ETCD_EV_DELETE;
		}
	}
	i = node_find(cn, name, type == ETCD_EV_PUT);
	if (i < 0)
		return;
	if (type == ETCD_EV_DELETE) {
		if (i == 0) {
			cn->nodes[0].lease = 0;
			/* deleted by hand, or by a node that had our name: the
			 * writer puts it back at once */
			if (cn->lease) {
				cn->own_lost = 1;
				cn->local_dirty = 1;
			}
		} else {
			if (!cn->in_range && cn->nodes[i].present)
				log_info(
					"cluster %s: node %s left (its lease ended or was revoked) "
					"node=%s",
					cn->cf.name, name, cn->cf.node);
			node_drop(cn, i);
		}
		return;
	}
	if (i != 0 && !cn->in_range && (!cn->nodes[i].present || cn->nodes[i].lease != kv->lease))
		log_info("cluster %s: node %s joined (lease %" PRIx64 ") node=%s", cn->cf.name,
			 name, (uint64_t)kv->lease, cn->cf.node);
	if (i == 0 && cn->lease && kv->lease != cn->lease)
		log_err("cluster %s: node key %snodes/%s was written by someone else (lease %" PRIx64
			"): is another gslbd running with node = \"%s\"?",
			cn->cf.name, cn->cf.prefix, name, (uint64_t)kv->lease, name);
	cn->nodes[i].present = 1;
	cn->nodes[i].lease = kv->lease;
	if (i != 0)
		cn->nodes[i].expires = 0;
	cn->nodes[i].ttl = ttl;
}

static void apply_verdict(struct cluster_node *cn, enum etcd_event_type type, const char *key,
			  const struct etcd_kv *kv)
{
	char node[NODE_NAME_MAX];
	const char *member;
	struct ment *e;
	int i, d;

	if (cluster_verdict_parse(cn->cf.prefix, key, node, sizeof(node), &member) != GSLB_OK)
		return;
	if (strcmp(node, cn->cf.node) == 0)
		return; /* our own: the local state is the truth */
	i = node_find(cn, node, type == ETCD_EV_PUT);
	if (i <= 0)
		return;
	e = mfind(&cn->t, member, type == ETCD_EV_PUT);
	if (!e)
		return;
	e->down &= ~(1ull << i);
	e->up &= ~(1ull << i);
	if (type == ETCD_EV_DELETE)
		return;
	d = cluster_verdict_value(kv->value, kv->value_len);
	if (d == 1)
		e->down |= 1ull << i;
	else if (d == 0)
		e->up |= 1ull << i;
	else
		bad_value(cn, key + strlen(cn->cf.prefix), "\"state\" is not \"up\" or \"down\"");
}

static void apply_override(struct cluster_node *cn, enum etcd_event_type type, const char *target,
			   const struct etcd_kv *kv)
{
	struct override o;
	const char *why = "";
	char from[NODE_NAME_MAX];

	memset(&o, 0, sizeof(o));
	if (strlen(target) >= sizeof(o.target)) {
		if (type == ETCD_EV_PUT)
			bad_value(cn, kv->key + strlen(cn->cf.prefix), "target too long");
		return;
	}
	snprintf(o.target, sizeof(o.target), "%s", target);
	cn->ovr_version++;
	if (type == ETCD_EV_DELETE) {
		if (override_table_clear(&cn->ovr, target) == GSLB_OK && !cn->in_range)
			log_info("cluster %s: override %s cleared (through etcd) node=%s",
				 cn->cf.name, target, cn->cf.node);
		return;
	}
	/* what was there before is gone either way: a value not understood
	 * must not leave an older override in force */
	override_table_clear(&cn->ovr, target);
	if (override_kind_of(target, &o.kind)) {
		bad_value(cn, kv->key + strlen(cn->cf.prefix),
			  "not a region:, pool: or member: target");
		return;
	}
	if (cluster_override_value(kv->value, kv->value_len, &o, from, sizeof(from), &why) !=
	    GSLB_OK)
		bad_value(cn, kv->key + strlen(cn->cf.prefix), why);
	else if (override_table_set(&cn->ovr, &o) != GSLB_OK)
		log_err("cluster %s: out of memory taking an override", cn->cf.name);
	else if (!cn->in_range && strcmp(from, cn->cf.node) != 0)
		log_info("cluster %s: override %s %s from node %s (through etcd) node=%s",
			 cn->cf.name, target, override_state_name(o.state), from[0] ? from : "?",
			 cn->cf.node);
}

/* Under mu. */
static void apply(struct cluster_node *cn, enum etcd_event_type type, const struct etcd_kv *kv)
{
	size_t lp = strlen(cn->cf.prefix);
	const char *rest;

	if (strncmp(kv->key, cn->cf.prefix, lp) != 0)
		return;
	rest = kv->key + lp;
	if (strncmp(rest, "nodes/", 6) == 0)
		apply_node(cn, type, rest + 6, kv);
	else if (strncmp(rest, "verdicts/", 9) == 0)
		apply_verdict(cn, type, kv->key, kv);
	else if (strncmp(rest, "overrides/", 10) == 0)
		apply_override(cn, type, rest + 10, kv);
	if (kv->mod_revision > cn->applied_rev)
		cn->applied_rev = kv->mod_revision;
}

/* Before a full range: forget everything remote. */
static void reset_view(struct cluster_node *cn)
{
	for (int i = 1; i < MAX_NODES; i++)
		if (cn->nodes[i].used)
			node_drop(cn, i);
	cn->nodes[0].lease = 0;
	override_table_free(&cn->ovr);
	cn->ovr_version++;
}

/* ---- the watcher thread ---------------------------------------------------- */

struct kvcopy {
	enum etcd_event_type type;
	struct etcd_kv kv;
	char *key;
	unsigned char *value;
};

struct kvlist {
	struct kvcopy *v;
	size_t n, cap;
	int nomem;
};

static int collect(void *user, enum etcd_event_type type, const struct etcd_kv *kv)
{
	struct kvlist *l = user;
	struct kvcopy *c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct kvcopy *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->nomem = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	c = &l->v[l->n];
	c->type = type;
	c->kv = *kv;
	c->key = strdup(kv->key);
	c->value = malloc(kv->value_len + 1);
	if (!c->key || !c->value) {
		free(c->key);
		free(c->value);
		l->nomem = 1;
		return 1;
	}
	memcpy(c->value, kv->value, kv->value_len);
	c->kv.key = c->key;
	c->kv.value = c->value;
	l->n++;
	return 0;
}

static void kvlist_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
}

/* The whole prefix, read again: the view is rebuilt from it. */
static int full_range(struct cluster_node *cn, int64_t *rev, char *err, size_t errlen)
{
	struct kvlist l = { 0 };
	int rc = etcd_range_prefix(cn->rc, cn->cf.prefix, collect, &l, rev, err, errlen);

	if (rc == GSLB_OK && l.nomem) {
		snprintf(err, errlen, "out of memory reading the cluster's keys");
		rc = GSLB_ENOMEM;
	}
	if (rc == GSLB_OK) {
		pthread_mutex_lock(&cn->mu);
		reset_view(cn);
		cn->in_range = 1;
		for (size_t i = 0; i < l.n; i++)
			apply(cn, l.v[i].type, &l.v[i].kv);
		cn->in_range = 0;
		if (*rev > cn->applied_rev)
			cn->applied_rev = *rev;
		cn->synced = 1;
		pthread_cond_broadcast(&cn->cond);
		pthread_mutex_unlock(&cn->mu);
		(*rev)++;
	}
	kvlist_free(&l);
	return rc;
}

static int on_event(void *user, enum etcd_event_type type, const struct etcd_kv *kv)
{
	struct cluster_node *cn = user;

	pthread_mutex_lock(&cn->mu);
	apply(cn, type, kv);
	pthread_cond_broadcast(&cn->cond);
	pthread_mutex_unlock(&cn->mu);
	notify(cn);
	return 0;
}

static void *watcher_main(void *arg)
{
	struct cluster_node *cn = arg;
	char err[512];
	int64_t rev = 0;
	int need_range = 1;

	pthread_setname_np(pthread_self(), "gslb-cl-watch");
	while (!stopping(cn)) {
		int rc;

		if (need_range) {
			rc = full_range(cn, &rev, err, sizeof(err));
			if (rc != GSLB_OK) {
				if (!stopping(cn))
					set_ok(cn, FAIL_WATCHER, 0, err);
				nap(cn, RETRY_MS, 0);
				continue;
			}
			need_range = 0;
			set_ok(cn, FAIL_WATCHER, 1, NULL);
			notify(cn);
		}
		rc = etcd_watch_prefix(cn->rc, cn->cf.prefix, &rev, WATCH_MS, on_event, cn, err,
				       sizeof(err));
		if (stopping(cn))
			break;
		if (rc == ETCD_COMPACTED) {
			log_info("cluster %s: %s; reading the keys again", cn->cf.name, err);
			need_range = 1;
		} else if (rc != GSLB_OK) {
			set_ok(cn, FAIL_WATCHER, 0, err);
			need_range = 1;
			nap(cn, RETRY_MS, 0);
		}
	}
	return NULL;
}

/* ---- the writer thread ----------------------------------------------------- */

static char *verdict_json(uint8_t state, int64_t since, const char *reason)
{
	json_t *j = json_pack("{s:s, s:I, s:s}", "state", state == HEALTH_DOWN ? "down" : "up",
			      "since", (json_int_t)since, "reason", reason);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static int join(struct cluster_node *cn, char *err, size_t errlen)
{
	int64_t lease;
	char key[KEY_MAX];
	char *val;
	json_t *j;
	int64_t owner;
	int rc = etcd_lease_grant(cn->wc, (long)cn->cf.lease_ttl, &lease, err, errlen);

	if (rc)
		return rc;
	if (!key_of(cn, key, "nodes/", cn->cf.node)) {
		snprintf(err, errlen, "key too long");
		return GSLB_ERANGE;
	}
	j = json_pack("{s:i, s:I, s:s}", "ttl", (int)cn->cf.lease_ttl, "started",
		      (json_int_t)time(NULL), "version", PACKAGE_VERSION);
	val = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!val)
		return GSLB_ENOMEM;
	rc = etcd_create(cn->wc, key, val, strlen(val), lease, &owner, err, errlen);
	if (rc == GSLB_EEXIST && owner && owner == cn->prev_lease) {
		/* ours, of the configuration before the reload: taken over;
		 * that lease ends by itself with what we do not write again */
		rc = etcd_put(cn->wc, key, val, strlen(val), lease, NULL, err, errlen);
		if (rc == GSLB_OK)
			log_info("cluster %s: took the node key over from lease %" PRIx64
				 " (before the reload)",
				 cn->cf.name, (uint64_t)owner);
	}
	free(val);
	if (rc == GSLB_EEXIST) {
		char e2[256];

		/* Another live node has our name (a node key lives as long as
		 * its lease): joining would take its key over. Wait until it is
		 * gone. */
		etcd_lease_revoke(cn->wc, lease, e2, sizeof(e2));
		snprintf(err, errlen,
			 "node name \"%s\" is in use by another live node (lease %" PRIx64
			 "): not joined; give each node its own `node`",
			 cn->cf.node, (uint64_t)owner);
		pthread_mutex_lock(&cn->mu);
		if (!cn->taken_by)
			log_err("cluster %s: %s", cn->cf.name, err);
		cn->taken_by = owner ? owner : -1;
		pthread_mutex_unlock(&cn->mu);
		return rc;
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&cn->mu);
	if (cn->taken_by)
		log_info("cluster %s: node name \"%s\" free again, joining", cn->cf.name,
			 cn->cf.node);
	cn->taken_by = 0;
	cn->own_lost = 0;
	cn->lease = lease;
	MT_FOREACH(&cn->t, e)
	e->put = 0; /* a new lease holds none of them */
	cn->local_dirty = 1;
	pthread_mutex_unlock(&cn->mu);
	log_info("cluster %s: joined node=%s lease=%" PRIx64 " ttl=%us endpoint=%s", cn->cf.name,
		 cn->cf.node, (uint64_t)lease, cn->cf.lease_ttl, etcd_client_endpoint(cn->wc));
	return GSLB_OK;
}

/* Writes the own verdicts that changed, a batch (one etcd transaction) at
 * a time, until none is left or the monotonic ms `until` (the next
 * keepalive) has passed; stops at the first failure. */
static int flush(struct cluster_node *cn, int64_t until, char *err, size_t errlen)
{
	struct pending *batch = cn->batch;

	for (;;) {
		struct etcd_op ops[BATCH];
		char *keys[BATCH], *vals[BATCH];
		size_t n = 0, nops = 0;
		int64_t lease;
		int rc = GSLB_OK;

		pthread_mutex_lock(&cn->mu);
		lease = cn->lease;
		MT_FOREACH(&cn->t, e)
		{
			if (n < BATCH && e->want != e->put && strlen(e->member) < KEY_MAX) {
				snprintf(batch[n].member, KEY_MAX, "%s", e->member);
				batch[n].want = e->want;
				batch[n].since = e->since;
				memcpy(batch[n].reason, e->reason, HEALTH_REASON_MAX);
				n++;
			}
		}
		if (n == 0)
			cn->local_dirty = 0;
		pthread_mutex_unlock(&cn->mu);
		if (n == 0)
			return GSLB_OK;
		for (size_t i = 0; i < n && rc == GSLB_OK; i++) {
			keys[nops] = malloc(KEY_MAX);
			vals[nops] = batch[i].want ? verdict_json(batch[i].want, batch[i].since,
								  batch[i].reason) :
						     NULL;
			if (!keys[nops] || (batch[i].want && !vals[nops])) {
				free(keys[nops]);
				free(vals[nops]);
				rc = GSLB_ENOMEM;
				break;
			}
			if (cluster_verdict_key(keys[nops], KEY_MAX, cn->cf.prefix, cn->cf.node,
						batch[i].member) != GSLB_OK) {
				free(keys[nops]); /* cannot be named: never written */
				free(vals[nops]);
				continue;
			}
			ops[nops].key = keys[nops];
			ops[nops].value = vals[nops];
			ops[nops].value_len = vals[nops] ? strlen(vals[nops]) : 0;
			nops++;
		}
		if (rc == GSLB_OK && nops)
			rc = etcd_txn(cn->wc, ops, nops, lease, err, errlen);
		else if (rc)
			snprintf(err, errlen, "out of memory");
		for (size_t i = 0; i < nops; i++) {
			free(keys[i]);
			free(vals[i]);
		}
		if (rc)
			return rc;
		pthread_mutex_lock(&cn->mu);
		for (size_t i = 0; i < n; i++) {
			struct ment *e = mfind(&cn->t, batch[i].member, 0);

			if (e)
				e->put = batch[i].want;
		}
		pthread_mutex_unlock(&cn->mu);
		if (now_ms() >= until)
			return GSLB_OK; /* the lease first; the rest next turn */
	}
}

struct readback {
	struct cluster_node *cn;
	size_t lp;
	uint64_t stamp;
};

/* A key of ours as etcd holds it: a verdict that differs from what we
 * think we wrote is written again; one we do not want is deleted. */
static int check_own(void *user, enum etcd_event_type type, const struct etcd_kv *kv)
{
	struct readback *r = user;
	char node[NODE_NAME_MAX];
	const char *member;
	struct ment *e;
	int d;

	(void)type;
	if (cluster_verdict_parse(r->cn->cf.prefix, kv->key, node, sizeof(node), &member))
		return 0;
	e = mfind(&r->cn->t, member, 1);
	if (!e)
		return 0;
	d = cluster_verdict_value(kv->value, kv->value_len);
	e->put = d == 1 ? HEALTH_DOWN : d == 0 ? HEALTH_UP : 0;
	if (kv->lease != r->cn->lease)
		e->put = PUT_STALE;
	e->stamp |= 1ull << 63;
	return 0;
}

/* The periodic refresh: read our verdicts back, repair what differs. */
static int refresh(struct cluster_node *cn, char *err, size_t errlen)
{
	char prefix[KEY_MAX];
	struct kvlist l = { 0 };
	struct readback r = { .cn = cn };
	int rc;

	if (snprintf(prefix, sizeof(prefix), "%sverdicts/%s/", cn->cf.prefix, cn->cf.node) >=
	    (int)sizeof(prefix))
		return GSLB_OK;
	rc = etcd_range_prefix(cn->wc, prefix, collect, &l, NULL, err, errlen);
	if (rc == GSLB_OK && !l.nomem) {
		pthread_mutex_lock(&cn->mu);
		MT_FOREACH(&cn->t, e)
		e->stamp &= ~(1ull << 63);
		for (size_t i = 0; i < l.n; i++)
			check_own(&r, l.v[i].type, &l.v[i].kv);
		MT_FOREACH(&cn->t, e)
		{
			if (!(e->stamp & (1ull << 63)))
				e->put = 0; /* not in etcd */
			e->stamp &= ~(1ull << 63);
			if (e->want != e->put)
				cn->local_dirty = 1;
		}
		pthread_mutex_unlock(&cn->mu);
	}
	kvlist_free(&l);
	return rc;
}

/* Degraded: a remote node whose lease ran out (as known here) stops
 * counting; the prober is told when one does. */
static void expire_nodes(struct cluster_node *cn)
{
	int64_t now = now_ms();
	int changed = 0;

	pthread_mutex_lock(&cn->mu);
	for (int i = 1; i < MAX_NODES && cn->failed[FAIL_WATCHER]; i++) {
		struct cnode *n = &cn->nodes[i];

		if (n->used && n->present && n->expires && now >= n->expires) {
			log_info("cluster %s: node %s stops counting: its lease ended while etcd "
				 "is unreachable",
				 cn->cf.name, n->name);
			n->present = 0;
			changed = 1;
		}
	}
	pthread_mutex_unlock(&cn->mu);
	if (changed)
		notify(cn);
}

static int publish_seeds(struct cluster_node *cn, char *err, size_t errlen);

static void *writer_main(void *arg)
{
	struct cluster_node *cn = arg;
	char err[512];
	int64_t next_keep = 0, next_refresh = 0;
	int64_t keep_every = (int64_t)cn->cf.lease_ttl * 1000 / 3;

	pthread_setname_np(pthread_self(), "gslb-cl-write");
	while (!stopping(cn)) {
		int64_t now = now_ms();
		int rc = GSLB_OK;

		expire_nodes(cn);
		if (cn->lease && __atomic_load_n(&cn->own_lost, __ATOMIC_RELAXED)) {
			/* Our node key went while the lease lives: join again
			 * (a new lease, the node key, every verdict), refused
			 * while another node holds the name. */
			log_warn("cluster %s: our node key was deleted; joining again node=%s",
				 cn->cf.name, cn->cf.node);
			pthread_mutex_lock(&cn->mu);
			cn->own_lost = 0;
			cn->lease = 0;
			pthread_mutex_unlock(&cn->mu);
		}
		if (!cn->lease) {
			rc = join(cn, err, sizeof(err));
			if (rc == GSLB_OK) {
				next_keep = now + keep_every;
				next_refresh = now + REFRESH_S * 1000;
			}
		} else if (now >= next_keep) {
			rc = etcd_lease_keepalive(cn->wc, cn->lease, NULL, err, sizeof(err));
			if (rc == GSLB_ENOENT) {
				log_warn("cluster %s: lease %" PRIx64 " expired; joining again",
					 cn->cf.name, (uint64_t)cn->lease);
				pthread_mutex_lock(&cn->mu);
				cn->lease = 0;
				pthread_mutex_unlock(&cn->mu);
				continue;
			}
			if (rc == GSLB_OK)
				next_keep = now + keep_every;
		} else if (now >= next_refresh) {
			rc = refresh(cn, err, sizeof(err));
			if (rc == GSLB_OK)
				next_refresh = now + REFRESH_S * 1000;
		}
		if (rc == GSLB_OK && cn->lease)
			rc = flush(cn, next_keep, err, sizeof(err));
		if (rc == GSLB_OK && cn->lease)
			rc = publish_seeds(cn, err, sizeof(err));
		if (stopping(cn))
			break;
		set_ok(cn, FAIL_WRITER, rc == GSLB_OK, err);
		if (rc != GSLB_OK) {
			/* our name in use: it frees when the other node's lease
			 * ends, no need to ask twice a second */
			nap(cn, cn->taken_by ? (int64_t)cn->cf.lease_ttl * 500 : RETRY_MS, 0);
			continue;
		}
		now = now_ms();
		{
			int64_t w = next_keep - now;

			if (next_refresh - now < w)
				w = next_refresh - now;
			if (w > RETRY_MS && degraded_now(cn))
				w = RETRY_MS;
			nap(cn, w, 1);
		}
	}
	if (cn->lease && !degraded_now(cn) && !cn->keep_lease) {
		/* Leave at once rather than after lease_ttl: the other nodes
		 * stop counting this one now. A stopped transfer flag would
		 * abort the request: this client has its own, cleared. */
		etcd_client_abort_on(cn->wc, NULL);
		if (etcd_lease_revoke(cn->wc, cn->lease, err, sizeof(err)) == GSLB_OK)
			log_info("cluster %s: left node=%s", cn->cf.name, cn->cf.node);
	}
	return NULL;
}

/* ---- the prober's side ---------------------------------------------------- */

void cluster_node_votes_begin(struct cluster_node *cn)
{
	int64_t now = now_ms();

	pthread_mutex_lock(&cn->mu);
	cn->epoch++;
	cn->live = 0;
	cn->nlive = 0;
	for (int i = 0; i < MAX_NODES; i++) {
		if (i == 0 || node_live(&cn->nodes[i], now)) {
			cn->live |= 1ull << i;
			cn->live_names[cn->nlive] = cn->nodes[i].name;
			cn->live_idx[cn->nlive] = i;
			cn->nlive++;
		}
	}
}

/* The mask of the live nodes that probe member. */
static uint64_t probers_of(struct cluster_node *cn, const char *member)
{
	size_t out[MAX_NODES];
	size_t m;
	uint64_t mask = 0;

	if (cn->cf.probe_share == 0 || cn->cf.probe_share >= cn->nlive)
		return cn->live;
	m = cluster_probers(cn->live_names, cn->nlive, member, cn->cf.probe_share, out);
	for (size_t i = 0; i < m; i++)
		mask |= 1ull << cn->live_idx[out[i]];
	return mask;
}

/* "ns1-fra, ns2-ams" of mask, into buf. */
static void names_of(const struct cluster_node *cn, uint64_t mask, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < MAX_NODES && at < len; i++)
		if (mask & (1ull << i)) {
			int n = snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
					 cn->nodes[i].name);

			if (n < 0)
				break;
			at += (size_t)n;
		}
}

uint8_t cluster_node_vote(struct cluster_node *cn, const char *member, uint8_t local,
			  const char *local_reason, char *reason)
{
	struct ment *e = mfind(&cn->t, member, 1);
	uint64_t probers;
	uint8_t want, res;
	int nup;

	reason[0] = '\0';
	if (!e)
		return local; /* out of memory: this node's verdict */
	probers = probers_of(cn, member);
	want = (probers & 1) && (local == HEALTH_UP || local == HEALTH_DOWN) ? local : 0;
	if (want != e->want) {
		e->want = want;
		e->since = (int64_t)time(NULL);
		snprintf(e->reason, sizeof(e->reason), "%s", local_reason);
		cn->local_dirty = 1;
	}
	e->down &= ~1ull;
	e->up &= ~1ull;
	if (want == HEALTH_DOWN)
		e->down |= 1;
	else if (want == HEALTH_UP)
		e->up |= 1;
	e->stamp = cn->epoch;
	e->probers = probers;
	e->nprobers = (uint8_t)__builtin_popcountll(probers);
	e->ndown = (uint8_t)__builtin_popcountll(e->down & probers);
	nup = __builtin_popcountll(e->up & probers);
	if (cluster_member_down(cn->cf.quorum_mode, cn->cf.quorum_count, e->nprobers, e->ndown))
		res = HEALTH_DOWN;
	else if (nup > 0 || e->ndown > 0)
		res = HEALTH_UP;
	else
		res = (probers & 1) ? local : HEALTH_UNKNOWN;
	if ((res == HEALTH_UP || res == HEALTH_DOWN) &&
	    (e->result == HEALTH_UP || e->result == HEALTH_DOWN) && res != e->result)
		log_info(
			"cluster %s: member %s %s by the cluster vote: %u of %u probing nodes say "
			"down, quorum %u node=%s",
			cn->cf.name, member, res == HEALTH_DOWN ? "down" : "up", e->ndown,
			e->nprobers,
			cluster_quorum_needed(cn->cf.quorum_mode, cn->cf.quorum_count, e->nprobers),
			cn->cf.node);
	e->result = res;
	if (e->ndown > 0) {
		char who[HEALTH_REASON_MAX], text[2 * HEALTH_REASON_MAX];

		names_of(cn, e->down & probers, who, sizeof(who));
		snprintf(text, sizeof(text), "%s by %u of %u nodes: %s",
			 res == HEALTH_DOWN ? "down" : "up; down", e->ndown, e->nprobers, who);
		snprintf(reason, HEALTH_REASON_MAX, "%.*s", HEALTH_REASON_MAX - 1, text);
	} else if (res != local && (probers & 1) == 0)
		snprintf(reason, HEALTH_REASON_MAX, "probed by other nodes");
	return res;
}

void cluster_node_votes_end(struct cluster_node *cn)
{
	int dirty;
	uint64_t counts[3] = { 0, 0, 0 };

	MT_FOREACH(&cn->t, e)
	{
		if (e->stamp != cn->epoch) {
			if (e->want) {
				e->want = 0; /* a member gone from the config */
				cn->local_dirty = 1;
			}
			continue;
		}
		counts[e->result == HEALTH_DOWN ? 1 : e->ndown ? 2 : 0]++;
	}
	for (int k = 0; k < 3; k++)
		metrics_set(cn->ms, MC_MEMBERS, (size_t)k, counts[k]);
	metrics_set(cn->ms, MC_NODES, 0, cn->nlive);
	dirty = cn->local_dirty;
	if (dirty)
		pthread_cond_broadcast(&cn->cond);
	pthread_mutex_unlock(&cn->mu);
}

int cluster_node_probes(struct cluster_node *cn, const char *member)
{
	int yes;
	int64_t now = now_ms();
	const char *names[MAX_NODES];
	size_t n = 0;

	if (cn->cf.probe_share == 0)
		return 1;
	pthread_mutex_lock(&cn->mu);
	for (int i = 0; i < MAX_NODES; i++)
		if (i == 0 || node_live(&cn->nodes[i], now))
			names[n++] = cn->nodes[i].name;
	yes = cluster_probes(names, n, cn->cf.node, member, cn->cf.probe_share);
	pthread_mutex_unlock(&cn->mu);
	return yes;
}

int cluster_node_overrides(struct cluster_node *cn, uint64_t *version, struct override_table *out)
{
	int copied = 0;

	pthread_mutex_lock(&cn->mu);
	/* Until etcd has been read, the overrides last seen (state_dir) hold. */
	if (cn->synced && cn->ovr_version != *version) {
		struct override *v = cn->ovr.n ? malloc(cn->ovr.n * sizeof(*v)) : NULL;

		if (!cn->ovr.n || v) {
			if (v)
				memcpy(v, cn->ovr.v, cn->ovr.n * sizeof(*v));
			free(out->v);
			out->v = v;
			out->n = cn->ovr.n;
			*version = cn->ovr_version;
			copied = 1;
		}
	}
	pthread_mutex_unlock(&cn->mu);
	return copied;
}

/* An override's value in etcd (cluster_override_value reads it). */
static char *override_json(const struct cluster_node *cn, const struct override *o)
{
	json_t *j = json_pack("{s:s, s:I, s:s}", "state",
			      override_state_name((enum override_state)o->state), "since",
			      (json_int_t)o->since, "node", cn->cf.node);
	char *v;

	/* timed maintenance: when it comes into force and ends */
	if (j && o->start)
		json_object_set_new(j, "start", json_integer((json_int_t)o->start));
	if (j && o->end)
		json_object_set_new(j, "end", json_integer((json_int_t)o->end));
	v = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return v;
}

void cluster_node_seed_overrides(struct cluster_node *cn, const struct override_table *local)
{
	pthread_mutex_lock(&cn->mu);
	for (size_t i = 0; i < local->n; i++)
		if (override_table_set(&cn->seed, &local->v[i]) != GSLB_OK)
			log_err("cluster %s: out of memory keeping override %s", cn->cf.name,
				local->v[i].target);
	cn->local_dirty = 1;
	pthread_cond_broadcast(&cn->cond);
	pthread_mutex_unlock(&cn->mu);
}

/* Writer, joined and synced: the local overrides of a node that has just
 * joined (a reload added the group) go to etcd unless etcd has one for
 * the same target; a failed write is tried again. */
static int publish_seeds(struct cluster_node *cn, char *err, size_t errlen)
{
	for (;;) {
		struct override o;
		char key[KEY_MAX];
		char *v;
		int64_t owner;
		int rc, theirs;

		pthread_mutex_lock(&cn->mu);
		if (!cn->synced || cn->seed.n == 0) {
			pthread_mutex_unlock(&cn->mu);
			return GSLB_OK;
		}
		o = cn->seed.v[cn->seed.n - 1];
		theirs = 0;
		for (size_t i = 0; i < cn->ovr.n && !theirs; i++)
			theirs = strcmp(cn->ovr.v[i].target, o.target) == 0;
		pthread_mutex_unlock(&cn->mu);
		rc = GSLB_EEXIST;
		if (!theirs && key_of(cn, key, "overrides/", o.target)) {
			v = override_json(cn, &o);
			rc = v ? etcd_create(cn->wc, key, v, strlen(v), 0, &owner, err, errlen) :
				 GSLB_ENOMEM;
			free(v);
		}
		if (rc != GSLB_OK && rc != GSLB_EEXIST)
			return rc;
		if (rc == GSLB_OK)
			log_info("cluster %s: local override %s %s written to etcd at join node=%s",
				 cn->cf.name, o.target, override_state_name(o.state), cn->cf.node);
		else
			log_warn("cluster %s: local override %s %s dropped at join: etcd has one "
				 "for %s node=%s",
				 cn->cf.name, o.target, override_state_name(o.state), o.target,
				 cn->cf.node);
		pthread_mutex_lock(&cn->mu);
		override_table_clear(&cn->seed, o.target);
		pthread_mutex_unlock(&cn->mu);
	}
}

int cluster_node_override(struct cluster_node *cn, const struct override *o, char *err,
			  size_t errlen)
{
	char key[KEY_MAX];
	char e2[400] = "";
	int64_t rev = 0, deadline;
	int rc;

	if (!key_of(cn, key, "overrides/", o->target)) {
		snprintf(err, errlen, "target too long for an etcd key");
		return GSLB_EINVAL;
	}
	pthread_mutex_lock(&cn->amu);
	if (o->state == OVERRIDE_NONE)
		rc = etcd_delete(cn->ac, key, &rev, e2, sizeof(e2));
	else {
		char *v = override_json(cn, o);

		rc = v ? etcd_put(cn->ac, key, v, strlen(v), 0, &rev, e2, sizeof(e2)) : GSLB_ENOMEM;
		free(v);
	}
	pthread_mutex_unlock(&cn->amu);
	if (rc) {
		snprintf(err, errlen,
			 "etcd unreachable: the override was not applied on any node (cluster "
			 "%s): %s",
			 cn->cf.name, e2);
		return GSLB_EIO;
	}
	/* The watch brings it back: then every reader here sees it. */
	deadline = now_ms() + OVERRIDE_WAIT_MS;
	pthread_mutex_lock(&cn->mu);
	while (cn->applied_rev < rev && now_ms() < deadline && !stopping(cn)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&cn->cond, &cn->mu, &ts);
	}
	pthread_mutex_unlock(&cn->mu);
	return GSLB_OK;
}

char *cluster_node_status(struct cluster_node *cn)
{
	json_t *o = json_object(), *nodes = json_array(), *members = json_array();
	int64_t now = now_ms();
	char qbuf[16];
	char *s;

	pthread_mutex_lock(&cn->mu);
	for (int i = 0; i < MAX_NODES; i++) {
		const struct cnode *n = &cn->nodes[i];
		char lease[24];

		if (!n->used)
			continue;
		snprintf(lease, sizeof(lease), "%" PRIx64,
			 (uint64_t)(i == 0 ? cn->lease : n->lease));
		json_array_append_new(
			nodes,
			json_pack("{s:s, s:b, s:b, s:s, s:I}", "name", n->name, "self", i == 0,
				  "live", i == 0 || node_live(n, now), "lease", lease, "ttl",
				  (json_int_t)(i == 0 ? (long)cn->cf.lease_ttl : n->ttl)));
	}
	MT_FOREACH(&cn->t, e)
	{
		char down[512], probers[512], text[700];

		if (e->stamp != cn->epoch)
			continue;
		names_of(cn, e->down & e->probers, down, sizeof(down));
		names_of(cn, e->probers, probers, sizeof(probers));
		if (e->ndown)
			snprintf(text, sizeof(text), "%s by %u of %u nodes: %s",
				 e->result == HEALTH_DOWN ? "down" : "up; down", e->ndown,
				 e->nprobers, down);
		else
			snprintf(text, sizeof(text), "%s: %u %s it: %s",
				 health_state_name((enum health_state)e->result), e->nprobers,
				 e->nprobers == 1 ? "node probes" : "nodes probe", probers);
		json_array_append_new(
			members,
			json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "member", e->member,
				  "verdict", health_state_name((enum health_state)e->result),
				  "probers", (int)e->nprobers, "down_votes", (int)e->ndown,
				  "down_by", down, "probed_by", probers, "text", text));
	}
	json_object_set_new(o, "name", json_string(cn->cf.name));
	json_object_set_new(o, "node", json_string(cn->cf.node));
	json_object_set_new(o, "degraded", json_boolean(degraded(cn)));
	json_object_set_new(o, "joined", json_boolean(cn->lease != 0));
	json_object_set_new(o, "name_taken", json_boolean(cn->taken_by != 0));
	json_object_set_new(o, "degraded_since",
			    cn->degraded_since ? json_integer(cn->degraded_since) : json_null());
	json_object_set_new(o, "quorum", json_string(quorum_text(&cn->cf, qbuf, sizeof(qbuf))));
	/* the quorum as applied with every live node probing (capped) */
	json_object_set_new(
		o, "quorum_effective",
		json_integer(cluster_quorum_needed(cn->cf.quorum_mode, cn->cf.quorum_count,
						   (unsigned)(cn->nlive ? cn->nlive : 1))));
	json_object_set_new(o, "live_nodes", json_integer((json_int_t)cn->nlive));
	json_object_set_new(o, "probe_share", json_integer(cn->cf.probe_share));
	json_object_set_new(o, "revision", json_integer(cn->applied_rev));
	pthread_mutex_unlock(&cn->mu);
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "members", members);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* ---- start and stop ------------------------------------------------------- */

static char *dup0(const char *s) { return s ? strdup(s) : NULL; }

static void conf_copy_free(struct cluster_conf *c)
{
	free(c->name);
	free(c->prefix);
	free(c->node);
	for (size_t i = 0; i < c->netcd; i++)
		free(c->etcd[i]);
	free(c->etcd);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
}

static int conf_copy(struct cluster_conf *d, const struct cluster_conf *s)
{
	*d = *s;
	d->name = dup0(s->name);
	d->prefix = dup0(s->prefix);
	d->node = dup0(s->node);
	d->ca_file = dup0(s->ca_file);
	d->cert_file = dup0(s->cert_file);
	d->key_file = dup0(s->key_file);
	d->etcd = calloc(s->netcd ? s->netcd : 1, sizeof(char *));
	if (!d->etcd)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < s->netcd; i++)
		if (!(d->etcd[i] = strdup(s->etcd[i])))
			return GSLB_ENOMEM;
	if (!d->name || !d->prefix || !d->node)
		return GSLB_ENOMEM;
	return GSLB_OK;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

const struct cluster_conf *cluster_node_conf(const struct cluster_node *cn) { return &cn->cf; }

int cluster_conf_same(const struct cluster_conf *a, const struct cluster_conf *b)
{
	if (a->enabled != b->enabled)
		return 0;
	if (!a->enabled)
		return 1;
	if (!same_str(a->name, b->name) || !same_str(a->prefix, b->prefix) ||
	    !same_str(a->node, b->node) || a->netcd != b->netcd ||
	    a->quorum_mode != b->quorum_mode || a->quorum_count != b->quorum_count ||
	    a->lease_ttl != b->lease_ttl || a->probe_share != b->probe_share ||
	    !same_str(a->ca_file, b->ca_file) || !same_str(a->cert_file, b->cert_file) ||
	    !same_str(a->key_file, b->key_file))
		return 0;
	for (size_t i = 0; i < a->netcd; i++)
		if (strcmp(a->etcd[i], b->etcd[i]) != 0)
			return 0;
	return 1;
}

struct cluster_node *cluster_node_start(const struct cluster_conf *cf, struct metrics *metrics,
					cluster_changed_fn changed, void *ctx)
{
	return cluster_node_start_after(cf, metrics, changed, ctx, 0);
}

int64_t cluster_node_stop_keep(struct cluster_node *cn)
{
	int64_t lease;

	if (!cn)
		return 0;
	__atomic_store_n(&cn->keep_lease, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&cn->mu);
	lease = cn->lease;
	pthread_mutex_unlock(&cn->mu);
	cluster_node_stop(cn);
	return lease;
}

struct cluster_node *cluster_node_start_after(const struct cluster_conf *cf,
					      struct metrics *metrics, cluster_changed_fn changed,
					      void *ctx, int64_t prev_lease)
{
	struct cluster_node *cn = calloc(1, sizeof(*cn));
	struct etcd_tls tls;
	pthread_condattr_t ca;
	char err[512] = "";
	char qbuf[16];
	long tmo;

	if (!cn) {
		log_err("cluster: out of memory");
		return NULL;
	}
	pthread_mutex_init(&cn->mu, NULL);
	pthread_mutex_init(&cn->amu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cn->cond, &ca);
	pthread_condattr_destroy(&ca);
	cn->changed = changed;
	cn->ctx = ctx;
	cn->prev_lease = prev_lease;
	if (conf_copy(&cn->cf, cf)) {
		log_err("cluster: out of memory");
		cluster_node_stop(cn);
		return NULL;
	}
	node_find(cn, cn->cf.node, 1); /* node 0: this one */
	cn->nodes[0].present = 1;
	cn->nodes[0].ttl = (long)cn->cf.lease_ttl;
	tls.ca_file = cn->cf.ca_file;
	tls.cert_file = cn->cf.cert_file;
	tls.key_file = cn->cf.key_file;
	/* A request (not a watch) that takes a third of the lease is a
	 * failure: the next endpoint is tried while the lease still holds. */
	tmo = (long)cn->cf.lease_ttl * 1000 / 3;
	if (tmo > 2000)
		tmo = 2000;
	cn->wc = etcd_client_new((const char *const *)cn->cf.etcd, cn->cf.netcd, &tls, tmo, err,
				 sizeof(err));
	cn->rc = cn->wc ? etcd_client_new((const char *const *)cn->cf.etcd, cn->cf.netcd, &tls, tmo,
					  err, sizeof(err)) :
			  NULL;
	cn->ac = cn->rc ? etcd_client_new((const char *const *)cn->cf.etcd, cn->cf.netcd, &tls, tmo,
					  err, sizeof(err)) :
			  NULL;
	if (!cn->ac) {
		log_err("cluster %s: %s", cn->cf.name, err);
		cluster_node_stop(cn);
		return NULL;
	}
	etcd_client_abort_on(cn->wc, &cn->stop);
	etcd_client_abort_on(cn->rc, &cn->stop);
	cn->ms = metrics_shard_new(metrics, &cluster_metric_set);
	/* Degraded until etcd has answered both threads. */
	cn->failed[FAIL_WRITER] = cn->failed[FAIL_WATCHER] = 1;
	cn->degraded_since = (int64_t)time(NULL);
	metrics_set(cn->ms, MC_DEGRADED, 0, 1);
	if (pthread_create(&cn->writer, NULL, writer_main, cn) == 0)
		cn->writer_started = 1;
	if (cn->writer_started && pthread_create(&cn->watcher, NULL, watcher_main, cn) == 0)
		cn->watcher_started = 1;
	if (!cn->watcher_started) {
		log_err("cluster %s: cannot start its threads", cn->cf.name);
		cluster_node_stop(cn);
		return NULL;
	}
	log_info("cluster %s: node %s started etcd=%zu quorum=%s lease_ttl=%us probe_share=%u",
		 cn->cf.name, cn->cf.node, cn->cf.netcd, quorum_text(&cn->cf, qbuf, sizeof(qbuf)),
		 cn->cf.lease_ttl, cn->cf.probe_share);
	return cn;
}

void cluster_node_stop(struct cluster_node *cn)
{
	if (!cn)
		return;
	__atomic_store_n(&cn->stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&cn->mu);
	pthread_cond_broadcast(&cn->cond);
	pthread_mutex_unlock(&cn->mu);
	if (cn->watcher_started)
		pthread_join(cn->watcher, NULL);
	if (cn->writer_started)
		pthread_join(cn->writer, NULL);
	/* The shard outlives the node (the registry keeps every shard and
	 * sums them): its gauges go to zero, or a reload's new node would add
	 * to them. Its counters stay: the sum goes on counting. */
	metrics_set(cn->ms, MC_NODES, 0, 0);
	metrics_set(cn->ms, MC_DEGRADED, 0, 0);
	for (size_t k = 0; k < sizeof(member_states) / sizeof(member_states[0]); k++)
		metrics_set(cn->ms, MC_MEMBERS, k, 0);
	etcd_client_free(cn->wc);
	etcd_client_free(cn->rc);
	etcd_client_free(cn->ac);
	mtable_free(&cn->t);
	override_table_free(&cn->ovr);
	override_table_free(&cn->seed);
	conf_copy_free(&cn->cf);
	pthread_cond_destroy(&cn->cond);
	pthread_mutex_destroy(&cn->mu);
	pthread_mutex_destroy(&cn->amu);
	free(cn);
}
