/* SPDX-License-Identifier: BSD-2-Clause */
/* test_mime - streaming MIME walk over real-looking messages */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/mime.h"
#include "common/rfc2047.h"
#include "tests/unit/testlib.h"

/*
 * The messages below were written by hand to look like what real mail
 * clients send. Expected sizes and digests were computed outside this
 * code: sha256sum(1) of the decoded payloads, cross-checked with
 * Python's email package where its reading agrees with RFC 2045 (it
 * keeps trailing whitespace in quoted-printable, which RFC 2045 says
 * to delete, and leaves RFC 2047 words in filenames alone).
 */

static const char msg_mixed_base64[] =
	"Return-Path: <alice@example.org>\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed;\r\n"
	"\x09" "boundary=\"----=_Part_1_2023.1700000000000\"\r\n"
	"\r\n"
	"This is a multi-part message in MIME format.\r\n"
	"\r\n"
	"------=_Part_1_2023.1700000000000\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"\r\n"
	"Hello Bob,\r\n"
	"\r\n"
	"see the attached data.\r\n"
	"------=_Part_1_2023.1700000000000\r\n"
	"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
	"\r\n"
	"CxUtU4fJGXfjXeV7H9GRXzslHSM3WYnHE23VS89hAa9rNQ3z5+n5F0N9xRt/8XH/m0X9w5d5aWdz\r\n"
	"jbXrL4HhT8tV7ZNHCdm3o52lu98RUZ/7Zd1j95lJB9OtlYuPocHvK3XNM6cpuVcDvYVbPzExP1uF\r\n"
	"vQNXuSmnM811K+/BoY+Lla3TB0mZ92PdZfufURHfu6Wdo7fZCUeT7VXLT+GBL+u1jXNnaXmXw/1F\r\n"
	"m/9x8X8bxX1DF/np5/MNNWuvAWHPS9VtE8eJWTcjHSU7X5HRH3vlXeN3GcmHUy0VCw8hQW+r9U2z\r\n"
	"J6k514M9Bdu/sbG/2wU9g9c5qSezTfWrb0EhDwsVLVOHyRl3413lex/RkV87JR0jN1mJxxNt1UvP\r\n"
	"YQGvazUN8+fp+RdDfcUbf/Fx/5tF/cOXeWlnc4216y+B4U/LVe2TRwnZt6OdpbvfEVGf+2XdY/eZ\r\n"
	"SQfTrZWLj6HB7yt1zTOnKblXA72FWz8xMT9bhb0DV7kppzPNdSvvwaGPi5Wt0wdJmfdj3WX7n1ER\r\n"
	"37ulnaO32QlHk+1Vy0/hgS/rtY1zZ2l5l8P9RZv/cfF/G8V9Qxf56efzDTVrrwFhz0vVbRPHiVk3\r\n"
	"Ix0lO1+R0R975V3jdxnJh1MtFQsPIUFvq/VNsyepOdeDPQXbv7Gxv9sFPYPXOakns031q29BIQ8L\r\n"
	"FS1Th8kZd+Nd5Xsf0ZFfOyUdIzdZiccTbdVLz2EBr2s1DfPn6fkXQ33FG3/xcf+bRf3Dl3lpZ3ON\r\n"
	"tesvgeFPy1Xtk0cJ2bejnaW73xFRn/tl3WP3mUkH062Vi4+hwe8rdc0zpym5VwO9hVs/MTE/W4W9\r\n"
	"A1e5KaczzXUr78Ghj4uVrdMHSZn3Y91l+59REd+7pZ2jt9kJR5PtVctP4YEv67WNc2dpeZfD/UWb\r\n"
	"/3HxfxvFfUMX+enn8w01aw==\r\n"
	"------=_Part_1_2023.1700000000000--\r\n"
	"\r\n"
	"epilogue text\r\n";

static const char msg_nested_alternative[] =
	"From: news@example.com\r\n"
	"Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
	"\r\n"
	"--mix\r\n"
	"Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Caf=E9 cr=E8me is on the menu, and this line is long enough to need a soft=\r\n"
	" line break.\r\n"
	"--alt\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PHA+Q2Fmw6kgY3LDqG1lPC9wPg==\r\n"
	"--alt--\r\n"
	"--mix\r\n"
	"Content-Type: image/png\r\n"
	"Content-Disposition: inline\r\n"
	"Content-ID: <logo@example.com>\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"iVBORw0KGgo=\r\n"
	"--mix--\r\n";

static const char msg_rfc2231_filename[] =
	"Content-Type: multipart/mixed; boundary=b1\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf\r\n"
	"Content-Disposition: attachment;\r\n"
	" filename*1*=%20for%20;\r\n"
	" filename*0*=utf-8''%E2%82%AC%20rates;\r\n"
	" filename*2=\"2024.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; name=\"fallback.txt\"\r\n"
	"Content-Disposition: attachment; filename=\"plain.txt\";\r\n"
	"  filename*=iso-8859-1'fr'caf%E9.txt\r\n"
	"\r\n"
	"x\r\n"
	"--b1--\r\n";

static const char msg_rfc2047_filename[] =
	"Content-Type: multipart/mixed; boundary=\"=_b\"\r\n"
	"\r\n"
	"--=_b\r\n"
	"Content-Type: application/pdf;\r\n"
	" name=\"=?utf-8?B?w6l0w6kgMjAyNC5wZGY=?=\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--=_b\r\n"
	"Content-Type: application/msword\r\n"
	"Content-Disposition: attachment; filename=\"=?iso-8859-1?Q?r=E9sum=E9?=\r\n"
	" =?iso-8859-1?Q?_final?=.doc\"\r\n"
	"\r\n"
	"doc\r\n"
	"--=_b\r\n"
	"Content-Type: text/plain; name=raw\xe9name.txt\r\n"
	"\r\n"
	"raw\r\n"
	"--=_b--\r\n";

static const char msg_message_rfc822[] =
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Forwarded message below.\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
	"\r\n"
	"From: carol@example.org\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/mixed; boundary=\"inner\"\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"inner text\r\n"
	"--inner\r\n"
	"Content-Type: application/zip; name=\"a.zip\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\r\n"
	"--inner--\r\n"
	"--outer--\r\n";

static const char msg_qp_text[] =
	"Subject: qp\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: Quoted-Printable\r\n"
	"\r\n"
	"Gr=C3=BC=C3=9Fe aus K=C3=B6ln, 1+1=3D2.  \r\n"
	"soft=\r\n"
	"break and soft with space= \x09\r\n"
	"end, bad =ZZ and =4 kept, tab\x09inside\r\n"
	"last line=";

static const char msg_missing_final_boundary[] =
	"Content-Type: multipart/mixed; boundary=\"zz\"\r\n"
	"\r\n"
	"--zz\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"first\r\n"
	"--zz\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"second, never closed\r\n";

