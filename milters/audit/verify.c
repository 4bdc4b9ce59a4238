/* SPDX-License-Identifier: BSD-2-Clause */
/* verify - check trail files as one chain (see verify.h) */
#include "milters/audit/verify.h"
#include "milters/audit/reader.h"
#include "common/alloc.h"

#include <json-c/json.h>
#include <string.h>

typedef struct where {
	char *file;
	unsigned long line;
} where;

struct audit_verifier {
	const audit_verify_opts *o;
	int have_prev;
	audit_link prev;
	where prev_at;
	/* A seq gap waits one record: the missing seq right after it means reordering. */
	int gap;
	unsigned long long gap_lo, gap_hi;
	where gap_at;
	unsigned long long records, first_seq;
	int checkpoint_seen;
	/* identity and sealing */
	int started;
	char trail_id[64], host[256], created[64];
	char key_id[AUDIT_KEY_ID_LEN + 1];	/* lineage in force, "" unsigned */
	int have_key;				/* cur holds that lineage's key */
	audit_seal cur;
	int have_epoch;
	unsigned long long epoch;		/* of the last sealed record */
	unsigned long long macs, unchecked, key_changes;
	int done;				/* o->upto reached: read no further */
	int broken;				/* a problem was reported */
	const char *sep;			/* between a place and its number */
	FILE *out;
};
typedef struct audit_verifier state;

/* AT - the arguments of a "%s%s%lu" place: "FILE:LINE", or "host H trail T seq N" */
#define AT(file, n) (file), s->sep, (unsigned long)(n)

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
		fprintf(s->out, "%s%s%lu: seq %llu follows seq %llu (%s%s%lu): record seq %llu "
			"was deleted\n", AT(s->gap_at.file, s->gap_at.line), s->gap_hi + 1, s->gap_lo - 1,
			AT(s->prev_at.file, s->prev_at.line), s->gap_lo);
	else
		fprintf(s->out, "%s%s%lu: seq %llu follows seq %llu (%s%s%lu): records seq "
			"%llu..%llu were deleted\n", AT(s->gap_at.file, s->gap_at.line), s->gap_hi + 1,
			s->gap_lo - 1, AT(s->prev_at.file, s->prev_at.line), s->gap_lo, s->gap_hi);
}

/* check_link - one record against the one before; 0 fine, 1 broken */
static int check_link(state *s, const audit_link *l, const char *file, unsigned long line)
{
	if (s->gap) {
		if (l->seq >= s->gap_lo && l->seq <= s->gap_hi)
			fprintf(s->out, "%s%s%lu: records out of order: seq %llu comes after seq %llu "
				"(%s%s%lu)\n", AT(file, line), l->seq, s->gap_hi + 1, AT(s->gap_at.file,
				s->gap_at.line));
		else
			report_gap(s);
		return 1;
	}
	if (!s->have_prev && s->o->after) {
		/* The auditor verified up to there before (older files expired). */
		if (l->seq != s->o->after->seq + 1 || strcmp(l->prev, s->o->after->hash) != 0) {
			fprintf(s->out, "%s%s%lu: seq %llu does not follow seq %llu:%s given by "
				"--after: records were deleted or the trail was replaced\n", AT(file,
				line), l->seq, s->o->after->seq, s->o->after->hash);
			return 1;
		}
		s->started = strcmp(l->event, "trail-start") != 0;
		return 0;
	}
	if (!s->have_prev) {
		if (l->seq != 1 || strcmp(l->event, "trail-start") != 0) {
			fprintf(s->out, "%s%s%lu: the trail begins at seq %llu, not with its trail-start "
				"record seq 1: the oldest records were deleted (or older files were "
				"not given)\n", AT(file, line), l->seq);
			return 1;
		}
		if (strcmp(l->prev, AUDIT_ZERO_HASH) != 0) {
			fprintf(s->out, "%s%s%lu: seq 1 has a prev other than zeros: edited\n", AT(file,
				line));
			return 1;
		}
		return 0;
	}
	if (strcmp(l->event, "trail-start") == 0 && l->seq == 1) {
		fprintf(s->out, "%s%s%lu: a trail-start record (seq 1) follows seq %llu (%s%s%lu): "
			"another trail was spliced in\n", AT(file, line), s->prev.seq, AT(s->prev_at.file,
			s->prev_at.line));
		return 1;
	}
	if (l->seq == s->prev.seq + 1) {
		if (strcmp(l->prev, s->prev.hash) != 0) {
			fprintf(s->out, "%s%s%lu: seq %llu was edited, or what follows it was spliced "
				"in from another trail: its SHA-256 is not the prev of seq %llu "
				"(%s%s%lu)\n", AT(s->prev_at.file, s->prev_at.line), s->prev.seq, l->seq,
				AT(file, line));
			return 1;
		}
		return 0;
	}
	if (l->seq <= s->prev.seq) {
		fprintf(s->out, "%s%s%lu: seq %llu follows seq %llu (%s%s%lu): a record was "
			"inserted, duplicated or moved\n", AT(file, line), l->seq, s->prev.seq,
			AT(s->prev_at.file, s->prev_at.line));
		return 1;
	}
	s->gap = 1;
	s->gap_lo = s->prev.seq + 1;
	s->gap_hi = l->seq - 1;
	set_where(&s->gap_at, file, line);
	return 0;
}

