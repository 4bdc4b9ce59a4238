/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sieve - compile and run Sieve scripts (RFC 5228 and extensions)
 * SYNOPSIS
 *	#include "milters/sort/sieve.h"
 *
 *	void sv_limits_default(sv_limits *l);
 *	sv_script *sv_compile(const char *name, const char *text, size_t len,
 *	                      const sv_limits *l, char **err);
 *	sv_script *sv_compile_file(const char *path, const sv_limits *l, char **err);
 *	void sv_script_free(sv_script *s);
 *	const char *sv_script_name(const sv_script *s);
 *	int sv_script_uses_body(const sv_script *s);
 *	int sv_script_needs_body(const sv_script *s);
 *
 *	void sv_result_init(sv_result *r, const pn_msg *m);
 *	int  sv_run(const sv_script *s, const sv_env *env, sv_result *r);
 *	int  sv_result_keeps(const sv_result *r);
 *	void sv_result_print(const sv_result *r, FILE *out);
 *	void sv_result_drop_view(sv_result *r);
 *	void sv_result_clear(sv_result *r);
 *
 *	sv_body *sv_body_new(void);
 *	void sv_body_free(sv_body *b);
 *	char *sv_header_value(const char *v, size_t len);
 *	int sv_envelope_address(const char *path, const pn_addr *canon,
 *	                        pn_addr *out);
 *	char *sv_written_local(const char *local);
 *
 *	struct sv_spamconf *sv_spamconf_new(const sv_spamparams *spam,
 *	                                    const sv_spamparams *virus,
 *	                                    char **err);
 *	void sv_spamconf_free(struct sv_spamconf *c);
 * DESCRIPTION
 *	A Sieve interpreter written for Postern. sv_compile() lexes, parses
 *	and validates a script once (require'd extensions, argument types,
 *	tags, regular expressions, encoded characters) into an immutable
 *	tree that any number of threads may run at the same time.
 *
 *	Supported: RFC 5228 in full (require, if/elsif/else, stop, keep,
 *	discard, redirect, fileinto; the tests address, allof, anyof,
 *	envelope, exists, false, header, not, size, true; the comparators
 *	i;octet, i;ascii-casemap and i;ascii-numeric; :is, :contains,
 *	:matches; encoded-character) and the extensions copy (RFC 3894),
 *	subaddress (RFC 5233), relational (RFC 5231), variables (RFC 5229),
 *	body (RFC 5173), editheader (RFC 5293), reject and ereject
 *	(RFC 5429), environment (RFC 5183) and regex
 *	(draft-ietf-sieve-regex, POSIX extended regular expressions).
 *	Also date and index (RFC 5260; currentdate reads env->now),
 *	include (RFC 6609; scripts come from env->svc->include, and include
 *	loops, nesting beyond max_include_depth and more than max_includes
 *	scripts are run-time errors naming the chain), duplicate (RFC 7352,
 *	over sv_services.seen), spamtest, spamtestplus, virustest (RFC 5235,
 *	sv_services.spam), imap4flags (RFC 5232: sv_action.flags,
 *	sv_result.keep_flags), vacation and vacation-seconds (RFC 5230,
 *	RFC 6131) and enotify (RFC 5435, mailto): sv_action.send.
 *
 *	sv_run() runs a script for one recipient of one message: env names
 *	the message, the envelope (sender and this recipient) and the
 *	environment items. Actions accumulate in r, so several scripts run
 *	one after the other into the same result share the duplicate-action
 *	rules, the header edits and the implicit keep (a chain: global
 *	script, domain script, user script). r must be initialised with
 *	sv_result_init() from the same message. The result reads the
 *	message's header fields in place and records only the editheader
 *	changes (fields added, original fields deleted): later tests see
 *	them, the message is untouched, and no recipient copies the header
 *	section. Each action remembers the script and line that caused
 *	it, for the log.
 *
 *	sv_result_drop_view() frees the header edits of a result whose edits
 *	were read (the actions stay): the caller keeps the memory of one view
 *	at a time, not one per recipient.
 *
 *	sv_result_keeps() tells whether the message is kept for the
 *	recipient (explicit keep, or the implicit keep still in effect).
 *	sv_result_print() writes the actions in execution order, one per
 *	line, in the stable text form of `postern-sort test`:
 *	    keep [:flags ["f", ...]] | fileinto [:flags ["f", ...]] "F"
 *	    | redirect "a@b" | discard | reject "text"
 *	    | ereject "text" | addheader [:last] "N" "V" | deleteheader "N" COUNT
 *	identical actions once, the implicit keep last (as "keep", with
 *	keep_flags when there are some).
 *	fileinto "INBOX", in any letter case, is recorded as keep: one
 *	mailbox gets the message once (RFC 5228 2.10.3, 4.1).
 *
 *	The body test reads message text through an sv_body, a per-message
 *	cache (MIME walk, decoded text parts) that is built on first use;
 *	env->body may be shared by the runs for every recipient of a message
 *	(from one thread). When it is NULL, a body test is false.
 *
 *	The envelope test compares env->from_addr and env->to_addr, made
 *	by sv_envelope_address(): the canonical address of common/addr.h
 *	(canon, the MTA's own parse, or when NULL the path parsed the same
 *	way: comments, source route, white space, one trailing dot and
 *	needless quotes gone), so no spelling of the path gets past a rule,
 *	but with the domain in the letter case (and U-label) the path gave
 *	when that is the same domain, as RFC 5228 2.7.3 compares "as the
 *	MTA gave it" with the script's comparator. The local part keeps the
 *	MTA's case and is quoted only when it is not a dot-atom. It returns
 *	0, or -1 when no domain could be made out (out cleared; the test
 *	then compares the path as given, :all only). When from_addr or
 *	to_addr is NULL, sv_run() makes it from env->from or env->to.
 *	sv_written_local() writes an internal-form local part (no quotes)
 *	so: as is when it is a dot-atom, else quoted with backslashes
 *	before quotes and backslashes.
 *
 *	sv_header_value() makes a string safe as a header field value:
 *	line breaks become folds, other control characters spaces, and a
 *	value with 8-bit bytes becomes RFC 2047 encoded-words (UTF-8, B).
 *	addheader uses it; so does the milter glue for the headers it adds.
 *
 *	sv_spamconf_new() checks and compiles where spamtest and virustest
 *	read an earlier filter's verdict (sv_spamparams, either may be
 *	NULL: that test then always sees "0", not tested) for
 *	sv_services.spam; sv_spamconf_free() frees it.
 *
 *	Limits (sv_limits) keep a hostile or broken script from hurting the
 *	MTA: script size and nesting at compile time; actions, redirects,
 *	header edits, regular expression size, variable count and size, body
 *	bytes examined and a step counter (commands, tests and comparisons)
 *	at run time. sv_limits_default() sets safe values.
 * DIAGNOSTICS
 *	sv_compile() returns NULL and sets *err to "NAME:LINE:COL: TEXT"
 *	saying what was expected and what was found (free with pn_free()).
 *	The text carries no severity: the caller prints or logs it with its
 *	own single prefix ("postern-sort: error: "), never a second one.
 *
 *	sv_run() returns 0, 1 when the script executed stop (a chain should
 *	not run the next script), or -1 on a run-time error (a limit hit,
 *	conflicting actions such as reject with fileinto, an invalid address
 *	or folder computed at run time). Then r->error holds "line N: TEXT",
 *	the actions of the failed run are dropped (those of scripts run
 *	before it into the same result stay), its header edits are undone
 *	and the implicit keep applies, as RFC 5228 section 2.10.6 requires.
 *	Later sv_run() calls on that result do nothing and return -1.
 *
 *	sv_spamconf_new() returns NULL and sets *err (naming the setting)
 *	for a bad header name, regular expression, status type, maximum or
 *	text value.
 */
