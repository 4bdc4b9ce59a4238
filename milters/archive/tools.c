/* SPDX-License-Identifier: BSD-2-Clause */
/* tools - postern-archive subcommands: search, get, export, verify, ... (see tools.h) */
#include "milters/archive/tools.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/privs.h"
#include "milters/archive/export.h"
#include "milters/archive/archive_milter.h"
#include "milters/archive/maint.h"
#include "milters/archive/query.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "postern-archive"

enum {
	O_FROM = 256, O_TO, O_SUBJECT, O_TEXT, O_SINCE, O_UNTIL, O_MSGID, O_ATTACH, O_LARGER,
	O_HELD, O_JSON, O_KEY, O_CERT, O_MBOX, O_MAILDIR, O_EML, O_DRYRUN, O_ASOF, O_REASON
};

static const struct option query_options[] = {
	{"from", required_argument, NULL, O_FROM},
	{"to", required_argument, NULL, O_TO},
	{"subject", required_argument, NULL, O_SUBJECT},
	{"text", required_argument, NULL, O_TEXT},
	{"since", required_argument, NULL, O_SINCE},
	{"until", required_argument, NULL, O_UNTIL},
	{"message-id", required_argument, NULL, O_MSGID},
	{"attachment", required_argument, NULL, O_ATTACH},
	{"larger", required_argument, NULL, O_LARGER},
	{NULL, 0, NULL, 0}
};

/* Options the subcommands share; each one picks what it accepts. */
typedef struct args {
	arc_query q;
	int json, dry_run, held;
	const char *key, *cert, *mbox, *maildir, *emldir, *reason, *as_of;
} args;

/* count_opts - entries before the terminator */
static size_t count_opts(const struct option *o)
{
	size_t n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

/* parse_args - query options (if with_query), extra options and positional keys */
static int parse_args(int argc, char **argv, int with_query, const struct option *extra,
		      args *a)
{
	size_t nq = with_query ? count_opts(query_options) : 0, ne = count_opts(extra);
	struct option *all = pn_calloc(nq + ne + 1, sizeof(*all));
	int ch, idx, rc = 0;

	memcpy(all, query_options, nq * sizeof(*all));
	if (ne)
		memcpy(all + nq, extra, ne * sizeof(*all));
	memset(a, 0, sizeof(*a));
	arc_query_init(&a->q);
	optind = 0;
	opterr = 1;
	while (rc == 0 && (ch = getopt_long(argc, argv, "", all, &idx)) != -1) {
		char *err = NULL;
		switch (ch) {
		case O_FROM: case O_TO: case O_SUBJECT: case O_TEXT: case O_SINCE: case O_UNTIL:
		case O_MSGID: case O_ATTACH: case O_LARGER:
			if (arc_query_set(&a->q, all[idx].name, optarg, &err) < 0) {
				fprintf(stderr, PROG ": %s\n", err);
				pn_free(err);
				rc = EX_USAGE;
			}
			break;
		case O_HELD: a->held = 1; break;
		case O_JSON: a->json = 1; break;
		case O_KEY: a->key = optarg; break;
		case O_CERT: a->cert = optarg; break;
		case O_MBOX: a->mbox = optarg; break;
		case O_MAILDIR: a->maildir = optarg; break;
		case O_EML: a->emldir = optarg; break;
		case O_DRYRUN: a->dry_run = 1; break;
		case O_ASOF: a->as_of = optarg; break;
		case O_REASON: a->reason = optarg; break;
		default: rc = EX_USAGE; break;
		}
	}
	for (; rc == 0 && optind < argc; optind++)
		arc_query_add_key(&a->q, argv[optind]);
	pn_free(all);
	return rc;
}

/* load_key - the private key for encrypted objects, if one was given */
static int load_key(arc_archive *ar, const args *a, arc_key **key)
{
	char *err = NULL;

	*key = NULL;
	if (a->key == NULL)
		return 0;
	/* the administrator's key file, which the daemon's user may not read */
	if (pn_privs_invoker_begin() < 0) {
		fprintf(stderr, PROG ": cannot read %s as the invoking user: %s\n", a->key,
			strerror(errno));
		return EX_NOPERM;
	}
	*key = arc_key_load(a->key, a->cert, &err);
	pn_privs_invoker_end();
	if (*key == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		pn_free(err);
		return EX_NOINPUT;
	}
	ar->key = *key;
	return 0;
}

/* invoking_user - "name" or "name (sudo from other)" */
static char *invoking_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char *name = pw ? pn_strdup(pw->pw_name) : pn_asprintf("uid %ld", (long)getuid()), *out;

	if (sudo && *sudo)
		out = pn_asprintf("%s (sudo from %s)", name, sudo);
	else
		out = pn_strdup(name);
	pn_free(name);
	return out;
}

