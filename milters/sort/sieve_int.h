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
#include <stdio.h>

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

/* capabilities (bits in sv_script.caps) */
typedef unsigned long long sv_caps;
#define SV_CAP_FILEINTO (1ULL << 0)
#define SV_CAP_ENVELOPE (1ULL << 1)
#define SV_CAP_ENCODED (1ULL << 2)
#define SV_CAP_COPY (1ULL << 3)
#define SV_CAP_SUBADDRESS (1ULL << 4)
#define SV_CAP_RELATIONAL (1ULL << 5)
#define SV_CAP_VARIABLES (1ULL << 6)
#define SV_CAP_BODY (1ULL << 7)
#define SV_CAP_EDITHEADER (1ULL << 8)
#define SV_CAP_REJECT (1ULL << 9)
#define SV_CAP_EREJECT (1ULL << 10)
#define SV_CAP_ENVIRONMENT (1ULL << 11)
#define SV_CAP_REGEX (1ULL << 12)
#define SV_CAP_NUMERIC (1ULL << 13)
#define SV_CAP_OCTET (1ULL << 14)
#define SV_CAP_CASEMAP (1ULL << 15)
/* extensions of issue 18, one file each (sieve_ext_*.c) */
#define SV_CAP_DATE (1ULL << 16)		/* RFC 5260 */
#define SV_CAP_INDEX (1ULL << 17)		/* RFC 5260 */
#define SV_CAP_INCLUDE (1ULL << 18)		/* RFC 6609 */
#define SV_CAP_DUPLICATE (1ULL << 19)		/* RFC 7352 */
#define SV_CAP_MIME (1ULL << 20)		/* RFC 5703 */
#define SV_CAP_FOREVERYPART (1ULL << 21)	/* RFC 5703 */
#define SV_CAP_EXTRACTTEXT (1ULL << 22)		/* RFC 5703 */
#define SV_CAP_SPAMTEST (1ULL << 23)		/* RFC 5235 */
#define SV_CAP_SPAMTESTPLUS (1ULL << 24)	/* RFC 5235 */
#define SV_CAP_VIRUSTEST (1ULL << 25)		/* RFC 5235 */
#define SV_CAP_IMAP4FLAGS (1ULL << 26)		/* RFC 5232 */
#define SV_CAP_IHAVE (1ULL << 27)		/* RFC 5463 */
#define SV_CAP_ENOTIFY (1ULL << 28)		/* RFC 5435 */
#define SV_CAP_VACATION (1ULL << 29)		/* RFC 5230 */
#define SV_CAP_VACATION_SECONDS (1ULL << 30)	/* RFC 6131 */

typedef enum sv_op {
	SV_OP_REQUIRE, SV_OP_IF, SV_OP_ELSIF, SV_OP_ELSE, SV_OP_STOP,
	SV_OP_KEEP, SV_OP_DISCARD, SV_OP_REDIRECT, SV_OP_FILEINTO,
	SV_OP_REJECT, SV_OP_EREJECT, SV_OP_SET, SV_OP_ADDHEADER, SV_OP_DELETEHEADER,
	/* tests */
	SV_OP_ADDRESS, SV_OP_ALLOF, SV_OP_ANYOF, SV_OP_ENVELOPE, SV_OP_EXISTS,
	SV_OP_FALSE, SV_OP_HEADER, SV_OP_NOT, SV_OP_SIZE, SV_OP_TRUE,
	SV_OP_STRING, SV_OP_BODY, SV_OP_ENVIRONMENT,
	/* extensions: commands */
	SV_OP_INCLUDE, SV_OP_RETURN, SV_OP_GLOBAL,		/* include */
	SV_OP_FOREVERYPART, SV_OP_BREAK, SV_OP_EXTRACTTEXT,	/* mime */
	SV_OP_SETFLAG, SV_OP_ADDFLAG, SV_OP_REMOVEFLAG,		/* imap4flags */
	SV_OP_ERROR,						/* ihave */
	SV_OP_NOTIFY,						/* enotify */
	SV_OP_VACATION,						/* vacation */
	/* extensions: tests */
	SV_OP_DATE, SV_OP_CURRENTDATE,				/* date */
	SV_OP_DUPLICATE,					/* duplicate */
	SV_OP_SPAMTEST, SV_OP_VIRUSTEST,			/* spamtest */
	SV_OP_HASFLAG,						/* imap4flags */
	SV_OP_IHAVE,						/* ihave */
	SV_OP_VALID_NOTIFY_METHOD, SV_OP_NOTIFY_METHOD_CAPABILITY	/* enotify */
} sv_op;

