/* Explanations are built as JSON first and printed from that JSON, so the
 * text, the admin API and HTTP ?explain cannot drift apart. */
#include "gslb/explain.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <urcu/urcu-memb.h>

#include "gslb/decide.h"
#include "gslb/dnssec_cache.h"
#include "gslb/err.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"

static json_t *location_json(const struct decision *d, const struct snapshot *snap)
{
	const struct geo_result *g = &d->geo;
	json_t *o = json_object();
	json_object_set_new(o, "database",
			    snap->geo && geo_db_path(snap->geo)[0] ?
				    json_string(geo_db_path(snap->geo)) :
				    json_null());
	json_object_set_new(o, "found", json_boolean(g->db_found));
	json_object_set_new(o, "network", g->network[0] ? json_string(g->network) : json_null());
	json_object_set_new(o, "country", g->country[0] ? json_string(g->country) : json_null());
	json_object_set_new(o, "continent",
			    g->continent[0] ? json_string(g->continent) : json_null());
	json_object_set_new(o, "subdivision",
			    g->subdivision[0] ? json_string(g->subdivision) : json_null());
	if (g->has_coords) {
		json_object_set_new(o, "latitude", json_real(g->lat));
		json_object_set_new(o, "longitude", json_real(g->lon));
		const char *src = "database";
		if (g->override && g->override->has_coords)
			src = "override";
		else if (g->coords_from_centroid)
			src = "country centroid";
		json_object_set_new(o, "coordinates_from", json_string(src));
	} else {
		json_object_set_new(o, "latitude", json_null());
		json_object_set_new(o, "longitude", json_null());
	}
	if (geo_has_asn(snap->geo)) {
		/* geoip.asn_database: the client's autonomous system, named */
		struct geo_asn asn;
		char net[NET_CIDR_TEXT_MAX];
		uint8_t a[16];
		json_t *aj = json_object();
		if (geo_asn_lookup(snap->geo, d->family, d->addr, 1, &asn) == 0 && asn.found) {
			net_mask(a, d->addr, net_alen(d->family), asn.prefix);
			net_format(d->family, a, asn.prefix, net, sizeof(net));
			json_object_set_new(aj, "number", json_integer(asn.asn));
			json_object_set_new(aj, "organization",
					    asn.org[0] ? json_string(asn.org) : json_null());
			json_object_set_new(aj, "network", json_string(net));
		} else {
			json_object_set_new(aj, "number", json_null());
		}
		json_object_set_new(aj, "database", json_string(geo_asn_path(snap->geo)));
		json_object_set_new(o, "asn", aj);
	}
	if (g->override) {
		char cidr[64];
		json_t *ov = json_object();
		geo_override_cidr(g->override, cidr, sizeof(cidr));
		json_object_set_new(ov, "net", json_string(cidr));
		json_object_set_new(ov, "file", json_string(geo_overrides_path(snap->geo)));
		json_object_set_new(ov, "line", json_integer(g->override->line));
		if (g->override->nregions) {
			json_t *rl = json_array();
			for (size_t i = 0; i < g->override->nregions; i++)
				json_array_append_new(rl, json_string(g->override->regions[i]));
			json_object_set_new(ov, "regions", rl);
		} else {
			json_object_set_new(ov, "latitude", json_real(g->override->lat));
			json_object_set_new(ov, "longitude", json_real(g->override->lon));
		}
		json_object_set_new(o, "override", ov);
	} else {
		json_object_set_new(o, "override", json_null());
	}
	return o;
}

/* members_pick = "sticky": each member's place in the answer order of this
 * client subnet ("sticky_rank", 1 = answered first). */
static void sticky_ranks(const struct decision *d, json_t *arr, int family)
{
	double score[256];
	size_t n = json_array_size(arr) < 256 ? json_array_size(arr) : 256;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		uint8_t a[16];
		memset(a, 0, sizeof(a));
		if (inet_pton(family, json_string_value(json_object_get(e, "address")), a) != 1)
			return;
		score[i] = decide_member_score(
			d, family, a, (uint32_t)json_integer_value(json_object_get(e, "weight")));
	}
	for (size_t i = 0; i < n; i++) {
		json_int_t rank = 1;
		for (size_t j = 0; j < n; j++)
			if (score[j] > score[i])
				rank++;
		json_object_set_new(json_array_get(arr, i), "sticky_rank", json_integer(rank));
	}
}

