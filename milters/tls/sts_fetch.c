/* SPDX-License-Identifier: BSD-2-Clause */
/* sts_fetch - MTA-STS TXT lookup and HTTPS policy fetch (see sts_fetch.h) */
#include "milters/tls/sts_fetch.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ADDR_MAX 8		/* addresses of mta-sts.DOMAIN tried */
#define HEADER_MAX (16 * 1024)	/* HTTP status line and headers */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* parse_resolver - "ADDRESS", "ADDRESS:PORT", "IPV6" or "[IPV6]:PORT" */
static int parse_resolver(ptls_sts_net *n, const char *resolver, char **err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *h = resolver, *port_text = NULL, *close_bracket;
	size_t hl;
	long port = 53;
	char *end;

	if (*h == '[') {
		if ((close_bracket = strchr(h, ']')) == NULL
		    || (close_bracket[1] && close_bracket[1] != ':'))
			goto syntax;
		h++;
		hl = (size_t)(close_bracket - h);
		if (close_bracket[1] == ':')
			port_text = close_bracket + 2;
	} else if (strchr(h, ':') != strrchr(h, ':')) {
		hl = strlen(h);		/* a bare IPv6 address: no port */
	} else {
		const char *colon = strchr(h, ':');
		hl = colon ? (size_t)(colon - h) : strlen(h);
		if (colon)
			port_text = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		goto syntax;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (port_text) {
		errno = 0;
		port = strtol(port_text, &end, 10);
		if (*end || end == port_text || errno || port < 1 || port > 65535) {
			*err = pn_asprintf("sts_resolver \"%s\": bad port", resolver);
			return -1;
		}
	}
	memset(&n->resolver, 0, sizeof(n->resolver));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&n->resolver)->sin_addr) == 1
	    && *resolver != '[') {
		struct sockaddr_in *a = (struct sockaddr_in *)&n->resolver;
		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		n->resolver_len = sizeof(*a);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&n->resolver)->sin6_addr)
		   == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&n->resolver;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		n->resolver_len = sizeof(*a);
	} else {
		*err = pn_asprintf("sts_resolver \"%s\": not an IP address", resolver);
		return -1;
	}
	n->have_resolver = 1;
	return 0;
syntax:
	*err = pn_asprintf("sts_resolver \"%s\": want ADDRESS, ADDRESS:PORT or [IPV6]:PORT",
			   resolver);
	return -1;
}

int ptls_sts_net_init(ptls_sts_net *n, const char *resolver, const char *ca_file,
		      unsigned https_port, long long timeout_ms, char **err)
{
	memset(n, 0, sizeof(*n));
	n->https_port = https_port ? https_port : 443;
	n->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	if (resolver && *resolver && parse_resolver(n, resolver, err) < 0)
		return -1;
	if ((n->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*err = pn_strdup("OpenSSL: cannot create a TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(n->ctx, TLS1_2_VERSION);	/* RFC 8461 3.3 */
	SSL_CTX_set_verify(n->ctx, SSL_VERIFY_PEER, NULL);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* many servers close without close_notify; Content-Length guards truncation */
	SSL_CTX_set_options(n->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(n->ctx, ca_file, NULL) != 1) {
			*err = pn_asprintf("sts_ca_file \"%s\": cannot load certificates: %s", ca_file,
					   ERR_reason_error_string(ERR_get_error()));
			ERR_clear_error();
			SSL_CTX_free(n->ctx);
			n->ctx = NULL;
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(n->ctx) != 1) {
		*err = pn_strdup("OpenSSL: cannot load the default trust store");
		SSL_CTX_free(n->ctx);
		n->ctx = NULL;
		return -1;
	}
	return 0;
}

void ptls_sts_net_free(ptls_sts_net *n)
{
	if (n->ctx)
		SSL_CTX_free(n->ctx);
	n->ctx = NULL;
}

/* wait_fd - poll for events until the deadline; 1 ready, 0 timed out */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = {fd, events, 0};
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* connect_one - non-blocking connect within the deadline; fd or -1 */
static int connect_one(const struct sockaddr_storage *a, socklen_t alen, long long deadline)
{
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)a, alen) == 0)
		return fd;
	if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline)
	    || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* same_question - the answer is to our query: its id, QR set, one question
 * equal to ours. The question is compared as bytes (letter case aside, as
 * DNS names compare; label lengths are below 64, so tolower leaves them),
 * not parsed: a truncated answer may not parse past it. */
