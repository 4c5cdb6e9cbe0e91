#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Broker outage during a live stream, on a real Apache Kafka 4 broker
(scripts/kafka through realkafka.py: one broker, KRaft; topics of 4
partitions): netmeta (socket backend) receives netmeta-gen --udp at a modest
rate for 60 s; 10 s in, the broker is stopped (SIGTERM, its controlled
shutdown; its port then refuses connections) and 30 s later started again
with its data (the time it takes to answer is part of the outage).

Expected: nothing lost (every record netmeta produced, as shown by a second
sink writing JSON lines, is in the topic at the end, and so is every record
netmeta-gen sent, compared with netmeta-decode of the same stream written as
a capture), duplicates only through replays (counted and reported), the
spool used during the outage and drained afterwards (spool_bytes 0,
segments removed), counters records delivered or counted failed, identity
ok. Duplicates: a request the broker appended while shutting down, whose
acknowledgement never came, is spooled and replayed: such records are
counted by the sink (kafka0_maybe_duplicated) and the test checks that the
duplicates stay within that count.

Skips (77) when kcat, java or Kafka's jars are missing.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403

PPS = 40            # datagrams/s over all four protocols (~840 records/s)
SECONDS = 60
DOWN_AT = 10
UP_AT = 40
EXPORTERS = 2
SEED = 21



