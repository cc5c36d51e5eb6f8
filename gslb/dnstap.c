/* dnstap logging over Frame Streams. See dnstap.h. */
#include "gslb/dnstap.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fstrm.h>
#include <protobuf-c/protobuf-c.h>

#include "dnstap.pb-c.h"
#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dns.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/service.h"
#include "gslb/snapshot.h"

/* Bytes of encoded messages a thread may have waiting for the I/O thread:
 * with the queue, what absorbs a collector's pauses before drops begin. */
#define RING_BYTES (1u << 20)
/* Messages a queue holds (a power of 2, fstrm's maximum is 16384), and
 * how many wake the I/O thread (fewer wait for its 1 s flush timer): one
 * wake-up per many messages keeps its cost per query low. */
#define QUEUE_ENTRIES 4096
#define QUEUE_NOTIFY 256
/* The I/O thread writes when this many bytes (fstrm's maximum) or
 * OUTPUT_FRAMES messages are waiting: few, large writes. */
#define OUTPUT_BYTES 65536
#define OUTPUT_FRAMES 512
/* A collector that stops reading, or never answers the handshake, blocks
 * only the I/O thread, and only this long; then it reconnects. */
#define IO_TIMEOUT_S 2
#define CONTENT_TYPE "protobuf:dnstap.Dnstap"
/* The I/O thread's staging buffer: a send per this many bytes. */
#define CONN_BUF (2 * OUTPUT_BYTES)
#define EXTRA_MAX 512
#define CACHE_LINE 64

/* One producer thread's queue and ring. The producer writes head and
 * dropped_full; the I/O thread writes tail, sent and dropped_gone (its own
 * cache line). Ring records are [8-byte end position][message], 8-aligned;
 * fstrm frees them in submission order, so tail only moves forward. */
struct slot {
	struct fstrm_iothr_queue *q;
	uint8_t *ring;
	struct dnstap *d;
	uint64_t head;                     /* bytes reserved since the start */
	uint64_t dropped_full;             /* ring or queue full */
	int claimed;                       /* a thread logs through this slot */
	alignas(CACHE_LINE) uint64_t tail; /* bytes the I/O thread gave back */
	uint64_t sent;                     /* written to the collector */
	uint64_t dropped_gone;             /* discarded: no collector */
};

/* The collector connection: fstrm's rdwr object, used by the I/O thread
 * only. */
struct conn {
	struct dnstap *d;
	int fd;
	int handshake; /* the collector's ACCEPT was read */
	int warned;    /* "unreachable" logged since the last connection */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint8_t buf[CONN_BUF]; /* conn_write's staging buffer */
};

struct dnstap {
	uint64_t serial; /* unique per object: thread-local claims name it */
	int refs;
	int open;    /* the I/O thread's writer is open (I/O thread) */
	int closing; /* gslbd is closing it (reload without it, stop) */
	struct fstrm_iothr *iothr;
	struct slot *slots;
	unsigned nslots;
	uint64_t dropped_noslot; /* more threads than slots */
	/* what it was made from (dnstap_attach compares) */
	char *where; /* the socket path or "host:port" */
	int is_tcp;
	char *identity, *version;
	size_t identity_len, version_len;
	int log_queries, log_responses;
	unsigned sample;
	unsigned workers;
	struct dnstap *next; /* the registry's list */
};

/* ---- the registry: totals for /metrics -------------------------------- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dnstap *reg_live;
static uint64_t reg_sent, reg_full, reg_gone; /* of the ones destroyed */
static int reg_ever;
static uint64_t serial_next = 1;

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void add(uint64_t *p) { __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }

/* Counts of d into sent, full and gone. */
static void totals(const struct dnstap *d, uint64_t *sent, uint64_t *full, uint64_t *gone)
{
	*full += ld(&d->dropped_noslot);
	for (unsigned i = 0; i < d->nslots; i++) {
		*sent += ld(&d->slots[i].sent);
		*full += ld(&d->slots[i].dropped_full);
		*gone += ld(&d->slots[i].dropped_gone);
	}
}

