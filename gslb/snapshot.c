/* A snapshot is everything one query needs: the config, every zone, the
 * GeoIP data and the service table, loaded and validated completely before
 * anyone can see it. Building it is all-or-nothing, so a broken zone or
 * overrides file can never be half-published. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gslb/decide.h"
#include "gslb/dnssec.h"
#include "gslb/dnssec_cache.h"
#include "gslb/dnstap.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/snapshot.h"

struct snapshot_base {
	struct conf *conf;
	struct zoneset *zones;
	const struct service **svc_table;
	struct svc_ent *svc_ents;
	unsigned refs;
};

static void base_put(struct snapshot_base *b)
{
	if (!b || --b->refs > 0)
		return;
	free(b->svc_table);
	free(b->svc_ents);
	zoneset_free(b->zones);
	conf_free(b->conf);
	free(b);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;
	while (p < n)
		p <<= 1;
	return p;
}

/* Region names on overrides lines become indexes; an unknown name is an
 * error at its line, like any other config mistake. */
static int resolve_overrides(struct snapshot *s, char *err, size_t errlen)
{
	size_t n = geo_override_count(s->geo);
	if (n == 0)
		return GSLB_OK;
	s->override_regions = calloc(n, sizeof(*s->override_regions));
	if (!s->override_regions)
		return GSLB_ENOMEM;
	s->noverride_regions = n;
	for (size_t i = 0; i < n; i++) {
		const struct geo_override *o = geo_override_at(s->geo, i);
		if (o->nregions == 0)
			continue;
		s->override_regions[i] = calloc(o->nregions, sizeof(unsigned));
		if (!s->override_regions[i])
			return GSLB_ENOMEM;
		for (size_t k = 0; k < o->nregions; k++) {
			size_t r;
			for (r = 0; r < s->conf->nregions; r++)
				if (strcmp(s->conf->regions[r].name, o->regions[k]) == 0)
					break;
			if (r == s->conf->nregions) {
				snprintf(err, errlen, "%s:%d: unknown region \"%s\"",
					 geo_overrides_path(s->geo), o->line, o->regions[k]);
				return GSLB_EINVAL;
			}
			s->override_regions[i][k] = (unsigned)r;
		}
	}
	return GSLB_OK;
}

/* A service must live inside a zone we serve, above any zone cut, and the
 * zone must not hold a CNAME at its name (CNAME and other data). */
static int check_service_zone(const struct snapshot *s, const struct service *svc, char *err,
			      size_t errlen)
{
	const struct zone *z = zoneset_find(s->zones, svc->lname, svc->lname_len);
	if (!z) {
		snprintf(err, errlen, "%s:%d: service %s is outside every zone served", svc->file,
			 svc->line, svc->name);
		return GSLB_EINVAL;
	}
	struct zone_answer za;
	zone_lookup(z, svc->lname, svc->lname_len, 1, &za);
	if (za.result == ZONE_DELEGATION) {
		snprintf(err, errlen,
			 "%s:%d: service %s is below a zone cut in %s (delegated away)", svc->file,
			 svc->line, svc->name, z->origin_str);
		return GSLB_EINVAL;
	}
	if (za.result == ZONE_EXACT && (za.node->flags & ZONE_NODE_CNAME)) {
		snprintf(err, errlen, "%s:%d: service %s: the zone %s has a CNAME at this name",
			 svc->file, svc->line, svc->name, z->file);
		return GSLB_EINVAL;
	}
	if (za.result == ZONE_EXACT && (za.node->flags & ZONE_NODE_APEX) &&
	    svc->pools[0].cname_len) {
		snprintf(err, errlen, "%s:%d: service %s: a CNAME cannot be at the zone apex",
			 svc->file, svc->line, svc->name);
		return GSLB_EINVAL;
	}
	return GSLB_OK;
}

/* A split: a region the service has no pool in gets its share only to
 * pass it on; a hash prefix of 0 puts every client of a family in one
 * bucket, so the split sends all of them to one region. */
