/* SPDX-License-Identifier: BSD-2-Clause */
/* files - durable file operations for the archive (see files.h) */
#include "milters/archive/files.h"
#include "common/alloc.h"
#include "common/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* arc_owner_of - the owner new files get when we run as root */
void arc_owner_of(const char *dir, arc_owner *o)
{
	struct stat st;

	o->set = 0;
	if (geteuid() != 0 || stat(dir, &st) < 0 || st.st_uid == 0)
		return;
	o->set = 1;
	o->uid = st.st_uid;
	o->gid = st.st_gid;
}

/* arc_owner_fd - give an open file to the archive's owner */
void arc_owner_fd(const arc_owner *o, int fd)
{
	if (o && o->set && fchown(fd, o->uid, o->gid) < 0)
		return;	/* best effort: the daemon will report what it cannot write */
}

/* arc_owner_path - give a path to the archive's owner */
void arc_owner_path(const arc_owner *o, const char *path)
{
	if (o && o->set && lchown(path, o->uid, o->gid) < 0)
		return;
}

/* arc_owner_uid - who owns the archive's files: its owner, or we when we made it */
uid_t arc_owner_uid(const arc_owner *o)
{
	return o && o->set ? o->uid : geteuid();
}

/* arc_open_in - a file in dirfd, never through a planted link */
int arc_open_in(int dirfd, const char *name, int flags, mode_t mode, const arc_owner *o,
		int *created)
{
	uid_t uid = arc_owner_uid(o);
	gid_t gid = o && o->set ? o->gid : (gid_t)-1;

	if (created)
		*created = 0;
	if (flags & O_CREAT)
		return pn_safe_open_or_create(dirfd, name, flags & ~O_CREAT, mode, uid, gid, created);
	return pn_safe_open(dirfd, name, flags, uid);
}

/* open_in_parent - open the last component of path inside its directory */
static int open_in_parent(const char *path, int flags, mode_t mode, const arc_owner *o)
{
	char *dir = pn_strdup(path), *slash = strrchr(dir, '/');
	const char *name = path;
	int dirfd = AT_FDCWD, fd, saved;

	if (slash) {
		name = path + (slash - dir) + 1;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		/* the archive directory itself is the administrator's setting */
		if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			pn_free(dir);
			return -1;
		}
	}
	fd = arc_open_in(dirfd, name, flags, mode, o, NULL);
	saved = errno;
	if (dirfd != AT_FDCWD)
		close(dirfd);
	pn_free(dir);
	errno = saved;
	return fd;
}

/* arc_fsync_dir - make a directory's entries durable */
int arc_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* arc_mkdir - create a missing directory and make its entry durable */
int arc_mkdir(const char *path, mode_t mode, const arc_owner *o)
{
	char *parent, *slash;
	int rc;

	if (mkdir(path, mode) < 0)
		return errno == EEXIST ? 0 : -1;
	arc_owner_path(o, path);
	parent = pn_strdup(path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	rc = slash ? arc_fsync_dir(parent) : arc_fsync_dir(".");
	pn_free(parent);
	return rc;
}

/* arc_write_all - write everything or fail */
int arc_write_all(int fd, const void *data, size_t len)
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

/* arc_lock - flock a lock file, waiting at most timeout_ms */
int arc_lock(const char *path, int exclusive, long timeout_ms, const arc_owner *o)
{
	int fd = open_in_parent(path, O_RDWR | O_CREAT, 0660, o), saved;
	struct timespec start, now, nap = {0, 5 * 1000 * 1000};

	if (fd < 0 && errno == EACCES)
		fd = open_in_parent(path, O_RDONLY, 0, o);	/* flock needs no write access */
	if (fd < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L
		    >= timeout_ms) {
			errno = ETIMEDOUT;
			break;
		}
		nanosleep(&nap, NULL);
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* arc_unlock - release a lock from arc_lock */
void arc_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
