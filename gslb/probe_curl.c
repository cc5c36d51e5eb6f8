/* http, https and tcp checks through one curl multi handle: a transfer per
 * probe (tcp: connect only), its verdict from the status and body, and the
 * failures of this host (no socket, no memory) told apart from the
 * member's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <math.h>
#include <strings.h>

#include "config.h"
#include "gslb/probe_int.h"
#include "gslb/webhook.h"

int probe_curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	uint32_t ev = 0;
	(void)e;
	(void)socketp;
	if (what == CURL_POLL_IN)
		ev = EPOLLIN;
	else if (what == CURL_POLL_OUT)
		ev = EPOLLOUT;
	else if (what == CURL_POLL_INOUT)
		ev = EPOLLIN | EPOLLOUT;
	probe_fd_watch(userp, (int)s, FD_CURL, NULL, ev);
	return 0;
}

int probe_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct prober *p = userp;
	(void)multi;
	p->curl_timer = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

/* curl opens its sockets here, so that a socket that cannot be had (out of
 * descriptors) is told apart from a member that refuses. */
static curl_socket_t open_sock_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct ptarget *t = clientp;
	int fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0) {
		t->local_err = errno;
		return CURL_SOCKET_BAD;
	}
	return fd;
}

/* Why a curl transfer failed for a reason of this host, or NULL. */
static const char *curl_local(const struct ptarget *t, CURLcode rc, long oserr, char *buf,
			      size_t len)
{
	if (t->local_err) {
		char eb[64];
		snprintf(buf, len, "cannot open a socket: %s",
			 strerror_r(t->local_err, eb, sizeof(eb)));
		return buf;
	}
	switch (rc) {
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		snprintf(buf, len, "curl: %s", curl_easy_strerror(rc));
		return buf;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		if (errno_is_local(oserr)) {
			char eb[64];
			snprintf(buf, len, "%s", strerror_r((int)oserr, eb, sizeof(eb)));
			return buf;
		}
		return NULL;
	default:
		return NULL;
	}
}

static int load_in_body(const struct ptarget *t)
{
	unsigned k = t->pp->pool->load.kind;
	return k == LOAD_BODY_JSON || k == LOAD_BODY_NUMBER;
}

/* pools[].load = { from = "header:NAME" }: the value of that header in the
 * last response (a redirect's headers are forgotten at the next status
 * line), cut to LOAD_HEADER_MAX bytes. */
static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ptarget *t = userdata;
	const char *name = t->pp->pool->load.key;
	size_t n = size * nmemb, nl = strlen(name);

	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		t->has_load_hdr = 0;
		return n;
	}
	if (n <= nl || ptr[nl] != ':' || strncasecmp(ptr, name, nl) != 0)
		return n;
	size_t i = nl + 1, j = n;
	while (i < j && (ptr[i] == ' ' || ptr[i] == '\t'))
		i++;
	while (j > i && (ptr[j - 1] == '\r' || ptr[j - 1] == '\n' || ptr[j - 1] == ' ' ||
			 ptr[j - 1] == '\t'))
		j--;
	size_t len = j - i < LOAD_HEADER_MAX - 1 ? j - i : LOAD_HEADER_MAX - 1;
	memcpy(t->load_hdr, ptr + i, len);
	t->load_hdr[len] = '\0';
	t->has_load_hdr = 1;
	return n;
}

/* A whole number text ("0.85", " 0.85\n") into *v: 1, or 0 when it is not. */
static int load_number(const char *s, size_t n, double *v)
{
	char buf[64];
	char *end;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtod(buf, &end);
	return !*end && isfinite(*v);
}

/* The number at "a.b.c" in a JSON body into *v: 1, or 0 when there is none. */
static int load_json(const char *body, size_t len, const char *path, double *v)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	const json_t *at = root;
	char key[201];
	int ok = 0;

	while (at && *path) {
		const char *dot = strchr(path, '.');
		size_t kl = dot ? (size_t)(dot - path) : strlen(path);
		if (kl >= sizeof(key))
			break;
		memcpy(key, path, kl);
		key[kl] = '\0';
		at = json_is_object(at) ? json_object_get(at, key) : NULL;
		path += kl + (dot ? 1 : 0);
	}
	if (at && !*path && json_is_number(at)) {
		*v = json_number_value(at);
		ok = 1;
	}
	json_decref(root);
	return ok;
}

/* The load figure of a successful probe (pools[].load) into *v, clamped
 * to 0..1: 1, or 0 when the response has none. */
static int load_read(const struct ptarget *t, double *v)
{
	const struct pool_load *l = &t->pp->pool->load;
	int ok = 0;

	if (l->kind == LOAD_HEADER && t->has_load_hdr)
		ok = load_number(t->load_hdr, strlen(t->load_hdr), v);
	else if (l->kind == LOAD_BODY_NUMBER && t->body)
		ok = load_number(t->body, t->blen, v);
	else if (l->kind == LOAD_BODY_JSON && t->body)
		ok = load_json(t->body, t->blen, l->key, v);
	if (ok)
		*v = *v > 1 ? 1 : *v < 0 ? 0 : *v;
	return ok;
}