/* The totals since the start; 0 when no dnstap has existed (not shown). */
static int reg_totals(uint64_t *sent, uint64_t *full, uint64_t *gone)
{
	pthread_mutex_lock(&reg_mu);
	int ever = reg_ever;
	*sent = reg_sent;
	*full = reg_full;
	*gone = reg_gone;
	for (const struct dnstap *d = reg_live; d; d = d->next)
		totals(d, sent, full, gone);
	pthread_mutex_unlock(&reg_mu);
	return ever;
}

static int collect_sent(struct metrics_out *o, const struct snapshot *snap)
{
	uint64_t sent, full, gone;
	(void)snap;
	if (!reg_totals(&sent, &full, &gone))
		return 0;
	metrics_sample(o, NULL, (int64_t)sent);
	return 1;
}

static int collect_dropped(struct metrics_out *o, const struct snapshot *snap)
{
	uint64_t sent, full, gone;
	const char *lq[] = { "queue_full" }, *lc[] = { "no_collector" };
	(void)snap;
	if (!reg_totals(&sent, &full, &gone))
		return 0;
	metrics_sample(o, lq, (int64_t)full);
	metrics_sample(o, lc, (int64_t)gone);
	return 1;
}

static const struct metric_family dnstap_families[] = {
	{ .name = "gslb_dnstap_sent_total",
	  .help = "dnstap messages written to the collector.",
	  .type = METRIC_COUNTER,
	  .collect = collect_sent },
	{ .name = "gslb_dnstap_dropped_total",
	  .help = "dnstap messages dropped: queue_full (the collector is slow), no_collector "
		  "(not connected).",
	  .type = METRIC_COUNTER,
	  .labels = { METRIC_GIVEN("reason") },
	  .collect = collect_dropped },
};

const struct metric_set dnstap_metric_set = METRIC_SET(dnstap_families);

/* ---- the collector connection (the I/O thread) ------------------------ */

static void conn_drop(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->handshake = 0;
	/* Closed by gslbd itself (a reload without it, a stop): no warning. */
	if (__atomic_load_n(&c->d->open, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&c->d->closing, __ATOMIC_ACQUIRE))
			log_info("dnstap collector connection closed by gslbd to=%s", c->d->where);
		else
			log_warn("dnstap collector connection closed to=%s", c->d->where);
	}
	__atomic_store_n(&c->d->open, 0, __ATOMIC_RELAXED);
}

static fstrm_res conn_open(void *obj)
{
	struct conn *c = obj;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	conn_drop(c); /* a failed handshake leaves the last socket open */
	c->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(c->fd, (const struct sockaddr *)&c->addr, c->addr_len) != 0) {
		int e = errno;
		if (!c->warned) {
			char eb[128];
			log_warn(
				"dnstap collector unreachable, dropping messages to=%s error=\"%s\"",
				c->d->where, strerror_r(e, eb, sizeof(eb)));
			c->warned = 1;
		}
		conn_drop(c);
		return fstrm_res_failure;
	}
	return fstrm_res_success;
}

static fstrm_res conn_close(void *obj)
{
	conn_drop(obj);
	return fstrm_res_success;
}

