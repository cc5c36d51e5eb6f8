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
 * admin changes and reloads are handed to it and their callers wait.
 *
 * This file holds the thread, publication, reloads and the public
 * interface; the schedule, the model and each kind of check have files of
 * their own (gslb/probe_int.h lists them). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <jansson.h>
#include <urcu/urcu-memb.h>

#include "gslb/cluster_node.h"
#include "gslb/dnssec_cache.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/probe.h"
#include "gslb/probe_int.h"
#include "gslb/resolve.h"
#include "gslb/webhook.h"

/* ---- metrics ------------------------------------------------------------ */

static const char *const probe_results[] = { "success", "failure", "unknown" };
static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					  0.5,   1.0,  2.5,   5.0,  10.0 };

static const struct metric_family probe_families[] = {
	[MP_MAX_INFLIGHT] = { .name = "gslb_probe_max_inflight",
			      .help = "Probes allowed in flight at once (probe_max_inflight).",
			      .type = METRIC_GAUGE },
	[MP_IN_FLIGHT] = { .name = "gslb_probes_in_flight",
			   .help = "Probes running now.",
			   .type = METRIC_GAUGE },
	[MP_IN_FLIGHT_MAX] = { .name = "gslb_probes_in_flight_max",
			       .help = "Most probes running at once since the start.",
			       .type = METRIC_GAUGE },
	[MP_QUEUED] = { .name = "gslb_probes_queued",
			.help = "Due probes waiting for a slot.",
			.type = METRIC_GAUGE },
	[MP_PROBES] = { .name = "gslb_probes_total",
			.help = "Health probes, by check and result (unknown: not run for a local "
				"error, no state change).",
			.type = METRIC_COUNTER,
			.labels = { { .kind = ML_CHECK }, METRIC_ENUM("result", probe_results) } },
	[MP_DURATION] = { .name = "gslb_probe_duration_seconds",
			  .help = "Time from a probe's start to its result.",
			  .type = METRIC_HISTOGRAM,
			  .labels = { { .kind = ML_CHECK } },
			  .bounds = duration_bounds,
			  .nbounds = sizeof(duration_bounds) / sizeof(duration_bounds[0]) },
};

static const struct metric_set probe_metric_set = METRIC_SET(probe_families);

/* ---- epoll set: curl, c-ares and resolver sockets ----------------------- */

static void wake(struct prober *p)
{
	uint64_t one = 1;
	ssize_t n = write(p->evfd, &one, sizeof(one));
	(void)n; /* EAGAIN: already pending */
}

/* events 0 = stop watching. Indexed by fd, so an event for a socket closed
 * in the same batch finds an empty slot (or a new owner whose socket is
 * non-blocking: a spurious wake-up is harmless). */
void probe_fd_watch(struct prober *p, int fd, uint8_t kind, void *owner, uint32_t events)
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

static void resolver_sock(void *arg, int fd, int readable, int writable)
{
	probe_fd_watch(arg, fd, FD_RESOLVE, NULL, ares_events(readable, writable));
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
		hm->has_load = t->nloads > 0;
		hm->load = 0;
		for (unsigned k = 0; k < t->nloads; k++)
			hm->load += t->loads[k];
		if (t->nloads) /* the mean, to 6 places: equal readings give their figure */
			hm->load = round(hm->load / t->nloads * 1e6) / 1e6;
		memcpy(hm->reason, t->reason, sizeof(hm->reason));
		hm->has_latency = t->has_latency;
		hm->latency = t->latency;
	}
	return GSLB_OK;
}

void probe_member_key(const struct ptarget *t, char *buf, size_t len)
{
	const char *m =
		!t->family && target_member(t)->hostname ? target_member(t)->hostname : t->atext;

	snprintf(buf, len, "%s/%s/%s", t->pp->svc->name, t->pp->region, m);
}

/* With a cluster: every checked member's state becomes its state in the
 * cluster view (this node's verdict is one vote), and the overrides are
 * the cluster's. Under mu. */
