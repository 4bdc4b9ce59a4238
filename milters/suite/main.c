/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-suite - the four Postern engines behind one milter socket
 *
 * One daemon that runs any of postern-tls, postern-sort, postern-archive
 * and postern-audit's engines, in that order, for every SMTP session:
 * one milter hop instead of four, and one process in which the engines
 * see each other's decisions (common/milter/engine_list.h). Each engine
 * reads the configuration file its own daemon reads; this daemon's file
 * (suite.conf) names the engines and those files.
 *
 *   why   one message's whole story, from the audit engine's trail
 */
#include "common/milter/daemon.h"
#include "common/milter/engine_list.h"
#include "milters/archive/archive_milter.h"
#include "milters/audit/audit_milter.h"
#include "milters/audit/why.h"
#include "milters/sort/sort_milter.h"
#include "milters/tls/tls_milter.h"

#include <stdio.h>
#include <sysexits.h>

/* tool_why - postern-audit's why, on the audit engine this suite runs */
static int tool_why(const pn_config *cfg, void *state, int argc, char **argv)
{
	const pn_config *audit_cfg;
	void *audit_state;

	(void)cfg;
	if (pn_engine_list_member(state, "audit", &audit_cfg, &audit_state) < 0) {
		fprintf(stderr, "postern-suite: why: the audit engine is not running "
			"(parameter \"engines\")\n");
		return EX_CONFIG;
	}
	return audit_why_tool(audit_cfg, audit_state, argc, argv);
}

static const pn_tool suite_tools[] = {
	{"why", "[--json] [--key FILE]... QUEUEID|MESSAGE-ID [FILE...]",
	 "one message's whole story: session, every engine's decision, archive id, audit "
	 "seq, and whether the chain verifies up to it (exit 1: not found)", tool_why},
	{NULL, NULL, NULL, NULL}
};

/* the order engines run in, and the files their own daemons read */
static const pn_member suite_members[] = {
	{"tls", &ptls_engine, "tls_config", "/etc/postern/tls.conf"},
	{"sort", &sort_engine, "sort_config", "/etc/postern/sort.conf"},
	{"archive", &archive_engine, "archive_config", "/etc/postern/archive.conf"},
	{"audit", &audit_engine, "audit_config", "/etc/postern/audit.conf"},
	{NULL, NULL, NULL, NULL}
};

static pn_daemon suite_daemon = {
	.name = "postern-suite",
	.summary = "the four Postern engines behind one milter socket",
	.config_file = "/etc/postern/suite.conf",
	.default_socket = "unix:/run/postern/suite.sock",
	.tools = suite_tools,
};

int main(int argc, char **argv)
{
	suite_daemon.engine = pn_engine_list_define(suite_members);
	return pn_daemon_main(&suite_daemon, argc, argv);
}
