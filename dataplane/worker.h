/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_worker: what every backend's worker does with a UDP datagram
 * once it has one: allowlist, protocol by destination port, decode into a
 * batch, hand full batches to the sink over an SPSC ring. Backends (socket
 * threads, DPDK lcores) own the receive side and call nm_worker_datagram().
 *
 * Counters are single-writer (the worker) and stored with relaxed atomics
 * so the control thread can read them at any time.
 */
#ifndef NM_WORKER_H
#define NM_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch.h" /* export/: struct nm_batch */
#include "config.h"
#include "decode.h"
#include "exptab.h"
#include "ring.h"  /* export/: the SPSC ring to the sink */
#include "util.h"

/* Why each received packet went where it went: every packet lands in
 * exactly one of the "packet" counters (RX_PACKETS = their sum). */
#define NM_WORKER_COUNTERS(X)                                                              \
	X(RX_PACKETS, "packets received")                                                  \
	X(RX_BYTES, "bytes received")                                                      \
	X(UDP_DATAGRAMS, "packet: UDP datagram handed to a decoder")                       \
	X(NOT_IP, "packet: not IPv4/IPv6 (and not ARP or neighbour discovery for us)")      \
	X(NOT_UDP, "packet: IP but not UDP (and not an echo request for us)")               \
	X(NOT_FOR_US, "packet: destination is not one of the collector's addresses")        \
	X(PORT_UNKNOWN, "packet: UDP to a port the collector does not listen on")            \
	X(EXPORTER_DENIED, "packet: exporter address outside the allowlist")                  \
	X(MALFORMED, "packet: truncated or inconsistent L2/L3/L4 headers")                   \
	X(FRAG_HELD, "packet: IP fragment held for reassembly")                              \
	X(FRAG_DROPPED, "packet: IP fragment dropped (table full, bad, or expired)")         \
	X(OVERSIZE, "packet: frame longer than the worker's bounce buffer (65,601 bytes)")   \
	X(ARP_REPLIED, "packet: ARP request for us, answered")                               \
	X(ND_REPLIED, "packet: IPv6 neighbour solicitation for us, answered")                \
	X(ICMP_REPLIED, "packet: ICMP/ICMPv6 echo request for us, answered")                 \
	X(TX_FAILED, "replies (ARP, ND, ICMP) the port would not send")                      \
	X(MULTI_SEGMENT, "multi-segment packets read through the bounce buffer")             \
	X(KERNEL_DROPS, "datagrams the kernel dropped on our sockets (SO_RXQ_OVFL)")          \
	X(RECORDS_MADE, "records made without a decoder (Linux inputs: NFLOG, conntrack)")   \
	X(RECORDS_SENT, "records handed to the sink")                                        \
	X(RECORDS_RING_FULL, "records dropped: the ring to the sink was full")               \
	X(RECORDS_NO_BATCH, "records dropped: no free batch (sink too slow)")                \
	X(COUNTERS_SENT, "interface counter records handed to the sink")                     \
	X(COUNTERS_DROPPED, "interface counter records dropped (ring full or no batch)")     \
	X(BATCHES_SENT, "batches handed to the sink")                                      \
	NM_SAMPLER_WORKER_COUNTERS(X)

/* The packet sampler's (issue 14): MIRROR_PACKETS is a packet counter like
 * those above (every packet of a mirror port lands there); the rest count
 * beside it. */
#define NM_SAMPLER_WORKER_COUNTERS(X)                                                      \
	X(MIRROR_PACKETS, "packet: on a mirror port, traffic to sample (the sample pool)")  \
	X(SAMPLES, "mirror-port packets sampled")                                          \
	X(SAMPLE_RECORDS, "flow records the sampler wrote (sent or dropped as the rest)")  \
	X(SAMPLE_TRUNCATED, "samples whose frame ended inside a header (fields above unset)") \
	X(SAMPLE_DEPTH, "samples whose VLAN/MPLS/IPv6 extension chain passed its cap")     \
	X(SAMPLE_MALFORMED, "samples not taken: mbuf chain disagrees with its length")     \
	X(SAMPLE_DROPS, "samples lost: no room for the record or the chain was malformed") \
	X(SFLOW_DATAGRAMS, "sFlow v5 datagrams the agent sent")                            \
	X(SFLOW_FLOW_SAMPLES, "sFlow flow samples the agent wrote")                        \
	X(SFLOW_COUNTER_SAMPLES, "sFlow counter samples the agent wrote")                  \
	X(SFLOW_SEND_FAILED, "sFlow datagrams a collector's socket refused (samples lost)")

