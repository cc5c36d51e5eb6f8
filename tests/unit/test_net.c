/* Unit tests: the network-address module (net.h). Networks as text, good
 * and bad, their text form back, prefix tests at the edges (/0, /32,
 * /128, inside a byte), IPv4-mapped peers, the longest-prefix set with its
 * repeats and its "need" (the scope that keeps longer networks out), and
 * network files. The client network that tcp.max_per_ip and
 * http.max_per_ip count is net_same over net_sockaddr_ip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "gslb/err.h"
#include "gslb/net.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* An address as text into 16 bytes; returns its family. */
static int addr_of(const char *text, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
	return AF_INET6;
}

static struct net_cidr cidr(const char *text)
{
	struct net_cidr n;
	char why[256];

	if (net_parse(text, 0, &n, why, sizeof(why)) != GSLB_OK)
		fail_msg("%s: %s", text, why);
	return n;
}

/* ---- parse -------------------------------------------------------------- */

static const struct {
	const char *text;
	unsigned flags;
	int family;
	const char *addr; /* the network address */
	unsigned prefix;
	const char *canon; /* net_format of the result */
} good[] = {
	{ "10.0.0.0/8", 0, AF_INET, "10.0.0.0", 8, "10.0.0.0/8" },
	{ "192.0.2.1", 0, AF_INET, "192.0.2.1", 32, "192.0.2.1/32" },
	{ "192.0.2.1/32", 0, AF_INET, "192.0.2.1", 32, "192.0.2.1/32" },
	{ "0.0.0.0/0", 0, AF_INET, "0.0.0.0", 0, "0.0.0.0/0" },
	{ "10.0.0.0/08", 0, AF_INET, "10.0.0.0", 8, "10.0.0.0/8" },
	{ "198.51.100.16/28", 0, AF_INET, "198.51.100.16", 28, "198.51.100.16/28" },
	{ "2001:db8::/32", 0, AF_INET6, "2001:db8::", 32, "2001:db8::/32" },
	{ "2001:DB8:0::/48", 0, AF_INET6, "2001:db8::", 48, "2001:db8::/48" },
	{ "::1", 0, AF_INET6, "::1", 128, "::1/128" },
	{ "::/0", 0, AF_INET6, "::", 0, "::/0" },
	{ "2001:db8:1:20::/60", 0, AF_INET6, "2001:db8:1:20::", 60, "2001:db8:1:20::/60" },
	/* a mapped network stays IPv6 as written */
	{ "::ffff:192.0.2.0/120", 0, AF_INET6, "::ffff:192.0.2.0", 120, "::ffff:192.0.2.0/120" },
	/* host bits cleared when asked (the blocklist, an explained subnet) */
	{ "10.1.2.3/8", NET_CLEAR_HOST, AF_INET, "10.0.0.0", 8, "10.0.0.0/8" },
	{ "192.0.2.255/0", NET_CLEAR_HOST, AF_INET, "0.0.0.0", 0, "0.0.0.0/0" },
	{ "2001:db8::1/64", NET_CLEAR_HOST, AF_INET6, "2001:db8::", 64, "2001:db8::/64" },
	{ "2001:db8:1:2f::/60", NET_CLEAR_HOST, AF_INET6, "2001:db8:1:20::", 60,
	  "2001:db8:1:20::/60" },
};

static void test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(good); i++) {
		struct net_cidr n, back;
		uint8_t want[16];
		char why[256] = "", text[NET_CIDR_TEXT_MAX];

		if (net_parse(good[i].text, good[i].flags, &n, why, sizeof(why)) != GSLB_OK)
			fail_msg("%s: %s", good[i].text, why);
		assert_int_equal(n.family, good[i].family);
		assert_int_equal(addr_of(good[i].addr, want), good[i].family);
		assert_memory_equal(n.addr, want, 16);
		assert_int_equal(n.prefix, good[i].prefix);
		/* format, and the text parses back to the same network */
		assert_int_equal(net_format(n.family, n.addr, n.prefix, text, sizeof(text)),
				 (int)strlen(good[i].canon));
		assert_string_equal(text, good[i].canon);
		back = cidr(text);
		assert_int_equal(back.family, n.family);
		assert_int_equal(back.prefix, n.prefix);
		assert_memory_equal(back.addr, n.addr, 16);
	}
}

