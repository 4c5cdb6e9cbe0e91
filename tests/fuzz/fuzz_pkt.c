/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the DPDK-independent packet path (dataplane/pkt.c): the
 * classification the DPDK worker calls for every frame (nm_pkt_classify():
 * the L2/L3 walker of decoders/l2l3.c and the decisions), and the capture
 * parser of netmeta-decode (nm_pkt_parse(): link layers, IPv4/IPv6, IPv6
 * extension headers, UDP and fragment reassembly).
 *
 * Input: frames, each with a 3-byte header:
 *   ctl(1)  link type: ctl % 9 indexes nm_fuzz_links (the last one is not a
 *           link type the parser knows); ctl / 9 sets what nm_pkt_classify
 *           is told: bit 0 the frame is contiguous (replies and reassembly
 *           possible), bit 1 any destination accepted, bits 2-3 the
 *           collector's addresses (none, IPv4, IPv6, both)
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

/* The collector's addresses for nm_pkt_classify: 192.0.2.2 and 2001:db8::2
 * (the destinations of make_seeds.py's frames). */
static struct nm_addr nm_fuzz_us[2];

static void nm_fuzz_us_init(void)
{
	static const uint8_t v4[4] = {192, 0, 2, 2};
	nm_addr_set_v4(&nm_fuzz_us[0], v4);
	memset(nm_fuzz_us[1].b, 0, 16);
	nm_fuzz_us[1].b[0] = 0x20;
	nm_fuzz_us[1].b[1] = 0x01;
	nm_fuzz_us[1].b[2] = 0x0d;
	nm_fuzz_us[1].b[3] = 0xb8;
	nm_fuzz_us[1].b[15] = 2;
}

/* What the DPDK worker relies on after nm_pkt_classify(). */
static void nm_fuzz_check_classify(const uint8_t *p, size_t len, int link, unsigned sel)
{
	bool contiguous = sel & 1;
	struct nm_pkt_us us = {NULL, 0, (sel & 2) != 0};
	switch (sel >> 2 & 3) {
	case 1:
		us.addrs = &nm_fuzz_us[0];
		us.naddrs = 1;
		break;
	case 2:
		us.addrs = &nm_fuzz_us[1];
		us.naddrs = 1;
		break;
	case 3:
		us.addrs = nm_fuzz_us;
		us.naddrs = 2;
		break;
	default:
		break;
	}
	struct nm_l2l3 c;
	enum nm_pkt_act a = nm_pkt_classify(p, len, link, contiguous, &us, &c);
	NM_FUZZ_CHECK((unsigned)a < NM_PKT_ACT__COUNT);
	NM_FUZZ_CHECK(c.kind < NM_L2L3__KIND_COUNT && c.why < NM_L2L3__WHY_COUNT);
	NM_FUZZ_CHECK(c.l3 <= len);
	if (c.kind == NM_L2L3_IPV4 || c.kind == NM_L2L3_IPV6) {
		NM_FUZZ_CHECK(c.l3 + c.l3_len == c.l4 && c.l4 + c.l4_len == c.end && c.end <= len);
		NM_FUZZ_CHECK(c.kind == NM_L2L3_IPV6 || !c.frag || c.frag_more || c.frag_off);
	}
	if (c.kind == NM_L2L3_MALFORMED)
		NM_FUZZ_CHECK(a == NM_PKT_ACT_MALFORMED);
	switch (a) {
	case NM_PKT_ACT_UDP:
		NM_FUZZ_CHECK(c.proto == NM_IPPROTO_UDP && c.l4_len >= 8 && !c.frag);
		break;
	case NM_PKT_ACT_REASM:
		NM_FUZZ_CHECK(contiguous && c.frag);
		break;
	case NM_PKT_ACT_ARP_REPLY:
		NM_FUZZ_CHECK(contiguous && c.kind == NM_L2L3_ARP && len - c.l3 >= NM_ARP_LEN);
		break;
	case NM_PKT_ACT_ND_REPLY:
		NM_FUZZ_CHECK(contiguous && c.kind == NM_L2L3_IPV6 && c.l3_len == NM_IP6_HDR);
		NM_FUZZ_CHECK(c.l4_len >= NM_ND_NS_LEN && p[c.l4] == NM_ICMP6_ND_NS);
		break;
	case NM_PKT_ACT_ECHO_REPLY:
		NM_FUZZ_CHECK(contiguous && c.l4_len >= 8 && !c.frag);
		NM_FUZZ_CHECK(c.kind == NM_L2L3_IPV4 ? p[c.l4] == NM_ICMP4_ECHO_REQUEST
						     : p[c.l4] == NM_ICMP6_ECHO_REQUEST &&
							       c.l3_len == NM_IP6_HDR);
		break;
	case NM_PKT_ACT_NOT_FOR_US:
		NM_FUZZ_CHECK(!us.any_dst);
		break;
	default:
		break;
	}
	if (us.naddrs == 0)
		NM_FUZZ_CHECK(a != NM_PKT_ACT_ARP_REPLY && a != NM_PKT_ACT_ND_REPLY &&
			      a != NM_PKT_ACT_ECHO_REPLY);
	/* Walked again as a reassembled datagram: never a fragment handed on. */
	struct nm_l2l3 rc;
	a = nm_pkt_classify_reassembled(p, len, link, &rc);
	NM_FUZZ_CHECK(a == NM_PKT_ACT_UDP || a == NM_PKT_ACT_NOT_UDP || a == NM_PKT_ACT_MALFORMED);
	if (a == NM_PKT_ACT_UDP)
		NM_FUZZ_CHECK(!rc.frag && rc.end == len && rc.l4_len >= 8);
}

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
	nm_fuzz_us_init();
	while (size >= NM_FUZZ_FRAME_HDR) {
		unsigned sel = data[0];
		int link = nm_fuzz_links[sel % NM_FUZZ_NLINKS];
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

		nm_fuzz_check_classify(fr, len, link, sel / NM_FUZZ_NLINKS);
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
