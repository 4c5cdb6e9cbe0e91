/* SPDX-License-Identifier: BSD-3-Clause */
#include "nm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nm_t_cfg(struct nm_decode_cfg *c)
{
	nm_decode_cfg_default(c);
	c->max_exporters = 256;
	c->max_templates = 2048;
}

struct nm_t *nm_t_new(const struct nm_decode_cfg *cfg)
{
	struct nm_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (cfg)
		t->cfg = *cfg;
	else
		nm_t_cfg(&t->cfg);
	size_t n = nm_decoder_mem_size(&t->cfg);
	if (n == 0)
		goto fail;
	n = (n + 63) & ~(size_t)63;
	t->mem = aligned_alloc(64, n);
	if (t->mem == NULL)
		goto fail;
	/* The decoder must not depend on the block's prior contents. */
	memset(t->mem, 0xa5, n);
	t->d = nm_decoder_init(t->mem, n, &t->cfg);
	if (t->d == NULL)
		goto fail;
	t->b.recs = t->recs;
	t->b.cap = NM_T_RECS;
	nm_t_from(t, 192, 0, 2, 1, 2055);
	nm_t_at(t, NM_T_NOW_S);
	nm_pb_init(&t->pb);
	return t;
fail:
	free(t->mem);
	free(t);
	return NULL;
}

void nm_t_free(struct nm_t *t)
{
	if (t == NULL)
		return;
	free(t->mem);
	free(t);
}

int nm_t_setup(void **state)
{
	*state = nm_t_new(NULL);
	return *state ? 0 : -1;
}

int nm_t_teardown(void **state)
{
	struct nm_t *t = *state;
	int rc = 0;
	if (t && !nm_t_identity_ok(t->d)) {
		const struct nm_decode_stats *s = nm_decoder_stats(t->d);
		fprintf(stderr, "accounting identity broken: datagrams %llu, datagrams_ok %llu\n",
			(unsigned long long)s->datagrams, (unsigned long long)s->datagrams_ok);
		rc = -1;
	}
	nm_t_free(t);
	*state = NULL;
	return rc;
}

struct nm_t *nm_t_reset(void **state, const struct nm_decode_cfg *cfg)
{
	nm_t_free(*state);
	*state = nm_t_new(cfg);
	return *state;
}

void nm_t_from(struct nm_t *t, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	const uint8_t v4[4] = {a, b, c, d};
	nm_addr_set_v4(&t->m.exporter, v4);
	t->m.src_port = port;
}

void nm_t_at(struct nm_t *t, uint64_t secs)
{
	t->m.time_ns = secs * NM_T_NS;
}

void nm_t_clear(struct nm_t *t)
{
	t->b.n = 0;
}

enum nm_err nm_t_v5(struct nm_t *t)
{
	return nm_decode_netflow_v5(t->d, &t->m, t->pb.buf, t->pb.len, &t->b);
}

enum nm_err nm_t_v9(struct nm_t *t)
{
	return nm_decode_netflow_v9(t->d, &t->m, t->pb.buf, t->pb.len, &t->b);
}

enum nm_err nm_t_ipfix(struct nm_t *t)
{
	return nm_decode_ipfix(t->d, &t->m, t->pb.buf, t->pb.len, &t->b);
}

enum nm_err nm_t_any(struct nm_t *t)
{
	return nm_decode_any(t->d, &t->m, t->pb.buf, t->pb.len, &t->b);
}

uint64_t nm_t_err(const struct nm_t *t, enum nm_err e)
{
	return nm_decoder_stats(t->d)->err[e];
}

uint64_t nm_t_ev(const struct nm_t *t, enum nm_ev e)
{
	return nm_decoder_stats(t->d)->ev[e];
}

uint64_t nm_t_err_total(const struct nm_t *t)
{
	uint64_t n = 0;
	for (int e = 0; e < NM_ERR__COUNT; e++)
		n += nm_decoder_stats(t->d)->err[e];
	return n;
}

bool nm_t_identity_ok(const struct nm_decoder *d)
{
	const struct nm_decode_stats *s = nm_decoder_stats(d);
	return s->datagrams == s->datagrams_ok + nm_decode_stats_rejected(s);
}

const char *nm_t_addr(const struct nm_addr *a)
{
	static char bufs[4][64];
	static unsigned next;
	char *buf = bufs[next++ % 4];
	return nm_addr_format(a, buf, sizeof(bufs[0]));
}
