/* SPDX-License-Identifier: BSD-2-Clause */
/* msg - connection and message context (see msg.h) */
#include "common/milter/msg.h"
#include "common/alloc.h"

#include <errno.h>

#include <string.h>
#include <strings.h>

/* pn_strv_dup - copy a NULL-terminated string vector (NULL gives an empty one) */
char **pn_strv_dup(char **v)
{
	size_t n = 0, i;
	char **out;

	while (v && v[n])
		n++;
	out = pn_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = pn_strdup(v[i]);
	return out;
}

/* pn_strv_free - free a vector from pn_strv_dup */
void pn_strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* pn_conn_new - context for a new client connection */
pn_conn *pn_conn_new(pn_snapshot *snap)
{
	pn_conn *c = pn_calloc(1, sizeof(*c));

	c->snap = snap;
	clock_gettime(CLOCK_REALTIME, &c->started);
	return c;
}

/* pn_conn_set_macro - remember a macro value, replacing an older one */
void pn_conn_set_macro(pn_conn *c, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < c->nmacros; i++) {
		if (strcmp(c->macros[i].name, name) == 0) {
			if (strcmp(c->macros[i].value, value) != 0) {
				pn_free(c->macros[i].value);
				c->macros[i].value = pn_strdup(value);
			}
			return;
		}
	}
	if (c->nmacros == c->macro_cap) {
		c->macro_cap = c->macro_cap ? c->macro_cap * 2 : 16;
		c->macros = pn_realloc(c->macros, c->macro_cap * sizeof(*c->macros));
	}
	c->macros[c->nmacros].name = pn_strdup(name);
	c->macros[c->nmacros].value = pn_strdup(value);
	c->nmacros++;
}

/* pn_conn_macro - a macro's value, or NULL when the MTA never sent it */
const char *pn_conn_macro(const pn_conn *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nmacros; i++)
		if (strcmp(c->macros[i].name, name) == 0)
			return c->macros[i].value;
	return NULL;
}

/* pn_conn_forget_message_macros - drop macros that belong to the last message */
void pn_conn_forget_message_macros(pn_conn *c)
{
	static const char *per_message[] = {
		"i", "{mail_addr}", "{mail_host}", "{mail_mailer}", "{rcpt_addr}",
		"{rcpt_host}", "{rcpt_mailer}", "{msg_id}", NULL
	};
	size_t i, j, keep = 0;

	for (i = 0; i < c->nmacros; i++) {
		int drop = 0;
		for (j = 0; per_message[j]; j++)
			if (strcmp(c->macros[i].name, per_message[j]) == 0)
				drop = 1;
		if (drop) {
			pn_free(c->macros[i].name);
			pn_free(c->macros[i].value);
		} else {
			c->macros[keep++] = c->macros[i];
		}
	}
	c->nmacros = keep;
}

/* pn_conn_queue_id - the current message's queue id, or NULL */
const char *pn_conn_queue_id(const pn_conn *c)
{
	if (c->msg && c->msg->queue_id)
		return c->msg->queue_id;
	return pn_conn_macro(c, "i");
}

/* pn_conn_cert_verified - did the MTA verify a client certificate? */
int pn_conn_cert_verified(const pn_conn *c)
{
	const char *verify = pn_conn_macro(c, "{verify}");
	const char *subject = pn_conn_macro(c, "{cert_subject}");
	const char *version = pn_conn_macro(c, "{tls_version}");

	if (verify && *verify)
		return strcmp(verify, "OK") == 0;
	if (subject == NULL || *subject == '\0' || *subject == '/')
		return 0;
	return version != NULL && *version != '\0';
}

/* pn_conn_free - release the connection (engine state must be gone already) */
void pn_conn_free(pn_conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	pn_msg_free(c->msg);
	for (i = 0; i < c->nmacros; i++) {
		pn_free(c->macros[i].name);
		pn_free(c->macros[i].value);
	}
	pn_free(c->macros);
	pn_free(c->client_addr);
	pn_free(c->client_name);
	pn_free(c->helo);
	pn_free(c);
}

