/* One DNS query from a socket to its reply, the same for every transport:
 * the query ACL, dns_process(), the counters and, over UDP, response rate
 * limiting. The UDP workers and the TCP loop both call serve_query(); what
 * they do with the result (a datagram in a batch, a framed reply on a
 * connection) is theirs. Like dns_process(), it takes no lock and never
 * allocates. */
#ifndef GSLB_SERVE_H
#define GSLB_SERVE_H

#include <stddef.h>
#include <stdint.h>

struct dns_request;
struct metrics_shard;
struct rrl;
struct snapshot;

/* What a thread that answers queries owns: its counters and its random
 * stream. Only that thread touches it. */
struct serve_thread {
	struct metrics_shard *ms;
	uint64_t rng; /* serve_rng_next() state; seed with serve_rng_seed() */
};

/* What the caller does once serve_query() returns. */
enum serve_action {
	SERVE_SEND = 0, /* send the reply when its length is not 0 */
	SERVE_DROP = 1, /* the ACL drops this client: send nothing (TCP: close) */
};

/* Answer req against the snapshot published at *snap, read under an RCU
 * read-side section entered here (the calling thread must be a registered
 * liburcu-memb reader). The ACL comes first: a denied client gets a bare
 * REFUSED (dns_refuse) or nothing (acl.action = "drop"). Otherwise
 * dns_process() answers, the reply is counted under req->transport and,
 * over UDP with rrl.rate set, rrl may drop it or truncate it in place
 * (rrl NULL: never limited). now_s is a CLOCK_MONOTONIC second for the RRL
 * buckets. Returns the reply length in req->resp, 0 for no reply, and sets
 * *action. */
size_t serve_query(struct snapshot *const *snap, struct rrl *rrl, struct serve_thread *t,
		   const struct dns_request *req, int64_t now_s, enum serve_action *action);

/* A zone transfer query (xfr.h) over TCP: the ACL, then xfr_answer under
 * an RCU read-side section (keeper: the IXFR history, read on the main
 * thread that keeps it). Returns 1 when handled: *out (caller frees, may
 * be NULL with *action = SERVE_DROP) holds *outlen bytes of framed
 * messages; 0 when serve_query answers it instead. */
struct xfr_keeper;
int serve_transfer(struct snapshot *const *snap, struct serve_thread *t,
		   const struct xfr_keeper *keeper, const struct dns_request *req, uint8_t **out,
		   size_t *outlen, enum serve_action *action);

/* splitmix64: cheap, decent, and each thread owns its state, so weighted
 * answer picks need no shared counter. */
static inline uint32_t serve_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* A seed that differs per process, per call time and per salt. */
uint64_t serve_rng_seed(unsigned salt);

#endif
