/* DNSSEC keys and signatures (see dnssec.h). The cryptography is ldns's
 * (OpenSSL underneath); this module reads the key files with clear errors,
 * checks them, and builds the records. */
#include "gslb/dnssec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gslb/err.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* First resource record of a .key file (comments and blank lines skipped). */
static int read_dnskey(const char *path, ldns_rr **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, errlen, GSLB_EIO, "%s: %s", path, strerror(errno));
	int line = 1;
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	ldns_rr *rr = NULL;
	ldns_status st = LDNS_STATUS_SYNTAX_EMPTY;
	while (!feof(f)) {
		st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_OK ||
		    (st != LDNS_STATUS_SYNTAX_EMPTY && st != LDNS_STATUS_SYNTAX_TTL &&
		     st != LDNS_STATUS_SYNTAX_ORIGIN))
			break;
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (st != LDNS_STATUS_OK)
		return fail(err, errlen, GSLB_EPARSE, "%s:%d: %s", path, line,
			    st == LDNS_STATUS_SYNTAX_EMPTY ? "no DNSKEY record" :
							     ldns_get_errorstr_by_id(st));
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY || ldns_rr_rd_count(rr) != 4) {
		ldns_rr_free(rr);
		return fail(err, errlen, GSLB_EPARSE, "%s:%d: not a DNSKEY record", path, line);
	}
	*out = rr;
	return GSLB_OK;
}

static int check_dnskey(const char *path, const ldns_rr *rr, const char *origin, char *err,
			size_t errlen)
{
	ldns_rdf *zone = NULL;
	if (ldns_str2rdf_dname(&zone, origin) != LDNS_STATUS_OK)
		return fail(err, errlen, GSLB_EINVAL, "%s: bad zone name %s", path, origin);
	int same = ldns_dname_compare(zone, ldns_rr_owner(rr)) == 0;
	ldns_rdf_deep_free(zone);
	if (!same) {
		char *owner = ldns_rdf2str(ldns_rr_owner(rr));
		fail(err, errlen, GSLB_EINVAL, "%s: key of %s, not of zone %s", path,
		     owner ? owner : "?", origin);
		free(owner);
		return GSLB_EINVAL;
	}
	uint16_t flags = ldns_rdf2native_int16(ldns_rr_dnskey_flags(rr));
	uint8_t proto = ldns_rdf2native_int8(ldns_rr_dnskey_protocol(rr));
	uint8_t alg = ldns_rdf2native_int8(ldns_rr_dnskey_algorithm(rr));
	if (proto != 3)
		return fail(err, errlen, GSLB_EINVAL, "%s: protocol %u, not 3", path, proto);
	if (alg != DNSSEC_ALG_ECDSAP256SHA256 && alg != DNSSEC_ALG_ED25519)
		return fail(err, errlen, GSLB_EINVAL,
			    "%s: algorithm %u not supported (13 ECDSAP256SHA256 or 15 ED25519)",
			    path, alg);
	if (!(flags & DNSSEC_FLAG_ZONE))
		return fail(err, errlen, GSLB_EINVAL, "%s: flags %u lack the zone key bit (256)",
			    path, flags);
	if (flags & DNSSEC_FLAG_REVOKE)
		return fail(err, errlen, GSLB_EINVAL, "%s: key is revoked (flags %u)", path, flags);
	return GSLB_OK;
}

static int read_private(const char *path, ldns_key **out, bool *world, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, errlen, GSLB_EIO, "%s: %s", path, strerror(errno));
	struct stat st;
	*world = fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH);
	int line = 1;
	ldns_status s = ldns_key_new_frm_fp_l(out, f, &line);
	fclose(f);
	if (s != LDNS_STATUS_OK)
		return fail(err, errlen, GSLB_EPARSE, "%s:%d: %s", path, line,
			    ldns_get_errorstr_by_id(s));
	return GSLB_OK;
}

