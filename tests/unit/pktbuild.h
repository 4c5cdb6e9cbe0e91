/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small packet builder for the decoder tests: NetFlow v5, NetFlow v9
 * (RFC 3954) and IPFIX (RFC 7011) export datagrams written field by field
 * into one fixed buffer, big-endian, with lengths back-patched.
 *
 * Writes past the buffer are dropped and set b->overflow, so a test can
 * assert the message it built is the one it meant. Nothing allocates.
 *
 *   nm_pb_init(&pb);
 *   nm_pb_ipfix_header(&pb, export_secs, seq, domain);
 *   nm_pb_set_begin(&pb, 2);                  template set
 *   nm_pb_tmpl(&pb, 256, fields, nfields);
 *   nm_pb_set_end(&pb);
 *   nm_pb_set_begin(&pb, 256);                data set
 *   nm_pb_u32(&pb, ...); ...
 *   nm_pb_set_end(&pb);
 *   nm_pb_ipfix_end(&pb);                     patches the message length
 *   decode(pb.buf, pb.len)
 */
#ifndef NM_PKTBUILD_H
#define NM_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NM_PB_CAP 65536
#define NM_PB_NONE SIZE_MAX

/* IPFIX set IDs (RFC 7011 3.3.2) and NetFlow v9 flowset IDs (RFC 3954 5.2). */
#define NM_PB_IPFIX_TMPL_SET 2
#define NM_PB_IPFIX_OPT_SET 3
#define NM_PB_V9_TMPL_SET 0
#define NM_PB_V9_OPT_SET 1

/* Field length meaning "variable length" in an IPFIX template (RFC 7011 7). */
#define NM_PB_VARLEN 0xffff

struct nm_pb {
	uint8_t buf[NM_PB_CAP];
	size_t len;
	size_t set_at; /* offset of the open set header, NM_PB_NONE if none */
	size_t msg_at; /* offset of the open IPFIX message header */
	bool overflow;
};

/* One field specifier: IE number, length, enterprise number (0 = IANA). */
struct nm_pb_field {
	uint16_t ie;
	uint16_t len;
	uint32_t pen;
};

/* One NetFlow v5 flow record (48 bytes on the wire). Addresses host order. */
struct nm_pb_v5_rec {
	uint32_t src, dst, nexthop;
	uint16_t in_if, out_if;
	uint32_t packets, bytes;
	uint32_t first, last; /* sysUptime ms */
	uint16_t src_port, dst_port;
	uint8_t tcp_flags, proto, tos;
	uint16_t src_as, dst_as;
	uint8_t src_mask, dst_mask;
};

void nm_pb_init(struct nm_pb *b);

/* Raw big-endian writes. */
void nm_pb_u8(struct nm_pb *b, uint8_t v);
void nm_pb_u16(struct nm_pb *b, uint16_t v);
void nm_pb_u32(struct nm_pb *b, uint32_t v);
void nm_pb_u64(struct nm_pb *b, uint64_t v);
/* The low n (0..8) bytes of v, big-endian: reduced-size encoding (RFC 7011 6.2). */
void nm_pb_uint(struct nm_pb *b, uint64_t v, size_t n);
void nm_pb_bytes(struct nm_pb *b, const void *p, size_t n);
void nm_pb_zeros(struct nm_pb *b, size_t n);
/* IPv4 address a.b.c.d as 4 bytes. */
void nm_pb_ip4(struct nm_pb *b, uint8_t a, uint8_t c, uint8_t d, uint8_t e);
/* 6-byte MAC from the low 48 bits of v. */
void nm_pb_mac(struct nm_pb *b, uint64_t v);
/* Overwrites 2 bytes at off (already written). */
void nm_pb_patch_u16(struct nm_pb *b, size_t off, uint16_t v);

/*
 * Sets (IPFIX) and flowsets (v9): begin writes id and a length placeholder;
 * end pads with zeros to a multiple of pad_to (0 or 1 = no padding) and
 * back-patches the length, padding included.
 */
void nm_pb_set_begin(struct nm_pb *b, uint16_t id);
void nm_pb_set_end(struct nm_pb *b);
void nm_pb_set_end_pad(struct nm_pb *b, size_t pad_to);

/* Variable-length field (RFC 7011 7): 1-byte length below 255, else 255 + 2 bytes. */
void nm_pb_varlen(struct nm_pb *b, const void *p, size_t n);
/* Same, always in the 3-byte form (255, then a 2-byte length), allowed for any n. */
void nm_pb_varlen3(struct nm_pb *b, const void *p, size_t n);

/* NetFlow v5 header (24 bytes) and records. */
void nm_pb_v5_header(struct nm_pb *b, uint16_t count, uint32_t uptime_ms, uint32_t secs,
		     uint32_t nsecs, uint32_t seq, uint8_t engine_type, uint8_t engine_id,
		     uint16_t sampling);
void nm_pb_v5_record(struct nm_pb *b, const struct nm_pb_v5_rec *r);

/* NetFlow v9 header (20 bytes). */
void nm_pb_v9_header(struct nm_pb *b, uint16_t count, uint32_t uptime_ms, uint32_t secs,
		     uint32_t seq, uint32_t source_id);

/* IPFIX message header (16 bytes); nm_pb_ipfix_end() patches its length. */
void nm_pb_ipfix_header(struct nm_pb *b, uint32_t export_secs, uint32_t seq, uint32_t domain);
void nm_pb_ipfix_end(struct nm_pb *b);

/*
 * Template record (v9 and IPFIX): id, field count, then the specifiers.
 * A field with pen != 0 is written IPFIX-style: IE | 0x8000, length, PEN.
 */
void nm_pb_tmpl(struct nm_pb *b, uint16_t id, const struct nm_pb_field *f, size_t n);
/* Just the record header, for hand-built or malformed templates. */
void nm_pb_tmpl_begin(struct nm_pb *b, uint16_t id, uint16_t count);
void nm_pb_tmpl_field(struct nm_pb *b, const struct nm_pb_field *f);
/* Template withdrawal record (RFC 7011 8.1): id, field count 0. */
void nm_pb_tmpl_withdraw(struct nm_pb *b, uint16_t id);

/* IPFIX options template record (RFC 7011 3.4.2.2): id, count, scope count, fields. */
void nm_pb_ipfix_opt_tmpl(struct nm_pb *b, uint16_t id, uint16_t nscope,
			  const struct nm_pb_field *f, size_t n);

/*
 * NetFlow v9 options template record (RFC 3954 6.1): id, scope length and
 * option length in bytes, scope fields (type = scope kind), option fields.
 */
void nm_pb_v9_opt_tmpl(struct nm_pb *b, uint16_t id, const struct nm_pb_field *scope,
		       size_t nscope, const struct nm_pb_field *opt, size_t nopt);

#endif
