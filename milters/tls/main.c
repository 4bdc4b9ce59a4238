/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-tls - TLS enforcement for partner domains
 *
 * The milter (tls_milter.c) checks the live session inbound; the tools
 * below work offline from the same policy and the same engine:
 *
 *   test         dry-run a decision for given envelope and TLS facts
 *   postfix-map  the policy as a Postfix smtp_tls_policy_maps table, or
 *                (--check FILE) where Postfix's table is weaker
 *   probe        STARTTLS to a server and report what it offers
 *   ledger       count outbound deliveries from Postfix's log into the ledger
 *   report       the ledger per partner: text, JSON or an RFC 8460 report
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/milter/daemon.h"
#include "common/postfix_milters.h"
#include "common/domain.h"
#include "milters/tls/decide.h"
#include "milters/tls/ledger.h"
#include "milters/tls/logread.h"
#include "milters/tls/postfix_map.h"
#include "milters/tls/probe.h"
#include "milters/tls/sts.h"
#include "milters/tls/report.h"
#include "milters/tls/tls_milter.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* print_decision - one line of the test tool's report */
static void print_decision(const ptls_decision *d, const char *what, const char *path)
{
	printf("%s %s: ", what, path);
	if (d->policy == NULL) {
		printf("no policy\n");
		return;
	}
	if (d->failed == 0)
		printf("pass");
	else if (d->verdict == PN_REJECT || d->verdict == PN_TEMPFAIL)
		printf("%s %s %s %s", ptls_action_name(d->policy->action), d->rcode, d->xcode,
		       d->text);
	else
		printf("%s: requires %s; seen %s", ptls_action_name(d->policy->action),
		       d->required, d->seen);
	printf(" (policy %s:%u %s)\n", d->policy->file, d->policy->line, d->policy->key);
}

/* tool_test - dry run of MAIL, RCPT and end of message */
static int tool_test(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"rcpt", required_argument, NULL, 'r'},
		{"tls-version", required_argument, NULL, 'V'},
		{"cipher", required_argument, NULL, 'C'},
		{"bits", required_argument, NULL, 'b'},
		{"cert-subject", required_argument, NULL, 's'},
		{"cert-issuer", required_argument, NULL, 'i'},
		{"verify", required_argument, NULL, 'y'},
		{"client", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0}
	};
	const ptls_state *st = state;
	ptls_facts f;
	ptls_findings fs = {NULL, 0, 0};
	ptls_decision d;
	const char *from = NULL;
	char **rcpts = NULL;
	size_t nrcpt = 0, i;
	int ch, failed = 0, refused_all = 1;
	pn_actions *a;
	pn_buf b;

	(void)cfg;
	memset(&f, 0, sizeof(f));
	optind = 0;	/* glibc: start afresh, so options may follow operands */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': from = optarg; break;
		case 'r':
			rcpts = pn_realloc(rcpts, (nrcpt + 1) * sizeof(char *));
			rcpts[nrcpt++] = optarg;
			break;
		case 'V': f.version = optarg; break;
		case 'C': f.cipher = optarg; break;
		case 'b': f.bits = optarg; break;
		case 's': f.subject = optarg; break;
		case 'i': f.issuer = optarg; break;
		case 'y': f.verify = optarg; break;
		case 'a': f.client_addr = optarg; break;
		default:
			pn_free(rcpts);
			return EX_USAGE;
		}
	}
	if (from == NULL || nrcpt == 0 || optind != argc) {
		fprintf(stderr, "usage: postern-tls test --from ADDR --rcpt ADDR [--rcpt ADDR...] "
			"[--tls-version V --cipher C --bits N --cert-subject S --cert-issuer I "
			"--verify OK|FAIL|NO|NONE --client IP]\n");
		pn_free(rcpts);
		return EX_USAGE;
	}
	pn_buf_init(&b, 0);
	ptls_facts_summary(&f, &b);
	printf("session: %s; client %s\n", pn_buf_str(&b), f.client_addr ? f.client_addr : "unknown");
	pn_buf_free(&b);

	ptls_decide(st->policy, PTLS_STAGE_MAIL, from, &f, &d);
	print_decision(&d, "MAIL FROM", from);
	failed |= d.failed != 0;
	if (d.verdict != PN_CONTINUE) {
		ptls_decision_clear(&d);
		pn_free(rcpts);
		return 1;
	}
	ptls_findings_add(&fs, &d);
	ptls_decision_clear(&d);
	for (i = 0; i < nrcpt; i++) {
		ptls_decide(st->policy, PTLS_STAGE_RCPT, rcpts[i], &f, &d);
		print_decision(&d, "RCPT TO", rcpts[i]);
		failed |= d.failed != 0;
		if (d.verdict == PN_CONTINUE)
			refused_all = 0;
		ptls_findings_add(&fs, &d);
		ptls_decision_clear(&d);
	}
	if (!refused_all) {
		a = pn_actions_new();
		ptls_findings_eom(&fs, &f, st->trace_header, st->tag_header, a);
		printf("end of message:\n");
		pn_actions_print(a, stdout);
		pn_actions_free(a);
	}
	ptls_findings_free(&fs);
	pn_free(rcpts);
	return failed ? 1 : 0;
}

