/*
 * error.c - the text of Parley's error codes (parley.h).
 */
#include "config.h"

#include "parley.h"

const char *
parley_strerror(int code)
{
	switch (code) {
	case PARLEY_OK:
		return "success";
	case PARLEY_ENOMEM:
		return "out of memory";
	case PARLEY_EINVAL:
		return "invalid argument";
	case PARLEY_EIO:
		return "I/O or storage error";
	case PARLEY_ENOENT:
		return "not found";
	case PARLEY_EEXIST:
		return "already exists";
	case PARLEY_ELIMIT:
		return "limit reached";
	case PARLEY_EFAULT:
		return "answered with a SOAP fault";
	case PARLEY_ESTATE:
		return "not allowed in this state";
	case PARLEY_ETIMEDOUT:
		return "timed out";
	case PARLEY_ENOTACKED:
		return "the update is stored here but its copy was not acknowledged";
	case PARLEY_ESTANDBY:
		return "this manager is a standby: ask the active one";
	case PARLEY_DECLINED:
		return "declined";
	case PARLEY_AGAIN:
		return "try again";
	default:
		return "unknown error";
	}
}