static json_t *answer_json(const struct decision *d)
{
	json_t *a = json_object();
	if (d->all_down) {
		json_object_set_new(a, "when_all_down",
				    json_string(all_down_name(d->svc->when_all_down)));
	}
	if (d->all_down && d->svc->when_all_down == ALL_DOWN_SERVFAIL) {
		json_object_set_new(a, "servfail", json_true());
		return a;
	}
	if (!d->pool) {
		json_object_set_new(a, "nodata", json_true());
		return a;
	}
	if (d->pool->cname_len) {
		char txt[DNAME_MAXLEN * 4 + 1];
		dname_to_str(d->pool->cname, txt, sizeof(txt));
		json_object_set_new(a, "cname", json_string(txt));
		return a;
	}
	json_t *v4 = json_array(), *v6 = json_array();
	if (d->hpool) {
		char at[INET6_ADDRSTRLEN];
		for (size_t i = 0; i < d->hpool->nmembers; i++) {
			const struct hmember *m = &d->hpool->members[i];
			if (!m->usable && !d->fail_open)
				continue;
			json_t *e = json_object();
			inet_ntop(m->family, m->addr, at, sizeof(at));
			json_object_set_new(e, "address", json_string(at));
			json_object_set_new(e, "weight", json_integer(m->weight));
			json_object_set_new(e, "state", json_string(health_state_name(m->state)));
			json_array_append_new(m->family == AF_INET ? v4 : v6, e);
		}
	} else {
		for (size_t i = 0; i < d->pool->nmembers; i++) {
			const struct member *m = &d->pool->members[i];
			if (!m->family)
				continue;
			json_t *e = json_object();
			json_object_set_new(e, "address", json_string(m->text));
			json_object_set_new(e, "weight", json_integer(m->weight));
			json_array_append_new(m->family == AF_INET ? v4 : v6, e);
		}
	}
	if (d->fail_open)
		json_object_set_new(a, "fail_open", json_true());
	json_object_set_new(a, "members_pick", json_string(d->hashed ? "sticky" : "weighted"));
	if (d->hashed) {
		char sub[NET_CIDR_TEXT_MAX];
		uint8_t net[16];
		unsigned bits = d->hash_prefix < d->prefix ? d->hash_prefix : d->prefix;
		net_mask(net, d->addr, net_alen(d->family), bits);
		net_format(d->family, net, bits, sub, sizeof(sub));
		json_object_set_new(a, "hash_subnet", json_string(sub));
		sticky_ranks(d, v4, AF_INET);
		sticky_ranks(d, v6, AF_INET6);
	}
	json_object_set_new(a, "A", v4);
	json_object_set_new(a, "AAAA", v6);
	json_object_set_new(a, "answers_per_response", json_integer(d->svc->answers));
	return a;
}

/* With a cluster: the members some node says down, with the cluster's
 * verdict per node ("192.0.2.10: down by 2 of 3 nodes: ns1-fra, ns2-ams"),
 * from the reasons the prober wrote into the view. */
static void cluster_notes(json_t *r, const struct hpool *hp)
{
	json_t *notes = NULL;

	for (size_t k = 0; k < hp->nmembers; k++) {
		const struct hmember *m = &hp->members[k];
		char addr[INET6_ADDRSTRLEN] = "";

		if (strncmp(m->reason, "down by ", 8) != 0 &&
		    strncmp(m->reason, "up; down by ", 12) != 0)
			continue;
		if (m->family && !inet_ntop(m->family, m->addr, addr, sizeof(addr)))
			addr[0] = '\0';
		if (!notes)
			notes = json_array();
		if (notes)
			json_array_append_new(
				notes,
				json_sprintf("%s: %s", addr[0] ? addr : "member", m->reason));
	}
	if (notes)
		json_object_set_new(r, "cluster", notes);
}

/* Whether a DO query's answer is signed, and by which keys (tags):
 * those that sign all but the key RRsets (dnssec_cache.h). */
