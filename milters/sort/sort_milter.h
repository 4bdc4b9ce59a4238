/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sort_milter - postern-sort as an engine of the shared milter layer
 * SYNOPSIS
 *	#include "milters/sort/sort_milter.h"
 *
 *	extern const pn_engine sort_engine;
 *	void sort_facts_of(const pn_conn *c, sort_facts *f);
 * DESCRIPTION
 *	sort_engine is what main.c hands to pn_daemon_main(): the parameter
 *	table of sort_engine.h, the protocol steps (connect, mail, rcpt,
 *	headers, body, end of message) and the modifications postern-sort
 *	may make (add/change/delete headers, add/delete recipients). Its
 *	end-of-message hook runs the engine for every recipient and fills
 *	the pn_actions list that the layer applies.
 *
 *	sort_facts_of() collects from a connection what the environment
 *	items need: client address and name, the MTA's name ("j"), the TLS
 *	version and the SASL login.
 * DIAGNOSTICS
 *	None: script errors are the engine's to log; the message is kept.
 */
#ifndef SORT_MILTER_H
#define SORT_MILTER_H

#include "common/milter/engine.h"
#include "milters/sort/sort_engine.h"

extern const pn_engine sort_engine;
void sort_facts_of(const pn_conn *c, sort_facts *f);

#endif
