/* gslbctl: the operators' command line over the admin listener of a
 * running gslbd. It only speaks HTTP to the daemon (libcurl) and prints
 * what comes back, as tables for people or as the daemon's JSON for
 * scripts; the daemon decides everything. Exit codes tell scripts whether
 * the daemon refused (1), the command line was wrong (2) or the daemon could
 * not be reached (3). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libconfig.h>

#include "config.h"
#include "gslb/config.h"
#include "gslb/config_schema.h"
#include "gslb/explain.h"
#include "gslb/whatif.h"

#define CTL_DEFAULT_SERVER "127.0.0.1:8053"
#define CTL_DEFAULT_PORT 8053u
/* A status of thousands of members is a few MiB; anything far larger is
 * not an admin listener answering. */
#define CTL_MAX_BODY (64u * 1024u * 1024u)

enum ctl_exit {
	CTL_OK = 0,
	CTL_REFUSED = 1,     /* the daemon answered with an error */
	CTL_USAGE = 2,       /* bad command line or config file */
	CTL_UNREACHABLE = 3, /* no answer from the admin listener */
};

struct ctl {
	char server[300]; /* HOST:PORT as shown in messages */
	char base[320];   /* http://HOST:PORT */
	int json;
	long timeout;
	char auth[600]; /* "Authorization: Bearer ..." or "" */
	/* --at, --until, --for: a scheduled override, as given */
	const char *at, *until, *dur;
};

struct ctl_buf {
	char *data;
	size_t len;
	int overflow;
};

struct ctl_resp {
	long status;
	struct ctl_buf body;
	json_t *json; /* parsed body when it is JSON, else NULL */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gslbctl [-s HOST:PORT] [-c FILE] [--json] COMMAND [ARG]...\n"
		"Control a running gslbd through its admin listener.\n"
		"\n"
		"Commands:\n"
		"  status                 regions, then every service's pools and members\n"
		"                         with state, admin override, last change and reason\n"
		"  drain TARGET           no new answers for TARGET (still probed)\n"
		"  undrain TARGET         end a drain\n"
		"  force-up TARGET        answer TARGET whatever the probes say\n"
		"  force-down TARGET      never answer TARGET\n"
		"  clear TARGET           remove any override on TARGET\n"
		"  drain|force-up|force-down TARGET [--at TIME] [--for DURATION | --until TIME]\n"
		"                         a scheduled override: in force from --at (default\n"
		"                         now) for DURATION (30m, 2h, 1h30m, 1d) or until\n"
		"                         TIME (UTC: 2026-12-24T06:00Z, or with an offset,\n"
		"                         2026-12-24T07:00+01:00), then gone by itself\n"
		"  explain ADDRESS NAME   how NAME is answered for a client in ADDRESS[/PREFIX]\n"
		"  what-if [CHANGE]...    where each service's clients would go after CHANGE\n"
		"                         (\"down REGION\", \"drain REGION\", \"up TARGET\", several\n"
		"                         separated by commas), against the live health state;\n"
		"                         without CHANGE, where they go now\n"
		"  reload                 re-read the configuration, zones and GeoIP data\n"
		"  ds ZONE                the DS records of ZONE's DNSSEC keys, for the\n"
		"                         parent (as gslbd --ds)\n"
		"  metrics                print the Prometheus metrics\n"
		"\n"
		"Targets:\n"
		"  region:REGION                      every pool in a region\n"
		"  pool:SERVICE/REGION                one service's pool in a region\n"
		"  member:SERVICE/REGION/ADDRESS      one member of a pool\n"
		"\n"
		"Options:\n"
		"  -s, --server HOST:PORT  admin listener to talk to (default: listen.admin\n"
		"                          from the -c file, else %s)\n"
		"  -c, --config FILE       read listen.admin (and admin_token_file) from this\n"
		"                          gslbd configuration\n"
		"  -T, --token-file FILE   bearer token for control requests from another host\n"
		"                          (also GSLB_ADMIN_TOKEN in the environment)\n"
		"  -j, --json              print the daemon's JSON instead of text\n"
		"  -t, --timeout SECONDS   give up on the daemon after this long (default 30)\n"
		"      --at TIME           start a drain, force-up or force-down at TIME\n"
		"      --for DURATION      ... and end it DURATION later\n"
		"      --until TIME        ... or end it at TIME\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Exit status:\n"
		"  0  done\n"
		"  1  the daemon refused or failed the request (its message is printed)\n"
		"  2  usage error: bad command line or unreadable configuration file\n"
		"  3  the admin listener could not be reached\n",
		CTL_DEFAULT_SERVER);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gslbctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gslbctl --help'.\n");
	return CTL_USAGE;
}

