/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small builder for the sFlow and header-parser tests: XDR (sFlow v5,
 * big-endian 32-bit words, opaque padded to 4), nested length-prefixed
 * blocks (samples, records) with their lengths back-patched, a minimal IPFIX
 * message (RFC 7011) and the packet headers the sampled-header parser reads
 * (Ethernet, 802.1Q, MPLS, IPv4, IPv6 and its extension headers, TCP, UDP,
 * ICMP, GRE, VXLAN).
 *
 * Writes past the buffer are dropped and set b->overflow; nothing allocates.
 *
 *   nm_sb_init(&sb);
 *   nm_sb_sflow_hdr4(&sb, agent, sub_agent, seq, uptime, nsamples);
 *   nm_sb_begin(&sb, 1);              flow sample: format, length placeholder
 *   nm_sb_u32(&sb, ...);              fixed fields
 *   nm_sb_begin(&sb, 1);              sampled header record
 *   ...
 *   nm_sb_end(&sb);                   patches the record length
 *   nm_sb_end(&sb);                   patches the sample length
 */
#ifndef NM_SFBUILD_H
#define NM_SFBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NM_SB_CAP 16384
#define NM_SB_DEPTH 8

struct nm_sb {
	uint8_t buf[NM_SB_CAP];
	size_t len;
	size_t open[NM_SB_DEPTH]; /* offsets of the open length words */
	unsigned depth;
	size_t set_at; /* open IPFIX set header */
	size_t msg_at; /* open IPFIX message header */
	bool overflow;
};

void nm_sb_init(struct nm_sb *b);

/* Raw big-endian writes. */
void nm_sb_u8(struct nm_sb *b, uint8_t v);
void nm_sb_u16(struct nm_sb *b, uint16_t v);
void nm_sb_u32(struct nm_sb *b, uint32_t v);
void nm_sb_u64(struct nm_sb *b, uint64_t v);
void nm_sb_bytes(struct nm_sb *b, const void *p, size_t n);
void nm_sb_zeros(struct nm_sb *b, size_t n);
/* 6-byte MAC from the low 48 bits of v. */
void nm_sb_mac(struct nm_sb *b, uint64_t v);
/* Overwrites already written bytes at off. */
void nm_sb_patch_u16(struct nm_sb *b, size_t off, uint16_t v);
void nm_sb_patch_u32(struct nm_sb *b, size_t off, uint32_t v);

/* XDR opaque<>: length word, bytes, zero padding to 4. */
void nm_sb_opaque(struct nm_sb *b, const void *p, size_t n);
/* Zero padding to a multiple of 4 bytes. */
void nm_sb_pad4(struct nm_sb *b);

/*
 * sFlow length-prefixed block (sample or record): writes format and a
 * length placeholder; nm_sb_end() patches the length to the bytes written
 * since (padded to 4 first). Blocks nest up to NM_SB_DEPTH.
 */
void nm_sb_begin(struct nm_sb *b, uint32_t format);
void nm_sb_end(struct nm_sb *b);

/* sFlow address: type 1 + 4 bytes, type 2 + 16 bytes. */
void nm_sb_addr4(struct nm_sb *b, uint8_t a, uint8_t c, uint8_t d, uint8_t e);
void nm_sb_addr6(struct nm_sb *b, const uint8_t a[16]);

/* sFlow v5 datagram header with an IPv4 or IPv6 agent address. Returns the
 * offset of the sample count word (to patch it). */
size_t nm_sb_sflow_hdr4(struct nm_sb *b, const uint8_t agent[4], uint32_t sub_agent,
			uint32_t seq, uint32_t uptime_ms, uint32_t nsamples);
size_t nm_sb_sflow_hdr6(struct nm_sb *b, const uint8_t agent[16], uint32_t sub_agent,
			uint32_t seq, uint32_t uptime_ms, uint32_t nsamples);

/* ---- packet headers (for sampled-header records and the parser tests) ---- */

void nm_sb_eth(struct nm_sb *b, uint64_t dst, uint64_t src, uint16_t etype);
/* One VLAN tag body (TCI, then the next EtherType); the TPID is the
 * previous EtherType. */
void nm_sb_vlan(struct nm_sb *b, uint16_t tci, uint16_t etype);
/* One MPLS label stack entry. */
void nm_sb_mpls(struct nm_sb *b, uint32_t label, uint8_t tc, bool bottom, uint8_t ttl);

struct nm_sb_ip4 {
	uint8_t ihl;      /* 32-bit words, 5 without options (0 = 5) */
	uint8_t tos;
	uint16_t total;   /* total length (informational) */
	uint16_t id;
	uint16_t frag;    /* flags << 13 | offset (8-byte units) */
	uint8_t ttl;
	uint8_t proto;
	uint8_t src[4];
	uint8_t dst[4];
};
/* IPv4 header with (ihl - 5) words of NOP options. */
void nm_sb_ip4(struct nm_sb *b, const struct nm_sb_ip4 *h);

struct nm_sb_ip6 {
	uint8_t tclass;
	uint32_t flow;    /* 20 bits */
	uint16_t plen;
	uint8_t nh;
	uint8_t hlim;
	uint8_t src[16];
	uint8_t dst[16];
};
void nm_sb_ip6(struct nm_sb *b, const struct nm_sb_ip6 *h);
/* IPv6 extension header (hop-by-hop, routing, destination options) of
 * 8 * (hdr_ext_len + 1) bytes, zero-filled. */
void nm_sb_ip6_ext(struct nm_sb *b, uint8_t nh, uint8_t hdr_ext_len);
/* IPv6 fragment header: offset in 8-byte units. */
void nm_sb_ip6_frag(struct nm_sb *b, uint8_t nh, uint16_t offset, bool more, uint32_t id);

/* TCP header of 20 bytes. */
void nm_sb_tcp(struct nm_sb *b, uint16_t sport, uint16_t dport, uint8_t flags);
void nm_sb_udp(struct nm_sb *b, uint16_t sport, uint16_t dport, uint16_t len);
/* ICMP / ICMPv6 header of 8 bytes. */
void nm_sb_icmp(struct nm_sb *b, uint8_t type, uint8_t code);
/* GRE: flags (C 0x8000, K 0x2000, S 0x1000) select the optional words. */
void nm_sb_gre(struct nm_sb *b, uint16_t flags, uint16_t proto, uint32_t key, uint32_t seq);
/* VXLAN header with the I flag set. */
void nm_sb_vxlan(struct nm_sb *b, uint32_t vni);

/* ---- IPFIX (RFC 7011) ---- */

/* Message header; nm_sb_ipfix_end() patches its length. */
void nm_sb_ipfix_hdr(struct nm_sb *b, uint32_t export_secs, uint32_t seq, uint32_t domain);
void nm_sb_ipfix_end(struct nm_sb *b);
/* Set header; nm_sb_set_end() patches the set length. */
void nm_sb_set_begin(struct nm_sb *b, uint16_t id);
void nm_sb_set_end(struct nm_sb *b);
/* Variable-length field content (RFC 7011 7): short form below 255. */
void nm_sb_varlen(struct nm_sb *b, const void *p, size_t n);

#endif
