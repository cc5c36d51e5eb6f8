/* The etcd v3 client of the cluster: the JSON gateway over libcurl. See
 * cluster.h for the contract and docs/design-notes.md for why the gateway
 * rather than gRPC. */
#include "gslb/cluster.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gslb/err.h"

/* Largest answer kept: a range over every verdict of a big cluster fits. */
#define ETCD_MAX_BODY (64u << 20)

struct etcd_client {
	char **endpoints;
	size_t n;
	size_t cur;
	char *ca_file;
	char *cert_file;
	char *key_file;
	long timeout_ms;
	uint64_t errors;
	const int *abort_flag;
	CURL *h;
};

/* One HTTP exchange: the body read so far; in stream mode each complete
 * line is handed to on_line, which returns non-zero to stop. */
struct exchange {
	char *buf;
	size_t len;
	size_t cap;
	int (*on_line)(void *user, json_t *msg);
	void *user;
	int stopped;
	int overflow;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

struct etcd_client *etcd_client_new(const char *const *endpoints, size_t n,
				    const struct etcd_tls *tls, long timeout_ms, char *err,
				    size_t errlen)
{
	struct etcd_client *c;

	if (n == 0) {
		seterr(err, errlen, "no etcd endpoint");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->endpoints = calloc(n, sizeof(char *));
	if (!c->endpoints)
		goto nomem;
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(endpoints[i]);

		c->endpoints[i] = strdup(endpoints[i]);
		if (!c->endpoints[i])
			goto nomem;
		while (l > 0 && c->endpoints[i][l - 1] == '/')
			c->endpoints[i][--l] = '\0';
	}
	if (tls) {
		c->ca_file = dup_or_null(tls->ca_file);
		c->cert_file = dup_or_null(tls->cert_file);
		c->key_file = dup_or_null(tls->key_file);
		if ((tls->ca_file && !c->ca_file) || (tls->cert_file && !c->cert_file) ||
		    (tls->key_file && !c->key_file))
			goto nomem;
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	c->h = curl_easy_init();
	if (!c->h)
		goto nomem;
	return c;
nomem:
	seterr(err, errlen, "out of memory");
	etcd_client_free(c);
	return NULL;
}

void etcd_client_free(struct etcd_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->endpoints && i < c->n; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c);
}

const char *etcd_client_endpoint(const struct etcd_client *c) { return c->endpoints[c->cur]; }

uint64_t etcd_client_errors(const struct etcd_client *c) { return c->errors; }

void etcd_client_abort_on(struct etcd_client *c, const int *flag) { c->abort_flag = flag; }

/* A transfer in progress stops when the owner's flag is set (a thread
 * that must stop does not wait for a watch to run its time). */
static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const int *flag = user;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return flag && __atomic_load_n(flag, __ATOMIC_RELAXED);
}

/* --- JSON and base64 helpers -------------------------------------------- */

/* An int64 field: the gateway writes them as strings; 0 when absent. */
static int64_t json_i64(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return (int64_t)strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static json_t *b64_json(const void *data, size_t len)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)data, (unsigned)len };
	gnutls_datum_t out = { NULL, 0 };
	json_t *s;

	if (len == 0)
		return json_string("");
	if (gnutls_base64_encode2(&in, &out) < 0)
		return NULL;
	s = json_stringn((const char *)out.data, out.size);
	gnutls_free(out.data);
	return s;
}

/* Decodes the base64 field name of obj into a NUL-terminated malloc'd
 * buffer (*len without the NUL); absent: empty. NULL on error. */
static unsigned char *b64_field(const json_t *obj, const char *name, size_t *len)
{
	const json_t *j = json_object_get(obj, name);
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)json_string_value(j),
			      (unsigned)json_string_length(j) };
	gnutls_datum_t out = { NULL, 0 };
	unsigned char *buf;

	if (in.size > 0 && gnutls_base64_decode2(&in, &out) < 0)
		return NULL;
	buf = malloc(out.size + 1);
	if (buf) {
		if (out.size)
			memcpy(buf, out.data, out.size);
		buf[out.size] = '\0';
		*len = out.size;
	}
	gnutls_free(out.data);
	return buf;
}

