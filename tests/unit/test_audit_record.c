/* SPDX-License-Identifier: BSD-2-Clause */
/* test_audit_record - postern-audit's record builder against golden JSON
 *
 * Each case loads a message file from tests/unit/data/audit/, sets the
 * connection facts a milter would have collected, builds the record with
 * an injected clock, host and queue id, and compares it with NAME.json.
 * AUDIT_UPDATE_GOLDEN=1 rewrites the golden files (review the diff!).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/milter/engine.h"
#include "common/rfc2047.h"
#include "milters/audit/record.h"
#include "milters/audit/state.h"
#include "tests/unit/testlib.h"

typedef struct rec_case {
	const char *name;	/* golden file stem */
	const char *eml;	/* message file, NULL for a connection record */
	audit_event ev;
	const char *config;	/* extra lines; @DIR@ is the fixture directory */
	const char *client;	/* address, NULL for a local client */
	unsigned port;
	const char *client_name;
	const char *helo;
	const char *macros;	/* "name=value" lines */
	const char *sender;
	const char *sender_args;	/* space-separated ESMTP arguments */
	const char *rcpts;	/* space-separated */
} rec_case;

#define TLS_MACROS "{tls_version}=TLSv1.3\n{cipher}=TLS_AES_256_GCM_SHA384\n{cipher_bits}=256\n"

static const rec_case cases[] = {
	{"plain", "plain.eml", AUDIT_EV_MESSAGE, "", "192.0.2.7", 40123, "client.example.com",
	 "client.example.com", "j=mx.from-macro.test\n", "<alice@example.com>",
	 "SIZE=1234 BODY=8bitmime", "<bob@example.org> <carol@example.org>"},
	{"encoded_words", "encoded_words.eml", AUDIT_EV_MESSAGE,
	 "extra_headers = X-Spam-Score, X-Postern-TLS\n", "203.0.113.9", 2525, "unknown", "mail.example.de",
	 TLS_MACROS "{cert_subject}=client.partner.test\n{cert_issuer}=Postern Test CA\n"
	 "{auth_type}=PLAIN\n{auth_authen}=juergen@example.de\n",
	 "<juergen@example.de>", "", "<francois@example.fr>"},
	{"groups", "groups.eml", AUDIT_EV_MESSAGE, "", "2001:db8::25", 50000, "unknown", "v6.example",
	 TLS_MACROS, "<announcer@example.com>", "", "<dave@example.net> <eve@example.net>"},
	{"duplicates", "duplicates.eml", AUDIT_EV_MESSAGE, "extra_headers = x-spam-score\n",
	 "192.0.2.8", 1, "unknown", "dup.example", "", "<first@example.com>", "", "<rcpt@example.org>"},
	{"attachments", "attachments.eml", AUDIT_EV_MESSAGE, "", "192.0.2.9", 1025, "unknown", "h",
	 "", "<sender@example.com>", "", "<rcpt@example.org>"},
	{"invalid_utf8", "invalid_utf8.eml", AUDIT_EV_MESSAGE, "extra_headers = X-Spam-Score\n",
	 "192.0.2.10", 1026, "unknown", "bad\xff" "helo", "", "<bad@example.com>", "",
	 "<rcpt@example.org>"},
	{"eightbit", "eightbit.eml", AUDIT_EV_MESSAGE, "", "192.0.2.11", 1027, "unknown", "utf8.example",
	 "", "<jos\xc3\xa9@ejemplo.es>", "SMTPUTF8 BODY=8BITMIME",
	 "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>"},
	{"aborted", "headers_only.eml", AUDIT_EV_ABORTED, "", "192.0.2.12", 1028, "unknown",
	 "abort.example", "", "<someone@example.com>", "", "<rcpt@example.org>"},
	{"connection", NULL, AUDIT_EV_CONNECTION, "", "198.51.100.20", 61000, "probe.example.net",
	 "probe", TLS_MACROS, NULL, NULL, NULL},
	{"local_null_sender", "plain.eml", AUDIT_EV_MESSAGE, "host_name = audit.example\n", NULL, 0,
	 "localhost", NULL, "", "<>", "", "<bob@example.org>"},
	{"privacy", "attachments.eml", AUDIT_EV_MESSAGE,
	 "redact = subject, attachment_names, helo\npseudonymize_addresses = yes\n"
	 "pseudonymize_key_file = @DIR@/pseudo.key\n",
	 "192.0.2.13", 1029, "unknown", "secret.example", "{auth_type}=LOGIN\n{auth_authen}=Sender\n",
	 "<Sender@example.com>", "", "<rcpt@example.org> <other@EXAMPLE.org>"},
	{"geo", "plain.eml", AUDIT_EV_MESSAGE,
	 "geoip_country_db = @DIR@/country.mmdb\ngeoip_asn_db = @DIR@/asn.mmdb\n",
	 "192.0.2.7", 40124, "unknown", "geo.example", "", "<alice@example.com>", "",
	 "<bob@example.org>"},
};

