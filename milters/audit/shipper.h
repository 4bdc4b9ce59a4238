/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	shipper - the daemon's thread that ships the trail to the audit store
 * SYNOPSIS
 *	#include "milters/audit/shipper.h"
 *
 *	audit_shipper *audit_shipper_get(const char *trail_path,
 *	                                 const char *head_path,
 *	                                 const char *conninfo);
 *	void audit_shipper_wake(audit_shipper *s);
 *	void audit_shipper_put(audit_shipper *s);
 * DESCRIPTION
 *	Shipping records to PostgreSQL (store.h) never happens on the
 *	delivery path: the milter appends to the local trail and wakes a
 *	thread of its own, which ships in batches and, when the database is
 *	down, keeps trying every second while mail flows as before. So a
 *	database outage can neither tempfail nor slow a message.
 *
 *	Like the trail (trail.h), the shipper is process-wide, keyed by the
 *	trail's path: a reload (a new snapshot) takes another reference to
 *	the running one and gives it the new connection string, so there is
 *	never a second shipper of one trail. audit_shipper_get() returns it
 *	(created without a thread); audit_shipper_put() drops a reference,
 *	and the last one stops the thread (after the pass it is in) and
 *	frees it.
 *
 *	audit_shipper_wake() is called when the serving worker starts or
 *	reloads (the engine's serve hook) and after each append (cheap: a
 *	mutex and a condition signal). The first call starts the thread:
 *	only the daemon serves and appends, so the command-line tools,
 *	which load the same state, never start one. The thread runs a pass when woken, and at
 *	least once a second, so records written before a restart or during
 *	an outage are shipped without waiting for new mail. It logs once
 *	when the store becomes unreachable (records stay in the trail) and
 *	once when it has caught up again.
 */
#ifndef AUDIT_SHIPPER_H
#define AUDIT_SHIPPER_H

typedef struct audit_shipper audit_shipper;

audit_shipper *audit_shipper_get(const char *trail_path, const char *head_path,
				 const char *conninfo);
void audit_shipper_wake(audit_shipper *s);
void audit_shipper_put(audit_shipper *s);

#endif
