/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder state that survives a restart (issue 13, item 5): exporters with
 * their sequence state and sampling rates, and their templates as compiled,
 * written into a caller's buffer and loaded into a fresh decoder.
 *
 * Layout (big-endian):
 *   header (48 bytes): magic "NMDS", format u16, 0 u16, layout fingerprint
 *     u64 (nm_tmpl_layout_fp), saved at u64 (receive clock, ns), exporters
 *     u32, templates u32, body length u64, body hash u64 (nm_hash64)
 *   body: per exporter
 *     addr[16] domain u32 sub u32 port u16 version u8 flags u8 (1 proven,
 *     2 seq_valid) seq_next u32 rec_min u16 nsamplers u8 sampler_rr u8
 *     sys_init_ms default_rate last_ns seq_gaps seq_lost seq_resets (u64
 *     each), nsamplers x (id u64, rate u64), ntmpl u16, then per template
 *     id u16 options u8 used u8 nops u16 min_len u16 fix_len u16 fp u64
 *     last_ns u64 used_ns u64, nops x (len u16 kind u8 arg u8 dst u16 off u16)
 *
 * Loading validates the whole file before it changes anything, so a file
 * that is refused leaves the decoder as it was (empty). Every op must be one
 * this build's compiler can produce (nm_tmpl_op_valid) and fit the record
 * length, so a loaded template is as safe to run as a received one.
 */
#include <string.h>

#include "nf_state.h"
#include "reader.h"

#define NM_STATE_FILE_MAGIC 0x4e4d4453u /* "NMDS" */
#define NM_STATE_FORMAT 1
#define NM_STATE_HDR 48
#define NM_STATE_EXP_FIXED 84
#define NM_STATE_TMPL_FIXED 34
#define NM_STATE_OP 8
/* A file saved up to this far ahead of the loading clock is accepted (two
 * hosts' clocks, a small step back). */
#define NM_STATE_FUTURE_NS (60ull * 1000000000ull)

static const char *const nm_state_msgs[] = {
#define NM_X_(name, msg) msg,
	NM_STATE_ERRORS(NM_X_)
#undef NM_X_
};

const char *nm_state_err_message(enum nm_state_err e)
{
	return (unsigned)e < NM_STATE__COUNT ? nm_state_msgs[e] : "?";
}

struct nm_sw {
	uint8_t *p;
	size_t n, cap;
};

static void nm_sw_be(struct nm_sw *w, uint64_t v, unsigned bytes)
{
	for (unsigned i = bytes; i > 0; i--) {
		if (w->n < w->cap)
			w->p[w->n] = (uint8_t)(v >> (8 * (i - 1)));
		w->n++;
	}
}

static void nm_sw_bytes(struct nm_sw *w, const void *p, size_t n)
{
	if (w->n + n <= w->cap)
		memcpy(w->p + w->n, p, n);
	w->n += n;
}

