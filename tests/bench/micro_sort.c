/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	micro_sort - micro-benchmark of postern-sort's Sieve evaluation
 * SYNOPSIS
 *	micro_sort
 * DESCRIPTION
 *	Compiles two generated 100-rule Sieve scripts once, outside the
 *	timed loop, and measures the run for one recipient of a typical
 *	5 KB message (15 header fields, plain text body), in CPU time per
 *	message, including what the milter does around each run (result
 *	set-up and clearing, the per-message body cache):
 *
 *	    sort.sieve_100rules       header :contains/:is/:matches,
 *	                              address :domain/:localpart, envelope,
 *	                              exists, size, regex and subaddress
 *	                              tests; two rules fire (fileinto)
 *	    sort.sieve_100rules_body  the same with 5 of the rules replaced
 *	                              by body :contains tests, so the body
 *	                              cache (MIME walk, decoded text) is
 *	                              built for every message
 *
 *	Output follows the contract of tests/bench/bench.py: one line
 *	"bench NAME VALUE UNIT" per figure; other lines start with "#".
 *	Each figure is the median of three measurements of about
 *	$POSTERN_BENCH_SECONDS CPU seconds each (default 1).
 * DIAGNOSTICS
 *	Exit status 1 when a script does not compile or its run does not
 *	give the expected actions: the benchmark would measure the wrong work.
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/milter/msg.h"
#include "milters/sort/sieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_RULES 100
#define BODY_RULES 5
#define MSG_TARGET (5 * 1024)
#define MAX_ITERATIONS 10000000UL
#define WANT_ACTIONS "fileinto \"Lists/postern\"\nfileinto \"Partners\"\n"

static pn_msg *msg;
static const sv_script *script_plain, *script_body;
static volatile unsigned long long sink;	/* keeps results alive */

/* build_message - a 5 KB text message with the header fields of list mail */
static char *build_message(size_t *len)
{
	static const char *const words[] = {
		"meeting", "report", "schedule", "project", "budget", "review", "draft",
		"quarter", "update", "release", "server", "notes", "customer", "invoice",
	};
	unsigned long x = 42;
	size_t col = 0;
	pn_buf b;

	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "Return-Path: <carol+lists@partner07.example>\r\n"
		    "Received: from mx.partner07.example (mx.partner07.example [192.0.2.10])\r\n"
		    "\tby mx.postern.test (Postfix) with ESMTPS id 4VQ1xY2ZbCz\r\n"
		    "\tfor <bob@example.org>; Wed, 1 May 2024 12:00:00 +0000 (UTC)\r\n"
		    "Received: from [10.0.0.5] by mx.partner07.example; Wed, 1 May 2024 11:59:58 +0000\r\n"
		    "DKIM-Signature: v=1; a=rsa-sha256; d=partner07.example; s=s1; c=relaxed/relaxed;\r\n"
		    "\th=from:to:subject:date; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
		    "\tb=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR\r\n"
		    "From: Carol Partner <carol@partner07.example>\r\n"
		    "To: Bob Example <bob@example.org>\r\n"
		    "Cc: dev@lists.example.org\r\n"
		    "Subject: Re: [postern] quarterly project review\r\n"
		    "Date: Wed, 1 May 2024 11:59:58 +0000\r\n"
		    "Message-ID: <20240501115958.12345@partner07.example>\r\n"
		    "List-Id: Postern development <postern.lists.example.org>\r\n"
		    "List-Unsubscribe: <mailto:postern-leave@lists.example.org>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "\r\n");
	while (pn_buf_len(&b) < MSG_TARGET) {
		x = x * 1103515245UL + 12345UL;
		pn_buf_puts(&b, words[(x >> 16) % (sizeof(words) / sizeof(words[0]))]);
		if ((col += 8) >= 64) {
			pn_buf_puts(&b, ".\r\n");
			col = 0;
		} else {
			pn_buf_putc(&b, ' ');
		}
	}
	pn_buf_puts(&b, "\r\n-- \r\nCarol\r\n");
	return pn_buf_steal(&b, len);
}

/* rule - the text of rule i (never matching the message unless said) */
static void rule(pn_buf *b, size_t i, int body)
{
	if (body && i % (N_RULES / BODY_RULES) == 3) {
		pn_buf_printf(b, "if body :text :contains \"unsubscribe-%02zu\" { fileinto \"Body%02zu\"; }\n",
			      i, i);
		return;
	}
	switch (i % 10) {
	case 0:
		pn_buf_printf(b, "if header :contains \"subject\" \"[ticket-%02zu]\" { fileinto \"T%02zu\"; }\n",
			      i, i);
		break;
	case 1:
		pn_buf_printf(b, "if address :domain :is \"from\" \"vendor%02zu.example\" "
			      "{ fileinto \"Vendors/%02zu\"; stop; }\n", i, i);
		break;
	case 2:
		pn_buf_printf(b, "if header :matches \"list-id\" \"*<team%02zu.*\" { fileinto \"L%02zu\"; }\n",
			      i, i);
		break;
	case 3:
		pn_buf_printf(b, "if envelope :is \"from\" \"robot%02zu@example.net\" { discard; stop; }\n", i);
		break;
	case 4:
		pn_buf_printf(b, "if allof (exists \"x-campaign-%02zu\", size :over 100K) "
			      "{ fileinto \"Bulk\"; }\n", i);
		break;
	case 5:
		pn_buf_printf(b, "if header :regex \"subject\" \"^(re|fwd): order [0-9]+-%02zu$\" "
			      "{ fileinto \"Orders\"; }\n", i);
		break;
	case 6:
		pn_buf_printf(b, "if address :localpart :is [\"to\", \"cc\"] \"alias%02zu\" "
			      "{ fileinto \"Alias%02zu\"; }\n", i, i);
		break;
	case 7:
		pn_buf_printf(b, "if envelope :detail :is \"to\" \"folder%02zu\" { fileinto \"D%02zu\"; }\n",
			      i, i);
		break;
	case 8:
		pn_buf_printf(b, "if anyof (header :is \"x-priority\" \"%zu\", "
			      "header :contains \"from\" \"noreply%02zu@\") { fileinto \"N\"; }\n",
			      i % 5 + 1, i);
		break;
	default:
		pn_buf_printf(b, "if not header :contains \"received\" \"relay%02zu.example\" "
			      "{ } else { fileinto \"R%02zu\"; }\n", i, i);
		break;
	}
}

