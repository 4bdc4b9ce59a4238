/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe - SMTP STARTTLS probe with OpenSSL (see probe.h)
 *
 * The SMTP dialogue is read one byte at a time: replies are short, and
 * nothing may be read past the STARTTLS reply, because the bytes after
 * it belong to the TLS handshake.
 */
#include "milters/tls/probe.h"
#include "common/alloc.h"
#include "milters/tls/decide.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Longest reply line and most lines in one reply we accept from a server. */
#define LINE_MAX_BYTES (64 * 1024)
#define REPLY_LINES_MAX 1000

typedef struct smtp_io {
	int fd;
	SSL *ssl;
} smtp_io;

/* io_read1 - one byte; -1 at EOF, error or time-out */
static int io_read1(smtp_io *io, char *c)
{
	ssize_t n;

	if (io->ssl)
		return SSL_read(io->ssl, c, 1) == 1 ? 0 : -1;
	do
		n = read(io->fd, c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* io_write - the whole string */
static int io_write(smtp_io *io, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		if (io->ssl)
			n = SSL_write(io->ssl, s + off, (int)(len - off));
		else
			n = write(io->fd, s + off, len - off);
		if (n <= 0) {
			if (!io->ssl && n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* read_line - one line without CR LF (caller frees), NULL on error */
static char *read_line(smtp_io *io)
{
	pn_buf b;
	char c;

	pn_buf_init(&b, LINE_MAX_BYTES);
	for (;;) {
		if (io_read1(io, &c) < 0 || pn_buf_putc(&b, c) < 0) {
			pn_buf_free(&b);
			return NULL;
		}
		if (c == '\n')
			break;
	}
	b.len--;
	if (b.len > 0 && b.data[b.len - 1] == '\r')
		b.len--;
	b.data[b.len] = '\0';
	return pn_buf_steal(&b, NULL);
}

/* read_reply - a whole (multi-line) reply; returns the code, -1 on error.
 * *first gets the first line, *all every line joined by "\n" (either may be NULL). */
static int read_reply(smtp_io *io, char **first, pn_buf *all)
{
	int lines, code = -1;
	char *line;

	for (lines = 0; lines < REPLY_LINES_MAX; lines++) {
		if ((line = read_line(io)) == NULL)
			return -1;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' || (line[3] != ' '
		    && line[3] != '-' && line[3] != '\0')) {
			pn_free(line);
			return -1;
		}
		if (first && lines == 0)
			*first = pn_strdup(line);
		if (all)
			pn_buf_printf(all, "%s\n", line);
		code = atoi(line);
		if (line[3] != '-') {
			pn_free(line);
			return code;
		}
		pn_free(line);
	}
	return -1;
}

/* offers_starttls - is STARTTLS one of the EHLO keywords? */
static int offers_starttls(const char *ehlo)
{
	const char *p = ehlo;

	while (p && *p) {
		if (strlen(p) > 4 && strncasecmp(p + 4, "STARTTLS", 8) == 0
		    && (p[12] == '\n' || p[12] == ' ' || p[12] == '\0'))
			return 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* tcp_connect - a connected socket with send/receive time-outs, or -1 */
static int tcp_connect(const ptls_probe_opts *o, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = {o->timeout, 0};
	int fd = -1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(o->host, o->port, &hints, &res)) != 0) {
		*err = pn_asprintf("cannot resolve %s port %s: %s", o->host, o->port,
				   gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
			continue;
		/* Linux applies SO_SNDTIMEO to connect() as well */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*err = pn_asprintf("cannot connect to %s port %s: %s", o->host, o->port,
				   strerror(saved ? saved : ECONNREFUSED));
	return fd;
}

/* bio_string - what was written into a memory BIO */
static char *bio_string(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	return n > 0 ? pn_memdup0(data, (size_t)n) : pn_strdup("");
}

/* name_string - an X509 name in openssl x509's one-line form */
static char *name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	if (bio == NULL)
		return pn_strdup("(unknown)");
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE);
	s = bio_string(bio);
	BIO_free(bio);
	return s;
}

/* cert_sans - DNS and IP subjectAltNames as text, DNS names also as a list */
static char *cert_sans(X509 *x, char ***dns)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	pn_buf b;
	size_t ndns = 0;
	int i;

	*dns = pn_calloc(1, sizeof(char *));
	pn_buf_init(&b, 0);
	for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char ip[INET6_ADDRSTRLEN];
		if (g->type == GEN_DNS) {
			const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
			char *name = pn_memdup0(d, (size_t)ASN1_STRING_length(g->d.dNSName));
			char *clean = ptls_clean(name, 255);
			pn_buf_printf(&b, "%sDNS:%s", pn_buf_len(&b) ? ", " : "", clean);
			*dns = pn_realloc(*dns, (ndns + 2) * sizeof(char *));
			(*dns)[ndns++] = name;
			(*dns)[ndns] = NULL;
			pn_free(clean);
		} else if (g->type == GEN_IPADD) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			int len = ASN1_STRING_length(g->d.iPAddress);
			if ((len == 4 && inet_ntop(AF_INET, a, ip, sizeof(ip)))
			    || (len == 16 && inet_ntop(AF_INET6, a, ip, sizeof(ip))))
				pn_buf_printf(&b, "%sIP:%s", pn_buf_len(&b) ? ", " : "", ip);
		}
	}
	GENERAL_NAMES_free(names);
	return pn_buf_steal(&b, NULL);
}

