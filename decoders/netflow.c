/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoders.
 *
 * NetFlow v5 (fixed layout, 24-byte header + count x 48-byte records):
 *   0 version(2) count(2) sysUptime(4) unix_secs(4) unix_nsecs(4)
 *  16 flow_sequence(4) engine_type(1) engine_id(1) sampling_interval(2)
 * NetFlow v9 header (20 bytes), then flowsets (id(2) length(2) body):
 *   0 version(2)=9 count(2) sysUptime(4) unix_secs(4) sequence(4) source_id(4)
 *   flowset 0 = templates, 1 = options templates, >= 256 = data
 * IPFIX message header (16 bytes), then sets (id(2) length(2) body):
 *   0 version(2)=10 length(2) export_time(4) sequence(4) observation_domain(4)
 *   set 2 = templates, 3 = options templates, >= 256 = data
 *
 * Templates are compiled once into a list of operations (struct nm_tmpl_op)
 * so a data record is decoded by one tight loop without looking at IE
 * numbers again; consecutive unmapped fields collapse into one skip.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "decode.h"
#include "hdr.h"
#include "nf_state.h"
#include "reader.h"

/* ---- information element map ---- */

struct nm_ie_map {
	uint8_t kind;
	uint8_t arg;
	uint16_t dst;
};

#define NM_IE_MAP_N 320
#define U32_(fld) {NM_OP_UINT, 4, offsetof(struct nm_flow, fld)}
#define U64_(fld) {NM_OP_UINT, 8, offsetof(struct nm_flow, fld)}
#define U32Z_(fld) {NM_OP_UINT_IFZERO, 4, offsetof(struct nm_flow, fld)}
#define U64Z_(fld) {NM_OP_UINT_IFZERO, 8, offsetof(struct nm_flow, fld)}
#define A4_(fld) {NM_OP_ADDR4, 0, offsetof(struct nm_flow, fld)}
#define A6_(fld) {NM_OP_ADDR6, 0, offsetof(struct nm_flow, fld)}
/* Next hops and NAT translations: 0.0.0.0 is "none" (RFC 7012: directly
 * connected, no translation), left out like :: so no 18 bytes say nothing. */
#define A4NZ_(fld) {NM_OP_ADDR4_NZ, 0, offsetof(struct nm_flow, fld)}
#define MAC_(fld) {NM_OP_MAC, 0, offsetof(struct nm_flow, fld)}
#define MACZ_(fld) {NM_OP_MAC_IFZERO, 0, offsetof(struct nm_flow, fld)}
#define W_(slot) {NM_OP_WORK, slot, 0}
#define MPLS_(i) {NM_OP_MPLS, i, 0}

/* Indexed by IANA IPFIX information element ID (= NetFlow v9 field type). */
static const struct nm_ie_map nm_ie_map[NM_IE_MAP_N] = {
	[1] = U64_(bytes),           /* octetDeltaCount */
	[2] = U64_(packets),         /* packetDeltaCount */
	[4] = U32_(proto),           /* protocolIdentifier */
	[5] = U32_(ip_tos),          /* ipClassOfService */
	[6] = U32_(tcp_flags),       /* tcpControlBits */
	[7] = U32_(src_port),        /* sourceTransportPort */
	[8] = A4_(src_addr),         /* sourceIPv4Address */
	[9] = U32_(src_net),         /* sourceIPv4PrefixLength */
	[10] = U32_(in_if),          /* ingressInterface */
	[11] = U32_(dst_port),       /* destinationTransportPort */
	[12] = A4_(dst_addr),        /* destinationIPv4Address */
	[13] = U32_(dst_net),        /* destinationIPv4PrefixLength */
	[14] = U32_(out_if),         /* egressInterface */
	[15] = A4NZ_(next_hop),        /* ipNextHopIPv4Address */
	[16] = U32_(src_as),         /* bgpSourceAsNumber */
	[17] = U32_(dst_as),         /* bgpDestinationAsNumber */
	[18] = A4NZ_(bgp_next_hop),    /* bgpNextHopIPv4Address */
	[21] = W_(NM_W_UP_END),      /* flowEndSysUpTime */
	[22] = W_(NM_W_UP_START),    /* flowStartSysUpTime */
	[27] = A6_(src_addr),        /* sourceIPv6Address */
	[28] = A6_(dst_addr),        /* destinationIPv6Address */
	[29] = U32_(src_net),        /* sourceIPv6PrefixLength */
	[30] = U32_(dst_net),        /* destinationIPv6PrefixLength */
	[31] = U32_(ipv6_flow_label), /* flowLabelIPv6 */
	[32] = {NM_OP_ICMP_TC, 0, 0}, /* icmpTypeCodeIPv4 */
	[34] = W_(NM_W_INTERVAL),    /* samplingInterval */
	[48] = W_(NM_W_SAMPLER_ID),  /* samplerId (v9 FLOW_SAMPLER_ID) */
	[50] = W_(NM_W_RAND_INTERVAL), /* samplerRandomInterval */
	[52] = U32Z_(ip_ttl),        /* minimumTTL */
	[53] = U32Z_(ip_ttl),        /* maximumTTL */
	[54] = U32_(fragment_id),    /* fragmentIdentification */
	[56] = MAC_(src_mac),        /* sourceMacAddress */
	[57] = MACZ_(dst_mac),       /* postDestinationMacAddress */
	[58] = U32_(src_vlan),       /* vlanId */
	[59] = U32_(dst_vlan),       /* postVlanId */
	[60] = {NM_OP_IPVER, 0, 0},  /* ipVersion */
	[61] = U32_(flow_direction), /* flowDirection */
	[62] = A6_(next_hop),        /* ipNextHopIPv6Address */
	[63] = A6_(bgp_next_hop),    /* bgpNextHopIPv6Address */
	[70] = MPLS_(0), [71] = MPLS_(1), [72] = MPLS_(2), [73] = MPLS_(3), [74] = MPLS_(4),
	[75] = MPLS_(5), [76] = MPLS_(6), [77] = MPLS_(7), [78] = MPLS_(8), [79] = MPLS_(9),
	[80] = MAC_(dst_mac),        /* destinationMacAddress */
	[81] = MACZ_(src_mac),       /* postSourceMacAddress */
	[85] = U64Z_(bytes),         /* octetTotalCount */
	[86] = U64Z_(packets),       /* packetTotalCount */
	[88] = U32_(fragment_offset), /* fragmentOffset */
	[89] = U32_(forwarding_status), /* forwardingStatus */
	[128] = U32_(next_hop_as),   /* bgpNextAdjacentAsNumber */
	[136] = U32_(flow_end_reason), /* flowEndReason */
	[139] = {NM_OP_ICMP_TC, 0, 0}, /* icmpTypeCodeIPv6 */
	[150] = W_(NM_W_SEC_START),  /* flowStartSeconds */
	[151] = W_(NM_W_SEC_END),
	[152] = W_(NM_W_MS_START),   /* flowStartMilliseconds */
	[153] = W_(NM_W_MS_END),
	[154] = W_(NM_W_NTP_START),  /* flowStartMicroseconds (NTP format) */
	[155] = W_(NM_W_NTP_END),
	[156] = W_(NM_W_NTP_START),  /* flowStartNanoseconds (NTP format) */
	[157] = W_(NM_W_NTP_END),
	[158] = W_(NM_W_DUS_START),  /* flowStartDeltaMicroseconds */
	[159] = W_(NM_W_DUS_END),
	[160] = W_(NM_W_SYSINIT),    /* systemInitTimeMilliseconds */
	[161] = W_(NM_W_DUR_MS),     /* flowDurationMilliseconds */
	[162] = W_(NM_W_DUR_US),     /* flowDurationMicroseconds */
	[176] = U32_(icmp_type),     /* icmpTypeIPv4 */
	[177] = U32_(icmp_code),
	[178] = U32_(icmp_type),     /* icmpTypeIPv6 */
	[179] = U32_(icmp_code),
	[192] = U32_(ip_ttl),        /* ipTTL */
	[234] = U32_(ingress_vrf_id),
	[235] = U32_(egress_vrf_id),
	[239] = U32_(bi_flow_direction),
	[243] = U32_(vlan_id),       /* dot1qVlanId */
	[254] = U32Z_(dst_vlan),     /* postDot1qVlanId */
	[225] = A4NZ_(post_nat_src_addr), /* postNATSourceIPv4Address */
	[226] = A4NZ_(post_nat_dst_addr), /* postNATDestinationIPv4Address */
	[227] = U32_(post_nat_src_port), /* postNAPTSourceTransportPort */
	[228] = U32_(post_nat_dst_port), /* postNAPTDestinationTransportPort */
	[256] = U32_(etype),         /* ethernetType */
	[281] = A6_(post_nat_src_addr), /* postNATSourceIPv6Address */
	[282] = A6_(post_nat_dst_addr), /* postNATDestinationIPv6Address */
	[302] = W_(NM_W_SAMPLER_ID), /* selectorId */
	[305] = W_(NM_W_PKT_INTERVAL), /* samplingPacketInterval */
	[306] = W_(NM_W_PKT_SPACE),  /* samplingPacketSpace */
	[309] = W_(NM_W_SAMPLE_SIZE), /* samplingSize */
	[310] = W_(NM_W_SAMPLE_POP), /* samplingPopulation */
	[312] = U64Z_(bytes),        /* dataLinkFrameSize */
	[313] = {NM_OP_SECTION, 0, 0}, /* ipHeaderPacketSection (starts at IP) */
	[315] = {NM_OP_SECTION, NM_HDR_ETHERNET, 0}, /* dataLinkFrameSection */
};

