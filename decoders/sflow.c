/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sFlow version 5 decoder (sflow.org "sFlow Version 5", July 2004, and the
 * "sFlow Dropped Packet Notification Structures" extension). XDR: every
 * field is a big-endian 32-bit word, opaque data padded to 4 bytes.
 *
 * datagram:  version(=5) agent_type(1 v4 | 2 v6) agent(4|16) sub_agent_id
 *            sequence uptime_ms num_samples, then samples
 * sample:    data_format (enterprise << 12 | format) length body
 *   1 flow sample:        seq source_id(type 8 | index 24) rate pool drops input output nrec records
 *   3 expanded flow:      seq src_type src_index rate pool drops
 *                         in_format in_value out_format out_value nrec records
 *   2 counter sample:     seq source_id nrec records
 *   4 expanded counters:  seq src_type src_index nrec records
 *   5 discarded packet:   seq src_type src_index drops input output reason nrec records
 * record:    data_format length body
 *
 * Flow and discarded-packet samples become struct nm_flow records; counter
 * samples with interface counters become struct nm_ctr records in the
 * counter batch set with nm_decoder_set_ctr_batch().
 */
#include <string.h>

#include "decode.h"
#include "hdr.h"
#include "nf_state.h"
#include "reader.h"

/* sFlow compact interface encoding: 2 bits of format, 30 of value. */
#define NM_SF_IF_LOCAL 0x3fffffffu

/* Reads an sFlow address (type, then 4 or 16 bytes). 0 = ok, -1 = bad. */
static int nm_sf_addr(struct nm_reader *r, struct nm_addr *a)
{
	uint32_t type = nm_rd_be32(r);
	const uint8_t *p;
	switch (type) {
	case 0:
		memset(a, 0, sizeof(*a));
		return nm_rd_ok(r) ? 0 : -1;
	case 1:
		if ((p = nm_rd_bytes(r, 4)) == NULL)
			return -1;
		nm_addr_set_v4(a, p);
		return 0;
	case 2:
		if ((p = nm_rd_bytes(r, 16)) == NULL)
			return -1;
		memcpy(a->b, p, 16);
		return 0;
	default:
		return -2;
	}
}

static void nm_sf_hdr_count(struct nm_decoder *d, enum nm_hdr_res res)
{
	if (res == NM_HDR_TRUNCATED)
		nm_ev_inc(d, NM_EV_HDR_TRUNCATED);
	else if (res == NM_HDR_UNSUPPORTED)
		nm_ev_inc(d, NM_EV_HDR_UNSUPPORTED);
	else if (res == NM_HDR_DEPTH)
		nm_ev_inc(d, NM_EV_HDR_DEPTH);
}

/* MPLS label stack entries (label << 12 | exp << 9 | S << 8 | ttl). */
static void nm_sf_mpls_stack(struct nm_reader *r, struct nm_flow *f)
{
	uint32_t n = nm_rd_be32(r);
	if (!nm_rd_ok(r) || (size_t)n * 4 > r->left) {
		r->err = true;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t e = nm_rd_be32(r);
		if (f->has_mpls && i == 0)
			return; /* the sampled header already gave the stack */
		nm_flow_mpls_entry(f, i, e >> 12, e & 0xff);
	}
	if (n && !f->has_mpls) {
		f->mpls_count = n;
		f->has_mpls = 1;
	}
}

