/* Unit tests of the metrics registry: families declared in a table, counted
 * through shards, rendered once as Prometheus text. Each case renders a
 * registry and compares the text of its own families to the letter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gslb/metrics.h"

enum { F_PLAIN, F_PAIRS, F_GAUGE, F_HIST, F_CHECKS };

static const char *const colours[] = { "red", "blue" };
static const char *const sizes[] = { "s", "l" };
static const double bounds[] = { 0.1, 1.0 };

static const struct metric_family cell_families[] = {
	[F_PLAIN] = { .name = "t_plain_total", .help = "Plain.", .type = METRIC_COUNTER },
	[F_PAIRS] = { .name = "t_pairs_total",
		      .help = "Pairs.",
		      .type = METRIC_COUNTER,
		      .flags = METRIC_NONZERO,
		      .labels = { METRIC_ENUM("colour", colours), METRIC_ENUM("size", sizes) } },
	[F_GAUGE] = { .name = "t_gauge", .help = "A gauge.", .type = METRIC_GAUGE },
	[F_HIST] = { .name = "t_seconds",
		     .help = "Times.",
		     .type = METRIC_HISTOGRAM,
		     .labels = { METRIC_ENUM("colour", colours) },
		     .bounds = bounds,
		     .nbounds = 2 },
	[F_CHECKS] = { .name = "t_checks_total",
		       .help = "By check.",
		       .type = METRIC_COUNTER,
		       .labels = { { .kind = ML_CHECK }, METRIC_ENUM("size", sizes) } },
};

static const struct metric_set cells = METRIC_SET(cell_families);

static int given(struct metrics_out *o, const struct snapshot *snap)
{
	(void)snap;
	const char *lv[] = { "a\"b\\c\nd", "x" };
	metrics_sample(o, lv, -3);
	return 1;
}

static int empty(struct metrics_out *o, const struct snapshot *snap)
{
	(void)o;
	(void)snap;
	return 1;
}

static int absent(struct metrics_out *o, const struct snapshot *snap)
{
	(void)o;
	(void)snap;
	return 0;
}

static const struct metric_family collect_families[] = {
	{ .name = "t_given",
	  .help = "Given.",
	  .type = METRIC_GAUGE,
	  .labels = { METRIC_GIVEN("k"), METRIC_GIVEN("v") },
	  .collect = given },
	{ .name = "t_empty", .help = "Empty.", .type = METRIC_GAUGE, .collect = empty },
	{ .name = "t_absent", .help = "Absent.", .type = METRIC_GAUGE, .collect = absent },
};

static const struct metric_set collected = METRIC_SET(collect_families);

/* The lines of /metrics from "# HELP name " to the next family. */
static char *family_text(const char *all, const char *name)
{
	char head[128];
	snprintf(head, sizeof(head), "# HELP %s ", name);
	const char *at = strstr(all, head);
	if (!at)
		return NULL;
	const char *end = strstr(at + 1, "# HELP ");
	size_t n = end ? (size_t)(end - at) : strlen(at);
	char *out = malloc(n + 1);
	memcpy(out, at, n);
	out[n] = '\0';
	return out;
}

