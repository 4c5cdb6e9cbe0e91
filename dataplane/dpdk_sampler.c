/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet sampler's DPDK half (issue 14): a mirror port's burst, 1-in-N
 * of it walked into records and sFlow flow samples (sampler.h). Like
 * dpdk_pkt.c it needs DPDK's headers, not the EAL; it is a file of its own
 * so the fuzz harness of dpdk_pkt.c links without the worker's batches
 * (the chain copy, nm_dpkt_sample_bytes, is in dpdk_pkt.c for that harness).
 */
#include <string.h>

#include "dpdk_pkt.h"

/* ---- packet sampler (issue 14): mirror ports ---- */

/* The worker lost a batch holding n of port's samples (any flush: a full
 * batch, the flush_ms timer, shutdown): they are that port's drops, in
 * SampleDrops and sFlow's drops from the next sample on. */
static void nm_dpkt_samples_lost(void *ctx, uint32_t port, uint64_t n)
{
	struct nm_dworker *x = ctx;
	x->sp[port].drops += n;
	nm_wc_add(x->w, NM_WC_SAMPLE_DROPS, n);
}

static void nm_dpkt_sample(struct nm_dworker *x, const struct nm_dport *dp,
			   struct nm_sampler_port *sp, const struct rte_mbuf *m, uint64_t now_ns)
{
	struct nm_worker *w = x->w;
	nm_sampler_taken(sp, &x->rng);
	nm_wc_add(w, NM_WC_SAMPLES, 1);
	uint32_t caplen = 0, flen = rte_pktmbuf_pkt_len(m);
	const uint8_t *p = nm_dpkt_sample_bytes(x, m, &caplen);
	if (p == NULL) {
		sp->drops++;
		nm_wc_add(w, NM_WC_SAMPLE_MALFORMED, 1);
		nm_wc_add(w, NM_WC_SAMPLE_DROPS, 1);
		return;
	}
	if (x->cfg->sampler.records) {
		/* before the worker holds any sample of ours: every loss is seen */
		if (w->samples_lost == NULL) {
			w->samples_lost = nm_dpkt_samples_lost;
			w->samples_lost_ctx = x;
		}
		struct nm_flow *f = nm_worker_flow_slot(w, now_ns, dp->idx);
		enum nm_hdr_res r =
			nm_sampler_record(&x->cfg->sampler, sp, x->id, p, caplen, flen, now_ns, f);
		if (r == NM_HDR_TRUNCATED)
			nm_wc_add(w, NM_WC_SAMPLE_TRUNCATED, 1);
		else if (r == NM_HDR_DEPTH)
			nm_wc_add(w, NM_WC_SAMPLE_DEPTH, 1);
	}
	if (x->agent) {
		nm_sflow_agent_flow(x->agent, sp, p, caplen, flen, now_ns);
		nm_wc_add(w, NM_WC_SFLOW_FLOW_SAMPLES, 1);
	}
}

void nm_dpkt_mirror_burst(struct nm_dworker *x, const struct nm_dport *dp,
			  struct rte_mbuf **pkts, uint16_t n)
{
	struct nm_sampler_port *sp = &x->sp[dp->idx];
	uint32_t k = 0;
	uint64_t now_ns = 0;
	/* The unsampled path: one subtraction and compare per burst (plus
	 * the pool's add), no clock read; the two counters below. */
	for (;;) {
		uint32_t d = nm_sampler_due(sp, n - k);
		if (d == n - k)
			break;
		k += d;
		if (now_ns == 0)
			now_ns = nm_dworker_now_ns(x); /* once per burst, only when sampling */
		nm_dpkt_sample(x, dp, sp, pkts[k], now_ns);
		k++;
	}
	nm_wc_add(x->w, NM_WC_RX_PACKETS, n);
	nm_wc_add(x->w, NM_WC_MIRROR_PACKETS, n);
}
