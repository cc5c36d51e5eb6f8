/* The serials gslbd gives the zones it transfers, and the NOTIFYs that
 * announce them (issue 16.4). The main thread (reloads, and a one-second
 * timer that watches the health view) calls xfr_keeper_update: it hashes
 * what a transfer would send (the zone file's records, each service's
 * default answer) and, when that changed, moves the serial on by the
 * zone's serial_policy, never backwards (the last one is kept in
 * state_dir/xfr.state), sets it on the zone (xfr_zone_serial) and queues a
 * NOTIFY to each address of transfer.notify. The NOTIFYs go out from a
 * thread of their own, with blocking sockets and retries, never from a
 * DNS worker or the main loop. See xfr.h. */
#include "gslb/xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <urcu/urcu-memb.h>

#include "gslb/config.h"
#include "gslb/dnsdefs.h"
#include "gslb/log.h"
#include "gslb/metrics.h"
#include "gslb/snapshot.h"
#include "gslb/statefile.h"
#include "gslb/zone.h"

#define STATE_FILE "xfr.state"
#define MAX_ZONES 4096
/* A NOTIFY is sent this many times, a second apart, until answered. */
#define NOTIFY_TRIES 5
#define NOTIFY_WAIT_MS 1000

/* IXFR history: the changes of the last XFR_HISTORY versions, for zones
 * of at most XFR_HISTORY_MAX_RECORDS records (a copy of the records is
 * kept to compute the next change). */
#define XFR_HISTORY 8
#define XFR_HISTORY_MAX_RECORDS 200000

struct xfr_entry {
	char origin[DNAME_MAXLEN * 4 + 1];
	uint32_t serial; /* 0 = none yet */
	uint64_t hash;   /* of what the transfer sends, but the SOA serial */
	uint64_t static_hash;
	const struct zone *zone; /* whose records static_hash covers */
	struct xfr_rrs cur;      /* what a transfer of cur_serial sends */
	uint32_t cur_serial;
	int have_cur;
	struct xfr_diff hist[XFR_HISTORY]; /* oldest first, each from the one before */
	size_t nhist;
};

struct notify_job {
	struct notify_job *next;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint16_t id;
	char origin[256];
	uint32_t serial;
	size_t len;
	uint8_t wire[];
};

enum xfr_family {
	MX_TRANSFERS,
	MX_NOTIFY,
};

static const char *const transfer_results[] = { "axfr", "ixfr", "current", "refused" };
static const char *const notify_results[] = { "answered", "unanswered" };

static const struct metric_family xfr_families[] = {
	[MX_TRANSFERS] = { .name = "gslb_zone_transfers_total",
			   .help = "Zone transfers answered, by what was sent: the whole "
				   "zone, changes (IXFR), the SOA alone (current), or a refusal.",
			   .type = METRIC_COUNTER,
			   .labels = { METRIC_ENUM("result", transfer_results) } },
	[MX_NOTIFY] = { .name = "gslb_zone_notify_total",
			.help = "NOTIFYs sent to secondaries, by whether they answered.",
			.type = METRIC_COUNTER,
			.labels = { METRIC_ENUM("result", notify_results) } },
};

static const struct metric_set xfr_metric_set = METRIC_SET(xfr_families);

struct xfr_keeper {
	struct metrics_shard *ms_main;   /* transfers, on the main thread */
	struct metrics_shard *ms_notify; /* the NOTIFY thread's */
	char *state_dir;
	struct xfr_entry *e;
	size_t n;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct notify_job *head, *tail;
	int stop;
	uint64_t health_version;
};

/* ---- hashing what a transfer sends -------------------------------------- */

/* Every record of the zone file; of the SOA, all but the serial. */
static uint64_t static_hash(const struct zone *z)
{
	uint64_t h = XFR_HASH_START;
	for (size_t i = 0; i < z->nnodes; i++) {
		const struct zone_node *n = &z->nodes[i];
		h = xfr_hash(h, n->name, n->name_len);
		for (uint16_t k = 0; k < n->nrrsets; k++) {
			const struct zone_rrset *rs = &n->rrsets[k];
			h = xfr_hash(h, &rs->type, sizeof(rs->type));
			h = xfr_hash(h, &rs->ttl, sizeof(rs->ttl));
			if (rs->type == DNS_T_SOA && rs->rdata_size > 20) {
				h = xfr_hash(h, rs->rdata, rs->rdata_size - 20);
				h = xfr_hash(h, rs->rdata + rs->rdata_size - 16, 16);
			} else {
				h = xfr_hash(h, rs->rdata, rs->rdata_size);
			}
		}
	}
	return h;
}

