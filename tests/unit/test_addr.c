/* SPDX-License-Identifier: BSD-2-Clause */
/* test_addr - envelope paths, address-list headers, subaddresses */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "tests/unit/testlib.h"

/* Envelope paths: err is a substring the error message must contain. */
static const struct path_case {
	const char *in;
	const char *local, *domain, *address;
	const char *err;
} path_cases[] = {
	{ "<user@example.com>", "user", "example.com", "user@example.com", NULL },
	{ "<User.Name@Example.COM>", "User.Name", "example.com", "User.Name@example.com", NULL },
	{ "<>", "", "", "", NULL },
	{ "user@example.com", "user", "example.com", "user@example.com", NULL },
	{ "  <user@example.com>\t", "user", "example.com", "user@example.com", NULL },
	{ "<@a.example,@b.example:user@example.com>", "user", "example.com", "user@example.com", NULL },
	{ "<@relay.example:user@example.com>", "user", "example.com", "user@example.com", NULL },
	{ "<\"john doe\"@example.com>", "\"john doe\"", "example.com", "\"john doe\"@example.com", NULL },
	{ "<\"a\\\"b\"@example.com>", "\"a\\\"b\"", "example.com", "\"a\\\"b\"@example.com", NULL },
	{ "<\"a>b\"@example.com>", "\"a>b\"", "example.com", "\"a>b\"@example.com", NULL },
	{ "user@[192.0.2.1]", "user", "[192.0.2.1]", "user@[192.0.2.1]", NULL },
	{ "<user@[IPv6:2001:DB8::1]>", "user", "[ipv6:2001:db8::1]", "user@[ipv6:2001:db8::1]", NULL },
	{ "<user@example.com.>", "user", "example.com", "user@example.com", NULL },
	{ "<first.last+tag@sub.example.co.uk>", "first.last+tag", "sub.example.co.uk",
	  "first.last+tag@sub.example.co.uk", NULL },
	{ "<pel\xc3\xa9@b\xc3\xbc" "cher.example>", "pel\xc3\xa9", "b\xc3\xbc" "cher.example",
	  "pel\xc3\xa9@b\xc3\xbc" "cher.example", NULL },
	{ "<john..doe.@example.com>", "john..doe.", "example.com", "john..doe.@example.com", NULL },
	{ "<user@example.com", NULL, NULL, NULL, "unbalanced angle brackets" },
	{ "user@example.com>", NULL, NULL, NULL, "unbalanced angle brackets" },
	{ "<<user@example.com>>", NULL, NULL, NULL, "unbalanced angle brackets" },
	{ "<", NULL, NULL, NULL, "unbalanced angle brackets" },
	{ "<user>", NULL, NULL, NULL, "missing domain" },
	{ "user", NULL, NULL, NULL, "missing domain" },
	{ "<user@>", NULL, NULL, NULL, "missing domain" },
	{ "<@example.com>", NULL, NULL, NULL, "empty local part" },
	{ "@example.com", NULL, NULL, NULL, "empty local part" },
	{ "<\"\"@example.com>", NULL, NULL, NULL, "empty local part" },
	{ "<us\ter@example.com>", NULL, NULL, NULL, "control character" },
	{ "<user@example.com>\r\n", NULL, NULL, NULL, "control character" },
	{ "<user@exa\x01mple.com>", NULL, NULL, NULL, "control character" },
	{ "<user@example.com> SIZE=100", NULL, NULL, NULL, "unexpected text after address" },
	{ "<user@example.com>x", NULL, NULL, NULL, "unexpected text after address" },
	{ "<> x", NULL, NULL, NULL, "unexpected text after address" },
	{ "user@example.com junk", NULL, NULL, NULL, "unexpected text after address" },
	{ "", NULL, NULL, NULL, "empty address" },
	{ "<a b@example.com>", NULL, NULL, NULL, "invalid character in local part" },
	{ "<a@b@example.com>", NULL, NULL, NULL, "invalid character in domain: '@'" },
	{ "<user@exa!mple.com>", NULL, NULL, NULL, "invalid character in domain: '!'" },
	{ "<user@example..com>", NULL, NULL, NULL, "empty label in domain" },
	{ "<user@.example.com>", NULL, NULL, NULL, "empty label in domain" },
	{ "<user@[300.1.1.1]>", NULL, NULL, NULL, "invalid IPv4 address literal" },
	{ "<user@[IPv6:zz::1]>", NULL, NULL, NULL, "invalid IPv6 address literal" },
	{ "<user@[192.0.2.1>", NULL, NULL, NULL, "unterminated address literal" },
	{ "<\"john@example.com>", NULL, NULL, NULL, "unterminated quoted string" },
	{ "<@a.example,user@example.com>", NULL, NULL, NULL, "invalid source route" },
};

