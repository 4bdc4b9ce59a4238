/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	files - durable file operations for the archive
 * SYNOPSIS
 *	#include "milters/archive/files.h"
 *
 *	void arc_owner_of(const char *dir, arc_owner *o);
 *	void arc_owner_fd(const arc_owner *o, int fd);
 *	void arc_owner_path(const arc_owner *o, const char *path);
uid_t arc_owner_uid(const arc_owner *o);
int arc_open_in(int dirfd, const char *name, int flags, mode_t mode, const arc_owner *o,
		int *created);
 *	uid_t arc_owner_uid(const arc_owner *o);
 *	int  arc_open_in(int dirfd, const char *name, int flags, mode_t mode,
 *	                 const arc_owner *o, int *created);
 *	int  arc_mkdir(const char *path, mode_t mode, const arc_owner *o);
 *	int  arc_fsync_dir(const char *dir);
 *	int  arc_write_all(int fd, const void *data, size_t len);
 *	int  arc_lock(const char *path, int exclusive, long timeout_ms,
 *	              const arc_owner *o);
 *	void arc_unlock(int fd);
 * DESCRIPTION
 *	The archive is written by the daemon's unprivileged user, and read
 *	and maintained by tools an administrator may run as root. A file
 *	root creates there would then be unwritable for the daemon, which
 *	would answer every message with a temporary failure. So when the
 *	process runs as root, arc_owner_of() records the owner of the
 *	archive directory and arc_owner_fd()/arc_owner_path() give each new
 *	file and directory to that owner; otherwise they do nothing.
 *
 *	Whoever holds the daemon's user can plant a link under any name in
 *	the archive, so every file is opened through common/safefile:
 *	arc_open_in() opens NAME in the directory dirfd without following a
 *	link, refusing anything but a regular file with one link owned by
 *	arc_owner_uid() (the archive's owner, or ourselves); with O_CREAT in
 *	flags a missing file is created exclusively and given to the
 *	archive's owner (*created, which may be NULL, says so).
 *
 *	arc_mkdir() creates one directory if it is missing and then syncs
 *	its parent, so the new entry survives a crash. arc_fsync_dir()
 *	syncs a directory after a rename or unlink in it. arc_write_all()
 *	writes everything or fails.
 *
 *	arc_lock() opens (creating, through arc_open_in) a lock file and takes a shared or
 *	exclusive flock(2) on it, waiting at most timeout_ms (polling, since
 *	flock has no timeout); arc_unlock() releases it. Each call opens its
 *	own file description, so threads of one process exclude each other
 *	as well as processes do.
 * DIAGNOSTICS
 *	Functions return 0 (arc_lock: a descriptor) or -1 with errno set;
 *	arc_lock() sets ETIMEDOUT when the lock stayed taken.
 */
#ifndef ARC_FILES_H
#define ARC_FILES_H

#include <stddef.h>
#include <sys/types.h>

typedef struct arc_owner {
	int set;
	uid_t uid;
	gid_t gid;
} arc_owner;

void arc_owner_of(const char *dir, arc_owner *o);
void arc_owner_fd(const arc_owner *o, int fd);
void arc_owner_path(const arc_owner *o, const char *path);
uid_t arc_owner_uid(const arc_owner *o);
int arc_open_in(int dirfd, const char *name, int flags, mode_t mode, const arc_owner *o,
		int *created);
int arc_mkdir(const char *path, mode_t mode, const arc_owner *o);
int arc_fsync_dir(const char *dir);
int arc_write_all(int fd, const void *data, size_t len);
int arc_lock(const char *path, int exclusive, long timeout_ms, const arc_owner *o);
void arc_unlock(int fd);

#endif
