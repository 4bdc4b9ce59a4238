/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_sts_policy - libFuzzer target: arbitrary bytes as an MTA-STS policy file and TXT record */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "milters/tls/sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - what parses is consistent; what fails says why */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL, *answer, id[PTLS_STS_ID_MAX + 1];
	ptls_sts_policy *p = ptls_sts_policy_parse((const char *)data, size, &err);
	size_t i;
	int r;

	if (p == NULL) {
		if (err == NULL)
			abort();
		/* the reason is logged: no server byte may be a control or non-ASCII byte */
		for (i = 0; err[i]; i++)
			if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
				abort();
		pn_free(err);
	} else {
		if (err != NULL || p->max_age < 0 || p->max_age > PTLS_STS_MAX_AGE_MAX
		    || p->mx_count > PTLS_STS_MX_MAX)
			abort();
		if (p->mode != PTLS_STS_MODE_NONE && p->mx_count == 0)
			abort();
		for (i = 0; i < p->mx_count; i++) {
			const char *m = p->mx[i];
			char host[300];

			/* a plain pattern matches itself; "*.d" matches "x.d" */
			if (strncmp(m, "*.", 2) == 0)
				snprintf(host, sizeof(host), "x%s", m + 1);
			else
				snprintf(host, sizeof(host), "%s", m);
			if (!ptls_sts_mx_match(p, host))
				abort();
			if (strpbrk(m, " :\n\r\t") != NULL)	/* would break the Postfix answer */
				abort();
		}
		answer = ptls_sts_postfix_answer(p);
		if ((p->mode == PTLS_STS_MODE_ENFORCE) != (answer != NULL))
			abort();
		{
			/* written back (cache file, RFC 8460 policy-string), it parses the same */
			char *text = ptls_sts_policy_text(p), *again_answer, *e2 = NULL;
			ptls_sts_policy *again = ptls_sts_policy_parse(text, strlen(text), &e2);

			if (again == NULL || again->mode != p->mode || again->max_age != p->max_age
			    || again->mx_count != p->mx_count)
				abort();
			again_answer = ptls_sts_postfix_answer(again);
			if ((answer == NULL) != (again_answer == NULL)
			    || (answer && strcmp(answer, again_answer) != 0))
				abort();
			pn_free(again_answer);
			ptls_sts_policy_free(again);
			pn_free(text);
		}
		pn_free(answer);
		ptls_sts_policy_free(p);
	}
	r = ptls_sts_txt_parse((const char *)data, size, id);
	if (r == 1 && (strlen(id) == 0 || strlen(id) > PTLS_STS_ID_MAX))
		abort();
	return 0;
}
