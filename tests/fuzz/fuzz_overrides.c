/* libFuzzer harness for the GeoIP overrides parser (geo_open with no
 * database and an overrides file) and the longest-prefix lookup on what it
 * builds.
 *
 * The input is an overrides file ("CIDR region[,region...]" or "CIDR LAT
 * LON" lines, '#' comments), written to this process's scratch folder
 * (tests/fuzz/fuzz_util.h). A failed load must give a negative gslb_err, no
 * database and a "FILE:LINE: reason" message. A file that loads is checked:
 * every override's network has its host bits zero and prints (with
 * geo_override_cidr) as text that parses back to itself; a region list has
 * non-empty names without blanks or commas; a location is finite and in
 * range. Then geo_lookup() runs on addresses at and around every network
 * (first, last, one before, IPv4 networks also as IPv4-mapped, NAT64 and
 * 6to4 IPv6 addresses) and on addresses taken from the input, and each
 * answer is compared with a brute-force longest-prefix match over all the
 * overrides; flipping any address bit at or beyond the scope_prefix it
 * reports must not change the override matched (the ECS scope promise).
 * A violation aborts, so libFuzzer keeps the input. */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gslb/err.h"
#include "gslb/geo.h"
#include "gslb/log.h"
#include "fuzz_util.h"

#define HARNESS "fuzz_overrides"
/* Networks whose neighbourhood is probed, per input. */
#define PROBE_NETS 48

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

static int prefix_match(const uint8_t *net, unsigned prefix, const uint8_t *a)
{
	unsigned full = prefix / 8u, rest = prefix % 8u;

	if (memcmp(net, a, full) != 0)
		return 0;
	if (!rest)
		return 1;
	uint8_t mask = (uint8_t)(0xffu << (8u - rest));
	return (net[full] & mask) == (a[full] & mask);
}

/* The override geo_lookup should pick: longest prefix of the family the
 * address is located as (an IPv6 address embedding IPv4 as IPv4). */
static const struct geo_override *brute_lpm(const struct geo_db *g, int family, const uint8_t *addr)
{
	uint8_t v4[4];
	const uint8_t *a = addr;
	int v6 = family == AF_INET6;
	const struct geo_override *best = NULL;

	if (v6 && geo_v4_embedded(addr, v4) >= 0) {
		a = v4;
		v6 = 0;
	}
	for (size_t i = 0; i < geo_override_count(g); i++) {
		const struct geo_override *o = geo_override_at(g, i);
		if (o->family_is_v6 != v6)
			continue;
		if (!prefix_match(o->addr, o->prefix, a))
			continue;
		if (!best || o->prefix > best->prefix)
			best = o;
	}
	return best;
}

static void lookup(const struct geo_db *g, int family, const uint8_t *addr, int flip)
{
	struct geo_result res;
	const struct geo_override *want;
	unsigned bits = family == AF_INET ? 32u : 128u;
	uint8_t v4[4];

	memset(&res, 0xa5, sizeof(res));
	if (geo_lookup(g, family, addr, &res) != 0)
		fuzz_die(HARNESS, "geo_lookup fails without a database");
	if (res.db_found || res.network[0] || res.country[0] || res.has_coords)
		fuzz_die(HARNESS, "database fields filled without a database");
	if (res.scope_prefix > bits)
		fuzz_die(HARNESS, "scope longer than the address");
	want = brute_lpm(g, family, addr);
	if (res.override != want) {
		if (!res.override || !want || res.override->prefix != want->prefix ||
		    res.override->family_is_v6 != want->family_is_v6 ||
		    memcmp(res.override->addr, want->addr, 16) != 0)
			fuzz_die(HARNESS, "geo_lookup misses the longest matching override");
	}
	if (want && !res.mapped_v4 && res.scope_prefix < want->prefix)
		fuzz_die(HARNESS, "scope shorter than the override matched");
	if (!flip)
		return;
	/* Flipping a bit the scope says does not matter must not change the
	 * override. Only within one lookup family: an IPv6 address that
	 * embeds IPv4 on one side and not on the other is another table. */
	for (unsigned b = res.scope_prefix; b < bits; b++) {
		uint8_t other[16];
		memcpy(other, addr, bits / 8u);
		other[b / 8u] ^= (uint8_t)(0x80u >> (b % 8u));
		if (family == AF_INET6 &&
		    (geo_v4_embedded(addr, v4) >= 0) != (geo_v4_embedded(other, v4) >= 0))
			continue;
		if (family == AF_INET6 && geo_v4_embedded(addr, v4) >= 0) {
			/* two embedding forms may differ in offset: compare as v4 */
			uint8_t a4[4], o4[4];
			if (geo_v4_embedded(addr, a4) != geo_v4_embedded(other, o4))
				continue;
		}
		if (brute_lpm(g, family, other) != want) {
			char t[INET6_ADDRSTRLEN], u[INET6_ADDRSTRLEN];
			inet_ntop(family, addr, t, sizeof(t));
			inet_ntop(family, other, u, sizeof(u));
			fprintf(stderr,
				HARNESS ": %s scope /%u, but %s (bit %u flipped) matches "
					"another override\n",
				t, res.scope_prefix, u, b);
			fuzz_die(HARNESS, "an address within the scope matches another override");
		}
	}
}