static const char msg_boundary_whitespace[] =
	"Content-Type: multipart/mixed; boundary=\"ws\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--wsx not a boundary\r\n"
	"--ws \x09 \r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"one\r\n"
	"--ws-\r\n"
	"--ws  \r\n"
	"\r\n"
	"two, no headers\r\n"
	"--ws--  \r\n"
	"epilogue\r\n"
	"--ws--\r\n";

static const char msg_single_part[] =
	"From: a@example.org\r\n"
	"Subject: plain\r\n"
	"\r\n"
	"Just text.\r\n"
	"-- \r\n"
	"sig\r\n";

static const char msg_digest[] =
	"Content-Type: multipart/digest; boundary=\"d\"\r\n"
	"\r\n"
	"--d\r\n"
	"\r\n"
	"Subject: one\r\n"
	"\r\n"
	"body one\r\n"
	"--d\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"not a message\r\n"
	"--d--\r\n";

static const char msg_base64_rfc822_is_leaf[] =
	"Content-Type: multipart/mixed; boundary=\"q\"\r\n"
	"\r\n"
	"--q\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"U3ViamVjdDogeA0KDQpib2R5DQo=\r\n"
	"--q--\r\n";

static const char msg_lf_only[] =
	"Return-Path: <alice@example.org>\n"
	"From: Alice <alice@example.org>\n"
	"To: bob@example.net\n"
	"Subject: report\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed;\n"
	"\x09" "boundary=\"----=_Part_1_2023.1700000000000\"\n"
	"\n"
	"This is a multi-part message in MIME format.\n"
	"\n"
	"------=_Part_1_2023.1700000000000\n"
	"Content-Type: text/plain; charset=UTF-8\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"Hello Bob,\n"
	"\n"
	"see the attached data.\n"
	"------=_Part_1_2023.1700000000000\n"
	"Content-Type: application/octet-stream; name=\"data.bin\"\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-Disposition: attachment; filename=\"data.bin\"\n"
	"\n"
	"CxUtU4fJGXfjXeV7H9GRXzslHSM3WYnHE23VS89hAa9rNQ3z5+n5F0N9xRt/8XH/m0X9w5d5aWdz\n"
	"jbXrL4HhT8tV7ZNHCdm3o52lu98RUZ/7Zd1j95lJB9OtlYuPocHvK3XNM6cpuVcDvYVbPzExP1uF\n"
	"vQNXuSmnM811K+/BoY+Lla3TB0mZ92PdZfufURHfu6Wdo7fZCUeT7VXLT+GBL+u1jXNnaXmXw/1F\n"
	"m/9x8X8bxX1DF/np5/MNNWuvAWHPS9VtE8eJWTcjHSU7X5HRH3vlXeN3GcmHUy0VCw8hQW+r9U2z\n"
	"J6k514M9Bdu/sbG/2wU9g9c5qSezTfWrb0EhDwsVLVOHyRl3413lex/RkV87JR0jN1mJxxNt1UvP\n"
	"YQGvazUN8+fp+RdDfcUbf/Fx/5tF/cOXeWlnc4216y+B4U/LVe2TRwnZt6OdpbvfEVGf+2XdY/eZ\n"
	"SQfTrZWLj6HB7yt1zTOnKblXA72FWz8xMT9bhb0DV7kppzPNdSvvwaGPi5Wt0wdJmfdj3WX7n1ER\n"
	"37ulnaO32QlHk+1Vy0/hgS/rtY1zZ2l5l8P9RZv/cfF/G8V9Qxf56efzDTVrrwFhz0vVbRPHiVk3\n"
	"Ix0lO1+R0R975V3jdxnJh1MtFQsPIUFvq/VNsyepOdeDPQXbv7Gxv9sFPYPXOakns031q29BIQ8L\n"
	"FS1Th8kZd+Nd5Xsf0ZFfOyUdIzdZiccTbdVLz2EBr2s1DfPn6fkXQ33FG3/xcf+bRf3Dl3lpZ3ON\n"
	"tesvgeFPy1Xtk0cJ2bejnaW73xFRn/tl3WP3mUkH062Vi4+hwe8rdc0zpym5VwO9hVs/MTE/W4W9\n"
	"A1e5KaczzXUr78Ghj4uVrdMHSZn3Y91l+59REd+7pZ2jt9kJR5PtVctP4YEv67WNc2dpeZfD/UWb\n"
	"/3HxfxvFfUMX+enn8w01aw==\n"
	"------=_Part_1_2023.1700000000000--\n"
	"\n"
	"epilogue text\n";

static const char msg_no_blank_line_part[] =
	"Content-Type: multipart/mixed; boundary=\"n\"\r\n"
	"\r\n"
	"--n\r\n"
	"This part starts without headers.\r\n"
	"second line\r\n"
	"--n\r\n"
	"Content-Type: text/html\r\n"
	"--n--\r\n";

static const char msg_dispositions[] =
	"Content-Type: multipart/mixed; boundary=\"p\"\r\n"
	"\r\n"
	"--p\r\n"
	"Content-Type: image/jpeg; name=\"photo.jpg\"\r\n"
	"Content-Disposition: INLINE; filename=\"photo.jpg\"\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"jpg\r\n"
	"--p\r\n"
	"Content-Type: application/x-thing\r\n"
	"Content-Disposition: x-unknown-type\r\n"
	"\r\n"
	"thing\r\n"
	"--p\r\n"
	"Content-Type: TEXT/Plain ; (comment) charset = \"UTF-8\" ; format=flowed\r\n"
	"Content-Disposition: (c) attachment\r\n"
	"\r\n"
	"t\r\n"
	"--p\r\n"
	"Content-Type: garbage\r\n"
	"\r\n"
	"g\r\n"
	"--p--\r\n";


typedef struct want_part {
	const char *type;
	const char *charset;
	const char *encoding;
	const char *disposition;
	const char *filename;
	unsigned depth;
	int attachment;
	int container;
	unsigned long long size;
	const char *sha256;
	const char *text;	/* kept text; NULL when none is kept */
} want_part;

typedef struct mime_case {
	const char *name;
	const char *msg;
	size_t len;
	int truncated;
	size_t nparts;
	want_part parts[6];
} mime_case;

#define MSG(x) #x, msg_##x, sizeof(msg_##x) - 1

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TEXT_MAX 4096

static const size_t chunk_sizes[] = {0, 1, 7, 64, 65536};	/* 0: whole body */

/* walk - feed a whole message: headers one by one, body in chunks */
static pn_mime *walk(const char *msg, size_t len, size_t chunk, const pn_mime_limits *lim)
{
	pn_mime *m = pn_mime_new(lim);
	size_t off = pn_mime_feed_headers(m, msg, len), i, n;

	if (chunk == 0)
		chunk = len - off;
	for (i = off; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		pn_mime_body(m, msg + i, n);
	}
	pn_mime_finish(m);
	return m;
}

