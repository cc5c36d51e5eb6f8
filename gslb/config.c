/* gslb.conf: read with libconfig, checked key by key against the schema
 * (config_schema.h) and turned into a plain struct conf that nothing
 * modifies afterwards. This file holds the top level's table and handlers,
 * zones and log, and conf_load; the other groups are in config_listen.c,
 * config_service.c and config_check.c, the engine in config_schema.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <libconfig.h>

#include "gslb/config.h"
#include "gslb/config_schema.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/privs.h"
#include "gslb/statefile.h"

#define CONF_MAX_WORKERS 1024
/* An NSID is an opaque identifier; a few hundred bytes is already generous
 * and keeps it from crowding answers out of a 512-byte response. */
#define CONF_MAX_NSID 128
/* identity and version are answered as one TXT character-string. */
#define CONF_MAX_TXT 255
/* Each probe in flight holds a socket; more than this is never needed. */
#define CONF_MAX_PROBE_INFLIGHT 65536

/* ---- networks ------------------------------------------------------------ */

/* A list of networks, as a set (host bits set are an error). */
int conf_parse_cidr_list(struct conf_ctx *ctx, const config_setting_t *s, struct net_set **out)
{
	if (!conf_is_list(s))
		return conf_error(ctx, s, "expected a list of networks [ \"127.0.0.1/32\" ]");
	int n = config_setting_length(s);
	struct net_cidr *v = calloc(n ? (size_t)n : 1, sizeof(*v));
	if (!v)
		return conf_nomem(ctx);
	int rc = GSLB_OK;
	for (int i = 0; i < n && !rc; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *t = NULL;
		char why[160];
		rc = conf_get_string(ctx, e, &t);
		if (!rc && net_parse(t, 0, &v[i], why, sizeof(why)))
			rc = conf_error(ctx, e, "%s", why);
	}
	if (!rc) {
		net_set_free(*out);
		*out = net_set_new(v, (size_t)n, NULL);
		rc = *out ? GSLB_OK : conf_nomem(ctx);
	}
	free(v);
	return rc;
}

/* ---- the top level ------------------------------------------------------- */

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n;

	/* The affinity mask, not the machine's size: under taskset or a
	 * container's cpuset, more workers than usable CPUs only contend. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	if (n > CONF_MAX_WORKERS)
		return CONF_MAX_WORKERS;
	return (unsigned)n;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_nsid(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)base;
	struct conf *c = ctx->c;
	const char *v = NULL;
	size_t n;
	int rc;

	rc = conf_get_string(ctx, s, &v);
	if (rc)
		return rc;
	if (strncmp(v, "hex:", 4) == 0) {
		const char *h = v + 4;
		size_t hl = strlen(h);
		if (hl == 0 || hl % 2 != 0)
			return conf_error(
				ctx, s,
				"\"hex:\" must be followed by an even number of hex digits");
		n = hl / 2;
		if (n > CONF_MAX_NSID)
			return conf_error(ctx, s, "longer than %d bytes", CONF_MAX_NSID);
		free(c->nsid);
		c->nsid = malloc(n);
		if (c->nsid == NULL)
			return conf_nomem(ctx);
		for (size_t i = 0; i < n; i++) {
			int hi = hexval((unsigned char)h[2 * i]);
			int lo = hexval((unsigned char)h[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return conf_error(ctx, s, "\"%s\" is not hexadecimal", h);
			c->nsid[i] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		n = strlen(v);
		if (n == 0)
			return conf_error(ctx, s, "empty (leave it out to send no NSID)");
		if (n > CONF_MAX_NSID)
			return conf_error(ctx, s, "longer than %d bytes", CONF_MAX_NSID);
		free(c->nsid);
		c->nsid = malloc(n);
		if (c->nsid == NULL)
			return conf_nomem(ctx);
		memcpy(c->nsid, v, n);
	}
	c->nsid_len = (uint16_t)n;
	return GSLB_OK;
}

/* resolvers = [ "127.0.0.1", "[::1]:5353" ]: the servers c-ares asks for
 * host-name members, instead of /etc/resolv.conf. */
