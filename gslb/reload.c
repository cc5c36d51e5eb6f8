/* Reloads. A full reload (SIGHUP, POST /reload) re-reads the config, the
 * zones and the data files; a data file replaced on disk (GeoIP database,
 * overrides, ACL blocklist) reloads the GeoIP side alone. A full reload also
 * applies changed listen addresses, worker count, EDNS size, TCP limits and
 * admin address without a restart: see net_prepare(). */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <urcu/urcu-memb.h>
#include <uv.h>

#include "gslb/admin.h"
#include "gslb/config.h"
#include "gslb/dns.h"
#include "gslb/dnstap.h"
#include "gslb/err.h"
#include "gslb/fdlimit.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/notify.h"
#include "gslb/privs.h"
#include "gslb/probe.h"
#include "gslb/server_int.h"
#include "gslb/snapshot.h"
#include "gslb/xfr.h"

/* How long an admin listener replaced by a reload may finish the requests
 * it has (the POST /reload itself) before it is stopped. */
#define ADMIN_RETIRE_WAIT_S 2.0

/* How often GeoIP files are checked for replacement (libuv stat polling). */
#define GEO_POLL_MS 2000
/* How long a changed data file must stay the same (size, modification
 * time) before it is loaded: a file still being written is not read. */
#define GEO_SETTLE_MS 1000

static void free_handle(uv_handle_t *h) { free(h); }

/* A reload builds the new snapshot on libuv's thread pool (parsing zones and
 * opening databases must not stall TCP or signals), publishes it with one
 * pointer store, waits out the RCU grace period on the pool again, and only
 * then frees the old one. A failed build changes nothing. */
struct reload_job {
	uv_work_t req;
	struct server *srv;
	int kind;
	uint64_t ticket; /* admin requests this reload answers */
	const struct snapshot *old;
	struct snapshot *result;
	int rc;
	char err[1024];
};

struct retire_job {
	uv_work_t req;
	struct server *srv;
	struct snapshot *old;
};

static void reload_start(struct server *srv);

/* A reload is over: free the snapshot it leaves behind (the one it
 * replaced, or the one it built and did not publish), then start the
 * reload asked for meanwhile. */
static void reload_end(struct server *srv, struct snapshot *left)
{
	snapshot_free(left);
	snapshot_memory_release();
	srv->reload_running = 0;
	if (srv->reload_pending && !srv->stopping)
		reload_start(srv);
}

/* Tell admin requests waiting for a reload how it went. */
void reload_answer(struct server *srv, uint64_t ticket, int rc, const char *err)
{
	if (ticket == 0)
		return;
	pthread_mutex_lock(&srv->reload_mu);
	if (ticket > srv->reload_answered) {
		srv->reload_answered = ticket;
		srv->reload_rc = rc;
		snprintf(srv->reload_err, sizeof(srv->reload_err), "%s", err ? err : "");
	}
	pthread_cond_broadcast(&srv->reload_cv);
	pthread_mutex_unlock(&srv->reload_mu);
}

static void reload_work(uv_work_t *req)
{
	struct reload_job *j = req->data;
	j->err[0] = '\0';
	if (j->kind & RELOAD_FULL) {
		j->rc = snapshot_load(j->srv->conf_path, &j->result, j->err, sizeof(j->err));
		/* New limits must fit in the descriptors the process has. */
		if (j->rc == GSLB_OK)
			j->rc = fdlimit_check(j->result->conf, fdlimit_current(), j->err,
					      sizeof(j->err));
	} else
		j->rc = snapshot_regeo(j->old, &j->result, j->err, sizeof(j->err));
}

static void retire_work(uv_work_t *req)
{
	(void)req;
	/* Every reader that could still see the old snapshot leaves its
	 * read-side section before this returns. */
	urcu_memb_synchronize_rcu();
}

