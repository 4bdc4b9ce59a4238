/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-audit - tamper-evident JSON audit trail of every message
 *
 * The daemon (serve) writes one record per message and per connection
 * without a message (audit_milter.c, record.c, trail.c). The tools read what it
 * wrote with the same code: export (export.c), verify (verify.c),
 * checkpoint (trail.c's recovery of the chain head) and why (why.c: one
 * message's story); with a central store in PostgreSQL, db and ship
 * (store_tools.c) and export/verify --database (central.c). See
 * postern-audit(8).
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "milters/audit/chain.h"
#include "milters/audit/export.h"
#include "milters/audit/headfile.h"
#include "milters/audit/seal.h"
#include "milters/audit/audit_milter.h"
#include "milters/audit/central.h"
#include "milters/audit/store_tools.h"
#include "milters/audit/reader.h"
#include "milters/audit/record.h"
#include "milters/audit/siem.h"
#include "milters/audit/siem_fields.h"
#include "milters/audit/tail.h"
#include "milters/audit/state.h"
#include "milters/audit/trail.h"
#include "milters/audit/verify.h"
#include "milters/audit/why.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* free_strv - free a NULL-terminated vector */
static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* input_files - files named on the command line, else the configured trail */
static char **input_files(const audit_state *st, int argc, char **argv, const char *tool)
{
	char **v;
	int i;

	if (optind < argc) {
		v = pn_calloc((size_t)(argc - optind) + 1, sizeof(char *));
		for (i = optind; i < argc; i++)
			v[i - optind] = pn_strdup(argv[i]);
		return v;
	}
	if (st->trail_file[0] == '\0') {
		fprintf(stderr, "postern-audit: %s: no FILE given and no trail_file configured\n",
			tool);
		return NULL;
	}
	v = audit_trail_files(st->trail_file);
	if (v[0] == NULL) {
		fprintf(stderr, "postern-audit: %s: no trail files at %s\n", tool, st->trail_file);
		free_strv(v);
		return NULL;
	}
	return v;
}

/* add_filter - one command-line condition, with its pseudonym when configured */
static int add_filter(const audit_state *st, audit_filter *f, audit_filter_kind kind,
		      const char *value)
{
	char *err = NULL;

	if (audit_filter_add(f, kind, value, &err) < 0) {
		fprintf(stderr, "postern-audit: export: %s\n", err);
		pn_free(err);
		return -1;
	}
	/* Records hold pseudonyms: look for the one this address would get. */
	if ((kind == AUDIT_F_FROM || kind == AUDIT_F_RCPT) && st->pseudonymize && value[0] != '@') {
		char *p = audit_pseudonym(st, value);
		audit_filter_add(f, kind, p, &err);
		pn_free(p);
	}
	return 0;
}

/* export_database - the export from the central store, across hosts */
static int export_database(const audit_state *st, const audit_filter *f, audit_format fmt,
			   const char *conninfo, int argc)
{
	audit_export *x;
	char *err = NULL;
	PGconn *c;
	int rc = 0;

	if (optind < argc) {
		fprintf(stderr, "postern-audit: export: --database reads no FILE\n");
		return EX_USAGE;
	}
	if ((c = audit_store_connect(st, conninfo, "export", &rc)) == NULL)
		return rc == EX_TEMPFAIL ? EX_NOINPUT : rc;
	x = audit_export_new(f, fmt, stdout);
	if (audit_central_export(c, x, f, &err) < 0) {
		fprintf(stderr, "postern-audit: export: %s\n", err);
		pn_free(err);
		rc = EX_NOINPUT;
	}
	if (audit_export_finish(x) < 0) {
		fprintf(stderr, "postern-audit: export: write error\n");
		rc = EX_IOERR;
	}
	PQfinish(c);
	return rc;
}

/* tool_export - filtered records from trail files as JSON, JSONL or CSV */
static int tool_export(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
		{"from", required_argument, NULL, 'f'}, {"rcpt", required_argument, NULL, 'r'},
		{"client", required_argument, NULL, 'c'}, {"country", required_argument, NULL, 'C'},
		{"queue-id", required_argument, NULL, 'q'}, {"format", required_argument, NULL, 'F'},
		{"database", no_argument, NULL, 'D'}, {"connection", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0}
	};
	const audit_state *st = state;
	const char *conninfo = NULL;
	int database = 0;
	audit_format fmt = AUDIT_FMT_JSON;
	audit_filter f;
	audit_export *x;
	char **files;
	int ch, rc = 0, bad;
	size_t i;

	(void)cfg;
	audit_filter_init(&f);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		audit_filter_kind k;
		switch (ch) {
		case 's': k = AUDIT_F_SINCE; break;
		case 'u': k = AUDIT_F_UNTIL; break;
		case 'f': k = AUDIT_F_FROM; break;
		case 'r': k = AUDIT_F_RCPT; break;
		case 'c': k = AUDIT_F_CLIENT; break;
		case 'C': k = AUDIT_F_COUNTRY; break;
		case 'q': k = AUDIT_F_QUEUE_ID; break;
		case 'D':
			database = 1;
			continue;
		case 'K':
			conninfo = optarg;
			continue;
		case 'F':
			if (strcmp(optarg, "json") == 0)
				fmt = AUDIT_FMT_JSON;
			else if (strcmp(optarg, "jsonl") == 0)
				fmt = AUDIT_FMT_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				fmt = AUDIT_FMT_CSV;
			else if (audit_siem_format_parse(optarg, &fmt) == 0)
				;
			else {
				fprintf(stderr, "postern-audit: export: --format must be json, jsonl, "
					"csv, ecs, ocsf or cim\n");
				audit_filter_free(&f);
				return EX_USAGE;
			}
			continue;
		default:
			fprintf(stderr, "usage: postern-audit export [--since T] [--until T] "
				"[--from ADDR|@DOMAIN] [--rcpt ADDR|@DOMAIN] [--client CIDR] "
				"[--country CC] [--queue-id ID] "
				"[--format json|jsonl|csv|ecs|ocsf|cim] [--database [--connection STR] | "
				"FILE...]\n");
			audit_filter_free(&f);
			return EX_USAGE;
		}
		if (add_filter(st, &f, k, optarg) < 0) {
			audit_filter_free(&f);
			return EX_USAGE;
		}
	}
	if (database || conninfo) {
		rc = export_database(st, &f, fmt, conninfo, argc);
		audit_filter_free(&f);
		return rc;
	}
	if ((files = input_files(st, argc, argv, "export")) == NULL) {
		audit_filter_free(&f);
		return EX_NOINPUT;
	}
	x = audit_export_new(&f, fmt, stdout);
	for (i = 0; files[i]; i++) {
		char *err = NULL;
		audit_reader *r = audit_reader_open(files[i], &err);
		const char *line;
		size_t len;
		int complete, got;

		if (r == NULL) {
			fprintf(stderr, "postern-audit: export: %s\n", err);
			pn_free(err);
			rc = EX_NOINPUT;
			continue;
		}
		while ((got = audit_reader_line(r, &line, &len, &complete)) == 1) {
			bad = audit_export_line(x, line, len) < 0;
			if (bad || !complete)
				fprintf(stderr, "postern-audit: export: %s:%lu: %s, skipped\n", files[i],
					audit_reader_lineno(r),
					bad ? "not a JSON record" : "record cut short (exported anyway)");
		}
		if (got < 0) {
			fprintf(stderr, "postern-audit: export: %s: read error or line too long\n",
				files[i]);
			rc = EX_IOERR;
		}
		if (audit_reader_close(r, &err) < 0) {
			fprintf(stderr, "postern-audit: export: %s\n", err);
			pn_free(err);
			rc = EX_IOERR;
		}
	}
	if (audit_export_finish(x) < 0) {
		fprintf(stderr, "postern-audit: export: write error\n");
		rc = EX_IOERR;
	}
	free_strv(files);
	audit_filter_free(&f);
	return rc;
}

