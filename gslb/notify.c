/* sd_notify(3) readiness, reload and stop notifications, so that a
 * Type=notify unit is "active" only once every listener serves and
 * `systemctl reload` returns once the reload has been decided. The
 * environment is kept (unset_environment = 0): notifications go on after
 * start. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "gslb/log.h"
#include "gslb/notify.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static void notify_send(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		log_debug("sd_notify failed error=%d", rc);
}

void notify_ready(void) { notify_send("READY=1"); }

void notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd >= 253 wants the time the reload began, to match it with
	 * its own reload request; older ones ignore the field. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000ull);
	notify_send(msg);
}

void notify_stopping(void) { notify_send("STOPPING=1"); }

void notify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	notify_send(msg);
}

const char *notify_backend(void) { return "libsystemd"; }

#else

void notify_ready(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_status(const char *fmt, ...) { (void)fmt; }
const char *notify_backend(void) { return "none"; }

#endif
