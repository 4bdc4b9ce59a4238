/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	engine - what a daemon plugs into the shared milter layer
 * SYNOPSIS
 *	#include "common/milter/engine.h"
 *
 *	static const pn_engine my_engine = {
 *		.name = "tls",
 *		.params = my_params,
 *		.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT,
 *		.mods = PN_MOD_ADD_HEADER | PN_MOD_QUARANTINE,
 *		.load = my_load, .unload = my_unload,
 *		.on_mail = my_mail, .on_eom = my_eom, ...
 *	};
 *
 *	pn_snapshot *pn_snapshot_acquire(void);
 *	pn_snapshot *pn_snapshot_acquire_watched(void);
 *	void pn_snapshot_release(pn_snapshot *s);
 *	const pn_config *pn_snapshot_config(const pn_snapshot *s);
 *	void *pn_snapshot_state(const pn_snapshot *s);
 *
 *	static void my_watch(const void *state, pn_snapshot *s)
 *	{
 *		pn_snapshot_watch(s, path, &stamp);	// in .watch_files
 *		pn_snapshot_watch_interval(s, seconds);
 *	}
 *	void pn_snapshot_watch_like(pn_snapshot *s, pn_snapshot *from);
 *	int  pn_snapshot_look_due(pn_snapshot *s);
 *	const char *pn_snapshot_changed(pn_snapshot *s);
 *	void pn_snapshot_reload_failed(pn_snapshot *s);
 * DESCRIPTION
 *	An engine is a daemon's logic (policy, Sieve, archive store, audit
 *	record) seen from the milter layer: a configuration table, the
 *	protocol steps it needs (only those are negotiated, so unneeded data
 *	never crosses the socket), the modifications it may make, and hooks
 *	called from the libmilter callbacks with the shared pn_conn/pn_msg
 *	context. Hooks return a pn_verdict; a hook that wants a specific SMTP
 *	reply at an early stage sets it with pn_conn_reply(). At end of
 *	message the engine fills a pn_actions list that the layer applies.
 *
 *	steps_for(), when set, narrows .steps per snapshot: a connection
 *	negotiates what its snapshot's state needs (postern-sort asks for the
 *	body only when a script tests it).
 *
 *	load() turns a parsed configuration into the engine's immutable state
 *	(tables, compiled scripts, open databases) and returns it, or NULL with
 *	*err set; unload() frees it. Both run at start and on every reload.
 *	The pair (config, state) is a snapshot: each connection takes a
 *	reference when it opens and keeps that snapshot until it closes, so
 *	a reload never changes the rules in the middle of a message.
 *
 *	watch_files(), when set, names the files a snapshot's state was
 *	built from (a policy, a script), as Postfix's dict_changed_name()
 *	knows its tables: right after load() it calls pn_snapshot_watch()
 *	once per file with the version it read (take the stamp with fstat()
 *	on the descriptor the text came from, common/filestamp.h), and may
 *	call pn_snapshot_watch_interval() to look at most once per that many
 *	seconds (default 0: at every connection); pn_snapshot_watch_like()
 *	adds every file another snapshot watches (an engine list watches
 *	its members' files). The engine then does no
 *	watching of its own: at the start of each connection, before it
 *	takes its snapshot, the milter layer (milter.c) asks
 *	pn_snapshot_look_due() and pn_snapshot_changed() (one stat per
 *	watched file); when a file is no longer the version read it reloads
 *	the daemon there and then, as SIGHUP would, so that very connection
 *	already runs on the new state. Connections that start meanwhile wait
 *	for that one reload. When the reload fails (a broken file), the
 *	layer calls pn_snapshot_reload_failed(): the versions seen now no
 *	longer count as changes for the running snapshot, so a broken file
 *	is read and reported once, and again only after it changes.
 *
 *	pn_snapshot_acquire_watched() (milter.c) is the snapshot a new
 *	milter connection takes: the same look at the watched files first,
 *	and the same reload when one changed. A server that answers from
 *	the engine's state outside the milter protocol (postern-tls's
 *	socketmap) calls it per request, so it sees a changed file exactly
 *	when a new connection would. Release it with pn_snapshot_release().
 *
 *	Hooks are called from many threads at once (one per connection);
 *	anything they share must live in the snapshot (read-only) or be
 *	locked by the engine.
 */
#ifndef PN_ENGINE_H
#define PN_ENGINE_H

#include "common/actions.h"
#include "common/config.h"
#include "common/filestamp.h"
#include "common/milter/msg.h"

/* protocol steps an engine may ask for */
#define PN_STEP_CONNECT	0x001
#define PN_STEP_HELO	0x002
#define PN_STEP_MAIL	0x004
#define PN_STEP_RCPT	0x008
#define PN_STEP_DATA	0x010
#define PN_STEP_HEADER	0x020
#define PN_STEP_EOH	0x040
#define PN_STEP_BODY	0x080
#define PN_STEP_EOM	0x100	/* always negotiated; listed for clarity */
#define PN_STEP_UNKNOWN	0x200

/* modifications an engine may make (negotiated with the MTA) */
#define PN_MOD_ADD_HEADER	0x01	/* also insert */
#define PN_MOD_CHANGE_HEADER	0x02	/* also delete */
#define PN_MOD_ADD_RCPT		0x04
#define PN_MOD_DELETE_RCPT	0x08
#define PN_MOD_CHANGE_FROM	0x10
#define PN_MOD_QUARANTINE	0x20

