/* verify - check trail files as one chain (see verify.h) */
#include "milters/audit/verify.h"
#include "milters/audit/reader.h"
#include "common/alloc.h"

#include <string.h>

typedef struct where {
	char *file;
	unsigned long line;
} where;

typedef struct state {
	int have_prev;
	audit_link prev;
	where prev_at;
	/* A seq gap waits one record: the missing seq right after it means reordering. */
	int gap;
	unsigned long long gap_lo, gap_hi;
	where gap_at;
	unsigned long long records, first_seq;
	int checkpoint_seen;
	FILE *out;
} state;

/* set_where - remember a position */
static void set_where(where *w, const char *file, unsigned long line)
{
	if (w->file == NULL || strcmp(w->file, file) != 0) {
		pn_free(w->file);
		w->file = pn_strdup(file);
	}
	w->line = line;
}

/* report_gap - the pending gap was a deletion */
static void report_gap(state *s)
{
	if (s->gap_lo == s->gap_hi)
		fprintf(s->out, "%s:%lu: seq %llu follows seq %llu (%s:%lu): record seq %llu "
			"was deleted\n", s->gap_at.file, s->gap_at.line, s->gap_hi + 1, s->gap_lo - 1,
			s->prev_at.file, s->prev_at.line, s->gap_lo);
	else
		fprintf(s->out, "%s:%lu: seq %llu follows seq %llu (%s:%lu): records seq "
			"%llu..%llu were deleted\n", s->gap_at.file, s->gap_at.line, s->gap_hi + 1,
			s->gap_lo - 1, s->prev_at.file, s->prev_at.line, s->gap_lo, s->gap_hi);
}

/* check_link - one record against the one before; 0 fine, 1 broken */
static int check_link(state *s, const audit_link *l, const char *file, unsigned long line)
{
	if (s->gap) {
		if (l->seq >= s->gap_lo && l->seq <= s->gap_hi)
			fprintf(s->out, "%s:%lu: records out of order: seq %llu comes after seq %llu "
				"(%s:%lu)\n", file, line, l->seq, s->gap_hi + 1, s->gap_at.file,
				s->gap_at.line);
		else
			report_gap(s);
		return 1;
	}
	if (!s->have_prev) {
		if (l->seq == 1 && strcmp(l->prev, AUDIT_ZERO_HASH) != 0) {
			fprintf(s->out, "%s:%lu: seq 1 has a prev other than zeros: edited\n", file,
				line);
			return 1;
		}
		return 0;
	}
	if (l->seq == s->prev.seq + 1) {
		if (strcmp(l->prev, s->prev.hash) != 0) {
			fprintf(s->out, "%s:%lu: seq %llu was edited: its SHA-256 is not the prev of "
				"seq %llu (%s:%lu)\n", s->prev_at.file, s->prev_at.line, s->prev.seq,
				l->seq, file, line);
			return 1;
		}
		return 0;
	}
	if (l->seq <= s->prev.seq) {
		fprintf(s->out, "%s:%lu: seq %llu follows seq %llu (%s:%lu): a record was "
			"inserted, duplicated or moved\n", file, line, l->seq, s->prev.seq,
			s->prev_at.file, s->prev_at.line);
		return 1;
	}
	s->gap = 1;
	s->gap_lo = s->prev.seq + 1;
	s->gap_hi = l->seq - 1;
	set_where(&s->gap_at, file, line);
	return 0;
}

/* check_file - every line of one file; 0 fine, 1 broken, 2 unreadable */
static int check_file(state *s, const char *file, const unsigned char *key, size_t keylen,
		      const audit_head *checkpoint)
{
	char *err = NULL;
	audit_reader *r = audit_reader_open(file, &err);
	const char *line;
	size_t len;
	int complete, rc = 0, got;

	if (r == NULL) {
		fprintf(s->out, "%s\n", err);
		pn_free(err);
		return 2;
	}
	while (rc == 0 && (got = audit_reader_line(r, &line, &len, &complete)) == 1) {
		unsigned long n = audit_reader_lineno(r);
		audit_link l;

		if (!complete) {
			fprintf(s->out, "%s:%lu: record cut short (no newline): the trail was "
				"truncated\n", file, n);
			rc = 1;
		} else if (audit_chain_parse(line, len, &l, &err) < 0) {
			fprintf(s->out, "%s:%lu: not an audit record (%s): edited or damaged\n", file,
				n, err);
			pn_free(err);
			err = NULL;
			rc = 1;
		} else if (key && !l.has_mac) {
			fprintf(s->out, "%s:%lu: seq %llu has no mac: added or edited without the "
				"key\n", file, n, l.seq);
			rc = 1;
		} else if (key && !audit_chain_mac_ok(line, len, &l, key, keylen)) {
			fprintf(s->out, "%s:%lu: seq %llu: mac does not match: the record was edited "
				"(or the key is wrong)\n", file, n, l.seq);
			rc = 1;
		} else if ((rc = check_link(s, &l, file, n)) == 0) {
			if (checkpoint && l.seq == checkpoint->seq) {
				s->checkpoint_seen = 1;
				if (strcmp(l.hash, checkpoint->hash) != 0) {
					fprintf(s->out, "%s:%lu: seq %llu does not match the checkpoint: "
						"edited\n", file, n, l.seq);
					rc = 1;
				}
			}
			if (!s->have_prev)
				s->first_seq = l.seq;
			s->have_prev = 1;
			if (!s->gap)
				set_where(&s->prev_at, file, n);
			s->prev = l;
			s->records++;
		}
	}
	if (rc == 0 && got < 0) {
		fprintf(s->out, "%s:%lu: read error or line too long\n", file,
			audit_reader_lineno(r) + 1);
		rc = 2;
	}
	if (audit_reader_close(r, &err) < 0) {
		if (rc == 0) {
			fprintf(s->out, "%s\n", err);
			rc = 2;
		}
		pn_free(err);
	}
	return rc;
}

/* audit_verify - check files as one chain */
int audit_verify(char **files, size_t nfiles, const unsigned char *key, size_t keylen,
		 const audit_head *checkpoint, FILE *out)
{
	state s;
	size_t i;
	int rc = 0;

	memset(&s, 0, sizeof(s));
	s.out = out;
	for (i = 0; i < nfiles && rc == 0; i++)
		rc = check_file(&s, files[i], key, keylen, checkpoint);
	if (rc == 0 && s.gap) {
		report_gap(&s);
		rc = 1;
	}
	if (rc == 0 && checkpoint && !s.checkpoint_seen) {
		if (s.records && checkpoint->seq < s.first_seq)
			fprintf(out, "checkpoint seq %llu is older than the first record given "
				"(seq %llu): give the older files too\n", checkpoint->seq, s.first_seq);
		else
			fprintf(out, "the trail ends at seq %llu but the checkpoint is seq %llu: "
				"records after seq %llu were removed\n", s.records ? s.prev.seq : 0ULL,
				checkpoint->seq, s.records ? s.prev.seq : 0ULL);
		rc = 1;
	}
	if (rc == 0) {
		if (s.records == 0)
			fprintf(out, "intact: no records\n");
		else
			fprintf(out, "intact: %llu record%s, seq %llu..%llu%s; head %llu:%s\n",
				s.records, s.records == 1 ? "" : "s", s.first_seq, s.prev.seq,
				s.first_seq > 1 ? " (earlier records not given)" : "", s.prev.seq,
				s.prev.hash);
	}
	pn_free(s.prev_at.file);
	pn_free(s.gap_at.file);
	return rc;
}
