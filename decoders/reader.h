/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_reader: the one bounds-checked cursor every decoder reads with.
 *
 * Every read compares the wanted size against what is left before it moves
 * the cursor; loads go through memcpy (payloads are only 2-byte aligned in an
 * mbuf). Errors are sticky: once a read fails, all later reads return 0 and
 * leave the cursor alone, so straight-line field reads check nm_rd_ok() once
 * at the end. nm_rd_sub() carves a nested length (set, record, sample) into a
 * reader of its own.
 */
#ifndef NM_READER_H
#define NM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct nm_reader {
	const uint8_t *p;
	size_t left;
	bool err;
};

static inline struct nm_reader nm_rd_init(const uint8_t *p, size_t len)
{
	struct nm_reader r = {p, len, false};
	return r;
}

static inline bool nm_rd_ok(const struct nm_reader *r)
{
	return !r->err;
}

/* Returns a pointer to n bytes and advances, or NULL (sticky error). */
static inline const uint8_t *nm_rd_bytes(struct nm_reader *r, size_t n)
{
	if (r->err || n > r->left) {
		r->err = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static inline bool nm_rd_skip(struct nm_reader *r, size_t n)
{
	return nm_rd_bytes(r, n) != NULL;
}

static inline uint8_t nm_rd_u8(struct nm_reader *r)
{
	const uint8_t *p = nm_rd_bytes(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t nm_load_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t nm_load_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static inline uint64_t nm_load_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* Big-endian unsigned of 0..8 bytes (reduced-size encoding, RFC 7011 6.2). */
static inline uint64_t nm_load_beN(const uint8_t *p, size_t n)
{
	switch (n) {
	case 1:
		return p[0];
	case 2:
		return nm_load_be16(p);
	case 4:
		return nm_load_be32(p);
	case 8:
		return nm_load_be64(p);
	default: {
		uint64_t v = 0;
		for (size_t i = 0; i < n && i < 8; i++)
			v = v << 8 | p[i];
		return v;
	}
	}
}

static inline uint16_t nm_rd_be16(struct nm_reader *r)
{
	const uint8_t *p = nm_rd_bytes(r, 2);
	return p ? nm_load_be16(p) : 0;
}

static inline uint32_t nm_rd_be32(struct nm_reader *r)
{
	const uint8_t *p = nm_rd_bytes(r, 4);
	return p ? nm_load_be32(p) : 0;
}

static inline uint64_t nm_rd_be64(struct nm_reader *r)
{
	const uint8_t *p = nm_rd_bytes(r, 8);
	return p ? nm_load_be64(p) : 0;
}

/*
 * Carves the next n bytes into a reader of their own. On a short parent the
 * parent's error is set and the returned reader is empty and in error too.
 */
static inline struct nm_reader nm_rd_sub(struct nm_reader *r, size_t n)
{
	const uint8_t *p = nm_rd_bytes(r, n);
	struct nm_reader s = {p, p ? n : 0, p == NULL};
	return s;
}

#endif
