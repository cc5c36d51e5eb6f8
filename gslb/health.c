/* Health views: building the first view of a snapshot (carrying states over
 * from the previous snapshot or from state_dir), deriving pool state from
 * member states, min_up and admin overrides, and keeping the last-known
 * state on disk so a restart does not start blind. */
#include "gslb/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gslb/decide.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"
#include "gslb/statefile.h"

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_UNKNOWN:
		return "unknown";
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	}
	return "?";
}

const char *override_state_name(enum override_state s)
{
	switch (s) {
	case OVERRIDE_NONE:
		return "none";
	case OVERRIDE_FORCE_UP:
		return "force-up";
	case OVERRIDE_FORCE_DOWN:
		return "force-down";
	case OVERRIDE_DRAIN:
		return "drain";
	}
	return "?";
}

int admin_action_parse(const char *action, uint8_t *state)
{
	if (strcmp(action, "drain") == 0)
		*state = OVERRIDE_DRAIN;
	else if (strcmp(action, "force-up") == 0)
		*state = OVERRIDE_FORCE_UP;
	else if (strcmp(action, "force-down") == 0)
		*state = OVERRIDE_FORCE_DOWN;
	else if (strcmp(action, "undrain") == 0 || strcmp(action, "clear") == 0)
		*state = OVERRIDE_NONE;
	else
		return GSLB_EINVAL;
	return GSLB_OK;
}

/* Service name as users type it: any case, trailing dot optional. */
static const struct service *find_service(const struct conf *c, const char *name, size_t len)
{
	char buf[300];
	uint8_t w[DNAME_MAXLEN];
	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	size_t wl = dname_from_str(buf, w);
	if (wl == 0)
		return NULL;
	for (size_t i = 0; i < c->nservices; i++)
		if (c->services[i].lname_len == wl && memcmp(c->services[i].lname, w, wl) == 0)
			return &c->services[i];
	return NULL;
}

