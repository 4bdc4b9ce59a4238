/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine_list - several engines behind one milter socket (see engine_list.h)
 *
 * The list is itself a pn_engine: the milter layer (milter.c) calls its
 * hooks, and each hook walks the running members in order with that
 * member's snapshot and data slots swapped into the shared pn_conn and
 * pn_msg (enter/leave), so a member's code cannot tell it is not alone.
 */
#include "common/milter/engine_list.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/text.h"
#include "common/milter/daemon.h"
#include "common/milter/milter.h"

#include <string.h>

/* the members and the list engine, filled once by pn_engine_list_define() */
static const pn_member *members;
static size_t nmembers;
static pn_param *list_params;
static pn_param **member_tables;
static pn_engine list_engine;

/* One running member: its snapshot (own configuration and state). */
typedef struct running {
	const pn_member *member;
	pn_snapshot *snap;
} running;

typedef struct list_state {
	size_t n;
	running run[PN_ENGINE_LIST_MAX];
} list_state;

/* What the list keeps per connection: each member's data and flags.
 * One message at a time per connection, so message slots live here too. */
typedef struct list_conn {
	void *conn_data[PN_ENGINE_LIST_MAX];
	void *msg_data[PN_ENGINE_LIST_MAX];
	int conn_done[PN_ENGINE_LIST_MAX];	/* accepted the connection */
	int msg_done[PN_ENGINE_LIST_MAX];	/* accepted this message */
	int eom_ran[PN_ENGINE_LIST_MAX];
	const char *refused_by;		/* member that refused at the last step */
} list_conn;

/* A member's view swapped into the shared context, and what it replaced. */
typedef struct swap {
	pn_snapshot *snap;
	void *conn_data;
	void *msg_data;
} swap;

static list_state *state_of(const pn_conn *c)
{
	return pn_snapshot_state(c->snap);
}

/* conn_of - the list's per-connection record, created on first use */
static list_conn *conn_of(pn_conn *c)
{
	if (c->engine_data == NULL)
		c->engine_data = pn_calloc(1, sizeof(list_conn));
	return c->engine_data;
}

/* enter - member i's snapshot and data become the context's */
static void enter(pn_conn *c, pn_msg *m, list_conn *lc, const list_state *st, size_t i,
		  swap *saved)
{
	saved->snap = c->snap;
	saved->conn_data = c->engine_data;
	saved->msg_data = NULL;
	c->snap = st->run[i].snap;
	c->engine_data = lc->conn_data[i];
	if (m) {
		saved->msg_data = m->engine_data;
		m->engine_data = lc->msg_data[i];
	}
}

/* leave - keep what member i attached, give the list its context back */
static void leave(pn_conn *c, pn_msg *m, list_conn *lc, size_t i, const swap *saved)
{
	lc->conn_data[i] = c->engine_data;
	c->engine_data = saved->conn_data;
	c->snap = saved->snap;
	if (m) {
		lc->msg_data[i] = m->engine_data;
		m->engine_data = saved->msg_data;
	}
}

static int is_refusal(pn_verdict v)
{
	return v == PN_REJECT || v == PN_TEMPFAIL || v == PN_DISCARD;
}

static int done(const list_conn *lc, size_t i)
{
	return lc->conn_done[i] || lc->msg_done[i];
}

/* The hooks the list can run for a step before end of message. */
enum early_step { AT_CONNECT, AT_HELO, AT_MAIL, AT_RCPT, AT_DATA, AT_EOH };

/* call_early - member e's hook for the step, PN_CONTINUE when it has none */
static pn_verdict call_early(const pn_engine *e, enum early_step step, pn_conn *c, pn_msg *m,
			     const pn_rcpt *r)
{
	switch (step) {
	case AT_CONNECT: return e->on_connect ? e->on_connect(c) : PN_CONTINUE;
	case AT_HELO: return e->on_helo ? e->on_helo(c) : PN_CONTINUE;
	case AT_MAIL: return e->on_mail ? e->on_mail(c, m) : PN_CONTINUE;
	case AT_RCPT: return e->on_rcpt ? e->on_rcpt(c, m, r) : PN_CONTINUE;
	case AT_DATA: return e->on_data ? e->on_data(c, m) : PN_CONTINUE;
	case AT_EOH: return e->on_eoh ? e->on_eoh(c, m) : PN_CONTINUE;
	}
	return PN_CONTINUE;
}

/* run_early - every member that is not done, in order, until one refuses
 *
 * The verdict is the refusal, or PN_ACCEPT once every member is done (the
 * MTA then stops calling), else PN_CONTINUE. The refusing member is kept
 * for on_outcome, which the milter layer calls next.
 */
