/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_export - POST /export: the ticked deliveries (id=ID, repeated) or,
 * when none is ticked, everything the search fields select, as one
 * download: mbox (written by the archive's own exporter, arc_export_*, as
 * `postern-archive export --mbox` writes it) or a zip of ID.eml files
 * (the original bytes, zip.h), in delivery time order. The file is built in a temporary file
 * (unlinked at once) and streamed from it, so an export of any size never
 * sits in memory. Every message is recorded as read (access_log and
 * trail, as the CLI's export does) and the export itself as one more
 * trail record, all before the first byte is written.
 */
#include "milters/web/pages.h"
#include "milters/web/search_form.h"
#include "milters/web/zip.h"
#include "common/alloc.h"
#include "common/log.h"
#include "milters/archive/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The index answers at most this many ids in one query (index.c). */
#define KEYS_PER_QUERY 40

typedef struct pick {
	web_found **v;
	size_t n, cap, limit;
	int over;
} pick;

/* collect - arc_row_fn: keep a copy of each delivery, up to the limit */
static int collect(void *ctx, const arc_delivery *d, const arc_row *row)
{
	pick *p = ctx;
	web_found *f;

	if (p->n >= p->limit) {
		p->over = 1;
		return -1;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = pn_realloc(p->v, p->cap * sizeof(*p->v));
	}
	f = pn_calloc(1, sizeof(*f));
	f->d = web_delivery_copy(d);
	f->held = row->held;
	f->encrypted = row->encrypted;
	f->hold_reason = pn_strdup(row->hold_reason ? row->hold_reason : "");
	p->v[p->n++] = f;
	return 0;
}

/* by_time - deliveries in time order, then by id (each batch of ids comes
 * back in time order; the whole export is put in that order too) */
static int by_time(const void *a, const void *b)
{
	const arc_delivery *x = (*(web_found *const *)a)->d, *y = (*(web_found *const *)b)->d;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* by_string - qsort of string pointers */
static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* search_ids - the deliveries of ids (sorted, each once), KEYS_PER_QUERY a query */
static int search_ids(web_app *app, const char **ids, size_t n, pick *p, char **err)
{
	size_t i, start;
	int rc = 0;

	for (start = 0; rc == 0 && start < n; start += KEYS_PER_QUERY) {
		arc_query q;
		arc_query_init(&q);
		for (i = start; i < n && i < start + KEYS_PER_QUERY; i++)
			arc_query_add_key(&q, ids[i]);
		rc = arc_index_search(web_archive(app)->index, &q, collect, p, err);
		arc_query_clear(&q);
	}
	if (rc == 0)
		qsort(p->v, p->n, sizeof(*p->v), by_time);
	return rc;
}

static void pick_free(pick *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		web_found_free(p->v[i]);
	pn_free(p->v);
}

/* temp_file - a new, already unlinked file for the download; its path in *path */
static int temp_file(char **path)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	*path = pn_asprintf("%s/postern-web-export.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(*path)) < 0) {
		pn_free(*path);
		*path = NULL;
	}
	return fd;
}

/* write_mbox - the archive's mbox exporter into path */
static int write_mbox(web_app *app, pick *p, const char *path, char **err)
{
	arc_exporter *x = arc_export_open(ARC_EXPORT_MBOX, path, err);
	size_t i;
	int rc = 0;

	if (x == NULL)
		return -1;
	for (i = 0; rc == 0 && i < p->n; i++)
		rc = arc_export_message(x, app->archive, p->v[i]->d, err);
	if (arc_export_close(x, rc == 0 ? err : NULL) < 0)
		rc = -1;
	return rc;
}

/* write_zip - ID.eml per delivery, the original bytes */
static int write_zip(web_app *app, pick *p, int fd, char **err)
{
	web_zip *z = web_zip_open(fd);
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < p->n; i++) {
		pn_buf msg;
		char *name;
		pn_buf_init(&msg, 0);
		if ((rc = web_read_message(app, p->v[i], &msg, err)) > 0) {
			*err = pn_asprintf("%s is encrypted", p->v[i]->d->id);
			rc = -1;
		}
		name = pn_asprintf("%s.eml", p->v[i]->d->id);
		if (rc == 0 && web_zip_add(z, name, pn_buf_str(&msg), pn_buf_len(&msg),
					   p->v[i]->d->time) < 0) {
			*err = pn_asprintf("zip: %s", errno == EFBIG
					   ? "beyond 4 GiB or 65535 messages: export as mbox"
					   : strerror(errno));
			rc = -1;
		}
		pn_free(name);
		pn_buf_free(&msg);
	}
	if (web_zip_close(z) < 0 && rc == 0) {
		*err = pn_asprintf("zip: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

pn_http_response *web_page_export(web_app *app, web_req *r)
{
	const char *format = pn_http_arg(r->http, "format"), *v[WEB_SEARCH_NFIELDS];
	const char *held_arg = pn_http_arg(r->http, "held");
	size_t limit = (size_t)pn_config_int(app->cfg, "export_limit"), n, i, k;
	const char **ids = pn_calloc(limit + 1, sizeof(*ids));
	int zip = format && strcmp(format, "zip") == 0, fd = -1, rfd = -1;
	char *err = NULL, *path = NULL, *what, *cd, stamp[32];
	pn_http_response *resp = NULL;
	struct stat st;
	arc_query q;
	pick p;
	time_t now = time(NULL);
	struct tm tm;

	memset(&p, 0, sizeof(p));
	p.limit = limit;
	arc_query_init(&q);
	if (format == NULL || (!zip && strcmp(format, "mbox") != 0)) {
		resp = web_error(r, 400, "Choose an export format: mbox or zip.");
		goto done;
	}
	n = pn_http_args(r->http, "id", ids, limit + 1);
	if (n > limit) {
		resp = web_error(r, 413, "Too many messages for one export (export_limit).");
		goto done;
	}
	for (i = 0; i < n; i++)
		if (!arc_is_id(ids[i])) {
			resp = web_error(r, 400, "Not a delivery id.");
			goto done;
		}
	/* each id once, whatever the form repeated */
	qsort(ids, n, sizeof(*ids), by_string);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(ids[k - 1], ids[i]) != 0)
			ids[k++] = ids[i];
	n = k;
	if (n == 0) {
		for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
			v[i] = pn_http_arg(r->http, web_search_fields[i]);
		if (web_search_query(v, held_arg && strcmp(held_arg, "1") == 0, &q, &err) < 0) {
			resp = web_error(r, 400, err);
			goto done;
		}
	}
	if ((n ? search_ids(app, ids, n, &p, &err)
	     : arc_index_search(web_archive(app)->index, &q, collect, &p, &err)) < 0 && !p.over) {
		pn_log(PN_LOG_ERROR, "export: %s", err);
		resp = web_error(r, 503, "The archive index cannot be read.");
		goto done;
	}
	if (p.over) {
		resp = web_error(r, 413, "Too many messages for one export (export_limit): narrow "
				 "the search.");
		goto done;
	}
	if (p.n == 0) {
		resp = web_error(r, 404, "Nothing to export: no message selected.");
		goto done;
	}
	for (i = 0; i < p.n; i++)
		if (p.v[i]->encrypted && app->arc_key == NULL) {
			char *t = pn_asprintf("Delivery %s is encrypted and this console has no key "
					      "(archive_key_file): nothing exported.", p.v[i]->d->id);
			resp = web_error(r, 409, t);
			pn_free(t);
			goto done;
		}
	/* recorded before anything is written: what cannot be logged is not sent */
	what = pn_asprintf("%zu message%s as %s", p.n, p.n == 1 ? "" : "s", zip ? "zip" : "mbox");
	if (web_record_access(app, r, "export", what, &err) < 0) {
		pn_free(what);
		goto unrecorded;
	}
	pn_free(what);
	for (i = 0; i < p.n; i++)
		if (web_record_read(app, r, "export", p.v[i]->d->id, p.v[i]->d->sha256, &err) < 0)
			goto unrecorded;
	if ((fd = temp_file(&path)) < 0) {
		pn_log(PN_LOG_ERROR, "export: cannot create a temporary file: %s", strerror(errno));
		goto failed;
	}
	if ((zip ? write_zip(app, &p, fd, &err) : write_mbox(app, &p, path, &err)) < 0) {
		pn_log(PN_LOG_ERROR, "export: %s", err ? err : "failed");
		goto failed;
	}
	/* the mbox exporter wrote by name: read back what it wrote */
	if ((rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(rfd, &st) < 0) {
		pn_log(PN_LOG_ERROR, "export: %s: %s", path, strerror(errno));
		goto failed;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	resp = pn_http_response_new(200, zip ? "application/zip" : "application/mbox");
	cd = pn_asprintf("attachment; filename=\"postern-export-%s.%s\"", stamp, zip ? "zip" : "mbox");
	pn_http_set_header(resp, "Content-Disposition", cd);
	pn_free(cd);
	pn_http_set_file(resp, rfd, (uint64_t)st.st_size);
	rfd = -1;
	goto done;
unrecorded:
	pn_log(PN_LOG_ERROR, "refusing an export: %s", err);
	resp = web_error(r, 500, "The access cannot be recorded: nothing is exported.");
	goto done;
failed:
	resp = web_error(r, 500, "The export failed; the daemon's log says why.");
done:
	if (path) {
		unlink(path);
		pn_free(path);
	}
	if (fd >= 0)
		close(fd);
	if (rfd >= 0)
		close(rfd);
	pn_free(err);
	arc_query_clear(&q);
	pick_free(&p);
	pn_free(ids);
	return resp;
}
