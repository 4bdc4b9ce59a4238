/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * milter - the libmilter callbacks shared by every daemon (see milter.h)
 *
 * Each callback does three things and no more: record what the MTA told
 * (client, macros, envelope, headers, body) in the shared context, call
 * the engine's hook, and translate the verdict. Engines never see
 * SMFICTX, so they can be driven offline with the same context.
 */
#include "common/milter/milter.h"
#include "common/deadline.h"
#include "common/crypto.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/milter/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

static const pn_engine *engine;

const pn_param pn_milter_params[] = {
	{"body_memory_limit", PN_PARAM_SIZE, "1m", 0, 1LL << 30, NULL,
	 "message bodies larger than this are spooled to an unlinked file in tmp_dir"},
	{"tmp_dir", PN_PARAM_STR, "/tmp", 0, 0, NULL,
	 "directory for spooled message bodies"},
	{"on_error", PN_PARAM_ENUM, "tempfail", 0, 0, "tempfail|accept|reject",
	 "answer when Postern fails internally (tempfail keeps the mail queued)"},
	/* Postfix bounds each field (header_size_limit, 100 kB) but not their
	 * number: these bound what one message makes a daemon hold. Real mail
	 * has tens of fields and tens of kB; the defaults leave a wide margin. */
	{"max_header_count", PN_PARAM_INT, "20000", 0, 100000000, NULL,
	 "header fields one message may have (0: no limit)"},
	{"max_header_bytes", PN_PARAM_SIZE, "2m", 0, 1LL << 30, NULL,
	 "bytes of header block one message may have (0: no limit)"},
	{"header_limit_action", PN_PARAM_ENUM, "reject", 0, 0, "reject|tempfail",
	 "answer to a message over max_header_count or max_header_bytes (552 5.3.4 or 452 4.3.4)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* Macros worth keeping, Postfix's and Sendmail's names. */
static const char *known_macros[] = {
	"i", "j", "_", "v", "{daemon_name}", "{daemon_addr}", "{daemon_port}",
	"{if_name}", "{if_addr}", "{client_addr}", "{client_name}", "{client_port}",
	"{client_ptr}", "{client_resolve}", "{client_connections}",
	"{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}",
	"{cert_md5}", "{cn_subject}", "{cn_issuer}", "{verify}", "{server_name}", "{auth_type}", "{auth_authen}",
	"{auth_author}", "{auth_ssf}", "{mail_addr}", "{mail_host}", "{mail_mailer}",
	"{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}", "{msg_id}", NULL
};

/* Macros asked for at MAIL and RCPT (smfi_setsymlist replaces the MTA's
 * list for that stage, so these are Postfix's and Sendmail's defaults plus
 * what Postern reads there): {mail_addr} and {rcpt_addr} are the MTA's own
 * parse of the address, the canonical form every daemon decides on. */
static const char envfrom_macros[] = "i {auth_type} {auth_authen} {auth_ssf} {auth_author} "
	"{mail_addr} {mail_host} {mail_mailer} {tls_version} {cipher} {cipher_bits} "
	"{cert_subject} {cert_issuer} {verify}";
static const char envrcpt_macros[] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}";

/* collect_macros - remember every known macro the MTA made available */
static void collect_macros(SMFICTX *ctx, pn_conn *c)
{
	const char **name;

	for (name = known_macros; *name; name++) {
		const char *v = smfi_getsymval(ctx, (char *)*name);
		if (v)
			pn_conn_set_macro(c, *name, v);
	}
}

/* Sessions that have a context: a stopping worker waits for them
 * (pn_milter_drain) instead of exiting under a message in progress. */
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sessions_done = PTHREAD_COND_INITIALIZER;
static unsigned long sessions;
/* Messages between MAIL and their end: what a stopping worker waits for.
 * An idle session (Postfix keeps its milter connection for the whole SMTP
 * session; a client that sent QUIT whose close libmilter has not yet
 * reported) has nothing to lose and must not hold a stop for 25 s. */
static unsigned long messages_open;

/* message_counted - one more (+1) or one less (-1) message in progress */
static void message_counted(int delta)
{
	pthread_mutex_lock(&sessions_lock);
	if (delta > 0)
		messages_open++;
	else if (messages_open > 0 && --messages_open == 0)
		pthread_cond_broadcast(&sessions_done);
	pthread_mutex_unlock(&sessions_lock);
}

/* Connections that see a watched file change wait here for the one
 * reload that change causes. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;

/* pn_snapshot_acquire_watched - the current snapshot, reloaded first when a file it
 * was built from changed
 *
 * As Postfix's dict_changed_name(), the layer, not the engine, watches:
 * at most one look per the snapshot's interval (engine.h), one stat per
 * watched file. On a change this connection reloads the daemon before it
 * takes its snapshot, so it already decides with the changed file; a
 * reload that fails keeps the running snapshot, which then ignores the
 * file versions it failed on (reported once, not at every connection).
 */
pn_snapshot *pn_snapshot_acquire_watched(void)
{
	pn_snapshot *s = pn_snapshot_acquire(), *now;
	const char *path;

	if (s == NULL || !pn_snapshot_look_due(s) || pn_snapshot_changed(s) == NULL)
		return s;
	pthread_mutex_lock(&watch_lock);
	now = pn_snapshot_acquire();
	/* another connection may have reloaded while this one waited */
	if (now == s && (path = pn_snapshot_changed(s)) != NULL) {
		pn_log(PN_LOG_INFO, "%s changed: reloading", path);
		if (pn_daemon_reload_now() < 0)
			pn_snapshot_reload_failed(s);
	}
	pn_snapshot_release(now);
	pthread_mutex_unlock(&watch_lock);
	pn_snapshot_release(s);
	return pn_snapshot_acquire();
}

/* get_conn - the connection context, created on first use */
static pn_conn *get_conn(SMFICTX *ctx)
{
	pn_conn *c = smfi_getpriv(ctx);

	if (c == NULL) {
		c = pn_conn_new(pn_snapshot_acquire_watched());
		smfi_setpriv(ctx, c);
		pthread_mutex_lock(&sessions_lock);
		sessions++;
		pthread_mutex_unlock(&sessions_lock);
	}
	return c;
}

/* session_over - a context was freed; the thread ends after this */
static void session_over(void)
{
	/* OpenSSL frees a thread's state when the thread exits, which may be
	 * after the process has decided it is idle and exits itself. */
	pn_crypto_thread_end();
	pthread_mutex_lock(&sessions_lock);
	if (sessions > 0 && --sessions == 0)
		pthread_cond_broadcast(&sessions_done);
	pthread_mutex_unlock(&sessions_lock);
}

/* Sessions whose message has ended but whose close libmilter has not yet
 * reported (a client's QUIT in flight) still hold the snapshot: the engines'
 * last work at unload (the archive's final index pass) runs only when they
 * let go. Bounded, because Postfix keeps an idle milter connection for the
 * whole SMTP session. */
#define DRAIN_IDLE_SESSIONS_MS 2000

/* wait_until - wait on sessions_done while a message (or, with
 * messages_only 0, a session) is open, until the deadline (sessions_lock held) */
static void wait_until(const struct timespec *until, int messages_only)
{
	while (messages_only ? messages_open > 0 : sessions > 0)
		if (pthread_cond_timedwait(&sessions_done, &sessions_lock, until) != 0)
			break;
}

/* pn_milter_drain - wait up to seconds for every message to end, then a
 * moment for the sessions that are closing */
int pn_milter_drain(unsigned seconds)
{
	struct timespec until, idle;
	unsigned long left;

	until = pn_deadline_after_ms(CLOCK_REALTIME, (long long)seconds * 1000);
	pthread_mutex_lock(&sessions_lock);
	wait_until(&until, 1);
	left = messages_open;
	if (left == 0) {
		idle = pn_deadline_after_ms(CLOCK_REALTIME, DRAIN_IDLE_SESSIONS_MS);
		wait_until(&idle, 0);
	}
	pthread_mutex_unlock(&sessions_lock);
	return left == 0 ? 0 : -1;
}

/* reply_state - pending SMTP reply set by a hook through pn_conn_reply */
typedef struct reply_state {
	char *rcode, *xcode, *text;
} reply_state;

static __thread reply_state pending;

/* clear_pending - forget a reply that was not used */
static void clear_pending(void)
{
	pn_free(pending.rcode);
	pn_free(pending.xcode);
	pn_free(pending.text);
	memset(&pending, 0, sizeof(pending));
}

/* pn_conn_reply - SMTP reply for the verdict the current hook returns */
void pn_conn_reply(pn_conn *c, const char *rcode, const char *xcode, const char *text)
{
	(void)c;
	clear_pending();
	pending.rcode = rcode ? pn_strdup(rcode) : NULL;
	pending.xcode = xcode ? pn_strdup(xcode) : NULL;
	pending.text = text ? pn_strdup(text) : NULL;
}

/* set_reply - hand a reply to libmilter; unprintable bytes become '?' */
static void set_reply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *text)
{
	char *clean = text ? pn_strdup(text) : NULL;
	char *p;

	for (p = clean; p && *p; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p == 127)
			*p = '?';
	if (rcode && smfi_setreply(ctx, (char *)rcode, (char *)xcode, clean) != MI_SUCCESS)
		pn_log(PN_LOG_WARN, "MTA refused reply code %s", rcode);
	pn_free(clean);
}

