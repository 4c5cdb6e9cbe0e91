#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
End to end: a netmeta-gen capture (every protocol) replayed through a DPDK
net_pcap vdev -> netmeta's Kafka sink -> a real Apache Kafka 4 broker
(scripts/kafka through realkafka.py: one broker, KRaft, started once for
every variant, a topic per variant) -> read back by independent consumers:

  * kcat -C -e -o beginning: message values split into length-delimited
    records here, every record rendered by netmeta-cat (raw stream) and a
    sample checked field by field with `protoc --decode`;
  * netmeta-cat --kafka.

Every record netmeta-decode finds in the capture arrives exactly once (JSON
multisets, receive-time fields dropped), the counters topic carries the
sFlow interface counters, and the accounting identity holds. A second run
with key: exporter and compression none checks that each message carries one
exporter and is keyed by its address, also when the messages went through
the spool: the broker stopped (SIGTERM, its controlled shutdown; its port
refuses connections) before netmeta starts, started again with its data
afterwards, and a restarted netmeta replays the spool.

Skips (77) when kcat, protoc, DPDK, java or Kafka's jars (scripts/kafka
fetch: maven and Maven Central) are missing.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403


def run_variant(t, ck, w, kc, pcap, want_f, want_c, gen_total, tag, topic, ctopic, extra):
    log('\n== %s: topic %s, counters topic %s, %s' % (tag, topic, ctopic, extra))
    cfg = dpdk_config(pcap, kafka_sink_yaml(kc.bootstrap, topic=topic, counters_topic=ctopic,
                                            extra=extra))
    rc, err, c = run_dpdk(t, w, cfg, tag)
    log('  ' + kafka_summary(c))
    ck.eq(rc, 0, '%s: netmeta exit status' % tag)
    ck.eq(c.get('decode_records'), gen_total, '%s: decode_records = records netmeta-gen wrote' % tag)
    ck.eq(c.get('RECORDS_SENT'), len(want_f), '%s: RECORDS_SENT = netmeta-decode records' % tag)
    ck.eq(c.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % tag)
    ck.check(identity_holds(c), '%s: handed + replayed = delivered + spooled + failed + in_flight '
             '(from the printed numbers)' % tag, kafka_summary(c))
    if ctopic:
        ck.eq(c.get('kafka0_handed'), len(want_f) + len(want_c), '%s: kafka0_handed = flows + counters' % tag)
    else:
        ck.eq((c.get('kafka0_handed'), c.get('kafka0_counters_not_sent')), (len(want_f), len(want_c)),
              '%s: kafka0_handed = flows, counters_not_sent = counters (no counters topic)' % tag)
    ck.eq(c.get('kafka0_delivered'), c.get('kafka0_handed'), '%s: kafka0_delivered = handed' % tag)
    ck.eq((c.get('kafka0_failed'), c.get('kafka0_spooled'), c.get('kafka0_in_flight')), (0, 0, 0),
          '%s: failed, spooled, in_flight' % tag)
    lat = {k: v for k, v in c.items() if k.startswith('kafka0_latency_')}
    flows_delivered = c.get('kafka0_delivered', 0) - (len(want_c) if ctopic else 0)
    ck.eq(sum(lat.values()), flows_delivered, '%s: the latency buckets count every flow record '
          'delivered (%s)' % (tag, ', '.join('%s=%d' % (k[15:], v) for k, v in sorted(lat.items()))))
    ck.check(not any(k.startswith('kafka0_latency_over') for k in lat), '%s: no record took over '
             '65 s from receive to delivery' % tag)

    # kcat: an independent consumer; values split here
    msgs = kcat_consume(kc.bootstrap, topic)
    try:
        recs = records_of_messages(msgs)
        split_ok = True
    except ValueError as e:
        recs, split_ok = [], False
        log('  split error: %s' % e)
    ck.check(split_ok, '%s: every kcat message value is a clean length-delimited stream' % tag)
    max_bytes = int(extra.get('max_message_bytes', 900000))
    max_recs = int(extra.get('max_message_records', 50000))
    sizes = [len(v) for _p, _o, _k, v in msgs]
    counts = [len(split_delimited(v)) for _p, _o, _k, v in msgs] if split_ok else []
    ck.check(sizes and max(sizes) <= max_bytes and (not counts or max(counts) <= max_recs),
             '%s: %d messages, largest %d bytes / %d records (limits %d / %d)' % (
                 tag, len(msgs), max(sizes or [0]), max(counts or [0]), max_bytes, max_recs))
    ck.eq(len(recs), len(want_f), '%s: records in the topic (kcat)' % tag)
    lines = cat_records(t, w, recs, 'kcat-%s.raw' % tag)
    got = multiset(lines)
    nm, ne, desc = compare(multiset(want_f), got)
    ck.check(nm == 0 and ne == 0, '%s: kcat records = netmeta-decode records, each exactly once' % tag, desc)
    ck.eq(duplicates(got) - duplicates(multiset(want_f)), 0, '%s: duplicates in the topic' % tag)

    if extra.get('key') == 'exporter':
        bad = unkeyed_messages(t, w, msgs, 'msgs-%s.raw' % tag)
        ck.eq(len(bad), 0, '%s: messages not keyed by their single exporter' % tag, '\n'.join(bad[:3]))

    # netmeta-cat --kafka
    rc2, lines2, err2, cc = cat(t, ['--kafka', kc.bootstrap, '--topic', topic])
    ck.eq(rc2, 0, '%s: netmeta-cat --kafka exit status' % tag, err2[-500:])
    nm, ne, desc = compare(multiset(want_f), multiset(lines2))
    ck.check(nm == 0 and ne == 0, '%s: netmeta-cat --kafka records = netmeta-decode records' % tag, desc)

    # the counters topic
    if ctopic:
        cmsgs = kcat_consume(kc.bootstrap, ctopic)
        crecs = records_of_messages(cmsgs)
        clines = cat_records(t, w, crecs, 'kcat-%s-counters.raw' % tag, counters=True)
        nm, ne, desc = compare(multiset(want_c), multiset(clines))
        ck.check(nm == 0 and ne == 0 and len(want_c) > 0,
                 '%s: counters topic (kcat) = the %d SFLOW_5_COUNTERS records' % (tag, len(want_c)), desc)
        rc3, lines3, err3, _ = cat(t, ['--counters', '--kafka', kc.bootstrap, '--topic', ctopic])
        nm, ne, desc = compare(multiset(want_c), multiset(lines3))
        ck.check(rc3 == 0 and nm == 0 and ne == 0,
                 '%s: netmeta-cat --counters --kafka = the SFLOW_5_COUNTERS records' % tag, desc)
        ck.check(all('"Type":"SFLOW_5_COUNTERS"' in l for l in lines3) and
                 not any('SFLOW_5_COUNTERS' in l for l in lines2),
                 '%s: counters only in the counters topic' % tag)
        return recs, lines, crecs, clines
    return recs, lines, [], []


