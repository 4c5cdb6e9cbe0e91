/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sFlow version 5 decoder (sflow.org "sFlow Version 5", July 2004, and the
 * "sFlow Dropped Packet Notification Structures" extension). XDR: every
 * field is a big-endian 32-bit word, opaque data padded to 4 bytes.
 *
 * datagram:  version(=5) agent_type(1 v4 | 2 v6) agent(4|16) sub_agent_id
 *            sequence uptime_ms num_samples, then samples
 * sample:    data_format (enterprise << 12 | format) length body
 *   1 flow sample:        seq source_id rate pool drops input output nrec records
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
static void nm_sf_mpls_stack(struct nm_decoder *d, struct nm_reader *r, struct nm_flow *f)
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
		uint32_t label = e >> 12, ttl = e & 0xff;
		if (i == 0) {
			f->mpls1_label = label;
			f->mpls1_ttl = ttl;
		} else if (i == 1) {
			f->mpls2_label = label;
			f->mpls2_ttl = ttl;
		} else if (i == 2) {
			f->mpls3_label = label;
			f->mpls3_ttl = ttl;
		}
		f->mpls_last_label = label;
		f->mpls_last_ttl = ttl;
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
 */
static int nm_sf_flow_record(struct nm_decoder *d, uint32_t fmt, struct nm_reader *r,
			     struct nm_flow *f)
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
		return 0;
	}
	case 2: { /* Ethernet frame data */
		uint32_t len = nm_rd_be32(r);
		const uint8_t *src = nm_rd_bytes(r, 8);
		const uint8_t *dst = nm_rd_bytes(r, 8);
		uint32_t type = nm_rd_be32(r);
		if (!nm_rd_ok(r))
			return -1;
		if (f->src_mac == 0 && f->dst_mac == 0) {
			f->src_mac = (uint64_t)nm_load_be16(src) << 32 | nm_load_be32(src + 2);
			f->dst_mac = (uint64_t)nm_load_be16(dst) << 32 | nm_load_be32(dst + 2);
		}
		if (f->etype == 0)
			f->etype = type;
		if (f->bytes == 0)
			f->bytes = len;
		return 0;
	}
	case 3:   /* IPv4 data */
	case 4: { /* IPv6 data */
		bool v6 = fmt == 4;
		uint32_t len = nm_rd_be32(r);
		uint32_t proto = nm_rd_be32(r);
		const uint8_t *src = nm_rd_bytes(r, v6 ? 16 : 4);
		const uint8_t *dst = nm_rd_bytes(r, v6 ? 16 : 4);
		uint32_t sport = nm_rd_be32(r), dport = nm_rd_be32(r);
		uint32_t flags = nm_rd_be32(r), tos = nm_rd_be32(r);
		if (!nm_rd_ok(r))
			return -1;
		if (f->etype != 0x0800 && f->etype != 0x86dd) {
			/* Only when no sampled header described the packet. */
			f->etype = v6 ? 0x86dd : 0x0800;
			if (v6) {
				memcpy(f->src_addr.b, src, 16);
				memcpy(f->dst_addr.b, dst, 16);
			} else {
				nm_addr_set_v4(&f->src_addr, src);
				nm_addr_set_v4(&f->dst_addr, dst);
			}
			f->proto = proto;
			f->src_port = sport;
			f->dst_port = dport;
			f->tcp_flags = flags;
			f->ip_tos = tos;
		}
		if (f->bytes == 0)
			f->bytes = len;
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
	case 1002: { /* extended router */
		int rc = nm_sf_addr(r, &f->next_hop);
		if (rc)
			return rc;
		f->src_net = nm_rd_be32(r);
		f->dst_net = nm_rd_be32(r);
		return nm_rd_ok(r) ? 0 : -1;
	}
	case 1003:
		return nm_sf_gateway(d, r, f);
	case 1006: { /* extended MPLS: next hop, in stack, out stack */
		struct nm_addr nh;
		int rc = nm_sf_addr(r, &nh);
		if (rc)
			return rc;
		if (nm_addr_is_zero(&f->next_hop))
			f->next_hop = nh;
		nm_sf_mpls_stack(d, r, f);
		return nm_rd_ok(r) ? 0 : -1;
	}
	case 1007: { /* extended NAT */
		int rc = nm_sf_addr(r, &f->post_nat_src_addr);
		if (rc == 0)
			rc = nm_sf_addr(r, &f->post_nat_dst_addr);
		return rc;
	}
	default:
		nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_RECORDS);
		return 0;
	}
}

