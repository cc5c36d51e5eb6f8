/* Decision engine: client subnet -> location -> ordered regions -> the
 * first region with a usable pool, plus the ECS scope that keeps resolver
 * caches correct. One function serves DNS, HTTP and explain, so what
 * explain prints is what clients get. */
#include "gslb/decide.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>
#include <sys/socket.h>

#include <urcu/urcu-memb.h>

#include "gslb/err.h"
#include "gslb/snapshot.h"

const char *decide_rule_name(enum decide_rule r)
{
	switch (r) {
	case RULE_OVERRIDE:
		return "override";
	case RULE_ROUTE:
		return "route";
	case RULE_DISTANCE:
		return "distance";
	case RULE_DEFAULT:
		return "default";
	case RULE_CONFIG:
		return "config order";
	}
	return "?";
}

const char *decide_state_name(enum decide_state s)
{
	switch (s) {
	case REGION_TAKEN:
		return "taken";
	case REGION_SKIP_NO_POOL:
		return "skipped: no pool for this service";
	case REGION_SKIP_NO_FAMILY:
		return "skipped: no member of the address family";
	case REGION_SKIP_DOWN:
		return "skipped: pool down";
	case REGION_NOT_TRIED:
		return "not tried";
	case REGION_BEYOND_LIMIT:
		return "not tried: beyond the service limit";
	case REGION_SKIP_FULL:
		return "skipped: pool full (load at or above high)";
	case REGION_SKIP_SHED:
		return "skipped: load shedding (client within the share shed)";
	case REGION_TAKEN_LOADED:
		return "taken although loaded: no other region takes clients";
	}
	return "?";
}

const char *all_down_name(enum all_down w)
{
	switch (w) {
	case ALL_DOWN_FAIL_OPEN:
		return "fail-open";
	case ALL_DOWN_NODATA:
		return "nodata";
	case ALL_DOWN_SERVFAIL:
		return "servfail";
	case ALL_DOWN_FALLBACK:
		return "fallback";
	}
	return "?";
}

static const struct service *svc_get(const struct snapshot *snap, const uint8_t *name, size_t len)
{
	uint32_t h = dname_hash(name, len);
	for (size_t i = h & snap->svc_mask;; i = (i + 1) & snap->svc_mask) {
		const struct service *s = snap->svc_table[i];
		if (!s)
			return NULL;
		if (s->lname_len == len && memcmp(s->lname, name, len) == 0)
			return s;
	}
}

const struct service *decide_find_service(const struct snapshot *snap, const uint8_t *lname,
					  size_t len)
{
	if (!snap->svc_table)
		return NULL;
	const struct service *s = svc_get(snap, lname, len);
	if (s || !snap->has_wildcard_services)
		return s;
	/* The closest "*.ancestor" service covers names at any depth below. */
	uint8_t wild[DNAME_MAXLEN];
	wild[0] = 1;
	wild[1] = '*';
	while (lname[0] != 0) {
		len -= 1 + (size_t)lname[0];
		lname += 1 + (size_t)lname[0];
		if (len + 2 > DNAME_MAXLEN)
			continue;
		memcpy(wild + 2, lname, len);
		s = svc_get(snap, wild, len + 2);
		if (s)
			return s;
	}
	return NULL;
}

int decide_is_service_ent(const struct snapshot *snap, const uint8_t *lname, size_t len)
{
	if (!snap->svc_ents)
		return 0;
	uint32_t h = dname_hash(lname, len);
	for (size_t i = h & snap->svc_ent_mask;; i = (i + 1) & snap->svc_ent_mask) {
		const struct svc_ent *e = &snap->svc_ents[i];
		if (!e->name)
			return 0;
		if (e->len == len && memcmp(e->name, lname, len) == 0)
			return 1;
	}
}

/* Pull an embedded IPv4 address out of the IPv6 forms that carry one, so a
 * dual-stack path does not hide the client's real network. */
static void unwrap_v4(struct decision *d)
{
	uint8_t v4[4];
	if (d->family != AF_INET6)
		return;
	int shift = geo_v4_embedded(d->addr, v4);
	if (shift < 0 || d->prefix < shift)
		return;
	memset(d->addr, 0, sizeof(d->addr));
	memcpy(d->addr, v4, 4);
	d->family = AF_INET;
	d->prefix = (uint8_t)(d->prefix - shift > 32 ? 32 : d->prefix - shift);
	d->unwrapped_v4 = 1;
	d->unwrap_shift = (uint8_t)shift;
}

