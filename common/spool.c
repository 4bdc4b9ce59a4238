/* spool - body storage in memory, then in an anonymous temp file (see spool.h) */
#include "common/spool.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pn_spool {
	pn_buf mem;
	size_t mem_limit;
	char *tmp_dir;
	int fd;			/* -1 while the body is in memory */
	size_t size;
	size_t read_pos;	/* for reading from memory */
};

/* pn_spool_new - empty spool */
pn_spool *pn_spool_new(size_t mem_limit, const char *tmp_dir)
{
	pn_spool *s = pn_calloc(1, sizeof(*s));

	pn_buf_init(&s->mem, mem_limit ? mem_limit : 1);
	s->mem_limit = mem_limit;
	s->tmp_dir = pn_strdup(tmp_dir && *tmp_dir ? tmp_dir : "/tmp");
	s->fd = -1;
	return s;
}

/* open_anonymous - a file with no name, so nothing outlives the process */
static int open_anonymous(const char *dir)
{
	int fd;
	char *path;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	/* Filesystems without O_TMPFILE: create and unlink at once. */
	path = pn_asprintf("%s/postern-spool.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	pn_free(path);
	return fd;
}

/* pn_spool_write - append bytes, moving to disk past the memory limit */
int pn_spool_write(pn_spool *s, const void *data, size_t len)
{
	if (s->fd < 0 && pn_buf_append(&s->mem, data, len) == 0) {
		s->size += len;
		return 0;
	}
	if (s->fd < 0) {
		int fd = open_anonymous(s->tmp_dir);
		if (fd < 0)
			return -1;
		if (pn_write_all(fd, s->mem.data ? s->mem.data : "", s->mem.len) < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		s->fd = fd;
		pn_buf_free(&s->mem);
		pn_buf_init(&s->mem, s->mem_limit ? s->mem_limit : 1);
	}
	if (pn_write_all(s->fd, data, len) < 0)
		return -1;
	s->size += len;
	return 0;
}

/* pn_spool_size - bytes written so far */
size_t pn_spool_size(const pn_spool *s)
{
	return s->size;
}

/* pn_spool_on_disk - whether the body moved to a file */
int pn_spool_on_disk(const pn_spool *s)
{
	return s->fd >= 0;
}

/* pn_spool_mem - the bytes when held in memory, else NULL */
const char *pn_spool_mem(const pn_spool *s)
{
	return s->fd >= 0 ? NULL : pn_buf_str(&s->mem);
}

/* pn_spool_fd - the file descriptor when on disk, else -1 */
int pn_spool_fd(const pn_spool *s)
{
	return s->fd;
}

/* pn_spool_rewind - start reading from the first byte */
int pn_spool_rewind(pn_spool *s)
{
	s->read_pos = 0;
	if (s->fd >= 0 && lseek(s->fd, 0, SEEK_SET) < 0)
		return -1;
	return 0;
}

/* pn_spool_read - next bytes; 0 at the end */
long pn_spool_read(pn_spool *s, void *buf, size_t len)
{
	if (s->fd >= 0) {
		for (;;) {
			ssize_t n = read(s->fd, buf, len);
			if (n < 0 && errno == EINTR)
				continue;
			return (long)n;
		}
	}
	if (s->read_pos >= s->mem.len)
		return 0;
	if (len > s->mem.len - s->read_pos)
		len = s->mem.len - s->read_pos;
	memcpy(buf, s->mem.data + s->read_pos, len);
	s->read_pos += len;
	return (long)len;
}

/* pn_spool_reset - empty the spool for the next message */
void pn_spool_reset(pn_spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pn_buf_reset(&s->mem);
	s->size = 0;
	s->read_pos = 0;
}

/* pn_spool_free - release memory and file */
void pn_spool_free(pn_spool *s)
{
	if (s == NULL)
		return;
	pn_spool_reset(s);
	pn_buf_free(&s->mem);
	pn_free(s->tmp_dir);
	pn_free(s);
}