static void parses_paths(void **state)
{
	size_t i, bad = 0;
	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		pn_addr a;
		char *err = NULL;
		int rc = pn_addr_parse_path(c->in, &a, &err);

		if (c->err != NULL) {
			if (rc != -1 || err == NULL || strstr(err, c->err) == NULL) {
				print_error("path %zu \"%s\": got rc %d error \"%s\", want error \"%s\"\n",
					    i, c->in, rc, t_show(err), c->err);
				bad++;
			}
			if (a.local || a.domain || a.address) {
				print_error("path %zu \"%s\": fields set after an error\n", i, c->in);
				bad++;
			}
		} else if (rc != 0 || !t_str_eq(a.local, c->local) ||
			   !t_str_eq(a.domain, c->domain) || !t_str_eq(a.address, c->address) ||
			   a.display != NULL || a.group != NULL) {
			print_error("path %zu \"%s\": got rc %d local \"%s\" domain \"%s\" address \"%s\""
				    " (error \"%s\"), want local \"%s\" domain \"%s\" address \"%s\"\n",
				    i, c->in, rc, t_show(a.local), t_show(a.domain), t_show(a.address),
				    t_show(err), c->local, c->domain, c->address);
			bad++;
		}
		pn_free(err);
		pn_addr_clear(&a);
	}
	if (bad)
		fail_msg("%zu path case(s) failed", bad);
}

/*
 * Address lists. want renders each mailbox as display<address>/group,
 * joined with " | "; groups lists list->groups as [name][name].
 */
