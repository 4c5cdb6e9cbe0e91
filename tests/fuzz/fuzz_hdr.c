/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the sampled-header parser (decoders/hdr.c), as sFlow raw
 * header records and IPFIX packet sections use it.
 * Input: byte 0 picks the start protocol (low 3 bits: Ethernet, IPv4, IPv6,
 * MPLS, PPP, or an unsupported one), the rest is the header, copied into a
 * block of exactly its length so ASan sees any read past it.
 * Checks: the result is one of enum nm_hdr_res; the MPLS count stays within
 * the cap and agrees with HasMPLS; an encapsulated flow says HasEncap; TCP
 * flags only with protocol 6; a fragment past the first has no ports.
 */
#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "nm_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const enum nm_hdr_start starts[8] = {NM_HDR_ETHERNET, NM_HDR_IPV4, NM_HDR_IPV6,
						    NM_HDR_MPLS, NM_HDR_PPP, NM_HDR_ETHERNET,
						    NM_HDR_ETHERNET, (enum nm_hdr_start)99};
	enum nm_hdr_start st = starts[data[0] & 7];
	size_t len = size - 1;
	uint8_t *p = malloc(len ? len : 1);
	NM_FUZZ_CHECK(p != NULL);
	memcpy(p, data + 1, len);
	struct nm_flow f;
	memset(&f, 0, sizeof(f));
	enum nm_hdr_res r = nm_hdr_parse(p, len, st, &f);
	NM_FUZZ_CHECK(r == NM_HDR_OK || r == NM_HDR_TRUNCATED || r == NM_HDR_UNSUPPORTED ||
		      r == NM_HDR_DEPTH);
	NM_FUZZ_CHECK(f.mpls_count <= NM_HDR_MPLS_MAX);
	NM_FUZZ_CHECK((f.mpls_count > 0) == (f.has_mpls != 0));
	NM_FUZZ_CHECK(f.has_encap || (f.proto_encap == 0 && f.etype_encap == 0 &&
				      nm_addr_is_zero(&f.src_addr_encap)));
	NM_FUZZ_CHECK(f.tcp_flags == 0 || f.proto == 6);
	NM_FUZZ_CHECK(st != (enum nm_hdr_start)99 || r == NM_HDR_UNSUPPORTED);
	free(p);
	return 0;
}
