/* Unit tests: the cluster view's arithmetic (cluster.h): the down votes a
 * quorum needs among the live probing nodes, for each quorum form and
 * each count of probers; rendezvous hashing for probe_share: the same
 * answer for the same names in any order, k of n nodes per member,
 * members spread evenly, and a node that leaves moves only its members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/cluster.h"
#include "gslb/err.h"
#include "gslb/health.h"

static void test_quorum_needed(void **state)
{
	(void)state;
	/* majority: more than half */
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_MAJORITY, 0, 1), 1);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_MAJORITY, 0, 2), 2);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_MAJORITY, 0, 3), 2);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_MAJORITY, 0, 4), 3);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_MAJORITY, 0, 5), 3);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_ANY, 0, 5), 1);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_ALL, 0, 5), 5);
	/* a count, capped at the live probers */
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_COUNT, 2, 3), 2);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_COUNT, 2, 1), 1);
	assert_int_equal(cluster_quorum_needed(CLUSTER_QUORUM_COUNT, 5, 3), 3);
	/* no live prober: nothing is down by vote */
	for (int mode = 0; mode <= CLUSTER_QUORUM_COUNT; mode++) {
		assert_int_equal(cluster_quorum_needed(mode, 2, 0), 0);
		assert_false(cluster_member_down(mode, 2, 0, 0));
	}
}

static void test_member_down(void **state)
{
	(void)state;
	/* quorum 2 of 3: one node seeing it down moves nobody; two do */
	assert_false(cluster_member_down(CLUSTER_QUORUM_COUNT, 2, 3, 0));
	assert_false(cluster_member_down(CLUSTER_QUORUM_COUNT, 2, 3, 1));
	assert_true(cluster_member_down(CLUSTER_QUORUM_COUNT, 2, 3, 2));
	assert_true(cluster_member_down(CLUSTER_QUORUM_COUNT, 2, 3, 3));
	/* a node whose lease expired stops counting: 2 live, quorum 2 */
	assert_false(cluster_member_down(CLUSTER_QUORUM_COUNT, 2, 2, 1));
	assert_true(cluster_member_down(CLUSTER_QUORUM_MAJORITY, 0, 3, 2));
	assert_false(cluster_member_down(CLUSTER_QUORUM_MAJORITY, 0, 4, 2));
	assert_true(cluster_member_down(CLUSTER_QUORUM_ANY, 0, 3, 1));
	assert_false(cluster_member_down(CLUSTER_QUORUM_ALL, 0, 3, 2));
	assert_true(cluster_member_down(CLUSTER_QUORUM_ALL, 0, 3, 3));
}

static const char *const nodes3[] = { "ns1-fra", "ns2-ams", "ns3-waw" };

static void test_probers_all(void **state)
{
	size_t out[3];

	(void)state;
	for (unsigned k = 0; k <= 4; k += (k == 0 ? 3 : 1)) {
		assert_int_equal(cluster_probers(nodes3, 3, "web/eu/192.0.2.1", k, out), 3);
		assert_int_equal(out[0], 0);
		assert_int_equal(out[1], 1);
		assert_int_equal(out[2], 2);
	}
	assert_true(cluster_probes(nodes3, 3, "ns2-ams", "x", 0));
}

static void test_probers_order_free(void **state)
{
	const char *const rev[] = { "ns3-waw", "ns2-ams", "ns1-fra" };
	char member[64];
	size_t a[3], b[3];

	(void)state;
	for (int i = 0; i < 200; i++) {
		snprintf(member, sizeof(member), "web/eu/192.0.2.%d", i);
		for (unsigned k = 1; k <= 2; k++) {
			assert_int_equal(cluster_probers(nodes3, 3, member, k, a), k);
			assert_int_equal(cluster_probers(rev, 3, member, k, b), k);
			for (unsigned j = 0; j < k; j++)
				assert_string_equal(nodes3[a[j]], rev[b[j]]);
			/* k distinct nodes */
			if (k == 2)
				assert_int_not_equal(a[0], a[1]);
			/* exactly k nodes say they probe it */
			assert_int_equal(cluster_probes(nodes3, 3, "ns1-fra", member, k) +
						 cluster_probes(nodes3, 3, "ns2-ams", member, k) +
						 cluster_probes(nodes3, 3, "ns3-waw", member, k),
					 k);
		}
	}
}