static const struct list_case {
	const char *in;
	size_t max;
	const char *want;
	const char *groups;
	size_t errors;
	int truncated;
} list_cases[] = {
	{ "user@example.com", 0, "<user@example.com>", "", 0, 0 },
	{ "John Doe <john@Example.COM>", 0, "John Doe<john@example.com>", "", 0, 0 },
	{ "John <JOHN@EXAMPLE.COM>", 0, "John<JOHN@example.com>", "", 0, 0 },
	{ "\"Doe, John\" <john@example.com>, jane@example.org", 0,
	  "Doe, John<john@example.com> | <jane@example.org>", "", 0, 0 },
	{ "\"J. \\\"Q\\\" Doe\" <j@x.org>", 0, "J. \"Q\" Doe<j@x.org>", "", 0, 0 },
	{ "John Q. Public <jqp@x.org>", 0, "John Q. Public<jqp@x.org>", "", 0, 0 },
	{ "=?UTF-8?B?SsO2cmc=?= <jorg@example.de>", 0, "=?UTF-8?B?SsO2cmc=?=<jorg@example.de>", "", 0, 0 },
	{ "=?utf-8?q?a?= =?utf-8?q?b?= <ab@x.org>", 0, "=?utf-8?q?a?= =?utf-8?q?b?=<ab@x.org>", "", 0, 0 },
	{ "Undisclosed recipients:;", 0, "", "[Undisclosed recipients]", 0, 0 },
	{ "team: a@x.org, Bee <b@y.org>;, c@z.org", 0,
	  "<a@x.org>/team | Bee<b@y.org>/team | <c@z.org>", "[team]", 0, 0 },
	{ "Dept: <a@x.org>", 0, "<a@x.org>/Dept", "[Dept]", 0, 0 },
	{ "a: b: c@d.org;;", 0, "b<c@d.org>/a", "[a]", 1, 0 },
	{ "user@example.com (John Doe)", 0, "John Doe<user@example.com>", "", 0, 0 },
	{ "John (the man) Doe <j@x.org> (work)", 0, "John Doe<j@x.org>", "", 0, 0 },
	{ "(outer (inner) te\\)xt) a@x.org", 0, "outer (inner) te)xt<a@x.org>", "", 0, 0 },
	{ "John Doe\r\n <john@example.com>,\r\n\tjane@example.org", 0,
	  "John Doe<john@example.com> | <jane@example.org>", "", 0, 0 },
	{ "\"John\r\n Doe\"\n <john@example.com>", 0, "John Doe<john@example.com>", "", 0, 0 },
	{ "a@x.org,,, b@y.org,", 0, "<a@x.org> | <b@y.org>", "", 0, 0 },
	{ "<@route.example,@r2.example:user@example.com>", 0, "<user@example.com>", "", 0, 0 },
	{ "John Doe john@example.com", 0, "John Doe<john@example.com>", "", 0, 0 },
	{ "\"john doe\"@example.com", 0, "<\"john doe\"@example.com>", "", 0, 0 },
	{ "john . doe @ example . com", 0, "<john.doe@example.com>", "", 0, 0 },
	{ "a@[192.0.2.1]", 0, "<a@[192.0.2.1]>", "", 0, 0 },
	{ "<>", 0, "<>", "", 0, 0 },
	{ "MAILER-DAEMON", 0, "<MAILER-DAEMON>", "", 0, 0 },
	{ "John <john@example.com", 0, "John<john@example.com>", "", 0, 0 },
	{ "John <a@x.org> <b@y.org>", 0, "John<a@x.org> | <b@y.org>", "", 0, 0 },
	{ "\"unterminated <a@x.org>", 0, "unterminated<a@x.org>", "", 0, 0 },
	{ "Foo (unterminated <a@x.org>", 0, "Foo unterminated<a@x.org>", "", 0, 0 },
	{ "Foo [bar <a@x.org>, c@y.org", 0, "Foo [bar<a@x.org> | <c@y.org>", "", 0, 0 },
	{ "[SPAM] John <j@x.org>", 0, "[SPAM] John<j@x.org>", "", 0, 0 },
	{ "paypal@paypal.example <x@evil.example>", 0, "paypal@paypal.example<x@evil.example>", "", 0, 0 },
	{ "\"\" <a@x.org>", 0, "<a@x.org>", "", 0, 0 },
	{ "\x01John\x7f <a@x.org>", 0, "John<a@x.org>", "", 0, 0 },
	{ "a@x.org, b@x.org, c@x.org", 2, "<a@x.org> | <b@x.org>", "", 0, 1 },
	{ "a@x.org b@y.org", 0, "", "", 1, 0 },
	{ "a@b.c@d", 0, "", "", 1, 0 },
	{ "<user@>, <@x.org>, Some Phrase", 0, "", "", 3, 0 },
	{ "John <a@x.org> Smith", 0, "John<a@x.org>", "", 1, 0 },
	{ "a@x.org>", 0, "<a@x.org>", "", 1, 0 },
	{ "", 0, "", "", 0, 0 },
	{ " ,;:<>()[]\\\"", 0, "<>/", "[]", 1, 0 },
	{ "<<<>>> ;;; :: ,,,", 0, "<> | <> | <>", "[]", 3, 0 },
	/* RFC 5322 3.4: a comment inside an addr-spec is never a display name */
	{ "pat(work)@example.org", 0, "<pat@example.org>", "", 0, 0 },
	{ "pat@(work)example.org", 0, "<pat@example.org>", "", 0, 0 },
	{ "<pat(work)@example.org>", 0, "<pat@example.org>", "", 0, 0 },
	{ "pat(work)@example.org (Pat)", 0, "Pat<pat@example.org>", "", 0, 0 },
	{ "(Pat) pat@example.org", 0, "Pat<pat@example.org>", "", 0, 0 },
	{ "<pat@example.org> (Pat)", 0, "Pat<pat@example.org>", "", 0, 0 },
	/* an unterminated domain literal is not repaired into a host name */
	{ "<pat@[198.51.100.7>", 0, "", "", 1, 0 },
	{ "pat@[198.51.100.7", 0, "", "", 1, 0 },
	{ "Pat <pat@[198.51.100.7>, b@y.org", 0, "<b@y.org>", "", 1, 0 },
	{ "pat@[198.51.100.7, b@y.org", 0, "<b@y.org>", "", 1, 0 },
};

