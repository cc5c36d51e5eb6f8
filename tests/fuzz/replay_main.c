/* Replays fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so
 * that `make check` runs every seed corpus with the ordinary compiler (and
 * under the sanitizers or valgrind when the build uses them).
 *
 * Usage: replay FILE-OR-DIR...  Each file is one input; a directory stands for
 * the regular files in it, in name order. Each input runs in a child process,
 * so one crash names its file and the others still run. REPLAY_NOFORK=1 runs
 * them all in this process instead (for a debugger). Exits 0 only when every
 * input ran cleanly. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not DNS messages worth replaying. */
#define REPLAY_MAX_INPUT (1u << 20)

struct tally {
	unsigned passed;
	unsigned failed;
	int nofork;
};

static int read_file(const char *path, uint8_t **out, size_t *outlen)
{
	FILE *f = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = -1;

	f = fopen(path, "rb");
	if (!f)
		goto out;
	buf = malloc(REPLAY_MAX_INPUT + 1);
	if (!buf)
		goto out;
	n = fread(buf, 1, REPLAY_MAX_INPUT + 1, f);
	if (ferror(f) || n > REPLAY_MAX_INPUT)
		goto out;
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	/* Hand over an exact-size copy so that reads past the end are caught. */
	*out = malloc(n ? n : 1);
	if (!*out) {
		free(buf);
		return -1;
	}
	memcpy(*out, buf, n);
	free(buf);
	*outlen = n;
	return 0;
}

static int run_input(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (read_file(path, &data, &len)) {
		fprintf(stderr, "replay: %s: cannot read: %s\n", path, strerror(errno));
		return 1;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static void replay_one(const char *path, struct tally *t)
{
	pid_t pid;
	int status;

	if (t->nofork) {
		if (run_input(path))
			t->failed++;
		else
			t->passed++;
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "replay: fork: %s\n", strerror(errno));
		t->failed++;
		return;
	}
	if (pid == 0)
		exit(run_input(path)); /* exit, not _exit: LeakSanitizer runs at exit */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "replay: waitpid: %s\n", strerror(errno));
			t->failed++;
			return;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		t->passed++;
		return;
	}
	t->failed++;
	if (WIFSIGNALED(status))
		fprintf(stderr, "replay: FAIL %s (signal %d)\n", path, WTERMSIG(status));
	else
		fprintf(stderr, "replay: FAIL %s (exit %d)\n", path, WEXITSTATUS(status));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(const char *dir, struct tally *t)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, i;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		t->failed++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		int len;

		if (e->d_name[0] == '.')
			continue;
		len = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (len < 0 || (size_t)len >= sizeof(path))
			continue;
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof(*names));

			if (!nn)
				break;
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(path);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		replay_one(names[i], t);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	struct tally t = { 0, 0, 0 };
	const char *nofork = getenv("REPLAY_NOFORK");
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	t.nofork = nofork && *nofork && strcmp(nofork, "0") != 0;
	/* Load the shared state once, before any fork, as libFuzzer does. */
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			t.failed++;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			replay_dir(argv[i], &t);
		else
			replay_one(argv[i], &t);
	}
	printf("replay: %u passed, %u failed\n", t.passed, t.failed);
	return t.failed || !t.passed ? 1 : 0;
}