static int same_question(const unsigned char *q, int qlen, const unsigned char *ans, int alen)
{
	int i, end = NS_HFIXEDSZ;

	/* our question's end: its name's labels, then type and class */
	while (end < qlen && q[end] != 0)
		end += 1 + q[end];
	end += 1 + 4;
	if (end > qlen || alen < end || ans[0] != q[0] || ans[1] != q[1] || !(ans[2] & 0x80)
	    || ns_get16(ans + 4) != 1)
		return 0;
	for (i = NS_HFIXEDSZ; i < end; i++)
		if (tolower(ans[i]) != tolower(q[i]))
			return 0;
	return 1;
}

/* exchange_udp - one datagram out, the first matching one back; length or -1 */
static int exchange_udp(const ptls_sts_net *n, const unsigned char *q, int qlen,
			unsigned char *ans, int anslen, long long deadline)
{
	int fd = socket(n->resolver.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int len = -1, tries;

	if (fd < 0)
		return -1;
	/* connected: the kernel drops datagrams from any other address */
	if (connect(fd, (const struct sockaddr *)&n->resolver, n->resolver_len) < 0
	    || send(fd, q, (size_t)qlen, 0) != qlen) {
		close(fd);
		return -1;
	}
	for (tries = 0; tries < 64 && wait_fd(fd, POLLIN, deadline); tries++) {
		ssize_t got = recv(fd, ans, (size_t)anslen, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			break;		/* refused: nobody listens there */
		if (same_question(q, qlen, ans, (int)got)) {
			len = (int)got;
			break;
		}
	}
	close(fd);
	return len;
}

/* read_all - exactly len bytes from a non-blocking stream within the deadline */
static int read_all(int fd, unsigned char *buf, size_t len, long long deadline)
{
	size_t have = 0;

	while (have < len) {
		ssize_t got;

		if (!wait_fd(fd, POLLIN, deadline))
			return -1;
		got = recv(fd, buf + have, len - have, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return -1;
		have += (size_t)got;
	}
	return 0;
}

/* exchange_tcp - the query again over TCP (a truncated UDP answer); length or -1 */
static int exchange_tcp(const ptls_sts_net *n, const unsigned char *q, int qlen,
			unsigned char *ans, int anslen, long long deadline)
{
	unsigned char frame[2 + NS_PACKETSZ * 2], lenbuf[2];
	size_t off = 0, want;
	int fd = connect_one(&n->resolver, n->resolver_len, deadline), len = -1;

	if (fd < 0)
		return -1;
	if ((size_t)qlen + 2 > sizeof(frame))
		goto out;
	frame[0] = (unsigned char)(qlen >> 8);
	frame[1] = (unsigned char)qlen;
	memcpy(frame + 2, q, (size_t)qlen);
	while (off < (size_t)qlen + 2) {
		ssize_t w;
		if (!wait_fd(fd, POLLOUT, deadline))
			goto out;
		w = send(fd, frame + off, (size_t)qlen + 2 - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (read_all(fd, lenbuf, 2, deadline) < 0)
		goto out;
	want = (size_t)lenbuf[0] << 8 | lenbuf[1];
	if (want > (size_t)anslen || read_all(fd, ans, want, deadline) < 0)
		goto out;
	if (same_question(q, qlen, ans, (int)want))
		len = (int)want;
out:
	close(fd);
	return len;
}

/* query_resolver - name/type asked of sts_resolver (IPv4 or IPv6) by our
 * own UDP, then TCP when the answer is truncated: libresolv's server list
 * takes IPv4 addresses only. Answer length or -1; *nxdomain as query(). */
static int query_resolver(const ptls_sts_net *n, const char *name, int type, unsigned char *ans,
			  int anslen, long long deadline, int *nxdomain)
{
	struct __res_state st;
	unsigned char q[NS_PACKETSZ];
	int qlen, len, rcode;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return -1;
	/* res_nmkquery draws a random id; RD set as res_nquery does */
	qlen = res_nmkquery(&st, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, sizeof(q));
	res_nclose(&st);
	if (qlen < 0)
		return -1;
	len = exchange_udp(n, q, qlen, ans, anslen, deadline);
	if (len >= NS_HFIXEDSZ && (ans[2] & 0x02))	/* TC */
		len = exchange_tcp(n, q, qlen, ans, anslen, deadline);
	if (len < NS_HFIXEDSZ)
		return -1;
	rcode = ans[3] & 0x0f;
	if (rcode == ns_r_nxdomain || (rcode == ns_r_noerror && ns_get16(ans + 6) == 0)) {
		*nxdomain = 1;	/* no such name, or no record of the type */
		return -1;
	}
	return rcode == ns_r_noerror ? len : -1;
}

/* query - the answer to name/type, from sts_resolver or /etc/resolv.conf's
 * servers, within the time left; answer length or -1, *nxdomain set when
 * the name or the record does not exist */
static int query(const ptls_sts_net *n, const char *name, int type, unsigned char *ans, int anslen,
		 long long deadline, int *nxdomain)
{
	struct __res_state st;
	long long left = deadline - now_ms();
	int len;

	*nxdomain = 0;
	if (left <= 0)
		return -1;
	if (n->have_resolver)
		return query_resolver(n, name, type, ans, anslen, deadline, nxdomain);
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return -1;
	/* res_n* time out in whole seconds per try: one try, what is left */
	st.retrans = (int)((left + 999) / 1000);
	st.retry = 1;
	st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	len = res_nquery(&st, name, ns_c_in, type, ans, anslen);
	if (len < 0 && (st.res_h_errno == HOST_NOT_FOUND || st.res_h_errno == NO_DATA))
		*nxdomain = 1;
	res_nclose(&st);
	return len;
}

int ptls_sts_txt_answer(const unsigned char *ans, int len, const char *domain,
			char id[PTLS_STS_ID_MAX + 1], char **why)
{
	ns_msg msg;
	int i, found = 0, bad = 0;

	*why = NULL;
	if (ns_initparse(ans, len, &msg) < 0) {
		*why = pn_strdup("DNS: malformed answer");
		return -1;
	}
	for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		const unsigned char *rd, *end;
		char txt[1024];
		size_t tl = 0;
		char one[PTLS_STS_ID_MAX + 1];
		int r;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			*why = pn_strdup("DNS: malformed answer");
			return -1;
		}
		if (ns_rr_type(rr) != ns_t_txt)
			continue;	/* the CNAME chain */
		rd = ns_rr_rdata(rr);
		end = rd + ns_rr_rdlen(rr);
		while (rd < end) {
			size_t sl = *rd++;

			if (sl > (size_t)(end - rd) || tl + sl >= sizeof(txt)) {
				tl = sizeof(txt);	/* truncated or huge: not an STS record */
				break;
			}
			memcpy(txt + tl, rd, sl);
			tl += sl;
			rd += sl;
		}
		if (tl >= sizeof(txt))
			continue;
		r = ptls_sts_txt_parse(txt, tl, one);
		if (r == 0)
			continue;
		if (r < 0)
			bad++;
		else if (found++ == 0)
			memcpy(id, one, sizeof(one));
	}
	if (found + bad > 1) {
		*why = pn_asprintf("%d v=STSv1 TXT records for _mta-sts.%s (RFC 8461 3.1: none "
				   "counts)", found + bad, domain);
		return 0;
	}
	if (bad) {
		*why = pn_asprintf("malformed v=STSv1 TXT record for _mta-sts.%s", domain);
		return -1;
	}
	if (!found) {
		*why = pn_asprintf("no _mta-sts TXT record for %s", domain);
		return 0;
	}
	return 1;
}

int ptls_sts_dns_id(const ptls_sts_net *n, const char *domain, char id[PTLS_STS_ID_MAX + 1],
		    char **why)
{
	unsigned char ans[8192];
	char name[300];
	int len, nx;

	*why = NULL;
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	len = query(n, name, ns_t_txt, ans, sizeof(ans), now_ms() + n->timeout_ms, &nx);
	if (len < 0) {
		*why = pn_asprintf(nx ? "no _mta-sts TXT record for %s"
				      : "DNS: TXT lookup of _mta-sts.%s failed", domain);
		return nx ? 0 : -1;
	}
	return ptls_sts_txt_answer(ans, len, domain, id, why);
}

/* addresses - A (then AAAA) records of host through our resolver */
static int addresses(const ptls_sts_net *n, const char *host, struct sockaddr_storage *out,
		     socklen_t *outlen, int max, long long deadline)
{
	static const int types[2] = {ns_t_a, ns_t_aaaa};
	unsigned char ans[4096];
	int t, count = 0;

	for (t = 0; t < 2 && count == 0; t++) {
		ns_msg msg;
		int len, nx, i;

		len = query(n, host, types[t], ans, sizeof(ans), deadline, &nx);
		if (len < 0 || ns_initparse(ans, len, &msg) < 0)
			continue;
		for (i = 0; i < ns_msg_count(msg, ns_s_an) && count < max; i++) {
			ns_rr rr;

			if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
				break;
			if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4) {
				struct sockaddr_in *a = (struct sockaddr_in *)&out[count];

				memset(a, 0, sizeof(*a));
				a->sin_family = AF_INET;
				a->sin_port = htons((unsigned short)n->https_port);
				memcpy(&a->sin_addr, ns_rr_rdata(rr), 4);
				outlen[count++] = sizeof(*a);
			} else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
				struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[count];

				memset(a, 0, sizeof(*a));
				a->sin6_family = AF_INET6;
				a->sin6_port = htons((unsigned short)n->https_port);
				memcpy(&a->sin6_addr, ns_rr_rdata(rr), 16);
				outlen[count++] = sizeof(*a);
			}
		}
	}
	return count;
}

/* ssl_wait - after an SSL call returned r: wait as OpenSSL asks; 1 retry, 0 fail */
static int ssl_wait(SSL *ssl, int fd, int r, long long deadline)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ: return wait_fd(fd, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE: return wait_fd(fd, POLLOUT, deadline);
	default: return 0;
	}
}

