/* Webhooks: a JSON POST to each configured receiver (notify = ( ... )) per
 * state change, sent by the prober thread through its curl multi handle,
 * never from the query path.
 *
 * Each receiver has its own bounded FIFO of events (notify[].queue): one
 * POST in flight at a time, so that a receiver sees its events in order; a
 * failed POST (transport error or a status other than 2xx) is retried, the
 * same event first, after a delay that doubles from 1 s up to
 * notify[].retry_max. When the FIFO is full, the oldest event waiting is
 * dropped and counted. Events are built by any thread (webhook_emit takes
 * the module's own lock); only the prober thread sends. */
#ifndef GSLB_WEBHOOK_H
#define GSLB_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct conf;
struct metrics;

/* The kinds of event; a receiver's `events` is a mask of them. */
enum webhook_what {
	WH_POOL,
	WH_MEMBER,
	WH_REGION,
	WH_OVERRIDE,
	WH_RELOAD,
	WH_CLUSTER,
	WH_N,
};

#define WEBHOOK_ALL ((1u << WH_N) - 1)

/* The longest receiver name (its `receiver` label in the metrics). */
#define WEBHOOK_NAME_MAX 64

/* One receiver, as configured (config_notify.c). */
struct notify_hook {
	char *url;
	char *name;      /* NULL: the URL's host[:port] */
	unsigned events; /* mask of 1 << enum webhook_what */
	char **headers;  /* "Name: value", never logged */
	char *ca_file;   /* PEM CAs for https, NULL = the system's */
	size_t nheaders;
	unsigned queue;   /* events kept waiting at most */
	double timeout;   /* seconds for one POST */
	double retry_max; /* seconds: the backoff stops doubling here */
	int line;         /* of the entry, for messages */
};

const char *webhook_what_name(enum webhook_what w);
/* "member" -> WH_MEMBER; -1 when unknown. */
int webhook_what_parse(const char *s);

struct webhooks;

/* The set of receivers; its counters, per receiver name, are shown in
 * metrics (may be NULL). One set per process. */
struct webhooks *webhooks_new(struct metrics *metrics);

/* Take the receivers of c (at start and after each reload; prober thread).
 * A receiver whose URL was configured before keeps its waiting events; the
 * others' are dropped (and counted). node names this node in events. */
void webhooks_configure(struct webhooks *w, const struct conf *c, CURLM *multi);

/* Queue one event for every receiver that wants `what` (any thread).
 * Returns 1 when at least one receiver took it: the caller wakes the
 * prober. */
int webhook_emit(struct webhooks *w, enum webhook_what what, const char *name, const char *from,
		 const char *to, const char *why);

/* The latest events kept for the status page (/status "events"), whether
 * receivers are configured or not. */
#define WEBHOOK_RECENT 64

/* Those events, oldest first, as a JSON array text (caller frees), NULL
 * when out of memory. */
char *webhooks_recent_json(struct webhooks *w);

/* Does a receiver want events of kind what? */
int webhook_wants(struct webhooks *w, enum webhook_what what);

/* Start the POSTs that are due (prober thread). */
void webhooks_run(struct webhooks *w, CURLM *multi, int64_t now_ms);

/* A finished transfer: 1 when it was one of ours (and is now cleaned up),
 * 0 when it belongs to someone else. */
int webhooks_done(struct webhooks *w, CURLM *multi, CURL *e, CURLcode rc, int64_t now_ms);

/* Monotonic ms of the next retry, or -1 when none waits. */
int64_t webhooks_next_ms(struct webhooks *w);

void webhooks_free(struct webhooks *w, CURLM *multi);

#endif