static int route_matches(const struct snapshot *snap, const struct route *r, struct decision *d)
{
	switch (r->kind) {
	case ROUTE_ASN:
		if (!d->asn_looked) {
			/* a damaged record is no match (asn.found stays 0) */
			(void)geo_asn_lookup(snap->geo, d->family, d->addr, 0, &d->asn);
			d->asn_looked = 1;
		}
		return d->asn.found && d->asn.asn == r->asn;
	case ROUTE_COUNTRY:
		return d->geo.country[0] && strcmp(r->code, d->geo.country) == 0;
	case ROUTE_CONTINENT:
		return d->geo.continent[0] && strcmp(r->code, d->geo.continent) == 0;
	case ROUTE_SUBDIVISION:
		return d->geo.subdivision[0] && strcmp(r->code, d->geo.subdivision) == 0;
	case ROUTE_NET:
		/* The whole client subnet must be inside the rule's net. */
		return net_contains(&r->net, d->family, d->addr, d->prefix);
	}
	return 0;
}

double decide_step_km(const struct decide_step *st)
{
	if (st->cos_angle < -1.5)
		return -1.0;
	double c = st->cos_angle > 1.0 ? 1.0 : st->cos_angle < -1.0 ? -1.0 : st->cos_angle;
	return 6371.0088 * acos(c);
}

static void add_step(struct decision *d, unsigned region, double cosv)
{
	for (unsigned i = 0; i < d->nsteps; i++)
		if (d->steps[i].region == region)
			return; /* listed twice: the first place counts */
	if (d->nsteps >= GSLB_MAX_REGIONS)
		return;
	d->steps[d->nsteps].region = (uint8_t)region;
	d->steps[d->nsteps].state = REGION_NOT_TRIED;
	d->steps[d->nsteps].cos_angle = cosv;
	d->nsteps++;
}

/* Spherical law of cosines with the region's trigonometry precomputed and
 * the client's computed once per decision: one cosine per region. */
static double region_cos(const struct snapshot *snap, const struct decision *d, unsigned r,
			 double csin, double ccos)
{
	if (!d->geo.has_coords)
		return -2.0;
	const struct region *rg = &snap->conf->regions[r];
	return csin * rg->sin_lat +
	       ccos * rg->cos_lat * cos(d->geo.lon * (M_PI / 180.0) - rg->lon_rad);
}

/* How near region r is for ordering, larger = nearer: the cosine, or with
 * a region bias anywhere in the config the biased distance, negated
 * (distance x (1 - bias/100), as Route 53's geoproximity bias). */
static double region_key(const struct snapshot *snap, unsigned r, double cosv)
{
	if (!snap->conf->region_bias || cosv < -1.5)
		return cosv;
	double c = cosv > 1.0 ? 1.0 : cosv < -1.0 ? -1.0 : cosv;
	return -acos(c) * (1.0 - snap->conf->regions[r].bias / 100.0);
}

double decide_biased_km(const struct snapshot *snap, const struct decide_step *st)
{
	double km = decide_step_km(st);
	if (km < 0)
		return km;
	return km * (1.0 - snap->conf->regions[st->region].bias / 100.0);
}

static void client_trig(const struct decision *d, double *csin, double *ccos)
{
	*csin = *ccos = 0;
	if (d->geo.has_coords) {
		double phi = d->geo.lat * (M_PI / 180.0);
		*csin = sin(phi);
		*ccos = cos(phi);
	}
}

static void order_by_list(const struct snapshot *snap, struct decision *d, const unsigned *list,
			  size_t n)
{
	double cs, cc;
	client_trig(d, &cs, &cc);
	for (size_t i = 0; i < n; i++)
		add_step(d, list[i], region_cos(snap, d, list[i], cs, cc));
}

static void order_by_distance(const struct snapshot *snap, struct decision *d)
{
	const struct service *svc = d->svc;
	double cs, cc, keys[GSLB_MAX_REGIONS];
	client_trig(d, &cs, &cc);
	/* Only regions where the service has a pool compete on distance. */
	for (size_t i = 0; i < svc->npools; i++) {
		unsigned r = svc->pools[i].region;
		double cv = region_cos(snap, d, r, cs, cc);
		double key = region_key(snap, r, cv);
		/* insertion sort, nearest (largest key) first: a few dozen
		 * regions at most; ties keep config order */
		unsigned pos = d->nsteps;
		while (pos > 0 && keys[pos - 1] < key)
			pos--;
		if (d->nsteps >= GSLB_MAX_REGIONS)
			break;
		memmove(&d->steps[pos + 1], &d->steps[pos],
			(d->nsteps - pos) * sizeof(d->steps[0]));
		memmove(&keys[pos + 1], &keys[pos], (d->nsteps - pos) * sizeof(keys[0]));
		keys[pos] = key;
		d->steps[pos].region = (uint8_t)r;
		d->steps[pos].state = REGION_NOT_TRIED;
		d->steps[pos].cos_angle = cv;
		d->nsteps++;
	}
}

