/* SPDX-License-Identifier: BSD-2-Clause */
/* audit_milter - postern-audit's engine hooks (see audit_milter.h) */
#include "milters/audit/audit_milter.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/milter/milter.h"
#include "milters/audit/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* emit_line - append to the trail, then copy to syslog; line gets the sealed line */
static int emit_line(const audit_state *st, const char *body, size_t len, const char *queue_id,
		     pn_buf *out, char **err)
{
	pn_buf line;

	pn_buf_init(&line, 0);
	if (audit_trail_append(st->trail, body, len, &line, err) < 0) {
		pn_metric_inc(PN_M_AUDIT_WRITE_FAILURES, 0);
		pn_buf_free(&line);
		return -1;
	}
	pn_metric_inc(PN_M_AUDIT_RECORDS, 0);
	pn_metric_add(PN_M_AUDIT_BYTES, 0, pn_buf_len(&line) + 1);
	/* The central store follows the trail in a thread of its own. */
	audit_shipper_wake(st->shipper);
	/* Straight to syslog(3): pn_log would cut long records and they are
	 * JSON already, with every control character escaped. */
	if (st->syslog)
		syslog(LOG_MAIL | LOG_INFO, "%s%s", st->syslog_cee ? "@cee: " : "",
		       pn_buf_str(&line));
	if (pn_log_enabled(PN_LOG_DEBUG))
		pn_log_msg(PN_LOG_DEBUG, queue_id, "audit: %.200s", pn_buf_str(&line));
	if (out)
		pn_buf_puts(out, pn_buf_str(&line));
	pn_buf_free(&line);
	return 0;
}

/* audit_emit - append to the trail, then copy to syslog */
int audit_emit(const audit_state *st, const char *body, size_t len, const char *queue_id,
	       char **err)
{
	return emit_line(st, body, len, queue_id, NULL, err);
}

/* What audit knows of one message (m->engine_data). */
typedef struct audit_msg_data {
	int eom_ran;			/* on_eom was called */
	unsigned long long seq;		/* seq of the message record, 0: none written */
	int refusals;			/* refused records written for this message */
	int ended;			/* one of them refused the whole message */
} audit_msg_data;

/* What audit knows of one connection (c->engine_data). */
typedef struct audit_conn_data {
	int refusals;			/* refused records written before any message */
} audit_conn_data;

/* msg_data - the message's audit data, created on first use */
static audit_msg_data *msg_data(pn_msg *m)
{
	if (m->engine_data == NULL)
		m->engine_data = pn_calloc(1, sizeof(audit_msg_data));
	return m->engine_data;
}

/* conn_data - the connection's audit data, created on first use */
static audit_conn_data *conn_data(pn_conn *c)
{
	if (c->engine_data == NULL)
		c->engine_data = pn_calloc(1, sizeof(audit_conn_data));
	return c->engine_data;
}

/* seq_of - the seq of a sealed line ({"schema":1,"seq":N,...}), 0 if none */
static unsigned long long seq_of(const char *line)
{
	const char *p = strstr(line, "\"seq\":");

	return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* record - build and emit one event's record (with the outcome o for
 * refused and outcome records); 0 or -1 (logged). *seq gets its seq. */
static int record(pn_conn *c, pn_msg *m, audit_event ev, const pn_outcome *o,
		  unsigned long long corrects, unsigned long long *seq)
{
	const audit_state *st = pn_snapshot_state(c->snap);
	audit_env env = {{0, 0}, NULL, NULL};
	const char *qid = m && m->queue_id ? m->queue_id : pn_conn_queue_id(c);
	char *body, *err = NULL;
	pn_buf line;
	size_t len;
	int rc;

	clock_gettime(CLOCK_REALTIME, &env.now);
	body = o ? audit_record_build_outcome(st, c, m, ev, &env, o, corrects, &len, &err)
		 : audit_record_build(st, c, m, ev, &env, &len, &err);
	if (body == NULL) {
		pn_log_msg(PN_LOG_ERROR, qid, "audit: cannot build the %s record: %s",
			   audit_event_name(ev), err);
		pn_free(err);
		return -1;
	}
	pn_buf_init(&line, 0);
	rc = emit_line(st, body, len, qid, &line, &err);
	if (rc < 0) {
		pn_log_msg(PN_LOG_ERROR, qid, "audit: %s record not written: %s",
			   audit_event_name(ev), err);
		pn_free(err);
	} else if (seq) {
		*seq = seq_of(pn_buf_str(&line));
	}
	pn_buf_free(&line);
	pn_free(body);
	return rc;
}