static int parse_resolvers(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)base;
	char csv[2048] = "";
	size_t used = 0;
	if (!conf_is_list(s))
		return conf_error(ctx, s, "expected a list of addresses [ \"127.0.0.1:53\" ]");
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		struct sockaddr_storage ss;
		socklen_t sl;
		char host[INET6_ADDRSTRLEN];
		int rc = conf_get_string(ctx, e, &v);
		if (rc)
			return rc;
		if (conf_parse_hostport(v, 53, &ss, &sl))
			return conf_error(ctx, e, "\"%s\" is not an address", v);
		uint16_t port;
		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			port = ntohs(s6->sin6_port);
		} else {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			port = ntohs(s4->sin_port);
		}
		int w = snprintf(csv + used, sizeof(csv) - used,
				 ss.ss_family == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u",
				 used ? "," : "", host, port);
		if (w < 0 || (size_t)w >= sizeof(csv) - used)
			return conf_error(ctx, s, "too many resolvers");
		used += (size_t)w;
	}
	if (n == 0)
		return conf_error(ctx, s, "empty list");
	free(ctx->c->resolvers);
	ctx->c->resolvers = strdup(csv);
	return ctx->c->resolvers ? GSLB_OK : conf_nomem(ctx);
}

/* directory: relative to the config file's folder, wherever gslbd runs. */
static int parse_directory(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	const char *d = config_setting_get_string(s);

	if (d[0] == '\0')
		return conf_error(ctx, s, "empty directory name");
	free(c->directory);
	c->directory = conf_path_join(ctx->confdir, d);
	return c->directory ? GSLB_OK : conf_nomem(ctx);
}

/* user = "gslb"; group = "gslb"; looked up now, so that -t and a reload
 * say at once that a name does not exist on this machine. */
static int parse_user(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	int rc;

	if (c->user[0] == '\0')
		return conf_error(ctx, s, "empty user name");
	rc = privs_lookup_user(c->user, &c->uid, &c->gid);
	if (rc == GSLB_ENOENT)
		return conf_error(ctx, s, "no such user \"%s\"", c->user);
	if (rc)
		return conf_error(ctx, s, "cannot look up user \"%s\": %s", c->user,
				  rc == GSLB_ESYS ? strerror(errno) : gslb_strerror(rc));
	return GSLB_OK;
}

static int parse_group(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	int rc;

	if (c->user == NULL)
		return conf_error(ctx, s, "group needs user: set both to drop privileges");
	if (c->group[0] == '\0')
		return conf_error(ctx, s, "empty group name");
	rc = privs_lookup_group(c->group, &c->gid);
	if (rc == GSLB_ENOENT)
		return conf_error(ctx, s, "no such group \"%s\"", c->group);
	if (rc)
		return conf_error(ctx, s, "cannot look up group \"%s\": %s", c->group,
				  rc == GSLB_ESYS ? strerror(errno) : gslb_strerror(rc));
	return GSLB_OK;
}

/* The admin bearer token: the first line of a file only the daemon's user
 * should read. Short tokens are refused: they would be guessable. */
/* The admin bearer token: the first line of a file only the daemon's user
 * should read. Short tokens are refused: they would be guessable. */
static int parse_token_file(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)base;
	const char *v = NULL;
	char line[512];
	int rc = conf_get_string(ctx, s, &v);
	if (rc)
		return rc;
	char *path = conf_path_join(ctx->c->directory, v);
	if (!path)
		return conf_nomem(ctx);
	FILE *fp = fopen(path, "r");
	if (!fp) {
		rc = conf_error(ctx, s, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 0077))
		log_warn("admin token file can be read by others file=%s mode=%03o", path,
			 (unsigned)(st.st_mode & 0777));
	if (!fgets(line, sizeof(line), fp))
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) < 16) {
		rc = conf_error(ctx, s, "%s: the token must be at least 16 characters", path);
		free(path);
		return rc;
	}
	free(path);
	free(ctx->c->admin_token);
	ctx->c->admin_token = strdup(line);
	explicit_bzero(line, sizeof(line));
	return ctx->c->admin_token ? GSLB_OK : conf_nomem(ctx);
}

/* admin_hosts = [ "gslb-admin.example.net" ]: the names the admin listener
 * answers as Host, besides addresses and localhost (DNS rebinding). */