/* ------------------------------------------------------------ server */

static int set_server(struct ctl *c, const char *hostport)
{
	int n1 = snprintf(c->server, sizeof(c->server), "%s", hostport);
	int n2 = snprintf(c->base, sizeof(c->base), "http://%s", hostport);

	if (n1 < 0 || (size_t)n1 >= sizeof(c->server) || n2 < 0 || (size_t)n2 >= sizeof(c->base))
		return -1;
	return 0;
}

/* -s HOST:PORT. Numeric addresses go through the daemon's own parser (so
 * "[::1]:8053" and "::1" work as in gslb.conf); a host name is passed to
 * libcurl as written, with the default port added when none is given. */
static int server_from_arg(struct ctl *c, const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN], hp[300];

	if (conf_parse_hostport(s, CTL_DEFAULT_PORT, &ss, &len) == 0) {
		unsigned port;
		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 =
				(const struct sockaddr_in6 *)(const void *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
			snprintf(hp, sizeof(hp), "[%s]:%u", host, port);
		} else {
			const struct sockaddr_in *in =
				(const struct sockaddr_in *)(const void *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
			snprintf(hp, sizeof(hp), "%s:%u", host, port);
		}
		if (port == 0)
			return -1;
		return set_server(c, hp);
	}
	/* host name[:port] */
	const char *colon = strrchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	for (size_t i = 0; i < hlen; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return -1;
	}
	if (colon) {
		char *end;
		errno = 0;
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
			return -1;
		return set_server(c, s);
	}
	snprintf(hp, sizeof(hp), "%s:%u", s, CTL_DEFAULT_PORT);
	return set_server(c, hp);
}

/* listen.admin (text, parsed into ss) as the server. A wildcard address
 * is reached on loopback, where the daemon also accepts control requests. */
static int server_from_admin(struct ctl *c, const char *path, const char *text,
			     const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN], hp[300];
	unsigned port = 0;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)ss;
		struct in6_addr ip = in6->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(&ip))
			ip = in6addr_loopback;
		inet_ntop(AF_INET6, &ip, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(hp, sizeof(hp), "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ss;
		struct in_addr ip = in->sin_addr;
		if (ip.s_addr == htonl(INADDR_ANY))
			ip.s_addr = htonl(INADDR_LOOPBACK);
		inet_ntop(AF_INET, &ip, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(hp, sizeof(hp), "%s:%u", host, port);
	}
	if (port == 0) {
		fprintf(stderr,
			"gslbctl: %s: listen.admin \"%s\" has port 0 (picked at start-up); "
			"use -s HOST:PORT with the port gslbd logged\n",
			path, text);
		return CTL_USAGE;
	}
	return set_server(c, hp) ? CTL_USAGE : CTL_OK;
}

static int token_from_file(struct ctl *c, const char *path);

/* A config gslbd would refuse (the very thing `reload` is to report):
 * listen.admin and admin_token_file read alone, with libconfig, so that
 * the request still reaches the daemon. why: the full parse's error. */
static int server_from_raw(struct ctl *c, const char *path, const char *why)
{
	config_t cfg;
	const char *admin = NULL, *tf = NULL, *dir = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *slash = strrchr(path, '/');
	char *confdir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup("./");
	char *base = NULL, *tpath = NULL;
	int rc = CTL_USAGE;

	config_init(&cfg);
	if (!confdir)
		goto out;
	config_set_include_dir(&cfg, confdir);
	if (!config_read_file(&cfg, path) || !config_lookup_string(&cfg, "listen.admin", &admin) ||
	    conf_parse_hostport(admin, 8053, &ss, &sslen)) {
		fprintf(stderr, "gslbctl: %s\n", why);
		goto out;
	}
	fprintf(stderr,
		"gslbctl: note: %s\ngslbctl: note: listen.admin and admin_token_file read "
		"alone\n",
		why);
	rc = server_from_admin(c, path, admin, &ss);
	if (rc || c->auth[0] || !config_lookup_string(&cfg, "admin_token_file", &tf))
		goto out;
	if (config_lookup_string(&cfg, "directory", &dir))
		base = conf_path_join(confdir, dir);
	tpath = conf_path_join(base ? base : confdir, tf);
	rc = tpath ? token_from_file(c, tpath) : CTL_USAGE;
out:
	config_destroy(&cfg);
	free(confdir);
	free(base);
	free(tpath);
	return rc;
}

/* listen.admin (and the admin token) of a gslbd config. */
static int server_from_config(struct ctl *c, const char *path)
{
	struct conf *conf = NULL;
	char err[1024] = "";
	int rc;

	rc = conf_load_admin(path, &conf, err, sizeof(err));
	if (rc)
		return server_from_raw(c, path, err[0] ? err : path);
	if (!conf->admin) {
		fprintf(stderr, "gslbctl: %s: no listen.admin address; use -s HOST:PORT\n", path);
		rc = CTL_USAGE;
		goto out;
	}
	rc = server_from_admin(c, path, conf->admin->text, &conf->admin->addr);
	if (rc == CTL_OK && conf->admin_token && !c->auth[0])
		snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", conf->admin_token);
out:
	conf_free(conf);
	return rc;
}

/* The first line of FILE as the bearer token. */
static int token_from_file(struct ctl *c, const char *path)
{
	char line[512];
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "gslbctl: cannot read %s: %s\n", path, strerror(errno));
		return CTL_USAGE;
	}
	if (!fgets(line, sizeof(line), fp))
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0]) {
		fprintf(stderr, "gslbctl: %s: empty token file\n", path);
		return CTL_USAGE;
	}
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", line);
	return CTL_OK;
}

