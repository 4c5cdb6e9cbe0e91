/* SPDX-License-Identifier: BSD-3-Clause */
#include "flowgen.h"

#include <string.h>

#define NM_GEN_TMPL4 256
#define NM_GEN_TMPL6 257
#define NM_GEN_TMPL_OPT 258

struct nm_wr {
	uint8_t *p;
	size_t n, cap;
};

static void w8(struct nm_wr *w, uint64_t v)
{
	if (w->n < w->cap)
		w->p[w->n] = (uint8_t)v;
	w->n++;
}
static void w16(struct nm_wr *w, uint64_t v)
{
	w8(w, v >> 8);
	w8(w, v);
}
static void w32(struct nm_wr *w, uint64_t v)
{
	w16(w, v >> 16);
	w16(w, v);
}
static void w64(struct nm_wr *w, uint64_t v)
{
	w32(w, v >> 32);
	w32(w, v);
}
static void wpatch16(struct nm_wr *w, size_t at, size_t v)
{
	if (at + 1 < w->cap) {
		w->p[at] = (uint8_t)(v >> 8);
		w->p[at + 1] = (uint8_t)v;
	}
}

static uint64_t nm_rng(struct nm_gen *g)
{
	/* xorshift64* */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dull;
}

void nm_gen_cfg_default(struct nm_gen_cfg *c, enum nm_flow_type type)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->recs_per_dgram = type == NM_FLOW_TYPE_NETFLOW_V5 ? 30 : type == NM_FLOW_TYPE_SFLOW_5 ? 6 : 24;
	c->header_size = 128;
	c->tmpl_every = 64;
	c->sampling_rate = 1000;
	c->domain = 1;
	c->cardinality = 4096;
	c->v6_percent = 10;
	c->seed = 1;
	c->start_secs = 1767225600; /* 2026-01-01T00:00:00Z */
}

void nm_gen_init(struct nm_gen *g, const struct nm_gen_cfg *c)
{
	memset(g, 0, sizeof(*g));
	g->cfg = *c;
	g->rng = c->seed * 0x9e3779b97f4a7c15ull + 1;
	g->uptime_ms = 3600000;
	g->secs = c->start_secs;
}

/* One flow's values, shared by all encodings. */
struct nm_gen_flow {
	uint8_t src[16], dst[16], nh[16];
	bool v6;
	uint16_t sport, dport, in_if, out_if;
	uint8_t proto, tos, flags, smask, dmask;
	uint32_t src_as, dst_as, pkts, bytes, start_ago_ms, dur_ms;
};

