/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http - the one small HTTP server every Postern program uses (http.h)
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with nothing (we make the request state), once per piece of body, and
 * once more with no data left, when we call the Postern handler. The
 * state is freed by the "request completed" callback, whatever happened.
 */
#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

#define HTTP_MAX_FORM_FIELDS 256
#define HTTP_MAX_PEM (64 * 1024)

struct pn_http_server {
	struct MHD_Daemon *mhd;
	pn_http_handler handler;
	void *ctx;
	size_t max_body;
	int https;
	char *cert_pem;			/* libmicrohttpd keeps pointers to these */
	char *key_pem;
};

struct pn_http_response {
	int status;
	pn_buf body;
	int fd;				/* >= 0: send from this file instead */
	uint64_t fd_size;
	size_t nheaders;
	char *headers[32][2];
};

typedef struct form_field {
	char *name;
	char *value;
} form_field;

typedef struct request_state {
	pn_buf body;
	int too_big;
	char remote[INET6_ADDRSTRLEN + 1];
	form_field *fields;
	size_t nfields;
	pn_http_request req;
	struct MHD_Connection *conn;
} request_state;

/* --- listening --------------------------------------------------------- */

static int parse_address(const char *address, char *host, size_t hostsz, char *port,
                         size_t portsz)
{
	const char *colon;
	size_t n;

	if (address[0] == '[') {
		const char *end = strchr(address, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - address - 1);
		if (n == 0 || n >= hostsz)
			return -1;
		memcpy(host, address + 1, n);
		host[n] = '\0';
		colon = end + 1;
	} else if ((colon = strrchr(address, ':')) != NULL) {
		n = (size_t)(colon - address);
		if (n == 0 || n >= hostsz || memchr(address, ':', n) != NULL)
			return -1;
		memcpy(host, address, n);
		host[n] = '\0';
	} else {
		snprintf(host, hostsz, "127.0.0.1");
		colon = address - 1;
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= portsz ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, portsz, "%s", colon + 1);
	long p = strtol(port, NULL, 10);
	return p > 0 && p < 65536 ? 0 : -1;
}

/* resolve - the address as getaddrinfo() gives it (numeric only), or NULL with *err */
static struct addrinfo *resolve(const char *address, char **err)
{
	char host[256], port[8];
	struct addrinfo hints, *ai = NULL;
	int rc;

	*err = NULL;
	if (address == NULL || parse_address(address, host, sizeof host, port, sizeof port) != 0) {
		*err = pn_asprintf("bad listen address \"%s\": expected HOST:PORT, [IPV6]:PORT or "
		                   "PORT, with a numeric host", address ? address : "");
		return NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		*err = pn_asprintf("bad listen address \"%s\": %s", address, gai_strerror(rc));
		return NULL;
	}
	return ai;
}

int pn_http_address_ok(const char *address, char **err)
{
	struct addrinfo *ai = resolve(address, err);

	if (ai == NULL)
		return -1;
	freeaddrinfo(ai);
	return 0;
}