/* ------------------------------------------------------------ HTTP */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ctl_buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n > CTL_MAX_BODY) {
		b->overflow = 1;
		return 0; /* makes libcurl fail the transfer */
	}
	char *p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static void resp_free(struct ctl_resp *r)
{
	free(r->body.data);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* method "GET" or "POST"; path with its query string already escaped.
 * Returns CTL_OK with r filled (any HTTP status), or CTL_UNREACHABLE after
 * printing why. */
static int request(const struct ctl *c, const char *method, const char *path, struct ctl_resp *r)
{
	char url[4096], errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode cc;
	int rc = CTL_OK;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
		fprintf(stderr, "gslbctl: request too long\n");
		return CTL_USAGE;
	}
	h = curl_easy_init();
	if (!h) {
		fprintf(stderr, "gslbctl: cannot initialise libcurl\n");
		return CTL_UNREACHABLE;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* The admin listener is local to the operator's machine or network:
	 * an http_proxy from the environment must not carry control
	 * requests elsewhere. */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gslbctl/" PACKAGE_VERSION);
	/* The mark of a control request that is not a browser's (the admin
	 * listener refuses control requests without it or the token). */
	struct curl_slist *hdrs = curl_slist_append(NULL, "X-Gslb-Admin: 1");
	if (hdrs && c->auth[0]) {
		struct curl_slist *more = curl_slist_append(hdrs, c->auth);
		if (!more) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		} else {
			hdrs = more;
		}
	}
	if (!hdrs) {
		fprintf(stderr, "gslbctl: out of memory\n");
		curl_easy_cleanup(h);
		return CTL_UNREACHABLE;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		long oserr = 0;
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (r->body.overflow)
			why = "answer too large";
		else if (cc == CURLE_COULDNT_CONNECT && oserr)
			why = strerror((int)oserr);
		fprintf(stderr, "gslbctl: cannot reach the admin listener at %s: %s\n", c->server,
			why);
		resp_free(r);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->body.data)
		r->json = json_loadb(r->body.data, r->body.len, 0, NULL);
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc;
}

/* An error answer: the daemon's message, or the status line when the body
 * is not the API's JSON (a proxy, another program on the port). */
static int refused(const char *what, const struct ctl_resp *r)
{
	const char *msg = json_string_value(json_object_get(r->json, "error"));

	if (msg)
		fprintf(stderr, "gslbctl: %s: %s (HTTP %ld)\n", what, msg, r->status);
	else
		fprintf(stderr, "gslbctl: %s: the daemon answered HTTP %ld\n", what, r->status);
	return CTL_REFUSED;
}

static void print_json(const json_t *j)
{
	char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (txt)
		printf("%s\n", txt);
	free(txt);
}

