/* cluster = { ... }: the nodes that share verdicts and overrides through
 * etcd (cluster.h). Parsed and checked here; docs/configuration.md. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslb/cluster.h"
#include "gslb/config_schema.h"
#include "gslb/err.h"
#include "gslb/log.h"

#define CLUSTER_MAX_ENDPOINTS 16
#define CLUSTER_MAX_NODES 64

static int cluster_init(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;

	(void)ctx;
	(void)s;
	c->cluster.enabled = 1;
	return GSLB_OK;
}

static int cluster_name(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;

	if (!conf_valid_label_name(c->cluster.name))
		return conf_error(ctx, s, "\"%s\": use letters, digits, '-' and '_'",
				  c->cluster.name);
	return GSLB_OK;
}

static int cluster_node(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;

	if (!cluster_node_name_ok(c->cluster.node))
		return conf_error(ctx, s, "\"%s\": use letters, digits, '-', '_' and '.'",
				  c->cluster.node);
	return GSLB_OK;
}

static int cluster_prefix(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	const char *p = c->cluster.prefix;
	size_t n = strlen(p);

	if (n < 2 || p[0] != '/' || p[n - 1] != '/')
		return conf_error(ctx, s, "\"%s\": a key prefix starts and ends with '/'", p);
	return GSLB_OK;
}

void conf_free_cluster(struct conf *c)
{
	for (size_t i = 0; i < c->cluster.netcd; i++)
		free(c->cluster.etcd[i]);
	free(c->cluster.etcd);
	c->cluster.etcd = NULL;
	c->cluster.netcd = 0;
}

/* "http://host:port" or "https://host:port" (a trailing '/' is taken):
 * nothing but a scheme and an authority. */
static int valid_endpoint(const char *v)
{
	const char *h;

	if (strncmp(v, "http://", 7) == 0)
		h = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		h = v + 8;
	else
		return 0;
	if (*h == '\0' || *h == '/' || strlen(v) > 512)
		return 0;
	for (const char *p = h; *p; p++) {
		if (*p == '/')
			return p[1] == '\0';
		if (*p == '?' || *p == '#' || *p == '@' || *p <= ' ')
			return 0;
	}
	return 1;
}

static int cluster_etcd(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	int n;

	if (!conf_is_list(s))
		return conf_error(ctx, s,
				  "expected a list of endpoints [ \"http://10.0.0.1:2379\" ]");
	n = config_setting_length(s);
	if (n == 0)
		return conf_error(ctx, s,
				  "give at least one endpoint [ \"http://10.0.0.1:2379\" ]");
	if (n > CLUSTER_MAX_ENDPOINTS)
		return conf_error(ctx, s, "%d endpoints, at most %d", n, CLUSTER_MAX_ENDPOINTS);
	conf_free_cluster(c);
	c->cluster.etcd = calloc((size_t)n, sizeof(char *));
	if (!c->cluster.etcd)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		int rc = conf_get_string(ctx, e, &v);

		if (rc)
			return rc;
		if (!valid_endpoint(v))
			return conf_error(ctx, e,
					  "\"%s\" is not an etcd endpoint (http://host:port or "
					  "https://host:port)",
					  v);
		for (size_t k = 0; k < c->cluster.netcd; k++)
			if (strcmp(c->cluster.etcd[k], v) == 0)
				return conf_error(ctx, e, "\"%s\" is listed twice", v);
		c->cluster.etcd[c->cluster.netcd] = strdup(v);
		if (!c->cluster.etcd[c->cluster.netcd])
			return conf_nomem(ctx);
		c->cluster.netcd++;
	}
	return GSLB_OK;
}

static const char *const quorum_names[] = { "majority", "any", "all", NULL };

static int cluster_quorum(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	long long n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		for (int i = 0; quorum_names[i]; i++)
			if (strcmp(v, quorum_names[i]) == 0) {
				c->cluster.quorum_mode = i;
				return GSLB_OK;
			}
		return conf_error(ctx, s,
				  "\"%s\": expected a number of nodes, \"majority\", \"any\" or "
				  "\"all\"",
				  v);
	}
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return conf_error(ctx, s,
				  "expected a number of nodes, \"majority\", \"any\" or \"all\", "
				  "not %s",
				  conf_type_name(s));
	if (conf_get_int(ctx, s, 1, CLUSTER_MAX_NODES, &n))
		return GSLB_EINVAL;
	c->cluster.quorum_mode = CLUSTER_QUORUM_COUNT;
	c->cluster.quorum_count = (unsigned)n;
	return GSLB_OK;
}

