/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Structure-aware mutator for the NetFlow v9 and IPFIX fuzz targets; what
 * each operation does is in nm_fuzz_mut.h.
 *
 * Two passes over the input: the first lists the template records of every
 * datagram; one is chosen and changed. The second writes the input out
 * again datagram by datagram, set by set: the chosen template record in its
 * new form, and every data set with its ID (same export version, later in
 * the input, until a template record defines that ID again) re-laid out
 * record by record from the old field list to the new one. Whatever does
 * not parse is copied byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "nm_fuzz.h"
#include "nm_fuzz_mut.h"

/* libFuzzer's own mutation; weak so the replay build links without it. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

#define MUT_FMAX 520     /* fields kept per template (the decoder's cap is 512) */
#define MUT_TMAX 256     /* template records looked at per input */
#define MUT_OUT (1u << 20)
#define MUT_VARLEN 0xffffu

struct mut_field {
	uint16_t type; /* IPFIX: with the enterprise bit */
	uint16_t len;
	uint32_t pen;
};

struct mut_tmpl {
	uint16_t tid;
	uint16_t n;
	uint16_t nscope;
	uint8_t opts;     /* an options template */
	uint8_t withdraw; /* IPFIX withdrawal (count 0) */
	struct mut_field f[MUT_FMAX];
};

/* Where a template record sits: datagram, byte offset in the payload. */
struct mut_loc {
	uint32_t dg;
	uint32_t off;
	uint16_t tid;
	uint8_t version;
};

struct mut_rng {
	uint64_t s;
};

