/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK-independent part of the packet path: what to do with a frame.
 *
 * nm_pkt_classify() walks a frame with the one L2/L3 walker
 * (decoders/l2l3.h) and decides: a UDP datagram for the worker, a fragment
 * for reassembly, a request to answer (ARP, neighbour solicitation, echo),
 * or a drop with its reason. The DPDK worker (dataplane/dpdk_pkt.c) calls it
 * for every frame and carries out the decision; the fuzz targets call the
 * same function. nm_pkt_parse() is the same classification for captures
 * (netmeta-decode, decode-bench, the fuzz target of this file), with a
 * reassembly of its own instead of DPDK's rte_ip_frag. The socket backend
 * does not use this file: the kernel hands it UDP payloads.
 *
 * Pure C: no DPDK, no allocation.
 */
#ifndef NM_PKT_H
#define NM_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "l2l3.h"

/* ICMP and ICMPv6 message types the collector answers or sends
 * (RFC 792, RFC 4443, RFC 4861). */
#define NM_ICMP4_ECHO_REPLY 0
#define NM_ICMP4_ECHO_REQUEST 8
#define NM_ICMP6_ECHO_REQUEST 128
#define NM_ICMP6_ECHO_REPLY 129
#define NM_ICMP6_ND_NS 135 /* neighbour solicitation */
#define NM_ICMP6_ND_NA 136 /* neighbour advertisement */
#define NM_ND_NS_LEN 24    /* ICMPv6 header (8) + target address (16) */
#define NM_ND_HOP_LIMIT 255 /* RFC 4861 7.1.1: anything else was forwarded */
#define NM_ARP_LEN 28      /* Ethernet/IPv4 ARP */

/* Who the collector is on a port. */
struct nm_pkt_us {
	const struct nm_addr *addrs; /* IPv4 stored IPv4-mapped */
	uint32_t naddrs;
	bool any_dst; /* take UDP to any destination address (promiscuous) */
};

/* What to do with a frame: X(name, message). The drops are named as the
 * worker counters they land in. */
#define NM_PKT_ACTS(X)                                                                      \
	X(UDP, "a UDP datagram: to the worker")                                             \
	X(REASM, "an IP fragment: to reassembly")                                           \
	X(ARP_REPLY, "an ARP request for one of our IPv4 addresses: answer")                \
	X(ND_REPLY, "a neighbour solicitation for one of our IPv6 addresses: advertise")    \
	X(ECHO_REPLY, "an ICMP or ICMPv6 echo request to one of our addresses: answer")     \
	X(NOT_IP, "drop: not IPv4/IPv6 (and not an ARP request for us)")                    \
	X(NOT_UDP, "drop: IP but not UDP (and not a request to answer)")                    \
	X(NOT_FOR_US, "drop: destination is not one of our addresses")                      \
	X(MALFORMED, "drop: truncated or inconsistent headers")                             \
	X(FRAG_DROPPED, "drop: a fragment this path cannot reassemble")

enum nm_pkt_act {
#define NM_X_(name, msg) NM_PKT_ACT_##name,
	NM_PKT_ACTS(NM_X_)
#undef NM_X_
	NM_PKT_ACT__COUNT
};

const char *nm_pkt_act_name(enum nm_pkt_act a);

/*
 * Walks the frame p[0, len) of link type link (enum nm_link) into *c and
 * decides what to do with it. contiguous: the frame is writable in place and
 * one piece (the DPDK worker's single-segment mbufs); requests are answered
 * and fragments reassembled only then (FRAG_DROPPED otherwise).
 *
 * Order of the checks (it decides the counter): not IP (ARP for us is
 * answered), malformed, a neighbour solicitation (to a multicast address)
 * answered when its target is ours, not for us (unless us->any_dst),
 * fragment, echo request to us, then UDP (NOT_UDP for other protocols,
 * MALFORMED for a UDP header under 8 bytes). On UDP, c->l4 is a UDP header
 * of at least 8 bytes within c->l4_len.
 */
enum nm_pkt_act nm_pkt_classify(const uint8_t *p, size_t len, int link, bool contiguous,
				const struct nm_pkt_us *us, struct nm_l2l3 *c);

/*
 * A datagram out of reassembly, p[0, len) from the Ethernet header on:
 * walked again, it must be IP, no longer a fragment and end where the
 * frame ends (MALFORMED otherwise); then UDP, NOT_UDP or MALFORMED as above.
 */
enum nm_pkt_act nm_pkt_classify_reassembled(const uint8_t *p, size_t len, int link,
					    struct nm_l2l3 *c);

/* ---- captures: nm_pkt_parse() with a reassembly of its own ---- */

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
 * Parses one frame of link type link: nm_pkt_classify() taking UDP to any
 * address, fragments reassembled in r. On NM_PKT_UDP, *u points into data
 * or into r->out (valid until the next call).
 */
enum nm_pkt_res nm_pkt_parse(struct nm_reasm *r, int link, const uint8_t *data, size_t len,
			     struct nm_udp_view *u);

#endif
