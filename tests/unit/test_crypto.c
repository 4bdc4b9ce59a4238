/* SPDX-License-Identifier: BSD-2-Clause */
/* test_crypto - SHA-256 (FIPS 180-2 vectors) and HMAC-SHA256 (RFC 4231 vectors) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"

static void sha256_vectors(void **state)
{
	static const struct {
		const char *input, *want;
	} cases[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char d[PN_SHA256_LEN];
		char hex[PN_SHA256_HEX_LEN + 1];
		pn_sha256 *h;

		pn_sha256_once(cases[i].input, strlen(cases[i].input), d);
		pn_hex(d, sizeof(d), hex);
		if (strcmp(hex, cases[i].want) != 0)
			fail_msg("sha256(\"%s\"): got %s, want %s", cases[i].input, hex, cases[i].want);
		/* byte by byte through the incremental interface: same digest */
		h = pn_sha256_new();
		for (j = 0; cases[i].input[j]; j++)
			pn_sha256_update(h, cases[i].input + j, 1);
		pn_sha256_final(h, d);
		pn_sha256_free(h);
		pn_hex(d, sizeof(d), hex);
		assert_string_equal(hex, cases[i].want);
	}
}

static void sha256_million_a(void **state)
{
	char block[1000];
	unsigned char d[PN_SHA256_LEN];
	char hex[PN_SHA256_HEX_LEN + 1];
	pn_sha256 *h = pn_sha256_new();
	int i;

	(void)state;
	memset(block, 'a', sizeof(block));
	for (i = 0; i < 1000; i++)
		pn_sha256_update(h, block, sizeof(block));
	pn_sha256_final(h, d);
	pn_sha256_free(h);
	pn_hex(d, sizeof(d), hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void hmac_rfc4231_vectors(void **state)
{
	unsigned char key1[20], key3[20], data3[50], key6[131];
	static const char data6[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	struct hmac_case {
		const unsigned char *key;
		size_t keylen;
		const void *data;
		size_t len;
		const char *want;
	} cases[4];
	size_t i;

	(void)state;
	memset(key1, 0x0b, sizeof(key1));
	memset(key3, 0xaa, sizeof(key3));
	memset(data3, 0xdd, sizeof(data3));
	memset(key6, 0xaa, sizeof(key6));
	cases[0] = (struct hmac_case){key1, 20, "Hi There", 8,
		"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"};
	cases[1] = (struct hmac_case){(const unsigned char *)"Jefe", 4,
		"what do ya want for nothing?", 28,
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"};
	cases[2] = (struct hmac_case){key3, 20, data3, 50,
		"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"};
	cases[3] = (struct hmac_case){key6, 131, data6, strlen(data6),
		"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"};
	for (i = 0; i < 4; i++) {
		unsigned char mac[PN_SHA256_LEN];
		char hex[PN_SHA256_HEX_LEN + 1];
		assert_int_equal(pn_hmac_sha256(cases[i].key, cases[i].keylen, cases[i].data,
						cases[i].len, mac), 0);
		pn_hex(mac, sizeof(mac), hex);
		if (strcmp(hex, cases[i].want) != 0)
			fail_msg("RFC 4231 case %zu: got %s, want %s", i + 1, hex, cases[i].want);
	}
}

static void incremental_hmac_matches_one_shot_and_rfc4231(void **state)
{
	/* RFC 4231 test case 2: key "Jefe" */
	static const char data[] = "what do ya want for nothing?";
	static const char want[] =
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	unsigned char one[PN_SHA256_LEN], inc[PN_SHA256_LEN];
	char hex[PN_SHA256_HEX_LEN + 1];
	size_t i;
	pn_sha256 *h;

	(void)state;
	assert_int_equal(pn_hmac_sha256("Jefe", 4, data, sizeof(data) - 1, one), 0);
	h = pn_hmac_sha256_new("Jefe", 4);
	for (i = 0; i < sizeof(data) - 1; i++)	/* one byte at a time */
		pn_sha256_update(h, data + i, 1);
	pn_sha256_final(h, inc);
	pn_sha256_free(h);
	assert_memory_equal(one, inc, sizeof(one));
	pn_hex(inc, sizeof(inc), hex);
	assert_string_equal(hex, want);
}

static void constant_time_compare(void **state)
{
	(void)state;
	assert_true(pn_ct_equal("abcdef", "abcdef", 6));
	assert_false(pn_ct_equal("abcdef", "abcdeg", 6));
	assert_true(pn_ct_equal("", "", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sha256_vectors),
		cmocka_unit_test(sha256_million_a),
		cmocka_unit_test(hmac_rfc4231_vectors),
		cmocka_unit_test(incremental_hmac_matches_one_shot_and_rfc4231),
		cmocka_unit_test(constant_time_compare),
	};
	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
