/* Response rate limiting. One shared table of 64-bit words, each packing a
 * bucket's tag, its last second and its balance, updated with
 * compare-and-swap: no lock, and no allocation, on the query path.
 *
 * The bucket's place is a SipHash of (answer, client network) under a key
 * drawn at start, so no one outside can pick networks that share a place.
 * The table is set-associative: four entries a set. A bucket not in its
 * set takes over the entry with the most balance left (an idle one first)
 * and starts with that balance, never more than a second's worth: a
 * collision hands out no fresh balance, so interleaving another bucket's
 * queries cannot refill a limited one. */
#include "gslb/rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/dname.h"
#include "gslb/dnsdefs.h"
#include "gslb/net.h"
#include "gslb/siphash.h"
#include "gslb/wire.h"

#define RRL_SET_BITS 16 /* 64 Ki sets of 4: 256 Ki buckets, 2 MiB */
#define RRL_WAYS 4

struct rrl {
	uint64_t *table;
	uint64_t set_mask;
	uint8_t key[SIPHASH_KEY_LEN];
};

/* word: tag (24, never 0) | second (20) | balance + 2^19 (20); 0 = empty */
#define TAG_SHIFT 40
#define SEC_SHIFT 20
#define BAL_BIAS (1 << 19)
#define BAL_MASK 0xFFFFFull
#define SEC_MASK 0xFFFFFull

struct rrl *rrl_new_custom(unsigned set_bits, const uint8_t *key)
{
	if (set_bits > 24)
		return NULL;
	struct rrl *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (key)
		memcpy(r->key, key, sizeof(r->key));
	else if (siphash_random_key(r->key)) {
		free(r);
		return NULL;
	}
	r->set_mask = ((uint64_t)1 << set_bits) - 1;
	r->table = calloc((size_t)RRL_WAYS << set_bits, sizeof(uint64_t));
	if (!r->table) {
		free(r);
		return NULL;
	}
	return r;
}

struct rrl *rrl_new(void) { return rrl_new_custom(RRL_SET_BITS, NULL); }

void rrl_free(struct rrl *r)
{
	if (!r)
		return;
	free(r->table);
	free(r);
}

/* The bytes a bucket is named by: what the answer is, then the client
 * network. At most 1 + 1 + 2 + 255 + 1 + 16. */
#define KEY_MAX 280

/* Which answer a reply is, for bucketing: positive answers by (qname,
 * qtype); NXDOMAIN and referrals and NODATA by the zone (the SOA or NS
 * owner in authority), so random-subdomain floods share one bucket; errors
 * by rcode alone. Writes the answer's bytes to k; returns their length, 0
 * when the reply cannot be parsed. */
static size_t answer_key(const uint8_t *reply, size_t len, const uint8_t *wild, uint8_t *k)
{
	struct wire w;
	uint8_t name[DNAME_MAXLEN];
	wire_init(&w, reply, len);
	wire_skip(&w, 2);
	uint16_t flags = wire_u16(&w);
	uint16_t qd = wire_u16(&w), an = wire_u16(&w), ns = wire_u16(&w);
	wire_skip(&w, 2);
	unsigned rcode = flags & 0xF;
	if (!wire_ok(&w))
		return 0;
	k[0] = (uint8_t)rcode;
	if (rcode != 0 && rcode != 3) {
		k[1] = 'E'; /* errors: one bucket per client network and rcode */
		return 2;
	}
	if (qd != 1)
		return 0;
	size_t nl = dname_parse(&w, name);
	uint16_t qtype = wire_u16(&w);
	wire_skip(&w, 2);
	if (!nl || !wire_ok(&w))
		return 0;
	if (rcode == 0 && an > 0) {
		/* '*': apart from the same name asked exactly */
		k[1] = wild ? '*' : 'P';
		k[2] = (uint8_t)(qtype >> 8);
		k[3] = (uint8_t)qtype;
		if (wild) {
			size_t wl = dname_len(wild);
			memcpy(k + 4, wild, wl);
			return 4 + wl;
		}
		dname_tolower(k + 4, name, nl);
		return 4 + nl;
	}
	/* NXDOMAIN, NODATA, referral: the authority owner names the zone. */
	for (uint16_t i = 0; i < an; i++) {
		if (!dname_parse(&w, name))
			return 0;
		wire_skip(&w, 8);
		uint16_t rdlen = wire_u16(&w);
		wire_skip(&w, rdlen);
	}
	k[1] = 'N'; /* not the same bucket as a positive answer */
	if (ns == 0)
		return 2;
	nl = dname_parse(&w, name);
	if (!nl || !wire_ok(&w))
		return 0;
	dname_tolower(k + 2, name, nl);
	return 2 + nl;
}

