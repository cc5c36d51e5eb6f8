/* The DNS server's metric families: queries by transport, qtype and rcode,
 * answers by service and region, and what the ACL, RRL and the TCP limits
 * turned away. Counted in the shards of the DNS workers and the TCP loop. */
#include "gslb/metrics.h"

#include "gslb/dns.h"
#include "gslb/dnsdefs.h"
#include "gslb/service.h"

static const char *const transports[MT_N] = { "udp", "tcp" };

static const char *const qtype_names[METRICS_QTYPES] = {
	"A",   "NS",    "CNAME", "SOA",  "PTR",   "MX",  "TXT", "AAAA",
	"SRV", "NAPTR", "DS",    "SVCB", "HTTPS", "CAA", "ANY", "other",
};

static const char *const rcode_names[METRICS_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	"REFUSED", "NOTAUTH", "BADVERS",  "other",
};

static const char *const rrl_actions[] = { "drop", "slip" };
static const char *const acl_actions[] = { "refuse", "drop" };
static const char *const tcp_limits[] = { "max_per_ip", "max_connections" };
static const char *const split_rules[MDNS_SPLIT_RULES] = { "1", "2", "3", "4", "5",
							   "6", "7", "8", "9+" };

static const struct metric_family dns_families[] = {
	[MDNS_QUERIES] = { .name = "gslb_dns_queries_total",
			   .help = "DNS queries answered, by transport, qtype and rcode.",
			   .type = METRIC_COUNTER,
			   .flags = METRIC_NONZERO,
			   .labels = { METRIC_ENUM("transport", transports),
				       METRIC_ENUM("qtype", qtype_names),
				       METRIC_ENUM("rcode", rcode_names) } },
	[MDNS_DROPPED] = { .name = "gslb_dns_dropped_total",
			   .help = "DNS messages not answered (malformed, or responses).",
			   .type = METRIC_COUNTER,
			   .labels = { METRIC_ENUM("transport", transports) } },
	[MDNS_ECS] = { .name = "gslb_dns_ecs_queries_total",
		       .help = "Queries carrying an EDNS Client Subnet.",
		       .type = METRIC_COUNTER },
	[MDNS_TRUNCATED] = { .name = "gslb_dns_truncated_total",
			     .help = "UDP answers sent truncated (TC).",
			     .type = METRIC_COUNTER },
	[MDNS_ANSWERS] = { .name = "gslb_service_answers_total",
			   .help = "Geo answers, by service and region.",
			   .type = METRIC_COUNTER,
			   .labels = { { .kind = ML_POOL } } },
	[MDNS_ALL_DOWN] = { .name = "gslb_service_all_down_total",
			    .help = "Answers given by when_all_down, by service.",
			    .type = METRIC_COUNTER,
			    .labels = { { .kind = ML_SERVICE } } },
	[MDNS_RRL] = { .name = "gslb_rrl_responses_total",
		       .help = "UDP responses held back by response rate limiting, by action.",
		       .type = METRIC_COUNTER,
		       .labels = { METRIC_ENUM("action", rrl_actions) } },
	[MDNS_ACL] = { .name = "gslb_acl_denied_total",
		       .help = "Queries turned away by the ACL, by action.",
		       .type = METRIC_COUNTER,
		       .labels = { METRIC_ENUM("action", acl_actions) } },
	[MDNS_TCP_REFUSED] = { .name = "gslb_tcp_refused_total",
			       .help = "TCP connections closed at once, by the limit that refused "
				       "them.",
			       .type = METRIC_COUNTER,
			       .labels = { METRIC_ENUM("limit", tcp_limits) } },
	[MDNS_TCP_EVICTED] = { .name = "gslb_tcp_evicted_total",
			       .help = "Idle TCP connections closed to make room for new ones "
				       "(tcp.max_connections reached).",
			       .type = METRIC_COUNTER },
	[MDNS_SPLIT] = { .name = "gslb_split_answers_total",
			 .help = "Geo answers decided by a split route rule, by service, region "
				 "and the rule's place in the service's routes.",
			 .type = METRIC_COUNTER,
			 .flags = METRIC_NONZERO,
			 .labels = { { .kind = ML_POOL }, METRIC_ENUM("rule", split_rules) } },
};

const struct metric_set metrics_dns_set = METRIC_SET(dns_families);

static unsigned qtype_bucket(uint16_t t)
{
	/* In the order of qtype_names. */
	static const uint16_t known[METRICS_QTYPES - 1] = {
		DNS_T_A,  DNS_T_NS,   DNS_T_CNAME, DNS_T_SOA, DNS_T_PTR,
		DNS_T_MX, DNS_T_TXT,  DNS_T_AAAA,  DNS_T_SRV, DNS_T_NAPTR,
		DNS_T_DS, DNS_T_SVCB, DNS_T_HTTPS, DNS_T_CAA, DNS_T_ANY,
	};
	for (unsigned i = 0; i < METRICS_QTYPES - 1; i++)
		if (known[i] == t)
			return i;
	return METRICS_QTYPES - 1;
}

static unsigned rcode_bucket(uint16_t r)
{
	if (r <= 5)
		return r;
	return r == 9 ? 6 : r == 16 ? 7 : 8;
}

void metrics_dns(struct metrics_shard *s, enum metrics_transport t, size_t reply_len,
		 const struct dns_info *info)
{
	if (reply_len == 0) {
		metrics_inc(s, MDNS_DROPPED, t);
		return;
	}
	metrics_inc(s, MDNS_QUERIES,
		    ((size_t)t * METRICS_QTYPES + qtype_bucket(info->qtype)) * METRICS_RCODES +
			    rcode_bucket(info->rcode));
	if (info->ecs)
		metrics_inc(s, MDNS_ECS, 0);
	if (info->truncated)
		metrics_inc(s, MDNS_TRUNCATED, 0);
	if (info->slot >= 0 && info->slot < METRICS_SLOTS) {
		metrics_inc(s, MDNS_ANSWERS, (size_t)info->slot);
		if (info->split_rule >= 0) {
			size_t r = info->split_rule < MDNS_SPLIT_RULES - 1 ?
					   (size_t)info->split_rule :
					   MDNS_SPLIT_RULES - 1;
			metrics_inc(s, MDNS_SPLIT, (size_t)info->slot * MDNS_SPLIT_RULES + r);
		}
	}
	if (info->all_down && info->service) {
		int ss = info->service->metric_slot;
		if (ss >= 0 && ss < METRICS_SLOTS)
			metrics_inc(s, MDNS_ALL_DOWN, (size_t)ss);
	}
}