/* pn_msg_new - empty message */
pn_msg *pn_msg_new(size_t body_mem_limit, const char *tmp_dir)
{
	pn_msg *m = pn_calloc(1, sizeof(*m));

	m->body = pn_spool_new(body_mem_limit, tmp_dir);
	clock_gettime(CLOCK_REALTIME, &m->started);
	return m;
}

/* pn_msg_set_sender - envelope sender with its ESMTP arguments */
void pn_msg_set_sender(pn_msg *m, const char *sender, char **esmtp_args)
{
	pn_free(m->sender);
	pn_strv_free(m->sender_args);
	m->sender = pn_strdup(sender ? sender : "<>");
	m->sender_args = pn_strv_dup(esmtp_args);
	pn_addr_clear(&m->sender_canon);
	m->sender_canon_ok = pn_addr_parse_envelope(NULL, m->sender, &m->sender_canon) == 0;
}

/* pn_msg_set_sender_mta - the sender as the MTA parsed it ({mail_addr}) */
void pn_msg_set_sender_mta(pn_msg *m, const char *mail_addr)
{
	if (mail_addr == NULL)
		return;
	pn_addr_clear(&m->sender_canon);
	m->sender_canon_ok = pn_addr_parse_envelope(mail_addr, m->sender ? m->sender : "<>",
						    &m->sender_canon) == 0;
}

/* pn_msg_add_rcpt - one more envelope recipient */
void pn_msg_add_rcpt(pn_msg *m, const char *rcpt, char **esmtp_args)
{
	pn_rcpt *r;

	if (m->nrcpts == m->rcpt_cap) {
		m->rcpt_cap = m->rcpt_cap ? m->rcpt_cap * 2 : 4;
		m->rcpts = pn_realloc(m->rcpts, m->rcpt_cap * sizeof(*m->rcpts));
	}
	r = &m->rcpts[m->nrcpts++];
	r->addr = pn_strdup(rcpt);
	r->args = pn_strv_dup(esmtp_args);
	r->canon_ok = pn_addr_parse_envelope(NULL, r->addr, &r->canon) == 0;
}

/* pn_msg_set_rcpt_mta - the last recipient as the MTA parsed it ({rcpt_addr}) */
void pn_msg_set_rcpt_mta(pn_msg *m, const char *rcpt_addr)
{
	pn_rcpt *r;

	if (rcpt_addr == NULL || m->nrcpts == 0)
		return;
	r = &m->rcpts[m->nrcpts - 1];
	pn_addr_clear(&r->canon);
	r->canon_ok = pn_addr_parse_envelope(rcpt_addr, r->addr, &r->canon) == 0;
}

/* rcpt_clear - free one recipient's fields */
static void rcpt_clear(pn_rcpt *r)
{
	pn_free(r->addr);
	pn_strv_free(r->args);
	pn_addr_clear(&r->canon);
	memset(r, 0, sizeof(*r));
}

/* pn_msg_drop_last_rcpt - forget the last recipient (a refused one) */
void pn_msg_drop_last_rcpt(pn_msg *m)
{
	if (m->nrcpts > 0)
		rcpt_clear(&m->rcpts[--m->nrcpts]);
}

/*
 * Header storage: names and values are copied into blocks of
 * HEADER_BLOCK bytes, so that a message of many short fields costs
 * about its size (two heap chunks per field would cost 64 bytes each
 * whatever their length). A field larger than a quarter block gets a
 * block of its own.
 */
#define HEADER_BLOCK ((size_t)64 * 1024)

typedef struct header_block {
	struct header_block *next;
	size_t used, size;
	char data[];
} header_block;

