/* Domain name helpers over uncompressed wire names. The parser is the only
 * place that follows compression pointers in untrusted messages. */
#include "gslb/dname.h"

#include <ctype.h>
#include <stdio.h>

static inline uint8_t lc(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

size_t dname_parse(struct wire *w, uint8_t out[DNAME_MAXLEN])
{
	/* Pointers must point strictly before the label that holds them, so
	 * each jump moves backwards and a loop cannot happen; the total name
	 * length cap bounds the work as well. */
	struct wire r = *w;
	size_t outlen = 0;
	size_t limit = r.pos; /* a pointer must target below this */
	int jumped = 0;

	for (;;) {
		size_t at = r.pos;
		uint8_t l = wire_u8(&r);
		if (r.err)
			goto bad;
		if ((l & 0xC0) == 0xC0) {
			uint8_t l2 = wire_u8(&r);
			if (r.err)
				goto bad;
			size_t target = ((size_t)(l & 0x3F) << 8) | l2;
			if (target >= at || target >= limit)
				goto bad;
			if (!jumped) {
				w->pos = r.pos;
				jumped = 1;
			}
			limit = target;
			wire_seek(&r, target);
			continue;
		}
		if (l & 0xC0)
			goto bad; /* 0x40 and 0x80 label types are obsolete */
		if (outlen + 1 + l > DNAME_MAXLEN)
			goto bad;
		out[outlen++] = l;
		if (l == 0)
			break;
		const uint8_t *p = wire_take(&r, l);
		if (!p)
			goto bad;
		memcpy(out + outlen, p, l);
		outlen += l;
	}
	if (!jumped)
		w->pos = r.pos;
	return outlen;
bad:
	w->err = 1;
	return 0;
}

void dname_tolower(uint8_t *dst, const uint8_t *src, size_t len)
{
	/* Lower-casing label length bytes is harmless: they are < 64, below 'A'. */
	for (size_t i = 0; i < len; i++)
		dst[i] = lc(src[i]);
}

unsigned dname_labels(const uint8_t *name, uint8_t offs[DNAME_MAXLABELS])
{
	unsigned n = 0;
	size_t p = 0;
	while (name[p] != 0 && n < DNAME_MAXLABELS) {
		offs[n++] = (uint8_t)p;
		p += 1 + (size_t)name[p];
	}
	return n;
}

size_t dname_len(const uint8_t *name)
{
	size_t p = 0;
	while (name[p] != 0)
		p += 1 + (size_t)name[p];
	return p + 1;
}

int dname_equal(const uint8_t *a, const uint8_t *b)
{
	size_t la = dname_len(a), lb = dname_len(b);
	if (la != lb)
		return 0;
	for (size_t i = 0; i < la; i++)
		if (lc(a[i]) != lc(b[i]))
			return 0;
	return 1;
}

int dname_is_sub(const uint8_t *name, size_t len, const uint8_t *parent, size_t plen)
{
	if (plen > len)
		return 0;
	/* Walk labels so that the suffix compared starts on a label boundary. */
	size_t p = 0;
	while (len - p > plen)
		p += 1 + (size_t)name[p];
	if (len - p != plen)
		return 0;
	for (size_t i = 0; i < plen; i++)
		if (lc(name[p + i]) != lc(parent[i]))
			return 0;
	return 1;
}

uint32_t dname_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	/* Final avalanche: the table uses the low bits. */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

size_t dname_from_str(const char *s, uint8_t out[DNAME_MAXLEN])
{
	size_t outlen = 0;
	if (s[0] == '.' && s[1] == '\0') {
		out[0] = 0;
		return 1;
	}
	while (*s) {
		size_t lpos = outlen++;
		uint8_t llen = 0;
		if (outlen > DNAME_MAXLEN)
			return 0;
		while (*s && *s != '.') {
			uint8_t c = (uint8_t)*s++;
			if (c == '\\') {
				if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
				    isdigit((unsigned char)s[2])) {
					unsigned v = (unsigned)(s[0] - '0') * 100 +
						     (unsigned)(s[1] - '0') * 10 +
						     (unsigned)(s[2] - '0');
					if (v > 255)
						return 0;
					c = (uint8_t)v;
					s += 3;
				} else if (*s) {
					c = (uint8_t)*s++;
				} else {
					return 0;
				}
			}
			if (llen == 63 || outlen >= DNAME_MAXLEN)
				return 0;
			out[outlen++] = lc(c);
			llen++;
		}
		if (llen == 0)
			return 0; /* empty label */
		out[lpos] = llen;
		if (*s == '.')
			s++;
	}
	if (outlen >= DNAME_MAXLEN)
		return 0;
	out[outlen++] = 0;
	return outlen;
}

size_t dname_to_str(const uint8_t *name, char *out, size_t cap)
{
	size_t o = 0;
	size_t p = 0;
#define PUT(ch)                              \
	do {                                 \
		if (o + 1 < cap)             \
			out[o] = (char)(ch); \
		o++;                         \
	} while (0)
	if (name[0] == 0)
		PUT('.');
	while (name[p] != 0) {
		uint8_t l = name[p++];
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = name[p++];
			if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' ||
			    c == '@' || c == '$') {
				PUT('\\');
				PUT(c);
			} else if (c <= 0x20 || c >= 0x7f) {
				char t[5];
				snprintf(t, sizeof(t), "\\%03u", c);
				for (int k = 0; k < 4; k++)
					PUT(t[k]);
			} else {
				PUT(c);
			}
		}
		PUT('.');
	}
#undef PUT
	if (cap > 0)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}