/* Hands kv (an etcd mvccpb.KeyValue in JSON) to fn; -1 on a bad kv. */
static int call_kv(etcd_kv_fn fn, void *user, enum etcd_event_type type, const json_t *kv,
		   int *stop)
{
	size_t klen, vlen;
	unsigned char *key = b64_field(kv, "key", &klen);
	unsigned char *val = b64_field(kv, "value", &vlen);
	struct etcd_kv e;
	int rc = 0;

	if (!key || !val)
		rc = -1;
	else {
		e.key = (const char *)key;
		e.value = val;
		e.value_len = vlen;
		e.mod_revision = json_i64(kv, "mod_revision");
		e.lease = json_i64(kv, "lease");
		*stop = fn(user, type, &e) != 0;
	}
	free(key);
	free(val);
	return rc;
}

/* The gateway's error text in msg ({"error": "..."} or {"error": {...}}),
 * or NULL. */
static const char *gateway_error(const json_t *msg)
{
	const json_t *e = json_object_get(msg, "error");

	if (json_is_string(e))
		return json_string_value(e);
	if (json_is_object(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));

		return m ? m : "error";
	}
	return NULL;
}

/* --- one exchange --------------------------------------------------------- */

static int ex_lines(struct exchange *x)
{
	char *nl;
	size_t start = 0;

	while (!x->stopped && (nl = memchr(x->buf + start, '\n', x->len - start)) != NULL) {
		size_t l = (size_t)(nl - (x->buf + start));
		json_t *msg = json_loadb(x->buf + start, l, 0, NULL);

		start += l + 1;
		if (!msg)
			continue; /* blank line or keepalive */
		x->stopped = x->on_line(x->user, msg) != 0;
		json_decref(msg);
	}
	memmove(x->buf, x->buf + start, x->len - start);
	x->len -= start;
	return x->stopped;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *user)
{
	struct exchange *x = user;
	size_t n = size * nmemb;

	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > ETCD_MAX_BODY) {
			x->overflow = 1;
			return 0;
		}
		b = realloc(x->buf, cap);
		if (!b) {
			x->overflow = 1;
			return 0;
		}
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = '\0';
	if (x->on_line && ex_lines(x))
		return 0; /* stop the transfer: the caller has what it wanted */
	return n;
}

/* Transport outcome of one POST: 0 answered (HTTP status in *status),
 * GSLB_EIO the endpoint did not answer (try another). */
static int post_once(struct etcd_client *c, size_t i, const char *path, const char *body,
		     long timeout_ms, struct exchange *x, long *status, char *err, size_t errlen)
{
	char url[1024];
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* gRPC metadata through the gateway: a member cut off from the
	 * leader ends a watch with "no leader" instead of keeping it open
	 * and silent (etcd's WithRequireLeader). */
	struct curl_slist *more =
		hdrs ? curl_slist_append(hdrs, "Grpc-Metadata-hasleader: true") : NULL;
	CURL *h = c->h;
	CURLcode cc;

	if (!more) {
		curl_slist_free_all(hdrs);
		seterr(err, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	snprintf(url, sizeof(url), "%s%s", c->endpoints[i], path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 1000 ? c->timeout_ms : 1000);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->abort_flag) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)c->abort_flag);
	}
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (cc == CURLE_WRITE_ERROR && x->stopped)
		return GSLB_OK;
	if (x->overflow) {
		seterr(err, errlen, "%s: answer larger than %u bytes", url, ETCD_MAX_BODY);
		return GSLB_ERANGE;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT && x->on_line && *status == 200)
		return GSLB_OK; /* a stream that ran its time */
	if (cc != CURLE_OK) {
		seterr(err, errlen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
		return GSLB_EIO;
	}
	if (*status >= 500) {
		json_t *m = json_loadb(x->buf ? x->buf : "", x->len, 0, NULL);
		const char *e = m ? gateway_error(m) : NULL;

		seterr(err, errlen, "%s: HTTP %ld%s%s", url, *status, e ? ": " : "", e ? e : "");
		json_decref(m);
		return GSLB_EIO;
	}
	return GSLB_OK;
}

