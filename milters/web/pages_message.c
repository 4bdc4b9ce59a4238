/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_message - GET /message (envelope, then render.c's headers, body
 * and attachments, hold state and form, links), /message/eml (the
 * original bytes, streamed from a temporary file), /message/part (one
 * decoded part, always as a download) and /message/html (one HTML part,
 * served under the sandbox policy router.c sets). Each records the read
 * first and refuses when it cannot.
 */
#include "milters/web/pages.h"
#include "milters/web/render.h"
#include "milters/web/users.h"
#include "common/alloc.h"
#include "common/log.h"
#include "milters/archive/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* lookup - the delivery of ?id=, or an error page in *resp */
static web_found *lookup(web_app *app, web_req *r, pn_http_response **resp)
{
	char *err = NULL;
	web_found *f = web_find(app, pn_http_arg(r->http, "id"), &err);

	if (f == NULL) {
		if (err) {
			pn_log(PN_LOG_ERROR, "message lookup: %s", err);
			pn_free(err);
			*resp = web_error(r, 503, "The archive index cannot be read.");
		} else {
			*resp = web_error(r, 404, "No such message in the archive.");
		}
	}
	return f;
}

/* record - the read, before anything is shown; an error page when it fails */
static pn_http_response *record(web_app *app, web_req *r, const char *action, const web_found *f)
{
	char *err = NULL;

	if (web_record_read(app, r, action, f->d->id, f->d->sha256, &err) == 0)
		return NULL;
	pn_log(PN_LOG_ERROR, "refusing %s of %s: %s", action, f->d->id, err);
	pn_free(err);
	return web_error(r, 500, "The access cannot be recorded: nothing is shown.");
}

/* encrypted_page - the object is encrypted and the console has no key */
static pn_http_response *encrypted_page(web_req *r, const web_found *f)
{
	pn_buf b;

	web_page_begin(&b, r, "Encrypted message");
	pn_buf_puts(&b, "<p class=\"error\" id=\"error\">Delivery ");
	web_esc(&b, f->d->id);
	pn_buf_puts(&b, " is stored encrypted, and this console has no key for it "
		    "(archive_key_file in web.conf). Ask the key holder to run "
		    "<code>postern-archive get --key FILE ID</code>.</p>\n");
	web_page_end(&b);
	return web_html_status(&b, 409);
}

/* dd - one envelope line */
static void dd(pn_buf *b, const char *term, const char *value)
{
	pn_buf_printf(b, "<dt>%s</dt><dd>", term);
	web_esc(b, value);
	pn_buf_puts(b, "</dd>");
}

/* envelope - what the MTA told, from the index */
static void envelope(pn_buf *b, const web_found *f)
{
	const arc_delivery *d = f->d;
	char when[ARC_TIME_LEN], size[32];
	size_t i;

	arc_format_time(d->time, when);
	snprintf(size, sizeof(size), "%llu bytes", d->size);
	pn_buf_puts(b, "<section id=\"envelope\"><h2>Envelope</h2><dl class=\"envelope\">");
	dd(b, "Delivery", d->id);
	dd(b, "Time (UTC)", when);
	dd(b, "Sender", *d->sender ? d->sender : "<>");
	pn_buf_puts(b, "<dt>Recipients</dt><dd><ul class=\"recipients\">");
	for (i = 0; i < d->nrcpts; i++) {
		pn_buf_puts(b, "<li>");
		web_esc(b, d->rcpts[i]);
		pn_buf_puts(b, "</li>");
	}
	pn_buf_puts(b, "</ul></dd>");
	dd(b, "Client", d->client_addr);
	if (*d->client_name)
		dd(b, "Client name", d->client_name);
	if (*d->helo)
		dd(b, "HELO", d->helo);
	if (*d->auth)
		dd(b, "Authenticated as", d->auth);
	dd(b, "Direction", d->direction);
	dd(b, "Queue id", d->queue_id);
	dd(b, "Message-ID", d->message_id);
	dd(b, "Size", size);
	dd(b, "SHA-256", d->sha256);
	pn_buf_puts(b, "</dl></section>\n");
}

