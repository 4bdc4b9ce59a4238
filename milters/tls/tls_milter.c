/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls_milter - parameters, load() and the hooks of postern-tls (see tls_milter.h)
 *
 * Each hook reads the session's facts, asks the engine (decide.c) and
 * translates: a refusal becomes the hook's verdict with its SMTP reply;
 * hold and tag are remembered on the message for end of message, where
 * smfi_quarantine() and header changes are allowed.
 */
#include "milters/tls/tls_milter.h"
#include "common/alloc.h"
#include "common/filestamp.h"
#include "common/log.h"
#include "common/milter/daemon.h"
#include "common/milter/milter.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

/* ptls_load - read the policy named in the configuration */
static void *ptls_load(const pn_config *cfg, char **err)
{
	ptls_state *st;
	ptls_policy_set *set;
	const char *names[] = {"trace_header", "tag_header", NULL};
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
	if ((set = ptls_policy_load(pn_config_str(cfg, "policy_file"), err)) == NULL)
		return NULL;
	st = pn_calloc(1, sizeof(*st));
	st->policy = set;
	st->trace_header = pn_config_str(cfg, "trace_header");
	st->tag_header = pn_config_str(cfg, "tag_header");
	st->check_interval = pn_config_int(cfg, "policy_check_interval");
	return st;
}

/* ptls_unload - free a state nobody uses any more */
static void ptls_unload(void *state)
{
	ptls_state *st = state;

	ptls_policy_free(st->policy);
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

/* A policy newer than the running snapshot, read by the first connection
 * that saw the file change and shared with the connections that start
 * before the reload thread has installed it (reference-counted). */
typedef struct fresh_policy {
	int refs;
	pn_filestamp id;
	ptls_policy_set *set;
} fresh_policy;

/* Shared by every connection, under watch_lock: the fresh policy, and
 * the file version a reload was last asked for (so a broken file is read
 * and reported once, not on every connection). The lock also makes
 * connections that see one change wait for one read of the file. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static fresh_policy *fresh;
static pn_filestamp requested;

/* fresh_release - drop a reference; the last one frees the policy */
static void fresh_release(fresh_policy *fp)
{
	int last;

	if (fp == NULL)
		return;
	pthread_mutex_lock(&watch_lock);
	last = --fp->refs == 0;
	pthread_mutex_unlock(&watch_lock);
	if (last) {
		ptls_policy_free(fp->set);
		pn_free(fp);
	}
}

/* read_changed - under watch_lock: the policy of file version id, read now; NULL if broken */
static fresh_policy *read_changed(const ptls_state *st)
{
	fresh_policy *fp;
	ptls_policy_set *set;
	char *err = NULL;

	set = ptls_policy_load(st->policy->file, &err);
	if (set == NULL) {
		pn_log(PN_LOG_ERROR, "%s; keeping the running policy", err ? err : "cannot read the policy");
		pn_free(err);
		return NULL;
	}
	fp = pn_calloc(1, sizeof(*fp));
	fp->refs = 1;
	fp->set = set;
	fp->id = set->stamp;
	return fp;
}

/* watch_policy - before a connection's first decision: the policy file as it is now
 *
 * One stat per connection. When the file differs from the one the
 * running snapshot was loaded from, the policy is read here, before the
 * connection decides anything (other connections seeing the same change
 * wait for that one read), and the reload thread is asked to install it
 * for everyone. Returns a reference to the newer policy, or NULL to use
 * the snapshot's (unchanged, or the new file is broken).
 */
static fresh_policy *watch_policy(const ptls_state *st)
{
	fresh_policy *fp = NULL, *old = NULL;
	pn_filestamp id;
	const pn_filestamp *then = &st->policy->stamp;
	int ask = 0;

	if (st->check_interval <= 0)
		return NULL;
	id = pn_filestamp_path(st->policy->file);
	pthread_mutex_lock(&watch_lock);
	if (pn_filestamp_same(&id, then)) {
		/* the snapshot caught up: the fresh copy is no longer needed */
		if (fresh && pn_filestamp_same(&fresh->id, then)) {
			old = fresh;
			fresh = NULL;
		}
	} else if (fresh && pn_filestamp_same(&fresh->id, &id)) {
		fp = fresh;
		fp->refs++;
	} else if (!pn_filestamp_same(&id, &requested)) {
		requested = id;
		ask = 1;
		if ((fp = read_changed(st)) != NULL) {
			old = fresh;
			fresh = fp;
			fp->refs++;
		}
	}
	pthread_mutex_unlock(&watch_lock);
	fresh_release(old);
	if (ask && pn_daemon_request_reload() == 0)
		pn_log(PN_LOG_INFO, "%s changed: reloading", st->policy->file);
	return fp;
}

/* ptls_connect - a new connection: look at the policy file before any decision */
static pn_verdict ptls_connect(pn_conn *c)
{
	fresh_release(c->engine_data);
	c->engine_data = watch_policy(pn_snapshot_state(c->snap));
	return PN_CONTINUE;
}

/* policy_of - the policy this connection decides with */
static const ptls_policy_set *policy_of(const pn_conn *c, const ptls_state *st)
{
	const fresh_policy *fp = c->engine_data;

	return fp ? fp->set : st->policy;
}

/* ptls_free_conn - the connection's reference to a fresh policy */
static void ptls_free_conn(pn_conn *c)
{
	fresh_release(c->engine_data);
	c->engine_data = NULL;
}

/* findings_of - the message's remembered findings, created on first use */
static ptls_findings *findings_of(pn_msg *m)
{
	if (m->engine_data == NULL)
		m->engine_data = pn_calloc(1, sizeof(ptls_findings));
	return m->engine_data;
}

/* decide - run the engine at MAIL or RCPT, log, and turn the decision into a verdict */
static pn_verdict decide(pn_conn *c, pn_msg *m, ptls_stage stage, const pn_addr *a, int ok,
			 const char *path)
{
	const ptls_state *st = pn_snapshot_state(c->snap);
	ptls_facts f;
	ptls_decision d;
	pn_verdict v;
	char *line;

	ptls_facts_from_conn(c, &f);
	ptls_decide_addr(policy_of(c, st), stage, a, ok, path, &f, &d);
	if (d.policy || pn_log_enabled(PN_LOG_DEBUG)) {
		line = ptls_decision_log(&d, &f);
		pn_log_msg(d.policy ? PN_LOG_INFO : PN_LOG_DEBUG, pn_conn_queue_id(c), "%s", line);
		pn_free(line);
	}
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

const pn_engine ptls_engine = {
	.name = "tls",
	.params = ptls_params,
	.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_EOM,
	.mods = PN_MOD_ADD_HEADER | PN_MOD_QUARANTINE,
	.load = ptls_load,
	.unload = ptls_unload,
	.on_connect = ptls_connect,
	.on_mail = ptls_mail,
	.on_rcpt = ptls_rcpt,
	.on_eom = ptls_eom,
	.free_msg = ptls_free_msg,
	.free_conn = ptls_free_conn,
};
