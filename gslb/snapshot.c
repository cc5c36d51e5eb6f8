/* A snapshot is everything one query needs: the config and every zone,
 * loaded and validated completely before anyone can see it. Building it is
 * all-or-nothing, so a broken zone can never be half-published. */
#include <stdio.h>
#include <stdlib.h>

#include "gslb/err.h"
#include "gslb/snapshot.h"

int snapshot_load(const char *path, struct snapshot **out, char *err, size_t errlen)
{
	struct snapshot *s = NULL;
	struct conf *conf = NULL;
	struct zone **zones = NULL;
	size_t nloaded = 0;
	int rc;

	*out = NULL;
	rc = conf_load(path, &conf, err, errlen);
	if (rc)
		goto out;
	s = calloc(1, sizeof(*s));
	if (conf->nzones > 0)
		zones = calloc(conf->nzones, sizeof(*zones));
	if (s == NULL || (conf->nzones > 0 && zones == NULL)) {
		rc = GSLB_ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < conf->nzones; i++) {
		rc = zone_load(conf->zones[i].origin, conf->zones[i].file, &zones[i], err, errlen);
		if (rc)
			goto out;
		nloaded++;
	}
	/* zoneset_new owns the zones from here on, failure included. */
	nloaded = 0;
	rc = zoneset_new(zones, conf->nzones, &s->zones, err, errlen);
	if (rc)
		goto out;
	s->conf = conf;
	conf = NULL;
	s->generation = 1;
	*out = s;
	s = NULL;
out:
	for (size_t i = 0; i < nloaded; i++)
		zone_free(zones[i]);
	free(zones);
	conf_free(conf);
	snapshot_free(s);
	return rc;
}

void snapshot_free(struct snapshot *s)
{
	if (s == NULL)
		return;
	zoneset_free(s->zones);
	conf_free(s->conf);
	free(s);
}