/* str_member - a string member of o, or "" */
static const char *str_member(json_object *o, const char *name)
{
	json_object *v;

	if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

/* use_lineage - the key of lineage id becomes the one records must be sealed with */
static void use_lineage(state *s, const char *id)
{
	size_t i;

	audit_seal_wipe(&s->cur);
	s->have_key = 0;
	s->have_epoch = 0;
	snprintf(s->key_id, sizeof(s->key_id), "%s", id);
	for (i = 0; id[0] && i < s->o->nkeys; i++)
		if (strcmp(s->o->keys[i].key_id, id) == 0) {
			s->cur = s->o->keys[i];
			s->have_key = 1;
			break;
		}
}

/* check_event - trail-start, gap and key-change records; 0 fine, 1 broken */
static int check_event(state *s, const char *line, size_t len, const audit_link *l,
		       const char *file, unsigned long n)
{
	json_object *o, *v;
	char *copy;
	int rc = 0;

	if (strcmp(l->event, "trail-start") != 0 && strcmp(l->event, "gap") != 0
	    && strcmp(l->event, "key-change") != 0)
		return 0;
	copy = pn_memdup0(line, len);
	o = json_tokener_parse(copy);
	pn_free(copy);
	if (o == NULL)
		return 0;	/* parsed once already: cannot happen */
	if (strcmp(l->event, "trail-start") == 0) {
		const char *id = str_member(o, "trail_id"), *host = str_member(o, "host");
		if (s->started) {
			if (json_object_object_get_ex(o, "adopted_seq", &v))
				fprintf(s->out, "%s%s%lu: seq %llu starts a new trail identity over the "
					"records before it: the daemon found the trail without its head "
					"file (deleted, or written before trail identities) and adopted it "
					"as it was\n", AT(file, n), l->seq);
			else
				fprintf(s->out, "%s%s%lu: seq %llu is the trail-start of trail %s (host "
					"%s): another trail was spliced in\n", AT(file, n), l->seq, id, host);
			rc = 1;
		} else if (s->o->trail_id && strcmp(id, s->o->trail_id) != 0) {
			fprintf(s->out, "%s%s%lu: this is trail %s of host %s, created %s, not the "
				"trail %s the head file names: the trail was replaced (another "
				"host's or an older trail)\n", AT(file, n), id, host,
				str_member(o, "created"), s->o->trail_id);
			rc = 1;
		} else if (s->o->host && strcmp(host, s->o->host) != 0) {
			fprintf(s->out, "%s%s%lu: this trail was started on host %s, not %s: another "
				"host's trail\n", AT(file, n), host, s->o->host);
			rc = 1;
		} else {
			s->started = 1;
			snprintf(s->trail_id, sizeof(s->trail_id), "%s", id);
			snprintf(s->host, sizeof(s->host), "%s", host);
			snprintf(s->created, sizeof(s->created), "%s", str_member(o, "created"));
			use_lineage(s, str_member(o, "key_id"));
		}
	} else if (strcmp(l->event, "gap") == 0) {
		fprintf(s->out, "%s%s%lu: seq %llu is a gap record: the daemon found the trail "
			"altered (%s) and linked on from its last known record seq %s: records "
			"before it were cut or changed\n", AT(file, n), l->seq, str_member(o, "reason"),
			json_object_object_get_ex(o, "last_seq", &v) ? json_object_get_string(v)
								       : "?");
		rc = 1;
	} else {
		use_lineage(s, str_member(o, "key_id"));
		s->key_changes++;
	}
	json_object_put(o);
	return rc;
}

/* check_seal - mac and epoch of one record; 0 fine, 1 broken */
static int check_seal(state *s, const char *line, size_t len, const audit_link *l,
		      const char *file, unsigned long n)
{
	if (!s->key_id[0] && l->has_mac && s->o->after && s->records == 0) {
		/* Started mid-trail: the lineage is the key given (or unknown). */
		if (s->o->nkeys == 1)
			use_lineage(s, s->o->keys[0].key_id);
		else
			snprintf(s->key_id, sizeof(s->key_id), "%s", "unknown");
	}
	if (!s->key_id[0]) {
		if (l->has_mac) {
			fprintf(s->out, "%s%s%lu: seq %llu has a mac but the trail was not sealed "
				"at this point (no trail-start or key-change named a key)\n", AT(file, n),
				l->seq);
			return 1;
		}
		return 0;
	}
	if (!l->has_mac) {
		fprintf(s->out, "%s%s%lu: seq %llu has no mac although key %s seals the trail here: "
			"added or edited without the key\n", AT(file, n), l->seq, s->key_id);
		return 1;
	}
	if (s->have_epoch && l->epoch < s->epoch) {
		fprintf(s->out, "%s%s%lu: seq %llu is sealed in epoch %llu but follows a record of "
			"epoch %llu: records before it were forged with a later key, or moved\n",
			AT(file, n), l->seq, l->epoch, s->epoch);
		return 1;
	}
	if (s->have_epoch && l->epoch > s->epoch + 1) {
		fprintf(s->out, "%s%s%lu: seq %llu is sealed in epoch %llu but follows a record of "
			"epoch %llu: epochs advance one at a time, so it was forged with a later "
			"epoch's key (or records were deleted)\n", AT(file, n), l->seq, l->epoch, s->epoch);
		return 1;
	}
	s->have_epoch = 1;
	s->epoch = l->epoch;
	if (!s->have_key) {
		s->unchecked++;
		return 0;
	}
	if (l->epoch < s->cur.epoch) {
		fprintf(s->out, "%s%s%lu: seq %llu is of epoch %llu, older than the key given for "
			"%s (epoch %llu): give the initial key (the offline copy)\n", AT(file, n),
			l->seq, l->epoch, s->key_id, s->cur.epoch);
		return 1;
	}
	audit_seal_advance_to(&s->cur, l->epoch);
	if (!audit_chain_mac_ok(line, len, l, s->cur.key, s->cur.keylen)) {
		fprintf(s->out, "%s%s%lu: seq %llu: mac does not match under key %s epoch %llu: the "
			"record was edited or forged (or the key is wrong)\n", AT(file, n), l->seq,
			s->key_id, l->epoch);
		return 1;
	}
	s->macs++;
	return 0;
}

/* check_line - one line; 0 fine, 1 broken */
static int check_line(state *s, const char *line, size_t len, int complete, const char *file,
		      unsigned long n)
{
	const audit_head *checkpoint = s->o->checkpoint;
	char *err = NULL;
	audit_link l;
	int rc;

	if (!complete) {
		fprintf(s->out, "%s%s%lu: record cut short (no newline): the trail was "
			"truncated\n", AT(file, n));
		return 1;
	}
	if (audit_chain_parse(line, len, &l, &err) < 0) {
		fprintf(s->out, "%s%s%lu: not an audit record (%s): edited or damaged\n", AT(file,
			n), err);
		pn_free(err);
		return 1;
	}
	if ((rc = check_link(s, &l, file, n)) != 0 || (rc = check_event(s, line, len, &l, file, n))
	    != 0 || (rc = check_seal(s, line, len, &l, file, n)) != 0)
		return rc;
	if (checkpoint && l.seq == checkpoint->seq) {
		s->checkpoint_seen = 1;
		if (strcmp(l.hash, checkpoint->hash) != 0) {
			fprintf(s->out, "%s%s%lu: seq %llu does not match the head: edited "
				"or replaced\n", AT(file, n), l.seq);
			return 1;
		}
	}
	if (!s->have_prev)
		s->first_seq = l.seq;
	s->have_prev = 1;
	if (!s->gap)
		set_where(&s->prev_at, file, n);
	s->prev = l;
	s->records++;
	if (s->o->upto && l.seq >= s->o->upto)
		s->done = 1;
	return 0;
}

/* check_file - every line of one file; 0 fine, 1 broken, 2 unreadable */
static int check_file(state *s, const char *file)
{
	char *err = NULL;
	audit_reader *r = audit_reader_open(file, &err);
	const char *line;
	size_t len;
	int complete, rc = 0, got = 0;

	if (r == NULL) {
		fprintf(s->out, "%s\n", err);
		pn_free(err);
		return 2;
	}
	while (rc == 0 && !s->done && (got = audit_reader_line(r, &line, &len, &complete)) == 1)
		rc = check_line(s, line, len, complete, file, audit_reader_lineno(r));
	if (rc == 0 && got < 0) {
		fprintf(s->out, "%s%s%lu: read error or line too long\n", AT(file,
			audit_reader_lineno(r) + 1));
		rc = 2;
	}
	if (audit_reader_close(r, &err) < 0) {
		/* a decompressor stopped early (o->upto) complains of the closed pipe */
		if (rc == 0 && !s->done) {
			fprintf(s->out, "%s\n", err);
			rc = 2;
		}
		pn_free(err);
	}
	return rc;
}

/* summary - the closing verdict; 0 intact, 1 not */
static int summary(state *s)
{
	const audit_verify_opts *o = s->o;

	if (s->records == 0) {
		fprintf(s->out, "no records: nothing to verify\n");
		return o->nkeys > 0 ? 1 : 0;
	}
	if (s->unchecked && !o->no_key) {
		fprintf(s->out, "%llu sealed record%s not checked: no key given for %s (give "
			"--key INITIAL-KEY, or --no-key to check the hash chain only)\n", s->unchecked,
			s->unchecked == 1 ? "" : "s", s->key_id);
		return 1;
	}
	if (o->nkeys > 0 && s->macs == 0) {
		fprintf(s->out, "no mac checked although a key was given: the trail is not "
			"sealed\n");
		return 1;
	}
	fprintf(s->out, "%s: %llu record%s, seq %llu..%llu, ", s->macs ? "intact" : "chain intact",
		s->records, s->records == 1 ? "" : "s", s->first_seq, s->prev.seq);
	if (s->trail_id[0])
		fprintf(s->out, "trail %s (host %s, created %s); ", s->trail_id, s->host, s->created);
	else
		fprintf(s->out, "after seq %llu (--after), trail identity not seen; ",
			o->after ? o->after->seq : 0ULL);
	if (s->macs)
		fprintf(s->out, "%llu mac%s checked (%llu unsigned record%s before the first key; "
			"%llu key change%s); ", s->macs, s->macs == 1 ? "" : "s",
			s->records - s->macs, s->records - s->macs == 1 ? "" : "s", s->key_changes,
			s->key_changes == 1 ? "" : "s");
	else
		fprintf(s->out, "NO mac checked (%s): whoever can write the file could have "
			"rewritten it; ", s->unchecked ? "--no-key" : "records are not sealed");
	fprintf(s->out, "head %llu:%s\n", s->prev.seq, s->prev.hash);
	return 0;
}

/* audit_verifier_new - a chain to be given line by line */
audit_verifier *audit_verifier_new(const audit_verify_opts *o, const char *sep, FILE *out)
{
	state *s = pn_calloc(1, sizeof(*s));

	s->o = o;
	s->out = out;
	s->sep = sep ? sep : ":";
	return s;
}

/* audit_verifier_line - the next line of the chain; 0 fine, 1 broken */
int audit_verifier_line(audit_verifier *s, const char *line, size_t len, int complete,
			const char *where, unsigned long n)
{
	if (s->broken || s->done)
		return s->broken;
	s->broken = check_line(s, line, len, complete, where, n) != 0;
	return s->broken;
}

/* audit_verifier_done - nothing more is wanted (o->upto reached, or broken) */
int audit_verifier_done(const audit_verifier *s)
{
	return s->done || s->broken;
}

/* audit_verifier_finish - the verdict (0 intact, 1 not), printed; frees s */
int audit_verifier_finish(audit_verifier *s)
{
	const audit_verify_opts *o = s->o;
	int rc = s->broken;

	if (rc == 0 && s->gap) {
		report_gap(s);
		rc = 1;
	}
	if (rc == 0 && o->checkpoint && !s->checkpoint_seen
	    && !(o->upto && o->checkpoint->seq > o->upto)) {
		fprintf(s->out, "the trail ends at seq %llu but the head is seq %llu: records after "
			"seq %llu were removed (the tail was cut)\n", s->records ? s->prev.seq : 0ULL,
			o->checkpoint->seq, s->records ? s->prev.seq : 0ULL);
		rc = 1;
	}
	if (rc == 0)
		rc = summary(s);
	audit_seal_wipe(&s->cur);
	pn_free(s->prev_at.file);
	pn_free(s->gap_at.file);
	pn_free(s);
	return rc;
}

/* audit_verifier_abandon - free v without a verdict */
void audit_verifier_abandon(audit_verifier *s)
{
	s->broken = 1;
	audit_verifier_finish(s);
}

/* audit_verify_ex - check files as one chain */
int audit_verify_ex(char **files, size_t nfiles, const audit_verify_opts *o, FILE *out)
{
	state *s = audit_verifier_new(o, ":", out);
	size_t i;
	int rc = 0;

	for (i = 0; i < nfiles && rc == 0 && !s->done; i++)
		rc = check_file(s, files[i]);
	if (rc == 2) {
		audit_verifier_abandon(s);
		return 2;
	}
	s->broken = rc;
	return audit_verifier_finish(s);
}

/* audit_verify - one key (or none: the hash chain only) */
int audit_verify(char **files, size_t nfiles, const unsigned char *key, size_t keylen,
		 const audit_head *checkpoint, FILE *out)
{
	audit_verify_opts o;
	audit_seal k;
	int rc;

	memset(&o, 0, sizeof(o));
	o.checkpoint = checkpoint;
	if (key && audit_seal_from_bytes(key, keylen, &k) == 0) {
		o.keys = &k;
		o.nkeys = 1;
	} else {
		o.no_key = 1;
	}
	rc = audit_verify_ex(files, nfiles, &o, out);
	if (o.nkeys)
		audit_seal_wipe(&k);
	return rc;
}
