/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sieve_int - the Sieve interpreter's internals: tokens, tree, matching
 * SYNOPSIS
 *	#include "milters/sort/sieve_int.h"
 *
 *	void sv_lex_init(sv_lexer *lx, const char *text, size_t len);
 *	int  sv_lex_next(sv_lexer *lx, sv_token *t);
 *	void sv_token_free(sv_token *t);
 *	const char *sv_token_name(sv_tok_type type);
 *
 *	int  sv_match_value(const sv_matcher *m, const char *val, size_t vlen,
 *	                    const char *key, size_t klen, const regex_t *re,
 *	                    sv_captures *caps);
 *	int  sv_match_count(const sv_matcher *m, size_t count,
 *	                    const char *key, size_t klen);
 *	int  sv_compare(int cmp, const char *a, size_t alen, const char *b, size_t blen);
 *	int  sv_regex_compile(regex_t *re, const char *pattern, int cmp,
 *	                      size_t max_size, char **err);
 * DESCRIPTION
 *	Shared by sieve_lex.c (tokens), sieve_parse.c (tree and validation),
 *	sieve_match.c (comparators, match types) and sieve_run.c (the
 *	interpreter). Nothing outside milters/sort/sieve*.c includes it.
 *
 *	sv_lex_next() returns the next token of a script: identifiers, tags
 *	(":name", the name without the colon), numbers with K/M/G already
 *	multiplied, quoted strings with their escapes removed, multi-line
 *	text: strings with dot-stuffing removed, and punctuation. White
 *	space, hash comments and bracket comments are skipped. Line and
 *	column (1-based, in characters) locate every token.
 *
 *	sv_match_value() compares one value with one key under a matcher
 *	(comparator, match type, relational operator): :is, :contains,
 *	:matches (with *, ? and backslash escapes), :regex (re compiled
 *	beforehand) and :value. With caps, a successful :matches or :regex
 *	fills the match variables (${0} the whole value, ${1}... each
 *	wildcard or group; each "*" matches as few characters as possible,
 *	left to right). sv_match_count() implements :count.
 * DIAGNOSTICS
 *	sv_lex_next() returns -1 with lx->err, lx->eline, lx->ecol set on a
 *	lexical error (unterminated string or comment, bad number, stray
 *	character). The matchers return 1 (match), 0 (no match) or -1 when
 *	the step budget runs out.
 */
#ifndef SV_SIEVE_INT_H
#define SV_SIEVE_INT_H

#include <regex.h>
#include <stddef.h>

#include "milters/sort/sieve.h"

/* ---- tokens ------------------------------------------------------------- */

typedef enum sv_tok_type {
	SV_T_EOF,
	SV_T_IDENT,
	SV_T_TAG,
	SV_T_NUMBER,
	SV_T_STRING,
	SV_T_LBRACKET,
	SV_T_RBRACKET,
	SV_T_LPAREN,
	SV_T_RPAREN,
	SV_T_LBRACE,
	SV_T_RBRACE,
	SV_T_COMMA,
	SV_T_SEMI
} sv_tok_type;

typedef struct sv_token {
	sv_tok_type type;
	int line, col;
	char *text;		/* identifier, tag or string contents (allocated) */
	size_t len;
	unsigned long long num;
	int multiline;		/* text: string */
} sv_token;

typedef struct sv_lexer {
	const char *start, *p, *end;
	int line;
	const char *line_start;
	char *err;		/* set on error, allocated */
	int eline, ecol;
} sv_lexer;

void sv_lex_init(sv_lexer *lx, const char *text, size_t len);
int sv_lex_next(sv_lexer *lx, sv_token *t);
void sv_token_free(sv_token *t);
const char *sv_token_name(sv_tok_type type);
int sv_lex_col(const char *line_start, const char *p);

/* ---- tree --------------------------------------------------------------- */

/* capabilities (bit numbers in sv_script.caps) */
enum {
	SV_CAP_FILEINTO = 1 << 0,
	SV_CAP_ENVELOPE = 1 << 1,
	SV_CAP_ENCODED = 1 << 2,
	SV_CAP_COPY = 1 << 3,
	SV_CAP_SUBADDRESS = 1 << 4,
	SV_CAP_RELATIONAL = 1 << 5,
	SV_CAP_VARIABLES = 1 << 6,
	SV_CAP_BODY = 1 << 7,
	SV_CAP_EDITHEADER = 1 << 8,
	SV_CAP_REJECT = 1 << 9,
	SV_CAP_EREJECT = 1 << 10,
	SV_CAP_ENVIRONMENT = 1 << 11,
	SV_CAP_REGEX = 1 << 12,
	SV_CAP_NUMERIC = 1 << 13,
	SV_CAP_OCTET = 1 << 14,
	SV_CAP_CASEMAP = 1 << 15
};