static int parse_admin_hosts(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	(void)base;
	struct conf *c = ctx->c;
	uint8_t wire[DNAME_MAXLEN];

	if (!conf_is_list(s))
		return conf_error(ctx, s,
				  "expected a list of host names "
				  "[ \"gslb-admin.example.net\" ]");
	int n = config_setting_length(s);
	for (size_t i = 0; i < c->nadmin_hosts; i++)
		free(c->admin_hosts[i]);
	free(c->admin_hosts);
	c->nadmin_hosts = 0;
	c->admin_hosts = calloc(n ? (size_t)n : 1, sizeof(*c->admin_hosts));
	if (!c->admin_hosts)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		char name[DNAME_MAXLEN];
		int rc = conf_get_string(ctx, e, &v);
		if (rc)
			return rc;
		size_t len = strlen(v);
		if (len > 1 && v[len - 1] == '.')
			len--;
		int ok = len > 0 && len < sizeof(name);
		for (size_t k = 0; ok && k < len; k++) {
			char ch = (char)tolower((unsigned char)v[k]);
			ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			     ch == '.' || ch == '_';
			name[k] = ch;
		}
		if (ok) {
			name[len] = '\0';
			ok = dname_from_str(name, wire) > 0;
		}
		if (!ok)
			return conf_error(ctx, e, "\"%s\" is not a host name", v);
		c->admin_hosts[i] = strdup(name);
		if (!c->admin_hosts[i])
			return conf_nomem(ctx);
		c->nadmin_hosts++;
	}
	return GSLB_OK;
}

static int parse_state_dir(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	char why[PATH_MAX + 256];

	if (config_setting_get_string(s)[0] == '\0')
		return conf_error(ctx, s, "empty directory name");
	free(c->state_dir);
	c->state_dir = conf_path_join(c->directory, config_setting_get_string(s));
	if (!c->state_dir)
		return conf_nomem(ctx);
	/* Checked against who the daemon runs as: the user it switches to,
	 * else whoever runs this load. */
	if (statefile_check_dir(c->state_dir, c->user ? c->uid : geteuid(),
				c->user ? c->gid : getegid(), why, sizeof(why)))
		return conf_error(ctx, s, "%s", why);
	return GSLB_OK;
}

static int parse_trusted_proxies(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	return conf_parse_cidr_list(ctx, s, &c->trusted_proxies);
}

static int root_finish(struct conf_ctx *ctx, const config_setting_t *root, void *base)
{
	struct conf *c = base;

	if (c->admin_require_token && !c->admin_token)
		return conf_error(ctx, root, "admin_require_token needs admin_token_file");
	if (c->workers == 0)
		c->workers = cpu_count();
	return GSLB_OK;
}

/* ---- zones ------------------------------------------------------------------ */

static int zone_init(struct conf_ctx *ctx, const config_setting_t *e, void *base)
{
	struct conf_zone *z = base;

	z->line = config_setting_source_line(e);
	z->conf_file = conf_keep(ctx, conf_setting_file(ctx, e));
	return z->conf_file ? GSLB_OK : conf_nomem(ctx);
}

static const struct conf_item zone_items[] = {
	{ .name = "origin",
	  .type = CONF_DNAME,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct conf_zone, origin),
	  .hint = "origin = \"example.com\";" },
	{ .name = "file",
	  .type = CONF_PATH,
	  .flags = CONF_REQUIRED | CONF_NONEMPTY,
	  CONF_AT(struct conf_zone, file),
	  .hint = "file = \"zones/example.com.zone\";" },
	{ .name = "dnssec",
	  .type = CONF_GROUP,
	  .flags = CONF_LATE | CONF_OFF_UNLESS_SET,
	  CONF_AT(struct conf_zone, dnssec),
	  .sub = &conf_sec_dnssec,
	  .doc_default = "off" },
	{ .name = "transfer",
	  .type = CONF_GROUP,
	  .flags = CONF_LATE | CONF_OFF_UNLESS_SET,
	  CONF_AT(struct conf_zone, transfer),
	  .sub = &conf_sec_transfer,
	  .doc_default = "off (AXFR and IXFR refused)" },
	{ NULL },
};

const struct conf_section conf_sec_zone = {
	.path = "zones",
	.example = "{ origin = \"...\"; file = \"...\"; }",
	.items = zone_items,
	.init = zone_init,
};