static void retire_done(uv_work_t *req, int status)
{
	struct retire_job *r = req->data;
	struct server *srv = r->srv;
	struct snapshot *old = r->old;
	(void)status;
	free(r);
	reload_end(srv, old);
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int http_listen_changed(const struct conf *a, const struct conf *b)
{
	if (a->nhttp != b->nhttp)
		return 1;
	for (size_t i = 0; i < a->nhttp; i++) {
		const struct conf_http_listen *x = &a->http[i], *y = &b->http[i];
		if (!same_sockaddr(&x->l.addr, &y->l.addr) || x->ncerts != y->ncerts)
			return 1;
		for (size_t c = 0; c < x->ncerts; c++)
			if (!same_str(x->certs[c].name, y->certs[c].name) ||
			    !same_str(x->certs[c].cert, y->certs[c].cert) ||
			    !same_str(x->certs[c].key, y->certs[c].key))
				return 1;
	}
	return 0;
}

/* What a full reload changes on the network side.
 *
 * Everything that can fail is done first, while the running set keeps
 * serving untouched: new addresses are bound (TCP listening, UDP sockets in
 * their SO_REUSEPORT group), kept addresses get more UDP sockets when there
 * are more workers, a new admin listener is started, and when the sockets,
 * the worker count or the EDNS size change, a new generation of workers is
 * started over the new socket set. Only then (net_commit, after the
 * snapshot is published) is the old generation stopped and are removed
 * addresses closed; on any failure net_rollback undoes the new parts and
 * the old state is exactly as it was.
 *
 * Nothing is dropped on a kept address while workers change: its sockets
 * stay open the whole time, so the kernel keeps queuing datagrams on them
 * (up to UDP_RCVBUF each), and for a moment both generations poll the same
 * sockets; whichever thread's recvmmsg() takes a datagram answers it, and
 * none is read twice. The TCP listener of a kept address is not touched at
 * all, nor are open connections. A removed address stops answering once
 * its sockets are closed (clients then get ICMP port unreachable or a
 * refused connection); connections already accepted on it are served
 * until they end. */
struct net_plan {
	struct listener **ls; /* the new set in config order: kept and fresh */
	size_t nls;
	struct workers *ws;  /* the new generation, running; NULL = keep */
	struct admin *admin; /* the new admin listener (when changed) */
	int admin_changed;
	int active;
};

static void admin_retire_later(struct server *srv, struct admin *a);

static void net_rollback(struct server *srv, struct net_plan *p)
{
	if (!p->active)
		return;
	if (p->ws) {
		workers_wake(p->ws);
		workers_join(p->ws);
		workers_free(p->ws);
	}
	for (size_t i = 0; i < p->nls; i++) {
		struct listener *l = p->ls[i];
		if (l->fresh) {
			listener_retire(l);
			continue;
		}
		listener_shrink(l, l->nudp_before);
	}
	for (size_t i = 0; i < srv->nls; i++)
		srv->ls[i]->kept = 0;
	/* Not admin_stop here: a request on the new listener may be waiting
	 * for a reload, which only the loop can run. */
	admin_retire_later(srv, p->admin);
	free(p->ls);
	memset(p, 0, sizeof(*p));
}

static int net_prepare(struct server *srv, const struct conf *nc, struct net_plan *p, char *err,
		       size_t errlen)
{
	unsigned n = nc->workers ? nc->workers : 1;
	uint16_t edns = nc->edns_size;
	int changed = 0;
	int rc = GSLB_OK;

	memset(p, 0, sizeof(*p));
	p->active = 1;
	p->ls = calloc(nc->ndns ? nc->ndns : 1, sizeof(*p->ls));
	if (p->ls == NULL) {
		rc = GSLB_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		srv->ls[i]->kept = 0;
		srv->ls[i]->nudp_before = srv->ls[i]->nudp;
	}
	for (size_t i = 0; i < nc->ndns; i++) {
		struct listener *l = NULL;

		assert(p->nls <= i); /* p->ls has one slot per address */
		for (size_t k = 0; k < srv->nls && l == NULL; k++)
			if (!srv->ls[k]->kept &&
			    same_sockaddr(&srv->ls[k]->conf_addr, &nc->dns[i].addr))
				l = srv->ls[k];
		if (l != NULL) {
			l->kept = 1;
			p->ls[p->nls++] = l;
			if (l->nudp < n) {
				changed = 1;
				rc = listener_grow(l, n, err, errlen);
				if (rc)
					goto out;
			}
			continue;
		}
		changed = 1;
		rc = listener_new(srv, &nc->dns[i], n, &l, err, errlen);
		if (rc)
			goto out;
		l->fresh = 1;
		p->ls[p->nls++] = l;
		rc = listener_serve_tcp(srv, l, err, errlen);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < srv->nls; i++)
		if (!srv->ls[i]->kept)
			changed = 1;
	if (changed || n != srv->ws->n || workers_resp_cap(edns) != srv->ws->resp_cap) {
		rc = workers_new(srv, p->ls, p->nls, n, edns, &p->ws);
		if (rc == GSLB_OK)
			rc = workers_start(p->ws);
		if (rc) {
			snprintf(err, errlen, "cannot start the workers: %s", gslb_strerror(rc));
			goto out;
		}
	}
	p->admin_changed = (nc->admin != NULL) != srv->admin_on ||
			   (nc->admin && !same_sockaddr(&nc->admin->addr, &srv->admin_addr));
	if (p->admin_changed && nc->admin) {
		/* The old listener still holds its address: a new one that
		 * overlaps it (same port, 127.0.0.1 to 0.0.0.0) cannot be
		 * bound now and needs a restart. */
		rc = admin_start(nc->admin, &srv->admin_hooks, &p->admin);
		if (rc) {
			snprintf(err, errlen,
				 "%s: listen.admin \"%s\": cannot listen (see the log)", nc->path,
				 nc->admin->text ? nc->admin->text : "?");
			goto out;
		}
	}
out:
	if (rc)
		net_rollback(srv, p);
	return rc;
}

/* Switch to the prepared set; cannot fail. The new snapshot is already
 * published. */
static void net_commit(struct server *srv, struct net_plan *p, const struct conf *nc)
{
	if (!p->active)
		return;
	if (p->ws) {
		/* The new generation serves every socket already. */
		workers_wake(srv->ws);
		workers_join(srv->ws);
		workers_free(srv->ws);
		srv->ws = p->ws;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		struct listener *l = srv->ls[i];
		if (l->kept)
			continue;
		log_info("stopped listening proto=udp address=%s port=%u", l->host, l->port);
		log_info("stopped listening proto=tcp address=%s port=%u", l->host, l->port);
		listener_retire(l);
	}
	for (size_t i = 0; i < p->nls; i++) {
		struct listener *l = p->ls[i];
		if (l->fresh) {
			log_info("listening proto=udp address=%s port=%u", l->host, l->port);
			log_info("listening proto=tcp address=%s port=%u", l->host, l->port);
		}
		l->kept = l->fresh = 0;
	}
	if (p->ws)
		log_info("workers restarted workers=%u addresses=%zu", srv->ws->n, p->nls);
	free(srv->ls);
	srv->ls = p->ls;
	srv->nls = p->nls;
	if (p->admin_changed) {
		admin_retire_later(srv, srv->admin);
		srv->admin = p->admin;
		srv->admin_on = nc->admin != NULL;
		if (nc->admin) {
			assert(nc->admin->addr_len <= sizeof(srv->admin_addr));
			memcpy(&srv->admin_addr, &nc->admin->addr, nc->admin->addr_len);
		}
	}
	memset(p, 0, sizeof(*p));
}

/* Settings a reload cannot apply: say so, each time they differ from the
 * running ones. */
static void reload_warn_restart(struct server *srv, const struct conf *nc)
{
	if (!same_str(srv->conf->state_dir, nc->state_dir))
		log_warn("state_dir changed; it takes effect at the next restart old=%s new=%s",
			 srv->conf->state_dir ? srv->conf->state_dir : "(none)",
			 nc->state_dir ? nc->state_dir : "(none)");
	if (http_listen_changed(srv->conf, nc))
		log_warn("listen.http changed; it takes effect at the next restart");
	/* The redirect listener's daemons are set up with these at start. */
	if (srv->conf->http_max_connections != nc->http_max_connections ||
	    srv->conf->http_max_per_ip != nc->http_max_per_ip ||
	    srv->conf->http_header_limit != nc->http_header_limit ||
	    srv->conf->http_request_timeout != nc->http_request_timeout)
		log_warn("http limits changed; they take effect at the next restart");
}

/* The old admin listener, replaced by a reload, is stopped on the thread
 * pool: the request that asked for the reload may still be on it, waiting
 * to send its answer. */
struct admin_retire_job {
	uv_work_t req;
	struct admin *a;
};

static void admin_retire_work(uv_work_t *req)
{
	struct admin_retire_job *r = req->data;
	admin_retire(r->a, ADMIN_RETIRE_WAIT_S);
}

static void admin_retire_done(uv_work_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void admin_retire_later(struct server *srv, struct admin *a)
{
	struct admin_retire_job *r;

	if (a == NULL)
		return;
	r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->a = a;
		r->req.data = r;
	}
	if (r == NULL ||
	    uv_queue_work(&srv->loop, &r->req, admin_retire_work, admin_retire_done) != 0) {
		/* Out of memory: stop it here; a waiting request is cut. */
		free(r);
		admin_stop(a);
		return;
	}
}

/* A reload that fails after the snapshot was built: nothing was switched. */
/* A webhook event for a reload: the generations before and after (the
 * same when it failed) and why. */
static void reload_event(struct server *srv, const char *what, uint64_t from, uint64_t to,
			 const char *why)
{
	char f[24], t[24];

	snprintf(f, sizeof(f), "%llu", (unsigned long long)from);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)to);
	prober_event(srv->prober, WH_RELOAD, what, f, t, why);
}

