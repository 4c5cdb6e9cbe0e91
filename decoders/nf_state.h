/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal: the decoder's state (exporters, template pool, samplers) and the
 * compiled template form the record engine runs. Not a public header.
 */
#ifndef NM_NF_STATE_H
#define NM_NF_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "htab.h"

#define NM_NIL UINT32_MAX
#define NM_VARLEN 0xffffu
/* Direct-mapped cache of per-source entries kept in an sFlow agent entry. */
#define NM_SUB_CACHE 256

/* Operation kinds of a compiled template field. */
enum nm_op_kind {
	NM_OP_END = 0,    /* ends the op list */
	NM_OP_SKIP,   /* skip len bytes (consecutive fixed skips are merged) */
	NM_OP_UINT,       /* big-endian unsigned of 1..8 bytes into flow+dst (arg = 4|8) */
	NM_OP_UINT_IFZERO, /* same, only where the destination is still 0 */
	NM_OP_ADDR4,      /* 4 bytes into an nm_addr at flow+dst, IPv4-mapped */
	NM_OP_ADDR6,      /* 16 bytes into an nm_addr at flow+dst */
	NM_OP_MAC,        /* 6 bytes into a uint64 at flow+dst */
	NM_OP_MAC_IFZERO,
	NM_OP_IPVER,      /* IE 60: 4/6 -> Etype */
	NM_OP_ICMP_TC,    /* IE 32/139: type << 8 | code */
	NM_OP_MPLS,       /* IE 70..79: arg = stack position */
	NM_OP_WORK,       /* unsigned into work->v[arg] (times, sampling, ...) */
	NM_OP_SECTION,    /* IE 313/315 packet section through the header parser (arg = start) */
	/* NM_OP_UINT specialised by source and destination width at compile
	 * time, so the common fields cost one dispatch and one load. */
	NM_OP_U8_32,
	NM_OP_U16_32,
	NM_OP_U32_32,
	NM_OP_U32_64,
	NM_OP_U64_64,
	NM_OP_ADDR4_NZ,   /* as ADDR4, but 0.0.0.0 means none: the field stays :: */
};

/* Indexes of struct nm_rec_work.v, filled by NM_OP_WORK. */
enum nm_work_slot {
	NM_W_UP_START,   /* IE 22 flowStartSysUpTime (ms) */
	NM_W_UP_END,     /* IE 21 flowEndSysUpTime (ms) */
	NM_W_SEC_START,  /* IE 150 */
	NM_W_SEC_END,    /* IE 151 */
	NM_W_MS_START,   /* IE 152 */
	NM_W_MS_END,     /* IE 153 */
	NM_W_NTP_START,  /* IE 154, 156 (NTP 64-bit timestamp) */
	NM_W_NTP_END,    /* IE 155, 157 */
	NM_W_DUS_START,  /* IE 158 flowStartDeltaMicroseconds */
	NM_W_DUS_END,    /* IE 159 */
	NM_W_SYSINIT,    /* IE 160 systemInitTimeMilliseconds */
	NM_W_DUR_MS,     /* IE 161 flowDurationMilliseconds */
	NM_W_DUR_US,     /* IE 162 flowDurationMicroseconds */
	NM_W_SAMPLER_ID, /* IE 48, 302 */
	NM_W_INTERVAL,   /* IE 34 samplingInterval */
	NM_W_RAND_INTERVAL, /* IE 50 samplerRandomInterval */
	NM_W_PKT_INTERVAL,  /* IE 305 samplingPacketInterval */
	NM_W_PKT_SPACE,     /* IE 306 samplingPacketSpace */
	NM_W_SAMPLE_SIZE,   /* IE 309 samplingSize */
	NM_W_SAMPLE_POP,    /* IE 310 samplingPopulation */
	NM_W__COUNT
};

struct nm_tmpl_op {
	uint16_t len;  /* bytes, or NM_VARLEN */
	uint8_t kind;  /* enum nm_op_kind */
	uint8_t arg;
	uint16_t dst;  /* offset in struct nm_flow */
	uint16_t off;  /* offset in the record (fixed-length templates only) */
};