static int find_region(const struct conf *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nregions; i++)
		if (strlen(c->regions[i].name) == len &&
		    strncmp(c->regions[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* "-" for the one member of a CNAME pool with a dns check: no address. */
static void addr_text(int family, const uint8_t *addr, char *buf, size_t len)
{
	if (!family)
		snprintf(buf, len, "-");
	else if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* Canonical service text: lower case, no trailing dot. */
static void svc_text(const struct service *svc, char *buf, size_t len)
{
	dname_to_str(svc->lname, buf, len);
	size_t l = strlen(buf);
	if (l > 1 && buf[l - 1] == '.')
		buf[l - 1] = '\0';
}

int health_parse_target(const struct snapshot *snap, const char *target, struct override *out,
			char *err, size_t errlen)
{
	const struct conf *c = snap->conf;
	memset(out, 0, sizeof(*out));
	const char *colon = strchr(target, ':');
	if (!colon) {
		snprintf(err, errlen,
			 "\"%s\": expected region:NAME, pool:SERVICE/REGION or "
			 "member:SERVICE/REGION/ADDRESS",
			 target);
		return GSLB_EINVAL;
	}
	size_t kl = (size_t)(colon - target);
	const char *rest = colon + 1;
	if (kl == 6 && strncmp(target, "region", 6) == 0) {
		if (find_region(c, rest, strlen(rest)) < 0) {
			snprintf(err, errlen, "no region \"%s\"", rest);
			return GSLB_EINVAL;
		}
		out->kind = OVERRIDE_REGION;
		snprintf(out->target, sizeof(out->target), "region:%s", rest);
		return GSLB_OK;
	}
	int is_pool = kl == 4 && strncmp(target, "pool", 4) == 0;
	int is_member = kl == 6 && strncmp(target, "member", 6) == 0;
	if (!is_pool && !is_member) {
		snprintf(err, errlen, "\"%.*s\": the kinds are region, pool and member", (int)kl,
			 target);
		return GSLB_EINVAL;
	}
	const char *s1 = strchr(rest, '/');
	if (!s1) {
		snprintf(err, errlen, "\"%s\": expected SERVICE/REGION%s", rest,
			 is_member ? "/ADDRESS" : "");
		return GSLB_EINVAL;
	}
	const struct service *svc = find_service(c, rest, (size_t)(s1 - rest));
	if (!svc) {
		snprintf(err, errlen, "no service \"%.*s\"", (int)(s1 - rest), rest);
		return GSLB_EINVAL;
	}
	const char *region = s1 + 1;
	const char *s2 = strchr(region, '/');
	size_t rl = s2 ? (size_t)(s2 - region) : strlen(region);
	if ((s2 != NULL) != is_member) {
		snprintf(err, errlen, "\"%s\": expected %s", target,
			 is_member ? "member:SERVICE/REGION/ADDRESS" : "pool:SERVICE/REGION");
		return GSLB_EINVAL;
	}
	int ri = find_region(c, region, rl);
	if (ri < 0 || svc->pool_of_region[ri] < 0) {
		snprintf(err, errlen, "service %s has no pool in region \"%.*s\"", svc->name,
			 (int)rl, region);
		return GSLB_EINVAL;
	}
	char st[300];
	svc_text(svc, st, sizeof(st));
	if (is_pool) {
		out->kind = OVERRIDE_POOL;
		snprintf(out->target, sizeof(out->target), "pool:%s/%s", st, c->regions[ri].name);
		return GSLB_OK;
	}
	const char *member = s2 + 1;
	const struct pool *p = &svc->pools[svc->pool_of_region[ri]];
	uint8_t a[16];
	char canon[INET6_ADDRSTRLEN + 1] = "";
	int fam = net_addr_parse(member, a);
	if (fam)
		addr_text(fam, a, canon, sizeof(canon));
	int found = 0;
	for (size_t i = 0; i < p->nmembers && !found; i++) {
		const struct member *m = &p->members[i];
		if (m->family && fam == m->family &&
		    memcmp(m->addr, a, fam == AF_INET ? 4 : 16) == 0)
			found = 1;
		else if (m->hostname && strcasecmp(m->hostname, member) == 0)
			found = 1;
	}
	/* A resolved address of a host-name member counts too. */
	const struct health *h = snap->health;
	if (!found && fam && h && p->gidx < h->npools) {
		const struct hpool *hp = &h->pools[p->gidx];
		for (size_t i = 0; i < hp->nmembers && !found; i++)
			found = hp->members[i].family == fam &&
				memcmp(hp->members[i].addr, a, fam == AF_INET ? 4 : 16) == 0;
	}
	if (!found) {
		snprintf(err, errlen, "pool %s/%s has no member \"%s\"", st, c->regions[ri].name,
			 member);
		return GSLB_EINVAL;
	}
	out->kind = OVERRIDE_MEMBER;
	snprintf(out->target, sizeof(out->target), "member:%s/%s/%s", st, c->regions[ri].name,
		 fam ? canon : member);
	return GSLB_OK;
}

int override_table_set(struct override_table *t, const struct override *o)
{
	if (o->state == OVERRIDE_NONE)
		return override_table_clear(t, o->target);
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].target, o->target) == 0) {
			t->v[i] = *o;
			return GSLB_OK;
		}
	}
	struct override *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (!nv)
		return GSLB_ENOMEM;
	t->v = nv;
	t->v[t->n++] = *o;
	return GSLB_OK;
}

int override_table_clear(struct override_table *t, const char *target)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].target, target) == 0) {
			t->v[i] = t->v[t->n - 1];
			t->n--;
			return GSLB_OK;
		}
	}
	return GSLB_ENOENT;
}

void override_table_free(struct override_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int override_active(const struct override *o, int64_t now)
{
	return o->start <= now && (o->end == 0 || now < o->end);
}

static uint8_t admin_lookup(const struct override_table *t, const char *target, int64_t now)
{
	if (!t)
		return OVERRIDE_NONE;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].target, target) == 0)
			return override_active(&t->v[i], now) ? t->v[i].state : OVERRIDE_NONE;
	return OVERRIDE_NONE;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->npools; i++)
		free(h->pools[i].members);
	free(h->pools);
	free(h);
}