/* body (stolen) as compact JSON text to free(); NULL with err set. */
static char *dump_body(json_t *body, char *err, size_t errlen)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text)
		seterr(err, errlen, "out of memory");
	return text;
}

/* POSTs body (stolen) to path on the endpoints in turn, from the one that
 * answered last. Not streamed: *answer gets the decoded JSON answer. */
static int request(struct etcd_client *c, const char *path, json_t *body, json_t **answer,
		   char *err, size_t errlen)
{
	char *text = dump_body(body, err, errlen);
	int rc = GSLB_EIO;

	*answer = NULL;
	if (!text)
		return GSLB_ENOMEM;
	for (size_t k = 0; k < c->n; k++) {
		size_t i = (c->cur + k) % c->n;
		struct exchange x = { 0 };
		long status;
		const char *e;

		rc = post_once(c, i, path, text, c->timeout_ms, &x, &status, err, errlen);
		if (rc == GSLB_OK) {
			c->cur = i;
			*answer = json_loadb(x.buf ? x.buf : "", x.len, 0, NULL);
			e = *answer ? gateway_error(*answer) : "answer is not JSON";
			if (status != 200 || e) {
				seterr(err, errlen, "%s%s: HTTP %ld: %s", c->endpoints[i], path,
				       status, e ? e : "error");
				json_decref(*answer);
				*answer = NULL;
				rc = GSLB_EINVAL;
			}
		}
		free(x.buf);
		if (rc != GSLB_EIO)
			break;
		c->errors++;
	}
	free(text);
	return rc;
}

/* --- the calls ------------------------------------------------------------- */

int etcd_lease_grant(struct etcd_client *c, long ttl, int64_t *lease, char *err, size_t errlen)
{
	json_t *a;
	int rc = request(c, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ttl), &a, err,
			 errlen);

	if (rc != GSLB_OK)
		return rc;
	*lease = json_i64(a, "ID");
	json_decref(a);
	if (*lease == 0) {
		seterr(err, errlen, "%s: lease grant: no lease id", etcd_client_endpoint(c));
		return GSLB_EINVAL;
	}
	return GSLB_OK;
}

struct first_line {
	json_t *msg;
};

static int keep_first(void *user, json_t *msg)
{
	struct first_line *f = user;

	f->msg = json_incref(msg);
	return 1;
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t lease, long *ttl, char *err, size_t errlen)
{
	char *text = dump_body(json_pack("{s:I}", "ID", (json_int_t)lease), err, errlen);
	int rc = GSLB_EIO;

	if (!text)
		return GSLB_ENOMEM;
	/* A stream on the gateway: the first message is the answer. */
	for (size_t k = 0; k < c->n && rc == GSLB_EIO; k++) {
		size_t i = (c->cur + k) % c->n;
		struct first_line f = { 0 };
		struct exchange x = { .on_line = keep_first, .user = &f };
		long status;
		const json_t *res;

		rc = post_once(c, i, "/v3/lease/keepalive", text, c->timeout_ms, &x, &status, err,
			       errlen);
		if (rc == GSLB_OK) {
			c->cur = i;
			res = json_object_get(f.msg, "result");
			if (!res) {
				const char *e = f.msg ? gateway_error(f.msg) : NULL;

				seterr(err, errlen, "%s: lease keepalive: HTTP %ld: %s",
				       c->endpoints[i], status, e ? e : "no answer");
				rc = GSLB_EINVAL;
			} else if (json_i64(res, "TTL") <= 0) {
				seterr(err, errlen, "lease %llx expired",
				       (unsigned long long)lease);
				rc = GSLB_ENOENT;
			} else if (ttl)
				*ttl = (long)json_i64(res, "TTL");
		} else if (rc == GSLB_EIO)
			c->errors++;
		json_decref(f.msg);
		free(x.buf);
	}
	free(text);
	return rc;
}

