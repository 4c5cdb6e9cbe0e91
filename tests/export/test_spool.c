/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The disk spool on its own (export/spool.c): the order of replay.
 *
 * - Messages replay in the order they were put, across segments, and a
 *   reopened spool replays what was not marked done, in the same order.
 * - A replay that fails stays in its place: after a rewind the spool is
 *   read again from it, skipping what was delivered meanwhile; its
 *   segment is not removed while it is live.
 * - Late lanes replay before every message put on the tail after they were
 *   opened (lane 1, then lane 2, then the tail), and replay waits while the
 *   lanes are open.
 * - The try-tail put does not count a full quota; the plain put does.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

static char nm_dir[256];

static int nm_setup(void **state)
{
	(void)state;
	snprintf(nm_dir, sizeof(nm_dir), "/tmp/nm-test-spool-XXXXXX");
	return mkdtemp(nm_dir) ? 0 : -1;
}

static int nm_teardown(void **state)
{
	(void)state;
	DIR *dp = opendir(nm_dir);
	if (dp) {
		struct dirent *e;
		while ((e = readdir(dp)) != NULL) {
			char p[600];
			snprintf(p, sizeof(p), "%s/%s", nm_dir, e->d_name);
			if (e->d_name[0] != '.')
				unlink(p);
		}
		closedir(dp);
	}
	rmdir(nm_dir);
	return 0;
}

static void nm_open(struct nm_spool *sp, uint64_t quota)
{
	char err[256];
	assert_int_equal(nm_spool_open(sp, nm_dir, quota, err, sizeof(err)), 0);
}

/* A message whose 4 first bytes say which it is. */
static void nm_put(struct nm_spool *sp, int lane, uint32_t id)
{
	uint8_t m[64];
	memset(m, (int)(id & 0xff), sizeof(m));
	memcpy(m, &id, 4);
	assert_int_equal(nm_spool_put_lane(sp, lane, m, sizeof(m), id % 7 + 1, NULL), 0);
}

/* The next message's id, or -1; *token set. */
static int64_t nm_next(struct nm_spool *sp, uint64_t *token)
{
	void *msg;
	size_t len;
	uint32_t records, id;
	uint8_t key[16];
	int has_key;
	if (!nm_spool_next(sp, &msg, &len, &records, token, key, &has_key))
		return -1;
	assert_int_equal(len, 64);
	memcpy(&id, msg, 4);
	assert_int_equal(records, id % 7 + 1);
	free(msg);
	return id;
}

/* Replays everything, marking each done; the ids in order into out. */
static size_t nm_drain(struct nm_spool *sp, uint32_t *out, size_t cap)
{
	size_t n = 0;
	uint64_t tok;
	int64_t id;
	while ((id = nm_next(sp, &tok)) >= 0) {
		assert_true(n < cap);
		out[n++] = (uint32_t)id;
		nm_spool_done(sp, tok);
	}
	return n;
}

static void test_order_and_reopen(void **state)
{
	(void)state;
	struct nm_spool sp;
	nm_open(&sp, 1ull << 30);
	for (uint32_t i = 1; i <= 10; i++)
		nm_put(&sp, NM_LANE_TAIL, i);
	uint64_t tok[3];
	assert_int_equal(nm_next(&sp, &tok[0]), 1);
	assert_int_equal(nm_next(&sp, &tok[1]), 2);
	nm_spool_done(&sp, tok[0]);
	nm_spool_done(&sp, tok[1]);
	nm_spool_close(&sp);
	/* a restart replays 3..10, in order */
	nm_open(&sp, 1ull << 30);
	assert_true(nm_spool_pending(&sp));
	uint32_t got[16];
	size_t n = nm_drain(&sp, got, 16);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], i + 3);
	assert_false(nm_spool_pending(&sp));
	assert_int_equal(sp.bytes, 0);
	nm_spool_close(&sp);
}

