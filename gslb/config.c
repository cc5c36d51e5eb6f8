/* gslb.conf: read with libconfig, checked key by key and turned into a plain
 * struct conf that nothing modifies afterwards. Every complaint names the
 * file and line of the setting at fault, because an operator reading
 * "invalid value" without a location has to bisect the file by hand. Keys
 * that later releases will use are accepted now, so that one config can
 * follow the project through upgrades. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "gslb/config.h"
#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/privs.h"
#include "gslb/statefile.h"

#define CONF_DEFAULT_EDNS_SIZE 1232
#define CONF_MIN_EDNS_SIZE 512
#define CONF_MAX_EDNS_SIZE 4096
#define CONF_MAX_WORKERS 1024
#define CONF_DEFAULT_TCP_IDLE 10.0
#define CONF_MAX_TCP_IDLE 3600.0
#define CONF_DEFAULT_TCP_MAXCONN 1024
/* Each TCP connection holds two 64 KiB buffers: this bounds the memory a
 * configuration can commit to TCP at 8 GiB. */
#define CONF_MAX_TCP_MAXCONN 65536
/* An NSID is an opaque identifier; a few hundred bytes is already generous
 * and keeps it from crowding answers out of a 512-byte response. */
#define CONF_MAX_NSID 128
/* identity and version are answered as one TXT character-string. */
#define CONF_MAX_TXT 255
/* Each probe in flight holds a socket; more than this is never needed. */
#define CONF_MAX_PROBE_INFLIGHT 65536

/* What a load is working on: where errors go and what is being built. */
struct conf_ctx {
	const char *path;
	char *err;
	size_t errlen;
	struct conf *c;
	const char *incdir; /* where @include names are relative to */
	char shown[PATH_MAX];
};

static int name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(name, list[i]) == 0)
			return 1;
	}
	return 0;
}

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
static const char *shown_file(struct conf_ctx *ctx, const char *f)
{
	if (f == NULL)
		return ctx->path;
	if (f[0] == '/' || strcmp(f, ctx->path) == 0 || ctx->incdir == NULL ||
	    strcmp(ctx->incdir, ".") == 0)
		return f;
	snprintf(ctx->shown, sizeof(ctx->shown), "%s/%s", ctx->incdir, f);
	return ctx->shown;
}

static const char *setting_file(struct conf_ctx *ctx, const config_setting_t *s)
{
	return shown_file(ctx, config_setting_source_file(s));
}

/* Write "file:line: name: message" and return GSLB_EINVAL, so that callers
 * can say `return conf_error(...)`. */
static int conf_error(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int conf_error(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char name[256];
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	setting_path(s, name, sizeof(name));
	if (name[0])
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s: %s", setting_file(ctx, s),
			 config_setting_source_line(s), name, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", setting_file(ctx, s),
			 config_setting_source_line(s), msg);
	return GSLB_EINVAL;
}

/* Each group's keys: the parser takes a setting only when its name is in
 * its group's table (conf_key, before the group's handlers), and the
 * message for any other lists the whole table, so the two cannot differ.
 * A new key goes into its table and gets a handler. */
#define CONF_KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* GSLB_OK when k's name is one of keys; else "unknown setting" with the
 * list of them. */
static int conf_key(struct conf_ctx *ctx, const config_setting_t *k, const char *const *keys)
{
	char list[768];
	size_t used = 0;
	const char *name = config_setting_name(k);

	for (size_t i = 0; keys[i]; i++)
		if (name && strcmp(name, keys[i]) == 0)
			return GSLB_OK;
	list[0] = '\0';
	for (size_t i = 0; keys[i] && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", keys[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return conf_error(ctx, k, "unknown setting (valid keys: %s)", list);
}

/* A key in its group's table that no handler took: a bug, never a silent
 * accept. */
static int conf_unhandled(struct conf_ctx *ctx, const config_setting_t *k)
{
	return conf_error(ctx, k, "internal error: a known setting without a handler");
}

static int conf_nomem(struct conf_ctx *ctx)
{
	snprintf(ctx->err, ctx->errlen, "%s: out of memory", ctx->path);
	return GSLB_ENOMEM;
}

static const char *type_name(int type)
{
	switch (type) {
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

static int get_int(struct conf_ctx *ctx, const config_setting_t *s, long long min, long long max,
		   long long *out)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return conf_error(ctx, s, "expected an integer, not %s",
				  type_name(config_setting_type(s)));
	if (v < min || v > max)
		return conf_error(ctx, s, "%lld is out of range (%lld to %lld)", v, min, max);
	*out = v;
	return GSLB_OK;
}

static int get_double(struct conf_ctx *ctx, const config_setting_t *s, double min, double max,
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
		return conf_error(ctx, s, "expected a number, not %s",
				  type_name(config_setting_type(s)));
	}
	/* Written so that NaN fails too. */
	if (!(v > min && v <= max))
		return conf_error(ctx, s, "%g is out of range (more than %g, at most %g)", v, min,
				  max);
	*out = v;
	return GSLB_OK;
}

static int get_string(struct conf_ctx *ctx, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_error(ctx, s, "expected a string, not %s",
				  type_name(config_setting_type(s)));
	*out = config_setting_get_string(s);
	return GSLB_OK;
}

static int dup_string(struct conf_ctx *ctx, const config_setting_t *s, size_t maxlen, char **out)
{
	const char *v = NULL;
	int rc;

	rc = get_string(ctx, s, &v);
	if (rc)
		return rc;
	if (strlen(v) > maxlen)
		return conf_error(ctx, s, "longer than %zu bytes", maxlen);
	free(*out);
	*out = strdup(v);
	if (*out == NULL)
		return conf_nomem(ctx);
	return GSLB_OK;
}

/* Keep a copy of a string for as long as the conf lives (file names that
 * conf_zone.conf_file points to outlive the libconfig tree). */
static const char *conf_keep(struct conf_ctx *ctx, const char *s)
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

/* base + "/" + rel, or rel alone when it is absolute or base is "."
 * (keeps messages short for the common case of a config in the cwd).
 * Caller frees. */
static char *path_join(const char *base, const char *rel)
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

static int same_addr(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

static int parse_listen_dns(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = config_setting_length(s);
	} else {
		return conf_error(ctx, s, "expected an array of \"address:port\" strings, not %s",
				  type_name(config_setting_type(s)));
	}
	if (n == 0)
		return conf_error(ctx, s, "no address to listen on");
	c->dns = calloc((size_t)n, sizeof(*c->dns));
	if (c->dns == NULL)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_type(s) == CONFIG_TYPE_STRING ?
						    s :
						    config_setting_get_elem(s, (unsigned)i);
		struct conf_listen *l = &c->dns[c->ndns];
		const char *text = NULL;
		int rc;

		rc = get_string(ctx, e, &text);
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

static int parse_listen_http(struct conf_ctx *ctx, const config_setting_t *s);

static int parse_listen(struct conf_ctx *ctx, const config_setting_t *s)
{
	const config_setting_t *http_listen = NULL;
	int n, rc;

	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { dns = [ ... ]; }, not %s",
				  type_name(config_setting_type(s)));
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e);

		rc = conf_key(ctx, e, CONF_KEYS("dns", "admin", "http"));
		if (rc)
			return rc;
		if (strcmp(name, "dns") == 0) {
			rc = parse_listen_dns(ctx, e);
			if (rc)
				return rc;
		} else if (strcmp(name, "admin") == 0) {
			const char *av = NULL;
			rc = get_string(ctx, e, &av);
			if (rc)
				return rc;
			if (av[0] == '\0')
				continue; /* "" turns the admin listener off */
			ctx->c->admin = calloc(1, sizeof(*ctx->c->admin));
			if (!ctx->c->admin)
				return conf_nomem(ctx);
			ctx->c->admin->text = strdup(av);
			if (!ctx->c->admin->text)
				return conf_nomem(ctx);
			if (conf_parse_hostport(av, 8053, &ctx->c->admin->addr,
						&ctx->c->admin->addr_len))
				return conf_error(ctx, e,
						  "\"%s\" is not an address (\"127.0.0.1:8053\")",
						  av);
		} else if (strcmp(name, "http") == 0) {
			http_listen = e;
		} else {
			return conf_unhandled(ctx, e);
		}
	}
	if (ctx->c->ndns == 0)
		return conf_error(ctx, s, "no dns = [ \"address:port\", ... ]; to listen on");
	if (http_listen) {
		rc = parse_listen_http(ctx, http_listen);
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

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

static int parse_nsid(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	const char *v = NULL;
	size_t n;
	int rc;

	rc = get_string(ctx, s, &v);
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

/* ipv4_prefix (8..32) or ipv6_prefix (16..128) of a per-network limit,
 * as rrl's: the client network max_per_ip counts. */
static int get_client_prefix(struct conf_ctx *ctx, const config_setting_t *e, unsigned *v4,
			     unsigned *v6)
{
	int is_v4 = strcmp(config_setting_name(e), "ipv4_prefix") == 0;
	long long v;
	int rc = get_int(ctx, e, is_v4 ? 8 : 16, is_v4 ? 32 : 128, &v);

	if (!rc)
		*(is_v4 ? v4 : v6) = (unsigned)v;
	return rc;
}

static int parse_tcp(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	long long v;
	int n, rc;

	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { idle_timeout = 10.0; ... }, not %s",
				  type_name(config_setting_type(s)));
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e);

		rc = conf_key(ctx, e,
			      CONF_KEYS("idle_timeout", "max_connections", "max_queries",
					"max_per_ip", "ipv4_prefix", "ipv6_prefix",
					"max_lifetime"));
		if (rc)
			return rc;
		if (strcmp(name, "idle_timeout") == 0) {
			rc = get_double(ctx, e, 0.0, CONF_MAX_TCP_IDLE, &c->tcp_idle_timeout);
		} else if (strcmp(name, "max_connections") == 0) {
			rc = get_int(ctx, e, 1, CONF_MAX_TCP_MAXCONN, &v);
			if (!rc)
				c->tcp_max_connections = (unsigned)v;
		} else if (strcmp(name, "max_queries") == 0) {
			rc = get_int(ctx, e, 0, UINT_MAX, &v);
			if (!rc)
				c->tcp_max_queries = (unsigned)v;
		} else if (strcmp(name, "max_per_ip") == 0) {
			rc = get_int(ctx, e, 0, CONF_MAX_TCP_MAXCONN, &v);
			if (!rc)
				c->tcp_max_per_ip = (unsigned)v;
		} else if (strcmp(name, "max_lifetime") == 0) {
			rc = get_double(ctx, e, -0.0000001, 86400, &c->tcp_max_lifetime);
		} else if (strcmp(name, "ipv4_prefix") == 0 || strcmp(name, "ipv6_prefix") == 0) {
			rc = get_client_prefix(ctx, e, &c->tcp_ipv4_prefix, &c->tcp_ipv6_prefix);
		} else {
			rc = conf_unhandled(ctx, e);
		}
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

/* Zones need the final `directory`, so they are parsed after the loop over
 * the top-level keys. */
static int parse_zones(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	uint8_t(*wire)[DNAME_MAXLEN] = NULL;
	size_t *wlen = NULL;
	int n, rc = GSLB_OK;

	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return conf_error(
			ctx, s, "expected a list ( { origin = \"...\"; file = \"...\"; } ), not %s",
			type_name(config_setting_type(s)));
	n = config_setting_length(s);
	if (n == 0)
		return GSLB_OK;
	c->zones = calloc((size_t)n, sizeof(*c->zones));
	wire = calloc((size_t)n, sizeof(*wire));
	wlen = calloc((size_t)n, sizeof(*wlen));
	if (c->zones == NULL || wire == NULL || wlen == NULL) {
		rc = conf_nomem(ctx);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct conf_zone *z = &c->zones[c->nzones];
		const config_setting_t *origin = NULL, *file = NULL;
		const char *ov = NULL, *fv = NULL;
		int m;

		if (!config_setting_is_group(e)) {
			rc = conf_error(ctx, e,
					"expected a group { origin = \"...\"; file = \"...\"; }, "
					"not %s",
					type_name(config_setting_type(e)));
			goto out;
		}
		m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
			const char *name = config_setting_name(k);
			rc = conf_key(ctx, k, CONF_KEYS("origin", "file"));
			if (rc)
				goto out;
			if (strcmp(name, "origin") == 0) {
				origin = k;
			} else if (strcmp(name, "file") == 0) {
				file = k;
			} else {
				rc = conf_unhandled(ctx, k);
				goto out;
			}
		}
		if (origin == NULL) {
			rc = conf_error(ctx, e, "no origin given (origin = \"example.com\";)");
			goto out;
		}
		if (file == NULL) {
			rc = conf_error(ctx, e,
					"no file given (file = \"zones/example.com.zone\";)");
			goto out;
		}
		rc = get_string(ctx, origin, &ov);
		if (rc)
			goto out;
		rc = get_string(ctx, file, &fv);
		if (rc)
			goto out;
		wlen[i] = dname_from_str(ov, wire[i]);
		if (wlen[i] == 0) {
			rc = conf_error(ctx, origin, "\"%s\" is not a valid domain name", ov);
			goto out;
		}
		for (int j = 0; j < i; j++) {
			if (wlen[j] == wlen[i] && memcmp(wire[j], wire[i], wlen[i]) == 0) {
				const config_setting_t *prev =
					config_setting_get_elem(s, (unsigned)j);
				rc = conf_error(
					ctx, origin, "zone \"%s\" is already defined at %s:%d", ov,
					setting_file(ctx, prev), config_setting_source_line(prev));
				goto out;
			}
		}
		if (fv[0] == '\0') {
			rc = conf_error(ctx, file, "empty file name");
			goto out;
		}
		z->origin = strdup(ov);
		z->file = path_join(c->directory, fv);
		z->conf_file = conf_keep(ctx, setting_file(ctx, e));
		z->line = config_setting_source_line(e);
		c->nzones++;
		if (z->origin == NULL || z->file == NULL || z->conf_file == NULL) {
			rc = conf_nomem(ctx);
			goto out;
		}
	}
out:
	free(wire);
	free(wlen);
	return rc;
}