/* ---- template compilation ---- */

struct nm_field_spec {
	uint16_t ie;
	uint16_t len;
	uint32_t pen;
};

/*
 * NetFlow v9 field types above 32767 are vendor-defined (IPFIX numbers never
 * get there: its high bit is the enterprise bit). Cisco's NSEL (ASA) sends
 * its NAT translation as 40001-40004 where IPFIX has IE 225-228.
 */
static const struct nm_ie_map nm_nsel_map[4] = {
	A4NZ_(post_nat_src_addr),  /* 40001 NF_F_XLATE_SRC_ADDR_IPV4 */
	A4NZ_(post_nat_dst_addr),  /* 40002 NF_F_XLATE_DST_ADDR_IPV4 */
	U32_(post_nat_src_port), /* 40003 NF_F_XLATE_SRC_PORT */
	U32_(post_nat_dst_port), /* 40004 NF_F_XLATE_DST_PORT */
};

static const struct nm_ie_map *nm_v9_vendor_map(const struct nm_field_spec *fs)
{
	if (fs->pen == 0 && fs->ie >= 40001 && fs->ie <= 40004)
		return &nm_nsel_map[fs->ie - 40001];
	return NULL;
}

struct nm_compiled {
	struct nm_tmpl_op ops[NM_TMPL_FIELDS_MAX];
	uint32_t wmask; /* work slots the template fills */
	uint16_t nops;
	uint32_t min_len;
	bool varlen;
};

static bool nm_len_fits(uint8_t kind, uint16_t len)
{
	switch (kind) {
	case NM_OP_UINT:
	case NM_OP_UINT_IFZERO:
	case NM_OP_WORK:
	case NM_OP_IPVER:
		return len >= 1 && len <= 8;
	case NM_OP_ICMP_TC:
		return len == 2;
	case NM_OP_ADDR4:
	case NM_OP_ADDR4_NZ:
		return len == 4;
	case NM_OP_ADDR6:
		return len == 16;
	case NM_OP_MAC:
	case NM_OP_MAC_IFZERO:
		return len == 6;
	case NM_OP_MPLS:
		return len >= 3 && len <= 4;
	case NM_OP_SECTION:
		return true;
	default:
		return true;
	}
}

static void nm_compile_push(struct nm_compiled *c, struct nm_tmpl_op op)
{
	if (op.kind == NM_OP_SKIP && op.len != NM_VARLEN && c->nops > 0) {
		struct nm_tmpl_op *prev = &c->ops[c->nops - 1];
		if (prev->kind == NM_OP_SKIP && prev->len != NM_VARLEN &&
		    (uint32_t)prev->len + op.len < NM_VARLEN) {
			prev->len = (uint16_t)(prev->len + op.len);
			return;
		}
	}
	c->ops[c->nops++] = op;
}

/* Compiles one field into c: an op for a field the map knows, a skip for
 * any other (consecutive fixed skips merge); a zero-length field adds none. */
static void nm_compile_field(struct nm_decoder *d, struct nm_compiled *c,
			     const struct nm_field_spec *fs)
{
	struct nm_tmpl_op op = {fs->len, NM_OP_SKIP, 0, 0, 0};
	if (fs->len == 0)
		return; /* zero-length field: present in the template, absent in records */
	if (fs->len == NM_VARLEN) {
		c->varlen = true;
		c->min_len += 1;
	} else {
		c->min_len += fs->len;
	}
	const struct nm_ie_map *vm = nm_v9_vendor_map(fs);
	if (vm && nm_len_fits(vm->kind, fs->len)) {
		op.kind = vm->kind;
		op.arg = vm->arg;
		op.dst = vm->dst;
	} else if (fs->pen) {
		nm_ev_inc(d, NM_EV_ENTERPRISE_FIELDS);
	} else if (fs->ie < NM_IE_MAP_N && nm_ie_map[fs->ie].kind > NM_OP_SKIP &&
		   (fs->len != NM_VARLEN || nm_ie_map[fs->ie].kind == NM_OP_SECTION)) {
		const struct nm_ie_map *m = &nm_ie_map[fs->ie];
		if (nm_len_fits(m->kind, fs->len)) {
			op.kind = m->kind;
			op.arg = m->arg;
			op.dst = m->dst;
		} else {
			nm_ev_inc(d, NM_EV_FIELD_BAD_LENGTH);
		}
	}
	if (op.kind == NM_OP_WORK)
		c->wmask |= 1u << op.arg;
	if (op.kind == NM_OP_UINT) {
		/* Reduced-size encodings keep the generic op; the usual widths get
		 * their own so a record field costs one dispatch and one load. */
		if (op.arg == 4 && op.len == 1)
			op.kind = NM_OP_U8_32;
		else if (op.arg == 4 && op.len == 2)
			op.kind = NM_OP_U16_32;
		else if (op.arg == 4 && op.len == 4)
			op.kind = NM_OP_U32_32;
		else if (op.arg == 8 && op.len == 4)
			op.kind = NM_OP_U32_64;
		else if (op.arg == 8 && op.len == 8)
			op.kind = NM_OP_U64_64;
	}
	nm_compile_push(c, op);
}

/*
 * Compiles count field specifiers read from s: type(2) length(2), and in
 * IPFIX an enterprise number(4) after a type with its high bit set. The
 * first v9_scope fields are NetFlow v9 scope fields (their type is a scope,
 * not an IE). With c NULL the specifiers are only read past. The caller has
 * checked that s holds count x 4 bytes; an enterprise number is checked
 * together with the 4 bytes of every specifier after it. Returns false when
 * s ran out first.
 */
