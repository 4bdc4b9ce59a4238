/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	addr - parse envelope paths and address-list headers
 * SYNOPSIS
 *	#include "common/addr.h"
 *
 *	int pn_addr_parse_path(const char *s, pn_addr *out, char **err);
 *	void pn_addr_clear(pn_addr *a);
 *
 *	pn_addr_list *pn_addr_parse_list(const char *value, size_t max_items);
 *	void pn_addr_list_free(pn_addr_list *list);
 *
 *	void pn_addr_split_sub(const char *local, const char *separators,
 *	                       char **user, char **detail);
 *	char *pn_domain_lower(const char *domain);
 *
 *	int pn_addr_parse_envelope(const char *mta_addr, const char *path,
 *	                           pn_addr *out);
 *	char *pn_addr_relay_domain(const char *local);
 * DESCRIPTION
 *	pn_addr_parse_path() parses what a milter receives as the MAIL FROM
 *	or RCPT TO argument (RFC 5321 Path): "<user@example.com>", the null
 *	sender "<>", the same without angle brackets (Postfix may pass it
 *	so), a source route "<@a,@b:user@example.com>" (the route is
 *	checked and discarded), a quoted local part and an address literal
 *	"user@[192.0.2.1]". Surrounding spaces and tabs are ignored. The
 *	parser is strict because Postfix has already accepted the address:
 *	anything odd is worth rejecting rather than guessing about. UTF-8
 *	(SMTPUTF8) bytes are accepted in the local part and the domain.
 *	"<postmaster>" without a domain is rejected like any address
 *	without one; a caller that must accept it (RFC 5321 4.5.1) checks
 *	for it first. The null sender is accepted; a caller parsing a
 *	recipient must refuse an empty address itself.
 *
 *	pn_addr_parse_list() parses a From, To, Cc, Reply-To (and similar)
 *	header value (RFC 5322 address-list) leniently, because such
 *	headers come from anywhere: it returns every mailbox it can make
 *	sense of and never fails. It understands display names (atoms,
 *	quoted strings; RFC 2047 encoded-words are kept as written for a
 *	MIME decoder), angle addresses with or without source routes,
 *	groups ("team: a@x, b@y;", "Undisclosed recipients:;"), nested
 *	comments, folded lines (LF or CRLF plus white space) and obsolete
 *	forms seen in real mail: a bare addr-spec with a phrase before it
 *	("John Doe john@example.com"), a comment as the only display name
 *	("john@example.com (John Doe)"), white space around "@" and ".",
 *	empty elements and trailing commas, a missing ">" or ";". A
 *	comment inside the addr-spec ("pat(work)@example.org", or anywhere
 *	between "<" and ">") is dropped, never taken as a display name
 *	(RFC 5322 3.4). An unterminated domain literal ("<a@[192.0.2.1>")
 *	makes its element unparsable: it is counted in list->errors, never
 *	repaired into a host name.
 *	Elements that cannot be understood are skipped and counted in
 *	list->errors, as are text ignored after an angle address and a
 *	nested group, so a caller can treat such headers as suspect.
 *	Parsing stops after max_items mailboxes (0: no limit other than the
 *	input length) and sets list->truncated.
 *
 *	Display names are unfolded, quotes and backslash escapes removed,
 *	comments dropped and runs of white space (and other control
 *	characters) turned into one space; NULL when there is none.
 *
 *	Every pn_addr field except display and group is a non-NULL string.
 *	The local part is kept exactly as written (case and quotes
 *	preserved; in lists, unfolded and with obsolete white space around
 *	dots removed). The domain is lower-cased and loses one trailing
 *	dot; an address literal is lower-cased too and keeps its brackets.
 *	address is local "@" domain, or "" for the null sender "<>". In a
 *	list, a mailbox without "@" ("<MAILER-DAEMON>", "root") has an
 *	empty domain and address equals local. group is the name of the
 *	group that contained the mailbox, else NULL; list->groups names
 *	every group seen, so an empty group is visible too.
 *
 *	pn_addr_split_sub() splits a local part at the first of the given
 *	separator characters (RFC 5233 subaddress; NULL separators mean
 *	"+"). *user is always set; *detail is NULL when there is nothing to
 *	split, "" for "user+". Like Postfix's recipient_delimiter it never
 *	splits into an empty user ("+x"), a quoted local part, "postmaster"
 *	or "MAILER-DAEMON", nor, when "-" is a separator, "owner-x" and
 *	"x-request".
 *
 *	pn_domain_lower() returns an ASCII lower-cased copy of a domain
 *	without one trailing dot. Non-ASCII bytes are left alone.
 *
 *	pn_addr_parse_envelope() gives the one canonical form of a MAIL FROM
 *	or RCPT TO address that every daemon decides on: the address as
 *	Postfix itself sees it. When mta_addr is not NULL it is the MTA's
 *	own parse of the command ({mail_addr} or {rcpt_addr}: "local@domain"
 *	with comments, source route, trailing dot and domain case already
 *	gone and the local part quoted where it needs it, as Postfix 3.7
 *	sends them; Sendmail may keep angle brackets; a source route "@a:"
 *	is dropped) and it wins; an empty
 *	value (the null sender) is believed only when the path is "<>" too,
 *	so that no spelling of a real address turns it into the null sender. Otherwise
 *	(or when it has no domain) the path is parsed after removing what
 *	Postfix's own parser ignores: comments anywhere ("<a(x)@example.com>")
 *	and white space outside quoted strings ("<a@example.com >"); source
 *	routes, quoted local parts, a trailing dot, upper case and "<>" are
 *	accepted as by pn_addr_parse_path(). out->local is the local part in
 *	internal form (quotes and backslash escapes removed); out->domain is
 *	normalised with pn_domain_normalise() (A-labels, lower case, no
 *	trailing dot); out->address is local@domain, "" for the null sender.
 *	display and group are NULL.
 *
 *	pn_addr_relay_domain() returns the normalised domain that Postfix's
 *	"%" hack or bang path would route a local part to ("a%partner.example"
 *	and "partner.example!a" both name partner.example; for user%d1%d2 the
 *	last, for d1!d2!user the first), or NULL when the local part names
 *	none. A policy must look at this domain too.
 *
 *	All strings returned are allocated with pn_malloc(); free a parsed
 *	address with pn_addr_clear(), a list with pn_addr_list_free() (both
 *	accept NULL), and split parts and pn_domain_lower() results with
 *	pn_free(). Every function is reentrant.
 * DIAGNOSTICS
 *	pn_addr_parse_path() returns 0, or -1 with *out cleared and, if err
 *	is not NULL, *err set to a message such as "missing domain" or
 *	"unbalanced angle brackets" (free it with pn_free()).
 *	pn_addr_parse_envelope() returns 0, or -1 when no domain could be
 *	made out (no "@", an unparsable path, a domain that is not a domain
 *	name in any form); out is filled either way (free it with
 *	pn_addr_clear()): on -1, out->domain is "" and out->local holds the
 *	local part when one was recognised (else ""), so that
 *	pn_addr_relay_domain() still applies. A caller applying a policy
 *	treats -1 as an unknown domain: the "*" rule or a temporary failure.
 *	pn_addr_parse_list() returns a list, possibly empty, never NULL;
 *	a NULL value gives an empty list.
 */
#ifndef PN_ADDR_H
#define PN_ADDR_H

#include <stddef.h>

typedef struct pn_addr {
	char *display;		/* display name, or NULL */
	char *local;		/* local part as written */
	char *domain;		/* lower-cased; "" when there is none */
	char *address;		/* local@domain; "" for the null sender */
	char *group;		/* enclosing group's name, or NULL */
} pn_addr;

typedef struct pn_addr_list {
	pn_addr *items;
	size_t count;
	char **groups;		/* names of all groups, in order */
	size_t group_count;
	size_t errors;		/* elements skipped or text ignored */
	int truncated;		/* stopped at max_items */
} pn_addr_list;

int pn_addr_parse_path(const char *s, pn_addr *out, char **err);
void pn_addr_clear(pn_addr *a);
pn_addr_list *pn_addr_parse_list(const char *value, size_t max_items);
void pn_addr_list_free(pn_addr_list *list);
void pn_addr_split_sub(const char *local, const char *separators,
		       char **user, char **detail);
char *pn_domain_lower(const char *domain);
int pn_addr_parse_envelope(const char *mta_addr, const char *path, pn_addr *out);
char *pn_addr_relay_domain(const char *local);

#endif
