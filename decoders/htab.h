/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fixed-size open-addressing index (linear probing, backward-shift delete)
 * from a 32-bit hash to a slot number in a caller-owned array. It stores
 * (hash, slot + 1); 0 marks an empty bucket. The caller sizes it (a power of
 * two, at least twice the number of slots) so probe chains stay short, and
 * seeds its hash so an exporter cannot choose colliding keys.
 */
#ifndef NM_HTAB_H
#define NM_HTAB_H

#include <stdint.h>

struct nm_htab_bucket {
	uint32_t hash;
	uint32_t slot1; /* slot + 1; 0 = empty */
};

struct nm_htab {
	struct nm_htab_bucket *b;
	uint32_t mask;
};

/*
 * Iterates candidates for hash h: *pos starts at NM_HTAB_START(h) and the
 * function returns the next slot whose stored hash equals h, or UINT32_MAX at
 * the first empty bucket.
 */
static inline uint32_t nm_htab_next(const struct nm_htab *t, uint32_t h, uint32_t *pos)
{
	for (;;) {
		const struct nm_htab_bucket *b = &t->b[*pos & t->mask];
		*pos = (*pos + 1) & t->mask;
		if (b->slot1 == 0)
			return UINT32_MAX;
		if (b->hash == h)
			return b->slot1 - 1;
	}
}

/* Inserts (h, slot). The table must have a free bucket (sized 2x slots). */
static inline void nm_htab_insert(struct nm_htab *t, uint32_t h, uint32_t slot)
{
	uint32_t i = h & t->mask;
	while (t->b[i].slot1 != 0)
		i = (i + 1) & t->mask;
	t->b[i].hash = h;
	t->b[i].slot1 = slot + 1;
}

/* Removes (h, slot) if present; shifts later entries back (no tombstones). */
static inline void nm_htab_remove(struct nm_htab *t, uint32_t h, uint32_t slot)
{
	uint32_t i = h & t->mask;
	for (;;) {
		if (t->b[i].slot1 == 0)
			return;
		if (t->b[i].slot1 == slot + 1)
			break;
		i = (i + 1) & t->mask;
	}
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->b[j].slot1 == 0)
			break;
		uint32_t home = t->b[j].hash & t->mask;
		/* Move j back into the hole at i unless its home lies in (i, j]. */
		int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->b[i] = t->b[j];
			i = j;
		}
	}
	t->b[i].slot1 = 0;
	t->b[i].hash = 0;
}

#endif