static bool nm_compile_fields(struct nm_decoder *d, struct nm_reader *s, unsigned count,
			      unsigned v9_scope, bool ipfix, struct nm_compiled *c)
{
	assert((size_t)count * 4 <= s->left);
	if (c) {
		c->nops = 0;
		c->wmask = 0;
		c->min_len = 0;
		c->varlen = false;
	}
	const uint8_t *p = s->p, *end = s->p + s->left;
	/* v9 specifiers are 4 bytes each: the scope ends at a fixed offset. */
	const uint8_t *scope_end = p + (size_t)v9_scope * 4;
	for (unsigned n = count; n > 0; n--) {
		/* A v9 scope field's type is a scope (1 system, 2 interface, ...),
		 * not an IE: it compiles as IE 0 (reserved), a skip. */
		struct nm_field_spec fs = {p < scope_end ? 0 : nm_load_be16(p),
					   nm_load_be16(p + 2), 0};
		p += 4;
		if (ipfix && (fs.ie & 0x8000)) {
			if ((size_t)(end - p) < (size_t)n * 4) {
				s->err = true;
				return false;
			}
			fs.pen = nm_load_be32(p);
			fs.ie &= 0x7fff;
			p += 4;
		}
		if (c)
			nm_compile_field(d, c, &fs);
	}
	s->left -= (size_t)(p - s->p);
	s->p = p;
	return true;
}

/* Etype implied by the template's address fields, used when no field says:
 * 0x0800 or 0x86dd, NM_ETYPE_MIXED when both families are there (decided
 * per record from the address), 0 when none. */
#define NM_ETYPE_MIXED 1
static uint16_t nm_compiled_etype(const struct nm_compiled *c)
{
	bool v4 = false, v6 = false;
	for (unsigned i = 0; i < c->nops; i++) {
		if (c->ops[i].dst == offsetof(struct nm_flow, src_addr) ||
		    c->ops[i].dst == offsetof(struct nm_flow, dst_addr)) {
			v4 |= c->ops[i].kind == NM_OP_ADDR4;
			v6 |= c->ops[i].kind == NM_OP_ADDR6;
		}
	}
	return v4 && v6 ? NM_ETYPE_MIXED : v4 ? 0x0800 : v6 ? 0x86dd : 0;
}

uint16_t nm_tmpl_ops_etype(const struct nm_tmpl *t)
{
	struct nm_compiled c;
	c.nops = t->nops;
	memcpy(c.ops, t->ops, (size_t)t->nops * sizeof(t->ops[0]));
	return nm_compiled_etype(&c);
}

static bool nm_map_has(const struct nm_ie_map *m, size_t n, uint8_t kind, uint8_t arg,
		       uint16_t dst)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].kind == kind && m[i].arg == arg && m[i].dst == dst)
			return true;
	return false;
}

bool nm_tmpl_op_valid(const struct nm_tmpl_op *o)
{
	uint8_t kind = o->kind, arg = o->arg;
	/* The width-specialised kinds come from NM_OP_UINT (nm_compile_field). */
	static const struct {
		uint8_t kind, arg;
		uint16_t len;
	} spec[] = {{NM_OP_U8_32, 4, 1}, {NM_OP_U16_32, 4, 2}, {NM_OP_U32_32, 4, 4},
		    {NM_OP_U32_64, 8, 4}, {NM_OP_U64_64, 8, 8}};
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		if (kind == spec[i].kind) {
			if (arg != spec[i].arg || o->len != spec[i].len)
				return false;
			kind = NM_OP_UINT;
		}
	if (kind == NM_OP_SKIP)
		return arg == 0 && o->dst == 0 && o->len > 0;
	if (kind == NM_OP_END || kind > NM_OP_ADDR4_NZ) /* NM_OP_ADDR4_NZ: the last kind */
		return false;
	if (o->len == NM_VARLEN ? kind != NM_OP_SECTION : !nm_len_fits(kind, o->len))
		return false;
	return nm_map_has(nm_ie_map, NM_IE_MAP_N, kind, arg, o->dst) ||
	       nm_map_has(nm_nsel_map, 4, kind, arg, o->dst);
}

/* Bump when the meaning of a compiled op changes without the tables or
 * sizes below changing. */
#define NM_TMPL_LAYOUT_VERSION 2 /* 2: 0.0.0.0 next hops and NAT addresses as none */

uint64_t nm_tmpl_layout_fp(void)
{
	uint64_t h = nm_hash64(NM_TMPL_LAYOUT_VERSION, nm_ie_map, sizeof(nm_ie_map));
	h = nm_hash64(h, nm_nsel_map, sizeof(nm_nsel_map));
	const uint64_t sizes[] = {sizeof(struct nm_flow), sizeof(struct nm_tmpl_op), NM_OP_U64_64,
				  NM_W__COUNT, NM_SAMPLERS_MAX};
	return nm_hash64(h, sizes, sizeof(sizes));
}

/*
 * The fast record loop (nm_rec_decode_sorted) runs one tight loop per kind of
 * op, in this order, instead of a switch per field. It takes the kinds that
 * only store into their own destination; templates with anything else keep
 * the ordered loop.
 */
static const uint8_t nm_sorted_kinds[] = {
	NM_OP_U8_32, NM_OP_U16_32, NM_OP_U32_32, NM_OP_U32_64, NM_OP_U64_64,
	NM_OP_ADDR6, NM_OP_MAC, NM_OP_ADDR4, NM_OP_ADDR4_NZ, NM_OP_WORK,
};

/*
 * Groups the ops of a fixed-length template by kind (stable) when the order
 * of its fields cannot matter: every op of a kind above, and no two writing
 * the same record field or work slot. Otherwise (two IEs into one field, an
 * IFZERO op whose effect depends on what came first, packet sections, MPLS,
 * IP version) it leaves them as they are and returns false.
 */
static bool nm_tmpl_sort(struct nm_tmpl_op *ops, unsigned n)
{
	/* Fields seen, by offset in the record, and work slots seen: linear in
	 * n, since a template can come with hundreds of fields. */
	uint64_t seen[(sizeof(struct nm_flow) + 63) / 64] = {0};
	uint32_t wseen = 0;
	if (n > NM_TMPL_FIELDS_MAX)
		return false;
	for (unsigned i = 0; i < n; i++) {
		bool ok = false;
		for (unsigned k = 0; k < sizeof(nm_sorted_kinds); k++)
			ok |= ops[i].kind == nm_sorted_kinds[k];
		if (!ok)
			return false;
		if (ops[i].kind == NM_OP_WORK) {
			if (ops[i].arg >= 32 || (wseen >> ops[i].arg & 1u))
				return false;
			wseen |= 1u << ops[i].arg;
		} else {
			unsigned d = ops[i].dst;
			if (d >= sizeof(struct nm_flow) || (seen[d / 64] >> (d % 64) & 1u))
				return false;
			seen[d / 64] |= 1ull << (d % 64);
		}
	}
	struct nm_tmpl_op tmp[NM_TMPL_FIELDS_MAX];
	memset(tmp, 0, n * sizeof(*tmp));
	unsigned m = 0;
	for (unsigned k = 0; k < sizeof(nm_sorted_kinds); k++)
		for (unsigned i = 0; i < n; i++)
			if (ops[i].kind == nm_sorted_kinds[k])
				tmp[m++] = ops[i];
	assert(m == n);
	memcpy(ops, tmp, m * sizeof(*ops));
	return true;
}

/*
 * Installs a compiled template for (e, id). fp is the fingerprint of the
 * template record as sent, so a re-sent identical template is a refresh.
 */
