/* Metric families of the published state, read from the snapshot at scrape
 * time (health of pools and members, zone serials, the GeoIP database, the
 * generation), and of the daemon itself (build, reloads). */
#include "gslb/metrics.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config.h"
#include "gslb/dnssec_cache.h"
#include "gslb/geo.h"
#include "gslb/health.h"
#include "gslb/snapshot.h"
#include "gslb/xfr.h"

static const char *const version[] = { PACKAGE_VERSION };
static const char *const results[] = { "success", "failure" };

/* The city database, and the ASN database (geoip.asn_database). */
static int geoip(struct metrics_out *o, const struct snapshot *snap)
{
	int shown = 0;
	if (snap && snap->geo && geo_db_path(snap->geo)[0]) {
		const char *lv[] = { geo_db_path(snap->geo), geo_db_type(snap->geo) };
		metrics_sample(o, lv, (int64_t)geo_db_build_epoch(snap->geo));
		shown = 1;
	}
	if (snap && geo_has_asn(snap->geo)) {
		const char *lv[] = { geo_asn_path(snap->geo), geo_asn_type(snap->geo) };
		metrics_sample(o, lv, (int64_t)geo_asn_build_epoch(snap->geo));
		shown = 1;
	}
	return shown;
}

static int generation(struct metrics_out *o, const struct snapshot *snap)
{
	if (!snap)
		return 0;
	metrics_sample(o, NULL, (int64_t)snap->generation);
	return 1;
}

static int zone_serial(struct metrics_out *o, const struct snapshot *snap)
{
	if (!snap)
		return 0;
	for (size_t i = 0; i < snap->zones->nzones; i++) {
		const char *lv[] = { snap->zones->zones[i]->origin_str };
		metrics_sample(o, lv, (int64_t)xfr_zone_serial(snap->zones->zones[i]));
	}
	return 1;
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

enum view_value {
	POOL_UP,
	POOL_SINCE,
	POOL_FULL,
	POOL_LOAD,
	POOL_SHED,
	MEMBER_UP,
	MEMBER_SINCE
};

/* Every pool (or member) of every service, in config order. */
static int health_samples(struct metrics_out *o, const struct snapshot *snap, enum view_value v)
{
	if (!snap || !snap->health)
		return 0;
	const struct conf *c = snap->conf;
	const struct health *h = snap->health;
	char at[INET6_ADDRSTRLEN];
	int shown = 0;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t p = 0; p < svc->npools; p++) {
			const struct hpool *hp = &h->pools[svc->pools[p].gidx];
			const char *lv[] = { svc->name, c->regions[svc->pools[p].region].name,
					     NULL };
			if (v == POOL_UP || v == POOL_SINCE) {
				metrics_sample(o, lv, v == POOL_UP ? hp->up != 0 : hp->since);
				continue;
			}
			if (v == POOL_FULL || v == POOL_LOAD || v == POOL_SHED) {
				/* only pools that read a load figure */
				if (svc->pools[p].load.kind == LOAD_NONE)
					continue;
				if (v == POOL_LOAD && hp->load < 0)
					continue; /* no figure reported yet */
				shown = 1;
				if (v == POOL_FULL)
					metrics_sample(o, lv, hp->full != 0);
				else if (v == POOL_SHED)
					metrics_sample_real(o, lv, hp->shed);
				else
					metrics_sample_real(o, lv, hp->load);
				continue;
			}
			for (size_t k = 0; k < hp->nmembers; k++) {
				const struct hmember *mb = &hp->members[k];
				lv[2] = member_label(&svc->pools[p], mb, at, sizeof(at));
				metrics_sample(o, lv, v == MEMBER_UP ? mb->usable != 0 : mb->since);
			}
		}
	}
	return v == POOL_FULL || v == POOL_LOAD || v == POOL_SHED ? shown : 1;
}

static int pool_up(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, POOL_UP);
}

static int pool_since(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, POOL_SINCE);
}

/* The load families are shown only when some pool reads a load. */
static int pool_full(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, POOL_FULL);
}

static int pool_load(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, POOL_LOAD);
}

static int pool_shed(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, POOL_SHED);
}

static int member_up(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, MEMBER_UP);
}

static int member_since(struct metrics_out *o, const struct snapshot *snap)
{
	return health_samples(o, snap, MEMBER_SINCE);
}

/* The signature cache (online signing of signed zones' answers). */
static int dnssec_sigs(struct metrics_out *o, const struct snapshot *snap)
{
	struct sigcache_stats st;
	(void)snap;
	sigcache_stats(sigcache_global(), &st);
	const char *made[] = { "made" }, *warm[] = { "warm" }, *refresh[] = { "refresh" };
	metrics_sample(o, made, (int64_t)st.made);
	metrics_sample(o, warm, (int64_t)st.warmed);
	metrics_sample(o, refresh, (int64_t)st.refreshes);
	return 1;
}