/* what a command returns to the block that runs it */
#define SV_EXEC_OK 0
#define SV_EXEC_STOP 1		/* stop: ends every script of the run */
#define SV_EXEC_ERR (-1)	/* run-time error (r->error set) */
#define SV_EXEC_BREAK 2		/* foreverypart's break (ctx names the loop) */
#define SV_EXEC_RETURN 3	/* include's return: ends the current script */

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
struct sv_ctx;
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
	sv_strlist *pos[3];	/* positional string arguments */
	sv_strlist *types;	/* body :content types */
	regex_t *res;		/* compiled keys (constant :regex keys) */
	size_t nres;

	/* extensions (validation fills them; sv_node_free frees ext) */
	unsigned long index;	/* index: :index N, 0 = not given */
	int index_last;		/* index: :last */
	int mime, anychild;	/* mime: :mime, :anychild on header/address/exists */
	int mime_opt;		/* mime: SV_MIME_* option */
	sv_strlist *mime_params;	/* mime: :param names */
	sv_strlist *flags;	/* imap4flags: :flags on keep/fileinto */
	void *ext;		/* an extension's own data for this node */
	void (*ext_free)(void *ext);
	/* an extension's command or test: its run function (sieve_ext_*.c) */
	int (*run)(struct sv_ctx *c, const struct sv_node *n);
};

enum { SV_MIME_NONE, SV_MIME_TYPE, SV_MIME_SUBTYPE, SV_MIME_CONTENTTYPE, SV_MIME_PARAM };