static void test_probers_spread_and_leave(void **state)
{
	const char *const two[] = { "ns1-fra", "ns3-waw" };
	unsigned count[3] = { 0 };
	unsigned moved = 0;
	char member[64];
	size_t a[3], b[2];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(member, sizeof(member), "svc%d/region%d/10.0.%d.%d", i % 7, i % 5, i / 256,
			 i % 256);
		cluster_probers(nodes3, 3, member, 1, a);
		count[a[0]]++;
		/* ns2-ams leaves: only its members move */
		cluster_probers(two, 2, member, 1, b);
		if (strcmp(nodes3[a[0]], "ns2-ams") != 0)
			assert_string_equal(nodes3[a[0]], two[b[0]]);
		else
			moved++;
	}
	for (int j = 0; j < 3; j++) {
		assert_true(count[j] > 850);
		assert_true(count[j] < 1150);
	}
	assert_int_equal(moved, count[1]);
}

static void test_verdict_keys(void **state)
{
	char key[128], node[32], small[20];
	const char *member = NULL;
	const unsigned char *v;

	(void)state;
	assert_int_equal(cluster_verdict_key(key, sizeof(key), "/gslb/prod/", "ns1-fra",
					     "www.example.test/eu/2001:db8::1"),
			 GSLB_OK);
	assert_string_equal(key, "/gslb/prod/verdicts/ns1-fra/www.example.test/eu/2001:db8::1");
	assert_int_equal(cluster_verdict_parse("/gslb/prod/", key, node, sizeof(node), &member),
			 GSLB_OK);
	assert_string_equal(node, "ns1-fra");
	assert_string_equal(member, "www.example.test/eu/2001:db8::1");
	/* too long for the buffer, a node with '/', empty parts */
	assert_int_equal(cluster_verdict_key(small, sizeof(small), "/gslb/prod/", "ns1", "m"),
			 GSLB_ERANGE);
	assert_int_equal(cluster_verdict_key(key, sizeof(key), "/p/", "a/b", "m"), GSLB_EINVAL);
	assert_int_equal(cluster_verdict_key(key, sizeof(key), "/p/", "", "m"), GSLB_EINVAL);
	assert_int_equal(cluster_verdict_key(key, sizeof(key), "/p/", "n", ""), GSLB_EINVAL);
	/* not verdict keys of this cluster */
	assert_int_equal(cluster_verdict_parse("/gslb/test/", key, node, sizeof(node), &member),
			 GSLB_EINVAL);
	assert_int_equal(cluster_verdict_parse("/p/", "/p/overrides/x", node, sizeof(node), &member),
			 GSLB_EINVAL);
	assert_int_equal(cluster_verdict_parse("/p/", "/p/verdicts/n", node, sizeof(node), &member),
			 GSLB_EINVAL);
	assert_int_equal(cluster_verdict_parse("/p/", "/p/verdicts//m", node, sizeof(node), &member),
			 GSLB_EINVAL);
	assert_int_equal(cluster_verdict_parse("/p/", "/p/verdicts/n/", node, sizeof(node), &member),
			 GSLB_EINVAL);
	assert_int_equal(cluster_verdict_parse("/p/", "/p/verdicts/a-very-long-node-name/m", node,
					       8, &member),
			 GSLB_EINVAL);
	v = (const unsigned char *)"down";
	assert_int_equal(cluster_verdict_value(v, 4), 1);
	assert_int_equal(cluster_verdict_value((const unsigned char *)"up", 2), 0);
	assert_int_equal(cluster_verdict_value(v, 3), -1);
	assert_int_equal(cluster_verdict_value((const unsigned char *)"", 0), -1);
	/* the JSON the nodes write; fields beyond state are ignored */
	v = (const unsigned char *)"{\"state\":\"down\",\"since\":1,\"reason\":\"HTTP 503\"}";
	assert_int_equal(cluster_verdict_value(v, strlen((const char *)v)), 1);
	v = (const unsigned char *)"{\"state\":\"up\",\"later\":[1,2]}";
	assert_int_equal(cluster_verdict_value(v, strlen((const char *)v)), 0);
	v = (const unsigned char *)"{\"state\":\"maybe\"}";
	assert_int_equal(cluster_verdict_value(v, strlen((const char *)v)), -1);
	v = (const unsigned char *)"{\"state\":";
	assert_int_equal(cluster_verdict_value(v, strlen((const char *)v)), -1);
}

