// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctl_buf.c - a control answer in chunks (daemon/ctl_buf.c, issue 10).
 *
 * A large answer (tens of MB) used to live in one open_memstream() buffer:
 * each doubling copied all of it inside one write, and it was freed whole
 * after the last byte was sent. These tests hold the answer to its bounds:
 * nothing but what is written is ever copied (memory held stays within two
 * chunks of the answer), the socket is fed at most the asked bytes per call,
 * each sent chunk is given back at once, and the bytes arrive intact.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "daemon/ctl_buf.h"

/* The byte at offset i of the test answer. */
static char byte_at(size_t i)
{
	return (char)('a' + (i * 7 + i / 4093) % 26);
}

/* Write n bytes of the pattern through f in writes of varying sizes (one
 * of them longer than a chunk), as handlers do with fprintf/fputc. */
static void write_pattern(FILE *f, size_t n)
{
	static char big[3 * CTL_BUF_CHUNK / 2];
	size_t off = 0, step = 1;

	while (off < n) {
		size_t k = step % 5 == 0 ? sizeof(big) : step % 97 + 1;

		if (k > n - off)
			k = n - off;
		if (k == 1) {
			cr_assert_neq(fputc(byte_at(off), f), EOF);
		} else {
			for (size_t i = 0; i < k; i++)
				big[i] = byte_at(off + i);
			cr_assert_eq(fwrite(big, 1, k, f), k);
		}
		off += k;
		step++;
	}
}

Test(ctlbuf, large_answer_held_in_chunks)
{
	enum { N = 20 * 1024 * 1024 + 12345 };
	struct ctl_buf b = { 0 };
	FILE *f = ctl_buf_open(&b);
	size_t len;
	char *s;

	cr_assert_not_null(f);
	write_pattern(f, N);
	cr_assert_eq(fclose(f), 0);
	cr_assert_not(b.nomem);
	cr_assert_eq(b.len, (size_t)N);
	/* only what was written (a chunk's header and the last chunk's room
	 * aside): never a doubled copy of it */
	cr_assert_leq(ctl_buf_held(&b), (size_t)N + 2 * CTL_BUF_CHUNK, "%zu held for %d bytes",
		      ctl_buf_held(&b), N);
	s = ctl_buf_join(&b, &len);
	cr_assert_not_null(s);
	cr_assert_eq(len, (size_t)N);
	for (size_t i = 0; i < len; i++)
		if (s[i] != byte_at(i))
			cr_assert_fail("byte %zu is %c, expected %c", i, s[i], byte_at(i));
	cr_assert_eq(s[len], '\0');
	cr_assert_eq(ctl_buf_held(&b), 0);
	cr_assert_eq(b.len, 0);
	free(s);
}

struct reader {
	int fd;
	size_t n;      /* bytes read */
	size_t bad;    /* first wrong byte + 1, 0: none */
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	char buf[65536];
	ssize_t k;

	while ((k = read(r->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < k; i++)
			if (!r->bad && buf[i] != byte_at(r->n + (size_t)i))
				r->bad = r->n + (size_t)i + 1;
		r->n += (size_t)k;
	}
	return NULL;
}

/* The answer goes out at most max bytes per call, and every chunk that is
 * sent is unmapped then: the memory held falls as the client reads, instead
 * of the whole answer being freed in one call at the end. */
Test(ctlbuf, sent_in_bounded_calls_chunks_freed_as_sent)
{
	enum { N = 8 * 1024 * 1024 + 777, MAX = 300000 };
	struct ctl_buf b = { 0 };
	struct reader r = { 0 };
	size_t sent = 0, calls = 0, held = 0;
	FILE *f = ctl_buf_open(&b);
	pthread_t th;
	int sv[2];

	cr_assert_not_null(f);
	write_pattern(f, N);
	cr_assert_eq(fclose(f), 0);
	held = ctl_buf_held(&b);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r.fd = sv[1];
	cr_assert_eq(pthread_create(&th, NULL, read_all, &r), 0);
	while (b.len) {
		struct pollfd p = { .fd = sv[0], .events = POLLOUT };
		ssize_t k;

		cr_assert_geq(poll(&p, 1, 10000), 1, "the reader stalled");
		k = ctl_buf_send(&b, sv[0], MAX);
		if (k == -EAGAIN)
			continue;
		cr_assert_gt(k, 0, "send: %s", strerror((int)-k));
		cr_assert_leq(k, MAX, "one call sent %zd bytes", k);
		sent += (size_t)k;
		calls++;
		cr_assert_leq(ctl_buf_held(&b), held, "memory held grew while sending");
		held = ctl_buf_held(&b);
		/* what is not sent yet, and no more than the sent part of the
		 * first chunk and the room in the last */
		cr_assert_leq(ctl_buf_held(&b), b.len + 2 * CTL_BUF_CHUNK);
	}
	cr_assert_eq(sent, (size_t)N);
	cr_assert_eq(ctl_buf_held(&b), 0);
	cr_assert_geq(calls, (size_t)N / MAX);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	cr_assert_eq(r.n, (size_t)N);
	cr_assert_eq(r.bad, 0, "byte %zu differs", r.bad - 1);
	cr_assert_eq(ctl_buf_send(&b, sv[0], MAX), 0, "nothing left to send");
}

/* A client gone mid-answer: send fails, the rest is freed. */
Test(ctlbuf, peer_gone_error_and_free)
{
	struct ctl_buf b = { 0 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(ctl_buf_append(&b, "OK\nhello\n", 9), 0);
	close(sv[1]);
	cr_assert_eq(ctl_buf_send(&b, sv[0], 1024), -EPIPE);
	cr_assert_eq(b.len, 9);
	ctl_buf_free(&b);
	cr_assert_eq(ctl_buf_held(&b), 0);
	cr_assert_eq(b.len, 0);
	close(sv[0]);
}
