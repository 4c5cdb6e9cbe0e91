/* SPDX-License-Identifier: BSD-3-Clause */
#include "sampler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NM_SFLOW_VERSION 5
#define NM_SFLOW_FLOW_SAMPLE 1
#define NM_SFLOW_COUNTER_SAMPLE 2
#define NM_SFLOW_FLOW_SAMPLE_EXP 3
#define NM_SFLOW_COUNTER_SAMPLE_EXP 4
#define NM_SFLOW_REC_RAW_HEADER 1
#define NM_SFLOW_REC_GENERIC_IF 1
#define NM_SFLOW_GENERIC_IF_LEN 88
#define NM_SFLOW_PROTO_ETHERNET 1
#define NM_SFLOW_FCS 4        /* octets the port stripped before we saw the frame */
#define NM_SFLOW_IFTYPE_ETHERNET 6

void nm_cfg_sampler_default(struct nm_cfg_sampler *c)
{
	memset(c, 0, sizeof(*c));
	c->header_bytes = 128;
	c->records = true;
	c->counter_interval = 20;
}

static uint64_t nm_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void nm_rng_seed(struct nm_rng *g, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
	g->s = nm_splitmix64(&x);
	if (g->s == 0)
		g->s = 0x9e3779b97f4a7c15ull; /* xorshift's one fixed point */
}

void nm_sampler_port_init(struct nm_sampler_port *sp, uint32_t rate, uint32_t if_index,
			  struct nm_rng *g)
{
	memset(sp, 0, sizeof(*sp));
	sp->rate = rate ? rate : 1;
	sp->if_index = if_index;
	sp->skip = nm_sampler_skip(g, sp->rate);
}

enum nm_hdr_res nm_sampler_record(const struct nm_cfg_sampler *cfg,
				  const struct nm_sampler_port *sp, uint32_t sub_agent,
				  const uint8_t *frame, uint32_t caplen, uint32_t frame_len,
				  uint64_t now_ns, struct nm_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->type = NM_FLOW_TYPE_SAMPLER;
	f->time_received_ns = now_ns;
	f->time_received = now_ns / 1000000000ull;
	/* One packet seen at one instant, as the sFlow decoder does. */
	f->time_flow_start_ns = f->time_flow_end_ns = now_ns;
	f->time_flow_start = f->time_flow_end = f->time_received;
	f->sampling_rate = sp->rate;
	f->bytes = frame_len;
	f->packets = 1;
	f->in_if = sp->if_index;
	f->sampler_address = cfg->agent;
	f->sampler_id = sp->if_index; /* sFlow source ID: type 0 (ifIndex) << 32 | index */
	f->observation_domain_id = sub_agent;
	f->sequence_num = sp->flow_seq;
	f->sample_pool = sp->pool;
	f->sample_drops = sp->drops;
	return nm_hdr_parse(frame, caplen, NM_HDR_ETHERNET, f);
}

/* ---- sFlow v5 agent ---- */

static uint8_t *nm_put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static uint8_t *nm_put64(uint8_t *p, uint64_t v)
{
	p = nm_put32(p, (uint32_t)(v >> 32));
	return nm_put32(p, (uint32_t)v);
}

void nm_sflow_agent_init(struct nm_sflow_agent *a, const struct nm_cfg_sampler *cfg,
			 uint32_t sub_agent, uint64_t boot_ns,
			 bool (*send)(void *ctx, const uint8_t *p, size_t len), void *ctx)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->sub_agent = sub_agent;
	a->boot_ns = boot_ns;
	a->send = send;
	a->send_ctx = ctx;
	bool v4 = nm_addr_is_v4(&cfg->agent);
	uint8_t *p = a->buf;
	p = nm_put32(p, NM_SFLOW_VERSION);
	p = nm_put32(p, v4 ? 1 : 2);
	if (v4) {
		memcpy(p, cfg->agent.b + 12, 4);
		p += 4;
	} else {
		memcpy(p, cfg->agent.b, 16);
		p += 16;
	}
	p = nm_put32(p, sub_agent);
	/* sequence, uptime, num_samples: written at send */
	a->hdr_len = (uint32_t)(p - a->buf) + 12;
	a->len = a->hdr_len;
}