int etcd_put(struct etcd_client *c, const char *key, const void *value, size_t len, int64_t lease,
	     int64_t *revision, char *err, size_t errlen)
{
	json_t *a;
	json_t *body = json_pack("{s:o,s:o}", "key", b64_json(key, strlen(key)), "value",
				 b64_json(value, len));
	int rc;

	if (!body) {
		seterr(err, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	if (lease)
		json_object_set_new(body, "lease", json_integer((json_int_t)lease));
	rc = request(c, "/v3/kv/put", body, &a, err, errlen);
	if (rc != GSLB_OK)
		return rc;
	if (revision)
		*revision = json_i64(json_object_get(a, "header"), "revision");
	json_decref(a);
	return GSLB_OK;
}

int etcd_txn(struct etcd_client *c, const struct etcd_op *ops, size_t n, int64_t lease, char *err,
	     size_t errlen)
{
	json_t *succ = json_array(), *a;
	int rc;

	if (!succ) {
		seterr(err, errlen, "out of memory");
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *key = b64_json(ops[i].key, strlen(ops[i].key));
		json_t *op;

		if (ops[i].value) {
			json_t *put = json_pack("{s:o,s:o}", "key", key, "value",
						b64_json(ops[i].value, ops[i].value_len));

			if (put && lease)
				json_object_set_new(put, "lease", json_integer((json_int_t)lease));
			op = json_pack("{s:o}", "request_put", put);
		} else
			op = json_pack("{s:{s:o}}", "request_delete_range", "key", key);
		if (!op || json_array_append_new(succ, op)) {
			json_decref(succ);
			seterr(err, errlen, "out of memory");
			return GSLB_ENOMEM;
		}
	}
	/* No compare: the success branch always runs, all or nothing. */
	rc = request(c, "/v3/kv/txn", json_pack("{s:o}", "success", succ), &a, err, errlen);
	json_decref(a);
	return rc;
}

int etcd_create(struct etcd_client *c, const char *key, const void *value, size_t len,
		int64_t lease, int64_t *owner, char *err, size_t errlen)
{
	json_t *k = b64_json(key, strlen(key)), *put, *body, *a = NULL, *kvs;
	int rc;

	*owner = 0;
	put = json_pack("{s:O,s:o}", "key", k, "value", b64_json(value, len));
	if (put && lease)
		json_object_set_new(put, "lease", json_integer((json_int_t)lease));
	/* create_revision 0: the key does not exist */
	body = json_pack("{s:[{s:O,s:s,s:s,s:s}],s:[{s:o}],s:[{s:{s:O}}]}", "compare", "key", k,
			 "target", "CREATE", "result", "EQUAL", "create_revision", "0", "success",
			 "request_put", put, "failure", "request_range", "key", k);
	json_decref(k);
	rc = request(c, "/v3/kv/txn", body, &a, err, errlen);
	if (rc == GSLB_OK && !json_is_true(json_object_get(a, "succeeded"))) {
		kvs = json_object_get(
			json_object_get(json_array_get(json_object_get(a, "responses"), 0),
					"response_range"),
			"kvs");
		*owner = json_i64(json_array_get(kvs, 0), "lease");
		seterr(err, errlen, "%s exists", key);
		rc = GSLB_EEXIST;
	}
	json_decref(a);
	return rc;
}

int etcd_lease_revoke(struct etcd_client *c, int64_t lease, char *err, size_t errlen)
{
	json_t *a;
	int rc = request(c, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)lease), &a,
			 err, errlen);

	json_decref(a);
	return rc;
}

int etcd_delete(struct etcd_client *c, const char *key, int64_t *revision, char *err, size_t errlen)
{
	json_t *a;
	int rc = request(c, "/v3/kv/deleterange",
			 json_pack("{s:o}", "key", b64_json(key, strlen(key))), &a, err, errlen);

	if (rc == GSLB_OK && revision)
		*revision = json_i64(json_object_get(a, "header"), "revision");
	json_decref(a);
	return rc;
}

/* The end of the range of keys starting with prefix: prefix with its last
 * byte below 0xff incremented (etcd's "prefix" convention). */
static json_t *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	unsigned char *end = malloc(n + 1);
	json_t *j;

	if (!end)
		return NULL;
	memcpy(end, prefix, n);
	while (n > 0 && end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		free(end);
		return b64_json("\0", 1); /* every key */
	}
	end[n - 1]++;
	j = b64_json(end, n);
	free(end);
	return j;
}

