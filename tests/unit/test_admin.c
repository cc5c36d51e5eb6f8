/* Unit tests: who the admin listener trusts with control requests, and
 * which Host headers it answers. The
 * system tests reach the listener over loopback only (and from a second
 * local address when the machine has one), so the address forms are
 * checked here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gslb/admin.h"

static int peer(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	}
	return admin_peer_is_loopback((const struct sockaddr *)&ss);
}

static void test_loopback_peers(void **state)
{
	(void)state;
	assert_true(peer("127.0.0.1"));
	assert_true(peer("127.255.255.254"));
	assert_true(peer("127.1.2.3"));
	assert_true(peer("::1"));
	/* an IPv4 loopback client of a dual-stack socket */
	assert_true(peer("::ffff:127.0.0.1"));
}

static void test_other_peers(void **state)
{
	(void)state;
	assert_false(peer("128.0.0.1"));
	assert_false(peer("126.255.255.255"));
	assert_false(peer("10.0.0.1"));
	assert_false(peer("192.0.2.2"));
	assert_false(peer("0.0.0.0"));
	assert_false(peer("::"));
	assert_false(peer("::2"));
	assert_false(peer("fe80::1"));
	assert_false(peer("::ffff:10.0.0.1"));
	/* IPv4-compatible (deprecated) form is not the loopback */
	assert_false(peer("::127.0.0.1"));
	assert_false(peer("2001:db8::127.0.0.1"));
}

static void test_no_address(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	assert_false(admin_peer_is_loopback(NULL));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(admin_peer_is_loopback((const struct sockaddr *)&ss));
}

/* The Host forms a browser may send to the listener (DNS rebinding). */
static void test_hosts(void **state)
{
	char *names[] = { "gslb-admin.example.net" };
	static const char *const ok[] = {
		"127.0.0.1",   "127.0.0.1:8053", "10.1.2.3:1",   "[::1]",
		"[::1]:8053",  "[2001:db8::1]",  "[::ffff:127.0.0.1]:80", "localhost",
		"LOCALHOST:9", "localhost.",     "gslb-admin.example.net", "Gslb-Admin.Example.Net.:8053",
	};
	static const char *const bad[] = {
		"",
		"evil.example",
		"evil.example:8053",
		"127.0.0.1.evil.example",
		"localhost.evil.example",
		"admin.example.net",
		"gslb-admin.example.net.evil",
		"127.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:123456",
		"127.0.0.1:80x",
		"127.0.0.1 ",
		"[::1",
		"[::1]x",
		"[::1]:",
		"[]",
		"[evil]",
		"::1",
		"[fe80::1%25eth0]",
		":80",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!admin_host_allowed(ok[i], names, 1))
			fail_msg("refused: \"%s\"", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (admin_host_allowed(bad[i], names, 1))
			fail_msg("allowed: \"%s\"", bad[i]);
	assert_false(admin_host_allowed(NULL, names, 1));
	assert_false(admin_host_allowed("gslb-admin.example.net", NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_peers),
		cmocka_unit_test(test_other_peers),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