static const struct {
	const char *text;
	unsigned flags;
	int rc;
	const char *why; /* in the message */
} bad[] = {
	{ "", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "/8", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "banana", 0, GSLB_EPARSE, "bad CIDR \"banana\"" },
	{ "10.0.0/8", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "10.0.0.256", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "2001:db8::g/32", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ " 10.0.0.0/8", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "[::1]/128", 0, GSLB_EPARSE, "not an IPv4 or IPv6 address" },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000/8", 0, GSLB_EPARSE, "not an IPv4" },
	{ "10.0.0.0/", 0, GSLB_EPARSE, "bad prefix length (0 to 32)" },
	{ "10.0.0.0/8x", 0, GSLB_EPARSE, "bad prefix length" },
	{ "10.0.0.0/8/8", 0, GSLB_EPARSE, "bad prefix length" },
	{ "10.0.0.0/-8", 0, GSLB_EPARSE, "bad prefix length" },
	{ "10.0.0.0/+8", 0, GSLB_EPARSE, "bad prefix length" },
	{ "10.0.0.0/ 8", 0, GSLB_EPARSE, "bad prefix length" },
	{ "10.0.0.0/0008", 0, GSLB_EPARSE, "bad prefix length" },
	{ "::/", 0, GSLB_EPARSE, "bad prefix length (0 to 128)" },
	{ "10.0.0.0/33", 0, GSLB_ERANGE, "prefix length 33 over 32" },
	{ "10.0.0.0/999", NET_CLEAR_HOST, GSLB_ERANGE, "prefix length 999 over 32" },
	{ "::/129", 0, GSLB_ERANGE, "prefix length 129 over 128" },
	{ "10.0.0.1/8", 0, GSLB_EINVAL,
	  "host bits set beyond the /8 prefix (the network is 10.0.0.0/8)" },
	{ "0.0.0.1/0", 0, GSLB_EINVAL, "(the network is 0.0.0.0/0)" },
	{ "192.0.2.1/31", 0, GSLB_EINVAL, "(the network is 192.0.2.0/31)" },
	{ "2001:db8::1/32", 0, GSLB_EINVAL, "(the network is 2001:db8::/32)" },
	{ "2001:db8::1/127", 0, GSLB_EINVAL, "(the network is 2001:db8::/127)" },
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		struct net_cidr n;
		char why[256] = "";
		int rc = net_parse(bad[i].text, bad[i].flags, &n, why, sizeof(why));
		if (rc != bad[i].rc || !strstr(why, bad[i].why))
			fail_msg("\"%s\": rc %d (want %d), \"%s\" (want \"%s\")", bad[i].text, rc,
				 bad[i].rc, why, bad[i].why);
	}
}

static const struct {
	const char *text;
	int family; /* 0: not an address */
} addrs[] = {
	{ "192.0.2.1", AF_INET },
	{ "0.0.0.0", AF_INET },
	{ "::1", AF_INET6 },
	{ "2001:DB8::1", AF_INET6 },
	{ "::ffff:192.0.2.1", AF_INET6 }, /* stays IPv6 */
	{ "", 0 },
	{ "192.0.2.1/32", 0 }, /* a network is not an address */
	{ "10.0.0.256", 0 },
	{ " 10.0.0.1", 0 },
	{ "10.0.0.1 ", 0 },
	{ "localhost", 0 },
	{ "[::1]", 0 },
	{ "2001:db8::g", 0 },
};

static void test_addr_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(addrs); i++) {
		uint8_t a[16], want[16] = { 0 };
		memset(a, 0xAA, sizeof(a));
		if (addrs[i].family)
			assert_int_equal(inet_pton(addrs[i].family, addrs[i].text, want), 1);
		if (net_addr_parse(addrs[i].text, a) != addrs[i].family)
			fail_msg("\"%s\": want family %d", addrs[i].text, addrs[i].family);
		assert_memory_equal(a, want, 16); /* zero-padded, all zero for none */
	}
}

/* ---- matching ----------------------------------------------------------- */

