/* Client location from a MaxMind-format database plus an overrides file.
 *
 * Everything a lookup needs is prepared by geo_open: the database is mapped
 * with libmaxminddb, the field paths are split into the NULL-terminated arrays
 * MMDB_aget_value takes, and the overrides are sorted into one array per
 * (family, prefix length), longest prefix first, so a lookup is a few binary
 * searches over immutable data: no locks, no allocation, any number of
 * threads. The same sorted arrays give the ECS scope: the neighbours of the
 * address in each longer-prefix array tell how far the address is from the
 * nearest more specific override that did not match. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <maxminddb.h>

#include "gslb/err.h"
#include "gslb/geo.h"
#include "gslb/geo_int.h"
#include "gslb/log.h"
#include "gslb/net.h"
#include "gslb/textline.h"

static const char *const geo_default_paths[GEO_NFIELDS] = {
	"country/iso_code",  "continent/code",     "subdivisions/0/iso_code",
	"location/latitude", "location/longitude",
};

static const char *const geo_path_names[GEO_NFIELDS] = {
	"path_country", "path_continent", "path_subdivision", "path_latitude", "path_longitude",
};

/* Longest accepted overrides line: far more than any CIDR and region list
 * needs, and it keeps a binary file fed by mistake from growing a buffer. */

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- addresses ---------------------------------------------------------- */

/* The IPv6 ranges whose addresses gslb locates as the IPv4 address inside
 * them (geo_v4_embedded; but :: and ::1 are themselves). aliased: MaxMind's
 * trees alias the range to the IPv4 subtree, so a walk skips it; ::/96 is
 * where that subtree is. */
static const struct {
	uint8_t net[16];
	unsigned len;
	int aliased;
} v4_in_v6[] = {
	{ { 0 }, 96, 0 },                                        /* ::/96 */
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96, 1 }, /* ::ffff:0:0/96 */
	{ { 0, 0x64, 0xff, 0x9b }, 96, 1 },                      /* 64:ff9b::/96 */
	{ { 0x20, 0x02 }, 16, 1 },                               /* 6to4 2002::/16 */
};

/* The shortest prefix of an IPv6 address a (located as itself) whose
 * network holds none of those ranges: clients there get other answers,
 * whatever the database holds, so a scope may not cover them. */
static unsigned v4_in_v6_need(const uint8_t *a)
{
	unsigned need = 0;
	for (size_t i = 0; i < sizeof(v4_in_v6) / sizeof(v4_in_v6[0]); i++) {
		unsigned c = net_common_prefix(a, v4_in_v6[i].net, 16);
		if (c < v4_in_v6[i].len && c + 1 > need)
			need = c + 1;
	}
	return need;
}

/* IPv4 addresses carried inside IPv6 ones are located as IPv4, so that one
 * IPv4 override or database record covers every form a resolver may send.
 * Returns the bit offset of the IPv4 address in the IPv6 one, or -1. */
int geo_v4_embedded(const uint8_t *a, uint8_t *v4)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t zero[12] = { 0 };

	if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) {
		memcpy(v4, a + 12, 4);
		return 96;
	}
	if (!memcmp(a, zero, 12)) {
		/* IPv4-compatible ::a.b.c.d, but :: and ::1 are themselves */
		if (!a[12] && !a[13] && !a[14] && a[15] <= 1)
			return -1;
		memcpy(v4, a + 12, 4);
		return 96;
	}
	if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4, 2002:aabb:ccdd::/48 */
		memcpy(v4, a + 2, 4);
		return 16;
	}
	return -1;
}

/* ---- database ----------------------------------------------------------- */

/* Split a '/'-separated path into the NULL-terminated array MMDB_aget_value
 * wants, once, so that lookups do not parse paths. */