struct sv_script {
	char *name;
	sv_node *first;
	sv_caps caps;
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

/* ---- validation (sieve_parse.c) -------------------------------------- */

typedef struct sv_parser {
	sv_lexer lx;
	sv_token tok;
	const char *name;
	char *err;
	unsigned depth;
	const sv_limits *lim;
	sv_caps caps;
	sv_script *script;
} sv_parser;

int sv_perr(sv_parser *P, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int sv_need_cap(sv_parser *P, int line, int col, sv_caps cap, const char *what);
sv_string *sv_single_string(sv_parser *P, sv_arg *a, const char *what);
sv_arg *sv_take_value(sv_parser *P, sv_node *n, size_t *i, sv_argtype type, const char *what);
const sv_strlist *sv_node_keys(const sv_node *n);

/* ---- running (sieve_run.c) -------------------------------------------- */

typedef struct sv_var {
	char *name;		/* lower case */
	char *val;
	size_t len;
} sv_var;

typedef struct sv_ctx {
	const sv_script *s;
	const sv_env *env;
	sv_result *r;
	const sv_limits *lim;
	unsigned long steps;
	sv_var *vars;
	size_t nvars;
	sv_captures caps;
	char **tmp;
	size_t ntmp, tmpcap;
	int line;
	/* parsed once per run: address fields of the message (by index in
	 * msg->headers) and the envelope when the caller gave no view */
	pn_addr_list **addr_cache;
	pn_addr env_view[2];		/* from, to */
	signed char env_state[2];	/* 0 not made, 1 made, -1 unparsable */
	/* include (sieve_ext_include.c) */
	unsigned include_depth;
	/* mime, foreverypart (sieve_ext_mime.c) */
	const pn_mime_part *part;	/* foreverypart's current part, NULL outside */
	const char *break_name;		/* break :name target, NULL: innermost */
	/* imap4flags (sieve_ext_imap4flags.c) */
	char *flags;			/* the internal flags variable */
} sv_ctx;

/* a list of values a test compares: copies, or references to strings
 * that outlive the test (the message's header fields, never copied) */
typedef struct sv_vals {
	const char **v;
	size_t *len;
	unsigned char *own;	/* v[i] is ours to free */
	size_t n, cap;
} sv_vals;

const char *sv_keep_tmp(sv_ctx *c, char *p);
int sv_rt_error(sv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sv_steps_n(sv_ctx *c, unsigned long n);
int sv_step(sv_ctx *c);
void sv_vals_put(sv_vals *v, const char *s, size_t len, int own);
void sv_vals_add(sv_vals *v, const char *s, size_t len);
void sv_vals_free(sv_vals *v);
size_t sv_utf8_cut(const char *s, size_t len, size_t max);
sv_var *sv_find_var(sv_ctx *c, const char *name, size_t len);
int sv_set_var(sv_ctx *c, const char *name, size_t nlen, char *val, size_t len);
const char *sv_expand(sv_ctx *c, const sv_string *s, size_t *len);
const char *sv_expand_z(sv_ctx *c, const sv_string *s, size_t *len);
int sv_match_values(sv_ctx *c, const sv_node *n, const sv_vals *v, const sv_strlist *keys);
int sv_header_values(sv_ctx *c, const char *name, sv_vals *out);
int sv_has_header(sv_ctx *c, const char *name);
int sv_address_values(sv_ctx *c, const sv_node *n, const char *name, sv_vals *out);
const char *sv_env_item(const sv_ctx *c, const char *name);
int sv_eval(sv_ctx *c, const sv_node *t);
int sv_add_action(sv_ctx *c, sv_act_type type, const char *arg, size_t arglen, int copy);
int sv_exec_block(sv_ctx *c, const sv_node *n);

/* ---- extension hooks (sieve_ext_*.c) ----------------------------------
 * The validation table (sieve_parse.c) names, for each command or test of
 * an extension, up to three functions of the extension's file:
 *   tag    one tag of the node at n->args[*i] (advance *i past a value it
 *          takes): 1 handled, 0 not this extension's, -1 error (sv_perr)
 *   check  after the tags and positional arguments: the node's semantics
 *          (fill n->ext, compile what can be compiled once); 0 or -1
 *   run    a test: 1 true, 0 false, -1 error (sv_rt_error); a command:
 *          an SV_EXEC_* code
 * Tags an extension adds to core commands (:index on header, :mime on
 * exists, :flags on keep) go through sv_index_tag, sv_mime_tag and
 * sv_flags_tag, which one_tag() tries before "unknown tag". */
typedef int (*sv_tag_fn)(sv_parser *P, sv_node *n, size_t *i);
typedef int (*sv_check_fn)(sv_parser *P, sv_node *n);
typedef int (*sv_run_fn)(sv_ctx *c, const sv_node *n);

int sv_index_tag(sv_parser *P, sv_node *n, size_t *i);		/* sieve_ext_date.c */
int sv_mime_tag(sv_parser *P, sv_node *n, size_t *i);		/* sieve_ext_mime.c */
int sv_flags_tag(sv_parser *P, sv_node *n, size_t *i);		/* sieve_ext_imap4flags.c */

/* sieve_ext_date.c: date, currentdate */
int sv_date_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_date_check(sv_parser *P, sv_node *n);
int sv_date_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_include.c: include, return, global */
int sv_include_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_include_check(sv_parser *P, sv_node *n);
int sv_include_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_duplicate.c */
int sv_duplicate_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_duplicate_check(sv_parser *P, sv_node *n);
int sv_duplicate_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_mime.c: foreverypart, break, extracttext; header/address/exists :mime */
int sv_mime_cmd_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_mime_check(sv_parser *P, sv_node *n);
int sv_mime_run(sv_ctx *c, const sv_node *n);
int sv_mime_test_run(sv_ctx *c, const sv_node *t);	/* header/address/exists with :mime */
/* sieve_ext_spamtest.c: spamtest, virustest */
int sv_spamtest_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_spamtest_check(sv_parser *P, sv_node *n);
int sv_spamtest_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_imap4flags.c: setflag, addflag, removeflag, hasflag */
int sv_flags_check(sv_parser *P, sv_node *n);
int sv_flags_run(sv_ctx *c, const sv_node *n);
int sv_flags_action(sv_ctx *c, const sv_node *n, sv_act_type type, const char *folder);
void sv_flags_finish(sv_ctx *c);
/* sieve_ext_ihave.c: ihave, error */
int sv_ihave_check(sv_parser *P, sv_node *n);
int sv_ihave_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_notify.c: notify, valid_notify_method, notify_method_capability */
int sv_notify_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_notify_check(sv_parser *P, sv_node *n);
int sv_notify_run(sv_ctx *c, const sv_node *n);
/* sieve_ext_vacation.c: vacation (and vacation-seconds) */
int sv_vacation_tag(sv_parser *P, sv_node *n, size_t *i);
int sv_vacation_check(sv_parser *P, sv_node *n);
int sv_vacation_run(sv_ctx *c, const sv_node *n);
/* the payload of vacation and notify actions (sieve_ext_vacation.c) */
void sv_send_print(FILE *out, const sv_action *a);
void sv_send_free(struct sv_send *s);

#endif
