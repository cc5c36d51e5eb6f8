/* Unit tests: name parsing (compression, loops, limits) and name helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/dname.h"

static void test_parse_plain_and_compressed(void **state)
{
	(void)state;
	/* offset 0: "\3www\7example\3com\0", offset 17: "\4mail" + ptr to 4 */
	const uint8_t msg[] = { 3,   'w', 'w', 'w', 7,	 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				3,   'c', 'o', 'm', 0,	 4,   'm', 'a', 'i', 'l', 0xC0, 4 };
	uint8_t out[DNAME_MAXLEN];
	struct wire w;
	wire_init(&w, msg, sizeof(msg));
	assert_int_equal(dname_parse(&w, out), 17);
	assert_memory_equal(out, msg, 17);
	assert_int_equal(w.pos, 17);
	size_t l = dname_parse(&w, out);
	assert_int_equal(l, 5 + 13);
	assert_memory_equal(out, "\4mail\7example\3com", 18);
	assert_int_equal(w.pos, sizeof(msg)); /* advanced past the pointer only */
}

static void test_parse_rejects_loops_and_forward_pointers(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	struct wire w;
	const uint8_t self[] = { 0xC0, 0x00 };
	wire_init(&w, self, sizeof(self));
	assert_int_equal(dname_parse(&w, out), 0);
	assert_false(wire_ok(&w));

	const uint8_t fwd[] = { 0xC0, 0x02, 1, 'a', 0 };
	wire_init(&w, fwd, sizeof(fwd));
	assert_int_equal(dname_parse(&w, out), 0);

	/* name at 2 points back into itself: "\1a" then ptr to 2 */
	const uint8_t loop[] = { 0, 0, 1, 'a', 0xC0, 0x02 };
	wire_init(&w, loop, sizeof(loop));
	wire_seek(&w, 2);
	assert_int_equal(dname_parse(&w, out), 0);

	const uint8_t trunc[] = { 5, 'a', 'b' };
	wire_init(&w, trunc, sizeof(trunc));
	assert_int_equal(dname_parse(&w, out), 0);

	const uint8_t badlabel[] = { 0x40, 0 };
	wire_init(&w, badlabel, sizeof(badlabel));
	assert_int_equal(dname_parse(&w, out), 0);
}

static void test_parse_rejects_overlong(void **state)
{
	(void)state;
	uint8_t msg[300];
	size_t p = 0;
	for (int i = 0; i < 5; i++) { /* 5 * 64 = 320 > 255 */
		msg[p++] = 63;
		memset(msg + p, 'x', 63);
		p += 63;
		if (p > 250)
			break;
	}
	msg[p++] = 0;
	uint8_t out[DNAME_MAXLEN];
	struct wire w;
	wire_init(&w, msg, p);
	assert_int_equal(dname_parse(&w, out), 0);
}

static void test_text_round_trip(void **state)
{
	(void)state;
	uint8_t n[DNAME_MAXLEN];
	char txt[1024];
	size_t l = dname_from_str("WWW.Example.COM.", n);
	assert_int_equal(l, 17);
	assert_memory_equal(n, "\3www\7example\3com", 17);
	dname_to_str(n, txt, sizeof(txt));
	assert_string_equal(txt, "www.example.com.");
	assert_int_equal(dname_from_str("example.com", n), 13);
	assert_int_equal(dname_from_str(".", n), 1);
	dname_to_str(n, txt, sizeof(txt));
	assert_string_equal(txt, ".");
	assert_int_equal(dname_from_str("a..b", n), 0);
	assert_int_equal(dname_from_str("a\\.b.c", n), 7);
	dname_to_str(n, txt, sizeof(txt));
	assert_string_equal(txt, "a\\.b.c.");
	assert_int_equal(dname_from_str("\\000x.y", n), 6);
	dname_to_str(n, txt, sizeof(txt));
	assert_string_equal(txt, "\\000x.y.");
}

static void test_subdomain_and_equal(void **state)
{
	(void)state;
	uint8_t a[DNAME_MAXLEN], b[DNAME_MAXLEN], c[DNAME_MAXLEN];
	size_t la = dname_from_str("www.example.com", a);
	size_t lb = dname_from_str("example.com", b);
	size_t lc = dname_from_str("ample.com", c);
	assert_true(dname_is_sub(a, la, b, lb));
	assert_true(dname_is_sub(b, lb, b, lb));
	assert_false(dname_is_sub(b, lb, a, la));
	assert_false(dname_is_sub(b, lb, c, lc)); /* not on a label boundary */
	const uint8_t upper[] = "\3WWW\7EXAMPLE\3COM";
	assert_true(dname_equal(a, upper));
	assert_false(dname_equal(a, b));
	uint8_t offs[DNAME_MAXLABELS];
	assert_int_equal(dname_labels(a, offs), 3);
	assert_int_equal(offs[1], 4);
	assert_int_equal(dname_hash(a, la), dname_hash(a, la));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain_and_compressed),
		cmocka_unit_test(test_parse_rejects_loops_and_forward_pointers),
		cmocka_unit_test(test_parse_rejects_overlong),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_subdomain_and_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
