/* SPDX-License-Identifier: BSD-2-Clause */
/* state - postern-audit's parameters and immutable state (see state.h) */
#include "milters/audit/state.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <pwd.h>
#include <openssl/crypto.h>
#include <unistd.h>

#define KEY_MIN 16
#define KEY_MAX 4096

const pn_param audit_params[] = {
	{"trail_file", PN_PARAM_STR, "/var/log/postern/audit.jsonl", 0, 0, NULL,
	 "JSON Lines file that receives one record per message and connection (empty: none)"},
	{"trail_file_mode", PN_PARAM_STR, "0640", 0, 0, NULL,
	 "permissions of a trail file the daemon creates (octal)"},
	{"sync", PN_PARAM_ENUM, "always", 0, 0, "always|interval|never",
	 "when records reach the disk: before the MTA gets its reply (group commit), once per "
	 "sync_interval, or when the kernel likes"},
	{"sync_interval", PN_PARAM_TIME, "1s", 1, 3600, NULL,
	 "longest time between two fdatasync calls with sync = interval"},
	{"key_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "file holding the forward-secure sealing key (HMAC-SHA256, evolved and rewritten by the "
	 "daemon each epoch; owner the daemon's user, mode 0600; empty: no mac)"},
	{"seal_epoch_records", PN_PARAM_INT, "1000", 0, 100000000, NULL,
	 "records sealed with one key before it evolves (0: no limit)"},
	{"seal_epoch_time", PN_PARAM_TIME, "15m", 0, 31 * 86400, NULL,
	 "longest time one sealing key is used before it evolves (0: no limit)"},
	{"head_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "where the daemon keeps the trail's identity and head (empty: .NAME.head beside "
	 "trail_file)"},
	{"syslog", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "also send each record to syslog (facility mail, level info) as one line"},
	{"syslog_cee", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "prefix syslog records with \"@cee: \" for rsyslog's mmjsonparse"},
	{"redact", PN_PARAM_STR, "", 0, 0, NULL,
	 "fields left out of every record: subject, attachment_names, display_names, message_id, "
	 "helo, client_name, auth_user, cert, extra_headers, or all"},
	{"pseudonymize_addresses", PN_PARAM_BOOL, "no", 0, 0, NULL,
	 "replace the local part of every address by a keyed HMAC (needs pseudonymize_key_file)"},
	{"pseudonymize_key_file", PN_PARAM_STR, "", 0, 0, NULL,
	 "file holding the key of pseudonymize_addresses"},
	{"extra_headers", PN_PARAM_STR, "", 0, 0, NULL,
	 "further header names whose values every record lists, e.g. X-Spam-Score"},
	{"geoip_country_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind country database (.mmdb) for client.geo.country (empty: none)"},
	{"geoip_asn_db", PN_PARAM_STR, "", 0, 0, NULL,
	 "MaxMind ASN database (.mmdb) for client.geo.asn and as_org (empty: none)"},
	{"host_name", PN_PARAM_STR, "", 0, 0, NULL,
	 "the host member of each record (empty: the MTA's {j} macro)"},
	{"store", PN_PARAM_ENUM, "none", 0, 0, "none|postgresql",
	 "central audit store the records are also shipped to, off the delivery path (none: the "
	 "local trail only)"},
	{"store_connection", PN_PARAM_STR, "", 0, 0, NULL,
	 "libpq connection string of the audit store, e.g. \"host=/run/postgresql dbname=postern "
	 "user=postern_audit\" (required with store = postgresql)"},
	{"connection_records", PN_PARAM_BOOL, "yes", 0, 0, NULL,
	 "write a record for each connection that ends without a message"},
	{NULL, 0, NULL, 0, 0, NULL, NULL}
};

static const struct {
	const char *name;
	unsigned bit;
} redact_names[] = {
	{"subject", AUDIT_REDACT_SUBJECT},
	{"attachment_names", AUDIT_REDACT_ATTACHMENT_NAMES},
	{"display_names", AUDIT_REDACT_DISPLAY_NAMES},
	{"message_id", AUDIT_REDACT_MESSAGE_ID},
	{"helo", AUDIT_REDACT_HELO},
	{"client_name", AUDIT_REDACT_CLIENT_NAME},
	{"auth_user", AUDIT_REDACT_AUTH_USER},
	{"cert", AUDIT_REDACT_CERT},
	{"extra_headers", AUDIT_REDACT_EXTRA_HEADERS},
	{NULL, 0}
};

/* audit_redact_name - the configuration name of one redact bit */
const char *audit_redact_name(unsigned bit)
{
	size_t i;

	for (i = 0; redact_names[i].name; i++)
		if (redact_names[i].bit == bit)
			return redact_names[i].name;
	return "?";
}

/* split_list - names separated by commas and/or white space */
static char **split_list(const char *text)
{
	size_t n = 0, cap = 4;
	char **v = pn_calloc(cap, sizeof(char *));
	const char *p = text;

	while (*p) {
		size_t len;
		p += strspn(p, ", \t\n");
		len = strcspn(p, ", \t\n");
		if (len == 0)
			break;
		if (n + 2 > cap) {
			cap *= 2;
			v = pn_realloc(v, cap * sizeof(char *));
		}
		v[n++] = pn_strndup(p, len);
		v[n] = NULL;
		p += len;
	}
	return v;
}

/* free_list - free a split_list result */
static void free_list(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		pn_free(v[i]);
	pn_free(v);
}

/* audit_redact_parse - "subject, cert" to a mask */
int audit_redact_parse(const char *list, unsigned *mask, char **err)
{
	char **v = split_list(list);
	size_t i, j;
	int rc = 0;

	*mask = 0;
	for (i = 0; v[i] && rc == 0; i++) {
		if (strcasecmp(v[i], "all") == 0) {
			*mask |= AUDIT_REDACT_ALL;
			continue;
		}
		for (j = 0; redact_names[j].name; j++)
			if (strcasecmp(v[i], redact_names[j].name) == 0)
				break;
		if (redact_names[j].name == NULL) {
			*err = pn_asprintf("unknown field \"%s\" (known: subject, attachment_names, "
					   "display_names, message_id, helo, client_name, auth_user, "
					   "cert, extra_headers, all)", v[i]);
			rc = -1;
		} else {
			*mask |= redact_names[j].bit;
		}
	}
	free_list(v);
	return rc;
}

/* audit_key_load - a key file's bytes, trailing white space removed (pseudonym key) */
int audit_key_load(const char *path, unsigned char **key, size_t *len, char **err)
{
	audit_seal s;

	*key = NULL;
	*len = 0;
	if (audit_seal_load(path, AUDIT_SEAL_NO_CHECK, &s, err) < 0)
		return -1;
	if (s.epoch != 0 || s.keylen == 0) {
		audit_seal_wipe(&s);
		*err = pn_asprintf("key file %s: holds an evolved sealing key, not a plain key", path);
		return -1;
	}
	*key = (unsigned char *)pn_memdup0(s.key, s.keylen);
	*len = s.keylen;
	audit_seal_wipe(&s);
	return 0;
}

/* config_user - the `user` parameter, or NULL when cfg has none (the engine's
 * own table alone, as unit tests and benchmarks load it): pn_config_str()
 * would panic on a parameter its table does not have. */
static char *config_user(const pn_config *cfg)
{
	char *text = NULL, *user = NULL, *line;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return NULL;
	pn_config_dump(cfg, out, 0);
	fclose(out);
	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "user = ", 7) == 0) {
			user = pn_strndup(line + 7, strcspn(line + 7, "\n"));
			break;
		}
	free(text);
	return user;
}

