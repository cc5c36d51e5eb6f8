/* libFuzzer harness for the config loader, conf_load().
 *
 * The input is a gslb.conf (libconfig syntax). It is written to etc/fuzz.conf
 * in this process's scratch folder (tests/fuzz/fuzz_util.h), which links the
 * source tree's zones/, geoip/, tests/ and tests/data/ (as data/) both at its
 * top and in etc/, so that the seeds' relative paths ("directory = ..", the
 * per-region @include example, the badconf files with @DATADIR@ replaced by "data")
 * name files that exist and the loader goes past its file checks.
 *
 * Besides the sanitizers (and LeakSanitizer: conf_free must release all a
 * load made, and a failed load must leave nothing behind), each result is
 * checked: success gives a config and an empty error; failure gives no
 * config, a negative gslb_err and a non-empty message that, when it names
 * this file, has the "FILE:LINE: reason" form ("FILE: reason" for what no
 * line holds: a missing section, I/O). A violation aborts, so libFuzzer
 * keeps the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/config.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "fuzz_util.h"

#define HARNESS "fuzz_config"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	if (!fuzz_srcdir())
		fprintf(stderr, HARNESS ": source tree not found (set GSLB_SRCDIR): "
					"relative paths in the inputs name nothing\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX];
	char err[1024];
	struct conf *c = (struct conf *)(uintptr_t)1;
	int rc;

	/* Configs are small; a megabyte of text only makes runs slow. */
	if (size > 64 * 1024)
		return 0;
	fuzz_write(HARNESS, "etc/fuzz.conf", data, size, path, sizeof(path));
	memset(err, 'X', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	rc = conf_load(path, &c, err, sizeof(err));
	fuzz_verbose(HARNESS, rc, err);
	if (rc == 0) {
		if (!c)
			fuzz_die(HARNESS, "success without a config");
		if (err[0])
			fuzz_die(HARNESS, "success with an error message");
		if (!c->path || strcmp(c->path, path) != 0)
			fuzz_die(HARNESS, "config path differs from the file loaded");
		if (c->workers == 0)
			fuzz_die(HARNESS, "workers left 0 (must resolve to the CPU count)");
		conf_free(c);
		return 0;
	}
	if (rc > 0)
		fuzz_die(HARNESS, "positive return code");
	if (c)
		fuzz_die(HARNESS, "failure left *out set");
	/* "FILE: reason" for what no line holds (a missing section) */
	fuzz_check_err(HARNESS, path, err, sizeof(err), 0);
	return 0;
}
