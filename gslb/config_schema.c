/* The schema engine: reads a libconfig group key by key against its table
 * (config_schema.h), and prints the tables as the reference's Markdown.
 * Every complaint names the file and line of the setting at fault, because
 * an operator reading "invalid value" without a location has to bisect the
 * file by hand. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <errno.h>

#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/log.h"

/* ---- messages ------------------------------------------------------- */

/* "zones[1].file", built from the setting's ancestors, for messages. */
static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(s);
	size_t used;

	buf[0] = '\0';
	if (parent == NULL)
		return; /* the root has no name */
	setting_path(parent, buf, len);
	used = strlen(buf);
	if (config_setting_name(s) != NULL)
		snprintf(buf + used, len - used, "%s%s", used ? "." : "", config_setting_name(s));
	else
		snprintf(buf + used, len - used, "[%d]", config_setting_index(s));
}

/* libconfig names an @included file as the @include line wrote it
 * ("pools/eu.conf"), relative to the include folder, the config's own
 * folder; messages give a name that works from the current folder. */
const char *conf_shown_file(struct conf_ctx *ctx, const char *f)
{
	if (f == NULL)
		return ctx->path;
	if (f[0] == '/' || strcmp(f, ctx->path) == 0 || ctx->incdir == NULL ||
	    strcmp(ctx->incdir, ".") == 0)
		return f;
	snprintf(ctx->shown, sizeof(ctx->shown), "%s/%s", ctx->incdir, f);
	return ctx->shown;
}

const char *conf_setting_file(struct conf_ctx *ctx, const config_setting_t *s)
{
	return conf_shown_file(ctx, config_setting_source_file(s));
}

int conf_error(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char name[256];
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	setting_path(s, name, sizeof(name));
	if (name[0])
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s: %s", conf_setting_file(ctx, s),
			 config_setting_source_line(s), name, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", conf_setting_file(ctx, s),
			 config_setting_source_line(s), msg);
	return GSLB_EINVAL;
}

int conf_nomem(struct conf_ctx *ctx)
{
	snprintf(ctx->err, ctx->errlen, "%s: out of memory", ctx->path);
	return GSLB_ENOMEM;
}

const char *conf_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	}
	return "nothing";
}

int conf_is_list(const config_setting_t *s)
{
	return config_setting_is_array(s) || config_setting_is_list(s);
}

/* ---- values ------------------------------------------------------------ */

int conf_get_int(struct conf_ctx *ctx, const config_setting_t *s, long long min, long long max,
		 long long *out)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return conf_error(ctx, s, "expected an integer, not %s", conf_type_name(s));
	if (v < min || v > max)
		return conf_error(ctx, s, "%lld is out of range (%lld to %lld)", v, min, max);
	*out = v;
	return GSLB_OK;
}

int conf_get_double(struct conf_ctx *ctx, const config_setting_t *s, double min, double max,
		    double *out)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		return conf_error(ctx, s, "expected a number, not %s", conf_type_name(s));
	}
	/* Written so that NaN fails too. */
	if (!(v >= min && v <= max))
		return conf_error(ctx, s, "%g is out of range (%g to %g)", v, min, max);
	*out = v;
	return GSLB_OK;
}

int conf_get_string(struct conf_ctx *ctx, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_error(ctx, s, "expected a string, not %s", conf_type_name(s));
	*out = config_setting_get_string(s);
	return GSLB_OK;
}

int conf_dup_string(struct conf_ctx *ctx, const config_setting_t *s, size_t maxlen, char **out)
{
	const char *v = NULL;
	int rc;

	rc = conf_get_string(ctx, s, &v);
	if (rc)
		return rc;
	if (maxlen && strlen(v) > maxlen)
		return conf_error(ctx, s, "longer than %zu bytes", maxlen);
	free(*out);
	*out = strdup(v);
	if (*out == NULL)
		return conf_nomem(ctx);
	return GSLB_OK;
}

