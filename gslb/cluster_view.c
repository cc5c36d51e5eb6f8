/* The cluster view's arithmetic: quorum over the live probing nodes and
 * rendezvous hashing for probe_share (cluster.h). No I/O, no state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gslb/cluster.h"
#include "gslb/err.h"
#include "gslb/health.h"
#include "gslb/siphash.h"

unsigned cluster_quorum_needed(int mode, unsigned count, unsigned probers)
{
	if (probers == 0)
		return 0;
	switch (mode) {
	case CLUSTER_QUORUM_ANY:
		return 1;
	case CLUSTER_QUORUM_ALL:
		return probers;
	case CLUSTER_QUORUM_COUNT:
		return count == 0 ? 1 : (count < probers ? count : probers);
	default:
		return probers / 2 + 1;
	}
}

int cluster_member_down(int mode, unsigned count, unsigned probers, unsigned down_votes)
{
	unsigned need = cluster_quorum_needed(mode, count, probers);

	return need > 0 && down_votes >= need;
}

/* Every node must score alike: a fixed key, not a random one. */
static const uint8_t rendezvous_key[SIPHASH_KEY_LEN] = { 'g', 's', 'l', 'b', '-', 'r', 'e', 'n',
							 'd', 'e', 'z', 'v', 'o', 'u', 's', '1' };

static uint64_t score(const char *node, const char *member)
{
	size_t ln = strlen(node), lm = strlen(member);
	char stack[256];
	char *buf = ln + lm + 1 <= sizeof(stack) ? stack : malloc(ln + lm + 1);
	uint64_t h;

	if (!buf)
		return 0;
	memcpy(buf, node, ln);
	buf[ln] = '\0'; /* "ab"+"c" and "a"+"bc" score apart */
	memcpy(buf + ln + 1, member, lm);
	h = siphash24(rendezvous_key, buf, ln + lm + 1);
	if (buf != stack)
		free(buf);
	return h;
}

size_t cluster_probers(const char *const *nodes, size_t n, const char *member, unsigned k,
		       size_t *out)
{
	size_t m = k == 0 || k >= n ? n : k;

	if (m == n) {
		for (size_t i = 0; i < n; i++)
			out[i] = i;
		return n;
	}
	/* Selection of the m best scores (n is a cluster's size: tens). Ties
	 * (equal 64-bit hashes) go to the smaller name. */
	for (size_t j = 0; j < m; j++) {
		size_t best = n;
		uint64_t bs = 0;

		for (size_t i = 0; i < n; i++) {
			int taken = 0;
			uint64_t si;

			for (size_t t = 0; t < j && !taken; t++)
				taken = out[t] == i;
			if (taken)
				continue;
			si = score(nodes[i], member);
			if (best == n || si > bs ||
			    (si == bs && strcmp(nodes[i], nodes[best]) < 0)) {
				best = i;
				bs = si;
			}
		}
		out[j] = best;
	}
	return m;
}

int cluster_probes(const char *const *nodes, size_t n, const char *self, const char *member,
		   unsigned k)
{
	size_t *out = calloc(n ? n : 1, sizeof(*out));
	size_t m;
	int yes = 0;

	if (!out)
		return 1; /* probing too much beats a member nobody probes */
	m = cluster_probers(nodes, n, member, k, out);
	for (size_t i = 0; i < m && !yes; i++)
		yes = strcmp(nodes[out[i]], self) == 0;
	free(out);
	return yes;
}

#define VERDICTS "verdicts/"

int cluster_verdict_key(char *buf, size_t len, const char *prefix, const char *node,
			const char *member)
{
	int n;

	if (!*node || !*member || strchr(node, '/'))
		return GSLB_EINVAL;
	n = snprintf(buf, len, "%s" VERDICTS "%s/%s", prefix, node, member);
	return n < 0 || (size_t)n >= len ? GSLB_ERANGE : GSLB_OK;
}

int cluster_verdict_parse(const char *prefix, const char *key, char *node, size_t nodelen,
			  const char **member)
{
	size_t lp = strlen(prefix), lv = strlen(VERDICTS);
	const char *p, *slash;

	if (strncmp(key, prefix, lp) != 0 || strncmp(key + lp, VERDICTS, lv) != 0)
		return GSLB_EINVAL;
	p = key + lp + lv;
	slash = strchr(p, '/');
	if (!slash || slash == p || slash[1] == '\0' || (size_t)(slash - p) >= nodelen)
		return GSLB_EINVAL;
	memcpy(node, p, (size_t)(slash - p));
	node[slash - p] = '\0';
	*member = slash + 1;
	return GSLB_OK;
}

int cluster_verdict_value(const unsigned char *v, size_t len)
{
	json_t *j;
	const char *s;
	int d = -1;

	if (len == 4 && memcmp(v, "down", 4) == 0)
		return 1;
	if (len == 2 && memcmp(v, "up", 2) == 0)
		return 0;
	j = json_loadb((const char *)v, len, 0, NULL);
	s = json_string_value(json_object_get(j, "state"));
	if (s && strcmp(s, "down") == 0)
		d = 1;
	else if (s && strcmp(s, "up") == 0)
		d = 0;
	json_decref(j);
	return d;
}

int cluster_node_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return 0;
	}
	return 1;
}

long cluster_node_value(const unsigned char *v, size_t len, const char **why)
{
	json_t *j = json_loadb((const char *)v, len, 0, NULL);
	json_t *t = json_object_get(j, "ttl");
	long ttl = -1;

	if (!json_is_object(j))
		*why = "not a JSON object";
	else if (!json_is_integer(t))
		*why = "\"ttl\" is not an integer";
	else if (json_integer_value(t) < 2 || json_integer_value(t) > 300)
		*why = "\"ttl\" is not in 2..300";
	else
		ttl = (long)json_integer_value(t);
	json_decref(j);
	return ttl;
}

/* An optional time field: absent = 0; else an integer >= 0. */
static int time_field(const json_t *j, const char *name, int64_t *out)
{
	const json_t *t = json_object_get(j, name);

	*out = 0;
	if (!t)
		return GSLB_OK;
	if (!json_is_integer(t) || json_integer_value(t) < 0)
		return GSLB_EINVAL;
	*out = (int64_t)json_integer_value(t);
	return GSLB_OK;
}

int cluster_override_value(const unsigned char *v, size_t len, struct override *o, const char **why)
{
	json_t *j = json_loadb((const char *)v, len, 0, NULL);
	const char *state = json_string_value(json_object_get(j, "state"));
	const json_t *node = json_object_get(j, "node");
	int64_t since, start, end;
	uint8_t st = OVERRIDE_NONE;
	int rc = GSLB_EINVAL;

	if (!json_is_object(j))
		*why = "not a JSON object";
	else if (!state || admin_action_parse(state, &st) != GSLB_OK || st == OVERRIDE_NONE)
		*why = "\"state\" is not \"drain\", \"force-up\" or \"force-down\"";
	else if (time_field(j, "since", &since) || time_field(j, "start", &start) ||
		 time_field(j, "end", &end))
		*why = "\"since\", \"start\" or \"end\" is not a unix time";
	else if (end != 0 && end <= start)
		*why = "\"end\" is not after \"start\"";
	else if (node && !json_is_string(node))
		*why = "\"node\" is not a string";
	else {
		o->state = st;
		o->since = since;
		o->start = start;
		o->end = end;
		rc = GSLB_OK;
	}
	json_decref(j);
	return rc;
}