static json_t *dnssec_json(const struct zone *z)
{
	json_t *o = json_object();
	const struct zone_signer *zs = z ? z->signer : NULL;
	json_object_set_new(o, "signed", json_boolean(zs != NULL));
	json_t *keys = json_array();
	for (size_t k = 0; zs && k < zs->nkeys; k++) {
		if (!zone_signer_signs(zs, k))
			continue;
		json_t *kj = json_object();
		json_object_set_new(kj, "tag", json_integer(zs->keys[k].tag));
		json_object_set_new(kj, "algorithm", json_integer(zs->keys[k].alg));
		json_array_append_new(keys, kj);
	}
	json_object_set_new(o, "keys", keys);
	return o;
}

int explain_json(const struct snapshot *snap, const char *address, const char *name, json_t **out,
		 char *err, size_t errlen)
{
	struct net_cidr sub;
	uint8_t lname[DNAME_MAXLEN];
	char client[NET_CIDR_TEXT_MAX];

	*out = NULL;
	/* As a resolver would send it in ECS: host bits cleared. */
	int rc = net_parse(address, NET_CLEAR_HOST, &sub, err, errlen);
	if (rc)
		return rc;
	size_t len = dname_from_str(name, lname);
	if (len == 0) {
		snprintf(err, errlen, "\"%s\" is not a valid domain name", name);
		return GSLB_EINVAL;
	}
	json_t *o = json_object();
	net_format(sub.family, sub.addr, sub.prefix, client, sizeof(client));
	json_object_set_new(o, "client", json_string(client));
	char nm[DNAME_MAXLEN * 4 + 1];
	dname_to_str(lname, nm, sizeof(nm));
	json_object_set_new(o, "name", json_string(nm));

	const struct zone *z = zoneset_find(snap->zones, lname, len);
	json_object_set_new(o, "zone", z ? json_string(z->origin_str) : json_null());
	json_object_set_new(o, "dnssec", dnssec_json(z));
	const struct service *svc = z ? decide_find_service(snap, lname, len) : NULL;
	if (!svc) {
		json_object_set_new(o, "service", json_null());
		json_object_set_new(o, "note",
				    json_string(z ? "not a service: answered from the "
						    "zone file, the same for every client "
						    "(ECS scope 0)" :
						    "outside every zone served: REFUSED"));
		*out = o;
		return GSLB_OK;
	}
	struct decision d;
	decide_ex(snap, svc, sub.family, sub.addr, sub.prefix, DECIDE_EXACT, &d);
	if (snap->geo && d.geo.db_found) {
		/* decide() skips the network's text; explain shows it. */
		struct geo_result full;
		geo_lookup(snap->geo, d.family, d.addr, &full);
		memcpy(d.geo.network, full.network, sizeof(d.geo.network));
	}

	json_t *sj = json_object();
	json_object_set_new(sj, "name", json_string(svc->name));
	json_object_set_new(sj, "file", json_string(svc->file));
	json_object_set_new(sj, "line", json_integer(svc->line));
	json_object_set_new(o, "service", sj);
	if (d.unwrapped_v4) {
		net_format(AF_INET, d.addr, d.prefix, client, sizeof(client));
		json_object_set_new(o, "located_as", json_string(client));
	}
	json_object_set_new(o, "location", location_json(&d, snap));
	json_t *rule = json_object();
	json_object_set_new(rule, "kind", json_string(decide_rule_name(d.rule)));
	if (d.route) {
		json_object_set_new(rule, "match", json_string(d.route->text));
		json_object_set_new(rule, "line", json_integer(d.route->line));
	}
	if (d.split_region >= 0) {
		json_t *sp = json_object();
		json_object_set_new(sp, "bucket", json_integer(d.split_bucket));
		json_object_set_new(sp, "ring", json_integer(ROUTE_SPLIT_RING));
		json_object_set_new(sp, "region",
				    json_string(snap->conf->regions[d.split_region].name));
		json_object_set_new(rule, "split", sp);
	}
	json_object_set_new(o, "rule", rule);
	json_t *regions = json_array();
	for (unsigned i = 0; i < d.nsteps; i++) {
		const struct decide_step *st = &d.steps[i];
		json_t *r = json_object();
		json_object_set_new(r, "region", json_string(snap->conf->regions[st->region].name));
		double km = decide_step_km(st);
		json_object_set_new(r, "distance_km",
				    km >= 0 ? json_integer((json_int_t)(km + 0.5)) : json_null());
		double bias = snap->conf->regions[st->region].bias;
		if (bias != 0 && km >= 0) {
			json_object_set_new(r, "bias", json_real(bias));
			json_object_set_new(
				r, "biased_km",
				json_integer((json_int_t)(decide_biased_km(snap, st) + 0.5)));
		}
		json_object_set_new(r, "state", json_string(decide_state_name(st->state)));
		int pi = svc->pool_of_region[st->region];
		const struct health *h = rcu_dereference(((struct snapshot *)snap)->health);
		if (pi >= 0 && h && svc->pools[pi].gidx < h->npools) {
			const struct hpool *hp = &h->pools[svc->pools[pi].gidx];
			json_object_set_new(r, "pool",
					    json_string(!hp->up  ? "down" :
							hp->full ? "full" :
								   "up"));
			json_object_set_new(r, "pool_reason", json_string(hp->reason));
			if (hp->load >= 0) {
				json_object_set_new(r, "load", json_real(hp->load));
				json_object_set_new(r, "shed_share", json_real(hp->shed));
			}
			if (hp->admin)
				json_object_set_new(r, "admin",
						    json_string(override_state_name(hp->admin)));
			cluster_notes(r, hp);
		}
		json_array_append_new(regions, r);
	}
	json_object_set_new(o, "regions", regions);
	if (d.shed_moved || d.shed_drawn) {
		json_t *ls = json_object();
		int kept = 0; /* every region up was loaded: the first of them answers */
		for (size_t i = 0; i < d.nsteps; i++)
			kept |= d.steps[i].state == REGION_TAKEN_LOADED;
		json_object_set_new(ls, "draw",
				    d.shed_drawn ? json_real(d.shed_draw) : json_null());
		json_object_set_new(ls, "moved", json_boolean(d.shed_moved && !kept));
		if (kept)
			json_object_set_new(ls, "taken_although_loaded", json_true());
		json_object_set_new(o, "load_shedding", ls);
	}
	json_object_set_new(o, "chosen",
			    d.region >= 0 ? json_string(snap->conf->regions[d.region].name) :
					    json_null());
	json_object_set_new(o, "answer", answer_json(&d));
	/* With geoip.compact the DNS answer's scope is the merged network's
	 * (the region and members are the same, tests/unit/test_compact.c) */
	uint8_t scope = d.scope;
	if (snap->gclass) {
		struct decision dc;
		decide(snap, svc, sub.family, sub.addr, sub.prefix, &dc);
		scope = dc.scope;
	}
	json_object_set_new(o, "ecs_scope", json_integer(scope));
	json_object_set_new(o, "ttl", json_integer(d.ttl));
	*out = o;
	return GSLB_OK;
}

