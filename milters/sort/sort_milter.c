/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_milter - postern-sort's engine hooks for the shared milter layer
 *
 * Translates what the MTA told (connection facts, macros, the message)
 * into the engine's inputs at end of message, and the engine's outcome
 * into the pn_actions list the layer applies. No libmilter here either.
 */
#include "milters/sort/sort_milter.h"
#include "milters/sort/sort_engine.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "common/milter/milter.h"

#include <string.h>

/* glue_load - engine state from the configuration */
static void *glue_load(const pn_config *cfg, char **err)
{
	return sort_load(cfg, err);
}

/* glue_unload - free the engine state */
static void glue_unload(void *state)
{
	sort_unload(state);
}

/* sort_facts_of - what the MTA told about the client */
void sort_facts_of(const pn_conn *c, sort_facts *f)
{
	const char *auth = pn_conn_macro(c, "{auth_authen}");

	memset(f, 0, sizeof(*f));
	f->client_addr = c->client_addr;
	f->client_name = c->client_name;
	f->mta_host = pn_conn_macro(c, "j");
	f->tls_version = pn_conn_macro(c, "{tls_version}");
	f->auth_user = auth && *auth ? auth : NULL;
}

/* glue_eom - run every recipient's scripts and turn the actions into modifications */
static pn_verdict glue_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	sort_state *st = pn_snapshot_state(c->snap);
	sort_facts f;
	char **items;
	sort_outcome *o;

	if (m->nrcpts == 0)
		return PN_CONTINUE;
	sort_facts_of(c, &f);
	items = sort_env_items(st, &f);
	o = sort_run(st, m, (const char *const *)items, NULL);
	if (o->body_missing) {
		/* Sorting without the body would give wrong answers: the client
		 * retries, and by then a reload has asked the MTA for bodies. */
		pn_log_msg(PN_LOG_WARN, m->queue_id, "sort: %s tests the body or size, which "
			   "this connection did not ask for: tempfail and reload", o->body_missing);
		pn_daemon_request_reload();
		pn_conn_reply(c, "451", "4.3.0", "Sorting rules changed, try again later");
		sort_outcome_free(o);
		sort_env_free(items);
		return PN_TEMPFAIL;
	}
	sort_apply(st, o, m, m->queue_id, a);
	sort_outcome_free(o);
	sort_env_free(items);
	return PN_CONTINUE;
}

/* glue_steps - the body only when a script tests the body or the size */
static unsigned glue_steps(const void *state)
{
	unsigned steps = sort_engine.steps;

	if (!sort_needs_body(state))
		steps &= ~(unsigned)PN_STEP_BODY;
	return steps;
}

/*
 * .steps is what the daemon may need; glue_steps() drops the body for the
 * connections of a snapshot whose scripts test neither body nor size.
 */
const pn_engine sort_engine = {
	.name = "sort",
	.params = sort_params,
	.steps = PN_STEP_CONNECT | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_HEADER | PN_STEP_BODY
		 | PN_STEP_EOM,
	.mods = PN_MOD_ADD_HEADER | PN_MOD_CHANGE_HEADER | PN_MOD_ADD_RCPT | PN_MOD_DELETE_RCPT,
	.steps_for = glue_steps,
	.load = glue_load,
	.unload = glue_unload,
	.on_eom = glue_eom,
};