/* audit_key_owner - the uid a sealing key file must have: the daemon's user */
long audit_key_owner(const pn_config *cfg)
{
	char *user = config_user(cfg);
	struct passwd *pw;
	long uid = (long)geteuid();

	if (user && *user && (pw = getpwnam(user)) != NULL)
		uid = (long)pw->pw_uid;
	pn_free(user);
	return uid;
}

/* param_error - the message format config errors use */
static char *param_error(const pn_config *cfg, const char *name, const char *why)
{
	const char *path = pn_config_path(cfg);

	return pn_asprintf("%s: parameter \"%s\" = \"%s\": %s", path ? path : "(defaults)", name,
			   pn_config_str(cfg, name), why);
}

/* param_line - the line of the configuration file that sets name, 0 if none */
static unsigned long param_line(const pn_config *cfg, const char *name)
{
	const char *path = pn_config_path(cfg);
	unsigned long n = 0, found = 0;
	char line[1024];
	size_t len = strlen(name);
	FILE *f;

	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strncmp(line, name, len) == 0 && strchr(" \t=", line[len]))
			found = n;	/* the last one wins, as in the parser */
	}
	fclose(f);
	return found;
}

/* param_error_at - an error that names file:line of the parameter */
static char *param_error_at(const pn_config *cfg, const char *name, const char *why)
{
	const char *path = pn_config_path(cfg);
	unsigned long n = param_line(cfg, name);

	if (n == 0)
		return param_error(cfg, name, why);
	return pn_asprintf("%s:%lu: parameter \"%s\" = \"%s\": %s", path, n, name,
			   pn_config_str(cfg, name), why);
}

