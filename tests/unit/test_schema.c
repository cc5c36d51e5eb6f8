/* Unit tests of the config schema engine (config_schema.c): ranges include
 * both ends, defaults land where the table says, an unknown key names the
 * key meant, required and late keys, and gslbd's own tables are well
 * formed. Settings are parsed by libconfig from text, as conf_load does. */
#include <math.h>
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
#include "gslb/config_schema.h"
#include "gslb/err.h"
#include "gslb/log.h"

struct sample {
	unsigned count;
	uint16_t port;
	double ratio;
	int flag;
	char *label;
	int mode;
	int late_seen_count; /* count when `late` was taken */
};

static int take_late(struct conf_ctx *ctx, const config_setting_t *s, void *base)
{
	struct sample *v = base;

	(void)ctx;
	(void)s;
	v->late_seen_count = (int)v->count;
	return GSLB_OK;
}

static const char *const modes[] = { "off", "on", "auto", NULL };

static const struct conf_item sample_items[] = {
	{ .name = "count", .type = CONF_INT, CONF_AT(struct sample, count), .i = { 3, 10, 5 } },
	{ .name = "port", .type = CONF_INT, CONF_AT(struct sample, port), .i = { 0, 65535, 53 } },
	{ .name = "ratio",
	  .type = CONF_FLOAT,
	  CONF_AT(struct sample, ratio),
	  .f = { -0.5, 2.5, 1.25 } },
	{ .name = "flag", .type = CONF_BOOL, CONF_AT(struct sample, flag), .i = { .dflt = 1 } },
	{ .name = "label",
	  .type = CONF_STRING,
	  .flags = CONF_REQUIRED,
	  CONF_AT(struct sample, label),
	  .maxlen = 8,
	  .hint = "label = \"x\";" },
	{ .name = "mode", .type = CONF_ENUM, CONF_AT(struct sample, mode), .names = modes, .i = { .dflt = 2 } },
	{ .name = "late", .type = CONF_BOOL, .flags = CONF_LATE, .fn = take_late },
	{ NULL },
};

static const struct conf_section sample_sec = {
	.path = "sample",
	.example = "{ label = \"x\"; }",
	.items = sample_items,
};

struct run {
	config_t cfg;
	struct conf conf;
	struct conf_ctx ctx;
	char err[512];
	struct sample v;
};

/* Parses "sample = { text };" (text on line 2) into r->v. */
static int parse(struct run *r, const char *text)
{
	char buf[1024];
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctx.path = "test.conf";
	r->ctx.err = r->err;
	r->ctx.errlen = sizeof(r->err);
	r->ctx.c = &r->conf;
	config_init(&r->cfg);
	snprintf(buf, sizeof(buf), "sample = {\n%s\n};\n", text);
	assert_int_equal(config_read_string(&r->cfg, buf), CONFIG_TRUE);
	rc = conf_parse_group(&r->ctx, config_lookup(&r->cfg, "sample"), &sample_sec, &r->v);
	free(r->v.label);
	r->v.label = NULL;
	config_destroy(&r->cfg);
	return rc;
}