/* Forget a member's readings: a response without a figure, or the member
 * going down, ends them, so that a figure never outlives the responses
 * that carried it. */
static void load_clear(struct ptarget *t)
{
	t->nloads = 0;
	t->load_pos = 0;
}

/* One probe's figure into the member's window, and its reason told; a
 * response without one clears the window. */
static void load_take(struct ptarget *t, char *reason, size_t len)
{
	double v = 0;
	size_t n = strlen(reason);

	if (!load_read(t, &v)) {
		load_clear(t);
		snprintf(reason + n, len - n, ", no load figure");
		return;
	}
	t->loads[t->load_pos] = v;
	t->load_pos = (uint8_t)((t->load_pos + 1) % LOAD_WINDOW);
	if (t->nloads < LOAD_WINDOW)
		t->nloads++;
	snprintf(reason + n, len - n, ", load %.3g", v);
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ptarget *t = userdata;
	const struct check *c = target_check(t);
	size_t n = size * nmemb, take;

	/* Nothing to look for, or looked far enough: stop the transfer (the
	 * connection is not reused anyway). */
	if ((!c->expect_body && !load_in_body(t)) || t->blen >= BODY_MAX) {
		t->body_stop = 1;
		return 0;
	}
	take = n < BODY_MAX - t->blen ? n : BODY_MAX - t->blen;
	if (t->blen + take > t->bcap) {
		size_t nc = t->bcap ? t->bcap : 4096;
		char *nb;
		while (nc < t->blen + take)
			nc *= 2;
		if (nc > BODY_MAX)
			nc = BODY_MAX;
		nb = realloc(t->body, nc);
		if (!nb) {
			t->body_stop = 1;
			return 0;
		}
		t->body = nb;
		t->bcap = nc;
	}
	memcpy(t->body + t->blen, ptr, take);
	t->blen += take;
	return n;
}

#define SETOPT(e, opt, val)                                       \
	do {                                                      \
		if (cc == CURLE_OK)                               \
			cc = curl_easy_setopt((e), (opt), (val)); \
	} while (0)

