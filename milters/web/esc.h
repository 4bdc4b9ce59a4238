/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	esc - HTML escaping of untrusted text (web_esc, web_esc_n of web.h)
 * SYNOPSIS
 *	#include "milters/web/esc.h"
 *
 *	void web_esc(pn_buf *b, const char *s);
 *	void web_esc_n(pn_buf *b, const char *s, size_t n);
 * DESCRIPTION
 *	The one escaping function of postern-web, declared in web.h and
 *	implemented here so that the view modules (render.c, trailview.c,
 *	tlsview.c) and the pages (layout.c and the rest) share it without
 *	depending on the daemon's other modules.
 *
 *	The output is safe both as HTML text and inside a double- or
 *	single-quoted attribute value: & < > " ' become &amp; &lt; &gt;
 *	&quot; &#39;. Control characters other than tab and newline are
 *	dropped (CR, DEL and NUL included: web_esc_n() takes bytes that
 *	may hold NUL), and every invalid UTF-8 sequence becomes
 *	U+FFFD, so the page is always valid UTF-8. A NULL s writes nothing.
 * DIAGNOSTICS
 *	None. When b reaches its maximum the rest is not written (the
 *	caller sees it in pn_buf_len()).
 */
#ifndef WEB_ESC_H
#define WEB_ESC_H

#include <stddef.h>

#include "common/buf.h"

void web_esc(pn_buf *b, const char *s);
void web_esc_n(pn_buf *b, const char *s, size_t n);

#endif
