/* dnstap = { ... }: where query and response logs go (a Unix socket or a
 * TCP address of a Frame Streams collector) and what they carry. The
 * logging itself is dnstap.c. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "gslb/config.h"
#include "gslb/config_schema.h"
#include "gslb/err.h"

static int dnstap_tcp(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	struct dnstap_conf *d = &c->dnstap;

	if (conf_parse_hostport(d->tcp, 0, &d->tcp_addr, &d->tcp_addr_len) != GSLB_OK ||
	    (d->tcp_addr.ss_family == AF_INET &&
	     ((const struct sockaddr_in *)(const void *)&d->tcp_addr)->sin_port == 0) ||
	    (d->tcp_addr.ss_family == AF_INET6 &&
	     ((const struct sockaddr_in6 *)(const void *)&d->tcp_addr)->sin6_port == 0))
		return conf_error(ctx, s,
				  "\"%s\" is not an address and port (\"127.0.0.1:6000\", "
				  "\"[::1]:6000\")",
				  d->tcp);
	return GSLB_OK;
}

static int dnstap_finish(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	struct dnstap_conf *d = &c->dnstap;
	struct sockaddr_un sun;

	if ((d->socket == NULL) == (d->tcp == NULL))
		return conf_error(ctx, s,
				  "give either socket (a Unix socket of the collector) or tcp "
				  "(\"host:port\"), not %s",
				  d->socket ? "both" : "neither");
	if (d->socket && strlen(d->socket) >= sizeof(sun.sun_path))
		return conf_error(ctx, config_setting_get_member(s, "socket"),
				  "socket \"%s\": longer than the %zu bytes of a Unix socket name",
				  d->socket, sizeof(sun.sun_path) - 1);
	if (d->identity == NULL) {
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) != 0)
			host[0] = '\0';
		d->identity = strdup(host);
		if (d->identity == NULL)
			return conf_nomem(ctx);
	}
	if (d->version == NULL) {
		d->version = strdup("gslbd " PACKAGE_VERSION);
		if (d->version == NULL)
			return conf_nomem(ctx);
	}
	d->enabled = 1;
	return GSLB_OK;
}

static const struct conf_item dnstap_items[] = {
	{ .name = "socket",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, dnstap.socket),
	  .doc_default = "none" },
	{ .name = "tcp",
	  .type = CONF_STRING,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, dnstap.tcp),
	  .maxlen = 64,
	  .fn = dnstap_tcp,
	  .doc_type = "`\"address:port\"`",
	  .doc_default = "none" },
	{ .name = "log_queries",
	  .type = CONF_BOOL,
	  CONF_AT(struct conf, dnstap.log_queries),
	  .i = { .dflt = 1 } },
	{ .name = "log_responses",
	  .type = CONF_BOOL,
	  CONF_AT(struct conf, dnstap.log_responses),
	  .i = { .dflt = 1 } },
	{ .name = "identity",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, dnstap.identity),
	  .maxlen = 255,
	  .doc_default = "the host name" },
	{ .name = "version",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, dnstap.version),
	  .maxlen = 255,
	  .doc_default = "`\"gslbd VERSION\"`" },
	{ .name = "sample",
	  .type = CONF_INT,
	  CONF_AT(struct conf, dnstap.sample),
	  .i = { 1, 1000000, 1 } },
	{ NULL },
};

const struct conf_section conf_sec_dnstap = {
	.path = "dnstap",
	.example = "{ socket = \"/run/gslbd/dnstap.sock\"; ... }",
	.items = dnstap_items,
	.finish = dnstap_finish,
};
