/* gslb.conf, the geo-balancing model: geoip, regions and services with
 * their routes, pools, members, fallback and redirect. Their tables and
 * handlers; the engine is config_schema.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/geo.h"

#define CONF_MAX_NAME 63
#define CONF_MAX_SVC_TTL 86400
#define CONF_MAX_ANSWERS 64
/* A pool's members are picked from a fixed array on the query path. */
#define CONF_MAX_MEMBERS_PER_FAMILY 256

int conf_region_index(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int check_index(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nchecks; i++)
		if (strcmp(c->checks[i].name, name) == 0)
			return (int)i;
	return -1;
}

int conf_valid_label_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CONF_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || (ch >= 'A' && ch <= 'Z')))
			return 0;
	}
	return 1;
}

/* ---- geoip ---------------------------------------------------------------- */

static int geoip_finish(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;

	if (!c->geoip.database && !c->geoip.overrides && !c->geoip.asn_database)
		return conf_error(ctx, s, "give a database (database = \"geoip/x.mmdb\";)");
	c->has_geoip = 1;
	return GSLB_OK;
}

static const struct conf_item geoip_items[] = {
	{ .name = "database",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, geoip.database),
	  .doc_default = "none (overrides only)" },
	{ .name = "overrides",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, geoip.overrides) },
	{ .name = "paths",
	  .type = CONF_GROUP,
	  .sub = &conf_sec_geoip_paths,
	  .doc_default = "GeoIP2 / GeoLite2" },
	{ .name = "compact", .type = CONF_BOOL, CONF_AT(struct conf, geoip_compact) },
	{ .name = "asn_database",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, geoip.asn_database),
	  .doc_default = "none" },
	{ NULL },
};

const struct conf_section conf_sec_geoip = {
	.path = "geoip",
	.example = "{ database = \"...\"; }",
	.items = geoip_items,
	.finish = geoip_finish,
};

static const struct conf_item geoip_paths_items[] = {
	{ .name = "country",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, geoip.path_country),
	  .maxlen = 255,
	  .doc_default = "`\"country/iso_code\"`" },
	{ .name = "continent",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, geoip.path_continent),
	  .maxlen = 255,
	  .doc_default = "`\"continent/code\"`" },
	{ .name = "subdivision",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, geoip.path_subdivision),
	  .maxlen = 255,
	  .doc_default = "`\"subdivisions/0/iso_code\"`" },
	{ .name = "latitude",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, geoip.path_latitude),
	  .maxlen = 255,
	  .doc_default = "`\"location/latitude\"`" },
	{ .name = "longitude",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, geoip.path_longitude),
	  .maxlen = 255,
	  .doc_default = "`\"location/longitude\"`" },
	{ NULL },
};

const struct conf_section conf_sec_geoip_paths = {
	.path = "geoip.paths",
	.example = "{ country = \"country/iso_code\"; ... }",
	.items = geoip_paths_items,
};

/* ---- regions -------------------------------------------------------------- */

static int region_name(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct region *r = base;

	if (!conf_valid_label_name(r->name))
		return conf_error(ctx, s, "\"%s\": use letters, digits, '-' and '_'", r->name);
	return GSLB_OK;
}

static int region_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct region *r = base;

	(void)ctx;
	r->line = config_setting_source_line(e);
	return GSLB_OK;
}

static int region_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct region *r = base;

	(void)e;
	if (r->bias != 0)
		ctx->c->region_bias = 1;
	r->sin_lat = sin(r->lat * M_PI / 180.0);
	r->cos_lat = cos(r->lat * M_PI / 180.0);
	r->lon_rad = r->lon * M_PI / 180.0;
	return GSLB_OK;
}

static const struct conf_item region_items[] = {
	{ .name = "name",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct region, name),
	  .maxlen = CONF_MAX_NAME,
	  .fn = region_name,
	  .hint = "name = \"eu-east\";" },
	{ .name = "lat",
	  .type = CONF_FLOAT,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct region, lat),
	  .f = { -90, 90, 0 },
	  .unit = "degrees" },
	{ .name = "lon",
	  .type = CONF_FLOAT,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct region, lon),
	  .f = { -180, 180, 0 },
	  .unit = "degrees" },
	{ .name = "bias",
	  .type = CONF_FLOAT,
	  CONF_AT(struct region, bias),
	  .f = { -99, 99, 0 },
	  .unit = "percent" },
	{ .name = "redirect",
	  .type = CONF_STRING,
	  CONF_AT(struct region, redirect),
	  .maxlen = 1024,
	  .doc_type = "URL" },
	{ NULL },
};

const struct conf_section conf_sec_region = {
	.path = "regions",
	.example = "{ name = \"eu-east\"; lat = 52.2; lon = 21.0; }",
	.items = region_items,
	.init = region_init,
	.finish = region_finish,
};

