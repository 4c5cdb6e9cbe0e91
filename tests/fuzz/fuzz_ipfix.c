/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: IPFIX (RFC 7011): templates, options templates, withdrawals
 * and variable-length fields, with template state kept across the
 * datagrams of one input.
 * Input: see nm_fuzz.h (2 configuration bytes, then datagrams each with a
 * 4-byte header: exporter/control byte, time step, 16-bit length).
 * Mutations: nm_fuzz_mut.h (templates and the data that uses them changed
 * together), crossover: datagrams of two inputs spliced.
 */
#include "nm_fuzz.h"
#include "nm_fuzz_mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nm_fuzz_nf_run(data, size, nm_decode_ipfix, NM_FLOW_TYPE_IPFIX);
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	return nm_fuzz_mut_custom(data, size, max_size, seed, 10);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
				 uint8_t *out, size_t max_out, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
				 uint8_t *out, size_t max_out, unsigned int seed)
{
	return nm_fuzz_mut_cross(d1, s1, d2, s2, out, max_out, seed);
}
