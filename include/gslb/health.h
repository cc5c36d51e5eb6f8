/* Health: what the prober knows, as an immutable view that DNS, HTTP and
 * explain read without locks. A view lists, per pool, the members as they
 * are answered (host-name members expanded to their resolved addresses) with
 * their probe state and any admin override in force, and says whether the
 * pool counts as up. The prober builds a new view on every change and
 * publishes it through snapshot->health (RCU); readers never see one half
 * built. Pools are indexed by pool->gidx. */
#ifndef GSLB_HEALTH_H
#define GSLB_HEALTH_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct pool;
struct service;

enum health_state {
	HEALTH_UNKNOWN = 0, /* not probed yet: answered (fail open) */
	HEALTH_UP = 1,
	HEALTH_DOWN = 2,
};

enum override_state {
	OVERRIDE_NONE = 0,
	OVERRIDE_FORCE_UP = 1,   /* answered whatever the probes say */
	OVERRIDE_FORCE_DOWN = 2, /* never answered */
	OVERRIDE_DRAIN = 3,      /* no new answers, still probed */
};

#define HEALTH_REASON_MAX 96

struct hmember {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint32_t weight;
	uint16_t member;  /* index of the config entry in pool->members */
	uint8_t state;    /* enum health_state, from probes; UP when unchecked */
	uint8_t admin;    /* enum override_state in force (own, else pool's, else region's) */
	uint8_t failing;  /* up, but the latest probes failed (TTL drops to ttl_min) */
	uint8_t usable;   /* answered: state not DOWN (or forced up), not drained or forced down */
	uint16_t fails;   /* consecutive failures */
	uint16_t oks;     /* consecutive successes */
	int64_t since;    /* unix time of the last state change, 0 = never */
	uint8_t has_load; /* pools[].load: a figure was read from its probes */
	double load;      /* ... the member's smoothed figure, 0..1 */
	char reason[HEALTH_REASON_MAX]; /* latest probe result */
	uint8_t has_latency;            /* latency: seconds the latest probe took */
	double latency;
};

struct hpool {
	struct hmember *members;
	size_t nmembers;
	unsigned usable4, usable6; /* usable members per family */
	uint8_t up;                /* usable members >= min_up (admin overrides applied) */
	uint8_t failing;           /* a usable member is failing probes */
	uint8_t admin;             /* pool's own override, else its region's */
	uint8_t cname_pending;     /* a checked CNAME pool whose target was never resolved */
	/* pools[].load: the pool's figure (mean of its usable members'), < 0
	 * = none; the share of its clients sent to their next region (0 at or
	 * below low, rising linearly to 1 at high); full: at or above high, up
	 * but taking no clients */
	double load;
	double shed;
	uint8_t full;
	int64_t since; /* last change of `up` */
	char reason[HEALTH_REASON_MAX];
};

struct health {
	uint64_t version; /* grows with each view published */
	struct hpool *pools;
	size_t npools;
};

/* One admin override, as set through the admin API and kept in state_dir.
 * Targets: "region:eu-east", "pool:www.example.com/eu-east",
 * "member:www.example.com/eu-east/192.0.2.10" (the member as written in the
 * config, or one resolved address of a host-name member). */
enum override_kind {
	OVERRIDE_REGION,
	OVERRIDE_POOL,
	OVERRIDE_MEMBER,
};

struct override {
	enum override_kind kind;
	uint8_t state; /* enum override_state, never OVERRIDE_NONE */
	int64_t since;
	int64_t start;    /* unix time it comes into force; 0 = at once */
	int64_t end;      /* unix time it ends by itself; 0 = never */
	char target[512]; /* as given, canonical: lower-case service name */
};

struct override_table {
	struct override *v;
	size_t n;
};

/* Parse "region:..."/"pool:..."/"member:..." and check it names something
 * in snap. Writes the canonical form to out. Returns 0 or GSLB_EINVAL with a
 * reason in err. */
int health_parse_target(const struct snapshot *snap, const char *target, struct override *out,
			char *err, size_t errlen);

/* The kind of a target by its prefix alone ("region:", "pool:",
 * "member:"), without checking that it names something. GSLB_EINVAL for
 * anything else. */
int override_kind_of(const char *target, enum override_kind *kind);

/* In force at unix time now: started (or no start) and not ended. */
int override_active(const struct override *o, int64_t now);

/* Set (state != OVERRIDE_NONE) or clear an override. Returns 0, or GSLB_ENOENT
 * when clearing something not set. */
int override_table_set(struct override_table *t, const struct override *o);
int override_table_clear(struct override_table *t, const char *target);
void override_table_free(struct override_table *t);

/* The first view of a snapshot: static members from the config, host-name
 * members' addresses and every member's probe state carried over from prev
 * (a view of an earlier snapshot, matched by service, region and address;
 * may be NULL), else from the last-known states in state_dir (may be NULL),
 * else UNKNOWN for checked members and UP for unchecked ones. The caller
 * owns the result (health_free). */
struct health *health_initial(const struct snapshot *snap, const struct health *prev,
			      const struct snapshot *prev_snap, const char *state_dir,
			      const struct override_table *admin, int64_t now);

/* Deep copy, for the prober to change and publish. */
struct health *health_clone(const struct health *h);
void health_free(struct health *h);

/* The rise/fall state machine: one probe result applied to a member in
 * state, with *oks and *fails its consecutive successes and failures.
 * result: 1 success, 0 failure, -1 not probed (a local error: no step,
 * nothing changes). The first result decides a member still UNKNOWN; then
 * an UP member goes DOWN after fall failures in a row, a DOWN one UP after
 * rise successes in a row (0 counts as 1). Returns the new state. */
enum health_state health_step(enum health_state state, uint16_t *oks, uint16_t *fails, int result,
			      unsigned rise, unsigned fall);

/* Derive usable, up, failing, counts and admin from the members' states,
 * the pools' min_up and the admin table. Logs pool state changes against
 * prev (may be NULL). */
void health_compute(struct health *h, const struct snapshot *snap,
		    const struct override_table *admin, const struct health *prev, int64_t now);

/* Last-known state in state_dir: "health.state" (probe states and resolved
 * addresses) and "overrides.state" (admin overrides). Written atomically
 * (temporary file + rename). A failure is logged and returns an error; the
 * caller keeps serving. */
int health_save(const struct health *h, const struct snapshot *snap, const char *state_dir);
int override_table_save(const struct override_table *t, const char *state_dir);
int override_table_load(struct override_table *t, const char *state_dir);

const char *health_state_name(enum health_state s);
const char *override_state_name(enum override_state s);
/* "drain", "undrain", "force-up", "force-down", "clear" -> state; undrain
 * and clear give OVERRIDE_NONE. Returns 0 or GSLB_EINVAL. */
int admin_action_parse(const char *action, uint8_t *state);

#endif