/* audit_read - log one read of archived content; -1 when access_log fails */
static int audit_read(const pn_config *cfg, const char *cmd, const char *id, const char *sha)
{
	const char *path = pn_config_str(cfg, "access_log");
	char *user = invoking_user(), *clean = arc_clean(user), now[ARC_TIME_LEN];
	int rc = 0;

	syslog(LOG_MAIL | LOG_NOTICE, "%s: read by user=%s uid=%ld id=%s sha256=%s", cmd, clean,
	       (long)getuid(), id, sha);
	if (*path) {
		/* root's log of root's reads: written with the invoker's rights */
		int fd = pn_privs_invoker_begin() < 0 ? -1
			 : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		char *line;
		pn_privs_invoker_end();
		arc_format_time((long long)time(NULL), now);
		line = pn_asprintf("%s %s: read by user=%s uid=%ld id=%s sha256=%s\n", now, cmd,
				   clean, (long)getuid(), id, sha);
		if (fd < 0 || arc_write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0) {
			fprintf(stderr, PROG ": %s: refusing to read: cannot write access_log %s: %s\n",
				cmd, path, strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
		pn_free(line);
	}
	pn_free(clean);
	pn_free(user);
	return rc;
}

/* print_row - one delivery as text (search, hold list) */
static void print_row(const arc_delivery *d, const arc_row *row)
{
	char when[ARC_TIME_LEN];

	arc_format_time(d->time, when);
	printf("%s\t%s\t%s\t%s", d->id, when, *d->sender ? d->sender : "<>",
	       d->nrcpts ? d->rcpts[0] : "");
	if (d->nrcpts > 1)
		printf(" (+%zu)", d->nrcpts - 1);
	printf("\t%llu\t%s", d->size, d->subject);
	if (row->held)
		printf("\t[held%s%s]", *row->hold_reason ? ": " : "", row->hold_reason);
	putchar('\n');
}

/* print_json - one delivery as a JSON line */
static void print_json(const arc_delivery *d, const arc_row *row)
{
	arc_json_extra extra[] = {
		{"held", 'b', NULL, row->held},
		{"hold_reason", 's', row->hold_reason, 0},
		{"encrypted", 'b', NULL, row->encrypted},
	};
	char *line = arc_delivery_json(d, extra, 3);

	printf("%s\n", line);
	pn_free(line);
}

typedef struct print_ctx {
	int json;
	size_t n;
} print_ctx;

/* print_one - arc_row_fn that prints */
static int print_one(void *ctx, const arc_delivery *d, const arc_row *row)
{
	print_ctx *p = ctx;

	p->n++;
	if (p->json)
		print_json(d, row);
	else
		print_row(d, row);
	return 0;
}

/* current_archive - the archive, its index caught up with every host's
 * journal first (several hosts: a host that is down feeds no index) */
static arc_archive *current_archive(void *state)
{
	arc_archive *ar = archive_of(state);
	char *err = NULL;

	if (ar->shared && arc_archive_catch_up_all(ar, arc_archive_text, ar, NULL, &err) < 0) {
		fprintf(stderr, PROG ": warning: the index may lag behind the journals: %s\n", err);
		pn_free(err);
	}
	return ar;
}

/* failure_status - the exit status of a failed command: EX_TEMPFAIL when
 * the shared index could not be reached (a cron job tries again later) */
static int failure_status(arc_archive *ar)
{
	if (arc_index_unreachable(ar->index) || ar->maint_unreachable)
		return EX_TEMPFAIL;
	return EX_SOFTWARE;
}

/* run_query - search and print; exit status */
static int run_query(arc_archive *ar, const arc_query *q, int json)
{
	print_ctx p = {json, 0};
	char *err = NULL;

	if (arc_index_search(ar->index, q, print_one, &p, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		pn_free(err);
		return failure_status(ar);
	}
	if (fflush(stdout) != 0)
		return EX_IOERR;
	return p.n ? 0 : 1;
}

/* arc_tool_search - list deliveries */
int arc_tool_search(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"json", no_argument, NULL, O_JSON},
		{"held", no_argument, NULL, O_HELD},
		{NULL, 0, NULL, 0}
	};
	args a;
	int rc;

	(void)cfg;
	if ((rc = parse_args(argc, argv, 1, extra, &a)) != 0)
		goto done;
	a.q.held_only = a.held;
	rc = run_query(current_archive(state), &a.q, a.json);
done:
	arc_query_clear(&a.q);
	return rc;
}

typedef struct pick_ctx {
	char sha[65];
	char id[ARC_ID_LEN + 1];
	size_t distinct;
	pn_buf list;
} pick_ctx;

/* pick_object - the objects a key selects */
static int pick_object(void *ctx, const arc_delivery *d, const arc_row *row)
{
	pick_ctx *p = ctx;

	(void)row;
	if (p->distinct == 0 || strcmp(p->sha, d->sha256) != 0) {
		if (p->distinct == 0 || strstr(pn_buf_str(&p->list), d->sha256) == NULL) {
			p->distinct++;
			pn_buf_printf(&p->list, "  %s (delivery %s: %s)\n", d->sha256, d->id, d->subject);
		}
		if (p->distinct == 1) {
			snprintf(p->sha, sizeof(p->sha), "%s", d->sha256);
			snprintf(p->id, sizeof(p->id), "%s", d->id);
		}
	}
	return 0;
}

/* out_write - message bytes to standard output */
static int out_write(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

/* arc_tool_get - one original message to standard output */
int arc_tool_get(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"key", required_argument, NULL, O_KEY},
		{"cert", required_argument, NULL, O_CERT},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = current_archive(state);
	arc_key *key = NULL;
	pick_ctx p;
	args a;
	char *err = NULL;
	int rc, enc = 0;

	memset(&p, 0, sizeof(p));
	pn_buf_init(&p.list, 0);
	if ((rc = parse_args(argc, argv, 0, extra, &a)) != 0)
		goto done;
	if (a.q.nkeys != 1) {
		fprintf(stderr, "usage: " PROG " get [--key FILE [--cert FILE]] ID|SHA256|MESSAGE-ID\n");
		rc = EX_USAGE;
		goto done;
	}
	if (arc_key_classify(a.q.keys[0]) == ARC_KEY_SHA256
	    && arc_store_find(ar->store, a.q.keys[0], NULL, NULL) == 0) {
		snprintf(p.sha, sizeof(p.sha), "%s", a.q.keys[0]);
		snprintf(p.id, sizeof(p.id), "-");
		p.distinct = 1;
	} else if (arc_index_search(ar->index, &a.q, pick_object, &p, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		rc = EX_USAGE;
		goto done;
	}
	if (p.distinct == 0) {
		fprintf(stderr, PROG ": %s: no such message in the archive\n", a.q.keys[0]);
		rc = 1;
		goto done;
	}
	if (p.distinct > 1) {
		fprintf(stderr, PROG ": %s names %zu different messages; get one by SHA-256 or "
			"delivery id:\n%s", a.q.keys[0], p.distinct, pn_buf_str(&p.list));
		rc = 1;
		goto done;
	}
	if ((rc = load_key(ar, &a, &key)) != 0)
		goto done;
	if (arc_store_find(ar->store, p.sha, NULL, &enc) == 0 && enc && key == NULL) {
		fprintf(stderr, PROG ": %s is encrypted: give the private key with --key FILE\n",
			p.sha);
		rc = EX_UNAVAILABLE;
		goto done;
	}
	if (audit_read(cfg, "get", p.id, p.sha) < 0) {
		rc = EX_CANTCREAT;
		goto done;
	}
	if (arc_store_read(ar->store, p.sha, key, out_write, NULL, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		rc = EX_DATAERR;
		goto done;
	}
	rc = fflush(stdout) == 0 ? 0 : EX_IOERR;
done:
	pn_free(err);
	pn_buf_free(&p.list);
	if (ar)
		ar->key = NULL;
	arc_key_free(key);
	arc_query_clear(&a.q);
	return rc;
}

typedef struct export_ctx {
	const pn_config *cfg;
	arc_archive *ar;
	arc_exporter *x;
	char *err;
	size_t n;
	int rc;
} export_ctx;

/* export_one - log the read, then write the message */
static int export_one(void *ctx, const arc_delivery *d, const arc_row *row)
{
	export_ctx *e = ctx;

	(void)row;
	if (audit_read(e->cfg, "export", d->id, d->sha256) < 0) {
		e->rc = EX_CANTCREAT;
		return -1;
	}
	if (arc_export_message(e->x, e->ar, d, &e->err) < 0) {
		e->rc = EX_IOERR;
		return -1;
	}
	e->n++;
	return 0;
}

/* arc_tool_export - selected messages to mbox, Maildir or .eml files */
int arc_tool_export(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"mbox", required_argument, NULL, O_MBOX},
		{"maildir", required_argument, NULL, O_MAILDIR},
		{"eml-dir", required_argument, NULL, O_EML},
		{"key", required_argument, NULL, O_KEY},
		{"cert", required_argument, NULL, O_CERT},
		{NULL, 0, NULL, 0}
	};
	export_ctx e;
	arc_key *key = NULL;
	args a;
	int rc;

	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.ar = current_archive(state);
	if ((rc = parse_args(argc, argv, 1, extra, &a)) != 0)
		goto done;
	if (!!a.mbox + !!a.maildir + !!a.emldir != 1) {
		fprintf(stderr, "usage: " PROG " export [QUERY] (--mbox FILE | --maildir DIR | "
			"--eml-dir DIR) [--key FILE]\n");
		rc = EX_USAGE;
		goto done;
	}
	if ((rc = load_key(e.ar, &a, &key)) != 0)
		goto done;
	/* An mbox is one file the administrator names: opened with root's
	 * rights, then written through that descriptor. A maildir or eml
	 * directory receives a file per message, created with the daemon
	 * user's rights like everything else after the archive is open. */
	if (a.mbox && pn_privs_invoker_begin() < 0) {
		fprintf(stderr, PROG ": cannot create %s as the invoking user: %s\n", a.mbox,
			strerror(errno));
		rc = EX_CANTCREAT;
		goto done;
	}
	e.x = arc_export_open(a.mbox ? ARC_EXPORT_MBOX : a.maildir ? ARC_EXPORT_MAILDIR
			      : ARC_EXPORT_EML, a.mbox ? a.mbox : a.maildir ? a.maildir : a.emldir,
			      &e.err);
	if (a.mbox)
		pn_privs_invoker_end();
	if (e.x == NULL) {
		rc = EX_CANTCREAT;
		goto done;
	}
	if (arc_index_search(e.ar->index, &a.q, export_one, &e, &e.err) < 0 && e.rc == 0)
		e.rc = EX_USAGE;
	if (arc_export_close(e.x, e.err ? NULL : &e.err) < 0 && e.rc == 0)
		e.rc = EX_IOERR;
	rc = e.rc;
	if (rc == 0)
		fprintf(stderr, PROG ": exported %zu deliver%s\n", e.n, e.n == 1 ? "y" : "ies");
done:
	if (e.err)
		fprintf(stderr, PROG ": %s\n", e.err);
	pn_free(e.err);
	if (e.ar)
		e.ar->key = NULL;
	arc_key_free(key);
	arc_query_clear(&a.q);
	return rc;
}

/* arc_tool_verify - check every object, the journal and the index */
int arc_tool_verify(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"key", required_argument, NULL, O_KEY},
		{"cert", required_argument, NULL, O_CERT},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = archive_of(state);
	arc_verify_report rep;
	arc_key *key = NULL;
	char *err = NULL;
	args a;
	int rc;

	(void)cfg;
	if ((rc = parse_args(argc, argv, 0, extra, &a)) != 0 || (rc = load_key(ar, &a, &key)) != 0)
		goto done;
	if (a.q.nkeys) {
		fprintf(stderr, "usage: " PROG " verify [--key FILE [--cert FILE]]\n");
		rc = EX_USAGE;
		goto done;
	}
	rc = arc_verify(ar, stdout, &rep, &err);
	if (rc < 0) {
		fprintf(stderr, PROG ": verify: %s\n", err);
		rc = failure_status(ar);
		goto done;
	}
	printf("verify: %zu objects, %zu deliveries, %zu journal files: ", rep.objects,
	       rep.deliveries, rep.journal_files);
	if (rc == 0)
		printf("no problems");
	else
		printf("%zu corrupt, %zu missing, %zu orphaned, %zu not in index, %zu not in "
		       "journal, %zu differing, %zu damaged journal lines", rep.corrupt, rep.missing,
		       rep.orphaned, rep.not_in_index, rep.not_in_journal, rep.index_differs,
		       rep.damaged_lines);
	if (rep.content_unchecked)
		printf(" (content of %zu encrypted objects not checked: no --key)",
		       rep.content_unchecked);
	printf("\n");
done:
	pn_free(err);
	if (ar)
		ar->key = NULL;
	arc_key_free(key);
	arc_query_clear(&a.q);
	return rc;
}

