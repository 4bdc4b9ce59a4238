/* SPDX-License-Identifier: BSD-2-Clause */
/* zip - stored zip archives for the export page (see zip.h) */
#include "milters/web/zip.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "milters/archive/files.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct web_zip {
	int fd;
	uint64_t offset;	/* bytes written so far */
	unsigned entries;
	pn_buf central;		/* the central directory, written at close */
	int failed;
};

unsigned long web_crc32(unsigned long crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = (uint32_t)crc ^ 0xffffffffu;
	int k;

	while (len--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* le16, le32 - little-endian fields */
static void le16(pn_buf *b, unsigned v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	pn_buf_append(b, x, 2);
}

static void le32(pn_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	pn_buf_append(b, x, 4);
}

/* dos_time - MS-DOS time and date of t (UTC; 1980 at the earliest) */
static void dos_time(long long t, unsigned *tm_out, unsigned *date_out)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (tm.tm_year < 80) {
		*tm_out = 0;
		*date_out = (1 << 5) | 1;
		return;
	}
	*tm_out = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*date_out = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

web_zip *web_zip_open(int fd)
{
	web_zip *z = pn_calloc(1, sizeof(*z));

	z->fd = fd;
	pn_buf_init(&z->central, 0);
	return z;
}

int web_zip_add(web_zip *z, const char *name, const void *data, size_t len, long long mtime)
{
	size_t nlen = strlen(name);
	unsigned t, d;
	uint32_t crc = (uint32_t)web_crc32(0, data, len);
	pn_buf h;

	if (z->failed)
		return -1;
	if (z->entries >= 65535 || nlen > 65535 || (uint64_t)len + 30 + nlen + z->offset > 0xffffffffu) {
		errno = EFBIG;
		z->failed = 1;
		return -1;
	}
	dos_time(mtime, &t, &d);
	pn_buf_init(&h, 0);
	le32(&h, 0x04034b50);	/* local file header */
	le16(&h, 10);		/* version needed: 1.0 (stored) */
	le16(&h, 0x0800);	/* flags: the name is UTF-8 */
	le16(&h, 0);		/* method: stored */
	le16(&h, t);
	le16(&h, d);
	le32(&h, crc);
	le32(&h, (uint32_t)len);
	le32(&h, (uint32_t)len);
	le16(&h, (unsigned)nlen);
	le16(&h, 0);
	pn_buf_append(&h, name, nlen);
	/* its central directory entry */
	le32(&z->central, 0x02014b50);
	le16(&z->central, 0x031e);	/* made by: unix, 3.0 */
	le16(&z->central, 10);
	le16(&z->central, 0x0800);
	le16(&z->central, 0);
	le16(&z->central, t);
	le16(&z->central, d);
	le32(&z->central, crc);
	le32(&z->central, (uint32_t)len);
	le32(&z->central, (uint32_t)len);
	le16(&z->central, (unsigned)nlen);
	le16(&z->central, 0);		/* extra */
	le16(&z->central, 0);		/* comment */
	le16(&z->central, 0);		/* disk */
	le16(&z->central, 0);		/* internal attributes */
	le32(&z->central, 0100600u << 16);	/* external: a regular file, 0600 */
	le32(&z->central, (uint32_t)z->offset);
	pn_buf_append(&z->central, name, nlen);
	if (arc_write_all(z->fd, pn_buf_str(&h), pn_buf_len(&h)) < 0
	    || arc_write_all(z->fd, data, len) < 0) {
		z->failed = 1;
		pn_buf_free(&h);
		return -1;
	}
	z->offset += pn_buf_len(&h) + len;
	z->entries++;
	pn_buf_free(&h);
	return 0;
}

int web_zip_close(web_zip *z)
{
	pn_buf e;
	int rc = z->failed ? -1 : 0;

	pn_buf_init(&e, 0);
	le32(&e, 0x06054b50);	/* end of central directory */
	le16(&e, 0);
	le16(&e, 0);
	le16(&e, z->entries);
	le16(&e, z->entries);
	le32(&e, (uint32_t)pn_buf_len(&z->central));
	le32(&e, (uint32_t)z->offset);
	le16(&e, 0);
	if (rc == 0 && (z->offset + pn_buf_len(&z->central) > 0xffffffffu
			|| arc_write_all(z->fd, pn_buf_str(&z->central), pn_buf_len(&z->central)) < 0
			|| arc_write_all(z->fd, pn_buf_str(&e), pn_buf_len(&e)) < 0))
		rc = -1;
	pn_buf_free(&e);
	pn_buf_free(&z->central);
	pn_free(z);
	return rc;
}