/* tool_postfix_map - print the table, or check Postfix's against the policy */
static int tool_postfix_map(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"check", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0}
	};
	const ptls_state *st = state;
	const char *check = NULL;
	char *text, *err = NULL;
	size_t len;
	int ch, n;

	(void)cfg;
	optind = 0;	/* glibc: start afresh, so options may follow operands */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'c')
			return EX_USAGE;
		check = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: postern-tls postfix-map [--check POSTFIX-TABLE]\n");
		return EX_USAGE;
	}
	if (check == NULL) {
		ptls_postfix_map_write(st->policy, stdout);
		return 0;
	}
	if ((text = pn_read_file(check, PTLS_POLICY_FILE_MAX, &len)) == NULL) {
		fprintf(stderr, "postern-tls: cannot read %s: %s\n", check, strerror(errno));
		return EX_NOINPUT;
	}
	n = ptls_postfix_map_check(st->policy, text, len, check, stdout, &err);
	pn_free(text);
	if (n < 0) {
		fprintf(stderr, "postern-tls: %s\n", err);
		pn_free(err);
		return EX_DATAERR;
	}
	if (n == 0)
		printf("%s: no entry is weaker than the policy %s\n", check, st->policy->file);
	return n ? 1 : 0;
}

/* split_host_port - "host", "host:port", "[v6]:port" or a bare IPv6 address */
static void split_host_port(const char *arg, char **host, char **port)
{
	const char *colon = strrchr(arg, ':');

	if (arg[0] == '[' && strchr(arg, ']')) {
		const char *close = strchr(arg, ']');
		*host = pn_strndup(arg + 1, (size_t)(close - arg - 1));
		*port = pn_strdup(close[1] == ':' ? close + 2 : "25");
	} else if (colon && strchr(arg, ':') == colon) {
		*host = pn_strndup(arg, (size_t)(colon - arg));
		*port = pn_strdup(colon + 1);
	} else {
		*host = pn_strdup(arg);
		*port = pn_strdup("25");
	}
}

/* tool_probe - STARTTLS to a server; report, and check against a domain's policy */
static int tool_probe(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"cafile", required_argument, NULL, 'c'},
		{"servername", required_argument, NULL, 's'},
		{"helo", required_argument, NULL, 'h'},
		{"timeout", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0}
	};
	const ptls_state *st = state;
	ptls_probe_opts o;
	ptls_probe r;
	const char *domain = NULL;
	const ptls_policy *p;
	char *host, *port, *end;
	int ch, rc, ok;
	pn_buf req, seen;

	(void)cfg;
	memset(&o, 0, sizeof(o));
	o.helo = "postern-tls.probe";
	o.timeout = 30;
	optind = 0;	/* glibc: start afresh, so options may follow operands */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': domain = optarg; break;
		case 'c': o.cafile = optarg; break;
		case 's': o.servername = optarg; break;
		case 'h': o.helo = optarg; break;
		case 't':
			o.timeout = (int)strtol(optarg, &end, 10);
			if (*end || o.timeout < 1 || o.timeout > 3600) {
				fprintf(stderr, "postern-tls: probe: --timeout wants 1..3600 seconds\n");
				return EX_USAGE;
			}
			break;
		default: return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: postern-tls probe HOST[:PORT] [--domain D] [--cafile FILE] "
			"[--servername NAME] [--helo NAME] [--timeout SECONDS]\n");
		return EX_USAGE;
	}
	split_host_port(argv[optind], &host, &port);
	o.host = host;
	o.port = port;
	rc = ptls_probe_run(&o, &r);
	ptls_probe_print(&r, stdout);
	if (rc < 0) {
		ptls_probe_clear(&r);
		pn_free(host);
		pn_free(port);
		return EX_UNAVAILABLE;
	}
	ok = rc == 0;
	if (domain) {
		if ((p = ptls_policy_lookup(st->policy, domain)) == NULL) {
			printf("policy: none for %s\n", domain);
		} else {
			pn_buf_init(&req, 0);
			pn_buf_init(&seen, 0);
			ok = ptls_probe_policy(&r, p, domain, &req, &seen);
			if (ok)
				printf("policy: %s (%s:%u %s) satisfied%s%s\n", domain, p->file, p->line,
				       p->key, pn_buf_len(&seen) ? "; note: " : "", pn_buf_str(&seen));
			else
				printf("policy: %s (%s:%u %s) not satisfied: requires %s; seen %s\n",
				       domain, p->file, p->line, p->key, pn_buf_str(&req),
				       pn_buf_str(&seen));
			pn_buf_free(&req);
			pn_buf_free(&seen);
		}
	}
	ptls_probe_clear(&r);
	pn_free(host);
	pn_free(port);
	return ok ? 0 : 1;
}

