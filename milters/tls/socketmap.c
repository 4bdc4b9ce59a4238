/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * socketmap - Postfix's socketmap protocol from the running policy (see socketmap.h)
 *
 * One acceptor thread, one thread per connection: a lookup is a few
 * string compares, but Postfix keeps one connection per smtp(8) process
 * open, and a thread that waits on one slow peer must not delay others.
 */
#include "milters/tls/socketmap.h"
#include "common/alloc.h"
#include "common/domain.h"
#include "common/log.h"
#include "common/netstring.h"
#include "milters/tls/decide.h"
#include "milters/tls/postfix_map.h"
#include "milters/tls/sts.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Longest key we look at: a domain name as UTF-8 with a port and dots. */
#define KEY_MAX 1024

/* How often a waiting connection looks whether the server stops. */
#define SLICE_MS 200

/* Stack of a connection thread: it formats log lines and one reply. */
#define CONN_STACK (256 * 1024)

struct ptls_socketmap {
	ptls_socketmap_opts o;
	ptls_socketmap_source source;
	char *path;
	int fd;
	int wake[2];			/* the acceptor's stop signal */
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_cond_t idle;		/* active reached 0 */
	unsigned active;		/* connection threads running */
	int stopping;			/* under lock */
};

typedef struct conn {
	ptls_socketmap *m;
	int fd;
} conn;

/* sts_applies - whether the partner's MTA-STS policy answers for domain:
 * an outbound=sts line, or sts_all_domains and no static rule; 0 for a
 * static rule, which always wins */
static int sts_applies(const ptls_socketmap_view *v, const char *domain)
{
	const ptls_policy *p = ptls_policy_lookup(v->policy, domain);

	if (p != NULL && p->sts)
		return 1;
	if (!v->sts_all_domains)
		return 0;
	return p == NULL || (p == v->policy->fallback
			     && ptls_policy_export_level(p) == PTLS_LEVEL_UNSET);
}

/* sts_answer_safe - an MTA-STS answer has the one shape sts.h gives it,
 * "secure match=... [servername=hostname]", in printable ASCII: text
 * that came from a partner's HTTPS server never adds a Postfix attribute
 * of its own (a space and "ciphers=null" would be one) */
static int sts_answer_safe(const char *a)
{
	const char *p, *word;
	size_t n;

	for (p = a; *p; p++)
		if ((unsigned char)*p < 0x21 && *p != ' ')
			return 0;
		else if ((unsigned char)*p > 0x7e)
			return 0;
	if (strncmp(a, "secure ", 7) != 0)
		return 0;
	for (word = a + 7; *word; word += n + (word[n] == ' ')) {
		n = strcspn(word, " ");
		if (n == 0)
			return 0;
		if (strncmp(word, "match=", 6) != 0 && strncmp(word, "servername=", 11) != 0)
			return 0;
	}
	return 1;
}

/* sts_reply - the answer from the MTA-STS cache for domain */
static void sts_reply(const ptls_socketmap_view *v, const char *domain, pn_buf *reply)
{
	char *answer = NULL, *why = NULL, *clean;
	ptls_sts_result r;

	if (v->sts == NULL) {
		pn_log(PN_LOG_WARN, "socketmap: %s: outbound=sts but sts_enable = no: no policy",
		       domain);
		pn_buf_puts(reply, "NOTFOUND ");
		return;
	}
	r = ptls_sts_answer(v->sts, domain, &answer, &why);
	clean = why ? ptls_clean(why, 300) : NULL;
	if (r == PTLS_STS_ENFORCE && answer != NULL && !sts_answer_safe(answer)) {
		/* fail closed: Postfix defers rather than deliver on a policy
		 * this server cannot state safely */
		pn_buf_puts(reply, "TEMP MTA-STS answer of unexpected form");
		pn_log(PN_LOG_WARN, "socketmap: %s: MTA-STS answer of unexpected form refused",
		       domain);
	} else if (r == PTLS_STS_ENFORCE && answer != NULL) {
		pn_buf_puts(reply, "OK ");
		pn_buf_puts(reply, answer);
		pn_log(PN_LOG_INFO, "socketmap: %s: MTA-STS enforce: %s%s%s", domain, answer,
		       clean ? "; " : "", clean ? clean : "");
	} else {
		pn_buf_puts(reply, "NOTFOUND ");
		pn_log(PN_LOG_INFO, "socketmap: %s: MTA-STS: no enforced policy%s%s", domain,
		       clean ? ": " : "", clean ? clean : "");
	}
	pn_free(answer);
	pn_free(why);
	pn_free(clean);
}

