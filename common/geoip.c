/* SPDX-License-Identifier: BSD-2-Clause */
/* geoip - country and AS lookups in MaxMind DB files (see geoip.h) */
#include "common/geoip.h"
#include "common/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* A database is open when its path is not NULL. */
struct pn_geoip {
	MMDB_s country;
	MMDB_s asn;
	char *country_path;
	char *asn_path;
};

/* One client address, already normalised for MMDB_lookup_sockaddr. */
typedef union client_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
} client_addr;

#define IPV6_PREFIX "IPv6:"

/* open_db - map one database; NULL path or "" means not configured */
static int open_db(MMDB_s *db, char **path_out, const char *kind, const char *path,
		   char **err)
{
	int status;
	int saved_errno;
	char ebuf[128];
	const char *syserr;
	struct stat st;

	*path_out = NULL;
	if (path == NULL || *path == '\0')
		return 0;
	errno = 0;
	status = MMDB_open(path, MMDB_MODE_MMAP, db);
	if (status == MMDB_SUCCESS) {
		*path_out = pn_strdup(path);
		return 0;
	}
	if (err != NULL) {
		/* libmaxminddb's own text does not say why open() or mmap() failed. */
		saved_errno = errno;
		if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && saved_errno != 0) {
			/* mmap() of a directory fails with the puzzling ENODEV. */
			if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
				syserr = "not a regular file";
			else
				syserr = strerror_r(saved_errno, ebuf, sizeof(ebuf));
			*err = pn_asprintf("%s database %s: %s (%s)", kind, path,
					   MMDB_strerror(status), syserr);
		} else {
			*err = pn_asprintf("%s database %s: %s", kind, path, MMDB_strerror(status));
		}
	}
	return -1;
}

/* pn_geoip_open - map the configured databases for the life of the daemon */
pn_geoip *pn_geoip_open(const char *country_db, const char *asn_db, char **err)
{
	pn_geoip *g = pn_calloc(1, sizeof(*g));

	if (err != NULL)
		*err = NULL;
	if (open_db(&g->country, &g->country_path, "country", country_db, err) < 0
	    || open_db(&g->asn, &g->asn_path, "ASN", asn_db, err) < 0) {
		pn_geoip_free(g);
		return NULL;
	}
	return g;
}

/* pn_geoip_free - unmap the databases; no lookup may still be running */
void pn_geoip_free(pn_geoip *g)
{
	if (g == NULL)
		return;
	if (g->country_path != NULL)
		MMDB_close(&g->country);
	if (g->asn_path != NULL)
		MMDB_close(&g->asn);
	pn_free(g->country_path);
	pn_free(g->asn_path);
	pn_free(g);
}

/* pn_geo_clear - release an answer and leave it empty for reuse */
void pn_geo_clear(pn_geo *geo)
{
	pn_free(geo->as_org);
	memset(geo, 0, sizeof(*geo));
}

/*
 * parse_addr - Postfix's client address to a sockaddr. inet_pton rather
 * than getaddrinfo (which MMDB_lookup_string uses): it cannot touch the
 * resolver and does not allocate on every lookup.
 */
static int parse_addr(const char *ip, client_addr *ca)
{
	int v6_only = 0;

	memset(ca, 0, sizeof(*ca));
	if (strncasecmp(ip, IPV6_PREFIX, sizeof(IPV6_PREFIX) - 1) == 0) {
		ip += sizeof(IPV6_PREFIX) - 1;
		v6_only = 1;
	}
	if (!v6_only && inet_pton(AF_INET, ip, &ca->in4.sin_addr) == 1) {
		ca->in4.sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &ca->in6.sin6_addr) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&ca->in6.sin6_addr)) {
		/* As IPv4, so that IPv4-only databases answer too. */
		struct in_addr a4;
		memcpy(&a4, &ca->in6.sin6_addr.s6_addr[12], sizeof(a4));
		memset(ca, 0, sizeof(*ca));
		ca->in4.sin_family = AF_INET;
		ca->in4.sin_addr = a4;
		return 0;
	}
	ca->in6.sin6_family = AF_INET6;
	return 0;
}

