/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixture for the sFlow and packet-section tests: one decoder in its own
 * memory block, a flow batch, a counter batch (set on the decoder), the
 * metadata of the datagram being received and a builder.
 *
 * nm_sft_setup()/nm_sft_teardown() are cmocka fixtures; the teardown fails
 * the test when the accounting identity
 *   datagrams == datagrams_ok + sum over fatal errors of err[e]
 * (decode_err.h) does not hold.
 */
#ifndef NM_SFTEST_H
#define NM_SFTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "sfbuild.h"

#define NM_SFT_RECS 64
#define NM_SFT_CTRS 16
/* Receive time: 2023-11-14T22:13:20Z. */
#define NM_SFT_NOW_S 1700000000u
#define NM_SFT_NS 1000000000ull

struct nm_sft {
	struct nm_decode_cfg cfg;
	void *mem;
	struct nm_decoder *d;
	struct nm_flow recs[NM_SFT_RECS];
	struct nm_flow_batch b;
	struct nm_ctr ctrs[NM_SFT_CTRS];
	struct nm_ctr_batch cb;
	struct nm_pkt_meta m;
	struct nm_sb sb;
};

/* A decoder with a counter batch, datagrams from 192.0.2.99:6343. */
struct nm_sft *nm_sft_new(void);
/* The same with cfg (NULL: defaults with 256 exporters and 256 templates). */
struct nm_sft *nm_sft_new_cfg(const struct nm_decode_cfg *cfg);
void nm_sft_free(struct nm_sft *t);

/* cmocka fixtures: *state is a struct nm_sft. */
int nm_sft_setup(void **state);
int nm_sft_teardown(void **state);

/* Decodes t->sb (the batches are not cleared first). */
enum nm_err nm_sft_sflow(struct nm_sft *t);
enum nm_err nm_sft_ipfix(struct nm_sft *t);

uint64_t nm_sft_err(const struct nm_sft *t, enum nm_err e);
uint64_t nm_sft_ev(const struct nm_sft *t, enum nm_ev e);
/* Sum of err[] over the fatal errors. */
uint64_t nm_sft_fatal(const struct nm_decoder *d);
bool nm_sft_identity_ok(const struct nm_decoder *d);

/* Formats a for assertions (static buffers: at most 4 at once). */
const char *nm_sft_addr(const struct nm_addr *a);

#define NM_SFT(state) ((struct nm_sft *)*(state))
#define assert_addr(a, s) assert_string_equal(nm_sft_addr(a), (s))
#define assert_identity(t) assert_true(nm_sft_identity_ok((t)->d))

#endif
