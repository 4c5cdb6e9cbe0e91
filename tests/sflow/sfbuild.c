/* SPDX-License-Identifier: BSD-3-Clause */
#include "sfbuild.h"

#include <string.h>

void nm_sb_init(struct nm_sb *b)
{
	b->len = 0;
	b->depth = 0;
	b->set_at = 0;
	b->msg_at = 0;
	b->overflow = false;
}

void nm_sb_bytes(struct nm_sb *b, const void *p, size_t n)
{
	if (n > NM_SB_CAP - b->len) {
		b->overflow = true;
		return;
	}
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void nm_sb_zeros(struct nm_sb *b, size_t n)
{
	if (n > NM_SB_CAP - b->len) {
		b->overflow = true;
		return;
	}
	memset(b->buf + b->len, 0, n);
	b->len += n;
}

void nm_sb_u8(struct nm_sb *b, uint8_t v)
{
	nm_sb_bytes(b, &v, 1);
}

void nm_sb_u16(struct nm_sb *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	nm_sb_bytes(b, x, 2);
}

void nm_sb_u32(struct nm_sb *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	nm_sb_bytes(b, x, 4);
}

void nm_sb_u64(struct nm_sb *b, uint64_t v)
{
	nm_sb_u32(b, (uint32_t)(v >> 32));
	nm_sb_u32(b, (uint32_t)v);
}

void nm_sb_mac(struct nm_sb *b, uint64_t v)
{
	nm_sb_u16(b, (uint16_t)(v >> 32));
	nm_sb_u32(b, (uint32_t)v);
}

void nm_sb_patch_u16(struct nm_sb *b, size_t off, uint16_t v)
{
	if (off + 2 > b->len) {
		b->overflow = true;
		return;
	}
	b->buf[off] = (uint8_t)(v >> 8);
	b->buf[off + 1] = (uint8_t)v;
}

void nm_sb_patch_u32(struct nm_sb *b, size_t off, uint32_t v)
{
	nm_sb_patch_u16(b, off, (uint16_t)(v >> 16));
	nm_sb_patch_u16(b, off + 2, (uint16_t)v);
}

void nm_sb_pad4(struct nm_sb *b)
{
	nm_sb_zeros(b, (4 - b->len % 4) % 4);
}

void nm_sb_opaque(struct nm_sb *b, const void *p, size_t n)
{
	nm_sb_u32(b, (uint32_t)n);
	nm_sb_bytes(b, p, n);
	nm_sb_pad4(b);
}

void nm_sb_begin(struct nm_sb *b, uint32_t format)
{
	nm_sb_u32(b, format);
	if (b->depth >= NM_SB_DEPTH) {
		b->overflow = true;
		return;
	}
	b->open[b->depth++] = b->len;
	nm_sb_u32(b, 0);
}

void nm_sb_end(struct nm_sb *b)
{
	if (b->depth == 0) {
		b->overflow = true;
		return;
	}
	nm_sb_pad4(b);
	size_t at = b->open[--b->depth];
	nm_sb_patch_u32(b, at, (uint32_t)(b->len - at - 4));
}

void nm_sb_addr4(struct nm_sb *b, uint8_t a, uint8_t c, uint8_t d, uint8_t e)
{
	const uint8_t v[4] = {a, c, d, e};
	nm_sb_u32(b, 1);
	nm_sb_bytes(b, v, 4);
}

void nm_sb_addr6(struct nm_sb *b, const uint8_t a[16])
{
	nm_sb_u32(b, 2);
	nm_sb_bytes(b, a, 16);
}

static size_t nm_sb_sflow_tail(struct nm_sb *b, uint32_t sub_agent, uint32_t seq,
			       uint32_t uptime_ms, uint32_t nsamples)
{
	nm_sb_u32(b, sub_agent);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, uptime_ms);
	size_t at = b->len;
	nm_sb_u32(b, nsamples);
	return at;
}

size_t nm_sb_sflow_hdr4(struct nm_sb *b, const uint8_t agent[4], uint32_t sub_agent,
			uint32_t seq, uint32_t uptime_ms, uint32_t nsamples)
{
	nm_sb_u32(b, 5);
	nm_sb_u32(b, 1);
	nm_sb_bytes(b, agent, 4);
	return nm_sb_sflow_tail(b, sub_agent, seq, uptime_ms, nsamples);
}

size_t nm_sb_sflow_hdr6(struct nm_sb *b, const uint8_t agent[16], uint32_t sub_agent,
			uint32_t seq, uint32_t uptime_ms, uint32_t nsamples)
{
	nm_sb_u32(b, 5);
	nm_sb_u32(b, 2);
	nm_sb_bytes(b, agent, 16);
	return nm_sb_sflow_tail(b, sub_agent, seq, uptime_ms, nsamples);
}

/* ---- packet headers ---- */

void nm_sb_eth(struct nm_sb *b, uint64_t dst, uint64_t src, uint16_t etype)
{
	nm_sb_mac(b, dst);
	nm_sb_mac(b, src);
	nm_sb_u16(b, etype);
}

void nm_sb_vlan(struct nm_sb *b, uint16_t tci, uint16_t etype)
{
	nm_sb_u16(b, tci);
	nm_sb_u16(b, etype);
}

