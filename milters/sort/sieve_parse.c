/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_parse - Sieve grammar (RFC 5228 section 8.2) and validation
 *
 * Two passes: a recursive-descent parser builds a generic tree (command,
 * arguments, tests, block) exactly as the grammar says, then a validator
 * checks it against a table of commands and tests, resolves tags into
 * fields of each node and compiles what can be compiled once (regular
 * expressions, encoded characters). Errors name line:column and say what
 * was expected and what was found.
 */
#include "milters/sort/sieve_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/codec.h"
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>


/* ---- errors ------------------------------------------------------------- */

/* sv_perr - record the first error at line:col; always returns -1 */
int sv_perr(sv_parser *P, int line, int col, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;
	char *msg;

	if (P->err)
		return -1;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = pn_malloc(n > 0 ? (size_t)n + 1 : 1);
	msg[0] = '\0';
	if (n > 0)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	P->err = pn_asprintf("%s:%d:%d: %s", P->name, line, col, msg);
	pn_free(msg);
	return -1;
}

/* describe - a token as shown in messages: kind and, briefly, its text */
static char *describe(const sv_token *t)
{
	switch (t->type) {
	case SV_T_IDENT:
		return pn_asprintf("identifier \"%s\"", t->text);
	case SV_T_TAG:
		return pn_asprintf("tag \":%s\"", t->text);
	case SV_T_NUMBER:
		return pn_asprintf("number %llu", t->num);
	case SV_T_STRING:
		if (t->len > 20)
			return pn_asprintf("string \"%.20s...\"", t->text);
		return pn_asprintf("string \"%s\"", t->text);
	default:
		return pn_strdup(sv_token_name(t->type));
	}
}

/* expected - "expected X, found Y" at the current token */
static int expected(sv_parser *P, const char *what)
{
	char *d = describe(&P->tok);

	sv_perr(P, P->tok.line, P->tok.col, "expected %s, found %s", what, d);
	pn_free(d);
	return -1;
}

/* advance - move to the next token */
static int advance(sv_parser *P)
{
	sv_token_free(&P->tok);
	if (sv_lex_next(&P->lx, &P->tok) < 0) {
		sv_perr(P, P->lx.eline, P->lx.ecol, "%s", P->lx.err);
		P->tok.type = SV_T_EOF;
		return -1;
	}
	return 0;
}

/* ---- tree --------------------------------------------------------------- */