static uint32_t mut_r(struct mut_rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t mut_below(struct mut_rng *r, uint32_t n)
{
	return n ? mut_r(r) % n : 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- output ---- */

struct mut_w {
	uint8_t *p;
	size_t n, cap;
	int over;
};

static void w_bytes(struct mut_w *w, const void *p, size_t n)
{
	if (w->over || n > w->cap - w->n) {
		w->over = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->n, p, n);
	w->n += n;
}

static void w_u8(struct mut_w *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct mut_w *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	w_bytes(w, b, 2);
}

static void w_u32(struct mut_w *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	w_bytes(w, b, 4);
}

static void w_put16(struct mut_w *w, size_t at, uint16_t v)
{
	if (w->over || at + 2 > w->n)
		return;
	w->p[at] = (uint8_t)(v >> 8);
	w->p[at + 1] = (uint8_t)v;
}

static void w_random(struct mut_w *w, struct mut_rng *r, size_t n)
{
	int zero = mut_below(r, 3) == 0;
	for (size_t i = 0; i < n && !w->over; i++)
		w_u8(w, zero ? 0 : (uint8_t)mut_r(r));
}

/* ---- input datagrams ---- */

struct mut_dg {
	const uint8_t *hdr; /* the 4-byte harness header */
	const uint8_t *p;   /* payload */
	size_t len;
};

#define MUT_DGMAX 1024

/* Splits an input into datagrams (payload cut to what is left, as the
 * harness does). Returns the count; *tail gets the bytes after the last
 * full header (fewer than 4). */
static size_t mut_split(const uint8_t *data, size_t size, struct mut_dg *dg, size_t max,
			size_t *tail)
{
	size_t n = 0, left = size - NM_FUZZ_NF_HDR;
	const uint8_t *p = data + NM_FUZZ_NF_HDR;
	while (left >= NM_FUZZ_DGRAM_HDR && n < max) {
		size_t len = be16(p + 2);
		p += NM_FUZZ_DGRAM_HDR;
		left -= NM_FUZZ_DGRAM_HDR;
		if (len > left)
			len = left;
		dg[n].hdr = p - NM_FUZZ_DGRAM_HDR;
		dg[n].p = p;
		dg[n].len = len;
		n++;
		p += len;
		left -= len;
	}
	*tail = left;
	return n;
}

/* Export version of a payload (9, 10) or 0 when it is neither or too short. */
static int mut_version(const uint8_t *p, size_t len)
{
	if (len >= 20 && be16(p) == 9)
		return 9;
	if (len >= 16 && be16(p) == 10)
		return 10;
	return 0;
}

static size_t mut_hdr_len(int version)
{
	return version == 9 ? 20 : 16;
}

static int mut_is_tmpl_set(int version, uint16_t id)
{
	return version == 9 ? id <= 1 : (id == 2 || id == 3);
}

static int mut_is_opts_set(int version, uint16_t id)
{
	return version == 9 ? id == 1 : id == 3;
}

/* Parses one template record at p (left bytes). Returns its size, 0 if it
 * does not parse (truncated, too many fields, v9 lengths not in fields). */
static size_t mut_tmpl_parse(const uint8_t *p, size_t left, int version, int opts,
			     struct mut_tmpl *t)
{
	if (left < 4)
		return 0;
	t->tid = be16(p);
	t->opts = (uint8_t)opts;
	t->withdraw = 0;
	t->nscope = 0;
	size_t off;
	uint32_t n;
	if (version == 9 && opts) {
		if (left < 6)
			return 0;
		uint16_t sl = be16(p + 2), ol = be16(p + 4);
		if (sl % 4 || ol % 4)
			return 0;
		n = (uint32_t)(sl + ol) / 4;
		t->nscope = (uint16_t)(sl / 4);
		off = 6;
	} else {
		n = be16(p + 2);
		off = 4;
		if (n == 0 && version == 10) {
			t->withdraw = 1;
			t->n = 0;
			return 4;
		}
		if (opts) {
			if (left < 6)
				return 0;
			t->nscope = be16(p + 4);
			off = 6;
		}
	}
	if (n > MUT_FMAX)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (left - off < 4)
			return 0;
		struct mut_field *f = &t->f[i];
		f->type = be16(p + off);
		f->len = be16(p + off + 2);
		f->pen = 0;
		off += 4;
		if (version == 10 && (f->type & 0x8000)) {
			if (left - off < 4)
				return 0;
			f->pen = be32(p + off);
			off += 4;
		}
	}
	t->n = (uint16_t)n;
	return off;
}

static void mut_tmpl_write(struct mut_w *w, const struct mut_tmpl *t, int version)
{
	w_u16(w, t->tid);
	if (t->withdraw) {
		w_u16(w, 0);
		return;
	}
	if (version == 9 && t->opts) {
		uint16_t ns = t->nscope <= t->n ? t->nscope : t->n;
		w_u16(w, (uint16_t)(ns * 4));
		w_u16(w, (uint16_t)((t->n - ns) * 4));
	} else {
		w_u16(w, t->n);
		if (t->opts)
			w_u16(w, t->nscope);
	}
	for (uint32_t i = 0; i < t->n; i++) {
		const struct mut_field *f = &t->f[i];
		w_u16(w, f->type);
		w_u16(w, f->len);
		if (version == 10 && (f->type & 0x8000))
			w_u32(w, f->pen);
	}
}

/* One data record under t: offsets of each field's content and the
 * variable-length prefix size. Returns the record size, 0 if it does not
 * fit in left or has no bytes at all. */
struct mut_slices {
	uint32_t off[MUT_FMAX];
	uint32_t clen[MUT_FMAX];
	uint8_t pfx[MUT_FMAX];
};

static size_t mut_rec_parse(const uint8_t *p, size_t left, const struct mut_tmpl *t,
			    int version, struct mut_slices *s)
{
	size_t off = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t len = t->f[i].len;
		uint8_t pfx = 0;
		if (version == 10 && len == MUT_VARLEN) {
			if (left - off < 1)
				return 0;
			len = p[off];
			pfx = 1;
			if (len == 255) {
				if (left - off < 3)
					return 0;
				len = be16(p + off + 1);
				pfx = 3;
			}
		}
		if (left - off - pfx < len)
			return 0;
		s->pfx[i] = pfx;
		s->off[i] = (uint32_t)(off + pfx);
		s->clen[i] = len;
		off += pfx + len;
	}
	return off;
}

/* Writes content c (n bytes) as a field of length len (the new layout). */
static void mut_value_write(struct mut_w *w, struct mut_rng *r, const uint8_t *c, size_t n,
			    uint16_t len, int version)
{
	if (version == 10 && len == MUT_VARLEN) {
		if (n < 255 && mut_below(r, 8)) {
			w_u8(w, (uint8_t)n);
		} else {
			w_u8(w, 255);
			w_u16(w, (uint16_t)(n > 0xffff ? 0xffff : n));
			if (n > 0xffff)
				n = 0xffff;
		}
		w_bytes(w, c, n);
	} else if (len <= n) {
		/* big-endian numbers keep their low bytes */
		w_bytes(w, c + (n - len), len);
	} else {
		for (size_t i = n; i < len; i++)
			w_u8(w, 0);
		w_bytes(w, c, n);
	}
}