typedef struct fixture {
	char *dir;
	char *data;
} fixture;

/* run - a command without a shell; 0 when it exits 0 */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* write_all - create a file */
static int write_all(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int setup(void **state)
{
	const char *top = getenv("POSTERN_TOP");
	const char *tmp = getenv("TMPDIR");
	fixture *fx = pn_calloc(1, sizeof(*fx));
	char *key, *script, *country, *asn;
	int rc;

	*state = fx;
	if (top == NULL)
		top = ".";
	fx->data = pn_asprintf("%s/tests/unit/data/audit", top);
	fx->dir = pn_asprintf("%s/test_audit_record.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	key = pn_asprintf("%s/pseudo.key", fx->dir);
	rc = write_all(key, "pseudonym-key-for-tests-0123456789\n", 35);
	pn_free(key);
	script = pn_asprintf("%s/tests/lib/make_mmdb.pl", top);
	country = pn_asprintf("%s/country.mmdb", fx->dir);
	asn = pn_asprintf("%s/asn.mmdb", fx->dir);
	{
		char *c[] = {"perl", script, "country", country, NULL};
		char *a[] = {"perl", script, "asn", asn, NULL};
		if (rc == 0 && (run(c) < 0 || run(a) < 0)) {
			print_error("perl %s failed\n", script);
			rc = -1;
		}
	}
	pn_free(script);
	pn_free(country);
	pn_free(asn);
	return rc;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	char *argv[] = {"rm", "-rf", fx->dir, NULL};

	run(argv);
	pn_free(fx->dir);
	pn_free(fx->data);
	pn_free(fx);
	return 0;
}

/* replace_dir - config text with @DIR@ replaced */
static char *replace_dir(const char *text, const char *dir)
{
	pn_buf b;
	const char *p;

	pn_buf_init(&b, 0);
	while ((p = strstr(text, "@DIR@")) != NULL) {
		pn_buf_append(&b, text, (size_t)(p - text));
		pn_buf_puts(&b, dir);
		text = p + 5;
	}
	pn_buf_puts(&b, text);
	return pn_buf_steal(&b, NULL);
}

/* load_state - state from the base test configuration plus extra lines */
static audit_state *load_state(const char *extra, const char *dir, pn_config **cfgp)
{
	char *x = replace_dir(extra, dir);
	char *text = pn_asprintf("trail_file =\nsyslog = yes\n%s", x);
	char *err = NULL;
	pn_config *cfg = pn_config_parse(text, "test.conf", audit_params, &err);
	audit_state *st;

	if (cfg == NULL)
		fail_msg("config: %s", err);
	st = audit_state_load(cfg, &err);
	if (st == NULL)
		fail_msg("state: %s", err);
	pn_free(x);
	pn_free(text);
	*cfgp = cfg;
	return st;
}

/* split - space-separated words into a vector */
static char **split(const char *s)
{
	char **v = pn_calloc(strlen(s) + 2, sizeof(char *));
	size_t n = 0;

	while (*s) {
		size_t len;
		s += strspn(s, " ");
		if ((len = strcspn(s, " ")) == 0)
			break;
		v[n++] = pn_strndup(s, len);
		s += len;
	}
	return v;
}

/* fixed_env - the clock, host and queue id every golden record uses */
static audit_env fixed_env(const rec_case *c)
{
	audit_env env;

	env.now.tv_sec = 1714564800 + 3;	/* 2024-05-01T12:00:03 */
	env.now.tv_nsec = 250 * 1000000 + 999;
	env.host = strstr(c->config, "host_name") ? NULL : "mx.postern.test";
	env.queue_id = c->ev == AUDIT_EV_CONNECTION ? NULL : "4VQ1xY2ZbCz";
	return env;
}

/* build - the record for one case, freshly built */
static char *build(const fixture *fx, const rec_case *c)
{
	pn_config *cfg;
	audit_state *st = load_state(c->config, fx->dir, &cfg);
	pn_snapshot snap = {1, 0, cfg, st, NULL};
	pn_conn *conn = pn_conn_new(&snap);
	audit_env env = fixed_env(c);
	char *out, *err = NULL;
	size_t len;

	conn->started.tv_sec = 1714564800;
	conn->started.tv_nsec = 0;
	conn->client_addr = c->client ? pn_strdup(c->client) : NULL;
	conn->client_port = c->port;
	conn->client_name = pn_strdup(c->client_name);
	conn->helo = c->helo ? pn_strdup(c->helo) : NULL;
	{
		char *m = pn_strdup(c->macros), *line, *save = NULL;
		for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *eq = strchr(line, '=');
			*eq = '\0';
			pn_conn_set_macro(conn, line, eq + 1);
		}
		pn_free(m);
	}
	if (c->eml) {
		char *path = pn_asprintf("%s/%s", fx->data, c->eml);
		size_t n;
		char *data = t_read_file(path, &n);
		char **args = split(c->sender_args), **rcpts = split(c->rcpts);
		size_t i;

		if (data == NULL)
			fail_msg("cannot read %s", path);
		conn->msg = pn_msg_load(data, n, 1 << 20, "/tmp");
		conn->messages = 1;
		conn->msg->started.tv_sec = 1714564801;
		conn->msg->started.tv_nsec = 500 * 1000000;
		pn_msg_set_sender(conn->msg, c->sender, args);
		for (i = 0; rcpts[i]; i++)
			pn_msg_add_rcpt(conn->msg, rcpts[i], NULL);
		pn_strv_free(args);
		pn_strv_free(rcpts);
		pn_free(data);
		pn_free(path);
	}
	out = audit_record_build(st, conn, conn->msg, c->ev, &env, &len, &err);
	if (out == NULL)
		fail_msg("%s: build failed: %s", c->name, err);
	assert_int_equal(strlen(out), len);
	pn_conn_free(conn);
	audit_state_free(st);
	pn_config_free(cfg);
	return out;
}

/* golden_records - every case against its golden file */
static void golden_records(void **state)
{
	const fixture *fx = *state;
	int update = getenv("AUDIT_UPDATE_GOLDEN") && *getenv("AUDIT_UPDATE_GOLDEN") == '1';
	size_t i, failures = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = build(fx, &cases[i]);
		char *path = pn_asprintf("%s/%s.json", fx->data, cases[i].name);
		char *line = pn_asprintf("%s\n", got);
		size_t n;
		char *want = t_read_file(path, &n);

		if (update) {
			assert_int_equal(write_all(path, line, strlen(line)), 0);
		} else if (want == NULL || strcmp(want, line) != 0) {
			print_error("%s: got\n%swant\n%s", cases[i].name, line,
				    want ? want : "(missing golden file)\n");
			failures++;
		}
		pn_free(want);
		pn_free(line);
		pn_free(path);
		pn_free(got);
	}
	if (failures)
		fail_msg("%zu record(s) differ from their golden files", failures);
}

