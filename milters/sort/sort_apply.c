/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_apply - postern-sort's results turned into milter modifications
 *
 * sort_apply() decides for each recipient (keep, fileinto as a subaddress
 * or a folder header, redirect with loop protection, discard, reject) and
 * for the shared header section (the scripts' edits when every recipient
 * made the same, Postern's own fields, the imap4flags header when every
 * delivery carries the same flags), logs every applied action with
 * the queue id, script and line, and writes the modifications and the
 * verdict into a pn_actions list the milter layer applies.
 */
#include "milters/sort/sort_int.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* copy_actions - append src's modifications to dst */
static void copy_actions(pn_actions *dst, const pn_actions *src)
{
	size_t i;

	for (i = 0; i < src->count; i++) {
		const pn_action *x = &src->items[i];
		switch (x->type) {
		case PN_ACT_ADD_HEADER: pn_actions_add_header(dst, x->name, x->value); break;
		case PN_ACT_INSERT_HEADER: pn_actions_insert_header(dst, x->index, x->name, x->value); break;
		case PN_ACT_CHANGE_HEADER: pn_actions_change_header(dst, x->name, x->index, x->value); break;
		case PN_ACT_DELETE_HEADER: pn_actions_delete_header(dst, x->name, x->index); break;
		case PN_ACT_ADD_RCPT: pn_actions_add_rcpt(dst, x->name, x->value); break;
		case PN_ACT_DELETE_RCPT: pn_actions_delete_rcpt(dst, x->name); break;
		case PN_ACT_CHANGE_FROM: pn_actions_change_from(dst, x->name, x->value); break;
		case PN_ACT_QUARANTINE: pn_actions_quarantine(dst, x->value); break;
		}
	}
}

/*
 * subaddress_folder_ok - a folder that can be written as a local-part detail
 *
 * The recipient user+Folder@domain goes back through Postfix's address
 * rewriting, where "%" (allow_percent_hack) and "!" (swap_bangpath) turn
 * a local address into a remote one, "@" and quotes change what the
 * local part is, and delivery agents and scripts read other punctuation.
 * Only a safe set is written: ASCII letters and digits, "-" and "_",
 * with "." and "/" as hierarchy separators between non-empty names that
 * do not start with a dot; never a character of the recipient delimiter.
 */
static int subaddress_folder_ok(const char *f, const char *delim)
{
	const char *p;
	int start = 1;		/* at the start of a name */

	if (*f == '\0' || strlen(f) > 200)
		return 0;
	for (p = f; *p; p++) {
		if (strchr(delim, *p))
			return 0;
		if (*p == '.' || *p == '/') {
			if (start)
				return 0;	/* leading, doubled, "/." or "./" */
			start = 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '-' || *p == '_'))
			return 0;
		start = 0;
	}
	return !start;		/* not ending with a separator */
}

/* addr_eq - same address: local parts exactly, domains in any case */
static int addr_eq(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	if (da == NULL || db == NULL)
		return strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0
	       && strcasecmp(da, db) == 0;
}

/* strv_has - address list membership */
static int strv_has(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_eq(v[i], s))
			return 1;
	return 0;
}

/* plan - what sort_apply decides, before it is written into the actions */
typedef struct plan {
	pn_actions *mods;	/* recipient and trace/folder header changes */
	char **added;		/* recipients added (bare addresses) */
	size_t nadded;
	char **kept;		/* original recipients kept (bare) */
	size_t nkept;
	char **orig;		/* every original recipient (bare) */
	size_t norig;
	char **revived;		/* originals that another recipient's action delivers to */
	size_t nrevived;
	size_t rejected;
	const char *reject_text;
	const sv_action *reject_act;
	const char *reject_rcpt;
	/* fileinto under fileinto_method = header, decided once the final
	 * recipients are known (see folder_headers) */
	struct filed {
		size_t rcpt;
		const sv_action *act;
	} *filed;
	size_t nfiled;
	int redirected;		/* a redirect was made: one trace header */
	int subaddressed;	/* fileinto subaddresses added */
	int hops_in;		/* redirects the message went through already */
} plan;