/* build_script - N_RULES rules, body tests among them when asked; two fire */
static char *build_script(int body, size_t *len)
{
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "require [\"fileinto\", \"envelope\", \"regex\", \"subaddress\", \"body\"];\n");
	for (i = 0; i < N_RULES - 2; i++)
		rule(&b, i, body);
	pn_buf_puts(&b, "if header :contains \"list-id\" \"<postern.lists.example.org>\" "
		    "{ fileinto \"Lists/postern\"; }\n"
		    "if address :domain :is \"from\" \"partner07.example\" { fileinto \"Partners\"; }\n");
	return pn_buf_steal(&b, len);
}

/* run_once - one recipient's run of script s, with the milter's per-message set-up */
static void run_once(const sv_script *s, char **printed)
{
	sv_env env;
	sv_result r;

	memset(&env, 0, sizeof(env));
	env.msg = msg;
	env.from = msg->sender;
	env.to = "<bob+inbox@example.org>";
	env.body = sv_body_new();
	sv_result_init(&r, msg);
	sink += (unsigned)sv_run(s, &env, &r);
	sink += r.nacts;
	if (printed) {
		size_t n = 0;
		FILE *fp = open_memstream(printed, &n);

		sv_result_print(&r, fp);
		if (r.error)
			fprintf(fp, "error: %s\n", r.error);
		fclose(fp);
	}
	sv_result_clear(&r);
	sv_body_free(env.body);
}

/* run_plain - the 100 header/envelope rules */
static void run_plain(void)
{
	run_once(script_plain, NULL);
}

/* run_body - the rules with body tests */
static void run_body(void)
{
	run_once(script_body, NULL);
}

/* cpu_now - process CPU time in seconds */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* measure - CPU microseconds per call of fn, over about `seconds` of CPU */
static double measure(void (*fn)(void), double seconds)
{
	unsigned long n = 0;
	double t0 = cpu_now(), t;

	do {
		for (int k = 0; k < 16; k++)
			fn();
		n += 16;
		t = cpu_now() - t0;
	} while (t < seconds && n < MAX_ITERATIONS);
	return t * 1e6 / (double)n;
}

/* cmp_double - qsort order for doubles */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* report - median of three measurements as a "bench" line */
static void report(const char *name, void (*fn)(void), double seconds, const char *unit)
{
	double r[3];

	fn();
	for (int i = 0; i < 3; i++)
		r[i] = measure(fn, seconds);
	qsort(r, 3, sizeof(r[0]), cmp_double);
	printf("bench %s %.2f %s\n", name, r[1], unit);
	fflush(stdout);
}

/* compile - one generated script, or NULL with a message */
static sv_script *compile(int body)
{
	size_t len;
	char *text = build_script(body, &len), *err = NULL, *out = NULL;
	sv_script *s = sv_compile(body ? "bench-body" : "bench", text, len, NULL, &err);

	pn_free(text);
	if (s == NULL) {
		fprintf(stderr, "micro_sort: compile: %s\n", err);
		pn_free(err);
		return NULL;
	}
	run_once(s, &out);
	if (strcmp(out, WANT_ACTIONS) != 0) {
		fprintf(stderr, "micro_sort: %s: got actions\n%swant\n%s", sv_script_name(s), out,
			WANT_ACTIONS);
		sv_script_free(s);
		s = NULL;
	}
	free(out);
	return s;
}

int main(void)
{
	const char *env = getenv("POSTERN_BENCH_SECONDS");
	double seconds = env ? strtod(env, NULL) : 1.0;
	sv_script *plain = NULL, *body = NULL;
	size_t len;
	char *data;
	int rc = 1;

	if (!(seconds >= 0.05))
		seconds = 0.05;
	if (seconds > 30)
		seconds = 30;
	data = build_message(&len);
	msg = pn_msg_load(data, len, 1024 * 1024, "/tmp");
	pn_msg_set_sender(msg, "<carol+lists@partner07.example>", NULL);
	pn_msg_add_rcpt(msg, "<bob+inbox@example.org>", NULL);
	if ((plain = compile(0)) != NULL && (body = compile(1)) != NULL) {
		script_plain = plain;
		script_body = body;
		printf("# sort: %d-rule scripts compiled once; message of %zu bytes, %zu header "
		       "fields, one recipient\n", N_RULES, len, msg->nheaders);
		report("sort.sieve_100rules", run_plain, seconds, "us/msg");
		report("sort.sieve_100rules_body", run_body, seconds, "us/msg");
		rc = 0;
	}
	if (plain)
		sv_script_free(plain);
	if (body)
		sv_script_free(body);
	pn_msg_free(msg);
	pn_free(data);
	return rc;
}