/* pn_outcome - what Postern answered the MTA, told to the engines
 * (see on_outcome below) */
typedef struct pn_outcome {
	unsigned step;		/* PN_STEP_* at which the answer was given */
	pn_verdict verdict;	/* the answer the MTA got */
	const char *by;		/* engine that refused, or NULL (accepted, or the
				 * milter layer itself: header limits, a refused
				 * modification) */
	const char *rcode, *xcode, *text;	/* the SMTP reply, when one was set */
	const pn_rcpt *rcpt;	/* PN_STEP_RCPT: the recipient refused */
} pn_outcome;

typedef struct pn_engine {
	const char *name;		/* short name: "tls", "sort" ... */
	const pn_param *params;		/* engine's own parameters, NULL-terminated */
	unsigned steps;			/* PN_STEP_* */
	unsigned mods;			/* PN_MOD_* */
	/* Optional: the parameter naming the directory the daemon writes.
	 * Root's commands with no `user` set take its owner's rights before
	 * they load the engine's state (see daemon.h). */
	const char *data_dir_param;
	/* Optional: 1 when on_eom itself answers a body that could not be
	 * spooled (m->body_error); otherwise the layer answers on_error
	 * without calling on_eom (an engine list, where only the engines
	 * that read the body fail). */
	int own_body_errors;
	/* Optional: the steps to negotiate for connections that start while
	 * state is current (e.g. the body only when a script reads it);
	 * .steps when NULL. */
	unsigned (*steps_for)(const void *state);
	/* Optional: the files state was read from (pn_snapshot_watch()),
	 * called once after each load(); the milter layer watches them. */
	void (*watch_files)(const void *state, pn_snapshot *s);
	/* Optional: called in the serving worker, never in a tool, once a
	 * snapshot of this state is current (at start and after each
	 * reload): background work (audit's shipping thread) starts here,
	 * as load() also runs for check and the command-line tools. */
	void (*serve)(void *state);
	/* Optional: called once in the serving worker when it stops, after
	 * the last message and before the snapshot goes, with the current
	 * snapshot's state: what serve() started for the whole process (the
	 * tls engine's socketmap server) ends here and removes its files. */
	void (*stop_serving)(void *state);
	void *(*load)(const pn_config *cfg, char **err);
	void (*unload)(void *state);
	pn_verdict (*on_connect)(pn_conn *c);
	pn_verdict (*on_helo)(pn_conn *c);
	pn_verdict (*on_mail)(pn_conn *c, pn_msg *m);
	pn_verdict (*on_rcpt)(pn_conn *c, pn_msg *m, const pn_rcpt *r);
	pn_verdict (*on_data)(pn_conn *c, pn_msg *m);
	pn_verdict (*on_eoh)(pn_conn *c, pn_msg *m);
	pn_verdict (*on_eom)(pn_conn *c, pn_msg *m, pn_actions *a);
	/* Optional: the answer Postern gave the MTA (struct above). Called
	 * at end of message with the final verdict once the actions are
	 * applied (also when the layer refused the message before on_eom:
	 * header limits, a body it could not spool); and at any earlier
	 * step where an engine refused (reject, tempfail, discard), for
	 * every engine, the refusing one included (m is NULL before MAIL).
	 * An engine that stored something at on_eom takes it back here
	 * when the verdict is not PN_CONTINUE/PN_ACCEPT; an engine that
	 * records decisions records refused attempts here. */
	void (*on_outcome)(pn_conn *c, pn_msg *m, const pn_outcome *o);
	void (*on_abort)(pn_conn *c, pn_msg *m);	/* message ends without eom */
	void (*on_close)(pn_conn *c);			/* connection ends */
	void (*free_msg)(pn_conn *c, pn_msg *m);	/* free m->engine_data */
	void (*free_conn)(pn_conn *c);			/* free c->engine_data */
} pn_engine;

struct pn_snapshot {
	int refs;
	unsigned long generation;
	pn_config *config;
	void *state;
	const pn_engine *engine;
	/* pn_snapshot_new() adds the watched files after these (snapshot.c) */
};

pn_snapshot *pn_snapshot_new(const pn_engine *e, pn_config *cfg, char **err);
void pn_snapshot_install(pn_snapshot *s);
pn_snapshot *pn_snapshot_acquire(void);
pn_snapshot *pn_snapshot_acquire_watched(void);
void pn_snapshot_release(pn_snapshot *s);
const pn_config *pn_snapshot_config(const pn_snapshot *s);
void *pn_snapshot_state(const pn_snapshot *s);
void pn_snapshot_shutdown(void);
void pn_snapshot_watch(pn_snapshot *s, const char *path, const pn_filestamp *stamp);
void pn_snapshot_watch_interval(pn_snapshot *s, long seconds);
void pn_snapshot_watch_like(pn_snapshot *s, pn_snapshot *from);
int pn_snapshot_look_due(pn_snapshot *s);
const char *pn_snapshot_changed(pn_snapshot *s);
void pn_snapshot_reload_failed(pn_snapshot *s);

/* pn_conn_reply - SMTP reply for the verdict the current hook returns */
void pn_conn_reply(pn_conn *c, const char *rcode, const char *xcode, const char *text);

#endif