/* add_recipient - add a recipient once */
static void add_recipient(plan *p, const char *addr, const char *qid)
{
	char *path;

	if (strv_has(p->added, p->nadded, addr) || strv_has(p->kept, p->nkept, addr)
	    || strv_has(p->revived, p->nrevived, addr))
		return;
	if (strv_has(p->orig, p->norig, addr)) {
		p->revived = pn_realloc(p->revived, (p->nrevived + 1) * sizeof(*p->revived));
		p->revived[p->nrevived++] = pn_strdup(addr);
		return;
	}
	path = pn_asprintf("<%s>", addr);
	if (pn_actions_add_rcpt(p->mods, path, NULL) < 0)
		pn_log_msg(PN_LOG_WARN, qid, "sort: cannot add recipient %s: %s", path,
			   pn_actions_error(p->mods));
	pn_free(path);
	p->added = pn_realloc(p->added, (p->nadded + 1) * sizeof(*p->added));
	p->added[p->nadded++] = pn_strdup(addr);
}

/*
 * trace_hops - redirects the message went through, from the trace fields
 * it arrived with: Postern writes "hops=N" (N counts this redirect and
 * the earlier ones, whose fields are removed on the way); an older field
 * "<address>" counts one and a loop when it names addr.
 */
static int trace_hops(const sort_state *st, const pn_msg *m, const char *addr, int *loop)
{
	size_t i;
	int old = 0, hops = 0;

	*loop = 0;
	for (i = 0; i < m->nheaders; i++) {
		const char *v = m->headers[i].value;
		size_t len;

		if (strcasecmp(m->headers[i].name, st->trace_header) != 0)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "hops=", 5) == 0) {
			long n = strtol(v + 5, NULL, 10);
			if (n > hops)
				hops = n > 1000 ? 1000 : (int)n;
			continue;
		}
		old++;
		while (*v == '<')
			v++;
		len = strcspn(v, "> \t\r\n");
		if (addr && len == strlen(addr) && strncasecmp(v, addr, len) == 0)
			*loop = 1;
	}
	return hops > old ? hops : old;
}

/* subaddress - user+folder@domain, the local part quoted when it must be */
static char *subaddress(const char *user, char delim, const char *folder, const char *domain)
{
	char *local = pn_asprintf("%s%c%s", user, delim, folder);
	char *written = sv_written_local(local);
	char *addr = pn_asprintf("%s@%s", written, domain);

	pn_free(written);
	pn_free(local);
	return addr;
}

