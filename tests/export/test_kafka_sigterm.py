#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
SIGTERM during a stream while the broker is down, then a restart, on a
real Apache Kafka 4 broker (scripts/kafka through realkafka.py: one broker,
KRaft, started once; a topic of 4 partitions per phase). "Down" is the
broker stopped (SIGTERM, its controlled shutdown; its port then refuses
connections); "up" is the broker started again with its data.

Phase 1: netmeta (socket backend, Kafka sink with a spool, plus a JSON lines
sink as the reference of what it produced) receives a live stream; the
broker goes down; netmeta gets SIGTERM a few seconds later. Every record is
delivered (in the topic) or in the spool: handed = delivered + spooled,
nothing failed or left in flight, and topic + spool segments = the reference,
exactly once, or with duplicates within what the sink counted as maybe
written (kafka0_maybe_duplicated: a request the broker appended while
shutting down, whose acknowledgement never came, is also in the spool).

Phase 2: the broker comes back and netmeta restarts with the same spool
directory. The README says "the next start replays it": first without any new
traffic, then with a short stream. At the end every record of both phases is
in the topic; duplicates are counted and reported.

Phase 3: a spool of many small messages; netmeta restarts with the broker up
and gets SIGTERM in the middle of the replay (flush_timeout_ms 500); a third
start finishes the replay. Every record in the topic, duplicates within
what the cut run counted as maybe written (0 when it counted none).

