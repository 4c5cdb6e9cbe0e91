#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Faults on a real Apache Kafka cluster (scripts/kafka: Kafka 4, KRaft, three
brokers in combined mode) while the collector streams a known set of
records. Topics have one partition, replication factor 3 and
min.insync.replicas 2; the sink runs with acks=all and idempotence on (its
defaults, also written out). Brokers stamp each message with the time they
append it (LogAppendTime), which times the recoveries.

The cluster is started once and every scenario writes to a fresh topic:

1. leader-kill: SIGKILL the partition leader's broker mid-stream, start it
   again 12 s later (its replica rejoins the ISR).
2. stop-all: SIGSTOP every broker for 60 s, then SIGCONT. message.timeout.ms
   is 5 s (sink properties): the spool takes every message after that and
   replays it once the brokers answer again.
3. sigterm-down: stop the whole cluster mid-stream, SIGTERM the collector
   (what it could not deliver is in the spool), start the cluster again,
   start the collector: it replays the spool with no traffic, then takes
   a short stream.

For each: every record the collector produced (its JSON sink, the
reference) is in the topic as read by an independent consumer (kcat, then
netmeta-cat), and so is every record netmeta-gen sent (netmeta-decode of
the same stream as a capture); duplicates are counted and explained (the
append times of their first copies say when the brokers wrote them); with
one partition the topic keeps the order the collector produced the records
in (leader-kill, sigterm-down; stop-all prints how many records are out of
order, see the note there); the sink's identity handed +
replayed = delivered + spooled + failed + in_flight holds; the spool is
empty at the end. The figures (records sent, in the topic, duplicates,
spooled, replayed, time to recover) are printed per scenario and in a
table at the end.

Skips (77) when java, kcat or Kafka's jars (scripts/kafka fetch: maven and
Maven Central) are missing.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403
import realkafka  # noqa: E402

PPS = 40            # datagrams/s over the four protocols (~840 records/s)
EXPORTERS = 2
PAUSE = 60          # stop-all: seconds every broker stays stopped
SINK = {'acks': 'all', 'idempotence': 'true'}
FIGURES = []
CHILDREN = []      # every netmeta and netmeta-gen started: none outlives the test



def order_breaks(ref, topic):
    """Records of the topic whose place in the reference (the collector's
    production order) is below that of a record before them. Each record
    counts once: a repeat (a duplicate) is left out. -> number of breaks."""
    where = {}
    for i, line in enumerate(ref):
        where.setdefault(line, []).append(i)
    seen, last, breaks = {}, -1, 0
    for line in topic:
        k = seen.get(line, 0)
        seen[line] = k + 1
        idx = where.get(line, [])
        if k >= len(idx):
            continue
        if idx[k] < last:
            breaks += 1
        last = max(last, idx[k])
    return breaks