struct health *health_clone(const struct health *h)
{
	struct health *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	*n = *h;
	n->pools = calloc(h->npools ? h->npools : 1, sizeof(*n->pools));
	if (!n->pools) {
		free(n);
		return NULL;
	}
	for (size_t i = 0; i < h->npools; i++) {
		n->pools[i] = h->pools[i];
		n->pools[i].members = NULL;
		if (h->pools[i].nmembers) {
			n->pools[i].members = malloc(h->pools[i].nmembers * sizeof(struct hmember));
			if (!n->pools[i].members) {
				n->npools = i;
				health_free(n);
				return NULL;
			}
			memcpy(n->pools[i].members, h->pools[i].members,
			       h->pools[i].nmembers * sizeof(struct hmember));
		}
	}
	return n;
}

enum health_state health_step(enum health_state state, uint16_t *oks, uint16_t *fails, int result,
			      unsigned rise, unsigned fall)
{
	if (result < 0)
		return state;
	if (result) {
		if (*oks < UINT16_MAX)
			(*oks)++;
		*fails = 0;
	} else {
		if (*fails < UINT16_MAX)
			(*fails)++;
		*oks = 0;
	}
	if (state == HEALTH_UNKNOWN)
		return result ? HEALTH_UP : HEALTH_DOWN; /* the first result decides */
	if (state == HEALTH_UP && !result && *fails >= (fall ? fall : 1))
		return HEALTH_DOWN;
	if (state == HEALTH_DOWN && result && *oks >= (rise ? rise : 1))
		return HEALTH_UP;
	return state;
}

/* How many usable members a pool needs: min_up is a count, or a fraction
 * of the members (rounded up, at least one). */
static unsigned needed(const struct pool *p, size_t nmembers)
{
	if (p->min_up >= 1.0)
		return (unsigned)p->min_up;
	if (p->min_up <= 0.0)
		return 0;
	unsigned n = (unsigned)ceil(p->min_up * (double)nmembers - 1e-9);
	return n ? n : 1;
}

/* pools[].load: the pool's figure, the mean of its usable members' (those
 * with a figure), and from it the share shed and whether it is full. A
 * pool down sheds nothing: it takes no clients anyway. */
static void pool_load(struct hpool *hp, const struct pool *p)
{
	double sum = 0;
	unsigned n = 0;

	hp->load = -1;
	hp->shed = 0;
	hp->full = 0;
	if (p->load.kind == LOAD_NONE)
		return;
	for (size_t mi = 0; mi < hp->nmembers; mi++) {
		const struct hmember *m = &hp->members[mi];
		if (m->usable && m->has_load) {
			sum += m->load;
			n++;
		}
	}
	if (n == 0)
		return;
	hp->load = round(sum / n * 1e6) / 1e6; /* 0.8 stays 0.8, not 0.8 + 1e-16 */
	if (!hp->up || hp->admin == OVERRIDE_FORCE_UP)
		return;
	if (hp->load >= p->load.high) {
		hp->full = 1;
		hp->shed = 1;
	} else if (hp->load > p->load.low) {
		hp->shed = (hp->load - p->load.low) / (p->load.high - p->load.low);
	}
}

static const char *pool_state_name(const struct hpool *hp)
{
	return !hp->up ? "down" : hp->full ? "full" : "up";
}