/* ------------------------------------------------------------ status */

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static int jbool(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

static void fmt_since(const json_t *v, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)json_integer_value(v);
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

static void fmt_number(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else
		snprintf(buf, len, "-");
}

static int width(const json_t *arr, const char *key, int min)
{
	size_t i;
	const json_t *o;
	int w = min;

	json_array_foreach(arr, i, o)
	{
		int n = (int)strlen(jstr(o, key, ""));
		if (n > w)
			w = n;
	}
	return w;
}

static const char *pool_state(const json_t *p)
{
	const json_t *up = json_object_get(p, "up");

	if (!json_is_boolean(up))
		return "unknown";
	if (!json_is_true(up))
		return "down";
	if (strcmp(jstr(p, "state", "up"), "full") == 0)
		return "full";
	return jbool(p, "failing") ? "failing" : "up";
}

/* pools[].load: a member's figure ("-" while it has none). */
static void fmt_load(const json_t *m, char *buf, size_t len)
{
	const json_t *l = json_object_get(m, "load");
	if (json_is_number(l))
		snprintf(buf, len, "%.3f", json_number_value(l));
	else
		snprintf(buf, len, "-");
}

static void print_members(const json_t *members, int with_load)
{
	size_t i;
	const json_t *m;
	int aw = 7;

	json_array_foreach(members, i, m)
	{
		int n = (int)strlen(jstr(m, "address", jstr(m, "member", "")));
		if (n > aw)
			aw = n;
	}
	printf("    %-*s  %-7s  %-10s  %-6s  %-6s  %s%-20s  %s\n", aw, "MEMBER", "STATE", "ADMIN",
	       "USABLE", "WEIGHT", with_load ? "LOAD   " : "", "SINCE", "REASON");
	json_array_foreach(members, i, m)
	{
		char since[32], weight[24], load[24] = "";
		const char *addr = jstr(m, "address", NULL);
		const char *text = jstr(m, "member", "");
		const char *state = jstr(m, "state", "unknown");
		char st[24];

		snprintf(st, sizeof(st), "%s%s", state, jbool(m, "failing") ? "!" : "");
		fmt_since(json_object_get(m, "since"), since, sizeof(since));
		fmt_number(json_object_get(m, "weight"), weight, sizeof(weight));
		if (with_load) {
			fmt_load(m, load, sizeof(load) - 2);
			snprintf(load + strlen(load), sizeof(load) - strlen(load), "%*s",
				 (int)(7 - strlen(load)), "");
		}
		printf("    %-*s  %-7s  %-10s  %-6s  %-6s  %s%-20s  %s", aw, addr ? addr : text, st,
		       jstr(m, "admin", "none"), jbool(m, "usable") ? "yes" : "no", weight, load,
		       since, jstr(m, "reason", ""));
		/* A host-name member answers with its resolved addresses. */
		if (addr && strcmp(addr, text) != 0 && *text)
			printf("%s(member %s)", *jstr(m, "reason", "") ? " " : "", text);
		printf("\n");
	}
}

/* With a cluster: its state, the nodes seen with their leases, and each
 * member's verdicts per node. */
static void print_cluster(const json_t *cl)
{
	const json_t *nodes = json_object_get(cl, "nodes");
	const json_t *members = json_object_get(cl, "members");
	const json_t *o;
	size_t i;
	int w = width(nodes, "name", 4);
	char since[32];

	fmt_since(json_object_get(cl, "degraded_since"), since, sizeof(since));
	{
		const char *q = jstr(cl, "quorum", "?");
		long long eff = json_integer_value(json_object_get(cl, "quorum_effective"));
		long long live = json_integer_value(json_object_get(cl, "live_nodes"));
		char qe[64] = "";

		/* the quorum applied now: a count capped at the live nodes */
		if (json_object_get(cl, "quorum_effective") && strtoll(q, NULL, 10) != eff)
			snprintf(qe, sizeof(qe), " (%lld with %lld live node%s)", eff, live,
				 live == 1 ? "" : "s");
		printf("\ncluster %s: node %s, quorum %s%s, probe_share %lld\n",
		       jstr(cl, "name", "?"), jstr(cl, "node", "?"), q, qe,
		       (long long)json_integer_value(json_object_get(cl, "probe_share")));
	}
	if (jbool(cl, "name_taken"))
		printf("cluster: not joined since %s (node name %s in use by another live node: "
		       "local verdicts only)\n",
		       since, jstr(cl, "node", "?"));
	else if (jbool(cl, "degraded"))
		printf("cluster: degraded since %s (etcd unreachable: local verdicts and the "
		       "last view)\n",
		       since);
	else
		printf("cluster: ok\n");
	printf("  %-*s  %-4s  %-16s  %s\n", w, "NODE", "LIVE", "LEASE", "TTL");
	json_array_foreach(nodes, i, o)
	{
		const char *lease = jstr(o, "lease", "-");
		long long ttl = json_integer_value(json_object_get(o, "ttl"));
		char ttls[24] = "-";
		int up = jbool(o, "live") && strcmp(lease, "0") != 0;

		/* a node not live (or not joined) has no lease to show */
		if (up)
			snprintf(ttls, sizeof(ttls), "%llds", ttl);
		printf("  %-*s  %-4s  %-16s  %s%s\n", w, jstr(o, "name", "?"),
		       jbool(o, "live") ? "yes" : "no", up ? lease : "-", ttls,
		       jbool(o, "self") ? "  (this node)" : "");
	}
	json_array_foreach(members, i, o)
	{
		printf("  member %s: %s\n", jstr(o, "member", "?"), jstr(o, "text", ""));
	}
}

static void print_status(const json_t *st)
{
	const json_t *regions = json_object_get(st, "regions");
	const json_t *services = json_object_get(st, "services");
	const json_t *overrides = json_object_get(st, "overrides");
	const json_t *o;
	size_t i;
	int w;

	printf("gslbd %s, configuration generation %lld\n", jstr(st, "version", "?"),
	       (long long)json_integer_value(json_object_get(st, "generation")));
	printf("\n");
	w = width(regions, "name", 6);
	printf("%-*s  %-10s  %9s  %10s  %s\n", w, "REGION", "ADMIN", "LAT", "LON", "BIAS");
	json_array_foreach(regions, i, o)
	{
		printf("%-*s  %-10s  %9.4f  %10.4f  %g\n", w, jstr(o, "name", "?"),
		       jstr(o, "admin", "none"), json_number_value(json_object_get(o, "lat")),
		       json_number_value(json_object_get(o, "lon")),
		       json_number_value(json_object_get(o, "bias")));
	}
	json_array_foreach(services, i, o)
	{
		const json_t *pools = json_object_get(o, "pools");
		const json_t *p;
		size_t k;

		printf("\nservice %s  ttl=%lld  when_all_down=%s  members_pick=%s\n",
		       jstr(o, "name", "?"),
		       (long long)json_integer_value(json_object_get(o, "ttl")),
		       jstr(o, "when_all_down", "?"), jstr(o, "members_pick", "weighted"));
		json_array_foreach(pools, k, p)
		{
			char since[32], min_up[24];
			const json_t *members = json_object_get(p, "members");
			fmt_since(json_object_get(p, "since"), since, sizeof(since));
			fmt_number(json_object_get(p, "min_up"), min_up, sizeof(min_up));
			const char *cname = jstr(p, "cname", NULL);
			printf("  pool %s: %s%s%s  admin=%s  check=%s  min_up=%s  since=%s  "
			       "reason=\"%s\"\n",
			       jstr(p, "region", "?"), pool_state(p), cname ? "  cname=" : "",
			       cname ? cname : "", jstr(p, "admin", "none"), jstr(p, "check", "-"),
			       min_up, since, jstr(p, "reason", ""));
			if (json_is_number(json_object_get(p, "load")))
				printf("    load=%.3f  shed_share=%.3f  (low %g, high %g)\n",
				       json_number_value(json_object_get(p, "load")),
				       json_number_value(json_object_get(p, "shed_share")),
				       json_number_value(json_object_get(p, "load_low")),
				       json_number_value(json_object_get(p, "load_high")));
			if (json_array_size(members))
				print_members(members, json_object_get(p, "load_low") != NULL);
		}
	}
	if (json_array_size(overrides)) {
		printf("\n%-50s  %-22s  %-20s  %-20s  %s\n", "OVERRIDE", "STATE", "SINCE", "START",
		       "END");
		json_array_foreach(overrides, i, o)
		{
			char since[32], start[32], end[32], state[40];
			fmt_since(json_object_get(o, "since"), since, sizeof(since));
			fmt_since(json_object_get(o, "start"), start, sizeof(start));
			fmt_since(json_object_get(o, "end"), end, sizeof(end));
			snprintf(state, sizeof(state), "%s%s",
				 jstr(o, "state", jstr(o, "admin", jstr(o, "action", "?"))),
				 json_is_false(json_object_get(o, "active")) ? " (scheduled)" : "");
			printf("%-50s  %-22s  %-20s  %-20s  %s\n", jstr(o, "target", "?"), state,
			       since, start, end);
		}
	}
	if (json_is_object(json_object_get(st, "cluster")))
		print_cluster(json_object_get(st, "cluster"));
	printf("\n(state! = up but failing its latest probes)\n");
}

/* ------------------------------------------------------------ commands */

static int cmd_status(const struct ctl *c)
{
	struct ctl_resp r;
	int rc = request(c, "GET", "/status", &r);

	if (rc)
		return rc;
	if (r.status != 200)
		rc = refused("status", &r);
	else if (!json_is_object(r.json))
		rc = refused("status (not JSON)", &r);
	else if (c->json)
		print_json(r.json);
	else
		print_status(r.json);
	resp_free(&r);
	return rc;
}

static char *escape(const char *s) { return curl_easy_escape(NULL, s, 0); }

/* "2026-12-24T06:00Z", seconds optional, Z or an offset (+01:00, -0530)
 * required: unix seconds, or -1. */
static int digits(const char *p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

static long long parse_utc(const char *s)
{
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 1;
	struct tm tm, back;
	const char *p = s;
	time_t t;

	if (strlen(s) < 17 || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) ||
	    p[7] != '-' || digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') ||
	    digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &mi))
		return -1;
	p += 16;
	if (*p == ':') {
		if (digits(p + 1, 2, &sec))
			return -1;
		p += 3;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh))
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if (digits(p, 2, &om))
			return -1;
		p += 2;
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 ||
	    oh > 23 || om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* 2026-02-30 is not a day */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -1;
	return (long long)t - sign * (oh * 3600LL + om * 60LL);
}