static void reload_failed(struct server *srv, struct reload_job *j, const char *what, int rc,
			  const char *err)
{
	log_err("reload failed, still serving the previous state what=%s error=\"%s\"", what, err);
	reload_event(srv, what, srv->snap->generation, srv->snap->generation, err);
	reload_answer(srv, j->ticket, rc, err);
	metrics_reload(srv->metrics, 0, (int64_t)time(NULL));
	if (j->kind & RELOAD_FULL) {
		notify_status("reload failed, serving the previous state: %s", err);
		notify_ready();
	}
	struct snapshot *result = j->result;
	free(j);
	reload_end(srv, result);
}

static void reload_done(uv_work_t *req, int status)
{
	struct reload_job *j = req->data;
	struct server *srv = j->srv;
	const char *what = (j->kind & RELOAD_FULL) ? "config" : "data-files";

	assert(srv->reload_running);
	if (status != 0 || j->rc != 0 || srv->stopping) {
		if (status == 0 && j->rc != 0)
			log_err("reload failed, still serving the previous state what=%s "
				"error=\"%s\"",
				what, j->err);
		if (status == 0 && j->rc != 0)
			reload_event(srv, what, srv->snap->generation, srv->snap->generation,
				     j->err);
		reload_answer(srv, j->ticket, j->rc ? j->rc : GSLB_EINVAL,
			      j->rc ? j->err : "stopping");
		if (status == 0 && j->rc != 0)
			metrics_reload(srv->metrics, 0, (int64_t)time(NULL));
		if ((j->kind & RELOAD_FULL) && !srv->stopping) {
			notify_status("reload failed, serving the previous state: %s", j->err);
			notify_ready();
		}
		struct snapshot *result = j->result;
		free(j);
		reload_end(srv, result);
		return;
	}
	struct snapshot *old = srv->snap;
	struct net_plan plan = { 0 };
	j->result->generation = old->generation + 1;
	/* Sockets first: after prober_adopt() the new snapshot must be
	 * published, so nothing that can fail may come after it. */
	if (j->kind & RELOAD_FULL) {
		int rc = net_prepare(srv, j->result->conf, &plan, j->err, sizeof(j->err));
		if (rc) {
			reload_failed(srv, j, what, rc, j->err);
			return;
		}
	}
	metrics_bind(srv->metrics, j->result);
	if (srv->prober && prober_adopt(srv->prober, j->result) != 0) {
		net_rollback(srv, &plan);
		reload_failed(srv, j, what, GSLB_ENOMEM, "cannot carry health state over");
		return;
	}
	if (!srv->prober && j->result->conf->nservices > 0)
		log_warn("the new config has services; probing and overrides start at the next "
			 "restart");
	if (j->kind & RELOAD_FULL)
		reload_warn_restart(srv, j->result->conf);
	dnstap_attach(j->result, old, plan.ws ? plan.ws->n : srv->ws->n, plan.ws != NULL);
	xfr_keeper_update(srv->xfr, j->result, 1);
	rcu_assign_pointer(srv->snap, j->result);
	net_commit(srv, &plan, j->result->conf);
	log_info("reloaded what=%s generation=%llu zones=%zu services=%zu", what,
		 (unsigned long long)j->result->generation, j->result->zones->nzones,
		 j->result->conf->nservices);
	reload_event(srv, what, old->generation, j->result->generation, "reloaded");
	reload_answer(srv, j->ticket, GSLB_OK, NULL);
	if (j->kind & RELOAD_FULL)
		admin_set_token(srv->admin, srv->snap->conf->admin_token,
				srv->snap->conf->admin_require_token);
	metrics_reload(srv->metrics, 1, (int64_t)time(NULL));
	if (j->kind & RELOAD_FULL) {
		log_configure(&j->result->conf->log);
		privs_reload_check(srv->conf, j->result->conf);
		notify_status("serving generation %llu", (unsigned long long)j->result->generation);
		notify_ready();
	}
	free(j);
	geo_watch(srv); /* the files to watch may have changed */

	struct retire_job *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		/* Cannot wait asynchronously: wait here, it is short. */
		urcu_memb_synchronize_rcu();
		snapshot_free(old);
		snapshot_memory_release();
		srv->reload_running = 0;
		return;
	}
	r->srv = srv;
	r->old = old;
	r->req.data = r;
	uv_queue_work(&srv->loop, &r->req, retire_work, retire_done);
}

