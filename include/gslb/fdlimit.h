/* File descriptors: the process limit, the budget a configuration needs,
 * and what every accept path does when descriptors run out anyway.
 *
 * At start gslbd raises its soft RLIMIT_NOFILE to the hard limit, and
 * refuses (gslbd -t, the start, a reload) a configuration whose connection
 * caps, sockets and probes cannot fit in it (fdlimit_check). Should accept()
 * still fail with EMFILE or ENFILE (another thread's files, a limit lowered
 * from outside), the listener pauses instead of retrying at once, and a
 * reserve descriptor kept open for the purpose is closed for a moment so
 * that the waiting connections can be accepted and closed at once rather
 * than left in the backlog (fdlimit_shed); each pause is counted and logged
 * at most once per interval, with the count. */
#ifndef GSLB_FDLIMIT_H
#define GSLB_FDLIMIT_H

#include <stddef.h>

struct conf;
struct metric_set;

/* Descriptors outside the counted ones: standard streams, the event loop,
 * syslog, the files a reload opens (config, includes, zones, GeoIP,
 * blocklist, state files), the accept reserve, libuv's own reserve. */
#define FDLIMIT_RESERVE 48u

/* What one configuration needs, by part (fdlimit_budget). */
struct fd_budget {
	unsigned long tcp;     /* tcp.max_connections, and one being refused */
	unsigned long http;    /* http.max_connections per listen.http address, and
				* each daemon's listen socket, epoll set and wake-up */
	unsigned long nhttp;   /* listen.http addresses */
	unsigned long admin;   /* the admin listener's connections and sockets */
	unsigned long dns;     /* per listen.dns address: the TCP listener and a UDP
				* socket per worker; the workers' wake-up */
	unsigned long probes;  /* probe_fd_budget() */
	unsigned long reserve; /* FDLIMIT_RESERVE */
	unsigned long total;
};

/* Descriptors the prober may hold at once: one socket per probe in flight
 * and its own (epoll set, wake-up, curl and c-ares). For now a fixed
 * figure: the probe targets, at most 256, plus 16; probes are not capped
 * yet. The one place to change when the prober gets its in-flight cap. */
unsigned long probe_fd_budget(const struct conf *c);

void fdlimit_budget(const struct conf *c, struct fd_budget *b);

/* Raise the soft RLIMIT_NOFILE to the hard limit (logged); returns the soft
 * limit in force afterwards. */
unsigned long fdlimit_raise(void);

/* The limit gslbd would run with: the hard limit (gslbd -t), or the soft
 * one in force (a running daemon). */
unsigned long fdlimit_hard(void);
unsigned long fdlimit_current(void);

/* GSLB_ERANGE with a message naming the settings when the configuration
 * at c->path needs more descriptors than limit. */
int fdlimit_check(const struct conf *c, unsigned long limit, char *err, size_t errlen);

/* Accept paths, for the counters (/metrics) and the log. */
enum fdlimit_listener {
	FDL_DNS = 0, /* DNS over TCP */
	FDL_HTTP,    /* the redirect listener */
	FDL_ADMIN,   /* the admin listener */
	FDL_N
};

/* Open the reserve descriptor (at start; again by fdlimit_shed). */
void fdlimit_reserve_open(void);
void fdlimit_reserve_close(void);

/* accept() on listen_fd (non-blocking) failed for lack of descriptors:
 * close the reserve, accept and close every connection waiting, open the
 * reserve again. Counts a pause and the connections refused, and logs at
 * most once every FDLIMIT_LOG_INTERVAL seconds per listener. Returns the
 * connections refused, -1 when there was no reserve to close (it is
 * reopened as soon as a descriptor is free). Any thread. */
#define FDLIMIT_LOG_INTERVAL 10
int fdlimit_shed(enum fdlimit_listener who, int listen_fd);

/* The counters' metric families (registered by metrics_new). */
extern const struct metric_set fdlimit_metric_set;

#endif
