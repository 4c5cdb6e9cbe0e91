/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one L2/L3 walker: a link layer (Ethernet, Linux cooked v1/v2, BSD
 * loopback, raw IP), VLAN tags, IPv4 (RFC 791) and IPv6 with its extension
 * headers (RFC 8200), as far as the transport header.
 *
 * nm_l2l3_walk() classifies a whole received frame: what it is, where each
 * layer starts, the addresses, the protocol, the fragment fields, or why it
 * is malformed. The DPDK packet path (dataplane/dpdk_pkt.c) and the packet
 * parser of netmeta-decode and the fuzz targets (dataplane/pkt.c) walk
 * every frame with it. The sampled-header parser (decoders/hdr.c) reads
 * headers that are usually cut short and fills what it finds, so it does
 * not take the walker's verdict: it uses the same step functions below
 * (VLAN tags, IPv4 and IPv6 header, IPv6 extension headers) and the same
 * caps.
 *
 * The caps, the only ones in the tree (a chain longer than a cap is not
 * looked into; the frame is counted, never a loop without a bound):
 *
 *   NM_L2_VLAN_MAX    3 tags: 802.1Q (0x8100), 802.1ad (0x88a8) and the
 *                     pre-standard 0x9100, in any order. QinQ needs two;
 *                     the third is for provider networks that stack one
 *                     more (sFlow samples of their core links).
 *   NM_L3_V6_EXT_MAX  8 IPv6 extension headers (hop-by-hop, routing,
 *                     fragment, destination options). RFC 8200 4.1 allows
 *                     each once (destination options twice): 8 is ample.
 *
 * Pure C: no allocation, no state; every read is within [p, p + len).
 */
#ifndef NM_L2L3_H
#define NM_L2L3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "reader.h"

#define NM_L2_VLAN_MAX 3
#define NM_L3_V6_EXT_MAX 8

/* The longest frame an IP header can describe whole: Ethernet, NM_L2_VLAN_MAX
 * tags, the IPv6 header and 65535 bytes of payload. A longer frame carries a
 * length no header states (IPv4 total length 0 of segmentation offload,
 * IPv6 jumbograms, LRO aggregates): a buffer of this size holds every frame
 * worth reading. */
#define NM_L2L3_FRAME_MAX (14 + 4 * NM_L2_VLAN_MAX + 40 + 65535)

/* Link types (pcap LINKTYPE_* values). */
enum nm_link {
	NM_LINK_NULL = 0,
	NM_LINK_ETHERNET = 1,
	NM_LINK_RAW = 101,
	NM_LINK_LOOP = 108,
	NM_LINK_LINUX_SLL = 113,
	NM_LINK_IPV4 = 228,
	NM_LINK_IPV6 = 229,
	NM_LINK_LINUX_SLL2 = 276,
};

/* EtherTypes and protocol numbers the walker and its users name. */
#define NM_ETH_IPV4 0x0800
#define NM_ETH_ARP 0x0806
#define NM_ETH_IPV6 0x86dd
#define NM_ETH_VLAN 0x8100   /* 802.1Q */
#define NM_ETH_QINQ 0x88a8   /* 802.1ad */
#define NM_ETH_QINQ_OLD 0x9100
#define NM_ETH_MIN 0x0600    /* below: an 802.3 length field, not a type */

#define NM_IPPROTO_HOPOPTS 0
#define NM_IPPROTO_ICMP 1
#define NM_IPPROTO_UDP 17
#define NM_IPPROTO_ROUTING 43
#define NM_IPPROTO_FRAGMENT 44
#define NM_IPPROTO_ICMPV6 58
#define NM_IPPROTO_DSTOPTS 60

#define NM_IP4_MF 0x2000      /* more fragments, in the flags/offset word */
#define NM_IP4_OFF_MASK 0x1fff /* fragment offset, 8-byte units */
#define NM_IP4_SRC 12         /* address offsets in the IPv4 header */
#define NM_IP4_DST 16
#define NM_IP6_SRC 8          /* ... and in the IPv6 header */
#define NM_IP6_DST 24
#define NM_IP6_HDR 40
#define NM_IP6_FRAG_HDR 8

enum nm_l2l3_kind {
	NM_L2L3_IPV4 = 0,
	NM_L2L3_IPV6,
	NM_L2L3_ARP,
	NM_L2L3_OTHER,     /* not IP or ARP (or not looked into: why says so) */
	NM_L2L3_MALFORMED, /* why says what */
	NM_L2L3__KIND_COUNT
};