const char *conf_keep(struct conf_ctx *ctx, const char *s)
{
	struct conf *c = ctx->c;
	char **n;

	for (size_t i = 0; i < c->nstrings; i++) {
		if (strcmp(c->strings[i], s) == 0)
			return c->strings[i];
	}
	n = realloc(c->strings, (c->nstrings + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	c->strings = n;
	n[c->nstrings] = strdup(s);
	if (n[c->nstrings] == NULL)
		return NULL;
	return n[c->nstrings++];
}

char *conf_path_join(const char *base, const char *rel)
{
	size_t bl, rl;
	char *p;

	if (rel[0] == '/' || base == NULL || base[0] == '\0' || strcmp(base, ".") == 0)
		return strdup(rel);
	bl = strlen(base);
	rl = strlen(rel);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	p = malloc(bl + 1 + rl + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, base, bl);
	p[bl] = '/';
	memcpy(p + bl + 1, rel, rl + 1);
	return p;
}

/* ---- the tables ------------------------------------------------------- */

static size_t enum_count(const struct conf_item *it)
{
	size_t n = 0;

	if (it->names) {
		while (it->names[n])
			n++;
		return n;
	}
	while (it->name_of && n < 256 && strcmp(it->name_of((int)n), "?") != 0)
		n++;
	return n;
}

static const char *enum_name(const struct conf_item *it, size_t i)
{
	return it->names ? it->names[i] : it->name_of((int)i);
}

static long long enum_value(const struct conf_item *it, size_t i)
{
	return it->values ? it->values[i] : (long long)i;
}

/* "A, B or C" */
static void enum_list(const struct conf_item *it, const char *quote, char *buf, size_t len)
{
	size_t n = enum_count(it), used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s%s%s",
				 i == 0 ? "" : (i + 1 == n ? " or " : ", "), quote,
				 enum_name(it, i), quote);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

const struct conf_item *conf_item_find(const struct conf_section *sec, const char *name)
{
	for (const struct conf_item *it = sec->items; name && it->name; it++)
		if (strcmp(it->name, name) == 0)
			return it;
	return NULL;
}

/* Edit distance (insertions, deletions, substitutions and swaps of two
 * neighbours), case-insensitive; names longer than 63 bytes are never near. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[64][64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]),
			    cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const struct conf_item *conf_suggest(const struct conf_section *sec, const char *name)
{
	const struct conf_item *best = NULL;
	size_t best_d = SIZE_MAX, len = name ? strlen(name) : 0;
	/* Two edits, or a third of a longer name: nearer than any two keys
	 * of one group are to each other, farther than a guess. */
	size_t near = len / 3 > 2 ? len / 3 : 2;

	for (const struct conf_item *it = sec->items; name && it->name; it++) {
		size_t d = distance(name, it->name);
		if (d < best_d) {
			best_d = d;
			best = it;
		}
	}
	return best_d <= near && best_d < len ? best : NULL;
}

static int unknown_key(struct conf_ctx *ctx, const config_setting_t *k,
		       const struct conf_section *sec)
{
	const struct conf_item *near = conf_suggest(sec, config_setting_name(k));
	char list[1024], mean[96] = "";
	size_t used = 0;

	list[0] = '\0';
	for (const struct conf_item *it = sec->items; it->name && used < sizeof(list); it++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 it == sec->items ? "" : ", ", it->name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (near)
		snprintf(mean, sizeof(mean), ", did you mean \"%s\"?", near->name);
	return conf_error(ctx, k, "unknown setting%s (valid keys: %s)", mean, list);
}

/* ---- storing values ------------------------------------------------- */

static void store_uint(void *at, size_t size, unsigned long long v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(at, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(at, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(at, &x, 4);
		break;
	}
	default: {
		uint64_t x = v;
		memcpy(at, &x, 8);
		break;
	}
	}
}

/* A copy of v (or NULL) into the char * at `at`, freeing what was there;
 * -1 when out of memory. */
static int store_string(void *at, const char *v)
{
	char *old;

	memcpy(&old, at, sizeof(old));
	free(old);
	old = v ? strdup(v) : NULL;
	memcpy(at, &old, sizeof(old));
	return v && !old ? -1 : 0;
}

void conf_defaults(const struct conf_section *sec, void *base)
{
	for (const struct conf_item *it = sec->items; it->name; it++) {
		void *at = (char *)base + it->off;

		if (it->type == CONF_GROUP && it->sub && !it->fn &&
		    !(it->flags & CONF_OFF_UNLESS_SET))
			conf_defaults(it->sub, at);
		if (it->size == 0)
			continue;
		switch (it->type) {
		case CONF_INT:
			store_uint(at, it->size, (unsigned long long)it->i.dflt);
			break;
		case CONF_ENUM:
			if (it->names || it->name_of)
				store_uint(at, it->size,
					   (unsigned long long)enum_value(it, (size_t)it->i.dflt));
			else
				store_uint(at, it->size, (unsigned long long)it->i.dflt);
			break;
		case CONF_BOOL: {
			int b = it->i.dflt != 0;
			memcpy(at, &b, sizeof(b));
			break;
		}
		case CONF_FLOAT:
			memcpy(at, &it->f.dflt, sizeof(double));
			break;
		default:
			break; /* strings, paths and lists start out NULL */
		}
	}
}

void conf_release(const struct conf_section *sec, void *base)
{
	for (const struct conf_item *it = sec->items; it->name; it++) {
		void *at = (char *)base + it->off;

		if (it->type == CONF_GROUP && it->sub && !it->fn)
			conf_release(it->sub, at);
		if (it->size &&
		    (it->type == CONF_STRING || it->type == CONF_PATH || it->type == CONF_DNAME))
			store_string(at, NULL);
	}
}

static int take_enum(struct conf_ctx *ctx, const config_setting_t *k, const struct conf_item *it,
		     void *at)
{
	const char *v = NULL;
	char list[256];
	int rc = conf_get_string(ctx, k, &v);

	if (rc || !(it->names || it->name_of))
		return rc; /* the handler reads it */
	for (size_t i = 0, n = enum_count(it); i < n; i++) {
		const char *name = enum_name(it, i);
		if ((it->flags & CONF_NOCASE) ? strcasecmp(v, name) == 0 : strcmp(v, name) == 0) {
			if (it->size)
				store_uint(at, it->size, (unsigned long long)enum_value(it, i));
			return GSLB_OK;
		}
	}
	if (enum_count(it) == 1)
		return conf_error(ctx, k, "\"%s\": must be \"%s\"", v, enum_name(it, 0));
	enum_list(it, "", list, sizeof(list));
	return conf_error(ctx, k, "\"%s\": %s", v, list);
}

static int take_path(struct conf_ctx *ctx, const config_setting_t *k, const struct conf_item *it,
		     void *at)
{
	const char *v = NULL;
	char *p;
	int rc = conf_get_string(ctx, k, &v);

	if (rc)
		return rc;
	if ((it->flags & CONF_NONEMPTY) && v[0] == '\0')
		return conf_error(ctx, k, "empty file name");
	if (it->size == 0)
		return GSLB_OK;
	p = conf_path_join(ctx->c->directory, v);
	if (p == NULL)
		return conf_nomem(ctx);
	store_string(at, NULL);
	memcpy(at, &p, sizeof(p));
	if ((it->flags & CONF_READABLE) && !ctx->admin_only && access(p, R_OK) != 0)
		return conf_error(ctx, k, "cannot read %s: %s", p, strerror(errno));
	return GSLB_OK;
}

static int take_string(struct conf_ctx *ctx, const config_setting_t *k, const struct conf_item *it,
		       void *at)
{
	const char *v = NULL;
	uint8_t wire[DNAME_MAXLEN];
	int rc = conf_get_string(ctx, k, &v);

	if (rc)
		return rc;
	if (it->maxlen && strlen(v) > it->maxlen)
		return conf_error(ctx, k, "longer than %zu bytes", it->maxlen);
	if ((it->flags & CONF_NONEMPTY) && v[0] == '\0')
		return conf_error(ctx, k, "empty");
	if (it->type == CONF_DNAME && dname_from_str(v, wire) == 0)
		return conf_error(ctx, k, "\"%s\" is not a valid domain name", v);
	if (it->size && store_string(at, v))
		return conf_nomem(ctx);
	return GSLB_OK;
}

static int expect(struct conf_ctx *ctx, const config_setting_t *k, const char *what)
{
	return conf_error(ctx, k, "expected %s, not %s", what, conf_type_name(k));
}

/* The type and range checks of it, its store, then its handler. */
static int take(struct conf_ctx *ctx, const config_setting_t *k, const struct conf_item *it,
		void *base)
{
	void *at = (char *)base + it->off;
	long long iv;
	double fv;
	int rc = GSLB_OK;

	if (it->flags & CONF_DEPRECATED)
		log_warn("%s:%d: %s is deprecated and will go", conf_setting_file(ctx, k),
			 config_setting_source_line(k), it->name);
	if (it->flags & CONF_ANY_TYPE)
		return it->fn(ctx, k, base);
	switch (it->type) {
	case CONF_INT:
		rc = conf_get_int(ctx, k, it->i.min, it->i.max, &iv);
		if (!rc && it->size)
			store_uint(at, it->size, (unsigned long long)iv);
		break;
	case CONF_FLOAT:
		rc = conf_get_double(ctx, k, it->f.min, it->f.max, &fv);
		if (!rc && it->size)
			memcpy(at, &fv, sizeof(fv));
		break;
	case CONF_BOOL:
		if (config_setting_type(k) != CONFIG_TYPE_BOOL)
			return expect(ctx, k, "true or false");
		iv = config_setting_get_bool(k);
		if (it->size)
			memcpy(at, &(int){ (int)iv }, sizeof(int));
		break;
	case CONF_STRING:
	case CONF_DNAME:
		rc = take_string(ctx, k, it, at);
		break;
	case CONF_PATH:
		rc = take_path(ctx, k, it, at);
		break;
	case CONF_ENUM:
		rc = take_enum(ctx, k, it, at);
		break;
	case CONF_INTS:
	case CONF_STRINGS:
	case CONF_NETS:
	case CONF_GROUPS:
		if (!conf_is_list(k))
			return expect(ctx, k, it->expect ? it->expect : "a list");
		break;
	case CONF_GROUP:
		if (!it->fn)
			return conf_parse_group(ctx, k, it->sub, at);
		if (!config_setting_is_group(k))
			return conf_error(ctx, k, "expected a group %s, not %s", it->sub->example,
					  conf_type_name(k));
		break;
	}
	if (!rc && it->fn)
		rc = it->fn(ctx, k, base);
	return rc;
}

static int missing(struct conf_ctx *ctx, const config_setting_t *s, const struct conf_item *it)
{
	if (config_setting_parent(s) == NULL) {
		/* the root: no line holds what is not there */
		snprintf(ctx->err, ctx->errlen, "%s: %s: missing%s%s", ctx->path, it->name,
			 it->hint ? ": " : "", it->hint ? it->hint : "");
		return GSLB_EINVAL;
	}
	return conf_error(ctx, s, "no %s given%s%s%s", it->name, it->hint ? " (" : "",
			  it->hint ? it->hint : "", it->hint ? ")" : "");
}

int conf_parse_group(struct conf_ctx *ctx, const config_setting_t *s,
		     const struct conf_section *sec, void *base)
{
	int n, rc;

	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group %s, not %s", sec->example,
				  conf_type_name(s));
	conf_defaults(sec, base);
	if (sec->init) {
		rc = sec->init(ctx, s, base);
		if (rc)
			return rc;
	}
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const struct conf_item *it = conf_item_find(sec, config_setting_name(k));

		if (it == NULL)
			return unknown_key(ctx, k, sec);
		if (it->flags & CONF_LATE)
			continue;
		rc = take(ctx, k, it, base);
		if (rc)
			return rc;
	}
	for (const struct conf_item *it = sec->items; it->name; it++) {
		const config_setting_t *k = config_setting_get_member(s, it->name);

		if (k == NULL && (it->flags & CONF_REQUIRED))
			return missing(ctx, s, it);
		if (k == NULL || !(it->flags & CONF_LATE))
			continue;
		rc = take(ctx, k, it, base);
		if (rc)
			return rc;
	}
	return sec->finish ? sec->finish(ctx, s, base) : GSLB_OK;
}