/* hold_section - the hold state and the form (the router lets admins only post it) */
static void hold_section(pn_buf *b, web_req *r, const web_found *f)
{
	pn_buf_puts(b, "<section id=\"hold\"><h2>Legal hold</h2><p id=\"hold-state\" class=\"");
	pn_buf_puts(b, f->held ? "held\">held" : "not-held\">not held");
	pn_buf_puts(b, "</p>");
	if (f->held && *f->hold_reason) {
		pn_buf_puts(b, "<p class=\"hold-reason\">Reason: ");
		web_esc(b, f->hold_reason);
		pn_buf_puts(b, "</p>");
	}
	pn_buf_puts(b, "<form method=\"post\" action=\"/hold\" id=\"hold-form\">");
	web_csrf_field(b, r);
	pn_buf_puts(b, "<input type=\"hidden\" name=\"id\" value=\"");
	web_esc(b, f->d->id);
	pn_buf_printf(b, "\"><input type=\"hidden\" name=\"action\" value=\"%s\">"
		      "<label>Reason <input name=\"reason\" required maxlength=\"1000\"></label> "
		      "<button type=\"submit\">%s</button>%s</form></section>\n",
		      f->held ? "remove" : "add", f->held ? "Lift the hold" : "Place under hold",
		      r->user->role >= WEB_ROLE_ADMIN ? ""
		      : " <small>(needs the admin role)</small>");
}

pn_http_response *web_page_message(web_app *app, web_req *r)
{
	pn_http_response *resp = NULL;
	web_found *f = lookup(app, r, &resp);
	web_render_opts o;
	char *err = NULL;
	pn_buf b, msg;
	int rc;

	if (f == NULL || (resp = record(app, r, "view", f)) != NULL)
		goto done;
	pn_buf_init(&msg, 0);
	if ((rc = web_read_message(app, f, &msg, &err)) < 0) {
		pn_log(PN_LOG_ERROR, "reading %s: %s", f->d->id, err);
		pn_free(err);
		pn_buf_free(&msg);
		resp = web_error(r, 500, "The message cannot be read from the archive.");
		goto done;
	}
	web_page_begin(&b, r, *f->d->subject ? f->d->subject : "(no subject)");
	envelope(&b, f);
	pn_buf_puts(&b, "<p class=\"actions\"><a id=\"download-eml\" href=\"/message/eml?id=");
	web_url_arg(&b, f->d->id);
	pn_buf_puts(&b, "\">Download .eml</a> &middot; <a id=\"audit-link\" href=\"/audit?id=");
	web_url_arg(&b, f->d->id);
	pn_buf_puts(&b, "\">Audit records</a></p>\n");
	hold_section(&b, r, f);
	if (rc == 1) {
		pn_buf_puts(&b, "<p class=\"notice\" id=\"encrypted\">This message is stored "
			    "encrypted and this console has no key for it: only the envelope "
			    "is shown.</p>\n");
	} else {
		memset(&o, 0, sizeof(o));
		o.message_id_param = f->d->id;
		if (web_render_message(&b, pn_buf_str(&msg), pn_buf_len(&msg), &o) < 0)
			pn_buf_puts(&b, "<p class=\"error\">The rest of the message is left out.</p>");
	}
	pn_buf_free(&msg);
	web_page_end(&b);
	resp = web_html(&b);
done:
	web_found_free(f);
	return resp;
}

/* file_write - arc_write_fn to a descriptor */
static int file_write(void *ctx, const void *data, size_t len)
{
	return arc_write_all(*(int *)ctx, data, len);
}

pn_http_response *web_page_message_eml(web_app *app, web_req *r)
{
	pn_http_response *resp = NULL;
	web_found *f = lookup(app, r, &resp);
	const char *dir = getenv("TMPDIR");
	char *path = NULL, *err = NULL, *cd;
	int fd = -1, enc = 0;
	struct stat st;

	if (f == NULL)
		goto done;
	if (arc_store_find(app->archive->store, f->d->sha256, NULL, &enc) == 0 && enc
	    && app->arc_key == NULL) {
		resp = encrypted_page(r, f);
		goto done;
	}
	if ((resp = record(app, r, "download", f)) != NULL)
		goto done;
	/* the original bytes, any size: through an unlinked temporary file */
	path = pn_asprintf("%s/postern-web-eml.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0) {
		pn_log(PN_LOG_ERROR, "download: %s: %s", path, strerror(errno));
		resp = web_error(r, 500, "The message cannot be prepared.");
		goto done;
	}
	unlink(path);
	if (arc_store_read(app->archive->store, f->d->sha256, app->arc_key, file_write, &fd, &err) < 0
	    || fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		pn_log(PN_LOG_ERROR, "download of %s: %s", f->d->id, err ? err : strerror(errno));
		resp = web_error(r, 500, "The message cannot be read from the archive.");
		goto done;
	}
	resp = pn_http_response_new(200, "message/rfc822");
	cd = pn_asprintf("attachment; filename=\"%s.eml\"", f->d->id);
	pn_http_set_header(resp, "Content-Disposition", cd);
	pn_free(cd);
	pn_http_set_file(resp, fd, (uint64_t)st.st_size);
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	pn_free(path);
	pn_free(err);
	web_found_free(f);
	return resp;
}

