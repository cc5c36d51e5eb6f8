/* The network side of gslbd: its life cycle. See server_int.h for how the
 * module is split: UDP workers (udp.c), TCP on a libuv loop in the main
 * thread, which also handles signals (tcp.c), listen addresses (listen.c)
 * and reloads (reload.c), all answering through serve_query() (serve.c).
 *
 * The snapshot is published through srv->snap with RCU (liburcu, memb
 * flavour); every thread that reads it, the main thread included, is a
 * registered reader. */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>
#include <uv.h>

#include "gslb/admin.h"
#include "gslb/config.h"
#include "gslb/dnstap.h"
#include "gslb/err.h"
#include "gslb/fdlimit.h"
#include "gslb/http.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/notify.h"
#include "gslb/privs.h"
#include "gslb/probe.h"
#include "gslb/rrl.h"
#include "gslb/serve.h"
#include "gslb/server.h"
#include "gslb/server_int.h"
#include "gslb/snapshot.h"
#include "gslb/xfr.h"

/* Begin a clean stop from the loop: wake the workers, close every handle;
 * uv_run() returns once the last close callback has run. */
static void server_stop(struct server *srv)
{
	if (srv->stopping)
		return;
	notify_stopping();
	/* The admin thread may wait for a reload: answer it, then stop it. */
	reload_answer(srv, srv->reload_asked, GSLB_EINVAL, "stopping");
	admin_stop(srv->admin);
	srv->admin = NULL;
	http_stop(srv->http);
	srv->http = NULL;
	if (srv->reload_async_init) {
		uv_close((uv_handle_t *)&srv->reload_async, NULL);
		srv->reload_async_init = 0;
	}
	srv->stopping = 1;
	workers_wake(srv->ws);
	tcp_stop(srv);
	if (srv->xfr_timer_init) {
		uv_close((uv_handle_t *)&srv->xfr_timer, NULL);
		srv->xfr_timer_init = 0;
	}
	if (srv->sig_init) {
		uv_close((uv_handle_t *)&srv->sig_term, NULL);
		uv_close((uv_handle_t *)&srv->sig_int, NULL);
		uv_close((uv_handle_t *)&srv->sig_hup, NULL);
		srv->sig_init = 0;
	}
	geo_unwatch(srv);
	dnssec_maint_stop(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (signum == SIGHUP) {
		log_info("reloading signal=SIGHUP");
		reload_request(srv, RELOAD_FULL);
		return;
	}
	log_info("stopping signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(srv);
}

int server_new(struct snapshot *snap, struct server **out)
{
	struct server *srv;
	const struct conf *conf;
	unsigned nworkers;
	char err[1024];
	int rc = GSLB_OK;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return GSLB_ENOMEM;
	pthread_mutex_init(&srv->reload_mu, NULL);
	pthread_cond_init(&srv->reload_cv, NULL);
	srv->conf_path = strdup(snap->conf->path);
	if (srv->conf_path == NULL) {
		free(srv);
		return GSLB_ENOMEM;
	}
	/* Re-read, not borrowed: the snapshot's config is freed when a reload
	 * retires it, the one the server was started with must stay. */
	rc = conf_load(srv->conf_path, &srv->own_conf, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		free(srv->conf_path);
		free(srv);
		return rc;
	}
	conf = srv->own_conf;
	srv->conf = conf;
	srv->tcp.rng = serve_rng_seed(0);
	srv->metrics = metrics_new();
	srv->rrl = rrl_new();
	if (!srv->rrl) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory or no random source for the RRL key\"");
		goto out;
	}
	srv->tcp.ms = metrics_shard_new(srv->metrics, &metrics_dns_set);
	if (!srv->tcp.ms) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory\"");
		goto out;
	}
	metrics_bind(srv->metrics, snap);
	metrics_register(srv->metrics, &dnstap_metric_set);
	nworkers = conf->workers ? conf->workers : 1;
	srv->ls = calloc(conf->ndns ? conf->ndns : 1, sizeof(*srv->ls));
	if (srv->ls == NULL) {
		rc = GSLB_ENOMEM;
		log_err("cannot start error=\"out of memory\"");
		goto out;
	}
	rc = uv_loop_init(&srv->loop);
	if (rc) {
		log_err("cannot start event loop error=\"%s\"", uv_strerror(rc));
		rc = GSLB_ESYS;
		goto out;
	}
	srv->loop_init = 1;
	tcp_init(srv);
	fdlimit_reserve_open();

	/* Every address is bound before anything is logged as listening, so
	 * a failure leaves no half-started server behind. */
	for (size_t i = 0; i < conf->ndns; i++) {
		rc = listener_new(srv, &conf->dns[i], nworkers, &srv->ls[i], err, sizeof(err));
		if (rc)
			goto out;
		srv->nls++;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		rc = listener_serve_tcp(srv, srv->ls[i], err, sizeof(err));
		if (rc)
			goto out;
	}
	rc = workers_new(srv, srv->ls, srv->nls, nworkers, conf->edns_size, &srv->ws);
	if (rc) {
		log_err("cannot start error=\"%s\"", gslb_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < srv->nls; i++) {
		log_info("listening proto=udp address=%s port=%u", srv->ls[i]->host,
			 srv->ls[i]->port);
		log_info("listening proto=tcp address=%s port=%u", srv->ls[i]->host,
			 srv->ls[i]->port);
	}
	rcu_assign_pointer(srv->snap, snap);
	*out = srv;
	srv = NULL;
out:
	/* On failure the caller keeps the snapshot (srv->snap is still NULL). */
	server_free(srv);
	return rc;
}