class Stream:
    """netmeta (socket backend) with a Kafka sink and a JSON sink, fed by
    netmeta-gen --udp; the same stream as a capture, decoded."""

    def __init__(self, t, w, tag, seconds, seed):
        self.t, self.w, self.tag, self.seconds, self.seed = t, w, tag, seconds, seed
        pcap = os.path.join(w, tag + '.pcap')
        gc = gen_pcap(t, pcap, datagrams=PPS * seconds, exporters=EXPORTERS, seed=seed)
        self.sent = sum(v[1] for v in gc.values())
        self.dec_f, _ = decode_pcap(t, pcap)
        os.unlink(pcap)
        self.off = free_port_offset()
        self.spool = os.path.join(w, 'spool-' + tag)
        self.refs = []
        self.counters = []

    def start(self, bootstrap, topic, props, run, flush_timeout_ms=2000):
        ref = os.path.join(self.w, '%s-%d.json' % (self.tag, run))
        self.refs.append(ref)
        extra = dict(SINK, flush_timeout_ms=flush_timeout_ms)
        cfg = socket_config(self.off, kafka_sink_yaml(bootstrap, topic=topic, spool_dir=self.spool,
                                                      extra=extra, props=props) +
                            json_sink_yaml(ref), stats_interval=10)
        d = Daemon(self.t, self.w, cfg, '%s-%d' % (self.tag, run))
        CHILDREN.append(d.p)
        if not d.wait_ready(listen_ports(self.off)):
            raise RuntimeError('netmeta did not bind its ports: ' + d.stderr()[-1500:])
        return d

    def send(self, pps=PPS, datagrams=None, seed=None):
        g = gen_udp(self.t, self.off, pps, datagrams or PPS * self.seconds, exporters=EXPORTERS,
                    seed=seed or self.seed)
        CHILDREN.append(g)
        return g

    def stop(self, d, ck, what):
        rc, err, c = d.stop()
        log('  %s: %s' % (what, kafka_summary(c)))
        rd = [x for x in err.splitlines() if 'rdkafka' in x]
        for line in err.splitlines():
            if line.startswith('netmeta: kafka'):
                log('  stderr: ' + line[:240])
        for line in rd[:4]:
            log('  stderr: ' + line[:200])
        if len(rd) > 4:
            log('  stderr: ... %d more librdkafka lines' % (len(rd) - 4))
        ck.eq(rc, 0, '%s: netmeta exit status' % what)
        ck.eq(c.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % what)
        ck.check(identity_holds(c), '%s: handed + replayed = delivered + spooled + failed + in_flight '
                 '(from the printed numbers)' % what)
        ck.eq(c.get('KERNEL_DROPS'), 0, '%s: KERNEL_DROPS' % what)
        self.counters.append(c)
        return c

    def reference(self):
        out = []
        for r in self.refs:
            with open(r) as f:
                out += split_kinds(f.read().splitlines())[0]
        return out


def check_topic(ck, t, w, c, topic, s, tag, strict_order=True):
    """Topic against the reference and netmeta-decode.
    -> (records as JSON lines, their messages' append times, duplicates,
    records out of order)."""
    msgs = realkafka.consume(c.bootstrap, topic)
    recs, ts = [], []
    for m in msgs:
        rs = split_delimited(m.value)
        recs += rs
        ts += [m.ts_ms / 1000.0] * len(rs)
    lines = cat_records(t, w, recs, tag + '-topic.raw')
    ref = s.reference()
    got, want = multiset(lines, fn=lambda l: l), multiset(ref, fn=lambda l: l)
    nm, ne, desc = compare(want, got)
    dups = duplicates(got) - duplicates(want)
    ck.eq(nm, 0, '%s: records the collector produced missing from the topic' % tag, desc)
    ck.eq(ne, dups, '%s: extra records in the topic are all duplicates' % tag, desc)
    nm2, _ne2, desc2 = compare(multiset(s.dec_f, fn=live_norm), multiset(lines, fn=live_norm))
    ck.eq(nm2, 0, '%s: records netmeta-gen sent missing from the topic' % tag, desc2)
    br = order_breaks(ref, lines)
    if strict_order:
        ck.eq(br, 0, '%s: records in the topic in the order the collector produced them' % tag)
    else:
        log('  order: %d of %d records are behind a record the collector produced after them' % (
            br, len(lines)))
    ck.eq(spool_segments(s.spool), [], '%s: spool directory empty at the end' % tag)
    return lines, ts, dups, br


def duplicate_times(lines, ts):
    """Append times of the first copies of the records the topic holds twice."""
    seen, first, out = set(), {}, []
    for line, t in zip(lines, ts):
        if line in seen:
            out.append(first[line])
        else:
            seen.add(line)
            first[line] = t
    return out


def figures(tag, sent, produced, in_topic, dups, spooled, replayed, recovery, note):
    f = {'scenario': tag, 'sent': sent, 'produced': produced, 'in_topic': in_topic,
         'duplicates': dups, 'spooled': spooled, 'replayed': replayed, 'recovery': recovery,
         'note': note}
    FIGURES.append(f)
    log('  FIGURES %s: records sent %d, produced %d, in the topic %d, duplicates %d, spooled %d, '
        'replayed %d, recovery %s (%s)' % (tag, sent, produced, in_topic, dups, spooled, replayed,
                                          recovery, note))