/* Walks nrec records of a flow or drop sample into f. */
static void nm_sf_flow_records(struct nm_decoder *d, struct nm_reader *s, struct nm_flow *f)
{
	uint32_t nrec = nm_rd_be32(s);
	if (!nm_rd_ok(s) || (size_t)nrec * 8 > s->left) {
		nm_err_inc(d, NM_ERR_SFLOW_RECORD_COUNT);
		return;
	}
	for (uint32_t i = 0; i < nrec; i++) {
		const uint8_t *q = nm_rd_bytes(s, 8);
		uint32_t format = q ? nm_load_be32(q) : 0;
		uint32_t len = q ? nm_load_be32(q + 4) : 0;
		if (q == NULL || len > s->left) {
			nm_err_inc(d, NM_ERR_SFLOW_RECORD_LENGTH);
			return;
		}
		struct nm_reader r = nm_rd_sub(s, len);
		if (format >> 12) {
			nm_ev_inc(d, NM_EV_SFLOW_UNKNOWN_RECORDS); /* enterprise-specific */
			continue;
		}
		int rc = nm_sf_flow_record(d, format & 0xfff, &r, f);
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
	struct nm_flow base;
};

/*
 * Sample sequence numbers per (agent, sub-agent, source ID, sample kind).
 * The agent's entry remembers a few recent per-source entries so the common
 * case skips hashing the 32-byte key; a cached slot is trusted only when it
 * still holds exactly that key (slots get reused after eviction).
 */
static void nm_sf_sample_seq(struct nm_decoder *d, const struct nm_sf_dgram *g, uint8_t kind,
			     uint32_t source_id, uint32_t seq, uint64_t now)
{
	struct nm_exporter *a = g->agent_e;
	/* Source IDs are mostly small consecutive ifIndexes: a plain modulo
	 * keeps up to 64 ports of each kind collision-free. */
	uint32_t ci = (source_id * 4u + (kind & 3u)) % NM_SUB_CACHE;
	struct nm_exporter *e = NULL;
	if (a->sub_cache[ci] != NM_NIL) {
		struct nm_exporter *c = &d->exp[a->sub_cache[ci]];
		if (c->in_use && c->version == kind && c->domain == source_id &&
		    c->sub == g->sub_agent && c->port == 0 &&
		    memcmp(c->addr.b, g->agent.b, 16) == 0) {
			e = c;
			e->last_ns = now;
		}
	}
	if (e == NULL) {
		e = nm_exporter_get(d, &g->agent, 0, kind, source_id, g->sub_agent, now);
		if (e == NULL)
			return;
		/* The agent entry itself may have been evicted to make room. */
		if (a->in_use && a->version == NM_EXP_SFLOW)
			a->sub_cache[ci] = (uint32_t)(e - d->exp);
	}
	nm_seq_track_ev(d, e, seq, 1, NM_EV_SFLOW_SAMPLE_SEQ_GAP);
}

static void nm_sf_flow_sample(struct nm_decoder *d, const struct nm_sf_dgram *g, bool expanded,
			      struct nm_reader *s, struct nm_flow_batch *b)
{
	/* Fixed part read with one bounds check (compact 28 or expanded 40 bytes
	 * before the record count). */
	const uint8_t *q = nm_rd_bytes(s, expanded ? 40 : 28);
	if (q == NULL) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	uint32_t seq = nm_load_be32(q), source_id, rate, in_fmt, in_val, out_fmt, out_val;
	if (expanded) {
		source_id = nm_load_be32(q + 4) << 24 | (nm_load_be32(q + 8) & 0xffffff);
		rate = nm_load_be32(q + 12);
		in_fmt = nm_load_be32(q + 24);
		in_val = nm_load_be32(q + 28);
		out_fmt = nm_load_be32(q + 32);
		out_val = nm_load_be32(q + 36);
	} else {
		source_id = nm_load_be32(q + 4);
		rate = nm_load_be32(q + 8);
		uint32_t in = nm_load_be32(q + 20), out = nm_load_be32(q + 24);
		in_fmt = in >> 30;
		in_val = in & 0x3fffffff;
		out_fmt = out >> 30;
		out_val = out & 0x3fffffff;
	}
	/* q + 16/20: sample_pool and drops are not per-record values */
	nm_ev_inc(d, NM_EV_SFLOW_FLOW_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_FLOWS, source_id, seq, g->base.time_received_ns);
	struct nm_flow scratch;
	struct nm_flow *f = nm_batch_slot(b);
	if (f == NULL)
		f = &scratch;
	*f = g->base;
	f->sampling_rate = rate;
	f->sampler_id = source_id;
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
	nm_sf_flow_records(d, s, f);
	if (rate == 0)
		nm_ev_inc(d, NM_EV_RATE_UNKNOWN);
	if (f == &scratch) {
		nm_err_inc(d, NM_ERR_BATCH_FULL);
		return;
	}
	b->n++;
	d->stats.records++;
}

/*
 * Discarded packet sample: one flow record for the dropped packet with its
 * reason in DropReason. Each sample is one packet, not a 1-in-N sample, so
 * SamplingRate is 1.
 */
static void nm_sf_drop_sample(struct nm_decoder *d, const struct nm_sf_dgram *g,
			      struct nm_reader *s, struct nm_flow_batch *b)
{
	uint32_t seq = nm_rd_be32(s);
	uint32_t type = nm_rd_be32(s), index = nm_rd_be32(s);
	nm_rd_be32(s); /* drops */
	uint32_t in = nm_rd_be32(s), out = nm_rd_be32(s), reason = nm_rd_be32(s);
	if (!nm_rd_ok(s)) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	uint32_t source_id = type << 24 | (index & 0xffffff);
	nm_ev_inc(d, NM_EV_SFLOW_DROP_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_DROPS, source_id, seq, g->base.time_received_ns);
	struct nm_flow scratch;
	struct nm_flow *f = nm_batch_slot(b);
	if (f == NULL)
		f = &scratch;
	*f = g->base;
	f->sampling_rate = 1;
	f->sampler_id = source_id;
	f->packets = 1;
	f->in_if = in;
	f->out_if = out;
	f->drop_reason = reason;
	nm_sf_flow_records(d, s, f);
	if (f == &scratch) {
		nm_err_inc(d, NM_ERR_BATCH_FULL);
		return;
	}
	b->n++;
	d->stats.records++;
}

static void nm_sf_counter_sample(struct nm_decoder *d, const struct nm_sf_dgram *g,
				 bool expanded, struct nm_reader *s)
{
	uint32_t seq = nm_rd_be32(s), source_id;
	if (expanded) {
		uint32_t type = nm_rd_be32(s), index = nm_rd_be32(s);
		source_id = type << 24 | (index & 0xffffff);
	} else {
		source_id = nm_rd_be32(s);
	}
	uint32_t nrec = nm_rd_be32(s);
	if (!nm_rd_ok(s)) {
		nm_err_inc(d, NM_ERR_SFLOW_SAMPLE_TRUNCATED);
		return;
	}
	if ((size_t)nrec * 8 > s->left) {
		nm_err_inc(d, NM_ERR_SFLOW_RECORD_COUNT);
		return;
	}
	nm_ev_inc(d, NM_EV_SFLOW_COUNTER_SAMPLES);
	nm_sf_sample_seq(d, g, NM_EXP_SFLOW_CTRS, source_id, seq, g->base.time_received_ns);
	struct nm_ctr c;
	memset(&c, 0, sizeof(c));
	c.time_received_ns = g->base.time_received_ns;
	c.time_received = g->base.time_received;
	c.agent = g->agent;
	c.sub_agent_id = g->sub_agent;
	c.sequence_num = g->base.sequence_num;
	c.sample_sequence_num = seq;
	c.source_id = source_id;
	c.if_index = source_id & 0xffffff;
	for (uint32_t i = 0; i < nrec; i++) {
		uint32_t format = nm_rd_be32(s);
		uint32_t len = nm_rd_be32(s);
		if (!nm_rd_ok(s) || len > s->left) {
			nm_err_inc(d, NM_ERR_SFLOW_RECORD_LENGTH);
			break;
		}
		struct nm_reader r = nm_rd_sub(s, len);
		if (format == 1) { /* generic interface counters */
			c.if_index = nm_rd_be32(&r);
			c.if_type = nm_rd_be32(&r);
			c.if_speed = nm_rd_be64(&r);
			c.if_direction = nm_rd_be32(&r);
			c.if_status = nm_rd_be32(&r);
			c.in_octets = nm_rd_be64(&r);
			c.in_ucast_pkts = nm_rd_be32(&r);
			c.in_multicast_pkts = nm_rd_be32(&r);
			c.in_broadcast_pkts = nm_rd_be32(&r);
			c.in_discards = nm_rd_be32(&r);
			c.in_errors = nm_rd_be32(&r);
			c.in_unknown_protos = nm_rd_be32(&r);
			c.out_octets = nm_rd_be64(&r);
			c.out_ucast_pkts = nm_rd_be32(&r);
			c.out_multicast_pkts = nm_rd_be32(&r);
			c.out_broadcast_pkts = nm_rd_be32(&r);
			c.out_discards = nm_rd_be32(&r);
			c.out_errors = nm_rd_be32(&r);
			c.promiscuous_mode = nm_rd_be32(&r);
			if (nm_rd_ok(&r))
				c.has_generic = 1;
			else
				nm_err_inc(d, NM_ERR_SFLOW_RECORD_TRUNCATED);
		} else if (format == 2) { /* Ethernet interface counters */
			uint32_t v[13];
			for (int k = 0; k < 13; k++)
				v[k] = nm_rd_be32(&r);
			if (nm_rd_ok(&r)) {
				memcpy(c.dot3, v, sizeof(v));
				c.has_ethernet = 1;
			} else {
				nm_err_inc(d, NM_ERR_SFLOW_RECORD_TRUNCATED);
			}
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
	if (e == NULL)
		return NM_ERR_EXPORTER_CACHE_FULL;
	nm_seq_track(d, e, seq, 1);
	g.agent_e = e;
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
