/* gslbd: command line, then either a configuration check (-t) or the
 * server in the foreground. Both load the configuration through the same
 * snapshot_load(), so a config that passes -t is one the server accepts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <ares.h>
#include <curl/curl.h>
#include <ldns/ldns.h>
#include <libconfig.h>
#include <maxminddb.h>
#include <uv.h>

#include "config.h"
#include "gslb/config_schema.h"
#include "gslb/err.h"
#include "gslb/explain.h"
#include "gslb/fdlimit.h"
#include "gslb/log.h"
#include "gslb/notify.h"
#include "gslb/server.h"
#include "gslb/snapshot.h"
#include "gslb/whatif.h"

#ifndef GSLB_SYSCONFDIR
#define GSLB_SYSCONFDIR "/etc"
#endif
#define GSLB_DEFAULT_CONFIG GSLB_SYSCONFDIR "/gslb.conf"

/* Enough for a "file:line: reason" with long paths. */
#define ERRLEN 1024

/* Prints a report: JSON, or text through print. */
static void print_report(const json_t *j, int as_json, void (*print)(const json_t *, FILE *))
{
	if (as_json) {
		char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (txt)
			printf("%s\n", txt);
		free(txt);
	} else {
		print(j, stdout);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gslbd [OPTION]...\n"
		"Geo-aware authoritative DNS server.\n"
		"\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"  -t, --check        load the configuration and every zone it names,\n"
		"                     report the result and exit (0 = ok, 1 = error);\n"
		"                     with a GeoIP database, also print which regions\n"
		"                     each service's clients go to (standard output)\n"
		"  -d, --debug        log at debug level (whatever log.level says)\n"
		"      --explain ADDRESS[/PREFIX] NAME\n"
		"                     show how NAME is answered for a client in ADDRESS:\n"
		"                     location, override, regions in order with distance\n"
		"                     and state, answer, ECS scope and TTL; no listener\n"
		"                     is started\n"
		"      --what-if \"ACTION TARGET[, ...]\"\n"
		"                     show where each service's clients would go after\n"
		"                     the changes (ACTION: down, drain, up; TARGET: a\n"
		"                     region, pool:SERVICE/REGION, member:SERVICE/REGION/\n"
		"                     ADDRESS); repeatable; no listener is started\n"
		"      --ds ZONE      print the DS records of ZONE's DNSSEC keys (those\n"
		"                     with the SEP flag, or all when none has it) for\n"
		"                     the parent zone and exit\n"
		"      --json         with -t, --explain or --what-if: print JSON\n"
		"      --dump-schema  print every configuration key with its type, range,\n"
		"                     default and whether a reload applies it (the\n"
		"                     Markdown tables of docs/configuration.md) and exit\n"
		"  -h, --help         show this help and exit\n"
		"  -V, --version      show the version and the libraries' versions and exit\n"
		"\n"
		"gslbd runs in the foreground and logs to standard error, or to syslog\n"
		"with log = { syslog = true; } in the configuration. SIGHUP reloads the\n"
		"configuration, zones and GeoIP data; SIGTERM or SIGINT stop it cleanly.\n"
		"Exit status: 0 ok, 1 error (configuration, start-up), 2 usage.\n",
		GSLB_DEFAULT_CONFIG);
}

static void version(void)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

	printf("gslbd %s\n", PACKAGE_VERSION);
	printf("ldns %s\n", ldns_version());
	printf("libmaxminddb %s\n", MMDB_lib_version());
	printf("libcurl %s\n", curl ? curl->version : "unknown");
	printf("c-ares %s\n", ares_version(NULL));
	printf("libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
	       LIBCONFIG_VER_REVISION);
	printf("libuv %s\n", uv_version_string());
	printf("sd_notify %s\n", notify_backend());
}

static size_t count_records(const struct snapshot *snap)
{
	size_t n = 0;

	for (size_t i = 0; i < snap->zones->nzones; i++)
		n += snap->zones->zones[i]->nrecords;
	return n;
}

static int check(const char *path, int as_json)
{
	struct snapshot *snap = NULL;
	json_t *report = NULL;
	char err[ERRLEN];
	int rc;

	rc = snapshot_load(path, &snap, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : gslb_strerror(rc));
		goto out;
	}
	/* The daemon raises its soft limit to the hard one: check against
	 * that (this process's; the daemon's is set by its unit or shell). */
	rc = fdlimit_check(snap->conf, fdlimit_hard(), err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* Evaluated before "ok" is printed: a database that cannot be
	 * walked fails the check. */
	rc = whatif_check(snap, &report, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : gslb_strerror(rc));
		goto out;
	}
	fprintf(stderr, "%s: ok (%zu zones, %zu records)\n", path, snap->zones->nzones,
		count_records(snap));
	if (report)
		print_report(report, as_json, whatif_print);
out:
	json_decref(report);
	snapshot_free(snap);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Offline runs read state_dir, never etcd: say so to a cluster node's
 * operator (stderr: --json output stays JSON). */
static void cluster_note(const struct snapshot *snap, const char *what)
{
	if (snap->conf->cluster.enabled)
		fprintf(stderr,
			"note: cluster \"%s\" is configured: this offline %s uses this node's "
			"last-known health and overrides in state_dir, not the cluster's view in "
			"etcd; ask the running daemon (gslbctl %s) for that\n",
			snap->conf->cluster.name, what, what);
}