/* strlist_free - a string list's strings */
static void strlist_free(sv_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		pn_free(l->v[i].s);
	pn_free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* sv_node_free - a node, its arguments, tests, block and followers */
void sv_node_free(sv_node *n)
{
	while (n) {
		sv_node *next = n->next;
		size_t i;

		for (i = 0; i < n->nargs; i++) {
			pn_free(n->args[i].tag);
			strlist_free(&n->args[i].list);
		}
		pn_free(n->args);
		for (i = 0; i < n->ntests; i++)
			sv_node_free(n->tests[i]);
		pn_free(n->tests);
		sv_node_free(n->block);
		for (i = 0; i < n->nres; i++)
			regfree(&n->res[i]);
		pn_free(n->res);
		if (n->ext && n->ext_free)
			n->ext_free(n->ext);
		pn_free(n->name);
		pn_free(n);
		n = next;
	}
}

/* new_node - a node for the identifier under the cursor */
static sv_node *new_node(sv_parser *P)
{
	sv_node *n = pn_calloc(1, sizeof(*n));

	n->name = P->tok.text;
	P->tok.text = NULL;
	n->line = P->tok.line;
	n->col = P->tok.col;
	return n;
}

/* add_arg - append an argument slot */
static sv_arg *add_arg(sv_node *n)
{
	n->args = pn_realloc(n->args, (n->nargs + 1) * sizeof(*n->args));
	memset(&n->args[n->nargs], 0, sizeof(*n->args));
	return &n->args[n->nargs++];
}

/* add_string - append the current string token to a list */
static void add_string(sv_parser *P, sv_strlist *l)
{
	sv_string *s;

	l->v = pn_realloc(l->v, (l->n + 1) * sizeof(*l->v));
	s = &l->v[l->n++];
	memset(s, 0, sizeof(*s));
	s->s = P->tok.text;
	s->len = P->tok.len;
	s->line = P->tok.line;
	s->col = P->tok.col;
	P->tok.text = NULL;
}

/* add_test - append a test to a node */
static void add_test(sv_node *n, sv_node *t)
{
	n->tests = pn_realloc(n->tests, (n->ntests + 1) * sizeof(*n->tests));
	n->tests[n->ntests++] = t;
}

/* ---- sv_parser ------------------------------------------------------------- */

static sv_node *parse_test(sv_parser *P);
static sv_node *parse_commands(sv_parser *P, int toplevel);

/* parse_string_list - "[" string *("," string) "]" */
static int parse_string_list(sv_parser *P, sv_strlist *l)
{
	l->line = P->tok.line;
	l->col = P->tok.col;
	if (advance(P) < 0)
		return -1;
	for (;;) {
		if (P->tok.type != SV_T_STRING)
			return expected(P, "a string in the string list");
		add_string(P, l);
		if (advance(P) < 0)
			return -1;
		if (P->tok.type == SV_T_RBRACKET)
			return advance(P);
		if (P->tok.type != SV_T_COMMA)
			return expected(P, "',' or ']' in the string list");
		if (advance(P) < 0)
			return -1;
	}
}

/* parse_arguments - *argument [test / test-list] */
static int parse_arguments(sv_parser *P, sv_node *n)
{
	for (;;) {
		sv_arg *a;

		switch (P->tok.type) {
		case SV_T_LBRACKET:
			a = add_arg(n);
			a->type = SV_ARG_LIST;
			a->line = P->tok.line;
			a->col = P->tok.col;
			if (parse_string_list(P, &a->list) < 0)
				return -1;
			continue;
		case SV_T_STRING:
			a = add_arg(n);
			a->type = SV_ARG_LIST;
			a->line = a->list.line = P->tok.line;
			a->col = a->list.col = P->tok.col;
			add_string(P, &a->list);
			break;
		case SV_T_NUMBER:
			a = add_arg(n);
			a->type = SV_ARG_NUMBER;
			a->line = P->tok.line;
			a->col = P->tok.col;
			a->num = P->tok.num;
			break;
		case SV_T_TAG:
			a = add_arg(n);
			a->type = SV_ARG_TAG;
			a->line = P->tok.line;
			a->col = P->tok.col;
			a->tag = P->tok.text;
			P->tok.text = NULL;
			{
				char *c;
				for (c = a->tag; *c; c++)
					if (*c >= 'A' && *c <= 'Z')
						*c = (char)(*c - 'A' + 'a');
			}
			break;
		default:
			goto tests;
		}
		if (advance(P) < 0)
			return -1;
	}
tests:
	if (P->tok.type == SV_T_IDENT) {
		sv_node *t = parse_test(P);
		if (t == NULL)
			return -1;
		add_test(n, t);
	} else if (P->tok.type == SV_T_LPAREN) {
		if (advance(P) < 0)
			return -1;
		for (;;) {
			sv_node *t = parse_test(P);
			if (t == NULL)
				return -1;
			add_test(n, t);
			if (P->tok.type == SV_T_RPAREN)
				break;
			if (P->tok.type != SV_T_COMMA)
				return expected(P, "',' or ')' in the test list");
			if (advance(P) < 0)
				return -1;
		}
		n->test_list = 1;
		if (advance(P) < 0)
			return -1;
	}
	return 0;
}

/* parse_test - identifier arguments */
static sv_node *parse_test(sv_parser *P)
{
	sv_node *n;

	if (P->tok.type != SV_T_IDENT) {
		expected(P, "a test");
		return NULL;
	}
	if (++P->depth > P->lim->max_nesting) {
		sv_perr(P, P->tok.line, P->tok.col, "tests nested deeper than %u", P->lim->max_nesting);
		return NULL;
	}
	n = new_node(P);
	if (advance(P) < 0 || parse_arguments(P, n) < 0) {
		sv_node_free(n);
		return NULL;
	}
	P->depth--;
	return n;
}

/* parse_command - identifier arguments (";" / block) */
static sv_node *parse_command(sv_parser *P)
{
	sv_node *n;

	if (P->tok.type != SV_T_IDENT) {
		expected(P, "a command");
		return NULL;
	}
	n = new_node(P);
	if (advance(P) < 0 || parse_arguments(P, n) < 0)
		goto fail;
	if (P->tok.type == SV_T_SEMI) {
		if (advance(P) < 0)
			goto fail;
		return n;
	}
	if (P->tok.type == SV_T_LBRACE) {
		int line = P->tok.line, col = P->tok.col;

		if (++P->depth > P->lim->max_nesting) {
			sv_perr(P, line, col, "blocks nested deeper than %u", P->lim->max_nesting);
			goto fail;
		}
		if (advance(P) < 0)
			goto fail;
		n->has_block = 1;
		n->block = parse_commands(P, 0);
		if (P->err)
			goto fail;
		if (P->tok.type != SV_T_RBRACE) {
			char *d = describe(&P->tok);
			sv_perr(P, P->tok.line, P->tok.col,
			     "expected '}' to close the block opened at %d:%d, found %s", line, col, d);
			pn_free(d);
			goto fail;
		}
		P->depth--;
		if (advance(P) < 0)
			goto fail;
		return n;
	}
	{
		char *what = pn_asprintf("';' or '{' after the arguments of \"%s\"", n->name);
		expected(P, what);
		pn_free(what);
	}
fail:
	sv_node_free(n);
	return NULL;
}

/* parse_commands - commands up to '}' (in a block) or the end */
static sv_node *parse_commands(sv_parser *P, int toplevel)
{
	sv_node *first = NULL, **tail = &first;

	while (P->tok.type != SV_T_EOF && (toplevel || P->tok.type != SV_T_RBRACE)) {
		sv_node *n = parse_command(P);
		if (n == NULL) {
			sv_node_free(first);
			return NULL;
		}
		*tail = n;
		tail = &n->next;
	}
	if (toplevel && P->tok.type != SV_T_EOF) {
		expected(P, "a command");
		sv_node_free(first);
		return NULL;
	}
	return first;
}

/* ---- validation tables -------------------------------------------------- */

enum {
	T_MATCH = 1 << 0, T_ADDRPART = 1 << 1, T_COPY = 1 << 2, T_SIZE = 1 << 3,
	T_LAST = 1 << 4, T_INDEX = 1 << 5, T_SETMOD = 1 << 6, T_BODY = 1 << 7,
	/* tags extensions add: the command's own (spec.tag), :index/:last
	 * (index), :mime and its options (mime), :flags (imap4flags) */
	T_EXT = 1 << 8, T_IDX = 1 << 9, T_MIMETAGS = 1 << 10, T_FLAGS = 1 << 11
};
enum { NO_TESTS, ONE_TEST, TEST_LIST };

typedef struct spec {
	const char *name;
	sv_op op;
	int is_test;
	sv_caps cap;		/* capability required, 0 = core */
	unsigned tags;
	const char *pos;	/* L string-list, S string, N number; lower case optional */
	int tests;
	int block;
	/* an extension's functions (sieve_int.h, "extension hooks") */
	sv_tag_fn tag;
	sv_check_fn check;
	sv_run_fn run;
} spec;

static const spec specs[] = {
	{"require", SV_OP_REQUIRE, 0, 0, 0, "L", NO_TESTS, 0, NULL, NULL, NULL},
	{"if", SV_OP_IF, 0, 0, 0, "", ONE_TEST, 1, NULL, NULL, NULL},
	{"elsif", SV_OP_ELSIF, 0, 0, 0, "", ONE_TEST, 1, NULL, NULL, NULL},
	{"else", SV_OP_ELSE, 0, 0, 0, "", NO_TESTS, 1, NULL, NULL, NULL},
	{"stop", SV_OP_STOP, 0, 0, 0, "", NO_TESTS, 0, NULL, NULL, NULL},
	{"keep", SV_OP_KEEP, 0, 0, T_FLAGS, "", NO_TESTS, 0, NULL, NULL, NULL},
	{"discard", SV_OP_DISCARD, 0, 0, 0, "", NO_TESTS, 0, NULL, NULL, NULL},
	{"redirect", SV_OP_REDIRECT, 0, 0, T_COPY, "S", NO_TESTS, 0, NULL, NULL, NULL},
	{"fileinto", SV_OP_FILEINTO, 0, SV_CAP_FILEINTO, T_COPY | T_FLAGS, "S", NO_TESTS, 0,
	 NULL, NULL, NULL},
	{"reject", SV_OP_REJECT, 0, SV_CAP_REJECT, 0, "S", NO_TESTS, 0, NULL, NULL, NULL},
	{"ereject", SV_OP_EREJECT, 0, SV_CAP_EREJECT, 0, "S", NO_TESTS, 0, NULL, NULL, NULL},
	{"set", SV_OP_SET, 0, SV_CAP_VARIABLES, T_SETMOD, "SS", NO_TESTS, 0, NULL, NULL, NULL},
	{"addheader", SV_OP_ADDHEADER, 0, SV_CAP_EDITHEADER, T_LAST, "SS", NO_TESTS, 0,
	 NULL, NULL, NULL},
	{"deleteheader", SV_OP_DELETEHEADER, 0, SV_CAP_EDITHEADER, T_MATCH | T_INDEX | T_LAST,
	 "Sl", NO_TESTS, 0, NULL, NULL, NULL},
	{"address", SV_OP_ADDRESS, 1, 0, T_MATCH | T_ADDRPART | T_IDX | T_MIMETAGS, "LL",
	 NO_TESTS, 0, NULL, NULL, NULL},
	{"allof", SV_OP_ALLOF, 1, 0, 0, "", TEST_LIST, 0, NULL, NULL, NULL},
	{"anyof", SV_OP_ANYOF, 1, 0, 0, "", TEST_LIST, 0, NULL, NULL, NULL},
	{"envelope", SV_OP_ENVELOPE, 1, SV_CAP_ENVELOPE, T_MATCH | T_ADDRPART, "LL", NO_TESTS, 0,
	 NULL, NULL, NULL},
	{"exists", SV_OP_EXISTS, 1, 0, T_MIMETAGS, "L", NO_TESTS, 0, NULL, NULL, NULL},
	{"false", SV_OP_FALSE, 1, 0, 0, "", NO_TESTS, 0, NULL, NULL, NULL},
	{"header", SV_OP_HEADER, 1, 0, T_MATCH | T_IDX | T_MIMETAGS, "LL", NO_TESTS, 0,
	 NULL, NULL, NULL},
	{"not", SV_OP_NOT, 1, 0, 0, "", ONE_TEST, 0, NULL, NULL, NULL},
	{"size", SV_OP_SIZE, 1, 0, T_SIZE, "N", NO_TESTS, 0, NULL, NULL, NULL},
	{"true", SV_OP_TRUE, 1, 0, 0, "", NO_TESTS, 0, NULL, NULL, NULL},
	{"string", SV_OP_STRING, 1, SV_CAP_VARIABLES, T_MATCH, "LL", NO_TESTS, 0,
	 NULL, NULL, NULL},
	{"body", SV_OP_BODY, 1, SV_CAP_BODY, T_MATCH | T_BODY, "L", NO_TESTS, 0, NULL, NULL, NULL},
	{"environment", SV_OP_ENVIRONMENT, 1, SV_CAP_ENVIRONMENT, T_MATCH, "SL", NO_TESTS, 0,
	 NULL, NULL, NULL},
	/* include (RFC 6609) */
	{"include", SV_OP_INCLUDE, 0, SV_CAP_INCLUDE, T_EXT, "S", NO_TESTS, 0,
	 sv_include_tag, sv_include_check, sv_include_run},
	{"return", SV_OP_RETURN, 0, SV_CAP_INCLUDE, 0, "", NO_TESTS, 0,
	 NULL, sv_include_check, sv_include_run},
	{"global", SV_OP_GLOBAL, 0, SV_CAP_INCLUDE, 0, "L", NO_TESTS, 0,
	 NULL, sv_include_check, sv_include_run},
	/* mime, foreverypart, extracttext (RFC 5703) */
	{"foreverypart", SV_OP_FOREVERYPART, 0, SV_CAP_FOREVERYPART, T_EXT, "", NO_TESTS, 1,
	 sv_mime_cmd_tag, sv_mime_check, sv_mime_run},
	{"break", SV_OP_BREAK, 0, SV_CAP_FOREVERYPART, T_EXT, "", NO_TESTS, 0,
	 sv_mime_cmd_tag, sv_mime_check, sv_mime_run},
	{"extracttext", SV_OP_EXTRACTTEXT, 0, SV_CAP_EXTRACTTEXT, T_EXT | T_SETMOD, "S", NO_TESTS, 0,
	 sv_mime_cmd_tag, sv_mime_check, sv_mime_run},
	/* imap4flags (RFC 5232): "Ll" = [variable] flags, sorted out by the check */
	{"setflag", SV_OP_SETFLAG, 0, SV_CAP_IMAP4FLAGS, 0, "Ll", NO_TESTS, 0,
	 NULL, sv_flags_check, sv_flags_run},
	{"addflag", SV_OP_ADDFLAG, 0, SV_CAP_IMAP4FLAGS, 0, "Ll", NO_TESTS, 0,
	 NULL, sv_flags_check, sv_flags_run},
	{"removeflag", SV_OP_REMOVEFLAG, 0, SV_CAP_IMAP4FLAGS, 0, "Ll", NO_TESTS, 0,
	 NULL, sv_flags_check, sv_flags_run},
	{"hasflag", SV_OP_HASFLAG, 1, SV_CAP_IMAP4FLAGS, T_MATCH, "Ll", NO_TESTS, 0,
	 NULL, sv_flags_check, sv_flags_run},
	/* ihave (RFC 5463) */
	{"ihave", SV_OP_IHAVE, 1, SV_CAP_IHAVE, 0, "L", NO_TESTS, 0,
	 NULL, sv_ihave_check, sv_ihave_run},
	{"error", SV_OP_ERROR, 0, SV_CAP_IHAVE, 0, "S", NO_TESTS, 0,
	 NULL, sv_ihave_check, sv_ihave_run},
	/* enotify (RFC 5435) */
	{"notify", SV_OP_NOTIFY, 0, SV_CAP_ENOTIFY, T_EXT, "S", NO_TESTS, 0,
	 sv_notify_tag, sv_notify_check, sv_notify_run},
	{"valid_notify_method", SV_OP_VALID_NOTIFY_METHOD, 1, SV_CAP_ENOTIFY, 0, "L", NO_TESTS, 0,
	 NULL, sv_notify_check, sv_notify_run},
	{"notify_method_capability", SV_OP_NOTIFY_METHOD_CAPABILITY, 1, SV_CAP_ENOTIFY, T_MATCH,
	 "SSL", NO_TESTS, 0, NULL, sv_notify_check, sv_notify_run},
	/* vacation (RFC 5230, RFC 6131) */
	{"vacation", SV_OP_VACATION, 0, SV_CAP_VACATION, T_EXT, "S", NO_TESTS, 0,
	 sv_vacation_tag, sv_vacation_check, sv_vacation_run},
	/* date (RFC 5260) */
	{"date", SV_OP_DATE, 1, SV_CAP_DATE, T_MATCH | T_EXT | T_IDX, "SSL", NO_TESTS, 0,
	 sv_date_tag, sv_date_check, sv_date_run},
	{"currentdate", SV_OP_CURRENTDATE, 1, SV_CAP_DATE, T_MATCH | T_EXT, "SL", NO_TESTS, 0,
	 sv_date_tag, sv_date_check, sv_date_run},
	/* duplicate (RFC 7352) */
	{"duplicate", SV_OP_DUPLICATE, 1, SV_CAP_DUPLICATE, T_EXT, "", NO_TESTS, 0,
	 sv_duplicate_tag, sv_duplicate_check, sv_duplicate_run},
	/* spamtest, spamtestplus, virustest (RFC 5235) */
	{"spamtest", SV_OP_SPAMTEST, 1, SV_CAP_SPAMTEST, T_MATCH | T_EXT, "S", NO_TESTS, 0,
	 sv_spamtest_tag, sv_spamtest_check, sv_spamtest_run},
	{"virustest", SV_OP_VIRUSTEST, 1, SV_CAP_VIRUSTEST, T_MATCH, "S", NO_TESTS, 0,
	 NULL, sv_spamtest_check, sv_spamtest_run},
	{NULL, 0, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL}
};

static const struct capname {
	const char *name;
	sv_caps cap;
} capnames[] = {
	{"fileinto", SV_CAP_FILEINTO},
	{"envelope", SV_CAP_ENVELOPE},
	{"encoded-character", SV_CAP_ENCODED},
	{"copy", SV_CAP_COPY},
	{"subaddress", SV_CAP_SUBADDRESS},
	{"relational", SV_CAP_RELATIONAL},
	{"variables", SV_CAP_VARIABLES},
	{"body", SV_CAP_BODY},
	{"editheader", SV_CAP_EDITHEADER},
	{"reject", SV_CAP_REJECT},
	{"ereject", SV_CAP_EREJECT},
	{"environment", SV_CAP_ENVIRONMENT},
	{"regex", SV_CAP_REGEX},
	{"comparator-i;ascii-numeric", SV_CAP_NUMERIC},
	{"comparator-i;octet", SV_CAP_OCTET},
	{"comparator-i;ascii-casemap", SV_CAP_CASEMAP},
	{"date", SV_CAP_DATE},
	{"index", SV_CAP_INDEX},
	{"include", SV_CAP_INCLUDE},
	{"duplicate", SV_CAP_DUPLICATE},
	{"mime", SV_CAP_MIME},
	{"foreverypart", SV_CAP_FOREVERYPART},
	{"extracttext", SV_CAP_EXTRACTTEXT},
	{"spamtest", SV_CAP_SPAMTEST},
	{"spamtestplus", SV_CAP_SPAMTESTPLUS},
	{"virustest", SV_CAP_VIRUSTEST},
	{"imap4flags", SV_CAP_IMAP4FLAGS},
	{"ihave", SV_CAP_IHAVE},
	{"enotify", SV_CAP_ENOTIFY},
	{"vacation", SV_CAP_VACATION},
	{"vacation-seconds", SV_CAP_VACATION_SECONDS},
	{NULL, 0}
};

/* sv_cap_lookup - the capability bit of a require string, 0 when unknown */
sv_caps sv_cap_lookup(const char *name, size_t len)
{
	const struct capname *c;

	for (c = capnames; c->name; c++)
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c->cap;
	return 0;
}

/* cap_name - the require string of a capability bit */
static const char *cap_name(sv_caps cap)
{
	const struct capname *c;

	for (c = capnames; c->name; c++)
		if (c->cap == cap)
			return c->name;
	return "?";
}

/* find_spec - a command or test by name, any case */
static const spec *find_spec(const char *name)
{
	const spec *s;

	for (s = specs; s->name; s++)
		if (strcasecmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* ---- validation helpers ------------------------------------------------- */

/* sv_header_name_valid - RFC 5322 field-name: printable ASCII but ':' */
int sv_header_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

/* sv_var_name_valid - identifier, optionally with "." namespaces */
int sv_var_name_valid(const char *s, size_t len)
{
	size_t i;
	int start = 1;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (start)
				return 0;
			start = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
		      || (!start && c >= '0' && c <= '9')))
			return 0;
		start = 0;
	}
	return !start;
}