/* part_diff - NULL if the part is as wanted, else what differs */
static char *part_diff(const pn_mime_part *p, const want_part *w)
{
	if (!t_str_eq(p->content_type, w->type))
		return pn_asprintf("type got %s, want %s", t_show(p->content_type), t_show(w->type));
	if (!t_str_eq(p->charset, w->charset))
		return pn_asprintf("charset got %s, want %s", t_show(p->charset), t_show(w->charset));
	if (!t_str_eq(p->encoding, w->encoding))
		return pn_asprintf("encoding got %s, want %s", t_show(p->encoding), t_show(w->encoding));
	if (!t_str_eq(p->disposition, w->disposition))
		return pn_asprintf("disposition got %s, want %s", t_show(p->disposition),
				   t_show(w->disposition));
	if (!t_str_eq(p->filename, w->filename))
		return pn_asprintf("filename got %s, want %s", t_show(p->filename), t_show(w->filename));
	if (p->depth != w->depth)
		return pn_asprintf("depth got %u, want %u", p->depth, w->depth);
	if (p->is_attachment != w->attachment)
		return pn_asprintf("is_attachment got %d, want %d", p->is_attachment, w->attachment);
	if (p->is_container != w->container)
		return pn_asprintf("is_container got %d, want %d", p->is_container, w->container);
	if (p->size != w->size)
		return pn_asprintf("size got %llu, want %llu", p->size, w->size);
	if (strcmp(p->sha256, w->sha256) != 0)
		return pn_asprintf("sha256 got %s, want %s", p->sha256, w->sha256);
	if (!t_str_eq(p->text, w->text))
		return pn_asprintf("text got \"%s\", want \"%s\"", t_show(p->text), t_show(w->text));
	if (p->text && (p->text_len != strlen(p->text) || !pn_utf8_valid(p->text, p->text_len)))
		return pn_asprintf("text_len got %zu for %zu valid bytes", p->text_len,
				   strlen(p->text));
	if (p->filename && !pn_utf8_valid(p->filename, strlen(p->filename)))
		return pn_asprintf("filename is not valid UTF-8");
	return NULL;
}

/* check_case - walk one message at every chunk size and compare */
static void check_case(const mime_case *c)
{
	pn_mime_limits lim = {0};
	size_t k, i;

	lim.keep_text_max = TEXT_MAX;
	for (k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
		pn_mime *m = walk(c->msg, c->len, chunk_sizes[k], &lim);
		char *diff = NULL;

		if (pn_mime_part_count(m) != c->nparts)
			diff = pn_asprintf("part count got %zu, want %zu", pn_mime_part_count(m),
					   c->nparts);
		else if (pn_mime_truncated(m) != c->truncated)
			diff = pn_asprintf("truncated got %d, want %d", pn_mime_truncated(m),
					   c->truncated);
		for (i = 0; diff == NULL && i < c->nparts; i++) {
			char *d = part_diff(pn_mime_part_get(m, i), &c->parts[i]);

			if (d) {
				diff = pn_asprintf("part %zu: %s", i, d);
				pn_free(d);
			}
		}
		if (diff == NULL && pn_mime_part_get(m, c->nparts) != NULL)
			diff = pn_asprintf("part_get past the end got a part, want NULL");
		pn_mime_free(m);
		if (diff) {
			print_error("%s, chunks of %zu: %s\n", c->name, chunk_sizes[k], diff);
			pn_free(diff);
			fail();
		}
	}
}

static const mime_case case_mixed_base64 = {
	MSG(mixed_base64), 0, 2, {
	{"text/plain", "utf-8", "7bit", NULL, NULL, 1, 0, 0, 36,
	 "6f67f69ec97d7d7ae16b06af91014a7970b83410d3e0d5f93ad3e70922ff17b4",
	 "Hello Bob,\r\n\r\nsee the attached data."},
	/* sha256sum of the original 700-byte file */
	{"application/octet-stream", NULL, "base64", "attachment", "data.bin", 1, 1, 0, 700,
	 "9aac1190fb225078498137a599488216989797d22a1886f220d1eedb6f65787b", NULL},
}};

static const mime_case case_nested_alternative = {
	MSG(nested_alternative), 0, 3, {
	{"text/plain", "iso-8859-1", "quoted-printable", NULL, NULL, 2, 0, 0, 82,
	 "559667b0db5a49fd6cfca982af364160572acee5ed254ad2498cf6340498357d",
	 "Caf\xc3\xa9 cr\xc3\xa8me is on the menu, and this line is long enough to need a "
	 "soft line break."},
	{"text/html", "utf-8", "base64", NULL, NULL, 2, 0, 0, 19,
	 "b7d259ab25e16c1dbcd131b8882055d19f7a7ebac7607f7c06d07af0937cdd1a",
	 "<p>Caf\xc3\xa9 cr\xc3\xa8me</p>"},
	{"image/png", NULL, "base64", "inline", NULL, 1, 0, 0, 8,
	 "4c4b6a3be1314ab86138bef4314dde022e600960d8689a2c8f8631802d20dab6", NULL},
}};

static const mime_case case_rfc2231_filename = {
	MSG(rfc2231_filename), 0, 2, {
	/* sections out of order, charset only in section 0 */
	{"application/pdf", NULL, "base64", "attachment", "\xe2\x82\xac rates for 2024.pdf", 1, 1,
	 0, 9, "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4", NULL},
	/* filename* beats filename, which beats name */
	{"text/plain", NULL, "7bit", "attachment", "caf\xc3\xa9.txt", 1, 1, 0, 1,
	 "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", "x"},
}};

static const mime_case case_rfc2047_filename = {
	MSG(rfc2047_filename), 0, 3, {
	{"application/pdf", NULL, "base64", NULL, "\xc3\xa9t\xc3\xa9 2024.pdf", 1, 1, 0, 9,
	 "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4", NULL},
	{"application/msword", NULL, "7bit", "attachment", "r\xc3\xa9sum\xc3\xa9 final.doc", 1, 1,
	 0, 3, "139d544b821b13ebea14f1b0fe18577222e415c2966e3a3511c4196055232202", NULL},
	/* a raw Latin-1 byte in a filename becomes U+FFFD */
	{"text/plain", NULL, "7bit", NULL, "raw\xef\xbf\xbdname.txt", 1, 1, 0, 3,
	 "d7439bee24773bcbfa2d0a97947ee36227b10d1022b1a55847e928965bb6bfde", "raw"},
}};

