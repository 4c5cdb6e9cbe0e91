/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the decoder state loader (decoders/state.c), then traffic
 * through whatever it loaded.
 *
 * Input: byte 0 flags
 *   bit 0    raw: the rest of the input is the state file (else: patches, below)
 *   bit 1    fix up: the header's layout fingerprint, body length, save time
 *            and body hash are set right, so mutations reach the content checks
 *   bit 2    tight caps in the loading decoder (2 exporters, 4 templates,
 *            2 per exporter, 8 fields) so loading skips entries
 *   bit 3    an age limit of one hour (else none)
 * Patch mode: a baseline state is made here (IPFIX and NetFlow v9 exporters
 * with options, fixed- and variable-length templates of many field kinds,
 * learned rates, sequence state) and the rest of the input is a list of
 * patches, offset(2, into the body) value(1), applied before loading.
 * Checks: the result is one of enum nm_state_err; a refusal leaves the
 * decoder empty; the decoder's tables are consistent and within its caps;
 * then every loaded v9/IPFIX template gets a data set of two records
 * (pattern bytes) from its exporter, and the accounting identity holds.
 */
#include <stdlib.h>
#include <string.h>

#include "nf_state.h"
#include "nm_fuzz.h"

#define NM_FZS_ARENA (2u << 20)
#define NM_FZS_NOW (NM_FUZZ_T0_S * 1000000000ull)
#define NM_FZS_HDR 48

static _Alignas(64) uint8_t nm_fzs_arena[NM_FZS_ARENA];
static uint8_t nm_fzs_file[256 * 1024];
static uint8_t nm_fzs_dgram[8192];
static struct nm_flow nm_fzs_recs[64];

struct nm_fzs_w {
	uint8_t *p;
	size_t n;
};

static void nm_fzs_be(struct nm_fzs_w *w, uint64_t v, unsigned bytes)
{
	for (unsigned i = bytes; i > 0; i--)
		w->p[w->n++] = (uint8_t)(v >> (8 * (i - 1)));
}

/* One template record: id, then (ie, len) pairs. */
static void nm_fzs_tmpl(struct nm_fzs_w *w, uint16_t id, const uint16_t (*f)[2], unsigned n)
{
	nm_fzs_be(w, id, 2);
	nm_fzs_be(w, n, 2);
	for (unsigned i = 0; i < n; i++) {
		nm_fzs_be(w, f[i][0], 2);
		nm_fzs_be(w, f[i][1], 2);
	}
}

static struct nm_decoder *nm_fzs_decoder(bool tight)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	c.max_exporters = tight ? 2 : 8;
	c.max_templates = tight ? 4 : 32;
	c.max_templates_per_exporter = tight ? 2 : 16;
	c.max_fields_per_template = tight ? 8 : 64;
	size_t need = nm_decoder_mem_size(&c);
	NM_FUZZ_CHECK(need > 0 && need <= sizeof(nm_fzs_arena));
	memset(nm_fzs_arena, 0xa5, need);
	struct nm_decoder *d = nm_decoder_init(nm_fzs_arena, need, &c);
	NM_FUZZ_CHECK(d != NULL);
	return d;
}

static void nm_fzs_decode(struct nm_decoder *d, const struct nm_addr *a, uint16_t port,
			  uint8_t version, const uint8_t *p, size_t len)
{
	struct nm_flow_batch b = {nm_fzs_recs, 0, 64, NULL, NULL};
	struct nm_pkt_meta m = {*a, port, NM_FZS_NOW};
	uint8_t *dg = malloc(len);
	NM_FUZZ_CHECK(dg != NULL);
	memcpy(dg, p, len);
	enum nm_err e = version == 9 ? nm_decode_netflow_v9(d, &m, dg, len, &b)
				     : nm_decode_ipfix(d, &m, dg, len, &b);
	free(dg);
	NM_FUZZ_CHECK((unsigned)e < NM_ERR__COUNT && b.n <= b.cap);
}

/* The baseline: a decoder that learned templates, rates and sequence
 * numbers from two exporters; its saved state. */