/* sv_address_header - headers the address test may examine */
int sv_address_header(const char *name)
{
	static const char *const names[] = {
		"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from",
		"resent-sender", "resent-to", "resent-cc", "resent-bcc", "return-path",
		"delivered-to", "errors-to", "return-receipt-to", "disposition-notification-to",
		"original-recipient", "x-original-to", "envelope-to", "mail-followup-to",
		"mail-reply-to", "list-post", NULL
	};
	size_t i;

	for (i = 0; names[i]; i++)
		if (strcasecmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* is_blank - encoded-character "blank": WSP / CRLF */
static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* put_utf8 - append code point cp */
static void put_utf8(pn_buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		pn_buf_putc(b, (int)cp);
	} else if (cp < 0x800) {
		pn_buf_putc(b, (int)(0xc0 | (cp >> 6)));
		pn_buf_putc(b, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		pn_buf_putc(b, (int)(0xe0 | (cp >> 12)));
		pn_buf_putc(b, (int)(0x80 | ((cp >> 6) & 0x3f)));
		pn_buf_putc(b, (int)(0x80 | (cp & 0x3f)));
	} else {
		pn_buf_putc(b, (int)(0xf0 | (cp >> 18)));
		pn_buf_putc(b, (int)(0x80 | ((cp >> 12) & 0x3f)));
		pn_buf_putc(b, (int)(0x80 | ((cp >> 6) & 0x3f)));
		pn_buf_putc(b, (int)(0x80 | (cp & 0x3f)));
	}
}

/* decode_encoded - one ${hex:..} / ${unicode:..} at s; returns bytes used, 0 if none */
static size_t decode_encoded(sv_parser *P, const sv_string *str, const char *s, const char *end,
			     pn_buf *out)
{
	const char *p;
	int unicode;
	pn_buf tmp;
	size_t n = 0;

	if (end - s >= 6 && strncasecmp(s, "${hex:", 6) == 0) {
		unicode = 0;
		p = s + 6;
	} else if (end - s >= 10 && strncasecmp(s, "${unicode:", 10) == 0) {
		unicode = 1;
		p = s + 10;
	} else {
		return 0;
	}
	pn_buf_init(&tmp, 0);
	while (p < end && is_blank((unsigned char)*p))
		p++;
	for (;;) {
		unsigned long v = 0;
		int digits = 0;

		while (p < end && pn_hex_value((unsigned char)*p) >= 0) {
			if (v > 0x10ffff)
				v = 0x110000;	/* saturate: reported below */
			else
				v = v * 16 + (unsigned long)pn_hex_value((unsigned char)*p);
			p++;
			digits++;
		}
		if (digits == 0 || (!unicode && digits > 2))
			goto literal;
		if (unicode) {
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
				sv_perr(P, str->line, str->col,
				     "invalid unicode character 0x%lX in encoded character", v);
				pn_buf_free(&tmp);
				return 0;
			}
			put_utf8(&tmp, v);
		} else {
			pn_buf_putc(&tmp, (int)v);
		}
		n++;
		if (p < end && *p == '}')
			break;
		if (p >= end || !is_blank((unsigned char)*p))
			goto literal;
		while (p < end && is_blank((unsigned char)*p))
			p++;
		if (p < end && *p == '}')
			break;
	}
	pn_buf_append(out, pn_buf_str(&tmp), pn_buf_len(&tmp));
	pn_buf_free(&tmp);
	return (size_t)(p + 1 - s);
literal:
	pn_buf_free(&tmp);
	return 0;
}

/* fix_string - encoded characters and the has_vars flag */
static int fix_string(sv_parser *P, sv_string *str)
{
	if ((P->caps & SV_CAP_ENCODED) && memmem(str->s, str->len, "${", 2)) {
		const char *s = str->s, *end = s + str->len;
		pn_buf b;

		pn_buf_init(&b, 0);
		while (s < end) {
			size_t used = *s == '$' ? decode_encoded(P, str, s, end, &b) : 0;
			if (P->err) {
				pn_buf_free(&b);
				return -1;
			}
			if (used) {
				s += used;
			} else {
				pn_buf_putc(&b, *s);
				s++;
			}
		}
		pn_free(str->s);
		str->s = pn_buf_steal(&b, &str->len);
	}
	str->has_vars = (P->caps & SV_CAP_VARIABLES) && memmem(str->s, str->len, "${", 2) != NULL;
	return 0;
}

/* fix_strings - fix_string over a whole tree */
static int fix_strings(sv_parser *P, sv_node *n)
{
	for (; n; n = n->next) {
		size_t i, j;

		for (i = 0; i < n->nargs; i++)
			for (j = 0; j < n->args[i].list.n; j++)
				if (fix_string(P, &n->args[i].list.v[j]) < 0)
					return -1;
		for (i = 0; i < n->ntests; i++)
			if (fix_strings(P, n->tests[i]) < 0)
				return -1;
		if (fix_strings(P, n->block) < 0)
			return -1;
	}
	return 0;
}

/* sv_need_cap - error unless the script required cap */
int sv_need_cap(sv_parser *P, int line, int col, sv_caps cap, const char *what)
{
	if (P->caps & cap)
		return 0;
	return sv_perr(P, line, col, "%s requires the \"%s\" extension: add require \"%s\";", what,
		    cap_name(cap), cap_name(cap));
}

/* sv_single_string - a string-list argument that must hold one string */
sv_string *sv_single_string(sv_parser *P, sv_arg *a, const char *what)
{
	if (a->type != SV_ARG_LIST || a->list.n != 1) {
		sv_perr(P, a->line, a->col, "%s must be a single string", what);
		return NULL;
	}
	return &a->list.v[0];
}

/* ---- tag handling ------------------------------------------------------- */

typedef struct tagstate {
	const char *cmp_tag, *match_tag, *part_tag, *body_tag;
	int seen_index, seen_last, seen_copy, seen_size;
} tagstate;

/* conflict - two tags of the same group */
static int conflict(sv_parser *P, const sv_arg *a, const char *prev, const char *group)
{
	if (strcmp(prev, a->tag) == 0)
		return sv_perr(P, a->line, a->col, "tag \":%s\" given twice", a->tag);
	return sv_perr(P, a->line, a->col, "%s \":%s\" conflicts with \":%s\"", group, a->tag, prev);
}

/* sv_take_value - the argument after a tag that needs one */
sv_arg *sv_take_value(sv_parser *P, sv_node *n, size_t *i, sv_argtype type, const char *what)
{
	sv_arg *tag = &n->args[*i];

	if (*i + 1 >= n->nargs || n->args[*i + 1].type != type) {
		sv_perr(P, tag->line, tag->col, "tag \":%s\" must be followed by %s", tag->tag, what);
		return NULL;
	}
	(*i)++;
	return &n->args[*i];
}

/* match_tag - :comparator, match types, relational; 1 handled, 0 not, -1 error */
static int match_tag(sv_parser *P, sv_node *n, size_t *i, tagstate *ts)
{
	sv_arg *a = &n->args[*i], *v;
	const char *t = a->tag;
	sv_string *s;

	if (strcmp(t, "comparator") == 0) {
		if (ts->cmp_tag)
			return conflict(P, a, ts->cmp_tag, "comparator");
		ts->cmp_tag = "comparator";
		if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a comparator name")) == NULL
		    || (s = sv_single_string(P, v, "the comparator name")) == NULL)
			return -1;
		if (strcasecmp(s->s, "i;octet") == 0)
			n->m.cmp = SV_CMP_OCTET;
		else if (strcasecmp(s->s, "i;ascii-casemap") == 0)
			n->m.cmp = SV_CMP_CASEMAP;
		else if (strcasecmp(s->s, "i;ascii-numeric") == 0) {
			if (sv_need_cap(P, s->line, s->col, SV_CAP_NUMERIC,
				     "comparator \"i;ascii-numeric\"") < 0)
				return -1;
			n->m.cmp = SV_CMP_NUMERIC;
		} else
			return sv_perr(P, s->line, s->col, "unknown comparator \"%s\"", s->s);
		return 1;
	}
	if (strcmp(t, "is") == 0 || strcmp(t, "contains") == 0 || strcmp(t, "matches") == 0
	    || strcmp(t, "regex") == 0 || strcmp(t, "value") == 0 || strcmp(t, "count") == 0) {
		if (ts->match_tag)
			return conflict(P, a, ts->match_tag, "match type");
		ts->match_tag = t;
		if (strcmp(t, "is") == 0)
			n->m.match = SV_MATCH_IS;
		else if (strcmp(t, "contains") == 0)
			n->m.match = SV_MATCH_CONTAINS;
		else if (strcmp(t, "matches") == 0)
			n->m.match = SV_MATCH_MATCHES;
		else if (strcmp(t, "regex") == 0) {
			if (sv_need_cap(P, a->line, a->col, SV_CAP_REGEX, "match type \":regex\"") < 0)
				return -1;
			n->m.match = SV_MATCH_REGEX;
		} else {
			static const char *const ops[] = {"gt", "ge", "lt", "le", "eq", "ne", NULL};
			int k;

			if (sv_need_cap(P, a->line, a->col, SV_CAP_RELATIONAL,
				     t[0] == 'v' ? "match type \":value\"" : "match type \":count\"") < 0)
				return -1;
			n->m.match = t[0] == 'v' ? SV_MATCH_VALUE : SV_MATCH_COUNT;
			if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a relational operator")) == NULL
			    || (s = sv_single_string(P, v, "the relational operator")) == NULL)
				return -1;
			for (k = 0; ops[k]; k++)
				if (strcasecmp(ops[k], s->s) == 0)
					break;
			if (ops[k] == NULL)
				return sv_perr(P, s->line, s->col,
					    "expected a relational operator (gt, ge, lt, le, eq, ne), "
					    "found \"%s\"", s->s);
			n->m.rel = k;
		}
		return 1;
	}
	return 0;
}

