/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sort_reply - vacation replies and notify messages of an outcome
 * (sort_send(), sort_engine.h)
 *
 * For each recipient whose chain did not reject the message, each
 * vacation or notify action that the interpreter did not refuse (RFC
 * 3834, sv_send.refused) becomes a message spooled by sort_submit.h.
 * A vacation reply first claims its key in the response store
 * (sort_store_claim(): recipient, sender and handle, until now plus the
 * interval), so one sender gets one reply per interval, across threads,
 * reloads and restarts; without a store no reply is sent (the safe
 * side). Both kinds leave with the null envelope sender (RFC 3834
 * section 3.3, RFC 5230 section 5.1, RFC 5436 section 2.8), so no bounce
 * or reply comes back to them, and carry Auto-Submitted (auto-replied,
 * auto-notified). Every value that came from the message (subject,
 * message IDs) goes through sv_header_value() or the message-ID filter
 * of the interpreter: a sender cannot add a header line to a reply.
 */
#include "milters/sort/sort_int.h"
#include "milters/sort/sort_store.h"
#include "milters/sort/sort_submit.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_REPLY (1024 * 1024)

/* submitter - the outbound spool, started on first use */
static sort_submit *submitter(sort_state *st)
{
	sort_submit *sb;
	char *err = NULL;

	pthread_mutex_lock(&st->submit_lock);
	if (st->submit == NULL && !st->submit_failed) {
		st->submit = sort_submit_new(st->submit_dir, st->submit_method,
					     st->submit_max_queue, &err);
		if (st->submit == NULL) {
			pn_log(PN_LOG_ERROR, "sort: %s: vacation and notify messages are not sent "
			       "until the next reload", err);
			st->submit_failed = 1;
			pn_free(err);
		}
	}
	sb = st->submit;
	pthread_mutex_unlock(&st->submit_lock);
	return sb;
}

