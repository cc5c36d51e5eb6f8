/* notify = ( { url; name; events; headers; queue; timeout; retry_max; } ): the
 * webhook receivers (webhook.h). Parsed and checked here;
 * docs/configuration.md. */
#include <stdlib.h>
#include <string.h>

#include "gslb/config_schema.h"
#include "gslb/err.h"
#include "gslb/webhook.h"

#define NOTIFY_MAX_HOOKS 16
#define NOTIFY_MAX_HEADERS 32

static int notify_init(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct notify_hook *h = base;

	(void)ctx;
	h->line = config_setting_source_line(s);
	h->events = WEBHOOK_ALL;
	return GSLB_OK;
}

/* http:// or https:// and a host: curl is limited to these two protocols
 * and never follows a redirect. */
static int notify_url(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct notify_hook *h = base;
	const char *v = h->url, *rest;

	if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else
		return conf_error(ctx, s, "\"%s\": expected an http:// or https:// URL", v);
	if (*rest == '\0' || *rest == '/')
		return conf_error(ctx, s, "\"%s\": the URL has no host", v);
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ')
			return conf_error(ctx, s, "the URL has a space or a control character");
	return GSLB_OK;
}

static int notify_events(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct notify_hook *h = base;
	int n = config_setting_length(s);

	if (n == 0)
		return conf_error(ctx, s,
				  "give at least one event: pool, member, region, override, "
				  "reload, cluster");
	h->events = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		int rc = conf_get_string(ctx, e, &v), what;

		if (rc)
			return rc;
		what = webhook_what_parse(v);
		if (what < 0)
			return conf_error(ctx, e,
					  "unknown event \"%s\" (pool, member, region, override, "
					  "reload, cluster)",
					  v);
		h->events |= 1u << what;
	}
	return GSLB_OK;
}

static int notify_headers(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct notify_hook *h = base;
	int n = config_setting_length(s);

	if (n > NOTIFY_MAX_HEADERS)
		return conf_error(ctx, s, "%d headers, at most %d", n, NOTIFY_MAX_HEADERS);
	h->headers = calloc(n ? (size_t)n : 1, sizeof(char *));
	if (!h->headers)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *he = config_setting_get_elem(s, (unsigned)i);
		char *hv = NULL, *colon;
		int rc = conf_dup_string(ctx, he, 4096, &hv);

		if (rc)
			return rc;
		h->headers[h->nheaders++] = hv;
		colon = strchr(hv, ':');
		/* The value may be a secret: never repeated in a message. */
		if (!colon || colon == hv || strchr(hv, '\n') || strchr(hv, '\r'))
			return conf_error(ctx, he, "expected \"Name: value\" (header %d)", i + 1);
	}
	return GSLB_OK;
}

/* The receiver's label in the metrics: printable, no quote or backslash. */
static int notify_name(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	const struct notify_hook *h = base;

	for (const char *p = h->name; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' ||
		    *p == '\\')
			return conf_error(ctx, s,
					  "\"%s\": a name of letters, digits and punctuation, "
					  "without spaces, quotes or backslashes",
					  h->name);
	return GSLB_OK;
}

static const struct conf_item notify_items[] = {
	{ .name = "url",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_NONEMPTY,
	  CONF_AT(struct notify_hook, url),
	  .maxlen = 2048,
	  .fn = notify_url,
	  .hint = "url = \"https://hooks.example.com/gslb\";" },
	{ .name = "name",
	  .type = CONF_STRING,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct notify_hook, name),
	  .maxlen = WEBHOOK_NAME_MAX,
	  .fn = notify_name,
	  .doc_default = "the URL's host[:port]" },
	{ .name = "events",
	  .type = CONF_STRINGS,
	  .fn = notify_events,
	  .expect = "a list [ \"pool\", \"member\" ]",
	  .doc_type = "list of `pool`, `member`, `region`, `override`, `reload`, `cluster`",
	  .doc_default = "all of them" },
	{ .name = "headers",
	  .type = CONF_STRINGS,
	  .fn = notify_headers,
	  .expect = "a list [ \"Name: value\" ]",
	  .doc_default = "none" },
	{ .name = "ca_file",
	  .type = CONF_PATH,
	  .flags = CONF_READABLE,
	  CONF_AT(struct notify_hook, ca_file),
	  .doc_default = "the system's CAs" },
	{ .name = "queue",
	  .type = CONF_INT,
	  CONF_AT(struct notify_hook, queue),
	  .i = { 1, 1000000, 1000 },
	  .unit = "events" },
	{ .name = "timeout",
	  .type = CONF_FLOAT,
	  CONF_AT(struct notify_hook, timeout),
	  .f = { 0.1, 60, 5 },
	  .unit = "seconds" },
	{ .name = "retry_max",
	  .type = CONF_FLOAT,
	  CONF_AT(struct notify_hook, retry_max),
	  .f = { 0.1, 3600, 60 },
	  .unit = "seconds" },
	{ NULL },
};

const struct conf_section conf_sec_notify = {
	.path = "notify",
	.example = "{ url = \"https://...\"; events = [ \"pool\" ]; }",
	.items = notify_items,
	.init = notify_init,
};

/* Two receivers may not be given the same name (defaults may coincide:
 * they share their series). */
static int notify_unique(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	const struct notify_hook *h = arr;

	if (!h[i].name)
		return GSLB_OK;
	for (size_t k = 0; k < i; k++)
		if (h[k].name && strcmp(h[k].name, h[i].name) == 0)
			return conf_error(ctx, config_setting_get_member(e, "name"),
					  "\"%s\" names another receiver too (line %d): give "
					  "each its own name",
					  h[i].name, h[k].line);
	return GSLB_OK;
}

int conf_parse_notify(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	void *arr = NULL;
	int rc;

	if (conf_is_list(s) && config_setting_length(s) > NOTIFY_MAX_HOOKS)
		return conf_error(ctx, s,
				  "%d receivers: gslbd sends to %d webhook receivers at most (a "
				  "receiver of your own can pass events on to more)",
				  config_setting_length(s), NOTIFY_MAX_HOOKS);
	rc = conf_parse_list(ctx, s, &conf_sec_notify, sizeof(struct notify_hook), NOTIFY_MAX_HOOKS,
			     &arr, &c->nnotify, notify_unique);

	c->notify = arr; /* also half-read, for conf_free */
	return rc;
}

void conf_free_notify(struct conf *c)
{
	for (size_t i = 0; i < c->nnotify; i++) {
		struct notify_hook *h = &c->notify[i];
		for (size_t k = 0; k < h->nheaders; k++) {
			explicit_bzero(h->headers[k], strlen(h->headers[k]));
			free(h->headers[k]);
		}
		free(h->headers);
		conf_release(&conf_sec_notify, h);
	}
	free(c->notify);
	c->notify = NULL;
	c->nnotify = 0;
}
