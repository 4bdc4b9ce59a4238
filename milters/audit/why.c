/* SPDX-License-Identifier: BSD-2-Clause */
/* why - one message's whole story, told from the audit trail (see why.h) */
#include "milters/audit/jsonval.h"
#include "milters/audit/why.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/audit/headfile.h"
#include "milters/audit/reader.h"
#include "milters/audit/seal.h"
#include "milters/audit/state.h"
#include "milters/audit/trail.h"
#include "milters/audit/verify.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/* One record of the story. */
typedef struct found {
	json_object *rec;
	unsigned long long seq;
} found;

typedef struct story {
	const char *id;		/* as asked, without angle brackets */
	found *recs;
	size_t n, cap;
	char **qids;		/* queue ids of the records found */
	size_t nqids;
	char **sessions;	/* "IP port" of their SMTP sessions */
	size_t nsessions;
} story;

/* same_id - a Message-ID equal to id, angle brackets or not */
static int same_id(const char *mid, const char *id)
{
	size_t n;

	if (mid == NULL)
		return 0;
	if (mid[0] == '<')
		mid++;
	n = strlen(mid);
	if (n && mid[n - 1] == '>')
		n--;
	return n == strlen(id) && strncmp(mid, id, n) == 0;
}

/* has_qid - a queue id already among the story's */
static int has_qid(const story *s, const char *qid)
{
	size_t i;

	for (i = 0; qid && i < s->nqids; i++)
		if (strcmp(s->qids[i], qid) == 0)
			return 1;
	return 0;
}

/* session_of - "IP port" of a record's client, new, or NULL */
static char *session_of(json_object *rec)
{
	json_object *c = jv_member(rec, "client"), *port = jv_member(c, "port");

	if (jv_str(c, "ip") == NULL || port == NULL)
		return NULL;
	return pn_asprintf("%s %lld", jv_str(c, "ip"), (long long)json_object_get_int64(port));
}

/* same_session - a record without a queue id from one of the story's
 * SMTP sessions (a recipient or sender refused before Postfix named the
 * transaction) */
static int same_session(const story *s, json_object *rec)
{
	char *me;
	size_t i;
	int hit = 0;

	if (jv_str(rec, "queue_id") || (me = session_of(rec)) == NULL)
		return 0;
	for (i = 0; i < s->nsessions && !hit; i++)
		hit = strcmp(s->sessions[i], me) == 0;
	pn_free(me);
	return hit;
}

/* wanted - a record of the story: its queue id, or its Message-ID */
static int wanted(const story *s, json_object *rec, int by_qids)
{
	const char *qid = jv_str(rec, "queue_id");

	if (by_qids)
		return has_qid(s, qid) || same_session(s, rec);
	return (qid && strcmp(qid, s->id) == 0) || same_id(jv_str(jv_member(rec, "headers"), "message_id"),
							   s->id);
}

/* take - keep a record of the story (the reference is taken) */
static void take(story *s, json_object *rec)
{
	json_object *v = jv_member(rec, "seq");
	const char *qid = jv_str(rec, "queue_id");
	char *session;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->recs = pn_realloc(s->recs, s->cap * sizeof(*s->recs));
	}
	s->recs[s->n].rec = rec;
	s->recs[s->n].seq = v ? (unsigned long long)json_object_get_int64(v) : 0;
	s->n++;
	if (qid && !has_qid(s, qid)) {
		s->qids = pn_realloc(s->qids, (s->nqids + 1) * sizeof(char *));
		s->qids[s->nqids++] = pn_strdup(qid);
	}
	if (qid && (session = session_of(rec)) != NULL) {
		s->sessions = pn_realloc(s->sessions, (s->nsessions + 1) * sizeof(char *));
		s->sessions[s->nsessions++] = session;
	}
}

/* taken - a seq already in the story */
static int taken(const story *s, unsigned long long seq)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->recs[i].seq == seq)
			return 1;
	return 0;
}

/* read_files - one pass over the trail; by_qids: records of the queue ids
 * found so far, else of the id asked. -1 when a file cannot be read. */