static int region_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	const struct region *regions = arr;

	for (size_t j = 0; j < i; j++)
		if (strcmp(regions[j].name, regions[i].name) == 0)
			return conf_error(ctx, e, "region \"%s\" is already defined at line %d",
					  regions[i].name, regions[j].line);
	return GSLB_OK;
}

int conf_parse_regions(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	void *arr = NULL;
	int rc;

	if (!config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list ( %s, ... )", conf_sec_region.example);
	rc = conf_parse_list(ctx, s, &conf_sec_region, sizeof(struct region), GSLB_MAX_REGIONS,
			     &arr, &c->nregions, region_each);
	c->regions = arr;
	return rc;
}

/* An array of region names, resolved to indexes. */
static int region_list(struct conf_ctx *ctx, const config_setting_t *s, unsigned **out,
		       size_t *nout)
{
	if (!conf_is_list(s))
		return conf_error(ctx, s, "expected a list of region names [ \"eu-east\", ... ]");
	int n = config_setting_length(s);
	if (n == 0)
		return conf_error(ctx, s, "empty region list");
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return conf_nomem(ctx);
	*nout = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		int rc = conf_get_string(ctx, e, &v);
		if (rc)
			return rc;
		int ri = conf_region_index(ctx->c, v);
		if (ri < 0)
			return conf_error(ctx, e, "unknown region \"%s\"", v);
		for (size_t j = 0; j < *nout; j++)
			if ((*out)[j] == (unsigned)ri)
				return conf_error(ctx, e, "region \"%s\" is listed twice", v);
		(*out)[(*nout)++] = (unsigned)ri;
	}
	return GSLB_OK;
}

/* ---- routes --------------------------------------------------------------- */

static const char *const continents[] = { "AF", "AN", "AS", "EU", "NA", "OC", "SA" };

/* country:XX, continent:XX, subdivision:XX-YY: the code, upper case. */
static int route_code(struct conf_ctx *ctx, const config_setting_t *s, struct route *r,
		      const char *kind, size_t kl, const char *val)
{
	size_t vl = strlen(val);

	if (vl == 0 || vl >= sizeof(r->code))
		return conf_error(ctx, s, "\"%s\": bad code", r->text);
	for (size_t i = 0; i < vl; i++) {
		char ch = val[i];
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 32);
		r->code[i] = ch;
	}
	r->code[vl] = '\0';
	if (kl == 7 && strncmp(kind, "country", 7) == 0) {
		double la, lo;
		r->kind = ROUTE_COUNTRY;
		if (vl != 2 || geo_country_centroid(r->code, &la, &lo) != 0)
			return conf_error(ctx, s,
					  "\"%s\" is not an ISO 3166-1 alpha-2 country code", val);
	} else if (kl == 9 && strncmp(kind, "continent", 9) == 0) {
		size_t i = 0;
		r->kind = ROUTE_CONTINENT;
		while (i < sizeof(continents) / sizeof(continents[0]) &&
		       strcmp(r->code, continents[i]) != 0)
			i++;
		if (i == sizeof(continents) / sizeof(continents[0]))
			return conf_error(ctx, s,
					  "\"%s\" is not a continent code (AF AN AS EU NA OC SA)",
					  val);
	} else if (kl == 11 && strncmp(kind, "subdivision", 11) == 0) {
		r->kind = ROUTE_SUBDIVISION;
		if (vl < 4 || r->code[2] != '-')
			return conf_error(ctx, s,
					  "\"%s\": expected an ISO 3166-2 code like PL-14 or US-CA",
					  val);
	} else {
		return conf_error(
			ctx, s, "\"%s\": expected country:, continent:, subdivision:, net: or asn:",
			r->text);
	}
	return GSLB_OK;
}

/* asn:N (or asn:ASN), N 1..4294967295; needs geoip.asn_database. */
static int route_asn(struct conf_ctx *ctx, const config_setting_t *s, struct route *r,
		     const char *val)
{
	char *end;
	if (strncasecmp(val, "as", 2) == 0)
		val += 2;
	errno = 0;
	unsigned long long n = val[0] >= '0' && val[0] <= '9' ? strtoull(val, &end, 10) : 0;
	if (n == 0 || n > UINT32_MAX || errno || *end)
		return conf_error(ctx, s, "\"%s\": expected asn:N, an AS number 1..4294967295",
				  r->text);
	if (!ctx->c->geoip.asn_database)
		return conf_error(ctx, s,
				  "\"%s\" needs an ASN database (geoip = { asn_database = "
				  "\"GeoLite2-ASN.mmdb\"; };)",
				  r->text);
	r->kind = ROUTE_ASN;
	r->asn = (uint32_t)n;
	snprintf(r->code, sizeof(r->code), "%u", r->asn);
	return GSLB_OK;
}

