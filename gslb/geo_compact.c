/* The compact geo table (geoip.compact): a binary trie over the database's
 * networks whose leaves are answer classes, built once per snapshot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "gslb/err.h"
#include "gslb/geo.h"
#include "gslb/geo_int.h"

/* A binary trie over the database's networks whose leaves are answer
 * classes instead of records: the caller's classifier maps each record's
 * location to a class, and sibling leaves of one class merge, so the table
 * holds the widest networks that get the same answer (the way gdnsd builds
 * its networks tree). A child reference with GEO_CT_LEAF set is a leaf with
 * the class in the other bits; otherwise it is the index of a node. */
#define GEO_CT_LEAF 0x80000000u
#define GEO_CT_CACHE (1u << 16)

struct geo_compact {
	uint32_t *nodes; /* two child references per node */
	size_t nnodes;
	uint32_t root[2]; /* [0] IPv4, [1] IPv6 */
	size_t leaves;
};

struct ct_slot {
	uint32_t key; /* record offset + 1; 0 = empty */
	uint32_t cls;
};

struct ct_build {
	const struct geo_db *g;
	geo_class_fn fn;
	void *arg;
	struct geo_compact *c;
	size_t cap;
	struct ct_slot *cache;
	uint64_t v4_start;
	unsigned maxdepth;
	int v6pass;
	int rc;
	/* Node reads left: a tree reads each node once per pass (aliases
	 * stop at v4_start), so a file whose nodes are shared by many paths
	 * (a crafted or damaged one: 2^96 paths take forever) is refused. */
	uint64_t reads_left;
};

static uint32_t ct_classify(struct ct_build *b, MMDB_entry_s *entry)
{
	uint32_t key = entry->offset + 1;
	struct ct_slot *sl = &b->cache[(key * 2654435761u) >> 16];
	struct geo_result res;
	int st = MMDB_SUCCESS;
	uint32_t cls = GEO_CLASS_NONE;

	if (sl->key == key)
		return sl->cls;
	memset(&res, 0, sizeof(res));
	res.db_found = 1;
	/* A record that cannot be decoded is no location, as in a lookup. */
	if (geo_db_decode(b->g, entry, &res, &st) == 0) {
		int rc = b->fn(b->arg, &res, &cls);
		if (rc) {
			b->rc = rc;
			return GEO_CLASS_NONE;
		}
		if (cls >= GEO_CT_LEAF || cls < GEO_CLASS_FIRST) {
			b->rc = GSLB_EINVAL;
			return GEO_CLASS_NONE;
		}
	}
	sl->key = key;
	sl->cls = cls;
	return cls;
}

static uint32_t ct_node(struct ct_build *b, uint32_t left, uint32_t right)
{
	struct geo_compact *c = b->c;
	if (c->nnodes == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		if (ncap >= GEO_CT_LEAF) {
			b->rc = GSLB_ENOMEM;
			return GEO_CT_LEAF | GEO_CLASS_NONE;
		}
		uint32_t *n = realloc(c->nodes, ncap * 2 * sizeof(*n));
		if (!n) {
			b->rc = GSLB_ENOMEM;
			return GEO_CT_LEAF | GEO_CLASS_NONE;
		}
		c->nodes = n;
		b->cap = ncap;
	}
	c->nodes[2 * c->nnodes] = left;
	c->nodes[2 * c->nnodes + 1] = right;
	return (uint32_t)c->nnodes++;
}

/* The trie below one record of the database tree, merged bottom-up. */
static uint32_t ct_rec(struct ct_build *b, uint64_t rec, uint8_t type, MMDB_entry_s *entry,
		       unsigned depth)
{
	if (b->rc)
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	switch (type) {
	case MMDB_RECORD_TYPE_EMPTY:
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	case MMDB_RECORD_TYPE_DATA:
		return GEO_CT_LEAF | ct_classify(b, entry);
	case MMDB_RECORD_TYPE_SEARCH_NODE:
		break;
	default:
		b->rc = GSLB_EIO;
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	}
	/* In the IPv6 pass the IPv4 subtree (at ::/96, and wherever the tree
	 * aliases it: Teredo, ::ffff:0:0/96...) is left to exact lookups:
	 * addresses there are located as IPv4 or are :: and ::1. */
	if (b->v6pass && rec == b->v4_start)
		return GEO_CT_LEAF | GEO_CLASS_EXACT;
	if (depth >= b->maxdepth) {
		b->rc = GSLB_EIO; /* a node below a full address: damaged */
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	}
	MMDB_search_node_s n;
	if (b->reads_left == 0 || MMDB_read_node(&b->g->mmdb, (uint32_t)rec, &n) != MMDB_SUCCESS) {
		b->rc = GSLB_EIO;
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	}
	b->reads_left--;
	uint32_t l = ct_rec(b, n.left_record, n.left_record_type, &n.left_record_entry, depth + 1);
	uint32_t r =
		ct_rec(b, n.right_record, n.right_record_type, &n.right_record_entry, depth + 1);
	if (b->rc)
		return GEO_CT_LEAF | GEO_CLASS_NONE;
	if (l == r && (l & GEO_CT_LEAF))
		return l;
	return ct_node(b, l, r);
}