/* ---- IXFR history ------------------------------------------------------ */

static void rrs_free(struct xfr_rrs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rr[i]);
	free(r->rr);
	memset(r, 0, sizeof(*r));
}

static int rrs_push(struct xfr_rrs *r, uint8_t *b)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		uint8_t **p = realloc(r->rr, cap * sizeof(*p));
		if (!p)
			return -1;
		r->rr = p;
		r->cap = cap;
	}
	r->rr[r->n++] = b;
	r->bytes += 2u + (size_t)(b[0] << 8 | b[1]);
	return 0;
}

static int blob_cmp(const uint8_t *a, const uint8_t *b)
{
	size_t la = (size_t)(a[0] << 8 | a[1]), lb = (size_t)(b[0] << 8 | b[1]);
	int c = memcmp(a + 2, b + 2, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static int blob_qsort_cmp(const void *a, const void *b)
{
	return blob_cmp(*(uint8_t *const *)a, *(uint8_t *const *)b);
}

struct collect {
	struct xfr_rrs *r;
	int failed;
};

static void collect_rr(void *arg, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		       const uint8_t *rd, uint16_t rdlen)
{
	struct collect *c = arg;
	size_t len = olen + 10 + rdlen;
	uint8_t *b = c->failed || len > 0xFFFF ? NULL : malloc(2 + len);
	if (!b) {
		c->failed = 1;
		return;
	}
	uint8_t *p = b + 2;
	b[0] = (uint8_t)(len >> 8);
	b[1] = (uint8_t)len;
	memcpy(p, owner, olen);
	p += olen;
	*p++ = (uint8_t)(type >> 8);
	*p++ = (uint8_t)type;
	*p++ = 0;
	*p++ = DNS_C_IN;
	*p++ = (uint8_t)(ttl >> 24);
	*p++ = (uint8_t)(ttl >> 16);
	*p++ = (uint8_t)(ttl >> 8);
	*p++ = (uint8_t)ttl;
	*p++ = (uint8_t)(rdlen >> 8);
	*p++ = (uint8_t)rdlen;
	memcpy(p, rd, rdlen);
	if (rrs_push(c->r, b)) {
		free(b);
		c->failed = 1;
	}
}

/* What a transfer of z sends, sorted, into out (empty); -1 when out of
 * memory. */
static int collect(const struct snapshot *snap, const struct zone *z, struct xfr_rrs *out)
{
	struct collect c = { out, 0 };
	xfr_walk(snap, z, collect_rr, &c);
	if (c.failed) {
		rrs_free(out);
		return -1;
	}
	qsort(out->rr, out->n, sizeof(*out->rr), blob_qsort_cmp);
	return 0;
}

/* old -> new: the records only in old (deleted) and only in new (added),
 * copied. */
static int diff(const struct xfr_rrs *old, const struct xfr_rrs *new, struct xfr_diff *d)
{
	size_t i = 0, j = 0;
	while (i < old->n || j < new->n) {
		int c = i == old->n ? 1 : j == new->n ? -1 : blob_cmp(old->rr[i], new->rr[j]);
		const uint8_t *b = c < 0 ? old->rr[i] : new->rr[j];
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		size_t len = 2u + (size_t)(b[0] << 8 | b[1]);
		uint8_t *copy = malloc(len);
		if (!copy || rrs_push(c < 0 ? &d->del : &d->add, copy)) {
			free(copy);
			return -1;
		}
		memcpy(copy, b, len);
		if (c < 0)
			i++;
		else
			j++;
	}
	return 0;
}

static void history_clear(struct xfr_entry *e)
{
	for (size_t i = 0; i < e->nhist; i++) {
		rrs_free(&e->hist[i].del);
		rrs_free(&e->hist[i].add);
	}
	e->nhist = 0;
}

/* The zone's content is now that of serial; from old_serial (what cur
 * holds) the change goes into the history. */
static void history_step(struct xfr_entry *e, const struct snapshot *snap, const struct zone *z,
			 uint32_t serial)
{
	struct xfr_rrs now = { 0 };

	if (z->nrecords > XFR_HISTORY_MAX_RECORDS || collect(snap, z, &now)) {
		history_clear(e);
		rrs_free(&e->cur);
		e->have_cur = 0;
		return;
	}
	if (e->have_cur && e->cur_serial != serial) {
		struct xfr_diff d = { .from = e->cur_serial, .to = serial };
		if (diff(&e->cur, &now, &d) == 0 && d.del.n + d.add.n <= now.n) {
			if (e->nhist == XFR_HISTORY) {
				rrs_free(&e->hist[0].del);
				rrs_free(&e->hist[0].add);
				memmove(&e->hist[0], &e->hist[1],
					(XFR_HISTORY - 1) * sizeof(e->hist[0]));
				e->nhist--;
			}
			e->hist[e->nhist++] = d;
		} else {
			rrs_free(&d.del);
			rrs_free(&d.add);
			history_clear(e); /* as big as the zone: AXFR */
		}
	}
	rrs_free(&e->cur);
	e->cur = now;
	e->cur_serial = serial;
	e->have_cur = 1;
}

const struct xfr_diff *xfr_keeper_diffs(const struct xfr_keeper *k, const struct zone *z,
					uint32_t from, size_t *n)
{
	for (size_t i = 0; k && i < k->n; i++) {
		const struct xfr_entry *e = &k->e[i];
		if (strcasecmp(e->origin, z->origin_str) != 0)
			continue;
		if (!e->have_cur || e->cur_serial != xfr_zone_serial(z))
			return NULL;
		for (size_t h = 0; h < e->nhist; h++) {
			if (e->hist[h].from == from) {
				*n = e->nhist - h;
				return &e->hist[h];
			}
		}
		return NULL;
	}
	return NULL;
}

/* ---- the state file ---------------------------------------------------- */

static int state_fill(FILE *fp, const void *arg)
{
	const struct xfr_keeper *k = arg;
	fprintf(fp, "# gslbd zone transfer serials: origin serial hash\n");
	for (size_t i = 0; i < k->n; i++)
		if (k->e[i].serial)
			fprintf(fp, "%s %u %016llx\n", k->e[i].origin, k->e[i].serial,
				(unsigned long long)k->e[i].hash);
	return ferror(fp) ? -1 : 0;
}

static struct xfr_entry *entry(struct xfr_keeper *k, const char *origin)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcasecmp(k->e[i].origin, origin) == 0)
			return &k->e[i];
	if (k->n >= MAX_ZONES || strlen(origin) >= sizeof(k->e[0].origin))
		return NULL;
	struct xfr_entry *e = realloc(k->e, (k->n + 1) * sizeof(*e));
	if (!e)
		return NULL;
	k->e = e;
	e = &k->e[k->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->origin, sizeof(e->origin), "%s", origin);
	return e;
}