/* check_trail_dir - warn early when the trail cannot be created */
static void check_trail_dir(const char *path)
{
	char *copy = pn_strdup(path);
	const char *dir = dirname(copy);
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		pn_log(PN_LOG_WARN, "trail_file %s: directory %s does not exist: records cannot "
		       "be written until it does", path, dir);
	pn_free(copy);
}

/* audit_state_load - parameters to state; NULL with *err on a bad value */
audit_state *audit_state_load(const pn_config *cfg, char **err)
{
	audit_state *st = pn_calloc(1, sizeof(*st));
	const char *sync = pn_config_str(cfg, "sync");
	const char *country = pn_config_str(cfg, "geoip_country_db");
	const char *asn = pn_config_str(cfg, "geoip_asn_db");
	char *why = NULL;

	*err = NULL;
	st->trail_file = pn_strdup(pn_config_str(cfg, "trail_file"));
	st->sync = strcmp(sync, "always") == 0 ? AUDIT_SYNC_ALWAYS
		   : strcmp(sync, "never") == 0 ? AUDIT_SYNC_NEVER : AUDIT_SYNC_INTERVAL;
	st->sync_interval = (long)pn_config_int(cfg, "sync_interval");
	st->syslog = pn_config_bool(cfg, "syslog");
	st->syslog_cee = pn_config_bool(cfg, "syslog_cee");
	st->pseudonymize = pn_config_bool(cfg, "pseudonymize_addresses");
	st->connection_records = pn_config_bool(cfg, "connection_records");
	st->host_name = pn_strdup(pn_config_str(cfg, "host_name"));
	st->extra_headers = split_list(pn_config_str(cfg, "extra_headers"));
	if (pn_parse_mode(pn_config_str(cfg, "trail_file_mode"), &st->trail_mode) < 0) {
		*err = param_error(cfg, "trail_file_mode", "not an octal mode such as 0640");
		goto fail;
	}
	if (st->trail_file[0] && st->trail_file[0] != '/') {
		*err = param_error(cfg, "trail_file", "must be an absolute path");
		goto fail;
	}
	if (!st->trail_file[0] && !st->syslog) {
		*err = param_error(cfg, "trail_file", "empty while syslog = no: records would go "
				   "nowhere");
		goto fail;
	}
	if (audit_redact_parse(pn_config_str(cfg, "redact"), &st->redact, &why) < 0) {
		*err = param_error(cfg, "redact", why);
		goto fail;
	}
	st->key_file = pn_strdup(pn_config_str(cfg, "key_file"));
	st->key_uid = AUDIT_SEAL_ANY_OWNER;
	if (*st->key_file) {
		/* Checked here (so `check` refuses a bad key), used by the trail,
		 * which reads it again: no copy stays in the snapshot. */
		audit_seal s;
		struct stat kst;
		if (audit_seal_load(st->key_file, AUDIT_SEAL_ANY_OWNER, &s, &why) < 0) {
			*err = param_error(cfg, "key_file", why);
			goto fail;
		}
		audit_seal_wipe(&s);
		st->key_uid = audit_key_owner(cfg);
		if (lstat(st->key_file, &kst) == 0 && (long)kst.st_uid != st->key_uid) {
			why = pn_asprintf("key file %s: owned by uid %lu: it must be owned by the "
					  "daemon's user (uid %ld, the \"user\" parameter), mode 0600",
					  st->key_file, (unsigned long)kst.st_uid, st->key_uid);
			*err = param_error(cfg, "key_file", why);
			goto fail;
		}
	}
	if (st->pseudonymize) {
		if (!*pn_config_str(cfg, "pseudonymize_key_file")) {
			*err = param_error(cfg, "pseudonymize_key_file",
					   "pseudonymize_addresses = yes needs a key file");
			goto fail;
		}
		if (audit_key_load(pn_config_str(cfg, "pseudonymize_key_file"), &st->pseudo_key,
				   &st->pseudo_keylen, &why) < 0) {
			*err = param_error(cfg, "pseudonymize_key_file", why);
			goto fail;
		}
	}
	if ((*country || *asn) && (st->geoip = pn_geoip_open(country, asn, &why)) == NULL) {
		*err = param_error(cfg, *country ? "geoip_country_db" : "geoip_asn_db", why);
		goto fail;
	}
	if (strcmp(pn_config_str(cfg, "store"), "postgresql") == 0) {
		if (!*pn_config_str(cfg, "store_connection")) {
			*err = param_error_at(cfg, "store", "store = postgresql needs store_connection "
					      "(a libpq connection string)");
			goto fail;
		}
		if (!st->trail_file[0]) {
			*err = param_error_at(cfg, "store", "store = postgresql ships the trail file: "
					      "trail_file must not be empty");
			goto fail;
		}
		st->store_connection = pn_strdup(pn_config_str(cfg, "store_connection"));
	}
	if (st->trail_file[0])
		check_trail_dir(st->trail_file);
	{
		audit_trail_opts o;
		char host[256];

		audit_trail_opts_init(&o);
		o.mode = st->trail_mode;
		o.sync = st->sync;
		o.interval = st->sync_interval;
		o.head_file = pn_config_str(cfg, "head_file");
		if (st->host_name[0])
			o.host = st->host_name;
		else if (gethostname(host, sizeof(host)) == 0) {
			host[sizeof(host) - 1] = '\0';
			o.host = host;
		} else
			o.host = "localhost";
		o.key_file = st->key_file;
		o.key_uid = st->key_uid;
		o.epoch_records = (unsigned long)pn_config_int(cfg, "seal_epoch_records");
		o.epoch_seconds = (long)pn_config_int(cfg, "seal_epoch_time");
		o.syslog = st->syslog;
		o.syslog_cee = st->syslog_cee;
		st->trail = audit_trail_open(st->trail_file, &o);
		if (st->store_connection) {
			char *head = audit_trail_head_path(st->trail_file, o.head_file);
			st->shipper = audit_shipper_get(st->trail_file, head, st->store_connection);
			pn_free(head);
		}
	}
	return st;
fail:
	pn_free(why);
	audit_state_free(st);
	return NULL;
}

/* audit_state_free - release state; the trail lives on while others use it */
void audit_state_free(audit_state *st)
{
	if (st == NULL)
		return;
	audit_shipper_put(st->shipper);
	audit_trail_put(st->trail);
	pn_geoip_free(st->geoip);
	free_list(st->extra_headers);
	if (st->pseudo_key)
		OPENSSL_cleanse(st->pseudo_key, st->pseudo_keylen);
	pn_free(st->pseudo_key);
	pn_free(st->key_file);
	pn_free(st->host_name);
	pn_free(st->store_connection);
	pn_free(st->trail_file);
	pn_free(st);
}