/* The longest --for: ten years. */
#define DURATION_MAX (10LL * 366 * 86400)

/* "90s", "30m", "2h", "1d", "1h30m", "90" (seconds): seconds, -1 when
 * malformed, -2 when longer than DURATION_MAX. */
static long long parse_duration(const char *s)
{
	long long total = 0;
	const char *p = s;

	if (!*p)
		return -1;
	while (*p) {
		long long n = 0, unit;
		const char *q = p;
		for (; *q >= '0' && *q <= '9'; q++)
			n = n < 100000000LL ? n * 10 + (*q - '0') : n; /* too long below */
		if (q == p)
			return -1;
		switch (*q) {
		case '\0': /* a bare number: seconds */
			return total + n > DURATION_MAX ? -2 : total + n;
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return -1;
		}
		total += n * unit;
		if (total > DURATION_MAX)
			return -2;
		p = q + 1;
	}
	return total;
}

static void fmt_time(long long t, char *buf, size_t len)
{
	json_t *v = json_integer(t);
	fmt_since(v, buf, len);
	json_decref(v);
}

/* The time text of option opt into *out: a usage error (returned) unless
 * it parses and is after now. */
static int future_time(const char *opt, const char *text, long long now, long long *out)
{
	*out = parse_utc(text);
	if (*out < 0)
		return usage_error("%s \"%s\": expected a UTC time such as 2026-12-24T02:00Z (or "
				   "with an offset, +01:00)",
				   opt, text);
	if (*out <= now)
		return usage_error("%s \"%s\" is in the past", opt, text);
	return CTL_OK;
}