/* Extended gateway (1003): BGP next hop, ASes, AS path, communities. */
static int nm_sf_gateway(struct nm_decoder *d, struct nm_reader *r, struct nm_flow *f)
{
	int rc = nm_sf_addr(r, &f->bgp_next_hop);
	if (rc)
		return rc;
	uint32_t router_as = nm_rd_be32(r);
	f->src_as = nm_rd_be32(r);
	nm_rd_be32(r); /* src_peer_as */
	uint32_t nseg = nm_rd_be32(r);
	if (!nm_rd_ok(r) || (size_t)nseg * 8 > r->left)
		return -1;
	bool first = true, cut = false;
	uint32_t last = 0;
	for (uint32_t s = 0; s < nseg; s++) {
		nm_rd_be32(r); /* segment type: 1 AS_SET, 2 AS_SEQUENCE */
		uint32_t len = nm_rd_be32(r);
		if (!nm_rd_ok(r) || (size_t)len * 4 > r->left)
			return -1;
		for (uint32_t i = 0; i < len; i++) {
			uint32_t as = nm_rd_be32(r);
			if (first) {
				f->next_hop_as = as;
				first = false;
			}
			if (f->as_path_len < NM_AS_PATH_MAX)
				f->as_path[f->as_path_len++] = as;
			else
				cut = true;
			last = as;
		}
	}
	/* An empty path: the destination is in the router's own AS. */
	f->dst_as = first ? router_as : last;
	uint32_t ncom = nm_rd_be32(r);
	if (!nm_rd_ok(r) || (size_t)ncom * 4 > r->left)
		return -1;
	for (uint32_t i = 0; i < ncom; i++) {
		uint32_t c = nm_rd_be32(r);
		if (f->communities_len < NM_COMMUNITIES_MAX)
			f->communities[f->communities_len++] = c;
		else
			cut = true;
	}
	f->bgp_local_pref = nm_rd_be32(r);
	if (cut)
		nm_ev_inc(d, NM_EV_SFLOW_PATH_CUT);
	return nm_rd_ok(r) ? 0 : -1;
}

/*
 * One flow record into f. Returns 0, -1 when its fixed fields are cut
 * (NM_ERR_SFLOW_RECORD_TRUNCATED) or -2 for an unknown address type.
 * *hdr tells whether a sampled header described the packet already.
 */
