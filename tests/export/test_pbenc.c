/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encoder equivalence: for millions of random records (every field, edge
 * values: 0, 1, 127, 128, 2^32-1, 2^64-1, random), the specialised encoder
 * (export/pbenc.c) gives exactly the bytes of protobuf-c's generic packer,
 * and they unpack with protobuf-c to the record's values. A sample is also
 * written to a file for `protoc --decode` (tests/export/check_protoc.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "flow.pb-c.h"
#include "flow_json.h"
#include "pbenc.h"

static uint64_t nm_rs = 0x9e3779b97f4a7c15ull;

static uint64_t nm_rand(void)
{
	nm_rs ^= nm_rs << 13;
	nm_rs ^= nm_rs >> 7;
	nm_rs ^= nm_rs << 17;
	return nm_rs;
}

/* Edge values varints care about, or a random one of random width. */
static uint64_t nm_val(void)
{
	static const uint64_t edge[] = {0, 0, 0, 1, 127, 128, 255, 16383, 16384,
					UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX};
	uint64_t r = nm_rand();
	if (r % 3 == 0)
		return edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))];
	return nm_rand() >> (nm_rand() % 64);
}

static void nm_random_flow(struct nm_flow *f)
{
	memset(f, 0, sizeof(*f));
#define NM_R_ENUM(m) f->m = (uint32_t)(nm_rand() % 5);
#define NM_R_U32(m) f->m = (uint32_t)nm_val();
#define NM_R_U64(m) f->m = nm_val();
#define NM_R_MAC(m) f->m = nm_val() & 0xffffffffffffull;
#define NM_R_BOOL(m) f->m = (uint8_t)(nm_rand() & 1);
#define NM_R_ADDR(m)                                         \
	for (int i = 0; i < 16; i++)                         \
		f->m.b[i] = (uint8_t)nm_rand();              \
	if (nm_rand() % 4 == 0)                              \
		memset(f->m.b, 0, 16);
#define NM_R_U32LIST(m)                                              \
	f->m##_len = (uint8_t)(nm_rand() % (NM_AS_PATH_MAX + 1));    \
	for (unsigned i = 0; i < f->m##_len; i++)                    \
		f->m[i] = (uint32_t)nm_val();
/* Half the records are NFLOG-like: no sFlow list (they share the prefix's
 * bytes), a prefix of 0-64 bytes of ASCII (quotes, backslashes) and 2-, 3-
 * and 4-byte characters. */
#define NM_R_STR(m)                                                       \
	if (nm_rand() & 1) {                                              \
		static const char *const pieces[] = {"a", "\\", "\"", " ", "Z:", \
						     "\xc3\xa9", "\xe2\x82\xac", \
						     "\xf0\x9f\x98\x80"};    \
		f->as_path_len = 0;                                       \
		f->communities_len = 0;                                   \
		size_t want_ = nm_rand() % (sizeof(f->m) + 1), o_ = 0;     \
		for (;;) {                                                \
			const char *s_ = pieces[nm_rand() % 8];           \
			size_t l_ = strlen(s_);                           \
			if (o_ + l_ > want_)                              \
				break;                                    \
			memcpy(f->m + o_, s_, l_);                        \
			o_ += l_;                                         \
		}                                                         \
		f->m##_len = (uint8_t)o_;                                 \
	}
#define NM_X_(num, name, kind, m, pb) NM_R_##kind(m)
	NM_FLOW_FIELDS(NM_X_)
#undef NM_X_
}

static void nm_check_unpacked(const struct nm_flow *f, const Netmeta__FlowMessage *m)
{
#define NM_C_ENUM(m_, pb) assert_int_equal((uint32_t)m->pb, f->m_);
#define NM_C_U32(m_, pb) assert_int_equal(m->pb, f->m_);
#define NM_C_U64(m_, pb) assert_true(m->pb == f->m_);
#define NM_C_MAC(m_, pb) assert_true(m->pb == f->m_);
#define NM_C_BOOL(m_, pb) assert_int_equal(m->pb, f->m_ != 0);
#define NM_C_ADDR(m_, pb)                                    \
	if (nm_addr_is_zero(&f->m_)) {                       \
		assert_int_equal(m->pb.len, 0);              \
	} else {                                             \
		assert_int_equal(m->pb.len, 16);             \
		assert_memory_equal(m->pb.data, f->m_.b, 16); \
	}
#define NM_C_U32LIST(m_, pb)                                 \
	assert_int_equal(m->n_##pb, f->m_##_len);            \
	for (size_t i = 0; i < m->n_##pb; i++)               \
		assert_int_equal(m->pb[i], f->m_[i]);
#define NM_C_STR(m_, pb)                                    \
	assert_int_equal(strlen(m->pb), f->m_##_len);        \
	assert_memory_equal(m->pb, f->m_, f->m_##_len);
#define NM_X_(num, name, kind, m_, pb) NM_C_##kind(m_, pb)
	NM_FLOW_FIELDS(NM_X_)
#undef NM_X_
}

static size_t nm_skip_len(const uint8_t *p, size_t *len)
{
	size_t h = 0, v = 0;
	for (int sh = 0;; sh += 7) {
		v |= (size_t)(p[h] & 0x7f) << sh;
		if (!(p[h++] & 0x80))
			break;
	}
	*len = v;
	return h;
}

static void test_random_records_match_protobuf_c(void **state)
{
	(void)state;
	static uint8_t a[NM_PB_RECORD_MAX], b[NM_PB_RECORD_MAX];
	const char *n_env = getenv("NM_PBENC_RECORDS");
	long n = n_env ? atol(n_env) : 1000000;
	for (long k = 0; k < n; k++) {
		struct nm_flow f;
		nm_random_flow(&f);
		size_t na = nm_pb_flow_delimited(&f, a);
		size_t nb = nm_flow_pb_delimited(&f, b, sizeof(b));
		assert_true(na > 0 && na <= NM_PB_RECORD_MAX);
		/* Same field order, same proto3 omissions, same packing. */
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
		if (k % 97 == 0) {
			size_t len, h = nm_skip_len(a, &len);
			assert_int_equal(h + len, na);
			Netmeta__FlowMessage *m = netmeta__flow_message__unpack(NULL, len, a + h);
			assert_non_null(m);
			nm_check_unpacked(&f, m);
			netmeta__flow_message__free_unpacked(m, NULL);
		}
	}
}

static void test_counters_match_protobuf_c(void **state)
{
	(void)state;
	static uint8_t a[NM_PB_RECORD_MAX], b[NM_PB_RECORD_MAX];
	for (int k = 0; k < 200000; k++) {
		struct nm_ctr c;
		memset(&c, 0, sizeof(c));
#undef NM_R_U32
#undef NM_R_U64
#undef NM_R_BOOL
#undef NM_R_ADDR
#define NM_R_U32(m) c.m = (uint32_t)nm_val();
#define NM_R_U64(m) c.m = nm_val();
#define NM_R_BOOL(m) c.m = (uint8_t)(nm_rand() & 1);
#define NM_R_ADDR(m)                            \
	for (int i = 0; i < 16; i++)            \
		c.m.b[i] = (uint8_t)nm_rand();
#define NM_X_(num, name, kind, m, pb) NM_R_##kind(m)
		NM_CTR_FIELDS(NM_X_)
#undef NM_X_
		size_t na = nm_pb_ctr_delimited(&c, a);
		size_t nb = nm_ctr_pb_delimited(&c, b, sizeof(b));
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
	}
}

/* An all-zero record encodes to an empty message (proto3: defaults and ::
 * addresses are left out); one set address is 16 bytes behind its tag. */
static void test_zero_record(void **state)
{
	(void)state;
	struct nm_flow f;
	memset(&f, 0, sizeof(f));
	uint8_t a[NM_PB_RECORD_MAX];
	assert_int_equal(nm_pb_flow_delimited(&f, a), 1);
	assert_int_equal(a[0], 0);
	static const uint8_t v4[4] = {0, 0, 0, 0};
	nm_addr_set_v4(&f.next_hop, v4); /* 0.0.0.0 is an IPv4 address: sent */
	assert_int_equal(nm_pb_flow_delimited(&f, a), 1 + 1 + 1 + 16);
	assert_int_equal(a[1], 12 << 3 | 2);
	assert_int_equal(a[2], 16);
}

/* Writes a sample of records for the protoc cross-check: FILE.pb holds the
 * messages (length-delimited), FILE.json the records as netmeta-decode
 * prints them. */
static int nm_write_sample(const char *base)
{
	char p1[512], p2[512];
	snprintf(p1, sizeof(p1), "%s.pb", base);
	snprintf(p2, sizeof(p2), "%s.json", base);
	FILE *fp = fopen(p1, "wb"), *fj = fopen(p2, "w");
	if (fp == NULL || fj == NULL)
		return 1;
	static uint8_t a[NM_PB_RECORD_MAX];
	static char j[NM_FLOW_JSON_MAX];
	for (int k = 0; k < 200; k++) {
		struct nm_flow f;
		nm_random_flow(&f);
		size_t n = nm_pb_flow_delimited(&f, a);
		fwrite(a, 1, n, fp);
		size_t jn = nm_flow_json(&f, j, sizeof(j));
		fwrite(j, 1, jn, fj);
		fputc('\n', fj);
	}
	fclose(fp);
	fclose(fj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--sample") == 0)
		return nm_write_sample(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_records_match_protobuf_c),
		cmocka_unit_test(test_counters_match_protobuf_c),
		cmocka_unit_test(test_zero_record),
	};
	return cmocka_run_group_tests_name("pbenc", tests, NULL, NULL);
}
