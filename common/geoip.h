/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	geoip - country and AS number of a client IP address (MaxMind DB)
 * SYNOPSIS
 *	#include "common/geoip.h"
 *
 *	pn_geoip *pn_geoip_open(const char *country_db, const char *asn_db,
 *	                        char **err);
 *	int  pn_geoip_lookup(const pn_geoip *g, const char *ip, pn_geo *out,
 *	                     char **err);
 *	void pn_geo_clear(pn_geo *geo);
 *	void pn_geoip_free(pn_geoip *g);
 * DESCRIPTION
 *	Looks up the address of an SMTP client in MaxMind DB (.mmdb) files
 *	through libmaxminddb: a country database laid out like
 *	GeoLite2-Country or GeoLite2-City, and an AS database laid out like
 *	GeoLite2-ASN. Either path may be NULL or "" when the administrator
 *	has no such file; that half of every answer is then simply unknown.
 *
 *	pn_geoip_open() maps both files (MMDB_MODE_MMAP) once, at start-up.
 *	The handle is read-only afterwards: any number of threads may call
 *	pn_geoip_lookup() on it at the same time without locking, because
 *	libmaxminddb's lookup functions only read the mapped file and the
 *	MMDB_s. pn_geoip_free() unmaps the files; no lookup may be running.
 *	To pick up a new database, open a new handle; install new files by
 *	rename(), never by rewriting in place (a mapped file that shrinks
 *	underneath a reader makes it die of SIGBUS).
 *
 *	pn_geoip_lookup() takes the address as Postfix hands it to a milter:
 *	"192.0.2.1", "2001:db8::1", or with the "IPv6:" prefix Postfix puts
 *	on IPv6 literals (any case). IPv4-mapped IPv6 addresses
 *	("::ffff:192.0.2.1") are looked up as the IPv4 address, so they work
 *	in IPv4-only databases too. It fills *out (always initialised, even
 *	on error; release it with pn_geo_clear()):
 *
 *	    country  ISO 3166-1 alpha-2 code in upper case, from
 *	             country.iso_code, else registered_country.iso_code
 *	             (anycast and satellite ranges have only the latter);
 *	             "" if unknown.
 *	    asn      autonomous_system_number; 0 if unknown (AS 0 is
 *	             reserved, so it never names a real network).
 *	    as_org   autonomous_system_organization, or NULL. Control
 *	             characters are replaced by spaces, because callers put
 *	             it into log lines and header fields.
 *
 *	A NULL handle or a NULL ip (a local submission has no address) finds
 *	nothing. So does an address the databases do not cover: private,
 *	loopback and unallocated ranges are normal and not errors; neither
 *	is an IPv6 address asked of an IPv4-only database.
 *
 *	pn_geo_clear() frees as_org and empties *geo; it may be called twice.
 *	pn_geoip_free() accepts NULL.
 * DIAGNOSTICS
 *	pn_geoip_open() returns NULL when a file is missing, unreadable or
 *	not a valid MaxMind DB; if err is not NULL, *err is then a message
 *	naming the database and its path with libmaxminddb's reason (and
 *	the system error, or "not a regular file"), e.g. "country database
 *	/x.mmdb: Error opening the specified MaxMind DB file (No such file
 *	or directory)".
 *	The caller frees it with pn_free().
 *
 *	pn_geoip_lookup() returns 1 if it found a country or an AS, 0 if it
 *	found nothing, and -1 on an error: an ip that is not an IPv4 or IPv6
 *	address, or corrupt database contents (libmaxminddb checks only the
 *	metadata at open). On -1, *out is empty and, if err is not NULL,
 *	*err is a message for the caller to log and then pn_free(), e.g.
 *	"geoip: lookup of 192.0.2.1 in /x.mmdb: The MaxMind DB file's search
 *	tree is corrupt" or "geoip: not an IP address: \"unknown\"".
 */
#ifndef PN_GEOIP_H
#define PN_GEOIP_H

typedef struct pn_geoip pn_geoip;

typedef struct pn_geo {
	char country[3];
	unsigned long asn;
	char *as_org;
} pn_geo;

pn_geoip *pn_geoip_open(const char *country_db, const char *asn_db, char **err);
int pn_geoip_lookup(const pn_geoip *g, const char *ip, pn_geo *out, char **err);
void pn_geo_clear(pn_geo *geo);
void pn_geoip_free(pn_geoip *g);

#endif