int conf_parse_list(struct conf_ctx *ctx, const config_setting_t *s, const struct conf_section *sec,
		    size_t elsize, size_t max, void **out, size_t *n,
		    int (*each)(struct conf_ctx *ctx, const config_setting_t *e, void *arr,
				size_t i))
{
	size_t len;
	char *arr;

	if (!conf_is_list(s))
		return conf_error(ctx, s, "expected a list ( %s, ... ), not %s", sec->example,
				  conf_type_name(s));
	len = (size_t)config_setting_length(s);
	if (max && len > max)
		return conf_error(ctx, s, "%zu %s, at most %zu are supported", len, sec->path, max);
	arr = calloc(len ? len : 1, elsize);
	if (arr == NULL)
		return conf_nomem(ctx);
	*out = arr;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc;

		(*n)++;
		rc = conf_parse_group(ctx, e, sec, arr + i * elsize);
		if (!rc && each)
			rc = each(ctx, e, arr, i);
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

/* ---- the reference tables ------------------------------------------ */

/* "10.0", "0.5", "120.0": a number as the reference writes it. */
static void fmt_number(char *buf, size_t len, double v)
{
	int w = snprintf(buf, len, "%g", v);

	if (w > 0 && (size_t)w + 2 < len && !strpbrk(buf, ".e"))
		snprintf(buf + w, len - (size_t)w, ".0");
}

static void doc_type(const struct conf_item *it, char *buf, size_t len)
{
	char list[256];

	if (it->doc_type) {
		snprintf(buf, len, "%s", it->doc_type);
		return;
	}
	switch (it->type) {
	case CONF_INT:
		snprintf(buf, len, "%s %lld..%lld", it->unit ? it->unit : "int", it->i.min,
			 it->i.max);
		break;
	case CONF_FLOAT:
		snprintf(buf, len, "%s %g..%g", it->unit ? it->unit : "number", it->f.min,
			 it->f.max);
		break;
	case CONF_BOOL:
		snprintf(buf, len, "bool");
		break;
	case CONF_STRING:
		snprintf(buf, len, "string");
		break;
	case CONF_PATH:
		snprintf(buf, len, "file name");
		break;
	case CONF_DNAME:
		snprintf(buf, len, "domain name");
		break;
	case CONF_ENUM:
		enum_list(it, "`", list, sizeof(list));
		snprintf(buf, len, "%s", list);
		break;
	case CONF_INTS:
		snprintf(buf, len, "list of int %lld..%lld", it->i.min, it->i.max);
		break;
	case CONF_STRINGS:
		snprintf(buf, len, "list of strings");
		break;
	case CONF_NETS:
		snprintf(buf, len, "list of networks");
		break;
	case CONF_GROUP:
		snprintf(buf, len, "group");
		break;
	case CONF_GROUPS:
		snprintf(buf, len, "list of groups");
		break;
	}
	if (it->flags & CONF_DEPRECATED) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, ", deprecated");
	}
}

