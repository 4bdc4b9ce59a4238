/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	rfc2047 - header values and foreign charsets to valid UTF-8
 * SYNOPSIS
 *	#include "common/rfc2047.h"
 *
 *	char *pn_rfc2047_decode(const char *value, size_t len);
 *	char *pn_header_unfold(const char *value, size_t len);
 *	char *pn_charset_to_utf8(const char *charset, const void *bytes,
 *	                         size_t len);
 *	char *pn_charset_to_utf8_prefix(const char *charset,
 *	                         const void *bytes, size_t len);
 *	char *pn_utf8_sanitize(const void *bytes, size_t len);
 *	size_t pn_utf8_sanitize_len(const void *bytes, size_t len);
 *	int pn_utf8_valid(const void *bytes, size_t len);
 *	int pn_charset_known(const char *charset);
 * DESCRIPTION
 *	Everything a filter shows a person, writes to a log or puts in JSON
 *	must be valid UTF-8, whatever the sender put in the message. These
 *	functions are the one place where foreign bytes become UTF-8. Every
 *	result is a new NUL-terminated string that the caller frees with
 *	pn_free(); none is ever NULL except where said.
 *
 *	pn_rfc2047_decode() unfolds a header value (see pn_header_unfold)
 *	and decodes its RFC 2047 encoded-words, =?charset?B?...?= and
 *	=?charset?Q?...?=. The charset and the encoding letter are case
 *	insensitive and an RFC 2231 language suffix (=?utf-8*en?Q?...?=) is
 *	accepted and ignored. Whitespace between two adjacent encoded-words
 *	is dropped, as RFC 2047 requires. The decoded bytes of adjacent
 *	words in the same charset are joined before conversion, because
 *	senders do split multibyte characters between words. Encoded-words
 *	are also recognised inside a run of text, as mail readers do. A
 *	word whose charset iconv does not know, or whose encoding is broken,
 *	is left as it was. Bytes outside encoded-words are kept when they
 *	are UTF-8 (RFC 6532 headers) and replaced otherwise.
 *
 *	pn_header_unfold() removes the line breaks of a folded header: CRLF
 *	or LF followed by whitespace leaves the whitespace. Any other CR or
 *	LF is removed too, so the result is always one line. It only
 *	unfolds: the bytes are not checked or converted.
 *
 *	pn_charset_to_utf8() converts bytes from a MIME charset name (case
 *	insensitive, anything glibc iconv knows, an RFC 2231 "*language"
 *	suffix ignored) to UTF-8. Following the WHATWG encoding standard,
 *	iso-8859-1 is read as windows-1252, gb2312 and gbk as gb18030,
 *	euc-kr as cp949 and shift_jis as cp932: senders use the narrow label
 *	for the wider Microsoft set. us-ascii and utf-8 are read as UTF-8
 *	(8-bit bytes under an ASCII label are most often UTF-8). Bytes that
 *	are invalid in the charset become U+FFFD. pn_charset_known() says
 *	whether pn_charset_to_utf8() would accept the name.
 *	pn_charset_to_utf8_prefix() is the same for bytes cut from a longer
 *	text at an arbitrary point: a character cut short at the end is
 *	dropped instead of becoming U+FFFD.
 *
 *	pn_utf8_sanitize() copies bytes, replacing each invalid UTF-8
 *	sequence (stray continuation bytes, overlong forms, surrogates, code
 *	points above U+10FFFF, truncated sequences: each maximal invalid
 *	subpart) by U+FFFD. NUL bytes also become U+FFFD so that the result
 *	holds all of the input as a C string. pn_utf8_sanitize_len() is the
 *	length that pn_utf8_sanitize() would return, without allocating.
 *	pn_utf8_valid() is 1 when the bytes are valid UTF-8 (RFC 3629) with
 *	no NUL, else 0: exactly when pn_utf8_sanitize() would copy them
 *	unchanged.
 *
 *	iconv descriptors are opened and closed within each call, so every
 *	function is safe to call from several threads at once.
 * DIAGNOSTICS
 *	pn_charset_to_utf8() and pn_charset_to_utf8_prefix() return NULL when the charset is unknown or its
 *	name is malformed. The other functions cannot fail.
 */
#ifndef PN_RFC2047_H
#define PN_RFC2047_H

#include <stddef.h>

char *pn_rfc2047_decode(const char *value, size_t len);
char *pn_header_unfold(const char *value, size_t len);
char *pn_charset_to_utf8(const char *charset, const void *bytes, size_t len);
char *pn_charset_to_utf8_prefix(const char *charset, const void *bytes, size_t len);
int pn_charset_known(const char *charset);
char *pn_utf8_sanitize(const void *bytes, size_t len);
size_t pn_utf8_sanitize_len(const void *bytes, size_t len);
int pn_utf8_valid(const void *bytes, size_t len);

#endif