/* one_rcpt - decide for one recipient; returns 1 when it stays */
static int one_rcpt(const sort_state *st, const sort_rcpt *rc, size_t ri, const pn_msg *m,
		    const char *qid, plan *p)
{
	const sv_result *R = &rc->res;
	int keep = sv_result_keeps(R);
	size_t i;
	const char *who = rc->addr;

	if (R->error)
		pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s: run-time failure at %s: "
			   "keeping the message", who, R->error_script, R->error);
	for (i = 0; i < R->nacts; i++)
		pn_metric_inc(PN_M_SORT_ACTIONS, R->acts[i].type);
	if (!rc->view_ok) {
		pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s: cannot parse the recipient: left as is",
			   who);
		return 1;
	}
	for (i = 0; i < R->nacts; i++) {
		const sv_action *x = &R->acts[i];
		if (x->type == SV_ACT_REJECT || x->type == SV_ACT_EREJECT) {
			p->rejected++;
			if (p->reject_text == NULL) {
				p->reject_text = x->arg;
				p->reject_act = x;
				p->reject_rcpt = who;
			}
			return -1;
		}
	}
	for (i = 0; i < R->nacts; i++) {
		const sv_action *x = &R->acts[i];
		int loop, hops;
		char *addr, *user = NULL, *detail = NULL;

		switch (x->type) {
		case SV_ACT_KEEP:
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: keep", who,
				   x->script, x->line);
			break;
		case SV_ACT_DISCARD:
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: discard", who,
				   x->script, x->line);
			break;
		case SV_ACT_FILEINTO:
			if (strcasecmp(x->arg, "INBOX") == 0) {
				keep = 1;
				pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"INBOX\": keep", who, x->script, x->line);
			} else if (st->by_header) {
				/* the recipient stays; the header is decided once every
				 * recipient is known (folder_headers) */
				keep = 1;
				p->filed = pn_realloc(p->filed, (p->nfiled + 1) * sizeof(*p->filed));
				p->filed[p->nfiled].rcpt = ri;
				p->filed[p->nfiled].act = x;
				p->nfiled++;
			} else if (!subaddress_folder_ok(x->arg, st->delim)) {
				keep = 1;
				pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"%s\": folder name cannot be a subaddress: keeping the "
					   "message", who, x->script, x->line, x->arg);
			} else {
				/* the canonical local part: "<\"bob\"(x)@d>" is bob@d */
				pn_addr_split_sub(rc->canon->local, st->delim, &user, &detail);
				addr = subaddress(user, st->delim[0], x->arg, rc->view.domain);
				add_recipient(p, addr, qid);
				p->subaddressed++;
				pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto "
					   "\"%s\": recipient <%s>", who, x->script, x->line, x->arg,
					   addr);
				pn_free(addr);
				pn_free(user);
				pn_free(detail);
			}
			break;
		case SV_ACT_REDIRECT:
			hops = trace_hops(st, m, x->arg, &loop);
			if (loop || hops >= st->max_hops) {
				keep = 1;
				pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: redirect "
					   "to <%s> refused (%s): keeping the message", who, x->script,
					   x->line, x->arg, loop ? "mail loop" : "too many redirects");
				break;
			}
			add_recipient(p, x->arg, qid);
			p->redirected = 1;
			p->hops_in = hops;
			pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: redirect%s to <%s>",
				   who, x->script, x->line, x->copy ? " :copy" : "", x->arg);
			break;
		default:
			break;
		}
	}
	if (keep && R->implicit_keep && !R->explicit_keep)
		pn_metric_inc(PN_M_SORT_ACTIONS, PN_MSORT_IMPLICIT_KEEP);
	if (keep && R->implicit_keep && !R->explicit_keep)
		pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s: implicit keep", who,
			   rc->scripts ? rc->scripts : "(none)");
	return keep;
}

/* reply_text - a reject reason as one printable SMTP reply line */
static char *reply_text(const char *s)
{
	pn_buf b;
	const char *p;

	pn_buf_init(&b, 0);
	for (p = s; *p && pn_buf_len(&b) < 400; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == ' ' && pn_buf_len(&b) && b.data[b.len - 1] == ' ')
			continue;
		pn_buf_putc(&b, c);
	}
	while (pn_buf_len(&b) && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (pn_buf_len(&b) == 0)
		pn_buf_puts(&b, "Message rejected");
	return pn_buf_steal(&b, NULL);
}

/* log_edits - the header edits applied, with their scripts and lines */
static void log_edits(const sort_rcpt *rc, const char *qid, const char *only_script)
{
	size_t i;

	for (i = 0; i < rc->res.nacts; i++) {
		const sv_action *x = &rc->res.acts[i];
		if (only_script && strcmp(x->script, only_script) != 0)
			continue;
		if (x->type == SV_ACT_ADDHEADER)
			pn_log_msg(PN_LOG_INFO, qid, "sort: script=%s line=%d: addheader %s",
				   x->script, x->line, x->arg);
		else if (x->type == SV_ACT_DELETEHEADER)
			pn_log_msg(PN_LOG_INFO, qid, "sort: script=%s line=%d: deleteheader %s (%u)",
				   x->script, x->line, x->arg, x->count);
	}
}

