/* SPDX-License-Identifier: BSD-2-Clause */
/* headfile - persisted head and identity of the trail (see headfile.h) */
#include "milters/audit/headfile.h"
#include "common/alloc.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "postern-audit-head 1"

/* One writer at a time: they share the temporary file name. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* copy_word - a value without spaces or control characters into out */
static int copy_word(const char *v, char *out, size_t cap)
{
	size_t n = strlen(v), i;

	if (n == 0 || n >= cap)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ')
			return -1;
	memcpy(out, v, n + 1);
	return 0;
}

/* number - a decimal value */
static int number(const char *v, unsigned long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

/* set_field - one "name value" line; -1 when the value is bad */
static int set_field(audit_headfile *h, const char *name, const char *v, unsigned *seen)
{
	unsigned long long n;

	if (strcmp(name, "trail_id") == 0) {
		*seen |= 1;
		return strlen(v) == AUDIT_TRAIL_ID_LEN ? copy_word(v, h->trail_id,
								   sizeof(h->trail_id)) : -1;
	}
	if (strcmp(name, "host") == 0)
		return copy_word(v, h->host, sizeof(h->host));
	if (strcmp(name, "created") == 0)
		return copy_word(v, h->created, sizeof(h->created));
	if (strcmp(name, "hash") == 0) {
		*seen |= 2;
		return strlen(v) == PN_SHA256_HEX_LEN ? copy_word(v, h->hash, sizeof(h->hash)) : -1;
	}
	if (strcmp(name, "key_id") == 0) {
		if (strcmp(v, "-") == 0) {
			h->key_id[0] = '\0';
			return 0;
		}
		return strlen(v) == AUDIT_KEY_ID_LEN ? copy_word(v, h->key_id, sizeof(h->key_id))
						     : -1;
	}
	if (number(v, &n) < 0)
		return -1;
	if (strcmp(name, "seq") == 0) {
		*seen |= 4;
		h->seq = n;
	} else if (strcmp(name, "size") == 0) {
		*seen |= 8;
		h->size = (long long)n;
	} else if (strcmp(name, "dev") == 0) {
		h->dev = n;
	} else if (strcmp(name, "ino") == 0) {
		h->ino = n;
	} else if (strcmp(name, "epoch") == 0) {
		h->epoch = n;
	} else if (strcmp(name, "epoch_records") == 0) {
		h->epoch_records = n;
	} else if (strcmp(name, "epoch_start") == 0) {
		h->epoch_start = (long long)n;
	}
	/* Unknown names: a later version's additions. */
	return 0;
}

/* audit_headfile_read - the persisted head; 1, 0 absent, -1 bad */
int audit_headfile_read(const char *path, audit_headfile *h, char **err)
{
	char buf[4096], *line, *save = NULL;
	unsigned seen = 0;
	struct stat st;
	ssize_t n;
	int fd;

	memset(h, 0, sizeof(*h));
	*err = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return 0;
		*err = pn_asprintf("head file %s: %s", path, errno == ELOOP
				   ? "is a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*err = pn_asprintf("head file %s: not a regular file", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		*err = pn_asprintf("head file %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	line = strtok_r(buf, "\n", &save);
	if (line == NULL || strcmp(line, MAGIC) != 0) {
		*err = pn_asprintf("head file %s: not a postern-audit head file", path);
		return -1;
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			goto bad;
		*sp = '\0';
		if (set_field(h, line, sp + 1, &seen) < 0)
			goto bad;
	}
	if (seen != 15)
		goto bad;
	return 1;
bad:
	*err = pn_asprintf("head file %s: damaged (a line is missing or malformed)", path);
	return -1;
}

/* audit_headfile_write - replace path atomically */
int audit_headfile_write(const char *path, const audit_headfile *h, int durable, char **err)
{
	char *tmp = pn_asprintf("%s.tmp", path);
	char *text = pn_asprintf(MAGIC "\ntrail_id %s\nhost %s\ncreated %s\nseq %llu\nhash %s\n"
				 "size %lld\ndev %llu\nino %llu\nkey_id %s\nepoch %llu\n"
				 "epoch_records %llu\nepoch_start %lld\n", h->trail_id,
				 h->host[0] ? h->host : "-", h->created[0] ? h->created : "-",
				 h->seq, h->hash, h->size, h->dev, h->ino,
				 h->key_id[0] ? h->key_id : "-", h->epoch, h->epoch_records,
				 h->epoch_start);
	const char *step = NULL;
	int rc;

	*err = NULL;
	pthread_mutex_lock(&write_lock);
	rc = pn_replace_file(path, text, strlen(text), durable, &step);
	if (rc < 0)
		*err = pn_asprintf("head file %s: cannot %s %s: %s", path, step,
				   strcmp(step, "rename") == 0 ? "it into place" : tmp,
				   strerror(errno));
	pthread_mutex_unlock(&write_lock);
	pn_free(tmp);
	pn_free(text);
	return rc;
}
