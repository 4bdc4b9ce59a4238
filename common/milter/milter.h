/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	milter - libmilter callbacks wired once for every daemon
 * SYNOPSIS
 *	#include "common/milter/milter.h"
 *
 *	int  pn_milter_register(const char *daemon_name, const pn_engine *e);
 *	pn_verdict pn_conn_on_error(const pn_conn *c);
 *	int  pn_milter_drain(unsigned seconds);
 *	extern const pn_param pn_milter_params[];
 * DESCRIPTION
 *	pn_milter_register() hands libmilter one set of callbacks that fill
 *	the shared pn_conn/pn_msg context (common/milter/msg.h) and call the
 *	engine's hooks. Negotiation asks the MTA only for the protocol steps
 *	the engine listed, always asks for header values with their leading
 *	space (SMFIP_HDR_LEADSPC) so messages can be rebuilt byte for byte,
 *	and tells the MTA not to wait for replies to header and body chunks.
 *
 *	At end of message the engine's pn_actions list is applied here, in
 *	one place; a modification the MTA refuses, or a body that could not
 *	be spooled, turns into the configured on_error verdict (tempfail by
 *	default) so the client retries rather than mail being lost.
 *
 *	pn_milter_params lists the parameters this layer reads from every
 *	daemon's configuration (body_memory_limit, tmp_dir, on_error ...).
 *	max_header_count and max_header_bytes bound the header section one
 *	message may make a daemon hold: past either, the fields are no
 *	longer kept, and at end of message the layer answers 552 5.3.4
 *	(header_limit_action = reject, the default) or 452 4.3.4 (tempfail)
 *	without calling the engine.
 *	pn_conn_on_error() is the verdict an engine returns when it fails
 *	internally. pn_milter_drain() waits, after smfi_main() has returned,
 *	until no message is in progress (between MAIL and its end of message
 *	or abort) or seconds have passed: a worker told to stop lets the
 *	messages in progress finish. Then it waits at most 2 s more for the
 *	sessions still open (a client's QUIT not yet seen through): they hold
 *	the engines' state, whose last work (the archive's final index pass)
 *	runs when they let go. An idle session holds a stop no longer.
 * DIAGNOSTICS
 *	pn_milter_register() returns 0, or -1 when libmilter refuses.
 *	pn_milter_drain() returns 0, or -1 when messages were still in progress.
 *	Failed modifications are logged with the queue id.
 */
#ifndef PN_MILTER_H
#define PN_MILTER_H

#include "common/config.h"
#include "common/milter/engine.h"

extern const pn_param pn_milter_params[];

int pn_milter_register(const char *daemon_name, const pn_engine *e);
pn_verdict pn_conn_on_error(const pn_conn *c);
int pn_milter_drain(unsigned seconds);

#endif