/* order_by_distance from a compact class's stored order: the regions where
 * the service has a pool, nearest first, those at the same distance in
 * pool order, as the insertion sort would put them. No trigonometry; the
 * steps carry no distance (explain asks the database). */
static void order_by_class(const struct snapshot *snap, struct decision *d, uint32_t cls)
{
	const struct geo_classes *gc = snap->gclass;
	const struct service *svc = d->svc;
	size_t n = snap->conf->nregions;
	const uint8_t *ord = gc->order + (size_t)cls * n;
	uint64_t ties = gc->ties[cls];

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && (ties >> j) & 1)
			j++;
		if (j - i == 1) {
			if (svc->pool_of_region[ord[i]] >= 0)
				add_step(d, ord[i], -2.0);
		} else {
			for (size_t p = 0; p < svc->npools; p++)
				if (memchr(ord + i, (int)svc->pools[p].region, j - i))
					add_step(d, svc->pools[p].region, -2.0);
		}
		i = j;
	}
}

static void order_config(const struct snapshot *snap, struct decision *d)
{
	double cs, cc;
	client_trig(d, &cs, &cc);
	for (size_t r = 0; r < snap->conf->nregions; r++)
		add_step(d, (unsigned)r, region_cos(snap, d, (unsigned)r, cs, cc));
}

/* Scope: the client may be cached for every address that would get the same
 * answer. That is at least as narrow as the database network, the override
 * net (and any more specific override nested under the client's range),
 * and every route net that overlaps the client's range. */
static uint8_t compute_scope(const struct snapshot *snap, const struct decision *d)
{
	const struct service *svc = d->svc;
	/* One region that every client reaches: the answer does not depend
	 * on location (snapshot.c, compute_location_free). */
	if (!d->hashed && snap->location_free && snap->location_free[svc - snap->conf->services])
		return 0;
	unsigned s = d->geo.scope_prefix;
	unsigned max = d->family == AF_INET ? 32 : 128;
	if (d->hashed && s < d->hash_prefix)
		s = d->hash_prefix; /* the answer depends on the hashed subnet */
	if (d->asn_looked && s < d->asn.prefix)
		s = d->asn.prefix; /* ... and on the ASN database's network */
	for (size_t i = 0; i < svc->nroutes; i++) {
		const struct route *r = &svc->routes[i];
		if (r->kind != ROUTE_NET || r->net.family != d->family)
			continue;
		unsigned c = net_common_prefix(r->net.addr, d->addr, max / 8);
		if (c >= r->net.prefix || c >= d->prefix) {
			/* the client's range is inside the rule's net, or holds
			 * it: the answer may change at the net's edge */
			if (r->net.prefix > s)
				s = r->net.prefix;
		} else if (s <= c) {
			/* the net lies inside the scope's network, away from
			 * the client: narrow the scope until it leaves the net
			 * out, at the first bit they differ */
			s = c + 1;
		}
	}
	if (s > max)
		s = max;
	if (d->unwrapped_v4)
		s += d->unwrap_shift;
	return (uint8_t)s;
}

/* splitmix64's finalizer: a fixed function, so every server and every
 * restart hashes a subnet alike. */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* p's bytes, 8 at a time, each group read big-endian (a short last group
 * in its low bytes), through mix64. Addresses are 4 or 16 bytes: those
 * groups are read whole (the query path hashes one or more per answer). */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w = 0;
		if (n - i >= 8) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			w = be64toh(v);
		} else if (n - i == 4) {
			uint32_t v;
			memcpy(&v, p + i, 4);
			w = be32toh(v);
		} else {
			for (size_t j = i; j < n; j++)
				w = (w << 8) | p[j];
		}
		h = mix64(h ^ w);
	}
	return h;
}

/* Client hash (members_pick = "sticky", or a split route rule): the client
 * subnet cut to the service's hash prefix (never longer than the subnet
 * itself). */