/* cert_not_after - expiry as ISO 8601 UTC */
static char *cert_not_after(X509 *x)
{
	struct tm tm;
	char out[64];

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1
	    || strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return pn_strdup("(unknown)");
	return pn_strdup(out);
}

/* cert_sha256 - "AB:CD:..." as openssl x509 -fingerprint -sha256 prints it */
static char *cert_sha256(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	pn_buf b;

	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return pn_strdup("(unknown)");
	pn_buf_init(&b, 0);
	for (i = 0; i < n; i++)
		pn_buf_printf(&b, "%s%02X", i ? ":" : "", md[i]);
	return pn_buf_steal(&b, NULL);
}

/* record_chain - every certificate the server sent */
static void record_chain(SSL *ssl, ptls_probe *r)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	int i, n = chain ? sk_X509_num(chain) : 0;

	r->chain = pn_calloc((size_t)n + 1, sizeof(ptls_probe_cert));
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		ptls_probe_cert *c = &r->chain[r->nchain++];
		c->subject = name_string(X509_get_subject_name(x));
		c->issuer = name_string(X509_get_issuer_name(x));
		c->sans = cert_sans(x, &c->dns);
		c->not_after = cert_not_after(x);
		c->sha256 = cert_sha256(x);
	}
}

/* is_ip - a numeric IPv4 or IPv6 address */
static int is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* check_name - does the leaf certificate match name (host name or address)? */
static int check_name(X509 *x, const char *name)
{
	if (is_ip(name))
		return X509_check_ip_asc(x, name, 0) == 1;
	return X509_check_host(x, name, 0, 0, NULL) == 1;
}

/* handshake - STARTTLS accepted: TLS on fd, then record everything */
static int handshake(const ptls_probe_opts *o, smtp_io *io, ptls_probe *r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *name = o->servername ? o->servername : o->host;
	X509 *leaf;
	long vr;

	if (ctx == NULL) {
		r->error = pn_strdup("OpenSSL cannot create a TLS context");
		return -1;
	}
	/* finish the handshake whatever the chain: verification is reported, not enforced */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (o->cafile ? SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1
		      : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		r->error = pn_asprintf("cannot load CA certificates%s%s", o->cafile ? " from " : "",
				       o->cafile ? o->cafile : "");
		SSL_CTX_free(ctx);
		return -1;
	}
	io->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);	/* the SSL keeps its own reference */
	if (io->ssl == NULL || SSL_set_fd(io->ssl, io->fd) != 1) {
		r->error = pn_strdup("OpenSSL cannot set up the connection");
		return -1;
	}
	if (!is_ip(name))
		SSL_set_tlsext_host_name(io->ssl, name);
	if (SSL_connect(io->ssl) != 1) {
		/* the reason alone: OpenSSL's full string starts with "error:",
		 * a second severity on the line that prints it */
		const char *why = ERR_reason_error_string(ERR_get_error());
		r->error = pn_asprintf("TLS handshake failed: %s", why ? why : "no reason given");
		SSL_free(io->ssl);
		io->ssl = NULL;
		return -1;
	}
	r->tls = 1;
	r->protocol = pn_strdup(SSL_get_version(io->ssl));
	r->cipher = pn_strdup(SSL_get_cipher_name(io->ssl));
	r->bits = SSL_get_cipher_bits(io->ssl, NULL);
	record_chain(io->ssl, r);
	leaf = SSL_get1_peer_certificate(io->ssl);
	vr = SSL_get_verify_result(io->ssl);
	r->verified = leaf != NULL && vr == X509_V_OK;
	r->verify_result = pn_strdup(leaf == NULL ? "no certificate"
				     : vr == X509_V_OK ? "ok" : X509_verify_cert_error_string(vr));
	r->name_checked = pn_strdup(name);
	r->name_ok = leaf != NULL && check_name(leaf, name);
	r->leaf = leaf;
	return 0;
}