static pn_verdict run_early(enum early_step step, pn_conn *c, pn_msg *m, const pn_rcpt *r)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	int connection_wide = step == AT_CONNECT || step == AT_HELO;
	size_t i, still = 0;
	swap sw;

	lc->refused_by = NULL;
	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;
		pn_verdict v;

		if (done(lc, i))
			continue;
		enter(c, m, lc, st, i, &sw);
		v = call_early(e, step, c, m, r);
		leave(c, m, lc, i, &sw);
		if (is_refusal(v)) {
			lc->refused_by = st->run[i].member->name;
			return v;
		}
		if (v == PN_ACCEPT) {
			if (connection_wide)
				lc->conn_done[i] = 1;
			else
				lc->msg_done[i] = 1;
		}
	}
	for (i = 0; i < st->n; i++)
		still += !done(lc, i);
	return still ? PN_CONTINUE : PN_ACCEPT;
}

static pn_verdict list_connect(pn_conn *c)
{
	return run_early(AT_CONNECT, c, NULL, NULL);
}

static pn_verdict list_helo(pn_conn *c)
{
	return run_early(AT_HELO, c, NULL, NULL);
}

static pn_verdict list_mail(pn_conn *c, pn_msg *m)
{
	return run_early(AT_MAIL, c, m, NULL);
}

static pn_verdict list_rcpt(pn_conn *c, pn_msg *m, const pn_rcpt *r)
{
	return run_early(AT_RCPT, c, m, r);
}

static pn_verdict list_data(pn_conn *c, pn_msg *m)
{
	return run_early(AT_DATA, c, m, NULL);
}

static pn_verdict list_eoh(pn_conn *c, pn_msg *m)
{
	return run_early(AT_EOH, c, m, NULL);
}

/* body_failure - a member that reads bodies answers an unspooled body
 * with its own on_error (c->snap is the member's: see enter()) */
static pn_verdict body_failure(pn_conn *c, const pn_msg *m, const pn_member *mb,
			       pn_actions *a)
{
	pn_verdict v = pn_conn_on_error(c);

	pn_log_msg(PN_LOG_ERROR, m->queue_id, "%s: body could not be spooled: answering %s",
		   mb->name, pn_verdict_name(v));
	if (v == PN_TEMPFAIL)
		pn_actions_set_reply(a, v, "451", "4.3.0",
				     "Temporary local problem, try again later");
	return v;
}

/* take_actions - move member actions mine into the message's list out */
static void take_actions(pn_actions *out, pn_actions *mine)
{
	size_t i;

	for (i = 0; i < mine->count; i++) {
		if (out->count == out->cap) {
			out->cap = out->cap ? 2 * out->cap : 8;
			out->items = pn_realloc(out->items, out->cap * sizeof(*out->items));
		}
		out->items[out->count++] = mine->items[i];
	}
	mine->count = 0;
}

/* list_eom - every member's end of message, in order, on the message as
 * received; the first refusal ends the run and is the answer */
static pn_verdict list_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	size_t i;
	swap sw;

	lc->refused_by = NULL;
	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;
		pn_actions *mine;
		pn_verdict v;

		if (done(lc, i))
			continue;
		mine = pn_actions_new();
		enter(c, m, lc, st, i, &sw);
		lc->eom_ran[i] = 1;
		if (m->body_error && (e->steps & PN_STEP_BODY))
			v = body_failure(c, m, st->run[i].member, mine);
		else
			v = e->on_eom ? e->on_eom(c, m, mine) : PN_CONTINUE;
		leave(c, m, lc, i, &sw);
		if (mine->verdict == PN_CONTINUE)
			mine->verdict = v;
		if (is_refusal(mine->verdict)) {
			lc->refused_by = st->run[i].member->name;
			/* a refused message is not modified: its reply is all */
			pn_actions_clear(a);
			if (mine->rcode)
				pn_actions_set_reply(a, mine->verdict, mine->rcode, mine->xcode,
						     mine->text);
			a->verdict = mine->verdict;
			pn_actions_free(mine);
			return a->verdict;
		}
		if (mine->verdict == PN_ACCEPT)
			lc->msg_done[i] = 1;
		take_actions(a, mine);
		pn_actions_free(mine);
	}
	a->verdict = PN_CONTINUE;
	return PN_CONTINUE;
}

/* list_outcome - tell the members the answer the MTA got
 *
 * Before end of message: every member, the refusing one included (the
 * layer calls this only for a refusal). At end of message: the members
 * whose on_eom ran and those a refusal (a member's, or the layer's for
 * header limits) kept from running; not those that accepted earlier.
 */
