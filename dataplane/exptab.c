/* SPDX-License-Identifier: BSD-3-Clause */
#include "exptab.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t nm_exptab_mem_bytes(uint32_t cap)
{
	return (size_t)nm_pow2_ceil(2ull * cap) * sizeof(struct nm_exptab_slot);
}

int nm_exptab_init(struct nm_exptab *t, uint32_t cap, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	uint64_t n = nm_pow2_ceil(2ull * cap);
	t->slot = calloc(n, sizeof(*t->slot));
	if (t->slot == NULL)
		return -1;
	t->mask = (uint32_t)(n - 1);
	t->cap = cap;
	t->seed = seed | 1;
	return 0;
}

void nm_exptab_free(struct nm_exptab *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static uint32_t nm_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Protocol and domain from the export header; bounds-checked, anything
 * short or unknown is protocol 0, domain 0 (the decoder counts why). */
static void nm_exptab_peek(const uint8_t *p, size_t len, uint8_t *proto, uint32_t *domain)
{
	enum nm_flow_type ft = nm_decode_sniff(p, len);
	*proto = (uint8_t)ft;
	*domain = 0;
	switch (ft) {
	case NM_FLOW_TYPE_NETFLOW_V5:
		if (len >= 22)
			*domain = (uint32_t)p[20] << 8 | p[21];
		break;
	case NM_FLOW_TYPE_NETFLOW_V9:
		if (len >= 20)
			*domain = nm_be32(p + 16);
		break;
	case NM_FLOW_TYPE_IPFIX:
		if (len >= 16)
			*domain = nm_be32(p + 12);
		break;
	case NM_FLOW_TYPE_SFLOW_5:
		/* version, agent address type (1 IPv4, 2 IPv6), address, sub-agent */
		if (len >= 8) {
			size_t off = nm_be32(p + 4) == 2 ? 24 : 12;
			if (len >= off + 4)
				*domain = nm_be32(p + off);
		}
		break;
	default:
		break;
	}
}

static uint32_t nm_exptab_hash(const struct nm_exptab *t, const struct nm_addr *a,
			       uint32_t domain, uint8_t proto)
{
	uint64_t w0, w1;
	memcpy(&w0, a->b, 8);
	memcpy(&w1, a->b + 8, 8);
	uint64_t h = t->seed;
	h = (h ^ w0) * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 29) ^ w1) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 31) ^ ((uint64_t)domain << 8 | proto)) * 0x94d049bb133111ebull;
	return (uint32_t)(h ^ (h >> 32));
}

static bool nm_exptab_is(const struct nm_exptab_slot *s, const struct nm_addr *a,
			 uint32_t domain, uint8_t proto)
{
	return s->domain == domain && s->proto == proto && memcmp(s->addr.b, a->b, 16) == 0;
}

/* The exporter's slot; with add, a new one if there is room. NULL: none. */
static struct nm_exptab_slot *nm_exptab_find(struct nm_exptab *t, const struct nm_addr *a,
					     uint32_t domain, uint8_t proto, bool add)
{
	uint32_t i = nm_exptab_hash(t, a, domain, proto) & t->mask;
	for (uint32_t k = 0; k < NM_EXPTAB_PROBES; k++, i = (i + 1) & t->mask) {
		struct nm_exptab_slot *s = &t->slot[i];
		/* relaxed: this thread is the only writer of `used` */
		if (atomic_load_explicit(&s->used, memory_order_relaxed) == 0) {
			if (!add || t->nused >= t->cap)
				return NULL;
			s->addr = *a;
			s->domain = domain;
			s->proto = proto;
			/* release: the key is complete before a reader counts the slot
			 * (pairs with the acquire load in the metrics thread) */
			atomic_store_explicit(&s->used, 1, memory_order_release);
			t->nused++;
			atomic_store_explicit(&t->used_pub, t->nused, memory_order_relaxed);
			return s;
		}
		if (nm_exptab_is(s, a, domain, proto))
			return s;
	}
	return NULL;
}

/* Relaxed single-writer updates. */
static inline void nm_exptab_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

void nm_exptab_note(struct nm_exptab *t, const struct nm_addr *src, const uint8_t *p, size_t len,
		    uint64_t records, uint64_t rate, uint64_t now_ns)
{
	uint8_t proto;
	uint32_t domain;
	nm_exptab_peek(p, len, &proto, &domain);
	struct nm_exptab_slot *s = t->last;
	if (s == NULL || !nm_exptab_is(s, src, domain, proto)) {
		s = nm_exptab_find(t, src, domain, proto, true);
		if (s == NULL) {
			nm_exptab_add(&t->untracked, 1);
			return;
		}
		t->last = s;
	}
	nm_exptab_add(&s->datagrams, 1);
	if (records) {
		nm_exptab_add(&s->records, records);
		atomic_store_explicit(&s->rate, rate, memory_order_relaxed);
	}
	atomic_store_explicit(&s->last_ns, now_ns, memory_order_relaxed);
}


static int nm_exptab_sync_fn(const struct nm_exporter_info *e, void *ctx)
{
	struct nm_exptab *t = ctx;
	uint8_t proto;
	uint32_t domain = e->domain;
	switch (e->kind) {
	case 5:
		proto = NM_FLOW_TYPE_NETFLOW_V5;
		break;
	case 9:
		proto = NM_FLOW_TYPE_NETFLOW_V9;
		break;
	case 10:
		proto = NM_FLOW_TYPE_IPFIX;
		break;
	case 0x50: /* sFlow agent: datagram sequence loss */
		proto = NM_FLOW_TYPE_SFLOW_5;
		domain = e->sub_agent;
		break;
	default:
		return 0; /* sFlow per-source sample loss: not per datagram */
	}
	struct nm_exptab_slot *s = nm_exptab_find(t, &e->addr, domain, proto, false);
	if (s) {
		s->acc_lost += e->seq_lost;
		s->acc_tmpl += e->templates;
	}
	return 0;
}

void nm_exptab_sync(struct nm_exptab *t, const struct nm_decoder *d)
{
	uint32_t n = t->mask + 1;
	for (uint32_t i = 0; i < n; i++)
		t->slot[i].acc_lost = t->slot[i].acc_tmpl = 0;
	nm_decoder_exporter_foreach(d, nm_exptab_sync_fn, t);
	for (uint32_t i = 0; i < n; i++) {
		struct nm_exptab_slot *s = &t->slot[i];
		if (atomic_load_explicit(&s->used, memory_order_relaxed) == 0)
			continue;
		/* The decoder may evict an exporter and forget its loss: the
		 * series is a counter and never goes down. */
		if (s->acc_lost > atomic_load_explicit(&s->seq_lost, memory_order_relaxed))
			atomic_store_explicit(&s->seq_lost, s->acc_lost, memory_order_relaxed);
		atomic_store_explicit(&s->templates, s->acc_tmpl, memory_order_relaxed);
	}
}

const char *nm_exptab_proto_name(uint8_t proto)
{
	switch (proto) {
	case NM_FLOW_TYPE_SFLOW_5:
		return "sflow";
	case NM_FLOW_TYPE_NETFLOW_V5:
		return "netflow_v5";
	case NM_FLOW_TYPE_NETFLOW_V9:
		return "netflow_v9";
	case NM_FLOW_TYPE_IPFIX:
		return "ipfix";
	default:
		return "unknown";
	}
}