/* to_sfsistat - verdict to libmilter status, with any pending reply */
static sfsistat to_sfsistat(SMFICTX *ctx, pn_verdict v)
{
	if ((v == PN_REJECT || v == PN_TEMPFAIL) && pending.rcode)
		set_reply(ctx, pending.rcode, pending.xcode, pending.text);
	clear_pending();
	switch (v) {
	case PN_CONTINUE: return SMFIS_CONTINUE;
	case PN_ACCEPT: return SMFIS_ACCEPT;
	case PN_REJECT: return SMFIS_REJECT;
	case PN_TEMPFAIL: return SMFIS_TEMPFAIL;
	case PN_DISCARD: return SMFIS_DISCARD;
	}
	return SMFIS_TEMPFAIL;
}

/* is_refusal - the verdict ends the message (or the recipient) here */
static int is_refusal(pn_verdict v)
{
	return v == PN_REJECT || v == PN_TEMPFAIL || v == PN_DISCARD;
}

/* tell_outcome - give the engine the answer the MTA gets; the reply is
 * the one pending for it (set before to_sfsistat() sends and clears it) */
static void tell_outcome(pn_conn *c, pn_msg *m, unsigned step, pn_verdict v, const char *by,
			 const pn_rcpt *rcpt)
{
	pn_outcome o;

	if (engine->on_outcome == NULL)
		return;
	memset(&o, 0, sizeof(o));
	o.step = step;
	o.verdict = v;
	o.by = by;
	o.rcpt = rcpt;
	if (is_refusal(v)) {
		o.rcode = pending.rcode;
		o.xcode = pending.xcode;
		o.text = pending.text;
	}
	engine->on_outcome(c, m, &o);
}

