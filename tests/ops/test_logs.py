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
      warnings still come. log.format bare (the default): lines keep their
      form; log.level warning from the start writes the warnings and none of
      the info lines (configuration, ready, final counters); a reload from
      info to warning drops the info lines from then on (the final
      counters, which always come at exit, are not written).
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (Checks, Netmeta, free_tcp_port, free_udp_offset, http_get, listen_for,  # noqa: E402
                    wait_for, workdir)

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
    test_bare(ck, exe, wd, cfg2)
    return ck.finish()


def moved(cfg):
    """cfg with the IPFIX port moved: a reload says 'needs a restart', a warning."""
    return dict(cfg, listen=dict(cfg['listen'], ipfix=cfg['listen']['ipfix'] + 1))


def test_bare(ck, exe, wd, base):
    warn = 'netmeta: reload: listen changed: needs a restart (kept the running value)'
    # 1. level warning from the start: ready is an info line, so readiness
    #    is read from /readyz
    mport = free_tcp_port()
    cfg = dict(base, log={'format': 'bare', 'level': 'warning'},
               metrics={'listen': '127.0.0.1:%d' % mport})
    nm = Netmeta(exe, wd, cfg, tag='bare-warning').start()

    def ready():
        try:
            return http_get('http://127.0.0.1:%d/readyz' % mport, timeout=5)[0] == 200
        except OSError:
            return nm.proc.poll() is not None
    ck.check(wait_for(ready, 60) and nm.alive(), 'bare, level warning: starts (/readyz 200)')
    nm.write_cfg(moved(cfg))
    nm.signal(signal.SIGHUP)
    ck.check(wait_for(lambda: warn in nm.stderr(), 60), 'bare, level warning: the reload\'s warning comes')
    nm.stop()
    lines = nm.err.splitlines()
    ck.check(warn in lines, 'bare: the warning line as written, no time or level', lines[:5])
    info = [l for l in lines if 'netmeta: ready' in l or l.startswith('RX_PACKETS ') or
            'netmeta: sink 0:' in l or 'netmeta: rx ' in l]
    ck.eq(info, [], 'bare, level warning: no info line (ready, configuration, stats, final counters)')
    ck.eq(nm.rc, 0, 'bare, level warning: exit status')
    # 2. info, then a reload to warning
    cfg = dict(base, log={'format': 'bare', 'level': 'info'})
    nm = Netmeta(exe, wd, cfg, tag='bare-reload').start()
    ck.check(nm.wait_ready(), 'bare, level info: starts')
    ck.check(wait_for(lambda: 'netmeta: rx ' in nm.stderr(), 60), 'bare, level info: a stats line')
    ck.check(nm.stderr().startswith('netmeta: '), 'bare: lines as written', nm.stderr()[:200])
    c2 = moved(dict(cfg, log={'format': 'bare', 'level': 'warning'}))
    nm.write_cfg(c2)
    nm.signal(signal.SIGHUP)
    ck.check(wait_for(lambda: warn in nm.stderr(), 60), 'bare, reload to warning: its warning comes')
    nm.stop()
    after = nm.err.split(warn, 1)[-1].splitlines()
    ck.check(not any(l.startswith('RX_PACKETS ') or 'netmeta: rx ' in l for l in after),
             'bare, after the reload to warning: no info line (no stats line, no final counters)',
             after[:5])
    ck.check(not any('reload: ' in l and 'applied' in l for l in after),
             'bare, after the reload to warning: its own info line ("applied") dropped too')
    ck.eq(nm.rc, 0, 'bare, reload: exit status')


if __name__ == '__main__':
    sys.exit(main())
