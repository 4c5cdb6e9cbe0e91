/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A harness that runs the DPDK worker's packet path (dataplane/dpdk_pkt.c,
 * nm_dpkt_burst() as the worker loop calls it) without the EAL, on mbuf
 * chains built by hand: each segment a struct rte_mbuf followed by exactly
 * headroom + data + tailroom bytes in its own heap block (so ASan sees a
 * read past a segment), buf_addr, data_off, data_len,
 * pkt_len, nb_segs and next set as the shape says, including shapes no
 * PMD builds: pkt_len or nb_segs that disagree with the chain.
 *
 * It defines what the backend would (dpdk.c): nm_dpkt_env_tx() checks the
 * reply it is given (one segment, right checksums, from our MAC) and takes
 * it or refuses it as told; nm_dpkt_env_reassemble() stands in for
 * rte_ip_frag (which needs the EAL's heap: rte_ip_frag_table_create() fails
 * without rte_eal_init()), checks what rte_ip_frag relies on (one segment,
 * l2_len/l3_len inside it, the header at l2_len being the fragment's) and
 * holds, drops or completes the datagram as told, a completed one being a
 * chain of any shape and length; nm_worker_datagram() checks the payload
 * lies in the frame and reads every byte of it. Every mbuf taken by these
 * is freed at once, so ASan catches the path touching it afterwards.
 *
 * After every burst: each packet is in exactly one packet counter, RX
 * counters moved by the burst, every mbuf is either consumed or handed back
 * for freeing (never both, never twice), and a frame longer than the
 * bounce buffer was counted OVERSIZE.
 */
#ifndef NM_FUZZ_MBUF_H
#define NM_FUZZ_MBUF_H

#include <stdbool.h>
#include <stdint.h>

#include "dpdk_pkt.h"

#define NM_FM_SEG_MAX (65535 - 256)   /* data bytes per segment (buf_len is 16 bits) */
#define NM_FM_FRAME_MAX (256u * 1024u) /* longest frame built */

enum nm_fm_pkt_len { NM_FM_LEN_SUM, NM_FM_LEN_PLUS, NM_FM_LEN_MINUS, NM_FM_LEN_VALUE };
enum nm_fm_nb_segs { NM_FM_SEGS_COUNT, NM_FM_SEGS_PLUS1, NM_FM_SEGS_MINUS1, NM_FM_SEGS_ZERO };

/* How a frame is laid out in mbufs. */
struct nm_fm_shape {
	uint16_t nseg;     /* segments wanted (0 = 1); more when a piece exceeds NM_FM_SEG_MAX */
	uint8_t seed;      /* segment sizes (0: equal pieces) */
	uint8_t pkt_len;   /* enum nm_fm_pkt_len */
	uint32_t delta;    /* for NM_FM_LEN_PLUS / MINUS / VALUE */
	uint8_t nb_segs;   /* enum nm_fm_nb_segs */
	uint16_t headroom; /* data_off of every segment (<= 128) */
	uint16_t tailroom; /* room after the data of every segment (<= 128) */
};

/* What the reassembly stand-in does with the next fragment. */
enum nm_fm_reasm { NM_FM_REASM_HOLD, NM_FM_REASM_DROP, NM_FM_REASM_COMPLETE };

struct nm_fm_reasm_plan {
	uint8_t action;          /* enum nm_fm_reasm */
	bool fix_headers;        /* rewrite the IP header as rte_ip_frag does */
	uint32_t len;            /* completed datagram: frame bytes (fragment's, zero-filled) */
	struct nm_fm_shape shape;
};

/* The port and worker under test, and what the stand-ins saw. */
struct nm_fm {
	struct nm_worker w;
	struct nm_cfg_port port;
	struct nm_dport dp;
	struct nm_dworker *x; /* its bounce buffer is 64 KiB: heap */
	bool tx_refuse;
	/* One plan per call of the reassembly stand-in in a burst, in order
	 * (hold when they run out). */
	struct nm_fm_reasm_plan plan[NM_BURST];
	unsigned nplan, iplan;
	uint64_t tx_taken, tx_refused, reassembled, datagrams;
	size_t last_datagram_len;
};

/* Port addresses 192.0.2.254 and 2001:db8::fe (naddrs of them); port MAC
 * 02:00:00:00:00:fe. */
void nm_fm_init(struct nm_fm *h, uint32_t naddrs, bool any_dst);
void nm_fm_fini(struct nm_fm *h);

/* Builds frame[0, len) as an mbuf chain of the given shape. */
struct rte_mbuf *nm_fm_build(const uint8_t *frame, uint32_t len, const struct nm_fm_shape *s);
/* The same for a frame of len bytes of which the first have are given, the
 * rest zeros. */
struct rte_mbuf *nm_fm_build_zx(const uint8_t *frame, uint32_t have, uint32_t len,
				const struct nm_fm_shape *s);

/* Runs n chains (n <= NM_BURST) through nm_dpkt_burst(), checks the
 * invariants above (aborting on a failure) and frees what is handed back. */
void nm_fm_burst(struct nm_fm *h, struct rte_mbuf **pkts, uint16_t n);

/* A worker counter. */
uint64_t nm_fm_ctr(const struct nm_fm *h, enum nm_wc c);

#endif
