/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every decode error and decode event, defined once.
 *
 * NM_DECODE_ERRORS(X) lists X(NAME, fatal, "message"):
 *   fatal = 1: the datagram is rejected with this reason (the decoder returns
 *              it; records already produced from earlier sets stay valid);
 *   fatal = 0: a part of the datagram (a set, a record, a template) is skipped
 *              and counted; decoding goes on.
 * Each entry yields an enum member NM_ERR_<NAME>, a message and a counter in
 * struct nm_decode_stats. The accounting identity is
 *   datagrams = datagrams_ok + sum over fatal reasons of err[reason].
 *
 * NM_DECODE_EVENTS(X) lists things that are not errors but are counted
 * (templates learned, sequence gaps, records without a known rate...), and
 * NM_DECODE_TOTALS(X) the datagram and record totals.
 */
#ifndef NM_DECODE_ERR_H
#define NM_DECODE_ERR_H

#include <stdint.h>

#define NM_DECODE_ERRORS(X)                                                                  \
	X(OK, 0, "no error")                                                                 \
	X(SHORT_HEADER, 1, "datagram shorter than its export header")                        \
	X(BAD_VERSION, 1, "unknown or unsupported export version")                           \
	X(V5_BAD_COUNT, 1, "NetFlow v5 record count is zero or above 30")                    \
	X(V5_TRUNCATED, 1, "NetFlow v5 datagram shorter than its record count says")         \
	X(IPFIX_BAD_LENGTH, 1, "IPFIX message length is below 16 or beyond the datagram")    \
	X(SET_HEADER_TRUNCATED, 1, "set/flowset header cut short by the end of the datagram") \
	X(SET_LENGTH, 1, "set/flowset length below 4 or beyond the end of the message")      \
	X(SET_RESERVED_ID, 0, "set/flowset ID in the reserved range; set skipped")           \
	X(TMPL_TRUNCATED, 0, "template record cut short by the end of its set")              \
	X(TMPL_TOO_MANY_FIELDS, 0, "template has more fields than the configured cap")       \
	X(TMPL_ZERO_LENGTH, 0, "template describes records of zero length")                  \
	X(TMPL_BAD_ID, 0, "template ID below 256")                                           \
	X(TMPL_BAD_SCOPE, 0, "options template scope count or length inconsistent")          \
	X(TMPL_WITHDRAW_UNKNOWN, 0, "withdrawal of a template that is not known")            \
	X(DATA_NO_TEMPLATE, 0, "data set for a template that is not known; set skipped")     \
	X(DATA_TMPL_EXPIRED, 0, "data set for a template past its lifetime; set skipped")    \
	X(EXPORTER_REFUSED_SOURCE, 0,                                                        \
	  "new v9/IPFIX exporter refused: its address is over its rate of new entries")      \
	X(EXPORTER_REFUSED_GLOBAL, 0,                                                        \
	  "new v9/IPFIX exporter refused: the decoder is over its rate of new entries")      \
	X(TMPL_REFUSED_SOURCE, 0,                                                            \
	  "new template of an exporter without decoded data refused: address over its rate") \
	X(TMPL_REFUSED_GLOBAL, 0,                                                            \
	  "new template of an exporter without decoded data refused: decoder over its rate") \
	X(RECORD_TRUNCATED, 0, "data record cut short (variable-length field beyond set)")   \
	X(BATCH_FULL, 0, "record dropped: output batch full and no flush callback")          \
	X(SFLOW_BAD_AGENT_TYPE, 1, "sFlow agent address type is neither IPv4 nor IPv6")      \
	X(SFLOW_SAMPLE_COUNT, 1, "sFlow sample count larger than the datagram can hold")      \
	X(SFLOW_SAMPLE_LENGTH, 1, "sFlow sample length beyond the end of the datagram")       \
	X(SFLOW_SAMPLE_TRUNCATED, 0, "sFlow sample shorter than its fixed fields; skipped")  \
	X(SFLOW_RECORD_COUNT, 0, "sFlow record count larger than the sample can hold")       \
	X(SFLOW_RECORD_LENGTH, 0, "sFlow record length beyond its sample; rest skipped")     \
	X(SFLOW_RECORD_TRUNCATED, 0, "sFlow record shorter than its fixed fields; skipped")  \
	X(SFLOW_HEADER_LENGTH, 0, "sFlow sampled header length beyond its record; skipped")  \
	X(SFLOW_BAD_ADDRESS_TYPE, 0, "sFlow address type unknown inside a record; skipped")  \
	X(CTR_BATCH_FULL, 0, "counter record dropped: counter batch full or not set")