static void reload_start(struct server *srv)
{
	/* One reload at a time: two would both retire the same snapshot. */
	assert(!srv->reload_running);
	struct reload_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		log_err("reload failed error=\"out of memory\"");
		return;
	}
	j->srv = srv;
	j->kind = srv->reload_pending;
	if (j->kind & RELOAD_FULL) {
		notify_reloading(); /* reload_done() says READY=1 again */
		pthread_mutex_lock(&srv->reload_mu);
		j->ticket = srv->reload_asked;
		pthread_mutex_unlock(&srv->reload_mu);
	}
	j->old = srv->snap; /* stays alive: only a finished reload retires it */
	j->req.data = j;
	srv->reload_pending = 0;
	srv->reload_running = 1;
	uv_queue_work(&srv->loop, &j->req, reload_work, reload_done);
}

void reload_request(struct server *srv, int kind)
{
	srv->reload_pending |= kind;
	if (!srv->reload_running && !srv->stopping)
		reload_start(srv);
}

static void on_reload_async(uv_async_t *h)
{
	struct server *srv = h->data;
	log_info("reloading by=admin");
	reload_request(srv, RELOAD_FULL);
}

static int same_stat(const uv_stat_t *a, const uv_stat_t *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* GEO_SETTLE_MS after the last change seen: while any waiting file has
 * changed again, wait once more; when every one is as it was, reload them
 * all at once. */
static void on_geo_settle(uv_timer_t *t)
{
	struct server *srv = t->data;
	char path[GEO_WATCHED][1024];
	int again = 0, ready = 0;
	for (int i = 0; i < GEO_WATCHED; i++) {
		size_t plen = sizeof(path[i]);
		uv_fs_t req;
		if (!srv->geo_waiting[i] || !srv->geo_poll[i] ||
		    uv_fs_poll_getpath(srv->geo_poll[i], path[i], &plen) != 0) {
			srv->geo_waiting[i] = 0;
			continue;
		}
		if (uv_fs_stat(&srv->loop, &req, path[i], NULL) != 0) {
			srv->geo_waiting[i] = 0; /* gone again: the poll says so */
		} else if (!same_stat(&req.statbuf, &srv->geo_seen[i])) {
			srv->geo_seen[i] = req.statbuf;
			again = 1;
			log_debug("data file still changing, waiting file=%s", path[i]);
		}
		uv_fs_req_cleanup(&req);
	}
	if (again) {
		uv_timer_start(&srv->geo_settle, on_geo_settle, GEO_SETTLE_MS, 0);
		return;
	}
	for (int i = 0; i < GEO_WATCHED; i++) {
		if (!srv->geo_waiting[i])
			continue;
		srv->geo_waiting[i] = 0;
		ready = 1;
		log_info("data file changed, reloading file=%s", path[i]);
	}
	if (ready)
		reload_request(srv, RELOAD_GEO);
}

static void on_geo_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
	struct server *srv = h->data;
	char path[1024];
	size_t plen = sizeof(path);
	(void)prev;
	if (uv_fs_poll_getpath(h, path, &plen) != 0)
		snprintf(path, sizeof(path), "?");
	if (status < 0) {
		log_warn("data file unreadable, keeping the loaded data file=%s error=\"%s\"", path,
			 uv_strerror(status));
		return;
	}
	int i = 0;
	while (i < GEO_WATCHED && srv->geo_poll[i] != h)
		i++;
	if (i == GEO_WATCHED)
		return; /* a watcher being replaced */
	srv->geo_seen[i] = *curr;
	srv->geo_waiting[i] = 1;
	if (!srv->geo_settle_init) {
		uv_timer_init(&srv->loop, &srv->geo_settle);
		srv->geo_settle.data = srv;
		srv->geo_settle_init = 1;
	}
	uv_timer_start(&srv->geo_settle, on_geo_settle, GEO_SETTLE_MS, 0);
}

