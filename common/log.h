/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	log - logging to syslog and stderr in the style of Postfix
 * SYNOPSIS
 *	#include "common/log.h"
 *
 *	void pn_log_open(const char *ident, int to_stderr,
 *	                 pn_log_level min_level);
 *	void pn_log_set_level(pn_log_level min_level);
 *	void pn_log_set_stream(FILE *fp);
 *	int  pn_log_level_parse(const char *s, pn_log_level *out);
 *	int  pn_log_enabled(pn_log_level level);
 *
 *	void pn_log(pn_log_level level, const char *fmt, ...);
 *	void pn_log_msg(pn_log_level level, const char *queue_id,
 *	                const char *fmt, ...);
 *	void pn_fatal(int exit_code, const char *fmt, ...);
 *	void pn_panic(const char *fmt, ...);
 *
 *	pn_debug(fmt, ...); pn_info(fmt, ...); pn_warn(fmt, ...);
 *	pn_error(fmt, ...);
 * DESCRIPTION
 *	Messages look like Postfix's own, so one grep over mail.log follows
 *	a message through Postfix and Postern alike:
 *
 *	    postern-tls[1234]: warning: 4BCD12: text
 *
 *	pn_log_open() sends messages to syslog (facility LOG_MAIL, with
 *	LOG_PID) under ident, e.g. "postern-tls", and, with to_stderr, also
 *	to stderr as "ident[pid]: text" lines. Before it is called, messages
 *	go to stderr only, under the ident "postern".
 *
 *	The text after the ident is prefixed by the level, as Postfix does:
 *	nothing for info, "debug: ", "warning: ", "error: ", "fatal: " or
 *	"panic: ". pn_log_msg() adds "QUEUEID: " after that (a NULL or
 *	empty queue_id gives "NOQUEUE: "). Messages below min_level are
 *	dropped before they are formatted, so disabled debug calls cost a
 *	comparison; pn_log_enabled() lets callers skip building expensive
 *	arguments. FATAL and PANIC messages are never dropped by pn_fatal()
 *	and pn_panic().
 *
 *	Mail data ends up in log text, so control characters (below 0x20,
 *	and DEL) in the message, queue id included, are replaced by "?";
 *	a header cannot forge a log line. A message longer than
 *	PN_LOG_LINE_MAX bytes is cut (not inside a UTF-8 sequence) and ends
 *	in "...". Every stderr/stream line is written with one call under a
 *	mutex, so lines from concurrent threads never interleave. errno is
 *	preserved, and "%m" works as in syslog(3).
 *
 *	pn_log_set_stream() sends the stderr-style lines to fp instead of
 *	stderr, whether or not to_stderr was given (for tests); NULL goes
 *	back to stderr as configured. pn_log_level_parse() accepts debug,
 *	info, warning (or warn) and error, in any case.
 *
 *	pn_fatal() logs at FATAL and exit()s with exit_code; pn_panic()
 *	logs at PANIC and abort()s (for "cannot happen" conditions).
 *	pn_log() at FATAL or PANIC only logs.
 * DIAGNOSTICS
 *	pn_log_level_parse() returns 0, or -1 for an unknown name (*out is
 *	then unchanged). Logging itself never fails visibly: there is
 *	nowhere left to report to.
 */
#ifndef PN_LOG_H
#define PN_LOG_H

#include <stdio.h>

/* Longest message text (level prefix, queue id and text) kept whole. */
#define PN_LOG_LINE_MAX 4000

typedef enum {
	PN_LOG_DEBUG,
	PN_LOG_INFO,
	PN_LOG_WARN,
	PN_LOG_ERROR,
	PN_LOG_FATAL,
	PN_LOG_PANIC
} pn_log_level;

void pn_log_open(const char *ident, int to_stderr, pn_log_level min_level);
void pn_log_set_level(pn_log_level min_level);
void pn_log_set_stream(FILE *fp);
int pn_log_level_parse(const char *s, pn_log_level *out);
int pn_log_enabled(pn_log_level level);
void pn_log(pn_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pn_log_msg(pn_log_level level, const char *queue_id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pn_fatal(int exit_code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void pn_panic(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

#define pn_debug(...) pn_log(PN_LOG_DEBUG, __VA_ARGS__)
#define pn_info(...) pn_log(PN_LOG_INFO, __VA_ARGS__)
#define pn_warn(...) pn_log(PN_LOG_WARN, __VA_ARGS__)
#define pn_error(...) pn_log(PN_LOG_ERROR, __VA_ARGS__)

#endif