/* One zone per origin. */
static int zone_each(struct conf_ctx *ctx, const config_setting_t *e, void *arr, size_t i)
{
	const struct conf_zone *zones = arr;
	uint8_t wire[DNAME_MAXLEN], other[DNAME_MAXLEN];
	size_t len = dname_from_str(zones[i].origin, wire);
	struct conf_zone *z = (struct conf_zone *)arr + i;
	if (z->dnssec.enabled && !ctx->admin_only) {
		int rc = conf_dnssec_load_keys(ctx, e, z->origin, &z->dnssec);
		if (rc)
			return rc;
	}
	if (z->dnssec.enabled && z->transfer.enabled)
		return conf_error(ctx, config_setting_get_member(e, "transfer"),
				  "a zone with dnssec cannot be transferred yet: the SOA "
				  "serial sent to secondaries would not match its signature");

	for (size_t j = 0; j < i; j++) {
		if (dname_from_str(zones[j].origin, other) == len &&
		    memcmp(other, wire, len) == 0) {
			const config_setting_t *prev =
				config_setting_get_elem(config_setting_parent(e), (unsigned)j);
			return conf_error(ctx, config_setting_get_member(e, "origin"),
					  "zone \"%s\" is already defined at %s:%d",
					  zones[i].origin, conf_setting_file(ctx, prev),
					  config_setting_source_line(prev));
		}
	}
	return GSLB_OK;
}

static int parse_zones(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	void *arr = NULL;
	int rc = conf_parse_list(ctx, s, &conf_sec_zone, sizeof(struct conf_zone), 0, &arr,
				 &c->nzones, zone_each);

	c->zones = arr;
	return rc;
}

/* ---- log ---------------------------------------------------------------------- */

static int log_level(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	const char *v = config_setting_get_string(s);

	if (log_level_parse(v, &c->log.level) != GSLB_OK)
		return conf_error(ctx, s, "unknown level \"%s\" (error, warning, info, debug)", v);
	return GSLB_OK;
}

static int log_facility(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct conf *c = base;
	const char *v = config_setting_get_string(s);

	if (log_facility_parse(v, &c->log.facility) != GSLB_OK)
		return conf_error(ctx, s, "unknown facility \"%s\" (daemon, user, local0..local7)",
				  v);
	return GSLB_OK;
}

static const struct conf_item log_items[] = {
	{ .name = "level",
	  .type = CONF_ENUM,
	  CONF_AT(struct conf, log.level),
	  .i = { .dflt = LOG_LVL_INFO },
	  .fn = log_level,
	  .doc_type = "`error`, `warning`, `info` or `debug`",
	  .doc_default = "`info`" },
	{ .name = "syslog",
	  .type = CONF_BOOL,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, log.to_syslog) },
	{ .name = "facility",
	  .type = CONF_ENUM,
	  .flags = CONF_RESTART,
	  CONF_AT(struct conf, log.facility),
	  .i = { .dflt = LOG_DAEMON },
	  .fn = log_facility,
	  .doc_type = "`daemon`, `user`, `local0` .. `local7`",
	  .doc_default = "`daemon`" },
	{ NULL },
};

const struct conf_section conf_sec_log = {
	.path = "log",
	.example = "{ level = \"info\"; ... }",
	.items = log_items,
};

/* ---- the root table ------------------------------------------------------------ */

/* Keys are taken in file order, CONF_LATE ones afterwards in this order:
 * user before group, before the files and state_dir they own; zones and
 * everything with a path after `directory`; regions and checks before the
 * services that name them. */