def longest_stall(ts, t0, t1):
    """The longest time without an append between t0 and t1 (the stream
    appends a message every ~0.1 s when all is well) -> (seconds, start)."""
    pts = sorted(set([t0] + [x for x in ts if t0 <= x <= t1]))
    best = (0.0, t0)
    for a, b in zip(pts, pts[1:]):
        if b - a > best[0]:
            best = (b - a, a)
    return best


def first_append_after(ts, t):
    after = [x for x in ts if x >= t]
    return min(after) - t if after else None


def leader_kill(t, ck, w, c):
    log('\n== 1. leader-kill: SIGKILL the partition leader mid-stream, restart it 12 s later')
    topic, seconds = 'faults-leader', 30
    c.topic(topic, 1, 3)
    s = Stream(t, w, 'leader', seconds, seed=51)
    d = s.start(c.bootstrap, topic, props=None, run=1)
    t0 = time.time()
    g = s.send()
    wait_until(lambda: time.time() - t0 >= 8, 15)
    victim = c.leader(topic)
    t_kill = time.time()
    c.signal(victim, 'KILL')
    log('  broker %d (leader of %s/0) SIGKILLed at %.1f s' % (victim, topic, t_kill - t0))
    wait_until(lambda: time.time() - t_kill >= 12, 20)
    # The controller fences the dead broker when its session expires (9 s) and then takes it
    # out of the ISR: on a loaded machine that can come after 12 s, so wait for it (bounded).
    def fenced():
        p = realkafka.partitions(c.bootstrap, topic).get(0)
        return p if p and p[0] != victim + 1 and len(p[2]) == 2 else None
    if wait_until(fenced, 60, 0.5):
        log('  the ISR shrank to 2 within %.1f s of the SIGKILL' % (time.time() - t_kill))
    lead = realkafka.partitions(c.bootstrap, topic).get(0)
    log('  partition 0 during the outage: leader %s, isr %s' % (lead[0], lead[2]) if lead else
        '  partition 0: no metadata')
    ck.check(lead and lead[0] != victim + 1 and len(lead[2]) == 2,
             'leader-kill: a new leader, 2 replicas in sync while broker %d is down (%s)' % (victim, lead))
    t_restart = time.time()
    c.restart(victim)
    isr_ok = realkafka.wait_isr(c.bootstrap, topic, 3) is not None
    isr_s = time.time() - t_restart
    log('  broker %d restarted at %.1f s; 3 replicas in sync again %.1f s later' % (
        victim, t_restart - t0, isr_s))
    ck.check(isr_ok, 'leader-kill: the restarted broker rejoins the ISR (3 in sync)')
    g.wait(seconds + 60)
    gerr = g.stderr.read()
    ck.eq(sum(v[1] for v in gen_counts(gerr).values()), s.sent, 'leader-kill: netmeta-gen sent the '
          'records of the capture')
    time.sleep(2)
    cc = s.stop(d, ck, 'leader-kill')
    ck.eq((cc.get('kafka0_failed'), cc.get('kafka0_in_flight')), (0, 0), 'leader-kill: failed, in_flight')
    lines, ts, dups, _br = check_topic(ck, t, w, c, topic, s, 'leader-kill')
    ck.eq(dups, 0, 'leader-kill: duplicates (idempotence: retried batches are not written twice)')
    stall, at = longest_stall(ts, t_kill - 2, t_restart)
    figures('leader-kill', s.sent, cc.get('kafka0_handed', 0), len(lines), dups,
            cc.get('kafka0_spooled', 0), cc.get('kafka0_spool_replay_records', 0), '%.1f s' % stall,
            'longest time without an append, from %+.1f s of the SIGKILL; ISR back to 3 %.1f s after '
            'the restart' % (at - t_kill, isr_s))


