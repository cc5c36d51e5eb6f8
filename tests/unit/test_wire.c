/* Unit tests: the bounds-checked read cursor and the fixed write buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gslb/wire.h"

static void test_read_in_bounds(void **state)
{
	(void)state;
	const uint8_t b[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde };
	struct wire w;
	wire_init(&w, b, sizeof(b));
	assert_int_equal(wire_u8(&w), 0x12);
	assert_int_equal(wire_u16(&w), 0x3456);
	assert_int_equal(wire_u32(&w), 0x789abcde);
	assert_true(wire_ok(&w));
	assert_int_equal(wire_left(&w), 0);
}

static void test_read_past_end_is_sticky(void **state)
{
	(void)state;
	const uint8_t b[] = { 0x01, 0x02, 0x03 };
	struct wire w;
	wire_init(&w, b, sizeof(b));
	assert_int_equal(wire_u16(&w), 0x0102);
	assert_int_equal(wire_u16(&w), 0); /* only one byte left */
	assert_false(wire_ok(&w));
	/* Once failed, even an in-bounds read yields nothing. */
	assert_int_equal(wire_u8(&w), 0);
	assert_int_equal(wire_left(&w), 0);
	assert_null(wire_take(&w, 0));
}

static void test_take_and_seek(void **state)
{
	(void)state;
	const uint8_t b[] = { 1, 2, 3, 4 };
	struct wire w;
	wire_init(&w, b, sizeof(b));
	const uint8_t *p = wire_take(&w, 3);
	assert_ptr_equal(p, b);
	assert_null(wire_take(&w, 2));
	assert_false(wire_ok(&w));
	wire_init(&w, b, sizeof(b));
	wire_seek(&w, 4);
	assert_true(wire_ok(&w));
	wire_seek(&w, 5);
	assert_false(wire_ok(&w));
	uint8_t out[4] = { 9, 9, 9, 9 };
	wire_init(&w, b, 2);
	wire_read(&w, out, 4);
	assert_false(wire_ok(&w));
	assert_int_equal(out[0], 0); /* zero-filled on failure */
}

static void test_wbuf_never_grows(void **state)
{
	(void)state;
	uint8_t buf[5];
	struct wbuf b;
	wbuf_init(&b, buf, sizeof(buf));
	wbuf_u16(&b, 0xabcd);
	wbuf_u16(&b, 0x1234);
	assert_false(b.err);
	wbuf_u16(&b, 0x5678); /* needs 2, 1 left */
	assert_true(b.err);
	assert_int_equal(b.pos, 4);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(buf[3], 0x34);
	wbuf_init(&b, buf, sizeof(buf));
	wbuf_u32(&b, 0x01020304);
	wbuf_set_u16(&b, 1, 0xffee);
	assert_false(b.err);
	assert_int_equal(buf[1], 0xff);
	assert_int_equal(buf[2], 0xee);
	wbuf_set_u16(&b, 3, 1); /* beyond what was written */
	assert_true(b.err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_in_bounds),
		cmocka_unit_test(test_read_past_end_is_sticky),
		cmocka_unit_test(test_take_and_seek),
		cmocka_unit_test(test_wbuf_never_grows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