/* part_tag - address parts */
static int part_tag(sv_parser *P, sv_node *n, const sv_arg *a, tagstate *ts)
{
	static const struct { const char *name; int part; } parts[] = {
		{"all", SV_PART_ALL}, {"localpart", SV_PART_LOCAL}, {"domain", SV_PART_DOMAIN},
		{"user", SV_PART_USER}, {"detail", SV_PART_DETAIL}, {NULL, 0}
	};
	int k;

	for (k = 0; parts[k].name; k++)
		if (strcmp(parts[k].name, a->tag) == 0)
			break;
	if (parts[k].name == NULL)
		return 0;
	if (ts->part_tag)
		return conflict(P, a, ts->part_tag, "address part");
	ts->part_tag = parts[k].name;
	if (parts[k].part >= SV_PART_USER
	    && sv_need_cap(P, a->line, a->col, SV_CAP_SUBADDRESS, "address part") < 0)
		return -1;
	n->part = parts[k].part;
	return 1;
}

/* set_modifier - :lower, :upper ... for set */
static int set_modifier(sv_parser *P, sv_node *n, const sv_arg *a)
{
	static const struct { const char *name; int bit; } mods[] = {
		{"lower", SV_MOD_LOWER}, {"upper", SV_MOD_UPPER},
		{"lowerfirst", SV_MOD_LOWERFIRST}, {"upperfirst", SV_MOD_UPPERFIRST},
		{"quotewildcard", SV_MOD_QUOTEWILDCARD}, {"length", SV_MOD_LENGTH},
		{"quoteregex", SV_MOD_QUOTEREGEX}, {NULL, 0}
	};
	int k;

	for (k = 0; mods[k].name; k++)
		if (strcmp(mods[k].name, a->tag) == 0)
			break;
	if (mods[k].name == NULL)
		return 0;
	if (mods[k].bit == SV_MOD_QUOTEREGEX
	    && sv_need_cap(P, a->line, a->col, SV_CAP_REGEX, "modifier \":quoteregex\"") < 0)
		return -1;
	if (n->mods & mods[k].bit)
		return sv_perr(P, a->line, a->col, "tag \":%s\" given twice", a->tag);
	if (((mods[k].bit | n->mods) & (SV_MOD_LOWER | SV_MOD_UPPER)) == (SV_MOD_LOWER | SV_MOD_UPPER)
	    || ((mods[k].bit | n->mods) & (SV_MOD_LOWERFIRST | SV_MOD_UPPERFIRST))
		       == (SV_MOD_LOWERFIRST | SV_MOD_UPPERFIRST)
	    || ((mods[k].bit | n->mods) & (SV_MOD_QUOTEWILDCARD | SV_MOD_QUOTEREGEX))
		       == (SV_MOD_QUOTEWILDCARD | SV_MOD_QUOTEREGEX))
		return sv_perr(P, a->line, a->col,
			    "modifier \":%s\" cannot be combined with one of the same precedence",
			    a->tag);
	n->mods |= mods[k].bit;
	return 1;
}