/* records_are_utf8_json_objects - whatever the mail held */
static void records_are_utf8_json_objects(void **state)
{
	const fixture *fx = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = build(fx, &cases[i]);
		json_object *o = json_tokener_parse(got);

		if (!pn_utf8_valid(got, strlen(got)))
			fail_msg("%s: record is not valid UTF-8", cases[i].name);
		if (o == NULL || !json_object_is_type(o, json_type_object))
			fail_msg("%s: record is not a JSON object: %s", cases[i].name, got);
		if (strchr(got, '\n'))
			fail_msg("%s: record spans lines", cases[i].name);
		json_object_put(o);
		pn_free(got);
	}
}

/* member - string member at a dotted path of the record */
static const char *member(json_object *o, const char *path)
{
	char *copy = pn_strdup(path), *key, *save = NULL;
	const char *s = NULL;

	for (key = strtok_r(copy, ".", &save); key && o; key = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, key, &o))
			o = NULL;
	if (o)
		s = json_object_get_string(o);
	pn_free(copy);
	return s;
}

/* sha256_is_of_the_message_as_received - independent digest of the file */
static void sha256_is_of_the_message_as_received(void **state)
{
	const fixture *fx = *state;
	/* plain.eml and attachments.eml have CRLF lines and no folding quirks,
	 * so the header block rebuilt by the milter layer equals the file. */
	static const size_t which[] = {0, 4};
	size_t k;

	for (k = 0; k < 2; k++) {
		const rec_case *c = &cases[which[k]];
		char *path = pn_asprintf("%s/%s", fx->data, c->eml);
		size_t n;
		char *data = t_read_file(path, &n), *got = build(fx, c);
		unsigned char d[PN_SHA256_LEN];
		char hex[PN_SHA256_HEX_LEN + 1], size[32];
		json_object *o = json_tokener_parse(got);

		pn_sha256_once(data, n, d);
		pn_hex(d, sizeof(d), hex);
		snprintf(size, sizeof(size), "%zu", n);
		if (strcmp(member(o, "sha256"), hex) != 0)
			fail_msg("%s: sha256 got %s, want %s", c->name, member(o, "sha256"), hex);
		if (strcmp(member(o, "size"), size) != 0)
			fail_msg("%s: size got %s, want %s", c->name, member(o, "size"), size);
		json_object_put(o);
		pn_free(got);
		pn_free(data);
		pn_free(path);
	}
}

