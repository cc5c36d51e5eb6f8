/* Online signing for the answer path (issue 14): RRSIGs over the RRsets a
 * signed zone builds per query (geo members, CNAME pools, wildcard
 * expansions, compact-denial NSECs), kept in a signature cache shared by the
 * workers.
 *
 * The cache is a fixed array of atomic pointers (open addressing, a probe
 * window of SIGCACHE_WINDOW slots, no locks): a lookup is a few atomic loads
 * inside the caller's RCU read-side section; a miss signs on the caller's
 * thread (no lock held) and publishes the entry with one compare-and-swap.
 * An entry pushed out (window full, replaced, refreshed) goes to a
 * lock-free retired list; the maintenance pass (sigcache_sweep) frees it
 * after an RCU grace period. See docs/design-notes.md. */
#ifndef GSLB_DNSSEC_CACHE_H
#define GSLB_DNSSEC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/dnssec.h"

#define SIGCACHE_WINDOW 8
#define SIGCACHE_DEFAULT_SLOTS 65536

/* What a signed zone signs with (dnssec_sign_zone sets zone->dnssec):
 * its keys (owned by the config, which outlives the zone), the signing
 * times, and a fingerprint per key that names it in the cache across
 * reloads. */
struct zone_signer {
	const struct dnssec_key *keys;
	size_t nkeys;
	uint64_t *fp;
	uint32_t validity, refresh, inception_offset;
	int have_zsk; /* keys without SEP sign all but DNSKEY */
	/* when the zone's static signatures expire (dnssec_resign_zone
	 * renews them; written by the maintenance only) */
	uint32_t expire;
};

struct zone;
/* Gives a zone signed by dnssec_sign_zone its signer (freed with the
 * zone); expire: when the signatures made at load expire. */
int dnssec_zone_signer(struct zone *z, const struct dnssec_key *keys, size_t nkeys,
		       uint32_t validity, uint32_t refresh, uint32_t inception_offset,
		       uint32_t expire);

/* Signs again every RRset of z signed at load, and its NSECs, valid from
 * inception to expiration (dnssec_zone.c). The signatures replaced are
 * handed back in *old, to be freed after an RCU grace period. */
int dnssec_resign_zone(struct zone *z, uint32_t inception, uint32_t expiration, void **old);

/* Does key k sign RRsets other than DNSKEY? */
int zone_signer_signs(const struct zone_signer *zs, size_t k);

/* One RRset to sign: owner (lower-cased wire), type, TTL, the RDATA
 * entries (any order: the cache sorts them into canonical order). */
struct sig_rrset {
	const uint8_t *owner;
	size_t owner_len;
	uint16_t type;
	uint32_t ttl;
	size_t n;
	const uint8_t *const *rd;
	const uint16_t *rdlen;
};

/* A cached signature: the RRSIG RDATA (wire form) of one RRset by one key. */
struct sig_entry;
const uint8_t *sig_entry_rdata(const struct sig_entry *e, uint16_t *len);

struct sigcache;
struct sigcache *sigcache_new(size_t slots);
void sigcache_free(struct sigcache *sc);

/* The process-wide cache the workers share (made on first use). */
struct sigcache *sigcache_global(void);

void sigcache_outside_begin(struct sigcache *sc);
void sigcache_outside_end(struct sigcache *sc);

/* The RRSIG of rs by key k of zs, valid at now: from the cache, else made
 * here and cached. Call inside an RCU read-side section (the entry stays
 * valid until the section ends), or, from a thread outside one, between
 * sigcache_outside_begin and _end (a mutex that sigcache_reclaim takes
 * only to take its list, never the workers). NULL when signing failed (out of
 * memory). */
const struct sig_entry *sigcache_get(struct sigcache *sc, const struct zone_signer *zs, size_t k,
				     const struct sig_rrset *rs, uint32_t now);

/* The same for the warm-up (dnssec_warm): neither a hit nor a miss is
 * counted; a signature made is counted as warmed. */
const struct sig_entry *sigcache_warm(struct sigcache *sc, const struct zone_signer *zs, size_t k,
				      const struct sig_rrset *rs, uint32_t now);

/* Maintenance (one thread at a time, inside an RCU read-side section as
 * signers belong to a snapshot): entries used since the last sweep and
 * expiring within their zone's signature_refresh are signed again; unused
 * ones near expiry, and those whose key is in none of the signers given,
 * are dropped. What is replaced waits for sigcache_reclaim. */
void sigcache_sweep(struct sigcache *sc, const struct zone_signer *const *signers, size_t n,
		    uint32_t now);

/* Frees the entries pushed out so far, after an RCU grace period (also
 * waited for when sync is set). Call registered with RCU, outside any
 * read-side section. */
void sigcache_reclaim(struct sigcache *sc, int sync);

struct sigcache_stats {
	uint64_t made;      /* signatures made on the query path and at warm-up */
	uint64_t hits;      /* query lookups answered from the cache */
	uint64_t misses;    /* query lookups that had to sign */
	uint64_t warmed;    /* signatures made at warm-up (part of made) */
	uint64_t refreshes; /* signatures made again before expiry (sweep) */
	uint64_t evictions; /* entries pushed out or dropped */
	uint64_t entries;   /* in the cache now */
};
void sigcache_stats(const struct sigcache *sc, struct sigcache_stats *st);

struct snapshot;
struct health;
struct service;

/* Signs the answer sets of snap's services in signed zones into the
 * shared cache (dnssec_warm.c): each pool's usable members per family
 * under health view h (and those failing open may give), when `answers`
 * takes them all, and each CNAME pool's CNAME. Returns the signatures
 * looked up or made. From any thread outside an RCU read-side section. */
size_t dnssec_warm(const struct snapshot *snap, const struct health *h);

/* The original TTL a service's answers are signed with: the larger of its
 * ttl and ttl_min (and of sent), so that one signature serves every TTL
 * the answer goes out with (RFC 4035 5.3.3: validators use the lower). */
uint32_t dnssec_answer_ttl(const struct service *svc, uint32_t sent);

/* Appends the record owner (wire) / type / IN / ttl / RDATA to l: 0, or a
 * negative gslb_err. */
int dnssec_rr_push(ldns_rr_list *l, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		   const uint8_t *rd, uint16_t rdlen);

/* NSEC RDATA of compact denial (RFC 9824): next name \000.owner and the
 * bitmap of types[0..n) (ascending). Returns its length, 0 when it does
 * not fit cap. */
size_t dnssec_nsec_rdata(uint8_t *out, size_t cap, const uint8_t *owner, size_t owner_len,
			 const uint16_t *types, size_t n);

#endif
