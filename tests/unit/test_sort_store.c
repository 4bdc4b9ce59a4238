/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sort_store - postern-sort's response store: expiry, restarts, the bound, threads */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "milters/sort/sort_store.h"
#include "tests/unit/testlib.h"

/* key_of - a distinct key per number */
static void key_of(unsigned n, unsigned char key[32])
{
	memset(key, 0xa5, 32);
	memcpy(key, &n, sizeof(n));
}

static char *store_path(void)
{
	return pn_asprintf("%s/responses", t_tmpdir("postern-store"));
}

static off_t size_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void a_key_is_seen_until_it_expires(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *st = sort_store_open(path, 100, &err);
	unsigned char k[32], other[32];

	(void)state;
	assert_non_null(st);
	key_of(1, k);
	key_of(2, other);
	assert_int_equal(sort_store_seen(st, k, 1000), 0);
	assert_int_equal(sort_store_put(st, k, 2000), 0);
	assert_int_equal(sort_store_seen(st, k, 1000), 1);
	assert_int_equal(sort_store_seen(st, k, 1999), 1);
	assert_int_equal(sort_store_seen(st, k, 2000), 0);	/* expired at until */
	assert_int_equal(sort_store_seen(st, other, 1000), 0);
	/* claim: the first caller gets 0 and records it, the next 1 */
	assert_int_equal(sort_store_claim(st, other, 1000, 1500), 0);
	assert_int_equal(sort_store_claim(st, other, 1001, 9999), 1);
	assert_int_equal(sort_store_seen(st, other, 1600), 0);	/* the second claim changed nothing */
	assert_int_equal(sort_store_claim(st, other, 1600, 1700), 0);	/* expired: claimed again */
	/* put moves the expiry either way */
	assert_int_equal(sort_store_put(st, k, 1200), 0);
	assert_int_equal(sort_store_seen(st, k, 1300), 0);
	sort_store_close(st);
	pn_free(path);
}

static void keys_survive_a_restart_and_the_latest_expiry_wins(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *st = sort_store_open(path, 100, &err);
	unsigned char k[32];
	unsigned i;

	(void)state;
	assert_non_null(st);
	for (i = 0; i < 50; i++) {
		key_of(i, k);
		assert_int_equal(sort_store_put(st, k, 5000 + i), 0);
	}
	key_of(7, k);
	assert_int_equal(sort_store_put(st, k, 100), 0);	/* moved into the past */
	sort_store_close(st);

	st = sort_store_open(path, 100, &err);
	assert_non_null(st);
	for (i = 0; i < 50; i++) {
		key_of(i, k);
		assert_int_equal(sort_store_seen(st, k, 5000 + i - 1), i != 7);
		assert_int_equal(sort_store_seen(st, k, 5000 + i), 0);
	}
	sort_store_close(st);
	pn_free(path);
}

static void the_store_is_bounded_and_drops_the_oldest_expiry(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *st = sort_store_open(path, 4, &err);
	unsigned char k[32];
	unsigned i;
	off_t biggest = 0;

	(void)state;
	assert_non_null(st);
	key_of(0, k);
	assert_int_equal(sort_store_put(st, k, 9000), 0);
	key_of(1, k);
	assert_int_equal(sort_store_put(st, k, 100), 0);	/* oldest expiry */
	key_of(2, k);
	assert_int_equal(sort_store_put(st, k, 8000), 0);
	key_of(3, k);
	assert_int_equal(sort_store_put(st, k, 7000), 0);
	key_of(4, k);
	assert_int_equal(sort_store_put(st, k, 6000), 0);	/* full: key 1 goes */
	key_of(1, k);
	assert_int_equal(sort_store_seen(st, k, 50), 0);
	for (i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		key_of(i, k);
		assert_int_equal(sort_store_seen(st, k, 50), 1);
	}
	/* an attacker sending a million distinct IDs fills memory and disk
	 * no further than the bound */
	for (i = 100; i < 100000; i++) {
		key_of(i, k);
		assert_int_equal(sort_store_put(st, k, 20000 + i), 0);
		if (size_of(path) > biggest)
			biggest = size_of(path);
	}
	assert_true(biggest <= 16 + 40 * (2 * 4 + 1024 + 1));
	sort_store_close(st);
	/* after a restart it still holds the 4 latest */
	st = sort_store_open(path, 4, &err);
	assert_non_null(st);
	for (i = 99996; i < 100000; i++) {
		key_of(i, k);
		assert_int_equal(sort_store_seen(st, k, 20000), 1);
	}
	key_of(99995, k);
	assert_int_equal(sort_store_seen(st, k, 20000), 0);
	sort_store_close(st);
	pn_free(path);
}

