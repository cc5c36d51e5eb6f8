/* The prober's schedule: a binary min-heap of due times, the probe slots
 * (probe_max_inflight) with the FIFO of probes waiting for one, the spread
 * of probes over a check's interval, and the rise/fall state machine that
 * turns results into member states. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/cluster_node.h"
#include "gslb/probe_int.h"

/* Reasons end up inside reason="..." in logs and in health.state lines:
 * no quotes, no control characters. */
static void set_reason(char *dst, size_t len, const char *src)
{
	size_t i;
	for (i = 0; i + 1 < len && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch == '"' ? '\'' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[i] = '\0';
}

/* ---- schedule: a binary min-heap of sched nodes ------------------------- */

static void heap_swap(struct heap *h, size_t i, size_t j)
{
	struct sched *t = h->v[i];
	h->v[i] = h->v[j];
	h->v[j] = t;
	h->v[i]->idx = i;
	h->v[j]->idx = j;
}

static void heap_up(struct heap *h, size_t i)
{
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (h->v[up]->at <= h->v[i]->at)
			break;
		heap_swap(h, i, up);
		i = up;
	}
}

static void heap_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l]->at < h->v[m]->at)
			m = l;
		if (r < h->n && h->v[r]->at < h->v[m]->at)
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
}

static int heap_set(struct heap *h, struct sched *s, int64_t at)
{
	if (s->idx != NOT_QUEUED) {
		int64_t old = s->at;
		s->at = at;
		if (at < old)
			heap_up(h, s->idx);
		else
			heap_down(h, s->idx);
		return GSLB_OK;
	}
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct sched **nv = realloc(h->v, nc * sizeof(*nv));
		if (!nv)
			return GSLB_ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	s->at = at;
	s->idx = h->n;
	h->v[h->n++] = s;
	heap_up(h, s->idx);
	return GSLB_OK;
}

void probe_heap_del(struct heap *h, struct sched *s)
{
	size_t i = s->idx;
	if (i == NOT_QUEUED)
		return;
	s->idx = NOT_QUEUED;
	h->n--;
	if (i == h->n)
		return;
	h->v[i] = h->v[h->n];
	h->v[i]->idx = i;
	heap_up(h, i);
	heap_down(h, h->v[i]->idx);
}

void probe_sched_set(struct prober *p, struct sched *s, int64_t at)
{
	if (heap_set(&p->heap, s, at))
		log_err("prober: out of memory scheduling a probe");
}

/* ---- probe slots -------------------------------------------------------- */

void probe_gauges(struct prober *p)
{
	if (p->inflight > p->inflight_max)
		p->inflight_max = p->inflight;
	metrics_set(p->ms, MP_MAX_INFLIGHT, 0, p->cap);
	metrics_set(p->ms, MP_IN_FLIGHT, 0, p->inflight);
	metrics_set(p->ms, MP_IN_FLIGHT_MAX, 0, p->inflight_max);
	metrics_set(p->ms, MP_QUEUED, 0, p->nqueued);
}

void probe_slot_take(struct prober *p, struct ptarget *t)
{
	t->running = 1;
	p->inflight++;
	probe_gauges(p);
}

void probe_slot_give(struct prober *p, struct ptarget *t)
{
	if (!t->running)
		return;
	t->running = 0;
	p->inflight--;
	probe_gauges(p);
}

static void queue_push(struct prober *p, struct ptarget *t)
{
	t->queued = 1;
	t->qnext = NULL;
	t->qprev = p->qtail;
	if (p->qtail)
		p->qtail->qnext = t;
	else
		p->qhead = t;
	p->qtail = t;
	p->nqueued++;
	probe_gauges(p);
}

void probe_queue_del(struct prober *p, struct ptarget *t)
{
	if (!t->queued)
		return;
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		p->qhead = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		p->qtail = t->qprev;
	t->qnext = t->qprev = NULL;
	t->queued = 0;
	p->nqueued--;
	probe_gauges(p);
}

/* ---- state machine ------------------------------------------------------ */

/* A probe's result by its check (looked up by name at the check's first
 * result); a duration with a verdict. */
