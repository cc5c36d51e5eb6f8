/* http, https and tcp checks through one curl multi handle: a transfer per
 * probe (tcp: connect only), its verdict from the status and body, and the
 * failures of this host (no socket, no memory) told apart from the
 * member's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ptarget *t = userdata;
	const struct check *c = target_check(t);
	size_t n = size * nmemb, take;

	/* Nothing to look for, or looked far enough: stop the transfer (the
	 * connection is not reused anyway). */
	if (!c->expect_body || t->blen >= BODY_MAX) {
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
	}
}
