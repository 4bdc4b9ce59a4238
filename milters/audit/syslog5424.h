/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	syslog5424 - send lines as RFC 5424 syslog messages over UDP, TCP or a
 *	local datagram socket
 * SYNOPSIS
 *	#include "milters/audit/syslog5424.h"
 *
 *	audit_syslog *audit_syslog_open(const char *target, const char *msgid,
 *	                                char **err);
 *	int audit_syslog_send(audit_syslog *s, const char *timestamp,
 *	                      const char *msg, size_t len, char **err);
 *	void audit_syslog_close(audit_syslog *s);
 * DESCRIPTION
 *	For rsyslog or syslog-ng to ship records to a SIEM: `postern-audit
 *	tail --syslog-to TARGET` sends each event through this module
 *	instead of printing it. target is udp:HOST:PORT, tcp:HOST:PORT or
 *	unix:PATH (a datagram socket such as /dev/log); an IPv6 HOST is
 *	written in brackets, udp:[::1]:514. Each message is
 *
 *	    <22>1 TIMESTAMP HOSTNAME postern-audit PID MSGID - BOM MSG
 *
 *	facility mail, severity info (PRI 22); TIMESTAMP is the record's
 *	time (RFC 3339, as the record holds it) or "-"; HOSTNAME the
 *	system's name; MSGID the output format (jsonl, ecs, ocsf, cim); no
 *	structured data; MSG the event's JSON, UTF-8 after a byte order
 *	mark, as RFC 5424 asks. Over TCP each message is framed by octet
 *	counting (RFC 6587: "LENGTH SP MESSAGE"), so a JSON line of any
 *	size arrives whole; a UDP datagram can carry at most 65,507 bytes.
 * DIAGNOSTICS
 *	audit_syslog_open() returns NULL with *err for a bad target or a
 *	socket that cannot be connected. audit_syslog_send() returns 0, or
 *	-1 with *err when the message could not be sent whole.
 */
#ifndef AUDIT_SYSLOG5424_H
#define AUDIT_SYSLOG5424_H

#include <stddef.h>

typedef struct audit_syslog audit_syslog;

audit_syslog *audit_syslog_open(const char *target, const char *msgid, char **err);
int audit_syslog_send(audit_syslog *s, const char *timestamp, const char *msg, size_t len,
		      char **err);
void audit_syslog_close(audit_syslog *s);

#endif