void health_compute(struct health *h, const struct snapshot *snap,
		    const struct override_table *admin, const struct health *prev, int64_t now)
{
	const struct conf *c = snap->conf;
	char key[600], st[300], at[INET6_ADDRSTRLEN + 1];

	for (size_t si = 0; si < c->nservices; si++) {
		const struct service *svc = &c->services[si];
		unsigned pools_up = 0, prev_up = 0;
		svc_text(svc, st, sizeof(st));
		for (size_t pi = 0; pi < svc->npools; pi++) {
			const struct pool *p = &svc->pools[pi];
			struct hpool *hp = &h->pools[p->gidx];
			const char *rname = c->regions[p->region].name;
			snprintf(key, sizeof(key), "region:%s", rname);
			uint8_t radm = admin_lookup(admin, key, now);
			snprintf(key, sizeof(key), "pool:%s/%s", st, rname);
			uint8_t padm = admin_lookup(admin, key, now);
			hp->admin = padm != OVERRIDE_NONE ? padm : radm;
			hp->usable4 = hp->usable6 = 0;
			hp->failing = 0;
			unsigned usable = 0;
			for (size_t mi = 0; mi < hp->nmembers; mi++) {
				struct hmember *m = &hp->members[mi];
				const struct member *cm = &p->members[m->member];
				addr_text(m->family, m->addr, at, sizeof(at));
				snprintf(key, sizeof(key), "member:%s/%s/%s", st, rname, at);
				uint8_t madm = admin_lookup(admin, key, now);
				if (madm == OVERRIDE_NONE && cm->hostname) {
					snprintf(key, sizeof(key), "member:%s/%s/%s", st, rname,
						 cm->hostname);
					madm = admin_lookup(admin, key, now);
				}
				m->admin = madm != OVERRIDE_NONE ? madm : hp->admin;
				m->failing = m->state != HEALTH_DOWN && m->fails > 0;
				m->usable = m->admin == OVERRIDE_FORCE_UP ||
					    (m->admin == OVERRIDE_NONE && m->state != HEALTH_DOWN);
				if (m->usable) {
					usable++;
					if (m->family == AF_INET)
						hp->usable4++;
					else if (m->family == AF_INET6)
						hp->usable6++;
					if (m->failing)
						hp->failing = 1;
				}
			}
			unsigned need = needed(p, hp->nmembers);
			if (p->cname_len && p->check_idx < 0) {
				/* An unchecked CNAME pool: up unless an admin says
				 * otherwise. */
				hp->up = hp->admin != OVERRIDE_DRAIN &&
					 hp->admin != OVERRIDE_FORCE_DOWN;
				snprintf(hp->reason, sizeof(hp->reason), "%s",
					 hp->up ? "cname" : override_state_name(hp->admin));
			} else if (hp->admin == OVERRIDE_FORCE_UP) {
				hp->up = 1;
				snprintf(hp->reason, sizeof(hp->reason), "forced up by admin");
			} else if (hp->admin == OVERRIDE_DRAIN ||
				   hp->admin == OVERRIDE_FORCE_DOWN) {
				hp->up = 0;
				snprintf(hp->reason, sizeof(hp->reason), "%s by admin (%s)",
					 hp->admin == OVERRIDE_DRAIN ? "drained" : "forced down",
					 padm != OVERRIDE_NONE ? "pool" : "region");
			} else if (p->cname_len && hp->nmembers == 0) {
				/* Its target not resolved yet is like a member not
				 * probed yet: answered. */
				hp->up = hp->cname_pending;
				snprintf(hp->reason, sizeof(hp->reason), "%s",
					 hp->cname_pending ? "cname target not resolved yet" :
							     "cname target has no address");
			} else {
				hp->up = usable >= need && usable > 0;
				snprintf(hp->reason, sizeof(hp->reason),
					 "%u of %zu members up, min_up %u", usable, hp->nmembers,
					 need);
			}
			const struct hpool *pp =
				prev && p->gidx < prev->npools ? &prev->pools[p->gidx] : NULL;
			pool_load(hp, p);
			/* one state per pool in the log, as in /status: up, full
			 * or down; a change of up says "pool state changed", a
			 * change of full alone "pool load state changed" */
			if (pp && pp->up == hp->up && hp->up && pp->full != hp->full)
				log_msg(hp->full ? LOG_LVL_WARN : LOG_LVL_INFO,
					"pool load state changed service=%s region=%s old=%s new=%s "
					"load=%.3f low=%g high=%g",
					st, rname, pool_state_name(pp), pool_state_name(hp),
					(double)hp->load, p->load.low, p->load.high);
			if (pp && pp->up != hp->up) {
				hp->since = now;
				log_info("pool state changed service=%s region=%s old=%s new=%s "
					 "reason=\"%s\"",
					 st, rname, pool_state_name(pp), pool_state_name(hp),
					 hp->reason);
			} else if (pp) {
				hp->since = pp->since;
			}
			pools_up += hp->up;
			prev_up += pp ? pp->up : 1;
		}
		if (prev && (pools_up == 0) != (prev_up == 0)) {
			if (pools_up == 0)
				log_warn("every pool of the service is down, when_all_down applies "
					 "service=%s when_all_down=%s",
					 st, all_down_name(svc->when_all_down));
			else
				log_info("service has a pool up again service=%s", st);
		}
	}
	h->version = prev ? prev->version + 1 : 1;
}