static void client_hash(const struct service *svc, struct decision *d)
{
	unsigned want = d->family == AF_INET ? svc->hash_prefix_v4 : svc->hash_prefix_v6;
	unsigned bits = want < d->prefix ? want : d->prefix;
	uint64_t seed = mix64(((uint64_t)d->family << 8) | bits);
	d->hashed = 1;
	d->hash_prefix = (uint8_t)want;
	if (d->family == AF_INET) {
		/* hash_bytes of the masked 4 bytes, without the copy */
		uint32_t v;
		memcpy(&v, d->addr, 4);
		v = bits ? be32toh(v) & (0xffffffffu << (32 - bits)) : 0;
		d->client_hash = mix64(seed ^ v);
		return;
	}
	uint8_t a[16];
	net_mask(a, d->addr, 16, bits);
	d->client_hash = hash_bytes(seed, a, 16);
}

double decide_shed_draw(uint64_t client_hash)
{
	/* a hash of its own, so that the clients shed are not those of one
	 * split bucket range */
	return (double)(mix64(client_hash ^ 0x5e4d10ad5e4d10adull) >> 11) *
	       (1.0 / 9007199254740992.0);
}

/* pools[].load: does this pool pass the client over? Full pools pass
 * every client; a pool shedding a share s the clients whose draw is
 * below s (the same clients while the figure holds, more of them as it
 * grows). */
static int load_skips(const struct service *svc, const struct hpool *hp, struct decision *d)
{
	if (hp->full)
		return REGION_SKIP_FULL;
	if (hp->shed <= 0)
		return 0;
	if (!d->hashed)
		client_hash(svc, d); /* the answer now depends on the subnet */
	d->shed_draw = d->forced ? d->forced_draw : decide_shed_draw(d->client_hash);
	d->shed_drawn = 1;
	return d->shed_draw < hp->shed ? REGION_SKIP_SHED : 0;
}

uint64_t decide_member_draw(const struct decision *d, int family, const uint8_t *addr)
{
	return hash_bytes(d->client_hash ^ (uint64_t)family, addr, family == AF_INET ? 4 : 16) >>
	       11;
}

double decide_member_score(const struct decision *d, int family, const uint8_t *addr,
			   uint32_t weight)
{
	/* u in (0, 1); weighted rendezvous: -w / ln(u), highest wins */
	double u = ((double)decide_member_draw(d, family, addr) + 0.5) * (1.0 / 9007199254740992.0);
	return -(double)weight / log(u);
}

void decide(const struct snapshot *snap, const struct service *svc, int family, const uint8_t *addr,
	    uint8_t prefix, struct decision *d)
{
	decide_ex(snap, svc, family, addr, prefix, 0, d);
}

/* The location fields of a class's location into res (the lookup filled the
 * rest: override, prefixes, scope). */
static void class_location(const struct geo_result *rep, struct geo_result *res)
{
	memcpy(res->country, rep->country, sizeof(res->country));
	memcpy(res->continent, rep->continent, sizeof(res->continent));
	memcpy(res->subdivision, rep->subdivision, sizeof(res->subdivision));
	res->has_coords = rep->has_coords;
	res->lat = rep->lat;
	res->lon = rep->lon;
	res->coords_from_centroid = rep->coords_from_centroid;
}

/* With every pool tried down: the first step from `first` on whose pool
 * only the probes call down (fail-open answers it as if up); what an admin
 * drained or forced down stays out. -1 when there is none. */
static int fail_open_step(const struct service *svc, const struct health *h,
			  const struct decision *d, unsigned first)
{
	for (unsigned i = first; i < d->nsteps; i++) {
		const struct decide_step *st = &d->steps[i];
		if (st->state != REGION_SKIP_DOWN)
			continue;
		const struct pool *p = &svc->pools[svc->pool_of_region[st->region]];
		const struct hpool *hp = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
		if (hp && (hp->admin == OVERRIDE_DRAIN || hp->admin == OVERRIDE_FORCE_DOWN))
			continue;
		return (int)i;
	}
	return -1;
}

/* Stage 1, locate: the client's location from the compact table or the
 * database (and the overrides file). Returns the compact class, or
 * GEO_CLASS_EXACT when the database located the client itself. */
static uint32_t locate(const struct snapshot *snap, struct decision *d, unsigned flags)
{
	uint32_t cls = GEO_CLASS_EXACT;
	if (flags & DECIDE_UNLOCATED) {
		d->asn_looked = 1; /* no ASN either */
		return cls;
	}
	if (snap->geo && snap->gclass && !(flags & DECIDE_EXACT)) {
		geo_lookup_compact(snap->geo, snap->gclass->table, d->family, d->addr, &d->geo,
				   &cls);
		if (cls >= GEO_CLASS_FIRST && cls < snap->gclass->nclasses)
			class_location(&snap->gclass->rep[cls], &d->geo);
		else
			cls = GEO_CLASS_EXACT;
	} else if (snap->geo) {
		geo_lookup_flags(snap->geo, d->family, d->addr, &d->geo, GEO_NO_NETWORK);
	}
	const struct geo_override *ov = d->geo.override;
	if (ov && ov->nregions == 0 && ov->has_coords) {
		/* The override's location replaces the database's. */
		d->geo.has_coords = 1;
		d->geo.coords_from_centroid = 0;
		d->geo.lat = ov->lat;
		d->geo.lon = ov->lon;
		cls = GEO_CLASS_EXACT;
	}
	return cls;
}

