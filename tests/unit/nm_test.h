/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared fixture for the decoder unit tests: one decoder in its own memory
 * block, one output batch, the metadata of "the datagram being received"
 * and a packet builder. Tests change t->m (exporter address, port, receive
 * time) to play different exporters.
 *
 * nm_t_setup()/nm_t_teardown() are cmocka fixtures; the teardown fails the
 * test when the accounting identity
 *   datagrams == datagrams_ok + sum over fatal errors of err[e]
 * (decode_err.h) does not hold.
 */
#ifndef NM_TEST_H
#define NM_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "pktbuild.h"

#define NM_T_RECS 512
/* Default receive time: 2023-11-14T22:13:20Z. */
#define NM_T_NOW_S 1700000000u
#define NM_T_NS 1000000000ull
#define NM_T_MS 1000000ull

struct nm_t {
	struct nm_decode_cfg cfg;
	void *mem;
	struct nm_decoder *d;
	struct nm_flow recs[NM_T_RECS];
	struct nm_flow_batch b;
	struct nm_pkt_meta m;
	struct nm_pb pb;
};

/* The fixture configuration: defaults, smaller tables (fast set-up). */
void nm_t_cfg(struct nm_decode_cfg *c);

/* A decoder for cfg (NULL: nm_t_cfg()), exporter 192.0.2.1:2055 at NM_T_NOW_S. */
struct nm_t *nm_t_new(const struct nm_decode_cfg *cfg);
void nm_t_free(struct nm_t *t);

/* cmocka fixtures: *state is a struct nm_t. */
int nm_t_setup(void **state);
int nm_t_teardown(void **state);
/*
 * Replaces the fixture's decoder by one for cfg (NULL: nm_t_cfg()) and
 * returns it; the teardown frees it even when an assertion fails.
 */
struct nm_t *nm_t_reset(void **state, const struct nm_decode_cfg *cfg);

/* Sets the sending exporter (IPv4) and UDP source port. */
void nm_t_from(struct nm_t *t, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
/* Sets the receive time, in seconds since the epoch. */
void nm_t_at(struct nm_t *t, uint64_t secs);

/* Empties the batch (records decoded so far are forgotten). */
void nm_t_clear(struct nm_t *t);

/* Decode t->pb with one decoder; the batch is not cleared first. */
enum nm_err nm_t_v5(struct nm_t *t);
enum nm_err nm_t_v9(struct nm_t *t);
enum nm_err nm_t_ipfix(struct nm_t *t);
enum nm_err nm_t_any(struct nm_t *t);

uint64_t nm_t_err(const struct nm_t *t, enum nm_err e);
uint64_t nm_t_ev(const struct nm_t *t, enum nm_ev e);
/* Sum of err[] over every error (fatal or not). */
uint64_t nm_t_err_total(const struct nm_t *t);

/* true when the accounting identity holds for d. */
bool nm_t_identity_ok(const struct nm_decoder *d);

/* Formats a for assertions (static buffer per call slot: use at most 4 at once). */
const char *nm_t_addr(const struct nm_addr *a);

#define NM_T(state) ((struct nm_t *)*(state))

/* Asserts the address a formats as the string s. */
#define assert_addr(a, s) assert_string_equal(nm_t_addr(a), (s))
/* Asserts the accounting identity. */
#define assert_identity(t) assert_true(nm_t_identity_ok((t)->d))

#endif