/* The root of a tree starting at node (depth 0, up to maxdepth bits). */
static uint32_t ct_root(struct ct_build *b, uint64_t node, unsigned maxdepth)
{
	MMDB_entry_s none;
	memset(&none, 0, sizeof(none));
	b->maxdepth = maxdepth;
	return ct_rec(b, node, MMDB_RECORD_TYPE_SEARCH_NODE, &none, 0);
}

static size_t ct_count_leaves(const struct geo_compact *c, uint32_t ref)
{
	if (ref & GEO_CT_LEAF)
		return 1;
	return ct_count_leaves(c, c->nodes[2 * ref]) + ct_count_leaves(c, c->nodes[2 * ref + 1]);
}

int geo_compact_build(const struct geo_db *g, geo_class_fn fn, void *arg, struct geo_compact **out)
{
	struct ct_build b;
	int rc;

	*out = NULL;
	if (!g || !fn)
		return GSLB_EINVAL;
	memset(&b, 0, sizeof(b));
	b.g = g;
	b.fn = fn;
	b.arg = arg;
	b.v4_start = UINT64_MAX;
	b.c = calloc(1, sizeof(*b.c));
	b.cache = calloc(GEO_CT_CACHE, sizeof(*b.cache));
	if (!b.c || !b.cache) {
		rc = GSLB_ENOMEM;
		goto fail;
	}
	b.c->root[0] = b.c->root[1] = GEO_CT_LEAF | GEO_CLASS_NONE;
	b.reads_left = g->has_mmdb ? 2 * (uint64_t)g->mmdb.metadata.node_count + 256 : 0;
	if (g->has_mmdb && g->mmdb.metadata.ip_version == 4) {
		b.c->root[0] = ct_root(&b, 0, 32);
	} else if (g->has_mmdb) {
		/* An IPv4 lookup in an IPv6 tree starts at ::/96; without a
		 * node there (a damaged or unusual tree) it is left to exact
		 * lookups. */
		b.v4_start = geo_walk_v4_start(g);
		if (b.v4_start != UINT64_MAX && b.v4_start < g->mmdb.metadata.node_count)
			b.c->root[0] = ct_root(&b, b.v4_start, 32);
		else
			b.c->root[0] = GEO_CT_LEAF | GEO_CLASS_EXACT;
		b.v6pass = 1;
		if (!b.rc)
			b.c->root[1] = ct_root(&b, 0, 128);
	}
	rc = b.rc;
	if (rc)
		goto fail;
	if (b.c->nnodes > 0) {
		uint32_t *n = realloc(b.c->nodes, b.c->nnodes * 2 * sizeof(*n));
		if (n)
			b.c->nodes = n;
	}
	b.c->leaves = ct_count_leaves(b.c, b.c->root[0]) + ct_count_leaves(b.c, b.c->root[1]);
	free(b.cache);
	*out = b.c;
	return 0;
fail:
	free(b.cache);
	geo_compact_free(b.c);
	return rc;
}

void geo_compact_free(struct geo_compact *c)
{
	if (!c)
		return;
	free(c->nodes);
	free(c);
}

void geo_compact_stats(const struct geo_compact *c, size_t *nodes, size_t *leaves, size_t *bytes)
{
	*nodes = c ? c->nnodes : 0;
	*leaves = c ? c->leaves : 0;
	*bytes = c ? c->nnodes * 2 * sizeof(uint32_t) + sizeof(*c) : 0;
}

uint32_t geo_ct_find(const struct geo_compact *c, int v6, const uint8_t *a, unsigned *depth)
{
	uint32_t ref = c->root[v6];
	unsigned d = 0;

	while (!(ref & GEO_CT_LEAF)) {
		unsigned bit = (a[d >> 3] >> (7 - (d & 7))) & 1u;
		ref = c->nodes[2 * (size_t)ref + bit];
		d++;
	}
	*depth = d;
	return ref & ~GEO_CT_LEAF;
}