static void a_record_cut_short_by_a_crash_is_dropped(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *st = sort_store_open(path, 10, &err);
	unsigned char k[32];
	FILE *f;

	(void)state;
	assert_non_null(st);
	key_of(1, k);
	assert_int_equal(sort_store_put(st, k, 3000), 0);
	sort_store_close(st);
	f = fopen(path, "ab");
	assert_non_null(f);
	fwrite("garbage", 1, 7, f);
	fclose(f);
	st = sort_store_open(path, 10, &err);
	assert_non_null(st);
	assert_int_equal(size_of(path), 16 + 40);
	assert_int_equal(sort_store_seen(st, k, 2000), 1);
	key_of(2, k);
	assert_int_equal(sort_store_put(st, k, 3000), 0);
	sort_store_close(st);
	st = sort_store_open(path, 10, &err);
	assert_non_null(st);
	assert_int_equal(sort_store_seen(st, k, 2000), 1);	/* aligned after the cut */
	sort_store_close(st);
	pn_free(path);
}

static void a_foreign_file_or_a_link_is_refused(void **state)
{
	char *path = store_path(), *err = NULL;
	char *link = pn_asprintf("%s.link", path);
	sort_store *st;

	(void)state;
	assert_int_equal(t_write_file(path, "root:x:0:0::/root:/bin/sh\n", 26), 0);
	st = sort_store_open(path, 10, &err);
	assert_null(st);
	assert_non_null(strstr(err, "not a postern-sort response store"));
	pn_free(err);
	assert_int_equal(symlink(path, link), 0);
	st = sort_store_open(link, 10, &err);
	assert_null(st);
	assert_non_null(err);
	pn_free(err);
	/* the file that was not a store is untouched */
	assert_int_equal(size_of(path), 26);
	st = sort_store_open(path, 0, &err);
	assert_null(st);
	pn_free(err);
	pn_free(link);
	pn_free(path);
}

static void opening_a_path_twice_shares_one_store(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *a = sort_store_open(path, 10, &err), *b = sort_store_open(path, 10, &err);
	unsigned char k[32];

	(void)state;
	assert_non_null(a);
	assert_ptr_equal(a, b);
	key_of(3, k);
	assert_int_equal(sort_store_put(a, k, 3000), 0);
	sort_store_close(a);	/* b still uses it */
	assert_int_equal(sort_store_seen(b, k, 2000), 1);
	sort_store_close(b);
	pn_free(path);
}

struct racer {
	sort_store *st;
	int won;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned char k[32];
	unsigned i;

	for (i = 0; i < 2000; i++) {
		key_of(i, k);
		if (sort_store_claim(r->st, k, 10, 1000) == 0)
			r->won++;
	}
	return NULL;
}

static void threads_claiming_one_key_get_it_once(void **state)
{
	char *path = store_path(), *err = NULL;
	sort_store *st = sort_store_open(path, 5000, &err);
	struct racer r[8];
	pthread_t t[8];
	int i, total = 0;

	(void)state;
	assert_non_null(st);
	for (i = 0; i < 8; i++) {
		r[i].st = st;
		r[i].won = 0;
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		total += r[i].won;
	}
	assert_int_equal(total, 2000);
	sort_store_close(st);
	pn_free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_key_is_seen_until_it_expires),
		cmocka_unit_test(keys_survive_a_restart_and_the_latest_expiry_wins),
		cmocka_unit_test(the_store_is_bounded_and_drops_the_oldest_expiry),
		cmocka_unit_test(a_record_cut_short_by_a_crash_is_dropped),
		cmocka_unit_test(a_foreign_file_or_a_link_is_refused),
		cmocka_unit_test(opening_a_path_twice_shares_one_store),
		cmocka_unit_test(threads_claiming_one_key_get_it_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