static int explain(const char *path, const char *address, const char *name, int as_json)
{
	struct snapshot *snap = NULL;
	json_t *ex = NULL;
	char err[ERRLEN];
	int rc;

	rc = snapshot_load(path, &snap, err, sizeof(err));
	if (rc)
		goto fail;
	rc = explain_json(snap, address, name, &ex, err, sizeof(err));
	if (rc)
		goto fail;
	cluster_note(snap, "explain");
	print_report(ex, as_json, explain_print);
	goto out;
fail:
	fprintf(stderr, "%s\n", err[0] ? err : gslb_strerror(rc));
out:
	json_decref(ex);
	snapshot_free(snap);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int what_if(const char *path, const char *const *changes, size_t n, int as_json)
{
	struct snapshot *snap = NULL;
	struct override_table adm = { 0 };
	json_t *j = NULL;
	char err[ERRLEN] = "";
	int rc;

	rc = snapshot_load(path, &snap, err, sizeof(err));
	if (rc)
		goto fail;
	/* The overrides a restart would apply, so that "before" is what the
	 * daemon would serve from this state_dir. */
	override_table_load(&adm, snap->conf->state_dir);
	rc = whatif_json(snap, snap->health, &adm, changes, n, &j, err, sizeof(err));
	if (rc)
		goto fail;
	cluster_note(snap, "what-if");
	print_report(j, as_json, whatif_print);
	goto out;
fail:
	fprintf(stderr, "%s\n", err[0] ? err : gslb_strerror(rc));
out:
	json_decref(j);
	override_table_free(&adm);
	snapshot_free(snap);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int run(const char *path)
{
	struct snapshot *snap = NULL;
	struct server *srv = NULL;
	char err[ERRLEN];
	int rc;

	log_info("starting version=%s config=%s", PACKAGE_VERSION, path);
	rc = snapshot_load(path, &snap, err, sizeof(err));
	if (rc) {
		log_err("%s", err[0] ? err : gslb_strerror(rc));
		goto out;
	}
	/* From here on, log where and at the level the config says. */
	log_configure(&snap->conf->log);
	log_info("loaded zones=%zu records=%zu workers=%u", snap->zones->nzones,
		 count_records(snap), snap->conf->workers);
	rc = fdlimit_check(snap->conf, fdlimit_raise(), err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		goto out;
	}
	/* server_new logs what failed. */
	rc = server_new(snap, &srv);
	if (rc)
		goto out;
	snap = NULL; /* the server owns it */
	rc = server_run(srv);
out:
	server_free(srv);
	snapshot_free(snap);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "explain", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "what-if", required_argument, NULL, 'w' },
		{ "dump-schema", no_argument, NULL, 's' },
		{ "ds", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	int explain_mode = 0, as_json = 0, ds_mode = 0;
	const char *whatif[WHATIF_MAX_CHANGES];
	size_t nwhatif = 0;
	const char *path = GSLB_DEFAULT_CONFIG;
	int check_only = 0;
	int opt;

	snapshot_memory_init();
	for (;;) {
		opt = getopt_long(argc, argv, "c:tdhV", opts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'd':
			log_force_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			version();
			return EXIT_SUCCESS;
		case 'x':
			explain_mode = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'D':
			ds_mode = 1;
			break;
		case 's':
			conf_schema_dump(&conf_sec_root, stdout);
			return EXIT_SUCCESS;
		case 'w':
			if (nwhatif == WHATIF_MAX_CHANGES) {
				fprintf(stderr, "gslbd: more than %d --what-if options\n",
					WHATIF_MAX_CHANGES);
				return 2;
			}
			whatif[nwhatif++] = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (ds_mode) {
		if (argc - optind != 1 || explain_mode || check_only || nwhatif) {
			fprintf(stderr, "gslbd: --ds needs one ZONE and no other mode\n");
			return 2;
		}
		if (log_get_level() < LOG_LVL_DEBUG)
			log_set_level(LOG_LVL_ERR);
		char err[ERRLEN] = "";
		if (conf_dnssec_print_ds(path, argv[optind], stdout, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return EXIT_FAILURE;
		}
		return EXIT_SUCCESS;
	}
	if (explain_mode) {
		if (argc - optind != 2) {
			fprintf(stderr, "gslbd: --explain needs ADDRESS[/PREFIX] and NAME\n");
			return 2;
		}
		/* Load warnings would drown the explanation. */
		if (log_get_level() < LOG_LVL_DEBUG)
			log_set_level(LOG_LVL_ERR);
		return explain(path, argv[optind], argv[optind + 1], as_json);
	}
	if (nwhatif) {
		if (optind < argc || explain_mode || check_only) {
			fprintf(stderr, "gslbd: --what-if takes no other mode or argument\n");
			return 2;
		}
		/* Load warnings belong to -t, not to this report. */
		if (log_get_level() < LOG_LVL_DEBUG)
			log_set_level(LOG_LVL_ERR);
		return what_if(path, whatif, nwhatif, as_json);
	}
	if (optind < argc) {
		fprintf(stderr, "gslbd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check_only)
		return check(path, as_json);
	return run(path);
}
