/* Running with as little privilege as the job allows: root only until every
 * socket is bound, then the configured user and group; no new privileges
 * through execve either way. */
#ifndef GSLB_PRIVS_H
#define GSLB_PRIVS_H

#include <sys/types.h>

struct conf;

/* Look a user or group up by name (thread-safe: reloads run on a pool
 * thread). Returns 0, GSLB_ENOENT when there is no such name, or
 * GSLB_ESYS/GSLB_ENOMEM. primary_gid may be NULL. */
int privs_lookup_user(const char *name, uid_t *uid, gid_t *primary_gid);
int privs_lookup_group(const char *name, gid_t *gid);

/* Before any thread starts: PR_SET_NO_NEW_PRIVS (inherited by every thread
 * created later), and create c->state_dir (and its parents) if it does not
 * exist yet, owned by the configured user when running as root. */
void privs_prepare(const struct conf *c);

/* After the last socket is bound, before any thread starts: switch to
 * c->user and c->group
 * (setgroups, setgid, setuid, for every thread), or warn when still root
 * without a user configured. Warns when state_dir is not writable
 * afterwards. Returns 0 or GSLB_ESYS (logged): a daemon told to drop root
 * that cannot must not go on as root. */
int privs_drop(const struct conf *c);

/* On reload: user and group are applied at start only; say so when they
 * changed. */
void privs_reload_check(const struct conf *running, const struct conf *loaded);

#endif