/* Writes the body (or, with cap 0, only counts it). */
static void nm_state_body(const struct nm_decoder *d, struct nm_sw *w, uint32_t *nexp,
			  uint32_t *ntmpl)
{
	*nexp = *ntmpl = 0;
	for (uint32_t ei = 0; ei < d->exp_fresh; ei++) {
		const struct nm_exporter *e = &d->exp[ei];
		if (!e->in_use)
			continue;
		(*nexp)++;
		nm_sw_bytes(w, e->addr.b, 16);
		nm_sw_be(w, e->domain, 4);
		nm_sw_be(w, e->sub, 4);
		nm_sw_be(w, e->port, 2);
		nm_sw_be(w, e->version, 1);
		nm_sw_be(w, (e->proven ? 1u : 0u) | (e->seq_valid ? 2u : 0u), 1);
		nm_sw_be(w, e->seq_next, 4);
		nm_sw_be(w, e->rec_min, 2);
		nm_sw_be(w, e->nsamplers, 1);
		nm_sw_be(w, e->sampler_rr, 1);
		nm_sw_be(w, e->sys_init_ms, 8);
		nm_sw_be(w, e->default_rate, 8);
		nm_sw_be(w, e->last_ns, 8);
		nm_sw_be(w, e->seq_gaps, 8);
		nm_sw_be(w, e->seq_lost, 8);
		nm_sw_be(w, e->seq_resets, 8);
		for (unsigned i = 0; i < e->nsamplers; i++) {
			nm_sw_be(w, e->samplers[i].id, 8);
			nm_sw_be(w, e->samplers[i].rate, 8);
		}
		nm_sw_be(w, e->ntmpl, 2);
		for (uint32_t ti = e->tmpl_head; ti != NM_NIL;) {
			const struct nm_tmpl *t = (const struct nm_tmpl *)(const void *)(
				d->tmpl_mem + (size_t)ti * d->tmpl_stride);
			(*ntmpl)++;
			nm_sw_be(w, t->id, 2);
			nm_sw_be(w, t->options, 1);
			nm_sw_be(w, t->used, 1);
			nm_sw_be(w, t->nops, 2);
			nm_sw_be(w, t->min_len, 2);
			nm_sw_be(w, t->fix_len, 2);
			nm_sw_be(w, t->fp, 8);
			nm_sw_be(w, t->last_ns, 8);
			nm_sw_be(w, t->used_ns, 8);
			for (unsigned i = 0; i < t->nops; i++) {
				const struct nm_tmpl_op *o = &t->ops[i];
				nm_sw_be(w, o->len, 2);
				nm_sw_be(w, o->kind, 1);
				nm_sw_be(w, o->arg, 1);
				nm_sw_be(w, o->dst, 2);
				nm_sw_be(w, o->off, 2);
			}
			ti = t->next;
		}
	}
}

size_t nm_decoder_state_size(const struct nm_decoder *d)
{
	struct nm_sw w = {NULL, 0, 0};
	uint32_t ne, nt;
	nm_state_body(d, &w, &ne, &nt);
	return NM_STATE_HDR + w.n;
}

size_t nm_decoder_state_save(const struct nm_decoder *d, uint64_t now_ns, void *buf, size_t cap)
{
	size_t need = nm_decoder_state_size(d);
	if (buf == NULL || cap < need)
		return 0;
	uint8_t *p = buf;
	struct nm_sw w = {p + NM_STATE_HDR, 0, need - NM_STATE_HDR};
	uint32_t ne, nt;
	nm_state_body(d, &w, &ne, &nt);
	struct nm_sw h = {p, 0, NM_STATE_HDR};
	nm_sw_be(&h, NM_STATE_FILE_MAGIC, 4);
	nm_sw_be(&h, NM_STATE_FORMAT, 2);
	nm_sw_be(&h, 0, 2);
	nm_sw_be(&h, nm_tmpl_layout_fp(), 8);
	nm_sw_be(&h, now_ns, 8);
	nm_sw_be(&h, ne, 4);
	nm_sw_be(&h, nt, 4);
	nm_sw_be(&h, w.n, 8);
	nm_sw_be(&h, nm_hash64(NM_STATE_FILE_MAGIC, p + NM_STATE_HDR, w.n), 8);
	return need;
}

/* One template as read from the file. */
struct nm_state_tmpl {
	uint16_t id, nops, min_len, fix_len;
	uint8_t options, used;
	uint64_t fp, last_ns, used_ns;
	const uint8_t *ops;
};

static void nm_state_rd_tmpl(struct nm_reader *r, struct nm_state_tmpl *t)
{
	t->id = nm_rd_be16(r);
	t->options = nm_rd_u8(r);
	t->used = nm_rd_u8(r);
	t->nops = nm_rd_be16(r);
	t->min_len = nm_rd_be16(r);
	t->fix_len = nm_rd_be16(r);
	t->fp = nm_rd_be64(r);
	t->last_ns = nm_rd_be64(r);
	t->used_ns = nm_rd_be64(r);
	t->ops = nm_rd_bytes(r, (size_t)t->nops * NM_STATE_OP);
}

static struct nm_tmpl_op nm_state_op(const uint8_t *q)
{
	struct nm_tmpl_op o = {nm_load_be16(q), q[2], q[3], nm_load_be16(q + 4),
			       nm_load_be16(q + 6)};
	return o;
}

