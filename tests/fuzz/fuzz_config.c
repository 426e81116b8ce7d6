// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_config.c - libFuzzer target for the config loader
 * (daemon/config*.c: ns_config_load_string, libconfig syntax).
 *
 * Checked besides memory safety and leaks:
 *  - a refused config leaves the output untouched (config.h promises that a
 *    bad file is never half-applied: reload relies on it) and explains
 *    itself in a non-empty, NUL-terminated message naming the source;
 *  - an accepted config is within the compiled limits the BPF maps have,
 *    and loading the same text twice gives the same result (fingerprint
 *    and bytes), so both chassis agree on what a file means.
 *
 * Inputs with "@include" are skipped: libconfig would open whatever path
 * they name, which tests the file system, not the loader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_config: %s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #cond);                              \
			abort();                                                         \
		}                                                                        \
	} while (0)

#define FUZZ_MAX_INPUT 65536
#define POISON 0xa5

/* Two outputs and a poisoned reference (static: ns_config is ~100 KB). */
static struct ns_config c1, c2, poison;

/**
 * LLVMFuzzerInitialize() - libFuzzer hook, once per process.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memset(&poison, POISON, sizeof(poison));
	return 0;
}

static void check_limits(const struct ns_config *c)
{
	CHECK(c->n_pools <= NS_MAX_POOLS);
	CHECK(c->n_svcs <= NS_MAX_SVC_SETS);
	CHECK(c->n_fw <= NS_MAX_FW_TERMS);
	CHECK(c->n_nat <= NS_MAX_NAT_TERMS);
	CHECK(c->n_ifaces <= NS_MAX_IFACES);
	CHECK(c->red.n_vips <= NS_RED_MAX_VIPS);
	CHECK(c->red.n_routes <= NS_RED_MAX_ROUTES);
	CHECK(c->red.n_monitor <= NS_RED_MAX_MONITOR);
	CHECK(strnlen(c->node_name, sizeof(c->node_name)) < sizeof(c->node_name));
	CHECK(strnlen(c->pin_path, sizeof(c->pin_path)) < sizeof(c->pin_path));
	CHECK(strnlen(c->control_socket, sizeof(c->control_socket)) <
	      sizeof(c->control_socket));
	for (uint32_t i = 0; i < c->n_ifaces; i++)
		CHECK(strnlen(c->ifaces[i].name, IF_NAMESIZE) < IF_NAMESIZE);
	for (uint32_t i = 0; i < c->n_pools; i++)
		CHECK(strnlen(c->pool_names[i], NS_NAME_MAX) < NS_NAME_MAX);
	for (uint8_t p = 0; p < 255; p++)
		for (uint8_t st = 0; st < NS_TCP_STATE_MAX; st++)
			(void)ns_config_session_timeout(c, p, st);
	(void)ns_attach_mode_name(c->attach_mode);
}

/**
 * LLVMFuzzerTestOneInput() - libFuzzer entry point: data is a config file.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[NS_CONF_ERR_MAX], err2[NS_CONF_ERR_MAX];
	char *text;
	int r;

	if (size > FUZZ_MAX_INPUT || memmem(data, size, "@include", 8))
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	memcpy(&c1, &poison, sizeof(c1));
	err[0] = '\0';
	r = ns_config_load_string(text, "fuzz.cfg", &c1, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r) {
		CHECK(memcmp(&c1, &poison, sizeof(c1)) == 0);
		CHECK(strnlen(err, sizeof(err)) > 0 && strnlen(err, sizeof(err)) < sizeof(err));
		CHECK(strncmp(err, "fuzz.cfg", 8) == 0);
		/* Same verdict, same words, a second time. */
		CHECK(ns_config_load_string(text, "fuzz.cfg", &c2, err2, sizeof(err2)) == -1);
		CHECK(strcmp(err, err2) == 0);
	} else {
		check_limits(&c1);
		memset(&c2, 0, sizeof(c2));
		CHECK(ns_config_load_string(text, "fuzz.cfg", &c2, err2, sizeof(err2)) == 0);
		CHECK(ns_config_fingerprint(&c1) == ns_config_fingerprint(&c2));
		CHECK(memcmp(&c1, &c2, sizeof(c1)) == 0);
	}
	free(text);
	return 0;
}
