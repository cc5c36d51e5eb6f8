/* Unit tests: serve_query(), the one query path of UDP and TCP (ACL,
 * dns_process, counters, RRL), on snapshots loaded from real config files
 * and the unit test zone, with a real metrics shard and RRL table. Table
 * driven: each case says the config, the client, the transport and what
 * must come out. */
#include <arpa/inet.h>
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
#include <urcu/urcu-memb.h>

#include "gslb/dns.h"
#include "gslb/metrics.h"
#include "gslb/rrl.h"
#include "gslb/serve.h"
#include "gslb/snapshot.h"

/* The config bodies the cases run under (after listen and zones). */
enum conf_kind {
	CONF_OPEN,   /* no acl, no rrl */
	CONF_REFUSE, /* acl deny 192.0.2.0/24, 2001:db8::/32 (action refuse) */
	CONF_DROP,   /* the same, action drop */
	CONF_ALLOW,  /* acl allow 198.51.100.0/24 only */
	CONF_RRL,    /* rrl one response a second, every limited one truncated */
	CONF_N,
};

static const char *const conf_body[CONF_N] = {
	[CONF_OPEN] = "",
	[CONF_REFUSE] = "acl = { deny = [ \"192.0.2.0/24\", \"2001:db8::/32\" ]; };",
	[CONF_DROP] = "acl = { deny = [ \"192.0.2.0/24\", \"2001:db8::/32\" ]; "
		      "action = \"drop\"; };",
	[CONF_ALLOW] = "acl = { allow = [ \"198.51.100.0/24\" ]; };",
	[CONF_RRL] = "rrl = { responses_per_second = 1; slip = 1; };",
};

struct fixture {
	struct snapshot *snap[CONF_N];
	struct metrics *metrics;
	struct rrl *rrl;
	char dir[64];
};

static int load_conf(struct fixture *f, enum conf_kind k)
{
	char path[128], err[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/gslb%d.conf", f->dir, (int)k);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp,
		"directory = \"%s/unit\";\n"
		"listen = { dns = [ \"127.0.0.1:0\" ]; };\n"
		"zones = ( { origin = \"unit.test\"; file = \"unit.test.zone\"; } );\n"
		"%s\n",
		TEST_DATADIR, conf_body[k]);
	fclose(fp);
	if (snapshot_load(path, &f->snap[k], err, sizeof(err)) != 0) {
		fprintf(stderr, "test_serve: %s\n", err);
		return -1;
	}
	unlink(path);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_serve.XXXXXX",
		 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	for (int k = 0; k < CONF_N; k++)
		if (load_conf(f, (enum conf_kind)k) != 0)
			return -1;
	rmdir(f->dir);
	f->metrics = metrics_new();
	f->rrl = rrl_new();
	if (f->metrics == NULL || f->rrl == NULL)
		return -1;
	urcu_memb_register_thread();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	urcu_memb_unregister_thread();
	for (int k = 0; k < CONF_N; k++)
		snapshot_free(f->snap[k]);
	metrics_free(f->metrics);
	rrl_free(f->rrl);
	free(f);
	return 0;
}

/* "www.unit.test. A", ID 0x4242, RD, with an EDNS OPT (4096, no options). */
static size_t make_query(uint8_t *q)
{
	static const uint8_t wire[] = {
		0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, /* header: QD 1, AR 1 */
		3, 'w', 'w', 'w', 4, 'u', 'n', 'i', 't', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0, /* OPT */
	};
	memcpy(q, wire, sizeof(wire));
	return sizeof(wire);
}

static socklen_t make_peer(struct sockaddr_storage *ss, const char *addr)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(40000);
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(40000);
	assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	return sizeof(*s4);
}

/* What one query must come out as. */
struct expect {
	enum serve_action action;
	int reply;    /* a reply is sent */
	int rcode;    /* its rcode */
	int answers;  /* its ANCOUNT */
	int tc;       /* its TC bit */
	int has_opt;  /* its ARCOUNT is 1 (the OPT record) */
	int refused;  /* acl_refused counted */
	int dropped;  /* acl_dropped counted */
	int answered; /* counted as a query of the transport */
	int slipped;  /* rrl_slipped counted */
};

struct serve_case {
	const char *name;
	enum conf_kind conf;
	const char *peer;
	enum dns_transport transport;
	int repeat; /* the query is asked this many times; the last is checked */
	struct expect want;
};

#define SENT_OK(n) { SERVE_SEND, 1, 0, n, 0, 1, 0, 0, 1, 0 }
#define SENT_REFUSED { SERVE_SEND, 1, 5, 0, 0, 1, 1, 0, 0, 0 }
#define ACL_DROPPED { SERVE_DROP, 0, 0, 0, 0, 0, 0, 1, 0, 0 }
#define RRL_SLIPPED { SERVE_SEND, 1, 0, 0, 1, 1, 0, 0, 1, 1 }