/* --at, --for, --until into unix times (0 = none); a usage error when they
 * make no sense. */
static int schedule(const struct ctl *c, const char *action, long long *start, long long *end)
{
	long long now = (long long)time(NULL);

	*start = *end = 0;
	if (!c->at && !c->until && !c->dur)
		return CTL_OK;
	if (strcmp(action, "drain") && strcmp(action, "force-up") && strcmp(action, "force-down"))
		return usage_error("--at, --for and --until go with drain, force-up and "
				   "force-down, not %s",
				   action);
	if (c->dur && c->until)
		return usage_error("%s", "give --for or --until, not both");
	if (c->at) {
		*start = parse_utc(c->at);
		if (*start < 0)
			return usage_error("--at \"%s\": expected a UTC time such as "
					   "2026-12-24T02:00Z (or with an offset, +01:00)",
					   c->at);
		if (*start <= now) {
			/* As the API: a start in the past is now. */
			fprintf(stderr, "gslbctl: --at \"%s\" is in the past: starting now\n",
				c->at);
			*start = 0;
		}
	}
	if (c->dur) {
		long long d = parse_duration(c->dur);
		if (d == -2)
			return usage_error("--for \"%s\": at most %lld days (10 years); an "
					   "override without --for or --until never ends",
					   c->dur, DURATION_MAX / 86400);
		if (d < 0)
			return usage_error("--for \"%s\": expected a duration such as 30m, 2h, "
					   "1h30m or 1d",
					   c->dur);
		if (d == 0)
			return usage_error("--for \"%s\": the duration must be more than 0",
					   c->dur);
		*end = (*start ? *start : now) + d;
	}
	if (c->until) {
		if (future_time("--until", c->until, now, end))
			return CTL_USAGE;
		if (*start && *end <= *start)
			return usage_error("--until \"%s\" is not after --at \"%s\"", c->until,
					   c->at);
	}
	return CTL_OK;
}

