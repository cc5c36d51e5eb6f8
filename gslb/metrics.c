/* The metrics registry: the sets modules declare, their shards, the slots
 * handed out by name, and the one renderer of the text exposition format
 * (names with the gslb_ prefix, _total counters, seconds as the unit of
 * time). */
#include "gslb/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/err.h"
#include "gslb/fdlimit.h"
#include "gslb/snapshot.h"

#define SLOT_INDEX (2 * METRICS_SLOTS) /* a power of two, at most half full */

struct slot_name {
	char service[256];
	char region[64]; /* "" for the service's own slot */
};

/* A registered set: where each family's cells start, and its shards. */
struct set_entry {
	const struct metric_set *set;
	size_t *off;
	size_t ncells;
	struct metrics_shard *shards;
};

/* mu guards the sets, their shard lists and the slot names. It is never
 * held while waiting for anything (a grace period included), so the
 * renderer may take it inside an RCU read-side section; no query takes it. */
struct metrics {
	pthread_mutex_t mu;
	struct set_entry *sets;
	size_t nsets;
	struct slot_name *slots; /* pools and services */
	size_t nslots;
	uint16_t *slot_index; /* slot + 1 by hash of its names, 0 = empty */
	char (*checks)[64];
	size_t nchecks;
	struct metrics_shard *own; /* the view set's cells (reloads) */
};

struct metrics_out {
	FILE *f;
	const struct metric_family *fam;
	int header; /* HELP and TYPE written */
	size_t samples;
};

/* ---- registry ----------------------------------------------------------- */

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->slots = calloc(METRICS_SLOTS, sizeof(*m->slots));
	m->checks = calloc(METRICS_SLOTS, sizeof(*m->checks));
	m->slot_index = calloc(SLOT_INDEX, sizeof(*m->slot_index));
	if (m->slots && m->checks && m->slot_index)
		m->own = metrics_shard_new(m, &metrics_view_set);
	if (!m->own || metrics_register(m, &fdlimit_metric_set)) {
		metrics_free(m);
		return NULL;
	}
	metrics_set(m->own, MVIEW_BUILD_INFO, 0, 1);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsets; i++) {
		struct metrics_shard *s = m->sets[i].shards;
		while (s) {
			struct metrics_shard *n = s->next;
			free(s);
			s = n;
		}
		free(m->sets[i].off);
	}
	free(m->sets);
	free(m->slots);
	free(m->slot_index);
	free(m->checks);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static size_t label_size(const struct metric_label *l)
{
	switch (l->kind) {
	case ML_ENUM:
		return l->nvalues;
	case ML_POOL:
	case ML_SERVICE:
	case ML_CHECK:
		return METRICS_SLOTS;
	default:
		return 1;
	}
}

/* Label combinations of a family kept in cells (1 without labels). */
static size_t series_of(const struct metric_family *f)
{
	size_t n = 1;
	for (int k = 0; k < METRIC_LABELS; k++)
		n *= label_size(&f->labels[k]);
	return n;
}

static size_t cells_of(const struct metric_family *f)
{
	if (f->collect)
		return 0;
	return series_of(f) * (f->type == METRIC_HISTOGRAM ? f->nbounds + 2 : 1);
}

/* Under mu. */
static struct set_entry *find_set(struct metrics *m, const struct metric_set *set)
{
	for (size_t i = 0; i < m->nsets; i++)
		if (m->sets[i].set == set)
			return &m->sets[i];
	return NULL;
}