void nm_sb_mpls(struct nm_sb *b, uint32_t label, uint8_t tc, bool bottom, uint8_t ttl)
{
	nm_sb_u32(b, label << 12 | (uint32_t)(tc & 7) << 9 | (bottom ? 0x100u : 0) | ttl);
}

void nm_sb_ip4(struct nm_sb *b, const struct nm_sb_ip4 *h)
{
	uint8_t ihl = h->ihl ? h->ihl : 5;
	nm_sb_u8(b, (uint8_t)(0x40 | (ihl & 0x0f)));
	nm_sb_u8(b, h->tos);
	nm_sb_u16(b, h->total);
	nm_sb_u16(b, h->id);
	nm_sb_u16(b, h->frag);
	nm_sb_u8(b, h->ttl);
	nm_sb_u8(b, h->proto);
	nm_sb_u16(b, 0); /* checksum: not verified by the parser */
	nm_sb_bytes(b, h->src, 4);
	nm_sb_bytes(b, h->dst, 4);
	for (unsigned i = 5; i < ihl; i++)
		nm_sb_u32(b, 0x01010101); /* NOP options */
}

void nm_sb_ip6(struct nm_sb *b, const struct nm_sb_ip6 *h)
{
	nm_sb_u32(b, 6u << 28 | (uint32_t)h->tclass << 20 | (h->flow & 0xfffff));
	nm_sb_u16(b, h->plen);
	nm_sb_u8(b, h->nh);
	nm_sb_u8(b, h->hlim);
	nm_sb_bytes(b, h->src, 16);
	nm_sb_bytes(b, h->dst, 16);
}

void nm_sb_ip6_ext(struct nm_sb *b, uint8_t nh, uint8_t hdr_ext_len)
{
	nm_sb_u8(b, nh);
	nm_sb_u8(b, hdr_ext_len);
	nm_sb_zeros(b, 6 + (size_t)hdr_ext_len * 8);
}

void nm_sb_ip6_frag(struct nm_sb *b, uint8_t nh, uint16_t offset, bool more, uint32_t id)
{
	nm_sb_u8(b, nh);
	nm_sb_u8(b, 0);
	nm_sb_u16(b, (uint16_t)(offset << 3 | (more ? 1 : 0)));
	nm_sb_u32(b, id);
}

void nm_sb_tcp(struct nm_sb *b, uint16_t sport, uint16_t dport, uint8_t flags)
{
	nm_sb_u16(b, sport);
	nm_sb_u16(b, dport);
	nm_sb_u32(b, 0x01020304); /* sequence */
	nm_sb_u32(b, 0);          /* acknowledgement */
	nm_sb_u8(b, 5 << 4);      /* data offset */
	nm_sb_u8(b, flags);
	nm_sb_u16(b, 65535); /* window */
	nm_sb_u16(b, 0);     /* checksum */
	nm_sb_u16(b, 0);     /* urgent pointer */
}

void nm_sb_udp(struct nm_sb *b, uint16_t sport, uint16_t dport, uint16_t len)
{
	nm_sb_u16(b, sport);
	nm_sb_u16(b, dport);
	nm_sb_u16(b, len);
	nm_sb_u16(b, 0);
}

void nm_sb_icmp(struct nm_sb *b, uint8_t type, uint8_t code)
{
	nm_sb_u8(b, type);
	nm_sb_u8(b, code);
	nm_sb_u16(b, 0);
	nm_sb_u32(b, 0x00010002); /* identifier, sequence */
}

void nm_sb_gre(struct nm_sb *b, uint16_t flags, uint16_t proto, uint32_t key, uint32_t seq)
{
	nm_sb_u16(b, flags);
	nm_sb_u16(b, proto);
	if (flags & 0x8000)
		nm_sb_u32(b, 0xbeef0000); /* checksum, reserved1 */
	if (flags & 0x2000)
		nm_sb_u32(b, key);
	if (flags & 0x1000)
		nm_sb_u32(b, seq);
}

void nm_sb_vxlan(struct nm_sb *b, uint32_t vni)
{
	nm_sb_u32(b, 0x08000000);
	nm_sb_u32(b, vni << 8);
}

/* ---- IPFIX ---- */

void nm_sb_ipfix_hdr(struct nm_sb *b, uint32_t export_secs, uint32_t seq, uint32_t domain)
{
	b->msg_at = b->len;
	nm_sb_u16(b, 10);
	nm_sb_u16(b, 0);
	nm_sb_u32(b, export_secs);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, domain);
}

void nm_sb_ipfix_end(struct nm_sb *b)
{
	nm_sb_patch_u16(b, b->msg_at + 2, (uint16_t)(b->len - b->msg_at));
}

void nm_sb_set_begin(struct nm_sb *b, uint16_t id)
{
	b->set_at = b->len;
	nm_sb_u16(b, id);
	nm_sb_u16(b, 0);
}

void nm_sb_set_end(struct nm_sb *b)
{
	nm_sb_patch_u16(b, b->set_at + 2, (uint16_t)(b->len - b->set_at));
}

void nm_sb_varlen(struct nm_sb *b, const void *p, size_t n)
{
	if (n < 255) {
		nm_sb_u8(b, (uint8_t)n);
	} else {
		nm_sb_u8(b, 255);
		nm_sb_u16(b, (uint16_t)n);
	}
	nm_sb_bytes(b, p, n);
}