/* same_folders - recipients a and b filed into the same folders, in order */
static int same_folders(const plan *p, size_t a, size_t b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < p->nfiled && p->filed[i].rcpt != a)
			i++;
		while (j < p->nfiled && p->filed[j].rcpt != b)
			j++;
		if (i == p->nfiled || j == p->nfiled)
			return i == p->nfiled && j == p->nfiled;
		if (strcmp(p->filed[i].act->arg, p->filed[j].act->arg) != 0)
			return 0;
		i++;
		j++;
	}
}

/*
 * folder_headers - fileinto_method = header: the header section is one for
 * every recipient of the message, so a folder header is written only when
 * every final recipient filed into the same folders: it then names no
 * address ("X-Postern-Folder: Folder"), and tells no recipient anything
 * about another. Otherwise (a Bcc recipient, a redirect target, another
 * recipient that keeps or files elsewhere) the fileinto is a keep, logged.
 */
static void folder_headers(const sort_state *st, const sort_outcome *o, const plan *p,
			   const int *final, const char *qid, pn_actions *headers)
{
	size_t i, first;
	int ok;

	if (p->nfiled == 0)
		return;
	first = p->filed[0].rcpt;
	ok = p->nadded == 0;
	for (i = 0; i < o->n && ok; i++)
		if (final[i] && !same_folders(p, first, i))
			ok = 0;
	for (i = 0; i < p->nfiled; i++) {
		const sv_action *x = p->filed[i].act;
		const char *who = o->r[p->filed[i].rcpt].addr;

		if (!ok) {
			pn_log_msg(PN_LOG_WARN, qid, "sort: to=%s script=%s line=%d: fileinto \"%s\": "
				   "the message has other recipients, who would see the folder "
				   "header: keeping the message", who, x->script, x->line, x->arg);
			continue;
		}
		pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s script=%s line=%d: fileinto \"%s\": "
			   "header %s", who, x->script, x->line, x->arg, st->folder_header);
		if (p->filed[i].rcpt == first) {
			char *enc = sv_header_value(x->arg, strlen(x->arg));
			pn_actions_add_header(headers, st->folder_header, enc);
			pn_free(enc);
		}
	}
}

/* cmp_str - qsort order of strings */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* flag_key - a flag set in a form that compares as a set: lower case, sorted */
static char *flag_key(const char *set)
{
	char *copy = pn_strdup(set ? set : ""), *p, **v = NULL, *save = NULL;
	size_t n = 0, i;
	pn_buf b;

	for (p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		v = pn_realloc(v, (n + 1) * sizeof(*v));
		v[n++] = p;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	pn_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			pn_buf_putc(&b, ' ');
		pn_buf_puts(&b, v[i]);
	}
	pn_free(v);
	pn_free(copy);
	return pn_buf_steal(&b, NULL);
}

/* delivery_flags - each delivery of a recipient's result: its flags (NULL
 * none) through fn; the implicit keep with the flags it ended with */
static void delivery_flags(const sv_result *R, void (*fn)(void *arg, const char *flags), void *arg)
{
	size_t i;

	for (i = 0; i < R->nacts; i++)
		if (R->acts[i].type == SV_ACT_KEEP || R->acts[i].type == SV_ACT_FILEINTO)
			fn(arg, R->acts[i].flags);
		else if (R->acts[i].type == SV_ACT_REDIRECT)
			fn(arg, NULL);	/* another mailbox gets no flags */
	if (R->implicit_keep && !R->explicit_keep)
		fn(arg, R->keep_flags);
}

typedef struct flag_vote {
	char *key;		/* the first delivery's set (flag_key) */
	const char *flags;	/* its flags as written */
	int seen, differ, any;
} flag_vote;

/* vote - one delivery's flags */
static void vote(void *arg, const char *flags)
{
	flag_vote *v = arg;
	char *key = flag_key(flags);

	v->any |= *key != '\0';
	if (!v->seen) {
		v->seen = 1;
		v->key = key;
		v->flags = flags;
		return;
	}
	v->differ |= strcmp(key, v->key) != 0;
	pn_free(key);
}