/* ---- last-known state ------------------------------------------------- */

struct known {
	char service[300], region[80], member[300], addr[64], state[16], reason[HEALTH_REASON_MAX];
	long long since;
};

static int known_cmp(const void *a, const void *b)
{
	const struct known *x = a, *y = b;
	int r = strcmp(x->service, y->service);
	return r ? r : strcmp(x->region, y->region);
}

/* Load state_dir/health.state; returns the entries sorted by service and
 * region (caller frees). Lines:
 *   SERVICE REGION MEMBER ADDRESS STATE SINCE REASON... */
static struct known *known_load(const char *state_dir, size_t *n)
{
	struct known *v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!state_dir)
		return NULL;
	FILE *fp = statefile_open(state_dir, "health.state");
	if (!fp)
		return NULL;
	char line[1024];
	while (fgets(line, sizeof(line), fp)) {
		struct known k;
		int used = 0;
		memset(&k, 0, sizeof(k));
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%299s %79s %299s %63s %15s %lld %n", k.service, k.region,
			   k.member, k.addr, k.state, &k.since, &used) < 6)
			continue;
		/* One "last known: " prefix, however many restarts it survived. */
		const char *rs = line + used;
		while (strncmp(rs, "last known: ", 12) == 0)
			rs += 12;
		snprintf(k.reason, sizeof(k.reason), "%s", rs);
		k.reason[strcspn(k.reason, "\n")] = '\0';
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct known *nv = realloc(v, nc * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		v[(*n)++] = k;
	}
	fclose(fp);
	if (v)
		qsort(v, *n, sizeof(*v), known_cmp);
	return v;
}

/* The entries of one pool in the sorted table: *count of them from the
 * result. Looked up once per pool, so a cold start stays linear. */