/* tool_sts - look a domain's MTA-STS policy up now, as the daemon would, and cache it */
static int tool_sts(const pn_config *cfg, void *state, int argc, char **argv)
{
	const ptls_state *st = state;
	const ptls_policy *p;
	char *why = NULL, *answer = NULL;
	int rc;

	(void)cfg;
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: postern-tls sts DOMAIN\n");
		return EX_USAGE;
	}
	if (st->sts == NULL) {
		fprintf(stderr, "postern-tls: sts_enable = no: MTA-STS is off\n");
		return EX_CONFIG;
	}
	p = ptls_policy_lookup(st->policy, argv[1]);
	if (p && !p->sts)
		printf("static policy: %s:%u %s wins over any MTA-STS policy\n", p->file, p->line,
		       p->key);
	else if (p == NULL && !st->sts_all_domains)
		printf("no policy line names %s and sts_all_domains = no: "
		       "the socketmap does not ask MTA-STS\n", argv[1]);
	rc = ptls_sts_fetch_now(st->sts, argv[1], &why);
	if (why)
		printf("lookup: %s\n", why);
	pn_free(why);
	why = NULL;
	if (ptls_sts_answer(st->sts, argv[1], &answer, &why) == PTLS_STS_ENFORCE)
		printf("%s\npostfix: %s\n", why, answer);
	else
		printf("%s\npostfix: NOTFOUND (Postfix's default TLS level)\n", why ? why : "");
	pn_free(why);
	pn_free(answer);
	why = NULL;
	if (rc == 0 && ptls_sts_mx_report(st->sts, argv[1], &why) >= 0)
		fputs(why, stdout);
	pn_free(why);
	return rc == 0 ? 0 : 1;
}

static volatile sig_atomic_t ledger_stop;

/* on_stop - SIGTERM/SIGINT end `ledger --follow` after the current pass */
static void on_stop(int sig)
{
	(void)sig;
	ledger_stop = 1;
}

/* open_ledger - the ledger named by ledger_file, or a message and NULL */
static ptls_ledger *open_ledger(const ptls_state *st, int readonly)
{
	ptls_ledger *l;
	char *err = NULL;

	if (*st->ledger_file == '\0') {
		fprintf(stderr, "postern-tls: ledger_file is not set (postern-tls.conf(5))\n");
		return NULL;
	}
	if ((l = ptls_ledger_open(st->ledger_file, readonly, 10000, &err)) == NULL) {
		fprintf(stderr, "postern-tls: %s\n", err);
		pn_free(err);
	}
	return l;
}

/* tls_logging_off - 1 when Postfix says smtp_tls_loglevel = 0
 *
 * Postfix then logs no "TLS connection established" line and every
 * delivery would be counted as plain text: refuse rather than fill the
 * ledger with false failures. When postconf cannot be asked (a log from
 * another host) the run goes on with a warning.
 */
