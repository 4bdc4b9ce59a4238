/* SPDX-License-Identifier: BSD-2-Clause */
/* archive_milter - the archive engine as the milter layer sees it
 * (see archive_milter.h) */
#include "milters/archive/archive_milter.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/spool.h"
#include "common/milter/milter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

const pn_param archive_params[] = {
	{"archive_directory", PN_PARAM_STR, "/var/lib/postern/archive", 0, 0, NULL,
	 "directory that holds objects/, journal/ and index.db"},
	{"compression_level", PN_PARAM_INT, "3", 1, 19, NULL, "zstd compression level"},
	{"encryption_certificates", PN_PARAM_STR, "", 0, 0, NULL,
	 "PEM certificates to encrypt objects to (CMS); empty: no encryption"},
	{"object_name_key", PN_PARAM_STR, "", 0, 0, NULL,
	 "key file naming objects when encrypting (empty: archive_directory/object-name.key)"},
	{"fulltext", PN_PARAM_ENUM, "auto", 0, 0, "auto|none|subject|text",
	 "what the full-text index holds (auto: text, or subject only when encrypting)"},
	{"fulltext_max", PN_PARAM_SIZE, "256k", 0, 64LL << 20, NULL,
	 "text of one message kept for the full-text index"},
	{"lock_timeout", PN_PARAM_TIME, "30s", 1, 3600, NULL,
	 "how long to wait for the index or a lock before answering tempfail"},
	{"include_domains", PN_PARAM_STR, "", 0, 0, NULL,
	 "archive only mail from or to these domains (empty: all)"},
	{"exclude_sender_domains", PN_PARAM_STR, "", 0, 0, NULL,
	 "do not archive mail from these domains"},
	{"exclude_recipient_domains", PN_PARAM_STR, "", 0, 0, NULL,
	 "do not archive mail whose every recipient is in these domains"},
	{"direction", PN_PARAM_ENUM, "both", 0, 0, "both|inbound|outbound",
	 "which direction to archive (outbound: authenticated or internal_networks)"},
	{"internal_networks", PN_PARAM_STR, "", 0, 0, NULL,
	 "client networks whose mail is outbound"},
	{"size_limit", PN_PARAM_SIZE, "0", 0, 0, NULL, "largest message to archive (0: no limit)"},
	{"size_limit_action", PN_PARAM_ENUM, "reject", 0, 0, "reject|tempfail|accept",
	 "what to do with a larger message (accept: deliver it unarchived)"},
	{"retention", PN_PARAM_STR, "0", 0, 0, NULL,
	 "how long prune keeps deliveries: 0 (forever), Nd, Nw or Ny"},
	{"spool_directory", PN_PARAM_STR, "", 0, 0, NULL,
	 "where large bodies are spooled (empty: archive_directory/spool when encrypting, else tmp_dir)"},
	{"access_log", PN_PARAM_STR, "", 0, 0, NULL,
	 "file that also records every read of archived content (get, export)"},
	{"index", PN_PARAM_ENUM, "sqlite", 0, 0, "sqlite|postgresql",
	 "where the index is: sqlite (archive_directory/index.db, one host) or postgresql "
	 "(shared by several hosts)"},
	{"index_connection", PN_PARAM_STR, "", 0, 0, NULL,
	 "libpq connection string of the PostgreSQL index (required with index = postgresql)"},
	{"host_name", PN_PARAM_STR, "", 0, 0, NULL,
	 "this host's name: its journal is archive_directory/journal/HOST/ with index = "
	 "postgresql (empty: the system host name)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

typedef struct engine_state {
	arc_archive *archive;
	long long size_limit;
	int size_action;		/* 'r'eject, 't'empfail, 'a'ccept */
} engine_state;

/* archive_of - the archive inside the engine state */
arc_archive *archive_of(void *state)
{
	return state ? ((engine_state *)state)->archive : NULL;
}

/* where - "FILE:LINE: " of a parameter (the file alone for a default) */
static char *where(const pn_config *cfg, const char *name)
{
	const char *path = pn_config_path(cfg);
	size_t line = pn_config_line(cfg, name);

	if (path == NULL)
		return pn_strdup("");
	return line ? pn_asprintf("%s:%zu: ", path, line) : pn_asprintf("%s: ", path);
}

/* shared_settings - index, index_connection and host_name */
static int shared_settings(const pn_config *cfg, arc_settings *set, char **err)
{
	const char *host = pn_config_str(cfg, "host_name");
	char *at;

	/* names a directory: refused whichever the index, never used as a path */
	if (*host && !arc_journal_host_ok(host)) {
		at = where(cfg, "host_name");
		*err = pn_asprintf("%sparameter \"host_name\" = \"%s\": not a host name (letters, "
				   "digits, '.', '-', '_'; not starting with '.' or '-')", at, host);
		pn_free(at);
		return -1;
	}
	if (strcmp(pn_config_str(cfg, "index"), "postgresql") != 0)
		return 0;	/* SQLite: one host, journal/ and index.db as ever */
	set->index_connection = pn_config_str(cfg, "index_connection");
	if (*set->index_connection == '\0') {
		at = where(cfg, "index");
		*err = pn_asprintf("%sparameter \"index\" = \"postgresql\": index_connection "
				   "(a libpq connection string) is required", at);
		pn_free(at);
		return -1;
	}
	if (*host == '\0') {
		if (gethostname(set->host_buf, sizeof(set->host_buf) - 1) < 0) {
			*err = pn_asprintf("cannot tell the host name: %s; set host_name",
					   strerror(errno));
			return -1;
		}
		set->host_buf[sizeof(set->host_buf) - 1] = '\0';
		host = set->host_buf;
		if (!arc_journal_host_ok(host)) {
			*err = pn_asprintf("the system host name \"%s\" cannot name a journal "
					   "directory: set host_name", host);
			return -1;
		}
	}
	set->host = host;
	return 0;
}

/* archive_settings - the archive's settings from the configuration */
int archive_settings(const pn_config *cfg, arc_settings *set, char **err)
{
	const char *ft = pn_config_str(cfg, "fulltext");

	memset(set, 0, sizeof(*set));
	set->dir = pn_config_str(cfg, "archive_directory");
	if (*set->dir != '/') {
		*err = pn_asprintf("parameter \"archive_directory\" = \"%s\": must be an absolute path",
				   set->dir);
		return -1;
	}
	set->user = pn_config_str(cfg, "user");
	set->compression_level = (int)pn_config_int(cfg, "compression_level");
	set->certificates = pn_config_str(cfg, "encryption_certificates");
	set->name_key = pn_config_str(cfg, "object_name_key");
	set->spool_dir = pn_config_str(cfg, "spool_directory");
	/* auto: with encryption the index keeps no message text unless asked */
	if (strcmp(ft, "auto") == 0)
		set->fulltext = *set->certificates ? 1 : 2;
	else
		set->fulltext = strcmp(ft, "none") == 0 ? 0 : strcmp(ft, "subject") == 0 ? 1 : 2;
	set->fulltext_max = (size_t)pn_config_int(cfg, "fulltext_max");
	set->busy_ms = (long)pn_config_int(cfg, "lock_timeout") * 1000L;
	set->scope.include_domains = pn_config_str(cfg, "include_domains");
	set->scope.exclude_sender_domains = pn_config_str(cfg, "exclude_sender_domains");
	set->scope.exclude_recipient_domains = pn_config_str(cfg, "exclude_recipient_domains");
	set->scope.direction = pn_config_str(cfg, "direction");
	set->scope.internal_networks = pn_config_str(cfg, "internal_networks");
	set->retention = pn_config_str(cfg, "retention");
	if (shared_settings(cfg, set, err) < 0)
		return -1;
	set->catch_up = 1;
	/* only the daemon journals deliveries: the tools never start it */
	set->indexer_thread = 1;
	set->await_outcome = 1;
	return 0;
}

/* archive_load - open the archive in this process */
static void *archive_load(const pn_config *cfg, char **err)
{
	arc_settings set;
	engine_state *s;
	arc_archive *a;

	if (archive_settings(cfg, &set, err) < 0 || (a = arc_archive_open(&set, err)) == NULL)
		return NULL;
	/* large bodies: the archive's own directory, encrypted, when objects are */
	pn_spool_configure(a->spool_dir, a->seal != NULL);
	s = pn_calloc(1, sizeof(*s));
	s->archive = a;
	s->size_limit = pn_config_int(cfg, "size_limit");
	s->size_action = pn_config_str(cfg, "size_limit_action")[0];
	return s;
}

/* archive_serve - the serving worker: the indexer starts now (several hosts) */
static void archive_serve(void *state)
{
	arc_archive_serve(((engine_state *)state)->archive);
}

/* archive_unload - close the archive */
static void archive_unload(void *state)
{
	engine_state *s = state;

	arc_archive_close(s->archive);
	pn_free(s);
}

/* What a message keeps between end of message and its outcome. */
typedef struct stored_msg {
	arc_archive *archive;
	char id[ARC_ID_LEN + 1];
	long long time;
	int awaiting;		/* the outcome is not recorded yet */
} stored_msg;

/* state_of - this connection's engine state */
static engine_state *state_of(const pn_conn *c)
{
	return pn_snapshot_state(c->snap);
}

/* declared_size - the SIZE= argument of MAIL FROM, or -1 */
static long long declared_size(const pn_msg *m)
{
	char **a;

	for (a = m->sender_args; a && *a; a++)
		if (strncasecmp(*a, "SIZE=", 5) == 0)
			return strtoll(*a + 5, NULL, 10);
	return -1;
}

/* too_big - the configured answer to a message over size_limit */
static pn_verdict too_big(pn_conn *c, const engine_state *s, const char *qid, long long size)
{
	if (s->size_action == 'a') {
		pn_log_msg(PN_LOG_WARN, qid, "archive: not archived: size %lld over size_limit %lld",
			   size, s->size_limit);
		return PN_CONTINUE;
	}
	pn_log_msg(PN_LOG_INFO, qid, "archive: %s: size %lld over size_limit %lld",
		   s->size_action == 'r' ? "reject" : "tempfail", size, s->size_limit);
	if (s->size_action == 'r') {
		pn_conn_reply(c, "552", "5.3.4", "Message too big for the mail archive");
		return PN_REJECT;
	}
	pn_conn_reply(c, "452", "4.3.4", "Message too big for the mail archive now");
	return PN_TEMPFAIL;
}

/* archive_mail - refuse a declared size over the limit before the data */
static pn_verdict archive_mail(pn_conn *c, pn_msg *m)
{
	const engine_state *s = state_of(c);
	long long size = declared_size(m);

	if (s->size_limit > 0 && s->size_action != 'a' && size > s->size_limit)
		return too_big(c, s, pn_conn_queue_id(c), size);
	return PN_CONTINUE;
}

/* strip_brackets - a clean envelope address without <> */
static char *strip_brackets(const char *addr)
{
	size_t n = strlen(addr);
	char *tmp, *out;

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		tmp = pn_strndup(addr + 1, n - 2);
	else
		tmp = pn_strdup(addr);
	out = arc_clean(tmp);
	pn_free(tmp);
	return out;
}

/* set_field - replace a delivery field with a clean copy */
static void set_field(char **field, const char *value)
{
	pn_free(*field);
	*field = arc_clean(value ? value : "");
}

/* envelope - the delivery's envelope facts from the connection and message */
static arc_delivery *envelope(const pn_conn *c, const pn_msg *m, const char *direction)
{
	arc_delivery *d = arc_delivery_new();
	const char *auth = pn_conn_macro(c, "{auth_authen}");
	size_t i;

	d->time = (long long)time(NULL);
	set_field(&d->queue_id, m->queue_id);
	set_field(&d->mta, pn_conn_macro(c, "j"));
	set_field(&d->client_addr, c->client_addr);
	set_field(&d->client_name, c->client_name);
	set_field(&d->helo, c->helo);
	set_field(&d->auth, auth);
	set_field(&d->direction, direction);
	pn_free(d->sender);
	d->sender = strip_brackets(m->sender ? m->sender : "<>");
	for (i = 0; i < m->nrcpts; i++) {
		char *r = strip_brackets(m->rcpts[i].addr);
		arc_delivery_add_rcpt(d, r);
		pn_free(r);
	}
	return d;
}

/* note_not_archived - the message's story: no copy, and why */
static void note_not_archived(pn_msg *m, const char *reason)
{
	pn_msg_note(m, "archive", "archived", "no");
	pn_msg_note(m, "archive", "reason", reason);
}

/* remember - the delivery just journaled, until its outcome is known */
static void remember(pn_msg *m, arc_archive *a, const arc_result *res, long long when)
{
	stored_msg *sm = pn_calloc(1, sizeof(*sm));

	sm->archive = a;
	snprintf(sm->id, sizeof(sm->id), "%s", res->id);
	sm->time = when;
	sm->awaiting = 1;
	m->engine_data = sm;
	pn_msg_note(m, "archive", "id", res->id);
	pn_msg_note(m, "archive", "sha256", res->sha256);
	pn_msg_note(m, "archive", "stored", res->dedup ? "dedup" : "new");
}

/* refusal_text - why the delivery is voided, from the final answer */
static char *refusal_text(const pn_outcome *o)
{
	return pn_asprintf("%s by %s%s%s%s%s%s", pn_verdict_name(o->verdict),
			   o->by ? o->by : "the milter layer", o->rcode ? ": " : "",
			   o->rcode ? o->rcode : "", o->xcode ? " " : "", o->xcode ? o->xcode : "",
			   o->text ? " " : "");
}

/* settle - record the MTA's answer to a stored delivery, once */
static void settle(pn_msg *m, stored_msg *sm, int accepted, const pn_outcome *o)
{
	char *reason = NULL, *err = NULL;

	if (!sm->awaiting)
		return;
	sm->awaiting = 0;
	if (!accepted) {
		char *head = refusal_text(o);
		reason = pn_asprintf("%s%s", head, o->text ? o->text : "");
		pn_free(head);
	}
	if (arc_archive_outcome(sm->archive, sm->id, sm->time, accepted, reason, &err) < 0)
		pn_log_msg(PN_LOG_ERROR, m->queue_id, "archive: id=%s was refused (%s) but cannot "
			   "be voided: %s", sm->id, reason ? reason : "", err);
	else if (!accepted)
		pn_log_msg(PN_LOG_INFO, m->queue_id, "archive: id=%s voided: %s", sm->id, reason);
	if (!accepted)
		pn_msg_note(m, "archive", "voided", reason);
	pn_free(err);
	pn_free(reason);
}

/* archive_outcome - a delivery the MTA did not take is voided */
static void archive_outcome(pn_conn *c, pn_msg *m, const pn_outcome *o)
{
	stored_msg *sm = m ? m->engine_data : NULL;

	(void)c;
	if (sm == NULL || o->step != PN_STEP_EOM)
		return;
	settle(m, sm, o->verdict == PN_CONTINUE || o->verdict == PN_ACCEPT, o);
}

/* archive_free_msg - never told the outcome: the journal keeps the delivery */
static void archive_free_msg(pn_conn *c, pn_msg *m)
{
	stored_msg *sm = m->engine_data;

	(void)c;
	if (sm == NULL)
		return;
	settle(m, sm, 1, NULL);
	pn_free(sm);
	m->engine_data = NULL;
}

/* archive_eom - archive the message, or answer the failure */
static pn_verdict archive_eom(pn_conn *c, pn_msg *m, pn_actions *act)
{
	engine_state *s = state_of(c);
	const char *qid = m->queue_id, *why;
	const char *direction = arc_policy_direction(s->archive->policy,
						     pn_conn_macro(c, "{auth_authen}"),
						     c->client_addr);
	arc_delivery *d = envelope(c, m, direction);
	arc_source src;
	arc_result res;
	pn_buf head;
	char *err = NULL;
	pn_verdict v = PN_CONTINUE;

	(void)act;
	if (!arc_policy_in_scope(s->archive->policy, d->sender, d->rcpts, d->nrcpts, direction,
				 &why)) {
		char *reason = pn_asprintf("out of scope (%s)", why);
		pn_log_msg(PN_LOG_INFO, qid, "archive: not archived: %s", reason);
		note_not_archived(m, reason);
		pn_free(reason);
		arc_delivery_free(d);
		return PN_CONTINUE;
	}
	if (s->size_limit > 0 && (long long)pn_msg_size(m) > s->size_limit) {
		char *reason = pn_asprintf("size %llu over size_limit %lld",
					   (unsigned long long)pn_msg_size(m), s->size_limit);
		v = too_big(c, s, qid, (long long)pn_msg_size(m));
		note_not_archived(m, reason);
		pn_free(reason);
		arc_delivery_free(d);
		return v;
	}
	pn_buf_init(&head, 0);
	if (pn_msg_write_headers(m, &head) < 0) {
		err = pn_strdup("header block too large");
	} else {
		src.head = pn_buf_str(&head);
		src.head_len = pn_buf_len(&head);
		src.body = m->body;
		if (arc_archive_message(s->archive, d, &src, &res, &err) == 0) {
			pn_log_msg(PN_LOG_INFO, qid, "archive: id=%s sha256=%s size=%llu stored=%llu "
				   "%s from=<%s> nrcpt=%zu", res.id, res.sha256, res.size,
				   res.stored_size, res.dedup ? "dedup" : "new", d->sender, d->nrcpts);
			remember(m, s->archive, &res, d->time);
			pn_metric_inc(res.dedup ? PN_M_ARCHIVE_DEDUPLICATED : PN_M_ARCHIVE_STORED, 0);
			pn_metric_add(PN_M_ARCHIVE_BYTES, 0, res.dedup ? 0 : res.stored_size);
		}
	}
	if (err) {
		pn_metric_inc(PN_M_ARCHIVE_FAILURES, 0);
		note_not_archived(m, err);
		v = pn_conn_on_error(c);
		pn_log_msg(PN_LOG_ERROR, qid, "archive: cannot archive (answering %s): %s",
			   pn_verdict_name(v), err);
		if (v == PN_TEMPFAIL)
			pn_conn_reply(c, "451", "4.3.0", "Mail archive unavailable, try again later");
		pn_free(err);
	}
	pn_buf_free(&head);
	arc_delivery_free(d);
	return v;
}

const pn_engine archive_engine = {
	.name = "archive",
	.params = archive_params,
	.steps = PN_STEP_CONNECT | PN_STEP_HELO | PN_STEP_MAIL | PN_STEP_RCPT | PN_STEP_HEADER
		 | PN_STEP_EOH | PN_STEP_BODY | PN_STEP_EOM,
	.mods = 0,
	.data_dir_param = "archive_directory",
	.serve = archive_serve,
	.load = archive_load,
	.unload = archive_unload,
	.on_mail = archive_mail,
	.on_eom = archive_eom,
	.on_outcome = archive_outcome,
	.free_msg = archive_free_msg,
};