/* metric_verdict - v as a postern_messages_total/connections_total label */
static unsigned metric_verdict(pn_verdict v)
{
	switch (v) {
	case PN_REJECT: return PN_MV_REJECT;
	case PN_TEMPFAIL: return PN_MV_TEMPFAIL;
	case PN_DISCARD: return PN_MV_DISCARD;
	default: return PN_MV_ACCEPT;
	}
}

/* count_early - a refusal, or an accept, before end of message ends the
 * connection (connect, HELO) or the message (MAIL, RCPT's accept, DATA,
 * end of headers): this milter hears no more of it, so it counts here */
static void count_early(pn_conn *c, unsigned step, pn_verdict v)
{
	if (!is_refusal(v) && v != PN_ACCEPT)
		return;
	if (step == PN_STEP_CONNECT || step == PN_STEP_HELO)
		c->metric_verdict = metric_verdict(v);
	else if (step != PN_STEP_RCPT || v == PN_ACCEPT)	/* a refused rcpt ends nothing */
		pn_metric_inc(PN_M_MESSAGES, metric_verdict(v));
}

/* early_answer - an engine's verdict before end of message: a refusal is
 * told to the engine (so it can record it) before the MTA hears it; the
 * time since t0 is the step's latency */
static sfsistat early_answer(SMFICTX *ctx, pn_conn *c, pn_msg *m, unsigned step, pn_verdict v,
			     const pn_rcpt *rcpt, unsigned mstep, uint64_t t0)
{
	sfsistat rc;

	if (is_refusal(v))
		tell_outcome(c, m, step, v, engine->name, rcpt);
	count_early(c, step, v);
	rc = to_sfsistat(ctx, v);
	pn_metric_observe(PN_M_STEP_SECONDS, mstep, t0);
	return rc;
}

