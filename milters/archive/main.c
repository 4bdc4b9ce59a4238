/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-archive - keep a crash-safe, deduplicated, compressed, optionally
 * encrypted, searchable copy of every message
 *
 * The daemon is the engine in archive_milter.c run by the shared milter
 * layer; the subcommands in tools.c open the same archive through the same
 * engine state, so what the tools show is what the daemon wrote. See
 * postern-archive(8) and postern-archive.conf(5).
 */
#include "common/milter/daemon.h"
#include "milters/archive/archive_milter.h"
#include "milters/archive/dbtool.h"
#include "milters/archive/tools.h"

static const pn_tool archive_tools[] = {
	{"search", "[--from X] [--to X] [--subject X] [--text WORDS] [--since T] [--until T] "
	 "[--message-id ID] [--attachment NAME] [--larger N] [--held] [--json] [KEY...]",
	 "list archived deliveries", arc_tool_search},
	{"get", "[--key FILE [--cert FILE]] ID|SHA256|MESSAGE-ID",
	 "write an original message to standard output", arc_tool_get},
	{"export", "[QUERY] (--mbox FILE | --maildir DIR | --eml-dir DIR) [--key FILE]",
	 "write selected messages as mbox, Maildir or .eml files", arc_tool_export},
	{"verify", "[--key FILE [--cert FILE]]",
	 "rehash every object, cross-check journal and index (exit 1 on any problem)", arc_tool_verify},
	{"stats", "[--json]", "counts, sizes, deduplication and compression", arc_tool_stats},
	{"reindex", "[--key FILE [--cert FILE]]", "rebuild the index from the journal and objects",
	 arc_tool_reindex},
	{"prune", "[--dry-run] [--as-of TIME]",
	 "delete deliveries past retention (never held ones) and unused objects", arc_tool_prune},
	{"hold", "add|remove|list [--reason TEXT] QUERY", "legal hold: keep deliveries from prune",
	 arc_tool_hold},
	{"db", "init|upgrade|status [--connection STR]",
	 "create, upgrade or show the PostgreSQL index's schema", arc_tool_db},
	{NULL, NULL, NULL, NULL}
};

static const pn_daemon archive_daemon = {
	.name = "postern-archive",
	.summary = "crash-safe, deduplicated, compressed, encrypted, searchable mail archive",
	.config_file = "/etc/postern/archive.conf",
	.default_socket = "unix:/run/postern/archive.sock",
	.engine = &archive_engine,
	.tools = archive_tools,
};

int main(int argc, char **argv)
{
	return pn_daemon_main(&archive_daemon, argc, argv);
}
