# SPDX-License-Identifier: BSD-3-Clause
"""
The metrics endpoint (dataplane/metrics.c), end to end.

  scrape NETMETA NETMETA_GEN KAFKA_MOCK
      2 workers, 8 exporters sending sFlow, NetFlow v5, v9 and IPFIX, a Kafka
      sink on the mock broker and a discard sink. Scrapes taken while the
      traffic runs each satisfy the accounting identities (per worker:
      rx = the sum of the packet outcomes, decoded datagrams = UDP datagrams =
      datagrams_ok + fatal errors, decoded records = sent + dropped + held;
      the sink snapshot: Kafka's handed + replayed = delivered + spooled +
      failed + in flight, discard records = records + counters written) and
      never go down. Once the traffic has settled, a scrape equals every final
      counter netmeta prints at exit, and the per-exporter series show the 8
      exporters by protocol with their datagrams, records, sampling rate,
      templates, last-seen time and no sequence loss.
  cap NETMETA
      metrics.max_exporters 64 and 100,000 datagrams from 100,000 spoofed
      loopback addresses (127.1.0.0 upward): 64 series, the other datagrams
      counted in netmeta_exporter_untracked_datagrams_total, the scrape stays
      small, and the collector's memory grows by less than the 100,000
      series would take.
  dpdk NETMETA NETMETA_GEN
      The DPDK backend replaying a capture (net_pcap vdev, no hugepages):
      the settled scrape equals the final counters, with the per-exporter
      series of its 4 exporters x 4 protocols, and the port's ethdev
      statistics (netmeta_port_{packets,bytes,missed,errors,nombuf}_total)
      equal the port lines printed at exit, the capture's 4000 packets and
      its bytes. Skips when DPDK is unusable.
  sockdrops NETMETA
      Socket backend, 2 workers, the smallest receive buffer: the collector
      is stopped (SIGSTOP) while 3000 datagrams go to its NetFlow port, so
      the kernel drops all but what the buffer holds; after SIGCONT every
      datagram is either received or a kernel drop, and the per-socket
      series netmeta_port_kernel_dropped_datagrams_total{port,worker} put
      every drop on that port and sum to KERNEL_DROPS at exit.
  slow NETMETA NETMETA_GEN
      40 clients that connect and stall (half a request, or garbage, never
      read) from other loopback addresses while traffic runs: the collector
      loses no datagram, the stats line keeps coming, and a scrape from
      another address is answered while they hang on.
  readyz NETMETA NETMETA_GEN
      /readyz says 503 when the collector no longer takes traffic: a Kafka
      sink whose broker refuses connections (records handed, none
      delivered), then SIGTERM. While the sink drains (flush_timeout_ms 20
      s) the endpoint still answers: /readyz 503, /healthz 200, /metrics
      200. Before SIGTERM /readyz is 200: a broker that is down does not
      make it 503 (records queue, or spool), as the README says.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (Checks, Netmeta, free_tcp_port, free_udp_offset, gen, http_get, listen_for,  # noqa: E402
                    log, metric_of, scrape, skip, wait_for, workdir)


def identities(ck, sc, what, kafka=True):
    ok = True
    for w in sc.workers():
        rx = sc.get('netmeta_rx_packets_total', worker=w)
        out = sc.get('netmeta_packets_total', worker=w)
        ok &= ck.check(rx == out, '%s: worker %d: rx %d = sum of outcomes %d' % (what, w, rx, out))
        dd = sc.get('netmeta_decode_datagrams_total', worker=w)
        udp = sc.get('netmeta_packets_total', worker=w, outcome='udp_datagrams')
        okd = sc.get('netmeta_decode_datagrams_ok_total', worker=w)
        fatal = sc.get('netmeta_decode_errors_total', worker=w, fatal='true')
        ok &= ck.check(dd == udp == okd + fatal,
                       '%s: worker %d: decoded datagrams %d = UDP %d = ok %d + fatal %d'
                       % (what, w, dd, udp, okd, fatal))
        rec = sc.get('netmeta_decode_records_total', worker=w)
        sent = sc.get('netmeta_records_sent_total', worker=w)
        drop = sc.get('netmeta_records_dropped_total', worker=w)
        held = sc.get('netmeta_records_held', worker=w)
        ok &= ck.check(rec == sent + drop + held,
                       '%s: worker %d: records %d = sent %d + dropped %d + held %d'
                       % (what, w, rec, sent, drop, held))
        crec = sc.get('netmeta_decode_counter_records_total', worker=w)
        csent = sc.get('netmeta_counter_records_sent_total', worker=w)
        cdrop = sc.get('netmeta_counter_records_dropped_total', worker=w)
        cheld = sc.get('netmeta_counter_records_held', worker=w)
        ok &= ck.check(crec == csent + cdrop + cheld,
                       '%s: worker %d: counter records %d = sent %d + dropped %d + held %d'
                       % (what, w, crec, csent, cdrop, cheld))
    wr = sc.get('netmeta_sink_records_written_total')
    cw = sc.get('netmeta_sink_counters_written_total')
    for out in sorted(d['output'] for d, v in sc.series('netmeta_output_records_total')
                      if d['output'].startswith('discard')):
        dr = sc.get('netmeta_output_records_total', output=out)
        ok &= ck.check(dr == wr + cw, '%s: %s records %d = records %d + counters %d written'
                       % (what, out, dr, wr, cw))
    if kafka:
        k = {n: sc.get('netmeta_output_%s_total' % n, output='kafka0')
             for n in ('handed', 'replayed', 'delivered', 'spooled', 'failed')}
        infl = sc.get('netmeta_output_in_flight', output='kafka0')
        ok &= ck.check(k['handed'] + k['replayed'] == k['delivered'] + k['spooled'] + k['failed'] + infl,
                       '%s: kafka0 handed %d + replayed %d = delivered %d + spooled %d + failed %d + in flight %d'
                       % (what, k['handed'], k['replayed'], k['delivered'], k['spooled'], k['failed'], infl))
    return ok


def counters_only(sc):
    return {k: v for k, v in sc.s.items() if sc.types.get(k[0]) == 'counter'}


def test_scrape(exe, exe_gen, exe_mock):
    ck = Checks()
    wd = workdir('scrape')
    mock = subprocess.Popen([exe_mock, '--topic', 'flows', '--partitions', '8'], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = mock.stdout.readline().split()
        if len(line) != 2 or line[0] != 'bootstrap':
            ck.check(False, 'kafka mock printed its bootstrap', line)
            return ck.finish()
        off = free_udp_offset()
        mport = free_tcp_port()
        nm = Netmeta(exe, wd, {
            'workers': 2, 'listen': listen_for(off), 'stats_interval': 1,
            'metrics': {'listen': '127.0.0.1:%d' % mport},
            'sinks': [{'type': 'kafka', 'brokers': line[1], 'topic': 'flows', 'linger_ms': 5,
                       'properties': {'statistics.interval.ms': '1000'}},
                      {'type': 'discard'}]}).start()
        if not ck.check(nm.wait_ready(), 'netmeta starts and says ready'):
            log(nm.stderr())
            return ck.finish()
        st, body = http_get('http://127.0.0.1:%d/readyz' % mport)
        ck.eq(st, 200, '/readyz while running')
        st, body = http_get('http://127.0.0.1:%d/healthz' % mport)
        ck.eq(st, 200, '/healthz while running')
        st, body = http_get('http://127.0.0.1:%d/nope' % mport)
        ck.eq(st, 404, 'an unknown path')
        # traffic for a few seconds while scraping
        g = subprocess.Popen([exe_gen, '--udp', '127.0.0.1', '--port-offset', str(off), '--proto', 'all',
                              '--exporters', '8', '--datagrams', '16000', '--pps', '4000', '--template-every', '50'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        scrapes, bad, prev, down = 0, 0, None, []
        while g.poll() is None or scrapes < 3:
            sc = scrape(mport)
            scrapes += 1
            if not identities(_quiet, sc, 'scrape %d' % scrapes):
                bad += 1
                identities(ck, sc, 'scrape %d' % scrapes)
            cur = counters_only(sc)
            if prev is not None:
                down += [k for k, v in prev.items() if cur.get(k, 0) < v]
            prev = cur
            time.sleep(0.2)
        out, err = g.communicate()
        sent = int(err.split('sent ')[1].split()[0])
        ck.check(scrapes >= 3 and bad == 0, '%d scrapes during the run, all satisfy the identities' % scrapes)
        ck.check(not down, 'no counter went down between scrapes', down[:5])

        # settled: every datagram decoded, nothing held, Kafka has delivered it all
        def settled():
            sc = scrape(mport)
            ok = (sc.get('netmeta_rx_packets_total') == sent and sc.get('netmeta_records_held') == 0
                  and sc.get('netmeta_sink_records_written_total') == sc.get('netmeta_records_sent_total')
                  and sc.get('netmeta_output_in_flight', output='kafka0') == 0
                  and sc.get('netmeta_output_delivered_total', output='kafka0') == sc.get('netmeta_output_handed_total', output='kafka0'))
            return sc if ok else None
        sc = wait_for(settled, 120, 0.3)
        if not ck.check(sc is not None, 'the scrape settles: %d datagrams in, nothing held, Kafka delivered all' % sent):
            log(scrape(mport).text[:3000])
            nm.stop()
            return ck.finish()
        time.sleep(0.5)  # one more publish period of every thread
        sc = scrape(mport)
        identities(ck, sc, 'settled scrape')
        # librdkafka's statistics (every second here): the brokers' round-trip time, by node id
        rtt = wait_for(lambda: [(d, v) for d, v in scrape(mport).series(
            'netmeta_output_broker_rtt_microseconds') if v > 0] or None, 30, 0.5) or []
        ck.check(rtt and all(d.get('output') == 'kafka0' and d.get('broker', '').isdigit() and
                             0 < v < 10000000 for d, v in rtt),
                 'broker round-trip time per broker node id (µs, from librdkafka\'s statistics): %s'
                 % [(d.get('broker'), v) for d, v in rtt])
        nm.stop()
        ck.eq(nm.rc, 0, 'netmeta exit status')
        fin = nm.counters
        ck.check(len(fin) > 40, '%d final counters printed' % len(fin))
        mism, missing = [], []
        for name, v in fin.items():
            m = metric_of(name)
            if m is None:
                continue
            fam, labels = m
            if not any(n == fam and set((k, str(x)) for k, x in labels.items()) <= ls for (n, ls) in sc.s):
                if v != 0:
                    missing.append(name)
                continue
            got = sc.get(fam, **labels)
            if got != v:
                mism.append('%s: final %d, scraped %d' % (name, v, got))
        ck.check(not missing, 'every final counter is in the scrape', missing)
        ck.check(not mism, 'the settled scrape equals the final counters (%d compared)' % len(fin),
                 '\n'.join(mism[:20]))
        ck.check(fin.get('RECORDS_SENT', 0) > 0 and fin.get('kafka0_delivered') == fin.get('kafka0_handed'),
                 'Kafka delivered every record handed (%s)' % fin.get('kafka0_delivered'))

        # per exporter: 8 addresses x 4 protocols, their sums equal the totals
        ser = sc.series('netmeta_exporter_datagrams_total')
        keys = set((d['exporter'], d['protocol']) for d, v in ser)
        want = set(('127.0.0.%d' % i, p) for i in range(1, 9) for p in ('sflow', 'netflow_v5', 'netflow_v9', 'ipfix'))
        ck.eq(sorted(keys), sorted(want), 'per-exporter series: 8 exporters x 4 protocols')
        ck.eq(sum(v for d, v in ser), fin['UDP_DATAGRAMS'], 'exporter datagrams sum to UDP_DATAGRAMS')
        ck.eq(sc.get('netmeta_exporter_records_total'), fin['decode_records'],
              'exporter records sum to decode_records')
        rates = set(v for d, v in sc.series('netmeta_exporter_sampling_rate'))
        ck.eq(rates, {1000.0}, 'sampling rate in use, every exporter (netmeta-gen --rate 1000)')
        ck.eq(sc.get('netmeta_exporter_sequence_lost_total'), 0, 'no sequence loss on loopback')
        tm = [(d['exporter'], d['protocol'], v) for d, v in sc.series('netmeta_exporter_templates')]
        ck.check(all(v > 0 for e, p, v in tm if p in ('netflow_v9', 'ipfix')) and
                 all(v == 0 for e, p, v in tm if p in ('sflow', 'netflow_v5')),
                 'templates: held for every v9/IPFIX exporter, none for sFlow/v5', tm[:8])
        seen = [v for d, v in sc.series('netmeta_exporter_last_seen_seconds')]
        now = time.time()
        ck.check(len(seen) == 32 and all(now - 600 < v <= now + 1 for v in seen),
                 'last seen: 32 recent times')
        ck.eq(sc.get('netmeta_exporter_untracked_datagrams_total'), 0, 'no exporter beyond the cap')
        log('final: RX_PACKETS %d, records %d, kafka0_delivered %d; %d scrapes during the run'
            % (fin.get('RX_PACKETS', 0), fin.get('decode_records', 0), fin.get('kafka0_delivered', 0), scrapes))
    finally:
        try:
            mock.stdin.write('quit\n')
            mock.stdin.flush()
            mock.wait(timeout=20)
        except Exception:
            mock.kill()
            mock.wait()
    return ck.finish()


class _QuietChecks(Checks):
    def check(self, cond, what, detail=''):
        return bool(cond)


_quiet = _QuietChecks()


def v5_datagram(seq):
    """A NetFlow v5 header with one record (72 bytes)."""
    now = int(time.time())
    hdr = struct.pack('!HHIIIIBBH', 5, 1, 1000, now, 0, seq, 0, 0, 0)
    rec = struct.pack('!4s4s4sHHIIIIHHBBBBHHBBH', bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
                      bytes(4), 1, 2, 1, 100, 0, 1, 1000, 80, 0, 0, 6, 0, 0, 0, 0, 0, 0)
    return hdr + rec


def test_cap(exe):
    ck = Checks()
    wd = workdir('cap')
    off = free_udp_offset()
    mport = free_tcp_port()
    nm = Netmeta(exe, wd, {'workers': 1, 'listen': listen_for(off), 'stats_interval': 0,
                           'metrics': {'listen': '127.0.0.1:%d' % mport, 'max_exporters': 64},
                           'rcvbuf': 64 << 20,
                           'sinks': [{'type': 'discard'}]}).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        return ck.finish()
    rss0 = nm.rss_kb()
    N = 100000
    port = 2055 + off
    dg = v5_datagram(0)
    t0 = time.time()
    for i in range(N):
        a = '127.%d.%d.%d' % (1 + (i >> 16), (i >> 8) & 255, i & 255)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 0))
        s.sendto(dg, ('127.0.0.1', port))
        s.close()
        if i % 5000 == 4999:  # let the collector keep up (loopback, no pacing otherwise)
            wait_for(lambda: scrape(mport).get('netmeta_packets_total', outcome='udp_datagrams') >= i - 2000, 60, 0.05)
    log('sent %d datagrams from %d addresses in %.1f s' % (N, N, time.time() - t0))
    ok = wait_for(lambda: scrape(mport).get('netmeta_packets_total', outcome='udp_datagrams') >= N, 120, 0.2)
    ck.check(ok, 'every datagram arrived')
    time.sleep(0.5)
    sc = scrape(mport)
    rss1 = nm.rss_kb()
    nser = len(sc.series('netmeta_exporter_datagrams_total'))
    ck.eq(nser, 64, 'exporter series at the cap')
    ck.eq(sc.get('netmeta_exporter_series'), 64, 'netmeta_exporter_series')
    ck.eq(sc.get('netmeta_exporter_series_limit'), 64, 'netmeta_exporter_series_limit')
    tracked = sc.get('netmeta_exporter_datagrams_total')
    untracked = sc.get('netmeta_exporter_untracked_datagrams_total')
    ck.eq((tracked, untracked), (64, N - 64), 'datagrams: 64 tracked, the rest counted as beyond the cap')
    ck.check(len(sc.text) < 200000, 'the scrape stays small: %d bytes' % len(sc.text))
    # 100k series would be ~6 lines x ~120 bytes each per scrape, and a table
    # entry each; the decoder's own exporter table is fixed (4096 slots).
    ck.check(rss1 - rss0 < 16384, 'memory: RSS %d kB -> %d kB (grew %d kB, < 16 MiB)' % (rss0, rss1, rss1 - rss0))
    nm.stop()
    ck.eq(nm.rc, 0, 'exit status')
    ck.eq(nm.counters.get('UDP_DATAGRAMS'), N, 'UDP_DATAGRAMS at exit')
    return ck.finish()


def test_slow(exe, exe_gen):
    ck = Checks()
    wd = workdir('slow')
    off = free_udp_offset()
    mport = free_tcp_port()
    nm = Netmeta(exe, wd, {'workers': 1, 'listen': listen_for(off), 'stats_interval': 1,
                           'metrics': {'listen': '127.0.0.1:%d' % mport},
                           'sinks': [{'type': 'discard'}]}).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        return ck.finish()
    hang = []
    for i in range(40):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.2.%d' % (1 + i // 4), 0))  # 4 per address: under the per-address limit
        try:
            s.connect(('127.0.0.1', mport))
            if i % 2:
                s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ')  # never finished
            else:
                s.sendall(os.urandom(2000))  # garbage
        except OSError:
            pass  # beyond the connection limit: refused or reset, fine
        hang.append(s)
    # a big request that is never read: the response waits in the socket
    big = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    big.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    big.bind(('127.0.3.1', 0))
    big.connect(('127.0.0.1', mport))
    big.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' * 20)
    lines0 = nm.stderr().count('netmeta: rx ')
    sent = gen(exe_gen, off, ['--proto', 'all', '--exporters', '4', '--datagrams', '8000', '--pps', '4000'])
    ok = wait_for(lambda: scrape(mport, source='127.0.0.9').get('netmeta_rx_packets_total') >= sent, 60, 0.2)
    ck.check(ok, 'a scrape from another address is answered while 41 clients hang on')
    ck.check(wait_for(lambda: nm.stderr().count('netmeta: rx ') >= lines0 + 2, 60),
             'the stats line keeps coming (%d -> %d lines)' % (lines0, nm.stderr().count('netmeta: rx ')))
    st, _ = http_get('http://127.0.0.1:%d/healthz' % mport, source='127.0.0.10')
    ck.eq(st, 200, '/healthz answered meanwhile')
    nm.stop()
    for s in hang + [big]:
        s.close()
    ck.eq(nm.rc, 0, 'exit status')
    ck.eq(nm.counters.get('RX_PACKETS'), sent, 'every datagram received (%d sent)' % sent)
    ck.eq(nm.counters.get('KERNEL_DROPS'), 0, 'no kernel drops')
    ck.eq(nm.counters.get('RECORDS_RING_FULL', 0) + nm.counters.get('RECORDS_NO_BATCH', 0), 0, 'no record dropped')
    return ck.finish()


def test_readyz(exe, exe_gen):
    ck = Checks()
    wd = workdir('readyz')
    off = free_udp_offset()
    mport = free_tcp_port()
    dead = free_tcp_port()  # nothing listens there
    nm = Netmeta(exe, wd, {'workers': 1, 'listen': listen_for(off), 'stats_interval': 0,
                           'metrics': {'listen': '127.0.0.1:%d' % mport},
                           'sinks': [{'type': 'kafka', 'brokers': '127.0.0.1:%d' % dead, 'topic': 't',
                                      'linger_ms': 5, 'flush_timeout_ms': 20000}]}).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        return ck.finish()
    url = 'http://127.0.0.1:%d' % mport

    def status(path):
        try:
            return http_get(url + path, timeout=5)[0]
        except OSError:
            return None
    ck.eq(status('/readyz'), 200, '/readyz while running, broker down')
    sent = gen(exe_gen, off, ['--proto', 'v5', '--exporters', '1', '--datagrams', '20', '--pps', '1000'])
    ck.check(wait_for(lambda: scrape(mport).get('netmeta_output_handed_total', output='kafka0') > 0, 60),
             'records handed to the Kafka output (%d datagrams sent)' % sent)
    ck.eq(scrape(mport).get('netmeta_output_delivered_total', output='kafka0'), 0, 'none delivered')
    nm.signal(signal.SIGTERM)
    seen = wait_for(lambda: status('/readyz') == 503 or not nm.alive(), 60) and nm.alive()
    ck.check(seen, '/readyz 503 while the sink drains after SIGTERM')
    if seen:
        # still draining: the flush of 20 s cannot end before the broker answers
        ck.eq(status('/healthz'), 200, '/healthz 200 meanwhile')
        ck.eq(status('/metrics'), 200, '/metrics answered meanwhile')
        ck.check(nm.alive(), 'still draining after those requests')
    nm.stop(timeout=120)
    ck.eq(nm.rc, 0, 'exit status')
    ck.check(nm.counters.get('kafka0_handed', 0) > 0 and nm.counters.get('kafka0_delivered') == 0,
             'final: kafka0 handed %s, delivered %s' % (nm.counters.get('kafka0_handed'),
                                                         nm.counters.get('kafka0_delivered')))
    return ck.finish()


def test_dpdk(exe, exe_gen):
    """The DPDK backend: a capture replayed through a net_pcap vdev; the
    settled scrape equals the final counters, per-exporter series included."""
    ck = Checks()
    wd = workdir('dpdk')
    pcap = os.path.join(wd, 'in.pcap')
    subprocess.run([exe_gen, '--proto', 'all', '--exporters', '4', '--datagrams', '4000', '-o', pcap],
                   check=True, capture_output=True, timeout=120)
    mport = free_tcp_port()
    pfx = 'nmops%d' % os.getpid()
    nm = Netmeta(exe, wd, {'backend': 'dpdk', 'workers': 1, 'stats_interval': 0,
                           'ports': [{'device': 'net_pcap0,rx_pcap=' + pcap, 'accept_any_destination': True}],
                           'metrics': {'listen': '127.0.0.1:%d' % mport}, 'sinks': [{'type': 'discard'}]})
    nm.args = [exe, '--no-huge', '-m', '512', '--no-pci', '--file-prefix=' + pfx, '-l', '0-1',
               '--no-telemetry', '--log-level=lib.eal:warning', '--'] + nm.args[1:]
    nm.start()
    try:
        if not nm.wait_ready():
            err = nm.stderr()
            nm.stop()
            if 'has no DPDK' in err or 'dpdk:' in err:
                skip('DPDK backend unusable here: ' + err.strip().splitlines()[-1])
            ck.check(False, 'netmeta (dpdk) starts', err[-800:])
            return ck.finish()
        ok = wait_for(lambda: scrape(mport).get('netmeta_rx_packets_total') >= 4000
                      and scrape(mport).get('netmeta_records_held') == 0, 60, 0.2)
        ck.check(ok, 'dpdk: the scrape sees the 4000 packets')
        time.sleep(0.5)  # one more publish period
        sc = scrape(mport)
        identities(ck, sc, 'dpdk scrape', kafka=False)
        nm.stop()
        ck.eq(nm.rc, 0, 'exit status')
        mism = []
        for name, v in nm.counters.items():
            m = metric_of(name)
            if m and sc.get(m[0], **m[1]) != v:
                mism.append('%s: final %d, scraped %d' % (name, v, sc.get(m[0], **m[1])))
        ck.check(not mism, 'dpdk: the scrape equals the final counters', '\n'.join(mism[:10]))
        # the port's ethdev statistics, read by the stats thread: the
        # capture's packets and bytes, and what netmeta prints at exit
        ports = {(int(m.group(1)), m.group(2)): int(m.group(3))
                 for m in re.finditer(r'^port(\d+) (\w+) (\d+)$', nm.err, re.M)}
        ck.check(ports.get((0, 'ipackets')) is not None, 'dpdk: port 0 lines at exit', ports)
        for fam, key in (('packets', 'ipackets'), ('missed', 'imissed'), ('errors', 'ierrors'),
                         ('nombuf', 'rx_nombuf')):
            name = 'netmeta_port_%s_total' % fam
            ser = sc.series(name)
            ck.check(len(ser) == 1 and ser[0][0] == {'port': '0'}, 'dpdk: %s{port="0"}, one series' % name, ser)
            ck.eq(sc.get(name, port=0), ports.get((0, key)), 'dpdk: %s = port0 %s at exit' % (name, key))
        npk, nby = pcap_totals(pcap)
        ck.eq(sc.get('netmeta_port_packets_total', port=0), npk, 'dpdk: port packets = the capture\'s')
        ck.eq(sc.get('netmeta_port_bytes_total', port=0), nby, 'dpdk: port bytes = the capture\'s')
        ck.eq(sc.get('netmeta_port_packets_total', port=0), nm.counters.get('RX_PACKETS'),
              'dpdk: port packets = RX_PACKETS')
        ck.eq(sc.get('netmeta_port_missed_total') + sc.get('netmeta_port_nombuf_total') +
              sc.get('netmeta_port_errors_total'), 0, 'dpdk: no NIC drop or error replaying a capture')
        ck.check(not sc.series('netmeta_port_kernel_dropped_datagrams_total'),
                 'dpdk: no socket series on the DPDK backend')
        log('dpdk: port 0: %d packets, %d bytes, missed %d, errors %d, nombuf %d'
            % (sc.get('netmeta_port_packets_total'), sc.get('netmeta_port_bytes_total'),
               sc.get('netmeta_port_missed_total'), sc.get('netmeta_port_errors_total'),
               sc.get('netmeta_port_nombuf_total')))
        ex = sorted(set((d['exporter'], d['protocol']) for d, v in sc.series('netmeta_exporter_datagrams_total')))
        ck.eq(len(ex), 16, 'dpdk: per-exporter series, 4 exporters x 4 protocols')
        ck.eq(sc.get('netmeta_exporter_datagrams_total'), nm.counters.get('UDP_DATAGRAMS'),
              'dpdk: exporter datagrams sum to UDP_DATAGRAMS')
    finally:
        if nm.proc.poll() is None:
            nm.stop()
        for base in ('/var/run/dpdk', '/tmp/dpdk'):
            shutil.rmtree(os.path.join(base, pfx), ignore_errors=True)
    return ck.finish()


def pcap_totals(path):
    """(packets, bytes captured) of a classic pcap file."""
    with open(path, 'rb') as f:
        data = f.read()
    e = '<' if struct.unpack('<I', data[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    off, n, nbytes = 24, 0, 0
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        n += 1
        nbytes += incl
        off += 16 + incl
    return n, nbytes


def test_sockdrops(exe):
    """Kernel drops per socket: each worker's socket of each UDP port."""
    ck = Checks()
    wd = workdir('sockdrops')
    off = free_udp_offset()
    mport = free_tcp_port()
    nm = Netmeta(exe, wd, {'workers': 2, 'listen': listen_for(off), 'stats_interval': 0,
                           'rcvbuf': 65536, 'metrics': {'listen': '127.0.0.1:%d' % mport},
                           'sinks': [{'type': 'discard'}]}).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        log(nm.stderr())
        return ck.finish()
    sc = scrape(mport)
    ports = sorted(set(d['port'] for d, v in sc.series('netmeta_port_kernel_dropped_datagrams_total')))
    want = sorted(str(p + off) for p in (6343, 2055, 4739))
    ck.eq(ports, want, 'a series per listen port')
    ck.eq(len(sc.series('netmeta_port_kernel_dropped_datagrams_total')), 6, '3 ports x 2 workers')
    nf = 2055 + off
    N = 3000
    nm.signal(signal.SIGSTOP)  # nobody reads: the socket buffer fills, the kernel drops the rest
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dg = v5_datagram(0) + bytes(1000)
        for _ in range(N):
            s.sendto(dg, ('127.0.0.1', nf))
        s.close()
    finally:
        nm.signal(signal.SIGCONT)
    # On loopback a datagram is either received or dropped at the socket.
    # The kernel stamps its drop count on the datagrams it queues after
    # the drops: one more datagram at a time, until one carries it.
    sent = [N]

    def accounted():
        x = scrape(mport)
        if x.get('netmeta_rx_packets_total') + x.get('netmeta_kernel_dropped_datagrams_total') == sent[0]:
            return True
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(v5_datagram(1), ('127.0.0.1', nf))
        s.close()
        sent[0] += 1
        return False
    ok = wait_for(accounted, 60, 0.2)
    N = sent[0]
    sc = scrape(mport)
    ck.check(ok, 'every datagram received or dropped: rx %d + kernel drops %d = %d sent'
             % (sc.get('netmeta_rx_packets_total'), sc.get('netmeta_kernel_dropped_datagrams_total'), N))
    drops = sc.get('netmeta_kernel_dropped_datagrams_total')
    per = sc.get('netmeta_port_kernel_dropped_datagrams_total')
    on_nf = sc.get('netmeta_port_kernel_dropped_datagrams_total', port=nf)
    ck.check(drops > N // 2, 'the kernel dropped most of them (%d of %d)' % (drops, N))
    ck.eq(per, drops, 'per-socket drops sum to the total')
    ck.eq(on_nf, drops, 'every drop is on the NetFlow port %d' % nf)
    busy = [d['worker'] for d, v in sc.series('netmeta_port_kernel_dropped_datagrams_total') if v]
    ck.eq(len(busy), 1, 'on one worker\'s socket (one exporter address)')
    nm.stop()
    ck.eq(nm.rc, 0, 'exit status')
    ck.eq(nm.counters.get('KERNEL_DROPS'), drops, 'KERNEL_DROPS at exit = the scrape')
    ck.eq(nm.counters.get('KERNEL_DROPS', 0) + nm.counters.get('RX_PACKETS', 0), N,
          'RX_PACKETS + KERNEL_DROPS at exit = datagrams sent')
    log('sockdrops: %d sent, %d received, %d dropped on port %d (worker %s)'
        % (N, nm.counters.get('RX_PACKETS', 0), drops, nf, busy))
    return ck.finish()


def main():
    mode = sys.argv[1]
    if mode == 'sockdrops':
        return test_sockdrops(sys.argv[2])
    if mode == 'dpdk':
        return test_dpdk(sys.argv[2], sys.argv[3])
    if mode == 'scrape':
        return test_scrape(*sys.argv[2:5])
    if mode == 'cap':
        return test_cap(sys.argv[2])
    if mode == 'slow':
        return test_slow(sys.argv[2], sys.argv[3])
    if mode == 'readyz':
        return test_readyz(sys.argv[2], sys.argv[3])
    skip('unknown mode ' + mode)


if __name__ == '__main__':
    sys.exit(main())