/* The peer's address into full (16 bytes, zero-padded) and its network
 * (ipv4_prefix, ipv6_prefix) into net. Returns the family, 0 for another. */
static int client_net(const struct rrl_conf *c, const struct sockaddr *peer, uint8_t net[16],
		      uint8_t full[16])
{
	memset(full, 0, 16);
	if (peer->sa_family == AF_INET) {
		memcpy(full, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
		net_mask(net, full, 16, c->ipv4_prefix > 32 ? 32 : c->ipv4_prefix);
		return AF_INET;
	}
	if (peer->sa_family == AF_INET6) {
		memcpy(full, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
		net_mask(net, full, 16, c->ipv6_prefix);
		return AF_INET6;
	}
	return 0;
}

/* An entry's balance now: what it had plus a refill for the seconds since
 * it was last used, at most cap. An empty entry has cap. */
static int64_t balance_now(uint64_t word, uint64_t sec, int64_t rate, int64_t cap)
{
	if (word == 0)
		return cap;
	uint64_t last = (word >> SEC_SHIFT) & SEC_MASK;
	uint64_t elapsed = (sec - last) & SEC_MASK;
	int64_t bal = (int64_t)(word & BAL_MASK) - BAL_BIAS;
	bal += (int64_t)elapsed * rate;
	return bal > cap ? cap : bal;
}

enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_conf *c, const struct sockaddr *peer,
			   const uint8_t *reply, size_t len, const uint8_t *name, int64_t now_s,
			   uint32_t entropy)
{
	uint8_t net[16], full[16], k[KEY_MAX];
	int family;
	if (!r || !c->rate || !peer || !(family = client_net(c, peer, net, full)))
		return RRL_SEND;
	if (net_set_contains(c->exempt, family, full))
		return RRL_SEND;
	size_t kl = answer_key(reply, len, name, k);
	if (!kl)
		return RRL_SEND;
	k[kl++] = family == AF_INET ? 4 : 6;
	memcpy(k + kl, net, 16);
	kl += 16;
	uint64_t h = siphash24(r->key, k, kl);
	uint64_t *set = &r->table[(h & r->set_mask) * RRL_WAYS];
	uint64_t tag = (h >> 40) & 0xFFFFFF;
	if (tag == 0)
		tag = 1; /* 0 is an empty entry's */
	uint64_t sec = (uint64_t)now_s & SEC_MASK;
	int64_t rate = c->rate, floor = -(int64_t)c->rate * (c->window ? c->window : 1);
	if (floor < -(BAL_BIAS - 1))
		floor = -(BAL_BIAS - 1);
	int64_t cap = rate > BAL_BIAS - 1 ? BAL_BIAS - 1 : rate;

	for (;;) {
		/* The bucket's entry, or the one it takes over: the most
		 * balance left, among equals the longest unused. */
		unsigned at = 0;
		uint64_t old = 0;
		int64_t bal = INT64_MIN;
		uint64_t idle = 0;
		for (unsigned i = 0; i < RRL_WAYS; i++) {
			uint64_t wd = __atomic_load_n(&set[i], __ATOMIC_RELAXED);
			if (wd != 0 && (wd >> TAG_SHIFT) == tag) {
				at = i;
				old = wd;
				bal = balance_now(wd, sec, rate, cap);
				break;
			}
			int64_t b = balance_now(wd, sec, rate, cap);
			uint64_t e = wd ? (sec - ((wd >> SEC_SHIFT) & SEC_MASK)) & SEC_MASK :
					  SEC_MASK + 1;
			if (b > bal || (b == bal && e > idle)) {
				at = i;
				old = wd;
				bal = b;
				idle = e;
			}
		}
		bal -= 1;
		if (bal < floor)
			bal = floor;
		uint64_t nw = (tag << TAG_SHIFT) | (sec << SEC_SHIFT) |
			      ((uint64_t)(bal + BAL_BIAS) & BAL_MASK);
		if (__atomic_compare_exchange_n(&set[at], &old, nw, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			if (bal >= 0)
				return RRL_SEND;
			/* Limited: one in slip, at random, goes out truncated. */
			if (c->slip && entropy % c->slip == 0)
				return RRL_SLIP;
			return RRL_DROP;
		}
		/* Another worker changed the entry: look at the set again. */
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
		if (type == DNS_T_OPT && i >= (unsigned)an + ns && nl == 1) {
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
