/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_hold - POST /hold (admin; the router checked the role and the
 * CSRF token): id, action=add|remove and a reason, which is required.
 * The hold is arc_hold(), the function `postern-archive hold add|remove
 * ID` calls, with the user recorded as "web:NAME (admin from ADDRESS)";
 * the request is recorded in the access trail first.
 */
#include "milters/web/pages.h"
#include "common/alloc.h"
#include "common/log.h"
#include "milters/archive/maint.h"

#include <string.h>
#include <sys/time.h>

pn_http_response *web_page_hold(web_app *app, web_req *r)
{
	const char *action = pn_http_arg(r->http, "action"), *reason = pn_http_arg(r->http, "reason");
	pn_http_response *resp = NULL;
	char *err = NULL, *who = NULL, *what = NULL, *loc;
	web_found *f;
	struct timeval tv;
	arc_query q;
	size_t n = 0;
	int add;

	arc_query_init(&q);
	if (action == NULL || (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0))
		return web_error(r, 400, "action must be add or remove.");
	add = strcmp(action, "add") == 0;
	if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0' || strlen(reason) > 1000)
		return web_error(r, 400, "A hold needs a reason (up to 1000 characters).");
	if ((f = web_find(app, pn_http_arg(r->http, "id"), &err)) == NULL) {
		if (err) {
			pn_log(PN_LOG_ERROR, "hold: %s", err);
			pn_free(err);
			return web_error(r, 503, "The archive index cannot be read.");
		}
		return web_error(r, 404, "No such message in the archive.");
	}
	what = pn_asprintf("%s reason=%s", f->d->id, reason);
	if (web_record_access(app, r, add ? "hold-add" : "hold-remove", what, &err) < 0) {
		pn_log(PN_LOG_ERROR, "refusing a hold: %s", err);
		resp = web_error(r, 500, "The action cannot be recorded: nothing changed.");
		goto done;
	}
	arc_query_add_key(&q, f->d->id);
	who = pn_asprintf("web:%s (%s from %s)", r->user->name, "admin", r->http->remote);
	gettimeofday(&tv, NULL);
	if (arc_hold(web_archive(app), &q, add, reason, who,
		     (long long)tv.tv_sec * 1000000LL + tv.tv_usec, &n, &err) < 0) {
		pn_log(PN_LOG_ERROR, "hold %s %s: %s", action, f->d->id, err);
		resp = web_error(r, 503, "The hold could not be changed; the daemon's log says why.");
		goto done;
	}
	pn_log(PN_LOG_INFO, "hold %s %s by %s: %zu changed", action, f->d->id, who, n);
	loc = pn_asprintf("/message?id=%s", f->d->id);
	resp = web_redirect(loc);
	pn_free(loc);
done:
	pn_free(err);
	pn_free(who);
	pn_free(what);
	arc_query_clear(&q);
	web_found_free(f);
	return resp;
}