static void nm_tmpl_install(struct nm_decoder *d, struct nm_exporter *e, uint16_t id,
			    bool options, uint64_t fp, const struct nm_compiled *c)
{
	bool existed;
	if (c->min_len == 0 || c->min_len > 0xffff) {
		/* A zero-length record would make a data set loop forever. */
		nm_err_inc(d, NM_ERR_TMPL_ZERO_LENGTH);
		bool expired;
		struct nm_tmpl *old = nm_tmpl_find(d, e, id, e->last_ns, &expired);
		if (old)
			nm_tmpl_remove(d, e, old);
		return;
	}
	/* The smallest record this exporter defines: what a data set without
	 * its template is divided by to count the records lost. */
	if (!options && (e->rec_min == 0 || c->min_len < e->rec_min))
		e->rec_min = (uint16_t)c->min_len;
	struct nm_tmpl *t = nm_tmpl_slot(d, e, id, &existed);
	if (t == NULL)
		return; /* refused by admission (counted) */
	t->last_ns = e->last_ns;
	if (existed && t->fp == fp && t->options == options) {
		nm_ev_inc(d, NM_EV_TMPL_REFRESHED);
		return;
	}
	nm_ev_inc(d, existed ? NM_EV_TMPL_REPLACED : NM_EV_TMPL_ADDED);
	t->fp = fp;
	t->options = options;
	t->min_len = (uint16_t)c->min_len;
	t->fix_len = c->varlen ? 0 : (uint16_t)c->min_len;
	t->etype = nm_compiled_etype(c);
	t->wmask = c->wmask;
	/* Fixed-length records: give each op its offset, drop the skips. */
	uint16_t n = 0, off = 0;
	for (unsigned i = 0; i < c->nops; i++) {
		struct nm_tmpl_op o = c->ops[i];
		o.off = off;
		if (!c->varlen) {
			off = (uint16_t)(off + o.len);
			if (o.kind == NM_OP_SKIP)
				continue;
		}
		t->ops[n++] = o;
	}
	t->nops = n;
	t->ops[n].kind = NM_OP_END;
	t->ops[n].len = 0;
	nm_tmpl_finish(t);
}

void nm_tmpl_finish(struct nm_tmpl *t)
{
	unsigned n = t->nops;
	t->sorted = t->fix_len != 0 && nm_tmpl_sort(t->ops, n);
	t->fin_read = !t->sorted || t->etype == NM_ETYPE_MIXED;
	for (unsigned i = 0; i < n && !t->fin_read; i++)
		t->fin_read = t->ops[i].kind != NM_OP_WORK &&
			      (t->ops[i].dst == offsetof(struct nm_flow, etype) ||
			       t->ops[i].dst == offsetof(struct nm_flow, vlan_id) ||
			       t->ops[i].dst == offsetof(struct nm_flow, src_vlan));
}

/* ---- record engine ---- */

struct nm_rec_work {
	uint64_t v[NM_W__COUNT];
	uint32_t sections; /* packet sections parsed (IE 313/315) */
	uint32_t have; /* bit per enum nm_work_slot */
	uint32_t mpls_have;
	uint32_t mpls[10];
};

/* What the export header says about time, for uptime-relative fields. */
struct nm_hdr_time {
	uint64_t export_ns;
	int64_t export_s_ms;    /* the export time's whole seconds, in ms */
	uint32_t sys_uptime_ms; /* v9 only */
	bool has_uptime;
};

static inline void nm_store32(struct nm_flow *f, uint16_t dst, uint32_t v)
{
	memcpy((uint8_t *)f + dst, &v, 4);
}

static inline void nm_store64(struct nm_flow *f, uint16_t dst, uint64_t v)
{
	memcpy((uint8_t *)f + dst, &v, 8);
}

static inline uint64_t nm_load_mac(const uint8_t *p)
{
	return (uint64_t)nm_load_be16(p) << 32 | nm_load_be32(p + 2);
}

/* Applies one compiled field to the record: q points at its n bytes. */
static inline __attribute__((always_inline)) void
nm_op_apply(const struct nm_tmpl_op *o, const uint8_t *q, size_t n, struct nm_flow *f,
	    struct nm_rec_work *w)
{
	const uint8_t *p = q;
	switch (o->kind) {
	case NM_OP_SKIP:
		break;
	case NM_OP_U8_32:
		nm_store32(f, o->dst, p[0]);
		break;
	case NM_OP_U16_32:
		nm_store32(f, o->dst, nm_load_be16(p));
		break;
	case NM_OP_U32_32:
		nm_store32(f, o->dst, nm_load_be32(p));
		break;
	case NM_OP_U32_64:
		nm_store64(f, o->dst, nm_load_be32(p));
		break;
	case NM_OP_U64_64:
		nm_store64(f, o->dst, nm_load_be64(p));
		break;
	case NM_OP_UINT: {
		uint64_t v = nm_load_beN(p, n);
		if (o->arg == 8)
			nm_store64(f, o->dst, v);
		else
			nm_store32(f, o->dst, (uint32_t)v);
		break;
	}
	case NM_OP_UINT_IFZERO: {
		uint64_t v = nm_load_beN(p, n);
		if (o->arg == 8) {
			uint64_t cur;
			memcpy(&cur, (uint8_t *)f + o->dst, 8);
			if (cur == 0)
				nm_store64(f, o->dst, v);
		} else {
			uint32_t cur;
			memcpy(&cur, (uint8_t *)f + o->dst, 4);
			if (cur == 0)
				nm_store32(f, o->dst, (uint32_t)v);
		}
		break;
	}
	case NM_OP_ADDR4: {
		/* Templates carrying both families send the unused one as zeros
		 * (RFC 4291 2.5.2: unspecified): a zero never overwrites an
		 * address, but 0.0.0.0 alone still makes an IPv4 field. */
		struct nm_addr *a = (struct nm_addr *)(void *)((uint8_t *)f + o->dst);
		if (nm_load_be32(p) || nm_addr_is_zero(a))
			nm_addr_set_v4(a, p);
		break;
	}
	case NM_OP_ADDR4_NZ:
		if (nm_load_be32(p))
			nm_addr_set_v4((struct nm_addr *)(void *)((uint8_t *)f + o->dst), p);
		break;
	case NM_OP_ADDR6:
		if (nm_load_be64(p) | nm_load_be64(p + 8))
			memcpy((uint8_t *)f + o->dst, p, 16);
		break;
	case NM_OP_MAC:
		nm_store64(f, o->dst, nm_load_mac(p));
		break;
	case NM_OP_MAC_IFZERO: {
		uint64_t cur;
		memcpy(&cur, (uint8_t *)f + o->dst, 8);
		if (cur == 0)
			nm_store64(f, o->dst, nm_load_mac(p));
		break;
	}
	case NM_OP_IPVER: {
		uint64_t v = nm_load_beN(p, n);
		f->etype = v == 4 ? 0x0800 : v == 6 ? 0x86dd : f->etype;
		break;
	}
	case NM_OP_ICMP_TC:
		f->icmp_type = p[0];
		f->icmp_code = p[1];
		break;
	case NM_OP_MPLS:
		w->mpls[o->arg] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		w->mpls_have |= 1u << o->arg;
		break;
	case NM_OP_WORK:
		w->v[o->arg] = nm_load_beN(p, n);
		w->have |= 1u << o->arg;
		break;
	case NM_OP_SECTION: {
		/* Packet sections (Juniper inline monitoring, IPFIX PSAMP): the
		 * sampled packet itself, through the sFlow header parser. */
		enum nm_hdr_start st = (enum nm_hdr_start)o->arg;
		if (st == 0)
			st = n && (p[0] >> 4) == 6 ? NM_HDR_IPV6 : NM_HDR_IPV4;
		nm_hdr_parse(p, n, st, f);
		if (f->packets == 0)
			f->packets = 1;
		w->sections++;
		break;
	}
	default:
		/* Ops come only from nm_compile_field(); END never gets here. */
		__builtin_unreachable();
	}
}

/*
 * Decodes one record of a fixed-length template (t->fix_len != 0): every
 * op carries its offset in the record and skips are compiled away. The
 * caller has checked that fix_len bytes are there.
 */
static inline __attribute__((always_inline)) void
nm_rec_decode_fixed(const struct nm_tmpl *t, const uint8_t *p, struct nm_flow *f,
		    struct nm_rec_work *w)
{
	w->have = 0;
	w->mpls_have = 0;
	w->sections = 0;
	for (const struct nm_tmpl_op *o = t->ops; o->kind != NM_OP_END; o++)
		nm_op_apply(o, p + o->off, o->len, f, w);
}

