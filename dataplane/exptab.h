/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_exptab: one worker's per-exporter counters for the metrics
 * endpoint, keyed by (datagram source address, observation domain,
 * protocol). The domain is read from the export header: NetFlow v9 source
 * ID, IPFIX observation domain, NetFlow v5 engine type << 8 | engine ID,
 * sFlow sub-agent ID.
 *
 * The table is sized once (2 x cap slots, open addressing) and never
 * grows: an exporter that finds no slot (cap reached, or a probe run of
 * NM_EXPTAB_PROBES) is counted in `untracked`, nothing else. So a flood of
 * spoofed source addresses costs a bounded amount of memory and time.
 *
 * Single writer (the worker); readers (the metrics thread) see a slot once
 * its `used` flag is set (release, after the key), and its counters with
 * relaxed loads. Slots are never reused while the collector runs.
 */
#ifndef NM_EXPTAB_H
#define NM_EXPTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

/* Slots looked at before an exporter is counted untracked. */
#define NM_EXPTAB_PROBES 32

struct nm_exptab_slot {
	/* key: written before `used` is set, never changed afterwards */
	struct nm_addr addr;
	uint32_t domain;
	uint8_t proto; /* enum nm_flow_type */
	_Atomic uint32_t used; /* release store after the key; acquire load by readers */
	_Atomic uint64_t datagrams;
	_Atomic uint64_t records;
	_Atomic uint64_t last_ns;   /* receive time of the last datagram, ns since the epoch */
	_Atomic uint64_t rate;      /* sampling rate of its last record (0 = unknown) */
	_Atomic uint64_t seq_lost;  /* from the decoder's exporter state (publish) */
	_Atomic uint64_t templates; /* idem */
	/* worker only: sums while publishing */
	uint64_t acc_lost, acc_tmpl;
};

struct nm_exptab {
	struct nm_exptab_slot *slot;
	uint32_t mask;
	uint32_t cap;           /* at most this many slots used */
	uint32_t nused;         /* worker only */
	uint64_t seed;
	_Atomic uint64_t untracked; /* datagrams of exporters beyond the cap */
	_Atomic uint32_t used_pub;  /* nused, for readers */
	struct nm_exptab_slot *last; /* the previous datagram's slot (worker only) */
};

/* Bytes nm_exptab_init allocates for cap exporters. */
size_t nm_exptab_mem_bytes(uint32_t cap);

/* Allocates room for cap exporters (1..65536: 2 x cap slots of ~100 bytes). 0, or -1 (out of memory). */
int nm_exptab_init(struct nm_exptab *t, uint32_t cap, uint64_t seed);
void nm_exptab_free(struct nm_exptab *t);

/*
 * One datagram of the exporter at src: payload p[0..len-1] (for the
 * protocol and domain), records the decoder produced for it, the sampling
 * rate of its last record when records > 0. Worker only.
 */
void nm_exptab_note(struct nm_exptab *t, const struct nm_addr *src, const uint8_t *p, size_t len,
		    uint64_t records, uint64_t rate, uint64_t now_ns);

/* Copies the decoder's per-exporter sequence loss and template counts into
 * the matching slots. Worker only (it reads the worker's decoder). */
void nm_exptab_sync(struct nm_exptab *t, const struct nm_decoder *d);

/* Protocol name of a slot ("ipfix", "netflow_v9", "netflow_v5", "sflow"). */
const char *nm_exptab_proto_name(uint8_t proto);

#endif
