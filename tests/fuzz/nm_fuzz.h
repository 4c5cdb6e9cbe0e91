/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared pieces of the fuzz targets in tests/fuzz.
 *
 * Every target defines LLVMFuzzerTestOneInput(). It links either with
 * libFuzzer (-fsanitize=fuzzer, when meson is set up with -Dfuzzing=true) or
 * with fuzz_replay.c, which feeds it the files of a corpus directory so CI
 * can replay the corpus under ASan/UBSan with any compiler.
 *
 * Checks in the targets use NM_FUZZ_CHECK, which aborts whatever NDEBUG
 * says: a broken invariant must stop the fuzzer in every build type.
 */
#ifndef NM_FUZZ_H
#define NM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NM_FUZZ_CHECK(cond)                                                                 \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,     \
				__LINE__, #cond);                                           \
			abort();                                                            \
		}                                                                           \
	} while (0)

/*
 * Input format of the flow-decoder targets (nm_fuzz_nf_run):
 *
 *   byte 0  configuration flags
 *           bit 0     template lifetime on (byte 1 gives the seconds, 0 -> 1)
 *           bit 1     batch has a flush callback
 *           bit 2     the flush callback drains the batch (else it leaves it
 *                     full, so records are dropped as BATCH_FULL)
 *           bit 3     tight caps: 16 templates, 2 exporters, 4 per exporter
 *                     (else 64, 8, 16)
 *           bits 4-5  max fields per template: 128, 512, 32, 8
 *           bits 6-7  batch capacity: 64, 16, 4, 1 records
 *   byte 1  template lifetime in seconds
 *   then datagrams, each a 4-byte header and a payload:
 *     ctl(1)  bits 0-3: exporter address (16 choices, more than the cache
 *                       holds, so exporters get evicted)
 *             bit 4:    UDP source port 2055 or 4739
 *             bit 5:    IPv6 exporter address instead of IPv4
 *             bit 6:    decode with nm_decode_any() instead of the target's
 *                       own decoder
 *             bit 7:    receive time goes back dt seconds instead of forward
 *     dt(1)   receive-time step in seconds (from 1.7e9 s at the start)
 *     len(2)  payload length, big endian; cut to what is left of the input
 *     len bytes of UDP payload
 *
 * Each payload is copied into a heap block of exactly its length so ASan
 * sees any read past the datagram.
 */
#define NM_FUZZ_NF_HDR 2
#define NM_FUZZ_DGRAM_HDR 4
#define NM_FUZZ_T0_S 1700000000ull

typedef enum nm_err (*nm_fuzz_decode_fn)(struct nm_decoder *d, const struct nm_pkt_meta *m,
					 const uint8_t *p, size_t len,
					 struct nm_flow_batch *b);

/* Runs one input through a fresh decoder; expected_type is the record type
 * fn produces (checked on every record). */
void nm_fuzz_nf_run(const uint8_t *data, size_t size, nm_fuzz_decode_fn fn,
		    enum nm_flow_type expected_type);

#endif
