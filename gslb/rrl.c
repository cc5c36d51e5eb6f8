/* Response rate limiting. One shared table of 64-bit words, each packing a
 * bucket's tag, its last second and its balance, updated with
 * compare-and-swap: no lock, and no allocation, on the query path. A
 * collision replaces the older bucket, as BIND's table does when full: at
 * worst a flood's bucket restarts with a full balance, never a legitimate
 * client is blocked for another's traffic. */
#include "gslb/rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/cidrset.h"
#include "gslb/dname.h"
#include "gslb/wire.h"

#define RRL_BITS 18 /* 256 Ki buckets, 2 MiB */

struct rrl {
	uint64_t *table;
};

/* word: tag (24) | second (20) | balance + 2^19 (20) */
#define TAG_SHIFT 40
#define SEC_SHIFT 20
#define BAL_BIAS (1 << 19)
#define BAL_MASK 0xFFFFFull
#define SEC_MASK 0xFFFFFull

struct rrl *rrl_new(void)
{
	struct rrl *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->table = calloc((size_t)1 << RRL_BITS, sizeof(uint64_t));
	if (!r->table) {
		free(r);
		return NULL;
	}
	return r;
}

void rrl_free(struct rrl *r)
{
	if (!r)
		return;
	free(r->table);
	free(r);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h;
}

/* Which answer a reply is, for bucketing: positive answers by (qname,
 * qtype); NXDOMAIN and referrals and NODATA by the zone (the SOA or NS
 * owner in authority), so random-subdomain floods share one bucket; errors
 * by rcode alone. */
static uint64_t answer_key(const uint8_t *reply, size_t len, const uint8_t *wild, int *ok)
{
	struct wire w;
	uint8_t name[DNAME_MAXLEN], lname[DNAME_MAXLEN];
	uint64_t h = 1469598103934665603ull;
	*ok = 0;
	wire_init(&w, reply, len);
	wire_skip(&w, 2);
	uint16_t flags = wire_u16(&w);
	uint16_t qd = wire_u16(&w), an = wire_u16(&w), ns = wire_u16(&w);
	wire_skip(&w, 2);
	unsigned rcode = flags & 0xF;
	if (!wire_ok(&w))
		return 0;
	h = mix(h, rcode);
	if (rcode != 0 && rcode != 3) {
		*ok = 1; /* errors: one bucket per client network and rcode */
		return h;
	}
	if (qd != 1)
		return 0;
	size_t nl = dname_parse(&w, name);
	uint16_t qtype = wire_u16(&w);
	wire_skip(&w, 2);
	if (!nl || !wire_ok(&w))
		return 0;
	if (rcode == 0 && an > 0) {
		if (wild) {
			size_t wl = dname_len(wild);
			h = mix(h, dname_hash(wild, wl));
			h = mix(h, 0x2A); /* '*': apart from the same name asked exactly */
		} else {
			dname_tolower(lname, name, nl);
			h = mix(h, dname_hash(lname, nl));
		}
		h = mix(h, qtype);
		*ok = 1;
		return h;
	}
	/* NXDOMAIN, NODATA, referral: the authority owner names the zone. */
	for (uint16_t i = 0; i < an; i++) {
		if (!dname_parse(&w, name))
			return 0;
		wire_skip(&w, 8);
		uint16_t rdlen = wire_u16(&w);
		wire_skip(&w, rdlen);
	}
	if (ns > 0) {
		nl = dname_parse(&w, name);
		if (!nl || !wire_ok(&w))
			return 0;
		dname_tolower(lname, name, nl);
		h = mix(h, dname_hash(lname, nl));
	}
	h = mix(h, 0xAB); /* not the same bucket as a positive answer */
	*ok = 1;
	return h;
}

static int client_net(const struct rrl_conf *c, const struct sockaddr *peer, uint8_t out[16],
		      int *family)
{
	memset(out, 0, 16);
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)peer;
		memcpy(out, &s4->sin_addr, 4);
		*family = AF_INET;
		unsigned p = c->ipv4_prefix > 32 ? 32 : c->ipv4_prefix;
		for (unsigned b = p; b < 32; b++)
			out[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		return 0;
	}
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)peer;
		memcpy(out, &s6->sin6_addr, 16);
		*family = AF_INET6;
		unsigned p = c->ipv6_prefix > 128 ? 128 : c->ipv6_prefix;
		for (unsigned b = p; b < 128; b++)
			out[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		return 0;
	}
	return -1;
}

enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_conf *c, const struct sockaddr *peer,
			   const uint8_t *reply, size_t len, const uint8_t *name, int64_t now_s,
			   uint32_t entropy)
{
	uint8_t net[16], full[16];
	int family, ok;
	if (!r || !c->rate || !peer || client_net(c, peer, net, &family))
		return RRL_SEND;
	if (c->exempt) {
		memset(full, 0, sizeof(full));
		if (family == AF_INET)
			memcpy(full, &((const struct sockaddr_in *)(const void *)peer)->sin_addr,
			       4);
		else
			memcpy(full, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr,
			       16);
		if (cidrset_contains(c->exempt, family, full))
			return RRL_SEND;
	}
	uint64_t h = answer_key(reply, len, name, &ok);
	if (!ok)
		return RRL_SEND;
	h = mix(h, (uint64_t)family);
	for (int i = 0; i < 16; i += 8) {
		uint64_t v;
		memcpy(&v, net + i, 8);
		h = mix(h, v);
	}
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	uint64_t *slot = &r->table[h & (((uint64_t)1 << RRL_BITS) - 1)];
	uint64_t tag = (h >> 40) & 0xFFFFFF;
	uint64_t sec = (uint64_t)now_s & SEC_MASK;
	int64_t rate = c->rate, floor = -(int64_t)c->rate * (c->window ? c->window : 1);
	if (floor < -(BAL_BIAS - 1))
		floor = -(BAL_BIAS - 1);
	int64_t cap = rate > BAL_BIAS - 1 ? BAL_BIAS - 1 : rate;

	uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);
	for (;;) {
		int64_t bal;
		if ((old >> TAG_SHIFT) != tag) {
			bal = cap; /* a new bucket starts with a second's worth */
		} else {
			uint64_t last = (old >> SEC_SHIFT) & SEC_MASK;
			uint64_t elapsed = (sec - last) & SEC_MASK;
			bal = (int64_t)(old & BAL_MASK) - BAL_BIAS;
			bal += (int64_t)elapsed * rate;
			if (bal > cap)
				bal = cap;
		}
		bal -= 1;
		if (bal < floor)
			bal = floor;
		uint64_t nw = (tag << TAG_SHIFT) | (sec << SEC_SHIFT) |
			      ((uint64_t)(bal + BAL_BIAS) & BAL_MASK);
		if (__atomic_compare_exchange_n(slot, &old, nw, 1, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			if (bal >= 0)
				return RRL_SEND;
			/* Limited: one in slip, at random, goes out truncated. */
			if (c->slip && entropy % c->slip == 0)
				return RRL_SLIP;
			return RRL_DROP;
		}
	}
}

size_t rrl_truncate(uint8_t *reply, size_t len)
{
	struct wire w;
	uint8_t name[DNAME_MAXLEN];
	if (len < 12)
		return 0;
	wire_init(&w, reply, len);
	wire_skip(&w, 4);
	uint16_t qd = wire_u16(&w);
	uint16_t an = wire_u16(&w), ns = wire_u16(&w), ar = wire_u16(&w);
	if (qd == 1) {
		if (!dname_parse(&w, name))
			return 0;
		wire_skip(&w, 4);
	}
	if (!wire_ok(&w))
		return 0;
	size_t qend = w.pos;
	/* Find the OPT record (RFC 6891 7: it stays in every reply to an
	 * EDNS query) among the records after the question. */
	size_t opt_at = 0, opt_len = 0;
	unsigned total = (unsigned)an + ns + ar;
	for (unsigned i = 0; i < total; i++) {
		size_t at = w.pos;
		size_t nl = dname_parse(&w, name);
		uint16_t type = wire_u16(&w);
		wire_skip(&w, 6);
		uint16_t rdlen = wire_u16(&w);
		wire_skip(&w, rdlen);
		if (!nl || !wire_ok(&w))
			break;
		if (type == 41 && i >= (unsigned)an + ns && nl == 1) {
			opt_at = at;
			opt_len = w.pos - at;
		}
	}
	reply[2] |= 0x02; /* TC */
	memset(reply + 6, 0, 6);
	if (opt_len) {
		memmove(reply + qend, reply + opt_at, opt_len);
		reply[11] = 1;
		return qend + opt_len;
	}
	return qend;
}