static void count_probe(struct prober *p, struct pcheck *pc, enum probe_result r, double secs)
{
	if (pc->mslot == -2)
		pc->mslot = metrics_check_slot(p->metrics, pc->c->name);
	if (pc->mslot < 0)
		return;
	metrics_inc(p->ms, MP_PROBES, (size_t)pc->mslot * 3 + r);
	if (r != PR_UNKNOWN)
		metrics_observe(p->ms, MP_DURATION, (size_t)pc->mslot, secs);
}

void probe_target_result(struct prober *p, struct ptarget *t, int ok, const char *reason)
{
	const struct check *c = target_check(t);
	int64_t now = mono_ms();
	count_probe(p, t->pp->pc, ok ? PR_SUCCESS : PR_FAILURE,
		    t->started > 0 ? (double)(now - t->started) / 1000.0 : 0);
	t->has_latency = t->started > 0;
	t->latency = t->has_latency ? (double)(now - t->started) / 1000.0 : 0;
	if (p->local_errors && now - p->local_log_at >= LOCAL_LOG_MS) {
		log_info("probes run again after local errors errors=%" PRIu64, p->local_errors);
		p->local_errors = p->local_unlogged = 0;
	}
	struct ppool *pp = t->pp;
	uint8_t old = t->state, nstate;
	int was_failing = old != HEALTH_DOWN && t->fails > 0;

	set_reason(t->reason, sizeof(t->reason), reason);
	nstate = (uint8_t)health_step((enum health_state)old, &t->oks, &t->fails, ok ? 1 : 0,
				      c->rise, c->fall);
	int failing = nstate != HEALTH_DOWN && t->fails > 0;

	if (nstate != old) {
		const struct member *mb = target_member(t);
		unsigned count = ok ? t->oks : t->fails;
		char times[16] = "";
		t->state = nstate;
		t->since = wall_s();
		if (count > 1)
			snprintf(times, sizeof(times), " x%u", count);
		log_msg(nstate == HEALTH_DOWN ? LOG_LVL_WARN : LOG_LVL_INFO,
			"member state changed service=%s region=%s member=%s%s%s check=%s old=%s "
			"new=%s reason=\"%s%s\"",
			pp->svc->name, pp->region, t->atext,
			mb->hostname && t->family ? " host=" : "",
			mb->hostname && t->family ? mb->hostname : "", c->name,
			health_state_name((enum health_state)old),
			health_state_name((enum health_state)nstate), t->reason, times);
		p->hard_dirty = 1;
		p->save_pending = 1;
	} else if (failing != was_failing) {
		p->hard_dirty = 1; /* the TTL drops while a pool fails probes */
	} else if (!p->first_done) {
		p->hard_dirty = 1; /* the first round is published before it is announced */
	} else {
		p->soft_dirty = 1;
	}
	log_debug("probe result service=%s region=%s member=%s check=%s ok=%d reason=\"%s\"",
		  pp->svc->name, pp->region, t->atext, c->name, ok, t->reason);
	pp->dirty = 1;
	if (!t->fresh) {
		t->fresh = 1;
		if (p->first_pending)
			p->first_pending--;
	}
}

/* A probe that could not run for a reason of this host (out of
 * descriptors or memory, no socket, a library failure) says nothing about
 * the member: no rise/fall step, the state stays; counted as "unknown" and
 * logged at most every LOCAL_LOG_MS. */
void probe_target_unknown(struct prober *p, struct ptarget *t, const char *why)
{
	const struct check *c = target_check(t);
	int64_t now = mono_ms();
	char r[HEALTH_REASON_MAX];

	count_probe(p, t->pp->pc, PR_UNKNOWN, 0);
	t->state = (uint8_t)health_step((enum health_state)t->state, &t->oks, &t->fails, -1,
					c->rise, c->fall);
	p->local_errors++;
	snprintf(r, sizeof(r), "not probed: %s", why);
	set_reason(t->reason, sizeof(t->reason), r);
	t->pp->dirty = 1;
	p->soft_dirty = 1;
	if (p->local_log_at && now - p->local_log_at < LOCAL_LOG_MS) {
		p->local_unlogged++;
		return;
	}
	log_warn("probe not run for a local error, member state unchanged service=%s region=%s "
		 "member=%s check=%s error=\"%s\" unlogged=%" PRIu64,
		 t->pp->svc->name, t->pp->region, t->atext, c->name, why, p->local_unlogged);
	p->local_log_at = now;
	p->local_unlogged = 0;
}

