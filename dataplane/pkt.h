/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing below the flow protocols: link layer (Ethernet with up to
 * two VLAN tags, Linux cooked v1/v2, BSD loopback, raw IP), IPv4 (IHL
 * honoured, fragments reassembled), IPv6 (extension headers walked, depth
 * capped, fragments reassembled) and UDP. Pure C, shared by netmeta-decode
 * and the dataplane backends.
 */
#ifndef NM_PKT_H
#define NM_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

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

enum nm_pkt_res {
	NM_PKT_UDP = 0,      /* *u describes a complete UDP datagram */
	NM_PKT_HELD,         /* a fragment was stored; datagram not complete yet */
	NM_PKT_NOT_UDP,      /* valid, but not UDP over IP */
	NM_PKT_MALFORMED,    /* truncated or inconsistent headers */
	NM_PKT_FRAG_DROPPED, /* fragment dropped: reassembly table full or bad */
	NM_PKT_LINK_UNKNOWN, /* link type not handled */
	NM_PKT__COUNT
};

const char *nm_pkt_res_name(enum nm_pkt_res r);

struct nm_udp_view {
	struct nm_addr src;
	struct nm_addr dst;
	uint16_t sport;
	uint16_t dport;
	const uint8_t *payload;
	size_t len;
};

#define NM_REASM_SLOTS 64
#define NM_REASM_MAX 65535

struct nm_reasm_slot {
	struct nm_addr src, dst;
	uint32_t id;
	uint8_t proto;
	uint8_t in_use;
	uint8_t v6;
	uint32_t total;    /* payload length once the last fragment came, else 0 */
	uint32_t received; /* distinct payload bytes received */
	uint32_t max_end;  /* furthest byte any fragment reached */
	uint64_t seq;      /* age, for eviction */
	uint8_t blocks[NM_REASM_MAX / 8 / 8 + 1]; /* bit per 8-byte block */
	uint8_t data[NM_REASM_MAX + 8];
};

/* IPv4/IPv6 fragment reassembly: bounded, oldest evicted when full. */
struct nm_reasm {
	struct nm_reasm_slot slot[NM_REASM_SLOTS];
	uint64_t seq;
	uint64_t evicted;
	/* buffer for the reassembled datagram handed out in nm_udp_view */
	uint8_t out[NM_REASM_MAX + 8];
};

void nm_reasm_init(struct nm_reasm *r);

/*
 * Parses one frame of link type link. On NM_PKT_UDP, *u points into data or
 * into r->out (valid until the next call).
 */
enum nm_pkt_res nm_pkt_parse(struct nm_reasm *r, int link, const uint8_t *data, size_t len,
			     struct nm_udp_view *u);

#endif
