/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sort_submit - postern-sort's outbound mail: a spool and a sender thread
 * SYNOPSIS
 *	#include "milters/sort/sort_submit.h"
 *
 *	sort_submit *sort_submit_new(const char *spool_dir, const char *method,
 *	                             unsigned max_queue, char **err);
 *	int sort_submit_queue(sort_submit *sb, const char *env_from,
 *	                      const char *rcpts, const char *msg, size_t len);
 *	void sort_submit_free(sort_submit *sb);
 *	int sort_submit_method_valid(const char *method, char **err);
 * DESCRIPTION
 *	The messages postern-sort itself sends (vacation replies and notify
 *	messages) never leave from a milter callback: sort_submit_queue()
 *	only writes the message to a file in spool_dir (written whole, then
 *	renamed: a crash leaves it or nothing), and a thread of its own
 *	submits it and removes the file. Files left by a stopped or crashed
 *	daemon are sent by the next one.
 *
 *	method is "sendmail:PATH" (the MTA's sendmail binary, run as
 *	PATH -i -f SENDER -- RCPT..., the message on its standard input) or
 *	"smtp:HOST:PORT" (one SMTP transaction per message, no TLS: a local
 *	submission address such as 127.0.0.1:25). env_from is the envelope
 *	sender ("" for the null sender), rcpts the recipients separated by
 *	", ". A temporary failure (sendmail exit 75, an SMTP 4xx, no
 *	connection) leaves the file for a retry a minute later; a permanent
 *	one (other exit codes, SMTP 5xx) drops it with an error logged. At
 *	most max_queue files wait: beyond that a new message is dropped
 *	(logged), so a flood of mail cannot fill the disk with replies.
 *
 *	One sender serves a spool directory in a process: a second
 *	sort_submit_new() of the same directory (a reload) returns the same
 *	one with the new method and max_queue, so no file is sent twice.
 *	sort_submit_free() gives one reference back; the last one stops the
 *	thread after the message in hand. What is spooled stays for the
 *	next start.
 * DIAGNOSTICS
 *	sort_submit_new() returns NULL and sets *err (free with pn_free())
 *	when the method is malformed or the spool directory cannot be made.
 *	sort_submit_queue() returns 0, or -1 (logged) when the message was
 *	not spooled. sort_submit_method_valid() returns 0, or -1 with *err.
 */
#ifndef SORT_SUBMIT_H
#define SORT_SUBMIT_H

#include <stddef.h>

typedef struct sort_submit sort_submit;

sort_submit *sort_submit_new(const char *spool_dir, const char *method, unsigned max_queue,
			     char **err);
int sort_submit_queue(sort_submit *sb, const char *env_from, const char *rcpts,
		      const char *msg, size_t len);
void sort_submit_free(sort_submit *sb);
int sort_submit_method_valid(const char *method, char **err);

#endif
