/* DNSSEC maintenance (issue 14): a timer on the control loop that, on
 * libuv's thread pool (signing must not stall TCP or signals), signs again
 * the static RRsets of each signed zone whose signatures are within
 * signature_refresh of expiry (dnssec_resign_zone), and sweeps the
 * signature cache (renews used entries near expiry, drops the rest and
 * those of keys no zone has any more). What both replaced is freed after
 * an RCU grace period. One pass at a time; a pass runs inside an RCU
 * read-side section, so the snapshot it works on outlives it even when a
 * reload replaces it meanwhile. */
#include <stdlib.h>
#include <time.h>

#include <urcu/urcu-memb.h>
#include <uv.h>

#include "gslb/dnssec_cache.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/server_int.h"
#include "gslb/snapshot.h"

/* How often the pass runs: a quarter of the shortest signature_refresh,
 * within these bounds (seconds). */
#define MAINT_MIN_S 1
#define MAINT_MAX_S 60

struct dnssec_maint {
	uv_timer_t timer;
	uv_work_t work;
	struct server *srv;
	int running;
	int stopping;
	void **old; /* blocks of signatures replaced, freed after the pass */
	size_t nold;
};

static uint64_t interval_ms(const struct snapshot *snap)
{
	uint32_t best = MAINT_MAX_S * 4;
	for (size_t i = 0; snap && i < snap->zones->nzones; i++) {
		const struct zone_signer *zs = snap->zones->zones[i]->signer;
		if (zs && zs->refresh < best)
			best = zs->refresh;
	}
	uint64_t ms = (uint64_t)best * 1000 / 4;
	if (ms < MAINT_MIN_S * 1000)
		ms = MAINT_MIN_S * 1000;
	return ms;
}

static void pass(uv_work_t *req)
{
	struct dnssec_maint *m = req->data;
	uint32_t now = (uint32_t)time(NULL);
	urcu_memb_register_thread();
	urcu_memb_read_lock();
	const struct snapshot *snap = rcu_dereference(m->srv->snap);
	size_t n = snap->zones->nzones;
	const struct zone_signer **signers = calloc(n ? n : 1, sizeof(*signers));
	m->old = calloc(n ? n : 1, sizeof(*m->old));
	m->nold = 0;
	for (size_t i = 0; signers && m->old && i < n; i++) {
		struct zone *z = snap->zones->zones[i];
		struct zone_signer *zs = z->signer;
		signers[i] = zs;
		if (!zs || (int32_t)(zs->expire - now) > (int32_t)zs->refresh)
			continue;
		void *old = NULL;
		int rc =
			dnssec_resign_zone(z, now - zs->inception_offset, now + zs->validity, &old);
		if (rc)
			log_err("dnssec: signing the zone again failed zone=%s error=\"%s\"",
				z->origin_str, gslb_strerror(rc));
		else
			log_info("dnssec zone signed again zone=%s signatures=%zu valid_until=%u",
				 z->origin_str, dnssec_zone_signatures(z), zs->expire);
		if (old)
			m->old[m->nold++] = old;
	}
	if (signers)
		sigcache_sweep(sigcache_global(), signers, n, now);
	free(signers);
	urcu_memb_read_unlock();
	sigcache_reclaim(sigcache_global(), m->nold > 0);
	for (size_t i = 0; i < m->nold; i++)
		free(m->old[i]);
	free(m->old);
	m->old = NULL;
	urcu_memb_unregister_thread();
}

static void on_timer(uv_timer_t *t);

static void free_maint(uv_handle_t *h) { free(h->data); }

static void pass_done(uv_work_t *req, int status)
{
	struct dnssec_maint *m = req->data;
	(void)status;
	m->running = 0;
	if (m->stopping) {
		uv_close((uv_handle_t *)&m->timer, free_maint);
		return;
	}
	uv_timer_start(&m->timer, on_timer, interval_ms(m->srv->snap), 0);
}

static void on_timer(uv_timer_t *t)
{
	struct dnssec_maint *m = t->data;
	const struct snapshot *snap = m->srv->snap; /* the loop publishes it */
	int any = 0;
	for (size_t i = 0; i < snap->zones->nzones; i++)
		any |= snap->zones->zones[i]->signer != NULL;
	struct sigcache_stats st;
	sigcache_stats(sigcache_global(), &st);
	if (!any && !st.entries) {
		uv_timer_start(&m->timer, on_timer, interval_ms(snap), 0);
		return;
	}
	m->running = 1;
	m->work.data = m;
	if (uv_queue_work(&m->srv->loop, &m->work, pass, pass_done)) {
		m->running = 0;
		uv_timer_start(&m->timer, on_timer, interval_ms(snap), 0);
	}
}

void dnssec_maint_start(struct server *srv)
{
	struct dnssec_maint *m = calloc(1, sizeof(*m));
	if (!m) {
		log_err("dnssec: out of memory starting the signature maintenance");
		return;
	}
	m->srv = srv;
	uv_timer_init(&srv->loop, &m->timer);
	m->timer.data = m;
	srv->dnssec_maint = m;
	uv_timer_start(&m->timer, on_timer, interval_ms(srv->snap), 0);
}

void dnssec_maint_stop(struct server *srv)
{
	struct dnssec_maint *m = srv->dnssec_maint;
	if (!m)
		return;
	srv->dnssec_maint = NULL;
	uv_timer_stop(&m->timer);
	m->stopping = 1;
	if (!m->running) /* else when the pass is over */
		uv_close((uv_handle_t *)&m->timer, free_maint);
}
