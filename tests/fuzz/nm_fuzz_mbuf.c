/* SPDX-License-Identifier: BSD-3-Clause */
#include "nm_fuzz_mbuf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nm_fuzz.h"

/* The harness under which the stand-ins below run (one at a time). */
static struct nm_fm *nm_fm_cur;
static volatile uint8_t nm_fm_sink;

/* The burst being run: a datagram handed to the worker must lie in the
 * first segment of one of its mbufs (read in place) or in the bounce buffer. */
static struct rte_mbuf **nm_fm_pkts;
static uint16_t nm_fm_npkts;

/* Mbufs taken by the stand-ins during the current burst. */
static struct rte_mbuf *nm_fm_taken[NM_BURST];
static unsigned nm_fm_ntaken;
static unsigned nm_fm_outstanding; /* reassembled chains not yet freed */
static struct rte_mbuf *nm_fm_reasm_out; /* the last of them */

static const uint8_t nm_fm_mac[6] = {0x02, 0, 0, 0, 0, 0xfe};
static const uint8_t nm_fm_v4[4] = {192, 0, 2, 254};
static const uint8_t nm_fm_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};

/* Frees a chain built by nm_fm_build() (the next links are always true;
 * ASan reports a chain freed twice). */
static void nm_fm_free_chain(struct rte_mbuf *m)
{
	while (m != NULL) {
		struct rte_mbuf *n = m->next;
		free(m);
		m = n;
	}
}

static uint32_t nm_fm_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* One segment with n data bytes: those of data below have, zeros above.
 * One heap block: the mbuf, then headroom, data and tailroom, so the end of
 * the data (or of the tailroom) is the end of the block for ASan. */
static struct rte_mbuf *nm_fm_seg(const uint8_t *data, uint32_t have, uint32_t n,
				  const struct nm_fm_shape *s)
{
	uint32_t head = s->headroom > 128 ? 128 : s->headroom;
	uint32_t tail = s->tailroom > 128 ? 128 : s->tailroom;
	uint32_t cap = head + n + tail;
	NM_FUZZ_CHECK(cap <= UINT16_MAX);
	void *blk = NULL;
	/* not aligned_alloc: C11 wants its size a multiple of the alignment */
	size_t sz = sizeof(struct rte_mbuf) + cap;
	NM_FUZZ_CHECK(posix_memalign(&blk, RTE_CACHE_LINE_SIZE, sz) == 0);
	struct rte_mbuf *m = blk;
	memset(m, 0, sizeof(*m));
	uint8_t *buf = (uint8_t *)(m + 1);
	/* nothing may rely on zeroed headroom or tailroom */
	memset(buf, 0xa5, head);
	memset(buf + head + n, 0xa5, tail);
	uint32_t k = have < n ? have : n;
	if (k)
		memcpy(buf + head, data, k);
	memset(buf + head + k, 0, n - k);
	m->buf_addr = buf;
	m->buf_len = (uint16_t)cap;
	m->data_off = (uint16_t)head;
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	m->nb_segs = 1;
	rte_mbuf_refcnt_set(m, 1);
	return m;
}

struct rte_mbuf *nm_fm_build_zx(const uint8_t *frame, uint32_t have, uint32_t len,
				const struct nm_fm_shape *s)
{
	NM_FUZZ_CHECK(len <= NM_FM_FRAME_MAX);
	if (have > len)
		have = len;
	uint32_t want = s->nseg ? s->nseg : 1, seed = s->seed, off = 0, nseg = 0;
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t rs = seed * 2654435761u + 1;
	/* want pieces: random sizes (some empty) or equal ones; the last
	 * takes the rest, split again where it exceeds a segment. */
	for (uint32_t i = 0; off < len || i < want; i++) {
		uint32_t left = len - off, n;
		if (i + 1 >= want)
			n = left;
		else if (seed)
			n = nm_fm_rand(&rs) % (left + 1);
		else
			n = left / (want - i);
		if (n > NM_FM_SEG_MAX)
			n = NM_FM_SEG_MAX;
		struct rte_mbuf *m = nm_fm_seg(frame + (off < have ? off : have),
					       off < have ? have - off : 0, n, s);
		off += n;
		nseg++;
		if (head == NULL)
			head = m;
		else
			last->next = m;
		last = m;
	}
	switch (s->pkt_len) {
	case NM_FM_LEN_PLUS:
		head->pkt_len = len + s->delta;
		break;
	case NM_FM_LEN_MINUS:
		head->pkt_len = len - (s->delta < len ? s->delta : len);
		break;
	case NM_FM_LEN_VALUE:
		head->pkt_len = s->delta;
		break;
	default:
		head->pkt_len = len;
		break;
	}
	switch (s->nb_segs) {
	case NM_FM_SEGS_PLUS1:
		head->nb_segs = (uint16_t)(nseg + 1);
		break;
	case NM_FM_SEGS_MINUS1:
		head->nb_segs = (uint16_t)(nseg - 1);
		break;
	case NM_FM_SEGS_ZERO:
		head->nb_segs = 0;
		break;
	default:
		head->nb_segs = (uint16_t)nseg;
		break;
	}
	return head;
}