/* A value for a field that had none (inserted field, new record). */
static void mut_value_new(struct mut_w *w, struct mut_rng *r, uint16_t len, int version)
{
	if (version == 10 && len == MUT_VARLEN) {
		uint32_t n = mut_below(r, 4) ? mut_below(r, 40) : 250 + mut_below(r, 300);
		if (n < 255 && mut_below(r, 4)) {
			w_u8(w, (uint8_t)n);
		} else {
			w_u8(w, 255);
			w_u16(w, (uint16_t)n);
		}
		w_random(w, r, n);
	} else {
		w_random(w, r, len);
	}
}

/* ---- choices ---- */

/* IEs the decoder maps (decoders/netflow.c), NSEL's, and a few it does not. */
static const uint16_t mut_ies[] = {
	1,   2,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,
	21,  22,  27,  28,  29,  30,  31,  32,  34,  35,  48,  49,  50,  52,  53,  54,  56,
	57,  58,  59,  60,  61,  62,  63,  70,  71,  72,  75,  79,  80,  81,  85,  86,  88,
	89,  128, 136, 139, 148, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161,
	162, 176, 177, 178, 179, 192, 225, 226, 227, 228, 234, 235, 239, 243, 254, 256, 281,
	282, 302, 305, 306, 309, 310, 312, 313, 315, 319, 320, 0,   40001, 40002, 40003, 40004,
};
#define MUT_NIES (sizeof(mut_ies) / sizeof(mut_ies[0]))

/* The length an IE usually has (0: any). */
static uint16_t mut_natural_len(uint16_t ie)
{
	switch (ie) {
	case 1: case 2: case 148: case 151: case 150: case 154: case 155: case 156: case 157:
	case 160:
		return 8;
	case 4: case 5: case 6: case 9: case 13: case 29: case 30: case 35: case 49: case 60:
	case 61: case 136:
		return 1;
	case 7: case 11: case 32: case 58: case 59: case 139: case 176: case 177: case 178:
	case 179: case 227: case 228: case 243: case 254: case 40003: case 40004:
		return 2;
	case 27: case 28: case 62: case 63: case 281: case 282:
		return 16;
	case 31: case 70: case 71: case 72: case 75: case 79:
		return 3;
	case 56: case 57: case 80: case 81:
		return 6;
	case 313: case 315:
		return MUT_VARLEN;
	default:
		return 4;
	}
}

static uint16_t mut_pick_len(struct mut_rng *r, uint16_t ie, int version)
{
	static const uint16_t lens[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 32, 255, 256};
	switch (mut_below(r, 8)) {
	case 0: case 1: case 2:
		return mut_natural_len(ie) == MUT_VARLEN && version == 9 ? 64 : mut_natural_len(ie);
	case 3:
		return version == 10 ? MUT_VARLEN : (uint16_t)mut_r(r);
	case 4:
		return (uint16_t)(1 + mut_below(r, 600));
	default:
		return lens[mut_below(r, sizeof(lens) / sizeof(lens[0]))];
	}
}

static uint16_t mut_pick_ie(struct mut_rng *r, int version, uint32_t *pen)
{
	*pen = 0;
	uint32_t k = mut_below(r, 16);
	if (k < 12)
		return mut_ies[mut_below(r, MUT_NIES)];
	if (k < 14 && version == 10) {
		static const uint32_t pens[] = {9, 29305, 6876, 2636, 1, 0xffffffffu};
		*pen = pens[mut_below(r, 6)];
		return (uint16_t)(0x8000 | mut_below(r, 400));
	}
	return (uint16_t)mut_r(r);
}

/* A random template of 1..12 fields, mostly known IEs at their lengths. */
static void mut_tmpl_random(struct mut_rng *r, struct mut_tmpl *t, int version, uint16_t tid)
{
	t->tid = tid;
	t->opts = 0;
	t->withdraw = 0;
	t->nscope = 0;
	t->n = (uint16_t)(1 + mut_below(r, 12));
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t pen;
		t->f[i].type = mut_pick_ie(r, version, &pen);
		t->f[i].pen = pen;
		t->f[i].len = mut_below(r, 4) ? mut_natural_len(t->f[i].type & 0x7fff)
					      : mut_pick_len(r, t->f[i].type, version);
		if (version == 9 && t->f[i].len == MUT_VARLEN)
			t->f[i].len = 4;
	}
	if (mut_below(r, 6) == 0) {
		t->opts = 1;
		t->nscope = (uint16_t)(1 + mut_below(r, t->n));
	}
}

