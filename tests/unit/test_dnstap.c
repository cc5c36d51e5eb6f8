/* Unit tests: dnstap's extra field (the decision behind an answer), and
 * the accounting of messages: with no collector every message logged is
 * counted exactly once, as sent or dropped, through the real fstrm I/O
 * thread and the metrics registry. The system tests (test_dnstap.py) read
 * the messages with fstrm_capture and dnstap-ldns. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gslb/config.h"
#include "gslb/decide.h"
#include "gslb/dns.h"
#include "gslb/dnstap.h"
#include "gslb/metrics.h"
#include "gslb/service.h"
#include "gslb/snapshot.h"

static struct region regions[2] = { { .name = "eu-central" }, { .name = "us-east" } };
static struct conf conf = { .regions = regions, .nregions = 2 };
static struct snapshot snap = { .conf = &conf };
static struct service svc = { .name = "www.example.com" };
static struct route route = { .text = "continent:EU" };

static void test_extra(void **state)
{
	(void)state;
	char buf[256];
	struct dns_info info = { .service = &svc, .region = 0, .rule = RULE_ROUTE,
				 .route = &route, .scope = 24 };

	assert_int_equal(dnstap_extra(&snap, &info, buf, sizeof(buf)),
			 strlen("svc=www.example.com region=eu-central rule=continent:EU scope=24"));
	assert_string_equal(buf, "svc=www.example.com region=eu-central rule=continent:EU scope=24");

	info.rule = RULE_DISTANCE;
	info.route = NULL;
	info.region = 1;
	info.scope = 0;
	dnstap_extra(&snap, &info, buf, sizeof(buf));
	assert_string_equal(buf, "svc=www.example.com region=us-east rule=distance scope=0");

	info.rule = RULE_CONFIG;
	info.region = -1;
	info.all_down = 1;
	dnstap_extra(&snap, &info, buf, sizeof(buf));
	assert_string_equal(buf, "svc=www.example.com region=none rule=config scope=0 all_down=1");

	/* zone data: no decision, no extra */
	struct dns_info plain = { .region = -1 };
	assert_int_equal(dnstap_extra(&snap, &plain, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* turned away by the ACL */
	dnstap_extra(&snap, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "acl=denied");

	/* cut, always terminated */
	info.rule = RULE_DEFAULT;
	assert_int_equal(dnstap_extra(&snap, &info, buf, 9), 8);
	assert_string_equal(buf, "svc=www.");
	assert_int_equal(dnstap_extra(&snap, &info, buf, 0), 0);
}

/* The value of a sample line of the exposition text, -1 when absent. */
static long long sample(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	if (p == NULL)
		return -1;
	return atoll(p + strlen(key) + 1);
}

static void test_every_message_counted_once(void **state)
{
	(void)state;
	char dir[] = "/tmp/gslb-dnstap-XXXXXX";
	char path[64], err[256] = "";
	struct dnstap_conf c = { .enabled = 1, .log_queries = 1, .log_responses = 1,
				 .identity = "ns1", .version = "v", .sample = 1 };
	struct dnstap *d = NULL;
	struct metrics *m = metrics_new();
	uint8_t query[64] = { 0x12, 0x34, 0, 0, 0, 1 }, resp[64] = { 0x12, 0x34, 0x84 };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5353) };
	struct dns_request req = { .query = query, .query_len = sizeof(query), .resp = resp,
				   .resp_cap = sizeof(resp), .transport = DNS_UDP,
				   .peer = (const struct sockaddr *)&peer,
				   .peer_len = sizeof(peer) };
	struct dns_info info = { .service = &svc, .region = 0, .rule = RULE_DISTANCE };
	const int n = 20000;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nobody.sock", dir);
	c.socket = path;
	assert_non_null(m);
	assert_int_equal(metrics_register(m, &dnstap_metric_set), 0);
	assert_int_equal(dnstap_new(&c, 2, &d, err, sizeof(err)), 0);
	for (int i = 0; i < n; i++)
		dnstap_log(d, &snap, &req, sizeof(resp), &info);
	dnstap_unref(d); /* flushes: the counts are final */

	char *text = metrics_render(m, NULL);
	assert_non_null(text);
	long long sent = sample(text, "gslb_dnstap_sent_total");
	long long full = sample(text, "gslb_dnstap_dropped_total{reason=\"queue_full\"}");
	long long gone = sample(text, "gslb_dnstap_dropped_total{reason=\"no_collector\"}");
	assert_int_equal(sent, 0);
	assert_true(gone > 0);
	assert_int_equal(sent + full + gone, 2 * n);
	free(text);
	metrics_free(m);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extra),
		cmocka_unit_test(test_every_message_counted_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