struct rte_mbuf *nm_fm_build(const uint8_t *frame, uint32_t len, const struct nm_fm_shape *s)
{
	return nm_fm_build_zx(frame, len, len, s);
}

void nm_fm_init(struct nm_fm *h, uint32_t naddrs, bool any_dst)
{
	memset(h, 0, sizeof(*h));
	struct nm_cfg_port *port = &h->port;
	if (naddrs > 0)
		nm_addr_set_v4(&port->addrs[port->naddrs++], nm_fm_v4);
	if (naddrs > 1)
		memcpy(port->addrs[port->naddrs++].b, nm_fm_v6, 16);
	port->accept_any_destination = any_dst;
	h->dp.port_id = 0;
	h->dp.nrxq = h->dp.ntxq = 1;
	memcpy(h->dp.mac.addr_bytes, nm_fm_mac, 6);
	h->dp.cfg = port;
	nm_dport_us_init(&h->dp);
	/* One worker context for every input: fresh pages for its 64 KiB
	 * bounce buffer (calloc per input) cost more than the packet path
	 * itself. Everything before the bounce buffer is zeroed as calloc did;
	 * the bounce buffer is scratch the path writes before it reads. */
	static struct nm_dworker *x;
	if (x == NULL) {
		x = calloc(1, sizeof(*x));
		NM_FUZZ_CHECK(x != NULL);
	}
	memset(x, 0, offsetof(struct nm_dworker, bounce));
	h->x = x;
	h->x->w = &h->w;
	nm_fm_cur = h;
}

void nm_fm_fini(struct nm_fm *h)
{
	h->x = NULL; /* kept for the next nm_fm_init() */
	nm_fm_cur = NULL;
}

uint64_t nm_fm_ctr(const struct nm_fm *h, enum nm_wc c)
{
	return atomic_load_explicit(&h->w.ctr[c], memory_order_relaxed);
}

/* Sum of the counters whose message starts "packet:": every received
 * packet lands in exactly one of them. */
static uint64_t nm_fm_packet_sum(const struct nm_fm *h)
{
	static const char *const msg[NM_WC__COUNT] = {
#define NM_X_(name, m) m,
		NM_WORKER_COUNTERS(NM_X_)
#undef NM_X_
	};
	uint64_t s = 0;
	for (int c = 0; c < NM_WC__COUNT; c++)
		if (strncmp(msg[c], "packet:", 7) == 0)
			s += nm_fm_ctr(h, (enum nm_wc)c);
	return s;
}

static bool nm_fm_in_seg(const struct rte_mbuf *m, const uint8_t *p, size_t n)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	return p >= d && n <= m->data_len && (size_t)(p - d) <= m->data_len - n;
}

static bool nm_fm_in_burst(const uint8_t *p, size_t n)
{
	if (nm_fm_outstanding && nm_fm_in_seg(nm_fm_reasm_out, p, n))
		return true;
	for (uint16_t i = 0; i < nm_fm_npkts; i++) {
		const struct rte_mbuf *m = nm_fm_pkts[i];
		bool gone = false; /* taken (and freed) earlier in the burst */
		for (unsigned k = 0; k < nm_fm_ntaken; k++)
			gone |= nm_fm_taken[k] == m;
		if (!gone && nm_fm_in_seg(m, p, n))
			return true;
	}
	return false;
}

