/* SPDX-License-Identifier: GPL-2.0 */
/*
 * prom.h - a writer of the Prometheus text exposition format, version
 * 0.0.4: "# HELP" and "# TYPE" once per metric family, then one line per
 * sample, `name{label="value",...} value`. Pure code over a FILE, so the
 * encoder is unit-tested on its own (tests/unit/test_prom.c); what natsyncd
 * exports with it is in metrics.c.
 *
 * The writer refuses what would make the exposition invalid and writes
 * nothing for it: a metric or label name outside the format's alphabet, a
 * family declared twice, a sample outside the family declared last (a
 * histogram family also takes NAME_bucket, NAME_sum and NAME_count). Label
 * values are escaped (\\, \", \n), HELP text too (\\, \n). Each refusal is
 * counted in err and named in why.
 */
#ifndef NATSYNC_PROM_H
#define NATSYNC_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define NS_PROM_NAME_MAX 128

enum ns_prom_type {
	NS_PROM_COUNTER,
	NS_PROM_GAUGE,
	NS_PROM_HISTOGRAM,
	NS_PROM_UNTYPED,
};

/* One label of a sample: name and (unescaped) value. */
struct ns_prom_label {
	const char *name;
	const char *value;
};

struct ns_prom {
	FILE *f;
	char family[NS_PROM_NAME_MAX];  /* declared last ("" before the first) */
	enum ns_prom_type type;
	char **seen;                    /* every family declared so far */
	size_t n_seen, cap_seen;
	unsigned int err;               /* refused calls */
	char why[160];                  /* the first refusal */
};

/* ns_prom_init - start an exposition into f. */
void ns_prom_init(struct ns_prom *p, FILE *f);

/*
 * ns_prom_family - declare a metric family: writes its HELP and TYPE lines.
 * Returns 0, or -1 (nothing written, p->err counted) for an invalid name or
 * a family already declared in this exposition.
 */
int ns_prom_family(struct ns_prom *p, const char *name, enum ns_prom_type type,
		   const char *help);

/*
 * ns_prom_u64 / ns_prom_double - one sample of the family declared last.
 * @name:   the family's name (histograms: NAME_bucket, NAME_sum, NAME_count)
 * @labels: n labels (NULL when n is 0); names are checked, values escaped
 * Returns 0, or -1 (nothing written, p->err counted).
 */
int ns_prom_u64(struct ns_prom *p, const char *name, const struct ns_prom_label *labels,
		size_t n, uint64_t v);
int ns_prom_double(struct ns_prom *p, const char *name, const struct ns_prom_label *labels,
		   size_t n, double v);

/* ns_prom_finish - free what the writer holds; returns p->err (0: all valid). */
unsigned int ns_prom_finish(struct ns_prom *p);

/* True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool ns_prom_metric_name_ok(const char *s);
/* True for a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting "__"). */
bool ns_prom_label_name_ok(const char *s);

/*
 * ns_prom_sanitize - any string as a name part: every byte outside
 * [a-zA-Z0-9_] becomes '_' ("tcp-syn" -> "tcp_syn"). Returns out.
 */
char *ns_prom_sanitize(const char *s, char *out, size_t len);

#endif