static void assert_family(const char *all, const char *name, const char *want)
{
	char *got = family_text(all, name);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_cells_summed_over_shards(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_shard *a = metrics_shard_new(m, &cells);
	struct metrics_shard *b = metrics_shard_new(m, &cells);
	assert_non_null(a);
	assert_non_null(b);
	metrics_inc(a, F_PLAIN, 0);
	metrics_add(b, F_PLAIN, 0, 41);
	metrics_inc(a, F_PAIRS, 1 * 2 + 0); /* blue, s */
	metrics_inc(b, F_PAIRS, 1 * 2 + 0);
	metrics_inc(b, F_PAIRS, 0 * 2 + 1); /* red, l */
	metrics_set(a, F_GAUGE, 0, 7);
	metrics_set(a, F_GAUGE, 0, 5);
	assert_int_equal(metrics_get(a, F_PLAIN, 0), 1);
	assert_int_equal(metrics_get(NULL, F_PLAIN, 0), 0);
	metrics_inc(NULL, F_PLAIN, 0); /* counting through NULL does nothing */

	char *text = metrics_render(m, NULL);
	assert_family(text, "t_plain_total",
		      "# HELP t_plain_total Plain.\n# TYPE t_plain_total counter\n"
		      "t_plain_total 42\n");
	assert_family(text, "t_pairs_total",
		      "# HELP t_pairs_total Pairs.\n# TYPE t_pairs_total counter\n"
		      "t_pairs_total{colour=\"red\",size=\"l\"} 1\n"
		      "t_pairs_total{colour=\"blue\",size=\"s\"} 2\n");
	assert_family(text, "t_gauge", "# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\nt_gauge 5\n");
	free(text);
	metrics_free(m);
}

static void test_histogram_buckets(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_shard *s = metrics_shard_new(m, &cells);
	metrics_observe(s, F_HIST, 1, 0.1);   /* on the bound: in it */
	metrics_observe(s, F_HIST, 1, 0.5);   /* le 1 */
	metrics_observe(s, F_HIST, 1, 30.0);  /* +Inf only */
	metrics_observe(s, F_HIST, 0, 0.002); /* red */

	char *text = metrics_render(m, NULL);
	assert_family(text, "t_seconds",
		      "# HELP t_seconds Times.\n# TYPE t_seconds histogram\n"
		      "t_seconds_bucket{colour=\"red\",le=\"0.1\"} 1\n"
		      "t_seconds_bucket{colour=\"red\",le=\"1\"} 1\n"
		      "t_seconds_bucket{colour=\"red\",le=\"+Inf\"} 1\n"
		      "t_seconds_sum{colour=\"red\"} 0.002000\n"
		      "t_seconds_count{colour=\"red\"} 1\n"
		      "t_seconds_bucket{colour=\"blue\",le=\"0.1\"} 1\n"
		      "t_seconds_bucket{colour=\"blue\",le=\"1\"} 2\n"
		      "t_seconds_bucket{colour=\"blue\",le=\"+Inf\"} 3\n"
		      "t_seconds_sum{colour=\"blue\"} 30.600000\n"
		      "t_seconds_count{colour=\"blue\"} 3\n");
	free(text);
	metrics_free(m);
}

static void test_check_slots(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_shard *s = metrics_shard_new(m, &cells);

	char *text = metrics_render(m, NULL); /* no check yet: no sample */
	assert_family(text, "t_checks_total",
		      "# HELP t_checks_total By check.\n# TYPE t_checks_total counter\n");
	free(text);

	int web = metrics_check_slot(m, "web"), dns = metrics_check_slot(m, "dns");
	assert_int_equal(web, 0);
	assert_int_equal(dns, 1);
	assert_int_equal(metrics_check_slot(m, "web"), web);
	metrics_inc(s, F_CHECKS, (size_t)dns * 2 + 1);
	text = metrics_render(m, NULL);
	assert_family(text, "t_checks_total",
		      "# HELP t_checks_total By check.\n# TYPE t_checks_total counter\n"
		      "t_checks_total{check=\"web\",size=\"s\"} 0\n"
		      "t_checks_total{check=\"web\",size=\"l\"} 0\n"
		      "t_checks_total{check=\"dns\",size=\"s\"} 0\n"
		      "t_checks_total{check=\"dns\",size=\"l\"} 1\n");
	free(text);

	char name[16];
	for (int i = 2; i < METRICS_SLOTS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(metrics_check_slot(m, name), i);
	}
	assert_int_equal(metrics_check_slot(m, "one-too-many"), -1);
	metrics_free(m);
}

static void test_collected_families(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	assert_int_equal(metrics_register(m, &collected), 0);
	assert_int_equal(metrics_register(m, &collected), 0); /* once */

	char *text = metrics_render(m, NULL);
	assert_family(text, "t_given",
		      "# HELP t_given Given.\n# TYPE t_given gauge\n"
		      "t_given{k=\"a\\\"b\\\\c\\nd\",v=\"x\"} -3\n");
	assert_family(text, "t_empty", "# HELP t_empty Empty.\n# TYPE t_empty gauge\n");
	assert_null(strstr(text, "t_absent"));
	/* in table order */
	assert_true(strstr(text, "# HELP t_given") < strstr(text, "# HELP t_empty"));
	free(text);
	metrics_free(m);
}

/* A set with cells shows once its module runs (has a shard). */
static void test_set_without_shard_hidden(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	assert_int_equal(metrics_register(m, &cells), 0);
	char *text = metrics_render(m, NULL);
	assert_null(strstr(text, "t_plain_total"));
	/* the registry's own families are there */
	assert_non_null(strstr(text, "\ngslb_reloads_total{result=\"success\"} 0\n"));
	free(text);

	metrics_reload(m, 1, 1700000000);
	metrics_reload(m, 0, 1800000000);
	assert_non_null(metrics_shard_new(m, &cells));
	text = metrics_render(m, NULL);
	assert_non_null(strstr(text, "\nt_plain_total 0\n"));
	assert_non_null(strstr(text, "\ngslb_reloads_total{result=\"success\"} 1\n"
				     "gslb_reloads_total{result=\"failure\"} 1\n"));
	assert_non_null(strstr(text, "\ngslb_reload_last_success_timestamp_seconds 1700000000\n"));
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells_summed_over_shards),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_check_slots),
		cmocka_unit_test(test_collected_families),
		cmocka_unit_test(test_set_without_shard_hidden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
