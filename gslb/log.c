/* The one logger: every event becomes one line on stderr,
 * "2026-11-26T14:45:10.123Z gslbd[PID] info: message key=value ...".
 * A line is formatted into a stack buffer and emitted with a single
 * write(2), so lines from concurrent threads never interleave and no lock is
 * needed (writes of up to PIPE_BUF bytes to a pipe are atomic, and the
 * kernel serialises writes to one file description). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gslb/err.h"
#include "gslb/log.h"

/* Lines longer than this are cut and end in "..." so that one record stays
 * one write; 4096 is the pipe atomicity limit (PIPE_BUF) on Linux. */
#define LOG_LINE_MAX 4096

/* Set once at start-up, before any thread exists, then only read. */
static enum log_level log_level = LOG_LVL_INFO;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

enum log_level log_get_level(void) { return log_level; }

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOG_LVL_ERR }, { "err", LOG_LVL_ERR },   { "warning", LOG_LVL_WARN },
		{ "warn", LOG_LVL_WARN }, { "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return GSLB_OK;
		}
	}
	return GSLB_EINVAL;
}

/* Write all of buf, retrying on EINTR and short writes; a logger has nowhere
 * to report its own failure, so other errors just lose the line. */
static void log_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t len = 0;
	int n;
	va_list ap;

	if (level > log_level)
		return;
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;

	/* errno is part of what callers often log after this call returns. */
	int saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len,
		     ".%03ldZ gslbd[%ld] %s: ", ts.tv_nsec / 1000000L, (long)getpid(),
		     log_names[level]);
	if (n > 0)
		len += (size_t)n;

	/* Keep room for the newline that always ends the record. */
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (n > 0) {
		if ((size_t)n >= sizeof(line) - len - 1) {
			len = sizeof(line) - 1;
			memcpy(line + len - 3, "...", 3);
		} else {
			len += (size_t)n;
		}
	}
	/* One event is one line: a stray newline in a value must not forge a
	 * second record. */
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[len++] = '\n';
	log_write(line, len);
	errno = saved_errno;
}
