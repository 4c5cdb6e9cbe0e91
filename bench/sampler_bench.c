/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sampler-bench: the packet sampler's cost on one core (issue 14).
 *
 *   sampler-bench [EAL args] -- [--seconds S] [--rounds R]
 *   e.g. sampler-bench --no-huge -m 512 --no-pci --file-prefix=sb -l 0 \
 *          --vdev net_null0,size=64 -- --seconds 1 --rounds 5
 *
 * On the first ethdev (net_null by default: no NIC, the PMD hands out mbufs
 * as fast as the pool recycles them), one RX queue, polled by the main
 * lcore, the same run alternates R rounds of S seconds each of:
 *   base   rx_burst + rte_pktmbuf_free_bulk (the pure receive-and-free loop)
 *   1:1000, 1:100   the same plus the mirror port's sampler: the countdown per
 *          burst, each sampled packet walked by the header parser into a
 *          record (struct nm_flow, into a 256-record ring as a batch would be)
 *   1:1    every packet sampled: (cycles/pkt at 1:1 - base) = cycles per
 *          sampled packet
 * and prints packets/s (median of rounds), the ratio to base, and cycles per
 * packet from the TSC. The sFlow agent and the sink are not in the loop:
 * this is the per-packet cost on the worker core.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "sampler.h"

#define BURST 32
#define NREC 256

static struct nm_flow recs[NREC];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* rate 0: base loop. Returns packets; *cyc the TSC cycles spent. */
static uint64_t run(uint16_t port, uint32_t rate, double seconds, uint64_t *cyc,
		    uint64_t *samples)
{
	struct nm_cfg_sampler cfg;
	nm_cfg_sampler_default(&cfg);
	struct nm_rng g;
	nm_rng_seed(&g, 1, 0);
	struct nm_sampler_port sp;
	nm_sampler_port_init(&sp, rate ? rate : 1, 1, &g);
	struct rte_mbuf *pkts[BURST];
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), end = t0 + (uint64_t)(seconds * hz);
	uint64_t n = 0, t = t0;
	uint32_t ri = 0;
	while (t < end) {
		for (int i = 0; i < 64; i++) {
			uint16_t got = rte_eth_rx_burst(port, 0, pkts, BURST);
			if (rate) {
				uint32_t k = 0;
				for (;;) {
					uint32_t d = nm_sampler_due(&sp, got - k);
					if (d == got - k)
						break;
					k += d;
					nm_sampler_taken(&sp, &g);
					const struct rte_mbuf *m = pkts[k];
					nm_sampler_record(&cfg, &sp, 0,
							  rte_pktmbuf_mtod(m, const uint8_t *),
							  m->data_len, m->pkt_len, t, &recs[ri++ % NREC]);
					k++;
				}
			}
			rte_pktmbuf_free_bulk(pkts, got);
			n += got;
		}
		t = rte_rdtsc();
	}
	*cyc = t - t0;
	*samples = sp.samples;
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
	if (rounds < 1 || rounds > 99 || seconds <= 0) {
		fprintf(stderr, "sampler-bench: --rounds 1..99, --seconds > 0\n");
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
	static const uint32_t rates[] = {0, 1000, 100, 1};
	static const char *const names[] = {"base (rx + free)", "sampler 1:1000", "sampler 1:100",
					    "sampler 1:1"};
	enum { NM = 4 };
	double pps[NM][99], cpp[NM][99];
	uint64_t smp[NM] = {0};
	for (int r = 0; r < rounds; r++)
		for (int m = 0; m < NM; m++) {
			uint64_t cyc, s;
			uint64_t n = run(port, rates[m], seconds, &cyc, &s);
			pps[m][r] = n / ((double)cyc / rte_get_tsc_hz());
			cpp[m][r] = (double)cyc / n;
			smp[m] += s;
		}
	double med_pps[NM], med_cpp[NM];
	for (int m = 0; m < NM; m++) {
		qsort(pps[m], (size_t)rounds, sizeof(double), cmp_double);
		qsort(cpp[m], (size_t)rounds, sizeof(double), cmp_double);
		med_pps[m] = pps[m][rounds / 2];
		med_cpp[m] = cpp[m][rounds / 2];
	}
	printf("| loop | Mpps (median of %d x %.1f s) | cycles/packet | vs base | samples |\n",
	       rounds, seconds);
	printf("|---|---|---|---|---|\n");
	for (int m = 0; m < NM; m++)
		printf("| %s | %.2f | %.2f | %.4f | %" PRIu64 " |\n", names[m], med_pps[m] / 1e6,
		       med_cpp[m], med_pps[m] / med_pps[0], smp[m]);
	printf("\ncycles per sampled packet (1:1 minus base): %.1f\n", med_cpp[3] - med_cpp[0]);
	printf("slowdown at 1:1000: %.2f %%, at 1:100: %.2f %%\n",
	       100 * (1 - med_pps[1] / med_pps[0]), 100 * (1 - med_pps[2] / med_pps[0]));
	printf("TSC %.3f GHz\n", rte_get_tsc_hz() / 1e9);
	rte_eth_dev_stop(port);
	rte_eal_cleanup();
	return 0;
}