/*
 * Decodes one record of a fixed-length template whose ops nm_tmpl_sort()
 * grouped by kind: one loop per kind, no dispatch per field. Same result as
 * nm_rec_decode_fixed() (the fields are independent); the work slots it fills
 * are exactly t->wmask, so they are not collected one by one.
 */
static inline __attribute__((always_inline)) void
nm_rec_decode_sorted(const struct nm_tmpl *t, const uint8_t *p, struct nm_flow *f,
		     struct nm_rec_work *w)
{
	const struct nm_tmpl_op *o = t->ops;
	w->have = t->wmask;
	w->mpls_have = 0;
	w->sections = 0;
	for (; o->kind == NM_OP_U8_32; o++)
		nm_store32(f, o->dst, p[o->off]);
	for (; o->kind == NM_OP_U16_32; o++)
		nm_store32(f, o->dst, nm_load_be16(p + o->off));
	for (; o->kind == NM_OP_U32_32; o++)
		nm_store32(f, o->dst, nm_load_be32(p + o->off));
	for (; o->kind == NM_OP_U32_64; o++)
		nm_store64(f, o->dst, nm_load_be32(p + o->off));
	for (; o->kind == NM_OP_U64_64; o++)
		nm_store64(f, o->dst, nm_load_be64(p + o->off));
	for (; o->kind == NM_OP_ADDR6; o++)
		memcpy((uint8_t *)f + o->dst, p + o->off, 16);
	for (; o->kind == NM_OP_MAC; o++)
		nm_store64(f, o->dst, nm_load_mac(p + o->off));
	/* Each address field is written by one op only, and the record starts
	 * as the datagram's base, where every IE-mapped field is zero: an IPv4
	 * field is always written (0.0.0.0 included, as the ordered loop does
	 * for a field nothing set); an IPv6 one (above) is copied as it is,
	 * since :: over the base's :: changes nothing. */
	for (; o->kind == NM_OP_ADDR4; o++) {
		uint8_t *a = (uint8_t *)f + o->dst;
		static const uint8_t mapped[4] = {0, 0, 0xff, 0xff};
		assert(nm_addr_is_zero((const struct nm_addr *)(const void *)a));
		memcpy(a + 8, mapped, 4);
		memcpy(a + 12, p + o->off, 4);
	}
	for (; o->kind == NM_OP_ADDR4_NZ; o++)
		if (nm_load_be32(p + o->off))
			nm_addr_set_v4((struct nm_addr *)(void *)((uint8_t *)f + o->dst), p + o->off);
	for (; o->kind == NM_OP_WORK; o++)
		w->v[o->arg] = nm_load_beN(p + o->off, o->len);
	assert(o->kind == NM_OP_END);
}

/*
 * Decodes one record of a template with variable-length fields from p (left
 * bytes). Returns the bytes consumed, or 0 when a field runs past the end.
 */
static size_t nm_rec_decode_var(const struct nm_tmpl *t, const uint8_t *p, size_t left,
				struct nm_flow *f, struct nm_rec_work *w)
{
	const uint8_t *start = p;
	w->have = 0;
	w->mpls_have = 0;
	w->sections = 0;
	for (const struct nm_tmpl_op *o = t->ops; o->kind != NM_OP_END; o++) {
		size_t n = o->len;
		if (n == NM_VARLEN) {
			/* RFC 7011 7: one length byte, or 255 then two bytes. */
			if (left < 1)
				return 0;
			n = p[0];
			p++;
			left--;
			if (n == 255) {
				if (left < 2)
					return 0;
				n = nm_load_be16(p);
				p += 2;
				left -= 2;
			}
		}
		if (n > left)
			return 0;
		nm_op_apply(o, p, n, f, w);
		p += n;
		left -= n;
	}
	return (size_t)(p - start);
}

#define NM_HAVE(w, s) (((w)->have >> (s)) & 1u)
#define NM_NTP_UNIX_OFFSET 2208988800ull

static uint64_t nm_ntp_to_ns(uint64_t ntp)
{
	uint64_t sec = ntp >> 32;
	if (sec < NM_NTP_UNIX_OFFSET)
		return 0;
	return (sec - NM_NTP_UNIX_OFFSET) * 1000000000ull +
	       (((ntp & 0xffffffffull) * 1000000000ull) >> 32);
}

/* Absolute time in ns from whichever encoding the record used; 0 = none. */
static inline uint64_t nm_rec_time(struct nm_decoder *d, const struct nm_exporter *e,
			    const struct nm_rec_work *w, const struct nm_hdr_time *ht, bool end,
			    bool *base_unknown)
{
	int o = end ? 1 : 0;
	if (NM_HAVE(w, NM_W_NTP_START + o))
		return nm_ntp_to_ns(w->v[NM_W_NTP_START + o]);
	if (NM_HAVE(w, NM_W_MS_START + o))
		return w->v[NM_W_MS_START + o] * 1000000ull;
	if (NM_HAVE(w, NM_W_SEC_START + o))
		return w->v[NM_W_SEC_START + o] * 1000000000ull;
	if (NM_HAVE(w, NM_W_DUS_START + o))
		return ht->export_ns - w->v[NM_W_DUS_START + o] * 1000ull;
	if (NM_HAVE(w, NM_W_UP_START + o)) {
		uint32_t t = (uint32_t)w->v[NM_W_UP_START + o];
		if (ht->has_uptime) {
			/* v9: the flow's uptime is this long before the export. */
			int64_t before = (int32_t)(ht->sys_uptime_ms - t);
			return (uint64_t)(ht->export_s_ms - before) *
			       1000000ull;
		}
		/* IPFIX: relative to systemInitTimeMilliseconds. */
		uint64_t init = NM_HAVE(w, NM_W_SYSINIT) ? w->v[NM_W_SYSINIT] : e->sys_init_ms;
		if (init)
			return (init + t) * 1000000ull;
		*base_unknown = true;
	}
	(void)d;
	return 0;
}

/* Sampling rate stated by the record's own fields; 0 if none. */
static uint64_t nm_rate_of(const struct nm_rec_work *w)
{
	if (NM_HAVE(w, NM_W_RAND_INTERVAL) && w->v[NM_W_RAND_INTERVAL])
		return w->v[NM_W_RAND_INTERVAL];
	if (NM_HAVE(w, NM_W_INTERVAL) && w->v[NM_W_INTERVAL])
		return w->v[NM_W_INTERVAL];
	if (NM_HAVE(w, NM_W_PKT_INTERVAL) && w->v[NM_W_PKT_INTERVAL]) {
		uint64_t space = NM_HAVE(w, NM_W_PKT_SPACE) ? w->v[NM_W_PKT_SPACE] : 0;
		/* RFC 5477: select `interval` packets, then skip `space`. */
		return (w->v[NM_W_PKT_INTERVAL] + space) / w->v[NM_W_PKT_INTERVAL];
	}
	if (NM_HAVE(w, NM_W_SAMPLE_SIZE) && NM_HAVE(w, NM_W_SAMPLE_POP) && w->v[NM_W_SAMPLE_SIZE])
		return w->v[NM_W_SAMPLE_POP] / w->v[NM_W_SAMPLE_SIZE];
	return 0;
}

/* The last sampler looked up within one data set. */
struct nm_rate_cache {
	bool valid;
	bool has_id;
	uint64_t id;
	uint64_t rate;
};

#define NM_W_RATE_BITS                                                                   \
	(1u << NM_W_INTERVAL | 1u << NM_W_RAND_INTERVAL | 1u << NM_W_PKT_INTERVAL |       \
	 1u << NM_W_SAMPLE_SIZE)