static int tls_logging_off(const char *postfix_dir)
{
	char *v = pn_postconf(postfix_dir, "-hx", "smtp_tls_loglevel");
	int off;

	if (v == NULL) {
		fprintf(stderr, "postern-tls: ledger: warning: cannot run postconf%s%s: make sure "
			"Postfix's smtp_tls_loglevel is 1 or more, or TLS deliveries count as plain "
			"text\n", postfix_dir ? " -c " : "", postfix_dir ? postfix_dir : "");
		return 0;
	}
	off = strtol(v, NULL, 10) <= 0;
	pn_free(v);
	if (off)
		fprintf(stderr, "postern-tls: ledger: Postfix's smtp_tls_loglevel is 0%s%s: Postfix "
			"does not log its TLS sessions and every delivery would count as plain text; "
			"set smtp_tls_loglevel = 1 (postconf -e) and reload Postfix\n",
			postfix_dir ? " in " : "", postfix_dir ? postfix_dir : "");
	return off;
}

/* tool_ledger - Postfix's log into the ledger, from where the last run stopped */
static int tool_ledger(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"interval", required_argument, NULL, 'i'},
		{"quiet", no_argument, NULL, 'q'},
		{"postfix-config", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0}
	};
	const ptls_state *st = state;
	const char *postfix_dir = NULL;
	ptls_logread_stats stats;
	ptls_ledger *l;
	struct sigaction sa;
	char *err = NULL, *end;
	long interval = 1;
	int ch, i, follow = 0, quiet = 0, rc = 0;

	(void)cfg;
	optind = 0;	/* glibc: start afresh, so options may follow operands */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': follow = 1; break;
		case 'q': quiet = 1; break;
		case 'p': postfix_dir = optarg; break;
		case 'i':
			interval = strtol(optarg, &end, 10);
			if (*end || interval < 1 || interval > 3600) {
				fprintf(stderr, "postern-tls: ledger: --interval wants 1..3600 seconds\n");
				return EX_USAGE;
			}
			break;
		default: return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: postern-tls ledger [--follow [--interval S]] [--quiet] "
			"[--postfix-config DIR] MAILLOG...\n");
		return EX_USAGE;
	}
	if (tls_logging_off(postfix_dir))
		return EX_CONFIG;
	if ((l = open_ledger(st, 0)) == NULL)
		return EX_CANTCREAT;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	do {
		for (i = optind; i < argc && !ledger_stop; i++) {
			if (ptls_logread(l, argv[i], st->policy, st->ledger_all, time(NULL), &stats,
					 &err) < 0) {
				fprintf(stderr, "postern-tls: ledger: %s\n", err);
				pn_free(err);
				err = NULL;
				rc = EX_IOERR;
				continue;
			}
			if (stats.rotated_lost)
				fprintf(stderr, "postern-tls: ledger: %s was rotated and %s.1 is not "
					"the file read before: its last lines are not counted\n",
					argv[i], argv[i]);
			if (!quiet && (!follow || stats.counted))
				printf("%s: %llu lines, %llu deliveries counted%s\n", argv[i],
				       stats.lines, stats.counted, stats.skipped ? ", overlong lines "
				       "skipped" : "");
			fflush(stdout);
		}
		if (follow && !ledger_stop)
			sleep((unsigned)interval);	/* a signal ends the sleep */
	} while (follow && !ledger_stop);
	ptls_ledger_close(l);
	return rc;
}

/* parse_day - "YYYY-MM-DD", or "Nd" (N days before today, UTC); 0 when neither */
static int parse_day(const char *arg, time_t now, char day[11])
{
	struct tm tm;
	char *end;
	long n;
	int i;

	if (strlen(arg) == 10 && arg[4] == '-' && arg[7] == '-') {
		for (i = 0; i < 10; i++)
			if (i != 4 && i != 7 && !isdigit((unsigned char)arg[i]))
				return 0;
		memset(&tm, 0, sizeof(tm));
		if (strptime(arg, "%Y-%m-%d", &tm) == NULL)
			return 0;
		memcpy(day, arg, 11);
		return 1;
	}
	n = strtol(arg, &end, 10);
	if (end == arg || strcmp(end, "d") != 0 || n < 0 || n > 36500)
		return 0;
	ptls_ml_day(now - (time_t)n * 86400, day);
	return 1;
}

