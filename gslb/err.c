/* Error codes to text: one table for the whole project, so that a code
 * printed anywhere reads the same. */
#include "gslb/err.h"

const char *gslb_strerror(int err)
{
	switch (err) {
	case GSLB_OK:
		return "success";
	case GSLB_ENOMEM:
		return "out of memory";
	case GSLB_EINVAL:
		return "invalid value";
	case GSLB_EIO:
		return "input/output error";
	case GSLB_EPARSE:
		return "syntax error";
	case GSLB_ENOENT:
		return "not found";
	case GSLB_ERANGE:
		return "out of range";
	case GSLB_ESYS:
		return "system call failed";
	case GSLB_EEXIST:
		return "already exists";
	}
	return "unknown error";
}
