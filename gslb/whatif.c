/* What-if and the evaluating config check.
 *
 * Operators want to know, before maintenance, where a region's clients go
 * when it is drained, and after a config change, which regions receive any
 * traffic at all. Both questions are answered over the whole database, not a
 * handful of addresses: the database is walked once (geo_walk) and its
 * networks are grouped by country and family. Each group keeps at most
 * WHATIF_BUCKETS runs of consecutive networks with equal network counts (runs
 * are merged pairwise as the group grows, so memory stays fixed whatever the
 * database), and the largest network of each run stands for the whole run:
 * decide() is asked once per run and service, and the run's address space
 * goes where that decision goes. A country that goes to one region is
 * therefore counted exactly; one that the engine splits (distance inside a
 * large country, subdivision rules) is approximated by up to WHATIF_BUCKETS
 * samples per family. Overrides and net: rules apply to a sample only as its
 * representative network sees them. Splits and load shedding are not
 * sampled: a sample whose decision depends on the client's split bucket or
 * shedding draw is cut into the stretches of the ring and the intervals of
 * draws where the decision is constant, each weighed by its size
 * (expand_points, decide_forced).
 *
 * Decisions run on a private copy of the snapshot header whose health view
 * has the changes applied through health_compute(), so they are exactly the
 * decisions DNS would make once the same overrides were set. */
#include "gslb/whatif.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gslb/decide.h"
#include "gslb/err.h"
#include "gslb/geo.h"
#include "gslb/health.h"
#include "gslb/log.h"
#include "gslb/snapshot.h"

/* Runs per (country, family): enough to see a country split between a few
 * regions, few enough that a thousand services evaluate in a second. */
#define WHATIF_BUCKETS 16
/* Country slots: AA..ZZ, then one for records without a country. */
#define WI_NCC (26 * 26 + 1)
#define WI_NOCC (WI_NCC - 1)
/* Countries named per row in the text report; JSON has them all. */
#define WI_PRINT_COUNTRIES 12

struct wi_bucket {
	double space; /* addresses in the run */
	double rep_space;
	uint64_t nets;
	uint8_t rep_addr[16];
	uint8_t rep_prefix;
};

struct wi_group {
	uint64_t cap; /* networks per run */
	unsigned nb;
	struct wi_bucket b[WHATIF_BUCKETS];
};

/* One sample: a run of networks and its representative; with forced, the
 * part of it in one stretch of a split's ring and one interval of load
 * shedding draws (expand_points). */
struct wi_point {
	int family;
	uint16_t cc;
	uint8_t addr[16];
	uint8_t prefix;
	uint8_t forced;
	uint32_t bucket;
	double draw;
	double space;
};

struct wi_sample {
	struct wi_group *groups[WI_NCC * 2]; /* [cc * 2 + (family == AF_INET6)] */
	uint64_t nets[2];
	double total[2];
	struct wi_point *pts;
	size_t npts;
	size_t ncountries;
};

struct wi_change {
	uint8_t state;
	const char *action; /* canonical: down, force-down, drain, up, force-up */
	int probe;          /* down/up: as if the probes said so, not an admin */
	struct override ov;
};

/* ------------------------------------------------------------ sampling */

static unsigned cc_index(const char *cc)
{
	if (cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z' && !cc[2])
		return (unsigned)(cc[0] - 'A') * 26u + (unsigned)(cc[1] - 'A');
	return WI_NOCC;
}

static void cc_text(unsigned idx, char out[3])
{
	if (idx >= WI_NOCC) {
		out[0] = out[1] = '?';
	} else {
		out[0] = (char)('A' + idx / 26);
		out[1] = (char)('A' + idx % 26);
	}
	out[2] = '\0';
}

static void bucket_merge(struct wi_bucket *dst, const struct wi_bucket *a,
			 const struct wi_bucket *b)
{
	struct wi_bucket m = *a;
	m.space += b->space;
	m.nets += b->nets;
	if (b->rep_space > a->rep_space) {
		m.rep_space = b->rep_space;
		m.rep_prefix = b->rep_prefix;
		memcpy(m.rep_addr, b->rep_addr, 16);
	}
	*dst = m;
}

static int sample_cb(void *arg, int family, const uint8_t *addr, unsigned prefix,
		     const struct geo_result *res)
{
	struct wi_sample *s = arg;
	unsigned cc = cc_index(res->country);
	int fi = family == AF_INET6;
	struct wi_group *g = s->groups[cc * 2 + (unsigned)fi];
	struct wi_bucket *b;
	double space = ldexp(1.0, (fi ? 128 : 32) - (int)prefix);

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return GSLB_ENOMEM;
		g->cap = 1;
		s->groups[cc * 2 + (unsigned)fi] = g;
	}
	if (!g->nb || g->b[g->nb - 1].nets >= g->cap) {
		if (g->nb == WHATIF_BUCKETS) {
			/* Full: halve the number of runs, double their length. */
			for (unsigned i = 0; i < WHATIF_BUCKETS / 2; i++)
				bucket_merge(&g->b[i], &g->b[2 * i], &g->b[2 * i + 1]);
			g->nb = WHATIF_BUCKETS / 2;
			g->cap *= 2;
		}
		memset(&g->b[g->nb], 0, sizeof(g->b[0]));
		g->nb++;
	}
	b = &g->b[g->nb - 1];
	b->space += space;
	b->nets++;
	if (space > b->rep_space) {
		b->rep_space = space;
		b->rep_prefix = (uint8_t)prefix;
		memset(b->rep_addr, 0, 16);
		memcpy(b->rep_addr, addr, fi ? 16 : 4);
	}
	s->nets[fi]++;
	s->total[fi] += space;
	return 0;
}

static void sample_free(struct wi_sample *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < WI_NCC * 2; i++)
		free(s->groups[i]);
	free(s->pts);
	free(s);
}

/* Walk the database once; the points come out ordered by country, then
 * family, so one country's points are adjacent. */
static int sample_db(const struct geo_db *g, struct wi_sample **out)
{
	struct wi_sample *s = calloc(1, sizeof(*s));
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!s)
		return GSLB_ENOMEM;
	rc = geo_walk(g, sample_cb, s);
	if (rc)
		goto out;
	for (size_t i = 0; i < WI_NCC * 2; i++)
		n += s->groups[i] ? s->groups[i]->nb : 0;
	s->pts = calloc(n ? n : 1, sizeof(*s->pts));
	if (!s->pts) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	for (unsigned cc = 0; cc < WI_NCC; cc++) {
		int seen = 0;
		for (unsigned fi = 0; fi < 2; fi++) {
			const struct wi_group *gr = s->groups[cc * 2 + fi];
			for (unsigned k = 0; gr && k < gr->nb; k++) {
				struct wi_point *p = &s->pts[s->npts++];
				p->family = fi ? AF_INET6 : AF_INET;
				p->cc = (uint16_t)cc;
				memcpy(p->addr, gr->b[k].rep_addr, 16);
				p->prefix = gr->b[k].rep_prefix;
				p->space = gr->b[k].space;
				seen = 1;
			}
		}
		if (seen && cc != WI_NOCC)
			s->ncountries++;
	}
	*out = s;
	s = NULL;