/* ---- the operation ---- */

struct mut_plan {
	int op;
	struct mut_loc at;         /* the template record changed */
	struct mut_tmpl old, neu;
	int32_t map[MUT_FMAX];     /* new field -> old field, -1 = inserted */
	int rec_kind;              /* REC: 0 dup, 1 delete, 2 cut, 3 pad */
	int rec_sets;              /* REC: data sets still to change */
};

/* Applies op to p->old, giving p->neu and p->map; 0 if it cannot apply. */
static int mut_plan_tmpl(struct mut_plan *p, struct mut_rng *r, const struct nm_fuzz_mut_req *q,
			 int version)
{
	struct mut_tmpl *o = &p->old, *t = &p->neu;
	*t = *o;
	for (uint32_t i = 0; i < o->n; i++)
		p->map[i] = (int32_t)i;
	uint32_t k = o->n ? (q->field >= 0 ? (uint32_t)q->field % o->n : mut_below(r, o->n)) : 0;
	switch (p->op) {
	case NM_FUZZ_MUT_LEN:
		if (o->n == 0)
			return 0;
		t->f[k].len = q->len >= 0 ? (uint16_t)q->len
					  : mut_pick_len(r, t->f[k].type & 0x7fff, version);
		return 1;
	case NM_FUZZ_MUT_TYPE: {
		if (o->n == 0)
			return 0;
		uint32_t pen = 0;
		t->f[k].type = q->type >= 0 ? (uint16_t)q->type : mut_pick_ie(r, version, &pen);
		t->f[k].pen = pen;
		return 1;
	}
	case NM_FUZZ_MUT_INS: {
		if (o->n >= MUT_FMAX)
			return 0;
		uint32_t at = q->field >= 0 ? (uint32_t)q->field % (o->n + 1u)
					    : mut_below(r, o->n + 1u);
		uint32_t pen = 0;
		uint16_t ie = q->type >= 0 ? (uint16_t)q->type : mut_pick_ie(r, version, &pen);
		uint16_t len = q->len >= 0 ? (uint16_t)q->len : mut_pick_len(r, ie & 0x7fff, version);
		memmove(&t->f[at + 1], &t->f[at], (o->n - at) * sizeof(t->f[0]));
		memmove(&p->map[at + 1], &p->map[at], (o->n - at) * sizeof(p->map[0]));
		t->f[at].type = ie;
		t->f[at].len = len;
		t->f[at].pen = pen;
		p->map[at] = -1;
		t->n++;
		if (t->opts && at < t->nscope)
			t->nscope++;
		return 1;
	}
	case NM_FUZZ_MUT_DEL:
		if (o->n == 0)
			return 0;
		memmove(&t->f[k], &t->f[k + 1], (o->n - k - 1) * sizeof(t->f[0]));
		memmove(&p->map[k], &p->map[k + 1], (o->n - k - 1) * sizeof(p->map[0]));
		t->n--;
		if (t->opts && k < t->nscope && t->nscope > 0)
			t->nscope--;
		return 1;
	case NM_FUZZ_MUT_SWAP: {
		if (o->n < 2)
			return 0;
		uint32_t k2 = q->field2 >= 0 ? (uint32_t)q->field2 % o->n : mut_below(r, o->n);
		struct mut_field f = t->f[k];
		t->f[k] = t->f[k2];
		t->f[k2] = f;
		p->map[k] = (int32_t)k2;
		p->map[k2] = (int32_t)k;
		return 1;
	}
	case NM_FUZZ_MUT_TID:
		t->tid = q->tid >= 0 ? (uint16_t)q->tid
		       : mut_below(r, 8) ? (uint16_t)(256 + mut_below(r, 32)) : (uint16_t)mut_r(r);
		return 1;
	case NM_FUZZ_MUT_SCOPE:
		if (!o->opts)
			return 0;
		t->nscope = mut_below(r, 4) ? (uint16_t)mut_below(r, o->n + 2u) : (uint16_t)mut_r(r);
		if (version == 9 && t->nscope > t->n)
			t->nscope = t->n;
		return 1;
	case NM_FUZZ_MUT_REC:
		p->rec_kind = (int)mut_below(r, 4);
		p->rec_sets = 1 + (int)mut_below(r, 3);
		return o->n > 0;
	default:
		return 0;
	}
}

