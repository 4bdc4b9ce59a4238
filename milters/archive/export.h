/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	export - write archived messages as mbox, Maildir or .eml files
 * SYNOPSIS
 *	#include "milters/archive/export.h"
 *
 *	arc_exporter *arc_export_open(arc_export_format f, const char *target,
 *	                              char **err);
 *	int arc_export_message(arc_exporter *x, arc_archive *a,
 *	                       const arc_delivery *d, char **err);
 *	int arc_export_close(arc_exporter *x, char **err);
 * DESCRIPTION
 *	An exporter writes each distinct message once (the first delivery
 *	given for an object decides its envelope; later deliveries of the
 *	same object are skipped, except in the eml-dir delivery list):
 *
 *	ARC_EXPORT_MBOX: target is a file (created or truncated; "-" is
 *	standard output) in mboxrd format: a "From SENDER DATE" line (the
 *	envelope sender, MAILER-DAEMON for <>, and the delivery time in
 *	asctime form, UTC), the message with LF line ends, every line that
 *	starts with "From " after any number of ">" quoted with one more
 *	">", and a blank line.
 *
 *	ARC_EXPORT_MAILDIR: target is a Maildir (tmp/, new/, cur/ are
 *	created); each message is written to tmp/ and renamed into new/ as
 *	TIME.ID.postern, with LF line ends.
 *
 *	ARC_EXPORT_EML: target is a directory; each message is written
 *	byte for byte as stored (CRLF) to SHA256.eml, and every delivery's
 *	envelope goes as one JSON line to deliveries.jsonl (the journal's
 *	delivery fields plus "file").
 *
 *	Files are written with mode 0600: an export holds mail.
 * DIAGNOSTICS
 *	Functions return NULL or -1 with *err set (caller frees).
 */
#ifndef ARC_EXPORT_H
#define ARC_EXPORT_H

#include "milters/archive/archive.h"

typedef enum {
	ARC_EXPORT_MBOX,
	ARC_EXPORT_MAILDIR,
	ARC_EXPORT_EML
} arc_export_format;

typedef struct arc_exporter arc_exporter;

arc_exporter *arc_export_open(arc_export_format f, const char *target, char **err);
int arc_export_message(arc_exporter *x, arc_archive *a, const arc_delivery *d, char **err);
int arc_export_close(arc_exporter *x, char **err);

#endif
