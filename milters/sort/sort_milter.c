/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_milter - postern-sort's engine hooks for the shared milter layer
 *
 * Translates what the MTA told (connection facts, macros, the message)
 * into the engine's inputs at end of message, and the engine's outcome
 * into the pn_actions list the layer applies. No libmilter here either.
 *
 * The decision also goes into the message's story (msg.h), for the audit
 * engine of a postern-suite: "actions" lists each recipient's actions
 * ("bob@example.org: fileinto Lists; carol@example.org: redirect
 * <x@example.net>, keep"), "verdict" the message's (continue, reject,
 * discard, tempfail) and "reason" a reject's text. Each word is cut and
 * made printable and the whole note is bounded (NOTE_MAX), whatever the
 * scripts or the mail hold.
 */
#include "milters/sort/sort_milter.h"
#include "milters/sort/sort_engine.h"
#include "common/alloc.h"
#include "common/buf.h"
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

/* Longest note value, and longest single word in it */
#define NOTE_MAX 400
#define WORD_MAX 80

/* put_word - s, printable and at most WORD_MAX bytes, appended to b */
static void put_word(pn_buf *b, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i < WORD_MAX; i++)
		pn_buf_putc(b, (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i]);
	if (s && strlen(s) > WORD_MAX)
		pn_buf_puts(b, "...");
}

/* one_action - one Sieve action in a few words */
static void one_action(pn_buf *b, const sv_action *x)
{
	switch (x->type) {
	case SV_ACT_KEEP: pn_buf_puts(b, "keep"); break;
	case SV_ACT_DISCARD: pn_buf_puts(b, "discard"); break;
	case SV_ACT_FILEINTO: pn_buf_puts(b, "fileinto "); put_word(b, x->arg); break;
	case SV_ACT_REDIRECT:
		pn_buf_puts(b, x->copy ? "redirect :copy <" : "redirect <");
		put_word(b, x->arg);
		pn_buf_putc(b, '>');
		break;
	case SV_ACT_REJECT: pn_buf_puts(b, "reject"); break;
	case SV_ACT_EREJECT: pn_buf_puts(b, "ereject"); break;
	case SV_ACT_ADDHEADER: pn_buf_puts(b, "addheader "); put_word(b, x->arg); break;
	case SV_ACT_DELETEHEADER: pn_buf_puts(b, "deleteheader "); put_word(b, x->arg); break;
	case SV_ACT_VACATION: pn_buf_puts(b, "vacation"); break;
	case SV_ACT_NOTIFY: pn_buf_puts(b, "notify"); break;
	}
}

/* note_outcome - each recipient's actions and the verdict, in the story */
static void note_outcome(pn_msg *m, const sort_outcome *o, const pn_actions *a)
{
	pn_buf b, one;
	size_t i, j;

	pn_buf_init(&b, 0);
	pn_buf_init(&one, 0);
	for (i = 0; i < o->n; i++) {
		const sv_result *R = &o->r[i].res;
		size_t shown = 0;

		pn_buf_reset(&one);
		if (i)
			pn_buf_puts(&one, "; ");
		put_word(&one, o->r[i].view_ok ? o->r[i].view.address : o->r[i].addr);
		pn_buf_puts(&one, ":");
		for (j = 0; j < R->nacts; j++) {
			pn_buf_puts(&one, shown++ ? ", " : " ");
			one_action(&one, &R->acts[j]);
		}
		if (R->implicit_keep && !R->explicit_keep)
			pn_buf_puts(&one, shown++ ? ", keep (implicit)" : " keep (implicit)");
		if (R->error)
			pn_buf_puts(&one, shown++ ? ", run-time error" : " run-time error");
		if (pn_buf_len(&b) + pn_buf_len(&one) > NOTE_MAX) {
			pn_buf_puts(&b, "; ...");
			break;
		}
		pn_buf_append(&b, pn_buf_str(&one), pn_buf_len(&one));
	}
	if (pn_buf_len(&b))
		pn_msg_note(m, "sort", "actions", pn_buf_str(&b));
	pn_msg_note(m, "sort", "verdict", pn_verdict_name(a->verdict));
	if (a->verdict == PN_REJECT && a->text) {
		pn_buf_reset(&one);
		put_word(&one, a->text);
		pn_msg_note(m, "sort", "reason", pn_buf_str(&one));
	}
	pn_buf_free(&one);
	pn_buf_free(&b);
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
		pn_msg_note(m, "sort", "verdict", "tempfail");
		pn_msg_note(m, "sort", "reason", "a script needs the body: rules changed");
		sort_outcome_free(o);
		sort_env_free(items);
		return PN_TEMPFAIL;
	}
	sort_apply(st, o, m, m->queue_id, a);
	note_outcome(m, o, a);
	/* RFC 5230 section 4.7: a reply goes with anything but a refusal;
	 * it is only spooled here, a thread of its own sends it */
	if (a->verdict != PN_REJECT && a->verdict != PN_TEMPFAIL)
		sort_send(st, o, m->sender, m->queue_id);
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