/* find_entry - the database record for an address: 1 found, 0 none, -1 error */
static int find_entry(const MMDB_s *db, const client_addr *ca, MMDB_entry_s *entry,
		      const char **why)
{
	MMDB_lookup_result_s res;
	int status = MMDB_SUCCESS;

	res = MMDB_lookup_sockaddr(db, &ca->sa, &status);
	if (status == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return 0;
	if (status != MMDB_SUCCESS) {
		*why = MMDB_strerror(status);
		return -1;
	}
	if (!res.found_entry)
		return 0;
	*entry = res.entry;
	return 1;
}

/*
 * get_field - one value of a record: 1 present, 0 absent, -1 error. A
 * path that runs into a value of another type (a third-party database
 * with its own layout) is treated as absent: the record just lacks it.
 */
static int get_field(MMDB_entry_s *entry, MMDB_entry_data_s *data, const char *const *path,
		     const char **why)
{
	int status = MMDB_aget_value(entry, data, path);

	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return 0;
	if (status != MMDB_SUCCESS) {
		*why = MMDB_strerror(status);
		return -1;
	}
	return data->has_data ? 1 : 0;
}

/* iso_code - accept a two-letter code only, so callers can trust country[] */
static int iso_code(const MMDB_entry_data_s *d, char out[3])
{
	int i;
	char c;

	if (d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size != 2)
		return 0;
	for (i = 0; i < 2; i++) {
		c = d->utf8_string[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return 0;
		out[i] = c;
	}
	out[2] = '\0';
	return 1;
}

/* as_number - the AS number whatever unsigned width the writer chose */
static unsigned long as_number(const MMDB_entry_data_s *d)
{
	switch (d->type) {
	case MMDB_DATA_TYPE_UINT16:
		return d->uint16;
	case MMDB_DATA_TYPE_UINT32:
		return d->uint32;
	case MMDB_DATA_TYPE_INT32:
		return d->int32 > 0 ? (unsigned long)d->int32 : 0;
	case MMDB_DATA_TYPE_UINT64:
		return d->uint64 <= UINT32_MAX ? (unsigned long)d->uint64 : 0;
	default:
		return 0;
	}
}

/* lookup_country - fill out->country from a country database */
static int lookup_country(const MMDB_s *db, const client_addr *ca, pn_geo *out,
			  const char **why)
{
	static const char *const country[] = { "country", "iso_code", NULL };
	static const char *const registered[] = { "registered_country", "iso_code", NULL };
	MMDB_entry_s entry;
	MMDB_entry_data_s d;
	int r;

	if ((r = find_entry(db, ca, &entry, why)) <= 0)
		return r;
	if ((r = get_field(&entry, &d, country, why)) < 0)
		return -1;
	if (r == 1 && iso_code(&d, out->country))
		return 1;
	if ((r = get_field(&entry, &d, registered, why)) < 0)
		return -1;
	return r == 1 && iso_code(&d, out->country);
}

/* lookup_asn - fill out->asn and out->as_org from an ASN database */
static int lookup_asn(const MMDB_s *db, const client_addr *ca, pn_geo *out, const char **why)
{
	static const char *const number[] = { "autonomous_system_number", NULL };
	static const char *const org[] = { "autonomous_system_organization", NULL };
	MMDB_entry_s entry;
	MMDB_entry_data_s d;
	size_t i;
	int r;

	if ((r = find_entry(db, ca, &entry, why)) <= 0)
		return r;
	if ((r = get_field(&entry, &d, number, why)) < 0)
		return -1;
	if (r == 1)
		out->asn = as_number(&d);
	if ((r = get_field(&entry, &d, org, why)) < 0)
		return -1;
	if (r == 1 && d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size > 0) {
		out->as_org = pn_memdup0(d.utf8_string, d.data_size);
		for (i = 0; i < d.data_size; i++) {
			unsigned char c = (unsigned char)out->as_org[i];
			if (c < 0x20 || c == 0x7f)
				out->as_org[i] = ' ';
		}
	}
	return out->asn != 0 || out->as_org != NULL;
}

/* pn_geoip_lookup - country and AS of one client address */
int pn_geoip_lookup(const pn_geoip *g, const char *ip, pn_geo *out, char **err)
{
	client_addr ca;
	const char *why = NULL;
	const char *db_path = NULL;
	int found = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (err != NULL)
		*err = NULL;
	if (g == NULL || ip == NULL)
		return 0;
	if (parse_addr(ip, &ca) < 0) {
		if (err != NULL)
			*err = pn_asprintf("geoip: not an IP address: \"%.64s\"", ip);
		return -1;
	}
	if (g->country_path != NULL) {
		if ((r = lookup_country(&g->country, &ca, out, &why)) < 0)
			db_path = g->country_path;
		else
			found |= r;
	}
	if (db_path == NULL && g->asn_path != NULL) {
		if ((r = lookup_asn(&g->asn, &ca, out, &why)) < 0)
			db_path = g->asn_path;
		else
			found |= r;
	}
	if (db_path != NULL) {
		pn_geo_clear(out);
		if (err != NULL)
			*err = pn_asprintf("geoip: lookup of %s in %s: %s", ip, db_path, why);
		return -1;
	}
	return found;
}