/* Probing is needed for checked pools and for host-name members. */
static int needs_prober(const struct conf *c)
{
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t p = 0; p < svc->npools; p++) {
			if (svc->pools[p].check_idx >= 0)
				return 1;
			for (size_t m = 0; m < svc->pools[p].nmembers; m++)
				if (svc->pools[p].members[m].hostname)
					return 1;
		}
	}
	return 0;
}

/* Has the first view any state from a previous run (state_dir)? Then the
 * daemon answers from it at once; otherwise it waits for a probe round. */
static int has_last_known(const struct snapshot *snap)
{
	const struct health *h = snap->health;
	for (size_t i = 0; h && i < h->npools; i++)
		for (size_t m = 0; m < h->pools[i].nmembers; m++)
			if (h->pools[i].members[m].state != HEALTH_UNKNOWN &&
			    strncmp(h->pools[i].members[m].reason, "last known", 10) == 0)
				return 1;
	return 0;
}

/* Before the privilege drop: the prober reads the overrides in state_dir.
 * Without services there is nothing to probe or override. With them the
 * prober runs even when nothing is checked: it owns the admin overrides
 * (drain a region) and publishes their effect. */
static int prepare_prober(struct server *srv)
{
	const struct conf *c = srv->snap->conf;

	if (c->nservices == 0)
		return GSLB_OK;
	return prober_new(srv->snap, c->state_dir, srv->metrics, &srv->prober);
}

/* After the drop: probing (and saving state) begins; a cold start waits
 * for the first round. */
static int start_prober(struct server *srv)
{
	const struct conf *c = srv->snap->conf;
	if (srv->prober == NULL)
		return GSLB_OK;
	int rc = prober_run(srv->prober);
	if (rc)
		return rc;
	if (!needs_prober(c))
		return GSLB_OK;
	if (has_last_known(srv->snap)) {
		log_info("cold start from last-known health state_dir=%s", c->state_dir);
		return GSLB_OK;
	}
	/* Bounded by the slowest check: one full round, then answer. */
	double wait = 1.0;
	size_t checked = 0;
	for (size_t i = 0; i < c->nchecks; i++)
		if (c->checks[i].timeout + 1.0 > wait)
			wait = c->checks[i].timeout + 1.0;
	for (size_t i = 0; i < c->nservices; i++)
		for (size_t p = 0; p < c->services[i].npools; p++)
			if (c->services[i].pools[p].check_idx >= 0)
				checked += c->services[i].pools[p].nmembers;
	/* The prober spreads a big first round at about 4000 probes a second. */
	wait += (double)checked / 4000.0;
	log_info("cold start: waiting for the first probe round max_wait=%.1fs", wait);
	if (prober_wait_first_round(srv->prober, wait) != 0)
		log_warn("first probe round not complete, answering with what is known");
	return GSLB_OK;
}

/* Every second: a new health view may change the default answers that
 * transfers send, and so the serial of zones with transfer (xfr.h). */
#define XFR_TIMER_MS 1000

static void on_xfr_timer(uv_timer_t *t)
{
	struct server *srv = t->data;

	urcu_memb_read_lock();
	struct snapshot *snap = rcu_dereference(srv->snap);
	const struct health *h = rcu_dereference(snap->health);
	uint64_t version = h ? h->version : 0;
	urcu_memb_read_unlock();
	/* The loop thread publishes and retires snapshots: snap stays. */
	if (version != xfr_keeper_health_version(srv->xfr) && xfr_keeper_needed(snap))
		xfr_keeper_update(srv->xfr, snap, 0);
}