static void nm_gen_flow(struct nm_gen *g, struct nm_gen_flow *f, bool allow_v6)
{
	uint64_t r = nm_rng(g);
	uint32_t card = g->cfg.cardinality ? g->cfg.cardinality : 1;
	uint32_t a = (uint32_t)(r % card), b = (uint32_t)((r >> 20) % card);
	f->v6 = allow_v6 && (r >> 40) % 100 < g->cfg.v6_percent;
	memset(f->src, 0, 16);
	memset(f->dst, 0, 16);
	memset(f->nh, 0, 16);
	if (f->v6) {
		static const uint8_t p1[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01};
		static const uint8_t p2[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02};
		memcpy(f->src, p1, 6);
		memcpy(f->dst, p2, 6);
		memcpy(f->src + 12, &a, 4);
		memcpy(f->dst + 12, &b, 4);
		f->nh[0] = 0xfe;
		f->nh[1] = 0x80;
		f->nh[15] = 1;
	} else {
		f->src[0] = 10;
		f->src[1] = (uint8_t)(a >> 16);
		f->src[2] = (uint8_t)(a >> 8);
		f->src[3] = (uint8_t)a;
		f->dst[0] = 198;
		f->dst[1] = 18;
		f->dst[2] = (uint8_t)(b >> 8);
		f->dst[3] = (uint8_t)b;
		f->nh[0] = 192;
		f->nh[1] = 0;
		f->nh[2] = 2;
		f->nh[3] = (uint8_t)(1 + r % 4);
	}
	uint64_t s = nm_rng(g);
	static const uint16_t ports[8] = {443, 80, 53, 123, 22, 8443, 3478, 25};
	static const uint8_t protos[8] = {6, 6, 6, 17, 17, 6, 1, 6};
	unsigned k = (unsigned)(s % 8);
	f->proto = protos[k];
	f->dport = f->proto == 1 ? 0x0800 : ports[k];
	f->sport = f->proto == 1 ? 0 : (uint16_t)(1024 + (s >> 8) % 60000);
	f->in_if = (uint16_t)(1 + (s >> 24) % 48);
	f->out_if = (uint16_t)(1 + (s >> 30) % 48);
	f->tos = (uint8_t)((s >> 36) % 4 * 8);
	f->flags = f->proto == 6 ? (uint8_t)(0x10 | ((s >> 40) & 0x0b)) : 0;
	f->smask = f->v6 ? 48 : 16;
	f->dmask = f->v6 ? 48 : 24;
	f->src_as = 64496 + (uint32_t)(a % 16);
	f->dst_as = 65536 + (uint32_t)(b % 64);
	f->pkts = 1 + (uint32_t)((s >> 44) % 200);
	f->bytes = f->pkts * (40 + (uint32_t)((s >> 52) % 1400));
	f->dur_ms = (uint32_t)(nm_rng(g) % 60000);
	f->start_ago_ms = f->dur_ms + (uint32_t)(nm_rng(g) % 5000);
}

static size_t nm_gen_v5(struct nm_gen *g, struct nm_wr *w)
{
	uint32_t n = g->cfg.recs_per_dgram;
	if (n > 30)
		n = 30;
	w16(w, 5);
	w16(w, n);
	w32(w, g->uptime_ms);
	w32(w, g->secs);
	w32(w, 0);
	w32(w, g->seq);
	w8(w, 0);
	w8(w, (uint8_t)g->cfg.domain);
	w16(w, g->cfg.sampling_rate & 0x3fff ? (0x4000 | (g->cfg.sampling_rate & 0x3fff)) : 0);
	for (uint32_t i = 0; i < n; i++) {
		struct nm_gen_flow f;
		nm_gen_flow(g, &f, false);
		for (int j = 0; j < 4; j++)
			w8(w, f.src[j]);
		for (int j = 0; j < 4; j++)
			w8(w, f.dst[j]);
		for (int j = 0; j < 4; j++)
			w8(w, f.nh[j]);
		w16(w, f.in_if);
		w16(w, f.out_if);
		w32(w, f.pkts);
		w32(w, f.bytes);
		w32(w, g->uptime_ms - f.start_ago_ms);
		w32(w, g->uptime_ms - f.start_ago_ms + f.dur_ms);
		w16(w, f.sport);
		w16(w, f.dport);
		w8(w, 0);
		w8(w, f.flags);
		w8(w, f.proto);
		w8(w, f.tos);
		w16(w, f.src_as & 0xffff);
		w16(w, f.dst_as & 0xffff);
		w8(w, f.smask);
		w8(w, f.dmask);
		w16(w, 0);
	}
	g->seq += n;
	g->records += n;
	return w->n;
}

