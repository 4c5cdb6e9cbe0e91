/* SPDX-License-Identifier: BSD-3-Clause */
#include "pbenc.h"

#include <string.h>

static inline uint8_t *nm_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Tag bytes of field n with wire type wt, as a varint (n < 2048 here). */
static inline uint8_t *nm_tag(uint8_t *p, unsigned n, unsigned wt)
{
	unsigned t = n << 3 | wt;
	if (t < 0x80) {
		*p++ = (uint8_t)t;
	} else {
		*p++ = (uint8_t)(t | 0x80);
		*p++ = (uint8_t)(t >> 7);
	}
	return p;
}

#define NM_E_VARINT(num, v)                        \
	do {                                       \
		uint64_t v_ = (uint64_t)(v);       \
		if (v_) {                          \
			p = nm_tag(p, num, 0);     \
			p = nm_varint(p, v_);      \
		}                                  \
	} while (0)

#define NM_E_ENUM(num, m) NM_E_VARINT(num, f->m);
#define NM_E_U32(num, m) NM_E_VARINT(num, f->m);
#define NM_E_U64(num, m) NM_E_VARINT(num, f->m);
#define NM_E_MAC(num, m) NM_E_VARINT(num, f->m);
#define NM_E_BOOL(num, m) NM_E_VARINT(num, f->m != 0);
/* An address is 16 bytes when present; :: (unset) is left out like any
 * proto3 default, so readers see the field absent, never a short value. */
#define NM_E_ADDR(num, m)                                  \
	if (!nm_addr_is_zero(&f->m)) {                     \
		p = nm_tag(p, num, 2);                     \
		*p++ = 16;                                 \
		memcpy(p, f->m.b, 16);                     \
		p += 16;                                   \
	}
#define NM_E_U32LIST(num, m)                                          \
	if (f->m##_len) {                                             \
		uint8_t tmp_[NM_AS_PATH_MAX * 5 + NM_COMMUNITIES_MAX * 5]; \
		uint8_t *q_ = tmp_;                                   \
		for (unsigned i_ = 0; i_ < f->m##_len; i_++)          \
			q_ = nm_varint(q_, f->m[i_]);                 \
		p = nm_tag(p, num, 2);                                \
		p = nm_varint(p, (uint64_t)(q_ - tmp_));              \
		memcpy(p, tmp_, (size_t)(q_ - tmp_));                 \
		p += q_ - tmp_;                                       \
	}
/* A string: absent when empty, at most NM_NFLOG_PREFIX_MAX bytes (1-byte length). */
#define NM_E_STR(num, m)                                   \
	if (f->m##_len) {                                  \
		size_t n_ = NM_FLOW_STR_LEN(f, m);         \
		p = nm_tag(p, num, 2);                     \
		p = nm_varint(p, n_);                      \
		memcpy(p, f->m, n_);                       \
		p += n_;                                   \
	}
#define NM_X_(num, name, kind, m, pb) NM_E_##kind(num, m)

/*
 * The message goes 2 bytes in (room for its length as a 1- or 2-byte
 * varint: a record stays below 16384 bytes), then the prefix is written and
 * a 1-byte one moves the body down.
 */
static size_t nm_frame(uint8_t *out, const uint8_t *end)
{
	size_t n = (size_t)(end - (out + 2));
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		memmove(out + 1, out + 2, n);
		return n + 1;
	}
	out[0] = (uint8_t)(n | 0x80);
	out[1] = (uint8_t)(n >> 7);
	return n + 2;
}

size_t nm_pb_flow_delimited(const struct nm_flow *f, uint8_t *out)
{
	_Static_assert(NM_NFLOG_PREFIX_MAX < 0x80, "nm_pb: a string's length is one byte");
	uint8_t *p = out + 2;
	NM_FLOW_FIELDS(NM_X_)
	return nm_frame(out, p);
}

size_t nm_pb_ctr_delimited(const struct nm_ctr *f, uint8_t *out)
{
	uint8_t *p = out + 2;
	NM_CTR_FIELDS(NM_X_)
	return nm_frame(out, p);
}
