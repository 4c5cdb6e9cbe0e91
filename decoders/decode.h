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
	/*
	 * Admission (DESIGN-NOTES.md, "Template floods"): a new v9/IPFIX
	 * exporter entry, and a new template of an exporter none of whose
	 * templates has decoded data yet, each take one token from a bucket
	 * of its source address (the fuller of two picked by seeded hashes
	 * among NM_ADMIT_SOURCES) and one from the decoder's. Rates are per
	 * second (0 = unlimited), bursts the tokens a bucket holds (at least 1
	 * when its rate is set). An address alone on its two buckets can draw
	 * up to twice the source rate.
	 */
	uint32_t admit_source_rate;  /* default 16 */
	uint32_t admit_source_burst; /* default 64 */
	uint32_t admit_global_rate;  /* default 2048 */
	uint32_t admit_global_burst; /* default 4096 */
};

/* Token buckets of source addresses (a seeded hash picks one). */
#define NM_ADMIT_SOURCES 4096

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

/* Forgets every static sampling rate (a reload replaces them): the table
 * and what known exporters took from it. */
void nm_decoder_clear_static_rates(struct nm_decoder *d);

/* Looks the static rates up again for every known exporter (after a
 * reload changed them); new exporters look them up anyway. */
void nm_decoder_refresh_static_rates(struct nm_decoder *d);

const struct nm_decode_stats *nm_decoder_stats(const struct nm_decoder *d);

/* One exporter's state, for metrics (per-exporter loss counters). */
struct nm_exporter_info {
	struct nm_addr addr;   /* exporter address (sFlow: agent address) */
	uint32_t domain;       /* observation domain / source ID / engine; sFlow: 0 or source ID */
	uint32_t sub_agent;    /* sFlow sub-agent ID */
	uint16_t port;         /* UDP source port (0 for sFlow) */
	uint8_t kind;          /* 5, 9, 10; sFlow 0x50 datagrams, 0x51 flow, 0x52 counter, 0x53 drop samples */
	uint32_t templates;
	bool proven;           /* v9/IPFIX: one of its templates decoded data; others: always */
	uint64_t seq_gaps;
	uint64_t seq_lost;
	uint64_t seq_resets;
};

/*
 * State that survives a restart (DESIGN-NOTES.md, "State across restarts"):
 * exporters (sequence state, sampling rates from options data, loss
 * counters) and their templates as compiled. The caller writes the bytes
 * to a file (atomically: write, fsync, rename) and reads them back.
 */
#define NM_STATE_ERRORS(X)                                                                   \
	X(OK, "state loaded")                                                                \
	X(SHORT, "state file shorter than its header or than the length it states")         \
	X(MAGIC, "not a NetMeta decoder state file")                                         \
	X(VERSION, "state file of another format or another build (template layout differs)") \
	X(CHECKSUM, "state file damaged: checksum mismatch")                                 \
	X(FUTURE, "state file saved more than a minute ahead of this clock")                 \
	X(TOO_OLD, "state file older than the age limit")                                    \
	X(CORRUPT, "state file inconsistent (counts, lengths or a template op)")             \
	X(NOT_EMPTY, "decoder already holds exporters: state loads into a fresh decoder only")

enum nm_state_err {
#define NM_X_(name, msg) NM_STATE_##name,
	NM_STATE_ERRORS(NM_X_)
#undef NM_X_
	NM_STATE__COUNT
};

const char *nm_state_err_message(enum nm_state_err e);

/* Bytes nm_decoder_state_save() writes for d as it is now. */
size_t nm_decoder_state_size(const struct nm_decoder *d);

/* Writes d's state, stamped now_ns (receive clock), into buf. Returns the
 * bytes written, or 0 when cap < nm_decoder_state_size(d). Read-only on d:
 * call it from the thread that owns d. */
size_t nm_decoder_state_save(const struct nm_decoder *d, uint64_t now_ns, void *buf, size_t cap);

/* What a load brought in, and what did not fit this decoder's caps. */
struct nm_state_info {
	uint64_t saved_ns;
	uint32_t exporters, templates;
	uint32_t exporters_skipped, templates_skipped;
};

/*
 * Loads a state written by nm_decoder_state_save() into d, freshly made by
 * nm_decoder_init() (static rates set before, so loaded exporters get
 * theirs). A file older than max_age_ns (0: no limit), damaged, or of
 * another format or build is refused with its reason and d stays empty;
 * entries beyond d's caps are skipped (counted in info, which may be NULL).
 * The decode counters are not changed.
 */
enum nm_state_err nm_decoder_state_load(struct nm_decoder *d, const void *buf, size_t len,
					uint64_t now_ns, uint64_t max_age_ns,
					struct nm_state_info *info);

/* Calls fn for every live exporter entry; stops early when fn returns non-zero. */
void nm_decoder_exporter_foreach(const struct nm_decoder *d,
				 int (*fn)(const struct nm_exporter_info *e, void *ctx), void *ctx);

/* Live entries, for tests and metrics. */
uint32_t nm_decoder_exporter_count(const struct nm_decoder *d);
uint32_t nm_decoder_template_count(const struct nm_decoder *d);

#endif