static void order_usual(const struct snapshot *snap, const struct service *svc, struct decision *d,
			uint32_t cls);

/* A split route rule: the region of the client subnet's bucket first, then
 * the client's usual order (where a down split region's clients go). */
static void order_split(const struct snapshot *snap, const struct service *svc, struct decision *d,
			uint32_t cls)
{
	const struct route *rt = d->route;
	client_hash(svc, d);
	d->split_bucket = d->forced ? d->forced_bucket % ROUTE_SPLIT_RING :
				      (uint32_t)(d->client_hash % ROUTE_SPLIT_RING);
	size_t k = 0;
	while (k + 1 < rt->nregions && d->split_bucket >= rt->split_end[k])
		k++;
	unsigned r = rt->regions[k];
	d->split_region = (int)r;
	order_usual(snap, svc, d, cls);
	d->rule = RULE_ROUTE;
	unsigned pos = 0;
	while (pos < d->nsteps && d->steps[pos].region != r)
		pos++;
	struct decide_step first;
	if (pos < d->nsteps) {
		first = d->steps[pos];
	} else {
		double cs, cc;
		client_trig(d, &cs, &cc);
		first.region = (uint8_t)r;
		first.state = REGION_NOT_TRIED;
		first.cos_angle = region_cos(snap, d, r, cs, cc);
		if (d->nsteps < GSLB_MAX_REGIONS)
			d->nsteps++;
		pos = d->nsteps - 1;
	}
	memmove(&d->steps[1], &d->steps[0], pos * sizeof(d->steps[0]));
	d->steps[0] = first;
}

/* Stage 2, order: the regions in the order the client tries them, and the
 * rule that gave it (override list, route rule, distance, default, config
 * order). */
static void order(const struct snapshot *snap, const struct service *svc, struct decision *d,
		  uint32_t cls)
{
	const struct geo_override *ov = d->geo.override;
	if (ov && ov->nregions > 0) {
		d->rule = RULE_OVERRIDE;
		d->located = 1;
		order_by_list(snap, d, snap->override_regions[ov - geo_override_at(snap->geo, 0)],
			      ov->nregions);
		return;
	}
	d->located = d->geo.has_coords || d->geo.country[0] != 0;
	for (size_t i = 0; i < svc->nroutes; i++) {
		if (route_matches(snap, &svc->routes[i], d)) {
			d->rule = RULE_ROUTE;
			d->route = &svc->routes[i];
			if (d->route->split_end) {
				order_split(snap, svc, d, cls);
				return;
			}
			order_by_list(snap, d, d->route->regions, d->route->nregions);
			return;
		}
	}
	order_usual(snap, svc, d, cls);
}

/* The order without a route rule: distance, else default, else config. */
static void order_usual(const struct snapshot *snap, const struct service *svc, struct decision *d,
			uint32_t cls)
{
	if (d->geo.has_coords) {
		d->rule = RULE_DISTANCE;
		if (cls >= GEO_CLASS_FIRST)
			order_by_class(snap, d, cls);
		else
			order_by_distance(snap, d);
	} else if (svc->dflt) {
		d->rule = RULE_DEFAULT;
		order_by_list(snap, d, svc->dflt, svc->ndflt);
	} else {
		d->rule = RULE_CONFIG;
		order_config(snap, d);
	}
}

/* Stage 4, all down: every region tried is down, and the service's policy
 * decides, here for DNS, HTTP and explain alike. */
static void all_down(const struct service *svc, const struct health *h, struct decision *d,
		     int first_with_pool)
{
	int open = -1;
	d->all_down = 1;
	if (svc->when_all_down == ALL_DOWN_FAIL_OPEN || svc->when_all_down == ALL_DOWN_FALLBACK)
		open = fail_open_step(svc, h, d, (unsigned)first_with_pool);
	if (svc->when_all_down == ALL_DOWN_FAIL_OPEN && open >= 0) {
		struct decide_step *st = &d->steps[open];
		const struct pool *p = &svc->pools[svc->pool_of_region[st->region]];
		st->state = REGION_TAKEN;
		d->region = st->region;
		d->redirect_region = st->region;
		d->pool = p;
		d->hpool = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
		d->fail_open = 1;
	} else if (svc->when_all_down == ALL_DOWN_FALLBACK) {
		/* DNS answers the fallback, which names no region; a redirect
		 * can only name one: where fail-open would go, never a region
		 * drained or forced down. */
		d->pool = &svc->fallback;
		if (open >= 0)
			d->redirect_region = d->steps[open].region;
	}
}