static void check_override(const struct geo_override *o)
{
	char text[80], addr[64];
	uint8_t back[16];
	unsigned bits = o->family_is_v6 ? 128u : 32u;
	int n;
	char *slash, *end;

	if (o->prefix > bits)
		fuzz_die(HARNESS, "override prefix longer than its family");
	for (unsigned b = o->prefix; b < 128; b++)
		if (o->addr[b / 8u] & (0x80u >> (b % 8u)))
			fuzz_die(HARNESS, "override network with host bits set");
	n = geo_override_cidr(o, text, sizeof(text));
	if (n <= 0 || (size_t)n >= sizeof(text))
		fuzz_die(HARNESS, "geo_override_cidr fails");
	slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof(addr))
		fuzz_die(HARNESS, "override text without a prefix");
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	memset(back, 0, sizeof(back));
	if (inet_pton(o->family_is_v6 ? AF_INET6 : AF_INET, addr, back) != 1 ||
	    memcmp(back, o->addr, bits / 8u) != 0 || strtoul(slash + 1, &end, 10) != o->prefix ||
	    *end)
		fuzz_die(HARNESS, "override text does not parse back to the override");
	if (o->nregions) {
		if (o->has_coords || !o->regions)
			fuzz_die(HARNESS, "override with both regions and a location");
		for (size_t i = 0; i < o->nregions; i++) {
			const char *r = o->regions[i];
			if (!r || !*r || strpbrk(r, " \t,\r\n#"))
				fuzz_die(HARNESS, "bad region name in an override");
		}
	} else {
		if (!o->has_coords)
			fuzz_die(HARNESS, "override with neither regions nor a location");
		if (!isfinite(o->lat) || !isfinite(o->lon) || o->lat < -90 || o->lat > 90 ||
		    o->lon < -180 || o->lon > 180)
			fuzz_die(HARNESS, "override location out of range");
	}
}

static void probe_net(const struct geo_db *g, const struct geo_override *o)
{
	unsigned bits = o->family_is_v6 ? 128u : 32u, len = bits / 8u;
	int family = o->family_is_v6 ? AF_INET6 : AF_INET;
	uint8_t a[16], last[16], before[16];

	memcpy(a, o->addr, 16);
	lookup(g, family, a, 1);
	memcpy(last, a, 16);
	for (unsigned b = o->prefix; b < bits; b++)
		last[b / 8u] |= (uint8_t)(0x80u >> (b % 8u));
	lookup(g, family, last, 1);
	memcpy(before, a, 16);
	for (int i = (int)len - 1; i >= 0; i--)
		if (before[i]-- != 0)
			break;
	lookup(g, family, before, 0);
	if (family == AF_INET) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
		uint8_t v6[16];
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, last, 4);
		lookup(g, AF_INET6, v6, 1);
		memcpy(v6, nat64, 12);
		memcpy(v6 + 12, a, 4);
		lookup(g, AF_INET6, v6, 1);
		memset(v6, 0, 16);
		v6[0] = 0x20;
		v6[1] = 0x02;
		memcpy(v6 + 2, last, 4);
		lookup(g, AF_INET6, v6, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct geo_conf gc;
	struct geo_db *g = (struct geo_db *)(uintptr_t)1;
	char path[PATH_MAX];
	char err[1024];
	uint8_t a[16];
	size_t n;
	int rc;

	if (size > 32 * 1024)
		return 0;
	fuzz_write(HARNESS, "fuzz.nets", data, size, path, sizeof(path));
	memset(&gc, 0, sizeof(gc));
	gc.overrides = path;
	memset(err, 'X', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	rc = geo_open(&gc, &g, err, sizeof(err));
	fuzz_verbose(HARNESS, rc, err);
	if (rc != 0) {
		if (rc > 0)
			fuzz_die(HARNESS, "positive return code");
		if (g)
			fuzz_die(HARNESS, "failure left *out set");
		fuzz_check_err(HARNESS, path, err, sizeof(err),
			       rc != GSLB_ENOMEM && rc != GSLB_EIO);
		return 0;
	}
	if (!g)
		fuzz_die(HARNESS, "success without a database");
	if (!geo_overrides_path(g) || strcmp(geo_overrides_path(g), path) != 0)
		fuzz_die(HARNESS, "overrides path differs");
	if (geo_db_ip_version(g) != 0 || geo_db_path(g)[0])
		fuzz_die(HARNESS, "database metadata without a database");
	n = geo_override_count(g);
	for (size_t i = 0; i < n; i++) {
		const struct geo_override *o = geo_override_at(g, i);
		check_override(o);
		for (size_t j = 0; j < i && n <= 256; j++) {
			const struct geo_override *p = geo_override_at(g, j);
			if (p->family_is_v6 == o->family_is_v6 && p->prefix == o->prefix &&
			    memcmp(p->addr, o->addr, 16) == 0)
				fuzz_die(HARNESS, "the same network accepted twice");
		}
	}
	for (size_t i = 0; i < n && i < PROBE_NETS; i++)
		probe_net(g, geo_override_at(g, n - 1 - i));

	/* Addresses from the input's last bytes, and a few fixed ones. */
	memset(a, 0, sizeof(a));
	memcpy(a, data + size - (size < 16 ? size : 16), size < 16 ? size : 16);
	lookup(g, AF_INET6, a, 1);
	lookup(g, AF_INET, a + 12, 1);
	memset(a, 0, sizeof(a));
	lookup(g, AF_INET, a, 1);
	lookup(g, AF_INET6, a, 1);
	memset(a, 0xff, sizeof(a));
	lookup(g, AF_INET, a, 1);
	lookup(g, AF_INET6, a, 1);
	geo_close(g);
	return 0;
}
