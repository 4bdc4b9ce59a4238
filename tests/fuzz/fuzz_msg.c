/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_msg - pn_msg_load (message files for the offline tools) and the
 * header block it rebuilds: any input, no crash, no leak, and the rebuilt
 * headers are never longer than the input allows. */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/milter/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pn_msg *m = pn_msg_load(data, size, 512, "/tmp");
	pn_buf b;

	pn_buf_init(&b, 0);
	pn_msg_write_headers(m, &b);
	pn_msg_header(m, "Subject", 1);
	/* every header line gains at most ": " and CRLFs for folded LFs */
	if (pn_buf_len(&b) > 4 * size + 2)
		__builtin_trap();
	pn_buf_free(&b);
	pn_msg_free(m);
	return 0;
}