/* render - one string for a list, in the form list_cases uses */
static char *render(const pn_addr_list *l)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	for (i = 0; i < l->count; i++) {
		const pn_addr *a = &l->items[i];
		if (i > 0)
			pn_buf_puts(&b, " | ");
		pn_buf_printf(&b, "%s<%s>", a->display ? a->display : "", a->address);
		if (a->group)
			pn_buf_printf(&b, "/%s", a->group);
	}
	return pn_buf_steal(&b, NULL);
}

/* render_groups - group names joined with "," */
static char *render_groups(const pn_addr_list *l)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	for (i = 0; i < l->group_count; i++)
		pn_buf_printf(&b, "[%s]", l->groups[i]);
	return pn_buf_steal(&b, NULL);
}

/* consistent - address must be local@domain, or local without a domain */
static int consistent(const pn_addr *a)
{
	char *want;
	int ok;

	if (!a->local || !a->domain || !a->address)
		return 0;
	want = a->domain[0] ? pn_asprintf("%s@%s", a->local, a->domain) : pn_strdup(a->local);
	ok = strcmp(want, a->address) == 0;
	pn_free(want);
	return ok;
}

static void parses_lists(void **state)
{
	size_t i, j, bad = 0;
	(void)state;
	for (i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];
		pn_addr_list *l = pn_addr_parse_list(c->in, c->max);
		char *got = render(l), *groups = render_groups(l);

		if (strcmp(got, c->want) != 0 || strcmp(groups, c->groups) != 0 ||
		    l->errors != c->errors || l->truncated != c->truncated) {
			print_error("list %zu \"%s\": got \"%s\" groups \"%s\" errors %zu truncated %d,"
				    " want \"%s\" groups \"%s\" errors %zu truncated %d\n",
				    i, c->in, got, groups, l->errors, l->truncated,
				    c->want, c->groups, c->errors, c->truncated);
			bad++;
		}
		for (j = 0; j < l->count; j++)
			if (!consistent(&l->items[j])) {
				print_error("list %zu item %zu: got address \"%s\", want local@domain\n",
					    i, j, t_show(l->items[j].address));
				bad++;
			}
		pn_free(got);
		pn_free(groups);
		pn_addr_list_free(l);
	}
	if (bad)
		fail_msg("%zu list case(s) failed", bad);
}

static void list_fields_and_null(void **state)
{
	pn_addr_list *l;
	(void)state;
	l = pn_addr_parse_list("Jane <\"Jane Q\"@Mail.Example.ORG.>", 0);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].local, "\"Jane Q\"");
	assert_string_equal(l->items[0].domain, "mail.example.org");
	assert_null(l->items[0].group);
	pn_addr_list_free(l);
	l = pn_addr_parse_list(NULL, 0);
	assert_int_equal(l->count, 0);
	pn_addr_list_free(l);
	pn_addr_list_free(NULL);
	pn_addr_clear(NULL);
}

static const struct split_case {
	const char *local, *seps, *user, *detail;
} split_cases[] = {
	{ "user+detail", NULL, "user", "detail" },
	{ "user", NULL, "user", NULL },
	{ "user+", NULL, "user", "" },
	{ "+detail", NULL, "+detail", NULL },
	{ "a+b+c", NULL, "a", "b+c" },
	{ "User+Tag", "+", "User", "Tag" },
	{ "user-ext", "+-", "user", "ext" },
	{ "user-ext+x", "+-", "user", "ext+x" },
	{ "user-ext", "+", "user-ext", NULL },
	{ "user+ext", "", "user+ext", NULL },
	{ "owner-list", "-", "owner-list", NULL },
	{ "list-request", "+-", "list-request", NULL },
	{ "MAILER-DAEMON", "-", "MAILER-DAEMON", NULL },
	{ "Postmaster", "+", "Postmaster", NULL },
	{ "\"a+b\"", "+", "\"a+b\"", NULL },
};

static void splits_subaddresses(void **state)
{
	size_t i, bad = 0;
	(void)state;
	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		char *user, *detail;

		pn_addr_split_sub(c->local, c->seps, &user, &detail);
		if (!t_str_eq(user, c->user) || !t_str_eq(detail, c->detail)) {
			print_error("split \"%s\" at \"%s\": got \"%s\" \"%s\", want \"%s\" \"%s\"\n",
				    c->local, t_show(c->seps), t_show(user), t_show(detail),
				    c->user, t_show(c->detail));
			bad++;
		}
		pn_free(user);
		pn_free(detail);
	}
	if (bad)
		fail_msg("%zu split case(s) failed", bad);
}