/* pn_conn_on_error - the configured answer to an internal failure */
pn_verdict pn_conn_on_error(const pn_conn *c)
{
	const char *v = "tempfail";

	if (c->snap)
		v = pn_config_str(pn_snapshot_config(c->snap), "on_error");
	if (strcmp(v, "accept") == 0)
		return PN_CONTINUE;
	if (strcmp(v, "reject") == 0)
		return PN_REJECT;
	return PN_TEMPFAIL;
}

/* end_message - the message is over (eom or abort): free its state */
static void end_message(pn_conn *c, int aborted)
{
	if (c->msg == NULL)
		return;
	if (aborted && engine->on_abort)
		engine->on_abort(c, c->msg);
	if (engine->free_msg)
		engine->free_msg(c, c->msg);
	c->msg->engine_data = NULL;
	pn_msg_free(c->msg);
	c->msg = NULL;
	message_counted(-1);
}

/* current_msg - the message in progress, started if the MTA skipped MAIL */
static pn_msg *current_msg(pn_conn *c)
{
	const pn_config *cfg;

	if (c->msg)
		return c->msg;
	cfg = pn_snapshot_config(c->snap);
	c->msg = pn_msg_new((size_t)pn_config_int(cfg, "body_memory_limit"),
			    pn_config_str(cfg, "tmp_dir"));
	pn_msg_set_header_limits(c->msg, (size_t)pn_config_int(cfg, "max_header_count"),
				 (size_t)pn_config_int(cfg, "max_header_bytes"));
	c->messages++;
	message_counted(1);
	return c->msg;
}

/* note_queue_id - collect macros; keep the queue id once the MTA tells it */
static pn_msg *note_queue_id(SMFICTX *ctx, pn_conn *c)
{
	pn_msg *m;
	const char *qid;

	collect_macros(ctx, c);
	m = current_msg(c);
	if (m->queue_id == NULL && (qid = pn_conn_macro(c, "i")) != NULL)
		m->queue_id = pn_strdup(qid);
	return m;
}

/* cb_connect - client connected */
static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	char addr[INET6_ADDRSTRLEN] = "";

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	pn_free(c->client_name);
	c->client_name = pn_strdup(hostname ? hostname : "unknown");
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		c->client_port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		c->client_port = ntohs(in6->sin6_port);
	}
	pn_free(c->client_addr);
	c->client_addr = addr[0] ? pn_strdup(addr) : NULL;
	collect_macros(ctx, c);
	return early_answer(ctx, c, NULL, PN_STEP_CONNECT,
			    engine->on_connect ? engine->on_connect(c) : PN_CONTINUE, NULL,
			    PN_MS_CONNECT, t0);
}

/* cb_helo - HELO/EHLO (Postfix calls it again after STARTTLS) */
static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	pn_free(c->helo);
	c->helo = pn_strdup(helo ? helo : "");
	collect_macros(ctx, c);
	return early_answer(ctx, c, NULL, PN_STEP_HELO,
			    engine->on_helo ? engine->on_helo(c) : PN_CONTINUE, NULL, PN_MS_HELO, t0);
}