/*
 * flags_header - imap4flags: the header section is every recipient's, so
 * the flags reach the delivery agent in flags_header only when every
 * delivery of every final recipient (keep, fileinto, the implicit keep)
 * carries the same flags and nothing is redirected: one recipient's
 * flags never reach another's mailbox. Otherwise none is written (logged).
 */
static void flags_header(const sort_state *st, const sort_outcome *o, const plan *p,
			 const int *final, const char *qid, pn_actions *headers)
{
	flag_vote v;
	size_t i;

	if (*st->flags_header == '\0')
		return;
	memset(&v, 0, sizeof(v));
	for (i = 0; i < o->n; i++)
		if (final[i])
			delivery_flags(&o->r[i].res, vote, &v);
	if (v.any && (v.differ || p->redirected)) {
		pn_log_msg(PN_LOG_WARN, qid, "sort: imap4flags: the recipients' deliveries carry "
			   "different flags%s: no %s written (the header section is shared)",
			   p->redirected ? " or a redirect" : "", st->flags_header);
	} else if (v.any) {
		char *enc = sv_header_value(v.flags, strlen(v.flags));
		pn_actions_add_header(headers, st->flags_header, enc);
		pn_log_msg(PN_LOG_INFO, qid, "sort: imap4flags: %s: %s", st->flags_header, enc);
		pn_free(enc);
	}
	pn_free(v.key);
}

/* own_header - a header name Postern's sort writes */
static int own_header(const sort_state *st, const char *name)
{
	return name && ((*st->flags_header && strcasecmp(name, st->flags_header) == 0)
			|| strcasecmp(name, st->folder_header) == 0
			|| strcasecmp(name, st->trace_header) == 0
			|| (*st->original_header && strcasecmp(name, st->original_header) == 0));
}

/* named_in_header - addr is one of the addresses of a To, Cc, Resent-To
 * or Resent-Cc field of m: the header section already shows it */
static int named_in_header(const pn_msg *m, const char *addr)
{
	static const char *const fields[] = {"To", "Cc", "Resent-To", "Resent-Cc", NULL};
	size_t i, k, f;
	int found = 0;

	for (i = 0; i < m->nheaders && !found; i++) {
		pn_addr_list *l;
		for (f = 0; fields[f]; f++)
			if (strcasecmp(m->headers[i].name, fields[f]) == 0)
				break;
		if (fields[f] == NULL)
			continue;
		l = pn_addr_parse_list(m->headers[i].value, 1000);
		for (k = 0; l && k < l->count && !found; k++)
			found = *l->items[k].domain && addr_eq(l->items[k].address, addr);
		pn_addr_list_free(l);
	}
	return found;
}

/*
 * original_recipient - fileinto_method = subaddress replaces the recipient
 * user@domain by user+Folder@domain, and the delivered copy no longer says
 * which address the mail came to. The header section is every recipient's
 * (and an address may be an alias or list that expands after Postern), so
 * the original address is named only when that tells no reader anything
 * new: the message has exactly one envelope recipient, every address it
 * goes to in the end is a subaddress of it (or itself: no redirect), and
 * the address already appears in To, Cc, Resent-To or Resent-Cc. A Bcc
 * recipient (in no such field) is never named.
 */
static void original_recipient(const sort_state *st, const sort_outcome *o, const plan *p,
			       const pn_msg *m, const char *qid, pn_actions *headers)
{
	const sort_rcpt *rc = &o->r[0];
	char *v;

	if (*st->original_header == '\0' || o->n != 1 || p->subaddressed == 0 || p->redirected
	    || p->nadded == 0 || !rc->view_ok || rc->canon == NULL)
		return;
	if (!named_in_header(m, rc->canon->address)) {
		pn_log_msg(PN_LOG_INFO, qid, "sort: to=%s: no %s: the address is in no To or Cc "
			   "field (a Bcc recipient is never named)", rc->addr, st->original_header);
		return;
	}
	v = pn_asprintf("<%s>", rc->canon->address);
	if (pn_actions_add_header(headers, st->original_header, v) < 0)
		pn_log_msg(PN_LOG_WARN, qid, "sort: header %s not added: %s", st->original_header,
			   pn_actions_error(headers));
	pn_free(v);
}

