// SPDX-License-Identifier: GPL-2.0
/*
 * natsyncctl - ask a running natsyncd over its control socket.
 *
 *   natsyncctl [-s SOCKET | -c CONFIG] [-j] [-t SECONDS] COMMAND [ARGS...]
 *
 * The command line is checked with the daemon's own parser (ctlproto.c), so a
 * typo is reported without a round trip, then sent as one line; the
 * daemon's answer is printed as it came. Exit status: 0 OK, 1 the request
 * was refused (message on stderr), 2 the daemon could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ctlproto.h"

#define EXIT_REFUSED 1
#define EXIT_UNREACHABLE 2
#define CTL_RESPONSE_MAX (512u << 20) /* far above CTL_LIMIT_MAX sessions */

struct opts {
	const char *socket;
	const char *config;
	bool json;
	unsigned int timeout_s;
};

/* What each argument means, for --help (the table order is the help order). */
static const struct {
	enum ctl_arg arg;
	const char *text;
} arg_help[] = {
	{ CTL_ARG_SRC, "src=A[/N]     subscriber (inside) address or prefix" },
	{ CTL_ARG_DST, "dst=A[/N]     remote address or prefix" },
	{ CTL_ARG_NAT, "nat=A[/N]     translated (pool) address or prefix" },
	{ CTL_ARG_PROTO, "proto=P       tcp, udp, icmp or a protocol number" },
	{ CTL_ARG_SPORT, "sport=N       subscriber port (ICMP: echo identifier)" },
	{ CTL_ARG_DPORT, "dport=N       remote port" },
	{ CTL_ARG_NPORT, "nport=N       translated (pool) port" },
	{ CTL_ARG_SVC, "svc=NAME      service set" },
	{ CTL_ARG_STATE, "state=S       syn-sent syn-recv established fin-wait time-wait closed" },
	{ CTL_ARG_LIMIT, "limit=N       list at most N sessions (default 1000, max 100000)" },
	{ CTL_ARG_POOL, "pool=NAME     only this pool" },
	{ CTL_ARG_FORCE, "force=1       switch over even to a backup that is not ready" },
};