static fstrm_res conn_read(void *obj, void *data, size_t count)
{
	struct conn *c = obj;
	uint8_t *p = data;

	while (count > 0) {
		ssize_t r = recv(c->fd, p, count, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fstrm_res_failure;
		p += r;
		count -= (size_t)r;
	}
	c->handshake = 1;
	return fstrm_res_success;
}

/* Send len bytes, all of them (the socket blocks, for at most
 * IO_TIMEOUT_S at a time). */
static int send_all(struct conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t r = send(c->fd, p, len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* fstrm hands two buffers per frame (its length, the message): they are
 * gathered into one staging buffer and sent with one call per CONN_BUF
 * bytes, because the kernel's cost per buffer of a vectored send is far
 * more than copying a few hundred bytes. */
static fstrm_res conn_write(void *obj, const struct iovec *iov, int iovcnt)
{
	struct conn *c = obj;
	size_t used = 0;

	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;
		if (used + n > CONN_BUF) {
			if (send_all(c, c->buf, used))
				return fstrm_res_failure;
			used = 0;
		}
		if (n > CONN_BUF) {
			if (send_all(c, p, n))
				return fstrm_res_failure;
			continue;
		}
		memcpy(c->buf + used, p, n);
		used += n;
	}
	if (used && send_all(c, c->buf, used))
		return fstrm_res_failure;
	/* The first write after the collector's ACCEPT is START: open. */
	if (c->handshake && !__atomic_load_n(&c->d->open, __ATOMIC_RELAXED)) {
		log_info("dnstap collector connected to=%s", c->d->where);
		c->warned = 0;
		__atomic_store_n(&c->d->open, 1, __ATOMIC_RELAXED);
	}
	return fstrm_res_success;
}

static fstrm_res conn_destroy(void *obj)
{
	struct conn *c = obj;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return fstrm_res_success;
}

/* fstrm is done with a message (written or discarded): give its bytes
 * back to the ring. Runs on the I/O thread. */
static void release(void *buf, void *arg)
{
	struct slot *s = arg;
	uint64_t end;

	memcpy(&end, (const uint8_t *)buf - 8, sizeof(end));
	if (__atomic_load_n(&s->d->open, __ATOMIC_RELAXED))
		add(&s->sent);
	else
		add(&s->dropped_gone);
	__atomic_store_n(&s->tail, end, __ATOMIC_RELEASE);
}

/* ---- life cycle -------------------------------------------------------- */

static void dnstap_free(struct dnstap *d)
{
	if (d == NULL)
		return;
	__atomic_store_n(&d->closing, 1, __ATOMIC_RELEASE);
	fstrm_iothr_destroy(&d->iothr); /* flushes, then stops the thread */
	for (unsigned i = 0; d->slots && i < d->nslots; i++)
		free(d->slots[i].ring);
	free(d->slots);
	free(d->where);
	free(d->identity);
	free(d->version);
	free(d);
}

static struct fstrm_writer *writer_new(struct dnstap *d, const struct dnstap_conf *c)
{
	struct conn *cn = calloc(1, sizeof(*cn));
	struct fstrm_rdwr *rdwr;
	struct fstrm_writer_options *wopt;
	struct fstrm_writer *w;

	if (cn == NULL)
		return NULL;
	cn->d = d;
	cn->fd = -1;
	if (c->socket) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&cn->addr;
		sun->sun_family = AF_UNIX;
		/* config_dnstap.c checked the length */
		assert(strlen(c->socket) < sizeof(sun->sun_path));
		memcpy(sun->sun_path, c->socket, strlen(c->socket) + 1);
		cn->addr_len = sizeof(*sun);
	} else {
		memcpy(&cn->addr, &c->tcp_addr, sizeof(cn->addr));
		cn->addr_len = c->tcp_addr_len;
	}
	rdwr = fstrm_rdwr_init(cn);
	fstrm_rdwr_set_destroy(rdwr, conn_destroy);
	fstrm_rdwr_set_open(rdwr, conn_open);
	fstrm_rdwr_set_close(rdwr, conn_close);
	fstrm_rdwr_set_read(rdwr, conn_read);
	fstrm_rdwr_set_write(rdwr, conn_write);
	wopt = fstrm_writer_options_init();
	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE, strlen(CONTENT_TYPE));
	w = fstrm_writer_init(wopt, &rdwr);
	fstrm_writer_options_destroy(&wopt);
	if (w == NULL)
		fstrm_rdwr_destroy(&rdwr);
	return w;
}