static int split_path(struct geo_db *g, int field, const char *path, char *err, size_t errlen)
{
	size_t n = 1, k = 0;
	char *buf, *p;

	if (!path[0])
		return 0; /* field disabled */
	buf = dupstr(path);
	if (!buf)
		return GSLB_ENOMEM;
	g->path_buf[field] = buf;
	for (p = buf; *p; p++)
		n += *p == '/';
	g->paths[field] = calloc(n + 1, sizeof(char *));
	if (!g->paths[field])
		return GSLB_ENOMEM;
	for (p = buf;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (!*p) {
			errf(err, errlen, "geoip: %s \"%s\": empty path component",
			     geo_path_names[field], path);
			return GSLB_EINVAL;
		}
		g->paths[field][k++] = p;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

/* MMDB_aget_value outcomes: the field is there, absent (not an error: many
 * records lack a subdivision), or the data section is damaged. */
static int field_get(const struct geo_db *g, int field, MMDB_entry_s *entry,
		     MMDB_entry_data_s *data, int *mmdb_status)
{
	int st;
	if (!g->paths[field])
		return 0;
	st = MMDB_aget_value(entry, data, (const char *const *)g->paths[field]);
	if (st == MMDB_SUCCESS)
		return data->has_data ? 1 : 0;
	if (st == MMDB_INVALID_DATA_ERROR || st == MMDB_CORRUPT_SEARCH_TREE_ERROR ||
	    st == MMDB_UNKNOWN_DATABASE_FORMAT_ERROR) {
		*mmdb_status = st;
		return GSLB_EIO;
	}
	return 0;
}

static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* A two-letter code (country, continent), upper-cased; anything else is
 * treated as unknown rather than guessed at. */
static int field_code2(const struct geo_db *g, int field, MMDB_entry_s *entry, char out[3],
		       int *mmdb_status)
{
	MMDB_entry_data_s d;
	int rc = field_get(g, field, entry, &d, mmdb_status);
	if (rc <= 0)
		return rc;
	if (d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2 ||
	    !is_alpha(d.utf8_string[0]) || !is_alpha(d.utf8_string[1]))
		return 0;
	out[0] = upper(d.utf8_string[0]);
	out[1] = upper(d.utf8_string[1]);
	out[2] = '\0';
	return 1;
}

/* Subdivision as "CC-CODE" (GeoIP2 stores "14" for PL-14); a value that
 * already has the country prefix is kept. Too long or odd values are
 * unknown: a truncated code would match the wrong route rule. */
static int field_subdivision(const struct geo_db *g, MMDB_entry_s *entry, const char *country,
			     char *out, size_t outlen, int *mmdb_status)
{
	MMDB_entry_data_s d;
	size_t pre;
	int rc = field_get(g, GEO_F_SUBDIVISION, entry, &d, mmdb_status);
	if (rc <= 0)
		return rc;
	if (d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size == 0)
		return 0;
	for (uint32_t i = 0; i < d.data_size; i++) {
		char c = d.utf8_string[i];
		if (!((c >= '0' && c <= '9') || is_alpha(c) || c == '-'))
			return 0;
	}
	pre = memchr(d.utf8_string, '-', d.data_size) ? 0 : 3;
	if (pre && !country[0])
		return 0;
	if (pre + d.data_size >= outlen)
		return 0;
	if (pre) {
		out[0] = country[0];
		out[1] = country[1];
		out[2] = '-';
	}
	for (uint32_t i = 0; i < d.data_size; i++)
		out[pre + i] = upper(d.utf8_string[i]);
	out[pre + d.data_size] = '\0';
	return 1;
}

/* Coordinates are doubles in GeoIP2 but other writers use floats, integers
 * or strings. */
static int field_number(const struct geo_db *g, int field, MMDB_entry_s *entry, double *out,
			int *mmdb_status)
{
	MMDB_entry_data_s d;
	char text[32], *end;
	int rc = field_get(g, field, entry, &d, mmdb_status);
	if (rc <= 0)
		return rc;
	switch (d.type) {
	case MMDB_DATA_TYPE_DOUBLE:
		*out = d.double_value;
		break;
	case MMDB_DATA_TYPE_FLOAT:
		*out = d.float_value;
		break;
	case MMDB_DATA_TYPE_INT32:
		*out = d.int32;
		break;
	case MMDB_DATA_TYPE_UINT16:
		*out = d.uint16;
		break;
	case MMDB_DATA_TYPE_UINT32:
		*out = d.uint32;
		break;
	case MMDB_DATA_TYPE_UINT64:
		*out = (double)d.uint64;
		break;
	case MMDB_DATA_TYPE_UTF8_STRING:
		if (d.data_size == 0 || d.data_size >= sizeof(text))
			return 0;
		memcpy(text, d.utf8_string, d.data_size);
		text[d.data_size] = '\0';
		*out = strtod(text, &end);
		if (*end)
			return 0;
		break;
	default:
		return 0;
	}
	return isfinite(*out) ? 1 : 0;
}

/* The location fields of one database record into res (country,
 * continent, subdivision, coordinates). Shared by lookups and the walk. */
int geo_db_decode(const struct geo_db *g, MMDB_entry_s *entry, struct geo_result *res,
		  int *mmdb_status)
{
	double lat = 0, lon = 0;
	int rc, has_lat, has_lon;

	rc = field_code2(g, GEO_F_COUNTRY, entry, res->country, mmdb_status);
	if (rc >= 0)
		rc = field_code2(g, GEO_F_CONTINENT, entry, res->continent, mmdb_status);
	if (rc >= 0)
		rc = field_subdivision(g, entry, res->country, res->subdivision,
				       sizeof(res->subdivision), mmdb_status);
	if (rc < 0)
		return rc;
	has_lat = field_number(g, GEO_F_LAT, entry, &lat, mmdb_status);
	if (has_lat < 0)
		return has_lat;
	has_lon = field_number(g, GEO_F_LON, entry, &lon, mmdb_status);
	if (has_lon < 0)
		return has_lon;
	if (has_lat && has_lon && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
		res->has_coords = 1;
		res->lat = lat;
		res->lon = lon;
	} else if (res->country[0] && !geo_country_centroid(res->country, &lat, &lon)) {
		res->has_coords = 1;
		res->coords_from_centroid = 1;
		res->lat = lat;
		res->lon = lon;
	}
	return 0;
}

static struct geo_cache_entry *cache_slot(const struct geo_db *g, uint32_t offset)
{
	uint32_t h = offset * 2654435761u;
	return &g->cache[h >> (32 - GEO_CACHE_BITS)];
}

static int cache_get(const struct geo_db *g, uint32_t offset, struct geo_result *res)
{
	if (!g->cache)
		return 0;
	struct geo_cache_entry *e = cache_slot(g, offset);
	uint64_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return 0;
	uint64_t key = __atomic_load_n(&e->key, __ATOMIC_RELAXED);
	uint64_t w[4];
	for (int i = 0; i < 4; i++)
		w[i] = __atomic_load_n(&e->w[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
		return 0;
	if ((key & 0xffffffffffull) != (uint64_t)offset + 1)
		return 0;
	char codes[16];
	memcpy(codes, &w[0], 16);
	memcpy(res->country, codes, 2);
	res->country[2] = '\0';
	memcpy(res->continent, codes + 2, 2);
	res->continent[2] = '\0';
	memcpy(res->subdivision, codes + 4, 12);
	res->subdivision[12] = '\0';
	memcpy(&res->lat, &w[2], 8);
	memcpy(&res->lon, &w[3], 8);
	res->has_coords = (key & GEO_CK_COORDS) != 0;
	res->coords_from_centroid = (key & GEO_CK_CENTROID) != 0;
	return 1;
}

static void cache_put(const struct geo_db *g, uint32_t offset, const struct geo_result *res)
{
	size_t sl = strlen(res->subdivision);
	if (!g->cache || sl > 12)
		return; /* not representable: decoded every time */
	struct geo_cache_entry *e = cache_slot(g, offset);
	uint64_t s = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	if ((s & 1) ||
	    !__atomic_compare_exchange_n(&e->seq, &s, s + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return; /* another thread is writing it */
	char codes[16];
	uint64_t w[4];
	memset(codes, 0, sizeof(codes));
	memcpy(codes, res->country, 2);
	memcpy(codes + 2, res->continent, 2);
	memcpy(codes + 4, res->subdivision, sl);
	memcpy(&w[0], codes, 16);
	memcpy(&w[2], &res->lat, 8);
	memcpy(&w[3], &res->lon, 8);
	uint64_t key = (uint64_t)offset + 1;
	if (res->has_coords)
		key |= GEO_CK_COORDS;
	if (res->coords_from_centroid)
		key |= GEO_CK_CENTROID;
	/* The release fence orders the payload stores after the odd sequence. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->key, key, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		__atomic_store_n(&e->w[i], w[i], __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
}

/* One lookup in a database: its result and the network's prefix length in
 * the family asked. Returns 1 when found, 0 when not (an IPv4-only database
 * knows nothing of any IPv6 address), GSLB_EIO with *st from a damaged file. */
static int mmdb_find(const MMDB_s *db, int family, const uint8_t *a, MMDB_lookup_result_s *lr,
		     unsigned *prefix, int *st)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} su;
	unsigned alen = family == AF_INET ? 4 : 16;

	memset(&su, 0, sizeof(su));
	if (family == AF_INET) {
		su.sin.sin_family = AF_INET;
		memcpy(&su.sin.sin_addr, a, 4);
	} else {
		su.sin6.sin6_family = AF_INET6;
		memcpy(&su.sin6.sin6_addr, a, 16);
	}
	*st = MMDB_SUCCESS;
	*prefix = 0;
	*lr = MMDB_lookup_sockaddr((MMDB_s *)db, &su.sa, st);
	if (*st == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return 0;
	if (*st != MMDB_SUCCESS)
		return GSLB_EIO;
	unsigned p = lr->netmask;
	/* IPv4 sits at ::/96 of an IPv6 tree; the library counts from bit 0 */
	if (family == AF_INET && db->metadata.ip_version == 6)
		p = p >= 96 ? p - 96 : 0;
	*prefix = p > alen * 8 ? alen * 8 : p;
	return lr->found_entry ? 1 : 0;
}

static int db_lookup(const struct geo_db *g, int family, const uint8_t *a, struct geo_result *res,
		     int *mmdb_status, int want_network)
{
	MMDB_lookup_result_s lr;
	unsigned alen = family == AF_INET ? 4 : 16, prefix;
	uint8_t net[16];
	int st = MMDB_SUCCESS;

	int found = mmdb_find(&g->mmdb, family, a, &lr, &prefix, &st);
	if (found < 0) {
		*mmdb_status = st;
		return GSLB_EIO;
	}
	if (st == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return 0; /* as before: nothing known, db_prefix untouched */
	res->db_prefix = (uint8_t)prefix;
	if (!found)
		return 0;
	res->db_found = 1;
	if (want_network) {
		net_mask(net, a, alen, prefix);
		net_format(family, net, prefix, res->network, sizeof(res->network));
	}
	if (cache_get(g, lr.entry.offset, res))
		return 0;
	int rc = geo_db_decode(g, &lr.entry, res, mmdb_status);
	if (rc == 0)
		cache_put(g, lr.entry.offset, res);
	return rc;
}

/* libmaxminddb validates the metadata at open but the tree and data only as
 * lookups reach them; a few lookups over the configured paths catch most
 * damaged files here, so a reload rejects them instead of serving errors. */
static int db_probe(const struct geo_db *g, char *err, size_t errlen)
{
	static const char *const probes[] = { "1.1.1.1",  "8.8.8.8",      "81.2.69.160",
					      "83.0.0.1", "2001:4860::1", "2a00:1450::1" };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint8_t a[16];
		struct geo_result r;
		int family = strchr(probes[i], ':') ? AF_INET6 : AF_INET;
		int st = MMDB_SUCCESS;
		if (inet_pton(family, probes[i], a) != 1)
			continue;
		memset(&r, 0, sizeof(r));
		if (db_lookup(g, family, a, &r, &st, 1)) {
			errf(err, errlen, "%s: damaged database (lookup of %s: %s)", g->db_path,
			     probes[i], MMDB_strerror(st));
			return GSLB_EINVAL;
		}
	}
	return 0;
}

/* The database is read into sealed private memory (a memfd) and
 * libmaxminddb maps that, not the file: an operator who truncates or
 * rewrites the file in place (cp new old, rsync --inplace) cannot take pages
 * from under the workers (SIGBUS); the file is read once, at load. A file
 * that changes while it is read (size or modification time) is refused, as
 * is an empty one. Returns 0 with *memfd, 1 when this kernel has no memfd
 * (the caller maps the file), or an error. */
static int db_private_copy(const char *path, int *memfd, char *err, size_t errlen)
{
	struct stat before, after;
	char buf[65536];
	off_t total = 0;
	int rc = GSLB_EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return GSLB_EIO;
	}
	if (fstat(fd, &before) != 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(before.st_mode)) {
		errf(err, errlen, "%s: not a regular file", path);
		rc = GSLB_EINVAL;
		goto out;
	}
	if (before.st_size == 0) {
		errf(err, errlen, "%s: empty file (being written?)", path);
		rc = GSLB_EINVAL;
		goto out;
	}
	*memfd = memfd_create("gslb-geoip", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*memfd < 0) {
		rc = 1;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(*memfd, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				errf(err, errlen, "%s: copying to memory: %s", path,
				     strerror(errno));
				rc = errno == ENOMEM || errno == ENOSPC ? GSLB_ENOMEM : GSLB_EIO;
				goto out;
			}
			done += w;
		}
		total += n;
	}
	if (fstat(fd, &after) != 0 || total != before.st_size || after.st_size != total ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
		errf(err, errlen, "%s: the file changed while it was read (being written?)", path);
		rc = GSLB_EINVAL;
		goto out;
	}
	/* Nothing, not even this process, can change the copy now. */
	(void)fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	rc = 0;
out:
	if (rc != 0 && *memfd >= 0) {
		close(*memfd);
		*memfd = -1;
	}
	close(fd);
	return rc;
}

/* A database file into *mmdb through a sealed private copy (or, without
 * memfd, the file itself). */
static int mmdb_open_private(MMDB_s *mmdb, const char *path, char *err, size_t errlen)
{
	int st, memfd = -1;
	char fdpath[64];
	const char *src = path;
	int rc = db_private_copy(path, &memfd, err, errlen);
	if (rc < 0)
		return rc;
	if (memfd >= 0) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", memfd);
		src = fdpath;
	}
	errno = 0;
	st = MMDB_open(src, MMDB_MODE_MMAP, mmdb);
	if (memfd >= 0 && st == MMDB_FILE_OPEN_ERROR) {
		/* no /proc to reach the copy through */
		close(memfd);
		memfd = -1;
		errno = 0;
		st = MMDB_open(path, MMDB_MODE_MMAP, mmdb);
	}
	if (memfd >= 0)
		close(memfd); /* the mapping keeps the copy */
	else if (st == MMDB_SUCCESS)
		log_warn("geoip database mapped from its file, no private copy (no memfd or "
			 "/proc): replace it with rename, never in place file=%s",
			 path);
	if (st != MMDB_SUCCESS) {
		int e = errno;
		if ((st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR) && e)
			errf(err, errlen, "%s: %s: %s", path, MMDB_strerror(st), strerror(e));
		else
			errf(err, errlen, "%s: %s", path, MMDB_strerror(st));
		return st == MMDB_OUT_OF_MEMORY_ERROR ? GSLB_ENOMEM :
		       st == MMDB_FILE_OPEN_ERROR     ? GSLB_EIO :
							GSLB_EINVAL;
	}
	if (mmdb->metadata.ip_version != 4 && mmdb->metadata.ip_version != 6) {
		errf(err, errlen, "%s: unsupported ip_version %u", path,
		     (unsigned)mmdb->metadata.ip_version);
		MMDB_close(mmdb);
		return GSLB_EINVAL;
	}
	return 0;
}

static int db_open(struct geo_db *g, const char *path, char *err, size_t errlen)
{
	g->db_path = dupstr(path);
	if (!g->db_path)
		return GSLB_ENOMEM;
	int rc = mmdb_open_private(&g->mmdb, path, err, errlen);
	if (rc)
		return rc;
	g->has_mmdb = 1;
	g->cache = calloc((size_t)1 << GEO_CACHE_BITS, sizeof(*g->cache));
	if (!g->cache) {
		errf(err, errlen, "%s: out of memory", path);
		return GSLB_ENOMEM;
	}
	return db_probe(g, err, errlen);
}

/* ---- the ASN database ----------------------------------------------------- */

int geo_asn_lookup(const struct geo_db *g, int family, const uint8_t *addr, int want_org,
		   struct geo_asn *out)
{
	MMDB_lookup_result_s lr;
	MMDB_entry_data_s v;
	unsigned prefix;
	int st;

	memset(out, 0, sizeof(*out));
	if (!g || !g->has_asn)
		return 0;
	int found = mmdb_find(&g->asn, family, addr, &lr, &prefix, &st);
	out->prefix = (uint8_t)prefix;
	if (found <= 0)
		return found;
	st = MMDB_get_value(&lr.entry, &v, "autonomous_system_number", NULL);
	if (st != MMDB_SUCCESS && st != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return GSLB_EIO;
	if (st == MMDB_SUCCESS && v.has_data) {
		if (v.type == MMDB_DATA_TYPE_UINT32) {
			out->asn = v.uint32;
			out->found = 1;
		} else if (v.type == MMDB_DATA_TYPE_UINT16) {
			out->asn = v.uint16;
			out->found = 1;
		} else if (v.type == MMDB_DATA_TYPE_UINT64 && v.uint64 <= UINT32_MAX) {
			out->asn = (uint32_t)v.uint64;
			out->found = 1;
		}
	}
	if (!want_org)
		return 0;
	st = MMDB_get_value(&lr.entry, &v, "autonomous_system_organization", NULL);
	if (st == MMDB_SUCCESS && v.has_data && v.type == MMDB_DATA_TYPE_UTF8_STRING) {
		size_t n = v.data_size < sizeof(out->org) - 1 ? v.data_size : sizeof(out->org) - 1;
		memcpy(out->org, v.utf8_string, n);
		out->org[n] = '\0';
	}
	return 0;
}

int geo_has_asn(const struct geo_db *g) { return g && g->has_asn; }

const char *geo_asn_path(const struct geo_db *g) { return g && g->asn_path ? g->asn_path : ""; }

const char *geo_asn_type(const struct geo_db *g)
{
	if (!g || !g->has_asn || !g->asn.metadata.database_type)
		return "";
	return g->asn.metadata.database_type;
}

uint64_t geo_asn_build_epoch(const struct geo_db *g)
{
	return g && g->has_asn ? g->asn.metadata.build_epoch : 0;
}

/* Does the record at data offset off carry the field at path? */
static int entry_has(MMDB_s *mmdb, uint32_t off, const char *path)
{
	MMDB_entry_s e = { .mmdb = mmdb, .offset = off };
	MMDB_entry_data_s v;
	return MMDB_get_value(&e, &v, path, NULL) == MMDB_SUCCESS && v.has_data;
}

/* A location database (City, Country) given as asn_database would match no
 * asn: rule, silently: refused when its type says so and, whatever the
 * type says, when its first record carries a location and no AS number. */
static int asn_check_type(MMDB_s *mmdb, const char *path, char *err, size_t errlen)
{
	const char *type = mmdb->metadata.database_type ? mmdb->metadata.database_type : "";
	int has_asn = entry_has(mmdb, 0, "autonomous_system_number") ||
		      entry_has(mmdb, 0, "autonomous_system_organization");
	int has_loc = entry_has(mmdb, 0, "country") || entry_has(mmdb, 0, "location") ||
		      entry_has(mmdb, 0, "city") || entry_has(mmdb, 0, "country_code");
	int named_loc = !strstr(type, "ASN") && (strstr(type, "City") || strstr(type, "Country") ||
						 strstr(type, "city") || strstr(type, "country"));
	if (has_asn || (!has_loc && !named_loc))
		return 0;
	errf(err, errlen,
	     "%s: a location database (type \"%.60s\", records with %s), not an ASN "
	     "database: asn_database needs the GeoLite2-ASN format (records with "
	     "autonomous_system_number), e.g. GeoLite2-ASN.mmdb or DB-IP ASN Lite",
	     path, type, has_loc ? "a location and no autonomous_system_number" : "no AS number");
	return GSLB_EINVAL;
}

/* geoip.asn_database: opened as the city database is, then a few lookups
 * to refuse a damaged file at load rather than at query time. */
static int asn_open(struct geo_db *g, const char *path, char *err, size_t errlen)
{
	static const char *const probes[] = { "1.1.1.1", "8.8.8.8", "2001:4860::1" };
	g->asn_path = dupstr(path);
	if (!g->asn_path)
		return GSLB_ENOMEM;
	int rc = mmdb_open_private(&g->asn, path, err, errlen);
	if (rc)
		return rc;
	g->has_asn = 1;
	rc = asn_check_type(&g->asn, path, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint8_t a[16];
		struct geo_asn r;
		int family = strchr(probes[i], ':') ? AF_INET6 : AF_INET;
		if (inet_pton(family, probes[i], a) != 1)
			continue;
		if (geo_asn_lookup(g, family, a, 1, &r)) {
			errf(err, errlen, "%s: damaged database (lookup of %s)", path, probes[i]);
			return GSLB_EINVAL;
		}
	}
	return 0;
}

/* ---- walking the database ---------------------------------------------- */

/* Decoded records by data offset. A City database has half a million
 * records under a few million networks and decoding one costs five map
 * searches; neighbouring networks often share a record, so a small
 * direct-mapped cache (2.5 MB) saves most of that work. */
#define GEO_WALK_CACHE 16384u

/* At most one pending sibling per level of a 128-bit tree, plus the two
 * records of the last node read. */
#define GEO_WALK_STACK 130u

struct walk_slot {
	uint32_t key; /* data offset + 1; 0 = empty */
	int rc;       /* db_decode's result for that record */
	struct geo_result res;
};

/* A record still to visit: a network and what the tree holds for it. */
struct walk_frame {
	uint64_t rec;
	MMDB_entry_s entry;
	uint8_t type;
	uint8_t prefix;
	uint8_t addr[16];
};

/* Is addr/prefix inside a range the IPv4 tree is aliased at? What a tree
 * holds there is never consulted. */
static int walk_v4_alias(const uint8_t *a, unsigned prefix)
{
	for (size_t i = 0; i < sizeof(v4_in_v6) / sizeof(v4_in_v6[0]); i++) {
		if (!v4_in_v6[i].aliased || prefix < v4_in_v6[i].len)
			continue;
		if (net_common_prefix(a, v4_in_v6[i].net, 16) >= v4_in_v6[i].len)
			return 1;
	}
	return 0;
}

/* The node at ::/96 of an IPv6 tree, where the IPv4 tree starts; any other
 * record pointing at it is an alias (Teredo, or the ranges above). */
uint64_t geo_walk_v4_start(const struct geo_db *g)
{
	uint64_t node = 0;
	for (unsigned d = 0; d < 96; d++) {
		MMDB_search_node_s n;
		if (MMDB_read_node(&g->mmdb, (uint32_t)node, &n) != MMDB_SUCCESS ||
		    n.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE)
			return UINT64_MAX;
		node = n.left_record;
	}
	return node;
}

static int walk_emit(const struct geo_db *g, struct walk_slot *cache, const uint8_t *a,
		     unsigned prefix, MMDB_entry_s *entry, geo_walk_fn cb, void *arg)
{
	static const uint8_t zero[12] = { 0 };
	uint32_t key = entry->offset + 1;
	struct walk_slot *sl = &cache[(key * 2654435761u) % GEO_WALK_CACHE];
	struct geo_result res;
	int family = AF_INET6, st = MMDB_SUCCESS;
	const uint8_t *addr = a;

	if (sl->key != key) {
		sl->key = key;
		memset(&sl->res, 0, sizeof(sl->res));
		sl->res.db_found = 1;
		sl->rc = geo_db_decode(g, entry, &sl->res, &st);
	}
	if (sl->rc)
		return sl->rc;
	if (g->mmdb.metadata.ip_version == 4) {
		family = AF_INET;
	} else if (prefix >= 96 && !memcmp(a, zero, 12)) {
		/* IPv4 data in an IPv6 tree: reported as IPv4, as looked up */
		family = AF_INET;
		addr = a + 12;
		prefix -= 96;
	}
	res = sl->res;
	res.db_prefix = (uint8_t)prefix;
	res.scope_prefix = (uint8_t)prefix;
	return cb(arg, family, addr, prefix, &res);
}

/* Push the two records of node under the network addr/depth, right first
 * so that the left one (the lower addresses) is visited first. */
static int walk_push(const struct geo_db *g, struct walk_frame *stack, unsigned *sp, uint32_t node,
		     const uint8_t *addr, unsigned depth)
{
	MMDB_search_node_s n;

	if (MMDB_read_node(&g->mmdb, node, &n) != MMDB_SUCCESS)
		return GSLB_EIO;
	if (*sp + 2 > GEO_WALK_STACK)
		return GSLB_EIO;
	for (int bit = 1; bit >= 0; bit--) {
		struct walk_frame *f = &stack[(*sp)++];
		f->rec = bit ? n.right_record : n.left_record;
		f->type = bit ? n.right_record_type : n.left_record_type;
		f->entry = bit ? n.right_record_entry : n.left_record_entry;
		f->prefix = (uint8_t)(depth + 1);
		memcpy(f->addr, addr, 16);
		if (bit)
			f->addr[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
	}
	return 0;
}

int geo_walk(const struct geo_db *g, geo_walk_fn cb, void *arg)
{
	static const uint8_t zero[16] = { 0 };
	struct walk_frame stack[GEO_WALK_STACK];
	struct walk_slot *cache = NULL;
	unsigned sp = 0, maxdepth;
	uint64_t v4_start = UINT64_MAX;
	int v6, rc;

	if (!g || !cb)
		return GSLB_EINVAL;
	if (!g->has_mmdb)
		return 0;
	v6 = g->mmdb.metadata.ip_version == 6;
	maxdepth = v6 ? 128 : 32;
	if (v6)
		v4_start = geo_walk_v4_start(g);
	cache = calloc(GEO_WALK_CACHE, sizeof(*cache));
	if (!cache)
		return GSLB_ENOMEM;
	/* Each node is read once in a tree; shared nodes (a damaged or
	 * crafted file) would make the walk endless. */
	uint64_t reads_left = 2 * (uint64_t)g->mmdb.metadata.node_count + 256;
	rc = walk_push(g, stack, &sp, 0, zero, 0);
	while (!rc && sp) {
		struct walk_frame f = stack[--sp];
		if (f.type == MMDB_RECORD_TYPE_EMPTY)
			continue;
		if (v6 && walk_v4_alias(f.addr, f.prefix))
			continue;
		if (f.type == MMDB_RECORD_TYPE_SEARCH_NODE) {
			if (f.rec == v4_start && !(f.prefix == 96 && !memcmp(f.addr, zero, 12)))
				continue; /* an alias of the IPv4 subtree (Teredo...) */
			if (f.prefix >= maxdepth) {
				rc = GSLB_EIO; /* a node below a full address: damaged */
				break;
			}
			if (reads_left-- == 0) {
				rc = GSLB_EIO;
				break;
			}
			rc = walk_push(g, stack, &sp, (uint32_t)f.rec, f.addr, f.prefix);
			continue;
		}
		if (f.type != MMDB_RECORD_TYPE_DATA) {
			rc = GSLB_EIO;
			break;
		}
		rc = walk_emit(g, cache, f.addr, f.prefix, &f.entry, cb, arg);
	}
	free(cache);
	return rc;
}

/* ---- overrides ---------------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int region_char(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* "ADDR/LEN" or a bare address (a host route), host bits zero. */
static int parse_cidr(const char *tok, struct geo_override *o, char *why, size_t whylen)
{
	struct net_cidr n;
	int rc = net_parse(tok, 0, &n, why, whylen);

	if (rc)
		return rc;
	o->family_is_v6 = n.family == AF_INET6;
	memcpy(o->addr, n.addr, sizeof(o->addr));
	o->prefix = n.prefix;
	return 0;
}

/* A number token: decimal only, so "nan", "inf" and hex floats are typos. */
static int parse_number(const char *tok, double *out)
{
	char *end;
	if (!*tok)
		return -1;
	for (const char *p = tok; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' ||
		      *p == 'e' || *p == 'E'))
			return -1;
	errno = 0;
	*out = strtod(tok, &end);
	if (*end || errno || !isfinite(*out))
		return -1;
	return 0;
}

static void override_free(struct geo_override *o)
{
	for (size_t i = 0; i < o->nregions; i++)
		free(o->regions[i]);
	free(o->regions);
	o->regions = NULL;
	o->nregions = 0;
}

/* Region list "a,b , c": names separated by commas, blanks around them
 * ignored. */
static int parse_regions(char *s, struct geo_override *o, char *why, size_t whylen)
{
	size_t n = 1;
	for (char *p = s; *p; p++)
		n += *p == ',';
	o->regions = calloc(n, sizeof(char *));
	if (!o->regions)
		return GSLB_ENOMEM;
	for (char *p = s;;) {
		char *comma = strchr(p, ',');
		char *end = comma ? comma : p + strlen(p);
		while (p < end && is_space(*p))
			p++;
		while (end > p && is_space(end[-1]))
			end--;
		if (p == end) {
			snprintf(why, whylen, "empty region name");
			return GSLB_EPARSE;
		}
		for (char *q = p; q < end; q++) {
			if (is_space(*q)) {
				snprintf(why, whylen, "region names are separated by ','");
				return GSLB_EPARSE;
			}
			if (!region_char(*q)) {
				if (*q > ' ' && *q < 0x7f)
					snprintf(why, whylen,
						 "invalid character '%c' in region name", *q);
				else
					snprintf(why, whylen, "invalid byte 0x%02x in region name",
						 (unsigned char)*q);
				return GSLB_EPARSE;
			}
		}
		*end = '\0';
		for (size_t i = 0; i < o->nregions; i++) {
			if (!strcmp(o->regions[i], p)) {
				snprintf(why, whylen, "region \"%.64s\" listed twice", p);
				return GSLB_EEXIST;
			}
		}
		o->regions[o->nregions] = dupstr(p);
		if (!o->regions[o->nregions])
			return GSLB_ENOMEM;
		o->nregions++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

/* One non-blank, comment-stripped line: "CIDR regions" or "CIDR lat lon". */
static int parse_line(char *s, struct geo_override *o, char *why, size_t whylen)
{
	const char *tok[3];
	size_t tlen[3], ntok = 0;
	char first[64], second[64], *cidr, *rest, *p;
	double lat, lon;
	int rc;

	while (is_space(*s))
		s++;
	cidr = s;
	while (*s && !is_space(*s))
		s++;
	if (*s)
		*s++ = '\0';
	rc = parse_cidr(cidr, o, why, whylen);
	if (rc)
		return rc;
	while (is_space(*s))
		s++;
	rest = s;
	if (!*rest) {
		snprintf(why, whylen, "missing region list or location after %.64s", cidr);
		return GSLB_EPARSE;
	}
	for (p = rest; *p && ntok < 3;) {
		tok[ntok] = p;
		while (*p && !is_space(*p))
			p++;
		tlen[ntok] = (size_t)(p - tok[ntok]);
		ntok++;
		while (is_space(*p))
			p++;
	}

	/* A location is exactly two numbers; a line whose first word is a
	 * number must be one, so "52.2" alone is an error, not a region. */
	if (tlen[0] >= sizeof(first))
		return parse_regions(rest, o, why, whylen);
	memcpy(first, tok[0], tlen[0]);
	first[tlen[0]] = '\0';
	if (parse_number(first, &lat))
		return parse_regions(rest, o, why, whylen);
	if (ntok != 2 || tlen[1] >= sizeof(second)) {
		snprintf(why, whylen, "a location is \"LATITUDE LONGITUDE\"");
		return GSLB_EPARSE;
	}
	memcpy(second, tok[1], tlen[1]);
	second[tlen[1]] = '\0';
	if (parse_number(second, &lon)) {
		snprintf(why, whylen, "bad longitude \"%s\"", second);
		return GSLB_EPARSE;
	}
	if (lat < -90 || lat > 90) {
		snprintf(why, whylen, "latitude %s outside -90..90", first);
		return GSLB_ERANGE;
	}
	if (lon < -180 || lon > 180) {
		snprintf(why, whylen, "longitude %s outside -180..180", second);
		return GSLB_ERANGE;
	}
	o->has_coords = 1;
	o->lat = lat;
	o->lon = lon;
	return 0;
}

/* The overrides' networks as a set; a network listed twice is an error
 * naming the first repeated line in file order. */
static int ov_index(struct geo_db *g, char *err, size_t errlen)
{
	struct net_cidr *v = calloc(g->nov ? g->nov : 1, sizeof(*v));
	size_t dup[2];

	if (!v)
		return GSLB_ENOMEM;
	for (size_t i = 0; i < g->nov; i++) {
		v[i].family = g->ov[i].family_is_v6 ? AF_INET6 : AF_INET;
		memcpy(v[i].addr, g->ov[i].addr, sizeof(v[i].addr));
		v[i].prefix = g->ov[i].prefix;
	}
	g->ovset = net_set_new(v, g->nov, dup);
	free(v);
	if (!g->ovset)
		return GSLB_ENOMEM;
	if (dup[0] != (size_t)-1) {
		char cidr[NET_CIDR_TEXT_MAX];
		geo_override_cidr(&g->ov[dup[0]], cidr, sizeof(cidr));
		errf(err, errlen, "%s:%d: duplicate CIDR %s (first at line %d)", g->ov_path,
		     g->ov[dup[0]].line, cidr, g->ov[dup[1]].line);
		return GSLB_EEXIST;
	}
	return 0;
}

static int ov_load(struct geo_db *g, const char *path, char *err, size_t errlen)
{
	char buf[TEXTLINE_MAX], why[256];
	size_t cap = 0, len;
	int line = 0, rc = 0;
	FILE *f;

	g->ov_path = dupstr(path);
	if (!g->ov_path)
		return GSLB_ENOMEM;
	f = fopen(path, "r");
	if (!f) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return GSLB_EIO;
	}
	for (;;) {
		struct geo_override *o;
		char *hash, *p;

		rc = textline_read(f, buf, sizeof(buf), &len);
		if (rc == 0)
			break;
		line++;
		if (rc < 0) {
			textline_error(rc, path, line, sizeof(buf), err, errlen);
			goto out;
		}
		rc = 0;
		hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		for (p = buf; is_space(*p); p++)
			;
		if (!*p)
			continue;
		if (g->nov == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct geo_override *nov = realloc(g->ov, ncap * sizeof(*nov));
			if (!nov) {
				rc = GSLB_ENOMEM;
				errf(err, errlen, "%s:%d: out of memory", path, line);
				goto out;
			}
			g->ov = nov;
			cap = ncap;
		}
		o = &g->ov[g->nov];
		memset(o, 0, sizeof(*o));
		o->line = line;
		why[0] = '\0';
		rc = parse_line(p, o, why, sizeof(why));
		g->nov++; /* counted even on error so geo_close frees its regions */
		if (rc) {
			errf(err, errlen, "%s:%d: %s", path, line,
			     rc == GSLB_ENOMEM ? "out of memory" : why);
			goto out;
		}
	}
	rc = ov_index(g, err, errlen);
out:
	fclose(f);
	return rc;
}

/* ---- public ------------------------------------------------------------- */

int geo_open(const struct geo_conf *gc, struct geo_db **out, char *err, size_t errlen)
{
	struct geo_db *g = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!gc || !out) {
		errf(err, errlen, "geoip: no configuration");
		return GSLB_EINVAL;
	}
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g) {
		rc = GSLB_ENOMEM;
		goto out;
	}
	{
		const char *paths[GEO_NFIELDS] = { gc->path_country, gc->path_continent,
						   gc->path_subdivision, gc->path_latitude,
						   gc->path_longitude };
		for (int i = 0; i < GEO_NFIELDS; i++) {
			rc = split_path(g, i, paths[i] ? paths[i] : geo_default_paths[i], err,
					errlen);
			if (rc)
				goto out;
		}
	}
	if (gc->database) {
		rc = db_open(g, gc->database, err, errlen);
		if (rc)
			goto out;
	}
	if (gc->overrides) {
		rc = ov_load(g, gc->overrides, err, errlen);
		if (rc)
			goto out;
	}
	if (gc->asn_database) {
		rc = asn_open(g, gc->asn_database, err, errlen);
		if (rc)
			goto out;
	}
	*out = g;
	g = NULL;
	rc = 0;
out:
	if (rc == GSLB_ENOMEM && err && errlen && !err[0])
		errf(err, errlen, "geoip: out of memory");
	geo_close(g);
	return rc;
}

void geo_close(struct geo_db *g)
{
	if (!g)
		return;
	if (g->has_mmdb)
		MMDB_close(&g->mmdb);
	if (g->has_asn)
		MMDB_close(&g->asn);
	free(g->asn_path);
	free(g->cache);
	for (int i = 0; i < GEO_NFIELDS; i++) {
		free(g->paths[i]);
		free(g->path_buf[i]);
	}
	for (size_t i = 0; i < g->nov; i++)
		override_free(&g->ov[i]);
	free(g->ov);
	net_set_free(g->ovset);
	free(g->db_path);
	free(g->ov_path);
	free(g);
}

/* geo_lookup_flags, with the database part from the compact table c when
 * it is given: *cls is then the table's class (GEO_CLASS_EXACT when the
 * table sent the address to the database, which then filled res). */
static int lookup(const struct geo_db *g, const struct geo_compact *c, int family,
		  const uint8_t *addr, struct geo_result *res, unsigned flags, uint32_t *cls)
{
	uint8_t v4[4];
	const uint8_t *a = addr;
	unsigned offset = 0, alen, need = 0, scope;
	int rc = 0, st = MMDB_SUCCESS;

	*cls = GEO_CLASS_EXACT;
	if (!res)
		return GSLB_EINVAL;
	memset(res, 0, sizeof(*res));
	if (!g || !addr || (family != AF_INET && family != AF_INET6))
		return GSLB_EINVAL;
	if (family == AF_INET6) {
		int k = geo_v4_embedded(addr, v4);
		if (k >= 0) {
			family = AF_INET;
			a = v4;
			offset = (unsigned)k;
			res->mapped_v4 = 1;
		}
	}
	alen = family == AF_INET ? 4 : 16;
	/* The longest override, and the shortest prefix that keeps every
	 * non-matching, more specific override out of the address's block. */
	long ov = net_set_lookup(g->ovset, family, a, &need);
	res->override = ov >= 0 ? &g->ov[ov] : NULL;
	if (g->has_mmdb && c) {
		unsigned depth;
		uint32_t k = geo_ct_find(c, family == AF_INET6, a, &depth);
		if (k != GEO_CLASS_EXACT) {
			*cls = k;
			res->db_prefix = (uint8_t)(depth > alen * 8 ? alen * 8 : depth);
			res->db_found = k != GEO_CLASS_NONE;
			goto scope;
		}
	}
	if (g->has_mmdb) {
		rc = db_lookup(g, family, a, res, &st, !(flags & GEO_NO_NETWORK));
		if (rc) {
			/* keep the override usable; report no database data */
			const struct geo_override *o = res->override;
			uint8_t p = res->db_prefix;
			memset(res, 0, sizeof(*res));
			res->override = o;
			res->db_prefix = p;
			res->mapped_v4 = offset != 0;
		}
	}
scope:
	scope = res->db_prefix;
	if (res->override && res->override->prefix > scope)
		scope = res->override->prefix;
	if (need > scope)
		scope = need;
	if (family == AF_INET6) {
		unsigned v4need = v4_in_v6_need(a);
		if (v4need > scope)
			scope = v4need;
	}
	res->db_prefix = (uint8_t)(res->db_prefix + offset);
	res->scope_prefix = (uint8_t)(scope + offset);
	return rc;
}

int geo_lookup_flags(const struct geo_db *g, int family, const uint8_t *addr,
		     struct geo_result *res, unsigned flags)
{
	uint32_t cls;
	return lookup(g, NULL, family, addr, res, flags, &cls);
}

int geo_lookup_compact(const struct geo_db *g, const struct geo_compact *c, int family,
		       const uint8_t *addr, struct geo_result *res, uint32_t *cls)
{
	return lookup(g, c, family, addr, res, GEO_NO_NETWORK, cls);
}

int geo_lookup(const struct geo_db *g, int family, const uint8_t *addr, struct geo_result *res)
{
	return geo_lookup_flags(g, family, addr, res, 0);
}

size_t geo_override_count(const struct geo_db *g) { return g ? g->nov : 0; }

const struct geo_override *geo_override_at(const struct geo_db *g, size_t i)
{
	return g && i < g->nov ? &g->ov[i] : NULL;
}

const char *geo_overrides_path(const struct geo_db *g) { return g ? g->ov_path : NULL; }

int geo_override_cidr(const struct geo_override *o, char *buf, size_t len)
{
	return net_format(o->family_is_v6 ? AF_INET6 : AF_INET, o->addr, o->prefix, buf, len);
}

const char *geo_db_path(const struct geo_db *g) { return g && g->db_path ? g->db_path : ""; }

const char *geo_db_type(const struct geo_db *g)
{
	if (!g || !g->has_mmdb || !g->mmdb.metadata.database_type)
		return "";
	return g->mmdb.metadata.database_type;
}

uint64_t geo_db_build_epoch(const struct geo_db *g)
{
	return g && g->has_mmdb ? g->mmdb.metadata.build_epoch : 0;
}

uint32_t geo_db_node_count(const struct geo_db *g)
{
	return g && g->has_mmdb ? g->mmdb.metadata.node_count : 0;
}

unsigned geo_db_ip_version(const struct geo_db *g)
{
	return g && g->has_mmdb ? g->mmdb.metadata.ip_version : 0;
}

double geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	const double rad = M_PI / 180.0, r = 6371.0088;
	double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
	double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
	double h = s1 * s1 + cos(lat1 * rad) * cos(lat2 * rad) * s2 * s2;
	if (h > 1)
		h = 1; /* rounding near antipodes would make asin NaN */
	return 2 * r * asin(sqrt(h));
}

void geo_release_pages(const struct geo_db *g)
{
	if (!g || !g->has_mmdb || !g->mmdb.file_content || g->mmdb.file_size <= 0)
		return;
	/* The file's pages stay in the page cache; this process only stops
	 * holding the ones a build walked through. */
	(void)madvise((void *)(uintptr_t)g->mmdb.file_content, (size_t)g->mmdb.file_size,
		      MADV_DONTNEED);
}
