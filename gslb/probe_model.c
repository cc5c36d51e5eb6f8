/* The prober's model: one target per probed address (a static member or
 * one address of a host name) with what it probes, host-name members kept
 * resolved, and the model of a whole snapshot, built at start and at each
 * reload with schedules and freshness carried over. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/probe_int.h"
#include "gslb/resolve.h"

/* ---- targets ------------------------------------------------------------ */

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
	if (c->source_family && !tg && !t->pp->pool->cname_query && t->family &&
	    t->family != c->source_family) {
		t->spec_error = c->source_family == AF_INET ? "source is IPv4, the member IPv6" :
							      "source is IPv6, the member IPv4";
		return GSLB_OK;
	}
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
	if (hm->has_load) {
		/* the smoothed figure carried over stands for one reading */
		t->loads[0] = hm->load;
		t->nloads = 1;
		t->load_pos = 1 % LOAD_WINDOW;
	}
	memcpy(t->reason, hm->reason, sizeof(t->reason));
	t->reason[sizeof(t->reason) - 1] = '\0';
	t->has_latency = hm->has_latency;
	t->latency = hm->latency;
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
void probe_target_cancel(struct prober *p, struct ptarget *t)
{
	probe_queue_del(p, t);
	probe_slot_give(p, t);
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
	probe_heap_del(&p->heap, &t->deadline);
}

static void target_free(struct prober *p, struct ptarget *t)
{
	if (!t)
		return;
	probe_target_cancel(p, t);
	probe_heap_del(&p->heap, &t->next);
	if (t->chan) {
		t->cancelling = 1;
		ares_destroy(t->chan); /* closes its sockets through check_sock */
	}
	curl_slist_free_all(t->connect_to);
	free(t->url);
	free(t->dns_server);
	free(t);
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
			probe_schedule_new(p, t, inew++, nnew,
					   first ? HOST_WINDOW_MS : FIRST_WINDOW_MS, now);
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
		probe_sched_set(p, &h->next, now + (int64_t)h->retry * 1000);
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
	probe_sched_set(p, &h->next, now + (int64_t)ttl * 1000);
}

void probe_host_resolve(struct prober *p, struct phost *h, int64_t now)
{
	if (h->busy)
		return;
	h->busy = 1;
	if (resolve_name(p->res, h->name, host_done, h)) {
		h->busy = 0;
		probe_sched_set(p, &h->next, now + RETRY_MIN_S * 1000);
	}
}

/* ---- the model: targets of every pool of a snapshot --------------------- */

void probe_model_free(struct prober *p, struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->npools; i++) {
		struct ppool *pp = &m->pools[i];
		for (size_t k = 0; k < pp->n; k++)
			target_free(p, pp->t[k]);
		free(pp->t);
		for (size_t k = 0; k < pp->nhosts; k++)
			probe_heap_del(&p->heap, &pp->hosts[k].next);
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

int probe_model_build(struct prober *p, struct snapshot *snap, const struct model *old,
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
		pc->mslot = -2;
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
	probe_model_free(p, m);
	return GSLB_ENOMEM;
}

/* Put a freshly built model's probes and resolutions on the schedule and
 * count what the first round waits for. */
void probe_model_schedule(struct prober *p, struct model *m, int64_t now)
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
				probe_sched_set(p, &t->next, at);
			} else if (t->carried) {
				probe_sched_set(p, &t->next, now);
			} else {
				probe_schedule_new(p, t, pp->pc->inew++, pp->pc->nnew, window, now);
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
			probe_sched_set(p, &h->next, at);
		}
	}
}