#define NM_DECODE_EVENTS(X)                                                                  \
	X(TMPL_ADDED, "template learned")                                                    \
	X(TMPL_REFRESHED, "template re-sent unchanged")                                      \
	X(TMPL_REPLACED, "template re-defined with different fields")                        \
	X(TMPL_WITHDRAWN, "template withdrawn by the exporter")                              \
	X(TMPL_EVICTED_POOL, "template evicted: template pool full")                         \
	X(TMPL_EVICTED_POOL_USED,                                                            \
	  "of TMPL_EVICTED_POOL: templates that had decoded data (no unused one was left)")   \
	X(TMPL_EVICTED_EXPORTER, "template evicted: per-exporter template cap reached")      \
	X(TMPL_EXPIRED, "template expired (lifetime passed)")                                \
	X(EXPORTER_ADDED, "exporter (address, port, version, domain) first seen")           \
	X(EXPORTER_EVICTED, "exporter evicted: exporter cache full")                         \
	X(EXPORTER_EVICTED_ACTIVE,                                                           \
	  "of EXPORTER_EVICTED: exporters that had decoded data (no other one was left)")    \
	X(EXPORTER_PROVEN, "v9/IPFIX exporter decoded its first data: admitted for good")    \
	X(RECORDS_NO_TEMPLATE,                                                               \
	  "records lost for want of a template (set length / smallest known record size)")   \
	X(OPTIONS_RECORDS, "options data records decoded")                                   \
	X(SAMPLER_LEARNED, "sampling rate learned from options data")                        \
	X(SAMPLER_EVICTED, "sampler entry replaced: per-exporter sampler table full")        \
	X(RATE_UNKNOWN, "flow records with no known sampling rate (SamplingRate 0)")         \
	X(TIME_BASE_UNKNOWN, "flow records with uptime times but no known system init time") \
	X(SEQ_GAP, "sequence gaps (datagrams or records missing)")                           \
	X(SEQ_LOST, "datagrams (v9) or records (v5, IPFIX) missing by sequence numbers")     \
	X(SEQ_RESET, "sequence number went back or jumped: counting restarts")               \
	X(PADDING, "datagrams with trailing padding after the last set")                     \
	X(FIELD_BAD_LENGTH, "mapped field with a length its type cannot take; skipped")      \
	X(ENTERPRISE_FIELDS, "enterprise-specific fields skipped by length")                 \
	X(PACKET_SECTIONS, "IPFIX packet sections (IE 313/315) parsed as headers")           \
	X(SFLOW_FLOW_SAMPLES, "sFlow flow samples decoded")                                  \
	X(SFLOW_COUNTER_SAMPLES, "sFlow counter samples decoded")                            \
	X(SFLOW_DROP_SAMPLES, "sFlow discarded-packet samples decoded")                      \
	X(SFLOW_UNKNOWN_SAMPLES, "sFlow samples of unknown format skipped by length")        \
	X(SFLOW_UNKNOWN_RECORDS, "sFlow records of unknown format skipped by length")        \
	X(SFLOW_TRAILING_BYTES, "sFlow datagrams with bytes after the declared samples")     \
	X(SFLOW_COUNTERS_NO_IF, "sFlow counter samples without interface counters (host, CPU...)") \
	X(SFLOW_MULTI_OUTPUT, "sFlow samples sent to several output interfaces (OutIf 0)")  \
	X(SFLOW_PATH_CUT, "sFlow AS paths or community lists longer than the record keeps")  \
	X(SFLOW_SAMPLE_SEQ_GAP, "sFlow sample sequence gaps (per agent, sub-agent, source)")  \
	X(SFLOW_SAMPLE_SEQ_LOST, "sFlow samples missing by sample sequence numbers")          \
	X(SFLOW_SAMPLE_SEQ_RESET, "sFlow sample sequence went back or jumped")                \
	X(HDR_TRUNCATED, "sampled headers cut inside a layer (fields above it unset)")       \
	X(HDR_UNSUPPORTED, "sampled headers of a protocol the parser does not start from")  \
	X(HDR_DEPTH, "sampled headers whose VLAN/MPLS/IPv6-extension chain hit its cap")

enum nm_err {
#define NM_X_(name, fatal, msg) NM_ERR_##name,
	NM_DECODE_ERRORS(NM_X_)
#undef NM_X_
	NM_ERR__COUNT
};

enum nm_ev {
#define NM_X_(name, msg) NM_EV_##name,
	NM_DECODE_EVENTS(NM_X_)
#undef NM_X_
	NM_EV__COUNT
};

/* The decoder's totals, X(name, "help"): fields of struct nm_decode_stats. */
#define NM_DECODE_TOTALS(X)                                                                  \
	X(datagrams, "datagrams handed to a decode function")                                \
	X(datagrams_ok, "datagrams decoded without a fatal error")                           \
	X(records, "flow records produced")                                                  \
	X(counter_records, "interface counter records produced (sFlow)")

/* Per-decoder counters; single writer (the decoder's owner). */
struct nm_decode_stats {
#define NM_X_(name, help) uint64_t name;
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	uint64_t err[NM_ERR__COUNT];
	uint64_t ev[NM_EV__COUNT];
};

/* Datagrams rejected: the sum of err[] over the fatal errors. At every
 * moment datagrams == datagrams_ok + nm_decode_stats_rejected(s). */
uint64_t nm_decode_stats_rejected(const struct nm_decode_stats *s);

const char *nm_err_name(enum nm_err e);    /* "SHORT_HEADER" */
const char *nm_err_message(enum nm_err e); /* human text */
int nm_err_is_fatal(enum nm_err e);
const char *nm_ev_name(enum nm_ev e);
const char *nm_ev_message(enum nm_ev e);

#endif