/* cb_envfrom - MAIL FROM starts a message */
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	end_message(c, 1);
	pn_conn_forget_message_macros(c);
	collect_macros(ctx, c);
	m = current_msg(c);
	pn_msg_set_sender(m, argv && argv[0] ? argv[0] : "<>", argv && argv[0] ? argv + 1 : NULL);
	pn_msg_set_sender_mta(m, pn_conn_macro(c, "{mail_addr}"));
	return early_answer(ctx, c, m, PN_STEP_MAIL,
			    engine->on_mail ? engine->on_mail(c, m) : PN_CONTINUE, NULL,
			    PN_MS_ENVFROM, t0);
}

/* cb_envrcpt - one RCPT TO; a refused recipient is not kept */
static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;
	pn_verdict v = PN_CONTINUE;
	sfsistat rc;

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	collect_macros(ctx, c);
	m = current_msg(c);
	pn_msg_add_rcpt(m, argv && argv[0] ? argv[0] : "<>", argv && argv[0] ? argv + 1 : NULL);
	pn_msg_set_rcpt_mta(m, pn_conn_macro(c, "{rcpt_addr}"));
	if (engine->on_rcpt)
		v = engine->on_rcpt(c, m, &m->rcpts[m->nrcpts - 1]);
	if (is_refusal(v))
		tell_outcome(c, m, PN_STEP_RCPT, v, engine->name, &m->rcpts[m->nrcpts - 1]);
	if (is_refusal(v))
		pn_msg_drop_last_rcpt(m);
	count_early(c, PN_STEP_RCPT, v);
	rc = to_sfsistat(ctx, v);
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_ENVRCPT, t0);
	return rc;
}

/* cb_data - DATA: Postfix assigns the queue id here */
static sfsistat cb_data(SMFICTX *ctx)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	m = note_queue_id(ctx, c);
	return early_answer(ctx, c, m, PN_STEP_DATA,
			    engine->on_data ? engine->on_data(c, m) : PN_CONTINUE, NULL,
			    PN_MS_DATA, t0);
}

/* cb_header - one header, kept raw */
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);

	if (c->snap)
		pn_msg_add_header(current_msg(c), name ? name : "", value ? value : "");
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_HEADER, t0);
	return (c->mta_flags & SMFIP_NR_HDR) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* cb_eoh - end of headers */
static sfsistat cb_eoh(SMFICTX *ctx)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;

	if (c->snap == NULL)
		return SMFIS_TEMPFAIL;
	m = note_queue_id(ctx, c);
	return early_answer(ctx, c, m, PN_STEP_EOH,
			    engine->on_eoh ? engine->on_eoh(c, m) : PN_CONTINUE, NULL,
			    PN_MS_EOH, t0);
}

/* cb_body - a body chunk, spooled; a spool failure is answered at eom */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;

	if (c->snap) {
		m = current_msg(c);
		/* a message refused at its end for its header needs no body */
		if (!m->body_error && !m->headers_over && pn_msg_add_body(m, chunk, len) < 0)
			pn_log_msg(PN_LOG_ERROR, pn_conn_queue_id(c),
				   "cannot spool message body to %s: %s",
				   pn_config_str(pn_snapshot_config(c->snap), "tmp_dir"),
				   strerror(m->body_error));
	}
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_BODY, t0);
	return (c->mta_flags & SMFIP_NR_BODY) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* header_value_for_mta - the value as the MTA expects it
 *
 * With SMFIP_HDR_LEADSPC negotiated the milter supplies the space after the
 * colon; without it the MTA adds one itself (Sendmail always, Postfix only
 * when the value does not start with one), so adding ours would double it.
 */
static char *header_value_for_mta(const pn_conn *c, const char *value)
{
	if (c->mta_flags & SMFIP_HDR_LEADSPC)
		return pn_asprintf(" %s", value ? value : "");
	return pn_strdup(value ? value : "");
}