void nm_sflow_agent_flush(struct nm_sflow_agent *a, uint64_t now_ns)
{
	if (a->nsamples == 0)
		return;
	uint8_t *p = a->buf + a->hdr_len - 12;
	p = nm_put32(p, ++a->seq);
	p = nm_put32(p, (uint32_t)((now_ns - a->boot_ns) / 1000000ull));
	nm_put32(p, a->nsamples);
	a->datagrams++;
	if (a->send == NULL || !a->send(a->send_ctx, a->buf, a->len)) {
		a->send_failed++;
		a->samples_lost += a->nsamples;
	}
	a->nsamples = 0;
	a->len = a->hdr_len;
}

/* Room for need more bytes, sending the datagram when it is full. */
static uint8_t *nm_sflow_room(struct nm_sflow_agent *a, uint32_t need, uint64_t now_ns)
{
	if (a->len + need > sizeof(a->buf))
		nm_sflow_agent_flush(a, now_ns);
	if (a->nsamples == 0)
		a->first_ns = now_ns;
	return a->buf + a->len;
}

void nm_sflow_agent_flow(struct nm_sflow_agent *a, const struct nm_sampler_port *sp,
			 const uint8_t *frame, uint32_t caplen, uint32_t frame_len,
			 uint64_t now_ns)
{
	uint32_t hl = caplen < a->cfg->header_bytes ? caplen : a->cfg->header_bytes;
	uint32_t padded = (hl + 3) & ~3u;
	bool exp = sp->if_index >= (1u << 24);
	uint32_t rec_len = 16 + padded;
	uint32_t body = (exp ? 44 : 32) + 8 + rec_len;
	uint8_t *p = nm_sflow_room(a, 8 + body, now_ns);
	uint8_t *start = p;
	p = nm_put32(p, exp ? NM_SFLOW_FLOW_SAMPLE_EXP : NM_SFLOW_FLOW_SAMPLE);
	p = nm_put32(p, body);
	p = nm_put32(p, sp->flow_seq);
	if (exp) {
		p = nm_put32(p, 0); /* source ID type: ifIndex */
		p = nm_put32(p, sp->if_index);
	} else {
		p = nm_put32(p, sp->if_index); /* type 0 << 24 | index */
	}
	p = nm_put32(p, sp->rate);
	p = nm_put32(p, (uint32_t)sp->pool); /* 32-bit counters wrap, as the spec has them */
	p = nm_put32(p, (uint32_t)sp->drops);
	if (exp) {
		p = nm_put32(p, 0); /* input: format 0, ifIndex */
		p = nm_put32(p, sp->if_index);
		p = nm_put32(p, 0); /* output: unknown */
		p = nm_put32(p, 0);
	} else {
		p = nm_put32(p, sp->if_index);
		p = nm_put32(p, 0);
	}
	p = nm_put32(p, 1); /* one record */
	p = nm_put32(p, NM_SFLOW_REC_RAW_HEADER);
	p = nm_put32(p, rec_len);
	p = nm_put32(p, NM_SFLOW_PROTO_ETHERNET);
	/* The spec's frame_length includes the FCS, which the port stripped. */
	p = nm_put32(p, frame_len + NM_SFLOW_FCS);
	p = nm_put32(p, NM_SFLOW_FCS);
	p = nm_put32(p, hl);
	memcpy(p, frame, hl);
	memset(p + hl, 0, padded - hl);
	p += padded;
	a->len += (uint32_t)(p - start);
	a->nsamples++;
}

