/* SPDX-License-Identifier: BSD-2-Clause */
/* safefile - open files inside a directory another user can write (see safefile.h) */
#include "common/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* close_keep_errno - close fd without losing the error being reported */
static int close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/* owner_ok - owned by the expected user or by ourselves */
static int owner_ok(const struct stat *st, uid_t owner)
{
	return owner == PN_SAFE_ANY_OWNER || st->st_uid == owner || st->st_uid == geteuid();
}

/* pn_safe_check_fd - a regular file, one link, the right owner */
int pn_safe_check_fd(int fd, uid_t owner)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_nlink != 1) {
		errno = EMLINK;	/* a hard link planted to a file elsewhere */
		return -1;
	}
	if (!owner_ok(&st, owner)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* clear_nonblock - O_NONBLOCK only guarded the open against FIFOs */
static int clear_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* pn_safe_opendir - a directory entry, not a link to one */
int pn_safe_opendir(int dirfd, const char *name, uid_t owner)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return close_keep_errno(fd);
	if (!owner_ok(&st, owner)) {
		errno = EPERM;
		return close_keep_errno(fd);
	}
	return fd;
}

/* pn_safe_open - an existing regular file of ours */
int pn_safe_open(int dirfd, const char *name, int flags, uid_t owner)
{
	int fd;

	if (flags & (O_CREAT | O_TRUNC)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (pn_safe_check_fd(fd, owner) < 0 || clear_nonblock(fd) < 0)
		return close_keep_errno(fd);
	return fd;
}

/* pn_safe_create - a new file, given to uid:gid when root creates it */
int pn_safe_create(int dirfd, const char *name, int flags, mode_t mode, uid_t uid, gid_t gid)
{
	int fd;

	flags &= ~O_TRUNC;
	fd = openat(dirfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* only this descriptor, which we just created, is ever chowned */
	if (geteuid() == 0 && uid != (uid_t)-1 && uid != 0 && fchown(fd, uid, gid) < 0) {
		unlinkat(dirfd, name, 0);
		return close_keep_errno(fd);
	}
	return fd;
}

/* pn_safe_open_or_create - the existing file, or a new one */
int pn_safe_open_or_create(int dirfd, const char *name, int flags, mode_t mode, uid_t uid,
			   gid_t gid, int *created)
{
	int tries, fd;

	flags &= ~(O_CREAT | O_TRUNC | O_EXCL);
	for (tries = 0; tries < 10; tries++) {
		if ((fd = pn_safe_open(dirfd, name, flags, uid)) >= 0) {
			if (created)
				*created = 0;
			return fd;
		}
		if (errno != ENOENT)
			return -1;
		if ((fd = pn_safe_create(dirfd, name, flags, mode, uid, gid)) >= 0) {
			if (created)
				*created = 1;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		/* created by someone else between the two calls: open it */
	}
	errno = EAGAIN;
	return -1;
}

/* pn_safe_create_tmp - whatever has the name goes, then a new file */
int pn_safe_create_tmp(int dirfd, const char *name, int flags, mode_t mode, uid_t uid,
		       gid_t gid)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -1;
	return pn_safe_create(dirfd, name, flags, mode, uid, gid);
}

/* pn_safe_unlink - remove an entry (a link is removed, never its target) */
int pn_safe_unlink(int dirfd, const char *name)
{
	return unlinkat(dirfd, name, 0);
}

/* pn_safe_rename - rename an entry within a directory */
int pn_safe_rename(int dirfd, const char *from, const char *to)
{
	return renameat(dirfd, from, dirfd, to);
}
