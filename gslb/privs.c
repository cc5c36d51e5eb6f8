/* Privilege drop. gslbd needs root (or CAP_NET_BIND_SERVICE) only to bind
 * port 53 and the admin and HTTP ports below 1024; everything after that
 * (answering, probing, reloading files, saving state) works as an ordinary
 * user. The drop comes before any thread starts (workers, prober, admin
 * and HTTP listeners, libuv's pool): nothing runs as root but the start-up
 * itself (binding, reading the configuration, zones, GeoIP data, TLS keys
 * and the state files). */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "gslb/config.h"
#include "gslb/err.h"
#include "gslb/log.h"
#include "gslb/privs.h"

/* getpwnam_r needs a buffer for the entry's strings; an NSS backend with
 * huge entries gets up to this much before we give up. */
#define PRIVS_BUF_MAX (1024 * 1024)

/* getpwnam_r and getgrnam_r with a buffer grown until the entry fits. */
struct privs_entry {
	int is_group;
	struct passwd pw;
	struct group gr;
};

static int privs_lookup(const char *name, struct privs_entry *e)
{
	size_t len = 4096;
	char *buf = NULL;
	void *res = NULL;
	int rc, err;

	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL) {
			rc = GSLB_ENOMEM;
			goto out;
		}
		buf = nbuf;
		if (e->is_group) {
			struct group *r = NULL;
			err = getgrnam_r(name, &e->gr, buf, len, &r);
			res = r;
		} else {
			struct passwd *r = NULL;
			err = getpwnam_r(name, &e->pw, buf, len, &r);
			res = r;
		}
		if (err != ERANGE || len >= PRIVS_BUF_MAX)
			break;
		len *= 2;
	}
	if (err != 0) {
		errno = err;
		rc = GSLB_ESYS;
	} else {
		rc = res ? GSLB_OK : GSLB_ENOENT;
	}
out:
	/* Only the numbers are used: the strings die with the buffer. */
	free(buf);
	return rc;
}

int privs_lookup_user(const char *name, uid_t *uid, gid_t *primary_gid)
{
	struct privs_entry e = { .is_group = 0 };
	int rc = privs_lookup(name, &e);

	if (rc == GSLB_OK) {
		*uid = e.pw.pw_uid;
		if (primary_gid)
			*primary_gid = e.pw.pw_gid;
	}
	return rc;
}

int privs_lookup_group(const char *name, gid_t *gid)
{
	struct privs_entry e = { .is_group = 1 };
	int rc = privs_lookup(name, &e);

	if (rc == GSLB_OK)
		*gid = e.gr.gr_gid;
	return rc;
}

/* mkdir -p: state_dir may name folders that do not exist yet. Returns 1
 * when path itself was created, 0 when it existed, -1 on error. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		buf[i] = '/';
	}
	if (mkdir(buf, mode) == 0)
		return 1;
	return errno == EEXIST ? 0 : -1;
}

void privs_prepare(const struct conf *c)
{
#if defined(__linux__) && defined(PR_SET_NO_NEW_PRIVS)
	/* Nothing gslbd runs should ever gain privileges through a setuid
	 * binary or file capabilities. Per thread, inherited by threads made
	 * later: hence before any thread exists. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		log_debug("cannot set no_new_privs error=\"%s\"", strerror(errno));
#endif
	if (c->state_dir == NULL)
		return;
	int made = mkdir_p(c->state_dir, 0750);
	if (made < 0) {
		log_err("cannot create state_dir, last-known state will not be kept dir=%s "
			"error=\"%s\"",
			c->state_dir, strerror(errno));
		return;
	}
	/* A directory we create is ours to give away; one that exists is the
	 * operator's, and privs_drop() only warns about it. */
	if (made == 0 || c->user == NULL || geteuid() != 0)
		return;
	if (chown(c->state_dir, c->uid, c->gid) != 0)
		log_warn("cannot give state_dir to the user dir=%s user=%s error=\"%s\"",
			 c->state_dir, c->user, strerror(errno));
}

/* Threads of this process (Linux: /proc/self/task), 0 if unknown. */
static unsigned privs_threads(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	for (struct dirent *e = readdir(d); e; e = readdir(d))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void check_state_dir(const struct conf *c)
{
	if (c->state_dir == NULL || access(c->state_dir, F_OK) != 0)
		return;
	if (access(c->state_dir, W_OK | X_OK) != 0)
		log_warn("state_dir is not writable, last-known health and overrides will not "
			 "be saved dir=%s uid=%ld error=\"%s\"",
			 c->state_dir, (long)geteuid(), strerror(errno));
}

int privs_drop(const struct conf *c)
{
	if (c->user == NULL) {
		if (geteuid() == 0)
			log_warn("running as root; set user and group to drop privileges");
		check_state_dir(c);
		return GSLB_OK;
	}
	if (geteuid() != 0) {
		/* Started as that user already (a service manager's User=):
		 * fine; as anyone else: the operator's intent cannot be met. */
		if (geteuid() == c->uid && getegid() == c->gid) {
			log_info("running as the configured user user=%s uid=%ld", c->user,
				 (long)c->uid);
			check_state_dir(c);
			return GSLB_OK;
		}
		log_err("cannot switch to the configured user without root user=%s uid=%ld "
			"running_uid=%ld",
			c->user, (long)c->uid, (long)geteuid());
		return GSLB_ESYS;
	}
	/* The drop comes before the first thread (see server_run): one
	 * started earlier would have run as root. */
	unsigned nthreads = privs_threads();
	if (nthreads > 1)
		log_warn("threads running before the privilege drop threads=%u", nthreads);
	/* Groups first: once the uid is not root, they cannot change. */
	if (setgroups(1, &c->gid) != 0 || setgid(c->gid) != 0) {
		log_err("cannot switch group group=%s gid=%ld error=\"%s\"",
			c->group ? c->group : c->user, (long)c->gid, strerror(errno));
		return GSLB_ESYS;
	}
	if (setuid(c->uid) != 0) {
		log_err("cannot switch user user=%s uid=%ld error=\"%s\"", c->user, (long)c->uid,
			strerror(errno));
		return GSLB_ESYS;
	}
	/* A drop that can be undone is no drop (uid 0 as the target, or a
	 * saved set-user-ID left behind). */
	if (c->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("privileges could be regained after the switch user=%s", c->user);
		return GSLB_ESYS;
	}
	log_info("dropped privileges user=%s uid=%ld group=%s gid=%ld", c->user, (long)c->uid,
		 c->group ? c->group : "(primary)", (long)c->gid);
	check_state_dir(c);
	return GSLB_OK;
}

static int str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

void privs_reload_check(const struct conf *running, const struct conf *loaded)
{
	if (str_differs(running->user, loaded->user) || str_differs(running->group, loaded->group))
		log_warn("user or group changed; they take effect at the next restart");
}