static int cmd_override(const struct ctl *c, const char *action, const char *target)
{
	char path[2048], what[600];
	struct ctl_resp r;
	long long start, end;
	char *t;
	int rc;

	rc = schedule(c, action, &start, &end);
	if (rc)
		return rc;
	t = escape(target);
	if (!t)
		return CTL_REFUSED;
	snprintf(path, sizeof(path), "/override?action=%s&target=%s", action, t);
	if (start || end)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&start=%lld&end=%lld",
			 start, end);
	curl_free(t);
	snprintf(what, sizeof(what), "%s %s", action, target);
	rc = request(c, "POST", path, &r);
	if (rc)
		return rc;
	if (r.status != 200) {
		rc = refused(what, &r);
	} else if (c->json && r.json) {
		print_json(r.json);
	} else {
		char from[32], until[32];
		fmt_time(start, from, sizeof(from));
		fmt_time(end, until, sizeof(until));
		printf("%s %s: ok%s%s%s%s\n", action, jstr(r.json, "target", target),
		       start ? ", from " : "", start ? from : "", end ? ", until " : "",
		       end ? until : "");
	}
	resp_free(&r);
	return rc;
}

/* GET path and print the JSON report it answers, or its text through
 * print; what names the request in refusals. */
static int get_report(const struct ctl *c, const char *path, const char *what,
		      void (*print)(const json_t *, FILE *))
{
	struct ctl_resp r;
	char label[64];
	int rc = request(c, "GET", path, &r);

	if (rc)
		return rc;
	snprintf(label, sizeof(label), "%s (not JSON)", what);
	if (r.status != 200)
		rc = refused(what, &r);
	else if (!json_is_object(r.json))
		rc = refused(label, &r);
	else if (c->json)
		print_json(r.json);
	else
		print(r.json, stdout);
	resp_free(&r);
	return rc;
}

static int cmd_explain(const struct ctl *c, const char *address, const char *name)
{
	char path[2048];
	char *ea = escape(address), *en = escape(name);

	if (!ea || !en) {
		curl_free(ea);
		curl_free(en);
		return CTL_REFUSED;
	}
	snprintf(path, sizeof(path), "/explain?address=%s&name=%s", ea, en);
	curl_free(ea);
	curl_free(en);
	/* the same text as gslbd --explain */
	return get_report(c, path, "explain", explain_print);
}

static int cmd_whatif(const struct ctl *c, int nargs, char **args)
{
	char path[3500];
	size_t len;

	len = (size_t)snprintf(path, sizeof(path), "/what-if");
	for (int i = 0; i < nargs; i++) {
		char *e = escape(args[i]);
		int n;
		if (!e)
			return CTL_REFUSED;
		n = snprintf(path + len, sizeof(path) - len, "%cchange=%s", i ? '&' : '?', e);
		curl_free(e);
		if (n < 0 || (size_t)n >= sizeof(path) - len)
			return usage_error("%s", "what-if: changes too long");
		len += (size_t)n;
	}
	/* the same text as gslbd --what-if */
	return get_report(c, path, "what-if", whatif_print);
}

static int cmd_reload(const struct ctl *c)
{
	struct ctl_resp r;
	int rc = request(c, "POST", "/reload", &r);

	if (rc)
		return rc;
	if (r.status != 200)
		rc = refused("reload", &r);
	else if (c->json && r.json)
		print_json(r.json);
	else
		printf("reload: ok\n");
	resp_free(&r);
	return rc;
}

/* GET path and print the text body (metrics, ds). */
static int cmd_text(const struct ctl *c, const char *path, const char *what)
{
	struct ctl_resp r;
	int rc = request(c, "GET", path, &r);

	if (rc)
		return rc;
	if (r.status != 200)
		rc = refused(what, &r);
	else if (r.body.len)
		fwrite(r.body.data, 1, r.body.len, stdout);
	resp_free(&r);
	return rc;
}

static int cmd_ds(const struct ctl *c, const char *zone)
{
	char path[1200];
	char *ez = escape(zone);

	if (!ez)
		return CTL_REFUSED;
	snprintf(path, sizeof(path), "/ds?zone=%s", ez);
	curl_free(ez);
	return cmd_text(c, path, "ds");
}

