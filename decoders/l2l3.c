/* SPDX-License-Identifier: BSD-3-Clause */
#include "l2l3.h"

#include <string.h>

static const char *const nm_l2l3_why_names[NM_L2L3__WHY_COUNT] = {
#define NM_X_(name, msg) #name,
	NM_L2L3_WHYS(NM_X_)
#undef NM_X_
};

static const char *const nm_l2l3_why_msgs[NM_L2L3__WHY_COUNT] = {
#define NM_X_(name, msg) msg,
	NM_L2L3_WHYS(NM_X_)
#undef NM_X_
};

const char *nm_l2l3_why_name(enum nm_l2l3_why w)
{
	return (unsigned)w < NM_L2L3__WHY_COUNT ? nm_l2l3_why_names[w] : "?";
}

const char *nm_l2l3_why_msg(enum nm_l2l3_why w)
{
	return (unsigned)w < NM_L2L3__WHY_COUNT ? nm_l2l3_why_msgs[w] : "?";
}

const char *nm_l2l3_kind_name(enum nm_l2l3_kind k)
{
	static const char *const n[NM_L2L3__KIND_COUNT] = {"ipv4", "ipv6", "arp", "other",
							    "malformed"};
	return (unsigned)k < NM_L2L3__KIND_COUNT ? n[k] : "?";
}

static enum nm_l2l3_kind nm_l2l3_stop(struct nm_l2l3 *c, enum nm_l2l3_kind k,
				      enum nm_l2l3_why why)
{
	c->kind = (uint8_t)k;
	c->why = (uint8_t)why;
	return k;
}

static enum nm_l2l3_kind nm_l2l3_bad(struct nm_l2l3 *c, enum nm_l2l3_why why)
{
	return nm_l2l3_stop(c, NM_L2L3_MALFORMED, why);
}

/* IPv4 at p + off: the header, and its total length within the frame. */
static enum nm_l2l3_kind nm_l2l3_ip4(const uint8_t *p, size_t len, size_t off, struct nm_l2l3 *c)
{
	struct nm_ip4_hdr h;
	const uint8_t *ip = p + off;
	c->l3 = (uint32_t)off;
	enum nm_l2l3_why why = nm_l3_ip4_read(ip, len - off, &h);
	if (why != NM_L2L3_WHY_NONE)
		return nm_l2l3_bad(c, why);
	if (h.tot == 0)
		return nm_l2l3_bad(c, NM_L2L3_WHY_IP4_LEN_ZERO);
	if (h.tot < h.ihl || h.tot > len - off)
		return nm_l2l3_bad(c, NM_L2L3_WHY_IP4_LEN);
	nm_addr_set_v4(&c->src, ip + NM_IP4_SRC);
	nm_addr_set_v4(&c->dst, ip + NM_IP4_DST);
	c->proto = h.proto;
	c->ttl = h.ttl;
	c->frag_more = (h.frag & NM_IP4_MF) != 0;
	c->frag_off = (uint32_t)(h.frag & NM_IP4_OFF_MASK) * 8;
	c->frag = c->frag_more || c->frag_off != 0;
	c->frag_id = h.id;
	c->l3_len = h.ihl;
	c->l4 = (uint32_t)off + h.ihl;
	c->l4_len = (uint32_t)h.tot - h.ihl;
	c->end = (uint32_t)off + h.tot;
	return nm_l2l3_stop(c, NM_L2L3_IPV4, NM_L2L3_WHY_NONE);
}

/* IPv6 at p + off: the header, its payload length within the frame, and the
 * extension headers up to NM_L3_V6_EXT_MAX (stopping after a fragment
 * header: what follows it belongs to the reassembled datagram). */
static enum nm_l2l3_kind nm_l2l3_ip6(const uint8_t *p, size_t len, size_t off, struct nm_l2l3 *c)
{
	struct nm_ip6_hdr h;
	const uint8_t *ip = p + off;
	c->l3 = (uint32_t)off;
	enum nm_l2l3_why why = nm_l3_ip6_read(ip, len - off, &h);
	if (why != NM_L2L3_WHY_NONE)
		return nm_l2l3_bad(c, why);
	if (h.plen == 0 && h.nh == NM_IPPROTO_HOPOPTS)
		return nm_l2l3_bad(c, NM_L2L3_WHY_IP6_JUMBO);
	if (h.plen > len - off - NM_IP6_HDR)
		return nm_l2l3_bad(c, NM_L2L3_WHY_IP6_LEN);
	memcpy(c->src.b, ip + NM_IP6_SRC, 16);
	memcpy(c->dst.b, ip + NM_IP6_DST, 16);
	c->ttl = h.hlim;
	c->end = (uint32_t)(off + NM_IP6_HDR + h.plen);
	size_t q = off + NM_IP6_HDR, left = h.plen;
	uint8_t nh = h.nh;
	why = NM_L2L3_WHY_NONE;
	for (unsigned depth = 0; nm_l3_ip6_is_ext(nh); depth++) {
		if (depth >= NM_L3_V6_EXT_MAX) {
			why = NM_L2L3_WHY_IP6_EXT_DEPTH;
			break;
		}
		if (left < 8)
			return nm_l2l3_bad(c, NM_L2L3_WHY_IP6_EXT_CUT);
		size_t hl = nm_l3_ip6_ext_len(nh, p + q);
		if (hl > left)
			return nm_l2l3_bad(c, NM_L2L3_WHY_IP6_EXT_CUT);
		uint8_t next = p[q];
		if (nh == NM_IPPROTO_FRAGMENT) {
			uint16_t fo = nm_load_be16(p + q + 2);
			c->frag = 1;
			c->frag_more = fo & 1;
			c->frag_off = fo & 0xfff8u;
			c->frag_id = nm_load_be32(p + q + 4);
			q += hl;
			left -= hl;
			nh = next;
			break;
		}
		q += hl;
		left -= hl;
		nh = next;
	}
	c->proto = nh;
	c->l3_len = (uint32_t)(q - off);
	c->l4 = (uint32_t)q;
	c->l4_len = (uint32_t)left;
	return nm_l2l3_stop(c, NM_L2L3_IPV6, why);
}

