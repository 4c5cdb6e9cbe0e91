/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_ring: a single-producer single-consumer ring of pointers, the
 * only thing that crosses threads on the data path (batches of records from
 * a worker to the sink, and empty batches back). Push never blocks: a full
 * ring is the caller's counted drop.
 */
#ifndef NM_RING_H
#define NM_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct nm_ring {
	_Alignas(64) atomic_uint_fast32_t head; /* written by the producer */
	_Alignas(64) atomic_uint_fast32_t tail; /* written by the consumer */
	_Alignas(64) uint32_t mask;
	void *slot[];
};

/* size: a power of two. Returns NULL on allocation failure. */
static inline struct nm_ring *nm_ring_create(uint32_t size)
{
	struct nm_ring *r = aligned_alloc(64, (sizeof(struct nm_ring) + size * sizeof(void *) + 63) &
						     ~(size_t)63);
	if (r == NULL)
		return NULL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->mask = size - 1;
	return r;
}

/* Producer side. Returns false when the ring is full. */
static inline bool nm_ring_push(struct nm_ring *r, void *p)
{
	uint_fast32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* acquire pairs with the consumer's release store of tail in nm_ring_pop */
	uint_fast32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return false;
	r->slot[h & r->mask] = p;
	/* release pairs with the consumer's acquire load of head in nm_ring_pop */
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

/*
 * Producer side, where the ring was sized to hold every pointer that can
 * ever be in it (a pool's free ring): a full ring is a bug, caught by the
 * assert in debug builds.
 */
static inline void nm_ring_push_room(struct nm_ring *r, void *p)
{
	bool ok = nm_ring_push(r, p);
	assert(ok && "ring sized for the whole pool");
	(void)ok;
}

/* Consumer side. Returns NULL when the ring is empty. */
static inline void *nm_ring_pop(struct nm_ring *r)
{
	uint_fast32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* acquire pairs with the producer's release store of head in nm_ring_push */
	uint_fast32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	if (t == h)
		return NULL;
	void *p = r->slot[t & r->mask];
	/* release pairs with the producer's acquire load of tail in nm_ring_push */
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return p;
}

static inline uint32_t nm_ring_count(struct nm_ring *r)
{
	return (uint32_t)(atomic_load_explicit(&r->head, memory_order_acquire) -
			  atomic_load_explicit(&r->tail, memory_order_acquire));
}

#endif
