/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sampler's statistics (issue 14), on the functions the DPDK path
 * calls (dataplane/sampler.h), with a fixed set of seeds: deterministic,
 * yet each check can fail when the law is wrong.
 *
 * 1. The skip: mean N, variance ((2N-1)^2 - 1) / 12 of the discrete
 *    uniform law over [1, 2N-1], both ends reached, and a chi-square test
 *    of uniformity (one bin per value up to N = 128, beyond that 256 bins
 *    of equal width, so N = 1000 and 2^24 are tested too).
 * 2. Estimates: a generated stream with known totals per protocol, sampled
 *    in bursts of 32 exactly as a mirror port is, each sample walked into a
 *    record by the header parser; bytes = sum(Bytes) * N and packets =
 *    samples * N per protocol must be within the sFlow 95 % bound
 *    +-196 * sqrt(1/samples) % in at least 90 % of 200 seeds (95 % expected:
 *    a binomial(200, 0.95) falls below 180 with probability < 0.2 %).
 * 3. The sample pool: after a stream, pool = packets seen, samples =
 *    records, each record's SamplePool = position of its packet.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sampler.h"

static void skip_law(uint32_t n, uint64_t seed)
{
	struct nm_rng g;
	nm_rng_seed(&g, seed, 3);
	const uint32_t k = 400000;
	double sum = 0, sum2 = 0;
	uint32_t lo = UINT32_MAX, hi = 0;
	uint32_t m = 2 * n - 1; /* values 1..m */
	/* chi-square bins: one per value up to 256 values, else 256 bins of
	 * width ceil(m / 256) values (the last one narrower) */
	uint32_t width = (m + 255) / 256, nb = (m + width - 1) / width;
	static uint32_t bins[256];
	memset(bins, 0, sizeof(bins));
	for (uint32_t i = 0; i < k; i++) {
		uint32_t s = nm_sampler_skip(&g, n);
		sum += s;
		sum2 += (double)s * s;
		lo = s < lo ? s : lo;
		hi = s > hi ? s : hi;
		bins[(s - 1) / width]++;
	}
	double mean = sum / k, var = sum2 / k - mean * mean;
	double want_var = ((double)m * m - 1) / 12;
	double sd = sqrt(want_var);
	/* mean: 5 standard errors; variance: 5 of its standard errors (the
	 * fourth central moment of a uniform law is 9/5 sigma^4) */
	if (fabs(mean - n) > 5 * sd / sqrt(k) + 1e-9)
		fail_msg("N=%u seed %llu: mean %.4f, want %u +- %.4f", n, (unsigned long long)seed,
			 mean, n, 5 * sd / sqrt(k));
	if (fabs(var - want_var) > 5 * sqrt(0.8) * want_var / sqrt(k) + 1e-9)
		fail_msg("N=%u seed %llu: variance %.2f, want %.2f", n, (unsigned long long)seed, var,
			 want_var);
	/* both ends reached (large N: within a thousandth of the range) */
	uint32_t slack = m <= 256 ? 0 : m / 1000;
	assert_true(lo >= 1 && lo <= 1 + slack);
	assert_true(hi <= m && hi >= m - slack);
	if (nb > 1) {
		double chi = 0;
		for (uint32_t i = 0; i < nb; i++) {
			uint32_t wi = i + 1 < nb ? width : m - i * width; /* values in bin i */
			double e = (double)k * wi / m;
			chi += (bins[i] - e) * (bins[i] - e) / e;
		}
		/* Wilson-Hilferty: the chi-square quantile at p = 1e-4 */
		double d = nb - 1, z = 3.719;
		double crit = d * pow(1 - 2 / (9 * d) + z * sqrt(2 / (9 * d)), 3);
		if (chi > crit)
			fail_msg("N=%u seed %llu: chi-square %.1f over %u bins of %u values > %.1f", n,
				 (unsigned long long)seed, chi, nb, width, crit);
	}
}

static void test_skip_law(void **state)
{
	(void)state;
	static const uint32_t rates[] = {1, 2, 10, 100, 128, 1000, 65536, 1u << 24};
	for (unsigned r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
		for (uint64_t seed = 1; seed <= 5; seed++)
			skip_law(rates[r], seed * 7919);
}

/* A biased law must fail the same checks: the test can fail. */
static void test_skip_law_detects_bias(void **state)
{
	(void)state;
	struct nm_rng g;
	nm_rng_seed(&g, 42, 0);
	const uint32_t k = 2000000, n = 100;
	double sum = 0;
	for (uint32_t i = 0; i < k; i++) {
		/* what a modulo-free but off-by-one draw over [1, 2N] gives */
		sum += 1 + (uint32_t)(((nm_rng_next(&g) >> 32) * (2ull * n)) >> 32);
	}
	double sd = sqrt(((2.0 * n) * (2.0 * n) - 1) / 12);
	assert_true(fabs(sum / k - n) > 5 * sd / sqrt(k));
}

/* ---- estimates over a generated stream ---- */

enum { P_TCP, P_UDP, P_ICMP, P__N };
static const uint8_t nm_proto_num[P__N] = {6, 17, 1};

/* Ethernet + IPv4 + L4 header of a frame of len bytes (only the headers
 * are built: the parser reads no further). */
static uint32_t build_frame(uint8_t *b, unsigned proto, uint32_t len, uint32_t i)
{
	memset(b, 0, 64);
	b[0] = 0x02, b[5] = 1, b[6] = 0x02, b[11] = 2;
	b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8), ip[3] = (uint8_t)(len - 14);
	ip[8] = 64;
	ip[9] = nm_proto_num[proto];
	ip[12] = 10, ip[15] = (uint8_t)i;
	ip[16] = 10, ip[19] = 1;
	uint8_t *l4 = ip + 20;
	l4[0] = (uint8_t)(i >> 8), l4[1] = (uint8_t)i, l4[3] = 80;
	if (proto == P_ICMP)
		l4[0] = 8, l4[1] = 0;
	return 54;
}

