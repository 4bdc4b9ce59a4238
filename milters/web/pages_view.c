/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pages_view - GET /audit?id=ID (the message's audit records and whether
 * the trail's chain verifies: trailview.c) and GET /tls[?domain=D] (TLS
 * partners and one partner's sessions: tlsview.c). These pages find the
 * files (audit.conf's trail and its rotations, the TLS policy), record the
 * view, and wrap the view modules' HTML in the layout.
 */
#include "milters/web/pages.h"
#include "milters/web/tlsview.h"
#include "milters/web/trailview.h"
#include "common/alloc.h"
#include "common/log.h"
#include "milters/audit/seal.h"
#include "milters/audit/trail.h"
#include "common/milter/daemon.h"
#include "milters/tls/tls_milter.h"

#include <string.h>

/* trail_files - the message trail's files, oldest first; NULL when none */
static char **trail_files(web_app *app, size_t *n)
{
	char **v;

	*n = 0;
	if (*app->trail_file == '\0' || (v = audit_trail_files(app->trail_file)) == NULL)
		return NULL;
	while (v[*n])
		(*n)++;
	return v;
}

static void files_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* refused - the view could not be recorded */
static pn_http_response *refused(web_req *r, char *err)
{
	pn_log(PN_LOG_ERROR, "refusing a page: %s", err);
	pn_free(err);
	return web_error(r, 500, "The access cannot be recorded: nothing is shown.");
}

pn_http_response *web_page_audit(web_app *app, web_req *r)
{
	char *err = NULL, **files;
	web_found *f = web_find(app, pn_http_arg(r->http, "id"), &err);
	const char *vkey = pn_config_str(app->cfg, "audit_verify_key_file");
	audit_verify_opts vo;
	audit_seal key;
	web_trail_opts o;
	pn_buf b;
	size_t n;

	if (f == NULL) {
		int status = err ? 503 : 404;
		if (err)
			pn_log(PN_LOG_ERROR, "audit page: %s", err);
		pn_free(err);
		return web_error(r, status, status == 404 ? "No such message in the archive."
				 : "The archive index cannot be read.");
	}
	if (web_record_read(app, r, "audit", f->d->id, f->d->sha256, &err) < 0) {
		web_found_free(f);
		return refused(r, err);
	}
	memset(&vo, 0, sizeof(vo));
	memset(&o, 0, sizeof(o));
	vo.no_key = 1;
	if (*vkey) {
		/* the initial sealing key (an offline copy): the MACs are checked too */
		if (audit_seal_load(vkey, AUDIT_SEAL_NO_CHECK, &key, &err) < 0) {
			pn_log(PN_LOG_ERROR, "audit_verify_key_file: %s", err);
			pn_free(err);
			err = NULL;
		} else {
			vo.keys = &key;
			vo.nkeys = 1;
			vo.no_key = 0;
		}
	}
	o.verify = &vo;
	web_page_begin(&b, r, "Audit records");
	pn_buf_puts(&b, "<p>Delivery <a href=\"/message?id=");
	web_url_arg(&b, f->d->id);
	pn_buf_puts(&b, "\">");
	web_esc(&b, f->d->id);
	pn_buf_puts(&b, "</a>, queue id ");
	web_esc(&b, f->d->queue_id);
	pn_buf_puts(&b, "</p>\n");
	files = trail_files(app, &n);
	if (n == 0) {
		pn_buf_puts(&b, "<table id=\"audit-records\"></table><p id=\"chain-status\">FAILED: "
			    "no audit trail (audit_config names none, or it does not exist)</p>\n");
	} else if (web_trail_for_message(&b, files, n, f->d->queue_id, f->d->message_id, &o,
					 &err) < 0) {
		pn_buf_puts(&b, "<p class=\"error\" id=\"error\">");
		web_esc(&b, err);
		pn_buf_puts(&b, "</p>\n");
		pn_free(err);
	}
	files_free(files);
	web_found_free(f);
	if (vo.nkeys)
		audit_seal_wipe(&key);
	web_page_end(&b);
	return web_html(&b);
}

/* tls_policy_file - tls_policy, else tls_config's policy_file, else NULL */
static const char *tls_policy_file(web_app *app, pn_config **tcfg, pn_param **table)
{
	char *err = NULL;

	*tcfg = NULL;
	*table = NULL;
	if (*app->tls_policy)
		return app->tls_policy;
	if (*app->tls_config == '\0')
		return NULL;
	*table = pn_engine_table(&ptls_engine);
	if ((*tcfg = pn_config_load(app->tls_config, *table, &err)) == NULL) {
		pn_log(PN_LOG_ERROR, "tls_config: %s", err);
		pn_free(err);
		return NULL;
	}
	return pn_config_str(*tcfg, "policy_file");
}

pn_http_response *web_page_tls(web_app *app, web_req *r)
{
	const char *domain = pn_http_arg(r->http, "domain"), *policy;
	char *err = NULL, **files;
	pn_config *tcfg;
	pn_param *table;
	web_tls_opts o;
	pn_buf b;
	size_t n;
	int rc;

	if (web_record_access(app, r, "tls", domain ? domain : "", &err) < 0)
		return refused(r, err);
	memset(&o, 0, sizeof(o));
	policy = tls_policy_file(app, &tcfg, &table);
	files = trail_files(app, &n);
	web_page_begin(&b, r, domain && *domain ? "TLS partner" : "TLS partners");
	if (domain && *domain)
		rc = web_tls_partner(&b, domain, policy, files, n, &o, &err);
	else
		rc = web_tls_partners(&b, policy, files, n, &o, &err);
	if (rc < 0) {
		pn_buf_puts(&b, "<p class=\"error\" id=\"error\">");
		web_esc(&b, err);
		pn_buf_puts(&b, "</p>\n");
		pn_free(err);
	}
	files_free(files);
	pn_config_free(tcfg);
	pn_free(table);
	web_page_end(&b);
	return web_html(&b);
}
