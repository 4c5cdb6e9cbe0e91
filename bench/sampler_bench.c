/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sampler-bench: the packet sampler's cost on one core (issue 14), on the
 * path that ships.
 *
 *   sampler-bench [EAL args] -- [--seconds S] [--rounds R]
 *   e.g. sampler-bench --no-huge -m 512 --no-pci --file-prefix=sb -l 1 \
 *          --vdev net_null0,size=64 -- --seconds 1 --rounds 21
 *        sampler-bench ... --vdev net_pcap0,rx_pcap=F.pcap,infinite_rx=1 -- ...
 *
 * On the first ethdev, one RX queue polled by the EAL's main lcore, the
 * same run interleaves R rounds; in each, each of six loops runs S seconds:
 *   base    rx_burst + rte_pktmbuf_free_bulk: the pure receive-and-free loop
 *   tick    base + the DPDK worker's 1 ms tick check (an rdtsc every
 *           NM_TICK_LOOPS bursts; each ms the TSC clock's anchor and
 *           nm_worker_tick), no sampling
 *   1:16777216, 1:1000, 1:100, 1:1
 *           the worker's mirror-port loop (at 1:16777216 practically no
 *           sample: the unsampled path alone): rx_burst, nm_dpkt_mirror_burst()
 *           (dataplane/dpdk_sampler.c, the function netmeta's workers call:
 *           countdown, counters, the TSC receive time, each sample walked
 *           into a record in the worker's batch, batches handed over the SPSC
 *           ring to a sink thread), free_bulk, and the tick
 * The sink thread (a DPDK control thread, off the measured core, as in the
 * daemon) pops the ring every 100 us and gives the batches back. No sFlow
 * collector is configured (the daemon's default: records only).
 *
 * Printed per loop: packets/s and cycles/packet from the TSC, packets per
 * second of the thread's CPU time (what preemption on a shared machine
 * does not stretch), all medians of the rounds; the ratio to base and to
 * tick: the median (and quartiles) of each round's own ratio. Cycles per
 * sampled packet = cycles/packet at 1:1 - tick's (every packet is sampled
 * at 1:1); the records the sink received or the worker lost.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "config.h"
#include "dpdk_pkt.h"
#include "worker.h"

#define BURST NM_BURST

static struct nm_config cfg;
static struct nm_worker w;
static struct nm_dworker x;
static struct nm_dport dp;
static atomic_bool sink_stop;
static _Atomic uint64_t sink_records;

/* The sink's side of the hand-off: counts and returns every batch. */
static void *sink_main(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&sink_stop, memory_order_acquire)) {
		struct nm_batch *b;
		while ((b = nm_ring_pop(w.full)) != NULL) {
			atomic_fetch_add_explicit(&sink_records, b->n, memory_order_relaxed);
			b->n = 0;
			nm_ring_push_room(w.free, b);
		}
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double p = *(const double *)a, q = *(const double *)b;
	return (p > q) - (p < q);
}

enum { L_BASE, L_TICK, L_NONE, L_1000, L_100, L_1, NL };
static const uint32_t rates[NL] = {0, 0, NM_SAMPLER_RATE_MAX, 1000, 100, 1};
static const char *const names[NL] = {"base (rx + free)", "tick (base + 1 ms tick)",
				      "mirror, 1:16777216", "sampler 1:1000", "sampler 1:100",
				      "sampler 1:1"};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One slice of loop l. Returns packets; *cyc the TSC cycles spent, *cpu
 * the thread's CPU time in ns (what a preemption does not stretch). */
