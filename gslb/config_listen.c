/* gslb.conf, what faces the network: the listeners (listen = { dns; admin;
 * http; }, with TLS certificates), the redirect listener's limits (http),
 * TCP DNS limits (tcp), response rate limiting (rrl) and who is answered
 * (acl). Their tables and handlers; the engine is config_schema.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/config_schema.h"
#include "gslb/err.h"

/* Each TCP connection holds two 64 KiB buffers: this bounds the memory a
 * configuration can commit to TCP at 8 GiB. */
#define CONF_MAX_TCP_MAXCONN 65536

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return GSLB_EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > 65535)
		return GSLB_EINVAL;
	*out = (uint16_t)v;
	return GSLB_OK;
}

static int parse_v6(const char *s, size_t n, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *scope;

	if (n >= sizeof(host))
		return GSLB_EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	/* fe80::1%eth0: link-local addresses need their interface. */
	scope = strchr(host, '%');
	if (scope != NULL) {
		*scope++ = '\0';
		if (*scope >= '0' && *scope <= '9') {
			char *end;
			unsigned long v;
			errno = 0;
			v = strtoul(scope, &end, 10);
			if (errno || *end != '\0' || v > UINT32_MAX)
				return GSLB_EINVAL;
			sin6->sin6_scope_id = (uint32_t)v;
		} else {
			sin6->sin6_scope_id = if_nametoindex(scope);
			if (sin6->sin6_scope_id == 0)
				return GSLB_EINVAL;
		}
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return GSLB_EINVAL;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*len = sizeof(*sin6);
	return GSLB_OK;
}

int conf_parse_hostport(const char *s, uint16_t def_port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	uint16_t port = def_port;
	const char *colon;
	int rc;

	if (s == NULL || *s == '\0')
		return GSLB_EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL)
			return GSLB_EINVAL;
		if (close[1] == ':') {
			rc = parse_port(close + 2, &port);
			if (rc)
				return rc;
		} else if (close[1] != '\0') {
			return GSLB_EINVAL;
		}
		return parse_v6(s + 1, (size_t)(close - s - 1), port, ss, len);
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Two colons or more: a bare IPv6 address, no port. */
		return parse_v6(s, strlen(s), port, ss, len);
	}

	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char host[INET_ADDRSTRLEN];
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);

	if (colon != NULL) {
		rc = parse_port(colon + 1, &port);
		if (rc)
			return rc;
	}
	if (hl >= sizeof(host))
		return GSLB_EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return GSLB_EINVAL;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	return GSLB_OK;
}

/* ---- listen ------------------------------------------------------------ */

static int same_addr(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* dns = "127.0.0.1:53" or [ "127.0.0.1:53", "[::1]:53" ] */
static int listen_dns(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	int one = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n;

	if (!one && !conf_is_list(s))
		return conf_error(ctx, s, "expected an array of \"address:port\" strings, not %s",
				  conf_type_name(s));
	n = one ? 1 : config_setting_length(s);
	if (n == 0)
		return conf_error(ctx, s, "no address to listen on");
	c->dns = calloc((size_t)n, sizeof(*c->dns));
	if (c->dns == NULL)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = one ? s : config_setting_get_elem(s, (unsigned)i);
		struct conf_listen *l = &c->dns[c->ndns];
		const char *text = NULL;
		int rc;

		rc = conf_get_string(ctx, e, &text);
		if (rc)
			return rc;
		rc = conf_parse_hostport(text, 53, &l->addr, &l->addr_len);
		if (rc)
			return conf_error(ctx, e,
					  "invalid address \"%s\" (expected 192.0.2.1:53, "
					  "[2001:db8::1]:53 or an address alone for port 53)",
					  text);
		for (size_t j = 0; j < c->ndns; j++) {
			if (same_addr(&c->dns[j], l))
				return conf_error(ctx, e, "\"%s\" is listed twice", text);
		}
		l->text = strdup(text);
		if (l->text == NULL)
			return conf_nomem(ctx);
		c->ndns++;
	}
	return GSLB_OK;
}