static const struct {
	const char *net;
	const char *addr;
	unsigned prefix; /* of the client subnet */
	int in;
} contains[] = {
	{ "0.0.0.0/0", "255.255.255.255", 32, 1 },
	{ "0.0.0.0/0", "0.0.0.0", 0, 1 },
	{ "0.0.0.0/0", "::", 128, 0 }, /* another family */
	{ "::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 1 },
	{ "::/0", "10.0.0.1", 32, 0 },
	{ "192.0.2.1/32", "192.0.2.1", 32, 1 },
	{ "192.0.2.1/32", "192.0.2.0", 32, 0 },
	{ "192.0.2.1/32", "192.0.2.1", 31, 0 }, /* a subnet larger than the net */
	{ "192.0.2.0/31", "192.0.2.1", 32, 1 },
	{ "10.0.0.0/8", "10.255.255.255", 32, 1 },
	{ "10.0.0.0/8", "11.0.0.0", 32, 0 },
	{ "10.0.0.0/8", "10.0.0.0", 8, 1 },
	{ "10.0.0.0/8", "10.0.0.0", 7, 0 },
	{ "198.51.100.16/28", "198.51.100.31", 32, 1 },
	{ "198.51.100.16/28", "198.51.100.32", 32, 0 },
	{ "2001:db8::1/128", "2001:db8::1", 128, 1 },
	{ "2001:db8::1/128", "2001:db8::", 128, 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 128, 1 },
	{ "2001:db8::/32", "2001:db9::", 128, 0 },
	{ "2001:db8:1:20::/60", "2001:db8:1:2f::", 64, 1 },
	{ "2001:db8:1:20::/60", "2001:db8:1:30::", 64, 0 },
	/* a mapped network holds mapped IPv6 addresses, never IPv4 ones */
	{ "::ffff:192.0.2.0/120", "::ffff:192.0.2.9", 128, 1 },
	{ "::ffff:192.0.2.0/120", "192.0.2.9", 32, 0 },
};

static void test_contains(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(contains); i++) {
		struct net_cidr n = cidr(contains[i].net);
		uint8_t a[16];
		int fam = addr_of(contains[i].addr, a);
		if (net_contains(&n, fam, a, contains[i].prefix) != contains[i].in)
			fail_msg("%s in %s/%u: want %d", contains[i].net, contains[i].addr,
				 contains[i].prefix, contains[i].in);
	}
}

static const struct {
	const char *a, *b;
	unsigned prefix;
	int same;
	unsigned common; /* net_common_prefix */
} same[] = {
	/* one /64: any interface identifier */
	{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 64, 1, 64 },
	{ "2001:db8:1:2:a::", "2001:db8:1:2:b::", 64, 1, 79 },
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", 64, 0, 63 },
	/* 128: the address itself */
	{ "2001:db8:1:2::1", "2001:db8:1:2::2", 128, 0, 126 },
	{ "2001:db8:1:2::1", "2001:db8:1:2::1", 128, 1, 128 },
	{ "::", "ffff::", 0, 1, 0 },
	/* a prefix inside a byte */
	{ "2001:db8:1:20::", "2001:db8:1:2f::", 60, 1, 60 },
	{ "2001:db8:1:20::", "2001:db8:1:30::", 60, 0, 59 },
	{ "198.51.100.1", "198.51.100.254", 24, 1, 24 },
	{ "198.51.100.1", "198.51.101.1", 24, 0, 23 },
	{ "198.51.100.1", "198.51.100.2", 32, 0, 30 },
	{ "198.51.100.1", "198.51.100.1", 32, 1, 32 },
	{ "198.51.100.16", "198.51.100.31", 28, 1, 28 },
	{ "198.51.100.16", "198.51.100.32", 28, 0, 26 },
	{ "10.0.0.1", "10.255.255.255", 8, 1, 8 },
	{ "0.0.0.0", "255.255.255.255", 0, 1, 0 },
	{ "128.0.0.0", "0.0.0.0", 1, 0, 0 },
};

static void test_same_and_common(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(same); i++) {
		uint8_t x[16], y[16];
		int fx = addr_of(same[i].a, x), fy = addr_of(same[i].b, y);
		assert_int_equal(fx, fy);
		if (net_same(x, y, same[i].prefix) != same[i].same ||
		    net_common_prefix(x, y, net_alen(fx)) != same[i].common)
			fail_msg("%s %s /%u", same[i].a, same[i].b, same[i].prefix);
	}
}

static void test_mask(void **state)
{
	uint8_t a[16], m[16], want[16];

	(void)state;
	addr_of("2001:db8:ffff:ffff::1", a);
	net_mask(m, a, 16, 36);
	addr_of("2001:db8:f000::", want);
	assert_memory_equal(m, want, 16);
	net_mask(m, a, 16, 200); /* longer than the address: unchanged */
	assert_memory_equal(m, a, 16);
	addr_of("192.0.2.255", a);
	memset(m, 0xAA, sizeof(m));
	net_mask(m, a, 4, 25);
	assert_int_equal(m[3], 0x80);
	assert_int_equal(m[4], 0xAA); /* only alen bytes written */
	net_mask(m, a, 4, 0);
	assert_int_equal(m[0] | m[1] | m[2] | m[3], 0);
	assert_int_equal(net_alen(AF_INET), 4);
	assert_int_equal(net_alen(AF_INET6), 16);
	assert_int_equal(net_alen(AF_UNIX), 0);
}

