/* dnstap: query and response logging in the dnstap format (dnstap.proto,
 * protobuf-c) over Frame Streams (libfstrm) to a collector on a Unix socket
 * or a TCP address.
 *
 * One struct dnstap is one collector connection: an fstrm I/O thread with
 * one input queue and one byte ring per thread that answers queries. A
 * thread claims a free queue the first time it logs (an atomic exchange,
 * remembered in a thread-local variable), so no queue ever has two
 * producers. Logging encodes the message into the thread's ring and
 * submits it to the thread's queue: no lock, no allocation, no system call
 * but one clock read. When the ring or the queue is full (the collector is
 * slow) the message is dropped and counted; when the collector is absent
 * the I/O thread discards the messages and counts them, and reconnects
 * every second.
 *
 * The object hangs from the snapshot (snap->dnstap, NULL = off) and is
 * shared by reference between snapshots while the dnstap block and the UDP
 * worker threads stay the same; the last reference flushes what is queued
 * and stops the I/O thread (on the thread that frees the snapshot, after
 * the RCU grace period). */
#ifndef GSLB_DNSTAP_H
#define GSLB_DNSTAP_H

#include <stddef.h>
#include <stdint.h>

struct dns_info;
struct dns_request;
struct dnstap;
struct dnstap_conf;
struct metric_set;
struct snapshot;

/* Start logging to the collector c names, for at most nthreads threads
 * that answer queries at the same time (the queues). The I/O thread starts
 * with every signal blocked and connects in the background. GSLB_OK, or an
 * error with err set. */
int dnstap_new(const struct dnstap_conf *c, unsigned nthreads, struct dnstap **out, char *err,
	       size_t errlen);

/* Another reference; the last dnstap_unref flushes and stops it. */
struct dnstap *dnstap_ref(struct dnstap *d);
void dnstap_unref(struct dnstap *d);

/* Give snap the dnstap its config asks for: old's when the block is the
 * same and threads is 0, else a new one (threads: the UDP workers started
 * with snap, which need queues of their own; 0 = the running ones go on).
 * Called on the main thread before snap is published; never fails (a
 * collector that cannot be set up is logged, and snap logs nothing). */
void dnstap_attach(struct snapshot *snap, const struct snapshot *old, unsigned workers,
		   int new_workers);

/* Log one query and its reply (len 0: none) as the config says, the
 * decision (dnstap_extra) with the reply when it is logged, else with the
 * query; info is NULL when the ACL turned the query away. Called inside the RCU
 * read-side section that found d in the snapshot. */
void dnstap_log(struct dnstap *d, const struct snapshot *snap, const struct dns_request *req,
		size_t len, const struct dns_info *info);

/* The extra field: the decision behind an answer, "svc=www.example.com
 * region=eu-central rule=continent:EU scope=24" (all_down=1 when the
 * service's when_all_down applied), "acl=denied" for info NULL, "" for an
 * answer from zone data. Returns the length written (always
 * NUL-terminated, cut at len - 1). */
size_t dnstap_extra(const struct snapshot *snap, const struct dns_info *info, char *buf,
		    size_t len);

/* gslb_dnstap_sent_total and gslb_dnstap_dropped_total{reason}: totals
 * over every dnstap since the start, shown once one has existed. */
extern const struct metric_set dnstap_metric_set;

#endif