struct nm_tmpl {
	uint64_t fp;      /* fingerprint of the template record's field list */
	uint64_t last_ns; /* last time it was defined or re-sent */
	uint64_t used_ns; /* last time it decoded data (valid when used) */
	uint32_t exp;     /* owning exporter slot */
	uint32_t next;    /* next template of the same exporter, NM_NIL ends */
	uint32_t hash;
	uint16_t id;
	uint16_t nops;
	uint16_t min_len; /* minimum record length */
	uint16_t fix_len; /* record length when no field is variable, else 0 */
	uint32_t wmask;   /* work slots (enum nm_work_slot) the records fill */
	uint16_t etype;   /* Etype implied by the address fields, 0 = none */
	uint8_t options;
	uint8_t in_use;
	uint8_t used;     /* has decoded data: off the unused list */
	uint8_t sorted;   /* ops grouped by kind for the fast record loop (netflow.c) */
	uint8_t fin_read; /* finishing a record reads Etype/VLAN back (netflow.c) */
	uint8_t pad_[1];
	uint32_t uprev;   /* unused list (oldest first), NM_NIL ends */
	uint32_t unext;
	struct nm_tmpl_op ops[];
};

struct nm_sampler {
	uint64_t id;
	uint64_t rate;
};

/* A configured sampling rate (nm_decoder_set_static_rate()): it fills in
 * where the export states none, or with override replaces what it states.
 * rate 0 = none. */
struct nm_rate_rule {
	uint64_t rate;
	bool override;
};

struct nm_exporter {
	struct nm_addr addr;
	uint32_t domain;
	uint32_t sub;
	uint16_t port;
	uint8_t version;
	uint8_t in_use;
	uint32_t hash;
	uint32_t tmpl_head;
	uint32_t ntmpl;
	uint32_t seq_next;
	uint32_t last_tmpl;   /* slot of the last template used: skips the hash */
	uint64_t last_ns;
	uint64_t sys_init_ms; /* from IE 160 in options data; 0 = unknown */
	uint64_t default_rate; /* from options data without a sampler ID */
	struct nm_rate_rule static_rate; /* looked up once, when the entry is made */
	uint64_t seq_gaps;    /* per-exporter loss counters */
	uint64_t seq_lost;
	uint64_t seq_resets;
	uint32_t sub_cache[NM_SUB_CACHE]; /* sFlow agent entry: per-source entries (slot or NM_NIL) */
	uint8_t seq_valid;
	uint8_t seq_uncounted; /* a data set of this IPFIX message could not be decoded */
	uint8_t nsamplers;
	uint8_t sampler_rr;
	uint8_t proven;        /* decoded data (v9/IPFIX), or carries data itself (v5, sFlow) */
	uint8_t pad_;
	uint16_t rec_min;      /* smallest flow record length it ever defined; 0 = none */
	uint32_t pprev;        /* unproven list (oldest first), NM_NIL ends */
	uint32_t pnext;
	struct nm_sampler samplers[NM_SAMPLERS_MAX];
};

struct nm_decoder {
	struct nm_decode_cfg cfg;
	struct nm_decode_stats stats;
	struct nm_exporter *exp;
	struct nm_htab exp_idx;
	uint8_t *tmpl_mem;
	size_t tmpl_stride;
	struct nm_htab tmpl_idx;
	uint32_t nexp;
	uint32_t ntmpl;
	uint32_t exp_cursor;  /* rotating start for eviction candidates */
	uint32_t tmpl_cursor;
	uint32_t tmpl_fresh;    /* template slots never used so far */
	uint32_t tmpl_freelist; /* freed template slots, chained through next */
	uint32_t exp_fresh;     /* exporter slots never used so far */
	/* Eviction order (DESIGN-NOTES.md, "Template floods"): templates that
	 * never decoded data go first, oldest first; then exporters that never
	 * did. Both lists are intrusive (O(1) link and unlink). */
	uint32_t unused_head, unused_tail;
	uint32_t unproven_head, unproven_tail;
	uint16_t rec_min_used;  /* smallest record length of a template that decoded data */
	uint64_t admit_tat;     /* global bucket: theoretical arrival time (GCRA) */
	uint64_t *admit_src;    /* NM_ADMIT_SOURCES source buckets, the same */
	struct nm_ctr_batch *ctr_batch; /* where sFlow counter records go */
	struct nm_static_rate { struct nm_addr addr; struct nm_rate_rule rule; }
		static_rates[NM_STATIC_RATES_MAX];
	uint32_t nstatic;
};

