/* Unit tests: the peeks the query path makes before a transfer or a signed
 * query (xfr.h) over whatever bytes a client sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/xfr.h"

/* www.example.test A, header ids and flags 0, with the counts given */
static size_t query(uint8_t *b, uint16_t qtype, uint16_t ar)
{
	static const uint8_t name[] = "\3www\7example\4test";
	memset(b, 0, 12);
	b[5] = 1;
	b[11] = (uint8_t)ar;
	memcpy(b + 12, name, sizeof(name));
	size_t p = 12 + sizeof(name);
	b[p++] = (uint8_t)(qtype >> 8);
	b[p++] = (uint8_t)qtype;
	b[p++] = 0;
	b[p++] = 1;
	return p;
}

static size_t add_opt(uint8_t *b, size_t p)
{
	static const uint8_t opt[] = { 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0 };
	memcpy(b + p, opt, sizeof(opt));
	return p + sizeof(opt);
}

/* A TSIG record whose owner is a pointer to the question name. */
static size_t add_tsig(uint8_t *b, size_t p)
{
	static const uint8_t rr[] = { 0xC0, 12, 0, 250, 0, 255, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4 };
	memcpy(b + p, rr, sizeof(rr));
	return p + sizeof(rr);
}

static void test_tsig_start(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t n = query(b, 1, 0);
	assert_int_equal(xfr_tsig_start(b, n), 0);
	n = query(b, 1, 1);
	n = add_opt(b, n);
	assert_int_equal(xfr_tsig_start(b, n), 0); /* OPT only */
	n = query(b, 1, 2);
	size_t at = add_opt(b, n);
	n = add_tsig(b, at);
	assert_int_equal(xfr_tsig_start(b, n), at);
	/* TSIG not last: not a signed query here (FORMERR later) */
	n = query(b, 1, 2);
	n = add_opt(b, add_tsig(b, n));
	assert_int_equal(xfr_tsig_start(b, n), 0);
}

static void test_tsig_start_any_cut_is_safe(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t n = query(b, 1, 2);
	n = add_tsig(b, add_opt(b, n));
	for (size_t len = 0; len < n; len++)
		assert_int_equal(xfr_tsig_start(b, len), 0);
	/* counts far above what is there */
	b[10] = 0xFF;
	assert_int_equal(xfr_tsig_start(b, n), 0);
	/* a label running past the end */
	n = query(b, 1, 1);
	b[12] = 63;
	assert_int_equal(xfr_tsig_start(b, n), 0);
}

static void test_is_transfer(void **state)
{
	(void)state;
	uint8_t b[512];
	assert_true(xfr_is_transfer(b, query(b, 252, 0)));
	assert_true(xfr_is_transfer(b, query(b, 251, 0)));
	assert_false(xfr_is_transfer(b, query(b, 1, 0)));
	size_t n = query(b, 252, 0);
	b[2] = 0x80; /* a response */
	assert_false(xfr_is_transfer(b, n));
	n = query(b, 252, 0);
	b[2] = 0x28; /* opcode UPDATE */
	assert_false(xfr_is_transfer(b, n));
	n = query(b, 252, 0);
	for (size_t len = 0; len < n; len++)
		assert_false(xfr_is_transfer(b, len));
	b[12] = 0xC0; /* a pointer in the question: not ours to follow */
	assert_false(xfr_is_transfer(b, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsig_start),
		cmocka_unit_test(test_tsig_start_any_cut_is_safe),
		cmocka_unit_test(test_is_transfer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