/* audit_eom - no message passes without its record */
static pn_verdict audit_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	audit_msg_data *d = msg_data(m);
	char seq[32];

	(void)a;
	d->eom_ran = 1;
	if (record(c, m, AUDIT_EV_MESSAGE, NULL, 0, &d->seq) < 0) {
		pn_conn_reply(c, "451", "4.3.0", "Audit trail unavailable, try again later");
		return pn_conn_on_error(c);
	}
	snprintf(seq, sizeof(seq), "%llu", d->seq);
	pn_msg_note(m, "audit", "seq", seq);
	return PN_CONTINUE;
}

/* is_refusal - the MTA did not take the message (or the recipient) */
static int is_refusal(pn_verdict v)
{
	return v == PN_REJECT || v == PN_TEMPFAIL || v == PN_DISCARD;
}

/* audit_outcome - refused attempts, and a final verdict the message
 * record did not say */
static void audit_outcome(pn_conn *c, pn_msg *m, const pn_outcome *o)
{
	audit_msg_data *d;

	if (m == NULL) {
		/* connect or HELO refused: no message, the connection's record */
		if (is_refusal(o->verdict) && record(c, NULL, AUDIT_EV_REFUSED, o, 0, NULL) == 0)
			conn_data(c)->refusals++;
		return;
	}
	d = msg_data(m);
	if (o->step != PN_STEP_EOM) {
		if (!is_refusal(o->verdict) || record(c, m, AUDIT_EV_REFUSED, o, 0, NULL) < 0)
			return;
		d->refusals++;
		if (o->step != PN_STEP_RCPT)
			d->ended = 1;
		return;
	}
	if (d->seq) {
		/* the record said "received"; the MTA was told otherwise after it */
		if (is_refusal(o->verdict))
			record(c, m, AUDIT_EV_OUTCOME, o, d->seq, NULL);
		return;
	}
	if (d->eom_ran)
		return;		/* our own record failed: logged, answered with on_error */
	if (is_refusal(o->verdict)) {
		/* refused before audit's turn (an earlier engine, the layer) */
		if (record(c, m, AUDIT_EV_REFUSED, o, 0, NULL) == 0) {
			d->refusals++;
			d->ended = 1;
		}
		return;
	}
	/* accepted without audit's end of message: still no message without a record */
	record(c, m, AUDIT_EV_MESSAGE, NULL, 0, &d->seq);
}

/* audit_abort - what was known of a message that did not end */
static void audit_abort(pn_conn *c, pn_msg *m)
{
	const audit_msg_data *d = m->engine_data;

	/* a refused attempt's records already tell how it ended */
	if (d && (d->ended || (d->refusals && m->nrcpts == 0)))
		return;
	record(c, m, AUDIT_EV_ABORTED, NULL, 0, NULL);
}

/* audit_close - a connection that carried no message still leaves a trace */
static void audit_close(pn_conn *c)
{
	const audit_state *st = pn_snapshot_state(c->snap);
	const audit_conn_data *d = c->engine_data;

	/* client_name is set by the connect step: no connect, nothing to say;
	 * a connection refused at connect or HELO has its refused record. */
	if (c->messages == 0 && st->connection_records && c->client_name
	    && !(d && d->refusals))
		record(c, NULL, AUDIT_EV_CONNECTION, NULL, 0, NULL);
}

/* audit_free_msg - the message's audit data */
static void audit_free_msg(pn_conn *c, pn_msg *m)
{
	(void)c;
	pn_free(m->engine_data);
	m->engine_data = NULL;
}

/* audit_free_conn - the connection's audit data */
static void audit_free_conn(pn_conn *c)
{
	pn_free(c->engine_data);
	c->engine_data = NULL;
}

/* audit_load - engine state from the configuration */
static void *audit_load(const pn_config *cfg, char **err)
{
	return audit_state_load(cfg, err);
}

/* audit_serve - the serving worker: ship what the trail holds without waiting for mail */
static void audit_serve(void *state)
{
	const audit_state *st = state;

	audit_shipper_wake(st->shipper);
}

/* audit_unload - drop the state (the trail survives while used) */
static void audit_unload(void *state)
{
	audit_state_free(state);
}

const pn_engine audit_engine = {
	.name = "audit",
	.params = audit_params,
	.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_HEADER
		 | PN_STEP_BODY | PN_STEP_EOM,
	.mods = 0,
	.serve = audit_serve,
	.load = audit_load,
	.unload = audit_unload,
	.on_eom = audit_eom,
	.on_outcome = audit_outcome,
	.on_abort = audit_abort,
	.on_close = audit_close,
	.free_msg = audit_free_msg,
	.free_conn = audit_free_conn,
};
