/* Unit tests: the network side's pure helpers. The client network that
 * tcp.max_per_ip and http.max_per_ip count (cidr_sockaddr_ip, cidr_same_net):
 * IPv6 /64s and IPv4 /24s, partial bytes, IPv4-mapped peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "gslb/cidrset.h"

static int ip_of(const char *text, uint8_t addr[16])
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return cidr_sockaddr_ip((const struct sockaddr *)&ss, addr);
}

static int same(const char *a, const char *b, unsigned prefix)
{
	uint8_t x[16], y[16];
	int fa = ip_of(a, x), fb = ip_of(b, y);

	assert_int_equal(fa, fb);
	return cidr_same_net(x, y, prefix);
}

static void test_sockaddr_ip(void **state)
{
	uint8_t a[16], want[16] = { 192, 0, 2, 7 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	(void)state;
	assert_int_equal(ip_of("192.0.2.7", a), AF_INET);
	assert_memory_equal(a, want, 16);
	/* an IPv4-mapped peer (a dual-stack socket) is the IPv4 address */
	assert_int_equal(ip_of("::ffff:192.0.2.7", a), AF_INET);
	assert_memory_equal(a, want, 16);
	assert_int_equal(ip_of("2001:db8::1", a), AF_INET6);
	assert_int_equal(a[0], 0x20);
	assert_int_equal(cidr_sockaddr_ip((const struct sockaddr *)&un, a), 0);
	assert_int_equal(cidr_sockaddr_ip(NULL, a), 0);
}

static void test_same_net_ipv6_64(void **state)
{
	(void)state;
	/* one /64: any interface identifier */
	assert_true(same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 64));
	assert_true(same("2001:db8:1:2:a::", "2001:db8:1:2:b::", 64));
	assert_false(same("2001:db8:1:2::1", "2001:db8:1:3::1", 64));
	/* 128: the address itself */
	assert_false(same("2001:db8:1:2::1", "2001:db8:1:2::2", 128));
	assert_true(same("2001:db8:1:2::1", "2001:db8:1:2::1", 128));
	/* a prefix inside a byte */
	assert_true(same("2001:db8:1:20::", "2001:db8:1:2f::", 60));
	assert_false(same("2001:db8:1:20::", "2001:db8:1:30::", 60));
}

static void test_same_net_ipv4(void **state)
{
	(void)state;
	assert_true(same("198.51.100.1", "198.51.100.254", 24));
	assert_false(same("198.51.100.1", "198.51.101.1", 24));
	assert_false(same("198.51.100.1", "198.51.100.2", 32));
	assert_true(same("198.51.100.16", "198.51.100.31", 28));
	assert_false(same("198.51.100.16", "198.51.100.32", 28));
	assert_true(same("10.0.0.1", "10.255.255.255", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sockaddr_ip),
		cmocka_unit_test(test_same_net_ipv6_64),
		cmocka_unit_test(test_same_net_ipv4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
