/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_search - GET /search: the search form, the count and one page of
 * results (50 deliveries) with paging links, inside the export form. The
 * query is `postern-archive search`'s: the same option names through
 * arc_query_set() and the same arc_index_search(), in the same order.
 */
#include "milters/web/pages.h"
#include "milters/web/search_form.h"
#include "common/alloc.h"
#include "common/log.h"

#include <string.h>

#define PAGE_SIZE 50

typedef struct result_ctx {
	long first;		/* index of the first row shown */
	long seen;		/* deliveries the query selects, up to stop_at */
	long stop_at;		/* counting ends here: "more than stop_at - 1" */
	pn_buf *rows;
} result_ctx;

/* human_size - bytes as B, KiB or MiB text */
static void human_size(pn_buf *b, unsigned long long n)
{
	if (n < 10240)
		pn_buf_printf(b, "%llu B", n);
	else if (n < 10ULL << 20)
		pn_buf_printf(b, "%llu KiB", n >> 10);
	else
		pn_buf_printf(b, "%llu MiB", n >> 20);
}

/* add_row - arc_row_fn: count every delivery, write those of this page */
static int add_row(void *ctx, const arc_delivery *d, const arc_row *row)
{
	result_ctx *c = ctx;
	char when[ARC_TIME_LEN];
	pn_buf *b = c->rows;

	/* An empty search on a large archive would otherwise walk every
	 * delivery on each page view just to print the count. */
	if (c->seen >= c->stop_at)
		return -1;
	if (c->seen++ < c->first || c->seen > c->first + PAGE_SIZE)
		return 0;
	arc_format_time(d->time, when);
	pn_buf_puts(b, "<tr class=\"result\"><td><input type=\"checkbox\" name=\"id\" value=\"");
	web_esc(b, d->id);
	pn_buf_puts(b, "\" aria-label=\"select\"></td><td class=\"time\">");
	web_esc(b, when);
	pn_buf_puts(b, "</td><td class=\"from\">");
	web_esc(b, *d->sender ? d->sender : "<>");
	if (*d->hdr_from) {
		pn_buf_puts(b, "<br><small>");
		web_esc(b, d->hdr_from);
		pn_buf_puts(b, "</small>");
	}
	pn_buf_puts(b, "</td><td class=\"to\">");
	web_esc(b, d->nrcpts ? d->rcpts[0] : "");
	if (d->nrcpts > 1)
		pn_buf_printf(b, " (+%zu)", d->nrcpts - 1);
	pn_buf_puts(b, "</td><td class=\"subject\"><a class=\"open\" href=\"/message?id=");
	web_url_arg(b, d->id);
	pn_buf_puts(b, "\">");
	web_esc(b, *d->subject ? d->subject : "(no subject)");
	pn_buf_puts(b, "</a>");
	if (row->held)
		pn_buf_puts(b, " <span class=\"held\">held</span>");
	if (row->encrypted)
		pn_buf_puts(b, " <span class=\"encrypted\">encrypted</span>");
	pn_buf_puts(b, "</td><td class=\"size\">");
	human_size(b, d->size);
	pn_buf_puts(b, "</td></tr>\n");
	return 0;
}

/* form_values - the search fields of the request */
static void form_values(const pn_http_request *req, const char *v[WEB_SEARCH_NFIELDS])
{
	size_t i;

	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		v[i] = pn_http_arg(req, web_search_fields[i]);
}

/* query_args - the search as URL arguments (paging links), no page= */
static void query_args(pn_buf *b, const char *const v[WEB_SEARCH_NFIELDS], int held)
{
	size_t i;

	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		if (v[i] && *v[i]) {
			pn_buf_printf(b, "%s=", web_search_fields[i]);
			web_url_arg(b, v[i]);
			pn_buf_puts(b, "&amp;");
		}
	if (held)
		pn_buf_puts(b, "held=1&amp;");
}

/* search_form - the form, filled with the current values */
static void search_form(pn_buf *b, const char *const v[WEB_SEARCH_NFIELDS], int held)
{
	static const char *const labels[WEB_SEARCH_NFIELDS] = {
		"Sender", "Recipient", "Subject", "Text", "Since", "Until", "Attachment"
	};
	static const char *const hints[WEB_SEARCH_NFIELDS] = {
		"address or name", "address or name (Bcc too)", "contains", "all these words",
		"2025-01-31, 7d", "2025-02-01", "file name contains"
	};
	size_t i;

	pn_buf_puts(b, "<form method=\"get\" action=\"/search\" id=\"search-form\" class=\"search\">");
	for (i = 0; i < WEB_SEARCH_NFIELDS; i++) {
		pn_buf_printf(b, "<label>%s <input name=\"%s\" placeholder=\"%s\" value=\"", labels[i],
			      web_search_fields[i], hints[i]);
		web_esc(b, v[i] ? v[i] : "");
		pn_buf_puts(b, "\"></label>");
	}
	pn_buf_printf(b, "<label>Held only <input type=\"checkbox\" name=\"held\" value=\"1\"%s>"
		      "</label><button type=\"submit\">Search</button></form>\n",
		      held ? " checked" : "");
}

/* hidden_fields - the search in the export form, used when no box is ticked */
static void hidden_fields(pn_buf *b, const char *const v[WEB_SEARCH_NFIELDS], int held)
{
	size_t i;

	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		if (v[i] && *v[i]) {
			pn_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"",
				      web_search_fields[i]);
			web_esc(b, v[i]);
			pn_buf_puts(b, "\">");
		}
	if (held)
		pn_buf_puts(b, "<input type=\"hidden\" name=\"held\" value=\"1\">");
}