/* one_tag - dispatch a tag through the groups the command allows */
static int one_tag(sv_parser *P, sv_node *n, const spec *sp, size_t *i, tagstate *ts)
{
	sv_arg *a = &n->args[*i], *v;
	int r;

	if ((sp->tags & T_MATCH) && (r = match_tag(P, n, i, ts)) != 0)
		return r;
	if ((sp->tags & T_ADDRPART) && (r = part_tag(P, n, a, ts)) != 0)
		return r;
	if ((sp->tags & T_SETMOD) && (r = set_modifier(P, n, a)) != 0)
		return r;
	if ((sp->tags & T_COPY) && strcmp(a->tag, "copy") == 0) {
		if (sv_need_cap(P, a->line, a->col, SV_CAP_COPY, "tag \":copy\"") < 0)
			return -1;
		if (ts->seen_copy++)
			return sv_perr(P, a->line, a->col, "tag \":copy\" given twice");
		n->copy = 1;
		return 1;
	}
	if ((sp->tags & T_SIZE) && (strcmp(a->tag, "over") == 0 || strcmp(a->tag, "under") == 0)) {
		if (ts->seen_size++)
			return sv_perr(P, a->line, a->col, "size takes only one of \":over\" and \":under\"");
		n->over = a->tag[0] == 'o';
		return 1;
	}
	if ((sp->tags & T_LAST) && strcmp(a->tag, "last") == 0) {
		if (ts->seen_last++)
			return sv_perr(P, a->line, a->col, "tag \":last\" given twice");
		n->last = 1;
		return 1;
	}
	if ((sp->tags & T_INDEX) && strcmp(a->tag, "index") == 0) {
		if (ts->seen_index++)
			return sv_perr(P, a->line, a->col, "tag \":index\" given twice");
		if ((v = sv_take_value(P, n, i, SV_ARG_NUMBER, "a number")) == NULL)
			return -1;
		if (v->num == 0 || v->num > 0x7fffffff)
			return sv_perr(P, v->line, v->col, ":index must be between 1 and 2147483647");
		n->number = v->num;
		return 1;
	}
	if ((sp->tags & T_BODY) && (strcmp(a->tag, "raw") == 0 || strcmp(a->tag, "text") == 0
				    || strcmp(a->tag, "content") == 0)) {
		if (ts->body_tag)
			return conflict(P, a, ts->body_tag, "body transform");
		ts->body_tag = a->tag;
		if (a->tag[0] == 'r')
			n->transform = SV_BODY_RAW;
		else if (a->tag[0] == 't')
			n->transform = SV_BODY_TEXT;
		else {
			if ((v = sv_take_value(P, n, i, SV_ARG_LIST, "a list of content types")) == NULL)
				return -1;
			n->transform = SV_BODY_CONTENT;
			n->types = &v->list;
		}
		return 1;
	}
	if ((sp->tags & T_EXT) && sp->tag && (r = sp->tag(P, n, i)) != 0)
		return r;
	if ((sp->tags & T_IDX) && (r = sv_index_tag(P, n, i)) != 0)
		return r;
	if ((sp->tags & T_MIMETAGS) && (r = sv_mime_tag(P, n, i)) != 0)
		return r;
	if ((sp->tags & T_FLAGS) && (r = sv_flags_tag(P, n, i)) != 0)
		return r;
	return sv_perr(P, a->line, a->col, "unknown tag \":%s\" for %s \"%s\"", a->tag,
		    sp->is_test ? "test" : "command", sp->name);
}