int pn_http_listen(const char *address, char **err)
{
	struct addrinfo *ai;
	int fd, one = 1;

	if ((ai = resolve(address, err)) == NULL)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = pn_asprintf("%s: socket: %s", address, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
		*err = pn_asprintf("%s: cannot listen: %s", address, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* --- requests ---------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* url_decode - form decoding ('+' is a space); bad escapes stay as they are */
static char *url_decode(const char *s, size_t len)
{
	char *out = pn_malloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
		           hexval((unsigned char)s[i + 2]) >= 0) {
			*o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 +
			              hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static void parse_form(request_state *st)
{
	const char *p = pn_buf_str(&st->body), *end = p + pn_buf_len(&st->body);

	while (p < end && st->nfields < HTTP_MAX_FORM_FIELDS) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (stop > p) {
			st->fields = pn_realloc(st->fields, (st->nfields + 1) * sizeof *st->fields);
			form_field *f = &st->fields[st->nfields++];
			f->name = url_decode(p, (size_t)((eq ? eq : stop) - p));
			f->value = eq ? url_decode(eq + 1, (size_t)(stop - eq - 1)) : pn_strdup("");
		}
		p = stop + 1;
	}
}

static request_state *state_of(const pn_http_request *r)
{
	return (request_state *)r->internal;
}

const char *pn_http_header(const pn_http_request *r, const char *name)
{
	return MHD_lookup_connection_value(state_of(r)->conn, MHD_HEADER_KIND, name);
}

const char *pn_http_cookie(const pn_http_request *r, const char *name)
{
	return MHD_lookup_connection_value(state_of(r)->conn, MHD_COOKIE_KIND, name);
}

typedef struct arg_walk {
	const char *name;
	const char **out;
	size_t max, n;
} arg_walk;

static MHD_RESULT collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	arg_walk *w = cls;

	(void)kind;
	if (key != NULL && strcmp(key, w->name) == 0 && w->n < w->max)
		w->out[w->n++] = value ? value : "";
	return w->n < w->max ? MHD_YES : MHD_NO;
}

size_t pn_http_args(const pn_http_request *r, const char *name, const char **out, size_t max)
{
	request_state *st = state_of(r);
	arg_walk w = {name, out, max, 0};

	for (size_t i = 0; i < st->nfields && w.n < max; i++)
		if (strcmp(st->fields[i].name, name) == 0)
			out[w.n++] = st->fields[i].value;
	if (w.n < max)
		MHD_get_connection_values(st->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &w);
	return w.n;
}

const char *pn_http_arg(const pn_http_request *r, const char *name)
{
	const char *v = NULL;

	return pn_http_args(r, name, &v, 1) == 1 ? v : NULL;
}

/* --- responses --------------------------------------------------------- */

pn_http_response *pn_http_response_new(int status, const char *content_type)
{
	pn_http_response *resp = pn_calloc(1, sizeof *resp);

	resp->status = status;
	resp->fd = -1;
	pn_buf_init(&resp->body, (size_t)1 << 30);
	if (content_type != NULL)
		pn_http_set_header(resp, "Content-Type", content_type);
	return resp;
}

pn_buf *pn_http_body(pn_http_response *resp)
{
	return &resp->body;
}

void pn_http_set_header(pn_http_response *resp, const char *name, const char *value)
{
	/* A header value from a handler never carries a line break: that would
	 * let text from mail split the response. */
	if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
		return;
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i][0], name) == 0 && strcasecmp(name, "Set-Cookie") != 0) {
			pn_free(resp->headers[i][1]);
			resp->headers[i][1] = pn_strdup(value);
			return;
		}
	if (resp->nheaders == sizeof resp->headers / sizeof resp->headers[0])
		return;
	resp->headers[resp->nheaders][0] = pn_strdup(name);
	resp->headers[resp->nheaders][1] = pn_strdup(value);
	resp->nheaders++;
}

void pn_http_set_file(pn_http_response *resp, int fd, uint64_t size)
{
	if (resp->fd >= 0)
		close(resp->fd);
	resp->fd = fd;
	resp->fd_size = size;
}

pn_http_response *pn_http_text(int status, const char *text)
{
	pn_http_response *resp = pn_http_response_new(status, "text/plain; charset=utf-8");

	pn_buf_puts(&resp->body, text);
	pn_buf_putc(&resp->body, '\n');
	return resp;
}

static void response_free(pn_http_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		pn_free(resp->headers[i][0]);
		pn_free(resp->headers[i][1]);
	}
	if (resp->fd >= 0)
		close(resp->fd);
	pn_buf_free(&resp->body);
	pn_free(resp);
}

static int has_header(const pn_http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i][0], name) == 0)
			return 1;
	return 0;
}

static MHD_RESULT send_response(struct MHD_Connection *conn, pn_http_response *resp)
{
	struct MHD_Response *m;
	MHD_RESULT rc;

	if (resp->fd >= 0) {
		m = MHD_create_response_from_fd64(resp->fd_size, resp->fd);
		if (m != NULL)
			resp->fd = -1;	/* libmicrohttpd closes it now */
	} else {
		m = MHD_create_response_from_buffer(pn_buf_len(&resp->body),
		                                    (void *)pn_buf_str(&resp->body),
		                                    MHD_RESPMEM_MUST_COPY);
	}
	if (m == NULL) {
		response_free(resp);
		return MHD_NO;
	}
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(m, resp->headers[i][0], resp->headers[i][1]);
	if (!has_header(resp, "Cache-Control"))
		MHD_add_response_header(m, "Cache-Control", "no-store");
	if (!has_header(resp, "X-Content-Type-Options"))
		MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(conn, (unsigned)resp->status, m);
	MHD_destroy_response(m);
	response_free(resp);
	return rc;
}