static int route_match(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct route *r = base;
	const char *mv = r->text;
	const char *colon = strchr(mv, ':');

	if (!colon)
		return conf_error(ctx, s,
				  "\"%s\": expected country:XX, continent:XX, subdivision:XX-YY, "
				  "net:CIDR or asn:N",
				  mv);
	if (colon - mv == 3 && strncasecmp(mv, "asn", 3) == 0)
		return route_asn(ctx, s, r, colon + 1);
	if (colon - mv == 3 && strncmp(mv, "net", 3) == 0) {
		char why[160];
		r->kind = ROUTE_NET;
		if (net_parse(colon + 1, 0, &r->net, why, sizeof(why)))
			return conf_error(ctx, s, "%s", why);
		return GSLB_OK;
	}
	return route_code(ctx, s, r, mv, (size_t)(colon - mv), colon + 1);
}

static int route_regions(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct route *r = base;
	if (r->regions)
		return conf_error(ctx, s, "a route has regions or split, not both");
	return region_list(ctx, s, &r->regions, &r->nregions);
}

/* One share of a split, as read (config only). */
struct split_entry {
	char *region;
	uint32_t weight;
};

static const struct conf_item split_items[] = {
	{ .name = "region",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct split_entry, region),
	  .doc_type = "region name" },
	{ .name = "weight",
	  .type = CONF_INT,
	  CONF_AT(struct split_entry, weight),
	  .i = { 0, 1000000, 1 } },
	{ NULL },
};

const struct conf_section conf_sec_split = {
	.path = "services.route.split",
	.example = "{ region = \"eu-east\"; weight = 90; }",
	.items = split_items,
};

/* split = ( { region; weight; }, ... ): the regions in order and where
 * each one's share of the ring ends. */
static int split_fill(struct conf_ctx *ctx, const config_setting_t *s, struct route *r,
		      const struct split_entry *se, size_t n)
{
	uint64_t total = 0, cum = 0;
	r->regions = calloc(n, sizeof(*r->regions));
	r->split_end = calloc(n, sizeof(*r->split_end));
	if (!r->regions || !r->split_end)
		return conf_nomem(ctx);
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int ri = conf_region_index(ctx->c, se[i].region);
		if (ri < 0)
			return conf_error(ctx, e, "unknown region \"%s\"", se[i].region);
		for (size_t j = 0; j < i; j++)
			if (r->regions[j] == (unsigned)ri)
				return conf_error(ctx, e, "region \"%s\" is listed twice",
						  se[i].region);
		r->regions[r->nregions++] = (unsigned)ri;
		total += se[i].weight;
	}
	if (total == 0)
		return conf_error(ctx, s, "every weight of the split is 0");
	for (size_t i = 0; i < n; i++) {
		cum += se[i].weight;
		r->split_end[i] = (uint32_t)((cum * ROUTE_SPLIT_RING + total / 2) / total);
	}
	return GSLB_OK;
}

static int route_split(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct route *r = base;
	void *arr = NULL;
	size_t n = 0;
	int rc;

	if (r->regions)
		return conf_error(ctx, s, "a route has regions or split, not both");
	if (!config_setting_is_list(s) || config_setting_length(s) == 0)
		return conf_error(ctx, s, "expected a list ( %s, ... )", conf_sec_split.example);
	rc = conf_parse_list(ctx, s, &conf_sec_split, sizeof(struct split_entry), GSLB_MAX_REGIONS,
			     &arr, &n, NULL);
	if (!rc)
		rc = split_fill(ctx, s, r, arr, n);
	for (size_t i = 0; arr && i < n; i++)
		conf_release(&conf_sec_split, (struct split_entry *)arr + i);
	free(arr);
	return rc;
}

static int route_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct route *r = base;

	if (!r->regions)
		return conf_error(ctx, e,
				  "no regions given (regions = [ \"eu-east\" ]; or split "
				  "= ( { region = \"eu-east\"; weight = 90; }, ... );)");
	return GSLB_OK;
}

static int route_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct route *r = base;

	(void)ctx;
	r->line = config_setting_source_line(e);
	return GSLB_OK;
}

static const struct conf_item route_items[] = {
	{ .name = "match",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_LATE,
	  CONF_AT(struct route, text),
	  .fn = route_match,
	  .doc_type = "`country:XX`, `continent:XX`, `subdivision:XX-YY`, `net:CIDR` or `asn:N`" },
	{ .name = "regions",
	  .type = CONF_STRINGS,
	  .flags = CONF_LATE,
	  .fn = route_regions,
	  .doc_type = "list of region names",
	  .doc_default = "regions or `split`" },
	{ .name = "split",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = route_split,
	  .sub = &conf_sec_split,
	  .doc_default = "regions or `split`" },
	{ NULL },
};

const struct conf_section conf_sec_route = {
	.path = "services.route",
	.example = "{ match = \"country:PL\"; regions = [ ... ]; }",
	.items = route_items,
	.init = route_init,
	.finish = route_finish,
};

/* ---- members -------------------------------------------------------------- */

