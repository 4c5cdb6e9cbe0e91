# SPDX-License-Identifier: BSD-3-Clause
"""
SIGHUP reload and one instance per port (dataplane/main.c, sock.c).

  reload NETMETA NETMETA_GEN
      2 workers; 8 exporters (127.0.0.1-8) send every protocol for several
      seconds. The config first allows 127.0.0.1-4 only. Under traffic the
      file changes: every exporter allowed, 127.0.0.1's sampling rate
      overridden to 77, the NetFlow port moved, the stats interval changed;
      then SIGHUP. The new allowlist and override take effect while the
      traffic runs (series of 127.0.0.5-8 appear, 127.0.0.1's sampling rate
      reads 77 on NetFlow v5/v9/IPFIX, the others stay 1000), the port change
      is reported as needing a restart and ignored (the old port keeps
      receiving), ten more SIGHUPs in a row change nothing, a file that does
      not parse is refused with the old config still running, and at exit
      every datagram sent is accounted (received = UDP + denied), every
      record decoded reached the sink: zero lost.
  instance NETMETA
      A second netmeta on the same ports is refused with a clear message and
      exit status 1 while the first runs on (metrics on, on the same metrics
      port: the message is the listen ports', not the metrics bind error),
      and (decoder state on) it writes no state file: only the first one
      saves, at its shutdown. With share_ports: true in both configs (and a
      metrics port and state path of its own) the second joins on purpose.
"""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (Checks, Netmeta, free_tcp_port, free_udp_offset, listen_for, log,  # noqa: E402
                    scrape, skip, wait_for, workdir)


def series_of(sc, name, exporter):
    return {d['protocol']: v for d, v in sc.series(name) if d['exporter'] == exporter}