static inline struct nm_tmpl *nm_tmpl_at(struct nm_decoder *d, uint32_t i)
{
	return (struct nm_tmpl *)(void *)(d->tmpl_mem + (size_t)i * d->tmpl_stride);
}

static inline void nm_ev_inc(struct nm_decoder *d, enum nm_ev e)
{
	d->stats.ev[e]++;
}

static inline void nm_err_inc(struct nm_decoder *d, enum nm_err e)
{
	d->stats.err[e]++;
}

/* Counts a fatal error and returns it (the datagram is rejected). */
static inline enum nm_err nm_reject(struct nm_decoder *d, enum nm_err e)
{
	nm_err_inc(d, e);
	return e;
}

/* The per-datagram part of every record: type, receive time, exporter. */
static inline void nm_base_init(struct nm_flow *f, const struct nm_pkt_meta *m, enum nm_flow_type type,
			 uint32_t seq, uint32_t domain)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->time_received_ns = m->time_ns;
	f->time_received = m->time_ns / 1000000000ull;
	f->sampler_address = m->exporter;
	f->exporter_port = m->src_port;
	f->sequence_num = seq;
	f->observation_domain_id = domain;
}

/* Next free record of the batch, or NULL when it is full (after flush). */
static inline struct nm_flow *nm_batch_slot(struct nm_flow_batch *b)
{
	if (b->n >= b->cap) {
		if (b->flush)
			b->flush(b, b->flush_ctx);
		if (b->n >= b->cap)
			return NULL;
	}
	return &b->recs[b->n];
}

/* The rate a record gets: the export's (0 = unknown), or the configured one
 * where that fills in (the export says 0) or overrides. */
static inline uint64_t nm_rate_apply(const struct nm_rate_rule *r, uint64_t rate)
{
	if (r->rate && (rate == 0 || r->override))
		return r->rate;
	return rate;
}

uint64_t nm_hash64(uint64_t seed, const void *p, size_t n);

/* Finds or creates the exporter (v5, sFlow: proven from the start),
 * evicting when the table is full (counted): never NULL. */
struct nm_exporter *nm_exporter_get(struct nm_decoder *d, const struct nm_addr *addr,
				    uint16_t port, uint8_t version, uint32_t domain, uint32_t sub,
				    uint64_t now_ns);

/* The same for v9/IPFIX: a new entry starts unproven and must pass
 * admission (source and global rates); NULL when refused (counted in
 * EXPORTER_REFUSED_SOURCE or _GLOBAL). */
struct nm_exporter *nm_exporter_admit(struct nm_decoder *d, const struct nm_addr *addr,
				      uint16_t port, uint8_t version, uint32_t domain,
				      uint64_t now_ns);

/* Template slot ti of e has just decoded data at now_ns: it moves to the
 * back of the eviction order, and e is proven (counted once). */
void nm_tmpl_used(struct nm_decoder *d, struct nm_exporter *e, uint32_t ti, uint64_t now_ns);

/* A data set of len bytes whose template is unknown or expired: counts the
 * records it held (RECORDS_NO_TEMPLATE), estimated with the smallest record
 * length e ever defined (e may be NULL), else the smallest of a template
 * that decoded data, else one record. */
void nm_records_unknown(struct nm_decoder *d, const struct nm_exporter *e, size_t len);