/* attachment_digest_is_of_the_decoded_content - the PDF's bytes are known */
static void attachment_digest_is_of_the_decoded_content(void **state)
{
	const fixture *fx = *state;
	unsigned char pdf[1024], d[PN_SHA256_LEN];
	char hex[PN_SHA256_HEX_LEN + 1];
	char *got = build(fx, &cases[4]);
	json_object *o = json_tokener_parse(got), *att, *first;
	size_t i;

	for (i = 0; i < sizeof(pdf); i++)
		pdf[i] = (unsigned char)(i % 256);
	pn_sha256_once(pdf, sizeof(pdf), d);
	pn_hex(d, sizeof(d), hex);
	assert_true(json_object_object_get_ex(o, "attachments", &att));
	first = json_object_array_get_idx(att, 0);
	if (strcmp(member(first, "filename"), "\xe2\x82\xac report.pdf") != 0)
		fail_msg("filename got \"%s\", want \"\xe2\x82\xac report.pdf\"",
			 member(first, "filename"));
	if (strcmp(member(first, "sha256"), hex) != 0)
		fail_msg("pdf sha256 got %s, want %s", member(first, "sha256"), hex);
	if (strcmp(member(first, "size"), "1024") != 0)
		fail_msg("pdf size got %s, want 1024", member(first, "size"));
	json_object_put(o);
	pn_free(got);
}

/* part_member - member key of mime.parts[i], or NULL */
static const char *part_member(json_object *rec, size_t i, const char *key)
{
	json_object *mime, *parts, *part;

	if (!json_object_object_get_ex(rec, "mime", &mime) ||
	    !json_object_object_get_ex(mime, "parts", &parts) ||
	    (part = json_object_array_get_idx(parts, i)) == NULL)
		return NULL;
	return member(part, key);
}

/* mime_tree_tells_what_was_in_the_message - every part, raw and decoded size */
static void mime_tree_tells_what_was_in_the_message(void **state)
{
	const fixture *fx = *state;
	static const struct {
		const char *type, *disposition, *encoding, *raw_size, *size;
	} want[] = {
		{"text/plain", NULL, "7bit", "18", "18"},
		/* 1024 bytes in base64: 1368 characters on 18 lines of CRLF */
		{"application/pdf", "attachment", "base64", "1402", "1024"},
		{"application/zip", "attachment", "base64", "418", "304"},
		{"image/png", "inline", "base64", "12", "8"},
	};
	char *got = build(fx, &cases[4]);
	json_object *o = json_tokener_parse(got);
	size_t i;

	assert_non_null(o);
	if (!t_str_eq(member(o, "mime.count"), "4") || member(o, "mime.truncated") != NULL)
		fail_msg("mime count/truncated wrong: %s", got);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char index[8];
		snprintf(index, sizeof(index), "%zu", i);
		if (!t_str_eq(part_member(o, i, "index"), index) ||
		    !t_str_eq(part_member(o, i, "depth"), "1") ||
		    !t_str_eq(part_member(o, i, "content_type"), want[i].type) ||
		    !t_str_eq(part_member(o, i, "disposition"), want[i].disposition) ||
		    !t_str_eq(part_member(o, i, "encoding"), want[i].encoding) ||
		    !t_str_eq(part_member(o, i, "raw_size"), want[i].raw_size) ||
		    !t_str_eq(part_member(o, i, "size"), want[i].size))
			fail_msg("part %zu differs from {%s %s %s %s %s}: %s", i, want[i].type,
				 want[i].disposition ? want[i].disposition : "-", want[i].encoding,
				 want[i].raw_size, want[i].size, got);
	}
	json_object_put(o);
	pn_free(got);
}

