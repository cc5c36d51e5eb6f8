/* Authoritative zone data: loaded from RFC 1035 files with ldns, validated,
 * then frozen into an immutable structure that the query path reads without
 * locks or allocation. Every owner name, including empty non-terminals, has a
 * node in a per-zone open-addressing hash table keyed by its lower-cased wire
 * name; RRsets are stored as pre-encoded RDATA. */
#ifndef GSLB_ZONE_H
#define GSLB_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "gslb/dname.h"

enum {
	ZONE_NODE_APEX = 1 << 0,  /* zone apex */
	ZONE_NODE_DELEG = 1 << 1, /* NS at a non-apex name: a zone cut */
	ZONE_NODE_CNAME = 1 << 2, /* owns a CNAME */
	ZONE_NODE_ENT = 1 << 3,   /* empty non-terminal: exists, no data */
	ZONE_NODE_GLUE = 1 << 4,  /* at or below a zone cut: only glue/DS lives here */
};

struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	/* count entries, each RDLENGTH (u16, host order) then RDATA; names in
	 * RDATA are uncompressed and lower-cased only where the type allows. */
	const uint8_t *rdata;
	size_t rdata_size;
	/* RRSIGs over this RRset (dnssec_sign_zone), sent with it to queries
	 * with the DO bit: nsigs entries in the same RDLENGTH + RDATA form. */
	uint16_t nsigs;
	const uint8_t *sigs;
};

struct zone_node {
	const uint8_t *name; /* lower-cased wire name */
	uint8_t name_len;
	uint8_t labels; /* label count without the root */
	uint16_t flags;
	uint16_t nrrsets;
	const struct zone_rrset *rrsets; /* sorted by type */
	/* signed zones (dnssec_sign_zone): the NSEC at this name for NODATA
	 * answers (RFC 9824: next name \000.owner, the types here), or NULL */
	const struct zone_rrset *nsec;
};

struct zone {
	char *origin_str; /* presentation form, with trailing dot */
	char *file;
	uint8_t origin[DNAME_MAXLEN];
	uint8_t origin_len;
	uint8_t origin_labels;
	uint32_t serial;
	/* zones with transfer: the serial gslbd bumped for changes of its own
	 * (xfr_zone_serial), 0 = the file's; written by the main thread,
	 * read with relaxed atomics */
	uint32_t live_serial;
	const struct zone_node *apex;
	const struct zone_rrset *soa;
	size_t nnodes;
	size_t nrecords;
	/* private: storage and hash table */
	struct zone_node *nodes;
	uint32_t *table; /* node index + 1, 0 = empty */
	size_t table_mask;
	void *mem;
	/* DNSSEC (dnssec_sign_zone): the signatures and DNSKEY RDATA, and the
	 * apex's RRsets with DNSKEY added; both freed with the zone. */
	void *sig_mem;
	void *apex_sets;
	void *nsec_sets; /* the nodes' NSEC RRsets, and their RDATA */
	void *nsec_mem;
	/* what answers built per query are signed with (dnssec_cache.h);
	 * NULL for an unsigned zone */
	struct zone_signer *signer;
	void *resig_mem; /* signatures made by dnssec_resign_zone */
	/* the first DNSSEC record of the file (DNSKEY, CDS, CDNSKEY, RRSIG,
	 * NSEC, NSEC3), which a signed zone refuses: its line, 0 = none */
	int dnssec_line;
	uint16_t dnssec_type;
};

/* Load and validate a zone. origin is presentation text ("example.com").
 * On failure returns a negative gslb_err and writes "file:line: reason" to
 * err. On success *out is owned by the caller (zone_free). */
int zone_load(const char *origin, const char *file, struct zone **out, char *err, size_t errlen);
void zone_free(struct zone *z);

/* Exact node for a lower-cased wire name, or NULL. */
const struct zone_node *zone_find(const struct zone *z, const uint8_t *lname, size_t len);

/* RRset of a type at a node, or NULL. */
const struct zone_rrset *zone_rrset(const struct zone_node *n, uint16_t type);

/* Iterate the RDATA entries of an RRset: *pos starts at 0; returns 1 and
 * sets *rd and *rdlen while entries remain. */
int zone_rrset_next(const struct zone_rrset *rs, size_t *pos, const uint8_t **rd, uint16_t *rdlen);

/* TTL of negative answers and NSEC records: the lower of the SOA's TTL
 * and its minimum field (RFC 2308 5, RFC 9077). */
uint32_t zone_negative_ttl(const struct zone *z);

enum zone_result {
	ZONE_EXACT,      /* node is the owner of qname */
	ZONE_WILDCARD,   /* node is the wildcard that matched qname */
	ZONE_DELEGATION, /* node is the zone cut above (or at) qname */
	ZONE_NXDOMAIN,   /* no such name, no wildcard */
};

struct zone_answer {
	enum zone_result result;
	const struct zone_node *node;
};

/* Find where a lower-cased qname (inside z) lands. qtype matters only for
 * DS at a zone cut, which is answered from this (the parent) side. */
void zone_lookup(const struct zone *z, const uint8_t *lname, size_t len, uint16_t qtype,
		 struct zone_answer *ans);

/* All zones served: immutable, looked up by the most specific origin. */
struct zoneset {
	struct zone **zones;
	size_t nzones;
	uint32_t *table; /* zone index + 1 by origin hash */
	size_t table_mask;
};

/* Takes ownership of zones[0..n) (and frees them on failure too). Rejects
 * duplicate origins. */
int zoneset_new(struct zone **zones, size_t n, struct zoneset **out, char *err, size_t errlen);
void zoneset_free(struct zoneset *zs);

/* Most specific zone containing the lower-cased name, or NULL. */
const struct zone *zoneset_find(const struct zoneset *zs, const uint8_t *lname, size_t len);

#endif
