/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the DPDK worker's packet path (dataplane/dpdk_pkt.c:
 * nm_dpkt_burst(), nm_packet() and its handlers) on mbuf chains of any
 * shape, through the harness of nm_fuzz_mbuf.h (no EAL; transmit and
 * rte_ip_frag stood in for; see there for every check).
 *
 * Input:
 *   byte 0   port: bit 0 accept any destination; bit 1 the port refuses
 *            to transmit; bits 2-3 addresses: none, 192.0.2.254, both
 *            192.0.2.254 and 2001:db8::fe (3 = both)
 *   then frames, each a NM_FZ_REC-byte header and its data:
 *     ctl(1)    bits 0-1 pkt_len: sum of the segments, + delta, - delta,
 *               delta itself; bits 2-3 nb_segs: the count, +1, -1, 0;
 *               bit 4 64 bytes of tailroom per segment; bit 5 no
 *               headroom (else 128); bit 6 the burst ends after it;
 *               bit 7 big: flen and rlen keep 18 bits (else 12: most
 *               frames stay small, so the fuzzer runs fast)
 *     nseg(1)   segments wanted (0 = 1)
 *     seed(1)   segment sizes (0: equal)
 *     flen(3)   frame length, big endian, low 18 bits (up to 256 KiB)
 *               with bit 7 of ctl, else low 12
 *     delta(3)  for pkt_len
 *     reasm(1)  what reassembly does if this frame's burst hands it a
 *               fragment: bits 0-1 hold, hold, drop, complete; bit 2 the
 *               completed datagram's IP header rewritten as rte_ip_frag
 *               does; bits 3-7 its segments wanted
 *     rlen(3)   the completed datagram's length (as flen)
 *     dlen(2)   data bytes that follow (cut to what is left): the frame's
 *               first bytes; the rest of flen is zeros
 * Frames go in bursts of up to NM_BURST. Before its burst, each chain also
 * goes through the packet sampler's chain copy (nm_dpkt_sample_bytes): what
 * it returns must be the frame's first bytes, no more than pkt_len.
 */
#include <stdlib.h>
#include <string.h>

#include "nm_fuzz.h"
#include "nm_fuzz_mbuf.h"

#define NM_FZ_REC 15

/* The sampler's copy of a chain built from data[0, have) and zeros up to
 * flen: when it accepts the chain, its bytes are the frame's. */
static void nm_fz_sample_check(struct nm_dworker *x, const struct rte_mbuf *m, const uint8_t *data,
			       uint32_t have, uint32_t flen)
{
	uint32_t caplen = 0;
	const uint8_t *p = nm_dpkt_sample_bytes(x, m, &caplen);
	if (p == NULL)
		return;
	uint32_t pl = rte_pktmbuf_pkt_len(m);
	if (caplen > pl || caplen > flen || (m->nb_segs > 1 && caplen > NM_DPKT_SAMPLE_COPY))
		abort();
	for (uint32_t i = 0; i < caplen; i++)
		if (p[i] != (i < have ? data[i] : 0))
			abort();
}

static uint32_t nm_fz_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct nm_fm h;
	uint8_t port = data[0];
	nm_fm_init(&h, (port >> 2 & 3) == 3 ? 2 : port >> 2 & 3, port & 1);
	h.tx_refuse = (port & 2) != 0;
	data++;
	size--;
	struct rte_mbuf *pkts[NM_BURST];
	uint16_t n = 0;
	while (size >= NM_FZ_REC) {
		const uint8_t *r = data;
		uint8_t ctl = r[0];
		uint32_t mask = (ctl & 0x80) ? 0x3ffff : 0xfff;
		uint32_t flen = nm_fz_be24(r + 3) & mask;
		uint32_t dlen = (uint32_t)r[13] << 8 | r[14];
		data += NM_FZ_REC;
		size -= NM_FZ_REC;
		if (dlen > size)
			dlen = (uint32_t)size;
		struct nm_fm_shape s = {
			.nseg = r[1],
			.seed = r[2],
			.pkt_len = ctl & 3,
			.delta = nm_fz_be24(r + 6),
			.nb_segs = ctl >> 2 & 3,
			.headroom = (ctl & 0x20) ? 0 : 128,
			.tailroom = (ctl & 0x10) ? 64 : 0,
		};
		/* the data, then zeros up to flen */
		pkts[n] = nm_fm_build_zx(data, dlen, flen, &s);
		nm_fz_sample_check(h.x, pkts[n], data, dlen, flen);
		data += dlen;
		size -= dlen;
		uint8_t ra = r[9];
		struct nm_fm_reasm_plan *pl = &h.plan[n];
		pl->action = (ra & 3) == 3 ? NM_FM_REASM_COMPLETE
			     : (ra & 3) == 2 ? NM_FM_REASM_DROP
					     : NM_FM_REASM_HOLD;
		pl->fix_headers = (ra & 4) != 0;
		pl->len = nm_fz_be24(r + 10) & mask;
		memset(&pl->shape, 0, sizeof(pl->shape));
		pl->shape.nseg = ra >> 3;
		pl->shape.seed = r[2];
		h.nplan = ++n;
		if (n == NM_BURST || (ctl & 0x40)) {
			nm_fm_burst(&h, pkts, n);
			n = 0;
			h.nplan = 0;
		}
	}
	if (n)
		nm_fm_burst(&h, pkts, n);
	nm_fm_fini(&h);
	return 0;
}
