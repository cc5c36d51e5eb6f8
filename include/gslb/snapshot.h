/* Everything a query reader needs, built completely and validated before it
 * is published through one RCU-protected pointer; never modified afterwards. */
#ifndef GSLB_SNAPSHOT_H
#define GSLB_SNAPSHOT_H

#include <stdint.h>

#include "gslb/config.h"
#include "gslb/geo.h"
#include "gslb/health.h"
#include "gslb/service.h"
#include "gslb/zone.h"

/* The config, zones and service table of a snapshot, shared by the
 * snapshots that differ only in GeoIP data (a database file replaced on
 * disk is reloaded alone). Reference counts change on the control thread
 * only. */
struct dnstap;
struct snapshot_base;

struct snapshot {
	struct snapshot_base *base;
	struct conf *conf;
	struct zoneset *zones;
	struct geo_db *geo; /* NULL when no database is configured */
	/* geoip.compact: the class table decide() uses instead of database
	 * lookups; NULL when off or without a database. Built for this
	 * snapshot's config and geo, freed with it. */
	struct geo_classes *gclass;
	struct net_set *acl_block; /* acl.blocklist, reloaded like GeoIP files */
	/* region indexes of each overrides-file line that lists regions */
	unsigned **override_regions;
	size_t noverride_regions;
	/* by service index: every client gets the same region (ECS scope 0) */
	uint8_t *location_free;
	/* services by lower-cased owner name (open addressing, NULL = empty) */
	const struct service **svc_table;
	size_t svc_mask;
	int has_wildcard_services;
	/* Names that exist only because a service lies below them (the
	 * parent of "*.cdn.example.com", say): NODATA, never NXDOMAIN. Each
	 * entry points into a service's lname. */
	struct svc_ent {
		const uint8_t *name;
		size_t len;
	} * svc_ents;
	size_t svc_ent_mask;
	/* RCU-protected: rcu_dereference(snap->health) inside a read-side
	 * section. Replaced by the prober; freed with the snapshot. */
	struct health *health;
	uint64_t generation;
	/* dnstap logging (dnstap.h), NULL = off; set by the server before
	 * publishing (dnstap_attach), shared by reference between snapshots. */
	struct dnstap *dnstap;
};

/* Load the config at path and everything it names. On failure returns a
 * negative gslb_err with "file:line: reason" in err, and builds nothing.
 * The result is owned by the caller (snapshot_free). */
int snapshot_load(const char *path, struct snapshot **out, char *err, size_t errlen);
void snapshot_free(struct snapshot *s);

/* Allocator settings that keep memory flat across reloads: call once at
 * start, before anything is loaded; call snapshot_memory_release after a
 * retired snapshot has been freed, to give its pages back to the system. */
void snapshot_memory_init(void);
void snapshot_memory_release(void);

/* A new snapshot with old's config and zones and freshly read data files
 * (GeoIP database and overrides, ACL blocklist). On failure old is
 * untouched and err says why. */
int snapshot_regeo(const struct snapshot *old, struct snapshot **out, char *err, size_t errlen);

#endif