typedef enum sv_op {
	SV_OP_REQUIRE, SV_OP_IF, SV_OP_ELSIF, SV_OP_ELSE, SV_OP_STOP,
	SV_OP_KEEP, SV_OP_DISCARD, SV_OP_REDIRECT, SV_OP_FILEINTO,
	SV_OP_REJECT, SV_OP_EREJECT, SV_OP_SET, SV_OP_ADDHEADER, SV_OP_DELETEHEADER,
	/* tests */
	SV_OP_ADDRESS, SV_OP_ALLOF, SV_OP_ANYOF, SV_OP_ENVELOPE, SV_OP_EXISTS,
	SV_OP_FALSE, SV_OP_HEADER, SV_OP_NOT, SV_OP_SIZE, SV_OP_TRUE,
	SV_OP_STRING, SV_OP_BODY, SV_OP_ENVIRONMENT
} sv_op;

enum { SV_CMP_OCTET, SV_CMP_CASEMAP, SV_CMP_NUMERIC };
enum { SV_MATCH_IS, SV_MATCH_CONTAINS, SV_MATCH_MATCHES, SV_MATCH_REGEX,
       SV_MATCH_VALUE, SV_MATCH_COUNT };
enum { SV_REL_GT, SV_REL_GE, SV_REL_LT, SV_REL_LE, SV_REL_EQ, SV_REL_NE };
enum { SV_PART_ALL, SV_PART_LOCAL, SV_PART_DOMAIN, SV_PART_USER, SV_PART_DETAIL };
enum { SV_BODY_TEXT, SV_BODY_RAW, SV_BODY_CONTENT };

/* set modifiers */
enum {
	SV_MOD_LOWER = 1 << 0, SV_MOD_UPPER = 1 << 1, SV_MOD_LOWERFIRST = 1 << 2,
	SV_MOD_UPPERFIRST = 1 << 3, SV_MOD_QUOTEWILDCARD = 1 << 4, SV_MOD_LENGTH = 1 << 5,
	SV_MOD_QUOTEREGEX = 1 << 6
};

typedef struct sv_string {
	char *s;		/* contents after encoded-character decoding */
	size_t len;
	int line, col;
	int has_vars;		/* contains "${" and variables is required */
} sv_string;

typedef struct sv_strlist {
	sv_string *v;
	size_t n;
	int line, col;
} sv_strlist;

typedef enum sv_argtype { SV_ARG_LIST, SV_ARG_NUMBER, SV_ARG_TAG } sv_argtype;

typedef struct sv_arg {
	sv_argtype type;
	int line, col;
	char *tag;			/* SV_ARG_TAG, lower-case, without ':' */
	unsigned long long num;		/* SV_ARG_NUMBER */
	sv_strlist list;		/* SV_ARG_LIST */
} sv_arg;

typedef struct sv_matcher {
	int cmp;		/* SV_CMP_* */
	int match;		/* SV_MATCH_* */
	int rel;		/* SV_REL_* for :value and :count */
} sv_matcher;

typedef struct sv_node sv_node;
struct sv_node {
	char *name;		/* as written */
	int line, col;
	sv_arg *args;
	size_t nargs;
	sv_node **tests;	/* test (1) or test-list */
	size_t ntests;
	int test_list;		/* tests were given in parentheses */
	sv_node *block;		/* first command of the block */
	int has_block;
	sv_node *next;		/* next command in the same block */

	/* filled by validation */
	sv_op op;
	sv_matcher m;
	int part;		/* SV_PART_* */
	int copy, last, over, mods, transform;
	unsigned long long number;	/* size limit, :index */
	sv_strlist *pos[2];	/* positional string arguments */
	sv_strlist *types;	/* body :content types */
	regex_t *res;		/* compiled keys (constant :regex keys) */
	size_t nres;
};

struct sv_script {
	char *name;
	sv_node *first;
	unsigned caps;
	int uses_body, uses_size, uses_edits;
	sv_limits limits;
};

/* ---- matching ----------------------------------------------------------- */

#define SV_MAX_MATCH_VARS 10

typedef struct sv_captures {
	char *v[SV_MAX_MATCH_VARS];	/* allocated, NULL = unset */
	size_t len[SV_MAX_MATCH_VARS];
	int wanted;			/* fill them (variables required) */
} sv_captures;

void sv_captures_clear(sv_captures *c);
int sv_match_value(const sv_matcher *m, const char *val, size_t vlen, const char *key,
		   size_t klen, const regex_t *re, sv_captures *caps, unsigned long *steps);
int sv_match_count(const sv_matcher *m, size_t count, const char *key, size_t klen);
int sv_compare(int cmp, const char *a, size_t alen, const char *b, size_t blen);
int sv_regex_compile(regex_t *re, const char *pattern, int cmp, size_t max_size, char **err);

/* ---- body cache ------------------------------------------------------- */

#include "common/mime.h"

int sv_body_load(sv_body *b, const pn_msg *m, size_t max_bytes);
const char *sv_body_raw(const sv_body *b, size_t *len);
size_t sv_body_part_count(const sv_body *b);
const pn_mime_part *sv_body_part(const sv_body *b, size_t i);

/* ---- shared helpers ----------------------------------------------------- */

int sv_header_name_valid(const char *s, size_t len);
int sv_var_name_valid(const char *s, size_t len);
int sv_address_header(const char *name);
void sv_node_free(sv_node *n);

#endif