static const struct conf_item root_items[] = {
	{ .name = "directory",
	  .type = CONF_STRING,
	  .fn = parse_directory,
	  .doc_default = "the config file's folder" },
	{ .name = "listen",
	  .type = CONF_GROUP,
	  .flags = CONF_REQUIRED,
	  .sub = &conf_sec_listen,
	  .hint = "say where to serve DNS, e.g. listen: { dns = [ \"127.0.0.1:53\" ]; };" },
	{ .name = "workers",
	  .type = CONF_INT,
	  CONF_AT(struct conf, workers),
	  .i = { 0, CONF_MAX_WORKERS, 0 },
	  .doc_default = "0 (one per CPU)" },
	{ .name = "user",
	  .type = CONF_STRING,
	  .flags = CONF_LATE | CONF_RESTART,
	  CONF_AT(struct conf, user),
	  .maxlen = 256,
	  .fn = parse_user,
	  .doc_default = "none (stay as started)" },
	{ .name = "group",
	  .type = CONF_STRING,
	  .flags = CONF_LATE | CONF_RESTART,
	  CONF_AT(struct conf, group),
	  .maxlen = 256,
	  .fn = parse_group,
	  .doc_default = "the user's primary group" },
	{ .name = "log", .type = CONF_GROUP, .sub = &conf_sec_log },
	{ .name = "tsig",
	  .type = CONF_GROUPS,
	  .flags = CONF_ANY_TYPE,
	  .fn = conf_parse_tsig,
	  .sub = &conf_sec_tsig,
	  .doc_default = "none" },
	{ .name = "zones",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = parse_zones,
	  .sub = &conf_sec_zone },
	{ .name = "edns_size",
	  .type = CONF_INT,
	  CONF_AT(struct conf, edns_size),
	  .i = { 512, 4096, 1232 },
	  .unit = "bytes" },
	{ .name = "nsid",
	  .type = CONF_STRING,
	  .fn = parse_nsid,
	  .doc_type = "string, `\"hex:...\"` for bytes",
	  .doc_default = "off" },
	{ .name = "identity",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, identity),
	  .maxlen = CONF_MAX_TXT,
	  .doc_default = "off" },
	{ .name = "version",
	  .type = CONF_STRING,
	  CONF_AT(struct conf, version),
	  .maxlen = CONF_MAX_TXT,
	  .doc_default = "off" },
	{ .name = "tcp", .type = CONF_GROUP, .sub = &conf_sec_tcp },
	{ .name = "rrl",
	  .type = CONF_GROUP,
	  .flags = CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_rrl,
	  .doc_default = "off" },
	{ .name = "dnstap",
	  .type = CONF_GROUP,
	  .flags = CONF_LATE | CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_dnstap,
	  .doc_default = "off" },
	{ .name = "geoip",
	  .type = CONF_GROUP,
	  .flags = CONF_LATE | CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_geoip,
	  .doc_default = "none" },
	{ .name = "regions",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = conf_parse_regions,
	  .sub = &conf_sec_region },
	{ .name = "acl",
	  .type = CONF_GROUP,
	  .flags = CONF_LATE | CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_acl,
	  .doc_default = "off" },
	{ .name = "trusted_proxies",
	  .type = CONF_NETS,
	  .fn = parse_trusted_proxies,
	  .expect = "a list of networks [ \"127.0.0.1/32\" ]" },
	{ .name = "http", .type = CONF_GROUP, .flags = CONF_LATE, .sub = &conf_sec_http },
	{ .name = "admin_token_file",
	  .type = CONF_STRING,
	  .fn = parse_token_file,
	  .doc_type = "file name",
	  .doc_default = "off" },
	{ .name = "admin_require_token",
	  .type = CONF_BOOL,
	  CONF_AT(struct conf, admin_require_token) },
	{ .name = "admin_hosts",
	  .type = CONF_STRINGS,
	  .fn = parse_admin_hosts,
	  .expect = "a list of host names [ \"gslb-admin.example.net\" ]",
	  .doc_type = "list of host names" },
	{ .name = "checks",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = conf_parse_checks,
	  .sub = &conf_sec_check },
	{ .name = "state_dir",
	  .type = CONF_STRING,
	  .flags = CONF_LATE | CONF_RESTART,
	  .fn = parse_state_dir,
	  .doc_type = "folder name",
	  .doc_default = "off" },
	{ .name = "services",
	  .type = CONF_GROUPS,
	  .flags = CONF_LATE | CONF_ANY_TYPE,
	  .fn = conf_parse_services,
	  .sub = &conf_sec_service },
	{ .name = "resolvers",
	  .type = CONF_STRINGS,
	  .fn = parse_resolvers,
	  .expect = "a list of addresses [ \"127.0.0.1:53\" ]",
	  .doc_default = "the system's",
	  .doc_type = "list of addresses" },
	{ .name = "cluster",
	  .type = CONF_GROUP,
	  .flags = CONF_OFF_UNLESS_SET,
	  .sub = &conf_sec_cluster,
	  .doc_default = "off (one node alone)" },
	{ .name = "probe_max_inflight",
	  .type = CONF_INT,
	  CONF_AT(struct conf, probe_max_inflight),
	  .i = { 0, CONF_MAX_PROBE_INFLIGHT, 0 },
	  .doc_default = "0 (from the descriptor limit)" },
	{ .name = "notify",
	  .type = CONF_GROUPS,
	  .flags = CONF_ANY_TYPE,
	  .fn = conf_parse_notify,
	  .sub = &conf_sec_notify,
	  .doc_default = "none" },
	{ NULL },
};