#ifndef SV_SIEVE_H
#define SV_SIEVE_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "common/addr.h"
#include "common/milter/msg.h"

typedef struct sv_limits {
	size_t max_script_size;		/* bytes of script text */
	unsigned max_nesting;		/* blocks and tests inside each other */
	unsigned max_actions;		/* actions in one result */
	unsigned max_redirects;		/* redirects in one result */
	unsigned max_header_edits;	/* addheader + deleteheader executed */
	size_t max_regex_size;		/* bytes of one regular expression */
	unsigned long max_steps;	/* commands, tests and comparisons per run */
	size_t max_variable_size;	/* bytes of one variable's value */
	unsigned max_variables;		/* distinct variables per run */
	size_t max_body_size;		/* body bytes the body test examines */
	unsigned max_include_depth;	/* include: scripts nested in one run */
	unsigned max_includes;		/* include: scripts included in one run */
	/* duplicate (RFC 7352): :seconds when not given, and its ceiling */
	unsigned long duplicate_default_period, duplicate_max_period;
} sv_limits;

typedef struct sv_script sv_script;
typedef struct sv_body sv_body;
struct sv_spamconf;

/* spamtest, virustest: where an earlier filter left its verdict, as
 * Pigeonhole's sieve_spamtest_* / sieve_virustest_* settings say it
 * (sieve_ext_spamtest.c); "" = not set */