/* Under mu. */
static struct set_entry *add_set(struct metrics *m, const struct metric_set *set)
{
	struct set_entry *e = find_set(m, set);
	if (e)
		return e;
	struct set_entry *nv = realloc(m->sets, (m->nsets + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	m->sets = nv;
	e = &m->sets[m->nsets];
	memset(e, 0, sizeof(*e));
	e->off = calloc(set->n ? set->n : 1, sizeof(*e->off));
	if (!e->off)
		return NULL;
	e->set = set;
	for (size_t i = 0; i < set->n; i++) {
		e->off[i] = e->ncells;
		e->ncells += cells_of(&set->f[i]);
	}
	m->nsets++;
	return e;
}

int metrics_register(struct metrics *m, const struct metric_set *set)
{
	pthread_mutex_lock(&m->mu);
	struct set_entry *e = add_set(m, set);
	pthread_mutex_unlock(&m->mu);
	return e ? GSLB_OK : GSLB_ENOMEM;
}

struct metrics_shard *metrics_shard_new(struct metrics *m, const struct metric_set *set)
{
	struct metrics_shard *s = NULL;
	if (!m)
		return NULL;
	pthread_mutex_lock(&m->mu);
	struct set_entry *e = add_set(m, set);
	if (e)
		s = calloc(1, sizeof(*s) + e->ncells * sizeof(s->cells[0]));
	if (s) {
		s->off = e->off;
		s->set = set;
		s->next = e->shards;
		e->shards = s;
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}

/* ---- slots -------------------------------------------------------------- */

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
 * (a scan of every slot made metrics_bind quadratic in the services).
 * Under mu. */
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

int metrics_check_slot(struct metrics *m, const char *check)
{
	int slot = -1;
	if (!m)
		return -1;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nchecks && slot < 0; i++)
		if (strcmp(m->checks[i], check) == 0)
			slot = (int)i;
	if (slot < 0 && m->nchecks < METRICS_SLOTS) {
		snprintf(m->checks[m->nchecks], sizeof(m->checks[0]), "%s", check);
		slot = (int)m->nchecks++;
	}
	pthread_mutex_unlock(&m->mu);
	return slot;
}

void metrics_reload(struct metrics *m, int ok, int64_t when)
{
	if (!m)
		return;
	metrics_inc(m->own, MVIEW_RELOADS, ok ? 0 : 1);
	if (ok)
		metrics_set(m->own, MVIEW_RELOAD_LAST, 0, (uint64_t)when);
}

void metrics_observe(struct metrics_shard *s, unsigned fam, size_t i, double seconds)
{
	if (!s)
		return;
	const struct metric_family *f = &s->set->f[fam];
	size_t base = i * (f->nbounds + 2);
	unsigned b = 0;
	while (b < f->nbounds && !(seconds <= f->bounds[b]))
		b++;
	if (b < f->nbounds)
		metrics_inc(s, fam, base + b);
	metrics_inc(s, fam, base + f->nbounds);
	metrics_add(s, fam, base + f->nbounds + 1,
		    seconds > 0 ? (uint64_t)llround(seconds * 1e6) : 0);
}

/* ---- rendering ---------------------------------------------------------- */

static const char *const type_names[] = { "counter", "gauge", "histogram" };

/* Label values: backslash, double quote and newline escaped. */
static void escaped(FILE *f, const char *v)
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

/* One label of a sample: the first opens the braces (labels_end closes
 * them), the others follow a comma. */
static void label(FILE *f, int *n, const char *name, const char *value)
{
	fprintf(f, "%c%s=\"", (*n)++ ? ',' : '{', name);
	escaped(f, value);
	fputc('"', f);
}

static void labels_end(FILE *f, int n)
{
	if (n)
		fputc('}', f);
}

static void header(struct metrics_out *o)
{
	if (o->header)
		return;
	o->header = 1;
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", o->fam->name, o->fam->help, o->fam->name,
		type_names[o->fam->type]);
}

/* A sample's name and labels, up to its value. */
static void sample_head(struct metrics_out *o, const char *const *lv)
{
	const struct metric_family *fam = o->fam;
	int n = 0;

	header(o);
	o->samples++;
	fputs(fam->name, o->f);
	for (int k = 0, j = 0; k < METRIC_LABELS; k++)
		if (fam->labels[k].kind == ML_GIVEN)
			label(o->f, &n, fam->labels[k].name, lv[j++]);
	labels_end(o->f, n);
}

void metrics_sample(struct metrics_out *o, const char *const *lv, int64_t v)
{
	sample_head(o, lv);
	fprintf(o->f, " %lld\n", (long long)v);
}

void metrics_sample_real(struct metrics_out *o, const char *const *lv, double v)
{
	sample_head(o, lv);
	fprintf(o->f, " %.6g\n", v);
}

/* A label combination of a family kept in cells: the index of each label's
 * value (a slot for slot labels). */
struct combo {
	size_t ix[METRIC_LABELS];
	size_t series; /* row-major index of the combination */
};

/* Under mu: whether slot i serves label kind k (and exists). */
static int slot_fits(const struct metrics *m, enum metric_label_kind k, size_t i)
{
	switch (k) {
	case ML_POOL:
		return i < m->nslots && m->slots[i].region[0];
	case ML_SERVICE:
		return i < m->nslots && !m->slots[i].region[0];
	case ML_CHECK:
		return i < m->nchecks;
	default:
		return 1;
	}
}

/* How far a label's values go in a scrape (slots handed out so far). */
static size_t label_used(const struct metrics *m, const struct metric_label *l)
{
	switch (l->kind) {
	case ML_POOL:
	case ML_SERVICE:
		return m->nslots;
	case ML_CHECK:
		return m->nchecks;
	default:
		return label_size(l);
	}
}

/* Under mu: the labels of a combination, without the braces. */
static void combo_labels(const struct metrics *m, FILE *f, const struct metric_family *fam,
			 const struct combo *c, int *n)
{
	for (int k = 0; k < METRIC_LABELS; k++) {
		const struct metric_label *l = &fam->labels[k];
		size_t i = c->ix[k];
		switch (l->kind) {
		case ML_ENUM:
			label(f, n, l->name, l->values[i]);
			break;
		case ML_POOL:
			label(f, n, "service", m->slots[i].service);
			label(f, n, "region", m->slots[i].region);
			break;
		case ML_SERVICE:
			label(f, n, "service", m->slots[i].service);
			break;
		case ML_CHECK:
			label(f, n, "check", m->checks[i]);
			break;
		default:
			break;
		}
	}
}

/* Under mu: a cell summed over the set's shards. */
static uint64_t cell_sum(const struct set_entry *e, size_t fam, size_t i)
{
	uint64_t v = 0;
	for (const struct metrics_shard *s = e->shards; s; s = s->next)
		v += __atomic_load_n(&s->cells[e->off[fam] + i], __ATOMIC_RELAXED);
	return v;
}

/* Under mu: name{labels} value, value already in text. */
static void sample_text(const struct metrics *m, FILE *f, const struct metric_family *fam,
			const char *suffix, const struct combo *c, const char *le,
			const char *value)
{
	int n = 0;
	fprintf(f, "%s%s", fam->name, suffix);
	combo_labels(m, f, fam, c, &n);
	if (le)
		label(f, &n, "le", le);
	labels_end(f, n);
	fprintf(f, " %s\n", value);
}

static void sample_line(const struct metrics *m, FILE *f, const struct metric_family *fam,
			const char *suffix, const struct combo *c, const char *le, uint64_t v)
{
	char t[24];
	snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	sample_text(m, f, fam, suffix, c, le, t);
}

/* Under mu. */
static void histogram_series(const struct metrics *m, struct metrics_out *o,
			     const struct set_entry *e, size_t fam, const struct combo *c)
{
	const struct metric_family *f = o->fam;
	size_t base = c->series * (f->nbounds + 2);
	uint64_t cum = 0, count = cell_sum(e, fam, base + f->nbounds);
	char le[32], sum[48];

	for (unsigned b = 0; b < f->nbounds; b++) {
		cum += cell_sum(e, fam, base + b);
		snprintf(le, sizeof(le), "%g", f->bounds[b]);
		sample_line(m, o->f, f, "_bucket", c, le, cum);
	}
	sample_line(m, o->f, f, "_bucket", c, "+Inf", count);
	snprintf(sum, sizeof(sum), "%.6f", (double)cell_sum(e, fam, base + f->nbounds + 1) / 1e6);
	sample_text(m, o->f, f, "_sum", c, NULL, sum);
	sample_line(m, o->f, f, "_count", c, NULL, count);
	o->samples++;
}

/* Under mu: every combination in label order, the last label fastest. */
static void cells_family(const struct metrics *m, struct metrics_out *o, const struct set_entry *e,
			 size_t fam)
{
	const struct metric_family *f = o->fam;
	size_t used[METRIC_LABELS], size[METRIC_LABELS];
	struct combo c;

	for (int k = 0; k < METRIC_LABELS; k++) {
		used[k] = label_used(m, &f->labels[k]);
		size[k] = label_size(&f->labels[k]);
		if (used[k] == 0)
			return; /* no slot handed out yet */
		c.ix[k] = 0;
	}
	for (;;) {
		int fits = 1;
		c.series = 0;
		for (int k = 0; k < METRIC_LABELS; k++) {
			c.series = c.series * size[k] + c.ix[k];
			fits = fits && slot_fits(m, f->labels[k].kind, c.ix[k]);
		}
		if (fits && f->type == METRIC_HISTOGRAM) {
			header(o);
			histogram_series(m, o, e, fam, &c);
		} else if (fits) {
			uint64_t v = cell_sum(e, fam, c.series);
			if (v || !(f->flags & METRIC_NONZERO)) {
				header(o);
				sample_line(m, o->f, f, "", &c, NULL, v);
				o->samples++;
			}
		}
		int k = METRIC_LABELS - 1;
		while (k >= 0 && ++c.ix[k] == used[k])
			c.ix[k--] = 0;
		if (k < 0)
			break;
	}
}

/* Under mu. */
static void render_set(const struct metrics *m, FILE *f, const struct set_entry *e,
		       const struct snapshot *snap)
{
	if (e->ncells && !e->shards)
		return; /* its module is not running */
	for (size_t i = 0; i < e->set->n; i++) {
		struct metrics_out o = { .f = f, .fam = &e->set->f[i] };
		int shown = 1;
		if (o.fam->collect)
			shown = o.fam->collect(&o, snap);
		else
			cells_family(m, &o, e, i);
		if (shown)
			header(&o); /* (a family without samples) */
	}
}

char *metrics_render(struct metrics *m, const struct snapshot *snap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nsets; i++)
		render_set(m, f, &m->sets[i], snap);
	pthread_mutex_unlock(&m->mu);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