static int nm_sf_flow_record(struct nm_decoder *d, uint32_t fmt, struct nm_reader *r,
			     struct nm_flow *f, bool *hdr)
{
	switch (fmt) {
	case 1: { /* sampled header: protocol, frame_length, stripped, header_length */
		const uint8_t *q = nm_rd_bytes(r, 16);
		if (q == NULL)
			return -1;
		uint32_t proto = nm_load_be32(q);
		uint32_t frame_len = nm_load_be32(q + 4);
		uint32_t hlen = nm_load_be32(q + 12);
		if (hlen > r->left) {
			nm_err_inc(d, NM_ERR_SFLOW_HEADER_LENGTH);
			return 0;
		}
		f->bytes = frame_len;
		nm_sf_hdr_count(d, nm_hdr_parse(r->p, hlen, (enum nm_hdr_start)proto, f));
		*hdr = true;
		return 0;
	}
	case 2: { /* Ethernet frame data: length, src mac (8), dst mac (8), type */
		const uint8_t *q = nm_rd_bytes(r, 24);
		if (q == NULL)
			return -1;
		/* Field by field: a header that starts at IP carries no MACs. */
		if (f->src_mac == 0 && f->dst_mac == 0) {
			f->src_mac = (uint64_t)nm_load_be16(q + 4) << 32 | nm_load_be32(q + 6);
			f->dst_mac = (uint64_t)nm_load_be16(q + 12) << 32 | nm_load_be32(q + 14);
		}
		if (f->etype == 0)
			f->etype = nm_load_be32(q + 20);
		if (f->bytes == 0)
			f->bytes = nm_load_be32(q);
		return 0;
	}
	case 3:   /* IPv4 data */
	case 4: { /* IPv6 data */
		bool v6 = fmt == 4;
		size_t al = v6 ? 16 : 4;
		const uint8_t *q = nm_rd_bytes(r, 8 + 2 * al + 16);
		if (q == NULL)
			return -1;
		/* Only when no sampled header described the packet. */
		if (!*hdr) {
			const uint8_t *a = q + 8, *p4 = q + 8 + 2 * al;
			f->etype = v6 ? 0x86dd : 0x0800;
			if (v6) {
				memcpy(f->src_addr.b, a, 16);
				memcpy(f->dst_addr.b, a + 16, 16);
			} else {
				nm_addr_set_v4(&f->src_addr, a);
				nm_addr_set_v4(&f->dst_addr, a + 4);
			}
			f->proto = nm_load_be32(q + 4);
			f->src_port = nm_load_be32(p4);
			f->dst_port = nm_load_be32(p4 + 4);
			f->tcp_flags = nm_load_be32(p4 + 8);
			f->ip_tos = nm_load_be32(p4 + 12);
		}
		if (f->bytes == 0)
			f->bytes = nm_load_be32(q);
		return 0;
	}
	case 1001: { /* extended switch: src vlan, src priority, dst vlan, dst priority */
		const uint8_t *q = nm_rd_bytes(r, 16);
		if (q == NULL)
			return -1;
		f->src_vlan = nm_load_be32(q);
		f->dst_vlan = nm_load_be32(q + 8);
		if (f->vlan_id == 0)
			f->vlan_id = f->src_vlan;
		return 0;
	}
	case 1002: { /* extended router: next hop, src mask, dst mask */
		struct nm_addr nh;
		int rc = nm_sf_addr(r, &nh);
		const uint8_t *q = rc ? NULL : nm_rd_bytes(r, 8);
		if (q == NULL)
			return rc ? rc : -1;
		f->next_hop = nh;
		f->src_net = nm_load_be32(q);
		f->dst_net = nm_load_be32(q + 4);
		return 0;
	}
	case 1003: { /* extended gateway: parsed aside, kept only when whole */
		struct nm_flow g = *f;
		g.as_path_len = g.communities_len = 0;
		int rc = nm_sf_gateway(d, r, &g);
		if (rc == 0)
			*f = g;
		return rc;
	}
	case 1006: { /* extended MPLS: next hop, in stack, out stack (not used) */
		struct nm_addr nh;
		int rc = nm_sf_addr(r, &nh);
		if (rc)
			return rc;
		struct nm_flow g = *f; /* parsed aside, kept only when whole */
		if (nm_addr_is_zero(&g.next_hop))
			g.next_hop = nh;
		nm_sf_mpls_stack(r, &g);
		if (!nm_rd_ok(r))
			return -1;
		*f = g;
		return 0;
	}
	case 1007: { /* extended NAT */
		struct nm_addr src, dst;
		int rc = nm_sf_addr(r, &src);
		if (rc == 0)
			rc = nm_sf_addr(r, &dst);
		if (rc == 0) {
			f->post_nat_src_addr = src;
			f->post_nat_dst_addr = dst;
		}
		return rc;
	}
	default:
		nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_RECORDS);
		return 0;
	}
}

/*
 * The one record iterator of flow, drop and counter samples: the next
 * record's format and a reader over its body. 0 (counted) when the header
 * or the body runs past the sample: the rest of the sample is skipped.
 */
static int nm_sf_rec_next(struct nm_decoder *d, struct nm_reader *s, uint32_t *format,
			  struct nm_reader *r)
{
	const uint8_t *q = nm_rd_bytes(s, 8);
	uint32_t len = q ? nm_load_be32(q + 4) : 0;
	if (q == NULL || len > s->left) {
		nm_err_inc(d, NM_ERR_SFLOW_RECORD_LENGTH);
		return 0;
	}
	*format = nm_load_be32(q);
	*r = nm_rd_sub(s, len);
	return 1;
}

