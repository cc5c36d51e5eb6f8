/* Network addresses (net.h): text, prefixes, IPv4-mapped peers, the
 * longest-prefix set, listening sockets. The set is sorted arrays per
 * prefix length: building sorts once; a lookup is a binary search per
 * prefix length present, which for the few distinct lengths of ACLs,
 * blocklists and overrides is a handful of comparisons. */
#include "gslb/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslb/err.h"
#include "gslb/textline.h"

/* ---- addresses ---------------------------------------------------------- */

unsigned net_alen(int family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }

void net_mask(uint8_t *dst, const uint8_t *src, unsigned alen, unsigned prefix)
{
	for (unsigned i = 0; i < alen; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xFF : (uint8_t)(0xFF << (8 - bits));
		dst[i] = src[i] & m;
	}
}

unsigned net_common_prefix(const uint8_t *a, const uint8_t *b, unsigned alen)
{
	for (unsigned i = 0; i < alen; i++) {
		unsigned x = a[i] ^ b[i];
		if (x)
			return i * 8 + (unsigned)__builtin_clz(x) - (sizeof(unsigned) * 8 - 8);
	}
	return alen * 8;
}

int net_same(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t m = (uint8_t)(0xFF << (8 - rest));
	return (a[full] & m) == (b[full] & m);
}

int net_contains(const struct net_cidr *n, int family, const uint8_t *addr, unsigned prefix)
{
	return n->family == family && prefix >= n->prefix && net_same(n->addr, addr, n->prefix);
}

int net_format(int family, const uint8_t *addr, unsigned prefix, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, text, sizeof(text)))
		text[0] = '\0';
	return snprintf(buf, len, "%s/%u", text, prefix);
}

int net_addr_parse(const char *text, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return AF_INET6;
	memset(addr, 0, 16);
	return 0;
}

int net_parse(const char *text, unsigned flags, struct net_cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max, prefix;

	memset(out, 0, sizeof(*out));
	if (hl > 0 && hl < sizeof(host)) {
		memcpy(host, text, hl);
		host[hl] = '\0';
		out->family = net_addr_parse(host, out->addr);
	}
	if (!out->family) {
		snprintf(why, whylen, "bad CIDR \"%.64s\": not an IPv4 or IPv6 address", text);
		return GSLB_EPARSE;
	}
	max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 3 || p[digits]) {
			snprintf(why, whylen, "bad CIDR \"%.64s\": bad prefix length (0 to %u)",
				 text, max);
			return GSLB_EPARSE;
		}
		prefix = 0;
		for (size_t i = 0; i < digits; i++)
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		if (prefix > max) {
			snprintf(why, whylen, "bad CIDR \"%.64s\": prefix length %u over %u", text,
				 prefix, max);
			return GSLB_ERANGE;
		}
	}
	out->prefix = (uint8_t)prefix;
	uint8_t net[16] = { 0 };
	net_mask(net, out->addr, max / 8, prefix);
	if (memcmp(net, out->addr, max / 8) != 0) {
		char fixed[NET_CIDR_TEXT_MAX];
		if (flags & NET_CLEAR_HOST) {
			memcpy(out->addr, net, sizeof(net));
			return GSLB_OK;
		}
		net_format(out->family, net, prefix, fixed, sizeof(fixed));
		snprintf(why, whylen,
			 "bad CIDR \"%.64s\": host bits set beyond the /%u prefix (the network is "
			 "%s)",
			 text, prefix, fixed);
		return GSLB_EINVAL;
	}
	return GSLB_OK;
}

int net_unmap_v4(uint8_t addr[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(addr, mapped, sizeof(mapped)) != 0)
		return AF_INET6;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	return AF_INET;
}

int net_sockaddr_ip(const struct sockaddr *sa, uint8_t addr[16])
{
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
		memcpy(addr, in6->sin6_addr.s6_addr, 16);
		return net_unmap_v4(addr);
	}
	return 0;
}

/* ---- longest-prefix set ------------------------------------------------- */

/* A key is an address as a 128-bit number, most significant half first (an
 * IPv4 address in the top 32 bits), so that the searches compare integers
 * and a prefix is a shift. */
struct net_key {
	uint64_t hi, lo;
};

static struct net_key key_of(const uint8_t *addr, unsigned alen)
{
	struct net_key k = { 0, 0 };

