/* tsig = ( { name; algorithm; secret; } ) and zones[].transfer = { allow;
 * tsig; notify; serial_policy; }: the keys and the zone transfer settings
 * (issue 16.4). The keys are read before the zones (zones is a late key),
 * so a transfer names a key already known. */
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <ldns/ldns.h>

#include "gslb/config.h"
#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/net.h"

/* ---- tsig ------------------------------------------------------------------ */

static int tsig_init(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)ctx;
	((struct conf_tsig *)base)->line = config_setting_source_line(s);
	return GSLB_OK;
}

/* The secret is base64 (as tsig-keygen, keymgr and ldns write it) and not
 * empty; ldns decodes it again when it signs. Below 16 bytes, a warning:
 * RFC 8945 6 recommends at least the hash's length (32, 64). */
#define TSIG_SECRET_MIN 16
static int tsig_secret(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct conf_tsig *k = base;
	ldns_rdf *rd = NULL;
	ldns_status st = ldns_str2rdf_b64(&rd, k->secret);
	size_t n = st == LDNS_STATUS_OK && rd ? ldns_rdf_size(rd) : 0;
	ldns_rdf_deep_free(rd);
	if (n == 0)
		return conf_error(ctx, s, "not a base64 key (e.g. the secret tsig-keygen writes)");
	if (n < TSIG_SECRET_MIN)
		log_warn("%s:%d: tsig secret of %zu bytes: weak, use at least the hash's length "
			 "(RFC 8945 6; tsig-keygen, keymgr -t or openssl rand -base64 32 make one)",
			 conf_setting_file(ctx, s), config_setting_source_line(s), n);
	return GSLB_OK;
}

static const char *const tsig_algs[] = { "hmac-sha256", "hmac-sha512", NULL };

static const struct conf_item tsig_items[] = {
	{ .name = "name",
	  .type = CONF_DNAME,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct conf_tsig, name),
	  .hint = "name = \"xfr\";" },
	{ .name = "algorithm",
	  .type = CONF_ENUM,
	  .flags = CONF_NOCASE,
	  CONF_AT(struct conf_tsig, algorithm),
	  .names = tsig_algs,
	  .doc_type = "`hmac-sha256` or `hmac-sha512`",
	  .doc_default = "`hmac-sha256`" },
	{ .name = "secret",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_NONEMPTY,
	  CONF_AT(struct conf_tsig, secret),
	  .maxlen = 1024,
	  .fn = tsig_secret,
	  .hint = "secret = \"<base64>\";",
	  .doc_type = "base64" },
	{ NULL },
};

const struct conf_section conf_sec_tsig = {
	.path = "tsig",
	.example = "{ name = \"xfr\"; algorithm = \"hmac-sha256\"; secret = \"...\"; }",
	.items = tsig_items,
	.init = tsig_init,
};

int conf_tsig_same(const char *a, const char *b)
{
	uint8_t wa[DNAME_MAXLEN], wb[DNAME_MAXLEN];
	return dname_from_str(a, wa) > 0 && dname_from_str(b, wb) > 0 && dname_equal(wa, wb);
}

/* Key names compare as domain names: one key per name. */
static int tsig_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	const struct conf_tsig *keys = arr;
	for (size_t j = 0; j < i; j++) {
		if (conf_tsig_same(keys[i].name, keys[j].name))
			return conf_error(ctx, config_setting_get_member(e, "name"),
					  "key \"%s\" is already defined at line %d", keys[i].name,
					  keys[j].line);
	}
	return GSLB_OK;
}

int conf_parse_tsig(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	void *arr = NULL;
	int rc = conf_parse_list(ctx, s, &conf_sec_tsig, sizeof(struct conf_tsig), 0, &arr,
				 &c->ntsig, tsig_each);
	c->tsig = arr;
	return rc;
}