static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void print_dnssec(const json_t *ex, FILE *out)
{
	const json_t *d = json_object_get(ex, "dnssec");
	if (!json_is_true(json_object_get(d, "signed"))) {
		fprintf(out, "dnssec:    unsigned (the zone has no dnssec group)\n");
		return;
	}
	const json_t *keys = json_object_get(d, "keys");
	fprintf(out, "dnssec:    signed to queries with DO, key tag");
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const json_t *k = json_array_get(keys, i);
		fprintf(out, "%s%lld (algorithm %lld)", i ? ", " : " ",
			(long long)json_integer_value(json_object_get(k, "tag")),
			(long long)json_integer_value(json_object_get(k, "algorithm")));
	}
	fprintf(out, "\n");
}

/* pools[].load: what shedding did to this client. */
static void print_load(const json_t *ex, FILE *out)
{
	const json_t *ls = json_object_get(ex, "load_shedding");
	if (!ls)
		return;
	fprintf(out, "load:      ");
	if (json_is_number(json_object_get(ls, "draw")))
		fprintf(out, "client draw %.4f: ", json_number_value(json_object_get(ls, "draw")));
	if (json_is_true(json_object_get(ls, "taken_although_loaded")))
		fprintf(out,
			"not moved: every region that could take the client is full or "
			"sheds it, so the first of them, %s, answers (taken although loaded)\n",
			str(ex, "chosen") ? str(ex, "chosen") : "?");
	else if (json_is_true(json_object_get(ls, "moved")))
		fprintf(out, "%s\n",
			json_is_number(json_object_get(ls, "draw")) ?
				"moved past a region for its load" :
				"moved past a full region");
	else
		fprintf(out, "not moved (draw at or above every share shed)\n");
}

