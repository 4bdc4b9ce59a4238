/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	engine_list - several engines behind one milter socket, in one order
 * SYNOPSIS
 *	#include "common/milter/engine_list.h"
 *
 *	static const pn_member members[] = {
 *		{"tls", &ptls_engine, "tls_config", "/etc/postern/tls.conf"},
 *		{"sort", &sort_engine, "sort_config", "/etc/postern/sort.conf"},
 *		{NULL, NULL, NULL, NULL}
 *	};
 *	const pn_engine *e = pn_engine_list_define(members);
 *
 *	int pn_engine_list_member(const void *state, const char *name,
 *	                          const pn_config **cfg, void **engine_state);
 * DESCRIPTION
 *	pn_engine_list_define() returns one pn_engine that runs, for every
 *	connection, the members the configuration's `engines` parameter
 *	names, always in the members' order (postern-suite: tls, sort,
 *	archive, audit), like Postfix's list of milters but in one process
 *	and one hop. The milter layer sees a single engine; each member
 *	sees what it would see as its own daemon:
 *
 *	- its own configuration, read from the file that the parameter
 *	  member.config_param names (the very file its separate daemon reads,
 *	  parsed with that daemon's table, so its socket, user and the like
 *	  are accepted and ignored), and its own state, as its own snapshot:
 *	  during a hook c->snap is the member's snapshot, so
 *	  pn_snapshot_state(), pn_snapshot_config() and pn_conn_on_error()
 *	  (each member's own on_error) work unchanged;
 *	- its own c->engine_data and m->engine_data;
 *	- its own "done" flag: a member that answers PN_ACCEPT is not called
 *	  again for that message (for the connection when it accepted at
 *	  connect or HELO) while the others go on; the MTA hears "accept"
 *	  only when every member is done;
 *	- one message, shared: envelope, headers and the body spooled once.
 *	  Members only describe modifications (pn_actions), applied after
 *	  all of them ran, so a later member sees the message as received,
 *	  never an earlier member's changes. Notes (pn_msg_note) are how
 *	  members tell each other what they decided.
 *
 *	At each step the first member that refuses (reject, tempfail,
 *	discard) decides: the members after it are not called for that step,
 *	and every member is told the refusal through its on_outcome hook
 *	(o->by names the member that refused). At end of message the members'
 *	actions are joined in order; a member whose on_eom refuses ends the
 *	run there, its reply is the message's; once the actions are applied
 *	every member whose on_eom ran, and those after a refusal, are told
 *	the final verdict (on_outcome, step PN_STEP_EOM), so a member that
 *	stored the message takes it back when the MTA was told to retry.
 *	A body that could not be spooled fails only the members that read
 *	bodies, each with its own on_error.
 *
 *	The negotiated steps are the union of the running members' steps;
 *	the files members watch (engine.h) are all watched, and a change
 *	reloads the whole list as SIGHUP does.
 *
 *	The list's own parameters (e->params) are `engines` (default: every
 *	member) and one *_config parameter per member, defaulting to its
 *	default_file.
 *	pn_engine_list_member() finds a running member's configuration and
 *	state in the list's state, for a tool (postern-suite why).
 * DIAGNOSTICS
 *	Loading fails with a message naming the member and its file. A
 *	member's file that cannot be read, or names an unknown engine,
 *	fails the whole list: a configuration is loaded entirely or not.
 *	pn_engine_list_member() returns 0, or -1 when that member is not
 *	running.
 * BUGS
 *	One process holds every member's data and keys: see postern-suite(8).
 */
#ifndef PN_ENGINE_LIST_H
#define PN_ENGINE_LIST_H

#include "common/config.h"
#include "common/milter/engine.h"

#define PN_ENGINE_LIST_MAX 8

typedef struct pn_member {
	const char *name;		/* as `engines` names it */
	const pn_engine *engine;
	const char *config_param;	/* parameter naming its file */
	const char *default_file;
} pn_member;

const pn_engine *pn_engine_list_define(const pn_member *members);
int pn_engine_list_member(const void *state, const char *name, const pn_config **cfg,
			  void **engine_state);

#endif
