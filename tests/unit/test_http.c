/* SPDX-License-Identifier: BSD-2-Clause */
/* test_http - the shared HTTP layer (common/http.c) over real sockets:
 * listen addresses, query and form arguments, body limit, header
 * injection, cookies, file responses, HTTPS with an openssl-made
 * certificate, and the metrics handler on top of it */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/metrics.h"
#include "tests/unit/testlib.h"

/* free_port - a loopback port nothing listens on now */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int connect_to(int port)
{
	struct sockaddr_in a;
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* exchange - send a raw request, read the whole response (caller frees) */
static char *exchange(int port, const char *request, size_t len)
{
	int fd = connect_to(port);
	char chunk[4096];
	pn_buf b;
	ssize_t n;

	assert_int_equal(write(fd, request, len), (ssize_t)len);
	pn_buf_init(&b, 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		pn_buf_append(&b, chunk, (size_t)n);
	close(fd);
	return pn_buf_steal(&b, NULL);
}

static char *request(int port, const char *text)
{
	return exchange(port, text, strlen(text));
}

/* body_of - the response body (after the blank line) */
static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

/* echo - tells what the layer made of the request */
static pn_http_response *echo(const pn_http_request *r, void *ctx)
{
	const char *vals[8];
	size_t n, i;
	pn_http_response *resp;
	pn_buf *b;
	const char *cookie, *file = ctx;

	if (strcmp(r->path, "/null") == 0)
		return NULL;
	if (strcmp(r->path, "/inject") == 0) {
		resp = pn_http_text(200, "injected?");
		pn_http_set_header(resp, "X-Evil", "a\r\nSet-Cookie: stolen=1");
		pn_http_set_header(resp, "X-Evil2", "b\nX-Split: 1");
		pn_http_set_header(resp, "X-Bad: name", "c");
		pn_http_set_header(resp, "X-Good", "fine");
		return resp;
	}
	if (strcmp(r->path, "/file") == 0) {
		int fd = open(file, O_RDONLY);
		resp = pn_http_response_new(200, "application/octet-stream");
		pn_http_set_file(resp, fd, 11);
		return resp;
	}
	resp = pn_http_response_new(200, "text/plain");
	b = pn_http_body(resp);
	pn_buf_printf(b, "method=%s path=%s https=%d remote=%s\n", r->method, r->path, r->https,
		      r->remote);
	n = pn_http_args(r, "name", vals, 8);
	for (i = 0; i < n; i++)
		pn_buf_printf(b, "name[%zu]=[%s]\n", i, vals[i]);
	pn_buf_printf(b, "q=[%s]\n", t_show(pn_http_arg(r, "q")));
	pn_buf_printf(b, "x=[%s]\n", t_show(pn_http_arg(r, "x")));
	pn_buf_printf(b, "empty=[%s]\n", t_show(pn_http_arg(r, "empty")));
	cookie = pn_http_cookie(r, "postern_session");
	pn_buf_printf(b, "cookie=[%s]\n", t_show(cookie));
	pn_buf_printf(b, "ua=[%s]\n", t_show(pn_http_header(r, "user-agent")));
	pn_buf_printf(b, "body=%zu\n", r->body_len);
	return resp;
}

typedef struct server {
	pn_http_server *s;
	int port;
} server;

static server start(const pn_http_opts *o, pn_http_handler h, void *ctx)
{
	server sv;
	char addr[32], *err = NULL;
	int fd;

	sv.port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", sv.port);
	fd = pn_http_listen(addr, &err);
	assert_true(fd >= 0);
	sv.s = pn_http_start(fd, o, h, ctx, &err);
	assert_non_null(sv.s);
	return sv;
}

static void listen_addresses(void **state)
{
	const char *bad[] = {"", ":80", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
			     "127.0.0.1:8x", "localhost:8080", "::1:8080", "[::1]", "[::1]8080",
			     "[]:8080", "[::1:8080", "example.com:80", "1.2.3.4.5:80", "abc",
			     "127.0.0.1:99999999999", NULL};
	char addr[64], *err = NULL;
	int fd, port;

	(void)state;
	for (const char **a = bad; *a; a++) {
		if (pn_http_address_ok(*a, &err) == 0)
			fail_msg("\"%s\" was found valid", *a);
		pn_free(err);
		err = NULL;
		fd = pn_http_listen(*a, &err);
		if (fd >= 0)
			fail_msg("\"%s\" was accepted", *a);
		assert_non_null(err);
		pn_free(err);
		err = NULL;
	}
	assert_int_equal(pn_http_listen(NULL, &err), -1);
	pn_free(err);
	assert_int_equal(pn_http_address_ok("127.0.0.1:9426", &err), 0);
	assert_int_equal(pn_http_address_ok("[::1]:9426", &err), 0);
	assert_int_equal(pn_http_address_ok("9426", &err), 0);
	/* a bare port means loopback */
	port = free_port();
	snprintf(addr, sizeof(addr), "%d", port);
	fd = pn_http_listen(addr, &err);
	assert_true(fd >= 0);
	close(connect_to(port));
	close(fd);
	/* IPv6 in brackets (when the machine has ::1) */
	snprintf(addr, sizeof(addr), "[::1]:%d", free_port());
	fd = pn_http_listen(addr, &err);
	if (fd >= 0)
		close(fd);
	else
		pn_free(err);
	/* a port taken: the error names the address */
	port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	fd = pn_http_listen(addr, &err);
	assert_true(fd >= 0);
	assert_int_equal(pn_http_listen(addr, &err), -1);
	assert_non_null(strstr(err, addr));
	pn_free(err);
	close(fd);
}

static void get_with_query_and_cookie(void **state)
{
	server sv = start(NULL, echo, NULL);
	char *resp;

	(void)state;
	resp = request(sv.port, "GET /search?q=a+b%20c&name=one&name=two%26&empty= HTTP/1.1\r\n"
			        "Host: x\r\nUser-Agent: t/1\r\n"
			        "Cookie: other=1; postern_session=s3cr3t\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_non_null(strstr(resp, "method=GET path=/search https=0 remote=127.0.0.1\n"));
	assert_non_null(strstr(resp, "q=[a b c]\n"));
	assert_non_null(strstr(resp, "name[0]=[one]\nname[1]=[two&]\n"));
	assert_non_null(strstr(resp, "empty=[]\n"));
	assert_non_null(strstr(resp, "x=[(null)]\n"));
	assert_non_null(strstr(resp, "cookie=[s3cr3t]\n"));
	assert_non_null(strstr(resp, "ua=[t/1]\n"));
	/* what every response carries */
	assert_non_null(strstr(resp, "Cache-Control: no-store\r\n"));
	assert_non_null(strstr(resp, "X-Content-Type-Options: nosniff\r\n"));
	pn_free(resp);
	pn_http_stop(sv.s);
}

static void urlencoded_post(void **state)
{
	const char *form = "name=a+b&name=%41%42%c3%a9&x=%zz%4&empty&name=&=v&&q=body";
	server sv = start(NULL, echo, NULL);
	char req[1024], *resp;

	(void)state;
	snprintf(req, sizeof(req), "POST /export?q=query&name=fromquery HTTP/1.1\r\nHost: x\r\n"
		 "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(form), form);
	resp = request(sv.port, req);
	assert_non_null(strstr(resp, "method=POST path=/export"));
	/* body values first, in order, then the query string's */
	assert_non_null(strstr(resp, "name[0]=[a b]\nname[1]=[AB\xc3\xa9]\nname[2]=[]\n"
				     "name[3]=[fromquery]\n"));
	assert_non_null(strstr(resp, "q=[body]\n"));
	/* a bad escape stays as it was */
	assert_non_null(strstr(resp, "x=[%zz%4]\n"));
	assert_non_null(strstr(resp, "empty=[]\n"));
	pn_free(resp);
	pn_http_stop(sv.s);
}

static void body_over_the_limit_is_413(void **state)
{
	pn_http_opts o = {.max_body = 16};
	server sv = start(&o, echo, NULL);
	char req[512], *resp;

	(void)state;
	snprintf(req, sizeof(req), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
		 "Content-Length: 17\r\nConnection: close\r\n\r\n12345678901234567");
	resp = request(sv.port, req);
	assert_non_null(strstr(resp, "HTTP/1.1 413"));
	assert_null(strstr(resp, "method="));	/* the handler never ran */
	pn_free(resp);
	snprintf(req, sizeof(req), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
		 "Content-Length: 16\r\nConnection: close\r\n\r\n1234567890123456");
	resp = request(sv.port, req);
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_non_null(strstr(resp, "body=16\n"));
	pn_free(resp);
	pn_http_stop(sv.s);
}

static void header_injection_refused(void **state)
{
	server sv = start(NULL, echo, NULL);
	char *resp;

	(void)state;
	resp = request(sv.port, "GET /inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_null(strstr(resp, "stolen"));
	assert_null(strstr(resp, "X-Split"));
	assert_null(strstr(resp, "X-Evil"));
	assert_null(strstr(resp, "X-Bad"));
	assert_non_null(strstr(resp, "X-Good: fine\r\n"));
	pn_free(resp);
	pn_http_stop(sv.s);
}

static void null_response_is_500_and_files_are_sent(void **state)
{
	const char *dir = t_tmpdir("test_http");
	char path[512], *resp;
	server sv;

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(t_write_file(path, "hello file\n", 11), 0);
	sv = start(NULL, echo, path);
	resp = request(sv.port, "GET /null HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 500"));
	pn_free(resp);
	resp = request(sv.port, "GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_string_equal(body_of(resp), "hello file\n");
	pn_free(resp);
	pn_http_stop(sv.s);
}

/* https_get - one GET over TLS; the response, caller frees */
static char *https_get(int port, const char *path)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	char req[256], chunk[4096];
	pn_buf b;
	int fd = connect_to(port), n;

	assert_non_null(ctx);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	pn_buf_init(&b, 0);
	while ((n = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
		pn_buf_append(&b, chunk, (size_t)n);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return pn_buf_steal(&b, NULL);
}

static void https_with_an_openssl_certificate(void **state)
{
	const char *dir = t_tmpdir("test_http_tls");
	char cmd[2048], cert[512], key[512], *resp;
	pn_http_opts o;
	server sv;

	(void)state;
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
		 "-days 1 -subj /CN=127.0.0.1 2>/dev/null", key, cert);
	assert_int_equal(system(cmd), 0);
	memset(&o, 0, sizeof(o));
	o.tls_cert_file = cert;
	o.tls_key_file = key;
	sv = start(&o, echo, NULL);
	resp = https_get(sv.port, "/secure?q=1");
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_non_null(strstr(resp, "path=/secure https=1"));
	assert_non_null(strstr(resp, "q=[1]\n"));
	pn_free(resp);
	/* plain HTTP on the HTTPS port gets no page */
	resp = request(sv.port, "GET /secure HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_null(strstr(resp, "path=/secure"));
	pn_free(resp);
	pn_http_stop(sv.s);
	/* a missing key file: an error naming it, no server */
	{
		char *err = NULL, addr[32];
		int fd;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
		fd = pn_http_listen(addr, &err);
		assert_true(fd >= 0);
		o.tls_key_file = "/nonexistent/key.pem";
		assert_null(pn_http_start(fd, &o, echo, NULL, &err));
		assert_non_null(strstr(err, "/nonexistent/key.pem"));
		pn_free(err);
		close(fd);
	}
}

static void metrics_handler(void **state)
{
	server sv;
	char *resp;

	(void)state;
	assert_int_equal(pn_metrics_init(0), 0);
	pn_metric_inc(PN_M_MESSAGES, PN_MV_REJECT);
	sv = start(NULL, pn_metrics_http, NULL);
	resp = request(sv.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 200"));
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(resp, "\npostern_messages_total{verdict=\"reject\"} 1\n"));
	assert_null(strstr(resp, "# EOF"));
	pn_free(resp);
	resp = request(sv.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			        "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
			        "\r\n\r\n");
	assert_non_null(strstr(resp, "Content-Type: application/openmetrics-text; version=1.0.0"));
	assert_non_null(strstr(resp, "# TYPE postern_messages counter\n"));
	assert_non_null(strstr(resp, "\n# EOF\n"));
	pn_free(resp);
	resp = request(sv.port, "GET /metrics/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 404"));
	pn_free(resp);
	resp = request(sv.port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
			        "Connection: close\r\n\r\n");
	assert_non_null(strstr(resp, "HTTP/1.1 405"));
	assert_non_null(strstr(resp, "Allow: GET, HEAD\r\n"));
	pn_free(resp);
	pn_http_stop(sv.s);
	pn_metrics_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listen_addresses),
		cmocka_unit_test(get_with_query_and_cookie),
		cmocka_unit_test(urlencoded_post),
		cmocka_unit_test(body_over_the_limit_is_413),
		cmocka_unit_test(header_injection_refused),
		cmocka_unit_test(null_response_is_500_and_files_are_sent),
		cmocka_unit_test(https_with_an_openssl_certificate),
		cmocka_unit_test(metrics_handler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
