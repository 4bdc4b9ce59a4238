/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * logread - Postfix's log into the ledger, from the remembered position (see logread.h)
 */
#include "milters/tls/logread.h"
#include "common/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct reader {
	ptls_ledger *l;
	const char *path;		/* the name positions are kept under */
	const ptls_policy_set *policy;
	int all_domains;
	time_t now;
	ptls_ml_tracker *t;
	ptls_logread_stats *st;
	char *buf;
} reader;

/* save - commit the counts, the position and the open sessions; start the next batch */
static int save(reader *r, const ptls_ledger_pos *pos, int again, char **err)
{
	if (ptls_ledger_log_set(r->l, r->path, pos, err) < 0
	    || ptls_ledger_sessions_save(r->l, r->t, err) < 0 || ptls_ledger_commit(r->l, err) < 0) {
		ptls_ledger_rollback(r->l);
		return -1;
	}
	return again ? ptls_ledger_begin(r->l, err) : 0;
}

/* count - one parsed line; a delivery to a partner adds to the ledger */
static int count(reader *r, const char *line, size_t len, char **err)
{
	ptls_ml_line ml;
	ptls_ml_event ev;
	ptls_ledger_row row;

	if (ptls_maillog_parse(line, len, r->now, &ml) == PTLS_ML_OTHER
	    || !ptls_ml_track(r->t, &ml, &ev))
		return 0;
	if (!r->all_domains && (r->policy == NULL || ptls_policy_lookup(r->policy, ev.partner) == NULL))
		return 0;
	memset(&row, 0, sizeof(row));
	row.day = ev.day;
	row.partner = ev.partner;
	row.direction = "outbound";
	row.result = ev.result;
	row.tls = ev.tls;
	row.cipher = ev.cipher;
	row.trust = ev.trust;
	row.failure = ev.failure;
	row.mx_host = ev.mx_host;
	row.detail = ev.detail;
	row.n = 1;
	if (ptls_ledger_add(r->l, &row, err) < 0)
		return -1;
	r->st->counted++;
	return 0;
}

/* next_line - one complete line (without its newline); 0 at end of file or before a
 * last line still being written. Bytes past max are dropped and *toolong set. */
static int next_line(FILE *fp, char *buf, size_t max, size_t *len, int *toolong)
{
	size_t n = 0;
	int c;

	*toolong = 0;
	while ((c = getc_unlocked(fp)) != EOF) {
		if (c == '\n') {
			*len = n;
			return 1;
		}
		if (n < max)
			buf[n++] = (char)c;
		else
			*toolong = 1;
	}
	return 0;
}

/* read_from - the complete lines of fp from pos->offset; pos->offset follows them */
static int read_from(reader *r, FILE *fp, ptls_ledger_pos *pos, char **err)
{
	unsigned long batch = 0;
	size_t len;
	int toolong;

	if (fseeko(fp, (off_t)pos->offset, SEEK_SET) < 0) {
		*err = pn_asprintf("%s: cannot seek: %s", r->path, strerror(errno));
		return -1;
	}
	while (next_line(fp, r->buf, PTLS_LOGREAD_LINE_MAX, &len, &toolong)) {
		pos->offset = (long long)ftello(fp);
		r->st->lines++;
		if (toolong)
			r->st->skipped++;
		else if (count(r, r->buf, len, err) < 0)
			return -1;
		if (++batch % PTLS_LOGREAD_BATCH == 0 && save(r, pos, 1, err) < 0)
			return -1;
	}
	return 0;
}

/* ptls_logread - read path from the remembered position (see logread.h) */
int ptls_logread(ptls_ledger *l, const char *path, const ptls_policy_set *policy, int all_domains,
		 time_t now, ptls_logread_stats *st, char **err)
{
	ptls_ml_tracker *t = pn_malloc(sizeof(*t));
	ptls_ledger_pos pos, cur;
	reader r;
	struct stat sb;
	FILE *fp, *old;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if ((fp = fopen(path, "r")) == NULL || fstat(fileno(fp), &sb) < 0) {
		*err = pn_asprintf("cannot read %s: %s", path, strerror(errno));
		if (fp)
			fclose(fp);
		pn_free(t);
		return -1;
	}
	r.l = l;
	r.path = path;
	r.policy = policy;
	r.all_domains = all_domains;
	r.now = now;
	r.t = t;
	r.st = st;
	r.buf = pn_malloc(PTLS_LOGREAD_LINE_MAX);
	if (ptls_ledger_begin(l, err) < 0)
		goto out;
	ptls_ledger_sessions_load(l, t);
	cur.dev = (long long)sb.st_dev;
	cur.ino = (long long)sb.st_ino;
	cur.offset = 0;
	if (ptls_ledger_log_get(l, path, &pos) && (pos.dev != cur.dev || pos.ino != cur.ino)) {
		/* rotated: finish the old file first when it is PATH.1 */
		char *name = pn_asprintf("%s.1", path);
		struct stat ob;
		st->rotated = 1;
		if ((old = fopen(name, "r")) != NULL && fstat(fileno(old), &ob) == 0
		    && (long long)ob.st_dev == pos.dev && (long long)ob.st_ino == pos.ino) {
			if (read_from(&r, old, &pos, err) < 0) {
				fclose(old);
				pn_free(name);
				ptls_ledger_rollback(l);
				goto out;
			}
		} else {
			st->rotated_lost = 1;
		}
		if (old)
			fclose(old);
		pn_free(name);
		pos = cur;
	} else if (pos.offset > (long long)sb.st_size) {
		pos.offset = 0;	/* truncated in place */
		st->rotated = 1;
	}
	pos.dev = cur.dev;
	pos.ino = cur.ino;
	if (read_from(&r, fp, &pos, err) < 0) {
		ptls_ledger_rollback(l);
		goto out;
	}
	rc = save(&r, &pos, 0, err);
out:
	fclose(fp);
	pn_free(r.buf);
	pn_free(t);
	return rc;
}
