# SPDX-License-Identifier: BSD-3-Clause
"""
Log lines (dataplane/log.c).

  test_logs.py NETMETA
      --log-format json with a Kafka sink whose broker refuses connections:
      every stderr line is a JSON object with ts (UTC, milliseconds), level
      and msg, netmeta's own lines and librdkafka's (its connection errors at
      level error), the stats line and its rates line each second, the final
      counters. log.format plain: "TIMESTAMP LEVEL MESSAGE" lines. A reload
      to log.level warning silences the info lines (the stats line) while
      warnings still come.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import Checks, Netmeta, free_tcp_port, free_udp_offset, listen_for, wait_for, workdir  # noqa: E402

TS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')


def main():
    ck = Checks()
    exe = sys.argv[1]
    wd = workdir('logs')
    off = free_udp_offset()
    dead = free_tcp_port()  # nothing listens there
    cfg = {'listen': listen_for(off), 'stats_interval': 1,
           'sinks': [{'type': 'kafka', 'brokers': '127.0.0.1:%d' % dead, 'topic': 't'}]}
    nm = Netmeta(exe, wd, cfg, tag='json', args=['--log-format', 'json']).start()
    ck.check(wait_for(lambda: nm.stderr().count('netmeta: rates over') >= 2, 60), 'json: two rates lines came')
    nm.stop()
    objs, bad = [], []
    for line in nm.err.splitlines():
        try:
            o = json.loads(line)
            if set(o) != {'ts', 'level', 'msg'} or not TS.match(o['ts']) or \
                    o['level'] not in ('error', 'warning', 'info', 'debug'):
                bad.append(line)
            objs.append(o)
        except ValueError:
            bad.append(line)
    ck.check(len(objs) > 20 and not bad, 'json: all %d lines are {ts, level, msg} objects' % len(objs), bad[:3])
    msgs = [o['msg'] for o in objs]
    ck.check(any(m == 'netmeta: ready' for m in msgs), 'json: netmeta: ready')
    ck.check(any(o['level'] == 'error' and 'Connect to' in o['msg'] for o in objs),
             "json: librdkafka's connection error, level error",
             [m for m in msgs if 'onnect' in m][:2])
    ck.check(any(re.match(r'netmeta: rx \d+ pkts', m) for m in msgs), 'json: the stats line')
    ck.check(any(re.match(r'netmeta: rates over [\d.]+ s: rx \d+ pkts/s, records \d+/s', m) for m in msgs),
             'json: the rates line')
    ck.check(any(m == 'RX_PACKETS 0' for m in msgs), 'json: the final counters')
    ck.eq(nm.rc, 0, 'json: exit status')

    cfg2 = dict(cfg, log={'format': 'plain', 'level': 'info'}, sinks=[{'type': 'discard'}])
    nm = Netmeta(exe, wd, cfg2, tag='plain').start()
    ck.check(nm.wait_ready(), 'plain: starts')
    ck.check(wait_for(lambda: nm.stderr().count(' info netmeta: rx ') >= 1, 60), 'plain: a stats line at info')
    nm.write_cfg(dict(cfg2, log={'format': 'plain', 'level': 'warning'},
                      listen=dict(cfg2['listen'], ipfix=cfg2['listen']['ipfix'] + 1)))
    nm.signal(signal.SIGHUP)
    ck.check(wait_for(lambda: 'warning netmeta: reload: listen changed' in nm.stderr(), 60),
             'plain: after the reload, its warning still comes')
    n0 = nm.stderr().count(' netmeta: rx ')
    time.sleep(2.5)  # not the check: the lines that would have come in that time
    n1 = nm.stderr().count(' netmeta: rx ')
    ck.check(n1 <= n0 + 1, 'plain: log.level warning silences the stats lines (%d -> %d)' % (n0, n1))
    nm.stop()
    lines = nm.err.splitlines()
    badp = [l for l in lines if not re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warning|info|debug) ', l)]
    ck.check(not badp, 'plain: all %d lines are "TIMESTAMP LEVEL message"' % len(lines), badp[:3])
    ck.eq(nm.rc, 0, 'plain: exit status')
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main())