out:
	sample_free(s);
	return rc;
}

/* ------------------------------------------------------------ changes */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* "down" plays an outage (the probes' verdict, so when_all_down =
 * fail-open may still answer a region that is down); "force-down",
 * "force-up" and "drain" play the admin overrides of the same names, which
 * fail-open respects; "up" is "force-up", the one way to bring a target
 * back (gslbctl force-up), so that it also stops load shedding as the
 * decision does for a pool forced up. */
static int parse_action(const char *w, size_t n, uint8_t *state, const char **canon, int *probe)
{
	static const struct {
		const char *name;
		uint8_t state;
		const char *canon;
		int probe;
	} actions[] = {
		{ "down", OVERRIDE_FORCE_DOWN, "down", 1 },
		{ "force-down", OVERRIDE_FORCE_DOWN, "force-down", 0 },
		{ "drain", OVERRIDE_DRAIN, "drain", 0 },
		{ "up", OVERRIDE_FORCE_UP, "up", 0 },
		{ "force-up", OVERRIDE_FORCE_UP, "force-up", 0 },
	};
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strlen(actions[i].name) == n && !strncmp(w, actions[i].name, n)) {
			*state = actions[i].state;
			*canon = actions[i].canon;
			*probe = actions[i].probe;
			return 0;
		}
	}
	return GSLB_EINVAL;
}

/* One "ACTION TARGET" item, blanks trimmed by the caller. */
static int parse_item(const struct snapshot *snap, const char *item, size_t len,
		      struct wi_change *ch, char *err, size_t errlen)
{
	char target[sizeof(ch->ov.target)], why[600];
	size_t w = 0, t;
	int rc;

	while (w < len && !is_blank(item[w]))
		w++;
	if (parse_action(item, w, &ch->state, &ch->action, &ch->probe)) {
		snprintf(
			err, errlen,
			"what-if \"%.*s\": unknown action \"%.*s\" (down, up, drain, force-down, force-up)",
			(int)len, item, (int)w, item);
		return GSLB_EINVAL;
	}
	t = w;
	while (t < len && is_blank(item[t]))
		t++;
	if (t == len) {
		snprintf(err, errlen,
			 "what-if \"%.*s\": %s what? (a region, region:R, pool:SERVICE/R or "
			 "member:SERVICE/R/ADDRESS)",
			 (int)len, item, ch->action);
		return GSLB_EINVAL;
	}
	/* A bare name is a region: "down eu-east", as operators say it. */
	if (memchr(item + t, ':', len - t))
		rc = snprintf(target, sizeof(target), "%.*s", (int)(len - t), item + t);
	else
		rc = snprintf(target, sizeof(target), "region:%.*s", (int)(len - t), item + t);
	if (rc < 0 || (size_t)rc >= sizeof(target)) {
		snprintf(err, errlen, "what-if: target too long");
		return GSLB_EINVAL;
	}
	why[0] = '\0';
	rc = health_parse_target(snap, target, &ch->ov, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "what-if \"%.*s\": %s", (int)len, item,
			 why[0] ? why : gslb_strerror(rc));
		return GSLB_EINVAL;
	}
	ch->ov.state = ch->state;
	return 0;
}

/* Items are separated by ',' ';' or new lines; empty items are ignored. */
static int parse_changes(const struct snapshot *snap, const char *const *texts, size_t ntexts,
			 struct wi_change **out, size_t *nout, char *err, size_t errlen)
{
	struct wi_change *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; i < ntexts; i++) {
		const char *p = texts[i];
		while (*p) {
			const char *end = p + strcspn(p, ",;\n");
			const char *a = p, *b = end;
			while (a < b && is_blank(*a))
				a++;
			while (b > a && is_blank(b[-1]))
				b--;
			if (b > a) {
				if (n == cap) {
					size_t ncap = cap ? cap * 2 : 4;
					struct wi_change *nv;
					if (ncap > WHATIF_MAX_CHANGES * 4) {
						snprintf(err, errlen, "what-if: too many changes");
						rc = GSLB_EINVAL;
						goto out;
					}
					nv = realloc(v, ncap * sizeof(*nv));
					if (!nv) {
						rc = GSLB_ENOMEM;
						goto out;
					}
					v = nv;
					cap = ncap;
				}
				memset(&v[n], 0, sizeof(v[n]));
				rc = parse_item(snap, a, (size_t)(b - a), &v[n], err, errlen);
				if (rc)
					goto out;
				n++;
			}
			p = *end ? end + 1 : end;
		}
	}
	if (!n && ntexts) {
		snprintf(err, errlen,
			 "what-if: no change given (\"down REGION\", \"drain REGION\")");
		rc = GSLB_EINVAL;
	}
out:
	if (rc) {
		free(v);
		v = NULL;
		n = 0;
	}
	*out = v;
	*nout = n;
	return rc;
}

/* Does an override target (canonical form) name this pool or member? */
static int target_matches(const struct override *o, const char *svc, const char *region,
			  const char *addr, const char *member_text)
{
	char key[600];
	switch (o->kind) {
	case OVERRIDE_REGION:
		snprintf(key, sizeof(key), "region:%s", region);
		return strcmp(key, o->target) == 0;
	case OVERRIDE_POOL:
		snprintf(key, sizeof(key), "pool:%s/%s", svc, region);
		return strcmp(key, o->target) == 0;
	case OVERRIDE_MEMBER:
		snprintf(key, sizeof(key), "member:%s/%s/%s", svc, region, addr);
		if (strcmp(key, o->target) == 0)
			return 1;
		snprintf(key, sizeof(key), "member:%s/%s/%s", svc, region, member_text);
		return strcmp(key, o->target) == 0;
	}
	return 0;
}

/* An outage or recovery: every member the target covers gets the probes'
 * verdict, as if they had run. */
static void set_probe_state(const struct snapshot *snap, struct health *h, const struct override *o,
			    uint8_t state)
{
	const struct conf *c = snap->conf;
	char st[300], at[64];
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		dname_to_str(svc->lname, st, sizeof(st));
		size_t l = strlen(st);
		if (l > 1 && st[l - 1] == '.')
			st[l - 1] = '\0';
		for (size_t p = 0; p < svc->npools; p++) {
			const struct pool *pl = &svc->pools[p];
			struct hpool *hp = &h->pools[pl->gidx];
			const char *rname = c->regions[pl->region].name;
			for (size_t m = 0; m < hp->nmembers; m++) {
				struct hmember *mb = &hp->members[m];
				if (!inet_ntop(mb->family, mb->addr, at, sizeof(at)))
					at[0] = '\0';
				const struct member *cm = &pl->members[mb->member];
				if (!target_matches(o, st, rname, at,
						    cm->hostname ? cm->hostname : cm->text))
					continue;
				mb->state = state;
				mb->fails = 0;
				mb->oks = 0;
			}
		}
	}
}

/* The view after the changes: the admin table in force plus the changes
 * (later ones win), computed by the same function the prober uses. */
