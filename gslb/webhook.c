/* Webhooks (webhook.h): per receiver a bounded FIFO of JSON events and at
 * most one POST in flight, through the prober's curl multi handle. The
 * POSTs are not counted against probe_max_inflight: there is at most one
 * per receiver, and receivers are few (at most 16). */
#include "gslb/webhook.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gslb/config.h"
#include "gslb/log.h"
#include "gslb/metrics.h"

#define RETRY_FIRST_MS 1000 /* the first retry waits this long, then doubling */
#define FAIL_LOG_MS 60000   /* a failing receiver is logged this often */
#define NODE_MAX 256

static const char *const what_names[WH_N] = { "pool",     "member", "region",
					      "override", "reload", "cluster" };

const char *webhook_what_name(enum webhook_what w)
{
	return (unsigned)w < WH_N ? what_names[w] : "?";
}

int webhook_what_parse(const char *s)
{
	for (int i = 0; i < WH_N; i++)
		if (strcmp(s, what_names[i]) == 0)
			return i;
	return -1;
}

/* ---- receivers ---------------------------------------------------------- */

struct hook {
	char *url;
	char *shown; /* the URL without user info, query or fragment: for logs */
	char name[WEBHOOK_NAME_MAX + 1]; /* its `receiver` label */
	size_t stat;                     /* its counters: struct webhooks.stats */
	unsigned events;
	struct curl_slist *headers;
	char *ca_file; /* NULL: the system's CAs */
	size_t cap;
	double timeout, retry_max;
	char **q; /* ring of cap events */
	size_t qhead, qn;
	char *sending; /* taken from the queue: in flight, or waiting to retry */
	CURL *easy;
	int64_t next_at;    /* monotonic ms: when sending may start */
	int64_t backoff_ms; /* the delay after the next failure */
	uint64_t failures;  /* in a row */
	uint64_t unlogged;  /* failures since the last log line */
	int64_t log_at;
	int dropping; /* drops logged since the last delivery */
};

/* The counters of one receiver name, kept across reloads (a receiver
 * renamed or removed keeps its series until STATS_MAX names are used). */
struct wh_stat {
	char name[WEBHOOK_NAME_MAX + 1];
	uint64_t sent, failed, dropped;
};

#define STATS_MAX 64 /* > 2 * 16 receivers: old and new during a reload */

struct webhooks {
	pthread_mutex_t mu;
	struct hook *h;
	size_t n;
	char node[NODE_MAX];
	uint64_t seq;
	size_t queued;
	struct wh_stat stats[STATS_MAX];
	size_t nstats;
	/* The latest events, receivers or not (the status page's timeline):
	 * a ring of JSON texts, oldest at rhead. */
	char *recent[WEBHOOK_RECENT];
	size_t rhead, rn;
};

/* ---- metrics ------------------------------------------------------------ */

/* The process's set of receivers, for the scrape (one prober, one set). */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct webhooks *live;

enum wh_family {
	MW_SENT,
	MW_FAILED,
	MW_DROPPED,
	MW_QUEUED
};

/* One sample per receiver name of family f; nothing while no receiver
 * was ever configured. */
