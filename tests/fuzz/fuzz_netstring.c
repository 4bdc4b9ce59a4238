/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_netstring - libFuzzer target: arbitrary bytes as a socketmap connection's input
 *
 * The bytes are read as the server reads them (common/netstring.h, the
 * socketmap's limit) and every request found is answered from a fixed
 * policy (milters/tls/socketmap.h). Checked: a netstring found lies
 * inside the input, re-framing it gives the same bytes, the input cut
 * anywhere before its end never gives an error the whole did not, and
 * every reply is one of Postfix's five status words.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/netstring.h"
#include "milters/tls/socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char POLICY[] =
	"partner.example min_version=TLSv1.2 direction=both\n"
	".bank.example outbound=secure match=mx.bank.example\n";

/* status_ok - the reply starts with a socketmap status word */
static int status_ok(const char *r)
{
	static const char *const words[] = {"OK ", "NOTFOUND ", "TEMP ", "TIMEOUT ", "PERM ", NULL};
	int i;

	for (i = 0; words[i]; i++)
		if (strncmp(r, words[i], strlen(words[i])) == 0)
			return 1;
	return 0;
}

/* LLVMFuzzerTestOneInput - parse requests until the bytes end or one is bad */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ptls_policy_set *policy;
	const char *buf = (const char *)data, *p, *why;
	size_t off = 0, plen, used, cut;
	char *err = NULL;
	pn_buf reply, frame;
	int rc;

	if (policy == NULL && (policy = ptls_policy_parse(POLICY, sizeof(POLICY) - 1, "p",
							  &err)) == NULL)
		abort();
	while (off < size) {
		rc = pn_netstring_parse(buf + off, size - off, PTLS_SOCKETMAP_REQUEST_MAX, &p, &plen,
					&used, &why);
		if (rc <= 0) {
			if ((rc < 0) != (why != NULL))
				abort();
			/* no prefix of bytes that are incomplete may be an error */
			for (cut = 0; rc == 0 && cut < size - off && cut < 64; cut++)
				if (pn_netstring_parse(buf + off, cut, PTLS_SOCKETMAP_REQUEST_MAX, &p,
						       &plen, &used, &why) != 0)
					abort();
			break;
		}
		if (used > size - off || p < buf + off || p + plen > buf + off + used
		    || plen > PTLS_SOCKETMAP_REQUEST_MAX)
			abort();
		pn_buf_init(&frame, 0);
		if (pn_netstring_put(&frame, p, plen) < 0 || pn_buf_len(&frame) != used
		    || memcmp(pn_buf_str(&frame), buf + off, used) != 0)
			abort();
		pn_buf_free(&frame);
		pn_buf_init(&reply, 0);
		{
			ptls_socketmap_view v = {policy, NULL, 0};
			ptls_socketmap_reply(&v, p, plen, &reply);
		}
		if (!status_ok(pn_buf_str(&reply)) || memchr(pn_buf_str(&reply), '\n',
							      pn_buf_len(&reply)))
			abort();
		pn_buf_free(&reply);
		off += used;
	}
	return 0;
}