	for (unsigned i = 0; i < alen; i++) {
		if (i < 8)
			k.hi |= (uint64_t)addr[i] << (56 - 8 * i);
		else
			k.lo |= (uint64_t)addr[i] << (120 - 8 * i);
	}
	return k;
}

static struct net_key key_mask(struct net_key k, unsigned prefix)
{
	if (prefix < 64) {
		k.hi = prefix ? k.hi & (~(uint64_t)0 << (64 - prefix)) : 0;
		k.lo = 0;
	} else if (prefix < 128) {
		k.lo = prefix > 64 ? k.lo & (~(uint64_t)0 << (128 - prefix)) : 0;
	}
	return k;
}

static int key_cmp(struct net_key a, struct net_key b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

/* Leading bits a and b share (128 when equal). */
static unsigned key_common(struct net_key a, struct net_key b)
{
	if (a.hi != b.hi)
		return (unsigned)__builtin_clzll(a.hi ^ b.hi);
	if (a.lo != b.lo)
		return 64 + (unsigned)__builtin_clzll(a.lo ^ b.lo);
	return 128;
}

struct net_group {
	uint8_t prefix;
	size_t n;
	struct net_key *keys; /* masked addresses, sorted */
	uint32_t *vals;       /* the index each key was given as */
};

struct net_family {
	struct net_group *groups; /* longest prefix first */
	size_t ngroups;
};

struct net_set {
	struct net_family fam[2]; /* IPv4, IPv6 */
	size_t count;
};

/* One network while a set is built: sorted longest prefix first, then by
 * address, then in input order. */
struct net_entry {
	struct net_key key;
	uint32_t val;
	uint8_t prefix;
};

static int entry_cmp(const void *pa, const void *pb)
{
	const struct net_entry *a = pa, *b = pb;

	if (a->prefix != b->prefix)
		return a->prefix > b->prefix ? -1 : 1;
	int c = key_cmp(a->key, b->key);
	if (c)
		return c;
	return a->val < b->val ? -1 : a->val > b->val;
}

void net_set_free(struct net_set *s)
{
	if (!s)
		return;
	for (int f = 0; f < 2; f++) {
		for (size_t g = 0; g < s->fam[f].ngroups; g++) {
			free(s->fam[f].groups[g].keys);
			free(s->fam[f].groups[g].vals);
		}
		free(s->fam[f].groups);
	}
	free(s);
}

/* The sorted entries e[0..n) of one family into groups, repeats dropped;
 * the earliest repeat and the listing it repeats into rep[0], rep[1]. */
static int family_build(struct net_set *s, struct net_family *fam, const struct net_entry *e,
			size_t n, size_t rep[2])
{
	size_t ng = 0;

	for (size_t i = 0; i < n; i++)
		ng += i == 0 || e[i].prefix != e[i - 1].prefix;
	if (!ng)
		return 0;
	fam->groups = calloc(ng, sizeof(*fam->groups));
	if (!fam->groups)
		return -1;
	for (size_t i = 0, end; i < n; i = end) {
		struct net_group *g = &fam->groups[fam->ngroups++];
		for (end = i + 1; end < n && e[end].prefix == e[i].prefix; end++)
			;
		g->prefix = e[i].prefix;
		g->keys = malloc((end - i) * sizeof(*g->keys));
		g->vals = malloc((end - i) * sizeof(*g->vals));
		if (!g->keys || !g->vals)
			return -1;
		for (size_t j = i; j < end; j++) {
			if (g->n && key_cmp(e[j].key, g->keys[g->n - 1]) == 0) {
				/* in input order: the first repeat follows the kept one */
				if (e[j - 1].val == g->vals[g->n - 1] && e[j].val < rep[0]) {
					rep[0] = e[j].val;
					rep[1] = e[j - 1].val;
				}
				continue;
			}
			g->keys[g->n] = e[j].key;
			g->vals[g->n++] = e[j].val;
		}
		s->count += g->n;
	}
	return 0;
}

struct net_set *net_set_new(const struct net_cidr *v, size_t n, size_t dup[2])
{
	struct net_set *s = calloc(1, sizeof(*s));
	struct net_entry *e = calloc(n ? n : 1, sizeof(*e));

	if (dup)
		dup[0] = dup[1] = (size_t)-1;
	if (!s || !e || n > UINT32_MAX)
		goto fail;
	for (int f = 0; f < 2; f++) {
		int want = f ? AF_INET6 : AF_INET;
		unsigned alen = f ? 16 : 4;
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			if (v[i].family != want || v[i].prefix > alen * 8)
				continue;
			e[m].key = key_mask(key_of(v[i].addr, alen), v[i].prefix);
			e[m].prefix = v[i].prefix;
			e[m].val = (uint32_t)i;
			m++;
		}
		size_t rep[2] = { (size_t)-1, (size_t)-1 };
		qsort(e, m, sizeof(*e), entry_cmp);
		if (family_build(s, &s->fam[f], e, m, rep))
			goto fail;
		if (dup && dup[0] == (size_t)-1) {
			dup[0] = rep[0];
			dup[1] = rep[1];
		}
	}
	free(e);
	return s;
fail:
	free(e);
	net_set_free(s);
	return NULL;
}