static int apply_changes(const struct snapshot *snap, const struct health *base,
			 const struct override_table *admin, const struct wi_change *ch, size_t n,
			 struct health **out)
{
	struct override_table t = { 0 };
	struct health *h = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; admin && i < admin->n && !rc; i++)
		rc = override_table_set(&t, &admin->v[i]);
	for (size_t i = 0; i < n && !rc; i++) {
		struct override o = ch[i].ov;
		if (ch[i].probe)
			continue; /* applied to the members' states below */
		o.since = now;
		rc = override_table_set(&t, &o);
	}
	if (rc)
		goto out;
	h = base ? health_clone(base) : health_initial(snap, NULL, NULL, NULL, &t, now);
	if (!h) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (ch[i].probe)
			set_probe_state(snap, h, &ch[i].ov,
					ch[i].state == OVERRIDE_FORCE_DOWN ? HEALTH_DOWN :
									     HEALTH_UP);
	health_compute(h, snap, &t, NULL, now);
	*out = h;
out:
	override_table_free(&t);
	return rc;
}

/* ------------------------------------------------------------ evaluation */

/* Where one decision sends the client: a region index, or nregions for no
 * region (when_all_down nodata, servfail or fallback). */
static int dest_of(const struct snapshot *snap, const struct decision *d)
{
	return d->region >= 0 ? d->region : (int)snap->conf->nregions;
}

static void eval_points(const struct snapshot *view, const struct service *svc,
			const struct wi_sample *s, int16_t *dest, uint8_t *fail_open)
{
	for (size_t i = 0; i < s->npts; i++) {
		const struct wi_point *p = &s->pts[i];
		struct decision d;
		if (p->forced)
			decide_forced(view, svc, p->family, p->addr, p->prefix, DECIDE_EXACT,
				      p->bucket, p->draw, &d);
		else
			decide_ex(view, svc, p->family, p->addr, p->prefix, DECIDE_EXACT, &d);
		dest[i] = (int16_t)dest_of(view, &d);
		fail_open[i] = (uint8_t)d.fail_open;
	}
}

/* A client the database does not know: the same decision with no GeoIP
 * data at all (default order, else config order). */
static int eval_unknown(const struct snapshot *view, const struct service *svc)
{
	struct snapshot blind = *view;
	struct decision d;
	static const uint8_t zero[16] = { 0 };
	blind.geo = NULL;
	decide_ex(&blind, svc, AF_INET, zero, 0, DECIDE_EXACT, &d);
	return dest_of(view, &d);
}

static json_t *dest_name(const struct snapshot *snap, int dest)
{
	if (dest >= 0 && (size_t)dest < snap->conf->nregions)
		return json_string(snap->conf->regions[dest].name);
	return json_null();
}

struct wi_cc_share {
	unsigned cc;
	double s4, s6;
	const struct wi_point *first; /* a representative client (status page) */
};

static int cc_share_cmp(const void *pa, const void *pb)
{
	const struct wi_cc_share *a = pa, *b = pb;
	if (a->s4 != b->s4)
		return a->s4 > b->s4 ? -1 : 1;
	if (a->s6 != b->s6)
		return a->s6 > b->s6 ? -1 : 1;
	return a->cc < b->cc ? -1 : a->cc > b->cc;
}

static double share(const struct wi_sample *s, int fi, double space)
{
	return s->total[fi] > 0 ? space / s->total[fi] : 0.0;
}

/* Shares and countries of the points with d1[i] == v1 (and d2[i] == v2
 * when d2 is given): {"share4", "share6", "countries": [...]}. */
static json_t *share_json(const struct wi_sample *s, const int16_t *d1, int v1, const int16_t *d2,
			  int v2, struct wi_cc_share *tmp)
{
	double sum[2] = { 0, 0 };
	size_t n = 0;
	json_t *countries = json_array();

	for (size_t i = 0; i < s->npts; i++) {
		const struct wi_point *p = &s->pts[i];
		int fi = p->family == AF_INET6;
		if (d1[i] != v1 || (d2 && d2[i] != v2))
			continue;
		sum[fi] += p->space;
		if (!n || tmp[n - 1].cc != p->cc) {
			tmp[n].cc = p->cc;
			tmp[n].s4 = tmp[n].s6 = 0;
			tmp[n].first = p;
			n++;
		}
		if (tmp[n - 1].first->family == AF_INET6 && !fi)
			tmp[n - 1].first = p; /* an IPv4 client reads better */
		if (fi)
			tmp[n - 1].s6 += share(s, 1, p->space);
		else
			tmp[n - 1].s4 += share(s, 0, p->space);
	}
	qsort(tmp, n, sizeof(*tmp), cc_share_cmp);
	for (size_t i = 0; i < n; i++) {
		char cc[3], client[INET6_ADDRSTRLEN] = "";
		cc_text(tmp[i].cc, cc);
		inet_ntop(tmp[i].first->family, tmp[i].first->addr, client, sizeof(client));
		json_array_append_new(countries,
				      json_pack("{s:s, s:f, s:f, s:s}", "country", cc, "share4",
						tmp[i].s4, "share6", tmp[i].s6, "client", client));
	}
	return json_pack("{s:f, s:f, s:o}", "share4", share(s, 0, sum[0]), "share6",
			 share(s, 1, sum[1]), "countries", countries);
}

static int any_fail_open(const struct wi_sample *s, const int16_t *dest, const uint8_t *fo, int v)
{
	for (size_t i = 0; i < s->npts; i++)
		if (dest[i] == v && fo[i])
			return 1;
	return 0;
}

struct wi_bufs {
	size_t cap; /* points the arrays below hold (+1) */
	int16_t *before, *after;
	int16_t *unbiased, *mark; /* regions[].bias: the decisions at bias 0 */
	uint8_t *fo_unbiased;
	uint8_t *fo_before, *fo_after;
	struct wi_cc_share *tmp;
	uint8_t *pairs; /* (nregions + 1)^2 */
};

/* The per-point arrays of b for n points. */
static int bufs_fit(struct wi_bufs *b, size_t n)
{
	if (n <= b->cap && b->before)
		return 0;
	int16_t **i16[] = { &b->before, &b->after, &b->unbiased, &b->mark };
	uint8_t **u8[] = { &b->fo_unbiased, &b->fo_before, &b->fo_after };
	for (size_t k = 0; k < sizeof(i16) / sizeof(i16[0]); k++) {
		int16_t *v = realloc(*i16[k], (n + 1) * sizeof(**i16[k]));
		if (!v)
			return GSLB_ENOMEM;
		*i16[k] = v;
	}
	for (size_t k = 0; k < sizeof(u8) / sizeof(u8[0]); k++) {
		uint8_t *v = realloc(*u8[k], n + 1);
		if (!v)
			return GSLB_ENOMEM;
		*u8[k] = v;
	}
	struct wi_cc_share *t = realloc(b->tmp, (n + 1) * sizeof(*t));
	if (!t)
		return GSLB_ENOMEM;
	b->tmp = t;
	b->cap = n;
	return 0;
}

static int dbl_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

/* The shares the service's pools shed in either view, strictly between 0
 * and 1, sorted and distinct, between 0 and 1: the draws at which a
 * decision can change. Returns how many cuts (at least 2). */
