#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Trouble is visible while it happens (issue 17, item 4): an output that loses
records shows it in the periodic stats line while netmeta still runs, and
the first record lost for each reason is said once on stderr with its cause.

A JSON sink writing to /dev/full (every write fails with ENOSPC, as on a
full disk) next to a JSON sink writing to a file (the reference): 40
datagrams through the socket backend with stats_interval 1. While netmeta
runs, a stats line must show "output drops N" with N > 0 and the reason
json0_lines_lost, and "netmeta: json0: first record dropped: ..." must have
been printed exactly once. After SIGTERM, every line of the reference sink
is counted lost on /dev/full (json0_lines_lost = lines of the reference,
json0_lines 0), and the last stats line's count is at most that.

Then a Kafka sink whose broker is unreachable, without a spool, with
message.timeout.ms 1000: while netmeta runs a stats line shows the drops as
kafka0_failed__MSG_TIMED_OUT, and the first one is said once with its cause.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403

LINE = re.compile(r'^netmeta: rx .* output drops (\d+)(?: \((.*)\))?$')


def drop_lines(err):
    return [(int(m.group(1)), m.group(2) or '') for m in map(LINE.match, err.splitlines()) if m]


def kafka_unreachable(t, ck, w):
    log('\n== Kafka sink, brokers unreachable, no spool, message.timeout.ms 1000')
    off = free_port_offset()
    cfg = socket_config(off, kafka_sink_yaml('127.0.0.1:1', props={'message.timeout.ms': 1000,
                                                                   'log_level': 0}),
                        stats_interval=1)
    d = Daemon(t, w, cfg, 'kafka')
    try:
        if not ck.check(d.wait_ready(listen_ports(off)), 'kafka: netmeta bound its ports',
                        d.stderr()[-2000:]):
            return
        g = gen_udp(t, off, 100, 40, seed=72)
        g.wait(30)
        # messages time out after 1 s; waited for, not timed
        wait_until(lambda: any('kafka0_failed__MSG_TIMED_OUT' in r
                               for _, r in drop_lines(d.stderr())), 60, 0.2)
        err = d.stderr()
        running = [x for x in drop_lines(err) if 'kafka0_failed__MSG_TIMED_OUT' in x[1]]
        ck.check(d.alive(), 'kafka: netmeta still runs when the drops are read')
        ck.check(running and running[0][0] > 0 and
                 'kafka0_failed__MSG_TIMED_OUT %d' % running[0][0] in running[0][1],
                 'kafka: a periodic line shows output drops = kafka0_failed__MSG_TIMED_OUT > 0',
                 '\n'.join(l for l in err.splitlines() if l.startswith('netmeta: rx'))[-800:])
    finally:
        rcd, err, c = d.stop()
    ck.eq(rcd, 0, 'kafka: netmeta exit status')
    first = [l for l in err.splitlines() if 'first record dropped' in l or 'records dropped' in l]
    ck.eq(first, ['netmeta: kafka0: first record dropped: Local: Message timed out '
                  '(failed__MSG_TIMED_OUT)'], 'kafka: the first drop said once, with its cause')
    ck.check(c.get('kafka0_handed', 0) > 0 and c.get('kafka0_failed') == c.get('kafka0_handed')
             == c.get('kafka0_failed__MSG_TIMED_OUT'),
             'kafka: every record handed failed, by its reason (%s)' % kafka_summary(c))


def main():
    t = Tools(sys.argv)
    ck = Checks()
    w = scratch('drops')
    rc = 1
    try:
        ref = os.path.join(w, 'reference.json')
        off = free_port_offset()
        cfg = socket_config(off, json_sink_yaml('/dev/full') + json_sink_yaml(ref),
                            stats_interval=1)
        d = Daemon(t, w, cfg, 'full')
        try:
            if not ck.check(d.wait_ready(listen_ports(off)), 'netmeta bound its ports',
                            d.stderr()[-2000:]):
                return ck.finish()
            g = gen_udp(t, off, 100, 40, seed=71)
            g.wait(30)
            # waited for, not timed: a stats line with drops comes once the
            # sink flushed (flush_ms 100) and the next second's line is out
            wait_until(lambda: any(n > 0 for n, _ in drop_lines(d.stderr())), 60, 0.2)
            err = d.stderr()
            running = [x for x in drop_lines(err) if x[0] > 0]
            ck.check(d.alive(), 'netmeta still runs when the drops are read')
            ck.check(running, 'a periodic stats line shows output drops > 0 while netmeta runs',
                     '\n'.join(l for l in err.splitlines() if l.startswith('netmeta: rx'))[-800:])
            ck.check(running and 'json0_lines_lost %d' % running[0][0] in running[0][1],
                     'that line names the reason: json0_lines_lost %s'
                     % (running[0][0] if running else '?'), running[0][1] if running else '')
        finally:
            rcd, err, c = d.stop()
        ck.eq(rcd, 0, 'netmeta exit status')
        first = [l for l in err.splitlines() if 'first record dropped' in l]
        ck.eq(len(first), 1, 'the first dropped record is said once', '\n'.join(first))
        ck.check(first and first[0].startswith('netmeta: json0: first record dropped: ')
                 and first[0].endswith('(lines_lost)'),
                 'it names the output, the cause and the counter', first[0] if first else '')
        with open(ref) as f:
            n_ref = len(f.read().splitlines())
        ck.check(n_ref > 0, 'the reference sink has %d lines' % n_ref)
        ck.eq(c.get('json0_lines_lost'), n_ref, 'json0_lines_lost = every line (all lost)')
        ck.eq(c.get('json0_lines'), 0, 'json0_lines (none reached /dev/full)')
        ck.eq(c.get('json1_lines'), n_ref, 'json1_lines (the reference)')
        ck.eq(c.get('json1_lines_lost'), 0, 'json1_lines_lost (the reference lost none)')
        last = drop_lines(err)
        ck.check(last and 0 < last[-1][0] <= n_ref,
                 'the last stats line counts 0 < %s <= %d' % (last[-1][0] if last else '?', n_ref))
        ck.check('Sanitizer' not in err, 'no sanitizer report', err.strip()[-1500:])
        kafka_unreachable(t, ck, w)
        rc = ck.finish()
    finally:
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
