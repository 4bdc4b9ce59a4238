/* SPDX-License-Identifier: BSD-2-Clause */
/* test_snapshot - the files a snapshot watches for the milter layer (common/milter/snapshot.c) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/filestamp.h"
#include "common/milter/engine.h"
#include "tests/unit/testlib.h"

static const pn_param no_params[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};

/* The engine's state: the file it was "read" from, the version read, and
 * how often the layer may look. */
typedef struct file_state {
	char *path;
	pn_filestamp stamp;
	long interval;
} file_state;

static file_state loading;	/* what the next load() returns a copy of */

static void *file_load(const pn_config *cfg, char **err)
{
	file_state *st = pn_calloc(1, sizeof(*st));

	(void)cfg;
	(void)err;
	*st = loading;
	st->path = pn_strdup(loading.path);
	return st;
}

static void file_unload(void *state)
{
	file_state *st = state;

	pn_free(st->path);
	pn_free(st);
}

static void file_watch(const void *state, pn_snapshot *s)
{
	const file_state *st = state;

	pn_snapshot_watch(s, st->path, &st->stamp);
	pn_snapshot_watch_interval(s, st->interval);
}

static const pn_engine watching_engine = {
	.name = "watching",
	.params = no_params,
	.load = file_load,
	.unload = file_unload,
	.watch_files = file_watch,
};

static const pn_engine plain_engine = {
	.name = "plain",
	.params = no_params,
	.load = file_load,
	.unload = file_unload,
};

/* snapshot_of - a snapshot of engine e loaded from path as it is now */
static pn_snapshot *snapshot_of(const pn_engine *e, const char *path, long interval)
{
	char *err = NULL;
	pn_snapshot *s;

	loading.path = (char *)path;
	loading.stamp = pn_filestamp_path(path);
	loading.interval = interval;
	s = pn_snapshot_new(e, pn_config_defaults(no_params), &err);
	assert_non_null(s);
	assert_null(err);
	return s;
}

static void a_changed_file_is_named_until_a_reload_fails_on_it(void **state)
{
	const char *dir = t_tmpdir("test_snapshot");
	char *path = pn_asprintf("%s/policy", dir);
	pn_snapshot *s;

	(void)state;
	assert_int_equal(t_write_file(path, "one\n", 4), 0);
	s = snapshot_of(&watching_engine, path, 0);
	assert_true(pn_snapshot_look_due(s));
	assert_null(pn_snapshot_changed(s));
	/* the administrator edits the file: the layer must reload */
	assert_int_equal(t_write_file(path, "one two\n", 8), 0);
	assert_true(pn_snapshot_look_due(s));
	assert_string_equal(pn_snapshot_changed(s), path);
	/* that version does not load: asked once, not at every connection */
	pn_snapshot_reload_failed(s);
	assert_null(pn_snapshot_changed(s));
	/* the next edit is a change again */
	assert_int_equal(t_write_file(path, "one two three\n", 14), 0);
	assert_string_equal(pn_snapshot_changed(s), path);
	/* a file that disappears is a change too */
	pn_snapshot_reload_failed(s);
	assert_int_equal(remove(path), 0);
	assert_string_equal(pn_snapshot_changed(s), path);
	pn_snapshot_release(s);
	pn_free(path);
}

static void looks_at_most_once_per_interval(void **state)
{
	const char *dir = t_tmpdir("test_snapshot");
	char *path = pn_asprintf("%s/script", dir);
	pn_snapshot *s;

	(void)state;
	assert_int_equal(t_write_file(path, "keep;\n", 6), 0);
	s = snapshot_of(&watching_engine, path, 3600);
	assert_true(pn_snapshot_look_due(s));
	assert_false(pn_snapshot_look_due(s));
	pn_snapshot_release(s);
	pn_free(path);
}

static void an_engine_that_watches_nothing_is_never_looked_at(void **state)
{
	const char *dir = t_tmpdir("test_snapshot");
	char *path = pn_asprintf("%s/policy", dir);
	pn_snapshot *s;

	(void)state;
	assert_int_equal(t_write_file(path, "one\n", 4), 0);
	s = snapshot_of(&plain_engine, path, 0);
	assert_false(pn_snapshot_look_due(s));
	assert_null(pn_snapshot_changed(s));
	pn_snapshot_release(s);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_changed_file_is_named_until_a_reload_fails_on_it),
		cmocka_unit_test(looks_at_most_once_per_interval),
		cmocka_unit_test(an_engine_that_watches_nothing_is_never_looked_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
