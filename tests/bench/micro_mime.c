/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	micro_mime - micro-benchmark of libpostern's message parsing
 * SYNOPSIS
 *	micro_mime
 * DESCRIPTION
 *	Builds one realistic multipart message in memory (RFC 2047 encoded
 *	From, To and Subject; multipart/alternative text in ISO-8859-1
 *	quoted-printable and UTF-8 HTML; a 16 KB base64 attachment with an
 *	RFC 2231 filename; an embedded message/rfc822) and measures, in CPU
 *	time per message, what every daemon pays for each mail:
 *
 *	    libpostern.mime_walk  the streaming MIME walk (headers, body in
 *	                          65,535-byte chunks as Postfix sends it,
 *	                          digests, text kept and converted to UTF-8)
 *	                          plus RFC 2047 decoding of the three
 *	                          encoded headers
 *	    libpostern.rfc2047    one RFC 2047 encoded header decoded to
 *	                          UTF-8 (the mean of the three above)
 *	    libpostern.msg_load   pn_msg_load(): the message file read into
 *	                          a pn_msg, as the offline tools do
 *
 *	Output follows the contract of tests/bench/bench.py: one line
 *	"bench NAME VALUE UNIT" per figure; other lines start with "#".
 *	Each figure is the median of three measurements of about
 *	$POSTERN_BENCH_SECONDS CPU seconds each (default 1).
 * DIAGNOSTICS
 *	Exit status 1 when the walk does not find the parts the generated
 *	message has: the benchmark would then measure the wrong work.
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/mime.h"
#include "common/milter/msg.h"
#include "common/rfc2047.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_CHUNK 65535		/* Postfix's largest milter body chunk */
#define ATTACHMENT_BYTES (16 * 1024)
#define EXPECTED_PARTS 5
#define MAX_ITERATIONS 10000000UL

static const char *const encoded_headers[][2] = {
	{"From", "=?utf-8?B?QW5uYS1Mw6VyYSBTw7hyZW5zZW4=?= <anna@example.org>"},
	{"To", "=?iso-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.net>, bob@example.net"},
	{"Subject", "=?utf-8?Q?Quarterly_r=C3=A9sum=C3=A9?= =?utf-8?B?IOKAkyDDqXTDqSAyMDI2?="},
};
#define N_ENCODED (sizeof(encoded_headers) / sizeof(encoded_headers[0]))

static const char *msg_data;
static size_t msg_len;
static volatile unsigned long long sink;	/* keeps results alive */

/* put_base64 - append bytes as base64 in 76-column CRLF lines */
static void put_base64(pn_buf *b, const unsigned char *p, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, col = 0;

	for (i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		pn_buf_putc(b, tab[(v >> 18) & 63]);
		pn_buf_putc(b, tab[(v >> 12) & 63]);
		pn_buf_putc(b, n > 1 ? tab[(v >> 6) & 63] : '=');
		pn_buf_putc(b, n > 2 ? tab[v & 63] : '=');
		if ((col += 4) >= 76) {
			pn_buf_puts(b, "\r\n");
			col = 0;
		}
	}
	if (col)
		pn_buf_puts(b, "\r\n");
}