/* verify_usage - the synopsis */
static int verify_usage(void)
{
	fprintf(stderr, "usage: postern-audit verify [--key FILE]... [--no-key] [--head SEQ:SHA256] "
		"[--head-file FILE] [--host NAME] [--after SEQ:SHA256] [FILE...]\n"
		"       postern-audit verify --database [--connection STR] [--key FILE]... "
		"[--no-key]\n");
	return EX_USAGE;
}

/* verify_database - every host's trails in the central store */
static int verify_database(const audit_state *st, const audit_verify_opts *vo,
			  const char *conninfo)
{
	char *err = NULL;
	PGconn *c;
	int rc = 0;

	if ((c = audit_store_connect(st, conninfo, "verify", &rc)) == NULL)
		return rc == EX_TEMPFAIL ? EX_NOINPUT : rc;
	rc = audit_central_verify(c, vo, stdout, &err);
	if (rc < 0) {
		fprintf(stderr, "postern-audit: verify: %s\n", err);
		pn_free(err);
		rc = EX_NOINPUT;
	}
	PQfinish(c);
	return rc;
}

/* tool_verify - check the chain, identity and seals across files */
static int tool_verify(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'}, {"head", required_argument, NULL, 'H'},
		{"no-key", no_argument, NULL, 'n'}, {"head-file", required_argument, NULL, 'F'},
		{"host", required_argument, NULL, 'h'}, {"after", required_argument, NULL, 'a'},
		{"database", no_argument, NULL, 'D'}, {"connection", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0}
	};
	const audit_state *st = state;
	const char *conninfo = NULL;
	int database = 0, file_opts = 0;
	audit_verify_opts vo;
	audit_seal *keys = NULL;
	audit_headfile hf;
	audit_head head, after;
	const char *head_file = NULL;
	char *default_head = NULL;
	int ch, rc = EX_USAGE, got;
	char **files = NULL, *err = NULL;
	size_t n = 0, i;

	memset(&vo, 0, sizeof(vo));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keys = pn_realloc(keys, (vo.nkeys + 1) * sizeof(*keys));
			/* The offline copy: its mode is the auditor's business. */
			if (audit_seal_load(optarg, AUDIT_SEAL_NO_CHECK, &keys[vo.nkeys], &err) < 0) {
				fprintf(stderr, "postern-audit: verify: %s\n", err);
				pn_free(err);
				rc = EX_NOINPUT;
				goto out;
			}
			vo.nkeys++;
			break;
		case 'n':
			vo.no_key = 1;
			break;
		case 'H':
			if (audit_head_parse(optarg, &head) < 0) {
				fprintf(stderr, "postern-audit: verify: --head wants SEQ:SHA256 as "
					"printed by postern-audit checkpoint\n");
				goto out;
			}
			vo.checkpoint = &head;
			break;
		case 'a':
			if (audit_head_parse(optarg, &after) < 0) {
				fprintf(stderr, "postern-audit: verify: --after wants SEQ:SHA256\n");
				goto out;
			}
			vo.after = &after;
			break;
		case 'F':
			head_file = optarg;
			break;
		case 'h':
			vo.host = optarg;
			break;
		case 'D':
			database = 1;
			break;
		case 'K':
			conninfo = optarg;
			break;
		default:
			rc = verify_usage();
			goto out;
		}
		file_opts |= ch == 'H' || ch == 'a' || ch == 'F' || ch == 'h';
	}
	vo.keys = keys;
	if (vo.no_key && vo.nkeys) {
		fprintf(stderr, "postern-audit: verify: --key and --no-key exclude each other\n");
		goto out;
	}
	if (database || conninfo) {
		if (file_opts || optind < argc) {
			fprintf(stderr, "postern-audit: verify: --database checks every trail in the "
				"database: no FILE, --head, --head-file, --host or --after\n");
			goto out;
		}
		rc = verify_database(st, &vo, conninfo);
		goto out;
	}
	/* The configured trail is checked against the head its daemon keeps. */
	if (head_file == NULL && optind >= argc && st->trail_file[0]) {
		default_head = audit_trail_head_path(st->trail_file, pn_config_str(cfg, "head_file"));
		head_file = default_head;
	}
	if (head_file) {
		got = audit_headfile_read(head_file, &hf, &err);
		if (got < 0 || (got == 0 && default_head == NULL)) {
			fprintf(stderr, "postern-audit: verify: %s\n", got < 0 ? err
				: "--head-file: no such file");
			pn_free(err);
			rc = EX_NOINPUT;
			goto out;
		}
		if (got == 1) {
			vo.trail_id = hf.trail_id;
			if (vo.host == NULL)
				vo.host = hf.host;
			if (vo.checkpoint == NULL) {
				head.seq = hf.seq;
				memcpy(head.hash, hf.hash, sizeof(head.hash));
				vo.checkpoint = &head;
			}
		}
	}
	if ((files = input_files(st, argc, argv, "verify")) == NULL) {
		rc = EX_NOINPUT;
		goto out;
	}
	while (files[n])
		n++;
	rc = audit_verify_ex(files, n, &vo, stdout);
	rc = rc == 2 ? EX_NOINPUT : rc;