/* ptls_socketmap_reply - the reply payload for one request payload */
void ptls_socketmap_reply(const ptls_socketmap_view *v, const char *request, size_t len,
			  pn_buf *reply)
{
	const char *sp = memchr(request, ' ', len), *key;
	size_t namelen, keylen, i;
	const ptls_policy *p;
	char *norm, *dotted;

	if (sp == NULL) {
		pn_buf_puts(reply, "PERM request without a key (want \"NAME KEY\")");
		return;
	}
	namelen = (size_t)(sp - request);
	if (namelen != strlen(PTLS_SOCKETMAP_NAME)
	    || memcmp(request, PTLS_SOCKETMAP_NAME, namelen) != 0) {
		pn_buf_puts(reply, "PERM unknown map name (want socketmap:...:"
			    PTLS_SOCKETMAP_NAME ")");
		return;
	}
	key = sp + 1;
	keylen = len - namelen - 1;
	if (keylen == 0 || keylen > KEY_MAX) {
		pn_buf_puts(reply, keylen ? "PERM key too long" : "PERM empty key");
		return;
	}
	for (i = 0; i < keylen; i++)
		if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f) {
			/* no domain holds a control character or a space */
			pn_buf_puts(reply, "NOTFOUND ");
			return;
		}
	if (v == NULL || v->policy == NULL) {
		pn_buf_puts(reply, "TEMP no policy loaded");
		return;
	}
	/* ".example.com" is Postfix walking up to a parent: normalise the
	 * domain and keep the dot, as the policy keeps its keys */
	norm = key[0] == '.' ? pn_domain_normalise_n(key + 1, keylen - 1)
			     : pn_domain_normalise_n(key, keylen);
	if (norm == NULL || *norm == '\0' || norm[0] == '[' || strchr(norm, ':') || strchr(norm, '/')) {
		pn_free(norm);
		pn_buf_puts(reply, "NOTFOUND ");
		return;
	}
	if (key[0] != '.' && sts_applies(v, norm)) {
		sts_reply(v, norm, reply);
		pn_free(norm);
		return;
	}
	dotted = key[0] == '.' ? pn_asprintf(".%s", norm) : NULL;
	p = ptls_postfix_map_find(v->policy, dotted ? dotted : norm);
	pn_free(dotted);
	pn_free(norm);
	if (p == NULL) {
		pn_buf_puts(reply, "NOTFOUND ");
		return;
	}
	pn_buf_puts(reply, "OK ");
	ptls_postfix_map_entry(p, reply);
}

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* stopping - the server is being stopped */
static int stopping(ptls_socketmap *m)
{
	int s;

	pthread_mutex_lock(&m->lock);
	s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* wait_fd - 1 when fd is ready for events before deadline, 0 on time-out
 * or stop, -1 on error; polls in slices so a stop is noticed */
static int wait_fd(ptls_socketmap *m, int fd, short events, long long deadline)
{
	struct pollfd p;
	long long left;
	int rc;

	for (;;) {
		if (stopping(m))
			return 0;
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		rc = poll(&p, 1, (int)(left < SLICE_MS ? left : SLICE_MS));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* write_all - the whole reply before deadline, or -1 */
static int write_all(ptls_socketmap *m, int fd, const char *data, size_t len, long long deadline)
{
	ssize_t n;

	while (len > 0) {
		if (wait_fd(m, fd, POLLOUT, deadline) != 1)
			return -1;
		n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* answer - one request payload: reply from the current policy, framed */
static int answer(ptls_socketmap *m, int fd, const char *req, size_t len, long long deadline)
{
	void *handle = NULL;
	ptls_socketmap_view v;
	int have = m->source.acquire(&v, &handle) == 0, rc;
	pn_buf payload, frame;

	pn_buf_init(&payload, 0);
	pn_buf_init(&frame, 0);
	ptls_socketmap_reply(have ? &v : NULL, req, len, &payload);
	if (have)
		m->source.release(handle);
	pn_netstring_put(&frame, pn_buf_str(&payload), pn_buf_len(&payload));
	if (pn_buf_str(&payload)[0] != 'O' && pn_buf_str(&payload)[0] != 'N')
		pn_log(PN_LOG_WARN, "socketmap: %s", pn_buf_str(&payload));
	else
		pn_log(PN_LOG_DEBUG, "socketmap: %s", pn_buf_str(&payload));
	rc = write_all(m, fd, pn_buf_str(&frame), pn_buf_len(&frame), deadline);
	pn_buf_free(&payload);
	pn_buf_free(&frame);
	return rc;
}

/* serve_conn - requests on one connection until EOF, error, idle or stop */
static void serve_conn(ptls_socketmap *m, int fd)
{
	size_t cap = m->o.max_request + PN_NETSTRING_OVERHEAD, have = 0, plen, used;
	char *buf = pn_malloc(cap);
	const char *payload, *why;
	long long deadline = 0;
	ssize_t n;
	int rc, w;

	for (;;) {
		/* a request under way must finish in time; between requests
		 * the connection may idle */
		w = wait_fd(m, fd, POLLIN, have ? deadline : now_ms() + m->o.idle_ms);
		if (w != 1) {
			if (w == 0 && have && !stopping(m))
				pn_log(PN_LOG_WARN, "socketmap: request not complete within %lld ms: "
				       "closing the connection", m->o.timeout_ms);
			break;
		}
		n = recv(fd, buf + have, cap - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (have == 0)
			deadline = now_ms() + m->o.timeout_ms;
		have += (size_t)n;
		/* every whole request in the buffer, in order */
		while ((rc = pn_netstring_parse(buf, have, m->o.max_request, &payload, &plen, &used,
						&why)) == 1) {
			if (answer(m, fd, payload, plen, deadline) < 0)
				goto done;
			memmove(buf, buf + used, have - used);
			have -= used;
			deadline = now_ms() + m->o.timeout_ms;
		}
		if (rc < 0) {
			pn_log(PN_LOG_WARN, "socketmap: %s: closing the connection", why);
			break;
		}
	}
done:
	pn_free(buf);
}

/* conn_main - thread of one connection */
static void *conn_main(void *arg)
{
	conn *c = arg;
	ptls_socketmap *m = c->m;

	serve_conn(m, c->fd);
	close(c->fd);
	pn_free(c);
	pthread_mutex_lock(&m->lock);
	if (--m->active == 0)
		pthread_cond_broadcast(&m->idle);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* acceptor_main - accept until stopped; one thread per connection, bounded */
static void *acceptor_main(void *arg)
{
	ptls_socketmap *m = arg;
	struct pollfd p[2];
	pthread_attr_t attr;
	pthread_t tid;
	conn *c;
	int fd, full;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CONN_STACK);
	for (;;) {
		p[0].fd = m->fd;
		p[0].events = POLLIN;
		p[1].fd = m->wake[0];
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pn_log(PN_LOG_ERROR, "socketmap: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if ((fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				pn_log(PN_LOG_WARN, "socketmap: accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				poll(NULL, 0, 100);	/* let descriptors free up */
			continue;
		}
		pthread_mutex_lock(&m->lock);
		full = m->active >= m->o.max_connections;
		if (!full)
			m->active++;
		pthread_mutex_unlock(&m->lock);
		if (full) {
			pn_log(PN_LOG_WARN, "socketmap: %u connections open: refusing one more "
			       "(policy_socketmap_max_connections)", m->o.max_connections);
			close(fd);
			continue;
		}
		c = pn_malloc(sizeof(*c));
		c->m = m;
		c->fd = fd;
		if (pthread_create(&tid, &attr, conn_main, c) != 0) {
			pn_log(PN_LOG_ERROR, "socketmap: cannot start a connection thread");
			close(fd);
			pn_free(c);
			pthread_mutex_lock(&m->lock);
			if (--m->active == 0)
				pthread_cond_broadcast(&m->idle);
			pthread_mutex_unlock(&m->lock);
		}
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* listen_unix - a listening unix socket at path with mode; a stale socket
 * there is replaced, any other file is left alone */
static int listen_unix(const char *path, mode_t mode, char **err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = pn_asprintf("%s: socket path too long", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*err = pn_asprintf("%s: exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		*err = pn_asprintf("%s: socket: %s", path, strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0
	    || listen(fd, 128) < 0) {
		*err = pn_asprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* ptls_socketmap_start - listen and serve in background threads */
ptls_socketmap *ptls_socketmap_start(const ptls_socketmap_opts *o, ptls_socketmap_source source,
				     char **err)
{
	ptls_socketmap *m = pn_calloc(1, sizeof(*m));

	*err = NULL;
	m->o = *o;
	if (m->o.max_connections == 0)
		m->o.max_connections = 1;
	if (m->o.max_request == 0 || m->o.max_request > PTLS_SOCKETMAP_REQUEST_MAX)
		m->o.max_request = PTLS_SOCKETMAP_REQUEST_MAX;
	m->source = source;
	m->path = pn_strdup(o->path);
	m->wake[0] = m->wake[1] = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->idle, NULL);
	if ((m->fd = listen_unix(m->path, o->mode, err)) < 0)
		goto fail;
	if (pipe2(m->wake, O_CLOEXEC) < 0) {
		*err = pn_asprintf("%s: pipe: %s", m->path, strerror(errno));
		goto fail;
	}
	if (pthread_create(&m->acceptor, NULL, acceptor_main, m) != 0) {
		*err = pn_asprintf("%s: cannot start the socketmap thread", m->path);
		goto fail;
	}
	return m;
fail:
	if (m->fd >= 0) {
		close(m->fd);
		unlink(m->path);
	}
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->idle);
	pn_free(m->path);
	pn_free(m);
	return NULL;
}

/* ptls_socketmap_stop - stop accepting, end the connections, remove the socket */
void ptls_socketmap_stop(ptls_socketmap *m)
{
	struct timespec until;
	int left;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	pthread_mutex_unlock(&m->lock);
	if (write(m->wake[1], "x", 1) < 0)
		pn_log(PN_LOG_WARN, "socketmap: cannot wake the acceptor: %s", strerror(errno));
	pthread_join(m->acceptor, NULL);
	close(m->fd);
	unlink(m->path);
	/* connection threads notice within SLICE_MS */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&m->lock);
	while (m->active > 0)
		if (pthread_cond_timedwait(&m->idle, &m->lock, &until) != 0)
			break;
	left = m->active > 0;
	pthread_mutex_unlock(&m->lock);
	if (left) {
		/* a thread still holds m: leave it to the process's end */
		pn_log(PN_LOG_WARN, "socketmap: connections still open at stop");
		return;
	}
	close(m->wake[0]);
	close(m->wake[1]);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->idle);
	pn_free(m->path);
	pn_free(m);
}