/* ---- per-command checks ------------------------------------------------- */

/* check_header_names - constant header names must be valid field names */
static int check_header_names(sv_parser *P, const sv_strlist *l, int address_only)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const sv_string *s = &l->v[i];
		if (s->has_vars)
			continue;
		if (!sv_header_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid header name \"%s\"", s->s);
		if (address_only && !sv_address_header(s->s))
			return sv_perr(P, s->line, s->col,
				    "header \"%s\" is not known to contain addresses: the address "
				    "test takes From, To, Cc, Bcc, Sender, Reply-To, Resent-* and "
				    "similar headers", s->s);
	}
	return 0;
}

/* compile_regexes - constant :regex keys, compiled once */
static int compile_regexes(sv_parser *P, sv_node *n, const sv_strlist *keys)
{
	size_t i;

	n->res = pn_calloc(keys->n ? keys->n : 1, sizeof(regex_t));
	for (i = 0; i < keys->n; i++)
		if (keys->v[i].has_vars)
			return 0;	/* compiled at run time */
	for (i = 0; i < keys->n; i++) {
		const sv_string *s = &keys->v[i];
		char *err = NULL;

		if (strlen(s->s) != s->len)
			return sv_perr(P, s->line, s->col, "regular expression contains a NUL");
		if (sv_regex_compile(&n->res[i], s->s, n->m.cmp, P->lim->max_regex_size, &err) < 0) {
			sv_perr(P, s->line, s->col, "%s", err);
			pn_free(err);
			return -1;
		}
		n->nres++;
	}
	return 0;
}

/* check_semantics - what only a given command or test cares about */
static int check_semantics(sv_parser *P, sv_node *n, const spec *sp)
{
	size_t i;
	sv_string *s;

	if (n->m.cmp == SV_CMP_NUMERIC
	    && (n->m.match == SV_MATCH_CONTAINS || n->m.match == SV_MATCH_MATCHES
		|| n->m.match == SV_MATCH_REGEX))
		return sv_perr(P, n->line, n->col, "comparator \"i;ascii-numeric\" cannot be used "
			    "with :contains, :matches or :regex");
	switch (n->op) {
	case SV_OP_HEADER:
	case SV_OP_EXISTS:
		if (check_header_names(P, n->pos[0], 0) < 0)
			return -1;
		if (n->index_last && n->index == 0)	/* RFC 5260 6 */
			return sv_perr(P, n->line, n->col, "\":last\" needs \":index\"");
		break;
	case SV_OP_ADDRESS:
		if (check_header_names(P, n->pos[0], 1) < 0)
			return -1;
		if (n->index_last && n->index == 0)
			return sv_perr(P, n->line, n->col, "\":last\" needs \":index\"");
		break;
	case SV_OP_ENVELOPE:
		for (i = 0; i < n->pos[0]->n; i++) {
			s = &n->pos[0]->v[i];
			if (!s->has_vars && strcasecmp(s->s, "from") != 0 && strcasecmp(s->s, "to") != 0)
				return sv_perr(P, s->line, s->col,
					    "unknown envelope part \"%s\": expected \"from\" or \"to\"",
					    s->s);
		}
		break;
	case SV_OP_REDIRECT:
		s = &n->pos[0]->v[0];
		if (!s->has_vars) {
			pn_addr a;
			char *err = NULL;
			if (s->len == 0 || strlen(s->s) != s->len
			    || pn_addr_parse_path(s->s, &a, &err) < 0 || a.address[0] == '\0') {
				sv_perr(P, s->line, s->col, "invalid redirect address \"%s\"%s%s", s->s,
				     err ? ": " : "", err ? err : "");
				pn_free(err);
				return -1;
			}
			pn_addr_clear(&a);
		}
		break;
	case SV_OP_FILEINTO:
		s = &n->pos[0]->v[0];
		if (!s->has_vars && s->len == 0)
			return sv_perr(P, s->line, s->col, "empty folder name");
		break;
	case SV_OP_SET:
		s = &n->pos[0]->v[0];
		if (!sv_var_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid variable name \"%s\"", s->s);
		break;
	case SV_OP_ADDHEADER:
		s = &n->pos[0]->v[0];
		if (!s->has_vars && !sv_header_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid header name \"%s\"", s->s);
		P->script->uses_edits = 1;
		break;
	case SV_OP_DELETEHEADER:
		s = &n->pos[0]->v[0];
		if (!s->has_vars && !sv_header_name_valid(s->s, s->len))
			return sv_perr(P, s->line, s->col, "invalid header name \"%s\"", s->s);
		if (n->last && n->number == 0)
			return sv_perr(P, n->line, n->col, "deleteheader :last needs :index");
		P->script->uses_edits = 1;
		break;
	case SV_OP_BODY:
		P->script->uses_body = 1;
		break;
	case SV_OP_SIZE:
		P->script->uses_size = 1;
		break;
	case SV_OP_REQUIRE:
		for (i = 0; i < n->pos[0]->n; i++) {
			const struct capname *c;
			s = &n->pos[0]->v[i];
			for (c = capnames; c->name; c++)
				if (strcmp(c->name, s->s) == 0)
					break;
			if (c->name == NULL)
				return sv_perr(P, s->line, s->col, "unsupported extension \"%s\"", s->s);
		}
		break;
	default:
		break;
	}
	n->run = sp->run;
	if (sp->check && sp->check(P, n) < 0)
		return -1;
	if (n->m.match == SV_MATCH_REGEX) {
		const sv_strlist *keys = sv_node_keys(n);
		if (keys && compile_regexes(P, n, keys) < 0)
			return -1;
	}
	return 0;
}

