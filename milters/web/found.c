/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * found - one archived delivery by id, and its original bytes, through the
 * archive's own functions (arc_index_search with the id as a key,
 * arc_store_read): what `postern-archive get ID` reads (see pages.h)
 */
#include "milters/web/pages.h"
#include "common/alloc.h"
#include "milters/archive/query.h"

#include <string.h>

/* web_delivery_copy - a deep copy of d */
arc_delivery *web_delivery_copy(const arc_delivery *d)
{
	arc_delivery *c = arc_delivery_new();
	size_t i;

#define DUP(f) do { pn_free(c->f); c->f = pn_strdup(d->f ? d->f : ""); } while (0)
	DUP(id); DUP(queue_id); DUP(sha256); DUP(mta); DUP(client_addr); DUP(client_name);
	DUP(helo); DUP(auth); DUP(direction); DUP(sender); DUP(hdr_from); DUP(hdr_to);
	DUP(hdr_cc); DUP(subject); DUP(message_id); DUP(hdr_date);
#undef DUP
	c->time = d->time;
	c->size = d->size;
	c->stored_size = d->stored_size;
	for (i = 0; i < d->nrcpts; i++)
		arc_delivery_add_rcpt(c, d->rcpts[i]);
	for (i = 0; i < d->nattachments; i++)
		arc_delivery_add_attachment(c, d->attachments[i]);
	return c;
}

/* keep_first - arc_row_fn: the delivery the id names */
static int keep_first(void *ctx, const arc_delivery *d, const arc_row *row)
{
	web_found **f = ctx;

	if (*f == NULL) {
		*f = pn_calloc(1, sizeof(**f));
		(*f)->d = web_delivery_copy(d);
		(*f)->held = row->held;
		(*f)->encrypted = row->encrypted;
		(*f)->hold_reason = pn_strdup(row->hold_reason ? row->hold_reason : "");
	}
	return 0;
}

web_found *web_find(web_app *app, const char *id, char **err)
{
	web_found *f = NULL;
	arc_query q;

	*err = NULL;
	if (id == NULL || !arc_is_id(id))
		return NULL;
	arc_query_init(&q);
	arc_query_add_key(&q, id);
	if (arc_index_search(web_archive(app)->index, &q, keep_first, &f, err) < 0) {
		web_found_free(f);
		f = NULL;
	}
	arc_query_clear(&q);
	return f;
}

void web_found_free(web_found *f)
{
	if (f == NULL)
		return;
	arc_delivery_free(f->d);
	pn_free(f->hold_reason);
	pn_free(f);
}

/* buf_write - arc_write_fn into a pn_buf */
static int buf_write(void *ctx, const void *data, size_t len)
{
	return pn_buf_append(ctx, data, len);
}

int web_read_message(web_app *app, const web_found *f, pn_buf *out, char **err)
{
	int enc = 0;

	if (arc_store_find(app->archive->store, f->d->sha256, NULL, &enc) == 0 && enc
	    && app->arc_key == NULL)
		return 1;
	return arc_store_read(app->archive->store, f->d->sha256, app->arc_key, buf_write, out, err);
}