/* ---- geo balancing: geoip, regions, services ------------------------- */

#define CONF_MAX_NAME 63
#define CONF_DEFAULT_SVC_TTL 30
#define CONF_MAX_SVC_TTL 86400
#define CONF_DEFAULT_ANSWERS 8
#define CONF_MAX_ANSWERS 64
/* A pool's members are picked from a fixed array on the query path. */
#define CONF_MAX_MEMBERS_PER_FAMILY 256

static int region_index(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int valid_label_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CONF_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || (ch >= 'A' && ch <= 'Z')))
			return 0;
	}
	return 1;
}

static int parse_geoip(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	struct geo_conf *g = &c->geoip;
	int rc;

	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { database = \"...\"; }, not %s",
				  type_name(config_setting_type(s)));
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(k);
		const char *v = NULL;
		rc = conf_key(ctx, k, CONF_KEYS("database", "overrides", "paths", "compact"));
		if (rc)
			return rc;
		if (strcmp(name, "database") == 0 || strcmp(name, "overrides") == 0) {
			rc = get_string(ctx, k, &v);
			if (rc)
				return rc;
			if (v[0] == '\0')
				return conf_error(ctx, k, "empty file name");
			char *p = path_join(c->directory, v);
			if (!p)
				return conf_nomem(ctx);
			if (name[0] == 'd') {
				free(g->database);
				g->database = p;
			} else {
				free(g->overrides);
				g->overrides = p;
			}
		} else if (strcmp(name, "paths") == 0) {
			if (!config_setting_is_group(k))
				return conf_error(
					ctx, k,
					"expected a group { country = \"country/iso_code\"; "
					"... }");
			int m = config_setting_length(k);
			for (int j = 0; j < m; j++) {
				const config_setting_t *e = config_setting_get_elem(k, (unsigned)j);
				const char *pn = config_setting_name(e);
				char **dst = NULL;
				rc = conf_key(ctx, e,
					      CONF_KEYS("country", "continent", "subdivision",
							"latitude", "longitude"));
				if (rc)
					return rc;
				if (strcmp(pn, "country") == 0)
					dst = &g->path_country;
				else if (strcmp(pn, "continent") == 0)
					dst = &g->path_continent;
				else if (strcmp(pn, "subdivision") == 0)
					dst = &g->path_subdivision;
				else if (strcmp(pn, "latitude") == 0)
					dst = &g->path_latitude;
				else if (strcmp(pn, "longitude") == 0)
					dst = &g->path_longitude;
				else
					return conf_unhandled(ctx, e);
				rc = dup_string(ctx, e, 255, dst);
				if (rc)
					return rc;
			}
		} else if (strcmp(name, "compact") == 0) {
			if (config_setting_type(k) != CONFIG_TYPE_BOOL)
				return conf_error(ctx, k, "expected true or false, not %s",
						  type_name(config_setting_type(k)));
			c->geoip_compact = config_setting_get_bool(k);
		} else {
			return conf_unhandled(ctx, k);
		}
	}
	if (!g->database && !g->overrides)
		return conf_error(ctx, s, "give a database (database = \"geoip/x.mmdb\";)");
	c->has_geoip = 1;
	return GSLB_OK;
}

static int parse_regions(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	int rc;

	if (!config_setting_is_list(s))
		return conf_error(ctx, s,
				  "expected a list ( { name = \"eu-east\"; lat = 52.2; lon = 21.0; "
				  "}, ... )");
	int n = config_setting_length(s);
	if (n > GSLB_MAX_REGIONS)
		return conf_error(ctx, s, "%d regions, at most %d are supported", n,
				  GSLB_MAX_REGIONS);
	c->regions = calloc(n ? (size_t)n : 1, sizeof(*c->regions));
	if (!c->regions)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct region *r = &c->regions[c->nregions];
		int have_lat = 0, have_lon = 0;
		if (!config_setting_is_group(e))
			return conf_error(ctx, e, "expected a group { name; lat; lon; }");
		r->line = config_setting_source_line(e);
		c->nregions++;
		int m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
			const char *name = config_setting_name(k);
			rc = conf_key(ctx, k, CONF_KEYS("name", "lat", "lon", "redirect"));
			if (rc)
				return rc;
			if (strcmp(name, "name") == 0) {
				rc = dup_string(ctx, k, CONF_MAX_NAME, &r->name);
				if (rc)
					return rc;
				if (!valid_label_name(r->name))
					return conf_error(
						ctx, k, "\"%s\": use letters, digits, '-' and '_'",
						r->name);
			} else if (strcmp(name, "lat") == 0) {
				rc = get_double(ctx, k, -90.0000001, 90.0, &r->lat);
				if (rc)
					return rc;
				have_lat = 1;
			} else if (strcmp(name, "lon") == 0) {
				rc = get_double(ctx, k, -180.0000001, 180.0, &r->lon);
				if (rc)
					return rc;
				have_lon = 1;
			} else if (strcmp(name, "redirect") == 0) {
				rc = dup_string(ctx, k, 1024, &r->redirect);
				if (rc)
					return rc;
			} else {
				return conf_unhandled(ctx, k);
			}
		}
		if (!r->name)
			return conf_error(ctx, e, "no name given (name = \"eu-east\";)");
		if (!have_lat || !have_lon)
			return conf_error(ctx, e, "region \"%s\" needs lat and lon", r->name);
		r->sin_lat = sin(r->lat * M_PI / 180.0);
		r->cos_lat = cos(r->lat * M_PI / 180.0);
		r->lon_rad = r->lon * M_PI / 180.0;
		for (size_t j = 0; j + 1 < c->nregions; j++)
			if (strcmp(c->regions[j].name, r->name) == 0)
				return conf_error(ctx, e,
						  "region \"%s\" is already defined at line %d",
						  r->name, c->regions[j].line);
	}
	return GSLB_OK;
}

/* An array of region names, resolved to indexes. */
static int parse_region_list(struct conf_ctx *ctx, const config_setting_t *s, unsigned **out,
			     size_t *nout)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list of region names [ \"eu-east\", ... ]");
	int n = config_setting_length(s);
	if (n == 0)
		return conf_error(ctx, s, "empty region list");
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return conf_nomem(ctx);
	*nout = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		int rc = get_string(ctx, e, &v);
		if (rc)
			return rc;
		int ri = region_index(ctx->c, v);
		if (ri < 0)
			return conf_error(ctx, e, "unknown region \"%s\"", v);
		for (size_t j = 0; j < *nout; j++)
			if ((*out)[j] == (unsigned)ri)
				return conf_error(ctx, e, "region \"%s\" is listed twice", v);
		(*out)[(*nout)++] = (unsigned)ri;
	}
	return GSLB_OK;
}

