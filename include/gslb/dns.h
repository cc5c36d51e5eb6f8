/* The query-to-response function: decodes one DNS message from untrusted
 * bytes, looks it up in the current snapshot and renders the reply into a
 * caller-owned fixed buffer. It takes no locks and never allocates: all
 * scratch space is on the stack or in the caller's buffer, so it is safe to
 * call from any number of worker threads inside an RCU read-side section. */
#ifndef GSLB_DNS_H
#define GSLB_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct snapshot;
struct route;
struct service;

#define DNS_HEADER_LEN 12
#define DNS_MAX_MSG 65535
#define DNS_MIN_UDP 512
#define DNS_DEFAULT_EDNS_SIZE 1232

/* Protocol verdicts of decoding, mapped to rcodes by the renderer. */
enum dns_decode {
	DECODE_OK = 0,
	DECODE_DROP,    /* not worth a reply: too short, or a response */
	DECODE_FORMERR, /* malformed */
	DECODE_NOTIMP,  /* opcode or qtype we do not implement */
	DECODE_BADVERS, /* EDNS version > 0 */
	DECODE_REFUSED, /* class or name we do not serve */
	DECODE_NOTAUTH, /* signed with TSIG: gslbd knows no key */
};

enum dns_transport {
	DNS_UDP = 0,
	DNS_TCP = 1,
};

struct dns_request {
	const uint8_t *query;
	size_t query_len;
	uint8_t *resp;   /* output buffer */
	size_t resp_cap; /* its size; 65535 lets any transport limit apply */
	enum dns_transport transport;
	const struct sockaddr *peer; /* source address (may be NULL in tests) */
	socklen_t peer_len;
	uint32_t entropy; /* per-query randomness from the worker, for weighted picks */
	/* The address and port the query was sent to, or NULL when unknown
	 * (for dnstap's response_address). */
	const struct sockaddr *local;
};

/* What happened, for counters and logs. */
struct dns_info {
	enum dns_decode verdict;
	uint16_t qtype;
	uint16_t rcode; /* the full rcode (BADVERS is 16) */
	uint8_t truncated;
	uint8_t edns;
	uint8_t ecs;                   /* the query carried a client subnet */
	const struct service *service; /* the service answered, or NULL */
	int region;                    /* the region chosen, or -1 */
	int slot;                      /* metrics slot of the pool answered, -1 = none */
	int split_rule; /* a split route rule decided: its index in the service's routes, else -1 */
	uint8_t all_down; /* the service's when_all_down applied */
	/* With a service: how decide() ordered the regions (enum decide_rule;
	 * route is the rule for RULE_ROUTE, else NULL) and the decision's ECS
	 * scope. For logs (dnstap's extra field). */
	uint8_t rule;
	uint8_t scope;
	const struct route *route;
	/* For rate limiting: the name an answer was made from when it is not the
	 * question (a zone wildcard "*.x", a wildcard service), else NULL. */
	const uint8_t *rrl_name;
};

/* Answer one query. Returns the response length, or 0 when nothing must be
 * sent. info may be NULL. */
size_t dns_process(const struct snapshot *snap, const struct dns_request *req,
		   struct dns_info *info);

/* A REFUSED reply to a query an ACL turned away, before any other work:
 * header and question only. Returns its length, 0 when the query deserves
 * no reply (too short, a response, no parsable question). */
size_t dns_refuse(const struct dns_request *req);

#endif