/* sv_node_keys - the key list a test compares with (after validation) */
const sv_strlist *sv_node_keys(const sv_node *n)
{
	switch (n->op) {
	case SV_OP_BODY:
	case SV_OP_SPAMTEST:
	case SV_OP_VIRUSTEST:
		return n->pos[0];
	case SV_OP_DATE:
	case SV_OP_NOTIFY_METHOD_CAPABILITY:
		return n->pos[2];
	default:
		/* hasflag: its check puts the flags at pos[1] */
		return n->pos[1];
	}
}

/* check_args - tags, then positional arguments as the spec lists */
static int check_args(sv_parser *P, sv_node *n, const spec *sp)
{
	tagstate ts;
	size_t i = 0, k;
	const char *pos = sp->pos;
	const char *what = sp->is_test ? "test" : "command";

	memset(&ts, 0, sizeof(ts));
	n->m.cmp = SV_CMP_CASEMAP;
	n->m.match = SV_MATCH_IS;
	n->part = SV_PART_ALL;
	n->transform = SV_BODY_TEXT;
	n->mods = 0;
	n->number = 0;
	for (; i < n->nargs && n->args[i].type == SV_ARG_TAG; i++)
		if (one_tag(P, n, sp, &i, &ts) < 0)
			return -1;
	for (k = 0; pos[k]; k++) {
		int optional = pos[k] >= 'a';
		char want = (char)(optional ? pos[k] - 'a' + 'A' : pos[k]);
		sv_arg *a;

		if (i >= n->nargs) {
			if (optional)
				break;
			return sv_perr(P, n->line, n->col, "%s \"%s\" needs %s as argument %zu", what,
				    sp->name, want == 'N' ? "a number" : want == 'S' ? "a string"
				    : "a string list", k + 1);
		}
		a = &n->args[i++];
		if (a->type == SV_ARG_TAG)
			return sv_perr(P, a->line, a->col,
				    "unexpected tag \":%s\" among the positional arguments of \"%s\" "
				    "(tags come first)", a->tag, sp->name);
		if (want == 'N') {
			if (a->type != SV_ARG_NUMBER)
				return sv_perr(P, a->line, a->col, "%s \"%s\" expects a number as "
					    "argument %zu", what, sp->name, k + 1);
			n->number = a->num;
			continue;
		}
		if (a->type != SV_ARG_LIST)
			return sv_perr(P, a->line, a->col, "%s \"%s\" expects a %s as argument %zu, "
				    "found a number", what, sp->name,
				    want == 'S' ? "string" : "string list", k + 1);
		if (want == 'S' && (a->list.n != 1 || a->list.v[0].line != a->list.line
				    || a->list.v[0].col != a->list.col))
			return sv_perr(P, a->line, a->col, "%s \"%s\" expects a single string as "
				    "argument %zu, not a list", what, sp->name, k + 1);
		if (k < 3)
			n->pos[k] = &a->list;
	}
	if (i < n->nargs) {
		sv_arg *a = &n->args[i];
		if (a->type == SV_ARG_TAG)
			return sv_perr(P, a->line, a->col,
				    "unexpected tag \":%s\" after the positional arguments of \"%s\"",
				    a->tag, sp->name);
		return sv_perr(P, a->line, a->col, "too many arguments for %s \"%s\"", what, sp->name);
	}
	if (n->op == SV_OP_SIZE && !ts.seen_size)
		return sv_perr(P, n->line, n->col, "size needs :over or :under");
	return 0;
}

static int validate_tests(sv_parser *P, sv_node *n, const spec *sp);
static int validate_inner(sv_parser *P, sv_node *n);

/* validate_test - one test node */
static int validate_test(sv_parser *P, sv_node *n)
{
	const spec *sp = find_spec(n->name);

	if (sp == NULL)
		return sv_perr(P, n->line, n->col, "unknown test \"%s\"", n->name);
	if (!sp->is_test)
		return sv_perr(P, n->line, n->col, "\"%s\" is a command, not a test", n->name);
	if (sp->cap && !(P->caps & sp->cap))
		return sv_perr(P, n->line, n->col, "unknown test \"%s\" (missing require \"%s\"?)",
			    n->name, cap_name(sp->cap));
	n->op = sp->op;
	if (validate_tests(P, n, sp) < 0 || check_args(P, n, sp) < 0)
		return -1;
	return check_semantics(P, n, sp);
}

/* validate_tests - the tests a node carries, as its spec wants */
static int validate_tests(sv_parser *P, sv_node *n, const spec *sp)
{
	size_t i;
	int was_list = n->test_list;

	if (sp->tests == NO_TESTS && n->ntests) {
		if (sp->is_test)
			return sv_perr(P, n->tests[0]->line, n->tests[0]->col,
				    "test \"%s\" takes no test as argument", sp->name);
		return sv_perr(P, n->tests[0]->line, n->tests[0]->col,
			    "expected ';' after the arguments of \"%s\", found identifier \"%s\"",
			    n->name, n->tests[0]->name);
	}
	if (sp->tests == ONE_TEST && (n->ntests != 1 || was_list))
		return sv_perr(P, n->line, n->col, "\"%s\" needs exactly one test%s", sp->name,
			    was_list ? ", not a test list" : "");
	if (sp->tests == TEST_LIST && !was_list)
		return sv_perr(P, n->line, n->col, "\"%s\" needs a test list in parentheses: "
			    "%s (test, ...)", sp->name, sp->name);
	for (i = 0; i < n->ntests; i++)
		if (validate_test(P, n->tests[i]) < 0)
			return -1;
	return 0;
}

