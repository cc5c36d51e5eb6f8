/* Helpers shared by the fuzz harnesses: the entry points, quiet logs, the
 * source tree and the snapshot a harness loads from a config in it
 * (fuzz_dns, fuzz_http), and scratch files for the harnesses that feed a
 * loader a file (fuzz_config, fuzz_zone, fuzz_overrides). Header-only: each
 * harness is one program.
 *
 * Source tree: $GSLB_SRCDIR, else the FUZZ_SRCDIR compiled in, else found
 * from the binary's own location (tests/fuzz/ in an in-tree build).
 *
 * Scratch files: each process gets its own directory, made on first use
 * (mkdtemp under $TMPDIR, default /tmp) and removed at exit by the process
 * that made it. The replay main forks a child per input after
 * LLVMFuzzerInitialize: a child makes its own directory, so a child's exit
 * never removes its parent's. The directory holds links to the source
 * tree's zones/, geoip/, tests/ and tests/data/ (as data/), at its top and
 * in its etc/ subfolder, so a config written to etc/ finds the files that
 * etc/gslb.conf ("directory = ..") and the test configs name. */
#ifndef GSLB_FUZZ_UTIL_H
#define GSLB_FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "gslb/log.h"
#include "gslb/snapshot.h"

/* What libFuzzer (or replay_main.c) calls. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every LLVMFuzzerInitialize does first: logs quiet but for errors. */
static inline void fuzz_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERR);
}

static inline void fuzz_die(const char *harness, const char *what)
{
	fprintf(stderr, "%s: %s\n", harness, what);
	abort();
}

static inline int fuzz_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The source tree: the folder holding tests/fuzz/corpus. */
static inline const char *fuzz_srcdir(void)
{
	static char dir[PATH_MAX];
	static const char *const rel[] = { "/../..", "/../../..", "/.." };
	char probe[PATH_MAX + 32], exe[PATH_MAX];
	const char *env = getenv("GSLB_SRCDIR");
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	if (env && *env) {
		snprintf(probe, sizeof(probe), "%s/tests/fuzz", env);
		if (fuzz_is_dir(probe) && strlen(env) < sizeof(dir)) {
			snprintf(dir, sizeof(dir), "%s", env);
			return dir;
		}
	}
#ifdef FUZZ_SRCDIR
	snprintf(probe, sizeof(probe), "%s/tests/fuzz", FUZZ_SRCDIR);
	if (fuzz_is_dir(probe) && strlen(FUZZ_SRCDIR) < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%s", FUZZ_SRCDIR);
		return dir;
	}
#endif
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				char cand[PATH_MAX];
				if (snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]) >=
				    (int)sizeof(cand))
					continue;
				snprintf(probe, sizeof(probe), "%s/tests/fuzz/corpus", cand);
				if (fuzz_is_dir(probe) && realpath(cand, dir))
					return dir;
			}
		}
	}
	dir[0] = '\0';
	return NULL;
}

/* A file a harness reads: the path in $env when that is set, else rel in
 * the source tree. 1 when it is a regular file, its path in out. */