typedef struct sv_spamparams {
	const char *status_header;	/* "Name" or "Name: regex" (group 1 is the value) */
	const char *status_type;	/* "score", "strlen" or "text" */
	const char *max_header;		/* "Name" or "Name: regex": the maximum score */
	const char *max_value;		/* the maximum score, when no max_header */
	const char *text_values;	/* text: "N=TEXT, N=TEXT" (N 0..10, virustest 0..5) */
} sv_spamparams;
struct sv_send;

/*
 * What the engine offers the extensions that need more than the message:
 * each member may be NULL, and the extension then behaves as its manual
 * page says (duplicate is false, include fails with "not found", spamtest
 * is unknown). include is called with include_arg, the others with arg:
 * sort_run() gives include, for the daemon and the test tool alike, one
 * include_arg per recipient (the recipient's own script directory).
 */
typedef struct sv_services {
	void *arg;
	void *include_arg;
	/* duplicate, vacation: 1 when key was recorded and has not expired
	 * at now, 0 when not, -1 on error (the store is sort_store.h) */
	int (*seen)(void *arg, const unsigned char key[32], time_t now);
	/* include: the compiled script name at the personal (global == 0)
	 * or global location; NULL with *err set, *missing = 1 when there
	 * is no such script. The script lives until the result is cleared. */
	const sv_script *(*include)(void *arg, int global, const char *name, int *missing,
				    char **err);
	/* spamtest, virustest: which headers an earlier filter wrote */
	const struct sv_spamconf *spam;
} sv_services;

typedef struct sv_env {
	const pn_msg *msg;		/* headers and body */
	const char *from;		/* envelope sender as given ("<>" for null) */
	const char *to;			/* this recipient as given */
	const pn_addr *from_addr;	/* sv_envelope_address() of from, or NULL */
	const pn_addr *to_addr;		/* the same for to, or NULL */
	const char *const *items;	/* environment: name, value, ..., NULL */
	const char *separators;		/* subaddress separators, NULL = "+" */
	sv_body *body;			/* body cache, or NULL: no body */
	const sv_limits *limits;	/* NULL = defaults */
	time_t now;			/* currentdate, duplicate, vacation; 0 = time(NULL) */
	const sv_services *svc;		/* NULL: none (the test tool) */
} sv_env;

typedef enum sv_act_type {
	SV_ACT_KEEP,
	SV_ACT_FILEINTO,
	SV_ACT_REDIRECT,
	SV_ACT_DISCARD,
	SV_ACT_REJECT,
	SV_ACT_EREJECT,
	SV_ACT_ADDHEADER,
	SV_ACT_DELETEHEADER,
	SV_ACT_VACATION,	/* send: a vacation reply (sieve_ext_vacation.c) */
	SV_ACT_NOTIFY		/* send: a notification (sieve_ext_notify.c) */
} sv_act_type;

typedef struct sv_action {
	sv_act_type type;
	char *arg;		/* folder, address, reason, header name */
	char *value;		/* addheader value */
	int copy;		/* :copy given */
	int last;		/* addheader :last */
	unsigned count;		/* deleteheader: fields deleted */
	const char *script;	/* name of the script (lives as long as it) */
	int line;		/* line in that script */
	int implicit;		/* the implicit keep */
	char *flags;		/* imap4flags on keep/fileinto: the flags, one space
				 * between them, or NULL (none) */
	struct sv_send *send;	/* vacation, notify: what to send */
} sv_action;

/*
 * vacation, notify: a message to send (sieve_ext_vacation.c,
 * sieve_ext_notify.c). The interpreter only decides; the engine composes
 * and submits it (sort_submit.h), and never for `postern-sort test`.
 */