/* Walks nrec records of a flow or drop sample into f. */
static void nm_sf_flow_records(struct nm_decoder *d, struct nm_reader *s, uint32_t nrec,
			       struct nm_flow *f)
{
	if ((size_t)nrec * 8 > s->left) {
		nm_err_inc(d, NM_ERR_SFLOW_RECORD_COUNT);
		return;
	}
	bool hdr = false;
	for (uint32_t i = 0; i < nrec; i++) {
		uint32_t format;
		struct nm_reader r;
		if (!nm_sf_rec_next(d, s, &format, &r))
			return;
		if (format >> 12) {
			nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_RECORDS); /* enterprise-specific */
			continue;
		}
		int rc = nm_sf_flow_record(d, format & 0xfff, &r, f, &hdr);
		if (rc == -1)
			nm_err_inc(d, NM_ERR_SFLOW_RECORD_TRUNCATED);
		else if (rc == -2)
			nm_err_inc(d, NM_ERR_SFLOW_BAD_ADDRESS_TYPE);
	}
}

struct nm_sf_dgram {
	struct nm_addr agent;
	uint32_t sub_agent;
	struct nm_exporter *agent_e; /* the (agent, sub-agent) entry */
	/* The agent's configured rate, copied: a sample's own sequence entry
	 * can take the agent entry's slot (nm_sf_sample_seq). */
	struct nm_rate_rule static_rate;
	struct nm_flow base;
};

/* A sample's data source: compact form type(8) index(24), or expanded. */
struct nm_sf_source {
	uint32_t type;
	uint32_t index;
};

/* A compact source ID: type in the top 8 bits, index in the low 24. */
static struct nm_sf_source nm_sf_source_compact(uint32_t id)
{
	struct nm_sf_source src = {id >> 24, id & 0xffffff};
	return src;
}

static uint64_t nm_sf_source_id(struct nm_sf_source src)
{
	return (uint64_t)src.type << 32 | src.index;
}

/*
 * Sample sequence numbers per (agent, sub-agent, source, sample kind). The
 * agent's entry remembers the per-source entries in a direct-mapped cache so
 * the common case skips hashing the 36-byte key; a cached slot is trusted
 * only when it still holds exactly that key (slots get reused on eviction).
 * The source type goes in the key's port field, the index in its domain.
 */
static void nm_sf_sample_seq(struct nm_decoder *d, const struct nm_sf_dgram *g, uint8_t kind,
			     struct nm_sf_source src, uint32_t seq, uint64_t now)
{
	struct nm_exporter *a = g->agent_e;
	uint16_t type = (uint16_t)src.type;
	/* Source indexes are mostly small consecutive ifIndexes: a plain modulo
	 * keeps up to 64 of them per kind collision-free. */
	uint32_t ci = (src.index * 4u + (kind & 3u) + type) % NM_SUB_CACHE;
	struct nm_exporter *e = NULL;
	if (a->sub_cache[ci] != NM_NIL) {
		struct nm_exporter *c = &d->exp[a->sub_cache[ci]];
		if (c->in_use && c->version == kind && c->domain == src.index &&
		    c->sub == g->sub_agent && c->port == type &&
		    memcmp(c->addr.b, g->agent.b, 16) == 0) {
			e = c;
			e->last_ns = now;
		}
	}
	if (e == NULL) {
		e = nm_exporter_get(d, &g->agent, type, kind, src.index, g->sub_agent, now);
		/* The agent entry itself may have been evicted to make room. */
		if (a->in_use && a->version == NM_EXP_SFLOW)
			a->sub_cache[ci] = (uint32_t)(e - d->exp);
	}
	nm_seq_track_ev(d, e, seq, 1, NM_EV_SFLOW_SAMPLE_SEQ_GAP);
}

/* Takes the next record slot, or a scratch one when the batch is full. */
static struct nm_flow *nm_sf_record(struct nm_flow_batch *b, struct nm_flow *scratch,
				    const struct nm_flow *base)
{
	struct nm_flow *f = nm_batch_slot(b);
	if (f == NULL)
		f = scratch;
	nm_flow_copy(f, base);
	return f;
}

static void nm_sf_commit(struct nm_decoder *d, struct nm_flow_batch *b, const struct nm_flow *f,
			 const struct nm_flow *scratch)
{
	if (f == scratch) {
		nm_err_inc(d, NM_ERR_BATCH_FULL);
		return;
	}
	b->n++;
	d->stats.records++;
}

