/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-sort - Sieve rules applied at the MTA
 *
 * The daemon is the shared milter layer plus sort_engine (sort_milter.c).
 * Tools, which call the same engine:
 *   compile SCRIPT...   compile scripts and report errors with line:column
 *   test SCRIPT MESSAGE [--from ADDR] [--to ADDR]... [--env NAME=VALUE]... [--now SECONDS]
 *                       run a script on a message file and print the Sieve
 *                       actions, a blank line, and the milter modifications
 */
#include "milters/sort/sort_engine.h"
#include "milters/sort/sort_milter.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/milter/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

/* tool_compile - compile each script, report every error */
static int tool_compile(const pn_config *cfg, void *state, int argc, char **argv)
{
	int i, rc = 0;

	(void)cfg;
	if (argc < 2) {
		fprintf(stderr, "usage: postern-sort compile SCRIPT...\n");
		return EX_USAGE;
	}
	for (i = 1; i < argc; i++) {
		char *err = NULL;
		sv_script *s = sv_compile_file(argv[i], sort_limits(state), &err);

		if (s == NULL) {
			fprintf(stderr, "postern-sort: error: %s\n", err);
			pn_free(err);
			rc = EX_DATAERR;
			continue;
		}
		printf("%s: OK\n", argv[i]);
		sv_script_free(s);
	}
	return rc;
}

/* bracketed - an address as an SMTP path: "<>" stays, "a@b" becomes "<a@b>" */
static char *bracketed(const char *addr)
{
	if (addr[0] == '<')
		return pn_strdup(addr);
	return pn_asprintf("<%s>", addr);
}

/* set_item - replace or add an environment item */
static char **set_item(char **items, const char *assign)
{
	const char *eq = strchr(assign, '=');
	size_t n = 0, len;

	if (eq == NULL)
		return NULL;
	len = (size_t)(eq - assign);
	for (n = 0; items[n]; n += 2) {
		if (strlen(items[n]) == len && strncasecmp(items[n], assign, len) == 0) {
			pn_free(items[n + 1]);
			items[n + 1] = pn_strdup(eq + 1);
			return items;
		}
	}
	items = pn_realloc(items, (n + 3) * sizeof(*items));
	items[n] = pn_strndup(assign, len);
	items[n + 1] = pn_strdup(eq + 1);
	items[n + 2] = NULL;
	return items;
}

/* tool_test - run a script on a message file */
static int tool_test(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"env", required_argument, NULL, 'e'},
		{"now", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0}
	};
	sort_state *st = state;
	const char *from = "sender@example.com";
	char **tos = NULL, **items, *err = NULL, *data, *sender;
	size_t nto = 0, len, i;
	sort_facts facts;
	sv_script *s;
	pn_msg *m;
	pn_actions *a;
	sort_outcome *o;
	int ch;

	memset(&facts, 0, sizeof(facts));
	items = sort_env_items(st, &facts);
	optind = 0;	/* full getopt reset: options may follow the operands */
	while ((ch = getopt_long(argc, argv, "f:t:e:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': {
			char *end;
			long long t = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || t <= 0) {
				fprintf(stderr, "postern-sort: test: --now wants seconds since 1970, "
					"got \"%s\"\n", optarg);
				goto usage;
			}
			sort_set_clock(st, (time_t)t);
			break;
		}
		case 'f':
			from = optarg;
			break;
		case 't':
			tos = pn_realloc(tos, (nto + 1) * sizeof(*tos));
			tos[nto++] = optarg;
			break;
		case 'e':
			if (strchr(optarg, '=') == NULL) {
				fprintf(stderr, "postern-sort: test: --env wants NAME=VALUE, got \"%s\"\n",
					optarg);
				goto usage;
			}
			items = set_item(items, optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	if ((s = sv_compile_file(argv[optind], sort_limits(st), &err)) == NULL) {
		fprintf(stderr, "postern-sort: error: %s\n", err);
		pn_free(err);
		pn_free(tos);
		sort_env_free(items);
		return EX_DATAERR;
	}
	if ((data = pn_read_file(argv[optind + 1], 256 * 1024 * 1024, &len)) == NULL) {
		fprintf(stderr, "postern-sort: cannot read %s: %s\n", argv[optind + 1],
			strerror(errno));
		sv_script_free(s);
		pn_free(tos);
		sort_env_free(items);
		return EX_NOINPUT;
	}
	m = pn_msg_load(data, len, (size_t)pn_config_int(cfg, "body_memory_limit"),
			pn_config_str(cfg, "tmp_dir"));
	sender = bracketed(from);
	pn_msg_set_sender(m, sender, NULL);
	pn_free(sender);
	if (nto == 0)
		pn_msg_add_rcpt(m, "<recipient@example.com>", NULL);
	for (i = 0; i < nto; i++) {
		char *r = bracketed(tos[i]);
		pn_msg_add_rcpt(m, r, NULL);
		pn_free(r);
	}
	o = sort_run(st, m, (const char *const *)items, s);
	for (i = 0; i < o->n; i++)
		if (o->r[i].res.error)
			fprintf(stderr, "postern-sort: warning: %s: %s: run-time failure at %s (implicit keep)\n",
				o->r[i].addr, o->r[i].res.error_script ? o->r[i].res.error_script
				: sv_script_name(s), o->r[i].res.error);
	sort_outcome_print(o, stdout);
	putchar('\n');
	a = pn_actions_new();
	sort_apply(st, o, m, NULL, a);
	pn_actions_print(a, stdout);
	pn_actions_free(a);
	sort_outcome_free(o);
	pn_msg_free(m);
	pn_free(data);
	sv_script_free(s);
	pn_free(tos);
	sort_env_free(items);
	return 0;
usage:
	fprintf(stderr, "usage: postern-sort test SCRIPT MESSAGE [--from ADDR] [--to ADDR]... "
		"[--env NAME=VALUE]... [--now SECONDS]\n");
	pn_free(tos);
	sort_env_free(items);
	return EX_USAGE;
}

static const pn_tool sort_tools[] = {
	{"compile", "SCRIPT...", "compile Sieve scripts and report errors (line:column)",
	 tool_compile},
	{"test", "SCRIPT MESSAGE [--from ADDR] [--to ADDR]... [--env NAME=VALUE]... [--now SECONDS]",
	 "run a script on a message file and print its actions and modifications", tool_test},
	{NULL, NULL, NULL, NULL}
};

static const pn_daemon sort_daemon = {
	.name = "postern-sort",
	.summary = "auto-sorting rules in Sieve, applied at the MTA",
	.config_file = "/etc/postern/sort.conf",
	.default_socket = "unix:/run/postern/sort.sock",
	.engine = &sort_engine,
	.tools = sort_tools,
};

int main(int argc, char **argv)
{
	return pn_daemon_main(&sort_daemon, argc, argv);
}
