/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two small helpers every layer needs, defined once (plain C11 + POSIX
 * clocks, static inline, no state): a clock read in nanoseconds and the
 * power of two at or above a count (table and ring sizes).
 */
#ifndef NM_UTIL_H
#define NM_UTIL_H

#include <stdint.h>
#include <time.h>

/*
 * The clock `clk` (CLOCK_REALTIME for timestamps in records and file
 * names, CLOCK_MONOTONIC for deadlines and ages) in ns. Both clocks always
 * exist on Linux, so clock_gettime cannot fail here.
 */
static inline uint64_t nm_clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The smallest power of two >= n (1 for n <= 1). n must be at most 2^63. */
static inline uint64_t nm_pow2_ceil(uint64_t n)
{
	uint64_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

#endif
