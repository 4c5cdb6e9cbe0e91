/* SPDX-License-Identifier: BSD-3-Clause */
#include "hdr.h"

#include <string.h>

#include "l2l3.h"
#include "reader.h"

struct nm_hdr_ctx {
	struct nm_flow *f;
	int encap_done; /* one level of encapsulation is followed */
};

static enum nm_hdr_res nm_hdr_l3(struct nm_hdr_ctx *c, uint16_t etype, const uint8_t *p,
				 size_t len);
static enum nm_hdr_res nm_hdr_eth(struct nm_hdr_ctx *c, const uint8_t *p, size_t len);

/*
 * Moves the outer IP fields to the encapsulation fields and clears them, so
 * the inner packet describes the flow (the *Encap fields of proto/flow.proto).
 */
static int nm_hdr_encap(struct nm_hdr_ctx *c)
{
	struct nm_flow *f = c->f;
	if (c->encap_done)
		return 0;
	c->encap_done = 1;
	f->has_encap = 1;
	f->src_addr_encap = f->src_addr;
	f->dst_addr_encap = f->dst_addr;
	f->proto_encap = f->proto;
	f->etype_encap = f->etype;
	f->ip_tos_encap = f->ip_tos;
	f->ip_ttl_encap = f->ip_ttl;
	f->ipv6_flow_label_encap = f->ipv6_flow_label;
	f->fragment_id_encap = f->fragment_id;
	f->fragment_offset_encap = f->fragment_offset;
	memset(&f->src_addr, 0, sizeof(f->src_addr));
	memset(&f->dst_addr, 0, sizeof(f->dst_addr));
	f->proto = f->ip_tos = f->ip_ttl = f->ipv6_flow_label = 0;
	f->etype = 0; /* the inner packet's, once its header is there */
	f->fragment_id = f->fragment_offset = 0;
	f->src_port = f->dst_port = f->tcp_flags = 0;
	return 1;
}

/* GRE (RFC 2784/2890): flags, protocol type, optional checksum/key/sequence. */
static enum nm_hdr_res nm_hdr_gre(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	if (len < 4)
		return NM_HDR_TRUNCATED;
	uint16_t flags = nm_load_be16(p);
	uint16_t proto = nm_load_be16(p + 2);
	size_t off = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) +
		     ((flags & 0x1000) ? 4 : 0);
	if (off > len)
		return NM_HDR_TRUNCATED;
	if (proto == 0x6558) /* transparent Ethernet bridging */
		return nm_hdr_eth(c, p + off, len - off);
	return nm_hdr_l3(c, proto, p + off, len - off);
}

/* Transport layer: ports, TCP flags, ICMP type/code; encapsulations. */
static enum nm_hdr_res nm_hdr_l4(struct nm_hdr_ctx *c, uint8_t proto, const uint8_t *p,
				 size_t len)
{
	struct nm_flow *f = c->f;
	switch (proto) {
	case 6: /* TCP */
		if (len < 4)
			return NM_HDR_TRUNCATED;
		f->src_port = nm_load_be16(p);
		f->dst_port = nm_load_be16(p + 2);
		if (len < 14)
			return NM_HDR_TRUNCATED;
		f->tcp_flags = p[13];
		return NM_HDR_OK;
	case 17: /* UDP */
		if (len < 4)
			return NM_HDR_TRUNCATED;
		f->src_port = nm_load_be16(p);
		f->dst_port = nm_load_be16(p + 2);
		if (f->dst_port == 4789 && !c->encap_done) {
			/* VXLAN: 8-byte UDP header, 8-byte VXLAN header, then Ethernet. */
			if (len < 16)
				return NM_HDR_TRUNCATED;
			if (!(p[8] & 0x08))
				return NM_HDR_OK; /* I flag clear: not VXLAN */
			nm_hdr_encap(c);
			return nm_hdr_eth(c, p + 16, len - 16);
		}
		return NM_HDR_OK;
	case 1:  /* ICMP */
	case 58: /* ICMPv6 */
		if (len < 2)
			return NM_HDR_TRUNCATED;
		f->icmp_type = p[0];
		f->icmp_code = p[1];
		return NM_HDR_OK;
	case 47: /* GRE; version 1 (PPTP) is not followed */
		if (len < 4)
			return NM_HDR_TRUNCATED;
		if ((nm_load_be16(p) & 0x0007) != 0 || !nm_hdr_encap(c))
			return NM_HDR_OK;
		return nm_hdr_gre(c, p, len);
	case 4: /* IPv4 in IP */
		if (!nm_hdr_encap(c))
			return NM_HDR_OK;
		return nm_hdr_l3(c, 0x0800, p, len);
	case 41: /* IPv6 in IP */
		if (!nm_hdr_encap(c))
			return NM_HDR_OK;
		return nm_hdr_l3(c, 0x86dd, p, len);
	default:
		return NM_HDR_OK;
	}
}

