/* SPDX-License-Identifier: BSD-2-Clause */
/* index_pg_stub - TEMPORARY: stands for h-pgindex's index_pg.c until merged */
#include "milters/archive/index.h"
#include "common/alloc.h"

/* arc_index_open_pg - not built in yet */
arc_index *arc_index_open_pg(const char *conninfo, int fulltext, char **err)
{
	(void)conninfo; (void)fulltext;
	*err = pn_strdup("the PostgreSQL index is not built in yet");
	return NULL;
}

/* arc_index_shared - only PostgreSQL is shared */
int arc_index_shared(const arc_index *x)
{
	(void)x;
	return 0;
}