static void cluster_merge(struct prober *p, struct health *nw)
{
	struct model *m = p->m;
	char key[1024], why[HEALTH_REASON_MAX];

	if (cluster_node_overrides(p->cn, &p->cl_ovr_version, &p->admin) && p->state_dir)
		override_table_save(&p->admin, p->state_dir);
	cluster_node_votes_begin(p->cn);
	for (size_t i = 0; i < m->npools && i < nw->npools; i++) {
		const struct ppool *pp = &m->pools[i];
		struct hpool *hp = &nw->pools[i];

		if (!pp->pc)
			continue; /* unchecked: up everywhere, nothing to share */
		for (size_t k = 0; k < pp->n && k < hp->nmembers; k++) {
			const struct ptarget *t = pp->t[k];
			struct hmember *hm = &hp->members[k];

			probe_member_key(t, key, sizeof(key));
			hm->state = cluster_node_vote(p->cn, key, t->state, t->reason, why);
			memcpy(hm->reason, why[0] ? why : t->reason, sizeof(hm->reason));
		}
	}
	cluster_node_votes_end(p->cn);
}

/* Under p->mu: the overrides in force at wall time now into *out. */
static int overrides_in_force(const struct prober *p, int64_t now, struct override_table *out)
{
	for (size_t i = 0; i < p->admin.n; i++)
		if (override_active(&p->admin.v[i], now) && override_table_set(out, &p->admin.v[i]))
			return GSLB_ENOMEM;
	return GSLB_OK;
}

/* The admin overrides scheduled, not started yet, at now. */
static int overrides_pending(const struct prober *p, int64_t now, struct override_table *out)
{
	for (size_t i = 0; i < p->admin.n; i++)
		if (p->admin.v[i].start > now && override_table_set(out, &p->admin.v[i]))
			return GSLB_ENOMEM;
	return GSLB_OK;
}

/* A new view from the model's dirty pools and the admin table, published
 * through snap->health; the old one is freed after a grace period. */
static int publish(struct prober *p, int64_t now)
{
	struct health *old, *nw;
	struct override_table active = { 0 }, pending = { 0 };
	uint64_t served;
	struct model *m = p->m;
	int64_t wall = wall_s();

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
	if (p->cn)
		cluster_merge(p, nw);
	health_compute(nw, p->snap, &p->admin, old, wall);
	/* signed zones: the answer sets of this view signed before it is
	 * published (a failover is no signing storm) */
	dnssec_warm(p->snap, nw);
	rcu_assign_pointer(p->snap->health, nw);
	p->pub_done = served;
	int act_rc = overrides_in_force(p, wall, &active);
	if (act_rc == GSLB_OK)
		act_rc = overrides_pending(p, wall, &pending);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);

	/* Webhook events: the overrides first (they are the cause), then what
	 * they and the probes changed. */
	if (act_rc == GSLB_OK) {
		probe_events_overrides(p, &active, &pending, wall);
		override_table_free(&p->shown);
		p->shown = active;
	} else {
		override_table_free(&active);
	}
	override_table_free(&pending);
	probe_events_view(p, p->snap, old, nw);

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
			probe_target_cancel(p, pp->t[k]);
		for (size_t k = 0; k < pp->nhosts; k++) {
			struct phost *h = &pp->hosts[k];
			if (h->busy)
				probe_sched_set(p, &h->next, now); /* resolve again soon */
		}
	}
	if (p->res)
		resolve_cancel(p->res);
}

static void on_cluster_change(void *arg)
{
	struct prober *p = arg;

	pthread_mutex_lock(&p->mu);
	p->cl_dirty = 1;
	pthread_mutex_unlock(&p->mu);
	wake(p);
}

/* The cluster group of a new configuration: the node restarts when it
 * changed (a new lease; the old one is revoked), stops when it went. */
