/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	archive_milter - postern-archive's engine: parameters, load, milter hooks
 * SYNOPSIS
 *	#include "milters/archive/archive_milter.h"
 *
 *	extern const pn_engine archive_engine;
 *	extern const pn_param archive_params[];
 *	arc_archive *archive_of(void *engine_state);
 *	int archive_settings(const pn_config *cfg, arc_settings *set, char **err);
 * DESCRIPTION
 *	The engine the shared milter layer drives. load() opens the archive
 *	(see archive(3)) in the process that uses it: the worker, after it
 *	dropped privileges, and each tool. At end of message the hook
 *	applies the scope rules and the size limit, then hands the envelope
 *	and the message (header block as received plus the spooled body)
 *	to arc_archive_message(), and lets the message continue only when
 *	that returned success. Any failure answers on_error (tempfail by
 *	default: 451 4.3.0), so no mail is accepted unarchived.
 *
 *	The delivery id stays with the message (m->engine_data) until the
 *	layer tells the final answer (on_outcome at end of message): when
 *	it is not continue or accept (an engine after this one in
 *	postern-suite, or the layer, refused the message, tempfailed or
 *	discarded it), the delivery is voided with the reply as its reason
 *	(arc_archive_outcome()); otherwise the index may show it from now
 *	on. A message freed without an answer keeps its delivery.
 *
 *	The message's story (pn_msg_note, engine "archive"): "id",
 *	"sha256" and "stored" ("new" or "dedup") for a stored message,
 *	"voided" (the reason) when it was voided afterwards; "archived" =
 *	"no" and "reason" (out of scope, size, or the failure) otherwise.
 *
 *	A declared SIZE= larger than size_limit is refused at MAIL FROM when
 *	size_limit_action is reject or tempfail, before the body is sent.
 *
 *	archive_settings() turns a configuration into arc_settings (the
 *	strings point into cfg); the tools use it to open an archive the way
 *	the daemon does.
 * DIAGNOSTICS
 *	load() fails with a message naming the parameter or the directory.
 *	Every archived, skipped or refused message is logged with its queue
 *	id.
 */
#ifndef ARC_ARCHIVE_MILTER_H
#define ARC_ARCHIVE_MILTER_H

#include "common/config.h"
#include "common/milter/engine.h"
#include "milters/archive/archive.h"

extern const pn_engine archive_engine;
extern const pn_param archive_params[];

arc_archive *archive_of(void *engine_state);
int archive_settings(const pn_config *cfg, arc_settings *set, char **err);

#endif
