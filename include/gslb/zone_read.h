/* Reading a zone file into records: the first half of zone_load (zone.c
 * freezes the records into a zone). ldns parses the RFC 1035 text; plain
 * one-line records of the common types (A, AAAA, NS, CNAME, PTR, MX, SRV,
 * TXT of quoted strings) take a fast path that gives the same bytes ldns
 * would, and everything else (directives, parentheses, escapes, other
 * types, anything the fast path is unsure of) goes to ldns. */
#ifndef GSLB_ZONE_READ_H
#define GSLB_ZONE_READ_H

#include <stddef.h>
#include <stdint.h>

/* One record. Names and RDATA live in the reader's arena; consecutive
 * records with the same owner share its bytes. */
struct zrec {
	uint32_t owner; /* arena offset of the lower-cased wire owner */
	uint32_t rd;    /* arena offset of the RDATA */
	uint32_t ttl;
	uint32_t node; /* free for the caller */
	uint16_t type;
	uint16_t rdlen;
	uint8_t olen;
	int line; /* where errors about this record point */
};

struct zread {
	struct zrec *v; /* in file order */
	size_t n, cap;
	uint8_t *arena;
	size_t alen, acap;
	/* Nodes the records can need at most: every run of records with one
	 * owner counts its labels below the origin, plus one. */
	size_t node_bound;
	size_t nfast; /* records the fast path read (the rest: ldns) */
};

/* Read every record of file, a zone for origin (lower-cased wire, with its
 * presentation text for messages). Checks each record on its own: class
 * IN, inside the zone, a type that can appear in a zone, RDATA length. On
 * failure returns a negative gslb_err and writes "file:line: reason" to
 * err; zr is freed by zread_free either way. */
int zread_file(struct zread *zr, const char *file, const uint8_t *origin, size_t origin_len,
	       const char *origin_str, char *err, size_t errlen);
void zread_free(struct zread *zr);

/* Types no zone file may hold: 0, OPT, and the meta-types and QTYPEs
 * (128-255, RFC 6895 3.1: NXNAME, TKEY, TSIG, IXFR, AXFR, MAILB, MAILA,
 * ANY and the unassigned rest of the range). */
static inline int zone_type_refused(uint16_t type)
{
	return type == 0 || type == 41 || (type >= 128 && type <= 255);
}

#endif
