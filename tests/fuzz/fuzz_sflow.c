/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: sFlow v5 (flow, expanded, counter, discarded-packet samples
 * and every record type), with the per-agent and per-source sequence
 * entries in the bounded exporter table and a counter batch.
 * Input: see nm_fuzz.h (2 configuration bytes, then datagrams each with a
 * 4-byte header: exporter/control byte, time step, 16-bit length).
 */
#include "nm_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nm_fuzz_nf_run(data, size, nm_decode_sflow, NM_FLOW_TYPE_SFLOW_5);
	return 0;
}
