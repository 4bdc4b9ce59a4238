/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sieve_lex - tokens of a Sieve script (RFC 5228 section 8.1)
 *
 * The whole script is in memory (its size is bounded by the compile
 * limits), so the lexer is a cursor over it. Strings are unescaped here;
 * variables and encoded characters are left for the validator, which
 * knows what the script requires.
 */
#include "milters/sort/sieve_int.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* sv_lex_init - start lexing text */
void sv_lex_init(sv_lexer *lx, const char *text, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->start = lx->p = text;
	lx->end = text + len;
	lx->line = 1;
	lx->line_start = text;
	/* A UTF-8 byte order mark is not part of the script. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		lx->p = lx->line_start = text + 3;
}

/* sv_lex_col - 1-based column of p, counting UTF-8 characters */
int sv_lex_col(const char *line_start, const char *p)
{
	int col = 1;

	for (; line_start < p; line_start++)
		if (((unsigned char)*line_start & 0xc0) != 0x80)
			col++;
	return col;
}

/* lex_error - record an error at p */
static int lex_error(sv_lexer *lx, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int lex_error(sv_lexer *lx, const char *at, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	pn_free(lx->err);
	lx->err = pn_malloc(n > 0 ? (size_t)n + 1 : 1);
	lx->err[0] = '\0';
	if (n > 0)
		vsnprintf(lx->err, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	lx->eline = lx->line;
	lx->ecol = sv_lex_col(lx->line_start, at);
	return -1;
}

/* newline - account for a line break ending at p (just past the LF) */
static void newline(sv_lexer *lx, const char *after)
{
	lx->line++;
	lx->line_start = after;
}

/* skip_space - white space and comments; -1 on an unterminated comment */
static int skip_space(sv_lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '\n') {
			lx->p++;
			newline(lx, lx->p);
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			const char *open = lx->p;
			int line = lx->line;
			const char *ls = lx->line_start;

			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					lx->line = line;
					lx->line_start = ls;
					return lex_error(lx, open, "unterminated bracket comment");
				}
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					lx->p += 2;
					break;
				}
				if (*lx->p == '\n')
					newline(lx, lx->p + 1);
				lx->p++;
			}
		} else {
			break;
		}
	}
	return 0;
}

/* lex_quoted - a "..." string; \" and \\ escape, other backslashes vanish */
static int lex_quoted(sv_lexer *lx, sv_token *t)
{
	const char *open = lx->p;
	int line = lx->line;
	const char *ls = lx->line_start;
	pn_buf b;

	pn_buf_init(&b, 0);
	lx->p++;
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\\') {
			lx->p++;
			if (lx->p >= lx->end)
				break;
		}
		if (*lx->p == '\n')
			newline(lx, lx->p + 1);
		pn_buf_putc(&b, *lx->p);
		lx->p++;
	}
	if (lx->p >= lx->end) {
		pn_buf_free(&b);
		lx->line = line;
		lx->line_start = ls;
		return lex_error(lx, open, "unterminated string: missing closing '\"'");
	}
	lx->p++;
	t->type = SV_T_STRING;
	t->text = pn_buf_steal(&b, &t->len);
	return 0;
}

/* lex_multiline - a text: string up to a line holding only "." */
static int lex_multiline(sv_lexer *lx, sv_token *t)
{
	const char *open = lx->p, *ls = lx->line_start;
	int line = lx->line;
	pn_buf b;

	lx->p += 5;	/* "text:" */
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#') {
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	} else if (lx->p < lx->end && *lx->p == '\r') {
		lx->p++;
	}
	if (lx->p >= lx->end || *lx->p != '\n')
		return lex_error(lx, lx->p, "expected end of line after \"text:\"");
	lx->p++;
	newline(lx, lx->p);
	pn_buf_init(&b, 0);
	for (;;) {
		const char *eol, *s = lx->p;
		size_t n;

		if (s >= lx->end) {
			pn_buf_free(&b);
			lx->line = line;
			lx->line_start = ls;
			return lex_error(lx, open, "unterminated multi-line string: "
					 "missing a line with a single \".\"");
		}
		eol = memchr(s, '\n', (size_t)(lx->end - s));
		n = eol ? (size_t)(eol - s) : (size_t)(lx->end - s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '\r')) {
			lx->p = eol ? eol + 1 : lx->end;
			if (eol)
				newline(lx, lx->p);
			break;
		}
		if (s[0] == '.')	/* dot-stuffing */
			s++, n--;
		pn_buf_append(&b, s, n);
		if (eol) {
			pn_buf_putc(&b, '\n');
			lx->p = eol + 1;
			newline(lx, lx->p);
		} else {
			lx->p = lx->end;
		}
	}
	t->type = SV_T_STRING;
	t->multiline = 1;
	t->text = pn_buf_steal(&b, &t->len);
	return 0;
}