static const mime_case case_message_rfc822 = {
	MSG(message_rfc822), 0, 4, {
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 24,
	 "93ff90ac3e659b410585b1e13860645e02a6d89cb31ad8300da1d95470069fb9",
	 "Forwarded message below."},
	/* the embedded message as sent, from its first header line */
	{"message/rfc822", NULL, "7bit", "attachment", "fwd.eml", 1, 1, 1, 293,
	 "9ad90f92c8c173fecba1eadab4c5ed62de099d5f0e19facdd2e8c8b1bb01e823", NULL},
	{"text/plain", "us-ascii", "7bit", NULL, NULL, 3, 0, 0, 10,
	 "9fdc8bc44d1c9edd975e8e80fd451d16e3882a7678638b83f3198510f965c412", "inner text"},
	{"application/zip", NULL, "base64", NULL, "a.zip", 3, 1, 0, 22,
	 "8739c76e681f900923b900c9df0ef75cf421d39cabb54650c4b9ad19b6a76d85", NULL},
}};

static const mime_case case_qp_text = {
	MSG(qp_text), 0, 1, {
	/* trailing whitespace deleted, "= \t" is a soft break (RFC 2045),
	 * broken escapes kept, a final "=" dropped */
	{"text/plain", "utf-8", "quoted-printable", NULL, NULL, 0, 0, 0, 103,
	 "faa80e9737eb2366a92447ca7c9744f228c6365b3b71fa3199dd7e12a80ea4d4",
	 "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, 1+1=2.\r\nsoftbreak and soft with spaceend, "
	 "bad =ZZ and =4 kept, tab\tinside\r\nlast line"},
}};

static const mime_case case_missing_final_boundary = {
	MSG(missing_final_boundary), 0, 2, {
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 5,
	 "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e", "first"},
	/* no boundary follows, so the last line break is content */
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 22,
	 "a563831e7706cc7ee7ef357c4eca81e847b9236f4c80265ac7bb1e2e4ffd7ba0",
	 "second, never closed\r\n"},
}};

static const mime_case case_boundary_whitespace = {
	MSG(boundary_whitespace), 0, 2, {
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 10,
	 "54850178cf1dd9b011ed3cd427f7f1bb42b6668765aa5c5a1ab84d90e5fd58e3", "one\r\n--ws-"},
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 15,
	 "ef73fbcd437d4759e250f5bd28aea8797842c7b006bea0a812d46b0061076d33", "two, no headers"},
}};

static const mime_case case_single_part = {
	MSG(single_part), 0, 1, {
	{"text/plain", NULL, "7bit", NULL, NULL, 0, 0, 0, 22,
	 "23672f3cab4e8b9516f4cd70ca7bc3f66df754a130374ea7db303b55f1bd50ee",
	 "Just text.\r\n-- \r\nsig\r\n"},
}};

static const mime_case case_digest = {
	MSG(digest), 0, 3, {
	{"message/rfc822", NULL, "7bit", NULL, NULL, 1, 0, 1, 24,
	 "0bb81185a87dfd8efc1df48af09ccf6ab2e582b3f517a90809485b71d237c024", NULL},
	{"text/plain", NULL, "7bit", NULL, NULL, 2, 0, 0, 8,
	 "0e260cb8cd2cc3399320fc70aaddf9b87aa58ef03e9d8f6ebcc2b563f1eb6672", "body one"},
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 13,
	 "e27fa5ac74adfe3d530c9d23cfbe6a520230b19ab3da5c2a3de42969f81a96ac", "not a message"},
}};

static const mime_case case_base64_rfc822_is_leaf = {
	MSG(base64_rfc822_is_leaf), 0, 1, {
	{"message/rfc822", NULL, "base64", NULL, NULL, 1, 0, 0, 20,
	 "94aa02c65e3473d1c7d53430c4fd2b49d6b8cbc875139d1b4b248e6a8243bf38", NULL},
}};

static const mime_case case_lf_only = {
	MSG(lf_only), 0, 2, {
	{"text/plain", "utf-8", "7bit", NULL, NULL, 1, 0, 0, 34,
	 "6b24917f03737b9d1ee7d267b478d0c811ede39a47ff15bfa2af430dcfd52091",
	 "Hello Bob,\n\nsee the attached data."},
	{"application/octet-stream", NULL, "base64", "attachment", "data.bin", 1, 1, 0, 700,
	 "9aac1190fb225078498137a599488216989797d22a1886f220d1eedb6f65787b", NULL},
}};

static const mime_case case_no_blank_line_part = {
	MSG(no_blank_line_part), 0, 2, {
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 46,
	 "f957ebb9c58a715823aafc076a626d1d9d65cf696d8a70f12fdc47daaa858572",
	 "This part starts without headers.\r\nsecond line"},
	/* headers ended by the boundary itself: an empty part */
	{"text/html", NULL, "7bit", NULL, NULL, 1, 0, 0, 0, SHA_EMPTY, ""},
}};

static const mime_case case_dispositions = {
	MSG(dispositions), 0, 4, {
	/* the first Content-Type wins */
	{"image/jpeg", NULL, "7bit", "inline", "photo.jpg", 1, 1, 0, 3,
	 "f8146b6cb4961f87a1519047b8c83402754ed108ade55457d43166e564b7b4fe", NULL},
	/* unknown disposition types read as attachment (RFC 2183) */
	{"application/x-thing", NULL, "7bit", "attachment", NULL, 1, 1, 0, 5,
	 "5de94d691ae3039a3f5d362fea9a35964fe0cc4ae44a6a84266d3614755c69b2", NULL},
	/* comments and spaces in structured values */
	{"text/plain", "utf-8", "7bit", "attachment", NULL, 1, 1, 0, 1,
	 "e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8", "t"},
	/* a malformed Content-Type means text/plain */
	{"text/plain", NULL, "7bit", NULL, NULL, 1, 0, 0, 1,
	 "cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29", "g"},
}};

static void multipart_mixed_base64_attachment(void **state)
{
	(void)state;
	check_case(&case_mixed_base64);
}

static void nested_multipart_alternative(void **state)
{
	(void)state;
	check_case(&case_nested_alternative);
}

static void rfc2231_continuation_filename(void **state)
{
	(void)state;
	check_case(&case_rfc2231_filename);
}

static void rfc2047_filename(void **state)
{
	(void)state;
	check_case(&case_rfc2047_filename);
}

static void message_rfc822_attachment(void **state)
{
	(void)state;
	check_case(&case_message_rfc822);
}

static void quoted_printable_text(void **state)
{
	(void)state;
	check_case(&case_qp_text);
}

static void missing_final_boundary(void **state)
{
	(void)state;
	check_case(&case_missing_final_boundary);
}

static void boundary_whitespace_preamble_epilogue(void **state)
{
	(void)state;
	check_case(&case_boundary_whitespace);
}

static void single_part_message(void **state)
{
	(void)state;
	check_case(&case_single_part);
}

static void digest_defaults_to_message(void **state)
{
	(void)state;
	check_case(&case_digest);
}

static void base64_message_rfc822_is_leaf(void **state)
{
	(void)state;
	check_case(&case_base64_rfc822_is_leaf);
}

