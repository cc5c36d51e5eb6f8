/* The signature cache shared by the workers and online signing (see
 * dnssec_cache.h). Lookups and inserts take no lock: slots are atomic
 * pointers; an entry is immutable once published (but for its `used`
 * mark) and freed only after an RCU grace period, by the sweep. */
#include "gslb/dnssec_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "gslb/dname.h"
#include "gslb/dnsdefs.h"
#include "gslb/err.h"
#include "gslb/siphash.h"

struct sig_entry {
	struct sig_entry *next; /* on the retired list */
	uint64_t hash;
	uint64_t fp; /* the signing key's fingerprint */
	uint32_t expire;
	uint8_t used; /* looked up since the last sweep (atomic) */
	uint16_t siglen;
	size_t keylen;
	uint8_t *sig;  /* RRSIG RDATA, after the key bytes */
	uint8_t key[]; /* see key_build */
};

struct sigcache {
	struct sig_entry **slots; /* atomic */
	size_t mask;
	struct sig_entry *retired; /* atomic, a push-only stack */
	uint8_t seed[SIPHASH_KEY_LEN];
	/* held by threads that look up outside an RCU read-side section
	 * (sigcache_outside_begin), and by sigcache_reclaim while it takes
	 * the retired list; never by the workers */
	pthread_mutex_t mu;
	uint64_t made, hits, misses, warmed, refreshes, evictions, entries; /* atomic */
};

#define ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define ATOMIC_SUB(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)

int zone_signer_signs(const struct zone_signer *zs, size_t k)
{
	return !zs->have_zsk || !(zs->keys[k].flags & DNSSEC_FLAG_SEP);
}

const uint8_t *sig_entry_rdata(const struct sig_entry *e, uint16_t *len)
{
	*len = e->siglen;
	return e->sig;
}

struct sigcache *sigcache_new(size_t slots)
{
	size_t n = SIGCACHE_WINDOW;
	while (n < slots)
		n *= 2;
	struct sigcache *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->slots = calloc(n, sizeof(*sc->slots));
	if (!sc->slots || siphash_random_key(sc->seed)) {
		free(sc->slots);
		free(sc);
		return NULL;
	}
	sc->mask = n - 1;
	pthread_mutex_init(&sc->mu, NULL);
	return sc;
}

void sigcache_free(struct sigcache *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i <= sc->mask; i++)
		free(sc->slots[i]);
	for (struct sig_entry *e = sc->retired, *nx; e; e = nx) {
		nx = e->next;
		free(e);
	}
	free(sc->slots);
	pthread_mutex_destroy(&sc->mu);
	free(sc);
}

void sigcache_outside_begin(struct sigcache *sc) { pthread_mutex_lock(&sc->mu); }

void sigcache_outside_end(struct sigcache *sc) { pthread_mutex_unlock(&sc->mu); }

static struct sigcache *global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) { global = sigcache_new(SIGCACHE_DEFAULT_SLOTS); }

struct sigcache *sigcache_global(void)
{
	pthread_once(&global_once, global_init);
	return global;
}

/* Canonical order of RDATA (RFC 4034 6.3): octet by octet, a prefix first. */
static int rd_before(const uint8_t *a, uint16_t al, const uint8_t *b, uint16_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c < 0 || (c == 0 && al < bl);
}

#define SORT_MAX 1024

/* The order of rs's entries (insertion sort: sets are small). */
static int sort_rdata(const struct sig_rrset *rs, uint16_t *ord)
{
	if (rs->n > SORT_MAX)
		return -1;
	for (size_t i = 0; i < rs->n; i++) {
		size_t j = i;
		while (j > 0 && rd_before(rs->rd[i], rs->rdlen[i], rs->rd[ord[j - 1]],
					  rs->rdlen[ord[j - 1]])) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = (uint16_t)i;
	}
	return 0;
}

static size_t key_size(const struct sig_rrset *rs)
{
	size_t n = 8 + 2 + 4 + 1 + rs->owner_len + 2;
	for (size_t i = 0; i < rs->n; i++)
		n += 2 + (size_t)rs->rdlen[i];
	return n;
}

/* The key bytes: fingerprint, type, TTL, owner, then each RDATA in
 * canonical order with its length. */