/* header_store - a copy of s (len bytes and a NUL) in m's header blocks */
static char *header_store(pn_msg *m, const char *s, size_t len)
{
	header_block *b = m->header_blocks;
	char *p;

	if (b == NULL || b->size - b->used < len + 1) {
		size_t size = len + 1 > HEADER_BLOCK / 4 ? len + 1 : HEADER_BLOCK;
		header_block *nb = pn_malloc(sizeof(*nb) + size);
		nb->used = 0;
		nb->size = size;
		if (b && size != HEADER_BLOCK) {
			/* a big field: keep filling the current block after it */
			nb->next = b->next;
			b->next = nb;
			b = nb;
		} else {
			nb->next = b;
			m->header_blocks = b = nb;
		}
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

/* header_blocks_free - release a message's header storage */
static void header_blocks_free(pn_msg *m)
{
	header_block *b = m->header_blocks, *next;

	for (; b; b = next) {
		next = b->next;
		pn_free(b);
	}
	m->header_blocks = NULL;
}

/* pn_msg_set_header_limits - fields and header bytes a message may hold */
void pn_msg_set_header_limits(pn_msg *m, size_t max_count, size_t max_bytes)
{
	m->max_headers = max_count;
	m->max_header_bytes = max_bytes;
}

/* pn_msg_add_header - one header, value exactly as received */
void pn_msg_add_header(pn_msg *m, const char *name, const char *raw_value)
{
	pn_header *h;
	const char *p, *raw = raw_value ? raw_value : "";
	size_t nlen = strlen(name), rlen = strlen(raw), bytes;

	/* name ':' value CRLF, each LF of a fold becoming CRLF on the wire */
	bytes = nlen + 1 + rlen + 2;
	for (p = raw; (p = strchr(p, '\n')) != NULL; p++)
		bytes++;
	m->header_bytes += bytes;
	if (m->headers_over || (m->max_headers && m->nheaders >= m->max_headers)
	    || (m->max_header_bytes && m->header_bytes > m->max_header_bytes)) {
		m->headers_over++;
		return;
	}
	if (m->nheaders == m->header_cap) {
		m->header_cap = m->header_cap ? m->header_cap * 2 : 16;
		m->headers = pn_realloc(m->headers, m->header_cap * sizeof(*m->headers));
	}
	h = &m->headers[m->nheaders++];
	h->name = header_store(m, name, nlen);
	h->raw = header_store(m, raw, rlen);
	for (p = h->raw; *p == ' ' || *p == '\t'; p++)
		;
	h->value = p;
}

/* pn_msg_add_body - append a body chunk to the spool */
int pn_msg_add_body(pn_msg *m, const void *chunk, size_t len)
{
	if (m->body_error)
		return -1;
	if (pn_spool_write(m->body, chunk, len) < 0) {
		m->body_error = errno ? errno : 5;
		return -1;
	}
	return 0;
}

/* pn_msg_header - value (past leading space) of the Nth header named name */
const char *pn_msg_header(const pn_msg *m, const char *name, int occurrence)
{
	size_t i;
	int seen = 0;

	for (i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, name) == 0 && ++seen == occurrence)
			return m->headers[i].value;
	return NULL;
}

/* pn_msg_write_headers - header block as on the wire, blank line included */
int pn_msg_write_headers(const pn_msg *m, pn_buf *out)
{
	size_t i;
	const char *p;

	for (i = 0; i < m->nheaders; i++) {
		if (pn_buf_puts(out, m->headers[i].name) < 0 || pn_buf_putc(out, ':') < 0)
			return -1;
		for (p = m->headers[i].raw; *p; p++) {
			if (*p == '\n' && (p == m->headers[i].raw || p[-1] != '\r')
			    && pn_buf_putc(out, '\r') < 0)
				return -1;
			if (pn_buf_putc(out, *p) < 0)
				return -1;
		}
		if (pn_buf_puts(out, "\r\n") < 0)
			return -1;
	}
	return pn_buf_puts(out, "\r\n");
}

/* pn_msg_size - header block plus body, in bytes */
size_t pn_msg_size(const pn_msg *m)
{
	return m->header_bytes + 2 + pn_spool_size(m->body);
}

/* find_note - the note of engine and key, or NULL */
static pn_note *find_note(const pn_msg *m, const char *engine, const char *key)
{
	size_t i;

	for (i = 0; i < m->nnotes; i++)
		if (strcmp(m->notes[i].engine, engine) == 0 && strcmp(m->notes[i].key, key) == 0)
			return &m->notes[i];
	return NULL;
}

/* pn_msg_note - record (or replace) one engine's decision */
void pn_msg_note(pn_msg *m, const char *engine, const char *key, const char *value)
{
	pn_note *n = find_note(m, engine, key);

	if (n == NULL) {
		if (m->nnotes == m->note_cap) {
			m->note_cap = m->note_cap ? 2 * m->note_cap : 8;
			m->notes = pn_realloc(m->notes, m->note_cap * sizeof(*m->notes));
		}
		n = &m->notes[m->nnotes++];
		n->engine = pn_strdup(engine);
		n->key = pn_strdup(key);
		n->value = NULL;
	}
	pn_free(n->value);
	n->value = pn_strdup(value ? value : "");
}

/* pn_msg_note_get - the value an engine noted under key, or NULL */
const char *pn_msg_note_get(const pn_msg *m, const char *engine, const char *key)
{
	const pn_note *n = m ? find_note(m, engine, key) : NULL;

	return n ? n->value : NULL;
}

/* pn_msg_free - release the message (engine state must be gone already) */
void pn_msg_free(pn_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nnotes; i++) {
		pn_free(m->notes[i].engine);
		pn_free(m->notes[i].key);
		pn_free(m->notes[i].value);
	}
	pn_free(m->notes);
	pn_free(m->queue_id);
	pn_free(m->sender);
	pn_strv_free(m->sender_args);
	pn_addr_clear(&m->sender_canon);
	for (i = 0; i < m->nrcpts; i++)
		rcpt_clear(&m->rcpts[i]);
	pn_free(m->rcpts);
	pn_free(m->headers);
	header_blocks_free(m);
	pn_spool_free(m->body);
	pn_free(m);
}