/* Writes the records of a data set body b (n bytes) laid out by old, in the
 * layout of neu (and the REC operation when it applies). */
static void mut_data_body(struct mut_w *w, struct mut_rng *r, struct mut_plan *p, const uint8_t *b,
			  size_t n, int version)
{
	static struct mut_slices s;
	size_t off = 0;
	uint32_t nrec = 0;
	int rec = p->op == NM_FUZZ_MUT_REC && p->rec_sets > 0;
	uint32_t target = rec ? mut_below(r, 4) : 0;
	for (;;) {
		size_t rl = mut_rec_parse(b + off, n - off, &p->old, version, &s);
		if (rl == 0)
			break;
		const uint8_t *rp = b + off;
		int copies = 1;
		if (rec && nrec == target && p->rec_kind == 0)
			copies = 2 + (int)mut_below(r, 3);
		if (rec && nrec == target && p->rec_kind == 1)
			copies = 0;
		for (int c = 0; c < copies; c++) {
			if (p->op == NM_FUZZ_MUT_REC || p->op == NM_FUZZ_MUT_TID ||
			    p->op == NM_FUZZ_MUT_TYPE || p->op == NM_FUZZ_MUT_SCOPE) {
				w_bytes(w, rp, rl);
				continue;
			}
			for (uint32_t j = 0; j < p->neu.n; j++) {
				int32_t oi = p->map[j];
				if (oi < 0)
					mut_value_new(w, r, p->neu.f[j].len, version);
				else
					mut_value_write(w, r, rp + s.off[oi], s.clen[oi],
							p->neu.f[j].len, version);
			}
		}
		if (rec && nrec == target && p->rec_kind == 2) {
			/* the record cut short: what follows is its first bytes */
			size_t cut = rl > 1 ? 1 + mut_below(r, (uint32_t)rl - 1) : 0;
			w_bytes(w, rp, cut);
		}
		off += rl;
		nrec++;
		if (off >= n)
			break;
	}
	/* padding, or bytes too short for a record */
	w_bytes(w, b + off, n - off);
	if (rec && p->rec_kind == 3)
		w_random(w, r, 1 + mut_below(r, 7));
	if (rec)
		p->rec_sets--;
}

/* Writes fresh records for t (1..4, or as many as fit a set). */
static void mut_data_fresh(struct mut_w *w, struct mut_rng *r, const struct mut_tmpl *t,
			   int version)
{
	uint32_t nrec = 1 + mut_below(r, 4);
	for (uint32_t k = 0; k < nrec && !w->over; k++)
		for (uint32_t j = 0; j < t->n; j++)
			mut_value_new(w, r, t->f[j].len, version);
}

/* Lists the template records of the input's datagrams of the target
 * version (and of the other one: decode_any reaches both). */
static size_t mut_find_tmpls(const struct mut_dg *dg, size_t ndg, struct mut_loc *loc,
			     size_t max)
{
	static struct mut_tmpl t;
	size_t n = 0;
	for (size_t i = 0; i < ndg; i++) {
		int v = mut_version(dg[i].p, dg[i].len);
		if (!v)
			continue;
		size_t off = mut_hdr_len(v);
		while (dg[i].len - off >= 4) {
			uint16_t id = be16(dg[i].p + off), sl = be16(dg[i].p + off + 2);
			if (sl < 4 || sl > dg[i].len - off)
				break;
			if (mut_is_tmpl_set(v, id)) {
				size_t ro = off + 4, end = off + sl;
				while (end - ro >= 4) {
					size_t rl = mut_tmpl_parse(dg[i].p + ro, end - ro, v,
								   mut_is_opts_set(v, id), &t);
					if (rl == 0)
						break;
					if (n < max && !t.withdraw) {
						loc[n].dg = (uint32_t)i;
						loc[n].off = (uint32_t)ro;
						loc[n].tid = t.tid;
						loc[n].version = (uint8_t)v;
						n++;
					}
					ro += rl;
				}
			}
			off += sl;
		}
	}
	return n;
}

/* Writes a message header for version from the template's datagram (its
 * exporter, sequence, domain) or a fresh one; returns its offset. */
