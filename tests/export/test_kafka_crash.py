#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
SIGKILL during a broker outage: what a crash loses (a real Apache Kafka 4
broker: scripts/kafka through realkafka.py, one broker, KRaft, started
once; a topic of one partition per mode).

For each mode, the same stream (netmeta-gen --udp, 200 datagrams/s, 8 s):
the broker goes down 3 s in (stopped: SIGTERM, its controlled shutdown;
its port then refuses connections); the stream ends; 1 s later, 6 s into the
outage (under the sink's message.timeout.ms of 15 s), netmeta is SIGKILLed.
The broker is started again with its data and netmeta is started again on the same spool: it
replays what the spool holds, with no traffic, and is stopped. The topic
is then compared with netmeta-decode of the same stream as a capture.

1. spool (the default): once librdkafka reports every broker down, new
   messages go to the spool and the producer's queue is purged into it;
   only what was in flight to the broker can be lost. Before this, every
   message made in the outage waited in librdkafka's memory for
   message.timeout.ms and a crash lost all of them (17 % of a stream in
   the hardening issue's measurement). Lost: at most the records of the
   second before the outage (what can be in flight), and fewer than the
   records of the outage itself.
2. write_ahead: every message is on disk before it is produced: nothing
   handed to the sink is lost (the stream ended before the kill: nothing
   was in a worker's batch). Duplicates: messages delivered but not yet
   marked done at the kill, counted and printed.

Figures per mode: records sent, in the topic, lost, duplicates, spooled
before the kill, replayed after.

NM_CRASH_MODES=spool,write_ahead,none,hang,hang_write_ahead picks the modes
(default: the first two). The others are references, not CI tests:
`none` (no spool at all): what the same SIGKILL costs when everything
waits in librdkafka's memory (asserts only that the run went through);
`hang` and `hang_write_ahead`: the broker is SIGSTOPped instead of
stopped (it hangs: its connections stay open, librdkafka never reports it
down), SIGCONT after the kill. Spool mode can then lose what librdkafka
holds, at most message.timeout.ms (15 s) of records (asserted);
write_ahead nothing (asserted). Run against a build from before the
spooling routing (f8da6f3, NM_CRASH_MODES=spool), `spool` gives the loss
the routing removed (bench/results/2026-12-02-crash.md).

Skips (77) when kcat, java or Kafka's jars are missing.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403

PPS = 200
SECS = 8
DOWN_AT = 3.0
KILL_AFTER_END = 1.0
CHILDREN = []


def run_mode(t, ck, w, kc, mode, seed, figures):
    log('\n== %s' % mode)
    topic = 'crash-' + mode
    pcap = os.path.join(w, mode + '.pcap')
    gc = gen_pcap(t, pcap, datagrams=PPS * SECS, exporters=2, seed=seed)
    sent = sum(v[1] for v in gc.values())
    dec_f = decode_pcap(t, pcap)[0]
    hang = mode.startswith('hang')
    spool = os.path.join(w, 'spool-' + mode)
    sink = kafka_sink_yaml(kc.bootstrap, topic=topic, spool_dir=None if mode == 'none' else spool,
                           extra={'flush_timeout_ms': 2000})
    if mode.endswith('write_ahead'):
        dl = '      dir: %s\n' % yaml_str(spool)
        sink = sink.replace(dl, dl + '      write_ahead: true\n      sync_ms: 200\n')
    off = free_port_offset()
    d = Daemon(t, w, socket_config(off, sink), mode + '-1')
    CHILDREN.append(d.p)
    if not ck.check(d.wait_ready(listen_ports(off)), '%s: netmeta bound its ports' % mode,
                    d.stderr()[-2000:]):
        return
    t0 = time.time()
    g = gen_udp(t, off, PPS, PPS * SECS, seed=seed)
    CHILDREN.append(g)
    wait_until(lambda: time.time() - t0 >= DOWN_AT, DOWN_AT + 5)
    t_down = time.time()
    if hang:
        kc.signal(0, 'STOP')
        log('  broker SIGSTOPped at %.1f s' % (t_down - t0))
    else:
        kc.stop()
        log('  broker stopped at %.1f s (its shutdown took %.1f s)' % (t_down - t0, time.time() - t_down))
    g.wait(SECS + 60)
    gerr = g.stderr.read()
    ck.eq(sum(v[1] for v in gen_counts(gerr).values()), sent, '%s: netmeta-gen sent the records of '
          'the capture' % mode)
    time.sleep(KILL_AFTER_END)
    spooled_disk = sum(os.path.getsize(x) for x in spool_segments(spool))
    d.p.send_signal(signal.SIGKILL)
    d.p.wait()
    log('  SIGKILL %.1f s into the outage; %d bytes in the spool' % (time.time() - t_down, spooled_disk))
    ck.check(time.time() - t_down < 14, '%s: killed within message.timeout.ms (15 s) of the outage'
             % mode)
    t_up = time.time()
    if hang:
        kc.signal(0, 'CONT')
    else:
        kc.start_again(topics=[topic])
    log('  broker started again in %.1f s' % (time.time() - t_up))
    d2 = Daemon(t, w, socket_config(off, sink), mode + '-2')
    CHILDREN.append(d2.p)
    ck.check(d2.wait_ready(listen_ports(off)), '%s: netmeta restarted' % mode, d2.stderr()[-2000:])
    drained = wait_until(lambda: not spool_segments(spool), 120, 0.2)
    ck.check(drained, '%s: the restarted collector empties the spool' % mode)
    time.sleep(1)
    rc, err, c = d2.stop()
    ck.eq((rc, c.get('kafka0_identity'), c.get('kafka0_failed'), c.get('kafka0_in_flight')),
          (0, 'ok', 0, 0), '%s: restart: exit status, identity, failed, in_flight' % mode)
    lines = cat_records(t, w, records_of_messages(kcat_consume(kc.bootstrap, topic)), mode + '.raw')
    want, got = multiset(dec_f, fn=live_norm), multiset(lines, fn=live_norm)
    lost = sum((want - got).values())
    dups = sum((got - want).values())
    per_s = sent / float(SECS)
    outage = sent * (SECS - DOWN_AT) / SECS
    log('  records sent %d, in the topic %d, lost %d, duplicates %d; replayed after the restart %d '
        '(%.0f records/s offered)' % (sent, len(lines), lost, dups,
                                      c.get('kafka0_spool_replay_records', 0), per_s))
    figures.append((mode, sent, len(lines), lost, dups, spooled_disk,
                    c.get('kafka0_spool_replay_records', 0)))
    if mode == 'none':
        log('  no spool: %d of %d records lost (%.1f %%), the outage was %.0f records'
            % (lost, sent, 100.0 * lost / sent, outage))
        return
    if mode == 'hang':
        log('  hung broker, spool: %d of %d records lost (%.1f %%), %.0f records offered in the '
            'hang before the kill' % (lost, sent, 100.0 * lost / sent, outage))
        ck.check(lost <= per_s * 16, 'hang: records lost (%d) at most message.timeout.ms (15 s) '
                 'and linger of records (%.0f)' % (lost, per_s * 16))
        return
    if not hang:
        ck.check(spooled_disk > 0, '%s: the outage went to the spool before the kill (%d bytes)'
                 % (mode, spooled_disk))
    if mode.endswith('write_ahead'):
        ck.eq(lost, 0, '%s: records lost to the SIGKILL' % mode)
    else:
        ck.check(lost <= per_s and lost < outage / 4, 'spool: records lost to the SIGKILL (%d) at most '
                 'the second before the outage (%.0f), far below the outage (%.0f records)'
                 % (lost, per_s, outage))
    ck.check(dups <= c.get('kafka0_spool_replay_records', 0), '%s: duplicates (%d) only from the replay'
             % (mode, dups))


def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ck = Checks()
    w = scratch('crash')
    kc = None
    rc = 1
    figures = []
    try:
        modes = [m for m in os.environ.get('NM_CRASH_MODES', 'spool,write_ahead').split(',') if m]
        known = ('spool', 'write_ahead', 'none', 'hang', 'hang_write_ahead')
        if not modes or any(m not in known for m in modes):
            log('NM_CRASH_MODES: expected %s separated by commas' % ', '.join(known))
            return 2
        kc = one_broker(w, dict(('crash-' + m, 1) for m in modes))
        for i, mode in enumerate(modes):
            try:
                run_mode(t, ck, w, kc, mode, {'spool': 71, 'write_ahead': 72, 'none': 73, 'hang': 74,
                                                'hang_write_ahead': 75}[mode], figures)
            except Exception as e:  # one mode's failure must not hide the other's
                ck.check(False, '%s: ran to the end' % mode, '%s: %s' % (type(e).__name__, e))
        log('\n%-12s %8s %9s %6s %10s %14s %9s' % ('mode', 'sent', 'in topic', 'lost', 'duplicates',
                                                 'spool at kill', 'replayed'))
        for f in figures:
            log('%-12s %8d %9d %6d %10d %12d B %9d' % f)
        rc = ck.finish()
    finally:
        kill_all(CHILDREN)
        if kc:
            kc.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
