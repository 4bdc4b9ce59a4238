/* SPDX-License-Identifier: BSD-2-Clause */
/* journals - every host's journal in one shared archive directory (see journals.h) */
#include "milters/archive/journals.h"
#include "common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* cmp_name - qsort order of host names */
static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* host_dirs - names of the host journal directories under top */
static int host_dirs(const char *top, char ***names, size_t *n, int *legacy)
{
	DIR *d = opendir(top);
	struct dirent *e;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	*legacy = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		char *path;
		struct stat st;
		int dir;

		if (strlen(e->d_name) == 16 && strcmp(e->d_name + 10, ".jsonl") == 0) {
			*legacy = 1;	/* a day file of the single-host journal */
			continue;
		}
		if (!arc_journal_host_ok(e->d_name))
			continue;
		path = pn_asprintf("%s/%s", top, e->d_name);
		/* never follow a link planted in place of a host's directory */
		dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
		pn_free(path);
		if (!dir)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*names = pn_realloc(*names, cap * sizeof(char *));
		}
		(*names)[(*n)++] = pn_strdup(e->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(*names, *n, sizeof(char *), cmp_name);
	return 0;
}

/* visit - open one other journal, call fn, close it */
static int visit(const char *dir, const char *host, const arc_owner *o, long lock_ms,
		 arc_journals_fn fn, void *ctx, char **err)
{
	arc_journal *j = arc_journal_open_host(dir, host, o, lock_ms, err);
	int rc;

	if (j == NULL)
		return -1;
	rc = fn(ctx, j, err);
	arc_journal_close(j);
	return rc;
}

/* arc_journals_each - fn for this host's journal, then every other one */
int arc_journals_each(const char *dir, arc_journal *own, const arc_owner *o, long lock_ms,
		      arc_journals_fn fn, void *ctx, char **err)
{
	char *top, **names;
	size_t n, i;
	int legacy, rc;

	*err = NULL;
	if ((rc = fn(ctx, own, err)) < 0 || *arc_journal_host(own) == '\0')
		return rc;
	top = pn_asprintf("%s/journal", dir);
	if (host_dirs(top, &names, &n, &legacy) < 0) {
		*err = pn_asprintf("cannot list %s: %s", top, strerror(errno));
		pn_free(top);
		return -1;
	}
	pn_free(top);
	for (i = 0; i < n && rc == 0; i++)
		if (strcmp(names[i], arc_journal_host(own)) != 0)
			rc = visit(dir, names[i], o, lock_ms, fn, ctx, err);
	if (rc == 0 && legacy)
		rc = visit(dir, "", o, lock_ms, fn, ctx, err);
	for (i = 0; i < n; i++)
		pn_free(names[i]);
	pn_free(names);
	return rc;
}
