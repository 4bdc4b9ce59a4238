/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * router - postern-web's request handler: the route table, who is asking
 * (session cookie, or a trusted proxy's single sign-on header), the CSRF
 * and same-origin checks on every POST, the role check, and the security
 * headers every answer carries (see web.h and pages.h)
 */
#include "milters/web/pages.h"
#include "milters/web/users.h"
#include "common/alloc.h"
#include "common/log.h"

#include <string.h>
#include <strings.h>

#define SESSION_COOKIE "postern_session"

/* The one policy of every page: scripts and styles from /static only,
 * nothing from elsewhere, no framing, forms post here only. */
static const char csp_pages[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
				"img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
				"base-uri 'none'";
/* The message page frames its HTML part (/message/html, same origin):
 * default-src 'none' would block that frame too. */
static const char csp_message[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
				  "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
				  "base-uri 'none'; frame-src 'self'";
/* An archived HTML part: a sandbox without scripts, loading nothing. */
static const char csp_sandbox[] = "sandbox; default-src 'none'; style-src 'unsafe-inline'";

const web_route web_routes[] = {
	{"GET", "/search", WEB_ROLE_AUDITOR, web_page_search},
	{"GET", "/message", WEB_ROLE_AUDITOR, web_page_message},
	{"GET", "/message/eml", WEB_ROLE_AUDITOR, web_page_message_eml},
	{"GET", "/message/part", WEB_ROLE_AUDITOR, web_page_message_part},
	{"GET", "/message/html", WEB_ROLE_AUDITOR, web_page_message_html},
	{"POST", "/export", WEB_ROLE_AUDITOR, web_page_export},
	{"POST", "/hold", WEB_ROLE_ADMIN, web_page_hold},
	{"GET", "/audit", WEB_ROLE_AUDITOR, web_page_audit},
	{"GET", "/tls", WEB_ROLE_AUDITOR, web_page_tls},
	{"POST", "/logout", WEB_ROLE_AUDITOR, web_page_logout},
	{NULL, NULL, WEB_ROLE_NONE, NULL}
};

pn_http_response *web_redirect(const char *location)
{
	pn_http_response *resp = pn_http_response_new(303, "text/plain; charset=utf-8");

	pn_http_set_header(resp, "Location", location);
	pn_buf_puts(pn_http_body(resp), "see other\n");
	return resp;
}

void web_set_cookie(pn_http_response *resp, const pn_http_request *req, web_app *app,
		    const char *name, const char *path, const char *value)
{
	char *c = pn_asprintf("%s=%s; Path=%s; HttpOnly; SameSite=Strict%s%s", name,
			      value ? value : "", path,
			      req->https || app->secure_cookies ? "; Secure" : "",
			      value ? "" : "; Max-Age=0");

	pn_http_set_header(resp, "Set-Cookie", c);
	pn_free(c);
}

/* host_of - the host[:port] of an absolute URL, into out; 0 or -1 */
static int host_of(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://"), *end;

	if (p == NULL)
		return -1;
	p += 3;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) || (size_t)(end - p) >= size || end == p)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

int web_same_origin(const pn_http_request *req)
{
	const char *host = pn_http_header(req, "Host");
	const char *origin = pn_http_header(req, "Origin"), *ref = pn_http_header(req, "Referer");
	const char *site = pn_http_header(req, "Sec-Fetch-Site");
	char h[512];

	/* Under Referrer-Policy: no-referrer a browser sends "Origin: null"
	 * on every form POST, its own pages' included, and tells where the
	 * request comes from in Sec-Fetch-Site, which no page can set. */
	if (site && *site && strcmp(site, "same-origin") != 0)
		return 0;
	if (origin && strcmp(origin, "null") == 0)
		origin = NULL;
	if (origin && *origin) {
		if (host == NULL || host_of(origin, h, sizeof(h)) < 0 || strcasecmp(h, host) != 0)
			return 0;
	}
	if (ref && *ref) {
		if (host == NULL || host_of(ref, h, sizeof(h)) < 0 || strcasecmp(h, host) != 0)
			return 0;
	}
	return 1;
}

/* sso_user - the user a trusted proxy names in sso_header: 1 with u set, 0
 * none (no header, or a header from an untrusted address, logged), -1 a
 * trusted header naming no account */
static int sso_user(web_app *app, const pn_http_request *req, web_user *u)
{
	const char *name;
	char hash[WEB_HASH_MAX], *err = NULL;
	int found;

	if (*app->sso_header == '\0' || (name = pn_http_header(req, app->sso_header)) == NULL)
		return 0;
	if (!pn_cidr_list_match(app->sso_proxies, req->remote)) {
		char *clean = pn_strndup(name, 128);
		for (char *p = clean; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		pn_log(PN_LOG_WARN, "ignoring %s header (\"%s\") from %s: not in sso_trusted_proxies",
		       app->sso_header, clean, req->remote);
		pn_free(clean);
		return 0;
	}
	if (!web_user_name_ok(name)
	    || (found = web_users_lookup(app->users_file, name, u, hash, sizeof(hash), &err)) <= 0) {
		if (err)
			pn_log(PN_LOG_ERROR, "%s", err);
		pn_free(err);
		return -1;
	}
	return 1;
}

/* find_route - the route for path; *other_method when only the method differs */
static const web_route *find_route(const char *method, const char *path, int *other_method)
{
	const web_route *rt;

	*other_method = 0;
	for (rt = web_routes; rt->path; rt++)
		if (strcmp(rt->path, path) == 0) {
			if (strcmp(rt->method, method) == 0)
				return rt;
			*other_method = 1;
		}
	return NULL;
}

/* dispatch - everything but the headers every answer gets */
static pn_http_response *dispatch(web_app *app, const pn_http_request *req)
{
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	const char *cookie = pn_http_cookie(req, SESSION_COOKIE);
	const web_route *rt;
	web_session s;
	web_user sso;
	web_req r;
	pn_http_response *resp;
	int other, have, sso_rc, new_session = 0;

	memset(&r, 0, sizeof(r));
	r.http = req;
	if (strncmp(req->path, "/static/", 8) == 0 && strcmp(method, "GET") == 0)
		return (resp = web_static(req->path)) ? resp : web_error(&r, 404, "No such file.");
	if (strcmp(req->path, "/") == 0)
		return web_redirect("/search");
	if (strcmp(req->path, "/login") == 0) {
		if (strcmp(method, "GET") == 0)
			return web_login_form(app, req, 200, NULL);
		if (strcmp(method, "POST") == 0)
			return web_login_post(app, req);
		return web_error(&r, 405, "Method not allowed.");
	}
	if ((rt = find_route(method, req->path, &other)) == NULL)
		return web_error(&r, other ? 405 : 404, other ? "Method not allowed."
				 : "No such page.");
	have = cookie && web_session_find(app->sessions, cookie, web_now(app), &s);
	sso_rc = sso_user(app, req, &sso);
	if (sso_rc < 0)
		return web_error(&r, 403, "The single sign-on user has no account here.");
	if (sso_rc > 0 && (!have || strcmp(s.user.name, sso.name) != 0
			   || s.user.role != sso.role)) {
		/* the proxy vouches for this user: a session of their own */
		char *err = NULL;
		if (have)
			web_session_destroy(app->sessions, s.id);
		if (web_session_create(app->sessions, &sso, web_now(app), &s) < 0)
			return NULL;
		if (web_record_event(app, sso.name, sso.role, req->remote, "login-sso", "", &err) < 0) {
			pn_log(PN_LOG_ERROR, "refusing single sign-on: %s", err);
			pn_free(err);
			web_session_destroy(app->sessions, s.id);
			return NULL;
		}
		have = 1;
		new_session = 1;
	}
	if (!have) {
		if (strcmp(method, "GET") == 0)
			return web_redirect("/login");
		return web_error(&r, 403, "Not logged in (or the session ended): log in again.");
	}
	r.user = &s.user;
	r.csrf = s.csrf;
	r.session_id = s.id;
	if (strcmp(method, "POST") == 0
	    && (new_session || !web_same_origin(req)
		|| !web_token_equal(pn_http_arg(req, "csrf"), s.csrf)))
		resp = web_error(&r, 403, "This form is not valid any more (CSRF check failed): "
				 "reload the page and try again.");
	else if (s.user.role < rt->min_role)
		resp = web_error(&r, 403, "Your role may not do this.");
	else
		resp = rt->page(app, &r);
	if (resp && new_session)
		web_set_cookie(resp, req, app, SESSION_COOKIE, "/", s.id);
	return resp;
}

pn_http_response *web_handle(const pn_http_request *req, void *ctx)
{
	web_app *app = ctx;
	pn_http_response *resp = dispatch(app, req);

	if (resp == NULL)
		resp = pn_http_text(500, "internal error");
	if (strcmp(req->path, "/message/html") == 0) {
		/* shown only inside the message page's <iframe sandbox> */
		pn_http_set_header(resp, "Content-Security-Policy", csp_sandbox);
		pn_http_set_header(resp, "X-Frame-Options", "SAMEORIGIN");
	} else {
		pn_http_set_header(resp, "Content-Security-Policy",
				   strcmp(req->path, "/message") == 0 ? csp_message : csp_pages);
		pn_http_set_header(resp, "X-Frame-Options", "DENY");
	}
	pn_http_set_header(resp, "Referrer-Policy", "no-referrer");
	/* no DNS look-ups for names in a page (mail's links) before a click */
	pn_http_set_header(resp, "X-DNS-Prefetch-Control", "off");
	pn_http_set_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	if (req->https)
		pn_http_set_header(resp, "Strict-Transport-Security", "max-age=31536000");
	return resp;
}