static void list_outcome(pn_conn *c, pn_msg *m, const pn_outcome *o)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	pn_outcome mine = *o;
	size_t i;
	swap sw;

	if (o->by && lc->refused_by)
		mine.by = lc->refused_by;
	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;

		/* at the end: not those that accepted the message earlier */
		if (o->step == PN_STEP_EOM && !lc->eom_ran[i] && done(lc, i))
			continue;
		if (e->on_outcome == NULL)
			continue;
		enter(c, m, lc, st, i, &sw);
		e->on_outcome(c, m, &mine);
		leave(c, m, lc, i, &sw);
	}
	if (o->step == PN_STEP_EOM) {
		memset(lc->eom_ran, 0, sizeof(lc->eom_ran));
		lc->refused_by = NULL;
	}
}

/* list_abort - the message ended without end of message */
static void list_abort(pn_conn *c, pn_msg *m)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	size_t i;
	swap sw;

	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;

		if (e->on_abort == NULL)
			continue;
		enter(c, m, lc, st, i, &sw);
		e->on_abort(c, m);
		leave(c, m, lc, i, &sw);
	}
}

/* free_member_data - each member frees what it attached to m (or, with m
 * NULL, to the connection) with its own free hook */
static void free_member_data(pn_conn *c, pn_msg *m)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	void **slot = m ? lc->msg_data : lc->conn_data;
	size_t i;
	swap sw;

	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;

		if (slot[i] && (m ? e->free_msg != NULL : e->free_conn != NULL)) {
			enter(c, m, lc, st, i, &sw);
			if (m) {
				e->free_msg(c, m);
				m->engine_data = NULL;
			} else {
				e->free_conn(c);
				c->engine_data = NULL;
			}
			leave(c, m, lc, i, &sw);
		}
		slot[i] = NULL;
	}
}

/* list_free_msg - each member frees its message data; flags start over */
static void list_free_msg(pn_conn *c, pn_msg *m)
{
	list_conn *lc = conn_of(c);

	free_member_data(c, m);
	memset(lc->msg_done, 0, sizeof(lc->msg_done));
	memset(lc->eom_ran, 0, sizeof(lc->eom_ran));
}

/* list_close - connection over: each member's close, then its data */
static void list_close(pn_conn *c)
{
	list_state *st = state_of(c);
	list_conn *lc = conn_of(c);
	size_t i;
	swap sw;

	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;

		enter(c, NULL, lc, st, i, &sw);
		if (e->on_close)
			e->on_close(c);
		leave(c, NULL, lc, i, &sw);
	}
}

/* list_free_conn - each member's connection data, then the list's own */
static void list_free_conn(pn_conn *c)
{
	list_conn *lc = conn_of(c);

	free_member_data(c, NULL);
	pn_free(lc);
	c->engine_data = NULL;
}

/* list_steps - what the running members need negotiated */
static unsigned list_steps(const void *state)
{
	const list_state *st = state;
	unsigned steps = 0;
	size_t i;

	for (i = 0; i < st->n; i++) {
		const pn_engine *e = st->run[i].member->engine;
		steps |= e->steps_for ? e->steps_for(pn_snapshot_state(st->run[i].snap)) : e->steps;
	}
	return steps;
}

/* list_watch - every member's watched files are the list's */
static void list_watch(const void *state, pn_snapshot *s)
{
	const list_state *st = state;
	size_t i;

	for (i = 0; i < st->n; i++)
		pn_snapshot_watch_like(s, st->run[i].snap);
}

/* list_serve - every member that has background work starts it */
static void list_serve(void *state)
{
	list_state *st = state;
	size_t i;

	for (i = 0; i < st->n; i++)
		if (st->run[i].member->engine->serve)
			st->run[i].member->engine->serve(pn_snapshot_state(st->run[i].snap));
}

/* list_stop_serving - every member that started work for the process ends it */
static void list_stop_serving(void *state)
{
	list_state *st = state;
	size_t i;

	for (i = 0; i < st->n; i++)
		if (st->run[i].member->engine->stop_serving)
			st->run[i].member->engine->stop_serving(
				pn_snapshot_state(st->run[i].snap));
}

/* list_unload - every member's snapshot goes (its state with it) */
static void list_unload(void *state)
{
	list_state *st = state;
	size_t i;

	for (i = st ? st->n : 0; i > 0; i--)
		pn_snapshot_release(st->run[i - 1].snap);
	pn_free(st);
}

/* named - is name one of the words of the engines list? */
static int named(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		size_t w;
		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == n && strncmp(p, name, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}

/* unknown_engine - the first word of list no member has, or NULL */
static char *unknown_engine(const char *list)
{
	const char *p = list;

	while (*p) {
		size_t w, i;
		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == 0)
			break;
		for (i = 0; i < nmembers; i++)
			if (strlen(members[i].name) == w && strncmp(p, members[i].name, w) == 0)
				break;
		if (i == nmembers)
			return pn_strndup(p, w);
		p += w;
	}
	return NULL;
}

