// SPDX-License-Identifier: GPL-2.0
/* prom.c - Prometheus text exposition writer (see prom.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static const char *const type_names[] = {
	[NS_PROM_COUNTER] = "counter",
	[NS_PROM_GAUGE] = "gauge",
	[NS_PROM_HISTOGRAM] = "histogram",
	[NS_PROM_UNTYPED] = "untyped",
};

static int refuse(struct ns_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct ns_prom *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->err++) {
		va_start(ap, fmt);
		vsnprintf(p->why, sizeof(p->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool ns_prom_metric_name_ok(const char *s)
{
	if (!s || !(is_alpha_(*s) || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
			return false;
	return true;
}

bool ns_prom_label_name_ok(const char *s)
{
	if (!s || !is_alpha_(*s) || !strncmp(s, "__", 2))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s))
			return false;
	return true;
}

char *ns_prom_sanitize(const char *s, char *out, size_t len)
{
	size_t i = 0;

	if (!len)
		return out;
	for (; s && s[i] && i + 1 < len; i++)
		out[i] = is_alpha_(s[i]) || is_digit(s[i]) ? s[i] : '_';
	out[i] = '\0';
	return out;
}

void ns_prom_init(struct ns_prom *p, FILE *f)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
}

static bool seen(const struct ns_prom *p, const char *name)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (!strcmp(p->seen[i], name))
			return true;
	return false;
}

static int remember(struct ns_prom *p, const char *name)
{
	char **n;

	if (p->n_seen == p->cap_seen) {
		n = realloc(p->seen, (p->cap_seen ? p->cap_seen * 2 : 64) * sizeof(*n));
		if (!n)
			return refuse(p, "out of memory");
		p->seen = n;
		p->cap_seen = p->cap_seen ? p->cap_seen * 2 : 64;
	}
	p->seen[p->n_seen] = strdup(name);
	if (!p->seen[p->n_seen])
		return refuse(p, "out of memory");
	p->n_seen++;
	return 0;
}

/* HELP text: backslash and newline escaped (the format's rule for HELP). */
static void put_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

int ns_prom_family(struct ns_prom *p, const char *name, enum ns_prom_type type,
		   const char *help)
{
	if (!ns_prom_metric_name_ok(name) || strlen(name) >= sizeof(p->family))
		return refuse(p, "invalid metric name '%s'", name ? name : "(null)");
	if ((unsigned int)type > NS_PROM_UNTYPED)
		return refuse(p, "%s: invalid type %d", name, (int)type);
	if (seen(p, name))
		return refuse(p, "metric family '%s' declared twice", name);
	if (remember(p, name))
		return -1;
	strcpy(p->family, name);
	p->type = type;
	fprintf(p->f, "# HELP %s ", name);
	put_help(p->f, help ? help : "");
	fprintf(p->f, "\n# TYPE %s %s\n", name, type_names[type]);
	return 0;
}

/* name is the family's, or one of a histogram's three series. */
static bool in_family(const struct ns_prom *p, const char *name)
{
	size_t n = strlen(p->family);

	if (!p->family[0] || strncmp(name, p->family, n))
		return false;
	if (!name[n])
		return true;
	return p->type == NS_PROM_HISTOGRAM &&
	       (!strcmp(name + n, "_bucket") || !strcmp(name + n, "_sum") ||
		!strcmp(name + n, "_count"));
}

/* The sample line up to the value: name and labels, checked first. */
static int put_series(struct ns_prom *p, const char *name, const struct ns_prom_label *labels,
		      size_t n)
{
	if (!name || !in_family(p, name))
		return refuse(p, "sample '%s' outside the family declared last ('%s')",
			      name ? name : "(null)", p->family);
	for (size_t i = 0; i < n; i++) {
		if (!ns_prom_label_name_ok(labels[i].name))
			return refuse(p, "%s: invalid label name '%s'", name,
				      labels[i].name ? labels[i].name : "(null)");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(labels[k].name, labels[i].name))
				return refuse(p, "%s: label '%s' given twice", name,
					      labels[i].name);
	}
	fputs(name, p->f);
	if (n) {
		fputc('{', p->f);
		for (size_t i = 0; i < n; i++) {
			fprintf(p->f, "%s%s=\"", i ? "," : "", labels[i].name);
			put_label_value(p->f, labels[i].value ? labels[i].value : "");
			fputc('"', p->f);
		}
		fputc('}', p->f);
	}
	return 0;
}

int ns_prom_u64(struct ns_prom *p, const char *name, const struct ns_prom_label *labels,
		size_t n, uint64_t v)
{
	if (put_series(p, name, labels, n))
		return -1;
	fprintf(p->f, " %" PRIu64 "\n", v);
	return 0;
}

int ns_prom_double(struct ns_prom *p, const char *name, const struct ns_prom_label *labels,
		   size_t n, double v)
{
	if (put_series(p, name, labels, n))
		return -1;
	if (isnan(v))
		fputs(" NaN\n", p->f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", p->f);
	else
		fprintf(p->f, " %.15g\n", v);
	return 0;
}

unsigned int ns_prom_finish(struct ns_prom *p)
{
	for (size_t i = 0; i < p->n_seen; i++)
		free(p->seen[i]);
	free(p->seen);
	p->seen = NULL;
	p->n_seen = p->cap_seen = 0;
	return p->err;
}
