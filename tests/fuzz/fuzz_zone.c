/* libFuzzer harness for the zone loader, zone_load(), and the lookups on
 * what it builds.
 *
 * The input is an RFC 1035 zone file for the origin "fuzz.test", written to
 * this process's scratch folder (tests/fuzz/fuzz_util.h). A failed load must
 * give a negative gslb_err, no zone and a "FILE:LINE: reason" message (a
 * syntax or validation error names a line). A zone that loads is checked
 * node by node: zone_find() finds every node under its own name, the node
 * lies inside the origin and has as many labels as it says, its RRsets are
 * sorted by type without repeats, zone_rrset() finds each one and its RDATA
 * entries add up to exactly its size and count; zone_lookup() of a node's
 * name lands on the node itself unless the node sits at or below a zone cut
 * (then on a cut above or at it). Names derived from the input (new labels
 * under the origin and under each node, raw bytes included) are looked up
 * too, through zone_lookup() and a zoneset, for the sanitizers to watch.
 * Before any of that, the file is read by zread_file() (whose fast path
 * takes plain lines) and by ldns alone (tests/zone_oracle.h): both must
 * give the same records, bytes and lines, or the same error.
 * A violation aborts, so libFuzzer keeps the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/dname.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/zone.h"
#include "fuzz_util.h"
#include "../zone_oracle.h"

#define HARNESS "fuzz_zone"
#define ORIGIN "fuzz.test"

/* Types the lookups ask for: A, NS, CNAME, SOA, MX, TXT, AAAA, DS, ANY. */
static const uint16_t qtypes[] = { 1, 2, 5, 6, 15, 16, 28, 43, 255 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

static void check_node(const struct zone *z, const struct zone_node *n)
{
	uint8_t offs[DNAME_MAXLABELS];
	struct zone_answer ans;

	if (n->name_len < 1 || dname_len(n->name) != n->name_len)
		fuzz_die(HARNESS, "node name length wrong");
	if (!dname_is_sub(n->name, n->name_len, z->origin, z->origin_len))
		fuzz_die(HARNESS, "node outside the origin");
	if (dname_labels(n->name, offs) != n->labels)
		fuzz_die(HARNESS, "node label count wrong");
	if (zone_find(z, n->name, n->name_len) != n)
		fuzz_die(HARNESS, "zone_find misses a node");
	if ((n->flags & ZONE_NODE_ENT) && n->nrrsets)
		fuzz_die(HARNESS, "empty non-terminal with data");
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		const struct zone_rrset *rs = &n->rrsets[i];
		const uint8_t *rd;
		uint16_t rdlen;
		size_t pos = 0, count = 0;

		if (i && n->rrsets[i - 1].type >= rs->type)
			fuzz_die(HARNESS, "RRsets not sorted by type or repeated");
		if (zone_rrset(n, rs->type) != rs)
			fuzz_die(HARNESS, "zone_rrset misses an RRset");
		if (rs->count == 0)
			fuzz_die(HARNESS, "empty RRset");
		while (zone_rrset_next(rs, &pos, &rd, &rdlen)) {
			if (pos > rs->rdata_size)
				fuzz_die(HARNESS, "RDATA entry runs past its RRset");
			if (rdlen) {
				/* touch both ends for ASan */
				volatile uint8_t first = rd[0], last = rd[rdlen - 1];
				(void)first;
				(void)last;
			}
			count++;
		}
		if (pos != rs->rdata_size || count != rs->count)
			fuzz_die(HARNESS, "RDATA entries do not add up to the RRset");
	}
	for (size_t t = 0; t < sizeof(qtypes) / sizeof(qtypes[0]); t++) {
		memset(&ans, 0, sizeof(ans));
		zone_lookup(z, n->name, n->name_len, qtypes[t], &ans);
		if (!ans.node)
			fuzz_die(HARNESS, "lookup without a node");
		if (ans.result == ZONE_EXACT) {
			if (ans.node != n)
				fuzz_die(HARNESS, "exact lookup of a node lands elsewhere");
		} else if (ans.result == ZONE_DELEGATION) {
			if (!(ans.node->flags & ZONE_NODE_DELEG))
				fuzz_die(HARNESS, "delegation answer at a node without NS");
			if (!dname_is_sub(n->name, n->name_len, ans.node->name, ans.node->name_len))
				fuzz_die(HARNESS, "delegation answer not above the name");
			if (!(n->flags & (ZONE_NODE_DELEG | ZONE_NODE_GLUE)))
				fuzz_die(HARNESS, "name above every cut answered as a delegation");
		} else {
			fuzz_die(HARNESS, "lookup of an existing node says no such name");
		}
	}
}