/* The members, and with members_pick = "sticky" which of them this client
 * subnet gets: those of the best ranks, at most answers_per_response. */
static void print_members(const json_t *ans, FILE *out)
{
	static const char *const fams[2] = { "A", "AAAA" };
	if (!str(ans, "members_pick"))
		return;
	if (!str(ans, "hash_subnet")) {
		fprintf(out, "members:   %s (by weight, drawn on each query)\n",
			str(ans, "members_pick"));
		return;
	}
	json_int_t k = json_integer_value(json_object_get(ans, "answers_per_response"));
	fprintf(out, "members:   sticky to the client subnet %s (hash_subnet):",
		str(ans, "hash_subnet"));
	for (int f = 0; f < 2; f++) {
		const json_t *l = json_object_get(ans, fams[f]);
		if (json_array_size(l) == 0)
			continue;
		fprintf(out, "%s %s", f && json_array_size(json_object_get(ans, "A")) ? ";" : "",
			fams[f]);
		for (size_t i = 0; i < json_array_size(l); i++) {
			const json_t *m = json_array_get(l, i);
			json_int_t rank = json_integer_value(json_object_get(m, "sticky_rank"));
			fprintf(out, " %s (sticky_rank %lld%s)", str(m, "address"), (long long)rank,
				k && rank <= k ? ", the client gets it" : "");
		}
	}
	fprintf(out, "\n");
}