static const struct known *known_pool(const struct known *v, size_t n, const char *service,
				      const char *region, size_t *count)
{
	struct known key;
	size_t lo = 0, hi = n;
	snprintf(key.service, sizeof(key.service), "%s", service);
	snprintf(key.region, sizeof(key.region), "%s", region);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (known_cmp(&v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*count = 0;
	while (lo + *count < n && known_cmp(&v[lo + *count], &key) == 0)
		(*count)++;
	return v ? v + lo : NULL;
}

struct health_save_arg {
	const struct health *h;
	const struct snapshot *snap;
};

static int health_fill(FILE *fp, const void *arg)
{
	const struct health_save_arg *a = arg;
	const struct conf *c = a->snap->conf;
	char st[300], at[INET6_ADDRSTRLEN + 1];

	fprintf(fp, "# gslbd last-known health: SERVICE REGION MEMBER ADDRESS STATE SINCE "
		    "REASON\n");
	for (size_t si = 0; si < c->nservices; si++) {
		const struct service *svc = &c->services[si];
		svc_text(svc, st, sizeof(st));
		for (size_t pi = 0; pi < svc->npools; pi++) {
			const struct pool *p = &svc->pools[pi];
			const struct hpool *hp = &a->h->pools[p->gidx];
			for (size_t mi = 0; mi < hp->nmembers; mi++) {
				const struct hmember *m = &hp->members[mi];
				const struct member *cm = &p->members[m->member];
				addr_text(m->family, m->addr, at, sizeof(at));
				fprintf(fp, "%s %s %s %s %s %lld %s\n", st,
					c->regions[p->region].name, cm->text, at,
					health_state_name(m->state), (long long)m->since,
					m->reason);
			}
		}
	}
	return 0;
}

int health_save(const struct health *h, const struct snapshot *snap, const char *state_dir)
{
	const struct health_save_arg arg = { h, snap };

	if (!state_dir)
		return GSLB_OK;
	return statefile_write(state_dir, "health.state", health_fill, &arg);
}

/* Lines: STATE TARGET SINCE [{JSON}]: the object holds what an override
 * has beyond the first three fields ("start", "end": unix times), so that
 * more can be added without a new format; a reader ignores keys it does
 * not know. */
static int override_table_fill(FILE *fp, const void *arg)
{
	const struct override_table *t = arg;

	fprintf(fp, "# gslbd admin overrides: STATE TARGET SINCE [{\"start\":T,\"end\":T}]\n");
	for (size_t i = 0; i < t->n; i++) {
		const struct override *o = &t->v[i];
		fprintf(fp, "%s %s %lld", override_state_name(o->state), o->target,
			(long long)o->since);
		if (o->start || o->end)
			fprintf(fp, " {\"start\":%lld,\"end\":%lld}", (long long)o->start,
				(long long)o->end);
		fprintf(fp, "\n");
	}
	return 0;
}

/* The JSON object after the first fields of a line of overrides.state. */
static void override_extra(const char *text, struct override *o)
{
	json_t *j;

	while (*text == ' ' || *text == '\t')
		text++;
	if (*text != '{')
		return;
	j = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	if (json_is_integer(json_object_get(j, "start")))
		o->start = (int64_t)json_integer_value(json_object_get(j, "start"));
	if (json_is_integer(json_object_get(j, "end")))
		o->end = (int64_t)json_integer_value(json_object_get(j, "end"));
	if (o->start < 0)
		o->start = 0;
	if (o->end < 0)
		o->end = 0;
	json_decref(j);
}

int override_table_save(const struct override_table *t, const char *state_dir)
{
	if (!state_dir)
		return GSLB_OK;
	return statefile_write(state_dir, "overrides.state", override_table_fill, t);
}

int override_kind_of(const char *target, enum override_kind *kind)
{
	if (strncmp(target, "region:", 7) == 0)
		*kind = OVERRIDE_REGION;
	else if (strncmp(target, "pool:", 5) == 0)
		*kind = OVERRIDE_POOL;
	else if (strncmp(target, "member:", 7) == 0)
		*kind = OVERRIDE_MEMBER;
	else
		return GSLB_EINVAL;
	return GSLB_OK;
}

int override_table_load(struct override_table *t, const char *state_dir)
{
	char line[1024];
	int64_t now = (int64_t)time(NULL);
	if (!state_dir)
		return GSLB_OK;
	FILE *fp = statefile_open(state_dir, "overrides.state");
	if (!fp)
		return errno == ENOENT ? GSLB_OK : GSLB_EIO;
	while (fgets(line, sizeof(line), fp)) {
		char state[32], target[512];
		long long since = 0;
		struct override o;
		memset(&o, 0, sizeof(o));
		int used = 0;
		if (line[0] == '#' ||
		    sscanf(line, "%31s %511s %lld%n", state, target, &since, &used) < 2)
			continue;
		if (used > 0)
			override_extra(line + used, &o);
		if (o.end && o.end <= now)
			continue; /* ended while gslbd was not running */
		if (admin_action_parse(state, &o.state) || o.state == OVERRIDE_NONE)
			continue;
		if (override_kind_of(target, &o.kind))
			continue;
		snprintf(o.target, sizeof(o.target), "%s", target);
		o.since = since;
		if (override_table_set(t, &o))
			break;
	}
	fclose(fp);
	return GSLB_OK;
}

/* ---- first view ----------------------------------------------------------- */

static const struct hpool *prev_pool(const struct health *prev, const struct snapshot *prev_snap,
				     const struct service *svc, const char *rname,
				     const struct pool **prev_cfg)
{
	if (!prev || !prev_snap)
		return NULL;
	const struct conf *pc = prev_snap->conf;
	const struct service *ps = decide_find_service(prev_snap, svc->lname, svc->lname_len);
	if (!ps || ps->lname_len != svc->lname_len ||
	    memcmp(ps->lname, svc->lname, svc->lname_len) != 0)
		return NULL; /* new, or only covered by a wildcard service */
	for (size_t p = 0; p < ps->npools; p++) {
		if (strcmp(pc->regions[ps->pools[p].region].name, rname) == 0 &&
		    ps->pools[p].gidx < prev->npools) {
			*prev_cfg = &ps->pools[p];
			return &prev->pools[ps->pools[p].gidx];
		}
	}
	return NULL;
}

static int push_member(struct hpool *hp, size_t *cap, const struct hmember *m)
{
	if (hp->nmembers == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct hmember *nv = realloc(hp->members, nc * sizeof(*nv));
		if (!nv)
			return GSLB_ENOMEM;
		hp->members = nv;
		*cap = nc;
	}
	hp->members[hp->nmembers++] = *m;
	return GSLB_OK;
}

/* pools[].load read from the same place before and after a reload: only
 * then do the old readings mean anything. */
static int same_load_from(const struct pool *a, const struct pool *b)
{
	return a && b && a->load.kind == b->load.kind &&
	       strcmp(a->load.from ? a->load.from : "", b->load.from ? b->load.from : "") == 0;
}

static void carry(struct hmember *m, const struct hmember *old, int keep_load)
{
	m->state = old->state;
	m->fails = old->fails;
	m->oks = old->oks;
	m->since = old->since;
	m->has_load = keep_load ? old->has_load : 0;
	m->load = keep_load ? old->load : 0;
	m->has_latency = old->has_latency;
	m->latency = old->latency;
	memcpy(m->reason, old->reason, sizeof(m->reason));
}

/* Did the earlier pool probe the same CNAME target through its addresses? */
static int same_cname_probe(const struct pool *a, const struct pool *b)
{
	return a->cname_len && a->check_idx >= 0 && !a->cname_query && a->nmembers == 1 &&
	       b->nmembers == 1 && strcasecmp(a->members[0].hostname, b->members[0].hostname) == 0;
}

static uint8_t known_state(const char *s)
{
	return strcmp(s, "up") == 0   ? HEALTH_UP :
	       strcmp(s, "down") == 0 ? HEALTH_DOWN :
					HEALTH_UNKNOWN;
}

/* A member with an address (or a CNAME pool's query member): new, or
 * carried over from the previous view pp, or from the last-known entries
 * kp of its pool. */
static int initial_address(struct hpool *hp, size_t *cap, const struct pool *p, size_t mi,
			   const struct hpool *pp, const struct pool *pcfg, const struct known *kp,
			   size_t nkp)
{
	const struct member *cm = &p->members[mi];
	char at[INET6_ADDRSTRLEN + 1];
	struct hmember m;

	memset(&m, 0, sizeof(m));
	m.family = cm->family;
	memcpy(m.addr, cm->addr, 16);
	m.weight = cm->weight;
	m.member = (uint16_t)mi;
	m.state = p->check_idx < 0 ? HEALTH_UP : HEALTH_UNKNOWN;
	snprintf(m.reason, sizeof(m.reason), "%s",
		 p->check_idx < 0 ? "not checked" : "not probed yet");
	for (size_t k = 0; pp && k < pp->nmembers; k++) {
		const struct hmember *o = &pp->members[k];
		if (o->family == m.family && !memcmp(o->addr, m.addr, 16) && p->check_idx >= 0 &&
		    pcfg && pcfg->check_idx >= 0)
			carry(&m, o, same_load_from(p, pcfg));
	}
	addr_text(m.family, m.addr, at, sizeof(at));
	for (size_t k = 0; p->check_idx >= 0 && k < nkp; k++) {
		if (strcmp(kp[k].addr, at))
			continue;
		m.state = known_state(kp[k].state);
		m.since = kp[k].since;
		snprintf(m.reason, sizeof(m.reason), "last known: %s", kp[k].reason);
	}
	return push_member(hp, cap, &m);
}

/* A host-name member: the addresses it had (previous view, else the
 * last-known entries), until the prober resolves it again. */
static int initial_hostname(struct hpool *hp, size_t *cap, const struct pool *p, size_t mi,
			    const struct hpool *pp, const struct pool *pcfg, const struct known *kp,
			    size_t nkp)
{
	const struct member *cm = &p->members[mi];

	for (size_t k = 0; pp && pcfg && k < pp->nmembers; k++) {
		const struct hmember *o = &pp->members[k];
		const struct member *ocm = &pcfg->members[o->member];
		if (!o->family || !ocm->hostname || strcasecmp(ocm->hostname, cm->hostname))
			continue;
		struct hmember m = *o;
		m.member = (uint16_t)mi;
		m.weight = cm->weight;
		if (!same_load_from(p, pcfg)) {
			m.has_load = 0;
			m.load = 0;
		}
		if (p->check_idx < 0) {
			m.state = HEALTH_UP;
			m.fails = 0;
		} else if (pcfg->check_idx < 0) {
			m.state = HEALTH_UNKNOWN;
		}
		if (push_member(hp, cap, &m))
			return GSLB_ENOMEM;
	}
	for (size_t k = 0; k < nkp; k++) {
		const struct known *kn = &kp[k];
		struct hmember m;
		if (strcasecmp(kn->member, cm->hostname))
			continue;
		memset(&m, 0, sizeof(m));
		m.family = net_addr_parse(kn->addr, m.addr);
		if (!m.family)
			continue;
		m.member = (uint16_t)mi;
		m.weight = cm->weight;
		m.state = p->check_idx < 0 ? HEALTH_UP : known_state(kn->state);
		m.since = kn->since;
		snprintf(m.reason, sizeof(m.reason), "last known: %s", kn->reason);
		if (push_member(hp, cap, &m))
			return GSLB_ENOMEM;
	}
	return GSLB_OK;
}

struct health *health_initial(const struct snapshot *snap, const struct health *prev,
			      const struct snapshot *prev_snap, const char *state_dir,
			      const struct override_table *admin, int64_t now)
{
	const struct conf *c = snap->conf;
	size_t nknown = 0;
	struct known *known = prev ? NULL : known_load(state_dir, &nknown);
	struct health *h = calloc(1, sizeof(*h));
	char st[300];

	if (!h)
		goto fail;
	h->npools = c->npools;
	h->pools = calloc(c->npools ? c->npools : 1, sizeof(*h->pools));
	if (!h->pools)
		goto fail;
	for (size_t si = 0; si < c->nservices; si++) {
		const struct service *svc = &c->services[si];
		svc_text(svc, st, sizeof(st));
		for (size_t pi = 0; pi < svc->npools; pi++) {
			const struct pool *p = &svc->pools[pi];
			struct hpool *hp = &h->pools[p->gidx];
			const char *rname = c->regions[p->region].name;
			const struct pool *pcfg = NULL;
			const struct hpool *pp = prev_pool(prev, prev_snap, svc, rname, &pcfg);
			size_t cap = 0, nkp = 0;
			const struct known *kp =
				pp ? NULL : known_pool(known, nknown, st, rname, &nkp);
			hp->up = 1;
			if (pp)
				hp->since = pp->since;
			for (size_t mi = 0; mi < p->nmembers; mi++) {
				int rc = p->members[mi].family || p->cname_query ?
						 initial_address(hp, &cap, p, mi, pp, pcfg, kp,
								 nkp) :
						 initial_hostname(hp, &cap, p, mi, pp, pcfg, kp,
								  nkp);
				if (rc)
					goto fail;
			}
			hp->cname_pending =
				p->cname_len && p->check_idx >= 0 && !p->cname_query &&
				!(pp && pcfg && same_cname_probe(pcfg, p) && !pp->cname_pending);
		}
	}
	free(known);
	health_compute(h, snap, admin, NULL, now);
	if (prev)
		h->version = prev->version + 1;
	return h;
fail:
	free(known);
	health_free(h);
	return NULL;
}
