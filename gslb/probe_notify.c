/* The prober's events for webhooks (webhook.h): what changed between two
 * health views of one snapshot (members, pools, regions), and which admin
 * overrides came into force or ended since the last view. Runs on the
 * prober thread after each publication; the POSTs leave later, from the
 * same thread's loop. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "gslb/cluster_node.h"
#include "gslb/dname.h"
#include "gslb/log.h"
#include "gslb/probe_int.h"
#include "gslb/webhook.h"

static const char *up_name(int up) { return up ? "up" : "down"; }

static void svc_name(const struct service *svc, char *buf, size_t len)
{
	dname_to_str(svc->lname, buf, len);
	size_t l = strlen(buf);
	if (l > 1 && buf[l - 1] == '.')
		buf[l - 1] = '\0';
}

static const struct hmember *find_member(const struct hpool *hp, const struct hmember *m)
{
	for (size_t i = 0; i < hp->nmembers; i++)
		if (hp->members[i].family == m->family && hp->members[i].member == m->member &&
		    memcmp(hp->members[i].addr, m->addr, 16) == 0)
			return &hp->members[i];
	return NULL;
}

/* Member changes of one pool: a probe state that moved, except a first
 * result that confirms the fail-open start (unknown -> up): nothing
 * answered changes then. */
static void member_events(struct prober *p, const char *st, const char *rname,
			  const struct hpool *op, const struct hpool *np)
{
	char name[700], at[INET6_ADDRSTRLEN + 1];

	for (size_t i = 0; i < np->nmembers; i++) {
		const struct hmember *m = &np->members[i];
		const struct hmember *o = find_member(op, m);
		if (!o || o->state == m->state ||
		    (o->state == HEALTH_UNKNOWN && m->state == HEALTH_UP))
			continue;
		if (!m->family || !inet_ntop(m->family, m->addr, at, sizeof(at)))
			snprintf(at, sizeof(at), "-");
		snprintf(name, sizeof(name), "member:%s/%s/%s", st, rname, at);
		webhook_emit(p->wh, WH_MEMBER, name, health_state_name(o->state),
			     health_state_name(m->state), m->reason);
	}
}

void probe_events_view(struct prober *p, const struct snapshot *snap, const struct health *old,
		       const struct health *nw)
{
	const struct conf *c = snap->conf;
	char st[300], name[700];
	uint8_t *rold = NULL, *rnew = NULL;

	/* Computed without receivers too: /status keeps the latest events
	 * (webhooks_recent_json) for the status page's timeline. */
	if (!p->wh || !old || !nw || old->npools != nw->npools)
		return;
	/* per region: 0 no pool, 1 every pool down, 2 a pool up */
	rold = calloc(c->nregions ? c->nregions : 1, 1);
	rnew = calloc(c->nregions ? c->nregions : 1, 1);
	for (size_t si = 0; si < c->nservices; si++) {
		const struct service *svc = &c->services[si];
		svc_name(svc, st, sizeof(st));
		for (size_t pi = 0; pi < svc->npools; pi++) {
			const struct pool *pool = &svc->pools[pi];
			const struct hpool *op = &old->pools[pool->gidx];
			const struct hpool *np = &nw->pools[pool->gidx];
			const char *rname = c->regions[pool->region].name;
			member_events(p, st, rname, op, np);
			if (op->up != np->up) {
				snprintf(name, sizeof(name), "pool:%s/%s", st, rname);
				webhook_emit(p->wh, WH_POOL, name, up_name(op->up), up_name(np->up),
					     np->reason);
			}
			if (rold && rnew) {
				rold[pool->region] |= (uint8_t)(1 + (op->up ? 1 : 0));
				rnew[pool->region] |= (uint8_t)(1 + (np->up ? 1 : 0));
			}
		}
	}
	for (size_t r = 0; rold && rnew && r < c->nregions; r++) {
		int ou = (rold[r] & 2) != 0, nu = (rnew[r] & 2) != 0;
		if (!rold[r] || ou == nu)
			continue;
		snprintf(name, sizeof(name), "region:%s", c->regions[r].name);
		webhook_emit(p->wh, WH_REGION, name, up_name(ou), up_name(nu),
			     nu ? "a pool of the region is up" :
				  "every pool of the region is down");
	}
	free(rold);
	free(rnew);
}

static const struct override *find_override(const struct override_table *t, const char *target)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].target, target) == 0)
			return &t->v[i];
	return NULL;
}

