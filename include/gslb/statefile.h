/* Files in state_dir (health.state, overrides.state): the one way gslbd
 * writes and reads them. state_dir may be writable by the daemon's user
 * while the daemon starts as root, so nothing here follows a symlink or
 * opens a name someone else may have created. */
#ifndef GSLB_STATEFILE_H
#define GSLB_STATEFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Writes the content of one state file. Returns 0, or nonzero when it
 * could not (the file is then not replaced). */
typedef int (*statefile_fill)(FILE *fp, const void *arg);

/* Replace dir/name with what fill writes: into a new file
 * dir/name.tmp.XXXXXX (a fresh random suffix, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0640), flushed to disk, then renamed over
 * dir/name (a symlink there is replaced, never followed). Returns 0 or
 * GSLB_EIO with errno set. */
int statefile_write(const char *dir, const char *name, statefile_fill fill, const void *arg);

/* Open dir/name for reading: NULL with errno set when it is missing
 * (ENOENT), a symlink (ELOOP) or not a regular file (EINVAL); the last two
 * are logged. */
FILE *statefile_open(const char *dir, const char *name);

/* Whether dir (existing) is safe to keep state in for a daemon running as
 * uid:gid: not writable by others (o+w), and not writable by its group
 * unless that group is gid. Returns 0, or GSLB_EINVAL with why filled. A
 * directory owned by another user than uid or root is logged. A missing
 * dir is fine (created at start). */
int statefile_check_dir(const char *dir, uid_t uid, gid_t gid, char *why, size_t whylen);

#endif
