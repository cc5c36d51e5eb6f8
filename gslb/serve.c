/* The query path shared by UDP and TCP: ACL, dns_process, counters, RRL.
 * See serve.h. */
#include "gslb/serve.h"

#include <assert.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "gslb/net.h"
#include "gslb/config.h"
#include "gslb/dns.h"
#include "gslb/dnstap.h"
#include "gslb/metrics.h"
#include "gslb/rrl.h"
#include "gslb/snapshot.h"
#include "gslb/xfr.h"

enum acl_verdict {
	ACL_SERVE = 0,
	ACL_REFUSE = 1,
	ACL_DROP = 2
};

/* The query ACL, before any other work: deny and the blocklist win, then
 * an allow list (when given) must match. */
static enum acl_verdict acl_verdict(const struct snapshot *snap, const struct sockaddr *peer)
{
	const struct conf *c = snap->conf;
	if (!c->acl_allow && !c->acl_deny && !snap->acl_block)
		return ACL_SERVE;
	uint8_t a[16];
	int family;
	if (peer == NULL) {
		return ACL_SERVE;
	} else if (peer->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
		family = AF_INET;
	} else if (peer->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
		family = AF_INET6;
	} else {
		return ACL_SERVE;
	}
	int denied = net_set_contains(c->acl_deny, family, a) ||
		     net_set_contains(snap->acl_block, family, a) ||
		     (c->acl_allow && !net_set_contains(c->acl_allow, family, a));
	if (!denied)
		return ACL_SERVE;
	return c->acl_drop ? ACL_DROP : ACL_REFUSE;
}

/* Response rate limiting of one UDP reply of len bytes: returns the length
 * to send, 0 when the reply is dropped, the truncated length when it
 * slips. */
static size_t rate_limit(const struct snapshot *snap, struct rrl *rrl, struct serve_thread *t,
			 const struct dns_request *req, size_t len, const uint8_t *rrl_name,
			 int64_t now_s)
{
	enum rrl_verdict v = rrl_check(rrl, &snap->conf->rrl, req->peer, req->resp, len, rrl_name,
				       now_s, serve_rng_next(&t->rng));
	if (v == RRL_DROP) {
		metrics_inc(t->ms, MDNS_RRL, MRRL_DROP);
		return 0;
	}
	if (v == RRL_SLIP) {
		metrics_inc(t->ms, MDNS_RRL, MRRL_SLIP);
		return rrl_truncate(req->resp, len);
	}
	return len;
}

size_t serve_query(struct snapshot *const *snapp, struct rrl *rrl, struct serve_thread *t,
		   const struct dns_request *req, int64_t now_s, enum serve_action *action)
{
	const struct snapshot *snap;
	struct dns_info info;
	size_t len;

	*action = SERVE_SEND;
	urcu_memb_read_lock();
	snap = rcu_dereference(*snapp);
	enum acl_verdict acl = acl_verdict(snap, req->peer);
	if (acl != ACL_SERVE) {
		len = acl == ACL_REFUSE ? dns_refuse(req) : 0;
		metrics_inc(t->ms, MDNS_ACL, acl == ACL_REFUSE ? MACL_REFUSE : MACL_DROP);
		if (acl == ACL_DROP)
			*action = SERVE_DROP;
	} else {
		/* A query signed with one of our TSIG keys (xfr.h). */
		size_t tsig_at = snap->conf->ntsig ? xfr_tsig_start(req->query, req->query_len) : 0;
		int signed_done = 0;
		if (tsig_at)
			len = xfr_signed_query(snap, req, tsig_at, &info, &signed_done);
		if (!signed_done)
			len = dns_process(snap, req, &info);
		/* info.service points into the snapshot: count inside. */
		metrics_dns(t->ms, req->transport == DNS_UDP ? MT_UDP : MT_TCP, len, &info);
		if (len && rrl && req->transport == DNS_UDP && snap->conf->rrl.rate)
			len = rate_limit(snap, rrl, t, req, len, info.rrl_name, now_s);
	}
	if (snap->dnstap)
		dnstap_log(snap->dnstap, snap, req, len, acl == ACL_SERVE ? &info : NULL);
	urcu_memb_read_unlock();
	/* Never more than the caller's buffer: a longer length would send
	 * memory past the reply. */
	assert(len <= req->resp_cap);
	return len;
}

int serve_transfer(struct snapshot *const *snapp, struct serve_thread *t,
		   const struct xfr_keeper *keeper, const struct dns_request *req, uint8_t **out,
		   size_t *outlen, enum serve_action *action)
{
	int done = 0;

	*action = SERVE_SEND;
	*out = NULL;
	*outlen = 0;
	urcu_memb_read_lock();
	const struct snapshot *snap = rcu_dereference(*snapp);
	if (acl_verdict(snap, req->peer) == ACL_SERVE)
		done = xfr_answer(snap, keeper, req, out, outlen);
	urcu_memb_read_unlock();
	(void)t;
	return done;
}

uint64_t serve_rng_seed(unsigned salt)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32) ^ ((uint64_t)salt * 0x9E3779B97F4A7C15ull);
}