static const struct lower_case {
	const char *in, *want;
} lower_cases[] = {
	{ "Example.COM.", "example.com" },
	{ "example.com", "example.com" },
	{ "", "" },
	{ ".", "" },
	{ "A.B..", "a.b." },
	{ "\xc3\x84" "B.example", "\xc3\x84" "b.example" },
};

static void lowers_domains(void **state)
{
	size_t i, bad = 0;
	(void)state;
	for (i = 0; i < sizeof(lower_cases) / sizeof(lower_cases[0]); i++) {
		char *got = pn_domain_lower(lower_cases[i].in);
		if (strcmp(got, lower_cases[i].want) != 0) {
			print_error("lower \"%s\": got \"%s\", want \"%s\"\n",
				    lower_cases[i].in, got, lower_cases[i].want);
			bad++;
		}
		pn_free(got);
	}
	if (bad)
		fail_msg("%zu lower-case case(s) failed", bad);
}

/* garbage must cost linear time: these would be quadratic otherwise */
static void survives_pathological_input(void **state)
{
	static const char *units[] = { "\"\\", "(", "[", "<", "a@", "\"(", "((\\)", ":" };
	size_t i, j, n = 200000;
	(void)state;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t ulen = strlen(units[i]);
		char *s = pn_malloc(n * ulen + 1);
		pn_addr_list *l;
		pn_addr a;
		char *err = NULL;

		for (j = 0; j < n; j++)
			memcpy(s + j * ulen, units[i], ulen);
		s[n * ulen] = '\0';
		l = pn_addr_parse_list(s, 0);
		pn_addr_list_free(l);
		if (pn_addr_parse_path(s, &a, &err) == 0)
			pn_addr_clear(&a);
		pn_free(err);
		pn_free(s);
	}
}

/* Canonical envelope addresses: what Postfix itself reads in each spelling. */
static const struct env_case {
	const char *mta;	/* {mail_addr}, or NULL when the MTA sent none */
	const char *path;	/* the argument as written */
	int rc;
	const char *local, *domain, *address;
} env_cases[] = {
	{ NULL, "<a@partner.example>", 0, "a", "partner.example", "a@partner.example" },
	{ NULL, "<A@PARTNER.EXAMPLE.>", 0, "A", "partner.example", "A@partner.example" },
	{ NULL, "<a(x)@partner.example>", 0, "a", "partner.example", "a@partner.example" },
	{ NULL, "<a@partner.example(x (nested) \\) y)>", 0, "a", "partner.example",
	  "a@partner.example" },
	{ NULL, "<a@partner.example >", 0, "a", "partner.example", "a@partner.example" },
	{ NULL, "< a @ partner . example >", 0, "a", "partner.example", "a@partner.example" },
	{ NULL, "a@partner.example", 0, "a", "partner.example", "a@partner.example" },
	{ NULL, "<@relay.example,@b.example:a@partner.example>", 0, "a", "partner.example",
	  "a@partner.example" },
	{ NULL, "<\"a b\"@partner.example>", 0, "a b", "partner.example", "a b@partner.example" },
	{ NULL, "<\"a(x)\\\"\"@partner.example>", 0, "a(x)\"", "partner.example",
	  "a(x)\"@partner.example" },
	{ NULL, "<a@B\xc3\x9c" "CHER.example.>", 0, "a", "xn--bcher-kva.example",
	  "a@xn--bcher-kva.example" },
	{ NULL, "<a@cafe\xcc\x81.example>", 0, "a", "xn--caf-dma.example",
	  "a@xn--caf-dma.example" },
	{ NULL, "<a@partner\xe3\x80\x82" "example>", 0, "a", "partner.example",
	  "a@partner.example" },
	{ NULL, "<a@[192.0.2.1]>", 0, "a", "[192.0.2.1]", "a@[192.0.2.1]" },
	{ NULL, "<>", 0, "", "", "" },
	{ NULL, "< >", 0, "", "", "" },
	/* no domain: the local part is kept for pn_addr_relay_domain() */
	{ NULL, "<a%partner.example>", -1, "a%partner.example", "", "a%partner.example" },
	{ NULL, "<partner.example!a>", -1, "partner.example!a", "", "partner.example!a" },
	{ NULL, "<a@\xff.example>", -1, "a", "", "a" },
	{ NULL, "<a(unclosed@partner.example>", -1, "", "", "" },
	{ NULL, "<a@b@c>", -1, "", "", "" },
	{ NULL, "", -1, "", "", "" },
	/* the MTA's own parse wins over the path */
	{ "a@partner.example", "<a(x)@elsewhere.example>", 0, "a", "partner.example",
	  "a@partner.example" },
	{ "a b@Partner.Example.", "<\"a b\"@partner.example>", 0, "a b", "partner.example",
	  "a b@partner.example" },
	/* what Postfix 3.7 sent for <@relay.example:"a b"(c)@Partner.Example. > */
	{ "\"a b\"@partner.example", "<@relay.example:\"a b\"(c)@Partner.Example. >", 0, "a b",
	  "partner.example", "a b@partner.example" },
	{ "\"a@b\"@partner.example", "<\"a@b\"@partner.example>", 0, "a@b", "partner.example",
	  "a@b@partner.example" },
	{ "@relay.example:a@partner.example", "<@relay.example:a@partner.example>", 0, "a",
	  "partner.example", "a@partner.example" },
	{ "<a@partner.example>", "<a@partner.example>", 0, "a", "partner.example",
	  "a@partner.example" },
	{ "a@b\xc3\xbc" "cher.example", "<a@b\xc3\xbc" "cher.example>", 0, "a",
	  "xn--bcher-kva.example", "a@xn--bcher-kva.example" },
	{ "", "<>", 0, "", "", "" },
	{ "<>", "< (c) >", 0, "", "", "" },
	/* an empty MTA value never makes a real path the null sender */
	{ "", "<a(x)@partner.example>", 0, "a", "partner.example", "a@partner.example" },
	/* an MTA value without a domain: the path is tried next */
	{ "a", "<a@partner.example>", 0, "a", "partner.example", "a@partner.example" },
	{ "a%partner.example", "<a%partner.example>", -1, "a%partner.example", "",
	  "a%partner.example" },
};