/* Stage 3, health: the first region in order, within the service's limit,
 * whose pool is up; then stage 4 when there is none. */
static void take(const struct snapshot *snap, const struct service *svc, struct decision *d)
{
	const struct health *h = rcu_dereference(((struct snapshot *)snap)->health);
	int first_with_pool = -1, first_loaded = -1;
	for (unsigned i = 0; i < d->nsteps; i++) {
		struct decide_step *st = &d->steps[i];
		if (svc->limit && i >= svc->limit) {
			st->state = REGION_BEYOND_LIMIT;
			continue;
		}
		if (d->region >= 0)
			continue; /* stays REGION_NOT_TRIED */
		int pi = svc->pool_of_region[st->region];
		if (pi < 0) {
			st->state = REGION_SKIP_NO_POOL;
			continue;
		}
		const struct pool *p = &svc->pools[pi];
		const struct hpool *hp = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
		if (first_with_pool < 0)
			first_with_pool = (int)i;
		if (hp && !hp->up) {
			st->state = REGION_SKIP_DOWN;
			continue;
		}
		int skip = hp ? load_skips(svc, hp, d) : 0;
		if (skip) {
			st->state = (uint8_t)skip;
			d->shed_moved = 1;
			if (first_loaded < 0)
				first_loaded = (int)i;
			continue;
		}
		st->state = REGION_TAKEN;
		d->region = st->region;
		d->pool = p;
		d->hpool = hp;
	}
	if (d->region < 0 && first_loaded >= 0) {
		/* Every region up is full or sheds this client: a loaded
		 * region is better than none; the first of them answers. */
		struct decide_step *st = &d->steps[first_loaded];
		const struct pool *p = &svc->pools[svc->pool_of_region[st->region]];
		st->state = REGION_TAKEN_LOADED;
		d->region = st->region;
		d->pool = p;
		d->hpool = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
	}
	d->redirect_region = d->region;
	if (d->region < 0 && first_with_pool >= 0)
		all_down(svc, h, d, first_with_pool);
}

/* Stage 5, TTL: never longer than the earliest a healthy member could go
 * down; ttl_min while the answer may soon change. */
static void set_ttl(const struct snapshot *snap, const struct service *svc, struct decision *d)
{
	d->ttl = svc->ttl;
	if (d->hpool && d->hpool->failing && !d->fail_open) {
		/* A member answering now may be gone soon: bring resolvers back. */
		d->ttl = svc->ttl_min;
	} else if (d->pool && d->pool->check_idx >= 0) {
		const struct check *ck = &snap->conf->checks[d->pool->check_idx];
		double soonest = ck->interval * ck->fall;
		if (soonest < (double)d->ttl)
			d->ttl = soonest < 1.0 ? 1 : (uint32_t)soonest;
	}
	if (d->all_down)
		d->ttl = svc->ttl_min; /* the documented TTL of every all-down answer */
}

static void decide_run(const struct snapshot *snap, const struct service *svc, int family,
		       const uint8_t *addr, uint8_t prefix, unsigned flags, struct decision *d);

void decide_ex(const struct snapshot *snap, const struct service *svc, int family,
	       const uint8_t *addr, uint8_t prefix, unsigned flags, struct decision *d)
{
	memset(d, 0, sizeof(*d));
	decide_run(snap, svc, family, addr, prefix, flags, d);
}

void decide_forced(const struct snapshot *snap, const struct service *svc, int family,
		   const uint8_t *addr, uint8_t prefix, unsigned flags, uint32_t bucket,
		   double draw, struct decision *d)
{
	memset(d, 0, sizeof(*d));
	d->forced = 1;
	d->forced_bucket = bucket;
	d->forced_draw = draw;
	decide_run(snap, svc, family, addr, prefix, flags, d);
}