static size_t nm_fzs_baseline(uint8_t *out, size_t cap)
{
	struct nm_decoder *d = nm_fzs_decoder(false);
	struct nm_addr a;
	const uint8_t v4[4] = {192, 0, 2, 1};
	nm_addr_set_v4(&a, v4);
	static const uint16_t f4[][2] = {{8, 4},  {12, 4}, {7, 2},  {11, 2}, {4, 1},  {6, 1},
					 {2, 8},  {1, 4},  {152, 8}, {153, 8}, {10, 2}, {14, 4},
					 {48, 1}, {58, 2}, {99, 3},  {60, 1}};
	static const uint16_t f6[][2] = {{27, 16}, {28, 16}, {62, 16}, {56, 6}, {80, 6},
					 {70, 3},  {71, 3},  {32, 2},  {2, 4},  {313, 0xffff}};
	static const uint16_t fo[][2] = {{149, 4}, {34, 4}, {160, 8}};
	struct nm_fzs_w w = {nm_fzs_dgram, 0};
	/* IPFIX: options template and data, two data templates, data */
	nm_fzs_be(&w, 10, 2);
	nm_fzs_be(&w, 0, 2);
	nm_fzs_be(&w, NM_FUZZ_T0_S, 4);
	nm_fzs_be(&w, 5, 4);
	nm_fzs_be(&w, 7, 4);
	size_t at = w.n;
	nm_fzs_be(&w, 3, 2);
	nm_fzs_be(&w, 0, 2);
	nm_fzs_be(&w, 300, 2);
	nm_fzs_be(&w, 3, 2);
	nm_fzs_be(&w, 1, 2);
	for (unsigned i = 0; i < 3; i++) {
		nm_fzs_be(&w, fo[i][0], 2);
		nm_fzs_be(&w, fo[i][1], 2);
	}
	w.p[at + 3] = (uint8_t)(w.n - at);
	nm_fzs_be(&w, 300, 2);
	nm_fzs_be(&w, 4 + 16, 2);
	nm_fzs_be(&w, 7, 4);
	nm_fzs_be(&w, 1000, 4);
	nm_fzs_be(&w, 1600000000000ull, 8);
	at = w.n;
	nm_fzs_be(&w, 2, 2);
	nm_fzs_be(&w, 0, 2);
	nm_fzs_tmpl(&w, 256, f4, sizeof(f4) / sizeof(f4[0]));
	nm_fzs_tmpl(&w, 257, f6, sizeof(f6) / sizeof(f6[0]));
	w.p[at + 2] = (uint8_t)((w.n - at) >> 8);
	w.p[at + 3] = (uint8_t)(w.n - at);
	at = w.n;
	nm_fzs_be(&w, 256, 2);
	nm_fzs_be(&w, 0, 2);
	for (unsigned i = 0; i < 77; i++)
		nm_fzs_be(&w, i * 7u + 1u, 1);
	w.p[at + 3] = (uint8_t)(w.n - at);
	w.p[2] = (uint8_t)(w.n >> 8);
	w.p[3] = (uint8_t)w.n;
	nm_fzs_decode(d, &a, 4739, 10, w.p, w.n);
	/* NetFlow v9: a template and its data */
	w.n = 0;
	nm_fzs_be(&w, 9, 2);
	nm_fzs_be(&w, 2, 2);
	nm_fzs_be(&w, 5000, 4);
	nm_fzs_be(&w, NM_FUZZ_T0_S, 4);
	nm_fzs_be(&w, 41, 4);
	nm_fzs_be(&w, 3, 4);
	nm_fzs_be(&w, 0, 2);
	nm_fzs_be(&w, 4 + 4 + 16, 2);
	static const uint16_t fv[][2] = {{8, 4}, {21, 4}, {22, 4}, {1, 4}};
	nm_fzs_tmpl(&w, 260, fv, 4);
	nm_fzs_be(&w, 260, 2);
	nm_fzs_be(&w, 4 + 16, 2);
	for (unsigned i = 0; i < 16; i++)
		nm_fzs_be(&w, i + 3u, 1);
	nm_fzs_decode(d, &a, 2055, 9, w.p, w.n);
	NM_FUZZ_CHECK(nm_decoder_template_count(d) == 4);
	size_t n = nm_decoder_state_save(d, NM_FZS_NOW, out, cap);
	NM_FUZZ_CHECK(n > NM_FZS_HDR);
	return n;
}