static size_t mut_msg_header(struct mut_w *w, const struct mut_dg *src, int version,
			     struct mut_rng *r)
{
	size_t at = w->n;
	size_t hl = mut_hdr_len(version);
	if (src && mut_version(src->p, src->len) == version) {
		w_bytes(w, src->p, hl);
	} else {
		w_u16(w, (uint16_t)version);
		w_u16(w, 0);
		if (version == 9)
			w_u32(w, 5000);
		w_u32(w, 1700000000u);
		w_u32(w, mut_below(r, 4));
		w_u32(w, mut_below(r, 2));
	}
	return at;
}

static void mut_msg_end(struct mut_w *w, size_t at, int version, uint16_t v9_count)
{
	if (version == 10)
		w_put16(w, at + 2, (uint16_t)(w->n - at));
	else if (v9_count)
		w_put16(w, at + 2, v9_count);
}

/* A whole datagram (harness header and payload): template t in its own set
 * (unless data_only), then a data set of fresh records for it. */
static void mut_dgram_new(struct mut_w *w, struct mut_rng *r, const struct mut_tmpl *t,
			  int version, uint8_t ctl, const struct mut_dg *src, int data_only)
{
	w_u8(w, ctl);
	w_u8(w, (uint8_t)mut_below(r, 3));
	size_t lat = w->n;
	w_u16(w, 0);
	size_t mat = mut_msg_header(w, src, version, r);
	if (!data_only) {
		size_t sat = w->n;
		w_u16(w, version == 9 ? (uint16_t)(t->opts ? 1 : 0) : (uint16_t)(t->opts ? 3 : 2));
		w_u16(w, 0);
		mut_tmpl_write(w, t, version);
		w_put16(w, sat + 2, (uint16_t)(w->n - sat));
	}
	size_t sat = w->n;
	w_u16(w, t->tid);
	w_u16(w, 0);
	mut_data_fresh(w, r, t, version);
	if (version == 9)
		while ((w->n - sat) % 4 && !w->over)
			w_u8(w, 0);
	w_put16(w, sat + 2, (uint16_t)(w->n - sat));
	mut_msg_end(w, mat, version, 2);
	if (w->n - lat - 2 > 0xffff)
		w->over = 1;
	w_put16(w, lat, (uint16_t)(w->n - lat - 2));
}

/* Rewrites one datagram's payload under plan p; *active tracks whether the
 * changed template is still the one in force for its ID. */
static void mut_dgram_rewrite(struct mut_w *w, struct mut_rng *r, struct mut_plan *p,
			      const struct mut_dg *d, uint32_t di, int *active)
{
	static struct mut_tmpl t;
	int v = mut_version(d->p, d->len);
	if (!v || v != p->at.version) {
		w_bytes(w, d->p, d->len);
		return;
	}
	size_t mat = w->n;
	size_t hl = mut_hdr_len(v);
	w_bytes(w, d->p, hl);
	size_t off = hl;
	while (d->len - off >= 4) {
		uint16_t id = be16(d->p + off), sl = be16(d->p + off + 2);
		if (sl < 4 || sl > d->len - off)
			break;
		const uint8_t *body = d->p + off + 4;
		size_t bn = sl - 4u;
		size_t sat = w->n;
		if (mut_is_tmpl_set(v, id)) {
			w_bytes(w, d->p + off, 4);
			size_t ro = 0;
			while (bn - ro >= 4) {
				size_t rl = mut_tmpl_parse(body + ro, bn - ro, v, mut_is_opts_set(v, id),
							   &t);
				if (rl == 0)
					break;
				if (di == p->at.dg && off + 4 + ro == p->at.off) {
					mut_tmpl_write(w, &p->neu, v);
					*active = 1;
				} else {
					w_bytes(w, body + ro, rl);
					if (*active && t.tid == p->old.tid)
						*active = 0; /* redefined: later data is not ours */
				}
				ro += rl;
			}
			w_bytes(w, body + ro, bn - ro);
		} else if (id >= 256 && *active && id == p->old.tid) {
			w_u16(w, p->neu.tid);
			w_u16(w, 0);
			mut_data_body(w, r, p, body, bn, v);
		} else {
			w_bytes(w, d->p + off, sl);
		}
		if (w->n - sat > 0xffff)
			w->over = 1;
		w_put16(w, sat + 2, (uint16_t)(w->n - sat));
		off += sl;
	}
	w_bytes(w, d->p + off, d->len - off);
	mut_msg_end(w, mat, v, 0);
}