static const struct serve_case cases[] = {
	{ "open udp", CONF_OPEN, "192.0.2.5", DNS_UDP, 1, SENT_OK(2) },
	{ "open tcp", CONF_OPEN, "2001:db8::5", DNS_TCP, 1, SENT_OK(2) },
	{ "deny refuses udp", CONF_REFUSE, "192.0.2.5", DNS_UDP, 1, SENT_REFUSED },
	{ "deny refuses tcp", CONF_REFUSE, "2001:db8::5", DNS_TCP, 1, SENT_REFUSED },
	{ "deny passes others udp", CONF_REFUSE, "198.51.100.5", DNS_UDP, 1, SENT_OK(2) },
	{ "deny passes others tcp", CONF_REFUSE, "2001:db9::5", DNS_TCP, 1, SENT_OK(2) },
	{ "drop udp", CONF_DROP, "192.0.2.5", DNS_UDP, 1, ACL_DROPPED },
	{ "drop tcp", CONF_DROP, "2001:db8::5", DNS_TCP, 1, ACL_DROPPED },
	{ "allow list passes udp", CONF_ALLOW, "198.51.100.9", DNS_UDP, 1, SENT_OK(2) },
	{ "allow list refuses tcp", CONF_ALLOW, "203.0.113.9", DNS_TCP, 1, SENT_REFUSED },
	{ "rrl first udp answer sent", CONF_RRL, "203.0.113.1", DNS_UDP, 1, SENT_OK(2) },
	/* Each RRL case from its own /24: the table is shared by the cases. */
	{ "rrl second udp answer slips", CONF_RRL, "198.51.100.2", DNS_UDP, 2, RRL_SLIPPED },
	{ "rrl never limits tcp", CONF_RRL, "192.0.2.3", DNS_TCP, 5, SENT_OK(2) },
};

static uint64_t queries_of(const struct metrics_shard *ms, enum metrics_transport t)
{
	uint64_t n = 0;
	for (size_t i = 0; i < METRICS_QTYPES * METRICS_RCODES; i++)
		n += metrics_get(ms, MDNS_QUERIES, (size_t)t * METRICS_QTYPES * METRICS_RCODES + i);
	return n;
}

static void run_case(struct fixture *f, const struct serve_case *tc)
{
	struct serve_thread t = { metrics_shard_new(f->metrics, &metrics_dns_set), 7 };
	struct sockaddr_storage peer;
	socklen_t peer_len = make_peer(&peer, tc->peer);
	uint8_t q[64], r[4096] = { 0 };
	size_t len = 0;
	enum serve_action action = SERVE_SEND;
	enum metrics_transport mt = tc->transport == DNS_UDP ? MT_UDP : MT_TCP;
	const struct expect *w = &tc->want;

	assert_non_null(t.ms);
	for (int i = 0; i < tc->repeat; i++) {
		struct dns_request req = {
			.query = q,
			.query_len = make_query(q),
			.resp = r,
			.resp_cap = sizeof(r),
			.transport = tc->transport,
			.peer = (const struct sockaddr *)&peer,
			.peer_len = peer_len,
			.entropy = serve_rng_next(&t.rng),
		};
		len = serve_query(&f->snap[tc->conf], f->rrl, &t, &req, 1000, &action);
	}
	print_message("case: %s\n", tc->name);
	assert_int_equal(action, w->action);
	assert_int_equal(len > 0, w->reply);
	if (w->reply) {
		assert_true(len >= DNS_HEADER_LEN);
		assert_int_equal(r[0] << 8 | r[1], 0x4242);
		assert_true(r[2] & 0x80); /* QR */
		assert_int_equal(r[3] & 0x0F, w->rcode);
		assert_int_equal((r[2] & 0x02) != 0, w->tc);
		assert_int_equal(r[6] << 8 | r[7], w->answers);
		assert_int_equal(r[10] << 8 | r[11], w->has_opt);
	}
	assert_int_equal(metrics_get(t.ms, MDNS_ACL, MACL_REFUSE), (uint64_t)w->refused);
	assert_int_equal(metrics_get(t.ms, MDNS_ACL, MACL_DROP), (uint64_t)w->dropped);
	assert_int_equal(queries_of(t.ms, mt), (uint64_t)(w->answered ? tc->repeat : 0));
	assert_int_equal(queries_of(t.ms, mt == MT_UDP ? MT_TCP : MT_UDP), 0);
	assert_int_equal(metrics_get(t.ms, MDNS_RRL, MRRL_SLIP), (uint64_t)w->slipped);
	assert_int_equal(metrics_get(t.ms, MDNS_RRL, MRRL_DROP), 0);
}

static void test_serve_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(*state, &cases[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_cases),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
