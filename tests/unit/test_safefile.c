/* SPDX-License-Identifier: BSD-2-Clause */
/* test_safefile - planted links, FIFOs and foreign files are refused; plain files work;
 * root's commands take the daemon user's rights (common/privs) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/privs.h"
#include "common/safefile.h"
#include "tests/unit/testlib.h"

#define OTHER_UID ((uid_t)54321)
#define OTHER_GID ((gid_t)54321)

typedef struct fixture {
	const char *dir;	/* the directory "another user" can write */
	const char *outdir;	/* where the outside file lives */
	char outside[128];	/* a file that must never change */
	int dirfd;
} fixture;

static const char OUTSIDE_TEXT[] = "precious\n";

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	f->dir = t_tmpdir("test_safefile");
	f->outdir = t_tmpdir("test_safefile-outside");
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->outdir);
	if (t_write_file(f->outside, OUTSIDE_TEXT, strlen(OUTSIDE_TEXT)) < 0)
		return -1;
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	*state = f;
	return f->dirfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	int rc;

	close(f->dirfd);
	rc = t_rmtree(f->dir) | t_rmtree(f->outdir);
	free(f);
	return rc;
}

/* outside_untouched - same bytes, same owner, one link */
static void outside_untouched(const fixture *f)
{
	char buf[64];
	struct stat st;
	int fd = open(f->outside, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(OUTSIDE_TEXT));
	assert_memory_equal(buf, OUTSIDE_TEXT, strlen(OUTSIDE_TEXT));
	assert_int_equal(stat(f->outside, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
}

static void symlink_is_refused_for_every_operation(void **state)
{
	fixture *f = *state;
	int fd, created = -1;

	assert_int_equal(symlinkat(f->outside, f->dirfd, "lock"), 0);
	errno = 0;
	assert_int_equal(pn_safe_open(f->dirfd, "lock", O_RDWR, PN_SAFE_ANY_OWNER), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(pn_safe_create(f->dirfd, "lock", O_RDWR, 0600, OTHER_UID, OTHER_GID), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(pn_safe_open_or_create(f->dirfd, "lock", O_RDWR, 0600, OTHER_UID,
						OTHER_GID, &created), -1);
	assert_int_equal(errno, ELOOP);
	outside_untouched(f);
	/* a fixed-name temporary file: the link goes, a new file takes its place */
	fd = pn_safe_create_tmp(f->dirfd, "lock", O_WRONLY, 0600, (uid_t)-1, (gid_t)-1);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new", 3), 3);
	assert_int_equal(pn_safe_check_fd(fd, geteuid()), 0);
	close(fd);
	outside_untouched(f);
	/* a linked directory is not a directory to work in */
	assert_int_equal(symlinkat("/etc", f->dirfd, "journal"), 0);
	assert_int_equal(pn_safe_opendir(f->dirfd, "journal", PN_SAFE_ANY_OWNER), -1);
	assert_true(errno == ELOOP || errno == ENOTDIR);
}

static void hard_link_is_refused(void **state)
{
	fixture *f = *state;
	int fd;

	assert_int_equal(linkat(AT_FDCWD, f->outside, f->dirfd, "day.jsonl", 0), 0);
	assert_int_equal(pn_safe_open(f->dirfd, "day.jsonl", O_RDWR, PN_SAFE_ANY_OWNER), -1);
	assert_int_equal(errno, EMLINK);
	assert_int_equal(pn_safe_open_or_create(f->dirfd, "day.jsonl", O_WRONLY | O_APPEND, 0600,
						(uid_t)-1, (gid_t)-1, NULL), -1);
	assert_int_equal(errno, EMLINK);
	fd = pn_safe_create_tmp(f->dirfd, "day.jsonl", O_WRONLY, 0600, (uid_t)-1, (gid_t)-1);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	close(fd);
	outside_untouched(f);
}

static void fifo_is_refused_without_blocking(void **state)
{
	fixture *f = *state;

	assert_int_equal(mkfifoat(f->dirfd, "fifo", 0600), 0);
	/* without O_NONBLOCK this open would wait for a writer forever */
	assert_int_equal(pn_safe_open(f->dirfd, "fifo", O_RDONLY, PN_SAFE_ANY_OWNER), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mkdirat(f->dirfd, "sub", 0700), 0);
	assert_int_equal(pn_safe_open(f->dirfd, "sub", O_RDONLY, PN_SAFE_ANY_OWNER), -1);
	assert_int_equal(pn_safe_opendir(f->dirfd, "fifo", PN_SAFE_ANY_OWNER), -1);
}

static void wrong_owner_is_refused(void **state)
{
	fixture *f = *state;
	int fd;

	if (geteuid() != 0)
		skip();
	fd = openat(f->dirfd, "theirs", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchown(fd, OTHER_UID, OTHER_GID), 0);
	close(fd);
	assert_int_equal(pn_safe_open(f->dirfd, "theirs", O_RDONLY, OTHER_UID + 1), -1);
	assert_int_equal(errno, EPERM);
	fd = pn_safe_open(f->dirfd, "theirs", O_RDONLY, OTHER_UID);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdirat(f->dirfd, "theirdir", 0700), 0);
	assert_int_equal(fchownat(f->dirfd, "theirdir", OTHER_UID, OTHER_GID, 0), 0);
	assert_int_equal(pn_safe_opendir(f->dirfd, "theirdir", OTHER_UID + 1), -1);
	assert_int_equal(errno, EPERM);
	fd = pn_safe_opendir(f->dirfd, "theirdir", OTHER_UID);
	assert_true(fd >= 0);
	close(fd);
}

static void created_files_go_to_the_owner(void **state)
{
	fixture *f = *state;
	struct stat st;
	int fd, created = -1, again;

	fd = pn_safe_open_or_create(f->dirfd, "maintenance.lock", O_RDWR, 0660, OTHER_UID,
				    OTHER_GID, &created);
	assert_true(fd >= 0);
	assert_int_equal(created, 1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	if (geteuid() == 0)
		assert_int_equal(st.st_uid, OTHER_UID);
	close(fd);
	/* the second time it exists, belongs to the owner and is opened */
	again = pn_safe_open_or_create(f->dirfd, "maintenance.lock", O_RDWR, 0660, OTHER_UID,
				       OTHER_GID, &created);
	assert_true(again >= 0);
	assert_int_equal(created, 0);
	close(again);
	/* O_CREAT and O_TRUNC belong to the create calls only */
	assert_int_equal(pn_safe_open(f->dirfd, "maintenance.lock", O_RDWR | O_TRUNC,
				      OTHER_UID), -1);
	assert_int_equal(errno, EINVAL);
	/* rename and unlink stay inside the directory */
	fd = pn_safe_create(f->dirfd, ".x.tmp", O_WRONLY, 0600, (uid_t)-1, (gid_t)-1);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pn_safe_rename(f->dirfd, ".x.tmp", "x"), 0);
	assert_int_equal(faccessat(f->dirfd, "x", F_OK, 0), 0);
	assert_int_equal(pn_safe_unlink(f->dirfd, "x"), 0);
	assert_int_equal(faccessat(f->dirfd, "x", F_OK, 0), -1);
	/* unlinking a planted link removes the link only */
	assert_int_equal(symlinkat(f->outside, f->dirfd, "y"), 0);
	assert_int_equal(pn_safe_unlink(f->dirfd, "y"), 0);
	outside_untouched(f);
}

/* privs_child - in a child: the switch, root's file refused, the invoker's scope */
static int privs_child(const fixture *f)
{
	int fd;

	if (pn_privs_become(OTHER_UID, OTHER_GID) < 0 || !pn_privs_switched())
		return 10;
	if (geteuid() != OTHER_UID || getegid() != OTHER_GID || getuid() != 0)
		return 11;
	/* root's 0600 file: out of reach with the daemon user's rights */
	if ((fd = open(f->outside, O_RDONLY)) >= 0 || errno != EACCES)
		return 12;
	if (pn_privs_invoker_begin() < 0 || geteuid() != 0)
		return 13;
	if ((fd = open(f->outside, O_RDONLY)) < 0)	/* a file the administrator named */
		return 14;
	close(fd);
	pn_privs_invoker_end();
	if (geteuid() != OTHER_UID || getegid() != OTHER_GID)
		return 15;
	return 0;
}

static void root_takes_the_daemon_users_rights_and_back_for_named_files(void **state)
{
	fixture *f = *state;
	int status;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(f->outside, 0600), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(privs_child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(symlink_is_refused_for_every_operation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hard_link_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(fifo_is_refused_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_owner_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(created_files_go_to_the_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(
			root_takes_the_daemon_users_rights_and_back_for_named_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