void probe_curl_start(struct prober *p, struct ptarget *t, int64_t now)
{
	const struct check *c = target_check(t);
	long tmo = (long)t->pp->pc->timeout_ms;
	CURLcode cc = CURLE_OK;
	CURL *e = curl_easy_init();

	if (!e) {
		probe_target_unknown(p, t, "curl: out of memory");
		return;
	}
	t->local_err = 0;
	t->errbuf[0] = '\0';
	t->blen = 0;
	t->body_stop = 0;
	t->has_load_hdr = 0;
	SETOPT(e, CURLOPT_URL, t->url);
	SETOPT(e, CURLOPT_PRIVATE, (void *)t);
	SETOPT(e, CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_TIMEOUT_MS, tmo);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, tmo);
	SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(e, CURLOPT_FORBID_REUSE, 1L);
	SETOPT(e, CURLOPT_USERAGENT, "gslbd-probe/" PACKAGE_VERSION);
	SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, open_sock_cb);
	SETOPT(e, CURLOPT_OPENSOCKETDATA, (void *)t);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SETOPT(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (t->connect_to)
		SETOPT(e, CURLOPT_CONNECT_TO, t->connect_to);
	if (c->source) {
		char itf[80];

		snprintf(itf, sizeof(itf), "host!%s", c->source);
		SETOPT(e, CURLOPT_INTERFACE, itf);
	}
	if (c->type == CHECK_TCP) {
		SETOPT(e, CURLOPT_CONNECT_ONLY, 1L);
	} else {
		SETOPT(e, CURLOPT_WRITEFUNCTION, body_cb);
		SETOPT(e, CURLOPT_WRITEDATA, (void *)t);
		if (t->pp->pool->load.kind == LOAD_HEADER) {
			SETOPT(e, CURLOPT_HEADERFUNCTION, header_cb);
			SETOPT(e, CURLOPT_HEADERDATA, (void *)t);
		}
		if (c->method_head)
			SETOPT(e, CURLOPT_NOBODY, 1L);
		if (c->follow_redirects) {
			SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
			SETOPT(e, CURLOPT_MAXREDIRS, 5L);
		}
		if (t->pp->pc->headers)
			SETOPT(e, CURLOPT_HTTPHEADER, t->pp->pc->headers);
		SETOPT(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
		SETOPT(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
		if (c->ca_file)
			SETOPT(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (cc == CURLE_OK && curl_multi_add_handle(p->multi, e) != CURLM_OK)
		cc = CURLE_OUT_OF_MEMORY;
	if (cc != CURLE_OK) {
		char r[HEALTH_REASON_MAX];
		snprintf(r, sizeof(r), "curl: %s", curl_easy_strerror(cc));
		curl_easy_cleanup(e);
		probe_target_unknown(p, t, r);
		return;
	}
	t->easy = e;
	t->started = now;
	probe_slot_take(p, t);
}

/* "SSL certificate problem: certificate has expired" -> "certificate has
 * expired": the words a person acts on. */
static void tls_reason(const char *errbuf, CURLcode rc, char *out, size_t len)
{
	static const char *const prefixes[] = { "SSL certificate problem: ", "SSL: ",
						"OpenSSL SSL_connect: ", "error:" };
	const char *s = errbuf;

	if (!s[0]) {
		snprintf(out, len, "TLS: %s", curl_easy_strerror(rc));
		return;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			s += strlen(prefixes[i]);
	if (strstr(s, "subject name") || strstr(s, "does not match"))
		snprintf(out, len, "TLS: certificate does not match the host name");
	else
		snprintf(out, len, "TLS: %.85s", s);
}

static void curl_reason(const struct ptarget *t, CURLcode rc, long oserr, char *out, size_t len)
{
	const struct check *c = target_check(t);
	char eb[128];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(out, len, "timeout after %.1fs", c->timeout);
		return;
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			snprintf(out, len, "connection refused");
		else if (oserr == EHOSTUNREACH)
			snprintf(out, len, "host unreachable");
		else if (oserr == ENETUNREACH)
			snprintf(out, len, "network unreachable");
		else if (oserr == ETIMEDOUT)
			snprintf(out, len, "timeout after %.1fs", c->timeout);
		else if (oserr)
			snprintf(out, len, "connect failed: %s",
				 strerror_r((int)oserr, eb, sizeof(eb)));
		else
			snprintf(out, len, "connect failed");
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(out, len, "cannot resolve host");
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
		tls_reason(t->errbuf, rc, out, len);
		return;
	case CURLE_GOT_NOTHING:
		snprintf(out, len, "empty reply");
		return;
	case CURLE_RECV_ERROR:
		snprintf(out, len, oserr == ECONNRESET ? "connection reset" : "receive failed");
		return;
	case CURLE_SEND_ERROR:
		snprintf(out, len, oserr == ECONNRESET ? "connection reset" : "send failed");
		return;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(out, len, "too many redirects");
		return;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		snprintf(out, len, "bad HTTP reply");
		return;
	default:
		snprintf(out, len, "curl: %.85s",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
		return;
	}
}

static int status_expected(const struct check *c, long code)
{
	if (c->nexpect_status == 0)
		return code == 200;
	for (size_t i = 0; i < c->nexpect_status; i++)
		if ((long)c->expect_status[i] == code)
			return 1;
	return 0;
}

static int http_verdict(const struct ptarget *t, CURLcode rc, long code, long oserr, char *out,
			size_t len)
{
	const struct check *c = target_check(t);

	if (rc == CURLE_WRITE_ERROR && t->body_stop)
		rc = CURLE_OK; /* we stopped reading on purpose */
	if (rc != CURLE_OK) {
		curl_reason(t, rc, oserr, out, len);
		return 0;
	}
	if (c->type == CHECK_TCP) {
		snprintf(out, len, "connected");
		return 1;
	}
	if (!status_expected(c, code)) {
		snprintf(out, len, "HTTP %ld", code);
		return 0;
	}
	if (c->expect_body && c->expect_body[0] &&
	    !(t->body && memmem(t->body, t->blen, c->expect_body, strlen(c->expect_body)))) {
		snprintf(out, len, "body does not contain \"%.40s\"", c->expect_body);
		return 0;
	}
	snprintf(out, len, "HTTP %ld", code);
	return 1;
}

void probe_curl_collect(struct prober *p)
{
	for (;;) {
		int left = 0;
		CURLMsg *msg = curl_multi_info_read(p->multi, &left);
		char reason[HEALTH_REASON_MAX];
		struct ptarget *t = NULL;
		long code = 0, oserr = 0;
		CURL *e;
		CURLcode rc;
		int ok;

		if (!msg)
			break;
		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		rc = msg->data.result;
		if (webhooks_done(p->wh, p->multi, e, rc, mono_ms()))
			continue;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		t = (struct ptarget *)(void *)priv;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
		if (!t)
			continue;
		const char *local = curl_local(t, rc, oserr, reason, sizeof(reason));
		ok = local ? 0 : http_verdict(t, rc, code, oserr, reason, sizeof(reason));
		if (ok && t->pp->pool->load.kind != LOAD_NONE)
			load_take(t, reason, sizeof(reason));
		curl_multi_remove_handle(p->multi, e);
		curl_easy_cleanup(e);
		t->easy = NULL;
		free(t->body);
		t->body = NULL;
		t->blen = t->bcap = 0;
		probe_slot_give(p, t);
		if (local)
			probe_target_unknown(p, t, local);
		else
			probe_target_result(p, t, ok, reason);
		/* a member down: its readings end with the outage (a probe
		 * that fails while it is still up keeps its last figure: a
		 * loaded member that times out must not stop the shedding) */
		if (t->state == HEALTH_DOWN)
			load_clear(t);
	}
}