static size_t draw_cuts(const struct snapshot *const views[2], const struct service *svc,
			double *cuts)
{
	size_t n = 0;
	cuts[n++] = 0;
	cuts[n++] = 1;
	for (int v = 0; v < 2; v++) {
		const struct health *h = views[v] ? views[v]->health : NULL;
		for (size_t pi = 0; h && pi < svc->npools; pi++) {
			unsigned g = svc->pools[pi].gidx;
			if (g < h->npools && h->pools[g].shed > 0 && h->pools[g].shed < 1)
				cuts[n++] = h->pools[g].shed;
		}
	}
	qsort(cuts, n, sizeof(*cuts), dbl_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || cuts[i] != cuts[m - 1])
			cuts[m++] = cuts[i];
	return m;
}

/* Splits and load shedding: a point whose decision depends on the
 * client's split bucket or shedding draw stands for subnets of every
 * bucket and draw, so it becomes one point per stretch of the split's
 * ring times interval between the shares shed, each with its part of the
 * space (the ring is exact, and so are the shares; sampling 16 subnets
 * per country was not). xs gets s's header and points of its own (freed
 * by the caller), or s's points when nothing depends on them. */
static int expand_points(const struct snapshot *const views[2], const struct service *svc,
			 const struct wi_sample *s, struct wi_sample *xs)
{
	double *cuts = malloc((2 * svc->npools + 2) * sizeof(*cuts));
	size_t ncuts, n = 0, cap = 0;
	struct wi_point *v = NULL;
	int any_split = 0;

	*xs = *s;
	for (size_t k = 0; k < svc->nroutes; k++)
		any_split |= svc->routes[k].split_end != NULL;
	if (!cuts)
		return GSLB_ENOMEM;
	ncuts = draw_cuts(views, svc, cuts);
	if (!any_split && ncuts <= 2) {
		free(cuts);
		return 0;
	}
	for (size_t i = 0; i < s->npts; i++) {
		const struct wi_point *p = &s->pts[i];
		const struct route *split = NULL;
		int drawn = 0;
		for (int w = 0; w < 2; w++) {
			struct decision d;
			if (!views[w])
				continue;
			decide_ex(views[w], svc, p->family, p->addr, p->prefix, DECIDE_EXACT, &d);
			if (d.split_region >= 0)
				split = d.route;
			drawn |= d.shed_drawn;
		}
		size_t nb = split ? split->nregions : 1, nd = drawn ? ncuts - 1 : 1;
		if (n + nb * nd > cap) {
			size_t nc = (cap ? cap * 2 : s->npts * 2 + 16) + nb * nd;
			struct wi_point *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(v);
				free(cuts);
				return GSLB_ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		if (!split && !drawn) {
			v[n++] = *p;
			continue;
		}
		for (size_t bk = 0; bk < nb; bk++) {
			uint32_t lo = split && bk ? split->split_end[bk - 1] : 0;
			uint32_t hi = split ? split->split_end[bk] : ROUTE_SPLIT_RING;
			if (hi <= lo)
				continue; /* weight 0: no bucket */
			for (size_t dk = 0; dk < nd; dk++) {
				double dlo = drawn ? cuts[dk] : 0, dhi = drawn ? cuts[dk + 1] : 1;
				struct wi_point *q = &v[n++];
				*q = *p;
				q->forced = 1;
				q->bucket = lo;
				q->draw = (dlo + dhi) / 2;
				q->space = p->space * (double)(hi - lo) / ROUTE_SPLIT_RING *
					   (dhi - dlo);
			}
		}
	}
	free(cuts);
	xs->pts = v;
	xs->npts = n;
	return 0;
}

/* Appends len bytes at *n; counts them even past cap (the caller sees the
 * length it would have needed). */
static void sig_put(uint8_t *buf, size_t cap, size_t *n, const void *p, size_t len)
{
	if (*n <= cap && len <= cap - *n)
		memcpy(buf + *n, p, len);
	*n += len;
}

/* Everything of a service that decide() reads to choose a region (the
 * health of its pools in both views included): services with equal
 * signatures send every client to the same region, so their picture is
 * computed once. Returns the length written into buf. */
static size_t signature(const struct snapshot *snap, const struct snapshot *after_view,
			const struct service *svc, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	unsigned head[6] = { svc->limit,           (unsigned)svc->when_all_down,
			     (unsigned)svc->ndflt, (unsigned)svc->nroutes,
			     svc->hash_prefix_v4,  svc->hash_prefix_v6 };
	sig_put(buf, cap, &n, head, sizeof(head));
	sig_put(buf, cap, &n, svc->dflt ? svc->dflt : head,
		svc->dflt ? svc->ndflt * sizeof(*svc->dflt) : 0);
	for (size_t i = 0; i < svc->nroutes; i++) {
		const struct route *r = &svc->routes[i];
		unsigned rh[4] = { (unsigned)r->kind, (unsigned)r->net.family, r->net.prefix,
				   (unsigned)r->nregions };
		sig_put(buf, cap, &n, rh, sizeof(rh));
		sig_put(buf, cap, &n, r->code, sizeof(r->code));
		sig_put(buf, cap, &n, r->net.addr, sizeof(r->net.addr));
		sig_put(buf, cap, &n, r->regions, r->nregions * sizeof(*r->regions));
		/* a split's shares (none: a plain list) */
		sig_put(buf, cap, &n, r->split_end ? (const void *)r->split_end : head,
			r->split_end ? r->nregions * sizeof(*r->split_end) : 0);
	}
	const struct snapshot *views[2] = { snap, after_view };
	for (size_t r = 0; r < snap->conf->nregions; r++) {
		int pi = svc->pool_of_region[r];
		uint8_t st[5] = { pi >= 0, 0, 0, 0, 0 };
		/* pools[].load: the share shed (full: 2) and the figure shown */
		double shed[4] = { 0, 0, -1, -1 };
		for (int v = 0; v < 2 && pi >= 0; v++) {
			const struct health *h = views[v] ? views[v]->health : NULL;
			unsigned gidx = svc->pools[pi].gidx;
			if (h && gidx < h->npools) {
				st[1 + 2 * v] = (uint8_t)(1 + h->pools[gidx].up);
				st[2 + 2 * v] = h->pools[gidx].admin;
				shed[v] = h->pools[gidx].full ? 2 : h->pools[gidx].shed;
				shed[2 + v] = h->pools[gidx].load;
			}
		}
		sig_put(buf, cap, &n, st, sizeof(st));
		sig_put(buf, cap, &n, shed, sizeof(shed));
	}
	return n;
}

/* regions[].bias: what region r's bias changes, against the same config
 * with every bias 0: {"bias", "gains": the share and countries it takes
 * from others, "loses": those it gives to others}. b->unbiased holds the
 * bias-0 decisions. */
static json_t *bias_json(const struct snapshot *snap, const struct wi_sample *s, struct wi_bufs *b,
			 int r)
{
	json_t *o = json_pack("{s:f}", "bias", snap->conf->regions[r].bias);
	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < s->npts; i++) {
			int now = b->before[i] == r, was = b->unbiased[i] == r;
			b->mark[i] = (int16_t)(side == 0 ? now && !was : was && !now);
		}
		json_object_set_new(o, side == 0 ? "gains" : "loses",
				    share_json(s, b->mark, 1, NULL, 0, b->tmp));
	}
	return o;
}