/* header_value - the value of header name in hdr (NUL-terminated), or NULL */
static const char *header_value(const char *hdr, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	const char *s = strstr(hdr, "\r\n");

	while (s && s[2] != '\r' && s[2] != '\0') {
		const char *line = s + 2, *eol = strstr(line, "\r\n"), *v;
		size_t vl;

		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			for (v = line + nl + 1; *v == ' ' || *v == '\t'; v++)
				;
			vl = (size_t)(eol - v);
			if (vl >= outsz)
				vl = outsz - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
		s = eol;
	}
	return NULL;
}

/* dechunk - decode a chunked body in place; new length or -1 */
static long dechunk(char *b, size_t len)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long n;
		const char *eol = memmem(b + in, len - in, "\r\n", 2);

		if (eol == NULL)
			return -1;
		n = strtoul(b + in, &end, 16);
		if (end == b + in || (end != eol && *end != ';'))
			return -1;
		in = (size_t)(eol - b) + 2;
		if (n == 0)
			return (long)out;
		if (n > len - in || len - in - n < 2 || memcmp(b + in + n, "\r\n", 2) != 0)
			return -1;
		memmove(b + out, b + in, n);
		out += n;
		in += n + 2;
	}
}

/* parse_response - HTTP status, type and body out of what was read */
static int parse_response(char *raw, size_t rl, const char *host, char **body, size_t *blen,
			  char **why)
{
	char *hend = memmem(raw, rl, "\r\n\r\n", 4), val[128];
	size_t hl, bl;
	int status = 0;
	long cl = -1;

	if (hend == NULL || (size_t)(hend - raw) > HEADER_MAX) {
		*why = pn_asprintf("HTTPS %s: no complete HTTP header", host);
		return -1;
	}
	hl = (size_t)(hend - raw) + 4;
	hend[2] = '\0';	/* headers end with their last CRLF */
	if (sscanf(raw, "HTTP/1.%*1[01] %3d", &status) != 1) {
		*why = pn_asprintf("HTTPS %s: not an HTTP/1 response", host);
		return -1;
	}
	if (status != 200) {
		/* redirects included: RFC 8461 3.3 forbids following them */
		*why = pn_asprintf("HTTPS %s: HTTP status %d", host, status);
		return -1;
	}
	if (header_value(raw, "Content-Type", val, sizeof(val)) == NULL
	    || strncasecmp(val, "text/plain", 10) != 0
	    || (val[10] != '\0' && val[10] != ';' && val[10] != ' ')) {
		*why = pn_asprintf("HTTPS %s: Content-Type is not text/plain", host);
		return -1;
	}
	bl = rl - hl;
	if (header_value(raw, "Transfer-Encoding", val, sizeof(val)) != NULL
	    && strcasecmp(val, "chunked") == 0) {
		long n = dechunk(raw + hl, bl);

		if (n < 0) {
			*why = pn_asprintf("HTTPS %s: bad chunked body", host);
			return -1;
		}
		bl = (size_t)n;
	} else if (header_value(raw, "Content-Length", val, sizeof(val)) != NULL) {
		char *end;

		cl = strtol(val, &end, 10);
		if (*end || cl < 0 || (size_t)cl > bl) {
			*why = pn_asprintf("HTTPS %s: body shorter than Content-Length", host);
			return -1;
		}
		bl = (size_t)cl;
	}
	if (bl > PTLS_STS_POLICY_MAX) {
		*why = pn_asprintf("HTTPS %s: policy larger than %d bytes", host, PTLS_STS_POLICY_MAX);
		return -1;
	}
	*body = pn_memdup0(raw + hl, bl);
	*blen = bl;
	return 0;
}