/* admin = "127.0.0.1:8053"; "" turns the admin listener off */
static int listen_admin(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	const char *av = config_setting_get_string(s);

	if (av[0] == '\0')
		return GSLB_OK;
	c->admin = calloc(1, sizeof(*c->admin));
	if (!c->admin)
		return conf_nomem(ctx);
	c->admin->text = strdup(av);
	if (!c->admin->text)
		return conf_nomem(ctx);
	if (conf_parse_hostport(av, 8053, &c->admin->addr, &c->admin->addr_len))
		return conf_error(ctx, s, "\"%s\" is not an address (\"127.0.0.1:8053\")", av);
	return GSLB_OK;
}

/* An address of listen.http: port 443 by default with tls, else 80. */
static int http_address(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_http_listen *h = base;
	const char *v = NULL;
	int rc = conf_get_string(ctx, s, &v);

	if (rc)
		return rc;
	h->l.text = strdup(v);
	if (!h->l.text)
		return conf_nomem(ctx);
	if (conf_parse_hostport(v, h->certs ? 443 : 80, &h->l.addr, &h->l.addr_len))
		return conf_error(ctx, s, "\"%s\" is not an address (\"127.0.0.1:8080\")", v);
	return GSLB_OK;
}

/* tls = { cert = "x.pem"; key = "x.key"; sni = ( { name; cert; key; } ); }:
 * certs[0] is the default certificate, the sni entries follow it. */
static int http_tls(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf_http_listen *h = base;
	const config_setting_t *sni = config_setting_get_member(s, "sni");
	size_t nsni = sni && conf_is_list(sni) ? (size_t)config_setting_length(sni) : 0;
	int rc;

	h->certs = calloc(1 + nsni, sizeof(*h->certs));
	if (!h->certs)
		return conf_nomem(ctx);
	h->ncerts = 1;
	rc = conf_parse_group(ctx, s, &conf_sec_tls, &h->certs[0]);
	for (size_t i = 0; i < nsni && !rc; i++)
		rc = conf_parse_group(ctx, config_setting_get_elem(sni, (unsigned)i), &conf_sec_sni,
				      &h->certs[h->ncerts++]);
	return rc;
}

