/* gslb.conf, checks = ( { name; type; ... } ): the probe templates pools
 * name. Their table and handlers; the engine is config_schema.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gslb/dnsdefs.h"
#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/err.h"

#define CONF_MAX_NAME 63
#define CONF_MAX_CHECKS 1024

static int check_name(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;

	if (!conf_valid_label_name(ck->name))
		return conf_error(ctx, s, "\"%s\": use letters, digits, '-' and '_'", ck->name);
	return GSLB_OK;
}

/* 0 stays "the type's port": no default to store. */
static int check_port(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;

	(void)ctx;
	ck->port = (uint16_t)config_setting_get_int(s);
	return GSLB_OK;
}

/* source = "192.0.2.53": an address of this host (a socket binds to it
 * now), so that a typo is an error at load, not a check failing forever. */
static int check_source(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, e = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ck->source, ck->source_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		ck->source_family = AF_INET;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, ck->source_addr, 4);
		sl = sizeof(*a);
	} else if (inet_pton(AF_INET6, ck->source, ck->source_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		ck->source_family = AF_INET6;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, ck->source_addr, 16);
		sl = sizeof(*a);
	} else
		return conf_error(ctx, s, "\"%s\" is not an IPv4 or IPv6 address", ck->source);
	fd = socket(ck->source_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0)
		e = errno;
	if (fd >= 0)
		close(fd);
	if (e == EADDRNOTAVAIL)
		return conf_error(ctx, s, "%s is not an address of this host", ck->source);
	if (e)
		return conf_error(ctx, s, "cannot use %s as a source: %s", ck->source, strerror(e));
	return GSLB_OK;
}

static int check_path(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;

	if (ck->path[0] != '/')
		return conf_error(ctx, s, "a path starts with /");
	return GSLB_OK;
}

static int check_expect_status(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;
	const struct conf_item *it = conf_item_find(&conf_sec_check, "expect_status");
	int n = config_setting_length(s);

	if (n == 0)
		return conf_error(ctx, s, "empty list");
	free(ck->expect_status);
	ck->expect_status = calloc((size_t)n, sizeof(unsigned));
	if (!ck->expect_status)
		return conf_nomem(ctx);
	ck->nexpect_status = 0;
	for (int i = 0; i < n; i++) {
		long long v;
		int rc = conf_get_int(ctx, config_setting_get_elem(s, (unsigned)i), it->i.min,
				      it->i.max, &v);
		if (rc)
			return rc;
		ck->expect_status[ck->nexpect_status++] = (unsigned)v;
	}
	return GSLB_OK;
}

static int check_headers(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct check *ck = base;
	int n = config_setting_length(s);

	ck->headers = calloc(n ? (size_t)n : 1, sizeof(char *));
	if (!ck->headers)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *he = config_setting_get_elem(s, (unsigned)i);
		char *hv = NULL;
		int rc = conf_dup_string(ctx, he, 1024, &hv);
		if (rc)
			return rc;
		ck->headers[ck->nheaders++] = hv;
		if (!strchr(hv, ':') || strchr(hv, '\n') || strchr(hv, '\r'))
			return conf_error(ctx, he, "\"%s\": expected \"Name: value\"", hv);
	}
	return GSLB_OK;
}

/* Checks between keys, and the defaults that depend on the type. */
static int check_finish(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct check *ck = base;
	const config_setting_t *interval = config_setting_get_member(e, "interval");
	const config_setting_t *timeout = config_setting_get_member(e, "timeout");

	if (ck->timeout >= ck->interval)
		return conf_error(ctx, timeout ? timeout : (interval ? interval : e),
				  "timeout (%gs) must be shorter than interval (%gs)", ck->timeout,
				  ck->interval);
	if (ck->type == CHECK_TCP && !ck->port)
		return conf_error(ctx, e, "check %s: a tcp check needs a port", ck->name);
	if (!ck->expect_status) {
		ck->expect_status = calloc(1, sizeof(unsigned));
		if (!ck->expect_status)
			return conf_nomem(ctx);
		ck->expect_status[0] = 200;
		ck->nexpect_status = 1;
	}
	if (!ck->path && (ck->type == CHECK_HTTP || ck->type == CHECK_HTTPS)) {
		ck->path = strdup("/");
		if (!ck->path)
			return conf_nomem(ctx);
	}
	return GSLB_OK;
}

static int check_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct check *ck = base;

	(void)ctx;
	ck->line = config_setting_source_line(e);
	return GSLB_OK;
}

static const char *const check_types[] = { "http", "https", "tcp", "dns", NULL };
static const char *const check_methods[] = { "GET", "HEAD", NULL };
/* The query types a dns check may ask, with their numbers. */
static const char *const check_qtypes[] = { "A",  "AAAA", "NS",  "CNAME", "SOA",
					    "MX", "TXT",  "SRV", NULL };
static const uint16_t check_qtype_values[] = { DNS_T_A,   DNS_T_AAAA, DNS_T_NS,  DNS_T_CNAME,
					       DNS_T_SOA, DNS_T_MX,   DNS_T_TXT, DNS_T_SRV };
