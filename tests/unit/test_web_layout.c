/* SPDX-License-Identifier: BSD-2-Clause */
/* test_web_layout - what every page is made of: escaping hostile strings and
 * invalid UTF-8, URL arguments, the page frame and its CSRF field, the search
 * form's query, and the zip writer of the export */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/web/search_form.h"
#include "milters/web/web.h"
#include "milters/web/zip.h"
#include "tests/unit/testlib.h"

/* esc - web_esc_n of n bytes as a new string */
static char *esc(const char *s, size_t n)
{
	pn_buf b;
	char *out;

	pn_buf_init(&b, 0);
	web_esc_n(&b, s, n);
	pn_buf_putc(&b, '\0');
	out = pn_strdup(pn_buf_str(&b));
	pn_buf_free(&b);
	return out;
}

static void escaping_hostile_strings(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"\" onmouseover=\"x()", "&quot; onmouseover=&quot;x()"},
		{"' autofocus onfocus='y", "&#39; autofocus onfocus=&#39;y"},
		{"a & b &amp;", "a &amp; b &amp;amp;"},
		{"tab\tnew\nline\rcr", "tab\tnew\nlinecr"},
		{"bell\a esc\x1b[31m del\x7f", "bell esc[31m del"},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"},
		{"bad \xff byte", "bad \xef\xbf\xbd byte"},
		{"overlong \xc0\xbc", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
		{"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},
		/* C1 controls (NEL, CSI) are controls too; U+00A0 is not */
		{"nel\xc2\x85" "csi\xc2\x9b" "1m nbsp\xc2\xa0", "nelcsi1m nbsp\xc2\xa0"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = esc(cases[i].in, strlen(cases[i].in));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, got, cases[i].want);
		pn_free(got);
	}
	/* a NUL inside the bytes is dropped, not an end */
	{
		char *got = esc("a\0<b", 4);
		assert_string_equal(got, "a&lt;b");
		pn_free(got);
	}
}

static void url_arguments(void **state)
{
	pn_buf b;

	(void)state;
	pn_buf_init(&b, 0);
	web_url_arg(&b, "a b&c=d/\"<>?#\xc3\xa9-._~Z9");
	assert_string_equal(pn_buf_str(&b), "a%20b%26c%3Dd%2F%22%3C%3E%3F%23%C3%A9-._~Z9");
	pn_buf_free(&b);
}

static void page_frame(void **state)
{
	web_user u;
	web_req r;
	pn_buf b;
	const char *html;

	(void)state;
	memset(&u, 0, sizeof(u));
	memset(&r, 0, sizeof(r));
	snprintf(u.name, sizeof(u.name), "%s", "<b>eve</b>");
	u.role = WEB_ROLE_AUDITOR;
	r.user = &u;
	r.csrf = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	web_page_begin(&b, &r, "Title <i>");
	web_page_end(&b);
	html = pn_buf_str(&b);
	assert_non_null(strstr(html, "&lt;b&gt;eve&lt;/b&gt; (auditor)"));
	assert_non_null(strstr(html, "<title>Title &lt;i&gt; - Postern</title>"));
	assert_non_null(strstr(html, "<input type=\"hidden\" name=\"csrf\" value=\"0123456789abcdef"));
	assert_non_null(strstr(html, "action=\"/logout\""));
	assert_non_null(strstr(html, "<link rel=\"stylesheet\" href=\"/static/app.css\">"));
	/* no inline script or style: the CSP would block it */
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "style="));
	assert_null(strstr(html, "<b>"));
	pn_buf_free(&b);
	/* no user (the login page): no navigation */
	r.user = NULL;
	web_page_begin(&b, &r, "Log in");
	assert_null(strstr(pn_buf_str(&b), "/logout"));
	pn_buf_free(&b);
}

static void search_fields_are_the_cli_options(void **state)
{
	const char *v[WEB_SEARCH_NFIELDS] = {"alice", "", "report", NULL, "2024-01-01", "7d", "pdf"};
	char *err = NULL;
	arc_query q;

	(void)state;
	arc_query_init(&q);
	assert_int_equal(web_search_query(v, 1, &q, &err), 0);
	assert_string_equal(q.from, "alice");
	assert_null(q.to);
	assert_string_equal(q.subject, "report");
	assert_int_equal(q.since, 1704067200);
	assert_true(q.until > 0);
	assert_string_equal(q.attachment, "pdf");
	assert_int_equal(q.held_only, 1);
	arc_query_clear(&q);
	v[4] = "yesterday-ish";
	arc_query_init(&q);
	assert_int_equal(web_search_query(v, 0, &q, &err), -1);
	assert_non_null(strstr(err, "since"));
	pn_free(err);
	arc_query_clear(&q);
	assert_int_equal(web_page_number("3"), 3);
	assert_int_equal(web_page_number("-1"), 0);
	assert_int_equal(web_page_number("1e3"), 0);
	assert_int_equal(web_page_number("99999999999999999999"), 0);
	assert_int_equal(web_page_number(NULL), 0);
}

static void zip_is_well_formed(void **state)
{
	const char *dir = t_tmpdir("web-zip");
	char *path = pn_asprintf("%s/x.zip", dir), *data;
	size_t len;
	web_zip *z;
	int fd;

	(void)state;
	assert_int_equal(web_crc32(0, "123456789", 9), 0xcbf43926UL);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	z = web_zip_open(fd);
	assert_int_equal(web_zip_add(z, "a.eml", "Subject: a\r\n\r\nA\r\n", 17, 1704067200), 0);
	assert_int_equal(web_zip_add(z, "b.eml", "", 0, 0), 0);
	assert_int_equal(web_zip_close(z), 0);
	close(fd);
	data = t_read_file(path, &len);
	assert_non_null(data);
	/* local header, the stored bytes, and the end record at the very end */
	assert_memory_equal(data, "PK\x03\x04", 4);
	assert_memory_equal(data + 30, "a.eml", 5);
	assert_memory_equal(data + 35, "Subject: a\r\n\r\nA\r\n", 17);
	assert_memory_equal(data + len - 22, "PK\x05\x06", 4);
	assert_int_equal((unsigned char)data[len - 22 + 10], 2);	/* entries */
	pn_free(data);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escaping_hostile_strings),
		cmocka_unit_test(url_arguments),
		cmocka_unit_test(page_frame),
		cmocka_unit_test(search_fields_are_the_cli_options),
		cmocka_unit_test(zip_is_well_formed),
	};
	return cmocka_run_group_tests_name("web_layout", tests, NULL, NULL);
}
