/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: NetFlow v9 (RFC 3954). Templates and options templates
 * learned from one datagram are used by later datagrams of the same input.
 * Input: see nm_fuzz.h (2 configuration bytes, then datagrams each with a
 * 4-byte header: exporter/control byte, time step, 16-bit length).
 */
#include "nm_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nm_fuzz_nf_run(data, size, nm_decode_netflow_v9, NM_FLOW_TYPE_NETFLOW_V9);
	return 0;
}