static int parse_route(struct conf_ctx *ctx, const config_setting_t *e, struct route *r)
{
	const config_setting_t *match = NULL, *regions = NULL;
	int rc;
	if (!config_setting_is_group(e))
		return conf_error(
			ctx, e, "expected a group { match = \"country:PL\"; regions = [ ... ]; }");
	r->line = config_setting_source_line(e);
	int m = config_setting_length(e);
	for (int j = 0; j < m; j++) {
		const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k, CONF_KEYS("match", "regions"));
		if (rc)
			return rc;
		if (strcmp(name, "match") == 0)
			match = k;
		else if (strcmp(name, "regions") == 0)
			regions = k;
		else
			return conf_unhandled(ctx, k);
	}
	if (!match || !regions)
		return conf_error(ctx, e, "a route needs match and regions");
	const char *mv = NULL;
	rc = get_string(ctx, match, &mv);
	if (rc)
		return rc;
	r->text = strdup(mv);
	if (!r->text)
		return conf_nomem(ctx);
	const char *colon = strchr(mv, ':');
	if (!colon)
		return conf_error(ctx, match,
				  "\"%s\": expected country:XX, continent:XX, subdivision:XX-YY "
				  "or net:CIDR",
				  mv);
	size_t kl = (size_t)(colon - mv);
	const char *val = colon + 1;
	size_t vl = strlen(val);
	if (kl == 3 && strncmp(mv, "net", 3) == 0) {
		char why[160];
		r->kind = ROUTE_NET;
		if (net_parse(val, 0, &r->net, why, sizeof(why)))
			return conf_error(ctx, match, "%s", why);
	} else {
		if (vl == 0 || vl >= sizeof(r->code))
			return conf_error(ctx, match, "\"%s\": bad code", mv);
		for (size_t i = 0; i < vl; i++) {
			char ch = val[i];
			if (ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 32);
			r->code[i] = ch;
		}
		r->code[vl] = '\0';
		if (kl == 7 && strncmp(mv, "country", 7) == 0) {
			double la, lo;
			r->kind = ROUTE_COUNTRY;
			if (vl != 2 || geo_country_centroid(r->code, &la, &lo) != 0)
				return conf_error(
					ctx, match,
					"\"%s\" is not an ISO 3166-1 alpha-2 country code", val);
		} else if (kl == 9 && strncmp(mv, "continent", 9) == 0) {
			static const char *const conts[] = { "AF", "AN", "AS", "EU",
							     "NA", "OC", "SA" };
			r->kind = ROUTE_CONTINENT;
			if (!name_in(r->code, conts, sizeof(conts) / sizeof(conts[0])))
				return conf_error(ctx, match,
						  "\"%s\" is not a continent code (AF AN AS EU NA "
						  "OC SA)",
						  val);
		} else if (kl == 11 && strncmp(mv, "subdivision", 11) == 0) {
			r->kind = ROUTE_SUBDIVISION;
			if (vl < 4 || r->code[2] != '-')
				return conf_error(
					ctx, match,
					"\"%s\": expected an ISO 3166-2 code like PL-14 or "
					"US-CA",
					val);
		} else {
			return conf_error(ctx, match,
					  "\"%s\": expected country:, continent:, subdivision: or "
					  "net:",
					  mv);
		}
	}
	return parse_region_list(ctx, regions, &r->regions, &r->nregions);
}

#define CONF_MAX_CHECKS 1024