static void lint_split(const struct conf *c, const struct service *svc, const struct route *rt)
{
	if (!rt->split_end)
		return;
	for (size_t x = 0; x < rt->nregions; x++) {
		unsigned lo = x ? rt->split_end[x - 1] : 0;
		if (svc->pool_of_region[rt->regions[x]] < 0)
			log_warn("split names a region where the service has no pool: its share "
				 "goes to the clients' next region service=%s match=%s region=%s "
				 "share=%.1f%% line=%d",
				 svc->name, rt->text, c->regions[rt->regions[x]].name,
				 100.0 * (rt->split_end[x] - lo) / ROUTE_SPLIT_RING, rt->line);
	}
	for (int fi = 0; fi < 2; fi++) {
		unsigned bits = fi ? svc->hash_prefix_v6 : svc->hash_prefix_v4;
		if (bits == 0 &&
		    (rt->kind != ROUTE_NET || rt->net.family == (fi ? AF_INET6 : AF_INET)))
			log_warn("split with %s = 0: every %s client is in one bucket and goes "
				 "to one region service=%s match=%s line=%d",
				 fi ? "hash_prefix_v6" : "hash_prefix_v4", fi ? "IPv6" : "IPv4",
				 svc->name, rt->text, rt->line);
	}
}

/* What `gslbd -t` reports beyond hard errors: config that loads but can
 * never have an effect. */
static void lint(const struct snapshot *s)
{
	const struct conf *c = s->conf;
	for (size_t r = 0; r < c->nregions; r++) {
		int used = 0;
		for (size_t i = 0; i < c->nservices && !used; i++)
			used = c->services[i].pool_of_region[r] >= 0;
		if (!used)
			log_warn("region has no pool in any service and never answers region=%s "
				 "file=%s line=%d",
				 c->regions[r].name, c->path, c->regions[r].line);
	}
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		for (size_t k = 0; k < svc->nroutes; k++) {
			const struct route *rt = &svc->routes[k];
			int usable = 0;
			for (size_t x = 0; x < rt->nregions; x++)
				usable |= svc->pool_of_region[rt->regions[x]] >= 0;
			if (!usable)
				log_warn("route names no region where the service has a pool "
					 "service=%s match=%s line=%d",
					 svc->name, rt->text, rt->line);
			for (size_t j = 0; j < k; j++) {
				const struct route *e = &svc->routes[j];
				int shadowed = 0;
				if (e->kind == rt->kind && e->kind != ROUTE_NET)
					shadowed = strcmp(e->code, rt->code) == 0;
				else if (e->kind == ROUTE_COUNTRY && rt->kind == ROUTE_SUBDIVISION)
					shadowed = strncmp(e->code, rt->code, 2) == 0;
				else if (e->kind == ROUTE_NET && rt->kind == ROUTE_NET)
					shadowed = net_contains(&e->net, rt->net.family,
								rt->net.addr, rt->net.prefix);
				if (shadowed)
					log_warn(
						"route can never match: an earlier rule takes all its "
						"clients service=%s match=%s line=%d earlier=%s "
						"earlier_line=%d",
						svc->name, rt->text, rt->line, e->text, e->line);
			}
			lint_split(c, svc, rt);
			if ((rt->kind == ROUTE_COUNTRY || rt->kind == ROUTE_CONTINENT ||
			     rt->kind == ROUTE_SUBDIVISION) &&
			    !s->geo)
				log_warn("route needs a GeoIP database and none is configured "
					 "service=%s match=%s line=%d",
					 svc->name, rt->text, rt->line);
		}
		if (!svc->dflt && svc->npools > 1)
			log_debug(
				"service has no default order; unknown locations get config order "
				"service=%s",
				svc->name);
	}
}

static int ent_insert(struct snapshot *s, const uint8_t *name, size_t len)
{
	uint32_t h = dname_hash(name, len);
	for (size_t i = h & s->svc_ent_mask;; i = (i + 1) & s->svc_ent_mask) {
		if (!s->svc_ents[i].name) {
			s->svc_ents[i].name = name;
			s->svc_ents[i].len = len;
			return 1;
		}
		if (s->svc_ents[i].len == len && memcmp(s->svc_ents[i].name, name, len) == 0)
			return 0;
	}
}