static void cluster_adopt(struct prober *p, const struct cluster_conf *cf)
{
	struct cluster_node *old = p->cn, *nw = NULL;

	if (old && cf->enabled && cluster_conf_same(cf, cluster_node_conf(old)))
		return;
	if (!old && !cf->enabled)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->cl_admin)
		pthread_cond_wait(&p->cond, &p->mu);
	p->cn = NULL;
	pthread_mutex_unlock(&p->mu);
	cluster_node_stop(old);
	if (cf->enabled)
		nw = cluster_node_start(cf, p->metrics, on_cluster_change, p);
	pthread_mutex_lock(&p->mu);
	p->cn = nw;
	p->cl_ovr_version = UINT64_MAX;
	pthread_mutex_unlock(&p->mu);
	p->hard_dirty = 1;
	log_info("cluster group %s at reload", old && nw ? "changed" : nw ? "added" : "removed");
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
	rc = probe_model_build(p, ns, p->m, &nm);
	if (rc) {
		rcu_assign_pointer(ns->health, given);
		pthread_mutex_unlock(&p->mu);
		health_free(nh);
		log_err("prober: out of memory adopting a new configuration");
		return rc;
	}
	probe_model_free(p, p->m);
	p->m = nm;
	p->snap = ns;
	pthread_mutex_unlock(&p->mu);
	webhooks_configure(p->wh, ns->conf, p->multi);
	p->cap = probe_inflight_cap(ns->conf);
	probe_gauges(p);

	/* A reload also rereads the system resolver configuration. */
	if (resolve_new(resolver_sock, p, ns->conf->resolvers, &nres) == GSLB_OK) {
		resolve_free(p->res);
		p->res = nres;
	}
	probe_model_schedule(p, nm, now);
	p->hard_dirty = p->soft_dirty = 0;
	p->save_pending = 1;
	cluster_adopt(p, &ns->conf->cluster);
	if (given) {
		/* not published yet by contract; the grace period costs little */
		urcu_memb_synchronize_rcu();
		health_free(given);
	}
	log_info("prober adopted a new configuration generation=%" PRIu64, ns->generation);
	return GSLB_OK;
}

/* ---- the thread --------------------------------------------------------- */

/* Scheduled overrides, once a wall-clock second: those whose end has come
 * leave the table (and state_dir); when one started or ended since the
 * last view, a new view is published (and announced). The cluster's
 * events are looked for at the same pace. */
static void override_schedule(struct prober *p)
{
	int64_t now = wall_s();
	int removed = 0, changed = 0;

	if (now == p->override_tick)
		return;
	p->override_tick = now;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->admin.n;) {
		const struct override *o = &p->admin.v[i];
		if (o->end && o->end <= now) {
			p->admin.v[i] = p->admin.v[--p->admin.n];
			removed = 1;
			continue;
		}
		int shown = 0;
		for (size_t k = 0; k < p->shown.n && !shown; k++)
			shown = strcmp(p->shown.v[k].target, o->target) == 0 &&
				p->shown.v[k].state == o->state;
		changed |= shown != override_active(o, now);
		i++;
	}
	if (removed && p->state_dir) {
		int rc = override_table_save(&p->admin, p->state_dir);
		if (rc)
			log_warn("cannot save admin overrides state_dir=%s error=\"%s\"",
				 p->state_dir, gslb_strerror(rc));
	}
	pthread_mutex_unlock(&p->mu);
	if (removed || changed)
		p->hard_dirty = 1;
	probe_events_cluster(p);
}