/* Whether a template read from the file is one a decoder could hold. */
static bool nm_state_tmpl_ok(const struct nm_state_tmpl *t)
{
	if (t->id < 256 || t->options > 1 || t->used > 1 || t->min_len == 0 ||
	    (t->fix_len && t->fix_len != t->min_len) || t->nops > NM_TMPL_FIELDS_MAX)
		return false;
	uint32_t varmin = 0;
	for (unsigned i = 0; i < t->nops; i++) {
		struct nm_tmpl_op o = nm_state_op(t->ops + (size_t)i * NM_STATE_OP);
		if (!nm_tmpl_op_valid(&o))
			return false;
		if (t->fix_len) {
			/* fixed length: every field inside the record, skips dropped */
			if (o.len == NM_VARLEN || o.kind == NM_OP_SKIP ||
			    (uint32_t)o.off + o.len > t->fix_len)
				return false;
		} else {
			if (o.off != 0)
				return false;
			varmin += o.len == NM_VARLEN ? 1u : o.len;
		}
	}
	/* variable length: the ops are every field; min_len is their sum */
	return t->fix_len || varmin == t->min_len;
}

/*
 * Walks the body; with apply false only checks it (and counts what it
 * holds), with apply true (after a successful check) loads it into d.
 */
static enum nm_state_err nm_state_walk(struct nm_decoder *d, struct nm_reader *r, uint32_t nexp,
				       uint32_t ntmpl, bool apply, struct nm_state_info *info)
{
	uint32_t seen_t = 0;
	for (uint32_t k = 0; k < nexp; k++) {
		struct nm_addr addr;
		const uint8_t *a = nm_rd_bytes(r, 16);
		uint32_t domain = nm_rd_be32(r), sub = nm_rd_be32(r);
		uint16_t port = nm_rd_be16(r);
		uint8_t version = nm_rd_u8(r), flags = nm_rd_u8(r);
		uint32_t seq_next = nm_rd_be32(r);
		uint16_t rec_min = nm_rd_be16(r);
		uint8_t nsamplers = nm_rd_u8(r), sampler_rr = nm_rd_u8(r);
		uint64_t v[6];
		for (unsigned i = 0; i < 6; i++)
			v[i] = nm_rd_be64(r);
		if (!nm_rd_ok(r))
			return NM_STATE_CORRUPT;
		if (flags > 3 || nsamplers > NM_SAMPLERS_MAX ||
		    !(version == 5 || version == 9 || version == 10 ||
		      (version >= NM_EXP_SFLOW && version <= NM_EXP_SFLOW_DROPS)))
			return NM_STATE_CORRUPT;
		const uint8_t *smp = nm_rd_bytes(r, (size_t)nsamplers * 16);
		uint16_t nt = nm_rd_be16(r);
		if (!nm_rd_ok(r))
			return NM_STATE_CORRUPT;
		struct nm_exporter *e = NULL;
		if (apply) {
			memcpy(addr.b, a, 16);
			if (d->nexp < d->cfg.max_exporters) {
				uint32_t before = d->nexp;
				e = nm_exporter_lookup(d, &addr, port, version, domain, sub, v[2],
						       false);
				if (d->nexp == before)
					e = NULL; /* the same key twice: the first stays */
			}
			if (e == NULL) {
				info->exporters_skipped++;
			} else {
				info->exporters++;
				e->seq_valid = (flags & 2) != 0;
				e->seq_next = seq_next;
				e->rec_min = rec_min;
				e->nsamplers = nsamplers;
				e->sampler_rr = sampler_rr;
				e->sys_init_ms = v[0];
				e->default_rate = v[1];
				e->seq_gaps = v[3];
				e->seq_lost = v[4];
				e->seq_resets = v[5];
				for (unsigned i = 0; i < nsamplers; i++) {
					e->samplers[i].id = nm_load_be64(smp + 16 * i);
					e->samplers[i].rate = nm_load_be64(smp + 16 * i + 8);
				}
				if (!(flags & 1)) {
					e->proven = 0;
					nm_unproven_link(d, (uint32_t)(e - d->exp));
				}
			}
		}
		for (uint32_t j = 0; j < nt; j++) {
			struct nm_state_tmpl st;
			nm_state_rd_tmpl(r, &st);
			if (!nm_rd_ok(r) || ++seen_t > ntmpl)
				return NM_STATE_CORRUPT;
			if (!apply) {
				if (!nm_state_tmpl_ok(&st))
					return NM_STATE_CORRUPT;
				continue;
			}
			bool expired;
			if (e == NULL || st.nops > d->cfg.max_fields_per_template ||
			    e->ntmpl >= d->cfg.max_templates_per_exporter ||
			    d->ntmpl >= d->cfg.max_templates ||
			    nm_tmpl_find(d, e, st.id, e->last_ns, &expired) != NULL) {
				info->templates_skipped++;
				continue;
			}
			struct nm_tmpl *t = nm_tmpl_take(d, e, st.id);
			t->options = st.options;
			t->nops = st.nops;
			t->min_len = st.min_len;
			t->fix_len = st.fix_len;
			t->fp = st.fp;
			t->last_ns = st.last_ns;
			t->used_ns = st.used_ns;
			t->wmask = 0;
			for (unsigned i = 0; i < st.nops; i++) {
				t->ops[i] = nm_state_op(st.ops + (size_t)i * NM_STATE_OP);
				if (t->ops[i].kind == NM_OP_WORK)
					t->wmask |= 1u << t->ops[i].arg;
			}
			t->ops[st.nops].kind = NM_OP_END;
			t->ops[st.nops].len = 0;
			t->etype = nm_tmpl_ops_etype(t);
			nm_tmpl_finish(t);
			if (st.used) {
				t->used = 1;
				nm_unused_unlink(d, (uint32_t)(((uint8_t *)t - d->tmpl_mem) /
								 d->tmpl_stride));
				if (!t->options && (d->rec_min_used == 0 || t->min_len < d->rec_min_used))
					d->rec_min_used = t->min_len;
			}
			info->templates++;
		}
	}
	if (seen_t != ntmpl || r->left != 0)
		return NM_STATE_CORRUPT;
	return NM_STATE_OK;
}