/* Indexes are the rcodes. */
static const char *const check_rcodes[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", NULL };

static const struct conf_item check_items[] = {
	{ .name = "name",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct check, name),
	  .maxlen = CONF_MAX_NAME,
	  .fn = check_name },
	{ .name = "type",
	  .type = CONF_ENUM,
	  .flags = CONF_REQUIRED | CONF_LATE,
	  CONF_AT(struct check, type),
	  .names = check_types,
	  .hint = "http, https, tcp or dns" },
	{ .name = "interval",
	  .type = CONF_FLOAT,
	  CONF_AT(struct check, interval),
	  .f = { 0.1, 86400, 5.0 },
	  .unit = "seconds" },
	{ .name = "timeout",
	  .type = CONF_FLOAT,
	  CONF_AT(struct check, timeout),
	  .f = { 0.01, 3600, 2.0 },
	  .unit = "seconds" },
	{ .name = "rise", .type = CONF_INT, CONF_AT(struct check, rise), .i = { 1, 100, 2 } },
	{ .name = "fall", .type = CONF_INT, CONF_AT(struct check, fall), .i = { 1, 100, 3 } },
	{ .name = "port",
	  .type = CONF_INT,
	  .i = { 1, 65535, 0 },
	  .fn = check_port,
	  .doc_default = "80, 443 or 53 by type; tcp needs one" },
	{ .name = "source",
	  .type = CONF_STRING,
	  CONF_AT(struct check, source),
	  .maxlen = 64,
	  .fn = check_source,
	  .doc_default = "the kernel's choice" },
	{ .name = "path",
	  .type = CONF_STRING,
	  CONF_AT(struct check, path),
	  .maxlen = 2048,
	  .fn = check_path,
	  .doc_default = "`\"/\"`" },
	{ .name = "host",
	  .type = CONF_STRING,
	  CONF_AT(struct check, host),
	  .maxlen = 255,
	  .doc_default = "the member" },
	{ .name = "method",
	  .type = CONF_ENUM,
	  CONF_AT(struct check, method_head),
	  .names = check_methods },
	{ .name = "expect_status",
	  .type = CONF_INTS,
	  .i = { 100, 599, 0 },
	  .fn = check_expect_status,
	  .expect = "a list of status codes [ 200, 204 ]",
	  .doc_default = "`[ 200 ]`" },
	{ .name = "expect_body",
	  .type = CONF_STRING,
	  CONF_AT(struct check, expect_body),
	  .maxlen = 4096 },
	{ .name = "headers",
	  .type = CONF_STRINGS,
	  .fn = check_headers,
	  .expect = "a list [ \"Name: value\" ]" },
	{ .name = "follow_redirects", .type = CONF_BOOL, CONF_AT(struct check, follow_redirects) },
	{ .name = "tls_verify",
	  .type = CONF_BOOL,
	  CONF_AT(struct check, tls_verify),
	  .i = { .dflt = 1 } },
	{ .name = "ca_file",
	  .type = CONF_PATH,
	  CONF_AT(struct check, ca_file),
	  .doc_default = "the system's CAs" },
	{ .name = "query",
	  .type = CONF_DNAME,
	  CONF_AT(struct check, query),
	  .maxlen = 255,
	  .doc_default = "the service name" },
	{ .name = "qtype",
	  .type = CONF_ENUM,
	  .flags = CONF_NOCASE,
	  CONF_AT(struct check, qtype),
	  .names = check_qtypes,
	  .values = check_qtype_values },
	{ .name = "expect_rcode",
	  .type = CONF_ENUM,
	  .flags = CONF_NOCASE,
	  CONF_AT(struct check, expect_rcode),
	  .names = check_rcodes },
	{ .name = "expect_answer",
	  .type = CONF_STRING,
	  CONF_AT(struct check, expect_answer),
	  .maxlen = 1024,
	  .doc_default = "any" },
	{ NULL },
};

const struct conf_section conf_sec_check = {
	.path = "checks",
	.example = "{ name = \"web\"; type = \"https\"; ... }",
	.items = check_items,
	.init = check_init,
	.finish = check_finish,
};

static int check_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	const struct check *checks = arr;
	const struct check *ck = &checks[i];

	for (size_t j = 0; j < i; j++)
		if (strcmp(checks[j].name, ck->name) == 0)
			return conf_error(ctx, e, "check \"%s\" is already defined at line %d",
					  ck->name, checks[j].line);
	return GSLB_OK;
}

int conf_parse_checks(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	void *arr = NULL;
	int rc = conf_parse_list(ctx, s, &conf_sec_check, sizeof(struct check), CONF_MAX_CHECKS,
				 &arr, &c->nchecks, check_each);

	c->checks = arr; /* also half-read, for conf_free */
	return rc;
}

void conf_free_checks(struct conf *c)
{
	for (size_t i = 0; i < c->nchecks; i++) {
		struct check *ck = &c->checks[i];
		free(ck->expect_status);
		for (size_t h = 0; h < ck->nheaders; h++)
			free(ck->headers[h]);
		free(ck->headers);
		conf_release(&conf_sec_check, ck);
	}
	free(c->checks);
}