int server_run(struct server *srv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	int rc = GSLB_OK;

	/* A client that resets a TCP connection must not kill the daemon. */
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, NULL);
	/* The main thread reads the snapshot for TCP queries. */
	urcu_memb_register_thread();
	/* Before the first thread: no_new_privs is inherited, not shared. */
	privs_prepare(srv->conf);

	reload_init(srv);
	/* Everything that may need root, with no thread running: the
	 * overrides in state_dir (the snapshot read the health state), the
	 * admin and HTTP sockets (DNS in server_new) and TLS keys. */
	rc = prepare_prober(srv);
	/* Set even without listen.admin: a reload may add one. */
	srv->admin_hooks.snap = &srv->snap;
	srv->admin_hooks.prober = srv->prober;
	srv->admin_hooks.reload = admin_reload;
	srv->admin_hooks.ctx = srv;
	srv->admin_hooks.metrics = srv->metrics;
	srv->admin_hooks.token = srv->conf->admin_token;
	srv->admin_hooks.require_token = srv->conf->admin_require_token;
	if (rc == GSLB_OK && srv->conf->admin) {
		assert(srv->conf->admin->addr_len <= sizeof(srv->admin_addr));
		memcpy(&srv->admin_addr, &srv->conf->admin->addr, srv->conf->admin->addr_len);
		srv->admin_on = 1;
		rc = admin_bind(srv->conf->admin, &srv->admin_hooks, &srv->admin);
	}
	if (rc == GSLB_OK)
		rc = http_bind(srv->conf, &srv->snap, srv->metrics, &srv->http);
	if (rc == GSLB_OK) {
		/* zone serials from state_dir, set before the first query */
		srv->xfr = xfr_keeper_new(srv->conf->state_dir, srv->metrics);
		if (!srv->xfr)
			rc = GSLB_ENOMEM;
		else
			xfr_keeper_update(srv->xfr, srv->snap, 1);
	}
	/* Nothing needs root any more: drop it before the first thread, so
	 * that no probe, state save or request ever runs as root. */
	if (rc == GSLB_OK)
		rc = privs_drop(srv->conf);
	/* A thread of its own: after the drop too. No reader yet. */
	if (rc == GSLB_OK)
		dnstap_attach(srv->snap, NULL, srv->ws->n, 1);
	if (rc == GSLB_OK)
		rc = start_prober(srv);
	if (rc == GSLB_OK && xfr_keeper_start(srv->xfr))
		rc = GSLB_ESYS;
	if (rc == GSLB_OK && srv->admin)
		rc = admin_serve(srv->admin);
	if (rc == GSLB_OK)
		rc = http_serve(srv->http);
	if (rc) {
		http_stop(srv->http);
		srv->http = NULL;
		admin_stop(srv->admin);
		srv->admin = NULL;
		prober_stop(srv->prober);
		srv->prober = NULL;
		xfr_keeper_free(srv->xfr);
		srv->xfr = NULL;
		urcu_memb_unregister_thread();
		return rc;
	}

	uv_signal_init(&srv->loop, &srv->sig_term);
	uv_signal_init(&srv->loop, &srv->sig_int);
	uv_signal_init(&srv->loop, &srv->sig_hup);
	srv->sig_init = 1;
	srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
	uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);

	uv_timer_init(&srv->loop, &srv->xfr_timer);
	srv->xfr_timer.data = srv;
	srv->xfr_timer_init = 1;
	uv_timer_start(&srv->xfr_timer, on_xfr_timer, XFR_TIMER_MS, XFR_TIMER_MS);

	rc = workers_start(srv->ws);
	if (rc == GSLB_OK) {
		geo_watch(srv);
		dnssec_maint_start(srv);
		log_info("ready workers=%u zones=%zu", srv->ws->n, srv->snap->conf->nzones);
		notify_ready();
	} else
		server_stop(srv);
	uv_run(&srv->loop, UV_RUN_DEFAULT);

	workers_join(srv->ws);
	admin_stop(srv->admin);
	srv->admin = NULL;
	http_stop(srv->http);
	srv->http = NULL;
	prober_stop(srv->prober);
	srv->prober = NULL;
	xfr_keeper_free(srv->xfr);
	srv->xfr = NULL;
	urcu_memb_unregister_thread();
	if (rc == GSLB_OK)
		log_info("stopped");
	return rc;
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->loop_init) {
		/* Handles still open (a failed start, or a server never run)
		 * are closed and their callbacks run before the loop goes. */
		srv->stopping = 0;
		server_stop(srv);
		uv_run(&srv->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&srv->loop))
			log_warn("event loop closed with handles still open");
	}
	workers_free(srv->ws);
	/* The loop has run every close callback: free what is left. */
	for (size_t i = 0; srv->ls && i < srv->nls; i++) {
		listener_free(srv->ls[i]);
	}
	/* Every reader has stopped: no grace period to wait for. */
	snapshot_free(srv->snap);
	conf_free(srv->own_conf);
	free(srv->conf_path);
	pthread_mutex_destroy(&srv->reload_mu);
	pthread_cond_destroy(&srv->reload_cv);
	metrics_free(srv->metrics);
	rrl_free(srv->rrl);
	fdlimit_reserve_close();
	free(srv->udp_ms);
	free(srv->ls);
	free(srv);
}
