/* SPDX-License-Identifier: BSD-2-Clause */
/* actions - list of message modifications built by engines (see actions.h) */
#include "common/actions.h"
#include "common/alloc.h"

#include <ctype.h>
#include <string.h>

/* pn_verdict_name - lower-case name for logs and dry runs */
const char *pn_verdict_name(pn_verdict v)
{
	switch (v) {
	case PN_CONTINUE: return "continue";
	case PN_ACCEPT: return "accept";
	case PN_REJECT: return "reject";
	case PN_TEMPFAIL: return "tempfail";
	case PN_DISCARD: return "discard";
	}
	return "unknown";
}

/* pn_actions_new - empty list, verdict continue */
pn_actions *pn_actions_new(void)
{
	return pn_calloc(1, sizeof(pn_actions));
}

/* refuse - remember why an add failed */
static int refuse(pn_actions *a, const char *why)
{
	pn_free(a->error);
	a->error = pn_strdup(why);
	return -1;
}

/* pn_header_name_valid - printable ASCII, no colon, no space (RFC 5322 ftext) */
int pn_header_name_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (name == NULL || *p == '\0' || strlen(name) > 998)
		return 0;
	for (; *p; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return 0;
	return 1;
}

/* pn_header_value_valid - no CR, and every LF starts a folded line */
int pn_header_value_valid(const char *value)
{
	const char *p;

	if (value == NULL)
		return 0;
	for (p = value; *p; p++) {
		if (*p == '\r')
			return 0;
		if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
			return 0;
	}
	return 1;
}

