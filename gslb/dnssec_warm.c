/* Signing the geo answer sets ahead (issue 14): the RRsets a service can
 * answer are few and known from the config and the health view (each pool's
 * usable members of a family, when `answers` does not pick a subset; each
 * CNAME pool's CNAME), so they are signed into the signature cache when a
 * snapshot is loaded and when the prober is about to publish a new health
 * view: a region failing over finds its signatures made, not a signing
 * storm on the query path. Sets drawn at random (`answers` below the
 * members usable) and wildcard services (the owner is the name asked) are
 * signed on first use. */
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "gslb/dnsdefs.h"
#include "gslb/dnssec_cache.h"
#include "gslb/health.h"
#include "gslb/snapshot.h"

#define WARM_MAX 256

struct warm {
	struct sigcache *sc;
	const struct zone_signer *zs;
	const struct service *svc;
	uint32_t now;
	size_t made;
};

static void sign_set(struct warm *w, uint16_t type, const uint8_t *const *rd, const uint16_t *len,
		     size_t n)
{
	if (!n || (w->svc->answers && w->svc->answers < n && type != DNS_T_CNAME))
		return;
	struct sig_rrset rs = {
		w->svc->lname, w->svc->lname_len, type, dnssec_answer_ttl(w->svc, 0), n, rd, len
	};
	for (size_t k = 0; k < w->zs->nkeys; k++)
		if (zone_signer_signs(w->zs, k) && sigcache_warm(w->sc, w->zs, k, &rs, w->now))
			w->made++;
}

/* The members of one family a query would get: the usable ones (or those
 * failing open may give), else the config's. */
static void family_set(struct warm *w, const struct pool *p, const struct hpool *hp, int family,
		       int fail_open)
{
	const uint8_t *rd[WARM_MAX];
	uint16_t len[WARM_MAX];
	size_t n = 0;
	uint16_t alen = family == AF_INET ? 4 : 16;
	if (hp) {
		for (size_t i = 0; i < hp->nmembers && n < WARM_MAX; i++) {
			const struct hmember *m = &hp->members[i];
			int ok = m->usable || (fail_open && m->admin != OVERRIDE_DRAIN &&
					       m->admin != OVERRIDE_FORCE_DOWN);
			if (m->family == family && ok) {
				rd[n] = m->addr;
				len[n++] = alen;
			}
		}
	} else {
		for (size_t i = 0; i < p->nmembers && n < WARM_MAX; i++) {
			if (p->members[i].family == family) {
				rd[n] = p->members[i].addr;
				len[n++] = alen;
			}
		}
	}
	sign_set(w, family == AF_INET ? DNS_T_A : DNS_T_AAAA, rd, len, n);
}

static void pool_sets(struct warm *w, const struct pool *p, const struct health *h)
{
	if (p->cname_len) {
		const uint8_t *rd[1] = { p->cname };
		uint16_t len[1] = { p->cname_len };
		sign_set(w, DNS_T_CNAME, rd, len, 1);
		return;
	}
	const struct hpool *hp = h && p->gidx < h->npools ? &h->pools[p->gidx] : NULL;
	int modes = hp ? 2 : 1; /* with a view: as usual, and failing open */
	for (int fo = 0; fo < modes; fo++) {
		family_set(w, p, hp, AF_INET, fo);
		family_set(w, p, hp, AF_INET6, fo);
	}
}

size_t dnssec_warm(const struct snapshot *snap, const struct health *h)
{
	struct warm w = { .sc = sigcache_global(), .now = (uint32_t)time(NULL) };
	const struct conf *c = snap->conf;
	int any = 0;
	for (size_t i = 0; i < snap->zones->nzones; i++)
		any |= snap->zones->zones[i]->signer != NULL;
	if (!any || !w.sc)
		return 0;
	sigcache_outside_begin(w.sc);
	for (size_t i = 0; i < c->nservices; i++) {
		const struct service *svc = &c->services[i];
		const struct zone *z = zoneset_find(snap->zones, svc->lname, svc->lname_len);
		if (svc->wildcard || !z || !z->signer)
			continue;
		w.zs = z->signer;
		w.svc = svc;
		for (size_t p = 0; p < svc->npools; p++)
			pool_sets(&w, &svc->pools[p], h);
		if (svc->when_all_down == ALL_DOWN_FALLBACK)
			pool_sets(&w, &svc->fallback, NULL);
	}
	sigcache_outside_end(w.sc);
	return w.made;
}

uint32_t dnssec_answer_ttl(const struct service *svc, uint32_t sent)
{
	uint32_t ttl = svc->ttl > svc->ttl_min ? svc->ttl : svc->ttl_min;
	return sent > ttl ? sent : ttl;
}