void probe_events_overrides(struct prober *p, const struct override_table *active,
			    const struct override_table *pending, int64_t now)
{
	for (size_t i = 0; i < active->n; i++) {
		const struct override *o = &active->v[i];
		const struct override *was = find_override(&p->shown, o->target);
		if (was && was->state == o->state)
			continue;
		int scheduled = o->start && o->start <= now;
		if (scheduled)
			log_info("scheduled override started target=%s state=%s end=%lld",
				 o->target, override_state_name((enum override_state)o->state),
				 (long long)o->end);
		webhook_emit(p->wh, WH_OVERRIDE, o->target,
			     was ? override_state_name((enum override_state)was->state) : "none",
			     override_state_name((enum override_state)o->state),
			     scheduled ? "scheduled start" : "set by admin");
	}
	for (size_t i = 0; i < p->shown.n; i++) {
		const struct override *o = &p->shown.v[i];
		if (find_override(active, o->target))
			continue;
		int scheduled = o->end && o->end <= now;
		if (scheduled)
			log_info("scheduled override ended target=%s state=%s", o->target,
				 override_state_name((enum override_state)o->state));
		webhook_emit(p->wh, WH_OVERRIDE, o->target,
			     override_state_name((enum override_state)o->state), "none",
			     scheduled ? "scheduled end" :
			     find_override(pending, o->target) ?
					 "replaced by a scheduled override" :
					 "cleared by admin");
	}
}

struct cl_seen {
	char name[256];
	int live;
};

static int seen_live(const struct cl_seen *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return v[i].live;
	return 0;
}

void probe_events_cluster(struct prober *p)
{
	char *text, name[300];
	json_t *st, *nodes, *nd;
	struct cl_seen *now = NULL;
	size_t n = 0, i;
	int degraded;

	if (!p->cn || !webhook_wants(p->wh, WH_CLUSTER))
		return;
	text = cluster_node_status(p->cn);
	st = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!st)
		return;
	nodes = json_object_get(st, "nodes");
	now = calloc(json_array_size(nodes) + 1, sizeof(*now));
	if (!now) {
		json_decref(st);
		return;
	}
	json_array_foreach(nodes, i, nd)
	{
		const char *nm = json_string_value(json_object_get(nd, "name"));
		if (!nm)
			continue;
		snprintf(now[n].name, sizeof(now[n].name), "%s", nm);
		now[n++].live = json_is_true(json_object_get(nd, "live"));
	}
	degraded = json_is_true(json_object_get(st, "degraded"));
	if (p->cl_known) {
		const char *cname = json_string_value(json_object_get(st, "name"));
		snprintf(name, sizeof(name), "cluster:%s", cname ? cname : "?");
		if (degraded != p->cl_degraded)
			webhook_emit(p->wh, WH_CLUSTER, name, degraded ? "ok" : "degraded",
				     degraded ? "degraded" : "ok",
				     degraded ? "etcd unreachable" : "etcd reachable again");
		for (i = 0; i < n; i++) {
			if (now[i].live == seen_live(p->cl_nodes, p->ncl_nodes, now[i].name))
				continue;
			snprintf(name, sizeof(name), "node:%s", now[i].name);
			webhook_emit(p->wh, WH_CLUSTER, name, now[i].live ? "down" : "up",
				     now[i].live ? "up" : "down",
				     now[i].live ? "its lease is live" : "its lease ended");
		}
		for (i = 0; i < p->ncl_nodes; i++) {
			if (!p->cl_nodes[i].live || seen_live(now, n, p->cl_nodes[i].name))
				continue;
			int listed = 0;
			for (size_t k = 0; k < n && !listed; k++)
				listed = strcmp(now[k].name, p->cl_nodes[i].name) == 0;
			if (listed)
				continue; /* announced above */
			snprintf(name, sizeof(name), "node:%s", p->cl_nodes[i].name);
			webhook_emit(p->wh, WH_CLUSTER, name, "up", "down", "its lease ended");
		}
	}
	free(p->cl_nodes);
	p->cl_nodes = now;
	p->ncl_nodes = n;
	p->cl_degraded = degraded;
	p->cl_known = 1;
	json_decref(st);
}

void probe_events_free(struct prober *p)
{
	free(p->cl_nodes);
	p->cl_nodes = NULL;
	p->ncl_nodes = 0;
}
