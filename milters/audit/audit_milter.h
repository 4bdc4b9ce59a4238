/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	audit_milter - postern-audit's engine: the hooks that write records
 * SYNOPSIS
 *	#include "milters/audit/audit_milter.h"
 *
 *	extern const pn_engine audit_engine;
 *	int audit_emit(const audit_state *st, const char *body, size_t len,
 *	               const char *queue_id, char **err);
 * DESCRIPTION
 *	audit_engine plugs postern-audit into the shared milter layer. It
 *	asks for the connect, HELO, MAIL, RCPT, header, body and
 *	end-of-message steps (not DATA or end-of-headers: their macros
 *	arrive with later steps anyway) and makes no modifications.
 *
 *	At end of message it builds the message record (record.h) and
 *	appends it; if that fails the message is refused with the
 *	configured on_error answer (451 4.3.0 by default), so no message
 *	passes without its record. A message that ends without end of
 *	message (RSET, a dropped connection) gets an "aborted" record, and
 *	a connection that ends without any message a "connection" record
 *	(unless connection_records = no); failures there can only be
 *	logged.
 *
 *	The milter layer's on_outcome tells it every refusal and, at end
 *	of message, the final verdict (engine.h). A refusal at any step
 *	(by an engine that ran before audit in a postern-suite, or by the
 *	layer) becomes a "refused" record, and such an attempt gets no
 *	"aborted" record (nor its connection a "connection" record); when
 *	the MTA is told to refuse a message after its message record was
 *	written, an "outcome" record names that record's seq (record.h).
 *	After writing a message record it notes ("audit", "seq") in the
 *	message's story. Its per-message and per-connection data (what
 *	was written) live in m->engine_data and c->engine_data.
 *
 *	audit_emit() appends a record body to the state's trail and, with
 *	syslog = yes, sends the same sealed line to syslog (facility mail,
 *	level info, "@cee: " first with syslog_cee = yes). The syslog copy
 *	is sent only after the file append succeeded, so both carry the
 *	same seq.
 * DIAGNOSTICS
 *	audit_emit() returns 0, or -1 with *err (pn_free) when the record
 *	could not be appended.
 */
#ifndef AUDIT_MILTER_H
#define AUDIT_MILTER_H

#include <stddef.h>

#include "common/milter/engine.h"
#include "milters/audit/state.h"

extern const pn_engine audit_engine;

int audit_emit(const audit_state *st, const char *body, size_t len, const char *queue_id,
	       char **err);

#endif