static int read_files(story *s, char **files, int by_qids)
{
	json_tokener *tok = json_tokener_new();
	size_t i;
	int rc = 0;

	for (i = 0; files[i]; i++) {
		char *err = NULL;
		audit_reader *r = audit_reader_open(files[i], &err);
		const char *line;
		size_t len;
		int complete;

		if (r == NULL) {
			fprintf(stderr, "postern-audit: why: %s\n", err);
			pn_free(err);
			rc = -1;
			continue;
		}
		while (audit_reader_line(r, &line, &len, &complete) == 1) {
			json_object *rec, *seq;
			/* a cheap look first: most lines are not this message's */
			if (!by_qids && memmem(line, len, s->id, strlen(s->id)) == NULL)
				continue;
			json_tokener_reset(tok);
			rec = json_tokener_parse_ex(tok, line, (int)len);
			if (rec == NULL)
				continue;
			seq = jv_member(rec, "seq");
			if (wanted(s, rec, by_qids)
			    && !(by_qids && seq && taken(s, (unsigned long long)json_object_get_int64(seq))))
				take(s, rec);
			else
				json_object_put(rec);
		}
		if (audit_reader_close(r, &err) < 0) {
			fprintf(stderr, "postern-audit: why: %s\n", err);
			pn_free(err);
		}
	}
	json_tokener_free(tok);
	return rc;
}