/* ---- IPv4-mapped -------------------------------------------------------- */

static const struct {
	const char *text;
	int family;
	const char *as; /* what the address becomes */
} mapped[] = {
	{ "::ffff:192.0.2.7", AF_INET, "192.0.2.7" },
	{ "::ffff:0.0.0.0", AF_INET, "0.0.0.0" },
	{ "::ffff:255.255.255.255", AF_INET, "255.255.255.255" },
	/* other IPv6 forms stay IPv6 here (geo_v4_embedded locates them) */
	{ "::192.0.2.7", AF_INET6, "::192.0.2.7" },
	{ "64:ff9b::192.0.2.7", AF_INET6, "64:ff9b::192.0.2.7" },
	{ "::fffe:192.0.2.7", AF_INET6, "::fffe:192.0.2.7" },
	{ "1::ffff:192.0.2.7", AF_INET6, "1::ffff:192.0.2.7" },
	{ "2001:db8::1", AF_INET6, "2001:db8::1" },
};

static void test_mapped(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(mapped); i++) {
		uint8_t a[16], want[16];
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		assert_int_equal(addr_of(mapped[i].text, a), AF_INET6);
		memcpy(&s6.sin6_addr, a, 16);
		assert_int_equal(addr_of(mapped[i].as, want), mapped[i].family);
		assert_int_equal(net_unmap_v4(a), mapped[i].family);
		assert_memory_equal(a, want, 16);
		/* a peer on a dual-stack socket: the same rule */
		assert_int_equal(net_sockaddr_ip((const struct sockaddr *)&s6, a),
				 mapped[i].family);
		assert_memory_equal(a, want, 16);
	}
}

static void test_sockaddr_ip(void **state)
{
	uint8_t a[16], want[16] = { 192, 0, 2, 7 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr), 1);
	memset(a, 0xFF, sizeof(a));
	assert_int_equal(net_sockaddr_ip((const struct sockaddr *)&s4, a), AF_INET);
	assert_memory_equal(a, want, 16);
	assert_int_equal(net_sockaddr_ip((const struct sockaddr *)&un, a), 0);
	assert_memory_equal(a, (uint8_t[16]){ 0 }, 16);
	assert_int_equal(net_sockaddr_ip(NULL, a), 0);
}

/* ---- longest-prefix set ------------------------------------------------- */

static struct net_set *set_of(const char *const *texts, size_t n, size_t dup[2])
{
	struct net_cidr v[16];
	assert_true(n <= N(v));
	for (size_t i = 0; i < n; i++)
		v[i] = cidr(texts[i]);
	struct net_set *s = net_set_new(v, n, dup);
	assert_non_null(s);
	return s;
}

static const char *const nested[] = {
	"10.0.0.0/8",      /* 0 */
	"10.1.0.0/16",     /* 1 */
	"10.1.2.0/24",     /* 2 */
	"::/0",            /* 3 */
	"2001:db8::/32",   /* 4 */
	"2001:db8::1",     /* 5 */
	"192.0.2.7",       /* 6 */
	"198.51.100.0/24", /* 7 */
};

static const struct {
	const char *addr;
	long want; /* index, -1 for none */
	unsigned need;
} lookups[] = {
	{ "10.1.2.3", 2, 1 },     /* the longest wins; 192.0.2.7 shares 0 bits */
	{ "10.1.3.1", 1, 24 },    /* the /16; a /24 next door */
	{ "10.2.0.1", 0, 15 },    /* the /8; 10.1/16 shares 14 bits */
	{ "11.0.0.1", -1, 8 },    /* none; 10/8 shares 7 bits */
	{ "192.0.2.7", 6, 0 },    /* a host: /32 */
	{ "192.0.2.6", -1, 32 },  /* next to that host */
	{ "198.51.100.255", 7, 6 }, /* 192.0.2.7/32 shares 5 bits */
	{ "2001:db8::1", 5, 0 },
	{ "2001:db8::2", 4, 127 },
	{ "2001:db9::", 3, 32 },  /* ::/0 holds every IPv6 address */
	{ "::ffff:10.1.2.3", 3, 3 }, /* IPv6 here: only ::/0 */
};