/* Watches the data files the current configuration names. A watcher whose
 * file is unchanged is left running; one whose file changed or went away is
 * closed and, when needed, replaced by a new handle. A handle is never
 * stopped and started again: libuv 1.44's fs-poll keeps per-start state
 * whose timer callback asserts when a stopped handle is restarted before
 * that state is freed (seen on the third reload in a row). */
void geo_watch(struct server *srv)
{
	const struct geo_conf *g = &srv->snap->conf->geoip;
	const char *paths[GEO_WATCHED] = { NULL, NULL, NULL, NULL };
	if (srv->snap->conf->has_geoip) {
		paths[0] = g->database;
		paths[1] = g->overrides;
		paths[3] = g->asn_database;
	}
	paths[2] = srv->snap->conf->acl_blocklist;
	for (int i = 0; i < GEO_WATCHED; i++) {
		uv_fs_poll_t *h = srv->geo_poll[i];
		if (h) {
			char cur[PATH_MAX];
			size_t len = sizeof(cur);
			if (paths[i] && uv_fs_poll_getpath(h, cur, &len) == 0 &&
			    strcmp(cur, paths[i]) == 0)
				continue;
			uv_close((uv_handle_t *)h, free_handle);
			srv->geo_poll[i] = NULL;
		}
		if (!paths[i])
			continue;
		h = calloc(1, sizeof(*h));
		if (h == NULL) {
			log_warn("cannot watch a data file, out of memory file=%s", paths[i]);
			continue;
		}
		uv_fs_poll_init(&srv->loop, h);
		h->data = srv;
		if (uv_fs_poll_start(h, on_geo_change, paths[i], GEO_POLL_MS) != 0) {
			log_warn("cannot watch a data file file=%s", paths[i]);
			uv_close((uv_handle_t *)h, free_handle);
			continue;
		}
		srv->geo_poll[i] = h;
	}
}