static void state_load(struct xfr_keeper *k)
{
	FILE *fp = statefile_open(k->state_dir, STATE_FILE);
	char line[1200];
	int lineno = 0;

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		char origin[1100];
		unsigned serial;
		unsigned long long hash;
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%1099s %u %llx", origin, &serial, &hash) != 3) {
			log_warn("state file line ignored file=%s/%s line=%d", k->state_dir,
				 STATE_FILE, lineno);
			continue;
		}
		struct xfr_entry *e = entry(k, origin);
		if (e) {
			e->serial = serial;
			e->hash = hash;
		}
	}
	fclose(fp);
}

/* ---- NOTIFY -------------------------------------------------------------- */

/* A NOTIFY for the zone (RFC 1996): its SOA question, the new SOA in the
 * answer section, signed with the transfer's key when it has one. */
static struct notify_job *notify_job_new(const struct snapshot *snap, const struct zone *z,
					 const struct conf_transfer *t, size_t i, uint32_t serial)
{
	ldns_pkt *p = ldns_pkt_new();
	uint8_t *wire = NULL;
	size_t wlen = 0;
	struct notify_job *j = NULL;
	uint16_t id = (uint16_t)(ldns_get_random() & 0xFFFF);

	if (!p)
		return NULL;
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_aa(p, true);
	ldns_rr *q = ldns_rr_new_frm_type(LDNS_RR_TYPE_SOA);
	ldns_rdf *owner = ldns_dname_new_frm_str(z->origin_str);
	if (q && owner) {
		ldns_rr_set_owner(q, owner);
		ldns_rr_set_question(q, true);
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	} else {
		ldns_rr_free(q);
		ldns_rdf_deep_free(owner);
		goto out;
	}
	const struct conf_tsig *key = t->key >= 0 ? &snap->conf->tsig[t->key] : NULL;
	if (key) {
		static const char *const algs[] = { "hmac-sha256.", "hmac-sha512." };
		if (ldns_pkt_tsig_sign(p, key->name, key->secret, 300, algs[key->algorithm],
				       NULL) != LDNS_STATUS_OK)
			goto out;
	}
	if (ldns_pkt2wire(&wire, p, &wlen) != LDNS_STATUS_OK)
		goto out;
	j = calloc(1, sizeof(*j) + wlen);
	if (!j)
		goto out;
	memcpy(j->wire, wire, wlen);
	j->len = wlen;
	j->id = id;
	j->serial = serial;
	memcpy(&j->to, &t->notify[i], t->notify_len[i]);
	j->tolen = t->notify_len[i];
	snprintf(j->origin, sizeof(j->origin), "%s", z->origin_str);
out:
	free(wire);
	ldns_pkt_free(p);
	return j;
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	return buf;
}