/* part_of - part ?part=N of the message; an error page in *resp */
static int part_of(web_app *app, web_req *r, const char *action, web_part *part,
		   pn_http_response **resp, web_found **fp)
{
	const char *arg = pn_http_arg(r->http, "part");
	web_found *f = lookup(app, r, resp);
	char *end = NULL, *err = NULL;
	long n = arg && *arg ? strtol(arg, &end, 10) : -1;
	pn_buf msg;
	int rc;

	*fp = f;
	if (f == NULL)
		return -1;
	if (n < 0 || n > 100000 || *end != '\0') {
		*resp = web_error(r, 404, "No such part.");
		return -1;
	}
	if ((*resp = record(app, r, action, f)) != NULL)
		return -1;
	pn_buf_init(&msg, 0);
	if ((rc = web_read_message(app, f, &msg, &err)) != 0) {
		if (rc > 0)
			*resp = encrypted_page(r, f);
		else
			*resp = web_error(r, 500, "The message cannot be read from the archive.");
		pn_log(PN_LOG_ERROR, "%s of %s: %s", action, f->d->id, err ? err : "encrypted");
		pn_free(err);
		pn_buf_free(&msg);
		return -1;
	}
	rc = web_message_part(pn_buf_str(&msg), pn_buf_len(&msg), (int)n, part);
	pn_buf_free(&msg);
	if (rc < 0) {
		*resp = web_error(r, 404, "No such part.");
		return -1;
	}
	return 0;
}

/* safe_filename - ASCII letters, digits and . - _ of name (others '_') */
static char *safe_filename(const char *name, const char *fallback)
{
	char *s = pn_strdup(name && *name ? name : fallback), *p;

	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	if (s[0] == '.')
		s[0] = '_';
	return s;
}

pn_http_response *web_page_message_part(web_app *app, web_req *r)
{
	pn_http_response *resp = NULL;
	web_found *f = NULL;
	web_part part;
	pn_buf cd;
	char *ascii;

	memset(&part, 0, sizeof(part));
	if (part_of(app, r, "download-part", &part, &resp, &f) < 0)
		goto done;
	if (part.truncated) {
		/* a cut attachment would pass for the whole one */
		resp = web_error(r, 413, "This part is larger than the console sends (64 MiB "
		                 "decoded): download the whole message (.eml) instead.");
		goto done;
	}
	/* always a download, never rendered: the content is the sender's */
	resp = pn_http_response_new(200, "application/octet-stream");
	pn_buf_append(pn_http_body(resp), part.data, part.len);
	ascii = safe_filename(part.filename, "part");
	pn_buf_init(&cd, 4096);
	pn_buf_printf(&cd, "attachment; filename=\"%s\"", ascii);
	if (part.filename && *part.filename) {
		pn_buf_puts(&cd, "; filename*=UTF-8''");
		web_url_arg(&cd, part.filename);
	}
	pn_http_set_header(resp, "Content-Disposition", pn_buf_str(&cd));
	pn_buf_free(&cd);
	pn_free(ascii);
done:
	web_part_free(&part);
	web_found_free(f);
	return resp;
}

pn_http_response *web_page_message_html(web_app *app, web_req *r)
{
	pn_http_response *resp = NULL;
	web_found *f = NULL;
	web_part part;

	memset(&part, 0, sizeof(part));
	if (part_of(app, r, "view-html", &part, &resp, &f) < 0)
		goto done;
	if (part.content_type == NULL || strcmp(part.content_type, "text/html") != 0) {
		resp = web_error(r, 404, "That part is not HTML.");
		goto done;
	}
	resp = pn_http_response_new(200, "text/html; charset=utf-8");
	/* rebuilt from allowed elements only: the CSP does not stop every
	 * load (Chromium preconnects for <link rel=preconnect>), see render.h */
	web_html_sanitize(pn_http_body(resp), part.data, part.len, 0);
done:
	web_part_free(&part);
	web_found_free(f);
	return resp;
}