/* by_seq - trail order */
static int by_seq(const void *a, const void *b)
{
	const found *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* line_of - join an array of strings (or of {addr}) */
static void line_of(pn_buf *b, json_object *arr, const char *sep)
{
	size_t i;

	for (i = 0; arr && json_object_is_type(arr, json_type_array)
		    && i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		const char *a = json_object_is_type(it, json_type_string) ? json_object_get_string(it)
			: jv_str(it, "addr");
		if (a == NULL)
			continue;
		if (pn_buf_len(b))
			pn_buf_puts(b, sep);
		pn_buf_printf(b, "<%s>", a);
	}
}

/* print_session - client, helo, TLS */
static void print_session(json_object *rec)
{
	json_object *c = jv_member(rec, "client"), *t = jv_member(rec, "tls"), *v;
	const char *s;

	printf("    session: client %s", jv_str(c, "ip") ? jv_str(c, "ip") : "(local)");
	if ((s = jv_str(c, "name")) != NULL)
		printf(" [%s]", s);
	if ((s = jv_str(c, "helo")) != NULL)
		printf(", helo %s", s);
	if (t == NULL) {
		printf(", no TLS\n");
		return;
	}
	printf(", %s %s", jv_str(t, "version") ? jv_str(t, "version") : "TLS",
	       jv_str(t, "cipher") ? jv_str(t, "cipher") : "");
	if ((v = jv_member(t, "bits")) != NULL)
		printf(" %lld bits", (long long)json_object_get_int64(v));
	if ((v = jv_member(t, "verified")) != NULL)
		printf(", client certificate %s", json_object_get_boolean(v) ? "verified"
			: "not verified");
	if ((s = jv_str(t, "cert_subject")) != NULL)
		printf(" (%s)", s);
	printf("\n");
}

/* print_record - one record of the story, as text */
static void print_record(json_object *rec, unsigned long long seq)
{
	json_object *env = jv_member(rec, "envelope"), *eng = jv_member(rec, "engines");
	json_object *ref = jv_member(rec, "refusal"), *v;
	const char *event = jv_str(rec, "event"), *s;
	pn_buf b;

	printf("seq %llu  %s  %s", seq, jv_str(rec, "ts") ? jv_str(rec, "ts") : "", event ? event : "?");
	if ((s = jv_str(rec, "queue_id")) != NULL)
		printf("  queue id %s", s);
	if ((v = jv_member(rec, "corrects_seq")) != NULL)
		printf("  (corrects seq %lld)", (long long)json_object_get_int64(v));
	printf("\n");
	if (jv_member(rec, "client"))
		print_session(rec);
	if (env) {
		pn_buf_init(&b, 0);
		line_of(&b, jv_member(env, "rcpt"), ", ");
		printf("    from <%s> to %s\n", jv_str(env, "from") ? jv_str(env, "from") : "",
		       pn_buf_len(&b) ? pn_buf_str(&b) : "(no recipient)");
		pn_buf_free(&b);
	}
	if ((s = jv_str(jv_member(rec, "headers"), "message_id")) != NULL)
		printf("    message-id %s\n", s);
	if ((s = jv_str(jv_member(rec, "headers"), "subject")) != NULL)
		printf("    subject %s\n", s);
	if ((s = jv_str(rec, "sha256")) != NULL)
		printf("    sha256 %s\n", s);
	if (ref) {
		printf("    refused at %s by %s: %s", jv_str(ref, "step") ? jv_str(ref, "step") : "?",
		       jv_str(ref, "by") ? jv_str(ref, "by") : "?",
		       jv_str(ref, "verdict") ? jv_str(ref, "verdict") : "?");
		if ((s = jv_str(ref, "code")) != NULL)
			printf(" %s", s);
		if ((s = jv_str(ref, "xcode")) != NULL)
			printf(" %s", s);
		if ((s = jv_str(ref, "text")) != NULL)
			printf(" %s", s);
		printf("\n");
		if ((s = jv_str(ref, "reason")) != NULL)
			printf("    reason: %s\n", s);
	}
	if (eng && json_object_is_type(eng, json_type_object)) {
		printf("    engines:\n");
		json_object_object_foreach(eng, name, notes) {
			printf("      %s:", name);
			if (json_object_is_type(notes, json_type_object)) {
				json_object_object_foreach(notes, key, val)
					printf(" %s=%s;", key, json_object_is_type(val, json_type_string)
					       ? json_object_get_string(val) : "?");
			}
			printf("\n");
		}
		if ((s = jv_str(jv_member(eng, "archive"), "id")) != NULL)
			printf("    archive id %s\n", s);
	} else if (event && strcmp(event, "message") == 0) {
		printf("    engines: no notes (postern-audit ran on its own)\n");
	}
}

/* verify_upto - does the chain verify up to seq? the verdict's line in
 * *detail. hf: the daemon's head file, for the trail's identity, or NULL */
static int verify_upto(char **files, const audit_seal *keys, size_t nkeys,
		       unsigned long long seq, const audit_headfile *hf, char **detail)
{
	audit_verify_opts vo;
	char *out = NULL, *nl;
	size_t len = 0, n = 0;
	FILE *f;
	int rc;

	memset(&vo, 0, sizeof(vo));
	vo.keys = keys;
	vo.nkeys = nkeys;
	vo.no_key = nkeys == 0;
	vo.upto = seq;
	if (hf) {
		/* the configured trail must be the one its daemon keeps */
		vo.trail_id = hf->trail_id;
		vo.host = hf->host;
	}
	while (files[n])
		n++;
	if ((f = open_memstream(&out, &len)) == NULL) {
		*detail = pn_strdup("cannot verify: out of memory");
		return 2;
	}
	rc = audit_verify_ex(files, n, &vo, f);
	fclose(f);
	if ((nl = strchr(out ? out : "", '\n')) != NULL)
		*nl = '\0';
	*detail = pn_strdup(out ? out : "");
	free(out);
	return rc;
}

/* free_strv - a NULL-terminated vector */
static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* usage - the synopsis */
static int usage(void)
{
	fprintf(stderr, "usage: postern-audit why [--json] [--key FILE]... QUEUEID|MESSAGE-ID "
		"[FILE...]\n");
	return EX_USAGE;
}

/* audit_why_tool - print one message's story */
int audit_why_tool(const pn_config *cfg, void *engine_state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"key", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0}
	};
	const audit_state *st = engine_state;
	audit_seal *keys = NULL;
	size_t nkeys = 0, i;
	story s;
	char **files = NULL, *id, *err = NULL, *detail = NULL;
	int ch, json = 0, rc = EX_USAGE, vrc, have_head = 0;
	audit_headfile hf;

	memset(&s, 0, sizeof(s));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j') {
			json = 1;
		} else if (ch == 'k') {
			keys = pn_realloc(keys, (nkeys + 1) * sizeof(*keys));
			if (audit_seal_load(optarg, AUDIT_SEAL_NO_CHECK, &keys[nkeys], &err) < 0) {
				fprintf(stderr, "postern-audit: why: %s\n", err);
				pn_free(err);
				rc = EX_NOINPUT;
				goto out;
			}
			nkeys++;
		} else {
			rc = usage();
			goto out;
		}
	}
	if (optind >= argc || argv[optind][0] == '\0') {
		rc = usage();
		goto out;
	}
	id = argv[optind++];
	if (id[0] == '<')
		id++;
	s.id = id = pn_strdup(id);
	if (*id && id[strlen(id) - 1] == '>')
		id[strlen(id) - 1] = '\0';
	if (optind < argc) {
		files = pn_calloc((size_t)(argc - optind) + 1, sizeof(char *));
		for (i = 0; (int)i < argc - optind; i++)
			files[i] = pn_strdup(argv[optind + (int)i]);
	} else if (st == NULL || st->trail_file[0] == '\0') {
		fprintf(stderr, "postern-audit: why: no FILE given and no trail_file configured\n");
		rc = EX_NOINPUT;
		goto out_id;
	} else {
		char *head = audit_trail_head_path(st->trail_file,
						   cfg ? pn_config_str(cfg, "head_file") : "");
		files = audit_trail_files(st->trail_file);
		have_head = audit_headfile_read(head, &hf, &err) == 1;
		if (err) {
			fprintf(stderr, "postern-audit: why: %s\n", err);
			pn_free(err);
			err = NULL;
		}
		pn_free(head);
	}
	if (files[0] == NULL || read_files(&s, files, 0) < 0) {
		if (files[0] == NULL)
			fprintf(stderr, "postern-audit: why: no trail files\n");
		rc = EX_NOINPUT;
		goto out_id;
	}
	/* a Message-ID leads to queue ids, whose refused attempts have no
	 * headers; refusals before the queue id was known are the session's */
	if (s.nqids)
		read_files(&s, files, 1);
	if (s.n == 0) {
		if (json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(s.id));
			json_object_object_add(o, "found", json_object_new_boolean(0));
			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		} else
			printf("%s: no record in the trail\n", s.id);
		rc = 1;
		goto out_id;
	}
	qsort(s.recs, s.n, sizeof(*s.recs), by_seq);
	vrc = verify_upto(files, keys, nkeys, s.recs[s.n - 1].seq, have_head ? &hf : NULL,
			  &detail);
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array(), *v;
		json_object_object_add(o, "id", json_object_new_string(s.id));
		json_object_object_add(o, "found", json_object_new_boolean(1));
		for (i = 0; i < s.nqids; i++)
			json_object_array_add(a, json_object_new_string(s.qids[i]));
		json_object_object_add(o, "queue_ids", a);
		a = json_object_new_array();
		for (i = 0; i < s.n; i++)
			json_object_array_add(a, json_object_get(s.recs[i].rec));
		json_object_object_add(o, "records", a);
		v = json_object_new_object();
		json_object_object_add(v, "ok", json_object_new_boolean(vrc == 0));
		json_object_object_add(v, "upto_seq",
				       json_object_new_int64((int64_t)s.recs[s.n - 1].seq));
		json_object_object_add(v, "macs_checked", json_object_new_boolean(vrc == 0
				       && nkeys > 0));
		json_object_object_add(v, "detail", json_object_new_string(detail));
		json_object_object_add(o, "verify", v);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN
							      | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%s: %zu record%s", s.id, s.n, s.n == 1 ? "" : "s");
		if (s.nqids) {
			printf(", queue id%s", s.nqids == 1 ? "" : "s");
			for (i = 0; i < s.nqids; i++)
				printf(" %s", s.qids[i]);
		}
		printf("\n");
		for (i = 0; i < s.n; i++)
			print_record(s.recs[i].rec, s.recs[i].seq);
		printf("chain: %s up to seq %llu: %s\n",
		       vrc == 0 ? (nkeys ? "verifies (macs checked)"
				   : "hash chain verifies (no mac checked: give --key)")
		       : "DOES NOT VERIFY", s.recs[s.n - 1].seq, detail);
	}
	rc = fflush(stdout) == 0 ? 0 : EX_IOERR;
out_id:
	pn_free(id);
out:
	for (i = 0; i < s.n; i++)
		json_object_put(s.recs[i].rec);
	pn_free(s.recs);
	for (i = 0; i < s.nqids; i++)
		pn_free(s.qids[i]);
	pn_free(s.qids);
	for (i = 0; i < s.nsessions; i++)
		pn_free(s.sessions[i]);
	pn_free(s.sessions);
	pn_free(detail);
	free_strv(files);
	for (i = 0; i < nkeys; i++)
		audit_seal_wipe(&keys[i]);
	pn_free(keys);
	return rc;
}
