/* Decision engine: client subnet -> location -> ordered regions -> the
 * first region with a usable pool, plus the ECS scope that keeps resolver
 * caches correct. One function serves DNS, HTTP and explain, so what
 * explain prints is what clients get. */
#include "gslb/decide.h"

#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include <urcu/urcu-memb.h>

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

static int bits_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static int route_matches(const struct route *r, const struct decision *d)
{
	switch (r->kind) {
	case ROUTE_COUNTRY:
		return d->geo.country[0] && strcmp(r->code, d->geo.country) == 0;
	case ROUTE_CONTINENT:
		return d->geo.continent[0] && strcmp(r->code, d->geo.continent) == 0;
	case ROUTE_SUBDIVISION:
		return d->geo.subdivision[0] && strcmp(r->code, d->geo.subdivision) == 0;
	case ROUTE_NET:
		/* The whole client subnet must be inside the rule's net. */
		return r->family == d->family && d->prefix >= r->prefix &&
		       bits_match(r->addr, d->addr, r->prefix);
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
	double cs, cc;
	client_trig(d, &cs, &cc);
	/* Only regions where the service has a pool compete on distance. */
	for (size_t i = 0; i < svc->npools; i++) {
		unsigned r = svc->pools[i].region;
		double cv = region_cos(snap, d, r, cs, cc);
		/* insertion sort, nearest (largest cosine) first: a few dozen
		 * regions at most; ties keep config order */
		unsigned pos = d->nsteps;
		while (pos > 0 && d->steps[pos - 1].cos_angle < cv)
			pos--;
		if (d->nsteps >= GSLB_MAX_REGIONS)
			break;
		memmove(&d->steps[pos + 1], &d->steps[pos],
			(d->nsteps - pos) * sizeof(d->steps[0]));
		d->steps[pos].region = (uint8_t)r;
		d->steps[pos].state = REGION_NOT_TRIED;
		d->steps[pos].cos_angle = cv;
		d->nsteps++;
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
	if (svc->npools <= 1)
		return 0; /* one region: the answer does not depend on location */
	unsigned s = d->geo.scope_prefix;
	for (size_t i = 0; i < svc->nroutes; i++) {
		const struct route *r = &svc->routes[i];
		if (r->kind != ROUTE_NET || r->family != d->family)
			continue;
		unsigned common = r->prefix < d->prefix ? r->prefix : d->prefix;
		if (bits_match(r->addr, d->addr, common) && r->prefix > s)
			s = r->prefix;
	}
	unsigned max = d->family == AF_INET ? 32 : 128;
	if (s > max)
		s = max;
	if (d->unwrapped_v4)
		s += d->unwrap_shift;
	(void)snap;
	return (uint8_t)s;
}

void decide(const struct snapshot *snap, const struct service *svc, int family, const uint8_t *addr,
	    uint8_t prefix, struct decision *d)
{
	memset(d, 0, sizeof(*d));
	d->svc = svc;
	d->family = family;
	d->prefix = prefix;
	d->region = -1;
	d->ttl = svc->ttl;
	memcpy(d->addr, addr, family == AF_INET ? 4 : 16);
	unwrap_v4(d);

	if (snap->geo)
		geo_lookup_flags(snap->geo, d->family, d->addr, &d->geo, GEO_NO_NETWORK);

	const struct geo_override *ov = d->geo.override;
	if (ov && ov->nregions > 0) {
		d->rule = RULE_OVERRIDE;
		d->located = 1;
		order_by_list(snap, d, snap->override_regions[ov - geo_override_at(snap->geo, 0)],
			      ov->nregions);
		goto choose;
	}
	if (ov && ov->has_coords) {
		/* The override's location replaces the database's. */
		d->geo.has_coords = 1;
		d->geo.coords_from_centroid = 0;
		d->geo.lat = ov->lat;
		d->geo.lon = ov->lon;
	}
	d->located = d->geo.has_coords || d->geo.country[0] != 0;
	for (size_t i = 0; i < svc->nroutes; i++) {
		if (route_matches(&svc->routes[i], d)) {
			d->rule = RULE_ROUTE;
			d->route = &svc->routes[i];
			order_by_list(snap, d, d->route->regions, d->route->nregions);
			goto choose;
		}
	}
	if (d->geo.has_coords) {
		d->rule = RULE_DISTANCE;
		order_by_distance(snap, d);
	} else if (svc->dflt) {
		d->rule = RULE_DEFAULT;
		order_by_list(snap, d, svc->dflt, svc->ndflt);
	} else {
		d->rule = RULE_CONFIG;
		order_config(snap, d);
	}

choose:;
	const struct health *h = rcu_dereference(((struct snapshot *)snap)->health);
	int first_with_pool = -1;
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
		st->state = REGION_TAKEN;
		d->region = st->region;
		d->pool = p;
		d->hpool = hp;
	}
	if (d->region < 0 && first_with_pool >= 0) {
		/* Every region tried is down: the service's policy decides. */
		d->all_down = 1;
		if (svc->when_all_down == ALL_DOWN_FAIL_OPEN) {
			/* As if the probes said up; what an admin drained or
			 * forced down stays out. */
			for (unsigned i = (unsigned)first_with_pool; i < d->nsteps; i++) {
				struct decide_step *st = &d->steps[i];
				if (st->state != REGION_SKIP_DOWN)
					continue;
				const struct pool *p = &svc->pools[svc->pool_of_region[st->region]];
				const struct hpool *hp =
					h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
				if (hp &&
				    (hp->admin == ADMIN_DRAIN || hp->admin == ADMIN_FORCE_DOWN))
					continue;
				st->state = REGION_TAKEN;
				d->region = st->region;
				d->pool = p;
				d->hpool = hp;
				d->fail_open = 1;
				break;
			}
		} else if (svc->when_all_down == ALL_DOWN_FALLBACK) {
			d->pool = &svc->fallback;
		}
	}
	d->ttl = svc->ttl;
	if (d->hpool && d->hpool->failing && !d->fail_open) {
		/* A member answering now may be gone soon: bring resolvers back. */
		d->ttl = svc->ttl_min;
	} else if (d->pool && d->pool->check_idx >= 0) {
		/* Never longer than the earliest a healthy member could go down. */
		const struct check *ck = &snap->conf->checks[d->pool->check_idx];
		double soonest = ck->interval * ck->fall;
		if (soonest < (double)d->ttl)
			d->ttl = soonest < 1.0 ? 1 : (uint32_t)soonest;
	}
	if (d->all_down)
		d->ttl = svc->ttl_min; /* the documented TTL of every all-down answer */
	d->scope = compute_scope(snap, d);
}
