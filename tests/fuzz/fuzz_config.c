/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_config - libFuzzer target: arbitrary bytes as a configuration file */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every type, bounds, an enum and defaults that expand, so inputs can
 * reach each conversion and the expansion machinery. */
static const pn_param table[] = {
	{ "name", PN_PARAM_STR, "postern", 0, 0, NULL, "a string" },
	{ "dir", PN_PARAM_STR, "/run/$name", 0, 0, NULL, NULL },
	{ "socket", PN_PARAM_STR, "${dir}/s${name?.sock}", 0, 0, NULL, NULL },
	{ "workers", PN_PARAM_INT, "4", 1, 256, NULL, "threads" },
	{ "offset", PN_PARAM_INT, "-1", 0, 0, NULL, NULL },
	{ "enable", PN_PARAM_BOOL, "yes", 0, 0, NULL, NULL },
	{ "size", PN_PARAM_SIZE, "1m", 0, 1LL << 40, NULL, NULL },
	{ "timeout", PN_PARAM_TIME, "30s", 1, 7 * 86400, NULL, NULL },
	{ "action", PN_PARAM_ENUM, "tempfail", 0, 0, "tempfail|accept|reject", NULL },
	{ NULL, PN_PARAM_STR, NULL, 0, 0, NULL, NULL },
};

/* LLVMFuzzerTestOneInput - parse, then read and dump whatever was accepted */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL, *out = NULL;
	size_t outlen = 0;
	pn_config *cfg;
	FILE *fp;

	cfg = pn_config_parse_mem((const char *)data, size, "fuzz.conf", table, &err);
	if (cfg == NULL) {
		/* A failure must always explain itself and say where. */
		if (err == NULL || strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		pn_free(err);
		return 0;
	}
	if (err != NULL)
		abort();
	(void)pn_config_str(cfg, "socket");
	(void)pn_config_str(cfg, "action");
	if (pn_config_int(cfg, "workers") < 1 || pn_config_int(cfg, "workers") > 256)
		abort();
	(void)pn_config_int(cfg, "offset");
	(void)pn_config_int(cfg, "size");
	(void)pn_config_int(cfg, "timeout");
	(void)pn_config_bool(cfg, "enable");
	fp = open_memstream(&out, &outlen);
	if (fp != NULL) {
		pn_config_dump(cfg, fp, 0);
		pn_config_dump(cfg, fp, 1);
		fclose(fp);
		free(out);
	}
	pn_config_free(cfg);
	return 0;
}
