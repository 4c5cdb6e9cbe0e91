/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hot-path protobuf encoder: struct nm_flow -> FlowMessage bytes, and
 * struct nm_ctr -> InterfaceCounters, without protobuf-c's descriptor walk.
 * Generated from NM_FLOW_FIELDS / NM_CTR_FIELDS, so it cannot drift from the
 * record; tests/export proves its bytes decode with protobuf-c and
 * `protoc --decode` to the same values as the record.
 *
 * proto3 rules: zero scalars are left out; address fields are 16 bytes when
 * set and left out when :: (the wire contract); repeated uint32 are packed.
 */
#ifndef NM_PBENC_H
#define NM_PBENC_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Upper bound of one encoded record, length prefix included. */
#define NM_PB_RECORD_MAX 2048

/* Writes f as a length-delimited FlowMessage (varint length, then the
 * message) at out, which must have NM_PB_RECORD_MAX bytes. Returns the
 * bytes written. */
size_t nm_pb_flow_delimited(const struct nm_flow *f, uint8_t *out);

/* The same for an InterfaceCounters message. */
size_t nm_pb_ctr_delimited(const struct nm_ctr *c, uint8_t *out);

#endif
