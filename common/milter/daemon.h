/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	daemon - the one main() shape shared by every Postern daemon
 * SYNOPSIS
 *	#include "common/milter/daemon.h"
 *
 *	static const pn_tool tools[] = {
 *		{"test", "MESSAGE", "run the rules on a message", run_test},
 *		{NULL, NULL, NULL, NULL}
 *	};
 *	static const pn_daemon daemon_def = {
 *		.name = "postern-tls",
 *		.summary = "TLS enforcement for partner domains",
 *		.config_file = "/etc/postern/tls.conf",
 *		.default_socket = "unix:/run/postern/tls.sock",
 *		.engine = &tls_engine,
 *		.tools = tools,
 *	};
 *	int main(int argc, char **argv) { return pn_daemon_main(&daemon_def, argc, argv); }
 * DESCRIPTION
 *	Command line: NAME [-c FILE] [-f] [-v] COMMAND [ARGS...], plus
 *	--help and --version; -c, -f and -v may also follow the command
 *	(`NAME test -c FILE ...`): the daemon takes them out of a tool's
 *	arguments before the tool sees them (up to "--"; a value of a tool
 *	option the synopsis shows as "--opt VALUE" stays the tool's).
 *	Built-in commands:
 *	    serve     run the milter (default when no command is given)
 *	    check     load the configuration and the engine's state, report
 *	              the first error with file:line, exit 0 when valid;
 *	              with --postfix[=DIR] also list the milters Postfix's
 *	              configuration names whose sockets accept nothing
 *	              (common/postfix_milters.h; exit 69 when there is one)
 *	    config    print every parameter with its value (-n: only those
 *	              set in the file), like postconf
 *	and the daemon's own tools, which receive the loaded configuration
 *	and engine state so they apply exactly the rules the daemon would.
 *	A tool run without -c when the default file does not exist gets the
 *	built-in defaults, so `postern-sort test` works before installation.
 *
 *	serve: parse the configuration, load the engine, open the socket
 *	(libmilter syntax unix:/path, inet:PORT@HOST, inet6:PORT@HOST),
 *	set its mode and owner, detach unless -f, write the pidfile, then
 *	run. The process that serves mail (the worker) is a child of a small
 *	supervisor; the worker drops privileges to `user` as soon as it is
 *	forked, before it loads any engine state or reads any mail, while
 *	the supervisor, which reads nothing but signals, keeps root so it
 *	can remove the pidfile and socket at stop (Postfix's master/child
 *	split, for the same reason). The supervisor takes SIGHUP
 *	(reload: a new snapshot is built and swapped in, connections in
 *	progress keep theirs; a broken file is logged and the running
 *	configuration stays), SIGTERM/SIGINT (clean stop: the socket is
 *	closed, the pidfile removed) and restarts a worker that crashed
 *	(at most 5 times a minute). This split exists because libmilter
 *	itself treats SIGHUP as "stop", so reload cannot be done in the
 *	process that runs smfi_main().
 *
 *	metrics_listen (empty: off) is bound by the supervisor before the
 *	first fork, together with the shared counters (common/metrics.h);
 *	each worker serves GET /metrics on it (common/http.h). The
 *	supervisor counts the workers it restarts, reload() the reloads and
 *	their failures.
 *
 *	pn_daemon_request_reload() asks the serving process to reload exactly
 *	as SIGHUP does (new snapshot, old one kept on error), in the
 *	background; an engine calls it when it learns that its state is out
 *	of date in a way no watched file shows. pn_daemon_reload_now() does
 *	the same reload in the calling thread and returns when the new
 *	snapshot is current: the milter layer calls it when a file an
 *	engine's snapshot watches changed (engine.h), so the connection that
 *	saw the change already runs on it. One reload runs at a time. Both
 *	return 0, or -1 when the reload failed or outside a serving worker
 *	(tools, tests), where there is nothing to reload.
 *
 *	Every daemon's configuration holds the parameters of pn_daemon_params
 *	(socket, socket_mode, socket_owner, user, pidfile, log_level,
 *	milter_timeout, listen_backlog, metrics_listen) and pn_milter_params,
 *	then its engine's own: pn_daemon_table() is that table for daemon d,
 *	pn_engine_table() a new copy of it for any engine (an engine list
 *	reads each member's file with it).
 * DIAGNOSTICS
 *	A configuration error is printed (or logged) with every control
 *	byte and every byte that is not UTF-8 written as \xNN: an error
 *	quotes what the file holds, which must not repaint a terminal or
 *	forge a log line.
 *	Exit codes follow sysexits.h: 0 success, 64 usage, 69 socket cannot
 *	be opened, 70 internal error, 71 system error, 78 configuration error.
 */
#ifndef PN_DAEMON_H
#define PN_DAEMON_H

#include "common/config.h"
#include "common/milter/engine.h"

typedef struct pn_tool {
	const char *name;
	const char *args;	/* argument synopsis for --help */
	const char *summary;
	/* argv[0] is the tool name; getopt may be used (optind is reset) */
	int (*run)(const pn_config *cfg, void *engine_state, int argc, char **argv);
} pn_tool;

typedef struct pn_daemon {
	const char *name;
	const char *summary;
	const char *config_file;
	const char *default_socket;
	const pn_engine *engine;
	const pn_tool *tools;	/* may be NULL */
} pn_daemon;

extern const pn_param pn_daemon_params[];

int pn_daemon_main(const pn_daemon *d, int argc, char **argv);
int pn_daemon_request_reload(void);
int pn_daemon_reload_now(void);
const pn_param *pn_daemon_table(const pn_daemon *d);
pn_param *pn_engine_table(const pn_engine *e);

#endif
