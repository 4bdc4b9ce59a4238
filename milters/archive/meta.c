/* SPDX-License-Identifier: BSD-2-Clause */
/* meta - index fields of a message from its raw bytes (see meta.h) */
#include "milters/archive/meta.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/header_text.h"
#include "common/mime.h"

#include <string.h>
#include <strings.h>

enum { F_FROM, F_TO, F_CC, F_SUBJECT, F_MSGID, F_DATE, F_COUNT };

static const char *const field_names[F_COUNT] = {
	"From", "To", "Cc", "Subject", "Message-ID", "Date"
};

struct arc_meta {
	int in_body, finished, hdr_over;
	size_t hdr_bytes;
	size_t line_len;	/* bytes of the current line, kept or not */
	char line_first;
	pn_buf line;		/* current header line, without its line end */
	pn_buf name, value;	/* header field being collected (folds joined by LF) */
	int have_field;
	char *fields[F_COUNT];
	pn_mime *mime;
	size_t text_max;
	pn_buf text;
};

/* arc_meta_new - parser for one message; text_max 0 keeps no text */
arc_meta *arc_meta_new(size_t text_max)
{
	arc_meta *m = pn_calloc(1, sizeof(*m));
	pn_mime_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.keep_text_max = text_max;
	lim.keep_text_total = text_max;
	m->text_max = text_max;
	m->mime = pn_mime_new(&lim);
	/* a line longer than this is not a header line worth keeping */
	pn_buf_init(&m->line, ARC_META_HEADER_MAX);
	pn_buf_init(&m->name, ARC_META_HEADER_MAX);
	pn_buf_init(&m->value, ARC_META_HEADER_MAX);
	pn_buf_init(&m->text, text_max + 1);
	return m;
}

