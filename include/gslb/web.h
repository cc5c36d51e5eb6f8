/* The status page's assets (web/), built into the binary by web/embed.sh:
 * the admin listener serves them at "/" and next to it, so a file-less
 * install has the page. */
#ifndef GSLB_WEB_H
#define GSLB_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path; /* the URL path: "/", "/app.js", ... */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted, as sent */
};

/* Ends with an entry whose path is NULL. */
extern const struct web_asset web_assets[];

#endif
