/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	query - what search, get, export and hold select
 * SYNOPSIS
 *	#include "milters/archive/query.h"
 *
 *	void arc_query_init(arc_query *q);
 *	void arc_query_clear(arc_query *q);
 *	int  arc_query_set(arc_query *q, const char *option, const char *value,
 *	                   char **err);
 *	void arc_query_add_key(arc_query *q, const char *key);
 *	int  arc_query_is_empty(const arc_query *q);
 *	arc_key_kind arc_key_classify(const char *key);
 *	char *arc_message_id_normal(const char *s);
 *	int  arc_parse_time(const char *s, long long *out);
 *	int  arc_parse_size(const char *s, long long *out);
 *	char *arc_fts_phrase(const char *words);
 *	char *arc_like_pattern(const char *text);
 *	char *arc_join_lines(char **v, size_t n);
 * DESCRIPTION
 *	A query is a conjunction of criteria, each optional:
 *	    from        envelope sender or From header contains the text
 *	    to          an envelope recipient (Bcc included), To or Cc
 *	                contains the text
 *	    subject     the decoded Subject contains the text
 *	    text        every word occurs in the subject or the text parts
 *	                (full-text index)
 *	    since/until delivery time at or after / before (UTC)
 *	    message-id  the Message-ID is exactly this (angle brackets
 *	                optional)
 *	    attachment  an attachment name contains the text
 *	    larger      the message is larger than N bytes
 *	Text matches ignore ASCII case. Keys (the positional arguments of
 *	get, export and hold) select deliveries by id, objects by SHA-256
 *	(or a prefix of at least 8 hex digits) or messages by Message-ID;
 *	several keys are alternatives.
 *
 *	arc_query_set() sets one criterion by its option name ("from",
 *	"since", "larger", ...) from command-line text. arc_parse_time()
 *	accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z] (or a space for T), all
 *	UTC, @SECONDS, and an age such as 7d, 12h, 2w, 1y ago from now.
 *	arc_parse_size() accepts a byte count with k, m or g (1024-based).
 *	arc_fts_phrase() turns words into an FTS5 query that matches
 *	documents containing all of them, with every word quoted so that
 *	user text can never be read as FTS5 syntax. arc_like_pattern()
 *	makes the LIKE pattern "%text%" with LIKE's own wildcards in text
 *	escaped by a backslash (SQLite's ESCAPE '\', PostgreSQL's default),
 *	so a "contains" criterion matches the text only. arc_join_lines()
 *	joins strings with newlines (the attachment names column of both
 *	indexes).
 * DIAGNOSTICS
 *	arc_query_set() returns 0, or -1 with *err naming the option and the
 *	value. The parse functions return 0 or -1.
 */
#ifndef ARC_QUERY_H
#define ARC_QUERY_H

#include <stddef.h>

typedef enum {
	ARC_KEY_ID,
	ARC_KEY_SHA256,
	ARC_KEY_SHA_PREFIX,
	ARC_KEY_MESSAGE_ID,
	ARC_KEY_BAD
} arc_key_kind;

typedef struct arc_query {
	char *from, *to, *subject, *text, *message_id, *attachment;
	long long since, until;		/* -1: not set */
	long long larger;		/* -1: not set */
	char **keys;
	size_t nkeys;
	int held_only;
} arc_query;

void arc_query_init(arc_query *q);
void arc_query_clear(arc_query *q);
int arc_query_set(arc_query *q, const char *option, const char *value, char **err);
void arc_query_add_key(arc_query *q, const char *key);
int arc_query_is_empty(const arc_query *q);
arc_key_kind arc_key_classify(const char *key);
char *arc_message_id_normal(const char *s);
int arc_parse_time(const char *s, long long *out);
int arc_parse_size(const char *s, long long *out);
char *arc_fts_phrase(const char *words);
char *arc_like_pattern(const char *text);
char *arc_join_lines(char **v, size_t n);

#endif
