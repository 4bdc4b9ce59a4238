/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	safefile - open files inside a directory another user can write
 * SYNOPSIS
 *	#include "common/safefile.h"
 *
 *	int pn_safe_opendir(int dirfd, const char *name, uid_t owner);
 *	int pn_safe_open(int dirfd, const char *name, int flags, uid_t owner);
 *	int pn_safe_create(int dirfd, const char *name, int flags, mode_t mode,
 *	                   uid_t uid, gid_t gid);
 *	int pn_safe_open_or_create(int dirfd, const char *name, int flags,
 *	                           mode_t mode, uid_t uid, gid_t gid,
 *	                           int *created);
 *	int pn_safe_create_tmp(int dirfd, const char *name, int flags,
 *	                       mode_t mode, uid_t uid, gid_t gid);
 *	int pn_safe_unlink(int dirfd, const char *name);
 *	int pn_safe_rename(int dirfd, const char *from, const char *to);
 *	int pn_safe_check_fd(int fd, uid_t owner);
 * DESCRIPTION
 *	A daemon's data directory belongs to the daemon's user. A tool run
 *	as root that opens a name there must not be led elsewhere: whoever
 *	holds the daemon's user can plant a symbolic link, a hard link to a
 *	root file, a FIFO or a device node under any name root will use.
 *	These functions take the directory as an open descriptor (dirfd;
 *	AT_FDCWD and an absolute name also work) and one name in it, never
 *	follow a symbolic link in that name (O_NOFOLLOW), never block on a
 *	FIFO (O_NONBLOCK while opening), and refuse what is not a regular
 *	file with exactly one link owned by OWNER or by the caller's own
 *	effective uid. OWNER PN_SAFE_ANY_OWNER skips the owner test (the
 *	type and link tests stay). Every descriptor has O_CLOEXEC.
 *
 *	pn_safe_opendir() opens a directory the same way (O_DIRECTORY,
 *	O_NOFOLLOW, owner test) for use as the next dirfd.
 *
 *	pn_safe_open() opens an existing file. FLAGS is the access mode
 *	plus O_APPEND if wanted; O_CREAT and O_TRUNC are refused (EINVAL):
 *	truncate the returned descriptor with ftruncate() instead, after
 *	the checks.
 *
 *	pn_safe_create() creates a new file with O_CREAT|O_EXCL, so an
 *	existing entry of any kind makes it fail with EEXIST. When the
 *	caller is root and uid is not (uid_t)-1, the new descriptor (never
 *	a path) is given to uid:gid, so the daemon can still write it.
 *
 *	pn_safe_open_or_create() opens the file if it exists (checked as
 *	pn_safe_open) or creates it (as pn_safe_create), retrying when the
 *	two race; *created (may be NULL) tells which happened. It checks
 *	the owner against uid. Use it for lock files and append-only logs.
 *
 *	pn_safe_create_tmp() is for a temporary file of a fixed name: it
 *	removes whatever entry has that name (removing a link never touches
 *	its target) and then creates the file exclusively.
 *
 *	pn_safe_unlink() and pn_safe_rename() remove and rename entries of
 *	dirfd; neither follows a link in the names (unlinkat, renameat).
 *
 *	pn_safe_check_fd() applies the type, link and owner tests to an
 *	open descriptor.
 * DIAGNOSTICS
 *	Descriptors are returned (0 for the others) or -1 with errno set:
 *	ELOOP the name is a symbolic link, EINVAL not a regular file (or
 *	bad flags), EISDIR/ENOTDIR the wrong kind for opendir, EMLINK more
 *	than one link, EPERM wrong owner, or the error of the system call.
 */
#ifndef PN_SAFEFILE_H
#define PN_SAFEFILE_H

#include <sys/types.h>

#define PN_SAFE_ANY_OWNER ((uid_t)-1)

int pn_safe_opendir(int dirfd, const char *name, uid_t owner);
int pn_safe_open(int dirfd, const char *name, int flags, uid_t owner);
int pn_safe_create(int dirfd, const char *name, int flags, mode_t mode, uid_t uid, gid_t gid);
int pn_safe_open_or_create(int dirfd, const char *name, int flags, mode_t mode, uid_t uid,
			   gid_t gid, int *created);
int pn_safe_create_tmp(int dirfd, const char *name, int flags, mode_t mode, uid_t uid,
		       gid_t gid);
int pn_safe_unlink(int dirfd, const char *name);
int pn_safe_rename(int dirfd, const char *from, const char *to);
int pn_safe_check_fd(int fd, uid_t owner);

#endif
