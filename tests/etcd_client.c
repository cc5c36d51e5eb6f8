/* A command line over gslb/cluster.c's etcd client, for the system tests
 * (tests/system/test_cluster.py) to drive it against a real etcd:
 *
 *   etcd_client ENDPOINT[,ENDPOINT...] grant TTL             -> lease id
 *   etcd_client ENDPOINTS keepalive LEASE                     -> ttl
 *   etcd_client ENDPOINTS put KEY VALUE [LEASE]               -> revision
 *   etcd_client ENDPOINTS del KEY
 *   etcd_client ENDPOINTS range PREFIX                        -> key=value lines, revision
 *   etcd_client ENDPOINTS watch PREFIX REVISION COUNT MS      -> events, next revision
 *   etcd_client ENDPOINTS keep LEASE SECONDS                  -> keepalives every second
 *
 * Output on stdout, one item a line; errors on stderr, exit status 1. The
 * last line of every successful command names the endpoint that answered
 * ("endpoint URL") and the failed requests ("errors N"). */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslb/cluster.h"
#include "gslb/err.h"

struct count {
	long left;
};

static int print_kv(void *user, enum etcd_event_type type, const struct etcd_kv *kv)
{
	struct count *n = user;

	printf("%s %s=%.*s rev=%" PRId64 " lease=%" PRId64 "\n",
	       type == ETCD_EV_DELETE ? "DELETE" : "PUT", kv->key, (int)kv->value_len,
	       (const char *)kv->value, kv->mod_revision, kv->lease);
	fflush(stdout);
	return n && --n->left <= 0;
}

static int run(struct etcd_client *c, int argc, char **argv, char *err, size_t errlen)
{
	const char *cmd = argv[0];
	int64_t v = 0;
	long ttl = 0;
	int rc;

	if (strcmp(cmd, "grant") == 0 && argc == 2) {
		rc = etcd_lease_grant(c, strtol(argv[1], NULL, 10), &v, err, errlen);
		if (rc == GSLB_OK)
			printf("lease %" PRId64 "\n", v);
	} else if (strcmp(cmd, "keepalive") == 0 && argc == 2) {
		rc = etcd_lease_keepalive(c, strtoll(argv[1], NULL, 10), &ttl, err, errlen);
		if (rc == GSLB_OK)
			printf("ttl %ld\n", ttl);
	} else if (strcmp(cmd, "keep") == 0 && argc == 3) {
		long n = strtol(argv[2], NULL, 10);

		rc = GSLB_OK;
		for (long i = 0; i < n && rc == GSLB_OK; i++) {
			rc = etcd_lease_keepalive(c, strtoll(argv[1], NULL, 10), &ttl, err, errlen);
			sleep(1);
		}
	} else if (strcmp(cmd, "put") == 0 && (argc == 3 || argc == 4)) {
		rc = etcd_put(c, argv[1], argv[2], strlen(argv[2]),
			      argc == 4 ? strtoll(argv[3], NULL, 10) : 0, &v, err, errlen);
		if (rc == GSLB_OK)
			printf("revision %" PRId64 "\n", v);
	} else if (strcmp(cmd, "del") == 0 && argc == 2) {
		rc = etcd_delete(c, argv[1], NULL, err, errlen);
	} else if (strcmp(cmd, "range") == 0 && argc == 2) {
		rc = etcd_range_prefix(c, argv[1], print_kv, NULL, &v, err, errlen);
		if (rc == GSLB_OK)
			printf("revision %" PRId64 "\n", v);
	} else if (strcmp(cmd, "watch") == 0 && argc == 5) {
		struct count n = {strtol(argv[3], NULL, 10)};

		v = strtoll(argv[2], NULL, 10);
		rc = etcd_watch_prefix(c, argv[1], &v, strtol(argv[4], NULL, 10), print_kv, &n, err,
				       errlen);
		if (rc == GSLB_OK || rc == ETCD_COMPACTED)
			printf("%s %" PRId64 "\n", rc == ETCD_COMPACTED ? "compacted" : "next", v);
		if (rc == ETCD_COMPACTED)
			rc = GSLB_OK;
	} else {
		snprintf(err, errlen, "usage: see tests/etcd_client.c");
		return GSLB_EINVAL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	const char *eps[16];
	size_t n = 0;
	char err[512] = "";
	struct etcd_client *c;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: etcd_client ENDPOINTS COMMAND ARGS...\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	for (char *s = argv[1], *e; s && n < 16; s = e) {
		e = strchr(s, ',');
		if (e)
			*e++ = '\0';
		eps[n++] = s;
	}
	c = etcd_client_new(eps, n, NULL, 2000, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "etcd_client: %s\n", err);
		return 1;
	}
	rc = run(c, argc - 2, argv + 2, err, sizeof(err));
	if (rc == GSLB_OK)
		printf("endpoint %s\nerrors %" PRIu64 "\n", etcd_client_endpoint(c),
		       etcd_client_errors(c));
	else
		fprintf(stderr, "etcd_client: %s (%s)\n", err, gslb_strerror(rc));
	etcd_client_free(c);
	curl_global_cleanup();
	return rc == GSLB_OK ? 0 : 1;
}
