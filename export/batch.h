/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_batch: what a producer (a worker) hands to the sink thread over
 * an SPSC ring (ring.h), and gets back empty over a second one. A batch is
 * allocated once, with room for `cap` records of either kind, and only its
 * header changes hands: whoever popped it last owns it.
 */
#ifndef NM_BATCH_H
#define NM_BATCH_H

#include <stdint.h>

enum nm_batch_kind { NM_BATCH_FLOWS, NM_BATCH_COUNTERS };

struct nm_batch {
	uint32_t kind;   /* enum nm_batch_kind */
	uint32_t n;      /* records in use, n <= cap */
	uint32_t cap;
	uint32_t worker; /* producer index (the worker's id) */
	void *recs;      /* struct nm_flow[cap] or struct nm_ctr[cap] */
};

#endif