enum nm_state_err nm_decoder_state_load(struct nm_decoder *d, const void *buf, size_t len,
					uint64_t now_ns, uint64_t max_age_ns,
					struct nm_state_info *info)
{
	struct nm_state_info scratch;
	if (info == NULL)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	if (buf == NULL || len < NM_STATE_HDR)
		return NM_STATE_SHORT;
	struct nm_reader r = nm_rd_init(buf, len);
	uint32_t magic = nm_rd_be32(&r);
	uint16_t format = nm_rd_be16(&r);
	uint16_t zero = nm_rd_be16(&r);
	uint64_t layout = nm_rd_be64(&r);
	info->saved_ns = nm_rd_be64(&r);
	uint32_t nexp = nm_rd_be32(&r), ntmpl = nm_rd_be32(&r);
	uint64_t body = nm_rd_be64(&r), hash = nm_rd_be64(&r);
	if (magic != NM_STATE_FILE_MAGIC)
		return NM_STATE_MAGIC;
	if (format != NM_STATE_FORMAT || zero != 0 || layout != nm_tmpl_layout_fp())
		return NM_STATE_VERSION;
	if (body != r.left)
		return NM_STATE_SHORT;
	if (nm_hash64(NM_STATE_FILE_MAGIC, r.p, r.left) != hash)
		return NM_STATE_CHECKSUM;
	if (info->saved_ns > now_ns + NM_STATE_FUTURE_NS)
		return NM_STATE_FUTURE;
	if (max_age_ns && now_ns > info->saved_ns && now_ns - info->saved_ns > max_age_ns)
		return NM_STATE_TOO_OLD;
	/* A count the body cannot hold is damage, whatever the hash says. */
	if (nexp > r.left / NM_STATE_EXP_FIXED || ntmpl > r.left / NM_STATE_TMPL_FIXED)
		return NM_STATE_CORRUPT;
	if (d->nexp || d->ntmpl)
		return NM_STATE_NOT_EMPTY;
	struct nm_reader check = r;
	enum nm_state_err err = nm_state_walk(d, &check, nexp, ntmpl, false, info);
	if (err)
		return err;
	/* Loading is not traffic: the counters stay as they were. */
	struct nm_decode_stats keep = d->stats;
	err = nm_state_walk(d, &r, nexp, ntmpl, true, info);
	d->stats = keep;
	return err;
}