Skips (77) when kcat, java or Kafka's jars are missing.
"""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403

PPS = 40
FLUSH_TIMEOUT_MS = 2000
DOWN_AT = 4
TERM_AT = 10
IDLE_REPLAY_WAIT = 60  # a deadline, not a timing: the replay takes ~1 s


def cat_segments(t, w, segs, tag):
    """netmeta-cat on each spool segment, each copied alone into a directory
    of its own (netmeta-cat reads a segment through the spool reader)."""
    lines, bad = [], []
    for i, s in enumerate(segs):
        d = os.path.join(w, 'cat-%s-%d' % (tag, i))
        os.mkdir(d)
        shutil.copy(s, d)
        rc, out, err, c = cat(t, [os.path.join(d, os.path.basename(s))])
        if rc != 0 or c.get('damaged'):
            bad.append('%s: rc %d %s' % (s, rc, err.strip()[-300:]))
        lines += out
    return lines, bad


def phase3(t, ck, w, kc):
    """SIGTERM while a spool replay is in progress, then a restart."""
    log('\n== phase 3: SIGTERM in the middle of a replay, then a restart')
    off = free_port_offset()
    spool = os.path.join(w, 'spool-3')
    topic = 'flows-3'
    small = lambda ft: kafka_sink_yaml(kc.bootstrap, topic=topic, spool_dir=spool,
                                       extra={'flush_timeout_ms': ft, 'max_message_records': 10})
    # a spool of many small messages: a burst while every broker is down
    kc.topic(topic, partitions=4, rf=1)
    kc.stop()
    d = Daemon(t, w, socket_config(off, small(1000)), 'phase3-fill')
    d.wait_ready(listen_ports(off))
    g = gen_udp(t, off, 2000, 1200, seed=33)
    g.wait(30)
    time.sleep(0.5)
    rcd, err, c = d.stop()
    spooled = c.get('kafka0_spooled', 0)
    ck.check(rcd == 0 and spooled > 0 and spooled == c.get('kafka0_handed'),
             'burst spooled whole: %s' % kafka_summary(c))
    kc.start_again(topics=[topic])
    # the replay starts with the first delivery, SIGTERM 0.1 s later
    d = Daemon(t, w, socket_config(off, small(500), extra='batches: 8\n'), 'phase3-cut')
    d.wait_ready(listen_ports(off))
    g = gen_udp(t, off, 0, 4, seed=34)
    g.wait(10)
    time.sleep(0.1)
    rcd, err, c = d.stop()
    cut_replayed = c.get('kafka0_spool_replay_records', 0)
    cut_new = c.get('kafka0_handed', 0)
    cut_maybe = c.get('kafka0_maybe_duplicated', 0)
    left = spool_segments(spool)
    log('  cut: ' + kafka_summary(c))
    ck.eq(rcd, 0, 'netmeta exit status (SIGTERM during the replay)')
    ck.eq(c.get('kafka0_identity'), 'ok', 'kafka0_identity (SIGTERM during the replay)')
    if not left or cut_replayed == 0:
        log('  (the replay was not cut: finished %s, replayed %d: not exercised)' % (not left, cut_replayed))
        return
    d = Daemon(t, w, socket_config(off, small(10000)), 'phase3-rest')
    d.wait_ready(listen_ports(off))
    g = gen_udp(t, off, 0, 4, seed=35)
    g.wait(10)
    ck.check(wait_until(lambda: not spool_segments(spool), 120, 0.5), 'spool drained after the restart')
    time.sleep(1)
    rcd, err, c = d.stop()
    log('  rest: ' + kafka_summary(c))
    lines = cat_records(t, w, records_of_messages(kcat_consume(kc.bootstrap, topic)), 'topic-3.raw')
    got = multiset(lines, fn=lambda l: l)
    total = spooled + cut_new + c.get('kafka0_handed', 0)
    log('  topic: %d records, %d distinct, for %d produced; the cut run had replayed %d' % (
        len(lines), len(got), total, cut_replayed))
    ck.eq(len(got), total, 'every record of the three runs in the topic')
    log('  DUPLICATES after a clean SIGTERM in the middle of a replay: %d (the cut run had '
        'replayed %d records, %d counted maybe written)' % (duplicates(got), cut_replayed, cut_maybe))
    ck.check(duplicates(got) <= cut_maybe, 'duplicates after a clean SIGTERM in the middle of a '
             'replay (%d) within what the cut run counted as maybe written (%d)'
             % (duplicates(got), cut_maybe))


def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ck = Checks()
    w = scratch('sigterm')
    kc = d = g = None
    rc = 1
    try:
        kc = one_broker(w, {'flows': 4})
        off = free_port_offset()
        spool = os.path.join(w, 'spool')
        ref1 = os.path.join(w, 'reference-1.json')
        sink = kafka_sink_yaml(kc.bootstrap, spool_dir=spool,
                               extra={'flush_timeout_ms': FLUSH_TIMEOUT_MS})
        log('== phase 1: stream, broker down, SIGTERM')
        d = Daemon(t, w, socket_config(off, sink + json_sink_yaml(ref1)), 'phase1')
        if not ck.check(d.wait_ready(listen_ports(off)), 'netmeta bound its ports', d.stderr()[-2000:]):
            return ck.finish()
        t0 = time.time()
        g = gen_udp(t, off, PPS, PPS * 30, seed=31)
        wait_until(lambda: time.time() - t0 >= DOWN_AT, DOWN_AT + 5)
        t_down = time.time()
        kc.stop()
        log('  broker stopped at %.1f s (its shutdown took %.1f s)' % (t_down - t0, time.time() - t_down))
        wait_until(lambda: time.time() - t0 >= TERM_AT, TERM_AT + 5)
        log('  SIGTERM at %.1f s, the stream still running' % (time.time() - t0))
        t_term = time.time()
        rcd, err, c = d.stop()
        took = time.time() - t_term
        d = None
        g.kill()
        g.wait()
        g = None
        log('  ' + kafka_summary(c))
        ck.eq(rcd, 0, 'netmeta exit status')
        # bounded by flush_timeout_ms, not by librdkafka's message timeout
        # (minutes); the margin is for a loaded machine
        ck.check(took <= FLUSH_TIMEOUT_MS / 1000.0 + 20, 'stopped %.1f s after SIGTERM '
                 '(flush_timeout_ms %d)' % (took, FLUSH_TIMEOUT_MS))
        ck.eq(c.get('kafka0_identity'), 'ok', 'kafka0_identity')
        ck.check(identity_holds(c), 'handed + replayed = delivered + spooled + failed + in_flight '
                 '(from the printed numbers)')
        with open(ref1) as f:
            ref1_f, _ = split_kinds(f.read().splitlines())
        handed = c.get('kafka0_handed', -1)
        ck.eq(handed, len(ref1_f), 'kafka0_handed = records of the JSON reference sink')
        ck.eq((c.get('kafka0_failed'), c.get('kafka0_in_flight')), (0, 0), 'kafka0_failed, kafka0_in_flight')
        ck.eq(c.get('kafka0_delivered', 0) + c.get('kafka0_spooled', 0),
              handed + c.get('kafka0_spool_replay_records', 0),
              'kafka0_delivered + kafka0_spooled = kafka0_handed + kafka0_replayed (a probe of the '
              'spool that fails is spooled again in its place)')
        spooled = c.get('kafka0_spooled', 0)
        ck.check(spooled > 0, 'the broker outage sent records to the spool (kafka0_spooled %d)' % spooled)
        ck.eq(c.get('kafka0_spool_put_records', 0) + c.get('kafka0_spool_replay_failed_records', 0), spooled,
              'kafka0_spool_put_records + spool_replay_failed_records = kafka0_spooled')
        ck.check('still in flight' not in err, 'no "records still in flight at exit" warning')
        segs = spool_segments(spool)
        on_disk = sum(os.path.getsize(s) for s in segs)
        ck.eq(c.get('kafka0_spool_bytes'), on_disk, 'kafka0_spool_bytes = bytes of the %d segment(s) on disk'
              % len(segs))
        # the broker back (netmeta is not running): what reached the topic
        t_up = time.time()
        kc.start_again(topics=['flows'])
        log('  broker started again in %.1f s' % (time.time() - t_up))
        t1 = cat_records(t, w, records_of_messages(kcat_consume(kc.bootstrap, 'flows')), 'topic-1.raw')
        s1, bad = cat_segments(t, w, segs, 'phase1')
        ck.check(not bad, 'netmeta-cat reads the spool segments cleanly', '\n'.join(bad))
        maybe1 = c.get('kafka0_maybe_duplicated', 0)
        ck.eq(len(s1), c.get('kafka0_spool_put_records'), 'records in the spool = spool_put_records')
        ck.check(c.get('kafka0_delivered') <= len(t1) <= c.get('kafka0_delivered') + maybe1,
                 'records in the topic (%d) = delivered (%d), plus at most the maybe written (%d)'
                 % (len(t1), c.get('kafka0_delivered'), maybe1))
        want1 = multiset(ref1_f, fn=lambda l: l)
        got1 = multiset(t1 + s1, fn=lambda l: l)
        nm, ne, desc = compare(want1, got1)
        dups1 = duplicates(got1) - duplicates(want1)
        log('  phase 1: topic %d + spool %d records for %d produced; %d in both (kafka0_maybe_duplicated '
            '%d)' % (len(t1), len(s1), len(ref1_f), dups1, maybe1))
        ck.check(nm == 0 and ne == dups1 and dups1 <= maybe1, 'topic + spool = every record netmeta '
                 'produced, once, or twice within kafka0_maybe_duplicated (%d in both)' % dups1, desc)

        log('\n== phase 2: broker up, restart with the same spool')
        ref2 = os.path.join(w, 'reference-2.json')
        d = Daemon(t, w, socket_config(off, sink + json_sink_yaml(ref2)), 'phase2')
        if not ck.check(d.wait_ready(listen_ports(off)), 'netmeta restarted', d.stderr()[-2000:]):
            return ck.finish()
        idle_ok = wait_until(lambda: not spool_segments(spool), IDLE_REPLAY_WAIT, 0.5)
        ck.check(idle_ok, 'restart replays the spool with the broker up and no new traffic '
                 '(spool empty within %d s; left: %s)' % (
                     IDLE_REPLAY_WAIT, [os.path.basename(s) for s in spool_segments(spool)]))
        g = gen_udp(t, off, PPS, PPS, seed=32)
        g.wait(30)
        g = None
        drained = wait_until(lambda: not spool_segments(spool), 120, 0.5)
        ck.check(drained, 'spool empty once new traffic flowed (left: %s)' % spool_segments(spool))
        time.sleep(1)
        rcd, err, c2 = d.stop()
        d = None
        log('  ' + kafka_summary(c2))
        ck.eq(rcd, 0, 'netmeta exit status (phase 2)')
        ck.eq(c2.get('kafka0_identity'), 'ok', 'kafka0_identity (phase 2)')
        ck.check(identity_holds(c2), 'identity from the printed numbers (phase 2)')
        ck.eq(c.get('kafka0_spool_replay_records', 0) + c2.get('kafka0_spool_replay_records', 0),
              spooled + c2.get('kafka0_spooled', 0), 'records read back from the spool = records '
              'spooled (phases 1 and 2; a failed replay is spooled again in its place)')
        ck.eq(c2.get('kafka0_spool_bytes'), 0, 'kafka0_spool_bytes at exit (phase 2)')
        ck.eq((c2.get('kafka0_failed'), c2.get('kafka0_in_flight'), c2.get('kafka0_spool_corrupt_entries')),
              (0, 0, 0), 'failed, in_flight, spool_corrupt_entries (phase 2)')
        with open(ref2) as f:
            ref2_f, _ = split_kinds(f.read().splitlines())
        all_lines = cat_records(t, w, records_of_messages(kcat_consume(kc.bootstrap, 'flows')), 'topic-2.raw')
        want = multiset(ref1_f + ref2_f, fn=lambda l: l)
        got = multiset(all_lines, fn=lambda l: l)
        nm, ne, desc = compare(want, got)
        dups = duplicates(got) - duplicates(want)
        log('  topic: %d records for %d produced (%d + %d), %d duplicates' % (
            len(all_lines), len(ref1_f) + len(ref2_f), len(ref1_f), len(ref2_f), dups))
        ck.eq(nm, 0, 'records of both runs missing from the topic', desc)
        ck.eq(ne, dups, 'extra records are duplicates', desc)
        ck.check(dups <= spooled, 'duplicates (%d) only from the replay (%d records)' % (dups, spooled))
        phase3(t, ck, w, kc)
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