def stop_all(t, ck, w, c):
    log('\n== 2. stop-all: SIGSTOP every broker for %d s, then SIGCONT' % PAUSE)
    topic, before, after = 'faults-stopall', 10, 15
    seconds = before + PAUSE + after
    c.topic(topic, 1, 3)
    s = Stream(t, w, 'stopall', seconds, seed=52)
    d = s.start(c.bootstrap, topic, props={'message.timeout.ms': 5000}, run=1)
    t0 = time.time()
    g = s.send()
    wait_until(lambda: time.time() - t0 >= before, before + 5)
    t_stop = time.time()
    c.signal_all('STOP')
    log('  every broker SIGSTOPped at %.1f s' % (t_stop - t0))
    peak = 0
    while time.time() - t_stop < PAUSE:
        time.sleep(1)
        peak = max(peak, sum(os.path.getsize(x) for x in spool_segments(s.spool)))
    t_cont = time.time()
    c.signal_all('CONT')
    log('  SIGCONT at %.1f s; spool at most %d bytes during the pause' % (t_cont - t0, peak))
    ck.check(peak > 0, 'stop-all: the spool took messages during the pause (%d bytes at most)' % peak)
    drained = wait_until(lambda: not spool_segments(s.spool), after + 120, 0.2)
    t_drained = time.time()
    ck.check(drained, 'stop-all: spool drained %.1f s after SIGCONT' % (t_drained - t_cont))
    g.wait(seconds + 120)
    gerr = g.stderr.read()
    ck.eq(sum(v[1] for v in gen_counts(gerr).values()), s.sent, 'stop-all: netmeta-gen sent the records '
          'of the capture')
    wait_until(lambda: not spool_segments(s.spool), 60, 0.5)
    time.sleep(2)
    cc = s.stop(d, ck, 'stop-all')
    put, rep = cc.get('kafka0_spool_put_records', 0), cc.get('kafka0_spool_replay_records', 0)
    rfail = cc.get('kafka0_spool_replay_failed_records', 0)
    ck.check(put > 0, 'stop-all: records went through the spool (spool_put_records %d)' % put)
    ck.eq(rep, put + rfail, 'stop-all: kafka0_spool_replay_records = spool_put_records + '
          'spool_replay_failed_records (a failed replay stays in its place and is read again)')
    ck.check(cc.get('kafka0_spool_mode', 0) >= 1, 'stop-all: new messages went to the spool once the '
             'brokers failed (kafka0_spool_mode %d)' % cc.get('kafka0_spool_mode', 0))
    ck.eq((cc.get('kafka0_failed'), cc.get('kafka0_in_flight'), cc.get('kafka0_spool_bytes')), (0, 0, 0),
          'stop-all: failed, in_flight, spool_bytes at exit')
    lines, ts, dups, br = check_topic(ck, t, w, c, topic, s, 'stop-all')
    ck.check(dups <= put, 'stop-all: duplicates (%d) come from replays only (%d records replayed)'
             % (dups, put))
    ck.check(dups <= cc.get('kafka0_maybe_duplicated', 0), 'stop-all: duplicates (%d) within what the '
             'sink counted as maybe written (kafka0_maybe_duplicated %d)'
             % (dups, cc.get('kafka0_maybe_duplicated', 0)))
    if dups:
        dt = duplicate_times(lines, ts)
        log('  duplicates: %d records; their first copies were appended %.1f to %.1f s after SIGCONT: '
            'produce requests the stopped brokers had received (in their sockets) before the '
            'client gave up on them (message.timeout.ms) and spooled them; the replay sent them '
            'again as new messages (new sequence numbers), which idempotence cannot recognise'
            % (dups, min(dt) - t_cont, max(dt) - t_cont))
    rec = first_append_after(ts, t_cont)
    figures('stop-all', s.sent, cc.get('kafka0_handed', 0), len(lines), dups, put, rep,
            '%.1f s' % rec if rec is not None else 'n/a',
            'first append after SIGCONT; spool drained %.1f s after SIGCONT; %d s pause; '
            '%d records out of order' % (t_drained - t_cont, PAUSE, br))


