/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jsonflat.h - walk a JSON document (as natsyncd's own writer makes them,
 * ctlproto.h) and report its scalar members with their path, so another
 * view (the metrics, metrics.c) can be derived from a show command's JSON
 * without a second copy of what the command shows. Pure code.
 *
 * Members of objects are reported; arrays are skipped whole (they hold
 * lists, such as a history, not figures). Paths join the keys of the
 * enclosing objects with '.' ("" for the document's top object).
 */
#ifndef NATSYNC_JSONFLAT_H
#define NATSYNC_JSONFLAT_H

#include <stdint.h>

enum ns_jf_kind {
	NS_JF_STRING,   /* text: the unescaped string */
	NS_JF_NUMBER,   /* text: the number as written */
	NS_JF_BOOL,     /* text: "true" or "false" */
	NS_JF_NULL,
	NS_JF_END,      /* the object at path ends (key NULL) */
};

#define NS_JF_PATH_MAX 128
#define NS_JF_TEXT_MAX 256  /* longer strings are cut */

/* One member (or the end of an object). Return non-zero to stop the walk. */
typedef int (*ns_jf_cb)(const char *path, const char *key, enum ns_jf_kind kind,
			const char *text, void *arg);

/*
 * ns_json_flatten - walk doc (NUL-terminated; its top value must be an
 * object). Returns 0, the callback's non-zero value, or -1 when doc is not
 * valid JSON (or nests deeper than 16, or has a path longer than
 * NS_JF_PATH_MAX).
 */
int ns_json_flatten(const char *doc, ns_jf_cb cb, void *arg);

#endif
