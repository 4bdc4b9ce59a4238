/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_web_form - libFuzzer target: arbitrary search-form values (fields
 * separated by newlines) through the archive query, the page number, the
 * URL encoder, the HTML escaper and the session-cookie checks */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/web/search_form.h"
#include "milters/web/session.h"
#include "milters/web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = pn_memdup0(data, size), *fields[WEB_SEARCH_NFIELDS + 1], *p = text, *err = NULL;
	const char *v[WEB_SEARCH_NFIELDS];
	arc_query q;
	pn_buf b;
	size_t i, n = 0;

	memset(fields, 0, sizeof(fields));
	while (n < WEB_SEARCH_NFIELDS + 1 && p) {
		fields[n++] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	for (i = 0; i < WEB_SEARCH_NFIELDS; i++)
		v[i] = fields[i];
	arc_query_init(&q);
	if (web_search_query(v, size & 1, &q, &err) < 0) {
		if (err == NULL)
			__builtin_trap();
		pn_free(err);
	}
	arc_query_clear(&q);
	(void)web_page_number(fields[WEB_SEARCH_NFIELDS]);
	pn_buf_init(&b, 0);
	web_url_arg(&b, text);
	for (i = 0; i < pn_buf_len(&b); i++)
		if (strchr("&<>\"' =?#/", pn_buf_str(&b)[i]))
			__builtin_trap();
	pn_buf_reset(&b);
	web_esc_n(&b, (const char *)data, size);
	if (memchr(pn_buf_str(&b), '<', pn_buf_len(&b)) || memchr(pn_buf_str(&b), '"', pn_buf_len(&b)))
		__builtin_trap();
	pn_buf_free(&b);
	/* a cookie value as a session id or a CSRF token */
	if (web_token_ok(text) && strlen(text) != WEB_TOKEN_LEN)
		__builtin_trap();
	(void)web_token_equal(text, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	pn_free(text);
	return 0;
}
