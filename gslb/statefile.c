/* State files: written under a fresh name that nobody else can have
 * prepared (O_EXCL), never through a symlink (O_NOFOLLOW), then renamed
 * into place, so that a daemon started as root does not write where its
 * own user (or anyone who can write to state_dir) points it. */
#include "gslb/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gslb/err.h"
#include "gslb/log.h"

#define STATEFILE_PATH_MAX 4096
/* Names tried before giving up: each has 62^6 possible suffixes, so only
 * someone filling state_dir with guesses gets past the first. */
#define STATEFILE_TRIES 64
#define STATEFILE_SUFFIX 6

static void random_suffix(char out[STATEFILE_SUFFIX + 1])
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static uint64_t counter;
	unsigned char rnd[STATEFILE_SUFFIX];

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x =
			(uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 30) ^
			(__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull);
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(x >> (8 * i));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[i] = set[rnd[i] % (sizeof(set) - 1)];
	out[STATEFILE_SUFFIX] = '\0';
}

static int join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The rename reaches the disk with the directory. Best effort: the file
 * itself is complete either way. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int statefile_write(const char *dir, const char *name, statefile_fill fill, const void *arg)
{
	char path[STATEFILE_PATH_MAX], tmp[STATEFILE_PATH_MAX + 16], sfx[STATEFILE_SUFFIX + 1];
	int fd = -1, saved;

	if (join(path, sizeof(path), dir, name))
		return GSLB_EIO;
	for (int i = 0; i < STATEFILE_TRIES && fd < 0; i++) {
		random_suffix(sfx);
		snprintf(tmp, sizeof(tmp), "%s.tmp.%s", path, sfx);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			return GSLB_EIO;
	}
	if (fd < 0)
		return GSLB_EIO;
	FILE *fp = fdopen(fd, "w");
	if (!fp) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return GSLB_EIO;
	}
	int bad = fill(fp, arg) != 0 || ferror(fp);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		bad = 1;
	saved = errno;
	if (fclose(fp) != 0) {
		bad = 1;
		saved = errno;
	}
	if (!bad && rename(tmp, path) != 0) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		unlink(tmp);
		errno = saved ? saved : EIO;
		return GSLB_EIO;
	}
	sync_dir(dir);
	return GSLB_OK;
}

FILE *statefile_open(const char *dir, const char *name)
{
	char path[STATEFILE_PATH_MAX];
	struct stat st;
	FILE *fp;
	int fd;

	if (join(path, sizeof(path), dir, name))
		return NULL;
	/* O_NONBLOCK: a FIFO planted here must not hang the start. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP) {
			log_warn("state file is a symbolic link, not read file=%s", path);
			errno = ELOOP;
		}
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		log_warn("state file is not a regular file, not read file=%s", path);
		errno = EINVAL;
		return NULL;
	}
	fp = fdopen(fd, "r");
	if (!fp)
		close(fd);
	return fp;
}

int statefile_check_dir(const char *dir, uid_t uid, gid_t gid, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return GSLB_OK;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory", dir);
		return GSLB_EINVAL;
	}
	unsigned mode = (unsigned)(st.st_mode & 07777);
	if (mode & S_IWOTH) {
		snprintf(why, whylen,
			 "%s is writable by every user (mode %04o): anyone could replace gslbd's "
			 "state files; chmod o-w %s",
			 dir, mode, dir);
		return GSLB_EINVAL;
	}
	if ((mode & S_IWGRP) && st.st_gid != gid) {
		snprintf(why, whylen,
			 "%s is writable by its group (gid %ld), which is not gslbd's group "
			 "(gid %ld): chmod g-w %s, or give it gslbd's group",
			 dir, (long)st.st_gid, (long)gid, dir);
		return GSLB_EINVAL;
	}
	if (st.st_uid != uid && st.st_uid != 0)
		log_warn("state_dir belongs to another user, who can replace gslbd's state files "
			 "dir=%s owner_uid=%ld uid=%ld",
			 dir, (long)st.st_uid, (long)uid);
	return GSLB_OK;
}
