/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	pages - postern-web's router, its pages and their shared helpers
 * SYNOPSIS
 *	#include "milters/web/pages.h"
 *
 *	pn_http_response *web_handle(const pn_http_request *req, void *app);
 *	extern const web_route web_routes[];
 *	pn_http_response *web_static(const char *path);
 *	pn_http_response *web_login_form(web_app *app, const pn_http_request *req,
 *	                                 int status, const char *error);
 *	pn_http_response *web_login_post(web_app *app, const pn_http_request *req);
 *	pn_http_response *web_redirect(const char *location);
 *	void web_set_cookie(pn_http_response *resp, const pn_http_request *req,
 *	                    web_app *app, const char *name, const char *path,
 *	                    const char *value);
 *	int  web_same_origin(const pn_http_request *req);
 *	web_found *web_find(web_app *app, const char *id, char **err);
 *	void web_found_free(web_found *f);
 *	arc_delivery *web_delivery_copy(const arc_delivery *d);
 *	int  web_read_message(web_app *app, const web_found *f, pn_buf *out,
 *	                      char **err);
 * DESCRIPTION
 *	web_handle() is the pn_http_handler of postern-web (router.c): it
 *	serves /static/ files, /login, and the routes of web_routes after the
 *	checks web.h lists, and adds the security headers to every answer.
 *
 *	web_find() looks up one delivery by its id through the archive's
 *	own search (arc_index_search with the id as a key, as
 *	`postern-archive get ID` does) and keeps a copy with its row facts
 *	(held, reason, encrypted); NULL when there is none (*err NULL) or
 *	on failure (*err). web_read_message() reads its original bytes
 *	(arc_store_read, decrypting with archive_key_file when one is
 *	set): 0, 1 when the object is encrypted and the console has no key,
 *	-1 with *err.
 *
 *	web_same_origin() is 0 when the browser says the request came from
 *	another site (Sec-Fetch-Site other than same-origin), or an Origin
 *	or Referer header names a host other than the request's Host (a
 *	cross-site form), else 1. "Origin: null", which browsers send on
 *	every form under Referrer-Policy: no-referrer, is no evidence either
 *	way; the CSRF token decides.
 */
#ifndef WEB_PAGES_H
#define WEB_PAGES_H

#include "milters/archive/record.h"
#include "milters/web/web_app.h"

typedef struct web_found {
	arc_delivery *d;
	int held, encrypted;
	char *hold_reason;
} web_found;

pn_http_response *web_handle(const pn_http_request *req, void *app);
extern const web_route web_routes[];
pn_http_response *web_static(const char *path);
pn_http_response *web_login_form(web_app *app, const pn_http_request *req, int status,
				 const char *error);
pn_http_response *web_login_post(web_app *app, const pn_http_request *req);
pn_http_response *web_redirect(const char *location);
void web_set_cookie(pn_http_response *resp, const pn_http_request *req, web_app *app,
		    const char *name, const char *path, const char *value);
int web_same_origin(const pn_http_request *req);
web_found *web_find(web_app *app, const char *id, char **err);
arc_delivery *web_delivery_copy(const arc_delivery *d);
void web_found_free(web_found *f);
int web_read_message(web_app *app, const web_found *f, pn_buf *out, char **err);

pn_http_response *web_page_logout(web_app *app, web_req *r);
pn_http_response *web_page_search(web_app *app, web_req *r);
pn_http_response *web_page_message(web_app *app, web_req *r);
pn_http_response *web_page_message_eml(web_app *app, web_req *r);
pn_http_response *web_page_message_part(web_app *app, web_req *r);
pn_http_response *web_page_message_html(web_app *app, web_req *r);
pn_http_response *web_page_export(web_app *app, web_req *r);
pn_http_response *web_page_hold(web_app *app, web_req *r);
pn_http_response *web_page_audit(web_app *app, web_req *r);
pn_http_response *web_page_tls(web_app *app, web_req *r);

#endif