typedef struct sv_send {
	char *to;		/* whom to send to: vacation, the envelope sender;
				 * notify, the mailto recipients, ", " between */
	char *from;		/* :from, or NULL: the recipient's address */
	char *subject;		/* :subject / the mailto subject, or NULL */
	char *body;		/* the reason / the notification text */
	char *handle;		/* vacation :handle as given, or NULL */
	char *method;		/* notify: the mailto URI as given */
	char *importance;	/* notify :importance, or NULL */
	char *message;		/* notify :message, or NULL */
	char *addresses;	/* vacation :addresses, ", " between, or NULL */
	char *in_reply_to;	/* the message's Message-ID, or NULL */
	char *references;	/* its References plus Message-ID, or NULL */
	char *orig_subject;	/* the message's Subject (for "Auto: ..."), or NULL */
	char *recipient;	/* the envelope recipient the script ran for */
	char *refused;		/* RFC 3834 / 5230 4.5 / 5436 2.7: why nothing
				 * is sent, or NULL */
	long seconds;		/* vacation: the response interval */
	int mime;		/* vacation :mime: body is a MIME entity */
	unsigned char key[32];	/* vacation: the response memory key
				 * (recipient, sender, handle) */
} sv_send;

/* duplicate: an ID to record once the message is delivered (RFC 7352) */
typedef struct sv_mark {
	unsigned char key[32];	/* SHA-256 of handle and ID (sieve_ext_duplicate.c) */
	long seconds;		/* how long it counts as seen */
	int last;		/* :last: each sighting restarts the period */
} sv_mark;

/* a header a script added (the original fields are never copied) */
typedef struct sv_hdr {
	char *name;
	char *value;		/* value as it will be written */
	char *decoded;		/* RFC 2047-decoded value, made on first use */
	long orig;		/* always -1: added by a script */
	int top;		/* added at the top (else :last) */
} sv_hdr;

typedef struct sv_result {
	sv_action *acts;
	size_t nacts, acap;
	int implicit_keep;	/* still in effect */
	int explicit_keep;
	int stopped;
	char *error;		/* run-time error, or NULL */
	const char *error_script;
	/*
	 * The header view: the fields added at the top (hdrs[0..ntop), the
	 * latest first), the message's own fields that no script deleted,
	 * then the fields added with :last. The message's fields are read
	 * in place, shared by every recipient's runs: a view costs only
	 * its edits, whatever the size of the header section.
	 */
	const pn_msg *msg;
	sv_hdr *hdrs;		/* added fields */
	size_t nhdrs, hcap, ntop;
	unsigned char *deleted;	/* per original header: deleted by a script;
				 * NULL until the first deletion */
	size_t norig;
	unsigned redirects, edits;
	char *keep_flags;	/* imap4flags: the implicit keep's flags, or NULL */
	sv_mark *marks;		/* duplicate IDs to record (the engine commits) */
	size_t nmarks, mcap;
} sv_result;

void sv_limits_default(sv_limits *l);
sv_script *sv_compile(const char *name, const char *text, size_t len, const sv_limits *l,
		      char **err);
sv_script *sv_compile_file(const char *path, const sv_limits *l, char **err);
void sv_script_free(sv_script *s);
const char *sv_script_name(const sv_script *s);
int sv_script_uses_body(const sv_script *s);
int sv_script_needs_body(const sv_script *s);
int sv_script_uses_edits(const sv_script *s);

void sv_result_init(sv_result *r, const pn_msg *m);
int sv_run(const sv_script *s, const sv_env *env, sv_result *r);
int sv_result_keeps(const sv_result *r);
void sv_result_print(const sv_result *r, FILE *out);
void sv_result_drop_view(sv_result *r);
void sv_result_clear(sv_result *r);

sv_body *sv_body_new(void);
void sv_body_free(sv_body *b);
char *sv_header_value(const char *v, size_t len);
int sv_envelope_address(const char *path, const pn_addr *canon, pn_addr *out);
char *sv_written_local(const char *local);
struct sv_spamconf *sv_spamconf_new(const sv_spamparams *spam, const sv_spamparams *virus,
				    char **err);
void sv_spamconf_free(struct sv_spamconf *c);

#endif