/* A lower-cased name made of up to nl labels taken from bytes, above base. */
static size_t make_name(const uint8_t *bytes, size_t nbytes, const uint8_t *base, size_t blen,
			uint8_t out[DNAME_MAXLEN])
{
	uint8_t tmp[DNAME_MAXLEN];
	size_t pos = 0, i = 0;

	while (i < nbytes && pos < 64) {
		size_t l = (size_t)(bytes[i] % 12u) + 1u;
		if (i + 1 + l > nbytes)
			l = nbytes - i - 1;
		if (l == 0)
			break;
		if (pos + 1 + l + blen > DNAME_MAXLEN)
			break;
		tmp[pos] = (uint8_t)l;
		memcpy(tmp + pos + 1, bytes + i + 1, l);
		pos += 1 + l;
		i += 1 + l;
	}
	if (pos + blen > DNAME_MAXLEN)
		return 0;
	memcpy(tmp + pos, base, blen);
	dname_tolower(out, tmp, pos + blen);
	return pos + blen;
}

static void lookup_all(const struct zone *z, const struct zoneset *zs, const uint8_t *name,
		       size_t len)
{
	struct zone_answer ans;

	for (size_t t = 0; t < sizeof(qtypes) / sizeof(qtypes[0]); t++) {
		memset(&ans, 0, sizeof(ans));
		zone_lookup(z, name, len, qtypes[t], &ans);
		if (!ans.node)
			fuzz_die(HARNESS, "lookup without a node");
		if (ans.result == ZONE_EXACT &&
		    !dname_is_sub(name, len, ans.node->name, ans.node->name_len))
			fuzz_die(HARNESS, "lookup lands on a node not above the name");
	}
	if (zoneset_find(zs, name, len) != z)
		fuzz_die(HARNESS, "zoneset_find misses the zone of a name inside it");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX];
	char err[1024];
	struct zone *z = (struct zone *)(uintptr_t)1;
	struct zoneset *zs = NULL;
	uint8_t name[DNAME_MAXLEN];
	size_t tail, len;
	int rc;

	if (size > 256 * 1024)
		return 0;
	fuzz_write(HARNESS, "fuzz.test.zone", data, size, path, sizeof(path));
	{
		char diff[9000];
		size_t nfast;
		const char *what = zone_oracle_compare(path, ORIGIN, diff, sizeof(diff), &nfast);
		if (what) {
			fprintf(stderr, "%s: %s\n", HARNESS, what);
			fuzz_die(HARNESS, "the fast path and ldns read the file differently");
		}
	}
	memset(err, 'X', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	rc = zone_load(ORIGIN, path, &z, err, sizeof(err));
	fuzz_verbose(HARNESS, rc, err);
	if (rc != 0) {
		if (rc > 0)
			fuzz_die(HARNESS, "positive return code");
		if (z)
			fuzz_die(HARNESS, "failure left *out set");
		fuzz_check_err(HARNESS, path, err, sizeof(err),
			       rc == GSLB_EINVAL || rc == GSLB_EPARSE);
		return 0;
	}
	if (!z)
		fuzz_die(HARNESS, "success without a zone");
	if (!z->apex || !(z->apex->flags & ZONE_NODE_APEX) || !z->soa)
		fuzz_die(HARNESS, "zone without an apex or SOA");
	if (strcmp(z->origin_str, ORIGIN ".") != 0)
		fuzz_die(HARNESS, "origin text differs");
	for (size_t i = 0; i < z->nnodes; i++)
		check_node(z, &z->nodes[i]);

	/* The zone moves into a zoneset (which frees it). */
	{
		struct zone *one[1] = { z };
		if (zoneset_new(one, 1, &zs, err, sizeof(err)) != 0)
			fuzz_die(HARNESS, "zoneset_new refuses one zone");
	}
	/* Names from the last bytes of the input: under the origin and under
	 * the first few nodes. */
	tail = size < 48 ? size : 48;
	len = make_name(data + size - tail, tail, z->origin, z->origin_len, name);
	if (len)
		lookup_all(z, zs, name, len);
	for (size_t i = 0; i < z->nnodes && i < 16; i++) {
		const struct zone_node *n = &z->nodes[i];
		len = make_name(data + size - tail, tail < 8 ? tail : 8, n->name, n->name_len,
				name);
		if (len)
			lookup_all(z, zs, name, len);
		/* the node's name with its first label replaced by "*" */
		if (n->labels > z->origin_labels) {
			size_t skip = 1 + (size_t)n->name[0];
			name[0] = 1;
			name[1] = '*';
			memcpy(name + 2, n->name + skip, n->name_len - skip);
			lookup_all(z, zs, name, n->name_len - skip + 2);
		}
	}
	zoneset_free(zs);
	return 0;
}