void nm_fm_burst(struct nm_fm *h, struct rte_mbuf **pkts, uint16_t n)
{
	NM_FUZZ_CHECK(n <= NM_BURST);
	struct rte_mbuf *done[NM_BURST];
	uint64_t rx0 = nm_fm_ctr(h, NM_WC_RX_PACKETS), bytes0 = nm_fm_ctr(h, NM_WC_RX_BYTES);
	uint64_t sum0 = nm_fm_packet_sum(h), over0 = nm_fm_ctr(h, NM_WC_OVERSIZE);
	uint64_t bytes = 0, oversize = 0;
	for (uint16_t i = 0; i < n; i++) {
		bytes += pkts[i]->pkt_len;
		oversize += pkts[i]->pkt_len > NM_DPKT_BOUNCE;
	}
	nm_fm_ntaken = 0;
	h->iplan = 0;
	nm_fm_pkts = pkts;
	nm_fm_npkts = n;
	uint16_t nd = nm_dpkt_burst(h->x, &h->dp, pkts, n, 1700000000000000000ull, 1, done);
	nm_fm_npkts = 0;
	NM_FUZZ_CHECK(nm_fm_outstanding == 0);
	NM_FUZZ_CHECK(nd + nm_fm_ntaken == n);
	NM_FUZZ_CHECK(nm_fm_ctr(h, NM_WC_RX_PACKETS) == rx0 + n);
	NM_FUZZ_CHECK(nm_fm_ctr(h, NM_WC_RX_BYTES) == bytes0 + bytes);
	NM_FUZZ_CHECK(nm_fm_packet_sum(h) == sum0 + n);
	/* A frame longer than the bounce buffer lands in OVERSIZE, whatever
	 * its segments; more may (a reassembled datagram that is too long). */
	NM_FUZZ_CHECK(nm_fm_ctr(h, NM_WC_OVERSIZE) >= over0 + oversize);
	/* Handed back: mbufs of this burst, each once, none of them taken. */
	for (uint16_t i = 0; i < nd; i++) {
		bool mine = false;
		for (uint16_t k = 0; k < n; k++)
			mine |= done[i] == pkts[k];
		NM_FUZZ_CHECK(mine);
		for (unsigned k = 0; k < nm_fm_ntaken; k++)
			NM_FUZZ_CHECK(done[i] != nm_fm_taken[k]);
		for (uint16_t k = 0; k < i; k++)
			NM_FUZZ_CHECK(done[i] != done[k]);
	}
	for (uint16_t i = 0; i < nd; i++)
		nm_fm_free_chain(done[i]);
}

/* ---- the backend's part, stood in for ---- */

static void nm_fm_take(struct rte_mbuf *m)
{
	NM_FUZZ_CHECK(nm_fm_ntaken < NM_BURST);
	for (unsigned k = 0; k < nm_fm_ntaken; k++)
		NM_FUZZ_CHECK(nm_fm_taken[k] != m);
	nm_fm_taken[nm_fm_ntaken++] = m;
}

/* One's complement sum of n bytes (RFC 1071), folded. */
static uint32_t nm_fm_csum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static bool nm_fm_ours(const struct nm_addr *a)
{
	const struct nm_dport *dp = &nm_fm_cur->dp;
	for (uint32_t i = 0; i < dp->us.naddrs; i++)
		if (memcmp(dp->us.addrs[i].b, a->b, 16) == 0)
			return true;
	return false;
}

