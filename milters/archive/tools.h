/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	tools - postern-archive's subcommands
 * SYNOPSIS
 *	#include "milters/archive/tools.h"
 *
 *	int arc_tool_search(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_get(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_export(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_verify(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_stats(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_reindex(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_prune(const pn_config *cfg, void *state, int argc, char **argv);
 *	int arc_tool_hold(const pn_config *cfg, void *state, int argc, char **argv);
 * DESCRIPTION
 *	Each function is one subcommand of postern-archive(8), run on the
 *	archive the daemon's configuration names, through the same engine
 *	state the daemon uses. Queries take the options --from, --to,
 *	--subject, --text, --since, --until, --message-id, --attachment,
 *	--larger and positional ids, SHA-256s or Message-IDs (see query(3)).
 *
 *	get and export write archived content; each message they read is
 *	logged to syslog (facility mail, level notice) with the invoking
 *	user, and appended to access_log when that is set. A read that
 *	cannot be logged to access_log is refused.
 * DIAGNOSTICS
 *	Exit codes: 0 success; 1 nothing found (search, get), problems
 *	found (verify), or ambiguous key (get); 64 usage; 65 bad data; 69
 *	an encrypted object without --key; 73 access_log not writable; 74
 *	I/O error; 70 other failures.
 */
#ifndef ARC_TOOLS_H
#define ARC_TOOLS_H

#include "common/config.h"

int arc_tool_search(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_get(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_export(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_verify(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_stats(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_reindex(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_prune(const pn_config *cfg, void *state, int argc, char **argv);
int arc_tool_hold(const pn_config *cfg, void *state, int argc, char **argv);

#endif