/* Is s a plausible host name for a member (resolved with c-ares)? */
static int valid_hostname(const char *s)
{
	uint8_t tmp[DNAME_MAXLEN];
	if (strchr(s, ':') || strchr(s, '/') || strchr(s, ' '))
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return 0;
	return dname_from_str(s, tmp) > 0 && strchr(s, '.') != NULL;
}

/* Digits and dots only: meant as an IPv4 address (10.1.0.256, 10.1.0),
 * never a host name to resolve. */
static int looks_ipv4(const char *s) { return *s && strspn(s, "0123456789.") == strlen(s); }

static int member_address(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct member *mb = base;
	const char *v = NULL;
	int rc = conf_get_string(ctx, s, &v);

	if (rc)
		return rc;
	mb->text = strdup(v);
	if (!mb->text)
		return conf_nomem(ctx);
	if (inet_pton(AF_INET, v, mb->addr) == 1) {
		mb->family = AF_INET;
	} else if (inet_pton(AF_INET6, v, mb->addr) == 1) {
		mb->family = AF_INET6;
	} else if (looks_ipv4(v)) {
		return conf_error(ctx, s, "\"%s\" is not a valid IPv4 address", v);
	} else if (strchr(v, ':')) {
		return conf_error(ctx, s, "\"%s\" is not a valid IPv6 address", v);
	} else if (valid_hostname(v)) {
		mb->family = 0; /* resolved by the prober, A and AAAA */
		mb->hostname = strdup(v);
		if (!mb->hostname)
			return conf_nomem(ctx);
	} else {
		return conf_error(ctx, s, "\"%s\" is not an IPv4 or IPv6 address or a host name",
				  v);
	}
	return GSLB_OK;
}

static int member_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct member *mb = base;

	(void)ctx;
	mb->line = config_setting_source_line(e);
	return GSLB_OK;
}

static const struct conf_item member_items[] = {
	{ .name = "address",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_LATE,
	  .fn = member_address,
	  .doc_type = "IPv4 or IPv6 address, or host name" },
	{ .name = "weight",
	  .type = CONF_INT,
	  CONF_AT(struct member, weight),
	  .i = { 1, 1000000, 1 } },
	{ .name = "target",
	  .type = CONF_STRING,
	  CONF_AT(struct member, target),
	  .maxlen = 1024,
	  .doc_default = "the member",
	  .doc_type = "URL, or host:port" },
	{ NULL },
};

const struct conf_section conf_sec_member = {
	.path = "services.pools.members",
	.example = "{ address = \"192.0.2.1\"; weight = 1; }",
	.items = member_items,
	.init = member_init,
};

/* A member: an address or host name alone, or a group with address. */
static int parse_member(struct conf_ctx *ctx, const config_setting_t *e, struct member *mb)
{
	if (config_setting_is_group(e))
		return conf_parse_group(ctx, e, &conf_sec_member, mb);
	conf_defaults(&conf_sec_member, mb);
	member_init(ctx, e, mb);
	return member_address(ctx, e, mb);
}

/* ---- pools[].load ---------------------------------------------------------- */

/* from = "body-json:KEY" | "header:NAME" | "body-number", and low < high. */
static int load_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct pool_load *l = base;
	const char *f = l->from;

	if (strncmp(f, "body-json:", 10) == 0 && f[10]) {
		l->kind = LOAD_BODY_JSON;
		l->key = f + 10;
	} else if (strncmp(f, "header:", 7) == 0 && f[7] && !strpbrk(f + 7, ": \t\r\n")) {
		l->kind = LOAD_HEADER;
		l->key = f + 7;
	} else if (strcmp(f, "body-number") == 0) {
		l->kind = LOAD_BODY_NUMBER;
		l->key = NULL;
	} else {
		return conf_error(ctx, config_setting_get_member(e, "from"),
				  "\"%s\": expected \"body-json:KEY\", \"header:NAME\" or "
				  "\"body-number\"",
				  f);
	}
	if (l->low >= l->high)
		return conf_error(ctx, e, "low (%g) must be below high (%g)", l->low, l->high);
	return GSLB_OK;
}

static const struct conf_item load_items[] = {
	{ .name = "from",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_NONEMPTY,
	  CONF_AT(struct pool_load, from),
	  .maxlen = 200,
	  .hint = "from = \"body-json:load\";",
	  .doc_type = "`body-json:KEY`, `header:NAME` or `body-number`" },
	{ .name = "low",
	  .type = CONF_FLOAT,
	  CONF_AT(struct pool_load, low),
	  .f = { 0, 1, 0.8 },
	  .doc_type = "number 0..1" },
	{ .name = "high",
	  .type = CONF_FLOAT,
	  CONF_AT(struct pool_load, high),
	  .f = { 0, 1, 0.95 },
	  .doc_type = "number 0..1" },
	{ NULL },
};

const struct conf_section conf_sec_pool_load = {
	.path = "services.pools.load",
	.example = "{ from = \"body-json:load\"; low = 0.8; high = 0.95; }",
	.items = load_items,
	.finish = load_finish,
};

