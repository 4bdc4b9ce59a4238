/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	header_text - a header value as a person is shown it
 * SYNOPSIS
 *	#include "common/header_text.h"
 *
 *	char *pn_header_display(const char *value, size_t len,
 *	                        pn_header_kind kind);
 * DESCRIPTION
 *	pn_header_display() is the one display form of a header value that
 *	the archive's index and the audit record both show, so that a
 *	Subject or a From name reads the same in both. The value is
 *	unfolded, made valid UTF-8 and stripped of spaces and tabs at both
 *	ends. What else depends on the kind of header:
 *
 *	PN_HEADER_TEXT: unstructured text and phrases (Subject, List-Id,
 *	display names, any other header): RFC 2047 encoded-words are decoded
 *	and charsets converted (pn_rfc2047_decode() in rfc2047.h).
 *
 *	PN_HEADER_ID: identifiers and dates (Message-ID, In-Reply-To,
 *	Date): not text, so never decoded; bytes that are not UTF-8 become
 *	U+FFFD.
 *
 *	Tabs and other control characters inside the value are kept: JSON
 *	escapes them, and a caller with a stricter form (the archive's
 *	index turns them into spaces) applies it to the result.
 * DIAGNOSTICS
 *	None: every input has a display form. The result is a new string;
 *	free it with pn_free().
 */
#ifndef PN_HEADER_TEXT_H
#define PN_HEADER_TEXT_H

#include <stddef.h>

typedef enum { PN_HEADER_TEXT, PN_HEADER_ID } pn_header_kind;

char *pn_header_display(const char *value, size_t len, pn_header_kind kind);

#endif