/* Print text word by word, indented, lines at most width columns. */
static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
	int col = 0;

	while (*text) {
		int n = (int)strcspn(text, " ");

		if (col && col + 1 + n > width) {
			fputc('\n', f);
			col = 0;
		}
		if (!col)
			col = fprintf(f, "%*s", indent, "");
		else
			col += fprintf(f, " ");
		col += fprintf(f, "%.*s", n, text);
		text += n;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	char name[32];

	fprintf(f,
		"Usage: natsyncctl [OPTIONS] COMMAND [KEY=VALUE...]\n"
		"Query and steer a running natsyncd through its control socket.\n\n"
		"Options:\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -c, --config FILE   take the socket path from natsyncd's config file\n"
		"  -j, --json          JSON output (adds json=1 to the request)\n"
		"  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
		"  -h, --help          this help\n\n"
		"Commands (each word may be shortened to an unambiguous prefix):\n",
		CTL_DEFAULT_SOCKET);
	for (size_t i = 0; i < ctl_n_commands; i++) {
		const struct ctl_command *c = &ctl_commands[i];

		fprintf(f, "  %-16s %s\n", ctl_command_name(c->cmd, name, sizeof(name)), c->help);
		if (c->usage[0])
			print_wrapped(f, c->usage, 21, 79);
	}
	fprintf(f, "\nArguments:\n");
	for (size_t i = 0; i < sizeof(arg_help) / sizeof(arg_help[0]); i++)
		fprintf(f, "  %s\n", arg_help[i].text);
	fprintf(f, "  json=0|1      same as -j (every command)\n\n"
		"Exit status: 0 OK; 1 the daemon refused the request; 2 natsyncd unreachable.\n\n"
		"Examples:\n"
		"  natsyncctl show status\n"
		"  natsyncctl -c /etc/natsync/natsync.conf show counters\n"
		"  natsyncctl show sessions src=100.64.0.10 proto=tcp state=established\n"
		"  natsyncctl -j show sessions nat=203.0.113.0/29 limit=50 | jq .count\n"
		"  natsyncctl sh po pool=pool-a\n"
		"  natsyncctl -s /run/natsync-b.sock show config\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int ch;

	/* '+': stop at the command, whose words never start with '-'. */
	while ((ch = getopt_long(argc, argv, "+s:c:jt:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'c': o->config = optarg; break;
		case 'j': o->json = true; break;
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 3600) {
				fprintf(stderr, "natsyncctl: bad timeout '%s' (1-3600)\n", optarg);
				return -1;
			}
			o->timeout_s = (unsigned int)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (o->socket && o->config) {
		fprintf(stderr, "natsyncctl: -s and -c exclude each other\n");
		return -1;
	}
	return 0;
}

/* Join the command words into one request line (without newline). */
static int build_line(int argc, char **argv, char *line, size_t len)
{
	size_t off = 0;
	int n;

	line[0] = '\0';
	for (int i = 0; i < argc; i++) {
		n = snprintf(line + off, len - off, "%s%s", i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Build and check the request line. -j adds json=1 unless the user wrote a
 * json= argument, which wins. Returns 0, or -1 with the reason in err.
 */
static int make_request(int argc, char **argv, bool json, char *line, size_t len,
			struct ctl_request *req, char *err, size_t errlen)
{
	if (build_line(argc, argv, line, len) || strlen(line) >= CTL_MAX_LINE - 1) {
		snprintf(err, errlen, "request too long (max %d bytes)", CTL_MAX_LINE - 1);
		return -1;
	}
	if (ctl_parse_request(line, strlen(line), req, err, errlen))
		return -1;
	if (!json || (req->have & CTL_BIT(CTL_ARG_JSON)))
		return 0;
	if (strlen(line) + sizeof(" json=1") > CTL_MAX_LINE - 1) {
		snprintf(err, errlen, "request too long (max %d bytes)", CTL_MAX_LINE - 1);
		return -1;
	}
	strcat(line, " json=1");
	return ctl_parse_request(line, strlen(line), req, err, errlen);
}

/* The socket path from -s, from the config given with -c, or the default. */
static int socket_path(const struct opts *o, char *path, size_t len)
{
	char err[NS_CONF_ERR_MAX];
	struct ns_config *conf;

	if (!o->config) {
		snprintf(path, len, "%s", o->socket ? o->socket : CTL_DEFAULT_SOCKET);
		return 0;
	}
	conf = calloc(1, sizeof(*conf));
	if (!conf)
		return -1;
	if (ns_config_load(o->config, conf, err, sizeof(err))) {
		fprintf(stderr, "natsyncctl: %s\n", err);
		free(conf);
		return -1;
	}
	snprintf(path, len, "%s", conf->control_socket);
	free(conf);
	return 0;
}

static int connect_daemon(const char *path, unsigned int timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "natsyncctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "natsyncctl: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "natsyncctl: cannot connect to %s: %s — is natsyncd running?\n",
			path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the daemon closes; the response is NUL-terminated. */
static char *recv_all(int fd, size_t *len)
{
	size_t cap = 65536, off = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	while (buf) {
		if (cap - off < 4096) {
			if (cap >= CTL_RESPONSE_MAX) {
				errno = EFBIG;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + off, cap - off - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			buf[off] = '\0';
			*len = off;
			return buf;
		}
		off += (size_t)n;
	}
	free(buf);
	return NULL;
}

/* Print the response; returns the exit status. */
static int print_response(const char *resp, size_t len, bool json)
{
	const char *nl = memchr(resp, '\n', len);
	size_t first = nl ? (size_t)(nl - resp) : len;

	if (first == 2 && !strncmp(resp, "OK", 2)) {
		fwrite(nl + 1, 1, len - first - 1, stdout);
		return fflush(stdout) ? EXIT_REFUSED : 0;
	}
	if (first >= 4 && !strncmp(resp, "ERR ", 4)) {
		fprintf(stderr, "natsyncctl: %.*s\n", (int)(first - 4), resp + 4);
		if (json) {
			char *msg = strndup(resp + 4, first - 4);

			/* Scripts reading stdout still get one JSON document. */
			printf("{\"error\":");
			ctl_json_escape(stdout, msg ? msg : "");
			printf("}\n");
			free(msg);
		}
		return EXIT_REFUSED;
	}
	fprintf(stderr, "natsyncctl: malformed response from natsyncd\n");
	return EXIT_UNREACHABLE;
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_s = 30 };
	char line[CTL_MAX_LINE + 16], path[108], err[CTL_ERR_MAX] = "";
	struct ctl_request req;
	size_t rlen = 0;
	char *resp;
	int fd, ret;

	if (parse_opts(argc, argv, &o)) {
		fprintf(stderr, "Try 'natsyncctl --help'.\n");
		return EXIT_REFUSED;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_REFUSED;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return 0;
	}
	if (make_request(argc - optind, argv + optind, o.json, line, sizeof(line), &req, err,
			 sizeof(err))) {
		fprintf(stderr, "natsyncctl: %s\nTry 'natsyncctl --help'.\n", err);
		return EXIT_REFUSED;
	}
	if (socket_path(&o, path, sizeof(path)))
		return EXIT_UNREACHABLE;
	fd = connect_daemon(path, o.timeout_s);
	if (fd < 0)
		return EXIT_UNREACHABLE;
	strcat(line, "\n");
	if (send_all(fd, line, strlen(line))) {
		fprintf(stderr, "natsyncctl: sending to %s: %s\n", path, strerror(errno));
		close(fd);
		return EXIT_UNREACHABLE;
	}
	shutdown(fd, SHUT_WR);
	resp = recv_all(fd, &rlen);
	close(fd);
	if (!resp) {
		fprintf(stderr, "natsyncctl: reading from %s: %s\n", path,
			errno == EAGAIN ? "timed out" : strerror(errno));
		return EXIT_UNREACHABLE;
	}
	ret = print_response(resp, rlen, req.json);
	free(resp);
	return ret;
}
