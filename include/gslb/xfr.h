/* Zone transfers to secondaries (AXFR, IXFR answered as AXFR), with TSIG
 * (RFC 8945, ldns's implementation). A transfer is not the query path: it
 * runs on the TCP loop, allocates its messages with ldns, and sends them
 * as one buffer. Zones without a `transfer` group are not touched here:
 * the query path refuses their transfers as before. */
#ifndef GSLB_XFR_H
#define GSLB_XFR_H

#include <stddef.h>
#include <stdint.h>

struct dns_request;
struct snapshot;
struct zone;

/* The query asks for a zone transfer (opcode QUERY, one question of type
 * AXFR or IXFR, not a response): a peek at the header and question. */
int xfr_is_transfer(const uint8_t *q, size_t len);

/* The zone's serial as transferred and answered (gslbd's, once it has
 * bumped it for changes of its own; else the file's). */
uint32_t xfr_zone_serial(const struct zone *z);

/* Answer a transfer query that came over TCP. Returns 1 with *out (the
 * caller frees it) holding *outlen bytes of length-framed messages, or 0
 * when the zone has no `transfer` group (the usual query path answers:
 * REFUSED), or the query cannot be read by ldns (FORMERR there). */
int xfr_answer(const struct snapshot *snap, const struct dns_request *req, uint8_t **out,
	       size_t *outlen);

#endif