/* cut_utf8 - length of s cut to at most max bytes at a character boundary */
static size_t cut_utf8(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* tidy - a decoded field: control characters to spaces, cut to the maximum */
static char *tidy(char *s)
{
	size_t n = cut_utf8(s, strlen(s), ARC_META_FIELD_MAX), i;

	s[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	return s;
}

/* decode_field - the display form of one header value (the audit record's), tidied */
static char *decode_field(int f, const char *raw, size_t len)
{
	pn_header_kind kind = f == F_MSGID || f == F_DATE ? PN_HEADER_ID : PN_HEADER_TEXT;

	return tidy(pn_header_display(raw, len, kind));
}

/* end_field - a complete header field: keep what the index wants, tell MIME */
static void end_field(arc_meta *m)
{
	const char *name = pn_buf_str(&m->name);
	int f;

	if (!m->have_field)
		return;
	m->have_field = 0;
	pn_mime_header(m->mime, name, pn_buf_str(&m->value));
	for (f = 0; f < F_COUNT; f++) {
		char *v;
		if (strcasecmp(name, field_names[f]) != 0)
			continue;
		if (m->fields[f] && f != F_TO && f != F_CC)
			break;	/* the first one counts */
		v = decode_field(f, pn_buf_str(&m->value), pn_buf_len(&m->value));
		if (m->fields[f] == NULL) {
			m->fields[f] = v;
		} else if (*v) {
			char *joined = pn_asprintf("%s, %s", m->fields[f], v);
			pn_free(m->fields[f]);
			pn_free(v);
			m->fields[f] = tidy(joined);
		} else {
			pn_free(v);
		}
		break;
	}
}

/* header_line - one line of the header section (line end removed) */
static void header_line(arc_meta *m, const char *p, size_t n)
{
	const char *colon;

	if (n == 0) {
		end_field(m);
		m->in_body = 1;
		return;
	}
	if (m->hdr_over)
		return;
	if ((p[0] == ' ' || p[0] == '\t') && m->have_field) {
		if (pn_buf_putc(&m->value, '\n') < 0 || pn_buf_append(&m->value, p, n) < 0)
			m->hdr_over = 1;
		return;
	}
	end_field(m);
	colon = memchr(p, ':', n);
	if (colon == NULL || colon == p) {
		/* not a header: what follows is body, as an MTA would read it */
		m->in_body = 1;
		pn_mime_body(m->mime, p, n);
		pn_mime_body(m->mime, "\r\n", 2);
		return;
	}
	pn_buf_reset(&m->name);
	pn_buf_reset(&m->value);
	pn_buf_append(&m->name, p, (size_t)(colon - p));
	pn_buf_append(&m->value, colon + 1, n - (size_t)(colon - p) - 1);
	m->have_field = 1;
}

/* arc_meta_feed - the next bytes of the message */
void arc_meta_feed(arc_meta *m, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	if (m->finished)
		return;
	while (p < end && !m->in_body) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf ? (size_t)(lf - p) : (size_t)(end - p);

		if (n > 0 && m->line_len == 0)
			m->line_first = p[0];
		m->line_len += n;
		m->hdr_bytes += n + (lf != NULL);
		if (m->hdr_bytes > ARC_META_HEADER_MAX)
			m->hdr_over = 1;
		if (!m->hdr_over && pn_buf_append(&m->line, p, n) < 0)
			m->hdr_over = 1;
		if (lf == NULL)
			return;
		p = lf + 1;
		if (m->hdr_over) {
			/* over the limit: skip lines but still find the blank one */
			if (m->line_len == 0 || (m->line_len == 1 && m->line_first == '\r'))
				header_line(m, "", 0);
		} else {
			const char *l = pn_buf_str(&m->line);
			size_t ll = pn_buf_len(&m->line);
			if (ll && l[ll - 1] == '\r')
				ll--;
			header_line(m, l, ll);
		}
		pn_buf_reset(&m->line);
		m->line_len = 0;
	}
	if (p < end)
		pn_mime_body(m->mime, p, (size_t)(end - p));
}

/* strip_html - text of an HTML part: tags dropped, entities kept */
static void strip_html(pn_buf *out, const char *s, size_t n)
{
	size_t i;
	int in_tag = 0;

	for (i = 0; i < n; i++) {
		if (in_tag) {
			if (s[i] == '>') {
				in_tag = 0;
				pn_buf_putc(out, ' ');
			}
		} else if (s[i] == '<') {
			in_tag = 1;
		} else if (pn_buf_putc(out, s[i]) < 0) {
			return;
		}
	}
}

/* add_text - append part text within text_max */
static void add_text(arc_meta *m, const char *s, size_t n, int html)
{
	pn_buf tmp;
	size_t room;

	if (pn_buf_len(&m->text) >= m->text_max)
		return;
	if (pn_buf_len(&m->text))
		pn_buf_putc(&m->text, '\n');
	pn_buf_init(&tmp, m->text_max + 1);
	if (html)
		strip_html(&tmp, s, n);
	else
		pn_buf_append(&tmp, s, n);
	room = m->text_max - pn_buf_len(&m->text);
	pn_buf_append(&m->text, pn_buf_str(&tmp),
		      cut_utf8(pn_buf_str(&tmp), pn_buf_len(&tmp), room));
	pn_buf_free(&tmp);
}

/* arc_meta_finish - the message is complete */
void arc_meta_finish(arc_meta *m)
{
	size_t i, n;
	int plain = 0;

	if (m->finished)
		return;
	if (!m->in_body) {
		const char *l = pn_buf_str(&m->line);
		size_t ll = pn_buf_len(&m->line);
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll && !m->hdr_over)
			header_line(m, l, ll);
		end_field(m);
	}
	m->finished = 1;
	pn_mime_finish(m->mime);
	if (m->text_max == 0)
		return;
	n = pn_mime_part_count(m->mime);
	for (i = 0; i < n; i++) {
		const pn_mime_part *p = pn_mime_part_get(m->mime, i);
		if (p->text && strcmp(p->content_type, "text/plain") == 0 && !p->is_attachment)
			plain = 1;
	}
	for (i = 0; i < n; i++) {
		const pn_mime_part *p = pn_mime_part_get(m->mime, i);
		if (p->text == NULL || p->is_attachment)
			continue;
		if (strcmp(p->content_type, "text/plain") == 0)
			add_text(m, p->text, p->text_len, 0);
		else if (!plain && strcmp(p->content_type, "text/html") == 0)
			add_text(m, p->text, p->text_len, 1);
	}
}

/* arc_meta_fill - header fields and attachment names into d */
void arc_meta_fill(const arc_meta *m, arc_delivery *d)
{
	char **slots[F_COUNT] = {
		&d->hdr_from, &d->hdr_to, &d->hdr_cc, &d->subject, &d->message_id, &d->hdr_date
	};
	size_t i, n;
	int f;

	for (f = 0; f < F_COUNT; f++) {
		pn_free(*slots[f]);
		*slots[f] = pn_strdup(m->fields[f] ? m->fields[f] : "");
	}
	for (i = 0; i < d->nattachments; i++)
		pn_free(d->attachments[i]);
	d->nattachments = 0;
	n = pn_mime_part_count(m->mime);
	for (i = 0; i < n; i++) {
		const pn_mime_part *p = pn_mime_part_get(m->mime, i);
		if (p->filename && *p->filename) {
			char *name = tidy(pn_strdup(p->filename));
			arc_delivery_add_attachment(d, name);
			pn_free(name);
		}
	}
}

/* arc_meta_text - the text kept for the full-text index */
const char *arc_meta_text(const arc_meta *m, size_t *len)
{
	if (len)
		*len = pn_buf_len(&m->text);
	return pn_buf_str(&m->text);
}

/* arc_meta_free - release the parser */
void arc_meta_free(arc_meta *m)
{
	int f;

	if (m == NULL)
		return;
	for (f = 0; f < F_COUNT; f++)
		pn_free(m->fields[f]);
	pn_mime_free(m->mime);
	pn_buf_free(&m->line);
	pn_buf_free(&m->name);
	pn_buf_free(&m->value);
	pn_buf_free(&m->text);
	pn_free(m);
}