/* After an EtherType field at off - 2: tags, then the network layer. */
static enum nm_l2l3_kind nm_l2l3_ether(const uint8_t *p, size_t len, size_t off, uint16_t et,
				       struct nm_l2l3 *c)
{
	struct nm_l2_tags t;
	enum nm_l2l3_why why = nm_l2_tags_walk(p, len, off, et, &t);
	c->ntags = t.ntags;
	c->tci = t.tci;
	c->etype = t.etype;
	c->l3 = (uint32_t)t.off;
	if (why == NM_L2L3_WHY_VLAN_DEPTH)
		return nm_l2l3_stop(c, NM_L2L3_OTHER, why);
	if (why != NM_L2L3_WHY_NONE)
		return nm_l2l3_bad(c, why);
	switch (t.etype) {
	case NM_ETH_IPV4:
		return nm_l2l3_ip4(p, len, t.off, c);
	case NM_ETH_IPV6:
		return nm_l2l3_ip6(p, len, t.off, c);
	case NM_ETH_ARP:
		return nm_l2l3_stop(c, NM_L2L3_ARP, NM_L2L3_WHY_NONE);
	default:
		return nm_l2l3_stop(c, NM_L2L3_OTHER, NM_L2L3_WHY_NONE);
	}
}

/* Raw IP at p + off: the version nibble tells which. */
static enum nm_l2l3_kind nm_l2l3_raw(const uint8_t *p, size_t len, size_t off, struct nm_l2l3 *c)
{
	c->l3 = (uint32_t)off;
	if (len <= off)
		return nm_l2l3_bad(c, NM_L2L3_WHY_LINK_SHORT);
	switch (p[off] >> 4) {
	case 4:
		c->etype = NM_ETH_IPV4;
		return nm_l2l3_ip4(p, len, off, c);
	case 6:
		c->etype = NM_ETH_IPV6;
		return nm_l2l3_ip6(p, len, off, c);
	default:
		return nm_l2l3_stop(c, NM_L2L3_OTHER, NM_L2L3_WHY_NONE);
	}
}

enum nm_l2l3_kind nm_l2l3_walk(const uint8_t *p, size_t len, int link, struct nm_l2l3 *c)
{
	memset(c, 0, sizeof(*c));
	/* Offsets are 32-bit; no frame comes near. */
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	switch (link) {
	case NM_LINK_ETHERNET:
		if (len < 14)
			return nm_l2l3_bad(c, NM_L2L3_WHY_LINK_SHORT);
		return nm_l2l3_ether(p, len, 14, nm_load_be16(p + 12), c);
	case NM_LINK_LINUX_SLL: /* 16 bytes, protocol type last */
		if (len < 16)
			return nm_l2l3_bad(c, NM_L2L3_WHY_LINK_SHORT);
		return nm_l2l3_ether(p, len, 16, nm_load_be16(p + 14), c);
	case NM_LINK_LINUX_SLL2: /* 20 bytes, protocol type first */
		if (len < 20)
			return nm_l2l3_bad(c, NM_L2L3_WHY_LINK_SHORT);
		return nm_l2l3_ether(p, len, 20, nm_load_be16(p), c);
	case NM_LINK_NULL: /* 4-byte address family (host order): by IP version instead */
	case NM_LINK_LOOP:
		if (len < 4)
			return nm_l2l3_bad(c, NM_L2L3_WHY_LINK_SHORT);
		return nm_l2l3_raw(p, len, 4, c);
	case NM_LINK_RAW:
	case NM_LINK_IPV4:
	case NM_LINK_IPV6:
		return nm_l2l3_raw(p, len, 0, c);
	default:
		return nm_l2l3_stop(c, NM_L2L3_OTHER, NM_L2L3_WHY_LINK_UNKNOWN);
	}
}
