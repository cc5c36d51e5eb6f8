/* The schema of gslb.conf: one table per group of settings, after Knot's
 * conf/schema.c. Each key says its name, type, inclusive range, default,
 * flags and where its value lands (an offset into the struct the group
 * fills) or which handler takes it. From the tables come the parsing of
 * every group (config_schema.c), the defaults, the range and type errors
 * with file:line, "unknown setting, did you mean", and the key tables of
 * docs/configuration.md (gslbd --dump-schema).
 *
 * A new key: an entry in its group's table (gslb/config*.c), with a
 * handler only when the value needs more than a type and a range; its name
 * in KEYS of tests/system/test_config_keys.py; and its row in
 * docs/configuration.md (`python3 tests/system/test_config_keys.py --fix
 * build/gslbd` writes the generated columns, the meaning is yours). */
#ifndef GSLB_CONFIG_SCHEMA_H
#define GSLB_CONFIG_SCHEMA_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include <libconfig.h>

#include "gslb/config.h"
#include "gslb/service.h"

/* What a load is working on: where errors go and what is being built. */
struct conf_ctx {
	const char *path; /* the config file */
	char *err;
	size_t errlen;
	struct conf *c;
	const char *confdir; /* the config file's folder (`directory` is relative to it) */
	const char *incdir;  /* where @include names are relative to */
	struct service *svc; /* the service whose pools are being read */
	size_t *svc_seen;    /* services read so far, by name hash (config_service.c) */
	size_t svc_seen_mask;
	int admin_only; /* conf_load_admin: no key files read, no file checked */
	char shown[PATH_MAX];
};

enum conf_type {
	CONF_INT,     /* integer in [min, max], stored unsigned in `size` bytes */
	CONF_FLOAT,   /* number in [min, max] (an integer is taken too), a double */
	CONF_BOOL,    /* true or false, an int */
	CONF_STRING,  /* at most maxlen bytes (0: any), a char * copy */
	CONF_PATH,    /* a file name relative to `directory`, a char * */
	CONF_DNAME,   /* a domain name, kept as written: a char * */
	CONF_ENUM,    /* one of names (value = index, or values[index]), an integer */
	CONF_INTS,    /* [ 1, 2 ], each in [min, max]: the handler stores them */
	CONF_STRINGS, /* [ "a", "b" ]: the handler */
	CONF_NETS,    /* [ "192.0.2.0/24", "2001:db8::/32" ]: the handler */
	CONF_GROUP,   /* { ... } with the keys of sub */
	CONF_GROUPS,  /* ( { ... }, ... ), each with the keys of sub: the handler */
};

enum conf_flag {
	CONF_REQUIRED = 1 << 0,       /* a group without it is an error */
	CONF_RESTART = 1 << 1,        /* a reload keeps the running value */
	CONF_LATE = 1 << 2,           /* taken after the group's other keys, in table order */
	CONF_OFF_UNLESS_SET = 1 << 3, /* GROUP: absent, its keys stay zero (no defaults) */
	CONF_ANY_TYPE = 1 << 4,       /* several forms: the handler checks the type */
	CONF_NOCASE = 1 << 5,         /* ENUM: names in any case */
	CONF_NONEMPTY = 1 << 6,       /* STRING, PATH: "" is refused */
	CONF_READABLE = 1 << 7,       /* PATH: must be readable at load */
	CONF_DEPRECATED = 1 << 8,     /* still taken, with a warning */
};

struct conf_item;
struct conf_section;

/* Takes the setting s of key it, after its type and range checks and the
 * store at `off` (when the item has one); base is the group's struct.
 * Returns GSLB_OK or the conf_error() it wrote. */
typedef int conf_fn(struct conf_ctx *ctx, const config_setting_t *s, void *base);

struct conf_item {
	const char *name; /* NULL ends a table */
	enum conf_type type;
	unsigned flags; /* enum conf_flag */
	/* Where the value lands in the group's struct: size 0 = nowhere (the
	 * handler, or the group's finish, takes it). GROUP: the sub-group's
	 * struct is at base + off. */
	size_t off;
	size_t size;
	struct {
		long long min, max, dflt; /* INT, INTS; dflt also of ENUM and BOOL */
	} i;
	struct {
		double min, max, dflt;
	} f;
	size_t maxlen;                  /* STRING */
	const char *const *names;       /* ENUM, NULL-terminated */
	const uint16_t *values;         /* ENUM: names[i] stores values[i], NULL = i */
	const char *(*name_of)(int v);  /* ENUM instead of names: "?" past the last */
	const struct conf_section *sub; /* GROUP, GROUPS, and lists of groups */
	conf_fn *fn;
	const char *expect; /* type errors: "expected <expect>, not ..." */
	const char *hint;   /* a missing required key: "no <name> given (<hint>)" */
	/* the reference tables: unit of a number ("seconds"), and the type
	 * and default columns when the generated text says too little */
	const char *unit;
	const char *doc_type;
	const char *doc_default;
};

struct conf_section {
	const char *path;    /* "services.pools": the docs' name of the group */
	const char *example; /* "{ name = \"web\"; ... }", in type errors */
	const struct conf_item *items;
	conf_fn *init;   /* before the keys, after the defaults */
	conf_fn *finish; /* after every key: checks between keys */
};

/* Where the value of key lands: field of type, e.g. CONF_AT(struct conf, workers). */
#define CONF_AT(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)

/* The root of gslb.conf, and every group below it (config*.c). */
extern const struct conf_section conf_sec_root;
extern const struct conf_section conf_sec_listen, conf_sec_listen_http, conf_sec_tls, conf_sec_sni;
extern const struct conf_section conf_sec_zone, conf_sec_dnssec, conf_sec_geoip,
	conf_sec_geoip_paths;