long net_set_lookup(const struct net_set *s, int family, const uint8_t *addr, unsigned *need)
{
	unsigned alen = net_alen(family), most = 0;

	if (need)
		*need = 0;
	if (!s || !alen)
		return -1;
	const struct net_family *f = &s->fam[family == AF_INET6];
	const struct net_key a = key_of(addr, alen);
	for (size_t i = 0; i < f->ngroups; i++) {
		const struct net_group *g = &f->groups[i];
		const struct net_key k = key_mask(a, g->prefix);
		size_t lo = 0, hi = g->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (key_cmp(g->keys[mid], k) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < g->n && key_cmp(g->keys[lo], k) == 0)
			return (long)g->vals[lo];
		/* The closest networks of this length to addr sit on either
		 * side of where it would be inserted. */
		if (need && lo < g->n) {
			unsigned c = key_common(k, g->keys[lo]) + 1;
			most = c > most ? c : most;
		}
		if (need && lo > 0) {
			unsigned c = key_common(k, g->keys[lo - 1]) + 1;
			most = c > most ? c : most;
		}
		if (need)
			*need = most;
	}
	return -1;
}

int net_set_contains(const struct net_set *s, int family, const uint8_t *addr)
{
	return net_set_lookup(s, family, addr, NULL) >= 0;
}

size_t net_set_count(const struct net_set *s) { return s ? s->count : 0; }

/* One line of a network file: blank, or one network (a comment stripped).
 * Returns 1 with a network in *t, 0 for nothing, -1 for more than one. */
static int one_token(char *line, char **t)
{
	char *h = strchr(line, '#');
	if (h)
		*h = '\0';
	line += strspn(line, " \t\r\n");
	size_t l = strcspn(line, " \t\r\n");
	if (l == 0)
		return 0;
	char *rest = line + l;
	rest += strspn(rest, " \t\r\n");
	line[l] = '\0';
	*t = line;
	return *rest ? -1 : 1;
}

int net_set_load_file(const char *path, struct net_set **out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[TEXTLINE_MAX], why[256];
	int rc = GSLB_OK, lineno = 0;
	size_t len, n = 0, cap = 0;
	struct net_cidr *v = NULL;

	*out = NULL;
	if (!fp) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return GSLB_EIO;
	}
	while ((rc = textline_read(fp, line, sizeof(line), &len)) != 0) {
		char *t = NULL;
		lineno++;
		if (rc < 0) {
			textline_error(rc, path, lineno, sizeof(line), err, errlen);
			goto out;
		}
		rc = one_token(line, &t);
		if (rc == 0)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: one network per line", path, lineno);
			rc = GSLB_EPARSE;
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct net_cidr *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				snprintf(err, errlen, "%s: out of memory", path);
				rc = GSLB_ENOMEM;
				goto out;
			}
			v = nv;
			cap = nc;
		}
		rc = net_parse(t, NET_CLEAR_HOST, &v[n], why, sizeof(why));
		if (rc) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		n++;
	}
	*out = net_set_new(v, n, NULL);
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = GSLB_ENOMEM;
	}
out:
	fclose(fp);
	free(v);
	return rc;
}

/* ---- listening sockets -------------------------------------------------- */

int net_listen_tcp(const struct sockaddr *sa, socklen_t len)
{
	int one = 1, saved;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* IPv6 only, as written: a v4 client reaches a v4 address. */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	/* Restart without waiting for old connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

unsigned net_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&ss)->sin_port);
	return 0;
}