/* insert_index_for_mta - a header position among the fields the milter saw,
 * as the MTA counts it. Postfix and Sendmail both write their own
 * Received: line for this hop at the top, never show it to a milter, yet
 * count it in SMFIR_INSHEADER (position 0 is above it: smfi_insheader(3)),
 * so Postern's headers are inserted one lower: below that line. */
static int insert_index_for_mta(int index)
{
	return index + 1;
}

/* apply_one - one modification through libmilter */
static int apply_one(SMFICTX *ctx, const pn_conn *c, const pn_action *x)
{
	char *v = NULL;
	int rc = MI_FAILURE;

	switch (x->type) {
	case PN_ACT_ADD_HEADER:
		v = header_value_for_mta(c, x->value);
		rc = smfi_addheader(ctx, x->name, v);
		break;
	case PN_ACT_INSERT_HEADER:
		v = header_value_for_mta(c, x->value);
		rc = smfi_insheader(ctx, insert_index_for_mta(x->index), x->name, v);
		break;
	case PN_ACT_CHANGE_HEADER:
		v = header_value_for_mta(c, x->value);
		rc = smfi_chgheader(ctx, x->name, x->index, v);
		break;
	case PN_ACT_DELETE_HEADER:
		rc = smfi_chgheader(ctx, x->name, x->index, NULL);
		break;
	case PN_ACT_ADD_RCPT:
		rc = x->value && *x->value ? smfi_addrcpt_par(ctx, x->name, x->value)
					   : smfi_addrcpt(ctx, x->name);
		break;
	case PN_ACT_DELETE_RCPT:
		rc = smfi_delrcpt(ctx, x->name);
		break;
	case PN_ACT_CHANGE_FROM:
		rc = smfi_chgfrom(ctx, x->name, x->value && *x->value ? x->value : NULL);
		break;
	case PN_ACT_QUARANTINE:
		rc = smfi_quarantine(ctx, x->value);
		break;
	}
	pn_free(v);
	return rc == MI_SUCCESS ? 0 : -1;
}

/* apply_actions - every modification, or the on_error verdict if one fails */
static pn_verdict apply_actions(SMFICTX *ctx, pn_conn *c, pn_actions *a)
{
	size_t i;

	if (a->verdict == PN_REJECT || a->verdict == PN_TEMPFAIL)
		return a->verdict;	/* nothing to modify in a refused message */
	for (i = 0; i < pn_actions_count(a); i++) {
		if (apply_one(ctx, c, pn_actions_get(a, i)) < 0) {
			pn_log_msg(PN_LOG_ERROR, pn_conn_queue_id(c),
				   "MTA refused modification %zu of %zu (not negotiated?)",
				   i + 1, pn_actions_count(a));
			return pn_conn_on_error(c);
		}
	}
	return a->verdict;
}

/* header_limit_verdict - a message over the header limits is refused
 * (552 5.3.4, or 452 4.3.4 with header_limit_action = tempfail); its
 * engine never sees it */
static pn_verdict header_limit_verdict(pn_conn *c, const pn_msg *m)
{
	const pn_config *cfg = pn_snapshot_config(c->snap);
	int temp = strcmp(pn_config_str(cfg, "header_limit_action"), "tempfail") == 0;

	pn_log_msg(PN_LOG_WARN, m->queue_id, "message header over the limits: %zu fields, "
		   "%zu bytes (max_header_count = %lld, max_header_bytes = %lld): %s",
		   m->nheaders + m->headers_over, m->header_bytes,
		   pn_config_int(cfg, "max_header_count"), pn_config_int(cfg, "max_header_bytes"),
		   temp ? "tempfail" : "reject");
	if (temp) {
		pn_conn_reply(c, "452", "4.3.4", "Message header too large, try again later");
		return PN_TEMPFAIL;
	}
	pn_conn_reply(c, "552", "5.3.4", "Message header too large");
	return PN_REJECT;
}

/* quarantined - the actions hold the message (Postfix's hold queue) */
static int quarantined(const pn_actions *a)
{
	for (size_t i = 0; i < pn_actions_count(a); i++)
		if (pn_actions_get(a, i)->type == PN_ACT_QUARANTINE)
			return 1;
	return 0;
}