/* Why a walk stopped before the transport header: X(name, message). */
#define NM_L2L3_WHYS(X)                                                                     \
	X(NONE, "walked to the transport header")                                           \
	X(LINK_SHORT, "frame shorter than its link-layer header")                           \
	X(LINK_UNKNOWN, "link type not handled")                                            \
	X(VLAN_CUT, "VLAN tag cut")                                                         \
	X(VLAN_DEPTH, "more than NM_L2_VLAN_MAX VLAN tags: not looked into")                \
	X(IP4_SHORT, "IPv4 header cut (under 20 bytes)")                                    \
	X(IP4_VERSION, "IPv4 EtherType but IP version not 4")                               \
	X(IP4_IHL, "IPv4 header length under 20 bytes")                                     \
	X(IP4_LEN_ZERO, "IPv4 total length 0 (segmentation offload): length unknown")      \
	X(IP4_LEN, "IPv4 total length under the header length or beyond the frame")        \
	X(IP6_SHORT, "IPv6 header cut (under 40 bytes)")                                    \
	X(IP6_VERSION, "IPv6 EtherType but IP version not 6")                               \
	X(IP6_JUMBO, "IPv6 jumbogram (payload length 0, RFC 2675): length not followed")   \
	X(IP6_LEN, "IPv6 payload length beyond the frame")                                  \
	X(IP6_EXT_CUT, "IPv6 extension header cut")                                         \
	X(IP6_EXT_DEPTH, "more than NM_L3_V6_EXT_MAX IPv6 extension headers: not looked into")

enum nm_l2l3_why {
#define NM_X_(name, msg) NM_L2L3_WHY_##name,
	NM_L2L3_WHYS(NM_X_)
#undef NM_X_
	NM_L2L3__WHY_COUNT
};

const char *nm_l2l3_why_name(enum nm_l2l3_why w);
const char *nm_l2l3_why_msg(enum nm_l2l3_why w);
const char *nm_l2l3_kind_name(enum nm_l2l3_kind k);

/*
 * What a frame is. Offsets count from the start of the frame. Fields of a
 * layer are set once the walk got through that layer; the rest are 0.
 */
struct nm_l2l3 {
	uint8_t kind;     /* enum nm_l2l3_kind */
	uint8_t why;      /* enum nm_l2l3_why: NONE, or why the walk stopped */
	uint8_t ntags;    /* VLAN tags walked */
	uint8_t proto;    /* IPv4 protocol; IPv6: the next header after those walked
			   * (a fragment: its fragment header's next header) */
	uint8_t ttl;      /* IPv4 TTL, IPv6 hop limit */
	uint8_t frag;     /* an IP fragment (IPv4: MF or an offset; IPv6: a fragment header) */
	uint8_t frag_more;
	uint16_t etype;   /* EtherType after the tags (0x0800/0x86dd for raw IP links) */
	uint16_t tci;     /* TCI of the outermost tag (ntags > 0) */
	uint32_t frag_off; /* fragment offset in bytes */
	uint32_t frag_id;  /* IPv4 identification, IPv6 fragment header identification */
	uint32_t l3;      /* where the ARP or IP header starts */
	uint32_t l3_len;  /* IPv4: IHL; IPv6: 40 + the extension headers walked
			   * (a fragment header included) */
	uint32_t l4;      /* l3 + l3_len: the transport header, or a fragment's data */
	uint32_t l4_len;  /* bytes from l4 to the end of the IP datagram */
	uint32_t end;     /* end of the IP datagram (bytes after it are link padding) */
	struct nm_addr src, dst;
};

/*
 * Walks the frame p[0, len) of link type link (enum nm_link). Fills *c and
 * returns c->kind:
 *   NM_L2L3_IPV4, NM_L2L3_IPV6: l3 .. end, addresses, proto, fragment
 *       fields; why is NONE, or IP6_EXT_DEPTH (proto is then the extension
 *       header not looked into).
 *   NM_L2L3_ARP: l3 is the ARP header (its length is not checked here).
 *   NM_L2L3_OTHER: another EtherType or IP version (why NONE), more VLAN
 *       tags than the cap (VLAN_DEPTH), an unknown link type (LINK_UNKNOWN).
 *   NM_L2L3_MALFORMED: why names the check that failed.
 * Lengths are checked against len: IPv4's total length and IPv6's payload
 * length must lie within the frame. Frames of 4 GiB or more are read as
 * their first 4 GiB - 1 bytes.
 */
enum nm_l2l3_kind nm_l2l3_walk(const uint8_t *p, size_t len, int link, struct nm_l2l3 *c);

/* ---- step functions (shared with decoders/hdr.c) ---- */

static inline bool nm_l2_is_tag(uint16_t etype)
{
	return etype == NM_ETH_VLAN || etype == NM_ETH_QINQ || etype == NM_ETH_QINQ_OLD;
}

/* Where the VLAN tags after an EtherType field end. */
struct nm_l2_tags {
	size_t off;      /* past the last whole tag */
	uint16_t etype;  /* the EtherType there */
	uint16_t tci;    /* the first tag's TCI (ntags > 0) */
	uint8_t ntags;
};