void conf_free_tsig(struct conf *c)
{
	for (size_t i = 0; i < c->ntsig; i++)
		conf_release(&conf_sec_tsig, &c->tsig[i]);
	free(c->tsig);
	c->tsig = NULL;
	c->ntsig = 0;
}

/* ---- zones[].transfer ------------------------------------------------------- */

static int transfer_init(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_transfer *t = base;
	(void)ctx;
	(void)s;
	t->enabled = 1;
	t->key = -1;
	return GSLB_OK;
}

static int transfer_allow(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	if (config_setting_length(s) == 0)
		return conf_error(ctx, s,
				  "empty: no secondary could transfer the zone (list the "
				  "secondaries' addresses, or leave transfer out)");
	return conf_parse_cidr_list(ctx, s, &((struct conf_transfer *)base)->allow);
}

/* tsig = "xfr": a key of the top-level tsig list. */
static int transfer_tsig(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_transfer *t = base;
	const struct conf *c = ctx->c;
	for (size_t i = 0; i < c->ntsig; i++) {
		if (conf_tsig_same(t->tsig, c->tsig[i].name)) {
			t->key = (int)i;
			return GSLB_OK;
		}
	}
	return conf_error(ctx, s,
			  "unknown key \"%s\" (define it in tsig = ( { name = \"%s\"; ... } ))",
			  t->tsig, t->tsig);
}

/* notify = [ "192.0.2.53:53" ]: addresses, port 53 when not given. */
static int transfer_notify(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_transfer *t = base;
	int n = config_setting_length(s);
	free(t->notify);
	free(t->notify_len);
	t->nnotify = 0;
	t->notify = calloc((size_t)n + 1, sizeof(*t->notify));
	t->notify_len = calloc((size_t)n + 1, sizeof(*t->notify_len));
	if (!t->notify || !t->notify_len)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		int rc = conf_get_string(ctx, e, &v);
		if (rc)
			return rc;
		if (conf_parse_hostport(v, 53, &t->notify[i], &t->notify_len[i]))
			return conf_error(ctx, e,
					  "invalid address \"%s\" (expected 192.0.2.53:53, "
					  "[2001:db8::53]:53 or an address alone for port 53)",
					  v);
		t->nnotify = (size_t)i + 1;
	}
	return GSLB_OK;
}

static const char *const serial_policies[] = { "increment", "unixtime", NULL };

static const struct conf_item transfer_items[] = {
	{ .name = "allow",
	  .type = CONF_NETS,
	  .flags = CONF_REQUIRED,
	  .fn = transfer_allow,
	  .expect = "a list of networks [ \"192.0.2.53/32\" ]",
	  .hint = "allow = [ \"192.0.2.53/32\" ];" },
	{ .name = "tsig",
	  .type = CONF_STRING,
	  CONF_AT(struct conf_transfer, tsig),
	  .maxlen = 255,
	  .fn = transfer_tsig,
	  .doc_type = "key name",
	  .doc_default = "none (address only)" },
	{ .name = "notify",
	  .type = CONF_STRINGS,
	  .fn = transfer_notify,
	  .expect = "a list of addresses [ \"192.0.2.53:53\" ]",
	  .doc_type = "list of addresses",
	  .doc_default = "none" },
	{ .name = "serial_policy",
	  .type = CONF_ENUM,
	  CONF_AT(struct conf_transfer, serial_policy),
	  .names = serial_policies,
	  .doc_type = "`increment` or `unixtime`",
	  .doc_default = "`increment`" },
	{ NULL },
};

const struct conf_section conf_sec_transfer = {
	.path = "zones.transfer",
	.example = "{ allow = [ \"192.0.2.53/32\" ]; tsig = \"xfr\"; }",
	.items = transfer_items,
	.init = transfer_init,
};

void conf_transfer_free(struct conf_transfer *t)
{
	net_set_free(t->allow);
	free(t->notify);
	free(t->notify_len);
	t->allow = NULL;
	t->notify = NULL;
	t->notify_len = NULL;
	t->nnotify = 0;
}