void explain_print(const json_t *ex, FILE *out)
{
	fprintf(out, "name:      %s\n", str(ex, "name"));
	fprintf(out, "client:    %s\n", str(ex, "client"));
	const json_t *svc = json_object_get(ex, "service");
	if (!json_is_object(svc)) {
		fprintf(out, "zone:      %s\n", str(ex, "zone") ? str(ex, "zone") : "(none)");
		fprintf(out, "note:      %s\n", str(ex, "note"));
		if (str(ex, "zone"))
			print_dnssec(ex, out);
		return;
	}
	fprintf(out, "service:   %s (%s:%lld)\n", str(svc, "name"), str(svc, "file"),
		(long long)json_integer_value(json_object_get(svc, "line")));
	if (str(ex, "located_as"))
		fprintf(out, "located as %s (IPv4 address inside an IPv6 form)\n",
			str(ex, "located_as"));
	const json_t *loc = json_object_get(ex, "location");
	fprintf(out, "location:  ");
	if (json_is_true(json_object_get(loc, "found"))) {
		fprintf(out, "network %s", str(loc, "network"));
		if (str(loc, "country"))
			fprintf(out, ", country %s", str(loc, "country"));
		if (str(loc, "continent"))
			fprintf(out, ", continent %s", str(loc, "continent"));
		if (str(loc, "subdivision"))
			fprintf(out, ", subdivision %s", str(loc, "subdivision"));
	} else {
		fprintf(out, "not in the database%s",
			str(loc, "database") ? "" : " (none configured)");
	}
	if (json_is_real(json_object_get(loc, "latitude")))
		fprintf(out, ", coordinates %.4f %.4f (%s)",
			json_real_value(json_object_get(loc, "latitude")),
			json_real_value(json_object_get(loc, "longitude")),
			str(loc, "coordinates_from"));
	fprintf(out, "\n");
	const json_t *asn = json_object_get(loc, "asn");
	if (json_is_integer(json_object_get(asn, "number")))
		fprintf(out, "asn:       AS%lld%s%s%s, network %s\n",
			(long long)json_integer_value(json_object_get(asn, "number")),
			str(asn, "organization") ? " (" : "",
			str(asn, "organization") ? str(asn, "organization") : "",
			str(asn, "organization") ? ")" : "", str(asn, "network"));
	else if (asn)
		fprintf(out, "asn:       not in the ASN database\n");
	const json_t *ov = json_object_get(loc, "override");
	if (json_is_object(ov)) {
		fprintf(out, "override:  %s (%s:%lld)", str(ov, "net"), str(ov, "file"),
			(long long)json_integer_value(json_object_get(ov, "line")));
		const json_t *rl = json_object_get(ov, "regions");
		if (json_is_array(rl)) {
			fprintf(out, " regions");
			for (size_t i = 0; i < json_array_size(rl); i++)
				fprintf(out, "%s%s", i ? "," : " ",
					json_string_value(json_array_get(rl, i)));
		} else {
			fprintf(out, " location %.4f %.4f",
				json_real_value(json_object_get(ov, "latitude")),
				json_real_value(json_object_get(ov, "longitude")));
		}
		fprintf(out, "\n");
	} else {
		fprintf(out, "override:  none\n");
	}
	const json_t *rule = json_object_get(ex, "rule");
	fprintf(out, "rule:      %s", str(rule, "kind"));
	if (str(rule, "match"))
		fprintf(out, " %s (line %lld)", str(rule, "match"),
			(long long)json_integer_value(json_object_get(rule, "line")));
	const json_t *sp = json_object_get(rule, "split");
	if (sp)
		fprintf(out, ", split bucket %lld of %lld: %s",
			(long long)json_integer_value(json_object_get(sp, "bucket")),
			(long long)json_integer_value(json_object_get(sp, "ring")),
			str(sp, "region"));
	fprintf(out, "\nregions, in the order tried:\n");
	const json_t *regions = json_object_get(ex, "regions");
	for (size_t i = 0; i < json_array_size(regions); i++) {
		const json_t *r = json_array_get(regions, i);
		const json_t *km = json_object_get(r, "distance_km");
		char kms[32] = "-";
		if (json_is_integer(km))
			snprintf(kms, sizeof(kms), "%lld km", (long long)json_integer_value(km));
		fprintf(out, "  %2zu. %-20s %10s  %s", i + 1, str(r, "region"), kms,
			str(r, "state"));
		if (json_is_number(json_object_get(r, "bias")))
			fprintf(out, " (bias %g: %lld km)",
				json_number_value(json_object_get(r, "bias")),
				(long long)json_integer_value(json_object_get(r, "biased_km")));
		if (str(r, "pool"))
			fprintf(out, " (pool %s: %s)", str(r, "pool"), str(r, "pool_reason"));
		if (json_is_number(json_object_get(r, "load")))
			fprintf(out, " (load %.3f, shedding %.0f%%)",
				json_number_value(json_object_get(r, "load")),
				100 * json_number_value(json_object_get(r, "shed_share")));
		fprintf(out, "\n");
		const json_t *notes = json_object_get(r, "cluster");
		for (size_t k = 0; k < json_array_size(notes); k++)
			fprintf(out, "      cluster: %s\n",
				json_string_value(json_array_get(notes, k)));
	}
	print_load(ex, out);
	const json_t *ans = json_object_get(ex, "answer");
	fprintf(out, "answer:    ");
	if (str(ans, "when_all_down"))
		fprintf(out, "every pool is down, when_all_down = %s: ", str(ans, "when_all_down"));
	if (json_is_true(json_object_get(ans, "servfail"))) {
		fprintf(out, "SERVFAIL");
	} else if (str(ans, "cname")) {
		fprintf(out, "CNAME %s", str(ans, "cname"));
	} else if (json_is_true(json_object_get(ans, "nodata"))) {
		fprintf(out, "no region available: NODATA");
	} else {
		static const char *const fams[2] = { "A", "AAAA" };
		for (int f = 0; f < 2; f++) {
			const json_t *l = json_object_get(ans, fams[f]);
			fprintf(out, "%s%s", f ? "; " : "", fams[f]);
			if (json_array_size(l) == 0)
				fprintf(out, " none (NODATA)");
			for (size_t i = 0; i < json_array_size(l); i++) {
				const json_t *m = json_array_get(l, i);
				fprintf(out, " %s", str(m, "address"));
				if (json_integer_value(json_object_get(m, "weight")) != 1)
					fprintf(out, "(w%lld)",
						(long long)json_integer_value(
							json_object_get(m, "weight")));
			}
		}
		fprintf(out, " (at most %lld per response)",
			(long long)json_integer_value(
				json_object_get(ans, "answers_per_response")));
	}
	fprintf(out, "\n");
	print_members(ans, out);
	fprintf(out, "ecs scope: /%lld\nttl:       %lld\n",
		(long long)json_integer_value(json_object_get(ex, "ecs_scope")),
		(long long)json_integer_value(json_object_get(ex, "ttl")));
	print_dnssec(ex, out);
}
