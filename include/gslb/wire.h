/* Bounds-checked cursors over untrusted bytes (reading) and over response
 * buffers (writing). Every access checks the remaining length; a failed
 * access sets a sticky error flag and yields zero, so callers may check the
 * flag once after a group of reads. No raw indexing of packet bytes elsewhere. */
#ifndef GSLB_WIRE_H
#define GSLB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int err; /* sticky: set by any out-of-bounds access */
};

static inline void wire_init(struct wire *w, const uint8_t *buf, size_t len)
{
	w->buf = buf;
	w->len = len;
	w->pos = 0;
	w->err = 0;
}

static inline size_t wire_left(const struct wire *w) { return w->err ? 0 : w->len - w->pos; }

static inline int wire_ok(const struct wire *w) { return !w->err; }

static inline uint8_t wire_u8(struct wire *w)
{
	if (w->err || w->len - w->pos < 1) {
		w->err = 1;
		return 0;
	}
	return w->buf[w->pos++];
}

static inline uint16_t wire_u16(struct wire *w)
{
	if (w->err || w->len - w->pos < 2) {
		w->err = 1;
		return 0;
	}
	uint16_t v = (uint16_t)((w->buf[w->pos] << 8) | w->buf[w->pos + 1]);
	w->pos += 2;
	return v;
}

static inline uint32_t wire_u32(struct wire *w)
{
	uint32_t hi = wire_u16(w);
	uint32_t lo = wire_u16(w);
	return (hi << 16) | lo;
}

/* Copy n bytes out; on short input sets err and zero-fills dst. */
static inline void wire_read(struct wire *w, void *dst, size_t n)
{
	if (w->err || w->len - w->pos < n) {
		w->err = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, w->buf + w->pos, n);
	w->pos += n;
}

/* Pointer to the next n bytes, advancing; NULL (and err) when short. */
static inline const uint8_t *wire_take(struct wire *w, size_t n)
{
	if (w->err || w->len - w->pos < n) {
		w->err = 1;
		return NULL;
	}
	const uint8_t *p = w->buf + w->pos;
	w->pos += n;
	return p;
}

static inline void wire_skip(struct wire *w, size_t n) { (void)wire_take(w, n); }

static inline void wire_seek(struct wire *w, size_t pos)
{
	if (w->err || pos > w->len) {
		w->err = 1;
		return;
	}
	w->pos = pos;
}

/* Writer: a fixed-capacity output buffer. Writes past cap set err and
 * write nothing; the buffer never grows. */
struct wbuf {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	int err;
};

static inline void wbuf_init(struct wbuf *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->pos = 0;
	b->err = 0;
}

static inline size_t wbuf_left(const struct wbuf *b) { return b->err ? 0 : b->cap - b->pos; }

static inline void wbuf_put(struct wbuf *b, const void *src, size_t n)
{
	if (b->err || b->cap - b->pos < n) {
		b->err = 1;
		return;
	}
	memcpy(b->buf + b->pos, src, n);
	b->pos += n;
}

static inline void wbuf_u8(struct wbuf *b, uint8_t v) { wbuf_put(b, &v, 1); }

static inline void wbuf_u16(struct wbuf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	wbuf_put(b, t, 2);
}

static inline void wbuf_u32(struct wbuf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	wbuf_put(b, t, 4);
}

/* Overwrite a 16-bit value at an earlier position (e.g. RDLENGTH, counts). */
static inline void wbuf_set_u16(struct wbuf *b, size_t at, uint16_t v)
{
	if (b->err || at + 2 > b->pos) {
		b->err = 1;
		return;
	}
	b->buf[at] = (uint8_t)(v >> 8);
	b->buf[at + 1] = (uint8_t)v;
}

#endif