static inline void nm_rec_finish(struct nm_decoder *d, const struct nm_exporter *e,
				 const struct nm_tmpl *t, const struct nm_hdr_time *ht,
				 struct nm_flow *f, const struct nm_rec_work *w,
				 struct nm_rate_cache *rc)
{
	if (t->fin_read) {
		if (f->etype == 0) {
			f->etype = t->etype;
			if (t->etype == NM_ETYPE_MIXED) {
				const struct nm_addr *a =
					nm_addr_is_zero(&f->src_addr) ? &f->dst_addr : &f->src_addr;
				f->etype = nm_addr_is_zero(a) ? 0 : nm_addr_is_v4(a) ? 0x0800 : 0x86dd;
			}
		}
		if (f->vlan_id == 0)
			f->vlan_id = f->src_vlan;
	} else {
		/* A sorted template that writes none of Etype, VlanId, SrcVlan:
		 * they are the base's zeros, nothing to read back. */
		f->etype = t->etype;
	}

	if (w->have) {
		bool base_unknown = false;
		uint64_t s = nm_rec_time(d, e, w, ht, false, &base_unknown);
		uint64_t en = nm_rec_time(d, e, w, ht, true, &base_unknown);
		uint64_t dur = NM_HAVE(w, NM_W_DUR_MS)   ? w->v[NM_W_DUR_MS] * 1000000ull
			       : NM_HAVE(w, NM_W_DUR_US) ? w->v[NM_W_DUR_US] * 1000ull
							  : 0;
		if (s && !en && dur)
			en = s + dur;
		else if (en && !s && dur && en > dur)
			s = en - dur;
		if (base_unknown)
			nm_ev_inc(d, NM_EV_TIME_BASE_UNKNOWN);
		f->time_flow_start_ns = s;
		f->time_flow_end_ns = en;
		f->time_flow_start = s / 1000000000ull;
		f->time_flow_end = en / 1000000000ull;
	}

	bool has_id = NM_HAVE(w, NM_W_SAMPLER_ID);
	/* No op writes sampler_id and the base leaves it 0: known without a
	 * read of the record. */
	uint64_t sid = has_id ? w->v[NM_W_SAMPLER_ID] : 0;
	f->sampler_id = sid;
	uint64_t rate = (t->wmask & NM_W_RATE_BITS) ? nm_rate_of(w) : 0;
	if (rate == 0) {
		/* Records of a set usually name the same sampler: look it up once. */
		if (!rc->valid || rc->has_id != has_id || rc->id != sid) {
			rc->valid = true;
			rc->has_id = has_id;
			rc->id = sid;
			rc->rate = nm_sampler_rate(e, has_id, sid);
		}
		rate = rc->rate;
	}
	rate = nm_rate_apply(&e->static_rate, rate);
	f->sampling_rate = rate;
	if (rate == 0)
		nm_ev_inc(d, NM_EV_RATE_UNKNOWN);

	if (w->mpls_have & 1u) {
		/* RFC 7011 IE 70..79: label(20) exp(3) bottom-of-stack(1). */
		uint32_t n = 0;
		for (unsigned i = 0; i < 10 && (w->mpls_have >> i & 1u) && w->mpls[i]; i++) {
			/* IPFIX carries no TTL in the label stack section */
			nm_flow_mpls_entry(f, n, w->mpls[i] >> 4, 0);
			n++;
			if (w->mpls[i] & 1u)
				break;
		}
		f->mpls_count = n;
		f->has_mpls = n > 0;
	}
}

/* Options data: learn sampling rates and the system init time. */
static void nm_opt_finish(struct nm_decoder *d, struct nm_exporter *e,
			  const struct nm_rec_work *w)
{
	nm_ev_inc(d, NM_EV_OPTIONS_RECORDS);
	uint64_t rate = nm_rate_of(w);
	if (rate)
		nm_sampler_learn(d, e, NM_HAVE(w, NM_W_SAMPLER_ID), w->v[NM_W_SAMPLER_ID], rate);
	if (NM_HAVE(w, NM_W_SYSINIT) && w->v[NM_W_SYSINIT])
		e->sys_init_ms = w->v[NM_W_SYSINIT];
}

/* Decodes one data set; returns the number of data records it held. */
static uint32_t nm_data_set(struct nm_decoder *d, struct nm_exporter *e, uint16_t set_id,
			    struct nm_reader *s, const struct nm_flow *base,
			    const struct nm_hdr_time *ht, struct nm_flow_batch *b)
{
	bool expired;
	/* Template lifetime runs on the collector's clock (RFC 7011 8.4), the
	 * receive time, never on the exporter's header time. */
	const struct nm_tmpl *t = nm_tmpl_find(d, e, set_id, e->last_ns, &expired);
	if (t == NULL) {
		nm_err_inc(d, expired ? NM_ERR_DATA_TMPL_EXPIRED : NM_ERR_DATA_NO_TEMPLATE);
		nm_records_unknown(d, e, s->left);
		/* Its records were not lost, only not understood: the IPFIX
		 * record count of this message is unknown. */
		e->seq_uncounted = 1;
		return 0;
	}
	struct nm_rec_work w;
	struct nm_flow scratch;
	struct nm_rate_cache rc = {false, false, 0, 0};
	uint32_t nrec = 0;
	const uint8_t *p = s->p;
	size_t left = s->left;
	/* Trailing bytes shorter than a record are padding (RFC 7011 3.3.1). */
	while (left >= t->min_len) {
		struct nm_flow *f = t->options ? NULL : nm_batch_slot(b);
		struct nm_flow *dst = f ? f : &scratch;
		size_t used = t->fix_len;
		nm_flow_copy(dst, base);
		if (t->sorted)
			nm_rec_decode_sorted(t, p, dst, &w);
		else if (used)
			nm_rec_decode_fixed(t, p, dst, &w);
		else
			used = nm_rec_decode_var(t, p, left, dst, &w);
		if (used == 0) {
			nm_err_inc(d, NM_ERR_RECORD_TRUNCATED);
			break;
		}
		p += used;
		left -= used;
		nrec++;
		if (t->options) {
			nm_opt_finish(d, e, &w);
			continue;
		}
		nm_rec_finish(d, e, t, ht, dst, &w, &rc);
		if (w.sections)
			d->stats.ev[NM_EV_PACKET_SECTIONS] += w.sections;
		if (f) {
			b->n++;
			d->stats.records++;
		} else {
			nm_err_inc(d, NM_ERR_BATCH_FULL);
		}
	}
	if (left)
		nm_ev_inc(d, NM_EV_PADDING); /* RFC 7011 3.3.1: shorter than a record */
	return nrec;
}

/* ---- template sets ---- */

/*
 * NetFlow v9 template flowset (RFC 3954 5.2): records of template_id(2)
 * field_count(2), then field_count x (type(2) length(2)). Options template
 * flowset (6.1): records of template_id(2) scope_length(2) option_length(2),
 * the scope fields, then the option fields (4 bytes each); the flowset is
 * padded to 4 bytes, which the loop condition leaves unread.
 */
static void nm_v9_templates(struct nm_decoder *d, struct nm_exporter *e, struct nm_reader *s,
			    bool options)
{
	while (s->left >= (options ? 6u : 4u)) {
		uint16_t id = nm_rd_be16(s);
		unsigned nscope = 0, count;
		if (options) {
			uint16_t scope_len = nm_rd_be16(s);
			uint16_t opt_len = nm_rd_be16(s);
			if (scope_len % 4 || opt_len % 4) {
				nm_err_inc(d, NM_ERR_TMPL_BAD_SCOPE);
				return;
			}
			nscope = scope_len / 4u;
			count = nscope + opt_len / 4u;
		} else {
			count = nm_rd_be16(s);
		}
		const uint8_t *fl = nm_rd_bytes(s, (size_t)count * 4);
		if (fl == NULL) {
			nm_err_inc(d, NM_ERR_TMPL_TRUNCATED);
			return;
		}
		if (id < 256) {
			nm_err_inc(d, NM_ERR_TMPL_BAD_ID);
			continue;
		}
		if (count > d->cfg.max_fields_per_template) {
			nm_err_inc(d, NM_ERR_TMPL_TOO_MANY_FIELDS);
			continue;
		}
		struct nm_reader fr = nm_rd_init(fl, (size_t)count * 4);
		struct nm_compiled c;
		nm_compile_fields(d, &fr, count, nscope, false, &c);
		uint64_t fp = nm_hash64(d->cfg.hash_seed ^ options, fl, (size_t)count * 4) ^
			      (nscope * 4u);
		nm_tmpl_install(d, e, id, options, fp, &c);
	}
}