/* Parses the template record at l in d with the layout of its set
 * (options or not). Returns 0 if it does not parse. */
static int mut_tmpl_at(const struct mut_dg *d, const struct mut_loc *l, struct mut_tmpl *t)
{
	for (size_t off = mut_hdr_len(l->version); d->len - off >= 4;) {
		uint16_t id = be16(d->p + off), sl = be16(d->p + off + 2);
		if (sl < 4 || sl > d->len - off)
			return 0;
		if (l->off > off && l->off < off + sl)
			return mut_tmpl_parse(d->p + l->off, off + sl - l->off, l->version,
					      mut_is_opts_set(l->version, id), t) != 0;
		off += sl;
	}
	return 0;
}

static uint8_t mut_out[MUT_OUT];
static struct mut_dg mut_dgs[MUT_DGMAX];
static struct mut_loc mut_locs[MUT_TMAX];
static struct mut_plan mut_p;

size_t nm_fuzz_mut(uint8_t *data, size_t size, size_t max_size, uint32_t seed, int version,
		   const struct nm_fuzz_mut_req *req)
{
	static const struct nm_fuzz_mut_req any = {-1, -1, -1, -1, -1, -1, -1};
	const struct nm_fuzz_mut_req *q = req ? req : &any;
	struct mut_rng r = {0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 17 | seed)};
	if (size < NM_FUZZ_NF_HDR)
		return 0;
	size_t tail;
	size_t ndg = mut_split(data, size, mut_dgs, MUT_DGMAX, &tail);
	size_t nt = mut_find_tmpls(mut_dgs, ndg, mut_locs, MUT_TMAX);
	struct mut_w w = {mut_out, 0, max_size < MUT_OUT ? max_size : MUT_OUT, 0};
	struct mut_plan *p = &mut_p;
	p->op = q->op >= 0 ? q->op : (int)mut_below(&r, NM_FUZZ_MUT__COUNT);
	if (nt == 0 && p->op != NM_FUZZ_MUT_NEW) {
		if (q->op >= 0)
			return 0;
		p->op = NM_FUZZ_MUT_NEW;
	}
	w_bytes(&w, data, NM_FUZZ_NF_HDR);

	if (p->op == NM_FUZZ_MUT_NEW || p->op == NM_FUZZ_MUT_DATA) {
		/* A datagram inserted after a random one (or first). */
		static struct mut_tmpl t;
		const struct mut_dg *src = NULL;
		int v = mut_below(&r, 8) ? version : 19 - version;
		uint8_t ctl = (uint8_t)(mut_r(&r) & 0x3f);
		int data_only = p->op == NM_FUZZ_MUT_DATA;
		size_t after;
		if (data_only) {
			const struct mut_loc *l = &mut_locs[q->tmpl >= 0 ? (size_t)q->tmpl % nt
								      : mut_below(&r, (uint32_t)nt)];
			src = &mut_dgs[l->dg];
			v = l->version;
			ctl = src->hdr[0];
			if (!mut_tmpl_at(src, l, &t) || t.n == 0 || t.withdraw)
				return 0;
			after = l->dg + 1 + mut_below(&r, (uint32_t)(ndg - l->dg));
		} else {
			if (ndg)
				src = &mut_dgs[mut_below(&r, (uint32_t)ndg)];
			if (src && mut_version(src->p, src->len))
				ctl = src->hdr[0];
			mut_tmpl_random(&r, &t, v, (uint16_t)(256 + mut_below(&r, 16)));
			after = mut_below(&r, (uint32_t)ndg + 1);
		}
		if (v != version)
			ctl |= 0x40; /* through nm_decode_any() */
		for (size_t i = 0; i < ndg; i++) {
			if (i == after)
				mut_dgram_new(&w, &r, &t, v, ctl, src, data_only);
			w_bytes(&w, mut_dgs[i].hdr, NM_FUZZ_DGRAM_HDR + mut_dgs[i].len);
		}
		if (after >= ndg)
			mut_dgram_new(&w, &r, &t, v, ctl, src, data_only);
		w_bytes(&w, data + size - tail, tail);
		if (w.over)
			return 0;
		memcpy(data, mut_out, w.n);
		return w.n;
	}

	p->at = mut_locs[q->tmpl >= 0 ? (size_t)q->tmpl % nt : mut_below(&r, (uint32_t)nt)];
	if (!mut_tmpl_at(&mut_dgs[p->at.dg], &p->at, &p->old))
		return 0;
	if (!mut_plan_tmpl(p, &r, q, p->at.version))
		return 0;
	int active = 0;
	for (size_t i = 0; i < ndg; i++) {
		const struct mut_dg *d = &mut_dgs[i];
		w_bytes(&w, d->hdr, 2);
		size_t lat = w.n;
		w_u16(&w, 0);
		if (i < p->at.dg)
			w_bytes(&w, d->p, d->len);
		else
			mut_dgram_rewrite(&w, &r, p, d, (uint32_t)i, &active);
		if (w.n - lat - 2 > 0xffff)
			return 0;
		w_put16(&w, lat, (uint16_t)(w.n - lat - 2));
	}
	w_bytes(&w, data + size - tail, tail);
	if (w.over)
		return 0;
	memcpy(data, mut_out, w.n);
	return w.n;
}