def sigterm_down(t, ck, w, c):
    log('\n== 3. sigterm-down: stop the cluster mid-stream, SIGTERM the collector, start the '
        'cluster, start the collector')
    topic, seconds = 'faults-sigterm', 12
    c.topic(topic, 1, 3)
    s = Stream(t, w, 'sigterm', seconds, seed=53)
    props = {'message.timeout.ms': 5000}
    d = s.start(c.bootstrap, topic, props=props, run=1)
    t0 = time.time()
    g = s.send()
    wait_until(lambda: time.time() - t0 >= 5, 10)
    t_down = time.time()
    c.stop()
    t_down_end = time.time()
    log('  cluster stopped (SIGTERM to every broker, waited for their exit) in %.1f s, at %.1f s'
        % (time.time() - t_down, time.time() - t0))
    g.wait(seconds + 60)
    gerr = g.stderr.read()
    ck.eq(sum(v[1] for v in gen_counts(gerr).values()), s.sent, 'sigterm-down: netmeta-gen sent the '
          'records of the capture')
    time.sleep(1)
    c1 = s.stop(d, ck, 'sigterm-down run 1 (SIGTERM with the brokers down)')
    spooled = c1.get('kafka0_spooled', 0)
    ck.check(spooled > 0, 'sigterm-down: records spooled (kafka0_spooled %d)' % spooled)
    ck.eq((c1.get('kafka0_failed'), c1.get('kafka0_in_flight')), (0, 0), 'sigterm-down run 1: failed, '
          'in_flight')
    ck.eq(c1.get('kafka0_delivered', 0) + spooled,
          c1.get('kafka0_handed', 0) + c1.get('kafka0_spool_replay_records', 0),
          'sigterm-down run 1: delivered + spooled = handed + replayed (a probe of the spool that '
          'fails is spooled again in its place)')
    segs = spool_segments(s.spool)
    ck.eq(c1.get('kafka0_spool_bytes'), sum(os.path.getsize(x) for x in segs),
          'sigterm-down: kafka0_spool_bytes = bytes of the %d segment(s) left on disk' % len(segs))
    ck.check(segs, 'sigterm-down: spool segments on disk after the exit')

    t_up = time.time()
    c.start_again()
    log('  cluster started again with its data in %.1f s' % (time.time() - t_up))
    t_start = time.time()
    d = s.start(c.bootstrap, topic, props=props, run=2)
    drained = wait_until(lambda: not spool_segments(s.spool), 120, 0.2)
    t_drained = time.time()
    ck.check(drained, 'sigterm-down: the restarted collector replays the spool with no traffic '
             '(empty %.1f s after its start)' % (t_drained - t_start))
    # then a short stream of other records
    pcap = os.path.join(w, 'sigterm-2.pcap')
    gc = gen_pcap(t, pcap, datagrams=PPS * 3, exporters=EXPORTERS, seed=54)
    sent2 = sum(v[1] for v in gc.values())
    s.dec_f += decode_pcap(t, pcap)[0]
    g = s.send(datagrams=PPS * 3, seed=54)
    g.wait(60)
    time.sleep(2)
    c2 = s.stop(d, ck, 'sigterm-down run 2')
    rep = c1.get('kafka0_spool_replay_records', 0) + c2.get('kafka0_spool_replay_records', 0)
    ck.eq(rep, spooled + c2.get('kafka0_spooled', 0), 'sigterm-down: records read back from the spool '
          '(both runs) = records spooled (both runs: a failed replay is spooled again in its place)')
    ck.eq((c2.get('kafka0_failed'), c2.get('kafka0_in_flight'), c2.get('kafka0_spool_bytes')), (0, 0, 0),
          'sigterm-down run 2: failed, in_flight, spool_bytes')
    lines, ts, dups, br = check_topic(ck, t, w, c, topic, s, 'sigterm-down', strict_order=False)
    # The order breaks only where the sink saw a younger message delivered while an older one
    # failed (a message timing out in flight during the brokers' shutdown while a younger one
    # is acknowledged: librdkafka's idempotent producer bumps its epoch and goes on; the older
    # one waits in the spool, the younger is already in the topic), and then by at most the
    # records that failed out of the producer (the spool's late lanes).
    # A clean CI run also saw one message (168 records) out of order with both counters at 0:
    # a path during the brokers' controlled shutdown the counters do not see yet (open, see
    # DESIGN-NOTES). What holds in every run: the breaks are among the messages that failed out
    # of the producer (the late lanes), never among those the spool took from the start.
    over = c1.get('kafka0_overtook', 0) + c1.get('kafka0_overtaken', 0)
    late = c1.get('kafka0_spool_put_records', 0) - c1.get('kafka0_spool_direct', 0)
    ck.check(br <= late, 'sigterm-down: records out of order (%d) at most those that failed out of '
             'the producer (%d; kafka0_overtook + kafka0_overtaken %d)' % (br, late, over))
    ck.check(dups <= spooled, 'sigterm-down: duplicates (%d) only from the replay (%d spooled)'
             % (dups, spooled))
    # Only records the producer held can be in the topic twice: the spool's direct puts never
    # reached librdkafka.
    ck.check(dups <= late, 'sigterm-down: duplicates (%d) only among the records that failed out '
             'of the producer (%d)' % (dups, late))
    # A broker in controlled shutdown can append a batch and then answer
    # NOT_LEADER_OR_FOLLOWER, which librdkafka classes as not persisted; the sink also counts
    # as maybe written every failure that a lost broker connection overlapped, so
    # kafka0_maybe_duplicated bounds the duplicates here too.
    mdup = c1.get('kafka0_maybe_duplicated', 0) + c2.get('kafka0_maybe_duplicated', 0)
    if dups:
        dt = duplicate_times(lines, ts)
        log('  duplicates: %d records (kafka0_maybe_duplicated %d); their first copies were appended '
            '%.1f to %.1f s after the cluster stop began (it took %.1f s)'
            % (dups, mdup, min(dt) - t_down, max(dt) - t_down, t_down_end - t_down))
    ck.check(dups <= mdup, 'sigterm-down: duplicates (%d) within what the sink counted as maybe '
             'written (kafka0_maybe_duplicated %d)' % (dups, mdup))
    figures('sigterm-down', s.sent + sent2, c1.get('kafka0_handed', 0) + c2.get('kafka0_handed', 0),
            len(lines), dups, spooled, c2.get('kafka0_spool_replay_records', 0),
            '%.1f s' % (t_drained - t_start),
            'restarted collector to an empty spool, no traffic; cluster start with its data %.1f s'
            % (t_start - t_up))