static void doc_default(const struct conf_item *it, char *buf, size_t len)
{
	if (it->doc_default) {
		snprintf(buf, len, "%s", it->doc_default);
		return;
	}
	if (it->flags & CONF_REQUIRED) {
		snprintf(buf, len, "required");
		return;
	}
	switch (it->type) {
	case CONF_INT:
		snprintf(buf, len, "%lld", it->i.dflt);
		break;
	case CONF_GROUP:
		snprintf(buf, len, "%s", (it->flags & CONF_OFF_UNLESS_SET) ? "none" : "per key");
		break;
	case CONF_FLOAT:
		fmt_number(buf, len, it->f.dflt);
		break;
	case CONF_BOOL:
		snprintf(buf, len, "%s", it->i.dflt ? "true" : "false");
		break;
	case CONF_ENUM:
		if (it->names || it->name_of)
			snprintf(buf, len, "`%s`", enum_name(it, (size_t)it->i.dflt));
		else
			snprintf(buf, len, "none");
		break;
	default:
		snprintf(buf, len, "none");
		break;
	}
}

void conf_schema_dump(const struct conf_section *root, FILE *out)
{
	char type[320], dflt[160];

	fprintf(out, "<!-- schema: %s -->\n", root->path);
	fprintf(out, "| key | type | default | reload | meaning |\n");
	fprintf(out, "| --- | --- | --- | --- | --- |\n");
	for (const struct conf_item *it = root->items; it->name; it++) {
		doc_type(it, type, sizeof(type));
		doc_default(it, dflt, sizeof(dflt));
		fprintf(out, "| `%s` | %s | %s | %s | |\n", it->name, type, dflt,
			(it->flags & CONF_RESTART) ? "restart" : "yes");
	}
	fprintf(out, "\n");
	for (const struct conf_item *it = root->items; it->name; it++)
		if (it->sub)
			conf_schema_dump(it->sub, out);
}