void nm_sflow_agent_counters(struct nm_sflow_agent *a, struct nm_sampler_port *sp,
			     const struct nm_sampler_ifctr *c, uint64_t now_ns)
{
	bool exp = sp->if_index >= (1u << 24);
	uint32_t body = (exp ? 16 : 12) + 8 + NM_SFLOW_GENERIC_IF_LEN;
	uint8_t *p = nm_sflow_room(a, 8 + body, now_ns);
	uint8_t *start = p;
	p = nm_put32(p, exp ? NM_SFLOW_COUNTER_SAMPLE_EXP : NM_SFLOW_COUNTER_SAMPLE);
	p = nm_put32(p, body);
	p = nm_put32(p, ++sp->ctr_seq);
	if (exp) {
		p = nm_put32(p, 0);
		p = nm_put32(p, sp->if_index);
	} else {
		p = nm_put32(p, sp->if_index);
	}
	p = nm_put32(p, 1);
	p = nm_put32(p, NM_SFLOW_REC_GENERIC_IF);
	p = nm_put32(p, NM_SFLOW_GENERIC_IF_LEN);
	p = nm_put32(p, sp->if_index);
	p = nm_put32(p, NM_SFLOW_IFTYPE_ETHERNET);
	p = nm_put64(p, c->speed);
	p = nm_put32(p, c->direction);
	p = nm_put32(p, c->status);
	p = nm_put64(p, c->in_octets);
	p = nm_put32(p, c->in_ucast);
	p = nm_put32(p, c->in_mcast);
	p = nm_put32(p, c->in_bcast);
	p = nm_put32(p, c->in_discards);
	p = nm_put32(p, c->in_errors);
	p = nm_put32(p, c->in_unknown);
	p = nm_put64(p, c->out_octets);
	p = nm_put32(p, c->out_ucast);
	p = nm_put32(p, c->out_mcast);
	p = nm_put32(p, c->out_bcast);
	p = nm_put32(p, c->out_discards);
	p = nm_put32(p, c->out_errors);
	p = nm_put32(p, c->promisc);
	a->len += (uint32_t)(p - start);
	a->nsamples++;
}

/* ---- the UDP socket ---- */

struct nm_sflow_out {
	int fd;
	uint32_t n;
	struct sockaddr_in6 to[NM_SAMPLER_MAX_COLLECTORS];
	uint32_t tolen[NM_SAMPLER_MAX_COLLECTORS];
};

int nm_sampler_parse_hostport(const char *s, void *sa, uint32_t *salen)
{
	char host[80];
	const char *colon;
	size_t hl;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - s - 1);
		memcpy(host, s + 1, hl < sizeof(host) ? hl : 0);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
		memcpy(host, s, hl < sizeof(host) ? hl : 0);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	host[hl] = 0;
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == 0 || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in6 *s6 = sa;
	memset(s6, 0, sizeof(*s6));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	uint8_t v4[4];
	if (inet_pton(AF_INET, host, v4) == 1) {
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(s6->sin6_addr.s6_addr + 12, v4, 4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
		return -1;
	}
	*salen = sizeof(*s6);
	return 0;
}

struct nm_sflow_out *nm_sflow_out_open(const struct nm_cfg_sampler *cfg, char *err,
				       size_t errlen)
{
	struct nm_sflow_out *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Dual-stack, so v4-mapped collectors and IPv6 ones share a socket. */
	o->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->fd < 0) {
		snprintf(err, errlen, "sFlow agent socket: %s", strerror(errno));
		free(o);
		return NULL;
	}
	int off = 0;
	setsockopt(o->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	int sndbuf = 4 << 20;
	setsockopt(o->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	for (uint32_t i = 0; i < cfg->ncollectors; i++) {
		if (nm_sampler_parse_hostport(cfg->collectors[i], &o->to[i], &o->tolen[i])) {
			snprintf(err, errlen, "sampler.sflow_collectors[%u]: '%s' is not host:port", i,
				 cfg->collectors[i]);
			nm_sflow_out_close(o);
			return NULL;
		}
	}
	o->n = cfg->ncollectors;
	return o;
}

bool nm_sflow_out_send(void *out, const uint8_t *p, size_t len)
{
	struct nm_sflow_out *o = out;
	bool ok = true;
	for (uint32_t i = 0; i < o->n; i++)
		ok &= sendto(o->fd, p, len, 0, (const struct sockaddr *)&o->to[i], o->tolen[i]) ==
		      (ssize_t)len;
	return ok;
}

void nm_sflow_out_close(struct nm_sflow_out *o)
{
	if (o == NULL)
		return;
	close(o->fd);
	free(o);
}
