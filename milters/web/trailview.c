/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	trailview - a message's audit records and whether the chain holds
 * DESCRIPTION
 *	See trailview.h. One pass over the trail: each line goes to the
 *	chain verifier of postern-audit (verify.h) and, when a cheap
 *	substring test says it may be about the message, to the JSON parser
 *	for the table. The verifier prints its verdict to a FILE; a memory
 *	stream catches it for the page.
 */
#include "milters/web/trailview.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/audit/jsonval.h"
#include "milters/audit/reader.h"
#include "milters/web/esc.h"

typedef struct search {
	const char *qid;	/* NULL when not searched by queue id */
	char *mid;		/* bare Message-ID (no <>), or NULL */
	char *mid_probe;	/* its longest prefix JSON writes unescaped */
	size_t shown, more, max;
	pn_buf rows;
} search;

/* bare_mid - a Message-ID without white space and angle brackets */
static char *bare_mid(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '<')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '>'))
		n--;
	return pn_strndup(s, n);
}

/* maybe_about - may this line be about the message? (no false negatives) */
static int maybe_about(const search *s, const char *line, size_t len)
{
	if (s->qid && memmem(line, len, s->qid, strlen(s->qid)))
		return 1;
	if (s->mid && (s->mid_probe[0] == '\0' || memmem(line, len, s->mid_probe, strlen(s->mid_probe))))
		return 1;
	return 0;
}

/*
 * is_about - the record is about the message: same Message-ID, or same
 * queue id unless the record names another Message-ID (Postfix reuses
 * short queue ids, so a queue id alone may be another message's)
 */
static int is_about(const search *s, json_object *rec)
{
	const char *q = jv_str(rec, "queue_id"), *m = jv_str(jv_member(rec, "headers"), "message_id");
	int same_mid = 0;

	if (s->mid && m) {
		char *b = bare_mid(m, strlen(m));

		same_mid = strcmp(b, s->mid) == 0;
		pn_free(b);
		if (same_mid)
			return 1;
	}
	return s->qid && q && strcmp(q, s->qid) == 0 && (m == NULL || s->mid == NULL);
}

static void cell(pn_buf *b, const char *cls, const char *text)
{
	pn_buf_printf(b, "<td class=\"%s\">", cls);
	web_esc(b, text);
	pn_buf_puts(b, "</td>");
}

/* verdict - what became of it, in one word or two */
static const char *verdict(json_object *rec, char *buf, size_t n)
{
	json_object *ref = jv_member(rec, "refusal");
	const char *ev = jv_str(rec, "event"), *v = jv_str(ref, "verdict"), *by = jv_str(ref, "by");
	const char *tls = jv_str(jv_member(jv_member(rec, "engines"), "tls"), "verdict");

	if (v) {
		snprintf(buf, n, "%s%s%s", v, by ? " by " : "", by ? by : "");
		return buf;
	}
	if (ev && strcmp(ev, "message") == 0) {
		snprintf(buf, n, "accepted%s%s", tls ? ", tls " : "", tls ? tls : "");
		return buf;
	}
	return ev && strcmp(ev, "aborted") == 0 ? "aborted" : "";
}

static void record_row(pn_buf *b, json_object *rec)
{
	json_object *client = jv_member(rec, "client"), *tls = jv_member(rec, "tls");
	json_object *seq = jv_member(rec, "seq"), *rcpt = jv_member(jv_member(rec, "envelope"), "rcpt");
	json_object *ver = jv_member(tls, "verified");
	char vbuf[256];
	pn_buf t;
	size_t i;

	pn_buf_init(&t, 0);
	pn_buf_puts(b, "<tr class=\"record\">");
	if (seq && json_object_is_type(seq, json_type_int))
		pn_buf_printf(b, "<td class=\"seq\">%lld</td>", (long long)json_object_get_int64(seq));
	else
		pn_buf_puts(b, "<td class=\"seq\"></td>");
	cell(b, "time", jv_str(rec, "ts"));
	cell(b, "type", jv_str(rec, "event"));
	cell(b, "verdict", verdict(rec, vbuf, sizeof(vbuf)));
	if (jv_str(client, "ip"))
		pn_buf_puts(&t, jv_str(client, "ip"));
	if (jv_str(client, "name"))
		pn_buf_printf(&t, "%s(%s)", pn_buf_len(&t) ? " " : "", jv_str(client, "name"));
	cell(b, "client", pn_buf_str(&t));
	pn_buf_reset(&t);
	if (jv_str(tls, "version")) {
		pn_buf_puts(&t, jv_str(tls, "version"));
		if (jv_str(tls, "cipher"))
			pn_buf_printf(&t, " %s", jv_str(tls, "cipher"));
		if (ver && json_object_is_type(ver, json_type_boolean) && json_object_get_boolean(ver))
			pn_buf_puts(&t, ", certificate verified");
	} else if (tls == NULL && client) {
		pn_buf_puts(&t, "none");
	}
	cell(b, "tls", pn_buf_str(&t));
	pn_buf_reset(&t);
	if (rcpt && json_object_is_type(rcpt, json_type_array))
		for (i = 0; i < json_object_array_length(rcpt) && i < 100; i++) {
			json_object *r = json_object_array_get_idx(rcpt, i);

			if (json_object_is_type(r, json_type_string))
				pn_buf_printf(&t, "%s%s", i ? ", " : "", json_object_get_string(r));
		}
	cell(b, "recipients", pn_buf_str(&t));
	pn_buf_puts(b, "</tr>\n");
	pn_buf_free(&t);
}