static void lf_line_endings(void **state)
{
	(void)state;
	check_case(&case_lf_only);
}

static void part_without_blank_line(void **state)
{
	(void)state;
	check_case(&case_no_blank_line_part);
}

static void dispositions_and_structured_values(void **state)
{
	(void)state;
	check_case(&case_dispositions);
}

/* same_walk - NULL if two walks listed the same parts */
static char *same_walk(const pn_mime *a, const pn_mime *b)
{
	size_t i;

	if (pn_mime_part_count(a) != pn_mime_part_count(b))
		return pn_asprintf("part count got %zu, want %zu", pn_mime_part_count(b),
				   pn_mime_part_count(a));
	if (pn_mime_truncated(a) != pn_mime_truncated(b))
		return pn_asprintf("truncated got %d, want %d", pn_mime_truncated(b),
				   pn_mime_truncated(a));
	for (i = 0; i < pn_mime_part_count(a); i++) {
		const pn_mime_part *p = pn_mime_part_get(a, i), *q = pn_mime_part_get(b, i);

		if (strcmp(p->sha256, q->sha256) != 0 || p->size != q->size ||
		    p->raw_size != q->raw_size || p->depth != q->depth || !t_str_eq(p->content_type, q->content_type) ||
		    !t_str_eq(p->filename, q->filename) || !t_str_eq(p->text, q->text))
			return pn_asprintf("part %zu: got %s %llu %s, want %s %llu %s", i,
					   q->content_type, q->size, q->sha256, p->content_type,
					   p->size, p->sha256);
	}
	return NULL;
}

static void chunk_split_gives_identical_results(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
	} msgs[] = {
		{msg_mixed_base64, sizeof(msg_mixed_base64) - 1},
		{msg_nested_alternative, sizeof(msg_nested_alternative) - 1},
		{msg_message_rfc822, sizeof(msg_message_rfc822) - 1},
		{msg_qp_text, sizeof(msg_qp_text) - 1},
		{msg_boundary_whitespace, sizeof(msg_boundary_whitespace) - 1},
		{msg_lf_only, sizeof(msg_lf_only) - 1},
	};
	static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 64, 100, 1000};
	pn_mime_limits lim = {0};
	size_t i, k;
	(void)state;
	lim.keep_text_max = 10;
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		pn_mime *whole = walk(msgs[i].msg, msgs[i].len, 0, &lim);

		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			pn_mime *m = walk(msgs[i].msg, msgs[i].len, sizes[k], &lim);
			char *diff = same_walk(whole, m);

			pn_mime_free(m);
			if (diff) {
				print_error("message %zu, chunks of %zu: %s\n", i, sizes[k], diff);
				pn_free(diff);
				fail();
			}
		}
		pn_mime_free(whole);
	}
}

/* b64 - base64 of data by OpenSSL, in 76-column CRLF lines */
static void b64(pn_buf *out, const unsigned char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 57) {
		unsigned char line[80];
		size_t n = len - i < 57 ? len - i : 57;
		int k = EVP_EncodeBlock(line, data + i, (int)n);

		pn_buf_append(out, line, (size_t)k);
		pn_buf_puts(out, "\r\n");
	}
}

#define BIG_HEADERS "Content-Type: multipart/mixed; boundary=\"big-boundary\"\r\n\r\n"

static void large_attachment_across_64k_chunks(void **state)
{
	const size_t size = 300000;
	static const size_t sizes[] = {65536, 65535, 4096, 1};
	unsigned char *data = pn_malloc(size), md[PN_SHA256_LEN];
	char want[PN_SHA256_HEX_LEN + 1];
	uint32_t x = 1;
	pn_buf msg;
	size_t i;
	(void)state;

	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	pn_sha256_once(data, size, md);
	pn_hex(md, sizeof(md), want);
	pn_buf_init(&msg, 0);
	pn_buf_puts(&msg, BIG_HEADERS "--big-boundary\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
			  "--big-boundary\r\nContent-Type: application/octet-stream\r\n"
			  "Content-Disposition: attachment; filename=big.bin\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n");
	b64(&msg, data, size);
	pn_buf_puts(&msg, "--big-boundary--\r\n");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pn_mime *m = walk(pn_buf_str(&msg), pn_buf_len(&msg), sizes[i], NULL);
		const pn_mime_part *p = pn_mime_part_get(m, 1);

		if (pn_mime_part_count(m) != 2 || p->size != size || strcmp(p->sha256, want) != 0) {
			print_error("chunks of %zu: got %zu parts, size %llu, sha %s; want 2, %zu, %s\n",
				    sizes[i], pn_mime_part_count(m), p ? p->size : 0,
				    p ? p->sha256 : "-", size, want);
			fail();
		}
		if (pn_mime_body_bytes(m) + strlen(BIG_HEADERS) != pn_buf_len(&msg)) {
			print_error("body bytes got %llu, want %zu\n", pn_mime_body_bytes(m),
				    pn_buf_len(&msg) - strlen(BIG_HEADERS));
			fail();
		}
		pn_mime_free(m);
	}
	pn_buf_free(&msg);
	pn_free(data);
}

static void headers_through_the_api(void **state)
{
	/* as a milter gets them: folded values, in any case, duplicates */
	static const char body[] = "--frontier\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n"
				   "--frontier--\r\n";
	pn_mime *m = pn_mime_new(NULL);
	const pn_mime_part *p;
	(void)state;
	pn_mime_header(m, "Subject", "hello");
	pn_mime_header(m, "CONTENT-TYPE", "multipart/alternative;\r\n\tboundary=\"frontier\"");
	pn_mime_header(m, "Content-Type", "text/plain");
	pn_mime_body(m, body, sizeof(body) - 1);
	pn_mime_header(m, "Content-Type", "image/gif");	/* too late: ignored */
	pn_mime_finish(m);
	pn_mime_body(m, "junk", 4);			/* after finish: ignored */
	p = pn_mime_part_get(m, 0);
	if (pn_mime_part_count(m) != 1 || strcmp(p->content_type, "text/html") != 0 ||
	    p->size != 8 || p->depth != 1) {
		print_error("got %zu parts, first %s size %llu depth %u; want 1, text/html 8 1\n",
			    pn_mime_part_count(m), p ? p->content_type : "-", p ? p->size : 0,
			    p ? p->depth : 0);
		fail();
	}
	pn_mime_free(m);
}

static void empty_and_headers_only(void **state)
{
	static const char *const msgs[] = {
		"",
		"Subject: no body",
		"Subject: no body\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--",
	};
	static const size_t want[] = {1, 1, 1, 0, 1, 0};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		pn_mime *m = pn_mime_parse_message(msgs[i], strlen(msgs[i]));
		const pn_mime_part *p = pn_mime_part_get(m, 0);

		if (pn_mime_part_count(m) != want[i] || (p && (p->size != 0 ||
		    strcmp(p->sha256, SHA_EMPTY) != 0))) {
			print_error("\"%s\": got %zu parts, want %zu empty\n", msgs[i],
				    pn_mime_part_count(m), want[i]);
			fail();
		}
		pn_mime_free(m);
	}
}

