/* SPDX-License-Identifier: BSD-3-Clause */
#include "pkt.h"

#include <stdbool.h>
#include <string.h>

#include "reader.h"

#define NM_VLAN_DEPTH_MAX 2
#define NM_V6_EXT_DEPTH_MAX 8

const char *nm_pkt_res_name(enum nm_pkt_res r)
{
	static const char *const n[NM_PKT__COUNT] = {"udp", "held", "not_udp", "malformed",
						      "frag_dropped", "link_unknown"};
	return (unsigned)r < NM_PKT__COUNT ? n[r] : "?";
}

void nm_reasm_init(struct nm_reasm *r)
{
	memset(r, 0, sizeof(*r));
}

static enum nm_pkt_res nm_udp(const uint8_t *p, size_t len, struct nm_udp_view *u)
{
	if (len < 8)
		return NM_PKT_MALFORMED;
	u->sport = nm_load_be16(p);
	u->dport = nm_load_be16(p + 2);
	size_t ulen = nm_load_be16(p + 4);
	/* A UDP length of 0 (jumbograms) or beyond the IP payload: trust IP. */
	if (ulen < 8 || ulen > len)
		ulen = len;
	u->payload = p + 8;
	u->len = ulen - 8;
	return NM_PKT_UDP;
}

/*
 * Stores one fragment (payload bytes [off, off+n) of datagram key) and
 * returns NM_PKT_UDP with u set when the datagram is complete.
 */
static enum nm_pkt_res nm_reasm_add(struct nm_reasm *r, const struct nm_addr *src,
				    const struct nm_addr *dst, uint32_t id, uint8_t proto, uint8_t v6,
				    uint32_t off, const uint8_t *p, size_t n, int more,
				    struct nm_udp_view *u)
{
	if (off + n > NM_REASM_MAX || (more && n % 8))
		return NM_PKT_FRAG_DROPPED;
	struct nm_reasm_slot *s = NULL, *oldest = NULL;
	for (unsigned i = 0; i < NM_REASM_SLOTS; i++) {
		struct nm_reasm_slot *c = &r->slot[i];
		if (c->in_use && c->id == id && c->proto == proto && c->v6 == v6 &&
		    memcmp(&c->src, src, 16) == 0 && memcmp(&c->dst, dst, 16) == 0) {
			s = c;
			break;
		}
		if (oldest == NULL || !c->in_use || (oldest->in_use && c->seq < oldest->seq))
			oldest = c;
	}
	if (s == NULL) {
		s = oldest;
		if (s->in_use)
			r->evicted++;
		memset(s->blocks, 0, sizeof(s->blocks));
		s->src = *src;
		s->dst = *dst;
		s->id = id;
		s->proto = proto;
		s->v6 = v6;
		s->in_use = 1;
		s->total = 0;
		s->received = 0;
		s->max_end = 0;
	}
	s->seq = ++r->seq;
	memcpy(s->data + off, p, n);
	/* Count only blocks not seen before, so duplicates do not complete it. */
	for (uint32_t b = off / 8; b < (uint32_t)((off + n + 7) / 8); b++) {
		if (!(s->blocks[b / 8] & (1u << (b % 8)))) {
			s->blocks[b / 8] |= (uint8_t)(1u << (b % 8));
			uint32_t end = (b + 1) * 8;
			if (end > off + n)
				end = (uint32_t)(off + n);
			s->received += end - b * 8;
		}
	}
	if (off + n > s->max_end)
		s->max_end = (uint32_t)(off + n);
	if (!more)
		s->total = (uint32_t)(off + n);
	if (s->total == 0 || s->received < s->total)
		return NM_PKT_HELD;
	/* Complete only when every block below the end came, and nothing lies
	 * past the end: counting bytes alone would hand out holes filled
	 * with an earlier datagram's bytes. */
	bool whole = s->max_end <= s->total;
	for (uint32_t b = 0; whole && b < (s->total + 7) / 8; b++)
		whole = (s->blocks[b / 8] >> (b % 8)) & 1u;
	s->in_use = 0;
	if (!whole)
		return NM_PKT_FRAG_DROPPED;
	if (proto != 17)
		return NM_PKT_NOT_UDP;
	memcpy(r->out, s->data, s->total);
	u->src = *src;
	u->dst = *dst;
	return nm_udp(r->out, s->total, u);
}