static int check_index(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nchecks; i++)
		if (strcmp(c->checks[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int parse_check(struct conf_ctx *ctx, const config_setting_t *e, struct check *ck)
{
	const config_setting_t *type = NULL, *interval = NULL, *timeout = NULL;
	long long v;
	int rc;

	if (!config_setting_is_group(e))
		return conf_error(ctx, e,
				  "expected a group { name = \"web\"; type = \"https\"; ... }");
	ck->line = config_setting_source_line(e);
	ck->interval = 5.0;
	ck->timeout = 2.0;
	ck->rise = 2;
	ck->fall = 3;
	ck->tls_verify = 1;
	ck->qtype = 1;
	int m = config_setting_length(e);
	for (int j = 0; j < m; j++) {
		const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k,
			      CONF_KEYS("name", "type", "interval", "timeout", "rise", "fall",
					"port", "path", "host", "method", "expect_status",
					"expect_body", "headers", "follow_redirects", "tls_verify",
					"ca_file", "query", "qtype", "expect_rcode",
					"expect_answer"));
		if (rc)
			return rc;
		if (strcmp(name, "name") == 0) {
			rc = dup_string(ctx, k, CONF_MAX_NAME, &ck->name);
			if (!rc && !valid_label_name(ck->name))
				rc = conf_error(ctx, k, "\"%s\": use letters, digits, '-' and '_'",
						ck->name);
		} else if (strcmp(name, "type") == 0) {
			type = k;
			rc = GSLB_OK;
		} else if (strcmp(name, "interval") == 0) {
			interval = k;
			rc = get_double(ctx, k, 0.0999, 86400, &ck->interval);
		} else if (strcmp(name, "timeout") == 0) {
			timeout = k;
			rc = get_double(ctx, k, 0.0099, 3600, &ck->timeout);
		} else if (strcmp(name, "rise") == 0) {
			rc = get_int(ctx, k, 1, 100, &v);
			ck->rise = (unsigned)v;
		} else if (strcmp(name, "fall") == 0) {
			rc = get_int(ctx, k, 1, 100, &v);
			ck->fall = (unsigned)v;
		} else if (strcmp(name, "port") == 0) {
			rc = get_int(ctx, k, 1, 65535, &v);
			ck->port = (uint16_t)v;
		} else if (strcmp(name, "path") == 0) {
			rc = dup_string(ctx, k, 2048, &ck->path);
			if (!rc && ck->path[0] != '/')
				rc = conf_error(ctx, k, "a path starts with /");
		} else if (strcmp(name, "host") == 0) {
			rc = dup_string(ctx, k, 255, &ck->host);
		} else if (strcmp(name, "method") == 0) {
			const char *mv = NULL;
			rc = get_string(ctx, k, &mv);
			if (!rc) {
				if (strcmp(mv, "GET") == 0)
					ck->method_head = 0;
				else if (strcmp(mv, "HEAD") == 0)
					ck->method_head = 1;
				else
					rc = conf_error(ctx, k, "\"%s\": GET or HEAD", mv);
			}
		} else if (strcmp(name, "expect_status") == 0) {
			if (!config_setting_is_array(k) && !config_setting_is_list(k))
				return conf_error(ctx, k,
						  "expected a list of status codes [ 200, 204 ]");
			int n = config_setting_length(k);
			if (n == 0)
				return conf_error(ctx, k, "empty list");
			free(ck->expect_status);
			ck->expect_status = calloc((size_t)n, sizeof(unsigned));
			if (!ck->expect_status)
				return conf_nomem(ctx);
			ck->nexpect_status = 0;
			for (int i = 0; i < n; i++) {
				rc = get_int(ctx, config_setting_get_elem(k, (unsigned)i), 100, 599,
					     &v);
				if (rc)
					return rc;
				ck->expect_status[ck->nexpect_status++] = (unsigned)v;
			}
			rc = GSLB_OK;
		} else if (strcmp(name, "expect_body") == 0) {
			rc = dup_string(ctx, k, 4096, &ck->expect_body);
		} else if (strcmp(name, "headers") == 0) {
			if (!config_setting_is_array(k) && !config_setting_is_list(k))
				return conf_error(ctx, k, "expected a list [ \"Name: value\" ]");
			int n = config_setting_length(k);
			ck->headers = calloc(n ? (size_t)n : 1, sizeof(char *));
			if (!ck->headers)
				return conf_nomem(ctx);
			for (int i = 0; i < n; i++) {
				const config_setting_t *he =
					config_setting_get_elem(k, (unsigned)i);
				char *hv = NULL;
				rc = dup_string(ctx, he, 1024, &hv);
				if (rc)
					return rc;
				ck->headers[ck->nheaders++] = hv;
				if (!strchr(hv, ':') || strchr(hv, '\n') || strchr(hv, '\r'))
					return conf_error(ctx, he,
							  "\"%s\": expected \"Name: value\"", hv);
			}
		} else if (strcmp(name, "follow_redirects") == 0 ||
			   strcmp(name, "tls_verify") == 0) {
			if (config_setting_type(k) != CONFIG_TYPE_BOOL)
				return conf_error(ctx, k, "expected true or false");
			if (name[0] == 'f')
				ck->follow_redirects = config_setting_get_bool(k);
			else
				ck->tls_verify = config_setting_get_bool(k);
			rc = GSLB_OK;
		} else if (strcmp(name, "ca_file") == 0) {
			const char *cv = NULL;
			rc = get_string(ctx, k, &cv);
			if (!rc) {
				ck->ca_file = path_join(ctx->c->directory, cv);
				if (!ck->ca_file)
					rc = conf_nomem(ctx);
			}
		} else if (strcmp(name, "query") == 0) {
			rc = dup_string(ctx, k, 255, &ck->query);
			if (!rc) {
				uint8_t tmp[DNAME_MAXLEN];
				if (dname_from_str(ck->query, tmp) == 0)
					rc = conf_error(ctx, k, "\"%s\" is not a valid domain name",
							ck->query);
			}
		} else if (strcmp(name, "qtype") == 0) {
			const char *tv = NULL;
			rc = get_string(ctx, k, &tv);
			if (!rc) {
				static const struct {
					const char *n;
					uint16_t t;
				} types[] = { { "A", 1 },     { "NS", 2 },  { "CNAME", 5 },
					      { "SOA", 6 },   { "MX", 15 }, { "TXT", 16 },
					      { "AAAA", 28 }, { "SRV", 33 } };
				ck->qtype = 0;
				for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
					if (strcasecmp(tv, types[i].n) == 0)
						ck->qtype = types[i].t;
				if (!ck->qtype)
					rc = conf_error(
						ctx, k,
						"\"%s\": A, AAAA, NS, CNAME, SOA, MX, TXT or SRV",
						tv);
			}
		} else if (strcmp(name, "expect_rcode") == 0) {
			const char *tv = NULL;
			rc = get_string(ctx, k, &tv);
			if (!rc) {
				static const char *const rcodes[] = { "NOERROR",  "FORMERR",
								      "SERVFAIL", "NXDOMAIN",
								      "NOTIMP",   "REFUSED" };
				ck->expect_rcode = -1;
				for (int i = 0; i < 6; i++)
					if (strcasecmp(tv, rcodes[i]) == 0)
						ck->expect_rcode = i;
				if (ck->expect_rcode < 0)
					rc = conf_error(
						ctx, k,
						"\"%s\": NOERROR, NXDOMAIN, SERVFAIL, REFUSED...",
						tv);
			}
		} else if (strcmp(name, "expect_answer") == 0) {
			rc = dup_string(ctx, k, 1024, &ck->expect_answer);
		} else {
			rc = conf_unhandled(ctx, k);
		}
		if (rc)
			return rc;
	}
	if (!ck->name)
		return conf_error(ctx, e, "a check needs a name");
	if (!type)
		return conf_error(ctx, e, "check %s needs a type (http, https, tcp, dns)",
				  ck->name);
	const char *tv = NULL;
	rc = get_string(ctx, type, &tv);
	if (rc)
		return rc;
	if (strcmp(tv, "http") == 0)
		ck->type = CHECK_HTTP;
	else if (strcmp(tv, "https") == 0)
		ck->type = CHECK_HTTPS;
	else if (strcmp(tv, "tcp") == 0)
		ck->type = CHECK_TCP;
	else if (strcmp(tv, "dns") == 0)
		ck->type = CHECK_DNS;
	else
		return conf_error(ctx, type, "\"%s\": http, https, tcp or dns", tv);
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

static int parse_checks(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	if (!config_setting_is_list(s))
		return conf_error(ctx, s,
				  "expected a list ( { name = \"web\"; type = \"http\"; } )");
	int n = config_setting_length(s);
	if (n > CONF_MAX_CHECKS)
		return conf_error(ctx, s, "at most %d checks", CONF_MAX_CHECKS);
	c->checks = calloc(n ? (size_t)n : 1, sizeof(*c->checks));
	if (!c->checks)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct check *ck = &c->checks[c->nchecks++];
		int rc = parse_check(ctx, e, ck);
		if (rc)
			return rc;
		for (size_t j = 0; j + 1 < c->nchecks; j++)
			if (strcmp(c->checks[j].name, ck->name) == 0)
				return conf_error(ctx, e,
						  "check \"%s\" is already defined at line %d",
						  ck->name, c->checks[j].line);
	}
	return GSLB_OK;
}

static void free_checks(struct conf *c)
{
	for (size_t i = 0; i < c->nchecks; i++) {
		struct check *ck = &c->checks[i];
		free(ck->name);
		free(ck->path);
		free(ck->host);
		free(ck->expect_status);
		free(ck->expect_body);
		for (size_t h = 0; h < ck->nheaders; h++)
			free(ck->headers[h]);
		free(ck->headers);
		free(ck->ca_file);
		free(ck->query);
		free(ck->expect_answer);
	}
	free(c->checks);
	free(c->state_dir);
	free(c->resolvers);
}

/* Is s a plausible host name for a member (resolved with c-ares)? */
static int valid_hostname(const char *s)
{
	uint8_t tmp[DNAME_MAXLEN];
	if (strchr(s, ':') || strchr(s, '/') || strchr(s, ' '))
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return 0;
	return dname_from_str(s, tmp) > 0 && strchr(s, '.') != NULL;
}

/* Digits and dots only: meant as an IPv4 address (10.1.0.256, 10.1.0),
 * never a host name to resolve. */
static int looks_ipv4(const char *s) { return *s && strspn(s, "0123456789.") == strlen(s); }

static int parse_member(struct conf_ctx *ctx, const config_setting_t *e, struct member *mb)
{
	const config_setting_t *addr = e;
	int rc;
	mb->weight = 1;
	mb->line = config_setting_source_line(e);
	if (config_setting_is_group(e)) {
		addr = NULL;
		int m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
			const char *name = config_setting_name(k);
			long long v;
			rc = conf_key(ctx, k, CONF_KEYS("address", "weight", "target"));
			if (rc)
				return rc;
			if (strcmp(name, "address") == 0) {
				addr = k;
			} else if (strcmp(name, "weight") == 0) {
				rc = get_int(ctx, k, 1, 1000000, &v);
				if (rc)
					return rc;
				mb->weight = (uint32_t)v;
			} else if (strcmp(name, "target") == 0) {
				rc = dup_string(ctx, k, 1024, &mb->target);
				if (rc)
					return rc;
			} else {
				return conf_unhandled(ctx, k);
			}
		}
		if (!addr)
			return conf_error(ctx, e, "a member needs an address");
	}
	const char *v = NULL;
	rc = get_string(ctx, addr, &v);
	if (rc)
		return rc;
	mb->text = strdup(v);
	if (!mb->text)
		return conf_nomem(ctx);
	if (inet_pton(AF_INET, v, mb->addr) == 1) {
		mb->family = AF_INET;
	} else if (inet_pton(AF_INET6, v, mb->addr) == 1) {
		mb->family = AF_INET6;
	} else if (looks_ipv4(v)) {
		return conf_error(ctx, addr, "\"%s\" is not a valid IPv4 address", v);
	} else if (strchr(v, ':')) {
		return conf_error(ctx, addr, "\"%s\" is not a valid IPv6 address", v);
	} else if (valid_hostname(v)) {
		mb->family = 0; /* resolved by the prober, A and AAAA */
		mb->hostname = strdup(v);
		if (!mb->hostname)
			return conf_nomem(ctx);
	} else {
		return conf_error(ctx, addr, "\"%s\" is not an IPv4 or IPv6 address or a host name",
				  v);
	}
	return GSLB_OK;
}

/* A checked CNAME pool probes its target: one host-name member stands for
 * it (see struct pool), resolved and probed as host-name members are. */
static int cname_probe_member(struct conf_ctx *ctx, const config_setting_t *k, struct pool *p)
{
	char name[DNAME_MAXLEN * 4 + 1];
	size_t n = dname_to_str(p->cname, name, sizeof(name));
	struct member *mb;

	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (!valid_hostname(name))
		return conf_error(ctx, k,
				  "cname \"%s\" has a check: the target must be a host name to "
				  "probe",
				  name);
	p->members = calloc(1, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	p->nmembers = 1;
	mb = &p->members[0];
	mb->weight = 1;
	mb->line = config_setting_source_line(k);
	mb->hostname = strdup(name);
	mb->text = strdup(name);
	if (!mb->hostname || !mb->text)
		return conf_nomem(ctx);
	p->cname_query = ctx->c->checks[p->check_idx].type == CHECK_DNS;
	return GSLB_OK;
}

static int parse_pool(struct conf_ctx *ctx, struct service *svc, const config_setting_t *e,
		      struct pool *p)
{
	const config_setting_t *region = NULL, *members = NULL, *cname = NULL, *min_up = NULL;
	int rc;
	if (!config_setting_is_group(e))
		return conf_error(ctx, e,
				  "expected a group { region = \"...\"; members = [ ... ]; }");
	p->line = config_setting_source_line(e);
	p->min_up = 1;
	p->check_idx = -1;
	int m = config_setting_length(e);
	for (int j = 0; j < m; j++) {
		const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k, CONF_KEYS("region", "members", "cname", "check", "min_up"));
		if (rc)
			return rc;
		if (strcmp(name, "region") == 0) {
			region = k;
		} else if (strcmp(name, "members") == 0) {
			members = k;
		} else if (strcmp(name, "cname") == 0) {
			cname = k;
		} else if (strcmp(name, "check") == 0) {
			rc = dup_string(ctx, k, CONF_MAX_NAME, &p->check);
			if (rc)
				return rc;
			p->check_idx = check_index(ctx->c, p->check);
			if (p->check_idx < 0)
				return conf_error(ctx, k, "unknown check \"%s\"", p->check);
		} else if (strcmp(name, "min_up") == 0) {
			min_up = k;
			rc = get_double(ctx, k, -0.0000001, 100000, &p->min_up);
			if (rc)
				return rc;
			if (p->min_up > 1 && p->min_up != (double)(long long)p->min_up)
				return conf_error(ctx, k,
						  "a count (1, 2, ...) or a fraction below 1");
		} else {
			return conf_unhandled(ctx, k);
		}
	}
	if (!region)
		return conf_error(ctx, e, "a pool needs a region");
	const char *rv = NULL;
	rc = get_string(ctx, region, &rv);
	if (rc)
		return rc;
	int ri = region_index(ctx->c, rv);
	if (ri < 0)
		return conf_error(ctx, region, "unknown region \"%s\"", rv);
	if (svc->pool_of_region[ri] >= 0)
		return conf_error(ctx, region, "service %s already has a pool in region \"%s\"",
				  svc->name, rv);
	p->region = (unsigned)ri;
	if ((members != NULL) == (cname != NULL))
		return conf_error(ctx, e, "a pool has either members or a cname");
	if (cname) {
		const char *cv = NULL;
		rc = get_string(ctx, cname, &cv);
		if (rc)
			return rc;
		size_t l = dname_from_str(cv, p->cname);
		if (l == 0)
			return conf_error(ctx, cname, "\"%s\" is not a valid domain name", cv);
		p->cname_len = (uint8_t)l;
		if (min_up && p->check_idx < 0)
			return conf_error(
				ctx, min_up,
				"min_up on a cname pool without a check does nothing (the "
				"pool is always up)");
		return p->check_idx >= 0 ? cname_probe_member(ctx, cname, p) : GSLB_OK;
	}
	if (!config_setting_is_array(members) && !config_setting_is_list(members))
		return conf_error(ctx, members, "expected a list of members");
	int n = config_setting_length(members);
	if (n == 0)
		return conf_error(ctx, members, "a pool needs at least one member");
	p->members = calloc((size_t)n, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *me = config_setting_get_elem(members, (unsigned)i);
		struct member *mb = &p->members[p->nmembers++];
		rc = parse_member(ctx, me, mb);
		if (rc)
			return rc;
		for (size_t j = 0; j + 1 < p->nmembers; j++)
			if (p->members[j].family == mb->family &&
			    (mb->family ? memcmp(p->members[j].addr, mb->addr, 16) == 0 :
					  strcasecmp(p->members[j].hostname, mb->hostname) == 0))
				return conf_error(ctx, me, "member %s is listed twice", mb->text);
		if (mb->family == AF_INET)
			p->n4++;
		else if (mb->family == AF_INET6)
			p->n6++;
		if (p->n4 > CONF_MAX_MEMBERS_PER_FAMILY || p->n6 > CONF_MAX_MEMBERS_PER_FAMILY)
			return conf_error(ctx, me, "more than %d members of one family in a pool",
					  CONF_MAX_MEMBERS_PER_FAMILY);
	}
	return GSLB_OK;
}

/* fallback = [ "192.0.2.99", "2001:db8::99" ] or fallback = "sorry.example.net." */
static int parse_fallback(struct conf_ctx *ctx, const config_setting_t *k, struct pool *p)
{
	p->line = config_setting_source_line(k);
	if (config_setting_type(k) == CONFIG_TYPE_STRING) {
		const char *cv = config_setting_get_string(k);
		size_t l = dname_from_str(cv, p->cname);
		if (l == 0)
			return conf_error(ctx, k, "\"%s\" is not a valid domain name", cv);
		p->cname_len = (uint8_t)l;
		return GSLB_OK;
	}
	if (!config_setting_is_array(k) && !config_setting_is_list(k))
		return conf_error(ctx, k, "expected a list of addresses or a CNAME target string");
	int n = config_setting_length(k);
	if (n == 0)
		return conf_error(ctx, k, "empty fallback");
	p->members = calloc((size_t)n, sizeof(*p->members));
	if (!p->members)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *me = config_setting_get_elem(k, (unsigned)i);
		struct member *mb = &p->members[p->nmembers++];
		int rc = parse_member(ctx, me, mb);
		if (rc)
			return rc;
		if (mb->family == 0)
			return conf_error(ctx, me,
					  "fallback members are addresses, not host names");
		if (mb->family == AF_INET)
			p->n4++;
		else
			p->n6++;
	}
	return GSLB_OK;
}