static void nm_sf_flow_sample(struct nm_decoder *d, const struct nm_sf_dgram *g, bool expanded,
			      struct nm_reader *s, struct nm_flow_batch *b)
{
	/* Fixed part, record count included, read with one bounds check:
	 * compact 32 bytes, expanded 44. */
	const uint8_t *q = nm_rd_bytes(s, expanded ? 44 : 32);
	if (q == NULL) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	uint32_t seq = nm_load_be32(q), rate, in_fmt, in_val, out_fmt, out_val, nrec;
	struct nm_sf_source src;
	if (expanded) {
		src.type = nm_load_be32(q + 4);
		src.index = nm_load_be32(q + 8);
		rate = nm_load_be32(q + 12);
		in_fmt = nm_load_be32(q + 24);
		in_val = nm_load_be32(q + 28);
		out_fmt = nm_load_be32(q + 32);
		out_val = nm_load_be32(q + 36);
		nrec = nm_load_be32(q + 40);
	} else {
		src = nm_sf_source_compact(nm_load_be32(q + 4));
		rate = nm_load_be32(q + 8);
		uint32_t in = nm_load_be32(q + 20), out = nm_load_be32(q + 24);
		in_fmt = in >> 30;
		in_val = in & 0x3fffffff;
		out_fmt = out >> 30;
		out_val = out & 0x3fffffff;
		nrec = nm_load_be32(q + 28);
	}
	/* q + 16/20 (compact) or 16/20 (expanded): sample_pool and drops are
	 * agent-wide totals, not per-record values */
	nm_ev_inc(d, NM_EV_SFLOW_FLOW_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_FLOWS, src, seq, g->base.time_received_ns);
	struct nm_flow scratch;
	struct nm_flow *f = nm_sf_record(b, &scratch, &g->base);
	f->sampling_rate = nm_rate_apply(&g->static_rate, rate);
	f->sampler_id = nm_sf_source_id(src);
	f->packets = 1;
	f->in_if = in_fmt == 0 ? in_val : 0;
	switch (out_fmt) {
	case 0:
		f->out_if = out_val; /* NM_SF_IF_LOCAL: sent to the device itself */
		break;
	case 1:
		f->drop_reason = out_val; /* discarded: value is the reason */
		break;
	default:
		nm_ev_inc(d, NM_EV_SFLOW_MULTI_OUTPUT);
		break;
	}
	nm_sf_flow_records(d, s, nrec, f);
	if (f->sampling_rate == 0)
		nm_ev_inc(d, NM_EV_RATE_UNKNOWN);
	nm_sf_commit(d, b, f, &scratch);
}

/*
 * Discarded packet sample: one flow record for the dropped packet with its
 * reason in DropReason. Each sample is one packet, not a 1-in-N sample, so
 * SamplingRate is 1.
 */
static void nm_sf_drop_sample(struct nm_decoder *d, const struct nm_sf_dgram *g,
			      struct nm_reader *s, struct nm_flow_batch *b)
{
	/* seq, src type, src index, drops, input, output, reason, nrec */
	const uint8_t *q = nm_rd_bytes(s, 32);
	if (q == NULL) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	struct nm_sf_source src = {nm_load_be32(q + 4), nm_load_be32(q + 8)};
	nm_ev_inc(d, NM_EV_SFLOW_DROP_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_DROPS, src, nm_load_be32(q), g->base.time_received_ns);
	struct nm_flow scratch;
	struct nm_flow *f = nm_sf_record(b, &scratch, &g->base);
	f->sampling_rate = 1;
	f->sampler_id = nm_sf_source_id(src);
	f->packets = 1;
	f->in_if = nm_load_be32(q + 16);
	f->out_if = nm_load_be32(q + 20);
	f->drop_reason = nm_load_be32(q + 24);
	nm_sf_flow_records(d, s, nm_load_be32(q + 28), f);
	nm_sf_commit(d, b, f, &scratch);
}

