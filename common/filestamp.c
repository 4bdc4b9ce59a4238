/* SPDX-License-Identifier: BSD-2-Clause */
/* filestamp - has this file changed since it was read (see filestamp.h) */
#include "common/filestamp.h"

#include <string.h>

/* pn_filestamp_set - the version a stat describes */
void pn_filestamp_set(pn_filestamp *fs, const struct stat *sb)
{
	memset(fs, 0, sizeof(*fs));
	fs->ok = 1;
	fs->dev = sb->st_dev;
	fs->ino = sb->st_ino;
	fs->size = sb->st_size;
	fs->mtime_ns = (long long)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
}

/* pn_filestamp_path - the version path names now (ok = 0: none) */
pn_filestamp pn_filestamp_path(const char *path)
{
	pn_filestamp fs;
	struct stat sb;

	memset(&fs, 0, sizeof(fs));
	if (stat(path, &sb) == 0)
		pn_filestamp_set(&fs, &sb);
	return fs;
}

/* pn_filestamp_same - two stamps are the same file version */
int pn_filestamp_same(const pn_filestamp *a, const pn_filestamp *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size
	       && a->mtime_ns == b->mtime_ns;
}

/* pn_file_changed - path is no longer the version then was taken from */
int pn_file_changed(const char *path, const pn_filestamp *then)
{
	pn_filestamp now = pn_filestamp_path(path);

	return !pn_filestamp_same(&now, then);
}