/* ---- HTTP redirect listener ------------------------------------------- */

/* A list of networks, as a set (host bits set are an error). */
static int parse_cidr_list(struct conf_ctx *ctx, const config_setting_t *s, struct net_set **out)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
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
		rc = get_string(ctx, e, &t);
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

static int file_readable(struct conf_ctx *ctx, const config_setting_t *s, char **path)
{
	const char *v = NULL;
	int rc = get_string(ctx, s, &v);
	if (rc)
		return rc;
	free(*path);
	*path = path_join(ctx->c->directory, v);
	if (!*path)
		return conf_nomem(ctx);
	if (access(*path, R_OK) != 0)
		return conf_error(ctx, s, "cannot read %s: %s", *path, strerror(errno));
	return GSLB_OK;
}

/* tls = { cert = "x.pem"; key = "x.key"; sni = ( { name; cert; key; } ); } */
static int parse_tls(struct conf_ctx *ctx, const config_setting_t *s, struct conf_http_listen *h)
{
	const config_setting_t *sni = NULL;
	int rc;
	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { cert = \"...\"; key = \"...\"; }");
	size_t nsni = 0;
	sni = config_setting_get_member(s, "sni");
	if (sni) {
		if (!config_setting_is_list(sni))
			return conf_error(ctx, sni, "expected a list ( { name; cert; key; } )");
		nsni = (size_t)config_setting_length(sni);
	}
	h->certs = calloc(1 + nsni, sizeof(*h->certs));
	if (!h->certs)
		return conf_nomem(ctx);
	h->ncerts = 1;
	int m = config_setting_length(s);
	for (int j = 0; j < m; j++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)j);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k, CONF_KEYS("cert", "key", "sni"));
		if (rc)
			return rc;
		if (strcmp(name, "cert") == 0)
			rc = file_readable(ctx, k, &h->certs[0].cert);
		else if (strcmp(name, "key") == 0)
			rc = file_readable(ctx, k, &h->certs[0].key);
		else if (strcmp(name, "sni") == 0)
			rc = GSLB_OK;
		else
			rc = conf_unhandled(ctx, k);
		if (rc)
			return rc;
	}
	if (!h->certs[0].cert || !h->certs[0].key)
		return conf_error(ctx, s, "tls needs cert and key (the default certificate)");
	for (size_t i = 0; i < nsni; i++) {
		const config_setting_t *e = config_setting_get_elem(sni, (unsigned)i);
		struct conf_tls_cert *c = &h->certs[h->ncerts++];
		if (!config_setting_is_group(e))
			return conf_error(ctx, e, "expected a group { name; cert; key; }");
		int n = config_setting_length(e);
		for (int j = 0; j < n; j++) {
			const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
			const char *name = config_setting_name(k);
			rc = conf_key(ctx, k, CONF_KEYS("name", "cert", "key"));
			if (rc)
				return rc;
			if (strcmp(name, "name") == 0)
				rc = dup_string(ctx, k, 255, &c->name);
			else if (strcmp(name, "cert") == 0)
				rc = file_readable(ctx, k, &c->cert);
			else if (strcmp(name, "key") == 0)
				rc = file_readable(ctx, k, &c->key);
			else
				rc = conf_unhandled(ctx, k);
			if (rc)
				return rc;
		}
		if (!c->name || !c->cert || !c->key)
			return conf_error(ctx, e, "an sni entry needs name, cert and key");
	}
	return GSLB_OK;
}

/* listen.http = [ "127.0.0.1:8080", { address = "[::1]:8443"; tls = { ... }; } ] */
static int parse_listen_http(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	if (config_setting_type(s) == CONFIG_TYPE_STRING && config_setting_get_string(s)[0] == 0)
		return GSLB_OK;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s,
				  "expected a list of addresses or { address; tls; } groups");
	int n = config_setting_length(s);
	c->http = calloc(n ? (size_t)n : 1, sizeof(*c->http));
	if (!c->http)
		return conf_nomem(ctx);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct conf_http_listen *h = &c->http[c->nhttp++];
		const config_setting_t *addr = e;
		int rc;
		if (config_setting_is_group(e)) {
			addr = config_setting_get_member(e, "address");
			int m = config_setting_length(e);
			for (int j = 0; j < m; j++) {
				const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
				const char *name = config_setting_name(k);
				rc = conf_key(ctx, k, CONF_KEYS("address", "tls"));
				if (rc)
					return rc;
				if (strcmp(name, "tls") == 0) {
					rc = parse_tls(ctx, k, h);
					if (rc)
						return rc;
				} else if (strcmp(name, "address") != 0) {
					return conf_unhandled(ctx, k);
				}
			}
			if (!addr)
				return conf_error(ctx, e, "no address given");
		}
		const char *v = NULL;
		rc = get_string(ctx, addr, &v);
		if (rc)
			return rc;
		h->l.text = strdup(v);
		if (!h->l.text)
			return conf_nomem(ctx);
		if (conf_parse_hostport(v, h->certs ? 443 : 80, &h->l.addr, &h->l.addr_len))
			return conf_error(ctx, addr,
					  "\"%s\" is not an address (\"127.0.0.1:8080\")", v);
	}
	return GSLB_OK;
}

/* http = { explain_from; access_log; max_connections; max_per_ip; ipv4_prefix;
 *          ipv6_prefix; header_limit; request_timeout; } */
static int parse_http(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	long long v;
	int rc;
	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { ... }");
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k,
			      CONF_KEYS("explain_from", "access_log", "max_connections",
					"max_per_ip", "ipv4_prefix", "ipv6_prefix", "header_limit",
					"request_timeout"));
		if (rc)
			return rc;
		if (strcmp(name, "explain_from") == 0) {
			rc = parse_cidr_list(ctx, k, &c->explain_from);
		} else if (strcmp(name, "access_log") == 0) {
			if (config_setting_type(k) != CONFIG_TYPE_BOOL)
				return conf_error(ctx, k, "expected true or false");
			c->http_access_log = config_setting_get_bool(k);
			rc = GSLB_OK;
		} else if (strcmp(name, "max_connections") == 0) {
			rc = get_int(ctx, k, 1, 1000000, &v);
			c->http_max_connections = (unsigned)v;
		} else if (strcmp(name, "max_per_ip") == 0) {
			rc = get_int(ctx, k, 1, 1000000, &v);
			c->http_max_per_ip = (unsigned)v;
		} else if (strcmp(name, "header_limit") == 0) {
			rc = get_int(ctx, k, 1024, 1048576, &v);
			c->http_header_limit = (unsigned)v;
		} else if (strcmp(name, "request_timeout") == 0) {
			rc = get_double(ctx, k, 0.0, 3600, &c->http_request_timeout);
		} else if (strcmp(name, "ipv4_prefix") == 0 || strcmp(name, "ipv6_prefix") == 0) {
			rc = get_client_prefix(ctx, k, &c->http_ipv4_prefix, &c->http_ipv6_prefix);
		} else {
			rc = conf_unhandled(ctx, k);
		}
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

/* redirect = { target = "https://{region}.example.com"; status = 302; all_methods; } */
static int parse_redirect(struct conf_ctx *ctx, const config_setting_t *s, struct service *svc)
{
	long long v;
	int rc;
	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { target = \"https://{region}...\"; }");
	svc->redirect_status = 302;
	const config_setting_t *target = NULL, *status = NULL;
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k, CONF_KEYS("target", "status", "all_methods"));
		if (rc)
			return rc;
		if (strcmp(name, "target") == 0) {
			target = k;
			rc = dup_string(ctx, k, 1024, &svc->redirect_target);
		} else if (strcmp(name, "status") == 0) {
			status = k;
			rc = get_int(ctx, k, 300, 399, &v);
			svc->redirect_status = (unsigned)v;
			if (!rc && v != 301 && v != 302 && v != 303 && v != 307 && v != 308)
				rc = conf_error(ctx, k, "%lld: 301, 302, 303, 307 or 308", v);
		} else if (strcmp(name, "all_methods") == 0) {
			if (config_setting_type(k) != CONFIG_TYPE_BOOL)
				return conf_error(ctx, k, "expected true or false");
			svc->redirect_all_methods = config_setting_get_bool(k);
			rc = GSLB_OK;
		} else {
			rc = conf_unhandled(ctx, k);
		}
		if (rc)
			return rc;
	}
	if (!target)
		return conf_error(ctx, s, "a redirect needs a target");
	if (strncmp(svc->redirect_target, "http://", 7) != 0 &&
	    strncmp(svc->redirect_target, "https://", 8) != 0)
		return conf_error(ctx, target, "\"%s\": the target starts with https:// or http://",
				  svc->redirect_target);
	if (svc->redirect_all_methods && svc->redirect_status != 307 && svc->redirect_status != 308)
		return conf_error(ctx, status ? status : s,
				  "all_methods needs status 307 or 308 (they keep the method)");
	return GSLB_OK;
}