/* mime_tree_of_thousands_of_parts_stays_small - the list is cut and says so */
static void mime_tree_of_thousands_of_parts_stays_small(void **state)
{
	const fixture *fx = *state;
	fixture here = {fx->dir, fx->dir};
	rec_case c = cases[4];
	char *path = pn_asprintf("%s/many_parts.eml", fx->dir), *got;
	json_object *o, *parts;
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "From: a@example.com\r\nTo: b@example.org\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i < 5000; i++)
		pn_buf_puts(&b, "--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n");
	pn_buf_puts(&b, "--b--\r\n");
	assert_int_equal(write_all(path, pn_buf_str(&b), pn_buf_len(&b)), 0);
	c.eml = "many_parts.eml";
	got = build(&here, &c);
	o = json_tokener_parse(got);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "mime", &parts));
	assert_true(json_object_object_get_ex(parts, "parts", &parts));
	assert_int_equal(json_object_array_length(parts), 100);
	if (!t_str_eq(member(o, "mime.truncated"), "true") ||
	    !t_str_eq(member(o, "mime.count"), "1000"))
		fail_msg("mime count %s truncated %s, want 1000 and true",
			 t_show(member(o, "mime.count")), t_show(member(o, "mime.truncated")));
	/* 5000 parts, a record the size of a few hundred */
	if (strlen(got) > 32 * 1024)
		fail_msg("record of %zu bytes for a message of %zu", strlen(got), pn_buf_len(&b));
	json_object_put(o);
	pn_free(got);
	pn_buf_free(&b);
	unlink(path);
	pn_free(path);
}

/* pseudonyms_join_across_case_and_keep_domains - same local part, same pseudonym */
static void pseudonyms_join_across_case_and_keep_domains(void **state)
{
	const fixture *fx = *state;
	pn_config *cfg;
	audit_state *st = load_state(cases[10].config, fx->dir, &cfg);
	char *a = audit_pseudonym(st, "Alice@Example.com");
	char *b = audit_pseudonym(st, "alice@example.com");
	char *c = audit_pseudonym(st, "alicia@example.com");
	char *e = audit_pseudonym(st, "");

	if (strcmp(a + strlen(a) - 12, "@Example.com") != 0 || strncmp(a, "anon-", 5) != 0
	    || strlen(a) != 5 + 16 + 12)
		fail_msg("pseudonym got \"%s\", want anon-<16 hex>@Example.com", a);
	if (strncmp(a, b, 21) != 0)
		fail_msg("pseudonyms of Alice and alice differ: %s %s", a, b);
	if (strncmp(a, c, 21) == 0)
		fail_msg("pseudonyms of alice and alicia collide: %s %s", a, c);
	if (strcmp(e, "") != 0)
		fail_msg("pseudonym of the null sender got \"%s\", want \"\"", e);
	pn_free(a);
	pn_free(b);
	pn_free(c);
	pn_free(e);
	audit_state_free(st);
	pn_config_free(cfg);
}

/* bad_configurations_are_refused - errors name the parameter */
static void bad_configurations_are_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"trail_file =\nsyslog = no\n", "\"trail_file\""},
		{"trail_file = relative.jsonl\n", "absolute"},
		{"trail_file_mode = 9999\n", "\"trail_file_mode\""},
		{"redact = subject, colour\n", "unknown field \"colour\""},
		{"key_file = /nonexistent/key\n", "\"key_file\""},
		{"pseudonymize_addresses = yes\n", "\"pseudonymize_key_file\""},
		{"geoip_country_db = /nonexistent.mmdb\n", "\"geoip_country_db\""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		char *text = pn_asprintf("trail_file = /tmp/x.jsonl\n%s", bad[i].text);
		pn_config *cfg = pn_config_parse(text, "bad.conf", audit_params, &err);
		audit_state *st;

		assert_non_null(cfg);
		st = audit_state_load(cfg, &err);
		if (st != NULL)
			fail_msg("\"%s\" was accepted", bad[i].text);
		if (err == NULL || strstr(err, bad[i].want) == NULL)
			fail_msg("\"%s\": error got \"%s\", want it to mention %s", bad[i].text,
				 err ? err : "(none)", bad[i].want);
		pn_free(err);
		pn_config_free(cfg);
		pn_free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_records),
		cmocka_unit_test(records_are_utf8_json_objects),
		cmocka_unit_test(sha256_is_of_the_message_as_received),
		cmocka_unit_test(attachment_digest_is_of_the_decoded_content),
		cmocka_unit_test(mime_tree_tells_what_was_in_the_message),
		cmocka_unit_test(mime_tree_of_thousands_of_parts_stays_small),
		cmocka_unit_test(pseudonyms_join_across_case_and_keep_domains),
		cmocka_unit_test(bad_configurations_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