static inline int fuzz_find_file(const char *env, const char *rel, char *out, size_t cap)
{
	const char *v = getenv(env);
	const char *src;
	struct stat st;

	if (v && *v) {
		if ((size_t)snprintf(out, cap, "%s", v) >= cap)
			return 0;
	} else {
		src = fuzz_srcdir();
		if (!src || (size_t)snprintf(out, cap, "%s/%s", src, rel) >= cap)
			return 0;
	}
	return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

/* The snapshot of the config fuzz_find_file(env, rel) finds; exits 2
 * saying why when there is none or it does not load. */
static inline struct snapshot *fuzz_load_snapshot(const char *harness, const char *env,
						  const char *rel)
{
	char path[PATH_MAX], err[512] = "";
	struct snapshot *s = NULL;

	if (!fuzz_find_file(env, rel, path, sizeof(path))) {
		fprintf(stderr,
			"%s: cannot find %s; set GSLB_SRCDIR to the source tree or %s to "
			"the file\n",
			harness, rel, env);
		exit(2);
	}
	if (snapshot_load(path, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", harness, path, err);
		exit(2);
	}
	return s;
}

static struct {
	pid_t pid;          /* the process that made dir */
	char dir[PATH_MAX]; /* "" until made */
	int atexit_set;
} fuzz_tmp;

static inline void fuzz_rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d)) != NULL) {
			char sub[PATH_MAX];
			struct stat st;

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >=
			    (int)sizeof(sub))
				continue;
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				fuzz_rmtree(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static inline void fuzz_tmp_cleanup(void)
{
	if (fuzz_tmp.dir[0] && fuzz_tmp.pid == getpid())
		fuzz_rmtree(fuzz_tmp.dir);
	fuzz_tmp.dir[0] = '\0';
}

static inline void fuzz_links(const char *harness, const char *in, const char *src)
{
	static const char *const links[][2] = {
		{ "zones", "zones" },
		{ "geoip", "geoip" },
		{ "tests", "tests" },
		{ "data", "tests/data" },
	};
	char from[PATH_MAX + 16], to[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (snprintf(from, sizeof(from), "%s/%s", in, links[i][0]) >= (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s", src, links[i][1]) >= (int)sizeof(to) ||
		    symlink(to, from) != 0)
			fuzz_die(harness, "cannot link the source tree into the scratch folder");
	}
}

/* This process's scratch folder (made on first call). */
static inline const char *fuzz_tmpdir(const char *harness)
{
	const char *base = getenv("TMPDIR");
	const char *src;
	char sub[PATH_MAX + 8];

	if (fuzz_tmp.dir[0] && fuzz_tmp.pid == getpid())
		return fuzz_tmp.dir;
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(fuzz_tmp.dir, sizeof(fuzz_tmp.dir), "%s/%s.XXXXXX", base, harness) >=
	    (int)sizeof(fuzz_tmp.dir))
		fuzz_die(harness, "TMPDIR too long");
	if (!mkdtemp(fuzz_tmp.dir)) {
		fuzz_tmp.dir[0] = '\0';
		fuzz_die(harness, "cannot make a scratch folder (mkdtemp)");
	}
	fuzz_tmp.pid = getpid();
	if (!fuzz_tmp.atexit_set) {
		atexit(fuzz_tmp_cleanup);
		fuzz_tmp.atexit_set = 1;
	}
	snprintf(sub, sizeof(sub), "%s/etc", fuzz_tmp.dir);
	if (mkdir(sub, 0700) != 0)
		fuzz_die(harness, "cannot make the scratch etc/ folder");
	src = fuzz_srcdir();
	if (src) {
		fuzz_links(harness, fuzz_tmp.dir, src);
		fuzz_links(harness, sub, src);
	}
	return fuzz_tmp.dir;
}

/* Write data to name inside the scratch folder; the path goes to out. */
static inline void fuzz_write(const char *harness, const char *name, const uint8_t *data,
			      size_t size, char *out, size_t cap)
{
	int fd;
	size_t done = 0;

	if (snprintf(out, cap, "%s/%s", fuzz_tmpdir(harness), name) >= (int)cap)
		fuzz_die(harness, "scratch path too long");
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fuzz_die(harness, "cannot write the scratch file");
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fuzz_die(harness, "short write to the scratch file");
		done += (size_t)n;
	}
	if (close(fd) != 0)
		fuzz_die(harness, "cannot close the scratch file");
}

/* FUZZ_VERBOSE=1: each load's outcome on stderr (to see what seeds reach). */
static inline void fuzz_verbose(const char *harness, int rc, const char *err)
{
	static int v = -1;

	if (v < 0) {
		const char *e = getenv("FUZZ_VERBOSE");
		v = e && *e && strcmp(e, "0") != 0;
	}
	if (v)
		fprintf(stderr, "%s: rc=%d %s\n", harness, rc, rc ? err : "loaded");
}

/* The error text of a loader: non-empty, NUL-terminated within cap, and,
 * when it names this file, "FILE:LINE: reason" or "FILE: reason". */
static inline void fuzz_check_err(const char *harness, const char *path, const char *err,
				  size_t cap, int need_line)
{
	size_t plen = strlen(path);
	const char *p;

	if (memchr(err, '\0', cap) == NULL)
		fuzz_die(harness, "error message not terminated");
	if (!err[0])
		fuzz_die(harness, "failure without an error message");
	if (strncmp(err, path, plen) != 0)
		return; /* another file (an @include, a zone file): its own name */
	p = err + plen;
	if (*p != ':')
		fuzz_die(harness, "error message: no ':' after the file name");
	p++;
	if (*p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != ':')
			fuzz_die(harness, "error message: no ':' after the line number");
		p++;
	} else if (need_line) {
		fuzz_die(harness, "error message without a line number");
	}
	if (*p != ' ' || !p[1])
		fuzz_die(harness, "error message without a reason");
}

#endif
