/* SPDX-License-Identifier: BSD-2-Clause */
/* syslog5424 - RFC 5424 messages over UDP, TCP or a datagram socket (see syslog5424.h) */
#include "milters/audit/syslog5424.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct audit_syslog {
	int fd;
	int stream;		/* TCP: octet-counted frames */
	char host[256];
	char *msgid;
	pn_buf frame;
};

/* connect_inet - a connected UDP or TCP socket to HOST:PORT; -1 with *err */
static int connect_inet(const char *hostport, int type, char **err)
{
	char *copy = pn_strdup(hostport), *host = copy, *port;
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc;

	if (*host == '[') {
		host++;
		port = strchr(host, ']');
		if (port == NULL || port[1] != ':')
			goto bad;
		*port = '\0';
		port += 2;
	} else if ((port = strrchr(host, ':')) != NULL) {
		*port++ = '\0';
	}
	if (port == NULL || *host == '\0' || *port == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*err = pn_asprintf("syslog target %s: %s", hostport, gai_strerror(rc));
		pn_free(copy);
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		*err = pn_asprintf("syslog target %s: cannot connect: %s", hostport, strerror(errno));
	freeaddrinfo(res);
	pn_free(copy);
	return fd;
bad:
	*err = pn_asprintf("syslog target \"%s\": want HOST:PORT", hostport);
	pn_free(copy);
	return -1;
}

/* connect_unix - a connected datagram socket to a path; -1 with *err */
static int connect_unix(const char *path, char **err)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) || *path == '\0') {
		*err = pn_asprintf("syslog target unix:%s: bad path", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*err = pn_asprintf("syslog target unix:%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* audit_syslog_open - connect to the target */
audit_syslog *audit_syslog_open(const char *target, const char *msgid, char **err)
{
	audit_syslog *s;
	int fd, stream = 0;

	*err = NULL;
	if (strncmp(target, "udp:", 4) == 0) {
		fd = connect_inet(target + 4, SOCK_DGRAM, err);
	} else if (strncmp(target, "tcp:", 4) == 0) {
		fd = connect_inet(target + 4, SOCK_STREAM, err);
		stream = 1;
	} else if (strncmp(target, "unix:", 5) == 0) {
		fd = connect_unix(target + 5, err);
	} else {
		*err = pn_asprintf("syslog target \"%s\": want udp:HOST:PORT, tcp:HOST:PORT or "
				   "unix:PATH", target);
		return NULL;
	}
	if (fd < 0)
		return NULL;
	s = pn_calloc(1, sizeof(*s));
	s->fd = fd;
	s->stream = stream;
	if (gethostname(s->host, sizeof(s->host) - 1) < 0 || s->host[0] == '\0')
		memcpy(s->host, "-", 2);
	s->host[strcspn(s->host, " ")] = '\0';	/* HOSTNAME is PRINTUSASCII, no space */
	s->msgid = pn_strdup(msgid);
	pn_buf_init(&s->frame, 0);
	return s;
}

/* send_all - write the whole buffer (stream) or one datagram */
static int send_all(audit_syslog *s, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(s->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!s->stream)
			return (size_t)n == len ? 0 : -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* audit_syslog_send - one message */
int audit_syslog_send(audit_syslog *s, const char *timestamp, const char *msg, size_t len,
		      char **err)
{
	pn_buf head;
	int rc;

	*err = NULL;
	pn_buf_init(&head, 0);
	pn_buf_printf(&head, "<22>1 %s %s postern-audit %ld %s - \xef\xbb\xbf",
		      timestamp && *timestamp && !strchr(timestamp, ' ') ? timestamp : "-",
		      s->host, (long)getpid(), s->msgid);
	pn_buf_reset(&s->frame);
	if (s->stream)
		pn_buf_printf(&s->frame, "%zu ", pn_buf_len(&head) + len);
	pn_buf_append(&s->frame, pn_buf_str(&head), pn_buf_len(&head));
	pn_buf_append(&s->frame, msg, len);
	pn_buf_free(&head);
	rc = send_all(s, pn_buf_str(&s->frame), pn_buf_len(&s->frame));
	if (rc < 0)
		*err = pn_asprintf("syslog: send: %s", errno ? strerror(errno) : "short datagram");
	return rc;
}

/* audit_syslog_close - close the socket */
void audit_syslog_close(audit_syslog *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	pn_buf_free(&s->frame);
	pn_free(s->msgid);
	pn_free(s);
}
