/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	sort_store - postern-sort's response store: which keys were seen, until when
 * SYNOPSIS
 *	#include "milters/sort/sort_store.h"
 *
 *	sort_store *sort_store_open(const char *path, unsigned max_entries,
 *	                            char **err);
 *	void sort_store_close(sort_store *st);
 *	int sort_store_seen(sort_store *st, const unsigned char key[32],
 *	                    time_t now);
 *	int sort_store_put(sort_store *st, const unsigned char key[32],
 *	                   time_t until);
 *	int sort_store_claim(sort_store *st, const unsigned char key[32],
 *	                     time_t now, time_t until);
 * DESCRIPTION
 *	The memory the vacation and duplicate extensions need: a key (the
 *	SHA-256 of what identifies a reply or a message, so no address is
 *	stored in clear) and the time until which it counts as seen. It
 *	lives in one file that survives restarts and reloads, holds at most
 *	max_entries keys (the oldest expiry goes first when it is full), and
 *	is shared by every thread of the daemon.
 *
 *	sort_store_seen() tells whether key was recorded and has not expired
 *	at now. sort_store_put() records key (or moves its expiry) until
 *	until. sort_store_claim() does both at once under one lock: 1 when
 *	key was already seen at now (nothing changed), 0 when it was not and
 *	is now recorded until until: two threads answering the same sender
 *	at once send one vacation reply, not two.
 * DIAGNOSTICS
 *	sort_store_open() returns NULL and sets *err (free with pn_free())
 *	when the file cannot be opened or is not a store. The others return
 *	-1 on an I/O error (logged); the caller then errs on the safe side
 *	(no vacation reply; duplicate false).
 */
#ifndef SORT_STORE_H
#define SORT_STORE_H

#include <time.h>

typedef struct sort_store sort_store;

sort_store *sort_store_open(const char *path, unsigned max_entries, char **err);
void sort_store_close(sort_store *st);
int sort_store_seen(sort_store *st, const unsigned char key[32], time_t now);
int sort_store_put(sort_store *st, const unsigned char key[32], time_t until);
int sort_store_claim(sort_store *st, const unsigned char key[32], time_t now, time_t until);

#endif
