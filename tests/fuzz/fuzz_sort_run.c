/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sort_run - libFuzzer target for the Sieve interpreter and the action mapping */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/actions.h"
#include "common/addr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mime.h"
#include "common/rfc2047.h"
#include "common/spool.h"
#include "common/milter/msg.h"
#include "milters/sort/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The Makefile links libpostern.a before the daemons' libraries, so the
 * modules libsort.a needs are pulled in here by name (see the report on
 * the link order); harmless once that is fixed.
 */
void *const sort_fuzz_force_link[] = {
	(void *)pn_buf_init, (void *)pn_addr_parse_path, (void *)pn_rfc2047_decode,
	(void *)pn_mime_new, (void *)pn_msg_size, (void *)pn_log_msg, (void *)pn_actions_new,
	(void *)pn_spool_new, (void *)pn_malloc,
};

static const char default_msg[] =
	"From: Alice <alice@example.com>\r\nTo: bob@example.org, carol+x@example.org\r\n"
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= report\r\nX-Score: 12\r\n"
	"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	"--b\r\nContent-Type: text/plain\r\n\r\nbody text\r\n--b--\r\n";

/* the scripts include handed out in one run: every include of any name is
 * a fresh copy of the fuzzed script, so a script that includes itself
 * nests until max_include_depth or max_includes stops it */
static const char *include_text;
static size_t include_len;
static sv_script **included;
static size_t nincluded;

/* include_copy - sv_services.include: the fuzzed script again ("missing"
 * for names starting with "missing") */
static const sv_script *include_copy(void *arg, int global, const char *name, int *missing,
				     char **err)
{
	sv_script *s;

	(void)arg;
	(void)global;
	*missing = strncmp(name, "missing", 7) == 0;
	*err = NULL;
	if (*missing || nincluded >= 1000)
		return NULL;
	if ((s = sv_compile(name, include_text, include_len, NULL, err)) == NULL)
		return NULL;
	included = pn_realloc(included, (nincluded + 1) * sizeof(*included));
	included[nincluded++] = s;
	return s;
}

/* fuzz_seen - a response store that knows half of all keys (duplicate) */
static int fuzz_seen(void *arg, const unsigned char key[32], time_t now)
{
	(void)arg;
	(void)now;
	return key[0] & 1;
}

/* fuzz_services - spamtest reads X-Score (of 20), virustest X-Virus (text) */
static const sv_services *fuzz_services(void)
{
	static sv_services svc;
	static int made;

	if (!made) {
		sv_spamparams spam = {"X-Score: ([0-9.-]+)", "score", "", "20", ""};
		sv_spamparams virus = {"X-Virus", "text", "", "", "1=clean, 5=infected"};
		char *err = NULL;
		svc.seen = fuzz_seen;
		svc.spam = sv_spamconf_new(&spam, &virus, &err);
		if (svc.spam == NULL)
			__builtin_trap();
		made = 1;
	}
	return &svc;
}

/* LLVMFuzzerTestOneInput - script NUL message: compile, run for two recipients */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, '\0', size);
	size_t slen = nul ? (size_t)(nul - (const char *)data) : size;
	const char *mtext = nul ? nul + 1 : default_msg;
	size_t mlen = nul ? size - slen - 1 : sizeof(default_msg) - 1;
	static const char *const rcpts[] = {"<bob@example.org>", "<carol+x@example.org>"};
	static const char *const items[] = {"location", "MTA", "remote-ip", "192.0.2.1", NULL};
	char *err = NULL;
	sv_limits l;
	sv_script *s;
	pn_msg *m;
	size_t i;
	sv_body *body;

	pn_log_set_level(PN_LOG_FATAL);
	sv_limits_default(&l);
	l.max_steps = 20000;
	l.max_body_size = 64 * 1024;
	if ((s = sv_compile("fuzz", (const char *)data, slen, &l, &err)) == NULL) {
		pn_free(err);
		return 0;
	}
	include_text = (const char *)data;
	include_len = slen;
	m = pn_msg_load(mtext, mlen, 1 << 16, "/tmp");
	pn_msg_set_sender(m, "<alice@example.com>", NULL);
	body = sv_body_new();
	for (i = 0; i < 2; i++) {
		sv_env env;
		sv_services svc;
		sv_result r;
		FILE *out = fopen("/dev/null", "w");

		memset(&env, 0, sizeof(env));
		env.msg = m;
		env.from = m->sender;
		env.to = rcpts[i];
		env.items = items;
		env.body = body;
		env.limits = &l;
		env.now = 1709249400;	/* currentdate: a fixed clock */
		svc = *fuzz_services();
		svc.include = include_copy;
		env.svc = &svc;
		sv_result_init(&r, m);
		if (sv_run(s, &env, &r) < 0 && r.error == NULL)
			__builtin_trap();
		/* a second script run into the same result, as a chain does */
		sv_run(s, &env, &r);
		/* the view holds only the fields scripts added */
		if (r.nhdrs > r.edits || r.ntop > r.nhdrs)
			__builtin_trap();
		if (out) {
			sv_result_print(&r, out);
			fclose(out);
		}
		sv_result_clear(&r);
	}
	sv_body_free(body);
	pn_msg_free(m);
	sv_script_free(s);
	for (i = 0; i < nincluded; i++)
		sv_script_free(included[i]);
	pn_free(included);
	included = NULL;
	nincluded = 0;
	return 0;
}