int etcd_range_prefix(struct etcd_client *c, const char *prefix, etcd_kv_fn fn, void *user,
		      int64_t *revision, char *err, size_t errlen)
{
	json_t *a, *kvs, *kv;
	size_t i;
	int stop = 0;
	int rc = request(c, "/v3/kv/range",
			 json_pack("{s:o,s:o}", "key", b64_json(prefix, strlen(prefix)),
				   "range_end", prefix_end(prefix)),
			 &a, err, errlen);

	if (rc != GSLB_OK)
		return rc;
	if (revision)
		*revision = json_i64(json_object_get(a, "header"), "revision");
	kvs = json_object_get(a, "kvs");
	json_array_foreach(kvs, i, kv)
	{
		if (call_kv(fn, user, ETCD_EV_PUT, kv, &stop) < 0) {
			seterr(err, errlen, "%s: range: bad key or value", etcd_client_endpoint(c));
			rc = GSLB_EPARSE;
			break;
		}
		if (stop)
			break;
	}
	json_decref(a);
	return rc;
}

struct watch {
	etcd_kv_fn fn;
	void *user;
	int64_t *revision;
	int compacted;
	int canceled;
	int bad;
};

static int watch_line(void *user, json_t *msg)
{
	struct watch *w = user;
	const json_t *res = json_object_get(msg, "result");
	const json_t *events, *ev;
	size_t i;
	int stop = 0;

	if (!res) {
		w->canceled = 1;
		return 1;
	}
	if (json_i64(res, "compact_revision") > 0) {
		w->compacted = 1;
		return 1;
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		w->canceled = 1;
		return 1;
	}
	events = json_object_get(res, "events");
	json_array_foreach(events, i, ev)
	{
		const char *t = json_string_value(json_object_get(ev, "type"));
		const json_t *kv = json_object_get(ev, "kv");
		int64_t rev = json_i64(kv, "mod_revision");

		if (call_kv(w->fn, w->user,
			    t && strcmp(t, "DELETE") == 0 ? ETCD_EV_DELETE : ETCD_EV_PUT, kv,
			    &stop) < 0) {
			w->bad = 1;
			return 1;
		}
		if (rev >= *w->revision)
			*w->revision = rev + 1;
		if (stop)
			return 1;
	}
	if (json_is_true(json_object_get(res, "created")) && *w->revision == 0)
		*w->revision = json_i64(json_object_get(res, "header"), "revision") + 1;
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t *revision, long timeout_ms,
		      etcd_kv_fn fn, void *user, char *err, size_t errlen)
{
	long deadline = now_ms() + timeout_ms;
	int rc = GSLB_EIO;
	size_t tried = 0;

	/* An endpoint that fails is left for the next one; one that drops a
	 * stream after answering is not counted against the failover round. */
	while (tried < c->n) {
		struct watch w = { .fn = fn, .user = user, .revision = revision };
		struct exchange x = { .on_line = watch_line, .user = &w };
		json_t *create = json_pack("{s:o,s:o}", "key", b64_json(prefix, strlen(prefix)),
					   "range_end", prefix_end(prefix));
		char *text;
		long status, left = deadline - now_ms();
		size_t i = c->cur;

		if (left <= 0)
			return GSLB_OK;
		if (create && *revision > 0)
			json_object_set_new(create, "start_revision", json_integer(*revision));
		text = dump_body(json_pack("{s:o}", "create_request", create), err, errlen);
		if (!text)
			return GSLB_ENOMEM;
		rc = post_once(c, i, "/v3/watch", text, left, &x, &status, err, errlen);
		free(text);
		free(x.buf);
		if (w.compacted) {
			seterr(err, errlen, "%s: watch: revision %lld compacted", c->endpoints[i],
			       (long long)*revision);
			return ETCD_COMPACTED;
		}
		if (w.bad) {
			seterr(err, errlen, "%s: watch: bad key or value", c->endpoints[i]);
			return GSLB_EPARSE;
		}
		if (rc == GSLB_OK && !w.canceled && status == 200)
			return GSLB_OK;
		if (rc == GSLB_OK)
			seterr(err, errlen, "%s: watch ended (HTTP %ld)", c->endpoints[i], status);
		c->errors++;
		c->cur = (c->cur + 1) % c->n;
		tried++;
		rc = GSLB_EIO;
	}
	return rc;
}