/* pools[].load: the pool's figure, shed share and state in the view, or
 * NULL when it has no figure. */
static json_t *load_json(const struct snapshot *view, const struct service *svc, int r)
{
	const struct health *h = view ? view->health : NULL;
	int pi = r < (int)view->conf->nregions ? svc->pool_of_region[r] : -1;
	if (pi < 0 || !h || svc->pools[pi].gidx >= h->npools)
		return NULL;
	const struct hpool *hp = &h->pools[svc->pools[pi].gidx];
	if (hp->load < 0)
		return NULL;
	json_t *j =
		json_pack("{s:f, s:f, s:s}", "figure", hp->load, "shed_share", hp->shed, "state",
			  !hp->up  ? "down" :
			  hp->full ? "full" :
				     "up");
	if (j && hp->admin == OVERRIDE_FORCE_UP)
		json_object_set_new(j, "forced_up", json_true());
	return j;
}

/* The picture of one service: every key of its report but "service". */
static json_t *picture_json(const struct snapshot *snap, const struct snapshot *after_view,
			    const struct service *svc, const struct wi_sample *s, struct wi_bufs *b)
{
	const struct conf *c = snap->conf;
	int nd = (int)c->nregions + 1, changed = 0;
	json_t *o, *regions = json_array(), *never = json_array(), *moves = json_array();
	json_t *dflt = json_null(), *unknown;
	const struct snapshot *const views[2] = { snap, after_view };
	struct wi_sample xsample;

	if (expand_points(views, svc, s, &xsample) || bufs_fit(b, xsample.npts)) {
		if (xsample.pts != s->pts)
			free(xsample.pts);
		json_decref(regions);
		json_decref(never);
		json_decref(moves);
		return NULL;
	}
	const struct wi_sample *const sample_in = s;
	s = &xsample;
	eval_points(snap, svc, s, b->before, b->fo_before);
	if (after_view)
		eval_points(after_view, svc, s, b->after, b->fo_after);
	if (c->region_bias) {
		/* the same decisions with every bias 0 (decide() orders by plain
		 * distance when the config says no region has a bias) */
		struct snapshot unbiased = *snap;
		struct conf c0 = *c;
		c0.region_bias = 0;
		unbiased.conf = &c0;
		eval_points(&unbiased, svc, s, b->unbiased, b->fo_unbiased);
	}
	if (svc->dflt) {
		dflt = json_array();
		for (size_t i = 0; i < svc->ndflt; i++)
			json_array_append_new(dflt, json_string(c->regions[svc->dflt[i]].name));
	}
	unknown = json_pack("{s:o}", "before", dest_name(snap, eval_unknown(snap, svc)));
	if (after_view)
		json_object_set_new(unknown, "after",
				    dest_name(snap, eval_unknown(after_view, svc)));

	/* Every region with a pool, in config order, then "no region" when
	 * any sample gets no region. */
	for (int r = 0; r < nd; r++) {
		int has_pool = r < (int)c->nregions && svc->pool_of_region[r] >= 0;
		int used = 0, used_before = 0;
		json_t *row;
		for (size_t i = 0; i < s->npts; i++) {
			used_before |= b->before[i] == r;
			used |= b->before[i] == r || (after_view && b->after[i] == r);
		}
		if (!has_pool && !used)
			continue;
		row = json_pack("{s:o}", "region", dest_name(snap, r));
		if (r == (int)c->nregions)
			json_object_set_new(row, "outcome",
					    json_string(all_down_name(svc->when_all_down)));
		json_object_set_new(row, "before", share_json(s, b->before, r, NULL, 0, b->tmp));
		if (any_fail_open(s, b->before, b->fo_before, r))
			json_object_set_new(json_object_get(row, "before"), "fail_open",
					    json_true());
		if (c->region_bias && has_pool && c->regions[r].bias != 0)
			json_object_set_new(row, "bias", bias_json(snap, s, b, r));
		json_t *lj = has_pool ? load_json(snap, svc, r) : NULL;
		if (lj)
			json_object_set_new(row, "load", lj);
		if (after_view) {
			json_object_set_new(row, "after",
					    share_json(s, b->after, r, NULL, 0, b->tmp));
			if (any_fail_open(s, b->after, b->fo_after, r))
				json_object_set_new(json_object_get(row, "after"), "fail_open",
						    json_true());
			json_t *la = has_pool ? load_json(after_view, svc, r) : NULL;
			if (la)
				json_object_set_new(json_object_get(row, "after"), "load", la);
		}
		json_array_append_new(regions, row);
		if (has_pool && !used_before)
			json_array_append_new(never, json_string(c->regions[r].name));
	}

	if (after_view) {
		memset(b->pairs, 0, (size_t)nd * (size_t)nd);
		for (size_t i = 0; i < s->npts; i++)
			if (b->before[i] != b->after[i])
				b->pairs[b->before[i] * nd + b->after[i]] = 1;
		for (int from = 0; from < nd; from++) {
			for (int to = 0; to < nd; to++) {
				json_t *m;
				if (!b->pairs[from * nd + to])
					continue;
				changed = 1;
				m = share_json(s, b->before, from, b->after, to, b->tmp);
				json_object_set_new(m, "from", dest_name(snap, from));
				json_object_set_new(m, "to", dest_name(snap, to));
				if (to == (int)c->nregions)
					json_object_set_new(
						m, "outcome",
						json_string(all_down_name(svc->when_all_down)));
				json_array_append_new(moves, m);
			}
		}
	}
	o = json_pack("{s:o, s:s, s:o, s:o, s:o}", "default", dflt, "when_all_down",
		      all_down_name(svc->when_all_down), "unknown_location", unknown, "regions",
		      regions, "never", never);
	if (after_view) {
		json_object_set_new(o, "changed", json_boolean(changed));
		json_object_set_new(o, "moves", moves);
	} else {
		json_decref(moves);
	}
	if (xsample.pts != sample_in->pts)
		free(xsample.pts);
	return o;
}

struct wi_layout {
	uint64_t hash;
	size_t off, len; /* signature bytes in the arena */
	json_t *picture;
};

/* Each service's report: its name, then its picture, computed once per
 * signature and shared (referenced, not copied) by every service that has
 * the same one. 10,000 services with a few layouts cost a few walks of the
 * samples, not 10,000. */
