/* DNSSEC keys and signatures: BIND/ldns-keygen key pairs (.key + .private),
 * key tags, DNSKEY and DS records, RRSIG over an RRset (RFC 4034).
 * Algorithms: 13 (ECDSAP256SHA256) and 15 (ED25519). */
#ifndef GSLB_DNSSEC_H
#define GSLB_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ldns/ldns.h>

#define DNSSEC_ALG_ECDSAP256SHA256 13
#define DNSSEC_ALG_ED25519 15

/* TTL of the DS records gslbd --ds prints (the parent chooses its own) */
#define DNSSEC_DS_TTL 3600

/* DNSKEY flags (RFC 4034 2.1.1, RFC 5011 7) */
#define DNSSEC_FLAG_ZONE 0x0100
#define DNSSEC_FLAG_REVOKE 0x0080
#define DNSSEC_FLAG_SEP 0x0001

/* One key pair of a zone. */
struct dnssec_key {
	ldns_key *key;   /* private key with owner, flags, tag, algorithm */
	ldns_rr *dnskey; /* the DNSKEY record of the .key file */
	uint16_t tag;    /* key tag (RFC 4034 appendix B) */
	uint16_t flags;
	uint8_t alg;
	bool private_world_readable; /* .private readable by others */
};

/* Loads BASE.key and BASE.private for the zone ORIGIN (presentation form,
 * trailing dot optional). Checks: DNSKEY owner is ORIGIN, protocol 3,
 * algorithm 13 or 15, zone-key flag set, not revoked, the private part
 * present and matching the public key. On error returns a negative
 * gslb_err and writes "file[:line]: reason" to err. */
int dnssec_key_load(struct dnssec_key *k, const char *base, const char *origin, char *err,
		    size_t errlen);
void dnssec_key_free(struct dnssec_key *k);

/* DS record of the key with digest type 2 (SHA-256) or 4 (SHA-384), TTL ttl;
 * NULL on error. The caller frees it with ldns_rr_free. */
ldns_rr *dnssec_key_ds(const struct dnssec_key *k, int digest_type, uint32_t ttl);

/* Whether keys[i] is one the parent's DS records name: a key with the SEP
 * flag, or any key when none of keys[0..n) has it. */
bool dnssec_key_for_ds(const struct dnssec_key *keys, size_t n, size_t i);

/* Prints the DS records (SHA-256) of the keys with the SEP flag, or of
 * every key when none has it, one per line in presentation form. */
int dnssec_print_ds(FILE *out, const struct dnssec_key *keys, size_t n, uint32_t ttl);

/* RRSIG over RRSET (records of one owner, class and type) made with KEY,
 * valid from inception to expiration (seconds since the epoch, serial
 * arithmetic as RFC 4034 3.1.5). The RRset is put into canonical form and
 * order (RFC 4034 6.2, 6.3) on a copy; the signature's original TTL is the
 * first record's TTL. NULL on error. Free with ldns_rr_free. */
ldns_rr *dnssec_sign_rrset(const ldns_rr_list *rrset, const struct dnssec_key *k,
			   uint32_t inception, uint32_t expiration);

/* Signs a loaded zone (zone.h) in place with keys[0..nkeys): adds at the
 * apex, with the TTL of the SOA, the DNSKEY RRset (every key) and the CDS
 * (SHA-256) and CDNSKEY RRsets (RFC 7344) of the keys dnssec_key_for_ds
 * names, and an RRSIG per signing key to every authoritative RRset. With
 * both SEP and other keys, the SEP keys (KSKs) sign DNSKEY, CDS and
 * CDNSKEY and the others (ZSKs) the rest; else every key signs all (CSK).
 * Not signed: NS at a zone cut and everything below one (glue). A zone
 * file with DNSKEY, CDS, CDNSKEY, RRSIG, NSEC or NSEC3 records is refused. On error a
 * negative gslb_err and "file: reason" in err; the zone is then only fit
 * for zone_free. */
struct zone;
int dnssec_sign_zone(struct zone *z, const struct dnssec_key *keys, size_t nkeys,
		     uint32_t inception, uint32_t expiration, char *err, size_t errlen);

/* How many RRSIGs a signed zone holds (0 for an unsigned one). */
size_t dnssec_zone_signatures(const struct zone *z);

#endif
