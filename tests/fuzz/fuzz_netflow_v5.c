/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: NetFlow v5 (fixed 48-byte records); exercises the exporter
 * cache, sequence tracking and batch/flush paths over several datagrams.
 * Input: see nm_fuzz.h (2 configuration bytes, then datagrams each with a
 * 4-byte header: exporter/control byte, time step, 16-bit length).
 */
#include "nm_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nm_fuzz_nf_run(data, size, nm_decode_netflow_v5, NM_FLOW_TYPE_NETFLOW_V5);
	return 0;
}