/* build_message - the generated multipart test message, CRLF line ends */
static char *build_message(size_t *len)
{
	unsigned char *bin = pn_malloc(ATTACHMENT_BYTES);
	unsigned long x = 12345;
	pn_buf b;
	size_t i;

	pn_buf_init(&b, 0);
	for (i = 0; i < N_ENCODED; i++)
		pn_buf_printf(&b, "%s: %s\r\n", encoded_headers[i][0], encoded_headers[i][1]);
	pn_buf_puts(&b, "Date: Thu, 26 Nov 2026 10:00:00 +0100\r\n"
		    "Message-ID: <bench.1@example.org>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed;\r\n\tboundary=\"=_outer_boundary\"\r\n"
		    "\r\n"
		    "This is a multi-part message in MIME format.\r\n"
		    "--=_outer_boundary\r\n"
		    "Content-Type: multipart/alternative; boundary=\"=_inner\"\r\n"
		    "\r\n"
		    "--=_inner\r\n"
		    "Content-Type: text/plain; charset=iso-8859-1\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n");
	for (i = 0; i < 40; i++)
		pn_buf_printf(&b, "Ligne %02zu: le r=E9sum=E9 trimestriel est pr=EAt, voir la pi=E8ce "
			      "jointe.=\r\n Suite de la ligne.\r\n", i);
	pn_buf_puts(&b, "--=_inner\r\n"
		    "Content-Type: text/html; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n"
		    "<html><body>\r\n");
	for (i = 0; i < 40; i++)
		pn_buf_printf(&b, "<p>Ligne %02zu&nbsp;: le r=C3=A9sum=C3=A9 trimestriel est "
			      "pr=C3=AAt.</p>\r\n", i);
	pn_buf_puts(&b, "</body></html>\r\n"
		    "--=_inner--\r\n"
		    "\r\n"
		    "--=_outer_boundary\r\n"
		    "Content-Type: application/pdf;\r\n"
		    "\tname=\"=?utf-8?Q?r=C3=A9sum=C3=A9_2026.pdf?=\"\r\n"
		    "Content-Disposition: attachment;\r\n"
		    "\tfilename*=utf-8''r%C3%A9sum%C3%A9%202026.pdf\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "\r\n");
	for (i = 0; i < ATTACHMENT_BYTES; i++) {
		x = x * 1103515245UL + 12345UL;
		bin[i] = (unsigned char)(x >> 16);
	}
	put_base64(&b, bin, ATTACHMENT_BYTES);
	pn_buf_puts(&b, "--=_outer_boundary\r\n"
		    "Content-Type: message/rfc822\r\n"
		    "\r\n"
		    "From: carol@example.com\r\n"
		    "Subject: =?iso-8859-1?Q?Pr=E9vision?=\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "\r\n"
		    "The forwarded message.\r\n"
		    "\r\n"
		    "--=_outer_boundary--\r\n");
	pn_free(bin);
	return pn_buf_steal(&b, len);
}

/* rfc2047_once - decode the three encoded headers */
static void rfc2047_once(void)
{
	for (size_t i = 0; i < N_ENCODED; i++) {
		const char *v = encoded_headers[i][1];
		char *d = pn_rfc2047_decode(v, strlen(v));

		sink += (unsigned char)d[0];
		pn_free(d);
	}
}

/* mime_walk_once - walk one message as a milter receives it, decode its headers */
static void mime_walk_once(void)
{
	pn_mime_limits lim = {.keep_text_max = 64 * 1024};
	pn_mime *m = pn_mime_new(&lim);
	size_t off = pn_mime_feed_headers(m, msg_data, msg_len), i;

	while (off < msg_len) {
		size_t n = msg_len - off < BODY_CHUNK ? msg_len - off : BODY_CHUNK;

		pn_mime_body(m, msg_data + off, n);
		off += n;
	}
	pn_mime_finish(m);
	for (i = 0; i < pn_mime_part_count(m); i++)
		sink += pn_mime_part_get(m, i)->size;
	pn_mime_free(m);
	rfc2047_once();
}

/* msg_load_once - load one message into a pn_msg and free it */
static void msg_load_once(void)
{
	pn_msg *m = pn_msg_load(msg_data, msg_len, 1024 * 1024, "/tmp");

	sink += m->nheaders;
	pn_msg_free(m);
}

/* cpu_now - process CPU time in seconds */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* measure - CPU microseconds per call of fn, over about `seconds` of CPU */
static double measure(void (*fn)(void), double seconds)
{
	unsigned long n = 0;
	double t0 = cpu_now(), t;

	do {
		for (int k = 0; k < 16; k++)
			fn();
		n += 16;
		t = cpu_now() - t0;
	} while (t < seconds && n < MAX_ITERATIONS);
	return t * 1e6 / (double)n;
}

/* cmp_double - qsort order for doubles */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* report - median of three measurements, divided by per_call, as a "bench" line */
static void report(const char *name, void (*fn)(void), double seconds, double per_call,
		   const char *unit)
{
	double r[3];

	fn();			/* warm caches and iconv */
	for (int i = 0; i < 3; i++)
		r[i] = measure(fn, seconds);
	qsort(r, 3, sizeof(r[0]), cmp_double);
	printf("bench %s %.2f %s\n", name, r[1] / per_call, unit);
	fflush(stdout);
}

int main(void)
{
	const char *env = getenv("POSTERN_BENCH_SECONDS");
	double seconds = env ? strtod(env, NULL) : 1.0;
	pn_mime *m;
	size_t parts;
	char *data;

	if (!(seconds >= 0.05))
		seconds = 0.05;
	if (seconds > 30)
		seconds = 30;
	data = build_message(&msg_len);
	msg_data = data;
	m = pn_mime_parse_message(msg_data, msg_len);
	parts = pn_mime_part_count(m);
	pn_mime_free(m);
	if (parts != EXPECTED_PARTS) {
		fprintf(stderr, "micro_mime: the walk found %zu parts, want %d\n", parts,
			EXPECTED_PARTS);
		return 1;
	}
	printf("# libpostern: generated message of %zu bytes, %zu MIME parts, "
	       "%zu encoded headers\n", msg_len, parts, N_ENCODED);
	report("libpostern.mime_walk", mime_walk_once, seconds, 1, "us/msg");
	report("libpostern.rfc2047", rfc2047_once, seconds, (double)N_ENCODED, "us/header");
	report("libpostern.msg_load", msg_load_once, seconds, 1, "us/msg");
	pn_free(data);
	return 0;
}