const struct conf_section conf_sec_root = {
	.path = "top",
	.example = "{ }",
	.items = root_items,
	.finish = root_finish,
};

/* ---- load and free --------------------------------------------------------- */

/* Directory part of path ("." when there is none). Caller frees. */
static char *path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	d = strndup(path, (size_t)(slash - path));
	return d;
}

static int load(const char *path, int admin_only, struct conf **out, char *err, size_t errlen)
{
	struct conf_ctx ctx = {
		.path = path, .err = err, .errlen = errlen, .admin_only = admin_only
	};
	config_t cfg;
	char *confdir = NULL;
	struct conf *c = NULL;
	int rc = GSLB_OK;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	config_init(&cfg);
	c = calloc(1, sizeof(*c));
	confdir = path_dir(path);
	if (c == NULL || confdir == NULL) {
		rc = conf_nomem(&ctx);
		goto out;
	}
	ctx.c = c;
	ctx.confdir = confdir;
	c->path = strdup(path);
	c->directory = strdup(confdir);
	if (c->path == NULL || c->directory == NULL) {
		rc = conf_nomem(&ctx);
		goto out;
	}
	/* @include "pools/x.conf" is relative to the config file, wherever
	 * the daemon was started from. */
	config_set_include_dir(&cfg, confdir);
	ctx.incdir = confdir;
	rc = conf_check_includes(path, confdir, 0, err, errlen);
	if (rc)
		goto out;
	errno = 0;
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 errno ? strerror(errno) : "I/O error");
			rc = GSLB_EIO;
		} else {
			snprintf(err, errlen, "%s:%d: %s",
				 conf_shown_file(&ctx, config_error_file(&cfg)),
				 config_error_line(&cfg), config_error_text(&cfg));
			rc = GSLB_EPARSE;
		}
		goto out;
	}
	rc = conf_parse_group(&ctx, config_root_setting(&cfg), &conf_sec_root, c);
	if (rc)
		goto out;
	*out = c;
	c = NULL;
out:
	conf_free(c);
	free(confdir);
	config_destroy(&cfg);
	return rc;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	return load(path, 0, out, err, errlen);
}

int conf_load_admin(const char *path, struct conf **out, char *err, size_t errlen)
{
	return load(path, 1, out, err, errlen);
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ndns; i++)
		free(c->dns[i].text);
	free(c->dns);
	for (size_t i = 0; i < c->nzones; i++) {
		conf_release(&conf_sec_zone, &c->zones[i]);
		conf_dnssec_free(&c->zones[i].dnssec);
		conf_transfer_free(&c->zones[i].transfer);
	}
	free(c->zones);
	conf_free_tsig(c);
	conf_free_services(c);
	conf_free_checks(c);
	conf_release(&conf_sec_cluster, c);
	conf_free_cluster(c);
	conf_free_notify(c);
	free(c->state_dir);
	free(c->resolvers);
	if (c->admin)
		free(c->admin->text);
	free(c->admin);
	for (size_t i = 0; i < c->nhttp; i++) {
		free(c->http[i].l.text);
		for (size_t k = 0; k < c->http[i].ncerts; k++)
			conf_release(&conf_sec_sni, &c->http[i].certs[k]);
		free(c->http[i].certs);
	}
	free(c->http);
	net_set_free(c->trusted_proxies);
	net_set_free(c->explain_from);
	net_set_free(c->rrl.exempt);
	net_set_free(c->acl_allow);
	net_set_free(c->acl_deny);
	for (size_t i = 0; i < c->nadmin_hosts; i++)
		free(c->admin_hosts[i]);
	free(c->admin_hosts);
	if (c->admin_token) {
		explicit_bzero(c->admin_token, strlen(c->admin_token));
		free(c->admin_token);
	}
	for (size_t i = 0; i < c->nstrings; i++)
		free(c->strings[i]);
	free(c->strings);
	free(c->nsid);
	/* identity, version, user, group, the geoip and acl file names */
	conf_release(&conf_sec_root, c);
	free(c->directory);
	free(c->path);
	free(c);
}