static int parse_service(struct conf_ctx *ctx, const config_setting_t *e, struct service *svc)
{
	const config_setting_t *pools = NULL, *routes = NULL, *dflt = NULL, *name = NULL;
	const config_setting_t *wad = NULL, *fallback = NULL;
	long long v;
	int rc;

	if (!config_setting_is_group(e))
		return conf_error(ctx, e, "expected a group { name = \"www.example.com\"; ... }");
	svc->line = config_setting_source_line(e);
	svc->file = conf_keep(ctx, setting_file(ctx, e));
	if (!svc->file)
		return conf_nomem(ctx);
	svc->ttl = CONF_DEFAULT_SVC_TTL;
	svc->answers = CONF_DEFAULT_ANSWERS;
	svc->ttl_min = 5;
	svc->when_all_down = ALL_DOWN_FAIL_OPEN;
	svc->fallback.check_idx = -1;
	for (int r = 0; r < GSLB_MAX_REGIONS; r++)
		svc->pool_of_region[r] = -1;
	int m = config_setting_length(e);
	for (int j = 0; j < m; j++) {
		const config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
		const char *kn = config_setting_name(k);
		rc = conf_key(ctx, k,
			      CONF_KEYS("name", "ttl", "answers", "limit", "ttl_min",
					"when_all_down", "fallback", "redirect", "pools", "route",
					"default"));
		if (rc)
			return rc;
		if (strcmp(kn, "name") == 0) {
			name = k;
		} else if (strcmp(kn, "ttl") == 0) {
			rc = get_int(ctx, k, 0, CONF_MAX_SVC_TTL, &v);
			if (rc)
				return rc;
			svc->ttl = (uint32_t)v;
		} else if (strcmp(kn, "answers") == 0) {
			rc = get_int(ctx, k, 1, CONF_MAX_ANSWERS, &v);
			if (rc)
				return rc;
			svc->answers = (unsigned)v;
		} else if (strcmp(kn, "limit") == 0) {
			rc = get_int(ctx, k, 0, GSLB_MAX_REGIONS, &v);
			if (rc)
				return rc;
			svc->limit = (unsigned)v;
		} else if (strcmp(kn, "ttl_min") == 0) {
			rc = get_int(ctx, k, 0, CONF_MAX_SVC_TTL, &v);
			if (rc)
				return rc;
			svc->ttl_min = (uint32_t)v;
		} else if (strcmp(kn, "when_all_down") == 0) {
			const char *wv = NULL;
			rc = get_string(ctx, k, &wv);
			if (rc)
				return rc;
			if (strcmp(wv, "fail-open") == 0)
				svc->when_all_down = ALL_DOWN_FAIL_OPEN;
			else if (strcmp(wv, "nodata") == 0)
				svc->when_all_down = ALL_DOWN_NODATA;
			else if (strcmp(wv, "servfail") == 0)
				svc->when_all_down = ALL_DOWN_SERVFAIL;
			else if (strcmp(wv, "fallback") == 0)
				svc->when_all_down = ALL_DOWN_FALLBACK;
			else
				return conf_error(ctx, k,
						  "\"%s\": fail-open, nodata, servfail or fallback",
						  wv);
			wad = k;
		} else if (strcmp(kn, "fallback") == 0) {
			fallback = k;
		} else if (strcmp(kn, "redirect") == 0) {
			rc = parse_redirect(ctx, k, svc);
			if (rc)
				return rc;
		} else if (strcmp(kn, "pools") == 0) {
			pools = k;
		} else if (strcmp(kn, "route") == 0) {
			routes = k;
		} else if (strcmp(kn, "default") == 0) {
			dflt = k;
		} else {
			return conf_unhandled(ctx, k);
		}
	}
	if (!name)
		return conf_error(ctx, e, "a service needs a name (name = \"www.example.com\";)");
	rc = dup_string(ctx, name, 1024, &svc->name);
	if (rc)
		return rc;
	size_t l = dname_from_str(svc->name, svc->lname);
	if (l == 0)
		return conf_error(ctx, name, "\"%s\" is not a valid domain name", svc->name);
	svc->lname_len = (uint8_t)l;
	svc->wildcard = svc->lname[0] == 1 && svc->lname[1] == '*';
	/* "*" is only meaningful as the whole first label. */
	for (size_t p = svc->wildcard ? 2 : 0; svc->lname[p]; p += 1 + svc->lname[p])
		if (memchr(svc->lname + p + 1, '*', svc->lname[p]))
			return conf_error(ctx, name, "\"*\" may only be the first label");
	if (!pools)
		return conf_error(ctx, e, "service %s has no pools", svc->name);
	if (!config_setting_is_list(pools))
		return conf_error(ctx, pools, "expected a list ( { region = \"...\"; ... } )");
	int np = config_setting_length(pools);
	if (np == 0)
		return conf_error(ctx, pools, "service %s has no pools", svc->name);
	svc->pools = calloc((size_t)np, sizeof(*svc->pools));
	if (!svc->pools)
		return conf_nomem(ctx);
	for (int i = 0; i < np; i++) {
		const config_setting_t *pe = config_setting_get_elem(pools, (unsigned)i);
		struct pool *p = &svc->pools[svc->npools++];
		rc = parse_pool(ctx, svc, pe, p);
		if (rc)
			return rc;
		svc->pool_of_region[p->region] = i;
		if ((p->cname_len > 0) != (svc->pools[0].cname_len > 0))
			return conf_error(ctx, pe,
					  "mixing pools with members and pools with a cname in one "
					  "service");
	}
	if (routes) {
		if (!config_setting_is_list(routes))
			return conf_error(ctx, routes, "expected a list ( { match; regions; } )");
		int nr = config_setting_length(routes);
		svc->routes = calloc(nr ? (size_t)nr : 1, sizeof(*svc->routes));
		if (!svc->routes)
			return conf_nomem(ctx);
		for (int i = 0; i < nr; i++) {
			const config_setting_t *re = config_setting_get_elem(routes, (unsigned)i);
			rc = parse_route(ctx, re, &svc->routes[svc->nroutes++]);
			if (rc)
				return rc;
		}
	}
	if (dflt) {
		rc = parse_region_list(ctx, dflt, &svc->dflt, &svc->ndflt);
		if (rc)
			return rc;
	}
	if (fallback) {
		rc = parse_fallback(ctx, fallback, &svc->fallback);
		if (rc)
			return rc;
	}
	if (svc->when_all_down == ALL_DOWN_FALLBACK && !fallback)
		return conf_error(ctx, wad,
				  "when_all_down = \"fallback\" needs fallback = [ "
				  "addresses ] or fallback = \"cname.target.\"");
	if (fallback && svc->when_all_down != ALL_DOWN_FALLBACK)
		return conf_error(ctx, fallback,
				  "fallback is only used with when_all_down = "
				  "\"fallback\"");
	if (svc->ttl_min > svc->ttl)
		svc->ttl_min = svc->ttl;
	return GSLB_OK;
}

static int parse_services(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	if (!config_setting_is_list(s))
		return conf_error(ctx, s,
				  "expected a list ( { name = \"www.example.com\"; ... } )");
	int n = config_setting_length(s);
	c->services = calloc(n ? (size_t)n : 1, sizeof(*c->services));
	/* Names seen so far, for the duplicate check: open addressing over
	 * indexes + 1 (0 = empty), so the check stays linear in the number of
	 * services and the first duplicate in file order is the one reported. */
	size_t mask = 1;
	while (mask < 2 * (size_t)n)
		mask <<= 1;
	mask--;
	size_t *seen = calloc(mask + 1, sizeof(*seen));
	int rc = GSLB_OK;
	if (!c->services || !seen) {
		free(seen);
		return conf_nomem(ctx);
	}
	for (int i = 0; i < n && rc == GSLB_OK; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct service *svc = &c->services[c->nservices++];
		rc = parse_service(ctx, e, svc);
		if (rc)
			break;
		for (size_t p = 0; p < svc->npools; p++)
			svc->pools[p].gidx = (unsigned)c->npools++;
		for (size_t p = 0; p < svc->npools; p++)
			svc->pools[p].metric_slot = -1;
		svc->metric_slot = -1;
		svc->fallback.metric_slot = -1;
		size_t h = dname_hash(svc->lname, svc->lname_len) & mask;
		for (; seen[h]; h = (h + 1) & mask) {
			const struct service *o = &c->services[seen[h] - 1];
			if (o->lname_len == svc->lname_len &&
			    memcmp(o->lname, svc->lname, svc->lname_len) == 0) {
				rc = conf_error(ctx, e, "service %s is already defined at line %d",
						svc->name, o->line);
				break;
			}
		}
		seen[h] = c->nservices;
	}
	free(seen);
	return rc;
}

static void free_services(struct conf *c)
{
	for (size_t i = 0; i < c->nservices; i++) {
		struct service *s = &c->services[i];
		for (size_t p = 0; p < s->npools; p++) {
			struct pool *pl = &s->pools[p];
			for (size_t m = 0; m < pl->nmembers; m++) {
				free(pl->members[m].text);
				free(pl->members[m].target);
				free(pl->members[m].hostname);
			}
			free(pl->members);
			free(pl->check);
		}
		for (size_t m = 0; m < s->fallback.nmembers; m++) {
			free(s->fallback.members[m].text);
			free(s->fallback.members[m].target);
			free(s->fallback.members[m].hostname);
		}
		free(s->fallback.members);
		free(s->pools);
		for (size_t r = 0; r < s->nroutes; r++) {
			free(s->routes[r].regions);
			free(s->routes[r].text);
		}
		free(s->routes);
		free(s->dflt);
		free(s->name);
		free(s->redirect_target);
	}
	free(c->services);
	for (size_t i = 0; i < c->nregions; i++) {
		free(c->regions[i].name);
		free(c->regions[i].redirect);
	}
	free(c->regions);
	free(c->geoip.database);
	free(c->geoip.overrides);
	free(c->geoip.path_country);
	free(c->geoip.path_continent);
	free(c->geoip.path_subdivision);
	free(c->geoip.path_latitude);
	free(c->geoip.path_longitude);
}

/* resolvers = [ "127.0.0.1", "[::1]:5353" ]: the servers c-ares asks for
 * host-name members, instead of /etc/resolv.conf. */
static int parse_resolvers(struct conf_ctx *ctx, const config_setting_t *s)
{
	char csv[2048] = "";
	size_t used = 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s, "expected a list of addresses [ \"127.0.0.1:53\" ]");
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = NULL;
		struct sockaddr_storage ss;
		socklen_t sl;
		char host[INET6_ADDRSTRLEN];
		int rc = get_string(ctx, e, &v);
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

