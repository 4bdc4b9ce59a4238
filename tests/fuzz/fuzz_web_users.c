/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_web_users - libFuzzer target: arbitrary bytes as postern-web's users
 * file, line by line, then as a user name for the file writer's check */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/web/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	char hash[WEB_HASH_MAX], *name;
	web_user u;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (web_users_parse_line(p, (size_t)(nl - p), &u, hash, sizeof(hash)) == 1) {
			/* an accepted account can never smuggle a field or a line */
			if (!web_user_name_ok(u.name) || strpbrk(hash, ":\n\r") != NULL
			    || u.role == WEB_ROLE_NONE)
				__builtin_trap();
		}
	}
	name = pn_memdup0(data, size);
	if (web_user_name_ok(name) && strpbrk(name, ":\n\r") != NULL)
		__builtin_trap();
	web_role_parse(name);
	pn_free(name);
	return 0;
}