/* load_member - member mb's file, parsed as its daemon would, and its state */
static pn_snapshot *load_member(const pn_config *cfg, size_t k, char **err)
{
	const pn_member *mb = &members[k];
	const char *path = pn_config_str(cfg, mb->config_param);
	pn_config *mcfg;
	pn_snapshot *s;
	char *why = NULL;

	if ((mcfg = pn_config_load(path, member_tables[k], &why)) == NULL) {
		*err = pn_asprintf("engine %s: %s", mb->name, why);
		pn_free(why);
		return NULL;
	}
	if ((s = pn_snapshot_new(mb->engine, mcfg, &why)) == NULL) {
		*err = pn_asprintf("engine %s (%s): %s", mb->name, path, why);
		pn_free(why);
		return NULL;
	}
	return s;
}

/* list_load - every engine the configuration names, or none at all */
static void *list_load(const pn_config *cfg, char **err)
{
	const char *names = pn_config_str(cfg, "engines");
	list_state *st;
	char *bad;
	size_t k;

	if ((bad = unknown_engine(names)) != NULL) {
		*err = pn_asprintf("parameter \"engines\": unknown engine \"%s\"", bad);
		pn_free(bad);
		return NULL;
	}
	st = pn_calloc(1, sizeof(*st));
	for (k = 0; k < nmembers; k++) {
		if (!named(names, members[k].name))
			continue;
		if ((st->run[st->n].snap = load_member(cfg, k, err)) == NULL) {
			list_unload(st);
			return NULL;
		}
		st->run[st->n++].member = &members[k];
		pn_log(PN_LOG_DEBUG, "engine %s: %s loaded", members[k].name,
		       pn_config_str(cfg, members[k].config_param));
	}
	if (st->n == 0) {
		*err = pn_strdup("parameter \"engines\": names no engine");
		list_unload(st);
		return NULL;
	}
	return st;
}

/* pn_engine_list_member - a running member's configuration and state */
int pn_engine_list_member(const void *state, const char *name, const pn_config **cfg,
			  void **engine_state)
{
	const list_state *st = state;
	size_t i;

	for (i = 0; st && i < st->n; i++) {
		if (strcmp(st->run[i].member->name, name) == 0) {
			*cfg = pn_snapshot_config(st->run[i].snap);
			*engine_state = pn_snapshot_state(st->run[i].snap);
			return 0;
		}
	}
	return -1;
}

/* pn_engine_list_define - the list engine over these members (once) */
const pn_engine *pn_engine_list_define(const pn_member *m)
{
	size_t i;
	pn_buf all;

	members = m;
	for (nmembers = 0; m[nmembers].name && nmembers < PN_ENGINE_LIST_MAX; nmembers++)
		;
	member_tables = pn_calloc(nmembers, sizeof(*member_tables));
	list_params = pn_calloc(nmembers + 2, sizeof(pn_param));
	pn_buf_init(&all, 0);
	for (i = 0; i < nmembers; i++) {
		member_tables[i] = pn_engine_table(m[i].engine);
		list_engine.steps |= m[i].engine->steps;
		list_engine.mods |= m[i].engine->mods;
		pn_buf_printf(&all, "%s%s", i ? " " : "", m[i].name);
		pn_metrics_expose(m[i].name);	/* every member's families, even if off */
		list_params[i + 1] = (pn_param){m[i].config_param, PN_PARAM_STR, m[i].default_file,
						0, 0, NULL, "configuration file of this engine"};
	}
	list_params[0] = (pn_param){"engines", PN_PARAM_STR, pn_buf_str(&all), 0, 0, NULL,
				    "engines to run, always in the order tls, sort, archive, audit"};
	/* the default list lives as long as the process */
	list_engine.name = "suite";
	list_engine.params = list_params;
	list_engine.own_body_errors = 1;
	list_engine.steps_for = list_steps;
	list_engine.watch_files = list_watch;
	list_engine.serve = list_serve;
	list_engine.stop_serving = list_stop_serving;
	list_engine.load = list_load;
	list_engine.unload = list_unload;
	list_engine.on_connect = list_connect;
	list_engine.on_helo = list_helo;
	list_engine.on_mail = list_mail;
	list_engine.on_rcpt = list_rcpt;
	list_engine.on_data = list_data;
	list_engine.on_eoh = list_eoh;
	list_engine.on_eom = list_eom;
	list_engine.on_outcome = list_outcome;
	list_engine.on_abort = list_abort;
	list_engine.on_close = list_close;
	list_engine.free_msg = list_free_msg;
	list_engine.free_conn = list_free_conn;
	return &list_engine;
}