/* log = { level = "info"; syslog = false; facility = "daemon"; } */
static int parse_log(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct log_conf *lc = &ctx->c->log;
	const char *v = NULL;
	int n, rc;

	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { level = \"info\"; ... }, not %s",
				  type_name(config_setting_type(s)));
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e);

		rc = conf_key(ctx, e, CONF_KEYS("level", "syslog", "facility"));
		if (rc)
			return rc;
		if (strcmp(name, "level") == 0) {
			rc = get_string(ctx, e, &v);
			if (!rc && log_level_parse(v, &lc->level) != GSLB_OK)
				rc = conf_error(
					ctx, e,
					"unknown level \"%s\" (error, warning, info, debug)", v);
		} else if (strcmp(name, "syslog") == 0) {
			rc = GSLB_OK;
			if (config_setting_type(e) != CONFIG_TYPE_BOOL)
				rc = conf_error(ctx, e, "expected true or false, not %s",
						type_name(config_setting_type(e)));
			else
				lc->to_syslog = config_setting_get_bool(e);
		} else if (strcmp(name, "facility") == 0) {
			rc = get_string(ctx, e, &v);
			if (!rc && log_facility_parse(v, &lc->facility) != GSLB_OK)
				rc = conf_error(
					ctx, e,
					"unknown facility \"%s\" (daemon, user, local0..local7)",
					v);
		} else {
			rc = conf_unhandled(ctx, e);
		}
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

/* user = "gslb"; group = "gslb"; looked up now, so that -t and a reload
 * say at once that a name does not exist on this machine. */
static int parse_user_group(struct conf_ctx *ctx, const config_setting_t *user,
			    const config_setting_t *group)
{
	struct conf *c = ctx->c;
	gid_t primary = 0;
	int rc = GSLB_OK;

	if (group != NULL && user == NULL)
		return conf_error(ctx, group, "group needs user: set both to drop privileges");
	if (user == NULL)
		return GSLB_OK;
	rc = dup_string(ctx, user, 256, &c->user);
	if (!rc && c->user[0] == '\0')
		rc = conf_error(ctx, user, "empty user name");
	if (rc)
		return rc;
	rc = privs_lookup_user(c->user, &c->uid, &primary);
	if (rc == GSLB_ENOENT)
		return conf_error(ctx, user, "no such user \"%s\"", c->user);
	if (rc)
		return conf_error(ctx, user, "cannot look up user \"%s\": %s", c->user,
				  rc == GSLB_ESYS ? strerror(errno) : gslb_strerror(rc));
	c->gid = primary;
	if (group == NULL)
		return GSLB_OK;
	rc = dup_string(ctx, group, 256, &c->group);
	if (!rc && c->group[0] == '\0')
		rc = conf_error(ctx, group, "empty group name");
	if (rc)
		return rc;
	rc = privs_lookup_group(c->group, &c->gid);
	if (rc == GSLB_ENOENT)
		return conf_error(ctx, group, "no such group \"%s\"", c->group);
	if (rc)
		return conf_error(ctx, group, "cannot look up group \"%s\": %s", c->group,
				  rc == GSLB_ESYS ? strerror(errno) : gslb_strerror(rc));
	return GSLB_OK;
}

/* The admin bearer token: the first line of a file only the daemon's user
 * should read. Short tokens are refused: they would be guessable. */
static int parse_token_file(struct conf_ctx *ctx, const config_setting_t *s)
{
	const char *v = NULL;
	char line[512];
	int rc = get_string(ctx, s, &v);
	if (rc)
		return rc;
	char *path = path_join(ctx->c->directory, v);
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
static int parse_admin_hosts(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	uint8_t wire[DNAME_MAXLEN];

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
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
		int rc = get_string(ctx, e, &v);
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

/* rrl = { responses_per_second; slip; window; ipv4_prefix; ipv6_prefix; exempt; } */
static int parse_rrl(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct rrl_conf *r = &ctx->c->rrl;
	long long v;
	int rc;
	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { responses_per_second = 5; ... }");
	r->rate = 5;
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k,
			      CONF_KEYS("responses_per_second", "slip", "window", "ipv4_prefix",
					"ipv6_prefix", "exempt"));
		if (rc)
			return rc;
		if (strcmp(name, "responses_per_second") == 0) {
			rc = get_int(ctx, k, 0, 100000, &v);
			r->rate = (unsigned)v;
		} else if (strcmp(name, "slip") == 0) {
			rc = get_int(ctx, k, 0, 10, &v);
			r->slip = (unsigned)v;
		} else if (strcmp(name, "window") == 0) {
			rc = get_int(ctx, k, 1, 3600, &v);
			r->window = (unsigned)v;
		} else if (strcmp(name, "ipv4_prefix") == 0) {
			rc = get_int(ctx, k, 8, 32, &v);
			r->ipv4_prefix = (unsigned)v;
		} else if (strcmp(name, "ipv6_prefix") == 0) {
			rc = get_int(ctx, k, 16, 128, &v);
			r->ipv6_prefix = (unsigned)v;
		} else if (strcmp(name, "exempt") == 0) {
			rc = parse_cidr_list(ctx, k, &r->exempt);
		} else {
			rc = conf_unhandled(ctx, k);
		}
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

/* acl = { allow = [ ... ]; deny = [ ... ]; blocklist = "FILE"; action = "refuse"; } */
static int parse_acl(struct conf_ctx *ctx, const config_setting_t *s)
{
	struct conf *c = ctx->c;
	int rc;
	if (!config_setting_is_group(s))
		return conf_error(ctx, s, "expected a group { allow; deny; blocklist; action; }");
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(k);
		rc = conf_key(ctx, k, CONF_KEYS("allow", "deny", "blocklist", "action"));
		if (rc)
			return rc;
		if (strcmp(name, "allow") == 0) {
			rc = parse_cidr_list(ctx, k, &c->acl_allow);
		} else if (strcmp(name, "deny") == 0) {
			rc = parse_cidr_list(ctx, k, &c->acl_deny);
		} else if (strcmp(name, "blocklist") == 0) {
			const char *v = NULL;
			rc = get_string(ctx, k, &v);
			if (!rc) {
				free(c->acl_blocklist);
				c->acl_blocklist = path_join(c->directory, v);
				if (!c->acl_blocklist)
					rc = conf_nomem(ctx);
			}
		} else if (strcmp(name, "action") == 0) {
			const char *v = NULL;
			rc = get_string(ctx, k, &v);
			if (!rc) {
				if (strcmp(v, "refuse") == 0)
					c->acl_drop = 0;
				else if (strcmp(v, "drop") == 0)
					c->acl_drop = 1;
				else
					rc = conf_error(ctx, k, "\"%s\": refuse or drop", v);
			}
		} else {
			rc = conf_unhandled(ctx, k);
		}
		if (rc)
			return rc;
	}
	return GSLB_OK;
}

static int parse_root(struct conf_ctx *ctx, const config_setting_t *root, const char *confdir)
{
	struct conf *c = ctx->c;
	const config_setting_t *zones = NULL;
	const config_setting_t *listen = NULL;
	const config_setting_t *geoip = NULL, *regions = NULL, *services = NULL;
	const config_setting_t *checks = NULL, *state_dir = NULL, *http_conf = NULL, *acl = NULL;
	const config_setting_t *user = NULL, *group = NULL;
	long long v;
	int n, rc = GSLB_OK;

	n = config_setting_length(root);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(e);

		rc = conf_key(ctx, e,
			      CONF_KEYS("listen", "workers", "directory", "zones", "geoip",
					"checks", "state_dir", "resolvers", "admin_token_file",
					"admin_require_token", "rrl", "acl", "trusted_proxies",
					"http", "regions", "services", "edns_size", "nsid",
					"identity", "version", "tcp", "user", "group", "log",
					"admin_hosts", "probe_max_inflight"));
		if (rc)
			return rc;
		if (strcmp(name, "listen") == 0) {
			listen = e;
			rc = parse_listen(ctx, e);
		} else if (strcmp(name, "workers") == 0) {
			rc = get_int(ctx, e, 0, CONF_MAX_WORKERS, &v);
			if (!rc)
				c->workers = (unsigned)v;
		} else if (strcmp(name, "directory") == 0) {
			const char *d = NULL;
			rc = get_string(ctx, e, &d);
			if (!rc && d[0] == '\0')
				rc = conf_error(ctx, e, "empty directory name");
			if (!rc) {
				free(c->directory);
				c->directory = path_join(confdir, d);
				if (c->directory == NULL)
					rc = conf_nomem(ctx);
			}
		} else if (strcmp(name, "zones") == 0) {
			zones = e;
		} else if (strcmp(name, "geoip") == 0) {
			geoip = e;
		} else if (strcmp(name, "checks") == 0) {
			checks = e;
		} else if (strcmp(name, "state_dir") == 0) {
			state_dir = e;
		} else if (strcmp(name, "resolvers") == 0) {
			rc = parse_resolvers(ctx, e);
		} else if (strcmp(name, "probe_max_inflight") == 0) {
			rc = get_int(ctx, e, 0, CONF_MAX_PROBE_INFLIGHT, &v);
			if (!rc)
				c->probe_max_inflight = (unsigned)v;
		} else if (strcmp(name, "admin_token_file") == 0) {
			rc = parse_token_file(ctx, e);
		} else if (strcmp(name, "admin_hosts") == 0) {
			rc = parse_admin_hosts(ctx, e);
		} else if (strcmp(name, "admin_require_token") == 0) {
			rc = GSLB_OK;
			if (config_setting_type(e) != CONFIG_TYPE_BOOL)
				rc = conf_error(ctx, e, "expected true or false");
			else
				c->admin_require_token = config_setting_get_bool(e);
		} else if (strcmp(name, "rrl") == 0) {
			rc = parse_rrl(ctx, e);
		} else if (strcmp(name, "acl") == 0) {
			acl = e;
		} else if (strcmp(name, "trusted_proxies") == 0) {
			rc = parse_cidr_list(ctx, e, &c->trusted_proxies);
		} else if (strcmp(name, "http") == 0) {
			http_conf = e;
		} else if (strcmp(name, "regions") == 0) {
			regions = e;
		} else if (strcmp(name, "services") == 0) {
			services = e;
		} else if (strcmp(name, "edns_size") == 0) {
			rc = get_int(ctx, e, CONF_MIN_EDNS_SIZE, CONF_MAX_EDNS_SIZE, &v);
			if (!rc)
				c->edns_size = (uint16_t)v;
		} else if (strcmp(name, "nsid") == 0) {
			rc = parse_nsid(ctx, e);
		} else if (strcmp(name, "identity") == 0) {
			rc = dup_string(ctx, e, CONF_MAX_TXT, &c->identity);
		} else if (strcmp(name, "version") == 0) {
			rc = dup_string(ctx, e, CONF_MAX_TXT, &c->version);
		} else if (strcmp(name, "tcp") == 0) {
			rc = parse_tcp(ctx, e);
		} else if (strcmp(name, "user") == 0) {
			user = e;
		} else if (strcmp(name, "group") == 0) {
			group = e;
		} else if (strcmp(name, "log") == 0) {
			rc = parse_log(ctx, e);
		} else {
			rc = conf_unhandled(ctx, e);
		}
		if (rc)
			return rc;
	}
	if (listen == NULL) {
		snprintf(ctx->err, ctx->errlen,
			 "%s: listen: missing: say where to serve DNS, e.g. "
			 "listen: { dns = [ \"127.0.0.1:53\" ]; };",
			 ctx->path);
		return GSLB_EINVAL;
	}
	/* After the loop: these need `directory` and each other, in this order. */
	rc = parse_user_group(ctx, user, group);
	if (!rc && zones != NULL)
		rc = parse_zones(ctx, zones);
	if (!rc && geoip != NULL)
		rc = parse_geoip(ctx, geoip);
	if (!rc && regions != NULL)
		rc = parse_regions(ctx, regions);
	if (!rc && acl != NULL)
		rc = parse_acl(ctx, acl); /* after `directory`: the blocklist path */
	if (!rc && http_conf != NULL)
		rc = parse_http(ctx, http_conf);
	if (!rc && c->admin_require_token && !c->admin_token)
		rc = conf_error(ctx, root, "admin_require_token needs admin_token_file");
	if (!rc && checks != NULL)
		rc = parse_checks(ctx, checks);
	if (!rc && state_dir != NULL) {
		const char *sv = NULL;
		rc = get_string(ctx, state_dir, &sv);
		if (!rc && sv[0] == '\0')
			rc = conf_error(ctx, state_dir, "empty directory name");
		if (!rc) {
			c->state_dir = path_join(c->directory, sv);
			if (!c->state_dir)
				rc = conf_nomem(ctx);
		}
		/* Checked against who the daemon runs as: the user it
		 * switches to, else whoever runs this load. */
		char why[PATH_MAX + 256];
		if (!rc && statefile_check_dir(c->state_dir, c->user ? c->uid : geteuid(),
					       c->user ? c->gid : getegid(), why, sizeof(why)))
			rc = conf_error(ctx, state_dir, "%s", why);
	}
	if (!rc && services != NULL) {
		if (regions == NULL)
			rc = conf_error(ctx, services, "services need regions = ( ... ) first");
		else
			rc = parse_services(ctx, services);
	}
	return rc;
}

