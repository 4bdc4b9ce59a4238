/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	http - the one small HTTP server every Postern program uses
 *	(postern-web's console, the daemons' metrics listeners)
 * SYNOPSIS
 *	#include "common/http.h"
 *
 *	int pn_http_listen(const char *address, char **err);
int pn_http_address_ok(const char *address, char **err);
 *	int pn_http_address_ok(const char *address, char **err);
 *	pn_http_server *pn_http_start(int listen_fd, const pn_http_opts *o,
 *	                              pn_http_handler handler, void *ctx,
 *	                              char **err);
 *	void pn_http_stop(pn_http_server *s);
 *
 *	const char *pn_http_header(const pn_http_request *r, const char *name);
 *	const char *pn_http_cookie(const pn_http_request *r, const char *name);
 *	const char *pn_http_arg(const pn_http_request *r, const char *name);
 *	size_t pn_http_args(const pn_http_request *r, const char *name,
 *	                    const char **out, size_t max);
 *
 *	pn_http_response *pn_http_response_new(int status,
 *	                                       const char *content_type);
 *	pn_buf *pn_http_body(pn_http_response *resp);
 *	void pn_http_set_header(pn_http_response *resp, const char *name,
 *	                        const char *value);
 *	void pn_http_set_file(pn_http_response *resp, int fd, uint64_t size);
 *	pn_http_response *pn_http_text(int status, const char *text);
 * DESCRIPTION
 *	A thin layer over GNU libmicrohttpd (why that library: DESIGN.md and
 *	postern-web(8)). pn_http_listen() parses "HOST:PORT", "[V6]:PORT"
 *	or "PORT" (meaning 127.0.0.1:PORT: nothing listens beyond loopback
 *	unless asked), numeric addresses only (no DNS), and returns a bound,
 *	listening socket; a caller binds before it drops privileges.
 *	pn_http_address_ok() only checks the syntax, binding nothing (a
 *	configuration check while the daemon runs).
 *	pn_http_start() serves that socket on its own threads (one per
 *	connection, at most o->max_connections) and calls handler once per
 *	complete request, after the whole body (at most o->max_body bytes;
 *	more gets 413 without calling the handler) has arrived. With
 *	o->tls_cert_file and o->tls_key_file (PEM) it speaks HTTPS only.
 *
 *	The handler returns a response made with pn_http_response_new() (or
 *	pn_http_text()); the layer sends and frees it. A NULL return sends
 *	500. Every response carries "Cache-Control: no-store" and
 *	"X-Content-Type-Options: nosniff" unless the handler set them.
 *	pn_http_set_file() sends size bytes read from fd (which the layer
 *	closes) instead of the body buffer, for downloads of any size.
 *
 *	Request accessors return NULL when absent; strings live as long as
 *	the request. pn_http_arg() looks in the URL's query string and in an
 *	application/x-www-form-urlencoded POST body (body first);
 *	pn_http_args() collects every value of a repeated name, up to max.
 *	req->path is the URL path without the query, percent-decoded by the
 *	library; handlers compare it exactly.
 * DIAGNOSTICS
 *	pn_http_listen() and pn_http_address_ok() return -1 and
 *	pn_http_start() NULL with *err
 *	(pn_free) naming the address and the reason.
 */
#ifndef PN_HTTP_H
#define PN_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct pn_http_server pn_http_server;
typedef struct pn_http_response pn_http_response;

typedef struct pn_http_request {
	const char *method;		/* "GET", "POST", "HEAD", ... */
	const char *path;		/* "/search", decoded, no query */
	const char *remote;		/* client address, numeric */
	const char *body;		/* request body, NUL-terminated */
	size_t body_len;
	int https;			/* the connection used TLS */
	void *internal;			/* the layer's; do not touch */
} pn_http_request;

typedef pn_http_response *(*pn_http_handler)(const pn_http_request *req, void *ctx);

typedef struct pn_http_opts {
	unsigned max_connections;	/* 0: 64 */
	unsigned timeout;		/* idle seconds per connection, 0: 30 */
	size_t max_body;		/* request body limit, 0: 1 MiB */
	const char *tls_cert_file;	/* both set: HTTPS */
	const char *tls_key_file;
} pn_http_opts;

int pn_http_listen(const char *address, char **err);
int pn_http_address_ok(const char *address, char **err);
pn_http_server *pn_http_start(int listen_fd, const pn_http_opts *o,
                              pn_http_handler handler, void *ctx, char **err);
void pn_http_stop(pn_http_server *s);

const char *pn_http_header(const pn_http_request *r, const char *name);
const char *pn_http_cookie(const pn_http_request *r, const char *name);
const char *pn_http_arg(const pn_http_request *r, const char *name);
size_t pn_http_args(const pn_http_request *r, const char *name,
                    const char **out, size_t max);

pn_http_response *pn_http_response_new(int status, const char *content_type);
pn_buf *pn_http_body(pn_http_response *resp);
void pn_http_set_header(pn_http_response *resp, const char *name, const char *value);
void pn_http_set_file(pn_http_response *resp, int fd, uint64_t size);
pn_http_response *pn_http_text(int status, const char *text);

#endif