out:
	for (i = 0; i < vo.nkeys; i++)
		audit_seal_wipe(&keys[i]);
	pn_free(keys);
	pn_free(default_head);
	free_strv(files);
	return rc;
}

/* tool_checkpoint - print the head of the trail (SEQ:SHA256) to keep elsewhere */
static int tool_checkpoint(const pn_config *cfg, void *state, int argc, char **argv)
{
	const audit_state *st = state;
	const char *path = argc > 1 ? argv[1] : st->trail_file;
	audit_head head;
	char *where = NULL, *err = NULL;

	(void)cfg;
	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: postern-audit checkpoint [FILE]\n");
		return EX_USAGE;
	}
	if (path[0] == '\0') {
		fprintf(stderr, "postern-audit: checkpoint: no FILE given and no trail_file "
			"configured\n");
		return EX_USAGE;
	}
	if (audit_trail_head(path, &head, &where, &err) < 0) {
		fprintf(stderr, "postern-audit: checkpoint: %s\n", err);
		pn_free(err);
		pn_free(where);
		return EX_DATAERR;
	}
	if (head.seq == 0) {
		fprintf(stderr, "postern-audit: checkpoint: %s holds no records yet\n", path);
		pn_free(where);
		return EX_DATAERR;
	}
	printf("%llu:%s\n", head.seq, head.hash);
	pn_free(where);
	return 0;
}

