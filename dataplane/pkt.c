/* SPDX-License-Identifier: BSD-3-Clause */
#include "pkt.h"

#include <string.h>

#include "reader.h"

const char *nm_pkt_act_name(enum nm_pkt_act a)
{
	static const char *const n[NM_PKT_ACT__COUNT] = {
#define NM_X_(name, msg) #name,
		NM_PKT_ACTS(NM_X_)
#undef NM_X_
	};
	return (unsigned)a < NM_PKT_ACT__COUNT ? n[a] : "?";
}

static bool nm_pkt_ours(const struct nm_pkt_us *us, const struct nm_addr *a)
{
	for (uint32_t i = 0; i < us->naddrs; i++)
		if (memcmp(us->addrs[i].b, a->b, 16) == 0)
			return true;
	return false;
}

/* An Ethernet/IPv4 ARP request whose target address is ours. */
static bool nm_pkt_arp_for_us(const uint8_t *p, size_t len, const struct nm_l2l3 *c,
			      const struct nm_pkt_us *us)
{
	if (len - c->l3 < NM_ARP_LEN)
		return false;
	const uint8_t *a = p + c->l3;
	/* hardware 1 (Ethernet), protocol IPv4, lengths 6 and 4, request */
	if (nm_load_be16(a) != 1 || nm_load_be16(a + 2) != NM_ETH_IPV4 || a[4] != 6 || a[5] != 4 ||
	    nm_load_be16(a + 6) != 1)
		return false;
	struct nm_addr tip;
	nm_addr_set_v4(&tip, a + 24);
	return nm_pkt_ours(us, &tip);
}

/* A neighbour solicitation we can answer in place: its target is ours, it
 * was not forwarded (RFC 4861 7.1.1), it has a source to answer (not a
 * duplicate address detection probe from ::), and no extension header sits
 * between the IPv6 header and the message (the reply is built over it). */
static bool nm_pkt_nd_for_us(const uint8_t *p, const struct nm_l2l3 *c,
			     const struct nm_pkt_us *us)
{
	const uint8_t *m = p + c->l4;
	struct nm_addr target;
	memcpy(target.b, m + 8, 16);
	return m[1] == 0 && c->ttl == NM_ND_HOP_LIMIT && c->l3_len == NM_IP6_HDR &&
	       !nm_addr_is_zero(&c->src) && nm_pkt_ours(us, &target);
}

static enum nm_pkt_act nm_pkt_udp_or(const struct nm_l2l3 *c)
{
	if (c->proto != NM_IPPROTO_UDP)
		return NM_PKT_ACT_NOT_UDP;
	if (c->l4_len < 8)
		return NM_PKT_ACT_MALFORMED;
	return NM_PKT_ACT_UDP;
}

enum nm_pkt_act nm_pkt_classify(const uint8_t *p, size_t len, int link, bool contiguous,
				const struct nm_pkt_us *us, struct nm_l2l3 *c)
{
	switch (nm_l2l3_walk(p, len, link, c)) {
	case NM_L2L3_MALFORMED:
		return NM_PKT_ACT_MALFORMED;
	case NM_L2L3_ARP:
		return contiguous && nm_pkt_arp_for_us(p, len, c, us) ? NM_PKT_ACT_ARP_REPLY
								      : NM_PKT_ACT_NOT_IP;
	case NM_L2L3_IPV4:
		if (!us->any_dst && !nm_pkt_ours(us, &c->dst))
			return NM_PKT_ACT_NOT_FOR_US;
		if (c->frag)
			return contiguous ? NM_PKT_ACT_REASM : NM_PKT_ACT_FRAG_DROPPED;
		if (c->proto == NM_IPPROTO_ICMP && contiguous && c->l4_len >= 8 &&
		    p[c->l4] == NM_ICMP4_ECHO_REQUEST && nm_pkt_ours(us, &c->dst))
			return NM_PKT_ACT_ECHO_REPLY;
		return nm_pkt_udp_or(c);
	case NM_L2L3_IPV6:
		/* Solicitations go to a solicited-node multicast address:
		 * before the destination check. */
		if (c->proto == NM_IPPROTO_ICMPV6 && contiguous && !c->frag &&
		    c->l4_len >= NM_ND_NS_LEN && p[c->l4] == NM_ICMP6_ND_NS)
			return nm_pkt_nd_for_us(p, c, us) ? NM_PKT_ACT_ND_REPLY
							   : NM_PKT_ACT_NOT_UDP;
		if (!us->any_dst && !nm_pkt_ours(us, &c->dst))
			return NM_PKT_ACT_NOT_FOR_US;
		if (c->frag)
			return contiguous ? NM_PKT_ACT_REASM : NM_PKT_ACT_FRAG_DROPPED;
		if (c->proto == NM_IPPROTO_ICMPV6 && contiguous && c->l4_len >= 8 &&
		    c->l3_len == NM_IP6_HDR && p[c->l4] == NM_ICMP6_ECHO_REQUEST &&
		    nm_pkt_ours(us, &c->dst))
			return NM_PKT_ACT_ECHO_REPLY;
		return nm_pkt_udp_or(c);
	default:
		return NM_PKT_ACT_NOT_IP;
	}
}

enum nm_pkt_act nm_pkt_classify_reassembled(const uint8_t *p, size_t len, int link,
					    struct nm_l2l3 *c)
{
	enum nm_l2l3_kind k = nm_l2l3_walk(p, len, link, c);
	if ((k != NM_L2L3_IPV4 && k != NM_L2L3_IPV6) || c->frag || c->end != len)
		return NM_PKT_ACT_MALFORMED;
	return nm_pkt_udp_or(c);
}

/* ---- captures ---- */

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
	size_t plen;
	if (!nm_l4_udp_read(p, len, &u->sport, &u->dport, &plen))
		return NM_PKT_MALFORMED;
	u->payload = p + 8;
	u->len = plen;
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
	if (proto != NM_IPPROTO_UDP)
		return NM_PKT_NOT_UDP;
	memcpy(r->out, s->data, s->total);
	u->src = *src;
	u->dst = *dst;
	return nm_udp(r->out, s->total, u);
}

enum nm_pkt_res nm_pkt_parse(struct nm_reasm *r, int link, const uint8_t *p, size_t len,
			     struct nm_udp_view *u)
{
	static const struct nm_pkt_us any = {NULL, 0, true};
	struct nm_l2l3 c;
	switch (nm_pkt_classify(p, len, link, true, &any, &c)) {
	case NM_PKT_ACT_UDP:
		u->src = c.src;
		u->dst = c.dst;
		return nm_udp(p + c.l4, c.l4_len, u);
	case NM_PKT_ACT_REASM:
		u->src = c.src;
		u->dst = c.dst;
		return nm_reasm_add(r, &c.src, &c.dst, c.frag_id, c.proto, c.kind == NM_L2L3_IPV6,
				    c.frag_off, p + c.l4, c.l4_len, c.frag_more, u);
	case NM_PKT_ACT_MALFORMED:
		return NM_PKT_MALFORMED;
	default:
		return c.why == NM_L2L3_WHY_LINK_UNKNOWN ? NM_PKT_LINK_UNKNOWN : NM_PKT_NOT_UDP;
	}
}