static int collect(struct metrics_out *o, enum wh_family f)
{
	int shown = 0;

	pthread_mutex_lock(&live_mu);
	struct webhooks *w = live;
	if (w) {
		pthread_mutex_lock(&w->mu);
		shown = w->nstats > 0;
		for (size_t i = 0; i < w->nstats; i++) {
			const struct wh_stat *st = &w->stats[i];
			const char *lv[] = { st->name };
			uint64_t v = f == MW_SENT   ? st->sent :
				     f == MW_FAILED ? st->failed :
						      st->dropped;
			if (f == MW_QUEUED) {
				v = 0;
				for (size_t k = 0; k < w->n; k++)
					if (w->h[k].stat == i)
						v += w->h[k].qn + (w->h[k].sending != NULL);
			}
			metrics_sample(o, lv, (int64_t)v);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&live_mu);
	return shown;
}

/* The collect function of family f. */
#define WH_COLLECT(fn, f)                                                 \
	static int fn(struct metrics_out *o, const struct snapshot *snap) \
	{                                                                 \
		(void)snap;                                               \
		return collect(o, f);                                     \
	}

WH_COLLECT(collect_sent, MW_SENT)
WH_COLLECT(collect_failed, MW_FAILED)
WH_COLLECT(collect_dropped, MW_DROPPED)
WH_COLLECT(collect_queued, MW_QUEUED)

static const struct metric_family wh_families[] = {
	[MW_SENT] = { .name = "gslb_notify_sent_total",
		      .help = "Webhook events delivered (a 2xx answer), per receiver.",
		      .type = METRIC_COUNTER,
		      .labels = { METRIC_GIVEN("receiver") },
		      .collect = collect_sent },
	[MW_FAILED] = { .name = "gslb_notify_failed_total",
			.help = "Webhook POSTs that failed (each is retried), per receiver.",
			.type = METRIC_COUNTER,
			.labels = { METRIC_GIVEN("receiver") },
			.collect = collect_failed },
	[MW_DROPPED] = { .name = "gslb_notify_dropped_total",
			 .help = "Webhook events dropped: the oldest waiting, when a "
				 "receiver's queue was full, per receiver.",
			 .type = METRIC_COUNTER,
			 .labels = { METRIC_GIVEN("receiver") },
			 .collect = collect_dropped },
	[MW_QUEUED] = { .name = "gslb_notify_queued",
			.help = "Webhook events waiting, per receiver.",
			.type = METRIC_GAUGE,
			.labels = { METRIC_GIVEN("receiver") },
			.collect = collect_queued },
};

static const struct metric_set wh_metric_set = METRIC_SET(wh_families);

/* scheme://host[:port]/path of url: no user info, query or fragment, which
 * may carry secrets. */
static char *shown_url(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	size_t hl = strcspn(host, "/?#");
	const char *at = memchr(host, '@', hl);
	const char *from = at ? at + 1 : host;
	size_t rest = strcspn(from, "?#");
	size_t pre = (size_t)(host - url);
	char *s = malloc(pre + rest + 1);

	if (!s)
		return NULL;
	memcpy(s, url, pre);
	memcpy(s + pre, from, rest);
	s[pre + rest] = '\0';
	return s;
}

/* The default name of a receiver: the host[:port] of url. */
static void default_name(char *name, size_t size, const char *url)
{
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	size_t hl = strcspn(host, "/?#");
	const char *at = memchr(host, '@', hl);
	const char *from = at ? at + 1 : host;

	snprintf(name, size, "%.*s", (int)(hl - (size_t)(from - host)), from);
}

/* Under w->mu: the counters of name, found or made. A new name past
 * STATS_MAX takes the place of one no receiver (old or new) uses. */
static size_t stat_of(struct webhooks *w, const char *name, const struct hook *nv, size_t nn)
{
	size_t i;

	for (i = 0; i < w->nstats; i++)
		if (strcmp(w->stats[i].name, name) == 0)
			return i;
	if (w->nstats < STATS_MAX) {
		i = w->nstats++;
	} else {
		for (i = 0; i < STATS_MAX; i++) {
			int used = 0;
			for (size_t k = 0; k < nn && !used; k++)
				used = nv[k].stat == i;
			for (size_t k = 0; k < w->n && !used; k++)
				used = w->h[k].stat == i;
			if (!used)
				break;
		}
		/* At most 2 * 16 receivers are in use: one is free. */
	}
	memset(&w->stats[i], 0, sizeof(w->stats[i]));
	snprintf(w->stats[i].name, sizeof(w->stats[i].name), "%s", name);
	return i;
}

static void hook_release(struct hook *h, CURLM *multi)
{
	if (h->easy) {
		curl_multi_remove_handle(multi, h->easy);
		curl_easy_cleanup(h->easy);
		h->easy = NULL;
	}
	for (size_t i = 0; i < h->qn; i++)
		free(h->q[(h->qhead + i) % h->cap]);
	free(h->q);
	free(h->sending);
	curl_slist_free_all(h->headers);
	free(h->url);
	free(h->shown);
	free(h->ca_file);
	memset(h, 0, sizeof(*h));
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static int hook_init(struct hook *h, const struct notify_hook *nh)
{
	memset(h, 0, sizeof(*h));
	h->url = strdup(nh->url);
	h->shown = shown_url(nh->url);
	if (nh->name)
		snprintf(h->name, sizeof(h->name), "%s", nh->name);
	else
		default_name(h->name, sizeof(h->name), nh->url);
	h->cap = nh->queue ? nh->queue : 1;
	h->q = calloc(h->cap, sizeof(char *));
	if (!h->url || !h->shown || !h->q)
		return -1;
	if (nh->ca_file && !(h->ca_file = strdup(nh->ca_file)))
		return -1;
	h->events = nh->events;
	h->timeout = nh->timeout;
	h->retry_max = nh->retry_max;
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!h->headers)
		return -1;
	for (size_t i = 0; i < nh->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(h->headers, nh->headers[i]);
		if (!l)
			return -1;
		h->headers = l;
	}
	return 0;
}

struct webhooks *webhooks_new(struct metrics *metrics)
{
	struct webhooks *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	if (metrics)
		metrics_register(metrics, &wh_metric_set);
	pthread_mutex_lock(&live_mu);
	live = w;
	pthread_mutex_unlock(&live_mu);
	return w;
}

static void count_queued(struct webhooks *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n; i++)
		n += w->h[i].qn + (w->h[i].sending != NULL);
	w->queued = n;
}