static enum nm_hdr_res nm_hdr_ipv4(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	struct nm_flow *f = c->f;
	f->etype = NM_ETH_IPV4;
	struct nm_ip4_hdr h;
	if (nm_l3_ip4_read(p, len, &h) != NM_L2L3_WHY_NONE)
		return NM_HDR_TRUNCATED; /* cut, or not a valid IPv4 header: nothing trusted */
	f->ip_tos = h.tos;
	f->fragment_id = h.id;
	f->fragment_offset = h.frag & NM_IP4_OFF_MASK;
	f->ip_ttl = h.ttl;
	f->proto = h.proto;
	nm_addr_set_v4(&f->src_addr, p + NM_IP4_SRC);
	nm_addr_set_v4(&f->dst_addr, p + NM_IP4_DST);
	if (f->fragment_offset != 0)
		return NM_HDR_OK; /* non-first fragment: no transport header */
	if (h.ihl > len)
		return NM_HDR_TRUNCATED;
	return nm_hdr_l4(c, f->proto, p + h.ihl, len - h.ihl);
}

static enum nm_hdr_res nm_hdr_ipv6(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	struct nm_flow *f = c->f;
	f->etype = NM_ETH_IPV6;
	struct nm_ip6_hdr h;
	if (nm_l3_ip6_read(p, len, &h) != NM_L2L3_WHY_NONE)
		return NM_HDR_TRUNCATED;
	f->ip_tos = (h.w0 >> 20) & 0xff;
	f->ipv6_flow_label = h.w0 & 0xfffff;
	f->ip_ttl = h.hlim;
	memcpy(f->src_addr.b, p + NM_IP6_SRC, 16);
	memcpy(f->dst_addr.b, p + NM_IP6_DST, 16);
	uint8_t nh = h.nh;
	p += NM_IP6_HDR;
	len -= NM_IP6_HDR;
	/* Unlike the frame walker, go on past a first fragment's header: the
	 * transport header after it describes the flow. */
	for (int depth = 0;; depth++) {
		f->proto = nh;
		if (!nm_l3_ip6_is_ext(nh))
			return nm_hdr_l4(c, nh, p, len);
		if (depth >= NM_L3_V6_EXT_MAX)
			return NM_HDR_DEPTH;
		if (len < 8)
			return NM_HDR_TRUNCATED;
		size_t hl = nm_l3_ip6_ext_len(nh, p);
		if (nh == NM_IPPROTO_FRAGMENT) {
			f->fragment_offset = nm_load_be16(p + 2) >> 3;
			f->fragment_id = nm_load_be32(p + 4);
			if (f->fragment_offset != 0) {
				f->proto = p[0];
				return NM_HDR_OK; /* non-first fragment */
			}
		}
		nh = p[0];
		if (hl > len) {
			f->proto = nh;
			return NM_HDR_TRUNCATED;
		}
		p += hl;
		len -= hl;
	}
}

