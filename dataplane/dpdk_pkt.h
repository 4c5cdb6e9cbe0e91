/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK worker's packet path: a burst of mbufs in, each frame read
 * whole (bounded), classified by nm_pkt_classify() (pkt.h: the one L2/L3
 * walker and the decisions), then one small handler: UDP hand-off to the
 * worker, reassembly hand-off (rte_ip_frag), ARP reply, neighbour
 * advertisement, echo reply, or a counted drop.
 *
 * This file needs DPDK's headers but not the EAL: the three calls that do
 * (transmit, reassembly, freeing an mbuf to its pool) are the nm_dpkt_env_*
 * functions, defined by the backend (dpdk.c) and by the fuzz target and the
 * big-frame test (tests/fuzz/nm_fuzz_mbuf.c), which run this very code on
 * mbuf chains built by hand.
 *
 * Frames: an mbuf's bytes are read in place when it is one segment whose
 * data_len equals its pkt_len; otherwise the segments are copied into the
 * worker's bounce buffer (NM_L2L3_FRAME_MAX bytes), never more than it
 * holds. pkt_len is never trusted against the chain: a frame is taken only
 * when the segments' data_len add up to pkt_len in exactly nb_segs
 * segments (MALFORMED otherwise), and a frame longer than the buffer is
 * counted OVERSIZE without a byte read. Replies and reassembly take only
 * frames read in place.
 */
#ifndef NM_DPDK_PKT_H
#define NM_DPDK_PKT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "config.h"
#include "pkt.h"
#include "sampler.h"
#include "worker.h"

#define NM_BURST 32
/* A busy worker reads the TSC for its 1 ms tick every this many loops
 * (8 bursts of 32 at 50 Mpps: 5 us), an idle one every loop. */
#define NM_TICK_LOOPS 8
#define NM_PREFETCH_AHEAD 3
#define NM_DPKT_BOUNCE NM_L2L3_FRAME_MAX

struct nm_dport {
	uint16_t port_id;
	uint16_t nrxq, ntxq;
	struct rte_ether_addr mac;
	const struct nm_cfg_port *cfg;
	struct nm_pkt_us us; /* cfg's addresses, as nm_pkt_classify() takes them */
	uint32_t idx;        /* index in the config's ports (sampler state) */
	bool mirror;         /* role mirror: every packet is traffic to sample */
};

struct nm_dworker {
	struct nm_worker *w;
	const struct nm_config *cfg;
	atomic_bool *stop;
	uint32_t id;
	struct rte_ip_frag_tbl *frag;
	struct rte_ip_frag_death_row dr;
	/* packet sampler (issue 14): state per mirror port, by port index */
	struct nm_rng rng;
	struct nm_sampler_port sp[NM_CFG_MAX_PORTS];
	struct nm_sflow_agent *agent; /* NULL: no sFlow output */
	uint64_t last_ctr_ns;
	uint64_t pub_dgrams, pub_failed; /* agent counts already in the worker's */
	/* Receive times of samples from the TSC: the wall clock clk_ns0 read
	 * at TSC clk_tsc0 (nm_dworker_clock_sync, every ms tick), the TSC
	 * scaled by clk_mult / 2^32 ns per cycle; beyond clk_dt_max cycles
	 * (0: never synced) the wall clock is read instead. */
	uint64_t clk_tsc0, clk_ns0, clk_mult, clk_dt_max;
	uint8_t bounce[NM_DPKT_BOUNCE];
};

/*
 * Anchors the worker's TSC clock: reads the wall clock once, at TSC value
 * tsc, for a TSC of hz cycles per second. Returns the wall clock (ns since
 * the epoch), for the tick it is called from.
 */
static inline uint64_t nm_dworker_clock_sync(struct nm_dworker *x, uint64_t tsc, uint64_t hz)
{
	x->clk_ns0 = nm_now_ns();
	x->clk_tsc0 = tsc;
	if (x->clk_mult == 0 && hz) {
		/* ns per cycle in 32.32 fixed point; dt * mult must not pass
		 * 2^64, and one second is far more than a tick's gap */
		x->clk_mult = (1000000000ull << 32) / hz;
		uint64_t lim = UINT64_MAX / (x->clk_mult ? x->clk_mult : 1);
		x->clk_dt_max = hz < lim ? hz : lim;
	}
	return x->clk_ns0;
}