def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ck = Checks()
    w = scratch('outage')
    kc = d = g = None
    rc = 1
    try:
        # the same stream as a capture, for the reference records
        pcap = os.path.join(w, 'same-stream.pcap')
        gc = gen_pcap(t, pcap, datagrams=PPS * SECONDS, exporters=EXPORTERS, seed=SEED)
        gen_total = sum(v[1] for v in gc.values())
        dec_f, dec_c = decode_pcap(t, pcap)
        log('stream: %s, %d records' % (gc, gen_total))

        kc = one_broker(w, {'flows': 4, 'counters': 4})
        off = free_port_offset()
        spool = os.path.join(w, 'spool')
        ref = os.path.join(w, 'reference.json')
        cfg = socket_config(off, kafka_sink_yaml(kc.bootstrap, counters_topic='counters',
                                                 spool_dir=spool) + json_sink_yaml(ref),
                            stats_interval=5)
        d = Daemon(t, w, cfg, 'outage')
        if not ck.check(d.wait_ready(listen_ports(off)), 'netmeta bound its ports', d.stderr()[-2000:]):
            return ck.finish()
        t0 = time.time()
        g = gen_udp(t, off, PPS, PPS * SECONDS, exporters=EXPORTERS, seed=SEED)
        wait_until(lambda: time.time() - t0 >= DOWN_AT, DOWN_AT + 5)
        t_down = time.time()
        kc.stop()
        log('  broker stopped at %.1f s (its shutdown took %.1f s)' % (t_down - t0, time.time() - t_down))
        peak = 0
        while time.time() - t0 < UP_AT:
            time.sleep(0.5)
            peak = max(peak, sum(os.path.getsize(s) for s in spool_segments(spool)))
        segs_during = spool_segments(spool)
        t_up = time.time()
        kc.start_again(topics=['flows', 'counters'])
        t_ans = time.time()
        log('  broker started again at %.1f s, answering with leaders %.1f s later' % (
            t_up - t0, t_ans - t_up))
        log('  spool during the outage: %d segment(s), up to %d bytes' % (len(segs_during), peak))
        ck.check(peak > 0, 'the outage filled the spool (%d bytes at most)' % peak)
        g.wait(SECONDS + 30)
        gerr = g.stderr.read()
        ck.eq(g.returncode, 0, 'netmeta-gen exit status', gerr)
        ck.eq(sum(v[1] for v in gen_counts(gerr).values()), gen_total, 'netmeta-gen sent the records of the capture')
        log('  stream over at %.1f s' % (time.time() - t0))
        drained = wait_until(lambda: not spool_segments(spool), 240, 0.5)
        ck.check(drained, 'spool directory empty at %.1f s, %.1f s after the broker answered '
                 '(segments left: %s)' % (time.time() - t0, time.time() - t_ans, spool_segments(spool)))
        time.sleep(1)
        rcd, err, c = d.stop()
        d = None
        for line in err.splitlines():
            if line.startswith('netmeta: rx'):
                log('  ' + line)
        log('  ' + kafka_summary(c))
        ck.eq(rcd, 0, 'netmeta exit status')
        ck.eq(c.get('kafka0_identity'), 'ok', 'kafka0_identity')
        ck.check(identity_holds(c), 'handed + replayed = delivered + spooled + failed + in_flight '
                 '(from the printed numbers)')
        ck.eq(c.get('kafka0_in_flight'), 0, 'kafka0_in_flight at exit')
        ck.eq(c.get('KERNEL_DROPS'), 0, 'KERNEL_DROPS')
        ck.eq(c.get('decode_records'), gen_total, 'decode_records = records netmeta-gen sent')
        put = c.get('kafka0_spool_put_records', 0)
        ck.check(put > 0, 'records went through the spool: kafka0_spool_put_records %d' % put)
        ck.eq(c.get('kafka0_spool_replay_records'), put + c.get('kafka0_spool_replay_failed_records', 0),
              'kafka0_spool_replay_records = spool_put_records + spool_replay_failed_records (a failed '
              'replay stays in its place and is read again)')
        ck.eq(c.get('kafka0_spool_bytes'), 0, 'kafka0_spool_bytes at exit')
        ck.check(c.get('kafka0_spool_segments_removed', 0) >= 1, 'kafka0_spool_segments_removed %s >= 1' %
                 c.get('kafka0_spool_segments_removed'))
        ck.eq((c.get('kafka0_spool_quota_records'), c.get('kafka0_spool_corrupt_entries'),
               c.get('kafka0_spool_io_errors')), (0, 0, 0), 'spool quota refusals, corrupt entries, I/O errors')

        with open(ref) as f:
            ref_f, ref_c = split_kinds(f.read().splitlines())
        ck.eq(len(ref_f), gen_total, 'records in the JSON reference sink')
        nm, ne, desc = compare(multiset(dec_f, fn=live_norm), multiset(ref_f, fn=live_norm))
        ck.check(nm == 0 and ne == 0, 'JSON reference sink = netmeta-decode of the same stream', desc)

        msgs = kcat_consume(kc.bootstrap, 'flows')
        recs = records_of_messages(msgs)
        lines = cat_records(t, w, recs, 'kcat-flows.raw')
        got = multiset(lines, fn=lambda l: l)
        want = multiset(ref_f, fn=lambda l: l)
        nm, ne, desc = compare(want, got)
        dups = duplicates(got) - duplicates(want)
        log('  topic: %d messages, %d records, %d duplicates' % (len(msgs), len(recs), dups))
        ck.eq(nm, 0, 'records netmeta produced missing from the topic (kcat)', desc)
        ck.eq(ne, dups, 'extra records in the topic are all duplicates', desc)
        ck.check(dups <= put, 'duplicates (%d) only from replays (%d records replayed)' % (dups, put))
        ck.check(dups <= c.get('kafka0_maybe_duplicated', 0), 'duplicates (%d) within what the sink '
                 'counted as maybe written (kafka0_maybe_duplicated %d)'
                 % (dups, c.get('kafka0_maybe_duplicated', 0)))
        log('  DUPLICATES after the outage: %d (acks all, idempotence true)' % dups)
        nm, ne, desc = compare(multiset(dec_f, fn=live_norm), multiset(lines, fn=live_norm))
        ck.eq(nm, 0, 'generated records missing from the topic', desc)

        rc2, lines2, err2, cc = cat(t, ['--kafka', kc.bootstrap, '--topic', 'flows'])
        ck.eq(rc2, 0, 'netmeta-cat --kafka exit status', err2[-400:])
        nm, ne, desc = compare(multiset(lines, fn=lambda l: l), multiset(lines2, fn=lambda l: l))
        ck.check(nm == 0 and ne == 0, 'netmeta-cat --kafka = kcat records', desc)

        # counters are not spooled: delivered or counted failed (never in the flows topic)
        cl = cat_records(t, w, records_of_messages(kcat_consume(kc.bootstrap, 'counters')),
                         'kcat-counters.raw', counters=True)
        nm, ne, desc = compare(multiset(cl, fn=lambda l: l), multiset(ref_c, fn=lambda l: l))
        ck.eq(nm, 0, 'counters topic holds only records netmeta produced', desc)
        ck.eq(len(set(cl)) + c.get('kafka0_failed', 0), len(ref_c),
              'counters records: in the topic + kafka0_failed = produced (%d)' % len(ref_c))
        ck.eq(c.get('kafka0_failed', 0), sum(v for k, v in c.items()
                                               if k.startswith('kafka0_failed_')),
              'kafka0_failed = sum of kafka0_failed_<REASON>')
        rc = ck.finish()
    finally:
        if g and g.poll() is None:
            g.kill()
            g.wait()
        if d:
            d.stop()
        if kc:
            kc.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