/* libconfig 1.5 ends the process (its flex scanner's fatal error, exit(2))
 * when an @include names something that opens but cannot be read: a
 * folder, "" (the include folder itself), /proc/self/mem. It also cuts an
 * include name at a NUL byte and prints to stdout on an unknown escape in
 * it. A config check or a reload must fail cleanly instead, so before
 * libconfig reads anything, every file is read here whole and every
 * @include in it is checked: no NUL byte in any file, a name that is not
 * empty and has only the \\ and \" escapes, and a target that is a regular
 * file this process can read to the end; at most 10 levels deep.
 *
 * The scan matches libconfig's scanner, which takes `[ \t]*@include[ \t]+"`
 * at the start of a line and a name running to the next unescaped quote
 * (newlines included), and errs on the safe side: it also checks an
 * @include that libconfig would not take (inside a string or comment),
 * which can only refuse such a line when it names a folder. */
#define CONF_MAX_FILE (64u << 20)

static int line_of(const char *buf, const char *at)
{
	int n = 1;

	for (const char *p = buf; p < at; p++)
		n += (*p == '\n');
	return n;
}

/* Reads a whole regular file: 0, or -1 with errno (EISDIR/EINVAL for what
 * is not a regular file, EFBIG above CONF_MAX_FILE). Caller frees *out. */
static int read_whole(const char *path, char **out, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;
	int fd, e;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	cap = (size_t)st.st_size + 1;
	if (cap > CONF_MAX_FILE)
		cap = CONF_MAX_FILE;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= CONF_MAX_FILE) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			size_t ncap = cap * 2 > CONF_MAX_FILE ? CONF_MAX_FILE : cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}

static int check_includes(const char *file, const char *incdir, int depth, char *err, size_t errlen)
{
	char *buf = NULL, *name = NULL;
	size_t len;
	int rc = GSLB_OK;

	if (depth > 10) {
		snprintf(err, errlen, "%s: @include nested more than 10 levels", file);
		return GSLB_EPARSE;
	}
	if (read_whole(file, &buf, &len) != 0) {
		if (errno == ENOENT && depth == 0)
			return GSLB_OK; /* config_read_file reports it */
		if (errno == ENOMEM)
			return GSLB_ENOMEM;
		snprintf(err, errlen, "%s: cannot read: %s", file,
			 errno == EINVAL ? "not a regular file" :
			 errno == EFBIG  ? "larger than 64 MiB" :
					   strerror(errno));
		return GSLB_EIO;
	}
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		snprintf(err, errlen, "%s:%d: NUL byte in the file (not a text file?)", file,
			 line_of(buf, nul));
		free(buf);
		return GSLB_EPARSE;
	}
	const char *end = buf + len;
	for (const char *p = buf; p < end && !rc;) {
		const char *bol = p;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;

		while (p < next && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) < 8 || memcmp(p, "@include", 8) != 0) {
			p = next;
			continue;
		}
		p += 8;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p != '"') {
			p = next; /* not an @include to libconfig: its syntax error */
			continue;
		}
		int lineno = line_of(buf, bol);
		size_t n = 0;
		free(name);
		name = malloc((size_t)(end - p));
		if (!name) {
			rc = GSLB_ENOMEM;
			break;
		}
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\') {
				if (p + 1 < end && (p[1] == '\\' || p[1] == '"')) {
					name[n++] = *++p;
					continue;
				}
				snprintf(
					err, errlen,
					"%s:%d: @include name: only \\\\ and \\\" may follow a backslash",
					file, lineno);
				rc = GSLB_EPARSE;
				break;
			}
			name[n++] = *p;
		}
		if (rc)
			break;
		if (p == end)
			break; /* no closing quote: libconfig's syntax error */
		p++;
		name[n] = '\0';
		if (n == 0) {
			snprintf(err, errlen, "%s:%d: @include \"\": empty file name", file,
				 lineno);
			rc = GSLB_EPARSE;
			break;
		}
		/* the path libconfig opens: include_dir/name unless name is absolute */
		size_t incsz = strlen(incdir) + n + 2;
		char *inc = malloc(incsz);
		if (!inc) {
			rc = GSLB_ENOMEM;
			break;
		}
		if (name[0] == '/')
			memcpy(inc, name, n + 1);
		else
			snprintf(inc, incsz, "%s/%s", incdir, name);
		struct stat st;
		int shown = 100; /* of a long name, in messages */
		int exists = stat(inc, &st) == 0;
		if (exists && !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s:%d: @include \"%.*s%s\": not a regular file",
				 file, lineno, shown, name, n > (size_t)shown ? "..." : "");
			rc = GSLB_EPARSE;
		} else if (exists) {
			rc = check_includes(inc, incdir, depth + 1, err, errlen);
			if (rc == GSLB_EIO) {
				/* name the @include line, then the reason */
				char why[512];
				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "%s:%d: @include \"%.*s%s\": %s", file,
					 lineno, shown, name, n > (size_t)shown ? "..." : "", why);
				rc = GSLB_EPARSE;
			}
		} /* a missing file: libconfig says "cannot open include file" */
		free(inc);
	}
	free(name);
	free(buf);
	return rc;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	struct conf_ctx ctx = { .path = path, .err = err, .errlen = errlen };
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
	c->path = strdup(path);
	c->directory = strdup(confdir);
	if (c->path == NULL || c->directory == NULL) {
		rc = conf_nomem(&ctx);
		goto out;
	}
	c->edns_size = CONF_DEFAULT_EDNS_SIZE;
	c->tcp_idle_timeout = CONF_DEFAULT_TCP_IDLE;
	c->tcp_max_connections = CONF_DEFAULT_TCP_MAXCONN;
	c->tcp_max_queries = 0;
	log_conf_default(&c->log);
	c->http_max_connections = 1024;
	c->rrl.slip = 2;
	c->rrl.window = 15;
	c->rrl.ipv4_prefix = 24;
	c->rrl.ipv6_prefix = 56;
	c->tcp_max_per_ip = 64;
	c->tcp_ipv4_prefix = 24;
	c->tcp_ipv6_prefix = 64;
	c->http_ipv4_prefix = 24;
	c->http_ipv6_prefix = 64;
	c->tcp_max_lifetime = 120.0;
	c->http_max_per_ip = 32;
	c->http_header_limit = 8192;
	c->http_request_timeout = 10.0;

	/* @include "pools/x.conf" is relative to the config file, wherever
	 * the daemon was started from. */
	config_set_include_dir(&cfg, confdir);
	ctx.incdir = confdir;
	rc = check_includes(path, confdir, 0, err, errlen);
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
				 shown_file(&ctx, config_error_file(&cfg)), config_error_line(&cfg),
				 config_error_text(&cfg));
			rc = GSLB_EPARSE;
		}
		goto out;
	}
	rc = parse_root(&ctx, config_root_setting(&cfg), confdir);
	if (rc)
		goto out;
	if (c->workers == 0)
		c->workers = cpu_count();
	*out = c;
	c = NULL;
out:
	conf_free(c);
	free(confdir);
	config_destroy(&cfg);
	return rc;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ndns; i++)
		free(c->dns[i].text);
	free(c->dns);
	for (size_t i = 0; i < c->nzones; i++) {
		free(c->zones[i].origin);
		free(c->zones[i].file);
	}
	free(c->zones);
	free_services(c);
	free_checks(c);
	if (c->admin)
		free(c->admin->text);
	free(c->admin);
	for (size_t i = 0; i < c->nhttp; i++) {
		free(c->http[i].l.text);
		for (size_t k = 0; k < c->http[i].ncerts; k++) {
			free(c->http[i].certs[k].name);
			free(c->http[i].certs[k].cert);
			free(c->http[i].certs[k].key);
		}
		free(c->http[i].certs);
	}
	free(c->http);
	net_set_free(c->trusted_proxies);
	net_set_free(c->explain_from);
	net_set_free(c->rrl.exempt);
	net_set_free(c->acl_allow);
	net_set_free(c->acl_deny);
	free(c->acl_blocklist);
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
	free(c->identity);
	free(c->version);
	free(c->user);
	free(c->group);
	free(c->directory);
	free(c->path);
	free(c);
}