/* ratio - a / b, 0 when b is 0 */
static double ratio(long long a, long long b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* arc_tool_stats - counts and sizes */
int arc_tool_stats(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = current_archive(state);
	arc_stats st;
	char oldest[ARC_TIME_LEN] = "-", newest[ARC_TIME_LEN] = "-";
	args a;
	int rc;

	(void)cfg;
	if ((rc = parse_args(argc, argv, 0, extra, &a)) != 0)
		goto done;
	arc_index_stats(ar->index, &st);
	if (st.oldest)
		arc_format_time(st.oldest, oldest);
	if (st.newest)
		arc_format_time(st.newest, newest);
	if (a.json) {
		printf("{\"deliveries\":%lld,\"recipients\":%lld,\"objects\":%lld,\"held\":%lld,"
		       "\"encrypted_objects\":%lld,\"message_bytes\":%lld,\"object_bytes\":%lld,"
		       "\"stored_bytes\":%lld,\"oldest\":\"%s\",\"newest\":\"%s\"}\n",
		       st.deliveries, st.recipients, st.objects, st.held, st.encrypted_objects,
		       st.message_bytes, st.object_bytes, st.stored_bytes, oldest, newest);
	} else {
		printf("deliveries: %lld\nrecipients: %lld\nobjects (distinct messages): %lld\n"
		       "held deliveries: %lld\nencrypted objects: %lld\n"
		       "bytes delivered: %lld\nbytes of distinct messages: %lld\nbytes stored: %lld\n"
		       "deduplication: %.2f\ncompression: %.2f\noldest: %s\nnewest: %s\n",
		       st.deliveries, st.recipients, st.objects, st.held, st.encrypted_objects,
		       st.message_bytes, st.object_bytes, st.stored_bytes,
		       ratio(st.message_bytes, st.object_bytes), ratio(st.object_bytes, st.stored_bytes),
		       oldest, newest);
	}
	rc = fflush(stdout) == 0 ? 0 : EX_IOERR;
done:
	arc_query_clear(&a.q);
	return rc;
}

/* arc_tool_reindex - rebuild the index from the journal and the objects */
int arc_tool_reindex(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"key", required_argument, NULL, O_KEY},
		{"cert", required_argument, NULL, O_CERT},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = archive_of(state);
	arc_key *key = NULL;
	char *err = NULL;
	size_t n = 0;
	args a;
	int rc;

	(void)cfg;
	if ((rc = parse_args(argc, argv, 0, extra, &a)) != 0 || (rc = load_key(ar, &a, &key)) != 0)
		goto done;
	if (arc_reindex(ar, &n, &err) < 0) {
		fprintf(stderr, PROG ": reindex: %s\n", err);
		rc = failure_status(ar);
		goto done;
	}
	printf("reindex: %zu journal records applied\n", n);
done:
	pn_free(err);
	if (ar)
		ar->key = NULL;
	arc_key_free(key);
	arc_query_clear(&a.q);
	return rc;
}

