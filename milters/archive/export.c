/* SPDX-License-Identifier: BSD-2-Clause */
/* export - mbox, Maildir and .eml writers (see export.h) */
#include "milters/archive/export.h"
#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct arc_exporter {
	arc_export_format format;
	char *target;
	FILE *mbox;		/* MBOX */
	FILE *list;		/* EML: deliveries.jsonl */
	char **seen;		/* objects written, sorted */
	size_t nseen, capseen;
	unsigned long count;
};

/* The LF filter: CRLF to LF, and mboxrd quoting of From lines. */
typedef struct lf_filter {
	FILE *out;
	int quote;		/* mboxrd: quote ">*From " */
	int at_start;		/* at the start of a line */
	int pending_cr;
	size_t gt;		/* '>' seen at the start of this line */
	size_t from;		/* characters of "From " matched after them */
	int last;		/* last character written */
	int err;
} lf_filter;

/* put - one character out */
static void put(lf_filter *f, int c)
{
	if (putc(c, f->out) == EOF)
		f->err = errno ? errno : EIO;
	f->last = c;
}

/* flush_prefix - write the held '>'s and partial "From " */
static void flush_prefix(lf_filter *f, int quoted)
{
	size_t i;

	if (quoted)
		put(f, '>');
	for (i = 0; i < f->gt; i++)
		put(f, '>');
	for (i = 0; i < f->from; i++)
		put(f, "From "[i]);
	f->gt = f->from = 0;
	f->at_start = 0;
}

/* lf_char - one character of the message through the filter */
static void lf_char(lf_filter *f, int c)
{
	if (f->pending_cr) {
		f->pending_cr = 0;
		if (c == '\n') {
			if (f->at_start && (f->gt || f->from))
				flush_prefix(f, 0);
			put(f, '\n');
			f->at_start = 1;
			return;
		}
		if (f->at_start && (f->gt || f->from))
			flush_prefix(f, 0);
		f->at_start = 0;
		put(f, '\r');
	}
	if (c == '\r') {
		f->pending_cr = 1;
		return;
	}
	if (f->quote && f->at_start) {
		if (c == '>' && f->from == 0) {
			f->gt++;
			return;
		}
		if (c == "From "[f->from]) {
			if (++f->from == 5)
				flush_prefix(f, 1);
			return;
		}
		flush_prefix(f, 0);
	}
	put(f, c);
	f->at_start = c == '\n';
}

/* lf_write - arc_write_fn for the LF filter */
static int lf_write(void *ctx, const void *data, size_t len)
{
	lf_filter *f = ctx;
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len && !f->err; i++)
		lf_char(f, p[i]);
	return f->err ? -1 : 0;
}

/* lf_end - finish the last line */
static void lf_end(lf_filter *f)
{
	if (f->pending_cr) {
		f->pending_cr = 0;
		put(f, '\r');
	}
	if (f->gt || f->from)
		flush_prefix(f, 0);
	if (f->last != '\n' && f->last != 0)
		put(f, '\n');
}

/* raw_write - bytes unchanged */
static int raw_write(void *ctx, const void *data, size_t len)
{
	return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* make_dir - a directory that may exist */
static int make_dir(const char *path, char **err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*err = pn_asprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* create_file - a new private file, refusing to overwrite */
static FILE *create_file(const char *path, int truncate, char **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_EXCL), 0600);
	FILE *fp;

	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		*err = pn_asprintf("cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return fp;
}

/* arc_export_open - start an export */
arc_exporter *arc_export_open(arc_export_format f, const char *target, char **err)
{
	static const char *const maildir_sub[] = {"tmp", "new", "cur"};
	arc_exporter *x = pn_calloc(1, sizeof(*x));
	char *p;
	size_t i;

	*err = NULL;
	x->format = f;
	x->target = pn_strdup(target);
	switch (f) {
	case ARC_EXPORT_MBOX:
		if (strcmp(target, "-") == 0)
			x->mbox = stdout;
		else if ((x->mbox = create_file(target, 1, err)) == NULL)
			goto fail;
		break;
	case ARC_EXPORT_MAILDIR:
		if (make_dir(target, err) < 0)
			goto fail;
		for (i = 0; i < 3; i++) {
			p = pn_asprintf("%s/%s", target, maildir_sub[i]);
			if (make_dir(p, err) < 0) {
				pn_free(p);
				goto fail;
			}
			pn_free(p);
		}
		break;
	case ARC_EXPORT_EML:
		if (make_dir(target, err) < 0)
			goto fail;
		p = pn_asprintf("%s/deliveries.jsonl", target);
		x->list = create_file(p, 1, err);
		pn_free(p);
		if (x->list == NULL)
			goto fail;
		break;
	}
	return x;
fail:
	arc_export_close(x, NULL);
	return NULL;
}

/* seen_before - whether an object was written already; remembers it */
static int seen_before(arc_exporter *x, const char *sha)
{
	size_t lo = 0, hi = x->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->seen[mid], sha);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (x->nseen == x->capseen) {
		x->capseen = x->capseen ? x->capseen * 2 : 64;
		x->seen = pn_realloc(x->seen, x->capseen * sizeof(char *));
	}
	memmove(x->seen + lo + 1, x->seen + lo, (x->nseen - lo) * sizeof(char *));
	x->seen[lo] = pn_strdup(sha);
	x->nseen++;
	return 0;
}