pn_http_response *web_page_search(web_app *app, web_req *r)
{
	const char *v[WEB_SEARCH_NFIELDS];
	const char *held_arg = pn_http_arg(r->http, "held");
	int held = held_arg && strcmp(held_arg, "1") == 0;
	long page = web_page_number(pn_http_arg(r->http, "page"));
	char *err = NULL;
	pn_buf b, rows, what;
	arc_query q;
	result_ctx c;
	int more;
	size_t i;

	form_values(r->http, v);
	/* what was searched, for the access log and trail */
	pn_buf_init(&what, 4096);
	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		if (v[i] && *v[i])
			pn_buf_printf(&what, "%s%s=%s", pn_buf_len(&what) ? " " : "",
				      web_search_fields[i], v[i]);
	if (held)
		pn_buf_printf(&what, "%sheld", pn_buf_len(&what) ? " " : "");
	pn_buf_printf(&what, "%spage=%ld", pn_buf_len(&what) ? " " : "", page);
	if (web_record_access(app, r, "search", pn_buf_str(&what), &err) < 0) {
		pn_log(PN_LOG_ERROR, "refusing a search: %s", err);
		pn_free(err);
		pn_buf_free(&what);
		return web_error(r, 500, "The access cannot be recorded: nothing is shown.");
	}
	pn_buf_free(&what);
	web_page_begin(&b, r, "Search");
	search_form(&b, v, held);
	arc_query_init(&q);
	if (web_search_query(v, held, &q, &err) < 0) {
		pn_buf_puts(&b, "<p class=\"error\" id=\"error\">");
		web_esc(&b, err);
		pn_buf_puts(&b, "</p>\n");
		pn_free(err);
		arc_query_clear(&q);
		web_page_end(&b);
		return web_html_status(&b, 400);
	}
	pn_buf_init(&rows, 0);
	memset(&c, 0, sizeof(c));
	c.first = page * PAGE_SIZE;
	c.rows = &rows;
	c.stop_at = pn_config_int(app->cfg, "search_count_limit");
	if (c.stop_at < c.first + PAGE_SIZE)
		c.stop_at = c.first + PAGE_SIZE;
	c.stop_at++;	/* one more than shown tells whether there is more */
	if (arc_index_search(web_archive(app)->index, &q, add_row, &c, &err) < 0) {
		pn_log(PN_LOG_ERROR, "search: %s", err);
		pn_buf_puts(&b, "<p class=\"error\" id=\"error\">The archive index cannot be read: ");
		web_esc(&b, err);
		pn_buf_puts(&b, "</p>\n");
		pn_free(err);
		arc_query_clear(&q);
		pn_buf_free(&rows);
		web_page_end(&b);
		return web_html_status(&b, 503);
	}
	arc_query_clear(&q);
	more = c.seen >= c.stop_at;
	if (more)
		pn_buf_printf(&b, "<p id=\"count\" class=\"count\">more than %ld deliveries "
			      "(counting stops there: narrow the search)</p>\n", c.stop_at - 1);
	else
		pn_buf_printf(&b, "<p id=\"count\" class=\"count\">%ld deliver%s</p>\n", c.seen,
			      c.seen == 1 ? "y" : "ies");
	pn_buf_puts(&b, "<form method=\"post\" action=\"/export\" id=\"export-form\">");
	web_csrf_field(&b, r);
	hidden_fields(&b, v, held);
	pn_buf_puts(&b, "<p class=\"export\"><label>Export <select name=\"format\">"
		    "<option value=\"mbox\">mbox</option><option value=\"zip\">zip of .eml</option>"
		    "</select></label> <button type=\"submit\">Export</button> "
		    "<small>the ticked messages, or all results when none is ticked</small></p>\n"
		    "<table id=\"results\" class=\"results\"><thead><tr><th><input type=\"checkbox\" "
		    "id=\"select-all\" aria-label=\"select all\"></th><th>Time (UTC)</th>"
		    "<th>From</th><th>To</th><th>Subject</th><th>Size</th></tr></thead><tbody>\n");
	pn_buf_append(&b, pn_buf_str(&rows), pn_buf_len(&rows));
	pn_buf_free(&rows);
	pn_buf_puts(&b, "</tbody></table></form>\n<p class=\"paging\">");
	if (page > 0) {
		pn_buf_puts(&b, "<a id=\"prev\" href=\"/search?");
		query_args(&b, v, held);
		pn_buf_printf(&b, "page=%ld\">&larr; previous</a>", page - 1);
	}
	if (c.seen > c.first + PAGE_SIZE) {
		pn_buf_puts(&b, "<a id=\"next\" href=\"/search?");
		query_args(&b, v, held);
		pn_buf_printf(&b, "page=%ld\">next &rarr;</a>", page + 1);
	}
	if (c.seen)
		pn_buf_printf(&b, "<span>%ld&ndash;%ld of %s%ld</span>",
			      c.first < c.seen ? c.first + 1 : c.seen,
			      c.seen < c.first + PAGE_SIZE ? c.seen : c.first + PAGE_SIZE,
			      more ? "more than " : "", more ? c.stop_at - 1 : c.seen);
	pn_buf_puts(&b, "</p>\n");
	web_page_end(&b);
	return web_html(&b);
}