/* text_safe - an address or argument that cannot break the protocol */
static int text_safe(const char *s)
{
	for (; s && *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* push - append one action */
static int push(pn_actions *a, pn_action_type type, const char *name, const char *value,
		int index)
{
	pn_action *act;

	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->items = pn_realloc(a->items, a->cap * sizeof(*a->items));
	}
	act = &a->items[a->count++];
	act->type = type;
	act->name = name ? pn_strdup(name) : NULL;
	act->value = value ? pn_strdup(value) : NULL;
	act->index = index;
	return 0;
}

/* check_header - validate a header name and value before queuing */
static int check_header(pn_actions *a, const char *name, const char *value)
{
	if (!pn_header_name_valid(name))
		return refuse(a, "invalid header name");
	if (value && !pn_header_value_valid(value))
		return refuse(a, "header value contains CR or an unfolded LF");
	return 0;
}

/* pn_actions_add_header - append a header after the existing ones */
int pn_actions_add_header(pn_actions *a, const char *name, const char *value)
{
	if (check_header(a, name, value ? value : "") < 0)
		return -1;
	return push(a, PN_ACT_ADD_HEADER, name, value ? value : "", 0);
}

/* pn_actions_insert_header - insert a header at position index (0 = first) */
int pn_actions_insert_header(pn_actions *a, int index, const char *name, const char *value)
{
	if (index < 0)
		return refuse(a, "negative header index");
	if (check_header(a, name, value ? value : "") < 0)
		return -1;
	return push(a, PN_ACT_INSERT_HEADER, name, value ? value : "", index);
}

/* pn_actions_change_header - replace the Nth occurrence of a header */
int pn_actions_change_header(pn_actions *a, const char *name, int occurrence, const char *value)
{
	if (occurrence < 1)
		return refuse(a, "header occurrence counts from 1");
	if (check_header(a, name, value ? value : "") < 0)
		return -1;
	return push(a, PN_ACT_CHANGE_HEADER, name, value ? value : "", occurrence);
}

/* pn_actions_delete_header - remove the Nth occurrence of a header */
int pn_actions_delete_header(pn_actions *a, const char *name, int occurrence)
{
	if (occurrence < 1)
		return refuse(a, "header occurrence counts from 1");
	if (check_header(a, name, NULL) < 0)
		return -1;
	return push(a, PN_ACT_DELETE_HEADER, name, NULL, occurrence);
}

/* pn_actions_add_rcpt - add an envelope recipient */
int pn_actions_add_rcpt(pn_actions *a, const char *addr, const char *esmtp_args)
{
	if (addr == NULL || !*addr || !text_safe(addr) || !text_safe(esmtp_args))
		return refuse(a, "invalid recipient address");
	return push(a, PN_ACT_ADD_RCPT, addr, esmtp_args, 0);
}

/* pn_actions_delete_rcpt - remove an envelope recipient */
int pn_actions_delete_rcpt(pn_actions *a, const char *addr)
{
	if (addr == NULL || !*addr || !text_safe(addr))
		return refuse(a, "invalid recipient address");
	return push(a, PN_ACT_DELETE_RCPT, addr, NULL, 0);
}

/* pn_actions_change_from - replace the envelope sender */
int pn_actions_change_from(pn_actions *a, const char *addr, const char *esmtp_args)
{
	if (addr == NULL || !text_safe(addr) || !text_safe(esmtp_args))
		return refuse(a, "invalid sender address");
	return push(a, PN_ACT_CHANGE_FROM, addr, esmtp_args, 0);
}

/* pn_actions_quarantine - put the message on hold with a reason */
int pn_actions_quarantine(pn_actions *a, const char *reason)
{
	if (reason == NULL || !*reason || !text_safe(reason))
		return refuse(a, "quarantine needs a one-line reason");
	return push(a, PN_ACT_QUARANTINE, NULL, reason, 0);
}

/* code_fits - a three-digit code whose class matches the verdict */
static int code_fits(pn_verdict v, const char *rcode, const char *xcode)
{
	char want = v == PN_REJECT ? '5' : v == PN_TEMPFAIL ? '4' : 0;

	if (rcode == NULL)
		return xcode == NULL;
	if (want == 0 || strlen(rcode) != 3 || rcode[0] != want
	    || !isdigit((unsigned char)rcode[1]) || !isdigit((unsigned char)rcode[2]))
		return 0;
	if (xcode && (xcode[0] != want || xcode[1] != '.' || !text_safe(xcode)))
		return 0;
	return 1;
}

/* pn_actions_set_reply - set the verdict and the SMTP reply that goes with it */
int pn_actions_set_reply(pn_actions *a, pn_verdict v, const char *rcode, const char *xcode,
			 const char *text)
{
	if (!code_fits(v, rcode, xcode))
		return refuse(a, "reply code does not fit the verdict");
	if (!text_safe(text))
		return refuse(a, "reply text contains CR or LF");
	a->verdict = v;
	pn_free(a->rcode);
	pn_free(a->xcode);
	pn_free(a->text);
	a->rcode = rcode ? pn_strdup(rcode) : NULL;
	a->xcode = xcode ? pn_strdup(xcode) : NULL;
	a->text = text ? pn_strdup(text) : NULL;
	return 0;
}

/* pn_actions_count - number of modifications */
size_t pn_actions_count(const pn_actions *a)
{
	return a->count;
}

/* pn_actions_get - the i-th modification */
const pn_action *pn_actions_get(const pn_actions *a, size_t i)
{
	return i < a->count ? &a->items[i] : NULL;
}

/* pn_actions_error - reason for the last refusal */
const char *pn_actions_error(const pn_actions *a)
{
	return a->error ? a->error : "";
}

/* print_value - a header value on one line, folds shown as \\n */
static void print_value(FILE *out, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* pn_actions_print - the dry-run form, one action per line */
void pn_actions_print(const pn_actions *a, FILE *out)
{
	size_t i;

	for (i = 0; i < a->count; i++) {
		const pn_action *x = &a->items[i];
		switch (x->type) {
		case PN_ACT_ADD_HEADER:
			fprintf(out, "add_header %s: ", x->name);
			print_value(out, x->value);
			break;
		case PN_ACT_INSERT_HEADER:
			fprintf(out, "insert_header %d %s: ", x->index, x->name);
			print_value(out, x->value);
			break;
		case PN_ACT_CHANGE_HEADER:
			fprintf(out, "change_header %s[%d]: ", x->name, x->index);
			print_value(out, x->value);
			break;
		case PN_ACT_DELETE_HEADER:
			fprintf(out, "delete_header %s[%d]", x->name, x->index);
			break;
		case PN_ACT_ADD_RCPT:
			fprintf(out, "add_rcpt %s%s%s", x->name, x->value ? " " : "",
				x->value ? x->value : "");
			break;
		case PN_ACT_DELETE_RCPT:
			fprintf(out, "delete_rcpt %s", x->name);
			break;
		case PN_ACT_CHANGE_FROM:
			fprintf(out, "change_from %s%s%s", x->name, x->value ? " " : "",
				x->value ? x->value : "");
			break;
		case PN_ACT_QUARANTINE:
			fprintf(out, "quarantine %s", x->value);
			break;
		}
		fputc('\n', out);
	}
	fprintf(out, "verdict %s", pn_verdict_name(a->verdict));
	if (a->rcode)
		fprintf(out, " %s", a->rcode);
	if (a->xcode)
		fprintf(out, " %s", a->xcode);
	if (a->text)
		fprintf(out, " %s", a->text);
	fputc('\n', out);
}

/* pn_actions_clear - forget every action and the verdict */
void pn_actions_clear(pn_actions *a)
{
	size_t i;

	for (i = 0; i < a->count; i++) {
		pn_free(a->items[i].name);
		pn_free(a->items[i].value);
	}
	a->count = 0;
	a->verdict = PN_CONTINUE;
	pn_free(a->rcode);
	pn_free(a->xcode);
	pn_free(a->text);
	pn_free(a->error);
	a->rcode = a->xcode = a->text = a->error = NULL;
}

/* pn_actions_free - release the list */
void pn_actions_free(pn_actions *a)
{
	if (a == NULL)
		return;
	pn_actions_clear(a);
	pn_free(a->items);
	pn_free(a);
}
