/* Response rate limiting (the BIND/Knot RRL model) for UDP: responses to
 * one client network for one "answer" (name and type for answers, the zone
 * for NXDOMAIN and referrals, one bucket for errors) are limited to a rate;
 * over it, most are dropped and every slip-th one is sent truncated so real
 * clients retry over TCP, while spoofed floods get nothing to amplify. */
#ifndef GSLB_RRL_H
#define GSLB_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_set;

struct rrl_conf {
	unsigned rate;   /* responses per second per bucket, 0 = off */
	unsigned slip;   /* every slip-th limited response goes out truncated; 0 = drop all */
	unsigned window; /* seconds of debt a bucket can run up (how long it stays limited) */
	unsigned ipv4_prefix, ipv6_prefix;
	struct net_set *exempt; /* never limited; owned by the config */
};

enum rrl_verdict {
	RRL_SEND,
	RRL_DROP,
	RRL_SLIP,
};

struct rrl;

/* A table sized for many thousand client networks, shared by the workers;
 * updates are lock-free (one compare-and-swap on a 64-bit word). Buckets
 * are placed by a SipHash under a random key of this process. NULL when
 * out of memory or when no random key could be had. */
struct rrl *rrl_new(void);
/* The same with 2^set_bits sets of four buckets (at most 24) and the given
 * 16-byte hash key (NULL: random); for tests. */
struct rrl *rrl_new_custom(unsigned set_bits, const uint8_t *key);
void rrl_free(struct rrl *r);

/* Decide for one UDP reply of len bytes to peer. The reply has been built
 * already: the bucket is taken from its question, rcode and sections. */
/* name: the wildcard an answer was made from (lower-cased wire), which
 * replaces the question name in the bucket; NULL when it is the question. */
enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_conf *c, const struct sockaddr *peer,
			   const uint8_t *reply, size_t len, const uint8_t *name, int64_t now_s,
			   uint32_t entropy);

/* Turn a reply into its truncated form in place (header, question and the
 * OPT record when there is one, TC set, no other records); returns the new
 * length, 0 when it cannot be parsed. */
size_t rrl_truncate(uint8_t *reply, size_t len);

#endif