/* Exporter table "versions" beside the export versions 5, 9 and 10: sFlow
 * keeps sequence state per (agent, sub-agent) and per (agent, sub-agent,
 * source ID) for flow, counter and drop samples. */
#define NM_EXP_SFLOW 0x50
#define NM_EXP_SFLOW_FLOWS 0x51
#define NM_EXP_SFLOW_CTRS 0x52
#define NM_EXP_SFLOW_DROPS 0x53

/* Looks a template up; NULL if unknown. Expired templates are freed and
 * reported through *expired. */
struct nm_tmpl *nm_tmpl_find(struct nm_decoder *d, struct nm_exporter *e, uint16_t id,
			     uint64_t now_ns, bool *expired);

/* Returns a template slot for (e, id) to be (re)filled: the existing one, or
 * a new one (evicting if needed). NULL when e is unproven and the new
 * template is refused by admission (counted in TMPL_REFUSED_*). */
struct nm_tmpl *nm_tmpl_slot(struct nm_decoder *d, struct nm_exporter *e, uint16_t id,
			     bool *existed);

/* A new slot for (e, id), which must not be in the cache: no admission,
 * evicting if needed (counted), on the never-used list. Never NULL. */
struct nm_tmpl *nm_tmpl_take(struct nm_decoder *d, struct nm_exporter *e, uint16_t id);

/* nm_exporter_get() / nm_exporter_admit() in one: admit = false creates a
 * proven entry without admission (never NULL). */
struct nm_exporter *nm_exporter_lookup(struct nm_decoder *d, const struct nm_addr *addr,
				       uint16_t port, uint8_t version, uint32_t domain,
				       uint32_t sub, uint64_t now_ns, bool admit);

/* Unproven list (nm_state_load restores an entry's place on it). */
void nm_unproven_link(struct nm_decoder *d, uint32_t ei);
void nm_unused_unlink(struct nm_decoder *d, uint32_t ti);

/* Whether a compiled op is one nm_compile_field() can produce with this
 * build's IE map (state files), and the fingerprint of that map, the flow
 * record layout and the op set: a state file made by a build where any of
 * them differ is refused. */
bool nm_tmpl_op_valid(const struct nm_tmpl_op *o);
uint64_t nm_tmpl_layout_fp(void);
/* Etype implied by the address ops of t (as compiled). */
uint16_t nm_tmpl_ops_etype(const struct nm_tmpl *t);

/* The last step of installing a template whose ops, nops, fix_len and etype
 * are set: groups a fixed template's ops by kind when the fast record loop
 * can run it (sorted), and whether finishing a record reads Etype/VLAN back
 * (fin_read). Installing from a datagram and loading a state file both end
 * here (netflow.c). */
void nm_tmpl_finish(struct nm_tmpl *t);

void nm_tmpl_remove(struct nm_decoder *d, struct nm_exporter *e, struct nm_tmpl *t);

/* Withdraws every template (options = -1), or only data (0) / options (1). */
void nm_tmpl_remove_all(struct nm_decoder *d, struct nm_exporter *e, int options);

/* Records a sampling rate for (exporter, sampler id); has_id = 0 for the
 * exporter-wide rate. */
void nm_sampler_learn(struct nm_decoder *d, struct nm_exporter *e, bool has_id, uint64_t id,
		      uint64_t rate);

/* Rate for a record naming sampler id (has_id) or none; 0 if unknown. */
uint64_t nm_sampler_rate(const struct nm_exporter *e, bool has_id, uint64_t id);

/* Sequence tracking: seq is the header's number, advance what the next
 * datagram's sequence should add (1 for v9, records for v5 and IPFIX). */
void nm_seq_track(struct nm_decoder *d, struct nm_exporter *e, uint32_t seq, uint32_t advance);
/* The same, counting into gap_ev, gap_ev + 1 (lost) and gap_ev + 2 (reset). */
void nm_seq_track_ev(struct nm_decoder *d, struct nm_exporter *e, uint32_t seq, uint32_t advance,
		     enum nm_ev gap_ev);

#endif