enum nm_wc {
#define NM_X_(name, msg) NM_WC_##name,
	NM_WORKER_COUNTERS(NM_X_)
#undef NM_X_
	NM_WC__COUNT
};

const char *nm_wc_name(enum nm_wc c);

/* The decoder's counters as the worker publishes them for other threads:
 * struct nm_decode_stats, field for field, in relaxed atomics. */
struct nm_dec_pub {
#define NM_X_(name, help) _Atomic uint64_t name;
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	_Atomic uint64_t err[NM_ERR__COUNT];
	_Atomic uint64_t ev[NM_EV__COUNT];
};

/* The configuration the workers run with, replaced by a reload (SIGHUP):
 * each worker moves to a new one at its next tick and says so in cfg_ack. */
struct nm_cfg_live {
	_Atomic(const struct nm_config *) cur; /* release by the reloader, acquire by workers */
};

struct nm_worker {
	uint32_t id;
	const struct nm_config *cfg; /* the worker's view: switched at a tick (nm_cfg_live) */
	const uint8_t *port_kind; /* 65536 entries: enum nm_proto_kind + 1, 0 = not listened */
	struct nm_decoder *dec;
	void *dec_mem;
	struct nm_ring *full; /* worker -> sink */
	struct nm_ring *free; /* sink -> worker (flow and counter batches) */
	struct nm_batch *batches;
	void *batch_mem;
	uint32_t nbatches;
	struct nm_batch *cur;  /* flow batch being filled */
	struct nm_batch *ccur; /* counter batch being filled */
	struct nm_flow_batch fb;
	struct nm_ctr_batch cb;
	/* Where the decoder writes while the sink holds every batch: copied
	 * into the next free batch, or dropped and counted when it fills. */
	struct nm_flow *spill;
	struct nm_ctr *cspill;
	uint64_t cur_since_ns;
	uint64_t last_publish_ns;
	/* Packet sampler (issue 14): the sampler's records in the flow batch
	 * being filled (or the spill buffer), per config port index, so that a
	 * batch lost on any flush (full, timer, shutdown) is charged to the
	 * ports whose samples it held: samples_lost(ctx, port, n) per port. */
	uint32_t fb_samples[NM_CFG_MAX_PORTS];
	uint32_t fb_samples_n; /* their sum */
	void (*samples_lost)(void *ctx, uint32_t port, uint64_t n);
	void *samples_lost_ctx;
	_Alignas(64) _Atomic uint64_t ctr[NM_WC__COUNT];
	/* the decoder's counters, published by the worker for other threads */
	struct nm_dec_pub dec_pub;
	/* Metrics: a consistent snapshot of ctr[], dec_pub and the records
	 * still in the worker's batches, under a sequence count (odd while
	 * the worker writes it; nm_worker_snapshot retries). */
	_Atomic uint32_t snap_seq;
	_Atomic uint64_t snap[NM_WC__COUNT];
	_Atomic uint64_t snap_held;  /* flow records decoded, not yet sent or dropped */
	_Atomic uint64_t snap_cheld; /* counter records likewise */
	struct nm_exptab *etab;       /* per-exporter series, NULL = off (set before start) */
	const struct nm_cfg_live *live; /* NULL: the configuration never changes */
	_Atomic(const struct nm_config *) cfg_ack; /* the config this worker runs with */
	_Atomic uint64_t alive_ns;  /* time of the worker's last tick (watchdog, readiness) */
	/* Decoder state saved while running (config state.interval): the
	 * worker serialises into state_buf and publishes its length; the stats
	 * thread writes the file and sets the length back to 0. */
	uint8_t *state_buf;
	size_t state_cap;
	_Atomic size_t state_len;
	uint64_t state_next_ns;
	uint64_t state_errors; /* failed periodic writes (stats thread only) */
};

