/* gslb.conf (libconfig): parsed and validated into a plain immutable
 * structure. Errors name the file, the line and what is wrong. */
#ifndef GSLB_CONFIG_H
#define GSLB_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "gslb/cluster.h"
#include "gslb/webhook.h"
#include "gslb/geo.h"
#include "gslb/rrl.h"
#include "gslb/log.h"
#include "gslb/service.h"

struct dnssec_key;

struct conf_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *text; /* as written, for logs */
};

/* A certificate chain and key (PEM files), for one SNI name or the default. */
struct conf_tls_cert {
	char *name; /* SNI host name, "*.example.com" allowed; NULL = default */
	char *cert;
	char *key;
};

struct conf_http_listen {
	struct conf_listen l;
	struct conf_tls_cert *certs; /* [0] is the default; NULL = plain HTTP */
	size_t ncerts;
};

/* zones[].dnssec (config_dnssec.c); enabled = 0 when the group is absent. */
struct conf_dnssec {
	int enabled;
	char **key_paths; /* base names: .key and .private are added */
	size_t nkey_paths;
	struct dnssec_key *keys; /* loaded and checked (dnssec.h) */
	size_t nkeys;
	uint32_t signature_validity; /* seconds */
	uint32_t signature_refresh;  /* re-sign this long before expiry */
	uint32_t inception_offset;   /* clock skew allowance */
	int nsec;                    /* 0 = compact (RFC 9824) */
};

/* tsig = ( { name; algorithm; secret; } ) (config_xfr.c): a shared key. */
struct conf_tsig {
	char *name;    /* key name, a domain name as written */
	int algorithm; /* enum conf_tsig_alg */
	char *secret;  /* base64, checked at load */
	int line;
};

enum conf_tsig_alg {
	CONF_TSIG_HMAC_SHA256 = 0,
	CONF_TSIG_HMAC_SHA512 = 1,
};

enum conf_serial_policy {
	CONF_SERIAL_INCREMENT = 0,
	CONF_SERIAL_UNIXTIME = 1,
};

/* zones[].transfer (config_xfr.c); enabled = 0 when the group is absent. */
struct conf_transfer {
	int enabled;
	struct net_set *allow;           /* who may transfer; NULL = nobody */
	char *tsig;                      /* key name as written, NULL = none */
	int key;                         /* index into conf.tsig, -1 = none */
	struct sockaddr_storage *notify; /* secondaries told of new serials */
	socklen_t *notify_len;
	size_t nnotify;
	int serial_policy; /* enum conf_serial_policy */
};

struct conf_zone {
	char *origin; /* presentation form */
	char *file;   /* resolved path */
	int line;     /* line of the entry in the config, for messages */
	const char *conf_file;
	struct conf_dnssec dnssec;
	struct conf_transfer transfer;
};

/* dnstap = { socket | tcp; log_queries; log_responses; identity; version;
 * sample; }: query and response logging to a Frame Streams collector
 * (dnstap.c). */
struct dnstap_conf {
	int enabled;  /* the group was given */
	char *socket; /* a Unix socket (resolved against directory), or NULL */
	char *tcp;    /* "host:port" as written, or NULL */
	struct sockaddr_storage tcp_addr;
	socklen_t tcp_addr_len;
	int log_queries, log_responses;
	char *identity;  /* the host name when not given */
	char *version;   /* "gslbd VERSION" when not given */
	unsigned sample; /* one query in sample is logged (per worker) */
};

struct conf {
	char *path;      /* the config file */
	char *directory; /* base for relative paths */

	struct conf_listen *dns;
	size_t ndns;
	unsigned workers;          /* resolved: 0 in the file means one per CPU */
	struct conf_listen *admin; /* listen.admin, NULL = no admin listener */
	char *admin_token;         /* from admin_token_file: non-loopback control */
	int admin_require_token;   /* the token even from loopback (shared hosts) */
	char **admin_hosts;        /* Host names the admin listener answers (lower
				    * case, no trailing dot); addresses and
				    * localhost always */
	size_t nadmin_hosts;
	struct conf_http_listen *http; /* listen.http: the redirect listener */
	size_t nhttp;
	struct net_set *trusted_proxies; /* peers whose X-Forwarded-For is believed */
	/* http = { ... }: the redirect listener's limits and options */
	struct net_set *explain_from;  /* who may ask ?explain (NULL: loopback) */
	unsigned http_max_connections; /* total */
	unsigned http_max_per_ip;      /* connections from one client network */
	unsigned http_ipv4_prefix;     /* the client network of max_per_ip: /24 ... */
	unsigned http_ipv6_prefix;     /* ... and /64 */
	unsigned http_header_limit;    /* bytes of request head, else 431 */
	double http_request_timeout;   /* seconds for a whole request */
	int http_access_log;           /* one info line per request */