static void outer_boundary_closes_inner_and_reopens(void **state)
{
	/* the inner multipart never closes; a part hides after the close */
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
		"--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
		"--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
		"--alt\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
		"--mix\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n%PDF\r\n"
		"--mix--\r\nepilogue\r\n"
		"--mix\r\nContent-Type: application/x-msdownload; name=evil.exe\r\n\r\nMZ\r\n"
		"--mix--\r\n";
	static const struct {
		const char *type, *filename;
		unsigned depth;
		unsigned long long size;
	} want[] = {
		{"text/plain", NULL, 2, 5},
		{"text/html", NULL, 2, 11},
		{"application/pdf", "a.pdf", 1, 4},
		{"application/x-msdownload", "evil.exe", 1, 2},
	};
	size_t i, k;
	(void)state;
	for (k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
		pn_mime *m = walk(msg, sizeof(msg) - 1, chunk_sizes[k], NULL);

		if (pn_mime_part_count(m) != 4) {
			print_error("chunks of %zu: part count got %zu, want 4\n", chunk_sizes[k],
				    pn_mime_part_count(m));
			fail();
		}
		for (i = 0; i < 4; i++) {
			const pn_mime_part *p = pn_mime_part_get(m, i);

			if (strcmp(p->content_type, want[i].type) != 0 ||
			    !t_str_eq(p->filename, want[i].filename) || p->depth != want[i].depth ||
			    p->size != want[i].size) {
				print_error("chunks of %zu, part %zu: got %s %s depth %u size %llu, "
					    "want %s %s depth %u size %llu\n", chunk_sizes[k], i,
					    p->content_type, t_show(p->filename), p->depth, p->size,
					    want[i].type, t_show(want[i].filename), want[i].depth,
					    want[i].size);
				fail();
			}
		}
		pn_mime_free(m);
	}
}

static void feed_headers_skips_junk_and_folds(void **state)
{
	static const char msg[] =
		"From sender@example.org Mon Jan  1 00:00:00 2024\n"
		"Subject: folded\n"
		"Content-Type: text/html;\n"
		"\tcharset=\"koi8-r\"\n"
		"Content-Disposition: attachment;\n"
		" filename=\"page.html\"\n"
		"\n"
		"\xf0\n";
	pn_mime *m = pn_mime_new(NULL);
	size_t off = pn_mime_feed_headers(m, msg, sizeof(msg) - 1);
	const pn_mime_part *p;
	(void)state;
	if (off != sizeof(msg) - 3) {
		print_error("body offset got %zu, want %zu\n", off, sizeof(msg) - 3);
		fail();
	}
	pn_mime_body(m, msg + off, sizeof(msg) - 1 - off);
	pn_mime_finish(m);
	p = pn_mime_part_get(m, 0);
	if (p == NULL || strcmp(p->content_type, "text/html") != 0 || !t_str_eq(p->charset, "koi8-r") ||
	    !t_str_eq(p->filename, "page.html") || p->size != 2) {
		print_error("got %s charset %s filename %s size %llu; "
			    "want text/html koi8-r page.html 2\n", p ? p->content_type : "-",
			    p ? t_show(p->charset) : "-", p ? t_show(p->filename) : "-", p ? p->size : 0);
		fail();
	}
	pn_mime_free(m);
}