/* Relaxed single-writer add. */
static inline void nm_wc_add(struct nm_worker *w, enum nm_wc c, uint64_t v)
{
	atomic_store_explicit(&w->ctr[c], atomic_load_explicit(&w->ctr[c], memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline uint64_t nm_wc_get(struct nm_worker *w, enum nm_wc c)
{
	return atomic_load_explicit(&w->ctr[c], memory_order_relaxed);
}

/* Builds the port table of a config (65536 bytes, caller frees). */
uint8_t *nm_port_table(const struct nm_config *cfg);

/* Bytes nm_worker_init allocates for one worker (decoder, batch pool,
 * spill buffers, rings), computed without allocating (netmeta --check);
 * UINT64_MAX when the decode limits are out of the decoder's range. */
uint64_t nm_worker_mem_bytes(const struct nm_config *cfg);

/* Allocates the decoder, batches and rings. Returns 0, or -1 (out of memory,
 * or decode limits the decoder refuses) with nothing left allocated. */
int nm_worker_init(struct nm_worker *w, uint32_t id, const struct nm_config *cfg,
		   const uint8_t *port_kind);
void nm_worker_free(struct nm_worker *w);

/*
 * One UDP datagram for us: counts it (UDP_DATAGRAMS, PORT_UNKNOWN or
 * EXPORTER_DENIED) and decodes it. now_ns: receive time, ns since the epoch.
 */
void nm_worker_datagram(struct nm_worker *w, const struct nm_addr *src, uint16_t sport,
			uint16_t dport, const uint8_t *p, size_t len, uint64_t now_ns);

/*
 * Packet sampler (issue 14): the slot for one flow record of mirror port
 * `port` (config index, < NM_CFG_MAX_PORTS) in the batch being filled
 * (sending a full one first), counted in SAMPLE_RECORDS. When this record
 * is later lost with its batch (ring full, no free batch, on whichever
 * flush), w->samples_lost is called for its port.
 */
struct nm_flow *nm_worker_flow_slot(struct nm_worker *w, uint64_t now_ns, uint32_t port);

/*
 * A record made outside the decoder (the Linux inputs, dataplane/linux_in.h):
 * the zeroed slot to fill, in the batch being filled (a full batch is sent
 * first; with no free batch, the spill buffer). Fill it, then call
 * nm_worker_record_done(), which counts it (RECORDS_MADE).
 */
struct nm_flow *nm_worker_record(struct nm_worker *w, uint64_t now_ns);
void nm_worker_record_done(struct nm_worker *w);

/* Periodic work: sends a batch older than flush_ms, publishes counters,
 * snapshots the decoder state every state.interval. */
void nm_worker_tick(struct nm_worker *w, uint64_t now_ns);

/* Serialises the decoder's state into w->state_buf for the stats thread
 * (skipped while the previous snapshot is not written out yet). */
void nm_worker_state_snapshot(struct nm_worker *w, uint64_t now_ns);

/* Shutdown: sends what is in the batches, waiting for ring room (the sink
 * is still draining), and publishes the final counters. The caller tells
 * the sink it may stop once every worker returned from here (the backends
 * return after joining their workers; main then calls nm_sink_stop). */
void nm_worker_finish(struct nm_worker *w);

/* A consistent snapshot of worker w's counters as last published (any
 * thread): ctr[NM_WC__COUNT], the decoder's, and the records decoded but
 * still held in the worker's batches (held: flows, cheld: counters), so
 * that records = RECORDS_SENT + RING_FULL + NO_BATCH + held. */
void nm_worker_snapshot(struct nm_worker *w, uint64_t *ctr, struct nm_decode_stats *d,
			uint64_t *held, uint64_t *cheld);

/* The decoder's counters as last published by worker w (any thread). */
void nm_worker_dec_stats(struct nm_worker *w, struct nm_decode_stats *out);

/* The same, summed over n workers. */
void nm_workers_dec_stats(struct nm_worker *w, uint32_t n, struct nm_decode_stats *sum);

/* Wall-clock time in ns since the epoch (receive times). */
static inline uint64_t nm_now_ns(void)
{
	return nm_clock_ns(CLOCK_REALTIME);
}

#endif