/* ---- pools ---------------------------------------------------------------- */

static int pool_check(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct pool *p = base;

	p->check_idx = check_index(ctx->c, p->check);
	if (p->check_idx < 0)
		return conf_error(ctx, s, "unknown check \"%s\"", p->check);
	return GSLB_OK;
}

static int pool_min_up(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct pool *p = base;

	if (p->min_up > 1 && p->min_up != (double)(long long)p->min_up)
		return conf_error(ctx, s, "a count (1, 2, ...) or a fraction below 1");
	return GSLB_OK;
}

static int pool_region(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct pool *p = base;
	const char *rv = config_setting_get_string(s);
	int ri = conf_region_index(ctx->c, rv);

	if (ri < 0)
		return conf_error(ctx, s, "unknown region \"%s\"", rv);
	if (ctx->svc->pool_of_region[ri] >= 0)
		return conf_error(ctx, s, "service %s already has a pool in region \"%s\"",
				  ctx->svc->name, rv);
	p->region = (unsigned)ri;
	return GSLB_OK;
}

/* A checked CNAME pool probes its target: one host-name member stands for
 * it (see struct pool), resolved and probed as host-name members are. */
static int cname_probe_member(struct conf_ctx *ctx, const config_setting_t *k, struct pool *p)
{
	char name[DNAME_MAXLEN * 4 + 1];
	size_t n = dname_to_str(p->cname, name, sizeof(name));
	struct member *mb;

	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (!valid_hostname(name))
		return conf_error(ctx, k,
				  "cname \"%s\" has a check: the target must be a host name to "
				  "probe",
				  name);
	p->members = calloc(1, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	p->nmembers = 1;
	mb = &p->members[0];
	mb->weight = 1;
	mb->line = config_setting_source_line(k);
	mb->hostname = strdup(name);
	mb->text = strdup(name);
	if (!mb->hostname || !mb->text)
		return conf_nomem(ctx);
	p->cname_query = ctx->c->checks[p->check_idx].type == CHECK_DNS;
	return GSLB_OK;
}

static int pool_cname(struct conf_ctx *ctx, const config_setting_t *cname, struct pool *p,
		      const config_setting_t *min_up)
{
	p->cname_len = (uint8_t)dname_from_str(config_setting_get_string(cname), p->cname);
	if (min_up && p->check_idx < 0)
		return conf_error(ctx, min_up,
				  "min_up on a cname pool without a check does nothing (the "
				  "pool is always up)");
	return p->check_idx >= 0 ? cname_probe_member(ctx, cname, p) : GSLB_OK;
}

static int pool_members(struct conf_ctx *ctx, const config_setting_t *members, struct pool *p)
{
	int n = config_setting_length(members);

	if (n == 0)
		return conf_error(ctx, members, "a pool needs at least one member");
	p->members = calloc((size_t)n, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *me = config_setting_get_elem(members, (unsigned)i);
		struct member *mb = &p->members[p->nmembers++];
		int rc = parse_member(ctx, me, mb);
		if (rc)
			return rc;
		for (size_t j = 0; j + 1 < p->nmembers; j++)
			if (p->members[j].family == mb->family &&
			    (mb->family ? memcmp(p->members[j].addr, mb->addr, 16) == 0 :
					  strcasecmp(p->members[j].hostname, mb->hostname) == 0))
				return conf_error(ctx, me, "member %s is listed twice", mb->text);
		if (mb->family == AF_INET)
			p->n4++;
		else if (mb->family == AF_INET6)
			p->n6++;
		if (p->n4 > CONF_MAX_MEMBERS_PER_FAMILY || p->n6 > CONF_MAX_MEMBERS_PER_FAMILY)
			return conf_error(ctx, me, "more than %d members of one family in a pool",
					  CONF_MAX_MEMBERS_PER_FAMILY);
	}
	return GSLB_OK;
}

static int pool_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct pool *p = base;

	(void)ctx;
	p->line = config_setting_source_line(e);
	p->check_idx = -1;
	return GSLB_OK;
}

/* members or cname, after region and check */
static int pool_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct pool *p = base;
	const config_setting_t *members = config_setting_get_member(e, "members");
	const config_setting_t *cname = config_setting_get_member(e, "cname");

	if ((members != NULL) == (cname != NULL))
		return conf_error(ctx, e, "a pool has either members or a cname");
	if (p->load.kind != LOAD_NONE) {
		const config_setting_t *ls = config_setting_get_member(e, "load");
		const struct check *ck = p->check_idx >= 0 ? &ctx->c->checks[p->check_idx] : NULL;
		static const char *const types[] = { [CHECK_HTTP] = "http",
						     [CHECK_HTTPS] = "https",
						     [CHECK_TCP] = "tcp",
						     [CHECK_DNS] = "dns" };
		if (!ck)
			return conf_error(ctx, ls,
					  "load is read from the responses of an http or https "
					  "check: the pool has no check");
		if (ck->type != CHECK_HTTP && ck->type != CHECK_HTTPS)
			return conf_error(ctx, ls,
					  "load is read from the responses of an http or https "
					  "check: the pool's check %s is a %s check",
					  ck->name, ck->type < 4 ? types[ck->type] : "?");
		if (ck->method_head && p->load.kind != LOAD_HEADER)
			return conf_error(ctx, ls,
					  "check %s asks with HEAD: a load in the body needs GET",
					  ck->name);
	}
	if (cname)
		return pool_cname(ctx, cname, p, config_setting_get_member(e, "min_up"));
	return pool_members(ctx, members, p);
}

