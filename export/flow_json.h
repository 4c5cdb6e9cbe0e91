/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON and protobuf-c renderings of struct nm_flow (for netmeta-decode,
 * JSON sinks and tests). Keys are the wire field names of proto/flow.proto.
 */
#ifndef NM_FLOW_JSON_H
#define NM_FLOW_JSON_H

#include <stddef.h>

#include "flow.h"

/* Worst-case length of one JSON object from nm_flow_json(). */
#define NM_FLOW_JSON_MAX 4096

/*
 * Writes f as one JSON object (no newline) into buf. Returns the length, or
 * 0 when cap is below NM_FLOW_JSON_MAX.
 */
size_t nm_flow_json(const struct nm_flow *f, char *buf, size_t cap);

/* in[0, n) as the inside of a JSON string into out: '"' and '\\' escaped,
 * control bytes and DEL as \u00XX; stops where fewer than 7 bytes of cap
 * would be left, then a NUL. The bytes written, the NUL left out. */
size_t nm_json_escape(char *out, size_t cap, const char *in, size_t n);

/*
 * Packs f as a FlowMessage with protobuf-c's generic packer, prefixed by its
 * length as a varint (the stream format ClickHouse's Protobuf input reads).
 * Returns the bytes written or 0 when cap is too small.
 */
size_t nm_flow_pb_delimited(const struct nm_flow *f, unsigned char *buf, size_t cap);

/* The same for an sFlow counter record ("Type": "SFLOW_5_COUNTERS" in JSON;
 * an InterfaceCounters message in protobuf). */
size_t nm_ctr_json(const struct nm_ctr *c, char *buf, size_t cap);
size_t nm_ctr_pb_delimited(const struct nm_ctr *c, unsigned char *buf, size_t cap);

/* The reverse: a packed FlowMessage / InterfaceCounters (no length prefix)
 * into a record. Returns 0, or -1 when the bytes do not unpack. Addresses
 * shorter than 16 bytes are taken as IPv4 (4) or zero-filled. */
int nm_flow_from_pb(struct nm_flow *f, const uint8_t *p, size_t len);
int nm_ctr_from_pb(struct nm_ctr *c, const uint8_t *p, size_t len);

#endif
