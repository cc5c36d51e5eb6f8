/* One logger for the whole daemon: one line per event, a short message
 * followed by key=value fields, to stderr (or syslog later). */
#ifndef GSLB_LOG_H
#define GSLB_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* Set the most verbose level printed (default LOG_LVL_INFO). Call before
 * threads start; the level is read without locking afterwards. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warning", "info", "debug"; returns 0 or GSLB_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_get_level() >= LOG_LVL_DEBUG)                          \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