/* ---- the tables' own check ------------------------------------------ */

static int item_fault(const struct conf_section *sec, const struct conf_item *it, char *err,
		      size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s.%s: %s", sec->path, it->name, what);
	return -1;
}

static int check_item(const struct conf_section *sec, const struct conf_item *it, char *err,
		      size_t errlen)
{
	if (conf_item_find(sec, it->name) != it)
		return item_fault(sec, it, err, errlen, "named twice");
	switch (it->type) {
	case CONF_INT:
	case CONF_INTS:
		if (it->i.min < 0 || it->i.min > it->i.max)
			return item_fault(sec, it, err, errlen, "range not 0 <= min <= max");
		if (it->type == CONF_INT && it->size &&
		    (it->i.dflt < it->i.min || it->i.dflt > it->i.max))
			return item_fault(sec, it, err, errlen, "default out of range");
		if (it->size && it->size < 8 && (unsigned long long)it->i.max >> (8 * it->size))
			return item_fault(sec, it, err, errlen, "max does not fit the field");
		break;
	case CONF_FLOAT:
		if (!(it->f.min <= it->f.max) || it->f.dflt < it->f.min || it->f.dflt > it->f.max)
			return item_fault(sec, it, err, errlen, "default out of range");
		if (it->size && it->size != sizeof(double))
			return item_fault(sec, it, err, errlen, "not a double");
		break;
	case CONF_BOOL:
		if (it->size && it->size != sizeof(int))
			return item_fault(sec, it, err, errlen, "not an int");
		break;
	case CONF_STRING:
	case CONF_PATH:
	case CONF_DNAME:
		if (it->size && it->size != sizeof(char *))
			return item_fault(sec, it, err, errlen, "not a char *");
		break;
	case CONF_ENUM:
		if ((it->names || it->name_of) && (size_t)it->i.dflt >= enum_count(it))
			return item_fault(sec, it, err, errlen, "default not a name");
		if (!(it->names || it->name_of) && !it->fn)
			return item_fault(sec, it, err, errlen, "no names and no handler");
		break;
	case CONF_GROUP:
		if (!it->sub)
			return item_fault(sec, it, err, errlen, "a group without its keys");
		break;
	case CONF_NETS:
	case CONF_STRINGS:
	case CONF_GROUPS:
		break;
	}
	if ((it->flags & CONF_ANY_TYPE) && !it->fn)
		return item_fault(sec, it, err, errlen, "any type but no handler");
	return 0;
}

int conf_schema_check(const struct conf_section *root, char *err, size_t errlen)
{
	for (const struct conf_item *it = root->items; it->name; it++) {
		if (check_item(root, it, err, errlen))
			return -1;
		if (it->sub && conf_schema_check(it->sub, err, errlen))
			return -1;
	}
	return 0;
}