/*
 * Walks the VLAN tags at p + off of a frame of len bytes, etype being the
 * EtherType just before off. Returns NONE, VLAN_CUT (the next tag is cut)
 * or VLAN_DEPTH (a tag beyond NM_L2_VLAN_MAX); t then describes the tags
 * walked whole.
 */
static inline enum nm_l2l3_why nm_l2_tags_walk(const uint8_t *p, size_t len, size_t off,
					       uint16_t etype, struct nm_l2_tags *t)
{
	t->off = off;
	t->etype = etype;
	t->tci = 0;
	t->ntags = 0;
	while (nm_l2_is_tag(t->etype)) {
		if (t->ntags >= NM_L2_VLAN_MAX)
			return NM_L2L3_WHY_VLAN_DEPTH;
		if (len < t->off || len - t->off < 4)
			return NM_L2L3_WHY_VLAN_CUT;
		if (t->ntags == 0)
			t->tci = nm_load_be16(p + t->off);
		t->etype = nm_load_be16(p + t->off + 2);
		t->off += 4;
		t->ntags++;
	}
	return NM_L2L3_WHY_NONE;
}

/* The fixed part of an IPv4 header (addresses at NM_IP4_SRC/NM_IP4_DST). */
struct nm_ip4_hdr {
	uint8_t ihl; /* bytes */
	uint8_t tos;
	uint8_t ttl;
	uint8_t proto;
	uint16_t tot;
	uint16_t id;
	uint16_t frag; /* flags and offset */
};

/* Reads an IPv4 header at p (len bytes there). Returns NONE, IP4_SHORT,
 * IP4_VERSION or IP4_IHL (h is then partly set). The total length is not
 * checked: callers read whole frames or cut headers. */
static inline enum nm_l2l3_why nm_l3_ip4_read(const uint8_t *p, size_t len,
					      struct nm_ip4_hdr *h)
{
	if (len < 20)
		return NM_L2L3_WHY_IP4_SHORT;
	if ((p[0] >> 4) != 4)
		return NM_L2L3_WHY_IP4_VERSION;
	h->ihl = (uint8_t)((p[0] & 0x0f) * 4);
	if (h->ihl < 20)
		return NM_L2L3_WHY_IP4_IHL;
	h->tos = p[1];
	h->tot = nm_load_be16(p + 2);
	h->id = nm_load_be16(p + 4);
	h->frag = nm_load_be16(p + 6);
	h->ttl = p[8];
	h->proto = p[9];
	return NM_L2L3_WHY_NONE;
}

/* The fixed IPv6 header (addresses at NM_IP6_SRC/NM_IP6_DST). */
struct nm_ip6_hdr {
	uint32_t w0; /* version, traffic class, flow label */
	uint16_t plen;
	uint8_t nh;
	uint8_t hlim;
};

/* Reads an IPv6 header at p (len bytes there). Returns NONE, IP6_SHORT or
 * IP6_VERSION. The payload length is not checked. */
static inline enum nm_l2l3_why nm_l3_ip6_read(const uint8_t *p, size_t len,
					      struct nm_ip6_hdr *h)
{
	if (len < NM_IP6_HDR)
		return NM_L2L3_WHY_IP6_SHORT;
	if ((p[0] >> 4) != 6)
		return NM_L2L3_WHY_IP6_VERSION;
	h->w0 = nm_load_be32(p);
	h->plen = nm_load_be16(p + 4);
	h->nh = p[6];
	h->hlim = p[7];
	return NM_L2L3_WHY_NONE;
}

/* Is next header nh an extension header the walkers step over? */
static inline bool nm_l3_ip6_is_ext(uint8_t nh)
{
	return nh == NM_IPPROTO_HOPOPTS || nh == NM_IPPROTO_ROUTING ||
	       nh == NM_IPPROTO_FRAGMENT || nh == NM_IPPROTO_DSTOPTS;
}

/* Length of the extension header nh at p; p must have 8 bytes. Its next
 * header is p[0]. */
static inline size_t nm_l3_ip6_ext_len(uint8_t nh, const uint8_t *p)
{
	return nh == NM_IPPROTO_FRAGMENT ? NM_IP6_FRAG_HDR : ((size_t)p[1] + 1) * 8;
}

/*
 * A UDP header at p with len bytes of IP payload: ports, and the payload
 * (its length from the UDP header, or the IP payload's when the UDP length
 * is 0 (jumbograms) or beyond it). Returns false when under 8 bytes.
 */
static inline bool nm_l4_udp_read(const uint8_t *p, size_t len, uint16_t *sport,
				  uint16_t *dport, size_t *plen)
{
	if (len < 8)
		return false;
	*sport = nm_load_be16(p);
	*dport = nm_load_be16(p + 2);
	size_t ulen = nm_load_be16(p + 4);
	if (ulen < 8 || ulen > len)
		ulen = len;
	*plen = ulen - 8;
	return true;
}

#endif