/* Send j until a reply with its id comes back, NOTIFY_TRIES times at most,
 * or until the keeper stops. */
static void notify_send(struct xfr_keeper *k, const struct notify_job *j)
{
	char to[80];
	int fd = socket(j->to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	addr_text(&j->to, to, sizeof(to));
	if (fd < 0) {
		log_warn("notify failed zone=%s to=%s error=\"%s\"", j->origin, to,
			 strerror(errno));
		return;
	}
	/* Connected: only the secondary's datagrams come back. */
	if (connect(fd, (const struct sockaddr *)&j->to, j->tolen) < 0) {
		log_warn("notify failed zone=%s to=%s error=\"%s\"", j->origin, to,
			 strerror(errno));
		close(fd);
		return;
	}
	int tries = 0;
	while (tries < NOTIFY_TRIES && !__atomic_load_n(&k->stop, __ATOMIC_RELAXED)) {
		tries++;
		if (send(fd, j->wire, j->len, 0) < 0)
			log_debug("notify send failed zone=%s to=%s error=\"%s\"", j->origin, to,
				  strerror(errno));
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			long waited = (t1.tv_sec - t0.tv_sec) * 1000 +
				      (t1.tv_nsec - t0.tv_nsec) / 1000000;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (waited >= NOTIFY_WAIT_MS ||
			    poll(&pfd, 1, (int)(NOTIFY_WAIT_MS - waited)) <= 0)
				break;
			uint8_t buf[512];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n >= 12 && ((buf[0] << 8) | buf[1]) == j->id && (buf[2] & 0x80) &&
			    ((buf[2] >> 3) & 0xF) == LDNS_PACKET_NOTIFY) {
				log_info("notify answered zone=%s serial=%u to=%s rcode=%u",
					 j->origin, j->serial, to, buf[3] & 0xF);
				metrics_inc(k->ms_notify, MX_NOTIFY, 0);
				close(fd);
				return;
			}
		}
	}
	log_warn("notify not answered zone=%s serial=%u to=%s tries=%d", j->origin, j->serial, to,
		 tries);
	metrics_inc(k->ms_notify, MX_NOTIFY, 1);
	close(fd);
}