static json_t *services_json(const struct snapshot *snap, const struct snapshot *after_view,
			     const struct wi_sample *s, struct wi_bufs *b)
{
	const struct conf *c = snap->conf;
	size_t mask = 15, nlayouts = 0, arena_len = 0, arena_cap = 4096;
	while (mask < 2 * c->nservices)
		mask = mask * 2 + 1;
	size_t *slots = calloc(mask + 1, sizeof(*slots)); /* group index + 1 */
	struct wi_layout *layouts = calloc(c->nservices + 1, sizeof(*layouts));
	uint8_t *arena = malloc(arena_cap), sig[8192];
	json_t *services = json_array();

	if (!slots || !layouts || !arena || !services)
		goto fail;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		size_t len = signature(snap, after_view, svc, sig, sizeof(sig));
		struct wi_layout *g = NULL;
		uint64_t h = 1469598103934665603ull;
		if (len > sizeof(sig))
			len = 0; /* too long to compare: never shared */
		for (size_t k = 0; k < len; k++)
			h = (h ^ sig[k]) * 1099511628211ull;
		size_t slot = (size_t)h & mask;
		for (; len && slots[slot]; slot = (slot + 1) & mask) {
			struct wi_layout *o = &layouts[slots[slot] - 1];
			if (o->hash == h && o->len == len && !memcmp(arena + o->off, sig, len)) {
				g = o;
				break;
			}
		}
		if (!g) {
			g = &layouts[nlayouts++];
			g->picture = picture_json(snap, after_view, svc, s, b);
			if (!g->picture)
				goto fail;
			if (len) {
				if (arena_len + len > arena_cap) {
					size_t nc = (arena_cap + len) * 2;
					uint8_t *na = realloc(arena, nc);
					if (!na)
						goto fail;
					arena = na;
					arena_cap = nc;
				}
				memcpy(arena + arena_len, sig, len);
				g->hash = h;
				g->off = arena_len;
				g->len = len;
				arena_len += len;
				slots[slot] = nlayouts;
			}
		}
		json_t *o = json_pack("{s:s}", "service", svc->name);
		const char *key;
		json_t *v;
		if (!o)
			goto fail;
		json_object_foreach(g->picture, key, v) { json_object_set(o, key, v); }
		json_array_append_new(services, o);
	}
	goto out;
fail:
	json_decref(services);
	services = NULL;
out:
	for (size_t i = 0; layouts && i < nlayouts; i++)
		json_decref(layouts[i].picture);
	free(layouts);
	free(slots);
	free(arena);
	return services;
}

int whatif_json(const struct snapshot *snap, const struct health *base,
		const struct override_table *admin, const char *const *changes, size_t nchanges,
		json_t **out, char *err, size_t errlen)
{
	struct wi_change *ch = NULL;
	size_t nch = 0;
	struct wi_sample *s = NULL;
	struct health *after = NULL;
	struct snapshot before_view, after_view;
	struct wi_bufs b = { 0 };
	json_t *j = NULL, *services, *jch;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	rc = parse_changes(snap, changes, nchanges, &ch, &nch, err, errlen);
	if (rc)
		goto out;
	if (!snap->geo || !geo_db_ip_version(snap->geo)) {
		snprintf(err, errlen, "what-if needs a GeoIP database (geoip.database)");
		rc = GSLB_ENOENT;
		goto out;
	}
	rc = sample_db(snap->geo, &s);
	if (rc) {
		snprintf(err, errlen, "%s: %s", geo_db_path(snap->geo),
			 rc == GSLB_ENOMEM ? "out of memory" :
					     "damaged database (its search tree cannot be walked)");
		goto out;
	}
	if (nch) {
		rc = apply_changes(snap, base, admin, ch, nch, &after);
		if (rc)
			goto out;
	}
	/* decide() reads the health view through the snapshot: private
	 * copies of the header carry the views asked about, and the shared
	 * snapshot is never touched. */
	before_view = *snap;
	before_view.health = (struct health *)base;
	after_view = *snap;
	after_view.health = after;

	b.pairs = calloc((snap->conf->nregions + 1) * (snap->conf->nregions + 1), 1);
	if (bufs_fit(&b, s->npts) || !b.pairs) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	services = services_json(&before_view, nch ? &after_view : NULL, s, &b);
	if (!services) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	jch = json_array();
	for (size_t i = 0; i < nch; i++)
		json_array_append_new(jch, json_pack("{s:s, s:s}", "action", ch[i].action, "target",
						     ch[i].ov.target));
	j = json_pack("{s:{s:s, s:s, s:I, s:I, s:f, s:f, s:I, s:I, s:i}, s:o, s:o}", "database",
		      "path", geo_db_path(snap->geo), "type", geo_db_type(snap->geo), "networks4",
		      (json_int_t)s->nets[0], "networks6", (json_int_t)s->nets[1], "space4",
		      s->total[0], "space6", s->total[1], "countries", (json_int_t)s->ncountries,
		      "samples", (json_int_t)s->npts, "samples_per_country", WHATIF_BUCKETS,
		      "changes", jch, "services", services);
	if (!j)
		rc = GSLB_ENOMEM;
out:
	if (rc == GSLB_ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "what-if: out of memory");
	free(b.before);
	free(b.after);
	free(b.fo_before);
	free(b.fo_after);
	free(b.tmp);
	free(b.pairs);
	free(b.unbiased);
	free(b.mark);
	free(b.fo_unbiased);
	health_free(after);
	sample_free(s);
	free(ch);
	*out = j;
	return rc;
}