static void nm_fzs_put(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = bytes; i > 0; i--, v >>= 8)
		p[i - 1] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	size_t len;
	if (flags & 1) {
		len = size - 1 < sizeof(nm_fzs_file) ? size - 1 : sizeof(nm_fzs_file);
		memcpy(nm_fzs_file, data + 1, len);
	} else {
		len = nm_fzs_baseline(nm_fzs_file, sizeof(nm_fzs_file));
		for (size_t i = 1; i + 3 <= size; i += 3) {
			size_t off = NM_FZS_HDR + ((size_t)data[i] << 8 | data[i + 1]) % (len - NM_FZS_HDR);
			nm_fzs_file[off] = data[i + 2];
		}
	}
	if ((flags & 2) && len >= NM_FZS_HDR) {
		nm_fzs_put(nm_fzs_file + 8, nm_tmpl_layout_fp(), 8);
		nm_fzs_put(nm_fzs_file + 16, NM_FZS_NOW, 8);
		nm_fzs_put(nm_fzs_file + 32, len - NM_FZS_HDR, 8);
		nm_fzs_put(nm_fzs_file + 40,
			   nm_hash64(0x4e4d4453u, nm_fzs_file + NM_FZS_HDR, len - NM_FZS_HDR), 8);
	}
	/* exactly len bytes on the heap, so ASan sees any read past the file */
	uint8_t *file = malloc(len ? len : 1);
	NM_FUZZ_CHECK(file != NULL);
	memcpy(file, nm_fzs_file, len);
	struct nm_decoder *d = nm_fzs_decoder((flags & 4) != 0);
	struct nm_state_info info;
	enum nm_state_err e = nm_decoder_state_load(d, file, len, NM_FZS_NOW,
						    (flags & 8) ? 3600ull * 1000000000ull : 0, &info);
	free(file);
	NM_FUZZ_CHECK((unsigned)e < NM_STATE__COUNT);
	const struct nm_decode_stats *st = nm_decoder_stats(d);
	NM_FUZZ_CHECK(st->datagrams == 0);
	if (e != NM_STATE_OK) {
		NM_FUZZ_CHECK(nm_decoder_exporter_count(d) == 0 && nm_decoder_template_count(d) == 0);
		return 0;
	}
	NM_FUZZ_CHECK(nm_decoder_exporter_count(d) == info.exporters);
	NM_FUZZ_CHECK(nm_decoder_template_count(d) == info.templates);
	NM_FUZZ_CHECK(info.exporters <= d->cfg.max_exporters && info.templates <= d->cfg.max_templates);
	/* Traffic through every loaded template, from its own exporter. */
	for (uint32_t ei = 0; ei < d->exp_fresh; ei++) {
		const struct nm_exporter *x = &d->exp[ei];
		if (!x->in_use || (x->version != 9 && x->version != 10))
			continue;
		struct nm_addr a = x->addr;
		uint16_t port = x->port;
		uint8_t version = x->version;
		uint32_t domain = x->domain;
		uint16_t ids[16];
		unsigned nid = 0;
		for (uint32_t ti = x->tmpl_head; ti != NM_NIL && nid < 16;) {
			const struct nm_tmpl *t = nm_tmpl_at(d, ti);
			NM_FUZZ_CHECK(t->in_use && t->exp == ei && t->nops <= d->cfg.max_fields_per_template);
			ids[nid++] = t->id;
			ti = t->next;
		}
		for (unsigned k = 0; k < nid; k++) {
			struct nm_fzs_w w = {nm_fzs_dgram, 0};
			nm_fzs_be(&w, version, 2);
			nm_fzs_be(&w, version == 9 ? 1 : 0, 2);
			if (version == 9)
				nm_fzs_be(&w, 5000, 4);
			nm_fzs_be(&w, NM_FUZZ_T0_S, 4);
			nm_fzs_be(&w, 1, 4);
			nm_fzs_be(&w, domain, 4);
			size_t at = w.n;
			nm_fzs_be(&w, ids[k], 2);
			nm_fzs_be(&w, 0, 2);
			for (unsigned i = 0; i < 600; i++)
				nm_fzs_be(&w, (i * 13u + k) & 0x3f, 1);
			nm_fzs_put(w.p + at + 2, w.n - at, 2);
			if (version == 10)
				nm_fzs_put(w.p + 2, w.n, 2);
			nm_fzs_decode(d, &a, port, version, w.p, w.n);
			/* an exporter evicted by the traffic ends the loop */
			if (!d->exp[ei].in_use)
				break;
		}
	}
	NM_FUZZ_CHECK(st->datagrams == st->datagrams_ok + nm_decode_stats_rejected(st));
	NM_FUZZ_CHECK(nm_decoder_template_count(d) <= d->cfg.max_templates);
	return 0;
}
