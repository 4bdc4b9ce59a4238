/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_login - GET/POST /login and POST /logout. The login form is
 * protected by a pre-session token (cookie postern_login, double submit:
 * the form's hidden csrf must equal it, and it must be a token this process
 * signed, so a cookie planted from a sibling domain is refused); failures are counted per client
 * address and per user name (ratelimit.h) and answered 429 past the limit;
 * a good login always gets a new session id. Logins, failed logins and
 * logouts go to the access trail.
 */
#include "milters/web/pages.h"
#include "milters/web/users.h"
#include "common/alloc.h"
#include "common/log.h"

#include <string.h>

#define LOGIN_COOKIE "postern_login"
#define SESSION_COOKIE "postern_session"

pn_http_response *web_login_form(web_app *app, const pn_http_request *req, int status,
				 const char *error)
{
	const char *have = pn_http_cookie(req, LOGIN_COOKIE);
	char token[WEB_TOKEN_LEN + 1];
	pn_http_response *resp;
	web_req r;
	pn_buf b;

	memset(&r, 0, sizeof(r));
	r.http = req;
	if (web_token_signed_ok(app->login_key, have))
		memcpy(token, have, sizeof(token));
	else if (web_token_signed_new(app->login_key, token) < 0)
		return NULL;
	web_page_begin(&b, &r, "Log in");
	if (error) {
		pn_buf_puts(&b, "<p class=\"error\" id=\"error\">");
		web_esc(&b, error);
		pn_buf_puts(&b, "</p>\n");
	}
	pn_buf_puts(&b, "<form method=\"post\" action=\"/login\" id=\"login-form\" class=\"login\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"");
	pn_buf_puts(&b, token);
	pn_buf_puts(&b, "\"><label>User <input name=\"user\" autocomplete=\"username\" required "
		    "autofocus></label><label>Password <input name=\"password\" type=\"password\" "
		    "autocomplete=\"current-password\" required></label>"
		    "<button type=\"submit\">Log in</button></form>\n");
	web_page_end(&b);
	resp = web_html_status(&b, status);
	if (!web_token_signed_ok(app->login_key, have))
		web_set_cookie(resp, req, app, LOGIN_COOKIE, "/login", token);
	return resp;
}

/* refuse_event - a login refused: trail record; 0 or -1 */
static int login_event(web_app *app, const pn_http_request *req, const char *user,
		       const web_user *u, const char *action)
{
	char *err = NULL;

	if (web_record_event(app, user, u ? u->role : WEB_ROLE_NONE, req->remote, action, "",
			     &err) < 0) {
		pn_log(PN_LOG_ERROR, "cannot record %s: %s", action, err);
		pn_free(err);
		return -1;
	}
	return 0;
}

pn_http_response *web_login_post(web_app *app, const pn_http_request *req)
{
	const char *name = pn_http_arg(req, "user"), *pw = pn_http_arg(req, "password");
	const char *old = pn_http_cookie(req, SESSION_COOKIE);
	const char *remote = req->remote ? req->remote : "";
	long long now = web_now(app);
	char *err = NULL, *shown;
	pn_http_response *resp;
	web_session s;
	web_user u;
	web_req r;
	int ok;

	memset(&r, 0, sizeof(r));
	r.http = req;
	if (!web_same_origin(req)
	    || !web_token_equal(pn_http_arg(req, "csrf"), pn_http_cookie(req, LOGIN_COOKIE))
	    || !web_token_signed_ok(app->login_key, pn_http_cookie(req, LOGIN_COOKIE)))
		return web_error(&r, 403, "The login form expired (CSRF check failed): reload it "
				 "and try again.");
	if (name == NULL)
		name = "";
	if (pw == NULL)
		pw = "";
	/* a name that is not valid is still counted and logged, made harmless */
	shown = pn_strndup(name, 127);
	for (char *p = shown; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ':')
			*p = '?';
	if (web_limiter_blocked(app->limit_addr, remote, now)
	    || web_limiter_blocked(app->limit_name, shown, now)) {
		pn_log(PN_LOG_WARN, "login refused for user %s from %s: too many failures", shown,
		       remote);
		resp = login_event(app, req, shown, NULL, "login-refused") < 0 ? NULL
		       : web_error(&r, 429, "Too many failed logins: try again later.");
		pn_free(shown);
		return resp;
	}
	if ((ok = web_authenticate(app->users_file, name, pw, &u, &err)) < 0) {
		pn_log(PN_LOG_ERROR, "%s", err);
		pn_free(err);
		pn_free(shown);
		return web_error(&r, 500, "The users file cannot be read.");
	}
	if (!ok) {
		web_limiter_fail(app->limit_addr, remote, now);
		web_limiter_fail(app->limit_name, shown, now);
		pn_log(PN_LOG_WARN, "failed login for user %s from %s", shown, remote);
		resp = login_event(app, req, shown, NULL, "login-failed") < 0 ? NULL
		       : web_login_form(app, req, 401, "Wrong user name or password.");
		pn_free(shown);
		return resp;
	}
	pn_free(shown);
	/* fixation: whatever session the browser brought ends; a new id */
	if (old)
		web_session_destroy(app->sessions, old);
	if (web_session_create(app->sessions, &u, now, &s) < 0)
		return NULL;
	if (login_event(app, req, u.name, &u, "login") < 0) {
		web_session_destroy(app->sessions, s.id);
		return NULL;
	}
	web_limiter_clear(app->limit_name, u.name);
	pn_log(PN_LOG_INFO, "login: user %s (%s) from %s", u.name, web_role_name(u.role), remote);
	resp = web_redirect("/search");
	web_set_cookie(resp, req, app, SESSION_COOKIE, "/", s.id);
	web_set_cookie(resp, req, app, LOGIN_COOKIE, "/login", NULL);
	return resp;
}

pn_http_response *web_page_logout(web_app *app, web_req *r)
{
	pn_http_response *resp;

	web_session_destroy(app->sessions, r->session_id);
	if (login_event(app, r->http, r->user->name, r->user, "logout") < 0)
		return NULL;
	resp = web_redirect("/login");
	web_set_cookie(resp, r->http, app, SESSION_COOKIE, "/", NULL);
	return resp;
}