/* ptls_probe_run - connect, EHLO, STARTTLS, record (see probe.h) */
int ptls_probe_run(const ptls_probe_opts *o, ptls_probe *r)
{
	smtp_io io = {-1, NULL};
	pn_buf ehlo;
	char *cmd;
	int code, rc = 1;

	memset(r, 0, sizeof(*r));
	r->host = pn_strdup(o->host);
	r->port = pn_strdup(o->port);
	r->cafile = o->cafile;
	if ((io.fd = tcp_connect(o, &r->error)) < 0)
		return -1;
	pn_buf_init(&ehlo, 0);
	if ((code = read_reply(&io, &r->banner, NULL)) != 220) {
		r->error = pn_asprintf(code < 0 ? "no SMTP greeting" : "greeting %d, not 220", code);
		rc = -1;
		goto done;
	}
	cmd = pn_asprintf("EHLO %s\r\n", o->helo);
	if (io_write(&io, cmd) < 0 || read_reply(&io, NULL, &ehlo) != 250) {
		r->error = pn_strdup("EHLO refused or connection lost");
		pn_free(cmd);
		rc = -1;
		goto done;
	}
	if (!(r->starttls_offered = offers_starttls(pn_buf_str(&ehlo)))) {
		r->error = pn_strdup("STARTTLS not offered");
		io_write(&io, "QUIT\r\n");
		pn_free(cmd);
		goto done;
	}
	if (io_write(&io, "STARTTLS\r\n") < 0 || (code = read_reply(&io, NULL, NULL)) != 220) {
		r->error = pn_asprintf("STARTTLS refused (%d)", code);
		pn_free(cmd);
		goto done;
	}
	if (handshake(o, &io, r) == 0) {
		rc = 0;
		pn_buf_reset(&ehlo);
		if (io_write(&io, cmd) == 0 && read_reply(&io, NULL, &ehlo) == 250
		    && io_write(&io, "QUIT\r\n") == 0)
			read_reply(&io, NULL, NULL);
		SSL_shutdown(io.ssl);
	}
	pn_free(cmd);
done:
	pn_buf_free(&ehlo);
	if (io.ssl)
		SSL_free(io.ssl);
	close(io.fd);
	return rc;
}

/* ptls_probe_print - the result as "name: value" lines */
void ptls_probe_print(const ptls_probe *r, FILE *out)
{
	size_t i;
	char *v;

	fprintf(out, "server: %s port %s\n", r->host, r->port);
	if (r->banner) {
		v = ptls_clean(r->banner, 400);
		fprintf(out, "banner: %s\n", v);
		pn_free(v);
	}
	if (r->banner)
		fprintf(out, "starttls: %s\n", r->starttls_offered ? "offered" : "not offered");
	if (r->tls) {
		fprintf(out, "protocol: %s\ncipher: %s\nbits: %d\n", r->protocol, r->cipher, r->bits);
		for (i = 0; i < r->nchain; i++) {
			const ptls_probe_cert *c = &r->chain[i];
			fprintf(out, "certificate %zu subject: %s\n", i, c->subject);
			fprintf(out, "certificate %zu issuer: %s\n", i, c->issuer);
			fprintf(out, "certificate %zu san: %s\n", i, *c->sans ? c->sans : "(none)");
			fprintf(out, "certificate %zu not_after: %s\n", i, c->not_after);
			fprintf(out, "certificate %zu sha256: %s\n", i, c->sha256);
		}
		fprintf(out, "verification: %s (against %s)\n", r->verify_result,
			r->cafile ? r->cafile : "the system trust store");
		fprintf(out, "name: %s %s\n", r->name_checked, r->name_ok ? "matches" : "does not match");
	}
	if (r->error)
		fprintf(out, "error: %s\n", r->error);
}

/* dns_has_subdomain - a DNS subjectAltName below domain */
static int dns_has_subdomain(const ptls_probe_cert *c, const char *domain)
{
	size_t i, dl = strlen(domain);

	for (i = 0; c->dns && c->dns[i]; i++) {
		size_t n = strlen(c->dns[i]);
		if (n > dl + 1 && c->dns[i][n - dl - 1] == '.'
		    && strcasecmp(c->dns[i] + n - dl, domain) == 0)
			return 1;
	}
	return 0;
}