/* MPLS label stack (RFC 3032): label(20) tc(3) S(1) ttl(8) per entry. */
static enum nm_hdr_res nm_hdr_mpls(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	struct nm_flow *f = c->f;
	uint32_t n = 0;
	for (;;) {
		if (len < 4)
			return NM_HDR_TRUNCATED;
		if (n >= NM_HDR_MPLS_MAX)
			return NM_HDR_DEPTH;
		uint32_t e = nm_load_be32(p);
		nm_flow_mpls_entry(f, n, e >> 12, e & 0xff);
		f->mpls_count = ++n;
		f->has_mpls = 1;
		p += 4;
		len -= 4;
		if (e & 0x100)
			break;
	}
	/* No payload type in MPLS: guess from the IP version nibble. */
	if (len < 1)
		return NM_HDR_TRUNCATED;
	if ((p[0] >> 4) == 4)
		return nm_hdr_ipv4(c, p, len);
	if ((p[0] >> 4) == 6)
		return nm_hdr_ipv6(c, p, len);
	return NM_HDR_OK;
}

static enum nm_hdr_res nm_hdr_l3(struct nm_hdr_ctx *c, uint16_t etype, const uint8_t *p,
				 size_t len)
{
	switch (etype) {
	case NM_ETH_IPV4:
		return nm_hdr_ipv4(c, p, len);
	case NM_ETH_IPV6:
		return nm_hdr_ipv6(c, p, len);
	case 0x8847:
	case 0x8848:
		if (c->f->etype == 0)
			c->f->etype = etype;
		return nm_hdr_mpls(c, p, len);
	default:
		c->f->etype = etype;
		return NM_HDR_OK;
	}
}

static enum nm_hdr_res nm_hdr_eth(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	struct nm_flow *f = c->f;
	if (len < 14)
		return NM_HDR_TRUNCATED;
	/* Inner frame of an encapsulation keeps the outer MACs and VLAN. */
	if (!c->encap_done) {
		f->dst_mac = (uint64_t)nm_load_be16(p) << 32 | nm_load_be32(p + 2);
		f->src_mac = (uint64_t)nm_load_be16(p + 6) << 32 | nm_load_be32(p + 8);
	}
	struct nm_l2_tags t;
	enum nm_l2l3_why why = nm_l2_tags_walk(p, len, 14, nm_load_be16(p + 12), &t);
	if (t.ntags > 0 && !c->encap_done)
		f->vlan_id = t.tci & 0x0fff;
	if (why == NM_L2L3_WHY_VLAN_DEPTH)
		return NM_HDR_DEPTH;
	if (why != NM_L2L3_WHY_NONE)
		return NM_HDR_TRUNCATED;
	if (t.etype < NM_ETH_MIN)
		return NM_HDR_OK; /* 802.3 length field: LLC, not IP */
	return nm_hdr_l3(c, t.etype, p + t.off, len - t.off);
}

static enum nm_hdr_res nm_hdr_ppp(struct nm_hdr_ctx *c, const uint8_t *p, size_t len)
{
	struct nm_flow *f = c->f;
	if (len < 4)
		return NM_HDR_TRUNCATED;
	f->has_ppp = 1;
	f->ppp_address_control = nm_load_be16(p);
	uint16_t proto = nm_load_be16(p + 2);
	if (proto == 0x0021)
		return nm_hdr_ipv4(c, p + 4, len - 4);
	if (proto == 0x0057)
		return nm_hdr_ipv6(c, p + 4, len - 4);
	if (proto == 0x0281)
		return nm_hdr_mpls(c, p + 4, len - 4);
	return NM_HDR_OK;
}

enum nm_hdr_res nm_hdr_parse(const uint8_t *p, size_t len, enum nm_hdr_start start,
			     struct nm_flow *f)
{
	struct nm_hdr_ctx c = {f, 0};
	switch (start) {
	case NM_HDR_ETHERNET:
		return nm_hdr_eth(&c, p, len);
	case NM_HDR_IPV4:
		return nm_hdr_ipv4(&c, p, len);
	case NM_HDR_IPV6:
		return nm_hdr_ipv6(&c, p, len);
	case NM_HDR_MPLS:
		return nm_hdr_mpls(&c, p, len);
	case NM_HDR_PPP:
		return nm_hdr_ppp(&c, p, len);
	default:
		return NM_HDR_UNSUPPORTED;
	}
}