/* listen.http = [ "127.0.0.1:8080", { address = "[::1]:8443"; tls = { ... }; } ] */
static int listen_http(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;

	if (config_setting_type(s) == CONFIG_TYPE_STRING && config_setting_get_string(s)[0] == 0)
		return GSLB_OK;
	if (!conf_is_list(s))
		return conf_error(ctx, s,
				  "expected a list of addresses or { address; tls; } groups");
	int n = config_setting_length(s);
	c->http = calloc(n ? (size_t)n : 1, sizeof(*c->http));
	if (!c->http)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct conf_http_listen *h = &c->http[c->nhttp++];
		int rc = config_setting_is_group(e) ?
				 conf_parse_group(ctx, e, &conf_sec_listen_http, h) :
				 http_address(ctx, e, h);
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

static const struct conf_item listen_items[] = {
	{ .name = "dns",
	  .type = CONF_STRINGS,
	  .flags = CONF_REQUIRED | CONF_ANY_TYPE,
	  .fn = listen_dns,
	  .hint = "dns = [ \"127.0.0.1:53\" ];",
	  .doc_type = "string or list of strings" },
	{ .name = "admin", .type = CONF_STRING, .fn = listen_admin, .doc_default = "off" },
	{ .name = "http",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_RESTART | CONF_ANY_TYPE,
	  .fn = listen_http,
	  .sub = &conf_sec_listen_http,
	  .doc_type = "list of strings and groups",
	  .doc_default = "off" },
	{ NULL },
};

const struct conf_section conf_sec_listen = {
	.path = "listen",
	.example = "{ dns = [ ... ]; }",
	.items = listen_items,
};

static const struct conf_item listen_http_items[] = {
	{ .name = "address",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_LATE | CONF_RESTART,
	  .fn = http_address,
	  .doc_type = "address, port 80 (443 with `tls`)" },
	{ .name = "tls",
	  .type = CONF_GROUP,
	  .flags = CONF_RESTART,
	  .fn = http_tls,
	  .sub = &conf_sec_tls,
	  .doc_default = "none (plain HTTP)" },
	{ NULL },
};

const struct conf_section conf_sec_listen_http = {
	.path = "listen.http",
	.example = "{ address = \"127.0.0.1:8443\"; tls = { ... }; }",
	.items = listen_http_items,
};

/* A certificate chain and its key, PEM files read at load: the default
 * one (tls) and each sni entry's. */
#define CONF_CERT_KEY_ITEMS                                            \
	{ .name = "cert",                                              \
	  .type = CONF_PATH,                                           \
	  .flags = CONF_REQUIRED | CONF_RESTART | CONF_READABLE,       \
	  CONF_AT(struct conf_tls_cert, cert) },                       \
	{                                                              \
		.name = "key", .type = CONF_PATH,                      \
		.flags = CONF_REQUIRED | CONF_RESTART | CONF_READABLE, \
		CONF_AT(struct conf_tls_cert, key)                     \
	}

static const struct conf_item tls_items[] = {
	CONF_CERT_KEY_ITEMS,
	{ .name = "sni",
	  .type = CONF_GROUPS,
	  .flags = CONF_RESTART,
	  .sub = &conf_sec_sni,
	  .expect = "a list ( { name; cert; key; } )" },
	{ NULL },
};

const struct conf_section conf_sec_tls = {
	.path = "listen.http.tls",
	.example = "{ cert = \"...\"; key = \"...\"; }",
	.items = tls_items,
};

static const struct conf_item sni_items[] = {
	{ .name = "name",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_RESTART,
	  .maxlen = 255,
	  CONF_AT(struct conf_tls_cert, name) },
	CONF_CERT_KEY_ITEMS,
	{ NULL },
};

const struct conf_section conf_sec_sni = {
	.path = "listen.http.tls.sni",
	.example = "{ name; cert; key; }",
	.items = sni_items,
};

/* ---- http: the redirect listener's limits --------------------------- */

static int http_explain_from(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	return conf_parse_cidr_list(ctx, s, &c->explain_from);
}

static const struct conf_item http_items[] = {
	{ .name = "explain_from",
	  .type = CONF_NETS,
	  .fn = http_explain_from,
	  .expect = "a list of networks [ \"127.0.0.1/32\" ]",
	  .doc_default = "`[ \"127.0.0.0/8\", \"::1/128\" ]`" },
	{ .name = "access_log", .type = CONF_BOOL, CONF_AT(struct conf, http_access_log) },
	{ .name = "max_connections",
	  .type = CONF_INT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_max_connections),
	  .i = { 1, 1000000, 1024 } },
	{ .name = "max_per_ip",
	  .type = CONF_INT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_max_per_ip),
	  .i = { 1, 1000000, 32 } },
	{ .name = "ipv4_prefix",
	  .type = CONF_INT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_ipv4_prefix),
	  .i = { 8, 32, 24 } },
	{ .name = "ipv6_prefix",
	  .type = CONF_INT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_ipv6_prefix),
	  .i = { 16, 128, 64 } },
	{ .name = "header_limit",
	  .type = CONF_INT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_header_limit),
	  .i = { 1024, 1048576, 8192 },
	  .unit = "bytes" },
	{ .name = "request_timeout",
	  .type = CONF_FLOAT,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, http_request_timeout),
	  .f = { 0.001, 3600, 10.0 },
	  .unit = "seconds" },
	{ NULL },
};

const struct conf_section conf_sec_http = {
	.path = "http",
	.example = "{ max_connections = 1024; ... }",
	.items = http_items,
};

/* ---- tcp ------------------------------------------------------------------ */