def test_reload(exe, exe_gen):
    ck = Checks()
    wd = workdir('reload')
    off = free_udp_offset()
    mport = free_tcp_port()
    base = {'workers': 2, 'listen': listen_for(off), 'stats_interval': 1,
            'metrics': {'listen': '127.0.0.1:%d' % mport},
            'sinks': [{'type': 'discard'}]}
    a = dict(base, allow=['127.0.0.%d/32' % i for i in range(1, 5)])
    nm = Netmeta(exe, wd, a).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        log(nm.stderr())
        return ck.finish()
    g = subprocess.Popen([exe_gen, '--udp', '127.0.0.1', '--port-offset', str(off), '--proto', 'all',
                          '--exporters', '8', '--datagrams', '40000', '--pps', '2500', '--template-every', '20'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ok = wait_for(lambda: scrape(mport).get('netmeta_packets_total', outcome='exporter_denied') > 200
                      and scrape(mport).get('netmeta_exporter_sampling_rate') > 0, 60, 0.1)
        ck.check(ok, 'traffic flows under config A (exporters 5-8 denied)')
        sc = scrape(mport)
        ck.eq(sorted(set(d['exporter'] for d, v in sc.series('netmeta_exporter_datagrams_total'))),
              ['127.0.0.%d' % i for i in range(1, 5)], 'series: only the allowed exporters')
        # config B: everyone, an override, a moved port, another interval
        lb = dict(base['listen'], netflow=base['listen']['netflow'] + 1)
        b = dict(base, allow=['127.0.0.0/24'], listen=lb, stats_interval=2,
                 sampling_rates=[{'exporter': '127.0.0.1', 'rate': 77, 'override': True}])
        nm.write_cfg(b)
        nm.signal(signal.SIGHUP)
        ok = wait_for(lambda: 'netmeta: reload: ' + nm.cfg_path + ': applied' in nm.stderr(), 30)
        ck.check(ok, 'the reload says it applied the file')
        err = nm.stderr()
        ck.check('netmeta: reload: listen changed: needs a restart (kept the running value)' in err,
                 'the moved port is reported as needing a restart',
                 [l for l in err.splitlines() if 'reload' in l])
        ck.check(nm.alive(), 'netmeta still runs after SIGHUP')

        def taken():
            sc = scrape(mport)
            ex = set(d['exporter'] for d, v in sc.series('netmeta_exporter_datagrams_total'))
            r1 = series_of(sc, 'netmeta_exporter_sampling_rate', '127.0.0.1')
            r2 = series_of(sc, 'netmeta_exporter_sampling_rate', '127.0.0.2')
            return (ex == set('127.0.0.%d' % i for i in range(1, 9))
                    and all(r1.get(p) == 77 for p in ('netflow_v5', 'netflow_v9', 'ipfix'))
                    and all(r2.get(p) == 1000 for p in ('netflow_v5', 'netflow_v9', 'ipfix')))
        ok = wait_for(taken, 60, 0.1)
        ck.check(ok, 'under traffic: exporters 5-8 now collected; 127.0.0.1 at rate 77 (v5, v9, IPFIX), 127.0.0.2 still 1000',
                 scrape(mport).text[-3000:] if not ok else '')
        sc = scrape(mport)
        ck.eq(sc.get('netmeta_reloads_total', result='ok'), 1, 'netmeta_reloads_total{result="ok"}')
        ck.eq(sc.get('netmeta_reload_restart_needed'), 1, 'netmeta_reload_restart_needed')
        # the old NetFlow port keeps receiving (the change was not applied)
        nf0 = sc.get('netmeta_exporter_datagrams_total', protocol='netflow_v9')
        ok = wait_for(lambda: scrape(mport).get('netmeta_exporter_datagrams_total', protocol='netflow_v9') > nf0 + 20, 30, 0.1)
        ck.check(ok and g.poll() is None, 'the old NetFlow port still receives, under traffic')
        # ten reloads in a row of the same file
        for _ in range(10):
            nm.signal(signal.SIGHUP)
            time.sleep(0.02)
        ok = wait_for(lambda: scrape(mport).get('netmeta_reloads_total', result='ok') >= 2, 30, 0.1)
        ck.check(ok and nm.alive(), 'ten SIGHUPs in a row: reloaded, still running')
        # a file that does not load: refused, B keeps running
        with open(nm.cfg_path, 'w') as f:
            f.write('allow: [not-an-address]\nworkers: 2\n')
        nm.signal(signal.SIGHUP)
        ok = wait_for(lambda: scrape(mport).get('netmeta_reloads_total', result='failed') == 1, 30, 0.1)
        ck.check(ok, 'a broken file: counted as a failed reload')
        err = nm.stderr()
        ck.check('the running config stays' in err and 'allow[0]' in err,
                 'it says why and that the running config stays',
                 [l for l in err.splitlines() if 'reload' in l][-3:])
        d5 = scrape(mport).get('netmeta_exporter_datagrams_total', exporter='127.0.0.5')
        ok = wait_for(lambda: scrape(mport).get('netmeta_exporter_datagrams_total', exporter='127.0.0.5') > d5 + 10, 30, 0.1)
        ck.check(ok and g.poll() is None, 'after the failed reload, config B still runs (127.0.0.5 collected)')
        ck.eq(series_of(scrape(mport), 'netmeta_exporter_sampling_rate', '127.0.0.1').get('ipfix'), 77,
              'and its override still holds')
        out, gerr = g.communicate(timeout=300)
        sent = int(gerr.split('sent ')[1].split()[0])
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()
    wait_for(lambda: scrape(mport).get('netmeta_rx_packets_total') >= sent, 60, 0.1)
    nm.stop()
    c = nm.counters
    ck.eq(nm.rc, 0, 'exit status at SIGTERM')
    ck.eq(c.get('RX_PACKETS'), sent, 'every datagram sent was received')
    ck.eq(c.get('UDP_DATAGRAMS', 0) + c.get('EXPORTER_DENIED', 0), sent, 'received = collected + denied (before the reload)')
    ck.eq(c.get('PORT_UNKNOWN', 0) + c.get('KERNEL_DROPS', 0), 0, 'no datagram to an unknown port, no kernel drop')
    ck.check(c.get('decode_records', 0) > 0 and c.get('decode_records') == c.get('RECORDS_SENT')
             == c.get('sink_records_written'),
             'zero records lost: decoded %s = sent %s = written %s'
             % (c.get('decode_records'), c.get('RECORDS_SENT'), c.get('sink_records_written')))
    ck.eq(c.get('RECORDS_RING_FULL', 0) + c.get('RECORDS_NO_BATCH', 0), 0, 'no record dropped')
    ck.check(c.get('EXPORTER_DENIED', 0) > 0, 'exporters 5-8 were denied before the reload (%d)' % c.get('EXPORTER_DENIED', 0))
    return ck.finish()


def test_instance(exe):
    ck = Checks()
    wd = workdir('instance')
    off = free_udp_offset()
    # decoder state on, saved at shutdown only: the file appears when the
    # first one stops, never because a refused second one ran
    # metrics on, as in the packaged config: the second one must be refused
    # for its listen ports, not die on the metrics port they share
    st = os.path.join(wd, 'st')
    mport = free_tcp_port()
    cfg = {'listen': listen_for(off), 'sinks': [{'type': 'discard'}], 'stats_interval': 0,
           'state': {'path': st, 'interval': 0},
           'metrics': {'listen': '127.0.0.1:%d' % mport}}
    one = Netmeta(exe, wd, cfg, tag='one').start()
    if not ck.check(one.wait_ready(), 'the first netmeta starts'):
        return ck.finish()
    two = Netmeta(exe, wd, cfg, tag='two').start()
    try:
        rc = two.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    two.stop()
    ck.eq(rc, 1, 'a second netmeta on the same ports exits with status 1')
    want = 'netmeta: listen: port %d on :: is in use by another process (another netmeta?): refused; ' \
           'set share_ports: true to join it on purpose' % (6343 + off)
    ck.check(want in two.err, 'it says why: %r' % want, two.err[-600:])
    ck.check('metrics.listen' not in two.err and 'Address already in use' not in two.err,
             'not the metrics port\'s bind error', two.err[-600:])
    ck.check('decoder state saved' not in two.err,
             'the refused one saves no decoder state over the running one\'s', two.err[-600:])
    ck.eq(sorted(f for f in os.listdir(wd) if f.startswith('st.')), [],
          'no state file written while the first one runs (interval 0)')
    ck.check(one.alive(), 'the first one runs on')
    one.stop()
    ck.eq(one.rc, 0, 'the first one stops cleanly')
    ck.check('decoder state saved to %s.0' % st in one.err and os.path.exists(st + '.0'),
             'the first one saves its state at shutdown', one.err[-600:])
    # on purpose: both say share_ports; each needs its own metrics port and
    # state path (README)
    cfg2 = dict(cfg, share_ports=True)
    one = Netmeta(exe, wd, cfg2, tag='one2').start()
    ck.check(one.wait_ready(), 'share_ports: the first starts')
    cfg3 = dict(cfg2, state={'path': st + 'b', 'interval': 0},
                metrics={'listen': '127.0.0.1:%d' % free_tcp_port()})
    two = Netmeta(exe, wd, cfg3, tag='two2').start()
    ck.check(two.wait_ready(), 'share_ports: the second joins the same ports')
    ck.check(one.alive() and two.alive(), 'both run')
    two.stop()
    one.stop()
    ck.eq((one.rc, two.rc), (0, 0), 'both stop cleanly')
    return ck.finish()


def main():
    mode = sys.argv[1]
    if mode == 'reload':
        return test_reload(sys.argv[2], sys.argv[3])
    if mode == 'instance':
        return test_instance(sys.argv[2])
    skip('unknown mode ' + mode)


if __name__ == '__main__':
    sys.exit(main())