/* --- the libmicrohttpd callbacks --------------------------------------- */

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
	pn_http_server *s = cls;
	request_state *st = *con_cls;
	pn_http_response *resp;

	(void)version;
	if (st == NULL) {
		const union MHD_ConnectionInfo *ci;
		st = pn_calloc(1, sizeof *st);
		pn_buf_init(&st->body, s->max_body + 1);
		st->conn = conn;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL &&
		    getnameinfo(ci->client_addr,
		                ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                       : sizeof(struct sockaddr_in),
		                st->remote, sizeof st->remote, NULL, 0, NI_NUMERICHOST) != 0)
			st->remote[0] = '\0';
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!st->too_big && pn_buf_len(&st->body) + *upload_data_size <= s->max_body)
			pn_buf_append(&st->body, upload_data, *upload_data_size);
		else
			st->too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_big)
		return send_response(conn, pn_http_text(413, "Request body too large"));

	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	if (ctype != NULL && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
		parse_form(st);
	st->req.method = method;
	st->req.path = url;
	st->req.remote = st->remote;
	st->req.body = pn_buf_str(&st->body);
	st->req.body_len = pn_buf_len(&st->body);
	st->req.https = s->https;
	st->req.internal = st;
	resp = s->handler(&st->req, s->ctx);
	if (resp == NULL)
		resp = pn_http_text(500, "Internal error");
	return send_response(conn, resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	request_state *st = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nfields; i++) {
		pn_free(st->fields[i].name);
		pn_free(st->fields[i].value);
	}
	pn_free(st->fields);
	pn_buf_free(&st->body);
	pn_free(st);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];

	(void)cls;
	vsnprintf(text, sizeof text, fmt, ap);
	text[strcspn(text, "\r\n")] = '\0';
	pn_log(PN_LOG_WARN, "http: %s", text);
}

static char *read_pem(const char *path, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *pem;
	ssize_t n;

	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > HTTP_MAX_PEM) {
		*err = pn_asprintf("%s: %s", path, fd < 0 ? strerror(errno) : "not a PEM file of at most 64 KiB");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	pem = pn_malloc((size_t)sb.st_size + 1);
	n = read(fd, pem, (size_t)sb.st_size);
	close(fd);
	if (n != sb.st_size) {
		*err = pn_asprintf("%s: short read", path);
		pn_free(pem);
		return NULL;
	}
	pem[n] = '\0';
	return pem;
}

pn_http_server *pn_http_start(int listen_fd, const pn_http_opts *o, pn_http_handler handler,
                              void *ctx, char **err)
{
	pn_http_server *s = pn_calloc(1, sizeof *s);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_USE_POLL;
	unsigned maxconn = o && o->max_connections ? o->max_connections : 64;
	unsigned timeout = o && o->timeout ? o->timeout : 30;

	*err = NULL;
	s->handler = handler;
	s->ctx = ctx;
	s->max_body = o && o->max_body ? o->max_body : (size_t)1 << 20;
	if (o && o->tls_cert_file && *o->tls_cert_file && o->tls_key_file && *o->tls_key_file) {
		if ((s->cert_pem = read_pem(o->tls_cert_file, err)) == NULL ||
		    (s->key_pem = read_pem(o->tls_key_file, err)) == NULL)
			goto fail;
		s->https = 1;
		flags |= MHD_USE_TLS;
	}
	/* the certificate and key options only for HTTPS: an array that is
	 * empty (just its END) for plain HTTP */
	struct MHD_OptionItem tls_options[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	                          /* first, or libmicrohttpd warns on stderr */
	                          MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
	                          MHD_OPTION_LISTEN_SOCKET, listen_fd,
	                          MHD_OPTION_CONNECTION_LIMIT, maxconn,
	                          MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                          MHD_OPTION_ARRAY, s->https ? tls_options : tls_options + 2,
	                          MHD_OPTION_END);
	if (s->mhd == NULL) {
		*err = pn_asprintf("cannot start the HTTP server%s", s->https ? " (check the TLS "
		                   "certificate and key)" : "");
		goto fail;
	}
	return s;
fail:
	pn_free(s->cert_pem);
	pn_free(s->key_pem);
	pn_free(s);
	return NULL;
}

void pn_http_stop(pn_http_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->mhd);
	pn_free(s->cert_pem);
	pn_free(s->key_pem);
	pn_free(s);
}
