/* SPDX-License-Identifier: BSD-3-Clause */
#include "pktbuild.h"

#include <string.h>

void nm_pb_init(struct nm_pb *b)
{
	b->len = 0;
	b->set_at = NM_PB_NONE;
	b->msg_at = NM_PB_NONE;
	b->overflow = false;
}

/* Room for n more bytes? Marks the overflow once and for all if not. */
static bool nm_pb_room(struct nm_pb *b, size_t n)
{
	if (b->overflow || n > NM_PB_CAP - b->len) {
		b->overflow = true;
		return false;
	}
	return true;
}

void nm_pb_bytes(struct nm_pb *b, const void *p, size_t n)
{
	if (!nm_pb_room(b, n))
		return;
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void nm_pb_zeros(struct nm_pb *b, size_t n)
{
	if (!nm_pb_room(b, n))
		return;
	memset(b->buf + b->len, 0, n);
	b->len += n;
}

void nm_pb_uint(struct nm_pb *b, uint64_t v, size_t n)
{
	uint8_t t[8];
	if (n > 8) {
		b->overflow = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	nm_pb_bytes(b, t, n);
}

void nm_pb_u8(struct nm_pb *b, uint8_t v)
{
	nm_pb_uint(b, v, 1);
}

void nm_pb_u16(struct nm_pb *b, uint16_t v)
{
	nm_pb_uint(b, v, 2);
}

void nm_pb_u32(struct nm_pb *b, uint32_t v)
{
	nm_pb_uint(b, v, 4);
}

void nm_pb_u64(struct nm_pb *b, uint64_t v)
{
	nm_pb_uint(b, v, 8);
}

void nm_pb_ip4(struct nm_pb *b, uint8_t a, uint8_t c, uint8_t d, uint8_t e)
{
	const uint8_t t[4] = {a, c, d, e};
	nm_pb_bytes(b, t, 4);
}

void nm_pb_mac(struct nm_pb *b, uint64_t v)
{
	nm_pb_uint(b, v, 6);
}

void nm_pb_patch_u16(struct nm_pb *b, size_t off, uint16_t v)
{
	if (off > b->len || b->len - off < 2) {
		b->overflow = true;
		return;
	}
	b->buf[off] = (uint8_t)(v >> 8);
	b->buf[off + 1] = (uint8_t)v;
}

void nm_pb_set_begin(struct nm_pb *b, uint16_t id)
{
	b->set_at = b->len;
	nm_pb_u16(b, id);
	nm_pb_u16(b, 0); /* length, patched by nm_pb_set_end_pad() */
}

void nm_pb_set_end_pad(struct nm_pb *b, size_t pad_to)
{
	if (b->set_at == NM_PB_NONE) {
		b->overflow = true; /* misuse: no open set */
		return;
	}
	if (pad_to > 1) {
		size_t n = b->len - b->set_at;
		nm_pb_zeros(b, (pad_to - n % pad_to) % pad_to);
	}
	size_t n = b->len - b->set_at;
	if (n > 0xffff)
		b->overflow = true;
	nm_pb_patch_u16(b, b->set_at + 2, (uint16_t)n);
	b->set_at = NM_PB_NONE;
}

void nm_pb_set_end(struct nm_pb *b)
{
	nm_pb_set_end_pad(b, 0);
}

void nm_pb_varlen(struct nm_pb *b, const void *p, size_t n)
{
	if (n < 255) {
		nm_pb_u8(b, (uint8_t)n);
		nm_pb_bytes(b, p, n);
	} else {
		nm_pb_varlen3(b, p, n);
	}
}

void nm_pb_varlen3(struct nm_pb *b, const void *p, size_t n)
{
	if (n > 0xffff) {
		b->overflow = true;
		return;
	}
	nm_pb_u8(b, 255);
	nm_pb_u16(b, (uint16_t)n);
	nm_pb_bytes(b, p, n);
}

void nm_pb_v5_header(struct nm_pb *b, uint16_t count, uint32_t uptime_ms, uint32_t secs,
		     uint32_t nsecs, uint32_t seq, uint8_t engine_type, uint8_t engine_id,
		     uint16_t sampling)
{
	nm_pb_u16(b, 5);
	nm_pb_u16(b, count);
	nm_pb_u32(b, uptime_ms);
	nm_pb_u32(b, secs);
	nm_pb_u32(b, nsecs);
	nm_pb_u32(b, seq);
	nm_pb_u8(b, engine_type);
	nm_pb_u8(b, engine_id);
	nm_pb_u16(b, sampling);
}

void nm_pb_v5_record(struct nm_pb *b, const struct nm_pb_v5_rec *r)
{
	nm_pb_u32(b, r->src);
	nm_pb_u32(b, r->dst);
	nm_pb_u32(b, r->nexthop);
	nm_pb_u16(b, r->in_if);
	nm_pb_u16(b, r->out_if);
	nm_pb_u32(b, r->packets);
	nm_pb_u32(b, r->bytes);
	nm_pb_u32(b, r->first);
	nm_pb_u32(b, r->last);
	nm_pb_u16(b, r->src_port);
	nm_pb_u16(b, r->dst_port);
	nm_pb_u8(b, 0); /* pad1 */
	nm_pb_u8(b, r->tcp_flags);
	nm_pb_u8(b, r->proto);
	nm_pb_u8(b, r->tos);
	nm_pb_u16(b, r->src_as);
	nm_pb_u16(b, r->dst_as);
	nm_pb_u8(b, r->src_mask);
	nm_pb_u8(b, r->dst_mask);
	nm_pb_u16(b, 0); /* pad2 */
}

void nm_pb_v9_header(struct nm_pb *b, uint16_t count, uint32_t uptime_ms, uint32_t secs,
		     uint32_t seq, uint32_t source_id)
{
	nm_pb_u16(b, 9);
	nm_pb_u16(b, count);
	nm_pb_u32(b, uptime_ms);
	nm_pb_u32(b, secs);
	nm_pb_u32(b, seq);
	nm_pb_u32(b, source_id);
}

void nm_pb_ipfix_header(struct nm_pb *b, uint32_t export_secs, uint32_t seq, uint32_t domain)
{
	b->msg_at = b->len;
	nm_pb_u16(b, 10);
	nm_pb_u16(b, 0); /* length, patched by nm_pb_ipfix_end() */
	nm_pb_u32(b, export_secs);
	nm_pb_u32(b, seq);
	nm_pb_u32(b, domain);
}

void nm_pb_ipfix_end(struct nm_pb *b)
{
	if (b->msg_at == NM_PB_NONE) {
		b->overflow = true;
		return;
	}
	size_t n = b->len - b->msg_at;
	if (n > 0xffff)
		b->overflow = true;
	nm_pb_patch_u16(b, b->msg_at + 2, (uint16_t)n);
	b->msg_at = NM_PB_NONE;
}

void nm_pb_tmpl_begin(struct nm_pb *b, uint16_t id, uint16_t count)
{
	nm_pb_u16(b, id);
	nm_pb_u16(b, count);
}

void nm_pb_tmpl_field(struct nm_pb *b, const struct nm_pb_field *f)
{
	if (f->pen) {
		nm_pb_u16(b, (uint16_t)(f->ie | 0x8000u));
		nm_pb_u16(b, f->len);
		nm_pb_u32(b, f->pen);
	} else {
		nm_pb_u16(b, f->ie);
		nm_pb_u16(b, f->len);
	}
}

void nm_pb_tmpl(struct nm_pb *b, uint16_t id, const struct nm_pb_field *f, size_t n)
{
	nm_pb_tmpl_begin(b, id, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		nm_pb_tmpl_field(b, &f[i]);
}

void nm_pb_tmpl_withdraw(struct nm_pb *b, uint16_t id)
{
	nm_pb_tmpl_begin(b, id, 0);
}

void nm_pb_ipfix_opt_tmpl(struct nm_pb *b, uint16_t id, uint16_t nscope,
			  const struct nm_pb_field *f, size_t n)
{
	nm_pb_u16(b, id);
	nm_pb_u16(b, (uint16_t)n);
	nm_pb_u16(b, nscope);
	for (size_t i = 0; i < n; i++)
		nm_pb_tmpl_field(b, &f[i]);
}

void nm_pb_v9_opt_tmpl(struct nm_pb *b, uint16_t id, const struct nm_pb_field *scope,
		       size_t nscope, const struct nm_pb_field *opt, size_t nopt)
{
	nm_pb_u16(b, id);
	nm_pb_u16(b, (uint16_t)(nscope * 4));
	nm_pb_u16(b, (uint16_t)(nopt * 4));
	for (size_t i = 0; i < nscope; i++) {
		nm_pb_u16(b, scope[i].ie);
		nm_pb_u16(b, scope[i].len);
	}
	for (size_t i = 0; i < nopt; i++) {
		nm_pb_u16(b, opt[i].ie);
		nm_pb_u16(b, opt[i].len);
	}
}
