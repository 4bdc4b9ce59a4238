/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * postern-testd - a daemon that exists only for tests
 *
 * Built on libpostern exactly as the real daemons are: an engine with a
 * parameter table and hooks, handed to pn_daemon_main(). At end of message
 * it adds one header (header_name) that reports what the milter layer saw:
 * TLS macros, queue id, recipients, size and the SHA-256 of the body, so an
 * end-to-end test can check the whole path through a real Postfix.
 * A few parameters make it refuse or modify mail, for protocol tests.
 *
 * Tool: postern-testd show FILE  - run the end-of-message hook on a message
 * file and print the actions (the dry-run form every daemon offers).
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "common/milter/milter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

static const pn_param testd_params[] = {
	{"header_name", PN_PARAM_STR, "X-Postern-Test", 0, 0, NULL, "header added to every message"},
	{"reject_recipient", PN_PARAM_STR, "", 0, 0, NULL, "recipient answered with 550"},
	{"tempfail_sender", PN_PARAM_STR, "", 0, 0, NULL, "sender answered with 451"},
	{"quarantine_subject", PN_PARAM_STR, "", 0, 0, NULL, "subject that puts mail on hold"},
	{"add_recipient", PN_PARAM_STR, "", 0, 0, NULL, "recipient added to every message"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* same_addr - compare an envelope address with a configured one, brackets ignored */
static int same_addr(const char *given, const char *want)
{
	size_t n = strlen(want);

	if (*want == '\0')
		return 0;
	if (*given == '<')
		given++;
	return strncasecmp(given, want, n) == 0 && (given[n] == '>' || given[n] == '\0');
}

/* testd_mail - tempfail the configured sender */
static pn_verdict testd_mail(pn_conn *c, pn_msg *m)
{
	const pn_config *cfg = pn_snapshot_config(c->snap);

	if (same_addr(m->sender, pn_config_str(cfg, "tempfail_sender"))) {
		pn_conn_reply(c, "451", "4.7.1", "testd: sender tempfailed");
		return PN_TEMPFAIL;
	}
	return PN_CONTINUE;
}

/* testd_rcpt - reject the configured recipient */
static pn_verdict testd_rcpt(pn_conn *c, pn_msg *m, const pn_rcpt *r)
{
	const pn_config *cfg = pn_snapshot_config(c->snap);

	(void)m;
	if (same_addr(r->addr, pn_config_str(cfg, "reject_recipient"))) {
		pn_conn_reply(c, "550", "5.7.1", "testd: recipient rejected");
		return PN_REJECT;
	}
	return PN_CONTINUE;
}

/* body_sha256 - hex digest of the spooled body */
static int body_sha256(pn_msg *m, char hex[PN_SHA256_HEX_LEN + 1])
{
	unsigned char digest[PN_SHA256_LEN], chunk[8192];
	pn_sha256 *h = pn_sha256_new();
	long n;

	if (pn_spool_rewind(m->body) < 0) {
		pn_sha256_free(h);
		return -1;
	}
	while ((n = pn_spool_read(m->body, chunk, sizeof(chunk))) > 0)
		pn_sha256_update(h, chunk, (size_t)n);
	pn_sha256_final(h, digest);
	pn_sha256_free(h);
	pn_hex(digest, sizeof(digest), hex);
	return n < 0 ? -1 : 0;
}

/* macro_or - a macro's value or a placeholder */
static const char *macro_or(const pn_conn *c, const char *name, const char *none)
{
	const char *v = pn_conn_macro(c, name);
	return v ? v : none;
}

/* testd_eom - report what the layer saw in one header */
static pn_verdict testd_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	const pn_config *cfg = pn_snapshot_config(c->snap);
	const char *subject = pn_msg_header(m, "Subject", 1);
	char hex[PN_SHA256_HEX_LEN + 1];
	pn_buf v;

	if (body_sha256(m, hex) < 0) {
		pn_log_msg(PN_LOG_ERROR, m->queue_id, "cannot read spooled body: %s", strerror(errno));
		return pn_conn_on_error(c);
	}
	pn_buf_init(&v, 0);
	pn_buf_printf(&v, "tls=%s; cipher=%s; bits=%s; cert_subject=%s; cert_issuer=%s; verify=%s; "
		      "queue_id=%s; client=%s; helo=%s; rcpts=%zu; headers=%zu; size=%zu; "
		      "spooled=%s; body_sha256=%s",
		      macro_or(c, "{tls_version}", "none"), macro_or(c, "{cipher}", "none"),
		      macro_or(c, "{cipher_bits}", "none"), macro_or(c, "{cert_subject}", "none"),
		      macro_or(c, "{cert_issuer}", "none"),
		      macro_or(c, "{verify}", "none"), m->queue_id ? m->queue_id : "none",
		      c->client_addr ? c->client_addr : "none", c->helo ? c->helo : "none",
		      m->nrcpts, m->nheaders, pn_msg_size(m),
		      pn_spool_on_disk(m->body) ? "disk" : "memory", hex);
	if (pn_actions_add_header(a, pn_config_str(cfg, "header_name"), pn_buf_str(&v)) < 0)
		pn_log_msg(PN_LOG_ERROR, m->queue_id, "cannot add header: %s", pn_actions_error(a));
	pn_buf_free(&v);
	if (*pn_config_str(cfg, "add_recipient"))
		pn_actions_add_rcpt(a, pn_config_str(cfg, "add_recipient"), NULL);
	if (subject && *pn_config_str(cfg, "quarantine_subject")
	    && strstr(subject, pn_config_str(cfg, "quarantine_subject")))
		pn_actions_quarantine(a, "testd: subject matched");
	pn_log_msg(PN_LOG_INFO, m->queue_id, "testd: from=%s rcpts=%zu size=%zu", m->sender,
		   m->nrcpts, pn_msg_size(m));
	return PN_CONTINUE;
}

static const pn_engine testd_engine = {
	.name = "testd",
	.params = testd_params,
	.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_DATA
		 | PN_STEP_HEADER | PN_STEP_EOH | PN_STEP_BODY | PN_STEP_EOM,
	.mods = PN_MOD_ADD_HEADER | PN_MOD_ADD_RCPT | PN_MOD_QUARANTINE,
	.on_mail = testd_mail,
	.on_rcpt = testd_rcpt,
	.on_eom = testd_eom,
};

/* tool_show - dry run of the end-of-message hook on a file */
static int tool_show(const pn_config *cfg, void *state, int argc, char **argv)
{
	pn_snapshot snap = {1, 0, (pn_config *)cfg, state, &testd_engine};
	pn_conn *c;
	pn_actions *a;
	char *data;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: postern-testd show MESSAGE-FILE\n");
		return EX_USAGE;
	}
	if ((data = pn_read_file(argv[1], 0, &len)) == NULL) {
		fprintf(stderr, "postern-testd: cannot read %s: %s\n", argv[1], strerror(errno));
		return EX_NOINPUT;
	}
	c = pn_conn_new(&snap);
	c->msg = pn_msg_load(data, len, (size_t)pn_config_int(cfg, "body_memory_limit"),
			     pn_config_str(cfg, "tmp_dir"));
	pn_msg_set_sender(c->msg, "<>", NULL);
	a = pn_actions_new();
	a->verdict = testd_eom(c, c->msg, a);
	pn_actions_print(a, stdout);
	pn_actions_free(a);
	pn_conn_free(c);
	pn_free(data);
	return 0;
}

static const pn_tool testd_tools[] = {
	{"show", "MESSAGE-FILE", "print the actions the daemon would take on a message", tool_show},
	{NULL, NULL, NULL, NULL}
};

static const pn_daemon testd_daemon = {
	.name = "postern-testd",
	.summary = "test-only milter that reports what libpostern saw",
	.config_file = "/etc/postern/testd.conf",
	.default_socket = "unix:/run/postern/testd.sock",
	.engine = &testd_engine,
	.tools = testd_tools,
};

int main(int argc, char **argv)
{
	return pn_daemon_main(&testd_daemon, argc, argv);
}
