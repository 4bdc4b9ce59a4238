/* SPDX-License-Identifier: BSD-2-Clause */
/* reader - trail files line by line, plain or compressed (see reader.h) */
#include "milters/audit/reader.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CHUNK 65536

struct audit_reader {
	char *path;
	int fd;			/* what we read: the file or the decompressor's pipe */
	int file_fd;		/* the file itself when piped, else -1 */
	pid_t child;		/* decompressor, or 0 */
	const char *tool;
	char *chunk;
	size_t pos, fill;
	int eof;
	pn_buf line;
	unsigned long lineno;
};

typedef struct magic {
	const unsigned char bytes[6];
	size_t len;
	const char *tool;
} magic;

static const magic magics[] = {
	{{0x1f, 0x8b}, 2, "gzip"},
	{{0xfd, '7', 'z', 'X', 'Z', 0x00}, 6, "xz"},
	{{'B', 'Z', 'h'}, 3, "bzip2"},
	{{0x28, 0xb5, 0x2f, 0xfd}, 4, "zstd"},
};

/* compressor - the command that decompresses fd's contents, or NULL */
static const char *compressor(int fd)
{
	unsigned char head[6];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	size_t i;

	for (i = 0; n > 0 && i < sizeof(magics) / sizeof(magics[0]); i++)
		if ((size_t)n >= magics[i].len && memcmp(head, magics[i].bytes, magics[i].len) == 0)
			return magics[i].tool;
	return NULL;
}

/* spawn_decompressor - TOOL -dc with the file on stdin; returns the pipe */
static int spawn_decompressor(audit_reader *r, char **err)
{
	posix_spawn_file_actions_t fa;
	char *argv[3];
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0) {
		*err = pn_asprintf("%s: pipe: %s", r->path, strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, r->file_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	argv[0] = (char *)r->tool;
	argv[1] = (char *)"-dc";
	argv[2] = NULL;
	rc = posix_spawnp(&r->child, r->tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		r->child = 0;
		*err = pn_asprintf("%s: cannot run %s -dc: %s", r->path, r->tool, strerror(rc));
		return -1;
	}
	return p[0];
}

/* audit_reader_open - open a trail file for reading */
audit_reader *audit_reader_open(const char *path, char **err)
{
	audit_reader *r = pn_calloc(1, sizeof(*r));

	*err = NULL;
	r->path = pn_strdup(path);
	r->file_fd = -1;
	pn_buf_init(&r->line, AUDIT_LINE_MAX);
	if (strcmp(path, "-") == 0) {
		r->fd = 0;
	} else if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*err = pn_asprintf("cannot open %s: %s", path, strerror(errno));
		goto fail;
	} else if ((r->tool = compressor(r->fd)) != NULL) {
		r->file_fd = r->fd;
		if ((r->fd = spawn_decompressor(r, err)) < 0)
			goto fail;
	}
	r->chunk = pn_malloc(CHUNK);
	return r;
fail:
	if (r->file_fd >= 0)
		close(r->file_fd);
	else if (r->fd > 0)
		close(r->fd);
	pn_buf_free(&r->line);
	pn_free(r->path);
	pn_free(r);
	return NULL;
}

/* fill - read more input; 1 data, 0 end, -1 error */
static int fill(audit_reader *r)
{
	ssize_t n;

	do
		n = read(r->fd, r->chunk, CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	r->pos = 0;
	r->fill = (size_t)n;
	return n > 0;
}

/* audit_reader_line - the next line, without its newline */
int audit_reader_line(audit_reader *r, const char **line, size_t *len, int *complete)
{
	pn_buf_reset(&r->line);
	for (;;) {
		char *nl;
		size_t avail;
		int rc;

		if (r->pos == r->fill) {
			if (r->eof || (rc = fill(r)) == 0) {
				r->eof = 1;
				if (pn_buf_len(&r->line) == 0)
					return 0;
				*complete = 0;
				break;
			}
			if (rc < 0)
				return -1;
		}
		avail = r->fill - r->pos;
		nl = memchr(r->chunk + r->pos, '\n', avail);
		if (pn_buf_append(&r->line, r->chunk + r->pos,
				  nl ? (size_t)(nl - (r->chunk + r->pos)) : avail) < 0) {
			errno = EFBIG;
			return -1;
		}
		if (nl) {
			r->pos = (size_t)(nl - r->chunk) + 1;
			*complete = 1;
			break;
		}
		r->pos = r->fill;
	}
	r->lineno++;
	*line = pn_buf_str(&r->line);
	*len = pn_buf_len(&r->line);
	return 1;
}

/* audit_reader_lineno - number of the line last returned (1-based) */
unsigned long audit_reader_lineno(const audit_reader *r)
{
	return r->lineno;
}

/* audit_reader_path - the file name as given */
const char *audit_reader_path(const audit_reader *r)
{
	return r->path;
}

/* audit_reader_close - close, reporting a decompressor that failed */
int audit_reader_close(audit_reader *r, char **err)
{
	int status = 0, rc = 0;

	*err = NULL;
	if (r == NULL)
		return 0;
	if (r->fd > 0)
		close(r->fd);
	if (r->file_fd >= 0)
		close(r->file_fd);
	if (r->child > 0) {
		/* Closing the pipe early makes the child die of SIGPIPE: not an error. */
		while (waitpid(r->child, &status, 0) < 0 && errno == EINTR)
			;
		if (r->eof && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			*err = pn_asprintf("%s: %s -dc failed (damaged or truncated file?)", r->path,
					   r->tool);
			rc = -1;
		}
	}
	pn_buf_free(&r->line);
	pn_free(r->chunk);
	pn_free(r->path);
	pn_free(r);
	return rc;
}