/* Every ancestor of a service name below its zone's apex exists. */
static int build_service_ents(struct snapshot *s)
{
	const struct conf *c = s->conf;
	size_t bound = 0; /* ancestors to insert, at most */
	for (size_t i = 0; i < c->nservices; i++) {
		uint8_t offs[DNAME_MAXLABELS];
		bound += dname_labels(c->services[i].lname, offs);
	}
	s->svc_ent_mask = pow2_at_least(bound < 64 ? 128 : bound * 2) - 1;
	s->svc_ents = calloc(s->svc_ent_mask + 1, sizeof(*s->svc_ents));
	if (!s->svc_ents)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		const struct zone *z = zoneset_find(s->zones, svc->lname, svc->lname_len);
		const uint8_t *n = svc->lname;
		size_t len = svc->lname_len;
		while (z && len > z->origin_len) {
			len -= 1 + (size_t)n[0];
			n += 1 + (size_t)n[0];
			if (len <= z->origin_len)
				break;
			if (!ent_insert(s, n, len))
				break; /* its ancestors are in already */
		}
	}
	return GSLB_OK;
}

static int build_services(struct snapshot *s, char *err, size_t errlen)
{
	const struct conf *c = s->conf;
	if (c->nservices == 0)
		return GSLB_OK;
	s->svc_mask = pow2_at_least(c->nservices * 2) - 1;
	s->svc_table = calloc(s->svc_mask + 1, sizeof(*s->svc_table));
	if (!s->svc_table)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		int rc = check_service_zone(s, svc, err, errlen);
		if (rc)
			return rc;
		uint32_t h = dname_hash(svc->lname, svc->lname_len);
		size_t slot = h & s->svc_mask;
		while (s->svc_table[slot])
			slot = (slot + 1) & s->svc_mask;
		s->svc_table[slot] = svc;
		if (svc->wildcard)
			s->has_wildcard_services = 1;
	}
	return build_service_ents(s);
}

static int list_has(const unsigned *list, size_t n, unsigned r)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == r)
			return 1;
	return 0;
}

/* For each service, whether every client gets the same region whatever its
 * location, so that its answers carry ECS scope 0: one pool, and no rule,
 * limit, default or overrides line that can send a client past it. */
static int compute_location_free(struct snapshot *s)
{
	const struct conf *c = s->conf;
	s->location_free = calloc(c->nservices ? c->nservices : 1, 1);
	if (!s->location_free)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		if (svc->npools == 0) {
			s->location_free[i] = 1;
			continue;
		}
		unsigned r = svc->pools[0].region;
		int ok = svc->npools == 1 && svc->nroutes == 0 && svc->limit == 0 &&
			 (svc->ndflt == 0 || list_has(svc->dflt, svc->ndflt, r));
		for (size_t k = 0; ok && k < s->noverride_regions; k++) {
			const struct geo_override *o = geo_override_at(s->geo, k);
			if (o->nregions > 0 && !list_has(s->override_regions[k], o->nregions, r))
				ok = 0;
		}
		s->location_free[i] = (uint8_t)ok;
	}
	return GSLB_OK;
}

/* geoip.compact: the class table for s's config and database, built once
 * s has both; the database file's pages the build walked are let go. */
