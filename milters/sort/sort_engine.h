/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sort_engine - Sieve rules applied at the MTA: scripts, runs, milter actions
 * SYNOPSIS
 *	#include "milters/sort/sort_engine.h"
 *
 *	extern const pn_param sort_params[];
 *
 *	sort_state *sort_load(const pn_config *cfg, char **err);
 *	void sort_unload(sort_state *st);
 *	int sort_needs_body(const sort_state *st);
 *
 *	char **sort_env_items(const sort_state *st, const sort_facts *f);
 *	sort_outcome *sort_run(sort_state *st, const pn_msg *m,
 *	                       const char *const *items, const sv_script *only);
 *	void sort_apply(const sort_state *st, const sort_outcome *o,
 *	                const pn_msg *m, const char *queue_id, pn_actions *a);
 *	void sort_send(sort_state *st, const sort_outcome *o,
 *	               const char *sender, const char *queue_id);
 *	void sort_outcome_print(const sort_outcome *o, FILE *out);
 *	void sort_outcome_free(sort_outcome *o);
void sort_set_clock(sort_state *st, time_t now);
 *	void sort_set_clock(sort_state *st, time_t now);
 * DESCRIPTION
 *	The engine of postern-sort (sort_cache.c, sort_load.c, sort_run.c,
 *	sort_apply.c; sort_int.h), free of libmilter: the milter glue
 *	(sort_milter.c) and the offline tools (main.c) both call it, so they
 *	cannot disagree.
 *
 *	sort_load() reads the parameters of sort_params from cfg and builds
 *	the state: the limits, the global script (compiled now; a compile
 *	error fails the load), the per-domain and per-recipient script
 *	templates (every file they match at load time is compiled too, so
 *	`postern-sort check` validates them), and the GeoIP databases. The
 *	state is shared by all threads; its one mutable part, the cache of
 *	compiled scripts, has its own lock. Before each message the cache
 *	checks (stat) whether a script file changed and recompiles it once;
 *	a script that no longer compiles is reported once and its last good
 *	version stays in use (none for a new file).
 *
 *	sort_run() runs, for every recipient of m, the chain of scripts that
 *	applies to it (global, then domain, then recipient; a script that
 *	executes stop ends the chain) with that recipient as envelope "to",
 *	or only the script `only` when it is not NULL (the test tool).
 *	items are the environment items (sort_env_items() builds them from
 *	what the MTA told: client address and name, TLS, authentication,
 *	GeoIP country and AS of the client). Its cost does not grow with
 *	recipients x header size: every run reads the message's fields in
 *	place (sieve.h), and after each recipient's chain its header edits
 *	become modifications that are kept for the first recipient and, for
 *	the others, only compared with those (same_global, same_all).
 *
 *	Each recipient's runs get an include hook (sieve.h's sv_services):
 *	include :personal "NAME" is NAME.sieve in include_personal_dir
 *	expanded for that recipient (%d, %u as for user_scripts), :global
 *	is NAME.sieve in include_global_dir; both come from the script
 *	cache, so an included script is compiled once and again only when
 *	its file changes, and it is held until sort_outcome_free() (the
 *	actions name it). The clock scripts see is sort_set_clock()'s, or
 *	the time of the run.
 *
 *	Every decision on an address uses its canonical form (common/addr.h,
 *	the MTA's {rcpt_addr} / {mail_addr} when it sent them), never the
 *	path as spelled, so "<bob(x)@Example.ORG.>" is bob@example.org for
 *	the script templates (%d and %u, lower case), the fileinto
 *	subaddress and the duplicate-recipient checks; the Sieve envelope
 *	test sees the same address with the domain in the case the MTA gave
 *	(sv_envelope_address()), as RFC 5228 compares it.
 *
 *	sort_apply() turns the outcome into milter modifications and a
 *	verdict, and logs every applied action with the queue id, the
 *	script and its line:
 *	    keep       the recipient stays as it is.
 *	    fileinto   fileinto_method = subaddress: the recipient becomes
 *	               user+Folder@domain (recipient_delimiter), the form
 *	               Dovecot's lmtp_save_to_detail_mailbox files (the
 *	               interpreter already made INBOX, in any case, a
 *	               keep); a folder outside the safe set (ASCII
 *	               letters, digits, "-", "_", "." and "/" between names:
 *	               nothing Postfix's percent hack, bang paths or a
 *	               delivery agent would read) is kept instead (logged).
 *	               An original_recipient_header "<user@domain>" keeps
 *	               the original address visible, only for one envelope
 *	               recipient, no redirect, and an address already in
 *	               To/Cc/Resent-To/Resent-Cc (never a Bcc recipient).
 *	               header: the recipient stays, and a folder_header
 *	               "Folder" (no address) is added only when every final
 *	               recipient filed into the same folders; otherwise kept
 *	               (logged): the header section is every recipient's.
 *	    redirect   the address is added as a recipient; the original
 *	               goes unless kept. The message gets one
 *	               redirect_trace_header "hops=N" (no address). A message
 *	               that arrived with max_redirect_hops hops, or an older
 *	               trace header naming the address (a loop), is not
 *	               redirected again but kept.
 *	    (always)   incoming fields named folder_header,
 *	               redirect_trace_header or original_recipient_header
 *	               are deleted, and script edits of those names ignored.
 *	    discard    the recipient is removed; with no recipient left the
 *	               whole message is discarded.
 *	    reject, ereject  when every recipient rejects, the message is
 *	               refused with 550 5.7.1 and the script's text;
 *	               otherwise the rejecting recipients are removed and
 *	               the rejection is logged.
 *	    addheader, deleteheader  the header section is shared by all
 *	               recipients: the edits are applied when every
 *	               recipient's chain made the same edits; otherwise only
 *	               the global script's edits are applied (those made in
 *	               the run for the first recipient) and a warning says
 *	               per-recipient edits were ignored.
 *
 *	sort_set_clock() fixes the time currentdate (and the other
 *	clock readers of sieve.h's sv_env.now) see, for the test tool;
 *	0, the default, is the time of each run.
 *	sort_send() (sort_reply.c) turns the vacation and notify actions
 *	of the recipients that did not reject the message into messages
 *	for the outbound spool (sort_submit.h, parameters submit_method,
 *	submit_spool_dir, submit_max_queue): a vacation reply only when
 *	the interpreter found no RFC 3834 reason against it and the
 *	response store had no reply to that sender with that handle in
 *	the interval. Only the daemon calls it; `postern-sort test` never
 *	sends. sender is the envelope sender, for the notification text.
 *
 *	sort_outcome_print() writes each recipient's Sieve actions in the
 *	form of sv_result_print(), preceded by "recipient ADDR" lines when
 *	there is more than one recipient.
 * DIAGNOSTICS
 *	sort_load() returns NULL and sets *err to a message naming the file
 *	and, for a script, line:column and what was expected. Run-time
 *	errors in a script are logged (with the queue id) and the message is
 *	kept for that recipient, as RFC 5228 requires.
 */
#ifndef SORT_ENGINE_H
#define SORT_ENGINE_H

#include <stdio.h>
#include <time.h>

#include "common/actions.h"
#include "common/config.h"
#include "common/milter/msg.h"
#include "milters/sort/sieve.h"

typedef struct sort_state sort_state;

/* what the MTA told about the client, for the environment items */
typedef struct sort_facts {
	const char *client_addr;	/* NULL: unknown */
	const char *client_name;
	const char *mta_host;		/* the MTA's name ("j" macro) */
	const char *tls_version;	/* NULL: plain text */
	const char *auth_user;		/* NULL: not authenticated */
} sort_facts;

typedef struct sort_rcpt {
	const char *addr;		/* as the MTA gave it */
	const pn_addr *canon;		/* canonical (msg.h), NULL: no domain */
	pn_addr view;			/* as Sieve compares it (sieve.h) */
	int view_ok;			/* 0: no domain could be made out */
	sv_result res;
	pn_actions *edits_global;	/* header edits after the global script */
	pn_actions *edits_all;		/* header edits after the whole chain */
	/* the first recipient's edits are kept (the header section is
	 * shared); the others' are compared with them and dropped */
	int same_global, same_all;
	char *scripts;			/* scripts run, for the log */
	int ran;			/* number of scripts run */
	struct holder **held;		/* scripts included (sort_run.c), kept
					 * until the outcome is freed: actions
					 * name them */
	size_t nheld;
} sort_rcpt;

typedef struct sort_outcome {
	sort_state *st;			/* the state the run used */
	sort_rcpt *r;
	size_t n;
	sv_body *body;
	pn_addr from_view;		/* the sender as Sieve compares it */
	int from_view_ok;
	const char *body_missing;	/* a script that needs the body the
					 * connection did not negotiate, or NULL */
} sort_outcome;

extern const pn_param sort_params[];

sort_state *sort_load(const pn_config *cfg, char **err);
void sort_unload(sort_state *st);
int sort_needs_body(const sort_state *st);
const sv_limits *sort_limits(const sort_state *st);
char **sort_env_items(const sort_state *st, const sort_facts *f);
void sort_env_free(char **items);
sort_outcome *sort_run(sort_state *st, const pn_msg *m, const char *const *items,
		       const sv_script *only);
void sort_apply(const sort_state *st, const sort_outcome *o, const pn_msg *m,
		const char *queue_id, pn_actions *a);
void sort_send(sort_state *st, const sort_outcome *o, const char *sender,
	       const char *queue_id);
void sort_outcome_print(const sort_outcome *o, FILE *out);
void sort_outcome_free(sort_outcome *o);
void sort_set_clock(sort_state *st, time_t now);

#endif