/* tool_fields - the SIEM fields the export formats use: format, name, type, requirement */
static int tool_fields(const pn_config *cfg, void *state, int argc, char **argv)
{
	const audit_siem_field *f;
	const char *only = NULL;

	(void)cfg;
	(void)state;
	if (argc == 3 && strcmp(argv[1], "--format") == 0)
		only = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: postern-audit fields [--format ecs|ocsf|cim]\n");
		return EX_USAGE;
	}
	for (f = audit_siem_fields; f->name; f++)
		if (only == NULL || strcmp(only, audit_siem_format_name(f->fmt)) == 0)
			printf("%s\t%s\t%s\t%s\n", audit_siem_format_name(f->fmt), f->name, f->type,
			       f->requirement);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

static const pn_tool audit_tools[] = {
	{"export", "[--since T] [--until T] [--from ADDR|@DOMAIN] [--rcpt ADDR|@DOMAIN] "
		   "[--client CIDR] [--country CC] [--queue-id ID] "
		   "[--format json|jsonl|csv|ecs|ocsf|cim] "
		   "[--database [--connection STR] | FILE...]",
	 "write the records that match as JSON, JSON Lines, CSV or SIEM events (--database: "
	 "every host's, from the central store)", tool_export},
	{"verify", "[--key FILE]... [--no-key] [--head SEQ:SHA256] [--head-file FILE] [--host NAME] "
		   "[--after SEQ:SHA256] [--database [--connection STR] | FILE...]",
	 "check that the trail is whole, unedited and this host's (exit 0 only if intact; "
	 "--database: every host's trails in the central store)", tool_verify},
	{"db", "init|upgrade|status [--connection STR]",
	 "create, upgrade or show the central audit store's schema in PostgreSQL", audit_tool_db},
	{"ship", "[--connection STR]",
	 "ship the trail's records the central store does not have yet, once (exit 75: "
	 "database unreachable)", audit_tool_ship},
	{"checkpoint", "[FILE]", "print the trail's head (SEQ:SHA256) to keep elsewhere",
	 tool_checkpoint},
	{"tail", "[--follow] [--from-seq N | --cursor FILE] [--format jsonl|ecs|ocsf|cim] "
		 "[--syslog-to udp:HOST:PORT|tcp:HOST:PORT|unix:PATH] [FILE]",
	 "print records as they are appended, across rotations, resuming from a cursor",
	 audit_tool_tail},
	{"why", "[--json] [--key FILE]... QUEUEID|MESSAGE-ID [FILE...]",
	 "one message's story: session, engines' decisions, recipients, refused attempts, "
	 "seq, and whether the chain verifies up to it (exit 1: not found)", audit_why_tool},
	{"fields", "[--format ecs|ocsf|cim]",
	 "list the SIEM fields the export formats use (name, type, requirement)", tool_fields},
	{NULL, NULL, NULL, NULL}
};

static const pn_daemon audit_daemon = {
	.name = "postern-audit",
	.summary = "tamper-evident JSON audit trail of every message",
	.config_file = "/etc/postern/audit.conf",
	.default_socket = "unix:/run/postern/audit.sock",
	.engine = &audit_engine,
	.tools = audit_tools,
};

int main(int argc, char **argv)
{
	return pn_daemon_main(&audit_daemon, argc, argv);
}
