/* Prometheus metrics: shards summed at scrape time, slots by name, and the
 * text exposition format (names with the gslb_ prefix, _total counters,
 * seconds as the unit of time). */
#include "gslb/metrics.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "gslb/dns.h"
#include "gslb/geo.h"
#include "gslb/health.h"
#include "gslb/snapshot.h"

#define SLOT_INDEX (2 * METRICS_SLOTS) /* a power of two, at most half full */

struct slot_name {
	char service[256];
	char region[64]; /* "" for the service's own slot */
};

struct metrics {
	pthread_mutex_t mu; /* shards list and slot names; never taken by queries */
	struct metrics_shard *shards;
	struct slot_name *slots;
	size_t nslots;
	uint16_t *slot_index; /* slot + 1 by hash of its names, 0 = empty */
	uint64_t reloads_ok, reloads_failed;
	int64_t last_reload_ok; /* unix time */
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->slots = calloc(METRICS_SLOTS, sizeof(*m->slots));
	m->slot_index = calloc(SLOT_INDEX, sizeof(*m->slot_index));
	if (!m->slots || !m->slot_index) {
		free(m->slots);
		free(m->slot_index);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	struct metrics_shard *s = m->shards;
	while (s) {
		struct metrics_shard *n = s->next;
		free(s);
		s = n;
	}
	free(m->slots);
	free(m->slot_index);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

struct metrics_shard *metrics_shard_new(struct metrics *m)
{
	struct metrics_shard *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_lock(&m->mu);
	s->next = m->shards;
	m->shards = s;
	pthread_mutex_unlock(&m->mu);
	return s;
}

static uint32_t slot_hash(const char *service, const char *region)
{
	uint32_t h = 2166136261u;
	for (const char *p = service; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = region; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h ^ (h >> 15);
}

/* The slot of (service, region), made on first use; a hash index finds it
 * (a scan of every slot made metrics_bind quadratic in the services). */
static int slot_for(struct metrics *m, const char *service, const char *region)
{
	size_t i = slot_hash(service, region) & (SLOT_INDEX - 1);
	for (; m->slot_index[i]; i = (i + 1) & (SLOT_INDEX - 1)) {
		const struct slot_name *sn = &m->slots[m->slot_index[i] - 1];
		if (strcmp(sn->service, service) == 0 && strcmp(sn->region, region) == 0)
			return m->slot_index[i] - 1;
	}
	if (m->nslots == METRICS_SLOTS)
		return -1; /* beyond the cap: not counted per service */
	snprintf(m->slots[m->nslots].service, sizeof(m->slots[0].service), "%s", service);
	snprintf(m->slots[m->nslots].region, sizeof(m->slots[0].region), "%s", region);
	m->slot_index[i] = (uint16_t)(m->nslots + 1);
	return (int)m->nslots++;
}

void metrics_bind(struct metrics *m, struct snapshot *snap)
{
	struct conf *c = snap->conf;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < c->nservices; i++) {
		struct service *svc = &c->services[i];
		svc->metric_slot = slot_for(m, svc->name, "");
		for (size_t p = 0; p < svc->npools; p++)
			svc->pools[p].metric_slot =
				slot_for(m, svc->name, c->regions[svc->pools[p].region].name);
	}
	pthread_mutex_unlock(&m->mu);
}

static unsigned qtype_bucket(uint16_t t)
{
	static const uint16_t known[METRICS_QTYPES - 1] = { 1,  2,  5,  6,  12, 15,  16, 28,
							    33, 35, 43, 64, 65, 257, 255 };
	for (unsigned i = 0; i < METRICS_QTYPES - 1; i++)
		if (known[i] == t)
			return i;
	return METRICS_QTYPES - 1;
}

static const char *const qtype_names[METRICS_QTYPES] = {
	"A",   "NS",    "CNAME", "SOA",  "PTR",   "MX",  "TXT", "AAAA",
	"SRV", "NAPTR", "DS",    "SVCB", "HTTPS", "CAA", "ANY", "other",
};

static const char *const rcode_names[METRICS_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	"REFUSED", "NOTAUTH", "BADVERS",  "other",
};

static unsigned rcode_bucket(uint16_t r)
{
	if (r <= 5)
		return r;
	return r == 9 ? 6 : r == 16 ? 7 : 8;
}

void metrics_dns(struct metrics_shard *s, enum metrics_transport t, size_t reply_len,
		 const struct dns_info *info)
{
	if (reply_len == 0) {
		metrics_add(&s->dropped[t], 1);
		return;
	}
	metrics_add(&s->queries[t][qtype_bucket(info->qtype)][rcode_bucket(info->rcode)], 1);
	if (info->ecs)
		metrics_add(&s->ecs, 1);
	if (info->truncated)
		metrics_add(&s->truncated, 1);
	if (info->slot >= 0 && info->slot < METRICS_SLOTS)
		metrics_add(&s->answers[info->slot], 1);
	if (info->all_down && info->service) {
		int ss = ((const struct service *)info->service)->metric_slot;
		if (ss >= 0 && ss < METRICS_SLOTS)
			metrics_add(&s->all_down[ss], 1);
	}
}

void metrics_reload(struct metrics *m, int ok, int64_t when)
{
	pthread_mutex_lock(&m->mu);
	if (ok) {
		m->reloads_ok++;
		m->last_reload_ok = when;
	} else {
		m->reloads_failed++;
	}
	pthread_mutex_unlock(&m->mu);
}

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* Label values: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void svc_label(FILE *f, const struct service *svc)
{
	fputs("service=\"", f);
	label(f, svc->name);
	fputc('"', f);
}

/* A member's label: its address, or for the one member of a CNAME pool
 * with a dns check (it has no address), the target name. */
static const char *member_label(const struct pool *pl, const struct hmember *mb, char *buf,
				size_t len)
{
	if (!mb->family && mb->member < pl->nmembers && pl->members[mb->member].hostname)
		return pl->members[mb->member].hostname;
	if (!inet_ntop(mb->family, mb->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

char *metrics_render(struct metrics *m, const struct snapshot *snap, const char *extra)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	static struct metrics_shard sum; /* only under m->mu */

	pthread_mutex_lock(&m->mu);
	memset(&sum, 0, sizeof(sum));
	for (const struct metrics_shard *s = m->shards; s; s = s->next) {
		for (int t = 0; t < MT_N; t++) {
			for (int q = 0; q < METRICS_QTYPES; q++)
				for (int r = 0; r < METRICS_RCODES; r++)
					sum.queries[t][q][r] += ld(&s->queries[t][q][r]);
			sum.dropped[t] += ld(&s->dropped[t]);
		}
		sum.ecs += ld(&s->ecs);
		sum.truncated += ld(&s->truncated);
		for (size_t i = 0; i < m->nslots; i++) {
			sum.answers[i] += ld(&s->answers[i]);
			sum.all_down[i] += ld(&s->all_down[i]);
			for (int k = 0; k < MR_N; k++)
				sum.redirects[i][k] += ld(&s->redirects[i][k]);
		}
		sum.rrl_dropped += ld(&s->rrl_dropped);
		sum.rrl_slipped += ld(&s->rrl_slipped);
		sum.acl_refused += ld(&s->acl_refused);
		sum.acl_dropped += ld(&s->acl_dropped);
	}

	fputs("# HELP gslb_build_info Version of gslbd.\n# TYPE gslb_build_info gauge\n", f);
	fprintf(f, "gslb_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);

	fputs("# HELP gslb_dns_queries_total DNS queries answered, by transport, qtype and "
	      "rcode.\n# TYPE gslb_dns_queries_total counter\n",
	      f);
	static const char *const tn[MT_N] = { "udp", "tcp" };
	for (int t = 0; t < MT_N; t++)
		for (int q = 0; q < METRICS_QTYPES; q++)
			for (int r = 0; r < METRICS_RCODES; r++)
				if (sum.queries[t][q][r])
					fprintf(f,
						"gslb_dns_queries_total{transport=\"%s\",qtype=\"%s\","
						"rcode=\"%s\"} %llu\n",
						tn[t], qtype_names[q], rcode_names[r],
						(unsigned long long)sum.queries[t][q][r]);
	fputs("# HELP gslb_dns_dropped_total DNS messages not answered (malformed, or "
	      "responses).\n# TYPE gslb_dns_dropped_total counter\n",
	      f);
	for (int t = 0; t < MT_N; t++)
		fprintf(f, "gslb_dns_dropped_total{transport=\"%s\"} %llu\n", tn[t],
			(unsigned long long)sum.dropped[t]);
	fprintf(f,
		"# HELP gslb_dns_ecs_queries_total Queries carrying an EDNS Client Subnet.\n"
		"# TYPE gslb_dns_ecs_queries_total counter\ngslb_dns_ecs_queries_total %llu\n",
		(unsigned long long)sum.ecs);
	fprintf(f,
		"# HELP gslb_dns_truncated_total UDP answers sent truncated (TC).\n"
		"# TYPE gslb_dns_truncated_total counter\ngslb_dns_truncated_total %llu\n",
		(unsigned long long)sum.truncated);

	fputs("# HELP gslb_service_answers_total Geo answers, by service and region.\n"
	      "# TYPE gslb_service_answers_total counter\n",
	      f);
	for (size_t i = 0; i < m->nslots; i++) {
		if (!m->slots[i].region[0])
			continue;
		fputs("gslb_service_answers_total{service=\"", f);
		label(f, m->slots[i].service);
		fputs("\",region=\"", f);
		label(f, m->slots[i].region);
		fprintf(f, "\"} %llu\n", (unsigned long long)sum.answers[i]);
	}
	fputs("# HELP gslb_service_all_down_total Answers given by when_all_down, by service.\n"
	      "# TYPE gslb_service_all_down_total counter\n",
	      f);
	for (size_t i = 0; i < m->nslots; i++) {
		if (m->slots[i].region[0])
			continue;
		fputs("gslb_service_all_down_total{service=\"", f);
		label(f, m->slots[i].service);
		fprintf(f, "\"} %llu\n", (unsigned long long)sum.all_down[i]);
	}
	static const char *const rs[MR_N] = { "301", "302", "303", "307", "308" };
	fputs("# HELP gslb_http_redirects_total HTTP redirects, by service, region and status.\n"
	      "# TYPE gslb_http_redirects_total counter\n",
	      f);
	for (size_t i = 0; i < m->nslots; i++) {
		if (!m->slots[i].region[0])
			continue;
		for (int k = 0; k < MR_N; k++) {
			if (!sum.redirects[i][k])
				continue;
			fputs("gslb_http_redirects_total{service=\"", f);
			label(f, m->slots[i].service);
			fputs("\",region=\"", f);
			label(f, m->slots[i].region);
			fprintf(f, "\",status=\"%s\"} %llu\n", rs[k],
				(unsigned long long)sum.redirects[i][k]);
		}
	}
	fprintf(f,
		"# HELP gslb_rrl_responses_total UDP responses held back by response rate "
		"limiting, by action.\n"
		"# TYPE gslb_rrl_responses_total counter\n"
		"gslb_rrl_responses_total{action=\"drop\"} %llu\n"
		"gslb_rrl_responses_total{action=\"slip\"} %llu\n"
		"# HELP gslb_acl_denied_total Queries turned away by the ACL, by action.\n"
		"# TYPE gslb_acl_denied_total counter\n"
		"gslb_acl_denied_total{action=\"refuse\"} %llu\n"
		"gslb_acl_denied_total{action=\"drop\"} %llu\n",
		(unsigned long long)sum.rrl_dropped, (unsigned long long)sum.rrl_slipped,
		(unsigned long long)sum.acl_refused, (unsigned long long)sum.acl_dropped);
	fprintf(f,
		"# HELP gslb_reloads_total Configuration reloads, by result.\n"
		"# TYPE gslb_reloads_total counter\n"
		"gslb_reloads_total{result=\"success\"} %llu\n"
		"gslb_reloads_total{result=\"failure\"} %llu\n"
		"# HELP gslb_reload_last_success_timestamp_seconds When the last reload "
		"succeeded (0 = never).\n"
		"# TYPE gslb_reload_last_success_timestamp_seconds gauge\n"
		"gslb_reload_last_success_timestamp_seconds %lld\n",
		(unsigned long long)m->reloads_ok, (unsigned long long)m->reloads_failed,
		(long long)m->last_reload_ok);
	pthread_mutex_unlock(&m->mu);

	if (snap) {
		const struct conf *c = snap->conf;
		if (snap->geo && geo_db_path(snap->geo)[0]) {
			fputs("# HELP gslb_geoip_build_timestamp_seconds Build time of the GeoIP "
			      "database in use.\n# TYPE gslb_geoip_build_timestamp_seconds gauge\n",
			      f);
			fputs("gslb_geoip_build_timestamp_seconds{path=\"", f);
			label(f, geo_db_path(snap->geo));
			fprintf(f, "\",type=\"");
			label(f, geo_db_type(snap->geo));
			fprintf(f, "\"} %llu\n", (unsigned long long)geo_db_build_epoch(snap->geo));
		}
		fprintf(f,
			"# HELP gslb_config_generation Snapshots published since start.\n"
			"# TYPE gslb_config_generation gauge\ngslb_config_generation %llu\n",
			(unsigned long long)snap->generation);
		fputs("# HELP gslb_zone_serial SOA serial of each zone served.\n"
		      "# TYPE gslb_zone_serial gauge\n",
		      f);
		for (size_t i = 0; i < snap->zones->nzones; i++) {
			fputs("gslb_zone_serial{zone=\"", f);
			label(f, snap->zones->zones[i]->origin_str);
			fprintf(f, "\"} %u\n", snap->zones->zones[i]->serial);
		}
		const struct health *h = snap->health;
		if (h) {
			fputs("# HELP gslb_pool_up 1 when the pool counts as up.\n"
			      "# TYPE gslb_pool_up gauge\n",
			      f);
			for (size_t i = 0; i < c->nservices; i++) {
				const struct service *svc = &c->services[i];
				for (size_t p = 0; p < svc->npools; p++) {
					const struct hpool *hp = &h->pools[svc->pools[p].gidx];
					fputs("gslb_pool_up{", f);
					svc_label(f, svc);
					fprintf(f, ",region=\"%s\"} %d\n",
						c->regions[svc->pools[p].region].name,
						hp->up ? 1 : 0);
				}
			}
			fputs("# HELP gslb_pool_last_change_timestamp_seconds When the pool last "
			      "went up or down (0 = not since start).\n"
			      "# TYPE gslb_pool_last_change_timestamp_seconds gauge\n",
			      f);
			for (size_t i = 0; i < c->nservices; i++) {
				const struct service *svc = &c->services[i];
				for (size_t p = 0; p < svc->npools; p++) {
					const struct hpool *hp = &h->pools[svc->pools[p].gidx];
					fputs("gslb_pool_last_change_timestamp_seconds{", f);
					svc_label(f, svc);
					fprintf(f, ",region=\"%s\"} %lld\n",
						c->regions[svc->pools[p].region].name,
						(long long)hp->since);
				}
			}
			fputs("# HELP gslb_member_up 1 when the member is answered (probe state and "
			      "admin overrides).\n# TYPE gslb_member_up gauge\n",
			      f);
			char at[INET6_ADDRSTRLEN];
			for (int pass = 0; pass < 2; pass++) {
				if (pass == 1)
					fputs("# HELP gslb_member_last_change_timestamp_seconds When "
					      "the member's probe state last changed.\n"
					      "# TYPE gslb_member_last_change_timestamp_seconds "
					      "gauge\n",
					      f);
				for (size_t i = 0; i < c->nservices; i++) {
					const struct service *svc = &c->services[i];
					for (size_t p = 0; p < svc->npools; p++) {
						const struct hpool *hp =
							&h->pools[svc->pools[p].gidx];
						for (size_t k = 0; k < hp->nmembers; k++) {
							const struct hmember *mb = &hp->members[k];
							const char *ml = member_label(
								&svc->pools[p], mb, at, sizeof(at));
							fputs(pass ? "gslb_member_last_change_timestamp_"
								     "seconds{" :
								     "gslb_member_up{",
							      f);
							svc_label(f, svc);
							fprintf(f,
								",region=\"%s\",member=\"%s\"} %lld\n",
								c->regions[svc->pools[p].region]
									.name,
								ml,
								pass ? (long long)mb->since :
								       (long long)(mb->usable ? 1 :
												0));
						}
					}
				}
			}
		}
	}
	if (extra)
		fputs(extra, f);
	fclose(f);
	return buf;
}
