/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctl_buf.h - a control answer held in fixed-size chunks (control.c).
 *
 * An answer can be tens of MB (show sessions limit=100000 in JSON: ~48 MB).
 * Held in one open_memstream() buffer, every doubling of it copied the whole
 * answer and zeroed as much again inside a single write of the handler, and
 * the whole buffer was freed in one go after the last byte was sent: at 1M
 * sessions that held the event loop for 240 ms of CPU in one slice (issue
 * 10). Here the answer is a list of chunks of at most CTL_BUF_CHUNK bytes:
 * a write only appends (no copy of what is already there), the socket is
 * fed from the head, and each chunk is freed once it is sent, so the cost of
 * any one step is bounded by what that step writes or sends.
 */
#ifndef NATSYNC_CTL_BUF_H
#define NATSYNC_CTL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* A chunk is its own mapping: freeing one returns it at once, never a heap
 * top that grew by the whole answer. */
#define CTL_BUF_CHUNK (256u * 1024)

struct ctl_buf_chunk;

struct ctl_buf {
	struct ctl_buf_chunk *head, *tail;
	size_t len;          /* bytes not sent yet */
	size_t head_off;     /* bytes of head already sent */
	bool nomem;          /* a write failed: the answer is incomplete */
};

/* A FILE that appends to b (fopencookie); NULL on failure. b must outlive
 * it; fclose() it before sending. */
FILE *ctl_buf_open(struct ctl_buf *b);

/* Append n bytes; 0 or -ENOMEM. */
int ctl_buf_append(struct ctl_buf *b, const void *data, size_t n);

/* Send up to max bytes of what is left to fd (non-blocking), freeing each
 * chunk once sent. Returns the bytes sent (0 when nothing is left), or
 * -errno of send() (-EAGAIN: the socket is full). */
ssize_t ctl_buf_send(struct ctl_buf *b, int fd, size_t max);

/* What is left as one NUL-terminated string (tests, the synchronous
 * ns_control_answer()); b is emptied. NULL on ENOMEM (b is freed). */
char *ctl_buf_join(struct ctl_buf *b, size_t *len);

void ctl_buf_free(struct ctl_buf *b);

/* Bytes mapped for b's chunks now (counted from its list: for tests). */
size_t ctl_buf_held(const struct ctl_buf *b);

#endif
