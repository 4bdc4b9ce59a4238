/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	filestamp - has this file changed since it was read
 * SYNOPSIS
 *	#include "common/filestamp.h"
 *
 *	typedef struct pn_filestamp {
 *		int       ok;
 *		dev_t     dev;
 *		ino_t     ino;
 *		off_t     size;
 *		long long mtime_ns;
 *	} pn_filestamp;
 *
 *	void pn_filestamp_set(pn_filestamp *fs, const struct stat *sb);
 *	pn_filestamp pn_filestamp_path(const char *path);
 *	int  pn_filestamp_same(const pn_filestamp *a, const pn_filestamp *b);
 *	int  pn_file_changed(const char *path, const pn_filestamp *then);
 * DESCRIPTION
 *	The one place that says whether a file (a policy, a Sieve script)
 *	is still the version a daemon read, as Postfix's dict_changed_name()
 *	does for its tables. A version is the device, inode, size and
 *	modification time in nanoseconds: an editor that writes a new file
 *	and renames it changes the inode, one that rewrites in place changes
 *	size or time.
 *
 *	pn_filestamp_set() records the stat of the file as it was read (take
 *	it with fstat() on the descriptor the text is read from, so the stamp
 *	and the text are the same version). pn_filestamp_path() stamps the
 *	file a path names now; ok is 0 when it cannot be stat'ed, so a file
 *	that disappears is a change too. pn_filestamp_same() compares two
 *	stamps. pn_file_changed() is 1 when path is no longer the version
 *	then was taken from.
 */
#ifndef PN_FILESTAMP_H
#define PN_FILESTAMP_H

#include <sys/stat.h>
#include <sys/types.h>

typedef struct pn_filestamp {
	int ok;			/* 0: no such file (or not stat'able) */
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns;
} pn_filestamp;

void pn_filestamp_set(pn_filestamp *fs, const struct stat *sb);
pn_filestamp pn_filestamp_path(const char *path);
int pn_filestamp_same(const pn_filestamp *a, const pn_filestamp *b);
int pn_file_changed(const char *path, const pn_filestamp *then);

#endif
