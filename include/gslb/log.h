/* One logger for the whole daemon: one line per event, a short message
 * followed by key=value fields, to stderr or to syslog. */
#ifndef GSLB_LOG_H
#define GSLB_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* The config's log = { level; syslog; facility; } group. */
struct log_conf {
	enum log_level level; /* default LOG_LVL_INFO */
	int to_syslog;        /* 0 = stderr */
	int facility;         /* syslog.h LOG_DAEMON etc. */
};

/* Set the most verbose level printed (default LOG_LVL_INFO). The level may
 * change while threads log (a reload), so it is read atomically. */
void log_set_level(enum log_level level);
/* As log_set_level, and later log_configure() calls keep this level: the
 * command line (-d) beats the config file. */
void log_force_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warning", "info", "debug"; returns 0 or GSLB_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
/* Parse a syslog facility name ("daemon", "user", "local0".."local7"...)
 * into its LOG_* value; returns 0 or GSLB_EINVAL. */
int log_facility_parse(const char *s, int *out);
/* The defaults of a log = { } group. */
void log_conf_default(struct log_conf *lc);

/* Apply a config's log settings. The first call chooses the output (stderr
 * or syslog) and must come before threads start; later calls (reloads) only
 * change the level and warn when the output would change, which needs a
 * restart. */
void log_configure(const struct log_conf *lc);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                       \
	do {                                                 \
		if (log_get_level() >= LOG_LVL_DEBUG)        \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