static const struct conf_item pool_items[] = {
	{ .name = "region",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_LATE,
	  .fn = pool_region,
	  .doc_type = "region name" },
	{ .name = "members",
	  .type = CONF_STRINGS,
	  .sub = &conf_sec_member,
	  .expect = "a list of members",
	  .doc_type = "list of addresses, host names and groups",
	  .doc_default = "members or `cname`" },
	{ .name = "cname", .type = CONF_DNAME, .doc_default = "members or `cname`" },
	{ .name = "check",
	  .type = CONF_STRING,
	  CONF_AT(struct pool, check),
	  .maxlen = CONF_MAX_NAME,
	  .fn = pool_check,
	  .doc_default = "none (always up)",
	  .doc_type = "check name" },
	{ .name = "min_up",
	  .type = CONF_FLOAT,
	  CONF_AT(struct pool, min_up),
	  .f = { 0, 100000, 1 },
	  .fn = pool_min_up,
	  .doc_default = "1",
	  .doc_type = "number 0..100000: a count, or a fraction below 1" },
	{ .name = "load",
	  .type = CONF_GROUP,
	  .flags = CONF_OFF_UNLESS_SET,
	  CONF_AT(struct pool, load),
	  .sub = &conf_sec_pool_load,
	  .doc_default = "off" },
	{ NULL },
};

const struct conf_section conf_sec_pool = {
	.path = "services.pools",
	.example = "{ region = \"...\"; members = [ ... ]; }",
	.items = pool_items,
	.init = pool_init,
	.finish = pool_finish,
};

/* ---- services ------------------------------------------------------------- */

static int redirect_target(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct service *svc = base;

	if (strncmp(svc->redirect_target, "http://", 7) != 0 &&
	    strncmp(svc->redirect_target, "https://", 8) != 0)
		return conf_error(ctx, s, "\"%s\": the target starts with https:// or http://",
				  svc->redirect_target);
	return GSLB_OK;
}

static int redirect_status(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct service *svc = base;
	unsigned v = svc->redirect_status;

	if (v != 301 && v != 302 && v != 303 && v != 307 && v != 308)
		return conf_error(ctx, s, "%u: 301, 302, 303, 307 or 308", v);
	return GSLB_OK;
}

static int redirect_finish(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct service *svc = base;
	const config_setting_t *status = config_setting_get_member(s, "status");

	if (svc->redirect_all_methods && svc->redirect_status != 307 && svc->redirect_status != 308)
		return conf_error(ctx, status ? status : s,
				  "all_methods needs status 307 or 308 (they keep the method)");
	return GSLB_OK;
}

static const struct conf_item redirect_items[] = {
	{ .name = "target",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct service, redirect_target),
	  .maxlen = 1024,
	  .fn = redirect_target,
	  .doc_type = "URL, `{region}` replaced" },
	{ .name = "status",
	  .type = CONF_INT,
	  CONF_AT(struct service, redirect_status),
	  .i = { 300, 399, 302 },
	  .fn = redirect_status,
	  .doc_type = "301, 302, 303, 307 or 308" },
	{ .name = "all_methods", .type = CONF_BOOL, CONF_AT(struct service, redirect_all_methods) },
	{ NULL },
};

const struct conf_section conf_sec_redirect = {
	.path = "services.redirect",
	.example = "{ target = \"https://{region}...\"; }",
	.items = redirect_items,
	.finish = redirect_finish,
};

static int service_name(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct service *svc = base;
	svc->lname_len = (uint8_t)dname_from_str(svc->name, svc->lname);
	svc->wildcard = svc->lname[0] == 1 && svc->lname[1] == '*';
	/* "*" is only meaningful as the whole first label. */
	for (size_t p = svc->wildcard ? 2 : 0; svc->lname[p]; p += 1 + svc->lname[p])
		if (memchr(svc->lname + p + 1, '*', svc->lname[p]))
			return conf_error(ctx, s, "\"*\" may only be the first label");
	return GSLB_OK;
}

static int pool_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	struct pool *pools = arr;

	ctx->svc->pool_of_region[pools[i].region] = (int)i;
	if ((pools[i].cname_len > 0) != (pools[0].cname_len > 0))
		return conf_error(ctx, e,
				  "mixing pools with members and pools with a cname in one "
				  "service");
	return GSLB_OK;
}