/*
 * IPFIX template set (RFC 7011 3.4.1) and options template set (3.4.2):
 * template_id(2) field_count(2) [scope_field_count(2)] then field
 * specifiers: ie(2, high bit = enterprise) length(2) [enterprise(4)].
 * A record with field_count 0 withdraws the template (8.1); template ID 2
 * (or 3) withdraws every template (or options template).
 */
static void nm_ipfix_templates(struct nm_decoder *d, struct nm_exporter *e, struct nm_reader *s,
			       bool options)
{
	while (s->left >= 4) {
		const uint8_t *rec = s->p;
		uint16_t id = nm_rd_be16(s);
		uint16_t count = nm_rd_be16(s);
		if (count == 0) {
			if (id == (options ? 3 : 2)) {
				nm_tmpl_remove_all(d, e, options);
				nm_ev_inc(d, NM_EV_TMPL_WITHDRAWN);
				continue;
			}
			bool expired;
			struct nm_tmpl *t = nm_tmpl_find(d, e, id, e->last_ns, &expired);
			if (t) {
				nm_tmpl_remove(d, e, t);
				nm_ev_inc(d, NM_EV_TMPL_WITHDRAWN);
			} else {
				nm_err_inc(d, NM_ERR_TMPL_WITHDRAW_UNKNOWN);
			}
			continue;
		}
		if (options) {
			uint16_t nscope = nm_rd_be16(s);
			if (!nm_rd_ok(s)) {
				nm_err_inc(d, NM_ERR_TMPL_TRUNCATED);
				return;
			}
			if (nscope > count) {
				nm_err_inc(d, NM_ERR_TMPL_BAD_SCOPE);
				return;
			}
		}
		/* Cap before reading: each specifier is at least 4 bytes. */
		if ((size_t)count * 4 > s->left) {
			nm_err_inc(d, NM_ERR_TMPL_TRUNCATED);
			return;
		}
		bool too_many = count > d->cfg.max_fields_per_template;
		struct nm_compiled c;
		if (!nm_compile_fields(d, s, count, 0, true, too_many ? NULL : &c)) {
			nm_err_inc(d, NM_ERR_TMPL_TRUNCATED);
			return;
		}
		if (id < 256) {
			nm_err_inc(d, NM_ERR_TMPL_BAD_ID);
			continue;
		}
		if (too_many) {
			nm_err_inc(d, NM_ERR_TMPL_TOO_MANY_FIELDS);
			continue;
		}
		uint64_t fp = nm_hash64(d->cfg.hash_seed ^ (options ? 3 : 2), rec,
					(size_t)(s->p - rec));
		nm_tmpl_install(d, e, id, options, fp, &c);
	}
}

/* ---- datagram level ---- */

static bool nm_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

enum nm_err nm_decode_netflow_v5(struct nm_decoder *d, const struct nm_pkt_meta *m,
				 const uint8_t *p, size_t len, struct nm_flow_batch *b)
{
	d->stats.datagrams++;
	struct nm_reader r = nm_rd_init(p, len);
	uint16_t version = nm_rd_be16(&r);
	uint16_t count = nm_rd_be16(&r);
	uint32_t uptime = nm_rd_be32(&r);
	uint32_t secs = nm_rd_be32(&r);
	uint32_t nsecs = nm_rd_be32(&r);
	uint32_t seq = nm_rd_be32(&r);
	uint8_t engine_type = nm_rd_u8(&r);
	uint8_t engine_id = nm_rd_u8(&r);
	uint16_t sampling = nm_rd_be16(&r);
	if (!nm_rd_ok(&r))
		return nm_reject(d, NM_ERR_SHORT_HEADER);
	if (version != 5)
		return nm_reject(d, NM_ERR_BAD_VERSION);
	if (count == 0 || count > 30)
		return nm_reject(d, NM_ERR_V5_BAD_COUNT);
	if (r.left < (size_t)count * 48)
		return nm_reject(d, NM_ERR_V5_TRUNCATED);
	uint32_t domain = (uint32_t)engine_type << 8 | engine_id;
	struct nm_exporter *e = nm_exporter_get(d, &m->exporter, m->src_port, 5, domain, 0, m->time_ns);
	nm_seq_track(d, e, seq, count);
	if (r.left > (size_t)count * 48)
		nm_ev_inc(d, NM_EV_PADDING);

	struct nm_flow base;
	nm_base_init(&base, m, NM_FLOW_TYPE_NETFLOW_V5, seq, domain);
	base.etype = 0x0800;
	/* Top two bits: sampling mode; low 14: interval. 0 = not stated. */
	base.sampling_rate = nm_rate_apply(&e->static_rate, sampling & 0x3fff);
	int64_t export_ms = (int64_t)secs * 1000 + nsecs / 1000000;

	for (unsigned i = 0; i < count; i++) {
		const uint8_t *q = nm_rd_bytes(&r, 48);
		struct nm_flow *f = nm_batch_slot(b);
		if (f == NULL) {
			nm_err_inc(d, NM_ERR_BATCH_FULL);
			continue;
		}
		nm_flow_copy(f, &base);
		nm_addr_set_v4(&f->src_addr, q);
		nm_addr_set_v4(&f->dst_addr, q + 4);
		if (nm_load_be32(q + 8)) /* 0.0.0.0: none, left :: as in v9/IPFIX */
			nm_addr_set_v4(&f->next_hop, q + 8);
		f->in_if = nm_load_be16(q + 12);
		f->out_if = nm_load_be16(q + 14);
		f->packets = nm_load_be32(q + 16);
		f->bytes = nm_load_be32(q + 20);
		uint32_t first = nm_load_be32(q + 24), last = nm_load_be32(q + 28);
		/* sysUptime-relative: how long before the export each happened. */
		f->time_flow_start_ns =
			(uint64_t)(export_ms - (int32_t)(uptime - first)) * 1000000ull;
		f->time_flow_end_ns = (uint64_t)(export_ms - (int32_t)(uptime - last)) * 1000000ull;
		f->time_flow_start = f->time_flow_start_ns / 1000000000ull;
		f->time_flow_end = f->time_flow_end_ns / 1000000000ull;
		f->src_port = nm_load_be16(q + 32);
		f->dst_port = nm_load_be16(q + 34);
		f->tcp_flags = q[37];
		f->proto = q[38];
		f->ip_tos = q[39];
		f->src_as = nm_load_be16(q + 40);
		f->dst_as = nm_load_be16(q + 42);
		f->src_net = q[44];
		f->dst_net = q[45];
		if (f->proto == 1) {
			/* v5 carries ICMP type and code in the destination port. */
			f->icmp_type = f->dst_port >> 8;
			f->icmp_code = f->dst_port & 0xff;
		}
		if (f->sampling_rate == 0)
			nm_ev_inc(d, NM_EV_RATE_UNKNOWN);
		b->n++;
		d->stats.records++;
	}
	d->stats.datagrams_ok++;
	return NM_ERR_OK;
}