/* put_date - RFC 5322 date in UTC, without the locale */
static void put_date(pn_buf *b, time_t now)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&now, &tm);
	pn_buf_printf(b, "Date: %s, %d %s %d %02d:%02d:%02d +0000\n", days[tm.tm_wday], tm.tm_mday,
		      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* put_field - "Name: value" with the value made safe */
static void put_field(pn_buf *b, const char *name, const char *value)
{
	char *v = sv_header_value(value, strlen(value));

	pn_buf_printf(b, "%s: %s\n", name, v);
	pn_free(v);
}

/* put_text_body - a text/plain body, 8bit only when it must */
static void put_text_body(pn_buf *b, const char *text)
{
	const char *p;
	int eight = 0;

	for (p = text; *p; p++)
		if ((unsigned char)*p >= 0x80)
			eight = 1;
	pn_buf_printf(b, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
		      "Content-Transfer-Encoding: %s\n\n", eight ? "8bit" : "7bit");
	for (p = text; *p; p++)
		if (*p != '\r')
			pn_buf_putc(b, *p);
	if (p == text || p[-1] != '\n')
		pn_buf_putc(b, '\n');
}

/* put_message_id - a new Message-ID on host */
static void put_message_id(pn_buf *b, const char *host, time_t now)
{
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r ^= (unsigned long long)clock();
	pn_buf_printf(b, "Message-ID: <postern.%lld.%016llx@%s>\n", (long long)now, r, host);
}

/* compose_vacation - the reply (RFC 5230 section 5) */
static void compose_vacation(const sort_state *st, const sv_send *s, time_t now, pn_buf *b)
{
	char *subject;

	if (s->from)
		put_field(b, "From", s->from);
	else
		pn_buf_printf(b, "From: <%s>\n", s->recipient);
	pn_buf_printf(b, "To: <%s>\n", s->to);
	/* RFC 5230 section 5.4: "Auto:" and the original subject */
	subject = s->subject ? pn_strdup(s->subject)
		  : pn_asprintf("Auto: %s", s->orig_subject ? s->orig_subject : "");
	put_field(b, "Subject", subject);
	pn_free(subject);
	put_date(b, now);
	put_message_id(b, st->host, now);
	if (s->in_reply_to)
		pn_buf_printf(b, "In-Reply-To: %s\n", s->in_reply_to);
	if (s->references)
		put_field(b, "References", s->references);
	pn_buf_puts(b, "Auto-Submitted: auto-replied (vacation)\n");
	if (s->mime) {
		/* the reason is a MIME entity: its own header, then its body */
		const char *p;
		pn_buf_puts(b, "MIME-Version: 1.0\n");
		for (p = s->body; *p; p++)
			if (*p != '\r')
				pn_buf_putc(b, *p);
		if (p == s->body || p[-1] != '\n')
			pn_buf_putc(b, '\n');
	} else {
		put_text_body(b, s->body);
	}
}

/* compose_notify - the notification (RFC 5436 section 2) */
static void compose_notify(const sort_state *st, const sv_send *s, const char *sender,
			   time_t now, pn_buf *b)
{
	static const char *const importance[] = {"high", "normal", "low"};
	char *text;

	if (s->from)
		put_field(b, "From", s->from);
	else if (s->recipient)
		pn_buf_printf(b, "From: <%s>\n", s->recipient);
	else
		pn_buf_printf(b, "From: <MAILER-DAEMON@%s>\n", st->host);
	put_field(b, "To", s->to);
	text = s->message ? pn_strdup(s->message) : s->subject ? pn_strdup(s->subject)
	       : pn_asprintf("New mail: %s", s->orig_subject ? s->orig_subject : "");
	put_field(b, "Subject", text);
	put_date(b, now);
	put_message_id(b, st->host, now);
	pn_buf_puts(b, "Auto-Submitted: auto-notified\n");
	if (s->importance)
		pn_buf_printf(b, "Importance: %s\n", importance[s->importance[0] - '1']);
	pn_free(text);
	text = s->body ? pn_strdup(s->body)
	       : pn_asprintf("%s\nFrom: %s\nSubject: %s\n", s->message ? s->message : "New mail",
			     sender && sender[0] ? sender : "<>",
			     s->orig_subject ? s->orig_subject : "");
	put_text_body(b, text);
	pn_free(text);
}

/* rejected - the recipient's chain refused the message */
static int rejected(const sv_result *r)
{
	size_t i;

	for (i = 0; i < r->nacts; i++)
		if (r->acts[i].type == SV_ACT_REJECT || r->acts[i].type == SV_ACT_EREJECT)
			return 1;
	return 0;
}

/* one_send - one vacation or notify action of a recipient */
static void one_send(sort_state *st, const sv_action *a, const char *sender,
		     const char *queue_id, time_t now)
{
	const sv_send *s = a->send;
	const char *what = a->type == SV_ACT_VACATION ? "vacation" : "notify";
	sort_submit *sb;
	pn_buf b;

	if (s->refused) {
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: %s (%s line %d) not sent: %s", what,
			   a->script, a->line, s->refused);
		return;
	}
	if (s->to == NULL || s->to[0] == '\0')
		return;
	if (a->type == SV_ACT_VACATION) {
		sort_store *store = sort_responses(st);
		int seen;
		if (s->recipient == NULL)
			return;
		if (store == NULL) {
			pn_log_msg(PN_LOG_WARN, queue_id, "sort: vacation (%s line %d) not sent: no "
				   "response store to remember it (response_store)", a->script,
				   a->line);
			return;
		}
		seen = sort_store_claim(store, s->key, now, now + s->seconds);
		if (seen != 0) {
			pn_log_msg(PN_LOG_INFO, queue_id, "sort: vacation (%s line %d) to <%s> not "
				   "sent: %s", a->script, a->line, s->to, seen > 0
				   ? "already answered in this interval" : "response store error");
			return;
		}
	}
	if ((sb = submitter(st)) == NULL)
		return;
	pn_buf_init(&b, MAX_REPLY);
	if (a->type == SV_ACT_VACATION)
		compose_vacation(st, s, now, &b);
	else
		compose_notify(st, s, sender, now, &b);
	if (sort_submit_queue(sb, "", s->to, pn_buf_str(&b), pn_buf_len(&b)) == 0)
		pn_log_msg(PN_LOG_INFO, queue_id, "sort: %s (%s line %d) to <%s> queued", what,
			   a->script, a->line, s->to);
	pn_buf_free(&b);
}

/* sort_send - the vacation replies and notifications of an outcome */
void sort_send(sort_state *st, const sort_outcome *o, const char *sender, const char *queue_id)
{
	time_t now = time(NULL);
	size_t i, k;

	for (i = 0; i < o->n; i++) {
		const sv_result *r = &o->r[i].res;
		if (rejected(r))
			continue;
		for (k = 0; k < r->nacts; k++)
			if (r->acts[k].send != NULL)
				one_send(st, &r->acts[k], sender, queue_id, now);
	}
}