/* exchange - TLS handshake, GET, read the whole response; 0 or -1 with *why */
static int exchange(const ptls_sts_net *n, int fd, const char *host, long long deadline,
		    pn_buf *resp, char **why)
{
	SSL *ssl = SSL_new(n->ctx);
	char req[512], chunk[4096];
	const char *step = "the TLS handshake";
	int r, rl, sent = 0, rc = -1;
	const size_t cap = HEADER_MAX + 2 * PTLS_STS_POLICY_MAX;	/* chunk framing included */

	if (ssl == NULL) {
		*why = pn_strdup("OpenSSL: SSL_new failed");
		return -1;
	}
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
	SSL_set_fd(ssl, fd);
	while ((r = SSL_connect(ssl)) != 1)
		if (!ssl_wait(ssl, fd, r, deadline))
			goto fail;
	step = "sending the request";
	rl = snprintf(req, sizeof(req), "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\n"
		      "User-Agent: postern-tls\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
		      host);
	while (sent < rl) {
		if ((r = SSL_write(ssl, req + sent, rl - sent)) > 0)
			sent += r;
		else if (!ssl_wait(ssl, fd, r, deadline))
			goto fail;
	}
	step = "reading the response";
	for (;;) {
		r = SSL_read(ssl, chunk, sizeof(chunk));
		if (r > 0) {
			if (pn_buf_len(resp) + (size_t)r > cap) {
				*why = pn_asprintf("HTTPS %s: response larger than %zu bytes", host, cap);
				goto out;
			}
			pn_buf_append(resp, chunk, (size_t)r);
			continue;
		}
		if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN
		    || (SSL_get_error(ssl, r) == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
			break;	/* closed (with or without close_notify) */
		if (!ssl_wait(ssl, fd, r, deadline))
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	if (now_ms() >= deadline) {
		*why = pn_asprintf("HTTPS %s: timed out after %lld ms during %s", host, n->timeout_ms,
				   step);
	} else if (SSL_get_verify_result(ssl) != X509_V_OK) {
		*why = pn_asprintf("HTTPS %s: certificate verify failed: %s", host,
				   X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	} else {
		unsigned long e = ERR_peek_error();

		*why = pn_asprintf("HTTPS %s: %s failed: %s", host, step,
				   e ? ERR_reason_error_string(e) : "connection closed");
	}
out:
	ERR_clear_error();
	SSL_free(ssl);
	return rc;
}

int ptls_sts_https_policy(const ptls_sts_net *n, const char *domain, char **body, size_t *len,
			  char **why)
{
	struct sockaddr_storage addr[ADDR_MAX];
	socklen_t alen[ADDR_MAX];
	long long deadline = now_ms() + n->timeout_ms;
	char host[300];
	int count, i, fd = -1;
	pn_buf resp;

	*why = NULL;
	*body = NULL;
	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	if ((count = addresses(n, host, addr, alen, ADDR_MAX, deadline)) == 0) {
		*why = pn_asprintf("DNS: no address for %s", host);
		return -1;
	}
	for (i = 0; i < count && fd < 0; i++)
		fd = connect_one(&addr[i], alen[i], deadline);
	if (fd < 0) {
		*why = pn_asprintf("HTTPS %s: cannot connect to port %u", host, n->https_port);
		return -1;
	}
	pn_buf_init(&resp, 0);
	if (exchange(n, fd, host, deadline, &resp, why) < 0) {
		close(fd);
		pn_buf_free(&resp);
		return -1;
	}
	close(fd);
	pn_buf_putc(&resp, '\0');	/* parse_response's string calls stop here */
	i = parse_response((char *)pn_buf_str(&resp), pn_buf_len(&resp) - 1, host, body, len, why);
	pn_buf_free(&resp);
	return i;
}

int ptls_sts_mx_answer(const unsigned char *ans, int len, char **hosts, int max)
{
	ns_msg msg;
	int i, count = 0;

	if (ns_initparse(ans, len, &msg) < 0)
		return -1;
	for (i = 0; i < ns_msg_count(msg, ns_s_an) && count < max; i++) {
		ns_rr rr;
		char name[NS_MAXDNAME];

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name,
				       sizeof(name)) < 0)
			continue;
		hosts[count++] = pn_strdup(name);
	}
	return count;
}

int ptls_sts_dns_mx(const ptls_sts_net *n, const char *domain, char **hosts, int max, char **why)
{
	unsigned char ans[8192];
	int len, nx, count;

	*why = NULL;
	len = query(n, domain, ns_t_mx, ans, sizeof(ans), now_ms() + n->timeout_ms, &nx);
	if (len < 0 || (count = ptls_sts_mx_answer(ans, len, hosts, max)) < 0) {
		*why = pn_asprintf(nx ? "no MX record for %s" : "DNS: MX lookup of %s failed", domain);
		return nx ? 0 : -1;
	}
	if (count == 0)
		*why = pn_asprintf("no MX record for %s", domain);
	return count;
}
