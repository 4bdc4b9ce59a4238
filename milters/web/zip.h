/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	zip - a minimal writer of "stored" (uncompressed) zip archives
 * SYNOPSIS
 *	#include "milters/web/zip.h"
 *
 *	web_zip *web_zip_open(int fd);
 *	int web_zip_add(web_zip *z, const char *name, const void *data,
 *	                size_t len, long long mtime);
 *	int web_zip_close(web_zip *z);
 *	unsigned long web_crc32(unsigned long crc, const void *data, size_t len);
 * DESCRIPTION
 *	The web console's "zip of .eml files" export. Each entry is written
 *	stored (method 0): a local header with the CRC-32 and sizes, the
 *	bytes, and at close the central directory; APPNOTE 6.3 without
 *	extensions, which every unzip, Python's zipfile and the desktop
 *	tools read. Why not libzip: mail is mostly text already compressed
 *	by the transfer encodings, an export is downloaded once, and
 *	these 150 lines need no new library in the daemon nor a package
 *	on every host; why stored: deflate would need zlib for a few
 *	percent. No ZIP64: an archive over 4 GiB or 65535 entries is
 *	refused (the page says to export as mbox).
 * DIAGNOSTICS
 *	web_zip_add() and web_zip_close() return 0, or -1 (write error,
 *	or beyond the limits, errno EFBIG); web_zip_close() always frees z.
 */
#ifndef WEB_ZIP_H
#define WEB_ZIP_H

#include <stddef.h>

typedef struct web_zip web_zip;

web_zip *web_zip_open(int fd);
int web_zip_add(web_zip *z, const char *name, const void *data, size_t len, long long mtime);
int web_zip_close(web_zip *z);
unsigned long web_crc32(unsigned long crc, const void *data, size_t len);

#endif