/* Generic interface counters (counter record 1, 88 bytes). */
static bool nm_sf_generic(struct nm_reader *r, struct nm_ctr *c)
{
	const uint8_t *q = nm_rd_bytes(r, 88);
	if (q == NULL)
		return false;
	c->if_index = nm_load_be32(q);
	c->if_type = nm_load_be32(q + 4);
	c->if_speed = nm_load_be64(q + 8);
	c->if_direction = nm_load_be32(q + 16);
	c->if_status = nm_load_be32(q + 20);
	c->in_octets = nm_load_be64(q + 24);
	c->in_ucast_pkts = nm_load_be32(q + 32);
	c->in_multicast_pkts = nm_load_be32(q + 36);
	c->in_broadcast_pkts = nm_load_be32(q + 40);
	c->in_discards = nm_load_be32(q + 44);
	c->in_errors = nm_load_be32(q + 48);
	c->in_unknown_protos = nm_load_be32(q + 52);
	c->out_octets = nm_load_be64(q + 56);
	c->out_ucast_pkts = nm_load_be32(q + 64);
	c->out_multicast_pkts = nm_load_be32(q + 68);
	c->out_broadcast_pkts = nm_load_be32(q + 72);
	c->out_discards = nm_load_be32(q + 76);
	c->out_errors = nm_load_be32(q + 80);
	c->promiscuous_mode = nm_load_be32(q + 84);
	c->has_generic = 1;
	return true;
}

static void nm_sf_counter_sample(struct nm_decoder *d, const struct nm_sf_dgram *g,
				 bool expanded, struct nm_reader *s)
{
	/* seq, source (compact 4 or expanded 8 bytes), nrec */
	const uint8_t *q = nm_rd_bytes(s, expanded ? 16 : 12);
	if (q == NULL) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	uint32_t seq = nm_load_be32(q), nrec;
	struct nm_sf_source src;
	if (expanded) {
		src.type = nm_load_be32(q + 4);
		src.index = nm_load_be32(q + 8);
		nrec = nm_load_be32(q + 12);
	} else {
		src = nm_sf_source_compact(nm_load_be32(q + 4));
		nrec = nm_load_be32(q + 8);
	}
	if ((size_t)nrec * 8 > s->left) {
		nm_err_inc(d, NM_ERR_SFLOW_RECORD_COUNT);
		return;
	}
	nm_ev_inc(d, NM_EV_SFLOW_COUNTER_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_CTRS, src, seq, g->base.time_received_ns);
	struct nm_ctr c;
	memset(&c, 0, sizeof(c));
	c.time_received_ns = g->base.time_received_ns;
	c.time_received = g->base.time_received;
	c.agent = g->agent;
	c.sub_agent_id = g->sub_agent;
	c.sequence_num = g->base.sequence_num;
	c.sample_sequence_num = seq;
	c.source_id = nm_sf_source_id(src);
	c.if_index = src.index;
	for (uint32_t i = 0; i < nrec; i++) {
		uint32_t format;
		struct nm_reader r;
		if (!nm_sf_rec_next(d, s, &format, &r))
			break;
		if (format == 1) {
			/* Parsed aside: a cut record changes nothing. */
			struct nm_ctr t = c;
			if (nm_sf_generic(&r, &t))
				c = t;
			else
				nm_err_inc(d, NM_ERR_SFLOW_RECORD_TRUNCATED);
		} else if (format == 2) { /* Ethernet interface counters */
			const uint8_t *e = nm_rd_bytes(&r, 52);
			if (e == NULL) {
				nm_err_inc(d, NM_ERR_SFLOW_RECORD_TRUNCATED);
				continue;
			}
			for (int k = 0; k < 13; k++)
				c.dot3[k] = nm_load_be32(e + 4 * k);
			c.has_ethernet = 1;
		} else {
			nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_RECORDS);
		}
	}
	if (!c.has_generic && !c.has_ethernet) {
		nm_ev_inc(d, NM_EV_SFLOW_COUNTERS_NO_IF);
		return;
	}
	struct nm_ctr_batch *cb = d->ctr_batch;
	if (cb && cb->n >= cb->cap && cb->flush)
		cb->flush(cb, cb->flush_ctx);
	if (cb == NULL || cb->n >= cb->cap) {
		nm_err_inc(d, NM_ERR_CTR_BATCH_FULL);
		return;
	}
	cb->recs[cb->n++] = c;
	d->stats.counter_records++;
}