static int ov(const char *v, struct override *o)
{
	const char *why = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = cluster_override_value((const unsigned char *)v, strlen(v), o, &why);
	assert_true(rc == GSLB_OK ? why == NULL : why != NULL);
	return rc;
}

/* Values from etcd are untrusted: every type and range is checked. */
static void test_untrusted_values(void **state)
{
	static const char *const bad[] = {
		"garbage", "", "{", "[]", "7", "\"drain\"", "null", "{\"state\":7}",
		"{\"state\":null}", "{\"state\":\"clear\"}", "{\"state\":\"undrain\"}",
		"{\"state\":\"DRAIN\"}", "{\"state\":[\"drain\"]}", "{}",
		"{\"state\":\"drain\",\"since\":\"x\"}", "{\"state\":\"drain\",\"since\":-1}",
		"{\"state\":\"drain\",\"start\":1.5}", "{\"state\":\"drain\",\"end\":-5}",
		"{\"state\":\"drain\",\"start\":20,\"end\":10}",
		"{\"state\":\"drain\",\"start\":20,\"end\":20}", "{\"state\":\"drain\",\"node\":1}",
	};
	struct override o;
	const char *why;
	long ttl;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ov(bad[i], &o), GSLB_EINVAL);
		assert_int_equal(o.state, 0);
	}
	assert_int_equal(ov("{\"state\":\"drain\"}", &o), GSLB_OK);
	assert_int_equal(o.state, OVERRIDE_DRAIN);
	assert_int_equal(ov("{\"state\":\"force-down\",\"since\":5,\"start\":10,\"end\":20,"
			    "\"node\":\"n1\",\"later\":{}}",
			    &o),
			 GSLB_OK);
	assert_int_equal(o.state, OVERRIDE_FORCE_DOWN);
	assert_int_equal(o.since, 5);
	assert_int_equal(o.start, 10);
	assert_int_equal(o.end, 20);
	assert_int_equal(ov("{\"state\":\"force-up\",\"end\":20}", &o), GSLB_OK);
	assert_int_equal(o.state, OVERRIDE_FORCE_UP);

	why = NULL;
	assert_int_equal(cluster_node_value((const unsigned char *)"{\"ttl\":10}", 10, &why), 10);
	assert_null(why);
	assert_int_equal(cluster_node_value((const unsigned char *)"garbage", 7, &why), -1);
	assert_non_null(why);
	assert_int_equal(cluster_node_value((const unsigned char *)"{\"ttl\":\"10\"}", 12, &why),
			 -1);
	assert_int_equal(cluster_node_value((const unsigned char *)"{\"ttl\":0}", 9, &why), -1);
	ttl = cluster_node_value((const unsigned char *)"{\"ttl\":99999999999}", 19, &why);
	assert_int_equal(ttl, -1);

	assert_true(cluster_node_name_ok("ns1.example-a_b"));
	assert_false(cluster_node_name_ok(""));
	assert_false(cluster_node_name_ok("a/b"));
	assert_false(cluster_node_name_ok("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quorum_needed),
		cmocka_unit_test(test_member_down),
		cmocka_unit_test(test_probers_all),
		cmocka_unit_test(test_probers_order_free),
		cmocka_unit_test(test_probers_spread_and_leave),
		cmocka_unit_test(test_verdict_keys),
		cmocka_unit_test(test_untrusted_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