void webhooks_configure(struct webhooks *w, const struct conf *c, CURLM *multi)
{
	struct hook *nv = c->nnotify ? calloc(c->nnotify, sizeof(*nv)) : NULL;
	size_t nn = 0;

	pthread_mutex_lock(&w->mu);
	if (c->cluster.enabled && c->cluster.node)
		snprintf(w->node, sizeof(w->node), "%s", c->cluster.node);
	else if (gethostname(w->node, sizeof(w->node) - 1) != 0)
		snprintf(w->node, sizeof(w->node), "gslbd");
	if (c->nnotify && !nv)
		log_err("webhooks: out of memory taking the receivers; none will be called");
	for (size_t i = 0; nv && i < c->nnotify; i++) {
		struct hook *h = &nv[nn];
		if (hook_init(h, &c->notify[i])) {
			log_err("webhooks: out of memory taking a receiver url=%s",
				h->shown ? h->shown : "?");
			hook_release(h, multi);
			continue;
		}
		h->stat = stat_of(w, h->name, nv, nn);
		nn++;
		/* The same URL as before keeps its events, in order. */
		for (size_t k = 0; k < w->n; k++) {
			struct hook *o = &w->h[k];
			if (!o->url || strcmp(o->url, h->url) != 0)
				continue;
			if (o->easy) {
				curl_multi_remove_handle(multi, o->easy);
				curl_easy_cleanup(o->easy);
				o->easy = NULL;
			}
			h->sending = o->sending;
			o->sending = NULL;
			h->next_at = o->next_at;
			h->backoff_ms = o->backoff_ms;
			h->failures = o->failures;
			h->unlogged = o->unlogged;
			h->log_at = o->log_at;
			h->dropping = o->dropping;
			for (size_t j = 0; j < o->qn; j++) {
				char *ev = o->q[(o->qhead + j) % o->cap];
				if (h->qn == h->cap) {
					free(h->q[h->qhead]);
					h->qhead = (h->qhead + 1) % h->cap;
					h->qn--;
					w->stats[h->stat].dropped++;
				}
				h->q[(h->qhead + h->qn++) % h->cap] = ev;
			}
			o->qn = 0;
			hook_release(o, multi);
			break;
		}
	}
	for (size_t k = 0; k < w->n; k++) {
		struct hook *o = &w->h[k];
		if (!o->url)
			continue;
		if (o->qn + (o->sending != NULL))
			log_warn("webhook receiver removed, its waiting events are dropped url=%s "
				 "events=%zu",
				 o->shown, o->qn + (o->sending != NULL));
		w->stats[o->stat].dropped += o->qn + (o->sending != NULL);
		hook_release(o, multi);
	}
	free(w->h);
	w->h = nv;
	w->n = nn;
	count_queued(w);
	pthread_mutex_unlock(&w->mu);
}