enum nm_err nm_decode_sflow(struct nm_decoder *d, const struct nm_pkt_meta *m, const uint8_t *p,
			    size_t len, struct nm_flow_batch *b)
{
	d->stats.datagrams++;
	struct nm_reader r = nm_rd_init(p, len);
	uint32_t version = nm_rd_be32(&r);
	if (!nm_rd_ok(&r))
		return nm_reject(d, NM_ERR_SHORT_HEADER);
	if (version != 5)
		return nm_reject(d, NM_ERR_BAD_VERSION);
	struct nm_sf_dgram g;
	/* Type 0 ("unknown") names no agent: nothing to key its state by. */
	if (r.left >= 4 && nm_load_be32(r.p) == 0)
		return nm_reject(d, NM_ERR_SFLOW_BAD_AGENT_TYPE);
	int rc = nm_sf_addr(&r, &g.agent);
	if (rc == -2)
		return nm_reject(d, NM_ERR_SFLOW_BAD_AGENT_TYPE);
	g.sub_agent = nm_rd_be32(&r);
	uint32_t seq = nm_rd_be32(&r);
	nm_rd_be32(&r); /* uptime */
	uint32_t nsamples = nm_rd_be32(&r);
	if (rc || !nm_rd_ok(&r))
		return nm_reject(d, NM_ERR_SHORT_HEADER);
	/* Cap before looping: a sample is at least 8 bytes. */
	if ((size_t)nsamples * 8 > r.left)
		return nm_reject(d, NM_ERR_SFLOW_SAMPLE_COUNT);
	struct nm_exporter *e =
		nm_exporter_get(d, &g.agent, 0, NM_EXP_SFLOW, 0, g.sub_agent, m->time_ns);
	nm_seq_track(d, e, seq, 1);
	g.agent_e = e;
	g.static_rate = e->static_rate;
	nm_base_init(&g.base, m, NM_FLOW_TYPE_SFLOW_5, seq, g.sub_agent);
	g.base.sampler_address = g.agent;
	/* A sample is one packet seen at one instant: the flow starts and ends
	 * when the datagram arrived (sFlow carries no per-sample time). */
	g.base.time_flow_start_ns = g.base.time_flow_end_ns = m->time_ns;
	g.base.time_flow_start = g.base.time_flow_end = g.base.time_received;

	for (uint32_t i = 0; i < nsamples; i++) {
		uint32_t format = nm_rd_be32(&r);
		uint32_t slen = nm_rd_be32(&r);
		if (!nm_rd_ok(&r) || slen > r.left)
			return nm_reject(d, NM_ERR_SFLOW_SAMPLE_LENGTH);
		struct nm_reader s = nm_rd_sub(&r, slen);
		switch (format >> 12 ? 0 : format) {
		case 1:
		case 3:
			nm_sf_flow_sample(d, &g, format == 3, &s, b);
			break;
		case 2:
		case 4:
			nm_sf_counter_sample(d, &g, format == 4, &s);
			break;
		case 5:
			nm_sf_drop_sample(d, &g, &s, b);
			break;
		default:
			nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_SAMPLES);
			break;
		}
	}
	/* Some agents send bytes after the declared samples: accepted. */
	if (r.left)
		nm_ev_inc(d, NM_EV_SFLOW_TRAILING_BYTES);
	d->stats.datagrams_ok++;
	return NM_ERR_OK;
}