int dnstap_new(const struct dnstap_conf *c, unsigned nthreads, struct dnstap **out, char *err,
	       size_t errlen)
{
	struct dnstap *d = calloc(1, sizeof(*d));
	struct fstrm_iothr_options *opt = NULL;
	struct fstrm_writer *w = NULL;
	sigset_t all, old;
	int rc = GSLB_ENOMEM;

	*out = NULL;
	if (d == NULL)
		goto nomem;
	d->refs = 1;
	d->serial = __atomic_fetch_add(&serial_next, 1, __ATOMIC_RELAXED);
	d->nslots = nthreads ? nthreads : 1;
	d->where = strdup(c->socket ? c->socket : c->tcp);
	d->is_tcp = c->socket == NULL;
	d->identity = strdup(c->identity ? c->identity : "");
	d->version = strdup(c->version ? c->version : "");
	d->log_queries = c->log_queries;
	d->log_responses = c->log_responses;
	d->sample = c->sample ? c->sample : 1;
	d->slots = aligned_alloc(CACHE_LINE, d->nslots * sizeof(*d->slots));
	if (!d->where || !d->identity || !d->version || !d->slots)
		goto nomem;
	d->identity_len = strlen(d->identity);
	d->version_len = strlen(d->version);
	memset(d->slots, 0, d->nslots * sizeof(*d->slots));
	for (unsigned i = 0; i < d->nslots; i++) {
		d->slots[i].d = d;
		d->slots[i].ring = malloc(RING_BYTES);
		if (d->slots[i].ring == NULL)
			goto nomem;
	}
	w = writer_new(d, c);
	opt = fstrm_iothr_options_init();
	if (w == NULL || opt == NULL ||
	    fstrm_iothr_options_set_num_input_queues(opt, d->nslots) != fstrm_res_success ||
	    fstrm_iothr_options_set_input_queue_size(opt, QUEUE_ENTRIES) != fstrm_res_success ||
	    fstrm_iothr_options_set_queue_model(opt, FSTRM_IOTHR_QUEUE_MODEL_SPSC) !=
		    fstrm_res_success ||
	    fstrm_iothr_options_set_queue_notify_threshold(opt, QUEUE_NOTIFY) !=
		    fstrm_res_success ||
	    fstrm_iothr_options_set_buffer_hint(opt, OUTPUT_BYTES) != fstrm_res_success ||
	    fstrm_iothr_options_set_output_queue_size(opt, OUTPUT_FRAMES) != fstrm_res_success ||
	    fstrm_iothr_options_set_reopen_interval(opt, 1) != fstrm_res_success ||
	    fstrm_iothr_options_set_flush_timeout(opt, 1) != fstrm_res_success) {
		snprintf(err, errlen, "dnstap: cannot set up the Frame Streams writer");
		rc = GSLB_ESYS;
		goto fail;
	}
	/* Signals stay with the main thread's loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	d->iothr = fstrm_iothr_init(opt, &w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fstrm_iothr_options_destroy(&opt);
	if (d->iothr == NULL) {
		snprintf(err, errlen, "dnstap: cannot start the I/O thread");
		rc = GSLB_ESYS;
		goto fail;
	}
	for (unsigned i = 0; i < d->nslots; i++)
		d->slots[i].q = fstrm_iothr_get_input_queue_idx(d->iothr, i);
	pthread_mutex_lock(&reg_mu);
	d->next = reg_live;
	reg_live = d;
	reg_ever = 1;
	pthread_mutex_unlock(&reg_mu);
	*out = d;
	return GSLB_OK;
nomem:
	snprintf(err, errlen, "dnstap: out of memory");
fail:
	if (w)
		fstrm_writer_destroy(&w);
	fstrm_iothr_options_destroy(&opt);
	dnstap_free(d);
	return rc;
}

struct dnstap *dnstap_ref(struct dnstap *d)
{
	if (d)
		__atomic_fetch_add(&d->refs, 1, __ATOMIC_RELAXED);
	return d;
}

void dnstap_unref(struct dnstap *d)
{
	if (d == NULL || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* Flushed and stopped first, so that the totals are final. */
	__atomic_store_n(&d->closing, 1, __ATOMIC_RELEASE);
	fstrm_iothr_destroy(&d->iothr);
	pthread_mutex_lock(&reg_mu);
	for (struct dnstap **p = &reg_live; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	totals(d, &reg_sent, &reg_full, &reg_gone);
	pthread_mutex_unlock(&reg_mu);
	dnstap_free(d);
}

static int same_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static int dnstap_same(const struct dnstap *d, const struct dnstap_conf *c, unsigned workers)
{
	return d->workers == workers && d->is_tcp == (c->socket == NULL) &&
	       same_str(d->where, c->socket ? c->socket : c->tcp) &&
	       same_str(d->identity, c->identity) && same_str(d->version, c->version) &&
	       d->log_queries == c->log_queries && d->log_responses == c->log_responses &&
	       d->sample == c->sample;
}

void dnstap_attach(struct snapshot *snap, const struct snapshot *old, unsigned workers,
		   int new_workers)
{
	const struct dnstap_conf *c = &snap->conf->dnstap;
	char err[256] = "";

	assert(snap->dnstap == NULL);
	if (!c->enabled)
		return;
	if (old && old->dnstap && !new_workers && dnstap_same(old->dnstap, c, workers)) {
		snap->dnstap = dnstap_ref(old->dnstap);
		return;
	}
	/* Each worker, the TCP loop, and the workers of the generation
	 * being replaced while both run. */
	if (dnstap_new(c, 2 * workers + 2, &snap->dnstap, err, sizeof(err)) != GSLB_OK) {
		log_err("dnstap logging off error=\"%s\"", err);
		return;
	}
	snap->dnstap->workers = workers;
	log_info("dnstap logging to=%s queries=%s responses=%s sample=%u", snap->dnstap->where,
		 c->log_queries ? "yes" : "no", c->log_responses ? "yes" : "no", c->sample);
}

/* ---- the query path ---------------------------------------------------- */

/* This thread's slot in the dnstap object whose serial it names, and its
 * sampling counter. Only compared with a live object's serial, never
 * followed for an old one. */
static __thread struct {
	uint64_t serial;
	struct slot *slot;
	uint32_t tick;
} tl;

static struct slot *claim(struct dnstap *d)
{
	for (unsigned i = 0; i < d->nslots; i++)
		if (!__atomic_exchange_n(&d->slots[i].claimed, 1, __ATOMIC_ACQ_REL))
			return &d->slots[i];
	return NULL;
}

/* Bytes a packed message takes at most beyond its byte fields: tags,
 * lengths, varints and fixed fields of Dnstap and Message. */
#define PACK_OVERHEAD 160

/* Encode dt (whose byte fields add up to bytes) into the slot's ring and
 * queue it; dropped and counted when the ring or the queue is full. The
 * room is reserved from a bound, so protobuf-c walks the message once. */
static void submit(struct dnstap *d, struct slot *s, const Dnstap__Dnstap *dt, size_t bytes)
{
	size_t room = (8 + PACK_OVERHEAD + bytes + 7) & ~(size_t)7;
	uint64_t head0 = s->head, head = head0;
	size_t pos = (size_t)(head % RING_BYTES);

	if (room > RING_BYTES)
		goto drop;
	if (pos + room > RING_BYTES)
		head += RING_BYTES - pos; /* the end of the ring stays unused */
	if (head + room - __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE) > RING_BYTES)
		goto drop;
	uint8_t *p = s->ring + head % RING_BYTES;
	size_t n = dnstap__dnstap__pack(dt, p + 8);
	assert(n > 0 && 8 + n <= room);
	head += (8 + n + 7) & ~(size_t)7;
	memcpy(p, &head, sizeof(head));
	s->head = head;
	if (fstrm_iothr_submit(d->iothr, s->q, p + 8, n, release, s) == fstrm_res_success)
		return;
	s->head = head0; /* not taken: the bytes are ours again */
drop:
	add(&s->dropped_full);
}