	struct conf_zone *zones;
	size_t nzones;
	struct conf_tsig *tsig; /* TSIG keys (zone transfers, NOTIFY, signed queries) */
	size_t ntsig;

	uint16_t edns_size; /* advertised and maximum UDP payload */
	uint8_t *nsid;      /* NSID option payload, NULL when off */
	uint16_t nsid_len;
	char *identity; /* CHAOS id.server / hostname.bind, NULL = refuse */
	char *version;  /* CHAOS version.bind / version.server, NULL = refuse */

	struct region *regions;
	size_t nregions;
	int region_bias; /* a region has a bias: order by biased distances */
	struct service *services;
	size_t nservices;
	size_t npools; /* over all services: the size of health views */
	struct check *checks;
	size_t nchecks;
	char *state_dir; /* resolved path, NULL = no persistence */
	/* user/group: who the daemon runs as once its sockets are bound
	 * (privs.c); NULL user = stay as started. Looked up at load. */
	char *user;
	char *group; /* NULL = the user's primary group */
	uid_t uid;
	gid_t gid;
	struct log_conf log; /* log = { level; syslog; facility; } */
	char *resolvers;     /* "ip:port,[v6]:port" for host-name members, NULL = system */
	int has_geoip;       /* a geoip section was given */
	int geoip_compact;   /* geoip.compact: decide from a merged class table */
	struct geo_conf geoip;

	unsigned probe_max_inflight; /* probes running at once; 0 = from RLIMIT_NOFILE */

	struct rrl_conf rrl;         /* rrl = { ... }; rate 0 = off */
	struct dnstap_conf dnstap;   /* dnstap = { ... }; enabled 0 = off */
	struct cluster_conf cluster; /* cluster = { ... }; enabled 0 = one node alone */
	struct notify_hook *notify;  /* notify = ( ... ): webhook receivers (webhook.h) */
	size_t nnotify;
	/* acl = { allow; deny; blocklist; action; }: checked before any work */
	struct net_set *acl_allow; /* NULL = everyone */
	struct net_set *acl_deny;  /* NULL = nobody */
	char *acl_blocklist;       /* file of networks, reloaded on change; NULL = none */
	int acl_drop;              /* denied queries dropped, not REFUSED */

	double tcp_idle_timeout;  /* seconds */
	unsigned tcp_max_per_ip;  /* connections from one client network, 0 = no limit */
	unsigned tcp_ipv4_prefix; /* the client network of max_per_ip: /24 ... */
	unsigned tcp_ipv6_prefix; /* ... and /64 */
	double tcp_max_lifetime;  /* seconds a connection may live, 0 = no limit */
	unsigned tcp_max_connections;
	unsigned tcp_max_queries; /* per connection, 0 = unlimited */

	/* private: copies of config file names that conf_zone.conf_file
	 * points into (the libconfig tree is gone after conf_load) */
	char **strings;
	size_t nstrings;
};

/* Parse and validate path. On failure returns a negative gslb_err and writes
 * "file:line: reason" to err. The result is owned by the caller (conf_free). */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
/* conf_load for a client that needs listen.admin and the admin token only
 * (gslbctl -c): DNSSEC keys are not read, nor are other files (TLS keys,
 * CA files) checked, so that a user who cannot read them can still run it.
 * The conf is not fit to serve from. */
int conf_load_admin(const char *path, struct conf **out, char *err, size_t errlen);

/* gslbd --ds: the DS records of zone's keys (config_dnssec.c) to out; on
 * error a message in err and a negative gslb_err. */
int conf_dnssec_print_ds(const char *path, const char *zone, FILE *out, char *err, size_t errlen);
/* The same from a loaded config (the admin's /ds, gslbctl ds). */
int conf_dnssec_ds(const struct conf *c, const char *zone, FILE *out, char *err, size_t errlen);
void conf_free(struct conf *c);

/* Two TSIG key names are the same domain name (config_xfr.c). */
int conf_tsig_same(const char *a, const char *b);

/* "127.0.0.1:53", "[::1]:53", "::1" (port defaults to def_port). */
int conf_parse_hostport(const char *s, uint16_t def_port, struct sockaddr_storage *ss,
			socklen_t *len);

#endif