static uint64_t run(uint16_t port, int l, double seconds, uint64_t *cyc, uint64_t *cpu,
		    uint64_t *samples)
{
	struct rte_mbuf *pkts[BURST];
	if (rates[l])
		nm_sampler_port_init(&x.sp[0], rates[l], 1, &x.rng);
	uint64_t s0 = x.sp[0].samples;
	uint64_t c0 = thread_cpu_ns();
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), end = t0 + (uint64_t)(seconds * hz);
	uint64_t n = 0, t = t0, last_tick = t0;
	uint32_t busy = 0;
	bool sample = rates[l] != 0, tick = l != L_BASE;
	while (t < end) {
		for (int i = 0; i < 64; i++) {
			uint16_t got = rte_eth_rx_burst(port, 0, pkts, BURST);
			if (sample && got)
				nm_dpkt_mirror_burst(&x, &dp, pkts, got);
			rte_pktmbuf_free_bulk(pkts, got);
			n += got;
			/* as nm_worker_main: the TSC every NM_TICK_LOOPS busy
			 * loops (every loop when idle), the tick each ms */
			if (tick && (got == 0 || ++busy >= NM_TICK_LOOPS)) {
				busy = 0;
				uint64_t tt = rte_rdtsc();
				if (got == 0 || tt - last_tick > hz / 1000) {
					nm_worker_tick(&w, nm_dworker_clock_sync(&x, tt, hz));
					last_tick = tt;
				}
			}
		}
		t = rte_rdtsc();
	}
	*cyc = t - t0;
	*cpu = thread_cpu_ns() - c0;
	*samples = rates[l] ? x.sp[0].samples - s0 : 0;
	return n;
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "sampler-bench: EAL init failed\n");
		return 1;
	}
	argc -= used;
	argv += used;
	double seconds = 1;
	int rounds = 5;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
	}
	if (rounds < 1 || rounds > 999 || seconds <= 0) {
		fprintf(stderr, "sampler-bench: --rounds 1..999, --seconds > 0\n");
		return 2;
	}
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "sampler-bench: no ethdev (give --vdev net_null0)\n");
		return 1;
	}
	uint16_t port = 0;
	struct rte_mempool *mp =
		rte_pktmbuf_pool_create("sb", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (mp == NULL || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, 0, NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 512, 0, NULL) != 0 || rte_eth_dev_start(port) != 0) {
		fprintf(stderr, "sampler-bench: port setup failed\n");
		return 1;
	}
	/* The daemon's worker with its defaults: one mirror port, records on,
	 * no sFlow collector. */
	nm_config_default(&cfg);
	cfg.workers = 1;
	uint8_t *pk = nm_port_table(&cfg);
	if (pk == NULL || nm_worker_init(&w, 0, &cfg, pk) != 0) {
		fprintf(stderr, "sampler-bench: worker init failed\n");
		return 1;
	}
	x.w = &w;
	x.cfg = &cfg;
	x.id = 0;
	nm_rng_seed(&x.rng, 1, 0);
	dp.port_id = port;
	dp.idx = 0;
	dp.mirror = true;
	pthread_t sink;
	if (rte_ctrl_thread_create(&sink, "sb-sink", NULL, sink_main, NULL) != 0) {
		fprintf(stderr, "sampler-bench: sink thread failed\n");
		return 1;
	}
	/* Per round, each loop runs one slice, in turn: load that changes
	 * over seconds hits every loop alike, and each round gives its own
	 * ratios (a loop's packets/s over base's in the same round). */
	static double pps[NL][999], cpp[NL][999], cps[NL][999], ccp[NL][999], rb[NL][999],
		rt[NL][999], cb[NL][999], ct[NL][999];
	uint64_t smp[NL] = {0};
	for (int r = 0; r < rounds; r++) {
		for (int l = 0; l < NL; l++) {
			uint64_t cyc, cpu, s;
			uint64_t n = run(port, l, seconds, &cyc, &cpu, &s);
			pps[l][r] = n / ((double)cyc / rte_get_tsc_hz());
			cpp[l][r] = (double)cyc / n;
			cps[l][r] = n / (cpu / 1e9);
			ccp[l][r] = cpu / 1e9 * rte_get_tsc_hz() / n;
			smp[l] += s;
		}
		for (int l = 0; l < NL; l++) {
			rb[l][r] = pps[l][r] / pps[L_BASE][r];
			rt[l][r] = pps[l][r] / pps[L_TICK][r];
			cb[l][r] = cps[l][r] / cps[L_BASE][r];
			ct[l][r] = cps[l][r] / cps[L_TICK][r];
		}
	}
	atomic_store_explicit(&sink_stop, true, memory_order_release);
	pthread_join(sink, NULL);
	nm_worker_finish(&w);
	/* finish's last batch (counted in RECORDS_SENT) back to the pool, which
	 * must be whole before the worker is freed */
	struct nm_batch *b;
	while ((b = nm_ring_pop(w.full)) != NULL)
		nm_ring_push_room(w.free, b);
	printf("| loop | Mpps wall (median of %d x %.2f s) | cycles/packet wall | vs base wall "
	       "(median of rounds' ratios, quartiles) | vs tick wall | Mpps per CPU-s | "
	       "cycles/packet CPU | vs base per CPU-s (median, quartiles) | vs tick per CPU-s | "
	       "samples |\n",
	       rounds, seconds);
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	double m_cpp[NL], m_ccp[NL], m_rb[NL], m_cb[NL];
	for (int l = 0; l < NL; l++) {
		qsort(pps[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(cpp[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(cps[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(ccp[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(rb[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(rt[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(cb[l], (size_t)rounds, sizeof(double), cmp_double);
		qsort(ct[l], (size_t)rounds, sizeof(double), cmp_double);
		int q1 = rounds / 4, q3 = rounds - 1 - rounds / 4, md = rounds / 2;
		m_cpp[l] = cpp[l][md];
		m_ccp[l] = ccp[l][md];
		m_rb[l] = rb[l][md];
		m_cb[l] = cb[l][md];
		printf("| %s | %.2f | %.2f | %.4f (%.4f-%.4f) | %.4f (%.4f-%.4f) | %.2f | %.2f | %.4f "
		       "(%.4f-%.4f) | %.4f (%.4f-%.4f) | %" PRIu64 " |\n",
		       names[l], pps[l][md] / 1e6, cpp[l][md], rb[l][md], rb[l][q1], rb[l][q3],
		       rt[l][md], rt[l][q1], rt[l][q3], cps[l][md] / 1e6, ccp[l][md], cb[l][md],
		       cb[l][q1], cb[l][q3], ct[l][md], ct[l][q1], ct[l][q3], smp[l]);
	}
	printf("\ncycles per sampled packet (1:1 minus tick, medians): wall %.1f, CPU %.1f\n",
	       m_cpp[L_1] - m_cpp[L_TICK], m_ccp[L_1] - m_ccp[L_TICK]);
	printf("slowdown vs base at 1:1000: wall %.2f %%, per CPU-s %.2f %%; at 1:100: wall %.2f %%, "
	       "per CPU-s %.2f %% (medians of the rounds' ratios)\n",
	       100 * (1 - m_rb[L_1000]), 100 * (1 - m_cb[L_1000]), 100 * (1 - m_rb[L_100]),
	       100 * (1 - m_cb[L_100]));
	printf("records: made %" PRIu64 ", sent %" PRIu64 ", ring full %" PRIu64
	       ", no batch %" PRIu64 "\n",
	       nm_wc_get(&w, NM_WC_SAMPLE_RECORDS), nm_wc_get(&w, NM_WC_RECORDS_SENT),
	       nm_wc_get(&w, NM_WC_RECORDS_RING_FULL), nm_wc_get(&w, NM_WC_RECORDS_NO_BATCH));
	printf("TSC %.3f GHz\n", rte_get_tsc_hz() / 1e9);
	nm_worker_free(&w);
	free(pk);
	rte_eth_dev_stop(port);
	rte_eal_cleanup();
	return 0;
}