static const char *rule_text(const struct dns_info *info)
{
	if (info->rule == RULE_ROUTE && info->route && info->route->text)
		return info->route->text;
	if (info->rule == RULE_CONFIG)
		return "config";
	return decide_rule_name((enum decide_rule)info->rule);
}

size_t dnstap_extra(const struct snapshot *snap, const struct dns_info *info, char *buf, size_t len)
{
	int n;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (info == NULL) {
		n = snprintf(buf, len, "acl=denied");
	} else if (info->service == NULL) {
		return 0;
	} else {
		const char *region = "none";
		if (info->region >= 0 && (size_t)info->region < snap->conf->nregions)
			region = snap->conf->regions[info->region].name;
		n = snprintf(buf, len, "svc=%s region=%s rule=%s scope=%u%s", info->service->name,
			     region, rule_text(info), info->scope,
			     info->all_down ? " all_down=1" : "");
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* The address and port of sa into a message's fields (pointing into sa):
 * its family, AF_INET or AF_INET6, else 0 (nothing set). */
static int sa_field(const struct sockaddr *sa, ProtobufCBinaryData *addr, uint32_t *port)
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		addr->data = (uint8_t *)&sin->sin_addr;
		addr->len = 4;
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		addr->data = (uint8_t *)&sin6->sin6_addr;
		addr->len = 16;
		*port = ntohs(sin6->sin6_port);
		return AF_INET6;
	}
	return 0;
}