static void run_due(struct prober *p, int64_t now)
{
	while (p->heap.n && p->heap.v[0]->at <= now) {
		struct sched *s = p->heap.v[0];
		probe_heap_del(&p->heap, s);
		switch (s->kind) {
		case EV_PROBE: {
			struct ptarget *t = container_of(s, struct ptarget, next);
			probe_start(p, t, now);
			probe_sched_set(p, &t->next, probe_next_at(p, t, now));
			break;
		}
		case EV_DEADLINE:
			probe_dns_deadline(p, container_of(s, struct ptarget, deadline));
			break;
		case EV_RESOLVE:
			probe_host_resolve(p, container_of(s, struct phost, next), now);
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
	int64_t wh = webhooks_next_ms(p->wh);
	if (wh >= 0 && wh - now < w)
		w = wh - now;
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
	if (p->pub_req != p->pub_done || p->cl_dirty)
		p->hard_dirty = 1;
	p->cl_dirty = 0;
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
		override_schedule(p);
		run_due(p, now);
		if (p->curl_timer >= 0 && now >= p->curl_timer) {
			p->curl_timer = -1;
			curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		if (resolve_pending(p->res) && resolve_timeout_ms(p->res, 1) == 0)
			resolve_process(p->res, -1, 0, 0);
		probe_curl_collect(p);
		probe_queue_drain(p);
		probe_curl_collect(p); /* what failed at once while starting */
		now = mono_ms();
		if (p->hard_dirty || (p->soft_dirty && now - p->last_pub >= SOFT_PUBLISH_MS))
			publish(p, now);
		webhooks_run(p->wh, p->multi, now);
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
		probe_curl_collect(p);
		probe_queue_drain(p);
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
	cluster_node_stop(p->cn);
	p->cn = NULL;
	/* the resolver first: its cancelled callbacks still see the hosts */
	resolve_free(p->res);
	p->res = NULL;
	probe_model_free(p, p->m);
	webhooks_free(p->wh, p->multi);
	probe_events_free(p);
	override_table_free(&p->shown);
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
	override_table_free(&p->admin);
	free(p->state_dir);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int prober_new(struct snapshot *snap, const char *state_dir, struct metrics *metrics,
	       struct prober **out)
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
	p->metrics = metrics;
	p->ms = metrics_shard_new(metrics, &probe_metric_set);
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
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, probe_curl_sock_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, probe_curl_timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	rc = resolve_new(resolver_sock, p, snap->conf->resolvers, &p->res);
	if (rc)
		goto fail;
	if (p->state_dir) {
		rc = override_table_load(&p->admin, p->state_dir);
		if (rc)
			log_warn("cannot read admin overrides state_dir=%s error=\"%s\"",
				 p->state_dir, gslb_strerror(rc));
		rc = GSLB_OK;
	}
	p->snap = snap;
	p->cap = probe_inflight_cap(snap->conf);
	probe_gauges(p);
	p->wh = webhooks_new(metrics);
	if (!p->wh) {
		rc = GSLB_ENOMEM;
		goto fail;
	}
	webhooks_configure(p->wh, snap->conf, p->multi);
	/* Overrides in force at the start are not announced again. */
	rc = overrides_in_force(p, wall_s(), &p->shown);
	if (rc)
		goto fail;
	if (!snap->health) {
		snap->health = health_initial(snap, NULL, NULL, p->state_dir, &p->admin, wall_s());
		if (!snap->health) {
			rc = GSLB_ENOMEM;
			goto fail;
		}
	}
	rc = probe_model_build(p, snap, NULL, &p->m);
	if (rc)
		goto fail;
	probe_model_schedule(p, p->m, now);
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
	int rc;

	/* After the privilege drop, as the probes: the cluster's threads talk
	 * to etcd. A node that cannot start goes on alone (logged). */
	if (p->snap->conf->cluster.enabled) {
		struct cluster_node *cn = cluster_node_start(&p->snap->conf->cluster, p->metrics,
							     on_cluster_change, p);

		pthread_mutex_lock(&p->mu);
		p->cn = cn;
		p->cl_ovr_version = UINT64_MAX;
		pthread_mutex_unlock(&p->mu);
	}
	rc = pthread_create(&p->thread, NULL, prober_main, p);
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

/* An override with a cluster: written to etcd (every node applies it from
 * its watch), never only here; refused when etcd cannot take it. Under mu,
 * released while etcd is written. */
static int cluster_admin(struct prober *p, struct override *o, const char *action, uint8_t state,
			 char *err, size_t errlen)
{
	struct cluster_node *cn = p->cn;
	const struct override *cur = NULL;
	int rc;

	for (size_t i = 0; i < p->admin.n; i++)
		if (strcmp(p->admin.v[i].target, o->target) == 0)
			cur = &p->admin.v[i];
	if (state == OVERRIDE_NONE && !cur) {
		snprintf(err, errlen, "no override on %s", o->target);
		return GSLB_ENOENT;
	}
	if (state == OVERRIDE_NONE && strcmp(action, "undrain") == 0 &&
	    cur->state != OVERRIDE_DRAIN) {
		snprintf(err, errlen, "%s is %s, not drained: use clear", o->target,
			 override_state_name((enum override_state)cur->state));
		return GSLB_EINVAL;
	}
	o->state = state;
	o->since = wall_s();
	p->cl_admin++;
	pthread_mutex_unlock(&p->mu);
	rc = cluster_node_override(cn, o, err, errlen);
	pthread_mutex_lock(&p->mu);
	p->cl_admin--;
	pthread_cond_broadcast(&p->cond);
	if (rc == GSLB_OK)
		log_info("admin override %s target=%s cluster=%s", action, o->target,
			 cluster_node_conf(cn)->name);
	return rc;
}

char *prober_cluster_json(struct prober *p)
{
	char *s = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->cn)
		s = cluster_node_status(p->cn);
	pthread_mutex_unlock(&p->mu);
	return s;
}

char *prober_events_json(struct prober *p) { return webhooks_recent_json(p->wh); }

/* The times of a scheduled override: 0 or a sane pair, else err. */
static int check_times(uint8_t state, int64_t *start, int64_t end, int64_t now, char *err,
		       size_t errlen)
{
	char when[32];

	if (!*start && !end)
		return GSLB_OK;
	if (state == OVERRIDE_NONE) {
		snprintf(err, errlen, "start and end are for drain, force-up and force-down");
		return GSLB_EINVAL;
	}
	if (*start < 0 || end < 0) {
		snprintf(err, errlen, "start and end are unix times, not negative");
		return GSLB_EINVAL;
	}
	if (end && end <= now) {
		time_t t = (time_t)end;
		struct tm tm;
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			snprintf(when, sizeof(when), "%lld", (long long)end);
		snprintf(err, errlen, "the end, %s, is not in the future", when);
		return GSLB_EINVAL;
	}
	if (*start <= now)
		*start = 0; /* started: in force at once */
	if (end && *start && end <= *start) {
		snprintf(err, errlen, "the end must come after the start");
		return GSLB_EINVAL;
	}
	return GSLB_OK;
}

int prober_admin(struct prober *p, const char *target, const char *action, int64_t start,
		 int64_t end, char *err, size_t errlen)
{
	struct override o;
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
	rc = check_times(state, &start, end, wall_s(), err, errlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&p->mu);
	rc = health_parse_target(p->snap, target, &o, err, errlen);
	if (rc)
		goto out;
	if (p->cn) {
		o.start = start;
		o.end = end;
		rc = cluster_admin(p, &o, action, state, err, errlen);
		goto wait;
	}
	if (state == OVERRIDE_NONE) {
		size_t i;
		for (i = 0; i < p->admin.n; i++)
			if (strcmp(p->admin.v[i].target, o.target) == 0)
				break;
		if (i == p->admin.n) {
			snprintf(err, errlen, "no override on %s", o.target);
			rc = GSLB_ENOENT;
			goto out;
		}
		if (strcmp(action, "undrain") == 0 && p->admin.v[i].state != OVERRIDE_DRAIN) {
			snprintf(err, errlen, "%s is %s, not drained: use clear", o.target,
				 override_state_name((enum override_state)p->admin.v[i].state));
			rc = GSLB_EINVAL;
			goto out;
		}
		rc = override_table_clear(&p->admin, o.target);
	} else {
		o.state = state;
		o.since = wall_s();
		o.start = start;
		o.end = end;
		rc = override_table_set(&p->admin, &o);
	}
	if (rc) {
		snprintf(err, errlen, "%s", gslb_strerror(rc));
		goto out;
	}
	if (start || end)
		log_info("admin override %s target=%s start=%lld end=%lld", action, o.target,
			 (long long)start, (long long)end);
	else
		log_info("admin override %s target=%s", action, o.target);
	if (p->state_dir) {
		int src = override_table_save(&p->admin, p->state_dir);
		if (src)
			log_warn("cannot save admin overrides state_dir=%s error=\"%s\"",
				 p->state_dir, gslb_strerror(src));
	}
wait:
	if (rc)
		goto out;
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

	int64_t now = wall_s();

	if (!arr)
		return NULL;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->admin.n; i++) {
		const struct override *o = &p->admin.v[i];
		json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b}", "target", o->target,
				      "kind", (unsigned)o->kind < 3 ? kinds[o->kind] : "?", "state",
				      override_state_name((enum override_state)o->state), "since",
				      (json_int_t)o->since, "start", (json_int_t)o->start, "end",
				      (json_int_t)o->end, "active", override_active(o, now));
		if (j)
			json_array_append_new(arr, j);
	}
	pthread_mutex_unlock(&p->mu);
	s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

void prober_event(struct prober *p, int what, const char *name, const char *from, const char *to,
		  const char *why)
{
	if (p && webhook_emit(p->wh, (enum webhook_what)what, name, from, to, why))
		wake(p);
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
