/* The geo-balancing model, as loaded from the config: regions (sites with
 * coordinates), services (owner names with a policy), one pool of members
 * per service and region, and route rules. Immutable once built. */
#ifndef GSLB_SERVICE_H
#define GSLB_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/dname.h"
#include "gslb/net.h"

#define GSLB_MAX_REGIONS 64

struct region {
	char *name;
	double lat, lon;
	double sin_lat, cos_lat, lon_rad; /* precomputed for distance ordering */
	char *redirect;                   /* optional redirect target (HTTP listener) */
	double bias; /* -99..99: distance ordering uses distance x (1 - bias/100) */
	int line;
};

enum check_type {
	CHECK_HTTP,
	CHECK_HTTPS,
	CHECK_TCP,
	CHECK_DNS,
};

/* A probe template, referenced by pools. */
struct check {
	char *name;
	enum check_type type;
	double interval;         /* seconds between probes of one member */
	double timeout;          /* seconds, < interval */
	unsigned rise;           /* consecutive successes to go up */
	unsigned fall;           /* consecutive failures to go down */
	uint16_t port;           /* 0 = the type's default (80, 443, 53); tcp needs one */
	char *source;            /* local address probes leave from, NULL = the kernel's choice */
	int source_family;       /* AF_INET, AF_INET6; 0 without source */
	uint8_t source_addr[16]; /* source, parsed */
	/* http, https */
	char *path;              /* default "/" */
	char *host;              /* Host header and TLS SNI; NULL = the member address */
	int method_head;         /* HEAD instead of GET */
	unsigned *expect_status; /* default { 200 } */
	size_t nexpect_status;
	char *expect_body; /* substring in the first 64 KiB, NULL = any */
	char **headers;    /* "Name: value" */
	size_t nheaders;
	int follow_redirects;
	int tls_verify; /* certificate and host name, default on */
	char *ca_file;  /* NULL = system CAs */
	/* dns */
	char *query;         /* name asked, default the service name */
	uint16_t qtype;      /* default A */
	int expect_rcode;    /* default 0 (NOERROR) */
	char *expect_answer; /* an address or text that must be in the answer, NULL = any */
	int line;
};

enum all_down {
	ALL_DOWN_FAIL_OPEN, /* answer as if every pool were up */
	ALL_DOWN_NODATA,
	ALL_DOWN_SERVFAIL,
	ALL_DOWN_FALLBACK, /* the service's fallback addresses or CNAME */
};

/* The one spelling of each policy, as the config writes it: "fail-open",
 * "nodata", "servfail", "fallback" (decide.c). */
const char *all_down_name(enum all_down w);

enum members_pick {
	PICK_WEIGHTED, /* a weighted random draw, rotated between queries */
	PICK_STICKY,   /* rendezvous hash of the client subnet: the same members */
};

struct member {
	int family; /* AF_INET or AF_INET6; 0 for a host name */
	uint8_t addr[16];
	char *hostname;  /* resolved with c-ares when set */
	uint32_t weight; /* >= 1 */
	char *text;      /* as written in the config */
	char *target;    /* what a check probes instead, NULL = the member */
	int line;
};

/* pools[].load: where a pool's probes read a load figure (0..1), and the
 * thresholds of load shedding (health.c computes the pool's share). */
enum load_from {
	LOAD_NONE,        /* no load = { } */
	LOAD_BODY_JSON,   /* "body-json:KEY": a number at KEY (dots: nested) */
	LOAD_HEADER,      /* "header:NAME": a response header holding a number */
	LOAD_BODY_NUMBER, /* "body-number": the body is a number */
};

struct pool_load {
	char *from;      /* as written */
	unsigned kind;   /* enum load_from */
	const char *key; /* inside `from`: the JSON key path or header name */
	double low;      /* below or at: nothing shed */
	double high;     /* at or above: the pool is full (takes no clients) */
};

struct pool {
	unsigned region; /* index into conf->regions */
	unsigned gidx;   /* index of this pool in health views */
	int metric_slot; /* metrics series of this service and region, -1 = none */
	char *check;     /* check name, NULL when unchecked */
	int check_idx;   /* index into conf->checks, -1 when unchecked */
	double min_up;   /* a count (>= 1) or a fraction (< 1) */
	struct member *members;
	size_t nmembers;
	unsigned n4, n6;             /* members per family */
	uint8_t cname[DNAME_MAXLEN]; /* CNAME target instead of members */
	uint8_t cname_len;           /* 0 = none */
	/* A CNAME pool with a check has one host-name member, its target:
	 * probed (never answered) like any host-name member, or, with a dns
	 * check (cname_query), asked for itself with no address of its own. */
	uint8_t cname_query;
	struct pool_load load; /* load shedding, kind LOAD_NONE when off */
	int line;
};

enum route_kind {
	ROUTE_COUNTRY,
	ROUTE_CONTINENT,
	ROUTE_SUBDIVISION,
	ROUTE_NET,
	ROUTE_ASN, /* geoip.asn_database: the client's autonomous system */
};

#define ROUTE_SPLIT_RING 10000u

struct route {
	enum route_kind kind;
	char code[16];       /* upper-case ISO code, "PL", "EU", "US-CA" */
	struct net_cidr net; /* ROUTE_NET */
	uint32_t asn;        /* ROUTE_ASN (code holds it in decimal) */
	unsigned *regions;
	size_t nregions;
	/* split = ( { region; weight; } ): regions are the split's, and a
	 * client whose subnet hashes to bucket b of a ring of ROUTE_SPLIT_RING
	 * gets the first region i with b < split_end[i] first, then its usual
	 * order; NULL for a plain region list */
	uint32_t *split_end;
	char *text; /* "country:PL", for explain */
	int line;
};

struct service {
	char *name;                  /* presentation form, as configured */
	uint8_t lname[DNAME_MAXLEN]; /* lower-cased wire, "*" label kept for wildcards */
	uint8_t lname_len;
	int wildcard;
	uint32_t ttl;
	unsigned answers; /* most addresses per answer */
	unsigned limit;   /* most regions tried, 0 = all */
	struct route *routes;
	size_t nroutes;
	unsigned *dflt; /* order for unknown locations, NULL = config order */
	size_t ndflt;
	struct pool *pools;
	size_t npools;
	int pool_of_region[GSLB_MAX_REGIONS]; /* pool index or -1 */
	/* HTTP redirect: "https://{region}.example.com" ({region} is replaced
	 * by the region name; a region's own `redirect` wins), NULL = no
	 * redirects for this service (404). */
	char *redirect_target;
	unsigned redirect_status; /* 301, 302 (default), 303, 307, 308 */
	int redirect_all_methods; /* redirect every method (307/308), not just GET/HEAD */
	enum all_down when_all_down;
	struct pool fallback;  /* ALL_DOWN_FALLBACK: members or cname, no region */
	uint32_t ttl_min;      /* TTL while an answering pool fails probes */
	unsigned members_pick; /* enum members_pick */
	/* the client subnet hashed by sticky members: bits kept per family */
	unsigned hash_prefix_v4, hash_prefix_v6;
	int metric_slot; /* metrics series of the service itself */
	int line;
	const char *file;
};

#endif
