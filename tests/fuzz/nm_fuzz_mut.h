/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Structure-aware mutation of NetFlow v9 and IPFIX fuzz inputs (the format
 * of nm_fuzz.h: 2 configuration bytes, then datagrams with a 4-byte
 * header), for the netflow_v9 and ipfix targets' LLVMFuzzerCustomMutator.
 *
 * Byte flips rarely keep a template and the data that uses it in step: a
 * changed field length shifts every later field of every record, so the
 * data set stops matching and the decoder only ever sees "short record"
 * paths. These operations change a template and rewrite every data set that
 * uses it (later in the same input, until the ID is defined again) so the
 * records match the new layout:
 *
 *   LEN    a field's length (1..16, odd sizes, 0, 65535 = IPFIX variable
 *          length, large); data: values cut to their low bytes or extended
 *          with zeros, variable-length prefixes written or removed
 *   TYPE   a field's IE (from the decoder's known IEs, enterprise IEs, any
 *          number); data unchanged
 *   INS    a new field anywhere; data: bytes inserted in every record
 *   DEL    a field removed; data: its bytes removed
 *   SWAP   two fields exchanged; data: their bytes exchanged
 *   TID    the template ID (and its data sets' set ID)
 *   SCOPE  an options template's scope count
 *   REC    a data set of the template: a record duplicated, removed or cut,
 *          or padding appended
 *   DATA   a new datagram (the template's exporter) with fresh records for it
 *   NEW    a new datagram: a random template and data records that use it
 *
 * Set lengths and IPFIX message lengths are recomputed; the v9 header's
 * count is left as it was (except in NEW/DATA datagrams). Anything the
 * mutator cannot parse (a set length past the end, a truncated template)
 * is copied unchanged, so byte-level damage from libFuzzer's own mutations
 * survives.
 */
#ifndef NM_FUZZ_MUT_H
#define NM_FUZZ_MUT_H

#include <stddef.h>
#include <stdint.h>

enum nm_fuzz_mut_op {
	NM_FUZZ_MUT_LEN,
	NM_FUZZ_MUT_TYPE,
	NM_FUZZ_MUT_INS,
	NM_FUZZ_MUT_DEL,
	NM_FUZZ_MUT_SWAP,
	NM_FUZZ_MUT_TID,
	NM_FUZZ_MUT_SCOPE,
	NM_FUZZ_MUT_REC,
	NM_FUZZ_MUT_DATA,
	NM_FUZZ_MUT_NEW,
	NM_FUZZ_MUT__COUNT
};

/* A mutation with its choices fixed (tests); -1 / 0 fields are chosen at
 * random from the seed. */
struct nm_fuzz_mut_req {
	int op;          /* enum nm_fuzz_mut_op, -1 = random */
	int tmpl;        /* which template record of the input (in order), -1 = random */
	int field;       /* field index, -1 = random */
	int field2;      /* second field (SWAP), -1 = random */
	int32_t len;     /* new length (LEN, INS), -1 = random */
	int32_t type;    /* new IE (TYPE, INS), -1 = random */
	int32_t tid;     /* new template ID (TID), -1 = random */
};

/*
 * Mutates the input data[0..size) in place (up to max_size bytes) with one
 * structure-aware operation; version is 9 or 10, the protocol the target
 * decodes. Returns the new size, or 0 when the operation did not apply
 * (no template to work on, result over max_size): the caller falls back to
 * a byte-level mutation.
 */
size_t nm_fuzz_mut(uint8_t *data, size_t size, size_t max_size, uint32_t seed, int version,
		   const struct nm_fuzz_mut_req *req);

/* LLVMFuzzerCustomMutator for a target decoding version (9 or 10): one
 * structure-aware operation three times in four, libFuzzer's byte-level
 * mutation otherwise or when the operation does not apply. */
size_t nm_fuzz_mut_custom(uint8_t *data, size_t size, size_t max_size, unsigned int seed,
			  int version);

/* LLVMFuzzerCustomCrossOver: datagrams of the first input, then datagrams
 * of the second (templates of one meet data of the other). */
size_t nm_fuzz_mut_cross(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
			 uint8_t *out, size_t max_out, unsigned int seed);

#endif