/* export_mbox - one message in mboxrd form */
static int export_mbox(arc_exporter *x, arc_archive *a, const arc_delivery *d, char **err)
{
	lf_filter f;
	time_t t = (time_t)d->time;
	struct tm tm;
	char when[64];

	memset(&f, 0, sizeof(f));
	f.out = x->mbox;
	f.quote = 1;
	f.at_start = 1;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(x->mbox, "From %s %s\n", *d->sender ? d->sender : "MAILER-DAEMON", when);
	if (arc_store_read(a->store, d->sha256, a->key, lf_write, &f, err) < 0)
		return -1;
	lf_end(&f);
	put(&f, '\n');
	if (f.err) {
		*err = pn_asprintf("cannot write %s: %s", x->target, strerror(f.err));
		return -1;
	}
	return 0;
}

/* export_maildir - one message into new/ through tmp/ */
static int export_maildir(arc_exporter *x, arc_archive *a, const arc_delivery *d, char **err)
{
	char *tmp = pn_asprintf("%s/tmp/%lld.%s.postern", x->target, d->time, d->id);
	char *fin = pn_asprintf("%s/new/%lld.%s.postern", x->target, d->time, d->id);
	lf_filter f;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	f.at_start = 1;
	if ((f.out = create_file(tmp, 0, err)) == NULL)
		goto done;
	if (arc_store_read(a->store, d->sha256, a->key, lf_write, &f, err) < 0) {
		fclose(f.out);
		unlink(tmp);
		goto done;
	}
	lf_end(&f);
	if (fflush(f.out) != 0 || fsync(fileno(f.out)) < 0 || f.err) {
		*err = pn_asprintf("cannot write %s: %s", tmp, strerror(f.err ? f.err : errno));
		fclose(f.out);
		unlink(tmp);
		goto done;
	}
	fclose(f.out);
	if (rename(tmp, fin) < 0) {
		*err = pn_asprintf("cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	pn_free(tmp);
	pn_free(fin);
	return rc;
}

/* export_eml - the stored bytes as SHA256.eml */
static int export_eml(arc_exporter *x, arc_archive *a, const arc_delivery *d, char **err)
{
	char *path = pn_asprintf("%s/%s.eml", x->target, d->sha256);
	FILE *fp = create_file(path, 1, err);
	int rc = -1;

	if (fp == NULL)
		goto done;
	if (arc_store_read(a->store, d->sha256, a->key, raw_write, fp, err) < 0) {
		fclose(fp);
		unlink(path);
		goto done;
	}
	if (fclose(fp) != 0) {
		*err = pn_asprintf("cannot write %s: %s", path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	pn_free(path);
	return rc;
}

/* arc_export_message - one delivery (its object written once) */
int arc_export_message(arc_exporter *x, arc_archive *a, const arc_delivery *d, char **err)
{
	int rc = 0;

	*err = NULL;
	if (x->format == ARC_EXPORT_EML) {
		char *file = pn_asprintf("%s.eml", d->sha256), *line;
		arc_json_extra extra = {"file", 's', file, 0};
		line = arc_delivery_json(d, &extra, 1);
		if (fprintf(x->list, "%s\n", line) < 0) {
			*err = pn_asprintf("cannot write %s/deliveries.jsonl: %s", x->target,
					   strerror(errno));
			rc = -1;
		}
		pn_free(line);
		pn_free(file);
		if (rc < 0)
			return -1;
	}
	if (seen_before(x, d->sha256))
		return 0;
	switch (x->format) {
	case ARC_EXPORT_MBOX:
		rc = export_mbox(x, a, d, err);
		break;
	case ARC_EXPORT_MAILDIR:
		rc = export_maildir(x, a, d, err);
		break;
	case ARC_EXPORT_EML:
		rc = export_eml(x, a, d, err);
		break;
	}
	if (rc == 0)
		x->count++;
	return rc;
}

/* arc_export_close - finish the export; err may be NULL */
int arc_export_close(arc_exporter *x, char **err)
{
	int rc = 0;
	size_t i;

	if (x == NULL)
		return 0;
	if (x->mbox && x->mbox != stdout && fclose(x->mbox) != 0)
		rc = -1;
	else if (x->mbox == stdout && fflush(stdout) != 0)
		rc = -1;
	if (x->list && fclose(x->list) != 0)
		rc = -1;
	if (rc < 0 && err)
		*err = pn_asprintf("cannot write %s: %s", x->target, strerror(errno));
	for (i = 0; i < x->nseen; i++)
		pn_free(x->seen[i]);
	pn_free(x->seen);
	pn_free(x->target);
	pn_free(x);
	return rc;
}