def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ck = Checks()
    w = scratch('faults')
    c = None
    rc = 1
    try:
        try:
            c = realkafka.Cluster.start(w, brokers=3,
                                        props=['log.message.timestamp.type=LogAppendTime'])
        except realkafka.Unavailable as e:
            skip(str(e))
        log('3 brokers (Kafka 4, KRaft, combined mode) up in %.1f s: %s' % (c.start_seconds, c.bootstrap))
        only = os.environ.get('NM_FAULTS_ONLY', '')  # e.g. sigterm-down: one scenario
        for name, fn in (('leader-kill', leader_kill), ('stop-all', stop_all),
                         ('sigterm-down', sigterm_down)):
            if only and name not in only.split(','):
                continue
            try:
                fn(t, ck, w, c)
            except Exception as e:  # one scenario's failure must not hide the others
                ck.check(False, '%s: ran to the end' % name, '%s: %s\n%s' % (type(e).__name__, e,
                                                                          c.logs_tail(5)))
        log('\n%-13s %8s %8s %9s %10s %8s %9s %9s  %s' % ('scenario', 'sent', 'produced', 'in topic',
                                                         'duplicates', 'spooled', 'replayed',
                                                         'recovery', 'recovery measured as'))
        for f in FIGURES:
            log('%-13s %8d %8d %9d %10d %8d %9d %9s  %s' % (
                f['scenario'], f['sent'], f['produced'], f['in_topic'], f['duplicates'], f['spooled'],
                f['replayed'], f['recovery'], f['note']))
        rc = ck.finish()
    finally:
        kill_all(CHILDREN)
        if c:
            c.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
