/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet sampler (issue 14): 1-in-N sampling of a mirror port's
 * traffic as sFlow v5 defines it (sFlow version 5, section 4.2 "Packet
 * Flow Sampling"), into flow records and, optionally, into standard sFlow
 * v5 datagrams. Pure C, no DPDK: the DPDK worker (dpdk_pkt.c), the unit
 * tests and the benchmark call the same functions.
 *
 * Per (port, worker) a countdown `skip` is drawn uniformly from [1, 2N-1]
 * (mean N) by a per-worker xorshift64* generator seeded per worker; every
 * packet decrements it and only at zero is the packet taken. sample_pool
 * counts every packet seen (added per burst), drops every sample that was
 * lost, as sFlow's flow_sample fields of the same names.
 *
 * sFlow v5 datagram (all fields 32-bit big-endian unless noted):
 *
 *   version=5 | agent address type=1 (IPv4) or 2 (IPv6) | agent address
 *   (4 or 16 bytes) | sub_agent_id | sequence_number | uptime (ms) |
 *   num_samples | samples...
 *
 *   flow_sample (enterprise 0, format 1; format 3 "expanded" when the
 *   ifIndex does not fit 24 bits):
 *     sequence_number | source_id (type 0 << 24 | ifIndex) | sampling_rate |
 *     sample_pool | drops | input (ifIndex) | output (0) | num_records |
 *     raw packet header record (format 1): header_protocol=1 (Ethernet) |
 *     frame_length | stripped | header_length | header bytes, padded to 4
 *
 *   counters_sample (format 2; 4 expanded): sequence_number | source_id |
 *     num_records | generic interface counters (format 1, 88 bytes)
 *
 * Sub-agent = worker: each worker is its own sFlow sub-agent with its own
 * datagram sequence, and each (sub-agent, ifIndex) its own sample sequence
 * and pool, so the numbers stay consistent without any sharing between
 * workers. Counter samples come from sub-agent 0.
 */
#ifndef NM_SAMPLER_H
#define NM_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "hdr.h"

/* ---- configuration (the `sampler:` block and the per-port keys) ---- */

#define NM_SAMPLER_MAX_COLLECTORS 4
#define NM_SAMPLER_RATE_MAX (1u << 24)   /* sFlow rates are 32-bit; 2N-1 must fit 32 bits */
#define NM_SAMPLER_HEADER_MAX 256        /* raw header bytes per flow sample */
#define NM_SFLOW_DGRAM_MAX 1400          /* agent datagrams stay under a 1500-byte MTU */

struct nm_cfg_sampler {
	struct nm_addr agent;        /* SamplerAddress and the sFlow agent address */
	bool agent_set;
	uint32_t header_bytes;       /* raw header record length (128) */
	bool records;                /* sampled packets become flow records (true) */
	uint32_t counter_interval;   /* seconds between counter samples (20) */
	uint64_t seed;               /* 0: from the clock; else a fixed seed (tests) */
	char collectors[NM_SAMPLER_MAX_COLLECTORS][80]; /* "host:port" sFlow receivers */
	uint32_t ncollectors;
};

void nm_cfg_sampler_default(struct nm_cfg_sampler *c);

/* ---- the generator and the skip ---- */

struct nm_rng {
	uint64_t s;
};

/* Seeds g from (seed, stream): splitmix64, never the all-zero state. */
void nm_rng_seed(struct nm_rng *g, uint64_t seed, uint64_t stream);

/* xorshift64* (Vigna 2016): 64-bit state, passes BigCrush in its high bits. */
static inline uint64_t nm_rng_next(struct nm_rng *g)
{
	uint64_t v = g->s;
	v ^= v >> 12;
	v ^= v << 25;
	v ^= v >> 27;
	g->s = v;
	return v * 0x2545f4914f6cdd1dull;
}

/*
 * The next skip for rate n (1..NM_SAMPLER_RATE_MAX): uniform over
 * [1, 2n-1], mean n, by multiply-shift of the high 32 bits (Lemire); the
 * bias of at most (2n-1) / 2^32 per value is far below anything a test
 * of 10^7 draws could see. n = 1 gives 1 (every packet).
 */
static inline uint32_t nm_sampler_skip(struct nm_rng *g, uint32_t n)
{
	uint64_t span = 2ull * n - 1;
	return (uint32_t)(1 + (((nm_rng_next(g) >> 32) * span) >> 32));
}

/* ---- per (port, worker) sampling state ---- */

struct nm_sampler_port {
	uint32_t rate;       /* N */
	uint32_t skip;       /* packets until the next sample, >= 1 */
	uint32_t if_index;   /* InIf, sFlow source ID */
	uint32_t flow_seq;   /* flow samples taken (sFlow sample sequence) */
	uint32_t ctr_seq;    /* counter samples sent */
	uint32_t pad_;
	uint64_t pool;       /* packets seen, samples included */
	uint64_t samples;
	uint64_t drops;      /* samples lost: malformed chain, or record lost with its batch */
};

void nm_sampler_port_init(struct nm_sampler_port *sp, uint32_t rate, uint32_t if_index,
			  struct nm_rng *g);

/*
 * A burst of n packets on a port: returns how many packets to pass over
 * before the next sample is due within the burst (0..n-1), or n when none
 * is. The caller takes packet k = the return value, calls
 * nm_sampler_taken(), and asks again for the rest of the burst. This is the
 * hot path: one subtraction and one compare per burst when nothing is due.
 */
static inline uint32_t nm_sampler_due(struct nm_sampler_port *sp, uint32_t n)
{
	if (sp->skip > n) {
		sp->skip -= n;
		sp->pool += n;
		return n;
	}
	uint32_t k = sp->skip - 1;
	sp->pool += sp->skip; /* packets up to and including the sampled one */
	sp->skip = 0;
	return k;
}

/* The due packet was taken: counts it and draws the next skip. */
static inline void nm_sampler_taken(struct nm_sampler_port *sp, struct nm_rng *g)
{
	sp->samples++;
	sp->flow_seq++;
	sp->skip = nm_sampler_skip(g, sp->rate);
}

/*
 * The flow record of a sampled frame: frame holds caplen bytes of a frame
 * of frame_len bytes (caplen <= frame_len), walked by the one header parser
 * (decoders/hdr.c). f is cleared first. Returns the parser's outcome.
 */
enum nm_hdr_res nm_sampler_record(const struct nm_cfg_sampler *cfg,
				  const struct nm_sampler_port *sp, uint32_t sub_agent,
				  const uint8_t *frame, uint32_t caplen, uint32_t frame_len,
				  uint64_t now_ns, struct nm_flow *f);

/* ---- sFlow v5 agent ---- */

/* Generic interface counters (sFlow counter record 1) of a port. */
struct nm_sampler_ifctr {
	uint64_t speed;            /* bits/s, 0 unknown */
	uint32_t direction;        /* 1 full duplex, 2 half, 0 unknown */
	uint32_t status;           /* bit 0 admin up, bit 1 oper up */
	uint64_t in_octets, out_octets;
	uint32_t in_ucast, in_mcast, in_bcast, in_discards, in_errors, in_unknown;
	uint32_t out_ucast, out_mcast, out_bcast, out_discards, out_errors;
	uint32_t promisc;
};

struct nm_sflow_agent {
	const struct nm_cfg_sampler *cfg;
	uint32_t sub_agent;
	uint32_t seq;              /* datagrams sent */
	uint32_t nsamples;         /* samples in buf */
	uint32_t hdr_len;          /* bytes of the datagram header */
	uint32_t len;              /* bytes in buf */
	uint64_t boot_ns;          /* uptime origin */
	uint64_t first_ns;         /* when the oldest sample in buf was added */
	/* Sends one datagram; false when it could not: counted in send_failed
	 * (SFLOW_SEND_FAILED) and samples_lost, never in a port's drops (those
	 * are samples lost before the agent, see nm_sampler_port). */
	bool (*send)(void *ctx, const uint8_t *p, size_t len);
	void *send_ctx;
	uint64_t datagrams, send_failed, samples_lost;
	uint8_t buf[NM_SFLOW_DGRAM_MAX];
};

void nm_sflow_agent_init(struct nm_sflow_agent *a, const struct nm_cfg_sampler *cfg,
			 uint32_t sub_agent, uint64_t boot_ns,
			 bool (*send)(void *ctx, const uint8_t *p, size_t len), void *ctx);

/* Adds a flow sample of the packet just taken on sp (after
 * nm_sampler_taken), sending the datagram first when it would not fit. */
void nm_sflow_agent_flow(struct nm_sflow_agent *a, const struct nm_sampler_port *sp,
			 const uint8_t *frame, uint32_t caplen, uint32_t frame_len,
			 uint64_t now_ns);

/* Adds a counter sample of port sp (its ctr_seq is advanced). */
void nm_sflow_agent_counters(struct nm_sflow_agent *a, struct nm_sampler_port *sp,
			     const struct nm_sampler_ifctr *c, uint64_t now_ns);

/* Sends what buf holds (nothing when empty). */
void nm_sflow_agent_flush(struct nm_sflow_agent *a, uint64_t now_ns);

/*
 * A UDP socket towards the configured collectors: nm_sflow_out_send() is
 * the agent's send callback (one sendto per collector; true when every
 * collector's sendto took the datagram). Returns NULL with a message.
 */
struct nm_sflow_out;
struct nm_sflow_out *nm_sflow_out_open(const struct nm_cfg_sampler *cfg, char *err,
				       size_t errlen);
bool nm_sflow_out_send(void *out, const uint8_t *p, size_t len);
void nm_sflow_out_close(struct nm_sflow_out *o);

/* Parses "host:port" / "[v6]:port" into a sockaddr (storage of at least
 * sizeof(struct sockaddr_in6)); 0 or -1. */
int nm_sampler_parse_hostport(const char *s, void *sa, uint32_t *salen);

#endif