/* ---- probing and scheduling --------------------------------------------- */

static void probe_run(struct prober *p, struct ptarget *t, int64_t now)
{
	if (target_check(t)->type == CHECK_DNS)
		probe_dns_start(p, t, now);
	else
		probe_curl_start(p, t, now);
}

/* A due probe runs now when a slot is free and nobody waits, else it
 * waits its turn. */
/* probe_share: a member that other nodes probe is not probed here; its
 * state here is forgotten (no stale vote when it comes back to us). */
static int probed_elsewhere(struct prober *p, struct ptarget *t)
{
	char key[1024];

	if (!p->cn)
		return 0;
	probe_member_key(t, key, sizeof(key));
	if (cluster_node_probes(p->cn, key))
		return 0;
	if (t->state != HEALTH_UNKNOWN) {
		t->state = HEALTH_UNKNOWN;
		t->oks = t->fails = 0;
		snprintf(t->reason, sizeof(t->reason), "probed by other nodes");
		t->pp->dirty = 1;
		p->hard_dirty = 1;
	}
	if (!t->fresh) {
		t->fresh = 1;
		if (p->first_pending)
			p->first_pending--;
	}
	return 1;
}

void probe_start(struct prober *p, struct ptarget *t, int64_t now)
{
	if (t->running || t->queued)
		return; /* the timeout is shorter than the interval, or the queue is long */
	if (probed_elsewhere(p, t))
		return;
	if (t->spec_error) {
		probe_target_result(p, t, 0, t->spec_error);
		return;
	}
	if (p->qhead || p->inflight >= p->cap) {
		queue_push(p, t);
		return;
	}
	probe_run(p, t, now);
}

/* Freed slots go to the probes waiting longest. */
void probe_queue_drain(struct prober *p)
{
	int64_t now = mono_ms();

	while (p->qhead && p->inflight < p->cap) {
		struct ptarget *t = p->qhead;
		probe_queue_del(p, t);
		probe_run(p, t, now);
	}
}

/* The next probe: the first time in the target's slot sequence
 * (epoch + phase + k * interval) at least half an interval away, with a
 * little jitter; slots of one check are spread evenly over the interval. */
int64_t probe_next_at(struct prober *p, const struct ptarget *t, int64_t now)
{
	const struct pcheck *pc = t->pp->pc;
	int64_t iv = pc->interval_ms, base = p->epoch + t->phase;
	int64_t want = now + iv / 2, at = base;
	int64_t slot = iv / (int64_t)(pc->ntargets ? pc->ntargets : 1);

	if (want > base)
		at = base + (want - base + iv - 1) / iv * iv;
	return at + jitter(p, slot / 10 < iv / 20 ? slot / 10 : iv / 20);
}

/* A target seen for the first time: its first probe soon, spread over a
 * short window (at most window ms) so that a start or a reload is not a
 * burst, yet the first round ends within window + timeout; then its slot
 * in the interval. i of n among the targets of its check added together. */
void probe_schedule_new(struct prober *p, struct ptarget *t, size_t i, size_t n, int64_t window,
			int64_t now)
{
	const struct pcheck *pc = t->pp->pc;
	int64_t iv = pc->interval_ms;
	int64_t w = iv < window ? iv : window;
	int64_t slot = iv / (int64_t)(n ? n : 1);

	t->phase = n ? (int64_t)i * iv / (int64_t)n + jitter(p, slot / 10) : 0;
	t->phase = ((t->phase % iv) + iv) % iv;
	probe_sched_set(p, &t->next,
			now + (n ? (int64_t)i * w / (int64_t)n : 0) +
				jitter(p, w / (int64_t)(n ? n : 1) / 10));
}