static void decide_run(const struct snapshot *snap, const struct service *svc, int family,
		       const uint8_t *addr, uint8_t prefix, unsigned flags, struct decision *d)
{
	d->svc = svc;
	d->family = family;
	d->prefix = prefix;
	d->region = -1;
	d->redirect_region = -1;
	d->split_region = -1;
	d->ttl = svc->ttl;
	memcpy(d->addr, addr, family == AF_INET ? 4 : 16);
	unwrap_v4(d);

	uint32_t cls = locate(snap, d, flags);
	order(snap, svc, d, cls);
	take(snap, svc, d);
	set_ttl(snap, svc, d);
	if (svc->members_pick == PICK_STICKY && !d->hashed)
		client_hash(svc, d);
	d->scope = compute_scope(snap, d);
}

/* ---- geoip.compact: answer classes ---------------------------------------- */

/* What decide() reads of a location, reduced to what can change an answer
 * under this config: whether there is a record, a location and a country;
 * the country, continent and subdivision only when a route rule names that
 * code; and, with coordinates, the order of all regions by (biased) distance with
 * its ties. Two locations with the same key get the same region order for
 * every service (a service orders its own regions by distance, ties in
 * pool order, which is the global order filtered), the same route rule,
 * and so the same answer; the class table keeps one location per key and
 * decide() uses it for every network of that class. */
struct class_key {
	uint8_t flags;
	char country[3];
	char continent[3];
	char subdivision[16];
	uint8_t order[GSLB_MAX_REGIONS];
	uint8_t pad;   /* explicit: keys are hashed and compared as bytes */
	uint64_t ties; /* bit i: order[i] is as near as order[i - 1] */
};

#define CK_FOUND 1u
#define CK_COORDS 2u
#define CK_COUNTRY 4u

struct class_build {
	const struct snapshot *snap;
	struct geo_classes *gc;
	uint32_t *slots; /* class id per hash slot, 0 = empty */
	size_t mask;
	struct class_key *keys; /* by class id */
	size_t cap;
	struct {
		enum route_kind kind;
		const char *code;
	} * codes; /* the codes route rules name, once each */
	size_t ncodes;
};

/* Is code named by a route rule of this kind in any service? The codes are
 * gathered once per build (class_codes). */
static int route_code_used(const struct class_build *b, enum route_kind kind, const char *code)
{
	if (!code[0])
		return 0;
	for (size_t i = 0; i < b->ncodes; i++)
		if (b->codes[i].kind == kind && strcmp(b->codes[i].code, code) == 0)
			return 1;
	return 0;
}

static int class_codes(struct class_build *b)
{
	const struct conf *c = b->snap->conf;
	size_t n = 0;
	for (size_t i = 0; i < c->nservices; i++)
		n += c->services[i].nroutes;
	b->codes = calloc(n ? n : 1, sizeof(*b->codes));
	if (!b->codes)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t j = 0; j < svc->nroutes; j++) {
			const struct route *r = &svc->routes[j];
			if (r->kind == ROUTE_NET || r->kind == ROUTE_ASN ||
			    route_code_used(b, r->kind, r->code))
				continue;
			b->codes[b->ncodes].kind = r->kind;
			b->codes[b->ncodes].code = r->code;
			b->ncodes++;
		}
	}
	return 0;
}

static void class_key_of(const struct class_build *b, const struct geo_result *res,
			 struct class_key *k)
{
	const struct snapshot *snap = b->snap;
	memset(k, 0, sizeof(*k));
	k->flags = (uint8_t)((res->db_found ? CK_FOUND : 0) | (res->has_coords ? CK_COORDS : 0) |
			     (res->country[0] ? CK_COUNTRY : 0));
	if (route_code_used(b, ROUTE_COUNTRY, res->country))
		memcpy(k->country, res->country, sizeof(k->country));
	if (route_code_used(b, ROUTE_CONTINENT, res->continent))
		memcpy(k->continent, res->continent, sizeof(k->continent));
	if (route_code_used(b, ROUTE_SUBDIVISION, res->subdivision))
		memcpy(k->subdivision, res->subdivision, sizeof(k->subdivision));
	if (!res->has_coords)
		return;
	/* The very cosines decide() computes, from the same functions. */
	struct decision d;
	double cs, cc, cosv[GSLB_MAX_REGIONS];
	size_t n = snap->conf->nregions;
	memset(&d, 0, sizeof(d));
	d.geo = *res;
	client_trig(&d, &cs, &cc);
	for (size_t r = 0; r < n; r++) {
		/* the ordering key of order_by_distance (biased when so configured) */
		cosv[r] = region_key(snap, (unsigned)r, region_cos(snap, &d, (unsigned)r, cs, cc));
		/* insertion by cosine, nearest first, ties in region order */
		size_t pos = r;
		while (pos > 0 && cosv[k->order[pos - 1]] < cosv[r]) {
			k->order[pos] = k->order[pos - 1];
			pos--;
		}
		k->order[pos] = (uint8_t)r;
	}
	for (size_t i = 1; i < n; i++)
		if (cosv[k->order[i]] == cosv[k->order[i - 1]])
			k->ties |= 1ull << i;
}