/* cb_eom - end of message: run the engine, apply its actions */
static sfsistat cb_eom(SMFICTX *ctx)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = get_conn(ctx);
	pn_msg *m;
	pn_actions *a;
	pn_verdict v, decided;
	const char *by = NULL;
	sfsistat rc;

	if (c->snap == NULL) {
		pn_metric_inc(PN_M_MESSAGES, PN_MV_TEMPFAIL);
		return SMFIS_TEMPFAIL;
	}
	m = note_queue_id(ctx, c);
	a = pn_actions_new();
	if (m->headers_over) {
		v = header_limit_verdict(c, m);
	} else if (m->body_error && (engine->steps & PN_STEP_BODY) && !engine->own_body_errors) {
		v = pn_conn_on_error(c);
		pn_log_msg(PN_LOG_ERROR, m->queue_id, "body could not be spooled: answering %s",
			   pn_verdict_name(v));
		if (v == PN_TEMPFAIL)
			pn_conn_reply(c, "451", "4.3.0", "Temporary local problem, try again later");
	} else {
		v = engine->on_eom ? engine->on_eom(c, m, a) : PN_CONTINUE;
		if (a->verdict == PN_CONTINUE)
			a->verdict = v;
		decided = a->verdict;
		v = apply_actions(ctx, c, a);
		if (a->rcode && (v == PN_REJECT || v == PN_TEMPFAIL)
		    && a->rcode[0] == (v == PN_REJECT ? '5' : '4'))
			pn_conn_reply(c, a->rcode, a->xcode, a->text);
		/* the engine refused, or the MTA refused its modifications */
		if (is_refusal(v) && v == decided)
			by = engine->name;
	}
	tell_outcome(c, m, PN_STEP_EOM, v, by, NULL);
	rc = to_sfsistat(ctx, v);
	if (pn_metrics_enabled())	/* skip the walk over the actions when off */
		pn_metric_inc(PN_M_MESSAGES, !is_refusal(v) && quarantined(a) ? PN_MV_QUARANTINE
					     : metric_verdict(v));
	pn_actions_free(a);
	end_message(c, 0);
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_EOM, t0);
	return rc;
}

/* cb_abort - the message was aborted (RSET, client gone, or after eom) */
static sfsistat cb_abort(SMFICTX *ctx)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = smfi_getpriv(ctx);

	if (c)
		end_message(c, 1);
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_ABORT, t0);
	return SMFIS_CONTINUE;
}

/* cb_close - connection over: free everything */
static sfsistat cb_close(SMFICTX *ctx)
{
	uint64_t t0 = pn_metric_now();
	pn_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	pn_metric_inc(PN_M_CONNECTIONS, c->snap ? c->metric_verdict : PN_MV_TEMPFAIL);
	end_message(c, 1);
	if (c->snap) {
		if (engine->on_close)
			engine->on_close(c);
		if (engine->free_conn)
			engine->free_conn(c);
	}
	c->engine_data = NULL;
	pn_snapshot_release(c->snap);
	c->snap = NULL;
	pn_conn_free(c);
	smfi_setpriv(ctx, NULL);
	clear_pending();
	session_over();
	pn_metric_observe(PN_M_STEP_SECONDS, PN_MS_CLOSE, t0);
	return SMFIS_CONTINUE;
}

