/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls_milter - parameters, load() and the hooks of postern-tls (see tls_milter.h)
 *
 * Each hook reads the session's facts, asks the engine (decide.c) and
 * translates: a refusal becomes the hook's verdict with its SMTP reply;
 * hold and tag are remembered on the message for end of message, where
 * smfi_quarantine() and header changes are allowed.
 *
 * Every decision is also noted in the message's story (msg.h), for the
 * audit engine of a postern-suite: "policy" (the policy entry as the
 * file names it, with its line, or "none"), "verdict" (pass, the
 * violated policy's action, or none), "tls" (the facts decided on) and,
 * for a violation, "reason" (what was required); a recipient decided by
 * a policy adds "DOMAIN=VERDICT" to "rcpt". Values are cut to NOTE_MAX
 * bytes, so no address in the mail makes them large.
 */
#include "milters/tls/tls_milter.h"
#include "milters/tls/sts.h"
#include "common/alloc.h"
#include "common/filestamp.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/milter/engine_list.h"
#include "common/milter/milter.h"
#include "common/text.h"
#include "milters/tls/socketmap.h"

#include <pthread.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

static const pn_param ptls_params[] = {
	{"policy_file", PN_PARAM_STR, "/etc/postern/tls_policy", 0, 0, NULL,
	 "the TLS policy: one line per partner domain (postern-tls.conf(5))"},
	{"policy_check_interval", PN_PARAM_TIME, "1s", 0, 3600, NULL,
	 "0: reload the policy on SIGHUP only; else every connection stats the policy file "
	 "before its first decision and uses a changed file at once"},
	{"trace_header", PN_PARAM_STR, "", 0, 0, NULL,
	 "header that summarises the session's TLS and the policies that matched (empty: none)"},
	{"tag_header", PN_PARAM_STR, "X-Postern-TLS-Policy", 0, 0, NULL,
	 "header added for each violated policy whose action is tag"},
	{"policy_socketmap", PN_PARAM_STR, "", 0, 0, NULL,
	 "unix:PATH where Postfix's smtp_tls_policy_maps = socketmap:unix:PATH:postfix asks "
	 "for the outbound policy (empty: off)"},
	{"policy_socketmap_mode", PN_PARAM_STR, "0666", 0, 0, NULL,
	 "permissions of the socketmap socket (octal); restrict access with its directory"},
	{"policy_socketmap_max_connections", PN_PARAM_INT, "256", 1, 4096, NULL,
	 "socketmap connections open at once (Postfix keeps one per smtp process)"},
	{"policy_socketmap_timeout", PN_PARAM_TIME, "10s", 1, 3600, NULL,
	 "time for one socketmap request to arrive and its reply to leave"},
	{"policy_socketmap_idle", PN_PARAM_TIME, "100s", 1, 86400, NULL,
	 "an idle socketmap connection is closed after this time"},
	{"sts_enable", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "MTA-STS (RFC 8461) for policy lines with outbound=sts: the socketmap answers from the "
	 "partner's published policy"},
	{"sts_all_domains", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "MTA-STS also for every domain no policy line names"},
	{"sts_resolver", PN_PARAM_STR, "", 0, 0, NULL,
	 "DNS server ADDRESS[:PORT] (IPv4) for the _mta-sts TXT and the policy host "
	 "(empty: /etc/resolv.conf)"},
	{"sts_ca_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "PEM file of CAs that may sign policy hosts' certificates (empty: OpenSSL's default store)"},
	{"sts_https_port", PN_PARAM_INT, "443", 1, 65535, NULL,
	 "port of the policy host (RFC 8461 says 443: change it only for tests)"},
	{"sts_cache_file", PN_PARAM_STR, "/var/lib/postern/tls/mta-sts.cache", 0, 0, NULL,
	 "where fetched policies are kept across restarts (empty: memory only)"},
	{"sts_lookup_timeout", PN_PARAM_TIME, "2s", 1, 60, NULL,
	 "longest a socketmap answer waits for a policy not yet cached (then: no policy)"},
	{"sts_fetch_timeout", PN_PARAM_TIME, "10s", 1, 300, NULL,
	 "bound of one TXT lookup plus HTTPS policy fetch, in the background"},
	{"sts_refresh_interval", PN_PARAM_TIME, "1h", 1, 86400, NULL,
	 "how long a cached policy is used before its TXT id is checked again"},
	{"sts_cache_size", PN_PARAM_INT, "10000", 10, 1000000, NULL,
	 "domains kept in the MTA-STS cache"},
	{"ledger_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "SQLite file counting TLS sessions per partner, direction and day (empty: no ledger)"},
	{"ledger_partners", PN_PARAM_ENUM, "policy", 0, 0, "policy|all",
	 "which domains the ledger counts: those a policy line covers, or all"},
	{"report_organization", PN_PARAM_STR, "", 0, 0, NULL,
	 "organization-name of RFC 8460 reports (empty: this host's name)"},
	{"report_contact", PN_PARAM_STR, "", 0, 0, NULL,
	 "contact-info of RFC 8460 reports (empty: postmaster@ this host's name)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* socketmap_params - the socketmap path (without "unix:") and mode, checked */
static int socketmap_params(const pn_config *cfg, const char **path, mode_t *mode, char **err)
{
	const char *v = pn_config_str(cfg, "policy_socketmap");
	const char *file = pn_config_path(cfg) ? pn_config_path(cfg) : "(defaults)";

	if (strncmp(v, "unix:", 5) == 0)
		v += 5;
	*path = v;
	if (*v != '\0' && *v != '/') {
		*err = pn_asprintf("%s: parameter \"policy_socketmap\" = \"%s\": want "
				   "unix:/ABSOLUTE/PATH (Postfix's socketmap:unix:...)", file,
				   pn_config_str(cfg, "policy_socketmap"));
		return -1;
	}
	if (pn_parse_mode(pn_config_str(cfg, "policy_socketmap_mode"), mode) < 0) {
		*err = pn_asprintf("%s: parameter \"policy_socketmap_mode\" = \"%s\": not an "
				   "octal mode", file, pn_config_str(cfg, "policy_socketmap_mode"));
		return -1;
	}
	return 0;
}

/* ptls_load - read the policy named in the configuration */
static void *ptls_load(const pn_config *cfg, char **err)
{
	ptls_state *st;
	ptls_policy_set *set;
	const char *names[] = {"trace_header", "tag_header", NULL}, *sock;
	mode_t mode;
	int i;

	for (i = 0; names[i]; i++) {
		const char *v = pn_config_str(cfg, names[i]);
		if (*v && !pn_header_name_valid(v)) {
			*err = pn_asprintf("%s: parameter \"%s\" = \"%s\": not a header name",
					   pn_config_path(cfg) ? pn_config_path(cfg) : "(defaults)",
					   names[i], v);
			return NULL;
		}
	}
	if (socketmap_params(cfg, &sock, &mode, err) < 0)
		return NULL;
	if ((set = ptls_policy_load(pn_config_str(cfg, "policy_file"), err)) == NULL)
		return NULL;
	st = pn_calloc(1, sizeof(*st));
	st->socketmap = sock;
	st->socketmap_mode = mode;
	st->socketmap_max_connections =
		(unsigned)pn_config_int(cfg, "policy_socketmap_max_connections");
	st->socketmap_timeout_ms = pn_config_int(cfg, "policy_socketmap_timeout") * 1000;
	st->socketmap_idle_ms = pn_config_int(cfg, "policy_socketmap_idle") * 1000;
	st->policy = set;
	st->trace_header = pn_config_str(cfg, "trace_header");
	st->tag_header = pn_config_str(cfg, "tag_header");
	st->check_interval = pn_config_int(cfg, "policy_check_interval");
	st->sts_all_domains = pn_config_bool(cfg, "sts_all_domains");
	if (pn_config_bool(cfg, "sts_enable")) {
		ptls_sts_config sc = {
			.resolver = pn_config_str(cfg, "sts_resolver"),
			.ca_file = pn_config_str(cfg, "sts_ca_file"),
			.https_port = (unsigned)pn_config_int(cfg, "sts_https_port"),
			.cache_file = pn_config_str(cfg, "sts_cache_file"),
			.lookup_timeout_ms = pn_config_int(cfg, "sts_lookup_timeout") * 1000,
			.fetch_timeout_ms = pn_config_int(cfg, "sts_fetch_timeout") * 1000,
			.refresh_interval = pn_config_int(cfg, "sts_refresh_interval"),
			.cache_max = (size_t)pn_config_int(cfg, "sts_cache_size"),
		};
		char *why = NULL;

		if ((st->sts = ptls_sts_new(&sc, &why)) == NULL) {
			*err = pn_asprintf("%s: %s",
					   pn_config_path(cfg) ? pn_config_path(cfg) : "(defaults)", why);
			pn_free(why);
			ptls_policy_free(st->policy);
			pn_free(st);
			return NULL;
		}
	}
	st->ledger_file = pn_config_str(cfg, "ledger_file");
	st->ledger_all = strcmp(pn_config_str(cfg, "ledger_partners"), "all") == 0;
	st->report_organization = pn_config_str(cfg, "report_organization");
	st->report_contact = pn_config_str(cfg, "report_contact");
	pthread_mutex_init(&st->ledger_lock, NULL);
	return st;
}

/* ptls_unload - free a state nobody uses any more */
static void ptls_unload(void *state)
{
	ptls_state *st = state;

	ptls_sts_free(st->sts);
	ptls_policy_free(st->policy);
	ptls_ledger_close(st->ledger);
	pthread_mutex_destroy(&st->ledger_lock);
	pn_free(st);
}

/* ptls_facts_from_conn - the session's TLS macros and client address */
void ptls_facts_from_conn(const pn_conn *c, ptls_facts *f)
{
	f->version = pn_conn_macro(c, "{tls_version}");
	f->cipher = pn_conn_macro(c, "{cipher}");
	f->bits = pn_conn_macro(c, "{cipher_bits}");
	f->subject = pn_conn_macro(c, "{cert_subject}");
	f->issuer = pn_conn_macro(c, "{cert_issuer}");
	f->verify = pn_conn_macro(c, "{verify}");
	f->client_addr = c->client_addr;
}

/* ptls_watch - the policy file, for the milter layer to watch (engine.h)
 *
 * Every connection looks (one stat) before its first decision, and one
 * that sees the file changed reloads first, so it already decides with
 * the changed policy: a partner just added is enforced from the next
 * connection on. policy_check_interval = 0 leaves reloads to SIGHUP.
 */
static void ptls_watch(const void *state, pn_snapshot *s)
{
	const ptls_state *st = state;

	if (st->check_interval > 0 && st->policy->stamp.ok)
		pn_snapshot_watch(s, st->policy->file, &st->policy->stamp);
}

/* findings_of - the message's remembered findings, created on first use */
static ptls_findings *findings_of(pn_msg *m)
{
	if (m->engine_data == NULL)
		m->engine_data = pn_calloc(1, sizeof(ptls_findings));
	return m->engine_data;
}

/* Longest value noted in the message's story */
#define NOTE_MAX 200

/* note_decision - the decision in the message's story (see the top) */
static void note_decision(pn_msg *m, const ptls_decision *d, const ptls_facts *f)
{
	const char *verdict = d->policy == NULL ? (d->verdict == PN_TEMPFAIL ? "tempfail" : "none")
			      : d->failed == 0 ? "pass" : ptls_action_name(d->policy->action);
	char *policy, *facts, *item;
	const char *old;
	pn_buf b;

	if (d->stage == PTLS_STAGE_RCPT && d->policy == NULL && d->verdict != PN_TEMPFAIL)
		return;		/* a recipient no policy names: nothing to tell */
	policy = d->policy ? pn_asprintf("%s line %u", d->policy->key, d->policy->line)
			   : pn_strdup("none");
	item = ptls_clean(policy, NOTE_MAX);
	pn_free(policy);
	pn_buf_init(&b, 0);
	ptls_facts_summary(f, &b);
	facts = ptls_clean(pn_buf_str(&b), NOTE_MAX);
	pn_buf_free(&b);
	if (d->stage == PTLS_STAGE_MAIL) {
		pn_msg_note(m, "tls", "policy", item);
		pn_msg_note(m, "tls", "verdict", verdict);
	} else {
		char *domain = ptls_clean(*d->domain ? d->domain : "(none)", 80);
		old = pn_msg_note_get(m, "tls", "rcpt");
		pn_buf_init(&b, 0);
		if (old)
			pn_buf_printf(&b, "%s, ", old);
		pn_buf_printf(&b, "%s=%s", domain, verdict);
		/* many recipients: the first ones, then "..." */
		if (old == NULL || pn_buf_len(&b) <= NOTE_MAX) {
			pn_msg_note(m, "tls", "rcpt", pn_buf_str(&b));
		} else if (strlen(old) < 3 || strcmp(old + strlen(old) - 3, "...") != 0) {
			pn_buf_reset(&b);
			pn_buf_printf(&b, "%s, ...", old);
			pn_msg_note(m, "tls", "rcpt", pn_buf_str(&b));
		}
		pn_buf_free(&b);
		pn_free(domain);
		if (pn_msg_note_get(m, "tls", "policy") == NULL
		    || strcmp(pn_msg_note_get(m, "tls", "policy"), "none") == 0) {
			pn_msg_note(m, "tls", "policy", item);
			pn_msg_note(m, "tls", "verdict", verdict);
		}
	}
	pn_msg_note(m, "tls", "tls", facts);
	if (d->failed && d->required) {
		char *why = ptls_clean(d->required, NOTE_MAX);
		char *reason = pn_asprintf("%s requires %s", d->policy->key, why);
		char *r = ptls_clean(reason, NOTE_MAX);
		pn_msg_note(m, "tls", "reason", r);
		pn_free(r);
		pn_free(reason);
		pn_free(why);
	}
	pn_free(item);
	pn_free(facts);
}

/* Log the first failure to write the ledger, then one in this many */
#define LEDGER_LOG_EVERY 1000

/* count_inbound - the MAIL decision in the ledger (partner: the sender's domain)
 *
 * The handle is opened at first use, in the serving worker only (load()
 * also runs for `check` and the tools). A write waits at most 2 s for
 * the log reader's transaction; a count that still fails is logged and
 * the mail goes on: the ledger never delays delivery beyond that.
 */
static void count_inbound(ptls_state *st, const ptls_decision *d, const ptls_facts *f)
{
	ptls_ledger_row row;
	char day[11], *err = NULL, *why = NULL;
	int ok;

	if (*st->ledger_file == '\0' || d->domain == NULL || *d->domain == '\0'
	    || (d->policy == NULL && !st->ledger_all))
		return;
	memset(&row, 0, sizeof(row));
	ptls_ml_day(time(NULL), day);
	row.day = day;
	row.partner = d->domain;
	row.direction = "inbound";
	row.result = d->policy == NULL ? "accepted" : d->failed == 0 ? "compliant"
		     : (d->verdict == PN_REJECT || d->verdict == PN_TEMPFAIL) ? "refused" : "violated";
	row.tls = f->version ? f->version : "none";
	row.cipher = f->version && f->cipher ? f->cipher : "";
	row.trust = f->version == NULL ? "none" : ptls_verified(f) ? "verified" : "unverified";
	row.failure = "";
	row.mx_host = "";
	if (d->failed && d->required)
		why = pn_asprintf("requires %s; seen %s", d->required, d->seen ? d->seen : "");
	row.detail = why ? why : "";
	row.n = 1;
	pthread_mutex_lock(&st->ledger_lock);
	if (st->ledger == NULL)
		st->ledger = ptls_ledger_open(st->ledger_file, 0, 2000, &err);
	ok = st->ledger && ptls_ledger_add(st->ledger, &row, err ? NULL : &err) == 0;
	if (!ok && st->ledger_errors++ % LEDGER_LOG_EVERY == 0)
		pn_log(PN_LOG_WARN, "tls: ledger: count for %s lost (%lu so far): %s", d->domain,
		       st->ledger_errors, err ? err : "error");
	pthread_mutex_unlock(&st->ledger_lock);
	pn_free(err);
	pn_free(why);
}

/* decide - run the engine at MAIL or RCPT, log, and turn the decision into a verdict */
static pn_verdict decide(pn_conn *c, pn_msg *m, ptls_stage stage, const pn_addr *a, int ok,
			 const char *path)
{
	ptls_state *st = pn_snapshot_state(c->snap);
	ptls_facts f;
	ptls_decision d;
	pn_verdict v;
	char *line;

	ptls_facts_from_conn(c, &f);
	ptls_decide_addr(st->policy, stage, a, ok, path, &f, &d);
	if (d.policy || pn_log_enabled(PN_LOG_DEBUG)) {
		line = ptls_decision_log(&d, &f);
		pn_log_msg(d.policy ? PN_LOG_INFO : PN_LOG_DEBUG, pn_conn_queue_id(c), "%s", line);
		pn_free(line);
	}
	note_decision(m, &d, &f);
	if (stage == PTLS_STAGE_MAIL)
		count_inbound(st, &d, &f);
	pn_metric_inc(PN_M_TLS_POLICY, d.policy == NULL ? (d.verdict == PN_TEMPFAIL ? PN_MT_ERROR
			: PN_MT_NONE) : d.failed == 0 ? PN_MT_PASS : PN_MT_REJECT + d.policy->action);
	v = d.verdict;
	if (v == PN_REJECT || v == PN_TEMPFAIL)
		pn_conn_reply(c, d.rcode, d.xcode, d.text);
	else
		ptls_findings_add(findings_of(m), &d);
	ptls_decision_clear(&d);
	return v;
}

/* ptls_mail - sender-domain rules */
static pn_verdict ptls_mail(pn_conn *c, pn_msg *m)
{
	return decide(c, m, PTLS_STAGE_MAIL, &m->sender_canon, m->sender_canon_ok, m->sender);
}

/* ptls_rcpt - recipient-domain rules, one recipient at a time */
static pn_verdict ptls_rcpt(pn_conn *c, pn_msg *m, const pn_rcpt *r)
{
	return decide(c, m, PTLS_STAGE_RCPT, &r->canon, r->canon_ok, r->addr);
}

/* ptls_eom - hold, tag and trace header, decided earlier, applied now */
static pn_verdict ptls_eom(pn_conn *c, pn_msg *m, pn_actions *a)
{
	const ptls_state *st = pn_snapshot_state(c->snap);
	const ptls_findings *fs = m->engine_data;
	ptls_facts f;
	size_t i;

	ptls_facts_from_conn(c, &f);
	ptls_findings_eom(fs, &f, st->trace_header, st->tag_header, a);
	for (i = 0; fs && i < fs->count; i++) {
		const ptls_finding *fi = &fs->items[i];
		char *r;
		if (!fi->failed)
			continue;
		r = ptls_findings_reason(fi);
		pn_log_msg(PN_LOG_INFO, m->queue_id, "tls: %s applied: %s",
			   ptls_action_name(fi->policy->action), r);
		pn_free(r);
	}
	return PN_CONTINUE;
}

/* ptls_free_msg - the findings of a message that ended */
static void ptls_free_msg(pn_conn *c, pn_msg *m)
{
	(void)c;
	if (m->engine_data) {
		ptls_findings_free(m->engine_data);
		pn_free(m->engine_data);
		m->engine_data = NULL;
	}
}

/* The socketmap server of this process: started once, by the first
 * serve() that names a path; later snapshots answer through it. */
static pthread_mutex_t socketmap_lock = PTHREAD_MUTEX_INITIALIZER;
static ptls_socketmap *socketmap;
static char *socketmap_path;

/* tls_state_of - the tls engine's state in a snapshot (postern-tls, or
 * the tls member of a postern-suite), NULL when it has none */
static const ptls_state *tls_state_of(pn_snapshot *s)
{
	const pn_config *cfg;
	void *state;

	if (s->engine == &ptls_engine)
		return s->state;
	if (pn_engine_list_member(s->state, "tls", &cfg, &state) == 0)
		return state;
	return NULL;
}

/* socketmap_acquire - the policy of the current snapshot, reloaded first
 * when the policy file changed; the snapshot is the handle */
static int socketmap_acquire(ptls_socketmap_view *v, void **handle)
{
	pn_snapshot *s = pn_snapshot_acquire_watched();
	const ptls_state *st;

	if (s == NULL)
		return -1;
	if ((st = tls_state_of(s)) == NULL) {
		pn_snapshot_release(s);
		return -1;
	}
	v->policy = st->policy;
	v->sts = st->sts;
	v->sts_all_domains = st->sts_all_domains;
	*handle = s;
	return 0;
}

/* socketmap_release - give the snapshot back */
static void socketmap_release(void *handle)
{
	pn_snapshot_release(handle);
}

/* ptls_serve - start the socketmap server in the serving worker */
static void ptls_serve(void *state)
{
	const ptls_state *st = state;
	static const ptls_socketmap_source source = {socketmap_acquire, socketmap_release};
	ptls_socketmap_opts o;
	char *err = NULL;

	pthread_mutex_lock(&socketmap_lock);
	if (socketmap != NULL || (socketmap_path != NULL && *st->socketmap == '\0')) {
		if (strcmp(socketmap_path, st->socketmap) != 0)
			pn_log(PN_LOG_WARN, "policy_socketmap changed from %s to %s: it takes "
			       "effect after a restart", socketmap_path,
			       *st->socketmap ? st->socketmap : "(off)");
	} else if (*st->socketmap) {
		memset(&o, 0, sizeof(o));
		o.path = st->socketmap;
		o.mode = st->socketmap_mode;
		o.max_connections = st->socketmap_max_connections;
		o.max_request = PTLS_SOCKETMAP_REQUEST_MAX;
		o.timeout_ms = st->socketmap_timeout_ms;
		o.idle_ms = st->socketmap_idle_ms;
		if ((socketmap = ptls_socketmap_start(&o, source, &err)) == NULL) {
			/* mail keeps flowing through the milter; Postfix's
			 * lookups fail and it defers outbound mail, loudly */
			pn_log(PN_LOG_ERROR, "policy_socketmap: %s: outbound policy lookups will "
			       "fail until this is fixed and the daemon restarted", err);
			pn_free(err);
		} else {
			pn_log(PN_LOG_INFO, "policy_socketmap: answering Postfix on %s", o.path);
		}
		pn_free(socketmap_path);
		socketmap_path = pn_strdup(st->socketmap);
	}
	pthread_mutex_unlock(&socketmap_lock);
}

/* ptls_stop_serving - the socketmap ends with the worker: its threads
 * stop and its socket file goes, so Postfix finds no stale socket */
static void ptls_stop_serving(void *state)
{
	(void)state;
	pthread_mutex_lock(&socketmap_lock);
	ptls_socketmap_stop(socketmap);
	socketmap = NULL;
	pn_free(socketmap_path);
	socketmap_path = NULL;
	pthread_mutex_unlock(&socketmap_lock);
}

const pn_engine ptls_engine = {
	.name = "tls",
	.params = ptls_params,
	.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_EOM,
	.mods = PN_MOD_ADD_HEADER | PN_MOD_QUARANTINE,
	.watch_files = ptls_watch,
	.serve = ptls_serve,
	.stop_serving = ptls_stop_serving,
	.load = ptls_load,
	.unload = ptls_unload,
	.on_mail = ptls_mail,
	.on_rcpt = ptls_rcpt,
	.on_eom = ptls_eom,
	.free_msg = ptls_free_msg,
};