static int is_override_action(const char *s)
{
	static const char *const actions[] = { "drain", "undrain", "force-up", "force-down",
					       "clear" };

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(s, actions[i]) == 0)
			return 1;
	return 0;
}

/* Checks the arguments before anything is sent, so that a usage error never
 * reaches the daemon. */
static int run(const struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	int nargs = argc - 1;

	if ((c->at || c->until || c->dur) && !is_override_action(cmd))
		return usage_error("--at, --for and --until go with drain, force-up and "
				   "force-down, not %s",
				   cmd);

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 ||
	    strcmp(cmd, "metrics") == 0) {
		if (nargs != 0)
			return usage_error("%s takes no arguments", cmd);
		if (cmd[0] == 's')
			return cmd_status(c);
		if (cmd[0] == 'r')
			return cmd_reload(c);
		return cmd_text(c, "/metrics", "metrics");
	}
	if (is_override_action(cmd)) {
		if (nargs == 2 && c->dur && parse_duration(argv[2]) > 0)
			return usage_error("--for \"%s\" then \"%s\": durations have no spaces: "
					   "%s%s",
					   c->dur, argv[2], c->dur, argv[2]);
		if (nargs != 1)
			return usage_error("%s needs one TARGET: region:R, pool:SERVICE/R or "
					   "member:SERVICE/R/ADDRESS",
					   cmd);
		return cmd_override(c, cmd, argv[1]);
	}
	if (strcmp(cmd, "what-if") == 0)
		return cmd_whatif(c, nargs, argv + 1);
	if (strcmp(cmd, "ds") == 0) {
		if (nargs != 1)
			return usage_error("%s needs one ZONE", cmd);
		return cmd_ds(c, argv[1]);
	}
	if (strcmp(cmd, "explain") == 0) {
		if (nargs != 2)
			return usage_error("%s needs ADDRESS[/PREFIX] and NAME", cmd);
		return cmd_explain(c, argv[1], argv[2]);
	}
	return usage_error("unknown command \"%s\"", cmd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "at", required_argument, NULL, 'A' },
		{ "until", required_argument, NULL, 'U' },
		{ "for", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { .timeout = 30 };
	const char *server = NULL, *config = NULL, *token_file = NULL;
	int opt, rc;

	for (;;) {
		opt = getopt_long(argc, argv, "s:c:T:jt:hV", opts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 't': {
			char *end;
			errno = 0;
			long t = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || t < 1 || t > 3600)
				return usage_error("bad timeout \"%s\": whole seconds, 1 to 3600",
						   optarg);
			c.timeout = t;
			break;
		}
		case 'A':
			if (c.at)
				return usage_error(
					"--at given twice (\"%s\", \"%s\"): give it once", c.at,
					optarg);
			c.at = optarg;
			break;
		case 'U':
			if (c.until)
				return usage_error(
					"--until given twice (\"%s\", \"%s\"): give it once",
					c.until, optarg);
			c.until = optarg;
			break;
		case 'F':
			if (c.dur)
				return usage_error(
					"--for given twice (\"%s\", \"%s\"): give it once", c.dur,
					optarg);
			c.dur = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		case 'V':
			printf("gslbctl %s\n", PACKAGE_VERSION);
			return CTL_OK;
		default:
			fprintf(stderr, "Try 'gslbctl --help'.\n");
			return CTL_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	/* An explicit token wins over the environment, which wins over -c. */
	if (token_file) {
		rc = token_from_file(&c, token_file);
		if (rc)
			return rc;
	} else if (getenv("GSLB_ADMIN_TOKEN") && getenv("GSLB_ADMIN_TOKEN")[0]) {
		snprintf(c.auth, sizeof(c.auth), "Authorization: Bearer %s",
			 getenv("GSLB_ADMIN_TOKEN"));
	}
	if (server) {
		if (server_from_arg(&c, server))
			return usage_error("bad server \"%s\": HOST:PORT or [IPV6]:PORT", server);
	} else if (config) {
		rc = server_from_config(&c, config);
		if (rc)
			return rc;
	} else {
		set_server(&c, CTL_DEFAULT_SERVER);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "gslbctl: cannot initialise libcurl\n");
		return CTL_UNREACHABLE;
	}
	rc = run(&c, argc - optind, argv + optind);
	curl_global_cleanup();
	return rc;
}
