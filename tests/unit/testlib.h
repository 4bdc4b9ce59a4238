/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	testlib - what the unit tests share: strings, files, temporary directories
 * SYNOPSIS
 *	#include "tests/unit/testlib.h"
 *
 *	int         t_str_eq(const char *a, const char *b);
 *	const char *t_show(const char *s);
 *	size_t      t_count(const char *s, const char *what);
 *	char       *t_read_file(const char *path, size_t *len);
 *	int         t_write_file(const char *path, const void *data, size_t len);
 *	const char *t_tmpdir(const char *name);
 *	int         t_rmtree(const char *path);
 * DESCRIPTION
 *	t_str_eq() compares two strings where NULL equals only NULL.
 *	t_show() is the printable form of a string that may be NULL.
 *	t_count() counts the occurrences of what in s (overlapping ones too).
 *
 *	t_read_file() is pn_read_file() without a size limit a test would
 *	reach: the whole file, NUL-terminated, *len its size (len may be
 *	NULL); free it with pn_free(). t_write_file() creates or replaces
 *	path with exactly those bytes.
 *
 *	t_tmpdir() makes a fresh directory $TMPDIR/NAME.XXXXXX (/tmp without
 *	TMPDIR) and removes it with everything in it when the program exits:
 *	cleanup is deferred because a failed cmocka assertion leaves a test by
 *	longjmp, past any cleanup the test itself would do. POSTERN_KEEP=1
 *	keeps the directories for a post-mortem. The path belongs to testlib.
 *	t_rmtree() removes a tree now, without following symbolic links.
 * DIAGNOSTICS
 *	t_read_file() returns NULL with errno set; t_write_file() and
 *	t_rmtree() return 0 or -1. t_tmpdir() ends the program with a message
 *	when no directory can be made (no test could run).
 */
#ifndef POSTERN_TESTLIB_H
#define POSTERN_TESTLIB_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fileio.h"

static inline int t_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static inline const char *t_show(const char *s)
{
	return s ? s : "(null)";
}

static inline size_t t_count(const char *s, const char *what)
{
	size_t n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s++;
	}
	return n;
}

static inline char *t_read_file(const char *path, size_t *len)
{
	size_t n = 0;
	char *data = pn_read_file(path, (size_t)1 << 30, &n);

	if (len != NULL)
		*len = data != NULL ? n : 0;
	return data;
}

static inline int t_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int t_rmtree_one(const char *path, const struct stat *st, int flag,
			       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int t_rmtree(const char *path)
{
	return nftw(path, t_rmtree_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* the directories t_tmpdir() made, removed at exit */
#define T_TMPDIR_MAX 64
static char *t_tmpdirs[T_TMPDIR_MAX];

static inline void t_tmpdir_cleanup(void)
{
	int i;

	for (i = 0; i < T_TMPDIR_MAX && t_tmpdirs[i] != NULL; i++) {
		if (getenv("POSTERN_KEEP") == NULL)
			t_rmtree(t_tmpdirs[i]);
		pn_free(t_tmpdirs[i]);
		t_tmpdirs[i] = NULL;
	}
}

static inline const char *t_tmpdir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int i;

	for (i = 0; i < T_TMPDIR_MAX && t_tmpdirs[i] != NULL; i++)
		;
	if (i == T_TMPDIR_MAX) {
		fprintf(stderr, "t_tmpdir: more than %d directories\n", T_TMPDIR_MAX);
		exit(1);
	}
	t_tmpdirs[i] = pn_asprintf("%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (mkdtemp(t_tmpdirs[i]) == NULL) {
		perror(t_tmpdirs[i]);
		exit(1);
	}
	if (i == 0)
		atexit(t_tmpdir_cleanup);
	return t_tmpdirs[i];
}

#endif
