/* zones[].dnssec = { keys; signature_validity; signature_refresh;
 * inception_offset; nsec; }: the zone's DNSSEC key pairs (dnssec.h), read
 * and checked at load, before the privilege drop. Issue 14: the keys are
 * loaded and checked, and give `gslbd --ds`; answers are not signed yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "gslb/config.h"
#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/dnssec.h"
#include "gslb/err.h"
#include "gslb/log.h"

static int dnssec_init(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)ctx;
	(void)s;
	((struct conf_dnssec *)base)->enabled = 1;
	return GSLB_OK;
}

/* keys = [ "keys/Kexample.com.+013+12345" ]: base names, resolved against
 * `directory`; read by the zone's finish, which knows the origin. */
static int parse_keys(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_dnssec *d = base;
	int n = config_setting_length(s);
	if (n < 1)
		return conf_error(ctx, s,
				  "no key given (keys = [ \"keys/Kexample.com.+013+12345\" ];)");
	conf_dnssec_free(d);
	d->keys = calloc((size_t)n, sizeof(*d->keys));
	d->key_paths = calloc((size_t)n, sizeof(*d->key_paths));
	if (!d->keys || !d->key_paths)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const char *v = NULL;
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc = conf_get_string(ctx, e, &v);
		if (rc)
			return rc;
		if (!*v)
			return conf_error(ctx, e, "empty key name");
		d->key_paths[i] = conf_path_join(ctx->c->directory, v);
		if (!d->key_paths[i])
			return conf_nomem(ctx);
		d->nkey_paths = (size_t)i + 1;
	}
	return GSLB_OK;
}

static int dnssec_finish(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_dnssec *d = base;
	if (!d->nkey_paths)
		return conf_error(ctx, s,
				  "no keys given (keys = [ \"keys/Kexample.com.+013+12345\" ];)");
	if (d->signature_refresh >= d->signature_validity)
		return conf_error(
			ctx, config_setting_get_member(s, "signature_refresh"),
			"signature_refresh (%u) must be less than signature_validity (%u)",
			d->signature_refresh, d->signature_validity);
	return GSLB_OK;
}

static const char *const nsec_modes[] = { "compact", NULL };

static const struct conf_item dnssec_items[] = {
	{ .name = "keys",
	  .type = CONF_STRINGS,
	  .flags = CONF_REQUIRED,
	  .fn = parse_keys,
	  .expect = "a list of key names [ \"keys/Kexample.com.+013+12345\" ]",
	  .hint = "keys = [ \"keys/Kexample.com.+013+12345\" ];",
	  .doc_type = "list of key file names (without .key/.private)" },
	{ .name = "signature_validity",
	  .type = CONF_INT,
	  CONF_AT(struct conf_dnssec, signature_validity),
	  .i = { 20, 7776000, 604800 },
	  .unit = "seconds" },
	{ .name = "signature_refresh",
	  .type = CONF_INT,
	  CONF_AT(struct conf_dnssec, signature_refresh),
	  .i = { 5, 7776000, 86400 },
	  .unit = "seconds" },
	{ .name = "inception_offset",
	  .type = CONF_INT,
	  CONF_AT(struct conf_dnssec, inception_offset),
	  .i = { 0, 86400, 3600 },
	  .unit = "seconds" },
	{ .name = "nsec",
	  .type = CONF_ENUM,
	  CONF_AT(struct conf_dnssec, nsec),
	  .flags = CONF_NOCASE,
	  .names = nsec_modes,
	  .doc_type = "`compact`",
	  .doc_default = "`compact`" },
	{ NULL },
};

const struct conf_section conf_sec_dnssec = {
	.path = "zones.dnssec",
	.example = "{ keys = [ \"keys/Kexample.com.+013+12345\" ]; }",
	.items = dnssec_items,
	.init = dnssec_init,
	.finish = dnssec_finish,
};

int conf_dnssec_load_keys(struct conf_ctx *ctx, const config_setting_t *zone, const char *origin,
			  struct conf_dnssec *d)
{
	const config_setting_t *keys =
		config_setting_get_member(config_setting_get_member(zone, "dnssec"), "keys");
	for (size_t i = 0; i < d->nkey_paths; i++) {
		char err[512];
		const config_setting_t *e = config_setting_get_elem(keys, (unsigned)i);
		if (dnssec_key_load(&d->keys[i], d->key_paths[i], origin, err, sizeof(err)))
			return conf_error(ctx, e ? e : zone, "%s", err);
		d->nkeys = i + 1;
		if (d->keys[i].private_world_readable)
			log_warn("DNSSEC private key can be read by others file=%s.private",
				 d->key_paths[i]);
		/* The same key twice is an error; two keys that share a key
		 * tag are not (tags are not unique, RFC 4034 appendix B:
		 * validators try each key with the tag). */
		for (size_t j = 0; j < i; j++)
			if (ldns_rr_compare(d->keys[j].dnskey, d->keys[i].dnskey) == 0)
				return conf_error(ctx, e ? e : zone,
						  "the key of %s is given twice (key tag %u)",
						  d->key_paths[j], d->keys[i].tag);
	}
	return GSLB_OK;
}

void conf_dnssec_free(struct conf_dnssec *d)
{
	for (size_t i = 0; i < d->nkeys; i++)
		dnssec_key_free(&d->keys[i]);
	for (size_t i = 0; i < d->nkey_paths; i++)
		free(d->key_paths[i]);
	free(d->keys);
	free(d->key_paths);
	d->keys = NULL;
	d->key_paths = NULL;
	d->nkeys = d->nkey_paths = 0;
}

int conf_dnssec_ds(const struct conf *c, const char *zone, FILE *out, char *err, size_t errlen)
{
	uint8_t want[DNAME_MAXLEN], have[DNAME_MAXLEN];
	if (!dname_from_str(zone, want)) {
		snprintf(err, errlen, "\"%s\" is not a domain name", zone);
		return GSLB_EINVAL;
	}
	for (size_t i = 0; i < c->nzones; i++) {
		const struct conf_zone *z = &c->zones[i];
		if (!dname_from_str(z->origin, have) || !dname_equal(want, have))
			continue;
		if (!z->dnssec.enabled) {
			snprintf(err, errlen, "%s:%d: zone %s has no dnssec group", z->conf_file,
				 z->line, z->origin);
			return GSLB_ENOENT;
		}
		int rc = dnssec_print_ds(out, z->dnssec.keys, z->dnssec.nkeys, DNSSEC_DS_TTL);
		if (rc)
			snprintf(err, errlen, "DS records of %s: %s", z->origin, gslb_strerror(rc));
		return rc;
	}
	snprintf(err, errlen, "%s: no zone %s", c->path, zone);
	return GSLB_ENOENT;
}

int conf_dnssec_print_ds(const char *path, const char *zone, FILE *out, char *err, size_t errlen)
{
	struct conf *c = NULL;
	uint8_t want[DNAME_MAXLEN];
	if (!dname_from_str(zone, want)) {
		snprintf(err, errlen, "gslbd: --ds: \"%s\" is not a domain name", zone);
		return GSLB_EINVAL;
	}
	int rc = conf_load(path, &c, err, errlen);
	if (rc)
		return rc;
	rc = conf_dnssec_ds(c, zone, out, err, errlen);
	conf_free(c);
	return rc;
}