/* name_fits - the leaf matches one of the match= names or strategies */
static int name_fits(const ptls_probe *r, const char *match, const char *domain)
{
	char *copy = pn_strdup(match), *item, *save = NULL;
	int ok = 0;

	for (item = strtok_r(copy, ":", &save); item && !ok; item = strtok_r(NULL, ":", &save)) {
		if (strcasecmp(item, "hostname") == 0)
			ok = r->name_ok;
		else if (strcasecmp(item, "nexthop") == 0)
			ok = domain && check_name(r->leaf, domain);
		else if (strcasecmp(item, "dot-nexthop") == 0)
			ok = domain && r->nchain && dns_has_subdomain(&r->chain[0], domain);
		else if (item[0] == '.')
			ok = r->nchain && dns_has_subdomain(&r->chain[0], item + 1);
		else
			ok = check_name(r->leaf, item);
	}
	pn_free(copy);
	return ok;
}

/* fingerprint_listed - is fp one of the "|"-separated fingerprints? */
static int fingerprint_listed(const char *list, const char *fp)
{
	size_t n = strlen(fp);
	const char *p = list;

	while (*p) {
		size_t k = strcspn(p, "|");
		if (k == n && strncasecmp(p, fp, n) == 0)
			return 1;
		p += k;
		p += strspn(p, "|");
	}
	return 0;
}

/* ptls_probe_policy - does the probe satisfy p for delivery to domain? */
int ptls_probe_policy(const ptls_probe *r, const ptls_policy *p, const char *domain,
		      pn_buf *req, pn_buf *seen)
{
	int level = ptls_policy_export_level(p), ok = 1;
	char bits[32];
	ptls_facts f;

	snprintf(bits, sizeof(bits), "%d", r->bits);
	memset(&f, 0, sizeof(f));
	f.version = r->tls ? r->protocol : NULL;
	f.cipher = r->cipher;
	f.bits = r->tls ? bits : NULL;
	if (level >= PTLS_LEVEL_ENCRYPT && level != PTLS_LEVEL_DANE && !r->tls) {
		ok = 0;
		pn_buf_printf(req, "%sTLS (outbound=%s)", pn_buf_len(req) ? ", " : "",
			      ptls_level_name(level));
		pn_buf_printf(seen, "%sno TLS", pn_buf_len(seen) ? ", " : "");
	} else if (ptls_check(p, &f, PTLS_REQ_ENCRYPTION, req, seen)) {
		ok = 0;
	}
	if (!r->tls)
		return ok;
	if (level == PTLS_LEVEL_VERIFY || level == PTLS_LEVEL_SECURE) {
		const char *match = p->match ? p->match
				    : level == PTLS_LEVEL_VERIFY ? "hostname" : "nexthop:dot-nexthop";
		if (!r->verified) {
			ok = 0;
			pn_buf_printf(req, "%sa verified server certificate", pn_buf_len(req) ? ", " : "");
			pn_buf_printf(seen, "%sverification %s", pn_buf_len(seen) ? ", " : "",
				      r->verify_result);
		}
		if (!r->leaf || !name_fits(r, match, domain)) {
			ok = 0;
			pn_buf_printf(req, "%sa certificate name matching %s", pn_buf_len(req) ? ", " : "",
				      match);
			pn_buf_printf(seen, "%ssubjectAltName %s", pn_buf_len(seen) ? ", " : "",
				      r->nchain && *r->chain[0].sans ? r->chain[0].sans : "(none)");
		}
	} else if (level == PTLS_LEVEL_FINGERPRINT) {
		if (!r->nchain || !p->match || !fingerprint_listed(p->match, r->chain[0].sha256)) {
			ok = 0;
			pn_buf_printf(req, "%sa certificate with fingerprint %s", pn_buf_len(req) ? ", " : "",
				      p->match ? p->match : "(none)");
			pn_buf_printf(seen, "%ssha256 %s", pn_buf_len(seen) ? ", " : "",
				      r->nchain ? r->chain[0].sha256 : "(no certificate)");
		}
	} else if (level == PTLS_LEVEL_DANE || level == PTLS_LEVEL_DANE_ONLY) {
		pn_buf_printf(seen, "%sDANE not checked (needs DNSSEC)", pn_buf_len(seen) ? ", " : "");
	}
	return ok;
}

/* ptls_probe_clear - free a result */
void ptls_probe_clear(ptls_probe *r)
{
	size_t i;

	for (i = 0; i < r->nchain; i++) {
		pn_free(r->chain[i].subject);
		pn_free(r->chain[i].issuer);
		pn_free(r->chain[i].sans);
		pn_free(r->chain[i].not_after);
		pn_free(r->chain[i].sha256);
		ptls_strv_free(r->chain[i].dns);
	}
	pn_free(r->chain);
	pn_free(r->host);
	pn_free(r->port);
	pn_free(r->banner);
	pn_free(r->protocol);
	pn_free(r->cipher);
	pn_free(r->verify_result);
	pn_free(r->name_checked);
	pn_free(r->error);
	X509_free(r->leaf);
	memset(r, 0, sizeof(*r));
}
