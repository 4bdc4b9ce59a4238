/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * static - /static/app.css and /static/app.js, compiled into the binary:
 * no file to install, nothing loaded from elsewhere, nothing inline (the
 * Content-Security-Policy allows 'self' only). The layout narrows to one
 * column on a phone's width.
 */
#include "milters/web/pages.h"

#include <string.h>

static const char app_css[] =
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d1d1f;background:#f6f6f4}\n"
	"header{display:flex;flex-wrap:wrap;align-items:center;gap:.5em 1em;padding:.6em 1em;"
	"background:#23313f;color:#fff}\n"
	"header a{color:#fff;margin-right:1em}\n"
	".brand{font-weight:700;margin-right:1em}\n"
	"nav{display:flex;flex-wrap:wrap;align-items:center;gap:.3em;flex:1}\n"
	".who{margin-left:auto;margin-right:.5em;opacity:.85}\n"
	"form.logout{display:inline;margin:0}\n"
	"main{padding:1em;max-width:80em;margin:0 auto}\n"
	"h1{font-size:1.4em;margin:.3em 0 .8em}\n"
	"h2{font-size:1.15em;margin:1.2em 0 .5em}\n"
	"form.search{display:grid;grid-template-columns:repeat(auto-fill,minmax(14em,1fr));"
	"gap:.5em 1em;margin-bottom:1em}\n"
	"label{display:flex;flex-direction:column;font-size:.9em;color:#444}\n"
	"input,select,button,textarea{font:inherit;padding:.35em .5em;border:1px solid #999;"
	"border-radius:4px;background:#fff}\n"
	"button{background:#23313f;color:#fff;border-color:#23313f;cursor:pointer}\n"
	"table{border-collapse:collapse;width:100%;background:#fff}\n"
	"th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #ddd;"
	"vertical-align:top;overflow-wrap:anywhere}\n"
	"th{background:#eceae4}\n"
	".error{color:#a40000;font-weight:600}\n"
	".notice{color:#185c18}\n"
	"pre,.body{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;padding:.6em;"
	"border:1px solid #ddd}\n"
	"iframe{width:100%;min-height:24em;border:1px solid #999;background:#fff}\n"
	".paging{display:flex;gap:1em;margin:1em 0}\n"
	"dl.envelope{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}\n"
	"dl.envelope dt{font-weight:600}\n"
	"dl.envelope dd{margin:0;overflow-wrap:anywhere}\n"
	".held{color:#a40000;font-weight:600}\n"
	".export label{display:inline-flex;flex-direction:row;align-items:center;gap:.4em}\n"
	".export select{width:auto}\n"
	"#headers dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}\n"
	"#headers dt{font-weight:600}\n"
	"#headers dd{margin:0;overflow-wrap:anywhere}\n"
	"#hold form{display:flex;flex-wrap:wrap;align-items:end;gap:.5em}\n"
	"#hold label{flex:1;min-width:12em}\n"
	"@media (max-width:40em){\n"
	" main{padding:.5em}\n"
	" table.results thead{display:none}\n"
	" table.results tr{display:block;border-bottom:2px solid #ccc;padding:.3em 0}\n"
	" table.results td{display:block;border:0;padding:.1em .3em}\n"
	" dl.envelope,#headers dl{grid-template-columns:1fr}\n"
	" .who{margin-left:0}\n"
	"}\n";

static const char app_js[] =
	"// Postern web console: the only script, loaded from /static/app.js.\n"
	"'use strict';\n"
	"document.addEventListener('DOMContentLoaded', function () {\n"
	"  var all = document.getElementById('select-all');\n"
	"  if (all) {\n"
	"    all.addEventListener('change', function () {\n"
	"      var boxes = document.querySelectorAll('#export-form input[name=\"id\"]');\n"
	"      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;\n"
	"    });\n"
	"  }\n"
	"});\n";

/* web_static - the compiled-in file for path, or NULL */
pn_http_response *web_static(const char *path)
{
	const char *body, *type;
	pn_http_response *resp;

	if (strcmp(path, "/static/app.css") == 0) {
		body = app_css;
		type = "text/css; charset=utf-8";
	} else if (strcmp(path, "/static/app.js") == 0) {
		body = app_js;
		type = "text/javascript; charset=utf-8";
	} else {
		return NULL;
	}
	resp = pn_http_response_new(200, type);
	pn_buf_puts(pn_http_body(resp), body);
	/* the same bytes until the next release */
	pn_http_set_header(resp, "Cache-Control", "private, max-age=3600");
	return resp;
}
