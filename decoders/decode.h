/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow-export decoders: NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX
 * (RFC 7011), with the per-exporter state they need (templates, sampling
 * rates, sequence numbers) in one struct nm_decoder.
 *
 * A decoder is owned by one thread (one worker core); it never allocates,
 * logs or locks. Its memory comes from the caller in one block sized by
 * nm_decoder_mem_size(), so the dataplane can place it on the right NUMA node.
 *
 * State scope (RFC 7011 8.4): an "exporter" is (exporter address, UDP source
 * port, export version, observation domain / v9 source ID / v5 engine).
 * Templates are keyed by (exporter, template ID); sampling rates learned from
 * options data by (exporter, sampler or selector ID).
 */
#ifndef NM_DECODE_H
#define NM_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode_err.h"
#include "flow.h"

/* Hard upper bound on fields per template, whatever the configuration. */
#define NM_TMPL_FIELDS_MAX 512
/* Sampler entries kept per exporter. */
#define NM_SAMPLERS_MAX 8

struct nm_decode_cfg {
	uint32_t max_exporters;              /* exporter slots (default 4096) */
	uint32_t max_templates;              /* template slots, all exporters (default 16384) */
	uint32_t max_templates_per_exporter; /* default 1024 */
	uint32_t max_fields_per_template;    /* default 128, at most NM_TMPL_FIELDS_MAX */
	uint32_t template_lifetime_s;        /* 0 = never expire; default 0 */
	uint64_t hash_seed;                  /* seed for exporter/template hashing */
};

/* Fills the defaults above. */
void nm_decode_cfg_default(struct nm_decode_cfg *c);

/* Bytes nm_decoder_init() needs for cfg, or 0 if cfg is out of range. */
size_t nm_decoder_mem_size(const struct nm_decode_cfg *cfg);

struct nm_decoder;

/*
 * Lays a decoder out in mem (len bytes, 8-byte aligned, any contents).
 * Returns the decoder (== mem) or NULL if len < nm_decoder_mem_size(cfg) or
 * cfg is out of range.
 */
struct nm_decoder *nm_decoder_init(void *mem, size_t len, const struct nm_decode_cfg *cfg);

/*
 * Forgets everything learned from traffic (exporters, templates, sampling
 * rates, sequence state) and zeroes the statistics, as nm_decoder_init() on
 * the same memory and configuration would; keeps the configuration, the
 * static rates (nm_decoder_set_static_rate()) and the counter batch.
 * Costs time in the exporter and template slots taken since init or the
 * last reset, not in the configured capacity: index entries are removed one
 * by one, and slots are initialised when taken again.
 */
void nm_decoder_reset(struct nm_decoder *d);

/* What the caller knows about a datagram beyond its payload. */
struct nm_pkt_meta {
	struct nm_addr exporter; /* source address of the datagram */
	uint16_t src_port;       /* UDP source port */
	uint64_t time_ns;        /* receive time, ns since the epoch */
};

/*
 * Each decode function takes one UDP payload and appends one struct nm_flow
 * per flow record to b. Returns NM_ERR_OK or the fatal error that rejected
 * the datagram (counted in the stats; records from sets before the error
 * stay in b). Non-fatal problems are counted and skipped.
 */
enum nm_err nm_decode_netflow_v5(struct nm_decoder *d, const struct nm_pkt_meta *m,
				 const uint8_t *p, size_t len, struct nm_flow_batch *b);
enum nm_err nm_decode_netflow_v9(struct nm_decoder *d, const struct nm_pkt_meta *m,
				 const uint8_t *p, size_t len, struct nm_flow_batch *b);
enum nm_err nm_decode_ipfix(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			    size_t len, struct nm_flow_batch *b);
/* sFlow v5: flow and discarded-packet samples go to b, interface counter
 * samples to the batch set with nm_decoder_set_ctr_batch() (without one they
 * are counted in NM_ERR_CTR_BATCH_FULL). */
enum nm_err nm_decode_sflow(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			    size_t len, struct nm_flow_batch *b);

/* Sets (or clears, with NULL) the batch sFlow counter records go to. */
void nm_decoder_set_ctr_batch(struct nm_decoder *d, struct nm_ctr_batch *cb);

/*
 * Recognises the protocol from the payload itself (the export version in
 * the first bytes; sFlow's 32-bit version 5) and decodes it. Returns
 * NM_ERR_BAD_VERSION for anything else.
 */
enum nm_err nm_decode_any(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			  size_t len, struct nm_flow_batch *b);

/* Which protocol nm_decode_any() would pick, as an nm_flow_type. */
enum nm_flow_type nm_decode_sniff(const uint8_t *p, size_t len);

/* Static sampling rates (config `sampling_rates`, one per exporter address;
 * DESIGN-NOTES.md, "Sampling rate"), at most: */
#define NM_STATIC_RATES_MAX 256

/*
 * Gives the exporter at addr (any port, version, domain; sFlow: the agent
 * address) a sampling rate: it fills in where the export states none
 * (SamplingRate would be 0), or, with override, replaces what the export
 * states. Takes effect for exporters first seen afterwards: call it before
 * decoding. Returns 0, or -1 when NM_STATIC_RATES_MAX entries are set.
 */
int nm_decoder_set_static_rate(struct nm_decoder *d, const struct nm_addr *addr, uint64_t rate,
			       bool override);

const struct nm_decode_stats *nm_decoder_stats(const struct nm_decoder *d);

/* One exporter's state, for metrics (per-exporter loss counters). */
struct nm_exporter_info {
	struct nm_addr addr;   /* exporter address (sFlow: agent address) */
	uint32_t domain;       /* observation domain / source ID / engine; sFlow: 0 or source ID */
	uint32_t sub_agent;    /* sFlow sub-agent ID */
	uint16_t port;         /* UDP source port (0 for sFlow) */
	uint8_t kind;          /* 5, 9, 10; sFlow 0x50 datagrams, 0x51 flow, 0x52 counter, 0x53 drop samples */
	uint32_t templates;
	uint64_t seq_gaps;
	uint64_t seq_lost;
	uint64_t seq_resets;
};

/* Calls fn for every live exporter entry; stops early when fn returns non-zero. */
void nm_decoder_exporter_foreach(const struct nm_decoder *d,
				 int (*fn)(const struct nm_exporter_info *e, void *ctx), void *ctx);

/* Live entries, for tests and metrics. */
uint32_t nm_decoder_exporter_count(const struct nm_decoder *d);
uint32_t nm_decoder_template_count(const struct nm_decoder *d);

#endif