static int cluster_finish(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	struct cluster_conf *k = &c->cluster;
	int https = 0;

	if (!k->node) {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) != 0 || !cluster_node_name_ok(host))
			return conf_error(ctx, s,
					  "the host name \"%s\" cannot name this node: set node",
					  host);
		k->node = strdup(host);
		if (!k->node)
			return conf_nomem(ctx);
	}
	if (!k->prefix) {
		size_t n = strlen(k->name) + sizeof("/gslb//");

		k->prefix = malloc(n);
		if (!k->prefix)
			return conf_nomem(ctx);
		snprintf(k->prefix, n, "/gslb/%s/", k->name);
	}
	for (size_t i = 0; i < k->netcd; i++)
		https |= strncmp(k->etcd[i], "https://", 8) == 0;
	if ((k->ca_file || k->cert_file || k->key_file) && !https)
		return conf_error(ctx, s, "tls is given but no etcd endpoint is https://");
	if (!k->cert_file != !k->key_file)
		return conf_error(ctx, s, "tls: give cert_file and key_file together");
	return GSLB_OK;
}

static const struct conf_item cluster_tls_items[] = {
	{ .name = "ca_file",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY | CONF_READABLE,
	  CONF_AT(struct conf, cluster.ca_file),
	  .doc_default = "the system's CAs" },
	{ .name = "cert_file",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY | CONF_READABLE,
	  CONF_AT(struct conf, cluster.cert_file),
	  .doc_default = "none" },
	{ .name = "key_file",
	  .type = CONF_PATH,
	  .flags = CONF_NONEMPTY | CONF_READABLE,
	  CONF_AT(struct conf, cluster.key_file),
	  .doc_default = "none" },
	{ NULL },
};

const struct conf_section conf_sec_cluster_tls = {
	.path = "cluster.tls",
	.example =
		"{ ca_file = \"etcd-ca.pem\"; cert_file = \"node.pem\"; key_file = \"node.key\"; }",
	.items = cluster_tls_items,
};

static const struct conf_item cluster_items[] = {
	{ .name = "name",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED | CONF_NONEMPTY,
	  CONF_AT(struct conf, cluster.name),
	  .maxlen = 63,
	  .fn = cluster_name,
	  .hint = "name the cluster, e.g. name = \"prod\";" },
	{ .name = "prefix",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, cluster.prefix),
	  .maxlen = 256,
	  .fn = cluster_prefix,
	  .doc_default = "\"/gslb/<name>/\"" },
	{ .name = "node",
	  .type = CONF_STRING,
	  .flags = CONF_NONEMPTY,
	  CONF_AT(struct conf, cluster.node),
	  .maxlen = 253,
	  .fn = cluster_node,
	  .doc_default = "the host name" },
	{ .name = "etcd",
	  .type = CONF_STRINGS,
	  .flags = CONF_REQUIRED,
	  .fn = cluster_etcd,
	  .expect = "a list of endpoints [ \"http://10.0.0.1:2379\" ]",
	  .hint = "list the etcd endpoints, e.g. etcd = [ \"http://10.0.0.1:2379\" ];",
	  .doc_type = "list of URLs" },
	{ .name = "quorum",
	  .type = CONF_STRING,
	  .flags = CONF_ANY_TYPE,
	  .fn = cluster_quorum,
	  .doc_type = "int 1..64, `\"majority\"`, `\"any\"`, `\"all\"`",
	  .doc_default = "\"majority\"" },
	{ .name = "lease_ttl",
	  .type = CONF_INT,
	  CONF_AT(struct conf, cluster.lease_ttl),
	  .i = { 2, 300, 10 },
	  .unit = "seconds" },
	{ .name = "tls", .type = CONF_GROUP, .sub = &conf_sec_cluster_tls, .doc_default = "none" },
	{ .name = "probe_share",
	  .type = CONF_INT,
	  CONF_AT(struct conf, cluster.probe_share),
	  .i = { 0, CLUSTER_MAX_NODES, 0 },
	  .doc_default = "0 (every node probes every member)" },
	{ NULL },
};

const struct conf_section conf_sec_cluster = {
	.path = "cluster",
	.example = "{ name = \"prod\"; etcd = [ \"http://10.0.0.1:2379\" ]; }",
	.items = cluster_items,
	.init = cluster_init,
	.finish = cluster_finish,
};