/*
 * strip_own_headers - incoming fields of the names Postern writes are
 * removed, so that what reaches delivery under those names is Postern's
 * own (a sender's "X-Postern-Folder: Trash" would otherwise steer the
 * delivery rule). The last occurrence goes first: the indexes of the
 * earlier ones stay valid.
 */
static void strip_own_headers(const sort_state *st, const pn_msg *m, pn_actions *a)
{
	const char *names[4];
	size_t i, j, k;

	names[0] = st->folder_header;
	names[1] = st->trace_header;
	names[2] = st->original_header;
	names[3] = st->flags_header;
	for (k = 0; k < 4; k++) {
		int n = 0;
		for (j = 0; j < k; j++)
			if (strcasecmp(names[j], names[k]) == 0)
				break;
		if (*names[k] == '\0' || j < k)
			continue;	/* none, or deleted already */
		for (i = 0; i < m->nheaders; i++)
			n += strcasecmp(m->headers[i].name, names[k]) == 0;
		for (; n > 0; n--)
			pn_actions_delete_header(a, names[k], n);
	}
}

/* copy_script_edits - a script's header edits, but none of the fields
 * Postern writes: those are removed on arrival and written by Postern */
static void copy_script_edits(const sort_state *st, pn_actions *dst, const pn_actions *src,
			      const char *qid)
{
	pn_actions *keep = pn_actions_new();
	size_t i;

	for (i = 0; i < src->count; i++) {
		const pn_action *x = &src->items[i];
		if (x->type != PN_ACT_ADD_RCPT && x->type != PN_ACT_DELETE_RCPT
		    && x->type != PN_ACT_CHANGE_FROM && x->type != PN_ACT_QUARANTINE
		    && own_header(st, x->name)) {
			pn_log_msg(PN_LOG_WARN, qid, "sort: script edit of header %s ignored: "
				   "Postern writes that header", x->name);
			continue;
		}
		switch (x->type) {
		case PN_ACT_ADD_HEADER: pn_actions_add_header(keep, x->name, x->value); break;
		case PN_ACT_INSERT_HEADER: pn_actions_insert_header(keep, x->index, x->name, x->value); break;
		case PN_ACT_CHANGE_HEADER: pn_actions_change_header(keep, x->name, x->index, x->value); break;
		case PN_ACT_DELETE_HEADER: pn_actions_delete_header(keep, x->name, x->index); break;
		default: break;
		}
	}
	copy_actions(dst, keep);
	pn_actions_free(keep);
}

