/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sampler's drops (issue 14): every sampled record the worker loses,
 * on any flush (a full batch, the flush_ms timer, shutdown), to a full
 * ring or for want of a free batch, is charged to the mirror port it was
 * sampled on, and to no other; records that are not samples (a collector's)
 * in the same batch are charged to no port.
 *
 * The worker core (dataplane/worker.c) runs without DPDK and without a sink
 * thread: the test is the sink, stalled (it never pops the ring) or
 * draining (pops every batch, counts its records per port, gives it back).
 * Each record carries its port in InIf, so what arrived is known per port;
 * what was lost = written - arrived, which the callback must equal exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker.h"

#define COLLECTOR_IF 999 /* InIf of the records that are not samples */

struct tally {
	uint64_t charged[NM_CFG_MAX_PORTS]; /* by the samples_lost callback */
	uint64_t charged_in_tick;           /* of which during nm_worker_tick */
	uint64_t charged_in_finish;         /* of which during nm_worker_finish */
	int where;                          /* 0 packet path, 1 tick, 2 finish */
	uint64_t written[NM_CFG_MAX_PORTS + 1], arrived[NM_CFG_MAX_PORTS + 1];
};

static void lost_cb(void *ctx, uint32_t port, uint64_t n)
{
	struct tally *t = ctx;
	assert_true(port < NM_CFG_MAX_PORTS);
	t->charged[port] += n;
	if (t->where == 1)
		t->charged_in_tick += n;
	if (t->where == 2)
		t->charged_in_finish += n;
}

/* The sink's side: pops every batch, counts its flow records by InIf. */
static void sink_drain(struct nm_worker *w, struct tally *t)
{
	struct nm_batch *b;
	while ((b = nm_ring_pop(w->full)) != NULL) {
		if (b->kind == NM_BATCH_FLOWS) {
			const struct nm_flow *f = b->recs;
			for (uint32_t i = 0; i < b->n; i++) {
				uint32_t k = f[i].in_if == COLLECTOR_IF ? NM_CFG_MAX_PORTS : f[i].in_if;
				assert_true(k <= NM_CFG_MAX_PORTS);
				t->arrived[k]++;
			}
		}
		b->n = 0;
		nm_ring_push_room(w->free, b);
	}
}

/*
 * steps records: two mirror ports (3 and 11) and one collector record in
 * five, a timer flush every 7 records; the sink stalled throughout, except
 * that it drains every `drain_every` steps (0: never) and, when
 * drain_at_end, before the shutdown.
 */
static void run(uint32_t ring, uint32_t batches, uint32_t steps, uint32_t drain_every,
		bool drain_at_end, struct tally *t, uint64_t *ctr)
{
	static struct nm_config cfg;
	nm_config_default(&cfg);
	cfg.workers = 1;
	cfg.ring_size = ring;
	cfg.batches = batches;
	cfg.batch_records = 4;
	cfg.flush_ms = 100;
	uint8_t *pk = nm_port_table(&cfg);
	assert_non_null(pk);
	static struct nm_worker w;
	assert_int_equal(nm_worker_init(&w, 0, &cfg, pk), 0);
	memset(t, 0, sizeof(*t));
	w.samples_lost = lost_cb;
	w.samples_lost_ctx = t;
	uint64_t now = 1000000000ull;
	for (uint32_t i = 0; i < steps; i++) {
		if (i % 5 == 4) {
			struct nm_flow *f = nm_worker_record(&w, now);
			f->in_if = COLLECTOR_IF;
			nm_worker_record_done(&w);
			t->written[NM_CFG_MAX_PORTS]++;
		} else {
			uint32_t port = i % 2 ? 3 : 11;
			struct nm_flow *f = nm_worker_flow_slot(&w, now, port);
			memset(f, 0, sizeof(*f));
			f->in_if = port;
			t->written[port]++;
		}
		if (i % 7 == 6) {
			now += 101000000ull; /* past flush_ms: the timer sends the batch */
			t->where = 1;
			nm_worker_tick(&w, now);
			t->where = 0;
		}
		if (drain_every && i % drain_every == drain_every - 1)
			sink_drain(&w, t);
	}
	if (drain_at_end)
		sink_drain(&w, t);
	t->where = 2;
	nm_worker_finish(&w);
	t->where = 0;
	sink_drain(&w, t);
	for (unsigned c = 0; c < NM_WC__COUNT; c++)
		ctr[c] = nm_wc_get(&w, (enum nm_wc)c);
	nm_worker_free(&w);
	free(pk);
}

static void check(const struct tally *t, const uint64_t *ctr, const char *what)
{
	uint64_t lost_all = 0, charged = 0;
	for (uint32_t k = 0; k <= NM_CFG_MAX_PORTS; k++) {
		assert_true(t->arrived[k] <= t->written[k]);
		lost_all += t->written[k] - t->arrived[k];
	}
	for (uint32_t p = 0; p < NM_CFG_MAX_PORTS; p++) {
		uint64_t lost = t->written[p] - t->arrived[p];
		if (t->charged[p] != lost)
			fail_msg("%s: port %u lost %llu samples, charged %llu", what, p,
				 (unsigned long long)lost, (unsigned long long)t->charged[p]);
		charged += t->charged[p];
	}
	printf("%s: ports 3/11 wrote %llu/%llu, lost %llu/%llu (charged on timer flushes %llu, "
	       "at shutdown %llu); collector records lost %llu; RING_FULL %llu NO_BATCH %llu\n",
	       what, (unsigned long long)t->written[3], (unsigned long long)t->written[11],
	       (unsigned long long)t->charged[3], (unsigned long long)t->charged[11],
	       (unsigned long long)t->charged_in_tick, (unsigned long long)t->charged_in_finish,
	       (unsigned long long)(t->written[NM_CFG_MAX_PORTS] - t->arrived[NM_CFG_MAX_PORTS]),
	       (unsigned long long)ctr[NM_WC_RECORDS_RING_FULL],
	       (unsigned long long)ctr[NM_WC_RECORDS_NO_BATCH]);
	/* the worker's own accounting agrees: every lost record is counted */
	assert_int_equal(ctr[NM_WC_RECORDS_RING_FULL] + ctr[NM_WC_RECORDS_NO_BATCH], lost_all);
	assert_int_equal(ctr[NM_WC_SAMPLE_RECORDS], t->written[3] + t->written[11]);
	/* the test really lost samples of both ports, and collector records
	 * among them that no port was charged for */
	assert_true(t->charged[3] > 0 && t->charged[11] > 0);
	assert_true(t->written[NM_CFG_MAX_PORTS] > t->arrived[NM_CFG_MAX_PORTS]);
	assert_true(charged < lost_all);
}

/* Ring of 2, 4 batches: the ring fills while the worker still holds a
 * batch, so records are lost as RING_FULL, on full batches and on the
 * timer's flushes; the sink drains now and then so some arrive. */
static void test_ring_full(void **state)
{
	(void)state;
	struct tally t;
	uint64_t ctr[NM_WC__COUNT];
	run(2, 4, 600, 97, true, &t, ctr);
	check(&t, ctr, "ring full");
	assert_true(ctr[NM_WC_RECORDS_RING_FULL] > 0);
	assert_true(t.charged_in_tick > 0);
}

/* Ring of 4, 4 batches, the sink stalled to the end: the pool runs dry,
 * the spill buffer fills (NO_BATCH) and what it holds at shutdown is lost
 * there too. */
static void test_no_batch(void **state)
{
	(void)state;
	struct tally t;
	uint64_t ctr[NM_WC__COUNT];
	run(4, 4, 598, 0, false, &t, ctr); /* ends with samples in the spill buffer */
	check(&t, ctr, "no batch");
	assert_true(ctr[NM_WC_RECORDS_NO_BATCH] > 0);
	assert_true(t.charged_in_tick > 0);
	assert_true(t.charged_in_finish > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_full),
		cmocka_unit_test(test_no_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