static uint32_t class_hash(const struct class_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int class_grow(struct class_build *b)
{
	size_t nmask = b->mask ? b->mask * 2 + 1 : 1023;
	uint32_t *ns = calloc(nmask + 1, sizeof(*ns));
	if (!ns)
		return GSLB_ENOMEM;
	for (size_t i = 0; b->slots && i <= b->mask; i++) {
		uint32_t id = b->slots[i];
		if (!id)
			continue;
		size_t j = class_hash(&b->keys[id]) & nmask;
		while (ns[j])
			j = (j + 1) & nmask;
		ns[j] = id;
	}
	free(b->slots);
	b->slots = ns;
	b->mask = nmask;
	return 0;
}

static int class_of(void *arg, const struct geo_result *res, uint32_t *cls)
{
	struct class_build *b = arg;
	struct geo_classes *gc = b->gc;
	struct class_key k;

	class_key_of(b, res, &k);
	if ((gc->nclasses + 1) * 2 > b->mask + 1 && class_grow(b))
		return GSLB_ENOMEM;
	size_t j = class_hash(&k) & b->mask;
	while (b->slots[j]) {
		if (memcmp(&b->keys[b->slots[j]], &k, sizeof(k)) == 0) {
			*cls = b->slots[j];
			return 0;
		}
		j = (j + 1) & b->mask;
	}
	if (gc->nclasses >= b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		struct class_key *nk = realloc(b->keys, ncap * sizeof(*nk));
		if (!nk)
			return GSLB_ENOMEM;
		b->keys = nk;
		struct geo_result *nr = realloc(gc->rep, ncap * sizeof(*nr));
		if (!nr)
			return GSLB_ENOMEM;
		gc->rep = nr;
		b->cap = ncap;
	}
	uint32_t id = (uint32_t)gc->nclasses++;
	b->keys[id] = k;
	gc->rep[id] = *res;
	b->slots[j] = id;
	*cls = id;
	return 0;
}

int decide_build_classes(const struct snapshot *snap, struct geo_classes **out, char *err,
			 size_t errlen)
{
	struct class_build b;
	struct geo_classes *gc = calloc(1, sizeof(*gc));
	int rc;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if (!gc) {
		snprintf(err, errlen, "geoip.compact: out of memory");
		return GSLB_ENOMEM;
	}
	b.snap = snap;
	b.gc = gc;
	/* ids 0 and 1 are the table's own (no record, ask the database) */
	gc->nclasses = GEO_CLASS_FIRST;
	b.cap = 256;
	b.keys = calloc(b.cap, sizeof(*b.keys));
	gc->rep = calloc(b.cap, sizeof(*gc->rep));
	rc = (b.keys && gc->rep) ? class_grow(&b) : GSLB_ENOMEM;
	if (!rc)
		rc = class_codes(&b);
	if (!rc)
		rc = geo_compact_build(snap->geo, class_of, &b, &gc->table);
	free(b.slots);
	free(b.codes);
	if (rc) {
		free(b.keys);
		snprintf(err, errlen, "%s: geoip.compact: %s", geo_db_path(snap->geo),
			 rc == GSLB_ENOMEM ? "out of memory" : "damaged database tree");
		decide_free_classes(gc);
		return rc;
	}
	struct geo_result *r = realloc(gc->rep, gc->nclasses * sizeof(*r));
	if (r)
		gc->rep = r;
	size_t nregions = snap->conf->nregions;
	gc->order = calloc(gc->nclasses, nregions ? nregions : 1);
	gc->ties = calloc(gc->nclasses, sizeof(*gc->ties));
	if (!gc->order || !gc->ties) {
		free(b.keys);
		snprintf(err, errlen, "geoip.compact: out of memory");
		decide_free_classes(gc);
		return GSLB_ENOMEM;
	}
	for (size_t i = GEO_CLASS_FIRST; i < gc->nclasses; i++) {
		memcpy(gc->order + i * nregions, b.keys[i].order, nregions);
		gc->ties[i] = b.keys[i].ties;
	}
	free(b.keys);
	*out = gc;
	return 0;
}

void decide_free_classes(struct geo_classes *gc)
{
	if (!gc)
		return;
	geo_compact_free(gc->table);
	free(gc->rep);
	free(gc->order);
	free(gc->ties);
	free(gc);
}
