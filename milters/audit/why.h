/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	why - one message's whole story, told from the audit trail
 * SYNOPSIS
 *	#include "milters/audit/why.h"
 *
 *	int audit_why_tool(const pn_config *cfg, void *engine_state,
 *	                   int argc, char **argv);
 *
 *	postern-audit why [--json] [--key FILE]... ID [FILE...]
 * DESCRIPTION
 *	audit_why_tool() is the `why` tool (a pn_tool run function, so
 *	postern-audit and postern-suite list the same one): cfg and
 *	engine_state are the audit engine's own configuration and state (in
 *	postern-suite, what pn_engine_list_member(state, "audit", ...)
 *	finds; cfg may be NULL, then the default head file is looked for). ID is a queue id or a Message-ID (with
 *	or without its angle brackets). It reads the trail (the FILEs, else
 *	the configured trail_file and its rotated files, oldest first) and
 *	collects every record of that queue id or Message-ID: the message
 *	record, aborted records, refused attempts and outcome records, and
 *	the records of every queue id a Message-ID led to.
 *
 *	For each record, in trail order, it prints the session (client,
 *	helo, TLS), the envelope (sender, recipients), the engines'
 *	decisions (the record's engines member: tls policy and verdict,
 *	sort's actions per recipient, archive id), the refusal (step, by,
 *	reply, reason) and the seq; then whether the trail's hash chain
 *	verifies from its start up to the last of these records
 *	(verify.h with upto): with --key (as for verify) the macs too,
 *	else the hash chain only; for the configured trail, also that it is
 *	the trail (id and host) its daemon's head file names. --json prints one JSON object instead:
 *	{id, found, queue_ids[], records[], verify{ok, upto_seq, macs_checked,
 *	detail}}.
 * DIAGNOSTICS
 *	Returns 0 when a record was found, 1 when none (like grep), and
 *	EX_USAGE or EX_NOINPUT for a bad command line or unreadable files.
 *	A chain that does not verify is printed (and "ok": false), not an
 *	exit status: the story is still worth reading.
 */
#ifndef AUDIT_WHY_H
#define AUDIT_WHY_H

#include "common/config.h"

int audit_why_tool(const pn_config *cfg, void *engine_state, int argc, char **argv);

#endif
