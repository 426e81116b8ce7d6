// SPDX-License-Identifier: GPL-2.0
/* jsonflat.c - JSON document to (path, key, scalar) members (see jsonflat.h). */
#include <stdio.h>
#include <string.h>

#include "jsonflat.h"

#define JF_DEPTH_MAX 16

struct jf {
	const char *s;
	ns_jf_cb cb;
	void *arg;
	int depth;
	int stop;       /* the callback's non-zero answer */
};

static void ws(struct jf *j)
{
	while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
		j->s++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append one code point as UTF-8 when it fits. */
static void put_utf8(char *out, size_t *n, size_t len, unsigned int cp)
{
	char b[4];
	size_t k;

	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	}
	if (*n + k < len) {
		memcpy(out + *n, b, k);
		*n += k;
	}
}

/* A string literal at j->s into out (cut at len - 1). 0 or -1. */
static int string(struct jf *j, char *out, size_t len)
{
	size_t n = 0;
	unsigned int cp;
	int h[4];

	if (*j->s != '"')
		return -1;
	for (j->s++; *j->s != '"'; j->s++) {
		char c = *j->s;

		if (!c || (unsigned char)c < 0x20)
			return -1;
		if (c == '\\') {
			c = *++j->s;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				for (int i = 0; i < 4; i++)
					if ((h[i] = hexval(j->s[1 + i])) < 0)
						return -1;
				cp = (unsigned int)(h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3]);
				/* a surrogate half alone is not a character */
				put_utf8(out, &n, len, cp >= 0xd800 && cp < 0xe000 ? 0xfffd : cp);
				j->s += 4;
				continue;
			default: return -1;
			}
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	j->s++;
	out[n] = '\0';
	return 0;
}

/* A number as JSON writes it, copied into out. 0 or -1. */
static int number(struct jf *j, char *out, size_t len)
{
	const char *b = j->s;
	size_t n;

	if (*j->s == '-')
		j->s++;
	if (!(*j->s >= '0' && *j->s <= '9'))
		return -1;
	while ((*j->s >= '0' && *j->s <= '9') || *j->s == '.' || *j->s == 'e' ||
	       *j->s == 'E' || *j->s == '+' || *j->s == '-')
		j->s++;
	n = (size_t)(j->s - b);
	if (n >= len)
		return -1;
	memcpy(out, b, n);
	out[n] = '\0';
	return 0;
}

static int literal(struct jf *j, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(j->s, w, n))
		return -1;
	j->s += n;
	return 0;
}

static int value(struct jf *j, const char *path, const char *key, int report);

/* The object at j->s whose path is path. */
static int object(struct jf *j, const char *path, int report)
{
	char key[NS_JF_PATH_MAX], sub[NS_JF_PATH_MAX];

	if (++j->depth > JF_DEPTH_MAX)
		return -1;
	j->s++; /* '{' */
	ws(j);
	if (*j->s == '}') {
		j->s++;
	} else {
		for (;;) {
			ws(j);
			if (string(j, key, sizeof(key)))
				return -1;
			ws(j);
			if (*j->s++ != ':')
				return -1;
			ws(j);
			if (*j->s == '{') {
				if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", path,
						     path[0] ? "." : "", key) >= sizeof(sub))
					return -1;
				if (object(j, sub, report))
					return -1;
			} else if (value(j, path, key, report)) {
				return -1;
			}
			ws(j);
			if (*j->s == ',') {
				j->s++;
				continue;
			}
			if (*j->s++ != '}')
				return -1;
			break;
		}
	}
	j->depth--;
	if (report && !j->stop)
		j->stop = j->cb(path, NULL, NS_JF_END, NULL, j->arg);
	return 0;
}

/* An array: walked for validity, its members not reported. */
static int array(struct jf *j)
{
	if (++j->depth > JF_DEPTH_MAX)
		return -1;
	j->s++; /* '[' */
	ws(j);
	if (*j->s == ']') {
		j->s++;
		j->depth--;
		return 0;
	}
	for (;;) {
		ws(j);
		if (*j->s == '{' ? object(j, "", 0) : value(j, "", "", 0))
			return -1;
		ws(j);
		if (*j->s == ',') {
			j->s++;
			continue;
		}
		if (*j->s++ != ']')
			return -1;
		break;
	}
	j->depth--;
	return 0;
}

static void emit(struct jf *j, const char *path, const char *key, enum ns_jf_kind k,
		 const char *text, int report)
{
	if (report && !j->stop)
		j->stop = j->cb(path, key, k, text, j->arg);
}

static int value(struct jf *j, const char *path, const char *key, int report)
{
	char text[NS_JF_TEXT_MAX];

	switch (*j->s) {
	case '{': return object(j, "", 0); /* only inside arrays (object() handles members) */
	case '[': return array(j);
	case '"':
		if (string(j, text, sizeof(text)))
			return -1;
		emit(j, path, key, NS_JF_STRING, text, report);
		return 0;
	case 't':
		if (literal(j, "true"))
			return -1;
		emit(j, path, key, NS_JF_BOOL, "true", report);
		return 0;
	case 'f':
		if (literal(j, "false"))
			return -1;
		emit(j, path, key, NS_JF_BOOL, "false", report);
		return 0;
	case 'n':
		if (literal(j, "null"))
			return -1;
		emit(j, path, key, NS_JF_NULL, "", report);
		return 0;
	default:
		if (number(j, text, sizeof(text)))
			return -1;
		emit(j, path, key, NS_JF_NUMBER, text, report);
		return 0;
	}
}

int ns_json_flatten(const char *doc, ns_jf_cb cb, void *arg)
{
	struct jf j = { .s = doc, .cb = cb, .arg = arg };

	if (!doc)
		return -1;
	ws(&j);
	if (*j.s != '{' || object(&j, "", 1))
		return -1;
	ws(&j);
	if (*j.s)
		return -1;
	return j.stop;
}