static size_t mut_fallback(uint8_t *data, size_t size, size_t max_size, struct mut_rng *r)
{
	if (LLVMFuzzerMutate)
		return LLVMFuzzerMutate(data, size, max_size);
	/* without libFuzzer (tests): flip a byte */
	if (size)
		data[mut_below(r, (uint32_t)size)] ^= (uint8_t)(1u << mut_below(r, 8));
	return size;
}

/* NM_FUZZ_MUT=0 in the environment: byte-level mutations and crossover
 * only (to compare with the structure-aware ones). */
static int mut_on(void)
{
	static int on = -1;
	if (on < 0) {
		const char *e = getenv("NM_FUZZ_MUT");
		on = e == NULL || strcmp(e, "0") != 0;
	}
	return on;
}

size_t nm_fuzz_mut_custom(uint8_t *data, size_t size, size_t max_size, unsigned int seed,
			  int version)
{
	int on = mut_on();
	struct mut_rng r = {(uint64_t)seed * 0x9e3779b97f4a7c15ull + 1};
	if (on && size >= NM_FUZZ_NF_HDR && mut_below(&r, 4) != 0) {
		size_t n = nm_fuzz_mut(data, size, max_size, mut_r(&r), version, NULL);
		if (n)
			return n;
	}
	return mut_fallback(data, size, max_size, &r);
}

size_t nm_fuzz_mut_cross(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
			 uint8_t *out, size_t max_out, unsigned int seed)
{
	struct mut_rng r = {(uint64_t)seed * 0xbf58476d1ce4e5b9ull + 7};
	static struct mut_dg a[MUT_DGMAX], b[MUT_DGMAX];
	if (s1 < NM_FUZZ_NF_HDR || s2 < NM_FUZZ_NF_HDR || max_out < NM_FUZZ_NF_HDR)
		return 0;
	if (!mut_on()) {
		/* bytes: a prefix of the first input, a suffix of the second */
		size_t k1 = mut_below(&r, (uint32_t)s1 + 1), k2 = mut_below(&r, (uint32_t)s2 + 1);
		if (k1 > max_out)
			k1 = max_out;
		if (s2 - k2 > max_out - k1)
			k2 = s2 - (max_out - k1);
		memcpy(out, d1, k1);
		memcpy(out + k1, d2 + k2, s2 - k2);
		return k1 + (s2 - k2);
	}
	size_t t1, t2;
	size_t na = mut_split(d1, s1, a, MUT_DGMAX, &t1);
	size_t nb = mut_split(d2, s2, b, MUT_DGMAX, &t2);
	struct mut_w w = {out, 0, max_out, 0};
	w_bytes(&w, d1, NM_FUZZ_NF_HDR);
	size_t ka = na ? 1 + mut_below(&r, (uint32_t)na) : 0;
	size_t kb0 = mut_below(&r, (uint32_t)nb + 1);
	for (size_t i = 0; i < ka; i++)
		w_bytes(&w, a[i].hdr, NM_FUZZ_DGRAM_HDR + a[i].len);
	for (size_t i = kb0; i < nb && !w.over; i++) {
		size_t at = w.n;
		w_bytes(&w, b[i].hdr, NM_FUZZ_DGRAM_HDR + b[i].len);
		if (w.over) {
			w.n = at;
			break;
		}
	}
	w.over = 0;
	return w.n;
}
