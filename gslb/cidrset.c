/* Network sets for ACLs: sorted arrays per prefix length. Building sorts
 * once; a lookup is a binary search per prefix length present, which for
 * blocklists of a few distinct lengths is a handful of comparisons. */
#include "gslb/cidrset.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gslb/err.h"
#include "gslb/textline.h"

struct cidr_group {
	uint8_t prefix;
	size_t n;
	uint8_t (*keys)[16]; /* masked addresses, sorted */
};

struct cidr_family {
	struct cidr_group *groups; /* longest prefix first */
	size_t ngroups;
};

struct cidrset {
	struct cidr_family fam[2]; /* IPv4, IPv6 */
	size_t count;
};

static void mask(uint8_t *dst, const uint8_t *src, unsigned alen, unsigned prefix)
{
	for (unsigned i = 0; i < alen; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xFF : (uint8_t)(0xFF << (8 - bits));
		dst[i] = src[i] & m;
	}
	for (unsigned i = alen; i < 16; i++)
		dst[i] = 0;
}

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

int cidr_sockaddr_ip(const struct sockaddr *sa, uint8_t addr[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(addr, 0, 16);
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(addr, &in->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		if (memcmp(b, mapped, sizeof(mapped)) == 0) {
			memcpy(addr, b + 12, 4);
			return AF_INET;
		}
		memcpy(addr, b, 16);
		return AF_INET6;
	}
	return 0;
}

int cidr_same_net(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t m = (uint8_t)(0xFF << (8 - rest));
	return (a[full] & m) == (b[full] & m);
}

void cidrset_free(struct cidrset *s)
{
	if (!s)
		return;
	for (int f = 0; f < 2; f++) {
		for (size_t g = 0; g < s->fam[f].ngroups; g++)
			free(s->fam[f].groups[g].keys);
		free(s->fam[f].groups);
	}
	free(s);
}

struct cidrset *cidrset_new(const int *family, const uint8_t (*addr)[16], const uint8_t *prefix,
			    size_t n)
{
	struct cidrset *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int f = 0; f < 2; f++) {
		int want = f ? AF_INET6 : AF_INET;
		unsigned maxp = f ? 128 : 32;
		size_t counts[129] = { 0 };
		for (size_t i = 0; i < n; i++)
			if (family[i] == want && prefix[i] <= maxp)
				counts[prefix[i]]++;
		size_t ng = 0;
		for (unsigned p = 0; p <= maxp; p++)
			ng += counts[p] > 0;
		if (!ng)
			continue;
		s->fam[f].groups = calloc(ng, sizeof(struct cidr_group));
		if (!s->fam[f].groups)
			goto fail;
		for (int p = (int)maxp; p >= 0; p--) {
			if (!counts[p])
				continue;
			struct cidr_group *g = &s->fam[f].groups[s->fam[f].ngroups++];
			g->prefix = (uint8_t)p;
			g->keys = malloc(counts[p] * 16);
			if (!g->keys)
				goto fail;
			for (size_t i = 0; i < n; i++)
				if (family[i] == want && prefix[i] == p)
					mask(g->keys[g->n++], addr[i], f ? 16 : 4, (unsigned)p);
			qsort(g->keys, g->n, 16, key_cmp);
			/* Duplicates are harmless for membership; drop them. */
			size_t w = 0;
			for (size_t i = 0; i < g->n; i++)
				if (w == 0 || memcmp(g->keys[w - 1], g->keys[i], 16) != 0)
					memmove(g->keys[w++], g->keys[i], 16);
			g->n = w;
			s->count += w;
		}
	}
	return s;
fail:
	cidrset_free(s);
	return NULL;
}

int cidrset_contains(const struct cidrset *s, int family, const uint8_t *addr)
{
	if (!s || (family != AF_INET && family != AF_INET6))
		return 0;
	const struct cidr_family *f = &s->fam[family == AF_INET6];
	unsigned alen = family == AF_INET6 ? 16 : 4;
	uint8_t k[16];
	for (size_t i = 0; i < f->ngroups; i++) {
		const struct cidr_group *g = &f->groups[i];
		mask(k, addr, alen, g->prefix);
		if (bsearch(k, g->keys, g->n, 16, key_cmp))
			return 1;
	}
	return 0;
}

size_t cidrset_count(const struct cidrset *s) { return s ? s->count : 0; }

static int parse_net(const char *t, int *family, uint8_t addr[16], uint8_t *prefix)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(t, '/');
	size_t hl = slash ? (size_t)(slash - t) : strlen(t);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, t, hl);
	host[hl] = '\0';
	memset(addr, 0, 16);
	unsigned max;
	if (inet_pton(AF_INET, host, addr) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		*family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	unsigned long p = max;
	if (slash) {
		char *end = NULL;
		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || p > max)
			return -1;
	}
	*prefix = (uint8_t)p;
	return 0;
}

int cidrset_load_file(const char *path, struct cidrset **out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[TEXTLINE_MAX];
	int rc = GSLB_OK, lineno = 0;
	size_t len;
	size_t n = 0, cap = 0;
	int *fam = NULL;
	uint8_t(*addr)[16] = NULL;
	uint8_t *pfx = NULL;

	*out = NULL;
	if (!fp) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return GSLB_EIO;
	}
	while ((rc = textline_read(fp, line, sizeof(line), &len)) != 0) {
		lineno++;
		if (rc < 0) {
			textline_error(rc, path, lineno, sizeof(line), err, errlen);
			goto out;
		}
		rc = GSLB_OK;
		char *h = strchr(line, '#');
		if (h)
			*h = '\0';
		char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		size_t l = strcspn(t, " \t\r\n");
		if (l == 0)
			continue;
		char *rest = t + l;
		rest += strspn(rest, " \t\r\n");
		t[l] = '\0';
		if (*rest) {
			snprintf(err, errlen, "%s:%d: one network per line", path, lineno);
			rc = GSLB_EPARSE;
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			int *nf = realloc(fam, nc * sizeof(*nf));
			if (nf)
				fam = nf;
			uint8_t(*na)[16] = realloc(addr, nc * 16);
			if (na)
				addr = na;
			uint8_t *np = realloc(pfx, nc);
			if (np)
				pfx = np;
			if (!nf || !na || !np) {
				snprintf(err, errlen, "%s: out of memory", path);
				rc = GSLB_ENOMEM;
				goto out;
			}
			cap = nc;
		}
		if (parse_net(t, &fam[n], addr[n], &pfx[n])) {
			snprintf(err, errlen, "%s:%d: \"%s\" is not an address or network", path,
				 lineno, t);
			rc = GSLB_EPARSE;
			goto out;
		}
		n++;
	}
	*out = cidrset_new(fam, (const uint8_t(*)[16])addr, pfx, n);
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = GSLB_ENOMEM;
	}
out:
	fclose(fp);
	free(fam);
	free(addr);
	free(pfx);
	return rc;
}
