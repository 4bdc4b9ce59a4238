/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	state - postern-audit's configuration turned into immutable state
 * SYNOPSIS
 *	#include "milters/audit/state.h"
 *
 *	extern const pn_param audit_params[];
 *	audit_state *audit_state_load(const pn_config *cfg, char **err);
 *	void audit_state_free(audit_state *st);
 *	int audit_redact_parse(const char *list, unsigned *mask, char **err);
 *	const char *audit_redact_name(unsigned bit);
 *	int audit_key_load(const char *path, unsigned char **key, size_t *len,
 *	                   char **err);
 * DESCRIPTION
 *	audit_state_load() reads postern-audit's parameters (audit_params,
 *	see postern-audit.conf(5)) into an audit_state that every connection
 *	thread reads without locking: keys, privacy options, the extra
 *	header names, the GeoIP handle, output options and a reference to
 *	the process-wide trail (trail.h) that records are appended to, and
 *	with store = postgresql the process-wide shipper (shipper.h) that
 *	copies them to the central store.
 *	Nothing is opened for writing here: the trail file is opened by the
 *	first append, so `check` and the offline tools never create it.
 *
 *	A missing trail directory is only a warning (the offline tools run
 *	on machines without one); unreadable key files, an unknown redact
 *	name, a bad mode or no output at all are errors.
 *
 *	audit_redact_parse() turns "subject, attachment_names" into a mask
 *	of AUDIT_REDACT_* bits; audit_redact_name() names one bit.
 *	audit_key_load() reads a plain key file (the pseudonym key): its
 *	bytes with trailing white space removed (so `openssl rand -hex 32
 *	> FILE` works), at least 16 and at most 4096 bytes. The sealing key (key_file) is
 *	checked here, owner and mode included (audit_key_owner(): the uid
 *	of the `user` parameter, else the current one), then wiped: the
 *	trail reads and evolves it (seal.h), so the snapshot keeps no copy.
 * DIAGNOSTICS
 *	audit_state_load() and audit_key_load() return NULL / -1 with *err
 *	naming the parameter, the file and the reason (free with pn_free).
 */
#ifndef AUDIT_STATE_H
#define AUDIT_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/geoip.h"
#include "milters/audit/shipper.h"
#include "milters/audit/trail.h"

#define AUDIT_REDACT_SUBJECT		0x001
#define AUDIT_REDACT_ATTACHMENT_NAMES	0x002
#define AUDIT_REDACT_DISPLAY_NAMES	0x004
#define AUDIT_REDACT_MESSAGE_ID		0x008
#define AUDIT_REDACT_HELO		0x010
#define AUDIT_REDACT_CLIENT_NAME	0x020
#define AUDIT_REDACT_AUTH_USER		0x040
#define AUDIT_REDACT_CERT		0x080
#define AUDIT_REDACT_EXTRA_HEADERS	0x100
#define AUDIT_REDACT_ALL		0x1ff

typedef struct audit_state {
	char *trail_file;		/* "" = no file */
	mode_t trail_mode;
	audit_sync sync;
	long sync_interval;		/* seconds */
	char *key_file;			/* sealing key, "" = none; read by the trail */
	long key_uid;			/* owner the key file must have */
	int pseudonymize;
	unsigned char *pseudo_key;
	size_t pseudo_keylen;
	unsigned redact;		/* AUDIT_REDACT_* */
	char **extra_headers;		/* NULL-terminated */
	pn_geoip *geoip;		/* NULL when no database is configured */
	char *host_name;		/* "" = {j}, else the system's name */
	int syslog;
	int syslog_cee;
	int connection_records;
	audit_trail *trail;
	char *store_connection;		/* NULL: store = none */
	audit_shipper *shipper;		/* NULL: store = none */
} audit_state;

extern const pn_param audit_params[];

audit_state *audit_state_load(const pn_config *cfg, char **err);
void audit_state_free(audit_state *st);
int audit_redact_parse(const char *list, unsigned *mask, char **err);
const char *audit_redact_name(unsigned bit);
int audit_key_load(const char *path, unsigned char **key, size_t *len, char **err);
long audit_key_owner(const pn_config *cfg);

#endif
