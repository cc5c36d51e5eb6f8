/* The GeoIP test databases for unit tests run alone (valgrind, a
 * debugger): tests/unit/test_geo.sh --make-dbs builds them from
 * tests/data/geoip/ into a temporary folder. Included by test_geo.c,
 * test_compact.c and test_decide.c; TEST_DATADIR must be defined. */
#ifndef GSLB_GEO_TEST_DBS_H
#define GSLB_GEO_TEST_DBS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char own_dir[256];

/* The source tree: GEO_TEST_SRCDIR, GSLB_SRCDIR, else from TEST_DATADIR. */
static const char *test_srcdir(void)
{
	const char *s = getenv("GEO_TEST_SRCDIR");
	if (!s)
		s = getenv("GSLB_SRCDIR");
	return s ? s : TEST_DATADIR "/../..";
}

static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Builds the databases into own_dir; returns test_geo.sh's exit code (77:
 * MaxMind::DB::Writer missing), 99 when no folder could be made. who names
 * the program in messages. */
static int make_own_dbs(const char *who)
{
	char script[1024];
	snprintf(script, sizeof(script), "%s/tests/unit/test_geo.sh", test_srcdir());
	snprintf(own_dir, sizeof(own_dir), "%s/gslb-%s.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", who);
	if (!mkdtemp(own_dir)) {
		fprintf(stderr, "%s: mkdtemp: %s\n", who, strerror(errno));
		own_dir[0] = '\0';
		return 99;
	}
	char *argv[] = { "sh", script, "--make-dbs", own_dir, NULL };
	int rc = run(argv);
	if (rc)
		fprintf(stderr, "%s: %s --make-dbs failed (%d)\n", who, script, rc);
	return rc;
}

static void remove_own_dbs(void)
{
	if (own_dir[0]) {
		char *argv[] = { "rm", "-rf", own_dir, NULL };
		run(argv);
	}
}

/* The folder of the test databases: GEO_TEST_DIR (test_geo.sh built them),
 * else own_dir with the databases built now. NULL when they could not be
 * built, with *rc the exit code for the program: 77 (skipped) or 99. */
static const char *geo_test_dir(const char *who, int *rc)
{
	const char *dir = getenv("GEO_TEST_DIR");
	int r;

	if (dir)
		return dir;
	r = make_own_dbs(who);
	if (r) {
		remove_own_dbs();
		*rc = r == 77 ? 77 : 99;
		return NULL;
	}
	return own_dir;
}

#endif