/* validate_block - the commands of one block */
static int validate_block(sv_parser *P, sv_node *first, int toplevel)
{
	sv_node *n, *prev = NULL;
	int require_ok = toplevel;

	for (n = first; n; prev = n, n = n->next) {
		const spec *sp = find_spec(n->name);

		if (sp == NULL)
			return sv_perr(P, n->line, n->col, "unknown command \"%s\"", n->name);
		if (sp->is_test)
			return sv_perr(P, n->line, n->col, "\"%s\" is a test, not a command: use it "
				    "inside if, elsif, allof, anyof or not", n->name);
		if (sp->cap && !(P->caps & sp->cap))
			return sv_perr(P, n->line, n->col,
				    "unknown command \"%s\" (missing require \"%s\"?)", n->name,
				    cap_name(sp->cap));
		n->op = sp->op;
		if (n->op == SV_OP_REQUIRE && !require_ok)
			return sv_perr(P, n->line, n->col, "require must come before any other command, "
				    "at the top level");
		if (n->op != SV_OP_REQUIRE)
			require_ok = 0;
		if ((n->op == SV_OP_ELSIF || n->op == SV_OP_ELSE)
		    && (prev == NULL || (prev->op != SV_OP_IF && prev->op != SV_OP_ELSIF)))
			return sv_perr(P, n->line, n->col, "\"%s\" without a preceding if or elsif",
				    n->name);
		if (validate_tests(P, n, sp) < 0 || check_args(P, n, sp) < 0)
			return -1;
		if (sp->block && !n->has_block)
			return sv_perr(P, n->line, n->col, "\"%s\" needs a block: { ... }", n->name);
		if (!sp->block && n->has_block)
			return sv_perr(P, n->line, n->col,
				    "expected ';' after the arguments of \"%s\", found '{'", n->name);
		if (check_semantics(P, n, sp) < 0)
			return -1;
		if (n->has_block && validate_inner(P, n) < 0)
			return -1;
	}
	return 0;
}

/* validate_inner - a command's block, with n on the stack of enclosing
 * commands; RFC 5463: the block of "if ihave" is validated with the
 * capabilities it names, or not at all when one is unknown */
static int validate_inner(sv_parser *P, sv_node *n)
{
	sv_caps add = 0, saved = P->caps;
	int r;

	if ((n->op == SV_OP_IF || n->op == SV_OP_ELSIF) && n->ntests == 1) {
		r = sv_ihave_block(n->tests[0], &add);
		if (r < 0)
			return 0;
		P->caps |= add;
		/* what an extension does at run time beyond its commands (the
		 * flags of the implicit keep, match variables) holds for the run */
		P->script->caps |= add;
	}
	P->outer = pn_realloc(P->outer, (P->nouter + 1) * sizeof(*P->outer));
	P->outer[P->nouter++] = n;
	r = validate_block(P, n->block, 0);
	P->nouter--;
	P->caps = saved;
	return r;
}

/* collect_requires - capabilities of the leading require commands */
static void collect_requires(sv_parser *P, sv_node *first)
{
	sv_node *n;
	size_t i, j;

	for (n = first; n && strcasecmp(n->name, "require") == 0; n = n->next)
		for (i = 0; i < n->nargs; i++)
			for (j = 0; j < n->args[i].list.n; j++) {
				const struct capname *c;
				for (c = capnames; c->name; c++)
					if (strcmp(c->name, n->args[i].list.v[j].s) == 0)
						P->caps |= c->cap;
			}
	/* RFC 5235 section 3.2 and RFC 6131 section 2: the larger extension
	 * brings the smaller one's commands */
	if (P->caps & SV_CAP_SPAMTESTPLUS)
		P->caps |= SV_CAP_SPAMTEST;
	if (P->caps & SV_CAP_VACATION_SECONDS)
		P->caps |= SV_CAP_VACATION;
	/* RFC 5429: ereject implies reject's syntax only for itself */
}

/* sv_limits_default - safe defaults for every limit */
void sv_limits_default(sv_limits *l)
{
	l->max_script_size = 1024 * 1024;
	l->max_nesting = 32;
	l->max_actions = 32;
	l->max_redirects = 4;
	l->max_header_edits = 32;
	l->max_regex_size = 1024;
	l->max_steps = 100000;
	l->max_variable_size = 4096;
	l->max_variables = 128;
	l->max_body_size = 1024 * 1024;
	l->max_include_depth = 10;	/* Pigeonhole's sieve_include_max_nesting_depth */
	l->max_includes = 255;		/* and sieve_include_max_includes */
	l->duplicate_default_period = 12 * 3600;	/* Pigeonhole's defaults */
	l->duplicate_max_period = 2 * 86400;
}

/* sv_compile - script text to a validated tree */
sv_script *sv_compile(const char *name, const char *text, size_t len, const sv_limits *l,
		      char **err)
{
	sv_parser P;
	sv_limits defaults;
	sv_script *s;

	if (l == NULL) {
		sv_limits_default(&defaults);
		l = &defaults;
	}
	memset(&P, 0, sizeof(P));
	P.name = name;
	P.lim = l;
	s = pn_calloc(1, sizeof(*s));
	s->name = pn_strdup(name);
	s->limits = *l;
	P.script = s;
	if (len > l->max_script_size) {
		*err = pn_asprintf("%s:1:1: script is %zu bytes, above the limit of %zu",
				   name, len, l->max_script_size);
		sv_script_free(s);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		const char *z = memchr(text, '\0', len);
		int line = 1;
		const char *p, *ls = text;
		for (p = text; p < z; p++)
			if (*p == '\n')
				line++, ls = p + 1;
		*err = pn_asprintf("%s:%d:%d: script contains a NUL byte", name, line,
				   sv_lex_col(ls, z));
		sv_script_free(s);
		return NULL;
	}
	sv_lex_init(&P.lx, text, len);
	if (advance(&P) == 0)
		s->first = parse_commands(&P, 1);
	if (!P.err) {
		collect_requires(&P, s->first);
		s->caps = P.caps;
		if (fix_strings(&P, s->first) == 0)
			validate_block(&P, s->first, 1);
	}
	sv_token_free(&P.tok);
	pn_free(P.lx.err);
	pn_free(P.outer);
	if (P.err) {
		*err = P.err;
		sv_script_free(s);
		return NULL;
	}
	*err = NULL;
	return s;
}

/* sv_compile_file - read and compile a script file */
sv_script *sv_compile_file(const char *path, const sv_limits *l, char **err)
{
	FILE *fp = fopen(path, "rb");
	sv_limits defaults;
	pn_buf b;
	char chunk[8192];
	size_t n;
	sv_script *s;
	int too_big = 0;

	if (l == NULL) {
		sv_limits_default(&defaults);
		l = &defaults;
	}
	if (fp == NULL) {
		*err = pn_asprintf("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	pn_buf_init(&b, l->max_script_size + 1);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (pn_buf_append(&b, chunk, n) < 0) {
			too_big = 1;
			break;
		}
	if (ferror(fp)) {
		*err = pn_asprintf("%s: cannot read: %s", path, strerror(errno));
		fclose(fp);
		pn_buf_free(&b);
		return NULL;
	}
	fclose(fp);
	if (too_big) {
		*err = pn_asprintf("%s:1:1: script is larger than the limit of %zu bytes",
				   path, l->max_script_size);
		pn_buf_free(&b);
		return NULL;
	}
	s = sv_compile(path, pn_buf_str(&b), pn_buf_len(&b), l, err);
	pn_buf_free(&b);
	return s;
}

/* sv_script_free - release a compiled script */
void sv_script_free(sv_script *s)
{
	if (s == NULL)
		return;
	sv_node_free(s->first);
	pn_free(s->name);
	pn_free(s);
}

/* sv_script_name - the name given at compile time */
const char *sv_script_name(const sv_script *s)
{
	return s->name;
}

/* sv_script_uses_body - whether a body test appears */
int sv_script_uses_body(const sv_script *s)
{
	return s->uses_body;
}

/* sv_script_needs_body - whether running it needs the body (body or size test) */
int sv_script_needs_body(const sv_script *s)
{
	return s->uses_body || s->uses_size;
}

/* sv_script_uses_edits - whether addheader or deleteheader appear */
int sv_script_uses_edits(const sv_script *s)
{
	return s->uses_edits;
}