/* Record layout shared by v9 and IPFIX: (IE, length) pairs. */
static const uint16_t nm_gen_fields4[][2] = {
	{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {5, 1}, {10, 4}, {14, 4},
	{1, 8}, {2, 8}, {22, 4}, {21, 4}, {16, 4}, {17, 4}, {9, 1}, {13, 1}, {15, 4},
	{48, 1}, {61, 1},
};
static const uint16_t nm_gen_fields6[][2] = {
	{27, 16}, {28, 16}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {5, 1}, {10, 4}, {14, 4},
	{1, 8}, {2, 8}, {22, 4}, {21, 4}, {16, 4}, {17, 4}, {29, 1}, {30, 1}, {62, 16},
	{48, 1}, {61, 1},
};
#define NM_GEN_NFIELDS (sizeof(nm_gen_fields4) / sizeof(nm_gen_fields4[0]))

/* IPFIX sends absolute milliseconds (152/153) where v9 sends uptime (22/21). */
static uint16_t nm_gen_ie(bool ipfix, uint16_t ie)
{
	if (ipfix && ie == 22)
		return 152;
	if (ipfix && ie == 21)
		return 153;
	return ie;
}

static void nm_gen_tmpl(struct nm_wr *w, bool ipfix, uint16_t id, const uint16_t (*fl)[2])
{
	w16(w, id);
	w16(w, NM_GEN_NFIELDS);
	for (size_t i = 0; i < NM_GEN_NFIELDS; i++) {
		uint16_t ie = nm_gen_ie(ipfix, fl[i][0]);
		w16(w, ie);
		w16(w, ie == 152 || ie == 153 ? 8 : fl[i][1]);
	}
}

static void nm_gen_record(struct nm_gen *g, struct nm_wr *w, const struct nm_gen_flow *f)
{
	const uint16_t(*fl)[2] = f->v6 ? nm_gen_fields6 : nm_gen_fields4;
	bool ipfix = g->cfg.type == NM_FLOW_TYPE_IPFIX;
	uint64_t now_ms = (uint64_t)g->secs * 1000 + g->uptime_ms % 1000;
	for (size_t i = 0; i < NM_GEN_NFIELDS; i++) {
		switch (nm_gen_ie(ipfix, fl[i][0])) {
		case 152: w64(w, now_ms - f->start_ago_ms); break;
		case 153: w64(w, now_ms - f->start_ago_ms + f->dur_ms); break;
		case 8: case 12: case 15: case 27: case 28: case 62: {
			const uint8_t *a = fl[i][0] == 8 || fl[i][0] == 27   ? f->src
					   : fl[i][0] == 12 || fl[i][0] == 28 ? f->dst
									       : f->nh;
			for (int j = 0; j < fl[i][1]; j++)
				w8(w, a[j]);
			break;
		}
		case 7: w16(w, f->sport); break;
		case 11: w16(w, f->dport); break;
		case 4: w8(w, f->proto); break;
		case 6: w8(w, f->flags); break;
		case 5: w8(w, f->tos); break;
		case 10: w32(w, f->in_if); break;
		case 14: w32(w, f->out_if); break;
		case 1: w64(w, f->bytes); break;
		case 2: w64(w, f->pkts); break;
		case 22: w32(w, g->uptime_ms - f->start_ago_ms); break;
		case 21: w32(w, g->uptime_ms - f->start_ago_ms + f->dur_ms); break;
		case 16: w32(w, f->src_as); break;
		case 17: w32(w, f->dst_as); break;
		case 9: case 29: w8(w, f->smask); break;
		case 13: case 30: w8(w, f->dmask); break;
		case 48: w8(w, 1); break;
		case 61: w8(w, 0); break;
		default: break;
		}
	}
}

static size_t nm_gen_v9_ipfix(struct nm_gen *g, struct nm_wr *w)
{
	bool ipfix = g->cfg.type == NM_FLOW_TYPE_IPFIX;
	bool tmpl = g->dgrams == 0 || (g->cfg.tmpl_every && g->dgrams % g->cfg.tmpl_every == 0);
	uint32_t n = g->cfg.recs_per_dgram;
	if (ipfix) {
		w16(w, 10);
		w16(w, 0); /* length, patched */
		w32(w, g->secs);
		w32(w, g->seq);
		w32(w, g->cfg.domain);
	} else {
		w16(w, 9);
		w16(w, 0); /* count, patched */
		w32(w, g->uptime_ms);
		w32(w, g->secs);
		w32(w, g->seq);
		w32(w, g->cfg.domain);
	}
	uint32_t count = 0, data = 0;
	if (tmpl) {
		size_t at = w->n;
		w16(w, ipfix ? 2 : 0);
		w16(w, 0);
		nm_gen_tmpl(w, ipfix, NM_GEN_TMPL4, nm_gen_fields4);
		nm_gen_tmpl(w, ipfix, NM_GEN_TMPL6, nm_gen_fields6);
		wpatch16(w, at + 2, w->n - at);
		count += 2;
		/* options template: sampler ID + its rate */
		at = w->n;
		w16(w, ipfix ? 3 : 1);
		w16(w, 0);
		w16(w, NM_GEN_TMPL_OPT);
		if (ipfix) {
			w16(w, 3); /* fields */
			w16(w, 1); /* scope fields */
			w16(w, 302), w16(w, 4);
			w16(w, 305), w16(w, 4);
			w16(w, 306), w16(w, 4);
		} else {
			w16(w, 4); /* scope length: one scope field */
			w16(w, 12);
			w16(w, 1), w16(w, 4); /* scope: system */
			w16(w, 48), w16(w, 1);
			w16(w, 49), w16(w, 1);
			w16(w, 50), w16(w, 4);
			w16(w, 0); /* pad to 4 */
		}
		wpatch16(w, at + 2, w->n - at);
		count++;
		at = w->n;
		w16(w, NM_GEN_TMPL_OPT);
		w16(w, 0);
		if (ipfix) {
			w32(w, 1);
			w32(w, 1);
			w32(w, g->cfg.sampling_rate ? g->cfg.sampling_rate - 1 : 0);
		} else {
			w32(w, 0);
			w8(w, 1);
			w8(w, 2);
			w32(w, g->cfg.sampling_rate);
			w16(w, 0);
		}
		wpatch16(w, at + 2, w->n - at);
		count++;
		data++;
	}
	/* Records go into one set per address family, in generation order. */
	size_t set_at = 0;
	int set_v6 = -1;
	for (uint32_t i = 0; i < n; i++) {
		struct nm_gen_flow f;
		nm_gen_flow(g, &f, true);
		if ((int)f.v6 != set_v6) {
			if (set_v6 >= 0)
				wpatch16(w, set_at + 2, w->n - set_at);
			set_at = w->n;
			w16(w, f.v6 ? NM_GEN_TMPL6 : NM_GEN_TMPL4);
			w16(w, 0);
			set_v6 = f.v6;
		}
		nm_gen_record(g, w, &f);
		count++;
		data++;
	}
	if (set_v6 >= 0)
		wpatch16(w, set_at + 2, w->n - set_at);
	if (ipfix) {
		wpatch16(w, 2, w->n);
		g->seq += data;
	} else {
		wpatch16(w, 2, count);
		g->seq++;
	}
	g->records += n;
	return w->n;
}

/* A sampled packet: Ethernet (+802.1Q), IPv4/IPv6, TCP/UDP/ICMP, filler. */
static void nm_gen_packet(struct nm_wr *w, const struct nm_gen_flow *f, uint32_t hlen,
			  uint16_t vlan)
{
	size_t start = w->n;
	static const uint8_t dmac[6] = {0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e};
	for (int i = 0; i < 6; i++)
		w8(w, dmac[i]);
	w16(w, 0x0200), w32(w, f->in_if); /* source MAC 02:00 + the input interface */
	w16(w, 0x8100);
	w16(w, vlan);
	w16(w, f->v6 ? 0x86dd : 0x0800);
	uint32_t ip_len = f->bytes / (f->pkts ? f->pkts : 1);
	if (f->v6) {
		w32(w, 0x60000000u | (uint32_t)f->tos << 20 | (f->sport & 0xfffff));
		w16(w, ip_len > 40 ? ip_len - 40 : 0);
		w8(w, f->proto == 1 ? 58 : f->proto);
		w8(w, 64);
		for (int i = 0; i < 16; i++)
			w8(w, f->src[i]);
		for (int i = 0; i < 16; i++)
			w8(w, f->dst[i]);
	} else {
		w8(w, 0x45);
		w8(w, f->tos);
		w16(w, ip_len);
		w16(w, f->sport ^ f->dport);
		w16(w, 0x4000);
		w8(w, 64);
		w8(w, f->proto);
		w16(w, 0);
		for (int i = 0; i < 4; i++)
			w8(w, f->src[i]);
		for (int i = 0; i < 4; i++)
			w8(w, f->dst[i]);
	}
	if (f->proto == 6) {
		w16(w, f->sport), w16(w, f->dport), w32(w, 1), w32(w, 0);
		w8(w, 0x50), w8(w, f->flags), w16(w, 65535), w32(w, 0);
	} else if (f->proto == 17) {
		w16(w, f->sport), w16(w, f->dport), w16(w, ip_len > 28 ? ip_len - 28 : 8), w16(w, 0);
	} else {
		/* echo request: ICMP type 8, ICMPv6 type 128 */
		w8(w, f->v6 ? 128 : 8), w8(w, 0), w16(w, 0), w32(w, 0);
	}
	while (w->n - start < hlen)
		w8(w, (uint8_t)(w->n * 7));
}

static size_t nm_gen_sflow(struct nm_gen *g, struct nm_wr *w)
{
	uint32_t hlen = g->cfg.header_size ? g->cfg.header_size : 128;
	w32(w, 5);
	w32(w, 1);
	w32(w, 0xc0000000u | (2u + g->cfg.domain / 256) << 8 | (g->cfg.domain & 0xff)); /* agent 192.0.x.y */
	w32(w, 0);                                     /* sub-agent */
	w32(w, g->seq);
	w32(w, g->uptime_ms);
	bool ctr = g->cfg.tmpl_every && g->dgrams % g->cfg.tmpl_every == 0;
	w32(w, g->cfg.recs_per_dgram + (ctr ? 1 : 0));
	for (uint32_t i = 0; i < g->cfg.recs_per_dgram; i++) {
		struct nm_gen_flow f;
		nm_gen_flow(g, &f, true);
		uint32_t port = f.in_if;
		w32(w, 1); /* flow sample */
		size_t at = w->n;
		w32(w, 0);
		w32(w, g->sample_seq[port % 64]++);
		w32(w, port);
		w32(w, g->cfg.sampling_rate);
		w32(w, g->sample_seq[port % 64] * g->cfg.sampling_rate);
		w32(w, 0);
		w32(w, port);
		w32(w, f.out_if);
		w32(w, 2);
		w32(w, 1); /* raw packet header */
		w32(w, 16 + hlen);
		w32(w, 1); /* Ethernet */
		w32(w, f.bytes / (f.pkts ? f.pkts : 1) + 18);
		w32(w, 4);
		w32(w, hlen);
		nm_gen_packet(w, &f, hlen, (uint16_t)(100 + port));
		while (w->n % 4)
			w8(w, 0);
		w32(w, 1001); /* extended switch */
		w32(w, 16);
		w32(w, 100 + port), w32(w, 0), w32(w, 100 + f.out_if), w32(w, 0);
		if (at + 3 < w->cap) {
			size_t len = w->n - at - 4;
			w->p[at] = (uint8_t)(len >> 24);
			w->p[at + 1] = (uint8_t)(len >> 16);
			w->p[at + 2] = (uint8_t)(len >> 8);
			w->p[at + 3] = (uint8_t)len;
		}
	}
	if (ctr) {
		uint32_t port = 1 + g->dgrams / g->cfg.tmpl_every % 48;
		w32(w, 2), w32(w, 12 + 8 + 88);
		w32(w, g->dgrams), w32(w, port), w32(w, 1);
		w32(w, 1), w32(w, 88);
		w32(w, port), w32(w, 6), w64(w, 10000000000ull), w32(w, 1), w32(w, 3);
		w64(w, (uint64_t)g->dgrams * 150000), w32(w, g->dgrams * 100), w32(w, 7), w32(w, 3);
		w32(w, 0), w32(w, 0), w32(w, 0);
		w64(w, (uint64_t)g->dgrams * 90000), w32(w, g->dgrams * 80), w32(w, 5), w32(w, 2);
		w32(w, 0), w32(w, 0), w32(w, 0);
	}
	g->seq++;
	g->records += g->cfg.recs_per_dgram;
	return w->n;
}

size_t nm_gen_datagram(struct nm_gen *g, uint8_t *buf, size_t cap)
{
	struct nm_wr w = {buf, 0, cap};
	size_t n = g->cfg.type == NM_FLOW_TYPE_NETFLOW_V5 ? nm_gen_v5(g, &w)
		   : g->cfg.type == NM_FLOW_TYPE_SFLOW_5  ? nm_gen_sflow(g, &w)
							   : nm_gen_v9_ipfix(g, &w);
	g->dgrams++;
	g->uptime_ms += 10;
	if (g->dgrams % 100 == 0)
		g->secs++;
	return n <= cap ? n : 0;
}

size_t nm_gen_flood_datagram(struct nm_flood *f, bool ipfix, uint32_t domain, uint8_t *buf,
			     size_t cap)
{
	struct nm_wr w = {buf, 0, cap};
	w16(&w, ipfix ? 10 : 9);
	w16(&w, ipfix ? 0 : f->tmpls_per_dgram); /* IPFIX: length, patched */
	if (!ipfix)
		w32(&w, f->dgrams * 10u); /* sysUptime */
	w32(&w, f->secs + f->dgrams / 1000u);
	w32(&w, ipfix ? 0 : f->dgrams); /* IPFIX: no data records sent, ever */
	w32(&w, domain);
	size_t at = w.n;
	w16(&w, ipfix ? 2 : 0);
	w16(&w, 0);
	for (uint32_t i = 0; i < f->tmpls_per_dgram; i++) {
		/* IDs cycle through 256..65535 */
		nm_gen_tmpl(&w, ipfix, f->next_id, nm_gen_fields4);
		f->next_id = f->next_id == 65535 ? 256 : (uint16_t)(f->next_id + 1);
	}
	wpatch16(&w, at + 2, w.n - at);
	if (ipfix)
		wpatch16(&w, 2, w.n);
	f->dgrams++;
	f->templates += f->tmpls_per_dgram;
	return w.n <= cap ? w.n : 0;
}

static void nm_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int nm_pcap_write_header(FILE *f)
{
	uint8_t h[24] = {0};
	nm_le32(h, 0xa1b2c3d4);
	h[4] = 2; /* version 2.4 */
	h[6] = 4;
	nm_le32(h + 16, 65535);
	nm_le32(h + 20, 1); /* LINKTYPE_ETHERNET */
	return fwrite(h, 1, sizeof(h), f) == sizeof(h) ? 0 : -1;
}

void nm_udp_headers(uint8_t h[NM_UDP_HDRS], const uint8_t src[4], const uint8_t dst[4],
		    uint16_t sport, uint16_t dport, size_t len)
{
	uint8_t *e = h;
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
	memcpy(e, macs, 12);
	e[12] = 0x08;
	e[13] = 0x00;
	uint8_t *ip = e + 14;
	size_t tot = 20 + 8 + len;
	ip[0] = 0x45;
	ip[1] = 0;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = ip[5] = ip[6] = ip[7] = 0;
	ip[8] = 64;
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	u[6] = u[7] = 0; /* no checksum (allowed over IPv4) */
}

int nm_pcap_write_udp(FILE *f, uint64_t ts_ns, const uint8_t src[4], const uint8_t dst[4],
		      uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len)
{
	if (len > 65535 - 28)
		return -1;
	uint8_t h[16 + NM_UDP_HDRS];
	size_t frame = NM_UDP_HDRS + len;
	nm_le32(h, (uint32_t)(ts_ns / 1000000000ull));
	nm_le32(h + 4, (uint32_t)(ts_ns % 1000000000ull / 1000));
	nm_le32(h + 8, (uint32_t)frame);
	nm_le32(h + 12, (uint32_t)frame);
	nm_udp_headers(h + 16, src, dst, sport, dport, len);
	if (fwrite(h, 1, sizeof(h), f) != sizeof(h) || fwrite(payload, 1, len, f) != len)
		return -1;
	return 0;
}