struct stream_pkt {
	uint16_t len;
	uint8_t proto;
};

#define NPKTS 1000000
static struct stream_pkt stream[NPKTS];
static double true_bytes[P__N], true_pkts[P__N];

static void make_stream(void)
{
	struct nm_rng g;
	nm_rng_seed(&g, 2026, 99);
	memset(true_bytes, 0, sizeof(true_bytes));
	memset(true_pkts, 0, sizeof(true_pkts));
	for (uint32_t i = 0; i < NPKTS; i++) {
		uint32_t r = (uint32_t)(nm_rng_next(&g) >> 32) % 100;
		unsigned p = r < 60 ? P_TCP : r < 90 ? P_UDP : P_ICMP;
		/* bimodal TCP (ACKs and full segments), UDP spread, small ICMP */
		uint32_t x = (uint32_t)(nm_rng_next(&g) >> 40);
		uint16_t len = p == P_TCP   ? (x & 1 ? 1514 : 64 + x % 64)
			       : p == P_UDP ? (uint16_t)(64 + x % 1400)
					    : (uint16_t)(98 + x % 32);
		stream[i] = (struct stream_pkt){len, (uint8_t)p};
		true_bytes[p] += len;
		true_pkts[p] += 1;
	}
}

struct est {
	double bytes[P__N], pkts[P__N], samples[P__N];
	uint64_t pool, nsamples, bad_pool;
};

static void run_sampler(uint32_t n, uint64_t seed, struct est *e)
{
	struct nm_cfg_sampler cfg;
	nm_cfg_sampler_default(&cfg);
	struct nm_rng g;
	nm_rng_seed(&g, seed, 0);
	struct nm_sampler_port sp;
	nm_sampler_port_init(&sp, n, 9, &g);
	memset(e, 0, sizeof(*e));
	uint8_t frame[64];
	struct nm_flow f;
	for (uint32_t b = 0; b < NPKTS; b += 32) {
		uint32_t burst = NPKTS - b < 32 ? NPKTS - b : 32, k = 0;
		for (;;) {
			uint32_t d = nm_sampler_due(&sp, burst - k);
			if (d == burst - k)
				break;
			k += d;
			nm_sampler_taken(&sp, &g);
			const struct stream_pkt *p = &stream[b + k];
			uint32_t cap = build_frame(frame, p->proto, p->len, b + k);
			nm_sampler_record(&cfg, &sp, 0, frame, cap, p->len, 1, &f);
			unsigned pi = f.proto == 6 ? P_TCP : f.proto == 17 ? P_UDP : P_ICMP;
			e->bytes[pi] += (double)f.bytes * (double)f.sampling_rate;
			e->pkts[pi] += (double)f.packets * (double)f.sampling_rate;
			e->samples[pi] += 1;
			if (f.sample_pool != b + k + 1ull)
				e->bad_pool++;
			k++;
		}
	}
	e->pool = sp.pool;
	e->nsamples = sp.samples;
}

static void estimates(uint32_t n)
{
	static const char *const names[P__N] = {"TCP", "UDP", "ICMP"};
	const unsigned seeds = 200;
	unsigned in_b[P__N] = {0}, in_p[P__N] = {0};
	double worst_b[P__N] = {0}, worst_p[P__N] = {0};
	for (unsigned s = 1; s <= seeds; s++) {
		struct est e;
		run_sampler(n, s * 1000003ull, &e);
		assert_int_equal(e.pool, NPKTS);
		assert_int_equal(e.bad_pool, 0);
		for (unsigned p = 0; p < P__N; p++) {
			assert_true(e.samples[p] > 0);
			double bound = 1.96 * sqrt(1 / e.samples[p]);
			double eb = fabs(e.bytes[p] / true_bytes[p] - 1);
			double ep = fabs(e.pkts[p] / true_pkts[p] - 1);
			in_b[p] += eb <= bound;
			in_p[p] += ep <= bound;
			worst_b[p] = eb / bound > worst_b[p] ? eb / bound : worst_b[p];
			worst_p[p] = ep / bound > worst_p[p] ? ep / bound : worst_p[p];
		}
	}
	for (unsigned p = 0; p < P__N; p++) {
		printf("N=%u %-4s: packets within the 95%% bound in %u/%u seeds (worst %.2f of "
		       "the bound), bytes in %u/%u (worst %.2f)\n",
		       n, names[p], in_p[p], seeds, worst_p[p], in_b[p], seeds, worst_b[p]);
		assert_true(in_p[p] >= seeds * 9 / 10);
		assert_true(in_b[p] >= seeds * 9 / 10);
	}
}

static void test_estimates_100(void **state)
{
	(void)state;
	estimates(100);
}

static void test_estimates_1000(void **state)
{
	(void)state;
	estimates(1000);
}

/* N = 1: every packet, pool = samples = packets. */
static void test_every_packet(void **state)
{
	(void)state;
	struct est e;
	run_sampler(1, 5, &e);
	assert_int_equal(e.nsamples, NPKTS);
	assert_int_equal(e.pool, NPKTS);
	for (unsigned p = 0; p < P__N; p++) {
		assert_true(e.bytes[p] == true_bytes[p]);
		assert_true(e.pkts[p] == true_pkts[p]);
	}
}

static int setup(void **state)
{
	(void)state;
	make_stream();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skip_law),
		cmocka_unit_test(test_skip_law_detects_bias),
		cmocka_unit_test(test_every_packet),
		cmocka_unit_test(test_estimates_100),
		cmocka_unit_test(test_estimates_1000),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