/*
 * Walks the sets of a v9 or IPFIX message body, in order. Set IDs: v9 uses
 * 0/1 for (options) templates, IPFIX 2/3. Returns a fatal error or
 * NM_ERR_OK. (Options data that comes after the flow records of the same
 * message applies from the next message on: see DESIGN-NOTES.md.)
 */
static enum nm_err nm_sets_walk(struct nm_decoder *d, struct nm_exporter *e, bool ipfix,
				struct nm_reader *r, const struct nm_flow *base,
				const struct nm_hdr_time *ht, struct nm_flow_batch *b,
				uint32_t *ndata)
{
	const uint16_t tmpl_id = ipfix ? 2 : 0, opt_id = ipfix ? 3 : 1;
	while (r->left > 0) {
		const uint8_t *at = r->p;
		if (r->left < 4) {
			if (!nm_all_zero(at, r->left))
				return NM_ERR_SET_HEADER_TRUNCATED;
			nm_ev_inc(d, NM_EV_PADDING);
			return NM_ERR_OK;
		}
		uint16_t id = nm_load_be16(at);
		uint16_t slen = nm_load_be16(at + 2);
		if (slen < 4 || slen > r->left) {
			/* Some exporters zero-fill the rest of the datagram. */
			if (slen < 4 && nm_all_zero(at, r->left)) {
				nm_ev_inc(d, NM_EV_PADDING);
				return NM_ERR_OK;
			}
			return NM_ERR_SET_LENGTH;
		}
		nm_rd_skip(r, 4);
		struct nm_reader s = nm_rd_sub(r, slen - 4u);
		if (e == NULL) {
			/* Exporter refused by admission (counted once for the
			 * datagram): its templates are not learned, its data
			 * cannot be decoded. */
			if (id >= 256) {
				nm_err_inc(d, NM_ERR_DATA_NO_TEMPLATE);
				nm_records_unknown(d, NULL, s.left);
			} else if (id != tmpl_id && id != opt_id) {
				nm_err_inc(d, NM_ERR_SET_RESERVED_ID);
			}
		} else if (id == tmpl_id) {
			if (ipfix)
				nm_ipfix_templates(d, e, &s, false);
			else
				nm_v9_templates(d, e, &s, false);
		} else if (id == opt_id) {
			if (ipfix)
				nm_ipfix_templates(d, e, &s, true);
			else
				nm_v9_templates(d, e, &s, true);
		} else if (id < 256) {
			nm_err_inc(d, NM_ERR_SET_RESERVED_ID);
		} else {
			uint32_t n = nm_data_set(d, e, id, &s, base, ht, b);
			/* nm_data_set found its template through e->last_tmpl:
			 * it moves to the back of the eviction order. */
			if (n)
				nm_tmpl_used(d, e, e->last_tmpl, e->last_ns);
			*ndata += n;
		}
	}
	return NM_ERR_OK;
}

enum nm_err nm_decode_netflow_v9(struct nm_decoder *d, const struct nm_pkt_meta *m,
				 const uint8_t *p, size_t len, struct nm_flow_batch *b)
{
	d->stats.datagrams++;
	struct nm_reader r = nm_rd_init(p, len);
	uint16_t version = nm_rd_be16(&r);
	nm_rd_be16(&r); /* count: unreliable across exporters, sets are walked instead */
	uint32_t uptime = nm_rd_be32(&r);
	uint32_t secs = nm_rd_be32(&r);
	uint32_t seq = nm_rd_be32(&r);
	uint32_t source_id = nm_rd_be32(&r);
	if (!nm_rd_ok(&r))
		return nm_reject(d, NM_ERR_SHORT_HEADER);
	if (version != 9)
		return nm_reject(d, NM_ERR_BAD_VERSION);
	struct nm_exporter *e =
		nm_exporter_admit(d, &m->exporter, m->src_port, 9, source_id, m->time_ns);
	/* RFC 3954 5.1: the sequence counts export packets. */
	if (e)
		nm_seq_track(d, e, seq, 1);
	struct nm_flow base;
	nm_base_init(&base, m, NM_FLOW_TYPE_NETFLOW_V9, seq, source_id);
	struct nm_hdr_time ht = {(uint64_t)secs * 1000000000ull, (int64_t)secs * 1000, uptime, true};
	uint32_t ndata = 0;
	enum nm_err err = nm_sets_walk(d, e, false, &r, &base, &ht, b, &ndata);
	if (err)
		return nm_reject(d, err);
	d->stats.datagrams_ok++;
	return NM_ERR_OK;
}

enum nm_err nm_decode_ipfix(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			    size_t len, struct nm_flow_batch *b)
{
	d->stats.datagrams++;
	struct nm_reader r = nm_rd_init(p, len);
	uint16_t version = nm_rd_be16(&r);
	uint16_t mlen = nm_rd_be16(&r);
	uint32_t secs = nm_rd_be32(&r);
	uint32_t seq = nm_rd_be32(&r);
	uint32_t domain = nm_rd_be32(&r);
	if (!nm_rd_ok(&r))
		return nm_reject(d, NM_ERR_SHORT_HEADER);
	if (version != 10)
		return nm_reject(d, NM_ERR_BAD_VERSION);
	if (mlen < 16 || mlen > len)
		return nm_reject(d, NM_ERR_IPFIX_BAD_LENGTH);
	if (mlen < len)
		nm_ev_inc(d, NM_EV_PADDING);
	r.left = mlen - 16u; /* the message ends where its header says */
	struct nm_exporter *e =
		nm_exporter_admit(d, &m->exporter, m->src_port, 10, domain, m->time_ns);
	/* RFC 7011 3.1: the sequence counts data records sent before this one. */
	if (e)
		nm_seq_track(d, e, seq, 0);
	struct nm_flow base;
	nm_base_init(&base, m, NM_FLOW_TYPE_IPFIX, seq, domain);
	struct nm_hdr_time ht = {(uint64_t)secs * 1000000000ull, (int64_t)secs * 1000, 0, false};
	uint32_t ndata = 0;
	if (e)
		e->seq_uncounted = 0;
	enum nm_err err = nm_sets_walk(d, e, true, &r, &base, &ht, b, &ndata);
	if (e) {
		e->seq_next += ndata;
		if (e->seq_uncounted)
			e->seq_valid = 0; /* the next message starts the count afresh */
	}
	if (err)
		return nm_reject(d, err);
	d->stats.datagrams_ok++;
	return NM_ERR_OK;
}

enum nm_flow_type nm_decode_sniff(const uint8_t *p, size_t len)
{
	if (len < 4)
		return NM_FLOW_TYPE_UNKNOWN;
	uint16_t v16 = nm_load_be16(p);
	if (v16 == 5)
		return NM_FLOW_TYPE_NETFLOW_V5;
	if (v16 == 9)
		return NM_FLOW_TYPE_NETFLOW_V9;
	if (v16 == 10)
		return NM_FLOW_TYPE_IPFIX;
	if (nm_load_be32(p) == 5)
		return NM_FLOW_TYPE_SFLOW_5;
	return NM_FLOW_TYPE_UNKNOWN;
}

enum nm_err nm_decode_any(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			  size_t len, struct nm_flow_batch *b)
{
	switch (nm_decode_sniff(p, len)) {
	case NM_FLOW_TYPE_NETFLOW_V5:
		return nm_decode_netflow_v5(d, m, p, len, b);
	case NM_FLOW_TYPE_NETFLOW_V9:
		return nm_decode_netflow_v9(d, m, p, len, b);
	case NM_FLOW_TYPE_IPFIX:
		return nm_decode_ipfix(d, m, p, len, b);
	case NM_FLOW_TYPE_SFLOW_5:
		return nm_decode_sflow(d, m, p, len, b);
	default:
		d->stats.datagrams++;
		return nm_reject(d, len < 4 ? NM_ERR_SHORT_HEADER : NM_ERR_BAD_VERSION);
	}
}
