/* Telling a service manager (systemd, Type=notify) where the daemon is in
 * its life: ready, reloading, stopping. Every call is a no-op when gslbd was
 * built without libsystemd or was not started with NOTIFY_SOCKET. */
#ifndef GSLB_NOTIFY_H
#define GSLB_NOTIFY_H

/* Every listener serves (after start) or a reload ended, well or not. */
void notify_ready(void);
/* A full reload (config, zones, GeoIP) began; notify_ready() ends it. */
void notify_reloading(void);
/* The daemon is shutting down. */
void notify_stopping(void);
/* A line for `systemctl status`, e.g. why the last reload failed. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "libsystemd" or "none", for gslbd -V. */
const char *notify_backend(void);

#endif
