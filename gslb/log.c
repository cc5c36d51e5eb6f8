/* The one logger: every event becomes one line,
 * "2026-11-26T14:45:10.123Z gslbd[PID] info: message key=value ...", on
 * stderr; or the bare "message key=value ..." to syslog (which adds its own
 * time, name and pid) or to the systemd journal when stderr is the journal
 * (JOURNAL_STREAM), with the level as a "<N>" prefix it understands.
 *
 * A line is formatted into a stack buffer and emitted with a single
 * write(2), so lines from concurrent threads never interleave and no lock is
 * needed (writes of up to PIPE_BUF bytes to a pipe are atomic, and the
 * kernel serialises writes to one file description); syslog(3) is
 * thread-safe by itself. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gslb/err.h"
#include "gslb/log.h"

/* Lines longer than this are cut and end in "..." so that one record stays
 * one write; 4096 is the pipe atomicity limit (PIPE_BUF) on Linux. */
#define LOG_LINE_MAX 4096

enum log_output {
	LOG_OUT_STDERR = 0,  /* timestamped lines */
	LOG_OUT_JOURNAL = 1, /* stderr is the journal: "<N>message" */
	LOG_OUT_SYSLOG = 2,
};

/* Written at start-up (output) or by one thread at a time (level, on
 * reload), read by every thread: atomics, relaxed, since a log line that
 * sees the old level a moment longer does no harm. */
static int log_level = LOG_LVL_INFO;
static int log_forced;
static int log_output = LOG_OUT_STDERR;
static int log_configured;
static int log_facility = LOG_DAEMON;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int log_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },     { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

void log_set_level(enum log_level level)
{
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

void log_force_level(enum log_level level)
{
	log_set_level(level);
	log_forced = 1;
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

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

int log_facility_parse(const char *s, int *out)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++) {
		if (strcasecmp(s, log_facilities[i].name) == 0) {
			*out = log_facilities[i].value;
			return GSLB_OK;
		}
	}
	return GSLB_EINVAL;
}

static const char *facility_name(int facility)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (log_facilities[i].value == facility)
			return log_facilities[i].name;
	return "?";
}

void log_conf_default(struct log_conf *lc)
{
	lc->level = LOG_LVL_INFO;
	lc->to_syslog = 0;
	lc->facility = LOG_DAEMON;
}

/* systemd connects stderr to the journal and says so in JOURNAL_STREAM
 * ("device:inode" of that stream); a stderr redirected elsewhere by the
 * service keeps the plain format. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (js == NULL || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno || *end != ':')
		return 0;
	ino = strtoull(end + 1, &end, 10);
	if (errno || *end != '\0')
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_configure(const struct log_conf *lc)
{
	int output = lc->to_syslog ? LOG_OUT_SYSLOG : LOG_OUT_STDERR;

	if (!log_forced)
		log_set_level(lc->level);
	if (!log_configured) {
		log_configured = 1;
		if (output == LOG_OUT_STDERR && stderr_is_journal())
			output = LOG_OUT_JOURNAL;
		if (output == LOG_OUT_SYSLOG) {
			log_facility = lc->facility;
			/* LOG_NDELAY: connect to /dev/log now, while any
			 * sandboxing or privilege drop is still to come. */
			openlog("gslbd", LOG_PID | LOG_NDELAY, lc->facility);
		}
		__atomic_store_n(&log_output, output, __ATOMIC_RELAXED);
		return;
	}
	int current = __atomic_load_n(&log_output, __ATOMIC_RELAXED);
	if ((current == LOG_OUT_SYSLOG) != (output == LOG_OUT_SYSLOG) ||
	    (output == LOG_OUT_SYSLOG && lc->facility != log_facility))
		log_warn("log output changed; it takes effect at the next restart syslog=%s "
			 "facility=%s",
			 lc->to_syslog ? "true" : "false", facility_name(lc->facility));
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
	size_t len = 0, start;
	int n;
	va_list ap;

	if ((int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;

	/* errno is part of what callers often log after this call returns. */
	int saved_errno = errno;
	int output = __atomic_load_n(&log_output, __ATOMIC_RELAXED);

	if (output == LOG_OUT_STDERR) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len,
			     ".%03ldZ gslbd[%ld] %s: ", ts.tv_nsec / 1000000L, (long)getpid(),
			     log_names[level]);
	} else if (output == LOG_OUT_JOURNAL) {
		n = snprintf(line, sizeof(line), "<%d>", log_prio[level]);
	} else {
		n = 0;
	}
	if (n > 0)
		len += (size_t)n;
	start = len;

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
	for (size_t i = start; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	if (output == LOG_OUT_SYSLOG) {
		line[len] = '\0';
		syslog(log_prio[level], "%s", line);
	} else {
		line[len++] = '\n';
		log_write(line, len);
	}
	errno = saved_errno;
}