/* sort_apply - milter modifications and verdict for an outcome */
void sort_apply(const sort_state *st, const sort_outcome *o, const pn_msg *m,
		const char *queue_id, pn_actions *a)
{
	plan p;
	pn_actions *headers = pn_actions_new();
	size_t i, remain = 0;
	int *stays = pn_calloc(o->n + 1, sizeof(int));
	int *final = pn_calloc(o->n + 1, sizeof(int));

	memset(&p, 0, sizeof(p));
	p.mods = pn_actions_new();
	/* recipients that stay unchanged are known first, so that a redirect
	 * to one of them does not add it twice */
	for (i = 0; i < o->n; i++) {
		const sv_result *R = &o->r[i].res;
		size_t j;
		int rej = 0;

		for (j = 0; j < R->nacts; j++)
			rej |= R->acts[j].type == SV_ACT_REJECT || R->acts[j].type == SV_ACT_EREJECT;
		if (!o->r[i].view_ok)
			continue;
		p.orig = pn_realloc(p.orig, (p.norig + 1) * sizeof(*p.orig));
		p.orig[p.norig++] = pn_strdup(o->r[i].view.address);
		if (!rej && sv_result_keeps(R)) {
			p.kept = pn_realloc(p.kept, (p.nkept + 1) * sizeof(*p.kept));
			p.kept[p.nkept++] = pn_strdup(o->r[i].view.address);
		}
	}
	for (i = 0; i < o->n; i++)
		stays[i] = one_rcpt(st, &o->r[i], i, m, queue_id, &p);
	if (o->n > 0 && p.rejected == o->n) {
		char *text = reply_text(p.reject_text);
		pn_actions_set_reply(a, PN_REJECT, "550", "5.7.1", text);
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: to=%s script=%s line=%d: %s: message "
			   "refused: 550 5.7.1 %s", p.reject_rcpt, p.reject_act->script,
			   p.reject_act->line,
			   p.reject_act->type == SV_ACT_REJECT ? "reject" : "ereject", text);
		pn_free(text);
		goto out;
	}
	/* the recipients the message goes to in the end */
	for (i = 0; i < o->n; i++) {
		final[i] = stays[i] == 1;
		if (!final[i] && o->r[i].view_ok)
			final[i] = strv_has(p.revived, p.nrevived, o->r[i].view.address);
	}
	folder_headers(st, o, &p, final, queue_id, headers);
	original_recipient(st, o, &p, m, queue_id, headers);
	flags_header(st, o, &p, final, queue_id, headers);
	if (p.redirected) {
		char *v = pn_asprintf("hops=%d", p.hops_in + 1);
		pn_actions_add_header(headers, st->trace_header, v);
		pn_free(v);
	}
	strip_own_headers(st, m, a);
	/* header edits: shared by all recipients */
	if (o->n > 0) {
		int all_same = 1, global_same = 1;
		for (i = 1; i < o->n; i++) {
			all_same &= o->r[i].same_all;
			global_same &= o->r[i].same_global;
		}
		if (all_same) {
			copy_script_edits(st, a, o->r[0].edits_all, queue_id);
			log_edits(&o->r[0], queue_id, NULL);
		} else {
			copy_script_edits(st, a, o->r[0].edits_global, queue_id);
			log_edits(&o->r[0], queue_id, *st->global ? st->global : "");
			pn_log_msg(PN_LOG_WARN, queue_id, "sort: header edits differ between "
				   "recipients: %s", global_same ? "per-recipient edits ignored"
				   : "applying the global script's edits for the first recipient");
		}
	}
	copy_actions(a, headers);
	copy_actions(a, p.mods);
	for (i = 0; i < o->n; i++) {
		int again = 0;

		if (stays[i] == 1) {
			remain++;
			continue;
		}
		/* a recipient re-added by another's redirect or fileinto stays */
		if (o->r[i].view_ok)
			again = strv_has(p.revived, p.nrevived, o->r[i].view.address);
		if (again) {
			remain++;
			continue;
		}
		pn_actions_delete_rcpt(a, o->r[i].addr);
		if (stays[i] < 0)
			pn_log_msg(PN_LOG_INFO, queue_id, "sort: to=%s: rejected by its script while "
				   "other recipients accept the message: recipient removed",
				   o->r[i].addr);
	}
	if (remain == 0 && p.nadded == 0 && o->n > 0) {
		a->verdict = PN_DISCARD;
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: no recipient left: message discarded");
	}
out:
	for (i = 0; i < p.nadded; i++)
		pn_free(p.added[i]);
	pn_free(p.added);
	for (i = 0; i < p.nkept; i++)
		pn_free(p.kept[i]);
	pn_free(p.kept);
	for (i = 0; i < p.norig; i++)
		pn_free(p.orig[i]);
	pn_free(p.orig);
	for (i = 0; i < p.nrevived; i++)
		pn_free(p.revived[i]);
	pn_free(p.revived);
	pn_actions_free(p.mods);
	pn_actions_free(headers);
	pn_free(stays);
	pn_free(final);
	pn_free(p.filed);
}
