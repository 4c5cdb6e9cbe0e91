/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sampled packet header parser: fills a flow record from the first bytes of
 * a packet, as sFlow raw-packet-header records, IPFIX packet sections
 * (IE 313/315) and the sampler mode carry them.
 *
 * Layers: Ethernet; 802.1Q, QinQ (0x88a8, 0x9100) up to NM_L2_VLAN_MAX
 * tags; MPLS label stack (count, first three labels and TTLs, last label);
 * PPP (address/control + protocol); IPv4 (IHL honoured; fragment id and
 * offset; no L4 on non-first fragments); IPv6 with hop-by-hop, routing,
 * fragment and destination-options headers (NM_L3_V6_EXT_MAX); TCP (ports,
 * flags), UDP, ICMP and ICMPv6 (type, code). One level of encapsulation:
 * VXLAN (UDP 4789), GRE, IP-in-IP and IPv6-in-IP/IPv6 move the outer IP
 * fields to the *Encap fields and parse the inner packet as the flow.
 *
 * Headers are usually cut (sFlow's default is 128 bytes): a layer's fields
 * are written only when that layer's bytes are all there, never garbage.
 * VLAN tags and the IPv4/IPv6 headers are read with the step functions of
 * the frame walker (l2l3.h), under its caps.
 */
#ifndef NM_HDR_H
#define NM_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "l2l3.h"

#define NM_HDR_VLAN_MAX NM_L2_VLAN_MAX     /* the walker's caps, named for this parser */
#define NM_HDR_V6_EXT_MAX NM_L3_V6_EXT_MAX
#define NM_HDR_MPLS_MAX 16

/* Where the header starts (sFlow header_protocol values). */
enum nm_hdr_start {
	NM_HDR_ETHERNET = 1,
	NM_HDR_PPP = 7,
	NM_HDR_IPV4 = 11,
	NM_HDR_IPV6 = 12,
	NM_HDR_MPLS = 13,
};

/* Outcome, for counters: how far the parser got. */
enum nm_hdr_res {
	NM_HDR_OK = 0,       /* parsed down to L4 or to a protocol it does not look into */
	NM_HDR_TRUNCATED,    /* the header ended inside a layer; fields above it are unset */
	NM_HDR_UNSUPPORTED,  /* the start protocol is not one of enum nm_hdr_start */
	NM_HDR_DEPTH,        /* a VLAN, MPLS or IPv6 extension chain hit its cap */
};

/*
 * Parses len bytes at p starting with protocol start, writing what it finds
 * into f (other fields untouched). Never reads beyond p + len.
 */
enum nm_hdr_res nm_hdr_parse(const uint8_t *p, size_t len, enum nm_hdr_start start,
			     struct nm_flow *f);

#endif