/* cb_negotiate - ask only for the steps and modifications the engine uses */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long act = 0, proto = 0;
	pn_conn *c = get_conn(ctx);
	unsigned steps = engine->steps;

	(void)f2; (void)f3;
	if (engine->steps_for && c->snap)
		steps = engine->steps_for(pn_snapshot_state(c->snap)) | PN_STEP_EOM;
	if (engine->mods & PN_MOD_ADD_HEADER)
		act |= SMFIF_ADDHDRS;
	if (engine->mods & PN_MOD_CHANGE_HEADER)
		act |= SMFIF_CHGHDRS;
	if (engine->mods & PN_MOD_ADD_RCPT)
		act |= SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR;
	if (engine->mods & PN_MOD_DELETE_RCPT)
		act |= SMFIF_DELRCPT;
	if (engine->mods & PN_MOD_CHANGE_FROM)
		act |= SMFIF_CHGFROM;
	if (engine->mods & PN_MOD_QUARANTINE)
		act |= SMFIF_QUARANTINE;
	if (!(steps & PN_STEP_CONNECT))
		proto |= SMFIP_NOCONNECT;
	if (!(steps & PN_STEP_HELO))
		proto |= SMFIP_NOHELO;
	if (!(steps & PN_STEP_MAIL))
		proto |= SMFIP_NOMAIL;
	if (!(steps & PN_STEP_RCPT))
		proto |= SMFIP_NORCPT;
	if (!(steps & PN_STEP_DATA))
		proto |= SMFIP_NODATA;
	if (!(steps & PN_STEP_HEADER))
		proto |= SMFIP_NOHDRS;
	if (!(steps & PN_STEP_EOH))
		proto |= SMFIP_NOEOH;
	if (!(steps & PN_STEP_BODY))
		proto |= SMFIP_NOBODY;
	if (!(steps & PN_STEP_UNKNOWN))
		proto |= SMFIP_NOUNKNOWN;
	proto |= SMFIP_NOUNKNOWN;	/* the engine interface has no unknown hook */
	if (steps & PN_STEP_HEADER)
		proto |= SMFIP_HDR_LEADSPC | SMFIP_NR_HDR;
	if (steps & PN_STEP_BODY)
		proto |= SMFIP_NR_BODY;
	if ((act & f0) != act) {
		/* An MTA without SMFIF_ADDRCPT_PAR still takes plain ADDRCPT. */
		if ((act & ~SMFIF_ADDRCPT_PAR & f0) != (act & ~SMFIF_ADDRCPT_PAR))
			pn_log(PN_LOG_WARN, "MTA offers modifications 0x%lx, engine needs 0x%lx",
			       f0, act);
	}
	if ((steps & (PN_STEP_MAIL | PN_STEP_RCPT)) && (f0 & SMFIF_SETSYMLIST))
		act |= SMFIF_SETSYMLIST;
	*pf0 = act & f0;
	*pf1 = proto & f1;
	if ((*pf0 & SMFIF_SETSYMLIST)
	    && (((steps & PN_STEP_MAIL)
		 && smfi_setsymlist(ctx, SMFIM_ENVFROM, (char *)envfrom_macros) != MI_SUCCESS)
		|| ((steps & PN_STEP_RCPT)
		    && smfi_setsymlist(ctx, SMFIM_ENVRCPT, (char *)envrcpt_macros) != MI_SUCCESS)))
		pn_log(PN_LOG_WARN, "cannot ask the MTA for the envelope macros");
	/* Without LEADSPC or NR the callbacks must answer as usual. */
	if (!(*pf1 & SMFIP_HDR_LEADSPC) && (steps & PN_STEP_HEADER))
		pn_log(PN_LOG_DEBUG, "MTA does not offer SMFIP_HDR_LEADSPC");
	*pf2 = *pf3 = 0;
	c->mta_flags = *pf1;
	return SMFIS_CONTINUE;
}

/* pn_milter_register - register the shared callbacks for engine e */
int pn_milter_register(const char *daemon_name, const pn_engine *e)
{
	struct smfiDesc desc;

	engine = e;
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = (char *)daemon_name;
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR
			  | SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
	desc.xxfi_connect = cb_connect;
	desc.xxfi_helo = cb_helo;
	desc.xxfi_envfrom = cb_envfrom;
	desc.xxfi_envrcpt = cb_envrcpt;
	desc.xxfi_header = cb_header;
	desc.xxfi_eoh = cb_eoh;
	desc.xxfi_body = cb_body;
	desc.xxfi_eom = cb_eom;
	desc.xxfi_abort = cb_abort;
	desc.xxfi_close = cb_close;
	desc.xxfi_data = cb_data;
	desc.xxfi_negotiate = cb_negotiate;
	return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}