/* nested - a message with n multiparts inside each other */
static void nested(pn_buf *b, unsigned n)
{
	unsigned i;

	pn_buf_puts(b, "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
	for (i = 1; i < n; i++)
		pn_buf_printf(b, "--b%u\r\nContent-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n",
			      i - 1, i);
	pn_buf_printf(b, "--b%u\r\nContent-Type: text/plain\r\n\r\ndeep\r\n", n - 1);
	for (i = n; i-- > 0;)
		pn_buf_printf(b, "--b%u--\r\n", i);
}

static void depth_limit(void **state)
{
	static const struct {
		unsigned nest, max_depth;
		int truncated;
		const char *type;
		unsigned depth;
	} t[] = {
		{3, 0, 0, "text/plain", 3},
		{20, 0, 0, "text/plain", 20},
		{21, 0, 1, "multipart/mixed", 20},	/* kept whole as one leaf */
		{60, 0, 1, "multipart/mixed", 20},
		{5, 2, 1, "multipart/mixed", 2},
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pn_mime_limits lim = {0};
		pn_buf b;
		pn_mime *m;
		const pn_mime_part *p;

		lim.max_depth = t[i].max_depth;
		pn_buf_init(&b, 0);
		nested(&b, t[i].nest);
		m = walk(pn_buf_str(&b), pn_buf_len(&b), 3, &lim);
		p = pn_mime_part_get(m, 0);
		if (pn_mime_part_count(m) != 1 || pn_mime_truncated(m) != t[i].truncated ||
		    strcmp(p->content_type, t[i].type) != 0 || p->depth != t[i].depth) {
			print_error("nest %u: got %zu parts, trunc %d, %s at %u; "
				    "want 1, %d, %s at %u\n", t[i].nest, pn_mime_part_count(m),
				    pn_mime_truncated(m), p ? p->content_type : "-",
				    p ? p->depth : 0, t[i].truncated, t[i].type, t[i].depth);
			fail();
		}
		pn_mime_free(m);
		pn_buf_free(&b);
	}
}

#define PARTS_HEADERS "Content-Type: multipart/mixed; boundary=p\r\n\r\n"

static void parts_limit(void **state)
{
	pn_mime_limits lim = {0};
	pn_buf b;
	pn_mime *m;
	unsigned i;
	(void)state;
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, PARTS_HEADERS);
	for (i = 0; i < 50; i++)
		pn_buf_printf(&b, "--p\r\nContent-Type: text/plain\r\n\r\npart %u\r\n", i);
	pn_buf_puts(&b, "--p--\r\n");
	lim.max_parts = 3;
	m = walk(pn_buf_str(&b), pn_buf_len(&b), 7, &lim);
	if (pn_mime_part_count(m) != 3 || !pn_mime_truncated(m) ||
	    pn_mime_part_get(m, 2)->size != 6 ||
	    pn_mime_body_bytes(m) + strlen(PARTS_HEADERS) != pn_buf_len(&b)) {
		print_error("got %zu parts, truncated %d, last size %llu; want 3, 1, 6\n",
			    pn_mime_part_count(m), pn_mime_truncated(m),
			    pn_mime_part_count(m) ? pn_mime_part_get(m, 2)->size : 0);
		fail();
	}
	pn_mime_free(m);
	/* the default limit holds too */
	pn_buf_reset(&b);
	pn_buf_puts(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (i = 0; i < PN_MIME_MAX_PARTS + 10; i++)
		pn_buf_puts(&b, "--p\r\n\r\nx\r\n");
	m = walk(pn_buf_str(&b), pn_buf_len(&b), 0, NULL);
	if (pn_mime_part_count(m) != PN_MIME_MAX_PARTS || !pn_mime_truncated(m)) {
		print_error("got %zu parts, truncated %d; want %d, 1\n", pn_mime_part_count(m),
			    pn_mime_truncated(m), PN_MIME_MAX_PARTS);
		fail();
	}
	pn_mime_free(m);
	pn_buf_free(&b);
}

static void header_bytes_limit(void **state)
{
	pn_mime_limits lim = {0};
	pn_buf b;
	pn_mime *m;
	const pn_mime_part *p;
	unsigned i;
	(void)state;
	pn_buf_init(&b, 0);
	pn_buf_puts(&b, "Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\n");
	for (i = 0; i < 20; i++)
		pn_buf_puts(&b, "X-Padding: 0123456789012345678901234567890123456789\r\n");
	pn_buf_puts(&b, "Content-Type: text/html\r\n\r\nbody\r\n--h\r\n"
			"Content-Type: text/html\r\n\r\nok\r\n--h--\r\n");
	lim.max_header_bytes = 200;
	m = walk(pn_buf_str(&b), pn_buf_len(&b), 5, &lim);
	p = pn_mime_part_get(m, 0);
	if (pn_mime_part_count(m) != 2 || !pn_mime_truncated(m) ||
	    strcmp(p->content_type, "text/plain") != 0 || p->size != 4 ||
	    strcmp(pn_mime_part_get(m, 1)->content_type, "text/html") != 0) {
		print_error("got %zu parts, truncated %d, first %s size %llu; "
			    "want 2, 1, text/plain 4\n", pn_mime_part_count(m),
			    pn_mime_truncated(m), p ? p->content_type : "-", p ? p->size : 0);
		fail();
	}
	pn_mime_free(m);
	pn_buf_free(&b);
}

static void keeps_text_in_utf8_within_limits(void **state)
{
	/* koi8-r text in base64, Latin-1 in QP, an unknown charset, HTML */
	static const char msg[] =
		"Content-Type: multipart/alternative; boundary=t\r\n\r\n"
		"--t\r\nContent-Type: text/plain; charset=koi8-r\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n8NLJ18XU\r\n"
		"--t\r\nContent-Type: text/plain; charset=\"ISO-8859-1\"\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9 =E0 Paris\r\n"
		"--t\r\nContent-Type: text/plain; charset=x-martian\r\n\r\nok \xff\r\n"
		"--t\r\nContent-Type: text/html\r\n\r\n<i>abcdefghij</i>\r\n"
		"--t\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n"
		"--t--\r\n";
	static const struct {
		size_t max, total;
		const char *text[5];
		int cut[5];
	} t[] = {
		{100, 0, {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
			  "\xc3\xa9t\xc3\xa9 \xc3\xa0 Paris", "ok \xef\xbf\xbd",
			  "<i>abcdefghij</i>", NULL}, {0, 0, 0, 0, 0}},
		/* 5 bytes: never half a character */
		{5, 0, {"\xd0\x9f\xd1\x80", "\xc3\xa9t\xc3\xa9", "ok ", "<i>ab", NULL},
		 {1, 1, 1, 1, 0}},
		/* a small budget for the whole message */
		{100, 14, {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
			   "\xc3\xa9t\xc3\xa9 \xc3\xa0 Pa", "", "", NULL}, {0, 1, 1, 1, 0}},
		{0, 0, {NULL, NULL, NULL, NULL, NULL}, {0, 0, 0, 0, 0}},
	};
	size_t i, k;
	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pn_mime_limits lim = {0};
		pn_mime *m;

		lim.keep_text_max = t[i].max;
		lim.keep_text_total = t[i].total;
		m = walk(msg, sizeof(msg) - 1, 1, &lim);
		for (k = 0; k < 5; k++) {
			const pn_mime_part *p = pn_mime_part_get(m, k);

			if (p == NULL || !t_str_eq(p->text, t[i].text[k]) ||
			    p->text_truncated != t[i].cut[k]) {
				print_error("limit %zu/%zu part %zu: got \"%s\" cut %d, "
					    "want \"%s\" cut %d\n", t[i].max, t[i].total, k,
					    p ? t_show(p->text) : "no part", p ? p->text_truncated : -1,
					    t_show(t[i].text[k]), t[i].cut[k]);
				fail();
			}
		}
		pn_mime_free(m);
	}
}

