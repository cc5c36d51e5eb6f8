/* dns checks through c-ares: one channel per target (its server is the
 * member, or the resolvers for a CNAME pool's target), one query per probe,
 * the verdict from the rcode and the expected answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include <ldns/ldns.h>

#include "gslb/probe_int.h"

static void check_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	struct ptarget *t = data;
	if (readable || writable)
		t->sock_made = 1;
	probe_fd_watch(t->pp->p, (int)fd, FD_ARES, t, ares_events(readable, writable));
}

static int text_match(const char *have, const char *want)
{
	size_t hl = strlen(have), wl = strlen(want);
	if (hl >= 2 && have[0] == '"' && have[hl - 1] == '"') {
		have++;
		hl -= 2;
	}
	if (hl > 1 && have[hl - 1] == '.')
		hl--;
	if (wl > 1 && want[wl - 1] == '.')
		wl--;
	return hl == wl && strncasecmp(have, want, hl) == 0;
}

/* expect_answer: an address compared as an address with A and AAAA
 * records, else text compared with each rdata field. */
static int answer_has(ldns_pkt *pkt, const char *want)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	uint8_t wa[16];
	int wfam = 0;

	if (inet_pton(AF_INET, want, wa) == 1)
		wfam = AF_INET;
	else if (inet_pton(AF_INET6, want, wa) == 1)
		wfam = AF_INET6;
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rr_type type = ldns_rr_get_type(rr);
		if (wfam && ((type == LDNS_RR_TYPE_A && wfam == AF_INET) ||
			     (type == LDNS_RR_TYPE_AAAA && wfam == AF_INET6))) {
			ldns_rdf *f = ldns_rr_rdf(rr, 0);
			size_t al = wfam == AF_INET ? 4 : 16;
			if (f && ldns_rdf_size(f) == al && memcmp(ldns_rdf_data(f), wa, al) == 0)
				return 1;
			continue;
		}
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, k));
			int m = s && text_match(s, want);
			free(s);
			if (m)
				return 1;
		}
	}
	return 0;
}

static void rcode_text(int rcode, char *out, size_t len)
{
	ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, rcode);
	if (lt && lt->name)
		snprintf(out, len, "DNS %s", lt->name);
	else
		snprintf(out, len, "DNS RCODE%d", rcode);
}

static void dns_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	int err = errno; /* a socket that failed to open: just before this call */
	struct ptarget *t = arg;
	struct prober *p = t->pp->p;
	const struct check *c = target_check(t);
	char reason[HEALTH_REASON_MAX];
	int ok = 0;

	(void)timeouts;
	if (!t->dns_busy || t->cancelling || status == ARES_EDESTRUCTION)
		return;
	t->dns_busy = 0;
	probe_slot_give(p, t);
	probe_heap_del(&p->heap, &t->deadline);
	/* No socket could be opened (c-ares reports it as a refusal), or
	 * c-ares ran out of memory: nothing is known about the member. */
	if (status == ARES_ENOMEM || (status != ARES_SUCCESS && !t->sock_made)) {
		char eb[64];
		if (status == ARES_ENOMEM)
			snprintf(reason, sizeof(reason), "c-ares: %s", ares_strerror(status));
		else
			snprintf(reason, sizeof(reason), "cannot open a socket%s%s",
				 errno_is_local(err) ? ": " : "",
				 errno_is_local(err) ? strerror_r(err, eb, sizeof(eb)) : "");
		probe_target_unknown(p, t, reason);
		return;
	}
	if (status == ARES_ETIMEOUT || status == ARES_ECANCELLED) {
		snprintf(reason, sizeof(reason), "timeout after %.1fs", c->timeout);
	} else if (status == ARES_ECONNREFUSED) {
		snprintf(reason, sizeof(reason), "connection refused");
	} else if (status != ARES_SUCCESS || !abuf || alen <= 0) {
		snprintf(reason, sizeof(reason), "DNS: %s", ares_strerror(status));
	} else {
		ldns_pkt *pkt = NULL;
		if (ldns_wire2pkt(&pkt, abuf, (size_t)alen) != LDNS_STATUS_OK || !pkt) {
			snprintf(reason, sizeof(reason), "DNS: malformed reply");
		} else {
			int rcode = (int)ldns_pkt_get_rcode(pkt);
			rcode_text(rcode, reason, sizeof(reason));
			if (rcode != c->expect_rcode) {
				ok = 0;
			} else if (c->expect_answer && c->expect_answer[0] &&
				   !answer_has(pkt, c->expect_answer)) {
				snprintf(reason, sizeof(reason), "no answer %s", c->expect_answer);
				ok = 0;
			} else {
				ok = 1;
			}
		}
		ldns_pkt_free(pkt);
	}
	probe_target_result(p, t, ok, reason);
}

static int dns_channel(struct ptarget *t)
{
	struct ares_options o;
	int rc;

	if (t->chan)
		return ARES_SUCCESS;
	memset(&o, 0, sizeof(o));
	/* NOCHECKRESP: SERVFAIL and REFUSED are answers to judge, not reasons
	 * to try another server. */
	o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
	o.timeout = (int)t->pp->pc->timeout_ms;
	o.tries = 1;
	o.sock_state_cb = check_sock;
	o.sock_state_cb_data = t;
	rc = ares_init_options(&t->chan, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				       ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		t->chan = NULL;
		return rc;
	}
	if (t->pp->pc->c->source_family == AF_INET) {
		const uint8_t *a = t->pp->pc->c->source_addr;

		ares_set_local_ip4(t->chan, (unsigned)a[0] << 24 | (unsigned)a[1] << 16 |
						    (unsigned)a[2] << 8 | a[3]);
	} else if (t->pp->pc->c->source_family == AF_INET6)
		ares_set_local_ip6(t->chan, t->pp->pc->c->source_addr);
	if (!t->dns_server)
		return ARES_SUCCESS; /* the system's resolvers */
	rc = ares_set_servers_ports_csv(t->chan, t->dns_server);
	if (rc != ARES_SUCCESS) {
		ares_destroy(t->chan);
		t->chan = NULL;
	}
	return rc;
}

void probe_dns_start(struct prober *p, struct ptarget *t, int64_t now)
{
	const struct check *c = target_check(t);
	unsigned char *q = NULL;
	int qlen = 0, rc;
	char reason[HEALTH_REASON_MAX];

	rc = dns_channel(t);
	if (rc == ARES_SUCCESS)
		rc = ares_create_query(t->qname, 1 /* IN */, c->qtype ? c->qtype : 1, 0, 1, &q,
				       &qlen, 0);
	if (rc != ARES_SUCCESS) {
		snprintf(reason, sizeof(reason), "DNS: %s", ares_strerror(rc));
		/* a name that cannot be asked is the check's fault; the rest
		 * (memory, reading the resolver configuration) is this host's */
		if (rc == ARES_EBADNAME)
			probe_target_result(p, t, 0, reason);
		else
			probe_target_unknown(p, t, reason);
		return;
	}
	t->dns_busy = 1;
	t->sock_made = 0;
	t->started = now;
	probe_slot_take(p, t);
	/* c-ares gives up after the timeout by itself; this is the backstop. */
	probe_sched_set(p, &t->deadline, now + t->pp->pc->timeout_ms + 50);
	ares_send(t->chan, q, qlen, dns_done, t); /* may call dns_done at once */
	ares_free_string(q);
}

void probe_dns_deadline(struct prober *p, struct ptarget *t)
{
	(void)p;
	if (!t->dns_busy)
		return;
	ares_process_fd(t->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (t->dns_busy)
		ares_cancel(t->chan); /* dns_done reports the timeout */
}
