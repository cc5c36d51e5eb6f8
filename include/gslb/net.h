/* Listening sockets that libmicrohttpd is handed (MHD_OPTION_LISTEN_SOCKET)
 * instead of binding them itself: so they are bound while gslbd may still
 * be root, and served once it no longer is. */
#ifndef GSLB_NET_H
#define GSLB_NET_H

#include <sys/socket.h>

/* A non-blocking, close-on-exec TCP socket bound to sa (IPv6 only for an
 * IPv6 address, SO_REUSEADDR) and listening. Returns the descriptor, or -1
 * with errno set. */
int net_listen_tcp(const struct sockaddr *sa, socklen_t len);

/* The port a bound socket got (for port 0), 0 if unknown. */
unsigned net_bound_port(int fd);

#endif