static int service_pools(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct service *svc = base;
	void *arr = NULL;
	int rc;

	if (!config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list ( %s )", conf_sec_pool.example);
	if (config_setting_length(s) == 0)
		return conf_error(ctx, s, "service %s has no pools", svc->name);
	ctx->svc = svc;
	rc = conf_parse_list(ctx, s, &conf_sec_pool, sizeof(struct pool), 0, &arr, &svc->npools,
			     pool_each);
	svc->pools = arr;
	return rc;
}

static int service_routes(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct service *svc = base;
	void *arr = NULL;
	int rc;

	if (!config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list ( { match; regions; } )");
	rc = conf_parse_list(ctx, s, &conf_sec_route, sizeof(struct route), 0, &arr, &svc->nroutes,
			     NULL);
	svc->routes = arr;
	return rc;
}

static int service_default(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct service *svc = base;
	return region_list(ctx, s, &svc->dflt, &svc->ndflt);
}

/* fallback = [ "192.0.2.99", "2001:db8::99" ] or fallback = "sorry.example.net." */
static int service_fallback(struct conf_ctx *ctx, const config_setting_t *k, void *base)
{
	struct service *svc = base;
	struct pool *p = &svc->fallback;

	p->line = config_setting_source_line(k);
	if (config_setting_type(k) == CONFIG_TYPE_STRING) {
		const char *cv = config_setting_get_string(k);
		size_t l = dname_from_str(cv, p->cname);
		if (l == 0)
			return conf_error(ctx, k, "\"%s\" is not a valid domain name", cv);
		p->cname_len = (uint8_t)l;
		return GSLB_OK;
	}
	if (!conf_is_list(k))
		return conf_error(ctx, k, "expected a list of addresses or a CNAME target string");
	int n = config_setting_length(k);
	if (n == 0)
		return conf_error(ctx, k, "empty fallback");
	p->members = calloc((size_t)n, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *me = config_setting_get_elem(k, (unsigned)i);
		struct member *mb = &p->members[p->nmembers++];
		int rc = parse_member(ctx, me, mb);
		if (rc)
			return rc;
		if (mb->family == 0)
			return conf_error(ctx, me,
					  "fallback members are addresses, not host names");
		if (mb->family == AF_INET)
			p->n4++;
		else
			p->n6++;
	}
	return GSLB_OK;
}

static int service_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct service *svc = base;

	svc->line = config_setting_source_line(e);
	svc->file = conf_keep(ctx, conf_setting_file(ctx, e));
	if (!svc->file)
		return conf_nomem(ctx);
	svc->fallback.check_idx = -1;
	for (int r = 0; r < GSLB_MAX_REGIONS; r++)
		svc->pool_of_region[r] = -1;
	return GSLB_OK;
}

static int service_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct service *svc = base;
	const config_setting_t *fallback = config_setting_get_member(e, "fallback");

	if (svc->when_all_down == ALL_DOWN_FALLBACK && !fallback)
		return conf_error(ctx, config_setting_get_member(e, "when_all_down"),
				  "when_all_down = \"fallback\" needs fallback = [ "
				  "addresses ] or fallback = \"cname.target.\"");
	if (fallback && svc->when_all_down != ALL_DOWN_FALLBACK)
		return conf_error(ctx, fallback,
				  "fallback is only used with when_all_down = "
				  "\"fallback\"");
	if (svc->ttl_min > svc->ttl)
		svc->ttl_min = svc->ttl;
	return GSLB_OK;
}

static const char *all_down_value(int v) { return all_down_name((enum all_down)v); }

static const char *const members_picks[] = { "weighted", "sticky", NULL };