int dnssec_key_load(struct dnssec_key *k, const char *base, const char *origin, char *err,
		    size_t errlen)
{
	memset(k, 0, sizeof(*k));
	size_t blen = strlen(base);
	char *path = malloc(blen + sizeof(".private"));
	if (!path)
		return fail(err, errlen, GSLB_ENOMEM, "%s: out of memory", base);
	memcpy(path, base, blen);
	memcpy(path + blen, ".key", sizeof(".key"));
	int rc = read_dnskey(path, &k->dnskey, err, errlen);
	if (rc == GSLB_OK)
		rc = check_dnskey(path, k->dnskey, origin, err, errlen);
	if (rc != GSLB_OK)
		goto out;
	k->flags = ldns_rdf2native_int16(ldns_rr_dnskey_flags(k->dnskey));
	k->alg = ldns_rdf2native_int8(ldns_rr_dnskey_algorithm(k->dnskey));
	k->tag = ldns_calc_keytag(k->dnskey);
	memcpy(path + blen, ".private", sizeof(".private"));
	rc = read_private(path, &k->key, &k->private_world_readable, err, errlen);
	if (rc != GSLB_OK)
		goto out;
	if ((int)ldns_key_algorithm(k->key) != k->alg) {
		rc = fail(err, errlen, GSLB_EINVAL, "%s: algorithm %d, the .key file says %u", path,
			  (int)ldns_key_algorithm(k->key), k->alg);
		goto out;
	}
	ldns_key_set_flags(k->key, k->flags);
	ldns_key_set_pubkey_owner(k->key, ldns_rdf_clone(ldns_rr_owner(k->dnskey)));
	ldns_key_set_keytag(k->key, k->tag);
	ldns_rr *pub = ldns_key2rr(k->key);
	int match = pub && ldns_rdf_compare(ldns_rr_rdf(pub, 3), ldns_rr_rdf(k->dnskey, 3)) == 0;
	ldns_rr_free(pub);
	if (!match)
		rc = fail(err, errlen, GSLB_EINVAL, "%s: private key does not match %.*s.key", path,
			  (int)blen, base);
out:
	free(path);
	if (rc != GSLB_OK)
		dnssec_key_free(k);
	return rc;
}

void dnssec_key_free(struct dnssec_key *k)
{
	if (k->key)
		ldns_key_deep_free(k->key);
	ldns_rr_free(k->dnskey);
	k->key = NULL;
	k->dnskey = NULL;
}

ldns_rr *dnssec_key_ds(const struct dnssec_key *k, int digest_type, uint32_t ttl)
{
	if (digest_type != LDNS_SHA256 && digest_type != LDNS_SHA384)
		return NULL;
	ldns_rr *ds = ldns_key_rr2ds(k->dnskey, (ldns_hash)digest_type);
	if (ds)
		ldns_rr_set_ttl(ds, ttl);
	return ds;
}

bool dnssec_key_for_ds(const struct dnssec_key *keys, size_t n, size_t i)
{
	if (keys[i].flags & DNSSEC_FLAG_SEP)
		return true;
	for (size_t j = 0; j < n; j++)
		if (keys[j].flags & DNSSEC_FLAG_SEP)
			return false;
	return true;
}

int dnssec_print_ds(FILE *out, const struct dnssec_key *keys, size_t n, uint32_t ttl)
{
	for (size_t i = 0; i < n; i++) {
		if (!dnssec_key_for_ds(keys, n, i))
			continue;
		ldns_rr *ds = dnssec_key_ds(&keys[i], LDNS_SHA256, ttl);
		if (!ds)
			return GSLB_ENOMEM;
		ldns_rr_print(out, ds);
		ldns_rr_free(ds);
	}
	return ferror(out) ? GSLB_EIO : GSLB_OK;
}

ldns_rr *dnssec_sign_rrset(const ldns_rr_list *rrset, const struct dnssec_key *k,
			   uint32_t inception, uint32_t expiration)
{
	size_t n = ldns_rr_list_rr_count(rrset);
	if (!n || !k->key)
		return NULL;
	ldns_rr_list *canon = ldns_rr_list_clone(rrset);
	if (!canon)
		return NULL;
	uint32_t ttl = ldns_rr_ttl(ldns_rr_list_rr(rrset, 0));
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(canon, i);
		ldns_rr_set_ttl(rr, ttl);
		ldns_rr2canonical(rr);
	}
	ldns_rr_list_sort(canon);
	ldns_rr *sig = ldns_create_empty_rrsig(canon, k->key);
	ldns_buffer *buf = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	ldns_rdf *b64 = NULL;
	if (!sig || !buf)
		goto out;
	ldns_rr_rrsig_set_inception(sig, ldns_native2rdf_int32(LDNS_RDF_TYPE_TIME, inception));
	ldns_rr_rrsig_set_expiration(sig, ldns_native2rdf_int32(LDNS_RDF_TYPE_TIME, expiration));
	if (ldns_rrsig2buffer_wire(buf, sig) != LDNS_STATUS_OK ||
	    ldns_rr_list2buffer_wire(buf, canon) != LDNS_STATUS_OK)
		goto out;
	b64 = ldns_sign_public_buffer(buf, k->key);
	if (b64)
		(void)ldns_rr_rrsig_set_sig(sig, b64);
out:
	ldns_buffer_free(buf);
	ldns_rr_list_deep_free(canon);
	if (!b64) {
		ldns_rr_free(sig);
		return NULL;
	}
	return sig;
}