/* The wall clock now from the TSC and the worker's anchor (one rdtsc, no
 * system call); the wall clock itself before the first sync. */
static inline uint64_t nm_dworker_now_ns(const struct nm_dworker *x)
{
	uint64_t dt = rte_rdtsc() - x->clk_tsc0;
	if (dt >= x->clk_dt_max)
		return nm_now_ns();
	return x->clk_ns0 + ((dt * x->clk_mult) >> 32);
}

/* Sets dp->us from dp->cfg. */
void nm_dport_us_init(struct nm_dport *dp);

/*
 * Handles a received burst: RX_PACKETS and RX_BYTES counted once for it,
 * nm_packet() on each mbuf. The mbufs the caller must free (not sent, not
 * kept by reassembly) are placed in done; returns their count.
 */
uint16_t nm_dpkt_burst(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf **pkts,
		       uint16_t n, uint64_t now_ns, uint64_t tsc, struct rte_mbuf **done);

/*
 * Packet sampler (issue 14): a burst of a mirror port. Counts it
 * (RX_PACKETS, MIRROR_PACKETS), samples 1-in-N of it into records and the
 * sFlow agent; the caller frees every mbuf of the burst. The receive time
 * is taken only when a sample is due, from the TSC (nm_dworker_now_ns).
 */
void nm_dpkt_mirror_burst(struct nm_dworker *x, const struct nm_dport *dp,
			  struct rte_mbuf **pkts, uint16_t n);

/* Bytes of a sampled frame read at most (a multi-segment frame's prefix
 * is copied into the bounce buffer; a single segment is read in place). */
#define NM_DPKT_SAMPLE_COPY 2048

/*
 * The first bytes of a sampled frame: in place for one segment, else at
 * most NM_DPKT_SAMPLE_COPY bytes copied from the chain into x->bounce,
 * walking no more than nb_segs segments. NULL when the chain disagrees
 * with pkt_len. (Here, not in dpdk_sampler.c, so the dpdk_pkt fuzz
 * target runs it on its chains.)
 */
const uint8_t *nm_dpkt_sample_bytes(struct nm_dworker *x, const struct rte_mbuf *m,
				    uint32_t *caplen);

/*
 * Handles one frame; counts it in exactly one packet counter of
 * NM_WORKER_COUNTERS (and MULTI_SEGMENT, TX_FAILED beside). Returns true
 * when m was consumed (sent, or taken by reassembly), false when the
 * caller frees it.
 */
bool nm_packet(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
	       uint64_t now_ns, uint64_t tsc);

/*
 * The bytes of frame m, contiguous: in place (one segment, data_len ==
 * pkt_len), or copied into buf (cap bytes). Returns them and their count in
 * *len, or NULL with the counter in *fail: NM_WC_OVERSIZE (pkt_len > cap),
 * NM_WC_MALFORMED (the chain disagrees with pkt_len or nb_segs).
 */
const uint8_t *nm_dpkt_frame(const struct rte_mbuf *m, uint8_t *buf, uint32_t cap,
			     uint32_t *len, enum nm_wc *fail);

/* ---- provided by the backend (dpdk.c) or a test harness ---- */

/* Transmits m on the worker's TX queue of dp: true when the port took it. */
bool nm_dpkt_env_tx(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m);

/*
 * Hands the fragment m (one segment; l2_len, l3_len set; IPv6: fragment
 * header right after the fixed header) to reassembly, which takes it.
 * Returns the complete datagram (an mbuf chain starting at the Ethernet
 * header), or NULL: *dropped then says whether m was refused.
 */
struct rte_mbuf *nm_dpkt_env_reassemble(struct nm_dworker *x, struct rte_mbuf *m, bool v6,
					uint64_t tsc, bool *dropped);

/* Frees a chain returned by nm_dpkt_env_reassemble(). */
void nm_dpkt_env_free(struct rte_mbuf *m);

#endif