static enum nm_pkt_res nm_ipv4(struct nm_reasm *r, const uint8_t *p, size_t len,
			       struct nm_udp_view *u)
{
	if (len < 20 || (p[0] >> 4) != 4)
		return NM_PKT_MALFORMED;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	size_t tot = nm_load_be16(p + 2);
	if (ihl < 20 || tot < ihl || ihl > len)
		return NM_PKT_MALFORMED;
	if (tot > len)
		return NM_PKT_MALFORMED; /* captured short */
	uint16_t frag = nm_load_be16(p + 6);
	uint8_t proto = p[9];
	nm_addr_set_v4(&u->src, p + 12);
	nm_addr_set_v4(&u->dst, p + 16);
	int more = (frag & 0x2000) != 0;
	uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
	if (more || off)
		return nm_reasm_add(r, &u->src, &u->dst, nm_load_be16(p + 4), proto, 0, off, p + ihl,
				    tot - ihl, more, u);
	if (proto != 17)
		return NM_PKT_NOT_UDP;
	return nm_udp(p + ihl, tot - ihl, u);
}

static enum nm_pkt_res nm_ipv6(struct nm_reasm *r, const uint8_t *p, size_t len,
			       struct nm_udp_view *u)
{
	if (len < 40 || (p[0] >> 4) != 6)
		return NM_PKT_MALFORMED;
	size_t plen = nm_load_be16(p + 4);
	if (plen + 40 > len)
		return NM_PKT_MALFORMED;
	memcpy(u->src.b, p + 8, 16);
	memcpy(u->dst.b, p + 24, 16);
	uint8_t nh = p[6];
	const uint8_t *q = p + 40;
	size_t left = plen;
	for (int depth = 0; depth < NM_V6_EXT_DEPTH_MAX; depth++) {
		switch (nh) {
		case 17:
			return nm_udp(q, left, u);
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
		{
			if (left < 8)
				return NM_PKT_MALFORMED;
			size_t hl = ((size_t)q[1] + 1) * 8;
			if (hl > left)
				return NM_PKT_MALFORMED;
			nh = q[0];
			q += hl;
			left -= hl;
			break;
		}
		case 44: /* fragment */
		{
			if (left < 8)
				return NM_PKT_MALFORMED;
			uint16_t fo = nm_load_be16(q + 2);
			uint32_t id = nm_load_be32(q + 4);
			uint8_t next = q[0];
			/* Only the first fragment's next header is known; the
			 * reassembled payload starts right after this header. */
			return nm_reasm_add(r, &u->src, &u->dst, id, next, 1, (uint32_t)(fo & 0xfff8),
					    q + 8, left - 8, fo & 1, u);
		}
		default:
			return NM_PKT_NOT_UDP;
		}
	}
	return NM_PKT_MALFORMED;
}

static enum nm_pkt_res nm_ethertype(struct nm_reasm *r, uint16_t et, const uint8_t *p, size_t len,
				    struct nm_udp_view *u)
{
	if (et == 0x0800)
		return nm_ipv4(r, p, len, u);
	if (et == 0x86dd)
		return nm_ipv6(r, p, len, u);
	return NM_PKT_NOT_UDP;
}

static enum nm_pkt_res nm_ip_any(struct nm_reasm *r, const uint8_t *p, size_t len,
				 struct nm_udp_view *u)
{
	if (len < 1)
		return NM_PKT_MALFORMED;
	if ((p[0] >> 4) == 4)
		return nm_ipv4(r, p, len, u);
	if ((p[0] >> 4) == 6)
		return nm_ipv6(r, p, len, u);
	return NM_PKT_NOT_UDP;
}

enum nm_pkt_res nm_pkt_parse(struct nm_reasm *r, int link, const uint8_t *p, size_t len,
			     struct nm_udp_view *u)
{
	switch (link) {
	case NM_LINK_ETHERNET: {
		if (len < 14)
			return NM_PKT_MALFORMED;
		uint16_t et = nm_load_be16(p + 12);
		size_t off = 14;
		for (int depth = 0; (et == 0x8100 || et == 0x88a8 || et == 0x9100); depth++) {
			if (depth >= NM_VLAN_DEPTH_MAX)
				return NM_PKT_NOT_UDP;
			if (len < off + 4)
				return NM_PKT_MALFORMED;
			et = nm_load_be16(p + off + 2);
			off += 4;
		}
		return nm_ethertype(r, et, p + off, len - off, u);
	}
	case NM_LINK_RAW:
	case NM_LINK_IPV4:
	case NM_LINK_IPV6:
		return nm_ip_any(r, p, len, u);
	case NM_LINK_NULL:
	case NM_LINK_LOOP:
		if (len < 4)
			return NM_PKT_MALFORMED;
		return nm_ip_any(r, p + 4, len - 4, u);
	case NM_LINK_LINUX_SLL:
		if (len < 16)
			return NM_PKT_MALFORMED;
		return nm_ethertype(r, nm_load_be16(p + 14), p + 16, len - 16, u);
	case NM_LINK_LINUX_SLL2:
		if (len < 20)
			return NM_PKT_MALFORMED;
		return nm_ethertype(r, nm_load_be16(p), p + 20, len - 20, u);
	default:
		return NM_PKT_LINK_UNKNOWN;
	}
}