/* With counted, the next seq (an event for receivers); else seq 0 (the
 * status page's copy: receivers' seq only counts what they may get). */
static char *event_json(struct webhooks *w, enum webhook_what what, const char *name,
			const char *from, const char *to, const char *why, int counted)
{
	char when[32];
	struct tm tm;
	time_t now = time(NULL);
	json_t *j;
	char *s;

	if (!gmtime_r(&now, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)now);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "what", webhook_what_name(what),
		      "name", name, "from", from ? from : "", "to", to ? to : "", "why",
		      why ? why : "", "when", when, "node", w->node, "seq",
		      (json_int_t)(counted ? ++w->seq : 0));
	if (!j)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* Under w->mu. Takes ev (NULL: out of memory, nothing kept). */
static void recent_push(struct webhooks *w, char *copy)
{
	if (!copy)
		return;
	if (w->rn == WEBHOOK_RECENT) {
		free(w->recent[w->rhead]);
		w->rhead = (w->rhead + 1) % WEBHOOK_RECENT;
		w->rn--;
	}
	w->recent[(w->rhead + w->rn++) % WEBHOOK_RECENT] = copy;
}

char *webhooks_recent_json(struct webhooks *w)
{
	json_t *arr = json_array();
	char *s;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->rn; i++) {
		json_t *e = json_loads(w->recent[(w->rhead + i) % WEBHOOK_RECENT], 0, NULL);
		if (e)
			json_array_append_new(arr, e);
	}
	pthread_mutex_unlock(&w->mu);
	s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(arr);
	return s;
}

int webhook_emit(struct webhooks *w, enum webhook_what what, const char *name, const char *from,
		 const char *to, const char *why)
{
	int taken = 0;
	char *ev = NULL;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	recent_push(w, event_json(w, what, name, from, to, why, 0));
	for (size_t i = 0; i < w->n; i++) {
		struct hook *h = &w->h[i];
		char *copy;

		if (!(h->events & (1u << what)))
			continue;
		if (!ev) {
			ev = event_json(w, what, name, from, to, why, 1);
			if (!ev) {
				log_err("webhooks: out of memory building an event what=%s",
					webhook_what_name(what));
				break;
			}
		}
		copy = strdup(ev);
		if (!copy) {
			w->stats[h->stat].dropped++;
			continue;
		}
		if (h->qn == h->cap) {
			/* Full: the oldest waiting event goes, the newest state
			 * stays. */
			free(h->q[h->qhead]);
			h->qhead = (h->qhead + 1) % h->cap;
			h->qn--;
			w->stats[h->stat].dropped++;
			if (!h->dropping)
				log_warn("webhook queue full, dropping the oldest events url=%s "
					 "queue=%zu",
					 h->shown, h->cap);
			h->dropping = 1;
		}
		h->q[(h->qhead + h->qn++) % h->cap] = copy;
		taken = 1;
	}
	free(ev);
	count_queued(w);
	pthread_mutex_unlock(&w->mu);
	return taken;
}

int webhook_wants(struct webhooks *w, enum webhook_what what)
{
	int want = 0;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n && !want; i++)
		want = (w->h[i].events & (1u << what)) != 0;
	pthread_mutex_unlock(&w->mu);
	return want;
}

