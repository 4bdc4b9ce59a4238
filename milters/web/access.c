/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * access - every page view, download, export and login recorded before
 * anything is shown: one line in the archive's access_log (the format of
 * postern-archive's get and export) and one record in the access trail
 * (an audit trail in postern-audit's format, sealed and chained by
 * milters/audit/trail.c, so `postern-audit verify` checks it). See web.h.
 */
#include "milters/web/web_app.h"
#include "milters/web/users.h"
#include "common/alloc.h"
#include "milters/archive/files.h"
#include "milters/archive/record.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* trail_record - one web-access record in the access trail */
static int trail_record(web_app *app, const char *user, web_role role, const char *remote,
			const char *action, const char *object, const char *sha256, char **err)
{
	json_object *o = json_object_new_object();
	struct timeval tv;
	struct tm tm;
	char when[96];
	const char *body;
	pn_buf line;
	int rc;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	json_object_object_add(o, "type", json_object_new_string("web-access"));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "user", json_object_new_string(user ? user : ""));
	json_object_object_add(o, "role", json_object_new_string(web_role_name(role)));
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "object", json_object_new_string(object ? object : ""));
	if (sha256)
		json_object_object_add(o, "sha256", json_object_new_string(sha256));
	json_object_object_add(o, "remote", json_object_new_string(remote ? remote : ""));
	body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	pn_buf_init(&line, 0);
	rc = audit_trail_append(app->access, body, strlen(body), &line, err);
	pn_buf_free(&line);
	json_object_put(o);
	return rc;
}

/* access_line - one line in the archive's access_log, as its tools write */
static int access_line(web_app *app, const web_req *r, const char *action, const char *id,
		       const char *sha256, const char *object, char **err)
{
	char *who = pn_asprintf("web:%s (%s from %s)", r->user->name, web_role_name(r->user->role),
				r->http->remote ? r->http->remote : "?");
	char *clean = arc_clean(who), *obj = object ? arc_clean(object) : NULL, *line;
	char now[ARC_TIME_LEN];
	int fd, rc = 0;

	syslog(LOG_MAIL | LOG_NOTICE, "web-%s: read by user=%s uid=%ld id=%s sha256=%s%s%s", action,
	       clean, (long)getuid(), id, sha256, obj ? " object=" : "", obj ? obj : "");
	if (*app->access_log) {
		arc_format_time((long long)time(NULL), now);
		line = pn_asprintf("%s web-%s: read by user=%s uid=%ld id=%s sha256=%s%s%s\n", now,
				   action, clean, (long)getuid(), id, sha256, obj ? " object=" : "",
				   obj ? obj : "");
		fd = open(app->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd < 0 || arc_write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0) {
			*err = pn_asprintf("cannot write access_log %s: %s", app->access_log,
					   strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
		pn_free(line);
	}
	pn_free(obj);
	pn_free(clean);
	pn_free(who);
	return rc;
}

int web_record_event(web_app *app, const char *user, web_role role, const char *remote,
		     const char *action, const char *object, char **err)
{
	return trail_record(app, user, role, remote, action, object, NULL, err);
}

int web_record_read(web_app *app, const web_req *r, const char *action, const char *id,
		    const char *sha256, char **err)
{
	if (access_line(app, r, action, id, sha256, NULL, err) < 0)
		return -1;
	return trail_record(app, r->user->name, r->user->role, r->http->remote, action, id, sha256,
			    err);
}

int web_record_access(web_app *app, const web_req *r, const char *action, const char *object,
		      char **err)
{
	if (access_line(app, r, action, "-", "-", object, err) < 0)
		return -1;
	return trail_record(app, r->user->name, r->user->role, r->http->remote, action, object,
			    NULL, err);
}