extern const struct conf_section conf_sec_region, conf_sec_check, conf_sec_service;
extern const struct conf_section conf_sec_redirect, conf_sec_route, conf_sec_pool, conf_sec_member;
extern const struct conf_section conf_sec_cluster, conf_sec_cluster_tls;
extern const struct conf_section conf_sec_notify;
extern const struct conf_section conf_sec_tsig, conf_sec_transfer;
extern const struct conf_section conf_sec_split, conf_sec_pool_load;
extern const struct conf_section conf_sec_dnstap;
extern const struct conf_section conf_sec_http, conf_sec_rrl, conf_sec_acl, conf_sec_tcp,
	conf_sec_log;

/* ---- the engine (config_schema.c) ---------------------------------- */

/* Every key of the group s against sec into base: defaults first, then
 * sec->init, each key in file order (CONF_LATE ones after the others, in
 * table order), required keys, sec->finish. An unknown key is an error
 * naming the nearest valid key and listing them all. */
int conf_parse_group(struct conf_ctx *ctx, const config_setting_t *s,
		     const struct conf_section *sec, void *base);

/* The defaults of sec's keys into base, and of its sub-groups'. */
void conf_defaults(const struct conf_section *sec, void *base);

/* Frees the strings the keys of sec (and of its sub-groups) hold in base,
 * and sets them NULL; lists and what handlers allocate are the caller's. */
void conf_release(const struct conf_section *sec, void *base);

/* A list s of groups, each parsed with sec into a new array of elsize
 * bytes per element (*out, *n; *n counts every element begun, so that
 * conf_free releases a half-read one). each(ctx, e, array, i), when not
 * NULL, runs after element i (duplicates, references). At most max
 * elements (0 = any). */
int conf_parse_list(struct conf_ctx *ctx, const config_setting_t *s, const struct conf_section *sec,
		    size_t elsize, size_t max, void **out, size_t *n,
		    int (*each)(struct conf_ctx *ctx, const config_setting_t *e, void *arr,
				size_t i));

/* sec's key named name, or NULL. */
const struct conf_item *conf_item_find(const struct conf_section *sec, const char *name);

/* The key of sec nearest to name (a typo, another case), or NULL when
 * none is near enough to suggest. */
const struct conf_item *conf_suggest(const struct conf_section *sec, const char *name);

/* The reference tables of docs/configuration.md: one Markdown table per
 * group, each after a "<!-- schema: PATH -->" line. */
void conf_schema_dump(const struct conf_section *root, FILE *out);

/* The tables are well formed (ranges, defaults within them, fields the
 * size of their type, unique names); 0, or -1 with the first fault in err. */
int conf_schema_check(const struct conf_section *root, char *err, size_t errlen);

/* ---- helpers for the handlers ------------------------------------- */

/* Writes "file:line: name: message" and returns GSLB_EINVAL, so that a
 * handler can `return conf_error(...)`. */
int conf_error(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int conf_nomem(struct conf_ctx *ctx);
/* "a group { }", "an integer"...: what a setting is, for messages. */
const char *conf_type_name(const config_setting_t *s);
/* An array [ ] or a list ( ). */
int conf_is_list(const config_setting_t *s);
/* The file of a setting, as a name that works from the current folder. */
const char *conf_setting_file(struct conf_ctx *ctx, const config_setting_t *s);
const char *conf_shown_file(struct conf_ctx *ctx, const char *f);
/* A copy of s that lives as long as the conf (file names of settings). */
const char *conf_keep(struct conf_ctx *ctx, const char *s);
/* base/rel, or rel alone when absolute or base is "."; caller frees. */
char *conf_path_join(const char *base, const char *rel);

int conf_get_string(struct conf_ctx *ctx, const config_setting_t *s, const char **out);
int conf_dup_string(struct conf_ctx *ctx, const config_setting_t *s, size_t maxlen, char **out);
int conf_get_int(struct conf_ctx *ctx, const config_setting_t *s, long long min, long long max,
		 long long *out);
/* min <= value <= max, both inclusive; NaN is refused. */
int conf_get_double(struct conf_ctx *ctx, const config_setting_t *s, double min, double max,
		    double *out);

/* ---- shared between the config*.c files --------------------------- */

int conf_valid_label_name(const char *s);
int conf_region_index(const struct conf *c, const char *name);
/* A list of networks into a set (net.h); replaces *out. */
int conf_parse_cidr_list(struct conf_ctx *ctx, const config_setting_t *s, struct net_set **out);
void conf_free_services(struct conf *c);
void conf_free_checks(struct conf *c);
/* zones[].dnssec (config_dnssec.c): the keys of zone (setting) read and
 * checked against origin; the group's arrays freed. */
int conf_dnssec_load_keys(struct conf_ctx *ctx, const config_setting_t *zone, const char *origin,
			  struct conf_dnssec *d);
void conf_dnssec_free(struct conf_dnssec *d);
void conf_free_cluster(struct conf *c);
/* Every @include of file (and of the files it includes, depth levels
 * down) names a readable regular file, before libconfig reads any
 * (config_include.c); GSLB_OK or an error written to err. */
int conf_check_includes(const char *file, const char *incdir, int depth, char *err, size_t errlen);
/* The handlers of the lists at the top level. */
conf_fn conf_parse_regions, conf_parse_checks, conf_parse_services, conf_parse_tsig;
/* tsig keys and zones[].transfer (config_xfr.c) */
void conf_free_tsig(struct conf *c);
void conf_transfer_free(struct conf_transfer *t);
/* notify = ( ... ) (config_notify.c): the webhook receivers. */
conf_fn conf_parse_notify;
void conf_free_notify(struct conf *c);

#endif