/* Called on the admin thread: ask the loop for a full reload and wait for
 * the result of one that started after this request. */
int admin_reload(void *ctx, char *err, unsigned long errlen)
{
	struct server *srv = ctx;
	struct timespec until;
	int rc = GSLB_OK;

	pthread_mutex_lock(&srv->reload_mu);
	uint64_t ticket = ++srv->reload_asked;
	pthread_mutex_unlock(&srv->reload_mu);
	uv_async_send(&srv->reload_async);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 120;
	pthread_mutex_lock(&srv->reload_mu);
	while (srv->reload_answered < ticket && rc == GSLB_OK)
		if (pthread_cond_timedwait(&srv->reload_cv, &srv->reload_mu, &until) != 0)
			rc = GSLB_ERANGE;
	if (rc == GSLB_OK) {
		rc = srv->reload_rc;
		snprintf(err, errlen, "%s", srv->reload_err);
	} else {
		snprintf(err, errlen, "no reload result within 120 s");
	}
	pthread_mutex_unlock(&srv->reload_mu);
	return rc;
}

void reload_init(struct server *srv)
{
	uv_async_init(&srv->loop, &srv->reload_async, on_reload_async);
	srv->reload_async.data = srv;
	srv->reload_async_init = 1;
}

void geo_unwatch(struct server *srv)
{
	for (int i = 0; i < GEO_WATCHED; i++) {
		if (srv->geo_poll[i]) {
			uv_close((uv_handle_t *)srv->geo_poll[i], free_handle);
			srv->geo_poll[i] = NULL;
		}
	}
	if (srv->geo_settle_init) {
		uv_close((uv_handle_t *)&srv->geo_settle, NULL);
		srv->geo_settle_init = 0;
	}
}