static void random_messages_are_safe(void **state)
{
	static const char *const pieces[] = {
		"--a\r\n", "--a--\r\n", "--b\r\n", "--b--\r\n", "\r\n", "\n", "\r",
		"Content-Type: multipart/mixed; boundary=a\r\n",
		"Content-Type: multipart/alternative; boundary=\"b\"\r\n",
		"Content-Type: message/rfc822\r\n", "Content-Type: text/plain; charset=koi8-r\r\n",
		"Content-Transfer-Encoding: base64\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n",
		"Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC\r\n",
		"Content-Disposition: inline; filename=\"=?utf-8?q?=C3?=\"\r\n",
		"QUJDRA==", "=E9=\r\n", "= \r\n", "text ", "\xff\xfe", "-", "--", "(((",
	};
	static uint32_t x = 99;
	pn_mime_limits lim = {0};
	size_t iter, k;
	(void)state;
	lim.keep_text_max = 16;
	lim.max_depth = 6;
	lim.max_parts = 40;
	for (iter = 0; iter < 400; iter++) {
		pn_buf b;
		pn_mime *whole, *split;
		char *diff;
		size_t n;

		pn_buf_init(&b, 0);
		x = x * 1103515245u + 12345u;
		n = (x >> 16) % 60;
		for (k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			pn_buf_puts(&b, pieces[(x >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		whole = walk(pn_buf_str(&b), pn_buf_len(&b), 0, &lim);
		split = walk(pn_buf_str(&b), pn_buf_len(&b), 1 + iter % 5, &lim);
		diff = same_walk(whole, split);
		for (k = 0; diff == NULL && k < pn_mime_part_count(whole); k++) {
			const pn_mime_part *p = pn_mime_part_get(whole, k);

			if (p->filename && !pn_utf8_valid(p->filename, strlen(p->filename)))
				diff = pn_asprintf("part %zu: filename is not UTF-8", k);
			else if (p->text && !pn_utf8_valid(p->text, p->text_len))
				diff = pn_asprintf("part %zu: text is not UTF-8", k);
			else if (p->text_len > 16)
				diff = pn_asprintf("part %zu: text_len got %zu, want <= 16", k,
						   p->text_len);
		}
		pn_mime_free(whole);
		pn_mime_free(split);
		if (diff) {
			print_error("iteration %zu: %s\n", iter, diff);
			pn_free(diff);
			fail();
		}
		pn_buf_free(&b);
	}
}

/* keep_headers: multiparts listed before their children, part headers
 * kept, and the same filenames and parts as without it */
static void keep_headers_lists_containers_in_document_order(void **state)
{
	static const struct {
		const char *type;
		unsigned depth;
		int multipart, container;
		const char *header_start;
	} want[] = {
		{"multipart/mixed", 0, 1, 0, NULL},
		{"text/plain", 1, 0, 0, "Content-Type: text/plain\n"},
		{"message/rfc822", 1, 0, 1, "Content-Type: message/rfc822\nContent-Disposition"},
		{"multipart/mixed", 2, 1, 0, "From: carol@example.org\nSubject: inner\n"},
		{"text/plain", 3, 0, 0, "Content-Type: text/plain; charset=us-ascii\n"},
		{"application/zip", 3, 0, 0, "Content-Type: application/zip; name=\"a.zip\"\n"},
	};
	pn_mime_limits lim;
	pn_mime *plain, *m;
	size_t i, j = 0, off;

	(void)state;
	memset(&lim, 0, sizeof(lim));
	lim.keep_headers = 1;
	m = pn_mime_new(&lim);
	off = pn_mime_feed_headers(m, msg_message_rfc822, strlen(msg_message_rfc822));
	pn_mime_body(m, msg_message_rfc822 + off, strlen(msg_message_rfc822) - off);
	pn_mime_finish(m);
	plain = pn_mime_parse_message(msg_message_rfc822, strlen(msg_message_rfc822));
	assert_int_equal(pn_mime_part_count(m), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < pn_mime_part_count(m); i++) {
		const pn_mime_part *p = pn_mime_part_get(m, i);

		assert_string_equal(p->content_type, want[i].type);
		assert_int_equal(p->depth, want[i].depth);
		assert_int_equal(p->is_multipart, want[i].multipart);
		assert_int_equal(p->is_container, want[i].container);
		if (want[i].header_start == NULL) {
			assert_null(p->header);	/* the top level came through the API */
		} else {
			assert_non_null(p->header);
			assert_int_equal(strncmp(p->header, want[i].header_start,
						 strlen(want[i].header_start)), 0);
			assert_int_equal(strlen(p->header), p->header_len);
		}
		if (p->is_multipart)
			continue;
		/* every other part is the one the plain walk lists, unchanged */
		{
			const pn_mime_part *q = pn_mime_part_get(plain, j++);

			assert_string_equal(p->content_type, q->content_type);
			assert_string_equal(p->sha256, q->sha256);
			assert_int_equal(p->size, q->size);
			if (q->filename)
				assert_string_equal(p->filename, q->filename);
		}
	}
	assert_int_equal(j, pn_mime_part_count(plain));
	pn_mime_free(m);
	pn_mime_free(plain);
}

/* the value helpers decode as the walk decodes filenames */
static void value_type_and_param(void **state)
{
	static const struct {
		const char *value, *param, *want;
	} cases[] = {
		{"attachment; filename=\"a.pdf\"", "filename", "a.pdf"},
		{"attachment; FileName=a.pdf", "FILENAME", "a.pdf"},
		{"attachment; filename*0=\"tool.\"; filename*1=\"exe\"", "filename", "tool.exe"},
		{"attachment; filename*=iso-8859-1''caf%E9.txt", "filename", "caf\xc3\xa9.txt"},
		{"application/octet-stream; name=\"=?utf-8?q?x=2Eexe?=\"", "name", "x.exe"},
		{"text/plain; charset=us-ascii (comment); format=flowed", "format", "flowed"},
		{"text/plain", "name", NULL},
		{"text/plain; name", "name", NULL},
	};
	size_t i;
	char *v;

	(void)state;
	char **all;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = pn_mime_value_params(cases[i].value, cases[i].param, &all);

		if (cases[i].want == NULL) {
			assert_int_equal(n, 0);
			assert_null(all);
			continue;
		}
		assert_int_equal(n, 1);
		assert_string_equal(all[0], cases[i].want);
		pn_free(all[0]);
		pn_free(all);
	}
	/* a repeated name: the walk's choice first, then the others, once each */
	assert_int_equal(pn_mime_value_params("attachment; FileName=\"notes.txt\"; "
					      "filename=\"setup.exe\"; filename=notes.txt; "
					      "filename*=utf-8''r%C3%A9sum%C3%A9.exe", "filename", &all), 3);
	assert_string_equal(all[0], "r\xc3\xa9sum\xc3\xa9.exe");
	assert_string_equal(all[1], "notes.txt");
	assert_string_equal(all[2], "setup.exe");
	for (i = 0; i < 3; i++)
		pn_free(all[i]);
	pn_free(all);
	v = pn_mime_value_type(" Text/HTML ; charset=utf-8", 1);
	assert_string_equal(v, "text/html");
	pn_free(v);
	assert_null(pn_mime_value_type("text", 1));
	v = pn_mime_value_type("Attachment; filename=x", 0);
	assert_string_equal(v, "attachment");
	pn_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(multipart_mixed_base64_attachment),
		cmocka_unit_test(nested_multipart_alternative),
		cmocka_unit_test(rfc2231_continuation_filename),
		cmocka_unit_test(rfc2047_filename),
		cmocka_unit_test(message_rfc822_attachment),
		cmocka_unit_test(quoted_printable_text),
		cmocka_unit_test(missing_final_boundary),
		cmocka_unit_test(boundary_whitespace_preamble_epilogue),
		cmocka_unit_test(single_part_message),
		cmocka_unit_test(digest_defaults_to_message),
		cmocka_unit_test(base64_message_rfc822_is_leaf),
		cmocka_unit_test(lf_line_endings),
		cmocka_unit_test(part_without_blank_line),
		cmocka_unit_test(dispositions_and_structured_values),
		cmocka_unit_test(chunk_split_gives_identical_results),
		cmocka_unit_test(large_attachment_across_64k_chunks),
		cmocka_unit_test(headers_through_the_api),
		cmocka_unit_test(empty_and_headers_only),
		cmocka_unit_test(outer_boundary_closes_inner_and_reopens),
		cmocka_unit_test(feed_headers_skips_junk_and_folds),
		cmocka_unit_test(depth_limit),
		cmocka_unit_test(parts_limit),
		cmocka_unit_test(header_bytes_limit),
		cmocka_unit_test(keeps_text_in_utf8_within_limits),
		cmocka_unit_test(random_messages_are_safe),
		cmocka_unit_test(keep_headers_lists_containers_in_document_order),
		cmocka_unit_test(value_type_and_param),
	};
	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
