/* SPDX-License-Identifier: BSD-2-Clause */
/* audit_milter - postern-audit's engine hooks (see audit_milter.h) */
#include "milters/audit/audit_milter.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/milter/milter.h"
#include "milters/audit/record.h"

#include <string.h>
#include <syslog.h>
#include <time.h>

/* audit_emit - append to the trail, then copy to syslog */
int audit_emit(const audit_state *st, const char *body, size_t len, const char *queue_id,
	       char **err)
{
	pn_buf line;

	pn_buf_init(&line, 0);
	if (audit_trail_append(st->trail, body, len, &line, err) < 0) {
		pn_buf_free(&line);
		return -1;
	}
	/* Straight to syslog(3): pn_log would cut long records and they are
	 * JSON already, with every control character escaped. */
	if (st->syslog)
		syslog(LOG_MAIL | LOG_INFO, "%s%s", st->syslog_cee ? "@cee: " : "",
		       pn_buf_str(&line));
	if (pn_log_enabled(PN_LOG_DEBUG))
		pn_log_msg(PN_LOG_DEBUG, queue_id, "audit: %.200s", pn_buf_str(&line));
	pn_buf_free(&line);
	return 0;
}

/* record - build and emit one event's record; 0 or -1 (logged) */
static int record(pn_conn *c, pn_msg *m, audit_event ev)
{
	const audit_state *st = pn_snapshot_state(c->snap);
	audit_env env = {{0, 0}, NULL, NULL};
	const char *qid = m && m->queue_id ? m->queue_id : pn_conn_queue_id(c);
	char *body, *err = NULL;
	size_t len;
	int rc;

	clock_gettime(CLOCK_REALTIME, &env.now);
	if ((body = audit_record_build(st, c, m, ev, &env, &len, &err)) == NULL) {
		pn_log_msg(PN_LOG_ERROR, qid, "audit: cannot build the %s record: %s",
			   audit_event_name(ev), err);
		pn_free(err);
		return -1;
	}
	rc = audit_emit(st, body, len, qid, &err);
	if (rc < 0) {
		pn_log_msg(PN_LOG_ERROR, qid, "audit: %s record not written: %s",
			   audit_event_name(ev), err);
		pn_free(err);
	}
	pn_free(body);
	return rc;
}

/* audit_eom - no message passes without its record */
static pn_verdict audit_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	(void)a;
	if (record(c, m, AUDIT_EV_MESSAGE) < 0) {
		pn_conn_reply(c, "451", "4.3.0", "Audit trail unavailable, try again later");
		return pn_conn_on_error(c);
	}
	return PN_CONTINUE;
}

/* audit_abort - what was known of a message that did not end */
static void audit_abort(pn_conn *c, pn_msg *m)
{
	record(c, m, AUDIT_EV_ABORTED);
}

/* audit_close - a connection that carried no message still leaves a trace */
static void audit_close(pn_conn *c)
{
	const audit_state *st = pn_snapshot_state(c->snap);

	/* client_name is set by the connect step: no connect, nothing to say. */
	if (c->messages == 0 && st->connection_records && c->client_name)
		record(c, NULL, AUDIT_EV_CONNECTION);
}

/* audit_load - engine state from the configuration */
static void *audit_load(const pn_config *cfg, char **err)
{
	return audit_state_load(cfg, err);
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
	.load = audit_load,
	.unload = audit_unload,
	.on_eom = audit_eom,
	.on_abort = audit_abort,
	.on_close = audit_close,
};