/* A reply must be one segment, from our MAC, with right checksums. */
static void nm_fm_check_reply(const struct rte_mbuf *m)
{
	NM_FUZZ_CHECK(m->nb_segs == 1 && m->next == NULL && m->data_len == m->pkt_len);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = m->data_len;
	NM_FUZZ_CHECK(len >= 14 && memcmp(p + 6, nm_fm_mac, 6) == 0);
	struct nm_l2l3 c;
	switch (nm_l2l3_walk(p, len, NM_LINK_ETHERNET, &c)) {
	case NM_L2L3_ARP: {
		NM_FUZZ_CHECK(len - c.l3 >= NM_ARP_LEN);
		const uint8_t *a = p + c.l3;
		NM_FUZZ_CHECK(a[6] == 0 && a[7] == 2 && memcmp(a + 8, nm_fm_mac, 6) == 0);
		struct nm_addr spa;
		nm_addr_set_v4(&spa, a + 14);
		NM_FUZZ_CHECK(nm_fm_ours(&spa));
		break;
	}
	case NM_L2L3_IPV4:
		NM_FUZZ_CHECK(!c.frag && c.proto == NM_IPPROTO_ICMP && c.l4_len >= 8);
		NM_FUZZ_CHECK(p[c.l4] == NM_ICMP4_ECHO_REPLY && nm_fm_ours(&c.src));
		NM_FUZZ_CHECK(nm_fm_csum(p + c.l3, c.l3_len, 0) == 0xffff);
		NM_FUZZ_CHECK(nm_fm_csum(p + c.l4, c.l4_len, 0) == 0xffff);
		break;
	case NM_L2L3_IPV6: {
		NM_FUZZ_CHECK(c.proto == NM_IPPROTO_ICMPV6 && c.l3_len == NM_IP6_HDR);
		NM_FUZZ_CHECK(c.l4_len >= 8);
		NM_FUZZ_CHECK(nm_fm_ours(&c.src));
		uint8_t ph[40];
		memcpy(ph, c.src.b, 16);
		memcpy(ph + 16, c.dst.b, 16);
		uint32_t l = c.l4_len;
		ph[32] = (uint8_t)(l >> 24);
		ph[33] = (uint8_t)(l >> 16);
		ph[34] = (uint8_t)(l >> 8);
		ph[35] = (uint8_t)l;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = NM_IPPROTO_ICMPV6;
		NM_FUZZ_CHECK(nm_fm_csum(p + c.l4, c.l4_len, nm_fm_csum(ph, 40, 0)) == 0xffff);
		const uint8_t *q = p + c.l4;
		if (q[0] == NM_ICMP6_ND_NA) {
			NM_FUZZ_CHECK(c.l4_len == 32 && c.ttl == NM_ND_HOP_LIMIT);
			NM_FUZZ_CHECK(q[24] == 2 && q[25] == 1);
			NM_FUZZ_CHECK(memcmp(q + 26, nm_fm_mac, 6) == 0);
			struct nm_addr t;
			memcpy(t.b, q + 8, 16);
			NM_FUZZ_CHECK(nm_fm_ours(&t));
		} else {
			NM_FUZZ_CHECK(q[0] == NM_ICMP6_ECHO_REPLY);
		}
		break;
	}
	default:
		NM_FUZZ_CHECK(!"a reply that is not ARP, IPv4 or IPv6");
	}
}

bool nm_dpkt_env_tx(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m)
{
	NM_FUZZ_CHECK(x == nm_fm_cur->x && dp == &nm_fm_cur->dp);
	nm_fm_check_reply(m);
	if (nm_fm_cur->tx_refuse) {
		nm_fm_cur->tx_refused++;
		return false;
	}
	nm_fm_cur->tx_taken++;
	nm_fm_take(m);
	nm_fm_free_chain(m);
	return true;
}

/* The datagram rte_ip_frag would hand back: the fragment's bytes, then
 * zeros, to plan->len bytes; with fix_headers the IP header rewritten as
 * rte_ip_frag rewrites it (IPv4: total length, no MF/offset; IPv6: the
 * fragment header removed). */