static void test_set_lookup(void **state)
{
	size_t dup[2];
	struct net_set *s = set_of(nested, N(nested), dup);

	(void)state;
	assert_int_equal(dup[0], (size_t)-1);
	assert_int_equal(dup[1], (size_t)-1);
	assert_int_equal(net_set_count(s), N(nested));
	for (size_t i = 0; i < N(lookups); i++) {
		uint8_t a[16];
		unsigned need = 999;
		int fam = addr_of(lookups[i].addr, a);
		long got = net_set_lookup(s, fam, a, &need);
		if (got != lookups[i].want || need != lookups[i].need)
			fail_msg("%s: index %ld need %u, want %ld need %u", lookups[i].addr, got,
				 need, lookups[i].want, lookups[i].need);
		assert_int_equal(net_set_contains(s, fam, a), lookups[i].want >= 0);
		assert_int_equal(net_set_lookup(s, fam, a, NULL), got);
	}
	uint8_t a[16] = { 10, 1, 2, 3 };
	assert_int_equal(net_set_lookup(s, AF_UNIX, a, NULL), -1);
	net_set_free(s);
	/* no set: nothing inside, need 0 */
	unsigned need = 9;
	assert_int_equal(net_set_lookup(NULL, AF_INET, a, &need), -1);
	assert_int_equal(need, 0);
	assert_false(net_set_contains(NULL, AF_INET, a));
	assert_int_equal(net_set_count(NULL), 0);
	net_set_free(NULL);
}

static void test_set_edges(void **state)
{
	static const char *const all[] = { "0.0.0.0/0", "255.255.255.255" };
	static const char *const none[] = { "10.0.0.0/8" };
	struct net_set *s = set_of(all, N(all), NULL);
	uint8_t a[16];

	(void)state;
	addr_of("255.255.255.255", a);
	assert_int_equal(net_set_lookup(s, AF_INET, a, NULL), 1);
	addr_of("255.255.255.254", a);
	assert_int_equal(net_set_lookup(s, AF_INET, a, NULL), 0);
	addr_of("::", a);
	assert_int_equal(net_set_lookup(s, AF_INET6, a, NULL), -1);
	net_set_free(s);
	/* an empty set */
	s = set_of(none, 0, NULL);
	assert_int_equal(net_set_count(s), 0);
	addr_of("10.0.0.1", a);
	assert_false(net_set_contains(s, AF_INET, a));
	net_set_free(s);
}

static const struct {
	const char *nets[6];
	size_t n;
	size_t rep, first; /* dup[0], dup[1] */
	size_t count;
} dups[] = {
	{ { "10.0.0.0/8", "10.0.0.0/8" }, 2, 1, 0, 1 },
	{ { "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8" }, 3, 1, 0, 1 },
	/* the earliest repeat in the input, not the first in sorted order */
	{ { "192.0.2.0/24", "10.0.0.0/8", "10.0.0.0/8", "192.0.2.0/24" }, 4, 2, 1, 2 },
	/* the same address with another length is another network */
	{ { "10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24" }, 3, (size_t)-1, (size_t)-1, 3 },
	/* IPv4 repeats are named before IPv6 ones */
	{ { "::/0", "::/0", "10.0.0.0/8", "10.0.0.0/8" }, 4, 3, 2, 2 },
	{ { "2001:db8::/32", "10.0.0.0/8", "2001:db8::/32" }, 3, 2, 0, 2 },
};

static void test_set_repeats(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(dups); i++) {
		size_t dup[2];
		struct net_set *s = set_of(dups[i].nets, dups[i].n, dup);
		if (dup[0] != dups[i].rep || dup[1] != dups[i].first ||
		    net_set_count(s) != dups[i].count)
			fail_msg("case %zu: dup %zu %zu count %zu", i, dup[0], dup[1],
				 net_set_count(s));
		/* a repeated network is found as its first listing */
		if (dup[1] != (size_t)-1) {
			struct net_cidr n = cidr(dups[i].nets[dup[1]]);
			assert_int_equal(net_set_lookup(s, n.family, n.addr, NULL), (long)dup[1]);
		}
		net_set_free(s);
	}
}

/* Random networks against a plain scan: the longest network holding the
 * address (the first listed of equal ones), and need = one more than the
 * most bits the address shares with any longer network of its family. */