static void *notify_main(void *arg)
{
	struct xfr_keeper *k = arg;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->head && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		struct notify_job *j = k->head;
		k->head = j->next;
		if (!k->head)
			k->tail = NULL;
		pthread_mutex_unlock(&k->mu);
		notify_send(k, j);
		free(j);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void notify_queue(struct xfr_keeper *k, struct notify_job *j)
{
	pthread_mutex_lock(&k->mu);
	if (k->tail)
		k->tail->next = j;
	else
		k->head = j;
	k->tail = j;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

/* ---- the keeper ---------------------------------------------------------- */

struct xfr_keeper *xfr_keeper_new(const char *state_dir, struct metrics *metrics)
{
	struct xfr_keeper *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->ms_main = metrics_shard_new(metrics, &xfr_metric_set);
	k->ms_notify = metrics_shard_new(metrics, &xfr_metric_set);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (state_dir) {
		k->state_dir = strdup(state_dir);
		if (k->state_dir)
			state_load(k);
	}
	return k;
}

int xfr_keeper_start(struct xfr_keeper *k)
{
	if (!k || k->started)
		return 0;
	if (pthread_create(&k->thread, NULL, notify_main, k) != 0)
		return -1;
	k->started = 1;
	return 0;
}

void xfr_keeper_free(struct xfr_keeper *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	__atomic_store_n(&k->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	if (k->started)
		pthread_join(k->thread, NULL);
	while (k->head) {
		struct notify_job *j = k->head;
		k->head = j->next;
		free(j);
	}
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	for (size_t i = 0; i < k->n; i++) {
		history_clear(&k->e[i]);
		rrs_free(&k->e[i].cur);
	}
	free(k->e);
	free(k->state_dir);
	free(k);
}

static uint32_t serial_next(uint32_t s, int policy)
{
	uint32_t next = s + 1;
	if (policy == CONF_SERIAL_UNIXTIME) {
		uint32_t now = (uint32_t)time(NULL);
		if (xfr_serial_gt(now, s))
			next = now;
	}
	return next ? next : 1;
}

int xfr_keeper_needed(const struct snapshot *snap)
{
	for (size_t i = 0; i < snap->conf->nzones; i++)
		if (snap->conf->zones[i].transfer.enabled)
			return 1;
	return 0;
}

void xfr_keeper_update(struct xfr_keeper *k, const struct snapshot *snap, int zones_changed)
{
	int save = 0;

	if (!k)
		return;
	urcu_memb_read_lock();
	const struct health *h = rcu_dereference(((struct snapshot *)snap)->health);
	k->health_version = h ? h->version : 0;
	for (size_t i = 0; i < snap->zones->nzones && i < snap->conf->nzones; i++) {
		struct zone *z = snap->zones->zones[i];
		const struct conf_transfer *t = &snap->conf->zones[i].transfer;
		if (!t->enabled)
			continue;
		struct xfr_entry *e = entry(k, z->origin_str);
		if (!e)
			continue;
		if (zones_changed || e->zone != z) {
			e->static_hash = static_hash(z);
			e->zone = z;
		}
		uint64_t hash =
			e->static_hash ^ (xfr_default_hash(snap, z) * 0x9E3779B97F4A7C15ull);
		uint32_t serial = e->serial;
		const char *why = NULL;
		if (serial == 0 || xfr_serial_gt(z->serial, serial)) {
			serial = z->serial; /* the first, or the file's is ahead */
			why = e->serial ? "zone file serial" : NULL;
		} else if (hash != e->hash) {
			serial = serial_next(serial, t->serial_policy);
			why = "data changed";
		}
		if (serial != e->serial || hash != e->hash)
			save = 1;
		e->serial = serial;
		e->hash = hash;
		__atomic_store_n(&z->live_serial, serial, __ATOMIC_RELAXED);
		if (why || !e->have_cur)
			history_step(e, snap, z, serial);
		if (!why)
			continue;
		log_info("zone serial changed zone=%s serial=%u reason=\"%s\" notify=%zu",
			 z->origin_str, serial, why, t->nnotify);
		for (size_t n = 0; n < t->nnotify; n++) {
			struct notify_job *j = notify_job_new(snap, z, t, n, serial);
			if (j)
				notify_queue(k, j);
		}
	}
	urcu_memb_read_unlock();
	if (save && k->state_dir && statefile_write(k->state_dir, STATE_FILE, state_fill, k))
		log_warn("cannot save zone serials file=%s/%s error=\"%s\"", k->state_dir,
			 STATE_FILE, strerror(errno));
}

uint64_t xfr_keeper_health_version(const struct xfr_keeper *k) { return k->health_version; }

void xfr_keeper_count(const struct xfr_keeper *k, enum xfr_result r)
{
	if (k)
		metrics_inc(k->ms_main, MX_TRANSFERS, (size_t)r);
}
