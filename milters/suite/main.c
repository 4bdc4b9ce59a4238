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
#include "milters/sort/sort_milter.h"
#include "milters/tls/tls_milter.h"

#include <stdio.h>
#include <sysexits.h>

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
};

int main(int argc, char **argv)
{
	suite_daemon.engine = pn_engine_list_define(suite_members);
	return pn_daemon_main(&suite_daemon, argc, argv);
}