static int dnssec_cache(struct metrics_out *o, const struct snapshot *snap)
{
	struct sigcache_stats st;
	(void)snap;
	sigcache_stats(sigcache_global(), &st);
	const char *hit[] = { "hit" }, *miss[] = { "miss" }, *evict[] = { "evicted" };
	metrics_sample(o, hit, (int64_t)st.hits);
	metrics_sample(o, miss, (int64_t)st.misses);
	metrics_sample(o, evict, (int64_t)st.evictions);
	return 1;
}

static int dnssec_entries(struct metrics_out *o, const struct snapshot *snap)
{
	struct sigcache_stats st;
	(void)snap;
	sigcache_stats(sigcache_global(), &st);
	metrics_sample(o, NULL, (int64_t)st.entries);
	return 1;
}

static const struct metric_family view_families[] = {
	[MVIEW_BUILD_INFO] = { .name = "gslb_build_info",
			       .help = "Version of gslbd.",
			       .type = METRIC_GAUGE,
			       .labels = { METRIC_ENUM("version", version) } },
	[MVIEW_RELOADS] = { .name = "gslb_reloads_total",
			    .help = "Configuration reloads, by result.",
			    .type = METRIC_COUNTER,
			    .labels = { METRIC_ENUM("result", results) } },
	[MVIEW_RELOAD_LAST] = { .name = "gslb_reload_last_success_timestamp_seconds",
				.help = "When the last reload succeeded (0 = never).",
				.type = METRIC_GAUGE },
	[MVIEW_GEOIP] = { .name = "gslb_geoip_build_timestamp_seconds",
			  .help = "Build time of the GeoIP database in use.",
			  .type = METRIC_GAUGE,
			  .labels = { METRIC_GIVEN("path"), METRIC_GIVEN("type") },
			  .collect = geoip },
	[MVIEW_GENERATION] = { .name = "gslb_config_generation",
			       .help = "Snapshots published since start.",
			       .type = METRIC_GAUGE,
			       .collect = generation },
	[MVIEW_ZONE_SERIAL] = { .name = "gslb_zone_serial",
				.help = "SOA serial of each zone served.",
				.type = METRIC_GAUGE,
				.labels = { METRIC_GIVEN("zone") },
				.collect = zone_serial },
	[MVIEW_POOL_UP] = { .name = "gslb_pool_up",
			    .help = "1 when the pool counts as up.",
			    .type = METRIC_GAUGE,
			    .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region") },
			    .collect = pool_up },
	[MVIEW_POOL_CHANGE] = { .name = "gslb_pool_last_change_timestamp_seconds",
				.help = "When the pool last went up or down (0 = not since start).",
				.type = METRIC_GAUGE,
				.labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region") },
				.collect = pool_since },
	[MVIEW_MEMBER_UP] = { .name = "gslb_member_up",
			      .help = "1 when the member is answered (probe state and admin "
				      "overrides).",
			      .type = METRIC_GAUGE,
			      .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region"),
					  METRIC_GIVEN("member") },
			      .collect = member_up },
	[MVIEW_MEMBER_CHANGE] = { .name = "gslb_member_last_change_timestamp_seconds",
				  .help = "When the member's probe state last changed.",
				  .type = METRIC_GAUGE,
				  .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region"),
					      METRIC_GIVEN("member") },
				  .collect = member_since },
	[MVIEW_DNSSEC_SIGS] = { .name = "gslb_dnssec_signatures_total",
				.help = "RRSIGs made for answers of signed zones: made (on a "
					"cache miss, at warm-up or refresh), warm (made at "
					"warm-up), refresh (made again before expiry).",
				.type = METRIC_COUNTER,
				.labels = { METRIC_GIVEN("event") },
				.collect = dnssec_sigs },
	[MVIEW_DNSSEC_CACHE] = { .name = "gslb_dnssec_cache_total",
				 .help = "Signature cache: query lookups found (hit) or signed (miss), "
					 "entries pushed out (evicted).",
				 .type = METRIC_COUNTER,
				 .labels = { METRIC_GIVEN("result") },
				 .collect = dnssec_cache },
	[MVIEW_DNSSEC_ENTRIES] = { .name = "gslb_dnssec_cache_entries",
				   .help = "Signatures in the signature cache.",
				   .type = METRIC_GAUGE,
				   .collect = dnssec_entries },
	[MVIEW_POOL_FULL] = { .name = "gslb_pool_full",
			      .help = "1 when the pool's load is at or above its high mark "
				      "(up, taking no clients).",
			      .type = METRIC_GAUGE,
			      .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region") },
			      .collect = pool_full },
	[MVIEW_POOL_LOAD] = { .name = "gslb_pool_load",
			      .help = "The pool's load figure 0..1 read by its probes (smoothed).",
			      .type = METRIC_GAUGE,
			      .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region") },
			      .collect = pool_load },
	[MVIEW_POOL_SHED] = { .name = "gslb_pool_shed_share",
			      .help = "Share 0..1 of the pool's clients sent to their next region "
				      "for its load.",
			      .type = METRIC_GAUGE,
			      .labels = { METRIC_GIVEN("service"), METRIC_GIVEN("region") },
			      .collect = pool_shed },
};

const struct metric_set metrics_view_set = METRIC_SET(view_families);