/* tool_report - the ledger per partner and direction */
static int tool_report(const pn_config *cfg, void *state, int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"partner", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},
		{"report-id", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0}
	};
	const ptls_state *st = state;
	ptls_report_opts o;
	ptls_ledger *l;
	char since[11], until[11], host[256], *partner = NULL, *contact = NULL;
	char *err = NULL;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	o.now = time(NULL);
	optind = 0;	/* glibc: start afresh, so options may follow operands */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
		case 'u':
			if (!parse_day(optarg, o.now, ch == 's' ? since : until)) {
				fprintf(stderr, "postern-tls: report: --%s wants YYYY-MM-DD or Nd "
					"(N days ago), not \"%s\"\n", ch == 's' ? "since" : "until",
					optarg);
				pn_free(partner);
				return EX_USAGE;
			}
			if (ch == 's')
				o.since = since;
			else
				o.until = until;
			break;
		case 'p':
			pn_free(partner);
			if ((partner = pn_domain_normalise(optarg)) == NULL) {
				fprintf(stderr, "postern-tls: report: --partner: \"%s\" is no domain "
					"name\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'f':
			if ((o.format = ptls_report_format_parse(optarg)) < 0) {
				fprintf(stderr, "postern-tls: report: --format wants text, json or "
					"rfc8460\n");
				pn_free(partner);
				return EX_USAGE;
			}
			break;
		case 'r': o.report_id = optarg; break;
		default:
			pn_free(partner);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: postern-tls report [--since DATE] [--until DATE] "
			"[--partner DOMAIN] [--format text|json|rfc8460]\n");
		pn_free(partner);
		return EX_USAGE;
	}
	if ((l = open_ledger(st, 1)) == NULL) {
		pn_free(partner);
		return EX_NOINPUT;
	}
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	o.partner = partner;
	o.policy = st->policy;
	if (pn_config_bool(cfg, "sts_enable"))
		o.sts_cache_file = pn_config_str(cfg, "sts_cache_file");
	o.organization = *st->report_organization ? st->report_organization : host;
	if (*st->report_contact)
		o.contact = st->report_contact;
	else
		o.contact = contact = pn_asprintf("postmaster@%s", host);
	rc = ptls_report(l, &o, stdout, &err);
	if (rc < 0) {
		fprintf(stderr, "postern-tls: report: %s\n", err);
		pn_free(err);
	}
	ptls_ledger_close(l);
	pn_free(partner);
	pn_free(contact);
	return rc < 0 ? EX_IOERR : 0;
}

static const pn_tool ptls_tools[] = {
	{"test", "--from ADDR --rcpt ADDR [--tls-version V --cipher C --bits N --cert-subject S "
	 "--cert-issuer I --verify V --client IP]",
	 "dry-run the policy decision for an envelope and TLS facts", tool_test},
	{"postfix-map", "[--check POSTFIX-TABLE]",
	 "print the policy as a Postfix smtp_tls_policy_maps table, or show where a table is weaker",
	 tool_postfix_map},
	{"probe", "HOST[:PORT] [--domain D] [--cafile FILE] [--servername NAME] [--timeout S]",
	 "STARTTLS to an SMTP server: protocol, cipher, certificates, verification, policy",
	 tool_probe},
	{"sts", "DOMAIN",
	 "fetch DOMAIN's MTA-STS policy now (TXT, HTTPS), cache it and print Postfix's answer",
	 tool_sts},
	{"ledger", "[--follow [--interval S]] [--quiet] [--postfix-config DIR] MAILLOG...",
	 "count outbound deliveries from Postfix's log into the ledger (from where the last run "
	 "stopped)", tool_ledger},
	{"report", "[--since DATE] [--until DATE] [--partner DOMAIN] [--format text|json|rfc8460]",
	 "the ledger per partner and direction: for people, scripts, or RFC 8460", tool_report},
	{NULL, NULL, NULL, NULL}
};

static const pn_daemon ptls_daemon = {
	.name = "postern-tls",
	.summary = "TLS enforcement for partner domains",
	.config_file = "/etc/postern/tls.conf",
	.default_socket = "unix:/run/postern/tls.sock",
	.engine = &ptls_engine,
	.tools = ptls_tools,
};

/* main - the shared command line (serve, check, config) plus the tools above */
int main(int argc, char **argv)
{
	return pn_daemon_main(&ptls_daemon, argc, argv);
}