static void test_failed_replay_keeps_place(void **state)
{
	(void)state;
	struct nm_spool sp;
	nm_open(&sp, 1ull << 30);
	for (uint32_t i = 1; i <= 6; i++)
		nm_put(&sp, NM_LANE_TAIL, i);
	uint64_t tok[6];
	for (int i = 0; i < 6; i++)
		assert_int_equal(nm_next(&sp, &tok[i]), i + 1);
	/* 1 delivered, 2 failed, 3 delivered, 4..6 failed */
	nm_spool_done(&sp, tok[0]);
	nm_spool_failed(&sp, tok[1], 3);
	nm_spool_done(&sp, tok[2]);
	for (int i = 3; i < 6; i++)
		nm_spool_failed(&sp, tok[i], (uint32_t)(i + 1) % 7 + 1);
	assert_int_equal(sp.replay_failed_records, 3 + 5 + 6 + 7);
	/* new messages meanwhile go behind */
	nm_put(&sp, NM_LANE_TAIL, 7);
	nm_spool_rewind(&sp);
	assert_int_equal(sp.rewinds, 1);
	uint32_t got[16];
	size_t n = nm_drain(&sp, got, 16);
	uint32_t want[] = {2, 4, 5, 6, 7};
	assert_int_equal(n, 5);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(sp.replay_msgs, 11);
	assert_int_equal(sp.bytes, 0);
	nm_spool_close(&sp);
}

static void test_lanes_first(void **state)
{
	(void)state;
	struct nm_spool sp;
	nm_open(&sp, 1ull << 30);
	/* a message on the tail before the lanes: it is older than them */
	nm_put(&sp, NM_LANE_TAIL, 1);
	nm_spool_lanes_open(&sp);
	nm_put(&sp, NM_LANE_TAIL, 10); /* new traffic */
	nm_put(&sp, NM_LANE_PURGED, 5);
	nm_put(&sp, NM_LANE_LATE, 2);
	nm_put(&sp, NM_LANE_TAIL, 11);
	nm_put(&sp, NM_LANE_PURGED, 6);
	nm_put(&sp, NM_LANE_LATE, 3);
	assert_int_equal(sp.lane_msgs, 4);
	/* replay reaches the lanes only once they are closed */
	uint64_t tok;
	assert_int_equal(nm_next(&sp, &tok), 1);
	nm_spool_done(&sp, tok);
	assert_int_equal(nm_next(&sp, &tok), -1);
	nm_spool_lanes_close(&sp);
	uint32_t got[16];
	size_t n = nm_drain(&sp, got, 16);
	uint32_t want[] = {2, 3, 5, 6, 10, 11};
	assert_int_equal(n, 6);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(sp.bytes, 0);
	nm_spool_close(&sp);
}

static void test_lanes_survive_restart(void **state)
{
	(void)state;
	struct nm_spool sp;
	nm_open(&sp, 1ull << 30);
	nm_spool_lanes_open(&sp);
	nm_put(&sp, NM_LANE_TAIL, 9);
	nm_put(&sp, NM_LANE_LATE, 4);
	nm_spool_close(&sp); /* closes the lanes */
	nm_open(&sp, 1ull << 30);
	uint32_t got[4];
	assert_int_equal(nm_drain(&sp, got, 4), 2);
	assert_int_equal(got[0], 4);
	assert_int_equal(got[1], 9);
	nm_spool_close(&sp);
}

static void test_quota_try(void **state)
{
	(void)state;
	struct nm_spool sp;
	nm_open(&sp, 150); /* room for one entry of ~44 + ~20 bytes, two at most */
	uint8_t m[64] = {1};
	int ok = 0;
	for (int i = 0; i < 5; i++)
		ok += nm_spool_put_lane(&sp, NM_LANE_TAIL_TRY, m, sizeof(m), 1, NULL) == 0;
	assert_true(ok >= 1 && ok < 5);
	assert_int_equal(sp.quota_records, 0);
	assert_int_equal(nm_spool_put(&sp, m, sizeof(m), 3, NULL), -1);
	assert_int_equal(sp.quota_records, 3);
	nm_spool_close(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_reopen, nm_setup, nm_teardown),
		cmocka_unit_test_setup_teardown(test_failed_replay_keeps_place, nm_setup, nm_teardown),
		cmocka_unit_test_setup_teardown(test_lanes_first, nm_setup, nm_teardown),
		cmocka_unit_test_setup_teardown(test_lanes_survive_restart, nm_setup, nm_teardown),
		cmocka_unit_test_setup_teardown(test_quota_try, nm_setup, nm_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