void dnstap_log(struct dnstap *d, const struct snapshot *snap, const struct dns_request *req,
		size_t len, const struct dns_info *info)
{
	if (tl.serial != d->serial) {
		tl.serial = d->serial;
		tl.slot = claim(d);
		tl.tick = 0;
	}
	if (d->sample > 1 && tl.tick++ % d->sample != 0)
		return;
	struct slot *s = tl.slot;
	if (s == NULL) {
		add(&d->dropped_noslot);
		return;
	}

	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	Dnstap__Dnstap dt = DNSTAP__DNSTAP__INIT;
	char extra[EXTRA_MAX];
	size_t elen = dnstap_extra(snap, info, extra, sizeof(extra));
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	m.has_socket_protocol = 1;
	m.socket_protocol = req->transport == DNS_TCP ? DNSTAP__SOCKET_PROTOCOL__TCP :
							DNSTAP__SOCKET_PROTOCOL__UDP;
	int fam = sa_field(req->peer, &m.query_address, &m.query_port);
	if (fam) {
		m.has_socket_family = m.has_query_address = m.has_query_port = 1;
		m.socket_family =
			fam == AF_INET ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
		/* The address the query was sent to, when the transport knows
		 * it (and it is of the same family). */
		ProtobufCBinaryData ra;
		uint32_t rp;
		if (sa_field(req->local, &ra, &rp) == fam) {
			m.has_response_address = m.has_response_port = 1;
			m.response_address = ra;
			m.response_port = rp;
		}
	}
	m.has_query_time_sec = m.has_query_time_nsec = 1;
	m.query_time_sec = (uint64_t)ts.tv_sec;
	m.query_time_nsec = (uint32_t)ts.tv_nsec;
	dt.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	dt.message = &m;
	dt.has_identity = dt.has_version = 1;
	dt.identity.data = (uint8_t *)d->identity;
	dt.identity.len = d->identity_len;
	dt.version.data = (uint8_t *)d->version;
	dt.version.len = d->version_len;
	dt.extra.data = (uint8_t *)extra;
	dt.extra.len = elen;
	/* The decision goes once per query: with the response when there is
	 * one to log, else with the query. */
	int respond = d->log_responses && len > 0;
	if (d->log_queries) {
		m.type = DNSTAP__MESSAGE__TYPE__AUTH_QUERY;
		m.has_query_message = 1;
		m.query_message.data = (uint8_t *)req->query;
		m.query_message.len = req->query_len;
		dt.has_extra = !respond && elen > 0;
		submit(d, s, &dt, d->identity_len + d->version_len + elen + req->query_len);
	}
	if (respond) {
		dt.has_extra = elen > 0;
		m.type = DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE;
		m.has_query_message = 0;
		m.has_response_time_sec = m.has_response_time_nsec = 1;
		m.response_time_sec = (uint64_t)ts.tv_sec;
		m.response_time_nsec = (uint32_t)ts.tv_nsec;
		m.has_response_message = 1;
		m.response_message.data = req->resp;
		m.response_message.len = len;
		submit(d, s, &dt, d->identity_len + d->version_len + elen + len);
	}
}
