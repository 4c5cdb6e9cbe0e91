/* SPDX-License-Identifier: BSD-3-Clause */
#include "sftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nm_sft *nm_sft_new(void)
{
	return nm_sft_new_cfg(NULL);
}

struct nm_sft *nm_sft_new_cfg(const struct nm_decode_cfg *cfg)
{
	struct nm_sft *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (cfg) {
		t->cfg = *cfg;
	} else {
		nm_decode_cfg_default(&t->cfg);
		t->cfg.max_exporters = 256;
		t->cfg.max_templates = 256;
	}
	size_t n = nm_decoder_mem_size(&t->cfg);
	if (n == 0)
		goto fail;
	n = (n + 63) & ~(size_t)63;
	t->mem = aligned_alloc(64, n);
	if (t->mem == NULL)
		goto fail;
	/* The decoder must not depend on the block's prior contents. */
	memset(t->mem, 0x5a, n);
	t->d = nm_decoder_init(t->mem, n, &t->cfg);
	if (t->d == NULL)
		goto fail;
	t->b.recs = t->recs;
	t->b.cap = NM_SFT_RECS;
	t->cb.recs = t->ctrs;
	t->cb.cap = NM_SFT_CTRS;
	nm_decoder_set_ctr_batch(t->d, &t->cb);
	const uint8_t src[4] = {192, 0, 2, 99};
	nm_addr_set_v4(&t->m.exporter, src);
	t->m.src_port = 6343;
	t->m.time_ns = NM_SFT_NOW_S * NM_SFT_NS + 250000000ull;
	nm_sb_init(&t->sb);
	return t;
fail:
	free(t->mem);
	free(t);
	return NULL;
}

void nm_sft_free(struct nm_sft *t)
{
	if (t == NULL)
		return;
	free(t->mem);
	free(t);
}

int nm_sft_setup(void **state)
{
	*state = nm_sft_new();
	return *state ? 0 : -1;
}

int nm_sft_teardown(void **state)
{
	struct nm_sft *t = *state;
	int rc = 0;
	if (t && !nm_sft_identity_ok(t->d)) {
		const struct nm_decode_stats *s = nm_decoder_stats(t->d);
		fprintf(stderr, "accounting identity broken: datagrams %llu, ok %llu, fatal %llu\n",
			(unsigned long long)s->datagrams, (unsigned long long)s->datagrams_ok,
			(unsigned long long)nm_sft_fatal(t->d));
		rc = -1;
	}
	nm_sft_free(t);
	*state = NULL;
	return rc;
}

enum nm_err nm_sft_sflow(struct nm_sft *t)
{
	return nm_decode_sflow(t->d, &t->m, t->sb.buf, t->sb.len, &t->b);
}

enum nm_err nm_sft_ipfix(struct nm_sft *t)
{
	return nm_decode_ipfix(t->d, &t->m, t->sb.buf, t->sb.len, &t->b);
}

uint64_t nm_sft_err(const struct nm_sft *t, enum nm_err e)
{
	return nm_decoder_stats(t->d)->err[e];
}

uint64_t nm_sft_ev(const struct nm_sft *t, enum nm_ev e)
{
	return nm_decoder_stats(t->d)->ev[e];
}

uint64_t nm_sft_fatal(const struct nm_decoder *d)
{
	return nm_decode_stats_rejected(nm_decoder_stats(d));
}

bool nm_sft_identity_ok(const struct nm_decoder *d)
{
	const struct nm_decode_stats *s = nm_decoder_stats(d);
	return s->datagrams == s->datagrams_ok + nm_sft_fatal(d);
}

const char *nm_sft_addr(const struct nm_addr *a)
{
	static char bufs[4][64];
	static unsigned next;
	char *buf = bufs[next++ % 4];
	return nm_addr_format(a, buf, sizeof(bufs[0]));
}