/* ------------------------------------------------------------ text */

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static double jnum(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static int jbool(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

/* "12.3%", "<0.1%" for a sliver (never shown as 0), "0.0%" for nothing. */
static void pct(double v, char *buf, size_t len)
{
	if (v > 0 && v < 0.0005)
		snprintf(buf, len, "<0.1%%");
	else
		snprintf(buf, len, "%.1f%%", v * 100.0);
}

/* A row's destination: the region, or "(nodata)" and the like. */
static void dest_text(const json_t *o, const char *key, char *buf, size_t len)
{
	const char *r = jstr(o, key, NULL);
	if (r)
		snprintf(buf, len, "%s", r);
	else
		snprintf(buf, len, "(%s)", jstr(o, "outcome", "no region"));
}

static void print_countries(const json_t *share, FILE *out)
{
	const json_t *countries = json_object_get(share, "countries");
	size_t n = json_array_size(countries), i;
	const json_t *c;

	fprintf(out, "%zu %s", n, n == 1 ? "country" : "countries");
	if (n)
		fprintf(out, ":");
	json_array_foreach(countries, i, c)
	{
		if (i == WI_PRINT_COUNTRIES) {
			fprintf(out, " +%zu more", n - i);
			break;
		}
		fprintf(out, " %s", jstr(c, "country", "??"));
	}
	if (json_is_true(json_object_get(share, "fail_open")))
		fprintf(out, " (fail-open: every region down)");
}

static int name_width(const json_t *regions, int min)
{
	size_t i;
	const json_t *r;
	int w = min;
	json_array_foreach(regions, i, r)
	{
		char name[128];
		dest_text(r, "region", name, sizeof(name));
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	return w;
}

/* One load state: "up, shedding 33% of its clients to their next region". */
static void print_load_state(const json_t *l, FILE *out)
{
	if (jbool(l, "forced_up")) {
		fprintf(out, "forced up, takes its clients whatever the load");
		return;
	}
	fprintf(out, "%s", jstr(l, "state", "up"));
	if (strcmp(jstr(l, "state", "up"), "up") == 0)
		fprintf(out, ", shedding %.0f%% of its clients to their next region",
			100 * jnum(l, "shed_share"));
	else if (strcmp(jstr(l, "state", "up"), "full") == 0)
		fprintf(out, ": takes no clients");
}

/* pools[].load: "load on eu-east: 0.850, shedding 33%" per region with a
 * figure, and what the changes make of it. */
static void print_loads(const json_t *regions, FILE *out)
{
	const json_t *r;
	size_t i;
	json_array_foreach(regions, i, r)
	{
		const json_t *l = json_object_get(r, "load");
		const json_t *la = json_object_get(json_object_get(r, "after"), "load");
		if (!l)
			continue;
		fprintf(out, "  load on %s: %.3f, ", jstr(r, "region", "?"), jnum(l, "figure"));
		print_load_state(l, out);
		if (la && (jbool(la, "forced_up") != jbool(l, "forced_up") ||
			   strcmp(jstr(la, "state", "up"), jstr(l, "state", "up")) ||
			   jnum(la, "shed_share") != jnum(l, "shed_share"))) {
			fprintf(out, "; after: ");
			print_load_state(la, out);
		}
		fprintf(out, "\n");
	}
}

static void print_check_service(const json_t *svc, FILE *out)
{
	const json_t *regions = json_object_get(svc, "regions");
	const json_t *never = json_object_get(svc, "never");
	const json_t *r;
	size_t i;
	int w = name_width(regions, 6);
	char name[128], p4[16], p6[16];

	fprintf(out, "  %-*s  %7s  %7s  %s\n", w, "REGION", "IPv4", "IPv6", "COUNTRIES");
	json_array_foreach(regions, i, r)
	{
		const json_t *b = json_object_get(r, "before");
		if (jnum(b, "share4") <= 0 && jnum(b, "share6") <= 0)
			continue;
		dest_text(r, "region", name, sizeof(name));
		pct(jnum(b, "share4"), p4, sizeof(p4));
		pct(jnum(b, "share6"), p6, sizeof(p6));
		fprintf(out, "  %-*s  %7s  %7s  ", w, name, p4, p6);
		print_countries(b, out);
		fprintf(out, "\n");
	}
	print_loads(regions, out);
	json_array_foreach(regions, i, r)
	{
		const json_t *bj = json_object_get(r, "bias");
		if (!bj)
			continue;
		fprintf(out, "  bias %g on %s, against bias 0:", jnum(bj, "bias"),
			jstr(r, "region", "?"));
		for (int side = 0; side < 2; side++) {
			const json_t *g = json_object_get(bj, side ? "loses" : "gains");
			pct(jnum(g, "share4"), p4, sizeof(p4));
			pct(jnum(g, "share6"), p6, sizeof(p6));
			fprintf(out, "%s %s IPv4, %s IPv6, ", side ? ";\n    loses" : "\n    gains",
				p4, p6);
			print_countries(g, out);
		}
		fprintf(out, "\n");
	}
	if (json_array_size(never)) {
		fprintf(out, "  never receives traffic:");
		json_array_foreach(never, i, r) { fprintf(out, " %s", json_string_value(r)); }
		fprintf(out, "\n");
	}
}

/* Whether every client of region row r moves (the region is drained or
 * down) or only some (a member, a partial pool change, fail-open). */
static int all_leave(const json_t *r, const json_t *moves)
{
	const json_t *b = json_object_get(r, "before"), *m;
	const char *name = jstr(r, "region", NULL);
	double s4 = 0, s6 = 0;
	size_t k;

	json_array_foreach(moves, k, m)
	{
		const char *from = jstr(m, "from", NULL);
		if ((from && name && !strcmp(from, name)) || (!from && !name)) {
			s4 += jnum(m, "share4");
			s6 += jnum(m, "share6");
		}
	}
	return fabs(s4 - jnum(b, "share4")) < 1e-9 && fabs(s6 - jnum(b, "share6")) < 1e-9;
}

static void print_whatif_service(const json_t *svc, FILE *out)
{
	const json_t *regions = json_object_get(svc, "regions");
	const json_t *moves = json_object_get(svc, "moves");
	const json_t *r, *m;
	size_t i, k;
	int w = name_width(regions, 6);
	char name[128], to[128], p4[16], p6[16], a4[16], a6[16];

	/* Where each region's clients go, grouped by the region they leave. */
	json_array_foreach(regions, i, r)
	{
		int header = 0;
		dest_text(r, "region", name, sizeof(name));
		json_array_foreach(moves, k, m)
		{
			char from[128];
			dest_text(m, "from", from, sizeof(from));
			if (strcmp(from, name) != 0)
				continue;
			if (!header) {
				const json_t *b = json_object_get(r, "before");
				pct(jnum(b, "share4"), p4, sizeof(p4));
				pct(jnum(b, "share6"), p6, sizeof(p6));
				fprintf(out, "  %s of %s (IPv4 %s, IPv6 %s before) would go to:\n",
					all_leave(r, moves) ? "clients" : "some clients", name, p4,
					p6);
				header = 1;
			}
			dest_text(m, "to", to, sizeof(to));
			pct(jnum(m, "share4"), p4, sizeof(p4));
			pct(jnum(m, "share6"), p6, sizeof(p6));
			fprintf(out, "    %-*s  %7s  %7s  ", w, to, p4, p6);
			print_countries(m, out);
			fprintf(out, "\n");
		}
	}
	fprintf(out, "  %-*s  %7s  %7s  %7s  %7s\n", w, "REGION", "BEFORE4", "BEFORE6", "AFTER4",
		"AFTER6");
	json_array_foreach(regions, i, r)
	{
		const json_t *b = json_object_get(r, "before"), *a = json_object_get(r, "after");
		dest_text(r, "region", name, sizeof(name));
		pct(jnum(b, "share4"), p4, sizeof(p4));
		pct(jnum(b, "share6"), p6, sizeof(p6));
		pct(jnum(a, "share4"), a4, sizeof(a4));
		pct(jnum(a, "share6"), a6, sizeof(a6));
		fprintf(out, "  %-*s  %7s  %7s  %7s  %7s%s\n", w, name, p4, p6, a4, a6,
			json_is_true(json_object_get(a, "fail_open")) ? "  (fail-open)" : "");
	}
	print_loads(regions, out);
}

/* A service's picture as text: every key but "service", sorted, compact.
 * Two services print the same when these are equal. */
static char *picture_text(const json_t *svc)
{
	json_t *copy = json_copy((json_t *)svc);
	char *txt;
	if (!copy)
		return NULL;
	json_object_del(copy, "service");
	txt = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	return txt;
}

/* next[i]: the following service with the same picture as service i, or n.
 * Reports built in this process share one "regions" object per layout, so
 * a pointer finds most of them; others (reports read back by gslbctl) are
 * compared as text. */
static void link_same_pictures(const json_t *services, size_t *next)
{
	size_t n = json_array_size(services), mask = 15, nlayouts = 0;
	while (mask < 2 * n)
		mask = mask * 2 + 1;
	struct by_ptr {
		const json_t *p;
		size_t id; /* layout + 1, 0 = empty */
	} *ptrs = calloc(mask + 1, sizeof(*ptrs));
	struct by_txt {
		uint64_t h;
		char *txt;
		size_t id; /* layout + 1, 0 = empty */
	} *txts = calloc(mask + 1, sizeof(*txts));
	size_t *last = calloc(n + 1, sizeof(*last)); /* latest service per layout */

	for (size_t i = 0; i < n; i++)
		next[i] = n;
	for (size_t i = 0; ptrs && txts && last && i < n; i++) {
		const json_t *svc = json_array_get(services, i);
		const json_t *regions = json_object_get(svc, "regions");
		size_t id = 0, pk = ((size_t)(uintptr_t)regions >> 4) * 0x9e3779b1u & mask;
		while (ptrs[pk].id && ptrs[pk].p != regions)
			pk = (pk + 1) & mask;
		if (ptrs[pk].id) {
			id = ptrs[pk].id;
		} else {
			char *txt = picture_text(svc);
			uint64_t h = 1469598103934665603ull;
			if (!txt)
				continue; /* printed alone */
			for (const char *c = txt; *c; c++)
				h = (h ^ (uint8_t)*c) * 1099511628211ull;
			size_t tk = (size_t)h & mask;
			while (txts[tk].id && (txts[tk].h != h || strcmp(txts[tk].txt, txt)))
				tk = (tk + 1) & mask;
			if (txts[tk].id) {
				id = txts[tk].id;
				free(txt);
			} else {
				id = txts[tk].id = ++nlayouts;
				txts[tk].h = h;
				txts[tk].txt = txt;
			}
			ptrs[pk].p = regions;
			ptrs[pk].id = id;
		}
		if (last[id])
			next[last[id] - 1] = i;
		last[id] = i + 1;
	}
	for (size_t k = 0; txts && k <= mask; k++)
		free(txts[k].txt);
	free(txts);
	free(ptrs);
	free(last);
}

void whatif_print(const json_t *j, FILE *out)
{
	const json_t *db = json_object_get(j, "database");
	const json_t *changes = json_object_get(j, "changes");
	const json_t *services = json_object_get(j, "services");
	const json_t *svc, *c;
	size_t i;
	int whatif = json_array_size(changes) > 0;

	if (whatif) {
		fprintf(out, "what-if:");
		json_array_foreach(changes, i, c)
		{
			fprintf(out, "%s %s %s", i ? "," : "", jstr(c, "action", "?"),
				jstr(c, "target", "?"));
		}
		fprintf(out, "\n");
	}
	fprintf(out,
		"traffic by region over %s: %lld IPv4 and %lld IPv6 networks in %lld countries, "
		"up to %lld samples per country and family; shares of the database's IPv4 and "
		"IPv6 address space\n",
		jstr(db, "path", "?"),
		(long long)json_integer_value(json_object_get(db, "networks4")),
		(long long)json_integer_value(json_object_get(db, "networks6")),
		(long long)json_integer_value(json_object_get(db, "countries")),
		(long long)json_integer_value(json_object_get(db, "samples_per_country")));
	size_t n = json_array_size(services);
	size_t *next = n ? malloc(n * sizeof(*next)) : NULL; /* same picture, or n */
	uint8_t *done = n ? calloc(n, 1) : NULL;
	if (n && (!next || !done)) {
		fprintf(out, "\n(out of memory)\n");
		free(next);
		free(done);
		return;
	}
	link_same_pictures(services, next);
	json_array_foreach(services, i, svc)
	{
		const json_t *unk = json_object_get(svc, "unknown_location");
		const json_t *dflt = json_object_get(svc, "default");
		char before[128], after[128];

		if (done[i])
			continue;
		if (next[i] == n) {
			fprintf(out, "\nservice %s", jstr(svc, "service", "?"));
		} else {
			/* Services with the same picture: printed once. */
			size_t k = i, count = 0, col = 9;
			fprintf(out, "\nservices");
			for (; k < n; k = next[k]) {
				const char *name =
					jstr(json_array_get(services, k), "service", "?");
				if (col + strlen(name) + 2 > 78 && count) {
					fprintf(out, ",\n   ");
					col = 3;
				} else if (count) {
					fprintf(out, ",");
				}
				fprintf(out, " %s", name);
				col += strlen(name) + 2;
				done[k] = 1;
				count++;
			}
			fprintf(out, "\n  (%zu services, the same traffic)", count);
		}
		if (whatif && !json_is_true(json_object_get(svc, "changed"))) {
			fprintf(out, ": no change\n");
			continue;
		}
		fprintf(out, "\n");
		if (whatif)
			print_whatif_service(svc, out);
		else
			print_check_service(svc, out);
		dest_text(unk, "before", before, sizeof(before));
		fprintf(out, "  unknown locations (%s): %s",
			json_is_array(dflt) ? "default" : "no default, config order", before);
		if (whatif) {
			dest_text(unk, "after", after, sizeof(after));
			fprintf(out, " -> %s", after);
		}
		fprintf(out, "\n");
	}
	free(next);
	free(done);
}

/* ------------------------------------------------------------ -t */

#define WHATIF_WARN_NAMED 5

int whatif_check(const struct snapshot *snap, json_t **out, char *err, size_t errlen)
{
	const struct conf *c = snap->conf;

	size_t nodefault = 0;

	*out = NULL;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		if (svc->dflt || svc->npools < 2)
			continue;
		/* Private addresses, resolvers without ECS far from any client,
		 * networks the database lacks: these go to the first region in
		 * config order, which is rarely what was meant. The first few
		 * are named; a big config gets one more line, not thousands. */
		if (++nodefault <= WHATIF_WARN_NAMED)
			log_warn("service has no default order: clients without a known location "
				 "get the regions in config order service=%s file=%s line=%d",
				 svc->name, svc->file ? svc->file : c->path, svc->line);
	}
	if (nodefault > WHATIF_WARN_NAMED)
		log_warn("more services have no default order count=%zu",
			 nodefault - WHATIF_WARN_NAMED);
	if (!snap->geo || !geo_db_ip_version(snap->geo))
		return 0;
	/* -t runs alone: the view is the one snapshot_load built (last-known
	 * states and overrides from state_dir, else every pool up). */
	return whatif_json(snap, snap->health, NULL, NULL, 0, out, err, errlen);
}

/* ------------------------------------------------------------ admin */

int whatif_admin_from_json(const json_t *arr, struct override_table *t)
{
	size_t i;
	const json_t *o;

	json_array_foreach(arr, i, o)
	{
		struct override ov;
		const char *target = json_string_value(json_object_get(o, "target"));
		const char *state = json_string_value(json_object_get(o, "state"));
		int rc;
		memset(&ov, 0, sizeof(ov));
		if (!target || !state || admin_action_parse(state, &ov.state) ||
		    ov.state == OVERRIDE_NONE || json_is_false(json_object_get(o, "active")))
			continue;
		ov.kind = !strncmp(target, "member:", 7) ? OVERRIDE_MEMBER :
			  !strncmp(target, "pool:", 5)   ? OVERRIDE_POOL :
							   OVERRIDE_REGION;
		snprintf(ov.target, sizeof(ov.target), "%s", target);
		rc = override_table_set(t, &ov);
		if (rc)
			return rc;
	}
	return 0;
}
