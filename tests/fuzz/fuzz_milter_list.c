/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_milter_list - libFuzzer target: arbitrary bytes as a Postfix
 * smtpd_milters value, split into sockets as check --postfix does */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/postfix_milters.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* each_socket - every socket handed out lies inside the value and is not empty */
static void each_socket(void *ctx, const char *spec, size_t len)
{
	const char *value = ctx;

	if (len == 0 || spec < value || spec + len > value + strlen(value))
		abort();
	if (memchr(spec, ',', len) || memchr(spec, ' ', len) || memchr(spec, '{', len))
		abort();	/* a separator never ends up inside a socket */
}

/* LLVMFuzzerTestOneInput - split the bytes up to the first NUL */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = pn_strndup((const char *)data, size);

	pn_postfix_milter_list(value, each_socket, value);
	pn_free(value);
	return 0;
}