static const struct conf_item service_items[] = {
	{ .name = "name",
	  .type = CONF_DNAME,
	  .flags = CONF_REQUIRED | CONF_LATE,
	  CONF_AT(struct service, name),
	  .maxlen = 1024,
	  .fn = service_name,
	  .hint = "name = \"www.example.com\";",
	  .doc_type = "domain name, `*.` first for a wildcard" },
	{ .name = "ttl",
	  .type = CONF_INT,
	  CONF_AT(struct service, ttl),
	  .i = { 0, CONF_MAX_SVC_TTL, 30 },
	  .unit = "seconds" },
	{ .name = "answers",
	  .type = CONF_INT,
	  CONF_AT(struct service, answers),
	  .i = { 1, CONF_MAX_ANSWERS, 8 } },
	{ .name = "limit",
	  .type = CONF_INT,
	  CONF_AT(struct service, limit),
	  .i = { 0, GSLB_MAX_REGIONS, 0 } },
	{ .name = "ttl_min",
	  .type = CONF_INT,
	  CONF_AT(struct service, ttl_min),
	  .i = { 0, CONF_MAX_SVC_TTL, 5 },
	  .unit = "seconds" },
	{ .name = "when_all_down",
	  .type = CONF_ENUM,
	  CONF_AT(struct service, when_all_down),
	  .name_of = all_down_value },
	{ .name = "members_pick",
	  .type = CONF_ENUM,
	  CONF_AT(struct service, members_pick),
	  .names = members_picks },
	{ .name = "hash_prefix_v4",
	  .type = CONF_INT,
	  CONF_AT(struct service, hash_prefix_v4),
	  .i = { 0, 32, 24 },
	  .unit = "bits" },
	{ .name = "hash_prefix_v6",
	  .type = CONF_INT,
	  CONF_AT(struct service, hash_prefix_v6),
	  .i = { 0, 128, 56 },
	  .unit = "bits" },
	{ .name = "pools",
	  .type = CONF_GROUPS,
	  .flags = CONF_REQUIRED | CONF_LATE | CONF_ANY_TYPE,
	  .fn = service_pools,
	  .sub = &conf_sec_pool },
	{ .name = "route",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = service_routes,
	  .sub = &conf_sec_route,
	  .doc_default = "none (nearest first)" },
	{ .name = "default",
	  .type = CONF_STRINGS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = service_default,
	  .doc_type = "list of region names",
	  .doc_default = "config order" },
	{ .name = "fallback",
	  .type = CONF_STRINGS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = service_fallback,
	  .doc_type = "list of addresses, or a domain name" },
	{ .name = "redirect",
	  .type = CONF_GROUP,
	  .flags = CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_redirect,
	  .doc_default = "none (404)" },
	{ NULL },
};

const struct conf_section conf_sec_service = {
	.path = "services",
	.example = "{ name = \"www.example.com\"; ... }",
	.items = service_items,
	.init = service_init,
	.finish = service_finish,
};

static int service_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	struct service *services = arr;
	struct service *svc = &services[i];
	struct conf *c = ctx->c;
	size_t mask = ctx->svc_seen_mask;

	for (size_t p = 0; p < svc->npools; p++) {
		svc->pools[p].gidx = (unsigned)c->npools++;
		svc->pools[p].metric_slot = -1;
	}
	svc->metric_slot = -1;
	svc->fallback.metric_slot = -1;
	size_t h = dname_hash(svc->lname, svc->lname_len) & mask;
	for (; ctx->svc_seen[h]; h = (h + 1) & mask) {
		const struct service *o = &services[ctx->svc_seen[h] - 1];
		if (o->lname_len == svc->lname_len &&
		    memcmp(o->lname, svc->lname, svc->lname_len) == 0)
			return conf_error(ctx, e, "service %s is already defined at line %d",
					  svc->name, o->line);
	}
	ctx->svc_seen[h] = i + 1;
	return GSLB_OK;
}

int conf_parse_services(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	size_t mask = 1;
	void *arr = NULL;
	int rc;

	if (!config_setting_get_member(config_setting_parent(s), "regions"))
		return conf_error(ctx, s, "services need regions = ( ... ) first");
	if (!config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list ( %s )", conf_sec_service.example);
	/* Names seen so far, for the duplicate check: open addressing over
	 * indexes + 1 (0 = empty), so the check stays linear in the number
	 * of services and the first duplicate in file order is reported. */
	while (mask < 2 * (size_t)config_setting_length(s))
		mask <<= 1;
	ctx->svc_seen_mask = mask - 1;
	ctx->svc_seen = calloc(mask, sizeof(*ctx->svc_seen));
	if (!ctx->svc_seen)
		return conf_nomem(ctx);
	rc = conf_parse_list(ctx, s, &conf_sec_service, sizeof(struct service), 0, &arr,
			     &c->nservices, service_each);
	c->services = arr;
	free(ctx->svc_seen);
	ctx->svc_seen = NULL;
	return rc;
}

static void free_members(struct pool *pl)
{
	for (size_t m = 0; m < pl->nmembers; m++) {
		free(pl->members[m].text);
		free(pl->members[m].hostname);
		conf_release(&conf_sec_member, &pl->members[m]);
	}
	free(pl->members);
}

void conf_free_services(struct conf *c)
{
	for (size_t i = 0; i < c->nservices; i++) {
		struct service *s = &c->services[i];
		for (size_t p = 0; p < s->npools; p++) {
			free_members(&s->pools[p]);
			conf_release(&conf_sec_pool, &s->pools[p]);
		}
		free_members(&s->fallback);
		free(s->pools);
		for (size_t r = 0; r < s->nroutes; r++) {
			free(s->routes[r].regions);
			free(s->routes[r].split_end);
			conf_release(&conf_sec_route, &s->routes[r]);
		}
		free(s->routes);
		free(s->dflt);
		conf_release(&conf_sec_service, s);
	}
	free(c->services);
	for (size_t i = 0; i < c->nregions; i++)
		conf_release(&conf_sec_region, &c->regions[i]);
	free(c->regions);
}