/* Under w->mu: the POST of h->sending. */
static void hook_start(struct webhooks *w, struct hook *h, CURLM *multi)
{
	CURL *e = curl_easy_init();
	CURLcode cc = CURLE_OK;

	(void)w;
	if (!e)
		return;
#define WSET(opt, val)                                      \
	do {                                                \
		if (cc == CURLE_OK)                         \
			cc = curl_easy_setopt(e, opt, val); \
	} while (0)
	WSET(CURLOPT_URL, h->url);
	WSET(CURLOPT_PROTOCOLS_STR, "http,https");
	WSET(CURLOPT_FOLLOWLOCATION, 0L);
	WSET(CURLOPT_NOSIGNAL, 1L);
	WSET(CURLOPT_HTTPHEADER, h->headers);
	WSET(CURLOPT_COPYPOSTFIELDS, h->sending);
	WSET(CURLOPT_TIMEOUT_MS, (long)(h->timeout * 1000.0));
	WSET(CURLOPT_WRITEFUNCTION, discard_cb);
	WSET(CURLOPT_USERAGENT, "gslbd-webhook");
	if (h->ca_file)
		WSET(CURLOPT_CAINFO, h->ca_file);
#undef WSET
	if (cc != CURLE_OK || curl_multi_add_handle(multi, e) != CURLM_OK) {
		log_err("webhooks: cannot start a POST url=%s error=\"%s\"", h->shown,
			curl_easy_strerror(cc));
		curl_easy_cleanup(e);
		return;
	}
	h->easy = e;
}

void webhooks_run(struct webhooks *w, CURLM *multi, int64_t now_ms)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		struct hook *h = &w->h[i];

		if (h->easy || now_ms < h->next_at)
			continue;
		if (!h->sending && h->qn) {
			h->sending = h->q[h->qhead];
			h->qhead = (h->qhead + 1) % h->cap;
			h->qn--;
		}
		if (h->sending)
			hook_start(w, h, multi);
	}
	pthread_mutex_unlock(&w->mu);
}

static void hook_failed(struct webhooks *w, struct hook *h, const char *why, int64_t now_ms)
{
	w->stats[h->stat].failed++;
	h->failures++;
	h->unlogged++;
	if (h->failures == 1 || now_ms - h->log_at >= FAIL_LOG_MS) {
		log_warn("webhook failed, will retry url=%s error=\"%s\" failures=%llu", h->shown,
			 why, (unsigned long long)h->unlogged);
		h->log_at = now_ms;
		h->unlogged = 0;
	}
	if (h->backoff_ms <= 0)
		h->backoff_ms = RETRY_FIRST_MS;
	int64_t max = (int64_t)(h->retry_max * 1000.0);
	if (h->backoff_ms > max)
		h->backoff_ms = max;
	h->next_at = now_ms + h->backoff_ms;
	h->backoff_ms *= 2;
}

int webhooks_done(struct webhooks *w, CURLM *multi, CURL *e, CURLcode rc, int64_t now_ms)
{
	struct hook *h = NULL;
	long code = 0;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n && !h; i++)
		if (w->h[i].easy == e)
			h = &w->h[i];
	if (!h) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(multi, e);
	curl_easy_cleanup(e);
	h->easy = NULL;
	if (rc == CURLE_OK && code >= 200 && code <= 299) {
		w->stats[h->stat].sent++;
		if (h->failures)
			log_info("webhook delivered again url=%s after_failures=%llu", h->shown,
				 (unsigned long long)h->failures);
		free(h->sending);
		h->sending = NULL;
		h->failures = h->unlogged = 0;
		h->backoff_ms = 0;
		h->next_at = 0;
		h->dropping = 0;
	} else {
		char why[96];
		if (rc != CURLE_OK)
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
		else
			snprintf(why, sizeof(why), "HTTP status %ld", code);
		hook_failed(w, h, why, now_ms);
	}
	count_queued(w);
	pthread_mutex_unlock(&w->mu);
	return 1;
}

int64_t webhooks_next_ms(struct webhooks *w)
{
	int64_t at = -1;

	if (!w)
		return -1;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		const struct hook *h = &w->h[i];
		if (h->easy || (!h->sending && !h->qn))
			continue;
		if (at < 0 || h->next_at < at)
			at = h->next_at;
	}
	pthread_mutex_unlock(&w->mu);
	return at;
}

void webhooks_free(struct webhooks *w, CURLM *multi)
{
	if (!w)
		return;
	pthread_mutex_lock(&live_mu);
	if (live == w)
		live = NULL;
	pthread_mutex_unlock(&live_mu);
	for (size_t i = 0; i < w->n; i++)
		hook_release(&w->h[i], multi);
	free(w->h);
	for (size_t i = 0; i < w->rn; i++)
		free(w->recent[(w->rhead + i) % WEBHOOK_RECENT]);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