/* lex_number - digits with an optional K, M or G */
static int lex_number(sv_lexer *lx, sv_token *t)
{
	const char *s = lx->p;
	unsigned long long v = 0, mul = 1;

	while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		unsigned d = (unsigned)(*lx->p - '0');
		if (v > (~0ULL - d) / 10)
			return lex_error(lx, s, "number too large");
		v = v * 10 + d;
		lx->p++;
	}
	if (lx->p < lx->end) {
		switch (*lx->p) {
		case 'K': case 'k': mul = 1024ULL; lx->p++; break;
		case 'M': case 'm': mul = 1024ULL * 1024; lx->p++; break;
		case 'G': case 'g': mul = 1024ULL * 1024 * 1024; lx->p++; break;
		}
	}
	if (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
		return lex_error(lx, lx->p, "unexpected character '%c' after number", *lx->p);
	if (v > (~0ULL) / mul)
		return lex_error(lx, s, "number too large");
	t->type = SV_T_NUMBER;
	t->num = v * mul;
	return 0;
}

/* is_ident_start - ALPHA / "_" */
static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* is_ident_char - ALPHA / DIGIT / "_" */
static int is_ident_char(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* sv_lex_next - the next token, or -1 with lx->err */
int sv_lex_next(sv_lexer *lx, sv_token *t)
{
	const char *s;
	char c;

	memset(t, 0, sizeof(*t));
	if (skip_space(lx) < 0)
		return -1;
	t->line = lx->line;
	t->col = sv_lex_col(lx->line_start, lx->p);
	if (lx->p >= lx->end) {
		t->type = SV_T_EOF;
		return 0;
	}
	s = lx->p;
	c = *s;
	switch (c) {
	case '[': t->type = SV_T_LBRACKET; lx->p++; return 0;
	case ']': t->type = SV_T_RBRACKET; lx->p++; return 0;
	case '(': t->type = SV_T_LPAREN; lx->p++; return 0;
	case ')': t->type = SV_T_RPAREN; lx->p++; return 0;
	case '{': t->type = SV_T_LBRACE; lx->p++; return 0;
	case '}': t->type = SV_T_RBRACE; lx->p++; return 0;
	case ',': t->type = SV_T_COMMA; lx->p++; return 0;
	case ';': t->type = SV_T_SEMI; lx->p++; return 0;
	case '"': return lex_quoted(lx, t);
	case ':':
		lx->p++;
		if (lx->p >= lx->end || !is_ident_start((unsigned char)*lx->p))
			return lex_error(lx, s, "expected a tag name after ':'");
		while (lx->p < lx->end && is_ident_char((unsigned char)*lx->p))
			lx->p++;
		t->type = SV_T_TAG;
		t->text = pn_strndup(s + 1, (size_t)(lx->p - s - 1));
		t->len = (size_t)(lx->p - s - 1);
		return 0;
	}
	if (c >= '0' && c <= '9')
		return lex_number(lx, t);
	if (is_ident_start((unsigned char)c)) {
		while (lx->p < lx->end && is_ident_char((unsigned char)*lx->p))
			lx->p++;
		if (lx->p - s == 4 && strncasecmp(s, "text", 4) == 0 && lx->p < lx->end
		    && *lx->p == ':') {
			lx->p = s;
			return lex_multiline(lx, t);
		}
		t->type = SV_T_IDENT;
		t->text = pn_strndup(s, (size_t)(lx->p - s));
		t->len = (size_t)(lx->p - s);
		return 0;
	}
	if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
		return lex_error(lx, s, "unexpected character 0x%02x", (unsigned char)c);
	return lex_error(lx, s, "unexpected character '%c'", c);
}

/* sv_token_free - release a token's text */
void sv_token_free(sv_token *t)
{
	pn_free(t->text);
	t->text = NULL;
}

/* sv_token_name - what a token type is called in error messages */
const char *sv_token_name(sv_tok_type type)
{
	switch (type) {
	case SV_T_EOF: return "end of script";
	case SV_T_IDENT: return "identifier";
	case SV_T_TAG: return "tag";
	case SV_T_NUMBER: return "number";
	case SV_T_STRING: return "string";
	case SV_T_LBRACKET: return "'['";
	case SV_T_RBRACKET: return "']'";
	case SV_T_LPAREN: return "'('";
	case SV_T_RPAREN: return "')'";
	case SV_T_LBRACE: return "'{'";
	case SV_T_RBRACE: return "'}'";
	case SV_T_COMMA: return "','";
	case SV_T_SEMI: return "';'";
	}
	return "token";
}
