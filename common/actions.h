/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	actions - the modifications an engine wants made to one message
 * SYNOPSIS
 *	#include "common/actions.h"
 *
 *	pn_actions *pn_actions_new(void);
 *	int pn_actions_add_header(pn_actions *a, const char *name, const char *value);
 *	int pn_actions_insert_header(pn_actions *a, int index, const char *name,
 *	                             const char *value);
 *	int pn_actions_change_header(pn_actions *a, const char *name, int occurrence,
 *	                             const char *value);
 *	int pn_actions_delete_header(pn_actions *a, const char *name, int occurrence);
 *	int pn_actions_add_rcpt(pn_actions *a, const char *addr, const char *esmtp_args);
 *	int pn_actions_delete_rcpt(pn_actions *a, const char *addr);
 *	int pn_actions_change_from(pn_actions *a, const char *addr, const char *esmtp_args);
 *	int pn_actions_quarantine(pn_actions *a, const char *reason);
 *	int pn_actions_set_reply(pn_actions *a, pn_verdict v, const char *rcode,
 *	                         const char *xcode, const char *text);
 *	size_t pn_actions_count(const pn_actions *a);
 *	const pn_action *pn_actions_get(const pn_actions *a, size_t i);
 *	void pn_actions_print(const pn_actions *a, FILE *out);
 *	const char *pn_actions_error(const pn_actions *a);
 *	void pn_actions_free(pn_actions *a);
 * DESCRIPTION
 *	Engines never talk to libmilter. At end of message they describe what
 *	should happen as a list of actions plus a verdict (continue, accept,
 *	reject, tempfail, discard) with an optional SMTP reply; the milter
 *	layer applies the list in one place (apply_actions() in
 *	common/milter/milter.c), and the offline tools print the same list with
 *	pn_actions_print(), so a dry run shows exactly what the daemon does.
 *
 *	Header occurrences count from 1, as smfi_chgheader() does; insert
 *	indexes count from 0 (0 = before the first header). The reply code
 *	must match the verdict (5xx for reject, 4xx for tempfail).
 * DIAGNOSTICS
 *	The add functions return 0, or -1 when the input would be unsafe to
 *	hand to the MTA: a header name that is empty or holds characters
 *	other than printable ASCII without ':', a value with CR or a bare LF
 *	that is not followed by a space or tab (header injection), an address
 *	with CR/LF, a reply code that does not fit the verdict. The reason is
 *	kept for pn_actions_error(); the list is unchanged.
 */
#ifndef PN_ACTIONS_H
#define PN_ACTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef enum pn_verdict {
	PN_CONTINUE = 0,	/* no decision: let the message go on */
	PN_ACCEPT,		/* accept, and skip the rest of this milter */
	PN_REJECT,		/* 5xx */
	PN_TEMPFAIL,		/* 4xx: the client retries */
	PN_DISCARD		/* accept and silently drop */
} pn_verdict;

typedef enum pn_action_type {
	PN_ACT_ADD_HEADER,
	PN_ACT_INSERT_HEADER,
	PN_ACT_CHANGE_HEADER,
	PN_ACT_DELETE_HEADER,
	PN_ACT_ADD_RCPT,
	PN_ACT_DELETE_RCPT,
	PN_ACT_CHANGE_FROM,
	PN_ACT_QUARANTINE
} pn_action_type;

typedef struct pn_action {
	pn_action_type type;
	char *name;		/* header name, or address */
	char *value;		/* header value, ESMTP args, or quarantine reason */
	int index;		/* occurrence (change/delete) or position (insert) */
} pn_action;

typedef struct pn_actions {
	pn_action *items;
	size_t count;
	size_t cap;
	pn_verdict verdict;
	char *rcode;		/* "550", or NULL for the MTA's default */
	char *xcode;		/* "5.7.1", or NULL */
	char *text;		/* reply text, or NULL */
	char *error;		/* why the last add was refused */
} pn_actions;

const char *pn_verdict_name(pn_verdict v);
pn_actions *pn_actions_new(void);
int pn_actions_add_header(pn_actions *a, const char *name, const char *value);
int pn_actions_insert_header(pn_actions *a, int index, const char *name, const char *value);
int pn_actions_change_header(pn_actions *a, const char *name, int occurrence, const char *value);
int pn_actions_delete_header(pn_actions *a, const char *name, int occurrence);
int pn_actions_add_rcpt(pn_actions *a, const char *addr, const char *esmtp_args);
int pn_actions_delete_rcpt(pn_actions *a, const char *addr);
int pn_actions_change_from(pn_actions *a, const char *addr, const char *esmtp_args);
int pn_actions_quarantine(pn_actions *a, const char *reason);
int pn_actions_set_reply(pn_actions *a, pn_verdict v, const char *rcode, const char *xcode,
			 const char *text);
size_t pn_actions_count(const pn_actions *a);
const pn_action *pn_actions_get(const pn_actions *a, size_t i);
void pn_actions_print(const pn_actions *a, FILE *out);
const char *pn_actions_error(const pn_actions *a);
void pn_actions_clear(pn_actions *a);
void pn_actions_free(pn_actions *a);
int pn_header_name_valid(const char *name);
int pn_header_value_valid(const char *value);

#endif