static uint32_t rnd(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

static void random_addr(uint32_t *x, int family, uint8_t a[16])
{
	memset(a, 0, 16);
	for (unsigned i = 0; i < net_alen(family); i++)
		a[i] = (uint8_t)rnd(x);
	/* crowd them into few networks so that they nest and neighbour */
	a[0] = family == AF_INET ? 10 : 0x20;
	a[1] &= 0x3;
}

static void test_set_random(void **state)
{
	static const uint8_t plen[2][8] = { { 0, 8, 12, 16, 20, 24, 30, 32 },
					    { 0, 16, 20, 32, 48, 64, 100, 128 } };
	struct net_cidr v[400];
	uint32_t x = 42;

	(void)state;
	for (size_t i = 0; i < N(v); i++) {
		int f = (int)(rnd(&x) % 2);
		uint8_t a[16];
		v[i].family = f ? AF_INET6 : AF_INET;
		random_addr(&x, v[i].family, a);
		v[i].prefix = plen[f][rnd(&x) % 8];
		memset(v[i].addr, 0, 16);
		net_mask(v[i].addr, a, net_alen(v[i].family), v[i].prefix);
		if (i % 7 == 3)
			v[i] = v[rnd(&x) % i]; /* some repeats */
	}
	struct net_set *s = net_set_new(v, N(v), NULL);
	assert_non_null(s);
	for (int t = 0; t < 20000; t++) {
		int family = rnd(&x) % 2 ? AF_INET6 : AF_INET;
		unsigned alen = net_alen(family), bits = alen * 8, need = 0;
		uint8_t a[16];
		long want = -1;
		random_addr(&x, family, a);
		for (size_t i = 0; i < N(v); i++)
			if (net_contains(&v[i], family, a, bits) &&
			    (want < 0 || v[i].prefix > v[want].prefix))
				want = (long)i;
		for (size_t i = 0; i < N(v); i++) {
			if (v[i].family != family || (want >= 0 && v[i].prefix <= v[want].prefix))
				continue;
			unsigned c = net_common_prefix(a, v[i].addr, alen) + 1;
			need = c > need ? c : need;
		}
		unsigned got_need = 999;
		long got = net_set_lookup(s, family, a, &got_need);
		if (got != want || got_need != need)
			fail_msg("try %d: index %ld need %u, want %ld need %u", t, got, got_need,
				 want, need);
	}
	net_set_free(s);
}

/* ---- network files ------------------------------------------------------ */

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/gslb-test-net-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_load_file(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *err; /* after "PATH:" */
		size_t count;
	} files[] = {
		{ "# feed\n\n10.1.2.3/8\n2001:db8::/32  # x\n\t192.0.2.7 \r\n", GSLB_OK, "", 3 },
		{ "", GSLB_OK, "", 0 },
		{ "10.0.0.0/8\n10.0.0.x\n", GSLB_EPARSE,
		  "2: bad CIDR \"10.0.0.x\": not an IPv4 or IPv6 address", 0 },
		{ "10.0.0.0/33\n", GSLB_ERANGE, "1: bad CIDR \"10.0.0.0/33\": prefix length", 0 },
		{ "\n10.0.0.0/8 192.0.2.0/24\n", GSLB_EPARSE, "2: one network per line", 0 },
	};
	(void)state;
	for (size_t i = 0; i < N(files); i++) {
		char *path = write_tmp(files[i].text), err[512] = "", want[512];
		struct net_set *s = NULL;
		int rc = net_set_load_file(path, &s, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:%s", path, files[i].err);
		if (rc != files[i].rc || (rc && strncmp(err, want, strlen(want)) != 0))
			fail_msg("case %zu: rc %d \"%s\", want %d \"%s\"", i, rc, err, files[i].rc,
				 want);
		if (!rc) {
			assert_int_equal(net_set_count(s), files[i].count);
			uint8_t a[16] = { 10, 200, 0, 1 };
			assert_int_equal(net_set_contains(s, AF_INET, a), files[i].count > 0);
		} else {
			assert_null(s);
		}
		net_set_free(s);
		unlink(path);
		free(path);
	}
	struct net_set *s = NULL;
	char err[256];
	assert_int_equal(net_set_load_file("/nonexistent/gslb.nets", &s, err, sizeof(err)),
			 GSLB_EIO);
	assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_same_and_common),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_sockaddr_ip),
		cmocka_unit_test(test_set_lookup),
		cmocka_unit_test(test_set_edges),
		cmocka_unit_test(test_set_repeats),
		cmocka_unit_test(test_set_random),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