static void key_build(uint8_t *p, uint64_t fp, const struct sig_rrset *rs, const uint16_t *ord)
{
	memcpy(p, &fp, 8);
	p += 8;
	*p++ = (uint8_t)(rs->type >> 8);
	*p++ = (uint8_t)rs->type;
	for (int s = 24; s >= 0; s -= 8)
		*p++ = (uint8_t)(rs->ttl >> s);
	*p++ = (uint8_t)rs->owner_len;
	memcpy(p, rs->owner, rs->owner_len);
	p += rs->owner_len;
	*p++ = (uint8_t)(rs->n >> 8);
	*p++ = (uint8_t)rs->n;
	for (size_t i = 0; i < rs->n; i++) {
		uint16_t l = rs->rdlen[ord[i]];
		*p++ = (uint8_t)(l >> 8);
		*p++ = (uint8_t)l;
		memcpy(p, rs->rd[ord[i]], l);
		p += l;
	}
}

int dnssec_rr_push(ldns_rr_list *l, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		   const uint8_t *rd, uint16_t rdlen)
{
	uint8_t *buf = malloc(olen + 10 + (size_t)rdlen);
	if (!buf)
		return GSLB_ENOMEM;
	size_t w = olen;
	memcpy(buf, owner, olen);
	buf[w++] = (uint8_t)(type >> 8);
	buf[w++] = (uint8_t)type;
	buf[w++] = 0;
	buf[w++] = DNS_C_IN;
	for (int s = 24; s >= 0; s -= 8)
		buf[w++] = (uint8_t)(ttl >> s);
	buf[w++] = (uint8_t)(rdlen >> 8);
	buf[w++] = (uint8_t)rdlen;
	memcpy(buf + w, rd, rdlen);
	w += rdlen;
	size_t at = 0;
	ldns_rr *rr = NULL;
	int rc = GSLB_OK;
	if (ldns_wire2rr(&rr, buf, w, &at, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK ||
	    !ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		rc = GSLB_EPARSE;
	}
	free(buf);
	return rc;
}

/* The RRset of the key bytes as ldns records. */
static ldns_rr_list *key_to_ldns(const uint8_t *key)
{
	uint16_t type = (uint16_t)(key[8] << 8 | key[9]);
	uint32_t ttl = (uint32_t)key[10] << 24 | (uint32_t)key[11] << 16 | (uint32_t)key[12] << 8 |
		       key[13];
	size_t olen = key[14];
	const uint8_t *owner = key + 15;
	const uint8_t *p = owner + olen;
	size_t n = (size_t)(p[0] << 8 | p[1]);
	p += 2;
	ldns_rr_list *l = ldns_rr_list_new();
	for (size_t i = 0; l && i < n; i++) {
		uint16_t rdlen = (uint16_t)(p[0] << 8 | p[1]);
		if (dnssec_rr_push(l, owner, olen, type, ttl, p + 2, rdlen)) {
			ldns_rr_list_deep_free(l);
			return NULL;
		}
		p += 2 + (size_t)rdlen;
	}
	return l;
}

/* A new entry for the key bytes, signed by k from now on. */
static struct sig_entry *make_entry(const uint8_t *key, size_t keylen, uint64_t hash,
				    const struct zone_signer *zs, size_t k, uint32_t now)
{
	ldns_rr_list *l = key_to_ldns(key);
	if (!l)
		return NULL;
	uint32_t expire = now + zs->validity;
	ldns_rr *sig = dnssec_sign_rrset(l, &zs->keys[k], now - zs->inception_offset, expire);
	ldns_rr_list_deep_free(l);
	ldns_buffer *buf = ldns_buffer_new(512);
	struct sig_entry *e = NULL;
	if (sig && buf && ldns_rr_rdata2buffer_wire(buf, sig) == LDNS_STATUS_OK &&
	    ldns_buffer_position(buf) <= 65535) {
		size_t sl = ldns_buffer_position(buf);
		e = malloc(sizeof(*e) + keylen + sl);
		if (e) {
			memset(e, 0, sizeof(*e));
			e->hash = hash;
			memcpy(&e->fp, key, 8);
			e->expire = expire;
			e->keylen = keylen;
			memcpy(e->key, key, keylen);
			e->sig = e->key + keylen;
			e->siglen = (uint16_t)sl;
			memcpy(e->sig, ldns_buffer_begin(buf), sl);
		}
	}
	ldns_buffer_free(buf);
	ldns_rr_free(sig);
	return e;
}

static void retire(struct sigcache *sc, struct sig_entry *e)
{
	struct sig_entry *head = __atomic_load_n(&sc->retired, __ATOMIC_RELAXED);
	do
		e->next = head;
	while (!__atomic_compare_exchange_n(&sc->retired, &head, e, 1, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	ATOMIC_ADD(&sc->evictions, 1);
	ATOMIC_SUB(&sc->entries, 1);
}

/* Still good to send: more than half of its refresh time left (the sweep
 * renews it when the refresh time is reached; this is for a sweep late). */
static int fresh(const struct sig_entry *e, const struct zone_signer *zs, uint32_t now)
{
	return (int32_t)(e->expire - now) > (int32_t)(zs->refresh / 2);
}

/* Put e into its window: an empty slot, else the entry for the same key
 * (stale), else the one expiring first. */
static void insert(struct sigcache *sc, struct sig_entry *e)
{
	ATOMIC_ADD(&sc->entries, 1);
	for (int tries = 0; tries < 4; tries++) {
		size_t victim = 0;
		struct sig_entry *vold = NULL;
		for (size_t i = 0; i < SIGCACHE_WINDOW; i++) {
			size_t at = (e->hash + i) & sc->mask;
			struct sig_entry *old = __atomic_load_n(&sc->slots[at], __ATOMIC_ACQUIRE);
			if (!old) {
				if (__atomic_compare_exchange_n(&sc->slots[at], &old, e, 0,
								__ATOMIC_RELEASE, __ATOMIC_RELAXED))
					return;
				continue;
			}
			if (old->hash == e->hash && old->keylen == e->keylen &&
			    memcmp(old->key, e->key, e->keylen) == 0) {
				victim = at, vold = old;
				break;
			}
			if (!vold || (int32_t)(old->expire - vold->expire) < 0)
				victim = at, vold = old;
		}
		if (vold && __atomic_compare_exchange_n(&sc->slots[victim], &vold, e, 0,
							__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
			retire(sc, vold);
			return;
		}
	}
	/* lost every race: not cached (the caller still sends it) */
	retire(sc, e);
}

/* warm: a lookup of the warm-up, not of a query: not counted as a hit or
 * miss (the prober's publish() would make hits climb with no traffic). */
static const struct sig_entry *lookup(struct sigcache *sc, const struct zone_signer *zs, size_t k,
				      const struct sig_rrset *rs, uint32_t now, int warm)
{
	uint16_t ord[SORT_MAX];
	if (!sc || k >= zs->nkeys || rs->owner_len > DNAME_MAXLEN || sort_rdata(rs, ord))
		return NULL;
	uint8_t stack[2048];
	size_t keylen = key_size(rs);
	uint8_t *key = keylen <= sizeof(stack) ? stack : malloc(keylen);
	if (!key)
		return NULL;
	key_build(key, zs->fp[k], rs, ord);
	uint64_t hash = siphash24(sc->seed, key, keylen);
	const struct sig_entry *found = NULL;
	for (size_t i = 0; i < SIGCACHE_WINDOW && !found; i++) {
		const struct sig_entry *e =
			__atomic_load_n(&sc->slots[(hash + i) & sc->mask], __ATOMIC_ACQUIRE);
		if (e && e->hash == hash && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0 && fresh(e, zs, now))
			found = e;
	}
	if (found) {
		if (!__atomic_load_n(&found->used, __ATOMIC_RELAXED))
			__atomic_store_n(&((struct sig_entry *)found)->used, 1, __ATOMIC_RELAXED);
		if (!warm)
			ATOMIC_ADD(&sc->hits, 1);
	} else {
		if (!warm)
			ATOMIC_ADD(&sc->misses, 1);
		struct sig_entry *e = make_entry(key, keylen, hash, zs, k, now);
		if (e) {
			e->used = 1;
			ATOMIC_ADD(&sc->made, 1);
			if (warm)
				ATOMIC_ADD(&sc->warmed, 1);
			insert(sc, e);
		}
		found = e;
	}
	if (key != stack)
		free(key);
	return found;
}

const struct sig_entry *sigcache_get(struct sigcache *sc, const struct zone_signer *zs, size_t k,
				     const struct sig_rrset *rs, uint32_t now)
{
	return lookup(sc, zs, k, rs, now, 0);
}

const struct sig_entry *sigcache_warm(struct sigcache *sc, const struct zone_signer *zs, size_t k,
				      const struct sig_rrset *rs, uint32_t now)
{
	return lookup(sc, zs, k, rs, now, 1);
}

static const struct zone_signer *signer_of(const struct zone_signer *const *signers, size_t n,
					   uint64_t fp, size_t *k)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; signers[i] && j < signers[i]->nkeys; j++)
			if (signers[i]->fp[j] == fp) {
				*k = j;
				return signers[i];
			}
	return NULL;
}

void sigcache_sweep(struct sigcache *sc, const struct zone_signer *const *signers, size_t n,
		    uint32_t now)
{
	if (!sc)
		return;
	for (size_t i = 0; i <= sc->mask; i++) {
		struct sig_entry *e = __atomic_load_n(&sc->slots[i], __ATOMIC_ACQUIRE);
		if (!e)
			continue;
		size_t k = 0;
		const struct zone_signer *zs = signer_of(signers, n, e->fp, &k);
		int used = __atomic_exchange_n(&e->used, 0, __ATOMIC_RELAXED);
		if (zs && (int32_t)(e->expire - now) > (int32_t)zs->refresh)
			continue; /* not due yet */
		struct sig_entry *nw = NULL;
		if (zs && used)
			nw = make_entry(e->key, e->keylen, e->hash, zs, k, now);
		struct sig_entry *old = e;
		if (!__atomic_compare_exchange_n(&sc->slots[i], &old, nw, 0, __ATOMIC_RELEASE,
						 __ATOMIC_RELAXED)) {
			free(nw); /* a worker replaced it meanwhile */
			continue;
		}
		if (nw) {
			ATOMIC_ADD(&sc->made, 1);
			ATOMIC_ADD(&sc->refreshes, 1);
			ATOMIC_ADD(&sc->entries, 1);
		}
		retire(sc, e);
	}
}

void sigcache_reclaim(struct sigcache *sc, int sync)
{
	if (!sc) {
		if (sync)
			urcu_memb_synchronize_rcu();
		return;
	}
	/* Taken while no thread looks up outside RCU: one that starts after
	 * cannot see these entries (they left their slots before), and the
	 * workers' read-side sections are waited for; the mutex is not held
	 * during the wait, so a thread holding it never waits for a reader. */
	pthread_mutex_lock(&sc->mu);
	struct sig_entry *dead = __atomic_exchange_n(&sc->retired, NULL, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&sc->mu);
	if (dead || sync)
		urcu_memb_synchronize_rcu();
	for (struct sig_entry *nx; dead; dead = nx) {
		nx = dead->next;
		free(dead);
	}
}

void sigcache_stats(const struct sigcache *sc, struct sigcache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!sc)
		return;
	st->made = __atomic_load_n(&sc->made, __ATOMIC_RELAXED);
	st->hits = __atomic_load_n(&sc->hits, __ATOMIC_RELAXED);
	st->misses = __atomic_load_n(&sc->misses, __ATOMIC_RELAXED);
	st->warmed = __atomic_load_n(&sc->warmed, __ATOMIC_RELAXED);
	st->refreshes = __atomic_load_n(&sc->refreshes, __ATOMIC_RELAXED);
	st->evictions = __atomic_load_n(&sc->evictions, __ATOMIC_RELAXED);
	st->entries = __atomic_load_n(&sc->entries, __ATOMIC_RELAXED);
}

size_t dnssec_nsec_rdata(uint8_t *out, size_t cap, const uint8_t *owner, size_t owner_len,
			 const uint16_t *types, size_t n)
{
	if (owner_len + 2 > DNAME_MAXLEN || cap < owner_len + 2)
		return 0;
	size_t len = 0;
	out[len++] = 1;
	out[len++] = 0;
	memcpy(out + len, owner, owner_len);
	len += owner_len;
	/* windows (RFC 4034 4.1.2): number, length, bits */
	for (size_t i = 0; i < n;) {
		uint8_t win = (uint8_t)(types[i] >> 8);
		uint8_t bits[32] = { 0 };
		size_t blen = 0;
		for (; i < n && (types[i] >> 8) == win; i++) {
			uint8_t lo = (uint8_t)types[i];
			bits[lo / 8] |= (uint8_t)(0x80 >> (lo % 8));
			blen = (size_t)lo / 8 + 1;
		}
		if (len + 2 + blen > cap)
			return 0;
		out[len++] = win;
		out[len++] = (uint8_t)blen;
		memcpy(out + len, bits, blen);
		len += blen;
	}
	return len;
}