/* parses_envelopes - the canonical form of every spelling */
static void parses_envelopes(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		const struct env_case *c = &env_cases[i];
		pn_addr a;
		int rc = pn_addr_parse_envelope(c->mta, c->path, &a);

		if (rc != c->rc || !t_str_eq(a.local, c->local) || !t_str_eq(a.domain, c->domain)
		    || !t_str_eq(a.address, c->address)) {
			fprintf(stderr, "env case %zu %s / %s: got %d [%s|%s|%s], want %d "
				"[%s|%s|%s]\n", i, c->mta ? c->mta : "(none)", c->path, rc,
				a.local ? a.local : "(null)", a.domain ? a.domain : "(null)",
				a.address ? a.address : "(null)", c->rc, c->local, c->domain,
				c->address);
			bad++;
		}
		pn_addr_clear(&a);
	}
	assert_int_equal(bad, 0);
}

/* finds_relay_domains - the percent hack and bang paths name a next hop */
static void finds_relay_domains(void **state)
{
	static const struct {
		const char *local, *domain;
	} cases[] = {
		{ "a%partner.example", "partner.example" },
		{ "a%one.example%Partner.Example.", "partner.example" },
		{ "partner.example!a", "partner.example" },
		{ "Partner.Example!two.example!a", "partner.example" },
		{ "a%b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
		{ "plain", NULL },
		{ "a%", NULL },
		{ "!a", NULL },
		{ "a%..", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = pn_addr_relay_domain(cases[i].local);
		if (!t_str_eq(d, cases[i].domain))
			fail_msg("%s: got %s, want %s", cases[i].local, d ? d : "(null)",
				 cases[i].domain ? cases[i].domain : "(null)");
		pn_free(d);
	}
	assert_null(pn_addr_relay_domain(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_paths),
		cmocka_unit_test(parses_lists),
		cmocka_unit_test(list_fields_and_null),
		cmocka_unit_test(splits_subaddresses),
		cmocka_unit_test(lowers_domains),
		cmocka_unit_test(survives_pathological_input),
		cmocka_unit_test(parses_envelopes),
		cmocka_unit_test(finds_relay_domains),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