def protoc_sample(t, ck, recs, lines, crecs, clines):
    log('\n== protoc --decode on a sample')
    # six records of each protocol, spread over the topic
    by_type = {}
    for i, l in enumerate(lines):
        by_type.setdefault(json.loads(l)['Type'], []).append(i)
    idx = sorted(set(v[k * len(v) // 6] for v in by_type.values() for k in range(6)))
    types, bad = set(), []
    for i in idx:
        js = json.loads(lines[i])
        types.add(js['Type'])
        try:
            pf = protoc_decode(t.proto, 'FlowMessage', recs[i])
        except RuntimeError as e:
            bad.append('record %d: %s' % (i, e))
            continue
        d = protoc_vs_json(pf, js)
        if d:
            bad.append('record %d (%s): %s' % (i, js['Type'], '; '.join(d[:4])))
    ck.check(not bad, 'protoc --decode=netmeta.FlowMessage agrees with netmeta-cat on %d records '
             '(%s)' % (len(idx), ', '.join(sorted(types))), '\n'.join(bad[:5]))
    ck.check(types >= {'SFLOW_5', 'NETFLOW_V5', 'NETFLOW_V9', 'IPFIX'}, 'sample covers every protocol')
    bad = []
    for i in range(min(3, len(crecs))):
        js = json.loads(clines[i])
        js.pop('Type', None)
        try:
            d = protoc_vs_json(protoc_decode(t.proto, 'InterfaceCounters', crecs[i]), js)
        except RuntimeError as e:
            d = [str(e)]
        if d:
            bad.append('counters %d: %s' % (i, '; '.join(d[:4])))
    ck.check(crecs and not bad, 'protoc --decode=netmeta.InterfaceCounters agrees on %d counter '
             'records' % min(3, len(crecs)), '\n'.join(bad))


def keyed_through_spool(t, ck, w, kc, pcap, want_f):
    """key: exporter, the broker down: the messages go through the spool.
    Replayed, they must keep their key (the exporter of their records)."""
    log('\n== keyed messages through the spool')
    trig = os.path.join(w, 'trigger.pcap')
    gen_pcap(t, trig, datagrams=8, exporters=1, seed=12)
    trig_f, _ = decode_pcap(t, trig)
    spool = os.path.join(w, 'spool-keyed')
    sink = kafka_sink_yaml(kc.bootstrap, topic='keyed-spool', spool_dir=spool,
                           extra={'key': 'exporter', 'flush_timeout_ms': 1000})
    t0 = time.time()
    kc.stop()
    log('  broker stopped in %.1f s' % (time.time() - t0))
    rc, err, c = run_dpdk(t, w, dpdk_config(pcap, sink), 'keyed-spool-1')
    log('  ' + kafka_summary(c))
    t0 = time.time()
    kc.start_again(topics=['keyed-spool'])
    log('  broker started again with its data in %.1f s' % (time.time() - t0))
    ck.eq((rc, c.get('kafka0_spooled')), (0, len(want_f)), 'broker down: exit status, records spooled')
    # a restart with a few new records: they go behind the spool, which replays in order
    rc, err, c = run_dpdk(t, w, dpdk_config(trig, sink), 'keyed-spool-2')
    log('  ' + kafka_summary(c))
    # new records that come while the replay runs go behind it (spool_direct); once it is
    # done they go to the broker directly: either is right, the counters must say which
    direct = c.get('kafka0_spool_direct', 0)
    ck.eq((rc, c.get('kafka0_spool_replay_records', 0) - direct), (0, len(want_f)),
          'restart: exit status, records replayed from the spool (less the new ones that went '
          'behind it: %d)' % direct)
    ck.check(direct in (0, len(trig_f)), 'restart: the new records went behind the spool whole or '
             'not at all (kafka0_spool_direct %d of %d)' % (direct, len(trig_f)))
    msgs = kcat_consume(kc.bootstrap, 'keyed-spool')
    lines = cat_records(t, w, records_of_messages(msgs), 'keyed-spool.raw')
    nm, ne, desc = compare(multiset(want_f + trig_f), multiset(lines))
    ck.check(nm == 0 and ne == 0, 'topic = spooled + new records, each once', desc)
    bad = unkeyed_messages(t, w, msgs, 'msgs-keyed-spool.raw')
    ck.eq(len(bad), 0, 'of %d messages, not keyed by their exporter (replayed from the spool)' % len(msgs),
          '\n'.join(bad[:3]))


def main():
    t = Tools(sys.argv)
    need_programs('kcat', 'protoc')
    ok, why = dpdk_usable(t)
    if not ok:
        skip(why)
    ck = Checks()
    w = scratch('e2e')
    kc = None
    rc = 1
    try:
        pcap = os.path.join(w, 'exports.pcap')
        g = gen_pcap(t, pcap, proto='all', datagrams=600, exporters=3, seed=11)
        gen_total = sum(v[1] for v in g.values())
        log('capture: %s' % g)
        want_f, want_c = decode_pcap(t, pcap)
        log('netmeta-decode: %d flow records, %d counter records' % (len(want_f), len(want_c)))
        ck.eq(len(want_f), gen_total, 'netmeta-decode finds every generated record')
        kc = one_broker(w, {name: 4 for name in ('flows', 'counters', 'flows-keyed', 'keyed-spool')})
        recs, lines, crecs, clines = run_variant(
            t, ck, w, kc, pcap, want_f, want_c, gen_total, 'default', 'flows', 'counters', {})
        if recs and crecs:
            protoc_sample(t, ck, recs, lines, crecs, clines)
        run_variant(t, ck, w, kc, pcap, want_f, want_c, gen_total, 'keyed', 'flows-keyed', None,
                    {'key': 'exporter', 'compression': 'none', 'max_message_records': 1000,
                     'linger_ms': 5})
        keyed_through_spool(t, ck, w, kc, pcap, want_f)
        rc = ck.finish()
    finally:
        if kc:
            kc.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
