/* SPDX-License-Identifier: BSD-2-Clause */
/* fileio - whole-file reads and complete writes (see fileio.h) */
#include "common/fileio.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <unistd.h>

/* pn_read_fd - the rest of an open file, at most max bytes */
char *pn_read_fd(int fd, size_t max, size_t *len)
{
	char chunk[65536];
	pn_buf b;
	ssize_t n;

	pn_buf_init(&b, max ? max : (size_t)64 << 20);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (pn_buf_append(&b, chunk, (size_t)n) < 0) {
			n = -1;
			errno = EFBIG;
			break;
		}
	}
	if (n < 0) {
		int saved = errno;
		pn_buf_free(&b);
		errno = saved;
		return NULL;
	}
	return pn_buf_steal(&b, len);
}

/* pn_read_file - whole file, at most max bytes */
char *pn_read_file(const char *path, size_t max, size_t *len)
{
	char *data;
	int saved, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	data = pn_read_fd(fd, max, len);
	saved = errno;
	close(fd);
	errno = saved;
	return data;
}

/* pn_write_all - write everything or fail */
int pn_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* pn_replace_file - write PATH.tmp, then rename it over path */
int pn_replace_file(const char *path, const void *data, size_t len, int durable,
		    const char **step)
{
	char *tmp = pn_asprintf("%s.tmp", path), *dir;
	int fd, dfd, saved;

	(void)unlink(tmp);	/* a leftover of a crash: ours, never followed */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		*step = "create";
		goto fail;
	}
	if (pn_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		*step = "write";
		saved = errno;
		close(fd);
		(void)unlink(tmp);
		errno = saved;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		*step = "rename";
		saved = errno;
		(void)unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (durable) {
		/* the rename itself survives a crash only once the directory is on disk */
		dir = pn_strdup(path);
		if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		pn_free(dir);
	}
	pn_free(tmp);
	return 0;
fail:
	saved = errno;
	pn_free(tmp);
	errno = saved;
	return -1;
}

/* descriptors marked one by one where the kernel lacks close_range (< 5.11) */
#define CLOEXEC_FALLBACK_MAX 4096

/* pn_cloexec_above_stdio - nothing but stdin, stdout, stderr survives exec */
void pn_cloexec_above_stdio(void)
{
	int fd;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (fd = 3; fd < CLOEXEC_FALLBACK_MAX; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}
