// SPDX-License-Identifier: GPL-2.0
/* ctl_buf.c - a control answer held in fixed-size chunks (see ctl_buf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "ctl_buf.h"

struct ctl_buf_chunk {
	struct ctl_buf_chunk *next;
	size_t used;
	char data[];
};

#define CHUNK_DATA (CTL_BUF_CHUNK - sizeof(struct ctl_buf_chunk))

static struct ctl_buf_chunk *chunk_new(void)
{
	struct ctl_buf_chunk *c = mmap(NULL, CTL_BUF_CHUNK, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (c == MAP_FAILED)
		return NULL;
	c->next = NULL;
	c->used = 0;
	return c;
}

int ctl_buf_append(struct ctl_buf *b, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		struct ctl_buf_chunk *t = b->tail;
		size_t room, k;

		if (!t || t->used == CHUNK_DATA) {
			t = chunk_new();
			if (!t) {
				b->nomem = true;
				return -ENOMEM;
			}
			if (b->tail)
				b->tail->next = t;
			else
				b->head = t;
			b->tail = t;
		}
		room = CHUNK_DATA - t->used;
		k = n < room ? n : room;
		memcpy(t->data + t->used, p, k);
		t->used += k;
		b->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

static ssize_t cookie_write(void *cookie, const char *data, size_t n)
{
	if (ctl_buf_append(cookie, data, n))
		return 0; /* stdio reports the error: fclose() fails */
	return (ssize_t)n;
}

FILE *ctl_buf_open(struct ctl_buf *b)
{
	cookie_io_functions_t io = { .write = cookie_write };

	return fopencookie(b, "w", io);
}

static void pop_head(struct ctl_buf *b)
{
	struct ctl_buf_chunk *h = b->head;

	b->head = h->next;
	if (!b->head)
		b->tail = NULL;
	b->head_off = 0;
	munmap(h, CTL_BUF_CHUNK);
}

ssize_t ctl_buf_send(struct ctl_buf *b, int fd, size_t max)
{
	size_t sent = 0;

	while (b->head && sent < max) {
		size_t left = b->head->used - b->head_off, k = left < max - sent ? left : max - sent;
		ssize_t n;

		if (!left) {
			pop_head(b);
			continue;
		}
		n = send(fd, b->head->data + b->head_off, k, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sent ? (ssize_t)sent : -errno;
		if (!n)
			break;
		b->head_off += (size_t)n;
		b->len -= (size_t)n;
		sent += (size_t)n;
		if (b->head_off == b->head->used)
			pop_head(b);
	}
	return (ssize_t)sent;
}

char *ctl_buf_join(struct ctl_buf *b, size_t *len)
{
	char *s = malloc(b->len + 1);
	size_t off = 0;

	if (!s) {
		ctl_buf_free(b);
		return NULL;
	}
	while (b->head) {
		size_t k = b->head->used - b->head_off;

		memcpy(s + off, b->head->data + b->head_off, k);
		off += k;
		pop_head(b);
	}
	s[off] = '\0';
	*len = off;
	b->len = 0;
	return s;
}

void ctl_buf_free(struct ctl_buf *b)
{
	while (b->head)
		pop_head(b);
	b->len = 0;
	b->head_off = 0;
}

size_t ctl_buf_held(const struct ctl_buf *b)
{
	size_t n = 0;

	for (const struct ctl_buf_chunk *c = b->head; c; c = c->next)
		n += CTL_BUF_CHUNK;
	return n;
}