static void consider(search *s, const char *line, size_t len)
{
	json_tokener *tok;
	json_object *rec;

	if (!maybe_about(s, line, len))
		return;
	tok = json_tokener_new();
	rec = json_tokener_parse_ex(tok, line, (int)(len > 0x7fffffff ? 0x7fffffff : len));
	json_tokener_free(tok);
	if (rec && json_object_is_type(rec, json_type_object) && is_about(s, rec)) {
		if (s->shown < s->max) {
			record_row(&s->rows, rec);
			s->shown++;
		} else {
			s->more++;
		}
	}
	json_object_put(rec);
}

/* status_text - the verifier's words on one line */
static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (; *s; s++)
		if (*s == '\n')
			*s = ' ';
}

int web_trail_for_message(pn_buf *out, char **trail_files, size_t nfiles, const char *queue_id,
			  const char *message_id, const web_trail_opts *o, char **err)
{
	static const web_trail_opts none;
	audit_verify_opts vo;
	audit_verifier *v;
	search s;
	char *vtext = NULL, *problem = NULL;
	size_t vlen = 0, f, k;
	unsigned long lines = 0, max_lines;
	FILE *vout;
	int stopped = 0, broken = 0, rc;

	*err = NULL;
	if (o == NULL)
		o = &none;
	if (trail_files == NULL || nfiles == 0) {
		*err = pn_strdup("no audit trail file to read");
		return -1;
	}
	if ((queue_id == NULL || !*queue_id) && (message_id == NULL || !*message_id)) {
		*err = pn_strdup("neither a queue id nor a Message-ID to look for");
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.qid = queue_id && *queue_id ? queue_id : NULL;
	if (message_id && *message_id) {
		s.mid = bare_mid(message_id, strlen(message_id));
		for (k = 0; s.mid[k] && s.mid[k] != '"' && s.mid[k] != '\\'
			    && (unsigned char)s.mid[k] >= 0x20; k++)
			;
		s.mid_probe = pn_strndup(s.mid, k);
	}
	s.max = o->max_records ? o->max_records : WEB_TRAIL_MAX_RECORDS;
	max_lines = o->max_lines ? o->max_lines : WEB_TRAIL_MAX_LINES;
	pn_buf_init(&s.rows, 0);

	if (o->verify) {
		vo = *o->verify;
	} else {
		memset(&vo, 0, sizeof(vo));
		vo.no_key = 1;
	}
	vout = open_memstream(&vtext, &vlen);
	v = audit_verifier_new(&vo, ":", vout);

	for (f = 0; f < nfiles && !stopped; f++) {
		char *rerr = NULL;
		audit_reader *r = audit_reader_open(trail_files[f], &rerr);
		const char *line;
		size_t len;
		int complete, got = 0;

		if (r == NULL) {
			if (problem == NULL)
				problem = rerr;
			else
				pn_free(rerr);
			broken = 1;
			continue;
		}
		while ((got = audit_reader_line(r, &line, &len, &complete)) == 1) {
			if (++lines > max_lines) {
				stopped = 1;
				break;
			}
			if (!broken)
				broken = audit_verifier_line(v, line, len, complete, trail_files[f],
							     audit_reader_lineno(r));
			consider(&s, line, len);
		}
		if (got < 0 && problem == NULL) {
			problem = pn_asprintf("%s:%lu: read error or line too long", trail_files[f],
					      audit_reader_lineno(r) + 1);
			broken = 1;
		}
		if (audit_reader_close(r, &rerr) < 0) {
			if (!stopped && problem == NULL) {
				problem = rerr;
				rerr = NULL;
				broken = 1;
			}
			pn_free(rerr);
		}
	}
	if (stopped || problem)
		audit_verifier_abandon(v);
	else
		broken = audit_verifier_finish(v) != 0;
	fclose(vout);
	chomp(vtext);

	pn_buf_puts(out, "<table id=\"audit-records\">\n<thead><tr><th>Seq</th><th>Time</th>"
		    "<th>Type</th><th>Verdict</th><th>Client</th><th>TLS</th><th>Recipients</th>"
		    "</tr></thead>\n<tbody>\n");
	pn_buf_append(out, pn_buf_str(&s.rows), pn_buf_len(&s.rows));
	pn_buf_puts(out, "</tbody>\n</table>\n");
	if (s.shown == 0)
		pn_buf_puts(out, "<p class=\"note\" id=\"no-records\">No audit record names this "
			    "message.</p>\n");
	if (s.more)
		pn_buf_printf(out, "<p class=\"note\">%zu more records not shown.</p>\n", s.more);
	pn_buf_puts(out, "<p id=\"chain-status\">");
	if (stopped) {
		pn_buf_printf(out, "not verified: the trail has more than %lu lines, more than a "
			      "page reads; records after that were not searched either. Run "
			      "postern-audit verify.", max_lines);
	} else if (problem) {
		pn_buf_puts(out, "FAILED: ");
		web_esc(out, problem);
	} else if (broken) {
		pn_buf_puts(out, "FAILED: ");
		web_esc(out, vtext);
	} else {
		pn_buf_puts(out, "verified: ");
		web_esc(out, vtext);
	}
	rc = pn_buf_puts(out, "</p>\n");
	pn_buf_free(&s.rows);
	pn_free(s.mid);
	pn_free(s.mid_probe);
	pn_free(problem);
	free(vtext);
	if (rc < 0) {
		*err = pn_strdup("page too large");
		return -1;
	}
	return 0;
}