static const struct conf_item tcp_items[] = {
	{ .name = "idle_timeout",
	  .type = CONF_FLOAT,
	  CONF_AT(struct conf, tcp_idle_timeout),
	  .f = { 0.001, 3600, 10.0 },
	  .unit = "seconds" },
	{ .name = "max_connections",
	  .type = CONF_INT,
	  CONF_AT(struct conf, tcp_max_connections),
	  .i = { 1, CONF_MAX_TCP_MAXCONN, 1024 } },
	{ .name = "max_queries",
	  .type = CONF_INT,
	  CONF_AT(struct conf, tcp_max_queries),
	  .i = { 0, UINT_MAX, 0 } },
	{ .name = "max_per_ip",
	  .type = CONF_INT,
	  CONF_AT(struct conf, tcp_max_per_ip),
	  .i = { 0, CONF_MAX_TCP_MAXCONN, 64 } },
	{ .name = "ipv4_prefix",
	  .type = CONF_INT,
	  CONF_AT(struct conf, tcp_ipv4_prefix),
	  .i = { 8, 32, 24 } },
	{ .name = "ipv6_prefix",
	  .type = CONF_INT,
	  CONF_AT(struct conf, tcp_ipv6_prefix),
	  .i = { 16, 128, 64 } },
	{ .name = "max_lifetime",
	  .type = CONF_FLOAT,
	  CONF_AT(struct conf, tcp_max_lifetime),
	  .f = { 0, 86400, 120.0 },
	  .unit = "seconds" },
	{ NULL },
};

const struct conf_section conf_sec_tcp = {
	.path = "tcp",
	.example = "{ idle_timeout = 10.0; ... }",
	.items = tcp_items,
};

/* ---- rrl ------------------------------------------------------------------ */

static int rrl_exempt(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	return conf_parse_cidr_list(ctx, s, &c->rrl.exempt);
}

static const struct conf_item rrl_items[] = {
	{ .name = "responses_per_second",
	  .type = CONF_INT,
	  CONF_AT(struct conf, rrl.rate),
	  .i = { 0, 100000, 5 } },
	{ .name = "slip", .type = CONF_INT, CONF_AT(struct conf, rrl.slip), .i = { 0, 10, 2 } },
	{ .name = "window",
	  .type = CONF_INT,
	  CONF_AT(struct conf, rrl.window),
	  .i = { 1, 3600, 15 },
	  .unit = "seconds" },
	{ .name = "ipv4_prefix",
	  .type = CONF_INT,
	  CONF_AT(struct conf, rrl.ipv4_prefix),
	  .i = { 8, 32, 24 } },
	{ .name = "ipv6_prefix",
	  .type = CONF_INT,
	  CONF_AT(struct conf, rrl.ipv6_prefix),
	  .i = { 16, 128, 56 } },
	{ .name = "exempt",
	  .type = CONF_NETS,
	  .fn = rrl_exempt,
	  .expect = "a list of networks [ \"127.0.0.1/32\" ]" },
	{ NULL },
};

const struct conf_section conf_sec_rrl = {
	.path = "rrl",
	.example = "{ responses_per_second = 5; ... }",
	.items = rrl_items,
};

/* ---- acl ------------------------------------------------------------------ */

static int acl_allow(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	return conf_parse_cidr_list(ctx, s, &c->acl_allow);
}

static int acl_deny(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	return conf_parse_cidr_list(ctx, s, &c->acl_deny);
}

static const char *const acl_actions[] = { "refuse", "drop", NULL };

static const struct conf_item acl_items[] = {
	{ .name = "allow",
	  .type = CONF_NETS,
	  .fn = acl_allow,
	  .expect = "a list of networks [ \"127.0.0.1/32\" ]",
	  .doc_default = "none (everyone)" },
	{ .name = "deny",
	  .type = CONF_NETS,
	  .fn = acl_deny,
	  .expect = "a list of networks [ \"127.0.0.1/32\" ]" },
	{ .name = "blocklist", .type = CONF_PATH, CONF_AT(struct conf, acl_blocklist) },
	{ .name = "action",
	  .type = CONF_ENUM,
	  CONF_AT(struct conf, acl_drop),
	  .names = acl_actions },
	{ NULL },
};

const struct conf_section conf_sec_acl = {
	.path = "acl",
	.example = "{ allow; deny; blocklist; action; }",
	.items = acl_items,
};