/* line_end - end of the line starting at p (the LF, or end) */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	return lf ? lf : end;
}

/* pn_msg_load - message from an RFC 5322 file, headers and body as a milter sees them */
pn_msg *pn_msg_load(const void *data, size_t len, size_t body_mem_limit, const char *tmp_dir)
{
	const char *p = data, *end = p + len;
	pn_msg *m = pn_msg_new(body_mem_limit, tmp_dir);
	pn_buf name, value;

	pn_buf_init(&name, 0);
	pn_buf_init(&value, 0);
	/* A leading mbox "From " line is not a header. */
	if (len > 5 && memcmp(p, "From ", 5) == 0)
		p = line_end(p, end) + (line_end(p, end) < end);
	while (p < end) {
		const char *e = line_end(p, end), *colon, *v;
		size_t l = (size_t)(e - p);

		if (l && p[l - 1] == '\r')
			l--;
		if (l == 0) {		/* blank line: body follows */
			p = e + (e < end);
			break;
		}
		if ((*p == ' ' || *p == '\t') && pn_buf_len(&name)) {
			pn_buf_putc(&value, '\n');
			pn_buf_append(&value, p, l);
			p = e + (e < end);
			continue;
		}
		if (pn_buf_len(&name))
			pn_msg_add_header(m, pn_buf_str(&name), pn_buf_str(&value));
		pn_buf_reset(&name);
		pn_buf_reset(&value);
		colon = memchr(p, ':', l);
		if (colon == NULL || colon == p) {
			/* Not a header: treat the rest as body, as an MTA would. */
			break;
		}
		pn_buf_append(&name, p, (size_t)(colon - p));
		v = colon + 1;
		pn_buf_append(&value, v, (size_t)(p + l - v));
		p = e + (e < end);
	}
	if (pn_buf_len(&name))
		pn_msg_add_header(m, pn_buf_str(&name), pn_buf_str(&value));
	pn_buf_free(&name);
	pn_buf_free(&value);
	/* The body as an MTA passes it: CRLF line ends. */
	while (p < end) {
		const char *e = line_end(p, end);
		size_t l = (size_t)(e - p);
		if (l && p[l - 1] == '\r')
			l--;
		if (pn_msg_add_body(m, p, l) < 0 || (e < end && pn_msg_add_body(m, "\r\n", 2) < 0))
			break;
		p = e + (e < end);
	}
	return m;
}
