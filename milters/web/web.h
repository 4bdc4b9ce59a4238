/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	web - postern-web's shared types: the application, a request as the
 *	pages see it, the page table, and the HTML helpers every page uses
 * SYNOPSIS
 *	#include "milters/web/web.h"
 *
 *	pn_http_response *web_page_NAME(web_app *app, web_req *r);
 *
 *	void web_page_begin(pn_buf *b, const web_req *r, const char *title);
 *	void web_page_end(pn_buf *b);
 *	pn_http_response *web_html(pn_buf *b);       200, takes b's bytes
 *	pn_http_response *web_html_status(pn_buf *b, int status);
 *	pn_http_response *web_error(const web_req *r, int status,
 *	                            const char *text);
 *	void web_esc(pn_buf *b, const char *s);      HTML text and attributes
 *	void web_esc_n(pn_buf *b, const char *s, size_t n);
 *	void web_url_arg(pn_buf *b, const char *s);  percent-encode for a URL
 *	void web_csrf_field(pn_buf *b, const web_req *r);
 *	int  web_record_access(web_app *app, const web_req *r,
 *	                       const char *action, const char *object,
 *	                       char **err);
 *	int  web_record_read(web_app *app, const web_req *r, const char *action,
 *	                     const char *id, const char *sha256, char **err);
 *	int  web_record_event(web_app *app, const char *user, web_role role,
 *	                      const char *remote, const char *action,
 *	                      const char *object, char **err);
 * DESCRIPTION
 *	Pages are functions of (app, request) that return a response. The
 *	router (router.c) has already: authenticated the user (r->user is
 *	never NULL in a page), checked the page's minimum role, checked the
 *	CSRF token on every POST, and refreshed the session. A page that
 *	shows, downloads or exports archived mail calls web_record_access()
 *	before it sends anything, and refuses (500, nothing sent) when the
 *	access cannot be recorded: what cannot be logged is not shown.
 *	web_record_read() is the same for one archived message (delivery id
 *	and object SHA-256): its access_log line has the form the archive's
 *	own tools write ("TIME web-ACTION: read by user=web:NAME ... id=ID
 *	sha256=SHA"). web_record_event() records what happens without a
 *	page (login, failed login, logout) in the access trail only.
 *
 *	Everything that came from mail, from the user or from a file is
 *	written with web_esc() (which escapes & < > " ' and drops control
 *	characters other than tab and newline, and invalid UTF-8 as U+FFFD).
 *	Pages never emit inline scripts or styles: the Content-Security-
 *	Policy (router.c) is "default-src 'none'; script-src 'self';
 *	style-src 'self'; img-src 'self'; form-action 'self';
 *	frame-ancestors 'none'; base-uri 'none'" and one static file
 *	(/static/app.css, /static/app.js) each, compiled into the binary.
 *
 *	Roles: WEB_ROLE_AUDITOR reads, downloads, exports and sees the
 *	trail; WEB_ROLE_ADMIN also places and lifts legal holds.
 */
#ifndef WEB_H
#define WEB_H

#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/http.h"

typedef enum { WEB_ROLE_NONE = 0, WEB_ROLE_AUDITOR = 1, WEB_ROLE_ADMIN = 2 } web_role;

typedef struct web_user {
	char name[128];
	web_role role;
} web_user;

typedef struct web_app web_app;	/* web_app.h: configuration, archive, trail, sessions */

typedef struct web_req {
	const pn_http_request *http;
	const web_user *user;		/* set by the router for every page */
	const char *csrf;		/* this session's token, for forms */
	const char *session_id;
} web_req;

typedef pn_http_response *(*web_page_fn)(web_app *app, web_req *r);

typedef struct web_route {
	const char *method;		/* "GET" or "POST" */
	const char *path;		/* exact match */
	web_role min_role;
	web_page_fn page;
} web_route;

void web_page_begin(pn_buf *b, const web_req *r, const char *title);
void web_page_end(pn_buf *b);
pn_http_response *web_html(pn_buf *b);
pn_http_response *web_html_status(pn_buf *b, int status);
pn_http_response *web_error(const web_req *r, int status, const char *text);
void web_esc(pn_buf *b, const char *s);
void web_esc_n(pn_buf *b, const char *s, size_t n);
void web_url_arg(pn_buf *b, const char *s);
void web_csrf_field(pn_buf *b, const web_req *r);
int web_record_access(web_app *app, const web_req *r, const char *action, const char *object,
                      char **err);
int web_record_read(web_app *app, const web_req *r, const char *action, const char *id,
                    const char *sha256, char **err);
int web_record_event(web_app *app, const char *user, web_role role, const char *remote,
                     const char *action, const char *object, char **err);

#endif
