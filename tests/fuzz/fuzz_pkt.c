/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the packet parser (dataplane/pkt.c): link layers, IPv4/IPv6,
 * IPv6 extension headers, UDP and fragment reassembly.
 *
 * Input: frames, each with a 3-byte header:
 *   ctl(1)  link type: ctl % 9 indexes nm_fuzz_links (the last one is not a
 *           link type the parser knows)
 *   len(2)  frame length, big endian; cut to what is left of the input
 *   len bytes of frame
 * All frames of one input go through one reassembly table, fresh per input,
 * so fragments of a datagram can arrive in separate frames and in any order.
 * Each frame is copied into a heap block of exactly its length so ASan sees
 * any read past it.
 */
#include <string.h>

#include "nm_fuzz.h"
#include "pkt.h"

#define NM_FUZZ_FRAME_HDR 3

static const int nm_fuzz_links[] = {
	NM_LINK_ETHERNET,  NM_LINK_RAW, NM_LINK_IPV4,       NM_LINK_IPV6, NM_LINK_NULL,
	NM_LINK_LOOP,      NM_LINK_LINUX_SLL, NM_LINK_LINUX_SLL2, 12345,
};
#define NM_FUZZ_NLINKS (sizeof(nm_fuzz_links) / sizeof(nm_fuzz_links[0]))

/* ~4.7 MB: too big for the stack, so one static table re-initialised per input. */
static struct nm_reasm nm_fuzz_reasm;

static volatile uint8_t nm_fuzz_sink;

static int nm_fuzz_within(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/*
 * A reassembled datagram is handed out only when every byte of it arrived:
 * the slot just completed (the one touched last) must have every 8-byte
 * block of [0, total) marked received. Otherwise the datagram carries bytes
 * left in the slot by an earlier datagram (possibly from another source).
 */
static void nm_fuzz_check_reasm(const struct nm_reasm *r)
{
	const struct nm_reasm_slot *s = NULL;
	for (unsigned i = 0; i < NM_REASM_SLOTS; i++)
		if (r->slot[i].seq == r->seq)
			s = &r->slot[i];
	NM_FUZZ_CHECK(s != NULL && !s->in_use);
	NM_FUZZ_CHECK(s->total <= NM_REASM_MAX);
	for (uint32_t b = 0; b < (s->total + 7) / 8; b++)
		NM_FUZZ_CHECK(s->blocks[b / 8] & (1u << (b % 8)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_reasm *r = &nm_fuzz_reasm;
	nm_reasm_init(r);
	while (size >= NM_FUZZ_FRAME_HDR) {
		int link = nm_fuzz_links[data[0] % NM_FUZZ_NLINKS];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += NM_FUZZ_FRAME_HDR;
		size -= NM_FUZZ_FRAME_HDR;
		if (len > size)
			len = size;
		uint8_t *fr = malloc(len ? len : 1);
		NM_FUZZ_CHECK(fr != NULL);
		memcpy(fr, data, len);
		data += len;
		size -= len;

		struct nm_udp_view u;
		memset(&u, 0, sizeof(u));
		uint64_t evicted = r->evicted;
		enum nm_pkt_res res = nm_pkt_parse(r, link, fr, len, &u);
		NM_FUZZ_CHECK((unsigned)res < NM_PKT__COUNT);
		NM_FUZZ_CHECK(nm_pkt_res_name(res) != NULL);
		NM_FUZZ_CHECK(r->evicted >= evicted);
		if (res == NM_PKT_UDP) {
			/* The payload lies in the frame or in the reassembly buffer. */
			NM_FUZZ_CHECK(nm_fuzz_within(u.payload, u.len, fr, len) ||
				      nm_fuzz_within(u.payload, u.len, r->out, sizeof(r->out)));
			NM_FUZZ_CHECK(u.len <= NM_REASM_MAX);
			/* Touch every byte so ASan checks the whole view. */
			uint8_t x = 0;
			for (size_t i = 0; i < u.len; i++)
				x ^= u.payload[i];
			nm_fuzz_sink = x;
			if (nm_fuzz_within(u.payload, u.len, r->out, sizeof(r->out)))
				nm_fuzz_check_reasm(r);
		}
		if (link == 12345)
			NM_FUZZ_CHECK(res == NM_PKT_LINK_UNKNOWN);
		free(fr);
	}
	uint32_t live = 0;
	for (unsigned i = 0; i < NM_REASM_SLOTS; i++) {
		const struct nm_reasm_slot *s = &r->slot[i];
		if (!s->in_use)
			continue;
		live++;
		NM_FUZZ_CHECK(s->total <= NM_REASM_MAX);
		NM_FUZZ_CHECK(s->received <= NM_REASM_MAX + 8);
	}
	NM_FUZZ_CHECK(live <= NM_REASM_SLOTS);
	return 0;
}