static int load_classes(struct snapshot *s, char *err, size_t errlen)
{
	struct timespec t0, t1;
	size_t nodes, leaves, bytes;

	s->gclass = NULL;
	if (!s->conf->geoip_compact || !s->geo || !geo_db_path(s->geo)[0])
		return GSLB_OK;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = decide_build_classes(s, &s->gclass, err, errlen);
	if (rc)
		return rc;
	geo_release_pages(s->geo);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	geo_compact_stats(s->gclass->table, &nodes, &leaves, &bytes);
	log_info("geoip compact table database=%s networks=%zu classes=%zu bytes=%zu ms=%.0f",
		 geo_db_path(s->geo), leaves, s->gclass->nclasses - GEO_CLASS_FIRST, bytes,
		 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return GSLB_OK;
}

/* GeoIP data for s (which has its config): database, overrides, and the
 * overrides' region names resolved against the config. */
static int load_geo(struct snapshot *s, char *err, size_t errlen)
{
	int rc = geo_open(&s->conf->geoip, &s->geo, err, errlen);
	if (rc)
		return rc;
	return resolve_overrides(s, err, errlen);
}

static int load_blocklist(struct snapshot *s, char *err, size_t errlen)
{
	if (!s->conf->acl_blocklist)
		return GSLB_OK;
	return net_set_load_file(s->conf->acl_blocklist, &s->acl_block, err, errlen);
}

/* zones[].dnssec: the zone signed with its keys, signatures valid from
 * now - inception_offset for signature_validity (dnssec_zone.c). */
static int sign_zone(struct zone *z, const struct conf_zone *cz, char *err, size_t errlen)
{
	const struct conf_dnssec *d = &cz->dnssec;
	if (!d->enabled)
		return GSLB_OK;
	uint32_t now = (uint32_t)time(NULL);
	char zerr[768] = "";
	int rc = dnssec_sign_zone(z, d->keys, d->nkeys, now - d->inception_offset,
				  now + d->signature_validity, zerr, sizeof(zerr));
	if (!rc &&
	    dnssec_zone_signer(z, d->keys, d->nkeys, d->signature_validity, d->signature_refresh,
			       d->inception_offset, now + d->signature_validity))
		rc = GSLB_ENOMEM;
	if (rc) {
		snprintf(err, errlen, "%s:%d: zone %s: %s", cz->conf_file, cz->line, cz->origin,
			 zerr);
		return rc;
	}
	for (size_t k = 0; k < d->nkeys; k++)
		log_info("dnssec key zone=%s tag=%u algorithm=%u flags=%u", cz->origin,
			 d->keys[k].tag, d->keys[k].alg, d->keys[k].flags);
	log_info("dnssec zone signed zone=%s signatures=%zu valid_until=%u", cz->origin,
		 dnssec_zone_signatures(z), now + d->signature_validity);
	return GSLB_OK;
}

/* Signed zones: the services' answer sets into the signature cache
 * (dnssec_warm.c), so that the first queries find them signed. */
static void warm_signatures(const struct snapshot *s)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t n = dnssec_warm(s, s->health);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (n)
		log_info("dnssec answer sets signed signatures=%zu ms=%.0f", n,
			 (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int snapshot_load(const char *path, struct snapshot **out, char *err, size_t errlen)
{
	struct snapshot *s = NULL;
	struct snapshot_base *b = NULL;
	struct conf *conf = NULL;
	struct zone **zones = NULL;
	size_t nloaded = 0;
	int rc;

	*out = NULL;
	rc = conf_load(path, &conf, err, errlen);
	if (rc)
		goto out;
	s = calloc(1, sizeof(*s));
	b = calloc(1, sizeof(*b));
	if (conf->nzones > 0)
		zones = calloc(conf->nzones, sizeof(*zones));
	if (s == NULL || b == NULL || (conf->nzones > 0 && zones == NULL)) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < conf->nzones; i++) {
		rc = zone_load(conf->zones[i].origin, conf->zones[i].file, &zones[i], err, errlen);
		if (rc == GSLB_EIO) {
			/* A file that cannot be read is a config mistake: point at
			 * the config line that names it. */
			char zerr[768];
			snprintf(zerr, sizeof(zerr), "%s", err);
			snprintf(err, errlen, "%s:%d: zone %s: %s", conf->zones[i].conf_file,
				 conf->zones[i].line, conf->zones[i].origin, zerr);
		}
		if (rc)
			goto out;
		nloaded++;
		rc = sign_zone(zones[i], &conf->zones[i], err, errlen);
		if (rc)
			goto out;
	}
	b->refs = 1;
	s->base = b;
	b->conf = s->conf = conf;
	conf = NULL;
	/* zoneset_new owns the zones from here on, failure included. */
	nloaded = 0;
	rc = zoneset_new(zones, s->conf->nzones, &b->zones, err, errlen);
	b = NULL;
	if (rc)
		goto out;
	s->zones = s->base->zones;
	if (s->conf->has_geoip) {
		rc = load_geo(s, err, errlen);
		if (rc)
			goto out;
	}
	rc = load_blocklist(s, err, errlen);
	if (rc)
		goto out;
	rc = build_services(s, err, errlen);
	s->base->svc_table = s->svc_table;
	s->base->svc_ents = s->svc_ents;
	if (rc)
		goto out;
	rc = compute_location_free(s);
	if (!rc)
		rc = load_classes(s, err, errlen);
	if (rc)
		goto out;
	{
		/* The first health view: last-known states and admin overrides
		 * from state_dir, so -t, --explain and a restart see them. */
		struct override_table adm = { 0 };
		override_table_load(&adm, s->conf->state_dir);
		s->health = health_initial(s, NULL, NULL, s->conf->state_dir, &adm,
					   (int64_t)time(NULL));
		override_table_free(&adm);
		if (!s->health) {
			rc = GSLB_ENOMEM;
			goto out;
		}
	}
	lint(s);
	warm_signatures(s);
	s->generation = 1;
	*out = s;
	s = NULL;
out:
	if (rc == GSLB_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	for (size_t i = 0; i < nloaded; i++)
		zone_free(zones[i]);
	free(zones);
	free(b);
	conf_free(conf);
	snapshot_free(s);
	return rc;
}

int snapshot_regeo(const struct snapshot *old, struct snapshot **out, char *err, size_t errlen)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int rc = GSLB_OK;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	*s = *old;
	s->geo = NULL;
	s->gclass = NULL;
	s->override_regions = NULL;
	s->noverride_regions = 0;
	s->location_free = NULL;
	s->acl_block = NULL; /* before any failure return: old's stays old's */
	s->dnstap = NULL;    /* the server attaches it (dnstap_attach) */
	s->base->refs++;
	/* Until the prober adopts this snapshot, it shows the old states. */
	s->health = old->health ? health_clone(old->health) : NULL;
	if (old->health && !s->health) {
		snapshot_free(s);
		snprintf(err, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	if (s->conf->has_geoip)
		rc = load_geo(s, err, errlen);
	if (!rc)
		rc = compute_location_free(s);
	if (!rc)
		rc = load_classes(s, err, errlen);
	if (!rc)
		rc = load_blocklist(s, err, errlen);
	if (rc) {
		snapshot_free(s);
		return rc;
	}
	s->generation = old->generation + 1;
	*out = s;
	return GSLB_OK;
}

/* Memory across reloads. A reload builds a whole snapshot while the old one
 * serves, then frees the old one: large blocks (tables of services, names,
 * geo caches, zone data) come and go in turn. Two glibc defaults make the
 * resident set climb with every reload: the mmap threshold rises to the size
 * of the largest mmapped block freed so far (so from the first reload on,
 * multi-megabyte tables come from the heap, where calloc must clear them and
 * free keeps them), and pages freed inside a heap stay resident until the
 * heap's top is trimmed. Pinning the threshold (which turns its dynamic
 * rise off) and trimming every arena after a snapshot is retired keep the
 * resident set flat (bench/scale.py prints the curve,
 * tests/system/test_reload.py checks it). The threshold sits above the
 * 64 KiB buffers ldns allocates and frees for every zone record it parses,
 * and the trim threshold above the pair of them: at 64 KiB each record cost
 * two mmap/munmap pairs and their page faults, and with the default trim
 * threshold two brk calls (a 1M-record zone loaded in 26 s instead of 2 s;
 * bench/scale.sh). Blocks of the size of a snapshot's tables are still
 * mmapped. M_MMAP_THRESHOLD or M_TRIM_THRESHOLD set through
 * MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in the environment is
 * left alone. */
#define SNAPSHOT_MMAP_THRESHOLD (256 * 1024)
#define SNAPSHOT_TRIM_THRESHOLD (1024 * 1024)

void snapshot_memory_init(void)
{
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		mallopt(M_MMAP_THRESHOLD, SNAPSHOT_MMAP_THRESHOLD);
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
		mallopt(M_TRIM_THRESHOLD, SNAPSHOT_TRIM_THRESHOLD);
}

void snapshot_memory_release(void) { malloc_trim(0); }

void snapshot_free(struct snapshot *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->noverride_regions; i++)
		free(s->override_regions[i]);
	free(s->override_regions);
	health_free(s->health);
	decide_free_classes(s->gclass);
	free(s->location_free);
	geo_close(s->geo);
	net_set_free(s->acl_block);
	dnstap_unref(s->dnstap);
	if (s->base)
		base_put(s->base);
	free(s);
}
