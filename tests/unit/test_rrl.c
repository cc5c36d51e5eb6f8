/* Unit tests: SipHash-2-4 against the paper's vectors, and the RRL table:
 * buckets that share a set cannot refill one another's balance. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/rrl.h"
#include "gslb/siphash.h"

/* Appendix A of the SipHash paper and the reference implementation's
 * vectors.h: key 00 01 .. 0f, message 00 01 .. len-1. */
static void test_siphash_reference_vectors(void **state)
{
	(void)state;
	static const struct {
		size_t len;
		uint64_t out;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ull },  { 1, 0x74f839c593dc67fdull },
		{ 7, 0xab0200f58b01d137ull },  { 8, 0x93f5f5799a932462ull },
		{ 15, 0xa129ca6149be45e5ull }, { 16, 0x3f2acc7f57c29bdbull },
		{ 17, 0x699ae9f52cbe4794ull }, { 63, 0x958a324ceb064572ull },
	};
	uint8_t key[SIPHASH_KEY_LEN], msg[64];
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(siphash24(key, msg, v[i].len), v[i].out);
}

static void test_random_keys_differ(void **state)
{
	(void)state;
	uint8_t a[SIPHASH_KEY_LEN], b[SIPHASH_KEY_LEN], zero[SIPHASH_KEY_LEN] = { 0 };
	assert_int_equal(siphash_random_key(a), 0);
	assert_int_equal(siphash_random_key(b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
}

/* www.example.com A, answered with one address. */
static const uint8_t reply[] = {
	0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm',
	'p',  'l',  'e',  3,	'c', 'o', 'm', 0, 0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0,
	0,    4,    192,  0,	2,   1,
};

static enum rrl_verdict ask(struct rrl *r, const struct rrl_conf *c, unsigned net, int64_t now)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0A000001u | (net << 8)); /* 10.0.net.1 */
	return rrl_check(r, c, (const struct sockaddr *)&sin, reply, sizeof(reply), NULL, now, 1);
}

/* One set of four buckets, nine client networks: every newcomer lands on
 * an entry another bucket holds. The flooded network's bucket must not get
 * a fresh balance from it, however the others interleave. */
static void test_collisions_give_no_fresh_balance(void **state)
{
	(void)state;
	const uint8_t key[SIPHASH_KEY_LEN] = "gslb-rrl-test-k";
	struct rrl *r = rrl_new_custom(0, key);
	struct rrl_conf c = { .rate = 5, .slip = 0, .window = 15, .ipv4_prefix = 24,
			      .ipv6_prefix = 56 };
	assert_non_null(r);
	int64_t t = 1000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(ask(r, &c, 0, t), RRL_SEND);
	assert_int_equal(ask(r, &c, 0, t), RRL_DROP);

	unsigned others = 0;
	for (int round = 0; round < 20; round++) {
		for (unsigned n = 1; n <= 8; n++)
			others += ask(r, &c, n, t) == RRL_SEND;
		assert_int_equal(ask(r, &c, 0, t), RRL_DROP);
	}
	/* The others got what the three other entries held, not 8 x 5. */
	assert_true(others <= 3 * 5);

	/* A second later the set has earned four entries' worth, no more,
	 * whoever asks. */
	t++;
	unsigned sent = 0;
	for (int round = 0; round < 10; round++) {
		for (unsigned n = 0; n <= 8; n++)
			sent += ask(r, &c, n, t) == RRL_SEND;
	}
	assert_true(sent <= 4 * 5);

	/* Quiet for longer than the window: every entry is full again, and a
	 * newcomer gets a whole second's worth, as without a collision. */
	t += 20;
	for (int i = 0; i < 5; i++)
		assert_int_equal(ask(r, &c, 9, t), RRL_SEND);
	assert_int_equal(ask(r, &c, 9, t), RRL_DROP);
	rrl_free(r);
}

/* Without collisions (the full table) buckets stay apart. */
static void test_buckets_apart(void **state)
{
	(void)state;
	struct rrl *r = rrl_new();
	struct rrl_conf c = { .rate = 3, .slip = 0, .window = 15, .ipv4_prefix = 24,
			      .ipv6_prefix = 56 };
	assert_non_null(r);
	for (unsigned n = 0; n < 50; n++) {
		for (int i = 0; i < 3; i++)
			assert_int_equal(ask(r, &c, n, 7), RRL_SEND);
		assert_int_equal(ask(r, &c, n, 7), RRL_DROP);
	}
	rrl_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_random_keys_differ),
		cmocka_unit_test(test_collisions_give_no_fresh_balance),
		cmocka_unit_test(test_buckets_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
