/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: IPFIX (RFC 7011): templates, options templates, withdrawals
 * and variable-length fields, with template state kept across the
 * datagrams of one input.
 * Input: see nm_fuzz.h (2 configuration bytes, then datagrams each with a
 * 4-byte header: exporter/control byte, time step, 16-bit length).
 */
#include "nm_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nm_fuzz_nf_run(data, size, nm_decode_ipfix, NM_FLOW_TYPE_IPFIX);
	return 0;
}
