/* Project-wide error codes: 0 is success, negative values are errors. */
#ifndef GSLB_ERR_H
#define GSLB_ERR_H

enum gslb_err {
	GSLB_OK = 0,
	GSLB_ENOMEM = -1, /* allocation failed */
	GSLB_EINVAL = -2, /* invalid argument or value */
	GSLB_EIO = -3,    /* file or socket I/O failed */
	GSLB_EPARSE = -4, /* syntax error in a file */
	GSLB_ENOENT = -5, /* not found */
	GSLB_ERANGE = -6, /* value or size out of range */
	GSLB_ESYS = -7,   /* system call failed, see errno */
	GSLB_EEXIST = -8, /* duplicate */
};

/* Static string for an error code; never NULL. */
const char *gslb_strerror(int err);

#endif