static struct rte_mbuf *nm_fm_complete(const struct rte_mbuf *m, bool v6,
				       const struct nm_fm_reasm_plan *plan)
{
	uint32_t len = plan->len > NM_FM_FRAME_MAX ? NM_FM_FRAME_MAX : plan->len;
	uint32_t fl = m->data_len, l2 = m->l2_len;
	uint8_t *f = malloc(fl ? fl : 1);
	NM_FUZZ_CHECK(f != NULL);
	memcpy(f, rte_pktmbuf_mtod(m, const uint8_t *), fl);
	if (plan->fix_headers && !v6 && fl >= l2 + 20 && len >= l2 + 20) {
		uint8_t *ip = f + l2;
		uint32_t tot = len - l2;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[6] &= 0x40;
		ip[7] = 0;
		ip[10] = ip[11] = 0;
	} else if (plan->fix_headers && v6 && fl >= l2 + 48 && len >= l2 + 48) {
		uint8_t *ip = f + l2;
		ip[6] = ip[40]; /* the fragment header's next header */
		memmove(ip + 40, ip + 48, fl - l2 - 48);
		fl -= 8;
		len -= 8;
		uint32_t plen = len - l2 - 40;
		ip[4] = (uint8_t)(plen >> 8);
		ip[5] = (uint8_t)plen;
	}
	struct rte_mbuf *r = nm_fm_build_zx(f, fl, len, &plan->shape);
	free(f);
	return r;
}

struct rte_mbuf *nm_dpkt_env_reassemble(struct nm_dworker *x, struct rte_mbuf *m, bool v6,
					uint64_t tsc, bool *dropped)
{
	(void)tsc;
	struct nm_fm *h = nm_fm_cur;
	NM_FUZZ_CHECK(x == h->x);
	/* What rte_ip_frag relies on. */
	NM_FUZZ_CHECK(m->nb_segs == 1 && m->next == NULL && m->data_len == m->pkt_len);
	NM_FUZZ_CHECK((uint32_t)m->l2_len + m->l3_len <= m->data_len);
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *) + m->l2_len;
	if (v6) {
		NM_FUZZ_CHECK(m->l3_len == NM_IP6_HDR + NM_IP6_FRAG_HDR);
		NM_FUZZ_CHECK((ip[0] >> 4) == 6 && ip[6] == NM_IPPROTO_FRAGMENT);
	} else {
		NM_FUZZ_CHECK((ip[0] >> 4) == 4 && (uint32_t)(ip[0] & 15) * 4 == m->l3_len);
		NM_FUZZ_CHECK((nm_load_be16(ip + 6) & 0x3fff) != 0);
	}
	static const struct nm_fm_reasm_plan hold = {NM_FM_REASM_HOLD, false, 0, {0}};
	const struct nm_fm_reasm_plan *plan = h->iplan < h->nplan ? &h->plan[h->iplan++] : &hold;
	struct rte_mbuf *r = NULL;
	*dropped = false;
	if (plan->action == NM_FM_REASM_COMPLETE) {
		r = nm_fm_complete(m, v6, plan);
		nm_fm_reasm_out = r;
		nm_fm_outstanding++;
		h->reassembled++;
	} else {
		*dropped = plan->action == NM_FM_REASM_DROP;
	}
	nm_fm_take(m);
	nm_fm_free_chain(m);
	return r;
}

void nm_dpkt_env_free(struct rte_mbuf *m)
{
	NM_FUZZ_CHECK(nm_fm_outstanding > 0);
	nm_fm_outstanding--;
	nm_fm_free_chain(m);
}

/* The worker's hand-off, stood in for: the payload lies in a segment or in
 * the bounce buffer, and every byte of it is read. */
void nm_worker_datagram(struct nm_worker *w, const struct nm_addr *src, uint16_t sport,
			uint16_t dport, const uint8_t *p, size_t len, uint64_t now_ns)
{
	(void)src;
	(void)sport;
	(void)dport;
	(void)now_ns;
	struct nm_fm *h = nm_fm_cur;
	NM_FUZZ_CHECK(w == &h->w);
	const uint8_t *b = h->x->bounce;
	bool in_bounce = p >= b && len <= sizeof(h->x->bounce) &&
			 (size_t)(p - b) <= sizeof(h->x->bounce) - len;
	NM_FUZZ_CHECK(in_bounce || nm_fm_in_burst(p, len));
	NM_FUZZ_CHECK(len <= 65535);
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc ^= p[i];
	nm_fm_sink = acc;
	h->datagrams++;
	h->last_datagram_len = len;
	nm_wc_add(w, NM_WC_UDP_DATAGRAMS, 1);
}