static void test_int_range_inclusive(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(parse(&r, "label = \"a\"; count = 3;"), GSLB_OK);
	assert_int_equal(r.v.count, 3);
	assert_int_equal(parse(&r, "label = \"a\"; count = 10;"), GSLB_OK);
	assert_int_equal(r.v.count, 10);
	assert_int_equal(parse(&r, "label = \"a\"; count = 2;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.count: 2 is out of range (3 to 10)");
	assert_int_equal(parse(&r, "label = \"a\"; count = 11;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.count: 11 is out of range (3 to 10)");
	/* the whole field: 0 and 65535 fit a uint16_t */
	assert_int_equal(parse(&r, "label = \"a\"; port = 65535;"), GSLB_OK);
	assert_int_equal(r.v.port, 65535);
	assert_int_equal(parse(&r, "label = \"a\"; port = 0;"), GSLB_OK);
	assert_int_equal(r.v.port, 0);
	assert_int_equal(parse(&r, "label = \"a\"; port = 65536;"), GSLB_EINVAL);
	assert_int_equal(parse(&r, "label = \"a\"; count = 4.0;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.count: expected an integer, not a number");
}

static void test_float_range_inclusive(void **state)
{
	struct run r;
	char text[128];

	(void)state;
	assert_int_equal(parse(&r, "label = \"a\"; ratio = -0.5;"), GSLB_OK);
	assert_true(r.v.ratio == -0.5);
	assert_int_equal(parse(&r, "label = \"a\"; ratio = 2.5;"), GSLB_OK);
	assert_true(r.v.ratio == 2.5);
	/* an integer is a number too */
	assert_int_equal(parse(&r, "label = \"a\"; ratio = 2;"), GSLB_OK);
	assert_true(r.v.ratio == 2.0);
	/* the nearest numbers outside, and the message names the range as it is */
	snprintf(text, sizeof(text), "label = \"a\"; ratio = %.17g;", nextafter(-0.5, -1));
	assert_int_equal(parse(&r, text), GSLB_EINVAL);
	assert_non_null(strstr(r.err, "is out of range (-0.5 to 2.5)"));
	snprintf(text, sizeof(text), "label = \"a\"; ratio = %.17g;", nextafter(2.5, 3));
	assert_int_equal(parse(&r, text), GSLB_EINVAL);
	assert_non_null(strstr(r.err, "is out of range (-0.5 to 2.5)"));
	assert_int_equal(parse(&r, "label = \"a\"; ratio = 3.0;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.ratio: 3 is out of range (-0.5 to 2.5)");
}

static void test_defaults_applied(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(parse(&r, "label = \"a\";"), GSLB_OK);
	assert_int_equal(r.v.count, 5);
	assert_int_equal(r.v.port, 53);
	assert_true(r.v.ratio == 1.25);
	assert_int_equal(r.v.flag, 1);
	assert_int_equal(r.v.mode, 2);
	/* a value given replaces its default only */
	assert_int_equal(parse(&r, "label = \"a\"; flag = false; mode = \"on\";"), GSLB_OK);
	assert_int_equal(r.v.flag, 0);
	assert_int_equal(r.v.mode, 1);
	assert_int_equal(r.v.count, 5);
}

static void test_enum_names(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(parse(&r, "label = \"a\"; mode = \"sometimes\";"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.mode: \"sometimes\": off, on or auto");
}

static void test_unknown_key_suggestion(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(parse(&r, "label = \"a\";\ncuont = 4;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:3: sample.cuont: unknown setting, did you mean "
				   "\"count\"? (valid keys: count, port, ratio, flag, label, mode, "
				   "late)");
	assert_int_equal(parse(&r, "label = \"a\"; zzz = 4;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.zzz: unknown setting (valid keys: count, "
				   "port, ratio, flag, label, mode, late)");
	/* gslbd's own groups */
	assert_string_equal(conf_suggest(&conf_sec_tcp, "idle_timout")->name, "idle_timeout");
	assert_string_equal(conf_suggest(&conf_sec_tcp, "IDLE_TIMEOUT")->name, "idle_timeout");
	assert_string_equal(conf_suggest(&conf_sec_check, "intervall")->name, "interval");
	assert_string_equal(conf_suggest(&conf_sec_service, "tll")->name, "ttl");
	assert_null(conf_suggest(&conf_sec_tcp, "colour"));
	assert_null(conf_suggest(&conf_sec_tcp, "x"));
}

static void test_required_and_late(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(parse(&r, "count = 4;"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:1: sample: no label given (label = \"x\";)");
	assert_int_equal(parse(&r, "label = \"toolongtoo\";"), GSLB_EINVAL);
	assert_string_equal(r.err, "test.conf:2: sample.label: longer than 8 bytes");
	/* a late key is taken after the others, wherever it stands */
	assert_int_equal(parse(&r, "late = true; label = \"a\"; count = 7;"), GSLB_OK);
	assert_int_equal(r.v.late_seen_count, 7);
}

static void test_gslbd_tables_are_well_formed(void **state)
{
	char err[256] = "";
	static const struct conf_item bad_items[] = {
		{ .name = "n", .type = CONF_INT, CONF_AT(struct sample, count), .i = { 1, 9, 0 } },
		{ NULL },
	};
	static const struct conf_section bad = { .path = "bad", .example = "{ }", .items = bad_items };

	(void)state;
	assert_int_equal(conf_schema_check(&conf_sec_root, err, sizeof(err)), 0);
	assert_int_equal(conf_schema_check(&bad, err, sizeof(err)), -1);
	assert_string_equal(err, "bad.n: default out of range");
}

/* A real load: the defaults of groups not written land in struct conf. */
static void test_conf_load_defaults(void **state)
{
	char path[] = "/tmp/gslb-test-schema-XXXXXX";
	char err[512];
	struct conf *c = NULL;
	int fd = mkstemp(path);
	static const char text[] = "listen = { dns = [ \"127.0.0.1:0\" ]; };\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(conf_load(path, &c, err, sizeof(err)), GSLB_OK);
	unlink(path);
	assert_int_equal(c->edns_size, 1232);
	assert_true(c->tcp_idle_timeout == 10.0);
	assert_true(c->tcp_max_lifetime == 120.0);
	assert_int_equal(c->tcp_max_connections, 1024);
	assert_int_equal(c->tcp_max_per_ip, 64);
	assert_int_equal(c->tcp_ipv6_prefix, 64);
	assert_int_equal(c->http_max_connections, 1024);
	assert_int_equal(c->http_max_per_ip, 32);
	assert_int_equal(c->http_header_limit, 8192);
	assert_true(c->http_request_timeout == 10.0);
	assert_int_equal(c->log.level, LOG_LVL_INFO);
	/* rrl = { } absent: off */
	assert_int_equal(c->rrl.rate, 0);
	assert_true(c->workers >= 1);
	conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_range_inclusive),
		cmocka_unit_test(test_float_range_inclusive),
		cmocka_unit_test(test_defaults_applied),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_unknown_key_suggestion),
		cmocka_unit_test(test_required_and_late),
		cmocka_unit_test(test_gslbd_tables_are_well_formed),
		cmocka_unit_test(test_conf_load_defaults),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
