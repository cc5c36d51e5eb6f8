/* The network side: UDP worker threads (one SO_REUSEPORT socket per listen
 * address each, recvmmsg/sendmmsg batches) and TCP DNS on a libuv loop in the
 * main thread, which also handles signals. The current snapshot is
 * published with RCU (liburcu, memb flavour). */
#ifndef GSLB_SERVER_H
#define GSLB_SERVER_H

struct snapshot;
struct server;

/* Bind every listen address (UDP and TCP) of snap->conf. Port 0 is resolved
 * once and reused by every worker socket and by TCP, and logged as
 * "listening proto=udp address=127.0.0.1 port=N". Takes ownership of snap on
 * success. */
int server_new(struct snapshot *snap, struct server **out);

/* Start the workers and run until SIGTERM or SIGINT; logs "ready" once every
 * listener serves. Returns 0 on a clean stop. */
int server_run(struct server *srv);

void server_free(struct server *srv);

#endif