/* arc_tool_prune - delete expired deliveries and unused objects */
int arc_tool_prune(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"dry-run", no_argument, NULL, O_DRYRUN},
		{"as-of", required_argument, NULL, O_ASOF},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = archive_of(state);
	arc_prune_report rep;
	long long now = (long long)time(NULL);
	char *err = NULL;
	args a;
	int rc;

	(void)cfg;
	if ((rc = parse_args(argc, argv, 0, extra, &a)) != 0)
		goto done;
	if (a.as_of && arc_parse_time(a.as_of, &now) < 0) {
		fprintf(stderr, PROG ": --as-of %s: not a time\n", a.as_of);
		rc = EX_USAGE;
		goto done;
	}
	if (arc_prune(ar, now, a.dry_run, stdout, &rep, &err) < 0) {
		fprintf(stderr, PROG ": prune: %s\n", err);
		rc = failure_status(ar);
		goto done;
	}
	printf("prune: %zu deliveries and %zu objects (%llu bytes) %s\n", rep.deliveries,
	       rep.objects, rep.stored_bytes, a.dry_run ? "would be deleted" : "deleted");
done:
	pn_free(err);
	arc_query_clear(&a.q);
	return rc;
}

/* arc_tool_hold - hold add|remove|list QUERY */
int arc_tool_hold(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option extra[] = {
		{"reason", required_argument, NULL, O_REASON},
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0}
	};
	arc_archive *ar = archive_of(state);
	const char *sub = argc > 1 ? argv[1] : "";
	struct timeval tv;
	char *err = NULL, *user;
	size_t n = 0;
	args a;
	int rc, add = strcmp(sub, "add") == 0;

	(void)cfg;
	memset(&a, 0, sizeof(a));
	arc_query_init(&a.q);
	if (!add && strcmp(sub, "remove") != 0 && strcmp(sub, "list") != 0) {
		fprintf(stderr, "usage: " PROG " hold add|remove|list [--reason TEXT] QUERY\n");
		return EX_USAGE;
	}
	if ((rc = parse_args(argc - 1, argv + 1, 1, extra, &a)) != 0)
		goto done;
	if (strcmp(sub, "list") == 0) {
		a.q.held_only = 1;
		rc = run_query(ar, &a.q, a.json);
		goto done;
	}
	if (arc_query_is_empty(&a.q)) {
		fprintf(stderr, PROG ": hold %s needs a query (use --since 1970-01-01 to mean "
			"everything)\n", sub);
		rc = EX_USAGE;
		goto done;
	}
	gettimeofday(&tv, NULL);
	user = invoking_user();
	rc = arc_hold(ar, &a.q, add, a.reason, user, (long long)tv.tv_sec * 1000000LL + tv.tv_usec,
		      &n, &err);
	pn_free(user);
	if (rc < 0) {
		fprintf(stderr, PROG ": hold: %s\n", err);
		rc = failure_status(ar);
		goto done;
	}
	printf("hold: %zu deliver%s %s\n", n, n == 1 ? "y" : "ies",
	       add ? "put under hold" : "released");
done:
	pn_free(err);
	arc_query_clear(&a.q);
	return rc;
}
