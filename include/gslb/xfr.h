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

/* RFC 1982 serial arithmetic: a is after b. */
static inline int xfr_serial_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* Answer a transfer query that came over TCP. Returns 1 with *out (the
 * caller frees it) holding *outlen bytes of length-framed messages, or 0
 * when the zone has no `transfer` group (the usual query path answers:
 * REFUSED), or the query cannot be read by ldns (FORMERR there). */
struct xfr_keeper;
int xfr_answer(const struct snapshot *snap, const struct xfr_keeper *keeper,
	       const struct dns_request *req, uint8_t **out, size_t *outlen);

/* What a transfer of z sends between its SOAs, record by record in wire
 * form (names uncompressed): the zone file's records, then the services'
 * default answers. Under an RCU read-side section. */
typedef void (*xfr_emit)(void *arg, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
			 const uint8_t *rd, uint16_t rdlen);
void xfr_walk(const struct snapshot *snap, const struct zone *z, xfr_emit emit, void *arg);

/* Records in wire form, each a 2-byte length then the record, sorted. */
struct xfr_rrs {
	uint8_t **rr;
	size_t n, cap;
	size_t bytes;
};

/* One version's change: the records deleted and added going from serial
 * `from` to `to` (IXFR, RFC 1995). */
struct xfr_diff {
	uint32_t from, to;
	struct xfr_rrs del, add;
};

/* The changes from serial `from` to z's current serial, oldest first
 * (*n of them), or NULL when the history kept does not reach back to it:
 * the IXFR is then answered with the whole zone. Main thread. */
const struct xfr_diff *xfr_keeper_diffs(const struct xfr_keeper *k, const struct zone *z,
					uint32_t from, size_t *n);

/* Signed queries (RFC 8945) other than transfers. xfr_tsig_start: the
 * offset of the query's last record when it is a TSIG record, else 0 (a
 * walk over the message, no allocation). xfr_signed_query: when the key
 * is one of the `tsig` keys (*handled = 1), the query is checked (NOTAUTH
 * with BADKEY, BADSIG or BADTIME, RFC 8945 5.2), answered by dns_process
 * without its TSIG record, and the answer signed over the query's MAC (TC
 * and no records when it would not fit); info as dns_process fills it.
 * Otherwise *handled = 0 and dns_process answers as before (BADKEY).
 * Allocates (ldns): signed queries are rare. */
struct dns_info;
size_t xfr_tsig_start(const uint8_t *q, size_t len);
size_t xfr_signed_query(const struct snapshot *snap, const struct dns_request *req, size_t tsig_at,
			struct dns_info *info, int *handled);

/* FNV-1a over n bytes, from XFR_HASH_START: what changed in a zone. */
#define XFR_HASH_START 0xcbf29ce484222325ull
uint64_t xfr_hash(uint64_t h, const void *p, size_t n);

/* A hash of the default answers of the services in zone z (what a
 * transfer sends for them), under an RCU read-side section. */
uint64_t xfr_default_hash(const struct snapshot *snap, const struct zone *z);

/* ---- serials and NOTIFY (xfr_serial.c), on the main thread ---------- */

/* The keeper of the zones' serials, with the last ones read from
 * state_dir/xfr.state (state_dir may be NULL: kept in memory only), and
 * its counters in metrics (gslb_zone_transfers_total, gslb_zone_notify_total). */
struct metrics;
struct xfr_keeper *xfr_keeper_new(const char *state_dir, struct metrics *metrics);
/* Start the NOTIFY thread (after the privilege drop); 0 or -1. */
int xfr_keeper_start(struct xfr_keeper *k);
/* Stop the thread (NOTIFYs not sent yet are dropped) and free. */
void xfr_keeper_free(struct xfr_keeper *k);
/* Some zone of snap has a transfer group. */
int xfr_keeper_needed(const struct snapshot *snap);
/* Before snap is published (zones_changed: its zones may be new), and
 * when its health view changed: the serial of each zone with transfer is
 * moved on when what a transfer sends changed (saved, NOTIFY queued), and
 * set on the zone. */
void xfr_keeper_update(struct xfr_keeper *k, const struct snapshot *snap, int zones_changed);
/* One transfer answered, for gslb_zone_transfers_total (main thread). */
enum xfr_result {
	XFR_AXFR,
	XFR_IXFR,
	XFR_CURRENT,
	XFR_REFUSED,
};
void xfr_keeper_count(const struct xfr_keeper *k, enum xfr_result r);
/* The health view version the last update saw. */
uint64_t xfr_keeper_health_version(const struct xfr_keeper *k);

#endif
